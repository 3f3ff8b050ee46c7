/* lredis.c - Lua glue for the Redis client (src/service/redis.c):
 *   core.redis(url [, {connect_timeout, timeout}]) -> isync.Redis | nil, message, "REDIS"
 *   conn:call(cmd, args...) -> the reply | nil, message, "REDIS" (the connection failed; the
 *     next call reconnects) | nil, message, "REDIS_REPLY" (Redis refused the command)
 * Replies: a bulk or status string is a string, an integer an integer, nil is false, an
 * array a list; an error inside an array is {err = message}. conn:name() is the URL without
 * its password. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include "lua/lglue.h"
#include "service/redis.h"

#define REDIS_MT "isync.Redis"

typedef struct { isync_redis *r; } lredis;

static isync_redis *check_open(lua_State *L) {
  lredis *lr = luaL_checkudata(L, 1, REDIS_MT);
  if (!lr->r) luaL_argerror(L, 1, "redis connection is closed");
  return lr->r;
}

static int int_field(lua_State *L, int t, const char *k, double dflt) {
  if (lua_isnoneornil(L, t)) return (int)(dflt * 1000);
  lua_getfield(L, t, k);
  lua_Number v = lua_isnil(L, -1) ? dflt : luaL_checknumber(L, -1);
  lua_pop(L, 1);
  if (v <= 0 || v > 3600) luaL_argerror(L, t, "timeouts are seconds in (0, 3600]");
  return (int)(v * 1000);
}

static int l_open(lua_State *L) {
  const char *url = luaL_checkstring(L, 1);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  int connect_ms = int_field(L, 2, "connect_timeout", 5), command_ms = int_field(L, 2, "timeout", 10);
  lredis *lr = lua_newuserdatauv(L, sizeof *lr, 0);
  lr->r = NULL;
  luaL_setmetatable(L, REDIS_MT);
  char err[512];
  lr->r = isync_redis_open(url, connect_ms, command_ms, err, sizeof err);
  if (!lr->r) return isync_lua_fail(L, err, "REDIS");
  return 1;
}

static void push_reply(lua_State *L, const isync_redis_reply *r) {
  luaL_checkstack(L, 4, "redis reply too deep");
  switch (r->type) {
    case ISYNC_REDIS_NIL: lua_pushboolean(L, 0); break;
    case ISYNC_REDIS_INT: lua_pushinteger(L, (lua_Integer)r->integer); break;
    case ISYNC_REDIS_ERROR:
      lua_createtable(L, 0, 1);
      lua_pushlstring(L, r->str, r->len);
      lua_setfield(L, -2, "err");
      break;
    case ISYNC_REDIS_ARRAY:
      lua_createtable(L, (int)r->n, 0);
      for (size_t i = 0; i < r->n; i++) { push_reply(L, &r->elems[i]); lua_rawseti(L, -2, (lua_Integer)i + 1); }
      break;
    default: lua_pushlstring(L, r->str, r->len);
  }
}

/* The reply tree is freed whatever happens to the Lua work (memory errors): pushed under
 * protection. */
static int push_protected(lua_State *L) {
  push_reply(L, lua_touserdata(L, 1));
  return 1;
}

static int m_call(lua_State *L) {
  isync_redis *r = check_open(L);
  int argc = lua_gettop(L) - 1;
  luaL_argcheck(L, argc >= 1, 2, "a command is needed");
  const char **argv = lua_newuserdatauv(L, (size_t)argc * (sizeof *argv + sizeof(size_t)), 0);
  size_t *lens = (size_t *)(argv + argc);
  for (int i = 0; i < argc; i++) {
    int t = lua_type(L, i + 2);
    if (t != LUA_TSTRING && t != LUA_TNUMBER) luaL_argerror(L, i + 2, "a string or a number is needed");
    argv[i] = lua_tolstring(L, i + 2, &lens[i]);   /* numbers become strings in place: stay anchored */
  }
  isync_redis_reply *rep;
  char err[512];
  if (isync_redis_call(r, argc, argv, lens, &rep, err, sizeof err) != 0) return isync_lua_fail(L, err, "REDIS");
  if (rep->type == ISYNC_REDIS_ERROR) {
    lua_pushnil(L);
    lua_pushlstring(L, rep->str, rep->len);
    isync_redis_reply_free(rep);
    lua_pushstring(L, "REDIS_REPLY");
    return 3;
  }
  lua_pushcfunction(L, push_protected);
  lua_pushlightuserdata(L, rep);
  int rc = lua_pcall(L, 1, 1, 0);
  isync_redis_reply_free(rep);
  if (rc != LUA_OK) return lua_error(L);
  return 1;
}

static int m_name(lua_State *L) { lua_pushstring(L, isync_redis_name(check_open(L))); return 1; }

static int m_close(lua_State *L) {
  lredis *lr = luaL_checkudata(L, 1, REDIS_MT);
  isync_redis_close(lr->r);
  lr->r = NULL;
  return 0;
}

static int m_tostring(lua_State *L) {
  lredis *lr = luaL_checkudata(L, 1, REDIS_MT);
  lua_pushfstring(L, "isync.Redis(%s)", lr->r ? isync_redis_name(lr->r) : "closed");
  return 1;
}

void isync_open_redis(lua_State *L) {
  static const luaL_Reg methods[] = {{"call", m_call}, {"name", m_name}, {"close", m_close}, {NULL, NULL}};
  isync_lua_new_type(L, REDIS_MT, methods, m_close, m_close, m_tostring, "redis", l_open);
}
