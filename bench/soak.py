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
    (slow_next), in windows.
After the burst, a cron-like loop runs jobs/worker every SOAK_CRON_S (10)
seconds until every message is handled and every reply sent.

Each message asks for a product no catalog has, named by a token unique to
the message ("zq<sender>x<n>"); Ovidio answers "No encontré productos para
\"...\"" quoting what the turn read, so each reply at the Graph stand-in
says which messages it answers. From that:
  accepted     POSTs answered 2xx (distinct messages in them)
  stored       distinct messages in the store
  lost         accepted messages not in the store
  answered twice   messages quoted by more than one reply
  unanswered   messages quoted by no reply
  out of order     messages first answered after a later message of the
                   same customer was
  drain        seconds from the end of the burst (and from the last kill)
               until all is handled and answered
Targets (issue 13): 0 lost, 0 twice, 0 unanswered, 0 out of order, drained
<= 60 s after the last kill with default settings.

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

from harness import Ovidio

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
SENDERS = int(os.environ.get("SOAK_SENDERS", "300"))
PER_SENDER = int(os.environ.get("SOAK_MESSAGES", "8"))
REDELIVER = float(os.environ.get("SOAK_REDELIVER", "0.10"))
CRON_S = float(os.environ.get("SOAK_CRON_S", "10"))
DRAIN_MAX_S = float(os.environ.get("SOAK_DRAIN_MAX_S", "900"))
THREADS = 8
SEED = int(os.environ.get("SOAK_SEED", "13"))
HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(HERE, "standins")
TOKEN = "soak-graph-token"
PHONE_ID = "110000000000001"
TOKEN_RE = re.compile(r"zq(\d{3})x(\d+)")
# What each message says: a product no catalog has, named by its token.
TEXT = os.environ.get("SOAK_TEXT", "busco zq%03dx%d")


def start_graph():
    portfile = os.path.join(WORK, "graph.port")
    log = open(os.path.join(WORK, "graph.log"), "wb")
    boot = ("import sys; sys.path.insert(0, %r); sys.argv[0] = 'graph_server';"
            " import graph_server as g; g.Handler.disable_nagle_algorithm = True;"
            " sys.exit(g.main())" % STANDINS)
    p = subprocess.Popen(["/usr/bin/python3", "-c", boot,
                          "--port", "0", "--port-file", portfile,
                          "--token", TOKEN, "--phone-number-id", PHONE_ID],
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


def sender_id(s):
    return "54934177%05d" % s


def message(s, n):
    return {"from": sender_id(s), "id": "wamid.soak-%03d-%02d" % (s, n),
            "timestamp": str(1764000000 + n * 600 + s),
            "type": "text", "text": {"body": TEXT % (s, n)}}


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


def main():
    rng = random.Random(SEED)
    graph, gport = start_graph()
    ov = Ovidio(HOME, WORK, {
        "WHATSAPP_TOKEN": TOKEN, "PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % gport,
        "OVIDIO_LOG": "info"})
    bodies = plan(rng)
    total_posts = sum(len(b) for b in bodies)
    ov.start()
    stop = threading.Event()
    kills = {"coordinator": 0, "child": 0, "last": None}
    faults = {"500": 0, "429": 0, "hang": 0}
    accepted_ids, posts = set(), {"ok": 0, "failed": 0}
    lock = threading.Lock()
    try:
        r = ov.run_worker()
        assert r.returncode == 0, r.stderr

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
                    ctl = {"slow_next": n, "slow_seconds": rng.choice((3, 6, 12))}
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
            time.sleep(CRON_S)
            r = ov.run_worker(timeout=600)
            runs += 1
        ov.wait_idle(30)
    finally:
        stop.set()
        ov.stop()

    # ---- the figures --------------------------------------------------
    sent = [e for e in graph_call_safe(gport) if e["kind"] == "message"]
    graph.terminate()
    if os.environ.get("SOAK_DEBUG"):
        with open(os.path.join(WORK, "sent.json"), "w") as f:
            json.dump(sent, f, ensure_ascii=False)
    stored = {r["id"] for r in ov.query(
        "SELECT id FROM mensajes WHERE dir = 0 AND id LIKE 'wamid.soak-%'")}
    lost = accepted_ids - stored
    quoted = {}      # token -> number of replies quoting it
    first = {}       # (sender) -> list of (reply index, n) first answers
    order_bad = set()
    per_sender = {}
    for i, e in enumerate(sent):
        text = json.dumps(e["payload"], ensure_ascii=False)
        toks = {(int(a), int(b)) for a, b in TOKEN_RE.findall(text)}
        for tok in toks:
            quoted[tok] = quoted.get(tok, 0) + 1
            per_sender.setdefault(tok[0], []).append((i, tok[1]))
    for s, seq in per_sender.items():
        seen_max = -1
        firsts = {}
        for i, n in seq:
            firsts.setdefault(n, i)
        for n, i in sorted(firsts.items(), key=lambda x: x[1]):
            if n < seen_max:
                order_bad.add((s, n))
            seen_max = max(seen_max, n)
    acc_tokens = {(int(m[11:14]), int(m[15:17])) for m in accepted_ids}
    twice = {t for t, c in quoted.items() if c > 1 and t in acc_tokens}
    unanswered = acc_tokens - set(quoted)
    left = {d: len(ov.spool(d)) for d in ("new", "cur", "failed")}
    print("bench/soak: %d senders x %d messages, %d POSTs by %d clients "
          "(multi-sender payloads, %.0f %% re-deliveries, statuses), through "
          "Apache 2.4 mod_cgid; default OVIDIO_SPOOL_LEASE; cron every %g s "
          "after the burst" % (SENDERS, PER_SENDER, total_posts, THREADS,
                               REDELIVER * 100, CRON_S))
    print("  burst            %.1f s; SIGKILLs: %d coordinators, %d children; "
          "Graph faults: %d x 500, %d x 429 (130429), %d hangs"
          % (burst_end - t0, kills["coordinator"], kills["child"],
             faults["500"], faults["429"], faults["hang"]))
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
