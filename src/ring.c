/* ring.c - fixed-capacity byte ring. */
#include "ring.h"
#include <stdlib.h>
#include <string.h>

int isync_ring_init(isync_ring *r, size_t cap) {
  memset(r, 0, sizeof *r);
  r->data = malloc(cap);
  if (!r->data) return -1;
  r->cap = cap;
  return 0;
}

void isync_ring_free(isync_ring *r) {
  free(r->data);
  memset(r, 0, sizeof *r);
}

size_t isync_ring_free_space(const isync_ring *r) { return r->cap - r->used; }

size_t isync_ring_write(isync_ring *r, const void *p, size_t n) {
  if (n > r->cap - r->used) return 0;
  size_t tail = (r->head + r->used) % r->cap;
  size_t first = r->cap - tail < n ? r->cap - tail : n;
  memcpy(r->data + tail, p, first);
  memcpy(r->data, (const char *)p + first, n - first);
  r->used += n;
  return n;
}

size_t isync_ring_read(isync_ring *r, void *p, size_t n) {
  if (n > r->used) n = r->used;
  size_t first = r->cap - r->head < n ? r->cap - r->head : n;
  memcpy(p, r->data + r->head, first);
  memcpy((char *)p + first, r->data, n - first);
  r->head = (r->head + n) % r->cap;
  r->used -= n;
  if (r->used == 0) r->head = 0;
  return n;
}
