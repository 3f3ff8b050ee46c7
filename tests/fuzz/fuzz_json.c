/* fuzz_json.c - the C JSON reader (token answers, error bodies, tag lists). */
#include "fuzz.h"
#include "util/json.h"

/* A structural fingerprint: parsing the same bytes twice must give the same tree. */
static uint64_t walk(const isync_json *j, int depth) {
  FUZZ_ASSERT(depth <= 66);
  uint64_t h = (uint64_t)j->type * 1000003u;
  if (j->type == ISYNC_JSTR) { FUZZ_ASSERT(j->str != NULL); h ^= strlen(j->str); }
  if (j->type == ISYNC_JARR || j->type == ISYNC_JOBJ) {
    for (size_t i = 0; i < j->n; i++) {
      if (j->type == ISYNC_JOBJ) FUZZ_ASSERT(j->items[i]->key != NULL);
      h = h * 31 + walk(j->items[i], depth + 1);
    }
  }
  return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  isync_json *a = isync_json_parse((const char *)d, n);
  isync_json *b = isync_json_parse((const char *)d, n);
  FUZZ_ASSERT((a == NULL) == (b == NULL));
  if (a) {
    FUZZ_ASSERT(walk(a, 0) == walk(b, 0));
    isync_json_getstr(a, "token");
    isync_json_get(a, "expires_in");
    isync_json_get(a, "tags");
  }
  isync_json_free(a);
  isync_json_free(b);
  return 0;
}
