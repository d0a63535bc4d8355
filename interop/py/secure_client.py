"""Secure side of Eddy's interop test (interop/security_test.go): one
produce or one group consume with kafka-python or confluent-kafka over
SASL_SSL, reporting the error the library raised.

Run with /usr/bin/python3. Reads one JSON request on stdin:

  {"lib": "kafka-python"|"confluent-kafka", "op": "produce"|"consume",
   "bootstrap", "ca", "mechanism", "user", "password", "topic", "group",
   "count", "timeout_ms"}

produce writes count records; consume reads with group until it has count
records. Writes {"records": n, "error": "..."|null} on stdout.
"""

import json
import logging
import sys
import time


def kafka_python(req, timeout):
    import kafka
    common = dict(
        bootstrap_servers=req["bootstrap"], security_protocol="SASL_SSL",
        ssl_cafile=req["ca"], sasl_mechanism=req["mechanism"],
        sasl_plain_username=req["user"], sasl_plain_password=req["password"],
        request_timeout_ms=max(int(timeout * 1000) + 1000, 30000),
    )
    if req["op"] == "produce":
        p = kafka.KafkaProducer(acks="all", retries=0, max_block_ms=int(timeout * 1000), **common)
        # kafka-python 2.0 fails the metadata update of a single topic with
        # its error (TopicAuthorizationFailedError) but its producer only
        # waits for partitions and times out; keep the error it received.
        metadata_errors = []
        failed_update = p._metadata.failed_update
        p._metadata.failed_update = lambda exc: (metadata_errors.append(exc), failed_update(exc))
        try:
            for i in range(req["count"]):
                p.send(req["topic"], value=b"kafka-python-%d" % i).get(timeout=timeout)
        except kafka.errors.KafkaTimeoutError as e:
            raise RuntimeError("%s; metadata errors: %s" % (e, ", ".join(type(x).__name__ for x in metadata_errors)))
        finally:
            p.close(timeout=5)
        return req["count"]
    c = kafka.KafkaConsumer(req["topic"], group_id=req["group"], auto_offset_reset="earliest",
                            enable_auto_commit=False, **common)
    n = 0
    deadline = time.monotonic() + timeout
    try:
        while n < req["count"] and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                n += len(recs)
    finally:
        c.close()
    if n < req["count"]:
        raise RuntimeError("read %d of %d records in time" % (n, req["count"]))
    return n


def confluent(req, timeout):
    import confluent_kafka
    conf = {
        "bootstrap.servers": req["bootstrap"], "security.protocol": "SASL_SSL",
        "ssl.ca.location": req["ca"], "sasl.mechanisms": req["mechanism"],
        "sasl.username": req["user"], "sasl.password": req["password"],
    }
    errors = []
    conf["error_cb"] = lambda err: errors.append(err)
    if req["op"] == "produce":
        p = confluent_kafka.Producer(dict(conf, **{"message.timeout.ms": int(timeout * 1000)}))
        failed = []
        for i in range(req["count"]):
            p.produce(req["topic"], value=b"confluent-%d" % i,
                      on_delivery=lambda err, msg: err and failed.append(err))
        p.flush(timeout)
        if failed or errors:
            raise RuntimeError("; ".join(str(e) for e in failed + errors))
        return req["count"]
    c = confluent_kafka.Consumer(dict(conf, **{"group.id": req["group"], "auto.offset.reset": "earliest",
                                               "enable.auto.commit": False}))
    c.subscribe([req["topic"]])
    n = 0
    deadline = time.monotonic() + timeout
    try:
        while n < req["count"] and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                if errors and errors[-1].fatal():
                    break
                continue
            if m.error():
                raise RuntimeError(str(m.error()))
            n += 1
    finally:
        c.close()
    if errors:
        raise RuntimeError("; ".join(str(e) for e in errors))
    if n < req["count"]:
        raise RuntimeError("read %d of %d records in time" % (n, req["count"]))
    return n


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    req = json.load(sys.stdin)
    timeout = req.get("timeout_ms", 15000) / 1000.0
    run = kafka_python if req["lib"] == "kafka-python" else confluent
    try:
        resp = {"records": run(req, timeout), "error": None}
    except Exception as e:
        logging.exception("secure %s %s", req["lib"], req["op"])
        resp = {"records": 0, "error": "%s: %s" % (type(e).__name__, e)}
    json.dump(resp, sys.stdout)


if __name__ == "__main__":
    main()
