/* request.h - one authenticated request of a registry operation, and the pieces of the
 * upload protocol more than one operation uses (no Lua). */
#ifndef ISYNC_REQUEST_H
#define ISYNC_REQUEST_H
#include "registry/op.h"

typedef void (*isync_req_fn)(isync_engine *e, isync_op *op, isync_http *h);
typedef void (*isync_fail_fn)(isync_engine *e, isync_op *op);

/* Waits for auth, builds the request (setup may add headers, bodies and hooks), sends
 * credentials only to the registry's own origin, retries once with a fresh token after a
 * 401 whose body was not streamed, then hands the answer to done, which frees it. When
 * the request cannot even be sent (auth failed, out of memory) the job's error is set
 * and on_fail is called, or the job finished when on_fail is NULL. */
void isync_request(isync_engine *e, isync_op *op, isync_registry *reg, const char *scopes, const char *method,
                   const char *url, isync_req_fn setup, isync_req_fn done, isync_fail_fn on_fail);

/* The common case: METHOD BASE/v2/REPO/WHAT/REF on the operation's own registry and
 * repository, authorized for `actions` there (op->scopes, kept for the requests that
 * follow; set once). */
void isync_op_request(isync_engine *e, isync_op *op, const char *method, const char *actions, const char *what,
                      const char *ref, isync_req_fn setup, isync_req_fn done);

/* "repository:NAME:ACTIONS" scopes, space-separated and sorted (the token cache key). */
char *isync_scopes(const char *repo, const char *actions, const char *repo2, const char *actions2);

/* The upload session an answer of the upload protocol names in its Location (a POST's or
 * a mount's 202, a PATCH's 202), absolute. NULL when there is none (an error only when
 * required), and NULL with a PROTOCOL error when it names an origin the registry may not
 * (isync_registry_may_follow): one rule for every upload answer. The job is not
 * finished; h stays the caller's. */
char *isync_upload_location(isync_op *op, isync_http *h, const char *what, int required);
/* The session a POST .../blobs/uploads/ answer opened (202 and its Location), or NULL with
 * the job's error set (not finished). h stays the caller's. */
char *isync_upload_opened(isync_op *op, isync_http *h);
/* Sends DELETE url to r and forgets about it (upload cancellation; failures ignored). It is
 * detached: an engine stopping gives it a bounded moment to run. */
void isync_fire_delete(isync_engine *e, isync_registry *r, const char *scopes, const char *url);

#endif
