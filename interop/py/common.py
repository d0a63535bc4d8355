"""JSON protocol shared by the Python interop clients.

The Go test (interop/client_ext_test.go) writes one request on stdin and
reads one response from stdout:

  {"op": "probe"}
      -> {"ok": true} or {"ok": false, "error": "..."}
  {"op": "produce", "bootstrap": "h:p,...", "job_timeout_ms": N,
   "jobs": [{"topic", "codec", "records": [record, ...]}]}
      -> {"results": {topic: {"error": "..."}}}
  {"op": "consume", "bootstrap": "h:p,...", "job_timeout_ms": N,
   "jobs": [{"id", "topic", "from": "beginning"|"timestamp", "timestamp"}]}
      -> {"results": {id: {"records": [record, ...], "error": "..."}}}

A record is {"offset", "timestamp" (ms), "key", "value", "headers":
[{"key": str, "value"}]}, with key, value and header values base64 (or null).
A consume job reads partition 0 from the beginning, or from the first offset
whose timestamp is at least "timestamp", up to the high watermark read when
the job starts.

Logs go to stderr; stdout carries only the response.
"""

import base64
import json
import logging
import sys
import time
import traceback


def b64d(s):
    return None if s is None else base64.b64decode(s)


def b64e(b):
    return None if b is None else base64.b64encode(bytes(b)).decode("ascii")


def record_out(offset, timestamp, key, value, headers):
    return {
        "offset": offset,
        "timestamp": timestamp,
        "key": b64e(key),
        "value": b64e(value),
        "headers": [{"key": k, "value": b64e(v)} for k, v in (headers or [])],
    }


def records_in(job):
    """Yields (key, value, headers as [(str, bytes)], timestamp ms) of a produce job."""
    for r in job["records"]:
        headers = [(h["key"], b64d(h["value"])) for h in (r.get("headers") or [])]
        yield b64d(r.get("key")), b64d(r.get("value")), headers, r.get("timestamp") or None


def main(probe, produce, consume):
    """Runs one request. produce(bootstrap, job, timeout_s) returns None;
    consume(bootstrap, job, timeout_s) returns (records, error) within
    about timeout_s."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    req = json.load(sys.stdin)
    op = req["op"]
    timeout = req.get("job_timeout_ms", 30000) / 1000.0
    if op == "probe":
        try:
            probe()
            resp = {"ok": True}
        except Exception as e:  # a missing module or codec
            resp = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    elif op == "produce":
        results = {}
        for job in req["jobs"]:
            try:
                produce(req["bootstrap"], job, timeout)
                results[job["topic"]] = {}
            except Exception as e:
                traceback.print_exc()
                results[job["topic"]] = {"error": "%s: %s" % (type(e).__name__, e)}
        resp = {"results": results}
    elif op == "consume":
        # Once a read has run out of time the others are not run (and fail),
        # so that a broker that hangs fails the suite quickly.
        results = {}
        timed_out = None
        for job in req["jobs"]:
            if timed_out:
                results[job["id"]] = {"records": [], "error": "not run: the read of %s timed out" % timed_out}
                continue
            records = []
            start = time.monotonic()
            try:
                records, err = consume(req["bootstrap"], job, timeout)
            except Exception as e:
                traceback.print_exc()
                err = "%s: %s" % (type(e).__name__, e)
            if time.monotonic() - start >= timeout:
                timed_out = job["id"]
            res = {"records": records}
            if err:
                res["error"] = err
            results[job["id"]] = res
        resp = {"results": results}
    else:
        raise SystemExit("unknown op %r" % op)
    json.dump(resp, sys.stdout)
    sys.stdout.flush()
