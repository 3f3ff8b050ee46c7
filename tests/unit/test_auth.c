/* test_auth.c - the auth state machine (src/registry/auth.c, request.c) through real
 * registry operations on the engine thread, against a scripted server: when credentials
 * are sent, how often tokens are fetched, the one retry after a 401, and what a failure
 * says. The server's log records each request's Authorization scheme, never its value. */
#include "registry/auth.h"
#include "unit.h"
#include "scripted.h"

/* A registry whose /v2/ wants a Bearer token from REALM (main or other listener). */
#define BEARER_V2(realm) \
  "{'method':'GET','path':'/v2/','auth':'none','status':401," \
  "'headers':{'WWW-Authenticate':'Bearer realm=\\\"" realm "/token\\\",service=\\\"reg\\\"'}}"
/* Any other request without the right token: 401 with the same challenge. */
#define BEARER_401 \
  "{'status':401,'headers':{'WWW-Authenticate':'Bearer realm=\\\"{origin}/token\\\",service=\\\"reg\\\"'}," \
  "'json':{'errors':[{'code':'UNAUTHORIZED','message':'authentication required'}]}}"
#define TAGS(repo, list) "{'method':'GET','path':'/v2/" repo "/tags/list','json':{'name':'" repo "','tags':" list "}"

/* Basic: the first request carries nothing; the password goes only once the registry
 * asked for Basic. */
TEST(basic_credentials_are_sent_only_after_the_challenge) {
  REQUIRE(scripted_load("[{'method':'GET','path':'/v2/','auth':'none','status':401,"
                        "  'headers':{'WWW-Authenticate':'Basic realm=\\\"scripted\\\"'}},"
                        TAGS("r", "['a','b']") ",'basic':'alice:pw-basic'},"
                        "{'status':401,'headers':{'WWW-Authenticate':'Basic realm=\\\"scripted\\\"'}}]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry("alice", "pw-basic", 4);
  REQUIRE(e && r);
  isync_op *op = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, op));
  CHECK(op->job.ok);
  CHECK_STR(op->job.err, NULL);
  CHECK_INT(op->nlist, 2);
  if (op->nlist == 2) { CHECK_STR(op->list[0], "a"); CHECK_STR(op->list[1], "b"); }
  CHECK_INT(r->auth_state, ISYNC_AUTH_BASIC);
  /* one probe without credentials, then the listing with them: nothing else */
  CHECK_INT(scripted_count("GET", "/v2/", "auth=none"), 1);
  CHECK_INT(scripted_count("GET", "/v2/r/tags/list", "auth=basic rule=1"), 1);
  CHECK_INT(scripted_count(NULL, NULL, NULL), 2);
  isync_job_unref(&op->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* An open registry never sees credentials, even when the user has some. */
TEST(an_open_registry_gets_no_credentials) {
  REQUIRE(scripted_load("[{'method':'GET','path':'/v2/','json':{}}," TAGS("r", "['a']") "}]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry("alice", "pw-open", 4);
  REQUIRE(e && r);
  isync_op *op = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, op));
  CHECK(op->job.ok);
  CHECK_INT(r->auth_state, ISYNC_AUTH_NONE);
  CHECK_INT(scripted_count(NULL, NULL, "auth=none"), 2);
  CHECK_INT(scripted_count(NULL, NULL, NULL), 2);
  isync_job_unref(&op->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* N jobs of the same scope waiting for one token: one probe, one token request; the token
 * is reused by later jobs; another scope is another token. */
TEST(a_bearer_token_is_fetched_once_for_concurrent_jobs_and_reused) {
  REQUIRE(scripted_load("[" BEARER_V2("{origin}") ","
                        "{'method':'GET','path':'/token','query':'scope=repository%3Ar%3Apull','stall_ms':200,"
                        "  'json':{'token':'T-r','expires_in':300}},"
                        "{'method':'GET','path':'/token','query':'scope=repository%3As%3Apull','json':{'token':'T-s','expires_in':300}},"
                        TAGS("r", "['a']") ",'bearer':'T-r'}," TAGS("s", "['z']") ",'bearer':'T-s'}," BEARER_401 "]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry(NULL, NULL, 8);
  REQUIRE(e && r);
  enum { N = 5 };
  isync_op *ops[N];
  for (int i = 0; i < N; i++) {
    ops[i] = scripted_tags(r, "r");
    REQUIRE(ops[i] && isync_job_submit(e, &ops[i]->job) == 0);
  }
  for (int i = 0; i < N; i++) {
    CHECK(isync_engine_wait_job(e, &ops[i]->job, 10000));
    CHECK(ops[i]->job.ok);
    CHECK_STR(ops[i]->job.err, NULL);
  }
  CHECK_INT(scripted_count("GET", "/v2/", NULL), 1);
  CHECK_INT(scripted_count("GET", "/token", NULL), 1);
  CHECK_INT(scripted_count("GET", "/v2/r/tags/list", "auth=bearer rule=3"), N);
  CHECK_INT(scripted_count(NULL, NULL, "status=401"), 1);   /* only the probe */
  /* later: the cached token, no request for it */
  isync_op *again = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, again));
  CHECK(again->job.ok);
  CHECK_INT(scripted_count("GET", "/token", NULL), 1);
  /* another repository is another scope: a token of its own */
  isync_op *other = scripted_tags(r, "s");
  REQUIRE(scripted_run(e, other));
  CHECK(other->job.ok);
  CHECK_INT(scripted_count("GET", "/token", NULL), 2);
  CHECK_INT(scripted_count("GET", "/v2/s/tags/list", "auth=bearer rule=4"), 1);
  for (int i = 0; i < N; i++) isync_job_unref(&ops[i]->job);
  isync_job_unref(&again->job);
  isync_job_unref(&other->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* A token the registry stops accepting (revoked, expired early): one refresh, one retry. */
TEST(a_401_to_a_good_token_refreshes_it_once_and_retries_once) {
  REQUIRE(scripted_load("[" BEARER_V2("{origin}") ","
                        "{'method':'GET','path':'/token','times':1,'json':{'token':'T1','expires_in':300}},"
                        "{'method':'GET','path':'/token','json':{'token':'T2','expires_in':300}},"
                        TAGS("r", "['old']") ",'bearer':'T1','times':1}," TAGS("r", "['fresh']") ",'bearer':'T2'},"
                        BEARER_401 "]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry(NULL, NULL, 4);
  REQUIRE(e && r);
  isync_op *first = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, first));
  CHECK(first->job.ok);
  isync_op *second = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, second));
  CHECK(second->job.ok);
  CHECK_STR(second->job.err, NULL);
  CHECK_INT(second->nlist, 1);
  if (second->nlist == 1) CHECK_STR(second->list[0], "fresh");
  CHECK_INT(scripted_count("GET", "/token", NULL), 2);
  CHECK_INT(scripted_count("GET", "/v2/r/tags/list", NULL), 3);   /* T1 ok, T1 refused, T2 ok */
  CHECK_INT(scripted_count("GET", "/v2/r/tags/list", "status=401"), 1);
  isync_job_unref(&first->job);
  isync_job_unref(&second->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* A registry that refuses every token: the job fails after one refresh, not in a loop. */
TEST(a_registry_refusing_every_token_fails_the_job_after_one_retry) {
  REQUIRE(scripted_load("[" BEARER_V2("{origin}") ",{'method':'GET','path':'/token','json':{'token':'T','expires_in':300}},"
                        BEARER_401 "]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry("bob", "pw-refused", 4);
  REQUIRE(e && r);
  isync_op *op = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, op));
  CHECK(!op->job.ok);
  CHECK_STR(op->job.code, "UNAUTHORIZED");
  CHECK(op->job.err && strstr(op->job.err, "bob"));
  CHECK(op->job.err && !strstr(op->job.err, "pw-refused"));
  CHECK_INT(op->job.http_status, 401);
  CHECK_INT(scripted_count("GET", "/token", NULL), 2);
  CHECK_INT(scripted_count("GET", "/v2/r/tags/list", NULL), 2);
  isync_job_unref(&op->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* The token server refusing the credentials: UNAUTHORIZED, naming the user and never the
 * password; the registry itself never saw them. */
TEST(a_token_server_401_is_unauthorized_naming_the_user_not_the_password) {
  REQUIRE(scripted_load("[" BEARER_V2("{origin}") ",{'method':'GET','path':'/token','status':401,"
                        "  'json':{'errors':[{'code':'UNAUTHORIZED','message':'bad credentials'}]}}," BEARER_401 "]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry("alice", "pw-s3cret", 4);
  REQUIRE(e && r);
  isync_op *op = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, op));
  CHECK(!op->job.ok);
  CHECK_STR(op->job.code, "UNAUTHORIZED");
  CHECK(op->job.err && strstr(op->job.err, "alice"));
  CHECK(op->job.err && strstr(op->job.err, "token request"));
  CHECK(op->job.err && !strstr(op->job.err, "pw-s3cret"));
  CHECK_INT(scripted_count("GET", "/token", "auth=basic"), 1);   /* the realm got them */
  CHECK_INT(scripted_count("GET", "/v2/r/tags/list", NULL), 0);  /* no request without a token */
  CHECK_INT(scripted_count(NULL, NULL, "auth=basic"), 1);
  isync_job_unref(&op->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* expires_in: a 2 s token is reused at once and fetched anew once it ran out. */
TEST(a_token_is_fetched_again_when_its_expires_in_has_passed) {
  REQUIRE(scripted_load("[" BEARER_V2("{origin}") ",{'method':'GET','path':'/token','json':{'token':'T','expires_in':2}},"
                        TAGS("r", "['a']") ",'bearer':'T'}," BEARER_401 "]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry(NULL, NULL, 4);
  REQUIRE(e && r);
  isync_op *a = scripted_tags(r, "r"), *b = scripted_tags(r, "r"), *c = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, a));
  REQUIRE(scripted_run(e, b));
  CHECK(a->job.ok && b->job.ok);
  CHECK_INT(scripted_count("GET", "/token", NULL), 1);
  nanosleep(&(struct timespec){2, 100000000}, NULL);
  REQUIRE(scripted_run(e, c));
  CHECK(c->job.ok);
  CHECK_INT(scripted_count("GET", "/token", NULL), 2);
  CHECK_INT(scripted_count(NULL, NULL, "status=401"), 1);   /* refreshed before use, not after a 401 */
  isync_job_unref(&a->job); isync_job_unref(&b->job); isync_job_unref(&c->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

/* A realm on another origin is normal (a separate token service); the registry's own
 * requests then carry the token, not the password. */
TEST(a_realm_on_another_origin_is_followed) {
  REQUIRE(scripted_load("[" BEARER_V2("{origin2}") ",{'method':'GET','path':'/token','listener':'other','basic':'alice:pw-realm',"
                        "  'json':{'access_token':'T','expires_in':300}},"
                        TAGS("r", "['a']") ",'bearer':'T','listener':'main'}," BEARER_401 "]") == 0);
  isync_engine *e = scripted_engine();
  isync_registry *r = scripted_registry("alice", "pw-realm", 4);
  REQUIRE(e && r);
  isync_op *op = scripted_tags(r, "r");
  REQUIRE(scripted_run(e, op));
  CHECK(op->job.ok);
  CHECK_STR(op->job.err, NULL);
  CHECK_INT(scripted_count("GET", "/token", "listener=other auth=basic rule=1"), 1);
  CHECK_INT(scripted_count("GET", "/v2/r/tags/list", "listener=main auth=bearer"), 1);
  CHECK_INT(scripted_count(NULL, NULL, "listener=main auth=basic"), 0);
  isync_job_unref(&op->job);
  isync_engine_stop(e);
  isync_registry_unref(r);
}

int main(void) {
  if (scripted_start() != 0) { printf("not ok 1 - scripted_http.py starts\n1..1\n"); return 1; }
  RUN(basic_credentials_are_sent_only_after_the_challenge);
  RUN(an_open_registry_gets_no_credentials);
  RUN(a_bearer_token_is_fetched_once_for_concurrent_jobs_and_reused);
  RUN(a_401_to_a_good_token_refreshes_it_once_and_retries_once);
  RUN(a_registry_refusing_every_token_fails_the_job_after_one_retry);
  RUN(a_token_server_401_is_unauthorized_naming_the_user_not_the_password);
  RUN(a_token_is_fetched_again_when_its_expires_in_has_passed);
  RUN(a_realm_on_another_origin_is_followed);
  scripted_stop();
  curl_global_cleanup();
  return unit_done();
}
