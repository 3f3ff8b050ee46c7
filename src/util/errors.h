/* errors.h - the stable error codes shared by C and Lua (no Lua). */
#ifndef ISYNC_ERRORS_H
#define ISYNC_ERRORS_H
#include <curl/curl.h>

/* What a caller can do about a failure with this code. */
typedef enum {
  ISYNC_TRANSIENT,   /* the same request may succeed later: retry with backoff */
  ISYNC_PERMANENT,   /* the registry or the image says no: retrying will not help */
  ISYNC_USAGE,       /* the input given to isync is wrong: a rule, a reference, a pattern */
  ISYNC_LOCAL,       /* this machine: memory, a local file, a run stopped or interrupted */
} isync_code_class;

typedef struct {
  const char *code;        /* "MANIFEST_UNKNOWN": what Lua sees as the third value */
  isync_code_class cls;
  const char *meaning;     /* one line, for documentation and isync.code_info */
  int registry_sent;       /* an OCI distribution code a registry may put in an error body */
} isync_code_def;

/* Every code anyone (C or Lua) uses, terminated by {NULL}. tests/spec/codes_spec.lua fails
 * when a source uses a code missing here. */
extern const isync_code_def isync_code_defs[];

/* Returns the static string for a known code (OCI codes and ours), or NULL. */
const char *isync_code_intern(const char *code);
/* The same, only for codes a registry may send (registry_sent): an error body cannot
 * claim one of isync's own codes (a "TIMEOUT" that would be retried, a "CANCELED"). */
const char *isync_code_from_registry(const char *code);
/* The table entry of a code, or NULL. */
const isync_code_def *isync_code_find(const char *code);
/* "transient", "permanent", "usage" or "local". */
const char *isync_code_class_name(isync_code_class cls);
/* Code for a transport failure. */
const char *isync_code_for_curl(CURLcode cc);
/* Code for an HTTP status without a usable error body. */
const char *isync_code_for_status(long status, const char *not_found_code);

#endif
