/* test_request.c - registry operations on the engine thread against a scripted server:
 * URLs a registry names (Link, Location) and where they may lead, stopping the engine under
 * stalled requests and pending auth, connection slots, and timers. */
#include "registry/auth.h"
#include "unit.h"
#include "scripted.h"

#define OPEN_V2 "{'method':'GET','path':'/v2/','json':{}}"

/* Pages on the registry's own origin are followed (a relative Link too). */
TEST(a_next_page_on_the_registry_is_followed) {
  REQUIRE(scripted_load("[" OPEN_V2 ",{'method':'GET','path':'/v2/r/tags/list','query':'last=a','json':{'tags':['b']}},"
                        "{'method':'GET','path':'/v2/r/tags/list','json':{'tags':['a']},"
                        "  'headers':{'Link':'</v2/r/tags/list?last=a>; rel=\\\"next\\\"'}}]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry(NULL, NULL, 4);
  REQUIRE(e && r);
  isync_op *op = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, op));
  CHECK(op->job.ok);
  CHECK_INT(op->nlist, 2);
  if (op->nlist == 2) { CHECK_STR(op->list[0], "a"); CHECK_STR(op->list[1], "b"); }
  CHECK_INT(scripted_count("GET", "/v2/r/tags/list", NULL), 2);
  isync_job_unref(&op->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* A Link to another origin (the cloud metadata address, an internal host) is refused
 * before any connection is made to it. */
TEST(a_next_page_on_another_origin_is_refused_before_any_connection) {
  REQUIRE(scripted_load("[" OPEN_V2 ",{'method':'GET','path':'/v2/r/tags/list','listener':'main','json':{'tags':['a']},"
                        "  'headers':{'Link':'<{origin2}/v2/r/tags/list?last=a>; rel=\\\"next\\\"'}},"
                        "{'listener':'other','json':{'tags':['stolen']}}]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry(NULL, NULL, 4);
  REQUIRE(e && r);
  isync_op *op = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, op));
  CHECK(!op->job.ok);
  CHECK_STR(op->job.code, "PROTOCOL");
  char origin2[80];
  snprintf(origin2, sizeof origin2, "127.0.0.1:%d", SRV.port2);
  CHECK(op->job.err && strstr(op->job.err, "next page") && strstr(op->job.err, origin2));
  CHECK_INT(scripted_count(NULL, NULL, "listener=other"), 0);
  CHECK_INT(scripted_count("GET", "/v2/r/tags/list", "listener=main"), 1);
  isync_job_unref(&op->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* An upload session on another origin: refused the same way, the body never sent there. */
TEST(an_upload_location_on_another_origin_is_refused_before_any_connection) {
  REQUIRE(scripted_load("[" OPEN_V2 ",{'method':'POST','path':'/v2/r/blobs/uploads/','listener':'main','status':202,"
                        "  'headers':{'Location':'{origin2}/upload/1'}},"
                        "{'listener':'other','status':201}]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry(NULL, NULL, 4);
  REQUIRE(e && r);
  isync_op *op = scripted_op("blob_put", r, "repo", "r", "data", "layer bytes", NULL);
  REQUIRE(scripted_run(e, op));
  CHECK(!op->job.ok);
  CHECK_STR(op->job.code, "PROTOCOL");
  CHECK(op->job.err && strstr(op->job.err, "upload Location"));
  CHECK_INT(scripted_count("POST", "/v2/r/blobs/uploads/", NULL), 1);
  CHECK_INT(scripted_count(NULL, NULL, "listener=other"), 0);
  isync_job_unref(&op->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* A mount the registry answered with an upload session: the session's DELETE is fired
 * and forgotten, and it outlives its job. It holds the registry (whose CA bundle curl
 * reads in place) until it ends: the job and the caller may drop theirs at once. */
TEST(a_fired_delete_holds_its_registry_until_it_ends) {
  REQUIRE(scripted_load("[" OPEN_V2 ",{'method':'POST','path':'/v2/r/blobs/uploads/','status':202,"
                        "  'headers':{'Location':'/v2/r/blobs/uploads/s1'}},"
                        "{'method':'DELETE','path':'/v2/r/blobs/uploads/s1','status':204,'stall_ms':400}]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry(NULL, NULL, 4);
  REQUIRE(e && r);
  isync_op *op = scripted_op("blob_mount", r, "repo", "r", "from", "other",
                             "digest", "sha256:0000000000000000000000000000000000000000000000000000000000000000", NULL);
  REQUIRE(scripted_run(e, op));
  CHECK(op->job.ok);
  CHECK(!op->exists);
  isync_job_unref(&op->job);
  REQUIRE(scripted_wait_for("DELETE", "/v2/r/blobs/uploads/s1", 1, 5000));
  CHECK_INT(atomic_load(&r->refs), 2);   /* the test's and the DELETE's */
  for (int i = 0; i < 300 && atomic_load(&r->refs) > 1; i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
  CHECK_INT(atomic_load(&r->refs), 1);   /* given back when it ended */
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* ---- stopping ---- */

/* A registry that stops answering mid-listing: stop ends the job CANCELED at once (its
 * request is not detached: nothing waits for it), and the registry serves a later engine
 * (its one slot was given back). */
TEST(stop_ends_a_job_on_a_stalled_server_canceled_within_the_bound) {
  REQUIRE(scripted_load("[" OPEN_V2 ",{'method':'GET','path':'/v2/r/tags/list','stall_ms':30000}]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry(NULL, NULL, 1);
  REQUIRE(e && r);
  isync_op *op = scripted_tags(r, "r");
  REQUIRE(op && isync_job_submit(e, &op->job) == 0);
  REQUIRE(scripted_wait_for("GET", "/v2/r/tags/list", 1, 5000));
  CHECK(!atomic_load(&op->job.done));
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  isync_engine_stop(e);
  long took = scripted_ms_since(&t0);
  CHECK(took < 1500);   /* well inside the 3 s cleanup bound: no detached request here */
  CHECK(atomic_load(&op->job.done));
  CHECK(!op->job.ok);
  CHECK_STR(op->job.code, "CANCELED");
  CHECK_INT(r->meta_slots.active, 0);
  isync_job_unref(&op->job);

  REQUIRE(scripted_load("[" OPEN_V2 ",{'method':'GET','path':'/v2/r/tags/list','json':{'tags':['a']}}]") == 0);
  e = scripted_engine();
  REQUIRE(e);
  isync_op *later = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, later));
  CHECK(later->job.ok);
  isync_job_unref(&later->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* Jobs waiting on a token fetch that never ends, or on a /v2/ probe that never ends: stop
 * ends them CANCELED and drops the waiters (each holds a job reference: under ASan a
 * waiter left behind is a leak), and a later engine fetches afresh. */
TEST(stop_drops_jobs_waiting_for_auth_and_a_later_engine_starts_clean) {
  REQUIRE(scripted_load("[{'method':'GET','path':'/v2/','status':401,"
                        "  'headers':{'WWW-Authenticate':'Bearer realm=\\\"{origin}/token\\\",service=\\\"reg\\\"'}},"
                        "{'method':'GET','path':'/token','stall_ms':30000}]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry("alice", "pw-waiters", 8);
  REQUIRE(e && r);
  enum { N = 3 };
  isync_op *ops[N];
  for (int i = 0; i < N; i++) {
    ops[i] = scripted_tags(r, "r");
    REQUIRE(ops[i] && isync_job_submit(e, &ops[i]->job) == 0);
  }
  REQUIRE(scripted_wait_for("GET", "/token", 1, 5000));
  isync_engine_stop(e);
  for (int i = 0; i < N; i++) {
    CHECK(atomic_load(&ops[i]->job.done));
    CHECK_STR(ops[i]->job.code, "CANCELED");
    isync_job_unref(&ops[i]->job);
  }
  REQUIRE(r->tokens);
  CHECK(r->tokens->waiters == NULL);
  CHECK_INT(r->tokens->fetching, 0);
  CHECK_INT(scripted_count("GET", "/token", NULL), 1);

  /* a probe that never answers: its waiters go the same way */
  REQUIRE(scripted_load("[{'method':'GET','path':'/v2/','stall_ms':30000}]") == 0);
  isync_registry *r2 = scripted_registry(NULL, NULL, 8);
  e = scripted_engine();
  REQUIRE(e && r2);
  isync_op *probing = scripted_tags(r2, "r");
  REQUIRE(probing && isync_job_submit(e, &probing->job) == 0);
  REQUIRE(scripted_wait_for("GET", "/v2/", 1, 5000));
  isync_engine_stop(e);
  CHECK_STR(probing->job.code, "CANCELED");
  CHECK(r2->ping_waiters == NULL);
  CHECK_INT(r2->auth_state, ISYNC_AUTH_UNKNOWN);   /* not stuck "pinging" */
  isync_job_unref(&probing->job);

  /* both registries serve the next engine */
  REQUIRE(scripted_load("[{'method':'GET','path':'/v2/','auth':'none','status':401,"
                        "  'headers':{'WWW-Authenticate':'Bearer realm=\\\"{origin}/token\\\",service=\\\"reg\\\"'}},"
                        "{'method':'GET','path':'/token','json':{'token':'T','expires_in':300}},"
                        "{'method':'GET','path':'/v2/r/tags/list','bearer':'T','json':{'tags':['a']}}]") == 0);
  e = scripted_engine();
  REQUIRE(e);
  isync_op *a = scripted_tags(r, "r"), *b = scripted_tags(r2, "r");
  REQUIRE(scripted_run(e, a));
  REQUIRE(scripted_run(e, b));
  CHECK(a->job.ok);
  CHECK(b->job.ok);
  CHECK_INT(scripted_count("GET", "/token", NULL), 2);   /* one per registry */
  isync_job_unref(&a->job);
  isync_job_unref(&b->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
  isync_registry_unref(r2);
}

/* ---- slots and timers ---- */

/* max_connections=2: six listings against a slow server are never more than two requests
 * at the server at once (and two do run together). */
TEST(max_connections_bounds_the_requests_in_flight_at_the_server) {
  REQUIRE(scripted_load("[" OPEN_V2 ",{'method':'GET','path_prefix':'/v2/r','stall_ms':150,'json':{'tags':['a']}}]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry(NULL, NULL, 2);
  REQUIRE(e && r);
  enum { N = 6 };
  isync_op *ops[N];
  for (int i = 0; i < N; i++) {
    char repo[16];
    snprintf(repo, sizeof repo, "r%d", i);
    ops[i] = scripted_tags(r, repo);
    REQUIRE(ops[i] && isync_job_submit(e, &ops[i]->job) == 0);
  }
  for (int i = 0; i < N; i++) {
    CHECK(isync_engine_wait_job(e, &ops[i]->job, 10000));
    CHECK(ops[i]->job.ok);
  }
  CHECK_INT(scripted_count(NULL, NULL, "rule=1"), N);
  CHECK_INT(scripted_max_conc(), 2);
  CHECK_INT(r->meta_slots.active, 0);
  for (int i = 0; i < N; i++) isync_job_unref(&ops[i]->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* The sleep operation is a timer of the engine: each ends after its time (not in its last
 * millisecond: the wait before a timer and its due check both round the same way), in time order,
 * while the engine keeps serving other jobs. */
TEST(sleep_jobs_end_in_the_order_of_their_timers) {
  isync_engine *e = scripted_engine();
  REQUIRE(e);
  const isync_op_desc *d = isync_op_find("sleep");
  REQUIRE(d);
  long ms[3] = {300, 100, 200};
  isync_op *ops[3];
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 3; i++) {
    ops[i] = isync_op_new(d, NULL);
    char err[128];
    REQUIRE(ops[i] && !isync_op_set_int(ops[i], &d->args[0], ms[i], err, sizeof err));
    isync_op_ready(ops[i]);
    REQUIRE(isync_job_submit(e, &ops[i]->job) == 0);
  }
  int order[3] = {1, 2, 0};
  for (int k = 0; k < 3; k++) {
    isync_job *j = isync_engine_next_done(e, 5000);
    REQUIRE(j);
    long took = scripted_ms_since(&t0);
    CHECK(j == &ops[order[k]]->job);
    CHECK(took >= ms[order[k]]);
    CHECK(j->ok);
    isync_job_unref(j);
  }
  for (int i = 0; i < 3; i++) isync_job_unref(&ops[i]->job);
  isync_engine_stop(e);
}

int main(void) {
  if (scripted_start() != 0) { printf("not ok 1 - scripted_http.py starts\n1..1\n"); return 1; }
  RUN(a_next_page_on_the_registry_is_followed);
  RUN(a_next_page_on_another_origin_is_refused_before_any_connection);
  RUN(an_upload_location_on_another_origin_is_refused_before_any_connection);
  RUN(a_fired_delete_holds_its_registry_until_it_ends);
  RUN(stop_ends_a_job_on_a_stalled_server_canceled_within_the_bound);
  RUN(stop_drops_jobs_waiting_for_auth_and_a_later_engine_starts_clean);
  RUN(max_connections_bounds_the_requests_in_flight_at_the_server);
  RUN(sleep_jobs_end_in_the_order_of_their_timers);
  scripted_stop();
  curl_global_cleanup();
  return unit_done();
}
