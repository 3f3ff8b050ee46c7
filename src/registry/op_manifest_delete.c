/* op_manifest_delete.c - "manifest_delete": DELETE a manifest by digest (a mirror's
 * prune). Registries answer 202; one with deletes disabled says 405 (UNSUPPORTED). */
#include "registry/request.h"
#include <stdlib.h>

static void delete_done(isync_engine *e, isync_op *op, isync_http *h) {
  if (isync_http_ok(h, 202) || isync_http_ok(h, 200)) isync_job_finish(e, &op->job);
  else if (h->cc == CURLE_OK && h->status == 405)
    isync_job_fail(e, &op->job, "UNSUPPORTED", "DELETE manifest %s/%s@%s: the registry does not allow deletes (HTTP 405)",
                   op->reg->name, op->repo, op->ref);
  else isync_op_fail_http(e, op, h, "DELETE manifest", "MANIFEST_UNKNOWN");
  isync_http_free(h);
}

static void delete_start(isync_engine *e, isync_job *j) {
  isync_op_request(e, ISYNC_OP(j), "DELETE", "delete", "manifests", ISYNC_OP(j)->ref, NULL, delete_done);
}

static const isync_op_arg args[] = {ISYNC_ARG("repo", ISYNC_ARG_REPO, 1, repo), ISYNC_ARG("digest", ISYNC_ARG_DIGEST, 1, ref),
                                    ISYNC_ARG_END};

const isync_op_desc isync_op_manifest_delete = {ISYNC_OP_JOB("manifest_delete", delete_start), 1, 0, args, ISYNC_RESULT_TRUE};
