/* redis.c - the blocking Redis client of redis.h over hiredis. */
#include "service/redis.h"
#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct isync_redis {
  isync_redis_url url;
  char name[320];            /* the URL without the password */
  int connect_ms, command_ms;
  redisContext *c;           /* NULL after a connection failure: the next call reconnects */
};

static char *dup_decoded(const char *s, size_t n) {   /* %XX decoded */
  char *out = malloc(n + 1);
  if (!out) return NULL;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
      char hex[3] = {s[i + 1], s[i + 2], 0};
      out[j++] = (char)strtol(hex, NULL, 16);
      i += 2;
    } else {
      out[j++] = s[i];
    }
  }
  out[j] = 0;
  return out;
}

void isync_redis_url_free(isync_redis_url *u) {
  free(u->host);
  free(u->user);
  if (u->password) { memset(u->password, 0, strlen(u->password)); free(u->password); }
  memset(u, 0, sizeof *u);
}

int isync_redis_url_parse(const char *url, isync_redis_url *u, char *err, size_t errsz) {
  memset(u, 0, sizeof *u);
  u->port = 6379;
  const char *p = url;
  if (strncmp(p, "redis://", 8) != 0) {
    snprintf(err, errsz, "not a redis:// URL (redis://[[USER]:PASSWORD@]HOST[:PORT][/DB])");
    return -1;
  }
  p += 8;
  const char *end = p + strcspn(p, "/?#");
  const char *at = NULL;
  for (const char *q = p; q < end; q++) if (*q == '@') at = q;   /* the last @: a password may hold one */
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
      if (colon > p) u->user = dup_decoded(p, (size_t)(colon - p));
      u->password = dup_decoded(colon + 1, (size_t)(at - colon - 1));
    } else {
      u->password = dup_decoded(p, (size_t)(at - p));   /* redis://PASSWORD@host, as redis-cli reads it */
    }
    p = at + 1;
  }
  const char *hend;
  if (*p == '[') {
    const char *rb = memchr(p, ']', (size_t)(end - p));
    if (!rb) { snprintf(err, errsz, "redis URL: an unclosed [ in the host"); goto bad; }
    u->host = dup_decoded(p + 1, (size_t)(rb - p - 1));
    hend = rb + 1;
  } else {
    hend = p;
    while (hend < end && *hend != ':') hend++;
    u->host = dup_decoded(p, (size_t)(hend - p));
  }
  if (!u->host || !*u->host) { snprintf(err, errsz, "redis URL: no host"); goto bad; }
  if (hend < end && *hend == ':') {
    char *e;
    errno = 0;
    long port = strtol(hend + 1, &e, 10);
    if (e != end || e == hend + 1 || port < 1 || port > 65535 || errno) { snprintf(err, errsz, "redis URL: bad port"); goto bad; }
    u->port = (int)port;
  } else if (hend != end) {
    snprintf(err, errsz, "redis URL: bad host");
    goto bad;
  }
  if (*end == '/' && end[1] && end[1] != '?' && end[1] != '#') {
    char *e;
    long db = strtol(end + 1, &e, 10);
    if ((*e && *e != '?' && *e != '#') || e == end + 1 || db < 0 || db > 1000000) {
      snprintf(err, errsz, "redis URL: the path must be a database number");
      goto bad;
    }
    u->db = (int)db;
  }
  return 0;
bad:
  isync_redis_url_free(u);
  return -1;
}

static void copy_reply(isync_redis_reply *dst, const redisReply *src, int *oom) {
  memset(dst, 0, sizeof *dst);
  switch (src->type) {
    case REDIS_REPLY_INTEGER: dst->type = ISYNC_REDIS_INT; dst->integer = src->integer; return;
    case REDIS_REPLY_NIL: dst->type = ISYNC_REDIS_NIL; return;
    case REDIS_REPLY_ARRAY:
      dst->type = ISYNC_REDIS_ARRAY;
      if (src->elements == 0) return;
      dst->elems = calloc(src->elements, sizeof *dst->elems);
      if (!dst->elems) { *oom = 1; return; }
      dst->n = src->elements;
      for (size_t i = 0; i < src->elements; i++) copy_reply(&dst->elems[i], src->element[i], oom);
      return;
    default:
      dst->type = src->type == REDIS_REPLY_STATUS ? ISYNC_REDIS_STATUS
                : src->type == REDIS_REPLY_ERROR ? ISYNC_REDIS_ERROR : ISYNC_REDIS_STR;
      dst->str = malloc(src->len + 1);
      if (!dst->str) { *oom = 1; return; }
      memcpy(dst->str, src->str, src->len);
      dst->str[src->len] = 0;
      dst->len = src->len;
  }
}

static void free_inner(isync_redis_reply *r) {
  for (size_t i = 0; i < r->n; i++) free_inner(&r->elems[i]);
  free(r->elems);
  free(r->str);
}

void isync_redis_reply_free(isync_redis_reply *rep) {
  if (!rep) return;
  free_inner(rep);
  free(rep);
}

static struct timeval tv_of(int ms) { struct timeval tv = {ms / 1000, (ms % 1000) * 1000}; return tv; }

/* One command on the open context: its reply, or NULL with err (the context is then dropped). */
static redisReply *raw(isync_redis *r, int argc, const char **argv, const size_t *lens, char *err, size_t errsz) {
  redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
  if (!rep) {
    snprintf(err, errsz, "%s: %s", r->name, r->c->errstr[0] ? r->c->errstr : "connection lost");
    redisFree(r->c);
    r->c = NULL;
  }
  return rep;
}

/* Connects, then AUTH and SELECT. 0, or -1 with err. */
static int connect_now(isync_redis *r, char *err, size_t errsz) {
  r->c = redisConnectWithTimeout(r->url.host, r->url.port, tv_of(r->connect_ms));
  if (!r->c || r->c->err) {
    snprintf(err, errsz, "%s: %s", r->name, r->c ? r->c->errstr : "out of memory");
    if (r->c) redisFree(r->c);
    r->c = NULL;
    return -1;
  }
  redisSetTimeout(r->c, tv_of(r->command_ms));
  char db[16];
  snprintf(db, sizeof db, "%d", r->url.db);
  const char *auth1[] = {"auth", r->url.password}, *auth2[] = {"auth", r->url.user, r->url.password};
  const char *sel[] = {"select", db};
  for (int step = 0; step < 2; step++) {
    if (step == 0 && !r->url.password) continue;
    if (step == 1 && r->url.db == 0) continue;
    redisReply *rep = step == 0 ? raw(r, r->url.user ? 3 : 2, r->url.user ? auth2 : auth1, NULL, err, errsz)
                                : raw(r, 2, sel, NULL, err, errsz);
    if (!rep) return -1;
    if (rep->type == REDIS_REPLY_ERROR) {
      /* the server's words, not ours: they never echo the password */
      snprintf(err, errsz, "%s: %s refused: %.200s", r->name, step == 0 ? "auth" : "select", rep->str);
      freeReplyObject(rep);
      redisFree(r->c);
      r->c = NULL;
      return -1;
    }
    freeReplyObject(rep);
  }
  return 0;
}

isync_redis *isync_redis_open(const char *url, int connect_ms, int command_ms, char *err, size_t errsz) {
  isync_redis *r = calloc(1, sizeof *r);
  if (!r) { snprintf(err, errsz, "out of memory"); return NULL; }
  if (isync_redis_url_parse(url, &r->url, err, errsz) != 0) { free(r); return NULL; }
  /* redis-cli's variable: a password that stays out of argv and of the URL */
  const char *env = getenv("REDISCLI_AUTH");
  if (!r->url.password && env && *env && !(r->url.password = strdup(env))) {
    snprintf(err, errsz, "out of memory");
    isync_redis_url_free(&r->url);
    free(r);
    return NULL;
  }
  int v6 = strchr(r->url.host, ':') != NULL;
  /* the name is set after the password is known: it says whether one is used */
  snprintf(r->name, sizeof r->name, "redis://%s%s%s%s%s%s:%d/%d", r->url.user ? r->url.user : "",
           r->url.password ? ":***" : "", (r->url.user || r->url.password) ? "@" : "",
           v6 ? "[" : "", r->url.host, v6 ? "]" : "", r->url.port, r->url.db);
  r->connect_ms = connect_ms > 0 ? connect_ms : 5000;
  r->command_ms = command_ms > 0 ? command_ms : 10000;
  if (connect_now(r, err, errsz) != 0) { isync_redis_close(r); return NULL; }
  return r;
}

const char *isync_redis_name(const isync_redis *r) { return r->name; }

int isync_redis_call(isync_redis *r, int argc, const char **argv, const size_t *lens, isync_redis_reply **out,
                     char *err, size_t errsz) {
  *out = NULL;
  if (!r->c && connect_now(r, err, errsz) != 0) return -1;
  redisReply *rep = raw(r, argc, argv, lens, err, errsz);
  if (!rep) return -1;
  isync_redis_reply *t = calloc(1, sizeof *t);
  int oom = !t;
  if (t) copy_reply(t, rep, &oom);
  freeReplyObject(rep);
  if (oom) { isync_redis_reply_free(t); snprintf(err, errsz, "out of memory"); return -1; }
  *out = t;
  return 0;
}

void isync_redis_close(isync_redis *r) {
  if (!r) return;
  if (r->c) redisFree(r->c);
  isync_redis_url_free(&r->url);
  free(r);
}
