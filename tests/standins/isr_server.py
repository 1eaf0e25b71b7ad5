#!/usr/bin/python3
"""isr_server.py - the distributor's web back end (ISR) standing in for
tests: it receives the quotes Ovidio posts, as the old bot posted them.

    /usr/bin/python3 tests/standins/isr_server.py --port 0 --port-file FILE \
        [--dir DIR] [--key KEY]

Listens on 127.0.0.1 only, writes its port to FILE once it accepts
connections, serves until SIGTERM or SIGINT. Stdlib only.

  POST /api/presupuestos   a JSON object with the old payload's fields
      (origen, cliente{nombre, telefono}, vendedor, productos[{codigo,
      descripcion, cantidad, precioUSD, iva}], totales{subtotalUSD, ivaUSD,
      totalUSD}, validezDias, notas) and estado (nuevo, confirmado,
      cancelado): 201 {"ok": true}. A body that lacks one, or that is not
      JSON: 400 (the real back end refuses it too). With --key, a request
      without "Authorization: Bearer KEY" is 401.
  GET  /__received         what it accepted, in order (JSON list)
  POST /__control          {"status": 503} answers every post with that
                           status from now on; {"status": null} heals.
Each accepted post is also written to DIR (NNNN.json) when --dir is given,
so what was received survives a restart of the stand-in.
"""
import argparse
import http.server
import json
import os
import signal
import sys
import threading

STOP = threading.Event()
LOCK = threading.Lock()
BODY_MAX = 1024 * 1024

STATES = ("nuevo", "confirmado", "cancelado")


def problems(d):
    """What the real back end would refuse in d, as a list of texts."""
    out = []
    if not isinstance(d, dict):
        return ["not an object"]
    for k, t in (("origen", str), ("vendedor", str), ("notas", str),
                 ("cliente", dict), ("productos", list), ("totales", dict),
                 ("validezDias", int), ("estado", str)):
        if not isinstance(d.get(k), t) or isinstance(d.get(k), bool):
            out.append("%s missing or not %s" % (k, t.__name__))
    if d.get("estado") not in STATES:
        out.append("estado not one of %s" % (STATES,))
    c = d.get("cliente") or {}
    if not isinstance(c, dict) or not all(isinstance(c.get(k), str)
                                          for k in ("nombre", "telefono")):
        out.append("cliente{nombre, telefono}")
    for p in d.get("productos") or []:
        if not (isinstance(p, dict) and isinstance(p.get("codigo"), str) and
                isinstance(p.get("descripcion"), str) and
                isinstance(p.get("cantidad"), int) and
                isinstance(p.get("precioUSD"), (int, float)) and
                p.get("iva") in (21, 10.5)):
            out.append("producto %r" % (p,))
    t = d.get("totales") or {}
    if not (isinstance(t, dict) and all(isinstance(t.get(k), (int, float))
                                        for k in ("subtotalUSD", "ivaUSD",
                                                  "totalUSD"))):
        out.append("totales")
    elif abs(t["subtotalUSD"] + t["ivaUSD"] - t["totalUSD"]) > 0.005:
        out.append("totales do not add up")
    if not d.get("productos"):
        out.append("no productos")
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        print("isr_server: " + fmt % args, file=sys.stderr, flush=True)

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > BODY_MAX:
            return None
        return self.rfile.read(n)

    def do_GET(self):
        if self.path == "/__received":
            with LOCK:
                return self.answer(200, list(self.server.received))
        self.answer(404, {"error": "not found"})

    def do_POST(self):
        raw = self.read_body()
        if raw is None:
            return self.answer(413, {"error": "too big"})
        if self.path == "/__control":
            ctl = json.loads(raw or b"{}")
            with LOCK:
                self.server.forced = ctl.get("status")
            return self.answer(200, {"ok": True})
        if self.path != "/api/presupuestos":
            return self.answer(404, {"error": "not found"})
        with LOCK:
            forced = self.server.forced
        if forced:
            return self.answer(int(forced), {"error": "forced"})
        key = self.server.args.key
        if key and self.headers.get("Authorization") != "Bearer " + key:
            return self.answer(401, {"error": "unauthorized"})
        if (self.headers.get("Content-Type") or "").split(";")[0] != \
                "application/json":
            return self.answer(415, {"error": "json only"})
        try:
            d = json.loads(raw)
        except ValueError:
            return self.answer(400, {"error": "bad json"})
        bad = problems(d)
        if bad:
            return self.answer(400, {"error": "; ".join(bad)})
        with LOCK:
            self.server.received.append(d)
            if self.server.args.dir:
                n = len(self.server.received)
                p = os.path.join(self.server.args.dir, "%04d.json" % n)
                with open(p + ".tmp", "w") as f:
                    json.dump(d, f, ensure_ascii=False)
                os.rename(p + ".tmp", p)
        self.answer(201, {"ok": True})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # A real service takes a burst of connections; the default backlog (5)
    # would drop SYNs and make a client wait its own retransmits.
    request_queue_size = 128
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--dir")
    ap.add_argument("--key")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.args = args
    server.forced = None
    server.received = []
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
        for n in sorted(os.listdir(args.dir)):
            if n.endswith(".json"):
                with open(os.path.join(args.dir, n)) as f:
                    server.received.append(json.load(f))
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    if args.port_file:
        tmp = "%s.%d.tmp" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    print("isr_server: listening on 127.0.0.1:%d" % port, file=sys.stderr,
          flush=True)
    while not STOP.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
