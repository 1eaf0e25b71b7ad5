"""Quotes posted to the distributor's back end (ISR, issue 12): each new
quote and its confirmation or cancellation reach ISR_API_URL +
/api/presupuestos through jobs/isr-sync, never in the customer's turn, and
a back end that is down for a while receives them later.

Run by tests/integration/run. Usage: test_isr.py HOME WORKDIR FIXTURES
"""
import http.client
import json
import os
import subprocess
import sys

from harness import Ovidio, Runner, expect, expect_eq
from standin_support import Standins

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
ISR_KEY = "isr-test-key-0123"
ISR_DIR = os.path.join(WORK, "isr-received")

S = Standins(WORK, FIXTURES, HERE)
GRAPH = S.graph()
CIANBOX = S.cianbox()
ISR = S.start("isr", "isr_server.py", ["--dir", ISR_DIR, "--key", ISR_KEY])
ISR_PROC = [S.procs[-1]]

ov = Ovidio(HOME, WORK, dict(S.base(GRAPH, CIANBOX),
                             ISR_API_URL="http://127.0.0.1:%d/" % ISR,
                             ISR_API_KEY=ISR_KEY, ISR_RETRY_S="0",
                             ISR_VENDEDOR="Ovidio (WhatsApp)"))


def isr(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", ISR, timeout=10)
    try:
        c.request(method, path, body=json.dumps(body) if body else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return json.loads(r.read() or b"null")
    finally:
        c.close()


def received():
    return isr("GET", "/__received")


def sync():
    r = subprocess.run([os.path.join(HOME, "jobs", "isr-sync")],
                       env=ov.worker_env(), capture_output=True, text=True,
                       timeout=60)
    expect_eq(r.returncode, 0, "isr-sync: " + r.stderr[-500:])
    return r.stdout


def queued():
    return [r[0] for r in ov.query("SELECT id FROM isr_cola ORDER BY seq")]


def make_quote(who, name):
    S.say(ov, who, mtype="interactive", reply=("list_reply", "prod:10452",
                                               "Domo"), name=name)
    S.say(ov, who, mtype="interactive",
          reply=("button_reply", "quote:new:10452", "Presupuesto"), name=name)
    t = S.words(S.say(ov, who, "4", name=name))
    expect("presupuesto N°" in t, "quote made: " + t)
    return int(t.split("presupuesto N° ")[1].split(":")[0])


def load_catalog():
    r = ov.run_worker()
    expect_eq(r.returncode, 0, "worker creates the store")
    r = subprocess.run([os.path.join(HOME, "jobs", "catalog-sync")],
                       env=ov.worker_env(), capture_output=True, text=True,
                       timeout=120)
    expect_eq(r.returncode, 0, "catalog-sync: " + r.stderr[-400:])


def test_new_quote_is_posted_after_the_turn():
    who = "5493415550301"
    n = make_quote(who, "Fede")
    expect_eq(received(), [], "nothing posted in the customer's turn")
    expect_eq(len(queued()), 1, "the event waits in the queue")
    out = sync()
    expect("1 posted" in out, out)
    got = received()
    expect_eq(len(got), 1, "one post")
    d = got[0]
    expect_eq((d["estado"], d["numero"]), ("nuevo", n), "new quote")
    expect_eq((d["origen"], d["vendedor"]), ("whatsapp", "Ovidio (WhatsApp)"),
              "origin and seller")
    expect_eq(d["cliente"]["telefono"], who, "customer's phone")
    expect_eq([(p["codigo"], p["cantidad"], p["precioUSD"], p["iva"])
               for p in d["productos"]],
              [("DH-HAC-HDW1400TP", 4, 48.5, 21)], "items")
    expect_eq(d["totales"], {"subtotalUSD": 194.0, "ivaUSD": 40.74,
                             "totalUSD": 234.74}, "totals")
    expect_eq(d["validezDias"], 15, "validity")
    expect_eq(queued(), [], "queue empty once posted")
    # Confirmed: the PDF goes out, then the confirmation is posted.
    r = S.say(ov, who, mtype="interactive",
              reply=("button_reply", "quote:confirm", "Confirmar"), name="Fede")
    expect(any(e["payload"]["type"] == "document" for e in r), "PDF sent")
    sync()
    got = received()
    expect_eq([(x["estado"], x["numero"]) for x in got],
              [("nuevo", n), ("confirmado", n)], "confirmation posted")


def test_cancelled_quote_is_posted():
    who = "5493415550302"
    n = make_quote(who, "Gabi")
    t = S.words(S.say(ov, who, "cancelar", name="Gabi"))
    expect("cancelé el presupuesto N° %d" % n in t, t)
    before = len(received())
    sync()
    got = received()[before:]
    expect_eq([(x["estado"], x["numero"]) for x in got],
              [("nuevo", n), ("cancelado", n)], "new, then cancelled, in order")


def test_backend_down_for_a_while_loses_nothing():
    who = "5493415550303"
    isr("POST", "/__control", {"status": 503})
    n = make_quote(who, "Caro")     # the customer is answered all the same
    before = len(received())
    out = sync()
    expect("1 failed" in out, "a 503 is tried again later: " + out)
    expect_eq(len(queued()), 1, "kept in the queue")
    # Not there at all for a while: connection refused.
    p = ISR_PROC[0]
    p.terminate()
    p.wait(10)
    out = sync()
    expect("1 failed" in out, "nobody answering: tried again later: " + out)
    expect_eq(len(queued()), 1, "still kept")
    # Back (same port), healthy: the post arrives.
    S.start("isr2", "isr_server.py", ["--dir", ISR_DIR, "--key", ISR_KEY,
                                      "--port", str(ISR)])
    ISR_PROC[0] = S.procs[-1]
    out = sync()
    expect("1 posted" in out, out)
    got = received()[before:]
    expect_eq([(x["estado"], x["numero"]) for x in got], [("nuevo", n)],
              "received later")
    expect_eq(queued(), [], "queue empty")


def test_refused_event_is_dropped_not_retried_forever():
    who = "5493415550304"
    isr("POST", "/__control", {"status": 400})
    make_quote(who, "Dani")
    out = sync()
    expect("1 dropped" in out, "a 400 is a refusal: " + out)
    expect_eq(queued(), [], "not kept")
    isr("POST", "/__control", {"status": None})


def main():
    ov.start()
    runner = Runner()
    try:
        load_catalog()
        for fn in (test_new_quote_is_posted_after_the_turn,
                   test_cancelled_quote_is_posted,
                   test_backend_down_for_a_while_loses_nothing,
                   test_refused_event_is_dropped_not_retried_forever):
            runner.run(fn)
    finally:
        ov.stop()
        S.stop()
        if runner.failed:
            try:
                with open(os.path.join(ov.data, "log", "worker.log")) as f:
                    print("--- worker log (tail) ---\n" +
                          "".join(f.readlines()[-40:]))
            except OSError:
                pass
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
