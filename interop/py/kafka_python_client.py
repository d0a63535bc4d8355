"""kafka-python (Debian python3-kafka) side of Eddy's interop test.

Run with /usr/bin/python3; see common.py for the protocol.
"""

import time

import kafka
import kafka.codec
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

import common

# An explicit version keeps kafka-python from probing the broker's version
# with old requests; 2.5 gives record batches v2 (headers, zstd).
API_VERSION = (2, 5, 0)

CODECS = {
    "none": (None, lambda: True),
    "gzip": ("gzip", kafka.codec.has_gzip),
    "snappy": ("snappy", kafka.codec.has_snappy),  # python3-snappy
    "lz4": ("lz4", kafka.codec.has_lz4),  # python3-lz4
    "zstd": ("zstd", kafka.codec.has_zstd),  # python3-zstandard
}


def probe():
    missing = [name for name, (_, has) in CODECS.items() if not has()]
    if missing:
        raise RuntimeError(
            "kafka-python %s lacks codec modules for %s (Debian python3-snappy, "
            "python3-lz4, python3-zstandard)" % (kafka.__version__, ", ".join(missing)))


def bootstrap_servers(bootstrap):
    return [s.strip() for s in bootstrap.split(",") if s.strip()]


def produce(bootstrap, job, timeout):
    compression, _ = CODECS[job["codec"]]
    producer = KafkaProducer(
        bootstrap_servers=bootstrap_servers(bootstrap),
        api_version=API_VERSION,
        client_id="eddy-interop-kafka-python",
        compression_type=compression,
        acks="all",
        linger_ms=5,
        max_request_size=4 << 20,
        request_timeout_ms=int(timeout * 1000),
        max_block_ms=int(timeout * 1000),
    )
    try:
        futures = [
            producer.send(job["topic"], key=key, value=value, headers=headers,
                          partition=0, timestamp_ms=ts)
            for key, value, headers, ts in common.records_in(job)
        ]
        producer.flush(timeout=timeout)
        for f in futures:
            f.get(timeout=timeout)
    finally:
        producer.close(timeout=5)


def consume(bootstrap, job, timeout):
    deadline = time.monotonic() + timeout
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers(bootstrap),
        api_version=API_VERSION,
        client_id="eddy-interop-kafka-python",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        fetch_max_wait_ms=200,
        request_timeout_ms=int(timeout * 1000) + 1000,
    )
    try:
        tp = TopicPartition(job["topic"], 0)
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        if job["from"] == "timestamp":
            found = consumer.offsets_for_times({tp: job["timestamp"]})[tp]
            if found is None:  # no record at or after the timestamp
                return [], None
            consumer.seek(tp, found.offset)
            start = found.offset
        else:
            consumer.seek_to_beginning(tp)
            start = consumer.position(tp)
        records = []
        last = start - 1
        while last < end - 1:
            left = deadline - time.monotonic()
            if left <= 0:
                return records, "timed out after %d records, before offset %d" % (len(records), end - 1)
            polled = consumer.poll(timeout_ms=int(min(left, 1.0) * 1000))
            for r in polled.get(tp, []):
                records.append(common.record_out(r.offset, r.timestamp, r.key, r.value, r.headers))
                last = r.offset
        return records, None
    finally:
        consumer.close(autocommit=False)


if __name__ == "__main__":
    common.main(probe, produce, consume)
