/* ops.h - every registry operation, by name (no Lua). */
#ifndef ISYNC_OPS_H
#define ISYNC_OPS_H
#include "registry/op.h"

/* The descriptor of the operation called name, or NULL. */
const isync_op_desc *isync_op_find(const char *name);
/* The i-th descriptor (0-based), NULL past the last. */
const isync_op_desc *isync_op_at(size_t i);

#endif
