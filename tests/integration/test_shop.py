"""Products from the shop back end (CIANBOX_SYNC_SOURCE=shop, issue 12):
jobs/catalog-sync reads it paged or whole, keeps each product's first
image, and replaces the catalog with the same atomic swap and shrink
protection as the other sources; a broken page changes nothing.

Run by tests/integration/run. Usage: test_shop.py HOME WORKDIR FIXTURES
"""
import http.client
import json
import os
import subprocess
import sys

from harness import Ovidio, Runner, expect, expect_eq
from standin_support import Standins

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))

S = Standins(WORK, FIXTURES, HERE)
PAGED = S.start("shop", "shop_server.py", ["--products", "1200"])
WHOLE = S.start("shop-whole", "shop_server.py", ["--products", "700",
                                                  "--whole"])
GRAPH = S.graph()
CIANBOX = S.cianbox()
URL = "http://127.0.0.1:%d/IDSRBE/Productos/ConsProductos"
ov = Ovidio(HOME, WORK, dict(S.base(GRAPH, CIANBOX),
                             CIANBOX_SYNC_SOURCE="shop",
                             SHOP_CATALOG_URL=URL % PAGED))


def control(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", "/__control", body=json.dumps(body))
        c.getresponse().read()
    finally:
        c.close()


def sync(*args, **env):
    return subprocess.run([os.path.join(HOME, "jobs", "catalog-sync"),
                           "--products"] + list(args),
                          env=ov.worker_env(**env), capture_output=True,
                          text=True, timeout=120)


def docs():
    return {json.loads(r["doc"])["codigo_interno"]: json.loads(r["doc"])
            for r in ov.query("SELECT doc FROM productos_cache")}


def test_paged_shop_with_images():
    r = sync()
    expect_eq(r.returncode, 0, "sync: " + r.stderr[-500:])
    expect("1200 items from shop" in r.stdout, r.stdout)
    d = docs()
    expect_eq(len(d), 1200, "every product")
    p = d["SH00001A"]
    expect_eq((p["producto"], p["marca"], p["precio_neto"], p["stock_total"]),
              ("Cámara Hikvision 3MP modelo 00001", "Hikvision", 21.25, 1),
              "fields")
    expect_eq(p["precio_final"], 25.71, "IVA 21 added")
    expect(p["imagen"].endswith("/img/SH00001A.jpg"), "first image kept")
    expect("imagen" not in d["SH00002A"], "no image, none invented")
    expect(d["SH00004A"]["imagen"].endswith("/img/SH00004A.jpg"),
           "image given as an object")
    expect_eq(p["source"], "shop", "source")


def test_same_ids_from_one_sync_to_the_next():
    before = {k: v["id"] for k, v in docs().items()}
    r = sync()
    expect_eq(r.returncode, 0, "sync again: " + r.stderr[-500:])
    expect_eq({k: v["id"] for k, v in docs().items()}, before, "stable ids")


def test_bad_json_keeps_the_old_copy():
    control(PAGED, {"bad_page": 2})
    r = sync()
    expect(r.returncode != 0, "a broken page fails the sync")
    expect("not its product list" in r.stderr, r.stderr[-300:])
    expect_eq(len(docs()), 1200, "old copy kept")
    control(PAGED, {"status": 503})
    r = sync()
    expect(r.returncode != 0 and "503" in r.stderr, r.stderr[-300:])
    expect_eq(len(docs()), 1200, "old copy kept")
    control(PAGED, {})


def test_shrink_is_refused_unless_forced():
    control(PAGED, {"products": 300})
    r = sync()
    expect_eq(r.returncode, 1, "refused")
    expect("less than half" in r.stderr, r.stderr[-300:])
    expect_eq(len(docs()), 1200, "old copy kept")
    r = sync("--force")
    expect_eq(r.returncode, 0, "forced: " + r.stderr[-300:])
    expect_eq(len(docs()), 300, "replaced")
    control(PAGED, {"products": 1200})


def test_whole_list_in_one_answer():
    r = sync(SHOP_CATALOG_URL=URL % WHOLE)
    expect_eq(r.returncode, 0, "whole: " + r.stderr[-300:])
    expect_eq(len(docs()), 700, "the list once, not repeated per page")


def images(replies):
    return [e["payload"] for e in replies if e["payload"]["type"] == "image"]


def test_photo_of_a_listed_product():
    r = sync()
    expect_eq(r.returncode, 0, "sync: " + r.stderr[-300:])
    who = "5493415550401"
    t = S.words(S.say(ov, who, "SH00007A", name="Ana"))
    expect("00007" in t, "found: " + t[-600:])
    got = images(S.say(ov, who, "tenés foto?", name="Ana"))
    expect_eq(len(got), 1, "one picture")
    img = got[0]["image"]
    expect(img["link"].endswith("/img/SH00007A.jpg"), "its first image")
    expect("modelo 00007" in img["caption"] and "USD" in img["caption"],
           "name and price as caption: " + img["caption"])
    S.say(ov, who, "cámaras dahua", name="Ana")
    got = images(S.say(ov, who, "mandame una foto de la 2", name="Ana"))
    expect_eq(len(got), 1, "a picture of the second row")
    expect("Dahua" in got[0]["image"]["caption"], got[0]["image"]["caption"])


def test_no_photo_says_so():
    who = "5493415550402"
    t = S.words(S.say(ov, who, "SH00002A", name="Beto"))
    expect("00002" in t, "found: " + t[-600:])
    r = S.say(ov, who, "tenés foto?", name="Beto")
    expect_eq(images(r), [], "no picture invented")
    expect("No tengo foto" in S.words(r), S.words(r))


def main():
    runner = Runner()
    ov.start()
    try:
        r = ov.run_worker()
        expect_eq(r.returncode, 0, "worker creates the store")
        for fn in (test_paged_shop_with_images,
                   test_same_ids_from_one_sync_to_the_next,
                   test_bad_json_keeps_the_old_copy,
                   test_shrink_is_refused_unless_forced,
                   test_whole_list_in_one_answer,
                   test_photo_of_a_listed_product,
                   test_no_photo_says_so):
            runner.run(fn)
    finally:
        ov.stop()
        S.stop()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
