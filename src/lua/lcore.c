/* lcore.c - the isync.core Lua module: registries, jobs, and the completion queue.
 * The only C besides main.c that touches lua.h. Jobs are submitted here and finished by
 * the engine thread; Lua (lua/isync/sched.lua) decides whether to block or to yield. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "util/digest.h"
#include "engine/engine.h"
#include "util/errors.h"
#include "registry/job.h"
#include "util/ref.h"
#include "util/ring.h"
#include "registry/registry.h"

#define REGISTRY_MT "isync.Registry"
#define JOB_MT "isync.Job"
#define ENGINE_KEY "isync.engine"
#define PENDING_KEY "isync.pending"   /* lightuserdata(job) -> Job userdata, until claimed */
#define STOPPED_KEY "isync.stopped"   /* the same, for jobs a core.stop() ended: poll hands them out */

typedef struct { isync_registry *r; } lreg;
typedef struct { isync_job *j; } ljob;
typedef struct { isync_engine *e; } lengine;

/* ---- engine ---- */

static int engine_gc(lua_State *L) {
  lengine *le = lua_touserdata(L, 1);
  if (le->e) { isync_engine_stop(le->e, 1); le->e = NULL; }
  return 0;
}

/* The engine of this Lua state, started on first use and stopped when the state closes. */
static isync_engine *get_engine(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
  lengine *le = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (le && le->e) return le->e;
  le = lua_newuserdatauv(L, sizeof *le, 0);
  le->e = NULL;
  lua_newtable(L);
  lua_pushcfunction(L, engine_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  char err[256];
  le->e = isync_engine_start(err, sizeof err);
  if (!le->e) luaL_error(L, "isync: %s", err);
  lua_setfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
  return le->e;
}

/* ---- option helpers ---- */

static const char *opt_str(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  const char *s = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", k);
    s = lua_tostring(L, -1);   /* stays alive: the option table holds it */
  }
  lua_pop(L, 1);
  return s;
}

/* A list of strings, NULL-terminated, in a userdata on the stack (collected with it): the
 * option table keeps the strings alive. NULL when absent. */
static const char *const *opt_str_list(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return NULL; }
  if (!lua_istable(L, -1)) luaL_error(L, "option '%s' must be a list of strings", k);
  size_t n = (size_t)lua_rawlen(L, -1);
  const char **v = lua_newuserdatauv(L, (n + 1) * sizeof *v, 0);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, -2, (lua_Integer)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a list of strings", k);
    v[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  v[n] = NULL;
  lua_replace(L, -2);   /* keep the userdata on the stack until the call returns */
  return v;
}

static int opt_bool(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  int b = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

static lua_Integer opt_int(lua_State *L, int t, const char *k, lua_Integer dflt) {
  lua_getfield(L, t, k);
  lua_Integer v = dflt;
  if (!lua_isnil(L, -1)) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok) {
      lua_Number n = lua_tonumber(L, -1);
      if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "option '%s' must be a number", k);
      v = (lua_Integer)n;
    }
  }
  lua_pop(L, 1);
  return v;
}

/* ---- registries ---- */

static lreg *check_reg(lua_State *L, int i) {
  lreg *lr = luaL_checkudata(L, i, REGISTRY_MT);
  if (!lr->r) luaL_argerror(L, i, "registry is closed");
  return lr;
}

/* host, host:port, [v6]:port: nothing that could change a URL's meaning */
static int host_valid(const char *s) {
  if (!*s || strlen(s) > 253) return 0;
  for (const char *p = s; *p; p++)
    if (!(isalnum((unsigned char)*p) || strchr(".-:[]_", *p))) return 0;
  return 1;
}

/* type/subtype with RFC 6838 name characters: a value that is safe in a header */
static int media_type_valid(const char *s) {
  const char *slash = strchr(s, '/');
  if (!slash || slash == s || !slash[1] || strlen(s) > 255) return 0;
  for (const char *p = s; *p; p++)
    if (p != slash && !(isalnum((unsigned char)*p) || strchr("!#$&^_.+-", *p))) return 0;
  return 1;
}

/* core.registry(name, opts) */
static int l_registry(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (!host_valid(name))
    return luaL_argerror(L, 1, "a registry host name such as 'quay.io' or '127.0.0.1:5000'");
  isync_reg_opts o;
  memset(&o, 0, sizeof o);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    o.username = opt_str(L, 2, "username");
    o.password = opt_str(L, 2, "password");
    o.plain_http = opt_bool(L, 2, "plain_http");
    o.skip_verify = opt_bool(L, 2, "skip_verify");
    o.ca_file = opt_str(L, 2, "ca_file");
    o.cert_file = opt_str(L, 2, "cert_file");
    o.key_file = opt_str(L, 2, "key_file");
    o.ca_files = opt_str_list(L, 2, "ca_files");
    o.connect_timeout = (long)opt_int(L, 2, "connect_timeout", 0);
    o.timeout = (long)opt_int(L, 2, "timeout", 0);
    o.stall_timeout = (long)opt_int(L, 2, "stall_timeout", 0);
    o.max_conns = (int)opt_int(L, 2, "max_connections", 0);
  }
  lreg *lr = lua_newuserdatauv(L, sizeof *lr, 0);
  lr->r = NULL;
  luaL_setmetatable(L, REGISTRY_MT);
  char err[1024];
  lr->r = isync_registry_new(name, &o, err, sizeof err);
  if (!lr->r) return luaL_error(L, "registry %s: %s", name, err);
  return 1;
}

static int reg_gc(lua_State *L) {
  lreg *lr = luaL_checkudata(L, 1, REGISTRY_MT);
  if (lr->r) { isync_registry_unref(lr->r); lr->r = NULL; }
  return 0;
}

static int reg_info(lua_State *L) {
  lreg *lr = check_reg(L, 1);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, lr->r->name); lua_setfield(L, -2, "name");
  lua_pushstring(L, lr->r->base); lua_setfield(L, -2, "base");
  lua_pushboolean(L, lr->r->username != NULL); lua_setfield(L, -2, "has_credentials");
  return 1;
}

static int reg_tostring(lua_State *L) {
  lreg *lr = luaL_checkudata(L, 1, REGISTRY_MT);
  lua_pushfstring(L, "isync.Registry(%s)", lr->r ? lr->r->name : "closed");
  return 1;
}

/* ---- jobs ---- */

static const struct { const char *name; isync_job_kind kind; } KINDS[] = {
  {"ping", ISYNC_JOB_PING}, {"tags", ISYNC_JOB_TAGS}, {"catalog", ISYNC_JOB_CATALOG}, {"manifest_get", ISYNC_JOB_MANIFEST_GET},
  {"manifest_head", ISYNC_JOB_MANIFEST_HEAD}, {"manifest_put", ISYNC_JOB_MANIFEST_PUT},
  {"blob_head", ISYNC_JOB_BLOB_HEAD}, {"blob_mount", ISYNC_JOB_BLOB_MOUNT},
  {"blob_copy", ISYNC_JOB_BLOB_COPY}, {"blob_get", ISYNC_JOB_BLOB_GET},
  {"blob_put", ISYNC_JOB_BLOB_PUT}, {"sleep", ISYNC_JOB_SLEEP}, {"referrers", ISYNC_JOB_REFERRERS}, {NULL, 0},
};

static char *req_str(lua_State *L, int t, const char *k) {
  const char *s = opt_str(L, t, k);
  if (!s) luaL_error(L, "missing '%s'", k);
  return strdup(s);
}

/* core.submit(op, registry|nil, args) -> Job */
static int l_submit(lua_State *L) {
  const char *op = luaL_checkstring(L, 1);
  int k = 0;
  while (KINDS[k].name && strcmp(KINDS[k].name, op) != 0) k++;
  if (!KINDS[k].name) return luaL_argerror(L, 1, "unknown operation");
  isync_job_kind kind = KINDS[k].kind;
  lreg *lr = kind == ISYNC_JOB_SLEEP ? NULL : check_reg(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  isync_engine *e = get_engine(L);

  ljob *lj = lua_newuserdatauv(L, sizeof *lj, 0);
  lj->j = NULL;
  luaL_setmetatable(L, JOB_MT);
  isync_job *j = lj->j = isync_job_new(kind);
  if (!j) return luaL_error(L, "out of memory");
  if (lr) { isync_registry_ref(lr->r); j->reg = lr->r; }
  if (kind == ISYNC_JOB_SLEEP) {
    j->sleep_ms = (long)opt_int(L, 3, "ms", 0);
  } else if (kind != ISYNC_JOB_PING && kind != ISYNC_JOB_CATALOG) {
    j->repo = req_str(L, 3, "repo");
    if (!isync_repo_valid(j->repo)) return luaL_error(L, "invalid repository name '%s'", j->repo);
  }
  switch (kind) {
    case ISYNC_JOB_MANIFEST_GET: case ISYNC_JOB_MANIFEST_HEAD: case ISYNC_JOB_MANIFEST_PUT:
      j->ref = req_str(L, 3, "ref");
      if (!isync_tag_valid(j->ref) && !isync_digest_valid(j->ref))
        return luaL_error(L, "invalid tag or digest '%s'", j->ref);
      break;
    case ISYNC_JOB_BLOB_HEAD: case ISYNC_JOB_BLOB_MOUNT: case ISYNC_JOB_BLOB_COPY: case ISYNC_JOB_BLOB_GET:
    case ISYNC_JOB_REFERRERS:
      j->ref = req_str(L, 3, "digest");
      if (!isync_digest_valid(j->ref)) return luaL_error(L, "invalid digest '%s'", j->ref);
      break;
    default: break;
  }
  if (kind == ISYNC_JOB_MANIFEST_PUT || kind == ISYNC_JOB_BLOB_PUT) {
    lua_getfield(L, 3, "data");
    size_t n;
    const char *d = lua_tolstring(L, -1, &n);
    if (!d) return luaL_error(L, "missing 'data'");
    isync_buf_append(&j->data, d, n);
    lua_pop(L, 1);
  }
  if (kind == ISYNC_JOB_MANIFEST_PUT) {
    j->media_type = req_str(L, 3, "media_type");
    if (!media_type_valid(j->media_type)) return luaL_error(L, "invalid media type '%s'", j->media_type);
  }
  if (kind == ISYNC_JOB_BLOB_MOUNT || kind == ISYNC_JOB_BLOB_COPY) {
    j->src_repo = req_str(L, 3, "from");
    if (!isync_repo_valid(j->src_repo)) return luaL_error(L, "invalid repository name '%s'", j->src_repo);
  }
  if (kind == ISYNC_JOB_BLOB_COPY) {
    lua_getfield(L, 3, "source");
    lreg *src = luaL_testudata(L, -1, REGISTRY_MT);
    if (!src) return luaL_error(L, "missing 'source' registry");
    isync_registry_ref(src->r);
    j->src = src->r;
    lua_pop(L, 1);
    j->size = opt_int(L, 3, "size", -1);
    j->chunk_size = opt_int(L, 3, "chunk_size", 0);
    lua_Integer ring = opt_int(L, 3, "buffer_size", ISYNC_RING_DEFAULT);
    if (ring < 64 * 1024 || ring > (lua_Integer)1 << 30) return luaL_error(L, "buffer_size must be between 64 KiB and 1 GiB");
    j->ring_size = (size_t)ring;
    if (j->chunk_size < 0) return luaL_error(L, "chunk_size must not be negative");
  }
  if (kind == ISYNC_JOB_BLOB_GET) j->max_body = (size_t)opt_int(L, 3, "max_size", 64 << 20);
  if (kind == ISYNC_JOB_TAGS || kind == ISYNC_JOB_CATALOG) j->page_size = (long)opt_int(L, 3, "page_size", 0);

  if (isync_job_submit(e, j) != 0) return luaL_error(L, "isync engine is stopping");
  lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  lua_pushlightuserdata(L, j);
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  return 1;
}

static ljob *check_job(lua_State *L, int i) { return luaL_checkudata(L, i, JOB_MT); }

/* The job behind a handle, or an error once job:close() has released it. */
static isync_job *open_job(lua_State *L, int i) {
  ljob *lj = check_job(L, i);
  if (!lj->j) luaL_error(L, "isync: the job is closed");
  return lj->j;
}

static void forget_pending(lua_State *L, isync_job *j) {
  lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  lua_pushlightuserdata(L, j);
  lua_pushnil(L);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* Takes a job a core.stop() ended off the stopped table: the given one (key at index k,
 * returning whether it was there) or, with k == 0, any (pushed; returns 0 when none). */
static int take_stopped(lua_State *L, int k) {
  if (k) k = lua_absindex(L, k);
  if (lua_getfield(L, LUA_REGISTRYINDEX, STOPPED_KEY) != LUA_TTABLE) { lua_pop(L, 1); return 0; }
  if (k) {
    lua_pushvalue(L, k);
    int there = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 1);
    lua_pushvalue(L, k);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return there;
  }
  lua_pushnil(L);
  if (!lua_next(L, -2)) { lua_pop(L, 1); return 0; }   /* table, key, job */
  lua_pushvalue(L, -2);
  lua_pushnil(L);
  lua_rawset(L, -5);
  lua_replace(L, -3);   /* job, key */
  lua_pop(L, 1);
  return 1;
}

/* core.poll(timeout_ms) -> the next finished Job, or nil */
static int l_poll(lua_State *L) {
  int timeout = (int)luaL_optinteger(L, 1, 0);
  if (take_stopped(L, 0)) return 1;
  isync_engine *e = get_engine(L);
  isync_job *j = isync_engine_next_done(e, timeout);
  if (!j) return 0;
  lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  lua_pushlightuserdata(L, j);
  lua_rawget(L, -2);
  forget_pending(L, j);
  isync_job_unref(j);   /* the queue's reference; the userdata keeps its own */
  if (lua_isnil(L, -1)) return 0;   /* submitted from another state: cannot happen */
  return 1;
}

/* core.wait(job, timeout_ms) -> true when finished */
static int l_wait(lua_State *L) {
  isync_job *j = open_job(L, 1);
  int timeout = (int)luaL_optinteger(L, 2, -1);
  lua_pushlightuserdata(L, j);
  int stopped = take_stopped(L, -1);
  lua_pop(L, 1);
  if (stopped) { lua_pushboolean(L, 1); return 1; }   /* ended by core.stop(): no engine to ask */
  int done = isync_engine_wait_job(get_engine(L), j, timeout);
  if (done) forget_pending(L, j);
  lua_pushboolean(L, done);
  return 1;
}

static int job_done(lua_State *L) {
  lua_pushboolean(L, atomic_load(&open_job(L, 1)->done));
  return 1;
}

static int push_failure(lua_State *L, isync_job *j) {
  lua_pushnil(L);
  lua_pushstring(L, j->err ? j->err : "failed");
  lua_pushstring(L, j->code ? j->code : "INTERNAL");
  lua_createtable(L, 0, 2);
  if (j->http_status) { lua_pushinteger(L, j->http_status); lua_setfield(L, -2, "status"); }
  if (j->retry_after >= 0) { lua_pushinteger(L, j->retry_after); lua_setfield(L, -2, "retry_after"); }
  return 4;
}

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v || !*v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* j->list as a Lua array of strings. */
static void push_list(lua_State *L, const isync_job *j) {
  lua_createtable(L, (int)j->nlist, 0);
  for (size_t i = 0; i < j->nlist; i++) { lua_pushstring(L, j->list[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
}

/* job:result() -> the operation's value, or nil, message, code, {status, retry_after} */
static int job_result(lua_State *L) {
  isync_job *j = open_job(L, 1);
  if (!atomic_load(&j->done)) return luaL_error(L, "job is not finished");
  if (!j->ok) return push_failure(L, j);
  switch (j->kind) {
    case ISYNC_JOB_TAGS:
    case ISYNC_JOB_CATALOG:
      push_list(L, j);
      return 1;
    case ISYNC_JOB_MANIFEST_GET:
      lua_createtable(L, 0, 4);
      lua_pushlstring(L, j->body.data ? j->body.data : "", j->body.len); lua_setfield(L, -2, "bytes");
      set_str(L, "media_type", j->out_media_type);
      set_str(L, "digest", j->digest);
      lua_pushinteger(L, (lua_Integer)j->body.len); lua_setfield(L, -2, "size");
      return 1;
    case ISYNC_JOB_MANIFEST_HEAD:
      if (!j->exists) { lua_pushboolean(L, 0); return 1; }
      lua_createtable(L, 0, 3);
      set_str(L, "media_type", j->out_media_type);
      set_str(L, "digest", j->digest);
      if (j->out_size >= 0) { lua_pushinteger(L, j->out_size); lua_setfield(L, -2, "size"); }
      return 1;
    case ISYNC_JOB_MANIFEST_PUT:
    case ISYNC_JOB_BLOB_PUT:
      lua_pushstring(L, j->digest);
      return 1;
    case ISYNC_JOB_BLOB_HEAD:
      if (!j->exists) lua_pushboolean(L, 0);
      else lua_pushinteger(L, j->out_size);
      return 1;
    case ISYNC_JOB_BLOB_MOUNT:
      lua_pushboolean(L, j->exists);
      return 1;
    case ISYNC_JOB_BLOB_COPY:
      lua_pushinteger(L, j->bytes);
      return 1;
    case ISYNC_JOB_BLOB_GET:
      lua_pushlstring(L, j->body.data ? j->body.data : "", j->body.len);
      return 1;
    case ISYNC_JOB_REFERRERS:   /* false (no API), one page's index, or a list of pages */
      if (!j->exists) lua_pushboolean(L, 0);
      else if (j->nlist == 1) lua_pushstring(L, j->list[0]);
      else push_list(L, j);
      return 1;
    default:
      lua_pushboolean(L, 1);
      return 1;
  }
}

static int job_gc(lua_State *L) {
  ljob *lj = check_job(L, 1);
  if (lj->j) { isync_job_unref(lj->j); lj->j = NULL; }
  return 0;
}

/* job:close(): release a finished job's memory now (a manifest or config body, the request
 * data) instead of when the garbage collector gets to the small handle. */
static int job_close(lua_State *L) {
  ljob *lj = check_job(L, 1);
  if (lj->j && !atomic_load(&lj->j->done)) return luaL_error(L, "job is not finished");
  return job_gc(L);
}

static int job_tostring(lua_State *L) {
  ljob *lj = check_job(L, 1);
  lua_pushfstring(L, "isync.Job(%d, %s)", lj->j ? (int)lj->j->kind : -1,
                  lj->j && atomic_load(&lj->j->done) ? "done" : "running");
  return 1;
}

/* ---- utilities ---- */

/* core.parse_ref(s) -> {registry, repo, tag, digest} | nil, message */
static int l_parse_ref(lua_State *L) {
  const char *s = luaL_checkstring(L, 1);
  isync_ref r;
  char err[512];
  if (isync_ref_parse(s, &r, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_createtable(L, 0, 4);
  set_str(L, "registry", r.registry);
  set_str(L, "repo", r.repo);
  set_str(L, "tag", r.tag);
  set_str(L, "digest", r.digest);
  isync_ref_free(&r);
  return 1;
}

static int l_digest(lua_State *L) {
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  char out[ISYNC_DIGEST_MAX];
  isync_digest_of(p, n, luaL_optstring(L, 2, NULL), out);
  lua_pushstring(L, out);
  return 1;
}

static int l_digest_valid(lua_State *L) { lua_pushboolean(L, isync_digest_valid(luaL_checkstring(L, 1))); return 1; }
static int l_repo_valid(lua_State *L) { lua_pushboolean(L, isync_repo_valid(luaL_checkstring(L, 1))); return 1; }
static int l_tag_valid(lua_State *L) { lua_pushboolean(L, isync_tag_valid(luaL_checkstring(L, 1))); return 1; }

static int l_monotime(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* core.list_dir(path) -> {names} (sorted, without . and ..), or nil, message when it
 * cannot be read: certs.d lookups (the stock Lua library cannot list a directory). */
static int list_entries(lua_State *L) {   /* runs protected: the DIR is closed whatever happens */
  DIR *d = lua_touserdata(L, 1);
  lua_newtable(L);
  lua_Integer n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    lua_pushstring(L, e->d_name);
    lua_rawseti(L, -2, ++n);
  }
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  return 1;
}

static int l_list_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  if (!d) { lua_pushnil(L); lua_pushfstring(L, "%s: %s", path, strerror(errno)); return 2; }
  lua_pushcfunction(L, list_entries);
  lua_pushlightuserdata(L, d);
  int rc = lua_pcall(L, 1, 1, 0);
  closedir(d);
  if (rc != LUA_OK) return lua_error(L);
  return 1;
}

static int l_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

static int l_bytes_uploaded(lua_State *L) {
  lua_pushinteger(L, isync_bytes_uploaded());
  return 1;
}

/* core.stop() stops the engine now, cancelling running transfers (Ctrl-C path). Every
 * job Lua still waits for has ended then (CANCELED unless it had finished): they move to
 * the stopped table, where poll and wait find them, so no waiter hangs. */
static int l_stop(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
  lengine *le = lua_touserdata(L, -1);
  if (!le || !le->e) return 0;
  isync_engine_stop(le->e, 1);
  le->e = NULL;
  if (lua_getfield(L, LUA_REGISTRYINDEX, STOPPED_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, STOPPED_KEY);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  lua_pushnil(L);
  while (lua_next(L, -2)) {   /* stopped, pending, key, job */
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -5);
  }
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  return 0;
}

void isync_open_ledger(lua_State *L);   /* lledger.c */

int luaopen_isync_core(lua_State *L) {
  static const luaL_Reg reg_methods[] = {{"info", reg_info}, {NULL, NULL}};
  static const luaL_Reg job_methods[] = {{"done", job_done}, {"result", job_result}, {"close", job_close}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {
    {"registry", l_registry}, {"submit", l_submit}, {"poll", l_poll}, {"wait", l_wait},
    {"parse_ref", l_parse_ref}, {"digest", l_digest}, {"digest_valid", l_digest_valid},
    {"repo_valid", l_repo_valid}, {"tag_valid", l_tag_valid}, {"monotime", l_monotime},
    {"stop", l_stop}, {"isatty", l_isatty}, {"list_dir", l_list_dir}, {"bytes_uploaded", l_bytes_uploaded}, {NULL, NULL},
  };
  if (luaL_newmetatable(L, REGISTRY_MT)) {
    luaL_newlib(L, reg_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, reg_gc); lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, reg_gc); lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, reg_tostring); lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, JOB_MT)) {
    luaL_newlib(L, job_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, job_gc); lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, job_tostring); lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  if (lua_isnil(L, -1)) {
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_newtable(L);
  for (int i = 0; isync_codes[i]; i++) { lua_pushstring(L, isync_codes[i]); lua_setfield(L, -2, isync_codes[i]); }
  lua_setfield(L, -2, "codes");
  lua_pushstring(L, ISYNC_VERSION);
  lua_setfield(L, -2, "version");
  isync_open_ledger(L);
  return 1;
}
