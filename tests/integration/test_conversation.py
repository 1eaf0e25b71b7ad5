"""Scripted conversations through Apache, the webhook, the worker and the
stand-ins (Graph API, Cianbox, SMTP, a scripted OpenAI-compatible server):
what the customer reads on WhatsApp and what the salesperson gets by e-mail.

Run by tests/integration/run. Usage: test_conversation.py HOME WORKDIR FIXTURES
"""
import fcntl
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import time

import standin_support
from harness import Ovidio, Runner, expect, expect_eq

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(HERE, "standins")
if not os.path.isdir(STANDINS):
    STANDINS = os.path.join(HERE, "..", "standins")

GRAPH_TOKEN = "it-graph-token-conversation"
PHONE_ID = "110000000000001"
OPENAI_KEY = "sk-test-ovidio"
VENDEDOR = "vendedor@grupo-ser.test"
COMPRAS = "compras@grupo-ser.test"
MARTIN = "5493415551234"        # Gómez Martín: celular 0341 15-555-1234
MARTIN_CUIT = "20-28456789-8"
NOW = "2026-11-24T10:00:00-03:00"
TOMORROW = "2026-11-25T09:00:00-03:00"

procs = []


def start_standin(name, script, args):
    return standin_support.start(WORK, STANDINS, name, script, args, procs)


def cianbox_fixtures():
    """The fixture account (customers, sales, the three fixture products)
    plus the sample catalog of `make run` (a few hundred realistic
    products), so searches and alternatives have something to choose from."""
    sys.path.insert(0, STANDINS)
    import sample_data
    sample = os.path.join(WORK, "sample")
    sample_data.write_fixtures(sample)
    out = os.path.join(WORK, "cianbox-fixtures")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(FIXTURES, "cianbox")
    for n in os.listdir(src):
        with open(os.path.join(src, n), "rb") as f, \
                open(os.path.join(out, n), "wb") as g:
            g.write(f.read())
    with open(os.path.join(src, "productos_page1.json")) as f:
        page = json.load(f)
    with open(os.path.join(sample, "productos_page1.json")) as f:
        page["body"] += json.load(f)["body"]
    with open(os.path.join(out, "productos_page1.json"), "w") as f:
        json.dump(page, f, ensure_ascii=False)
    return out


MAIL_DIR = os.path.join(WORK, "mail")
PDF_DIR = os.path.join(WORK, "presupuestos")
os.makedirs(MAIL_DIR, exist_ok=True)
os.makedirs(PDF_DIR, exist_ok=True)
GRAPH = start_standin("graph", "graph_server.py",
                      ["--token", GRAPH_TOKEN, "--phone-number-id", PHONE_ID])
CIANBOX = start_standin("cianbox", "cianbox_server.py",
                        ["--fixtures", cianbox_fixtures(),
                         "--user", "ovidio", "--password", "clave-it"])
SMTP = start_standin("smtp", "smtp_server.py", ["--dir", MAIL_DIR])
OPENAI = start_standin("openai", "openai_server.py", ["--key", OPENAI_KEY])

BASE = {
    "WHATSAPP_TOKEN": GRAPH_TOKEN,
    "PHONE_NUMBER_ID": PHONE_ID,
    "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % GRAPH,
    "CIANBOX_URL": "http://127.0.0.1:%d" % CIANBOX,
    "CIANBOX_ACCOUNT": "micuenta",
    "CIANBOX_USER": "ovidio",
    "CIANBOX_PASS": "clave-it",
    "SMTP_URL": "smtp://127.0.0.1:%d" % SMTP,
    "VENDEDOR_EMAIL": VENDEDOR,
    "EMAIL_TO_COMPRAS": COMPRAS,
    "PRESUPUESTOS_DIR": PDF_DIR,
    "OUTBOX_RETRY_S": "0",
    "OVIDIO_NOW": NOW,
    "OVIDIO_LOG": "debug",
    "LLM_BUDGET_MS": "3000",
}
ov = Ovidio(HOME, WORK, BASE)


def configure(**extra):
    """Rewrite the configuration file; every worker reads it at start."""
    settings = {"WHATSAPP_APP_SECRET": "it-app-secret-0123456789abcdef",
                "WHATSAPP_VERIFY_TOKEN": "it-verify-token-ovidio",
                "OVIDIO_WORKERS": "4"}
    settings.update(BASE)
    settings.update({k: v for k, v in extra.items() if v is not None})
    for k, v in extra.items():
        if v is None:
            settings.pop(k, None)
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


def sent():
    return call(GRAPH, "GET", "/__sent")[1]


SEQ = [0]


def message(sender, mtype="text", text=None, reply=None, name="Cliente",
            ts=None, extra=None):
    SEQ[0] += 1
    mid = "wamid.it-conv-%05d" % SEQ[0]
    m = {"from": sender, "id": mid, "timestamp": str(ts or 1764000000 + SEQ[0]),
         "type": mtype}
    if mtype == "text":
        m["text"] = {"body": text}
    elif mtype == "interactive":
        kind, rid, title = reply
        m["interactive"] = {"type": kind, kind: {"id": rid, "title": title}}
    elif mtype == "image":
        m["image"] = {"id": "1234567890", "mime_type": "image/jpeg"}
        if text:
            m["image"]["caption"] = text
    elif mtype == "reaction":
        m["reaction"] = {"message_id": "wamid.any", "emoji": "\U0001F44D"}
    elif mtype in ("audio", "video", "sticker"):
        m[mtype] = {"id": "99887766", "mime_type": "application/octet-stream"}
    elif mtype == "location":
        m["location"] = {"latitude": -32.9468, "longitude": -60.6393,
                         "name": "Rosario"}
    elif mtype == "contacts":
        m["contacts"] = [{"name": {"formatted_name": "Juan Pérez"},
                          "phones": [{"phone": "+54 9 341 555-0000"}]}]
    if extra:
        m.update(extra)
    return mid, {"object": "whatsapp_business_account", "entry": [{
        "id": "104857600000001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5493414000000",
                         "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": name}, "wa_id": sender}],
            "messages": [m]}}]}]}


def post(body):
    raw = json.dumps(body, ensure_ascii=False).encode()
    st, _, _ = ov.post_webhook(raw)
    expect_eq(st, 200, "webhook accepted")
    return raw


def say(sender, text=None, **kw):
    """Send one message and return what Ovidio sent to sender in answer."""
    before = len(sent())
    mid, body = message(sender, text=text, **kw)
    post(body)
    expect(ov.wait_idle(30), "worker finished")
    return [e for e in sent()[before:] if e.get("to") == sender and
            e["kind"] == "message"]


def words(replies):
    """Everything a customer reads in these replies, as one text."""
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
            else:
                for s in it["action"]["sections"]:
                    for r in s["rows"]:
                        out.append(r["title"] + " " + r.get("description", ""))
        elif p["type"] == "document":
            out.append(p["document"].get("filename", ""))
    return "\n".join(out)


def mails():
    out = []
    for n in sorted(os.listdir(MAIL_DIR)):
        if n.endswith(".json"):
            with open(os.path.join(MAIL_DIR, n)) as f:
                out.append(json.load(f))
    return out


def buttons(reply):
    it = reply["payload"]["interactive"]
    return [(b["reply"]["id"], b["reply"]["title"]) for b in it["action"]["buttons"]]


def list_rows(reply):
    it = reply["payload"]["interactive"]
    return [r for s in it["action"]["sections"] for r in s["rows"]]


def load_catalog():
    """The fixture catalog in the store: jobs/catalog-sync when installed."""
    job = os.path.join(HOME, "jobs", "catalog-sync")
    r = ov.run_worker()
    expect_eq(r.returncode, 0, "worker creates the store")
    if os.access(job, os.X_OK):
        r = subprocess.run([job], env=ov.worker_env(), capture_output=True,
                           text=True, timeout=120)
        expect_eq(r.returncode, 0, "catalog-sync: " + r.stderr[-400:])
        return True
    with open(os.path.join(FIXTURES, "cianbox", "productos_page1.json")) as f:
        products = json.load(f)["body"]
    c = sqlite3.connect(os.path.join(ov.data, "ovidio.db"), timeout=10)
    with c:
        for p in products:
            c.execute("INSERT OR REPLACE INTO productos_cache (key, doc) "
                      "VALUES (?, ?)", (str(p["id"]), json.dumps(p)))
    c.close()
    return False


# ---- greetings, identity, unsupported ------------------------------------

def test_first_greeting_asks_for_cuit_once():
    who = "5493415550101"
    r = say(who, "Hola!", name="Lucía Fernández")
    t = words(r)
    expect_eq(len(r), 1, "one reply")
    expect("¡Hola Lucía!" in t, "greets by first name: " + t)
    expect("Soy Ovidio" in t, "introduces itself the first time")
    expect("CUIT" not in t, "no CUIT asked before it is needed: " + t)
    expect(t.rstrip().endswith("?"), "asks how to help: " + t)
    # Same day: no second introduction, no second CUIT question.
    t = words(say(who, "hola de nuevo", name="Lucía Fernández"))
    expect("Soy Ovidio" not in t and "CUIT" not in t, "only once: " + t)
    expect("¡Hola" not in t, "no second greeting the same day: " + t)
    expect(t.count("?") == 1 and t.rstrip().endswith("?"), "one question: " + t)
    # A new day in Córdoba time: "¡Hola Lucía!" and nothing more.
    configure(OVIDIO_NOW=TOMORROW)
    try:
        t = words(say(who, "buenas", name="Lucía Fernández"))
    finally:
        configure()
    expect(t.startswith("¡Hola Lucía!"), "new-day greeting: " + t)
    expect("Soy Ovidio" not in t and "CUIT" not in t, "short greeting: " + t)


def test_unsupported_types_image_caption_and_reactions():
    who = "5493415550102"
    for kind in ("video", "sticker"):
        r = say(who, mtype=kind, name="Ana")
        expect_eq(len(r), 1, kind + ": one reply")
        t = words(r)
        expect("solo puedo leer mensajes de texto" in t, kind + ": " + t)
        expect(t.rstrip().endswith("?"), kind + ": asks for text")
    # Issue 11: a voice note without a transcription key is asked for in
    # writing (the salesperson is told); a location or a contact is thanked.
    for kind, want in (("audio", "no puedo escuchar audios"),
                       ("location", "Gracias por la ubicación"),
                       ("contacts", "Gracias por el contacto")):
        r = say(who, mtype=kind, name="Ana")
        expect_eq(len(r), 1, kind + ": one reply")
        t = words(r)
        expect(want in t, kind + ": " + t)
        expect(t.rstrip().endswith("?"), kind + ": asks what is needed")
    r = say(who, mtype="reaction", name="Ana")
    expect_eq(r, [], "a reaction gets no reply")
    t = words(say(who, "cuánto debo?", mtype="image", name="Ana"))
    expect("CUIT" in t, "an image caption is read as text: " + t)
    # Issue 11: without a caption or a vision model a person sees it.
    t = words(say(who, mtype="image", name="Ana"))
    expect("no puedo verlas" in t and "vendedor" in t,
           "an image without caption: " + t)


def test_duplicate_delivery_answered_once():
    who = "5493415550103"
    before = len(sent())
    mid, body = message(who, text="hola", name="Pedro")
    post(body)
    post(body)
    expect(ov.wait_idle(30), "idle")
    post(body)
    expect(ov.wait_idle(30), "idle")
    r = [e for e in sent()[before:] if e.get("to") == who and e["kind"] == "message"]
    expect_eq(len(r), 1, "one reply for three deliveries")
    rows = ov.query("SELECT COUNT(*) AS n FROM mensajes WHERE id = ?", mid)
    expect_eq(rows[0]["n"], 1, "stored once")


def test_two_senders_interleaved_each_answered_in_order():
    a, b = "5493415550104", "5493415550105"
    before = len(sent())
    lock_path = os.path.join(ov.data, "locks", "worker.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        post(message(a, text="hola", name="Ana")[1])
        post(message(b, text="hola", name="Beto")[1])
        post(message(a, text="cuánto debo?", name="Ana")[1])
        post(message(b, text="mis facturas", name="Beto")[1])
        post(message(a, text="y tenés domos dahua 4mp?", name="Ana")[1])
        fcntl.flock(lock, fcntl.LOCK_UN)
    r = ov.run_worker()
    expect_eq(r.returncode, 0, "worker run")
    expect(ov.wait_idle(30), "idle")
    new = sent()[before:]
    ra = [e for e in new if e.get("to") == a and e["kind"] == "message"]
    rb = [e for e in new if e.get("to") == b and e["kind"] == "message"]
    ta, tb = words(ra), words(rb)
    # Quick messages pending together are one turn: the greeting leads the
    # answer to the question, in that order, and nothing is repeated.
    expect(ta.startswith("¡Hola Ana!") and "cuenta" in ta, "Ana: " + ta)
    expect(tb.startswith("¡Hola Beto!") and "cuenta" in tb, "Beto: " + tb)
    expect(ta.count("¡Hola") == 1 and tb.count("¡Hola") == 1, "one turn each")
    # Each question of the turn answered, in the order asked.
    kinds = [e["payload"]["type"] + ":" + e["payload"].get(
        "interactive", {}).get("type", "") for e in ra]
    # Joined into as few messages as read well: the account answer leads
    # the list's body, then the list of domos.
    expect(kinds == ["interactive:list"], "one message: %s" % kinds)
    body = ra[0]["payload"]["interactive"]["body"]["text"]
    expect(body.index("cuenta") < body.index("opciones"), "in order: " + body)
    expect(any("Dahua" in x["title"] for x in list_rows(ra[0])),
           "the second question answered")
    for e in ra:
        expect("Beto" not in words([e]), "nothing of Beto's goes to Ana")


# ---- the account ------------------------------------------------------------

def test_balance_and_invoices_for_the_number_on_file():
    # Recognised by the phone on file: greeted by name, no CUIT asked.
    t = words(say(MARTIN, "cuánto debo?", name="Martín Gómez"))
    expect(t.startswith("¡Hola Martín!"), "greeting: " + t)
    expect("CUIT" not in t, "no CUIT asked of a known number: " + t)
    expect("USD 1.843,75" in t, "balance formatted: " + t)
    expect("USD 5.000,00" in t and "30 días" in t, "limit and terms: " + t)
    expect(t.rstrip().endswith("?"), "ends with a question")
    t = words(say(MARTIN, "sí", name="Martín Gómez"))
    expect("03/11/2026" in t and "0003-00012877" in t, "invoice: " + t)
    expect("USD 1.843,75 · cuenta corriente" in t, "on account: " + t)
    expect("USD 774,40 · contado" in t, "cash sale: " + t)


def test_balance_refused_for_a_cuit_only_sender():
    who = "5493415550106"
    t = words(say(who, "20-28456789-1", name="Otro"))
    expect("dígito verificador" in t, "a mistyped CUIT is pointed out: " + t)
    t = words(say(who, MARTIN_CUIT, name="Otro"))
    expect("Gómez Martín" not in t and "precios" in t,
           "identified for prices, nobody's name confirmed: " + t)
    t = words(say(who, "mi saldo", name="Otro"))
    expect("1.843,75" not in t, "no balance shown: " + t)
    expect("solo los muestro al WhatsApp que figura en la cuenta" in t, t)
    t = words(say(who, "últimas facturas", name="Otro"))
    expect("00012877" not in t and "vendedor" in t, "no invoices: " + t)


# ---- products, stock, quotes -------------------------------------------------

def test_search_answers_with_a_list_in_stock_first():
    who = "5493415550120"
    r = say(who, "Hola, tenés domos Dahua de 4 MP?", name="Nico")
    lists = [e for e in r if e["payload"]["type"] == "interactive" and
             e["payload"]["interactive"]["type"] == "list"]
    expect_eq(len(lists), 1, "one list")
    body = lists[0]["payload"]["interactive"]["body"]["text"]
    expect(body.startswith("¡Hola Nico!"), "greeted: " + body)
    expect("domos dahua 4mp" not in body and "Cámara Domo" in body and
           body.rstrip().endswith("?"), "names what was found: " + body)
    rows = list_rows(lists[0])
    expect(1 <= len(rows) <= 10, "1..10 rows")
    descs = [r.get("description", "") for r in rows]
    import re
    for d in descs:
        expect(re.match(r"USD \d{1,3}(\.\d{3})*,\d\d \+ IVA · "
                        r"(stock \d+|sin stock)( · |$)", d), "row: " + d)
    stocked = [("sin stock" not in d) for d in descs]
    expect(stocked == sorted(stocked, reverse=True), "in stock first")
    expect(any(r["id"] == "prod:10452" and r["title"] == "Cámara Domo Dahua 4MP H…"
               and r["description"] == "USD 48,50 + IVA · stock 12 · "
               "HAC-HDW1400 2.8mm" for r in rows),
           "the Dahua 4 MP dome with its price, stock and the rest of its "
           "name: %s" % rows)
    # The list reply selects the product.
    t = words(say(who, mtype="interactive", reply=("list_reply", "prod:10452",
                                                   rows[0]["title"]), name="Nico"))
    expect("Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm" in t, t)
    expect("USD 48,50 + IVA" in t and "Tenemos 12" in t, t)


def test_price_question_that_fits_several_products_lists_them():
    who = "5493415550122"
    r = say(who, "cuánto sale un disco de 1tb?", name="Pía")
    lists = [e for e in r if e["payload"]["type"] == "interactive" and
             e["payload"]["interactive"]["type"] == "list"]
    expect_eq(len(lists), 1, "a list, not a guess")
    rows = list_rows(lists[0])
    expect(len(rows) > 1 and all(x["description"].startswith("USD ")
                                 for x in rows), "each with its price")
    # A question that fits one product answers with its price.
    t = words(say(who, "precio del DVR Hikvision 8 canales AcuSense",
                  name="Pía"))
    expect("DVR Hikvision 8 canales AcuSense 4MP: USD 116,82 + IVA" in t, t)


def test_quantity_with_units_above_stock_offers_alternatives():
    who = "5493415550121"
    r = say(who, "10 fuentes 12V 5A", name="Oli")
    t = words(r)
    expect("Fuente switching 12V 5A metálica" in t, t)
    expect("tenemos solo 7" in t, "not enough: " + t)
    expect("opciones parecidas" in t, "alternatives: " + t)
    lists = [e for e in r if e["payload"]["type"] == "interactive" and
             e["payload"]["interactive"]["type"] == "list"]
    expect_eq(len(lists), 1, "a list of alternatives")
    rows = list_rows(lists[0])
    expect(rows and all(int(x["description"].split(" · ")[1].split()[1]) >= 10
                        for x in rows), "alternatives cover 10: %s" % rows)


def test_product_picked_from_a_list_and_quantity_vs_stock():
    who = "5493415550107"
    r = say(who, mtype="interactive", reply=("list_reply", "prod:10477",
                                             "Fuente 12V 5A"), name="Caro")
    t = words(r)
    expect("Fuente switching 12V 5A metálica" in t, "product name: " + t)
    expect("USD 6,50 + IVA" in t, "offer price, Argentine format: " + t)
    expect("Tenemos 7" in t, "stock: " + t)
    # Below stock: enough.
    r = say(who, "¿y tenés 5?", name="Caro")
    t = words(r)
    expect("tenemos 7, te alcanza" in t, "enough: " + t)
    expect(("yes:add", "Sumar al pedido") in buttons(r[-1]), "add button")
    # Above stock: only 7.
    t = words(say(who, "y 10?", name="Caro"))
    expect("tenemos solo 7" in t, "not enough: " + t)


def test_out_of_stock_offers_alternatives_and_tells_purchasing_once():
    who = "5493415550108"
    n0 = len(mails())
    t = words(say(who, mtype="interactive", reply=(
        "list_reply", "prod:10461", "DVR Hikvision 8ch"), name="Dani"))
    expect("DVR Hikvision 8 canales" in t, "names the product: " + t)
    expect("no tenemos stock ahora" in t, "says so: " + t)
    expect("opciones parecidas" in t and "DVR" in t.split("parecidas", 1)[1],
           "other recorders in stock: " + t)
    m = [x for x in mails()[n0:] if COMPRAS in x["to"]]
    expect_eq(len(m), 1, "purchasing told")
    expect("DVR Hikvision 8 canales" in m[0]["subject"], m[0]["subject"])
    say("5493415550109", mtype="interactive", reply=(
        "list_reply", "prod:10461", "DVR"), name="Eli")
    m = [x for x in mails()[n0:] if COMPRAS in x["to"]]
    expect_eq(len(m), 1, "once per product per day")


def test_whole_quote_flow_ends_in_a_pdf_document():
    who = "5493415550110"
    n0 = len(mails())
    say(who, mtype="interactive", reply=("list_reply", "prod:10452", "Domo"),
        name="Fede")
    r = say(who, mtype="interactive", reply=("button_reply", "quote:new:10452",
                                             "Presupuesto"), name="Fede")
    t = words(r)
    expect("¿cuántas unidades" in t, "asks how many: " + t)
    r = say(who, "4", name="Fede")
    t = words(r)
    expect("presupuesto N°" in t, "quote made: " + t)
    expect("4 × Cámara Domo Dahua 4MP" in t, "item: " + t)
    expect("USD 48,50 c/u" in t and "Subtotal USD 194,00" in t, t)
    expect("IVA 21 %: USD 40,74" in t and "Total USD 234,74" in t, t)
    expect_eq([x[0] for x in buttons(r[-1])], ["quote:confirm", "quote:cancel"],
              "Confirmar / Cancelar")
    rows = ov.query("SELECT id, state, number FROM presupuestos WHERE wa_id = ?",
                    who)
    expect_eq([x["state"] for x in rows], ["pendiente_confirmacion"], "pending")
    r = say(who, mtype="interactive", reply=("button_reply", "quote:confirm",
                                             "Confirmar"), name="Fede")
    docs = [e for e in r if e["payload"]["type"] == "document"]
    expect_eq(len(docs), 1, "a document was sent")
    fn = docs[0]["payload"]["document"]["filename"]
    expect_eq(fn, "Presupuesto-%d.pdf" % rows[0]["number"], "filename")
    rows = ov.query("SELECT state FROM presupuestos WHERE wa_id = ?", who)
    expect_eq([x["state"] for x in rows], ["enviado"], "sent once accepted")
    m = [x for x in mails()[n0:] if VENDEDOR in x["to"]]
    expect(len(m) == 1 and "confirmado" in m[0]["subject"], "salesperson told")
    expect("Cámara Domo Dahua 4MP" in m[0]["data"], "with the items")


def test_quote_cancelled():
    who = "5493415550111"
    say(who, mtype="interactive", reply=("list_reply", "prod:10477", "F"),
        name="Gabi")
    say(who, "cotizá 3", name="Gabi")
    t = words(say(who, "cancelar", name="Gabi"))
    expect("cancelé el presupuesto N°" in t, t)
    rows = ov.query("SELECT state FROM presupuestos WHERE wa_id = ?", who)
    expect_eq([x["state"] for x in rows], ["cancelado"], "cancelled")


# ---- a person ---------------------------------------------------------------

def test_handoff_emails_the_salesperson_and_goes_quiet():
    who = "5493415550112"
    n0 = len(mails())
    say(who, "hola", name="Hugo <b>Pérez</b>")
    t = words(say(who, "quiero hablar con un vendedor", name="Hugo <b>Pérez</b>"))
    expect("le pasé tu consulta a un vendedor" in t, t)
    m = [x for x in mails()[n0:] if VENDEDOR in x["to"]]
    expect_eq(len(m), 1, "salesperson e-mailed")
    expect("quiero hablar con un vendedor" in m[0]["data"], "conversation")
    expect("&lt;b&gt;P" in m[0]["data"] and "<b>Pérez</b>" not in m[0]["data"],
           "customer text escaped")
    expect_eq(say(who, "hola?", name="Hugo"), [], "quiet afterwards")
    # HANDOFF_HOURS (4) later Ovidio answers again.
    configure(OVIDIO_NOW="2026-11-24T14:30:00-03:00")
    try:
        t = words(say(who, "hola, sigo esperando", name="Hugo"))
    finally:
        configure()
    expect(t != "", "answers again after the quiet time")


def test_handoff_with_cr_lf_in_the_name_still_reaches_the_salesperson():
    """A profile name carrying CR/LF: the e-mail goes out (the name stays
    on its Subject line, no header of its own), so the promise holds."""
    who = "5493415550119"
    name = "Ana\r\nBcc: intruso@afuera.test"
    n0 = len(mails())
    say(who, "hola", name=name)
    t = words(say(who, "quiero hablar con un vendedor", name=name))
    expect("le pasé tu consulta a un vendedor" in t, t)
    m = [x for x in mails()[n0:] if VENDEDOR in x["to"]]
    expect_eq(len(m), 1, "salesperson e-mailed")
    expect_eq(m[0]["to"], [VENDEDOR], "nobody else")
    expect("\n" not in m[0]["subject"] and "\r" not in m[0]["subject"],
           "one-line subject: %r" % m[0]["subject"])
    head = m[0]["data"].split("\r\n\r\n", 1)[0]
    expect(not any(ln.lower().startswith("bcc:") for ln in head.split("\r\n")),
           "no Bcc header: %r" % head)


# ---- WhatsApp failures ----------------------------------------------------

def test_graph_rate_limit_is_retried():
    who = "5493415550113"
    graph({"fail_next": [{"code": 130429, "endpoint": "messages"}]})
    t = words(say(who, "hola", name="Iván"))
    expect("¡Hola Iván!" in t, "answered after the retry: " + t)


def test_window_closed_is_recorded_not_retried():
    who = "5493415550114"
    graph({"closed_windows": [who]})
    try:
        expect_eq(say(who, "hola", name="Juan"), [], "nothing went out")
    finally:
        graph({"closed_windows": []})
    rows = ov.query("SELECT status, error FROM mensajes WHERE wa_id = ? AND "
                    "dir = 1", who)
    expect(len(rows) == 1 and rows[0]["status"] == "failed", "failed record")
    expect("131047" in (rows[0]["error"] or ""), "with the reason")
    expect_eq(ov.query("SELECT * FROM outbox WHERE wa_id = ?", who), [],
              "not kept for retry")


def test_meta_outage_is_drained_later_from_the_outbox():
    who = "5493415550115"
    graph({"down": True})
    try:
        expect_eq(say(who, "hola", name="Kari"), [], "nothing while down")
        rows = ov.query("SELECT * FROM outbox WHERE wa_id = ?", who)
        expect_eq(len(rows), 1, "kept in the outbox")
    finally:
        graph({"down": False})
    r = ov.run_worker()          # cron's next run
    expect_eq(r.returncode, 0, "worker")
    got = [e for e in sent() if e.get("to") == who and e["kind"] == "message"]
    expect_eq(len(got), 1, "delivered once Meta is back")
    expect("¡Hola Kari!" in words(got), "the same reply")
    expect_eq(ov.query("SELECT * FROM outbox WHERE wa_id = ?", who), [],
              "outbox empty")
    rows = ov.query("SELECT id FROM mensajes WHERE wa_id = ? AND dir = 1", who)
    expect_eq([x["id"] for x in rows], [got[0]["wamid"]], "recorded by wamid")


# ---- the model --------------------------------------------------------------

def script(steps):
    st, _ = call(OPENAI, "POST", "/__script", steps)
    expect_eq(st, 200, "script")


def with_model(fn):
    configure(OPENAI_API_KEY=OPENAI_KEY,
              OPENAI_BASE_URL="http://127.0.0.1:%d/v1" % OPENAI)
    try:
        fn()
    finally:
        configure()


def test_model_tool_results_are_what_the_customer_reads():
    def run():
        who = "5493415550116"
        say(who, "hola", name="Laura")
        script([{"tool_calls": [{"name": "consultar_stock", "arguments": {
            "producto_id": 10477, "cantidad": 5}}]},
            {"content": "¡Buenísimo! Quedo atento."}])
        t = words(say(who, "necesito 5 fuentes de 12V", name="Laura"))
        expect("tenemos 7, te alcanza" in t, "tool result shown: " + t)
        expect(t.startswith("¡Buenísimo! Quedo atento."), "lead-in kept: " + t)
        reqs = call(OPENAI, "GET", "/__requests")[1]
        expect_eq(len(reqs), 2, "two model calls")
        msgs = reqs[0]["body"]["messages"]
        expect_eq(msgs[0]["role"], "system", "system prompt first")
        expect(any(m["role"] == "user" and m.get("content") == "hola"
                   for m in msgs), "earlier turns as chat turns")
        expect(any(m["role"] == "assistant" and "Soy Ovidio" in
                   (m.get("content") or "") for m in msgs), "our replies too")
        expect_eq(msgs[-1], {"role": "user",
                             "content": "necesito 5 fuentes de 12V"}, "last")
        tool_msgs = [m for m in reqs[1]["body"]["messages"] if m["role"] == "tool"]
        expect("USD 6,50" in tool_msgs[0]["content"], "model hears our figures")
        # Figures in the model's own words never reach the customer.
        script([{"tool_calls": [{"name": "consultar_stock", "arguments": {
            "producto_id": 10477, "cantidad": 2}}]},
            {"content": "Tenemos 500 a USD 1,00"}])
        t = words(say(who, "y 2?", name="Laura"))
        expect("500" not in t and "USD 1,00" not in t, "model figures dropped")
        expect("tenemos 7, te alcanza" in t, t)
    with_model(run)


def test_model_search_shows_our_list():
    def run():
        who = "5493415550117"
        script([{"tool_calls": [{"name": "buscar_productos", "arguments": {
            "consulta": "domo dahua 4mp"}}]},
            {"content": "Mirá estas opciones 👇"}])
        r = say(who, "me mostrás domos dahua?", name="Rocío")
        lists = [e for e in r if e["payload"]["type"] == "interactive" and
                 e["payload"]["interactive"]["type"] == "list"]
        expect_eq(len(lists), 1, "one list")
        rows = list_rows(lists[0])
        expect(any(x["id"] == "prod:10452" for x in rows), "the dome listed")
        expect("Mirá estas opciones" in words(r), "lead-in without figures")
    with_model(run)


def test_model_words_alone_never_answer_a_data_question():
    def run():
        who = "5493415550118"
        script([{"content": "¡Sí! Tenemos un montón de domos Dahua en stock."}])
        r = say(who, "tenés domos dahua de 4mp?", name="Sofi")
        t = words(r)
        expect("un montón" not in t, "the model's claim is not shown: " + t)
        lists = [e for e in r if e["payload"]["type"] == "interactive" and
                 e["payload"]["interactive"]["type"] == "list"]
        expect_eq(len(lists), 1, "the catalog answered instead")
        # Small talk may come from the model (no figures in it).
        script([{"content": "¡Un placer, Sofi! Cualquier cosa me escribís."}])
        t = words(say(who, "gracias!", name="Sofi"))
        expect("Un placer, Sofi" in t, "small talk by the model: " + t)
    with_model(run)


def test_model_failures_are_answered_by_rules():
    cases = [
        ("down", [{"http": 500}, {"http": 500}, {"http": 500}, {"http": 500},
                  {"http": 500}, {"http": 500}]),
        ("slow", [{"sleep": 6, "content": "tarde"}]),
        ("rate-limited", [{"http": 429, "retry_after": 10}]),
        ("invalid-arguments", [{"invalid_arguments": "{\"cantidad\": \"muchas\"",
                                "name": "consultar_stock"}]),
    ]

    def run():
        for i, (name, steps) in enumerate(cases):
            who = "54934155502%02d" % i
            script(steps)
            t0 = time.time()
            t = words(say(who, "cuánto debo?", name="Mario"))
            expect("¿Me pasás tu CUIT?" in t, "%s: rules answered: %s" % (name, t))
            expect(time.time() - t0 < 15, "%s: within the budget" % name)
    with_model(run)


# ---- a worker killed mid-turn ------------------------------------------------

def crash_and_replay(who, text, step):
    """Post text with the worker held back, run a worker that kills itself
    at `step`, then cron-like runs until everything is handled. Returns
    what the customer received for it."""
    before = len(sent())
    lock_path = os.path.join(ov.data, "locks", "worker.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        post(message(who, text=text, name="Kiko")[1])
        fcntl.flock(lock, fcntl.LOCK_UN)
    ov.run_worker(OVIDIO_CRASH_AT=step)
    # What cron does next: the spool and the outbox, again and again,
    # with the leases short enough for a test.
    deadline = time.time() + 40
    while time.time() < deadline:
        time.sleep(1.2)
        r = ov.run_worker(OVIDIO_SPOOL_LEASE="1", OUTBOX_CLAIM_S="1")
        expect_eq(r.returncode, 0, "replay worker: " + r.stderr[-300:])
        pending = ov.query("SELECT COUNT(*) AS n FROM mensajes WHERE "
                           "wa_id = ? AND status = 'received'", who)
        waiting = ov.query("SELECT COUNT(*) AS n FROM outbox WHERE wa_id = ?",
                           who)
        if not ov.spool("cur") and not ov.spool("new") and \
                pending[0]["n"] == 0 and waiting[0]["n"] == 0:
            break
    return [e for e in sent()[before:] if e.get("to") == who and
            e["kind"] == "message"]


def test_worker_killed_at_every_step_answers_each_reply_once():
    configure(OVIDIO_SPOOL_LEASE="1", OUTBOX_CLAIM_S="1")
    try:
        for n, step in enumerate(("before_commit", "after_commit",
                                  "mid_send")):
            who = "549341555077%d" % n
            # A quote on screen, then "confirmo": three replies (words,
            # the PDF, words) that must each arrive exactly once.
            say(who, "armame presupuesto de 2 fuentes 12v 10a", name="Kiko")
            r = crash_and_replay(who, "confirmo", step)
            kinds = [e["payload"]["type"] for e in r]
            expect_eq(kinds.count("document"), 1,
                      step + ": the PDF exactly once: %s" % kinds)
            texts = [e["payload"]["text"]["body"] for e in r
                     if e["payload"]["type"] == "text"]
            expect_eq(len(texts), len(set(texts)),
                      step + ": no text twice: %s" % texts)
            expect(any("Te mando el presupuesto" in x for x in texts),
                   step + ": the words before the PDF: %s" % texts)
            rows = ov.query("SELECT state FROM presupuestos WHERE wa_id = ?",
                            who)
            expect_eq([x["state"] for x in rows], ["enviado"],
                      step + ": the quote sent once")
    finally:
        configure()


def main():
    ov.start()
    runner = Runner()
    try:
        load_catalog()
        for fn in (test_first_greeting_asks_for_cuit_once,
                   test_unsupported_types_image_caption_and_reactions,
                   test_duplicate_delivery_answered_once,
                   test_two_senders_interleaved_each_answered_in_order,
                   test_balance_and_invoices_for_the_number_on_file,
                   test_balance_refused_for_a_cuit_only_sender,
                   test_search_answers_with_a_list_in_stock_first,
                   test_price_question_that_fits_several_products_lists_them,
                   test_quantity_with_units_above_stock_offers_alternatives,
                   test_product_picked_from_a_list_and_quantity_vs_stock,
                   test_out_of_stock_offers_alternatives_and_tells_purchasing_once,
                   test_whole_quote_flow_ends_in_a_pdf_document,
                   test_quote_cancelled,
                   test_handoff_emails_the_salesperson_and_goes_quiet,
                   test_handoff_with_cr_lf_in_the_name_still_reaches_the_salesperson,
                   test_graph_rate_limit_is_retried,
                   test_window_closed_is_recorded_not_retried,
                   test_meta_outage_is_drained_later_from_the_outbox,
                   test_model_tool_results_are_what_the_customer_reads,
                   test_model_search_shows_our_list,
                   test_model_words_alone_never_answer_a_data_question,
                   test_model_failures_are_answered_by_rules,
                   test_worker_killed_at_every_step_answers_each_reply_once):
            runner.run(fn)
    finally:
        ov.stop()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        if runner.failed:
            try:
                with open(os.path.join(ov.data, "log", "worker.log")) as f:
                    print("--- worker log (tail) ---\n" + "".join(f.readlines()[-60:]))
            except OSError:
                pass
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
