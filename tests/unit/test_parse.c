/* test_parse.c - WWW-Authenticate, Link, Range, Retry-After and URL helpers. */
#include "util/parse.h"
#include "unit.h"
#include <stdlib.h>
#include <string.h>

/* Header parsers get a heap copy so ASan sees any read past the terminating NUL. */
static int challenges(const char *hdr, isync_challenge *out, int max) {
  char *copy = strdup(hdr);
  int n = isync_parse_challenges(copy, out, max);
  free(copy);
  return n;
}

static void free_all(isync_challenge *c, int n) {
  for (int i = 0; i < n; i++) isync_challenge_free(&c[i]);
}

TEST(challenge_docker_hub) {
  isync_challenge ch[4];
  int n = challenges("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                     "scope=\"repository:library/nginx:pull\"", ch, 4);
  REQUIRE(n == 1);
  CHECK_STR(ch[0].scheme, "bearer");
  CHECK_INT(ch[0].nparams, 3);
  CHECK_STR(isync_challenge_param(&ch[0], "realm"), "https://auth.docker.io/token");
  CHECK_STR(isync_challenge_param(&ch[0], "service"), "registry.docker.io");
  CHECK_STR(isync_challenge_param(&ch[0], "scope"), "repository:library/nginx:pull");
  CHECK(isync_challenge_param(&ch[0], "error") == NULL);
  free_all(ch, n);
}

TEST(challenge_quoted_commas_and_escapes) {
  isync_challenge ch[2];
  int n = challenges("Bearer realm=\"https://a/token\",scope=\"repository:a:pull,push\","
                     "error=\"say \\\"hi\\\", back\\\\slash\"", ch, 2);
  REQUIRE(n == 1);
  CHECK_INT(ch[0].nparams, 3);
  CHECK_STR(isync_challenge_param(&ch[0], "scope"), "repository:a:pull,push");
  CHECK_STR(isync_challenge_param(&ch[0], "error"), "say \"hi\", back\\slash");
  free_all(ch, n);
}

TEST(challenge_several_in_one_header) {
  isync_challenge ch[4];
  int n = challenges("Basic realm=\"x\", Bearer realm=\"y\",service=\"z\"", ch, 4);
  REQUIRE(n == 2);
  CHECK_STR(ch[0].scheme, "basic");
  CHECK_INT(ch[0].nparams, 1);
  CHECK_STR(isync_challenge_param(&ch[0], "realm"), "x");
  CHECK(isync_challenge_param(&ch[0], "service") == NULL);
  CHECK_STR(ch[1].scheme, "bearer");
  CHECK_INT(ch[1].nparams, 2);
  CHECK_STR(isync_challenge_param(&ch[1], "realm"), "y");
  CHECK_STR(isync_challenge_param(&ch[1], "service"), "z");
  free_all(ch, n);
}

TEST(challenge_case_insensitive_names) {
  isync_challenge ch[2];
  int n = challenges("BEARER Realm=\"MiXeD\",SERVICE=\"Reg\"", ch, 2);
  REQUIRE(n == 1);
  CHECK_STR(ch[0].scheme, "bearer");
  CHECK_STR(isync_challenge_param(&ch[0], "realm"), "MiXeD");   /* values keep their case */
  CHECK_STR(isync_challenge_param(&ch[0], "service"), "Reg");
  CHECK(isync_challenge_param(&ch[0], "Realm") == NULL);         /* names are stored lowercased */
  free_all(ch, n);
}

TEST(challenge_unquoted_values_and_whitespace) {
  isync_challenge ch[2];
  int n = challenges("  Bearer   realm=https://auth.example.com/token , service = registry.example.com:5000 ,"
                     "scope=repository:x/y:pull", ch, 2);
  REQUIRE(n == 1);
  CHECK_STR(ch[0].scheme, "bearer");
  CHECK_INT(ch[0].nparams, 3);
  CHECK_STR(isync_challenge_param(&ch[0], "realm"), "https://auth.example.com/token");
  CHECK_STR(isync_challenge_param(&ch[0], "service"), "registry.example.com:5000");
  CHECK_STR(isync_challenge_param(&ch[0], "scope"), "repository:x/y:pull");
  free_all(ch, n);
}

TEST(challenge_empty_quoted_value) {
  isync_challenge ch[1];
  int n = challenges("Bearer realm=\"\",service=\"s\"", ch, 1);
  REQUIRE(n == 1);
  CHECK_STR(isync_challenge_param(&ch[0], "realm"), "");
  CHECK_STR(isync_challenge_param(&ch[0], "service"), "s");
  free_all(ch, n);
}

TEST(challenge_scheme_without_params) {
  /* a bare scheme that ends the header, alone or after another challenge */
  isync_challenge ch[3];
  int n = challenges("Bearer", ch, 3);
  CHECK_INT(n, 1);
  if (n == 1) { CHECK_STR(ch[0].scheme, "bearer"); CHECK_INT(ch[0].nparams, 0); }
  free_all(ch, n > 0 ? n : 0);
  n = challenges("Bearer realm=\"r\", Negotiate", ch, 3);
  CHECK_INT(n, 2);
  if (n == 2) {
    CHECK_STR(ch[0].scheme, "bearer");
    CHECK_STR(ch[1].scheme, "negotiate");
    CHECK_INT(ch[1].nparams, 0);
  }
  free_all(ch, n > 0 ? n : 0);
  n = challenges("Negotiate, Basic realm=\"b\"", ch, 3);
  CHECK_INT(n, 2);
  if (n == 2) {
    CHECK_STR(ch[0].scheme, "negotiate");
    CHECK_STR(ch[1].scheme, "basic");
    CHECK_STR(isync_challenge_param(&ch[1], "realm"), "b");
  }
  free_all(ch, n > 0 ? n : 0);
}

TEST(challenge_empty_header) {
  isync_challenge ch[2];
  CHECK_INT(challenges("", ch, 2), 0);
  CHECK_INT(challenges("   ", ch, 2), 0);
  CHECK_INT(challenges(" , ,", ch, 2), 0);
}

TEST(challenge_malformed) {
  isync_challenge ch[2];
  CHECK_INT(challenges("Bearer realm=\"unterminated", ch, 2), -1);
  CHECK_INT(challenges("realm=\"x\"", ch, 2), -1);                   /* param without a scheme */
  CHECK_INT(challenges("Bearer realm=\"x\" junk", ch, 2), -1);
  CHECK_INT(challenges("Bearer realm=\"x\";service=\"y\"", ch, 2), -1);
  CHECK_INT(challenges("=x", ch, 2), -1);
  CHECK_INT(challenges("Bearer @", ch, 2), -1);
  CHECK_INT(challenges("Basic realm=\"a\", Bearer realm=\"b", ch, 2), -1);   /* fails after one was stored */
}

TEST(challenge_more_than_max) {
  isync_challenge ch[2];
  int n = challenges("A a=1, B b=\"2\", C c=3, D d=4", ch, 2);
  REQUIRE(n == 2);
  CHECK_STR(ch[0].scheme, "a");
  CHECK_STR(isync_challenge_param(&ch[0], "a"), "1");
  CHECK_STR(ch[1].scheme, "b");
  CHECK_STR(isync_challenge_param(&ch[1], "b"), "2");
  CHECK_INT(ch[1].nparams, 1);
  free_all(ch, n);   /* the dropped ones were freed by the parser (LeakSanitizer checks) */
  CHECK_INT(challenges("Basic realm=\"x\", Bearer realm=\"y\"", ch, 0), 0);
}

TEST(challenge_more_params_than_fit) {
  isync_challenge ch[1];
  int n = challenges("Bearer p1=1,p2=2,p3=3,p4=4,p5=5,p6=6,p7=7,p8=8,p9=9,p10=10", ch, 1);
  REQUIRE(n == 1);
  CHECK_INT(ch[0].nparams, ISYNC_CHAL_PARAMS);
  CHECK_STR(isync_challenge_param(&ch[0], "p1"), "1");
  CHECK_STR(isync_challenge_param(&ch[0], "p8"), "8");
  CHECK(isync_challenge_param(&ch[0], "p9") == NULL);
  free_all(ch, n);
}

TEST(challenge_long_scheme_truncated) {
  isync_challenge ch[1];
  int n = challenges("Averyveryverylongschemename realm=\"x\"", ch, 1);
  REQUIRE(n == 1);
  CHECK_INT(strlen(ch[0].scheme), sizeof ch[0].scheme - 1);
  CHECK_STR(ch[0].scheme, "averyveryverylo");
  CHECK_STR(isync_challenge_param(&ch[0], "realm"), "x");
  free_all(ch, n);
}

/* ---- Link ---- */

static char *link_next(const char *hdr) {
  char *copy = strdup(hdr);
  char *r = isync_parse_link_next(copy);
  free(copy);
  return r;
}

#define CHECK_LINK(hdr, want) \
  do { char *got_ = link_next(hdr); CHECK_STR(got_, want); free(got_); } while (0)

TEST(link_next) {
  CHECK_LINK("</v2/x/tags/list?n=2&last=b>; rel=\"next\"", "/v2/x/tags/list?n=2&last=b");
  CHECK_LINK("<https://r.example/v2/_catalog?last=c&n=100>;rel=next", "https://r.example/v2/_catalog?last=c&n=100");
  CHECK_LINK("</a>; rel=next; title=\"x\"", "/a");
  CHECK_LINK("</a>; REL=\"NEXT\"", "/a");
}

TEST(link_multiple) {
  CHECK_LINK("</prev>; rel=\"prev\", </next>; rel=\"next\"", "/next");
  CHECK_LINK("</next>; rel=\"next\", </prev>; rel=\"prev\"", "/next");
  CHECK_LINK("</a>; rel=\"prev next\"", "/a");
  CHECK_LINK("</a>; rel=\"next prev\"", "/a");
  CHECK_LINK("</a>; title=\"one, two\"; rel=\"next\"", "/a");   /* comma inside quotes */
  CHECK_LINK("</a>; rel=\"first\", </b>; rel=\"prev\", </c>; rel=\"next\"", "/c");
}

TEST(link_no_next) {
  CHECK_LINK("", NULL);
  CHECK_LINK("</a>", NULL);
  CHECK_LINK("</a>; rel=\"prev\"", NULL);
  CHECK_LINK("</a>; rel=\"nextpage\"", NULL);
  CHECK_LINK("</a>; rel=\"prev\", </b>; rel=\"last\"", NULL);
  CHECK_LINK("</a; rel=\"next\"", NULL);                        /* no closing '>' */
  CHECK_LINK("garbage", NULL);
}

/* ---- Range ---- */

TEST(range_end) {
  int64_t end = -7;
  CHECK_INT(isync_parse_range_end("0-99", &end), 0);
  CHECK_INT(end, 99);
  CHECK_INT(isync_parse_range_end("bytes=0-1023", &end), 0);
  CHECK_INT(end, 1023);
  CHECK_INT(isync_parse_range_end("BYTES=5-6", &end), 0);
  CHECK_INT(end, 6);
  CHECK_INT(isync_parse_range_end(" 0-0", &end), 0);
  CHECK_INT(end, 0);
  CHECK_INT(isync_parse_range_end("0-5368709119", &end), 0);   /* beyond 32 bits */
  CHECK_INT(end, 5368709119LL);
  CHECK_INT(isync_parse_range_end("bytes 0-499/1234", &end), 0);  /* Content-Range form */
  CHECK_INT(end, 499);
}

TEST(range_bad) {
  int64_t end = 0;
  static const char *bad[] = {
    "", "abc", "-5", "5", "5-", "10-5", "bytes=", "bytes=-5", "0--5", "bytes=a-b", "=0-9", "-",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (isync_parse_range_end(bad[i], &end) != -1) unit_fail(__FILE__, __LINE__, "accepted Range \"%s\"", bad[i]);
}

/* ---- Retry-After ---- */

#define NOW ((time_t)784111777)   /* Sun, 06 Nov 1994 08:49:37 GMT */

TEST(retry_after_seconds) {
  CHECK_INT(isync_parse_retry_after("120", NOW), 120);
  CHECK_INT(isync_parse_retry_after(" 5 ", NOW), 5);
  CHECK_INT(isync_parse_retry_after("0", NOW), 0);
  CHECK_INT(isync_parse_retry_after("7\r\n", NOW), 7);
  CHECK_INT(isync_parse_retry_after("86400", 0), 86400);
}

TEST(retry_after_date) {
  CHECK_INT(isync_parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", NOW), 120);
  CHECK_INT(isync_parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", NOW), 86400);
  CHECK_INT(isync_parse_retry_after("Sun, 06 Nov 1994 08:49:38 GMT", NOW), 1);
  CHECK_INT(isync_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW), 0);    /* now */
  CHECK_INT(isync_parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", NOW), 0);    /* past */
  CHECK_INT(isync_parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", NOW), 0);
  /* across a year boundary, with a different `now` */
  CHECK_INT(isync_parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", (time_t)1767225600 - 50), 60);
}

TEST(retry_after_garbage) {
  static const char *bad[] = {
    "", "   ", "soon", "12abc", "-5", "1.5", "Sun, 06 Foo 1994 08:49:37 GMT",
    "Sun, 06 Nov", "06 Nov 1994 08:49:37 GMT", "Sunday",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    long v = isync_parse_retry_after(bad[i], NOW);
    if (v != -1) unit_fail(__FILE__, __LINE__, "Retry-After \"%s\" gave %ld, want -1", bad[i], v);
  }
}

/* a server's numbers never overflow or go negative: clamped to [0, ISYNC_RETRY_AFTER_MAX] */
TEST(retry_after_clamped) {
  CHECK_INT(isync_parse_retry_after("99999999999999999999999", NOW), ISYNC_RETRY_AFTER_MAX);
  CHECK_INT(isync_parse_retry_after("86401", NOW), ISYNC_RETRY_AFTER_MAX);
  CHECK_INT(isync_parse_retry_after("Sun, 06 Nov 9999 08:49:37 GMT", NOW), ISYNC_RETRY_AFTER_MAX);
  CHECK_INT(isync_parse_retry_after("Sun, 06 Nov -2147483648 08:49:37 GMT", NOW), -1);
  CHECK_INT(isync_parse_retry_after("Sun, 06 Nov 2147483647 08:49:37 GMT", NOW), -1);
  CHECK_INT(isync_parse_retry_after("Sun, 99 Nov 1994 08:49:37 GMT", NOW), -1);
  CHECK_INT(isync_parse_retry_after("Sun, 06 Nov 1994 2147483647:49:37 GMT", NOW), -1);
}

/* RFC 7235 token68: "Negotiate abc==" must not make the Bearer challenge after it unreadable */
TEST(challenge_token68) {
  isync_challenge ch[3];
  int n = challenges("Negotiate abc==, Bearer realm=\"https://r/token\",service=\"s\"", ch, 3);
  REQUIRE(n == 2);
  CHECK_STR(ch[0].scheme, "negotiate");
  CHECK_INT(ch[0].nparams, 0);
  CHECK_STR(ch[1].scheme, "bearer");
  CHECK_STR(isync_challenge_param(&ch[1], "realm"), "https://r/token");
  CHECK_STR(isync_challenge_param(&ch[1], "service"), "s");
  free_all(ch, n);
  n = challenges("Bearer realm=\"x\", NTLM TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=, Basic realm=\"b\"", ch, 3);
  REQUIRE(n == 3);
  CHECK_STR(ch[1].scheme, "ntlm");
  CHECK_STR(ch[2].scheme, "basic");
  CHECK_STR(isync_challenge_param(&ch[2], "realm"), "b");
  free_all(ch, n);
  n = challenges("Negotiate a/b+c~d", ch, 3);   /* token68 without padding, at the end */
  REQUIRE(n == 1);
  CHECK_INT(ch[0].nparams, 0);
  free_all(ch, n);
}

/* ---- URLs ---- */

#define CHECK_RESOLVE(base, ref, want) \
  do { char *got_ = isync_url_resolve(base, ref); CHECK_STR(got_, want); free(got_); } while (0)

TEST(url_resolve_absolute) {
  CHECK_RESOLVE("https://r.example/v2/x/blobs/uploads/", "https://other.example/up?sig=1",
                "https://other.example/up?sig=1");
  CHECK_RESOLVE("https://r.example/v2/", "http://plain.example:8080/a", "http://plain.example:8080/a");
  CHECK_RESOLVE("https://r.example/v2/", "HTTPS://Up.example/a", "HTTPS://Up.example/a");
}

TEST(url_resolve_absolute_path) {
  CHECK_RESOLVE("https://r.example:5000/v2/a/tags/list?n=2", "/v2/a/tags/list?n=2&last=b",
                "https://r.example:5000/v2/a/tags/list?n=2&last=b");
  CHECK_RESOLVE("https://r.example/v2/x/blobs/uploads/?digest=a/b#frag", "/upload/1",
                "https://r.example/upload/1");
  CHECK_RESOLVE("https://r.example", "/v2/", "https://r.example/v2/");
  CHECK_RESOLVE("https://r.example?x=1", "/v2/", "https://r.example/v2/");
}

TEST(url_resolve_relative) {
  CHECK_RESOLVE("https://r.example/v2/x/blobs/uploads/", "abc?state=1",
                "https://r.example/v2/x/blobs/uploads/abc?state=1");
  CHECK_RESOLVE("https://r.example/v2/x/blobs/uploads", "abc", "https://r.example/v2/x/blobs/abc");
  CHECK_RESOLVE("https://r.example", "abc", "https://r.example/abc");
  CHECK_RESOLVE("https://r.example/", "abc", "https://r.example/abc");
}

TEST(url_resolve_base_with_query) {
  /* slashes in the base's query or fragment are not path separators */
  CHECK_RESOLVE("https://r.example/v2/x/blobs/uploads/u1?_state=a/b/c", "u2",
                "https://r.example/v2/x/blobs/uploads/u2");
  CHECK_RESOLVE("https://r.example/v2/list?last=a/b", "next", "https://r.example/v2/next");
  CHECK_RESOLVE("https://r.example?q=/a/b", "c", "https://r.example/c");
  CHECK_RESOLVE("https://r.example/p/q#x/y", "z", "https://r.example/p/z");
}

TEST(url_resolve_scheme_relative) {
  CHECK_RESOLVE("https://r.example/v2/x", "//cdn.example/blob?sig=1", "https://cdn.example/blob?sig=1");
  CHECK_RESOLVE("http://127.0.0.1:5000/v2/", "//other:81/a", "http://other:81/a");
}

TEST(url_add_query) {
  char *u = isync_url_add_query("https://auth.example/token", "scope", "repository:a/b:pull");
  CHECK_STR(u, "https://auth.example/token?scope=repository%3Aa%2Fb%3Apull");
  free(u);
  u = isync_url_add_query("https://auth.example/token?service=reg", "scope", "x");
  CHECK_STR(u, "https://auth.example/token?service=reg&scope=x");
  free(u);
  u = isync_url_add_query("/v2/x/tags/list", "n", "100");
  CHECK_STR(u, "/v2/x/tags/list?n=100");
  free(u);
}

TEST(url_add_query_encoding) {
  char *u = isync_url_add_query("h", "v", "AZaz09-._~");   /* unreserved stay */
  CHECK_STR(u, "h?v=AZaz09-._~");
  free(u);
  u = isync_url_add_query("h", "v", "a b&c=d?e#f+g%h,i");
  CHECK_STR(u, "h?v=a%20b%26c%3Dd%3Fe%23f%2Bg%25h%2Ci");
  free(u);
  u = isync_url_add_query("h", "v", "\xC3\xA9\x01\xFF");
  CHECK_STR(u, "h?v=%C3%A9%01%FF");
  free(u);
  u = isync_url_add_query("h", "v", "");
  CHECK_STR(u, "h?v=");
  free(u);
  /* every byte is encoded into exactly three characters at most (no overflow) */
  char all[256];
  for (int i = 1; i < 256; i++) all[i - 1] = (char)i;
  all[255] = '\0';
  u = isync_url_add_query("h", "v", all);
  REQUIRE(u != NULL);
  CHECK_INT(strlen(u), 4 + 66 + 3 * (255 - 66));   /* 66 unreserved characters */
  free(u);
}

#define CHECK_REDACT(url, size, want) \
  do { char out_[size]; memset(out_, 'X', sizeof out_); isync_url_redact(url, out_, sizeof out_); CHECK_STR(out_, want); } while (0)

TEST(url_redact) {
  CHECK_REDACT("https://r.example/v2/x/blobs/uploads/u?_state=secret&digest=sha256:1", 256,
               "https://r.example/v2/x/blobs/uploads/u");
  CHECK_REDACT("https://s3.example/blob?X-Amz-Signature=abc#frag", 256, "https://s3.example/blob");
  CHECK_REDACT("https://r.example/a#frag?not-query", 256, "https://r.example/a");
  CHECK_REDACT("https://r.example/a", 256, "https://r.example/a");
  CHECK_REDACT("https://r.example/a?q", 8, "https:/");    /* truncated to fit */
  CHECK_REDACT("abc", 4, "abc");
  CHECK_REDACT("abcd", 4, "abc");
  CHECK_REDACT("abc", 1, "");
}

int main(void) {
  RUN(challenge_docker_hub);
  RUN(challenge_quoted_commas_and_escapes);
  RUN(challenge_several_in_one_header);
  RUN(challenge_case_insensitive_names);
  RUN(challenge_unquoted_values_and_whitespace);
  RUN(challenge_empty_quoted_value);
  RUN(challenge_scheme_without_params);
  RUN(challenge_empty_header);
  RUN(challenge_malformed);
  RUN(challenge_more_than_max);
  RUN(challenge_more_params_than_fit);
  RUN(challenge_long_scheme_truncated);
  RUN(link_next);
  RUN(link_multiple);
  RUN(link_no_next);
  RUN(range_end);
  RUN(range_bad);
  RUN(retry_after_seconds);
  RUN(retry_after_date);
  RUN(retry_after_garbage);
  RUN(retry_after_clamped);
  RUN(challenge_token68);
  RUN(url_resolve_absolute);
  RUN(url_resolve_absolute_path);
  RUN(url_resolve_relative);
  RUN(url_resolve_base_with_query);
  RUN(url_resolve_scheme_relative);
  RUN(url_add_query);
  RUN(url_add_query_encoding);
  RUN(url_redact);
  return unit_done();
}
