#!/usr/bin/python3
"""bench/import.py - time jobs/import-legacy against the MongoDB stand-in.

    bench/import.py [--customers N] [--history H] [--quotes Q]

Starts tests/standins/mongo_server.py, fills `ovidio_db` the way the old
bot left it (tests/integration/legacy_db.py: bulk), then runs
import-legacy -q twice: the import, and a second run that must change
nothing. For each: wall seconds, the job's CPU seconds and peak resident
memory (wait4's rusage), and the stand-in's CPU seconds meanwhile.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pymongo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import legacy_db  # noqa: E402


def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=20000)
    ap.add_argument("--history", type=int, default=50)
    ap.add_argument("--quotes", type=int, default=30000)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ovidio-bench-import.")
    portfile = os.path.join(work, "port")
    log = open(os.path.join(work, "mongo.log"), "wb")
    server = subprocess.Popen(["/usr/bin/python3",
                               os.path.join(ROOT, "tests", "standins",
                                            "mongo_server.py"),
                               "--port", "0", "--port-file", portfile],
                              stdout=log, stderr=log)
    try:
        for _ in range(200):
            if os.path.exists(portfile) and open(portfile).read().strip():
                break
            time.sleep(0.05)
        port = open(portfile).read().strip()
        db = pymongo.MongoClient("mongodb://127.0.0.1:%s" % port,
                                 socketTimeoutMS=3600000)["ovidio_db"]
        # The stand-in (mongomock) answers a sorted find over every old
        # document slowly; a real server takes milliseconds.
        uri = "mongodb://127.0.0.1:%s/?socketTimeoutMS=3600000" % port
        t0 = time.monotonic()
        legacy_db.bulk(db, a.customers, a.history, a.quotes)
        print("old database: %d customers x %d history entries, %d quotes "
              "(filled in %.1f s)" % (a.customers, a.history, a.quotes,
                                      time.monotonic() - t0), flush=True)
        os.makedirs(os.path.join(work, "data"))
        env = {"PATH": "/usr/bin:/bin", "MONGODB_URI": uri,
               "OVIDIO_DATA_DIR": os.path.join(work, "data"),
               "TZ": "America/Argentina/Cordoba", "OVIDIO_LOG": "warn"}
        for label in ("import", "second run"):
            t0 = time.monotonic()
            c0 = cpu_of(server.pid)
            p = subprocess.Popen(
                [os.path.join(ROOT, "jobs", "import-legacy"), "-q"], env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            out = p.stdout.read()
            err = p.stderr.read()
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.monotonic() - t0
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit("import-legacy failed:\n" + out + err)
            print("%-10s  %6.1f s wall  %5.1f s cpu  peak %5.1f MB  "
                  "(stand-in cpu %5.1f s)" % (label, wall,
                                               ru.ru_utime + ru.ru_stime,
                                               ru.ru_maxrss / 1024.0,
                                               cpu_of(server.pid) - c0))
            for line in out.strip().splitlines():
                print("    " + line)
            sys.stdout.flush()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
