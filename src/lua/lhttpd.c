/* lhttpd.c - isync.Httpd: core.httpd{...} starts src/service/httpd (isync serve's
 * webhook, metrics and health endpoint). Only this Lua thread calls these methods; the
 * server's threads hand webhooks over through its queue and eventfd. */
#include <string.h>
#include "lua/lglue.h"
#include "service/httpd.h"

#define HTTPD_MT "isync.Httpd"

typedef struct { isync_httpd *h; } lhttpd;

static isync_httpd *check_httpd(lua_State *L) {
  lhttpd *lh = luaL_checkudata(L, 1, HTTPD_MT);
  if (!lh->h) luaL_error(L, "isync: the server is stopped");
  return lh->h;
}

static lua_Number opt_num(lua_State *L, const char *k, lua_Number def) {
  lua_getfield(L, 1, k);
  lua_Number v = luaL_optnumber(L, -1, def);
  lua_pop(L, 1);
  return v;
}

/* core.httpd{address = "127.0.0.1", port = 0, secret = "..." | nil, max_body = n,
 * max_queue = n, stale_after = s} -> Httpd, or nil, message, "IO_ERROR" when it cannot
 * listen. The secret is hashed in C and not kept in the userdata. */
static int l_httpd(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  isync_httpd_opts o;
  memset(&o, 0, sizeof o);
  lua_getfield(L, 1, "address");
  o.address = luaL_optstring(L, -1, "127.0.0.1");
  lua_getfield(L, 1, "secret");
  o.secret = luaL_optstring(L, -1, NULL);
  if (o.secret && !*o.secret) return luaL_error(L, "core.httpd: an empty secret");
  o.port = (int)opt_num(L, "port", 0);
  o.max_body = (size_t)opt_num(L, "max_body", 0);
  o.max_queue = (size_t)opt_num(L, "max_queue", 0);
  o.stale_after = opt_num(L, "stale_after", 0);
  lhttpd *lh = lua_newuserdatauv(L, sizeof *lh, 0);
  lh->h = NULL;
  luaL_setmetatable(L, HTTPD_MT);
  char err[256];
  lh->h = isync_httpd_start(&o, err, sizeof err);
  if (!lh->h) return isync_lua_fail(L, err, "IO_ERROR");
  return 1;
}

static int l_port(lua_State *L) { lua_pushinteger(L, isync_httpd_port(check_httpd(L))); return 1; }
static int l_fd(lua_State *L) { lua_pushinteger(L, isync_httpd_fd(check_httpd(L))); return 1; }

/* httpd:take() -> {{path, body, received}, ...} (oldest first; {} when none) */
static int l_take(lua_State *L) {
  isync_httpd_event *list = isync_httpd_take(check_httpd(L));
  lua_newtable(L);
  lua_Integer n = 0;
  for (isync_httpd_event *ev = list; ev; ev = ev->next) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, ev->path);
    lua_setfield(L, -2, "path");
    lua_pushlstring(L, ev->body ? ev->body : "", ev->body ? ev->len : 0);
    lua_setfield(L, -2, "body");
    lua_pushnumber(L, ev->received);
    lua_setfield(L, -2, "received");
    lua_rawseti(L, -2, ++n);
  }
  isync_httpd_events_free(list);
  return 1;
}

static int l_metrics(lua_State *L) {
  isync_httpd *h = check_httpd(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (isync_httpd_set_metrics(h, s, n) != 0) return luaL_error(L, "out of memory");
  return 0;
}

static int l_health(lua_State *L) {
  isync_httpd *h = check_httpd(L);
  isync_httpd_set_health(h, lua_toboolean(L, 2), luaL_optstring(L, 3, NULL));
  return 0;
}

static int l_heartbeat(lua_State *L) { isync_httpd_heartbeat(check_httpd(L)); return 0; }
static int l_inflight(lua_State *L) {
  isync_httpd *h = check_httpd(L);
  isync_httpd_set_inflight(h, (long)luaL_checkinteger(L, 2));
  return 0;
}

/* httpd:stop(): idempotent; also __gc and __close */
static int l_stop(lua_State *L) {
  lhttpd *lh = luaL_checkudata(L, 1, HTTPD_MT);
  if (lh->h) { isync_httpd_stop(lh->h); lh->h = NULL; }
  return 0;
}

void isync_open_httpd(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"port", l_port}, {"fd", l_fd}, {"take", l_take}, {"metrics", l_metrics}, {"health", l_health},
    {"heartbeat", l_heartbeat}, {"inflight", l_inflight}, {"stop", l_stop}, {NULL, NULL},
  };
  isync_lua_new_type(L, HTTPD_MT, methods, l_stop, l_stop, NULL, "httpd", l_httpd);
}
