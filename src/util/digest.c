/* digest.c - sha256/sha512 digests with OpenSSL's EVP interface. */
#include "util/digest.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct isync_hasher {
  EVP_MD_CTX *ctx;
  char algo[8];
};

isync_hasher *isync_hasher_new(const char *algo) {
  const EVP_MD *md = NULL;
  if (strcmp(algo, "sha256") == 0) md = EVP_sha256();
  else if (strcmp(algo, "sha512") == 0) md = EVP_sha512();
  if (!md) return NULL;
  isync_hasher *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->ctx = EVP_MD_CTX_new();
  if (!h->ctx || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
    EVP_MD_CTX_free(h->ctx);
    free(h);
    return NULL;
  }
  snprintf(h->algo, sizeof h->algo, "%s", algo);
  return h;
}

void isync_hasher_update(isync_hasher *h, const void *p, size_t n) {
  if (n) EVP_DigestUpdate(h->ctx, p, n);
}

void isync_hasher_finish(isync_hasher *h, char *out) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(h->ctx, md, &len);
  int o = snprintf(out, ISYNC_DIGEST_MAX, "%s:", h->algo);
  for (unsigned i = 0; i < len; i++) o += snprintf(out + o, ISYNC_DIGEST_MAX - (size_t)o, "%02x", md[i]);
  isync_hasher_free(h);
}

void isync_hasher_free(isync_hasher *h) {
  if (!h) return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

int isync_digest_valid(const char *s) {
  size_t want;
  const char *hex;
  if (strncmp(s, "sha256:", 7) == 0) { want = 64; hex = s + 7; }
  else if (strncmp(s, "sha512:", 7) == 0) { want = 128; hex = s + 7; }
  else return 0;
  size_t n = 0;
  for (; hex[n]; n++)
    if (!((hex[n] >= '0' && hex[n] <= '9') || (hex[n] >= 'a' && hex[n] <= 'f'))) return 0;
  return n == want;
}

void isync_digest_of(const void *p, size_t n, const char *like, char *out) {
  const char *algo = (like && strncmp(like, "sha512:", 7) == 0) ? "sha512" : "sha256";
  isync_hasher *h = isync_hasher_new(algo);
  if (!h) { out[0] = '\0'; return; }
  isync_hasher_update(h, p, n);
  isync_hasher_finish(h, out);
}
