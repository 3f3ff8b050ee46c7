/* registry.h - one registry endpoint: connection settings, credentials, and auth state
 * (challenge, cached tokens). Settings are fixed at creation on the Lua thread; the auth
 * state is touched only on the engine thread. (no Lua) */
#ifndef ISYNC_REGISTRY_H
#define ISYNC_REGISTRY_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "engine/engine.h"


typedef struct isync_reg_opts {
  const char *username, *password;   /* password may be an identity (refresh) token when username is "<token>" */
  int plain_http;
  int skip_verify;
  const char *ca_file, *cert_file, *key_file;
  const char *const *ca_files;       /* more CA files (NULL-terminated): certs.d, the auth file */
  long connect_timeout;              /* seconds */
  long timeout;                      /* seconds, whole metadata request */
  long stall_timeout;                /* seconds without progress on any request */
  int max_conns;                     /* operations in flight against this registry */
} isync_reg_opts;

typedef void (*isync_auth_cont)(isync_engine *e, isync_job *j, void *arg, int ok);

typedef struct isync_waiter {
  isync_job *job;
  void *arg;
  void (*arg_free)(void *arg);   /* frees arg when the waiter is dropped unrun */
  isync_auth_cont cont;
  const char *scopes;    /* for ping waiters: the scopes to prepare once the scheme is known */
  struct isync_registry *reg;
  struct isync_waiter *next;
} isync_waiter;

typedef struct isync_token {
  char *scope_key;       /* sorted, space-separated scopes */
  char *token;           /* secret */
  time_t expires;        /* monotonic seconds */
  int fetching;
  isync_waiter *waiters;
  char *err; const char *code;   /* last failure, given to waiters */
  struct isync_registry *reg;    /* the registry it belongs to (not a reference) */
  struct isync_token *next;
} isync_token;

enum { ISYNC_AUTH_UNKNOWN, ISYNC_AUTH_PINGING, ISYNC_AUTH_NONE, ISYNC_AUTH_BASIC, ISYNC_AUTH_BEARER, ISYNC_AUTH_FAILED };

typedef struct isync_registry {
  atomic_int refs;
  char *name;            /* as the user wrote it, e.g. "docker.io", "127.0.0.1:5000" */
  char *base;            /* "https://registry-1.docker.io" */
  char *username, *password;
  int plain_http, skip_verify;
  char *ca_file, *cert_file, *key_file;
  char *ca_bundle;       /* PEM: the base store plus this registry's CAs (NULL: curl's default) */
  size_t ca_bundle_len;
  char *ca_path;         /* SSL_CERT_DIR, for OpenSSL's hashed lookup */
  long connect_timeout, timeout, stall_timeout;
  int max_conns;
  /* engine thread state */
  isync_slots blob_slots;   /* blob transfers in flight: max_conns */
  isync_slots meta_slots;   /* metadata requests in flight, a pool of their own so a listing
                               or a HEAD never waits behind a queue of multi-GB layers */
  int auth_state;
  char *realm, *service;
  char *ping_err; const char *ping_code;
  isync_waiter *ping_waiters;
  isync_token *tokens;
  /* origins this registry's blob GETs were redirected to during this run (object storage,
   * a CDN): Link/Location targets may also go there */
  char redirect_origins[8][256];
  int nredirect_origins;
} isync_registry;

/* NULL with a one-line reason in err (a CA file that cannot be read, out of memory). */
isync_registry *isync_registry_new(const char *name, const isync_reg_opts *o, char *err, size_t errsz);
void isync_registry_ref(isync_registry *r);
/* Zeroes a secret string, then frees it (NULL is fine). */
void isync_wipe_free(char *s);
void isync_registry_unref(isync_registry *r);

/* Applies TLS, timeouts and proxy-free settings to a request aimed at this registry. */
void isync_registry_setup_http(const isync_registry *r, isync_http *h, int streaming);

/* After an engine stopped: no slot in use, no ping or token fetch in flight. */
void isync_registry_reset(isync_registry *r);
/* 1 when url has the registry's scheme, host and port: credentials go only there. */
int isync_registry_same_origin(const isync_registry *r, const char *url);
/* "scheme://host:port" of a URL, lowercased, default port explicit (for messages too). */
void isync_url_origin(const char *url, char *out, size_t n);
/* 1 when a URL the registry named (Link rel=next, an upload Location) may be requested:
 * it is on the registry's origin or on one its blob GETs were redirected to this run.
 * Anything else (127.0.0.1, 169.254.169.254, another host) is refused before connecting. */
int isync_registry_may_follow(const isync_registry *r, const char *url);
/* Engine thread: a blob GET of r ended on url after redirects; remembers its origin. */
void isync_registry_note_redirect(isync_registry *r, const char *url);



#endif
