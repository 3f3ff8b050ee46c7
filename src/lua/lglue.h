/* lglue.h - what the isync.core glue files share (each file: one userdata type). */
#ifndef ISYNC_LGLUE_H
#define ISYNC_LGLUE_H
#include <lauxlib.h>
#include <lua.h>
#include "engine/engine.h"
#include "registry/registry.h"

#define REGISTRY_MT "isync.Registry"
#define JOB_MT "isync.Job"

/* lengine.c: the engine of this Lua state, started on first use, stopped when it closes. */
isync_engine *isync_lua_engine(lua_State *L);
/* lengine.c: stops it now (1), or there was none running (0). */
int isync_lua_engine_stop(lua_State *L);

/* lregistry.c: the registry at stack index i (an error when it is not one, or closed). */
isync_registry *isync_lua_check_registry(lua_State *L, int i);
/* NULL when the value at i is not a registry. */
isync_registry *isync_lua_test_registry(lua_State *L, int i);

/* A failure of the world, in the one result shape: nil, message, code (util/errors.h). */
static inline int isync_lua_fail(lua_State *L, const char *msg, const char *code) {
  lua_pushnil(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, code);
  return 3;
}

/* A userdata type: its metatable (methods as __index; gc as __gc and __close, tostring
 * as __tostring when given; made once per state), and its constructor set as
 * field `ctor_name` of the table on top of the stack. */
static inline void isync_lua_new_type(lua_State *L, const char *mt, const luaL_Reg *methods, lua_CFunction gc,
                                      lua_CFunction close, lua_CFunction tostring, const char *ctor_name,
                                      lua_CFunction ctor) {
  if (luaL_newmetatable(L, mt)) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc); lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, close); lua_setfield(L, -2, "__close");
    if (tostring) { lua_pushcfunction(L, tostring); lua_setfield(L, -2, "__tostring"); }
  }
  lua_pop(L, 1);
  if (ctor) { lua_pushcfunction(L, ctor); lua_setfield(L, -2, ctor_name); }
}

/* Each file's part of luaopen_isync_core: metatables, and functions set in the table on top. */
void isync_open_engine(lua_State *L);
void isync_open_registry(lua_State *L);
void isync_open_job(lua_State *L);
void isync_open_ledger(lua_State *L);
void isync_open_codes(lua_State *L);
void isync_open_httpd(lua_State *L);
void isync_open_redis(lua_State *L);

#endif
