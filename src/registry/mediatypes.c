/* mediatypes.c - the one list of manifest media types (see mediatypes.h). */
#include "registry/mediatypes.h"
#include <stdio.h>

const isync_media_type isync_media_types[] = {
  {ISYNC_MT_OCI_INDEX, "OCI_INDEX", ISYNC_MT_INDEX, 1.0},
  {"application/vnd.oci.image.manifest.v1+json", "OCI_MANIFEST", ISYNC_MT_MANIFEST, 1.0},
  /* OCI 1.1 release candidates' artifact manifest (dropped from the final spec, still found
   * on some registries as referrers): its files are under "blobs" */
  {"application/vnd.oci.artifact.manifest.v1+json", "OCI_ARTIFACT", ISYNC_MT_ARTIFACT, 1.0},
  {"application/vnd.docker.distribution.manifest.list.v2+json", "DOCKER_LIST", ISYNC_MT_INDEX, 1.0},
  {"application/vnd.docker.distribution.manifest.v2+json", "DOCKER_MANIFEST", ISYNC_MT_MANIFEST, 1.0},
  /* schema 1, weighed less: an image that has only it is recognised and refused by name
   * (isync.copy), not reported missing */
  {"application/vnd.docker.distribution.manifest.v1+prettyjws", "DOCKER_SCHEMA1_SIGNED", ISYNC_MT_SCHEMA1, 0.5},
  {"application/vnd.docker.distribution.manifest.v1+json", "DOCKER_SCHEMA1", ISYNC_MT_SCHEMA1, 0.5},
  {NULL, NULL, ISYNC_MT_MANIFEST, 0},
};

const char *isync_mt_kind_name(isync_mt_kind kind) {
  switch (kind) {
    case ISYNC_MT_INDEX: return "index";
    case ISYNC_MT_MANIFEST: return "manifest";
    case ISYNC_MT_ARTIFACT: return "artifact";
    case ISYNC_MT_SCHEMA1: return "schema1";
  }
  return "manifest";
}

const char *isync_accept_manifests(char *buf, size_t n) {
  size_t len = (size_t)snprintf(buf, n, "Accept: ");
  for (const isync_media_type *m = isync_media_types; m->type && len < n; m++) {
    len += (size_t)snprintf(buf + len, n - len, "%s%s", m == isync_media_types ? "" : ", ", m->type);
    if (m->q < 1.0 && len < n) len += (size_t)snprintf(buf + len, n - len, ";q=%g", m->q);
  }
  return buf;
}
