/* json.h - a small JSON reader for the few answers C must understand itself
 * (token responses, error bodies, tag lists). Manifests are never re-encoded. (no Lua) */
#ifndef ISYNC_JSON_H
#define ISYNC_JSON_H
#include <stddef.h>

typedef enum { ISYNC_JNULL, ISYNC_JBOOL, ISYNC_JNUM, ISYNC_JSTR, ISYNC_JARR, ISYNC_JOBJ } isync_jtype;

typedef struct isync_json {
  isync_jtype type;
  char *key;                 /* member name when inside an object */
  char *str;                 /* JSTR value (NUL-terminated, unescaped) */
  double num;                /* JNUM, and JBOOL as 0/1 */
  struct isync_json **items; /* JARR elements or JOBJ members */
  size_t n;
} isync_json;

/* NULL on malformed input or nesting deeper than 64. */
isync_json *isync_json_parse(const char *s, size_t len);
void isync_json_free(isync_json *j);
const isync_json *isync_json_get(const isync_json *obj, const char *key);
/* Convenience: string member of an object, or NULL. */
const char *isync_json_getstr(const isync_json *obj, const char *key);

#endif
