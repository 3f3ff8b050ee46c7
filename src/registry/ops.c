/* ops.c - the registry operations other than blob streaming: ping, tag listing,
 * manifest HEAD/GET/PUT, blob HEAD/mount/GET/PUT, and sleep. Each is a short chain of
 * requests; every request goes through auth_prepare and is retried once after a 401
 * with a fresh token. */
#include "engine/engine.h"
#include "util/errors.h"
#include "registry/job.h"
#include "registry/mediatypes.h"
#include "util/json.h"
#include "util/parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAX (4u << 20)   /* the OCI spec's recommended manifest size limit */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

char *isync_scopes(const char *repo, const char *actions, const char *repo2, const char *actions2) {
  char a[600], b[600];
  snprintf(a, sizeof a, "repository:%s:%s", repo, actions);
  if (!repo2) return strdup(a);
  snprintf(b, sizeof b, "repository:%s:%s", repo2, actions2);
  char *v[2] = {a, b};
  qsort(v, 2, sizeof v[0], cmp_str);
  char out[1210];
  snprintf(out, sizeof out, "%s %s", v[0], v[1]);
  return strdup(out);
}

/* ---- one authenticated request ---- */

/* What it takes to (re)send one request: it outlives the http handle across auth waits. */
typedef struct {
  char method[8];
  char *url;
  isync_registry *reg;
  const char *scopes;
  isync_req_fn setup, done;
  isync_fail_fn on_fail;
  int auth_retried;
} req_ctx;

static void req_ctx_free(void *p) {
  req_ctx *c = p;
  free(c->url);
  free(c);
}

static void req_finished(isync_engine *e, isync_http *h);

static void req_give_up(isync_engine *e, isync_job *j, req_ctx *c) {
  isync_fail_fn on_fail = c->on_fail;
  req_ctx_free(c);
  if (on_fail) on_fail(e, j);
  else isync_job_finish(e, j);
}

static void req_send(isync_engine *e, isync_job *j, void *arg, int ok) {
  req_ctx *c = arg;
  if (!ok) { req_give_up(e, j, c); return; }
  isync_http *h = isync_http_new(c->method, c->url);
  if (!h) { isync_job_set_error(j, "INTERNAL", "out of memory"); req_give_up(e, j, c); return; }
  isync_registry_setup_http(c->reg, h, 0);
  /* credentials go only to the registry itself, not to whatever host a Location or a
   * Link names (curl also drops them on redirects to another host) */
  if (isync_registry_same_origin(c->reg, c->url)) isync_auth_apply(c->reg, c->scopes, h);
  if (c->setup) c->setup(e, j, h);
  h->ud = j;
  h->ctx = c;
  h->ctx_free = req_ctx_free;
  h->done = req_finished;
  isync_http_start(e, h);
}

static void req_finished(isync_engine *e, isync_http *h) {
  isync_job *j = h->ud;
  req_ctx *c = h->ctx;
  int streamed_body = h->read_fn != NULL;
  /* only the registry's own 401 teaches its auth: a Link/Location target or a redirect
   * that curl followed may be any host, and learning its realm would send the user's
   * credentials there (and drop the registry's good token) */
  char *eff = NULL;
  curl_easy_getinfo(h->easy, CURLINFO_EFFECTIVE_URL, &eff);
  int own = eff && isync_registry_same_origin(c->reg, eff);
  /* a blob GET the registry sent elsewhere (object storage): that origin may also be
   * named by its Links and Locations from now on */
  if (eff && !own && h->cc == CURLE_OK && h->status >= 200 && h->status < 300 &&
      isync_registry_same_origin(c->reg, c->url))
    isync_registry_note_redirect(c->reg, eff);
  if (h->cc == CURLE_OK && h->status == 401 && own && !c->auth_retried && !streamed_body &&
      (c->reg->auth_state == ISYNC_AUTH_BEARER || isync_auth_learn(c->reg, h))) {
    /* the token expired or was too narrow, or the registry protects this repository
     * though its /v2/ was open: authenticate afresh, once */
    c->auth_retried = 1;
    isync_auth_invalidate(c->reg, c->scopes);
    h->ctx = NULL;
    isync_http_free(e, h);
    isync_auth_prepare(e, c->reg, c->scopes, j, req_send, c, req_ctx_free);
    return;
  }
  h->ctx = NULL;
  isync_req_fn done = c->done;
  req_ctx_free(c);
  done(e, j, h);
}

void isync_request_or(isync_engine *e, isync_job *j, isync_registry *reg, const char *scopes, const char *method,
                      const char *url, isync_req_fn setup, isync_req_fn done, isync_fail_fn on_fail) {
  req_ctx *c = calloc(1, sizeof *c);
  if (!c || !(c->url = strdup(url))) {
    free(c);
    isync_job_set_error(j, "INTERNAL", "out of memory");
    if (on_fail) on_fail(e, j); else isync_job_finish(e, j);
    return;
  }
  snprintf(c->method, sizeof c->method, "%s", method);
  c->reg = reg;
  c->scopes = scopes;
  c->setup = setup;
  c->done = done;
  c->on_fail = on_fail;
  isync_auth_prepare(e, reg, scopes, j, req_send, c, req_ctx_free);
}

void isync_request(isync_engine *e, isync_job *j, isync_registry *reg, const char *scopes, const char *method,
                   const char *url, isync_req_fn setup, isync_req_fn done) {
  isync_request_or(e, j, reg, scopes, method, url, setup, done, NULL);
}

/* Per-operation request details for the metadata operations. */
static void ops_setup(isync_engine *e, isync_job *j, isync_http *h) {
  (void)e;
  switch (j->kind) {
    case ISYNC_JOB_MANIFEST_GET:
    case ISYNC_JOB_MANIFEST_HEAD: {
      char accept[512];
      isync_http_header(h, "%s", isync_accept_manifests(accept, sizeof accept));
      h->body.limit = MANIFEST_MAX;
      break;
    }
    case ISYNC_JOB_REFERRERS:
      isync_http_header(h, "Accept: " ISYNC_MT_OCI_INDEX);
      h->body.limit = MANIFEST_MAX;
      break;
    case ISYNC_JOB_MANIFEST_PUT:
      isync_http_header(h, "Content-Type: %s", j->media_type);
      h->send_data = j->data.data ? j->data.data : "";
      h->send_len = j->data.len;
      break;
    case ISYNC_JOB_BLOB_GET:
      isync_registry_setup_http(j->reg, h, 1);
      curl_easy_setopt(h->easy, CURLOPT_TIMEOUT, 0L);
      curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 1L);
      h->body.limit = j->max_body;
      break;
    case ISYNC_JOB_BLOB_PUT:
      if (strcmp(h->method, "PUT") == 0) {
        isync_http_header(h, "Content-Type: application/octet-stream");
        h->send_data = j->data.data ? j->data.data : "";
        h->send_len = j->data.len;
      }
      break;
    default: break;
  }
}

static void request(isync_engine *e, isync_job *j, const char *method, const char *url,
                    void (*done)(isync_engine *, isync_job *, isync_http *)) {
  isync_request(e, j, j->reg, j->scopes, method, url, ops_setup, done);
}

static void url_for(char *out, size_t n, const isync_job *j, const char *what, const char *ref) {
  snprintf(out, n, "%s/v2/%s/%s/%s", j->reg->base, j->repo, what, ref ? ref : "");
}

static int ok_status(const isync_http *h, long want) { return h->cc == CURLE_OK && h->status == want; }

/* Media type from Content-Type without parameters. */
static char *media_type_of(const isync_http *h) {
  char ct[256];
  if (!isync_http_get_header(h, "Content-Type", ct, sizeof ct)) return NULL;
  ct[strcspn(ct, "; ")] = '\0';
  return strdup(ct);
}

/* ---- ping ---- */

static void ping_done(isync_engine *e, isync_job *j, isync_http *h) {
  if (ok_status(h, 200)) isync_job_finish(e, j);
  else isync_job_fail_http(e, j, h, "GET", NULL);
  isync_http_free(e, h);
}

/* The auth layer's own /v2/ probe comes first. When it has just answered 200 (no auth
 * needed), that answer is the ping's; otherwise ask again, with credentials, which checks
 * them. arg is non-NULL when the probe was made for this ping. */
static void ping_after_auth(isync_engine *e, isync_job *j, void *arg, int ok) {
  if (!ok) { isync_job_finish(e, j); return; }   /* the probe's error is already set */
  if (arg && j->reg->auth_state == ISYNC_AUTH_NONE) { isync_job_finish(e, j); return; }
  char url[2048];
  snprintf(url, sizeof url, "%s/v2/", j->reg->base);
  request(e, j, "GET", url, ping_done);
}

/* ---- tags and the catalog: {"tags": [...]} / {"repositories": [...]}, paged by Link ---- */

#define LIST_MAX_ENTRIES 1000000u     /* tags or repositories of one listing */
#define LIST_MAX_BYTES (64u << 20)     /* all pages of one listing together */
#define LIST_MAX_PAGES 100000

static uint64_t url_hash(const char *s) {   /* FNV-1a */
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h ? h : 1;   /* 0 marks a free slot */
}

/* Adds url to the job's set of visited pages. 1 when it was already there (a loop),
 * 0 when added, -1 out of memory. Open addressing, kept at most half full. */
static int seen_add(isync_job *j, const char *url) {
  if ((size_t)j->pages * 2 + 2 > j->seen_cap) {
    size_t cap = j->seen_cap ? j->seen_cap * 2 : 64;
    uint64_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < j->seen_cap; i++) {
      if (!j->seen[i]) continue;
      size_t k = (size_t)(j->seen[i] % cap);
      while (t[k]) k = (k + 1) % cap;
      t[k] = j->seen[i];
    }
    free(j->seen);
    j->seen = t;
    j->seen_cap = cap;
  }
  uint64_t h = url_hash(url);
  size_t k = (size_t)(h % j->seen_cap);
  while (j->seen[k]) { if (j->seen[k] == h) return 1; k = (k + 1) % j->seen_cap; }
  j->seen[k] = h;
  return 0;
}

/* Counts one page against the listing's bounds. 0 fine, else the job failed (h freed). */
static int page_bounds(isync_engine *e, isync_job *j, isync_http *h, const char *what) {
  j->list_bytes += h->body.len;
  if (j->list_bytes <= LIST_MAX_BYTES && j->nlist <= LIST_MAX_ENTRIES) return 0;
  isync_http_free(e, h);
  isync_job_fail(e, j, "TOO_LARGE", "%s %s/%s: the listing is larger than %u entries or %u MiB", what, j->reg->name,
                 j->repo ? j->repo : "", LIST_MAX_ENTRIES, LIST_MAX_BYTES >> 20);
  return 1;
}

/* Follows the Link rel="next" of a paged answer: requests that page with done and returns 1
 * (h freed; the job failed instead when the pages do not end, loop, or leave the registry).
 * 0 when this was the last. */
static int next_page(isync_engine *e, isync_job *j, isync_http *h, const char *what,
                     void (*done)(isync_engine *, isync_job *, isync_http *)) {
  char *link = isync_http_header_dup(h, "Link");
  char *next = link ? isync_parse_link_next(link) : NULL;
  free(link);
  if (!next) return 0;
  char *abs = isync_url_resolve(h->url, next);
  free(next);
  if (j->pages == 0 && abs && seen_add(j, h->url) < 0) { free(abs); abs = NULL; }
  isync_http_free(e, h);
  if (!abs) { isync_job_fail(e, j, "INTERNAL", "out of memory"); return 1; }
  char shown[512];
  isync_url_redact(abs, shown, sizeof shown);
  if (isync_job_refuse_foreign(j, abs, what, "a next page")) {
    /* refused before any connection: a registry must not aim us at 169.254.169.254 */
    isync_job_finish(e, j);
    free(abs);
    return 1;
  }
  int again = seen_add(j, abs);
  if (again != 0 || ++j->pages > LIST_MAX_PAGES) {
    if (again < 0) isync_job_fail(e, j, "INTERNAL", "out of memory");
    else if (again) isync_job_fail(e, j, "PROTOCOL", "%s: registry %s's pages loop back to %s", what, j->reg->name, shown);
    else isync_job_fail(e, j, "TOO_LARGE", "%s: registry %s's listing has more than %d pages", what, j->reg->name, LIST_MAX_PAGES);
    free(abs);
    return 1;
  }
  request(e, j, "GET", abs, done);
  free(abs);
  return 1;
}

static void tags_done(isync_engine *e, isync_job *j, isync_http *h) {
  int catalog = j->kind == ISYNC_JOB_CATALOG;
  const char *what = catalog ? "GET catalog" : "GET tags";
  if (!ok_status(h, 200)) { isync_job_fail_http(e, j, h, what, catalog ? "UNSUPPORTED" : "NAME_UNKNOWN"); isync_http_free(e, h); return; }
  isync_json *doc = isync_json_parse(h->body.data ? h->body.data : "", h->body.len);
  const isync_json *tags = isync_json_get(doc, catalog ? "repositories" : "tags");
  if (!doc || (tags && tags->type != ISYNC_JARR && tags->type != ISYNC_JNULL)) {
    char url[512];
    isync_url_redact(h->url, url, sizeof url);
    isync_json_free(doc);
    isync_job_fail(e, j, "PROTOCOL", "%s %s: the answer is not a %s list", what, url, catalog ? "repository" : "tag");
    isync_http_free(e, h);
    return;
  }
  size_t add = tags && tags->type == ISYNC_JARR ? tags->n : 0;
  char **list = realloc(j->list, (j->nlist + add + 1) * sizeof *list);
  if (list) {
    j->list = list;
    for (size_t i = 0; i < add; i++)
      if (tags->items[i]->type == ISYNC_JSTR) j->list[j->nlist++] = strdup(tags->items[i]->str);
  }
  isync_json_free(doc);
  if (page_bounds(e, j, h, what)) return;
  if (!next_page(e, j, h, what, tags_done)) {
    isync_http_free(e, h);
    isync_job_finish(e, j);
  }
}

/* ---- manifests ---- */

static int is_digest_ref(const char *ref) { return strchr(ref, ':') != NULL; }

static void manifest_get_done(isync_engine *e, isync_job *j, isync_http *h) {
  if (h->cc == CURLE_WRITE_ERROR && h->body.overflow) {
    isync_job_fail(e, j, "TOO_LARGE", "GET manifest %s:%s: larger than %u bytes", j->repo, j->ref, MANIFEST_MAX);
    isync_http_free(e, h);
    return;
  }
  if (!ok_status(h, 200)) { isync_job_fail_http(e, j, h, "GET manifest", "MANIFEST_UNKNOWN"); isync_http_free(e, h); return; }
  char hdr[ISYNC_DIGEST_MAX], computed[ISYNC_DIGEST_MAX];
  const char *claimed = isync_http_get_header(h, "Docker-Content-Digest", hdr, sizeof hdr);
  const char *want = is_digest_ref(j->ref) ? j->ref : (claimed && isync_digest_valid(claimed) ? claimed : NULL);
  isync_digest_of(h->body.data ? h->body.data : "", h->body.len, want, computed);
  if (want && strcmp(want, computed) != 0) {
    isync_job_fail(e, j, "DIGEST_MISMATCH", "GET manifest %s/%s:%s: the body's digest is %s, not %s", j->reg->name,
                   j->repo, j->ref, computed, want);
    isync_http_free(e, h);
    return;
  }
  snprintf(j->digest, sizeof j->digest, "%s", computed);
  j->out_media_type = media_type_of(h);
  j->body = h->body;
  isync_buf_init(&h->body, 0);
  j->out_size = (int64_t)j->body.len;
  isync_http_free(e, h);
  isync_job_finish(e, j);
}

/* A HEAD's answer: 404 is "absent" (not an error), 200 "present" with its length, anything
 * else the job's error. Returns 1 when present, so the caller can read more headers. */
static int head_outcome(isync_job *j, isync_http *h, const char *what, const char *not_found_code) {
  if (h->cc == CURLE_OK && h->status == 404) { j->exists = 0; return 0; }
  if (!ok_status(h, 200)) { isync_job_set_http_error(j, h, what, not_found_code); return 0; }
  j->exists = 1;
  curl_off_t cl = -1;
  curl_easy_getinfo(h->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  j->out_size = cl;
  return 1;
}

static void manifest_head_done(isync_engine *e, isync_job *j, isync_http *h) {
  if (head_outcome(j, h, "HEAD manifest", "MANIFEST_UNKNOWN")) {
    char hdr[ISYNC_DIGEST_MAX];
    if (isync_http_get_header(h, "Docker-Content-Digest", hdr, sizeof hdr) && isync_digest_valid(hdr))
      snprintf(j->digest, sizeof j->digest, "%s", hdr);
    else if (is_digest_ref(j->ref))
      snprintf(j->digest, sizeof j->digest, "%s", j->ref);
    j->out_media_type = media_type_of(h);
  }
  isync_http_free(e, h);
  isync_job_finish(e, j);
}

static void manifest_put_done(isync_engine *e, isync_job *j, isync_http *h) {
  if (!ok_status(h, 201) && !(h->cc == CURLE_OK && h->status == 200)) {
    isync_job_fail_http(e, j, h, "PUT manifest", "NAME_UNKNOWN");
    isync_http_free(e, h);
    return;
  }
  char hdr[ISYNC_DIGEST_MAX];
  const char *claimed = isync_http_get_header(h, "Docker-Content-Digest", hdr, sizeof hdr);
  isync_digest_of(j->data.data ? j->data.data : "", j->data.len, claimed, j->digest);
  if (claimed && isync_digest_valid(claimed) && strcmp(claimed, j->digest) != 0) {
    isync_job_fail(e, j, "DIGEST_MISMATCH", "PUT manifest %s/%s:%s: the registry stored %s, the bytes sent are %s",
                   j->reg->name, j->repo, j->ref, claimed, j->digest);
  } else {
    isync_job_finish(e, j);
  }
  isync_http_free(e, h);
}

/* ---- blobs ---- */

static void blob_head_done(isync_engine *e, isync_job *j, isync_http *h) {
  head_outcome(j, h, "HEAD blob", "BLOB_UNKNOWN");
  isync_http_free(e, h);
  isync_job_finish(e, j);
}

static void delete_done(isync_engine *e, isync_http *h) {
  isync_http_free(e, h);
}

void isync_fire_delete(isync_engine *e, isync_registry *r, const char *scopes, const char *url) {
  isync_http *h = isync_http_new("DELETE", url);
  if (!h) return;
  isync_registry_setup_http(r, h, 0);
  curl_easy_setopt(h->easy, CURLOPT_TIMEOUT, 10L);
  if (isync_registry_same_origin(r, url)) isync_auth_apply(r, scopes, h);
  h->done = delete_done;
  isync_http_start(e, h);
}

static void blob_mount_done(isync_engine *e, isync_job *j, isync_http *h) {
  if (h->cc != CURLE_OK || h->status >= 500 || h->status == 429) {
    isync_job_fail_http(e, j, h, "POST blob mount", NULL);
    isync_http_free(e, h);
    return;
  }
  j->exists = h->status == 201;
  if (h->status == 202) {
    /* not mounted, but an upload session was opened: close it, the caller uploads */
    char *loc = isync_http_header_dup(h, "Location");
    if (loc) {
      char *abs = isync_url_resolve(h->url, loc);
      if (abs && isync_registry_may_follow(j->reg, abs)) isync_fire_delete(e, j->reg, j->scopes, abs);
      free(abs);
      free(loc);
    }
  }
  /* 400, 401, 403, 404: registries refuse mounts in many ways; all mean "upload instead" */
  isync_http_free(e, h);
  isync_job_finish(e, j);
}

static void blob_get_done(isync_engine *e, isync_job *j, isync_http *h) {
  if (h->cc == CURLE_WRITE_ERROR && h->body.overflow) {
    isync_job_fail(e, j, "TOO_LARGE", "GET blob %s@%s: larger than the %zu bytes allowed", j->repo, j->ref, j->max_body);
  } else if (!ok_status(h, 200)) {
    isync_job_fail_http(e, j, h, "GET blob", "BLOB_UNKNOWN");
  } else {
    char computed[ISYNC_DIGEST_MAX];
    isync_digest_of(h->body.data ? h->body.data : "", h->body.len, j->ref, computed);
    if (strcmp(computed, j->ref) != 0) {
      isync_job_fail(e, j, "DIGEST_MISMATCH", "GET blob %s/%s@%s: the body's digest is %s", j->reg->name, j->repo, j->ref, computed);
    } else {
      j->body = h->body;
      isync_buf_init(&h->body, 0);
      j->out_size = (int64_t)j->body.len;
      snprintf(j->digest, sizeof j->digest, "%s", computed);
      isync_job_finish(e, j);
    }
  }
  isync_http_free(e, h);
}

static void blob_put_done(isync_engine *e, isync_job *j, isync_http *h);

char *isync_upload_location(isync_engine *e, isync_job *j, isync_http *h) {
  char *loc = ok_status(h, 202) ? isync_http_header_dup(h, "Location") : NULL;
  if (!loc) {
    if (ok_status(h, 202)) isync_job_fail(e, j, "PROTOCOL", "POST blob upload: 202 without a Location");
    else isync_job_fail_http(e, j, h, "POST blob upload", "NAME_UNKNOWN");
    isync_http_free(e, h);
    return NULL;
  }
  char *abs = isync_url_resolve(h->url, loc);
  free(loc);
  isync_http_free(e, h);
  if (!abs) { isync_job_fail(e, j, "INTERNAL", "out of memory"); return NULL; }
  if (isync_job_refuse_foreign(j, abs, "POST blob upload", "an upload Location")) {
    isync_job_finish(e, j);
    free(abs);
    return NULL;
  }
  return abs;
}

static void blob_post_done(isync_engine *e, isync_job *j, isync_http *h) {
  char *abs = isync_upload_location(e, j, h);
  if (!abs) return;
  char *put = abs ? isync_url_add_query(abs, "digest", j->digest) : NULL;
  free(abs);
  if (!put) { isync_job_fail(e, j, "INTERNAL", "out of memory"); return; }
  request(e, j, "PUT", put, blob_put_done);
  free(put);
}

static void blob_put_done(isync_engine *e, isync_job *j, isync_http *h) {
  if (!ok_status(h, 201)) {
    isync_job_set_http_error(j, h, "PUT blob", "BLOB_UPLOAD_UNKNOWN");
    isync_fire_delete(e, j->reg, j->scopes, h->url);
    isync_job_finish(e, j);
  } else {
    j->bytes = (int64_t)j->data.len;
    isync_job_finish(e, j);
  }
  isync_http_free(e, h);
}

/* ---- referrers (OCI 1.1): an index of the manifests whose subject is the digest ---- */

/* Each page's index is kept whole (j->list); Lua joins their descriptors. */
static void referrers_done(isync_engine *e, isync_job *j, isync_http *h) {
  if (h->cc == CURLE_OK && j->nlist == 0 && (h->status == 404 || h->status == 405 || h->status == 400)) {
    j->exists = 0;   /* the registry has no referrers API: not an error */
    isync_http_free(e, h);
    isync_job_finish(e, j);
    return;
  }
  if (!ok_status(h, 200)) {
    isync_job_fail_http(e, j, h, "GET referrers", NULL);
    isync_http_free(e, h);
    return;
  }
  char **list = realloc(j->list, (j->nlist + 1) * sizeof *list);
  if (list) j->list = list;
  char *page = list ? strndup(h->body.data ? h->body.data : "", h->body.len) : NULL;
  if (!page) {
    isync_job_fail(e, j, "INTERNAL", "out of memory");
    isync_http_free(e, h);
    return;
  }
  j->list[j->nlist++] = page;
  j->exists = 1;
  if (page_bounds(e, j, h, "GET referrers")) return;
  if (!next_page(e, j, h, "GET referrers", referrers_done)) {
    isync_http_free(e, h);
    isync_job_finish(e, j);
  }
}

/* ---- sleep ---- */

static void sleep_done(isync_engine *e, void *arg) { isync_job_finish(e, arg); }

/* ---- dispatch ---- */

void isync_ops_start(isync_engine *e, isync_job *j) {
  char url[2048];
  switch (j->kind) {
    case ISYNC_JOB_SLEEP:
      isync_engine_timer(e, j->sleep_ms, sleep_done, j);
      return;
    case ISYNC_JOB_PING: {
      j->scopes = strdup("");
      int probing = j->reg->auth_state == ISYNC_AUTH_UNKNOWN || j->reg->auth_state == ISYNC_AUTH_PINGING;
      isync_auth_prepare(e, j->reg, j->scopes, j, ping_after_auth, probing ? (void *)1 : NULL, NULL);
      return;
    }
    case ISYNC_JOB_TAGS:
      j->scopes = isync_scopes(j->repo, "pull", NULL, NULL);
      url_for(url, sizeof url, j, "tags", "list");
      if (j->page_size > 0) snprintf(url + strlen(url), sizeof url - strlen(url), "?n=%ld", j->page_size);
      request(e, j, "GET", url, tags_done);
      return;
    case ISYNC_JOB_CATALOG:
      j->scopes = strdup("registry:catalog:*");
      snprintf(url, sizeof url, "%s/v2/_catalog", j->reg->base);
      if (j->page_size > 0) snprintf(url + strlen(url), sizeof url - strlen(url), "?n=%ld", j->page_size);
      request(e, j, "GET", url, tags_done);
      return;
    case ISYNC_JOB_MANIFEST_GET:
    case ISYNC_JOB_MANIFEST_HEAD:
      j->scopes = isync_scopes(j->repo, "pull", NULL, NULL);
      url_for(url, sizeof url, j, "manifests", j->ref);
      request(e, j, j->kind == ISYNC_JOB_MANIFEST_GET ? "GET" : "HEAD", url,
              j->kind == ISYNC_JOB_MANIFEST_GET ? manifest_get_done : manifest_head_done);
      return;
    case ISYNC_JOB_MANIFEST_PUT:
      j->scopes = isync_scopes(j->repo, "pull,push", NULL, NULL);
      url_for(url, sizeof url, j, "manifests", j->ref);
      request(e, j, "PUT", url, manifest_put_done);
      return;
    case ISYNC_JOB_BLOB_HEAD:
      j->scopes = isync_scopes(j->repo, "pull", NULL, NULL);
      url_for(url, sizeof url, j, "blobs", j->ref);
      request(e, j, "HEAD", url, blob_head_done);
      return;
    case ISYNC_JOB_BLOB_GET:
      j->scopes = isync_scopes(j->repo, "pull", NULL, NULL);
      url_for(url, sizeof url, j, "blobs", j->ref);
      request(e, j, "GET", url, blob_get_done);
      return;
    case ISYNC_JOB_BLOB_MOUNT: {
      j->scopes = isync_scopes(j->repo, "pull,push", j->src_repo, "pull");
      url_for(url, sizeof url, j, "blobs", "uploads/");
      char *u1 = isync_url_add_query(url, "mount", j->ref);
      char *u2 = u1 ? isync_url_add_query(u1, "from", j->src_repo) : NULL;
      free(u1);
      if (!u2) { isync_job_fail(e, j, "INTERNAL", "out of memory"); return; }
      request(e, j, "POST", u2, blob_mount_done);
      free(u2);
      return;
    }
    case ISYNC_JOB_BLOB_PUT:
      j->scopes = isync_scopes(j->repo, "pull,push", NULL, NULL);
      isync_digest_of(j->data.data ? j->data.data : "", j->data.len, NULL, j->digest);
      url_for(url, sizeof url, j, "blobs", "uploads/");
      request(e, j, "POST", url, blob_post_done);
      return;
    case ISYNC_JOB_REFERRERS:
      j->scopes = isync_scopes(j->repo, "pull", NULL, NULL);
      url_for(url, sizeof url, j, "referrers", j->ref);
      request(e, j, "GET", url, referrers_done);
      return;
    case ISYNC_JOB_BLOB_COPY:
      break;
  }
  isync_job_fail(e, j, "INTERNAL", "unknown operation");
}
