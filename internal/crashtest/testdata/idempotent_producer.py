"""An idempotent confluent-kafka (librdkafka) producer for the crash tests.

    idempotent_producer.py BOOTSTRAP TOPIC

Produces every line of stdin as a record value to TOPIC with
enable.idempotence=true (acks=all), and prints "ack <partition> <offset>
<value>" for every record the broker acknowledged, or "failed <value>
<error>" for one that failed. Exits after stdin closes and every record is
delivered or failed.
"""

import sys

from confluent_kafka import Producer

bootstrap, topic = sys.argv[1:3]

producer = Producer({
    "bootstrap.servers": bootstrap,
    "enable.idempotence": True,
    "acks": "all",
    "message.timeout.ms": 300000,
    "linger.ms": 2,
    "reconnect.backoff.max.ms": 500,
})


def report(err, msg):
    if err is not None:
        print("failed", msg.value().decode(), err, flush=True)
    else:
        print("ack", msg.partition(), msg.offset(), msg.value().decode(), flush=True)


for line in sys.stdin:
    value = line.strip()
    if not value:
        continue
    while True:
        try:
            producer.produce(topic, value=value.encode(), on_delivery=report)
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)

while producer.flush(1) > 0:
    pass
