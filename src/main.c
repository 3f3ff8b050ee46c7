/* main.c - the isync host: a Lua 5.4 interpreter with isync built in, after lua.c.
 * Everything the command line means is decided in Lua (lua/isync/cli.lua); this file
 * only sets up the state, runs cli.main protected, and turns errors and Ctrl-C into one
 * line and an exit status. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int luaopen_isync_core(lua_State *L);

typedef struct { const char *name; const char *src; size_t len; } isync_embedded_mod;
extern const isync_embedded_mod isync_embedded[];

static lua_State *g_L;
static int g_trace;

/* Ctrl-C: like lua.c, stop the running Lua code at the next instruction. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  lua_pushliteral(L, "interrupted");   /* no position: it is not the script's fault */
  lua_error(L);
}

static void on_sigint(int sig) {
  (void)sig;   /* SA_RESETHAND: a second Ctrl-C kills at once */
  lua_sethook(g_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* sigaction, not signal(): one-shot semantics are explicit, and SA_RESTART keeps a read
 * interrupted by Ctrl-C from failing. The engine threads block every signal, so the
 * handler runs on the Lua thread, the only one that may touch g_L. */
static void set_sigint(void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART | (handler == SIG_DFL ? 0 : SA_RESETHAND);
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
}

static int msg_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  if (g_trace) luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static int utf8_len(const unsigned char *p) {
  int n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
  for (int i = 1; i < n; i++) if ((p[i] & 0xc0) != 0x80) return 0;
  if (n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) return 0;   /* overlong, surrogate */
  if (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))) return 0;   /* overlong, > U+10FFFF */
  return n;
}

/* An error message may quote a registry: control characters (C0, DEL, C1 as UTF-8) and
 * bytes that are not UTF-8 (a bare 0x9b is an 8-bit CSI to some terminals) become '?',
 * as isync.log.clean does; a traceback keeps its newlines and tabs. */
static void put_clean(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    if (*p < 0x80) {
      if (g_trace && (*p == '\n' || *p == '\t')) fputc(*p, stderr);
      else if (*p == '\n' || *p == '\t' || *p == '\r') fputc(' ', stderr);
      else if (*p < 0x20 || *p == 0x7f) fputc('?', stderr);
      else fputc(*p, stderr);
      p++;
      continue;
    }
    int n = utf8_len(p);
    if (n == 0 || (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f)) { fputc('?', stderr); p += n ? n : 1; continue; }
    fwrite(p, 1, (size_t)n, stderr);
    p += n;
  }
}

/* package.searchers entry for the modules compiled into the host. */
static int embedded_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (const isync_embedded_mod *m = isync_embedded; m->name; m++) {
    if (strcmp(m->name, name) != 0) continue;
    char chunk[256];
    snprintf(chunk, sizeof chunk, "@[isync]/%s", name);
    if (luaL_loadbuffer(L, m->src, m->len, chunk) != LUA_OK) return lua_error(L);
    lua_pushstring(L, chunk + 1);
    return 2;
  }
  lua_pushfstring(L, "no embedded module '%s'", name);
  return 1;
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_openlibs(L);
  /* isync.core and the embedded Lua modules come before the search path, so the host
   * always runs the isync it was built with */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_isync_core);
  lua_setfield(L, -2, "isync.core");
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = n; i >= 2; i--) { lua_rawgeti(L, -1, i); lua_rawseti(L, -2, i + 1); }
  lua_pushcfunction(L, embedded_searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
  /* arg, as lua.c sets it: arg[0] the script, arg[-1] the host */
  lua_createtable(L, argc, 1);
  for (int i = 0; i < argc; i++) { lua_pushstring(L, argv[i]); lua_rawseti(L, -2, i); }
  lua_setglobal(L, "ISYNC_ARGV");
  lua_getglobal(L, "require");
  lua_pushstring(L, "isync.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_getglobal(L, "ISYNC_ARGV");
  lua_pushnil(L);
  lua_setglobal(L, "ISYNC_ARGV");
  lua_call(L, 1, 1);
  return 1;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--trace") == 0) g_trace = 1;
    if (argv[i][0] != '-') break;   /* options after the script belong to the script */
  }
  const char *env = getenv("ISYNC_TRACE");
  if (env && *env && strcmp(env, "0") != 0) g_trace = 1;
  lua_State *L = luaL_newstate();
  if (!L) { fprintf(stderr, "isync: cannot create Lua state: not enough memory\n"); return 1; }
  g_L = L;
  set_sigint(on_sigint);
  lua_pushcfunction(L, msg_handler);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 1);
  int code;
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    int interrupted = msg && strncmp(msg, "interrupted", 11) == 0;
    fputs("isync: ", stderr);
    put_clean(msg ? msg : "error");
    fputc('\n', stderr);
    code = interrupted ? 130 : 1;
  } else {
    code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : (lua_toboolean(L, -1) || lua_isnil(L, -1)) ? 0 : 1;
  }
  set_sigint(SIG_DFL);
  lua_close(L);   /* stops the engine: running uploads are cancelled */
  fflush(stdout);
  return code;
}
