/* fuzz_link.c - Link rel="next" (isync_parse_link_next). */
#include "fuzz.h"
#include "util/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  char *s = fuzz_cstr(d, n);
  char *next = isync_parse_link_next(s);
  if (next) FUZZ_ASSERT(strlen(next) <= strlen(s));   /* a part of the header, unquoted */
  free(next);
  free(s);
  return 0;
}
