/* test_errors.c - the error code table and the transport/HTTP mappings. */
#include "util/errors.h"
#include "unit.h"
#include <string.h>

static int in_table(const char *code) {
  for (int i = 0; isync_code_defs[i].code; i++)
    if (isync_code_defs[i].code == code) return 1;
  return 0;
}

/* a mapped code must be one of the table's codes (by value: literals need not be merged) */
static int known(const char *code) {
  for (int i = 0; code && isync_code_defs[i].code; i++)
    if (strcmp(isync_code_defs[i].code, code) == 0) return 1;
  return 0;
}

TEST(intern_known) {
  char buf[32];
  strcpy(buf, "BLOB_UNKNOWN");
  const char *c = isync_code_intern(buf);
  CHECK_STR(c, "BLOB_UNKNOWN");
  CHECK(c != buf);           /* the static copy, not the caller's string */
  CHECK(in_table(c));
  strcpy(buf, "TOOMANYREQUESTS");
  CHECK_STR(isync_code_intern(buf), "TOOMANYREQUESTS");
  strcpy(buf, "PATTERN_INVALID");   /* the last entry */
  CHECK_STR(isync_code_intern(buf), "PATTERN_INVALID");
  CHECK(isync_code_intern("MANIFEST_UNKNOWN") == isync_code_intern("MANIFEST_UNKNOWN"));
}

/* A registry's error body may name an OCI code, never one of isync's own: a "TIMEOUT"
 * would be retried, a "CANCELED" would read as the user's Ctrl-C. */
TEST(registry_sent_codes_are_only_the_oci_ones) {
  CHECK_STR(isync_code_from_registry("MANIFEST_UNKNOWN"), "MANIFEST_UNKNOWN");
  CHECK_STR(isync_code_from_registry("TOOMANYREQUESTS"), "TOOMANYREQUESTS");
  CHECK_STR(isync_code_from_registry("UNAVAILABLE"), "UNAVAILABLE");
  CHECK(isync_code_from_registry("TIMEOUT") == NULL);
  CHECK(isync_code_from_registry("CANCELED") == NULL);
  CHECK(isync_code_from_registry("INTERNAL") == NULL);
  CHECK(isync_code_from_registry(NULL) == NULL);
  int sent = 0;
  for (const isync_code_def *d = isync_code_defs; d->code; d++) sent += d->registry_sent;
  CHECK_INT(sent, 15);
}

TEST(intern_unknown) {
  CHECK(isync_code_intern(NULL) == NULL);
  CHECK(isync_code_intern("") == NULL);
  CHECK(isync_code_intern("NOPE") == NULL);
  CHECK(isync_code_intern("blob_unknown") == NULL);    /* case matters */
  CHECK(isync_code_intern("BLOB_UNKNOWN ") == NULL);
  CHECK(isync_code_intern("BLOB") == NULL);            /* no prefix matches */
}

TEST(table_is_consistent) {
  int n = 0;
  for (const isync_code_def *d = isync_code_defs; d->code; d++, n++) {
    CHECK(isync_code_intern(d->code) == d->code);   /* no duplicates, all found */
    CHECK(isync_code_find(d->code) == d);
    CHECK(d->code[0] != '\0');
    for (const char *p = d->code; *p; p++) CHECK((*p >= 'A' && *p <= 'Z') || *p == '_');
    CHECK(d->meaning && d->meaning[0]);
    CHECK(d->cls == ISYNC_TRANSIENT || d->cls == ISYNC_PERMANENT || d->cls == ISYNC_USAGE || d->cls == ISYNC_LOCAL);
  }
  CHECK(n >= 36);
}

/* isync.retry retries exactly the transient class: these must stay in it */
TEST(classes) {
  static const char *const transient[] = {"CONNECT", "NETWORK", "TIMEOUT", "SERVER_ERROR", "TOOMANYREQUESTS",
    "DIGEST_MISMATCH", "SIZE_MISMATCH", "BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID", "MANIFEST_BLOB_UNKNOWN",
    "UNAVAILABLE", "REDIS", NULL};
  int n = 0;
  for (int i = 0; transient[i]; i++) {
    const isync_code_def *d = isync_code_find(transient[i]);
    CHECK(d && d->cls == ISYNC_TRANSIENT);
  }
  for (const isync_code_def *d = isync_code_defs; d->code; d++) n += d->cls == ISYNC_TRANSIENT;
  CHECK_INT(n, 12);
  CHECK(isync_code_find("UNAUTHORIZED")->cls == ISYNC_PERMANENT);
  CHECK(isync_code_find("INVALID_RULE")->cls == ISYNC_USAGE);
  CHECK(isync_code_find("LEDGER")->cls == ISYNC_LOCAL);
  CHECK_STR(isync_code_class_name(ISYNC_TRANSIENT), "transient");
  CHECK_STR(isync_code_class_name(ISYNC_USAGE), "usage");
  CHECK(isync_code_find("NOPE") == NULL);
  CHECK(isync_code_find(NULL) == NULL);
}

TEST(status_mapping) {
  CHECK_STR(isync_code_for_status(401, NULL), "UNAUTHORIZED");
  CHECK_STR(isync_code_for_status(403, NULL), "DENIED");
  CHECK_STR(isync_code_for_status(404, NULL), "NOT_FOUND");
  CHECK_STR(isync_code_for_status(404, "MANIFEST_UNKNOWN"), "MANIFEST_UNKNOWN");
  CHECK_STR(isync_code_for_status(404, "BLOB_UNKNOWN"), "BLOB_UNKNOWN");
  CHECK_STR(isync_code_for_status(401, "BLOB_UNKNOWN"), "UNAUTHORIZED");   /* override is 404-only */
  CHECK_STR(isync_code_for_status(408, NULL), "TIMEOUT");
  CHECK_STR(isync_code_for_status(429, NULL), "TOOMANYREQUESTS");
  CHECK_STR(isync_code_for_status(500, NULL), "SERVER_ERROR");
  CHECK_STR(isync_code_for_status(502, NULL), "SERVER_ERROR");
  CHECK_STR(isync_code_for_status(503, NULL), "SERVER_ERROR");
  CHECK_STR(isync_code_for_status(599, NULL), "SERVER_ERROR");
  CHECK_STR(isync_code_for_status(418, NULL), "HTTP_ERROR");
  CHECK_STR(isync_code_for_status(400, NULL), "HTTP_ERROR");
  CHECK_STR(isync_code_for_status(499, NULL), "HTTP_ERROR");
}

TEST(status_codes_are_known) {
  static const long statuses[] = {400, 401, 403, 404, 405, 408, 409, 416, 418, 429, 500, 503};
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
    const char *c = isync_code_for_status(statuses[i], NULL);
    if (!known(c)) unit_fail(__FILE__, __LINE__, "status %ld -> %s is not a table code", statuses[i], c);
  }
}

TEST(curl_mapping) {
  CHECK_STR(isync_code_for_curl(CURLE_OPERATION_TIMEDOUT), "TIMEOUT");
  CHECK_STR(isync_code_for_curl(CURLE_COULDNT_RESOLVE_HOST), "CONNECT");
  CHECK_STR(isync_code_for_curl(CURLE_COULDNT_RESOLVE_PROXY), "CONNECT");
  CHECK_STR(isync_code_for_curl(CURLE_COULDNT_CONNECT), "CONNECT");
  CHECK_STR(isync_code_for_curl(CURLE_SSL_CONNECT_ERROR), "TLS");
  CHECK_STR(isync_code_for_curl(CURLE_PEER_FAILED_VERIFICATION), "TLS");
  CHECK_STR(isync_code_for_curl(CURLE_SSL_CACERT_BADFILE), "TLS");
  CHECK_STR(isync_code_for_curl(CURLE_ABORTED_BY_CALLBACK), "CANCELED");
  CHECK_STR(isync_code_for_curl(CURLE_URL_MALFORMAT), "PROTOCOL");
  CHECK_STR(isync_code_for_curl(CURLE_TOO_MANY_REDIRECTS), "PROTOCOL");
  CHECK_STR(isync_code_for_curl(CURLE_RECV_ERROR), "NETWORK");
  CHECK_STR(isync_code_for_curl(CURLE_SEND_ERROR), "NETWORK");
  CHECK_STR(isync_code_for_curl(CURLE_GOT_NOTHING), "NETWORK");
}

TEST(curl_codes_are_known) {
  for (int cc = 1; cc < CURL_LAST; cc++) {
    const char *c = isync_code_for_curl((CURLcode)cc);
    if (!known(c)) unit_fail(__FILE__, __LINE__, "CURLcode %d -> %s is not a table code", cc, c);
  }
}

int main(void) {
  RUN(intern_known);
  RUN(intern_unknown);
  RUN(registry_sent_codes_are_only_the_oci_ones);
  RUN(table_is_consistent);
  RUN(classes);
  RUN(status_mapping);
  RUN(status_codes_are_known);
  RUN(curl_mapping);
  RUN(curl_codes_are_known);
  return unit_done();
}
