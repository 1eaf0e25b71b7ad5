"""Quote PDFs under a real Apache 2.4: the link a customer opens, and the purge.

Run by tests/integration/run (as an unprivileged user, against a fresh
`make install`). Usage: test_presupuesto.py HOME WORKDIR FIXTURES

Quotes are put into the SQLite store the way lib/quote stores them (the
record plus its JSON document), then jobs/quote-tool renders their PDFs with
the real renderer, so what Apache serves is what a customer would get.
"""
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

from harness import Ovidio, Runner, expect, expect_eq

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
PDFS = os.path.join(WORK, "presupuestos")
ART = timezone(timedelta(hours=-3))
NOW = "2026-12-01T10:00:00-03:00"
CONFIG = {
    "PRESUPUESTOS_DIR": PDFS,
    "OVIDIO_NOW": NOW,
    "BUSINESS_NAME": "GRUPO SER Rosario",
    "QUOTE_TTL_DAYS": "15",
}
ov = Ovidio(HOME, WORK, CONFIG)


def ts(y, mo, d, h=10):
    return int(datetime(y, mo, d, h, 0, 0, tzinfo=ART).timestamp())


LIVE = {"id": str(uuid.uuid4()), "number": 1001, "created": ts(2026, 12, 1, 9),
        "state": "pendiente_confirmacion", "customer": "Martín Gómez Ñandú"}
OLD = {"id": str(uuid.uuid4()), "number": 1002, "created": ts(2026, 11, 10),
       "state": "enviado", "customer": "Lucía Fernández"}
REPLACED = {"id": str(uuid.uuid4()), "number": 1003,
            "created": ts(2026, 11, 28), "state": "cancelado",
            "customer": "Lucía Fernández"}


def doc(customer):
    return json.dumps({
        "v": 1,
        "customer": {"name": customer, "cuit": "20284567898",
                     "phone": "0341 15-555-1234"},
        "currency": "USD", "usd_rate_cents": 104550,
        "items": [
            {"product_id": 10452, "code": "DH-HAC-HDW1400TP",
             "name": "Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm",
             "quantity": 2, "unit_cents": 4850, "iva": 210},
            {"product_id": 10477, "code": "FTE-12V5A",
             "name": "Fuente switching 12V 5A metálica",
             "quantity": 3, "unit_cents": 720, "iva": 105},
        ]}, ensure_ascii=False)


def run_job(name, *args, now=NOW):
    return subprocess.run([os.path.join(HOME, "jobs", name), *args],
                          env=ov.worker_env(OVIDIO_NOW=now), timeout=60,
                          capture_output=True, text=True)


def put_quote(q, wa_id="5493415551234", server=None):
    c = (server or ov).db()
    try:
        c.execute("INSERT INTO presupuestos (id, number, wa_id, state,"
                  " created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (q["id"], q["number"], wa_id, q["state"], q["created"],
                   q["created"] + 15 * 86400, doc(q["customer"])))
        c.commit()
    finally:
        c.close()


def pdf_path(q):
    return os.path.join(PDFS, q["id"] + ".pdf")


def get(path, method="GET", body=None, headers=None):
    return ov.request(method, path, body=body, headers=headers)


def pdftotext(data):
    r = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data,
                       capture_output=True, timeout=30)
    expect_eq(r.returncode, 0, "pdftotext exit status")
    return r.stdout.decode("utf-8")


def setup():
    # An empty run creates the store, and has nothing to do.
    r = run_job("purge-quotes")
    expect_eq(r.returncode, 0, "first purge: " + r.stderr)
    expect_eq(r.stdout.strip(),
              "purged 0 quotes, 0 orphan files, 0 media files", "summary")
    for q in (LIVE, OLD, REPLACED):
        put_quote(q)
    for q in (LIVE, OLD):
        r = run_job("quote-tool", "render", q["id"])
        expect_eq(r.returncode, 0, "quote-tool render: " + r.stderr)
        expect_eq(r.stdout.strip(), pdf_path(q), "path printed")


# ---- the link a customer opens --------------------------------------------

def test_pdf_served_with_its_headers():
    with open(pdf_path(LIVE), "rb") as f:
        want = f.read()
    st, h, body = get("/cgi-bin/presupuesto/%s.pdf" % LIVE["id"])
    expect_eq(st, 200, "status")
    expect_eq(h.get("content-type"), "application/pdf", "Content-Type")
    expect_eq(h.get("content-length"), str(len(want)), "Content-Length")
    expect_eq(h.get("content-disposition"),
              'inline; filename="Presupuesto_GRUPO_SER_Rosario_1001.pdf"',
              "Content-Disposition")
    expect_eq(h.get("x-content-type-options"), "nosniff", "nosniff")
    cc = h.get("cache-control", "")
    expect("private" in cc and "max-age=" in cc, "short private caching: " + cc)
    expect_eq(body, want, "the file, byte for byte")
    text = pdftotext(body)
    for s in ("PRESUPUESTO N° 1001", "Martín Gómez Ñandú",
              "DH-HAC-HDW1400TP", "Fuente switching 12V 5A metálica",
              "16/12/2026", "IVA 21 %", "IVA 10,5 %", "no es una factura"):
        expect(s in text, "PDF text has " + s)


def test_query_form_serves_the_same():
    st, h, body = get("/cgi-bin/presupuesto?id=" + LIVE["id"])
    expect_eq(st, 200, "status")
    with open(pdf_path(LIVE), "rb") as f:
        expect_eq(body, f.read(), "same file")


def test_head_has_headers_and_no_body():
    st, h, body = get("/cgi-bin/presupuesto/%s.pdf" % LIVE["id"], "HEAD")
    expect_eq(st, 200, "status")
    expect_eq(h.get("content-type"), "application/pdf", "Content-Type")
    expect_eq(h.get("content-length"), str(os.path.getsize(pdf_path(LIVE))),
              "Content-Length as for GET")
    expect("filename=" in h.get("content-disposition", ""), "disposition")
    expect_eq(body, b"", "no body")


def test_bad_ids_are_404():
    good = LIVE["id"]
    paths = [
        "/cgi-bin/presupuesto/" + str(uuid.uuid4()) + ".pdf",  # unknown
        "/cgi-bin/presupuesto/" + good.upper() + ".pdf",
        "/cgi-bin/presupuesto/" + good,
        "/cgi-bin/presupuesto/" + good + ".PDF",
        "/cgi-bin/presupuesto/" + good + ".pdf/",
        "/cgi-bin/presupuesto/" + good + ".pdf.tmp",
        "/cgi-bin/presupuesto/x" + good + ".pdf",
        "/cgi-bin/presupuesto/" + good + "0" * 300 + ".pdf",
        "/cgi-bin/presupuesto/abc.pdf",
        "/cgi-bin/presupuesto/",
        "/cgi-bin/presupuesto",
        "/cgi-bin/presupuesto/..%2f..%2fovidio.env",
        "/cgi-bin/presupuesto/%2e%2e/%2e%2e/ovidio.env",
        "/cgi-bin/presupuesto/" + good + ".pdf%00",
        "/cgi-bin/presupuesto/" + good[:10] + "%00" + good[11:] + ".pdf",
        "/cgi-bin/presupuesto?id=../ovidio.env",
        "/cgi-bin/presupuesto?id=" + good + ".pdf",
        "/cgi-bin/presupuesto?id=" + good + "%00",
        "/cgi-bin/presupuesto?id=" + good + "&id=" + good,
        "/cgi-bin/presupuesto?id=%2e%2e%2f" + good,
        "/cgi-bin/presupuesto?ID=" + good,
    ]
    for p in paths:
        st, h, body = get(p)
        expect_eq(st, 404, "status for " + p[:90])
        expect(b"%PDF" not in body, "no PDF for " + p[:90])
    # Traversal spelled with real dots never reaches the CGI: Apache
    # resolves it first. It must not reach any file either.
    for p in ("/cgi-bin/presupuesto/../../ovidio.env",
              "/cgi-bin/presupuesto/%2e%2e/%2e%2e/%2e%2e/etc/passwd"):
        st, body = ov.raw(("GET %s HTTP/1.0\r\n\r\n" % p).encode())
        expect(st in (400, 403, 404), "refused: %s (%d)" % (p, st))
        expect(b"WHATSAPP_APP_SECRET" not in body and b"root:" not in body,
               "nothing leaked for " + p)


def test_other_methods_are_405():
    for m in ("POST", "PUT", "DELETE"):
        st, h, _ = get("/cgi-bin/presupuesto/%s.pdf" % LIVE["id"], m,
                       body=b"x" * 100,
                       headers={"Content-Type": "application/octet-stream"})
        expect_eq(st, 405, "status for " + m)
        expect("GET" in h.get("allow", "") and "HEAD" in h.get("allow", ""),
               "Allow header")


def test_expired_quote_is_410_in_spanish():
    st, h, body = get("/cgi-bin/presupuesto/%s.pdf" % OLD["id"])
    expect_eq(st, 410, "status")
    expect(h.get("content-type", "").startswith("text/html"), "a page")
    page = body.decode("utf-8")
    expect("venció el 25/11/2026" in page, "says when: " + page)
    expect("pedinos uno nuevo por WhatsApp" in page, "says what to do")


def test_replaced_quote_is_410():
    st, _, body = get("/cgi-bin/presupuesto/%s.pdf" % REPLACED["id"])
    expect_eq(st, 410, "status")
    expect("reemplazado" in body.decode("utf-8"), "says it was replaced")


def test_link_expires_with_the_clock():
    # The CGI reads its configuration on every request: move its clock.
    with open(ov.config) as f:
        saved = f.read()
    with open(ov.config, "w") as f:
        f.write(saved.replace("OVIDIO_NOW=" + NOW,
                              "OVIDIO_NOW=2026-12-16T09:00:01-03:00"))
    try:
        st, _, body = get("/cgi-bin/presupuesto/%s.pdf" % LIVE["id"])
        expect_eq(st, 410, "status once past its validity")
        expect("venció el 16/12/2026" in body.decode("utf-8"), "date")
    finally:
        with open(ov.config, "w") as f:
            f.write(saved)
    st, _, _ = get("/cgi-bin/presupuesto/%s.pdf" % LIVE["id"])
    expect_eq(st, 200, "status with the clock back")


def test_cgi_links_no_heavy_library():
    r = subprocess.run(["ldd", os.path.join(HOME, "cgi-bin", "presupuesto")],
                       capture_output=True, text=True, timeout=30)
    expect_eq(r.returncode, 0, "ldd")
    for lib in ("libcurl", "libxml2", "libhpdf", "libpng"):
        expect(lib not in r.stdout, "does not link " + lib)


# ---- the purge ---------------------------------------------------------------

def test_purge_then_410():
    orphan_old = os.path.join(PDFS, str(uuid.uuid4()) + ".pdf")
    orphan_young = os.path.join(PDFS, str(uuid.uuid4()) + ".pdf")
    tmp_young = os.path.join(PDFS, str(uuid.uuid4()) + ".pdf.Ab12Cd.tmp")
    other = os.path.join(PDFS, "leeme.txt")
    for p, t in ((orphan_old, ts(2026, 11, 1)), (orphan_young, ts(2026, 12, 1)),
                 (tmp_young, ts(2026, 12, 9)), (other, ts(2026, 1, 1))):
        with open(p, "wb") as f:
            f.write(b"%PDF-1.3\n")
        os.utime(p, (t, t))
    later = "2026-12-10T10:00:00-03:00"   # cutoff: 25/11/2026 10:00

    r = run_job("purge-quotes", "--dry-run", now=later)
    expect_eq(r.returncode, 0, "dry run: " + r.stderr)
    lines = r.stdout.strip().splitlines()
    expect_eq(lines[-1],
              "would purge 1 quotes, 1 orphan files, 0 media files",
              "dry summary")
    expect(any(OLD["id"] in x and "1002" in x for x in lines), "lists the quote")
    expect(any(os.path.basename(orphan_old) in x for x in lines),
           "lists the orphan")
    expect(os.path.exists(pdf_path(OLD)), "dry run removed nothing")

    r = run_job("purge-quotes", now=later)
    expect_eq(r.returncode, 0, "purge: " + r.stderr)
    expect_eq(r.stdout.strip(),
              "purged 1 quotes, 1 orphan files, 0 media files", "summary")
    expect(not os.path.exists(pdf_path(OLD)), "old PDF gone")
    expect(not os.path.exists(orphan_old), "old orphan gone")
    for p in (pdf_path(LIVE), orphan_young, tmp_young, other):
        expect(os.path.exists(p), "kept " + os.path.basename(p))
    row = ov.query("SELECT * FROM presupuestos WHERE id = ?", OLD["id"])[0]
    expect_eq(row["state"], "vencido", "trace state")
    expect_eq(row["number"], 1002, "trace keeps the number")
    expect_eq(row["doc"], None, "contents dropped")
    expect_eq(row["wa_id"], "0", "customer dropped")
    live = ov.query("SELECT * FROM presupuestos WHERE id = ?", LIVE["id"])[0]
    expect_eq(live["state"], "pendiente_confirmacion", "young quote untouched")
    expect(live["doc"] is not None, "young quote keeps its contents")

    st, _, body = get("/cgi-bin/presupuesto/%s.pdf" % OLD["id"])
    expect_eq(st, 410, "purged quote: gone, not unknown")
    expect("venció el 25/11/2026" in body.decode("utf-8"), "date kept")
    st, _, _ = get("/cgi-bin/presupuesto/%s.pdf" % LIVE["id"])
    expect_eq(st, 200, "young quote still served")

    r = run_job("purge-quotes", now=later)
    expect_eq(r.returncode, 0, "second purge")
    expect_eq(r.stdout.strip(), "purged 0 quotes, 0 orphan files, 0 media files",
              "second run removes nothing")

    r = run_job("quote-tool", "show", OLD["id"], now=later)
    expect_eq(r.returncode, 0, "quote-tool show on a trace")
    expect("purged" in r.stdout and "1002" in r.stdout, "trace shown")
    r = run_job("quote-tool", "render", OLD["id"], now=later)
    expect_eq(r.returncode, 1, "nothing to render for a purged quote")


def test_crontab_runs_the_purge_daily():
    with open(os.path.join(HOME, "apache", "crontab")) as f:
        lines = [x for x in f if "purge-quotes" in x and not x.startswith("#")]
    expect_eq(len(lines), 1, "one purge line")
    fields = lines[0].split()
    expect(fields[2:5] == ["*", "*", "*"] and fields[0].isdigit()
           and fields[1].isdigit(), "once a day: " + lines[0])


# ---- where quotes live ---------------------------------------------------------

def test_default_quote_dir_is_shared_by_cron_and_apache():
    """No PRESUPUESTOS_DIR: a PDF written by a job cron starts (outside
    Apache, which may run with PrivateTmp) lands under OVIDIO_DATA_DIR and
    the CGI serves it."""
    config = {k: v for k, v in CONFIG.items() if k != "PRESUPUESTOS_DIR"}
    other = Ovidio(HOME, os.path.join(WORK, "default-dir"), config)
    other.start()
    try:
        env = other.worker_env(OVIDIO_NOW=NOW)
        r = subprocess.run([os.path.join(HOME, "jobs", "purge-quotes")],
                           env=env, capture_output=True, text=True, timeout=60)
        expect_eq(r.returncode, 0, "store created: " + r.stderr)
        q = dict(LIVE, id=str(uuid.uuid4()))
        put_quote(q, server=other)
        r = subprocess.run([os.path.join(HOME, "jobs", "quote-tool"), "render",
                            q["id"]], env=env, capture_output=True, text=True,
                           timeout=60)
        expect_eq(r.returncode, 0, "render: " + r.stderr)
        want = os.path.join(other.data, "presupuestos", q["id"] + ".pdf")
        expect_eq(r.stdout.strip(), want, "written under the data directory")
        st, h, body = other.request("GET", "/cgi-bin/presupuesto/%s.pdf" % q["id"])
        expect_eq(st, 200, "served by the CGI")
        with open(want, "rb") as f:
            expect_eq(body, f.read(), "the file cron wrote")
    finally:
        other.stop()


def test_quote_dir_of_another_user_or_writable_by_others_is_refused():
    q = dict(LIVE, id=str(uuid.uuid4()), number=1099)
    put_quote(q)
    foreign = "/usr/share"   # root's, and these tests run unprivileged
    loose = os.path.join(WORK, "loose")
    os.makedirs(loose, exist_ok=True)
    os.chmod(loose, 0o777)
    for d, says in ((foreign, "belongs to uid"), (loose, "writable by others")):
        if d == foreign and os.stat(d).st_uid == os.geteuid():
            continue
        env = ov.worker_env(OVIDIO_NOW=NOW, PRESUPUESTOS_DIR=d)
        r = subprocess.run([os.path.join(HOME, "jobs", "quote-tool"), "render",
                            q["id"]], env=env, capture_output=True, text=True,
                           timeout=60)
        expect(r.returncode != 0, "render into %s refused" % d)
        expect(says in r.stderr and "PRESUPUESTOS_DIR" in r.stderr,
               "a clear error: %r" % r.stderr[-300:])
        expect(not os.path.exists(os.path.join(d, q["id"] + ".pdf")),
               "nothing written")
        r = subprocess.run([os.path.join(HOME, "jobs", "purge-quotes")],
                           env=env, capture_output=True, text=True, timeout=60)
        expect(r.returncode != 0 and says in r.stderr,
               "purge refuses %s too: %r" % (d, r.stderr[-300:]))


def main():
    runner = Runner()
    try:
        ov.start()
        if not runner.run(setup):
            return runner.finish()
        for t in (test_pdf_served_with_its_headers,
                  test_query_form_serves_the_same,
                  test_head_has_headers_and_no_body,
                  test_bad_ids_are_404,
                  test_other_methods_are_405,
                  test_expired_quote_is_410_in_spanish,
                  test_replaced_quote_is_410,
                  test_link_expires_with_the_clock,
                  test_cgi_links_no_heavy_library,
                  test_purge_then_410,
                  test_crontab_runs_the_purge_daily,
                  test_default_quote_dir_is_shared_by_cron_and_apache,
                  test_quote_dir_of_another_user_or_writable_by_others_is_refused):
            runner.run(t)
    finally:
        ov.stop()
        if runner.failed:
            print(ov.error_log()[-4000:])
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
