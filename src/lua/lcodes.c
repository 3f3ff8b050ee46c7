/* lcodes.c - the error code table (src/util/errors.c) as Lua tables on the isync.core
 * module: codes (code -> code, so isync.codes.TIMEOUT == "TIMEOUT") and code_info
 * (code -> {code, class, meaning}), which isync.retry classifies with. */
#include <lauxlib.h>
#include <lua.h>
#include "util/errors.h"

/* Sets codes and code_info on the table on top of the stack. */
void isync_open_codes(lua_State *L) {
  lua_newtable(L);   /* codes */
  lua_newtable(L);   /* code_info */
  for (const isync_code_def *d = isync_code_defs; d->code; d++) {
    lua_pushstring(L, d->code);
    lua_setfield(L, -3, d->code);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, d->code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, isync_code_class_name(d->cls));
    lua_setfield(L, -2, "class");
    lua_pushstring(L, d->meaning);
    lua_setfield(L, -2, "meaning");
    lua_setfield(L, -2, d->code);
  }
  lua_setfield(L, -3, "code_info");
  lua_setfield(L, -2, "codes");
}
