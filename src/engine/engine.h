/* engine.h - the network engine: one pthread running a curl multi loop (no Lua).
 *
 * The Lua thread creates jobs and posts them; the engine thread runs them as small
 * state machines over HTTP requests and queues each finished job on a completion queue
 * the Lua thread drains. Only the engine thread touches curl handles and registry auth
 * state; the two threads share nothing else but the queues (under one mutex). */
#ifndef ISYNC_ENGINE_H
#define ISYNC_ENGINE_H
#include <curl/curl.h>
#include <stdint.h>
#include "util/buf.h"

typedef struct isync_engine isync_engine;
typedef struct isync_job isync_job;
typedef struct isync_http isync_http;

typedef void (*isync_engine_fn)(isync_engine *e, void *arg);

isync_engine *isync_engine_start(char *err, size_t errsz);
/* Stops the thread. With cancel, running jobs are aborted and open uploads deleted
 * (best effort, bounded); without, it waits for nothing and simply drops them. */
void isync_engine_stop(isync_engine *e, int cancel);

/* Lua thread: hand a closure to the engine thread. 0 ok, -1 when stopping. */
int isync_engine_post(isync_engine *e, isync_engine_fn fn, void *arg);
/* The same for a closure over a job whose reference it carries (dropped if never run). */
int isync_engine_post_job(isync_engine *e, isync_engine_fn fn, isync_job *job);

/* Lua thread: next finished job (ownership of one reference passes to the caller),
 * waiting up to timeout_ms (-1 = forever); NULL on timeout. Callers wait in short slices,
 * so Ctrl-C (a Lua hook) is seen between them. */
isync_job *isync_engine_next_done(isync_engine *e, int timeout_ms);
/* Lua thread: wait until job j is finished and take it off the completion queue.
 * Returns 1 when finished, 0 on timeout. The queue's reference is dropped. */
int isync_engine_wait_job(isync_engine *e, isync_job *j, int timeout_ms);

/* ---- engine thread only ---- */

/* One HTTP exchange on the multi handle. */
struct isync_http {
  CURL *easy;
  struct curl_slist *headers;
  char *url;
  char method[8];
  long status;
  CURLcode cc;
  char errbuf[CURL_ERROR_SIZE];
  isync_buf body;           /* response body (capped) unless write_fn is set */
  isync_buf resp_headers;   /* headers of the final response only */
  const void *send_data;    /* request body from memory (not owned) */
  isync_buf send_owned;     /* or owned here: send_data points into it */
  size_t send_len, send_off;
  /* streaming hooks: return like curl's callbacks (CURL_WRITEFUNC_PAUSE, CURL_READFUNC_PAUSE...) */
  size_t (*write_fn)(isync_http *h, const char *p, size_t n);
  size_t (*read_fn)(isync_http *h, char *p, size_t n);
  void (*done)(isync_engine *e, isync_http *h);
  void *ud;                 /* the job */
  void *ctx;                /* the request's retry context (isync_request) */
  void (*ctx_free)(void *ctx);
  isync_engine *engine;     /* set when started */
  int active;               /* on the multi handle */
  int want_unpause;
  isync_http *next_unpause;
  isync_http *live_prev, *live_next;   /* every request not yet freed, for shutdown */
  isync_http **owner;       /* cleared when this request is freed (a holder's pointer to it) */
  int bad_header;           /* a header value held CR/LF or NUL: the request is refused */
  int refused_pending;      /* a refused_done timer names it */
};

/* Creates a request for method+url with common options from the registry-level settings. */
isync_http *isync_http_new(const char *method, const char *url);
void isync_http_header(isync_http *h, const char *fmt, ...);
void isync_http_start(isync_engine *e, isync_http *h);
/* Removes from the multi handle if active, then frees. */
void isync_http_free(isync_engine *e, isync_http *h);
/* Value of a response header (case-insensitive name), copied into out; NULL if absent or
 * longer than outsz (use isync_http_header_dup for values of any length). */
const char *isync_http_get_header(const isync_http *h, const char *name, char *out, size_t outsz);
/* The same, malloc'd, whatever its length; NULL if absent. */
char *isync_http_header_dup(const isync_http *h, const char *name);
/* curl's words for a transport failure of h, with a hint where the cause is plain: an
 * HTTPS request answered in plain HTTP ("wrong version number") names --plain-http. */
const char *isync_http_failure(const isync_http *h, char *out, size_t outsz);
/* Schedule a paused transfer to resume on the next loop turn (never from inside callbacks). */
void isync_http_unpause(isync_http *h);

/* Run fn after ms milliseconds on the engine thread. With job set, the timer owns one
 * reference to it, dropped if the engine stops before the timer fires (fn drops it otherwise). */
void isync_engine_timer(isync_engine *e, long ms, isync_engine_fn fn, void *arg);
void isync_engine_timer_job(isync_engine *e, long ms, isync_engine_fn fn, isync_job *job);
/* Mark a job finished: it is moved to the completion queue. */
void isync_engine_complete(isync_engine *e, isync_job *j);
/* Jobs waiting for a registry slot, engine-wide: any released slot re-scans them all. */
typedef struct { isync_job *head, *tail; } isync_job_queue;
isync_job_queue *isync_engine_pending(isync_engine *e);
/* Jobs running now, for cancellation at shutdown. */
void isync_engine_track(isync_engine *e, isync_job *j);
void isync_engine_untrack(isync_engine *e, isync_job *j);
int isync_engine_stopping(const isync_engine *e);

/* Blob bytes handed to uploads by every engine of the process (progress display). */
long long isync_bytes_uploaded(void);
void isync_count_uploaded(long long n);

#endif
