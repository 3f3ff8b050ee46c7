/* http.h - HTTP exchanges on a curl multi handle (no Lua, no registries, no jobs).
 *
 * A loop owns the multi handle and every request started on it; whoever owns the loop
 * (the engine thread) turns it. A finished request is handed to its done callback, which
 * owns it from then on and frees it. Nothing here is thread-safe except
 * isync_http_loop_wakeup. */
#ifndef ISYNC_HTTP_H
#define ISYNC_HTTP_H
#include <curl/curl.h>
#include "util/buf.h"

typedef struct isync_http_loop isync_http_loop;
typedef struct isync_http isync_http;

/* One HTTP exchange. */
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
  isync_buf send_owned;     /* or owned here (wiped when freed): send_data points into it */
  size_t send_len, send_off;
  /* streaming hooks: return like curl's callbacks (CURL_WRITEFUNC_PAUSE, CURL_READFUNC_PAUSE...) */
  size_t (*write_fn)(isync_http *h, const char *p, size_t n);
  size_t (*read_fn)(isync_http *h, char *p, size_t n);
  void (*done)(isync_http *h);   /* the request finished (or was refused): done owns it now */
  void *ud;                 /* the caller's */
  void *ctx;                /* the caller's, freed with ctx_free when the request is freed */
  void (*ctx_free)(void *ctx);
  isync_http **owner;       /* cleared when this request is freed (a holder's pointer to it) */
  int detached;             /* cleanup that outlives its caller (an upload DELETE): at
                               shutdown it gets a bounded moment to run */
  /* the loop's */
  isync_http_loop *loop;
  int active;               /* on the multi handle */
  int bad_header;           /* a header value held CR/LF: the request is refused */
  int want_unpause;
  isync_http *next_unpause, *next_refused;
  isync_http *live_prev, *live_next;
};

isync_http_loop *isync_http_loop_new(void);
/* Frees every request still on the loop (their done callbacks never run), then the loop. */
void isync_http_loop_free(isync_http_loop *l);
/* Any thread: interrupt a isync_http_loop_wait. */
void isync_http_loop_wakeup(isync_http_loop *l);
/* One turn: resume paused transfers, move every transfer along, hand finished (and
 * refused) requests to their done callbacks. */
void isync_http_loop_turn(isync_http_loop *l);
/* Waits up to ms for network activity or a wakeup; returns at once when a turn has work
 * that needs no waiting (unpauses, refusals). */
void isync_http_loop_wait(isync_http_loop *l, long ms);
/* Shutdown: frees every request that is not detached, then turns the loop until the
 * detached ones have finished or ms passed, then frees what is left. */
void isync_http_loop_drain_detached(isync_http_loop *l, long ms);
/* Requests on the loop that have not been freed. */
int isync_http_loop_count(const isync_http_loop *l);

/* Creates a request for method+url: redirects bounded, credentials never sent on to
 * another host, http/https only. NULL when out of memory. */
isync_http *isync_http_new(const char *method, const char *url);
/* Adds a request header; a value holding CR or LF refuses the request (it completes with
 * CURLE_BAD_FUNCTION_ARGUMENT instead of being sent). */
void isync_http_header(isync_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void isync_http_start(isync_http_loop *l, isync_http *h);
/* Takes it off the loop if it runs there, then frees it (NULL is fine). */
void isync_http_free(isync_http *h);
/* Value of a response header (case-insensitive name), copied into out; NULL if absent or
 * longer than outsz (use isync_http_header_dup for values of any length). */
const char *isync_http_get_header(const isync_http *h, const char *name, char *out, size_t outsz);
/* The same, malloc'd, whatever its length; NULL if absent. */
char *isync_http_header_dup(const isync_http *h, const char *name);
/* The URL the request ended on after redirects (its own URL when none). */
const char *isync_http_effective_url(const isync_http *h);
/* curl's words for a transport failure of h, with a hint where the cause is plain: an
 * HTTPS request answered in plain HTTP ("wrong version number") names --plain-http. */
const char *isync_http_failure(const isync_http *h, char *out, size_t outsz);
/* Resume a paused transfer on the next turn (never from inside curl's callbacks). */
void isync_http_unpause(isync_http *h);
/* 1 when the transfer ended with the expected status and no transport failure. */
int isync_http_ok(const isync_http *h, long want);

#endif
