"""The dialogue suite: scripted sales conversations (tests/dialogues/*.txt)
played through Apache, the webhook, the worker and the stand-ins (Graph,
Cianbox with the sample catalog, SMTP, OpenAI), judged turn by turn as a
salesperson would: the right product, price, quantity and total, nothing
leaked, few messages. The format of a dialogue is described in
tests/dialogues/README.md.

Every dialogue is played twice: by the rules (no model configured), then,
on a fresh data directory, with OPENAI_API_KEY set and the OpenAI stand-in
scripting the tool calls of each turn's `@model` lines.

Usage: test_dialogues.py HOME WORKDIR FIXTURES [--rules-only] [--bench]
       [--only NAME] [--verbose]
  --rules-only  skip the model pass
  --bench       also print reply latency per turn (p50/p99) and write
                WORKDIR/bench.json
  --only NAME   play only the dialogues whose file name contains NAME
  --verbose     print what Ovidio answered on every turn
Prints one line per dialogue and pass, the score line
  dialogues: rules X/Y turns passed (Z %), model X/Y (Z %)
and closes with "N passed, N failed" (one test per dialogue and pass).
"""
import fcntl
import http.client
import json
import os
import re
import subprocess
import sys
import time
import unicodedata
import urllib.request

import standin_support
from harness import Ovidio

HOME, WORK, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
OPTS = sys.argv[4:]
HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(HERE, "standins")
if not os.path.isdir(STANDINS):
    STANDINS = os.path.join(HERE, "..", "standins")
DIALOGUES = os.path.join(HERE, "dialogues")
if not os.path.isdir(DIALOGUES):
    DIALOGUES = os.path.join(HERE, "..", "dialogues")
sys.path.insert(0, STANDINS)
import sample_data  # noqa: E402

GRAPH_TOKEN = "it-graph-token-dialogues"
PHONE_ID = "110000000000001"
OPENAI_KEY = "sk-test-ovidio"
VENDEDOR = "vendedor@grupo-ser.test"
COMPRAS = "compras@grupo-ser.test"
NOW = "2026-11-24T10:00:00-03:00"      # a Tuesday, mid-morning
MAX_MESSAGES = 3                        # per turn, unless a dialogue says so
DEFAULT_MODEL_TEXT = "¿En qué te puedo ayudar?"     # a turn with no @model
DEFAULT_MODEL_AFTER_TOOLS = "Te paso la info 👇"      # after its tool calls

# The business, as the BUSINESS_INFO file the test writes says it.
BUSINESS = [
    ("nombre", "Grupo SER Seguridad Electrónica"),
    ("direccion", "Av. Francia 1234, Rosario, Santa Fe"),
    ("mapa", "https://maps.app.goo.gl/GrupoSerRosario"),
    ("horario_lunes", "8:30-12:30,14:00-18:00"),
    ("horario_martes", "8:30-12:30,14:00-18:00"),
    ("horario_miercoles", "8:30-12:30,14:00-18:00"),
    ("horario_jueves", "8:30-12:30,14:00-18:00"),
    ("horario_viernes", "8:30-12:30,14:00-17:00"),
    ("horario_sabado", "9:00-13:00"),
    ("horario_domingo", "cerrado"),
    ("pagos", "Efectivo, transferencia bancaria, Mercado Pago y cheques "
              "a 30 días para cuentas corrientes"),
    ("envios", "Enviamos a todo el país por Andreani o Vía Cargo; en Rosario "
               "y Funes entregamos con flete propio en 24 horas"),
    ("garantia", "12 meses de garantía oficial en cámaras y grabadores; "
                 "6 meses en fuentes y baterías"),
    ("web", "https://www.gruposer.test"),
    ("telefono", "0341 421-0000"),
    ("retiro", "Retiro sin cargo por el mostrador de Av. Francia 1234"),
]

# Sample customers a dialogue can be (`cliente: martin`): the Cianbox
# fixture's first two plus the sample account's customers 204..212.
# alias -> (WhatsApp number, profile name)
CUSTOMERS = {
    "martin": ("5493415551234", "Martín Gómez"),
    "lucia": ("5491144447777", "Lucía Fernández"),
}

# The action table as the model must see it (DESIGN.md section 5).
TOOLS = ["buscar_productos", "ver_producto", "consultar_stock",
         "agregar_al_pedido", "cambiar_cantidad", "quitar_del_pedido",
         "ver_pedido", "armar_presupuesto", "confirmar_presupuesto",
         "cancelar_presupuesto", "saldo_cuenta", "ultimas_facturas",
         "info_negocio", "hablar_con_vendedor", "promociones"]
MODEL_SEEN = {"turns": 0, "reached": 0, "tools": set()}
# Every account Cianbox has: (WhatsApp numbers on file, razón social,
# balance as Ovidio would write it or None). Checked on every turn: no
# name or balance but the sender's own.
ACCOUNTS = []

procs = []
VERBOSE = "--verbose" in OPTS


# ---- stand-ins and fixtures --------------------------------------------

def start_standin(name, script, args):
    return standin_support.start(WORK, STANDINS, name, script, args, procs)


def cianbox_fixtures():
    """The fixture account plus the sample catalog of `make run` (as
    test_conversation.py) and the sample customers 204..212 with their
    sales, so several identified customers can each have a dialogue."""
    sample = os.path.join(WORK, "sample")
    sample_data.write_fixtures(sample)
    out = os.path.join(WORK, "cianbox-fixtures")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(FIXTURES, "cianbox")
    for n in os.listdir(src):
        with open(os.path.join(src, n), "rb") as f, \
                open(os.path.join(out, n), "wb") as g:
            g.write(f.read())

    def merge(name, extra):
        with open(os.path.join(src, name)) as f:
            page = json.load(f)
        page["body"] += extra
        with open(os.path.join(out, name), "w") as f:
            json.dump(page, f, ensure_ascii=False)

    with open(os.path.join(sample, "productos_page1.json")) as f:
        merge("productos_page1.json", json.load(f)["body"])
    with open(os.path.join(FIXTURES, "cianbox", "clientes_page1.json")) as f:
        have = {c["id"] for c in json.load(f)["body"]}
    extra = [c for c in sample_data.clients() if c["id"] not in have]
    merge("clientes_page1.json", extra)
    ids = {str(c["id"]) for c in extra}
    with open(os.path.join(FIXTURES, "cianbox", "clientes_page1.json")) as f:
        fixture = json.load(f)["body"]
    wa = {cl["id"]: wa_id for cl, (_, _, wa_id, _) in
          zip(sample_data.clients(), sample_data.chat_customers())}
    for c in fixture + extra:
        saldo = abs(float(c.get("saldo") or 0))
        number = CUSTOMERS["martin"][0] if c["id"] == 201 else \
            CUSTOMERS["lucia"][0] if c["id"] == 202 else \
            wa.get(c["id"]) if c in extra else None
        ACCOUNTS.append((number, c["razon"],
                         money(to_cents(saldo)) if saldo >= 500 else None))
    merge("ventas.json", [v for v in sample_data.ventas()
                          if v["cliente"][0]["id"] in ids])
    for (razon, contact, *_), (label, pname, wa_id, shown), cl in zip(
            sample_data.CUSTOMERS, sample_data.chat_customers(),
            sample_data.clients()):
        if cl["id"] in have or wa_id == "5493416998877":
            continue
        alias = fold(contact.split()[0])
        CUSTOMERS[alias] = (wa_id, contact)
    return out


# ---- the catalog, as a salesperson reads it --------------------------------

def fold(s):
    """Lower case, no accents, WhatsApp bold/italic marks out, one space."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.lower().replace("*", "").replace("_", " ").replace("×", "x")
    s = s.replace("\u00a0", " ").replace("\u202f", " ")
    return re.sub(r"\s+", " ", s).strip()


def money(cents):
    s = f"{cents / 100:,.2f}"
    return "USD " + s.replace(",", "X").replace(".", ",").replace("X", ".")


def to_cents(v):
    return int(round(float(v) * 100))


class Product:
    def __init__(self, p):
        self.id = int(p["id"])
        self.name = p["producto"]
        self.code = p["codigo_interno"]
        self.neto = to_cents(p["precio_neto"])
        self.iva_tenths = int(round((float(p["alicuota_iva"]) - 1) * 1000))
        self.stock = int(float(p["stock_total"]))
        # The price with IVA, rounded half up as quote.c rounds a line.
        self.final = self.neto + (self.neto * self.iva_tenths + 500) // 1000

    def price(self):
        return money(self.neto) + " + IVA"

    def price_iva(self):
        return money(self.final) + " IVA incluido"


CATALOG = {}
BY_KEY = {}


def load_products():
    with open(os.path.join(FIXTURES, "cianbox", "productos_page1.json")) as f:
        items = json.load(f)["body"]
    for p in items + sample_data.products():
        if p.get("oferta"):
            continue   # offer prices: not what these dialogues judge
        pr = Product(p)
        CATALOG[pr.id] = pr
        for k in (str(pr.id), pr.code, pr.name):
            BY_KEY.setdefault(fold(k), pr)


LAST_LIST = []     # the products of the last list the customer saw


def row_product(r):
    """The catalog product a list row stands for: by the id in the row id,
    else by the row title (cut by WhatsApp at 24 letters) and the rest of
    the name in the description."""
    for m in re.finditer(r"\d{4,}", r.get("id", "")):
        if int(m.group()) in CATALOG:
            return CATALOG[int(m.group())]
    head = fold(r["title"].rstrip("…").rstrip("."))
    desc = fold(r.get("description", ""))
    best = None
    for pr in CATALOG.values():
        n = fold(pr.name)
        if n.startswith(head):
            rest = n[len(head):].strip()
            if rest and rest in desc:
                return pr
            if fold(pr.price()) in desc or best is None:
                best = pr
    return best


def product(ref):
    """A product by id, internal code or exact name (accents and case
    aside), or from the last list shown: `fila 2` (its second row),
    `lista: hikvision 3.6mm` (the row whose name has these words),
    `lista: más barata`. Raises when it names nothing."""
    ref = ref.strip()
    m = re.fullmatch(r"fila\s+(\d+)", fold(ref))
    if m:
        k = int(m.group(1))
        if not 1 <= k <= len(LAST_LIST) or LAST_LIST[k - 1] is None:
            raise LookupError("no row %d in the last list (%d rows)" %
                              (k, len(LAST_LIST)))
        return LAST_LIST[k - 1]
    if fold(ref).startswith("lista:"):
        want = fold(ref.split(":", 1)[1])
        items = [p for p in LAST_LIST if p is not None]
        if not items:
            raise LookupError("no list was shown before")
        if want in ("mas barata", "mas barato"):
            return min(items, key=lambda p: p.neto)
        if want in ("mas cara", "mas caro"):
            return max(items, key=lambda p: p.neto)
        hits = [p for p in items
                if all(w in fold(p.name + " " + p.code) for w in want.split())]
        if len(hits) != 1:
            raise LookupError("the last list has %d rows with %r: %s" % (
                len(hits), want, [p.name for p in items]))
        return hits[0]
    pr = BY_KEY.get(fold(ref.lstrip("#")))
    if pr is None:
        raise ValueError("no product %r in the sample catalog" % ref)
    return pr


def resolve_args(obj):
    """@model arguments: "{fila 1}" or "{lista: ...}" becomes that id."""
    if isinstance(obj, dict):
        return {k: resolve_args(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve_args(v) for v in obj]
    if isinstance(obj, str) and re.fullmatch(r"\{.+\}", obj):
        return product(obj[1:-1]).id
    return obj


def quote_total(lines):
    """(subtotal, IVA 21, IVA 10.5, total) in cents, as quote.c adds them."""
    sub = iva21 = iva105 = 0
    for qty, pr in lines:
        line = qty * pr.neto
        iva = (line * pr.iva_tenths + 500) // 1000
        sub += line
        if pr.iva_tenths == 210:
            iva21 += iva
        else:
            iva105 += iva
    return sub, iva21, iva105, sub + iva21 + iva105


# ---- dialogue files ----------------------------------------------------------

class Turn:
    def __init__(self, line):
        self.line = line            # line number of the first `>`
        self.messages = []          # customer messages (a burst when > 1)
        self.expect = []            # (kind, argument, line number)
        self.model_calls = []       # [(tool, arguments)]
        self.model_text = None


class Dialogue:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[:-4]
        self.title = ""
        self.customer = None
        self.profile = "Cliente"
        self.now = None
        self.max_messages = MAX_MESSAGES
        self.turns = []


EXPECT_KINDS = {
    "dice", "no dice", "regex", "lista con", "lista sin", "sin lista",
    "lista", "precio", "precio con iva", "presupuesto", "carrito", "pdf",
    "sin pdf",
    "mail a vendedor", "mail a compras", "sin mail", "mensajes <=",
    "mensajes >=", "largo <=", "filas <=", "ofrece", "botón", "boton",
    "sin respuesta",
    "sin botones",
}


def parse(path):
    d = Dialogue(path)
    turn = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    prev_was_msg = False
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip()
        s = line.strip()
        where = "%s:%d" % (os.path.basename(path), n)
        if not s:
            prev_was_msg = False
            continue
        if s.startswith("#"):
            if not d.title and not d.turns:
                d.title = s.lstrip("# ").strip()
            continue
        if s.startswith(">"):
            text = s[1:].strip()
            if turn is None or not prev_was_msg:
                turn = Turn(n)
                d.turns.append(turn)
            turn.messages.append(text)
            prev_was_msg = True
            continue
        prev_was_msg = False
        if s.startswith("<"):
            if turn is None:
                raise ValueError(where + ": an expectation before any `>`")
            body = s[1:].strip()
            kind, arg = body, ""
            if ":" in body:
                k, a = body.split(":", 1)
                if fold(k) in EXPECT_KINDS or fold(k).startswith("mail a "):
                    kind, arg = k, a.strip()
            m = re.match(r"(mensajes|largo|filas)\s*([<>]=)\s*(\d+)$", body)
            if m:
                kind, arg = m.group(1) + " " + m.group(2), m.group(3)
            kind = fold(kind)
            if kind not in EXPECT_KINDS and not kind.startswith("mail a "):
                raise ValueError(where + ": unknown expectation %r" % body)
            turn.expect.append((kind, arg, n))
            continue
        if s.startswith("@model-dice"):
            turn.model_text = s[len("@model-dice"):].strip()
            continue
        if s.startswith("@model"):
            rest = s[len("@model"):].strip()
            name, _, args = rest.partition(" ")
            try:
                obj = json.loads(args or "{}")
            except ValueError as e:
                raise ValueError(where + ": bad JSON in @model: %s" % e)
            turn.model_calls.append((name, obj))
            continue
        m = re.match(r"(\w+):\s*(.*)$", s)
        if m and not d.turns:
            key, val = m.group(1).lower(), m.group(2).strip()
            if key == "cliente":
                d.customer = val
            elif key == "nombre":
                d.profile = val
            elif key == "hora":
                d.now = val
            elif key == "mensajes":
                d.max_messages = int(val)
            else:
                raise ValueError(where + ": unknown header %r" % key)
            continue
        raise ValueError(where + ": cannot read %r" % s)
    if not d.turns:
        raise ValueError(path + ": no turns")
    return d


def validate(d):
    """Every product a dialogue names exists in the sample catalog, so a
    typo in a dialogue fails loudly here, not as Ovidio's fault."""
    def static(ref):
        r = fold(ref)
        return not (re.fullmatch(r"fila\s+\d+", r) or r.startswith("lista:"))

    for t in d.turns:
        for kind, arg, n in t.expect:
            where = "%s line %d" % (d.name, n)
            try:
                if kind in ("lista con", "lista sin", "precio",
                            "precio con iva", "ofrece"):
                    for ref in arg.split(";"):
                        if static(ref):
                            product(ref)
                elif kind in ("presupuesto", "carrito") or \
                        (kind == "pdf" and arg):
                    for part in arg.split(";"):
                        m = re.match(r"\s*\d+\s*[×xX]\s*(.+)$", part)
                        if not m:
                            raise ValueError("write `N × product`: %r" % part)
                        if static(m.group(1)):
                            product(m.group(1))
                elif kind == "regex":
                    re.compile(arg)
            except (ValueError, re.error) as e:
                raise ValueError("%s: %s" % (where, e))
        for name, args in t.model_calls:
            if name not in TOOLS:
                raise ValueError("%s line %d: no tool %r" % (d.name, t.line,
                                                             name))
            for k in re.findall(r'"producto_id":\s*(\d+)', json.dumps(args)):
                if int(k) not in CATALOG:
                    raise ValueError("%s line %d: no product id %s" % (
                        d.name, t.line, k))


def load_dialogues():
    only = None
    if "--only" in OPTS:
        only = OPTS[OPTS.index("--only") + 1]
    out = []
    for n in sorted(os.listdir(DIALOGUES)):
        if n.endswith(".txt") and (only is None or only in n):
            out.append(parse(os.path.join(DIALOGUES, n)))
            validate(out[-1])
    seen = {}
    for d in out:
        number = who(d)
        if number in seen:
            raise ValueError("%s and %s use the same customer %s" %
                             (seen[number], d.name, number))
        seen[number] = d.name
    return out


def who(d):
    c = d.customer or ""
    if fold(c) in CUSTOMERS:
        return CUSTOMERS[fold(c)][0]
    if re.fullmatch(r"\d{10,15}", c):
        return c
    raise ValueError("%s: `cliente:` must be a number or one of %s" %
                     (d.name, ", ".join(sorted(CUSTOMERS))))


# ---- talking to Ovidio --------------------------------------------------------

def call(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


class World:
    """The stand-ins, shared by both passes."""

    def __init__(self):
        self.mail_dir = os.path.join(WORK, "mail")
        os.makedirs(self.mail_dir, exist_ok=True)
        self.graph = start_standin("graph", "graph_server.py",
                                   ["--token", GRAPH_TOKEN,
                                    "--phone-number-id", PHONE_ID])
        self.cianbox = start_standin("cianbox", "cianbox_server.py",
                                     ["--fixtures", cianbox_fixtures(),
                                      "--user", "ovidio",
                                      "--password", "clave-it"])
        self.smtp = start_standin("smtp", "smtp_server.py",
                                  ["--dir", self.mail_dir])
        self.openai = start_standin("openai", "openai_server.py",
                                    ["--key", OPENAI_KEY])
        self.business = os.path.join(WORK, "business.txt")
        with open(self.business, "w", encoding="utf-8") as f:
            f.write("# written by tests/integration/test_dialogues.py\n")
            for k, v in BUSINESS:
                f.write("%s=%s\n" % (k, v))

    def sent(self):
        return call(self.graph, "GET", "/__sent")[1]

    def mails(self):
        out = []
        for n in sorted(os.listdir(self.mail_dir)):
            if n.endswith(".json"):
                with open(os.path.join(self.mail_dir, n)) as f:
                    out.append(json.load(f))
        return out

    def media(self, mid):
        c = http.client.HTTPConnection("127.0.0.1", self.graph, timeout=20)
        try:
            c.request("GET", "/__media/" + mid)
            r = c.getresponse()
            return r.read() if r.status == 200 else None
        finally:
            c.close()


class Pass:
    """One installed Ovidio with its own data directory."""

    def __init__(self, world, name, model):
        self.world = world
        self.name = name
        self.model = model
        work = os.path.join(WORK, name)
        os.makedirs(work, exist_ok=True)
        self.pdf_dir = os.path.join(work, "presupuestos")
        os.makedirs(self.pdf_dir, exist_ok=True)
        self.base = {
            "WHATSAPP_TOKEN": GRAPH_TOKEN,
            "PHONE_NUMBER_ID": PHONE_ID,
            "WHATSAPP_API_URL": "http://127.0.0.1:%d/v21.0" % world.graph,
            "CIANBOX_URL": "http://127.0.0.1:%d" % world.cianbox,
            "CIANBOX_ACCOUNT": "micuenta",
            "CIANBOX_USER": "ovidio",
            "CIANBOX_PASS": "clave-it",
            "SMTP_URL": "smtp://127.0.0.1:%d" % world.smtp,
            "VENDEDOR_EMAIL": VENDEDOR,
            "EMAIL_TO_COMPRAS": COMPRAS,
            "PRESUPUESTOS_DIR": self.pdf_dir,
            "BUSINESS_INFO": world.business,
            "OUTBOX_RETRY_S": "0",
            "OVIDIO_NOW": NOW,
            "OVIDIO_LOG": "debug",
            "LLM_BUDGET_MS": "3000",
        }
        if model:
            self.base["OPENAI_API_KEY"] = OPENAI_KEY
            self.base["OPENAI_BASE_URL"] = ("http://127.0.0.1:%d/v1" %
                                            world.openai)
        self.ov = Ovidio(HOME, work, self.base)
        self.seq = 0

    def configure(self, **extra):
        settings = {"WHATSAPP_APP_SECRET": "it-app-secret-0123456789abcdef",
                    "WHATSAPP_VERIFY_TOKEN": "it-verify-token-ovidio",
                    "OVIDIO_WORKERS": "4"}
        settings.update(self.base)
        settings.update(extra)
        tmp = self.ov.config + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for k, v in settings.items():
                f.write("%s=%s\n" % (k, v))
        os.rename(tmp, self.ov.config)

    def start(self):
        self.configure()
        self.ov.start()
        r = self.ov.run_worker()
        if r.returncode != 0:
            raise RuntimeError("worker cannot create the store: " + r.stderr)
        r = subprocess.run([os.path.join(HOME, "jobs", "catalog-sync")],
                           env=self.ov.worker_env(), capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("catalog-sync: " + r.stderr[-400:])

    def stop(self):
        self.ov.stop()

    def body(self, sender, profile, msg):
        self.seq += 1
        mid = "wamid.it-dlg-%s-%05d" % (self.name, self.seq)
        m = {"from": sender, "id": mid,
             "timestamp": str(1764000000 + self.seq)}
        if isinstance(msg, tuple):
            kind, rid, title = msg
            m["type"] = "interactive"
            m["interactive"] = {"type": kind, kind: {"id": rid,
                                                     "title": title}}
        else:
            m["type"] = "text"
            m["text"] = {"body": msg}
        return json.dumps({
            "object": "whatsapp_business_account", "entry": [{
                "id": "104857600000001", "changes": [{
                    "field": "messages", "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "5493414000000",
                                     "phone_number_id": PHONE_ID},
                        "contacts": [{"profile": {"name": profile},
                                      "wa_id": sender}],
                        "messages": [m]}}]}]},
            ensure_ascii=False).encode()

    def post(self, raw):
        st, _, _ = self.ov.post_webhook(raw)
        if st != 200:
            raise RuntimeError("webhook answered %d" % st)
        return time.time()

    def idle(self, timeout=30):
        lock = os.path.join(self.ov.data, "locks", "worker.lock")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.ov.spool("new") and not self.ov.spool("cur"):
                if not os.path.exists(lock):
                    return True
                with open(lock, "a") as f:
                    try:
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        fcntl.flock(f, fcntl.LOCK_UN)
                        if not self.ov.spool("new") and \
                                not self.ov.spool("cur"):
                            return True
                    except OSError:
                        pass
            time.sleep(0.01)
        return False

    def turn(self, sender, profile, msgs):
        """Post the turn's messages (a burst: all before the worker runs)
        and return (replies to sender, their time of the 200)."""
        before = len(self.world.sent())
        if len(msgs) == 1:
            t0 = self.post(self.body(sender, profile, msgs[0]))
            self.idle()
        else:
            lock_path = os.path.join(self.ov.data, "locks", "worker.lock")
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                for m in msgs:
                    t0 = self.post(self.body(sender, profile, m))
                fcntl.flock(lock, fcntl.LOCK_UN)
            t0 = time.time()
            self.ov.run_worker()
            self.idle()
        got = [e for e in self.world.sent()[before:]
               if e.get("to") == sender and e["kind"] == "message"]
        return got, t0


# ---- what the customer read ---------------------------------------------------

def is_list(e):
    p = e["payload"]
    return p["type"] == "interactive" and p["interactive"]["type"] == "list"


def rows(e):
    it = e["payload"]["interactive"]
    return [r for s in it["action"]["sections"] for r in s["rows"]]


def buttons(e):
    p = e["payload"]
    if p["type"] != "interactive" or p["interactive"]["type"] != "button":
        return []
    return [(b["reply"]["id"], b["reply"]["title"])
            for b in p["interactive"]["action"]["buttons"]]


def words(replies):
    out = []
    for e in replies:
        p = e["payload"]
        if p["type"] == "text":
            out.append(p["text"]["body"])
        elif p["type"] == "interactive":
            it = p["interactive"]
            if it.get("header", {}).get("text"):
                out.append(it["header"]["text"])
            out.append(it["body"]["text"])
            if it.get("footer", {}).get("text"):
                out.append(it["footer"]["text"])
            if it["type"] == "button":
                out += [b["reply"]["title"] for b in it["action"]["buttons"]]
            else:
                for r in rows(e):
                    out.append(r["title"] + " " + r.get("description", ""))
        elif p["type"] == "document":
            out.append(p["document"].get("caption", ""))
            out.append(p["document"].get("filename", ""))
    return "\n".join(out)


def short(s, n=300):
    s = s.replace("\n", " / ")
    return s if len(s) <= n else s[:n] + "…"


def row_names(e, pr):
    """Whether a list row stands for this product: by id, or by name."""
    for r in rows(e):
        rid = r.get("id", "")
        if re.search(r"(^|\D)%d(\D|$)" % pr.id, rid):
            return True
        t = fold(r["title"].rstrip("…") + " " + r.get("description", ""))
        if fold(pr.name) in t or fold(pr.code) in t:
            return True
    return False


def pdf_text(world, replies):
    for e in replies:
        p = e["payload"]
        if p["type"] != "document":
            continue
        doc = p["document"]
        data = None
        if doc.get("id"):
            data = world.media(doc["id"])
        elif doc.get("link"):
            try:
                with urllib.request.urlopen(doc["link"], timeout=10) as r:
                    data = r.read()
            except OSError:
                data = None
        if data is None:
            return ""
        out = []
        for mode in (["-layout"], ["-raw"]):
            r = subprocess.run(["pdftotext"] + mode + ["-", "-"], input=data,
                               capture_output=True, timeout=20)
            out.append(r.stdout.decode("utf-8", "replace"))
        return "\n".join(out)
    return None


def quote_lines(arg):
    """'1 × Teclado DSC PK5500 alfanumérico; 2 × BAT-KAI-12V9AH' ->
    [(1, product), (2, product)]"""
    out = []
    for part in arg.split(";"):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"(\d+)\s*[×xX]\s*(.+)$", part)
        if not m:
            raise ValueError("quote line %r: write `N × product`" % part)
        out.append((int(m.group(1)), product(m.group(2))))
    return out


def name_in(pr, text):
    """The product named in text: its name (maybe cut after 40 letters)
    or its internal code."""
    f = fold(text)
    return fold(pr.name)[:40] in f or fold(pr.code) in f


def has_qty(qty, pr, ln):
    """The quantity written as a salesperson would: "3 × name", "3 u.",
    "3 name", "name x 3", "name: 3 unidades", "cantidad 3"."""
    q = r"(?<![\d.,])%d(?![\d.,])" % qty
    unit = r"(x|u\.?|uds?\.?|unid\w*|de)"
    if re.search(q + r"\s*" + unit + r"(\s|$)", ln):
        return True
    name = fold(pr.name)[:40]
    i = ln.find(name)
    if i < 0:
        i = ln.find(fold(pr.code))
    if i >= 0 and re.search(q + r"\s*$", ln[:i]):
        return True
    if re.search(r"(x|cant\w*:?|:)\s*" + q + r"(\s|$|\b)", ln):
        return True
    return False


def check_quote(lines, text, what, total=True):
    """Every line of the quote with its quantity, no other line, and the
    total computed from the catalog."""
    f = fold(text)
    problems = []
    for qty, pr in lines:
        ok = False
        for ln in f.split("\n"):
            if name_in(pr, ln) and has_qty(qty, pr, ln):
                ok = True
        if not ok:
            problems.append("%d × %s" % (qty, pr.name))
    shown = [ln for ln in f.split("\n")
             if re.match(r"^\W*\d+\s*x\s+\S", ln.strip())]
    if shown and len(shown) != len(lines):
        problems.append("%d lines, not %d" % (len(shown), len(lines)))
    if total and fold(money(quote_total(lines)[3])) not in f:
        problems.append("total " + money(quote_total(lines)[3]))
    if problems:
        return "%s: missing %s; read: %s" % (what, ", ".join(problems),
                                               short(text, 500))
    return None


# ---- judging a turn -------------------------------------------------------------

GREETING = re.compile(r"^\W*(hola|buen dia|buenas( tardes| noches)?)\b")


class Judge:
    def __init__(self, pss, d):
        self.p = pss
        self.d = d
        self.history = []   # everything Ovidio sent this dialogue
        self.greeted = False
        self.sender = who(d)
        self.known = fold(d.customer or "") in CUSTOMERS

    def implicit(self, got, text):
        """What every turn is held to: nobody else's name or balance, one
        greeting a day."""
        f = fold(text)
        for number, razon, saldo in ACCOUNTS:
            if self.known and number == self.sender:
                continue
            if fold(razon) in f:
                return "nobody's name to this sender; said %r: %s" % (
                    razon, short(text))
            if saldo and fold(saldo) in f:
                return "no balance of another account; said %s: %s" % (
                    saldo, short(text))
        for e in got:
            body = fold(words([e]))
            if GREETING.match(body):
                if self.greeted:
                    return "one greeting a day; greeted again: " + short(
                        words([e]))
                self.greeted = True
        return None

    def press(self, text):
        """`[Confirmar]` presses the button titled Confirmar, `[#2]` picks
        row 2 of the last list, `[name]` the row whose title starts so."""
        label = text[1:-1].strip()
        m = re.fullmatch(r"#\s*(\d+)", label)
        for e in reversed(self.history):
            if m and is_list(e):
                rs = rows(e)
                k = int(m.group(1))
                if 1 <= k <= len(rs):
                    return ("list_reply", rs[k - 1]["id"], rs[k - 1]["title"])
                raise LookupError("the last list has %d rows, no row %d" %
                                  (len(rs), k))
            if m:
                continue
            for bid, title in buttons(e):
                if fold(title) == fold(label):
                    return ("button_reply", bid, title)
            if is_list(e):
                for r in rows(e):
                    if fold(r["title"]).startswith(fold(label)):
                        return ("list_reply", r["id"], r["title"])
        raise LookupError("nothing to press for %s" % text)

    def check(self, turn, got, mails):
        """The first unmet expectation of the turn, or None."""
        text = words(got)
        f = fold(text)
        lists = [e for e in got if is_list(e)]
        maxm = self.d.max_messages
        for kind, arg, n in turn.expect:
            if kind == "mensajes <=":
                maxm = int(arg)
        silent = any(k == "sin respuesta" for k, _, _ in turn.expect)
        if not silent and not got:
            return "an answer; read nothing"
        if len(got) > maxm:
            return "at most %d messages; read %d: %s" % (maxm, len(got),
                                                         short(text))
        err = self.implicit(got, text)
        if err:
            return err
        for kind, arg, n in turn.expect:
            try:
                err = self.one(kind, arg, got, text, f, lists, mails)
            except LookupError as e:
                err = str(e)
            if err:
                sep = " " if kind.endswith("=") else ": "
                return "line %d `< %s%s`: %s" % (
                    n, kind, (sep + arg) if arg else "", err)
        return None

    def one(self, kind, arg, got, text, f, lists, mails):
        alts = [a.strip() for a in arg.split("|")] if arg else []
        if kind == "dice":
            if not any(fold(a) in f for a in alts):
                return "read: " + short(text)
        elif kind == "no dice":
            for a in alts:
                if fold(a) in f:
                    return "said %r: %s" % (a, short(text))
        elif kind == "regex":
            if not re.search(arg, text, re.I | re.S) and \
                    not re.search(arg, f, re.I | re.S):
                return "read: " + short(text)
        elif kind == "lista":
            if not lists:
                return "a list; read: " + short(text)
        elif kind == "sin lista":
            if lists:
                return "a list was sent: " + short(words(lists))
        elif kind == "lista con":
            for a in arg.split(";"):
                pr = product(a)
                if not any(row_names(e, pr) for e in lists):
                    return "no list row for %s; read: %s" % (
                        pr.name, short(text))
        elif kind == "lista sin":
            for a in arg.split(";"):
                pr = product(a)
                if any(row_names(e, pr) for e in lists):
                    return "a row for %s" % pr.name
        elif kind == "precio":
            for a in arg.split(";"):
                pr = product(a)
                in_row = any(row_names(e, pr) and fold(pr.price()) in
                             fold(words([e])) for e in lists)
                if not in_row and not (name_in(pr, text) and
                                       fold(pr.price()) in f):
                    return "%s at %s; read: %s" % (pr.name, pr.price(),
                                                   short(text))
        elif kind == "precio con iva":
            for a in arg.split(";"):
                pr = product(a)
                if fold(pr.price_iva()) not in f:
                    return "%s at %s; read: %s" % (pr.name, pr.price_iva(),
                                                   short(text))
        elif kind == "presupuesto":
            lines = quote_lines(arg)
            return check_quote(lines, text, "the quote")
        elif kind == "carrito":
            lines = quote_lines(arg)
            return check_quote(lines, text, "the order", total=False)
        elif kind == "pdf":
            pdf = pdf_text(self.p.world, got)
            if pdf is None:
                return "a PDF document; read: " + short(text)
            if arg:
                lines = quote_lines(arg)
                flat = re.sub(r"\s+", "", fold(pdf))
                problems = [pr.name for _, pr in lines
                            if re.sub(r"\s+", "", fold(pr.name))[:24]
                            not in flat and
                            re.sub(r"\s+", "", fold(pr.code)) not in flat]
                for qty, pr in lines:
                    sub = money(qty * pr.neto)[4:]
                    if sub not in pdf:
                        problems.append("the line %d × %s (%s)" % (
                            qty, pr.code, sub))
                total = quote_total(lines)[3]
                amount = money(total)[4:]
                if amount not in pdf:
                    problems.append("total " + amount)
                if problems:
                    return "the PDF misses %s" % ", ".join(problems)
        elif kind == "sin pdf":
            if any(e["payload"]["type"] == "document" for e in got):
                return "a document was sent"
        elif kind.startswith("mail a ") or kind == "sin mail":
            if kind == "sin mail":
                if mails:
                    return "an e-mail went to %s: %s" % (
                        mails[0]["to"], mails[0]["subject"])
                return None
            to = re.sub(r"\s+con$", "", kind[len("mail a "):].strip())
            addr = {"vendedor": VENDEDOR, "compras": COMPRAS}.get(to, to)
            mine = [m for m in mails if addr in m["to"]]
            if not mine:
                return "an e-mail to %s; sent: %s" % (
                    addr, [(m["to"], m["subject"]) for m in mails] or "none")
            for a in alts:
                if not any(fold(a) in fold(m["subject"] + "\n" + m["data"])
                           for m in mine):
                    return "the e-mail to %s says %r: %s" % (
                        addr, a, short(mine[0]["subject"] + " " +
                                       mine[0]["data"], 400))
        elif kind in ("mensajes <=", "sin respuesta"):
            if kind == "sin respuesta" and got:
                return "no answer; read: " + short(text)
        elif kind == "ofrece":
            prs = [product(a) for a in arg.split(";")]
            if not any(name_in(pr, text) or any(row_names(e, pr)
                                                 for e in lists)
                       for pr in prs):
                return "one of %s; read: %s" % (
                    ", ".join(pr.code for pr in prs), short(text))
        elif kind == "filas <=":
            n = sum(len(rows(e)) for e in lists)
            if n > int(arg):
                return "at most %s list rows; read %d" % (arg, n)
        elif kind == "largo <=":
            if len(text) > int(arg):
                return "at most %s characters; read %d: %s" % (
                    arg, len(text), short(text))
        elif kind == "mensajes >=":
            if len(got) < int(arg):
                return "at least %s messages; read %d" % (arg, len(got))
        elif kind in ("botón", "boton"):
            titles = [fold(t) for e in got for _, t in buttons(e)]
            for a in alts:
                if fold(a) not in titles:
                    return "a button %r; buttons: %s" % (a, titles)
        elif kind == "sin botones":
            if any(buttons(e) for e in got):
                return "buttons were sent"
        return None


def play(pss, d, latencies):
    """Play one dialogue; (turns passed, first failure or None)."""
    sender = who(d)
    alias = fold(d.customer or "")
    profile = d.profile
    if alias in CUSTOMERS and d.profile == "Cliente":
        profile = CUSTOMERS[alias][1]
    judge = Judge(pss, d)
    LAST_LIST[:] = []
    if d.now:
        pss.configure(OVIDIO_NOW=d.now)
    passed, first = 0, None
    try:
        for i, turn in enumerate(d.turns, 1):
            msgs = []
            err = None
            for m in turn.messages:
                if re.fullmatch(r"\[.+\]", m):
                    try:
                        msgs.append(judge.press(m))
                    except LookupError as e:
                        err = str(e)
                else:
                    msgs.append(m)
            if err is None and pss.model:
                steps = []
                if turn.model_calls:
                    try:
                        steps.append({"tool_calls": [
                            {"name": n, "arguments": resolve_args(a)}
                            for n, a in turn.model_calls]})
                    except LookupError as e:
                        steps = []
                        err = "the model line names %s" % e
                text = turn.model_text
                if text is None:
                    text = DEFAULT_MODEL_AFTER_TOOLS if turn.model_calls \
                        else DEFAULT_MODEL_TEXT
                steps.append({"content": text})
                call(pss.world.openai, "POST", "/__script", steps)
            got = []
            if err is None:
                n_mails = len(pss.world.mails())
                got, t0 = pss.turn(sender, profile, msgs)
                # E-mails may leave just after the replies: a turn that
                # expects one waits a little for it.
                wants = [a for k, a, _ in turn.expect
                         if k.startswith("mail a ")]
                deadline = time.time() + (1.5 if wants else 0.02)
                while True:
                    mails = pss.world.mails()[n_mails:]
                    if time.time() >= deadline or (wants and mails):
                        break
                    time.sleep(0.02)
                judge.history += got
                if got:
                    latencies.append(max(e["time"] for e in got) - t0)
                err = judge.check(turn, got, mails)
                if pss.model:
                    reqs = call(pss.world.openai, "GET", "/__requests")[1]
                    MODEL_SEEN["turns"] += 1
                    MODEL_SEEN["reached"] += 1 if reqs else 0
                    for r in reqs:
                        for t in (r.get("body") or {}).get("tools") or []:
                            MODEL_SEEN["tools"].add(
                                t.get("function", {}).get("name"))
                lists = [e for e in got if is_list(e)]
                if lists:
                    LAST_LIST[:] = [row_product(r) for r in rows(lists[-1])]
            if VERBOSE:
                print("  [%s %s #%d] > %s\n      < %s" % (
                    pss.name, d.name, i, " / ".join(map(str, msgs)),
                    short(words(got), 600)), flush=True)
            if err is None:
                passed += 1
            elif first is None:
                first = "turn %d (%s): %s" % (
                    i, " / ".join(turn.messages), err)
    finally:
        if d.now:
            pss.configure()
    return passed, first


def percentile(xs, q):
    if not xs:
        return 0.0
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q / 100.0 * (len(xs) - 1)))))
    return xs[k]


def main():
    load_products()
    world = World()
    dialogues = load_dialogues()
    passes = [("rules", False)]
    if "--rules-only" not in OPTS:
        passes.append(("model", True))
    total_turns = sum(len(d.turns) for d in dialogues)
    ok = bad = 0
    score = {}
    lat = {}
    t_start = time.time()
    try:
        for name, model in passes:
            pss = Pass(world, name, model)
            latencies = []
            turns_ok = 0
            try:
                pss.start()
                for d in dialogues:
                    try:
                        n, first = play(pss, d, latencies)
                    except Exception as e:  # noqa: BLE001
                        n, first = 0, "%s: %s" % (type(e).__name__, e)
                    turns_ok += n
                    if first is None:
                        ok += 1
                        print("ok   %s %s" % (name, d.name), flush=True)
                    else:
                        bad += 1
                        print("FAIL %s %s: %s" % (name, d.name, first),
                              flush=True)
            except Exception as e:  # noqa: BLE001 - a broken pass
                print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
                bad += len(dialogues)
            finally:
                pss.stop()
            score[name] = turns_ok
            lat[name] = latencies
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    parts = []
    for name, _ in passes:
        pct = 100.0 * score[name] / total_turns if total_turns else 0.0
        parts.append("%s %d/%d turns passed (%.1f %%)" % (
            name, score[name], total_turns, pct))
    print("%d dialogues, %d customer turns, %d passes" % (
        len(dialogues), total_turns, len(passes)))
    print("dialogues: " + ", ".join(parts))
    if MODEL_SEEN["turns"]:
        missing = [t for t in TOOLS if t not in MODEL_SEEN["tools"]]
        print("model pass: %d of %d turns reached the model; tools offered "
              "%d of %d%s" % (MODEL_SEEN["reached"], MODEL_SEEN["turns"],
                              len(TOOLS) - len(missing), len(TOOLS),
                              ("; missing: " + ", ".join(missing))
                              if missing else ""))
    if "--bench" in OPTS:
        out = {"turns": total_turns, "dialogues": len(dialogues),
               "seconds": round(time.time() - t_start, 1)}
        for name, _ in passes:
            xs = lat[name]
            print("latency %s: p50 %.0f ms, p99 %.0f ms over %d answered "
                  "turns" % (name, 1000 * percentile(xs, 50),
                             1000 * percentile(xs, 99), len(xs)))
            out[name] = {"passed": score[name],
                         "p50_ms": round(1000 * percentile(xs, 50)),
                         "p99_ms": round(1000 * percentile(xs, 99))}
        with open(os.path.join(WORK, "bench.json"), "w") as f:
            json.dump(out, f)
    print("%d passed, %d failed" % (ok, bad), flush=True)
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
