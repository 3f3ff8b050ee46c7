/* test_mediatypes.c - the one list of manifest media types and the Accept header built from it. */
#include "registry/mediatypes.h"
#include "unit.h"
#include <string.h>

/* the header ops.c sent before the list moved here: registries see the same request */
TEST(accept_header_is_unchanged) {
  char buf[512];
  CHECK_STR(isync_accept_manifests(buf, sizeof buf),
            "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
            "application/vnd.oci.artifact.manifest.v1+json, "
            "application/vnd.docker.distribution.manifest.list.v2+json, "
            "application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5, "
            "application/vnd.docker.distribution.manifest.v1+json;q=0.5");
}

TEST(accept_header_is_bounded) {
  char small[40];
  memset(small, 'X', sizeof small);
  isync_accept_manifests(small, sizeof small);
  CHECK_INT(strlen(small), sizeof small - 1);   /* truncated, still terminated */
}

TEST(every_type_has_a_kind_and_a_name) {
  int n = 0, index = 0;
  for (const isync_media_type *m = isync_media_types; m->type; m++, n++) {
    CHECK(strncmp(m->type, "application/vnd.", 16) == 0);
    CHECK(m->name && *m->name);
    CHECK(m->q > 0 && m->q <= 1);
    if (m->kind == ISYNC_MT_INDEX) index++;
  }
  CHECK_INT(n, 7);
  CHECK_INT(index, 2);
  CHECK_STR(isync_media_types[0].type, ISYNC_MT_OCI_INDEX);
  CHECK_STR(isync_mt_kind_name(ISYNC_MT_INDEX), "index");
  CHECK_STR(isync_mt_kind_name(ISYNC_MT_MANIFEST), "manifest");
  CHECK_STR(isync_mt_kind_name(ISYNC_MT_ARTIFACT), "artifact");
  CHECK_STR(isync_mt_kind_name(ISYNC_MT_SCHEMA1), "schema1");
}

int main(void) {
  RUN(accept_header_is_unchanged);
  RUN(accept_header_is_bounded);
  RUN(every_type_has_a_kind_and_a_name);
  return unit_done();
}
