/* lregistry.c - isync.Registry: core.registry(name, opts) and its methods. */
#include <ctype.h>
#include <string.h>
#include "lua/lglue.h"

typedef struct { isync_registry *r; } lreg;

isync_registry *isync_lua_check_registry(lua_State *L, int i) {
  lreg *lr = luaL_checkudata(L, i, REGISTRY_MT);
  if (!lr->r) luaL_argerror(L, i, "registry is closed");
  return lr->r;
}

isync_registry *isync_lua_test_registry(lua_State *L, int i) {
  lreg *lr = luaL_testudata(L, i, REGISTRY_MT);
  return lr ? lr->r : NULL;
}

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

static long opt_long(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  long v = 0;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "option '%s' must be a number", k);
    v = (long)lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* host, host:port, [v6]:port: nothing that could change a URL's meaning */
static int host_valid(const char *s) {
  if (!*s || strlen(s) > 253) return 0;
  for (const char *p = s; *p; p++)
    if (!(isalnum((unsigned char)*p) || strchr(".-:[]_", *p))) return 0;
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
    o.connect_timeout = opt_long(L, 2, "connect_timeout");
    o.timeout = opt_long(L, 2, "timeout");
    o.stall_timeout = opt_long(L, 2, "stall_timeout");
    o.max_conns = (int)opt_long(L, 2, "max_connections");
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
  isync_registry *r = isync_lua_check_registry(L, 1);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, r->name); lua_setfield(L, -2, "name");
  lua_pushstring(L, r->base); lua_setfield(L, -2, "base");
  lua_pushboolean(L, r->username != NULL); lua_setfield(L, -2, "has_credentials");
  return 1;
}

static int reg_tostring(lua_State *L) {
  lreg *lr = luaL_checkudata(L, 1, REGISTRY_MT);
  lua_pushfstring(L, "isync.Registry(%s)", lr->r ? lr->r->name : "closed");
  return 1;
}

void isync_open_registry(lua_State *L) {
  static const luaL_Reg methods[] = {{"info", reg_info}, {NULL, NULL}};
  isync_lua_new_type(L, REGISTRY_MT, methods, reg_gc, reg_gc, reg_tostring, "registry", l_registry);
}
