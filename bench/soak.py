"""bench/soak: nothing lost, doubled, unanswered or out of order under faults.

Under a real Apache 2.4 (harness.Ovidio, as bench/webhook), SOAK_SENDERS
customers (300) each write SOAK_MESSAGES (8) messages, POSTed signed to the
webhook by 8 client threads: some payloads carry messages of two or three
senders, SOAK_REDELIVER (10 %) of the payloads are delivered again later,
and payloads of delivery statuses are mixed in. A customer's messages are
POSTed one after the other (each acknowledged before the next), as Meta
delivers them. Meanwhile:
  - a killer SIGKILLs, at random moments, the worker's coordinator or one
    of its children (found through /proc: the coordinator is the worker
    whose parent is not a worker);
  - the Graph API stand-in answers 500, or 429 (code 130429), or hangs
    (slow_next) for SOAK_HANG_S seconds (2, 4 or 8), in windows. A hang
    stays inside the WhatsApp client's time-out (10 s a request, in
    lib/whatsapp.c), as Meta's answers do almost always: a hang past it is
    a send that Meta took while Ovidio gave up on it, which the Cloud API
    (no idempotency key) cannot tell from a lost one; the client's own
    retry within the call sends it again at once and the customer reads
    it twice. SOAK_HANG_S=3,6,12 shows those doubles.
The Graph stand-in posts a "sent" status webhook for every message it
takes, through Apache, as Meta does, echoing the message's
biz_opaque_callback_data (Meta also posts delivered and read: the same
callback data, only more load).
After the burst, a cron-like loop runs jobs/worker every SOAK_CRON_S (10)
seconds until every message is handled and every reply sent.

The soak has a catalog: the Cianbox stand-in serves the sample catalog of
`make run` (tests/standins/sample_data.py, merged with the fixture account
as tests/integration/test_dialogues.py does, whose helpers it imports) and
jobs/catalog-sync loads it before the burst. Each message of a customer
asks the price of a different product in stock, by its code ("precio del
DH-HAC-HDW1100TP-0280B"); the bot answers with that product's card, which
names the product. So each reply at the Graph stand-in says which messages
it answers by the product names in it, read in order (one WhatsApp message
may join the answers of several messages of one turn). From that:
  accepted     POSTs answered 2xx (distinct messages in them)
  stored       distinct messages in the store
  lost         accepted messages not in the store
  answered twice   messages whose product is named more than once in the
                   replies to that customer
  unanswered   messages whose product no reply to that customer names
  out of order     messages first answered after a later message of the
                   same customer was
  drain        seconds from the end of the burst (and from the last kill)
               until all is handled and answered
Targets (issue 13): 0 lost, 0 twice, 0 unanswered, 0 out of order, drained
<= 60 s after the last kill with default settings.

What bounds the figures (default runs, 2026-12-05, quiet machine: 0
lost, 0 twice, 0 unanswered, 0 out of order, drained 40.8, 30.6, 30.8,
40.4, 30.7 and 30.6 s after the burst in six runs with the worker's
process pool; 60.4 to 60.7 s in five runs earlier that day, with a
process per sender). A drain SIGKILLed after Meta took a reply
and before it deleted the outbox entry no longer holds the entry for
OUTBOX_CLAIM_S (300 s): the claim names its process ("host:pid"), and the
next drain, seeing that process gone, takes the entry back at once. Nor
does the reply go out twice: it carried biz_opaque_callback_data naming
the entry and part, its "sent" status webhook brings that back, and the
entry waits at most OUTBOX_INFLIGHT_GRACE_S (20 s) for it before sending
what no status came back for (at least once stays the floor); a
customer's later replies wait behind it, in order. With SOAK_DEBUG=1 the
state after each cron-like run is printed: 20 s after the burst every
message was handled and the spool empty, and only replies behind a
taken-back entry's grace were left; the loop checks after each cron-like
run (every 10 s), so the next look, at about 30 s, finds all drained.
tests/integration/test_outbox_crash.py kills a worker exactly there.

Run through bench/soak (which builds and sandboxes it).
"""
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

from harness import APP_SECRET, VERIFY_TOKEN, Ovidio
import test_dialogues as dlg    # the Cianbox stand-in and its sample catalog

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
SENDERS = int(os.environ.get("SOAK_SENDERS", "300"))
PER_SENDER = int(os.environ.get("SOAK_MESSAGES", "8"))
REDELIVER = float(os.environ.get("SOAK_REDELIVER", "0.10"))
CRON_S = float(os.environ.get("SOAK_CRON_S", "10"))
DRAIN_MAX_S = float(os.environ.get("SOAK_DRAIN_MAX_S", "900"))
THREADS = 8
SEED = int(os.environ.get("SOAK_SEED", "13"))
DEBUG = bool(os.environ.get("SOAK_DEBUG"))
HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(HERE, "standins")
TOKEN = "soak-graph-token"
PHONE_ID = "110000000000001"
CIANBOX_USER, CIANBOX_PASS = "ovidio", "clave-soak"
# What each message says: the price of one product, by its code.
TEXT = os.environ.get("SOAK_TEXT", "precio del %s")
# How long the Graph stand-in hangs (one of these, at random): below the
# WhatsApp client's 10 s time-out by default (see the header).
HANG_S = [float(x) for x in os.environ.get("SOAK_HANG_S", "2,4,8").split(",")]


def words(s):
    return [w for w in re.split(r"[^0-9a-z]+", dlg.fold(s)) if len(w) > 1]


def catalog_pool(fixtures_dir):
    """Products a message can ask for: in stock (no out-of-stock turn that
    offers others), whose code's words (a letter alone left out) start no
    word of any other product (a code like PLUG-DC-M finds the male and the
    female plug: a list, not a card) and whose name is part of no other's,
    so "precio del CODE" finds that one product and its name in a reply is
    that product's. [(code, name)] in catalog order."""
    with open(os.path.join(fixtures_dir, "productos_page1.json")) as f:
        items = json.load(f)["body"]
    names = [p["producto"] for p in items]
    vocab = [set(words(" ".join(str(p.get(k) or "") for k in (
        "codigo_interno", "producto", "descripcion", "marca", "categoria"))))
        for p in items]
    pool = []
    for i, p in enumerate(items):
        code, name = p.get("codigo_interno") or "", p["producto"]
        avail = sum(int(float(s.get("disponible", 0)))
                    for s in p.get("stock_sucursal", []))
        cw = words(code)
        if not cw or avail < 5 or sum(name.lower() in n.lower()
                                      for n in names) > 1:
            continue
        if any(all(any(v.startswith(w) for v in vocab[j]) for w in cw)
               for j in range(len(items)) if j != i):
            continue
        pool.append((code, name))
    return pool


def texts_of(obj):
    """Every string in a sent payload, in order (what the customer reads)."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in texts_of(v)]
    if isinstance(obj, list):
        return [t for v in obj for t in texts_of(v)]
    return []


def answers_in(text, asked):
    """The messages a reply answers, in the order it names their products:
    asked is [(n, product name)] of its customer."""
    low = text.lower()
    hits = []
    for n, name in asked:
        i = low.find(name.lower())
        while i >= 0:
            hits.append((i, n))
            i = low.find(name.lower(), i + 1)
    return [n for _, n in sorted(hits)]


def start_graph(hook):
    """The Graph stand-in, posting status webhooks to hook as Meta does."""
    portfile = os.path.join(WORK, "graph.port")
    log = open(os.path.join(WORK, "graph.log"), "wb")
    boot = ("import sys; sys.path.insert(0, %r); sys.argv[0] = 'graph_server';"
            " import graph_server as g; g.Handler.disable_nagle_algorithm = True;"
            " sys.exit(g.main())" % STANDINS)
    p = subprocess.Popen(["/usr/bin/python3", "-c", boot,
                          "--port", "0", "--port-file", portfile,
                          "--token", TOKEN, "--phone-number-id", PHONE_ID,
                          "--webhook", hook, "--app-secret", APP_SECRET],
                         stdout=log, stderr=log)
    for _ in range(400):
        if os.path.exists(portfile):
            with open(portfile) as f:
                s = f.read().strip()
            if s:
                return p, int(s)
        time.sleep(0.05)
    raise RuntimeError("graph stand-in did not start")


def graph_call(port, method, path, obj=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, json.dumps(obj) if obj is not None else None,
              {"Content-Type": "application/json"})
    data = c.getresponse().read()
    c.close()
    return json.loads(data) if data else None


def probe(ov, gport, pool):
    """The products of the pool whose "precio del CODE", asked once by a
    customer of its own before the burst, gets replies naming that product
    and no other of the pool, once: what the soak's messages may ask."""
    who = {}
    for i, (code, _) in enumerate(pool):
        m = {"from": "54934179%05d" % i, "id": "wamid.probe-%03d" % i,
             "timestamp": str(1763990000 + i), "type": "text",
             "text": {"body": TEXT % code}}
        who[m["from"]] = i
        b = payload([m])
        status = ov.post_webhook(b)[0]
        assert 200 <= status < 300, "probe POST: %d" % status
    deadline = time.time() + 300
    while time.time() < deadline:
        ov.run_worker(timeout=300)
        handled = ov.query("SELECT COUNT(*) AS n FROM mensajes WHERE dir = 0 "
                           "AND status = 'handled' AND id LIKE 'wamid.probe-%'")[0]["n"]
        waiting = ov.query("SELECT COUNT(*) AS n FROM outbox")[0]["n"]
        if handled >= len(pool) and waiting == 0:
            break
        time.sleep(1)
    named = {}
    for e in graph_call(gport, "GET", "/__sent"):
        i = who.get(e.get("to"))
        if i is None:
            continue
        text = "\n".join(texts_of(e["payload"]))
        named.setdefault(i, []).extend(
            answers_in(text, [(j, n) for j, (_, n) in enumerate(pool)]))
    return [p for i, p in enumerate(pool) if named.get(i) == [i]]


def sender_id(s):
    return "54934177%05d" % s


ASKED = {}   # sender -> [(code, name)] of its messages 0..PER_SENDER-1


def message(s, n):
    return {"from": sender_id(s), "id": "wamid.soak-%03d-%02d" % (s, n),
            "timestamp": str(1764000000 + n * 600 + s),
            "type": "text", "text": {"body": TEXT % ASKED[s][n][0]}}


def payload(msgs=(), statuses=()):
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "5493414000000",
                          "phone_number_id": PHONE_ID}}
    if msgs:
        value["contacts"] = [{"profile": {"name": "Cliente %s" % m["from"][-3:]},
                              "wa_id": m["from"]} for m in msgs]
        value["messages"] = list(msgs)
    if statuses:
        value["statuses"] = list(statuses)
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "104857600000001", "changes": [{"field": "messages",
                                              "value": value}]}]}).encode()


def plan(rng):
    """Per client thread, the bodies it POSTs in order. A sender belongs to
    one thread, so its messages go out in order, each acknowledged before
    the next; payloads mix two or three senders of that thread."""
    per_thread = [[] for _ in range(THREADS)]
    for t in range(THREADS):
        senders = [s for s in range(SENDERS) if s % THREADS == t]
        nxt = {s: 0 for s in senders}
        bodies = []
        while any(nxt[s] < PER_SENDER for s in senders):
            live = [s for s in senders if nxt[s] < PER_SENDER]
            k = 1 if rng.random() < 0.7 or len(live) < 2 else min(len(live), rng.choice((2, 3)))
            group = rng.sample(live, k)
            msgs = []
            for s in group:
                msgs.append(message(s, nxt[s]))
                nxt[s] += 1
            bodies.append(payload(msgs))
            if rng.random() < 0.08:
                sts = [{"id": "wamid.out-%d" % rng.randrange(10 ** 9),
                        "status": rng.choice(("sent", "delivered", "read")),
                        "timestamp": str(1764000000 + rng.randrange(10 ** 5)),
                        "recipient_id": sender_id(rng.choice(senders))}
                       for _ in range(rng.randint(1, 3))]
                bodies.append(payload(statuses=sts))
        # Re-deliveries: a copy of an earlier body, a little later.
        out = []
        for i, b in enumerate(bodies):
            out.append(b)
            if rng.random() < REDELIVER and i > 0:
                out.append(bodies[rng.randrange(max(0, i - 5), i)])
        per_thread[t] = out
    return per_thread


def worker_pids(home):
    exe = os.path.realpath(os.path.join(home, "jobs", "worker"))
    pids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/exe" % d) != exe:
                continue
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            pids[int(d)] = ppid
        except OSError:
            continue
    coord = [p for p, pp in pids.items() if pp not in pids]
    kids = [p for p, pp in pids.items() if pp in pids]
    return coord, kids


def write_config(ov, settings):
    """Ovidio's configuration file, as harness.Ovidio writes it."""
    tmp = ov.config + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for k, v in settings.items():
            f.write("%s=%s\n" % (k, v))
    os.rename(tmp, ov.config)


def main():
    rng = random.Random(SEED)
    fixtures = dlg.cianbox_fixtures()
    candidates = catalog_pool(fixtures)
    cport = dlg.start_standin("cianbox", "cianbox_server.py",
                              ["--fixtures", fixtures, "--user", CIANBOX_USER,
                               "--password", CIANBOX_PASS])
    settings = {
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "OVIDIO_WORKERS": "4",
        "WHATSAPP_TOKEN": TOKEN, "PHONE_NUMBER_ID": PHONE_ID,
        "CIANBOX_URL": "http://127.0.0.1:%d" % cport,
        "CIANBOX_ACCOUNT": "micuenta", "CIANBOX_USER": CIANBOX_USER,
        "CIANBOX_PASS": CIANBOX_PASS,
        "OVIDIO_LOG": "info"}
    ov = Ovidio(HOME, WORK, settings)
    ov.start()
    # Apache first: Meta's status webhooks (the stand-in's) come to it.
    graph, gport = start_graph("http://127.0.0.1:%d/cgi-bin/webhook" % ov.port)
    settings["WHATSAPP_API_URL"] = "http://127.0.0.1:%d/v21.0" % gport
    write_config(ov, settings)
    # One "sent" status per message, at once: what tells a drain that a
    # reply whose sender was killed went out (Meta also posts delivered
    # and read, which carry the same callback data and add only load).
    graph_call(gport, "POST", "/__control", {"statuses": ["sent"],
                                             "status_delay": 0})
    stop = threading.Event()
    kills = {"coordinator": 0, "child": 0, "last": None}
    faults = {"500": 0, "429": 0, "hang": 0}
    accepted_ids, posts = set(), {"ok": 0, "failed": 0}
    lock = threading.Lock()
    try:
        r = ov.run_worker()
        assert r.returncode == 0, r.stderr
        r = subprocess.run([os.path.join(HOME, "jobs", "catalog-sync")],
                           env=ov.worker_env(), capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, "catalog-sync: " + r.stderr[-400:]
        synced = ov.query("SELECT COUNT(*) AS n FROM productos_cache")[0]["n"]
        pool = probe(ov, gport, candidates)
        assert len(pool) >= PER_SENDER, "only %d products probed" % len(pool)
        prng = random.Random(SEED + 1)
        for s in range(SENDERS):
            ASKED[s] = prng.sample(pool, PER_SENDER)
        bodies = plan(rng)
        total_posts = sum(len(b) for b in bodies)

        def client(t):
            conn = None
            for b in bodies[t]:
                for attempt in range(5):
                    try:
                        if conn is None:
                            conn = http.client.HTTPConnection("127.0.0.1", ov.port,
                                                              timeout=30)
                        conn.request("POST", "/cgi-bin/webhook", b, {
                            "Content-Type": "application/json",
                            "X-Hub-Signature-256": ov.sign(b)})
                        resp = conn.getresponse()
                        resp.read()
                        status = resp.status
                    except (OSError, http.client.HTTPException):
                        conn = None
                        status = 0
                    if 200 <= status < 300:
                        break
                    time.sleep(0.2)   # Meta retries what was not acknowledged
                with lock:
                    if 200 <= status < 300:
                        posts["ok"] += 1
                        for m in json.loads(b)["entry"][0]["changes"][0]["value"].get("messages", []):
                            accepted_ids.add(m["id"])
                    else:
                        posts["failed"] += 1
            if conn is not None:
                conn.close()

        def killer():
            while not stop.wait(rng.uniform(0.3, 1.5)):
                coord, kids = worker_pids(HOME)
                victims = []
                if coord and (not kids or rng.random() < 0.5):
                    victims, what = [rng.choice(coord)], "coordinator"
                elif kids:
                    victims, what = [rng.choice(kids)], "child"
                for p in victims:
                    try:
                        os.kill(p, signal.SIGKILL)
                        kills[what] += 1
                        kills["last"] = time.time()
                    except OSError:
                        pass

        def graph_faults():
            while not stop.wait(rng.uniform(1.0, 3.0)):
                kind = rng.choice(("500", "429", "hang"))
                n = rng.randint(3, 15)
                if kind == "500":
                    ctl = {"fail_next": [{"http": 500, "code": 1}] * n}
                elif kind == "429":
                    ctl = {"fail_next": [{"http": 429, "code": 130429}] * n}
                else:
                    ctl = {"slow_next": n, "slow_seconds": rng.choice(HANG_S)}
                try:
                    graph_call(gport, "POST", "/__control", ctl)
                    faults[kind] += 1
                except OSError:
                    pass

        helpers = [threading.Thread(target=killer, daemon=True),
                   threading.Thread(target=graph_faults, daemon=True)]
        clients = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
        t0 = time.time()
        for th in helpers + clients:
            th.start()
        for th in clients:
            th.join()
        burst_end = time.time()
        stop.set()
        for th in helpers:
            th.join()
        last_kill = kills["last"] or burst_end
        # Cron-like runs until every message is handled and answered.
        expected = {"wamid.soak-%03d-%02d" % (s, n)
                    for s in range(SENDERS) for n in range(PER_SENDER)}
        runs = 0
        drained_at = None
        # Drained: the spool empty, every accepted message handled and no
        # reply left in the outbox.
        while time.time() - burst_end < DRAIN_MAX_S:
            handled = ov.query("SELECT COUNT(*) AS n FROM mensajes WHERE dir = 0 "
                               "AND status = 'handled' AND id LIKE 'wamid.soak-%'")[0]["n"]
            waiting = ov.query("SELECT COUNT(*) AS n FROM outbox")[0]["n"]
            if (handled >= len(accepted_ids) and waiting == 0
                    and not ov.spool("new") and not ov.spool("cur")):
                drained_at = time.time()
                break
            if DEBUG:
                now = int(time.time())
                left = ov.query("SELECT wa_id, attempts, next_attempt_at, "
                                "claimer, orphaned FROM outbox")
                print("  after run %d (%.0f s): handled %d of %d, spool new %d"
                      " cur %d, outbox %s" % (
                          runs, time.time() - burst_end, handled,
                          len(accepted_ids), len(ov.spool("new")),
                          len(ov.spool("cur")),
                          ["%s try %d due in %d s%s%s" % (
                              r["wa_id"][-4:], r["attempts"],
                              r["next_attempt_at"] - now,
                              " claimed by " + r["claimer"] if r["claimer"]
                              else "", " taken back" if r["orphaned"] else "")
                           for r in left[:8]]), flush=True)
            time.sleep(CRON_S)
            r = ov.run_worker(timeout=600)
            runs += 1
        ov.wait_idle(30)
    finally:
        stop.set()
        ov.stop()
        for p in dlg.procs:
            p.terminate()

    # ---- the figures --------------------------------------------------
    sent = [e for e in graph_call_safe(gport) if e["kind"] == "message"]
    graph.terminate()
    if os.environ.get("SOAK_DEBUG"):
        with open(os.path.join(WORK, "sent.json"), "w") as f:
            json.dump(sent, f, ensure_ascii=False)
    stored = {r["id"] for r in ov.query(
        "SELECT id FROM mensajes WHERE dir = 0 AND id LIKE 'wamid.soak-%'")}
    lost = accepted_ids - stored
    answered = {}    # (sender, n) -> times its product is named
    per_sender = {}  # sender -> [n] in the order the replies name them
    by_wa = {sender_id(x): x for x in range(SENDERS)}
    for e in sent:
        x = by_wa.get(e["to"])
        if x is None:
            continue
        asked = [(n, name) for n, (_, name) in enumerate(ASKED[x])]
        for n in answers_in("\n".join(texts_of(e["payload"])), asked):
            answered[(x, n)] = answered.get((x, n), 0) + 1
            per_sender.setdefault(x, []).append(n)
    order_bad = set()
    for x, seq in per_sender.items():
        seen_max = -1
        done = set()
        for n in seq:
            if n in done:
                continue
            done.add(n)
            if n < seen_max:
                order_bad.add((x, n))
            seen_max = max(seen_max, n)
    acc_tokens = {(int(m[11:14]), int(m[15:17])) for m in accepted_ids}
    twice = {t for t, c in answered.items() if c > 1 and t in acc_tokens}
    unanswered = acc_tokens - set(answered)
    left = {d: len(ov.spool(d)) for d in ("new", "cur", "failed")}
    print("bench/soak: %d senders x %d messages, %d POSTs by %d clients "
          "(multi-sender payloads, %.0f %% re-deliveries, statuses), through "
          "Apache 2.4 mod_cgid; default OVIDIO_SPOOL_LEASE; cron every %g s "
          "after the burst" % (SENDERS, PER_SENDER, total_posts, THREADS,
                               REDELIVER * 100, CRON_S))
    print("  catalog          %d products synced; each message asks the price "
          "of one of %d (of %d in stock with unambiguous code and name, those "
          "a probe before the burst saw answered by their own card)"
          % (synced, len(pool), len(candidates)))
    print("  burst            %.1f s; SIGKILLs: %d coordinators, %d children; "
          "Graph faults: %d x 500, %d x 429 (130429), %d hangs of %s s"
          % (burst_end - t0, kills["coordinator"], kills["child"],
             faults["500"], faults["429"], faults["hang"],
             "/".join("%g" % h for h in HANG_S)))
    print("  accepted         %d POSTs (%d refused after retries), %d distinct messages"
          % (posts["ok"], posts["failed"], len(accepted_ids)))
    print("  stored           %d" % len(stored))
    print("  lost             %d" % len(lost))
    print("  answered twice   %d" % len(twice))
    print("  unanswered       %d" % len(unanswered))
    print("  out of order     %d" % len(order_bad))
    if drained_at is not None:
        print("  drained          %.1f s after the burst, %.1f s after the last "
              "kill (%d cron-like runs)" % (drained_at - burst_end,
                                            drained_at - last_kill, runs))
    else:
        print("  drained          NOT within %d s (%d runs)" % (DRAIN_MAX_S, runs))
    print("  left in spool    new %d, cur %d, failed %d" % (left["new"], left["cur"],
                                                          left["failed"]))
    if os.environ.get("SOAK_DEBUG"):
        print("unanswered:", sorted(unanswered)[:20])
        print("twice:", sorted(twice)[:20])
        print("out of order:", sorted(order_bad)[:20])
        print("lost:", sorted(lost)[:20])
    ok = (not lost and not twice and not unanswered and not order_bad
          and drained_at is not None and drained_at - last_kill <= 60)
    print("targets met: %s" % ("yes" if ok else "NO"))
    return 0 if ok else 1


def graph_call_safe(port):
    try:
        return graph_call(port, "GET", "/__sent")
    except OSError:
        return []


if __name__ == "__main__":
    sys.exit(main())
