/* scripted.h - the C side of tests/tools/scripted_http.py for unit tests that run the
 * HTTP loop or the engine against a real socket (header-only, like unit.h).
 *
 *   scripted_start();                         one server per test binary (Python is slow
 *                                             to start on a loaded machine)
 *   scripted_load("[{'path':'/v2/','status':200}]");   a script per test: ' stands for "
 *   ... requests to SRV.origin (http://127.0.0.1:PORT) or SRV.origin2 (the other origin)
 *   scripted_count("GET", "/v2/", "auth=none");         requests since the script loaded
 *   scripted_stop();
 *
 * The server is found at $ISYNC_SCRIPTED_HTTP, else next to this binary's repository
 * (BUILD/tests/test_x -> tests/tools/scripted_http.py), else relative to the current
 * directory. Its stdin is a pipe from this process: if the test dies, the server exits.
 *
 * Also here: building registries and registry operations as src/lua/ljob.c does, so the
 * tests drive the same code paths as Lua (isync_op_new, isync_op_set_str, isync_op_ready,
 * isync_job_submit, isync_engine_wait_job). */
#ifndef ISYNC_SCRIPTED_H
#define ISYNC_SCRIPTED_H
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "registry/ops.h"

extern char **environ;

typedef struct {
  pid_t pid;
  FILE *to, *from;               /* the server's stdin (scripts) and stdout (answers) */
  int port, port2;
  char name[64];                 /* "127.0.0.1:PORT", a registry name */
  char origin[64], origin2[64];  /* "http://127.0.0.1:PORT" of the main and other listener */
  char dir[64], log[128];
  long log_from;                 /* where the current script's requests start in the log */
} scripted_srv;

static scripted_srv SRV;

static inline const char *scripted_path(char *out, size_t n) {
  const char *env = getenv("ISYNC_SCRIPTED_HTTP");
  if (env && *env) return env;
  char exe[512];
  ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (l > 0) {
    exe[l] = '\0';
    snprintf(out, n, "%s/../../tests/tools/scripted_http.py", dirname(exe));
    if (access(out, R_OK) == 0) return out;
  }
  return "tests/tools/scripted_http.py";
}

/* Starts the server; 0 ok, -1 (with a message on stderr) when it cannot. */
static inline int scripted_start(void) {
  signal(SIGPIPE, SIG_IGN);   /* a dead server must fail a test, not kill the binary */
  snprintf(SRV.dir, sizeof SRV.dir, "%s", "/tmp/isync-unit-XXXXXX");
  if (!mkdtemp(SRV.dir)) { perror("mkdtemp"); return -1; }
  snprintf(SRV.log, sizeof SRV.log, "%s/requests.log", SRV.dir);
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) { perror("pipe2"); return -1; }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  char path[600];
  char *argv[] = {"python3", (char *)scripted_path(path, sizeof path), "--log", SRV.log, "--stdin", NULL};
  int rc = posix_spawnp(&SRV.pid, "python3", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc) { fprintf(stderr, "# cannot start %s: %s\n", argv[1], strerror(rc)); return -1; }
  SRV.to = fdopen(in[1], "w");
  SRV.from = fdopen(out[0], "r");
  char line[128];
  if (!SRV.from || !fgets(line, sizeof line, SRV.from) || sscanf(line, "%d %d", &SRV.port, &SRV.port2) != 2) {
    fprintf(stderr, "# %s did not say its ports\n", argv[1]);
    return -1;
  }
  snprintf(SRV.name, sizeof SRV.name, "127.0.0.1:%d", SRV.port);
  snprintf(SRV.origin, sizeof SRV.origin, "http://127.0.0.1:%d", SRV.port);
  snprintf(SRV.origin2, sizeof SRV.origin2, "http://127.0.0.1:%d", SRV.port2);
  return 0;
}

static inline void scripted_stop(void) {
  if (SRV.to) fclose(SRV.to);   /* EOF: the server exits */
  if (SRV.from) fclose(SRV.from);
  if (SRV.pid > 0) waitpid(SRV.pid, NULL, 0);
  unlink(SRV.log);
  rmdir(SRV.dir);
  memset(&SRV, 0, sizeof SRV);
}

/* Replaces the server's rules. In the script, ' stands for " (JSON in C strings, which
 * then has no literal '); write \\\" for an escaped " inside a JSON string. 0 ok. */
static inline int scripted_load(const char *script) {
  if (!SRV.to) return -1;
  size_t n = strlen(script);
  char *s = malloc(n + 1);
  if (!s) return -1;
  for (size_t i = 0; i <= n; i++) s[i] = script[i] == '\'' ? '"' : script[i] == '\n' ? ' ' : script[i];
  fprintf(SRV.to, "%s\n", s);
  fflush(SRV.to);
  free(s);
  char line[512];
  if (!fgets(line, sizeof line, SRV.from) || strncmp(line, "ok ", 3) != 0) {
    fprintf(stderr, "# the script was refused: %s\n", line);
    return -1;
  }
  struct stat st;
  SRV.log_from = stat(SRV.log, &st) == 0 ? (long)st.st_size : 0;
  return 0;
}

/* Calls fn on each log line written since the script was loaded; stops when fn returns 1. */
static inline void scripted_each(int (*fn)(const char *line, void *arg), void *arg) {
  FILE *f = fopen(SRV.log, "r");
  if (!f) return;
  fseek(f, SRV.log_from, SEEK_SET);
  char line[4096];
  while (fgets(line, sizeof line, f))
    if (fn(line, arg)) break;
  fclose(f);
}

typedef struct { const char *method, *path, *has; int n; } scripted_filter;

static inline int scripted_count_line(const char *line, void *arg) {
  scripted_filter *f = arg;
  char method[16], path[2048];
  if (sscanf(line, "%15s %2047s", method, path) != 2) return 0;
  if (f->method && strcmp(method, f->method) != 0) return 0;
  if (f->path && strcmp(path, f->path) != 0) return 0;
  if (f->has) {
    /* every space-separated word of has must be a word of the line */
    char words[256];
    snprintf(words, sizeof words, "%s", f->has);
    char *save = NULL;
    for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
      char pat[300];
      snprintf(pat, sizeof pat, " %s ", w);
      char padded[4100];
      snprintf(padded, sizeof padded, " %.*s ", (int)strcspn(line, "\n"), line);
      if (!strstr(padded, pat)) return 0;
    }
  }
  f->n++;
  return 0;
}

/* Requests since the script was loaded with this method and path (NULL: any) whose log
 * line holds every word of has ("auth=bearer listener=other"; NULL: any). */
static inline int scripted_count(const char *method, const char *path, const char *has) {
  scripted_filter f = {method, path, has, 0};
  scripted_each(scripted_count_line, &f);
  return f.n;
}

static inline int scripted_conc_line(const char *line, void *arg) {
  const char *c = strstr(line, " conc=");
  if (c && atoi(c + 6) > *(int *)arg) *(int *)arg = atoi(c + 6);
  return 0;
}

/* The most requests the server had in progress at once since the script was loaded. */
static inline int scripted_max_conc(void) {
  int m = 0;
  scripted_each(scripted_conc_line, &m);
  return m;
}

/* Waits up to ms for a request to show in the log (a test that must act while the server
 * holds it). 1 when it did. */
static inline int scripted_wait_for(const char *method, const char *path, int n, long ms) {
  for (long waited = 0; waited <= ms; waited += 10) {
    if (scripted_count(method, path, NULL) >= n) return 1;
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  }
  return 0;
}

static inline long scripted_ms_since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* ---- registries and operations, built as src/lua/ljob.c builds them ---- */

/* A plain-HTTP registry on the scripted server; user/pass may be NULL. */
static inline isync_registry *scripted_registry(const char *user, const char *pass, int max_conns) {
  isync_reg_opts o = {0};
  o.username = user;
  o.password = pass;
  o.plain_http = 1;
  o.connect_timeout = 5;
  o.timeout = 30;
  o.max_conns = max_conns;
  char err[256];
  isync_registry *r = isync_registry_new(SRV.name, &o, err, sizeof err);
  if (!r) fprintf(stderr, "# isync_registry_new: %s\n", err);
  return r;
}

/* The operation called name on r, with arguments as NULL-terminated name, value pairs
 * (text or bytes); NULL (with a message) when one is refused. Ready to submit. */
static inline isync_op *scripted_op(const char *name, isync_registry *r, ...) {
  const isync_op_desc *d = isync_op_find(name);
  if (!d) { fprintf(stderr, "# no operation %s\n", name); return NULL; }
  isync_op *op = isync_op_new(d, r);
  if (!op) return NULL;
  va_list ap;
  va_start(ap, r);
  const char *k;
  while ((k = va_arg(ap, const char *))) {
    const char *v = va_arg(ap, const char *);
    const isync_op_arg *a = d->args;
    while (a->name && strcmp(a->name, k) != 0) a++;
    char err[256];
    const char *bad = a->name ? isync_op_set_str(op, a, v, strlen(v), err, sizeof err) : "no such argument";
    if (bad) {
      fprintf(stderr, "# %s %s: %s\n", name, k, bad);
      va_end(ap);
      isync_job_unref(&op->job);
      return NULL;
    }
  }
  va_end(ap);
  isync_op_ready(op);
  return op;
}

/* A new engine, or NULL with the reason on stderr. */
static inline isync_engine *scripted_engine(void) {
  char err[256];
  isync_engine *e = isync_engine_start(err, sizeof err);
  if (!e) fprintf(stderr, "# isync_engine_start: %s\n", err);
  return e;
}

/* The "tags" operation of repo on r. */
static inline isync_op *scripted_tags(isync_registry *r, const char *repo) {
  return scripted_op("tags", r, "repo", repo, NULL);
}

/* Submits op and waits for it (10 s); 1 when it finished. The caller keeps its reference. */
static inline int scripted_run(isync_engine *e, isync_op *op) {
  if (!op || isync_job_submit(e, &op->job) != 0) return 0;
  return isync_engine_wait_job(e, &op->job, 10000);
}

#endif
