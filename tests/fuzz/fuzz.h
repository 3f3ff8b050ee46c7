/* fuzz.h - shared bits of the libFuzzer harnesses: input as a C string, invariant checks
 * that abort (so libFuzzer keeps the input as a crash). */
#ifndef ISYNC_FUZZ_H
#define ISYNC_FUZZ_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(c) \
  do { if (!(c)) { fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

/* The input, NUL-terminated, cut at its first NUL as a header value would be. */
static inline char *fuzz_cstr(const uint8_t *d, size_t n) {
  char *s = malloc(n + 1);
  if (!s) abort();
  memcpy(s, d, n);
  s[n] = '\0';
  return s;
}

#endif
