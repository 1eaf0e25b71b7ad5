"""An old bot's MongoDB `ovidio_db` (issue 12), on the MongoDB stand-in,
under Apache with the Graph and Cianbox stand-ins: every program starts on
it; jobs/import-legacy --dry-run writes nothing; the import brings
customers, history, profile, quotes and the counter over; a second run
changes nothing; the customers then talk to Ovidio as usual.

Run by tests/integration/run. Usage: test_legacy.py HOME WORKDIR FIXTURES
"""
import json
import os
import subprocess
import sys
import time

import pymongo

import legacy_db
from harness import Ovidio, Runner, expect, expect_eq
from standin_support import Standins

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))

S = Standins(WORK, FIXTURES, HERE)
MONGO = S.start("mongo", "mongo_server.py", [])
GRAPH = S.graph()
CIANBOX = S.cianbox()
URI = "mongodb://127.0.0.1:%d" % MONGO
DB = pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000)["ovidio_db"]

ov = Ovidio(HOME, WORK, dict(S.base(GRAPH, CIANBOX), MONGODB_URI=URI,
                             MONGODB_DB="ovidio_db"))


def job(name, *args, timeout=120):
    return subprocess.run([os.path.join(HOME, "jobs", name)] + list(args),
                          env=ov.worker_env(), capture_output=True,
                          text=True, timeout=timeout)


def snapshot():
    """Every document of every collection, comparable."""
    out = {}
    for name in sorted(DB.list_collection_names()):
        docs = [json.dumps(d, sort_keys=True, default=str)
                for d in DB[name].find()]
        if docs:
            out[name] = sorted(docs)
    return out


def test_every_program_starts_on_the_old_database():
    for name in ("worker", "purge-quotes", "catalog-sync"):
        r = job(name)
        expect_eq(r.returncode, 0, name + ": " + r.stderr[-600:])
        expect("E11000" not in r.stderr and "create index" not in r.stderr,
               name + " on old documents: " + r.stderr[-600:])
    st, _, body = ov.request("GET", "/cgi-bin/webhook?hub.mode=subscribe&"
                             "hub.verify_token=it-verify-token-ovidio&"
                             "hub.challenge=4242")
    expect_eq((st, body), (200, b"4242"), "handshake")
    st, _, _ = ov.request("GET", "/cgi-bin/presupuesto?id="
                          "0a1b2c3d-0000-4000-8000-00000000abcd")
    expect_eq(st, 404, "the quote CGI opens the store and answers")
    # The old documents are all still there, untouched.
    expect_eq(DB.clientes.count_documents({}), 7, "old customers kept")
    expect_eq(DB.presupuestos.count_documents({"numero": {"$exists": True}}),
              4, "old quotes kept")


def test_dry_run_writes_nothing():
    before = snapshot()
    r = job("import-legacy", "--dry-run")
    expect_eq(r.returncode, 0, "dry run: " + r.stderr[-600:])
    expect("3 would be added" in r.stdout, "says what it would add: " + r.stdout)
    expect(snapshot() == before, "nothing written by --dry-run")


IMPORT_OUT = []


def test_import_converts_and_explains():
    r = job("import-legacy")
    expect_eq(r.returncode, 0, "import: " + r.stderr[-600:])
    out = r.stdout
    IMPORT_OUT.append(out)
    expect("merged 2 documents of %s" % legacy_db.MARTIN in out, out)
    expect("unlinked %s from Cianbox 203" % legacy_db.WRONG in out, out)
    expect("skipped cliente" in out and "no telefono" in out, out)
    expect("not a WhatsApp number" in out, out)
    expect("numero is not a positive whole number" in out, out)
    expect("quote numbers continue after 58" in out, out)
    # Customers: links only where the phone on file matches.
    m = DB.clientes.find_one({"_id": legacy_db.MARTIN})
    expect(m is not None and m["cianbox_id"] == 201 and m["verified"],
           "Martín linked to 201: %r" % m)
    w = DB.clientes.find_one({"_id": legacy_db.WRONG})
    expect(w is not None and w["cianbox_id"] == 0,
           "the suffix link to 203 is dropped: %r" % w)
    # Profile: brands of both documents (newer first), promo, birthday.
    conv = json.loads(DB.conversaciones.find_one(
        {"_id": legacy_db.MARTIN})["doc"])["profile"]
    expect_eq(conv["brands"], ["Dahua", "Hikvision"], "brands merged")
    expect_eq((conv["promo"], conv["birthday"]), ("yes", "03-14"), "profile")
    lucia = json.loads(DB.conversaciones.find_one(
        {"_id": legacy_db.LUCIA})["doc"])["profile"]
    expect_eq((lucia["promo"], lucia["birthday"]), ("no", "07-21"), "Lucía")
    wrong = json.loads(DB.conversaciones.find_one(
        {"_id": legacy_db.WRONG})["doc"])["profile"]
    expect_eq(wrong["birthday"], "09-02", "birthday from day and month")
    # Quotes: numbers, states, items and totals.
    qs = {q["number"]: q for q in DB.presupuestos.find({"number": {"$gt": 0}})}
    expect_eq(sorted(qs), [56, 57, 58], "numbers kept")
    expect_eq([qs[n]["state"] for n in (56, 57, 58)],
              ["enviado", "cancelado", "pendiente_confirmacion"], "states")
    d57 = json.loads(qs[57]["doc"])
    expect_eq([(i["code"], i["quantity"], i["unit_cents"], i["iva"])
               for i in d57["items"]],
              [("DS-2CE16", 1, 2500, 210), ("PK5501", 1, 4050, 105)], "items")
    expect_eq(d57["totals"]["total_cents"], 7500, "total")
    expect_eq(qs[57]["expires_at"] - qs[57]["created_at"], 7 * 86400,
              "validity kept")


def test_history_is_in_the_transcript():
    msgs = list(DB.mensajes.find({"wa_id": legacy_db.MARTIN}).sort(
        [("ts", 1), ("seq", 1)]))
    expect_eq([(m["dir"], m["body"]) for m in msgs],
              [(0, "hola, precio del DS-2CE16"),
               (1, "La DS-2CE16 sale USD 25 + IVA"),
               (0, "mandame el presupuesto")], "history in order")
    expect(all(m["status"] in ("handled", "sent") for m in msgs), "settled")


def test_second_run_changes_nothing():
    before = snapshot()
    r = job("import-legacy")
    expect_eq(r.returncode, 0, "second import: " + r.stderr[-600:])
    expect("0 new, 0 updated, 0 profiles written" in r.stdout, r.stdout)
    expect("messages: 0 added" in r.stdout, r.stdout)
    expect("quotes: 0 added, 3 imported before" in r.stdout, r.stdout)
    expect(snapshot() == before, "the second run wrote nothing")


def test_linked_customer_sees_the_balance():
    t = S.words(S.say(ov, legacy_db.MARTIN, "cuánto debo?", name="Martín"))
    expect("USD 1.843,75" in t, "balance: " + t)


def test_wrongly_linked_customer_sees_no_balance():
    t = S.words(S.say(ov, legacy_db.WRONG, "cuánto debo?", name="Otro"))
    expect("120,50" not in t and "-120" not in t, "no one else's balance: " + t)


def test_new_quote_continues_the_numbers():
    who = legacy_db.NOBODY
    S.say(ov, who, mtype="interactive", reply=("list_reply", "prod:10477", "F"),
          name="Nadie")
    t = S.words(S.say(ov, who, "cotizá 3", name="Nadie"))
    expect("presupuesto N° 59" in t, "the next number after 58: " + t)


def main():
    ov.start()
    runner = Runner()
    try:
        legacy_db.build(DB)
        for fn in (test_every_program_starts_on_the_old_database,
                   test_dry_run_writes_nothing,
                   test_import_converts_and_explains,
                   test_history_is_in_the_transcript,
                   test_second_run_changes_nothing,
                   test_linked_customer_sees_the_balance,
                   test_wrongly_linked_customer_sees_no_balance,
                   test_new_quote_continues_the_numbers):
            runner.run(fn)
    finally:
        ov.stop()
        S.stop()
        if runner.failed:
            try:
                with open(os.path.join(ov.data, "log", "worker.log")) as f:
                    print("--- worker log (tail) ---\n" +
                          "".join(f.readlines()[-40:]))
            except OSError:
                pass
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
