/* test_json.c - the small JSON reader. */
#include "util/json.h"
#include "unit.h"
#include <stdlib.h>
#include <string.h>

/* Parses a copy of s in a heap buffer of exactly strlen(s) bytes, with no NUL after
 * it, so ASan catches any read past the given length. */
static isync_json *parse(const char *s) {
  size_t n = strlen(s);
  char *copy = malloc(n ? n : 1);
  if (!copy) return NULL;
  memcpy(copy, s, n);
  isync_json *j = isync_json_parse(copy, n);
  free(copy);
  return j;
}

static int rejects(const char *s) {
  isync_json *j = parse(s);
  isync_json_free(j);
  return j == NULL;
}

#define CHECK_REJECTS(s) \
  do { if (!rejects(s)) unit_fail(__FILE__, __LINE__, "accepted malformed JSON: %s", s); } while (0)
#define CHECK_ACCEPTS(s) \
  do { if (rejects(s)) unit_fail(__FILE__, __LINE__, "rejected valid JSON: %s", s); } while (0)

TEST(object_members) {
  isync_json *j = parse("{\"token\":\"abc\",\"expires_in\":300,\"ok\":true}");
  REQUIRE(j != NULL);
  CHECK_INT(j->type, ISYNC_JOBJ);
  CHECK_INT(j->n, 3);
  CHECK_STR(isync_json_getstr(j, "token"), "abc");
  const isync_json *e = isync_json_get(j, "expires_in");
  REQUIRE(e != NULL);
  CHECK_INT(e->type, ISYNC_JNUM);
  CHECK(e->num == 300.0);
  CHECK_STR(e->key, "expires_in");
  CHECK(isync_json_get(j, "missing") == NULL);
  CHECK(isync_json_get(j, "Token") == NULL);        /* keys are case-sensitive */
  CHECK(isync_json_getstr(j, "expires_in") == NULL); /* not a string */
  CHECK(isync_json_getstr(j, "ok") == NULL);
  CHECK(isync_json_getstr(j, "missing") == NULL);
  /* member order is kept */
  CHECK_STR(j->items[0]->key, "token");
  CHECK_STR(j->items[2]->key, "ok");
  isync_json_free(j);
}

TEST(empty_containers) {
  isync_json *j = parse("{}");
  REQUIRE(j != NULL);
  CHECK_INT(j->type, ISYNC_JOBJ);
  CHECK_INT(j->n, 0);
  CHECK(isync_json_get(j, "a") == NULL);
  isync_json_free(j);
  j = parse("[ ]");
  REQUIRE(j != NULL);
  CHECK_INT(j->type, ISYNC_JARR);
  CHECK_INT(j->n, 0);
  isync_json_free(j);
  j = parse(" { \n\t} ");
  REQUIRE(j != NULL);
  CHECK_INT(j->type, ISYNC_JOBJ);
  isync_json_free(j);
}

TEST(array_of_every_type) {
  isync_json *j = parse("[1, \"two\", true, false, null, [], {}]");
  REQUIRE(j != NULL);
  CHECK_INT(j->type, ISYNC_JARR);
  REQUIRE(j->n == 7);
  CHECK_INT(j->items[0]->type, ISYNC_JNUM);
  CHECK(j->items[0]->num == 1.0);
  CHECK_INT(j->items[1]->type, ISYNC_JSTR);
  CHECK_STR(j->items[1]->str, "two");
  CHECK_INT(j->items[2]->type, ISYNC_JBOOL);
  CHECK(j->items[2]->num == 1.0);
  CHECK_INT(j->items[3]->type, ISYNC_JBOOL);
  CHECK(j->items[3]->num == 0.0);
  CHECK_INT(j->items[4]->type, ISYNC_JNULL);
  CHECK_INT(j->items[5]->type, ISYNC_JARR);
  CHECK_INT(j->items[6]->type, ISYNC_JOBJ);
  CHECK(j->items[0]->key == NULL);            /* array elements have no key */
  CHECK(isync_json_get(j, "two") == NULL);    /* get only works on objects */
  isync_json_free(j);
}

TEST(top_level_scalars) {
  isync_json *j = parse("\"hi\"");
  REQUIRE(j != NULL);
  CHECK_INT(j->type, ISYNC_JSTR);
  CHECK_STR(j->str, "hi");
  CHECK(isync_json_get(j, "hi") == NULL);
  isync_json_free(j);
  j = parse(" null ");
  REQUIRE(j != NULL);
  CHECK_INT(j->type, ISYNC_JNULL);
  isync_json_free(j);
  j = parse("true");
  REQUIRE(j != NULL);
  CHECK_INT(j->type, ISYNC_JBOOL);
  CHECK(j->num == 1.0);
  isync_json_free(j);
  j = parse("42");
  REQUIRE(j != NULL);
  CHECK_INT(j->type, ISYNC_JNUM);
  CHECK(j->num == 42.0);
  isync_json_free(j);
  CHECK(isync_json_get(NULL, "x") == NULL);
  CHECK(isync_json_getstr(NULL, "x") == NULL);
}

TEST(nesting) {
  const char *doc =
    "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\","
    "\"detail\":{\"Tag\":\"nope\",\"list\":[[1,2],[3,[4]]]}}]}";
  isync_json *j = parse(doc);
  REQUIRE(j != NULL);
  const isync_json *errs = isync_json_get(j, "errors");
  REQUIRE(errs != NULL && errs->type == ISYNC_JARR && errs->n == 1);
  const isync_json *e0 = errs->items[0];
  CHECK_STR(isync_json_getstr(e0, "code"), "MANIFEST_UNKNOWN");
  CHECK_STR(isync_json_getstr(e0, "message"), "manifest unknown");
  const isync_json *detail = isync_json_get(e0, "detail");
  REQUIRE(detail != NULL);
  CHECK_STR(isync_json_getstr(detail, "Tag"), "nope");
  const isync_json *list = isync_json_get(detail, "list");
  REQUIRE(list != NULL && list->n == 2);
  REQUIRE(list->items[1]->n == 2);
  const isync_json *inner = list->items[1]->items[1];
  REQUIRE(inner->type == ISYNC_JARR && inner->n == 1);
  CHECK(inner->items[0]->num == 4.0);
  CHECK(list->items[0]->items[1]->num == 2.0);
  isync_json_free(j);
}

TEST(tag_list) {
  isync_json *j = parse("{\"name\":\"library/nginx\",\"tags\":[\"1.25\",\"latest\",\"stable-alpine\"]}");
  REQUIRE(j != NULL);
  CHECK_STR(isync_json_getstr(j, "name"), "library/nginx");
  const isync_json *tags = isync_json_get(j, "tags");
  REQUIRE(tags != NULL && tags->type == ISYNC_JARR);
  REQUIRE(tags->n == 3);
  CHECK_STR(tags->items[0]->str, "1.25");
  CHECK_STR(tags->items[2]->str, "stable-alpine");
  isync_json_free(j);
}

static char *parse_str(const char *doc) {
  isync_json *j = parse(doc);
  if (!j || j->type != ISYNC_JSTR) { isync_json_free(j); return NULL; }
  char *s = j->str;
  j->str = NULL;
  isync_json_free(j);
  return s;
}

TEST(simple_escapes) {
  char *s = parse_str("\"q\\\"b\\\\s\\/n\\nr\\rt\\tb\\bf\\f.\"");
  CHECK_STR(s, "q\"b\\s/n\nr\rt\tb\bf\f.");
  free(s);
  s = parse_str("\"\"");
  CHECK_STR(s, "");
  free(s);
  s = parse_str("\"a\\u0041\\u0062c\"");
  CHECK_STR(s, "aAbc");
  free(s);
}

TEST(unicode_escapes) {
  char *s = parse_str("\"caf\\u00e9\"");
  REQUIRE(s != NULL);
  CHECK_INT(strlen(s), 5);
  CHECK_MEM(s, "caf\xC3\xA9", 6);
  free(s);
  s = parse_str("\"\\u00E9\"");                 /* uppercase hex digits */
  CHECK_MEM(s, "\xC3\xA9", 3);
  free(s);
  s = parse_str("\"\\u20ac\"");                 /* three-byte form */
  CHECK_MEM(s, "\xE2\x82\xAC", 4);
  free(s);
  s = parse_str("\"\\u07ff|\\u0800\"");          /* the two-/three-byte boundary */
  CHECK_MEM(s, "\xDF\xBF|\xE0\xA0\x80", 7);
  free(s);
}

TEST(surrogate_pairs) {
  char *s = parse_str("\"\\ud83d\\ude00\"");
  REQUIRE(s != NULL);
  CHECK_INT(strlen(s), 4);
  CHECK_MEM(s, "\xF0\x9F\x98\x80", 5);
  free(s);
  s = parse_str("\"<\\uD834\\uDD1E>\"");        /* U+1D11E, uppercase */
  CHECK_MEM(s, "<\xF0\x9D\x84\x9E>", 7);
  free(s);
  s = parse_str("\"\\udbff\\udfff\"");          /* U+10FFFF, the last code point */
  CHECK_MEM(s, "\xF4\x8F\xBF\xBF", 5);
  free(s);
}

TEST(raw_utf8_passes_through) {
  char *s = parse_str("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  CHECK_STR(s, "caf\xC3\xA9 \xF0\x9F\x98\x80");
  free(s);
}

TEST(bad_escapes_rejected) {
  CHECK_REJECTS("\"\\x41\"");
  CHECK_REJECTS("\"\\a\"");
  CHECK_REJECTS("\"\\u12G4\"");
  CHECK_REJECTS("\"\\u12\"");
  CHECK_REJECTS("\"\\u\"");
  CHECK_REJECTS("\"\\");
  CHECK_REJECTS("\"abc\\\"");                   /* the only quote is escaped */
}

TEST(control_chars_in_strings_rejected) {
  CHECK_REJECTS("\"a\nb\"");
  CHECK_REJECTS("\"a\tb\"");
  CHECK_REJECTS("\"\x01\"");
  CHECK_REJECTS("\"\x1f\"");
  CHECK_REJECTS("{\"k\x02\":1}");
  CHECK_ACCEPTS("\"\x7f\"");                    /* DEL is not a control char in JSON */
  CHECK_ACCEPTS("\"a\\nb\"");                    /* escaped is fine */
}

TEST(numbers) {
  static const struct { const char *in; double want; } ok[] = {
    {"0", 0.0}, {"-0", -0.0}, {"7", 7.0}, {"-1", -1.0}, {"3.5", 3.5}, {"1e3", 1000.0},
    {"1E3", 1000.0}, {"-2.5E-2", -0.025}, {"1.5e+2", 150.0}, {"123456789", 123456789.0},
    {"0.125", 0.125},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    isync_json *j = parse(ok[i].in);
    if (!j || j->type != ISYNC_JNUM || j->num != ok[i].want)
      unit_fail(__FILE__, __LINE__, "number %s: got %s %g", ok[i].in, j ? "value" : "NULL", j ? j->num : 0.0);
    isync_json_free(j);
  }
  isync_json *j = parse("[-1,2.25]");
  REQUIRE(j != NULL && j->n == 2);
  CHECK(j->items[0]->num == -1.0);
  CHECK(j->items[1]->num == 2.25);
  isync_json_free(j);
}

TEST(bad_numbers_rejected) {
  CHECK_REJECTS("-");
  CHECK_REJECTS("1e");
  CHECK_REJECTS("1e+");
  CHECK_REJECTS("+1");
  CHECK_REJECTS(".5");
  CHECK_REJECTS("1.2.3");
  CHECK_REJECTS("1-2");
  CHECK_REJECTS("--1");
  CHECK_REJECTS("0x10");
  CHECK_REJECTS("NaN");
  CHECK_REJECTS("Infinity");
  CHECK_REJECTS("-Infinity");
  CHECK_REJECTS("[1e]");
}

TEST(literals) {
  CHECK_REJECTS("tru");
  CHECK_REJECTS("nul");
  CHECK_REJECTS("fals");
  CHECK_REJECTS("True");
  CHECK_REJECTS("NULL");
  CHECK_REJECTS("[truex]");
  CHECK_ACCEPTS("[true,false,null]");
}

TEST(trailing_garbage_rejected) {
  CHECK_REJECTS("{} x");
  CHECK_REJECTS("{}}");
  CHECK_REJECTS("[1]]");
  CHECK_REJECTS("1 2");
  CHECK_REJECTS("truex");
  CHECK_REJECTS("nullnull");
  CHECK_REJECTS("\"a\"\"b\"");
  CHECK_REJECTS("{\"a\":1}{");
  CHECK_ACCEPTS("{\"a\":1} \r\n\t ");            /* trailing whitespace is fine */
}

TEST(truncated_input_rejected) {
  static const char *cut[] = {
    "", "   ", "{", "[", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "[1,", "[1,2", "\"abc",
    "{\"a", "[[]", "{\"a\":{\"b\":[1]}",
  };
  for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) CHECK_REJECTS(cut[i]);
  /* the length bounds the parse: a complete document cut short is rejected... */
  const char *doc = "{\"a\":\"b\"}";
  isync_json *j = isync_json_parse(doc, strlen(doc) - 1);
  CHECK(j == NULL);
  isync_json_free(j);
  /* ...and bytes past the length are ignored */
  j = isync_json_parse("[1,2]garbage", 5);
  REQUIRE(j != NULL);
  CHECK_INT(j->n, 2);
  isync_json_free(j);
}

TEST(syntax_errors_rejected) {
  CHECK_REJECTS("[1,]");
  CHECK_REJECTS("[,1]");
  CHECK_REJECTS("{\"a\":1,}");
  CHECK_REJECTS("{,}");
  CHECK_REJECTS("{a:1}");
  CHECK_REJECTS("{'a':1}");
  CHECK_REJECTS("{1:2}");
  CHECK_REJECTS("{\"a\" 1}");
  CHECK_REJECTS("{\"a\":}");
  CHECK_REJECTS("{\"a\"::1}");
  CHECK_REJECTS("[1 2]");
  CHECK_REJECTS("[\"a\":1]");
  CHECK_REJECTS("}");
  CHECK_REJECTS("]");
  CHECK_REJECTS(",");
}

static char *nested(int depth, const char *open, const char *inner, const char *close) {
  size_t ol = strlen(open), il = strlen(inner), cl = strlen(close);
  char *s = malloc((size_t)depth * (ol + cl) + il + 1), *p = s;
  if (!s) return NULL;
  for (int i = 0; i < depth; i++) { memcpy(p, open, ol); p += ol; }
  memcpy(p, inner, il); p += il;
  for (int i = 0; i < depth; i++) { memcpy(p, close, cl); p += cl; }
  *p = '\0';
  return s;
}

TEST(depth_limit) {
  /* every value counts one level, so 64 arrays fit, 65 do not */
  char *s = nested(64, "[", "", "]");
  CHECK_ACCEPTS(s);
  free(s);
  s = nested(65, "[", "", "]");
  CHECK_REJECTS(s);
  free(s);
  /* a scalar innermost is a level too */
  s = nested(63, "[", "1", "]");
  CHECK_ACCEPTS(s);
  free(s);
  s = nested(64, "[", "1", "]");
  CHECK_REJECTS(s);
  free(s);
  s = nested(64, "{\"k\":", "{}", "}");
  CHECK_REJECTS(s);
  free(s);
  s = nested(63, "{\"k\":", "{}", "}");
  CHECK_ACCEPTS(s);
  free(s);
  /* far too deep must fail fast rather than exhaust the stack */
  s = nested(200000, "[", "", "]");
  CHECK_REJECTS(s);
  free(s);
}

TEST(depth_is_per_path_not_total) {
  /* many siblings at depth 60 do not add up */
  char *deep = nested(59, "[", "[1],[2],[3],[4],[5],[6],[7],[8],[9],[10]", "]");
  CHECK_ACCEPTS(deep);
  free(deep);
}

TEST(escaped_keys_and_lookup) {
  isync_json *j = parse("{\"a\\u0062\":\"x\",\"c\\\"d\":\"y\",\"\":\"empty\"}");
  REQUIRE(j != NULL);
  CHECK_STR(isync_json_getstr(j, "ab"), "x");
  CHECK_STR(isync_json_getstr(j, "c\"d"), "y");
  CHECK_STR(isync_json_getstr(j, ""), "empty");
  CHECK(isync_json_getstr(j, "a\\u0062") == NULL);
  isync_json_free(j);
}

/* arrays and objects grow geometrically: every element of lists around the growth
 * points (4, 8, ... 1024) must be kept in order */
TEST(large_array_and_object_kept_whole) {
  for (size_t count = 0; count <= 1100; count += count < 20 ? 1 : 97) {
    char *s = malloc(count * 24 + 64), *p = s;
    p += sprintf(p, "{\"tags\":[");
    for (size_t i = 0; i < count; i++) p += sprintf(p, "%s\"t%zu\"", i ? "," : "", i);
    p += sprintf(p, "],\"k\":1}");
    isync_json *j = isync_json_parse(s, (size_t)(p - s));
    REQUIRE(j != NULL);
    const isync_json *tags = isync_json_get(j, "tags");
    REQUIRE(tags && tags->type == ISYNC_JARR);
    CHECK_INT(tags->n, count);
    char want[32];
    for (size_t i = 0; i < tags->n; i++) {
      snprintf(want, sizeof want, "t%zu", i);
      if (strcmp(tags->items[i]->str, want) != 0) { CHECK_STR(tags->items[i]->str, want); break; }
    }
    CHECK(isync_json_get(j, "k") != NULL);
    isync_json_free(j);
    free(s);
  }
}

int main(void) {
  RUN(object_members);
  RUN(empty_containers);
  RUN(array_of_every_type);
  RUN(top_level_scalars);
  RUN(nesting);
  RUN(tag_list);
  RUN(simple_escapes);
  RUN(unicode_escapes);
  RUN(surrogate_pairs);
  RUN(raw_utf8_passes_through);
  RUN(bad_escapes_rejected);
  RUN(control_chars_in_strings_rejected);
  RUN(numbers);
  RUN(bad_numbers_rejected);
  RUN(literals);
  RUN(trailing_garbage_rejected);
  RUN(truncated_input_rejected);
  RUN(syntax_errors_rejected);
  RUN(depth_limit);
  RUN(depth_is_per_path_not_total);
  RUN(escaped_keys_and_lookup);
  RUN(large_array_and_object_kept_whole);
  return unit_done();
}
