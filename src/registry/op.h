/* op.h - a registry operation: a job of the engine with its inputs, its outputs, and a
 * descriptor that says everything else about it (no Lua).
 *
 * Adding an operation is one file (op_NAME.c: its descriptor and its requests) and one
 * row in ops.c. The descriptor declares the operation's arguments (checked here, read
 * from Lua by src/lua/ljob.c) and the shape of its result (pushed to Lua there). */
#ifndef ISYNC_OP_H
#define ISYNC_OP_H
#include <stddef.h>
#include <stdint.h>
#include "engine/engine.h"
#include "http/http.h"
#include "registry/registry.h"
#include "util/buf.h"
#include "util/digest.h"

typedef struct isync_op isync_op;
typedef struct isync_blobcopy isync_blobcopy;

/* What an argument must be. */
typedef enum {
  ISYNC_ARG_REPO,        /* a repository name */
  ISYNC_ARG_REF,         /* a tag or a digest */
  ISYNC_ARG_DIGEST,
  ISYNC_ARG_MEDIA_TYPE,  /* type/subtype, safe in a header */
  ISYNC_ARG_BYTES,       /* any bytes (a body to send) */
  ISYNC_ARG_INT,         /* an integer within [min, max] */
  ISYNC_ARG_REGISTRY,    /* another registry (the source of a copy) */
} isync_arg_kind;

typedef struct isync_op_arg {
  const char *name;      /* the Lua table's key */
  isync_arg_kind kind;
  int required;
  size_t offset;         /* where in isync_op: char * (text), isync_buf (bytes), int64_t,
                            isync_registry * */
  int64_t dflt, min, max;   /* ISYNC_ARG_INT */
} isync_op_arg;

/* What the result looks like in Lua (src/lua/ljob.c pushes each shape). */
typedef enum {
  ISYNC_RESULT_TRUE,          /* true */
  ISYNC_RESULT_LIST,          /* {strings} (list) */
  ISYNC_RESULT_MANIFEST,      /* {bytes, media_type, digest, size} */
  ISYNC_RESULT_MANIFEST_HEAD, /* false, or {media_type, digest, size} */
  ISYNC_RESULT_DIGEST,        /* "sha256:..." */
  ISYNC_RESULT_SIZE,          /* false, or the size */
  ISYNC_RESULT_EXISTS,        /* true or false */
  ISYNC_RESULT_BYTES_MOVED,   /* the number of bytes moved */
  ISYNC_RESULT_BODY,          /* the body's bytes */
  ISYNC_RESULT_PAGES,         /* false (no such API), one page, or {pages} */
} isync_result_shape;

typedef struct isync_op_desc {
  isync_job_type job;          /* first: a job's type is its descriptor */
  int needs_registry;
  int blob_transfer;           /* uses the registries' blob slots, not their metadata slots */
  const isync_op_arg *args;    /* ends with {NULL} */
  isync_result_shape result;
} isync_op_desc;

struct isync_op {
  isync_job job;                 /* first: the engine's view */
  const isync_op_desc *desc;

  /* inputs (set on the Lua thread before submitting) */
  isync_registry *reg;           /* the registry operated on (destination for copy/mount) */
  isync_registry *src;           /* source registry of a blob copy */
  char *repo;                    /* repository at reg */
  char *src_repo;                /* repository at src (copy) or mount source */
  char *ref;                     /* tag or digest */
  char *media_type;              /* manifest PUT */
  isync_buf data;                /* manifest PUT / blob PUT body */
  int64_t size;                  /* expected blob size, -1 unknown */
  int64_t chunk_size;            /* blob copy: 0 = monolithic PUT */
  int64_t ring_size;             /* blob copy buffer */
  int64_t max_body;              /* blob GET cap */
  int64_t sleep_ms;
  int64_t page_size;             /* listings: 0 = let the registry choose */

  /* outputs (written by the engine before the job is done) */
  isync_buf body;                /* manifest bytes / blob bytes / nothing */
  char *out_media_type;
  char digest[ISYNC_DIGEST_MAX];
  int64_t out_size;
  int exists;                    /* HEAD found it / mount mounted / referrers API exists */
  char **list;                   /* tags, repositories, referrers pages */
  size_t nlist;
  int64_t bytes;                 /* bytes moved */

  /* engine-private */
  char *scopes, *src_scopes;
  long pages;                    /* listings: pages followed, bounded */
  uint64_t *seen;                /* hashes of the pages' URLs: a loop is detected */
  size_t seen_cap, list_bytes;   /* seen's slots (open addressing); bytes of all pages */
  isync_blobcopy *bc;
};

/* ---- Lua thread: building one ---- */

isync_op *isync_op_new(const isync_op_desc *d, isync_registry *reg);
/* Sets a text/bytes argument; NULL, or why the value is refused ("invalid digest 'x'"). */
const char *isync_op_set_str(isync_op *op, const isync_op_arg *a, const char *s, size_t n, char *err, size_t errsz);
const char *isync_op_set_int(isync_op *op, const isync_op_arg *a, int64_t v, char *err, size_t errsz);
/* Takes a reference. */
void isync_op_set_registry(isync_op *op, const isync_op_arg *a, isync_registry *r);
/* Defaults of the arguments not given; slots to wait for. Then isync_job_submit. */
void isync_op_ready(isync_op *op);

/* ---- the descriptors' common hooks ---- */

void isync_op_free(isync_job *j);
void isync_op_forget(isync_job *j);

/* ---- engine thread: outcomes ---- */

/* The job's error from a finished non-2xx or transport-failed request (not finishing it).
 * what = "GET manifest"...; not_found_code: the code of a 404 without a registry code. */
void isync_op_set_http_error(isync_op *op, isync_http *h, const char *what, const char *not_found_code);
/* The same, then finishes the job. h stays the caller's. */
void isync_op_fail_http(isync_engine *e, isync_op *op, isync_http *h, const char *what, const char *not_found_code);
/* A URL the registry named (what: the request, named: "a next page", "an upload Location")
 * that may not be followed (isync_registry_may_follow): sets the job's PROTOCOL error and
 * returns 1, without finishing it. 0 when the URL is fine. */
int isync_op_refuse_foreign(isync_op *op, const char *url, const char *what, const char *named);

/* "BASE/v2/REPO/WHAT/REF" of the operation's registry and repository. */
void isync_op_url(const isync_op *op, char *out, size_t n, const char *what, const char *ref);
/* A HEAD's answer: 404 is "absent" (not an error), 200 "present" with its length, anything
 * else the job's error. Returns 1 when present, so the caller can read more headers. */
int isync_op_head_outcome(isync_op *op, isync_http *h, const char *what, const char *not_found_code);

/* Descriptor rows. */
#define ISYNC_OP_JOB(name, start) {name, start, NULL, isync_op_forget, isync_op_free}
#define ISYNC_ARG(name, kind, required, field) {name, kind, required, offsetof(isync_op, field), 0, 0, 0}
#define ISYNC_ARG_NUM(name, field, dflt, min, max) {name, ISYNC_ARG_INT, 0, offsetof(isync_op, field), dflt, min, max}
#define ISYNC_ARG_END {NULL, 0, 0, 0, 0, 0, 0}

#define ISYNC_OP(j) ((isync_op *)(j))
#define ISYNC_ARG_AT(op, a, type) ((type *)((char *)(op) + (a)->offset))

#endif
