/* test_ledger.c - the ledger file at its trust edges: compaction's tmp file, long paths,
 * a loader callback that cannot take a record. */
#include "util/ledger.h"
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void fresh_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/isync-ledger-unit.XXXXXX");
  if (!mkdtemp(dir)) abort();
}

static void rm_dir(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) abort();
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

typedef struct { int n; char last[64]; int stop_at; } seen;

static int collect(void *ud, const char *p, size_t n) {
  seen *s = ud;
  s->n++;
  snprintf(s->last, sizeof s->last, "%.*s", (int)n, p);
  return s->stop_at && s->n >= s->stop_at;
}

TEST(compaction_never_follows_a_planted_tmp_symlink) {
  fresh_dir();
  char path[512], tmp[520], victim[520];
  snprintf(path, sizeof path, "%s/ledger", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  snprintf(victim, sizeof victim, "%s/victim", dir);
  FILE *v = fopen(victim, "w");
  REQUIRE(v);
  fputs("precious\n", v);
  fclose(v);
  REQUIRE(symlink(victim, tmp) == 0);
  char err[512];
  isync_ledger *l = isync_ledger_open(path, err, sizeof err);
  REQUIRE(l);
  const char *ps[] = {"a", "b"};
  size_t ls[] = {1, 1};
  CHECK_INT(isync_ledger_compact(l, ps, ls, 2, err, sizeof err), 0);
  CHECK_STR(slurp(victim), "precious\n");      /* the symlink's target is untouched */
  struct stat st;
  CHECK(lstat(tmp, &st) != 0 && errno == ENOENT);
  isync_ledger_close(l);
  rm_dir();
}

TEST(appends_after_compaction_land_in_the_file) {
  fresh_dir();
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/ledger", dir);
  isync_ledger *l = isync_ledger_open(path, err, sizeof err);
  REQUIRE(l);
  CHECK_INT(isync_ledger_append(l, "old", 3, err, sizeof err), 0);
  const char *ps[] = {"kept"};
  size_t ls[] = {4};
  CHECK_INT(isync_ledger_compact(l, ps, ls, 1, err, sizeof err), 0);
  CHECK_INT(isync_ledger_appended(l), 0);
  CHECK_INT(isync_ledger_append(l, "new", 3, err, sizeof err), 0);
  CHECK_INT(isync_ledger_sync(l, err, sizeof err), 0);
  seen s = {0};
  CHECK_INT(isync_ledger_load(l, collect, &s, err, sizeof err), 0);
  CHECK_INT(s.n, 2);
  CHECK_STR(s.last, "new");
  isync_ledger_close(l);
  rm_dir();
}

/* A path near PATH_MAX: "<path>.lock" and "<path>.tmp" must never be cut to another name. */
TEST(long_paths_are_never_truncated) {
  fresh_dir();
  char path[4200];
  size_t len = (size_t)snprintf(path, sizeof path, "%s", dir);
  char comp[201];
  memset(comp, 'd', 200);
  comp[200] = '\0';
  while (len + 201 < 4093 - 8) {   /* directories up to just under the limit */
    len += (size_t)snprintf(path + len, sizeof path - len, "/%s", comp);
    REQUIRE(mkdir(path, 0755) == 0);
  }
  path[len++] = '/';
  while (len < 4093) path[len++] = 'L';   /* the file: path is 4093 bytes, "<path>.lock" 4098 */
  path[len] = '\0';
  char err[512];
  isync_ledger *l = isync_ledger_open(path, err, sizeof err);
  CHECK(l == NULL);                         /* the lock's name does not fit: an error, not a cut */
  char cut[4200];   /* what "%s.lock" in a 4096-byte buffer would have made: "<path>.l" */
  memcpy(cut, path, 4093);
  memcpy(cut + 4093, ".l", 3);
  struct stat st;
  CHECK(stat(cut, &st) != 0);               /* no lock created under a truncated name */
  if (l) isync_ledger_close(l);
  rm_dir();
}

TEST(a_loader_that_cannot_take_a_record_stops_the_load_cleanly) {
  fresh_dir();
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/ledger", dir);
  isync_ledger *l = isync_ledger_open(path, err, sizeof err);
  REQUIRE(l);
  for (int i = 0; i < 5; i++) CHECK_INT(isync_ledger_append(l, "rec", 3, err, sizeof err), 0);
  seen s = {.stop_at = 2};
  CHECK_INT(isync_ledger_load(l, collect, &s, err, sizeof err), -1);   /* ASan: no FILE leaks */
  CHECK_INT(s.n, 2);
  CHECK(strstr(err, "out of memory") != NULL);
  seen all = {0};
  CHECK_INT(isync_ledger_load(l, collect, &all, err, sizeof err), 0);
  CHECK_INT(all.n, 5);
  isync_ledger_close(l);
  rm_dir();
}

/* found by fuzzing: an empty record was written as "<crc> \n" and then skipped as torn */
TEST(an_empty_record_reads_back) {
  fresh_dir();
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/ledger", dir);
  isync_ledger *l = isync_ledger_open(path, err, sizeof err);
  REQUIRE(l);
  CHECK_INT(isync_ledger_append(l, "", 0, err, sizeof err), 0);
  CHECK_INT(isync_ledger_append(l, "x", 1, err, sizeof err), 0);
  seen s = {0};
  CHECK_INT(isync_ledger_load(l, collect, &s, err, sizeof err), 0);
  CHECK_INT(s.n, 2);
  isync_ledger_close(l);
  rm_dir();
}

int main(void) {
  RUN(an_empty_record_reads_back);
  RUN(compaction_never_follows_a_planted_tmp_symlink);
  RUN(appends_after_compaction_land_in_the_file);
  RUN(long_paths_are_never_truncated);
  RUN(a_loader_that_cannot_take_a_record_stops_the_load_cleanly);
  return unit_done();
}
