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
#include "engine/engine.h"
#include "util/errors.h"
#include "registry/job.h"
#include "util/parse.h"
#include "util/ring.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct isync_blobcopy {
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

void isync_blobcopy_free(isync_blobcopy *bc) {
  if (!bc) return;
  isync_ring_free(&bc->ring);
  isync_hasher_free(bc->hasher);
  free(bc->upload_url);
  free(bc);
}

/* A finished copy gives its ring back at once: the job itself lives on until Lua collects
 * its handle, which can be many copies later (a ring per copy added up). */
void isync_blobcopy_release(isync_engine *e, isync_job *j) {
  isync_blobcopy *bc = j->bc;
  if (!bc) return;
  isync_http_free(e, bc->get);
  isync_http_free(e, bc->put);
  j->bc = NULL;
  isync_blobcopy_free(bc);
}

static void upload_next(isync_engine *e, isync_job *j);
static void upload_kick(isync_engine *e, void *arg);

/* Ends the copy with j's error already set: stop both transfers, drop the session. */
static void abort_copy(isync_engine *e, isync_job *j) {
  isync_blobcopy *bc = j->bc;
  isync_http_free(e, bc->get);
  isync_http_free(e, bc->put);
  bc->get = bc->put = NULL;
  if (bc->upload_url) isync_fire_delete(e, j->reg, j->scopes, bc->upload_url);
  isync_job_finish(e, j);
}

/* ---- the download side ---- */

static size_t get_write(isync_http *h, const char *p, size_t n) {
  isync_job *j = h->ud;
  isync_blobcopy *bc = j->bc;
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
    isync_engine_timer_job(h->engine, 0, upload_kick, j);
  }
  if (bc->size >= 0 && bc->got + (int64_t)n > bc->size) { bc->size_overflow = 1; return 0; }
  if (isync_ring_free_space(&bc->ring) < n) { bc->get_paused = 1; return CURL_WRITEFUNC_PAUSE; }
  isync_ring_write(&bc->ring, p, n);
  isync_hasher_update(bc->hasher, p, n);
  bc->got += (int64_t)n;
  if (bc->put_paused && bc->put) { bc->put_paused = 0; isync_http_unpause(bc->put); }
  return n;
}

static void get_done(isync_engine *e, isync_job *j, isync_http *h) {
  isync_blobcopy *bc = j->bc;
  char src[700];
  snprintf(src, sizeof src, "%s/%s@%s", j->src->name, j->src_repo, j->ref);
  if (h->cc == CURLE_WRITE_ERROR && bc->size_overflow) {
    isync_job_set_error(j, "SIZE_MISMATCH", "GET blob %s: the source sent more than the %lld bytes expected", src, (long long)bc->size);
  } else if (h->cc != CURLE_OK || h->status != 200) {
    isync_job_set_http_error(j, h, "GET blob", "BLOB_UNKNOWN");
  } else if (bc->size >= 0 && bc->got != bc->size) {
    isync_job_set_error(j, "SIZE_MISMATCH", "GET blob %s: got %lld bytes, expected %lld", src, (long long)bc->got, (long long)bc->size);
  } else {
    char computed[ISYNC_DIGEST_MAX];
    isync_hasher_finish(bc->hasher, computed);
    bc->hasher = NULL;
    if (strcmp(computed, j->ref) != 0)
      isync_job_set_error(j, "DIGEST_MISMATCH", "GET blob %s: the content's digest is %s", src, computed);
  }
  bc->get = NULL;
  isync_http_free(e, h);
  if (j->err) { abort_copy(e, j); return; }
  bc->size = bc->got;
  bc->verified = 1;
  bc->get_done = 1;
  if (!bc->upload_started) upload_next(e, j);            /* an empty blob: no byte ever arrived */
  else if (bc->put_paused && bc->put) { bc->put_paused = 0; isync_http_unpause(bc->put); }
}

static void get_setup(isync_engine *e, isync_job *j, isync_http *h) {
  (void)e;
  isync_registry_setup_http(j->src, h, 1);
  curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 1L);
  /* the receive buffer: 64 KiB (curl's default is 16 KiB); 256 KiB saved no measurable
   * CPU on loopback but added 192 KiB per copy to the peak (and a paused GET keeps a copy) */
  curl_easy_setopt(h->easy, CURLOPT_BUFFERSIZE, 64L * 1024);
  h->body.limit = 64u << 10;
  h->write_fn = get_write;
  j->bc->get = h;
  h->owner = &j->bc->get;   /* a 401 retry frees h: the pointer must not dangle */
  j->bc->status_checked = j->bc->get_error = 0;   /* a retry after a 401 starts afresh */
}

/* A request of the copy could not be sent (auth failed...): the whole copy ends here. */
static void request_failed(isync_engine *e, isync_job *j) { abort_copy(e, j); }

static void start_get(isync_engine *e, isync_job *j) {
  char url[2048];
  snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", j->src->base, j->src_repo, j->ref);
  isync_request_or(e, j, j->src, j->src_scopes, "GET", url, get_setup, get_done, request_failed);
}

/* ---- the upload side ---- */

static size_t put_read(isync_http *h, char *p, size_t n) {
  isync_job *j = h->ud;
  isync_blobcopy *bc = j->bc;
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

static void put_setup(isync_engine *e, isync_job *j, isync_http *h) {
  (void)e;
  isync_blobcopy *bc = j->bc;
  isync_registry_setup_http(j->reg, h, 1);
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

static void put_done(isync_engine *e, isync_job *j, isync_http *h) {
  isync_blobcopy *bc = j->bc;
  bc->put = NULL;
  int closing = bc->finishing;
  long want = closing ? 201 : 202;
  if (h->cc != CURLE_OK || h->status != want) {
    isync_job_set_http_error(j, h, closing ? "PUT blob" : "PATCH blob", "BLOB_UPLOAD_UNKNOWN");
    isync_http_free(e, h);
    abort_copy(e, j);
    return;
  }
  char *loc = isync_http_header_dup(h, "Location");
  if (loc) {
    char *abs = isync_url_resolve(h->url, loc);
    free(loc);
    if (abs && isync_job_refuse_foreign(j, abs, "PATCH blob", "an upload Location")) {
      free(abs);
      isync_http_free(e, h);
      abort_copy(e, j);
      return;
    }
    if (abs) { free(bc->upload_url); bc->upload_url = abs; }
  }
  if (closing && (!bc->verified || bc->get)) {
    /* the registry committed before the download proved the digest: impossible with the
     * last byte held back, so a registry that does this is not trusted */
    isync_job_set_error(j, "PROTOCOL", "PUT blob %s/%s: the registry answered before the upload was complete",
                        j->reg->name, j->repo);
    isync_http_free(e, h);
    abort_copy(e, j);
    return;
  }
  if (closing) {
    char hdr[ISYNC_DIGEST_MAX];
    if (isync_http_get_header(h, "Docker-Content-Digest", hdr, sizeof hdr) && strcmp(hdr, j->ref) != 0) {
      isync_job_set_error(j, "DIGEST_MISMATCH", "PUT blob %s/%s: the registry stored %s, expected %s", j->reg->name, j->repo, hdr, j->ref);
      isync_http_free(e, h);
      abort_copy(e, j);
      return;
    }
    isync_http_free(e, h);
    free(bc->upload_url);
    bc->upload_url = NULL;   /* committed: nothing to cancel any more */
    j->bytes = bc->sent;
    j->out_size = bc->sent;
    isync_job_finish(e, j);
    return;
  }
  isync_http_free(e, h);
  upload_next(e, j);
}

static void upload_kick(isync_engine *e, void *arg) {
  isync_job *j = arg;
  if (!atomic_load(&j->done) && !j->err) upload_next(e, j);
  isync_job_unref(j);
}

/* Starts the next upload request: a chunk, the monolithic PUT, or the closing PUT. */
static void upload_next(isync_engine *e, isync_job *j) {
  isync_blobcopy *bc = j->bc;
  bc->upload_started = 1;
  bc->chunk_sent = 0;
  int64_t left = bc->size - bc->sent;
  char *url;
  if (bc->size < 0) {
    isync_job_set_error(j, "PROTOCOL", "GET blob %s/%s@%s: the source did not say how long the blob is", j->src->name, j->src_repo, j->ref);
    abort_copy(e, j);
    return;
  }
  if (j->chunk_size > 0 && left > 0) {
    /* PATCH a chunk; the closing PUT carries no body */
    bc->finishing = 0;
    bc->chunk_len = left < j->chunk_size ? left : j->chunk_size;
    url = strdup(bc->upload_url);
    if (url) isync_request_or(e, j, j->reg, j->scopes, "PATCH", url, put_setup, put_done, request_failed);
  } else {
    bc->finishing = 1;
    bc->chunk_len = left;
    url = isync_url_add_query(bc->upload_url, "digest", j->ref);
    if (url) isync_request_or(e, j, j->reg, j->scopes, "PUT", url, put_setup, put_done, request_failed);
  }
  if (!url) { isync_job_set_error(j, "INTERNAL", "out of memory"); abort_copy(e, j); return; }
  free(url);
}

/* ---- start ---- */

static void post_done(isync_engine *e, isync_job *j, isync_http *h) {
  char *abs = isync_upload_location(e, j, h);
  if (!abs) return;
  j->bc->upload_url = abs;
  start_get(e, j);
}

void isync_blobcopy_start(isync_engine *e, isync_job *j) {
  const char *algo = strncmp(j->ref, "sha512:", 7) == 0 ? "sha512" : "sha256";
  isync_blobcopy *bc = calloc(1, sizeof *bc);
  if (!bc || isync_ring_init(&bc->ring, j->ring_size ? j->ring_size : ISYNC_RING_DEFAULT) != 0 ||
      !(bc->hasher = isync_hasher_new(algo))) {
    isync_blobcopy_free(bc);
    isync_job_fail(e, j, "INTERNAL", "out of memory");
    return;
  }
  bc->size = j->size;
  j->bc = bc;
  j->scopes = isync_scopes(j->repo, "pull,push", NULL, NULL);
  j->src_scopes = isync_scopes(j->src_repo, "pull", NULL, NULL);
  char url[2048];
  snprintf(url, sizeof url, "%s/v2/%s/blobs/uploads/", j->reg->base, j->repo);
  isync_request(e, j, j->reg, j->scopes, "POST", url, NULL, post_done);
}

/* At shutdown (engine thread joined): stop both transfers and start the DELETE of the
 * upload session, so an interrupted run leaves no half-written upload. The engine's stop
 * drives every such DELETE at once, within one deadline for them all. */
void isync_blobcopy_cancel(isync_engine *e, isync_job *j) {
  isync_blobcopy *bc = j->bc;
  if (!bc) return;
  isync_http_free(e, bc->get);
  isync_http_free(e, bc->put);
  bc->get = bc->put = NULL;
  if (bc->upload_url) isync_fire_delete(e, j->reg, j->scopes, bc->upload_url);
}
