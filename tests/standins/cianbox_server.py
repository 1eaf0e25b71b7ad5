#!/usr/bin/python3
"""cianbox_server.py - a Cianbox stand-in for Ovidio's tests (DESIGN.md 6).

Speaks the parts of Cianbox's API v2 and web panel that Ovidio uses, with
the answer shapes of ../shared/fixtures/cianbox:

    /usr/bin/python3 tests/standins/cianbox_server.py --port 0 \
        --port-file FILE [--fixtures DIR] [--products N] [--clients N]

It listens on 127.0.0.1 only, writes its port to FILE once it accepts
connections, and serves until SIGTERM or SIGINT. Stdlib only.

API, under /{account}/api/v2 (also with a trailing /lista):
  POST auth/credentials  app_name, app_code, user, password (form or JSON)
                         -> body.access_token, refresh_token, expires_in
  POST auth/refresh      refresh_token -> a new access token, no new
                         refresh token
  GET  productos, clientes, ventas, general/cotizaciones
                         access_token (query) required: unknown or
                         expired -> HTTP 401 {"status":"error", message}
                         page, limit (at most 200), fields, order, id,
                         numero_documento, numero_documento_venta
Answers carry status, page, total_pages and body like Cianbox's. With
--products N the catalog is the fixture items followed by generated ones
(numbers alternately as JSON numbers and as strings like "6599.0000",
some fields null or missing), produced page by page, so 50,000 items cost
no memory.

Panel: /{account}/login.php (GET: the login form; POST usuario, clave:
a PHPSESSID cookie and a redirect), /{account}/index.php, and POST
/{account}/content.php with sec=pv_productos: the product table, as in
panel_productos.html. Without a live session every panel page is the
login form, as the real panel does.

Test control, on the same server:
  POST /__control  JSON, any of:
     expire_tokens: true     every access token issued so far expires now
     expire_after: K         ... after K more successful data answers
     token_error_200: bool   expired tokens get HTTP 200 {"status":"error",
                             "message":"... access_token ..."} instead of 401
     refuse_refresh: bool    auth/refresh answers 401 (a dead refresh token)
     expires_in: S           lifetime of tokens issued from now on
     login_delay_ms: MS      auth/credentials takes this long
     fail_next: N            the next N API requests answer HTTP 500
     slow_next: N, slow_ms   the next N API requests wait slow_ms first
     error_next: {...}       the next data request answers this object
                             (status "error" added), HTTP "http" or 200
     omit_total_pages: bool  pages carry no total_pages
     panel_expire_sessions: true   forget every panel session
     panel_changed: bool     the panel serves a redesigned product table
     products: N, clients: N the catalog now has N items (fixture items
                             first, then generated ones; 0: an empty list,
                             as Cianbox answers for an account without any)
     reset_stats: true
  GET /__stats -> {"logins", "login_refused", "refreshes",
     "refresh_refused", "requests": {path: n}, "panel_logins",
     "panel_pages", "errors_500"}
"""

import argparse
import html
import json
import math
import os
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE_LIMIT_MAX = 200
LOCK = threading.Lock()


def envelope(module, method, body, page=None, total_pages=None,
             account="micuenta"):
    d = {"status": "ok", "scheme": "https", "host": "cianbox.org",
         "account": account, "module": module, "method": method}
    if page is not None:
        d["page"] = page
    if total_pages is not None:
        d["total_pages"] = total_pages
    d["body"] = body
    return d


def ar_number(v, decimals=2):
    """1210.0 -> '1.210,00' (Argentine format)."""
    s = f"{v:,.{decimals}f}"
    return s.replace(",", "X").replace(".", ",").replace("X", ".")


class Catalog:
    """Fixture items first, then generated ones up to the asked size."""

    def __init__(self, fixtures, n_products, n_clients):
        self.fixture_products = self._load(fixtures, "productos_page1.json")
        self.fixture_clients = self._load(fixtures, "clientes_page1.json")
        self.fixture_ventas = self._load(fixtures, "ventas.json")
        path = os.path.join(fixtures, "panel_productos.html")
        with open(path, encoding="utf-8") as f:
            self.fixture_panel = f.read()
        self.n_products = max(n_products, len(self.fixture_products))
        self.n_clients = max(n_clients, len(self.fixture_clients))
        self.generated = n_products > len(self.fixture_products)

    def resize(self, n_products=None, n_clients=None):
        """Test control: any size, down to an empty list."""
        if n_products is not None:
            self.n_products = max(0, int(n_products))
            self.generated = self.n_products > len(self.fixture_products)
        if n_clients is not None:
            self.n_clients = max(0, int(n_clients))

    @staticmethod
    def _load(fixtures, name):
        with open(os.path.join(fixtures, name), encoding="utf-8") as f:
            return json.load(f)["body"]

    def product(self, i):
        """Item i (0-based) of the catalog, in id order."""
        if i < len(self.fixture_products):
            return self.fixture_products[i]
        k = i - len(self.fixture_products)
        pid = 20000 + k
        neto = round(5 + (k * 37 % 5000) / 10.0, 2)
        alic = 1.105 if k % 5 == 0 else 1.21
        final = round(neto * alic, 2)
        stock = (k * 13) % 250
        as_text = k % 2 == 1   # Cianbox sends numbers both ways
        num = (lambda v, d=4: f"{v:.{d}f}") if as_text else (lambda v, d=4: v)
        item = {
            "id": str(pid) if as_text else pid,
            "updated": "2026-11-10 09:00:00",
            "producto": f"Producto de prueba {pid} cámara ñandú",
            "id_marca": 100 + k % 40,
            "marca": ["Dahua", "Hikvision", "DSC", "Genérica"][k % 4],
            "id_categoria": 3,
            "categoria": "Cámaras",
            "descripcion": None if k % 7 == 0 else f"Descripción {pid}",
            "codigo_interno": f"GEN-{pid}",
            "vigente": True if not as_text else "1",
            "precio_neto": num(neto),
            "alicuota_iva": num(alic, 3),
            "oferta": False,
            "stock_total": num(stock, 0) if as_text else stock,
        }
        if k % 7 != 0:
            item["codigo_barras"] = f"779{pid:010d}"
        if k % 11 != 0:
            item["precios"] = [{"id_lista_precio": 1,
                                "updated": "2026-11-10 09:00:00",
                                "id_moneda": 2, "neto": num(neto),
                                "final": num(final)}]
        return item

    def client(self, i):
        if i < len(self.fixture_clients):
            return self.fixture_clients[i]
        k = i - len(self.fixture_clients)
        cid = 5000 + k
        return {"id": cid, "updated": "2026-10-01 10:00:00",
                "razon": f"Cliente de prueba {cid}", "condicion": "CF",
                "tipo_documento": "DNI", "numero_documento": str(30000000 + k),
                "telefono": "", "celular": f"341 15 5{k % 1000000:06d}",
                "email": f"cliente{cid}@mail.com", "ctacte": False,
                "plazo": 0, "limite": 0, "saldo": "0.0000",
                "descuento": 0, "id_categoria": "0"}

    def ventas(self):
        older = dict(self.fixture_ventas[-1])
        older.update({"id": 80001, "fecha_carga": "2026-06-02 09:00:00",
                      "fecha": "2026-06-02", "numero": "00010001",
                      "total": "99.9000"})
        other = dict(self.fixture_ventas[0])
        other.update({"id": 88200, "numero_documento_venta": "30712345671",
                      "cliente": [{"id": "203", "nombre": "Litoral",
                                   "razon": "Instalaciones del Litoral SRL"}]})
        return [older] + list(self.fixture_ventas) + [other]


COTIZACIONES = [
    {"id": 1, "moneda": "Peso", "simbolo": "$", "codigo_afip": "PES",
     "cotizacion": 1, "principal": True, "vigente": True},
    {"id": 2, "moneda": "Dólar", "simbolo": "u$s", "codigo_afip": "DOL",
     "cotizacion": "1045.5000", "principal": False, "vigente": True},
    {"id": 3, "moneda": "Euro", "simbolo": "€", "codigo_afip": "060",
     "cotizacion": 1130.25, "principal": False, "vigente": False},
]

LOGIN_FORM = """<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><title>Cianbox - Ingresar</title></head>
<body><div class="login">{error}
<form method="post" action="login.php" id="form_login">
<input type="text" name="usuario" placeholder="Usuario">
<input type="password" name="clave" placeholder="Clave">
<button type="submit">Ingresar</button>
</form></div></body></html>
"""

CHANGED_PANEL = """<div class="modulo"><table class="tabla grid" id="tabla_productos">
<thead><tr><th>Artículo</th><th>Detalle</th><th>Existencia</th><th>Precio</th></tr></thead>
<tbody>
<tr data-id="10452"><td>DH-HAC-HDW1400TP</td><td>Cámara Domo Dahua 4MP</td><td>12</td><td>u$s 58,69</td></tr>
</tbody></table></div>
"""


class State:
    def __init__(self, args):
        self.args = args
        self.account = args.account
        self.catalog = Catalog(args.fixtures, args.products, args.clients)
        self.expires_in = args.expires_in
        self.access = {}         # token -> expiry (time.time())
        self.refresh = set()
        self.sessions = set()
        self.ctl = {"expire_after": None, "token_error_200": False,
                    "refuse_refresh": False, "login_delay_ms": 0,
                    "fail_next": 0, "slow_next": 0, "slow_ms": 0,
                    "error_next": None, "omit_total_pages": False,
                    "panel_changed": False}
        self.reset_stats()

    def reset_stats(self):
        self.stats = {"logins": 0, "login_refused": 0, "refreshes": 0,
                      "refresh_refused": 0, "requests": {},
                      "panel_logins": 0, "panel_pages": 0, "errors_500": 0}

    def new_access(self):
        tok = "CBX_AT-" + secrets.token_hex(16)
        self.access[tok] = time.time() + self.expires_in
        return tok

    def expire_all(self):
        for t in self.access:
            self.access[t] = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CianboxStandIn/1.0"

    def log_message(self, fmt, *args):   # quiet: tests read their own output
        if os.environ.get("CIANBOX_STANDIN_VERBOSE"):
            sys.stderr.write("cianbox_server: " + (fmt % args) + "\n")

    # ---- plumbing -------------------------------------------------------
    def send(self, code, body, ctype="application/json; charset=utf-8",
             headers=None):
        data = body if isinstance(body, bytes) else (
            json.dumps(body, ensure_ascii=False).encode("utf-8")
            if not isinstance(body, str) else body.encode("utf-8"))
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_raw(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def parse_form(self, raw):
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            try:
                d = json.loads(raw or b"{}")
                return {k: str(v) for k, v in d.items()} if isinstance(d, dict) else {}
            except ValueError:
                return {}
        return {k: v[0] for k, v in
                urllib.parse.parse_qs(raw.decode("utf-8", "replace")).items()}

    def error_json(self, code, **fields):
        d = {"status": "error", "scheme": "https", "host": "cianbox.org",
             "account": STATE.account}
        d.update(fields)
        self.send(code, d)

    # ---- routing --------------------------------------------------------
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        try:
            raw = self.read_raw() if method == "POST" else b""
        except ValueError:
            self.send(413, {"status": "error", "message": "too large"})
            return
        if path == "/__control" and method == "POST":
            self.control(raw)
            return
        form = self.parse_form(raw)
        if path == "/__stats" and method == "GET":
            with LOCK:
                self.send(200, STATE.stats)
            return
        acct = "/" + STATE.account
        if not path.startswith(acct + "/"):
            self.send(404, {"status": "error", "message": "Cuenta inexistente"})
            return
        rest = path[len(acct) + 1:]
        if rest in ("login.php", "index.php", "content.php"):
            self.panel(rest, method, form)
            return
        if not rest.startswith("api/v2/"):
            self.send(404, {"status": "error", "message": "No encontrado"})
            return
        endpoint = rest[len("api/v2/"):]
        if endpoint.endswith("/lista"):
            endpoint = endpoint[:-len("/lista")]
        self.api(endpoint, method, query, form)

    def control(self, raw):
        try:
            d = json.loads(raw or b"{}")
        except ValueError:
            self.send(400, {"error": "bad json"})
            return
        with LOCK:
            c = STATE.ctl
            if d.get("expire_tokens"):
                STATE.expire_all()
            if d.get("panel_expire_sessions"):
                STATE.sessions.clear()
            if d.get("reset_stats"):
                STATE.reset_stats()
            if "expires_in" in d:
                STATE.expires_in = int(d["expires_in"])
            if "products" in d or "clients" in d:
                STATE.catalog.resize(d.get("products"), d.get("clients"))
            for k in ("expire_after", "token_error_200", "refuse_refresh",
                      "login_delay_ms", "fail_next", "slow_next", "slow_ms",
                      "error_next", "omit_total_pages", "panel_changed"):
                if k in d:
                    c[k] = d[k]
            self.send(200, {"ok": True})

    # ---- API -------------------------------------------------------------
    def api(self, endpoint, method, query, form):
        key = f"{method} {endpoint}"
        with LOCK:
            STATE.stats["requests"][key] = STATE.stats["requests"].get(key, 0) + 1
            c = STATE.ctl
            slow = 0
            if c["slow_next"] > 0:
                c["slow_next"] -= 1
                slow = c["slow_ms"]
            fail = False
            if c["fail_next"] > 0:
                c["fail_next"] -= 1
                fail = True
                STATE.stats["errors_500"] += 1
        if slow:
            time.sleep(slow / 1000.0)
        if fail:
            self.send(500, "<html><body>500 Internal Server Error</body></html>",
                      "text/html")
            return
        if endpoint == "auth/credentials" and method == "POST":
            self.auth_credentials(form)
        elif endpoint == "auth/refresh" and method == "POST":
            self.auth_refresh(form)
        elif method == "GET" and endpoint in ("productos", "clientes", "ventas",
                                              "general/cotizaciones"):
            self.data(endpoint, query)
        else:
            self.error_json(404, message=f"Recurso inexistente: {endpoint}")

    def auth_credentials(self, form):
        a = STATE.args
        with LOCK:
            delay = STATE.ctl["login_delay_ms"]
        if delay:
            time.sleep(delay / 1000.0)
        if not form.get("app_name") or not form.get("app_code"):
            self.error_json(400, message="Faltan app_name o app_code")
            return
        if form.get("user") != a.user or form.get("password") != a.password:
            with LOCK:
                STATE.stats["login_refused"] += 1
            self.error_json(401, statusMessage="Usuario o contraseña incorrectos")
            return
        with LOCK:
            STATE.stats["logins"] += 1
            at = STATE.new_access()
            rt = "CBX_RT-" + secrets.token_hex(16)
            STATE.refresh.add(rt)
            exp = STATE.expires_in
        self.send(200, envelope("auth", "POST", {
            "access_token": at, "refresh_token": rt, "expires_in": exp},
            account=STATE.account))

    def auth_refresh(self, form):
        rt = form.get("refresh_token", "")
        with LOCK:
            if STATE.ctl["refuse_refresh"] or rt not in STATE.refresh:
                STATE.stats["refresh_refused"] += 1
                refused = True
            else:
                STATE.stats["refreshes"] += 1
                refused = False
                at = STATE.new_access()
                exp = STATE.expires_in
        if refused:
            self.error_json(401, body={
                "description": "El refresh_token es inválido o está vencido"})
            return
        self.send(200, envelope("auth", "POST", {
            "access_token": at, "expires_in": exp}, account=STATE.account))

    def token_valid(self, query):
        tok = query.get("access_token", "")
        with LOCK:
            exp = STATE.access.get(tok)
            return exp is not None and exp > time.time()

    def data(self, endpoint, query):
        with LOCK:
            if STATE.ctl["expire_after"] is not None and STATE.ctl["expire_after"] <= 0:
                STATE.expire_all()
                STATE.ctl["expire_after"] = None
        if not self.token_valid(query):
            with LOCK:
                as_200 = STATE.ctl["token_error_200"]
            if as_200:
                self.error_json(200, message="El access_token expiró, "
                                "solicite uno nuevo")
            else:
                self.error_json(401, message="Token de acceso inválido o vencido")
            return
        with LOCK:
            c = STATE.ctl
            err = c["error_next"]
            c["error_next"] = None
            if c["expire_after"] is not None:
                c["expire_after"] -= 1
            omit_total = c["omit_total_pages"]
        if err is not None:
            code = int(err.pop("http", 200)) if isinstance(err, dict) else 200
            self.error_json(code, **err)
            return
        try:
            page = max(1, int(query.get("page", "1")))
            limit = min(PAGE_LIMIT_MAX, max(1, int(query.get("limit", "50"))))
        except ValueError:
            self.error_json(400, message="Parámetros inválidos")
            return
        cat = STATE.catalog
        if endpoint == "general/cotizaciones":
            self.send(200, envelope("gr_config", "GET", COTIZACIONES, 1, 1,
                                    STATE.account))
            return
        if endpoint == "ventas":
            items = cat.ventas()
            doc = query.get("numero_documento_venta")
            if doc:
                items = [v for v in items if v["numero_documento_venta"] == doc]
            desc = query.get("order", "create-date-desc") != "create-date-asc"
            items.sort(key=lambda v: v["fecha_carga"], reverse=desc)
            total = len(items)
            get = items.__getitem__
            module = "pv_ventas"
        else:
            module = "pv_" + endpoint
            n = cat.n_products if endpoint == "productos" else cat.n_clients
            get = cat.product if endpoint == "productos" else cat.client
            ids = query.get("id")
            doc = query.get("numero_documento")
            if ids or doc:
                wanted = set(x for x in (ids or doc).split(",") if x)
                field = "id" if ids else "numero_documento"
                # Lookups by id or document: fixtures and the first pages.
                items = [get(i) for i in range(min(n, 2000))
                         if str(get(i).get(field)) in wanted]
                total = len(items)
                get = items.__getitem__
            else:
                total = n
        total_pages = max(1, math.ceil(total / limit))
        start = (page - 1) * limit
        body = [get(i) for i in range(start, min(total, start + limit))]
        fields = query.get("fields")
        if fields:
            keep = set(fields.split(","))
            body = [{k: v for k, v in it.items() if k in keep} for it in body]
        self.send(200, envelope(module, "GET", body, page,
                                None if omit_total else total_pages,
                                STATE.account))

    # ---- panel -------------------------------------------------------------
    def session(self):
        cookie = self.headers.get("Cookie", "")
        for part in cookie.split(";"):
            k, _, v = part.strip().partition("=")
            if k == "PHPSESSID":
                with LOCK:
                    return v in STATE.sessions
        return False

    def panel(self, page, method, form):
        a = STATE.args
        if page == "login.php":
            if method == "GET":
                self.send(200, LOGIN_FORM.format(error=""), "text/html; charset=utf-8")
                return
            if form.get("usuario") == a.user and form.get("clave") == a.password:
                sid = secrets.token_hex(16)
                with LOCK:
                    STATE.sessions.add(sid)
                    STATE.stats["panel_logins"] += 1
                self.send(302, "", "text/html; charset=utf-8", {
                    "Set-Cookie": f"PHPSESSID={sid}; path=/; HttpOnly",
                    "Location": f"/{STATE.account}/index.php"})
                return
            self.send(200, LOGIN_FORM.format(
                error='<p class="error">Usuario o clave incorrectos</p>'),
                "text/html; charset=utf-8")
            return
        if not self.session():
            self.send(200, LOGIN_FORM.format(error=""), "text/html; charset=utf-8")
            return
        if page == "index.php":
            self.send(200, "<html><body><h1>Panel</h1></body></html>",
                      "text/html; charset=utf-8")
            return
        if method != "POST" or form.get("sec") != "pv_productos":
            self.send(200, "<div class=\"modulo\">Sección inexistente</div>",
                      "text/html; charset=utf-8")
            return
        with LOCK:
            STATE.stats["panel_pages"] += 1
            changed = STATE.ctl["panel_changed"]
        if changed:
            self.send(200, CHANGED_PANEL, "text/html; charset=utf-8")
        elif (not STATE.catalog.generated and STATE.catalog.n_products
              == len(STATE.catalog.fixture_products)):
            self.send(200, STATE.catalog.fixture_panel, "text/html; charset=utf-8")
        else:
            self.send(200, self.panel_table(), "text/html; charset=utf-8")

    def panel_table(self):
        cat = STATE.catalog
        rows = []
        for i in range(cat.n_products):
            p = cat.product(i)
            neto = float(p.get("precio_neto") or 0)
            alic = float(p.get("alicuota_iva") or 1.21)
            precios = p.get("precios") or []
            final = (float(precios[0]["final"]) if precios
                     else round(neto * alic, 2))
            stock = int(float(p.get("stock_total") or 0))
            rows.append(
                f'<tr data-id="{p["id"]}"><td>{html.escape(str(p["marca"]).upper())}</td>'
                f'<td>{html.escape(p["codigo_interno"])}</td>'
                f'<td>{html.escape(p["producto"])}</td>'
                f'<td>{ar_number(stock, 0)}</td><td>1</td>'
                f'<td>{html.escape(p.get("categoria") or "")}</td>'
                f'<td>u$s {ar_number(final)}</td><td>u$s {ar_number(neto)}</td></tr>')
        return ('<div class="modulo"><table class="tabla" id="tabla_productos">\n'
                '<thead><tr><th>Marca</th><th>Código</th><th>Descripción</th>'
                '<th>Stock</th><th>Suc.</th><th>Rubro</th><th>Precio final</th>'
                '<th>Precio neto</th></tr></thead>\n<tbody>\n'
                + "\n".join(rows) + "\n</tbody></table></div>\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # A real service takes a burst of connections; the default backlog (5)
    # would drop SYNs and make a client wait its own retransmits.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that gave up (its time-out) is part of the tests.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


STATE = None


def main():
    global STATE
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--account", default="micuenta")
    ap.add_argument("--user", default="ovidio")
    ap.add_argument("--password", default="secreto-de-prueba")
    ap.add_argument("--fixtures", default=os.path.join(
        here, "..", "..", "..", "shared", "fixtures", "cianbox"))
    ap.add_argument("--products", type=int, default=0)
    ap.add_argument("--clients", type=int, default=0)
    ap.add_argument("--expires-in", type=int, default=86400)
    args = ap.parse_args()
    STATE = State(args)
    srv = Server(("127.0.0.1", args.port), Handler)

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
