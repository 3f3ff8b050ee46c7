/* paging.c - following Link rel="next" within bounds. */
#include "registry/paging.h"
#include "util/parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t url_hash(const char *s) {   /* FNV-1a */
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h ? h : 1;   /* 0 marks a free slot */
}

/* Adds url to the job's set of visited pages. 1 when it was already there (a loop),
 * 0 when added, -1 out of memory. Open addressing, kept at most half full. */
static int seen_add(isync_op *op, const char *url) {
  if ((size_t)op->pages * 2 + 2 > op->seen_cap) {
    size_t cap = op->seen_cap ? op->seen_cap * 2 : 64;
    uint64_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < op->seen_cap; i++) {
      if (!op->seen[i]) continue;
      size_t k = (size_t)(op->seen[i] % cap);
      while (t[k]) k = (k + 1) % cap;
      t[k] = op->seen[i];
    }
    free(op->seen);
    op->seen = t;
    op->seen_cap = cap;
  }
  uint64_t h = url_hash(url);
  size_t k = (size_t)(h % op->seen_cap);
  while (op->seen[k]) { if (op->seen[k] == h) return 1; k = (k + 1) % op->seen_cap; }
  op->seen[k] = h;
  return 0;
}

int isync_page_bounds(isync_engine *e, isync_op *op, isync_http *h, const char *what) {
  op->list_bytes += h->body.len;
  if (op->list_bytes <= ISYNC_LIST_MAX_BYTES && op->nlist <= ISYNC_LIST_MAX_ENTRIES) return 0;
  isync_http_free(h);
  isync_job_fail(e, &op->job, "TOO_LARGE", "%s %s/%s: the listing is larger than %u entries or %u MiB", what,
                 op->reg->name, op->repo ? op->repo : "", ISYNC_LIST_MAX_ENTRIES, ISYNC_LIST_MAX_BYTES >> 20);
  return 1;
}

int isync_next_page(isync_engine *e, isync_op *op, isync_http *h, const char *what, isync_req_fn setup,
                    isync_req_fn done) {
  char *link = isync_http_header_dup(h, "Link");
  char *next = link ? isync_parse_link_next(link) : NULL;
  free(link);
  if (!next) return 0;
  char *abs = isync_url_resolve(h->url, next);
  free(next);
  if (op->pages == 0 && abs && seen_add(op, h->url) < 0) { free(abs); abs = NULL; }
  isync_http_free(h);
  if (!abs) { isync_job_fail(e, &op->job, "INTERNAL", "out of memory"); return 1; }
  char shown[512];
  isync_url_redact(abs, shown, sizeof shown);
  if (isync_op_refuse_foreign(op, abs, what, "a next page")) {
    /* refused before any connection: a registry must not aim us at 169.254.169.254 */
    isync_job_finish(e, &op->job);
    free(abs);
    return 1;
  }
  int again = seen_add(op, abs);
  if (again != 0 || ++op->pages > ISYNC_LIST_MAX_PAGES) {
    if (again < 0) isync_job_fail(e, &op->job, "INTERNAL", "out of memory");
    else if (again) isync_job_fail(e, &op->job, "PROTOCOL", "%s: registry %s's pages loop back to %s", what, op->reg->name, shown);
    else isync_job_fail(e, &op->job, "TOO_LARGE", "%s: registry %s's listing has more than %d pages", what, op->reg->name, ISYNC_LIST_MAX_PAGES);
    free(abs);
    return 1;
  }
  isync_request(e, op, op->reg, op->scopes, "GET", abs, setup, done, NULL);
  free(abs);
  return 1;
}
