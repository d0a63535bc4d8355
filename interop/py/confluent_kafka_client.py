"""confluent-kafka (Debian python3-confluent-kafka, on librdkafka) side of
Eddy's interop test.

Run with /usr/bin/python3; see common.py for the protocol.
"""

import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

import common

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


def probe():
    # librdkafka refuses a codec it was built without when it is configured.
    for codec in CODECS:
        Producer({"compression.type": codec, "log_level": 0})


def produce(bootstrap, job, timeout):
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "client.id": "eddy-interop-confluent-kafka",
        "compression.type": job["codec"],
        "acks": "all",
        "linger.ms": 5,
        "message.max.bytes": 4 << 20,
        "message.timeout.ms": int(timeout * 1000),
    })
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    for key, value, headers, ts in common.records_in(job):
        producer.produce(job["topic"], value=value, key=key, partition=0,
                         timestamp=ts or 0, headers=headers, on_delivery=on_delivery)
    left = producer.flush(timeout)
    if left:
        raise RuntimeError("%d records not delivered within %ss" % (left, timeout))
    if errors:
        raise RuntimeError("delivery failed: %s" % "; ".join(errors))


def consume(bootstrap, job, timeout):
    deadline = time.monotonic() + timeout
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "client.id": "eddy-interop-confluent-kafka",
        # Required by this binding; with assign() no group is joined.
        "group.id": "eddy-interop-confluent-kafka",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 100,
        "auto.offset.reset": "error",
    })
    try:
        topic = job["topic"]
        low, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=timeout)
        if job["from"] == "timestamp":
            found = consumer.offsets_for_times([TopicPartition(topic, 0, job["timestamp"])], timeout=timeout)[0]
            if found.error is not None:
                raise KafkaException(found.error)
            if found.offset < 0:  # no record at or after the timestamp (OFFSET_END)
                return [], None
            start = found.offset
            consumer.assign([TopicPartition(topic, 0, start)])
        else:
            start = low
            consumer.assign([TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)])
        records = []
        last = start - 1
        while last < end - 1:
            left = deadline - time.monotonic()
            if left <= 0:
                return records, "timed out after %d records, before offset %d" % (len(records), end - 1)
            msg = consumer.poll(min(left, 1.0))
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    if last < end - 1 and msg.offset() >= end:
                        return records, "end of partition at %d before offset %d" % (msg.offset(), end - 1)
                    continue
                return records, str(msg.error())
            _, ts = msg.timestamp()
            records.append(common.record_out(msg.offset(), ts, msg.key(), msg.value(), msg.headers()))
            last = msg.offset()
        return records, None
    finally:
        consumer.close()


if __name__ == "__main__":
    common.main(probe, produce, consume)
