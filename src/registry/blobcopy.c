/* blobcopy.c - stream one blob from a source repository into a destination repository.
 *
 * The source GET and the destination upload run at once on the engine's multi handle,
 * joined by a fixed ring buffer: the GET pauses when the ring is full, the upload pauses
 * when it is empty, so memory is the ring's size whatever the blob's. The digest is
 * computed as bytes arrive and the upload's last byte is held back until the download
 * has been verified, so a blob that does not match its digest is never committed.
 *
 * Steps: auth for both sides -> POST upload session -> GET source (redirects followed;
 * curl never forwards Authorization to another host) -> on the first byte start the
 * upload: one PUT ?digest= of the known size, or PATCH chunks then a closing PUT.
 * Any failure aborts both transfers and DELETEs the upload session. */
#include "registry/request.h"
#include "util/parse.h"
#include "util/ring.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct isync_blobcopy {
  isync_engine *e;           /* for curl's callbacks, which get only the request */
  isync_ring ring;
  isync_hasher *hasher;
  isync_http *get, *put;
  char *upload_url;          /* latest Location, absolute */
  int64_t size;              /* expected length; -1 until known */
  int64_t got;               /* bytes received */
  int64_t sent;              /* bytes given to the upload */
  int64_t chunk_len, chunk_sent;
  int status_checked, get_error, get_done, verified;
  int get_paused, put_paused;
  int upload_started, finishing;
  int size_overflow;
};

static void blobcopy_free(isync_blobcopy *bc) {
  if (!bc) return;
  isync_ring_free(&bc->ring);
  isync_hasher_free(bc->hasher);
  free(bc->upload_url);
  free(bc);
}

/* A finished copy gives its ring back at once: the job itself lives on until Lua collects
 * its handle, which can be many copies later (a ring per copy added up). */
static void finish(isync_engine *e, isync_op *op) {
  isync_blobcopy *bc = op->bc;
  if (bc) {
    isync_http_free(bc->get);
    isync_http_free(bc->put);
    op->bc = NULL;
    blobcopy_free(bc);
  }
  isync_job_finish(e, &op->job);
}

static void upload_next(isync_engine *e, isync_op *op);
static void upload_kick(isync_engine *e, void *arg);

/* Ends the copy with its error already set: stop both transfers, drop the session. */
static void abort_copy(isync_engine *e, isync_op *op) {
  isync_blobcopy *bc = op->bc;
  isync_http_free(bc->get);
  isync_http_free(bc->put);
  bc->get = bc->put = NULL;
  if (bc->upload_url) isync_fire_delete(e, op->reg, op->scopes, bc->upload_url);
  finish(e, op);
}

/* ---- the download side ---- */

static size_t get_write(isync_http *h, const char *p, size_t n) {
  isync_op *op = h->ud;
  isync_blobcopy *bc = op->bc;
  if (!bc->status_checked) {
    bc->status_checked = 1;
    long status = 0;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
    bc->get_error = status != 200;
    if (!bc->get_error && bc->size < 0) {
      curl_off_t cl = -1;
      curl_easy_getinfo(h->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
      bc->size = cl;
    }
  }
  if (bc->get_error) return isync_buf_append(&h->body, p, n) == 0 ? n : 0;   /* an error body */
  if (!bc->upload_started) {
    /* curl forbids adding a transfer from inside a callback: start the upload next turn */
    bc->upload_started = 1;
    isync_engine_timer_job(bc->e, 0, upload_kick, &op->job);
  }
  if (bc->size >= 0 && bc->got + (int64_t)n > bc->size) { bc->size_overflow = 1; return 0; }
  if (isync_ring_free_space(&bc->ring) < n) { bc->get_paused = 1; return CURL_WRITEFUNC_PAUSE; }
  isync_ring_write(&bc->ring, p, n);
  isync_hasher_update(bc->hasher, p, n);
  bc->got += (int64_t)n;
  if (bc->put_paused && bc->put) { bc->put_paused = 0; isync_http_unpause(bc->put); }
  return n;
}

static void get_done(isync_engine *e, isync_op *op, isync_http *h) {
  isync_blobcopy *bc = op->bc;
  char src[700];
  snprintf(src, sizeof src, "%s/%s@%s", op->src->name, op->src_repo, op->ref);
  if (h->cc == CURLE_WRITE_ERROR && bc->size_overflow) {
    isync_job_set_error(&op->job, "SIZE_MISMATCH", "GET blob %s: the source sent more than the %lld bytes expected", src, (long long)bc->size);
  } else if (h->cc != CURLE_OK || h->status != 200) {
    isync_op_set_http_error(op, h, "GET blob", "BLOB_UNKNOWN");
  } else if (bc->size >= 0 && bc->got != bc->size) {
    isync_job_set_error(&op->job, "SIZE_MISMATCH", "GET blob %s: got %lld bytes, expected %lld", src, (long long)bc->got, (long long)bc->size);
  } else {
    char computed[ISYNC_DIGEST_MAX];
    isync_hasher_finish(bc->hasher, computed);
    bc->hasher = NULL;
    if (strcmp(computed, op->ref) != 0)
      isync_job_set_error(&op->job, "DIGEST_MISMATCH", "GET blob %s: the content's digest is %s", src, computed);
  }
  bc->get = NULL;
  isync_http_free(h);
  if (op->job.err) { abort_copy(e, op); return; }
  bc->size = bc->got;
  bc->verified = 1;
  bc->get_done = 1;
  if (!bc->upload_started) upload_next(e, op);            /* an empty blob: no byte ever arrived */
  else if (bc->put_paused && bc->put) { bc->put_paused = 0; isync_http_unpause(bc->put); }
}

static void get_setup(isync_engine *e, isync_op *op, isync_http *h) {
  (void)e;
  isync_registry_setup_http(op->src, h, 1);
  curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 1L);
  /* the receive buffer: 64 KiB (curl's default is 16 KiB); 256 KiB saved no measurable
   * CPU on loopback but added 192 KiB per copy to the peak (and a paused GET keeps a copy) */
  curl_easy_setopt(h->easy, CURLOPT_BUFFERSIZE, 64L * 1024);
  h->body.limit = 64u << 10;
  h->write_fn = get_write;
  op->bc->get = h;
  h->owner = &op->bc->get;   /* a 401 retry frees h: the pointer must not dangle */
  op->bc->status_checked = op->bc->get_error = 0;   /* a retry after a 401 starts afresh */
}

/* A request of the copy could not be sent (auth failed...): the whole copy ends here. */
static void request_failed(isync_engine *e, isync_op *op) { abort_copy(e, op); }

static void start_get(isync_engine *e, isync_op *op) {
  char url[2048];
  snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", op->src->base, op->src_repo, op->ref);
  isync_request(e, op, op->src, op->src_scopes, "GET", url, get_setup, get_done, request_failed);
}

/* ---- the upload side ---- */

static size_t put_read(isync_http *h, char *p, size_t n) {
  isync_op *op = h->ud;
  isync_blobcopy *bc = op->bc;
  int64_t limit = bc->chunk_len - bc->chunk_sent;
  int64_t avail = (int64_t)bc->ring.used;
  /* hold back the blob's final byte until the download has proved the digest */
  if (!bc->verified && bc->size >= 0 && bc->sent + avail > bc->size - 1) avail = bc->size - 1 - bc->sent;
  if (avail < 0) avail = 0;
  int64_t k = (int64_t)n;
  if (k > limit) k = limit;
  if (k > avail) k = avail;
  if (limit <= 0) return 0;
  if (k == 0) { bc->put_paused = 1; return CURL_READFUNC_PAUSE; }
  isync_ring_read(&bc->ring, p, (size_t)k);
  bc->sent += k;
  bc->chunk_sent += k;
  isync_count_uploaded(k);
  if (bc->get_paused && bc->get) { bc->get_paused = 0; isync_http_unpause(bc->get); }
  return (size_t)k;
}

static void put_setup(isync_engine *e, isync_op *op, isync_http *h) {
  (void)e;
  isync_blobcopy *bc = op->bc;
  isync_registry_setup_http(op->reg, h, 1);
  isync_http_header(h, "Content-Type: application/octet-stream");
  if (bc->chunk_len > 0) {
    h->read_fn = put_read;
    curl_easy_setopt(h->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)bc->chunk_len);
    curl_easy_setopt(h->easy, CURLOPT_UPLOAD_BUFFERSIZE, 64L * 1024);   /* as the receive buffer */
    if (!bc->finishing)
      isync_http_header(h, "Content-Range: %lld-%lld", (long long)bc->sent, (long long)(bc->sent + bc->chunk_len - 1));
  } else {
    h->send_data = "";
    h->send_len = 0;
  }
  bc->put = h;
  h->owner = &bc->put;
}

static void put_done(isync_engine *e, isync_op *op, isync_http *h) {
  isync_blobcopy *bc = op->bc;
  bc->put = NULL;
  int closing = bc->finishing;
  long want = closing ? 201 : 202;
  if (h->cc != CURLE_OK || h->status != want) {
    isync_op_set_http_error(op, h, closing ? "PUT blob" : "PATCH blob", "BLOB_UPLOAD_UNKNOWN");
    isync_http_free(h);
    abort_copy(e, op);
    return;
  }
  /* each answer may move the session (a PATCH's 202 usually does) */
  char *abs = isync_upload_location(op, h, closing ? "PUT blob" : "PATCH blob", 0);
  if (op->job.err) {
    isync_http_free(h);
    abort_copy(e, op);
    return;
  }
  if (abs) { free(bc->upload_url); bc->upload_url = abs; }
  if (closing && (!bc->verified || bc->get)) {
    /* the registry committed before the download proved the digest: impossible with the
     * last byte held back, so a registry that does this is not trusted */
    isync_job_set_error(&op->job, "PROTOCOL", "PUT blob %s/%s: the registry answered before the upload was complete",
                        op->reg->name, op->repo);
    isync_http_free(h);
    abort_copy(e, op);
    return;
  }
  if (closing) {
    char hdr[ISYNC_DIGEST_MAX];
    if (isync_http_get_header(h, "Docker-Content-Digest", hdr, sizeof hdr) && strcmp(hdr, op->ref) != 0) {
      isync_job_set_error(&op->job, "DIGEST_MISMATCH", "PUT blob %s/%s: the registry stored %s, expected %s", op->reg->name, op->repo, hdr, op->ref);
      isync_http_free(h);
      abort_copy(e, op);
      return;
    }
    isync_http_free(h);
    free(bc->upload_url);
    bc->upload_url = NULL;   /* committed: nothing to cancel any more */
    op->bytes = bc->sent;
    op->out_size = bc->sent;
    finish(e, op);
    return;
  }
  isync_http_free(h);
  upload_next(e, op);
}

static void upload_kick(isync_engine *e, void *arg) {
  isync_op *op = arg;
  if (!atomic_load(&op->job.done) && !op->job.err) upload_next(e, op);
  isync_job_unref(&op->job);
}

/* Starts the next upload request: a chunk, the monolithic PUT, or the closing PUT. */
static void upload_next(isync_engine *e, isync_op *op) {
  isync_blobcopy *bc = op->bc;
  bc->upload_started = 1;
  bc->chunk_sent = 0;
  int64_t left = bc->size - bc->sent;
  char *url;
  if (bc->size < 0) {
    isync_job_set_error(&op->job, "PROTOCOL", "GET blob %s/%s@%s: the source did not say how long the blob is", op->src->name, op->src_repo, op->ref);
    abort_copy(e, op);
    return;
  }
  if (op->chunk_size > 0 && left > 0) {
    /* PATCH a chunk; the closing PUT carries no body */
    bc->finishing = 0;
    bc->chunk_len = left < op->chunk_size ? left : op->chunk_size;
    url = strdup(bc->upload_url);
    if (url) isync_request(e, op, op->reg, op->scopes, "PATCH", url, put_setup, put_done, request_failed);
  } else {
    bc->finishing = 1;
    bc->chunk_len = left;
    url = isync_url_add_query(bc->upload_url, "digest", op->ref);
    if (url) isync_request(e, op, op->reg, op->scopes, "PUT", url, put_setup, put_done, request_failed);
  }
  if (!url) { isync_job_set_error(&op->job, "INTERNAL", "out of memory"); abort_copy(e, op); return; }
  free(url);
}

/* ---- start ---- */

static void post_done(isync_engine *e, isync_op *op, isync_http *h) {
  char *abs = isync_upload_opened(op, h);
  isync_http_free(h);
  if (!abs) { finish(e, op); return; }
  op->bc->upload_url = abs;
  start_get(e, op);
}

static void copy_start(isync_engine *e, isync_job *j) {
  isync_op *op = ISYNC_OP(j);
  const char *algo = strncmp(op->ref, "sha512:", 7) == 0 ? "sha512" : "sha256";
  isync_blobcopy *bc = calloc(1, sizeof *bc);
  if (!bc || isync_ring_init(&bc->ring, op->ring_size > 0 ? (size_t)op->ring_size : ISYNC_RING_DEFAULT) != 0 ||
      !(bc->hasher = isync_hasher_new(algo))) {
    blobcopy_free(bc);
    isync_job_fail(e, j, "INTERNAL", "out of memory");
    return;
  }
  bc->e = e;
  bc->size = op->size;
  op->bc = bc;
  op->scopes = isync_scopes(op->repo, "pull,push", NULL, NULL);
  op->src_scopes = isync_scopes(op->src_repo, "pull", NULL, NULL);
  char url[2048];
  snprintf(url, sizeof url, "%s/v2/%s/blobs/uploads/", op->reg->base, op->repo);
  isync_request(e, op, op->reg, op->scopes, "POST", url, NULL, post_done, request_failed);
}

/* At shutdown (engine thread joined): stop both transfers and start the DELETE of the
 * upload session, so an interrupted run leaves no half-written upload. The engine's stop
 * drives every such DELETE at once, within one deadline for them all. */
static void copy_cancel(isync_engine *e, isync_job *j) {
  isync_op *op = ISYNC_OP(j);
  isync_blobcopy *bc = op->bc;
  if (!bc) return;
  isync_http_free(bc->get);
  isync_http_free(bc->put);
  bc->get = bc->put = NULL;
  if (bc->upload_url) isync_fire_delete(e, op->reg, op->scopes, bc->upload_url);
}

static void copy_free(isync_job *j) {
  blobcopy_free(ISYNC_OP(j)->bc);
  isync_op_free(j);
}

static const isync_op_arg args[] = {
  ISYNC_ARG("repo", ISYNC_ARG_REPO, 1, repo),
  ISYNC_ARG("digest", ISYNC_ARG_DIGEST, 1, ref),
  ISYNC_ARG("from", ISYNC_ARG_REPO, 1, src_repo),
  ISYNC_ARG("source", ISYNC_ARG_REGISTRY, 1, src),
  ISYNC_ARG_NUM("size", size, -1, -1, INT64_MAX),
  ISYNC_ARG_NUM("chunk_size", chunk_size, 0, 0, INT64_MAX),
  ISYNC_ARG_NUM("buffer_size", ring_size, ISYNC_RING_DEFAULT, 64 << 10, 1 << 30),
  ISYNC_ARG_END,
};

const isync_op_desc isync_op_blob_copy = {
  {"blob_copy", copy_start, copy_cancel, isync_op_forget, copy_free}, 1, 1, args, ISYNC_RESULT_BYTES_MOVED,
};
