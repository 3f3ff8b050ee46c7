/* json.c - recursive-descent JSON reader (RFC 8259), values into a small tree. */
#include "util/json.h"
#include <stdlib.h>
#include <string.h>

typedef struct { const char *p, *end; int depth; } jp;

static isync_json *jp_value(jp *s);

static void jp_ws(jp *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int jp_hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static size_t jp_utf8(unsigned cp, char *o) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Parses a string starting at the opening quote; the result is malloc'd. */
static char *jp_string(jp *s) {
  if (s->p >= s->end || *s->p != '"') return NULL;
  s->p++;
  /* unescaped output is never longer than the input */
  const char *q = s->p;
  while (q < s->end && *q != '"') q += (*q == '\\' && q + 1 < s->end) ? 2 : 1;
  if (q >= s->end) return NULL;
  char *out = malloc((size_t)(q - s->p) + 1), *o = out;
  if (!out) return NULL;
  while (s->p < q) {
    unsigned char c = (unsigned char)*s->p++;
    if (c < 0x20) goto bad;
    if (c != '\\') { *o++ = (char)c; continue; }
    char e = *s->p++;
    switch (e) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        unsigned cp, lo;
        if (q - s->p < 4 || jp_hex4(s->p, &cp)) goto bad;
        s->p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && q - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u' &&
            jp_hex4(s->p + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          s->p += 6;
        }
        o += jp_utf8(cp, o);   /* a \uXXXX escape (6 bytes) never yields more than 4 */
        break;
      }
      default: goto bad;
    }
  }
  *o = '\0';
  s->p = q + 1;
  return out;
bad:
  free(out);
  return NULL;
}

static int jp_push(isync_json *parent, isync_json *child) {
  /* the array grows geometrically (capacity: the next power of two, at least 4, implied by
   * n): one realloc per element made big lists cost a copy and a free chunk per element */
  size_t n = parent->n;
  if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
    isync_json **items = realloc(parent->items, (n ? n * 2 : 4) * sizeof *items);
    if (!items) return -1;
    parent->items = items;
  }
  parent->items[parent->n++] = child;
  return 0;
}

static isync_json *jp_container(jp *s, int is_obj) {
  isync_json *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->type = is_obj ? ISYNC_JOBJ : ISYNC_JARR;
  s->p++;
  jp_ws(s);
  if (s->p < s->end && *s->p == (is_obj ? '}' : ']')) { s->p++; return j; }
  for (;;) {
    char *key = NULL;
    jp_ws(s);
    if (is_obj) {
      if (!(key = jp_string(s))) goto bad;
      jp_ws(s);
      if (s->p >= s->end || *s->p != ':') { free(key); goto bad; }
      s->p++;
    }
    isync_json *v = jp_value(s);
    if (!v) { free(key); goto bad; }
    v->key = key;
    if (jp_push(j, v)) { isync_json_free(v); goto bad; }
    jp_ws(s);
    if (s->p < s->end && *s->p == ',') { s->p++; continue; }
    if (s->p < s->end && *s->p == (is_obj ? '}' : ']')) { s->p++; return j; }
    goto bad;
  }
bad:
  isync_json_free(j);
  return NULL;
}

static isync_json *jp_value(jp *s) {
  jp_ws(s);
  if (s->p >= s->end || ++s->depth > 64) return NULL;
  isync_json *j = NULL;
  char c = *s->p;
  if (c == '{' || c == '[') {
    j = jp_container(s, c == '{');
  } else if (c == '"') {
    char *str = jp_string(s);
    if (str && (j = calloc(1, sizeof *j))) { j->type = ISYNC_JSTR; j->str = str; }
    else free(str);
  } else if (s->end - s->p >= 4 && memcmp(s->p, "true", 4) == 0) {
    if ((j = calloc(1, sizeof *j))) { j->type = ISYNC_JBOOL; j->num = 1; s->p += 4; }
  } else if (s->end - s->p >= 5 && memcmp(s->p, "false", 5) == 0) {
    if ((j = calloc(1, sizeof *j))) { j->type = ISYNC_JBOOL; s->p += 5; }
  } else if (s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0) {
    if ((j = calloc(1, sizeof *j))) { j->type = ISYNC_JNULL; s->p += 4; }
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    char tmp[64];
    size_t n = 0;
    while (s->p + n < s->end && n < sizeof tmp - 1 && strchr("+-0123456789.eE", s->p[n])) n++;
    memcpy(tmp, s->p, n);
    tmp[n] = '\0';
    char *endp;
    double v = strtod(tmp, &endp);
    if (endp == tmp + n && (j = calloc(1, sizeof *j))) { j->type = ISYNC_JNUM; j->num = v; s->p += n; }
  }
  s->depth--;
  return j;
}

isync_json *isync_json_parse(const char *str, size_t len) {
  jp s = { str, str + len, 0 };
  isync_json *j = jp_value(&s);
  if (!j) return NULL;
  jp_ws(&s);
  if (s.p != s.end) { isync_json_free(j); return NULL; }
  return j;
}

void isync_json_free(isync_json *j) {
  if (!j) return;
  for (size_t i = 0; i < j->n; i++) isync_json_free(j->items[i]);
  free(j->items);
  free(j->key);
  free(j->str);
  free(j);
}

const isync_json *isync_json_get(const isync_json *obj, const char *key) {
  if (!obj || obj->type != ISYNC_JOBJ) return NULL;
  for (size_t i = 0; i < obj->n; i++)
    if (strcmp(obj->items[i]->key, key) == 0) return obj->items[i];
  return NULL;
}

const char *isync_json_getstr(const isync_json *obj, const char *key) {
  const isync_json *v = isync_json_get(obj, key);
  return v && v->type == ISYNC_JSTR ? v->str : NULL;
}
