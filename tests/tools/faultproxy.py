#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 reverse proxy in front of one plain-HTTP registry (stdlib only).

    faultproxy.py --upstream 127.0.0.1:PORT [--listen 127.0.0.1:0] [--port-file F] [--log F]
                  [--seed N] [--only REGEX] [--reset P] [--status404 P] [--status500 P] [--status503 P]
                  [--status429 P [--retry-after N] [--retry-after-date]] [--truncate P]
                  [--stall-head P] [--stall-body P] [--stall-upload P] [--methods LIST] [--inject-names F]
                  [--delay-ms N] [--rate BYTES] [--max-faults N] [--redirect-blobs [--redirect-host H]]

Without fault options it is a faithful proxy: method, request-target, headers and bodies
are forwarded (bodies streamed in 1 MiB pieces, chunked bodies re-framed), client
connections are kept alive, and Location / Content-Location / Link headers naming the
upstream are rewritten to name the proxy.  Faults are drawn per request from a seeded RNG.
"""
import argparse
import email.utils
import fcntl
import http.client
import ipaddress
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import termios
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 20           # streaming piece size; the only per-transfer buffer
CHUNKED_CUT_SPAN = 65536  # chunked bodies (length unknown): cut within the first 64 KiB
STALL_MAX = 600.0         # a stalled connection is held at most this long
RST_DRAIN_TIMEOUT = 2.0   # wait this long for our send queue to empty before an RST
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
       "te", "trailer", "trailers", "transfer-encoding", "upgrade"}
STATUS_FAULTS = {"404": (404, "BLOB_UNKNOWN"), "500": (500, "UNKNOWN"), "503": (503, "UNKNOWN"), "429": (429, "TOOMANYREQUESTS")}
BLOB_RE = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[A-Za-z0-9_+.-]+:[A-Za-z0-9=_-]+)$")
STORE_RE = re.compile(r"^/blobstore/(?P<name>.+)/(?P<digest>[A-Za-z0-9_+.-]+:[A-Za-z0-9=_-]+)$")
STORE_HEADERS = {"content-length", "content-type", "content-range", "accept-ranges", "etag",
                 "last-modified", "date"}  # what an object store would send (no Docker-*)
EPILOG = """\
faults (percent per request; the sum must be <= 100; one RNG draw decides per request):
  reset      request with a body (PUT/PATCH/POST upload): forward part of the body, then
             RST the client (SO_LINGER 0) and drop the upstream connection.
             response with a body: send status + headers + part of the body, then RST.
             bodyless response (HEAD, 201/202/204, 307, CL 0): the request IS forwarded
             (side effects happen) but the client gets an RST instead of the status line.
  404        answer {"errors":[{"code":"BLOB_UNKNOWN","message":"injected"}]}: a permanent
             failure (a blob the registry lost)
  500/503    answer {"errors":[{"code":"UNKNOWN","message":"injected"}]} without forwarding
  429        same with TOOMANYREQUESTS and Retry-After (--retry-after N / --retry-after-date)
  truncate   send the full Content-Length but only part of the body, then FIN (clean close).
             Not applicable to bodyless responses (logged fault=none, not counted).
  stall-head   read the whole request, then never answer (no status line) and never close.
  stall-body   forward; send status + headers + part of the body (cut as for truncate), then
               stop sending without closing.  Bodyless responses stall before the status line.
  stall-upload request with a body: forward part of it, then stop reading it without closing
               (the client's send buffer fills).  Requests without a body: not applicable.
  A stalled connection is held until the client closes it (stall-upload: up to 600 s).
  The cut point is drawn from the RNG: 1..len-1 bytes for a Content-Length body, up to
  64 KiB for chunked ones.  Injected statuses drain the request body first (keep-alive);
  with Expect: 100-continue they answer at once and close the connection.

--methods GET,PUT limits faults and delays to those request methods.

--inject-names F: F is JSON {"tags": [...], "repositories": [...]}; every 200 answer to GET
.../tags/list (or /v2/_catalog) gets those names appended to its list, as a hostile
registry would send them (escape sequences and all; logged fault=names).

--only REGEX is re.search()ed against the request-target (path + query) on both
listeners; non-matching requests are never faulted or delayed.  Examples:
  --only '/(blobs|manifests)/'     --only '/blobs/sha256:|/blobstore/'

--redirect-blobs: GET /v2/<name>/blobs/<digest> is checked upstream with HEAD (same
headers minus Range); if 200 the proxy answers 307 Location: http://localhost:<store>/
blobstore/<name>/<digest>?sig=abc, otherwise it proxies the GET normally (404/401 pass
through).  Redirects are not faults (not counted by --max-faults); a reset drawn for such
a GET loses the 307 (RST), a truncate does not apply.  The store listener (port in
F.store; also bound on [::1] when possible) fetches the blob from upstream without
credentials, forwards Range, answers GET/HEAD with object-store headers only (no
Docker-Content-Digest), 403 without sig=abc, and 400 with --store-reject-auth if
Authorization is present.  Store requests are faulted too when they match --only.

Upstream unreachable: 502.  Upstream closing mid-body: the client gets an RST.

log (--log F), one line per request, flushed:
  METHOD PATH STATUS fault=<none|reset|404|500|503|429|truncate|redirect|stall-*> auth=<yes|no> listener=<proxy|store>
  PATH has no query; STATUS is what the client got on the status line, '-' if none.
  A stall is logged when it starts.

stdout at startup: 'proxy 127.0.0.1:P' and (with --redirect-blobs) 'store localhost:P2'.
SIGTERM/SIGINT: stop listening, exit 0 (in-flight transfers are cut).
"""


def is_loopback(host):
    if os.environ.get("ISYNC_T_ALLOW_REMOTE") == "1" or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def hostport(s, what):
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit("error: %s %r: want HOST:PORT" % (what, s))
    if not is_loopback(host):
        raise SystemExit("error: %s %r is not loopback (set ISYNC_T_ALLOW_REMOTE=1 to override)" % (what, s))
    return host.strip("[]"), int(port)


def percent(s):
    v = float(s)
    if not 0 <= v <= 100:
        raise argparse.ArgumentTypeError("percent must be 0..100")
    return v


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)  # atomic: a poller never sees a half-written port


class Faults:
    """Seeded per-request fault decisions, shared by both listeners."""

    def __init__(self, opts):
        self.table = [(k, p) for k, p in (("reset", opts.reset), ("404", opts.status404), ("500", opts.status500),
                                         ("503", opts.status503), ("429", opts.status429),
                                         ("truncate", opts.truncate), ("stall-head", opts.stall_head),
                                         ("stall-body", opts.stall_body),
                                         ("stall-upload", opts.stall_upload)) if p > 0]
        if sum(p for _, p in self.table) > 100:
            raise SystemExit("error: fault percentages add up to more than 100")
        self.only = re.compile(opts.only) if opts.only else None
        self.rng = random.Random(opts.seed)
        self.max = opts.max_faults
        self.done = 0
        self.lock = threading.Lock()

    def matches(self, target):
        return self.only is None or bool(self.only.search(target))

    def draw(self):
        """-> (fault or None, fraction in [0,1) for the cut point).  Reserves a fault slot."""
        if not self.table:
            return None, 0.0
        with self.lock:
            r, frac = self.rng.random() * 100, self.rng.random()
            if self.max is not None and self.done >= self.max:
                return None, 0.0
            acc = 0.0
            for kind, p in self.table:
                acc += p
                if r < acc:
                    self.done += 1
                    return kind, frac
        return None, 0.0

    def release(self):  # a drawn fault that turned out not to apply
        with self.lock:
            self.done -= 1


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, addr, listener, ctx):
        super().__init__(addr, Handler)
        self.listener, self.ctx = listener, ctx

    def handle_error(self, request, client_address):
        if self.ctx.opts.verbose:
            super().handle_error(request, client_address)


class Server6(Server):
    address_family = socket.AF_INET6


class Ctx:
    def __init__(self, opts):
        self.opts = opts
        self.up_host, self.up_port = hostport(opts.upstream, "--upstream")
        self.faults = Faults(opts)
        self.logf = open(opts.log, "a", buffering=1) if opts.log else None
        self.log_lock = threading.Lock()
        self.proxy_port = self.store_port = None
        self.names = None
        if opts.inject_names:
            with open(opts.inject_names) as f:
                self.names = json.load(f)
        up = re.escape(self.up_host) if self.up_host not in ("127.0.0.1", "localhost") else r"(?:127\.0\.0\.1|localhost)"
        self.up_url_re = re.compile(r"http://%s:%d(?!\d)" % (up, self.up_port))

    def log(self, line):
        if self.logf:
            with self.log_lock:
                self.logf.write(line + "\n")
                self.logf.flush()


class Abort(Exception):
    """The client connection is already dead or deliberately killed: stop, don't answer."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 600
    up = None  # upstream HTTPConnection, kept alive per client connection

    # --- plumbing ---------------------------------------------------------
    def log_message(self, fmt, *args):
        if self.server.ctx.opts.verbose:
            sys.stderr.write("faultproxy: %s\n" % (fmt % args))

    def handle_expect_100(self):
        self.expect_continue = True  # sent later, only when we actually read the body
        return True

    def handle_one_request(self):
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        self.expect_continue, self.status_sent, self.fault, self.logged = False, None, None, False
        if not self.parse_request():
            return
        ctx = self.server.ctx
        target = self.path
        if not target.startswith("/"):  # absolute-form: keep path + query only
            s = urllib.parse.urlsplit(target)
            target = urllib.parse.urlunsplit(("", "", s.path or "/", s.query, ""))
        self.target = target
        self.upath = urllib.parse.urlsplit(target).path
        try:
            if self.server.listener == "store":
                self.do_store()
            else:
                self.do_proxy()
        except Abort:
            self.close_connection = True
        except (OSError, http.client.HTTPException) as e:
            self.close_connection = True
            self.close_up()
            if self.status_sent is None:
                try:
                    self.send_simple(502, b'{"errors":[{"code":"UNKNOWN","message":"faultproxy: %s"}]}'
                                     % type(e).__name__.encode(), close=True)
                except OSError:
                    pass
            if ctx.opts.verbose:
                sys.stderr.write("faultproxy: %s %s: %r\n" % (self.command, self.upath, e))
        finally:
            if not self.logged:
                self.log_request_line()

    def log_request_line(self):
        self.logged = True
        self.server.ctx.log("%s %s %s fault=%s auth=%s listener=%s" % (
            self.command, self.upath, self.status_sent or "-", self.fault or "none",
            "yes" if "Authorization" in self.headers else "no", self.server.listener))

    def stall(self, kind):
        """Stop talking without closing: hold the connection until the client gives up."""
        self.fault = kind
        self.log_request_line()
        self.close_up()
        try:
            self.wfile.flush()
        except OSError:
            pass
        sock = self.connection
        deadline = time.monotonic() + STALL_MAX
        while time.monotonic() < deadline:
            if kind == "stall-upload":  # the client's body is still there: cannot see EOF
                time.sleep(0.5)
                continue
            r, _, _ = select.select([sock], [], [], 0.5)
            if r:
                try:
                    if not sock.recv(65536):
                        break  # the client closed: done
                except OSError:
                    break
        raise Abort()

    def finish(self):
        self.close_up()
        try:
            super().finish()
        except OSError:
            pass

    def close_up(self):
        if self.up is not None:
            self.up.close()
            self.up = None

    def get_up(self):
        ctx = self.server.ctx
        if self.up is None or self.up.sock is None:
            self.up = http.client.HTTPConnection(ctx.up_host, ctx.up_port, timeout=300)
            return self.up, False
        return self.up, True

    def write_head(self, status, reason, headers):
        lines = ["HTTP/1.1 %d %s\r\n" % (status, reason)]
        lines += ["%s: %s\r\n" % (k, v) for k, v in headers]
        self.wfile.write(("".join(lines) + "\r\n").encode("latin-1"))
        self.status_sent = str(status)

    def send_simple(self, status, body, headers=(), close=False):
        close = close or self.close_connection
        hdrs = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body))),
                ("Docker-Distribution-Api-Version", "registry/2.0")] + list(headers)
        if close:
            hdrs.append(("Connection", "close"))
            self.close_connection = True
        self.write_head(status, http.client.responses.get(status, ""), hdrs)
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def kill_client(self, reset=True):
        """reset: wait for the send queue to drain, then RST.  Else FIN, drain input, close."""
        self.close_connection = True
        sock = self.connection
        try:
            if reset:
                deadline = time.monotonic() + RST_DRAIN_TIMEOUT
                buf = bytearray(4)
                while time.monotonic() < deadline:
                    fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf)
                    if struct.unpack("i", buf)[0] == 0:
                        break
                    time.sleep(0.005)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(2)
                try:  # unread input at close() would turn our FIN into an RST
                    while sock.recv(65536):
                        pass
                except OSError:
                    pass
        except OSError:
            pass
        self.rfile.close()  # drop the makefile() reference so close() really closes now
        sock.close()
        raise Abort()

    # --- request body -------------------------------------------------------
    def body_mode(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            return "chunked", None
        cl = self.headers.get("Content-Length")
        if cl is not None:
            try:
                n = int(cl)
            except ValueError:
                n = -1
            if n < 0:
                self.send_simple(400, b'{"errors":[{"code":"UNKNOWN","message":"bad Content-Length"}]}', close=True)
                raise Abort()
            return ("length", n) if n else ("none", 0)
        return "none", 0

    def continue_if_expected(self):
        if self.expect_continue:
            self.expect_continue = False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def pump_body(self, mode, length, sink, limit=None):
        """Read the client's body, passing pieces to sink(piece, chunked).  Stops after limit bytes."""
        self.continue_if_expected()
        got, buf = 0, bytearray(CHUNK)
        mv = memoryview(buf)
        if mode == "length":
            left = length if limit is None else min(length, limit)
            while left:
                n = self.rfile.readinto(mv[:min(left, CHUNK)])
                if not n:
                    raise Abort()  # client gave up mid-body
                sink(mv[:n])
                left -= n
                got += n
            return got
        if mode != "chunked":
            return 0
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise Abort()
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise Abort()
            if size == 0:
                trailers = []
                while True:
                    t = self.rfile.readline(65537)
                    if not t.endswith(b"\n"):
                        raise Abort()
                    if t in (b"\r\n", b"\n"):
                        break
                    trailers.append(t)
                sink(None, trailers)
                return got
            while size:
                want = min(size, CHUNK)
                if limit is not None:
                    want = min(want, limit - got)
                    if want <= 0:
                        return got
                n = self.rfile.readinto(mv[:want])
                if not n:
                    raise Abort()
                sink(mv[:n])
                size -= n
                got += n
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise Abort()

    def drain_body(self):
        mode, length = self.body_mode()
        if mode != "none":
            self.pump_body(mode, length, lambda *a: None)

    # --- faults --------------------------------------------------------------
    def draw(self):
        ctx = self.server.ctx
        if not ctx.faults.matches(self.target):
            return None, 0.0
        if ctx.opts.methods and self.command not in ctx.opts.methods.split(","):
            return None, 0.0
        fault, frac = ctx.faults.draw()
        if ctx.opts.delay_ms:
            time.sleep(ctx.opts.delay_ms / 1000.0)
        return fault, frac

    def inject_status(self, fault):
        opts = self.server.ctx.opts
        status, code = STATUS_FAULTS[fault]
        self.fault = fault
        if self.expect_continue:  # never got the body: answer now and close
            close = True
        else:
            self.drain_body()
            close = False
        hdrs = []
        if fault == "429":
            ra = opts.retry_after
            hdrs.append(("Retry-After", email.utils.formatdate(time.time() + ra, usegmt=True)
                         if opts.retry_after_date else str(ra)))
        body = b'{"errors":[{"code":"%s","message":"injected"}]}' % code.encode()
        self.send_simple(status, body, hdrs, close=close)

    # --- proxy listener -----------------------------------------------------
    def do_proxy(self):
        ctx = self.server.ctx
        fault, frac = self.draw()
        if fault in STATUS_FAULTS:
            return self.inject_status(fault)
        if ctx.names and self.command == "GET" and (self.upath.endswith("/tags/list") or self.upath == "/v2/_catalog"):
            return self.inject_names()
        if fault == "stall-head":
            self.drain_body()
            self.stall(fault)
        if fault == "stall-upload" and self.body_mode()[0] == "none":
            ctx.faults.release()
            fault = None
        m = BLOB_RE.match(self.upath)
        if ctx.opts.redirect_blobs and self.command == "GET" and m:
            if self.redirect_blob(m, fault):
                return
        self.forward(fault, frac)

    def inject_names(self):
        """Relay a tag list or catalog page with the --inject-names names appended."""
        ctx = self.server.ctx
        self.drain_body()
        resp = self.upstream_request("GET", self.target, self.fwd_headers(), ("none", 0))
        body = resp.read()
        key = "repositories" if self.upath == "/v2/_catalog" else "tags"
        if resp.status == 200:
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and isinstance(doc.get(key), list):
                doc[key] = doc[key] + list(ctx.names.get(key, []))
                body = json.dumps(doc).encode()
                self.fault = "names"
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP and k.lower() != "content-length"]
        headers = self.rewrite_headers(headers) + [("Content-Length", str(len(body)))]
        if self.close_connection:
            headers.append(("Connection", "close"))
        self.write_head(resp.status, resp.reason, headers)
        self.wfile.write(body)

    def redirect_blob(self, m, fault):
        """HEAD upstream; on 200 answer 307 to the store.  False: caller proxies normally."""
        ctx = self.server.ctx
        hdrs = [(k, v) for k, v in self.fwd_headers() if k.lower() not in ("range", "if-range")]
        resp = self.upstream_request("HEAD", self.upath, hdrs, ("none", 0))
        resp.read()
        if resp.status != 200:
            return False
        self.drain_body()
        if fault == "reset":
            self.fault = "reset"
            self.kill_client(reset=True)
        if fault == "truncate":
            ctx.faults.release()
        self.fault = "redirect"
        loc = "http://%s:%d/blobstore/%s/%s?sig=abc" % (ctx.opts.redirect_host, ctx.store_port,
                                                         m.group("name"), m.group("digest"))
        hdrs = [("Location", loc), ("Content-Length", "0"),
                ("Docker-Distribution-Api-Version", "registry/2.0")]
        if self.close_connection:
            hdrs.append(("Connection", "close"))
        self.write_head(307, "Temporary Redirect", hdrs)
        return True

    def fwd_headers(self):
        drop = HOP | {"host", "expect", "content-length"}
        conn = self.headers.get("Connection") or ""
        drop |= {t.strip().lower() for t in conn.split(",") if t.strip()}
        return [(k, v) for k, v in self.headers.items() if k.lower() not in drop]

    def upstream_request(self, method, target, headers, body, fault=None, frac=0.0):
        """Send one request upstream (streaming the client's body) and return the response.

        A reused keep-alive connection that turns out dead is retried once for bodyless requests."""
        mode, length = body
        ctx = self.server.ctx
        for attempt in (0, 1):
            conn, reused = self.get_up()
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", "%s:%d" % (ctx.up_host, ctx.up_port))
                for k, v in headers:
                    conn.putheader(k, v)
                if mode == "length":
                    conn.putheader("Content-Length", str(length))
                elif mode == "chunked":
                    conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                if mode == "none":
                    return conn.getresponse()
                break
            except (OSError, http.client.HTTPException):
                self.close_up()
                if attempt or not reused or mode != "none":
                    raise
        # Stream the body.  If upstream stops reading (early error answer), keep draining the
        # client so the connection stays in sync, then relay whatever upstream said.
        broken = []

        def sink(piece, trailers=None):
            if broken:
                return
            try:
                if mode == "chunked":
                    if piece is None:
                        conn.send(b"0\r\n" + b"".join(trailers) + b"\r\n")
                    else:
                        conn.send(b"%x\r\n" % len(piece))
                        conn.send(piece)
                        conn.send(b"\r\n")
                else:
                    conn.send(piece)
            except OSError as e:
                broken.append(e)

        if fault == "stall-upload":  # stop reading the request body
            limit = int(frac * length) if mode == "length" else int(frac * CHUNKED_CUT_SPAN)
            self.pump_body(mode, length, sink, limit=limit)
            self.stall(fault)
        if fault == "reset":  # die while reading the request body
            limit = int(frac * length) if mode == "length" else int(frac * CHUNKED_CUT_SPAN)
            self.pump_body(mode, length, sink, limit=limit)
            self.fault = "reset"
            self.close_up()
            self.kill_client(reset=True)
        self.pump_body(mode, length, sink)
        return conn.getresponse()

    def forward(self, fault, frac):
        mode, length = self.body_mode()
        resp = self.upstream_request(self.command, self.target, self.fwd_headers(), (mode, length),
                                     fault=fault if mode != "none" else None, frac=frac)
        self.relay(resp, fault, frac, self.rewrite_headers)

    def rewrite_headers(self, headers):
        ctx = self.server.ctx
        host = self.headers.get("Host") or ""
        if not re.fullmatch(r"(127\.0\.0\.1|localhost|\[::1\]):%d" % ctx.proxy_port, host):
            host = "127.0.0.1:%d" % ctx.proxy_port
        out = []
        for k, v in headers:
            if k.lower() in ("location", "content-location", "link"):
                v = ctx.up_url_re.sub("http://" + host, v)
            out.append((k, v))
        return out

    def relay(self, resp, fault, frac, header_filter):
        """Send resp to the client, applying a reset/truncate fault if drawn."""
        ctx = self.server.ctx
        if self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200:
            mode, total = "none", 0
        elif resp.chunked:
            mode, total = "chunked", None
        elif resp.length is not None:
            mode, total = ("length", resp.length) if resp.length else ("none", 0)
        else:
            mode, total = "close", None
        if mode == "none":
            resp.read()  # nothing to read, but marks the upstream response finished
        if fault == "stall-body" and mode == "none":
            self.stall(fault)
        if fault in ("reset", "truncate") and mode == "none":
            if fault == "truncate":
                ctx.faults.release()
                fault = None
            else:  # response lost: upstream did the work, the client sees an RST
                self.fault = "reset"
                self.kill_client(reset=True)
        cut = None
        if fault in ("reset", "truncate", "stall-body"):
            if mode == "length":
                cut = 1 + int(frac * (total - 1)) if total > 1 else 0
                cut = min(cut, total - 1)
            else:
                cut = 1 + int(frac * (CHUNKED_CUT_SPAN - 1))
            self.fault = fault
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
        headers = header_filter(headers)
        to_client = mode
        if mode == "chunked" and self.request_version < "HTTP/1.1":
            to_client = "close"
        if to_client == "chunked":
            headers.append(("Transfer-Encoding", "chunked"))
        if to_client == "close" or self.close_connection:
            headers.append(("Connection", "close"))
            self.close_connection = True
        self.write_head(resp.status, resp.reason, headers)
        if mode == "none":
            return
        w = self.wfile
        buf = bytearray(CHUNK)
        mv = memoryview(buf)
        sent = 0
        rate = self.server.ctx.opts.rate if self.server.ctx.faults.matches(self.target) else 0
        piece = max(4096, min(CHUNK, rate // 20)) if rate else CHUNK
        started = time.monotonic()
        while True:
            if rate:  # throttle: never ahead of rate bytes per second
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            want = piece if cut is None else min(piece, cut - sent)
            if want <= 0:
                break
            try:
                n = resp.readinto(mv[:want])
            except (OSError, http.client.HTTPException):
                # upstream died mid-body: pass the failure on as an abrupt close
                self.close_up()
                self.kill_client(reset=True)
            if not n:
                break
            if to_client == "chunked":  # client write errors propagate (handled as OSError)
                w.write(b"%x\r\n" % n)
                w.write(mv[:n])
                w.write(b"\r\n")
            else:
                w.write(mv[:n])
            sent += n
        if cut is None and mode == "length" and sent < total:
            # upstream closed early (3.11's readinto returns 0 instead of raising): abort too
            self.close_up()
            self.kill_client(reset=True)
        if cut is not None and fault == "stall-body":
            self.stall(fault)
        if cut is not None:
            self.close_up()
            self.kill_client(reset=(fault == "reset"))
        if to_client == "chunked":
            w.write(b"0\r\n\r\n")
        if mode == "close":
            self.close_up()

    # --- store listener ------------------------------------------------------
    def do_store(self):
        ctx = self.server.ctx
        fault, frac = self.draw()
        if fault in STATUS_FAULTS:
            return self.inject_status(fault)
        m = STORE_RE.match(self.upath)
        err = None
        if self.command not in ("GET", "HEAD"):
            err = (405, "MethodNotAllowed")
        elif not m:
            err = (404, "NoSuchKey")
        elif ctx.opts.store_reject_auth and "Authorization" in self.headers:
            err = (400, "InvalidArgument")  # S3: only one auth mechanism allowed
        elif urllib.parse.parse_qs(urllib.parse.urlsplit(self.target).query).get("sig") != ["abc"]:
            err = (403, "SignatureDoesNotMatch")
        if err:
            if fault:
                ctx.faults.release()
            self.drain_body()
            body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code></Error>" % err[1].encode()
            hdrs = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
            if self.close_connection:
                hdrs.append(("Connection", "close"))
            self.write_head(err[0], http.client.responses.get(err[0], ""), hdrs)
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        self.drain_body()
        hdrs = [(k, v) for k, v in self.headers.items() if k.lower() in ("range", "if-range")]
        resp = self.upstream_request(self.command, "/v2/%s/blobs/%s" % (m.group("name"), m.group("digest")),
                                     hdrs, ("none", 0))
        keep = lambda headers: [(k, v) for k, v in headers if k.lower() in STORE_HEADERS]
        self.relay(resp, fault, frac, keep)


def main():
    ap = argparse.ArgumentParser(
        prog="faultproxy.py", description="\n\n".join(__doc__.split("\n\n")[0::2]),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, metavar="HOST:PORT", help="plain-HTTP registry (loopback)")
    ap.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT", help="default 127.0.0.1:0 (kernel picks)")
    ap.add_argument("--port-file", metavar="F", help="write the proxy port to F (and the store port to F.store)")
    ap.add_argument("--log", metavar="F", help="append one line per request (see below)")
    ap.add_argument("--seed", type=int, default=0, help="RNG seed (default 0)")
    ap.add_argument("--only", metavar="REGEX", help="fault/delay only requests whose target matches")
    ap.add_argument("--reset", type=percent, default=0, metavar="P", help="%% of requests cut with an RST")
    ap.add_argument("--status404", type=percent, default=0, metavar="P",
                    help="%% answered 404 BLOB_UNKNOWN (not forwarded)")
    ap.add_argument("--status500", type=percent, default=0, metavar="P", help="%% answered 500 (not forwarded)")
    ap.add_argument("--status503", type=percent, default=0, metavar="P", help="%% answered 503 (not forwarded)")
    ap.add_argument("--status429", type=percent, default=0, metavar="P", help="%% answered 429 (not forwarded)")
    ap.add_argument("--retry-after", type=int, default=1, metavar="N", help="429 Retry-After seconds (default 1)")
    ap.add_argument("--retry-after-date", action="store_true", help="send Retry-After as an HTTP-date (now + N)")
    ap.add_argument("--truncate", type=percent, default=0, metavar="P", help="%% of bodies cut short with a FIN")
    ap.add_argument("--stall-head", type=percent, default=0, metavar="P", help="%% never answered (no status line)")
    ap.add_argument("--stall-body", type=percent, default=0, metavar="P", help="%% of responses stopped mid-body")
    ap.add_argument("--stall-upload", type=percent, default=0, metavar="P",
                    help="%% of request bodies no longer read part-way")
    ap.add_argument("--inject-names", metavar="F", help="append the names in JSON file F to tag lists and catalogs")
    ap.add_argument("--methods", metavar="LIST", help="fault/delay only these methods (comma-separated)")
    ap.add_argument("--delay-ms", type=int, default=0, metavar="N", help="latency added to each matching request")
    ap.add_argument("--rate", type=int, default=0, metavar="BYTES",
                    help="response bodies of matching requests at most BYTES per second (0: unthrottled)")
    ap.add_argument("--max-faults", type=int, metavar="N", help="stop injecting after N faults")
    ap.add_argument("--redirect-blobs", action="store_true", help="307 blob GETs to the store listener")
    ap.add_argument("--redirect-host", default="localhost", metavar="H",
                    help="host name in the 307 Location (default localhost: a different host than 127.0.0.1)")
    ap.add_argument("--store-reject-auth", action="store_true", help="store answers 400 to requests with Authorization")
    ap.add_argument("-v", "--verbose", action="store_true", help="errors and access lines on stderr")
    opts = ap.parse_args()
    if not is_loopback(opts.redirect_host):
        raise SystemExit("error: --redirect-host must be loopback")
    ctx = Ctx(opts)
    servers = [Server(hostport(opts.listen, "--listen"), "proxy", ctx)]
    ctx.proxy_port = servers[0].server_address[1]
    if opts.redirect_blobs:
        servers.append(Server((servers[0].server_address[0], 0), "store", ctx))
        ctx.store_port = servers[1].server_address[1]
        if opts.redirect_host == "localhost":  # localhost may resolve to ::1 first: serve there too
            try:
                servers.append(Server6(("::1", ctx.store_port), "store", ctx))
            except OSError:
                pass

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
               for s in servers]
    for t in threads:
        t.start()
    if opts.port_file:
        if ctx.store_port:
            write_port_file(opts.port_file + ".store", ctx.store_port)
        write_port_file(opts.port_file, ctx.proxy_port)  # last: its appearance means all is up
    print("proxy 127.0.0.1:%d" % ctx.proxy_port, flush=True)
    if ctx.store_port:
        print("store %s:%d" % (opts.redirect_host, ctx.store_port), flush=True)
    while not stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    if ctx.logf:
        ctx.logf.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
