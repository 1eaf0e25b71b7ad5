"""cdp.py - headless Chromium driven over the DevTools protocol, for tests.

Debian's `chromium` is started with --remote-debugging-pipe: the protocol's
JSON messages go over file descriptors 3 (to the browser) and 4 (from it),
each ended by a NUL byte, so no WebSocket library is needed (stdlib only).

    with Browser(workdir) as b:
        page = b.new_page()
        page.set_headers({"Authorization": "Basic ..."})
        status = page.goto("http://127.0.0.1:8080/cgi-bin/inbox")
        text = page.eval("document.body.innerText")
        page.screenshot("/tmp/list.png")
"""
import base64
import json
import os
import select
import subprocess
import time

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe", "--window-size=412,915",
         "--hide-scrollbars", "--mute-audio"]


class CDPError(Exception):
    pass


class Browser:
    def __init__(self, workdir, timeout=30):
        self.timeout = timeout
        self.profile = os.path.join(workdir, "chromium-profile-%d" % os.getpid())
        os.makedirs(self.profile, exist_ok=True)
        to_r, self.to_w = os.pipe()          # we write, browser reads fd 3
        self.from_r, from_w = os.pipe()      # browser writes fd 4, we read
        log = open(os.path.join(workdir, "chromium.log"), "wb")

        def child_fds():
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM] + FLAGS + ["--user-data-dir=" + self.profile,
                                  "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=child_fds, pass_fds=(3, 4, to_r, from_w),
            start_new_session=True)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.proc is None:
            return
        try:
            self.send("Browser.close", timeout=5)
        except Exception:   # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.to_w, self.from_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc = None

    def _read_one(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise CDPError("timed out waiting for the browser")
            r, _, _ = select.select([self.from_r], [], [], left)
            if not r:
                continue
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                raise CDPError("the browser closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=None):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + (timeout or self.timeout)
        while True:
            m = self._read_one(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise CDPError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, session=None, timeout=None, pred=None):
        deadline = time.time() + (timeout or self.timeout)
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method and \
                        (session is None or e.get("sessionId") == session) and \
                        (pred is None or pred(e.get("params", {}))):
                    del self.events[i]
                    return e.get("params", {})
            self.events.append(self._read_one(deadline))

    def new_page(self):
        t = self.send("Target.createTarget", {"url": "about:blank"})
        s = self.send("Target.attachToTarget",
                      {"targetId": t["targetId"], "flatten": True})
        return Page(self, s["sessionId"])


class Page:
    def __init__(self, browser, session):
        self.b = browser
        self.s = session
        for domain in ("Page", "Network", "Runtime"):
            self.cmd(domain + ".enable")

    def cmd(self, method, params=None, timeout=None):
        return self.b.send(method, params, session=self.s, timeout=timeout)

    def set_headers(self, headers):
        self.cmd("Network.setExtraHTTPHeaders", {"headers": headers})

    def _drop_events(self):
        self.b.events = [e for e in self.b.events if e.get("sessionId") != self.s]

    def _wait_load(self):
        """Wait for the next page load; return the document's HTTP status."""
        status = None
        deadline = time.time() + self.b.timeout
        while True:
            m = None
            for i, ev in enumerate(self.b.events):
                if ev.get("sessionId") == self.s and ev.get("method") in (
                        "Network.responseReceived", "Page.loadEventFired"):
                    m = self.b.events.pop(i)
                    break
            if m is None:
                if time.time() > deadline:
                    raise CDPError("page did not load")
                self.b.events.append(self.b._read_one(deadline))
                continue
            p = m.get("params", {})
            if m["method"] == "Network.responseReceived" and \
                    p.get("type") == "Document":
                status = p["response"]["status"]
            elif m["method"] == "Page.loadEventFired":
                return status

    def goto(self, url):
        self._drop_events()
        self.cmd("Page.navigate", {"url": url})
        return self._wait_load()

    def eval(self, expr):
        r = self.cmd("Runtime.evaluate", {"expression": expr,
                                          "returnByValue": True})
        if "exceptionDetails" in r:
            raise CDPError("evaluate %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def submit(self, expr):
        """Click the element expr names (a form's button); wait for the
        page the form leads to. Returns its HTTP status."""
        self._drop_events()
        ok = self.eval("(function(){var e=%s; if(!e) return false;"
                       " e.click(); return true;})()" % expr)
        if not ok:
            raise CDPError("nothing to click: " + expr)
        return self._wait_load()

    def text(self):
        return self.eval("document.body ? document.body.innerText : ''")

    def screenshot(self, path):
        r = self.cmd("Page.captureScreenshot", {"format": "png",
                                                "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path
