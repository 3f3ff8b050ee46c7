/* ring.c - fixed-capacity byte ring.
 *
 * The buffer is its own anonymous mapping: rings come and go by the thousand in a sync, and
 * unmapping gives the memory back at once, where malloc's heap would keep it (glibc raises
 * its mmap threshold after such frees). No process-wide allocator setting is needed, which
 * matters when isync is a module inside someone else's program. */
#include "util/ring.h"
#include <string.h>
#include <sys/mman.h>

int isync_ring_init(isync_ring *r, size_t cap) {
  memset(r, 0, sizeof *r);
  void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  r->data = p;
  r->cap = cap;
  return 0;
}

void isync_ring_free(isync_ring *r) {
  if (r->data) munmap(r->data, r->cap);
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
