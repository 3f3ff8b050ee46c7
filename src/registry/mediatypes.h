/* mediatypes.h - the manifest media types isync reads, in one table: the Accept header of
 * manifest requests is built from it, and isync.manifest (Lua) derives its kinds from it
 * through core.media_types. (no Lua) */
#ifndef ISYNC_MEDIATYPES_H
#define ISYNC_MEDIATYPES_H
#include <stddef.h>

typedef enum { ISYNC_MT_INDEX, ISYNC_MT_MANIFEST, ISYNC_MT_ARTIFACT, ISYNC_MT_SCHEMA1 } isync_mt_kind;

typedef struct {
  const char *type;
  const char *name;     /* its constant in isync.manifest (OCI_INDEX, ...) */
  isync_mt_kind kind;
  double q;             /* its weight in the Accept header */
} isync_media_type;

/* In order of preference; the last entry's type is NULL. */
extern const isync_media_type isync_media_types[];

#define ISYNC_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

/* "index", "manifest", "artifact" or "schema1". */
const char *isync_mt_kind_name(isync_mt_kind kind);
/* The "Accept: ..." header line of manifest requests, written to buf (which is returned;
 * 512 bytes hold it). */
const char *isync_accept_manifests(char *buf, size_t n);

#endif
