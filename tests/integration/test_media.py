"""Issue 11 through Apache, the webhook and the worker: a customer known
by BSUID alone answered at the BSUID, joined to the phone when it comes, an
Argentine 549 sender answered at 54, and a voice note transcribed by the
OpenAI stand-in and answered as typed, with the echo first. What the
customer sends reaches the salesperson: a PDF or photo kept and linked from
the handoff e-mail (SMTP stand-in) and the inbox (headless Chromium), served
only with the inbox's credentials; a voice note's transcript in the inbox;
a failed download shown as such; kept files purged with the quotes.

Run by tests/integration/run. Usage: test_media.py HOME WORKDIR FIXTURES
"""
import base64
import datetime
import html
import http.client
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

GRAPH_TOKEN = "it-graph-token-media"
PHONE_ID = "110000000000001"
KEY = "sk-test-media-it"
BSUID = "AR.1502576394655843"
LONG_BSUID = "AR.9999999999999999999999999991"   # 31 bytes, near the bound
USER, PASSWORD = "laura", "clave-de-laura"
PUBLIC = "https://ovidio.example.test"
MAIL_DIR = os.path.join(WORK, "mail")
os.makedirs(MAIL_DIR, exist_ok=True)
procs = []


def start_standin(name, script, args):
    return standin_support.start(WORK, STANDINS, name, script, args, procs)


GRAPH = start_standin("graph", "graph_server.py",
                      ["--token", GRAPH_TOKEN, "--phone-number-id", PHONE_ID])
OPENAI = start_standin("openai", "openai_server.py", ["--key", KEY])
SMTP = start_standin("smtp", "smtp_server.py", ["--dir", MAIL_DIR])
ov = Ovidio(HOME, WORK, {
    "WHATSAPP_TOKEN": GRAPH_TOKEN,
    "PHONE_NUMBER_ID": PHONE_ID,
    "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % GRAPH,
    "TRANSCRIBE_API_KEY": KEY,
    "TRANSCRIBE_BASE_URL": "http://127.0.0.1:%d/v1" % OPENAI,
    "OUTBOX_RETRY_S": "0",
    "OVIDIO_NOW": "2026-11-24T10:00:00-03:00",
    "OVIDIO_LOG": "debug",
    "SMTP_URL": "smtp://127.0.0.1:%d" % SMTP,
    "VENDEDOR_EMAIL": "vendedor@grupo-ser.test",
    "PUBLIC_BASE_URL": PUBLIC,
    "INBOX_SECRET": "it-media-inbox-secret-0123456789",
})
subprocess.run(["htpasswd", "-cbB", os.path.join(WORK, "htpasswd"), USER,
                PASSWORD], check=True, capture_output=True)


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


def deliver(contact, message):
    """POST one message as Meta would and wait for the worker."""
    SEQ[0] += 1
    message = dict(message, id="wamid.it-media-%05d" % SEQ[0],
                   timestamp=str(1764000000 + SEQ[0]))
    body = {"object": "whatsapp_business_account", "entry": [{
        "id": "104857600000001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5493414000000",
                         "phone_number_id": PHONE_ID},
            "contacts": [contact], "messages": [message]}}]}]}
    before = len(sent())
    st, _, _ = ov.post_webhook(json.dumps(body, ensure_ascii=False).encode())
    expect_eq(st, 200, "webhook accepted")
    expect(ov.wait_idle(30), "worker finished")
    return [e for e in sent()[before:] if e["kind"] == "message"]


def text_of(replies):
    out = []
    for e in replies:
        p = e["payload"]
        if p["type"] == "text":
            out.append(p["text"]["body"])
        elif p["type"] == "interactive":
            out.append(p["interactive"]["body"]["text"])
    return "\n".join(out)


def test_bsuid_only_customer_answered_at_the_bsuid():
    for who in (BSUID, LONG_BSUID):
        r = deliver({"profile": {"name": "Lucía", "username": "lucia.sg"},
                     "user_id": who},
                    {"from_user_id": who, "type": "text",
                     "text": {"body": "hola"}})
        expect(len(r) >= 1, "answered: %r" % r)
        for e in r:
            expect_eq(e["to"], who, "sent to the BSUID")
            expect_eq(e["payload"].get("to"), who, "the BSUID in \"to\"")


def test_phone_joins_the_bsuid_and_549_goes_as_54():
    phone = "5493415550950"
    r = deliver({"profile": {"name": "Lucía"}, "wa_id": phone,
                 "user_id": BSUID},
                {"from": phone, "from_user_id": BSUID, "type": "text",
                 "text": {"body": "gracias"}})
    expect(len(r) >= 1, "answered")
    for e in r:
        expect_eq(e["to"], phone, "filed under the phone")
        expect_eq(e["payload"].get("to"), "543415550950", "sent as 54")
    r = deliver({"profile": {"name": "Lucía"}, "user_id": BSUID},
                {"from_user_id": BSUID, "type": "text",
                 "text": {"body": "hola de nuevo"}})
    expect(len(r) >= 1 and all(e["to"] == phone for e in r),
           "the BSUID alone now reaches the phone: %r" % r)
    n = ov.query("SELECT COUNT(*) AS n FROM conversaciones WHERE key = ?",
                 BSUID)[0]["n"]
    expect_eq(n, 0, "no conversation left under the BSUID")


def test_voice_note_transcribed_and_answered():
    phone = "5493415550951"
    ogg = (b"OggS" + b"\0" * 44 + b"OggS\0\0" +
           (5 * 48000).to_bytes(8, "little") + b"\0" * 34)
    st, _ = call(GRAPH, "POST", "/__control", {"inbound_media": {"8001": {
        "mime_type": "audio/ogg", "data_b64": base64.b64encode(ogg).decode()}}})
    expect_eq(st, 200, "media set")
    call(OPENAI, "POST", "/__script_audio", [{"text": "gracias, nada más"}])
    r = deliver({"profile": {"name": "Jorge"}, "wa_id": phone},
                {"from": phone, "type": "audio",
                 "audio": {"id": "8001", "mime_type": "audio/ogg; codecs=opus",
                           "voice": True}})
    t = text_of(r)
    expect(t.startswith("¡Hola") or t.startswith("🎤"), "reply: " + t)
    expect("🎤 Entendí: «gracias, nada más»" in t, "echo: " + t)
    reqs = call(OPENAI, "GET", "/__requests")[1]
    expect(any(q.get("path") == "/v1/audio/transcriptions" and
               q.get("auth") == "ok" for q in reqs), "transcription asked")


# ---- what the customer sends, seen by the salesperson -----------------------

# A 1x1 PNG: the inbox's thumbnail must decode in the browser.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
    "hQGAhKmMIQAAAABJRU5ErkJggg==")
BROWSER = [None]
KEPT = []   # inbox paths of kept files, for the purge


def auth():
    return {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (USER, PASSWORD)).encode()).decode()}


def shot(p, name):
    """A screenshot for a person to look at (kept with OVIDIO_KEEP=1)."""
    d = os.path.join(WORK, "screenshots")
    os.makedirs(d, exist_ok=True)
    p.screenshot(os.path.join(d, name + ".png"))


def page():
    if BROWSER[0] is None:
        BROWSER[0] = cdp.Browser(WORK)
    p = BROWSER[0].new_page()
    p.set_headers(auth())
    return p


def inbox(path):
    return "http://127.0.0.1:%d/cgi-bin/inbox%s" % (ov.port, path)


def set_media(mid, mime, data):
    st, _ = call(GRAPH, "POST", "/__control", {"inbound_media": {mid: {
        "mime_type": mime, "data_b64": base64.b64encode(data).decode()}}})
    expect_eq(st, 200, "media set")


def mails():
    out = []
    for n in sorted(os.listdir(MAIL_DIR)):
        if n.endswith(".json"):
            with open(os.path.join(MAIL_DIR, n)) as f:
                out.append(json.load(f))
    return out


def wait_mail(before, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = mails()
        if len(m) > before:
            return m[-1]
        time.sleep(0.1)
    raise AssertionError("no e-mail to the salesperson")


def hrefs(mail):
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"',
                                                 mail["data"])]


def local(url):
    """A PUBLIC_BASE_URL link of an e-mail as a path on this Apache."""
    expect(url.startswith(PUBLIC + "/"), "public link: " + url)
    return url[len(PUBLIC):]


def document(phone, mid, filename, name="Ramiro"):
    return deliver({"profile": {"name": name}, "wa_id": phone},
                   {"from": phone, "type": "document",
                    "document": {"id": mid, "mime_type": "application/pdf",
                                 "filename": filename}})


def test_customer_pdf_reaches_the_salesperson():
    phone = "5493415550960"
    pdf = (b"%PDF-1.4\n% presupuesto de la competencia\n" + os.urandom(4096) +
           b"\n%%EOF\n")
    set_media("8101", "application/pdf", pdf)
    before = len(mails())
    r = document(phone, "8101", "Presupuesto competencia.pdf")
    expect("Recibí el archivo" in text_of(r), "acknowledged: " + text_of(r))
    mail = wait_mail(before)
    links = hrefs(mail)
    expect(PUBLIC + "/cgi-bin/inbox/c/" + phone in links,
           "the conversation linked: %r" % links)
    files = [h for h in links if "/cgi-bin/inbox/media" in h]
    expect_eq(len(files), 1, "one file linked: %r" % links)
    path = local(files[0])
    KEPT.append(path)

    st, h, body = ov.request("GET", path, headers=auth())
    expect_eq(st, 200, "the file with the inbox's credentials")
    expect(body == pdf, "the same bytes (%d of %d)" % (len(body), len(pdf)))
    expect_eq(h.get("content-type"), "application/pdf", "type")
    disp = h.get("content-disposition", "")
    expect(disp.startswith("attachment;"), "downloaded, not shown: " + disp)
    expect("Presupuesto" in disp and ".pdf" in disp, "its name: " + disp)
    expect_eq(h.get("x-content-type-options"), "nosniff", "nosniff")
    expect("sandbox" in h.get("content-security-policy", ""), str(h))
    expect("no-store" in h.get("cache-control", ""), str(h))

    st, _, body = ov.request("GET", path)
    expect_eq(st, 401, "without credentials")
    expect(pdf not in body, "no bytes without credentials")

    # Kept owner-only, under the data directory.
    d = os.path.join(ov.data, "media")
    expect_eq(os.stat(d).st_mode & 0o777, 0o700, "media directory mode")
    for n in os.listdir(d):
        expect_eq(os.stat(os.path.join(d, n)).st_mode & 0o077, 0,
                  "file %s is the owner's only" % n)

    p = page()
    expect_eq(p.goto(inbox("/c/" + phone)), 200, "conversation page")
    expect("Presupuesto competencia.pdf" in p.text(), p.text())
    expect("ya no está guardado" not in p.text(), p.text())
    shown = p.eval("Array.from(document.querySelectorAll('.msg a'))"
                   ".map(function(a){return a.getAttribute('href')})")
    expect(path in shown, "the transcript links the file: %r" % shown)
    shot(p, "media-pdf")


def test_file_sent_while_with_a_person_is_kept():
    phone = "5493415550960"   # handed over by the PDF above: Ovidio is quiet
    xlsx = b"PK\x03\x04 planilla de camaras " + os.urandom(512)
    st, _ = call(GRAPH, "POST", "/__control", {"inbound_media": {"8104": {
        "mime_type": "application/vnd.openxmlformats-officedocument."
                     "spreadsheetml.sheet",
        "data_b64": base64.b64encode(xlsx).decode()}}})
    expect_eq(st, 200, "media set")
    r = deliver({"profile": {"name": "Ramiro"}, "wa_id": phone},
                {"from": phone, "type": "document",
                 "document": {"id": "8104", "filename": "cámaras.xlsx",
                              "mime_type": "application/vnd.openxmlformats-"
                                           "officedocument.spreadsheetml."
                                           "sheet"}})
    expect_eq(r, [], "the salesperson has it: no reply")
    p = page()
    expect_eq(p.goto(inbox("/c/" + phone)), 200, "conversation page")
    expect("cámaras.xlsx" in p.text(), p.text())
    shown = [h for h in p.eval("Array.from(document.querySelectorAll("
                               "'.msg a')).map(function(a){return "
                               "a.getAttribute('href')})")
             if "/cgi-bin/inbox/media" in h]
    expect_eq(len(shown), 2, "both files linked: %r" % shown)
    st, h, body = ov.request("GET", shown[-1], headers=auth())
    expect_eq(st, 200, "the spreadsheet")
    expect(body == xlsx, "the same bytes")
    expect("filename*=UTF-8''c%C3%A1maras.xlsx" in
           h.get("content-disposition", ""), str(h))


def test_customer_photo_shown_in_the_inbox():
    phone = "5493415550961"
    set_media("8102", "image/png", PNG)
    r = deliver({"profile": {"name": "Nadia"}, "wa_id": phone},
                {"from": phone, "type": "image",
                 "image": {"id": "8102", "mime_type": "image/png"}})
    expect("foto" in text_of(r), "photo answered: " + text_of(r))
    p = page()
    expect_eq(p.goto(inbox("/c/" + phone)), 200, "conversation page")
    src = p.eval("(function(){var i=document.querySelector('.msg img');"
                 "return i ? i.getAttribute('src') : null})()")
    expect(src is not None and "/cgi-bin/inbox/media" in src,
           "a thumbnail: %r" % src)
    loaded = p.eval("document.querySelector('.msg img').naturalWidth")
    expect_eq(loaded, 1, "the thumbnail loads under the inbox's policy")
    shot(p, "media-photo")
    st, h, body = ov.request("GET", src, headers=auth())
    expect_eq(st, 200, "the photo")
    expect(body == PNG, "the same bytes")
    expect_eq(h.get("content-type"), "image/png", "type")
    expect(h.get("content-disposition", "").startswith("inline"),
           "a photo is shown: %r" % h.get("content-disposition"))


def test_voice_transcript_in_the_inbox():
    phone = "5493415550951"   # test_voice_note_transcribed_and_answered
    rows = ov.query("SELECT body, raw FROM mensajes WHERE wa_id = ? AND "
                    "type = 'audio'", phone)
    expect_eq(len(rows), 1, "the voice note recorded")
    expect_eq(rows[0]["body"], "🎤 gracias, nada más", "transcript kept")
    expect('"audio"' in (rows[0]["raw"] or ""), "raw as Meta sent it")
    p = page()
    expect_eq(p.goto(inbox("/c/" + phone)), 200, "conversation page")
    t = p.text()
    expect("🎤 gracias, nada más" in t, "transcript shown: " + t)
    expect("escuchalo en el teléfono" not in t, "no placeholder: " + t)


def test_voice_note_flagged_is_kept():
    phone = "5493415550962"
    st, _ = call(GRAPH, "POST", "/__control", {"inbound_media": {"8103": {
        "mime_type": "audio/ogg", "size": 800000}}})   # ~200 s
    expect_eq(st, 200, "media set")
    r = deliver({"profile": {"name": "Hugo"}, "wa_id": phone},
                {"from": phone, "type": "audio",
                 "audio": {"id": "8103", "mime_type": "audio/ogg; codecs=opus",
                           "voice": True}})
    expect("largo" in text_of(r), "too long: " + text_of(r))
    p = page()
    expect_eq(p.goto(inbox("/c/" + phone)), 200, "conversation page")
    shown = p.eval("Array.from(document.querySelectorAll('.msg a'))"
                   ".map(function(a){return a.getAttribute('href')})")
    audio = [h for h in shown if "/cgi-bin/inbox/media" in h]
    expect_eq(len(audio), 1, "the voice note linked: %r" % shown)
    st, h, body = ov.request("GET", audio[0], headers=auth())
    expect_eq(st, 200, "the voice note")
    expect_eq(len(body), 800000, "all of it")
    expect(h.get("content-type", "").startswith("audio/ogg"), str(h))


def test_failed_download_shows_the_fallback():
    phone = "5493415550963"
    before = len(mails())
    r = document(phone, "8199", "lista.pdf", name="Sofía")   # Meta: unknown
    expect("Recibí el archivo" in text_of(r), "still handled: " + text_of(r))
    mail = wait_mail(before)
    expect("no se pudo descargar" in mail["data"] and "8199" in mail["data"],
           "the e-mail says so: " + mail["data"][-1500:])
    expect(not [h for h in hrefs(mail) if "/cgi-bin/inbox/media" in h],
           "no file linked")
    p = page()
    expect_eq(p.goto(inbox("/c/" + phone)), 200, "conversation page")
    t = p.text()
    expect("no se pudo descargar" in t.lower() and "8199" in t,
           "the transcript says so: " + t)
    shot(p, "media-failed")


def test_kept_files_purged_after_the_quote_ttl():
    d = os.path.join(ov.data, "media")
    kept = os.listdir(d)
    expect(kept, "files kept")

    def purge(days):
        now = (datetime.datetime.now(datetime.timezone.utc) +
               datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return subprocess.run([os.path.join(HOME, "jobs", "purge-quotes")],
                              env=ov.worker_env(OVIDIO_NOW=now), timeout=60,
                              capture_output=True, text=True)

    r = purge(14)
    expect_eq(r.returncode, 0, "purge ran: " + r.stderr)
    expect_eq(sorted(os.listdir(d)), sorted(kept), "young files stay")
    r = purge(16)
    expect_eq(r.returncode, 0, "purge ran: " + r.stderr)
    expect_eq(os.listdir(d), [], "old files gone")
    expect("media files" in r.stdout, "counted: " + r.stdout)
    expect(KEPT, "a link to try")
    for path in KEPT:
        st, _, _ = ov.request("GET", path, headers=auth())
        expect_eq(st, 404, "a purged file is gone")


def main():
    ov.start()
    runner = Runner()
    try:
        for fn in (test_bsuid_only_customer_answered_at_the_bsuid,
                   test_phone_joins_the_bsuid_and_549_goes_as_54,
                   test_voice_note_transcribed_and_answered,
                   test_customer_pdf_reaches_the_salesperson,
                   test_file_sent_while_with_a_person_is_kept,
                   test_customer_photo_shown_in_the_inbox,
                   test_voice_transcript_in_the_inbox,
                   test_voice_note_flagged_is_kept,
                   test_failed_download_shows_the_fallback,
                   test_kept_files_purged_after_the_quote_ttl):
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
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
