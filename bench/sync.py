#!/usr/bin/python3
"""bench/sync.py - time jobs/catalog-sync against the Cianbox stand-in.

    bench/sync.py [--products N] [--data DIR] [--quiet]

Starts tests/standins/cianbox_server.py with N generated products on
127.0.0.1, then runs, in a fresh data directory (or DIR, kept for
bench/search):
  1. catalog-sync --products --dry-run: fetch and read every page, write
     nothing (what the stand-in and the API client cost);
  2. catalog-sync --products: the same, written into the store (SQLite,
     or MongoDB when MONGODB_URI is set) and swapped in.
For each: wall seconds, the job's CPU seconds and its peak resident memory
(wait4's rusage of the child). Stdlib only.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_job(env, args):
    """Wall seconds, CPU seconds and peak memory (MB) of one run."""
    t0 = time.monotonic()
    p = subprocess.Popen([os.path.join(ROOT, "jobs", "catalog-sync")] + args,
                         env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    out, err = p.stdout.read(), p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)     # this child's own rusage
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"catalog-sync {' '.join(args)} failed ({p.returncode}):\n"
                 f"{out}{err}")
    # ru_maxrss is in KiB on Linux.
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, out.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=50000)
    ap.add_argument("--data")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ovidio-bench-sync.")
    data = a.data or os.path.join(work, "data")
    os.makedirs(data, mode=0o700, exist_ok=True)
    portfile = os.path.join(work, "port")
    fixtures = os.path.join(ROOT, "..", "shared", "fixtures", "cianbox")
    standin = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(ROOT, "tests", "standins",
                                          "cianbox_server.py"),
         "--port", "0", "--port-file", portfile, "--fixtures", fixtures,
         "--products", str(a.products)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(portfile):
                break
            time.sleep(0.05)
        with open(portfile) as f:
            port = int(f.read().strip())
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OVIDIO_", "CIANBOX_"))}
        env.update({"OVIDIO_DATA_DIR": data,
                    "CIANBOX_URL": f"http://127.0.0.1:{port}",
                    "CIANBOX_ACCOUNT": "micuenta", "CIANBOX_USER": "ovidio",
                    "CIANBOX_PASS": "secreto-de-prueba"})
        dry = run_job(env, ["--products", "--dry-run"])
        real = run_job(env, ["--products"])
        size = os.path.getsize(os.path.join(data, "ovidio.db"))
        if not a.quiet:
            print(f"catalog sync of {a.products} products, pages of 200, "
                  f"Cianbox stand-in -> SQLite")
            print(f"  fetch and read only (--dry-run): {dry[0]:6.2f} s wall, "
                  f"{dry[1]:5.2f} s CPU in the job")
            print(f"  full sync into the store:         {real[0]:6.2f} s wall, "
                  f"{real[1]:5.2f} s CPU in the job, peak memory "
                  f"{real[2]:.1f} MB")
            print(f"  database file: {size / 1048576:.1f} MB")
            print(f"  job: {real[3]}")
            print(f"  targets: <= 15 s, <= 64 MB")
    finally:
        standin.terminate()
        standin.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
