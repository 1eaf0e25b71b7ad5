#!/usr/bin/python3
"""shop_server.py - the distributor's public shop back end standing in for
tests and benchmarks: the product list the old bot read.

    /usr/bin/python3 tests/standins/shop_server.py --port 0 --port-file FILE \
        [--products N] [--whole]

Listens on 127.0.0.1 only, writes its port to FILE once it accepts
connections, serves until SIGTERM or SIGINT. Stdlib only.

  GET /IDSRBE/Productos/ConsProductos?pagina=P&cantidad=C
      {"producto": [...]} with producto, codigoInterno, marca, precioUSD,
      precioARS, stockTotal, categoria, imagenes, descripcion; pages of C
      (P from 1), or the whole list with --whole (parameters ignored, as
      some back ends do). Every third product has no image; one has
      imagenes as objects ({"url": ...}).
  GET /img/NAME.jpg    a small JPEG
  POST /__control      {"products": N} a new list size; {"bad_page": P}
                       page P answers broken JSON; {"status": S} every
                       list request answers S; {} resets bad_page/status.
"""
import argparse
import http.server
import json
import os
import signal
import sys
import threading
import urllib.parse

STOP = threading.Event()
LOCK = threading.Lock()
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707"
    "07090908") + b"\x00" * 16 + bytes.fromhex("ffd9")
BRANDS = ["Dahua", "Hikvision", "Imou", "EZVIZ", "DSC", "Garnet"]


def product(i, host):
    p = {"producto": "Cámara %s %dMP modelo %05d" % (BRANDS[i % 6],
                                                     2 + i % 4, i),
         "codigoInterno": "SH%05dA" % i,
         "marca": BRANDS[i % 6],
         "precioUSD": round(20 + (i % 50) * 1.25, 2),
         "precioARS": round((20 + (i % 50) * 1.25) * 1000, 2),
         "stockTotal": i % 7,
         "categoria": "Cámaras",
         "descripcion": "Cámara de seguridad %d" % i,
         "imagenes": []}
    if i % 3 != 2:
        p["imagenes"] = ["http://%s/img/SH%05dA.jpg" % (host, i),
                         "http://%s/img/SH%05dA-b.jpg" % (host, i)]
    if i == 4:
        p["imagenes"] = [{"url": "http://%s/img/SH00004A.jpg" % host}]
    return p


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        st = self.server.state
        if u.path.startswith("/img/") and u.path.endswith(".jpg"):
            return self.send(200, JPEG, "image/jpeg")
        if u.path != "/IDSRBE/Productos/ConsProductos":
            return self.send(404, b'{"error":"not found"}')
        q = urllib.parse.parse_qs(u.query)
        with LOCK:
            n, bad, status = st["products"], st["bad_page"], st["status"]
        if status:
            return self.send(status, b'{"error":"forced"}')
        host = "127.0.0.1:%d" % self.server.server_address[1]
        page = int(q.get("pagina", ["1"])[0])
        size = int(q.get("cantidad", ["100"])[0])
        if self.server.args.whole:
            items = range(n)
        else:
            items = range((page - 1) * size, min(page * size, n))
        if bad == page:
            return self.send(200, b'{"producto": [{"producto": "trunc')
        body = json.dumps({"producto": [product(i, host) for i in items]},
                          ensure_ascii=False).encode()
        self.send(200, body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        ctl = json.loads(self.rfile.read(n) or b"{}")
        with LOCK:
            st = self.server.state
            if "products" in ctl:
                st["products"] = int(ctl["products"])
            st["bad_page"] = ctl.get("bad_page")
            st["status"] = ctl.get("status")
        self.send(200, b'{"ok":true}')


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
    ap.add_argument("--products", type=int, default=1200)
    ap.add_argument("--whole", action="store_true")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.args = args
    server.state = {"products": args.products, "bad_page": None,
                    "status": None}
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    if args.port_file:
        tmp = "%s.%d.tmp" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    while not STOP.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
