/* engine.c - the engine thread: its HTTP loop, queues, timers, slots and shutdown. */
#include "engine/engine.h"
#include "util/errors.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

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
  isync_http_loop *http;
  pthread_mutex_t mu;
  pthread_cond_t cv;            /* signalled when a job completes */
  int efd;                      /* readable while done_head is set */
  posted *post_head, *post_tail;
  isync_job *done_head, *done_tail;
  int stopping;
  /* engine thread only */
  timer *timers;
  isync_job *tracked;           /* every job held, queued or running, for shutdown */
  isync_job *pending_head, *pending_tail;   /* waiting for slots */
  int walking, walk_again;      /* start_pending runs; a nested call asked for another pass */
};

/* ---------------- jobs ---------------- */

void isync_job_init(isync_job *j, const isync_job_type *type) {
  memset(j, 0, sizeof *j);
  j->type = type;
  atomic_init(&j->refs, 1);
  atomic_init(&j->done, 0);
  j->retry_after = -1;
}

void isync_job_release(isync_job *j) { free(j->err); }

void isync_job_ref(isync_job *j) { atomic_fetch_add(&j->refs, 1); }

void isync_job_unref(isync_job *j) {
  if (j && atomic_fetch_sub(&j->refs, 1) == 1) j->type->free(j);
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

/* ---------------- time ---------------- */

static void now_plus(struct timespec *ts, long ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) { ts->tv_sec++; ts->tv_nsec -= 1000000000L; }
}

/* Rounded up: a timer is due only once its time has come, not in its last millisecond
 * (the wait before it is rounded down by the same truncation otherwise). */
static long ms_until(const struct timespec *ts) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ns = (long long)(ts->tv_sec - now.tv_sec) * 1000000000LL + (ts->tv_nsec - now.tv_nsec);
  return ns <= 0 ? 0 : (long)((ns + 999999) / 1000000);
}

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

/* Runs the due timers; returns ms until the next one (at most 1 s). */
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

isync_http_loop *isync_engine_http(isync_engine *e) { return e->http; }
int isync_engine_stopping(const isync_engine *e) { return e->stopping; }

static atomic_llong g_uploaded;
long long isync_bytes_uploaded(void) { return atomic_load(&g_uploaded); }
void isync_count_uploaded(long long n) { atomic_fetch_add(&g_uploaded, n); }

/* ---------------- tracking and slots ---------------- */

static void track(isync_engine *e, isync_job *j) {
  j->track_prev = NULL;
  j->track_next = e->tracked;
  if (e->tracked) e->tracked->track_prev = j;
  e->tracked = j;
}

static void untrack(isync_engine *e, isync_job *j) {
  if (j->track_prev) j->track_prev->track_next = j->track_next;
  else if (e->tracked == j) e->tracked = j->track_next;
  if (j->track_next) j->track_next->track_prev = j->track_prev;
  j->track_prev = j->track_next = NULL;
}

static int can_start(const isync_job *j) {
  for (int i = 0; i < 2; i++)
    if (j->slots[i] && j->slots[i]->active >= j->slots[i]->max) return 0;
  return 1;
}

static void run_job(isync_engine *e, isync_job *j) {
  for (int i = 0; i < 2; i++) if (j->slots[i]) j->slots[i]->active++;
  j->holds_slots = 1;
  j->type->start(e, j);
}

/* Starts the waiting jobs that fit now, in order. One queue for the whole engine: a job
 * may wait for slots of two registries, and either may be the one that frees up. */
static void start_pending(isync_engine *e) {
  /* a job may finish inside its start (an auth refusal known at once), which calls us
   * again: that nested walk would change the queue under this one (which then started a
   * job twice). It asks for another pass instead. */
  if (e->walking) { e->walk_again = 1; return; }
  e->walking = 1;
  do {
    e->walk_again = 0;
    isync_job *prev = NULL, *j = e->pending_head;
    while (j) {
      isync_job *next = j->next_pending;
      if (can_start(j)) {
        if (prev) prev->next_pending = next; else e->pending_head = next;
        if (e->pending_tail == j) e->pending_tail = prev;
        j->next_pending = NULL;
        run_job(e, j);
      } else {
        prev = j;
      }
      j = next;
    }
  } while (e->walk_again);
  e->walking = 0;
}

static void job_begin(isync_engine *e, void *arg) {
  isync_job *j = arg;
  track(e, j);   /* the posted reference is the tracked one now */
  if (can_start(j)) { run_job(e, j); return; }
  j->next_pending = NULL;
  if (e->pending_tail) e->pending_tail->next_pending = j; else e->pending_head = j;
  e->pending_tail = j;
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
  isync_http_loop_wakeup(e->http);
  return 0;
}

int isync_engine_post(isync_engine *e, isync_engine_fn fn, void *arg) { return post(e, fn, arg, NULL); }

int isync_job_submit(isync_engine *e, isync_job *j) {
  isync_job_ref(j);
  if (post(e, job_begin, j, j) != 0) { isync_job_unref(j); return -1; }
  return 0;
}

/* Under the mutex: the descriptor says whether the completion queue holds anything. */
static void signal_fd(isync_engine *e, int nonempty) {
  uint64_t v = 1;
  if (nonempty) { if (write(e->efd, &v, sizeof v) < 0) { /* the counter is already set */ } }
  else if (read(e->efd, &v, sizeof v) < 0) { /* it was not set */ }
}

static void complete(isync_engine *e, isync_job *j) {
  pthread_mutex_lock(&e->mu);
  j->next_done = NULL;
  int was_empty = e->done_head == NULL;
  if (e->done_tail) e->done_tail->next_done = j; else e->done_head = j;
  e->done_tail = j;
  atomic_store(&j->done, 1);
  if (was_empty) signal_fd(e, 1);
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
}

void isync_job_finish(isync_engine *e, isync_job *j) {
  if (!j->err) j->ok = 1;
  /* the engine's reference moves to the completion queue, where the Lua thread may drop
   * it at once: hold one of our own while we still look at the job */
  isync_job_ref(j);
  untrack(e, j);
  int had_slots = j->holds_slots;
  if (had_slots) {
    j->holds_slots = 0;
    for (int i = 0; i < 2; i++) if (j->slots[i]) j->slots[i]->active--;
  }
  complete(e, j);
  if (had_slots) start_pending(e);
  isync_job_unref(j);
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
    if (!e->done_head) { e->done_tail = NULL; signal_fd(e, 0); }
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
    if (!e->done_head) signal_fd(e, 0);
    j->claimed = 1;
  }
  pthread_mutex_unlock(&e->mu);
  if (unlinked) isync_job_unref(j);
  return finished;
}

int isync_engine_fd(const isync_engine *e) { return e->efd; }

/* ---------------- the thread ---------------- */

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

static void *engine_main(void *arg) {
  isync_engine *e = arg;
  for (;;) {
    pthread_mutex_lock(&e->mu);
    int stop = e->stopping;
    pthread_mutex_unlock(&e->mu);
    if (stop) break;
    run_posted(e);
    isync_http_loop_turn(e->http);
    long timeout = run_timers(e);
    pthread_mutex_lock(&e->mu);
    if (e->post_head) timeout = 0;
    pthread_mutex_unlock(&e->mu);
    isync_http_loop_wait(e->http, timeout);
  }
  return NULL;
}

static void init_curl(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

isync_engine *isync_engine_start(char *err, size_t errsz) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_curl);
  isync_engine *e = calloc(1, sizeof *e);
  if (!e) { snprintf(err, errsz, "out of memory"); return NULL; }
  e->http = isync_http_loop_new();
  if (!e->http) { snprintf(err, errsz, "curl_multi_init failed"); free(e); return NULL; }
  e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (e->efd < 0) {
    snprintf(err, errsz, "eventfd: %s", strerror(errno));
    isync_http_loop_free(e->http);
    free(e);
    return NULL;
  }
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cv, NULL);
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
    isync_http_loop_free(e->http);
    close(e->efd);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
    return NULL;
  }
  return e;
}

/* Shutdown (thread joined): how long the detached cleanups (upload DELETEs) may take,
 * all of them together. */
#define SHUTDOWN_CLEANUP_MS 3000

/* A job the engine drops at stop ends CANCELED, unless it had already finished. */
static void drop_unfinished(isync_job *j) {
  if (!atomic_load(&j->done)) {
    isync_job_set_error(j, "CANCELED", "canceled: the isync engine stopped");
    atomic_store(&j->done, 1);
  }
  isync_job_unref(j);
}

void isync_engine_stop(isync_engine *e) {
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  e->stopping = 1;
  pthread_mutex_unlock(&e->mu);
  isync_http_loop_wakeup(e->http);
  pthread_join(e->thread, NULL);
  /* the thread is gone: its state is ours now. Abort what still runs, give the cleanups
   * one bounded moment, then drop every reference the engine holds */
  for (isync_job *j = e->tracked; j; j = j->track_next)
    if (j->type->cancel) j->type->cancel(e, j);
  isync_http_loop_drain_detached(e->http, SHUTDOWN_CLEANUP_MS);
  for (isync_job *j = e->tracked; j; j = j->track_next)
    if (j->type->forget) j->type->forget(j);
  e->pending_head = e->pending_tail = NULL;
  while (e->tracked) {
    /* finished as canceled, so whoever still holds the job sees an answer */
    isync_job *j = e->tracked;
    untrack(e, j);
    drop_unfinished(j);
  }
  /* jobs posted but never started, or waiting on a timer, end the same way: whoever
   * waits for them gets an answer (core.stop() hands them back to Lua) */
  for (posted *p = e->post_head, *n; p; p = n) {
    n = p->next;
    if (p->owned) drop_unfinished(p->owned);
    free(p);
  }
  for (timer *t = e->timers, *n; t; t = n) {
    n = t->next;
    if (t->owned) drop_unfinished(t->owned);
    free(t);
  }
  isync_http_loop_free(e->http);
  for (isync_job *d = e->done_head, *n; d; d = n) { n = d->next_done; isync_job_unref(d); }
  close(e->efd);
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
  free(e);
}
