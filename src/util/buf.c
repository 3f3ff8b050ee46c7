/* buf.c - growable byte buffer. */
#include "util/buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void isync_buf_init(isync_buf *b, size_t limit) {
  memset(b, 0, sizeof *b);
  b->limit = limit;
}

int isync_buf_append(isync_buf *b, const void *p, size_t n) {
  if (b->limit && b->len + n > b->limit) { b->overflow = 1; return -1; }
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + n + 1) nc *= 2;
    char *d = realloc(b->data, nc);
    if (!d) { b->overflow = 1; return -1; }
    b->data = d;
    b->cap = nc;
  }
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int isync_buf_appendf(isync_buf *b, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return -1;
  if ((size_t)n < sizeof small) return isync_buf_append(b, small, (size_t)n);
  char *big = malloc((size_t)n + 1);
  if (!big) return -1;
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  int rc = isync_buf_append(b, big, (size_t)n);
  free(big);
  return rc;
}

void isync_buf_reset(isync_buf *b) {
  b->len = 0;
  b->overflow = 0;
  if (b->data) b->data[0] = '\0';
}

void isync_buf_free(isync_buf *b) {
  free(b->data);
  size_t limit = b->limit;
  memset(b, 0, sizeof *b);
  b->limit = limit;
}

char *isync_buf_steal(isync_buf *b) {
  char *d = b->data;
  size_t limit = b->limit;
  memset(b, 0, sizeof *b);
  b->limit = limit;
  return d;
}
