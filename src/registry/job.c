/* job.c - job lifecycle: submission, per-registry slots, completion and error reporting. */
#include "registry/job.h"
#include "engine/engine.h"
#include "util/errors.h"
#include "util/json.h"
#include "util/parse.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

isync_job *isync_job_new(isync_job_kind kind) {
  isync_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->kind = kind;
  atomic_init(&j->refs, 1);
  atomic_init(&j->done, 0);
  j->size = -1;
  j->out_size = -1;
  j->retry_after = -1;
  isync_buf_init(&j->data, 0);
  isync_buf_init(&j->body, 0);
  return j;
}

void isync_job_ref(isync_job *j) { atomic_fetch_add(&j->refs, 1); }

void isync_job_unref(isync_job *j) {
  if (!j || atomic_fetch_sub(&j->refs, 1) != 1) return;
  if (j->reg) isync_registry_unref(j->reg);
  if (j->src) isync_registry_unref(j->src);
  free(j->repo); free(j->src_repo); free(j->ref); free(j->media_type);
  isync_buf_free(&j->data);
  isync_buf_free(&j->body);
  free(j->err); free(j->out_media_type);
  for (size_t i = 0; i < j->nlist; i++) free(j->list[i]);
  free(j->list);
  free(j->seen);
  free(j->scopes); free(j->src_scopes);
  if (j->bc) isync_blobcopy_free(j->bc);
  free(j);
}

static int is_blob_job(const isync_job *j) {
  return j->kind == ISYNC_JOB_BLOB_COPY || j->kind == ISYNC_JOB_BLOB_GET || j->kind == ISYNC_JOB_BLOB_PUT;
}

/* Blob transfers and metadata requests have separate pools per registry, so a listing
 * or a HEAD never waits behind a queue of multi-GB layers. */
static int *pool(isync_registry *r, const isync_job *j) { return is_blob_job(j) ? &r->active : &r->active_meta; }

static int can_start(const isync_job *j) {
  if (j->reg && *pool(j->reg, j) >= j->reg->max_conns) return 0;
  if (j->src && j->src != j->reg && *pool(j->src, j) >= j->src->max_conns) return 0;
  return 1;
}

static void take_slots(isync_job *j) {
  if (j->reg) (*pool(j->reg, j))++;
  if (j->src && j->src != j->reg) (*pool(j->src, j))++;
  j->nslots = 1;
}

static void enqueue(isync_engine *e, isync_job *j) {
  isync_job_queue *q = isync_engine_pending(e);
  j->next_pending = NULL;
  if (q->tail) q->tail->next_pending = j; else q->head = j;
  q->tail = j;
}

static void run_job(isync_engine *e, isync_job *j) {
  take_slots(j);
  if (j->kind == ISYNC_JOB_BLOB_COPY) isync_blobcopy_start(e, j);
  else isync_ops_start(e, j);
}

/* Starts the queued jobs that fit now, in order. One queue for the whole engine: a copy
 * waits for slots on two registries, and either may be the one that frees up. */
static void drain_pending(isync_engine *e) {
  isync_job_queue *q = isync_engine_pending(e);
  isync_job *prev = NULL, *j = q->head;
  while (j) {
    isync_job *next = j->next_pending;
    if (can_start(j)) {
      if (prev) prev->next_pending = next; else q->head = next;
      if (q->tail == j) q->tail = prev;
      j->next_pending = NULL;
      run_job(e, j);
    } else {
      prev = j;
    }
    j = next;
  }
}

static void job_begin(isync_engine *e, void *arg) {
  isync_job *j = arg;
  isync_engine_track(e, j);   /* every job the engine holds, queued or running, for shutdown */
  if (j->kind == ISYNC_JOB_SLEEP || !j->reg) { isync_ops_start(e, j); return; }
  if (can_start(j)) { run_job(e, j); return; }
  enqueue(e, j);
}

int isync_job_submit(isync_engine *e, isync_job *j) {
  isync_job_ref(j);
  if (isync_engine_post_job(e, job_begin, j) != 0) { isync_job_unref(j); return -1; }
  return 0;
}

void isync_job_finish(isync_engine *e, isync_job *j) {
  if (!j->err) j->ok = 1;
  /* the engine's reference moves to the completion queue, where the Lua thread may drop
   * it at once: hold one of our own while we still look at the job */
  isync_job_ref(j);
  isync_engine_untrack(e, j);
  isync_blobcopy_release(e, j);
  int had_slots = j->nslots;
  if (had_slots) {
    j->nslots = 0;
    if (j->reg) (*pool(j->reg, j))--;
    if (j->src && j->src != j->reg) (*pool(j->src, j))--;
  }
  isync_engine_complete(e, j);
  if (had_slots) drain_pending(e);
  isync_job_unref(j);
}

static void vset_error(isync_job *j, const char *code, const char *fmt, va_list ap) {
  if (j->err) return;   /* the first failure is the one worth reporting */
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  /* one line, and no terminal control sequences from a registry's message */
  for (char *p = msg; *p; p++) if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
  j->err = strdup(msg);
  j->code = isync_code_intern(code) ? isync_code_intern(code) : "INTERNAL";
  j->ok = 0;
}

void isync_job_set_error(isync_job *j, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset_error(j, code, fmt, ap);
  va_end(ap);
}

void isync_job_fail(isync_engine *e, isync_job *j, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset_error(j, code, fmt, ap);
  va_end(ap);
  isync_job_finish(e, j);
}

void isync_job_set_http_error(isync_job *j, isync_http *h, const char *what, const char *not_found_code) {
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
  /* the registry's own words: {"errors":[{"code":..,"message":..,"detail":..}]} */
  const char *code = NULL, *message = NULL;
  /* an error document is a few hundred bytes: a larger body is not parsed (the JSON
   * reader's tree costs a multiple of its input) */
  isync_json *doc = h->body.len && h->body.len <= (64u << 10) ? isync_json_parse(h->body.data, h->body.len) : NULL;
  const isync_json *errs = isync_json_get(doc, "errors");
  if (errs && errs->type == ISYNC_JARR && errs->n > 0) {
    code = isync_code_intern(isync_json_getstr(errs->items[0], "code"));
    message = isync_json_getstr(errs->items[0], "message");
  }
  if (!code) code = isync_code_for_status(h->status, not_found_code);
  if (h->status == 401) {
    /* say whose fault it is: no credentials at all, or credentials the registry refused
     * (the user's name is no secret; the password never appears) */
    isync_registry *r = j->src && !isync_registry_same_origin(j->reg, h->url) ? j->src : j->reg;
    char why[512];
    isync_auth_explain_401(r, 0, why, sizeof why);
    isync_job_set_error(j, "UNAUTHORIZED", "%s %s: HTTP 401 UNAUTHORIZED: %s", what, url, why);
    isync_json_free(doc);
    return;
  }
  /* 404 on a repository that does not exist yet reads better with the specific code */
  if (!message) message = h->status == 401 ? "authentication required" : h->status == 403 ? "access denied" : "";
  isync_job_set_error(j, code, "%s %s: HTTP %ld %s%s%s", what, url, h->status, code, *message ? ": " : "", message);
  isync_json_free(doc);
}

int isync_job_refuse_foreign(isync_job *j, const char *url, const char *what, const char *named) {
  if (isync_registry_may_follow(j->reg, url)) return 0;
  char origin[512];
  isync_url_origin(url, origin, sizeof origin);
  isync_job_set_error(j, "PROTOCOL", "%s: registry %s named %s on %s, which is not the registry: refused", what,
                      j->reg->name, named, origin);
  return 1;
}

void isync_job_fail_http(isync_engine *e, isync_job *j, isync_http *h, const char *what, const char *not_found_code) {
  isync_job_set_http_error(j, h, what, not_found_code);
  isync_job_finish(e, j);
}
