"""standin_support.py - the stand-ins and the WhatsApp side of a
conversation, for integration tests that are not test_conversation.py
(whose module runs its tests on import). Same fixtures, same settings.
"""
import http.client
import json
import os
import subprocess
import sys
import time

GRAPH_TOKEN = "it-graph-token-legacy"
PHONE_ID = "110000000000001"


def start(work, standins, name, script, args, procs):
    """Start tests/standins/<script> on a free port (its log in work/),
    added to procs; returns the port."""
    portfile = os.path.join(work, name + ".port")
    log = open(os.path.join(work, name + ".log"), "wb")
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(standins, script),
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
        if p.poll() is not None:
            raise RuntimeError(name + " stand-in exited")
        time.sleep(0.05)
    raise RuntimeError(name + " stand-in did not start")


class Standins:
    def __init__(self, work, fixtures, here):
        self.work = work
        self.fixtures = fixtures
        self.dir = os.path.join(here, "standins")
        if not os.path.isdir(self.dir):
            self.dir = os.path.join(here, "..", "standins")
        self.procs = []
        self.graph_port = None
        self.seq = 0

    def start(self, name, script, args):
        return start(self.work, self.dir, name, script, args, self.procs)

    def graph(self):
        self.graph_port = self.start("graph", "graph_server.py",
                                     ["--token", GRAPH_TOKEN,
                                      "--phone-number-id", PHONE_ID])
        return self.graph_port

    def cianbox(self):
        """The fixture account plus the sample catalog of `make run`."""
        sys.path.insert(0, self.dir)
        import sample_data
        sample = os.path.join(self.work, "sample")
        sample_data.write_fixtures(sample)
        out = os.path.join(self.work, "cianbox-fixtures")
        os.makedirs(out, exist_ok=True)
        src = os.path.join(self.fixtures, "cianbox")
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
        return self.start("cianbox", "cianbox_server.py",
                          ["--fixtures", out, "--user", "ovidio",
                           "--password", "clave-it"])

    def base(self, graph, cianbox):
        pdf = os.path.join(self.work, "presupuestos")
        os.makedirs(pdf, exist_ok=True)
        return {
            "WHATSAPP_TOKEN": GRAPH_TOKEN,
            "PHONE_NUMBER_ID": PHONE_ID,
            "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % graph,
            "CIANBOX_URL": "http://127.0.0.1:%d" % cianbox,
            "CIANBOX_ACCOUNT": "micuenta",
            "CIANBOX_USER": "ovidio",
            "CIANBOX_PASS": "clave-it",
            "PRESUPUESTOS_DIR": pdf,
            "OUTBOX_RETRY_S": "0",
            "OVIDIO_NOW": "2026-11-24T10:00:00-03:00",
            "OVIDIO_LOG": "debug",
        }

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    # ---- WhatsApp ------------------------------------------------------
    def sent(self):
        c = http.client.HTTPConnection("127.0.0.1", self.graph_port, timeout=20)
        try:
            c.request("GET", "/__sent")
            return json.loads(c.getresponse().read() or b"null")
        finally:
            c.close()

    def message(self, sender, mtype="text", text=None, reply=None,
                name="Cliente"):
        self.seq += 1
        mid = "wamid.it-legacy-%05d" % self.seq
        m = {"from": sender, "id": mid,
             "timestamp": str(1764000000 + self.seq), "type": mtype}
        if mtype == "text":
            m["text"] = {"body": text}
        elif mtype == "interactive":
            kind, rid, title = reply
            m["interactive"] = {"type": kind, kind: {"id": rid, "title": title}}
        return {"object": "whatsapp_business_account", "entry": [{
            "id": "104857600000001", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "5493414000000",
                             "phone_number_id": PHONE_ID},
                "contacts": [{"profile": {"name": name}, "wa_id": sender}],
                "messages": [m]}}]}]}

    def say(self, ov, sender, text=None, **kw):
        """Send one message; what Ovidio sent to sender in answer."""
        before = len(self.sent())
        raw = json.dumps(self.message(sender, text=text, **kw),
                         ensure_ascii=False).encode()
        st, _, _ = ov.post_webhook(raw)
        if st != 200:
            raise AssertionError("webhook answered %d" % st)
        if not ov.wait_idle(30):
            raise AssertionError("worker did not finish")
        return [e for e in self.sent()[before:]
                if e.get("to") == sender and e["kind"] == "message"]

    @staticmethod
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
                    out += [b["reply"]["title"]
                            for b in it["action"]["buttons"]]
                else:
                    for s in it["action"]["sections"]:
                        for r in s["rows"]:
                            out.append(r["title"] + " " + r.get("description", ""))
            elif p["type"] == "document":
                out.append(p["document"].get("filename", ""))
        return "\n".join(out)
