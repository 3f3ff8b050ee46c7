/* engine.h - the engine: one pthread turning an HTTP loop, with queues, timers and
 * connection slots (no Lua, no registries).
 *
 * The Lua thread creates jobs and submits them; the engine thread starts each when its
 * slots are free, runs it (the job's type says how) and queues it, finished, on a
 * completion queue the Lua thread drains. The engine knows a job only through its type:
 * start, cancel, forget, free. The two threads share nothing but the queues (under one
 * mutex); the completion queue can also be watched through a file descriptor. */
#ifndef ISYNC_ENGINE_H
#define ISYNC_ENGINE_H
#include <stdatomic.h>
#include "http/http.h"

typedef struct isync_engine isync_engine;
typedef struct isync_job isync_job;

/* What the engine needs to know of a kind of job. */
typedef struct isync_job_type {
  const char *name;
  /* Engine thread, slots taken: run. Ends, now or later, with isync_job_finish. */
  void (*start)(isync_engine *e, isync_job *j);
  /* Engine stopping (its thread joined): abort; may start detached cleanup requests on
   * isync_engine_http(e), which get one bounded moment to run. Optional. */
  void (*cancel)(isync_engine *e, isync_job *j);
  /* After that moment: drop state the job left in shared objects (waiters holding
   * references, half-done handshakes), so they serve a later engine. Optional. */
  void (*forget)(isync_job *j);
  /* The last reference is gone: free the job (isync_job_release the common part). */
  void (*free)(isync_job *j);
} isync_job_type;

/* A limit on jobs running at once (a registry's connections). Engine thread only. */
typedef struct isync_slots { int active, max; } isync_slots;

struct isync_job {
  const isync_job_type *type;
  atomic_int refs;
  atomic_int done;
  isync_slots *slots[2];         /* what it needs free to start (NULL: nothing) */
  /* outcome, written by the engine thread before done is set */
  int ok;
  char *err;                     /* one line, no secrets */
  const char *code;              /* stable code (util/errors.h), static string */
  long http_status;
  long retry_after;              /* seconds, -1 absent */
  /* the engine's */
  int holds_slots, claimed;
  isync_job *next_done, *next_pending, *track_prev, *track_next;
};

void isync_job_init(isync_job *j, const isync_job_type *type);
/* Frees the common part (the type's free calls it). */
void isync_job_release(isync_job *j);
void isync_job_ref(isync_job *j);
void isync_job_unref(isync_job *j);

isync_engine *isync_engine_start(char *err, size_t errsz);
/* Stops the thread. Running jobs are cancelled (their detached cleanup requests get one
 * bounded moment together), and every job still held ends CANCELED unless it finished. */
void isync_engine_stop(isync_engine *e);

/* Lua thread: hand the job to the engine (it takes its own reference). 0 ok, -1 stopping. */
int isync_job_submit(isync_engine *e, isync_job *j);
/* Lua thread: next finished job (ownership of one reference passes to the caller),
 * waiting up to timeout_ms (-1 = forever); NULL on timeout. */
isync_job *isync_engine_next_done(isync_engine *e, int timeout_ms);
/* Lua thread: wait until job j is finished and take it off the completion queue.
 * Returns 1 when finished, 0 on timeout. The queue's reference is dropped. */
int isync_engine_wait_job(isync_engine *e, isync_job *j, int timeout_ms);
/* A descriptor readable while the completion queue is not empty (an eventfd), for a host
 * event loop that would rather poll than block in isync_engine_next_done. */
int isync_engine_fd(const isync_engine *e);

typedef void (*isync_engine_fn)(isync_engine *e, void *arg);
/* Any thread: run fn on the engine thread. 0 ok, -1 when stopping. */
int isync_engine_post(isync_engine *e, isync_engine_fn fn, void *arg);

/* ---- engine thread only ---- */

isync_http_loop *isync_engine_http(isync_engine *e);
/* Run fn after ms milliseconds. The _job form holds a reference to the job until the
 * timer fires (fn drops it) or the engine stops (the job then ends CANCELED). */
void isync_engine_timer(isync_engine *e, long ms, isync_engine_fn fn, void *arg);
void isync_engine_timer_job(isync_engine *e, long ms, isync_engine_fn fn, isync_job *job);
int isync_engine_stopping(const isync_engine *e);

/* The first failure is the one kept: one line, controls blanked, code interned. */
void isync_job_set_error(isync_job *j, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Ends the job (ok unless an error was set): its slots go back, it moves to the
 * completion queue, and jobs waiting for slots start. */
void isync_job_finish(isync_engine *e, isync_job *j);
void isync_job_fail(isync_engine *e, isync_job *j, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Bytes handed to uploads by every engine of the process (progress display). */
long long isync_bytes_uploaded(void);
void isync_count_uploaded(long long n);

#endif
