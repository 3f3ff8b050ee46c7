/* op.c - registry operations: building one from its descriptor's arguments, freeing it,
 * and turning a registry's answer into the operation's error. */
#include "registry/op.h"
#include "registry/auth.h"
#include "util/errors.h"
#include "util/json.h"
#include "util/parse.h"
#include "util/ref.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

isync_op *isync_op_new(const isync_op_desc *d, isync_registry *reg) {
  isync_op *op = calloc(1, sizeof *op);
  if (!op) return NULL;
  isync_job_init(&op->job, &d->job);
  op->desc = d;
  op->size = -1;
  op->out_size = -1;
  isync_buf_init(&op->data, 0);
  isync_buf_init(&op->body, 0);
  if (reg) { isync_registry_ref(reg); op->reg = reg; }
  for (const isync_op_arg *a = d->args; a->name; a++)
    if (a->kind == ISYNC_ARG_INT) *ISYNC_ARG_AT(op, a, int64_t) = a->dflt;
  return op;
}

void isync_op_free(isync_job *j) {
  isync_op *op = ISYNC_OP(j);
  if (op->reg) isync_registry_unref(op->reg);
  if (op->src) isync_registry_unref(op->src);
  free(op->repo); free(op->src_repo); free(op->ref); free(op->media_type);
  isync_buf_free(&op->data);
  isync_buf_free(&op->body);
  free(op->out_media_type);
  for (size_t i = 0; i < op->nlist; i++) free(op->list[i]);
  free(op->list);
  free(op->seen);
  free(op->scopes); free(op->src_scopes);
  isync_job_release(j);
  free(op);
}

/* The engine is gone: its waits on the registries' auth handshakes are dropped, and the
 * registries forget slots and handshakes in flight, so a later engine starts clean. */
void isync_op_forget(isync_job *j) {
  isync_op *op = ISYNC_OP(j);
  if (op->reg) { isync_auth_drop_waiters(op->reg); isync_registry_reset(op->reg); }
  if (op->src) { isync_auth_drop_waiters(op->src); isync_registry_reset(op->src); }
}

/* type/subtype with RFC 6838 name characters: a value that is safe in a header */
static int media_type_valid(const char *s) {
  const char *slash = strchr(s, '/');
  if (!slash || slash == s || !slash[1] || strlen(s) > 255) return 0;
  for (const char *p = s; *p; p++)
    if (p != slash && !(isalnum((unsigned char)*p) || strchr("!#$&^_.+-", *p))) return 0;
  return 1;
}

const char *isync_op_set_str(isync_op *op, const isync_op_arg *a, const char *s, size_t n, char *err, size_t errsz) {
  if (a->kind == ISYNC_ARG_BYTES) {
    isync_buf *b = ISYNC_ARG_AT(op, a, isync_buf);
    isync_buf_reset(b);
    if (isync_buf_append(b, s, n) != 0) { snprintf(err, errsz, "'%s': out of memory", a->name); return err; }
    return NULL;
  }
  int ok = strlen(s) == n;   /* no NUL inside a name */
  const char *what = "";
  switch (a->kind) {
    case ISYNC_ARG_REPO: ok = ok && isync_repo_valid(s); what = "repository name"; break;
    case ISYNC_ARG_REF: ok = ok && (isync_tag_valid(s) || isync_digest_valid(s)); what = "tag or digest"; break;
    case ISYNC_ARG_DIGEST: ok = ok && isync_digest_valid(s); what = "digest"; break;
    case ISYNC_ARG_MEDIA_TYPE: ok = ok && media_type_valid(s); what = "media type"; break;
    default: snprintf(err, errsz, "'%s' is not text", a->name); return err;
  }
  if (!ok) { snprintf(err, errsz, "invalid %s '%.200s' ('%s')", what, s, a->name); return err; }
  char **slot = ISYNC_ARG_AT(op, a, char *);
  free(*slot);
  if (!(*slot = strdup(s))) { snprintf(err, errsz, "'%s': out of memory", a->name); return err; }
  return NULL;
}

const char *isync_op_set_int(isync_op *op, const isync_op_arg *a, int64_t v, char *err, size_t errsz) {
  if (a->kind != ISYNC_ARG_INT) { snprintf(err, errsz, "'%s' is not a number", a->name); return err; }
  if (v < a->min || v > a->max) {
    snprintf(err, errsz, "'%s' must be between %lld and %lld", a->name, (long long)a->min, (long long)a->max);
    return err;
  }
  *ISYNC_ARG_AT(op, a, int64_t) = v;
  return NULL;
}

void isync_op_set_registry(isync_op *op, const isync_op_arg *a, isync_registry *r) {
  isync_registry **slot = ISYNC_ARG_AT(op, a, isync_registry *);
  if (*slot) isync_registry_unref(*slot);
  isync_registry_ref(r);
  *slot = r;
}

void isync_op_ready(isync_op *op) {
  int blob = op->desc->blob_transfer;
  if (op->reg) op->job.slots[0] = blob ? &op->reg->blob_slots : &op->reg->meta_slots;
  if (op->src && op->src != op->reg) op->job.slots[1] = blob ? &op->src->blob_slots : &op->src->meta_slots;
}

/* ---- outcomes ---- */

void isync_op_set_http_error(isync_op *op, isync_http *h, const char *what, const char *not_found_code) {
  isync_job *j = &op->job;
  char url[512];
  isync_url_redact(h->url, url, sizeof url);
  if (h->cc != CURLE_OK) {
    char words[CURL_ERROR_SIZE + 64];
    isync_job_set_error(j, isync_code_for_curl(h->cc), "%s %s: %s", what, url, isync_http_failure(h, words, sizeof words));
    return;
  }
  j->http_status = h->status;
  char ra[128];
  if (isync_http_get_header(h, "Retry-After", ra, sizeof ra)) j->retry_after = isync_parse_retry_after(ra, time(NULL));
  if (h->status == 401) {
    /* say whose fault it is: no credentials at all, or credentials the registry refused
     * (the user's name is no secret; the password never appears) */
    isync_registry *r = op->src && !isync_registry_same_origin(op->reg, h->url) ? op->src : op->reg;
    char why[512];
    isync_auth_explain_401(r, 0, why, sizeof why);
    isync_job_set_error(j, "UNAUTHORIZED", "%s %s: HTTP 401 UNAUTHORIZED: %s", what, url, why);
    return;
  }
  /* the registry's own words: {"errors":[{"code":..,"message":..,"detail":..}]}. An error
   * document is a few hundred bytes: a larger body is not parsed (the JSON reader's tree
   * costs a multiple of its input) */
  const char *code = NULL, *message = NULL;
  isync_json *doc = h->body.len && h->body.len <= (64u << 10) ? isync_json_parse(h->body.data, h->body.len) : NULL;
  const isync_json *errs = isync_json_get(doc, "errors");
  if (errs && errs->type == ISYNC_JARR && errs->n > 0) {
    code = isync_code_from_registry(isync_json_getstr(errs->items[0], "code"));
    message = isync_json_getstr(errs->items[0], "message");
  }
  if (!code) code = isync_code_for_status(h->status, not_found_code);
  if (!message) message = h->status == 403 ? "access denied" : "";
  isync_job_set_error(j, code, "%s %s: HTTP %ld %s%s%s", what, url, h->status, code, *message ? ": " : "", message);
  isync_json_free(doc);
}

void isync_op_fail_http(isync_engine *e, isync_op *op, isync_http *h, const char *what, const char *not_found_code) {
  isync_op_set_http_error(op, h, what, not_found_code);
  isync_job_finish(e, &op->job);
}

int isync_op_refuse_foreign(isync_op *op, const char *url, const char *what, const char *named) {
  if (isync_registry_may_follow(op->reg, url)) return 0;
  char origin[512];
  isync_url_origin(url, origin, sizeof origin);
  isync_job_set_error(&op->job, "PROTOCOL", "%s: registry %s named %s on %s, which is not the registry: refused", what,
                      op->reg->name, named, origin);
  return 1;
}

void isync_op_url(const isync_op *op, char *out, size_t n, const char *what, const char *ref) {
  snprintf(out, n, "%s/v2/%s/%s/%s", op->reg->base, op->repo, what, ref ? ref : "");
}

int isync_op_head_outcome(isync_op *op, isync_http *h, const char *what, const char *not_found_code) {
  if (h->cc == CURLE_OK && h->status == 404) { op->exists = 0; return 0; }
  if (!isync_http_ok(h, 200)) { isync_op_set_http_error(op, h, what, not_found_code); return 0; }
  op->exists = 1;
  curl_off_t cl = -1;
  curl_easy_getinfo(h->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  op->out_size = cl;
  return 1;
}
