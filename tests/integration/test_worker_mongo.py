"""The worker's process pool on MongoDB (issue 13), under Apache with the
MongoDB, Graph and Cianbox stand-ins: a backlog of several customers is
handled by two pool processes, each keeping its MongoDB client from one
customer to the next; every message is handled once, each customer gets
an answer, and a customer's messages keep their order, also after a pool
process is killed in the middle of a customer.

Run by tests/integration/run. Usage: test_worker_mongo.py HOME WORKDIR FIXTURES
"""
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time

import pymongo

from harness import Ovidio, Runner, expect, expect_eq
from standin_support import PHONE_ID, Standins

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))

S = Standins(WORK, FIXTURES, HERE)
MONGO = S.start("mongo", "mongo_server.py", [])
GRAPH = S.graph()
CIANBOX = S.cianbox()
URI = "mongodb://127.0.0.1:%d" % MONGO
DB = pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000)["ovidio_pool"]

ov = Ovidio(HOME, WORK, dict(S.base(GRAPH, CIANBOX), MONGODB_URI=URI,
                             MONGODB_DB="ovidio_pool"))
TEXTS = ["hola", "buen día, ¿cómo andan?", "gracias", "saludos"]


def payload(sender, mid, text, ts):
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "104857600000001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5493414000000",
                         "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Cliente"}, "wa_id": sender}],
            "messages": [{"from": sender, "id": mid, "timestamp": str(ts),
                          "type": "text", "text": {"body": text}}]}}]}]},
        ensure_ascii=False).encode()


def backlog(tag, senders, per_sender, ts0):
    """Messages spooled while a worker 'runs' (the lock held), so one run
    finds them all. Returns {sender: [ids in order]}."""
    lock_path = os.path.join(ov.data, "locks", "worker.lock")
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)
    ids = {}
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for n in range(per_sender):
            for s in senders:
                mid = "wamid.%s-%s-%02d" % (tag, s[-4:], n)
                st, _, _ = ov.post_webhook(payload(s, mid, TEXTS[n % len(TEXTS)],
                                                   ts0 + n))
                expect_eq(st, 200, "accepted " + mid)
                ids.setdefault(s, []).append(mid)
        fcntl.flock(lock, fcntl.LOCK_UN)
    return ids


def handled_in_order(ids):
    for sender, want in ids.items():
        docs = list(DB["mensajes"].find({"wa_id": sender, "dir": 0}))
        got = [d["_id"] for d in docs]
        expect_eq(sorted(got), sorted(want), "%s: each message once" % sender)
        expect(all(d.get("status") == "handled" for d in docs),
               "%s: all handled: %r" % (sender, [d.get("status") for d in docs]))
        by_seq = sorted(docs, key=lambda d: d.get("seq", 0))
        order = [d["_id"] for d in by_seq]
        expect_eq(order, want, "%s: recorded in order" % sender)


def answered(senders):
    sent = S.sent()
    for s in senders:
        expect(any(e.get("to") == s and e["kind"] == "message" for e in sent),
               "%s got an answer" % s)


def test_pool_processes_keep_their_client_from_customer_to_customer():
    senders = ["5493418800%03d" % i for i in range(8)]
    ids = backlog("pool", senders, 3, 1764300000)
    r = ov.run_worker(timeout=180, OVIDIO_WORKERS=2)
    expect(ov.wait_idle(60), "spool drained (stderr: %s)" % r.stderr[-600:])
    expect("cannot" not in r.stderr and "failed" not in r.stderr.replace(
        "0 to spool/failed", ""), "no errors: %s" % r.stderr[-800:])
    handled_in_order(ids)
    answered(senders)
    # Two processes took the eight customers: each kept its client.
    pids = set(re.findall(r"ovidio-worker\[(\d+)\] info: msg=wamid\.pool-",
                          r.stderr))
    expect(0 < len(pids) <= 2, "handled by the pool's processes: %r" % pids)


def test_process_killed_in_a_customer_loses_nothing():
    senders = ["5493418900%03d" % i for i in range(10)]
    ids = backlog("kill", senders, 4, 1764400000)
    log_path = os.path.join(WORK, "kill.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([os.path.join(HOME, "jobs", "worker")],
                                env=ov.worker_env(OVIDIO_WORKERS=2,
                                                  OVIDIO_SPOOL_LEASE=3),
                                stdout=subprocess.DEVNULL, stderr=log)
    killed = False
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline and not killed:
        try:
            with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        with open(log_path, errors="replace") as f:
            busy = "msg=wamid.kill-" in f.read()
        if kids and busy:
            os.kill(kids[0], signal.SIGKILL)
            killed = True
        time.sleep(0.005)
    proc.wait(timeout=120)
    expect(killed, "a pool process was killed while customers were handled")
    # On MongoDB other nodes do not share this machine's locks: a message
    # the killed process had claimed waits out the store's lease (here 3 s)
    # before the next runs take it back.
    for attempt in range(10):
        r = ov.run_worker(timeout=180, OVIDIO_WORKERS=2, OVIDIO_SPOOL_LEASE=3)
        if ov.wait_idle(timeout=5):
            break
        time.sleep(1.5)
    expect(ov.wait_idle(60), "drained by the next runs (stderr: %s)"
           % r.stderr[-600:])
    handled_in_order(ids)
    answered(senders)


def main():
    ov.start()
    runner = Runner()
    try:
        for fn in (test_pool_processes_keep_their_client_from_customer_to_customer,
                   test_process_killed_in_a_customer_loses_nothing):
            runner.run(fn)
    finally:
        ov.stop()
        S.stop()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
