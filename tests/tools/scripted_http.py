#!/usr/bin/env python3
"""scripted_http.py - a small HTTP/1.1 server for the C unit tests, answering from a script.

    scripted_http.py --log FILE [--script FILE.json] [--stdin]

Listens on two ports of 127.0.0.1 chosen by the kernel, "main" and "other" (another
origin, for realms, Links and Locations that point elsewhere), prints `MAIN OTHER` on one
line of stdout, and serves until SIGTERM. Stdlib only; this is a scripted server for unit
tests, not a fake registry (integration tests use docker-registry).

With --stdin, each line of stdin is a new script (JSON on one line), which replaces the
rules and their uses; the server answers `ok N` (N rules) or `error WHY` on stdout. EOF
on stdin ends the server: a test that dies takes its server with it. One server serves a
whole test binary (Python starts in ~1 s on a loaded machine; a script loads in ~1 ms).

A script is a JSON list of rules (or {"rules": [...]}). Each request takes the first
rule that matches it and has uses left; no match answers 404 NOT_SCRIPTED (rule=-1).

  match:    method          "GET", ...                 (default: any)
            path            exact path, without the query
            path_prefix     the path starts with this
            query           a substring of the query string
            listener        "main" or "other"
            auth            "none", "basic", "bearer": the Authorization scheme
            bearer          the Bearer token is exactly this
            basic           the Basic credential is exactly "user:password"
            times           uses of this rule (default: unlimited)
  answer:   status          (default 200)
            headers         {"Name": "value"}
            body            text; or json: any JSON value, sent serialized;
                            or body_size: N bytes of "x"
            stall_ms        wait this long before the status line (a stall or delay
                            ends early when the client closes the connection)
            chunks          send the body in N pieces ...
            chunk_delay_ms  ... with this pause before each piece after the first
            close_mid_body  send the full Content-Length, half the body, then close

Header values and bodies may say {port} {port2} {origin} {origin2}: the main and other
ports, and "http://127.0.0.1:PORT" of each.

The log (appended, flushed per line) gets one line per request, written when the request
has been read, before any stall, so a test can read it as soon as its request ends:

    METHOD PATH query=Q|- auth=none|basic|bearer|<scheme> rule=I status=S conc=N listener=main|other

auth is the Authorization header's scheme, or none when there is no such header: never
its value. conc is the number of requests in progress on both listeners (read, and not
yet fully answered), this one included."""
import argparse
import base64
import http
import json
import os
import select
import signal
import socket
import socketserver
import sys
import threading
import time

LOCK = threading.Lock()
STATE = {"conc": 0, "log": None, "rules": [], "uses": [], "ports": (0, 0)}


def subst(text):
    p1, p2 = STATE["ports"]
    return (text.replace("{port}", str(p1)).replace("{port2}", str(p2))
            .replace("{origin}", "http://127.0.0.1:%d" % p1).replace("{origin2}", "http://127.0.0.1:%d" % p2))


def auth_of(headers):
    """(scheme, credential) of the Authorization header; scheme 'none' when absent."""
    v = headers.get("authorization")
    if v is None:
        return "none", ""
    scheme, _, cred = v.strip().partition(" ")
    scheme = "".join(c for c in scheme.lower() if c.isalnum() or c == "-")[:20] or "other"
    return scheme, cred.strip()


def matches(rule, method, path, query, listener, scheme, cred):
    if "method" in rule and rule["method"] != method:
        return False
    if "path" in rule and rule["path"] != path:
        return False
    if "path_prefix" in rule and not path.startswith(rule["path_prefix"]):
        return False
    if "query" in rule and rule["query"] not in query:
        return False
    if "listener" in rule and rule["listener"] != listener:
        return False
    if "auth" in rule and rule["auth"] != scheme:
        return False
    if "bearer" in rule and (scheme != "bearer" or cred != rule["bearer"]):
        return False
    if "basic" in rule:
        try:
            plain = base64.b64decode(cred).decode("utf-8")
        except Exception:
            return False
        if scheme != "basic" or plain != rule["basic"]:
            return False
    return True


def pick(method, path, query, listener, scheme, cred):
    """Index of the rule that answers (its use counted), -1 for none. Under LOCK."""
    for i, rule in enumerate(STATE["rules"]):
        if STATE["uses"][i] == 0:
            continue
        if matches(rule, method, path, query, listener, scheme, cred):
            if STATE["uses"][i] > 0:
                STATE["uses"][i] -= 1
            return i
    return -1


class Handler(socketserver.StreamRequestHandler):
    def pause(self, ms):
        """Waits ms; False when the client closed the connection meanwhile (a request
        left stalled must not count as in progress once its client has given up)."""
        end = time.monotonic() + ms / 1000.0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([self.connection], [], [], left)
            if r:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return False
                except OSError:
                    return False
                time.sleep(min(left, 0.01))   # the client sent more (pipelining): just wait

    def read_request(self):
        line = self.rfile.readline(65537)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(65537)
        if not line:
            return None
        parts = line.decode("latin-1").split()
        if len(parts) != 3:
            return None
        headers = {}
        while True:
            h = self.rfile.readline(65537)
            if not h or h in (b"\r\n", b"\n"):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        # the request body is read and dropped: the tests look at what was asked, not sent
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                self.rfile.read(size)
                self.rfile.readline(16)
        elif headers.get("content-length"):
            self.rfile.read(int(headers["content-length"]))
        return parts[0], parts[1], headers

    def handle(self):
        listener = self.server.listener_name
        while True:
            try:
                req = self.read_request()
            except (OSError, ValueError):
                return
            if req is None:
                return
            method, target, headers = req
            path, _, query = target.partition("?")
            scheme, cred = auth_of(headers)
            with LOCK:
                idx = pick(method, path, query, listener, scheme, cred)
                rule = STATE["rules"][idx] if idx >= 0 else {
                    "status": 404, "json": {"errors": [{"code": "NOT_SCRIPTED", "message": "no rule for this request"}]}}
                STATE["conc"] += 1
                STATE["log"].write("%s %s query=%s auth=%s rule=%d status=%d conc=%d listener=%s\n" % (
                    method, path, query or "-", scheme, idx, rule.get("status", 200), STATE["conc"], listener))
                STATE["log"].flush()
            try:
                keep = self.answer(rule, method, headers)
            except OSError:
                keep = False
            finally:
                with LOCK:
                    STATE["conc"] -= 1
            if not keep:
                return

    def answer(self, rule, method, headers):
        """Sends the rule's answer; False when the connection is to be closed."""
        if rule.get("stall_ms") and not self.pause(rule["stall_ms"]):
            return False
        status = int(rule.get("status", 200))
        if "json" in rule:
            body = json.dumps(rule["json"]).encode()
        elif "body_size" in rule:
            body = b"x" * int(rule["body_size"])
        else:
            body = subst(rule.get("body", "")).encode()
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        out = ["HTTP/1.1 %d %s" % (status, reason)]
        names = set()
        for k, v in rule.get("headers", {}).items():
            out.append("%s: %s" % (k, subst(str(v))))
            names.add(k.lower())
        if "content-length" not in names:
            out.append("Content-Length: %d" % len(body))
        close = headers.get("connection", "").lower() == "close" or rule.get("close_mid_body")
        if close:
            out.append("Connection: close")
        self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        self.wfile.flush()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return not close
        if rule.get("close_mid_body"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        n = max(1, int(rule.get("chunks", 1)))
        step = (len(body) + n - 1) // n or 1
        for i, off in enumerate(range(0, len(body), step)):
            if i and rule.get("chunk_delay_ms") and not self.pause(rule["chunk_delay_ms"]):
                return False
            self.wfile.write(body[off:off + step])
            self.wfile.flush()
        return not close


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def load(script):
    rules = script["rules"] if isinstance(script, dict) else script
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ValueError("a script is a list of rules (objects)")
    with LOCK:
        STATE["rules"] = rules
        STATE["uses"] = [int(r.get("times", -1)) for r in rules]
    return len(rules)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--script")
    ap.add_argument("--log", required=True)
    ap.add_argument("--stdin", action="store_true")
    a = ap.parse_args()
    if a.script:
        with open(a.script, encoding="utf-8") as f:
            load(json.load(f))
    STATE["log"] = open(a.log, "a", encoding="utf-8")
    servers = []
    for name in ("main", "other"):
        s = Server(("127.0.0.1", 0), Handler)
        s.listener_name = name
        servers.append(s)
    STATE["ports"] = tuple(s.server_address[1] for s in servers)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("%d %d" % STATE["ports"], flush=True)
    if not a.stdin:
        while True:
            time.sleep(3600)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            print("ok %d" % load(json.loads(line)), flush=True)
        except (ValueError, TypeError, KeyError) as e:
            print("error %s" % str(e).replace("\n", " "), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
