#!/usr/bin/env python3
"""A hostile registry for tests (stdlib only): one process in front of a real plain-HTTP
docker-registry that forwards normal traffic and misbehaves per --scenario, plus a second
listener playing a "foreign host" (another port on 127.0.0.1, so another origin).

    hostile.py --upstream 127.0.0.1:PORT --scenario NAME --port-file F --log F --foreign-log F
               [--user U --password-env VAR]

--port-file F gets "MAIN_PORT FOREIGN_PORT". --log gets one line per request to the main
listener, --foreign-log one per request to the foreign one:
    METHOD PATH STATUS auth=none|basic|bearer|other
never the credential itself. With --user, the main listener demands Basic credentials
(U and the password in $VAR) on /v2/ and /token, so that a leak of them is observable.

Scenarios (see tests/tools/README.md):
  link-foreign          tags/list Links rel=next to the foreign host; it answers 401 with its
                        own Bearer realm (a client that learns it sends its credentials there)
  link-loop             tags/list pages A -> B -> A -> ...
  link-huge             tags/list pages of 100,000 tags each, linking on (at most 40 pages)
  link-metadata         tags/list Links rel=next to http://169.254.169.254/ (never contacted)
  redirect-foreign-401  GET of any blob: 307 to the foreign host, which answers 401 with its
                        own Bearer realm
  redirect-foreign-bearer  Bearer auth (token from /token here); GET of any blob: 307 to the
                        foreign host (our Authorization: Bearer header must not follow)
  redirect-loop         GET of any blob: 302 to itself with ?hop=N+1, forever
  token-huge            Bearer auth; the token realm (/token here) answers a 10 MB JSON
  token-expires-huge    Bearer auth; the token answer says expires_in 1e300 (count "GET /token")
  retry-after-overflow  the first 2 tags/list GETs answer 429 with Retry-After year -2147483648
  challenge-token68     401 challenge "Negotiate abc==, Basic realm=..." (needs --user)
  tags-escape           tags/list answers gain names with ESC sequences
"""
import argparse
import base64
import http.client
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCENARIOS = ["link-foreign", "link-loop", "link-huge", "link-metadata", "redirect-foreign-401", "redirect-foreign-bearer", "redirect-loop",
             "token-huge", "token-expires-huge", "retry-after-overflow", "challenge-token68", "tags-escape"]
HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
TAGS_RE = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
BLOB_RE = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[a-z0-9]+:[a-f0-9]+)$")
HUGE_PAGES = 40           # link-huge ends after this many pages (a client without bounds finishes)
HUGE_PAGE_TAGS = 100000
TOKEN = "hostile-token"
BEARER = ("token-huge", "token-expires-huge", "redirect-foreign-bearer")

args = None
lock = threading.Lock()
counter = {"retry_after": 0}


def auth_kind(h):
    v = h.get("Authorization") or ""
    scheme = v.split(" ", 1)[0].lower()
    return scheme if scheme in ("basic", "bearer") else ("none" if not v else "other")


def log(path, handler, status):
    with lock, open(path, "a") as f:
        f.write("%s %s %d auth=%s\n" % (handler.command, handler.path, status, auth_kind(handler.headers)))


class Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body_in(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log(self.logfile, self, status)


class Foreign(Base):
    """Another origin: records every request, answers 401 with its own Bearer realm."""

    def handle_one(self):
        self.body_in()
        me = "http://127.0.0.1:%d" % self.server.server_port
        if self.path.startswith("/token"):
            return self.answer(200, json.dumps({"token": "foreign-token"}).encode(), [("Content-Type", "application/json")])
        self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"foreign"}]}',
                    [("WWW-Authenticate", 'Bearer realm="%s/token",service="foreign"' % me),
                     ("Content-Type", "application/json")])

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one


class Main(Base):
    def me(self):
        return "http://127.0.0.1:%d" % self.server.server_port

    def foreign(self):
        return "http://127.0.0.1:%d" % self.server.foreign_port

    def basic_ok(self):
        want = base64.b64encode(("%s:%s" % (args.user, os.environ.get(args.password_env, ""))).encode()).decode()
        return (self.headers.get("Authorization") or "") == "Basic " + want

    def challenge(self):
        if args.scenario in BEARER:
            return 'Bearer realm="%s/token",service="hostile"' % self.me()
        if args.scenario == "challenge-token68":
            return 'Negotiate abc==, Basic realm="hostile"'
        return 'Basic realm="hostile"'

    def authorized(self):
        if args.scenario in BEARER:
            return (self.headers.get("Authorization") or "") == "Bearer " + TOKEN
        return not args.user or self.basic_ok()

    def forward(self, body):
        up = http.client.HTTPConnection(args.upstream, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "authorization"}
        up.request(self.command, self.path, body=body, headers=hdrs)
        r = up.getresponse()
        data = r.read()
        headers = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP and k.lower() != "content-length"]
        up.close()
        return r.status, headers, data

    def handle_one(self):
        body = self.body_in()
        path, _, query = self.path.partition("?")
        sc = args.scenario
        if path == "/token":
            if args.user and not self.basic_ok():
                return self.answer(401, b"", [("WWW-Authenticate", 'Basic realm="hostile-token"')])
            if sc == "token-huge":
                pad = "a" * (10 << 20)
                return self.answer(200, json.dumps({"token": TOKEN, "pad": pad}).encode(), [("Content-Type", "application/json")])
            life = "1e300" if sc == "token-expires-huge" else "300"
            doc = '{"token": "%s", "expires_in": %s}' % (TOKEN, life)
            return self.answer(200, doc.encode(), [("Content-Type", "application/json")])
        if not self.authorized():
            return self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                               [("WWW-Authenticate", self.challenge()), ("Content-Type", "application/json")])
        m = TAGS_RE.match(path)
        if m and self.command == "GET":
            return self.tags(m.group("name"), path, query, body)
        m = BLOB_RE.match(path)
        if m and self.command == "GET":
            if sc in ("redirect-foreign-401", "redirect-foreign-bearer"):
                return self.answer(307, b"", [("Location", self.foreign() + path)])
            if sc == "redirect-loop":
                hop = int((re.search(r"hop=(\d+)", query) or [0, 0])[1]) + 1
                return self.answer(302, b"", [("Location", "%s?hop=%d" % (path, hop))])
        status, headers, data = self.forward(body)
        self.answer(status, data, headers)

    def tags(self, name, path, query, body):
        sc = args.scenario
        js = [("Content-Type", "application/json")]
        if sc == "retry-after-overflow":
            with lock:
                counter["retry_after"] += 1
                n = counter["retry_after"]
            if n <= 2:
                return self.answer(429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                                   js + [("Retry-After", "Sun, 06 Nov -2147483648 08:49:37 GMT")])
        if sc == "link-loop":
            page = (re.search(r"page=(\w+)", query) or [0, "start"])[1]
            nxt = "b" if page in ("start", "a") else "a"
            doc = {"name": name, "tags": ["t-" + page]}
            return self.answer(200, json.dumps(doc).encode(), js + [("Link", '<%s?page=%s>; rel="next"' % (path, nxt))])
        if sc == "link-huge":
            page = int((re.search(r"page=(\d+)", query) or [0, 0])[1])
            tags = ["p%02dt%07d" % (page, i) for i in range(HUGE_PAGE_TAGS)]
            link = [("Link", '<%s?page=%d>; rel="next"' % (path, page + 1))] if page + 1 < HUGE_PAGES else []
            return self.answer(200, json.dumps({"name": name, "tags": tags}).encode(), js + link)
        status, headers, data = self.forward(body)
        if status != 200:
            return self.answer(status, data, headers)
        if sc == "link-foreign" and "last=" not in query:
            headers.append(("Link", '<%s%s?last=zzz>; rel="next"' % (self.foreign(), path)))
        elif sc == "link-metadata" and "last=" not in query:
            headers.append(("Link", '<http://169.254.169.254%s?last=zzz>; rel="next"' % path))
        elif sc == "tags-escape":
            doc = json.loads(data)
            doc["tags"] = (doc.get("tags") or []) + ["\x1b[2J\x1b[31mpwned", "ok\x1b]0;title\x07"]
            data = json.dumps(doc).encode()
        self.answer(status, data, headers)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one


def main():
    global args
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of a plain-HTTP registry")
    ap.add_argument("--scenario", required=True, choices=SCENARIOS)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--foreign-log", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password-env", default="HOSTILE_PASSWORD")
    args = ap.parse_args()
    host = args.upstream.rsplit(":", 1)[0].strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1") and not os.environ.get("ISYNC_T_ALLOW_REMOTE"):
        sys.exit("hostile.py: --upstream %s is not a loopback address (ISYNC_T_ALLOW_REMOTE=1 overrides)" % args.upstream)
    if args.user and not os.environ.get(args.password_env):
        sys.exit("hostile.py: --user needs the password in $%s" % args.password_env)
    for p in (args.log, args.foreign_log):
        open(p, "w").close()
    foreign = ThreadingHTTPServer(("127.0.0.1", 0), Foreign)
    foreign.daemon_threads = True
    Foreign.logfile = args.foreign_log
    main_srv = ThreadingHTTPServer(("127.0.0.1", 0), Main)
    main_srv.daemon_threads = True
    main_srv.foreign_port = foreign.server_port
    Main.logfile = args.log
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (main_srv.server_port, foreign.server_port))
    os.rename(tmp, args.port_file)
    main_srv.serve_forever()


if __name__ == "__main__":
    main()
