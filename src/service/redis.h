/* redis.h - a small, blocking Redis client (hiredis underneath; no Lua): one connection to
 * redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], one command at a time with binary-safe
 * arguments, the reply copied into a small tree. The work queue (lua/isync/queue.lua) runs
 * its commands through it; each answers in well under a millisecond on a LAN, so the Lua
 * thread blocks briefly while the engine thread keeps copying. */
#ifndef ISYNC_REDIS_H
#define ISYNC_REDIS_H
#include <stddef.h>

typedef struct isync_redis isync_redis;

typedef enum {
  ISYNC_REDIS_NIL,
  ISYNC_REDIS_INT,
  ISYNC_REDIS_STR,      /* a bulk string */
  ISYNC_REDIS_STATUS,   /* +OK */
  ISYNC_REDIS_ERROR,    /* -ERR ...: Redis refused the command */
  ISYNC_REDIS_ARRAY,
} isync_redis_type;

typedef struct isync_redis_reply {
  isync_redis_type type;
  long long integer;
  char *str;            /* STR, STATUS, ERROR: len bytes, NUL-terminated */
  size_t len;
  struct isync_redis_reply *elems;   /* ARRAY: n elements */
  size_t n;
} isync_redis_reply;

/* Parses the URL and connects (AUTH and SELECT when the URL asks; without a password in the
 * URL, $REDISCLI_AUTH is the password when set, as for redis-cli). connect_ms bounds the
 * connection, command_ms each command. NULL with the reason in err (never the password). */
isync_redis *isync_redis_open(const char *url, int connect_ms, int command_ms, char *err, size_t errsz);
/* The URL without its password ("redis://user:***@host:6379/0"), for messages. */
const char *isync_redis_name(const isync_redis *r);
/* Runs one command. 0 and *out set (an ERROR reply included), or -1 when the connection
 * failed (err says why; the next call reconnects). Free *out with isync_redis_reply_free. */
int isync_redis_call(isync_redis *r, int argc, const char **argv, const size_t *lens, isync_redis_reply **out,
                     char *err, size_t errsz);
void isync_redis_reply_free(isync_redis_reply *rep);
void isync_redis_close(isync_redis *r);

/* URL parsing alone (tests): 0, or -1 with err. host/user/password are malloc'd. */
typedef struct {
  char *host, *user, *password;
  int port, db;
} isync_redis_url;
int isync_redis_url_parse(const char *url, isync_redis_url *u, char *err, size_t errsz);
void isync_redis_url_free(isync_redis_url *u);

#endif
