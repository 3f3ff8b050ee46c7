/* http.c - HTTP exchanges on one curl multi handle: requests, their callbacks, the loop. */
#include "http/http.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct isync_http_loop {
  CURLM *multi;
  isync_http *live;       /* every request started and not yet freed */
  isync_http *unpause;    /* paused transfers to resume on the next turn */
  isync_http *refused;    /* requests refused before sending: completed on the next turn */
  int nlive;
};

static size_t write_cb(char *p, size_t sz, size_t nm, void *ud) {
  isync_http *h = ud;
  size_t n = sz * nm;
  if (h->write_fn) return h->write_fn(h, p, n);
  if (isync_buf_append(&h->body, p, n) != 0) return 0;   /* over the cap: abort the transfer */
  return n;
}

static size_t read_cb(char *p, size_t sz, size_t nm, void *ud) {
  isync_http *h = ud;
  size_t n = sz * nm;
  if (h->read_fn) return h->read_fn(h, p, n);
  size_t left = h->send_len - h->send_off;
  if (n > left) n = left;
  memcpy(p, (const char *)h->send_data + h->send_off, n);
  h->send_off += n;
  return n;
}

static size_t header_cb(char *p, size_t sz, size_t nm, void *ud) {
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
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
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

void isync_http_start(isync_http_loop *l, isync_http *h) {
  CURL *c = h->easy;
  if (!h->loop) {
    h->live_next = l->live;
    if (l->live) l->live->live_prev = h;
    l->live = h;
    h->loop = l;
    l->nlive++;
  }
  if (h->bad_header) {   /* completes like a failed transfer, on the next turn */
    h->next_refused = l->refused;
    l->refused = h;
    return;
  }
  int has_body = h->read_fn || h->send_data;
  if (has_body) {
    /* POST/PUT/PATCH with a body: feed it through the read callback */
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
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
  curl_multi_add_handle(l->multi, c);
}

static void unlink_from(isync_http **list, isync_http *h, size_t next_off) {
  for (isync_http **pp = list; *pp; pp = (isync_http **)((char *)*pp + next_off))
    if (*pp == h) { *pp = *(isync_http **)((char *)h + next_off); return; }
}

void isync_http_free(isync_http *h) {
  if (!h) return;
  isync_http_loop *l = h->loop;
  if (l) {
    if (h->active) curl_multi_remove_handle(l->multi, h->easy);
    if (h->live_prev) h->live_prev->live_next = h->live_next; else if (l->live == h) l->live = h->live_next;
    if (h->live_next) h->live_next->live_prev = h->live_prev;
    l->nlive--;
    unlink_from(&l->unpause, h, offsetof(isync_http, next_unpause));
    unlink_from(&l->refused, h, offsetof(isync_http, next_refused));
  }
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

const char *isync_http_effective_url(const isync_http *h) {
  char *eff = NULL;
  curl_easy_getinfo(h->easy, CURLINFO_EFFECTIVE_URL, &eff);
  return eff ? eff : h->url;
}

const char *isync_http_failure(const isync_http *h, char *out, size_t outsz) {
  const char *words = h->errbuf[0] ? h->errbuf : curl_easy_strerror(h->cc);
  int plain = h->cc == CURLE_SSL_CONNECT_ERROR && strstr(words, "wrong version number");
  snprintf(out, outsz, "%s%s", words, plain ? " (this registry speaks plain HTTP: use --plain-http)" : "");
  return out;
}

int isync_http_ok(const isync_http *h, long want) { return h->cc == CURLE_OK && h->status == want; }

void isync_http_unpause(isync_http *h) {
  isync_http_loop *l = h->loop;
  if (!l || h->want_unpause || !h->active) return;
  h->want_unpause = 1;
  h->next_unpause = l->unpause;
  l->unpause = h;
}

/* ---------------- the loop ---------------- */

isync_http_loop *isync_http_loop_new(void) {
  isync_http_loop *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->multi = curl_multi_init();
  if (!l->multi) { free(l); return NULL; }
  /* connection reuse across registries: a generous pool; per-registry caps are the engine's */
  curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 256L);
  return l;
}

void isync_http_loop_free(isync_http_loop *l) {
  if (!l) return;
  while (l->live) isync_http_free(l->live);
  curl_multi_cleanup(l->multi);
  free(l);
}

void isync_http_loop_wakeup(isync_http_loop *l) { curl_multi_wakeup(l->multi); }

int isync_http_loop_count(const isync_http_loop *l) { return l->nlive; }

void isync_http_loop_turn(isync_http_loop *l) {
  while (l->unpause) {
    isync_http *h = l->unpause;
    l->unpause = h->next_unpause;
    h->want_unpause = 0;
    h->next_unpause = NULL;
    curl_easy_pause(h->easy, CURLPAUSE_CONT);
  }
  int running = 0;
  curl_multi_perform(l->multi, &running);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(l->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    isync_http *h = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&h);
    CURLcode cc = m->data.result;
    curl_multi_remove_handle(l->multi, m->easy_handle);
    h->active = 0;
    h->cc = cc;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->status);
    h->done(h);
  }
  while (l->refused) {
    isync_http *h = l->refused;
    l->refused = h->next_refused;
    h->next_refused = NULL;
    h->cc = CURLE_BAD_FUNCTION_ARGUMENT;
    snprintf(h->errbuf, sizeof h->errbuf, "refused to send a header value holding a line break");
    h->done(h);
  }
}

void isync_http_loop_wait(isync_http_loop *l, long ms) {
  if (l->unpause || l->refused || ms <= 0) return;
  curl_multi_poll(l->multi, NULL, 0, (int)ms, NULL);
}

static long ms_since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

void isync_http_loop_drain_detached(isync_http_loop *l, long ms) {
  for (isync_http *h = l->live, *next; h; h = next) {
    next = h->live_next;
    if (!h->detached) isync_http_free(h);
  }
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long left;
  while (l->live && (left = ms - ms_since(&t0)) > 0) {
    isync_http_loop_turn(l);
    if (l->live) curl_multi_poll(l->multi, NULL, 0, (int)(left < 100 ? left : 100), NULL);
  }
  while (l->live) isync_http_free(l->live);
}
