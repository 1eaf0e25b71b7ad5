"""jobs/catalog-sync as cron and an operator run it, against the Cianbox
stand-in.

argv: HOME (installed programs: jobs/catalog-sync) WORKDIR FIXTURES.
Checks what an operator sees: the exit status, the one summary line under
cron (nothing else), the one line saying why a sync was refused, the
progress line on a terminal, and what the store holds afterwards.
"""
import fcntl
import json
import os
import pty
import sqlite3
import subprocess
import sys
import time
import urllib.request

PY = "/usr/bin/python3"
PASSWORD = "secreto-de-prueba"
HERE = os.path.dirname(os.path.abspath(__file__))
N = 450

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


class StandIn:
    def __init__(self, work, fixtures):
        self.dir = os.path.join(work, "cianbox")
        os.makedirs(self.dir, exist_ok=True)
        portfile = os.path.join(self.dir, "port")
        script = os.path.join(HERE, "standins", "cianbox_server.py")
        if not os.path.exists(script):   # run from the source tree
            script = os.path.join(HERE, "..", "standins", "cianbox_server.py")
        self.proc = subprocess.Popen(
            [PY, script, "--port", "0", "--port-file", portfile,
             "--fixtures", os.path.join(fixtures, "cianbox"),
             "--password", PASSWORD, "--products", str(N)])
        for _ in range(200):
            if os.path.exists(portfile):
                break
            time.sleep(0.05)
        with open(portfile) as f:
            self.url = f"http://127.0.0.1:{int(f.read())}"

    def control(self, **kw):
        req = urllib.request.Request(self.url + "/__control",
                                     json.dumps(kw).encode(),
                                     {"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=5).read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def job_env(data, url, extra):
    env = {"PATH": "/usr/bin:/bin", "OVIDIO_DATA_DIR": data,
           "CIANBOX_URL": url, "CIANBOX_ACCOUNT": "micuenta",
           "CIANBOX_USER": "ovidio", "CIANBOX_PASS": PASSWORD,
           "CIANBOX_TIMEOUT_MS": "5000", "CIANBOX_ATTEMPTS": "1"}
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_job(home, data, url, *args, **extra):
    """As cron runs it: no terminal. (status, stdout lines, stderr lines)"""
    p = subprocess.run([os.path.join(home, "jobs", "catalog-sync")] +
                       list(args), env=job_env(data, url, extra),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    return (p.returncode, p.stdout.strip().splitlines(),
            p.stderr.strip().splitlines())


def run_on_tty(home, data, url, *args):
    """With stderr on a terminal; returns (status, what the terminal got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([os.path.join(home, "jobs", "catalog-sync")] +
                         list(args), env=job_env(data, url, {}),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out = p.stdout.read()
    p.wait(60)
    os.close(master)
    return p.returncode, seen.decode("utf-8", "replace"), out.decode()


def count(data, table):
    c = sqlite3.connect(os.path.join(data, "ovidio.db"), timeout=10)
    try:
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        c.close()


def main():
    home, work, fixtures = sys.argv[1:4]
    data = os.path.join(work, "data")
    os.makedirs(data, mode=0o700, exist_ok=True)
    s = StandIn(work, fixtures)
    try:
        # Configuration first: a missing key is one line, exit 3.
        rc, out, err = run_job(home, data, s.url, CIANBOX_ACCOUNT=None)
        check("missing key: exit 3", rc == 3, rc)
        check("missing key: one line naming it", len(err) == 1 and
              "missing configuration key CIANBOX_ACCOUNT" in err[0], err)

        # Under cron: one summary line, nothing else.
        rc, out, err = run_job(home, data, s.url)
        check("full sync: exit 0", rc == 0, (rc, err))
        check("full sync: silent on stderr", err == [], err)
        check("full sync: one summary line with items, seconds, source",
              len(out) == 1 and f"products: {N} items from api in" in out[0]
              and "clients: 3 items from api" in out[0] and " s " in out[0],
              out)
        check("full sync: products in the store", count(data,
              "productos_cache") == N)
        check("full sync: clients in the store", count(data,
              "clientes_cianbox") == 3)

        # Cianbox suddenly lists 40%: refused, the catalog stays.
        s.control(products=180)
        rc, out, err = run_job(home, data, s.url, "--products")
        check("40%: exit 1", rc == 1, rc)
        check("40%: one line saying why", len(err) == 1 and
              f"refusing to replace {N} with 180" in err[0] and "--force"
              in err[0], err)
        check("40%: no summary", out == [], out)
        check("40%: catalog kept", count(data, "productos_cache") == N)
        rc, out, err = run_job(home, data, s.url, "--products", "--dry-run")
        check("40% dry run: says it would refuse", rc == 1 and len(err) == 1
              and err[0].find("dry run: products: refusing") >= 0, err)
        rc, out, err = run_job(home, data, s.url, "--products", "--force")
        check("40% --force: exit 0, replaced", rc == 0 and
              count(data, "productos_cache") == 180, (rc, err))

        # Cianbox lists nothing: refused even with --force.
        s.control(products=0)
        rc, out, err = run_job(home, data, s.url, "--products", "--force")
        check("empty: exit 1, one line", rc == 1 and len(err) == 1 and
              "gave no products" in err[0], (rc, err))
        check("empty: catalog kept", count(data, "productos_cache") == 180)

        # Dry run: counts, writes nothing.
        s.control(products=N)
        rc, out, err = run_job(home, data, s.url, "--products", "--dry-run")
        check("dry run: exit 0, nothing written", rc == 0 and
              count(data, "productos_cache") == 180, (rc, err))
        check("dry run: says so", len(out) == 1 and
              f"{N} items" in out[0] and "dry run" in out[0], out)

        # The API fails: the panel, still one line.
        s.control(fail_next=1000)
        rc, out, err = run_job(home, data, s.url, "--products")
        s.control(fail_next=0)
        check("API down: exit 0 from the panel", rc == 0, (rc, err))
        check("API down: silent on stderr", err == [], err)
        check("API down: the summary names the panel and the failure",
              len(out) == 1 and "from panel" in out[0] and
              "the API failed" in out[0], out)
        check("API down: panel catalog in the store",
              count(data, "productos_cache") == N)

        # On a terminal: the progress line (pages, items).
        rc, tty, out = run_on_tty(home, data, s.url, "--products")
        check("terminal: exit 0", rc == 0, rc)
        check("terminal: progress by page", "\rproducts (api): page 1, 200 "
              "items" in tty and f"page 3, {N} items" in tty, repr(tty))
        check("terminal: the summary on stdout", "products: " in out, out)

        # Another run holds the products lock: one line, exit 1.
        lock = os.path.join(data, "locks", "catalog-sync-products.lock")
        with open(lock, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            rc, out, err = run_job(home, data, s.url, "--products")
        check("locked: exit 1, one line", rc == 1 and len(err) == 1 and
              "another catalog-sync is running" in err[0], (rc, err))

        # Wrong password (no token stored yet): Cianbox's words, never the
        # password; nothing written.
        bad = os.path.join(work, "data-badpass")
        os.makedirs(bad, mode=0o700, exist_ok=True)
        rc, out, err = run_job(home, bad, s.url, "--clients",
                               CIANBOX_PASS="clave-mala-123")
        check("wrong password: exit 1, one line", rc == 1 and len(err) == 1
              and "Usuario o contraseña incorrectos" in err[0], (rc, err))
        check("wrong password: not echoed", all("clave-mala-123" not in l
              for l in err + out))
        check("wrong password: no clients written",
              count(bad, "clientes_cianbox") == 0)
    finally:
        s.stop()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
