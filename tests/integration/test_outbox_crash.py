"""A worker killed right after Meta took a reply (OVIDIO_CRASH_AT=after_send,
lib/outbox.c), under a real Apache 2.4 with the Graph API stand-in posting
status webhooks back to the webhook, as Meta does, with the message's
biz_opaque_callback_data in them:
  - the status comes back: the next runs do not send that reply again, and
    the customer's next message is answered at once, not OUTBOX_CLAIM_S
    (300 s by default) later;
  - no status comes back: the reply waits OUTBOX_INFLIGHT_GRACE_S and then
    goes again (at least once is the floor), still before the next one.

Run by tests/integration/run. Usage: test_outbox_crash.py HOME WORKDIR FIXTURES
"""
import fcntl
import http.client
import json
import os
import subprocess
import sys
import time

import standin_support
from harness import APP_SECRET, VERIFY_TOKEN, Ovidio, Runner, expect, expect_eq

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(HERE, "standins")
if not os.path.isdir(STANDINS):
    STANDINS = os.path.join(HERE, "..", "standins")

GRAPH_TOKEN = "it-graph-token-outbox"
PHONE_ID = "110000000000013"
GRACE_S = 3
procs = []


def start_standin(name, script, args):
    return standin_support.start(WORK, STANDINS, name, script, args, procs)


# Apache first: the Graph stand-in posts its status webhooks to it.
ov = Ovidio(HOME, WORK, {})
ov.start()
GRAPH = start_standin("graph", "graph_server.py", [
    "--token", GRAPH_TOKEN, "--phone-number-id", PHONE_ID,
    "--webhook", "http://127.0.0.1:%d/cgi-bin/webhook" % ov.port,
    "--app-secret", APP_SECRET])


def configure(**extra):
    """The configuration every worker (and the CGIs) reads at start."""
    settings = {"WHATSAPP_APP_SECRET": APP_SECRET,
                "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
                "OVIDIO_WORKERS": "4",
                "WHATSAPP_TOKEN": GRAPH_TOKEN,
                "PHONE_NUMBER_ID": PHONE_ID,
                "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % GRAPH,
                "OUTBOX_INFLIGHT_GRACE_S": str(GRACE_S),
                "OVIDIO_LOG": "debug"}
    settings.update(extra)
    tmp = ov.config + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for k, v in settings.items():
            f.write("%s=%s\n" % (k, v))
    os.rename(tmp, ov.config)


def call(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", GRAPH, timeout=20)
    try:
        c.request(method, path, json.dumps(body) if body is not None else None,
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None
    finally:
        c.close()


def graph(ctl):
    expect_eq(call("POST", "/__control", ctl)[0], 200, "graph control")


def sent_to(who):
    """Every message Meta took for who, in order."""
    return [e for e in call("GET", "/__sent")[1]
            if e["kind"] == "message" and e.get("to") == who]


SEQ = [0]


def post(who, text):
    SEQ[0] += 1
    body = {"object": "whatsapp_business_account", "entry": [{
        "id": "104857600000001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5493414000000",
                         "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Kiko"}, "wa_id": who}],
            "messages": [{"from": who, "id": "wamid.it-ob-%04d" % SEQ[0],
                          "timestamp": str(1764000000 + SEQ[0]),
                          "type": "text", "text": {"body": text}}]}}]}]}
    st, _, _ = ov.post_webhook(json.dumps(body).encode())
    expect_eq(st, 200, "webhook accepted")


def waiting(who):
    return ov.query("SELECT COUNT(*) AS n FROM outbox WHERE wa_id = ?",
                    who)[0]["n"]


def crash_after_send(who, text):
    """Post text with the worker held back, then run a worker that kills
    the process sending its first reply right after Meta took it."""
    lock_path = os.path.join(ov.data, "locks", "worker.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        post(who, text)
        fcntl.flock(lock, fcntl.LOCK_UN)
    ov.run_worker(OVIDIO_CRASH_AT="after_send")


def cron_until_done(who, limit_s):
    """Cron-like worker runs (default OUTBOX_CLAIM_S) until the spool is
    empty and nothing waits for who; seconds it took."""
    t0 = time.time()
    while time.time() - t0 < limit_s:
        r = ov.run_worker()
        expect_eq(r.returncode, 0, "worker: " + r.stderr[-300:])
        if not ov.spool("new") and not ov.spool("cur") and waiting(who) == 0:
            return time.time() - t0
        time.sleep(1)
    raise AssertionError("still waiting after %d s: %d entries" %
                         (limit_s, waiting(who)))


def bodies(msgs):
    return [json.dumps(m["payload"].get("text") or m["payload"].get(
        "interactive"), sort_keys=True, ensure_ascii=False) for m in msgs]


def test_taken_reply_is_not_sent_again_and_the_next_goes_at_once():
    who = "5493415556001"
    graph({"reset": True, "statuses": ["sent", "delivered"],
           "status_delay": 0.05})
    crash_after_send(who, "hola")
    first = sent_to(who)
    expect(len(first) >= 1, "Meta took the first reply before the kill")
    cb = first[0]["payload"].get("biz_opaque_callback_data", "")
    expect(cb.startswith("ob:") and cb.endswith(":0"),
           "the reply names its outbox entry and part: %r" % cb)
    # Its "sent" status comes back through Apache and the worker.
    deadline = time.time() + 30
    while time.time() < deadline and not ov.query(
            "SELECT 1 FROM outbox_taken WHERE entry = ?", cb[3:-2]):
        ov.run_worker()
        time.sleep(0.5)
    took = cron_until_done(who, 60)
    expect(took < 30, "drained in %.1f s, not a claim time later" % took)
    after = sent_to(who)
    expect_eq(len(bodies(after)), len(set(bodies(after))),
              "no reply twice: %s" % bodies(after))
    expect_eq(after[0]["wamid"], first[0]["wamid"], "the first reply once")
    row = ov.query("SELECT status FROM mensajes WHERE id = ?",
                   first[0]["wamid"])
    expect(row and row[0]["status"] in ("sent", "delivered"),
           "the reply taken is in the history: %r" % row)
    # The customer's next message is answered at once.
    n = len(after)
    t0 = time.time()
    post(who, "gracias")
    expect(ov.wait_idle(30), "worker finished")
    cron_until_done(who, 30)
    expect(len(sent_to(who)) > n, "the next message answered")
    expect(time.time() - t0 < 30, "answered in %.1f s" % (time.time() - t0))


def test_no_status_means_sent_again_after_the_grace():
    who = "5493415556002"
    graph({"reset": True, "statuses": []})
    crash_after_send(who, "hola")
    first = sent_to(who)
    expect(len(first) >= 1, "Meta took the first reply before the kill")
    t0 = time.time()
    cron_until_done(who, 60)
    after = sent_to(who)
    # At least once: with no word from Meta the reply goes again, after
    # the grace (GRACE_S), in its place before the turn's later replies.
    expect_eq(bodies(after).count(bodies(first)[0]), 2,
              "sent again: %s" % bodies(after))
    expect_eq(bodies(after)[:2], [bodies(first)[0]] * 2,
              "again before anything later: %s" % bodies(after))
    expect(after[1]["time"] - first[0]["time"] >= GRACE_S,
           "after the grace: %.1f s" % (after[1]["time"] - first[0]["time"]))
    expect(time.time() - t0 < 45, "not a claim time later")


def main():
    runner = Runner()
    try:
        configure()
        r = ov.run_worker()   # makes the data directory's spool and locks
        expect_eq(r.returncode, 0, "first worker run: " + r.stderr[-300:])
        for fn in (test_taken_reply_is_not_sent_again_and_the_next_goes_at_once,
                   test_no_status_means_sent_again_after_the_grace):
            runner.run(fn)
    finally:
        ov.stop()
        for p in procs:
            p.terminate()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
