/* op_referrers.c - "referrers" (OCI 1.1): the index of the manifests whose subject is a
 * digest, paged. Each page's index is kept whole; Lua joins their descriptors. */
#include "registry/mediatypes.h"
#include "registry/paging.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_MAX (4u << 20)   /* a page is an image index: the manifest size limit */

static void accept_index(isync_engine *e, isync_op *op, isync_http *h) {
  isync_http_header(h, "Accept: " ISYNC_MT_OCI_INDEX);
  h->body.limit = INDEX_MAX;
}

static void referrers_done(isync_engine *e, isync_op *op, isync_http *h) {
  if (h->cc == CURLE_OK && op->nlist == 0 && (h->status == 404 || h->status == 405 || h->status == 400)) {
    op->exists = 0;   /* the registry has no referrers API: not an error */
    isync_http_free(h);
    isync_job_finish(e, &op->job);
    return;
  }
  if (!isync_http_ok(h, 200)) {
    isync_op_fail_http(e, op, h, "GET referrers", NULL);
    isync_http_free(h);
    return;
  }
  char **list = realloc(op->list, (op->nlist + 1) * sizeof *list);
  if (list) op->list = list;
  char *page = list ? strndup(h->body.data ? h->body.data : "", h->body.len) : NULL;
  if (!page) {
    isync_job_fail(e, &op->job, "INTERNAL", "out of memory");
    isync_http_free(h);
    return;
  }
  op->list[op->nlist++] = page;
  op->exists = 1;
  if (isync_page_bounds(e, op, h, "GET referrers")) return;
  if (!isync_next_page(e, op, h, "GET referrers", accept_index, referrers_done)) {
    isync_http_free(h);
    isync_job_finish(e, &op->job);
  }
}

static void referrers_start(isync_engine *e, isync_job *j) {
  isync_op_request(e, ISYNC_OP(j), "GET", "pull", "referrers", ISYNC_OP(j)->ref, accept_index, referrers_done);
}

static const isync_op_arg args[] = {ISYNC_ARG("repo", ISYNC_ARG_REPO, 1, repo), ISYNC_ARG("digest", ISYNC_ARG_DIGEST, 1, ref),
                                    ISYNC_ARG_END};

const isync_op_desc isync_op_referrers = {ISYNC_OP_JOB("referrers", referrers_start), 1, 0, args, ISYNC_RESULT_PAGES};
