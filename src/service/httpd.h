/* httpd.h - isync serve's HTTP endpoint (libmicrohttpd): registry webhooks in, metrics
 * and health out. No Lua: MHD's threads never see the Lua state. A webhook that passes
 * the shared-secret check is copied onto a mutex-protected queue and an eventfd is
 * signalled; the owner (the Lua thread) takes the queue when it likes. /metrics serves a
 * text snapshot the owner hands over, plus the counters only this file knows (requests
 * by outcome, queue depth); /healthz answers from a flag and a heartbeat the owner sets.
 *
 * Routes: POST /webhook (202, 401 without the secret, 413 too large, 503 queue full),
 * GET /metrics, GET /healthz (200 healthy, 503 not); anything else 404 or 405. */
#ifndef ISYNC_HTTPD_H
#define ISYNC_HTTPD_H
#include <stddef.h>

typedef struct isync_httpd isync_httpd;

typedef struct isync_httpd_opts {
  const char *address;     /* numeric IPv4 or IPv6 address to bind ("127.0.0.1", "::") */
  int port;                /* 0: the kernel picks one (isync_httpd_port says which) */
  const char *secret;      /* the Authorization header must be it or "Bearer <it>"; NULL:
                              no webhook endpoint (404). Only its hash is kept. */
  size_t max_body;         /* larger webhook bodies get 413 (0: 1 MiB) */
  size_t max_queue;        /* more queued events get 503 (0: 10000) */
  double stale_after;      /* /healthz is 503 when the heartbeat is older (0: 60 s) */
} isync_httpd_opts;

/* One accepted webhook: its path and body, and when it arrived (CLOCK_MONOTONIC s). */
typedef struct isync_httpd_event {
  char *path;
  char *body;
  size_t len;
  double received;
  struct isync_httpd_event *next;
} isync_httpd_event;

/* Starts the server's threads (with every signal blocked). NULL and a message in err
 * when the address is invalid or cannot be bound. */
isync_httpd *isync_httpd_start(const isync_httpd_opts *o, char *err, size_t errsz);
/* Stops the threads, then frees everything, queued events too. */
void isync_httpd_stop(isync_httpd *h);

int isync_httpd_port(const isync_httpd *h);
/* An eventfd, readable while events are queued. */
int isync_httpd_fd(const isync_httpd *h);

/* Every queued event, oldest first (NULL: none); the caller frees the list. */
isync_httpd_event *isync_httpd_take(isync_httpd *h);
void isync_httpd_events_free(isync_httpd_event *ev);

/* The metrics text /metrics serves before its own lines (copied). -1 out of memory. */
int isync_httpd_set_metrics(isync_httpd *h, const char *text, size_t len);
/* /healthz: ok or not, and why (copied; shown in the body). */
void isync_httpd_set_health(isync_httpd *h, int ok, const char *why);
/* The owner is alive: /healthz fails once this is older than stale_after. */
void isync_httpd_heartbeat(isync_httpd *h);
/* Events taken but not yet synced: counted in the queue depth gauge. */
void isync_httpd_set_inflight(isync_httpd *h, long n);

/* 1 when header (an Authorization value) is secret or "Bearer secret", in time that does
 * not depend on where they differ; secret_hash is isync_digest_of(secret). */
int isync_httpd_authorized(const char *header, const char *secret_hash);

#endif
