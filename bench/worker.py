"""bench/worker: the conversation's throughput and cost.

Under a real Apache (harness.Ovidio), signed WhatsApp messages are POSTed
to the webhook by 8 client threads, each customer writing one message and
waiting for Ovidio's answer before the next (as people do); the webhook
starts the real worker, which runs a turn per message by rules (no model)
and sends replies to the Graph API stand-in (instant). The product catalog
is the fixture's (synced by jobs/catalog-sync from the Cianbox stand-in),
so product questions are searched and answered from the store.

Prints:
  - messages/s: messages answered / wall time from the first POST to the
    last reply at the stand-in;
  - CPU ms per message: the worker's own CPU (its "done: ... cpu N ms"
    lines: the coordinator and every child, getrusage) / messages;
  - reply latency p50 / p99 (POST sent to reply recorded by the stand-in).
Targets (issue 5): >= 50 messages/s, <= 10 ms CPU per message.

BENCH_VOICE=P makes P % of the messages voice notes (issue 11): the worker
fetches the audio from the Graph stand-in's media endpoints and has it
transcribed by the OpenAI stand-in (both instant), then answers the text.

BENCH_DEBUG=1 prints each message answered slower than BENCH_SLOW
seconds (default 1) with the time it was sent.

Run through bench/worker (which builds and sandboxes it).
"""
import http.client
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time

from harness import Ovidio

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "1000"))
VOICE_PCT = int(os.environ.get("BENCH_VOICE", "0"))
VOICE_MEDIA = "9000001"
VOICE_TEXT = "tenés domos dahua de 4mp?"
# A 3-second Ogg/Opus voice note as far as Ovidio looks (granule 144000).
VOICE_OGG = (b"OggS" + b"\0" * 44 + b"OggS\0\0" +
             (144000).to_bytes(8, "little") + b"\0" * 34)
THREADS = 8
HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(HERE, "standins")
TOKEN = "bench-graph-token"
PHONE_ID = "110000000000001"
TEXTS = [
    ("text", "hola"),
    ("text", "tenés domos dahua de 4mp?"),
    ("list_reply", "prod:10452"),
    ("text", "¿y tenés 5?"),
    ("text", "cuánto sale?"),
    ("list_reply", "prod:10461"),
    ("text", "gracias!"),
]


def start_cianbox():
    portfile = os.path.join(WORK, "cianbox.port")
    log = open(os.path.join(WORK, "cianbox.log"), "wb")
    p = subprocess.Popen(["/usr/bin/python3",
                          os.path.join(STANDINS, "cianbox_server.py"),
                          "--port", "0", "--port-file", portfile,
                          "--fixtures", os.path.join(FIXTURES, "cianbox"),
                          "--user", "ovidio", "--password", "bench"],
                         stdout=log, stderr=log)
    for _ in range(400):
        if os.path.exists(portfile):
            with open(portfile) as f:
                s = f.read().strip()
            if s:
                return p, int(s)
        time.sleep(0.05)
    raise RuntimeError("cianbox stand-in did not start")


def start_graph():
    portfile = os.path.join(WORK, "graph.port")
    log = open(os.path.join(WORK, "graph.log"), "wb")
    # The stand-in as is, but answering in one TCP segment: Python's HTTP
    # server writes headers and body apart, and Nagle plus the client's
    # delayed ACK would add ~40 ms per request that no real server has.
    boot = ("import sys; sys.path.insert(0, %r); sys.argv[0] = 'graph_server';"
            " import graph_server as g; g.Handler.disable_nagle_algorithm = True;"
            " sys.exit(g.main())" % STANDINS)
    p = subprocess.Popen(["/usr/bin/python3", "-c", boot,
                          "--port", "0", "--port-file", portfile,
                          "--token", TOKEN, "--phone-number-id", PHONE_ID],
                         stdout=log, stderr=log)
    for _ in range(400):
        if os.path.exists(portfile):
            with open(portfile) as f:
                s = f.read().strip()
            if s:
                return p, int(s)
        time.sleep(0.05)
    raise RuntimeError("graph stand-in did not start")


def start_openai():
    portfile = os.path.join(WORK, "openai.port")
    log = open(os.path.join(WORK, "openai.log"), "wb")
    boot = ("import sys; sys.path.insert(0, %r); sys.argv[0] = 'openai_server';"
            " import openai_server as o; o.Handler.disable_nagle_algorithm = True;"
            " sys.exit(o.main())" % STANDINS)
    p = subprocess.Popen(["/usr/bin/python3", "-c", boot,
                          "--port", "0", "--port-file", portfile],
                         stdout=log, stderr=log)
    for _ in range(400):
        if os.path.exists(portfile):
            with open(portfile) as f:
                s = f.read().strip()
            if s:
                return p, int(s)
        time.sleep(0.05)
    raise RuntimeError("openai stand-in did not start")


def post(port, path, obj):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", path, json.dumps(obj).encode(),
              {"Content-Type": "application/json"})
    c.getresponse().read()
    c.close()


def sent_count(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/__sent")
    data = json.loads(c.getresponse().read())
    c.close()
    return [e for e in data if e["kind"] == "message"]


def body(sender, i, kind, value):
    m = {"from": sender, "id": "wamid.bench-w-%07d" % i,
         "timestamp": str(1764000000 + i)}
    if kind == "text":
        m.update(type="text", text={"body": value})
    elif kind == "voice":
        m.update(type="audio", audio={"id": VOICE_MEDIA, "voice": True,
                                      "mime_type": "audio/ogg; codecs=opus"})
    else:
        m.update(type="interactive", interactive={
            "type": "list_reply", "list_reply": {"id": value, "title": "x"}})
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5493414000000",
                         "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Cliente Bench"}, "wa_id": sender}],
            "messages": [m]}}]}]}, ensure_ascii=False).encode()


def main():
    graph, gport = start_graph()
    cianbox, cport = start_cianbox()
    openai, oport = start_openai()
    voice_conf = {}
    if VOICE_PCT > 0:
        import base64
        post(gport, "/__control", {"inbound_media": {VOICE_MEDIA: {
            "mime_type": "audio/ogg",
            "data_b64": base64.b64encode(VOICE_OGG).decode()}}})
        post(oport, "/__script_audio", [{"text": VOICE_TEXT}] * MESSAGES)
        voice_conf = {"TRANSCRIBE_API_KEY": "sk-test-ovidio",
                      "TRANSCRIBE_BASE_URL": "http://127.0.0.1:%d/v1" % oport}
    ov = Ovidio(HOME, WORK, dict(voice_conf, **{
        "WHATSAPP_TOKEN": TOKEN, "PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % gport,
        "CIANBOX_URL": "http://127.0.0.1:%d" % cport,
        "CIANBOX_ACCOUNT": "micuenta", "CIANBOX_USER": "ovidio",
        "CIANBOX_PASS": "bench",
        "OVIDIO_LOG": "info",
        "OVIDIO_WORKERS": os.environ.get("BENCH_WORKERS", "4")}))
    ov.start()
    try:
        r = ov.run_worker()
        assert r.returncode == 0, r.stderr
        r = subprocess.run([os.path.join(HOME, "jobs", "catalog-sync")],
                           env=ov.worker_env(), capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        log = os.path.join(ov.data, "log", "worker.log")
        log_start = os.path.getsize(log) if os.path.exists(log) else 0
        base = len(sent_count(gport))
        latencies = []
        lock = threading.Lock()
        per_thread = MESSAGES // THREADS

        def customer(t):
            conn = http.client.HTTPConnection("127.0.0.1", ov.port, timeout=30)
            sender = "54934155%05d" % (60000 + t)
            for k in range(per_thread):
                i = t * per_thread + k
                kind, value = TEXTS[k % len(TEXTS)]
                # Every (100 / P)-th message a voice note, spread evenly.
                if VOICE_PCT > 0 and (i * VOICE_PCT) % 100 < VOICE_PCT:
                    kind, value = "voice", None
                raw = body(sender, i, kind, value)
                t0 = time.time()
                conn.request("POST", "/cgi-bin/webhook", raw, {
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": ov.sign(raw)})
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 200, resp.status
                # Wait for this message to be handled (its turn ran).
                deadline = time.time() + 30
                db = sqlite3.connect(os.path.join(ov.data, "ovidio.db"), timeout=10)
                while time.time() < deadline:
                    row = db.execute("SELECT status FROM mensajes WHERE id = ?",
                                     ("wamid.bench-w-%07d" % i,)).fetchone()
                    if row and row[0] == "handled":
                        break
                    time.sleep(0.01)
                db.close()
                with lock:
                    latencies.append(time.time() - t0)
                    if time.time() - t0 > float(os.environ.get("BENCH_SLOW", "1")) and os.environ.get("BENCH_DEBUG"):
                        print("slow", i, "%.3f" % (time.time() - t0), "%.3f" % t0, flush=True)
            conn.close()

        t_start = time.time()
        threads = [threading.Thread(target=customer, args=(t,))
                   for t in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        ov.wait_idle(60)
        wall = time.time() - t_start
        n = per_thread * THREADS
        replies = len(sent_count(gport)) - base
        handled = ov.query("SELECT COUNT(*) AS n FROM mensajes WHERE dir = 0 "
                           "AND status = 'handled' AND id LIKE 'wamid.bench-w-%'")[0]["n"]
        cpu = 0
        runs = 0
        with open(log, errors="replace") as f:
            f.seek(log_start)
            for line in f:
                m = re.search(r"done: .* cpu (\d+) ms", line)
                if m:
                    cpu += int(m.group(1))
                    runs += 1
        latencies.sort()
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
        voices = sum(1 for i in range(n) if VOICE_PCT > 0 and
                     (i * VOICE_PCT) % 100 < VOICE_PCT)
        print("bench/worker: %d messages from %d customers, rules (no model), "
              "instant Graph stand-in" % (n, THREADS))
        if VOICE_PCT > 0:
            print("  voice notes      %d (%d %%), transcribed by the instant "
                  "OpenAI stand-in" % (voices, VOICE_PCT))
        print("  handled          %d / %d (replies sent: %d)" % (handled, n, replies))
        print("  throughput       %.1f messages/s (target >= 50)" % (n / wall))
        print("  worker CPU       %.2f ms per message over %d worker runs "
              "(target <= 10)" % (cpu / max(n, 1), runs))
        print("  answer latency   p50 %.0f ms, p99 %.0f ms" % (p(0.5) * 1000, p(0.99) * 1000))
        return 0 if handled == n else 1
    finally:
        ov.stop()
        for p in (graph, cianbox, openai):
            p.terminate()
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
