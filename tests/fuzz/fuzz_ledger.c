/* fuzz_ledger.c - ledger replay: any bytes as a ledger file. Opening cuts a torn tail,
 * loading skips bad records; then one append and a compaction of what was loaded must
 * read back exactly. */
#include "fuzz.h"
#include "util/ledger.h"
#include <unistd.h>

typedef struct { char **recs; size_t *lens; size_t n, cap; } recs;

static int keep(void *ud, const char *p, size_t n) {
  recs *r = ud;
  FUZZ_ASSERT(!memchr(p, '\n', n));
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 8;
    r->recs = realloc(r->recs, r->cap * sizeof *r->recs);
    r->lens = realloc(r->lens, r->cap * sizeof *r->lens);
    if (!r->recs || !r->lens) abort();
  }
  r->recs[r->n] = malloc(n + 1);
  if (!r->recs[r->n]) abort();
  memcpy(r->recs[r->n], p, n);
  r->lens[r->n++] = n;
  return 0;
}

static void drop(recs *r) {
  for (size_t i = 0; i < r->n; i++) free(r->recs[i]);
  free(r->recs);
  free(r->lens);
  memset(r, 0, sizeof *r);
}

static char dir[64];

/* the ledger itself is unlinked after each input; its lock file and directory at exit */
static void cleanup(void) {
  char p[128];
  snprintf(p, sizeof p, "%s/ledger.lock", dir);
  unlink(p);
  rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  if (!dir[0]) {
    /* memory-backed when there is one: every close fdatasyncs, which on disk costs ~15x */
    snprintf(dir, sizeof dir, "/dev/shm/isync-fuzz-ledger.XXXXXX");
    if (!mkdtemp(dir)) {
      snprintf(dir, sizeof dir, "/tmp/isync-fuzz-ledger.XXXXXX");
      if (!mkdtemp(dir)) abort();
    }
    atexit(cleanup);
  }
  char path[128];
  snprintf(path, sizeof path, "%s/ledger", dir);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  fwrite(d, 1, n, f);
  fclose(f);
  char err[512];
  isync_ledger *l = isync_ledger_open(path, err, sizeof err);
  FUZZ_ASSERT(l != NULL);
  recs a = {0};
  int skipped = isync_ledger_load(l, keep, &a, err, sizeof err);
  FUZZ_ASSERT(skipped >= 0);
  FUZZ_ASSERT(isync_ledger_append(l, "fuzz-extra", 10, err, sizeof err) == 0);
  recs b = {0};
  FUZZ_ASSERT(isync_ledger_load(l, keep, &b, err, sizeof err) == skipped);   /* appended cleanly */
  FUZZ_ASSERT(b.n == a.n + 1);
  FUZZ_ASSERT(isync_ledger_compact(l, (const char *const *)b.recs, b.lens, b.n, err, sizeof err) == 0);
  recs c = {0};
  FUZZ_ASSERT(isync_ledger_load(l, keep, &c, err, sizeof err) == 0);
  FUZZ_ASSERT(c.n == b.n);
  for (size_t i = 0; i < c.n; i++) FUZZ_ASSERT(c.lens[i] == b.lens[i] && !memcmp(c.recs[i], b.recs[i], c.lens[i]));
  isync_ledger_close(l);
  drop(&a); drop(&b); drop(&c);
  unlink(path);
  return 0;
}
