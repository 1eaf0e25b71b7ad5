"""The bundle (make bundle) on a host that is not the build machine.

Run by tests/bundle/run, as root, in a private mount namespace, with a
fresh copy of a Debian 11 root (older glibc, none of our libraries) and
the tarball. Usage: test_bundle.py ROOT TARBALL WORK FIXTURES

Inside the root, as a shared-host customer would: the tarball is unpacked
into ~/public_html/ovidio, cgi-bin/.htaccess and crontab get the home
directory, keys go to ~/ovidio.env. The root's own Apache 2.4 serves
~/public_html with AllowOverride All (the bundle's .htaccess files do the
rest) and runs the CGIs as www-data. The stand-ins for Meta's Graph API and
Cianbox run outside the root on loopback (the root shares this machine's
network). Graph is reached over HTTPS, through a TLS front whose
authority sits only where RHEL-like hosts keep theirs
(/etc/pki/tls/certs/ca-bundle.crt), so a reply arrives only when the
programs find the host's CA file; Cianbox is reached as "localhost"
(the host's /etc/hosts, through the bundled glibc's NSS).
"""
import base64
import fcntl
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Ovidio, Runner, expect, expect_eq, free_port  # noqa: E402
from standin_support import GRAPH_TOKEN, PHONE_ID, Standins  # noqa: E402

ROOT, TARBALL, WORK, FIXTURES = sys.argv[1:5]
HOME_IN = "/home/tienda"                       # the account, inside ROOT
SITE_IN = HOME_IN + "/public_html/ovidio"      # the unpacked bundle
DATA_IN = HOME_IN + "/ovidio-data"
CONFIG_IN = HOME_IN + "/ovidio.env"
SECRET = "bundle-app-secret-0123456789abcdef"
VERIFY = "bundle-verify-token"
INBOX_USER, INBOX_PASS = "laura", "clave-de-laura"
RHEL_CA = "/etc/pki/tls/certs/ca-bundle.crt"


def host(path_in):
    """The path, inside the root, as seen from outside."""
    return os.path.join(ROOT, path_in.lstrip("/"))


def passwd_ids(name):
    with open(host("/etc/passwd")) as f:
        for line in f:
            p = line.split(":")
            if p[0] == name:
                return int(p[2]), int(p[3])
    raise RuntimeError(name + " not in the root's /etc/passwd")


UID, GID = passwd_ids("www-data")


def in_root(args, env=None, user=True, timeout=120, check=False):
    """Run args inside the root (as www-data unless user=False)."""
    cmd = ["chroot"]
    if user:
        cmd.append("--userspec=%d:%d" % (UID, GID))
    cmd += [ROOT, "/usr/bin/env", "-i"]
    for k, v in (env or {"PATH": "/usr/bin:/bin"}).items():
        cmd.append("%s=%s" % (k, v))
    cmd += args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d: %s %s" % (" ".join(args),
                             r.returncode, r.stdout, r.stderr))
    return r


def write_as_user(path_in, text, mode):
    p = host(path_in)
    with open(p, "w") as f:
        f.write(text)
    os.chown(p, UID, GID)
    os.chmod(p, mode)


class TLSFront:
    """HTTPS on loopback in front of a plain HTTP stand-in."""

    def __init__(self, cert, key, backend_port):
        self.backend = backend_port
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, raw):
        try:
            c = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()             # the client refused our certificate
            return
        self.handshakes += 1
        b = socket.create_connection(("127.0.0.1", self.backend))

        def pump(src, dst):
            try:
                while True:
                    d = src.recv(65536)
                    if not d:
                        break
                    dst.sendall(d)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        t = threading.Thread(target=pump, args=(b, c), daemon=True)
        t.start()
        pump(c, b)
        t.join(30)
        c.close()
        b.close()


class BundleSite(Ovidio):
    """The unpacked bundle under the root's Apache (harness.Ovidio's HTTP,
    spool and store helpers, with this layout)."""

    def __init__(self):  # noqa: D107 - no Ovidio.__init__: its own layout
        self.data = host(DATA_IN)
        self.config = host(CONFIG_IN)
        self.apache_dir = host("/srv/apache")
        self.port = free_port()
        self.proc = None

    def start(self):
        os.makedirs(os.path.join(self.apache_dir, "run"), exist_ok=True)
        os.chown(os.path.join(self.apache_dir, "run"), UID, GID)
        mods = "/usr/lib/apache2/modules"
        load = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, mods, m)
                       for m in ("mpm_event", "authz_core", "authz_user",
                                 "authn_core", "authn_file", "auth_basic",
                                 "alias", "env", "mime", "cgid"))
        with open(os.path.join(self.apache_dir, "httpd.conf"), "w") as f:
            f.write(f"""# written by tests/bundle/test_bundle.py: a shared host's
# Apache, much reduced: the customer's web root with .htaccess allowed.
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
User www-data
Group www-data
PidFile /srv/apache/run/httpd.pid
DefaultRuntimeDir /srv/apache/run
ScriptSock /srv/apache/run/cgid.sock
ErrorLog /srv/apache/error.log
LogLevel warn
{load}TypesConfig /etc/mime.types
Timeout 30
DocumentRoot {HOME_IN}/public_html
AccessFileName .htaccess
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory {HOME_IN}/public_html>
    AllowOverride All
    Options SymLinksIfOwnerMatch
    Require all granted
</Directory>
""")
        self.proc = subprocess.Popen(
            ["chroot", ROOT, "/usr/bin/env", "-i", "PATH=/usr/bin:/bin",
             "LANG=C", "/usr/sbin/apache2", "-f", "/srv/apache/httpd.conf",
             "-DFOREGROUND"], stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("apache2 exited: " + self.error_log())
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("apache2 did not start listening")

    def post_webhook(self, body, signature=None, headers=None):
        if isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": "application/json",
             "X-Hub-Signature-256": signature or self.sign(body, SECRET)}
        return self.request("POST", "/ovidio/cgi-bin/webhook", body, h)


def crontab():
    """(environment, {command: line}) of the bundle's crontab as installed."""
    env, cmds = {}, {}
    with open(host(SITE_IN + "/crontab")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([A-Z_]+)=(.*)$", line)
            if m:
                env[m.group(1)] = m.group(2)
                continue
            cmd = line.split(None, 5)[5]
            cmds[cmd] = line
    return env, cmds


def run_cron(command, **extra):
    """One command of the crontab, with the environment cron gives it."""
    env, cmds = crontab()
    expect(command in cmds, "crontab has " + command + ": " + str(list(cmds)))
    e = {"HOME": HOME_IN, "LOGNAME": "www-data", "PATH": "/usr/bin:/bin"}
    e.update(env)
    e.update(extra)
    return in_root([env.get("SHELL", "/bin/sh"), "-c", command], env=e)


# ---- set-up: what INSTALL tells the customer to do -------------------------

def set_up(st, tls):
    os.chmod(host("/dev/shm"), 0o1777)   # as on any host (a tmpfs there)
    os.makedirs(host(HOME_IN + "/public_html"), exist_ok=True)
    for d in (HOME_IN, HOME_IN + "/public_html"):
        os.chown(host(d), UID, GID)
        os.chmod(host(d), 0o755)
    shutil.copy(TARBALL, host(HOME_IN + "/bundle.tar.gz"))
    os.chown(host(HOME_IN + "/bundle.tar.gz"), UID, GID)
    with tarfile.open(TARBALL) as t:
        top = t.getnames()[0].split("/")[0]
    in_root(["tar", "xzf", HOME_IN + "/bundle.tar.gz", "-C",
             HOME_IN + "/public_html"], check=True)
    in_root(["mv", HOME_IN + "/public_html/" + top, SITE_IN], check=True)
    in_root(["mkdir", "-m", "700", DATA_IN], check=True)
    for name in ("cgi-bin/.htaccess", "crontab"):
        p = host(SITE_IN + "/" + name)
        with open(p) as f:
            text = f.read().replace("/home/USER", HOME_IN)
        write_as_user(SITE_IN + "/" + name, text, 0o644)
    # INSTALL's step for suEXEC hosts, which pass CGIs no SetEnv line.
    in_root(["ln", "-s", CONFIG_IN, SITE_IN + "/ovidio.env"], check=True)
    in_root(["htpasswd", "-cbB", HOME_IN + "/ovidio-htpasswd", INBOX_USER,
             INBOX_PASS], check=True)
    write_as_user(CONFIG_IN, "".join("%s=%s\n" % kv for kv in {
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY,
        "WHATSAPP_TOKEN": GRAPH_TOKEN,
        "PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_API_URL": "https://127.0.0.1:%d/v21.0" % tls.port,
        "CIANBOX_URL": "http://localhost:%d" % st.cianbox_port,
        "CIANBOX_ACCOUNT": "micuenta",
        "CIANBOX_USER": "ovidio",
        "CIANBOX_PASS": "clave-it",
        "OVIDIO_DATA_DIR": DATA_IN,
        "PUBLIC_BASE_URL": "http://127.0.0.1:%d/ovidio" % SITE.port,
        "OUTBOX_RETRY_S": "0",
        "OVIDIO_NOW": "2026-11-24T10:00:00-03:00",
        "OVIDIO_LOG": "debug",
    }.items()), 0o600)


# ---- tests -------------------------------------------------------------------

def test_root_is_an_older_system_without_our_libraries():
    r = in_root(["ldd", "--version"], user=False, check=True)
    expect("2.31" in r.stdout.splitlines()[0], "glibc 2.31: " + r.stdout)
    found = []
    for d in ("lib", "usr/lib", "usr/local/lib"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            found += [os.path.join(dirpath, n) for n in files
                      if re.match(r"lib(cjson|mongoc|bson|hpdf|sqlite3)", n)]
    expect_eq(found, [], "our libraries in the root")
    expect(not os.path.exists(host("/etc/ssl/certs/ca-certificates.crt")),
           "no CA file where the bundled libcurl looks by default")


def test_handshake_answers_the_challenge():
    st, _, body = SITE.request(
        "GET", "/ovidio/cgi-bin/webhook?hub.mode=subscribe&hub.verify_token="
        + VERIFY + "&hub.challenge=1158201444")
    expect_eq(st, 200, "status")
    expect_eq(body, b"1158201444", "challenge echoed")


def test_only_the_cgis_are_served():
    for path in ("/ovidio/INSTALL", "/ovidio/crontab", "/ovidio/lib/libc.so.6",
                 "/ovidio/libexec/worker", "/ovidio/jobs/worker",
                 "/ovidio/cgi-bin/.htaccess", "/ovidio/ovidio.env"):
        st, _, _ = SITE.request("GET", path)
        expect_eq(st, 403, path)


def test_cgis_find_their_keys_without_setenv():
    """Under suEXEC a CGI gets a clean environment, no OVIDIO_CONFIG: the
    static webhook and a launched CGI read the bundle's ovidio.env."""
    base = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1"}
    env = dict(base, QUERY_STRING="hub.mode=subscribe&hub.verify_token="
               + VERIFY + "&hub.challenge=2718281828")
    r = in_root([SITE_IN + "/cgi-bin/webhook"], env=env)
    expect("2718281828" in r.stdout, "webhook without SetEnv: " +
           r.stdout[-500:] + r.stderr[-500:])
    # The inbox (a launched program) opens the data folder the file names.
    r = in_root([SITE_IN + "/cgi-bin/inbox"], env=dict(
        base, QUERY_STRING="", REMOTE_USER=INBOX_USER, SCRIPT_NAME=
        "/ovidio/cgi-bin/inbox", HTTP_HOST="127.0.0.1:%d" % SITE.port))
    head = r.stdout.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    expect(head.startswith("Status: 200") and "text/html" in head,
           "inbox without SetEnv: " + r.stdout[:500] + r.stderr[-500:])


def test_catalog_sync_from_the_crontab_loads_only_bundled_libraries():
    r = run_cron(SITE_IN + "/jobs/catalog-sync --products", LD_DEBUG="libs")
    expect_eq(r.returncode, 0, "catalog-sync --products: " + r.stderr[-2000:])
    # The shell cron starts is the root's own; the job's process is ours.
    pids = set(re.findall(r"^ *(\d+):\s+initialize program: \S+/catalog-sync$",
                          r.stderr, re.M))
    expect_eq(len(pids), 1, "one catalog-sync process in LD_DEBUG's output")
    loaded = [p for pid, p in re.findall(
        r"^ *(\d+):\s+calling init: (\S+)$", r.stderr, re.M) if pid in pids]
    expect(any(p.endswith("/libcurl.so.4") for p in loaded), str(loaded))
    outside = [p for p in loaded if not p.startswith(SITE_IN + "/lib/")]
    expect_eq(outside, [], "libraries from outside the bundle")
    m = re.search(r"products: (\d+) items", r.stdout)
    expect(m is not None and int(m.group(1)) > 100, "synced: " + r.stdout)
    r = run_cron(SITE_IN + "/jobs/catalog-sync --clients")
    expect_eq(r.returncode, 0, "catalog-sync --clients: " + r.stderr[-2000:])


def test_signed_message_answered_through_https():
    who = "5493415550110"
    before = TLS.handshakes
    r = ST.say(SITE, who, "hola", name="Fede")
    expect(len(r) >= 1, "a reply reached the Graph stand-in")
    expect(TLS.handshakes > before, "over HTTPS, with the host's CA file")


def test_cron_worker_drains_what_the_webhook_left():
    who = "5493415550111"
    lock = os.path.join(SITE.data, "locks", "worker.lock")
    before = len(ST.sent())
    with open(lock, "a") as f:
        # A worker holding the lock: the webhook leaves the file to it.
        fcntl.flock(f, fcntl.LOCK_EX)
        raw = json.dumps(ST.message(who, text="hola, buen día",
                                    name="Kiko")).encode()
        st, _, _ = SITE.post_webhook(raw)
        expect_eq(st, 200, "webhook")
        time.sleep(1)
        expect_eq(len(SITE.spool("new")), 1, "waiting in the spool")
    r = run_cron(SITE_IN + "/jobs/worker")
    expect_eq(r.returncode, 0, "worker: " + r.stderr[-2000:])
    expect_eq(SITE.spool("new"), [], "spool drained")
    sent = [e for e in ST.sent()[before:] if e.get("to") == who]
    expect(len(sent) >= 1, "answered by the cron run")


def test_quote_pdf_served_by_presupuesto():
    who = "5493415550112"
    ST.say(SITE, who, mtype="interactive",
           reply=("list_reply", "prod:10452", "Domo"), name="Fede")
    ST.say(SITE, who, mtype="interactive",
           reply=("button_reply", "quote:new:10452", "Presupuesto"),
           name="Fede")
    t = ST.words(ST.say(SITE, who, "4", name="Fede"))
    expect("presupuesto N°" in t, "quote made: " + t)
    r = ST.say(SITE, who, mtype="interactive",
               reply=("button_reply", "quote:confirm", "Confirmar"),
               name="Fede")
    docs = [e for e in r if e["payload"]["type"] == "document"]
    expect_eq(len(docs), 1, "the PDF went to the customer")
    rows = SITE.query("SELECT id FROM presupuestos WHERE wa_id = ?", who)
    expect_eq(len(rows), 1, "one quote")
    st, h, body = SITE.request(
        "GET", "/ovidio/cgi-bin/presupuesto/%s.pdf" % rows[0]["id"])
    expect_eq(st, 200, "status")
    expect_eq(h.get("content-type"), "application/pdf", "type")
    expect(body.startswith(b"%PDF-") and len(body) > 1000, "a PDF")
    st, _, _ = SITE.request(
        "GET", "/ovidio/cgi-bin/presupuesto/00000000-0000-4000-8000-"
        "000000000000.pdf")
    expect_eq(st, 404, "unknown quote")


def test_health_and_inbox_behind_the_htaccess_password():
    st, h, body = SITE.request("GET", "/ovidio/cgi-bin/health")
    expect(st in (200, 503), "health status %d" % st)
    expect("status" in json.loads(body), body)
    st, _, _ = SITE.request("GET", "/ovidio/cgi-bin/inbox")
    expect_eq(st, 401, "inbox without credentials")
    cred = base64.b64encode(("%s:%s" % (INBOX_USER, INBOX_PASS)).encode())
    st, h, body = SITE.request("GET", "/ovidio/cgi-bin/inbox",
                               headers={"Authorization": b"Basic " + cred})
    expect_eq(st, 200, "inbox with credentials")
    expect(h.get("content-type", "").startswith("text/html"), str(h))
    expect(b"5493415550112" in body or b"Fede" in body,
           "the conversations are listed")
    # Sending is the full inbox's (libexec/inbox-full, every library),
    # which cgi-bin/inbox runs through the bundle's loader: a reply without
    # its form token is refused there (403), not lost on the way (503).
    st, _, body = SITE.request(
        "POST", "/ovidio/cgi-bin/inbox/c/5493415550112/responder",
        body=b"texto=hola&csrf=x", headers={
            "Authorization": b"Basic " + cred,
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "http://127.0.0.1:%d" % SITE.port})
    expect_eq(st, 403, "a reply without its token, from the full inbox: %r"
              % body[:300])


# ---- main --------------------------------------------------------------------

def main():
    global SITE, ST, TLS
    subprocess.run(["mount", "-t", "proc", "proc", host("/proc")], check=True)
    runner = Runner()
    ST = Standins(WORK, FIXTURES, HERE)
    SITE = BundleSite()
    try:
        ST.graph()
        ST.cianbox_port = ST.cianbox()
        cert, key = os.path.join(WORK, "tls.crt"), os.path.join(WORK, "tls.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)
        os.makedirs(os.path.dirname(host(RHEL_CA)), exist_ok=True)
        shutil.copy(cert, host(RHEL_CA))
        TLS = TLSFront(cert, key, ST.graph_port)
        set_up(ST, TLS)
        SITE.start()
        for t in (test_root_is_an_older_system_without_our_libraries,
                  test_handshake_answers_the_challenge,
                  test_only_the_cgis_are_served,
                  test_cgis_find_their_keys_without_setenv,
                  test_catalog_sync_from_the_crontab_loads_only_bundled_libraries,
                  test_signed_message_answered_through_https,
                  test_cron_worker_drains_what_the_webhook_left,
                  test_quote_pdf_served_by_presupuesto,
                  test_health_and_inbox_behind_the_htaccess_password):
            runner.run(t)
    except Exception as e:  # noqa: BLE001 - set-up failed: say so, count it
        print("FAIL set-up: %s: %s" % (type(e).__name__, e), flush=True)
        runner.failed += 1
    finally:
        if runner.failed:
            for name in ("srv/apache/error.log",
                         DATA_IN.lstrip("/") + "/log/worker.log"):
                p = os.path.join(ROOT, name)
                if os.path.exists(p):
                    with open(p, errors="replace") as f:
                        print("--- %s (last lines)\n%s" % (
                            name, "".join(f.readlines()[-40:])))
        SITE.stop()
        ST.stop()
        subprocess.run(["umount", "-l", host("/proc")])
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
