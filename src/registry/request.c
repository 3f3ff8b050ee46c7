/* request.c - one authenticated request of a registry operation; upload sessions. */
#include "registry/request.h"
#include "registry/auth.h"
#include "util/parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* What it takes to (re)send one request: it outlives the http handle across auth waits. */
typedef struct {
  isync_engine *e;
  isync_op *op;
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

static void give_up(isync_engine *e, isync_op *op, isync_fail_fn on_fail) {
  if (on_fail) on_fail(e, op);
  else isync_job_finish(e, &op->job);
}

static void req_finished(isync_http *h);

static void req_send(isync_engine *e, isync_job *j, void *arg, int ok) {
  req_ctx *c = arg;
  isync_fail_fn on_fail = c->on_fail;
  if (!ok) { req_ctx_free(c); give_up(e, ISYNC_OP(j), on_fail); return; }
  isync_http *h = isync_http_new(c->method, c->url);
  if (!h) {
    isync_job_set_error(j, "INTERNAL", "out of memory");
    req_ctx_free(c);
    give_up(e, ISYNC_OP(j), on_fail);
    return;
  }
  isync_registry_setup_http(c->reg, h, 0);
  /* credentials go only to the registry itself, not to whatever host a Location or a
   * Link names (curl also drops them on redirects to another host) */
  if (isync_registry_same_origin(c->reg, c->url)) isync_auth_apply(c->reg, c->scopes, h);
  if (c->setup) c->setup(e, c->op, h);
  h->ud = c->op;
  h->ctx = c;
  h->ctx_free = req_ctx_free;
  h->done = req_finished;
  isync_http_start(isync_engine_http(e), h);
}

static void req_finished(isync_http *h) {
  req_ctx *c = h->ctx;
  isync_engine *e = c->e;
  isync_op *op = c->op;
  int streamed_body = h->read_fn != NULL;
  /* only the registry's own 401 teaches its auth: a Link/Location target or a redirect
   * that curl followed may be any host, and learning its realm would send the user's
   * credentials there (and drop the registry's good token) */
  const char *eff = isync_http_effective_url(h);
  int own = isync_registry_same_origin(c->reg, eff);
  /* a blob GET the registry sent elsewhere (object storage): that origin may also be
   * named by its Links and Locations from now on */
  if (!own && h->cc == CURLE_OK && h->status >= 200 && h->status < 300 && isync_registry_same_origin(c->reg, c->url))
    isync_registry_note_redirect(c->reg, eff);
  if (h->cc == CURLE_OK && h->status == 401 && own && !c->auth_retried && !streamed_body &&
      (c->reg->auth_state == ISYNC_AUTH_BEARER || isync_auth_learn(c->reg, h))) {
    /* the token expired or was too narrow, or the registry protects this repository
     * though its /v2/ was open: authenticate afresh, once */
    c->auth_retried = 1;
    isync_auth_invalidate(c->reg, c->scopes);
    h->ctx = NULL;
    isync_http_free(h);
    isync_auth_prepare(e, c->reg, c->scopes, &op->job, req_send, c, req_ctx_free);
    return;
  }
  h->ctx = NULL;
  isync_req_fn done = c->done;
  req_ctx_free(c);
  done(e, op, h);
}

void isync_request(isync_engine *e, isync_op *op, isync_registry *reg, const char *scopes, const char *method,
                   const char *url, isync_req_fn setup, isync_req_fn done, isync_fail_fn on_fail) {
  req_ctx *c = calloc(1, sizeof *c);
  if (!c || !(c->url = strdup(url))) {
    free(c);
    isync_job_set_error(&op->job, "INTERNAL", "out of memory");
    give_up(e, op, on_fail);
    return;
  }
  c->e = e;
  c->op = op;
  snprintf(c->method, sizeof c->method, "%s", method);
  c->reg = reg;
  c->scopes = scopes;
  c->setup = setup;
  c->done = done;
  c->on_fail = on_fail;
  isync_auth_prepare(e, reg, scopes, &op->job, req_send, c, req_ctx_free);
}

void isync_op_request(isync_engine *e, isync_op *op, const char *method, const char *actions, const char *what,
                      const char *ref, isync_req_fn setup, isync_req_fn done) {
  char url[2048];
  if (!op->scopes) op->scopes = isync_scopes(op->repo, actions, NULL, NULL);
  isync_op_url(op, url, sizeof url, what, ref);
  isync_request(e, op, op->reg, op->scopes, method, url, setup, done, NULL);
}

char *isync_upload_location(isync_op *op, isync_http *h, const char *what, int required) {
  char *loc = isync_http_header_dup(h, "Location");
  if (!loc) {
    if (required) isync_job_set_error(&op->job, "PROTOCOL", "%s: %ld without a Location", what, h->status);
    return NULL;
  }
  char *abs = isync_url_resolve(h->url, loc);
  free(loc);
  if (!abs) { isync_job_set_error(&op->job, "INTERNAL", "out of memory"); return NULL; }
  if (isync_op_refuse_foreign(op, abs, what, "an upload Location")) { free(abs); return NULL; }
  return abs;
}

char *isync_upload_opened(isync_op *op, isync_http *h) {
  if (isync_http_ok(h, 202)) return isync_upload_location(op, h, "POST blob upload", 1);
  isync_op_set_http_error(op, h, "POST blob upload", "NAME_UNKNOWN");
  return NULL;
}

static void delete_done(isync_http *h) { isync_http_free(h); }

static void registry_release(void *r) { isync_registry_unref(r); }

void isync_fire_delete(isync_engine *e, isync_registry *r, const char *scopes, const char *url) {
  isync_http *h = isync_http_new("DELETE", url);
  if (!h) return;
  isync_registry_setup_http(r, h, 0);
  curl_easy_setopt(h->easy, CURLOPT_TIMEOUT, 10L);
  if (isync_registry_same_origin(r, url)) isync_auth_apply(r, scopes, h);
  h->done = delete_done;
  /* it outlives its job: the registry (whose CA bundle curl reads in place) must too */
  isync_registry_ref(r);
  h->ctx = r;
  h->ctx_free = registry_release;
  h->detached = 1;
  isync_http_start(isync_engine_http(e), h);
}
