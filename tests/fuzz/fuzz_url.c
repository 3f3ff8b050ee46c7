/* fuzz_url.c - URL handling: resolve a Location/Link against a base, add a query, redact.
 * Input: "BASE\nREF\nVALUE". */
#include "fuzz.h"
#include "util/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  char *s = fuzz_cstr(d, n);
  char *ref = strchr(s, '\n');
  if (ref) *ref++ = '\0'; else ref = "";
  char *val = strchr(ref, '\n');
  if (val) *val++ = '\0'; else val = "v";
  char *abs = isync_url_resolve(s, ref);
  if (abs) {
    char red[512];
    isync_url_redact(abs, red, sizeof red);
    FUZZ_ASSERT(strlen(red) < sizeof red);
    FUZZ_ASSERT(strlen(red) <= strlen(abs));
    FUZZ_ASSERT(!strchr(red, '?') && !strchr(red, '#'));
    char *q = isync_url_add_query(abs, "digest", val);
    if (q) {
      FUZZ_ASSERT(strstr(q, "digest=") != NULL);
      FUZZ_ASSERT(!strchr(q + strlen(abs), ' ') && !strchr(q + strlen(abs), '\n'));   /* encoded */
      free(q);
    }
    free(abs);
  }
  char tiny[8];
  isync_url_redact(s, tiny, sizeof tiny);
  FUZZ_ASSERT(strlen(tiny) < sizeof tiny);
  free(s);
  return 0;
}
