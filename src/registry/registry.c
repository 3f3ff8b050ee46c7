/* registry.c - registry endpoints: settings and the curl options they imply. */
#include "registry/registry.h"
#include "util/ref.h"
#include "util/buf.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

/* Appends the file at path to b (with a newline). required: a missing file is an error;
 * pem: the file must hold a PEM certificate (one DER file would break the whole bundle). */
static int add_file(isync_buf *b, const char *path, int required, int pem, char *err, size_t errsz) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (!required) return 0;
    snprintf(err, errsz, "cannot read CA file %s: %s", path, strerror(errno));
    return -1;
  }
  size_t start = b->len;
  char chunk[16384];
  size_t n;
  int rc = 0;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    if (isync_buf_append(b, chunk, n) != 0) { rc = -1; snprintf(err, errsz, "out of memory"); break; }
  if (!rc && ferror(f)) { rc = -1; snprintf(err, errsz, "cannot read CA file %s: %s", path, strerror(errno)); }
  fclose(f);
  if (!rc && pem && !memmem(b->data + start, b->len - start, "-----BEGIN CERTIFICATE-----", 27)) {
    snprintf(err, errsz, "CA file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path);
    rc = -1;
  }
  if (!rc && isync_buf_append(b, "\n", 1) != 0) { rc = -1; snprintf(err, errsz, "out of memory"); }
  return rc;
}

/* The PEM files SSL_CERT_DIR holds itself (Go tools read every file there). Symlinks are
 * skipped: in a system store they are OpenSSL's hash links to files already in the bundle,
 * which CURLOPT_CAPATH finds anyway. */
static int add_dir(isync_buf *b, const char *dir, const char *base, int *added, char *err, size_t errsz) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct stat bst;
  int have_base = base && stat(base, &bst) == 0;
  struct dirent *e;
  int rc = 0;
  while (!rc && (e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 5 || (strcmp(e->d_name + l - 4, ".crt") != 0 && strcmp(e->d_name + l - 4, ".pem") != 0)) continue;
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) { snprintf(err, errsz, "out of memory"); rc = -1; break; }
    struct stat st;
    /* the store's own bundle often sits in that directory too: not twice */
    int same = have_base && lstat(path, &st) == 0 && st.st_dev == bst.st_dev && st.st_ino == bst.st_ino;
    if (!same && lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      rc = add_file(b, path, 0, 0, err, errsz);
      (*added)++;
    }
    free(path);
  }
  closedir(d);
  return rc;
}

/* Trust as the ecosystem has it: the system store (or SSL_CERT_FILE instead of it, as Go
 * tools honour), the PEM files of SSL_CERT_DIR, then this registry's own CAs (--ca,
 * certs.d, the auth file), all in one bundle: a registry's CA is trusted on top of the
 * system store, not instead of it. Left NULL (curl's default) when nothing adds to it. */
static int build_bundle(isync_registry *r, const isync_reg_opts *o, char *err, size_t errsz) {
  const char *file = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
  int extra = (o->ca_file && *o->ca_file) || (o->ca_files && o->ca_files[0]);
  if (!extra && !(file && *file) && !(dir && *dir)) return 0;
  if (dir && *dir && !(r->ca_path = strdup(dir))) { snprintf(err, errsz, "out of memory"); return -1; }
  const char *dflt = curl_version_info(CURLVERSION_NOW)->cainfo;
  const char *base = file && *file ? file : dflt;
  isync_buf b;
  isync_buf_init(&b, 0);
  int added = extra;
  int rc = base ? add_file(&b, base, file && *file, 0, err, errsz) : 0;
  if (!rc && dir && *dir) rc = add_dir(&b, dir, base, &added, err, errsz);
  if (!rc && o->ca_file && *o->ca_file) rc = add_file(&b, o->ca_file, 1, 1, err, errsz);
  for (size_t i = 0; !rc && o->ca_files && o->ca_files[i]; i++) rc = add_file(&b, o->ca_files[i], 1, 1, err, errsz);
  if (rc) { isync_buf_free(&b); return -1; }
  if (!added && base == dflt) { isync_buf_free(&b); return 0; }   /* just curl's own store */
  r->ca_bundle = b.data;
  r->ca_bundle_len = b.len;
  return 0;
}

isync_registry *isync_registry_new(const char *name, const isync_reg_opts *o, char *err, size_t errsz) {
  isync_registry *r = calloc(1, sizeof *r);
  if (!r) { snprintf(err, errsz, "out of memory"); return NULL; }
  atomic_init(&r->refs, 1);
  r->name = strdup(name);
  const char *host = isync_registry_api_host(name);
  size_t n = strlen(host) + 9;
  r->base = malloc(n);
  if (r->base) snprintf(r->base, n, "%s://%s", o->plain_http ? "http" : "https", host);
  r->username = dup_or_null(o->username);
  r->password = dup_or_null(o->password);
  r->plain_http = o->plain_http;
  r->skip_verify = o->skip_verify;
  r->ca_file = dup_or_null(o->ca_file);
  r->cert_file = dup_or_null(o->cert_file);
  r->key_file = dup_or_null(o->key_file);
  r->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : 15;
  r->timeout = o->timeout > 0 ? o->timeout : 120;
  r->stall_timeout = o->stall_timeout > 0 ? o->stall_timeout : 60;
  r->max_conns = o->max_conns > 0 ? o->max_conns : 8;
  r->blob_slots.max = r->meta_slots.max = r->max_conns;
  r->auth_state = ISYNC_AUTH_UNKNOWN;
  if (!r->name || !r->base) { snprintf(err, errsz, "out of memory"); isync_registry_unref(r); return NULL; }
  if (!r->plain_http && build_bundle(r, o, err, errsz) != 0) { isync_registry_unref(r); return NULL; }
  return r;
}

void isync_registry_ref(isync_registry *r) { atomic_fetch_add(&r->refs, 1); }

void isync_wipe_free(char *s) {
  if (!s) return;
  /* secrets do not linger in freed memory */
  volatile char *p = s;
  while (*p) *p++ = 0;
  free(s);
}

/* The auth state's memory (auth.c runs the handshakes; waiters are gone by now: each
 * holds a job, which holds the registry). */
static void free_auth_state(isync_registry *r) {
  isync_token *t = r->tokens;
  while (t) {
    isync_token *n = t->next;
    isync_wipe_free(t->token);
    free(t->scope_key);
    free(t->err);
    free(t);
    t = n;
  }
  free(r->realm); free(r->service); free(r->ping_err);
}

void isync_registry_unref(isync_registry *r) {
  if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
  free_auth_state(r);
  free(r->name); free(r->base);
  isync_wipe_free(r->username); isync_wipe_free(r->password);
  free(r->ca_file); free(r->cert_file); free(r->key_file);
  free(r->ca_bundle); free(r->ca_path);
  free(r);
}

void isync_registry_reset(isync_registry *r) {
  r->blob_slots.active = r->meta_slots.active = 0;
  if (r->auth_state == ISYNC_AUTH_PINGING) r->auth_state = ISYNC_AUTH_UNKNOWN;
  for (isync_token *t = r->tokens; t; t = t->next) t->fetching = 0;
}

/* "scheme://host:port" of a URL, lowercased, with the default port made explicit. */
static void origin_of(const char *url, char *out, size_t n) {
  const char *se = strstr(url, "://");
  if (!se) { snprintf(out, n, "?"); return; }
  size_t sl = (size_t)(se - url);
  const char *host = se + 3;
  size_t hl = strcspn(host, "/?#");
  char scheme[16];
  snprintf(scheme, sizeof scheme, "%.*s", (int)(sl < 15 ? sl : 15), url);
  for (char *p = scheme; *p; p++) *p = (char)tolower((unsigned char)*p);
  int has_port = 0;
  for (size_t i = hl; i > 0; i--) { if (host[i - 1] == ':') { has_port = 1; break; } if (host[i - 1] == ']') break; }
  snprintf(out, n, "%s://%.*s%s", scheme, (int)hl, host,
           has_port ? "" : strcmp(scheme, "https") == 0 ? ":443" : ":80");
  for (char *p = out; *p; p++) *p = (char)tolower((unsigned char)*p);
}

int isync_registry_same_origin(const isync_registry *r, const char *url) {
  char a[512], b[512];
  origin_of(r->base, a, sizeof a);
  origin_of(url, b, sizeof b);
  return strcmp(a, b) == 0;
}

void isync_url_origin(const char *url, char *out, size_t n) { origin_of(url, out, n); }

int isync_registry_may_follow(const isync_registry *r, const char *url) {
  if (isync_registry_same_origin(r, url)) return 1;
  char o[512];
  origin_of(url, o, sizeof o);
  for (int i = 0; i < r->nredirect_origins; i++)
    if (strcmp(r->redirect_origins[i], o) == 0) return 1;
  return 0;
}

void isync_registry_note_redirect(isync_registry *r, const char *url) {
  if (isync_registry_may_follow(r, url)) return;
  char o[512];
  origin_of(url, o, sizeof o);
  /* a handful is plenty (one object store or CDN, maybe per region); beyond that, none */
  size_t n = strlen(o);
  if (n >= sizeof r->redirect_origins[0] || r->nredirect_origins >= 8) return;
  memcpy(r->redirect_origins[r->nredirect_origins++], o, n + 1);
}

void isync_registry_setup_http(const isync_registry *r, isync_http *h, int streaming) {
  CURL *c = h->easy;
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, r->connect_timeout);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  /* every request fails after stall_timeout seconds without a byte either way (a registry
   * that stops mid-manifest, or before its status line, must not hold a run for the whole
   * `timeout`); a blob may take hours, so only metadata requests also have a total bound */
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, r->stall_timeout);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, streaming ? 0L : r->timeout);
  if (r->ca_bundle) {
    /* the registry outlives its requests: curl may use the bundle in place */
    struct curl_blob blob = {r->ca_bundle, r->ca_bundle_len, CURL_BLOB_NOCOPY};
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (r->ca_path) curl_easy_setopt(c, CURLOPT_CAPATH, r->ca_path);
  if (r->cert_file) curl_easy_setopt(c, CURLOPT_SSLCERT, r->cert_file);
  if (r->key_file) curl_easy_setopt(c, CURLOPT_SSLKEY, r->key_file);
  if (r->skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}
