/* engine.c - the curl multi loop thread, its queues and timers. */
#include "engine/engine.h"
#include "registry/job.h"
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct posted {
  isync_engine_fn fn;
  void *arg;
  isync_job *owned;   /* a job reference the closure carries */
  struct posted *next;
} posted;

typedef struct timer {
  struct timespec at;
  isync_engine_fn fn;
  void *arg;
  isync_job *owned;   /* a job reference the timer holds */
  struct timer *next;
} timer;

struct isync_engine {
  pthread_t thread;
  CURLM *multi;
  pthread_mutex_t mu;
  pthread_cond_t cv;            /* signalled when a job completes */
  posted *post_head, *post_tail;
  isync_job *done_head, *done_tail;
  int stopping, cancel;
  /* engine thread only */
  timer *timers;
  isync_http *unpause;
  isync_job *tracked;
  isync_http *live;
  isync_job_queue pending;
};

static void now_plus(struct timespec *ts, long ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) { ts->tv_sec++; ts->tv_nsec -= 1000000000L; }
}

static long ms_until(const struct timespec *ts) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long ms = (long)(ts->tv_sec - now.tv_sec) * 1000 + (ts->tv_nsec - now.tv_nsec) / 1000000L;
  return ms < 0 ? 0 : ms;
}

/* ---------------- HTTP requests ---------------- */

static size_t http_write_cb(char *p, size_t sz, size_t nm, void *ud) {
  isync_http *h = ud;
  size_t n = sz * nm;
  if (h->write_fn) return h->write_fn(h, p, n);
  if (isync_buf_append(&h->body, p, n) != 0) return 0;   /* over the cap: abort the transfer */
  return n;
}

static size_t http_read_cb(char *p, size_t sz, size_t nm, void *ud) {
  isync_http *h = ud;
  size_t n = sz * nm;
  if (h->read_fn) return h->read_fn(h, p, n);
  size_t left = h->send_len - h->send_off;
  if (n > left) n = left;
  memcpy(p, (const char *)h->send_data + h->send_off, n);
  h->send_off += n;
  return n;
}

static size_t http_header_cb(char *p, size_t sz, size_t nm, void *ud) {
  isync_http *h = ud;
  size_t n = sz * nm;
  /* a new status line (redirect, 100 Continue) starts a new header block */
  if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) isync_buf_reset(&h->resp_headers);
  isync_buf_append(&h->resp_headers, p, n);
  return n;
}

isync_http *isync_http_new(const char *method, const char *url) {
  isync_http *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->easy = curl_easy_init();
  h->url = strdup(url);
  if (!h->easy || !h->url) { curl_easy_cleanup(h->easy); free(h->url); free(h); return NULL; }
  snprintf(h->method, sizeof h->method, "%s", method);
  isync_buf_init(&h->body, 8u << 20);
  isync_buf_init(&h->resp_headers, 256u << 10);
  CURL *c = h->easy;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PRIVATE, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "isync/" ISYNC_VERSION);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  /* where redirects are followed (blob GETs): a bounded chain, and credentials never
   * travel to another host (curl >= 7.58 also drops our custom Authorization header
   * there; hostile_spec checks it) */
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET") != 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  }
  return h;
}

void isync_http_header(isync_http *h, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *line = NULL;
  int n = vasprintf(&line, fmt, ap);
  va_end(ap);
  if (n < 0) { h->bad_header = 1; return; }
  /* a value from a remote document must not smuggle in another header */
  if (strpbrk(line, "\r\n")) h->bad_header = 1;
  else h->headers = curl_slist_append(h->headers, line);
  free(line);
}

static void add_timer(isync_engine *e, long ms, isync_engine_fn fn, void *arg, isync_job *owned);

/* A request refused before sending completes like a failed transfer, on the next turn. */
static void refused_done(isync_engine *e, void *arg) {
  isync_http *h = arg;
  h->refused_pending = 0;
  h->cc = CURLE_BAD_FUNCTION_ARGUMENT;
  snprintf(h->errbuf, sizeof h->errbuf, "refused to send a header value holding a line break");
  h->done(e, h);
}

void isync_http_start(isync_engine *e, isync_http *h) {
  CURL *c = h->easy;
  if (!h->engine) {
    h->live_next = e->live;
    if (e->live) e->live->live_prev = h;
    e->live = h;
    h->engine = e;
  }
  if (h->bad_header) { h->refused_pending = 1; add_timer(e, 0, refused_done, h, NULL); return; }
  int has_body = h->read_fn || h->send_data;
  if (has_body) {
    /* POST/PUT/PATCH with a body: feed it through the read callback */
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, http_read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, h);
    if (!h->read_fn) curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)h->send_len);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, h->method);
    /* registries answer quickly; do not wait for 100-continue */
    h->headers = curl_slist_append(h->headers, "Expect:");
  } else if (strcmp(h->method, "PUT") == 0 || strcmp(h->method, "POST") == 0 || strcmp(h->method, "PATCH") == 0) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, h->method);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
  h->active = 1;
  curl_multi_add_handle(e->multi, c);
}

void isync_http_free(isync_engine *e, isync_http *h) {
  if (!h) return;
  if (h->active) curl_multi_remove_handle(e->multi, h->easy);
  if (h->refused_pending) {   /* its refused_done timer must not fire on freed memory */
    for (timer **pp = &e->timers; *pp; pp = &(*pp)->next)
      if ((*pp)->fn == refused_done && (*pp)->arg == h) { timer *t = *pp; *pp = t->next; free(t); break; }
  }
  if (h->engine) {
    if (h->live_prev) h->live_prev->live_next = h->live_next; else if (e->live == h) e->live = h->live_next;
    if (h->live_next) h->live_next->live_prev = h->live_prev;
  }
  /* drop it from the unpause list */
  for (isync_http **pp = &e->unpause; *pp; pp = &(*pp)->next_unpause)
    if (*pp == h) { *pp = h->next_unpause; break; }
  if (h->ctx && h->ctx_free) h->ctx_free(h->ctx);
  if (h->owner && *h->owner == h) *h->owner = NULL;
  curl_easy_cleanup(h->easy);
  curl_slist_free_all(h->headers);
  isync_buf_free(&h->body);
  isync_buf_free(&h->resp_headers);
  if (h->send_owned.data) memset(h->send_owned.data, 0, h->send_owned.len);
  isync_buf_free(&h->send_owned);
  free(h->url);
  free(h);
}

/* Finds a header's value in the final response's header block: start and length. */
static const char *find_header(const isync_http *h, const char *name, size_t *len) {
  const char *p = h->resp_headers.data;
  size_t nl = strlen(name);
  while (p && *p) {
    const char *eol = strchr(p, '\n');
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ' || *v == '\t') v++;
      const char *end = eol ? eol : v + strlen(v);
      while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
      *len = (size_t)(end - v);
      return v;
    }
    p = eol ? eol + 1 : NULL;
  }
  return NULL;
}

const char *isync_http_get_header(const isync_http *h, const char *name, char *out, size_t outsz) {
  size_t n;
  const char *v = find_header(h, name, &n);
  if (!v || n >= outsz) return NULL;   /* absent, or too long to be what we expect */
  memcpy(out, v, n);
  out[n] = '\0';
  return out;
}

char *isync_http_header_dup(const isync_http *h, const char *name) {
  size_t n;
  const char *v = find_header(h, name, &n);
  if (!v) return NULL;
  char *out = malloc(n + 1);
  if (out) { memcpy(out, v, n); out[n] = '\0'; }
  return out;
}

void isync_http_unpause(isync_http *h) {
  isync_engine *e = h->engine;
  if (h->want_unpause || !h->active) return;
  h->want_unpause = 1;
  h->next_unpause = e->unpause;
  e->unpause = h;
}

/* ---------------- timers, tracking ---------------- */

static void add_timer(isync_engine *e, long ms, isync_engine_fn fn, void *arg, isync_job *owned) {
  timer *t = calloc(1, sizeof *t);
  if (!t) { fn(e, arg); return; }
  now_plus(&t->at, ms);
  t->fn = fn;
  t->arg = arg;
  t->owned = owned;
  t->next = e->timers;
  e->timers = t;
}

void isync_engine_timer(isync_engine *e, long ms, isync_engine_fn fn, void *arg) { add_timer(e, ms, fn, arg, NULL); }

void isync_engine_timer_job(isync_engine *e, long ms, isync_engine_fn fn, isync_job *job) {
  isync_job_ref(job);
  add_timer(e, ms, fn, job, job);
}

void isync_engine_track(isync_engine *e, isync_job *j) {
  j->track_prev = NULL;
  j->track_next = e->tracked;
  if (e->tracked) e->tracked->track_prev = j;
  e->tracked = j;
}

void isync_engine_untrack(isync_engine *e, isync_job *j) {
  if (j->track_prev) j->track_prev->track_next = j->track_next;
  else if (e->tracked == j) e->tracked = j->track_next;
  if (j->track_next) j->track_next->track_prev = j->track_prev;
  j->track_prev = j->track_next = NULL;
}

int isync_engine_stopping(const isync_engine *e) { return e->stopping; }

isync_job_queue *isync_engine_pending(isync_engine *e) { return &e->pending; }

static atomic_llong g_uploaded;
long long isync_bytes_uploaded(void) { return atomic_load(&g_uploaded); }
void isync_count_uploaded(long long n) { atomic_fetch_add(&g_uploaded, n); }

const char *isync_http_failure(const isync_http *h, char *out, size_t outsz) {
  const char *words = h->errbuf[0] ? h->errbuf : curl_easy_strerror(h->cc);
  int plain = h->cc == CURLE_SSL_CONNECT_ERROR && strstr(words, "wrong version number");
  snprintf(out, outsz, "%s%s", words, plain ? " (this registry speaks plain HTTP: use --plain-http)" : "");
  return out;
}

/* ---------------- queues ---------------- */

static int post(isync_engine *e, isync_engine_fn fn, void *arg, isync_job *owned) {
  posted *p = calloc(1, sizeof *p);
  if (!p) return -1;
  p->fn = fn;
  p->arg = arg;
  p->owned = owned;
  pthread_mutex_lock(&e->mu);
  if (e->stopping) { pthread_mutex_unlock(&e->mu); free(p); return -1; }
  if (e->post_tail) e->post_tail->next = p; else e->post_head = p;
  e->post_tail = p;
  pthread_mutex_unlock(&e->mu);
  curl_multi_wakeup(e->multi);
  return 0;
}

int isync_engine_post(isync_engine *e, isync_engine_fn fn, void *arg) { return post(e, fn, arg, NULL); }
int isync_engine_post_job(isync_engine *e, isync_engine_fn fn, isync_job *job) { return post(e, fn, job, job); }

void isync_engine_complete(isync_engine *e, isync_job *j) {
  pthread_mutex_lock(&e->mu);
  j->next_done = NULL;
  if (e->done_tail) e->done_tail->next_done = j; else e->done_head = j;
  e->done_tail = j;
  atomic_store(&j->done, 1);
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
}

static void abs_deadline(struct timespec *ts, int timeout_ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += timeout_ms / 1000;
  ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) { ts->tv_sec++; ts->tv_nsec -= 1000000000L; }
}

isync_job *isync_engine_next_done(isync_engine *e, int timeout_ms) {
  struct timespec dl;
  if (timeout_ms >= 0) abs_deadline(&dl, timeout_ms);
  pthread_mutex_lock(&e->mu);
  while (!e->done_head) {
    int rc = timeout_ms >= 0 ? pthread_cond_timedwait(&e->cv, &e->mu, &dl) : pthread_cond_wait(&e->cv, &e->mu);
    if (rc == ETIMEDOUT) break;
  }
  isync_job *j = e->done_head;
  if (j) {
    e->done_head = j->next_done;
    if (!e->done_head) e->done_tail = NULL;
    j->next_done = NULL;
    j->claimed = 1;
  }
  pthread_mutex_unlock(&e->mu);
  return j;
}

int isync_engine_wait_job(isync_engine *e, isync_job *j, int timeout_ms) {
  struct timespec dl;
  if (timeout_ms >= 0) abs_deadline(&dl, timeout_ms);
  pthread_mutex_lock(&e->mu);
  while (!atomic_load(&j->done)) {
    int rc = timeout_ms >= 0 ? pthread_cond_timedwait(&e->cv, &e->mu, &dl) : pthread_cond_wait(&e->cv, &e->mu);
    if (rc == ETIMEDOUT) break;
  }
  int finished = atomic_load(&j->done);
  int unlinked = 0;
  if (finished && !j->claimed) {
    isync_job *prev = NULL;
    for (isync_job *q = e->done_head; q; prev = q, q = q->next_done) {
      if (q != j) continue;
      if (prev) prev->next_done = q->next_done; else e->done_head = q->next_done;
      if (e->done_tail == q) e->done_tail = prev;
      unlinked = 1;
      break;
    }
    j->claimed = 1;
  }
  pthread_mutex_unlock(&e->mu);
  if (unlinked) isync_job_unref(j);
  return finished;
}

/* ---------------- the loop ---------------- */

static void run_posted(isync_engine *e) {
  pthread_mutex_lock(&e->mu);
  posted *p = e->post_head;
  e->post_head = e->post_tail = NULL;
  pthread_mutex_unlock(&e->mu);
  while (p) {
    posted *next = p->next;
    p->fn(e, p->arg);
    free(p);
    p = next;
  }
}

static long run_timers(isync_engine *e) {
  long next = 1000;
  for (;;) {
    timer *due = NULL, **duep = NULL;
    for (timer **tp = &e->timers; *tp; tp = &(*tp)->next) {
      long ms = ms_until(&(*tp)->at);
      if (ms == 0) { due = *tp; duep = tp; break; }
      if (ms < next) next = ms;
    }
    if (!due) return next;
    *duep = due->next;
    due->fn(e, due->arg);
    free(due);
  }
}

static void run_unpauses(isync_engine *e) {
  while (e->unpause) {
    isync_http *h = e->unpause;
    e->unpause = h->next_unpause;
    h->want_unpause = 0;
    h->next_unpause = NULL;
    curl_easy_pause(h->easy, CURLPAUSE_CONT);
  }
}

/* Moves every transfer along and hands each finished one to its done callback. */
static void perform(isync_engine *e) {
  int running = 0;
  curl_multi_perform(e->multi, &running);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(e->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    isync_http *h = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&h);
    CURLcode cc = m->data.result;
    curl_multi_remove_handle(e->multi, m->easy_handle);
    h->active = 0;
    h->cc = cc;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->status);
    h->done(e, h);
  }
}

static void *engine_main(void *arg) {
  isync_engine *e = arg;
  for (;;) {
    pthread_mutex_lock(&e->mu);
    int stop = e->stopping;
    pthread_mutex_unlock(&e->mu);
    if (stop) break;
    run_posted(e);
    run_unpauses(e);
    perform(e);
    long timeout = run_timers(e);
    pthread_mutex_lock(&e->mu);
    int posted_more = e->post_head != NULL;
    pthread_mutex_unlock(&e->mu);
    if (e->unpause || posted_more) timeout = 0;
    if (timeout > 0) curl_multi_poll(e->multi, NULL, 0, (int)timeout, NULL);
  }
  return NULL;
}

static void init_curl(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

isync_engine *isync_engine_start(char *err, size_t errsz) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_curl);
  isync_engine *e = calloc(1, sizeof *e);
  if (!e) { snprintf(err, errsz, "out of memory"); return NULL; }
  e->multi = curl_multi_init();
  if (!e->multi) { snprintf(err, errsz, "curl_multi_init failed"); free(e); return NULL; }
  /* connection reuse across registries: a generous pool; per-registry caps are ours */
  curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 256L);
  pthread_mutex_init(&e->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_cond_init(&e->cv, &ca);
  pthread_condattr_destroy(&ca);
  /* the engine thread never takes a signal: a handler running there (the host's SIGINT
   * handler sets a hook on the Lua state) would race with the Lua thread. The new thread
   * inherits the mask, which is restored here at once. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int rc = pthread_create(&e->thread, NULL, engine_main, e);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    snprintf(err, errsz, "cannot start engine thread: %s", strerror(rc));
    curl_multi_cleanup(e->multi);
    free(e);
    return NULL;
  }
  return e;
}

/* Shutdown (thread joined): how long the upload DELETEs may take, all of them together. */
#define SHUTDOWN_DELETE_MS 3000

/* Runs the multi handle on the stopping thread until no request is left or ms passed. */
static void drain(isync_engine *e, long ms) {
  struct timespec dl;
  now_plus(&dl, ms);
  long left;
  while (e->live && (left = ms_until(&dl)) > 0) {
    perform(e);
    if (e->live) curl_multi_poll(e->multi, NULL, 0, (int)(left < 100 ? left : 100), NULL);
  }
}

/* A job the engine drops at stop ends CANCELED, unless it had already finished. */
static void cancel_unfinished(isync_job *j) {
  if (atomic_load(&j->done)) return;
  isync_job_set_error(j, "CANCELED", "canceled: the isync engine stopped");
  atomic_store(&j->done, 1);
}

void isync_engine_stop(isync_engine *e, int cancel) {
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  e->stopping = 1;
  e->cancel = cancel;
  pthread_mutex_unlock(&e->mu);
  curl_multi_wakeup(e->multi);
  pthread_join(e->thread, NULL);
  /* the thread is gone: its state is ours now. Abort what still runs, then drop every
   * reference the engine holds, so nothing is left behind. */
  for (isync_job *j = e->tracked; j; j = j->track_next)
    if (j->kind == ISYNC_JOB_BLOB_COPY && cancel) isync_blobcopy_cancel(e, j);
  /* the upload DELETEs (and any fired earlier) get one bounded moment, all at once */
  for (isync_http *h = e->live, *next; h; h = next) {
    next = h->live_next;
    if (strcmp(h->method, "DELETE") != 0) isync_http_free(e, h);
  }
  drain(e, SHUTDOWN_DELETE_MS);
  while (e->live) isync_http_free(e, e->live);
  for (isync_job *j = e->tracked; j; j = j->track_next) {
    if (j->reg) { isync_auth_drop_waiters(j->reg); isync_registry_reset(j->reg); }
    if (j->src) { isync_auth_drop_waiters(j->src); isync_registry_reset(j->src); }
  }
  e->pending.head = e->pending.tail = NULL;
  while (e->tracked) {
    /* finished as canceled, so whoever still holds the job sees an answer */
    isync_job *j = e->tracked;
    isync_engine_untrack(e, j);
    cancel_unfinished(j);
    isync_job_unref(j);
  }
  /* jobs posted but never started, or waiting on a timer, end the same way: whoever
   * waits for them gets an answer (core.stop() hands them back to Lua) */
  posted *p = e->post_head;
  while (p) {
    posted *n = p->next;
    if (p->owned) { cancel_unfinished(p->owned); isync_job_unref(p->owned); }
    free(p);
    p = n;
  }
  timer *t = e->timers;
  while (t) {
    timer *n = t->next;
    if (t->owned) { cancel_unfinished(t->owned); isync_job_unref(t->owned); }
    free(t);
    t = n;
  }
  curl_multi_cleanup(e->multi);
  isync_job *d = e->done_head;
  while (d) { isync_job *n = d->next_done; isync_job_unref(d); d = n; }
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
  free(e);
}
