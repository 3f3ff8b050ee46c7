/* buf.h - growable byte buffer with an optional hard cap (no Lua). */
#ifndef ISYNC_BUF_H
#define ISYNC_BUF_H
#include <stddef.h>

typedef struct isync_buf {
  char *data;     /* always NUL-terminated when non-NULL, so text can be read as a string */
  size_t len;
  size_t cap;
  size_t limit;   /* 0 = unlimited; appends past it fail and set overflow */
  int overflow;
} isync_buf;

void isync_buf_init(isync_buf *b, size_t limit);
int isync_buf_append(isync_buf *b, const void *p, size_t n);   /* 0 ok, -1 on overflow/OOM */
int isync_buf_appendf(isync_buf *b, const char *fmt, ...);
void isync_buf_reset(isync_buf *b);
void isync_buf_free(isync_buf *b);
char *isync_buf_steal(isync_buf *b);   /* hands over data (maybe NULL), leaves b empty */

#endif
