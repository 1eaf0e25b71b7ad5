"""Issue 11 through Apache, the webhook and the worker: a customer known
by BSUID alone answered at the BSUID, joined to the phone when it comes, an
Argentine 549 sender answered at 54, and a voice note transcribed by the
OpenAI stand-in and answered as typed, with the echo first.

Run by tests/integration/run. Usage: test_media.py HOME WORKDIR FIXTURES
"""
import base64
import http.client
import json
import os
import subprocess
import sys
import time

from harness import Ovidio, Runner, expect, expect_eq

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
procs = []


def start_standin(name, script, args):
    portfile = os.path.join(WORK, name + ".port")
    log = open(os.path.join(WORK, name + ".log"), "wb")
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(STANDINS, script),
                          "--port", "0", "--port-file", portfile] + args,
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    procs.append(p)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with open(portfile) as f:
                port = int(f.read().strip() or 0)
            if port > 0:
                return port
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise RuntimeError(name + " stand-in did not start")


GRAPH = start_standin("graph", "graph_server.py",
                      ["--token", GRAPH_TOKEN, "--phone-number-id", PHONE_ID])
OPENAI = start_standin("openai", "openai_server.py", ["--key", KEY])
ov = Ovidio(HOME, WORK, {
    "WHATSAPP_TOKEN": GRAPH_TOKEN,
    "PHONE_NUMBER_ID": PHONE_ID,
    "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % GRAPH,
    "TRANSCRIBE_API_KEY": KEY,
    "TRANSCRIBE_BASE_URL": "http://127.0.0.1:%d/v1" % OPENAI,
    "OUTBOX_RETRY_S": "0",
    "OVIDIO_NOW": "2026-11-24T10:00:00-03:00",
    "OVIDIO_LOG": "debug",
})


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


def main():
    ov.start()
    runner = Runner()
    try:
        for fn in (test_bsuid_only_customer_answered_at_the_bsuid,
                   test_phone_joins_the_bsuid_and_549_goes_as_54,
                   test_voice_note_transcribed_and_answered):
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
                    print("--- worker log (tail) ---\n" +
                          "".join(f.readlines()[-60:]))
            except OSError:
                pass
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
