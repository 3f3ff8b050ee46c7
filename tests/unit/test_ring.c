/* test_ring.c - fixed-capacity byte ring. */
#include "util/ring.h"
#include "unit.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

TEST(init_empty) {
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 16) == 0);
  CHECK(r.data != NULL);
  CHECK_INT(r.cap, 16);
  CHECK_INT(r.used, 0);
  CHECK_INT(isync_ring_free_space(&r), 16);
  char out[4];
  CHECK_INT(isync_ring_read(&r, out, sizeof out), 0);
  isync_ring_free(&r);
  CHECK(r.data == NULL);
  CHECK_INT(r.cap, 0);
}

TEST(write_then_read) {
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 16) == 0);
  CHECK_INT(isync_ring_write(&r, "hello", 5), 5);
  CHECK_INT(isync_ring_free_space(&r), 11);
  char out[16] = {0};
  CHECK_INT(isync_ring_read(&r, out, 5), 5);
  CHECK_MEM(out, "hello", 5);
  CHECK_INT(isync_ring_free_space(&r), 16);
  isync_ring_free(&r);
}

TEST(all_or_nothing_write) {
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 8) == 0);
  CHECK_INT(isync_ring_write(&r, "abcde", 5), 5);
  CHECK_INT(isync_ring_write(&r, "WXYZ", 4), 0);    /* 4 > 3 free: nothing written */
  CHECK_INT(isync_ring_free_space(&r), 3);
  CHECK_INT(isync_ring_write(&r, "fgh", 3), 3);     /* exactly fills */
  CHECK_INT(isync_ring_free_space(&r), 0);
  CHECK_INT(isync_ring_write(&r, "i", 1), 0);
  CHECK_INT(isync_ring_write(&r, "0123456789", 10), 0);   /* larger than the ring */
  char out[8];
  CHECK_INT(isync_ring_read(&r, out, 8), 8);
  CHECK_MEM(out, "abcdefgh", 8);                    /* the rejected bytes never got in */
  isync_ring_free(&r);
}

TEST(write_larger_than_capacity_on_empty_ring) {
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 4) == 0);
  CHECK_INT(isync_ring_write(&r, "abcde", 5), 0);
  CHECK_INT(r.used, 0);
  CHECK_INT(isync_ring_write(&r, "abcd", 4), 4);
  CHECK_INT(isync_ring_free_space(&r), 0);
  isync_ring_free(&r);
}

TEST(partial_read) {
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 32) == 0);
  CHECK_INT(isync_ring_write(&r, "0123456789", 10), 10);
  char out[32];
  CHECK_INT(isync_ring_read(&r, out, 3), 3);
  CHECK_MEM(out, "012", 3);
  CHECK_INT(isync_ring_read(&r, out, 100), 7);      /* asks for more than is there */
  CHECK_MEM(out, "3456789", 7);
  CHECK_INT(isync_ring_read(&r, out, 5), 0);
  CHECK_INT(isync_ring_free_space(&r), 32);
  isync_ring_free(&r);
}

TEST(read_zero_bytes) {
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 8) == 0);
  CHECK_INT(isync_ring_write(&r, "ab", 2), 2);
  char out[2] = {'x', 'y'};
  CHECK_INT(isync_ring_read(&r, out, 0), 0);
  CHECK_INT(out[0], 'x');
  CHECK_INT(r.used, 2);
  CHECK_INT(isync_ring_read(&r, out, 2), 2);
  CHECK_MEM(out, "ab", 2);
  isync_ring_free(&r);
}

TEST(wraparound_write_and_read) {
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 8) == 0);
  char out[8];
  CHECK_INT(isync_ring_write(&r, "abcdef", 6), 6);
  CHECK_INT(isync_ring_read(&r, out, 4), 4);
  CHECK_MEM(out, "abcd", 4);
  /* 2 bytes sit at offsets 4-5; the next 5 go to 6,7 then wrap to 0,1,2 */
  CHECK_INT(isync_ring_write(&r, "ghijk", 5), 5);
  CHECK(r.head + r.used > r.cap);   /* the data really straddles the end */
  CHECK_INT(isync_ring_free_space(&r), 1);
  CHECK_INT(isync_ring_read(&r, out, 8), 7);
  CHECK_MEM(out, "efghijk", 7);
  isync_ring_free(&r);
}

TEST(wraparound_read_in_pieces) {
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 5) == 0);
  char out[5];
  CHECK_INT(isync_ring_write(&r, "1234", 4), 4);
  CHECK_INT(isync_ring_read(&r, out, 3), 3);
  CHECK_INT(isync_ring_write(&r, "5678", 4), 4);   /* fills to capacity across the end */
  CHECK_INT(isync_ring_free_space(&r), 0);
  CHECK_INT(isync_ring_read(&r, out, 1), 1);
  CHECK_INT(out[0], '4');
  CHECK_INT(isync_ring_read(&r, out, 1), 1);       /* read that crosses the end */
  CHECK_INT(out[0], '5');
  CHECK_INT(isync_ring_read(&r, out, 5), 3);
  CHECK_MEM(out, "678", 3);
  isync_ring_free(&r);
}

TEST(capacity_one) {
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 1) == 0);
  char c = 0;
  for (int i = 0; i < 10; i++) {
    char in = (char)('a' + i);
    CHECK_INT(isync_ring_write(&r, &in, 1), 1);
    CHECK_INT(isync_ring_write(&r, "z", 1), 0);
    CHECK_INT(isync_ring_read(&r, &c, 1), 1);
    CHECK_INT(c, in);
  }
  isync_ring_free(&r);
}

/* Fill/drain cycles with random sizes against a reference model: the ring must behave
 * exactly like an unbounded FIFO of `cap` bytes with all-or-nothing writes. */
static uint32_t rng_state;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}
static unsigned char stream_byte(uint64_t i) { return (unsigned char)((i * 2654435761u) >> 7); }

static int model_run(size_t cap, int steps, uint32_t seed, char *why, size_t whysz) {
  isync_ring r;
  if (isync_ring_init(&r, cap) != 0) { snprintf(why, whysz, "init failed"); return -1; }
  rng_state = seed;
  uint64_t written = 0, readn = 0;   /* stream positions of the writer and the reader */
  size_t maxchunk = cap + cap / 2 + 2;
  unsigned char *in = malloc(maxchunk), *out = malloc(maxchunk);
  int rc = 0, wraps = 0;
  for (int step = 0; step < steps && rc == 0; step++) {
    size_t used = (size_t)(written - readn);
    size_t n = rng() % maxchunk;
    if (rng() % 2) {
      for (size_t i = 0; i < n; i++) in[i] = stream_byte(written + i);
      size_t want = n <= cap - used ? n : 0;
      size_t start = (r.head + r.used) % cap;
      size_t got = isync_ring_write(&r, in, n);
      if (got != want) {
        snprintf(why, whysz, "step %d: write(%zu) with %zu used returned %zu, want %zu", step, n, used, got, want);
        rc = -1;
      }
      if (got && (start + got > cap || start < r.head)) wraps++;   /* split, or tail behind head */
      written += got;
    } else {
      size_t want = n < used ? n : used;
      memset(out, 0, maxchunk);
      size_t got = isync_ring_read(&r, out, n);
      if (got != want) {
        snprintf(why, whysz, "step %d: read(%zu) with %zu used returned %zu, want %zu", step, n, used, got, want);
        rc = -1;
      }
      for (size_t i = 0; i < got && rc == 0; i++)
        if (out[i] != stream_byte(readn + i)) {
          snprintf(why, whysz, "step %d: byte %zu of read is %02x, want %02x", step, i, out[i], stream_byte(readn + i));
          rc = -1;
        }
      readn += got;
    }
    if (rc == 0 && isync_ring_free_space(&r) != cap - (size_t)(written - readn)) {
      snprintf(why, whysz, "step %d: free space %zu, want %zu", step, isync_ring_free_space(&r),
               cap - (size_t)(written - readn));
      rc = -1;
    }
  }
  if (rc == 0 && cap > 1 && wraps == 0) { snprintf(why, whysz, "no write wrapped around; the test is too weak"); rc = -1; }
  if (rc == 0 && readn < (uint64_t)steps / 20) { snprintf(why, whysz, "only %llu bytes went through", (unsigned long long)readn); rc = -1; }
  free(in);
  free(out);
  isync_ring_free(&r);
  return rc;
}

TEST(random_against_model) {
  static const size_t caps[] = {1, 2, 3, 7, 8, 64, 100, 4096};
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    char why[256] = "";
    int rc = model_run(caps[i], 20000, 0x9E3779B9u + (uint32_t)i, why, sizeof why);
    if (rc != 0) unit_fail(__FILE__, __LINE__, "cap %zu: %s", caps[i], why);
  }
}

TEST(drained_ring_restarts_at_zero) {
  /* once empty, a full-capacity write must fit in one piece again */
  isync_ring r;
  REQUIRE(isync_ring_init(&r, 6) == 0);
  char out[6];
  CHECK_INT(isync_ring_write(&r, "abc", 3), 3);
  CHECK_INT(isync_ring_read(&r, out, 3), 3);
  CHECK_INT(isync_ring_write(&r, "uvwxyz", 6), 6);
  CHECK_INT(isync_ring_read(&r, out, 6), 6);
  CHECK_MEM(out, "uvwxyz", 6);
  isync_ring_free(&r);
}

TEST(freed_buffer_is_reused_by_a_ring_of_its_size) {
  isync_ring_pool_drain();
  isync_ring a, b, c;
  REQUIRE(isync_ring_init(&a, 8192) == 0);
  char *first = a.data;
  CHECK_INT(isync_ring_write(&a, "abc", 3), 3);
  isync_ring_free(&a);
  REQUIRE(isync_ring_init(&b, 4096) == 0);   /* another size: a buffer of its own */
  CHECK(b.data != first);
  REQUIRE(isync_ring_init(&c, 8192) == 0);   /* the same size: the pooled buffer, empty */
  CHECK(c.data == first);
  CHECK_INT(c.used, 0);
  CHECK_INT(c.head, 0);
  CHECK_INT(isync_ring_free_space(&c), 8192);
  isync_ring_free(&b);
  isync_ring_free(&c);
  isync_ring_pool_drain();
}

TEST(only_rings_up_to_1_MiB_are_pooled) {
  isync_ring_pool_drain();
  isync_ring a, b;
  REQUIRE(isync_ring_init(&a, 4u << 20) == 0);
  REQUIRE(isync_ring_init(&b, 1u << 20) == 0);
  isync_ring_free(&a);   /* unmapped at once: a big buffer_size must not stay resident */
  isync_ring_free(&b);
  CHECK_INT(isync_ring_pool_drain(), 1);
  CHECK_INT(isync_ring_pool_drain(), 0);
}

int main(void) {
  RUN(init_empty);
  RUN(write_then_read);
  RUN(all_or_nothing_write);
  RUN(write_larger_than_capacity_on_empty_ring);
  RUN(partial_read);
  RUN(read_zero_bytes);
  RUN(wraparound_write_and_read);
  RUN(wraparound_read_in_pieces);
  RUN(capacity_one);
  RUN(random_against_model);
  RUN(drained_ring_restarts_at_zero);
  RUN(freed_buffer_is_reused_by_a_ring_of_its_size);
  RUN(only_rings_up_to_1_MiB_are_pooled);
  return unit_done();
}
