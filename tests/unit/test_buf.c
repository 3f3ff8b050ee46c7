/* test_buf.c - growable byte buffer. */
#include "util/buf.h"
#include "unit.h"
#include <stdlib.h>
#include <string.h>

TEST(init_is_empty) {
  isync_buf b;
  memset(&b, 0xAB, sizeof b);
  isync_buf_init(&b, 77);
  CHECK(b.data == NULL);
  CHECK_INT(b.len, 0);
  CHECK_INT(b.cap, 0);
  CHECK_INT(b.limit, 77);
  CHECK_INT(b.overflow, 0);
}

TEST(append_nul_terminates) {
  isync_buf b;
  isync_buf_init(&b, 0);
  CHECK_INT(isync_buf_append(&b, "hello", 5), 0);
  REQUIRE(b.data != NULL);
  CHECK_INT(b.len, 5);
  CHECK_STR(b.data, "hello");
  CHECK_INT(isync_buf_append(&b, ", world", 7), 0);
  CHECK_INT(b.len, 12);
  CHECK_STR(b.data, "hello, world");
  CHECK(b.cap > b.len);
  isync_buf_free(&b);
}

TEST(append_empty) {
  isync_buf b;
  isync_buf_init(&b, 0);
  CHECK_INT(isync_buf_append(&b, NULL, 0), 0);
  CHECK_INT(b.len, 0);
  REQUIRE(b.data != NULL);   /* the data is a readable string even when empty */
  CHECK_STR(b.data, "");
  CHECK_INT(isync_buf_append(&b, "x", 1), 0);
  CHECK_INT(isync_buf_append(&b, "", 0), 0);
  CHECK_INT(b.len, 1);
  CHECK_STR(b.data, "x");
  isync_buf_free(&b);
}

TEST(binary_data_kept) {
  isync_buf b;
  isync_buf_init(&b, 0);
  const char bin[] = {'a', 0, 'b', 0, (char)0xff};
  CHECK_INT(isync_buf_append(&b, bin, sizeof bin), 0);
  CHECK_INT(b.len, 5);
  REQUIRE(b.data != NULL);
  CHECK_MEM(b.data, bin, sizeof bin);
  CHECK_INT(b.data[5], 0);
  isync_buf_free(&b);
}

TEST(grows_across_many_appends) {
  isync_buf b;
  isync_buf_init(&b, 0);
  char *want = malloc(100000);
  REQUIRE(want != NULL);
  size_t wlen = 0;
  unsigned x = 1;
  int rc = 0;
  while (wlen < 90000) {
    char chunk[700];
    size_t n = (x = x * 1103515245u + 12345u) % sizeof chunk;
    for (size_t i = 0; i < n; i++) chunk[i] = (char)('a' + (wlen + i) % 26);
    rc |= isync_buf_append(&b, chunk, n);
    memcpy(want + wlen, chunk, n);
    wlen += n;
  }
  CHECK_INT(rc, 0);
  CHECK_INT(b.len, wlen);
  CHECK(b.cap >= b.len + 1);
  REQUIRE(b.data != NULL);
  CHECK(memcmp(b.data, want, wlen) == 0);
  CHECK_INT(b.data[b.len], 0);
  free(want);
  isync_buf_free(&b);
}

TEST(one_big_append) {
  isync_buf b;
  isync_buf_init(&b, 0);
  char big[5000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('A' + i % 23);
  CHECK_INT(isync_buf_append(&b, "xy", 2), 0);
  CHECK_INT(isync_buf_append(&b, big, sizeof big), 0);
  CHECK_INT(b.len, 2 + sizeof big);
  REQUIRE(b.data != NULL);
  CHECK_MEM(b.data, "xy", 2);
  CHECK(memcmp(b.data + 2, big, sizeof big) == 0);
  CHECK_INT(b.data[b.len], 0);
  isync_buf_free(&b);
}

TEST(limit_exact_fit_then_overflow) {
  isync_buf b;
  isync_buf_init(&b, 10);
  CHECK_INT(isync_buf_append(&b, "0123456", 7), 0);
  CHECK_INT(isync_buf_append(&b, "789", 3), 0);   /* exactly at the limit */
  CHECK_INT(b.len, 10);
  CHECK_INT(b.overflow, 0);
  CHECK_INT(isync_buf_append(&b, "", 0), 0);      /* nothing more is still fine */
  CHECK_INT(b.overflow, 0);
  CHECK_INT(isync_buf_append(&b, "X", 1), -1);
  CHECK_INT(b.overflow, 1);
  CHECK_INT(b.len, 10);                           /* the failed append left no trace */
  CHECK_STR(b.data, "0123456789");
  isync_buf_free(&b);
}

TEST(limit_rejects_whole_oversized_append) {
  isync_buf b;
  isync_buf_init(&b, 4);
  CHECK_INT(isync_buf_append(&b, "abcde", 5), -1);
  CHECK_INT(b.overflow, 1);
  CHECK_INT(b.len, 0);
  CHECK_INT(isync_buf_append(&b, "ab", 2), 0);    /* still usable below the limit */
  CHECK_INT(isync_buf_append(&b, "cde", 3), -1);
  CHECK_INT(b.len, 2);
  CHECK_STR(b.data, "ab");
  isync_buf_free(&b);
}

TEST(appendf_small) {
  isync_buf b;
  isync_buf_init(&b, 0);
  CHECK_INT(isync_buf_appendf(&b, "%d-%s-%c", 42, "x", 'z'), 0);
  CHECK_INT(isync_buf_appendf(&b, "|%05.1f", 3.5), 0);
  CHECK_STR(b.data, "42-x-z|003.5");
  CHECK_INT(b.len, strlen("42-x-z|003.5"));
  isync_buf_free(&b);
}

TEST(appendf_larger_than_stack_buffer) {
  isync_buf b;
  isync_buf_init(&b, 0);
  char s[3001];
  for (size_t i = 0; i < 3000; i++) s[i] = (char)('a' + i % 26);
  s[3000] = '\0';
  CHECK_INT(isync_buf_appendf(&b, "<%s>%d", s, 7), 0);
  CHECK_INT(b.len, 3003);
  REQUIRE(b.data != NULL && b.len == 3003);
  CHECK_INT(b.data[0], '<');
  CHECK(memcmp(b.data + 1, s, 3000) == 0);
  CHECK_STR(b.data + 3001, ">7");
  /* exactly at the 512-byte boundary of the stack buffer */
  isync_buf_reset(&b);
  char t[513];
  memset(t, 'q', 512);
  t[512] = '\0';
  CHECK_INT(isync_buf_appendf(&b, "%s", t), 0);
  CHECK_INT(b.len, 512);
  CHECK_STR(b.data, t);
  t[511] = '\0';
  isync_buf_reset(&b);
  CHECK_INT(isync_buf_appendf(&b, "%s", t), 0);
  CHECK_INT(b.len, 511);
  CHECK_STR(b.data, t);
  isync_buf_free(&b);
}

TEST(appendf_respects_limit) {
  isync_buf b;
  isync_buf_init(&b, 5);
  CHECK_INT(isync_buf_appendf(&b, "%s", "abc"), 0);
  CHECK_INT(isync_buf_appendf(&b, "%d", 123), -1);
  CHECK_INT(b.overflow, 1);
  CHECK_STR(b.data, "abc");
  char big[1000];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  isync_buf_reset(&b);
  CHECK_INT(isync_buf_appendf(&b, "%s", big), -1);
  CHECK_INT(b.len, 0);
  isync_buf_free(&b);
}

TEST(reset_keeps_storage_and_limit) {
  isync_buf b;
  isync_buf_init(&b, 8);
  CHECK_INT(isync_buf_append(&b, "12345678", 8), 0);
  CHECK_INT(isync_buf_append(&b, "9", 1), -1);
  CHECK_INT(b.overflow, 1);
  char *before = b.data;
  size_t cap = b.cap;
  isync_buf_reset(&b);
  CHECK_INT(b.len, 0);
  CHECK_INT(b.overflow, 0);
  CHECK_INT(b.limit, 8);
  CHECK(b.data == before);
  CHECK_INT(b.cap, cap);
  CHECK_STR(b.data, "");
  CHECK_INT(isync_buf_append(&b, "abc", 3), 0);
  CHECK_STR(b.data, "abc");
  isync_buf_free(&b);
  isync_buf_reset(&b);   /* reset of a freed buffer must not touch NULL data */
  CHECK(b.data == NULL);
}

TEST(free_keeps_limit) {
  isync_buf b;
  isync_buf_init(&b, 3);
  CHECK_INT(isync_buf_append(&b, "ab", 2), 0);
  isync_buf_free(&b);
  CHECK(b.data == NULL);
  CHECK_INT(b.len, 0);
  CHECK_INT(b.cap, 0);
  CHECK_INT(b.limit, 3);
  CHECK_INT(isync_buf_append(&b, "abcd", 4), -1);   /* limit still enforced */
  CHECK_INT(isync_buf_append(&b, "abc", 3), 0);
  CHECK_STR(b.data, "abc");
  isync_buf_free(&b);
  isync_buf_free(&b);   /* freeing twice is harmless */
  CHECK(b.data == NULL);
}

TEST(steal_hands_over_data) {
  isync_buf b;
  isync_buf_init(&b, 100);
  CHECK_INT(isync_buf_append(&b, "token", 5), 0);
  char *s = isync_buf_steal(&b);
  CHECK_STR(s, "token");
  CHECK(b.data == NULL);
  CHECK_INT(b.len, 0);
  CHECK_INT(b.cap, 0);
  CHECK_INT(b.limit, 100);
  CHECK(isync_buf_steal(&b) == NULL);   /* nothing left to hand over */
  CHECK_INT(isync_buf_append(&b, "again", 5), 0);
  CHECK_STR(b.data, "again");
  CHECK(b.data != s);
  CHECK_STR(s, "token");                /* the stolen copy is independent */
  free(s);
  isync_buf_free(&b);
}

int main(void) {
  RUN(init_is_empty);
  RUN(append_nul_terminates);
  RUN(append_empty);
  RUN(binary_data_kept);
  RUN(grows_across_many_appends);
  RUN(one_big_append);
  RUN(limit_exact_fit_then_overflow);
  RUN(limit_rejects_whole_oversized_append);
  RUN(appendf_small);
  RUN(appendf_larger_than_stack_buffer);
  RUN(appendf_respects_limit);
  RUN(reset_keeps_storage_and_limit);
  RUN(free_keeps_limit);
  RUN(steal_hands_over_data);
  return unit_done();
}
