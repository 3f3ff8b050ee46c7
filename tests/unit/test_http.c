/* test_http.c - the HTTP loop (src/http) against a scripted server on 127.0.0.1: what a
 * request completes with, what is never sent, pausing, and the shutdown drain. The loop is
 * turned here, as the engine thread turns it. */
#include "http/http.h"
#include "unit.h"
#include "scripted.h"

/* What the done callbacks saw. */
typedef struct {
  int done, freed;
  long status;
  CURLcode cc;
  size_t body_len;
  int overflow;
  char body[64], header[64], err[CURL_ERROR_SIZE];
} seen;

static void seen_free(void *ctx) { ((seen *)ctx)->freed++; }

static void record_done(isync_http *h) {
  seen *s = h->ud;
  s->done++;
  s->status = h->status;
  s->cc = h->cc;
  s->body_len = h->body.len;
  s->overflow = h->body.overflow;
  snprintf(s->body, sizeof s->body, "%.*s", (int)(h->body.len < 63 ? h->body.len : 63), h->body.data ? h->body.data : "");
  if (!isync_http_get_header(h, "X-Test", s->header, sizeof s->header)) s->header[0] = '\0';
  snprintf(s->err, sizeof s->err, "%s", h->errbuf);
  isync_http_free(h);
}

static isync_http *request(const char *method, const char *path, seen *s) {
  char url[256];
  snprintf(url, sizeof url, "%s%s", SRV.origin, path);
  isync_http *h = isync_http_new(method, url);
  if (!h) return NULL;
  curl_easy_setopt(h->easy, CURLOPT_TIMEOUT, 10L);
  h->ud = s;
  h->done = record_done;
  h->ctx = s;   /* ctx_free tells when the request was freed, done or not */
  h->ctx_free = seen_free;
  return h;
}

/* Turns the loop until *flag is set or ms passed; 1 when it was set. */
static int turn_until(isync_http_loop *l, const int *flag, long ms) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!*flag && scripted_ms_since(&t0) < ms) {
    isync_http_loop_turn(l);
    if (!*flag) isync_http_loop_wait(l, 20);
  }
  return *flag;
}

TEST(a_plain_get_completes_with_status_body_and_headers) {
  REQUIRE(scripted_load("[{'method':'GET','path':'/hello','headers':{'X-Test':'yes'},'body':'hello world'}]") == 0);
  isync_http_loop *l = isync_http_loop_new();
  seen s = {0};
  isync_http *h = request("GET", "/hello", &s);
  REQUIRE(l && h);
  isync_http_start(l, h);
  CHECK_INT(isync_http_loop_count(l), 1);
  CHECK(turn_until(l, &s.done, 5000));
  CHECK_INT(s.done, 1);
  CHECK_INT(s.freed, 1);
  CHECK_INT(s.cc, CURLE_OK);
  CHECK_INT(s.status, 200);
  CHECK_STR(s.body, "hello world");
  CHECK_STR(s.header, "yes");
  CHECK_INT(isync_http_loop_count(l), 0);
  CHECK_INT(scripted_count("GET", "/hello", "rule=0 auth=none"), 1);
  isync_http_loop_free(l);
}

/* A header value from a remote document must not smuggle in another header: the request
 * is refused before anything reaches the network. */
TEST(a_header_value_with_cr_or_lf_is_refused_and_never_sent) {
  REQUIRE(scripted_load("[{'path':'/evil','body':'sent'},{'path':'/fine','body':'ok'}]") == 0);
  isync_http_loop *l = isync_http_loop_new();
  REQUIRE(l);
  const char *values[] = {"a\r\nX-Injected: b", "a\nX-Injected: b", "a\rb"};
  for (int i = 0; i < 3; i++) {
    seen s = {0};
    isync_http *h = request("GET", "/evil", &s);
    REQUIRE(h);
    isync_http_header(h, "X-Test: %s", values[i]);
    isync_http_start(l, h);
    CHECK(turn_until(l, &s.done, 5000));
    CHECK_INT(s.done, 1);
    CHECK_INT(s.cc, CURLE_BAD_FUNCTION_ARGUMENT);
    CHECK_INT(s.status, 0);
    CHECK(strstr(s.err, "line break") != NULL);
  }
  /* the server is there and logs what reaches it: a clean request does */
  seen ok = {0};
  isync_http *h = request("GET", "/fine", &ok);
  REQUIRE(h);
  isync_http_header(h, "X-Test: %s", "clean");
  isync_http_start(l, h);
  CHECK(turn_until(l, &ok.done, 5000));
  CHECK_INT(ok.status, 200);
  CHECK_INT(scripted_count("GET", "/fine", NULL), 1);
  CHECK_INT(scripted_count("GET", "/evil", NULL), 0);
  isync_http_loop_free(l);
}

TEST(a_body_over_its_cap_aborts_the_transfer_with_a_write_error) {
  REQUIRE(scripted_load("[{'path':'/big','body_size':100000,'chunks':4},{'path':'/cut','body_size':100000,'close_mid_body':true}]") == 0);
  isync_http_loop *l = isync_http_loop_new();
  seen s = {0};
  isync_http *h = request("GET", "/big", &s);
  REQUIRE(l && h);
  h->body.limit = 1000;
  isync_http_start(l, h);
  CHECK(turn_until(l, &s.done, 5000));
  CHECK_INT(s.cc, CURLE_WRITE_ERROR);
  CHECK(s.overflow);
  CHECK(s.body_len <= 1000);
  /* and a server closing mid-body is a partial file, not a short success */
  seen c = {0};
  h = request("GET", "/cut", &c);
  REQUIRE(h);
  isync_http_start(l, h);
  CHECK(turn_until(l, &c.done, 5000));
  CHECK_INT(c.cc, CURLE_PARTIAL_FILE);
  CHECK(c.body_len < 100000);
  isync_http_loop_free(l);
}

/* ---- pausing a streaming write ---- */

typedef struct {
  seen s;
  int pauses;
  size_t got;
  int bad_byte;
} stream;

static size_t paused_write(isync_http *h, const char *p, size_t n) {
  stream *st = h->ud;
  if (st->pauses == 0) { st->pauses++; return CURL_WRITEFUNC_PAUSE; }   /* the same bytes come again */
  for (size_t i = 0; i < n; i++) if (p[i] != 'x') st->bad_byte = 1;
  st->got += n;
  return n;
}

/* A writer that cannot take bytes now (a full ring) pauses; unpause resumes the same
 * transfer on the next turn, with nothing lost or repeated. */
TEST(a_paused_streaming_write_waits_and_resumes_on_unpause) {
  REQUIRE(scripted_load("[{'path':'/stream','body_size':200000,'chunks':4,'chunk_delay_ms':20}]") == 0);
  isync_http_loop *l = isync_http_loop_new();
  stream st = {0};
  isync_http *h = request("GET", "/stream", &st.s);
  REQUIRE(l && h);
  h->ud = &st;   /* seen is st's first member: record_done reads it */
  h->write_fn = paused_write;
  isync_http_start(l, h);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!st.pauses && scripted_ms_since(&t0) < 5000) { isync_http_loop_turn(l); isync_http_loop_wait(l, 20); }
  REQUIRE(st.pauses == 1);
  /* paused: turning the loop moves nothing */
  int never = 0;
  turn_until(l, &never, 300);
  CHECK_INT(st.s.done, 0);
  CHECK_INT(st.got, 0);
  isync_http_unpause(h);
  CHECK(turn_until(l, &st.s.done, 5000));
  CHECK_INT(st.s.cc, CURLE_OK);
  CHECK_INT(st.s.status, 200);
  CHECK_INT(st.got, 200000);
  CHECK(!st.bad_byte);
  isync_http_loop_free(l);
}

/* ---- the shutdown drain ---- */

/* At shutdown, a detached request (an upload's DELETE) gets one bounded moment to run;
 * the others are freed at once, their done never called (their owners are gone), even
 * one whose answer would come within the bound. */
TEST(drain_detached_runs_the_detached_within_its_bound_and_frees_the_rest_undone) {
  REQUIRE(scripted_load("[{'path':'/cleanup','stall_ms':200,'status':202},"
                        "{'path':'/owned','stall_ms':100},"
                        "{'path':'/stuck','stall_ms':20000}]") == 0);
  isync_http_loop *l = isync_http_loop_new();
  REQUIRE(l);
  seen cleanup = {0}, owned = {0}, stuck = {0};
  isync_http *a = request("DELETE", "/cleanup", &cleanup);
  isync_http *b = request("GET", "/owned", &owned);
  isync_http *c = request("DELETE", "/stuck", &stuck);
  REQUIRE(a && b && c);
  a->detached = 1;
  c->detached = 1;
  isync_http_start(l, a);
  isync_http_start(l, b);
  isync_http_start(l, c);
  /* all three reach the server before the drain starts */
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (scripted_count(NULL, NULL, NULL) < 3 && scripted_ms_since(&t0) < 5000) { isync_http_loop_turn(l); isync_http_loop_wait(l, 20); }
  REQUIRE(scripted_count(NULL, NULL, NULL) == 3);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  isync_http_loop_drain_detached(l, 1000);
  long took = scripted_ms_since(&t0);
  CHECK_INT(cleanup.done, 1);
  CHECK_INT(cleanup.status, 202);
  CHECK_INT(owned.done, 0);
  CHECK_INT(owned.freed, 1);
  CHECK_INT(stuck.done, 0);   /* out of time: freed, not completed */
  CHECK_INT(stuck.freed, 1);
  CHECK_INT(isync_http_loop_count(l), 0);
  CHECK(took >= 900);   /* the stuck one held it to the bound ... */
  CHECK(took < 2000);   /* ... and no longer */
  isync_http_loop_free(l);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (scripted_start() != 0) { printf("not ok 1 - scripted_http.py starts\n1..1\n"); return 1; }
  RUN(a_plain_get_completes_with_status_body_and_headers);
  RUN(a_header_value_with_cr_or_lf_is_refused_and_never_sent);
  RUN(a_body_over_its_cap_aborts_the_transfer_with_a_write_error);
  RUN(a_paused_streaming_write_waits_and_resumes_on_unpause);
  RUN(drain_detached_runs_the_detached_within_its_bound_and_frees_the_rest_undone);
  scripted_stop();
  curl_global_cleanup();
  return unit_done();
}
