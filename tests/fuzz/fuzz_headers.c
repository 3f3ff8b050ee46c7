/* fuzz_headers.c - small header values: Range ("0-123", "bytes=0-123") and Retry-After
 * (seconds or an HTTP date). Input: first byte picks the parser. */
#include "fuzz.h"
#include "util/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  if (n < 1) return 0;
  char *s = fuzz_cstr(d + 1, n - 1);
  if (d[0] & 1) {
    int64_t end = -7;
    if (isync_parse_range_end(s, &end) == 0) FUZZ_ASSERT(end >= 0);
  } else {
    time_t now = 1764936000;   /* a fixed "now": 2025-12-05 */
    long v = isync_parse_retry_after(s, now);
    FUZZ_ASSERT(v >= -1);
  }
  free(s);
  return 0;
}
