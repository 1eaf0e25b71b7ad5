/*
 * store.h - the one interface to Ovidio's data (DESIGN.md section 4).
 *
 * Two backends behind it, chosen at run time by store_open():
 *   - SQLite ($OVIDIO_DATA_DIR/ovidio.db, WAL, busy timeout): the default;
 *   - MongoDB through mongo-c-driver when MONGODB_URI is set.
 * Both pass the same contract tests (tests/unit/test_store.c).
 *
 * Collections / tables: mensajes, clientes, clientes_cianbox,
 * productos_cache, presupuestos, tokens, contadores, outbox,
 * conversaciones, turnos.
 *
 * Ownership rules:
 *   - A struct store is used by one process and one thread. After fork()
 *     the child must open its own (a MongoDB client must not cross fork).
 *   - Strings passed in are copied; the caller keeps them.
 *   - Strings handed out inside result structs are malloc'd and owned by the
 *     struct; release them with the matching *_clear() or *_free().
 *   - Every function returns OV_OK or an enum ov_err code (lib/err.h).
 *   - No user text is ever turned into a regular expression or an operator:
 *     values are bound as parameters (SQLite) or as BSON values (MongoDB).
 *
 * Times are Unix seconds (int64_t).
 */
#ifndef OVIDIO_STORE_H
#define OVIDIO_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

/* Bounds shared by both backends; longer input is OV_EINVAL. */
#define STORE_MSGID_MAX 256   /* wamid length bound */
#define STORE_WAID_MAX 32     /* WhatsApp number, digits */
#define STORE_NAME_MAX 128    /* counter, token, catalog, state names */
#define STORE_TEXT_MAX 65536  /* message bodies and JSON documents */
#define STORE_DOC_MAX (1024 * 1024) /* catalog and quote JSON documents */
#define STORE_MEDIA_REF_MAX 64 /* a kept copy's id (lib/media_keep) */

/* Open the backend the configuration names. MONGODB_URI set: MongoDB,
 * database MONGODB_DB; otherwise SQLite at $OVIDIO_DATA_DIR/ovidio.db
 * (the directory must exist). Creates tables and indexes if missing. */
int store_open(struct store **out, const struct config *cfg);
void store_close(struct store *st);
/* "sqlite" or "mongodb". */
const char *store_backend(const struct store *st);

/* ---- mensajes: one record per message in or out --------------------- */

enum store_dir { STORE_IN = 0, STORE_OUT = 1 };

struct store_msg {
	char id[STORE_MSGID_MAX + 1];   /* wamid; unique across the store */
	char wa_id[STORE_WAID_MAX + 1]; /* the customer's number */
	enum store_dir dir;
	int64_t ts;                     /* when sent (Meta's timestamp) */
	char type[32];                  /* text, interactive, image, ... */
	char status[16];                /* see below */
	char *body;                     /* text as a person reads it; may be NULL */
	char *raw;                      /* the message JSON; may be NULL */
	/* Inbound: the copy of its media kept for the salesperson (an id of
	 * lib/media_keep), "" when none; set by store_inbound_note(). */
	char media[STORE_MEDIA_REF_MAX + 1];
};

/* Inbound status: "received" (recorded, not yet handled), "handled".
 * Outbound status, ranked: "pending" < "sent" < "delivered" < "read",
 * and "failed" which outranks all. A status update never lowers the rank. */

enum store_claim {
	STORE_CLAIM_NEW = 0,   /* first time seen: the caller handles it */
	STORE_CLAIM_RETRY,     /* seen before, never handled, lease expired:
	                          the caller handles it (crash recovery) */
	STORE_CLAIM_DUPLICATE  /* handled already, or being handled by another
	                          process within its lease: do nothing */
};

/* Record an inbound message (m->dir is ignored, status set to "received")
 * exactly once by m->id, and claim it for handling. Atomic across
 * processes and web nodes: of many concurrent callers with the same id
 * exactly one gets NEW. A record in "received" whose claim is older than
 * lease_s seconds (claimed_at < now - lease_s) is re-claimed as RETRY by
 * exactly one caller, which moves claimed_at to now. */
int store_inbound_claim(struct store *st, const struct store_msg *m,
    int64_t now, int64_t lease_s, enum store_claim *out);

/* Mark an inbound message handled. OV_ENOTFOUND if unknown. */
int store_inbound_done(struct store *st, const char *id, int64_t now);

/* Write back what the worker learnt of a recorded inbound message: body,
 * the words a person reads for it (a voice note's transcript, "🎤 …"),
 * and media, the id of the copy of its media kept for the salesperson
 * (1..STORE_MEDIA_REF_MAX bytes of [0-9A-Za-z._-]). NULL leaves a field
 * as it is (one of them must be given); raw, Meta's JSON, never changes.
 * OV_ENOTFOUND when no inbound message has this id. */
int store_inbound_note(struct store *st, const char *id, const char *body,
    const char *media);

/* Record an outbound message (m->dir ignored). Upsert by id: if a status
 * update for this id arrived first, the higher-ranked status is kept. */
int store_outbound_put(struct store *st, const struct store_msg *m);

/* Apply a delivery status ("sent", "delivered", "read", "failed") from a
 * status webhook. error may be NULL (kept with "failed"). If no record
 * with this id exists yet, a stub holding the status is created so the
 * later store_outbound_put() keeps it, and *found is false; when a record
 * (or an earlier stub) exists, *found is true. found may be NULL. */
int store_status_update(struct store *st, const char *id, const char *wa_id,
    const char *status, int64_t ts, const char *error, bool *found);

/* Get one message by id. *found false and OV_OK when absent. */
int store_msg_get(struct store *st, const char *id, struct store_msg *out,
    bool *found);

/* The last `limit` (1..500) messages of wa_id, in and out, oldest first
 * (by ts, then by insertion order). *out is a malloc'd array of *n
 * messages; free with store_msgs_free(). */
int store_history(struct store *st, const char *wa_id, int limit,
    struct store_msg **out, size_t *n);

void store_msg_clear(struct store_msg *m);
void store_msgs_free(struct store_msg *v, size_t n);

/* ---- clientes: one per WhatsApp number ------------------------------ */

struct store_customer {
	char wa_id[STORE_WAID_MAX + 1];
	int64_t cianbox_id;      /* 0: not linked to a Cianbox customer */
	bool verified;           /* number matches the phone on file */
	char *name;              /* may be NULL */
	char *profile;           /* JSON object text owned by lib/bot; may be NULL */
	int64_t created_at;      /* set by the store on first put */
	int64_t updated_at;
};

int store_customer_get(struct store *st, const char *wa_id,
    struct store_customer *out, bool *found);
/* Upsert by wa_id; created_at is kept from the first put. */
int store_customer_put(struct store *st, const struct store_customer *c);
void store_customer_clear(struct store_customer *c);

/* ---- contadores: atomic named sequences ----------------------------- */

/* Increment and return the new value; the first call for a name gives 1.
 * Never repeats a value, even with many processes at once. */
int store_counter_next(struct store *st, const char *name, int64_t *value);

/* ---- tokens ---------------------------------------------------------- */

/* *value malloc'd (caller frees). *found false when absent. */
int store_token_get(struct store *st, const char *name, char **value,
    int64_t *expires_at, bool *found);
int store_token_put(struct store *st, const char *name, const char *value,
    int64_t expires_at);

/* ---- catalogs: productos_cache, clientes_cianbox ---------------------- */

/* A catalog is a set of JSON documents by key. Sync replaces one whole:
 * begin, add each item (streamed: nothing is held in memory), commit.
 * Readers see the old or the new copy, never a mix; abort (or a crash)
 * leaves the old copy in place. Only these two names are valid. A writer
 * must be committed or aborted before its store is closed. */
struct store_catalog_writer;

int store_catalog_begin(struct store *st, const char *catalog,
    struct store_catalog_writer **out);
/* A later add with the same key replaces the earlier one. */
int store_catalog_add(struct store_catalog_writer *w, const char *key,
    const char *json);

/*
 * Items may also be found by search tokens and lookup keys, which are
 * replaced with the catalog in the same atomic swap. The store knows
 * nothing of products or customers: the caller normalises (lib/catalog,
 * lib/customer) and the store matches exactly, binding every value as a
 * value: never a pattern, a regular expression or an operator.
 *   - a token: 1..STORE_TOKEN_MAX bytes of [a-z0-9] and '.', ':', '_';
 *   - a lookup key: 1..STORE_LOOKUP_MAX bytes of text without control
 *     characters, e.g. "tel:3415551234", "cuit:20284567898";
 *   - a rank 0..STORE_RANK_MAX: search and lookup answer lower ranks
 *     first, and within a rank in the order the items were added.
 */
#define STORE_TOKEN_MAX 64
#define STORE_ITEM_TOKENS_MAX 512
#define STORE_LOOKUP_MAX 300
#define STORE_ITEM_LOOKUPS_MAX 32
#define STORE_RANK_MAX 65535
#define STORE_SEARCH_TOKENS_MAX 16
#define STORE_SEARCH_LIMIT_MAX 1000

struct store_catalog_item {
	const char *key;
	const char *json;
	const char *const *tokens;   /* ntokens of them; repeats are fine */
	size_t ntokens;
	const char *const *lookups;  /* nlookups of them */
	size_t nlookups;
	unsigned rank;
};

/* store_catalog_add() with tokens, lookup keys and a rank. */
int store_catalog_put(struct store_catalog_writer *w,
    const struct store_catalog_item *item);

/* An item found; key and json malloc'd, owned by the array. */
struct store_catalog_hit {
	char *key;
	char *json;
};

/* The items holding every one of tokens[0..n-1] (1..STORE_SEARCH_
 * TOKENS_MAX), by rank then insertion, at most limit (1..STORE_SEARCH_
 * LIMIT_MAX). *out is a malloc'd array of *nout hits (NULL when none);
 * free with store_catalog_hits_free(). */
int store_catalog_search(struct store *st, const char *catalog,
    const char *const *tokens, size_t n, int limit,
    struct store_catalog_hit **out, size_t *nout);

/* The items with this lookup key, by rank then insertion, at most limit. */
int store_catalog_lookup(struct store *st, const char *catalog,
    const char *lookup, int limit, struct store_catalog_hit **out,
    size_t *nout);

void store_catalog_hits_free(struct store_catalog_hit *v, size_t n);
/* Frees w in every case. */
int store_catalog_commit(struct store_catalog_writer *w);
void store_catalog_abort(struct store_catalog_writer *w);

/* *json malloc'd (caller frees). */
int store_catalog_get(struct store *st, const char *catalog, const char *key,
    char **json, bool *found);
int store_catalog_count(struct store *st, const char *catalog, int64_t *n);

/* ---- presupuestos: quotes -------------------------------------------- */

struct store_quote {
	char id[40];             /* UUID v4, lower case */
	int64_t number;          /* from the "presupuesto" counter */
	char wa_id[STORE_WAID_MAX + 1];
	char state[32];          /* pendiente_confirmacion, enviado, cancelado, vencido */
	int64_t created_at;
	int64_t expires_at;
	char *doc;               /* JSON text owned by lib/quote; may be NULL */
};

/* Upsert by id. */
int store_quote_put(struct store *st, const struct store_quote *q);
int store_quote_get(struct store *st, const char *id, struct store_quote *out,
    bool *found);
/* Quotes with created_at < before, oldest first, at most `limit` (1..10000). */
int store_quote_list_older(struct store *st, int64_t before, int limit,
    struct store_quote **out, size_t *n);
/* Like store_quote_list_older() but leaves out the quotes whose state is
 * except_state (the purge skips its own "vencido" traces this way). */
int store_quote_list_older_except(struct store *st, int64_t before,
    const char *except_state, int limit, struct store_quote **out,
    size_t *n);
/* The newest (by created_at, then number) quote of wa_id in state
 * pendiente_confirmacion. *found false and OV_OK when there is none. */
int store_quote_pending_for(struct store *st, const char *wa_id,
    struct store_quote *out, bool *found);
int store_quote_delete(struct store *st, const char *id);
void store_quote_clear(struct store_quote *q);
void store_quotes_free(struct store_quote *v, size_t n);

/* ---- outbox: replies waiting to be sent ------------------------------ */

/*
 * A reply that could not go out (Meta down, rate limit) waits here with
 * its whole request, so the next worker run sends it: a Meta outage delays
 * replies but loses none. The caller (lib/outbox) owns the policy (when to
 * try again, when to give up); the store only keeps the entries. Once sent,
 * the caller records it with store_outbound_put() and deletes the entry.
 */
#define STORE_OUTBOX_ID_MAX 64
#define STORE_OUTBOX_KIND_MAX 31
#define STORE_OUTBOX_PARTS_MAX 16  /* messages one entry may become */
#define STORE_HOLDER_MAX 64        /* "host:pid" and other lease holders */

/* Lanes, in the order a drain serves them (DESIGN.md section 4). */
enum store_lane {
	STORE_LANE_REPLY = 0,     /* the bot's replies to a customer now */
	STORE_LANE_AGENT = 1,     /* a salesperson's messages */
	STORE_LANE_CAMPAIGN = 2   /* proactive messages (throttled) */
};

struct store_outbox {
	char id[STORE_OUTBOX_ID_MAX + 1];   /* caller-made, unique */
	enum store_lane lane;
	char wa_id[STORE_WAID_MAX + 1];     /* recipient */
	char kind[STORE_OUTBOX_KIND_MAX + 1]; /* text, buttons, list, pdf... */
	char *payload;          /* JSON of the request (STORE_TEXT_MAX); owned */
	char *last_error;       /* why the last try failed; may be NULL; owned */
	int attempts;           /* tries made so far */
	int64_t created_at;
	int64_t next_attempt_at;
	/* Read only (put leaves a new entry unclaimed): who claimed it
	 * last, "host:pid" ("" when nobody: new, or rescheduled), and
	 * whether it was taken back from a claimer that died, so parts of
	 * it may be out already (store_outbox_taken). */
	char claimer[STORE_HOLDER_MAX + 1];
	bool orphaned;
};

/* Insert an entry. OV_EEXIST when the id is taken. */
int store_outbox_put(struct store *st, const struct store_outbox *o);
/* Entries with next_attempt_at <= now, by lane (replies first), then
 * oldest first (created_at, then insertion order), at most limit
 * (1..1000). *out is a malloc'd array of *n entries; free with
 * store_outbox_free(). */
int store_outbox_due(struct store *st, int64_t now, int limit,
    struct store_outbox **out, size_t *n);
/* The same for one recipient only: what a turn just committed, sent at
 * once by the process that ran the turn. Oldest first, any lane. */
int store_outbox_due_for(struct store *st, const char *wa_id, int64_t now,
    int limit, struct store_outbox **out, size_t *n);
/* How many entries wait for wa_id (due or not): a new reply queues behind
 * them so a customer never reads replies out of order. */
int store_outbox_count_for(struct store *st, const char *wa_id, int64_t *n);
/* Claim an entry for sending: move next_attempt_at from seen_at and
 * the claimer from seen_claimer ("" for none), as store_outbox_due
 * listed them, to until and claimer (1..STORE_HOLDER_MAX printable
 * bytes, "host:pid"), only if both still are as seen. Of several drains
 * (web nodes sharing MongoDB) listing one entry, exactly one gets OV_OK;
 * the others OV_EBUSY, also when it is gone. */
int store_outbox_claim(struct store *st, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until, const char *claimer);
/* Take an entry back from a claimer that died: the same compare-and-set
 * as store_outbox_claim, but it leaves the entry unclaimed, orphaned
 * and due at until. OV_OK or OV_EBUSY. */
int store_outbox_orphan(struct store *st, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until);
/* Record a failed try: attempts, next try, error (may be NULL); the
 * entry is unclaimed again. OV_ENOTFOUND when there is no such entry. */
int store_outbox_reschedule(struct store *st, const char *id, int attempts,
    int64_t next_attempt_at, const char *error);
/* Remove an entry (sent, or given up), with what store_outbox_taken
 * knows of it. Removing a missing one is OV_OK. */
int store_outbox_delete(struct store *st, const char *id);

/*
 * Parts Meta took. Every message sent for an entry names the entry and
 * its part (0..STORE_OUTBOX_PARTS_MAX-1) in its callback data, which
 * Meta's status webhooks bring back; the worker records them here, so a
 * drain taking the entry back from a claimer that died knows what went
 * out. store_outbox_taken_put records part `part` of entry id as wamid,
 * only while the entry is there (a status for an entry already sent and
 * deleted is OV_OK and leaves nothing behind); a part recorded once keeps
 * its first wamid.
 */
struct store_outbox_part {
	int part;
	char wamid[STORE_MSGID_MAX + 1];
};

int store_outbox_taken_put(struct store *st, const char *id, int part,
    const char *wamid);
/* The parts of id recorded so far, by part, into out[0..cap) (cap <=
 * STORE_OUTBOX_PARTS_MAX is enough); *n of them. None (or no such
 * entry): *n = 0 and OV_OK. */
int store_outbox_taken(struct store *st, const char *id,
    struct store_outbox_part *out, size_t cap, size_t *n);
void store_outbox_clear(struct store_outbox *o);
void store_outbox_free(struct store_outbox *v, size_t n);

/* ---- conversaciones: one record per customer (DESIGN.md section 4) -- */

/*
 * The conversation's state is typed in lib/conv; the store keeps it as a
 * JSON document plus the few fields it must index or compare (owner and
 * times, for the salesperson's inbox). key is the customer's WhatsApp
 * number, or a BSUID ("AR.1502576394655843") for a customer without one:
 * 1..STORE_WAID_MAX bytes of [0-9A-Za-z.].
 */
#define STORE_CONV_DOC_MAX 65536

struct store_conv {
	char key[STORE_WAID_MAX + 1];
	char owner[16];          /* "bot" or "agent" ("" reads as "bot") */
	char agent[STORE_HOLDER_MAX + 1]; /* who, when owner is "agent" */
	int64_t last_inbound;    /* last customer message (24-hour window) */
	int64_t updated_at;      /* set by the store on every write */
	char *doc;               /* JSON object text owned by lib/conv; owned */
	/* Read only (store_conv_get): who holds the turn lease, until when
	 * ("" and 0 when free). Writes leave the lease as it is. */
	char lease_holder[STORE_HOLDER_MAX + 1];
	int64_t lease_until;
};

/* *found false and OV_OK when there is no record. On MongoDB a turn that
 * was written but not yet applied (see store_turn_commit) is applied
 * first, so what is read is always after every committed turn. */
int store_conv_get(struct store *st, const char *key, struct store_conv *out,
    bool *found);
/* Upsert by key (migrations, tests, the inbox). */
int store_conv_put(struct store *st, const struct store_conv *c);
void store_conv_clear(struct store_conv *c);

/*
 * One turn per customer at a time across processes and web nodes: take
 * the conversation's lease for holder (1..STORE_HOLDER_MAX printable
 * bytes) until `until`, by compare-and-set: *got is true when the lease
 * was free (none, expired: lease_until <= now) or already holder's. The
 * record is created (empty doc "{}") when missing. store_turn_commit()
 * and store_conv_release() free it.
 */
int store_conv_lease(struct store *st, const char *key, const char *holder,
    int64_t now, int64_t until, bool *got);
/* Free holder's lease; OV_OK also when holder does not hold it. */
int store_conv_release(struct store *st, const char *key, const char *holder);

/*
 * A turn's effects, all or nothing (DESIGN.md section 4): the new
 * conversation state, its replies into the outbox, its inbound messages
 * marked handled, the lease released.
 *   - id: the turn (its first message id), 1..STORE_MSGID_MAX;
 *   - conv: the new record (key, owner, agent, last_inbound, doc);
 *   - replies[0..nreplies): outbox entries (ids unique, e.g. "<id>#<i>"),
 *     at most STORE_TURN_REPLIES_MAX;
 *   - msg_ids[0..nmsgs), at most STORE_TURN_MSGS_MAX: inbound messages
 *     marked handled at now (an id the store does not know is passed
 *     over).
 * SQLite: one transaction. MongoDB (no multi-document transactions on a
 * standalone server): the whole outcome is first inserted as one
 * document keyed by id in `turnos`, then applied idempotently (upsert,
 * insert ignoring duplicates, updates) and marked applied; a crash in
 * between is completed by the next store_conv_get() of that key or
 * store_turn_recover().
 * A turn id committed before is OV_EEXIST and changes nothing: a replay of
 * a turn whose effects already stand sends nothing twice.
 */
#define STORE_TURN_REPLIES_MAX 64  /* outbox entries of one turn */
#define STORE_TURN_MSGS_MAX 64     /* inbound messages of one turn */

struct store_turn {
	const char *id;
	const struct store_conv *conv;
	const struct store_outbox *replies;
	size_t nreplies;
	const char *const *msg_ids;
	size_t nmsgs;
	int64_t now;
};

int store_turn_commit(struct store *st, const struct store_turn *t);
/* Apply every written but unapplied turn (MongoDB; SQLite: nothing to
 * do), except one written in the last seconds, which its writer is
 * still applying. *applied may be NULL. Run by the outbox drain. */
int store_turn_recover(struct store *st, size_t *applied);

/* ---- proactive messages ---------------------------------------------- */

/*
 * Messages Ovidio starts (jobs/notify: quote reminders, follow-ups, back
 * in stock...). Each is an outbox entry (lane STORE_LANE_CAMPAIGN)
 * committed together with the markers that say it was made, e.g.
 * "quote_reminder:<quote id>" and "day:<wa_id>:<YYYY-MM-DD>" (the daily
 * cap): all or nothing, and a marker that stands already refuses the
 * whole (OV_EEXIST, nothing changes). So a second run, or one killed
 * mid-way, sends nothing twice, and the cap holds across processes.
 * A marker is 1..STORE_MARKER_MAX printable bytes.
 * MongoDB (no multi-document transactions): the markers are inserted
 * first, the first one carrying the entry, then the entry; a duplicate
 * marker removes the ones this call inserted. A crash between the two is
 * completed by store_proactive_recover().
 */
#define STORE_MARKER_MAX 160
#define STORE_PROACTIVE_MARKERS_MAX 4
#define STORE_SCAN_MAX 1000

int store_proactive_commit(struct store *st, const char *const *markers,
    size_t nmarkers, const struct store_outbox *entry, int64_t now);
/* Many at once, each all or nothing on its own: v[i].rc is OV_OK,
 * OV_EEXIST (a marker stood, or one of an earlier item of the batch:
 * nothing of it stored) or the error that kept it out. On SQLite one
 * transaction (a savepoint per item), so a pass over thousands of
 * customers does not wait for a disk flush per message. Returns OV_OK
 * when every item has its rc; OV_EINVAL (nothing done) for a malformed
 * item; a store error that stopped the batch (items without a result
 * keep rc OV_ESTORE). n at most STORE_SCAN_MAX. */
struct store_proactive {
	const char *const *markers;
	size_t nmarkers;
	const struct store_outbox *entry;
	int rc;                          /* out */
};

int store_proactive_commit_batch(struct store *st, struct store_proactive *v,
    size_t n, int64_t now);
/* *found false and OV_OK when the marker does not stand. */
int store_marker_get(struct store *st, const char *marker, bool *found);
/* Remove a marker (Meta said "not today": 131049); missing is OV_OK. */
int store_marker_delete(struct store *st, const char *marker);
/* Apply markers whose entry a crash left out (MongoDB; older than a
 * minute). SQLite: nothing to do. *applied may be NULL. */
int store_proactive_recover(struct store *st, size_t *applied);

/* Conversations in key order after `after` ("" from the start), at most
 * limit (1..STORE_SCAN_MAX). *out malloc'd; free with store_convs_free(). */
int store_conv_scan(struct store *st, const char *after, int limit,
    struct store_conv **out, size_t *n);
void store_convs_free(struct store_conv *v, size_t n);

/* Quotes in `state` with from <= expires_at < to, in id order after
 * `after` ("" from the start), at most limit (1..STORE_SCAN_MAX). */
int store_quote_scan_expiring(struct store *st, const char *state,
    int64_t from, int64_t to, const char *after, int limit,
    struct store_quote **out, size_t *n);

/* Demand for a product out of stock: one record per customer and product
 * (the last time asked); the back-in-stock notice reads them. */
struct store_demand {
	char wa_id[STORE_WAID_MAX + 1];
	int64_t product_id;      /* > 0 */
	int64_t asked_at;
};

/* Upsert by (wa_id, product_id): asked_at is the latest. */
int store_demand_put(struct store *st, const char *wa_id,
    int64_t product_id, int64_t asked_at);
/* In (wa_id, product_id) order after `after` (NULL from the start), at
 * most limit (1..STORE_SCAN_MAX). *out malloc'd (free()). */
int store_demand_scan(struct store *st, const struct store_demand *after,
    int limit, struct store_demand **out, size_t *n);
/* Remove one; missing is OV_OK. */
int store_demand_delete(struct store *st, const char *wa_id,
    int64_t product_id);

/* ---- identities ------------------------------------------------------ */

/*
 * Meta identifies a WhatsApp user by phone number (wa_id) and, since
 * April 2026, by a business-scoped user id (BSUID, "AR.1502576394655843");
 * a user with a username may come with the BSUID alone. Ovidio keys a
 * customer (conversaciones, clientes, mensajes, presupuestos, outbox) by
 * the phone number when there is one, else by the BSUID: both are
 * 1..STORE_WAID_MAX bytes of [0-9A-Za-z.] (store_key_is_phone tells them
 * apart). An identity record, by key:
 *   - a BSUID's record names the phone it was seen with (phone, "" when
 *     none yet), so a later message with the BSUID alone finds the
 *     customer's phone key;
 *   - hold: the key's account data is withheld (a number change moved a
 *     customer whose new number is not the one on file in Cianbox): no
 *     identification by phone until a person clears it.
 */
struct store_identity {
	char key[STORE_WAID_MAX + 1];   /* a BSUID or a phone number */
	char phone[STORE_WAID_MAX + 1]; /* digits, or "" */
	bool hold;
	int64_t updated_at;             /* set by the store */
};

/* True for a key of digits only (a phone number). */
bool store_key_is_phone(const char *key);
/* *found false and OV_OK when there is no record. */
int store_identity_get(struct store *st, const char *key,
    struct store_identity *out, bool *found);
/* Upsert by key. */
int store_identity_put(struct store *st, const struct store_identity *id,
    int64_t now);
/* Move a customer from one key to another (a BSUID joined to its phone, a
 * number or BSUID changed): the conversation and the clientes record go
 * to `to` unless `to` has its own (then the one at `from` is dropped:
 * the newer key's record wins); the history, quotes and waiting replies
 * are re-keyed. Nothing at `from` is OV_OK. from == to is OV_EINVAL. */
int store_identity_move(struct store *st, const char *from, const char *to,
    int64_t now);

/* ---- inbox: the salesperson's web inbox and the status page --------- */

/*
 * Compare-and-set of a conversation's owner, for "Tomar", "Devolver a
 * Ovidio" and an agent's reply: write c (owner, agent, last_inbound, doc)
 * only when the record's owner and agent still are expect_owner and
 * expect_agent ("" owner reads as "bot") and holder holds its lease
 * (store_conv_lease first, so no turn commits in between); the lease is
 * released by a write. *got false, nothing written (lease kept), when the
 * record is missing, the owner changed (another salesperson took it
 * first) or the lease is not holder's.
 */
int store_conv_swap(struct store *st, const struct store_conv *c,
    const char *expect_owner, const char *expect_agent, const char *holder,
    bool *got);

#define STORE_INBOX_LIST_MAX 200   /* rows of one list */
#define STORE_INBOX_QUERY_MAX 64   /* bytes of a search */

/* One row of the inbox list; conv.doc and name malloc'd, owned. */
struct store_inbox_row {
	struct store_conv conv;
	char *name;                /* clientes.name; may be NULL */
	int64_t unanswered;        /* inbound messages after the last outbound */
	bool waiting;              /* owner agent "handoff": nobody took it */
};

/*
 * The inbox list: conversations waiting for a person (owner "agent",
 * agent "handoff") first, longest waiting (oldest last_inbound) first;
 * then the rest, most recent last_inbound first; conversations with no
 * inbound message (last_inbound 0) are left out. query NULL or "": all;
 * otherwise 1..STORE_INBOX_QUERY_MAX bytes matched case-insensitively
 * (ASCII) as a plain substring (never a pattern) of the key, the
 * customer's name (clientes) and the document's "cuit" and "razon".
 * At most limit (1..STORE_INBOX_LIST_MAX) rows; *out malloc'd (NULL when
 * none), free with store_inbox_rows_free().
 */
int store_inbox_list(struct store *st, const char *query, int limit,
    struct store_inbox_row **out, size_t *n);
void store_inbox_rows_free(struct store_inbox_row *v, size_t n);

/* Figures for the status page. Messages in and out with since <= ts;
 * reply latencies: for each inbound message since `since` that got an
 * outbound answer, seconds until the first outbound after it (p50, p99;
 * -1 when none). Outbox: entries due now (attempts 0), retrying
 * (attempts > 0); outbound messages "failed" since (given up or
 * refused). */
struct store_inbox_stats {
	int64_t msgs_in;
	int64_t msgs_out;
	int64_t msgs_failed;
	int64_t latency_p50;
	int64_t latency_p99;
	int64_t outbox_due;
	int64_t outbox_retrying;
};

int store_inbox_stats(struct store *st, int64_t since, int64_t now,
    struct store_inbox_stats *out);

/* ---- legacy and ISR ---------------------------------------------------- */

/*
 * What jobs/import-legacy needs to bring an old bot's data over in bulk
 * and to be run again without changing anything.
 */
#define STORE_IMPORT_BATCH 1000   /* messages per store_msgs_import() */

/* Insert messages whose id the store does not hold yet, each as it is
 * (dir, ts, type, status, body, raw; an inbound one is recorded handled
 * at its ts); an id already there is left alone. 0..STORE_IMPORT_BATCH
 * messages; *added (may be NULL) counts the new ones. */
int store_msgs_import(struct store *st, const struct store_msg *v, size_t n,
    size_t *added);

/* Make the counter name worth at least at_least (1..INT64_MAX / 2), so
 * the next store_counter_next() gives more than it; a counter already
 * there or past it is left alone. *raised (may be NULL): it moved. */
int store_counter_raise(struct store *st, const char *name, int64_t at_least,
    bool *raised);

/* The quote with this number (> 0). *found false and OV_OK when none. */
int store_quote_by_number(struct store *st, int64_t number,
    struct store_quote *out, bool *found);

/* The same for n numbers (0..STORE_IMPORT_BATCH, each > 0) in one go:
 * found[i] tells whether out[i] holds the quote numbered numbers[i]
 * (then to be cleared with store_quote_clear()). On an error nothing is
 * found. */
int store_quotes_by_number(struct store *st, const int64_t *numbers,
    size_t n, struct store_quote *out, bool *found);

/* Insert quotes (as store_quote_put() writes them) whose id and number
 * no quote holds yet; a quote whose id or number is taken is left out.
 * 0..STORE_IMPORT_BATCH quotes; *added (may be NULL) counts the new
 * ones. */
int store_quotes_import(struct store *st, const struct store_quote *v,
    size_t n, size_t *added);

/*
 * ISR: each quote event (new, confirmed, cancelled) waits in `isr_cola`
 * until the distributor's back end (ISR_API_URL) has it, so a back end
 * that is down loses nothing (lib/isr.h). The caller owns the policy; the
 * store keeps the entries, oldest first. The queue is kept only when
 * ISR_API_URL was set when the store was opened (store_isr_enabled);
 * otherwise store_isr_put() is OV_OK and keeps nothing.
 */
#define STORE_ISR_ID_MAX 64

struct store_isr {
	char id[STORE_ISR_ID_MAX + 1];  /* caller-made, unique: "<quote>:<event>" */
	char quote_id[40];              /* the quote's UUID */
	char *payload;          /* JSON (STORE_TEXT_MAX); owned */
	char *last_error;       /* may be NULL; owned */
	int attempts;
	int64_t created_at;
	int64_t next_attempt_at;
};

bool store_isr_enabled(const struct store *st);
/* Insert an entry. OV_EEXIST when the id is taken (queued before). */
int store_isr_put(struct store *st, const struct store_isr *e);
/* The oldest entries (created_at, then insertion), due or not, at most
 * limit (1..1000); free with store_isr_free(). */
int store_isr_list(struct store *st, int limit, struct store_isr **out,
    size_t *n);
/* Claim for posting: next_attempt_at from seen to until, only if it
 * still is seen. OV_OK for exactly one of several drains; OV_EBUSY for
 * the others, also when the entry is gone. */
int store_isr_claim(struct store *st, const char *id, int64_t seen,
    int64_t until);
/* A failed try. OV_ENOTFOUND when there is no such entry. */
int store_isr_reschedule(struct store *st, const char *id, int attempts,
    int64_t next_attempt_at, const char *error);
/* Remove (posted, or given up); a missing one is OV_OK. */
int store_isr_delete(struct store *st, const char *id);
void store_isr_free(struct store_isr *v, size_t n);

#endif
