"""A confluent-kafka (librdkafka) transactional consume-transform-produce
worker for the exactly-once campaign (internal/eoscheck).

    eos_worker.py BOOTSTRAP GROUP INPUT OUTPUT TRANSACTIONAL_ID WORKER

It consumes INPUT in GROUP (read_committed), and for every batch of
records runs one transaction: each record is copied to the same partition
of OUTPUT with the value "<txn>|<partition>|<offset>|<input value>", the
consumer's positions are sent with send_offsets_to_transaction, and the
transaction commits. An abortable error aborts it and rewinds the consumer
to the group's committed offsets.

stdout carries one line per transaction, as it ends:

    txn <id> <records> committed|aborted|unknown

where <id> is OUTPUT:WORKER:<n> (a transaction is first reported unknown
just before its commit, then again with its outcome). One transaction in
ten is aborted on purpose. The worker stops when stdin closes; a
fatal error ends it with status 1 (the campaign starts a new worker with
the same transactional id, which fences this one).
"""

import random
import sys
import threading

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

bootstrap, group, intopic, outtopic, txnid, worker = sys.argv[1:7]

stop = threading.Event()


def watch_stdin():
    sys.stdin.read()
    stop.set()


threading.Thread(target=watch_stdin, daemon=True).start()


def log(*args):
    print(*args, file=sys.stderr, flush=True)


consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "enable.auto.commit": False,
    "isolation.level": "read_committed",
    "auto.offset.reset": "earliest",
    "session.timeout.ms": 10000,
    "socket.timeout.ms": 3000,
    "reconnect.backoff.max.ms": 500,
})
producer = Producer({
    "bootstrap.servers": bootstrap,
    "transactional.id": txnid,
    "enable.idempotence": True,
    "transaction.timeout.ms": 10000,
    "socket.timeout.ms": 3000,
    "reconnect.backoff.max.ms": 500,
    "linger.ms": 1,
})


def retry(fn, what):
    """Runs fn until it succeeds or fails with a non-retriable error."""
    while True:
        try:
            return fn()
        except KafkaException as e:
            err = e.args[0]
            if err.retriable() and not stop.is_set():
                log(worker, what, "retriable:", err)
                continue
            raise


retry(lambda: producer.init_transactions(10), "init_transactions")
consumer.subscribe([intopic])


def rewind():
    """Seeks every assigned partition back to the group's committed offset."""
    assignment = consumer.assignment()
    if not assignment:
        return
    committed = retry(lambda: consumer.committed(assignment, timeout=10), "committed")
    for tp in committed:
        if tp.offset < 0:
            tp.offset = -2  # OFFSET_BEGINNING: nothing committed yet
        consumer.seek(tp)


n = 0
while not stop.is_set():
    msgs = consumer.consume(num_messages=100, timeout=0.2)
    msgs = [m for m in msgs if m.error() is None]
    if not msgs:
        continue
    n += 1
    tid = "%s:%s:%d" % (outtopic, worker, n)
    outcome = "unknown"
    try:
        producer.begin_transaction()
        for m in msgs:
            value = "%s|%d|%d|%s" % (tid, m.partition(), m.offset(), m.value().decode())
            while True:
                try:
                    producer.produce(outtopic, key=m.key(), value=value.encode(), partition=m.partition())
                    break
                except BufferError:
                    producer.poll(0.05)
        positions = consumer.position(consumer.assignment())
        retry(lambda: producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 10), "send_offsets")
        if random.random() < 0.1:
            # Abort on purpose: the copies must never be read committed,
            # and the records are copied again after the rewind.
            retry(lambda: producer.abort_transaction(10), "abort")
            print("txn", tid, len(msgs), "aborted", flush=True)
            rewind()
            continue
        # If the worker is killed while committing, the campaign knows the
        # transaction, with an unknown outcome.
        print("txn", tid, len(msgs), "unknown", flush=True)
        retry(lambda: producer.commit_transaction(10), "commit")
        outcome = "committed"
    except KafkaException as e:
        err = e.args[0]
        log(worker, "transaction", tid, "failed:", err)
        if err.txn_requires_abort():
            try:
                retry(lambda: producer.abort_transaction(10), "abort")
                outcome = "aborted"
            except KafkaException as e2:
                log(worker, "abort failed:", e2)
                print("txn", tid, len(msgs), outcome, flush=True)
                sys.exit(1)
            print("txn", tid, len(msgs), outcome, flush=True)
            rewind()
            continue
        print("txn", tid, len(msgs), outcome, flush=True)
        sys.exit(1)
    print("txn", tid, len(msgs), outcome, flush=True)

consumer.close()
