/* ring.c - fixed-capacity byte ring.
 *
 * The buffer is its own anonymous mapping, so a ring's memory never stays in malloc's
 * heap (glibc raises its mmap threshold after such frees). A freed buffer goes to a small
 * pool and the next ring of that size takes it: rings come and go by the thousand in a
 * sync, and a fresh mapping per blob cost a page fault per 4 KiB written plus an munmap
 * whose TLB shootdown interrupts the other thread (~10% of a cold sync's CPU). The pool
 * holds at most POOL_MAX buffers of at most POOL_CAP_MAX bytes (the copies that ran at
 * once), so it never grows past the peak a sync already had. No process-wide allocator
 * setting is needed, which matters when isync is a module inside someone else's program. */
#include "util/ring.h"
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define POOL_MAX 16
#define POOL_CAP_MAX (1u << 20)   /* a bigger ring (buffer_size asked for) is unmapped at once */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct { char *data; size_t cap; } pool[POOL_MAX];
static int pool_n;

int isync_ring_init(isync_ring *r, size_t cap) {
  memset(r, 0, sizeof *r);
  void *p = NULL;
  pthread_mutex_lock(&pool_mu);
  for (int i = pool_n - 1; i >= 0; i--) {
    if (pool[i].cap != cap) continue;
    p = pool[i].data;
    pool[i] = pool[--pool_n];
    break;
  }
  pthread_mutex_unlock(&pool_mu);
  if (!p) {
    p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
  }
  r->data = p;
  r->cap = cap;
  return 0;
}

void isync_ring_free(isync_ring *r) {
  if (r->data) {
    pthread_mutex_lock(&pool_mu);
    int kept = pool_n < POOL_MAX && r->cap <= POOL_CAP_MAX;
    if (kept) { pool[pool_n].data = r->data; pool[pool_n].cap = r->cap; pool_n++; }
    pthread_mutex_unlock(&pool_mu);
    if (!kept) munmap(r->data, r->cap);
  }
  memset(r, 0, sizeof *r);
}

/* Unmaps every pooled buffer (tests, and a host that wants the memory back at once). */
int isync_ring_pool_drain(void) {
  pthread_mutex_lock(&pool_mu);
  int n = pool_n;
  while (pool_n > 0) { pool_n--; munmap(pool[pool_n].data, pool[pool_n].cap); }
  pthread_mutex_unlock(&pool_mu);
  return n;
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
