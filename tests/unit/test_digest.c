/* test_digest.c - sha256/sha512 digests and digest string validation. */
#include "util/digest.h"
#include "unit.h"
#include <stdlib.h>
#include <string.h>

#define SHA256_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA512_ABC "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" \
                   "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
#define SHA512_EMPTY "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" \
                     "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"

static void hash_str(const char *algo, const char *s, char *out) {
  isync_hasher *h = isync_hasher_new(algo);
  if (!h) { strcpy(out, "(no hasher)"); return; }
  isync_hasher_update(h, s, strlen(s));
  isync_hasher_finish(h, out);
}

TEST(sha256_known_vectors) {
  char out[ISYNC_DIGEST_MAX];
  hash_str("sha256", "", out);
  CHECK_STR(out, SHA256_EMPTY);
  hash_str("sha256", "abc", out);
  CHECK_STR(out, SHA256_ABC);
  hash_str("sha256", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", out);
  CHECK_STR(out, "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(sha512_known_vectors) {
  char out[ISYNC_DIGEST_MAX];
  hash_str("sha512", "abc", out);
  CHECK_STR(out, SHA512_ABC);
  CHECK_INT(strlen(out), 7 + 128);
  hash_str("sha512", "", out);
  CHECK_STR(out, SHA512_EMPTY);
}

TEST(digest_of_one_shot) {
  char out[ISYNC_DIGEST_MAX];
  isync_digest_of("abc", 3, NULL, out);
  CHECK_STR(out, SHA256_ABC);
  isync_digest_of("abc", 3, SHA256_EMPTY, out);
  CHECK_STR(out, SHA256_ABC);
  isync_digest_of("abc", 3, "sha512:whatever", out);   /* only the algorithm of `like` matters */
  CHECK_STR(out, SHA512_ABC);
  isync_digest_of("abc", 3, "md5:900150983cd24fb0d6963f7d28e17f72", out);   /* unknown: default */
  CHECK_STR(out, SHA256_ABC);
  isync_digest_of(NULL, 0, NULL, out);
  CHECK_STR(out, SHA256_EMPTY);
}

TEST(million_a_streamed) {
  char chunk[1000];
  memset(chunk, 'a', sizeof chunk);
  isync_hasher *h = isync_hasher_new("sha256");
  REQUIRE(h != NULL);
  for (int i = 0; i < 1000; i++) isync_hasher_update(h, chunk, sizeof chunk);
  char out[ISYNC_DIGEST_MAX];
  isync_hasher_finish(h, out);
  CHECK_STR(out, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(streaming_in_pieces_equals_one_shot) {
  enum { N = 10007 };
  unsigned char *data = malloc(N);
  REQUIRE(data != NULL);
  unsigned x = 12345;
  for (int i = 0; i < N; i++) data[i] = (unsigned char)((x = x * 1664525u + 1013904223u) >> 24);
  static const char *algos[] = {"sha256", "sha512"};
  static const size_t pieces[] = {1, 3, 63, 64, 65, 127, 128, 129, 1000, 4096, N};
  for (int a = 0; a < 2; a++) {
    char whole[ISYNC_DIGEST_MAX], like[16];
    snprintf(like, sizeof like, "%s:", algos[a]);
    isync_digest_of(data, N, like, whole);
    CHECK(strncmp(whole, like, strlen(like)) == 0);
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
      isync_hasher *h = isync_hasher_new(algos[a]);
      REQUIRE(h != NULL);
      size_t off = 0;
      while (off < N) {
        size_t n = N - off < pieces[k] ? N - off : pieces[k];
        isync_hasher_update(h, data + off, n);
        isync_hasher_update(h, data + off + n, 0);   /* empty updates change nothing */
        off += n;
      }
      char got[ISYNC_DIGEST_MAX];
      isync_hasher_finish(h, got);
      if (strcmp(got, whole) != 0)
        unit_fail(__FILE__, __LINE__, "%s in pieces of %zu: %s != %s", algos[a], pieces[k], got, whole);
    }
  }
  /* and a different input gives a different digest */
  char d1[ISYNC_DIGEST_MAX], d2[ISYNC_DIGEST_MAX];
  isync_digest_of(data, N, NULL, d1);
  data[N / 2] ^= 1;
  isync_digest_of(data, N, NULL, d2);
  CHECK(strcmp(d1, d2) != 0);
  free(data);
}

TEST(unsupported_algorithms) {
  CHECK(isync_hasher_new("md5") == NULL);
  CHECK(isync_hasher_new("sha1") == NULL);
  CHECK(isync_hasher_new("SHA256") == NULL);
  CHECK(isync_hasher_new("sha256:") == NULL);
  CHECK(isync_hasher_new("") == NULL);
  isync_hasher *h = isync_hasher_new("sha512");
  CHECK(h != NULL);
  isync_hasher_update(h, "partial", 7);
  isync_hasher_free(h);       /* abandoning a hasher frees it (ASan checks for leaks) */
  isync_hasher_free(NULL);
}

TEST(computed_digests_are_valid) {
  char out[ISYNC_DIGEST_MAX];
  isync_digest_of("x", 1, NULL, out);
  CHECK_INT(isync_digest_valid(out), 1);
  isync_digest_of("x", 1, "sha512:", out);
  CHECK_INT(isync_digest_valid(out), 1);
}

TEST(digest_valid_accepts) {
  CHECK_INT(isync_digest_valid(SHA256_EMPTY), 1);
  CHECK_INT(isync_digest_valid(SHA256_ABC), 1);
  CHECK_INT(isync_digest_valid(SHA512_ABC), 1);
  CHECK_INT(isync_digest_valid("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), 1);
}

TEST(digest_valid_rejects) {
  /* uppercase hex */
  CHECK_INT(isync_digest_valid("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"), 0);
  CHECK_INT(isync_digest_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85A"), 0);
  /* wrong length: 63, 65, empty, and the other algorithm's length */
  CHECK_INT(isync_digest_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"), 0);
  CHECK_INT(isync_digest_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550"), 0);
  CHECK_INT(isync_digest_valid("sha256:"), 0);
  CHECK_INT(isync_digest_valid("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), 0);
  CHECK_INT(isync_digest_valid("sha256:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                               "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"), 0);
  /* non-hex characters */
  CHECK_INT(isync_digest_valid("sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), 0);
  CHECK_INT(isync_digest_valid("sha256: 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), 0);
  /* unknown or misspelled algorithm */
  CHECK_INT(isync_digest_valid("md5:900150983cd24fb0d6963f7d28e17f72"), 0);
  CHECK_INT(isync_digest_valid("sha384:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), 0);
  CHECK_INT(isync_digest_valid("SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), 0);
  /* missing colon, or no algorithm at all */
  CHECK_INT(isync_digest_valid("sha256e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), 0);
  CHECK_INT(isync_digest_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), 0);
  CHECK_INT(isync_digest_valid(":e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), 0);
  CHECK_INT(isync_digest_valid(""), 0);
  CHECK_INT(isync_digest_valid("sha256"), 0);
}

int main(void) {
  RUN(sha256_known_vectors);
  RUN(sha512_known_vectors);
  RUN(digest_of_one_shot);
  RUN(million_a_streamed);
  RUN(streaming_in_pieces_equals_one_shot);
  RUN(unsupported_algorithms);
  RUN(computed_digests_are_valid);
  RUN(digest_valid_accepts);
  RUN(digest_valid_rejects);
  return unit_done();
}
