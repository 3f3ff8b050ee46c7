/* auth.h - registry authentication on the engine thread: the /v2/ challenge, Basic
 * credentials, and Bearer tokens cached per scope set (state kept in isync_registry). */
#ifndef ISYNC_AUTH_H
#define ISYNC_AUTH_H
#include "registry/registry.h"

/* Ensures the registry's challenge is known and, for Bearer, that a token for `scopes`
 * (space-separated) is cached; then calls cont(arg, ok). On failure the job's error is
 * set before cont(0). Until then the job is held (a reference); arg_free frees arg when
 * the wait is dropped unrun (engine shutdown). */
void isync_auth_prepare(isync_engine *e, isync_registry *r, const char *scopes, isync_job *j,
                        isync_auth_cont cont, void *arg, void (*arg_free)(void *));
/* Adds the Authorization header for scopes, if any is due. */
void isync_auth_apply(isync_registry *r, const char *scopes, isync_http *h);
/* Forget the token for scopes (after a 401). */
void isync_auth_invalidate(isync_registry *r, const char *scopes);
/* Forgets every waiting job (engine shutdown), dropping their references. */
void isync_auth_drop_waiters(isync_registry *r);
/* Learns the scheme from a 401's WWW-Authenticate (a registry whose /v2/ was open may
 * still protect repositories). Returns 1 when the state changed. */
int isync_auth_learn(isync_registry *r, isync_http *h);
/* Why the registry (or, with token_server, its token server) answered 401, in words:
 * "HOST needs credentials and none were found", "credentials rejected by HOST for user U",
 * or, for a token the registry refused, access denied. */
void isync_auth_explain_401(const isync_registry *r, int token_server, char *out, size_t outsz);

#endif
