"""bench/webhook: webhook throughput and latency against a hello-world CGI.

Both CGIs run under the same Apache 2.4 (mod_cgid, event MPM) in one run;
wrk drives 8 connections with signed ~3 KB POSTs. Prints requests/s, p50
and p99 for both, their ratio, and checks that every request the webhook
accepted (2xx) is in the spool; then drains the spool with the real worker
and checks every distinct message reached the store.

Run through bench/webhook (which builds and sandboxes it).
Targets (issue 2): ratio >= 0.8, webhook p99 <= 50 ms, zero lost.
"""
import json
import os
import re
import subprocess
import sys
import time

from harness import Ovidio

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = 8
THREADS = 2
PER_THREAD = int(os.environ.get("BENCH_BODIES", "15000"))
HERE = os.path.dirname(os.path.abspath(__file__))


def make_bodies(ov, path):
    pad = "Hola, quería consultar precio y stock. " * 75   # ~3 KB body
    for t in range(THREADS):
        with open(f"{path}.{t}", "w") as f:
            for i in range(PER_THREAD):
                n = t * PER_THREAD + i
                body = json.dumps({
                    "object": "whatsapp_business_account",
                    "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "5493414000000",
                                     "phone_number_id": "110000000000001"},
                        "contacts": [{"profile": {"name": "Bench"},
                                      "wa_id": "5493415%06d" % (n % 50)}],
                        "messages": [{"from": "5493415%06d" % (n % 50),
                                      "id": "wamid.bench-%08d" % n,
                                      "timestamp": str(1764000000 + n),
                                      "type": "text",
                                      "text": {"body": pad[:2600]}}]}}]}]},
                    ensure_ascii=False)
                f.write(ov.sign(body.encode()) + "\t" + body + "\n")


def wrk(ov, path, bodies):
    out = subprocess.run(
        ["wrk", "-t%d" % THREADS, "-c%d" % CONNECTIONS, "-d%ds" % SECONDS,
         "--latency", "--timeout", "10s", "-s", os.path.join(HERE, "post.lua"),
         "http://127.0.0.1:%d%s" % (ov.port, path), "--", bodies],
        capture_output=True, text=True, timeout=SECONDS + 60).stdout

    def ms(label):
        m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), out, re.M)
        if not m:
            return float("nan")
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50%"), "p99": ms("99%"),
        "total": total,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "raw": out,
    }


def main():
    hello = os.path.join(HOME, "cgi-bin", "hello")
    subprocess.run(["cc", "-O2", "-o", hello, os.path.join(HERE, "hello.c")], check=True)
    # The worker the webhook starts after each 200 steps aside (it is
    # replaced by /bin/true) so the figure is the webhook's own cost; the
    # real worker drains the spool afterwards.
    ov = Ovidio(HOME, WORK, {"OVIDIO_WORKER": "/bin/true"})
    bodies = os.path.join(WORK, "bodies")
    make_bodies(ov, bodies)
    ov.start()
    try:
        for path in ("/cgi-bin/hello", "/cgi-bin/webhook"):   # warm-up
            ov.request("GET", path)
        h = wrk(ov, "/cgi-bin/hello", bodies)
        w = wrk(ov, "/cgi-bin/webhook", bodies)
    finally:
        ov.stop()
    accepted = w["total"] - w["non2xx"]
    spooled = len(ov.spool("new"))
    ratio = w["rps"] / h["rps"] if h["rps"] else 0.0
    print("bench/webhook: Apache 2.4 mod_cgid, %d connections, %d s each, ~3 KB signed POSTs"
          % (CONNECTIONS, SECONDS))
    print("%-22s %10s %10s %10s %10s" % ("", "req/s", "p50 ms", "p99 ms", "non-2xx"))
    for name, r in (("hello-world CGI", h), ("cgi-bin/webhook", w)):
        print("%-22s %10.1f %10.2f %10.2f %10d" % (name, r["rps"], r["p50"], r["p99"],
                                                   r["non2xx"] + r["errors"]))
    print("ratio webhook/hello: %.2f (target >= 0.80)" % ratio)
    print("webhook p99: %.2f ms (target <= 50)" % w["p99"])
    print("accepted %d, in spool/new %d, lost %d" % (accepted, spooled, accepted - spooled))

    # Drain with the real worker: every distinct message reaches the store.
    distinct = min(accepted, THREADS * PER_THREAD)
    t0 = time.time()
    r = ov.run_worker(timeout=900)
    dt = time.time() - t0
    stored = ov.query("SELECT COUNT(*) AS n FROM mensajes WHERE id LIKE 'wamid.bench-%'")[0]["n"]
    print("worker drained %d file(s) in %.1f s (%.0f files/s), exit %d; distinct messages "
          "stored %d of %d" % (spooled, dt, spooled / dt if dt else 0, r.returncode,
                               stored, distinct))
    ok = accepted == spooled and stored == distinct and accepted > 0
    print("zero lost: %s" % ("yes" if ok else "NO"))
    if not ok:
        print(h["raw"], w["raw"], r.stderr[-2000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
