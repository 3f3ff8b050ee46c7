/* parse.h - parsers for the HTTP headers and URLs the registry protocol depends on (no Lua). */
#ifndef ISYNC_PARSE_H
#define ISYNC_PARSE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ISYNC_CHAL_PARAMS 8

typedef struct {
  char scheme[16];                     /* lowercased: "basic", "bearer", ... */
  int nparams;
  char *names[ISYNC_CHAL_PARAMS];      /* lowercased */
  char *values[ISYNC_CHAL_PARAMS];     /* unquoted */
} isync_challenge;

/* Parses a WWW-Authenticate value holding one or more challenges
 * (RFC 7235; quoted values may contain commas and escaped quotes).
 * Returns how many were stored (<= max), -1 on a malformed header.
 * Free each with isync_challenge_free. */
int isync_parse_challenges(const char *hdr, isync_challenge *out, int max);
const char *isync_challenge_param(const isync_challenge *c, const char *name);
void isync_challenge_free(isync_challenge *c);

/* Finds the target of rel="next" in a Link header value. Returns malloc'd URL or NULL. */
char *isync_parse_link_next(const char *hdr);

/* Parses a Range header answer "0-123" or "bytes=0-123" (inclusive end). 0 ok, -1 bad. */
int isync_parse_range_end(const char *hdr, int64_t *end);

/* Retry-After as delay seconds from `now`: integer seconds or an HTTP date, clamped to
 * [0, ISYNC_RETRY_AFTER_MAX] (a server's number never overflows). -1 if unparsable. */
#define ISYNC_RETRY_AFTER_MAX 86400L
long isync_parse_retry_after(const char *value, time_t now);

/* Resolves a Location/Link target against the URL of the request it answered
 * (absolute, scheme-relative, absolute-path, or relative). malloc'd. */
char *isync_url_resolve(const char *base, const char *ref);

/* Appends "name=value" (value percent-encoded) with '?' or '&' as the URL needs. malloc'd. */
char *isync_url_add_query(const char *url, const char *name, const char *value);

/* Copies url into out without its query string and fragment (for error messages: upload
 * URLs and redirects carry state and signatures that do not belong in logs). */
void isync_url_redact(const char *url, char *out, size_t outsz);

#endif
