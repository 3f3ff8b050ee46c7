/* paging.h - listings paged by Link rel="next" (tags, catalog, referrers), with bounds a
 * registry cannot drive: entries, bytes, pages, and no loop (no Lua). */
#ifndef ISYNC_PAGING_H
#define ISYNC_PAGING_H
#include "registry/request.h"

#define ISYNC_LIST_MAX_ENTRIES 1000000u     /* tags or repositories of one listing */
#define ISYNC_LIST_MAX_BYTES (64u << 20)     /* all pages of one listing together */
#define ISYNC_LIST_MAX_PAGES 100000

/* Counts one page against the listing's bounds. 0 fine, else the job failed (h freed). */
int isync_page_bounds(isync_engine *e, isync_op *op, isync_http *h, const char *what);
/* Follows the Link rel="next" of a paged answer: requests that page (setup, done) and returns
 * 1 (h freed; the job failed instead when the pages do not end, loop, or leave the
 * registry). 0 when this was the last page (h untouched). */
int isync_next_page(isync_engine *e, isync_op *op, isync_http *h, const char *what, isync_req_fn setup,
                    isync_req_fn done);

#endif
