"""jobs/cianbox-token as cron runs it, against the Cianbox stand-in.

argv: HOME (installed programs: jobs/cianbox-token) WORKDIR FIXTURES.
Checks what an operator sees: exit status, the one line on stderr, the
token in the store, and how many logins/refreshes Cianbox saw.
"""
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request

PY = "/usr/bin/python3"
PASSWORD = "secreto-de-prueba"
HERE = os.path.dirname(os.path.abspath(__file__))

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
    def __init__(self, work, fixtures, name):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        portfile = os.path.join(self.dir, "port")
        script = os.path.join(HERE, "standins", "cianbox_server.py")
        if not os.path.exists(script):   # run from the source tree
            script = os.path.join(HERE, "..", "standins", "cianbox_server.py")
        self.proc = subprocess.Popen(
            [PY, script, "--port", "0", "--port-file", portfile,
             "--fixtures", os.path.join(fixtures, "cianbox"),
             "--password", PASSWORD])
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

    def stats(self):
        return json.load(urllib.request.urlopen(self.url + "/__stats", timeout=5))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def run_job(home, data, url, **extra):
    env = {"PATH": "/usr/bin:/bin", "OVIDIO_DATA_DIR": data,
           "CIANBOX_URL": url, "CIANBOX_ACCOUNT": "micuenta",
           "CIANBOX_USER": "ovidio", "CIANBOX_PASS": PASSWORD,
           "CIANBOX_TIMEOUT_MS": "2000", "CIANBOX_BACKOFF_MS": "20",
           # libmongoc's diagnostic counters live in /dev/shm/mongoc-<pid>;
           # a file left by a killed process of another user with the same
           # pid makes it print a warning at load. Not what is tested here.
           "MONGOC_DISABLE_SHM": "1"}
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    p = subprocess.run([os.path.join(home, "jobs", "cianbox-token")], env=env,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr.strip().splitlines()


def stored(data):
    db = os.path.join(data, "ovidio.db")
    if not os.path.exists(db):
        return None
    c = sqlite3.connect(db, timeout=10)
    try:
        row = c.execute("SELECT value, expires_at FROM tokens WHERE name = ?",
                        ("cianbox",)).fetchone()
    finally:
        c.close()
    return (json.loads(row[0]), row[1]) if row else None


def fresh_data(work, name):
    d = os.path.join(work, name)
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def main():
    home, work, fixtures = sys.argv[1:4]
    s = StandIn(work, fixtures, "cianbox")
    try:
        # A missing key: one line naming it, nothing sent.
        data = fresh_data(work, "data-missing")
        rc, lines = run_job(home, data, s.url, CIANBOX_ACCOUNT=None)
        check("missing key: non-zero exit", rc != 0, rc)
        check("missing key: one line naming CIANBOX_ACCOUNT",
              len(lines) == 1 and "missing configuration key CIANBOX_ACCOUNT"
              in lines[0], lines)
        check("missing key: Cianbox not called", s.stats()["logins"] == 0)

        # First run logs in and stores the token; the next keeps it.
        data = fresh_data(work, "data-ok")
        rc, lines = run_job(home, data, s.url)
        tok = stored(data)
        check("first run: exit 0", rc == 0, (rc, lines))
        check("first run: token stored with a day to live", tok is not None
              and tok[1] > time.time() + 86000, tok and tok[1])
        check("first run: one login", s.stats()["logins"] == 1)
        rc, lines = run_job(home, data, s.url)
        check("second run: exit 0, silent", rc == 0 and lines == [], lines)
        st = s.stats()
        check("second run: no login, no refresh",
              st["logins"] == 1 and st["refreshes"] == 0, st)
        check("second run: same token", stored(data)[0]["access_token"]
              == tok[0]["access_token"])

        # Under two hours left: refreshed, same refresh token.
        s.control(expires_in=3600, reset_stats=True)
        data = fresh_data(work, "data-short")
        run_job(home, data, s.url)
        before = stored(data)
        rc, lines = run_job(home, data, s.url)
        after = stored(data)
        st = s.stats()
        check("near expiry: exit 0", rc == 0, (rc, lines))
        check("near expiry: refreshed once, no second login",
              st["refreshes"] == 1 and st["logins"] == 1, st)
        check("near expiry: new access token, same refresh token",
              before and after and before[0]["access_token"]
              != after[0]["access_token"] and before[0]["refresh_token"]
              == after[0]["refresh_token"])

        # Refused refresh token: a fresh login instead.
        s.control(refuse_refresh=True, reset_stats=True)
        rc, lines = run_job(home, data, s.url)
        st = s.stats()
        check("refused refresh: exit 0 after a login", rc == 0 and
              st["refresh_refused"] == 1 and st["logins"] == 1, (rc, st))
        s.control(refuse_refresh=False, expires_in=86400)

        # Wrong password: Cianbox's words, not the password.
        data = fresh_data(work, "data-badpass")
        rc, lines = run_job(home, data, s.url, CIANBOX_PASS="clave-mala-123")
        check("wrong password: non-zero exit", rc != 0, rc)
        check("wrong password: one line with Cianbox's refusal",
              len(lines) == 1 and "Usuario o contraseña incorrectos" in lines[0],
              lines)
        check("wrong password: password not echoed",
              all("clave-mala-123" not in l for l in lines))
        check("wrong password: nothing stored", stored(data) is None)
    finally:
        s.stop()

    # Cianbox unreachable: one line, non-zero.
    data = fresh_data(work, "data-down")
    rc, lines = run_job(home, data, s.url, CIANBOX_ATTEMPTS="2")
    check("Cianbox down: non-zero exit", rc != 0, rc)
    check("Cianbox down: one line saying so", len(lines) == 1 and
          "no valid Cianbox token" in lines[0], lines)

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
