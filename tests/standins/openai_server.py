#!/usr/bin/python3
"""openai_server.py - a scripted OpenAI-compatible Chat Completions server.

Ovidio's stand-in for OpenAI in tests (DESIGN.md section 6). Stdlib only;
run it with Debian's interpreter:

    /usr/bin/python3 tests/standins/openai_server.py --port 0 --port-file FILE
        [--key KEY] [--model MODEL]

It listens on 127.0.0.1 (port 0: any free port), writes the port number to
FILE once it accepts connections, and serves until SIGTERM or SIGINT.

The API, as a client sees it (base URL http://127.0.0.1:PORT/v1):

  POST /v1/chat/completions
      Checks "Authorization: Bearer KEY" (default key sk-test-ovidio): a
      missing or wrong key gets 401 with OpenAI's error JSON. Checks the
      request the way the real service does (JSON object, model, messages
      with valid roles, tool messages answering a preceding assistant
      tool_calls message by tool_call_id, every tool call answered, tools
      of type "function" with valid names) and answers 400 with OpenAI's
      error JSON when it is wrong. Otherwise it answers with the next step
      of the script, in the real response shape: id, object
      "chat.completion", created, model, choices[{index, message{role,
      content, tool_calls[{id, type "function", function{name, arguments
      (a JSON string)}}]}, finish_reason}], usage.

Test controls (not part of OpenAI's API):

  POST /__script    a JSON list of steps; replaces the remaining script and
                    forgets the recorded requests. Steps are consumed in
                    order, one per chat completion request (a request
                    refused with 400/401 consumes none). With no step left
                    the answer is the default final text below.
  GET  /__requests  every chat completion request received since the last
                    /__script: [{"path", "auth": "ok"|"wrong"|"missing",
                    "body_text": raw body, "body": parsed JSON or null}].

A step is a JSON object:
  {"content": "text"}                       final answer (finish "stop")
  {"content": "text", "finish_reason": "length"}
  {"tool_calls": [{"name": N, "arguments": OBJ_OR_STRING, "id": ID?}]}
      arguments given as an object are JSON-encoded; as a string they are
      sent verbatim (so they can be invalid JSON). An id is made up when
      absent.
  {"invalid_arguments": "raw", "name": N?}  one tool call whose arguments
      string is "raw"; the tool is N, or the first tool of the request.
  {"http": 429, "retry_after": 1}           an error; retry_after adds the
      Retry-After header (seconds). "message", "type" and "code" override
      the error body. 429 and 5xx default to OpenAI's wording.
  {"raw": "text", "http": 200?}             this body verbatim (bad JSON).
  {"sleep": 5, ...}                         wait this many seconds first,
      then answer with the rest of the step (or the default).
  {"close": true}                           drop the connection unanswered.

  POST /v1/audio/transcriptions
      multipart/form-data with file (required, non-empty), model (required),
      and optional language, prompt, response_format; the same bearer key
      check. Answers {"text": ...} from the next step of its own script:
  POST /__script_audio  a JSON list of steps for transcriptions:
      {"text": "words"} (default "hola"), {"text": ""} (nothing heard),
      {"http": 429, "retry_after": 1}, {"http": 500}, {"sleep": S},
      {"close": true}; GET /__requests lists them too, with "fields"
      (every text field) and "file" {"filename", "type", "size"}.

Chat messages may carry content as a list of parts ({"type": "text",
"text"} or {"type": "image_url", "image_url": {"url"}}), as vision input
does; a step answering a vision request is an ordinary {"content": ...}.

The script is followed even where a real model would not (tool calls under
tool_choice "none", more calls than a client allows), so tests can make
the model misbehave; everything else behaves like the real service.
"""
import argparse
import json
import os
import random
import re
import signal
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_TEXT = "¡Hola! ¿En qué te puedo ayudar?"
BODY_MAX = 4 * 1024 * 1024
ROLES = ("system", "user", "assistant", "tool", "developer")
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

STATE = {"script": [], "audio": [], "requests": [],
         "lock": threading.Lock()}
ARGS = None


def log(msg):
    sys.stderr.write("openai_server: %s\n" % msg)
    sys.stderr.flush()


def rand_id(prefix, n=24):
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(random.choice(alphabet) for _ in range(n))


def error_body(message, etype, code=None, param=None):
    return {"error": {"message": message, "type": etype, "param": param,
                      "code": code}}


def mask_key(key):
    """What OpenAI shows of a wrong key: a few characters at each end."""
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * 12 + key[-4:]


def check_request(body):
    """None when the request is one the real API accepts, else a message."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return "[] is too short - 'messages'"
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            return "[] is too short - 'tools'"
        for i, t in enumerate(tools):
            if not isinstance(t, dict) or t.get("type") != "function":
                return "Invalid value for 'tools[%d].type'." % i
            fn = t.get("function")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) \
                    or not TOOL_NAME_RE.match(fn["name"]):
                return "Invalid 'tools[%d].function.name'." % i
            params = fn.get("parameters")
            if params is not None and not isinstance(params, dict):
                return "Invalid 'tools[%d].function.parameters'." % i
    tc = body.get("tool_choice")
    if tc is not None:
        if tools is None:
            return ("Invalid value for 'tool_choice': 'tool_choice' is only "
                    "allowed when 'tools' are specified.")
        if tc not in ("auto", "none", "required") and not isinstance(tc, dict):
            return "Invalid value for 'tool_choice'."
    temp = body.get("temperature")
    if temp is not None and (not isinstance(temp, (int, float)) or
                             isinstance(temp, bool) or not 0 <= temp <= 2):
        return "Invalid 'temperature'."
    mt = body.get("max_tokens")
    if mt is not None and (not isinstance(mt, int) or isinstance(mt, bool) or
                           mt < 1):
        return "Invalid 'max_tokens'."
    pending = []   # tool_call ids still to be answered
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            return "Invalid value for 'messages[%d].role'." % i
        role = m["role"]
        if pending and role != "tool":
            return ("An assistant message with 'tool_calls' must be followed "
                    "by tool messages responding to each 'tool_call_id'. The "
                    "following tool_call_ids did not have response messages: "
                    + ", ".join(pending))
        content = m.get("content")
        if role == "tool":
            tid = m.get("tool_call_id")
            if not isinstance(tid, str) or tid not in pending:
                return ("Invalid parameter: messages with role 'tool' must be "
                        "a response to a preceeding message with 'tool_calls'.")
            pending.remove(tid)
            if not isinstance(content, str):
                return "Invalid type for 'messages[%d].content'." % i
        elif role == "assistant":
            calls = m.get("tool_calls")
            if calls is not None:
                if not isinstance(calls, list) or not calls:
                    return "[] is too short - 'messages[%d].tool_calls'" % i
                for c in calls:
                    fn = c.get("function") if isinstance(c, dict) else None
                    if not isinstance(c, dict) or c.get("type") != "function" \
                            or not isinstance(c.get("id"), str) \
                            or not isinstance(fn, dict) \
                            or not isinstance(fn.get("name"), str) \
                            or not isinstance(fn.get("arguments"), str):
                        return "Invalid 'messages[%d].tool_calls'." % i
                    pending.append(c["id"])
                if content is not None and not isinstance(content, str):
                    return "Invalid type for 'messages[%d].content'." % i
            elif not isinstance(content, str):
                return "Invalid type for 'messages[%d].content'." % i
        elif role == "user" and isinstance(content, list) and content:
            for p in content:
                if not isinstance(p, dict) or p.get("type") not in (
                        "text", "image_url"):
                    return "Invalid 'messages[%d].content' part." % i
                if p["type"] == "image_url" and not (
                        isinstance(p.get("image_url"), dict) and
                        str(p["image_url"].get("url", "")).startswith(
                            ("data:image/", "https://"))):
                    return "Invalid image_url in 'messages[%d]'." % i
        elif not isinstance(content, str):
            return "Invalid type for 'messages[%d].content'." % i
    if pending:
        return ("An assistant message with 'tool_calls' must be followed by "
                "tool messages responding to each 'tool_call_id'. The "
                "following tool_call_ids did not have response messages: "
                + ", ".join(pending))
    return None


def completion(body, message, finish):
    prompt = len(json.dumps(body.get("messages", []))) // 4
    out = len(json.dumps(message)) // 4
    return {
        "id": rand_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": ARGS.model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": out,
                  "total_tokens": prompt + out},
        "system_fingerprint": "fp_standin",
    }


def text_message(text):
    return {"role": "assistant", "content": text, "refusal": None}


def tool_message(calls):
    out = []
    for c in calls:
        args = c.get("arguments", {})
        if not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        out.append({"id": c.get("id") or rand_id("call_"), "type": "function",
                    "function": {"name": c.get("name", ""),
                                 "arguments": args}})
    return {"role": "assistant", "content": None, "tool_calls": out,
            "refusal": None}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-standin/1"

    def log_message(self, fmt, *args):
        log(fmt % args)

    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_raw(status, data, "application/json", headers)

    def send_raw(self, status, data, ctype, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > BODY_MAX:
            return None
        return self.rfile.read(n)

    def do_GET(self):
        if self.path == "/__requests":
            with STATE["lock"]:
                reqs = list(STATE["requests"])
            self.send_json(200, reqs)
            return
        self.send_json(404, error_body("Invalid URL (GET %s)" % self.path,
                                       "invalid_request_error"))

    def do_POST(self):
        raw = self.read_body()
        if raw is None:
            self.send_json(413, error_body("Request too large.",
                                           "invalid_request_error"))
            return
        if self.path == "/__script":
            try:
                steps = json.loads(raw.decode("utf-8"))
                if not isinstance(steps, list):
                    raise ValueError("not a list")
            except ValueError as e:
                self.send_json(400, {"error": "bad script: %s" % e})
                return
            with STATE["lock"]:
                STATE["script"] = steps
                STATE["requests"] = []
            self.send_json(200, {"steps": len(steps)})
            return
        if self.path == "/__script_audio":
            try:
                steps = json.loads(raw.decode("utf-8"))
                if not isinstance(steps, list):
                    raise ValueError("not a list")
            except ValueError as e:
                self.send_json(400, {"error": "bad script: %s" % e})
                return
            with STATE["lock"]:
                STATE["audio"] = steps
                STATE["requests"] = []
            self.send_json(200, {"steps": len(steps)})
            return
        if self.path == "/v1/audio/transcriptions":
            self.transcription(raw)
            return
        if self.path != "/v1/chat/completions":
            self.send_json(404, error_body("Invalid URL (POST %s)" % self.path,
                                           "invalid_request_error"))
            return
        self.chat(raw)

    def chat(self, raw):
        auth = self.headers.get("Authorization")
        if auth is None:
            verdict = "missing"
        elif auth == "Bearer " + ARGS.key:
            verdict = "ok"
        else:
            verdict = "wrong"
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        with STATE["lock"]:
            STATE["requests"].append({"path": self.path, "auth": verdict,
                                      "body_text": text, "body": body})
        if verdict == "missing":
            self.send_json(401, error_body(
                "You didn't provide an API key. You need to provide your API "
                "key in an Authorization header using Bearer auth (i.e. "
                "Authorization: Bearer YOUR_KEY).", "invalid_request_error"))
            return
        if verdict == "wrong":
            given = auth[7:] if auth.startswith("Bearer ") else auth
            self.send_json(401, error_body(
                "Incorrect API key provided: %s. You can find your API key at "
                "https://platform.openai.com/account/api-keys." %
                mask_key(given), "invalid_request_error",
                code="invalid_api_key"))
            return
        problem = check_request(body)
        if problem is not None:
            self.send_json(400, error_body(problem, "invalid_request_error"))
            return
        with STATE["lock"]:
            step = STATE["script"].pop(0) if STATE["script"] else {}
        self.answer(body, step)

    def transcription(self, raw):
        auth = self.headers.get("Authorization")
        verdict = ("missing" if auth is None else
                   "ok" if auth == "Bearer " + ARGS.key else "wrong")
        m = re.match(r"multipart/form-data;.*boundary=\"?([^\";]+)\"?",
                     self.headers.get("Content-Type", ""), re.I)
        fields, files = (parse_multipart(raw, m.group(1).encode())
                         if m else ({}, {}))
        f = files.get("file")
        with STATE["lock"]:
            STATE["requests"].append({
                "path": self.path, "auth": verdict, "fields": fields,
                "file": {"filename": f[0], "type": f[1], "size": len(f[2])}
                if f else None})
        if verdict != "ok":
            self.send_json(401, error_body("Incorrect API key provided.",
                                           "invalid_request_error",
                                           code="invalid_api_key"))
            return
        if not m or f is None or not f[2]:
            self.send_json(400, error_body("Could not parse multipart form",
                                           "invalid_request_error"))
            return
        if not fields.get("model"):
            self.send_json(400, error_body("you must provide a model "
                                           "parameter",
                                           "invalid_request_error"))
            return
        if not re.search(r"\.(flac|m4a|mp3|mp4|mpeg|mpga|oga|ogg|wav|"
                         r"webm)$", f[0] or ""):
            self.send_json(400, error_body(
                "Invalid file format. Supported formats: ['flac', 'm4a', "
                "'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', "
                "'webm']", "invalid_request_error"))
            return
        with STATE["lock"]:
            step = STATE["audio"].pop(0) if STATE["audio"] else {}
        if step.get("sleep"):
            time.sleep(float(step["sleep"]))
        if step.get("close"):
            self.close_connection = True
            return
        status = step.get("http", 200)
        if status != 200:
            headers = {}
            if "retry_after" in step:
                headers["Retry-After"] = str(step["retry_after"])
            self.send_json(status, error_body(
                "Rate limit reached" if status == 429 else
                "The server had an error while processing your request.",
                "requests" if status == 429 else "server_error"), headers)
            return
        self.send_json(200, {"text": step.get("text", "hola"),
                             "usage": {"type": "tokens", "input_tokens": 10,
                                       "output_tokens": 5,
                                       "total_tokens": 15}})

    def answer(self, body, step):
        if not isinstance(step, dict):
            step = {}
        if step.get("sleep"):
            time.sleep(float(step["sleep"]))
        if step.get("close"):
            self.close_connection = True
            return
        status = step.get("http", 200)
        if "raw" in step:
            self.send_raw(status, step["raw"].encode("utf-8"),
                          "application/json")
            return
        if status != 200:
            headers = {}
            if "retry_after" in step:
                headers["Retry-After"] = str(step["retry_after"])
            if status == 429:
                msg, etype, code = ("Rate limit reached for gpt-4o-mini on "
                                    "requests per min (RPM): Limit 3, Used 3, "
                                    "Requested 1. Please try again in 20s.",
                                    "requests", "rate_limit_exceeded")
            elif status >= 500:
                msg, etype, code = ("The server had an error while processing "
                                    "your request. Sorry about that!",
                                    "server_error", None)
            else:
                msg, etype, code = ("Bad request.", "invalid_request_error",
                                    None)
            self.send_json(status, error_body(step.get("message", msg),
                                              step.get("type", etype),
                                              step.get("code", code)), headers)
            return
        if "invalid_arguments" in step:
            name = step.get("name")
            if name is None:
                tools = body.get("tools") or [{}]
                name = tools[0].get("function", {}).get("name", "tool")
            msg = tool_message([{"name": name,
                                 "arguments": str(step["invalid_arguments"])}])
            finish = "tool_calls"
        elif "tool_calls" in step:
            msg = tool_message(step["tool_calls"])
            finish = "tool_calls"
        else:
            msg = text_message(step.get("content", DEFAULT_TEXT))
            finish = "stop"
        finish = step.get("finish_reason", finish)
        self.send_json(200, completion(body, msg, finish))


def parse_multipart(body, boundary):
    """fields {name: str}, files {name: (filename, content_type, bytes)}."""
    fields, files = {}, {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, data = part.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        disp = re.search(rb'name="([^"]*)"(?:; filename="([^"]*)")?', head)
        if not disp:
            continue
        name = disp.group(1).decode()
        ctype = re.search(rb"Content-Type: *([^\r\n]+)", head, re.I)
        if disp.group(2) is not None:
            files[name] = (disp.group(2).decode(),
                           ctype.group(1).decode() if ctype else "", data)
        else:
            fields[name] = data.decode("utf-8", errors="replace")
    return fields, files


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # A real service takes a burst of connections; the default backlog (5)
    # would drop SYNs and make a client wait its own retransmits.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that gave up (timeout) while a "sleep" step ran: normal.
        log("connection from %s:%d ended: %s" % (client_address[0],
                                                 client_address[1],
                                                 sys.exc_info()[1]))


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--key", default="sk-test-ovidio")
    parser.add_argument("--model", default="gpt-4o-mini-2024-07-18")
    ARGS = parser.parse_args()

    server = Server(("127.0.0.1", ARGS.port), Handler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    if ARGS.port_file:
        tmp = "%s.%d.tmp" % (ARGS.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, ARGS.port_file)
    log("listening on 127.0.0.1:%d" % port)
    while not stop.wait(1):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
