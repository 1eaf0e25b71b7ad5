"""Webhook ingest under a real Apache 2.4: what Meta and the operator see.

Run by tests/integration/run (as an unprivileged user, against a fresh
`make install`). Usage: test_webhook.py HOME WORKDIR FIXTURES
"""
import fcntl
import json
import os
import signal
import subprocess
import sys
import time

from harness import (Ovidio, Runner, VERIFY_TOKEN, expect, expect_eq,
                     load_fixture)

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
ov = Ovidio(HOME, WORK, {"OVIDIO_SPOOL_LEASE": "2"})

TEXT_ID = "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABIYFDNBMDFGRkE3QkY1MjM0NTY3ODkwAA=="


def stored(msg_id):
    return ov.query("SELECT * FROM mensajes WHERE id = ?", msg_id)


def wait_stored(msg_id, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = stored(msg_id)
        if rows and rows[0]["status"] == "handled":
            return rows
        time.sleep(0.05)
    return stored(msg_id)


def payload(sender, msg_id, text, ts=1764000000, name="Cliente"):
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "104857600000001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5493414000000",
                         "phone_number_id": "110000000000001"},
            "contacts": [{"profile": {"name": name}, "wa_id": sender}],
            "messages": [{"from": sender, "id": msg_id, "timestamp": str(ts),
                          "type": "text", "text": {"body": text}}]}}]}]},
        ensure_ascii=False).encode()


# ---- Meta's verification handshake --------------------------------------

def test_handshake_answers_the_challenge():
    st, h, body = ov.request(
        "GET", "/cgi-bin/webhook?hub.mode=subscribe&hub.verify_token="
        + VERIFY_TOKEN + "&hub.challenge=1158201444")
    expect_eq(st, 200, "status")
    expect_eq(body, b"1158201444", "body is the challenge")
    expect(h.get("content-type", "").startswith("text/plain"), "text/plain")


def test_handshake_refuses_wrong_token_mode_or_challenge():
    bad = [
        "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=123",
        "hub.mode=unsubscribe&hub.verify_token=" + VERIFY_TOKEN + "&hub.challenge=123",
        "hub.mode=subscribe&hub.challenge=123",
        "hub.mode=subscribe&hub.verify_token=" + VERIFY_TOKEN,
        "hub.mode=subscribe&hub.verify_token=" + VERIFY_TOKEN
        + "&hub.challenge=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "hub.mode=subscribe&hub.verify_token=" + VERIFY_TOKEN
        + "&hub.challenge=" + "9" * 5000,
        "",
    ]
    for q in bad:
        st, _, body = ov.request("GET", "/cgi-bin/webhook?" + q)
        expect_eq(st, 403, "status for ?" + q[:60])
        expect(b"<script>" not in body, "challenge never echoed on refusal")


# ---- signed messages ----------------------------------------------------

def test_signed_message_is_stored_once_by_the_worker():
    body = load_fixture(FIXTURES, "text.json")
    st, _, resp = ov.post_webhook(body)
    expect_eq(st, 200, "status")
    rows = wait_stored(TEXT_ID)
    expect_eq(len(rows), 1, "records for the message")
    row = rows[0]
    expect_eq(row["status"], "handled", "message handled")
    expect_eq(row["wa_id"], "5493415551234", "sender")
    expect_eq(row["body"], "Hola, ¿tenés cámaras domo Dahua de 4 MP?", "text")
    cust = ov.query("SELECT * FROM clientes WHERE wa_id = ?", "5493415551234")
    expect_eq(len(cust), 1, "customer record")
    expect_eq(cust[0]["name"], "Martín Gómez", "profile name kept")
    expect(ov.wait_idle(), "spool drained")


def test_same_payload_three_times_is_stored_once():
    body = payload("5493415550001", "wamid.triple-delivery-0001", "¿Tenés fuentes 12V?")
    for _ in range(3):
        st, _, _ = ov.post_webhook(body)
        expect_eq(st, 200, "status")
    wait_stored("wamid.triple-delivery-0001")
    expect(ov.wait_idle(), "spool drained")
    n = ov.query("SELECT COUNT(*) AS n FROM mensajes WHERE id = ?",
                 "wamid.triple-delivery-0001")[0]["n"]
    expect_eq(n, 1, "one record after three deliveries")


def test_batch_with_two_senders_stores_both():
    body = load_fixture(FIXTURES, "batch_two_senders.json")
    st, _, _ = ov.post_webhook(body)
    expect_eq(st, 200, "status")
    a = wait_stored("wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABIYFDNBMDVBQUFBQUFBQUFBQUFBQUFBAA==")
    b = wait_stored("wamid.HBgNNTQ5MTE0NDQ0Nzc3NxUCABIYFDNBMDZCQkJCQkJCQkJCQkJCQkJCAA==")
    expect_eq(len(a), 1, "first sender's message")
    expect_eq(len(b), 1, "second sender's message")
    expect_eq(a[0]["wa_id"], "5493415551234", "first sender")
    expect_eq(b[0]["wa_id"], "5491144447777", "second sender")
    expect_eq(b[0]["body"], "Necesito 10 fuentes 12V 5A", "second text")


def test_status_webhook_is_recorded_against_the_message():
    body = load_fixture(FIXTURES, "status_delivered.json")
    st, _, _ = ov.post_webhook(body)
    expect_eq(st, 200, "status")
    mid = "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABEYEkE5QjAwQzQ1RjI0MTFBQkMwMAA="
    deadline = time.time() + 15
    rows = []
    while time.time() < deadline:
        rows = stored(mid)
        if rows:
            break
        time.sleep(0.05)
    expect_eq(len(rows), 1, "status record")
    expect_eq(rows[0]["status"], "delivered", "delivery status")


def test_interactive_and_image_messages_are_stored_with_their_text():
    for name, mid, text in [
        ("interactive_list_reply.json",
         "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABIYFDNBMDI3QzE5MjBGQkE2NTQzMjEwAA==",
         "Domo Dahua 4MP"),
        ("button_reply.json",
         "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABIYFDNBMDM5OUFBQkNERUYwMTIzNDU2AA==",
         "Sí, enviámelo"),
        ("image.json",
         "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABIYFDNBMDRBQkNERUYwMTIzNDU2Nzg5AA==",
         "¿Tienen este modelo?"),
    ]:
        st, _, _ = ov.post_webhook(load_fixture(FIXTURES, name))
        expect_eq(st, 200, "status for " + name)
        rows = wait_stored(mid)
        expect_eq(len(rows), 1, "record for " + name)
        expect_eq(rows[0]["body"], text, "text of " + name)


# ---- refusals -----------------------------------------------------------

def spool_total():
    return sum(len(ov.spool(d)) for d in ("tmp", "new", "cur", "failed"))


def test_forged_and_missing_signatures_are_refused_and_nothing_kept():
    body = payload("5493415550002", "wamid.forged-0001", "hola")
    before = spool_total()
    forged = ov.sign(body, secret="not-the-secret")
    flipped = ov.sign(body)[:-1] + ("0" if ov.sign(body)[-1] != "0" else "1")
    for sig in [forged, flipped, "sha1=" + "0" * 40, "", "sha256="]:
        st, _, _ = ov.post_webhook(body, signature=sig)
        expect_eq(st, 401, "status for signature %r" % sig[:20])
    st, _, _ = ov.request("POST", "/cgi-bin/webhook", body,
                          {"Content-Type": "application/json"})
    expect_eq(st, 401, "status without signature")
    time.sleep(0.3)
    expect_eq(spool_total(), before, "nothing spooled")
    expect_eq(stored("wamid.forged-0001"), [], "nothing stored")


def big_request(size):
    body = b"{" + b" " * (size - 1)
    return (b"POST /cgi-bin/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            + b"X-Hub-Signature-256: " + ov.sign(body).encode() + b"\r\n"
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % size
            + body)


def oversize_is_413(server):
    """5 MiB sent whole: the answer is a complete 413, never a reset."""
    before = spool_total()
    st, resp = server.raw(big_request(5 * 1024 * 1024), timeout=60)
    expect_eq(st, 413, "status")
    expect(resp.rstrip().endswith(b"too large") or b"Request Entity" in resp
           or b"Content Too Large" in resp, "a whole answer: %r" % resp[-80:])
    expect_eq(spool_total(), before, "nothing spooled")


def test_oversize_body_is_413_with_limit_request_body():
    oversize_is_413(ov)


def test_oversize_body_is_413_without_limit_request_body():
    """Where .htaccess cannot set LimitRequestBody, the CGI drains first."""
    other = Ovidio(HOME, os.path.join(WORK, "nolimit"),
                   {"OVIDIO_SPOOL_LEASE": "2"}, limit_body=False)
    other.start()
    try:
        before = len(os.listdir(other.data))
        st, resp = other.raw(big_request(5 * 1024 * 1024), timeout=60)
        expect_eq(st, 413, "status")
        expect(resp.rstrip().endswith(b"too large"),
               "the CGI's own answer: %r" % resp[-80:])
        expect(b"Broken pipe" not in other.error_log().encode(),
               "no broken pipe in Apache's log")
        expect(len(os.listdir(other.data)) <= before + 2, "nothing kept")
    finally:
        other.stop()


def test_webhook_is_a_static_executable():
    r = subprocess.run(["ldd", os.path.join(HOME, "cgi-bin", "webhook")],
                       capture_output=True, text=True)
    expect("not a dynamic executable" in r.stdout + r.stderr,
           "ldd says: %r" % (r.stdout + r.stderr))


def test_missing_length_is_411():
    req = (b"POST /cgi-bin/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: application/json\r\nConnection: close\r\n\r\n")
    st, _ = ov.raw(req)
    expect_eq(st, 411, "status")


def test_other_methods_are_405():
    for m in ["PUT", "DELETE", "PATCH"]:
        st, h, _ = ov.request(m, "/cgi-bin/webhook", b"{}",
                              {"Content-Type": "application/json"})
        expect_eq(st, 405, "status for " + m)


def test_signed_malformed_body_is_kept_in_failed_and_answered_200():
    """The webhook only checks the signature; the worker puts what is not a
    WhatsApp payload in spool/failed, with a .why file beside it."""
    before = set(ov.spool("failed"))
    for body in [b'{"object":"whatsapp_business_account","entry":[', b'{"object":"page"}',
                 b"\xff\xfe not utf-8"]:
        st, _, _ = ov.post_webhook(body)
        expect_eq(st, 200, "status for %r" % body[:20])
    ov.run_worker()
    expect(ov.wait_idle(), "spool drained")
    kept = set(n for n in ov.spool("failed") if n.endswith(".json")) - before
    whys = set(n for n in ov.spool("failed") if n.endswith(".why"))
    expect_eq(len(kept), 3, "bodies kept in spool/failed")
    expect(all(n + ".why" in whys for n in kept), "a .why beside each")
    expect_eq(len(kept), 3, "bodies kept in spool/failed")
    contents = set()
    for n in kept:
        with open(os.path.join(ov.data, "spool", "failed", n), "rb") as f:
            contents.add(f.read())
    expect(b"\xff\xfe not utf-8" in contents, "kept byte for byte")


def test_unwritable_spool_is_503_and_meta_can_retry():
    body = payload("5493415550003", "wamid.retry-after-503", "¿Hay stock?")
    new = os.path.join(ov.data, "spool", "new")
    os.chmod(new, 0o500)
    try:
        st, h, _ = ov.post_webhook(body)
        expect_eq(st, 503, "status while the spool is unwritable")
        expect_eq(ov.spool("tmp"), [], "no half-written file left")
    finally:
        os.chmod(new, 0o700)
    st, _, _ = ov.post_webhook(body)
    expect_eq(st, 200, "Meta's retry is accepted")
    expect_eq(len(wait_stored("wamid.retry-after-503")), 1, "stored after retry")


# ---- crash recovery -----------------------------------------------------

def spool_backlog(tag, senders, count, phone, ts0):
    """count messages from `senders` customers (phone % n), spooled while
    the worker lock is held so that one run finds them all; their ids."""
    lock_path = os.path.join(ov.data, "locks", "worker.lock")
    ids = ["wamid.%s-%04d" % (tag, i) for i in range(count)]
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for i, mid in enumerate(ids):
            body = payload(phone % (i % senders), mid, "mensaje %d" % i,
                           ts=ts0 + i)
            expect_eq(ov.post_webhook(body)[0], 200, "accepted " + mid)
        fcntl.flock(lock, fcntl.LOCK_UN)
    return ids


def expect_handled_once_in_order(tag, ids):
    rows = ov.query("SELECT id, wa_id, status FROM mensajes WHERE id LIKE "
                    "? ORDER BY seq", "wamid.%s-%%" % tag)
    expect_eq(len(rows), len(ids), "each stored once")
    expect(all(x["status"] == "handled" for x in rows), "all handled: %r" %
           [x["id"] for x in rows if x["status"] != "handled"][:5])
    # Each customer's messages were taken in order, across the crash.
    by_sender = {}
    for x in rows:
        by_sender.setdefault(x["wa_id"], []).append(x["id"])
    for sender, got in by_sender.items():
        expect_eq(got, sorted(got), "order of %s" % sender)


def test_worker_killed_mid_run_loses_nothing():
    """SIGKILL the worker in the middle of a backlog; the next run finishes."""
    # The worker lock held: the copies the webhook starts step aside and
    # the backlog builds up in spool/new.
    ids = spool_backlog("crash", 40, 300, "54934155%05d", 1764000000)
    expect(len(ov.spool("new")) > 0, "backlog waiting")
    proc = subprocess.Popen([os.path.join(ov.home, "jobs", "worker")],
                            env=ov.worker_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    # Kill it once it has started claiming but before it could finish.
    deadline = time.time() + 10
    while time.time() < deadline and not ov.spool("cur"):
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = ov.query("SELECT COUNT(*) AS n FROM mensajes WHERE id LIKE "
                           "'wamid.crash-%' AND status = 'handled'")
    left = len(ov.spool("new")) + len(ov.spool("cur"))
    expect(left > 0, "the kill really interrupted work (files left: %d)" % left)
    # Cron's next runs, after the lease, pick everything up. A message the
    # killed run had claimed stays in the spool until its lease is over.
    for attempt in range(10):
        time.sleep(2.2)
        r = ov.run_worker()
        if ov.wait_idle(timeout=5):
            break
    expect(ov.wait_idle(), "spool drained after %d runs (last stderr: %s)"
           % (attempt + 1, r.stderr[-500:]))
    rows = ov.query("SELECT id, status FROM mensajes WHERE id LIKE 'wamid.crash-%'")
    got = {r["id"]: r["status"] for r in rows}
    missing = [i for i in ids if i not in got]
    expect_eq(missing, [], "messages lost (handled before the rerun: %s)"
              % done_before[0]["n"] if done_before else "")
    expect_eq(len(rows), len(ids), "each stored exactly once")
    expect(all(s == "handled" for s in got.values()), "all handled")


def test_messages_of_one_sender_are_recorded_in_timestamp_order():
    """Two quick messages delivered in reverse order are handled oldest first."""
    sender = "5493415559999"
    lock_path = os.path.join(ov.data, "locks", "worker.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ov.post_webhook(payload(sender, "wamid.order-2", "segundo", ts=1764000100))
        ov.post_webhook(payload(sender, "wamid.order-1", "primero", ts=1764000050))
        fcntl.flock(lock, fcntl.LOCK_UN)
    r = ov.run_worker()
    expect_eq(r.returncode, 0, "worker exit")
    # A copy started by the webhook may have taken the lock first.
    expect(ov.wait_idle(), "spool drained")
    rows = ov.query("SELECT id FROM mensajes WHERE wa_id = ? ORDER BY seq", sender)
    expect_eq([r["id"] for r in rows], ["wamid.order-1", "wamid.order-2"],
              "recorded oldest first")


def test_killed_coordinator_is_replaced_at_once_not_after_the_lease():
    """A coordinator SIGKILLed while it holds claims: with the default
    300 s lease, the next run still takes everything back at once."""
    ids = spool_backlog("fast", 20, 200, "54934166%05d", 1764100000)
    proc = subprocess.Popen([os.path.join(ov.home, "jobs", "worker")],
                            env=ov.worker_env(OVIDIO_SPOOL_LEASE=300),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline and not ov.spool("cur"):
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    expect(len(ov.spool("new")) + len(ov.spool("cur")) > 0,
           "the kill interrupted work")
    start = time.time()
    r = ov.run_worker(OVIDIO_SPOOL_LEASE=300)
    expect(ov.wait_idle(timeout=20), "drained by the next run (stderr: %s)"
           % r.stderr[-500:])
    took = time.time() - start
    expect(took < 30, "took %.1f s, not a lease" % took)
    expect_handled_once_in_order("fast", ids)


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_child_killed_in_a_job_loses_nothing_and_keeps_order():
    """A pool child SIGKILLed while it handles a sender: the coordinator
    goes on with the others, that sender's messages wait in the spool, and
    the next run handles them once each, in order."""
    ids = spool_backlog("kid", 30, 300, "54934177%05d", 1764200000)
    log_path = os.path.join(WORK, "kid-kill.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([os.path.join(ov.home, "jobs", "worker")],
                                env=ov.worker_env(OVIDIO_SPOOL_LEASE=300),
                                stdout=subprocess.DEVNULL, stderr=log)
    killed = 0
    while proc.poll() is None:
        kids = children_of(proc.pid)
        if kids:
            try:
                os.kill(kids[0], signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.01)
        with open(log_path, errors="replace") as f:
            if "(killed by signal 9)" in f.read():
                break
    rc = proc.wait(timeout=60)
    expect(killed > 0, "a child was killed")
    with open(log_path, errors="replace") as f:
        log = f.read()
    expect("(killed by signal 9)" in log, "a job was cut short: %s" % log[-800:])
    expect(rc in (0, 1), "the coordinator carried on (exit %r)" % rc)
    r = ov.run_worker(OVIDIO_SPOOL_LEASE=300)
    expect(ov.wait_idle(timeout=20), "drained by the next run (stderr: %s)"
           % r.stderr[-500:])
    expect_handled_once_in_order("kid", ids)


def test_poison_message_goes_to_failed_and_the_rest_is_handled():
    """The store refuses an id with a control character: that message
    alone goes to spool/failed with a .why; its payload's other message is
    handled, and the file is not retried forever."""
    good = json.loads(payload("5493417770001", "wamid.poison-good", "hola"))
    bad = json.loads(payload("5493417770002", "wamid.poison\u0001bad", "x"))
    value = good["entry"][0]["changes"][0]["value"]
    value["messages"] += bad["entry"][0]["changes"][0]["value"]["messages"]
    value["contacts"] += bad["entry"][0]["changes"][0]["value"]["contacts"]
    before = set(ov.spool("failed"))
    expect_eq(ov.post_webhook(json.dumps(value and good).encode())[0], 200,
              "accepted")
    ov.run_worker()
    expect(ov.wait_idle(), "spool drained")
    expect_eq([r["status"] for r in stored("wamid.poison-good")], ["handled"],
              "the good message")
    kept = sorted(set(ov.spool("failed")) - before)
    expect_eq(len(kept), 2, "one file and its .why: %r" % kept)
    why = [n for n in kept if n.endswith(".why")][0]
    with open(os.path.join(ov.data, "spool", "failed", why)) as f:
        text = f.read()
    expect("error:" in text and "attempts: 1" in text, "why: %r" % text)
    with open(os.path.join(ov.data, "spool", "failed", why[:-4]), "rb") as f:
        expect(b"poison" in f.read(), "the message itself is kept")
    # After a fix an operator puts it back; it is tried once more.
    r = subprocess.run([os.path.join(ov.home, "jobs", "worker"),
                        "--retry-failed", why[:-4]], env=ov.worker_env(),
                       capture_output=True, text=True, timeout=30)
    expect_eq(r.returncode, 0, "retry-failed exit (%s)" % r.stderr)
    expect(why[:-4] not in ov.spool("failed") and why not in ov.spool("failed"),
           "put back")
    expect(why[:-4] in ov.spool("new"), "in spool/new")
    ov.run_worker()
    expect(ov.wait_idle(), "spool drained again")


def test_stale_tmp_files_are_removed_by_the_worker():
    tmp = os.path.join(ov.data, "spool", "tmp")
    old = os.path.join(tmp, "1764000000000000000.1.0123456789abcdef.json")
    fresh = os.path.join(tmp, "1764000000000000001.1.0123456789abcdef.json")
    for p in (old, fresh):
        with open(p, "w") as f:
            f.write("{")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    ov.run_worker()
    expect(not os.path.exists(old), "a two-hour-old leftover is removed")
    expect(os.path.exists(fresh), "a fresh one (a webhook writing) stays")
    os.unlink(fresh)


def test_webhook_500_when_configuration_lacks_the_secret():
    """Run the installed CGI as Apache would, with no app secret configured."""
    env = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "2",
           "HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64,
           "OVIDIO_DATA_DIR": ov.data, "PATH": "/usr/bin:/bin"}
    r = subprocess.run([os.path.join(ov.home, "cgi-bin", "webhook")], input=b"{}",
                       env=env, capture_output=True, timeout=10)
    expect(r.stdout.startswith(b"Status: 500"), "500: %r" % r.stdout[:40])
    expect(b"WHATSAPP_APP_SECRET" in r.stderr, "log names the key: %r" % r.stderr)


def main():
    t = Runner()
    try:
        ov.start()
    except Exception as e:  # noqa: BLE001
        print("cannot start Apache:", e)
        print("0 passed, 1 failed")
        return 1
    try:
        for name, fn in list(globals().items()):
            if name.startswith("test_") and callable(fn):
                t.run(fn)
    finally:
        ov.stop()
    if t.failed:
        print("--- Apache error log (tail) ---")
        print(ov.error_log()[-4000:])
        wl = os.path.join(ov.data, "log", "worker.log")
        if os.path.exists(wl):
            print("--- worker log (tail) ---")
            with open(wl, errors="replace") as f:
                print(f.read()[-4000:])
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
