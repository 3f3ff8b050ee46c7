/* job.h - one registry operation, created on the Lua thread and run by the engine (no Lua). */
#ifndef ISYNC_JOB_H
#define ISYNC_JOB_H
#include <stdatomic.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/digest.h"
#include "registry/registry.h"

typedef enum {
  ISYNC_JOB_PING,
  ISYNC_JOB_TAGS,
  ISYNC_JOB_CATALOG,
  ISYNC_JOB_MANIFEST_GET,
  ISYNC_JOB_MANIFEST_HEAD,
  ISYNC_JOB_MANIFEST_PUT,
  ISYNC_JOB_BLOB_HEAD,
  ISYNC_JOB_BLOB_MOUNT,
  ISYNC_JOB_BLOB_COPY,
  ISYNC_JOB_BLOB_GET,
  ISYNC_JOB_BLOB_PUT,
  ISYNC_JOB_SLEEP,
  ISYNC_JOB_REFERRERS,
} isync_job_kind;

typedef struct isync_blobcopy isync_blobcopy;

struct isync_job {
  isync_job_kind kind;
  atomic_int refs;
  atomic_int done;
  isync_job *next_done;          /* completion queue */
  isync_job *next_pending;       /* registry slot queue */
  isync_job *track_prev, *track_next;
  int claimed;                   /* Lua thread: taken off the queue */

  /* inputs (set on the Lua thread before posting) */
  isync_registry *reg;           /* the registry operated on (destination for copy/mount) */
  isync_registry *src;           /* source registry for blob copy */
  char *repo;                    /* repository at reg */
  char *src_repo;                /* repository at src (copy) or mount source */
  char *ref;                     /* tag or digest */
  char *media_type;              /* manifest PUT */
  isync_buf data;                /* manifest PUT / blob PUT body */
  int64_t size;                  /* expected blob size, -1 unknown */
  int64_t chunk_size;            /* blob copy: 0 = monolithic PUT */
  size_t ring_size;              /* blob copy buffer */
  size_t max_body;               /* blob GET / manifest GET cap */
  long sleep_ms;
  long page_size;                /* tags: 0 = let the registry choose */

  /* outputs (written by the engine before done is set) */
  int ok;
  char *err;                     /* one line, no secrets */
  const char *code;              /* stable code, static string */
  long http_status;
  long retry_after;              /* seconds, -1 absent */
  isync_buf body;                /* manifest bytes / blob bytes / nothing */
  char *out_media_type;
  char digest[ISYNC_DIGEST_MAX];
  int64_t out_size;
  int exists;                    /* HEAD found it / mount mounted */
  char **list;                   /* tags or repositories */
  size_t nlist;
  int64_t bytes;                 /* bytes moved */

  /* engine-private */
  int nslots;
  char *scopes, *src_scopes;
  long pages;                    /* tags pagination, bounded */
  uint64_t *seen;                /* hashes of the pages' URLs: a loop is detected */
  size_t seen_cap, list_bytes;   /* seen's slots (open addressing); bytes of all pages */
  isync_blobcopy *bc;
};

isync_job *isync_job_new(isync_job_kind kind);
void isync_job_ref(isync_job *j);
void isync_job_unref(isync_job *j);

/* Lua thread: hand the job to the engine (takes one reference for the engine). */
int isync_job_submit(isync_engine *e, isync_job *j);

/* Engine thread helpers used by the operations. */
void isync_job_fail(isync_engine *e, isync_job *j, const char *code, const char *fmt, ...);
void isync_job_finish(isync_engine *e, isync_job *j);   /* ok or already failed */
/* Turns a finished non-2xx/transport-failed request into the job's error. what = "GET manifest" ... */
void isync_job_fail_http(isync_engine *e, isync_job *j, isync_http *h, const char *what, const char *not_found_code);
/* Sets the job's error from h without finishing it (for ops that clean up first). */
void isync_job_set_http_error(isync_job *j, isync_http *h, const char *what, const char *not_found_code);
void isync_job_set_error(isync_job *j, const char *code, const char *fmt, ...);
/* A URL the registry named (what: the request, named: "a next page", "an upload Location")
 * that may not be followed (isync_registry_may_follow): sets the job's PROTOCOL error and
 * returns 1, without finishing it. 0 when the URL is fine. */
int isync_job_refuse_foreign(isync_job *j, const char *url, const char *what, const char *named);

/* Operations (ops.c, blobcopy.c): start running j; it owns its registry slots. */
void isync_ops_start(isync_engine *e, isync_job *j);
void isync_blobcopy_start(isync_engine *e, isync_job *j);
void isync_blobcopy_cancel(isync_engine *e, isync_job *j);   /* at shutdown */
void isync_blobcopy_free(isync_blobcopy *bc);
void isync_blobcopy_release(isync_engine *e, isync_job *j);   /* when the job finishes */

/* One authenticated request for job j: waits for auth, builds the request (setup may add
 * headers, bodies and hooks), retries once with a fresh token after a 401 whose body was
 * not streamed, then hands the answer to done, which frees it. */
typedef void (*isync_req_fn)(struct isync_engine *e, isync_job *j, struct isync_http *h);
void isync_request(isync_engine *e, isync_job *j, isync_registry *reg, const char *scopes, const char *method,
                   const char *url, isync_req_fn setup, isync_req_fn done);
/* The same, with on_fail called (the job's error set) when the request could not even be
 * sent (auth failed, out of memory), instead of finishing the job: for operations that
 * must clean up first. */
typedef void (*isync_fail_fn)(struct isync_engine *e, isync_job *j);
void isync_request_or(isync_engine *e, isync_job *j, isync_registry *reg, const char *scopes, const char *method,
                      const char *url, isync_req_fn setup, isync_req_fn done, isync_fail_fn on_fail);

/* The upload session a POST .../blobs/uploads/ answer opened: its Location, absolute and
 * on an origin the registry may name (isync_registry_may_follow). Frees h; on any other
 * answer fails the job and returns NULL. */
char *isync_upload_location(isync_engine *e, isync_job *j, isync_http *h);
/* Sends DELETE url to r and forgets about it (upload cancellation; failures ignored). */
void isync_fire_delete(isync_engine *e, isync_registry *r, const char *scopes, const char *url);
/* "repository:NAME:ACTIONS" scopes, space-separated and sorted (the token cache key). */
char *isync_scopes(const char *repo, const char *actions, const char *repo2, const char *actions2);

#endif
