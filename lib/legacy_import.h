/*
 * legacy_import.h - moving an old bot's `ovidio_db` over (issue 12): the
 * records lib/legacy reads become Ovidio's, beside the old documents,
 * which are never changed or deleted.
 *
 *   - each customer (duplicates merged): a clientes record (name; the
 *     Cianbox link only when a phone on file of that synced client reduces
 *     to the customer's number: the old bot linked by suffix, and linked
 *     wrong accounts); their history as messages ("legacy.<doc>.<n>",
 *     inbound ones handled) so it shows in the transcript; preferred
 *     brands, promo consent and birthday into the conversation profile
 *     (what Ovidio already knows is kept; the old values fill the gaps);
 *   - each quote: its number, items, totals (recomputed by lib/quote's
 *     rounding; a difference from the old total is reported), state and
 *     dates, under a new UUID;
 *   - the "presupuesto" counter raised to the highest old number, so the
 *     next quote continues after it.
 * Idempotent: everything is keyed (wa_id, message ids, quote numbers) and
 * written only when it would change, so a second run changes nothing.
 * With dry_run nothing is written; the counts say what a run would do
 * (messages: how many the old history holds).
 *
 * report() gets one line of text per thing done or skipped, with the
 * reason; it may be NULL. Nothing to free.
 */
#ifndef OVIDIO_LEGACY_IMPORT_H
#define OVIDIO_LEGACY_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct legacy;
struct store;

struct legacy_import_stats {
	size_t customers;          /* merged customers read */
	size_t documents;          /* their old documents */
	size_t customers_new;      /* clientes records created */
	size_t customers_updated;  /* existing records given a name or link */
	size_t profiles;           /* conversation profiles written */
	size_t links_kept;         /* Cianbox links confirmed by phone */
	size_t links_dropped;      /* links whose phone does not match */
	size_t links_unchecked;    /* linked client not synced: not linked */
	size_t messages_read;      /* history entries in the old documents */
	size_t messages_added;
	size_t entries_dropped;    /* entries without text, role or room */
	size_t quotes_read;
	size_t quotes_added;
	size_t quotes_present;     /* imported before */
	size_t skipped;            /* documents left out (reported) */
	int64_t highest_number;    /* of the old quotes; 0: none */
	bool counter_raised;
};

typedef void (*legacy_report_fn)(void *ctx, const char *line);

int legacy_import(struct store *st, struct legacy *lg, bool dry_run,
    legacy_report_fn report, void *ctx, struct legacy_import_stats *stats);

#endif
