#!/usr/bin/python3
"""smtp_server.py - a small SMTP server standing in for the mail relay.

    /usr/bin/python3 tests/standins/smtp_server.py --port 0 --port-file FILE \
        --dir DIR [--user U --password P] [--fail-rcpt ADDR ...]

Listens on 127.0.0.1 only, writes its port to FILE once it accepts
connections, and serves until SIGTERM or SIGINT. Stdlib only.

Speaks what libcurl's SMTP client uses: EHLO/HELO, AUTH PLAIN and LOGIN
(checked against --user/--password when given: 535 otherwise; when they
are given, MAIL before AUTH is 530), MAIL FROM, RCPT TO (550 for an
address in --fail-rcpt), DATA (dot-unstuffed, up to 1 MB: 552 beyond),
RSET, NOOP, QUIT; anything else is 502. Each accepted message is written
to DIR as NNNN.json: {"from", "to": [...], "data": the message text,
"subject": decoded Subject header, "auth": user or null}. Files appear
atomically (written to a .tmp name, then renamed).
"""
import argparse
import base64
import email
import email.header
import json
import os
import signal
import socketserver
import sys
import threading

DATA_MAX = 1024 * 1024
LOCK = threading.Lock()
COUNTER = [0]


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def send(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(4096)
        if not line:
            return None
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):
        cfg = self.server.cfg
        self.send("220 127.0.0.1 ESMTP ovidio-standin")
        mail_from, rcpts, user = None, [], None
        while True:
            line = self.readline()
            if line is None:
                return
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip()
            if verb in ("EHLO", "HELO"):
                if verb == "EHLO":
                    self.wfile.write(b"250-127.0.0.1\r\n250-AUTH PLAIN LOGIN\r\n"
                                     b"250-8BITMIME\r\n250 SIZE 1048576\r\n")
                    self.wfile.flush()
                else:
                    self.send("250 127.0.0.1")
            elif verb == "AUTH":
                parts = arg.split()
                mech = parts[0].upper() if parts else ""
                try:
                    if mech == "PLAIN":
                        blob = parts[1] if len(parts) > 1 else None
                        if blob is None:
                            self.send("334 ")
                            blob = self.readline() or ""
                        f = base64.b64decode(blob).split(b"\0")
                        u, p = f[1].decode(), f[2].decode()
                    elif mech == "LOGIN":
                        if len(parts) > 1:
                            u = base64.b64decode(parts[1]).decode()
                        else:
                            self.send("334 VXNlcm5hbWU6")
                            u = base64.b64decode(self.readline() or "").decode()
                        self.send("334 UGFzc3dvcmQ6")
                        p = base64.b64decode(self.readline() or "").decode()
                    else:
                        self.send("504 unrecognized authentication type")
                        continue
                except (ValueError, IndexError, UnicodeDecodeError):
                    self.send("501 malformed authentication")
                    continue
                if cfg.user is not None and (u != cfg.user or p != cfg.password):
                    self.send("535 5.7.8 authentication credentials invalid")
                    continue
                user = u
                self.send("235 2.7.0 authentication successful")
            elif verb == "MAIL":
                if cfg.user is not None and user is None:
                    self.send("530 5.7.0 authentication required")
                    continue
                mail_from = arg.split(":", 1)[1].strip().split(" ")[0].strip("<>") \
                    if ":" in arg else ""
                rcpts = []
                self.send("250 OK")
            elif verb == "RCPT":
                if mail_from is None:
                    self.send("503 need MAIL first")
                    continue
                addr = arg.split(":", 1)[1].strip().strip("<>") if ":" in arg else ""
                if addr in cfg.fail_rcpt:
                    self.send("550 5.1.1 mailbox unavailable")
                    continue
                rcpts.append(addr)
                self.send("250 OK")
            elif verb == "DATA":
                if not rcpts:
                    self.send("503 need RCPT first")
                    continue
                self.send("354 end with <CRLF>.<CRLF>")
                chunks, size, too_big = [], 0, False
                while True:
                    raw = self.rfile.readline(DATA_MAX)
                    if not raw:
                        return
                    if raw in (b".\r\n", b".\n"):
                        break
                    if raw.startswith(b".."):
                        raw = raw[1:]
                    size += len(raw)
                    if size > DATA_MAX:
                        too_big = True
                    else:
                        chunks.append(raw)
                if too_big:
                    self.send("552 message too big")
                    continue
                data = b"".join(chunks).decode("utf-8", "replace")
                self.store(mail_from, rcpts, data, user)
                mail_from, rcpts = None, []
                self.send("250 OK queued")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.send("250 OK")
            elif verb == "NOOP":
                self.send("250 OK")
            elif verb == "QUIT":
                self.send("221 bye")
                return
            else:
                self.send("502 command not implemented")

    def store(self, mail_from, rcpts, data, user):
        msg = email.message_from_string(data)
        subject = str(email.header.make_header(
            email.header.decode_header(msg.get("Subject", ""))))
        with LOCK:
            COUNTER[0] += 1
            n = COUNTER[0]
        d = self.server.cfg.dir
        tmp = os.path.join(d, f".{n:04d}.tmp")
        with open(tmp, "w") as f:
            json.dump({"from": mail_from, "to": rcpts, "data": data,
                       "subject": subject, "auth": user}, f, ensure_ascii=False)
        os.rename(tmp, os.path.join(d, f"{n:04d}.json"))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--fail-rcpt", action="append", default=[])
    cfg = ap.parse_args()
    os.makedirs(cfg.dir, exist_ok=True)
    srv = Server(("127.0.0.1", cfg.port), Handler)
    srv.cfg = cfg
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(
        target=srv.shutdown, daemon=True).start())
    if cfg.port_file:
        tmp = cfg.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(tmp, cfg.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
