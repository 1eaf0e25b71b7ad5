/*
 * store_impl.h - internal: what a store backend provides.
 *
 * lib/store.c validates every argument (lengths, names, ranges) before it
 * calls a backend, so backends may rely on: non-NULL required pointers,
 * strings within the bounds of store.h, catalog names from the allowed
 * list, limits in range. Backends own their connection state in `impl`.
 */
#ifndef OVIDIO_STORE_IMPL_H
#define OVIDIO_STORE_IMPL_H

#include "store.h"

struct store_ops {
	const char *name;
	int (*open)(void **impl, const struct config *cfg);
	void (*close)(void *impl);

	int (*inbound_claim)(void *impl, const struct store_msg *m,
	    int64_t now, int64_t lease_s, enum store_claim *out);
	int (*inbound_done)(void *impl, const char *id, int64_t now);
	/* body or media non-NULL, both validated. */
	int (*inbound_note)(void *impl, const char *id, const char *body,
	    const char *media);
	int (*outbound_put)(void *impl, const struct store_msg *m);
	int (*status_update)(void *impl, const char *id, const char *wa_id,
	    const char *status, int64_t ts, const char *error, bool *found);
	int (*msg_get)(void *impl, const char *id, struct store_msg *out,
	    bool *found);
	int (*history)(void *impl, const char *wa_id, int limit,
	    struct store_msg **out, size_t *n);

	int (*customer_get)(void *impl, const char *wa_id,
	    struct store_customer *out, bool *found);
	int (*customer_put)(void *impl, const struct store_customer *c,
	    int64_t now);

	int (*counter_next)(void *impl, const char *name, int64_t *value);

	int (*token_get)(void *impl, const char *name, char **value,
	    int64_t *expires_at, bool *found);
	int (*token_put)(void *impl, const char *name, const char *value,
	    int64_t expires_at);

	/* The backend's writer state; store.c wraps it. */
	int (*catalog_begin)(void *impl, const char *catalog, void **writer);
	/* Tokens and lookups validated, repeats possible. */
	int (*catalog_put)(void *writer, const struct store_catalog_item *it);
	int (*catalog_commit)(void *writer);   /* frees writer */
	void (*catalog_abort)(void *writer);   /* frees writer */
	int (*catalog_get)(void *impl, const char *catalog, const char *key,
	    char **json, bool *found);
	int (*catalog_count)(void *impl, const char *catalog, int64_t *n);
	int (*catalog_search)(void *impl, const char *catalog,
	    const char *const *tokens, size_t n, int limit,
	    struct store_catalog_hit **out, size_t *nout);
	int (*catalog_lookup)(void *impl, const char *catalog,
	    const char *lookup, int limit, struct store_catalog_hit **out,
	    size_t *nout);

	int (*quote_put)(void *impl, const struct store_quote *q);
	int (*quote_get)(void *impl, const char *id, struct store_quote *out,
	    bool *found);
	int (*quote_list_older)(void *impl, int64_t before, int limit,
	    struct store_quote **out, size_t *n);
	int (*quote_list_older_except)(void *impl, int64_t before,
	    const char *except_state, int limit, struct store_quote **out,
	    size_t *n);
	int (*quote_pending_for)(void *impl, const char *wa_id,
	    struct store_quote *out, bool *found);
	int (*quote_delete)(void *impl, const char *id);

	int (*outbox_put)(void *impl, const struct store_outbox *o);
	int (*outbox_due)(void *impl, int64_t now, int limit,
	    struct store_outbox **out, size_t *n);
	int (*outbox_count_for)(void *impl, const char *wa_id, int64_t *n);
	/* seen_claimer "" for none; claimer valid. */
	int (*outbox_claim)(void *impl, const char *id, int64_t seen_at,
	    const char *seen_claimer, int64_t until, const char *claimer);
	int (*outbox_orphan)(void *impl, const char *id, int64_t seen_at,
	    const char *seen_claimer, int64_t until);
	int (*outbox_reschedule)(void *impl, const char *id, int attempts,
	    int64_t next_attempt_at, const char *error);
	int (*outbox_delete)(void *impl, const char *id);
	int (*outbox_due_for)(void *impl, const char *wa_id, int64_t now,
	    int limit, struct store_outbox **out, size_t *n);
	/* part in range, wamid valid; cap >= 1, out zeroed, *n = 0. */
	int (*outbox_taken_put)(void *impl, const char *id, int part,
	    const char *wamid);
	int (*outbox_taken)(void *impl, const char *id,
	    struct store_outbox_part *out, size_t cap, size_t *n);

	/* doc never NULL ("{}" for none); out zeroed by store.c. */
	int (*conv_get)(void *impl, const char *key, struct store_conv *out,
	    bool *found);
	int (*conv_put)(void *impl, const struct store_conv *c, int64_t now);
	int (*conv_lease)(void *impl, const char *key, const char *holder,
	    int64_t now, int64_t until, bool *got);
	int (*conv_release)(void *impl, const char *key, const char *holder);
	/* conv->doc never NULL; replies and ids validated and distinct. */
	int (*turn_commit)(void *impl, const struct store_turn *t);
	int (*turn_recover)(void *impl, size_t *applied);

	/* ---- proactive messages: arguments validated by store.c. */
	int (*proactive_commit)(void *impl, const char *const *markers,
	    size_t nmarkers, const struct store_outbox *entry, int64_t now);
	/* Items validated; each rc preset to OV_ESTORE. */
	int (*proactive_batch)(void *impl, struct store_proactive *v, size_t n,
	    int64_t now);
	int (*marker_get)(void *impl, const char *marker, bool *found);
	int (*marker_delete)(void *impl, const char *marker);
	int (*proactive_recover)(void *impl, int64_t now, size_t *applied);
	/* doc never NULL in what is handed out. */
	int (*conv_scan)(void *impl, const char *after, int limit,
	    struct store_conv **out, size_t *n);
	int (*quote_scan_expiring)(void *impl, const char *state, int64_t from,
	    int64_t to, const char *after, int limit, struct store_quote **out,
	    size_t *n);
	int (*demand_put)(void *impl, const char *wa_id, int64_t product_id,
	    int64_t asked_at);
	/* after NULL: from the start. */
	int (*demand_scan)(void *impl, const struct store_demand *after,
	    int limit, struct store_demand **out, size_t *n);
	int (*demand_delete)(void *impl, const char *wa_id, int64_t product_id);
	/* ---- identities (keys validated, distinct for move) */
	int (*identity_get)(void *impl, const char *key,
	    struct store_identity *out, bool *found);
	int (*identity_put)(void *impl, const struct store_identity *id,
	    int64_t now);
	int (*identity_move)(void *impl, const char *from, const char *to,
	    int64_t now);
	/* ---- inbox */
	/* c normalised; expects non-NULL. */
	int (*conv_swap)(void *impl, const struct store_conv *c,
	    const char *expect_owner, const char *expect_agent,
	    const char *holder, int64_t now, bool *got);
	/* query NULL or lower-cased; out zeroed. */
	int (*inbox_list)(void *impl, const char *query, int limit,
	    struct store_inbox_row **out, size_t *n);
	int (*inbox_stats)(void *impl, int64_t since, int64_t now,
	    struct store_inbox_stats *out);

	/* ---- legacy and ISR */
	/* 0 < n <= STORE_IMPORT_BATCH, ids and fields validated. */
	int (*msgs_import)(void *impl, const struct store_msg *v, size_t n,
	    size_t *added);
	int (*counter_raise)(void *impl, const char *name, int64_t at_least,
	    bool *raised);
	int (*quote_by_number)(void *impl, int64_t number,
	    struct store_quote *out, bool *found);
	/* 0 < n <= STORE_IMPORT_BATCH, numbers > 0; out zeroed, found
	 * false. */
	int (*quotes_by_number)(void *impl, const int64_t *numbers, size_t n,
	    struct store_quote *out, bool *found);
	/* 0 < n <= STORE_IMPORT_BATCH, quotes validated. */
	int (*quotes_import)(void *impl, const struct store_quote *v,
	    size_t n, size_t *added);
	/* Entries validated; list's limit in range. */
	int (*isr_put)(void *impl, const struct store_isr *e, int64_t seq);
	int (*isr_list)(void *impl, int limit, struct store_isr **out,
	    size_t *n);
	int (*isr_claim)(void *impl, const char *id, int64_t seen,
	    int64_t until);
	int (*isr_reschedule)(void *impl, const char *id, int attempts,
	    int64_t next_attempt_at, const char *error);
	int (*isr_delete)(void *impl, const char *id);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_mongo_ops;

/* Rank of an outbound status: pending 0, sent 1, delivered 2, read 3,
 * failed 4; -1 for anything else. Backends use it to never lower a rank. */
int store_status_rank(const char *status);

#endif
