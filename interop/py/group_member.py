"""One consumer-group member for Eddy's group interop test
(interop/groups_test.go), on kafka-python or confluent-kafka.

Run with /usr/bin/python3:

  group_member.py probe CLIENT      exits 0 when CLIENT imports
  group_member.py CONFIG_JSON       runs one member until told to close

CONFIG_JSON: {"client": "kafka-python"|"confluent-kafka", "bootstrap",
"group", "topic", "client_id", "reset": "earliest"|"latest", "assignor":
"range"|"cooperative-sticky", "session_timeout_ms"}.

The member subscribes to the topic in the group and, for every batch it
polls, first "processes" the records (writes them to stdout), then commits
their offsets synchronously: at-least-once. Auto-commit is off.

Stdout carries one JSON event per line:
  {"ev": "assigned"|"revoked"|"lost", "partitions": [p, ...]}
  {"ev": "recs", "recs": [{"p", "o", "v"}, ...]}   v: the value as text
  {"ev": "committed", "offsets": {p: offset}}       acknowledged commits
  {"ev": "error", "msg": "..."}                    (the member carries on)
  {"ev": "closed"}                                 after a clean close
A line "close" on stdin, or its end, makes the member close cleanly (leave
the group) and exit 0. Logs go to stderr.
"""

import json
import logging
import sys
import threading
import time

out_lock = threading.Lock()


def emit(ev):
    line = json.dumps(ev, separators=(",", ":"))
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def watch_stdin(stop):
    for line in sys.stdin:
        if line.strip() == "close":
            break
    stop.set()


def run_kafka_python(cfg, stop):
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.coordinator.assignors.range import RangePartitionAssignor

    if cfg["assignor"] != "range":
        raise SystemExit("kafka-python: unsupported assignor %r" % cfg["assignor"])

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            emit({"ev": "revoked", "partitions": sorted(tp.partition for tp in revoked)})

        def on_partitions_assigned(self, assigned):
            emit({"ev": "assigned", "partitions": sorted(tp.partition for tp in assigned)})

    consumer = KafkaConsumer(
        bootstrap_servers=cfg["bootstrap"].split(","),
        group_id=cfg["group"],
        client_id=cfg["client_id"],
        enable_auto_commit=False,
        auto_offset_reset=cfg["reset"],
        session_timeout_ms=cfg["session_timeout_ms"],
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=30000,
        request_timeout_ms=20000,
        fetch_max_wait_ms=100,
        retry_backoff_ms=200,
        reconnect_backoff_max_ms=1000,
        partition_assignment_strategy=[RangePartitionAssignor],
    )
    consumer.subscribe([cfg["topic"]], listener=Listener())
    while not stop.is_set():
        batches = consumer.poll(timeout_ms=100, max_records=500)
        recs, offsets = [], {}
        for tp, msgs in batches.items():
            for m in msgs:
                recs.append({"p": tp.partition, "o": m.offset, "v": m.value.decode()})
                offsets[tp] = OffsetAndMetadata(m.offset + 1, None)
        if not recs:
            continue
        emit({"ev": "recs", "recs": recs})  # processed
        try:
            consumer.commit(offsets)
            emit({"ev": "committed", "offsets": {str(tp.partition): om.offset for tp, om in offsets.items()}})
        except Exception as e:  # e.g. CommitFailedError during a rebalance
            emit({"ev": "error", "msg": "commit: %s: %s" % (type(e).__name__, e)})
    consumer.close(autocommit=False)  # leaves the group


def run_confluent_kafka(cfg, stop):
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    def on_assign(consumer, partitions):
        emit({"ev": "assigned", "partitions": sorted(tp.partition for tp in partitions)})

    def on_revoke(consumer, partitions):
        emit({"ev": "revoked", "partitions": sorted(tp.partition for tp in partitions)})

    def on_lost(consumer, partitions):
        emit({"ev": "lost", "partitions": sorted(tp.partition for tp in partitions)})

    def on_error(err):
        emit({"ev": "error", "msg": "librdkafka: %s" % err})

    consumer = Consumer({
        "bootstrap.servers": cfg["bootstrap"],
        "group.id": cfg["group"],
        "client.id": cfg["client_id"],
        "enable.auto.commit": False,
        "auto.offset.reset": cfg["reset"],
        "session.timeout.ms": cfg["session_timeout_ms"],
        "heartbeat.interval.ms": 1000,
        "max.poll.interval.ms": 30000,
        "partition.assignment.strategy": cfg["assignor"],
        "fetch.wait.max.ms": 100,
        "reconnect.backoff.max.ms": 1000,
        "error_cb": on_error,
    })
    # The binding assigns (or, cooperatively, incrementally assigns) the
    # partitions itself when on_assign does not.
    consumer.subscribe([cfg["topic"]], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    while not stop.is_set():
        msgs = consumer.consume(num_messages=500, timeout=0.1)
        recs, offsets = [], {}
        for m in msgs:
            if m.error() is not None:
                emit({"ev": "error", "msg": "consume: %s" % m.error()})
                continue
            recs.append({"p": m.partition(), "o": m.offset(), "v": m.value().decode()})
            offsets[m.partition()] = m.offset() + 1
        if not recs:
            continue
        emit({"ev": "recs", "recs": recs})  # processed
        try:
            res = consumer.commit(offsets=[TopicPartition(cfg["topic"], p, o) for p, o in offsets.items()],
                                  asynchronous=False)
            done = {str(tp.partition): tp.offset for tp in res if tp.error is None}
            if done:
                emit({"ev": "committed", "offsets": done})
            for tp in res:
                if tp.error is not None:
                    emit({"ev": "error", "msg": "commit of partition %d: %s" % (tp.partition, tp.error)})
        except KafkaException as e:  # e.g. REBALANCE_IN_PROGRESS
            emit({"ev": "error", "msg": "commit: %s" % e})
    consumer.close()  # leaves the group


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    if sys.argv[1] == "probe":
        if sys.argv[2] == "kafka-python":
            import kafka  # noqa: F401
        else:
            import confluent_kafka  # noqa: F401
        return
    cfg = json.loads(sys.argv[1])
    stop = threading.Event()
    threading.Thread(target=watch_stdin, args=(stop,), daemon=True).start()
    if cfg["client"] == "kafka-python":
        run_kafka_python(cfg, stop)
    elif cfg["client"] == "confluent-kafka":
        run_confluent_kafka(cfg, stop)
    else:
        raise SystemExit("unknown client %r" % cfg["client"])
    emit({"ev": "closed"})


if __name__ == "__main__":
    main()
