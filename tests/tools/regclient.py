"""Tiny Registry V2 client shared by mkimage.py and verify.py (stdlib only).

Handles plain HTTP / HTTPS with a custom CA, and anonymous, Basic and Bearer
auth discovered from the registry's WWW-Authenticate challenge.  It refuses
non-loopback hosts so a misconfigured test can never reach the network.
"""
import argparse
import base64
import hashlib
import http
import http.client
import ipaddress
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_EMPTY = "application/vnd.oci.empty.v1+json"

INDEX_TYPES = (MT_DOCKER_LIST, MT_OCI_INDEX)
MANIFEST_TYPES = (MT_DOCKER_MANIFEST, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_OCI_INDEX)
ACCEPT_ALL = ", ".join(MANIFEST_TYPES)


class RegistryError(Exception):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


class Response:
    def __init__(self, status, headers, body, url):
        self.status, self.headers, self.body, self.url = status, headers, body, url

    def header(self, name, default=None):
        return self.headers.get(name, default)


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _check_loopback(url):
    # Test tooling must only ever talk to this machine.
    if os.environ.get("ISYNC_T_ALLOW_REMOTE") == "1":
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise RegistryError("refusing non-loopback URL %s (set ISYNC_T_ALLOW_REMOTE=1 to override)" % url)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Hand 3xx back to the caller instead of silently re-sending auth headers elsewhere.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def parse_challenge(value):
    """'Bearer realm="x",service="y"' -> ('bearer', {'realm': 'x', 'service': 'y'})."""
    if not value:
        return None, {}
    scheme, _, rest = value.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    return scheme.lower(), params


class Registry:
    def __init__(self, host, plain_http=False, ca=None, user=None, password=None, timeout=120):
        self.host = host
        self.base = ("http://" if plain_http else "https://") + host
        _check_loopback(self.base)
        self.user, self.password, self.timeout = user, password, timeout
        handlers = [urllib.request.ProxyHandler({}), _NoRedirect()]  # never use *_proxy env vars
        if not plain_http:
            ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
            handlers.append(urllib.request.HTTPSHandler(context=ctx))
        self._opener = urllib.request.build_opener(*handlers)
        self._scheme, self._params = None, {}  # learned from the first 401
        self._tokens = {}  # scope key -> (token, expiry)

    # --- auth -------------------------------------------------------------
    def _basic(self):
        raw = ("%s:%s" % (self.user, self.password)).encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _fetch_token(self, scopes):
        realm = self._params.get("realm")
        if not realm:
            raise RegistryError("Bearer challenge without realm")
        query = [("service", self._params.get("service", ""))] + [("scope", s) for s in scopes]
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Authorization": self._basic()} if self.user else {}
        resp = self._send("GET", url, headers, None)
        if resp.status != 200:
            raise RegistryError("token request to %s failed: HTTP %d %s"
                                % (realm, resp.status, resp.body[:200].decode(errors="replace")),
                                status=resp.status)
        data = json.loads(resp.body)
        token = data.get("token") or data.get("access_token")
        if not token:
            raise RegistryError("token response without token")
        return token, time.time() + max(int(data.get("expires_in") or 60) - 10, 5)

    def _auth_header(self, scope, challenge_scope=None, force=False):
        if self._scheme == "basic":
            if not self.user:
                raise RegistryError("registry wants Basic auth but no --user given", status=401)
            return self._basic()
        if self._scheme == "bearer":
            key = scope or challenge_scope or ""
            cached = self._tokens.get(key)
            if cached and not force and cached[1] > time.time():
                return "Bearer " + cached[0]
            scopes = sorted({s for s in (scope, challenge_scope) if s})
            self._tokens[key] = self._fetch_token(scopes)
            return "Bearer " + self._tokens[key][0]
        return None

    # --- transport --------------------------------------------------------
    def _send(self, method, url, headers, body):
        _check_loopback(url)
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=self.timeout) as r:
                return Response(r.status, r.headers, r.read(), url)
        except urllib.error.HTTPError as e:  # non-2xx still carries a useful response
            return Response(e.code, e.headers, e.read(), url)
        except urllib.error.URLError as e:
            raise RegistryError("%s %s: %s" % (method, url, e.reason))
        except (OSError, http.client.HTTPException) as e:  # resets, timeouts, TLS errors mid-body
            raise RegistryError("%s %s: %s: %s" % (method, url, type(e).__name__, e))

    def request(self, method, path, scope=None, headers=None, body=None, ok=(200,)):
        """Send one request, authenticating (and retrying once) on a 401.

        body must be bytes (or None) so the retry can resend it."""
        url = urllib.parse.urljoin(self.base, path)
        hdrs = dict(headers or {})
        auth = self._auth_header(scope)
        if auth:
            hdrs["Authorization"] = auth
        resp = self._send(method, url, hdrs, body)
        if resp.status == 401:
            scheme, params = parse_challenge(resp.header("WWW-Authenticate"))
            if scheme in ("basic", "bearer"):
                self._scheme, self._params = scheme, params
                hdrs["Authorization"] = self._auth_header(scope, params.get("scope"), force=True)
                resp = self._send(method, url, hdrs, body)
        if resp.status not in ok:
            detail = resp.body[:300].decode(errors="replace").strip() or _reason(resp.status)
            raise RegistryError("%s %s: HTTP %d %s" % (method, url, resp.status, detail),
                                status=resp.status)
        return resp

    # --- API helpers ------------------------------------------------------
    def blob_size(self, repo, digest):
        """Size of a blob per HEAD, or None if absent."""
        r = self.request("HEAD", "/v2/%s/blobs/%s" % (repo, digest),
                         scope="repository:%s:pull" % repo, ok=(200, 404))
        return int(r.header("Content-Length")) if r.status == 200 else None

    def push_blob(self, repo, data, media_type=None):
        """Monolithic upload (POST + PUT); skipped when the blob already exists."""
        digest = sha256_digest(data)
        scope = "repository:%s:pull,push" % repo
        if self.blob_size(repo, digest) == len(data):
            return {"digest": digest, "size": len(data), "media_type": media_type}
        r = self.request("POST", "/v2/%s/blobs/uploads/" % repo, scope=scope, body=b"", ok=(202,))
        loc = _with_query(r.header("Location"), digest=digest)
        self.request("PUT", loc, scope=scope, body=data, ok=(201,),
                     headers={"Content-Type": "application/octet-stream"})
        return {"digest": digest, "size": len(data), "media_type": media_type}

    def push_blob_chunks(self, repo, chunks):
        """Chunked upload (POST, PATCH per chunk, final PUT) hashing on the fly.

        chunks yields bytes; only one chunk is held in memory at a time."""
        scope = "repository:%s:pull,push" % repo
        r = self.request("POST", "/v2/%s/blobs/uploads/" % repo, scope=scope, body=b"", ok=(202,))
        loc, h, offset = r.header("Location"), hashlib.sha256(), 0
        for chunk in chunks:
            h.update(chunk)
            r = self.request("PATCH", loc, scope=scope, body=chunk, ok=(202,), headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": "%d-%d" % (offset, offset + len(chunk) - 1)})
            loc, offset = r.header("Location"), offset + len(chunk)
        digest = "sha256:" + h.hexdigest()
        self.request("PUT", _with_query(loc, digest=digest), scope=scope, body=b"", ok=(201,))
        return {"digest": digest, "size": offset}

    def put_manifest(self, repo, ref, raw, media_type):
        """PUT exact bytes and check the registry computed the same digest."""
        digest = sha256_digest(raw)
        r = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=raw, ok=(201,),
                         scope="repository:%s:pull,push" % repo,
                         headers={"Content-Type": media_type})
        got = r.header("Docker-Content-Digest")
        if got != digest:
            raise RegistryError("registry digest %s != local %s for %s:%s" % (got, digest, repo, ref))
        return {"digest": digest, "size": len(raw), "media_type": media_type}

    def get_manifest(self, repo, ref):
        """-> (raw bytes, content type, digest header); RegistryError(status=404) if absent."""
        r = self.request("GET", "/v2/%s/manifests/%s" % (repo, ref),
                         scope="repository:%s:pull" % repo, headers={"Accept": ACCEPT_ALL})
        ctype = (r.header("Content-Type") or "").split(";")[0].strip()
        return r.body, ctype, r.header("Docker-Content-Digest")

    def head_manifest(self, repo, ref):
        r = self.request("HEAD", "/v2/%s/manifests/%s" % (repo, ref),
                         scope="repository:%s:pull" % repo, headers={"Accept": ACCEPT_ALL})
        return r.header("Docker-Content-Digest"), r.header("Content-Type"), int(r.header("Content-Length") or 0)

    def tags(self, repo):
        """All tags, following Link-header pagination."""
        out, path = [], "/v2/%s/tags/list" % repo
        while path:
            r = self.request("GET", path, scope="repository:%s:pull" % repo)
            out += json.loads(r.body).get("tags") or []
            m = re.search(r"<([^>]+)>\s*;\s*rel=\"?next\"?", r.header("Link") or "")
            path = m.group(1) if m else None
        return out


def _reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _with_query(location, **params):
    """Append query params to an upload Location (which may already hold _state)."""
    parts = urllib.parse.urlsplit(location)
    q = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))


# --- CLI glue shared by the tools -----------------------------------------
def add_registry_args(parser, prefix="", required=True, suppress=False, host_flags=None):
    """Add --{prefix}registry/plain-http/ca/user/password-env options.

    host_flags overrides the option strings of the HOST:PORT option (e.g. --src).
    suppress=True keeps subparser copies from clobbering values given before
    the subcommand (argparse would otherwise apply the subparser defaults)."""
    d = {"default": argparse.SUPPRESS} if suppress else {}
    p = "--" + prefix
    parser.add_argument(*(host_flags or [p + "registry"]), dest=prefix.replace("-", "_") + "registry",
                        metavar="HOST:PORT", required=required and not suppress, **d)
    parser.add_argument(p + "plain-http", action="store_true", help="use http:// instead of https://", **d)
    parser.add_argument(p + "ca", metavar="FILE", help="CA bundle to trust for HTTPS", **d)
    parser.add_argument(p + "user", metavar="U", **d)
    parser.add_argument(p + "password-env", metavar="VAR",
                        help="environment variable holding the password (never pass it in argv)", **d)


def registry_from_args(ns, prefix=""):
    key = prefix.replace("-", "_")
    get = lambda name, default=None: getattr(ns, key + name, default)
    host = get("registry")
    if not host:
        raise SystemExit("error: --%sregistry is required" % prefix)
    user, password, env = get("user"), None, get("password_env")
    if env:
        if env not in os.environ:
            raise SystemExit("error: --%spassword-env %s: variable not set" % (prefix, env))
        password = os.environ[env]
    if user and password is None:
        raise SystemExit("error: --%suser needs --%spassword-env" % (prefix, prefix))
    return Registry(host, plain_http=get("plain_http", False), ca=get("ca"), user=user, password=password)


def die(msg, code=2):
    print(msg, file=sys.stderr)
    sys.exit(code)
