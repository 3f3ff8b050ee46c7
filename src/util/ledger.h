/* ledger.h - an append-only, crash-safe record file (no Lua).
 *
 * Each record is one line "<crc32 hex> <payload>\n". A record torn by a crash (no newline,
 * or a checksum that does not match) is skipped on load, and a torn tail is cut off on open
 * so the next append starts on a clean line. One process at a time: an exclusive lock on
 * "<path>.lock" is held while open. Compaction writes a new file and renames it over the
 * old one, so a crash leaves either the old file or the new one, never a mix. */
#ifndef ISYNC_LEDGER_H
#define ISYNC_LEDGER_H
#include <stddef.h>
#include <stdint.h>

typedef struct isync_ledger isync_ledger;

/* Opens (creating) the ledger. NULL with a one-line reason in err. */
isync_ledger *isync_ledger_open(const char *path, char *err, size_t errsz);
void isync_ledger_close(isync_ledger *l);
/* Calls fn for each valid record in order; returns how many records were skipped as torn,
 * or -1 with err (unreadable, or fn returned non-zero: it could not take the record). fn
 * must return, never unwind: the file is open while it runs. */
int isync_ledger_load(isync_ledger *l, int (*fn)(void *ud, const char *payload, size_t n), void *ud,
                      char *err, size_t errsz);
/* Appends one record (payload must not contain '\n'). 0 ok, -1 with err. */
int isync_ledger_append(isync_ledger *l, const char *payload, size_t n, char *err, size_t errsz);
int isync_ledger_sync(isync_ledger *l, char *err, size_t errsz);
/* Replaces the file's content with these payloads, atomically. */
int isync_ledger_compact(isync_ledger *l, const char *const *payloads, const size_t *lens, size_t count,
                         char *err, size_t errsz);
/* Records appended since open (for deciding when to compact). */
size_t isync_ledger_appended(const isync_ledger *l);

uint32_t isync_crc32(const void *p, size_t n);

#endif
