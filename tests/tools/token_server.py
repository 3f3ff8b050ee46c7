#!/usr/bin/env python3
"""Docker-distribution compatible Bearer token server for tests (stdlib + openssl CLI).

GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...]   (Basic creds or anonymous)
POST /token  grant_type=password|refresh_token (form-encoded, OAuth2 style)
GET  /healthz

Tokens are RS256 JWTs whose header carries the signing certificate in `x5c`;
distribution 2.8 verifies that chain against auth.token.rootcertbundle, so the
registry config just points rootcertbundle at --sign-cert.
"""
import argparse
import base64
import hmac
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANON_ACTIONS = {"pull"}  # what a request without Authorization may get


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem_body_b64(path):
    # x5c wants standard base64 DER, which is exactly the PEM body without line breaks.
    lines = open(path).read().split("-----BEGIN CERTIFICATE-----", 1)[1]
    return "".join(lines.split("-----END CERTIFICATE-----", 1)[0].split())


def parse_scopes(values):
    """['repository:a/b:pull,push registry:catalog:*'] -> [(type, name, [actions])]."""
    out = []
    for v in values:
        for s in v.split():  # POST form puts several scopes in one space-separated field
            parts = s.split(":")
            if len(parts) < 3:
                continue
            out.append((parts[0], ":".join(parts[1:-1]), [a for a in parts[-1].split(",") if a]))
    return out


class TokenServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, opts):
        super().__init__(addr, Handler)
        self.opts = opts
        self.x5c = pem_body_b64(opts.sign_cert)
        self.refresh = {}  # refresh_token -> user
        self.lock = threading.Lock()
        self.logf = open(opts.log, "a", buffering=1) if opts.log else None
        self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_ctx.load_cert_chain(opts.cert, opts.key)

    def finish_request(self, request, client_address):
        # TLS handshake here (worker thread), not in accept(), so one slow client can't block others.
        request = self.ssl_ctx.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        self.log_line("- - - %s" % sys.exc_info()[1].__class__.__name__)

    def log_line(self, line):
        if self.logf:
            with self.lock:
                self.logf.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), line))
                self.logf.flush()

    def check_user(self, user, password):
        # Re-read per request so a test can change credentials without a restart.
        try:
            lines = open(self.opts.users).read().splitlines()
        except OSError:
            return False
        for line in lines:
            u, sep, p = line.partition(":")
            if sep and u == user:
                return hmac.compare_digest(p.encode(), password.encode())
        return False

    def sign(self, data):
        r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.opts.sign_key],
                           input=data, capture_output=True, check=True)
        return r.stdout

    def issue(self, user, service, scopes):
        now = int(time.time())
        access = []
        for typ, name, actions in scopes:
            if user is None:
                actions = [a for a in actions if a in ANON_ACTIONS]
            if actions:
                access.append({"type": typ, "name": name, "actions": actions})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.opts.issuer, "sub": user or "", "aud": service,  # aud: string for 2.8
                  "exp": now + self.opts.expires_in, "nbf": now - 1, "iat": now,
                  "jti": secrets.token_hex(16), "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode()))
        token = signing_input + "." + b64url(self.sign(signing_input.encode()))
        return {"token": token, "access_token": token, "expires_in": self.opts.expires_in,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}

    def new_refresh_token(self, user):
        tok = secrets.token_urlsafe(24)
        with self.lock:
            self.refresh[tok] = user
        return tok


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "isync-test-token/1"

    def log_message(self, *args):  # default stderr logging replaced by log_line
        pass

    def reply(self, status, obj, user, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.log_line("%s %s %s %d" % (self.command, self.safe_path(), user or "-", status))

    def safe_path(self):
        # Paths are logged; blank anything secret-looking a client might put in a query.
        parts = urllib.parse.urlsplit(self.path)
        q = [(k, "REDACTED" if k in ("password", "refresh_token") else v)
             for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q, safe=":/,*")))

    def unauthorized(self, msg, user="-"):
        err = {"errors": [{"code": "UNAUTHORIZED", "message": msg}]}
        self.reply(401, err, user, {"WWW-Authenticate": 'Basic realm="isync-token"'})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            return self.reply(200, {"ok": True}, None)
        if url.path != "/token":
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]}, None)
        q = urllib.parse.parse_qs(url.query)
        service = q.get("service", [self.server.opts.service])[0]
        auth = self.headers.get("Authorization")
        user = None
        if auth:
            scheme, _, cred = auth.partition(" ")
            try:
                u, _, p = base64.b64decode(cred).decode().partition(":")
            except Exception:
                return self.unauthorized("malformed Authorization header")
            if scheme.lower() != "basic" or not self.server.check_user(u, p):
                return self.unauthorized("invalid username or password", u or "-")
            user = u
        elif self.server.opts.no_anonymous:
            return self.unauthorized("authentication required")
        resp = self.server.issue(user, service, parse_scopes(q.get("scope", [])))
        if user and q.get("offline_token", ["false"])[0] == "true":
            resp["refresh_token"] = self.server.new_refresh_token(user)
        self.reply(200, resp, user)

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path != "/token":
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]}, None)
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        get = lambda k, d="": form.get(k, [d])[0]
        service, grant = get("service", self.server.opts.service), get("grant_type")
        if grant == "password":
            user = get("username")
            if not self.server.check_user(user, get("password")):
                return self.unauthorized("invalid username or password", user or "-")
        elif grant == "refresh_token":
            user = self.server.refresh.get(get("refresh_token"))
            if not user:
                return self.unauthorized("invalid refresh token")
        else:
            err = {"errors": [{"code": "UNSUPPORTED", "message": "grant_type must be password or refresh_token"}]}
            return self.reply(400, err, None)
        resp = self.server.issue(user, service, parse_scopes(form.get("scope", [])))
        resp["refresh_token"] = self.server.new_refresh_token(user)
        self.reply(200, resp, user)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0 = pick a free one)")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--cert", required=True, help="TLS server certificate (PEM)")
    ap.add_argument("--key", required=True, help="TLS server key (PEM)")
    ap.add_argument("--sign-key", required=True, help="JWT signing private key (PEM)")
    ap.add_argument("--sign-cert", required=True, help="JWT signing certificate (PEM, in the registry's rootcertbundle)")
    ap.add_argument("--users", required=True, help="file of user:password lines")
    ap.add_argument("--issuer", default="isync-token-issuer")
    ap.add_argument("--service", default="isync-registry", help="aud when the request names no service")
    ap.add_argument("--log", help="request log file (one line per request)")
    ap.add_argument("--expires-in", type=int, default=300)
    ap.add_argument("--no-anonymous", action="store_true", help="401 for requests without credentials")
    opts = ap.parse_args()
    host, _, port = opts.listen.rpartition(":")
    srv = TokenServer((host, int(port)), opts)
    if opts.port_file:  # write atomically so a poller never reads a half-written port
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.replace(tmp, opts.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
