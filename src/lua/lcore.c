/* lcore.c - the isync.core Lua module: the utilities that need C, and the module's
 * opener. Its engine and each userdata type have a file (lengine.c, lregistry.c, ljob.c,
 * lledger.c). Jobs are finished by the engine thread; Lua (lua/isync/sched.lua) decides
 * whether to block or to yield. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lua/lglue.h"
#include "util/digest.h"
#include "util/errors.h"
#include "util/ref.h"
#include "registry/mediatypes.h"


/* ---- utilities ---- */

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v || !*v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* core.parse_ref(s) -> {registry, repo, tag, digest} | nil, message, "REF_INVALID" */
static int l_parse_ref(lua_State *L) {
  const char *s = luaL_checkstring(L, 1);
  isync_ref r;
  char err[512];
  if (isync_ref_parse(s, &r, err, sizeof err) != 0) return isync_lua_fail(L, err, "REF_INVALID");
  lua_createtable(L, 0, 4);
  set_str(L, "registry", r.registry);
  set_str(L, "repo", r.repo);
  set_str(L, "tag", r.tag);
  set_str(L, "digest", r.digest);
  isync_ref_free(&r);
  return 1;
}

/* core.canonical_name(registry [, repo]) -> the registry's name [, repo as named there]:
 * Docker Hub's rule (util/ref.c) for names that are not whole references */
static int l_canonical_name(lua_State *L) {
  const char *reg = luaL_checkstring(L, 1);
  lua_pushstring(L, isync_registry_canonical(reg));
  if (lua_isnoneornil(L, 2)) return 1;
  size_t n;
  const char *repo = luaL_checklstring(L, 2, &n);
  char *out = isync_repo_canonical(reg, repo, n);
  if (!out) return luaL_error(L, "out of memory");
  lua_pushstring(L, out);
  free(out);
  return 2;
}

/* core.digest(bytes [, "sha256" | "sha512"]); another algorithm name is misuse */
static int l_digest(lua_State *L) {
  static const char *const algs[] = {"sha256", "sha512", NULL};
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  int alg = luaL_checkoption(L, 2, "sha256", algs);
  char out[ISYNC_DIGEST_MAX];
  isync_digest_of(p, n, alg == 1 ? "sha512:" : NULL, out);
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

/* core.list_dir(path) -> {names} (sorted, without . and ..), or nil, message, "IO_ERROR"
 * when it cannot be read: certs.d lookups (the stock Lua library cannot list a directory). */
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
  if (!d) { lua_pushnil(L); lua_pushfstring(L, "%s: %s", path, strerror(errno)); lua_pushstring(L, "IO_ERROR"); return 3; }
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

int luaopen_isync_core(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"parse_ref", l_parse_ref}, {"canonical_name", l_canonical_name}, {"digest", l_digest}, {"digest_valid", l_digest_valid},
    {"repo_valid", l_repo_valid}, {"tag_valid", l_tag_valid}, {"monotime", l_monotime},
    {"isatty", l_isatty}, {"list_dir", l_list_dir},
    {"bytes_uploaded", l_bytes_uploaded}, {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  isync_open_engine(L);
  isync_open_registry(L);
  isync_open_job(L);
  isync_open_codes(L);
  lua_pushstring(L, ISYNC_VERSION);
  lua_setfield(L, -2, "version");
  isync_open_ledger(L);
  isync_open_httpd(L);
  isync_open_redis(L);
  /* the tables Lua derives its own from: Docker Hub's names, manifest media types */
  lua_newtable(L);
  for (int i = 0; isync_dockerhub_names[i]; i++) { lua_pushstring(L, isync_dockerhub_names[i]); lua_rawseti(L, -2, i + 1); }
  lua_setfield(L, -2, "dockerhub_names");
  lua_newtable(L);
  for (int i = 0; isync_media_types[i].type; i++) {
    const isync_media_type *m = &isync_media_types[i];
    lua_createtable(L, 0, 4);
    set_str(L, "type", m->type);
    set_str(L, "name", m->name);
    set_str(L, "kind", isync_mt_kind_name(m->kind));
    lua_pushnumber(L, m->q); lua_setfield(L, -2, "q");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "media_types");
  return 1;
}
