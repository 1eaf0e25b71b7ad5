/*
 * quote_purge.h - drop quotes older than QUOTE_TTL_DAYS (jobs/purge-quotes).
 *
 * With cutoff = now - ttl_days:
 *   1. every quote created before the cutoff and not yet vencido loses its
 *      PDF and its contents; what stays is a trace (id, number, dates,
 *      state vencido, no customer: wa_id "0") so cgi-bin/presupuesto says
 *      410 Gone rather than 404;
 *   2. in the PDF directory, files named like ours and older than the
 *      cutoff go when no live quote owns them: "<id>.pdf" with no record,
 *      and "<id>.pdf.XXXXXX.tmp" left by a crash. A "<id>.pdf" whose quote
 *      is a trace goes at any age. Anything else in the directory, and
 *      anything younger than the cutoff (a quote being written right now),
 *      is left alone.
 * Running it again finds nothing more to do. A dry run changes nothing
 * and reports what would go.
 *
 * Ownership: nothing is allocated for the caller; the callback's strings
 * live only during the call.
 */
#ifndef OVIDIO_QUOTE_PURGE_H
#define OVIDIO_QUOTE_PURGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum quote_purge_event {
	QUOTE_PURGE_QUOTE,     /* a quote was (or would be) purged */
	QUOTE_PURGE_ORPHAN,    /* a file with no live quote was (would be) removed */
};

/* name: the quote id, or the file name; number: the quote number, 0 for
 * orphans; when: created_at, or the file's mtime. */
typedef void (*quote_purge_fn)(void *ctx, enum quote_purge_event ev,
    const char *name, int64_t number, int64_t when);

struct quote_purge_stats {
	size_t quotes;         /* quotes purged */
	size_t files;          /* PDFs of those quotes that were on disk */
	size_t orphans;        /* orphan files removed */
	size_t errors;         /* quotes or files that could not be handled */
};

/* Purge as above; fn may be NULL. OV_OK when everything went; otherwise
 * the first error, having done all it could (stats->errors counts). */
int quote_purge(struct store *st, const char *dir, int64_t now,
    long ttl_days, bool dry_run, quote_purge_fn fn, void *ctx,
    struct quote_purge_stats *stats);

#endif
