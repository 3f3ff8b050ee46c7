/* fuzz_ref.c - image references and digests (isync_ref_parse, name and digest rules). */
#include "util/digest.h"
#include "fuzz.h"
#include "util/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  char *s = fuzz_cstr(d, n);
  isync_ref r;
  char err[512];
  if (isync_ref_parse(s, &r, err, sizeof err) == 0) {
    FUZZ_ASSERT(r.registry && r.repo);
    FUZZ_ASSERT(isync_repo_valid(r.repo));
    FUZZ_ASSERT(!r.tag || isync_tag_valid(r.tag));
    FUZZ_ASSERT(!r.digest || isync_digest_valid(r.digest));
    isync_registry_api_host(r.registry);
    isync_registry_is_dockerhub(r.registry);
    isync_ref_free(&r);
  } else {
    FUZZ_ASSERT(err[0] != '\0' && !strchr(err, '\n'));
  }
  isync_repo_valid(s);
  isync_tag_valid(s);
  isync_digest_valid(s);
  free(s);
  return 0;
}
