/* httpd.c - isync serve's HTTP endpoint on libmicrohttpd (see httpd.h). MHD runs its own
 * polling thread; everything it shares with the owner is behind one mutex or atomic. */
#include "service/httpd.h"
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "util/buf.h"
#include "util/digest.h"

enum { R_ACCEPTED, R_UNAUTHORIZED, R_TOO_LARGE, R_QUEUE_FULL, R_REJECTED, R_COUNT };
static const char *const result_names[R_COUNT] = {"accepted", "unauthorized", "too_large", "queue_full", "rejected"};

struct isync_httpd {
  struct MHD_Daemon *d;
  int port, efd;
  char secret_hash[ISYNC_DIGEST_MAX];
  int has_secret;
  size_t max_body, max_queue;
  double stale_after;
  pthread_mutex_t mu;                 /* guards the queue, the snapshot and the health text */
  isync_httpd_event *head, *tail;
  size_t queued;
  char *metrics;
  size_t metrics_len;
  int healthy;
  char *why;
  atomic_llong heartbeat_ms;
  atomic_long inflight;
  atomic_long results[R_COUNT];
};

/* One request's state across MHD's calls (a webhook body arrives in pieces). */
typedef struct {
  int authorized;
  isync_buf body;
} request;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int isync_httpd_authorized(const char *header, const char *secret_hash) {
  if (!header || !secret_hash) return 0;
  /* Compare hashes, not the values: the time spent says nothing about the secret's length
   * or the first byte that differs. Both forms are always checked. */
  char a[ISYNC_DIGEST_MAX], b[ISYNC_DIGEST_MAX];
  isync_digest_of(header, strlen(header), NULL, a);
  const char *rest = strncmp(header, "Bearer ", 7) == 0 ? header + 7 : header;
  isync_digest_of(rest, strlen(rest), NULL, b);
  volatile unsigned char diff_a = 0, diff_b = 0;
  for (size_t i = 0; i < ISYNC_DIGEST_MAX; i++) {
    diff_a |= (unsigned char)(a[i] ^ secret_hash[i]);
    diff_b |= (unsigned char)(b[i] ^ secret_hash[i]);
    if (!secret_hash[i]) break;   /* the hash's length is public */
  }
  return diff_a == 0 || diff_b == 0;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *type, const char *body, size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (code == MHD_HTTP_UNAUTHORIZED) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"isync\"");
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code, const char *msg) {
  return respond(c, code, "text/plain; charset=utf-8", msg, strlen(msg));
}

static enum MHD_Result serve_metrics(isync_httpd *h, struct MHD_Connection *c) {
  isync_buf b;
  isync_buf_init(&b, 0);
  pthread_mutex_lock(&h->mu);
  int bad = h->metrics ? isync_buf_append(&b, h->metrics, h->metrics_len) : 0;
  long depth = (long)h->queued;
  pthread_mutex_unlock(&h->mu);
  depth += atomic_load(&h->inflight);
  bad |= isync_buf_appendf(&b,
                           "# HELP isync_webhook_queue_depth Webhook events received and not yet synced.\n"
                           "# TYPE isync_webhook_queue_depth gauge\nisync_webhook_queue_depth %ld\n"
                           "# HELP isync_webhook_requests_total Webhook requests by outcome.\n"
                           "# TYPE isync_webhook_requests_total counter\n",
                           depth);
  for (int i = 0; i < R_COUNT; i++)
    bad |= isync_buf_appendf(&b, "isync_webhook_requests_total{result=\"%s\"} %ld\n", result_names[i], atomic_load(&h->results[i]));
  enum MHD_Result r = bad ? text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n")
                          : respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
  isync_buf_free(&b);
  return r;
}

static enum MHD_Result serve_health(isync_httpd *h, struct MHD_Connection *c) {
  double age = now_s() - (double)atomic_load(&h->heartbeat_ms) / 1000;
  char msg[512];
  pthread_mutex_lock(&h->mu);
  int ok = h->healthy && age <= h->stale_after;
  if (h->healthy && !ok) snprintf(msg, sizeof msg, "stalled: no heartbeat for %.0f s\n", age);
  else snprintf(msg, sizeof msg, "%s\n", h->why ? h->why : (ok ? "ok" : "unhealthy"));
  pthread_mutex_unlock(&h->mu);
  return text(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, msg);
}

/* The end of a webhook: queue it (the body and its path are copied out of MHD). */
static enum MHD_Result finish_webhook(isync_httpd *h, struct MHD_Connection *c, const char *url, request *rq) {
  if (!rq->authorized) {
    atomic_fetch_add(&h->results[R_UNAUTHORIZED], 1);
    return text(c, MHD_HTTP_UNAUTHORIZED, "the Authorization header does not carry the shared secret\n");
  }
  if (rq->body.overflow) {
    atomic_fetch_add(&h->results[R_TOO_LARGE], 1);
    return text(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
  }
  isync_httpd_event *ev = calloc(1, sizeof *ev);
  if (!ev || !(ev->path = strdup(url))) { free(ev); return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n"); }
  ev->len = rq->body.len;
  ev->body = isync_buf_steal(&rq->body);
  ev->received = now_s();
  pthread_mutex_lock(&h->mu);
  int full = h->queued >= h->max_queue;
  if (!full) {
    if (h->tail) h->tail->next = ev; else h->head = ev;
    h->tail = ev;
    h->queued++;
  }
  pthread_mutex_unlock(&h->mu);
  if (full) {
    isync_httpd_events_free(ev);
    atomic_fetch_add(&h->results[R_QUEUE_FULL], 1);
    return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "queue full, try again later\n");
  }
  uint64_t one = 1;
  if (write(h->efd, &one, sizeof one) < 0) { /* the counter is full: already readable */ }
  atomic_fetch_add(&h->results[R_ACCEPTED], 1);
  return text(c, MHD_HTTP_ACCEPTED, "queued\n");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state) {
  (void)version;
  isync_httpd *h = cls;
  int webhook = strcmp(url, "/webhook") == 0 && h->has_secret;
  if (webhook && strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
    request *rq = *state;
    if (!rq) {   /* headers only: check the secret before any body is read */
      if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
      isync_buf_init(&rq->body, h->max_body);
      rq->authorized = isync_httpd_authorized(
          MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), h->secret_hash);
      *state = rq;
      return MHD_YES;
    }
    if (*upload_size) {   /* a refused request's body is read and dropped */
      if (rq->authorized && !rq->body.overflow) isync_buf_append(&rq->body, upload, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
    return finish_webhook(h, c, url, rq);
  }
  int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  if (webhook || ((strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0) && !get)) {
    atomic_fetch_add(&h->results[R_REJECTED], webhook);
    return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
  }
  if (strcmp(url, "/metrics") == 0) return serve_metrics(h, c);
  if (strcmp(url, "/healthz") == 0) return serve_health(h, c);
  return text(c, MHD_HTTP_NOT_FOUND, "not found (routes: POST /webhook, GET /metrics, GET /healthz)\n");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why) {
  (void)cls, (void)c, (void)why;
  request *rq = *state;
  if (!rq) return;
  isync_buf_free(&rq->body);
  free(rq);
  *state = NULL;
}

isync_httpd *isync_httpd_start(const isync_httpd_opts *o, char *err, size_t errsz) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  const char *addr = o->address && *o->address ? o->address : "127.0.0.1";
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
  if (o->port < 0 || o->port > 65535) { snprintf(err, errsz, "port %d out of range", o->port); return NULL; }
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)o->port);
  } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)o->port);
    flags |= MHD_USE_IPv6;
  } else {
    snprintf(err, errsz, "listen address '%.100s' is not a numeric IPv4 or IPv6 address", addr);
    return NULL;
  }
  isync_httpd *h = calloc(1, sizeof *h);
  if (!h) { snprintf(err, errsz, "out of memory"); return NULL; }
  h->max_body = o->max_body ? o->max_body : 1 << 20;
  h->max_queue = o->max_queue ? o->max_queue : 10000;
  h->stale_after = o->stale_after > 0 ? o->stale_after : 60;
  h->healthy = 1;
  if (o->secret) { isync_digest_of(o->secret, strlen(o->secret), NULL, h->secret_hash); h->has_secret = 1; }
  atomic_store(&h->heartbeat_ms, (long long)(now_s() * 1000));
  pthread_mutex_init(&h->mu, NULL);
  h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (h->efd < 0) { snprintf(err, errsz, "eventfd: %s", strerror(errno)); isync_httpd_stop(h); return NULL; }
  /* MHD's threads inherit this mask: signals stay with the Lua thread (Ctrl-C) */
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  h->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, h,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                          MHD_OPTION_END);
  int start_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (!h->d) {
    snprintf(err, errsz, "cannot listen on %s%s%s:%d: %s", strchr(addr, ':') ? "[" : "", addr,
             strchr(addr, ':') ? "]" : "", o->port, start_errno ? strerror(start_errno) : "libmicrohttpd failed to start");
    isync_httpd_stop(h);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info ? info->port : o->port;
  return h;
}

void isync_httpd_stop(isync_httpd *h) {
  if (!h) return;
  if (h->d) MHD_stop_daemon(h->d);
  if (h->efd >= 0) close(h->efd);
  isync_httpd_events_free(h->head);
  free(h->metrics);
  free(h->why);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

int isync_httpd_port(const isync_httpd *h) { return h->port; }
int isync_httpd_fd(const isync_httpd *h) { return h->efd; }

isync_httpd_event *isync_httpd_take(isync_httpd *h) {
  uint64_t n;
  if (read(h->efd, &n, sizeof n) < 0) { /* EAGAIN: nothing signalled */ }
  pthread_mutex_lock(&h->mu);
  isync_httpd_event *ev = h->head;
  h->head = h->tail = NULL;
  h->queued = 0;
  pthread_mutex_unlock(&h->mu);
  return ev;
}

void isync_httpd_events_free(isync_httpd_event *ev) {
  while (ev) {
    isync_httpd_event *next = ev->next;
    free(ev->path);
    free(ev->body);
    free(ev);
    ev = next;
  }
}

int isync_httpd_set_metrics(isync_httpd *h, const char *text_, size_t len) {
  char *copy = malloc(len + 1);
  if (!copy) return -1;
  memcpy(copy, text_, len);
  copy[len] = '\0';
  pthread_mutex_lock(&h->mu);
  char *old = h->metrics;
  h->metrics = copy;
  h->metrics_len = len;
  pthread_mutex_unlock(&h->mu);
  free(old);
  return 0;
}

void isync_httpd_set_health(isync_httpd *h, int ok, const char *why) {
  char *copy = why ? strdup(why) : NULL;
  pthread_mutex_lock(&h->mu);
  char *old = h->why;
  h->healthy = ok;
  h->why = copy;
  pthread_mutex_unlock(&h->mu);
  free(old);
}

void isync_httpd_heartbeat(isync_httpd *h) { atomic_store(&h->heartbeat_ms, (long long)(now_s() * 1000)); }
void isync_httpd_set_inflight(isync_httpd *h, long n) { atomic_store(&h->inflight, n); }
