/* fuzz_challenge.c - WWW-Authenticate parsing (isync_parse_challenges). */
#include "fuzz.h"
#include "util/parse.h"
#include <ctype.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  char *s = fuzz_cstr(d, n);
  isync_challenge ch[4];
  int k = isync_parse_challenges(s, ch, 4);
  FUZZ_ASSERT(k >= -1 && k <= 4);
  for (int i = 0; i < k; i++) {
    for (const char *p = ch[i].scheme; *p; p++) FUZZ_ASSERT(!isupper((unsigned char)*p));
    FUZZ_ASSERT(ch[i].nparams >= 0 && ch[i].nparams <= ISYNC_CHAL_PARAMS);
    for (int j = 0; j < ch[i].nparams; j++) {
      for (const char *p = ch[i].names[j]; *p; p++) FUZZ_ASSERT(!isupper((unsigned char)*p));
      FUZZ_ASSERT(isync_challenge_param(&ch[i], ch[i].names[j]) != NULL);
    }
    isync_challenge_param(&ch[i], "realm");
    isync_challenge_free(&ch[i]);
  }
  free(s);
  return 0;
}
