/* op_blob.c - "blob_head", "blob_mount", "blob_get", "blob_put": blobs that fit in memory
 * or need no bytes moved (streaming copies are blobcopy.c). */
#include "registry/request.h"
#include "util/parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void head_done(isync_engine *e, isync_op *op, isync_http *h) {
  isync_op_head_outcome(op, h, "HEAD blob", "BLOB_UNKNOWN");
  isync_http_free(h);
  isync_job_finish(e, &op->job);
}

static void mount_done(isync_engine *e, isync_op *op, isync_http *h) {
  if (h->cc != CURLE_OK || h->status >= 500 || h->status == 429) {
    isync_op_fail_http(e, op, h, "POST blob mount", NULL);
    isync_http_free(h);
    return;
  }
  op->exists = h->status == 201;
  if (h->status == 202) {
    /* not mounted, but an upload session was opened: close it, the caller uploads */
    char *abs = isync_upload_location(op, h, "POST blob mount", 0);
    if (abs) isync_fire_delete(e, op->reg, op->scopes, abs);
    free(abs);
  }
  /* 400, 401, 403, 404: registries refuse mounts in many ways; all mean "upload instead" */
  isync_http_free(h);
  isync_job_finish(e, &op->job);
}

static void get_setup(isync_engine *e, isync_op *op, isync_http *h) {
  isync_registry_setup_http(op->reg, h, 1);
  curl_easy_setopt(h->easy, CURLOPT_TIMEOUT, 0L);
  curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 1L);
  h->body.limit = (size_t)op->max_body;
}

static void get_done(isync_engine *e, isync_op *op, isync_http *h) {
  if (h->cc == CURLE_WRITE_ERROR && h->body.overflow) {
    isync_job_fail(e, &op->job, "TOO_LARGE", "GET blob %s@%s: larger than the %lld bytes allowed", op->repo, op->ref,
                   (long long)op->max_body);
  } else if (!isync_http_ok(h, 200)) {
    isync_op_fail_http(e, op, h, "GET blob", "BLOB_UNKNOWN");
  } else {
    char computed[ISYNC_DIGEST_MAX];
    isync_digest_of(h->body.data ? h->body.data : "", h->body.len, op->ref, computed);
    if (strcmp(computed, op->ref) != 0) {
      isync_job_fail(e, &op->job, "DIGEST_MISMATCH", "GET blob %s/%s@%s: the body's digest is %s", op->reg->name, op->repo,
                     op->ref, computed);
    } else {
      op->body = h->body;
      isync_buf_init(&h->body, 0);
      op->out_size = (int64_t)op->body.len;
      snprintf(op->digest, sizeof op->digest, "%s", computed);
      isync_job_finish(e, &op->job);
    }
  }
  isync_http_free(h);
}

static void put_setup(isync_engine *e, isync_op *op, isync_http *h) {
  isync_http_header(h, "Content-Type: application/octet-stream");
  h->send_data = op->data.data ? op->data.data : "";
  h->send_len = op->data.len;
}

static void put_done(isync_engine *e, isync_op *op, isync_http *h) {
  if (!isync_http_ok(h, 201)) {
    isync_op_set_http_error(op, h, "PUT blob", "BLOB_UPLOAD_UNKNOWN");
    isync_fire_delete(e, op->reg, op->scopes, h->url);
  } else {
    op->bytes = (int64_t)op->data.len;
  }
  isync_job_finish(e, &op->job);
  isync_http_free(h);
}

static void post_done(isync_engine *e, isync_op *op, isync_http *h) {
  char *abs = isync_upload_opened(op, h);
  isync_http_free(h);
  char *put = abs ? isync_url_add_query(abs, "digest", op->digest) : NULL;
  if (abs && !put) isync_job_set_error(&op->job, "INTERNAL", "out of memory");
  free(abs);
  if (!put) { isync_job_finish(e, &op->job); return; }
  isync_request(e, op, op->reg, op->scopes, "PUT", put, put_setup, put_done, NULL);
  free(put);
}

static void head_start(isync_engine *e, isync_job *j) {
  isync_op_request(e, ISYNC_OP(j), "HEAD", "pull", "blobs", ISYNC_OP(j)->ref, NULL, head_done);
}

static void get_start(isync_engine *e, isync_job *j) {
  isync_op_request(e, ISYNC_OP(j), "GET", "pull", "blobs", ISYNC_OP(j)->ref, get_setup, get_done);
}

static void put_start(isync_engine *e, isync_job *j) {
  isync_op *op = ISYNC_OP(j);
  isync_digest_of(op->data.data ? op->data.data : "", op->data.len, NULL, op->digest);
  isync_op_request(e, op, "POST", "pull,push", "blobs", "uploads/", NULL, post_done);
}

static void mount_start(isync_engine *e, isync_job *j) {
  isync_op *op = ISYNC_OP(j);
  op->scopes = isync_scopes(op->repo, "pull,push", op->src_repo, "pull");
  char url[2048];
  isync_op_url(op, url, sizeof url, "blobs", "uploads/");
  char *u1 = isync_url_add_query(url, "mount", op->ref);
  char *u2 = u1 ? isync_url_add_query(u1, "from", op->src_repo) : NULL;
  free(u1);
  if (!u2) { isync_job_fail(e, j, "INTERNAL", "out of memory"); return; }
  isync_request(e, op, op->reg, op->scopes, "POST", u2, NULL, mount_done, NULL);
  free(u2);
}

#define REPO ISYNC_ARG("repo", ISYNC_ARG_REPO, 1, repo)
#define DIGEST ISYNC_ARG("digest", ISYNC_ARG_DIGEST, 1, ref)
static const isync_op_arg head_args[] = {REPO, DIGEST, ISYNC_ARG_END};
static const isync_op_arg mount_args[] = {REPO, DIGEST, ISYNC_ARG("from", ISYNC_ARG_REPO, 1, src_repo), ISYNC_ARG_END};
static const isync_op_arg get_args[] = {REPO, DIGEST, ISYNC_ARG_NUM("max_size", max_body, 64 << 20, 0, INT64_MAX), ISYNC_ARG_END};
static const isync_op_arg put_args[] = {REPO, ISYNC_ARG("data", ISYNC_ARG_BYTES, 1, data), ISYNC_ARG_END};

const isync_op_desc isync_op_blob_head = {ISYNC_OP_JOB("blob_head", head_start), 1, 0, head_args, ISYNC_RESULT_SIZE};
const isync_op_desc isync_op_blob_mount = {ISYNC_OP_JOB("blob_mount", mount_start), 1, 0, mount_args, ISYNC_RESULT_EXISTS};
const isync_op_desc isync_op_blob_get = {ISYNC_OP_JOB("blob_get", get_start), 1, 1, get_args, ISYNC_RESULT_BODY};
const isync_op_desc isync_op_blob_put = {ISYNC_OP_JOB("blob_put", put_start), 1, 1, put_args, ISYNC_RESULT_DIGEST};
