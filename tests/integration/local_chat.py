#!/usr/bin/python3
"""local_chat.py - Ovidio running locally, and a WhatsApp chat in the terminal.

What `make run` ends in (through tests/run-local), and what
tests/integration/test_run_local.py drives in script mode:

    /usr/bin/python3 local_chat.py HOME WORK FIXTURES [--script FILE]
        [--as N] [--reply-timeout S] [--pdf-dir DIR]

HOME is an installed Ovidio (`make install` prefix: cgi-bin/, jobs/,
apache/), WORK an empty work directory. It starts, all on 127.0.0.1:
  - Apache 2.4 with apache/ovidio.conf (harness.Ovidio): the real webhook,
    which starts the real jobs/worker;
  - the Graph API stand-in, which records what Ovidio sends and posts signed
    delivery statuses back to the webhook;
  - the Cianbox stand-in serving the sample account (sample_data.py);
  - the SMTP stand-in, when there is one (e-mails to the salesperson);
  - jobs/catalog-sync once, when it is installed, so the store has the
    catalog; and jobs/worker every minute, as cron would.
OpenAI is used when OPENAI_API_KEY is in the environment (OPENAI_BASE_URL
and OPENAI_MODEL too); otherwise Ovidio answers by rules.

Then you write as a customer: each line is a signed WhatsApp webhook POST
for the chosen number; what Ovidio sends to that number is printed as it
reaches the Graph stand-in. Buttons and list rows are numbered: typing the
number answers with that button or row. Documents (quote PDFs) are saved
under --pdf-dir. Commands: /quien (switch customer), /ayuda, /salir;
end of input (Ctrl-D) also stops everything this started.

Script mode (--script FILE, "-" for stdin): one message per line, the same
commands, "/quien N" to pick customer N, "/esperar S" to pause, "#" for
comments; after each message it waits for Ovidio's replies (or
--reply-timeout seconds) before the next line.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

from harness import APP_SECRET, Ovidio

HERE = os.path.dirname(os.path.abspath(__file__))
GRAPH_TOKEN = "local-graph-token-0123456789"
PHONE_NUMBER_ID = "110000000000001"
DISPLAY_PHONE = "5493414000000"
WABA_ID = "104857600000001"
CIANBOX_ACCOUNT = "micuenta"
CIANBOX_USER = "ovidio"
CIANBOX_PASS = "clave-local-de-prueba"
VENDEDOR = "ventas@gruposer.local"
COMPRAS = "compras@gruposer.local"
UNKNOWN = ("Un número desconocido", "Jorge Romero", "5493417770001", None)
TEXT_MAX = 4096         # characters of one WhatsApp text message
QUIET_SECONDS = 1.5     # a reply burst is over after this much silence


def standins_dir():
    """tests/standins in the repository, standins/ in a sandbox copy."""
    for d in (os.path.join(HERE, "standins"),
              os.path.join(HERE, "..", "standins")):
        if os.path.isfile(os.path.join(d, "graph_server.py")):
            return os.path.abspath(d)
    raise RuntimeError("stand-ins not found beside " + HERE)


STANDINS = standins_dir()
sys.path.insert(0, STANDINS)
import sample_data  # noqa: E402  (found through STANDINS)


def say(text=""):
    print(text, flush=True)


# ---- processes ------------------------------------------------------------

class StandIn:
    """A stand-in server in its own session (Ctrl-C in the terminal must not
    reach it: the chat stops it), listening on 127.0.0.1."""

    def __init__(self, name, script, args, logdir):
        self.name = name
        self.portfile = os.path.join(logdir, name + ".port")
        self.logpath = os.path.join(logdir, name + ".log")
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(STANDINS, script), "--port", "0",
             "--port-file", self.portfile] + args,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True)
        self.port = None

    def wait_port(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with open(self.portfile) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return self.port
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError("%s stand-in did not start; see %s"
                           % (self.name, self.logpath))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def http_json(port, method, path, body=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Local:
    """Everything `make run` starts, and stops again."""

    def __init__(self, home, work, pdf_dir):
        self.home = os.path.abspath(home)
        self.work = os.path.abspath(work)
        self.pdf_dir = os.path.abspath(pdf_dir)
        self.logs = os.path.join(self.work, "logs")
        self.sample = os.path.join(self.work, "cianbox-sample")
        self.quotes = os.path.join(self.work, "presupuestos")
        self.mail_dir = os.path.join(self.work, "mail")
        self.ov = None
        self.standins = {}
        self.notes = []
        self.model = None
        self.cron_stop = threading.Event()
        self.cron = None
        self.counts = (0, 0)

    # -- start ------------------------------------------------------------
    def start(self):
        for d in (self.logs, self.quotes, self.pdf_dir):
            os.makedirs(d, exist_ok=True)
        self.counts = sample_data.write_fixtures(self.sample)
        self.ov = Ovidio(self.home, self.work, self.settings(None))
        self.ov.start()
        hook = "http://127.0.0.1:%d/cgi-bin/webhook" % self.ov.port
        self.standins["graph"] = StandIn("graph", "graph_server.py", [
            "--token", GRAPH_TOKEN, "--phone-number-id", PHONE_NUMBER_ID,
            "--display-phone", DISPLAY_PHONE, "--waba-id", WABA_ID,
            "--webhook", hook, "--app-secret", APP_SECRET], self.logs)
        self.standins["cianbox"] = StandIn("cianbox", "cianbox_server.py", [
            "--fixtures", self.sample, "--account", CIANBOX_ACCOUNT,
            "--user", CIANBOX_USER, "--password", CIANBOX_PASS], self.logs)
        if os.path.isfile(os.path.join(STANDINS, "smtp_server.py")):
            os.makedirs(self.mail_dir, exist_ok=True)
            self.standins["smtp"] = StandIn("smtp", "smtp_server.py", [
                "--dir", self.mail_dir], self.logs)
        for s in self.standins.values():
            s.wait_port()
        self.write_config(self.settings(self.ov.port))
        self.cianbox_jobs()
        self.cron = threading.Thread(target=self.cron_worker, daemon=True)
        self.cron.start()

    def settings(self, apache_port):
        s = {
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": "local-verify-token",
            "OVIDIO_WORKERS": "4",
            "OVIDIO_LOG": "info",
            "PRESUPUESTOS_DIR": self.quotes,
        }
        # The sample business facts (hours, address, payments...).
        info = os.path.join(self.home, "apache", "business_info.example")
        if os.path.isfile(info):
            s["BUSINESS_INFO"] = info
        if apache_port is None:
            return s
        g = self.standins["graph"].port
        c = self.standins["cianbox"].port
        s.update({
            "WHATSAPP_TOKEN": GRAPH_TOKEN,
            "PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % g,
            "CIANBOX_URL": "http://127.0.0.1:%d" % c,
            "CIANBOX_ACCOUNT": CIANBOX_ACCOUNT,
            "CIANBOX_USER": CIANBOX_USER,
            "CIANBOX_PASS": CIANBOX_PASS,
            "PUBLIC_BASE_URL": "http://127.0.0.1:%d" % apache_port,
        })
        if "smtp" in self.standins:
            s.update({
                "SMTP_URL": "smtp://127.0.0.1:%d" % self.standins["smtp"].port,
                "VENDEDOR_EMAIL": VENDEDOR,
                "EMAIL_TO_COMPRAS": COMPRAS,
            })
        key = os.environ.get("OPENAI_API_KEY", "").strip()
        if key:
            s["OPENAI_API_KEY"] = key
            for k in ("OPENAI_BASE_URL", "OPENAI_MODEL"):
                v = os.environ.get(k, "").strip()
                if v:
                    s[k] = v
            self.model = (s.get("OPENAI_MODEL", "gpt-4o-mini"),
                          s.get("OPENAI_BASE_URL", "https://api.openai.com/v1"))
        return s

    def write_config(self, settings):
        """Rewrite the configuration file in place (atomic rename): every CGI
        and worker reads it when it starts."""
        tmp = self.ov.config + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("# written by tests/integration/local_chat.py\n")
            for k, v in settings.items():
                f.write("%s=%s\n" % (k, v))
        os.rename(tmp, self.ov.config)

    def job(self, name):
        path = os.path.join(self.home, "jobs", name)
        return path if os.access(path, os.X_OK) else None

    def cianbox_jobs(self):
        """Token and catalog from the Cianbox stand-in, when those jobs exist."""
        for name in ("cianbox-token", "catalog-sync"):
            path = self.job(name)
            if path is None:
                self.notes.append("jobs/%s no está instalado todavía: se "
                                  "salteó" % name)
                continue
            with open(os.path.join(self.logs, name + ".log"), "ab") as log:
                try:
                    r = subprocess.run([path], env=self.ov.worker_env(),
                                       stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=log, timeout=120)
                    rc = r.returncode
                except subprocess.TimeoutExpired:
                    rc = "timeout"
            if rc != 0:
                self.notes.append("jobs/%s terminó con %s; ver %s" % (
                    name, rc, os.path.join(self.logs, name + ".log")))

    def cron_worker(self):
        """jobs/worker every minute, as cron runs it (drains the outbox)."""
        while not self.cron_stop.wait(60):
            with open(os.path.join(self.logs, "cron-worker.log"), "ab") as log:
                try:
                    subprocess.run([os.path.join(self.home, "jobs", "worker")],
                                   env=self.ov.worker_env(), stdout=log,
                                   stderr=log, stdin=subprocess.DEVNULL,
                                   timeout=120)
                except (OSError, subprocess.TimeoutExpired):
                    pass

    def model_reachable(self):
        """A quick TCP check of the model's host (this machine may have no
        network): (ok, host)."""
        u = urllib.parse.urlsplit(self.model[1])
        port = u.port or (443 if u.scheme == "https" else 80)
        try:
            socket.create_connection((u.hostname, port), 3).close()
            return True, u.hostname
        except OSError:
            return False, u.hostname

    # -- stop -------------------------------------------------------------
    def our_workers(self):
        """Worker processes started from this installation (by the webhook
        or the cron thread), by pid."""
        exe = os.path.realpath(os.path.join(self.home, "jobs", "worker"))
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                if os.path.realpath("/proc/%s/exe" % p) == exe:
                    pids.append(int(p))
            except OSError:
                pass
        return pids

    def stop(self):
        self.cron_stop.set()
        if self.cron is not None:
            self.cron.join(130)
        if self.ov is not None and self.ov.proc is not None:
            self.ov.wait_idle(10)
            self.ov.stop()
        deadline = time.time() + 5
        while self.ov is not None and time.time() < deadline:
            pids = self.our_workers()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
            time.sleep(0.2)
        for s in self.standins.values():
            s.stop()
        self.standins = {}

    # -- what was started, for the banner -----------------------------------
    def banner(self):
        a = self.ov.port
        lines = [
            "Ovidio corriendo en esta máquina (todo en 127.0.0.1):",
            "  Apache 2.4 + webhook   http://127.0.0.1:%d/cgi-bin/webhook" % a,
            "  worker                 lo arranca el webhook; y cada minuto, como cron",
            "  WhatsApp (stand-in)    http://127.0.0.1:%d   (lo enviado: /__sent)"
            % self.standins["graph"].port,
            "  Cianbox (stand-in)     http://127.0.0.1:%d   %d productos, %d clientes"
            % ((self.standins["cianbox"].port,) + tuple(self.counts)),
        ]
        if "smtp" in self.standins:
            lines.append("  e-mail (stand-in)      smtp://127.0.0.1:%d   vendedor: %s"
                         % (self.standins["smtp"].port, VENDEDOR))
        if self.model:
            lines.append("  modelo                 %s en %s" % self.model)
        else:
            lines.append("  modelo                 ninguno: responde por reglas "
                         "(exportá OPENAI_API_KEY para usar uno)")
        lines += [
            "Logs: %s (Apache: %s, worker: %s)" % (
                self.logs, os.path.join(self.ov.apache_dir, "error.log"),
                os.path.join(self.ov.data, "log", "worker.log")),
            "PDF de presupuestos: %s" % self.pdf_dir,
        ]
        lines += ["Nota: " + n for n in self.notes]
        return "\n".join(lines)


# ---- the chat -----------------------------------------------------------

class Chat:
    def __init__(self, local, reply_timeout, interactive):
        self.local = local
        self.reply_timeout = reply_timeout
        self.interactive = interactive
        self.customers = [c for c in sample_data.chat_customers()] + [UNKNOWN]
        self.who = None
        self.options = []          # [(kind, id, title, description, wamid)]
        self.seen = 0              # entries of /__sent already looked at
        self.mails_seen = set()    # e-mail files already shown
        self.lock = threading.Lock()
        self.last_reply = 0.0      # when the last message for `who` arrived
        self.replies = 0           # messages for `who` since start
        self.stop = threading.Event()
        self.counter = itertools.count(1)
        self.poller = threading.Thread(target=self.poll_loop, daemon=True)
        self.print_lock = threading.Lock()
        self.at_prompt = None      # the prompt shown while input() waits

    # -- choosing who you are -----------------------------------------------
    def customer_menu(self):
        say("¿Quién sos? Elegí un cliente (por el número de WhatsApp te "
            "reconoce Ovidio):")
        for i, (razon, name, wa_id, phone) in enumerate(self.customers, 1):
            where = ("en Cianbox: %s" % phone) if phone else "no está en Cianbox"
            say("  %2d. %-36s %s  (+%s; %s)" % (i, razon, name, wa_id, where))

    def pick(self, text):
        try:
            n = int(text.strip())
        except ValueError:
            return False
        if not 1 <= n <= len(self.customers):
            return False
        with self.lock:
            self.who = self.customers[n - 1]
            self.options = []
        say("Ahora sos %s (%s, +%s). Escribí tu mensaje; /quien cambia de "
            "cliente, /salir termina." % (self.who[1], self.who[0], self.who[2]))
        return True

    # -- sending --------------------------------------------------------------
    def wamid(self):
        raw = ("%s-%d-%d-" % (self.who[2], time.time_ns(),
                              next(self.counter))).encode() + os.urandom(6)
        return "wamid.HBgN" + base64.b64encode(raw).decode()

    def post(self, message):
        _, name, wa_id, _ = self.who
        message.update({"from": wa_id, "id": self.wamid(),
                        "timestamp": str(int(time.time()))})
        body = json.dumps({
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": DISPLAY_PHONE,
                             "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                "messages": [message]}, "field": "messages"}]}]},
            ensure_ascii=False, separators=(",", ":")).encode()
        sig = "sha256=" + hmac.new(APP_SECRET.encode(), body,
                                   hashlib.sha256).hexdigest()
        try:
            st, _, _ = self.local.ov.request(
                "POST", "/cgi-bin/webhook", body,
                {"Content-Type": "application/json", "X-Hub-Signature-256": sig})
        except (OSError, http.client.HTTPException) as e:
            say("(no se pudo mandar al webhook: %s; ver %s)" % (
                e, os.path.join(self.local.ov.apache_dir, "error.log")))
            return False
        if st != 200:
            say("(el webhook respondió %d; ver %s)" % (
                st, os.path.join(self.local.ov.apache_dir, "error.log")))
        return st == 200

    def send_text(self, text):
        return self.post({"type": "text", "text": {"body": text}})

    def send_choice(self, opt):
        kind, oid, title, desc, ctx = opt
        say("(elegiste: %s)" % title)
        if kind == "button":
            inter = {"type": "button_reply",
                     "button_reply": {"id": oid, "title": title}}
        else:
            inter = {"type": "list_reply",
                     "list_reply": {"id": oid, "title": title}}
            if desc:
                inter["list_reply"]["description"] = desc
        msg = {"type": "interactive", "interactive": inter}
        if ctx:
            msg["context"] = {"from": DISPLAY_PHONE, "id": ctx}
        return self.post(msg)

    # -- receiving ------------------------------------------------------------
    def poll_loop(self):
        while not self.stop.wait(0.25):
            try:
                self.poll_once()
            except (OSError, ValueError, http.client.HTTPException):
                pass

    def poll_once(self):
        st, data = http_json(self.local.standins["graph"].port, "GET", "/__sent")
        if st != 200:
            return
        sent = json.loads(data)
        with self.lock:
            new = sent[self.seen:]
            self.seen = len(sent)
            who = self.who
        for e in new:
            if e.get("kind") != "message":
                continue
            mine = who is not None and e.get("to") == who[2]
            if mine:
                # Numbers pick from the latest message only: a newer one
                # without buttons or rows ends the earlier choice.
                with self.lock:
                    self.options = []
            self.show(e, mine)
            if mine:
                with self.lock:
                    self.replies += 1
                    self.last_reply = time.time()
        self.poll_mail()

    def poll_mail(self):
        """E-mails the SMTP stand-in accepted (one NNNN.json each)."""
        if "smtp" not in self.local.standins:
            return
        try:
            names = sorted(n for n in os.listdir(self.local.mail_dir)
                           if n.endswith(".json"))
        except OSError:
            return
        for n in names:
            if n in self.mails_seen:
                continue
            self.mails_seen.add(n)
            try:
                with open(os.path.join(self.local.mail_dir, n),
                          encoding="utf-8") as f:
                    m = json.load(f)
                to = ", ".join(str(x) for x in m.get("to") or [])
                subject = m.get("subject") or "(sin asunto)"
            except (OSError, ValueError, AttributeError):
                continue
            self.out(["  ✉ e-mail a %s: %s  (%s)" % (
                to, subject, os.path.join(self.local.mail_dir, n))])

    def show(self, e, mine):
        p = e.get("payload") or {}
        t = p.get("type", e.get("type"))
        prefix = "Ovidio › " if mine else "Ovidio (a +%s) › " % e.get("to")
        if t == "text":
            self.say_block(prefix, (p.get("text") or {}).get("body", ""))
        elif t == "interactive":
            self.show_interactive(prefix, p.get("interactive") or {},
                                  e.get("wamid"), mine)
        elif t == "document":
            self.show_document(prefix, p.get("document") or {})
        elif t == "template":
            tpl = p.get("template") or {}
            params = []
            for comp in tpl.get("components") or []:
                for prm in comp.get("parameters") or []:
                    params.append(str(prm.get("text", "")))
            self.say_block(prefix, "[plantilla %s] %s" % (
                tpl.get("name"), " | ".join(params)))
        else:
            self.say_block(prefix, "[mensaje de tipo %s]" % t)

    def say_block(self, prefix, text):
        pad = " " * len(prefix)
        lines = text.split("\n") or [""]
        self.out([prefix + lines[0]] + [pad + line for line in lines[1:]])

    def out(self, lines):
        """Print lines; a reply that arrives while you are at the prompt
        goes above it, and the prompt is shown again."""
        with self.print_lock:
            if self.at_prompt:
                sys.stdout.write("\r\033[K")
            sys.stdout.write("\n".join(lines) + "\n")
            if self.at_prompt:
                sys.stdout.write(self.at_prompt)
            sys.stdout.flush()

    def show_interactive(self, prefix, it, wamid, mine):
        parts = []
        head = it.get("header") or {}
        if head.get("text"):
            parts.append(head["text"])
        parts.append((it.get("body") or {}).get("text", ""))
        if (it.get("footer") or {}).get("text"):
            parts.append(it["footer"]["text"])
        self.say_block(prefix, "\n".join(parts))
        action = it.get("action") or {}
        opts = []
        if it.get("type") == "button":
            for b in action.get("buttons") or []:
                r = b.get("reply") or {}
                opts.append(("button", r.get("id", ""), r.get("title", ""),
                             "", wamid))
        elif it.get("type") == "list":
            for sec in action.get("sections") or []:
                if sec.get("title"):
                    opts.append(("section", None, sec["title"], "", None))
                for row in sec.get("rows") or []:
                    opts.append(("list", row.get("id", ""), row.get("title", ""),
                                 row.get("description", ""), wamid))
        pad = " " * len(prefix)
        lines = []
        if it.get("type") == "list" and action.get("button"):
            lines.append(pad + "[%s]" % action["button"])
        choices = []
        for o in opts:
            if o[0] == "section":
                lines.append(pad + "— %s" % o[2])
                continue
            choices.append(o)
            desc = (" · " + o[3]) if o[3] else ""
            lines.append(pad + "%2d) %s%s" % (len(choices), o[2], desc))
        if choices and mine:
            lines.append(pad + "(escribí el número para elegir)")
        if lines:
            self.out(lines)
        if choices and mine:
            with self.lock:
                self.options = choices

    def show_document(self, prefix, doc):
        name = os.path.basename(doc.get("filename") or "documento.pdf")
        name = "".join(ch for ch in name if ch.isalnum() or ch in "._-") or "documento.pdf"
        try:
            data = self.fetch_document(doc)
        except (OSError, ValueError, http.client.HTTPException) as e:
            self.say_block(prefix, "[documento %s: no se pudo bajar: %s]" % (name, e))
            return
        path = os.path.join(self.local.pdf_dir, name)
        stem, ext = os.path.splitext(path)
        n = 1
        while os.path.exists(path):
            n += 1
            path = "%s-%d%s" % (stem, n, ext)
        with open(path, "wb") as f:
            f.write(data)
        caption = doc.get("caption")
        via = ("\n(enviado como enlace: %s)" % doc["link"]) if doc.get("link") else ""
        self.say_block(prefix, "%s[documento] %s (%d KB) guardado en:\n%s%s" % (
            caption + "\n" if caption else "", name, (len(data) + 1023) // 1024,
            path, via))

    def fetch_document(self, doc):
        if doc.get("id"):
            port = self.local.standins["graph"].port
            path = "/__media/%s" % urllib.parse.quote(str(doc["id"]), safe="")
            st, data = http_json(port, "GET", path, timeout=30)
            if st != 200:
                raise ValueError("HTTP %d" % st)
            return data
        link = doc.get("link") or ""
        u = urllib.parse.urlsplit(link)
        if u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("enlace fuera de esta máquina: %s" % link)
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
        try:
            c.request("GET", u.path + ("?" + u.query if u.query else ""))
            r = c.getresponse()
            data = r.read(50 * 1024 * 1024)
            if r.status != 200:
                raise ValueError("HTTP %d" % r.status)
            return data
        finally:
            c.close()

    def wait_replies(self, before):
        """Until replies for the current customer arrived and then went
        quiet, or the reply timeout passed."""
        start = time.time()
        while time.time() - start < self.reply_timeout:
            with self.lock:
                got = self.replies > before
                last = self.last_reply
            if got and time.time() - last >= QUIET_SECONDS:
                return True
            time.sleep(0.1)
        with self.lock:
            got = self.replies > before
        if not got:
            say("(sin respuesta todavía)")
        return got

    # -- the loop -------------------------------------------------------------
    def handle(self, line):
        """One input line; False to stop."""
        text = line.strip()
        if not text or (not self.interactive and text.startswith("#")):
            return True
        if text in ("/salir", "/exit", "/quit"):
            return False
        if text == "/ayuda":
            say("Escribí como cliente. Números: elegir una opción de la última "
                "lista o botones. /quien: cambiar de cliente. /salir: terminar.")
            return True
        if text.startswith("/quien"):
            arg = text[len("/quien"):].strip()
            if arg and self.pick(arg):
                return True
            self.customer_menu()
            return self.ask_customer()
        if text.startswith("/esperar"):
            try:
                time.sleep(min(120.0, float(text[len("/esperar"):].strip() or 1)))
            except ValueError:
                pass
            return True
        if self.who is None:
            say("Primero elegí un cliente (/quien).")
            return True
        with self.lock:
            before = self.replies
            opts = list(self.options)
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(opts):
            ok = self.send_choice(opts[int(text) - 1])
        else:
            if len(text) > TEXT_MAX:
                say("(WhatsApp corta los mensajes en %d caracteres: se manda "
                    "recortado)" % TEXT_MAX)
                text = text[:TEXT_MAX]
            ok = self.send_text(text)
        if ok:
            self.wait_replies(before)
        return True

    def ask_customer(self):
        while True:
            line = self.read("número de cliente> ")
            if line is None:
                return False
            if self.pick(line):
                return True
            say("Elegí un número de 1 a %d." % len(self.customers))

    def read(self, prompt):
        try:
            if self.interactive:
                with self.print_lock:
                    self.at_prompt = prompt
                try:
                    return input(prompt)
                finally:
                    with self.print_lock:
                        self.at_prompt = None
            line = self.source.readline()
            if not line:
                return None
            line = line.rstrip("\n")
            say(prompt + line)
            return line
        except EOFError:
            say("")
            return None

    def run(self, source, first):
        self.source = source
        with self.lock:
            self.seen = self.sent_count()
        self.poller.start()
        try:
            if first is not None:
                if not self.pick(str(first)):
                    say("No hay cliente %s." % first)
                    return 1
            else:
                self.customer_menu()
                if not self.ask_customer():
                    return 0
            while True:
                line = self.read("vos> ")
                if line is None or not self.handle(line):
                    break
        except KeyboardInterrupt:
            say("")
        finally:
            # Replies already on their way are still shown.
            time.sleep(0.3)
            self.stop.set()
            self.poller.join(5)
        return 0

    def sent_count(self):
        try:
            st, data = http_json(self.local.standins["graph"].port, "GET",
                                 "/__sent")
            return len(json.loads(data)) if st == 200 else 0
        except (OSError, ValueError):
            return 0


def main():
    ap = argparse.ArgumentParser(description="Ovidio local chat")
    ap.add_argument("home")
    ap.add_argument("work")
    ap.add_argument("fixtures", nargs="?")
    ap.add_argument("--script", help="messages to send, one a line ('-': stdin)")
    ap.add_argument("--as", dest="who", type=int,
                    help="customer number (see the menu)")
    ap.add_argument("--reply-timeout", type=float, default=None)
    ap.add_argument("--pdf-dir")
    args = ap.parse_args()
    local = Local(args.home, args.work,
                  args.pdf_dir or os.path.join(args.work, "pdf"))
    interactive = args.script is None and sys.stdin.isatty()
    rc = 1

    def on_term(*_):
        raise KeyboardInterrupt
    # A closed terminal or a kill stops everything too: Apache and the
    # stand-ins run in their own sessions and would otherwise stay.
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        say("Arrancando Ovidio local…")
        local.start()
        say(local.banner())
        if local.model:
            ok, host = local.model_reachable()
            if not ok:
                say("Ojo: no se pudo conectar con %s (¿sin red?). Ovidio va a "
                    "contestar por reglas cuando el modelo no responda." % host)
        timeout = args.reply_timeout or (60.0 if local.model else 20.0)
        chat = Chat(local, timeout, interactive)
        if args.script and args.script != "-":
            with open(args.script, encoding="utf-8") as src:
                rc = chat.run(src, args.who)
        else:
            rc = chat.run(sys.stdin, args.who)
    except KeyboardInterrupt:
        rc = 130
    except RuntimeError as e:
        say("No se pudo arrancar: %s" % e)
        rc = 1
    finally:
        say("Parando Apache, worker y stand-ins…")
        local.stop()
        say("Listo.")
    return rc


if __name__ == "__main__":
    sys.exit(main())
