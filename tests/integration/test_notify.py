"""jobs/notify under a real Apache 2.4 with the Graph API and Cianbox
stand-ins, the clock set with OVIDIO_NOW: a quote made on day 0 is
reminded on day 12 once, and its buttons work (Confirmar: the PDF;
Renovar: a new quote); "baja" is confirmed once; a product asked for
without stock is told once after the sync that restocks it; a run killed
mid-way and run again sends nothing twice; --dry-run sends nothing.

Run by tests/integration/run. Usage: test_notify.py HOME WORKDIR FIXTURES
"""
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
import http.client

import standin_support
from harness import Ovidio, Runner, expect, expect_eq

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(HERE, "standins")
if not os.path.isdir(STANDINS):
    STANDINS = os.path.join(HERE, "..", "standins")

GRAPH_TOKEN = "it-graph-token-notify"
PHONE_ID = "110000000000009"
ART = timezone(timedelta(hours=-3))
DAY0 = datetime(2026, 12, 2, 10, 0, 0, tzinfo=ART)     # a Wednesday
PDF_DIR = os.path.join(WORK, "presupuestos")
os.makedirs(PDF_DIR, exist_ok=True)
procs = []


def iso(dt):
    return dt.isoformat()


def day(n, hour=10, minute=0):
    return DAY0 + timedelta(days=n, hours=hour - 10, minutes=minute)


def start_standin(name, script, args):
    return standin_support.start(WORK, STANDINS, name, script, args, procs)


def cianbox_dir(name, dvr_stock):
    """The fixture account with the DVR's stock set."""
    out = os.path.join(WORK, name)
    os.makedirs(out, exist_ok=True)
    src = os.path.join(FIXTURES, "cianbox")
    for n in os.listdir(src):
        with open(os.path.join(src, n), "rb") as f, \
                open(os.path.join(out, n), "wb") as g:
            g.write(f.read())
    path = os.path.join(out, "productos_page1.json")
    with open(path) as f:
        page = json.load(f)
    for p in page["body"]:
        if p["id"] == DVR:
            p["stock_total"] = dvr_stock
    with open(path, "w") as f:
        json.dump(page, f, ensure_ascii=False)
    return out


DVR = 10461
GRAPH = start_standin("graph", "graph_server.py",
                      ["--token", GRAPH_TOKEN, "--phone-number-id", PHONE_ID])
CIANBOX_EMPTY = start_standin("cianbox0", "cianbox_server.py", [
    "--fixtures", cianbox_dir("cb-nostock", 0),
    "--user", "ovidio", "--password", "clave-it"])
CIANBOX_FULL = start_standin("cianbox1", "cianbox_server.py", [
    "--fixtures", cianbox_dir("cb-restock", 9),
    "--user", "ovidio", "--password", "clave-it"])

BASE = {
    "WHATSAPP_TOKEN": GRAPH_TOKEN,
    "PHONE_NUMBER_ID": PHONE_ID,
    "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % GRAPH,
    "CIANBOX_URL": "http://127.0.0.1:%d" % CIANBOX_EMPTY,
    "CIANBOX_ACCOUNT": "micuenta",
    "CIANBOX_USER": "ovidio",
    "CIANBOX_PASS": "clave-it",
    "PRESUPUESTOS_DIR": PDF_DIR,
    "OUTBOX_RETRY_S": "0",
    "OVIDIO_NOW": iso(DAY0),
    "TEMPLATE_BACK_IN_STOCK": "vuelve_el_stock",
    "CAMPAIGN_RATE": "50",
    "QUOTE_TTL_DAYS": "15",
}
ov = Ovidio(HOME, WORK, BASE)
CURRENT = dict(BASE)


def configure(**extra):
    settings = {"WHATSAPP_APP_SECRET": "it-app-secret-0123456789abcdef",
                "WHATSAPP_VERIFY_TOKEN": "it-verify-token-ovidio",
                "OVIDIO_WORKERS": "4"}
    CURRENT.update(extra)
    settings.update(CURRENT)
    tmp = ov.config + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for k, v in settings.items():
            f.write("%s=%s\n" % (k, v))
    os.rename(tmp, ov.config)


def call(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


def graph(ctl):
    st, _ = call(GRAPH, "POST", "/__control", ctl)
    expect_eq(st, 200, "graph control")


def sent(to=None):
    out = call(GRAPH, "GET", "/__sent")[1]
    return [e for e in out if e["kind"] == "message" and
            (to is None or e.get("to") == to)]


def notify(*args, now, timeout=120):
    return subprocess.run([os.path.join(HOME, "jobs", "notify"), *args],
                          env=ov.worker_env(OVIDIO_NOW=iso(now)),
                          timeout=timeout, capture_output=True, text=True)


SEQ = [0]


def post_message(sender, m):
    SEQ[0] += 1
    m = dict(m)
    # Sent "now" as the conversation's clock has it (the 24-hour window).
    now = datetime.fromisoformat(CURRENT["OVIDIO_NOW"])
    m.update({"from": sender, "id": "wamid.it-notify-%05d" % SEQ[0],
              "timestamp": str(int(now.timestamp()))})
    body = {"object": "whatsapp_business_account", "entry": [{
        "id": "104857600000001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5493414000000",
                         "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Cliente"}, "wa_id": sender}],
            "messages": [m]}}]}]}
    before = len(sent(sender))
    st, _, _ = ov.post_webhook(json.dumps(body, ensure_ascii=False).encode())
    expect_eq(st, 200, "webhook accepted")
    expect(ov.wait_idle(30), "worker finished")
    return sent(sender)[before:]


def say(sender, text):
    return post_message(sender, {"type": "text", "text": {"body": text}})


def tap_template(sender, text, answering):
    """A tap on an approved template's quick-reply button, as Meta sends
    it when the button carries no payload of ours: its text, and the id
    of the message it answers."""
    return post_message(sender, {"type": "button",
                                 "context": {"id": answering},
                                 "button": {"payload": text, "text": text}})


def template_wamid(sender):
    got = [e for e in sent(sender) if e["payload"]["type"] == "template"]
    expect(got, "a template was sent to " + sender)
    return got[-1]["wamid"]


def tap(sender, rid, title, kind="button_reply"):
    return post_message(sender, {"type": "interactive", "interactive": {
        "type": kind, kind: {"id": rid, "title": title}}})


def words(replies):
    out = []
    for e in replies:
        p = e["payload"]
        if p["type"] == "text":
            out.append(p["text"]["body"])
        elif p["type"] == "interactive":
            it = p["interactive"]
            out.append(it["body"]["text"])
            if it["type"] == "button":
                out += [b["reply"]["title"] for b in it["action"]["buttons"]]
        elif p["type"] == "document":
            out.append("[pdf] " + p["document"].get("filename", ""))
        elif p["type"] == "template":
            out.append("[template] " + p["template"]["name"])
    return "\n".join(out)


def put_quote(wa_id, number, created, qid=None):
    qid = qid or str(uuid.uuid4())
    doc = json.dumps({
        "v": 1,
        "customer": {"name": "Martín Gómez", "cuit": "", "phone": ""},
        "currency": "USD", "usd_rate_cents": 0,
        "items": [{"product_id": 10452, "code": "DH-HAC-HDW1400TP",
                   "name": "Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm",
                   "quantity": 2, "unit_cents": 4850, "iva": 210}]},
        ensure_ascii=False)
    c = ov.db()
    try:
        c.execute("INSERT INTO presupuestos (id, number, wa_id, state,"
                  " created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (qid, number, wa_id, "pendiente_confirmacion",
                   int(created.timestamp()),
                   int(created.timestamp()) + 15 * 86400, doc))
        c.commit()
    finally:
        c.close()
    return qid


def sync():
    r = subprocess.run([os.path.join(HOME, "jobs", "catalog-sync")],
                       env=ov.worker_env(), capture_output=True, text=True,
                       timeout=120)
    expect_eq(r.returncode, 0, "catalog-sync: " + r.stderr[-400:])


def setup():
    ov.start()
    r = ov.run_worker()
    expect_eq(r.returncode, 0, "worker creates the store")
    sync()


# ---- the tests -------------------------------------------------------------

def test_reminder_on_day_12_once_and_confirm_sends_the_pdf():
    who = "5493415558001"
    qid = put_quote(who, 7001, DAY0)
    r = notify(now=day(11))
    expect_eq(r.returncode, 0, "day 11: " + r.stderr[-400:])
    expect_eq(sent(who), [], "4 days left: nothing yet")
    r = notify(now=day(12))
    expect_eq(r.returncode, 0, "day 12: " + r.stderr[-400:])
    expect("queued 1:" in r.stdout, "summary: " + r.stdout)
    got = sent(who)
    expect_eq(len(got), 1, "one reminder")
    t = got[0]["payload"]
    expect_eq(t["type"], "template", "outside the window: the template")
    expect_eq(t["template"]["name"], "recordatorio_presupuesto", "name")
    body = [c for c in t["template"]["components"] if c["type"] == "body"][0]
    expect_eq([p["text"] for p in body["parameters"]],
              ["Martín Gómez", "7001", "3"], "nombre, número, días")
    btns = [c for c in t["template"]["components"] if c["type"] == "button"]
    expect_eq(btns, [], "the approved template's own buttons")
    for later in (day(12, 11), day(13), day(14)):
        r = notify(now=later)
        expect_eq(r.returncode, 0, "later run")
    expect_eq(len(sent(who)), 1, "never twice")
    # The customer taps "Confirmar" (the conversation runs on day 12).
    configure(OVIDIO_NOW=iso(day(12, 11)))
    rep = tap_template(who, "Confirmar", template_wamid(who))
    kinds = [e["payload"]["type"] for e in rep]
    expect("document" in kinds, "the PDF went out: " + words(rep))
    expect("Presupuesto-7001.pdf" in words(rep), "that quote: " + words(rep))
    # Promo consent is asked once, after the confirmed quote.
    expect("ofertas" in words(rep), "consent asked: " + words(rep))
    expect_eq(conv_doc(who).get("topic", ""), "", "a confirmed quote ends "
              "the topic: no follow-up")
    rep = tap(who, "promo:yes", "Sí, avisame")
    expect("Te aviso de ofertas" in words(rep), "opted in: " + words(rep))
    expect_eq(conv_doc(who)["profile"].get("promo"), "yes", "consent kept")


def test_renew_makes_a_new_quote_at_todays_prices():
    who = "5493415558002"
    qid = put_quote(who, 7002, DAY0)
    expect_eq(notify(now=day(12)).returncode, 0, "notify")
    expect_eq(len(sent(who)), 1, "reminded")
    configure(OVIDIO_NOW=iso(day(12, 11)))
    reminder = template_wamid(who)
    rep = tap_template(who, "Renovar", reminder)
    t = words(rep)
    expect("Cámara Domo Dahua" in t, "the same items: " + t)
    ids = [b["reply"]["id"] for e in rep if e["payload"]["type"] ==
           "interactive" and e["payload"]["interactive"]["type"] == "button"
           for b in e["payload"]["interactive"]["action"]["buttons"]]
    expect("quote:confirm" in ids, "a new quote to confirm: %r" % ids)
    rows = {r["number"]: r["state"] for r in ov.query(
        "SELECT number, state FROM presupuestos WHERE wa_id = ?", who)}
    expect_eq(len(rows), 2, "a second quote")
    expect_eq(rows.pop(7002), "cancelado", "the old one is replaced")
    expect_eq(list(rows.values()), ["pendiente_confirmacion"],
              "the new one waits to be confirmed")
    # The old reminder's "Confirmar" does not confirm the new quote.
    rep = tap_template(who, "Confirmar", reminder)
    expect("document" not in [e["payload"]["type"] for e in rep],
           "no PDF for a replaced quote: " + words(rep))
    expect("No encontré ese presupuesto" in words(rep), words(rep))


def test_baja_confirmed_once_and_stops_marketing():
    who = "5493415558003"
    configure(OVIDIO_NOW=iso(day(12, 12)))
    t = words(say(who, "baja"))
    expect("no te mando más promociones" in t, "confirmed: " + t)
    rows = ov.query("SELECT doc FROM conversaciones WHERE key = ?", who)
    expect(rows and json.loads(rows[0]["doc"])["profile"]["opted_out"],
           "opted out in the conversation")


def conv_doc(who):
    rows = ov.query("SELECT doc FROM conversaciones WHERE key = ?", who)
    return json.loads(rows[0]["doc"]) if rows else {}


def test_profile_learned_in_the_conversation():
    who = "5493415558007"
    configure(OVIDIO_NOW=iso(day(12, 14)))
    t = words(say(who, "mi cumple es el 21 de diciembre"))
    expect("Anotado" in t and "21 de diciembre" in t, "noted: " + t)
    expect_eq(conv_doc(who)["profile"].get("birthday"), "12-21", "birthday")
    t = words(say(who, "tenés cámaras dahua?"))
    expect("Dahua" in t, "a search: " + t)
    doc = conv_doc(who)
    expect_eq(doc["profile"].get("brands"), ["Dahua"], "preferred brand")
    expect(doc.get("topic"), "a topic: %r" % doc.get("topic"))
    topic = doc["topic"]
    say(who, "gracias")
    expect_eq(conv_doc(who).get("topic"), topic, "small talk keeps it")
    # A quote confirmed ends the topic, and small talk does not bring the
    # product back (no follow-up about what was bought).
    tap(who, "prod:10477", "Fuente", kind="list_reply")
    t = words(say(who, "cotizá 3"))
    expect("presupuesto N°" in t, "a quote: " + t)
    rep = tap(who, "quote:confirm", "Confirmar")
    expect("document" in [e["payload"]["type"] for e in rep], "the PDF")
    expect_eq(conv_doc(who).get("topic", ""), "", "topic ended")
    say(who, "gracias!")
    expect_eq(conv_doc(who).get("topic", ""), "", "still no topic")


def test_restocking_sync_tells_once():
    who = "5493415558004"
    configure(OVIDIO_NOW=iso(day(12, 13)))
    rep = tap(who, "prod:%d" % DVR, "DVR Hikvision", kind="list_reply")
    expect("DVR Hikvision" in words(rep), "the product: " + words(rep))
    rows = ov.query("SELECT * FROM demanda WHERE wa_id = ?", who)
    expect_eq(len(rows), 1, "demand recorded")
    expect_eq(notify("--only", "back_in_stock", now=day(13)).returncode, 0,
              "notify")
    expect_eq(sent(who)[len(rep):], [], "still out of stock: nothing")
    configure(CIANBOX_URL="http://127.0.0.1:%d" % CIANBOX_FULL)
    sync()
    before = len(sent(who))
    r = notify(now=day(13, 11))
    expect_eq(r.returncode, 0, "notify: " + r.stderr[-400:])
    got = sent(who)[before:]
    expect_eq(len(got), 1, "one back-in-stock message")
    p = got[0]["payload"]
    # The customer wrote at 13:00 the day before: the window is open.
    expect_eq(p["type"], "interactive", "inside the window: text")
    expect("Volvió a entrar DVR Hikvision" in p["interactive"]["body"]["text"],
           "product and price: " + p["interactive"]["body"]["text"])
    expect_eq([(b["reply"]["id"], b["reply"]["title"]) for b in
               p["interactive"]["action"]["buttons"]],
              [("cart:add:%d" % DVR, "Lo quiero")], "Lo quiero")
    expect_eq(notify(now=day(14, 11)).returncode, 0, "again")
    expect_eq(len(sent(who)) - before, 1, "only once")


def test_killed_midway_then_run_again_sends_each_once():
    whos = ["54934155590%02d" % i for i in range(12)]
    for i, w in enumerate(whos):
        put_quote(w, 7100 + i, day(1))
    graph({"slow_next": 4, "slow_seconds": 1})
    p = subprocess.Popen([os.path.join(HOME, "jobs", "notify")],
                         env=ov.worker_env(OVIDIO_NOW=iso(day(13))),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    p.send_signal(signal.SIGKILL)
    p.wait()
    half = sum(len(sent(w)) for w in whos)
    expect(half < len(whos), "killed mid-way (%d sent)" % half)
    for _ in range(2):
        r = notify(now=day(13, 10, 30))
        expect_eq(r.returncode, 0, "run again: " + r.stderr[-400:])
    # What the killed run queued goes out with the next drain too.
    ov.run_worker()
    for w in whos:
        expect_eq(len(sent(w)), 1, "one reminder for " + w)


def test_dry_run_sends_nothing():
    who = "5493415558005"
    put_quote(who, 7200, day(2))
    before = len(sent())
    r = notify("--dry-run", now=day(14))
    expect_eq(r.returncode, 0, "dry run")
    expect("would send quote_reminder to %s as recordatorio_presupuesto: "
           "quote 7200 expires in 3 days" % who in r.stdout,
           "lists who and why: " + r.stdout)
    expect_eq(len(sent()), before, "nothing sent")
    rows = ov.query("SELECT COUNT(*) AS n FROM outbox WHERE wa_id = ?", who)
    expect_eq(rows[0]["n"], 0, "nothing queued")


def test_quiet_hours():
    who = "5493415558006"
    put_quote(who, 7300, day(3))
    r = notify("-v", now=day(15, 21))
    expect_eq(r.returncode, 0, "21:00")
    expect("outside the quiet hours" in r.stdout, r.stdout)
    expect_eq(sent(who), [], "nothing at 21:00")
    expect_eq(notify(now=day(16, 8, 55)).returncode, 0, "08:55")
    expect_eq(sent(who), [], "nothing at 08:55")
    expect_eq(notify(now=day(16, 9, 5)).returncode, 0, "09:05")
    expect_eq(len(sent(who)), 1, "sent at 09:05")


def test_crontab_runs_notify():
    with open(os.path.join(HOME, "apache", "crontab")) as f:
        lines = [ln for ln in f if "jobs/notify" in ln and
                 not ln.lstrip().startswith("#")]
    expect_eq(len(lines), 1, "one crontab line")
    expect(lines[0].startswith("*/15 "), "every 15 minutes: " + lines[0])


def main():
    runner = Runner()
    try:
        if not runner.run(setup):
            return runner.finish()
        for t in (test_reminder_on_day_12_once_and_confirm_sends_the_pdf,
                  test_renew_makes_a_new_quote_at_todays_prices,
                  test_baja_confirmed_once_and_stops_marketing,
                  test_profile_learned_in_the_conversation,
                  test_restocking_sync_tells_once,
                  test_killed_midway_then_run_again_sends_each_once,
                  test_dry_run_sends_nothing,
                  test_quiet_hours,
                  test_crontab_runs_notify):
            runner.run(t)
    finally:
        ov.stop()
        for p in procs:
            p.terminate()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
