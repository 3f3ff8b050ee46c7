/* lledger.c - Lua glue for the ledger file: core.ledger_open(path) -> isync.Ledger. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include "lua/lglue.h"
#include "util/ledger.h"

#define LEDGER_MT "isync.Ledger"

typedef struct { isync_ledger *l; } lledger;

/* Misuse (a closed ledger, a wrong argument) raises; a failure of the file returns
 * nil, message, "LEDGER" like every failing isync function. */
static isync_ledger *check_open(lua_State *L) {
  lledger *ll = luaL_checkudata(L, 1, LEDGER_MT);
  if (!ll->l) luaL_argerror(L, 1, "ledger is closed");
  return ll->l;
}

static int fail(lua_State *L, const char *err) { return isync_lua_fail(L, err, "LEDGER"); }

/* core.ledger_open(path) -> Ledger | nil, message, "LEDGER" */
static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lledger *ll = lua_newuserdatauv(L, sizeof *ll, 0);
  ll->l = NULL;
  luaL_setmetatable(L, LEDGER_MT);
  char err[512];
  ll->l = isync_ledger_open(path, err, sizeof err);
  if (!ll->l) return fail(L, err);
  return 1;
}

/* Hands one record to the sink (argument 3): appended to the records table, or passed to
 * the caller's function. Runs protected (see push_record). */
static int push_one(lua_State *L) {
  const char *payload = lua_touserdata(L, 1);
  size_t n = (size_t)lua_tointeger(L, 2);
  if (lua_istable(L, 3)) {
    lua_pushlstring(L, payload, n);
    lua_rawseti(L, 3, (lua_Integer)lua_rawlen(L, 3) + 1);
  } else {
    lua_pushvalue(L, 3);
    lua_pushlstring(L, payload, n);
    lua_call(L, 1, 0);
  }
  return 0;
}

typedef struct { lua_State *L; int failed; } load_ctx;

/* The ledger's load callback: an error (memory, or raised by the caller's function) must
 * not unwind through the C loader (its FILE and line buffer would leak), so the Lua work
 * runs under lua_pcall and a failure stops the load, leaving the error value on top of
 * the stack for m_load. Pushing a light C function, a light userdata and an integer does
 * not allocate. */
static int push_record(void *ud, const char *payload, size_t n) {
  load_ctx *c = ud;
  lua_State *L = c->L;
  lua_pushcfunction(L, push_one);
  lua_pushlightuserdata(L, (void *)payload);
  lua_pushinteger(L, (lua_Integer)n);
  lua_pushvalue(L, 3);   /* the sink */
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) { c->failed = 1; return 1; }
  return 0;
}

/* ledger:load() -> {payload...}, skipped
 * ledger:load(fn) -> skipped, calling fn(payload) for each record in order; an error raised
 * by fn stops the load and is raised again once the file is closed. */
static int m_load(lua_State *L) {
  isync_ledger *l = check_open(L);
  int with_fn = !lua_isnoneornil(L, 2);
  if (with_fn) luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  if (with_fn) lua_pushvalue(L, 2);
  else lua_newtable(L);
  luaL_checkstack(L, 8, "ledger load");   /* push_record's slots, reserved before the file opens */
  load_ctx c = { L, 0 };
  char err[512];
  int skipped = isync_ledger_load(l, push_record, &c, err, sizeof err);
  if (c.failed && with_fn) return lua_error(L);
  if (skipped < 0) return fail(L, err);
  lua_pushinteger(L, skipped);
  return with_fn ? 1 : 2;
}

static int m_append(lua_State *L) {
  isync_ledger *l = check_open(L);
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  char err[512];
  if (isync_ledger_append(l, p, n, err, sizeof err) != 0) return fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_sync(lua_State *L) {
  char err[512];
  if (isync_ledger_sync(check_open(L), err, sizeof err) != 0) return fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* ledger:compact({payload...}) */
static int m_compact(lua_State *L) {
  isync_ledger *l = check_open(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  size_t count = (size_t)lua_rawlen(L, 2);
  const char **ps = calloc(count + 1, sizeof *ps);
  size_t *ls = calloc(count + 1, sizeof *ls);
  if (!ps || !ls) { free(ps); free(ls); return luaL_error(L, "out of memory"); }
  for (size_t i = 0; i < count; i++) {
    lua_rawgeti(L, 2, (lua_Integer)i + 1);
    ps[i] = lua_tolstring(L, -1, &ls[i]);   /* the table keeps the strings alive */
    lua_pop(L, 1);
    if (!ps[i]) {
      free(ps);
      free(ls);
      return luaL_argerror(L, 2, lua_pushfstring(L, "record %d is not a string", (int)i + 1));
    }
  }
  char err[512];
  int rc = isync_ledger_compact(l, ps, ls, count, err, sizeof err);
  free(ps);
  free(ls);
  if (rc != 0) return fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_appended(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)isync_ledger_appended(check_open(L)));
  return 1;
}

static int m_close(lua_State *L) {
  lledger *ll = luaL_checkudata(L, 1, LEDGER_MT);
  if (ll->l) { isync_ledger_close(ll->l); ll->l = NULL; }
  return 0;
}

void isync_open_ledger(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"load", m_load}, {"append", m_append}, {"sync", m_sync}, {"compact", m_compact},
    {"appended", m_appended}, {"close", m_close}, {NULL, NULL},
  };
  isync_lua_new_type(L, LEDGER_MT, methods, m_close, m_close, NULL, "ledger_open", l_open);
}
