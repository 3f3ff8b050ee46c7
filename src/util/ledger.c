/* ledger.c - append-only crash-safe record file. */
#include "util/ledger.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct isync_ledger {
  char *path;
  int fd;
  int lock_fd;
  size_t appended;
};

uint32_t isync_crc32(const void *p, size_t n) {
  static uint32_t table[256];
  static int ready;
  if (!ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = 1;
  }
  uint32_t c = 0xFFFFFFFFu;
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) c = table[(c ^ b[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static int fail(char *err, size_t errsz, const char *what, const char *path) {
  snprintf(err, errsz, "ledger %s: %s: %s", path, what, strerror(errno));
  return -1;
}

/* Cuts a torn last line so appends start on a fresh line. */
static int cut_torn_tail(int fd) {
  off_t size = lseek(fd, 0, SEEK_END);
  if (size <= 0) return 0;
  char buf[4096];
  off_t pos = size;
  while (pos > 0) {
    size_t n = pos < (off_t)sizeof buf ? (size_t)pos : sizeof buf;
    pos -= (off_t)n;
    if (pread(fd, buf, n, pos) != (ssize_t)n) return -1;
    for (size_t i = n; i > 0; i--) {
      if (buf[i - 1] == '\n') {
        off_t keep = pos + (off_t)i;
        return keep == size ? 0 : ftruncate(fd, keep);
      }
    }
  }
  return ftruncate(fd, 0);   /* not one complete line */
}

/* path + suffix, malloc'd: paths of any length, never truncated. */
static char *with_suffix(const char *path, const char *suffix) {
  char *s = NULL;
  return asprintf(&s, "%s%s", path, suffix) < 0 ? NULL : s;
}

isync_ledger *isync_ledger_open(const char *path, char *err, size_t errsz) {
  isync_ledger *l = calloc(1, sizeof *l);
  char *lockpath = with_suffix(path, ".lock");
  if (!l || !lockpath || !(l->path = strdup(path))) {
    free(l); free(lockpath);
    snprintf(err, errsz, "out of memory");
    return NULL;
  }
  l->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  free(lockpath);
  if (l->lock_fd < 0) { fail(err, errsz, "cannot create lock", path); free(l->path); free(l); return NULL; }
  if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    snprintf(err, errsz, "ledger %s is in use by another isync process", path);
    close(l->lock_fd); free(l->path); free(l);
    return NULL;
  }
  l->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (l->fd < 0 || cut_torn_tail(l->fd) != 0) {
    fail(err, errsz, "cannot open", path);
    if (l->fd >= 0) close(l->fd);
    close(l->lock_fd); free(l->path); free(l);
    return NULL;
  }
  return l;
}

void isync_ledger_close(isync_ledger *l) {
  if (!l) return;
  fdatasync(l->fd);
  close(l->fd);
  close(l->lock_fd);   /* releases the lock */
  free(l->path);
  free(l);
}

static int valid_line(const char *s, size_t n, const char **payload, size_t *plen) {
  if (n < 9 || s[8] != ' ') return 0;   /* "<crc> " and a payload, which may be empty */
  char hex[9];
  memcpy(hex, s, 8);
  hex[8] = '\0';
  char *end;
  unsigned long want = strtoul(hex, &end, 16);
  if (end != hex + 8) return 0;
  *payload = s + 9;
  *plen = n - 9;
  return isync_crc32(*payload, *plen) == (uint32_t)want;
}

int isync_ledger_load(isync_ledger *l, int (*fn)(void *ud, const char *payload, size_t n), void *ud,
                      char *err, size_t errsz) {
  FILE *f = fopen(l->path, "rb");
  if (!f) return fail(err, errsz, "cannot read", l->path);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int skipped = 0, stopped = 0;
  while (!stopped && (n = getline(&line, &cap, f)) > 0) {
    const char *payload;
    size_t plen;
    int complete = line[n - 1] == '\n';
    if (complete && valid_line(line, (size_t)n - 1, &payload, &plen)) stopped = fn(ud, payload, plen) != 0;
    else skipped++;
  }
  int read_err = !stopped && ferror(f);
  free(line);
  fclose(f);
  if (stopped) { snprintf(err, errsz, "ledger %s: loading stopped: out of memory", l->path); return -1; }
  if (read_err) { errno = EIO; return fail(err, errsz, "cannot read", l->path); }
  return skipped;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The whole record goes out in one write(2) on an O_APPEND descriptor. */
static int format_record(const char *payload, size_t n, char **out, size_t *outlen) {
  if (memchr(payload, '\n', n)) { errno = EINVAL; return -1; }
  char *rec = malloc(n + 10);
  if (!rec) return -1;
  snprintf(rec, 10, "%08x ", isync_crc32(payload, n));
  memcpy(rec + 9, payload, n);
  rec[n + 9] = '\n';
  *out = rec;
  *outlen = n + 10;
  return 0;
}

int isync_ledger_append(isync_ledger *l, const char *payload, size_t n, char *err, size_t errsz) {
  char *rec;
  size_t len;
  if (format_record(payload, n, &rec, &len) != 0) return fail(err, errsz, "bad record", l->path);
  int rc = write_all(l->fd, rec, len);
  free(rec);
  if (rc != 0) return fail(err, errsz, "cannot append", l->path);
  l->appended++;
  return 0;
}

int isync_ledger_sync(isync_ledger *l, char *err, size_t errsz) {
  return fdatasync(l->fd) == 0 ? 0 : fail(err, errsz, "cannot sync", l->path);
}

/* Makes the rename of a file in path's directory durable. */
static void sync_dir_of(const char *path) {
  char *dir = strdup(path);
  if (!dir) return;
  char *slash = strrchr(dir, '/');
  const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
  int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) { fsync(dfd); close(dfd); }
  free(dir);
}

/* The compaction's new file, created exclusively: never through a symlink someone planted
 * at the tmp path, never sharing an inode. A stale tmp of a crashed compaction (ours: we
 * hold the lock) is unlinked first; unlink removes a symlink itself, not its target. */
static int create_tmp(const char *tmp) {
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  return fd;
}

int isync_ledger_compact(isync_ledger *l, const char *const *payloads, const size_t *lens, size_t count,
                         char *err, size_t errsz) {
  char *tmp = with_suffix(l->path, ".tmp");
  if (!tmp) { snprintf(err, errsz, "out of memory"); return -1; }
  int fd = create_tmp(tmp);
  if (fd < 0) { fail(err, errsz, "cannot compact", l->path); free(tmp); return -1; }
  int bad = 0;
  for (size_t i = 0; i < count && !bad; i++) {
    char *rec = NULL;
    size_t len = 0;
    bad = format_record(payloads[i], lens[i], &rec, &len) != 0 || write_all(fd, rec, len) != 0;
    free(rec);
  }
  /* the new file's descriptor becomes the append descriptor: it names the renamed file
   * whatever happens to the path, so no reopen can fail after the rename and leave
   * appends going into the old, unlinked file */
  if (bad || fsync(fd) != 0 || fcntl(fd, F_SETFL, O_APPEND) != 0 || rename(tmp, l->path) != 0) {
    int saved = errno;
    close(fd);
    unlink(tmp);
    free(tmp);
    errno = saved;
    return fail(err, errsz, "cannot compact", l->path);
  }
  free(tmp);
  sync_dir_of(l->path);
  close(l->fd);
  l->fd = fd;
  l->appended = 0;
  return 0;
}

size_t isync_ledger_appended(const isync_ledger *l) { return l->appended; }
