/* lengine.c - the engine of a Lua state: started on first use, stopped when the state
 * closes (or by core.stop), and its completion descriptor (core.fd). */
#include "lua/lglue.h"

#define ENGINE_KEY "isync.engine"

typedef struct { isync_engine *e; } lengine;

static int engine_gc(lua_State *L) {
  lengine *le = lua_touserdata(L, 1);
  if (le->e) { isync_engine_stop(le->e); le->e = NULL; }
  return 0;
}

isync_engine *isync_lua_engine(lua_State *L) {
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

int isync_lua_engine_stop(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
  lengine *le = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!le || !le->e) return 0;
  isync_engine_stop(le->e);
  le->e = NULL;
  return 1;
}

/* core.fd() -> a descriptor readable while finished jobs wait for core.poll (an eventfd),
 * for a host event loop (luv, cqueues, a C poll loop) that drives isync without blocking
 * in core.poll. It belongs to the engine: valid until core.stop() or the state closes. */
static int l_fd(lua_State *L) {
  lua_pushinteger(L, isync_engine_fd(isync_lua_engine(L)));
  return 1;
}

void isync_open_engine(lua_State *L) {
  lua_pushcfunction(L, l_fd);
  lua_setfield(L, -2, "fd");
}
