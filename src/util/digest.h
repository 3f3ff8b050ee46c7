/* digest.h - content digests ("sha256:<hex>") computed while streaming (no Lua). */
#ifndef ISYNC_DIGEST_H
#define ISYNC_DIGEST_H
#include <stddef.h>

#define ISYNC_DIGEST_MAX 140   /* "sha512:" + 128 hex + NUL, rounded up */

typedef struct isync_hasher isync_hasher;

/* algo: "sha256" or "sha512"; NULL when unsupported. */
isync_hasher *isync_hasher_new(const char *algo);
void isync_hasher_update(isync_hasher *h, const void *p, size_t n);
/* Writes "algo:hex" into out (ISYNC_DIGEST_MAX bytes). The hasher is freed. */
void isync_hasher_finish(isync_hasher *h, char *out);
void isync_hasher_free(isync_hasher *h);

/* 1 if s is a well-formed digest we can verify (sha256/sha512, lowercase hex of right length). */
int isync_digest_valid(const char *s);
/* Computes the digest of a buffer with the algorithm named in `like` (default sha256). */
void isync_digest_of(const void *p, size_t n, const char *like, char *out);

#endif
