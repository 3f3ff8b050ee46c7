/* ops.c - the table of operations: one row each, defined in op_NAME.c (or blobcopy.c). */
#include "registry/ops.h"
#include <string.h>

extern const isync_op_desc isync_op_ping, isync_op_tags, isync_op_catalog, isync_op_manifest_get, isync_op_manifest_head,
  isync_op_manifest_put, isync_op_manifest_delete, isync_op_blob_head, isync_op_blob_mount, isync_op_blob_copy, isync_op_blob_get,
  isync_op_blob_put, isync_op_referrers, isync_op_sleep;

static const isync_op_desc *const OPS[] = {
  &isync_op_ping, &isync_op_tags, &isync_op_catalog,
  &isync_op_manifest_get, &isync_op_manifest_head, &isync_op_manifest_put, &isync_op_manifest_delete,
  &isync_op_blob_head, &isync_op_blob_mount, &isync_op_blob_copy, &isync_op_blob_get, &isync_op_blob_put,
  &isync_op_referrers, &isync_op_sleep,
};

const isync_op_desc *isync_op_at(size_t i) { return i < sizeof OPS / sizeof OPS[0] ? OPS[i] : NULL; }

const isync_op_desc *isync_op_find(const char *name) {
  for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
    if (strcmp(OPS[i]->job.name, name) == 0) return OPS[i];
  return NULL;
}
