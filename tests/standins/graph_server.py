#!/usr/bin/python3
"""graph_server.py - a Meta Graph API (WhatsApp Cloud API v21.0) stand-in.

Run it with Debian's interpreter (stdlib plus python3-yaml and
python3-jsonschema, for Meta's OpenAPI specification):

    /usr/bin/python3 tests/standins/graph_server.py --port 0 --port-file FILE \
        [--token T] [--phone-number-id ID] [--webhook URL --app-secret S] \
        [--openapi business-messaging-api_v23.0.yaml]

Wire honesty: every message body sent to /messages is first validated
against Meta's published OpenAPI description (../shared/meta/, found next to
the repository or the sandbox, or given with --openapi): the schema its
"type" picks (components/schemas/Message's discriminator). One that does
not conform is answered 400 with code 100 and the failing field in
error_data.details ("Param <field>: <what>"), as Meta would; it is recorded
in /__requests with "invalid": the field. The stand-in refuses to start
without the specification, so a test can never skip this check silently.

It listens on 127.0.0.1 (port 0: any free port), writes the port number to
FILE once it accepts connections, and serves until SIGTERM or SIGINT.

What a client sees, as on graph.facebook.com (any /vNN.N/ prefix, or none):
  POST /{PHONE_NUMBER_ID}/messages   send text, interactive (button, list),
        document (media id or link), template; or mark as read
        ({"status":"read","message_id":...,"typing_indicator":{...}}).
  POST /{PHONE_NUMBER_ID}/media      multipart/form-data upload with fields
        messaging_product=whatsapp, type=<mime>, file=<bytes> -> {"id": ...}
  GET  /{MEDIA_ID}                   media metadata (url, mime_type, sha256)
Every request needs "Authorization: Bearer <token>"; a wrong or missing token
is HTTP 401 with error 190 (OAuthException). An unknown phone number id is
error 100 subcode 33. Bodies are validated as Meta does: the text limit
(4096 characters), 1..3 reply buttons with titles of 1..20 characters and
unique ids, lists of at most 10 rows (title 24, description 72), unknown
types, unknown media ids, templates. Errors use Meta's JSON:
  {"error":{"message","type","code","error_subcode"?,"error_data":
   {"messaging_product":"whatsapp","details"},"fbtrace_id"}}
A good send answers
  {"messaging_product":"whatsapp","contacts":[{"input":to,"wa_id":to}],
   "messages":[{"id":"wamid.<unique>"}]}

For tests (not part of Meta's API):
  GET  /__sent        every accepted message, read receipt and upload, in
                      order: {"kind":"message"|"read"|"media", ...}
  GET  /__requests    every API request seen (accepted or not):
                      {"method","path","endpoint","http","code"}
  GET  /__media/<id>  the uploaded bytes
  POST /__control     a JSON object with any of:
    "reset": true              forget everything recorded, clear scripting
    "fail_next": [{"http": 429, "code": 130429, "endpoint": "media"|
                   "messages", "message": "...", "details": "..."}, ...]
                               the next matching API requests fail like this
                               (appended to a queue; http and message default
                               from the code; no endpoint = any)
    "slow_next": N, "slow_seconds": S
                               the next N API requests wait S seconds (default
                               2) before being handled (they still take effect,
                               as a slow Meta would)
    "down": true|false         every API request answers 503, not JSON
    "closed_windows": ["549..."]
                               free-form messages to these numbers fail with
                               131047 (templates still go through)
    "templates": {"name": {"es_AR": 2}}
                               known templates and body parameter counts; when
                               any are set, others fail with 132001
    "statuses": ["sent", "delivered", "read"]
                               status webhooks posted per accepted message
                               (needs --webhook); [] turns them off
    "status_delay": S          seconds between status webhooks (default 0.2)
    "inbound_media": {"<id>": {"mime_type": M, "data_b64": B64 | "size": N,
                     "file_size": N?}}
                               media a customer sent: GET /{id} answers its
                               metadata (file_size as given, else the real
                               one) and its url, /__download/<id>, serves the
                               bytes to the right bearer token only, as
                               Meta's lookaside URLs do (401 otherwise);
                               "size" makes N bytes of an Ogg-looking file.
                               An id not given is error 100 (404 on download)
    "reject_549": true         sends to "549" + 10 digits fail with 131030
                               (Meta's test numbers do: "54" + 10 works)
A send to "54" + 10 digits is recorded (and answered) under the wa_id Meta
gives it, "549" + the 10 digits; the record's "input" is what was sent.
Messages go "to" a phone number or, for a user known by BSUID alone, "to"
the BSUID ("AR.1502576394655843"): Meta's description requires "to" ("WhatsApp
ID or phone number of the message recipient").
Status webhooks are POSTed to --webhook (loopback only) signed with
X-Hub-Signature-256 over the body with --app-secret, shaped like Meta's,
by --status-senders threads (default 4; one message's statuses in order).
A message sent with "biz_opaque_callback_data" (a string of at most 512
characters; Meta's description lists it for calls only, the Cloud API
takes it on messages too) has it echoed in each of its statuses, as Meta
does.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import itertools
import json
import os
import queue
import re
import signal
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request

BODY_MAX = 110 * 1024 * 1024     # Meta: documents up to 100 MB
JSON_BODY_MAX = 1024 * 1024
TEXT_MAX = 4096
MEDIA_TYPES = {
    "application/pdf", "text/plain", "application/msword",
    "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "image/jpeg", "image/png", "image/webp", "audio/aac", "audio/mp4",
    "audio/mpeg", "audio/amr", "audio/ogg", "video/mp4", "video/3gpp",
}
MESSAGE_TYPES = ("audio", "contacts", "document", "image", "interactive",
                 "location", "reaction", "sticker", "template", "text",
                 "video")

SPEC_NAME = "business-messaging-api_v23.0.yaml"


def find_spec(given):
    """Meta's OpenAPI file: --openapi, $OVIDIO_META_DIR, ../shared/meta
    beside the repository, or meta/ beside a tests/sandbox copy."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [given] if given else []
    if os.environ.get("OVIDIO_META_DIR"):
        candidates.append(os.path.join(os.environ["OVIDIO_META_DIR"], SPEC_NAME))
    candidates += [os.path.join(here, "..", "..", "..", "shared", "meta", SPEC_NAME),
                   os.path.join(here, "..", "..", "meta", SPEC_NAME),
                   os.path.join(here, "..", "meta", SPEC_NAME)]
    for c in candidates:
        if c and os.path.isfile(c):
            return c
    raise SystemExit("graph_server: Meta's OpenAPI specification %s not found "
                     "(give --openapi)" % SPEC_NAME)


def allow_base_keys(node, schemas):
    """Meta writes allOf: [Base, {additionalProperties: false, ...}] meaning
    "nothing beyond the base and these keys"; a plain JSON Schema validator
    reads the second branch alone, so the base's keys are added to it."""
    if isinstance(node, list):
        for x in node:
            allow_base_keys(x, schemas)
        return
    if not isinstance(node, dict):
        return
    parts = node.get("allOf")
    if isinstance(parts, list):
        base_keys = set()
        for part in parts:
            ref = part.get("$ref", "") if isinstance(part, dict) else ""
            if ref.startswith("#/components/schemas/"):
                target = schemas.get(ref.rsplit("/", 1)[1], {})
                base_keys |= set((target.get("properties") or {}).keys())
        for part in parts:
            if (isinstance(part, dict) and part.get("additionalProperties") is False
                    and base_keys):
                props = part.setdefault("properties", {})
                for k in base_keys:
                    props.setdefault(k, True)
    for v in node.values():
        allow_base_keys(v, schemas)


class WireCheck:
    """Validators for Message, one per type (the discriminator's mapping)."""

    def __init__(self, path):
        import jsonschema
        import yaml
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(path) as f:
            spec = yaml.load(f, Loader=loader)
        schemas = spec["components"]["schemas"]
        # Meta's description lists biz_opaque_callback_data (a string of
        # at most 512 characters) for calls only, but the Cloud API takes
        # it on every message and echoes it in that message's status
        # webhooks (the messages reference says so); what it says of
        # calls holds for messages, and Ovidio tags every message with it.
        base = schemas["BaseMessageProperties"].setdefault("properties", {})
        base.setdefault("biz_opaque_callback_data",
                        {"type": "string", "maxLength": 512})
        allow_base_keys(schemas, schemas)
        mapping = schemas["Message"]["discriminator"]["mapping"]
        self.validators = {}
        for mtype, ref in mapping.items():
            root = {"components": spec["components"], "$ref": ref}
            self.validators[mtype] = jsonschema.Draft202012Validator(root)
        self.best_match = jsonschema.exceptions.best_match

    def check(self, msg):
        """None when msg conforms, else (field, what)."""
        v = self.validators.get(msg.get("type"))
        if v is None:
            return None   # unknown types are refused by the caller
        err = self.best_match(v.iter_errors(msg))
        if err is None:
            return None
        field = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "additionalProperties":
            m = re.search(r"\('([^']+)' was unexpected", err.message)
            if m:
                field = (field + "." if field else "") + m.group(1)
        elif err.validator == "required":
            m = re.match(r"'([^']+)' is a required property", err.message)
            if m:
                field = (field + "." if field else "") + m.group(1)
        return field or "(body)", err.message[:300]


# code -> (default HTTP status, type, message, details)
ERRORS = {
    1: (500, "OAuthException", "An unknown error has occurred.", None),
    2: (503, "OAuthException", "Service temporarily unavailable", None),
    4: (400, "OAuthException", "(#4) Application request limit reached",
        None),
    10: (403, "OAuthException",
         "(#10) Application does not have permission for this action", None),
    100: (400, "OAuthException", "(#100) Invalid parameter", None),
    190: (401, "OAuthException",
          "Invalid OAuth access token - Cannot parse access token", None),
    130429: (429, "OAuthException", "(#130429) Rate limit hit",
             "Cloud API message throughput has been reached."),
    131000: (500, "OAuthException", "(#131000) Something went wrong", None),
    131009: (400, "OAuthException", "(#131009) Parameter value is not valid",
             None),
    131016: (503, "OAuthException", "(#131016) Service unavailable", None),
    131026: (400, "OAuthException", "(#131026) Message undeliverable", None),
    131030: (400, "OAuthException",
             "(#131030) Recipient phone number not in allowed list",
             "Add recipient phone number to recipient list and try again."),
    131047: (400, "OAuthException", "(#131047) Re-engagement message",
             "Message failed to send because more than 24 hours have passed "
             "since the customer last replied to this number."),
    131051: (400, "OAuthException", "(#131051) Unsupported message type",
             None),
    131053: (400, "OAuthException", "(#131053) Media upload error", None),
    131056: (400, "OAuthException",
             "(#131056) (Business Account, Consumer Account) pair rate limit "
             "hit", "Too many messages sent from the sender phone number to "
             "the same recipient phone number in a short period of time."),
    132000: (400, "OAuthException",
             "(#132000) Number of parameters does not match the expected "
             "number of params", None),
    132001: (404, "OAuthException",
             "(#132001) Template name does not exist in the translation",
             None),
    132018: (400, "OAuthException",
             "(#132018) There was an issue with the parameters in your "
             "template.", None),
    133010: (400, "OAuthException", "(#133010) Account not registered",
             None),
}

STOP = threading.Event()


def log(text):
    print("graph_server: %s" % text, file=sys.stderr, flush=True)


class MetaError(Exception):
    """An error answered in Meta's JSON shape."""

    def __init__(self, code, details=None, message=None, http=None,
                 subcode=None, etype=None):
        d_http, d_type, d_msg, d_details = ERRORS.get(
            code, (400, "OAuthException", "(#%d) Error" % code, None))
        super().__init__(message or d_msg)
        self.code = code
        self.http = http or d_http
        self.message = message or d_msg
        self.details = details if details is not None else d_details
        self.subcode = subcode
        self.etype = etype or d_type

    def body(self):
        err = {"message": self.message, "type": self.etype,
               "code": self.code,
               "fbtrace_id": "A" + base64.b64encode(os.urandom(15)).decode()}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        if self.details is not None:
            err["error_data"] = {"messaging_product": "whatsapp",
                                 "details": self.details}
        return {"error": err}


def invalid(details, code=100, message=None):
    return MetaError(code, details=details, message=message)


class State:
    """Everything recorded and scripted, under one lock."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.counter = itertools.count(1)
        self.status_queue = queue.Queue()
        self.epoch = 0
        self.reset()

    def reset(self):
        self.epoch += 1           # requests from before a reset are dropped
        self.sent = []
        self.requests = []
        self.media = {}           # id -> (mime, filename, bytes)
        self.claimed_size = {}    # id -> file_size to announce
        self.reject_549 = False
        self.fail_next = []
        self.slow_next = 0
        self.slow_seconds = 2.0
        self.down = False
        self.closed = set()
        self.templates = {}
        self.statuses = (["sent", "delivered", "read"]
                         if self.args.webhook else [])
        self.status_delay = 0.2

    def next_wamid(self, to):
        n = next(self.counter)
        raw = ("%s-%08d-" % (to, n)).encode() + os.urandom(9)
        return "wamid.HBgN" + base64.b64encode(raw).decode()

    def next_media_id(self):
        n = next(self.counter)
        return "%d%07d" % (int.from_bytes(os.urandom(4), "big") % 10**8 + 1,
                           n)


def chars(s):
    return len(s) if isinstance(s, str) else -1


def need_str(obj, key, where, max_chars=None, required=True):
    v = obj.get(key) if isinstance(obj, dict) else None
    if v is None:
        if required:
            raise invalid("The parameter %s%s is required." % (where, key))
        return None
    if not isinstance(v, str):
        raise invalid("Param %s%s must be a string." % (where, key))
    if required and v == "":
        raise invalid("Param %s%s must not be empty." % (where, key))
    if max_chars is not None and len(v) > max_chars:
        raise invalid("Param %s%s must be at most %d characters long."
                      % (where, key, max_chars))
    return v


def check_text(msg):
    text = msg.get("text")
    if not isinstance(text, dict):
        raise invalid("The parameter text['body'] is required.")
    body = text.get("body")
    if not isinstance(body, str) or body.strip() == "":
        raise invalid("The parameter text['body'] is required.")
    if len(body) > TEXT_MAX:
        raise MetaError(100, message="(#100) Param text['body'] must be at "
                        "most %d characters long." % TEXT_MAX,
                        details="Param text['body'] must be at most %d "
                        "characters long." % TEXT_MAX)
    if "preview_url" in text and not isinstance(text["preview_url"], bool):
        raise invalid("Param text['preview_url'] must be a boolean.")


def check_interactive_common(it, body_max):
    body = it.get("body")
    if not isinstance(body, dict):
        raise MetaError(131009, details="The parameter interactive['body'] "
                        "is required.")
    text = body.get("text")
    if not isinstance(text, str) or text == "":
        raise MetaError(131009, details="The parameter "
                        "interactive['body']['text'] is required.")
    if len(text) > body_max:
        raise MetaError(131009, details="Body text length invalid. Min "
                        "length: 1, Max length: %d" % body_max)
    header = it.get("header")
    if header is not None:
        if not isinstance(header, dict) or header.get("type") != "text":
            raise MetaError(131009, details="Header type must be text.")
        ht = header.get("text")
        if not isinstance(ht, str) or not 1 <= len(ht) <= 60:
            raise MetaError(131009, details="Header text length invalid. "
                            "Min length: 1, Max length: 60")
    footer = it.get("footer")
    if footer is not None:
        ft = footer.get("text") if isinstance(footer, dict) else None
        if not isinstance(ft, str) or not 1 <= len(ft) <= 60:
            raise MetaError(131009, details="Footer text length invalid. "
                            "Min length: 1, Max length: 60")


def check_buttons(it):
    check_interactive_common(it, 1024)
    action = it.get("action")
    buttons = action.get("buttons") if isinstance(action, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise MetaError(131009, details="Buttons count invalid. Min: 1, "
                        "Max: 3")
    ids, titles = set(), set()
    for b in buttons:
        if not isinstance(b, dict) or b.get("type") != "reply" or \
                not isinstance(b.get("reply"), dict):
            raise MetaError(131009, details="Button type must be reply.")
        bid, title = b["reply"].get("id"), b["reply"].get("title")
        if not isinstance(bid, str) or not 1 <= len(bid) <= 256:
            raise MetaError(131009, details="Button id length invalid. Min "
                            "length: 1, Max length: 256")
        if not isinstance(title, str) or not 1 <= len(title) <= 20:
            raise MetaError(131009, details="Button title length invalid. "
                            "Min length: 1, Max length: 20")
        if bid in ids:
            raise MetaError(131009, details="Button ids must be unique.")
        if title in titles:
            raise MetaError(131009, details="Button titles must be unique.")
        ids.add(bid)
        titles.add(title)


def check_list(it):
    check_interactive_common(it, 4096)
    action = it.get("action")
    if not isinstance(action, dict):
        raise MetaError(131009, details="The parameter "
                        "interactive['action'] is required.")
    label = action.get("button")
    if not isinstance(label, str) or not 1 <= len(label) <= 20:
        raise MetaError(131009, details="Button label length invalid. Min "
                        "length: 1, Max length: 20")
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise MetaError(131009, details="Sections count invalid. Min: 1, "
                        "Max: 10")
    nrows, ids = 0, set()
    for s in sections:
        if not isinstance(s, dict):
            raise MetaError(131009, details="Section must be an object.")
        title = s.get("title")
        if title is not None and (not isinstance(title, str) or
                                  not 1 <= len(title) <= 24):
            raise MetaError(131009, details="Section title length invalid. "
                            "Min length: 1, Max length: 24")
        if title is None and len(sections) > 1:
            raise MetaError(131009, details="Section title is required when "
                            "there is more than one section.")
        rows = s.get("rows")
        if not isinstance(rows, list) or not rows:
            raise MetaError(131009, details="Rows count invalid. Min: 1")
        for r in rows:
            if not isinstance(r, dict):
                raise MetaError(131009, details="Row must be an object.")
            rid, rt = r.get("id"), r.get("title")
            if not isinstance(rid, str) or not 1 <= len(rid) <= 200:
                raise MetaError(131009, details="Row id length invalid. Min "
                                "length: 1, Max length: 200")
            if rid in ids:
                raise MetaError(131009, details="Row ids must be unique.")
            ids.add(rid)
            if not isinstance(rt, str) or not 1 <= len(rt) <= 24:
                raise MetaError(131009, details="Row title length invalid. "
                                "Min length: 1, Max length: 24")
            desc = r.get("description")
            if desc is not None and (not isinstance(desc, str) or
                                     len(desc) > 72):
                raise MetaError(131009, details="Row description length "
                                "invalid. Max length: 72")
            nrows += 1
    if nrows > 10:
        raise MetaError(131009, details="Total row count exceed max allowed "
                        "count: 10")


def check_interactive(msg):
    it = msg.get("interactive")
    if not isinstance(it, dict):
        raise invalid("The parameter interactive is required.")
    kind = it.get("type")
    if kind == "button":
        check_buttons(it)
    elif kind == "list":
        check_list(it)
    else:
        raise MetaError(131009, details="Interactive type must be one of "
                        "{button, list, product, product_list, flow, "
                        "cta_url} - got %r." % (kind,))


def check_document(state, msg):
    doc = msg.get("document")
    if not isinstance(doc, dict):
        raise invalid("The parameter document is required.")
    has_id, has_link = "id" in doc, "link" in doc
    if has_id == has_link:
        raise invalid("Exactly one of document['id'] or document['link'] is "
                      "required.")
    if has_id:
        mid = doc["id"]
        with state.lock:
            known = isinstance(mid, str) and mid in state.media
        if not known:
            raise invalid("Invalid media id %r." % (mid,))
    else:
        link = doc["link"]
        u = urllib.parse.urlsplit(link) if isinstance(link, str) else None
        if u is None or u.scheme not in ("http", "https") or not u.netloc:
            raise invalid("Param document['link'] must be a valid URL.")
    need_str(doc, "filename", "document.", 240, required=False)
    need_str(doc, "caption", "document.", 1024, required=False)


def check_template(state, msg):
    t = msg.get("template")
    if not isinstance(t, dict):
        raise invalid("The parameter template is required.")
    name = need_str(t, "name", "template.", 512)
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise invalid("Param template['name'] is not valid.")
    lang = t.get("language")
    code = lang.get("code") if isinstance(lang, dict) else None
    if not isinstance(code, str) or not code:
        raise invalid("The parameter template['language']['code'] is "
                      "required.")
    nparams = 0
    comps = t.get("components", [])
    if not isinstance(comps, list):
        raise invalid("Param template['components'] must be an array.")
    for c in comps:
        if not isinstance(c, dict) or c.get("type") not in (
                "header", "body", "button"):
            raise invalid("Param template['components'][]['type'] is not "
                          "valid.")
        if c["type"] != "body":
            continue
        params = c.get("parameters", [])
        if not isinstance(params, list):
            raise invalid("Param parameters must be an array.")
        for p in params:
            if not isinstance(p, dict) or p.get("type") != "text" or \
                    not isinstance(p.get("text"), str) or p["text"] == "":
                raise invalid("Param text is required for text parameters.")
            if re.search(r"[\n\t]| {5,}", p["text"]):
                raise MetaError(132018, details="Param text cannot have "
                                "new-line/tab characters or more than 4 "
                                "consecutive spaces")
            nparams += 1
    with state.lock:
        templates = dict(state.templates)
    if templates:
        if name not in templates or code not in templates[name]:
            raise MetaError(132001, details="template name (%s) does not "
                            "exist in %s" % (name, code))
        if templates[name][code] != nparams:
            raise MetaError(132000, details="body: number of localizable_"
                            "params (%d) does not match the expected number "
                            "of params (%d)" % (nparams,
                                                templates[name][code]))


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "graph-standin/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    # ---- plumbing -----------------------------------------------------
    def send_json(self, status, obj, extra=None):
        data = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_bytes(self, status, ctype, data):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self, cap):
        n = self.headers.get("Content-Length")
        if n is None or not n.isdigit():
            if self.headers.get("Transfer-Encoding"):
                raise MetaError(100, http=411,
                                details="Content-Length is required.")
            return b""
        n = int(n)
        if n > cap:
            self.close_connection = True
            raise MetaError(100, http=413, details="Request body too large.")
        return self.rfile.read(n)

    def state(self):
        return self.server.state

    # ---- routes -------------------------------------------------------
    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        st = self.state()
        if path == "/__sent":
            with st.lock:
                self.send_json(200, st.sent)
            return
        if path == "/__requests":
            with st.lock:
                self.send_json(200, st.requests)
            return
        m = re.fullmatch(r"/__download/([0-9]+)", path)
        if m:
            with st.lock:
                media = st.media.get(m.group(1))
                st.requests.append({"method": "GET", "path": path,
                                    "endpoint": "download",
                                    "http": 200 if media else 404,
                                    "code": None})
            try:
                self.check_token()
            except MetaError as e:
                self.send_json(401, e.body())
                return
            if media is None:
                self.send_json(404, {"error": "no such media"})
            else:
                self.send_bytes(200, media[0], media[2])
            return
        m = re.fullmatch(r"/__media/([0-9]+)", path)
        if m:
            with st.lock:
                media = st.media.get(m.group(1))
            if media is None:
                self.send_json(404, {"error": "no such media"})
            else:
                self.send_bytes(200, media[0], media[2])
            return
        self.api("GET", path, b"")

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/__control":
            try:
                body = self.read_body(JSON_BODY_MAX)
                self.control(json.loads(body or b"{}"))
            except (ValueError, TypeError, AttributeError) as e:
                self.send_json(400, {"error": "bad control: %s" % e})
            except MetaError as e:
                self.send_json(e.http, e.body())
            return
        try:
            body = self.read_body(BODY_MAX)
        except MetaError as e:
            self.send_json(e.http, e.body())
            return
        self.api("POST", path, body)

    def control(self, ctl):
        st = self.state()
        if not isinstance(ctl, dict):
            raise ValueError("expected a JSON object")
        with st.lock:
            if ctl.get("reset"):
                st.reset()
            for f in ctl.get("fail_next", []):
                if not isinstance(f, dict) or not isinstance(
                        f.get("code", 0), int):
                    raise ValueError("fail_next entries are objects with "
                                     "an integer code")
                st.fail_next.append(f)
            if "slow_next" in ctl:
                st.slow_next = int(ctl["slow_next"])
            if "slow_seconds" in ctl:
                st.slow_seconds = float(ctl["slow_seconds"])
            if "down" in ctl:
                st.down = bool(ctl["down"])
            if "closed_windows" in ctl:
                st.closed = set(str(x) for x in ctl["closed_windows"])
            if "templates" in ctl:
                st.templates = {str(k): {str(lk): int(lv)
                                         for lk, lv in v.items()}
                                for k, v in ctl["templates"].items()}
            if "statuses" in ctl:
                st.statuses = [str(x) for x in ctl["statuses"]]
            if "status_delay" in ctl:
                st.status_delay = float(ctl["status_delay"])
            if "reject_549" in ctl:
                st.reject_549 = bool(ctl["reject_549"])
            for mid, spec in ctl.get("inbound_media", {}).items():
                if "data_b64" in spec:
                    data = base64.b64decode(spec["data_b64"])
                else:
                    n = int(spec.get("size", 0))
                    data = (b"OggS" + b"\0" * 60)[:n] + b"\0" * max(0, n - 64)
                st.media[str(mid)] = (str(spec.get("mime_type",
                                                   "audio/ogg")),
                                      "inbound", data)
                if "file_size" in spec:
                    st.claimed_size[str(mid)] = int(spec["file_size"])
        self.send_json(200, {"ok": True})

    def api(self, method, path, body):
        """Handle one Graph API request. It is recorded in /__requests
        before the answer goes out, so a test that reads the record right
        after its call returns sees it."""
        st = self.state()
        m = re.fullmatch(r"(?:/v[0-9]+\.[0-9]+)?/([0-9]+)(?:/([a-z_]+))?",
                         path)
        endpoint = (m.group(2) or "node") if m else "unknown"
        rec = {"method": method, "path": path, "endpoint": endpoint,
               "http": 200, "code": None}
        self.invalid_field = None
        with st.lock:
            epoch = st.epoch
        extra = None
        try:
            status, answer = self.api_answer(method, path, body, m, epoch,
                                             endpoint)
        except MetaError as e:
            rec["code"] = e.code
            status, answer = e.http, e.body()
            if e.code == 190:
                extra = {"WWW-Authenticate": 'OAuth "Facebook Platform" '
                         '"invalid_token" "%s"' % e.message}
        except Exception:   # a bug here: answer like Meta's "unknown error"
            log("internal error: %s" % traceback.format_exc())
            e = MetaError(1)
            rec["code"] = 1
            status, answer = e.http, e.body()
        rec["http"] = status
        if self.invalid_field is not None:
            rec["invalid"] = self.invalid_field
        with st.lock:
            if st.epoch == epoch:
                st.requests.append(rec)
        if answer is None:
            self.send_bytes(status, "text/html; charset=utf-8",
                            b"<html><body>Service Unavailable</body></html>")
        else:
            self.send_json(status, answer, extra)

    def api_answer(self, method, path, body, m, epoch, endpoint):
        """(status, JSON answer), or (503, None) while down; MetaError for
        Meta's errors."""
        st = self.state()
        with st.lock:
            slow = st.slow_next > 0
            if slow:
                st.slow_next -= 1
            delay = st.slow_seconds
        if slow:
            time.sleep(delay)
        with st.lock:
            down = st.down or st.epoch != epoch
        if down:
            return 503, None
        self.check_token()
        with st.lock:
            fail = None
            for i, f in enumerate(st.fail_next):
                if f.get("endpoint") in (None, endpoint):
                    fail = st.fail_next.pop(i)
                    break
        if fail is not None:
            raise MetaError(int(fail.get("code", 1)),
                            details=fail.get("details"),
                            message=fail.get("message"),
                            http=fail.get("http"),
                            subcode=fail.get("subcode"))
        if m is None:
            raise MetaError(100, message="Unknown path components: %s" % path,
                            http=400)
        obj_id = m.group(1)
        if method == "GET" and m.group(2) is None:
            return self.media_info(obj_id)
        if method == "POST" and m.group(2) == "messages":
            self.check_phone(obj_id)
            return self.messages(body)
        if method == "POST" and m.group(2) == "media":
            self.check_phone(obj_id)
            return self.upload(body)
        raise MetaError(100, subcode=33, message="Unsupported %s request. "
                        "Object with ID '%s' does not exist, cannot be "
                        "loaded due to missing permissions, or does not "
                        "support this operation." % (method.lower(), obj_id),
                        etype="GraphMethodException")

    def check_token(self):
        auth = self.headers.get("Authorization", "")
        want = "Bearer " + self.server.args.token
        if not hmac.compare_digest(auth.encode(), want.encode()):
            raise MetaError(190)

    def check_phone(self, obj_id):
        if obj_id != self.server.args.phone_number_id:
            raise MetaError(100, subcode=33, message="Unsupported post "
                            "request. Object with ID '%s' does not exist, "
                            "cannot be loaded due to missing permissions, or "
                            "does not support this operation." % obj_id,
                            etype="GraphMethodException")

    def media_info(self, media_id):
        st = self.state()
        with st.lock:
            media = st.media.get(media_id)
        if media is None:
            raise MetaError(100, subcode=33, message="Unsupported get "
                            "request. Object with ID '%s' does not exist."
                            % media_id, etype="GraphMethodException")
        host, port = self.server.server_address[:2]
        return 200, {"messaging_product": "whatsapp",
                     "url": "http://%s:%d/__download/%s" % (host, port,
                                                            media_id),
                     "mime_type": media[0],
                     "sha256": hashlib.sha256(media[2]).hexdigest(),
                     "file_size": st.claimed_size.get(media_id,
                                                      len(media[2])),
                     "id": media_id}

    def messages(self, body):
        st = self.state()
        ctype = self.headers.get("Content-Type", "")
        if not ctype.lower().startswith("application/json"):
            raise invalid("Content-Type must be application/json.")
        if len(body) > JSON_BODY_MAX:
            raise MetaError(100, http=413, details="Request body too large.")
        try:
            msg = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise MetaError(100, message="(#100) Invalid parameter",
                            details="Request body is not valid JSON.")
        if not isinstance(msg, dict):
            raise invalid("Request body must be a JSON object.")
        if msg.get("messaging_product") != "whatsapp":
            raise invalid("The parameter messaging_product is required.")
        if msg.get("status") is not None:
            return self.mark_read(msg)
        bad = self.server.wire.check(msg)
        if bad is not None:
            self.invalid_field = bad[0]
            log("refused by Meta's schema: %s: %s" % bad)
            raise MetaError(100, message="(#100) Invalid parameter",
                            details="Param %s: %s" % bad)
        to = need_str(msg, "to", "")
        by_user_id = re.fullmatch(r"[A-Z]{2}\.[0-9A-Za-z.]{1,128}", to)
        if not by_user_id and not re.fullmatch(r"\+?[0-9]{6,15}", to):
            raise MetaError(100, message="(#100) Invalid parameter",
                            details="Param to is neither a phone number nor "
                            "a business-scoped user ID.")
        rtype = msg.get("recipient_type", "individual")
        if rtype != "individual":
            raise invalid("Param recipient_type must be individual.")
        mtype = msg.get("type", "text")
        if mtype not in MESSAGE_TYPES:
            raise MetaError(100, message="(#100) Param type must be one of "
                            "{%s} - got \"%s\"." % (", ".join(
                                t.upper() for t in MESSAGE_TYPES), mtype),
                            details="Unknown message type.")
        if mtype == "text":
            check_text(msg)
        elif mtype == "interactive":
            check_interactive(msg)
        elif mtype == "document":
            check_document(st, msg)
        elif mtype == "template":
            check_template(st, msg)
        elif mtype not in msg:
            raise invalid("The parameter %s is required." % mtype)
        wa_id = to.lstrip("+")
        if st.reject_549 and re.fullmatch(r"549[0-9]{10}", wa_id):
            raise MetaError(131030)
        # Meta files an Argentine mobile sent to as 54 + 10 digits under
        # its wa_id, 549 + 10 digits (what webhooks and answers say).
        if re.fullmatch(r"54[1-8][0-9]{9}", wa_id):
            wa_id = "549" + wa_id[2:]
        with st.lock:
            closed = wa_id in st.closed
        if closed and mtype != "template":
            raise MetaError(131047)
        wamid = st.next_wamid(wa_id)
        with st.lock:
            st.sent.append({"kind": "message", "wamid": wamid, "to": wa_id,
                            "input": to,
                            "type": mtype, "time": time.time(),
                            "payload": msg})
            statuses = list(st.statuses)
            delay = st.status_delay
        if statuses and self.server.args.webhook:
            st.status_queue.put((wamid, wa_id, statuses, delay,
                                 msg.get("biz_opaque_callback_data")))
        answer = {"messaging_product": "whatsapp",
                  "contacts": [{"input": to, "user_id": wa_id}
                               if by_user_id else
                               {"input": to, "wa_id": wa_id}],
                  "messages": [{"id": wamid}]}
        if mtype == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return 200, answer

    def mark_read(self, msg):
        st = self.state()
        if msg.get("status") != "read":
            raise invalid("Param status must be read.")
        mid = need_str(msg, "message_id", "", 256)
        if not mid.startswith("wamid."):
            raise invalid("Param message_id is not a valid message id.")
        ti = msg.get("typing_indicator")
        if ti is not None and (not isinstance(ti, dict) or
                               ti.get("type") != "text"):
            raise invalid("Param typing_indicator['type'] must be text.")
        with st.lock:
            st.sent.append({"kind": "read", "message_id": mid,
                            "typing_indicator": ti is not None,
                            "time": time.time(), "payload": msg})
        return 200, {"success": True}

    def upload(self, body):
        st = self.state()
        ctype = self.headers.get("Content-Type", "")
        m = re.match(r"multipart/form-data;.*boundary=\"?([^\";]+)\"?",
                     ctype, re.I)
        if not m:
            raise invalid("Content-Type must be multipart/form-data.")
        fields, files = parse_multipart(body, m.group(1).encode())
        if fields.get("messaging_product") != "whatsapp":
            raise invalid("The parameter messaging_product is required.")
        if "file" not in files:
            raise invalid("The parameter file is required.")
        mime = fields.get("type") or files["file"][1]
        if not mime:
            raise invalid("The parameter type is required.")
        if mime not in MEDIA_TYPES:
            raise invalid("Param file must be a file with one of the "
                          "following types: %s. Received file of type '%s'."
                          % (", ".join(sorted(MEDIA_TYPES)), mime))
        filename, _, data = files["file"]
        if not data:
            raise MetaError(131053, details="Uploaded file is empty.")
        if mime == "application/pdf" and not data.startswith(b"%PDF-"):
            raise MetaError(131053, details="Uploaded file is not a valid "
                            "PDF document.")
        media_id = st.next_media_id()
        with st.lock:
            st.media[media_id] = (mime, filename, data)
            st.sent.append({"kind": "media", "id": media_id,
                            "filename": filename, "mime_type": mime,
                            "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(),
                            "time": time.time()})
        return 200, {"id": media_id}


def parse_multipart(body, boundary):
    """fields {name: str}, files {name: (filename, content_type, bytes)}."""
    fields, files = {}, {}
    delim = b"--" + boundary
    parts = body.split(delim)
    if len(parts) < 3 or not parts[-1].startswith(b"--"):
        raise invalid("Malformed multipart body.")
    for part in parts[1:-1]:
        if not part.startswith(b"\r\n") or not part.endswith(b"\r\n"):
            raise invalid("Malformed multipart body.")
        part = part[2:-2]
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            raise invalid("Malformed multipart part.")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        disp = headers.get("content-disposition", "")
        nm = re.search(r'\bname="((?:[^"\\]|\\.)*)"', disp)
        if not disp.lower().startswith("form-data") or not nm:
            raise invalid("Malformed multipart part.")
        fn = re.search(r'\bfilename="((?:[^"\\]|\\.)*)"', disp)
        name = nm.group(1)
        if fn is not None:
            filename = re.sub(r"\\(.)", r"\1", fn.group(1))
            files[name] = (filename, headers.get("content-type", ""), data)
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, files


def status_sender(state, args):
    """Post sent/delivered/read webhooks, signed like Meta's."""
    host = urllib.parse.urlsplit(args.webhook).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        log("--webhook must be a loopback URL; status webhooks are off")
        return
    while not STOP.is_set():
        try:
            wamid, to, statuses, delay, callback = state.status_queue.get(
                timeout=0.5)
        except queue.Empty:
            continue
        for status in statuses:
            time.sleep(delay)
            item = {"id": wamid, "status": status,
                    "timestamp": str(int(time.time())),
                    "recipient_id": to,
                    "pricing": {"billable": False, "pricing_model": "PMP",
                                "category": "service"}}
            # Meta echoes what the message carried in every status of it.
            if callback is not None:
                item["biz_opaque_callback_data"] = callback
            value = {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": args.display_phone,
                             "phone_number_id": args.phone_number_id},
                "statuses": [item]}
            payload = {"object": "whatsapp_business_account",
                       "entry": [{"id": args.waba_id, "changes": [
                           {"value": value, "field": "messages"}]}]}
            data = json.dumps(payload, separators=(",", ":")).encode()
            sig = hmac.new(args.app_secret.encode(), data,
                           hashlib.sha256).hexdigest()
            req = urllib.request.Request(args.webhook, data=data, headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": "sha256=" + sig})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    r.read(65536)
            except Exception as e:   # keep going; Meta retries, we log
                log("status webhook %s for %s failed: %s" % (status, wamid,
                                                              e))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # A real service takes a burst of connections; the default backlog (5)
    # would drop SYNs and make a client wait its own retransmits.
    request_queue_size = 128
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--phone-number-id", default="110000000000001")
    parser.add_argument("--display-phone", default="5493414000000")
    parser.add_argument("--waba-id", default="104857600000001")
    parser.add_argument("--webhook")
    parser.add_argument("--status-senders", type=int, default=4,
                        help="threads posting status webhooks (default 4)")
    parser.add_argument("--app-secret")
    parser.add_argument("--openapi", help="Meta's OpenAPI YAML (default: "
                        "found beside the repository)")
    args = parser.parse_args()
    if args.webhook and not args.app_secret:
        parser.error("--webhook needs --app-secret")

    server = Server(("127.0.0.1", args.port), Handler)
    server.args = args
    server.state = State(args)
    server.wire = WireCheck(find_spec(args.openapi))
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if args.webhook:
        # A few senders, as Meta posts webhooks in parallel: one message's
        # statuses stay in order (one queue item), and a burst of sends
        # does not queue every status behind the others'.
        for _ in range(args.status_senders):
            threading.Thread(target=status_sender, args=(server.state, args),
                             daemon=True).start()
    port = server.server_address[1]
    if args.port_file:
        tmp = "%s.%d.tmp" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    log("listening on 127.0.0.1:%d" % port)
    while not STOP.wait(1):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
