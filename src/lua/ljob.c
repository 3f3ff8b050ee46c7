/* ljob.c - isync.Job: core.submit(op, registry, args) builds an operation from its
 * descriptor (src/registry/ops.c), and a finished job's result is pushed in the shape the
 * descriptor names. core.poll and core.wait hand finished jobs back. */
#include <string.h>
#include "lua/lglue.h"
#include "registry/ops.h"
#include "util/errors.h"

#define PENDING_KEY "isync.pending"   /* lightuserdata(job) -> Job userdata, until claimed */
#define STOPPED_KEY "isync.stopped"   /* the same, for jobs a core.stop() ended: poll hands them out */

typedef struct {
  isync_job *j;
  int detached;   /* closed before it finished: the engine's answer is dropped unseen */
} ljob;

static ljob *check_job(lua_State *L, int i) { return luaL_checkudata(L, i, JOB_MT); }

/* The job behind a handle, or an error once job:close() has released it. */
static isync_job *open_job(lua_State *L, int i) {
  ljob *lj = check_job(L, i);
  if (!lj->j) luaL_error(L, "isync: the job is closed");
  return lj->j;
}

/* ---- submitting ---- */

/* Reads the descriptor's arguments from the table at index t into op. */
static void read_args(lua_State *L, int t, isync_op *op) {
  char err[512];
  for (const isync_op_arg *a = op->desc->args; a->name; a++) {
    int type = lua_getfield(L, t, a->name);
    const char *bad = NULL;
    if (type == LUA_TNIL) {
      if (a->required) bad = "missing";
    } else if (a->kind == ISYNC_ARG_REGISTRY) {
      isync_registry *r = isync_lua_test_registry(L, -1);
      if (!r) bad = "must be a registry";
      else isync_op_set_registry(op, a, r);
    } else if (a->kind == ISYNC_ARG_INT) {
      /* an integer as it is (through a double, 2^63-1 became out of range and large
       * values lost their low bits); a float truncated, unless no int64 holds it (the
       * cast would be undefined: NaN, infinities, 2^63) */
      int isint;
      lua_Integer v = lua_tointegerx(L, -1, &isint);
      lua_Number n = lua_tonumber(L, -1);
      if (type != LUA_TNUMBER) bad = "must be a number";
      else if (!isint && !(n >= -9223372036854775808.0 && n < 9223372036854775808.0))
        luaL_error(L, "'%s' must be between %I and %I", a->name, (lua_Integer)a->min, (lua_Integer)a->max);
      else if (!isint) v = (lua_Integer)n;
      if (!bad && isync_op_set_int(op, a, (int64_t)v, err, sizeof err)) luaL_error(L, "%s", err);
    } else if (type != LUA_TSTRING) {
      bad = "must be a string";
    } else {
      size_t n;
      const char *s = lua_tolstring(L, -1, &n);
      if (isync_op_set_str(op, a, s, n, err, sizeof err)) luaL_error(L, "%s", err);
    }
    if (bad) luaL_error(L, "%s '%s' (%s)", bad, a->name, op->desc->job.name);
    lua_pop(L, 1);
  }
}

static void pending_add(lua_State *L, isync_job *j, int ud) {
  ud = lua_absindex(L, ud);
  lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  lua_pushlightuserdata(L, j);
  lua_pushvalue(L, ud);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* core.submit(op, registry|nil, args) -> Job */
static int l_submit(lua_State *L) {
  const isync_op_desc *d = isync_op_find(luaL_checkstring(L, 1));
  if (!d) return luaL_argerror(L, 1, "unknown operation");
  isync_registry *reg = d->needs_registry ? isync_lua_check_registry(L, 2) : NULL;
  luaL_checktype(L, 3, LUA_TTABLE);
  isync_engine *e = isync_lua_engine(L);
  ljob *lj = lua_newuserdatauv(L, sizeof *lj, 0);
  memset(lj, 0, sizeof *lj);
  luaL_setmetatable(L, JOB_MT);
  isync_op *op = isync_op_new(d, reg);
  if (!op) return luaL_error(L, "out of memory");
  lj->j = &op->job;   /* collected with the handle if an argument is refused */
  read_args(L, 3, op);
  isync_op_ready(op);
  if (isync_job_submit(e, lj->j) != 0) return luaL_error(L, "isync engine is stopping");
  pending_add(L, lj->j, -1);
  return 1;
}

/* ---- results ---- */

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

static void push_list(lua_State *L, const isync_op *op) {
  lua_createtable(L, (int)op->nlist, 0);
  for (size_t i = 0; i < op->nlist; i++) { lua_pushstring(L, op->list[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
}

/* One value in the descriptor's result shape. */
static void push_result(lua_State *L, const isync_op *op) {
  switch (op->desc->result) {
    case ISYNC_RESULT_TRUE: lua_pushboolean(L, 1); return;
    case ISYNC_RESULT_LIST: push_list(L, op); return;
    case ISYNC_RESULT_MANIFEST:
      lua_createtable(L, 0, 4);
      lua_pushlstring(L, op->body.data ? op->body.data : "", op->body.len); lua_setfield(L, -2, "bytes");
      set_str(L, "media_type", op->out_media_type);
      set_str(L, "digest", op->digest);
      lua_pushinteger(L, (lua_Integer)op->body.len); lua_setfield(L, -2, "size");
      return;
    case ISYNC_RESULT_MANIFEST_HEAD:
      if (!op->exists) { lua_pushboolean(L, 0); return; }
      lua_createtable(L, 0, 3);
      set_str(L, "media_type", op->out_media_type);
      set_str(L, "digest", op->digest);
      if (op->out_size >= 0) { lua_pushinteger(L, op->out_size); lua_setfield(L, -2, "size"); }
      return;
    case ISYNC_RESULT_DIGEST: lua_pushstring(L, op->digest); return;
    case ISYNC_RESULT_SIZE:
      if (!op->exists) lua_pushboolean(L, 0); else lua_pushinteger(L, op->out_size);
      return;
    case ISYNC_RESULT_EXISTS: lua_pushboolean(L, op->exists); return;
    case ISYNC_RESULT_BYTES_MOVED: lua_pushinteger(L, op->bytes); return;
    case ISYNC_RESULT_BODY: lua_pushlstring(L, op->body.data ? op->body.data : "", op->body.len); return;
    case ISYNC_RESULT_PAGES:   /* false (no API), one page's index, or a list of pages */
      if (!op->exists) lua_pushboolean(L, 0);
      else if (op->nlist == 1) lua_pushstring(L, op->list[0]);
      else push_list(L, op);
      return;
  }
  lua_pushboolean(L, 1);
}

/* job:result() -> the operation's value, or nil, message, code, {status, retry_after} */
static int job_result(lua_State *L) {
  isync_job *j = open_job(L, 1);
  if (!atomic_load(&j->done)) return luaL_error(L, "job is not finished");
  if (!j->ok) return push_failure(L, j);
  push_result(L, ISYNC_OP(j));
  return 1;
}

static int job_done(lua_State *L) {
  lua_pushboolean(L, atomic_load(&open_job(L, 1)->done));
  return 1;
}

static void forget_pending(lua_State *L, isync_job *j);
static int take_stopped(lua_State *L, int k);

static int job_gc(lua_State *L) {
  ljob *lj = check_job(L, 1);
  if (lj->j) { isync_job_unref(lj->j); lj->j = NULL; }
  return 0;
}

/* job:close() and <close>: release a job's memory now (a manifest or config body, the
 * request data) instead of when the collector gets to the small handle. A job that has
 * not finished runs to its end, and its answer is dropped unseen by poll. */
static int job_close(lua_State *L) {
  ljob *lj = check_job(L, 1);
  if (lj->j && !atomic_load(&lj->j->done)) { lj->detached = 1; return 0; }
  if (lj->j) {
    /* finished but not collected: poll must not hand out a closed handle, and a key
     * left in the stopped table would name whatever job is allocated there next */
    lua_pushlightuserdata(L, lj->j);
    take_stopped(L, -1);
    lua_pop(L, 1);
    forget_pending(L, lj->j);
  }
  return job_gc(L);
}

static int job_tostring(lua_State *L) {
  ljob *lj = check_job(L, 1);
  lua_pushfstring(L, "isync.Job(%s, %s)", lj->j ? lj->j->type->name : "closed",
                  lj->j && atomic_load(&lj->j->done) ? "done" : "running");
  return 1;
}

/* ---- handing finished jobs back ---- */

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

/* A handle poll may hand out: not closed before its job finished. Releases it otherwise. */
static int wanted(lua_State *L, int i) {
  ljob *lj = luaL_testudata(L, i, JOB_MT);
  if (!lj) return 0;
  if (!lj->detached) return 1;
  if (lj->j) { isync_job_unref(lj->j); lj->j = NULL; }
  return 0;
}

/* core.poll(timeout_ms) -> the next finished Job, or nil */
static int l_poll(lua_State *L) {
  int timeout = (int)luaL_optinteger(L, 1, 0);
  while (take_stopped(L, 0)) {
    if (wanted(L, -1)) return 1;
    lua_pop(L, 1);
  }
  isync_engine *e = isync_lua_engine(L);
  isync_job *j;
  while ((j = isync_engine_next_done(e, timeout))) {
    lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
    lua_pushlightuserdata(L, j);
    lua_rawget(L, -2);
    forget_pending(L, j);
    isync_job_unref(j);   /* the queue's reference; the handle keeps its own */
    if (wanted(L, -1)) return 1;
    lua_pop(L, 2);
    timeout = 0;   /* a dropped answer does not start a new wait */
  }
  return 0;
}

/* core.wait(job, timeout_ms) -> true when finished */
static int l_wait(lua_State *L) {
  isync_job *j = open_job(L, 1);
  int timeout = (int)luaL_optinteger(L, 2, -1);
  lua_pushlightuserdata(L, j);
  int stopped = take_stopped(L, -1);
  lua_pop(L, 1);
  if (stopped) { lua_pushboolean(L, 1); return 1; }   /* ended by core.stop(): no engine to ask */
  int done = isync_engine_wait_job(isync_lua_engine(L), j, timeout);
  if (done) forget_pending(L, j);
  lua_pushboolean(L, done);
  return 1;
}

/* core.stop() stops the engine now, cancelling running transfers (Ctrl-C path). Every
 * job Lua still waits for has ended then (CANCELED unless it had finished): they move to
 * the stopped table, where poll and wait find them, so no waiter hangs. */
static int l_stop(lua_State *L) {
  if (!isync_lua_engine_stop(L)) return 0;
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
  lua_pop(L, 2);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  return 0;
}

void isync_open_job(lua_State *L) {
  static const luaL_Reg methods[] = {{"done", job_done}, {"result", job_result}, {"close", job_close}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"submit", l_submit}, {"poll", l_poll}, {"wait", l_wait}, {"stop", l_stop}, {NULL, NULL}};
  isync_lua_new_type(L, JOB_MT, methods, job_gc, job_close, job_tostring, NULL, NULL);
  if (lua_getfield(L, LUA_REGISTRYINDEX, PENDING_KEY) != LUA_TTABLE) {
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, PENDING_KEY);
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
  /* the operations, for scripts that check before submitting */
  lua_newtable(L);
  for (size_t i = 0; isync_op_at(i); i++) {
    lua_pushstring(L, isync_op_at(i)->job.name);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "operations");
}
