/* op_manifest.c - "manifest_get", "manifest_head", "manifest_put": manifests move byte for
 * byte, and their digests are checked both ways. */
#include "registry/mediatypes.h"
#include "registry/request.h"
#include "util/digest.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAX (4u << 20)   /* the OCI spec's recommended manifest size limit */


static int is_digest_ref(const char *ref) { return strchr(ref, ':') != NULL; }

/* Media type from Content-Type without parameters. */
static char *media_type_of(const isync_http *h) {
  char ct[256];
  if (!isync_http_get_header(h, "Content-Type", ct, sizeof ct)) return NULL;
  ct[strcspn(ct, "; ")] = '\0';
  return strdup(ct);
}

static void accept_manifests(isync_engine *e, isync_op *op, isync_http *h) {
  char accept[512];
  isync_http_header(h, "%s", isync_accept_manifests(accept, sizeof accept));
  h->body.limit = MANIFEST_MAX;
}

static void get_done(isync_engine *e, isync_op *op, isync_http *h) {
  if (h->cc == CURLE_WRITE_ERROR && h->body.overflow) {
    isync_job_fail(e, &op->job, "TOO_LARGE", "GET manifest %s:%s: larger than %u bytes", op->repo, op->ref, MANIFEST_MAX);
    isync_http_free(h);
    return;
  }
  if (!isync_http_ok(h, 200)) { isync_op_fail_http(e, op, h, "GET manifest", "MANIFEST_UNKNOWN"); isync_http_free(h); return; }
  char hdr[ISYNC_DIGEST_MAX], computed[ISYNC_DIGEST_MAX];
  const char *claimed = isync_http_get_header(h, "Docker-Content-Digest", hdr, sizeof hdr);
  const char *want = is_digest_ref(op->ref) ? op->ref : (claimed && isync_digest_valid(claimed) ? claimed : NULL);
  isync_digest_of(h->body.data ? h->body.data : "", h->body.len, want, computed);
  if (want && strcmp(want, computed) != 0) {
    isync_job_fail(e, &op->job, "DIGEST_MISMATCH", "GET manifest %s/%s:%s: the body's digest is %s, not %s", op->reg->name,
                   op->repo, op->ref, computed, want);
    isync_http_free(h);
    return;
  }
  snprintf(op->digest, sizeof op->digest, "%s", computed);
  op->out_media_type = media_type_of(h);
  op->body = h->body;
  isync_buf_init(&h->body, 0);
  op->out_size = (int64_t)op->body.len;
  isync_http_free(h);
  isync_job_finish(e, &op->job);
}

static void head_done(isync_engine *e, isync_op *op, isync_http *h) {
  if (isync_op_head_outcome(op, h, "HEAD manifest", "MANIFEST_UNKNOWN")) {
    char hdr[ISYNC_DIGEST_MAX];
    if (isync_http_get_header(h, "Docker-Content-Digest", hdr, sizeof hdr) && isync_digest_valid(hdr))
      snprintf(op->digest, sizeof op->digest, "%s", hdr);
    else if (is_digest_ref(op->ref))
      snprintf(op->digest, sizeof op->digest, "%s", op->ref);
    op->out_media_type = media_type_of(h);
  }
  isync_http_free(h);
  isync_job_finish(e, &op->job);
}

static void put_setup(isync_engine *e, isync_op *op, isync_http *h) {
  isync_http_header(h, "Content-Type: %s", op->media_type);
  h->send_data = op->data.data ? op->data.data : "";
  h->send_len = op->data.len;
}

static void put_done(isync_engine *e, isync_op *op, isync_http *h) {
  if (!isync_http_ok(h, 201) && !isync_http_ok(h, 200)) {
    isync_op_fail_http(e, op, h, "PUT manifest", "NAME_UNKNOWN");
    isync_http_free(h);
    return;
  }
  char hdr[ISYNC_DIGEST_MAX];
  const char *claimed = isync_http_get_header(h, "Docker-Content-Digest", hdr, sizeof hdr);
  isync_digest_of(op->data.data ? op->data.data : "", op->data.len, claimed, op->digest);
  if (claimed && isync_digest_valid(claimed) && strcmp(claimed, op->digest) != 0) {
    isync_job_fail(e, &op->job, "DIGEST_MISMATCH", "PUT manifest %s/%s:%s: the registry stored %s, the bytes sent are %s",
                   op->reg->name, op->repo, op->ref, claimed, op->digest);
  } else {
    isync_job_finish(e, &op->job);
  }
  isync_http_free(h);
}

static void start(isync_engine *e, isync_job *j, const char *method, const char *actions, isync_req_fn setup,
                  isync_req_fn done) {
  isync_op_request(e, ISYNC_OP(j), method, actions, "manifests", ISYNC_OP(j)->ref, setup, done);
}

static void get_start(isync_engine *e, isync_job *j) { start(e, j, "GET", "pull", accept_manifests, get_done); }
static void head_start(isync_engine *e, isync_job *j) { start(e, j, "HEAD", "pull", accept_manifests, head_done); }
static void put_start(isync_engine *e, isync_job *j) { start(e, j, "PUT", "pull,push", put_setup, put_done); }

#define REPO_REF ISYNC_ARG("repo", ISYNC_ARG_REPO, 1, repo), ISYNC_ARG("ref", ISYNC_ARG_REF, 1, ref)
static const isync_op_arg get_args[] = {REPO_REF, ISYNC_ARG_END};
static const isync_op_arg put_args[] = {REPO_REF, ISYNC_ARG("data", ISYNC_ARG_BYTES, 1, data),
                                        ISYNC_ARG("media_type", ISYNC_ARG_MEDIA_TYPE, 1, media_type), ISYNC_ARG_END};

const isync_op_desc isync_op_manifest_get = {ISYNC_OP_JOB("manifest_get", get_start), 1, 0, get_args, ISYNC_RESULT_MANIFEST};
const isync_op_desc isync_op_manifest_head = {ISYNC_OP_JOB("manifest_head", head_start), 1, 0, get_args,
                                              ISYNC_RESULT_MANIFEST_HEAD};
const isync_op_desc isync_op_manifest_put = {ISYNC_OP_JOB("manifest_put", put_start), 1, 0, put_args, ISYNC_RESULT_DIGEST};
