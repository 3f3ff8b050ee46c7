/* errors.h - the stable error codes shared by C and Lua (no Lua). */
#ifndef ISYNC_ERRORS_H
#define ISYNC_ERRORS_H
#include <curl/curl.h>

/* Returns the static string for a known code (OCI codes and ours), or NULL. */
const char *isync_code_intern(const char *code);
/* Code for a transport failure. */
const char *isync_code_for_curl(CURLcode cc);
/* Code for an HTTP status without a usable error body. */
const char *isync_code_for_status(long status, const char *not_found_code);
/* NULL-terminated list of every code, for Lua's isync.codes table. */
extern const char *const isync_codes[];

#endif
