/* op_list.c - "tags" and "catalog": {"tags": [...]} / {"repositories": [...]}, paged. */
#include "registry/paging.h"
#include "util/json.h"
#include "util/parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const isync_op_desc isync_op_catalog;

static void list_done(isync_engine *e, isync_op *op, isync_http *h) {
  int catalog = op->desc == &isync_op_catalog;
  const char *what = catalog ? "GET catalog" : "GET tags";
  if (!isync_http_ok(h, 200)) {
    isync_op_fail_http(e, op, h, what, catalog ? "UNSUPPORTED" : "NAME_UNKNOWN");
    isync_http_free(h);
    return;
  }
  isync_json *doc = isync_json_parse(h->body.data ? h->body.data : "", h->body.len);
  const isync_json *names = isync_json_get(doc, catalog ? "repositories" : "tags");
  if (!doc || (names && names->type != ISYNC_JARR && names->type != ISYNC_JNULL)) {
    char url[512];
    isync_url_redact(h->url, url, sizeof url);
    isync_json_free(doc);
    isync_job_fail(e, &op->job, "PROTOCOL", "%s %s: the answer is not a %s list", what, url, catalog ? "repository" : "tag");
    isync_http_free(h);
    return;
  }
  size_t add = names && names->type == ISYNC_JARR ? names->n : 0;
  char **list = realloc(op->list, (op->nlist + add + 1) * sizeof *list);
  if (list) {
    op->list = list;
    for (size_t i = 0; i < add; i++)
      if (names->items[i]->type == ISYNC_JSTR) op->list[op->nlist++] = strdup(names->items[i]->str);
  }
  isync_json_free(doc);
  if (isync_page_bounds(e, op, h, what)) return;
  if (!isync_next_page(e, op, h, what, NULL, list_done)) {
    isync_http_free(h);
    isync_job_finish(e, &op->job);
  }
}

static void with_page_size(char *url, size_t n, const isync_op *op) {
  if (op->page_size > 0) snprintf(url + strlen(url), n - strlen(url), "?n=%lld", (long long)op->page_size);
}

static void tags_start(isync_engine *e, isync_job *j) {
  isync_op *op = ISYNC_OP(j);
  char url[2048];
  op->scopes = isync_scopes(op->repo, "pull", NULL, NULL);
  isync_op_url(op, url, sizeof url, "tags", "list");
  with_page_size(url, sizeof url, op);
  isync_request(e, op, op->reg, op->scopes, "GET", url, NULL, list_done, NULL);
}

static void catalog_start(isync_engine *e, isync_job *j) {
  isync_op *op = ISYNC_OP(j);
  char url[2048];
  op->scopes = strdup("registry:catalog:*");
  snprintf(url, sizeof url, "%s/v2/_catalog", op->reg->base);
  with_page_size(url, sizeof url, op);
  isync_request(e, op, op->reg, op->scopes, "GET", url, NULL, list_done, NULL);
}

#define PAGE_SIZE ISYNC_ARG_NUM("page_size", page_size, 0, 0, 1000000)
static const isync_op_arg tags_args[] = {ISYNC_ARG("repo", ISYNC_ARG_REPO, 1, repo), PAGE_SIZE, ISYNC_ARG_END};
static const isync_op_arg catalog_args[] = {PAGE_SIZE, ISYNC_ARG_END};

const isync_op_desc isync_op_tags = {ISYNC_OP_JOB("tags", tags_start), 1, 0, tags_args, ISYNC_RESULT_LIST};
const isync_op_desc isync_op_catalog = {ISYNC_OP_JOB("catalog", catalog_start), 1, 0, catalog_args, ISYNC_RESULT_LIST};
