/*
 * store_mongo.c - the MongoDB store backend (DESIGN.md section 4), through
 * mongo-c-driver 1.23. Chosen by store_open() when MONGODB_URI is set.
 *
 * Layout: every record's key is its _id (mensajes: the wamid, clientes: the
 * wa_id, contadores and tokens: the name, presupuestos: the UUID, catalogs:
 * the item key). Catalog items and JSON texts are stored as strings, so what
 * comes out is byte for byte what went in.
 *
 * Races are settled by the server, never by read-then-write:
 *   - inbound_claim: insert (unique _id) decides NEW; a re-claim is one
 *     update filtered on the expired lease, so only one caller matches;
 *   - outbound status: each record holds a numeric `rank`; an update filtered
 *     on {rank: {$lt: new}} with upsert either raises the rank, creates the
 *     record, or fails with a duplicate key (the record already ranks as
 *     high), which leaves the status alone;
 *   - counters: findAndModify $inc with upsert and return-new;
 *   - catalogs: written into a fresh collection, then renameCollection with
 *     dropTarget swaps it in one step. A writer borrows its store's client
 *     (close the writer first); a copy a crash left behind is dropped by a
 *     later sync once it is a day old. Items carry `tokens` and `lookup`
 *     arrays (multikey indexes tokens_ord and lookup_ord, built on the
 *     fresh copy before the swap) and `ord` = rank << 32 | order added.
 *     Search is {tokens: {$all: [...]}} sorted by ord; lookup is an
 *     equality on lookup: plain values, never $regex or $text.
 *   - conversation leases: one update filtered on the lease being free or
 *     the caller's; a turn is written whole into turnos, then applied
 *     by steps each safe to repeat (see "conversaciones, turnos").
 *
 * User values only ever go in as BSON values, never as keys or operators.
 * Errors are logged with the operation and the driver's message (never the
 * URI, which may hold a password).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "store_impl.h"
#include "utf8.h"

#define CATALOG_BATCH 500      /* items per bulk write while syncing */
#define CATALOG_STALE_S 86400  /* age of a temporary copy left by a crash */
/* A turn written this long ago and still not applied was left by a crash
 * (its writer applies it within milliseconds); store_turn_recover()
 * leaves younger ones to their writer. */
#define TURN_STALE_S 30
#define TURN_RECOVER_MAX 100   /* turns applied per store_turn_recover() */
#define TURN_PENDING_MAX 16    /* per store_conv_get() */

enum mongo_coll {
	COLL_MENSAJES,
	COLL_CLIENTES,
	COLL_CONTADORES,
	COLL_TOKENS,
	COLL_PRESUPUESTOS,
	COLL_PRODUCTOS,
	COLL_CLIENTES_CIANBOX,
	COLL_OUTBOX,
	COLL_CONVERSACIONES,
	COLL_TURNOS,
	COLL__MAX
};

static const char *const coll_names[COLL__MAX] = {
	"mensajes", "clientes", "contadores", "tokens", "presupuestos",
	"productos_cache", "clientes_cianbox", "outbox", "conversaciones",
	"turnos"
};

struct mongo {
	mongoc_client_t *client;
	char *db;
	mongoc_collection_t *coll[COLL__MAX];
	int64_t last_seq;
};

struct mongo_writer {
	struct mongo *m;
	mongoc_collection_t *tmp;
	mongoc_bulk_operation_t *bulk;
	size_t pending;
	uint32_t seq;            /* items added, for ord */
	char catalog[32];
	char tmp_name[96];
};

static pthread_once_t mongo_once = PTHREAD_ONCE_INIT;

/* ---- helpers -------------------------------------------------------------- */

/* mongoc's own warnings go to our log; its chatter below warning does not. */
static void
mongo_log_bridge(mongoc_log_level_t level, const char *domain,
    const char *message, void *data)
{
	(void)data;
	if (level <= MONGOC_LOG_LEVEL_CRITICAL)
		log_error("mongoc %s: %s", domain, message);
	else if (level == MONGOC_LOG_LEVEL_WARNING)
		log_warn("mongoc %s: %s", domain, message);
}

static void
mongo_global_init(void)
{
	mongoc_log_set_handler(mongo_log_bridge, NULL);
	mongoc_init();
}

static int
mongo_fail(const char *op, const bson_error_t *error)
{
	log_error("mongodb %s: %s", op, error->message);
	if (error->domain == MONGOC_ERROR_SERVER_SELECTION)
		return OV_ETIMEOUT;
	return OV_ESTORE;
}

static bool
is_duplicate(const bson_error_t *error)
{
	return error->code == MONGOC_ERROR_DUPLICATE_KEY;
}

/* BSON strings must be valid UTF-8; other bytes are refused (OV_EINVAL),
 * or for a lookup key simply cannot be there. */
static bool
utf8_ok(const char *s)
{
	size_t n = strlen(s);

	return n <= INT_MAX && utf8_valid(s, n);
}

/* Append a string value, or null for NULL; false for invalid UTF-8. */
static bool
put_str(bson_t *b, const char *key, const char *s)
{
	if (s == NULL)
		return BSON_APPEND_NULL(b, key);
	return utf8_ok(s) && BSON_APPEND_UTF8(b, key, s);
}

/* Copy a string field into a fixed buffer; "" when absent. */
static void
get_str(const bson_t *doc, const char *key, char *buf, size_t size)
{
	bson_iter_t it;

	buf[0] = '\0';
	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
		snprintf(buf, size, "%s", bson_iter_utf8(&it, NULL));
}

/* A malloc'd copy of a string field; NULL when absent or null. */
static int
get_dup(const bson_t *doc, const char *key, char **out)
{
	bson_iter_t it;
	const char *s;
	uint32_t len;

	*out = NULL;
	if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
		return OV_OK;
	s = bson_iter_utf8(&it, &len);
	*out = malloc((size_t)len + 1);
	if (*out == NULL)
		return OV_ENOMEM;
	memcpy(*out, s, len);
	(*out)[len] = '\0';
	return OV_OK;
}

static int64_t
get_i64(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) &&
	    (BSON_ITER_HOLDS_NUMBER(&it) || BSON_ITER_HOLDS_BOOL(&it)))
		return bson_iter_as_int64(&it);
	return 0;
}

static bool
get_bool(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	return bson_iter_init_find(&it, doc, key) && bson_iter_as_bool(&it);
}

/* The first document matching filter; *out is a copy (bson_destroy it) or
 * NULL when there is none. */
static int
find_one(mongoc_collection_t *c, const bson_t *filter, const char *op,
    bson_t **out)
{
	bson_t opts = BSON_INITIALIZER;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	int rc = OV_OK;

	*out = NULL;
	BSON_APPEND_INT64(&opts, "limit", 1);
	BSON_APPEND_BOOL(&opts, "singleBatch", true);
	cur = mongoc_collection_find_with_opts(c, filter, &opts, NULL);
	if (mongoc_cursor_next(cur, &doc)) {
		*out = bson_copy(doc);
		if (*out == NULL)
			rc = OV_ENOMEM;
	} else if (mongoc_cursor_error(cur, &error)) {
		rc = mongo_fail(op, &error);
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	return rc;
}

static int
find_by_id(mongoc_collection_t *c, const char *id, const char *op,
    bson_t **out)
{
	bson_t filter = BSON_INITIALIZER;
	int rc = OV_OK;

	*out = NULL;
	if (put_str(&filter, "_id", id))
		rc = find_one(c, &filter, op, out);
	bson_destroy(&filter);
	return rc;
}

/* Ordering tie-breaker for history: microseconds, strictly increasing in
 * this process; across processes the clock orders them. */
static int64_t
next_seq(struct mongo *m)
{
	struct timespec ts;
	int64_t us;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (us <= m->last_seq)
		us = m->last_seq + 1;
	m->last_seq = us;
	return us;
}

/* MongoDB database names: 1..63 bytes, none of /\. "$*<>:|? */
static bool
valid_db_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	return strcspn(s, "/\\. \"$*<>:|?") == n;
}

/* Index conflicts (an index of that name or keys made differently, e.g.
 * by hand or by the old bot) are not worth refusing service for. */
#define INDEX_OPTIONS_CONFLICT 85
#define INDEX_KEY_SPECS_CONFLICT 86

static int
create_index(struct mongo *m, enum mongo_coll which, const char *name,
    const bson_t *keys, const bson_t *unique_where)
{
	bson_t cmd = BSON_INITIALIZER, indexes, index;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&cmd, "createIndexes", coll_names[which]);
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
	BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
	BSON_APPEND_DOCUMENT(&index, "key", keys);
	BSON_APPEND_UTF8(&index, "name", name);
	if (unique_where != NULL) {
		BSON_APPEND_BOOL(&index, "unique", true);
		BSON_APPEND_DOCUMENT(&index, "partialFilterExpression",
		    unique_where);
	}
	bson_append_document_end(&indexes, &index);
	bson_append_array_end(&cmd, &indexes);
	if (mongoc_collection_write_command_with_opts(m->coll[which], &cmd,
	    NULL, NULL, &error))
		goto out;
	if (error.code == INDEX_OPTIONS_CONFLICT ||
	    error.code == INDEX_KEY_SPECS_CONFLICT)
		log_warn("mongodb create index %s.%s: %s", coll_names[which],
		    name, error.message);
	else
		rc = mongo_fail("create index", &error);
out:
	bson_destroy(&cmd);
	return rc;
}

static int
create_indexes(struct mongo *m)
{
	bson_t msgs = BSON_INITIALIZER, number = BSON_INITIALIZER;
	bson_t created = BSON_INITIALIZER, numbered = BSON_INITIALIZER, gt;
	bson_t wa_state = BSON_INITIALIZER;
	int rc;

	BSON_APPEND_INT32(&msgs, "wa_id", 1);
	BSON_APPEND_INT32(&msgs, "ts", 1);
	BSON_APPEND_INT32(&msgs, "seq", 1);
	BSON_APPEND_INT32(&number, "number", 1);
	BSON_APPEND_INT32(&created, "created_at", 1);
	BSON_APPEND_INT32(&wa_state, "wa_id", 1);
	BSON_APPEND_INT32(&wa_state, "state", 1);
	/* Unique among the quotes this code writes (numbers from 1): older
	 * documents without a number do not collide as nulls. */
	BSON_APPEND_DOCUMENT_BEGIN(&numbered, "number", &gt);
	BSON_APPEND_INT32(&gt, "$gt", 0);
	bson_append_document_end(&numbered, &gt);
	rc = create_index(m, COLL_MENSAJES, "wa_id_ts_seq", &msgs, NULL);
	if (rc == OV_OK)
		rc = create_index(m, COLL_PRESUPUESTOS, "number_unique", &number,
		    &numbered);
	if (rc == OV_OK)
		rc = create_index(m, COLL_PRESUPUESTOS, "created_at", &created,
		    NULL);
	/* store_quote_pending_for: a customer's pending quote. */
	if (rc == OV_OK)
		rc = create_index(m, COLL_PRESUPUESTOS, "wa_id_state", &wa_state,
		    NULL);
	/* store_outbox_due and store_outbox_count_for. */
	if (rc == OV_OK) {
		bson_t due = BSON_INITIALIZER, wa = BSON_INITIALIZER;

		BSON_APPEND_INT32(&due, "next_attempt_at", 1);
		BSON_APPEND_INT32(&wa, "wa_id", 1);
		rc = create_index(m, COLL_OUTBOX, "next_attempt_at", &due, NULL);
		if (rc == OV_OK)
			rc = create_index(m, COLL_OUTBOX, "wa_id", &wa, NULL);
		bson_destroy(&due);
		bson_destroy(&wa);
	}
	/* Lanes, the salesperson's inbox and the turns left to apply: none
	 * unique, so no document of anyone's can make them fail. */
	if (rc == OV_OK) {
		bson_t lane = BSON_INITIALIZER, owner = BSON_INITIALIZER;
		bson_t recent = BSON_INITIALIZER;
		bson_t updated = BSON_INITIALIZER, pending = BSON_INITIALIZER;

		BSON_APPEND_INT32(&lane, "lane", 1);
		BSON_APPEND_INT32(&lane, "created_at", 1);
		BSON_APPEND_INT32(&lane, "seq", 1);
		BSON_APPEND_INT32(&owner, "owner", 1);
		BSON_APPEND_INT32(&owner, "last_inbound", 1);
		BSON_APPEND_INT32(&recent, "last_inbound", -1);
		BSON_APPEND_INT32(&recent, "_id", 1);
		BSON_APPEND_INT32(&updated, "updated_at", 1);
		BSON_APPEND_INT32(&pending, "applied", 1);
		BSON_APPEND_INT32(&pending, "key", 1);
		BSON_APPEND_INT32(&pending, "seq", 1);
		rc = create_index(m, COLL_OUTBOX, "lane_created", &lane, NULL);
		if (rc == OV_OK)
			rc = create_index(m, COLL_CONVERSACIONES,
			    "owner_last_inbound", &owner, NULL);
		if (rc == OV_OK)
			rc = create_index(m, COLL_CONVERSACIONES,
			    "last_inbound_id", &recent, NULL);
		if (rc == OV_OK)
			rc = create_index(m, COLL_CONVERSACIONES, "updated_at",
			    &updated, NULL);
		if (rc == OV_OK)
			rc = create_index(m, COLL_TURNOS, "applied_key_seq",
			    &pending, NULL);
		/* inbox: unanswered counts and the day's figures. */
		if (rc == OV_OK) {
			bson_t wdt = BSON_INITIALIZER, dt = BSON_INITIALIZER;

			BSON_APPEND_INT32(&wdt, "wa_id", 1);
			BSON_APPEND_INT32(&wdt, "dir", 1);
			BSON_APPEND_INT32(&wdt, "ts", 1);
			BSON_APPEND_INT32(&dt, "dir", 1);
			BSON_APPEND_INT32(&dt, "ts", 1);
			rc = create_index(m, COLL_MENSAJES, "wa_id_dir_ts", &wdt,
			    NULL);
			if (rc == OV_OK)
				rc = create_index(m, COLL_MENSAJES, "dir_ts", &dt,
				    NULL);
			bson_destroy(&wdt);
			bson_destroy(&dt);
		}
		bson_destroy(&lane);
		bson_destroy(&owner);
		bson_destroy(&recent);
		bson_destroy(&updated);
		bson_destroy(&pending);
	}
	bson_destroy(&wa_state);
	bson_destroy(&numbered);
	bson_destroy(&msgs);
	bson_destroy(&number);
	bson_destroy(&created);
	return rc;
}

/* ---- open, close ------------------------------------------------------------ */

static void
mongo_free(struct mongo *m)
{
	if (m == NULL)
		return;
	for (int i = 0; i < COLL__MAX; i++)
		if (m->coll[i] != NULL)
			mongoc_collection_destroy(m->coll[i]);
	if (m->client != NULL)
		mongoc_client_destroy(m->client);
	free(m->db);
	free(m);
}

static void
mongo_close(void *impl)
{
	mongo_free(impl);
}

/* Timeouts a deployment did not choose in its URI. */
static void
default_timeout(mongoc_uri_t *uri, const char *option, int32_t ms)
{
	if (!mongoc_uri_has_option(uri, option))
		mongoc_uri_set_option_as_int32(uri, option, ms);
}

static int ensure_indexes(struct mongo *m);

static int
mongo_open(void **impl, const struct config *cfg)
{
	const char *uri_text = config_get(cfg, "MONGODB_URI");
	const char *db = config_get(cfg, "MONGODB_DB");
	mongoc_uri_t *uri = NULL;
	struct mongo *m = NULL;
	bson_error_t error;
	int rc = OV_ESTORE;

	*impl = NULL;
	if (db == NULL)
		db = "ovidio_db";
	if (uri_text == NULL) {
		rc = OV_ECONFIG;
		goto out;
	}
	if (!valid_db_name(db)) {
		log_error("MONGODB_DB is not a valid database name");
		rc = OV_ECONFIG;
		goto out;
	}
	pthread_once(&mongo_once, mongo_global_init);
	/* The parser's message may quote the URI: not logged. */
	uri = mongoc_uri_new_with_error(uri_text, &error);
	if (uri == NULL) {
		log_error("MONGODB_URI is not a valid MongoDB URI");
		rc = OV_ECONFIG;
		goto out;
	}
	default_timeout(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
	default_timeout(uri, MONGOC_URI_CONNECTTIMEOUTMS, 5000);
	default_timeout(uri, MONGOC_URI_SOCKETTIMEOUTMS, 10000);
	if (mongoc_uri_get_appname(uri) == NULL)
		mongoc_uri_set_appname(uri, "ovidio");

	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->db = strdup(db)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	m->client = mongoc_client_new_from_uri_with_error(uri, &error);
	if (m->client == NULL) {
		rc = mongo_fail("connect", &error);
		goto out;
	}
	mongoc_client_set_error_api(m->client, MONGOC_ERROR_API_VERSION_2);
	for (int i = 0; i < COLL__MAX; i++) {
		m->coll[i] = mongoc_client_get_collection(m->client, m->db,
		    coll_names[i]);
		if (m->coll[i] == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
	}
	rc = ensure_indexes(m);
	if (rc != OV_OK)
		goto out;
	*impl = m;
	m = NULL;
out:
	mongo_free(m);
	if (uri != NULL)
		mongoc_uri_destroy(uri);
	return rc;
}

/* ---- mensajes ------------------------------------------------------------- */

static int
mongo_inbound_claim(void *impl, const struct store_msg *msg, int64_t now,
    int64_t lease_s, enum store_claim *out)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = m->coll[COLL_MENSAJES];
	bson_t doc = BSON_INITIALIZER, filter = BSON_INITIALIZER;
	bson_t update = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	bson_t lt, set;
	bson_error_t error;
	int64_t cutoff;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&doc, "wa_id", msg->wa_id);
	BSON_APPEND_INT32(&doc, "dir", STORE_IN);
	BSON_APPEND_INT64(&doc, "ts", msg->ts);
	BSON_APPEND_INT64(&doc, "seq", next_seq(m));
	BSON_APPEND_UTF8(&doc, "status", "received");
	BSON_APPEND_INT64(&doc, "claimed_at", now);
	if (!put_str(&doc, "_id", msg->id) ||
	    !put_str(&doc, "type", msg->type) ||
	    !put_str(&doc, "body", msg->body) ||
	    !put_str(&doc, "raw", msg->raw)) {
		rc = OV_EINVAL;
		goto out;
	}
	if (mongoc_collection_insert_one(c, &doc, NULL, NULL, &error)) {
		*out = STORE_CLAIM_NEW;
		goto out;
	}
	if (!is_duplicate(&error)) {
		rc = mongo_fail("inbound claim", &error);
		goto out;
	}

	/* Seen before: re-claim only a lease that ran out, in one update. */
	cutoff = now < INT64_MIN + lease_s ? INT64_MIN : now - lease_s;
	BSON_APPEND_UTF8(&filter, "_id", msg->id);
	BSON_APPEND_UTF8(&filter, "status", "received");
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "claimed_at", &lt);
	BSON_APPEND_INT64(&lt, "$lt", cutoff);
	bson_append_document_end(&filter, &lt);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "claimed_at", now);
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_one(c, &filter, &update, NULL, &reply,
	    &error)) {
		rc = mongo_fail("inbound re-claim", &error);
		goto out;
	}
	*out = get_i64(&reply, "matchedCount") == 1 ? STORE_CLAIM_RETRY :
	    STORE_CLAIM_DUPLICATE;
out:
	bson_destroy(&doc);
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&reply);
	return rc;
}

static int
mongo_inbound_done(void *impl, const char *id, int64_t now)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER, set;
	bson_error_t error;
	int rc = OV_OK;

	if (!utf8_ok(id))
		return OV_ENOTFOUND;
	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_INT32(&filter, "dir", STORE_IN);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "status", "handled");
	BSON_APPEND_INT64(&set, "handled_at", now);
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_one(m->coll[COLL_MENSAJES], &filter,
	    &update, NULL, &reply, &error))
		rc = mongo_fail("inbound done", &error);
	else if (get_i64(&reply, "matchedCount") == 0)
		rc = OV_ENOTFOUND;
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&reply);
	return rc;
}

static int
mongo_inbound_note(void *impl, const char *id, const char *body,
    const char *media)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER, set;
	bson_error_t error;
	bool ok;
	int rc = OV_OK;

	if (!utf8_ok(id))
		return OV_ENOTFOUND;
	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_INT32(&filter, "dir", STORE_IN);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	ok = (body == NULL || put_str(&set, "body", body)) &&
	    (media == NULL || put_str(&set, "media", media));
	bson_append_document_end(&update, &set);
	if (!ok)
		rc = OV_EINVAL;
	else if (!mongoc_collection_update_one(m->coll[COLL_MENSAJES], &filter,
	    &update, NULL, &reply, &error))
		rc = mongo_fail("inbound note", &error);
	else if (get_i64(&reply, "matchedCount") == 0)
		rc = OV_ENOTFOUND;
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&reply);
	return rc;
}

/* {_id: id, rank: {$lt: rank}}: matches only a record ranked lower. */
static void
lower_rank_filter(bson_t *filter, const char *id, int rank)
{
	bson_t lt;

	BSON_APPEND_UTF8(filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(filter, "rank", &lt);
	BSON_APPEND_INT32(&lt, "$lt", rank);
	bson_append_document_end(filter, &lt);
}

/* The fields of an outbound message other than its status. */
static bool
put_outbound_fields(bson_t *set, const struct store_msg *msg)
{
	BSON_APPEND_UTF8(set, "wa_id", msg->wa_id);
	BSON_APPEND_INT32(set, "dir", STORE_OUT);
	BSON_APPEND_INT64(set, "ts", msg->ts);
	return put_str(set, "type", msg->type) &&
	    put_str(set, "body", msg->body) && put_str(set, "raw", msg->raw);
}

static int
mongo_outbound_put(void *impl, const struct store_msg *msg)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = m->coll[COLL_MENSAJES];
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t filter2 = BSON_INITIALIZER, update2 = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER, reply2 = BSON_INITIALIZER;
	bson_t set, set2, ins;
	bson_error_t error;
	int rank = store_status_rank(msg->status);
	int rc = OV_OK;

	if (!utf8_ok(msg->id)) {
		rc = OV_EINVAL;
		goto out;
	}
	/* Step 1: create the record, or raise a lower-ranked one (a stub or
	 * an earlier put) to this status, with all fields. */
	lower_rank_filter(&filter, msg->id, rank);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	if (!put_outbound_fields(&set, msg)) {
		rc = OV_EINVAL;
		goto out;
	}
	BSON_APPEND_UTF8(&set, "status", msg->status);
	BSON_APPEND_INT32(&set, "rank", rank);
	bson_append_document_end(&update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &ins);
	BSON_APPEND_INT64(&ins, "seq", next_seq(m));
	bson_append_document_end(&update, &ins);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	if (mongoc_collection_update_one(c, &filter, &update, &opts, &reply,
	    &error))
		goto out;
	if (!is_duplicate(&error)) {
		rc = mongo_fail("outbound put", &error);
		goto out;
	}

	/* Step 2: the record ranks as high already: keep its status, fill
	 * in the rest. */
	BSON_APPEND_UTF8(&filter2, "_id", msg->id);
	BSON_APPEND_DOCUMENT_BEGIN(&update2, "$set", &set2);
	put_outbound_fields(&set2, msg);
	bson_append_document_end(&update2, &set2);
	if (!mongoc_collection_update_one(c, &filter2, &update2, NULL, &reply2,
	    &error))
		rc = mongo_fail("outbound put", &error);
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&filter2);
	bson_destroy(&update2);
	bson_destroy(&opts);
	bson_destroy(&reply);
	bson_destroy(&reply2);
	return rc;
}

static int
mongo_status_update(void *impl, const char *id, const char *wa_id,
    const char *status, int64_t ts, const char *error_text, bool *found)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	bson_t set, ins;
	bson_error_t error;
	int rank = store_status_rank(status);
	int rc = OV_OK;

	if (!utf8_ok(id)) {
		rc = OV_EINVAL;
		goto out;
	}
	lower_rank_filter(&filter, id, rank);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "status", status);
	BSON_APPEND_INT32(&set, "rank", rank);
	BSON_APPEND_INT64(&set, "status_ts", ts);
	if (error_text != NULL && !put_str(&set, "error", error_text)) {
		rc = OV_EINVAL;
		goto out;
	}
	bson_append_document_end(&update, &set);
	/* A stub: no type, so history skips it until outbound_put. */
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &ins);
	BSON_APPEND_UTF8(&ins, "wa_id", wa_id);
	BSON_APPEND_INT32(&ins, "dir", STORE_OUT);
	BSON_APPEND_INT64(&ins, "ts", ts);
	BSON_APPEND_INT64(&ins, "seq", next_seq(m));
	bson_append_document_end(&update, &ins);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	if (mongoc_collection_update_one(m->coll[COLL_MENSAJES], &filter,
	    &update, &opts, &reply, &error)) {
		*found = get_i64(&reply, "upsertedCount") == 0;
	} else if (is_duplicate(&error)) {
		*found = true;  /* there, and ranked as high already */
	} else {
		rc = mongo_fail("status update", &error);
	}
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	bson_destroy(&reply);
	return rc;
}

static int
msg_from_doc(const bson_t *doc, struct store_msg *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	get_str(doc, "_id", out->id, sizeof(out->id));
	get_str(doc, "wa_id", out->wa_id, sizeof(out->wa_id));
	out->dir = get_i64(doc, "dir") == STORE_OUT ? STORE_OUT : STORE_IN;
	out->ts = get_i64(doc, "ts");
	get_str(doc, "type", out->type, sizeof(out->type));
	get_str(doc, "status", out->status, sizeof(out->status));
	get_str(doc, "media", out->media, sizeof(out->media));
	rc = get_dup(doc, "body", &out->body);
	if (rc == OV_OK)
		rc = get_dup(doc, "raw", &out->raw);
	if (rc != OV_OK)
		store_msg_clear(out);
	return rc;
}

static int
mongo_msg_get(void *impl, const char *id, struct store_msg *out, bool *found)
{
	struct mongo *m = impl;
	bson_t *doc = NULL;
	int rc;

	*found = false;
	rc = find_by_id(m->coll[COLL_MENSAJES], id, "message get", &doc);
	if (rc != OV_OK || doc == NULL)
		goto out;
	rc = msg_from_doc(doc, out);
	*found = rc == OV_OK;
out:
	bson_destroy(doc);
	return rc;
}

static int
mongo_history(void *impl, const char *wa_id, int limit,
    struct store_msg **out, size_t *n)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_t exists, sort;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t error;
	struct store_msg *v = NULL;
	size_t count = 0;
	int rc = OV_OK;

	v = calloc((size_t)limit, sizeof(*v));
	if (v == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	/* Newest first from the server, reversed below; stubs (no type yet)
	 * are not messages. */
	BSON_APPEND_UTF8(&filter, "wa_id", wa_id);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "type", &exists);
	BSON_APPEND_BOOL(&exists, "$exists", true);
	bson_append_document_end(&filter, &exists);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "ts", -1);
	BSON_APPEND_INT32(&sort, "seq", -1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	cur = mongoc_collection_find_with_opts(m->coll[COLL_MENSAJES], &filter,
	    &opts, NULL);
	while (count < (size_t)limit && mongoc_cursor_next(cur, &doc)) {
		rc = msg_from_doc(doc, &v[count]);
		if (rc != OV_OK)
			goto out;
		count++;
	}
	if (mongoc_cursor_error(cur, &error)) {
		rc = mongo_fail("history", &error);
		goto out;
	}
	for (size_t i = 0; i < count / 2; i++) {
		struct store_msg t = v[i];

		v[i] = v[count - 1 - i];
		v[count - 1 - i] = t;
	}
	*out = v;
	*n = count;
	v = NULL;
out:
	store_msgs_free(v, count);
	if (cur != NULL)
		mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

/* ---- clientes ------------------------------------------------------------- */

static int
mongo_customer_get(void *impl, const char *wa_id, struct store_customer *out,
    bool *found)
{
	struct mongo *m = impl;
	bson_t *doc = NULL;
	int rc;

	*found = false;
	rc = find_by_id(m->coll[COLL_CLIENTES], wa_id, "customer get", &doc);
	if (rc != OV_OK || doc == NULL)
		goto out;
	memset(out, 0, sizeof(*out));
	get_str(doc, "_id", out->wa_id, sizeof(out->wa_id));
	out->cianbox_id = get_i64(doc, "cianbox_id");
	out->verified = get_bool(doc, "verified");
	out->created_at = get_i64(doc, "created_at");
	out->updated_at = get_i64(doc, "updated_at");
	rc = get_dup(doc, "name", &out->name);
	if (rc == OV_OK)
		rc = get_dup(doc, "profile", &out->profile);
	if (rc != OV_OK) {
		store_customer_clear(out);
		goto out;
	}
	*found = true;
out:
	bson_destroy(doc);
	return rc;
}

static int
mongo_customer_put(void *impl, const struct store_customer *cust, int64_t now)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	bson_t set, ins;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "_id", cust->wa_id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "cianbox_id", cust->cianbox_id);
	BSON_APPEND_BOOL(&set, "verified", cust->verified);
	BSON_APPEND_INT64(&set, "updated_at", now);
	if (!put_str(&set, "name", cust->name) ||
	    !put_str(&set, "profile", cust->profile)) {
		rc = OV_EINVAL;
		goto out;
	}
	bson_append_document_end(&update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &ins);
	BSON_APPEND_INT64(&ins, "created_at", now);
	bson_append_document_end(&update, &ins);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	if (!mongoc_collection_update_one(m->coll[COLL_CLIENTES], &filter,
	    &update, &opts, &reply, &error))
		rc = mongo_fail("customer put", &error);
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	bson_destroy(&reply);
	return rc;
}

/* ---- contadores ----------------------------------------------------------- */

static int
mongo_counter_next(void *impl, const char *name, int64_t *value)
{
	struct mongo *m = impl;
	bson_t query = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER, inc;
	mongoc_find_and_modify_opts_t *fam = NULL;
	bson_error_t error;
	bson_iter_t it, value_it;
	int rc = OV_OK;

	if (!put_str(&query, "_id", name)) {
		rc = OV_EINVAL;
		goto out;
	}
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &inc);
	BSON_APPEND_INT64(&inc, "value", 1);
	bson_append_document_end(&update, &inc);
	fam = mongoc_find_and_modify_opts_new();
	if (fam == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	mongoc_find_and_modify_opts_set_update(fam, &update);
	mongoc_find_and_modify_opts_set_flags(fam,
	    MONGOC_FIND_AND_MODIFY_UPSERT | MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	/* Two first calls racing may both try to insert; the loser gets a
	 * duplicate key and its retry finds the record. */
	for (int attempt = 0;; attempt++) {
		bson_destroy(&reply);
		if (mongoc_collection_find_and_modify_with_opts(
		    m->coll[COLL_CONTADORES], &query, fam, &reply, &error))
			break;
		if (attempt > 0 || !is_duplicate(&error)) {
			rc = mongo_fail("counter next", &error);
			goto out;
		}
	}
	if (!bson_iter_init(&it, &reply) ||
	    !bson_iter_find_descendant(&it, "value.value", &value_it) ||
	    !BSON_ITER_HOLDS_NUMBER(&value_it)) {
		log_error("mongodb counter next: no value in the reply");
		rc = OV_ESTORE;
		goto out;
	}
	*value = bson_iter_as_int64(&value_it);
out:
	if (fam != NULL)
		mongoc_find_and_modify_opts_destroy(fam);
	bson_destroy(&query);
	bson_destroy(&update);
	bson_destroy(&reply);
	return rc;
}

/* ---- tokens --------------------------------------------------------------- */

static int
mongo_token_get(void *impl, const char *name, char **value,
    int64_t *expires_at, bool *found)
{
	struct mongo *m = impl;
	bson_t *doc = NULL;
	int rc;

	*found = false;
	rc = find_by_id(m->coll[COLL_TOKENS], name, "token get", &doc);
	if (rc != OV_OK || doc == NULL)
		goto out;
	rc = get_dup(doc, "value", value);
	if (rc != OV_OK)
		goto out;
	if (*value == NULL) {
		log_error("mongodb token get: record without a value");
		rc = OV_ESTORE;
		goto out;
	}
	*expires_at = get_i64(doc, "expires_at");
	*found = true;
out:
	bson_destroy(doc);
	return rc;
}

/* Replace the whole document with _id id, creating it if missing. */
static int
replace_by_id(mongoc_collection_t *c, const char *id, const bson_t *doc,
    const char *op)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	if (!mongoc_collection_replace_one(c, &filter, doc, &opts, &reply,
	    &error))
		rc = is_duplicate(&error) ? OV_EEXIST : mongo_fail(op, &error);
	bson_destroy(&filter);
	bson_destroy(&opts);
	bson_destroy(&reply);
	return rc;
}

static int
mongo_token_put(void *impl, const char *name, const char *value,
    int64_t expires_at)
{
	struct mongo *m = impl;
	bson_t doc = BSON_INITIALIZER;
	int rc = OV_EINVAL;

	BSON_APPEND_INT64(&doc, "expires_at", expires_at);
	if (put_str(&doc, "_id", name) && put_str(&doc, "value", value))
		rc = replace_by_id(m->coll[COLL_TOKENS], name, &doc,
		    "token put");
	bson_destroy(&doc);
	return rc;
}

/* ---- indexes, once ----------------------------------------------------- */

/*
 * create_indexes() sends thirteen commands: once per database, not on
 * every open (a web request paid them all). A marker in tokens says which
 * set stands; bump INDEXES_VERSION with every change to create_indexes().
 * An index dropped by hand comes back with the next version.
 */
#define INDEXES_MARKER "store_mongo_indexes"
#define INDEXES_VERSION "2"

static int
ensure_indexes(struct mongo *m)
{
	char *have = NULL;
	int64_t expires = 0;
	bool found = false;
	int rc;

	rc = mongo_token_get(m, INDEXES_MARKER, &have, &expires, &found);
	if (rc == OV_OK && found && strcmp(have, INDEXES_VERSION) == 0) {
		free(have);
		return OV_OK;
	}
	free(have);
	if ((rc = create_indexes(m)) != OV_OK)
		return rc;
	return mongo_token_put(m, INDEXES_MARKER, INDEXES_VERSION, 0);
}

/* ---- catalogs ------------------------------------------------------------- */

static mongoc_collection_t *
catalog_coll(struct mongo *m, const char *catalog)
{
	return strcmp(catalog, "productos_cache") == 0 ?
	    m->coll[COLL_PRODUCTOS] : m->coll[COLL_CLIENTES_CIANBOX];
}

static void
writer_free(struct mongo_writer *w)
{
	if (w == NULL)
		return;
	if (w->bulk != NULL)
		mongoc_bulk_operation_destroy(w->bulk);
	if (w->tmp != NULL)
		mongoc_collection_destroy(w->tmp);
	free(w);
}

/* Drop the temporary collection; the catalog itself is untouched. */
static void
writer_discard(struct mongo_writer *w)
{
	bson_error_t error;

	if (w->tmp != NULL &&
	    !mongoc_collection_drop_with_opts(w->tmp, NULL, &error))
		mongo_fail("catalog abort", &error);
	writer_free(w);
}

/* Temporary copies are named <catalog>__new_<unix time>_<pid>_<seq>. Those
 * a crashed sync left behind are dropped once a day old; a live sync is
 * long done by then. Failures here are only logged. */
static void
drop_stale_copies(mongoc_database_t *db, const char *catalog, int64_t now)
{
	bson_t opts = BSON_INITIALIZER;
	mongoc_collection_t *c;
	bson_error_t error;
	char prefix[64], **names, *end;
	size_t len;
	long long t;

	snprintf(prefix, sizeof(prefix), "%s__new_", catalog);
	len = strlen(prefix);
	BSON_APPEND_BOOL(&opts, "nameOnly", true);
	names = mongoc_database_get_collection_names_with_opts(db, &opts,
	    &error);
	if (names == NULL) {
		log_warn("mongodb catalog cleanup: %s", error.message);
		goto out;
	}
	for (char **p = names; *p != NULL; p++) {
		if (strncmp(*p, prefix, len) != 0)
			continue;
		errno = 0;
		t = strtoll(*p + len, &end, 10);
		if (errno != 0 || end == *p + len || *end != '_' ||
		    t >= now - CATALOG_STALE_S)
			continue;
		c = mongoc_database_get_collection(db, *p);
		if (c == NULL)
			continue;
		if (mongoc_collection_drop_with_opts(c, NULL, &error))
			log_info("dropped %s, left by an interrupted sync", *p);
		else
			log_warn("mongodb catalog cleanup: %s", error.message);
		mongoc_collection_destroy(c);
	}
	bson_strfreev(names);
out:
	bson_destroy(&opts);
}

static int
mongo_catalog_begin(void *impl, const char *catalog, void **writer)
{
	struct mongo *m = impl;
	struct mongo_writer *w;
	mongoc_database_t *db = NULL;
	bson_error_t error;
	int64_t now = (int64_t)time(NULL);
	int rc = OV_OK;

	*writer = NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return OV_ENOMEM;
	w->m = m;
	snprintf(w->catalog, sizeof(w->catalog), "%s", catalog);
	/* Unique per writer (pid, then microseconds strictly increasing in
	 * this process): several syncs at once never share a copy. */
	snprintf(w->tmp_name, sizeof(w->tmp_name), "%s__new_%lld_%ld_%llx",
	    catalog, (long long)now, (long)getpid(),
	    (unsigned long long)next_seq(m));
	db = mongoc_client_get_database(m->client, m->db);
	if (db == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	drop_stale_copies(db, catalog, now);
	/* Created up front so an empty sync still has something to rename. */
	w->tmp = mongoc_database_create_collection(db, w->tmp_name, NULL,
	    &error);
	if (w->tmp == NULL) {
		rc = mongo_fail("catalog begin", &error);
		goto out;
	}
	*writer = w;
	w = NULL;
out:
	if (db != NULL)
		mongoc_database_destroy(db);
	writer_free(w);
	return rc;
}

static int
writer_flush(struct mongo_writer *w)
{
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_OK;

	if (w->bulk == NULL)
		return OV_OK;
	if (mongoc_bulk_operation_execute(w->bulk, &reply, &error) == 0)
		rc = mongo_fail("catalog write", &error);
	mongoc_bulk_operation_destroy(w->bulk);
	w->bulk = NULL;
	w->pending = 0;
	bson_destroy(&reply);
	return rc;
}

/* An array of strings under key. */
static bool
put_str_array(bson_t *b, const char *key, const char *const *v, size_t n)
{
	bson_t arr;
	char idx[16];
	const char *k;
	bool ok = true;

	if (!BSON_APPEND_ARRAY_BEGIN(b, key, &arr))
		return false;
	for (size_t i = 0; i < n && ok; i++) {
		bson_uint32_to_string((uint32_t)i, &k, idx, sizeof(idx));
		ok = put_str(&arr, k, v[i]);
	}
	return bson_append_array_end(b, &arr) && ok;
}

static int
mongo_catalog_put(void *writer, const struct store_catalog_item *it)
{
	struct mongo_writer *w = writer;
	bson_t sel = BSON_INITIALIZER, doc = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER, bulk_opts = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_OK;

	if (w->seq == UINT32_MAX) {
		rc = OV_ETOOBIG;
		goto out;
	}
	if (!put_str(&sel, "_id", it->key) || !put_str(&doc, "_id", it->key) ||
	    !put_str(&doc, "json", it->json) ||
	    !BSON_APPEND_INT64(&doc, "ord",
	    (int64_t)it->rank << 32 | (int64_t)(w->seq + 1)) ||
	    !put_str_array(&doc, "tokens", it->tokens, it->ntokens) ||
	    !put_str_array(&doc, "lookup", it->lookups, it->nlookups)) {
		rc = OV_EINVAL;
		goto out;
	}
	w->seq++;
	if (w->bulk == NULL) {
		/* Ordered: a later add of the same key replaces the earlier. */
		BSON_APPEND_BOOL(&bulk_opts, "ordered", true);
		w->bulk = mongoc_collection_create_bulk_operation_with_opts(
		    w->tmp, &bulk_opts);
		if (w->bulk == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
	}
	BSON_APPEND_BOOL(&opts, "upsert", true);
	if (!mongoc_bulk_operation_replace_one_with_opts(w->bulk, &sel, &doc,
	    &opts, &error)) {
		rc = mongo_fail("catalog add", &error);
		goto out;
	}
	if (++w->pending >= CATALOG_BATCH)
		rc = writer_flush(w);
out:
	bson_destroy(&sel);
	bson_destroy(&doc);
	bson_destroy(&opts);
	bson_destroy(&bulk_opts);
	return rc;
}

/* The search and lookup indexes of a fresh copy, built before the swap so
 * the copy arrives with them (renameCollection keeps indexes). */
static int
catalog_indexes(struct mongo_writer *w)
{
	static const char *const fields[] = { "tokens", "lookup" };
	static const char *const names[] = { "tokens_ord", "lookup_ord" };
	bson_error_t error;
	int rc = OV_OK;

	for (size_t i = 0; i < 2 && rc == OV_OK; i++) {
		bson_t cmd = BSON_INITIALIZER, indexes, index, keys;

		BSON_APPEND_UTF8(&cmd, "createIndexes", w->tmp_name);
		BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
		BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
		BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &keys);
		BSON_APPEND_INT32(&keys, fields[i], 1);
		BSON_APPEND_INT32(&keys, "ord", 1);
		bson_append_document_end(&index, &keys);
		BSON_APPEND_UTF8(&index, "name", names[i]);
		bson_append_document_end(&indexes, &index);
		bson_append_array_end(&cmd, &indexes);
		if (!mongoc_collection_write_command_with_opts(w->tmp, &cmd,
		    NULL, NULL, &error))
			rc = mongo_fail("catalog index", &error);
		bson_destroy(&cmd);
	}
	return rc;
}

static int
mongo_catalog_commit(void *writer)
{
	struct mongo_writer *w = writer;
	bson_error_t error;
	int rc;

	rc = writer_flush(w);
	if (rc != OV_OK)
		goto out;
	if ((rc = catalog_indexes(w)) != OV_OK)
		goto out;
	/* One step on the server: readers see the old copy or the new. */
	if (!mongoc_collection_rename_with_opts(w->tmp, w->m->db, w->catalog,
	    true, NULL, &error)) {
		rc = mongo_fail("catalog commit", &error);
		goto out;
	}
	writer_free(w);
	return OV_OK;
out:
	writer_discard(w);
	return rc;
}

static void
mongo_catalog_abort(void *writer)
{
	writer_discard(writer);
}

static int
mongo_catalog_get(void *impl, const char *catalog, const char *key,
    char **json, bool *found)
{
	struct mongo *m = impl;
	bson_t *doc = NULL;
	int rc;

	*found = false;
	rc = find_by_id(catalog_coll(m, catalog), key, "catalog get", &doc);
	if (rc != OV_OK || doc == NULL)
		goto out;
	rc = get_dup(doc, "json", json);
	if (rc == OV_OK && *json == NULL) {
		log_error("mongodb catalog get: item without json");
		rc = OV_ESTORE;
	}
	*found = rc == OV_OK;
out:
	bson_destroy(doc);
	return rc;
}

static int
mongo_catalog_count(void *impl, const char *catalog, int64_t *n)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER;
	bson_error_t error;
	int64_t count;
	int rc = OV_OK;

	count = mongoc_collection_count_documents(catalog_coll(m, catalog),
	    &filter, NULL, NULL, NULL, &error);
	if (count < 0)
		rc = mongo_fail("catalog count", &error);
	else
		*n = count;
	bson_destroy(&filter);
	return rc;
}

/* Documents matching filter, sorted by ord, into a hits array. */
static int
catalog_find(mongoc_collection_t *c, const bson_t *filter, int limit,
    const char *op, struct store_catalog_hit **out, size_t *nout)
{
	bson_t opts = BSON_INITIALIZER, sort, proj;
	struct store_catalog_hit *v = NULL;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t error;
	size_t n = 0;
	int rc = OV_OK;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "ord", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "json", 1);
	bson_append_document_end(&opts, &proj);
	BSON_APPEND_INT64(&opts, "limit", limit);
	v = calloc((size_t)limit, sizeof(*v));
	if (v == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	cur = mongoc_collection_find_with_opts(c, filter, &opts, NULL);
	while (n < (size_t)limit && mongoc_cursor_next(cur, &doc)) {
		n++;
		if ((rc = get_dup(doc, "_id", &v[n - 1].key)) != OV_OK ||
		    (rc = get_dup(doc, "json", &v[n - 1].json)) != OV_OK)
			goto out;
		if (v[n - 1].key == NULL || v[n - 1].json == NULL) {
			log_error("mongodb %s: item without key or json", op);
			rc = OV_ESTORE;
			goto out;
		}
	}
	if (mongoc_cursor_error(cur, &error)) {
		rc = mongo_fail(op, &error);
		goto out;
	}
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*nout = n;
	v = NULL;
out:
	store_catalog_hits_free(v, n);   /* only on error: v is NULL otherwise */
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	return rc;
}

static int
token_len_desc(const void *a, const void *b)
{
	size_t la = strlen(*(const char *const *)a);
	size_t lb = strlen(*(const char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

static int
mongo_catalog_search(void *impl, const char *catalog,
    const char *const *tokens, size_t n, int limit,
    struct store_catalog_hit **out, size_t *nout)
{
	struct mongo *m = impl;
	const char *sorted[STORE_SEARCH_TOKENS_MAX];
	bson_t filter = BSON_INITIALIZER, cond;
	int rc = OV_EINVAL;

	if (n > STORE_SEARCH_TOKENS_MAX)
		goto out;
	/* The server bounds its index scan by the first $all value: put the
	 * longest (most specific, so rarest) token first. */
	memcpy(sorted, tokens, n * sizeof(*tokens));
	qsort(sorted, n, sizeof(sorted[0]), token_len_desc);
	if (!BSON_APPEND_DOCUMENT_BEGIN(&filter, "tokens", &cond) ||
	    !put_str_array(&cond, "$all", sorted, n) ||
	    !bson_append_document_end(&filter, &cond))
		goto out;
	rc = catalog_find(catalog_coll(m, catalog), &filter, limit,
	    "catalog search", out, nout);
out:
	bson_destroy(&filter);
	return rc;
}

static int
mongo_catalog_lookup(void *impl, const char *catalog, const char *lookup,
    int limit, struct store_catalog_hit **out, size_t *nout)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER;
	int rc = OV_EINVAL;

	/* An equality on a plain string value: no operator can ride in. */
	if (put_str(&filter, "lookup", lookup))
		rc = catalog_find(catalog_coll(m, catalog), &filter, limit,
		    "catalog lookup", out, nout);
	bson_destroy(&filter);
	return rc;
}

/* ---- presupuestos --------------------------------------------------------- */

static int
quote_from_doc(const bson_t *doc, struct store_quote *out)
{
	memset(out, 0, sizeof(*out));
	get_str(doc, "_id", out->id, sizeof(out->id));
	out->number = get_i64(doc, "number");
	get_str(doc, "wa_id", out->wa_id, sizeof(out->wa_id));
	get_str(doc, "state", out->state, sizeof(out->state));
	out->created_at = get_i64(doc, "created_at");
	out->expires_at = get_i64(doc, "expires_at");
	return get_dup(doc, "doc", &out->doc);
}

/* A quote as stored; false when a text does not fit BSON. */
static bool
quote_to_doc(const struct store_quote *q, bson_t *doc)
{
	BSON_APPEND_UTF8(doc, "_id", q->id);
	BSON_APPEND_INT64(doc, "number", q->number);
	BSON_APPEND_UTF8(doc, "wa_id", q->wa_id);
	BSON_APPEND_INT64(doc, "created_at", q->created_at);
	BSON_APPEND_INT64(doc, "expires_at", q->expires_at);
	return put_str(doc, "state", q->state) && put_str(doc, "doc", q->doc);
}

static int
mongo_quote_put(void *impl, const struct store_quote *q)
{
	struct mongo *m = impl;
	bson_t doc = BSON_INITIALIZER;
	int rc = OV_EINVAL;

	if (quote_to_doc(q, &doc))
		rc = replace_by_id(m->coll[COLL_PRESUPUESTOS], q->id, &doc,
		    "quote put");
	bson_destroy(&doc);
	return rc;
}

static int
mongo_quote_get(void *impl, const char *id, struct store_quote *out,
    bool *found)
{
	struct mongo *m = impl;
	bson_t *doc = NULL;
	int rc;

	*found = false;
	rc = find_by_id(m->coll[COLL_PRESUPUESTOS], id, "quote get", &doc);
	if (rc != OV_OK || doc == NULL)
		goto out;
	rc = quote_from_doc(doc, out);
	*found = rc == OV_OK;
out:
	bson_destroy(doc);
	return rc;
}

/* Run a quote query into a malloc'd array of at most limit quotes. */
static int
quote_find(struct mongo *m, const bson_t *filter, const bson_t *opts,
    int limit, struct store_quote **out, size_t *n)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	struct store_quote *v = NULL, *grown;
	size_t count = 0, cap = 0;
	int rc = OV_OK;

	cur = mongoc_collection_find_with_opts(m->coll[COLL_PRESUPUESTOS],
	    filter, opts, NULL);
	while (count < (size_t)limit && mongoc_cursor_next(cur, &doc)) {
		if (count == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			grown = realloc(v, cap * sizeof(*v));
			if (grown == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = grown;
		}
		rc = quote_from_doc(doc, &v[count]);
		count++;   /* cleared below even when half filled */
		if (rc != OV_OK)
			goto out;
	}
	if (mongoc_cursor_error(cur, &error)) {
		rc = mongo_fail("quote list", &error);
		goto out;
	}
	*out = v;
	*n = count;
	v = NULL;
out:
	store_quotes_free(v, count);
	mongoc_cursor_destroy(cur);
	return rc;
}

/* created_at < before, oldest first; state != except_state when given. */
static int
quote_list_older(struct mongo *m, int64_t before, const char *except_state,
    int limit, struct store_quote **out, size_t *n)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_t lt, ne, sort;
	int rc = OV_EINVAL;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, "created_at", &lt);
	BSON_APPEND_INT64(&lt, "$lt", before);
	bson_append_document_end(&filter, &lt);
	if (except_state != NULL) {
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "state", &ne);
		if (!put_str(&ne, "$ne", except_state)) {
			bson_append_document_end(&filter, &ne);
			goto out;
		}
		bson_append_document_end(&filter, &ne);
	}
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "created_at", 1);
	BSON_APPEND_INT32(&sort, "number", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	rc = quote_find(m, &filter, &opts, limit, out, n);
out:
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

static int
mongo_quote_list_older(void *impl, int64_t before, int limit,
    struct store_quote **out, size_t *n)
{
	return quote_list_older(impl, before, NULL, limit, out, n);
}

static int
mongo_quote_list_older_except(void *impl, int64_t before,
    const char *except_state, int limit, struct store_quote **out, size_t *n)
{
	return quote_list_older(impl, before, except_state, limit, out, n);
}

static int
mongo_quote_pending_for(void *impl, const char *wa_id,
    struct store_quote *out, bool *found)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	struct store_quote *v = NULL;
	size_t n = 0;
	int rc;

	*found = false;
	BSON_APPEND_UTF8(&filter, "wa_id", wa_id);
	BSON_APPEND_UTF8(&filter, "state", "pendiente_confirmacion");
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "created_at", -1);
	BSON_APPEND_INT32(&sort, "number", -1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", 1);
	rc = quote_find(m, &filter, &opts, 1, &v, &n);
	if (rc == OV_OK && n == 1) {
		*out = v[0];   /* takes over v[0].doc */
		v[0].doc = NULL;
		*found = true;
	}
	store_quotes_free(v, n);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

static int
mongo_quote_delete(void *impl, const char *id)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "_id", id);
	if (!mongoc_collection_delete_one(m->coll[COLL_PRESUPUESTOS], &filter,
	    NULL, &reply, &error))
		rc = mongo_fail("quote delete", &error);
	bson_destroy(&filter);
	bson_destroy(&reply);
	return rc;
}

/* ---- outbox ----------------------------------------------------------------- */

/* An outbox entry's document; false for text that is not UTF-8. */
static bool
outbox_doc(struct mongo *m, const struct store_outbox *o, bson_t *doc)
{
	BSON_APPEND_INT64(doc, "seq", next_seq(m));
	BSON_APPEND_INT32(doc, "lane", (int32_t)o->lane);
	BSON_APPEND_INT32(doc, "attempts", o->attempts);
	BSON_APPEND_INT64(doc, "created_at", o->created_at);
	BSON_APPEND_INT64(doc, "next_attempt_at", o->next_attempt_at);
	return put_str(doc, "_id", o->id) && put_str(doc, "wa_id", o->wa_id) &&
	    put_str(doc, "kind", o->kind) &&
	    put_str(doc, "payload", o->payload) &&
	    put_str(doc, "last_error", o->last_error);
}

static int
mongo_outbox_put(void *impl, const struct store_outbox *o)
{
	struct mongo *m = impl;
	bson_t doc = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_EINVAL;

	if (!outbox_doc(m, o, &doc))
		goto out;
	if (mongoc_collection_insert_one(m->coll[COLL_OUTBOX], &doc, NULL, NULL,
	    &error))
		rc = OV_OK;
	else if (is_duplicate(&error))
		rc = OV_EEXIST;
	else
		rc = mongo_fail("outbox put", &error);
out:
	bson_destroy(&doc);
	return rc;
}

/* Run an outbox query into a malloc'd array of at most limit entries. */
static int
outbox_find(struct mongo *m, const bson_t *filter, const bson_t *opts,
    int limit, const char *op, struct store_outbox **out, size_t *n)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	struct store_outbox *v = NULL, *grown;
	size_t count = 0, cap = 0;
	int64_t lane;
	int rc = OV_OK;

	cur = mongoc_collection_find_with_opts(m->coll[COLL_OUTBOX], filter,
	    opts, NULL);
	while (count < (size_t)limit && mongoc_cursor_next(cur, &doc)) {
		struct store_outbox *o;

		if (count == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			grown = realloc(v, cap * sizeof(*v));
			if (grown == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = grown;
		}
		o = &v[count++];
		memset(o, 0, sizeof(*o));
		get_str(doc, "_id", o->id, sizeof(o->id));
		get_str(doc, "wa_id", o->wa_id, sizeof(o->wa_id));
		get_str(doc, "kind", o->kind, sizeof(o->kind));
		lane = get_i64(doc, "lane");
		o->lane = lane == STORE_LANE_AGENT ? STORE_LANE_AGENT :
		    lane == STORE_LANE_CAMPAIGN ? STORE_LANE_CAMPAIGN :
		    STORE_LANE_REPLY;
		o->attempts = (int)get_i64(doc, "attempts");
		o->created_at = get_i64(doc, "created_at");
		o->next_attempt_at = get_i64(doc, "next_attempt_at");
		get_str(doc, "claimer", o->claimer, sizeof(o->claimer));
		o->orphaned = get_bool(doc, "orphaned");
		if ((rc = get_dup(doc, "payload", &o->payload)) != OV_OK ||
		    (rc = get_dup(doc, "last_error", &o->last_error)) != OV_OK)
			goto out;
	}
	if (mongoc_cursor_error(cur, &error)) {
		rc = mongo_fail(op, &error);
		goto out;
	}
	*out = v;
	*n = count;
	v = NULL;
out:
	store_outbox_free(v, count);
	mongoc_cursor_destroy(cur);
	return rc;
}

/* Entries due by now (of wa_id when not NULL): by lane, then oldest
 * first, or oldest first only for one recipient. Entries written before
 * lanes have none and sort first, as the replies they are. */
static int
outbox_due(struct mongo *m, const char *wa_id, int64_t now, int limit,
    struct store_outbox **out, size_t *n)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, lte, sort;
	int rc;

	if (wa_id != NULL)
		BSON_APPEND_UTF8(&filter, "wa_id", wa_id);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "next_attempt_at", &lte);
	BSON_APPEND_INT64(&lte, "$lte", now);
	bson_append_document_end(&filter, &lte);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	if (wa_id == NULL)
		BSON_APPEND_INT32(&sort, "lane", 1);
	BSON_APPEND_INT32(&sort, "created_at", 1);
	BSON_APPEND_INT32(&sort, "seq", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	rc = outbox_find(m, &filter, &opts, limit,
	    wa_id != NULL ? "outbox due for" : "outbox due", out, n);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

static int
mongo_outbox_due(void *impl, int64_t now, int limit,
    struct store_outbox **out, size_t *n)
{
	return outbox_due(impl, NULL, now, limit, out, n);
}

static int
mongo_outbox_due_for(void *impl, const char *wa_id, int64_t now, int limit,
    struct store_outbox **out, size_t *n)
{
	return outbox_due(impl, wa_id, now, limit, out, n);
}

static int
mongo_outbox_count_for(void *impl, const char *wa_id, int64_t *n)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER;
	bson_error_t error;
	int64_t count;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "wa_id", wa_id);
	count = mongoc_collection_count_documents(m->coll[COLL_OUTBOX],
	    &filter, NULL, NULL, NULL, &error);
	if (count < 0)
		rc = mongo_fail("outbox count", &error);
	else
		*n = count;
	bson_destroy(&filter);
	return rc;
}

/*
 * An entry still as listed (next_attempt_at seen_at, claimer seen_claimer:
 * "" matches none, null or absent) gets next_attempt_at until and
 * claimer (NULL: none, and orphaned). One update_one: of several drains
 * exactly one matches.
 */
static int
outbox_cas(struct mongo *m, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until, const char *claimer)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER, set;
	bson_error_t error;
	bool ok;
	int rc = OV_EBUSY;

	if (!put_str(&filter, "_id", id))
		goto out;
	BSON_APPEND_INT64(&filter, "next_attempt_at", seen_at);
	if (!put_str(&filter, "claimer", seen_claimer[0] != '\0' ?
	    seen_claimer : NULL))
		goto out;
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "next_attempt_at", until);
	ok = put_str(&set, "claimer", claimer);
	if (claimer == NULL)
		BSON_APPEND_BOOL(&set, "orphaned", true);
	bson_append_document_end(&update, &set);
	if (!ok)
		goto out;
	if (!mongoc_collection_update_one(m->coll[COLL_OUTBOX], &filter,
	    &update, NULL, &reply, &error))
		rc = mongo_fail("outbox claim", &error);
	else
		rc = get_i64(&reply, "matchedCount") == 1 ? OV_OK : OV_EBUSY;
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&reply);
	return rc;
}

static int
mongo_outbox_claim(void *impl, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until, const char *claimer)
{
	return outbox_cas(impl, id, seen_at, seen_claimer, until, claimer);
}

static int
mongo_outbox_orphan(void *impl, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until)
{
	return outbox_cas(impl, id, seen_at, seen_claimer, until, NULL);
}

/* Parts Meta took live in the entry's document, {taken: {p0: wamid, ...}},
 * so they go with it. */
static int
mongo_outbox_taken_put(void *impl, const char *id, int part,
    const char *wamid)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t exists, set;
	bson_error_t error;
	char key[32];
	int rc = OV_OK;

	snprintf(key, sizeof(key), "taken.p%d", part);
	if (!put_str(&filter, "_id", id))
		goto out;   /* not UTF-8: cannot be there */
	BSON_APPEND_DOCUMENT_BEGIN(&filter, key, &exists);
	BSON_APPEND_BOOL(&exists, "$exists", false);
	bson_append_document_end(&filter, &exists);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	if (!put_str(&set, key, wamid)) {
		bson_append_document_end(&update, &set);
		rc = OV_EINVAL;
		goto out;
	}
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_one(m->coll[COLL_OUTBOX], &filter,
	    &update, NULL, NULL, &error))
		rc = mongo_fail("outbox taken put", &error);
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	return rc;
}

static int
mongo_outbox_taken(void *impl, const char *id, struct store_outbox_part *out,
    size_t cap, size_t *n)
{
	struct mongo *m = impl;
	bson_t *doc = NULL;
	bson_iter_t it, sub;
	int rc;

	if ((rc = find_by_id(m->coll[COLL_OUTBOX], id, "outbox taken",
	    &doc)) != OV_OK || doc == NULL)
		return rc;
	if (bson_iter_init_find(&it, doc, "taken") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &sub)) {
		while (bson_iter_next(&sub) && *n < cap) {
			const char *k = bson_iter_key(&sub);
			char *end;
			long part;

			if (k[0] != 'p' || !BSON_ITER_HOLDS_UTF8(&sub))
				continue;
			part = strtol(k + 1, &end, 10);
			if (end == k + 1 || *end != '\0' || part < 0 ||
			    part >= STORE_OUTBOX_PARTS_MAX)
				continue;
			out[*n].part = (int)part;
			snprintf(out[*n].wamid, sizeof(out[*n].wamid), "%s",
			    bson_iter_utf8(&sub, NULL));
			(*n)++;
		}
	}
	bson_destroy(doc);
	/* By part, as SQLite gives them. */
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && out[j - 1].part > out[j].part; j--) {
			struct store_outbox_part t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return OV_OK;
}

static int
mongo_outbox_reschedule(void *impl, const char *id, int attempts,
    int64_t next_attempt_at, const char *error_text)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER, set;
	bson_error_t error;
	int rc = OV_EINVAL;

	if (!put_str(&filter, "_id", id))
		goto out;
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT32(&set, "attempts", attempts);
	BSON_APPEND_INT64(&set, "next_attempt_at", next_attempt_at);
	BSON_APPEND_NULL(&set, "claimer");
	if (!put_str(&set, "last_error", error_text)) {
		bson_append_document_end(&update, &set);
		goto out;
	}
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_one(m->coll[COLL_OUTBOX], &filter,
	    &update, NULL, &reply, &error))
		rc = mongo_fail("outbox reschedule", &error);
	else
		rc = get_i64(&reply, "matchedCount") == 0 ? OV_ENOTFOUND : OV_OK;
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&reply);
	return rc;
}

static int
mongo_outbox_delete(void *impl, const char *id)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_OK;

	if (!put_str(&filter, "_id", id)) {
		rc = OV_OK;   /* not UTF-8: cannot be there */
		goto out;
	}
	if (!mongoc_collection_delete_one(m->coll[COLL_OUTBOX], &filter,
	    NULL, &reply, &error))
		rc = mongo_fail("outbox delete", &error);
out:
	bson_destroy(&filter);
	bson_destroy(&reply);
	return rc;
}

/* ---- conversaciones, turnos -------------------------------------------------- */

/*
 * A conversation is {_id: key, owner, agent, last_inbound, updated_at,
 * doc, lease_holder, lease_until, turn_seq}. A turn is first written whole
 * into turnos as {_id: turn id, key, seq, holder, conv: {owner, agent,
 * last_inbound, doc}, outbox: [entry documents], msgs: [ids], created_at,
 * written_at, applied: false}, then applied step by step, each step safe
 * to repeat:
 *   1. the conversation, only over an older state (turn_seq < seq): a
 *      late repeat never brings back an older state;
 *   2. the outbox entries, duplicates ignored, then outbox_done: true, so
 *      an entry already sent and deleted is not written again;
 *   3. the messages still "received" marked handled;
 *   4. the lease, if still the one the writer held, released;
 *   5. applied: true.
 * Whoever reads the conversation next (store_conv_get) finishes a turn
 * left half done; store_turn_recover() finishes those left by a crash.
 */

static int
conv_from_doc(const bson_t *doc, struct store_conv *out)
{
	get_str(doc, "_id", out->key, sizeof(out->key));
	get_str(doc, "owner", out->owner, sizeof(out->owner));
	get_str(doc, "agent", out->agent, sizeof(out->agent));
	out->last_inbound = get_i64(doc, "last_inbound");
	out->updated_at = get_i64(doc, "updated_at");
	get_str(doc, "lease_holder", out->lease_holder,
	    sizeof(out->lease_holder));
	out->lease_until = get_i64(doc, "lease_until");
	if (get_dup(doc, "doc", &out->doc) != OV_OK)
		return OV_ENOMEM;
	if (out->doc == NULL && (out->doc = strdup("{}")) == NULL)
		return OV_ENOMEM;
	return OV_OK;
}

/* $set of an update on turnos {_id: id}. */
static int
turn_mark(struct mongo *m, const char *id, const char *field)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_BOOL(&set, field, true);
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_one(m->coll[COLL_TURNOS], &filter,
	    &update, NULL, NULL, &error))
		rc = mongo_fail("turn apply", &error);
	bson_destroy(&filter);
	bson_destroy(&update);
	return rc;
}

/* Step 1: the new state over an older one (or none). */
static int
turn_apply_conv(struct mongo *m, const char *key, int64_t seq, int64_t now,
    const bson_t *conv)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER, neg, gte, set, ins;
	bson_iter_t it;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "_id", key);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "turn_seq", &neg);
	BSON_APPEND_DOCUMENT_BEGIN(&neg, "$not", &gte);
	BSON_APPEND_INT64(&gte, "$gte", seq);
	bson_append_document_end(&neg, &gte);
	bson_append_document_end(&filter, &neg);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	if (bson_iter_init(&it, conv)) {
		while (bson_iter_next(&it)) {
			const char *k = bson_iter_key(&it);

			if (strcmp(k, "owner") == 0 || strcmp(k, "agent") == 0 ||
			    strcmp(k, "last_inbound") == 0 ||
			    strcmp(k, "doc") == 0)
				bson_append_iter(&set, k, -1, &it);
		}
	}
	BSON_APPEND_INT64(&set, "updated_at", now);
	BSON_APPEND_INT64(&set, "turn_seq", seq);
	bson_append_document_end(&update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &ins);
	BSON_APPEND_INT64(&ins, "lease_until", 0);
	bson_append_document_end(&update, &ins);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	/* A duplicate key: a newer turn's state is there already. */
	if (!mongoc_collection_update_one(m->coll[COLL_CONVERSACIONES], &filter,
	    &update, &opts, NULL, &error) && !is_duplicate(&error))
		rc = mongo_fail("turn apply", &error);
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	return rc;
}

/* Step 2: each entry once. */
static int
turn_apply_outbox(struct mongo *m, const bson_t *turn)
{
	bson_iter_t it, arr;
	bson_error_t error;

	if (!bson_iter_init_find(&it, turn, "outbox") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr))
		return OV_OK;
	while (bson_iter_next(&arr)) {
		const uint8_t *data;
		uint32_t len;
		bson_t entry;

		if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
			continue;
		bson_iter_document(&arr, &len, &data);
		if (!bson_init_static(&entry, data, len))
			continue;
		if (!mongoc_collection_insert_one(m->coll[COLL_OUTBOX], &entry,
		    NULL, NULL, &error) && !is_duplicate(&error))
			return mongo_fail("turn apply", &error);
	}
	return OV_OK;
}

/* Step 3: the turn's messages, those not yet handled. */
static int
turn_apply_msgs(struct mongo *m, const bson_t *turn, int64_t now)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, in, set;
	bson_t ids;
	bson_iter_t it;
	bson_error_t error;
	const uint8_t *data;
	uint32_t len;
	int rc = OV_OK;

	if (!bson_iter_init_find(&it, turn, "msgs") ||
	    !BSON_ITER_HOLDS_ARRAY(&it))
		return OV_OK;
	bson_iter_array(&it, &len, &data);
	if (!bson_init_static(&ids, data, len) || bson_count_keys(&ids) == 0)
		return OV_OK;
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
	BSON_APPEND_ARRAY(&in, "$in", &ids);
	bson_append_document_end(&filter, &in);
	BSON_APPEND_INT32(&filter, "dir", STORE_IN);
	BSON_APPEND_UTF8(&filter, "status", "received");
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "status", "handled");
	BSON_APPEND_INT64(&set, "handled_at", now);
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_many(m->coll[COLL_MENSAJES], &filter,
	    &update, NULL, NULL, &error))
		rc = mongo_fail("turn apply", &error);
	bson_destroy(&filter);
	bson_destroy(&update);
	return rc;
}

/* Free holder's lease on key (not another's taken since). */
static int
lease_release(struct mongo *m, const char *key, const char *holder)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "_id", key);
	if (!put_str(&filter, "lease_holder", holder))
		goto out;
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_NULL(&set, "lease_holder");
	BSON_APPEND_INT64(&set, "lease_until", 0);
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_one(m->coll[COLL_CONVERSACIONES], &filter,
	    &update, NULL, NULL, &error))
		rc = mongo_fail("conversation release", &error);
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	return rc;
}

/* Bring a written turn's effects about; safe to repeat, at any time. */
static int
turn_apply(struct mongo *m, const bson_t *turn)
{
	char id[STORE_MSGID_MAX + 1], key[STORE_WAID_MAX + 1];
	char holder[STORE_HOLDER_MAX + 1];
	bson_iter_t it;
	int64_t seq = get_i64(turn, "seq"), now = get_i64(turn, "created_at");
	int rc;

	get_str(turn, "_id", id, sizeof(id));
	get_str(turn, "key", key, sizeof(key));
	get_str(turn, "holder", holder, sizeof(holder));
	if (id[0] == '\0' || key[0] == '\0') {
		log_warn("mongodb turn apply: a document in turnos that is not "
		    "a turn; left alone");
		return OV_EPARSE;
	}
	/* Written without an order (by hand): it goes by its time. */
	if (seq <= 0)
		seq = now > 0 && now < INT64_MAX / 1000000 ? now * 1000000 : 1;
	if (bson_iter_init_find(&it, turn, "conv") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_t conv;

		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&conv, data, len) &&
		    (rc = turn_apply_conv(m, key, seq, now, &conv)) != OV_OK)
			return rc;
	}
	if (!get_bool(turn, "outbox_done")) {
		if ((rc = turn_apply_outbox(m, turn)) != OV_OK ||
		    (rc = turn_mark(m, id, "outbox_done")) != OV_OK)
			return rc;
	}
	if ((rc = turn_apply_msgs(m, turn, now)) != OV_OK)
		return rc;
	if (holder[0] != '\0' && (rc = lease_release(m, key, holder)) != OV_OK)
		return rc;
	return turn_mark(m, id, "applied");
}

/* Apply the unapplied turns matching filter, oldest first: copies first,
 * so no cursor stays open while applying. */
static int
turns_apply(struct mongo *m, const bson_t *filter, int limit, size_t *applied)
{
	bson_t opts = BSON_INITIALIZER, sort;
	bson_t **turns = NULL;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	size_t n = 0;
	int rc = OV_OK;

	*applied = 0;
	turns = calloc((size_t)limit, sizeof(*turns));
	if (turns == NULL) {
		bson_destroy(&opts);
		return OV_ENOMEM;
	}
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "seq", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	cur = mongoc_collection_find_with_opts(m->coll[COLL_TURNOS], filter,
	    &opts, NULL);
	while (n < (size_t)limit && mongoc_cursor_next(cur, &doc)) {
		if ((turns[n] = bson_copy(doc)) == NULL) {
			rc = OV_ENOMEM;
			break;
		}
		n++;
	}
	if (rc == OV_OK && mongoc_cursor_error(cur, &error))
		rc = mongo_fail("turn recover", &error);
	mongoc_cursor_destroy(cur);
	for (size_t i = 0; rc == OV_OK && i < n; i++) {
		if ((rc = turn_apply(m, turns[i])) == OV_OK)
			(*applied)++;
		else if (rc == OV_EPARSE)
			rc = OV_OK;   /* not ours: skipped */
	}
	for (size_t i = 0; i < n; i++)
		bson_destroy(turns[i]);
	free(turns);
	bson_destroy(&opts);
	return rc;
}

static int
mongo_conv_get(void *impl, const char *key, struct store_conv *out,
    bool *found)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER;
	bson_t *doc = NULL;
	size_t applied;
	int rc;

	*found = false;
	BSON_APPEND_BOOL(&filter, "applied", false);
	BSON_APPEND_UTF8(&filter, "key", key);
	rc = turns_apply(m, &filter, TURN_PENDING_MAX, &applied);
	bson_destroy(&filter);
	if (rc != OV_OK)
		return rc;
	if (applied > 0)
		log_warn("mongodb: %zu turn(s) of %s completed", applied, key);
	rc = find_by_id(m->coll[COLL_CONVERSACIONES], key, "conversation get",
	    &doc);
	if (rc != OV_OK || doc == NULL)
		goto out;
	if ((rc = conv_from_doc(doc, out)) == OV_OK)
		*found = true;
out:
	bson_destroy(doc);
	return rc;
}

static int
mongo_conv_put(void *impl, const struct store_conv *c, int64_t now)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER, set, ins;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "_id", c->key);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "owner", c->owner);
	BSON_APPEND_UTF8(&set, "agent", c->agent);
	BSON_APPEND_INT64(&set, "last_inbound", c->last_inbound);
	BSON_APPEND_INT64(&set, "updated_at", now);
	if (!put_str(&set, "doc", c->doc)) {
		bson_append_document_end(&update, &set);
		rc = OV_EINVAL;
		goto out;
	}
	bson_append_document_end(&update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &ins);
	BSON_APPEND_INT64(&ins, "lease_until", 0);
	bson_append_document_end(&update, &ins);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	/* Two first writes racing: the loser's retry finds the record. */
	for (int attempt = 0;; attempt++) {
		if (mongoc_collection_update_one(m->coll[COLL_CONVERSACIONES],
		    &filter, &update, &opts, NULL, &error))
			break;
		if (attempt > 0 || !is_duplicate(&error)) {
			rc = mongo_fail("conversation put", &error);
			break;
		}
	}
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	return rc;
}

static int
mongo_conv_lease(void *impl, const char *key, const char *holder,
    int64_t now, int64_t until, bool *got)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = m->coll[COLL_CONVERSACIONES];
	bson_t filter = BSON_INITIALIZER, ensure = BSON_INITIALIZER;
	bson_t cas = BSON_INITIALIZER, take = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	bson_t ins, any, alt, cond, set;
	bson_error_t error;
	int rc = OV_OK;

	/* The record, created empty when missing; of two racing creations
	 * the loser's duplicate key means it is there. */
	BSON_APPEND_UTF8(&filter, "_id", key);
	BSON_APPEND_DOCUMENT_BEGIN(&ensure, "$setOnInsert", &ins);
	BSON_APPEND_UTF8(&ins, "owner", "bot");
	BSON_APPEND_UTF8(&ins, "agent", "");
	BSON_APPEND_INT64(&ins, "last_inbound", 0);
	BSON_APPEND_INT64(&ins, "updated_at", now);
	BSON_APPEND_UTF8(&ins, "doc", "{}");
	BSON_APPEND_INT64(&ins, "lease_until", 0);
	bson_append_document_end(&ensure, &ins);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	if (!mongoc_collection_update_one(c, &filter, &ensure, &opts, NULL,
	    &error) && !is_duplicate(&error)) {
		rc = mongo_fail("conversation lease", &error);
		goto out;
	}
	/* Compare and set: free (expired or never taken) or holder's own. */
	BSON_APPEND_UTF8(&cas, "_id", key);
	BSON_APPEND_ARRAY_BEGIN(&cas, "$or", &any);
	BSON_APPEND_DOCUMENT_BEGIN(&any, "0", &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&alt, "lease_until", &cond);
	BSON_APPEND_INT64(&cond, "$lte", now);
	bson_append_document_end(&alt, &cond);
	bson_append_document_end(&any, &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&any, "1", &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&alt, "lease_until", &cond);
	BSON_APPEND_BOOL(&cond, "$exists", false);
	bson_append_document_end(&alt, &cond);
	bson_append_document_end(&any, &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&any, "2", &alt);
	BSON_APPEND_UTF8(&alt, "lease_holder", holder);
	bson_append_document_end(&any, &alt);
	bson_append_array_end(&cas, &any);
	BSON_APPEND_DOCUMENT_BEGIN(&take, "$set", &set);
	BSON_APPEND_UTF8(&set, "lease_holder", holder);
	BSON_APPEND_INT64(&set, "lease_until", until);
	bson_append_document_end(&take, &set);
	if (!mongoc_collection_update_one(c, &cas, &take, NULL, &reply,
	    &error)) {
		rc = mongo_fail("conversation lease", &error);
		goto out;
	}
	*got = get_i64(&reply, "matchedCount") == 1;
out:
	bson_destroy(&filter);
	bson_destroy(&ensure);
	bson_destroy(&cas);
	bson_destroy(&take);
	bson_destroy(&opts);
	bson_destroy(&reply);
	return rc;
}

static int
mongo_conv_release(void *impl, const char *key, const char *holder)
{
	return lease_release(impl, key, holder);
}

/* The turn's document: its whole outcome, not yet applied. */
static int
turn_doc(struct mongo *m, const struct store_turn *t, const char *holder,
    bson_t *doc)
{
	bson_t conv, outbox, entry, msgs;
	char idx[16];
	const char *k;
	bool ok;

	if (!put_str(doc, "_id", t->id))
		return OV_EINVAL;
	BSON_APPEND_UTF8(doc, "key", t->conv->key);
	BSON_APPEND_INT64(doc, "seq", next_seq(m));
	if (holder[0] != '\0' && !put_str(doc, "holder", holder))
		return OV_EINVAL;
	BSON_APPEND_DOCUMENT_BEGIN(doc, "conv", &conv);
	BSON_APPEND_UTF8(&conv, "owner", t->conv->owner);
	BSON_APPEND_UTF8(&conv, "agent", t->conv->agent);
	BSON_APPEND_INT64(&conv, "last_inbound", t->conv->last_inbound);
	ok = put_str(&conv, "doc", t->conv->doc);
	bson_append_document_end(doc, &conv);
	if (!ok)
		return OV_EINVAL;
	BSON_APPEND_ARRAY_BEGIN(doc, "outbox", &outbox);
	for (size_t i = 0; ok && i < t->nreplies; i++) {
		bson_uint32_to_string((uint32_t)i, &k, idx, sizeof(idx));
		BSON_APPEND_DOCUMENT_BEGIN(&outbox, k, &entry);
		ok = outbox_doc(m, &t->replies[i], &entry);
		bson_append_document_end(&outbox, &entry);
	}
	bson_append_array_end(doc, &outbox);
	BSON_APPEND_ARRAY_BEGIN(doc, "msgs", &msgs);
	for (size_t i = 0; ok && i < t->nmsgs; i++) {
		bson_uint32_to_string((uint32_t)i, &k, idx, sizeof(idx));
		ok = put_str(&msgs, k, t->msg_ids[i]);
	}
	bson_append_array_end(doc, &msgs);
	if (!ok)
		return OV_EINVAL;
	BSON_APPEND_INT64(doc, "created_at", t->now);
	BSON_APPEND_INT64(doc, "written_at", (int64_t)time(NULL));
	BSON_APPEND_BOOL(doc, "applied", false);
	return OV_OK;
}

static int
mongo_turn_commit(void *impl, const struct store_turn *t)
{
	struct mongo *m = impl;
	char holder[STORE_HOLDER_MAX + 1] = "";
	bson_t doc = BSON_INITIALIZER;
	bson_t *conv = NULL, *old = NULL;
	bson_error_t error;
	int rc;

	/* The lease this turn ran under: the one its apply releases. */
	rc = find_by_id(m->coll[COLL_CONVERSACIONES], t->conv->key,
	    "turn commit", &conv);
	if (rc != OV_OK)
		goto out;
	if (conv != NULL)
		get_str(conv, "lease_holder", holder, sizeof(holder));
	if ((rc = turn_doc(m, t, holder, &doc)) != OV_OK)
		goto out;
	if (mongoc_collection_insert_one(m->coll[COLL_TURNOS], &doc, NULL, NULL,
	    &error)) {
		rc = turn_apply(m, &doc);
		goto out;
	}
	if (!is_duplicate(&error)) {
		rc = mongo_fail("turn commit", &error);
		goto out;
	}
	/* Written before: finish it if a crash left it half done. */
	rc = find_by_id(m->coll[COLL_TURNOS], t->id, "turn commit", &old);
	if (rc == OV_OK && old != NULL && !get_bool(old, "applied"))
		rc = turn_apply(m, old);
	if (rc == OV_OK)
		rc = OV_EEXIST;
out:
	bson_destroy(conv);
	bson_destroy(old);
	bson_destroy(&doc);
	return rc;
}

static int
mongo_turn_recover(void *impl, size_t *applied)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, any, alt, cond;
	int rc;

	/* Not one its writer is applying right now (written within
	 * TURN_STALE_S): repeating step 2 alongside it could write again an
	 * entry sent and deleted in between. */
	BSON_APPEND_BOOL(&filter, "applied", false);
	BSON_APPEND_ARRAY_BEGIN(&filter, "$or", &any);
	BSON_APPEND_DOCUMENT_BEGIN(&any, "0", &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&alt, "written_at", &cond);
	BSON_APPEND_INT64(&cond, "$lt", (int64_t)time(NULL) - TURN_STALE_S);
	bson_append_document_end(&alt, &cond);
	bson_append_document_end(&any, &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&any, "1", &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&alt, "written_at", &cond);
	BSON_APPEND_BOOL(&cond, "$exists", false);
	bson_append_document_end(&alt, &cond);
	bson_append_document_end(&any, &alt);
	bson_append_array_end(&filter, &any);
	rc = turns_apply(m, &filter, TURN_RECOVER_MAX, applied);
	bson_destroy(&filter);
	if (*applied > 0)
		log_warn("mongodb: %zu turn(s) left by a crash completed",
		    *applied);
	return rc;
}

/* ---- proactive messages ------------------------------------------------- */

/*
 * Collections of their own: proactivos (markers; the first marker of a
 * commit carries its outbox entry and `applied`) and demanda. No
 * multi-document transactions: markers first, then the entry, then
 * applied; store_proactive_recover() completes what a crash left.
 */
#define PX_STALE_S 60

static mongoc_collection_t *
px_coll(struct mongo *m, const char *name)
{
	return mongoc_client_get_collection(m->client, m->db, name);
}

static int
px_delete_id(mongoc_collection_t *c, const char *id, const char *op)
{
	bson_t filter = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_OK;

	if (!put_str(&filter, "_id", id))
		rc = OV_EINVAL;
	else if (!mongoc_collection_delete_one(c, &filter, NULL, NULL, &error))
		rc = mongo_fail(op, &error);
	bson_destroy(&filter);
	return rc;
}

static int
px_mark_applied(mongoc_collection_t *c, const char *id)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_BOOL(&set, "applied", true);
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_one(c, &filter, &update, NULL, NULL,
	    &error))
		rc = mongo_fail("proactive commit", &error);
	bson_destroy(&filter);
	bson_destroy(&update);
	return rc;
}

/* Insert the outbox entry held in a marker; already there is fine. */
static int
px_insert_entry(struct mongo *m, const bson_t *entry)
{
	bson_error_t error;

	if (mongoc_collection_insert_one(m->coll[COLL_OUTBOX], entry, NULL,
	    NULL, &error) || is_duplicate(&error))
		return OV_OK;
	return mongo_fail("proactive commit", &error);
}

static int
mongo_proactive_commit(void *impl, const char *const *markers,
    size_t nmarkers, const struct store_outbox *entry, int64_t now)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = px_coll(m, "proactivos");
	bson_t ent = BSON_INITIALIZER;
	bson_error_t error;
	size_t done = 0;
	int rc = OV_OK;

	if (!outbox_doc(m, entry, &ent)) {
		rc = OV_EINVAL;
		goto out;
	}
	for (; done < nmarkers; done++) {
		bson_t doc = BSON_INITIALIZER;
		bool ok;

		ok = put_str(&doc, "_id", markers[done]) &&
		    put_str(&doc, "wa_id", entry->wa_id);
		BSON_APPEND_INT64(&doc, "created_at", now);
		BSON_APPEND_INT64(&doc, "written_at", (int64_t)time(NULL));
		if (done == 0) {
			BSON_APPEND_BOOL(&doc, "applied", false);
			BSON_APPEND_DOCUMENT(&doc, "entry", &ent);
		}
		if (!ok) {
			bson_destroy(&doc);
			rc = OV_EINVAL;
			break;
		}
		ok = mongoc_collection_insert_one(c, &doc, NULL, NULL, &error);
		bson_destroy(&doc);
		if (!ok) {
			rc = is_duplicate(&error) ? OV_EEXIST :
			    mongo_fail("proactive commit", &error);
			break;
		}
	}
	if (rc != OV_OK) {
		/* Undo this call's markers: nothing changes. */
		for (size_t i = 0; i < done; i++)
			(void)px_delete_id(c, markers[i], "proactive undo");
		goto out;
	}
	if ((rc = px_insert_entry(m, &ent)) == OV_OK)
		rc = px_mark_applied(c, markers[0]);
out:
	bson_destroy(&ent);
	mongoc_collection_destroy(c);
	return rc;
}

/* No transactions: item by item, each as mongo_proactive_commit(). */
static int
mongo_proactive_batch(void *impl, struct store_proactive *v, size_t n,
    int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		v[i].rc = mongo_proactive_commit(impl, v[i].markers,
		    v[i].nmarkers, v[i].entry, now);
		if (v[i].rc == OV_ETIMEOUT)
			return v[i].rc;   /* the server is gone: stop here */
	}
	return OV_OK;
}

static int
mongo_marker_get(void *impl, const char *marker, bool *found)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = px_coll(m, "proactivos");
	bson_t *doc = NULL;
	int rc;

	rc = find_by_id(c, marker, "marker get", &doc);
	*found = rc == OV_OK && doc != NULL;
	bson_destroy(doc);
	mongoc_collection_destroy(c);
	return rc;
}

static int
mongo_marker_delete(void *impl, const char *marker)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = px_coll(m, "proactivos");
	int rc = px_delete_id(c, marker, "marker delete");

	mongoc_collection_destroy(c);
	return rc;
}

static int
mongo_proactive_recover(void *impl, int64_t now, size_t *applied)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = px_coll(m, "proactivos");
	bson_t filter = BSON_INITIALIZER, lt;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_BOOL(&filter, "applied", false);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "written_at", &lt);
	BSON_APPEND_INT64(&lt, "$lt", now - PX_STALE_S);
	bson_append_document_end(&filter, &lt);
	cur = mongoc_collection_find_with_opts(c, &filter, NULL, NULL);
	while (rc == OV_OK && mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;
		const uint8_t *data;
		uint32_t len;
		bson_t entry;
		char id[STORE_MARKER_MAX + 1];

		get_str(doc, "_id", id, sizeof(id));
		if (!bson_iter_init_find(&it, doc, "entry") ||
		    !BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_document(&it, &len, &data);
		if (!bson_init_static(&entry, data, len))
			continue;
		if ((rc = px_insert_entry(m, &entry)) == OV_OK &&
		    (rc = px_mark_applied(c, id)) == OV_OK)
			(*applied)++;
	}
	if (rc == OV_OK && mongoc_cursor_error(cur, &error))
		rc = mongo_fail("proactive recover", &error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	mongoc_collection_destroy(c);
	if (*applied > 0)
		log_warn("mongodb: %zu proactive message(s) left by a crash "
		    "queued", *applied);
	return rc;
}

static int
mongo_conv_scan(void *impl, const char *after, int limit,
    struct store_conv **out, size_t *n)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, gt, sort;
	struct store_conv *v = NULL, *nv;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	size_t len = 0, cap = 0;
	int rc = OV_OK;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &gt);
	BSON_APPEND_UTF8(&gt, "$gt", after);
	bson_append_document_end(&filter, &gt);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	cur = mongoc_collection_find_with_opts(m->coll[COLL_CONVERSACIONES],
	    &filter, &opts, NULL);
	while (len < (size_t)limit && mongoc_cursor_next(cur, &doc)) {
		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = nv;
		}
		memset(&v[len], 0, sizeof(v[len]));
		rc = conv_from_doc(doc, &v[len]);
		len++;
		if (rc != OV_OK)
			goto out;
	}
	if (mongoc_cursor_error(cur, &error)) {
		rc = mongo_fail("conversation scan", &error);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
out:
	store_convs_free(v, len);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

static int
mongo_quote_scan_expiring(void *impl, const char *state, int64_t from,
    int64_t to, const char *after, int limit, struct store_quote **out,
    size_t *n)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, r, gt, sort;
	int rc;

	BSON_APPEND_UTF8(&filter, "state", state);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "expires_at", &r);
	BSON_APPEND_INT64(&r, "$gte", from);
	BSON_APPEND_INT64(&r, "$lt", to);
	bson_append_document_end(&filter, &r);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &gt);
	BSON_APPEND_UTF8(&gt, "$gt", after);
	bson_append_document_end(&filter, &gt);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	rc = quote_find(m, &filter, &opts, limit, out, n);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

/* demanda's _id: "<wa_id>/<product id, 20 digits>", in scan order. */
static void
px_demand_id(const char *wa_id, int64_t product_id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%020lld", wa_id, (long long)product_id);
}

static int
mongo_demand_put(void *impl, const char *wa_id, int64_t product_id,
    int64_t asked_at)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = px_coll(m, "demanda");
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t opts = BSON_INITIALIZER, set, mx;
	bson_error_t error;
	char id[STORE_WAID_MAX + 32];
	int rc = OV_OK;

	px_demand_id(wa_id, product_id, id, sizeof(id));
	BSON_APPEND_UTF8(&filter, "_id", id);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "wa_id", wa_id);
	BSON_APPEND_INT64(&set, "product_id", product_id);
	bson_append_document_end(&update, &set);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$max", &mx);
	BSON_APPEND_INT64(&mx, "asked_at", asked_at);
	bson_append_document_end(&update, &mx);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	if (!mongoc_collection_update_one(c, &filter, &update, &opts, NULL,
	    &error))
		rc = mongo_fail("demand put", &error);
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&opts);
	mongoc_collection_destroy(c);
	return rc;
}

static int
mongo_demand_scan(void *impl, const struct store_demand *after, int limit,
    struct store_demand **out, size_t *n)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = px_coll(m, "demanda");
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, gt, sort;
	struct store_demand *v = NULL, *nv;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	char id[STORE_WAID_MAX + 32];
	size_t len = 0, cap = 0;
	int rc = OV_OK;

	if (after != NULL)
		px_demand_id(after->wa_id, after->product_id, id, sizeof(id));
	else
		id[0] = '\0';
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &gt);
	BSON_APPEND_UTF8(&gt, "$gt", id);
	bson_append_document_end(&filter, &gt);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);
	while (len < (size_t)limit && mongoc_cursor_next(cur, &doc)) {
		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = nv;
		}
		memset(&v[len], 0, sizeof(v[len]));
		get_str(doc, "wa_id", v[len].wa_id, sizeof(v[len].wa_id));
		v[len].product_id = get_i64(doc, "product_id");
		v[len].asked_at = get_i64(doc, "asked_at");
		if (v[len].wa_id[0] != '\0' && v[len].product_id > 0)
			len++;   /* a foreign document is passed over */
	}
	if (mongoc_cursor_error(cur, &error)) {
		rc = mongo_fail("demand scan", &error);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
out:
	free(v);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	mongoc_collection_destroy(c);
	return rc;
}

static int
mongo_demand_delete(void *impl, const char *wa_id, int64_t product_id)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = px_coll(m, "demanda");
	char id[STORE_WAID_MAX + 32];
	int rc;

	px_demand_id(wa_id, product_id, id, sizeof(id));
	rc = px_delete_id(c, id, "demand delete");
	mongoc_collection_destroy(c);
	return rc;
}

/* ---- identities ---------------------------------------------------------- */

/* identidades: {_id: key, phone, hold, updated_at}. The collection is
 * asked for by name, apart from the numbered collections above. */
static mongoc_collection_t *
identity_coll(struct mongo *m)
{
	return mongoc_client_get_collection(m->client, m->db, "identidades");
}

static int
mongo_identity_get(void *impl, const char *key, struct store_identity *out,
    bool *found)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = identity_coll(m);
	bson_t *doc = NULL;
	int rc;

	rc = find_by_id(c, key, "identity get", &doc);
	if (rc == OV_OK && doc != NULL) {
		snprintf(out->key, sizeof(out->key), "%s", key);
		get_str(doc, "phone", out->phone, sizeof(out->phone));
		out->hold = get_bool(doc, "hold");
		out->updated_at = get_i64(doc, "updated_at");
		*found = true;
	}
	bson_destroy(doc);
	mongoc_collection_destroy(c);
	return rc;
}

static int
mongo_identity_put(void *impl, const struct store_identity *id, int64_t now)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = identity_coll(m);
	bson_t doc = BSON_INITIALIZER;
	int rc = OV_EINVAL;

	BSON_APPEND_BOOL(&doc, "hold", id->hold);
	BSON_APPEND_INT64(&doc, "updated_at", now);
	if (put_str(&doc, "_id", id->key) && put_str(&doc, "phone", id->phone))
		rc = replace_by_id(c, id->key, &doc, "identity put");
	bson_destroy(&doc);
	mongoc_collection_destroy(c);
	return rc;
}

/* The document with _id from goes to _id to, unless to has one (then
 * the one at from is dropped). Each step is safe to repeat. */
static int
move_by_id(mongoc_collection_t *c, const char *from, const char *to,
    bool clear_lease, const char *op)
{
	bson_t *old = NULL, *have = NULL, filter = BSON_INITIALIZER;
	bson_t copy = BSON_INITIALIZER;
	bson_iter_t it;
	bson_error_t error;
	int rc;

	if ((rc = find_by_id(c, from, op, &old)) != OV_OK || old == NULL)
		goto out;
	if ((rc = find_by_id(c, to, op, &have)) != OV_OK)
		goto out;
	if (have == NULL) {
		BSON_APPEND_UTF8(&copy, "_id", to);
		if (bson_iter_init(&it, old))
			while (bson_iter_next(&it)) {
				const char *k = bson_iter_key(&it);

				if (strcmp(k, "_id") == 0 || (clear_lease &&
				    (strcmp(k, "lease_holder") == 0 ||
				    strcmp(k, "lease_until") == 0)))
					continue;
				bson_append_iter(&copy, k, -1, &it);
			}
		if (clear_lease)
			BSON_APPEND_INT64(&copy, "lease_until", 0);
		if (!mongoc_collection_insert_one(c, &copy, NULL, NULL,
		    &error) && !is_duplicate(&error)) {
			rc = mongo_fail(op, &error);
			goto out;
		}
	}
	BSON_APPEND_UTF8(&filter, "_id", from);
	if (!mongoc_collection_delete_one(c, &filter, NULL, NULL, &error))
		rc = mongo_fail(op, &error);
out:
	bson_destroy(old);
	bson_destroy(have);
	bson_destroy(&filter);
	bson_destroy(&copy);
	return rc;
}

static int
rekey_many(mongoc_collection_t *c, const char *from, const char *to,
    const char *op)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_UTF8(&filter, "wa_id", from);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "wa_id", to);
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_many(c, &filter, &update, NULL, NULL,
	    &error))
		rc = mongo_fail(op, &error);
	bson_destroy(&filter);
	bson_destroy(&update);
	return rc;
}

static int
mongo_identity_move(void *impl, const char *from, const char *to,
    int64_t now)
{
	struct mongo *m = impl;
	int rc;

	(void)now;
	if ((rc = move_by_id(m->coll[COLL_CONVERSACIONES], from, to, true,
	    "move conv")) != OV_OK ||
	    (rc = move_by_id(m->coll[COLL_CLIENTES], from, to, false,
	    "move customer")) != OV_OK ||
	    (rc = rekey_many(m->coll[COLL_MENSAJES], from, to,
	    "move history")) != OV_OK ||
	    (rc = rekey_many(m->coll[COLL_PRESUPUESTOS], from, to,
	    "move quotes")) != OV_OK)
		return rc;
	return rekey_many(m->coll[COLL_OUTBOX], from, to, "move outbox");
}

/* ---- inbox ------------------------------------------------------------------ */

static int
mongo_conv_swap(void *impl, const struct store_conv *c,
    const char *expect_owner, const char *expect_agent, const char *holder,
    int64_t now, bool *got)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER, set, in;
	bson_error_t error;
	int rc = OV_OK;

	*got = false;
	BSON_APPEND_UTF8(&filter, "_id", c->key);
	if (strcmp(expect_owner, "bot") == 0) {
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "owner", &in);
		bson_t arr;
		BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
		BSON_APPEND_UTF8(&arr, "0", "bot");
		BSON_APPEND_UTF8(&arr, "1", "");
		bson_append_array_end(&in, &arr);
		bson_append_document_end(&filter, &in);
	} else {
		BSON_APPEND_UTF8(&filter, "owner", expect_owner);
	}
	if (!put_str(&filter, "agent", expect_agent) ||
	    !put_str(&filter, "lease_holder", holder)) {
		rc = OV_EINVAL;
		goto out;
	}
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "owner", c->owner);
	BSON_APPEND_UTF8(&set, "agent", c->agent);
	BSON_APPEND_INT64(&set, "last_inbound", c->last_inbound);
	BSON_APPEND_INT64(&set, "updated_at", now);
	BSON_APPEND_NULL(&set, "lease_holder");
	BSON_APPEND_INT64(&set, "lease_until", 0);
	if (!put_str(&set, "doc", c->doc)) {
		bson_append_document_end(&update, &set);
		rc = OV_EINVAL;
		goto out;
	}
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_one(m->coll[COLL_CONVERSACIONES], &filter,
	    &update, NULL, &reply, &error)) {
		rc = mongo_fail("conversation swap", &error);
		goto out;
	}
	*got = get_i64(&reply, "matchedCount") == 1;
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&reply);
	return rc;
}

/* ASCII case-insensitive substring; q is lower case already. */
static bool
contains_ci(const char *s, const char *q)
{
	size_t n = strlen(q);

	if (s == NULL)
		return false;
	for (; *s != '\0'; s++) {
		size_t i = 0;

		for (; i < n && s[i] != '\0'; i++) {
			char ch = s[i];

			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch + 32);
			if (ch != q[i])
				break;
		}
		if (i == n)
			return true;
	}
	return false;
}

/* A string member of the conversation's JSON document (cuit, razon);
 * a small scan, not a JSON parse: values are escaped JSON strings. */
static bool
doc_field_contains(const char *doc, const char *field, const char *q)
{
	char key[32], val[256];
	const char *p;
	size_t o = 0;

	snprintf(key, sizeof(key), "\"%s\":\"", field);
	if (doc == NULL || (p = strstr(doc, key)) == NULL)
		return false;
	for (p += strlen(key); *p != '\0' && *p != '"' && o + 1 < sizeof(val);
	    p++)
		val[o++] = *p;
	val[o] = '\0';
	return contains_ci(val, q);
}

/* Run an aggregation over one collection; *cur to read and destroy. */
static mongoc_cursor_t *
aggregate(struct mongo *m, enum mongo_coll which, const bson_t *pipeline)
{
	bson_t opts = BSON_INITIALIZER, cursor;
	mongoc_cursor_t *cur;

	/* A page's worth in the first answer: no getMore for a list. */
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "cursor", &cursor);
	BSON_APPEND_INT32(&cursor, "batchSize", 1000);
	bson_append_document_end(&opts, &cursor);
	cur = mongoc_collection_aggregate(m->coll[which], MONGOC_QUERY_NONE,
	    pipeline, &opts, NULL);
	bson_destroy(&opts);
	return cur;
}

/* The row of key in v[0..n), or NULL. */
static struct store_inbox_row *
row_of(struct store_inbox_row *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].conv.key, key) == 0)
			return &v[i];
	return NULL;
}

/*
 * The unanswered counts of every row (inbound messages after the
 * customer's last outbound one) in two round trips, whatever the number
 * of rows: the last outbound time of each, then the inbound messages
 * after it, counted by the server.
 */
static int
inbox_unanswered(struct mongo *m, struct store_inbox_row *v, size_t n)
{
	bson_t pipe = BSON_INITIALIZER, st, match, grp, in, arr, ex, acc, or;
	int64_t *last = NULL;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t error;
	char key[STORE_WAID_MAX + 1], idx[24];
	int rc = OV_OK;

	if (n == 0)
		return OV_OK;
	if ((last = calloc(n, sizeof(*last))) == NULL)
		return OV_ENOMEM;
	/* 1. Each customer's last outbound message (status stubs, which
	 * have no type, do not count). */
	BSON_APPEND_DOCUMENT_BEGIN(&pipe, "0", &st);
	BSON_APPEND_DOCUMENT_BEGIN(&st, "$match", &match);
	BSON_APPEND_DOCUMENT_BEGIN(&match, "wa_id", &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
	for (size_t i = 0; i < n; i++) {
		snprintf(idx, sizeof(idx), "%zu", i);
		BSON_APPEND_UTF8(&arr, idx, v[i].conv.key);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(&match, &in);
	BSON_APPEND_INT32(&match, "dir", STORE_OUT);
	BSON_APPEND_DOCUMENT_BEGIN(&match, "type", &ex);
	BSON_APPEND_BOOL(&ex, "$exists", true);
	bson_append_document_end(&match, &ex);
	bson_append_document_end(&st, &match);
	bson_append_document_end(&pipe, &st);
	BSON_APPEND_DOCUMENT_BEGIN(&pipe, "1", &st);
	BSON_APPEND_DOCUMENT_BEGIN(&st, "$group", &grp);
	BSON_APPEND_UTF8(&grp, "_id", "$wa_id");
	BSON_APPEND_DOCUMENT_BEGIN(&grp, "last", &acc);
	BSON_APPEND_UTF8(&acc, "$max", "$ts");
	bson_append_document_end(&grp, &acc);
	bson_append_document_end(&st, &grp);
	bson_append_document_end(&pipe, &st);
	cur = aggregate(m, COLL_MENSAJES, &pipe);
	while (mongoc_cursor_next(cur, &doc)) {
		get_str(doc, "_id", key, sizeof(key));
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].conv.key, key) == 0)
				last[i] = get_i64(doc, "last");
	}
	if (mongoc_cursor_error(cur, &error)) {
		rc = mongo_fail("inbox unanswered", &error);
		goto out;
	}
	mongoc_cursor_destroy(cur);
	cur = NULL;
	bson_reinit(&pipe);

	/* 2. The inbound messages after it, counted per customer (the $in
	 * narrows what each $or branch is tried on). */
	BSON_APPEND_DOCUMENT_BEGIN(&pipe, "0", &st);
	BSON_APPEND_DOCUMENT_BEGIN(&st, "$match", &match);
	BSON_APPEND_DOCUMENT_BEGIN(&match, "wa_id", &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
	for (size_t i = 0; i < n; i++) {
		snprintf(idx, sizeof(idx), "%zu", i);
		BSON_APPEND_UTF8(&arr, idx, v[i].conv.key);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(&match, &in);
	BSON_APPEND_INT32(&match, "dir", STORE_IN);
	BSON_APPEND_ARRAY_BEGIN(&match, "$or", &or);
	for (size_t i = 0; i < n; i++) {
		bson_t one, gt;

		snprintf(idx, sizeof(idx), "%zu", i);
		BSON_APPEND_DOCUMENT_BEGIN(&or, idx, &one);
		BSON_APPEND_UTF8(&one, "wa_id", v[i].conv.key);
		BSON_APPEND_DOCUMENT_BEGIN(&one, "ts", &gt);
		BSON_APPEND_INT64(&gt, "$gt", last[i]);
		bson_append_document_end(&one, &gt);
		bson_append_document_end(&or, &one);
	}
	bson_append_array_end(&match, &or);
	bson_append_document_end(&st, &match);
	bson_append_document_end(&pipe, &st);
	BSON_APPEND_DOCUMENT_BEGIN(&pipe, "1", &st);
	BSON_APPEND_DOCUMENT_BEGIN(&st, "$group", &grp);
	BSON_APPEND_UTF8(&grp, "_id", "$wa_id");
	BSON_APPEND_DOCUMENT_BEGIN(&grp, "n", &acc);
	BSON_APPEND_INT32(&acc, "$sum", 1);
	bson_append_document_end(&grp, &acc);
	bson_append_document_end(&st, &grp);
	bson_append_document_end(&pipe, &st);
	cur = aggregate(m, COLL_MENSAJES, &pipe);
	while (mongoc_cursor_next(cur, &doc)) {
		struct store_inbox_row *r;

		get_str(doc, "_id", key, sizeof(key));
		if ((r = row_of(v, n, key)) != NULL)
			r->unanswered = get_i64(doc, "n");
	}
	if (mongoc_cursor_error(cur, &error))
		rc = mongo_fail("inbox unanswered", &error);
out:
	mongoc_cursor_destroy(cur);
	bson_destroy(&pipe);
	free(last);
	return rc;
}

/* Customers' names (clientes.name) by key, sorted for bsearch. */
struct inbox_names {
	struct inbox_name {
		char key[STORE_WAID_MAX + 1];
		char *name;
	} *v;
	size_t n, cap;
};

static int
cmp_name_key(const void *a, const void *b)
{
	return strcmp(((const struct inbox_name *)a)->key,
	    ((const struct inbox_name *)b)->key);
}

static void
inbox_names_free(struct inbox_names *nm)
{
	for (size_t i = 0; i < nm->n; i++)
		free(nm->v[i].name);
	free(nm->v);
	memset(nm, 0, sizeof(*nm));
}

static const char *
inbox_name_of(const struct inbox_names *nm, const char *key)
{
	struct inbox_name want, *hit;

	if (nm->n == 0 || strlen(key) > STORE_WAID_MAX)
		return NULL;
	snprintf(want.key, sizeof(want.key), "%s", key);
	hit = bsearch(&want, nm->v, nm->n, sizeof(nm->v[0]), cmp_name_key);
	return hit != NULL ? hit->name : NULL;
}

/* The names of the clientes records filter matches, in one find. */
static int
inbox_names_load(struct mongo *m, const bson_t *filter,
    struct inbox_names *nm)
{
	bson_t opts = BSON_INITIALIZER, proj;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "name", 1);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(m->coll[COLL_CLIENTES], filter,
	    &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		struct inbox_name *e;

		if (nm->n == nm->cap) {
			size_t cap = nm->cap ? nm->cap * 2 : 128;
			struct inbox_name *nv = realloc(nm->v, cap *
			    sizeof(*nv));

			if (nv == NULL) {
				rc = OV_ENOMEM;
				break;
			}
			nm->v = nv;
			nm->cap = cap;
		}
		e = &nm->v[nm->n];
		get_str(doc, "_id", e->key, sizeof(e->key));
		if ((rc = get_dup(doc, "name", &e->name)) != OV_OK)
			break;
		if (e->name != NULL)
			nm->n++;
	}
	if (rc == OV_OK && mongoc_cursor_error(cur, &error))
		rc = mongo_fail("inbox names", &error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	if (rc == OV_OK && nm->n > 0)
		qsort(nm->v, nm->n, sizeof(nm->v[0]), cmp_name_key);
	return rc;
}

/* The names of the rows, in one find ({_id: {$in: keys}}). */
static int
inbox_names_of_rows(struct mongo *m, struct store_inbox_row *v, size_t n)
{
	struct inbox_names nm = { NULL, 0, 0 };
	bson_t filter = BSON_INITIALIZER, in, arr;
	char idx[24];
	int rc;

	if (n == 0)
		return OV_OK;
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
	BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
	for (size_t i = 0; i < n; i++) {
		snprintf(idx, sizeof(idx), "%zu", i);
		BSON_APPEND_UTF8(&arr, idx, v[i].conv.key);
	}
	bson_append_array_end(&in, &arr);
	bson_append_document_end(&filter, &in);
	rc = inbox_names_load(m, &filter, &nm);
	for (size_t i = 0; rc == OV_OK && i < n; i++) {
		const char *name = inbox_name_of(&nm, v[i].conv.key);

		if (name != NULL && (v[i].name = strdup(name)) == NULL)
			rc = OV_ENOMEM;
	}
	inbox_names_free(&nm);
	bson_destroy(&filter);
	return rc;
}

/*
 * Append to v the conversations of one part of the list, in its order:
 * the waiting ones (owner agent, agent handoff; longest waiting first)
 * or the others (most recent first), in one find that reads an index in
 * order (owner_last_inbound, last_inbound_id). Without a search the page
 * limit goes to the server. A search reads them all and matches here as
 * a plain substring (never a pattern) of the key, the document's cuit
 * and razon, and the customer's name (names: every named customer), and
 * gives each row its name.
 */
static int
inbox_part(struct mongo *m, bool waiting, const char *query,
    const struct inbox_names *names, size_t limit,
    struct store_inbox_row *v, size_t *len)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_t cond, sort, nor, w;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, "last_inbound", &cond);
	BSON_APPEND_INT64(&cond, "$gt", 0);
	bson_append_document_end(&filter, &cond);
	if (waiting) {
		BSON_APPEND_UTF8(&filter, "owner", "agent");
		BSON_APPEND_UTF8(&filter, "agent", "handoff");
	} else {
		BSON_APPEND_ARRAY_BEGIN(&filter, "$nor", &nor);
		BSON_APPEND_DOCUMENT_BEGIN(&nor, "0", &w);
		BSON_APPEND_UTF8(&w, "owner", "agent");
		BSON_APPEND_UTF8(&w, "agent", "handoff");
		bson_append_document_end(&nor, &w);
		bson_append_array_end(&filter, &nor);
	}
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "last_inbound", waiting ? 1 : -1);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	if (query == NULL)
		BSON_APPEND_INT64(&opts, "limit", (int64_t)(limit - *len));
	BSON_APPEND_INT32(&opts, "batchSize", 1000);
	cur = mongoc_collection_find_with_opts(m->coll[COLL_CONVERSACIONES],
	    &filter, &opts, NULL);
	while (*len < limit && mongoc_cursor_next(cur, &doc)) {
		struct store_inbox_row *r = &v[*len];
		const char *name;

		memset(r, 0, sizeof(*r));
		if ((rc = conv_from_doc(doc, &r->conv)) != OV_OK)
			break;
		r->waiting = waiting;
		if (query == NULL) {
			(*len)++;
			continue;
		}
		name = inbox_name_of(names, r->conv.key);
		if (!contains_ci(r->conv.key, query) &&
		    !contains_ci(name, query) &&
		    !doc_field_contains(r->conv.doc, "cuit", query) &&
		    !doc_field_contains(r->conv.doc, "razon", query)) {
			store_conv_clear(&r->conv);
			continue;
		}
		if (name != NULL && (r->name = strdup(name)) == NULL) {
			store_conv_clear(&r->conv);
			rc = OV_ENOMEM;
			break;
		}
		(*len)++;
	}
	if (rc == OV_OK && mongoc_cursor_error(cur, &error))
		rc = mongo_fail("inbox list", &error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

/* A page of the list in a fixed number of round trips whatever its
 * length: the waiting part, the others, the names (one find; a search
 * reads every named customer first instead), and the unanswered counts
 * (two). */
static int
mongo_inbox_list(void *impl, const char *query, int limit,
    struct store_inbox_row **out, size_t *n)
{
	struct mongo *m = impl;
	struct inbox_names names = { NULL, 0, 0 };
	struct store_inbox_row *v;
	size_t len = 0;
	int rc = OV_OK;

	if ((v = calloc((size_t)limit, sizeof(*v))) == NULL)
		return OV_ENOMEM;
	if (query != NULL) {
		bson_t named = BSON_INITIALIZER, type;

		BSON_APPEND_DOCUMENT_BEGIN(&named, "name", &type);
		BSON_APPEND_UTF8(&type, "$type", "string");
		bson_append_document_end(&named, &type);
		rc = inbox_names_load(m, &named, &names);
		bson_destroy(&named);
	}
	if (rc == OV_OK)
		rc = inbox_part(m, true, query, &names, (size_t)limit, v, &len);
	if (rc == OV_OK && len < (size_t)limit)
		rc = inbox_part(m, false, query, &names, (size_t)limit, v,
		    &len);
	inbox_names_free(&names);
	if (rc == OV_OK && query == NULL)
		rc = inbox_names_of_rows(m, v, len);
	if (rc == OV_OK)
		rc = inbox_unanswered(m, v, len);
	if (rc != OV_OK || len == 0) {
		store_inbox_rows_free(v, len);
		return rc;
	}
	*out = v;
	*n = len;
	return OV_OK;
}

static int
mongo_count(struct mongo *m, enum mongo_coll which, const bson_t *filter,
    int64_t *out)
{
	bson_error_t error;
	int64_t c = mongoc_collection_count_documents(m->coll[which], filter,
	    NULL, NULL, NULL, &error);

	if (c < 0)
		return mongo_fail("inbox stats", &error);
	*out = c;
	return OV_OK;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t
percentile(const int64_t *v, size_t n, int p)
{
	size_t k;

	if (n == 0)
		return -1;
	k = ((size_t)p * n + 99) / 100;
	return v[k == 0 ? 0 : k - 1];
}

static int
mongo_inbox_stats(void *impl, int64_t since, int64_t now,
    struct store_inbox_stats *out)
{
	struct mongo *m = impl;
	bson_t f = BSON_INITIALIZER, cond, exists, opts = BSON_INITIALIZER;
	bson_t sort;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t error;
	int64_t *lat = NULL, *nl;
	size_t nlat = 0, cap = 0;
	int rc;

#define TS_SINCE(b) do { \
	BSON_APPEND_DOCUMENT_BEGIN(b, "ts", &cond); \
	BSON_APPEND_INT64(&cond, "$gte", since); \
	bson_append_document_end(b, &cond); } while (0)
	BSON_APPEND_INT32(&f, "dir", STORE_IN);
	TS_SINCE(&f);
	if ((rc = mongo_count(m, COLL_MENSAJES, &f, &out->msgs_in)) != OV_OK)
		goto out;
	bson_reinit(&f);
	BSON_APPEND_INT32(&f, "dir", STORE_OUT);
	TS_SINCE(&f);
	BSON_APPEND_DOCUMENT_BEGIN(&f, "type", &exists);
	BSON_APPEND_BOOL(&exists, "$exists", true);
	bson_append_document_end(&f, &exists);
	if ((rc = mongo_count(m, COLL_MENSAJES, &f, &out->msgs_out)) != OV_OK)
		goto out;
	bson_reinit(&f);
	BSON_APPEND_INT32(&f, "dir", STORE_OUT);
	TS_SINCE(&f);
	BSON_APPEND_UTF8(&f, "status", "failed");
	if ((rc = mongo_count(m, COLL_MENSAJES, &f, &out->msgs_failed)) !=
	    OV_OK)
		goto out;
	bson_reinit(&f);
	BSON_APPEND_INT32(&f, "attempts", 0);
	BSON_APPEND_DOCUMENT_BEGIN(&f, "next_attempt_at", &cond);
	BSON_APPEND_INT64(&cond, "$lte", now);
	bson_append_document_end(&f, &cond);
	if ((rc = mongo_count(m, COLL_OUTBOX, &f, &out->outbox_due)) != OV_OK)
		goto out;
	bson_reinit(&f);
	BSON_APPEND_DOCUMENT_BEGIN(&f, "attempts", &cond);
	BSON_APPEND_INT32(&cond, "$gt", 0);
	bson_append_document_end(&f, &cond);
	if ((rc = mongo_count(m, COLL_OUTBOX, &f, &out->outbox_retrying)) !=
	    OV_OK)
		goto out;
	/* Latency: messages since, oldest first per customer; the first
	 * outbound at or after each inbound one. */
	bson_reinit(&f);
	TS_SINCE(&f);
	BSON_APPEND_DOCUMENT_BEGIN(&f, "type", &exists);
	BSON_APPEND_BOOL(&exists, "$exists", true);
	bson_append_document_end(&f, &exists);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "wa_id", 1);
	BSON_APPEND_INT32(&sort, "ts", 1);
	BSON_APPEND_INT32(&sort, "dir", 1);
	bson_append_document_end(&opts, &sort);
#undef TS_SINCE
	cur = mongoc_collection_find_with_opts(m->coll[COLL_MENSAJES], &f,
	    &opts, NULL);
	{
		char who[STORE_WAID_MAX + 1] = "", w[STORE_WAID_MAX + 1];
		int64_t pend[64];
		size_t np = 0;

		while (mongoc_cursor_next(cur, &doc)) {
			int64_t ts = get_i64(doc, "ts");

			get_str(doc, "wa_id", w, sizeof(w));
			if (strcmp(w, who) != 0) {
				np = 0;
				memcpy(who, w, sizeof(who));
			}
			if (get_i64(doc, "dir") == STORE_IN) {
				if (np < sizeof(pend) / sizeof(pend[0]))
					pend[np++] = ts;
				continue;
			}
			for (size_t i = 0; i < np; i++) {
				if (nlat == cap) {
					cap = cap == 0 ? 256 : cap * 2;
					nl = realloc(lat, cap * sizeof(*lat));
					if (nl == NULL) {
						rc = OV_ENOMEM;
						goto out;
					}
					lat = nl;
				}
				lat[nlat++] = ts - pend[i];
			}
			np = 0;
		}
	}
	if (mongoc_cursor_error(cur, &error)) {
		rc = mongo_fail("inbox stats", &error);
		goto out;
	}
	if (nlat > 0)
		qsort(lat, nlat, sizeof(*lat), cmp_i64);
	out->latency_p50 = percentile(lat, nlat, 50);
	out->latency_p99 = percentile(lat, nlat, 99);
out:
	if (cur != NULL)
		mongoc_cursor_destroy(cur);
	free(lat);
	bson_destroy(&f);
	bson_destroy(&opts);
	return rc;
}

/* ---- legacy and ISR ---------------------------------------------------- */

/* Unordered inserts: an id (or unique key) already there is a
 * duplicate-key write error and leaves that record alone; any other
 * error fails the call. *added: how many went in. */
static int
insert_new(mongoc_collection_t *c, bson_t **docs, size_t n, const char *op,
    size_t *added)
{
	bson_t opts = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	bson_error_t error;
	bson_iter_t it, errs, one;
	int rc = OV_OK;

	BSON_APPEND_BOOL(&opts, "ordered", false);
	if (mongoc_collection_insert_many(c, (const bson_t **)docs, n, &opts,
	    &reply, &error)) {
		*added = (size_t)get_i64(&reply, "insertedCount");
		goto out;
	}
	if (!bson_iter_init_find(&it, &reply, "writeErrors") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &errs)) {
		rc = mongo_fail(op, &error);
		goto out;
	}
	while (bson_iter_next(&errs)) {
		bson_iter_t code;

		if (!BSON_ITER_HOLDS_DOCUMENT(&errs) ||
		    !bson_iter_recurse(&errs, &one) ||
		    !bson_iter_find(&one, "code") ||
		    (code = one, bson_iter_as_int64(&code)) != 11000) {
			rc = mongo_fail(op, &error);
			goto out;
		}
	}
	*added = (size_t)get_i64(&reply, "insertedCount");
out:
	bson_destroy(&opts);
	bson_destroy(&reply);
	return rc;
}

struct id_slot {
	const char *id;
	size_t at;
};

static int
cmp_id_slot(const void *a, const void *b)
{
	return strcmp(((const struct id_slot *)a)->id,
	    ((const struct id_slot *)b)->id);
}

/* Which of the messages are stored already: one query of their ids,
 * answered with ids only (a second import then sends no bodies). */
static int
msgs_present(struct mongo *m, const struct store_msg *v, size_t n,
    bool *there)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	bson_t cond, in, proj;
	struct id_slot *slots = NULL, probe, *hit;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t error;
	char id[STORE_MSGID_MAX + 1];
	int rc = OV_OK;

	if ((slots = calloc(n, sizeof(*slots))) == NULL)
		return OV_ENOMEM;
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &cond);
	BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
	for (size_t i = 0; i < n; i++) {
		char key[24];

		snprintf(key, sizeof(key), "%zu", i);
		if (!put_str(&in, key, v[i].id))
			rc = OV_EINVAL;
		slots[i].id = v[i].id;
		slots[i].at = i;
	}
	bson_append_array_end(&cond, &in);
	bson_append_document_end(&filter, &cond);
	if (rc != OV_OK)
		goto out;
	qsort(slots, n, sizeof(*slots), cmp_id_slot);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "_id", 1);
	bson_append_document_end(&opts, &proj);
	BSON_APPEND_INT32(&opts, "batchSize", (int32_t)n);
	cur = mongoc_collection_find_with_opts(m->coll[COLL_MENSAJES], &filter,
	    &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		get_str(doc, "_id", id, sizeof(id));
		probe.id = id;
		if ((hit = bsearch(&probe, slots, n, sizeof(*slots),
		    cmp_id_slot)) != NULL)
			there[hit->at] = true;
	}
	if (mongoc_cursor_error(cur, &error))
		rc = mongo_fail("import messages", &error);
out:
	if (cur != NULL)
		mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	free(slots);
	return rc;
}

static int
mongo_msgs_import(void *impl, const struct store_msg *v, size_t n,
    size_t *added)
{
	struct mongo *m = impl;
	bson_t **docs = NULL;
	bool *there = NULL;
	size_t made = 0;
	int rc = OV_OK;

	if ((docs = calloc(n, sizeof(*docs))) == NULL ||
	    (there = calloc(n, sizeof(*there))) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	if ((rc = msgs_present(m, v, n, there)) != OV_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *msg = &v[i];
		bool in = msg->dir == STORE_IN;
		bson_t *d;

		if (there[i])
			continue;
		if ((d = bson_new()) == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
		docs[made++] = d;
		BSON_APPEND_UTF8(d, "wa_id", msg->wa_id);
		BSON_APPEND_INT32(d, "dir", in ? STORE_IN : STORE_OUT);
		BSON_APPEND_INT64(d, "ts", msg->ts);
		BSON_APPEND_INT64(d, "seq", next_seq(m));
		if (in) {
			BSON_APPEND_UTF8(d, "status", "handled");
			BSON_APPEND_INT64(d, "claimed_at", msg->ts);
			BSON_APPEND_INT64(d, "handled_at", msg->ts);
		} else {
			BSON_APPEND_UTF8(d, "status", msg->status);
			BSON_APPEND_INT32(d, "rank",
			    store_status_rank(msg->status));
		}
		if (!put_str(d, "_id", msg->id) ||
		    !put_str(d, "type", msg->type) ||
		    !put_str(d, "body", msg->body) ||
		    !put_str(d, "raw", msg->raw)) {
			rc = OV_EINVAL;
			goto out;
		}
	}
	if (made > 0)
		rc = insert_new(m->coll[COLL_MENSAJES], docs, made,
		    "import messages", added);
out:
	for (size_t i = 0; i < made; i++)
		bson_destroy(docs[i]);
	free(docs);
	free(there);
	return rc;
}

/* One update raises a lower (or missing: another program's record)
 * value; when nothing matched, an insert creates the counter, and a
 * duplicate key then means it already stands at or past at_least. */
static int
mongo_counter_raise(void *impl, const char *name, int64_t at_least,
    bool *raised)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = m->coll[COLL_CONTADORES];
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER;
	bson_t reply = BSON_INITIALIZER, doc = BSON_INITIALIZER;
	bson_t or, alt, cond, set;
	bson_error_t error;
	int rc = OV_OK;

	if (!put_str(&filter, "_id", name) || !put_str(&doc, "_id", name)) {
		rc = OV_EINVAL;
		goto out;
	}
	BSON_APPEND_ARRAY_BEGIN(&filter, "$or", &or);
	BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&alt, "value", &cond);
	BSON_APPEND_INT64(&cond, "$lt", at_least);
	bson_append_document_end(&alt, &cond);
	bson_append_document_end(&or, &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &alt);
	BSON_APPEND_DOCUMENT_BEGIN(&alt, "value", &cond);
	BSON_APPEND_BOOL(&cond, "$exists", false);
	bson_append_document_end(&alt, &cond);
	bson_append_document_end(&or, &alt);
	bson_append_array_end(&filter, &or);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "value", at_least);
	bson_append_document_end(&update, &set);
	if (!mongoc_collection_update_one(c, &filter, &update, NULL, &reply,
	    &error)) {
		rc = mongo_fail("counter raise", &error);
		goto out;
	}
	if (get_i64(&reply, "matchedCount") == 1) {
		*raised = true;
		goto out;
	}
	BSON_APPEND_INT64(&doc, "value", at_least);
	if (mongoc_collection_insert_one(c, &doc, NULL, NULL, &error))
		*raised = true;
	else if (!is_duplicate(&error))
		rc = mongo_fail("counter raise", &error);
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	bson_destroy(&reply);
	bson_destroy(&doc);
	return rc;
}

static int
mongo_quote_by_number(void *impl, int64_t number, struct store_quote *out,
    bool *found)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, *doc = NULL;
	int rc;

	BSON_APPEND_INT64(&filter, "number", number);
	rc = find_one(m->coll[COLL_PRESUPUESTOS], &filter, "quote by number",
	    &doc);
	if (rc == OV_OK && doc != NULL) {
		rc = quote_from_doc(doc, out);
		*found = rc == OV_OK;
	}
	bson_destroy(doc);
	bson_destroy(&filter);
	return rc;
}

/* One find of {number: {$in: numbers}}. */
static int
mongo_quotes_by_number(void *impl, const int64_t *numbers, size_t n,
    struct store_quote *out, bool *found)
{
	struct mongo *m = impl;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, cond, in;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t error;
	int rc = OV_OK;

	BSON_APPEND_DOCUMENT_BEGIN(&filter, "number", &cond);
	BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
	for (size_t i = 0; i < n; i++) {
		char key[24];

		snprintf(key, sizeof(key), "%zu", i);
		BSON_APPEND_INT64(&in, key, numbers[i]);
	}
	bson_append_array_end(&cond, &in);
	bson_append_document_end(&filter, &cond);
	BSON_APPEND_INT32(&opts, "batchSize", (int32_t)n);
	cur = mongoc_collection_find_with_opts(m->coll[COLL_PRESUPUESTOS],
	    &filter, &opts, NULL);
	while (rc == OV_OK && mongoc_cursor_next(cur, &doc)) {
		struct store_quote q;

		memset(&q, 0, sizeof(q));
		if ((rc = quote_from_doc(doc, &q)) != OV_OK)
			break;
		/* Every slot asking for this number (a number asked twice
		 * gets a copy). */
		for (size_t i = 0; i < n && rc == OV_OK; i++) {
			if (numbers[i] != q.number || found[i])
				continue;
			out[i] = q;
			if (q.doc != NULL &&
			    (out[i].doc = strdup(q.doc)) == NULL)
				rc = OV_ENOMEM;
			else
				found[i] = true;
		}
		store_quote_clear(&q);
	}
	if (rc == OV_OK && mongoc_cursor_error(cur, &error))
		rc = mongo_fail("quotes by number", &error);
	mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

/* Unordered inserts; the unique index on number (and _id) leaves a taken
 * one out as a duplicate key. */
static int
mongo_quotes_import(void *impl, const struct store_quote *v, size_t n,
    size_t *added)
{
	struct mongo *m = impl;
	bson_t **docs = NULL;
	size_t made = 0;
	int rc = OV_OK;

	if ((docs = calloc(n, sizeof(*docs))) == NULL)
		return OV_ENOMEM;
	for (; made < n; made++) {
		if ((docs[made] = bson_new()) == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
		if (!quote_to_doc(&v[made], docs[made])) {
			made++;
			rc = OV_EINVAL;
			goto out;
		}
	}
	rc = insert_new(m->coll[COLL_PRESUPUESTOS], docs, n, "import quotes",
	    added);
out:
	for (size_t i = 0; i < made; i++)
		bson_destroy(docs[i]);
	free(docs);
	return rc;
}

/* The ISR queue lives in its own collection, `isr_cola`, reached by name
 * (it has no index but _id: it holds a handful of entries at a time). */
static mongoc_collection_t *
isr_coll(struct mongo *m)
{
	return mongoc_client_get_collection(m->client, m->db, "isr_cola");
}

static int
mongo_isr_put(void *impl, const struct store_isr *e, int64_t seq)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = isr_coll(m);
	bson_t doc = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_OK;

	if (c == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	BSON_APPEND_INT32(&doc, "attempts", e->attempts);
	BSON_APPEND_INT64(&doc, "created_at", e->created_at);
	BSON_APPEND_INT64(&doc, "next_attempt_at", e->next_attempt_at);
	BSON_APPEND_INT64(&doc, "seq", seq);
	if (!put_str(&doc, "_id", e->id) ||
	    !put_str(&doc, "quote_id", e->quote_id) ||
	    !put_str(&doc, "payload", e->payload) ||
	    !put_str(&doc, "last_error", e->last_error)) {
		rc = OV_EINVAL;
		goto out;
	}
	if (!mongoc_collection_insert_one(c, &doc, NULL, NULL, &error))
		rc = is_duplicate(&error) ? OV_EEXIST :
		    mongo_fail("isr put", &error);
out:
	if (c != NULL)
		mongoc_collection_destroy(c);
	bson_destroy(&doc);
	return rc;
}

static int
mongo_isr_list(void *impl, int limit, struct store_isr **out, size_t *n)
{
	struct mongo *m = impl;
	mongoc_collection_t *c = isr_coll(m);
	mongoc_cursor_t *cur = NULL;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	const bson_t *doc;
	bson_error_t error;
	struct store_isr *v = NULL;
	size_t len = 0;
	int rc = OV_OK;

	if (c == NULL || (v = calloc((size_t)limit, sizeof(*v))) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "created_at", 1);
	BSON_APPEND_INT32(&sort, "seq", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT64(&opts, "limit", limit);
	cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);
	while (cur != NULL && len < (size_t)limit &&
	    mongoc_cursor_next(cur, &doc)) {
		struct store_isr *e = &v[len++];

		get_str(doc, "_id", e->id, sizeof(e->id));
		get_str(doc, "quote_id", e->quote_id, sizeof(e->quote_id));
		e->attempts = (int)get_i64(doc, "attempts");
		e->created_at = get_i64(doc, "created_at");
		e->next_attempt_at = get_i64(doc, "next_attempt_at");
		if ((rc = get_dup(doc, "payload", &e->payload)) != OV_OK ||
		    (rc = get_dup(doc, "last_error", &e->last_error)) != OV_OK)
			goto out;
		if (e->payload == NULL) {     /* not ours: passed over */
			len--;
			memset(e, 0, sizeof(*e));
		}
	}
	if (cur == NULL)
		rc = OV_ENOMEM;
	else if (mongoc_cursor_error(cur, &error))
		rc = mongo_fail("isr list", &error);
	if (rc != OV_OK)
		goto out;
	*out = v;
	*n = len;
	v = NULL;
out:
	if (v != NULL)
		store_isr_free(v, len);
	if (cur != NULL)
		mongoc_cursor_destroy(cur);
	if (c != NULL)
		mongoc_collection_destroy(c);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

/* update_one on isr_cola by _id (and more of filter); *matched. */
static int
isr_update(struct mongo *m, bson_t *filter, const bson_t *update,
    const char *op, bool *matched)
{
	mongoc_collection_t *c = isr_coll(m);
	bson_t reply = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_OK;

	if (c == NULL)
		return OV_ENOMEM;
	if (!mongoc_collection_update_one(c, filter, update, NULL, &reply,
	    &error))
		rc = mongo_fail(op, &error);
	else
		*matched = get_i64(&reply, "matchedCount") == 1;
	mongoc_collection_destroy(c);
	bson_destroy(&reply);
	return rc;
}

static int
mongo_isr_claim(void *impl, const char *id, int64_t seen, int64_t until)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	bool matched = false;
	int rc = OV_EBUSY;

	if (!put_str(&filter, "_id", id))
		goto out;
	BSON_APPEND_INT64(&filter, "next_attempt_at", seen);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT64(&set, "next_attempt_at", until);
	bson_append_document_end(&update, &set);
	rc = isr_update(impl, &filter, &update, "isr claim", &matched);
	if (rc == OV_OK && !matched)
		rc = OV_EBUSY;
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	return rc;
}

static int
mongo_isr_reschedule(void *impl, const char *id, int attempts,
    int64_t next_attempt_at, const char *error_text)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	bool matched = false;
	int rc = OV_EINVAL;

	if (!put_str(&filter, "_id", id))
		goto out;
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_INT32(&set, "attempts", attempts);
	BSON_APPEND_INT64(&set, "next_attempt_at", next_attempt_at);
	if (!put_str(&set, "last_error", error_text))
		goto out;
	bson_append_document_end(&update, &set);
	rc = isr_update(impl, &filter, &update, "isr reschedule", &matched);
	if (rc == OV_OK && !matched)
		rc = OV_ENOTFOUND;
out:
	bson_destroy(&filter);
	bson_destroy(&update);
	return rc;
}

static int
mongo_isr_delete(void *impl, const char *id)
{
	struct mongo *m = impl;
	mongoc_collection_t *c;
	bson_t filter = BSON_INITIALIZER;
	bson_error_t error;
	int rc = OV_OK;

	if (!put_str(&filter, "_id", id)) {
		bson_destroy(&filter);
		return OV_EINVAL;
	}
	if ((c = isr_coll(m)) == NULL) {
		rc = OV_ENOMEM;
	} else {
		if (!mongoc_collection_delete_one(c, &filter, NULL, NULL,
		    &error))
			rc = mongo_fail("isr delete", &error);
		mongoc_collection_destroy(c);
	}
	bson_destroy(&filter);
	return rc;
}


const struct store_ops store_mongo_ops = {
	.name = "mongodb",
	.open = mongo_open,
	.close = mongo_close,
	.inbound_claim = mongo_inbound_claim,
	.inbound_done = mongo_inbound_done,
	.inbound_note = mongo_inbound_note,
	.outbound_put = mongo_outbound_put,
	.status_update = mongo_status_update,
	.msg_get = mongo_msg_get,
	.history = mongo_history,
	.customer_get = mongo_customer_get,
	.customer_put = mongo_customer_put,
	.counter_next = mongo_counter_next,
	.token_get = mongo_token_get,
	.token_put = mongo_token_put,
	.catalog_begin = mongo_catalog_begin,
	.catalog_put = mongo_catalog_put,
	.catalog_commit = mongo_catalog_commit,
	.catalog_abort = mongo_catalog_abort,
	.catalog_get = mongo_catalog_get,
	.catalog_count = mongo_catalog_count,
	.catalog_search = mongo_catalog_search,
	.catalog_lookup = mongo_catalog_lookup,
	.quote_put = mongo_quote_put,
	.quote_get = mongo_quote_get,
	.quote_list_older = mongo_quote_list_older,
	.quote_list_older_except = mongo_quote_list_older_except,
	.quote_pending_for = mongo_quote_pending_for,
	.quote_delete = mongo_quote_delete,
	.outbox_put = mongo_outbox_put,
	.outbox_due = mongo_outbox_due,
	.outbox_count_for = mongo_outbox_count_for,
	.outbox_claim = mongo_outbox_claim,
	.outbox_reschedule = mongo_outbox_reschedule,
	.outbox_delete = mongo_outbox_delete,
	.outbox_due_for = mongo_outbox_due_for,
	.outbox_orphan = mongo_outbox_orphan,
	.outbox_taken_put = mongo_outbox_taken_put,
	.outbox_taken = mongo_outbox_taken,
	.conv_get = mongo_conv_get,
	.conv_put = mongo_conv_put,
	.conv_lease = mongo_conv_lease,
	.conv_release = mongo_conv_release,
	.turn_commit = mongo_turn_commit,
	.turn_recover = mongo_turn_recover,
	.proactive_commit = mongo_proactive_commit,
	.proactive_batch = mongo_proactive_batch,
	.marker_get = mongo_marker_get,
	.marker_delete = mongo_marker_delete,
	.proactive_recover = mongo_proactive_recover,
	.conv_scan = mongo_conv_scan,
	.quote_scan_expiring = mongo_quote_scan_expiring,
	.demand_put = mongo_demand_put,
	.demand_scan = mongo_demand_scan,
	.demand_delete = mongo_demand_delete,
	.identity_get = mongo_identity_get,
	.identity_put = mongo_identity_put,
	.identity_move = mongo_identity_move,
	/* ---- inbox */
	.conv_swap = mongo_conv_swap,
	.inbox_list = mongo_inbox_list,
	.inbox_stats = mongo_inbox_stats,
	/* legacy and ISR */
	.msgs_import = mongo_msgs_import,
	.quotes_by_number = mongo_quotes_by_number,
	.quotes_import = mongo_quotes_import,
	.counter_raise = mongo_counter_raise,
	.quote_by_number = mongo_quote_by_number,
	.isr_put = mongo_isr_put,
	.isr_list = mongo_isr_list,
	.isr_claim = mongo_isr_claim,
	.isr_reschedule = mongo_isr_reschedule,
	.isr_delete = mongo_isr_delete,
};
