/* op_ping.c - "ping": is the registry there, and are the credentials good (GET /v2/). */
#include "registry/auth.h"
#include "registry/request.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ping_done(isync_engine *e, isync_op *op, isync_http *h) {
  if (isync_http_ok(h, 200)) isync_job_finish(e, &op->job);
  else isync_op_fail_http(e, op, h, "GET", NULL);
  isync_http_free(h);
}

/* The auth layer's own /v2/ probe comes first. When it has just answered 200 (no auth
 * needed), that answer is the ping's; otherwise ask again, with credentials, which checks
 * them. arg is non-NULL when the probe was made for this ping. */
static void ping_after_auth(isync_engine *e, isync_job *j, void *arg, int ok) {
  isync_op *op = ISYNC_OP(j);
  if (!ok) { isync_job_finish(e, j); return; }   /* the probe's error is already set */
  if (arg && op->reg->auth_state == ISYNC_AUTH_NONE) { isync_job_finish(e, j); return; }
  char url[2048];
  snprintf(url, sizeof url, "%s/v2/", op->reg->base);
  isync_request(e, op, op->reg, op->scopes, "GET", url, NULL, ping_done, NULL);
}

static void ping_start(isync_engine *e, isync_job *j) {
  isync_op *op = ISYNC_OP(j);
  op->scopes = strdup("");
  int probing = op->reg->auth_state == ISYNC_AUTH_UNKNOWN || op->reg->auth_state == ISYNC_AUTH_PINGING;
  isync_auth_prepare(e, op->reg, op->scopes, j, ping_after_auth, probing ? (void *)1 : NULL, NULL);
}

static const isync_op_arg args[] = {ISYNC_ARG_END};

const isync_op_desc isync_op_ping = {ISYNC_OP_JOB("ping", ping_start), 1, 0, args, ISYNC_RESULT_TRUE};
