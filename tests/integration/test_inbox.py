"""The salesperson's inbox under a real Apache 2.4 with the shipped auth
config, driven in headless Chromium (Debian `chromium`, DevTools protocol
over a pipe: tests/integration/cdp.py); the status page; cgi-bin/health;
coexistence echoes.

Run by tests/integration/run (tests/sandbox). Usage:
    test_inbox.py HOME WORKDIR FIXTURES
Screenshots go to $OVIDIO_ARTIFACTS (default /tmp/ovidio-artifacts-inbox-
<pid>); the folder is printed.
"""
import base64
import http.client
import uuid
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

import standin_support
from harness import Ovidio, Runner, expect, expect_eq
import cdp

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(HERE, "standins")
if not os.path.isdir(STANDINS):
    STANDINS = os.path.join(HERE, "..", "standins")
LOCAL_FIXTURES = os.path.join(HERE, "fixtures")
if not os.path.isdir(LOCAL_FIXTURES):
    LOCAL_FIXTURES = os.path.join(HERE, "..", "fixtures")
ART = os.environ.get("OVIDIO_ARTIFACTS") or \
    "/tmp/ovidio-artifacts-inbox-%d" % os.getpid()
os.makedirs(ART, exist_ok=True)

GRAPH_TOKEN = "it-graph-token-inbox"
PHONE_ID = "110000000000009"
USER, PASSWORD = "laura", "clave-de-laura"
OTHER, OTHER_PASSWORD = "beto", "clave-de-beto"
MARTIN = "5493415551234"
LUCIA = "5491144447777"          # Fernández Lucía: +54 9 11 4444-7777
OTRO = "5493415558888"           # types Gómez's CUIT: not his number
XSS = "5493415559999"
ECHO = "5493415557777"
XSS_NAME = '<img src=x onerror="window.__xss=1">Pepe'
XSS_TEXT = '<script>window.__xss=2</script>"><b>hola</b>'
MAIL_DIR = os.path.join(WORK, "mail")
os.makedirs(MAIL_DIR, exist_ok=True)

procs = []


def start_standin(name, script, args):
    return standin_support.start(WORK, STANDINS, name, script, args, procs)


GRAPH = start_standin("graph", "graph_server.py",
                      ["--token", GRAPH_TOKEN, "--phone-number-id", PHONE_ID])
SMTP = start_standin("smtp", "smtp_server.py", ["--dir", MAIL_DIR])
# The fixture account: Gómez Martín (client 201, celular 0341 15-555-1234:
# MARTIN) with his invoices, Fernández Lucía (202: LUCIA).
CIANBOX = start_standin("cianbox", "cianbox_server.py",
                        ["--fixtures", os.path.join(FIXTURES, "cianbox"),
                         "--user", "ovidio", "--password", "clave-it"])
ov = Ovidio(HOME, WORK, {
    "CIANBOX_URL": "http://127.0.0.1:%d" % CIANBOX,
    "CIANBOX_ACCOUNT": "micuenta",
    "CIANBOX_USER": "ovidio",
    "CIANBOX_PASS": "clave-it",
    "WHATSAPP_TOKEN": GRAPH_TOKEN,
    "PHONE_NUMBER_ID": PHONE_ID,
    "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % GRAPH,
    "SMTP_URL": "smtp://127.0.0.1:%d" % SMTP,
    "VENDEDOR_EMAIL": "vendedor@grupo-ser.test",
    "OUTBOX_RETRY_S": "0",
    "OVIDIO_LOG": "debug",
    "INBOX_SECRET": "it-inbox-secret-0123456789",
    "HANDOFF_HOURS": "4",
    "INBOX_TEMPLATES": "retomar_conversacion|Retomar la conversación",
    "PRESUPUESTOS_DIR": os.path.join(WORK, "presupuestos"),
})
os.makedirs(os.path.join(WORK, "presupuestos"), exist_ok=True)
HTPASSWD = os.path.join(WORK, "htpasswd")
subprocess.run(["htpasswd", "-cbB", HTPASSWD, USER, PASSWORD], check=True,
               capture_output=True)
subprocess.run(["htpasswd", "-bB", HTPASSWD, OTHER, OTHER_PASSWORD],
               check=True, capture_output=True)


def auth(user=USER, password=PASSWORD):
    return "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()


def base():
    return "http://127.0.0.1:%d" % ov.port


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


def sent():
    return call(GRAPH, "GET", "/__sent")[1]


SEQ = [0]


def message(sender, text, name="Cliente"):
    SEQ[0] += 1
    m = {"from": sender, "id": "wamid.it-inbox-%05d" % SEQ[0],
         "timestamp": str(int(time.time())), "type": "text",
         "text": {"body": text}}
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "104857600000009", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5493414000000",
                         "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": name}, "wa_id": sender}],
            "messages": [m]}}]}]}


def post(body):
    raw = json.dumps(body, ensure_ascii=False).encode()
    st, _, _ = ov.post_webhook(raw)
    expect_eq(st, 200, "webhook accepted")


def say(sender, text, name="Cliente"):
    """The customer writes; return the messages Ovidio sent back."""
    before = len(sent())
    post(message(sender, text, name))
    expect(ov.wait_idle(30), "worker finished")
    return [e for e in sent()[before:] if e.get("to") == sender and
            e["kind"] == "message"]


def texts(replies):
    out = []
    for e in replies:
        p = e["payload"]
        if p["type"] == "text":
            out.append(p["text"]["body"])
        elif p["type"] == "interactive":
            out.append(p["interactive"]["body"]["text"])
    return "\n".join(out)


def conv(key):
    rows = ov.query("SELECT owner, agent, doc FROM conversaciones WHERE key = ?",
                    key)
    return dict(rows[0]) if rows else None


def shot(page, name):
    return page.screenshot(os.path.join(ART, name + ".png"))


BROWSER = [None]


def page_for(user=USER, password=PASSWORD):
    if BROWSER[0] is None:
        BROWSER[0] = cdp.Browser(WORK)
    p = BROWSER[0].new_page()
    if user is not None:
        p.set_headers({"Authorization": auth(user, password)})
    return p


def inbox_url(path=""):
    return base() + "/cgi-bin/inbox" + path


# ---- tests ---------------------------------------------------------------

def test_without_credentials_401():
    st, h, body = ov.request("GET", "/cgi-bin/inbox")
    expect_eq(st, 401, "no credentials")
    expect("basic" in h.get("www-authenticate", "").lower(), str(h))
    st, _, _ = ov.request("GET", "/cgi-bin/inbox",
                          headers={"Authorization": auth(USER, "mala")})
    expect_eq(st, 401, "wrong password")
    p = page_for(None)
    expect_eq(p.goto(inbox_url()), 401, "Chromium without credentials")
    expect(MARTIN not in p.text(), "no data without credentials")


def test_list_shows_the_waiting_customer():
    t = texts(say(MARTIN, "hola", name="Martín Gómez"))
    expect(t != "", "Ovidio greets")
    t = texts(say(MARTIN, "quiero hablar con un vendedor", name="Martín Gómez"))
    expect("vendedor" in t, "handoff: " + t)
    c = conv(MARTIN)
    expect(c and c["owner"] == "agent" and c["agent"] == "handoff", str(c))
    p = page_for()
    expect_eq(p.goto(inbox_url()), 200, "list")
    text = p.text()
    expect("Martín Gómez" in text, text)
    expect("Espera un vendedor" in text, text)
    # Waiting first.
    first = p.eval("document.querySelector('tbody tr a').textContent")
    expect_eq(first, "Martín Gómez", "the waiting customer is first")
    # Search by number.
    expect_eq(p.goto(inbox_url("?q=555123")), 200, "search")
    expect("Martín Gómez" in p.text(), "found by number")
    expect_eq(p.goto(inbox_url("?q=nadie-asi")), 200, "search")
    expect("No hay conversaciones" in p.text(), "nothing found")
    p.goto(inbox_url())
    shot(p, "1-lista")
    # The link of the handoff e-mail opens the conversation.
    mails = [json.load(open(os.path.join(MAIL_DIR, n)))
             for n in sorted(os.listdir(MAIL_DIR)) if n.endswith(".json")]
    expect(mails, "handoff e-mail sent")


def test_take_reply_and_ovidio_stays_silent():
    p = page_for()
    expect_eq(p.goto(inbox_url("/c/" + MARTIN)), 200, "conversation page")
    t = p.text()
    expect("quiero hablar con un vendedor" in t, "transcript: " + t)
    expect("Espera un vendedor" in t, t)
    expect_eq(p.submit("document.querySelector('form[action$=\"/tomar\"] "
                       "button')"), 200, "take")
    t = p.text()
    expect("La tenés vos" in t, t)
    c = conv(MARTIN)
    expect(c["owner"] == "agent" and c["agent"] == USER, str(c))
    # Another salesperson cannot take it now.
    q = page_for(OTHER, OTHER_PASSWORD)
    q.goto(inbox_url("/c/" + MARTIN))
    expect("La tiene laura" in q.text(), q.text())
    expect_eq(q.submit("document.querySelector('form[action$=\"/tomar\"] "
                       "button')"), 409, "second take refused")
    expect("Otro vendedor tomó la conversación" in q.text(), q.text())
    expect_eq(conv(MARTIN)["agent"], USER, "still Laura's")

    before = len(sent())
    p.eval("document.getElementById('texto').value = "
           "'Hola Martín, soy Laura. ¿Cuántas cámaras necesitás?'")
    expect_eq(p.submit("document.querySelector('form[action$=\"/responder\"] "
                       "button')"), 200, "reply")
    expect("Mensaje enviado" in p.text(), p.text())
    got = [e for e in sent()[before:] if e.get("to") == MARTIN and
           e["kind"] == "message"]
    expect_eq(len(got), 1, "the Graph stand-in got the reply")
    expect_eq(got[0]["payload"]["text"]["body"],
              "Hola Martín, soy Laura. ¿Cuántas cámaras necesitás?", "text")
    expect("laura" in p.text(), "the transcript names the salesperson")
    shot(p, "2-conversacion")
    # The customer answers: Ovidio stays silent.
    replies = say(MARTIN, "necesito 8 domos", name="Martín Gómez")
    expect_eq(replies, [], "Ovidio silent while Laura has it")
    p.goto(inbox_url("/c/" + MARTIN))
    expect("necesito 8 domos" in p.text(), "the new message is shown")


def test_give_back_and_ovidio_answers_again():
    p = page_for()
    p.goto(inbox_url("/c/" + MARTIN))
    expect_eq(p.submit("document.querySelector('form[action$=\"/devolver\"] "
                       "button')"), 200, "give back")
    expect("volvió a Ovidio" in p.text(), p.text())
    expect_eq(conv(MARTIN)["owner"], "bot", "Ovidio's again")
    replies = say(MARTIN, "hola de nuevo", name="Martín Gómez")
    expect(replies, "Ovidio answers again")


def test_hold_runs_out_after_handoff_hours():
    p = page_for()
    p.goto(inbox_url("/c/" + MARTIN))
    p.submit("document.querySelector('form[action$=\"/tomar\"] button')")
    expect_eq(conv(MARTIN)["agent"], USER, "taken")
    expect_eq(say(MARTIN, "sigo acá", name="Martín Gómez"), [], "quiet")
    # Laura's last action was HANDOFF_HOURS ago.
    c = ov.db()
    try:
        c.execute("UPDATE conversaciones SET doc = json_set(doc,"
                  " '$.owner_until', ?) WHERE key = ?",
                  (int(time.time()) - 60, MARTIN))
        c.commit()
    finally:
        c.close()
    expect(say(MARTIN, "hola?", name="Martín Gómez"), "Ovidio answers again")
    expect_eq(conv(MARTIN)["owner"], "bot", "back with Ovidio")


def test_xss_in_name_and_text_is_shown_as_text():
    say(XSS, XSS_TEXT, name=XSS_NAME)
    p = page_for()
    p.goto(inbox_url())
    expect(XSS_NAME in p.text(), "the name as text in the list")
    p.goto(inbox_url("/c/" + XSS))
    t = p.text()
    expect(XSS_TEXT in t, "the text shown as typed: " + t)
    expect(p.eval("typeof window.__xss") == "undefined", "no script ran")
    expect_eq(p.eval("document.querySelectorAll('script, img').length"), 0,
              "no script or img element made from the payload")
    shot(p, "3-xss-como-texto")


def test_post_without_csrf_token_is_403():
    form = urllib.parse.urlencode({"texto": "hola"}).encode()
    h = {"Authorization": auth(), "Content-Type":
         "application/x-www-form-urlencoded", "Origin": base()}
    st, _, body = ov.request("POST", "/cgi-bin/inbox/c/%s/tomar" % MARTIN,
                             form, h)
    expect_eq(st, 403, "no token")
    # Beto's token is not Laura's.
    p = page_for(OTHER, OTHER_PASSWORD)
    p.goto(inbox_url("/c/" + MARTIN))
    beto = p.eval("document.querySelector('input[name=csrf]').value")
    form = urllib.parse.urlencode({"csrf": beto}).encode()
    st, _, _ = ov.request("POST", "/cgi-bin/inbox/c/%s/tomar" % MARTIN,
                          form, h)
    expect_eq(st, 403, "another user's token")
    # The right token from another origin.
    p = page_for()
    p.goto(inbox_url("/c/" + MARTIN))
    mine = p.eval("document.querySelector('input[name=csrf]').value")
    form = urllib.parse.urlencode({"csrf": mine}).encode()
    st, _, _ = ov.request("POST", "/cgi-bin/inbox/c/%s/tomar" % MARTIN, form,
                          dict(h, Origin="http://evil.example"))
    expect_eq(st, 403, "another origin")
    # Bounded inputs, with a clear answer.
    form = urllib.parse.urlencode({"csrf": mine, "texto": "x" * 1500}).encode()
    st, _, body = ov.request("POST", "/cgi-bin/inbox/c/%s/responder" % MARTIN,
                             form, h)
    expect_eq(st, 400, "reply over 1000 characters")
    expect("hasta 1000 caracteres" in body.decode(), body[:300])
    form = urllib.parse.urlencode({"csrf": mine, "texto": "ñ" * 3000}).encode()
    st, _, body = ov.request("POST", "/cgi-bin/inbox/c/%s/responder" % MARTIN,
                             form, h)
    expect_eq(st, 413, "form over the body limit")
    st, _, _ = ov.request("GET", "/cgi-bin/inbox?q=" + "a" * 80,
                          headers={"Authorization": auth()})
    expect_eq(st, 400, "search over 64 characters")
    st, _, _ = ov.request("GET", "/cgi-bin/inbox/c/54934%27%3Cx",
                          headers={"Authorization": auth()})
    expect_eq(st, 404, "a key that is not a number")
    # A GET never changes anything.
    st, _, _ = ov.request("GET", "/cgi-bin/inbox/c/%s/tomar" % MARTIN,
                          headers={"Authorization": auth()})
    expect_eq(st, 405, "GET on an action")
    expect_eq(conv(MARTIN)["owner"], "bot", "nothing changed")
    # Headers on every page.
    st, hd, _ = ov.request("GET", "/cgi-bin/inbox",
                           headers={"Authorization": auth()})
    expect_eq(hd.get("cache-control"), "no-store", "no-store")
    expect_eq(hd.get("x-frame-options"), "DENY", "frames")
    expect_eq(hd.get("x-content-type-options"), "nosniff", "nosniff")
    expect("default-src 'none'" in hd.get("content-security-policy", ""),
           str(hd))


def test_echo_pauses_ovidio():
    with open(os.path.join(LOCAL_FIXTURES, "whatsapp",
                           "smb_message_echoes_text.json"), "rb") as f:
        body = json.load(f)
    echo = body["entry"][0]["changes"][0]["value"]["message_echoes"][0]
    echo["to"] = ECHO
    expect(say(ECHO, "hola, tienen domos?"), "Ovidio answers first")
    # Meta's timestamps are whole seconds: the echo and the customer's
    # next message must not share one for their order to be known.
    time.sleep(1.1)
    echo["timestamp"] = str(int(time.time()))
    post(body)
    expect(ov.wait_idle(30), "worker finished")
    c = conv(ECHO)
    expect(c["owner"] == "agent" and c["agent"] == "app", str(c))
    rows = ov.query("SELECT dir, body, raw FROM mensajes WHERE id = ?",
                    echo["id"])
    expect(rows and rows[0]["dir"] == 1, "echo recorded as outbound")
    time.sleep(1.1)
    expect_eq(say(ECHO, "dale, pasame precio"), [],
              "Ovidio silent after the salesperson wrote from the app")
    p = page_for()
    p.goto(inbox_url("?q=" + ECHO))
    expect_eq(p.eval("document.querySelector('.badge') && "
                     "document.querySelector('.badge').textContent"), "1",
              "one message nobody answered yet")
    p.goto(inbox_url("/c/" + ECHO))
    t = p.text()
    expect("soy Laura de ventas" in t, t)
    expect("app WhatsApp Business" in t, t)


QUOTE = {"id": str(uuid.uuid4()), "number": 2001}


def test_open_quote_pdf_sent_from_the_inbox():
    now = int(time.time())
    doc = json.dumps({
        "v": 1,
        "customer": {"name": "Martín Gómez", "cuit": "20284567898",
                     "phone": "0341 15-555-1234"},
        "currency": "USD", "usd_rate_cents": 104550,
        "items": [{"product_id": 10452, "code": "DH-HAC-HDW1400TP",
                   "name": "Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm",
                   "quantity": 8, "unit_cents": 4850, "iva": 210}]},
        ensure_ascii=False)
    c = ov.db()
    try:
        c.execute("INSERT INTO presupuestos (id, number, wa_id, state,"
                  " created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (QUOTE["id"], QUOTE["number"], MARTIN,
                   "pendiente_confirmacion", now, now + 15 * 86400, doc))
        c.commit()
    finally:
        c.close()
    p = page_for()
    p.goto(inbox_url("/c/" + MARTIN))
    t = p.text()
    expect("Presupuesto N.º 2001" in t, t)
    href = p.eval("document.querySelector('a[href$=\".pdf\"]').getAttribute('href')")
    expect_eq(href, "/cgi-bin/presupuesto/%s.pdf" % QUOTE["id"], "PDF link")
    before = len(sent())
    expect_eq(p.submit("document.querySelector('form[action$=\"/pdf\"] "
                       "button')"), 200, "send the PDF")
    expect("PDF enviado" in p.text(), p.text())
    got = [e for e in sent()[before:] if e.get("to") == MARTIN and
           e["kind"] == "message"]
    expect(got and got[0]["payload"]["type"] == "document", str(got))
    expect_eq(got[0]["payload"]["document"].get("filename"),
              "Presupuesto-2001.pdf", "file name")
    expect_eq(conv(MARTIN)["agent"], USER, "sending takes the conversation")
    shot(p, "5-presupuesto")
    p.submit("document.querySelector('form[action$=\"/devolver\"] button')")


# ---- the customer's invoices in the panel ------------------------------------

def cianbox(ctl=None):
    if ctl is not None:
        st, _ = call(CIANBOX, "POST", "/__control", ctl)
        expect_eq(st, 200, "cianbox control")
    return call(CIANBOX, "GET", "/__stats")[1]


def ventas_asked():
    return cianbox()["requests"].get("GET ventas", 0)


def panel_text(p):
    return p.eval("document.querySelector('.panel h2') && "
                  "[...document.querySelectorAll('.panel')].map("
                  "e => e.innerText).join('\\n')")


def test_invoices_the_bot_fetched_are_in_the_panel():
    r = subprocess.run([os.path.join(HOME, "jobs", "catalog-sync")],
                       env=ov.worker_env(), capture_output=True, text=True,
                       timeout=120)
    expect_eq(r.returncode, 0, "catalog-sync: " + r.stderr[-400:])
    # Martín asks the bot: it fetches them once, and keeps them.
    t = texts(say(MARTIN, "mis facturas", name="Martín Gómez"))
    expect("00012877" in t, "the bot lists them: " + t)
    expect_eq(ventas_asked(), 1, "Cianbox asked once")
    p = page_for()
    expect_eq(p.goto(inbox_url("/c/" + MARTIN)), 200, "conversation page")
    t = panel_text(p)
    for want in ("Gómez Martín Sistemas de Seguridad", "Saldo: $ 1.843,75",
                 "Últimas facturas", "0003-00012877", "03/11/2026",
                 "u$s 1.843,75", "Cuenta corriente", "0003-00012544",
                 "Contado", "Traídas de Cianbox"):
        expect(want in t, want + " in the panel: " + t)
    expect_eq(ventas_asked(), 1, "the page used the kept copy")
    shot(p, "7-facturas")


def test_invoices_refreshed_and_cianbox_down():
    p = page_for()
    p.goto(inbox_url("/c/" + MARTIN))
    before = ventas_asked()
    expect_eq(p.submit("document.querySelector('form[action$=\"/facturas\"]"
                       " button')"), 200, "Actualizar")
    expect("Facturas actualizadas" in p.text(), p.text())
    expect_eq(ventas_asked(), before + 1, "asked Cianbox again")
    # Cianbox answers 500 to everything: the page still comes, with the
    # kept copy and the reason.
    cianbox({"fail_next": 1000})
    t0 = time.time()
    expect_eq(p.submit("document.querySelector('form[action$=\"/facturas\"]"
                       " button')"), 200, "Actualizar with Cianbox down")
    took = time.time() - t0
    t = panel_text(p)
    expect("No pudimos traer las facturas ahora" in t, t)
    expect("Te mostramos las que trajimos hace" in t, t)
    expect("0003-00012877" in t, "the kept copy is shown: " + t)
    expect(took < 8, "answered in %.1f s" % took)
    shot(p, "8-facturas-sin-cianbox")
    cianbox({"fail_next": 0})
    # Cianbox hangs and the copy is old: the page waits 3 s at most.
    c = ov.db()
    try:
        c.execute("UPDATE tokens SET value = json_set(value, '$.fetched_at',"
                  " ?, '$.failed_at', 0) WHERE name = 'cianbox_facturas:201'",
                  (int(time.time()) - 3600,))
        c.commit()
    finally:
        c.close()
    cianbox({"slow_next": 3, "slow_ms": 10000})
    t0 = time.time()
    expect_eq(p.goto(inbox_url("/c/" + MARTIN)), 200, "page, Cianbox hangs")
    took = time.time() - t0
    t = panel_text(p)
    expect("No pudimos traer las facturas ahora" in t, t)
    expect("0003-00012877" in t and "hace 60 min" in t, t)
    expect(2.5 < took < 8, "waited the budget, no more: %.1f s" % took)
    # Right after, the page does not wait for Cianbox again.
    t0 = time.time()
    p.goto(inbox_url("/c/" + MARTIN))
    expect(time.time() - t0 < 2.5, "no second wait: %.1f s" %
           (time.time() - t0))
    cianbox({"slow_next": 0})


def test_invoices_never_fetched_and_cianbox_down():
    expect(say(LUCIA, "hola", name="Lucía"), "Lucía greeted")
    cianbox({"fail_next": 1000})
    try:
        p = page_for()
        expect_eq(p.goto(inbox_url("/c/" + LUCIA)), 200, "page renders")
        t = panel_text(p)
        expect("Fernández Lucía" in t, t)
        expect("No pudimos traer las facturas ahora" in t, t)
        expect("hola" in p.text(), "the transcript is there")
    finally:
        cianbox({"fail_next": 0})


def test_no_account_data_for_a_number_not_on_file():
    say(OTRO, "hola, mi cuit es 20-28456789-8", name="Otro")
    rows = ov.query("SELECT cianbox_id, verified FROM clientes WHERE"
                    " wa_id = ?", OTRO)
    expect(rows and rows[0]["cianbox_id"] == 201 and not rows[0]["verified"],
           "linked for prices only: %s" % [dict(r) for r in rows])
    before = ventas_asked()
    p = page_for()
    expect_eq(p.goto(inbox_url("/c/" + OTRO)), 200, "page")
    t = panel_text(p)
    expect("Gómez Martín Sistemas de Seguridad" in t, t)
    for secret in ("1.843,75", "00012877", "Saldo", "Límite"):
        expect(secret not in t, secret + " not shown: " + t)
    expect("solo si el WhatsApp figura en la cuenta" in t, t)
    expect_eq(p.eval("document.querySelectorAll("
                     "'form[action$=\"/facturas\"]').length"), 0,
              "no Actualizar button")
    tok = p.eval("document.querySelector('input[name=csrf]').value")
    form = urllib.parse.urlencode({"csrf": tok}).encode()
    st, _, body = ov.request("POST", "/cgi-bin/inbox/c/%s/facturas" % OTRO,
                             form, {"Authorization": auth(), "Origin": base(),
                                    "Content-Type":
                                    "application/x-www-form-urlencoded"})
    expect_eq(st, 403, "no invoices for this number")
    expect(b"00012877" not in body, "nothing leaks")
    expect_eq(ventas_asked(), before, "Cianbox not asked")


def test_outside_24h_only_templates():
    old = "5493415556666"
    say(old, "hola", name="Cliente Viejo")
    c = ov.db()
    try:
        c.execute("UPDATE conversaciones SET last_inbound = last_inbound"
                  " - 2 * 86400 WHERE key = ?", (old,))
        c.commit()
    finally:
        c.close()
    p = page_for()
    p.goto(inbox_url("/c/" + old))
    t = p.text()
    expect("más de 24 horas" in t, t)
    expect_eq(p.eval("document.querySelectorAll('textarea').length"), 0,
              "no reply box")
    before = len(sent())
    expect_eq(p.submit("document.querySelector('form[action$=\"/plantilla\"]"
                       " button')"), 200, "template")
    expect("Plantilla enviada" in p.text(), p.text())
    got = [e for e in sent()[before:] if e.get("to") == old and
           e["kind"] == "message"]
    expect(got and got[0]["payload"]["type"] == "template", str(got))
    expect_eq(got[0]["payload"]["template"]["name"], "retomar_conversacion",
              "the configured template")
    # A text reply is refused by the CGI too, not only hidden.
    tok = p.eval("document.querySelector('input[name=csrf]').value")
    form = urllib.parse.urlencode({"csrf": tok, "texto": "hola"}).encode()
    st, _, _ = ov.request("POST", "/cgi-bin/inbox/c/%s/responder" % old, form,
                          {"Authorization": auth(), "Origin": base(),
                           "Content-Type": "application/x-www-form-urlencoded"})
    expect_eq(st, 409, "text outside the window")
    shot(p, "6-fuera-de-ventana")


def test_status_page_and_retry():
    failed = os.path.join(ov.data, "spool", "failed")
    os.makedirs(failed, exist_ok=True)
    with open(os.path.join(failed, "1764000000.bad"), "w") as f:
        f.write("not json")
    with open(os.path.join(failed, "1764000000.bad.why"), "w") as f:
        f.write("not a WhatsApp payload\n")
    logdir = os.path.join(ov.data, "log")
    os.makedirs(logdir, exist_ok=True)
    stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    with open(os.path.join(logdir, "worker.log"), "a") as f:
        f.write("%s ovidio-worker[1] error: an old <b>failure</b>\n"
                % stamp(time.time() - 3 * 86400))
        f.write("%s ovidio-worker[2] error: cannot reach <Graph> today\n"
                % stamp(time.time() - 60))
        f.write("%s ovidio-worker[3] info: all fine\n" % stamp(time.time()))
    p = page_for()
    expect_eq(p.goto(inbox_url("/estado")), 200, "status page")
    t = p.text()
    expect("cannot reach <Graph> today" in t, "today's error shown: " + t)
    expect("an old <b>failure</b>" not in t, "errors older than 24 h left out")
    expect("all fine" not in t, "only errors")
    for want in ("Spool new", "Spool failed", "Outbox", "Mensajes hoy",
                 "Demora de respuesta", "Última corrida del worker",
                 "Token de Cianbox", "not a WhatsApp payload"):
        expect(want in t, want + " in " + t)
    shot(p, "4-estado")
    expect_eq(p.submit("document.querySelector('form[action$=\"/reintentar\"]"
                       " button')"), 200, "retry")
    expect(not os.path.exists(os.path.join(failed, "1764000000.bad")),
           "moved out of failed/")
    expect_eq(p.submit("document.querySelector('form[action$=\"/sincronizar\"]"
                       " button')"), 200, "sync request")
    expect(os.path.exists(os.path.join(ov.data, "status", "sync.request")),
           "request file written")
    ov.wait_idle(30)


def health():
    st, _, body = ov.request("GET", "/cgi-bin/health")
    return st, json.loads(body)


def write_status(name, when, text=""):
    d = os.path.join(ov.data, "status")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        f.write("%d %s\n" % (when, text))


def test_health():
    now = int(time.time())
    write_status("worker.last", now, "test")
    write_status("sync-products.last", now - 3600, "10 items from api")
    st, j = health()
    expect_eq(st, 200, "healthy: %s" % j)
    expect_eq(j["status"], "ok", "status")
    expect(MARTIN not in json.dumps(j), "no customer data")
    write_status("worker.last", now - 3600)
    st, j = health()
    expect_eq(st, 503, "stale worker")
    expect_eq(j["failing"], ["worker"], "names the worker")
    write_status("worker.last", now)
    old = os.path.join(ov.data, "spool", "new", "0000000001.old")
    with open(old, "w") as f:
        f.write("{}")
    os.utime(old, (now - 3600, now - 3600))
    st, j = health()
    expect_eq(st, 503, "old spool file")
    expect_eq(j["failing"], ["spool"], "names the spool")
    os.unlink(old)


def test_auth_block_removed_the_cgi_answers_403():
    conf = os.path.join(HOME, "apache", "ovidio.conf")
    with open(conf) as f:
        text = f.read()
    cut = re.sub(r'\s*<Files "inbox">.*?</Files>', "", text, flags=re.S)
    expect(cut != text, "the auth block was there")
    ov.stop()
    with open(conf, "w") as f:
        f.write(cut)
    try:
        ov.start()
        st, _, body = ov.request("GET", "/cgi-bin/inbox")
        expect_eq(st, 403, "the CGI refuses")
        expect(MARTIN.encode() not in body, "no data")
        st, _, body = ov.request("GET", "/cgi-bin/inbox/c/" + MARTIN)
        expect_eq(st, 403, "the CGI refuses a conversation too")
        expect("no REMOTE_USER" in ov.error_log(), "one log line")
    finally:
        ov.stop()
        with open(conf, "w") as f:
            f.write(text)
        ov.start()


def main():
    ov.start()
    runner = Runner()
    print("screenshots in %s" % ART, flush=True)
    try:
        for fn in (test_without_credentials_401,
                   test_list_shows_the_waiting_customer,
                   test_take_reply_and_ovidio_stays_silent,
                   test_give_back_and_ovidio_answers_again,
                   test_hold_runs_out_after_handoff_hours,
                   test_xss_in_name_and_text_is_shown_as_text,
                   test_post_without_csrf_token_is_403,
                   test_echo_pauses_ovidio,
                   test_open_quote_pdf_sent_from_the_inbox,
                   test_invoices_the_bot_fetched_are_in_the_panel,
                   test_invoices_refreshed_and_cianbox_down,
                   test_invoices_never_fetched_and_cianbox_down,
                   test_no_account_data_for_a_number_not_on_file,
                   test_outside_24h_only_templates,
                   test_status_page_and_retry,
                   test_health,
                   test_auth_block_removed_the_cgi_answers_403):
            runner.run(fn)
    finally:
        if BROWSER[0] is not None:
            BROWSER[0].close()
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
                    print("--- worker log (tail) ---\n" +
                          "".join(f.readlines()[-60:]))
            except OSError:
                pass
            print("--- apache error log (tail) ---\n" +
                  "\n".join(ov.error_log().splitlines()[-30:]))
    print("screenshots in %s" % ART, flush=True)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
