"""bench/webhook: webhook throughput and latency against a hello-world CGI.

Both CGIs run under the same Apache 2.4 (mod_cgid, event MPM) in one run;
wrk drives 8 connections with signed ~3 KB POSTs, each a distinct message.
Prints requests/s, p50 and p99 for both and their ratio. The real worker
runs meanwhile, as in production; at the end every request the webhook
accepted (2xx) must be in the store and nothing left in the spool.

Run through bench/webhook (which builds and sandboxes it).
Targets (issue 13; issue 2 asked 0.8 throughout): ratio >= 1.0 with the
worker idle and >= 0.8 while it drains, webhook p99 <= 50 ms, zero lost.
The hello-world's own p99 is printed beside the webhook's: on a slow
machine the queue of 8 connections on two cores sets both.
"""
import fcntl
import json
import os
import re
import subprocess
import sys
import time
from harness import Ovidio

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
# On a shared machine other load comes and goes: BENCH_ROUNDS > 1 runs
# hello-world and the idle webhook alternately and reports the medians.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
PER_THREAD = int(os.environ.get("BENCH_BODIES", str(max(4000, 15000 // ROUNDS))))
CONNECTIONS = 8
THREADS = 2

HERE = os.path.dirname(os.path.abspath(__file__))


def make_bodies(ov, path, tag):
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
                                      "id": "wamid.bench-%s%08d" % (tag, n),
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


def count_stored(ov, prefix):
    return ov.query("SELECT COUNT(*) AS n FROM mensajes WHERE id LIKE ?",
                    prefix + "%")[0]["n"]


def median_run(runs):
    """The run with the median requests/s (its latencies with it)."""
    return dict(sorted(runs, key=lambda r: r["rps"])[len(runs) // 2])


def row(name, r):
    print("%-34s %9.1f %9.2f %9.2f %8d" % (name, r["rps"], r["p50"], r["p99"],
                                            r["non2xx"] + r["errors"]))


def main():
    hello = os.path.join(HOME, "cgi-bin", "hello")
    subprocess.run(["cc", "-O2", "-o", hello, os.path.join(HERE, "hello.c")], check=True)
    ov = Ovidio(HOME, WORK, {"OVIDIO_LOG": os.environ.get("BENCH_LOG", "info")})
    alone = [os.path.join(WORK, "alone%d" % i) for i in range(ROUNDS)]
    live = os.path.join(WORK, "live")
    for i in range(ROUNDS):
        make_bodies(ov, alone[i], "a%d-" % i)
    make_bodies(ov, live, "l")
    ov.start()
    try:
        for path in ("/cgi-bin/hello", "/cgi-bin/webhook"):   # warm-up
            ov.request("GET", path)
        # 1. The webhook's own cost: hold the worker lock, as a busy worker
        # would, so no worker runs and every accepted body stays in new/.
        lock_path = os.path.join(ov.data, "locks", "worker.lock")
        os.makedirs(os.path.dirname(lock_path), exist_ok=True)
        hs, ws = [], []
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for i in range(ROUNDS):
                hs.append(wrk(ov, "/cgi-bin/hello", alone[i]))
                ws.append(wrk(ov, "/cgi-bin/webhook", alone[i]))
            time.sleep(0.5)
            spooled = len(ov.spool("new"))
            fcntl.flock(lock, fcntl.LOCK_UN)
        h = median_run(hs)
        w = median_run(ws)
        w["total"] = sum(x["total"] for x in ws)
        w["non2xx"] = sum(x["non2xx"] for x in ws)
        w_distinct = sum(min(x["total"] - x["non2xx"], THREADS * PER_THREAD)
                         for x in ws)
        # 2. Drain that backlog with the real worker.
        t0 = time.time()
        r = ov.run_worker(timeout=900)
        ov.wait_idle(timeout=600)
        drain_s = time.time() - t0
        stored_alone = count_stored(ov, "wamid.bench-a")
        # 3. Production on these two cores: the worker drains while wrk pushes.
        p = wrk(ov, "/cgi-bin/webhook", live)
        ov.wait_idle(timeout=600)
        stored_live = count_stored(ov, "wamid.bench-l")
    finally:
        ov.stop()

    print("bench/webhook: Apache 2.4 mod_cgid (event MPM), %d connections, %d s per run, "
          "~3 KB signed POSTs, each a distinct message" % (CONNECTIONS, SECONDS))
    if ROUNDS > 1:
        print("%d alternating rounds; hello req/s %s; webhook (idle) req/s %s; "
              "medians below" % (ROUNDS, " ".join("%.0f" % x["rps"] for x in hs),
                                 " ".join("%.0f" % x["rps"] for x in ws)))
    print("%-34s %9s %9s %9s %8s" % ("", "req/s", "p50 ms", "p99 ms", "non-2xx"))
    row("hello-world CGI", h)
    row("cgi-bin/webhook (worker idle)", w)
    row("cgi-bin/webhook (worker draining)", p)
    print("ratio webhook/hello: %.2f with the worker idle (target >= 1.00), %.2f "
          "with it draining (target >= 0.80)" % (w["rps"] / h["rps"], p["rps"] / h["rps"]))
    print("webhook p99: %.2f ms idle, %.2f ms draining (target <= 50; hello-world "
          "%.2f ms)" % (w["p99"], p["p99"], h["p99"]))
    ok = True
    for name, res, stored, extra in (("worker idle", w, stored_alone, spooled),
                                     ("worker draining", p, stored_live, None)):
        accepted = res["total"] - res["non2xx"]
        distinct = (w_distinct if res is w else
                    min(accepted, THREADS * PER_THREAD))
        # wrk stops counting with requests in flight: those may be accepted
        # too, so up to one per connection more can be stored.
        lost = max(0, distinct - stored)
        good = (accepted > 0 and lost == 0 and
                stored - distinct <= CONNECTIONS * (ROUNDS if res is w else 1))
        ok = ok and good
        print("%s: accepted %d, %sstored %d, lost %d" % (
            name, accepted, "" if extra is None else "in spool/new %d, " % extra, stored, lost))
    left = sum(len(ov.spool(d)) for d in ("new", "cur", "failed"))
    print("worker drained %d queued messages in %.1f s (%.0f/s, exit %d); left in spool %d"
          % (spooled, drain_s, spooled / drain_s if drain_s else 0, r.returncode, left))
    ok = ok and left == 0 and r.returncode == 0
    print("zero lost: %s" % ("yes" if ok else "NO"))
    if not ok:
        print(h["raw"], w["raw"], p["raw"])
        problems = [l for l in r.stderr.splitlines() if " error:" in l or " warn:" in l]
        print("\n".join(problems[:40]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
