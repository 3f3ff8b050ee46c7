/* ring.h - fixed-capacity byte ring joining a blob download to its upload (no Lua).
 * Single-threaded: both ends run on the engine thread. */
#ifndef ISYNC_RING_H
#define ISYNC_RING_H
#include <stddef.h>

/* A blob copy's ring unless its caller asks for another size. Small on purpose: peak
 * memory is (ring + curl's 64 KiB receive and upload buffers) per copy at once, and on
 * loopback 128 KiB moved as fast as 1 MiB did (the sockets' own buffers absorb the rest). */
#define ISYNC_RING_DEFAULT (128u << 10)

typedef struct isync_ring {
  char *data;
  size_t cap;
  size_t head;   /* next byte to read */
  size_t used;
} isync_ring;

int isync_ring_init(isync_ring *r, size_t cap);
/* Gives the buffer to a small pool of free buffers (the next ring of its size reuses it). */
void isync_ring_free(isync_ring *r);
/* Unmaps the pooled buffers; returns how many there were. */
int isync_ring_pool_drain(void);
size_t isync_ring_free_space(const isync_ring *r);
/* All-or-nothing write: returns n, or 0 when n bytes do not fit. */
size_t isync_ring_write(isync_ring *r, const void *p, size_t n);
/* Reads up to n bytes; returns how many. */
size_t isync_ring_read(isync_ring *r, void *p, size_t n);

#endif
