/*
 * store_sqlite.c - the SQLite store backend (DESIGN.md section 4).
 *
 * One database file, $OVIDIO_DATA_DIR/ovidio.db, in WAL mode so readers
 * never wait for the writer, synchronous=FULL because a spool file is
 * deleted once the store accepted its message, and a busy timeout so
 * processes take turns for the single write lock.
 *
 * Every value is bound as a parameter. The only text formatted into SQL
 * are table names, and those come from the fixed catalog list plus a
 * process id.
 *
 * Multi-statement operations run inside BEGIN IMMEDIATE, which takes the
 * write lock up front, so two processes never interleave between a check
 * and the write that depends on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "store_impl.h"

#define SQ_BUSY_MS 10000
/* A catalog writer keeps at most this much before writing it out. */
#define SQ_BATCH_ITEMS 1000
#define SQ_BATCH_BYTES ((size_t)8 * 1024 * 1024)
/* Left-over staging tables dropped per catalog_begin. */
#define SQ_STALE_MAX 32
#define SQ_TABLE_MAX 64

/* The FTS5 table of a catalog's search tokens: tokens are whole words
 * of [a-z0-9._:], matched exactly (detail=none: no phrases, no positions). */
#define CATALOG_FTS5_ARGS "(tokens, detail=none, columnsize=0," \
	" tokenize=\"ascii tokenchars '.:_'\")"

/*
 * Schema, by version: migrations[i] takes a database from user_version i
 * to i + 1. Later issues append; never edit a released step.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE IF NOT EXISTS mensajes ("
	" seq INTEGER PRIMARY KEY,"          /* insertion order */
	" id TEXT NOT NULL UNIQUE,"          /* wamid */
	" wa_id TEXT NOT NULL,"
	" dir INTEGER NOT NULL,"             /* 0 in, 1 out */
	" ts INTEGER NOT NULL,"
	" type TEXT,"                        /* NULL: stub from a status */
	" status TEXT NOT NULL,"
	" body TEXT,"
	" raw TEXT,"
	" error TEXT,"
	" claimed_at INTEGER,"
	" handled_at INTEGER);"
	"CREATE INDEX IF NOT EXISTS mensajes_wa_ts ON mensajes (wa_id, ts, seq);"
	"CREATE TABLE IF NOT EXISTS clientes ("
	" wa_id TEXT PRIMARY KEY,"
	" cianbox_id INTEGER NOT NULL DEFAULT 0,"
	" verified INTEGER NOT NULL DEFAULT 0,"
	" name TEXT,"
	" profile TEXT,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS contadores ("
	" name TEXT PRIMARY KEY,"
	" value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS tokens ("
	" name TEXT PRIMARY KEY,"
	" value TEXT NOT NULL,"
	" expires_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS productos_cache ("
	" key TEXT PRIMARY KEY,"
	" doc TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS clientes_cianbox ("
	" key TEXT PRIMARY KEY,"
	" doc TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS presupuestos ("
	" id TEXT PRIMARY KEY,"
	" number INTEGER NOT NULL UNIQUE,"
	" wa_id TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" doc TEXT);"
	"CREATE INDEX IF NOT EXISTS presupuestos_created"
	" ON presupuestos (created_at);",
	/* 1 -> 2: a customer's pending quote (store_quote_pending_for). */
	"CREATE INDEX IF NOT EXISTS presupuestos_wa_state"
	" ON presupuestos (wa_id, state, created_at);",
	/* 2 -> 3: replies waiting to be sent (store_outbox_*). */
	"CREATE TABLE IF NOT EXISTS outbox ("
	" seq INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL UNIQUE,"
	" wa_id TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" payload TEXT NOT NULL,"
	" last_error TEXT,"
	" attempts INTEGER NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" next_attempt_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at);"
	"CREATE INDEX IF NOT EXISTS outbox_wa ON outbox (wa_id);",
	/* 3 -> 4: catalog search and lookups (store_catalog_search,
	 * store_catalog_lookup). Items keep their documents; their tokens
	 * and lookup keys arrive with the next sync. */
	"CREATE TABLE productos_cache__v4 (rid INTEGER PRIMARY KEY,"
	" key TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);"
	"INSERT INTO productos_cache__v4 (key, doc) SELECT key, doc FROM productos_cache;"
	"DROP TABLE productos_cache;"
	"ALTER TABLE productos_cache__v4 RENAME TO productos_cache;"
	"CREATE VIRTUAL TABLE productos_cache__fts USING fts5" CATALOG_FTS5_ARGS ";"
	"CREATE TABLE productos_cache__lk (lookup TEXT NOT NULL, rid INTEGER NOT NULL,"
	" PRIMARY KEY (lookup, rid)) WITHOUT ROWID;"
	"CREATE TABLE clientes_cianbox__v4 (rid INTEGER PRIMARY KEY,"
	" key TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);"
	"INSERT INTO clientes_cianbox__v4 (key, doc) SELECT key, doc FROM clientes_cianbox;"
	"DROP TABLE clientes_cianbox;"
	"ALTER TABLE clientes_cianbox__v4 RENAME TO clientes_cianbox;"
	"CREATE VIRTUAL TABLE clientes_cianbox__fts USING fts5" CATALOG_FTS5_ARGS ";"
	"CREATE TABLE clientes_cianbox__lk (lookup TEXT NOT NULL, rid INTEGER NOT NULL,"
	" PRIMARY KEY (lookup, rid)) WITHOUT ROWID;",
	/* 4 -> 5: conversations with their lease, the record of committed
	 * turns (store_turn_commit), outbox lanes (existing entries are
	 * replies). */
	"CREATE TABLE conversaciones ("
	" key TEXT PRIMARY KEY,"
	" owner TEXT NOT NULL DEFAULT 'bot',"
	" agent TEXT NOT NULL DEFAULT '',"
	" last_inbound INTEGER NOT NULL DEFAULT 0,"
	" updated_at INTEGER NOT NULL DEFAULT 0,"
	" lease_holder TEXT,"
	" lease_until INTEGER NOT NULL DEFAULT 0,"
	" doc TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX conversaciones_owner ON conversaciones (owner, last_inbound);"
	"CREATE INDEX conversaciones_updated ON conversaciones (updated_at);"
	"CREATE TABLE turnos ("
	" id TEXT PRIMARY KEY,"
	" key TEXT NOT NULL,"
	" created_at INTEGER NOT NULL);"
	"ALTER TABLE outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX outbox_lane ON outbox (lane, created_at, seq);",
	/* 5 -> 6 (inbox): a customer's messages by direction, for the
	 * inbox's unanswered counts and the status page's daily figures. */
	"CREATE INDEX IF NOT EXISTS mensajes_wa_dir_ts"
	" ON mensajes (wa_id, dir, ts);"
	"CREATE INDEX IF NOT EXISTS mensajes_dir_ts ON mensajes (dir, ts);",
	/* 6 -> 7: who claimed an outbox entry ("host:pid"), whether it was
	 * taken back from a claimer that died, and the parts of it Meta's
	 * status webhooks say it took (store_outbox_taken), which go with
	 * the entry. */
	"ALTER TABLE outbox ADD COLUMN claimer TEXT;"
	"ALTER TABLE outbox ADD COLUMN orphaned INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE outbox_taken ("
	" entry TEXT NOT NULL,"
	" part INTEGER NOT NULL,"
	" wamid TEXT NOT NULL,"
	" PRIMARY KEY (entry, part)) WITHOUT ROWID;"
	"CREATE TRIGGER outbox_taken_gone AFTER DELETE ON outbox BEGIN"
	" DELETE FROM outbox_taken WHERE entry = old.id; END;",
	/* 7 -> 8 (media): the copy of an inbound message's media kept for
	 * the salesperson (store_inbound_note). */
	"ALTER TABLE mensajes ADD COLUMN media TEXT;",
	/* 8 -> 9 (inbox): the list, most recent first, read in index order
	 * rather than every conversation sorted. */
	"CREATE INDEX IF NOT EXISTS conversaciones_last"
	" ON conversaciones (last_inbound);",
};

#define SQ_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Catalog tables, in the order of the Q_CAT_* statement pairs. */
static const char *const catalogs[] = { "productos_cache", "clientes_cianbox" };

#define MSG_COLS "id, wa_id, dir, ts, type, status, body, raw, media"
#define QUOTE_COLS "id, number, wa_id, state, created_at, expires_at, doc"
#define OUTBOX_COLS "id, wa_id, kind, payload, last_error, attempts," \
	" created_at, next_attempt_at, lane"
/* What a listing reads: OUTBOX_COLS and the claim. */
#define OUTBOX_READ OUTBOX_COLS ", claimer, orphaned"
#define CONV_COLS "key, owner, agent, last_inbound, updated_at, doc"

enum sq_query {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_IN_INSERT,
	Q_IN_RECLAIM,
	Q_IN_DONE,
	Q_IN_NOTE,
	Q_OUT_PUT,
	Q_MSG_DIR,
	Q_STATUS_STUB,
	Q_STATUS_RAISE,
	Q_MSG_GET,
	Q_HISTORY,
	Q_CUSTOMER_GET,
	Q_CUSTOMER_PUT,
	Q_COUNTER_NEXT,
	Q_TOKEN_GET,
	Q_TOKEN_PUT,
	Q_CAT_GET_0,
	Q_CAT_GET_1,
	Q_CAT_COUNT_0,
	Q_CAT_COUNT_1,
	Q_CAT_SEARCH_0,
	Q_CAT_SEARCH_1,
	Q_CAT_LOOKUP_0,
	Q_CAT_LOOKUP_1,
	Q_QUOTE_PUT,
	Q_QUOTE_GET,
	Q_QUOTE_OLDER,
	Q_QUOTE_OLDER_EXCEPT,
	Q_QUOTE_PENDING,
	Q_QUOTE_DELETE,
	Q_OUTBOX_PUT,
	Q_OUTBOX_DUE,
	Q_OUTBOX_COUNT_FOR,
	Q_OUTBOX_CLAIM,
	Q_OUTBOX_RESCHEDULE,
	Q_OUTBOX_DELETE,
	Q_OUTBOX_DUE_FOR,
	Q_OUTBOX_ORPHAN,
	Q_OUTBOX_TAKEN_PUT,
	Q_OUTBOX_TAKEN,
	Q_CONV_GET,
	Q_CONV_PUT,
	Q_CONV_ENSURE,
	Q_CONV_LEASE,
	Q_CONV_RELEASE,
	Q_TURN_INSERT,
	Q_TURN_CONV,
	Q__MAX
};

static const char *const queries[Q__MAX] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_IN_INSERT] =
	    "INSERT INTO mensajes"
	    " (id, wa_id, dir, ts, type, status, body, raw, claimed_at)"
	    " VALUES (?1, ?2, 0, ?3, ?4, 'received', ?5, ?6, ?7)"
	    " ON CONFLICT (id) DO NOTHING",
	[Q_IN_RECLAIM] =
	    "UPDATE mensajes SET claimed_at = ?1"
	    " WHERE id = ?2 AND dir = 0 AND status = 'received'"
	    " AND claimed_at < ?3",
	[Q_IN_DONE] =
	    "UPDATE mensajes SET status = 'handled', handled_at = ?1"
	    " WHERE id = ?2 AND dir = 0",
	[Q_IN_NOTE] =
	    "UPDATE mensajes SET body = COALESCE(?2, body),"
	    " media = COALESCE(?3, media) WHERE id = ?1 AND dir = 0",
	[Q_OUT_PUT] =
	    "INSERT INTO mensajes (id, wa_id, dir, ts, type, status, body, raw)"
	    " VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT (id) DO UPDATE SET"
	    " wa_id = excluded.wa_id, ts = excluded.ts, type = excluded.type,"
	    " body = excluded.body, raw = excluded.raw,"
	    " status = CASE WHEN ov_status_rank(excluded.status) >"
	    " ov_status_rank(status) THEN excluded.status ELSE status END"
	    " WHERE dir = 1",
	[Q_MSG_DIR] = "SELECT dir FROM mensajes WHERE id = ?1",
	[Q_STATUS_STUB] =
	    "INSERT INTO mensajes (id, wa_id, dir, ts, status, error)"
	    " VALUES (?1, ?2, 1, ?3, ?4, ?5)",
	[Q_STATUS_RAISE] =
	    "UPDATE mensajes SET"
	    " status = CASE WHEN ov_status_rank(?2) > ov_status_rank(status)"
	    " THEN ?2 ELSE status END,"
	    " error = COALESCE(?3, error)"
	    " WHERE id = ?1 AND dir = 1",
	[Q_MSG_GET] = "SELECT " MSG_COLS " FROM mensajes WHERE id = ?1",
	/* Stubs (type NULL) are not messages anyone wrote or read. */
	[Q_HISTORY] =
	    "SELECT " MSG_COLS " FROM (SELECT seq, " MSG_COLS " FROM mensajes"
	    " WHERE wa_id = ?1 AND type IS NOT NULL"
	    " ORDER BY ts DESC, seq DESC LIMIT ?2)"
	    " ORDER BY ts ASC, seq ASC",
	[Q_CUSTOMER_GET] =
	    "SELECT wa_id, cianbox_id, verified, name, profile, created_at,"
	    " updated_at FROM clientes WHERE wa_id = ?1",
	[Q_CUSTOMER_PUT] =
	    "INSERT INTO clientes (wa_id, cianbox_id, verified, name, profile,"
	    " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
	    " ON CONFLICT (wa_id) DO UPDATE SET"
	    " cianbox_id = excluded.cianbox_id, verified = excluded.verified,"
	    " name = excluded.name, profile = excluded.profile,"
	    " updated_at = excluded.updated_at",
	[Q_COUNTER_NEXT] =
	    "INSERT INTO contadores (name, value) VALUES (?1, 1)"
	    " ON CONFLICT (name) DO UPDATE SET value = value + 1"
	    " RETURNING value",
	[Q_TOKEN_GET] = "SELECT value, expires_at FROM tokens WHERE name = ?1",
	[Q_TOKEN_PUT] =
	    "INSERT INTO tokens (name, value, expires_at) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
	    " expires_at = excluded.expires_at",
	[Q_CAT_GET_0] = "SELECT doc FROM productos_cache WHERE key = ?1",
	[Q_CAT_GET_1] = "SELECT doc FROM clientes_cianbox WHERE key = ?1",
	[Q_CAT_COUNT_0] = "SELECT count(*) FROM productos_cache",
	[Q_CAT_COUNT_1] = "SELECT count(*) FROM clientes_cianbox",
#define CAT_SEARCH(t) \
	"SELECT c.key, c.doc FROM " t "__fts f JOIN " t " c ON c.rid = f.rowid" \
	" WHERE " t "__fts MATCH ?1 ORDER BY f.rowid LIMIT ?2"
#define CAT_LOOKUP(t) \
	"SELECT c.key, c.doc FROM " t "__lk l JOIN " t " c ON c.rid = l.rid" \
	" WHERE l.lookup = ?1 ORDER BY l.rid LIMIT ?2"
	[Q_CAT_SEARCH_0] = CAT_SEARCH("productos_cache"),
	[Q_CAT_SEARCH_1] = CAT_SEARCH("clientes_cianbox"),
	[Q_CAT_LOOKUP_0] = CAT_LOOKUP("productos_cache"),
	[Q_CAT_LOOKUP_1] = CAT_LOOKUP("clientes_cianbox"),
	[Q_QUOTE_PUT] =
	    "INSERT INTO presupuestos (" QUOTE_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT (id) DO UPDATE SET number = excluded.number,"
	    " wa_id = excluded.wa_id, state = excluded.state,"
	    " created_at = excluded.created_at,"
	    " expires_at = excluded.expires_at, doc = excluded.doc",
	[Q_QUOTE_GET] = "SELECT " QUOTE_COLS " FROM presupuestos WHERE id = ?1",
	[Q_QUOTE_OLDER] =
	    "SELECT " QUOTE_COLS " FROM presupuestos WHERE created_at < ?1"
	    " ORDER BY created_at ASC, id ASC LIMIT ?2",
	[Q_QUOTE_OLDER_EXCEPT] =
	    "SELECT " QUOTE_COLS " FROM presupuestos WHERE created_at < ?1"
	    " AND state <> ?3 ORDER BY created_at ASC, id ASC LIMIT ?2",
	[Q_QUOTE_PENDING] =
	    "SELECT " QUOTE_COLS " FROM presupuestos"
	    " WHERE wa_id = ?1 AND state = 'pendiente_confirmacion'"
	    " ORDER BY created_at DESC, number DESC LIMIT 1",
	[Q_QUOTE_DELETE] = "DELETE FROM presupuestos WHERE id = ?1",
	[Q_OUTBOX_PUT] =
	    "INSERT INTO outbox (" OUTBOX_COLS ") VALUES"
	    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[Q_OUTBOX_DUE] =
	    "SELECT " OUTBOX_READ " FROM outbox WHERE next_attempt_at <= ?1"
	    " ORDER BY lane ASC, created_at ASC, seq ASC LIMIT ?2",
	[Q_OUTBOX_COUNT_FOR] = "SELECT count(*) FROM outbox WHERE wa_id = ?1",
	[Q_OUTBOX_CLAIM] =
	    "UPDATE outbox SET next_attempt_at = ?4, claimer = ?5"
	    " WHERE id = ?1 AND next_attempt_at = ?2"
	    " AND coalesce(claimer, '') = ?3",
	[Q_OUTBOX_RESCHEDULE] =
	    "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3,"
	    " last_error = ?4, claimer = NULL WHERE id = ?1",
	[Q_OUTBOX_DELETE] = "DELETE FROM outbox WHERE id = ?1",
	[Q_OUTBOX_DUE_FOR] =
	    "SELECT " OUTBOX_READ " FROM outbox WHERE wa_id = ?1"
	    " AND next_attempt_at <= ?2 ORDER BY created_at ASC, seq ASC"
	    " LIMIT ?3",
	[Q_OUTBOX_ORPHAN] =
	    "UPDATE outbox SET next_attempt_at = ?4, claimer = NULL,"
	    " orphaned = 1 WHERE id = ?1 AND next_attempt_at = ?2"
	    " AND coalesce(claimer, '') = ?3",
	/* Only while the entry is there: its deletion takes these along
	 * (trigger outbox_taken_gone), and nothing outlives it. */
	[Q_OUTBOX_TAKEN_PUT] =
	    "INSERT INTO outbox_taken (entry, part, wamid)"
	    " SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM outbox WHERE id = ?1)"
	    " ON CONFLICT (entry, part) DO NOTHING",
	[Q_OUTBOX_TAKEN] =
	    "SELECT part, wamid FROM outbox_taken WHERE entry = ?1"
	    " ORDER BY part LIMIT ?2",
	[Q_CONV_GET] = "SELECT " CONV_COLS ", lease_holder, lease_until"
	    " FROM conversaciones WHERE key = ?1",
	/* The lease is not the writer's business: left as it is. */
	[Q_CONV_PUT] =
	    "INSERT INTO conversaciones (" CONV_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT (key) DO UPDATE SET owner = excluded.owner,"
	    " agent = excluded.agent, last_inbound = excluded.last_inbound,"
	    " updated_at = excluded.updated_at, doc = excluded.doc",
	[Q_CONV_ENSURE] =
	    "INSERT INTO conversaciones (key, updated_at) VALUES (?1, ?2)"
	    " ON CONFLICT (key) DO NOTHING",
	[Q_CONV_LEASE] =
	    "UPDATE conversaciones SET lease_holder = ?2, lease_until = ?4"
	    " WHERE key = ?1 AND (lease_until <= ?3 OR lease_holder = ?2)",
	[Q_CONV_RELEASE] =
	    "UPDATE conversaciones SET lease_holder = NULL, lease_until = 0"
	    " WHERE key = ?1 AND lease_holder = ?2",
	[Q_TURN_INSERT] =
	    "INSERT INTO turnos (id, key, created_at) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (id) DO NOTHING",
	/* A committed turn ends its lease. */
	[Q_TURN_CONV] =
	    "INSERT INTO conversaciones (" CONV_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT (key) DO UPDATE SET owner = excluded.owner,"
	    " agent = excluded.agent, last_inbound = excluded.last_inbound,"
	    " updated_at = excluded.updated_at, doc = excluded.doc,"
	    " lease_holder = NULL, lease_until = 0",
};

struct sq {
	sqlite3 *db;
	sqlite3_stmt *stmt[Q__MAX];   /* prepared on first use */
	bool px_ready;                /* proactive tables made (see the end) */
	struct timespec busy_since;   /* when the current wait for a lock began */
};

/* A buffered catalog item: tokens joined by spaces (the FTS5 text),
 * lookup keys by newlines; either may be NULL. */
struct sq_item {
	char *key, *doc, *tokens, *lookups;
	int64_t rid;
};

/* A writer's statements on its staging tables. */
enum sq_writer_stmt {
	W_FIND,      /* rid of a key already staged */
	W_DEL,       /* W_DEL..W_DEL_LK: forget that rid */
	W_DEL_FTS,
	W_DEL_LK,
	W_INS,
	W_INS_FTS,
	W_INS_LK,
	W__MAX
};

struct sq_writer {
	struct sq *s;
	int cat;                       /* index into catalogs[] */
	char staging[SQ_TABLE_MAX];
	sqlite3_stmt *st[W__MAX];
	struct sq_item items[SQ_BATCH_ITEMS];
	size_t n, bytes;
	uint32_t seq;                  /* items added, for rid */
	int failed;                    /* a batch was lost: commit refuses */
};

/* ---- helpers ------------------------------------------------------------ */

/* Log one line naming the operation and return the error code for rc. */
static int
sq_fail(sqlite3 *db, const char *op, int rc)
{
	log_error("sqlite store: %s: %s", op, sqlite3_errmsg(db));
	if ((rc & 0xff) == SQLITE_BUSY)
		return OV_EBUSY;
	if (rc == SQLITE_NOMEM)
		return OV_ENOMEM;
	return OV_ESTORE;
}

/*
 * Wait for another process's lock. SQLite's own timeout handler sleeps
 * ever longer (up to 100 ms at a time), so a turn waiting behind commits
 * of a millisecond or two slept for hundreds of milliseconds while the
 * worker's processes kept writing: look again after 1, 2, 4 and then
 * every 8 ms, until SQ_BUSY_MS.
 */
static int
sq_busy(void *arg, int count)
{
	struct sq *s = arg;
	struct timespec now;
	long waited;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0)
		s->busy_since = now;
	waited = (long)(now.tv_sec - s->busy_since.tv_sec) * 1000 +
	    (now.tv_nsec - s->busy_since.tv_nsec) / 1000000;
	if (waited >= SQ_BUSY_MS)
		return 0;   /* SQLITE_BUSY to the caller */
	/* 1, 2, 4, then 8 ms a time, a little jitter so waiters spread */
	usleep((1000u << (count < 3 ? count : 3)) +
	    (unsigned)(getpid() * 7919 + count) % 500);
	return 1;
}

static int
sq_stmt(struct sq *s, enum sq_query q, sqlite3_stmt **out)
{
	int rc;

	if (s->stmt[q] == NULL) {
		rc = sqlite3_prepare_v3(s->db, queries[q], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmt[q], NULL);
		if (rc != SQLITE_OK) {
			s->stmt[q] = NULL;
			return sq_fail(s->db, "prepare", rc);
		}
	}
	*out = s->stmt[q];
	return OV_OK;
}

/* Make a cached statement ready for its next use. */
static void
sq_release(sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Bind NULL for a NULL string. The caller's string outlives the step:
 * every statement is reset and its bindings cleared before returning. */
static int
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int
bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	return sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* Step a statement that returns no rows. */
static int
sq_step_done(sqlite3 *db, sqlite3_stmt *st, const char *op)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		return sq_fail(db, op, rc);
	return OV_OK;
}

/* Run one of the cached statements without parameters. */
static int
sq_simple(struct sq *s, enum sq_query q, const char *op)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_stmt(s, q, &st)) != OV_OK)
		return rc;
	rc = sq_step_done(s->db, st, op);
	sq_release(st);
	return rc;
}

static int
sq_begin(struct sq *s)
{
	return sq_simple(s, Q_BEGIN, "begin");
}

/*
 * BEGIN IMMEDIATE for the writes that must not be lost to a busy
 * database (a turn's commit, a lease): the busy handler waits for the
 * lock, but some SQLITE_BUSY answers (WAL recovery by another process)
 * come without it, so wait and retry here too, within SQ_BUSY_MS.
 */
static int
sq_begin_retry(struct sq *s)
{
	sqlite3_stmt *st;
	int rc, waited = 0;

	if ((rc = sq_stmt(s, Q_BEGIN, &st)) != OV_OK)
		return rc;
	while ((rc = sqlite3_step(st)) != SQLITE_DONE &&
	    (rc & 0xff) == SQLITE_BUSY && waited < SQ_BUSY_MS) {
		sqlite3_reset(st);
		usleep(10000 + (unsigned)(getpid() * 7919 + waited) % 20000);
		waited += 20;
	}
	rc = rc == SQLITE_DONE ? OV_OK : sq_fail(s->db, "begin", rc);
	sq_release(st);
	return rc;
}

static int
sq_commit(struct sq *s)
{
	return sq_simple(s, Q_COMMIT, "commit");
}

/* Roll back whatever transaction an error left open. */
static void
sq_rollback(struct sq *s)
{
	if (sqlite3_get_autocommit(s->db))
		return;
	if (sq_simple(s, Q_ROLLBACK, "rollback") != OV_OK)
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Static SQL text (pragmas, DDL built from fixed names). */
static int
sq_exec(sqlite3 *db, const char *sql, const char *op)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return sq_fail(db, op, rc);
	return OV_OK;
}

/* Copy a text column into a fixed buffer; values were bounded on the way
 * in, so truncation only guards against a hand-edited database. */
static void
col_copy(char *dst, size_t cap, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);

	if (t == NULL) {
		dst[0] = '\0';
		return;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, t, n);
	dst[n] = '\0';
}

/* malloc'd copy of a text column; NULL for SQL NULL. */
static int
col_dup(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char *t;
	size_t n;
	char *p;

	*out = NULL;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return OV_OK;
	t = sqlite3_column_text(st, i);
	if (t == NULL)
		return OV_ENOMEM;
	n = (size_t)sqlite3_column_bytes(st, i);
	p = malloc(n + 1);
	if (p == NULL)
		return OV_ENOMEM;
	memcpy(p, t, n);
	p[n] = '\0';
	*out = p;
	return OV_OK;
}

static int
catalog_index(const char *name)
{
	for (size_t i = 0; i < sizeof(catalogs) / sizeof(catalogs[0]); i++)
		if (strcmp(name, catalogs[i]) == 0)
			return (int)i;
	return -1;
}

/* SQL function ov_status_rank(text): the one ranking of store_impl.h. */
static void
sql_status_rank(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_int(ctx,
	    store_status_rank((const char *)sqlite3_value_text(argv[0])));
}

/* ---- open / close ------------------------------------------------------- */

/* Create the file with mode 0600 before SQLite does, so the umask cannot
 * widen it; SQLite gives -wal and -shm the mode of the database. */
static int
sq_create_file(const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return OV_OK;
		log_error("sqlite store: cannot create %s: %s", path,
		    strerror(errno));
		return OV_EIO;
	}
	if (fchmod(fd, 0600) != 0)
		log_warn("sqlite store: chmod %s: %s", path, strerror(errno));
	close(fd);
	return OV_OK;
}

/*
 * Switch to WAL. On a brand-new file several processes (the worker's
 * children) race to do it, and SQLite answers SQLITE_BUSY there without
 * calling the busy handler, so wait and retry here, within SQ_BUSY_MS.
 */
static int
sq_journal_wal(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int rc, waited = 0;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = sq_fail(db, "journal_mode", rc);
		goto out;
	}
	while ((rc = sqlite3_step(st)) != SQLITE_ROW &&
	    (rc & 0xff) == SQLITE_BUSY && waited < SQ_BUSY_MS) {
		sqlite3_reset(st);
		usleep(10000 + (unsigned)(getpid() * 7919 + waited) % 20000);
		waited += 20;
	}
	if (rc != SQLITE_ROW) {
		rc = sq_fail(db, "journal_mode", rc);
		goto out;
	}
	mode = sqlite3_column_text(st, 0);
	if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
		log_error("sqlite store: cannot switch to WAL (mode %s)",
		    mode != NULL ? (const char *)mode : "?");
		rc = OV_ESTORE;
		goto out;
	}
	rc = OV_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
sq_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = sq_fail(db, "user_version", rc);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = sq_fail(db, "user_version", rc);
		goto out;
	}
	*version = sqlite3_column_int(st, 0);
	rc = OV_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

/* Bring the schema to SQ_SCHEMA_VERSION. The version is checked without
 * a lock first so an up-to-date database costs no write lock on open. */
static int
sq_migrate(struct sq *s)
{
	char sql[64];
	int version, rc;

	if ((rc = sq_user_version(s->db, &version)) != OV_OK)
		return rc;
	if (version == SQ_SCHEMA_VERSION)
		return OV_OK;
	if ((rc = sq_begin(s)) != OV_OK)
		goto out;
	/* Another process may have migrated while we waited for the lock. */
	if ((rc = sq_user_version(s->db, &version)) != OV_OK)
		goto out;
	if (version < 0 || version > SQ_SCHEMA_VERSION) {
		log_error("sqlite store: schema version %d is not one this "
		    "program knows (%d)", version, SQ_SCHEMA_VERSION);
		rc = OV_ESTORE;
		goto out;
	}
	for (; version < SQ_SCHEMA_VERSION; version++)
		if ((rc = sq_exec(s->db, migrations[version], "schema")) != OV_OK)
			goto out;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    SQ_SCHEMA_VERSION);
	if ((rc = sq_exec(s->db, sql, "schema version")) != OV_OK)
		goto out;
	rc = sq_commit(s);
out:
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

static void
sq_close(void *impl)
{
	struct sq *s = impl;

	if (s == NULL)
		return;
	for (int i = 0; i < Q__MAX; i++)
		sqlite3_finalize(s->stmt[i]);
	/* _v2: a writer the caller forgot keeps the handle until freed. */
	sqlite3_close_v2(s->db);
	free(s);
}

static int
sq_open(void **impl, const struct config *cfg)
{
	const char *dir = config_get(cfg, "OVIDIO_DATA_DIR");
	char path[PATH_MAX];
	struct sq *s = NULL;
	struct stat sb;
	int n, rc;

	*impl = NULL;
	if (dir == NULL) {
		log_error("sqlite store: OVIDIO_DATA_DIR is not set");
		return OV_ECONFIG;
	}
	if (stat(dir, &sb) != 0) {
		log_error("sqlite store: data directory %s: %s", dir,
		    strerror(errno));
		return OV_EIO;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_error("sqlite store: data directory %s: not a directory",
		    dir);
		return OV_EIO;
	}
	n = snprintf(path, sizeof(path), "%s/ovidio.db", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_error("sqlite store: data directory path too long");
		return OV_EIO;
	}
	if ((rc = sq_create_file(path)) != OV_OK)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return OV_ENOMEM;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (s->db != NULL)
			rc = sq_fail(s->db, "open", rc);
		else
			rc = OV_ENOMEM;
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_handler(s->db, sq_busy, s);
	if ((rc = sq_journal_wal(s->db)) != OV_OK)
		goto out;
	/* Reads through a memory map: most processes here are short-lived,
	 * so SQLite's own page cache starts cold, and a page read with
	 * pread costs a copy and an allocation (the inbox's search, which
	 * reads every conversation, takes a third less time). Writes still
	 * go through the WAL. */
	if ((rc = sq_exec(s->db, "PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;"
	    "PRAGMA mmap_size=268435456;", "pragmas")) != OV_OK)
		goto out;
	rc = sqlite3_create_function_v2(s->db, "ov_status_rank", 1,
	    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_status_rank, NULL,
	    NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = sq_fail(s->db, "create function", rc);
		goto out;
	}
	if ((rc = sq_migrate(s)) != OV_OK)
		goto out;
	*impl = s;
	s = NULL;
out:
	sq_close(s);
	return rc;
}

/* ---- mensajes ----------------------------------------------------------- */

static int
sq_inbound_claim(void *impl, const struct store_msg *m, int64_t now,
    int64_t lease_s, enum store_claim *out)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	enum store_claim claim;
	int64_t cutoff;
	int rc;

	cutoff = now < INT64_MIN + lease_s ? INT64_MIN : now - lease_s;
	if ((rc = sq_begin(s)) != OV_OK)
		goto out;
	if ((rc = sq_stmt(s, Q_IN_INSERT, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, m->id) || bind_text(st, 2, m->wa_id) ||
	    bind_int(st, 3, m->ts) || bind_text(st, 4, m->type) ||
	    bind_text(st, 5, m->body) || bind_text(st, 6, m->raw) ||
	    bind_int(st, 7, now)) {
		rc = sq_fail(s->db, "inbound claim", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "inbound claim")) != OV_OK)
		goto out;
	sq_release(st);
	st = NULL;
	if (sqlite3_changes(s->db) == 1) {
		claim = STORE_CLAIM_NEW;
	} else {
		/* Seen before: take it over only if its lease ran out. */
		if ((rc = sq_stmt(s, Q_IN_RECLAIM, &st)) != OV_OK)
			goto out;
		if (bind_int(st, 1, now) || bind_text(st, 2, m->id) ||
		    bind_int(st, 3, cutoff)) {
			rc = sq_fail(s->db, "inbound reclaim", SQLITE_ERROR);
			goto out;
		}
		if ((rc = sq_step_done(s->db, st, "inbound reclaim")) != OV_OK)
			goto out;
		claim = sqlite3_changes(s->db) == 1 ? STORE_CLAIM_RETRY :
		    STORE_CLAIM_DUPLICATE;
	}
	if ((rc = sq_commit(s)) != OV_OK)
		goto out;
	*out = claim;
out:
	sq_release(st);
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

static int
sq_inbound_done(void *impl, const char *id, int64_t now)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_IN_DONE, &st)) != OV_OK)
		goto out;
	if (bind_int(st, 1, now) || bind_text(st, 2, id)) {
		rc = sq_fail(s->db, "inbound done", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "inbound done")) != OV_OK)
		goto out;
	rc = sqlite3_changes(s->db) == 1 ? OV_OK : OV_ENOTFOUND;
out:
	sq_release(st);
	return rc;
}

static int
sq_inbound_note(void *impl, const char *id, const char *body,
    const char *media)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_IN_NOTE, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id) || bind_text(st, 2, body) ||
	    bind_text(st, 3, media)) {
		rc = sq_fail(s->db, "inbound note", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "inbound note")) != OV_OK)
		goto out;
	rc = sqlite3_changes(s->db) == 1 ? OV_OK : OV_ENOTFOUND;
out:
	sq_release(st);
	return rc;
}

static int
sq_outbound_put(void *impl, const struct store_msg *m)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_OUT_PUT, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, m->id) || bind_text(st, 2, m->wa_id) ||
	    bind_int(st, 3, m->ts) || bind_text(st, 4, m->type) ||
	    bind_text(st, 5, m->status) || bind_text(st, 6, m->body) ||
	    bind_text(st, 7, m->raw)) {
		rc = sq_fail(s->db, "outbound put", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "outbound put")) != OV_OK)
		goto out;
	if (sqlite3_changes(s->db) != 1) {
		/* The id belongs to an inbound message. */
		log_warn("sqlite store: outbound put: id is an inbound message");
		rc = OV_EEXIST;
	}
out:
	sq_release(st);
	return rc;
}

static int
sq_status_update(void *impl, const char *id, const char *wa_id,
    const char *status, int64_t ts, const char *error, bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	bool exists = false;
	int dir = -1, rc;

	if ((rc = sq_begin(s)) != OV_OK)
		goto out;
	if ((rc = sq_stmt(s, Q_MSG_DIR, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id)) {
		rc = sq_fail(s->db, "status update", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		exists = true;
		dir = sqlite3_column_int(st, 0);
	} else if (rc != SQLITE_DONE) {
		rc = sq_fail(s->db, "status update", rc);
		goto out;
	}
	sq_release(st);
	st = NULL;
	if (!exists) {
		/* Status before the message: keep it for outbound_put. */
		if ((rc = sq_stmt(s, Q_STATUS_STUB, &st)) != OV_OK)
			goto out;
		if (bind_text(st, 1, id) || bind_text(st, 2, wa_id) ||
		    bind_int(st, 3, ts) || bind_text(st, 4, status) ||
		    bind_text(st, 5, error)) {
			rc = sq_fail(s->db, "status stub", SQLITE_ERROR);
			goto out;
		}
		if ((rc = sq_step_done(s->db, st, "status stub")) != OV_OK)
			goto out;
	} else if (dir == STORE_OUT) {
		if ((rc = sq_stmt(s, Q_STATUS_RAISE, &st)) != OV_OK)
			goto out;
		if (bind_text(st, 1, id) || bind_text(st, 2, status) ||
		    bind_text(st, 3, error)) {
			rc = sq_fail(s->db, "status update", SQLITE_ERROR);
			goto out;
		}
		if ((rc = sq_step_done(s->db, st, "status update")) != OV_OK)
			goto out;
	} else {
		log_warn("sqlite store: status update for an inbound message "
		    "ignored");
	}
	if ((rc = sq_commit(s)) != OV_OK)
		goto out;
	*found = exists;
out:
	sq_release(st);
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

/* One row of MSG_COLS into m (whose strings must be unset). */
static int
read_msg(sqlite3_stmt *st, struct store_msg *m)
{
	int rc;

	col_copy(m->id, sizeof(m->id), st, 0);
	col_copy(m->wa_id, sizeof(m->wa_id), st, 1);
	m->dir = sqlite3_column_int(st, 2) == STORE_OUT ? STORE_OUT : STORE_IN;
	m->ts = (int64_t)sqlite3_column_int64(st, 3);
	col_copy(m->type, sizeof(m->type), st, 4);
	col_copy(m->status, sizeof(m->status), st, 5);
	col_copy(m->media, sizeof(m->media), st, 8);
	if ((rc = col_dup(st, 6, &m->body)) != OV_OK ||
	    (rc = col_dup(st, 7, &m->raw)) != OV_OK)
		store_msg_clear(m);
	return rc;
}

static int
sq_msg_get(void *impl, const char *id, struct store_msg *out, bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	*found = false;
	if ((rc = sq_stmt(s, Q_MSG_GET, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id)) {
		rc = sq_fail(s->db, "message get", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = OV_OK;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = sq_fail(s->db, "message get", rc);
		goto out;
	}
	if ((rc = read_msg(st, out)) != OV_OK)
		goto out;
	*found = true;
out:
	sq_release(st);
	return rc;
}

static int
sq_history(void *impl, const char *wa_id, int limit, struct store_msg **out,
    size_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	struct store_msg *v = NULL, *nv;
	size_t len = 0, cap = 0;
	int rc;

	if ((rc = sq_stmt(s, Q_HISTORY, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, wa_id) || bind_int(st, 2, limit)) {
		rc = sq_fail(s->db, "history", SQLITE_ERROR);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = nv;
		}
		memset(&v[len], 0, sizeof(v[len]));
		if ((rc = read_msg(st, &v[len])) != OV_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		rc = sq_fail(s->db, "history", rc);
		goto out;
	}
	rc = OV_OK;
	*out = v;
	*n = len;
	v = NULL;
out:
	sq_release(st);
	store_msgs_free(v, len);
	return rc;
}

/* ---- clientes ----------------------------------------------------------- */

static int
sq_customer_get(void *impl, const char *wa_id, struct store_customer *out,
    bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	*found = false;
	if ((rc = sq_stmt(s, Q_CUSTOMER_GET, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, wa_id)) {
		rc = sq_fail(s->db, "customer get", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = OV_OK;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = sq_fail(s->db, "customer get", rc);
		goto out;
	}
	col_copy(out->wa_id, sizeof(out->wa_id), st, 0);
	out->cianbox_id = (int64_t)sqlite3_column_int64(st, 1);
	out->verified = sqlite3_column_int(st, 2) != 0;
	out->created_at = (int64_t)sqlite3_column_int64(st, 5);
	out->updated_at = (int64_t)sqlite3_column_int64(st, 6);
	if ((rc = col_dup(st, 3, &out->name)) != OV_OK ||
	    (rc = col_dup(st, 4, &out->profile)) != OV_OK) {
		store_customer_clear(out);
		goto out;
	}
	*found = true;
out:
	sq_release(st);
	return rc;
}

static int
sq_customer_put(void *impl, const struct store_customer *c, int64_t now)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_CUSTOMER_PUT, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, c->wa_id) || bind_int(st, 2, c->cianbox_id) ||
	    bind_int(st, 3, c->verified ? 1 : 0) ||
	    bind_text(st, 4, c->name) || bind_text(st, 5, c->profile) ||
	    bind_int(st, 6, now)) {
		rc = sq_fail(s->db, "customer put", SQLITE_ERROR);
		goto out;
	}
	rc = sq_step_done(s->db, st, "customer put");
out:
	sq_release(st);
	return rc;
}

/* ---- contadores --------------------------------------------------------- */

static int
sq_counter_next(void *impl, const char *name, int64_t *value)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	int rc;

	if ((rc = sq_begin(s)) != OV_OK)
		goto out;
	if ((rc = sq_stmt(s, Q_COUNTER_NEXT, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, name)) {
		rc = sq_fail(s->db, "counter", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = sq_fail(s->db, "counter", rc);
		goto out;
	}
	v = (int64_t)sqlite3_column_int64(st, 0);
	if ((rc = sq_step_done(s->db, st, "counter")) != OV_OK)
		goto out;
	sq_release(st);
	st = NULL;
	if ((rc = sq_commit(s)) != OV_OK)
		goto out;
	*value = v;
out:
	sq_release(st);
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

/* ---- tokens ------------------------------------------------------------- */

static int
sq_token_get(void *impl, const char *name, char **value, int64_t *expires_at,
    bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	*found = false;
	if ((rc = sq_stmt(s, Q_TOKEN_GET, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, name)) {
		rc = sq_fail(s->db, "token get", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = OV_OK;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = sq_fail(s->db, "token get", rc);
		goto out;
	}
	if ((rc = col_dup(st, 0, value)) != OV_OK)
		goto out;
	*expires_at = (int64_t)sqlite3_column_int64(st, 1);
	*found = true;
out:
	sq_release(st);
	return rc;
}

static int
sq_token_put(void *impl, const char *name, const char *value,
    int64_t expires_at)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_TOKEN_PUT, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, name) || bind_text(st, 2, value) ||
	    bind_int(st, 3, expires_at)) {
		rc = sq_fail(s->db, "token put", SQLITE_ERROR);
		goto out;
	}
	rc = sq_step_done(s->db, st, "token put");
out:
	sq_release(st);
	return rc;
}

/* ---- catalogs ----------------------------------------------------------- */

/*
 * A catalog is three tables swapped together:
 *   <catalog>       rid INTEGER PRIMARY KEY, key UNIQUE, doc;
 *   <catalog>__fts  FTS5 over the item's search tokens (rowid = rid),
 *                   detail=none: tokens are matched whole, never phrases;
 *   <catalog>__lk   (lookup, rid): lookup keys.
 * rid = rank << 32 | order of adding, so FTS5, which answers in rowid
 * order, gives the best ranked items first and a LIMIT stops early.
 *
 * A replace writes into staging tables "<catalog>__new_<pid>" (and
 * "..._fts", "..._lk") in short batched transactions (items are buffered,
 * at most SQ_BATCH_ITEMS or SQ_BATCH_BYTES, so no write lock is held while
 * the caller fetches the next page), then commit swaps all three in with
 * DROP + RENAME in one transaction. Readers keep seeing the old tables
 * until that commit.
 */

/* Drop staging tables of this catalog left by dead processes (or by an
 * earlier writer of this process). Runs inside the caller's transaction. */
static int
drop_stale_staging(struct sq *s, const char *table)
{
	static const char *const suffixes[] = { "", "_fts", "_lk" };
	char prefix[SQ_TABLE_MAX], sql[2 * SQ_TABLE_MAX];
	long stale[SQ_STALE_MAX];
	size_t nstale = 0;
	sqlite3_stmt *st = NULL;
	int plen, rc;

	plen = snprintf(prefix, sizeof(prefix), "%s__new_", table);
	rc = sqlite3_prepare_v2(s->db, "SELECT name FROM sqlite_master"
	    " WHERE type = 'table' AND substr(name, 1, ?1) = ?2", -1, &st,
	    NULL);
	if (rc != SQLITE_OK) {
		rc = sq_fail(s->db, "catalog begin", rc);
		goto out;
	}
	if (bind_int(st, 1, plen) || bind_text(st, 2, prefix)) {
		rc = sq_fail(s->db, "catalog begin", SQLITE_ERROR);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && nstale < SQ_STALE_MAX) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		char *end;
		long pid;

		if (name == NULL)
			continue;
		errno = 0;
		pid = strtol(name + plen, &end, 10);
		/* Only names we could have made are ever formatted into SQL;
		 * the _fts and _lk companions go with their main table. */
		if (errno != 0 || end == name + plen || *end != '\0' || pid <= 0)
			continue;
		if (pid == (long)getpid() ||
		    (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
			stale[nstale++] = pid;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = sq_fail(s->db, "catalog begin", rc);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = OV_OK;
	for (size_t i = 0; i < nstale; i++) {
		for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]);
		    k++) {
			snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS "
			    "\"%s%ld%s\"", prefix, stale[i], suffixes[k]);
			if ((rc = sq_exec(s->db, sql, "catalog drop staging")) !=
			    OV_OK)
				goto out;
		}
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static void
writer_clear_batch(struct sq_writer *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct sq_item *it = &w->items[i];

		free(it->key);
		free(it->doc);
		free(it->tokens);
		free(it->lookups);
		memset(it, 0, sizeof(*it));
	}
	w->n = 0;
	w->bytes = 0;
}

static void
writer_finalize(struct sq_writer *w)
{
	for (int i = 0; i < W__MAX; i++) {
		sqlite3_finalize(w->st[i]);
		w->st[i] = NULL;
	}
}

static void
writer_free(struct sq_writer *w)
{
	if (w == NULL)
		return;
	writer_clear_batch(w);
	writer_finalize(w);
	free(w);
}

/* Remove an item of the staging tables whose key comes again. */
static int
writer_drop_key(struct sq_writer *w, const char *key)
{
	sqlite3 *db = w->s->db;
	sqlite3_int64 rid;
	int rc;

	if (bind_text(w->st[W_FIND], 1, key))
		return sq_fail(db, "catalog add", SQLITE_ERROR);
	rc = sqlite3_step(w->st[W_FIND]);
	if (rc == SQLITE_DONE) {
		rc = OV_OK;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = sq_fail(db, "catalog add", rc);
		goto out;
	}
	rid = sqlite3_column_int64(w->st[W_FIND], 0);
	for (int q = W_DEL; q <= W_DEL_LK; q++) {
		if (sqlite3_bind_int64(w->st[q], 1, rid)) {
			rc = sq_fail(db, "catalog add", SQLITE_ERROR);
			goto out;
		}
		rc = sq_step_done(db, w->st[q], "catalog add");
		sq_release(w->st[q]);
		if (rc != OV_OK)
			goto out;
	}
	rc = OV_OK;
out:
	sq_release(w->st[W_FIND]);
	return rc;
}

static int
writer_insert(struct sq_writer *w, const struct sq_item *it)
{
	sqlite3 *db = w->s->db;
	int rc;

	if ((rc = writer_drop_key(w, it->key)) != OV_OK)
		return rc;
	if (sqlite3_bind_int64(w->st[W_INS], 1, it->rid) ||
	    bind_text(w->st[W_INS], 2, it->key) ||
	    bind_text(w->st[W_INS], 3, it->doc))
		return sq_fail(db, "catalog add", SQLITE_ERROR);
	rc = sq_step_done(db, w->st[W_INS], "catalog add");
	sq_release(w->st[W_INS]);
	if (rc != OV_OK)
		return rc;
	if (it->tokens != NULL) {
		if (sqlite3_bind_int64(w->st[W_INS_FTS], 1, it->rid) ||
		    bind_text(w->st[W_INS_FTS], 2, it->tokens))
			return sq_fail(db, "catalog add", SQLITE_ERROR);
		rc = sq_step_done(db, w->st[W_INS_FTS], "catalog add");
		sq_release(w->st[W_INS_FTS]);
		if (rc != OV_OK)
			return rc;
	}
	/* Lookup keys, one per line (they hold no control characters). */
	for (const char *p = it->lookups; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, "\n");

		if (sqlite3_bind_text(w->st[W_INS_LK], 1, p, (int)len,
		    SQLITE_STATIC) ||
		    sqlite3_bind_int64(w->st[W_INS_LK], 2, it->rid))
			return sq_fail(db, "catalog add", SQLITE_ERROR);
		rc = sq_step_done(db, w->st[W_INS_LK], "catalog add");
		sq_release(w->st[W_INS_LK]);
		if (rc != OV_OK)
			return rc;
		p += len;
		if (*p == '\n')
			p++;
	}
	return OV_OK;
}

/* Write the buffered items in one transaction. */
static int
writer_flush(struct sq_writer *w)
{
	struct sq *s = w->s;
	int rc = OV_OK;

	if (w->n == 0)
		return OV_OK;
	if ((rc = sq_begin(s)) != OV_OK)
		goto out;
	for (size_t i = 0; i < w->n; i++)
		if ((rc = writer_insert(w, &w->items[i])) != OV_OK)
			goto out;
	rc = sq_commit(s);
out:
	if (rc != OV_OK) {
		sq_rollback(s);
		w->failed = 1;
	}
	writer_clear_batch(w);
	return rc;
}

static void
writer_drop_staging(struct sq_writer *w)
{
	static const char *const suffixes[] = { "", "_fts", "_lk" };
	char sql[2 * SQ_TABLE_MAX];

	sq_rollback(w->s);
	for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++) {
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS \"%s%s\"",
		    w->staging, suffixes[k]);
		(void)sq_exec(w->s->db, sql, "catalog drop staging");
	}
}

static int
writer_prepare(struct sq_writer *w)
{
	const char *t = w->staging;
	char sql[W__MAX][4 * SQ_TABLE_MAX];
	int rc;

	snprintf(sql[W_FIND], sizeof(sql[0]),
	    "SELECT rid FROM \"%s\" WHERE key = ?1", t);
	snprintf(sql[W_DEL], sizeof(sql[0]),
	    "DELETE FROM \"%s\" WHERE rid = ?1", t);
	snprintf(sql[W_DEL_FTS], sizeof(sql[0]),
	    "DELETE FROM \"%s_fts\" WHERE rowid = ?1", t);
	snprintf(sql[W_DEL_LK], sizeof(sql[0]),
	    "DELETE FROM \"%s_lk\" WHERE rid = ?1", t);
	snprintf(sql[W_INS], sizeof(sql[0]),
	    "INSERT INTO \"%s\" (rid, key, doc) VALUES (?1, ?2, ?3)", t);
	snprintf(sql[W_INS_FTS], sizeof(sql[0]),
	    "INSERT INTO \"%s_fts\" (rowid, tokens) VALUES (?1, ?2)", t);
	snprintf(sql[W_INS_LK], sizeof(sql[0]),
	    "INSERT OR IGNORE INTO \"%s_lk\" (lookup, rid) VALUES (?1, ?2)", t);
	for (int i = 0; i < W__MAX; i++) {
		rc = sqlite3_prepare_v2(w->s->db, sql[i], -1, &w->st[i], NULL);
		if (rc != SQLITE_OK)
			return sq_fail(w->s->db, "catalog begin", rc);
	}
	return OV_OK;
}

static int
sq_catalog_begin(void *impl, const char *catalog, void **writer)
{
	struct sq *s = impl;
	struct sq_writer *w;
	char sql[4 * SQ_TABLE_MAX];
	int rc, in_tx = 0;

	*writer = NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return OV_ENOMEM;
	w->s = s;
	w->cat = catalog_index(catalog);
	if (w->cat < 0) {
		rc = OV_EINVAL;
		goto out;
	}
	snprintf(w->staging, sizeof(w->staging), "%s__new_%ld",
	    catalogs[w->cat], (long)getpid());
	if ((rc = sq_begin(s)) != OV_OK)
		goto out;
	in_tx = 1;
	if ((rc = drop_stale_staging(s, catalogs[w->cat])) != OV_OK)
		goto out;
	snprintf(sql, sizeof(sql), "CREATE TABLE \"%s\" (rid INTEGER PRIMARY"
	    " KEY, key TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)", w->staging);
	if ((rc = sq_exec(s->db, sql, "catalog begin")) != OV_OK)
		goto out;
	snprintf(sql, sizeof(sql), "CREATE VIRTUAL TABLE \"%s_fts\" USING fts5"
	    CATALOG_FTS5_ARGS, w->staging);
	if ((rc = sq_exec(s->db, sql, "catalog begin")) != OV_OK)
		goto out;
	snprintf(sql, sizeof(sql), "CREATE TABLE \"%s_lk\" (lookup TEXT NOT"
	    " NULL, rid INTEGER NOT NULL, PRIMARY KEY (lookup, rid))"
	    " WITHOUT ROWID", w->staging);
	if ((rc = sq_exec(s->db, sql, "catalog begin")) != OV_OK)
		goto out;
	if ((rc = sq_commit(s)) != OV_OK)
		goto out;
	in_tx = 0;
	if ((rc = writer_prepare(w)) != OV_OK) {
		writer_finalize(w);
		writer_drop_staging(w);
		goto out;
	}
	*writer = w;
	w = NULL;
out:
	if (in_tx)
		sq_rollback(s);
	writer_free(w);
	return rc;
}

static char *
dup_text(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *p = malloc(n + 1);

	if (p != NULL)
		memcpy(p, s, n + 1);
	*len += n;
	return p;
}

/* The strings v[0..n-1] joined by sep; NULL for none. */
static int
join_strings(const char *const *v, size_t n, char sep, char **out,
    size_t *len)
{
	size_t total = 0, o = 0;
	char *p;

	*out = NULL;
	if (n == 0)
		return OV_OK;
	for (size_t i = 0; i < n; i++)
		total += strlen(v[i]) + 1;
	if ((p = malloc(total)) == NULL)
		return OV_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]);

		memcpy(p + o, v[i], l);
		o += l;
		p[o++] = sep;
	}
	p[o - 1] = '\0';
	*len += total;
	*out = p;
	return OV_OK;
}

static int
sq_catalog_put(void *writer, const struct store_catalog_item *it)
{
	struct sq_writer *w = writer;
	struct sq_item *item;
	int rc;

	if (w->failed)
		return OV_ESTORE;
	if (w->seq == UINT32_MAX)
		return OV_ETOOBIG;
	item = &w->items[w->n];
	memset(item, 0, sizeof(*item));
	item->key = dup_text(it->key, &w->bytes);
	item->doc = dup_text(it->json, &w->bytes);
	if (item->key == NULL || item->doc == NULL ||
	    join_strings(it->tokens, it->ntokens, ' ', &item->tokens,
	    &w->bytes) != OV_OK ||
	    join_strings(it->lookups, it->nlookups, '\n', &item->lookups,
	    &w->bytes) != OV_OK) {
		free(item->key);
		free(item->doc);
		free(item->tokens);
		memset(item, 0, sizeof(*item));
		return OV_ENOMEM;
	}
	item->rid = (int64_t)it->rank << 32 | (int64_t)++w->seq;
	w->n++;
	if (w->n == SQ_BATCH_ITEMS || w->bytes >= SQ_BATCH_BYTES) {
		rc = writer_flush(w);
		return rc;
	}
	return OV_OK;
}

static int
sq_catalog_commit(void *writer)
{
	static const char *const suffixes[] = { "", "__fts", "__lk" };
	static const char *const staged[] = { "", "_fts", "_lk" };
	struct sq_writer *w = writer;
	struct sq *s = w->s;
	const char *table = catalogs[w->cat];
	char sql[4 * SQ_TABLE_MAX];
	int rc;

	if (w->failed) {
		log_error("sqlite store: catalog %s: an earlier batch failed, "
		    "keeping the old copy", table);
		rc = OV_ESTORE;
		goto out;
	}
	if ((rc = writer_flush(w)) != OV_OK)
		goto out;
	/* No statement may hold the staging tables during the rename. */
	writer_finalize(w);
	/* One b-tree per token: searches read one segment, not many. */
	snprintf(sql, sizeof(sql), "INSERT INTO \"%s_fts\" (\"%s_fts\")"
	    " VALUES ('optimize')", w->staging, w->staging);
	if ((rc = sq_exec(s->db, sql, "catalog optimize")) != OV_OK)
		goto out;
	if ((rc = sq_begin(s)) != OV_OK)
		goto out;
	for (size_t k = 0; k < 3; k++) {
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS \"%s%s\"",
		    table, suffixes[k]);
		if ((rc = sq_exec(s->db, sql, "catalog swap")) != OV_OK)
			goto out;
	}
	for (size_t k = 0; k < 3; k++) {
		snprintf(sql, sizeof(sql), "ALTER TABLE \"%s%s\" RENAME TO"
		    " \"%s%s\"", w->staging, staged[k], table, suffixes[k]);
		if ((rc = sq_exec(s->db, sql, "catalog swap")) != OV_OK)
			goto out;
	}
	rc = sq_commit(s);
out:
	if (rc != OV_OK)
		writer_drop_staging(w);
	writer_free(w);
	return rc;
}

static void
sq_catalog_abort(void *writer)
{
	struct sq_writer *w = writer;

	writer_clear_batch(w);
	writer_finalize(w);
	writer_drop_staging(w);
	writer_free(w);
}

static int
sq_catalog_get(void *impl, const char *catalog, const char *key, char **json,
    bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int cat = catalog_index(catalog), rc;

	*found = false;
	if (cat < 0)
		return OV_EINVAL;
	if ((rc = sq_stmt(s, (enum sq_query)(Q_CAT_GET_0 + cat), &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, key)) {
		rc = sq_fail(s->db, "catalog get", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = OV_OK;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = sq_fail(s->db, "catalog get", rc);
		goto out;
	}
	if ((rc = col_dup(st, 0, json)) != OV_OK)
		goto out;
	*found = true;
out:
	sq_release(st);
	return rc;
}

static int
sq_catalog_count(void *impl, const char *catalog, int64_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int cat = catalog_index(catalog), rc;

	if (cat < 0)
		return OV_EINVAL;
	if ((rc = sq_stmt(s, (enum sq_query)(Q_CAT_COUNT_0 + cat), &st)) !=
	    OV_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = sq_fail(s->db, "catalog count", rc);
		goto out;
	}
	*n = (int64_t)sqlite3_column_int64(st, 0);
	rc = OV_OK;
out:
	sq_release(st);
	return rc;
}

/* Rows of (key, doc) into a hits array. */
static int
collect_hits(struct sq *s, sqlite3_stmt *st, int limit, const char *op,
    struct store_catalog_hit **out, size_t *nout)
{
	struct store_catalog_hit *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < (size_t)limit) {
		if (n == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			struct store_catalog_hit *nv;

			if (ncap > (size_t)limit)
				ncap = (size_t)limit;
			nv = realloc(v, ncap * sizeof(*v));
			if (nv == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		v[n].key = v[n].json = NULL;
		n++;
		if ((rc = col_dup(st, 0, &v[n - 1].key)) != OV_OK ||
		    (rc = col_dup(st, 1, &v[n - 1].json)) != OV_OK)
			goto out;
		if (v[n - 1].key == NULL || v[n - 1].json == NULL) {
			rc = OV_ESTORE;
			goto out;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = sq_fail(s->db, op, rc);
		goto out;
	}
	rc = OV_OK;
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
out:
	store_catalog_hits_free(v, n);
	return rc;
}

static int
sq_catalog_search(void *impl, const char *catalog, const char *const *tokens,
    size_t n, int limit, struct store_catalog_hit **out, size_t *nout)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	char expr[STORE_SEARCH_TOKENS_MAX * (STORE_TOKEN_MAX + 3) + 1];
	size_t o = 0;
	int cat = catalog_index(catalog), rc;

	if (cat < 0)
		return OV_EINVAL;
	/*
	 * Each token becomes a quoted FTS5 string, joined by spaces (AND).
	 * store.c let through only [a-z0-9._:], so a token can hold no
	 * quote and no operator: the expression's shape is always ours.
	 */
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(tokens[i]);

		if (o + len + 3 >= sizeof(expr))
			return OV_EINVAL;
		if (i > 0)
			expr[o++] = ' ';
		expr[o++] = '"';
		memcpy(expr + o, tokens[i], len);
		o += len;
		expr[o++] = '"';
	}
	expr[o] = '\0';
	if ((rc = sq_stmt(s, (enum sq_query)(Q_CAT_SEARCH_0 + cat), &st)) !=
	    OV_OK)
		goto out;
	if (bind_text(st, 1, expr) || bind_int(st, 2, limit)) {
		rc = sq_fail(s->db, "catalog search", SQLITE_ERROR);
		goto out;
	}
	rc = collect_hits(s, st, limit, "catalog search", out, nout);
out:
	sq_release(st);
	return rc;
}

static int
sq_catalog_lookup(void *impl, const char *catalog, const char *lookup,
    int limit, struct store_catalog_hit **out, size_t *nout)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int cat = catalog_index(catalog), rc;

	if (cat < 0)
		return OV_EINVAL;
	if ((rc = sq_stmt(s, (enum sq_query)(Q_CAT_LOOKUP_0 + cat), &st)) !=
	    OV_OK)
		goto out;
	if (bind_text(st, 1, lookup) || bind_int(st, 2, limit)) {
		rc = sq_fail(s->db, "catalog lookup", SQLITE_ERROR);
		goto out;
	}
	rc = collect_hits(s, st, limit, "catalog lookup", out, nout);
out:
	sq_release(st);
	return rc;
}

/* ---- presupuestos ------------------------------------------------------- */

static int
sq_quote_put(void *impl, const struct store_quote *q)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_QUOTE_PUT, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, q->id) || bind_int(st, 2, q->number) ||
	    bind_text(st, 3, q->wa_id) || bind_text(st, 4, q->state) ||
	    bind_int(st, 5, q->created_at) || bind_int(st, 6, q->expires_at) ||
	    bind_text(st, 7, q->doc)) {
		rc = sq_fail(s->db, "quote put", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = OV_OK;
	} else if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		/* Another quote already has this number. */
		log_error("sqlite store: quote put: %s", sqlite3_errmsg(s->db));
		rc = OV_EEXIST;
	} else {
		rc = sq_fail(s->db, "quote put", rc);
	}
out:
	sq_release(st);
	return rc;
}

static int
read_quote(sqlite3_stmt *st, struct store_quote *q)
{
	col_copy(q->id, sizeof(q->id), st, 0);
	q->number = (int64_t)sqlite3_column_int64(st, 1);
	col_copy(q->wa_id, sizeof(q->wa_id), st, 2);
	col_copy(q->state, sizeof(q->state), st, 3);
	q->created_at = (int64_t)sqlite3_column_int64(st, 4);
	q->expires_at = (int64_t)sqlite3_column_int64(st, 5);
	return col_dup(st, 6, &q->doc);
}

/* Step a statement that yields at most one quote: *found says whether it
 * did (out filled). */
static int
step_one_quote(struct sq *s, sqlite3_stmt *st, const char *what,
    struct store_quote *out, bool *found)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return OV_OK;
	if (rc != SQLITE_ROW)
		return sq_fail(s->db, what, rc);
	if ((rc = read_quote(st, out)) != OV_OK)
		return rc;
	*found = true;
	return OV_OK;
}

static int
sq_quote_get(void *impl, const char *id, struct store_quote *out, bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	*found = false;
	if ((rc = sq_stmt(s, Q_QUOTE_GET, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id)) {
		rc = sq_fail(s->db, "quote get", SQLITE_ERROR);
		goto out;
	}
	rc = step_one_quote(s, st, "quote get", out, found);
out:
	sq_release(st);
	return rc;
}

/* Step a prepared quote listing into a malloc'd array. */
static int
sq_quote_rows(struct sq *s, sqlite3_stmt *st, struct store_quote **out,
    size_t *n)
{
	struct store_quote *v = NULL, *nv;
	size_t len = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = nv;
		}
		memset(&v[len], 0, sizeof(v[len]));
		if ((rc = read_quote(st, &v[len])) != OV_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		rc = sq_fail(s->db, "quote list", rc);
		goto out;
	}
	rc = OV_OK;
	*out = v;
	*n = len;
	v = NULL;
out:
	store_quotes_free(v, len);
	return rc;
}

static int
sq_quote_list_older(void *impl, int64_t before, int limit,
    struct store_quote **out, size_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_QUOTE_OLDER, &st)) != OV_OK)
		goto out;
	if (bind_int(st, 1, before) || bind_int(st, 2, limit)) {
		rc = sq_fail(s->db, "quote list", SQLITE_ERROR);
		goto out;
	}
	rc = sq_quote_rows(s, st, out, n);
out:
	sq_release(st);
	return rc;
}

static int
sq_quote_list_older_except(void *impl, int64_t before,
    const char *except_state, int limit, struct store_quote **out, size_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_QUOTE_OLDER_EXCEPT, &st)) != OV_OK)
		goto out;
	if (bind_int(st, 1, before) || bind_int(st, 2, limit) ||
	    bind_text(st, 3, except_state)) {
		rc = sq_fail(s->db, "quote list", SQLITE_ERROR);
		goto out;
	}
	rc = sq_quote_rows(s, st, out, n);
out:
	sq_release(st);
	return rc;
}

static int
sq_quote_pending_for(void *impl, const char *wa_id, struct store_quote *out,
    bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	*found = false;
	if ((rc = sq_stmt(s, Q_QUOTE_PENDING, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, wa_id)) {
		rc = sq_fail(s->db, "quote pending", SQLITE_ERROR);
		goto out;
	}
	rc = step_one_quote(s, st, "quote pending", out, found);
out:
	sq_release(st);
	return rc;
}

static int
sq_quote_delete(void *impl, const char *id)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_QUOTE_DELETE, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id)) {
		rc = sq_fail(s->db, "quote delete", SQLITE_ERROR);
		goto out;
	}
	rc = sq_step_done(s->db, st, "quote delete");
out:
	sq_release(st);
	return rc;
}

/* ---- outbox ------------------------------------------------------------- */

static int
sq_outbox_put(void *impl, const struct store_outbox *o)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_OUTBOX_PUT, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, o->id) || bind_text(st, 2, o->wa_id) ||
	    bind_text(st, 3, o->kind) || bind_text(st, 4, o->payload) ||
	    bind_text(st, 5, o->last_error) || bind_int(st, 6, o->attempts) ||
	    bind_int(st, 7, o->created_at) ||
	    bind_int(st, 8, o->next_attempt_at) ||
	    bind_int(st, 9, (int64_t)o->lane)) {
		rc = sq_fail(s->db, "outbox put", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = OV_OK;
	else if (rc == SQLITE_CONSTRAINT_UNIQUE)
		rc = OV_EEXIST;
	else
		rc = sq_fail(s->db, "outbox put", rc);
out:
	sq_release(st);
	return rc;
}

/* Step a prepared OUTBOX_READ listing into a malloc'd array. */
static int
sq_outbox_rows(struct sq *s, sqlite3_stmt *st, const char *op,
    struct store_outbox **out, size_t *n)
{
	struct store_outbox *v = NULL, *nv;
	size_t len = 0, cap = 0;
	int rc, lane;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_outbox *o;

		if (len == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = nv;
		}
		o = &v[len];
		memset(o, 0, sizeof(*o));
		len++;
		col_copy(o->id, sizeof(o->id), st, 0);
		col_copy(o->wa_id, sizeof(o->wa_id), st, 1);
		col_copy(o->kind, sizeof(o->kind), st, 2);
		if ((rc = col_dup(st, 3, &o->payload)) != OV_OK ||
		    (rc = col_dup(st, 4, &o->last_error)) != OV_OK)
			goto out;
		o->attempts = sqlite3_column_int(st, 5);
		o->created_at = (int64_t)sqlite3_column_int64(st, 6);
		o->next_attempt_at = (int64_t)sqlite3_column_int64(st, 7);
		lane = sqlite3_column_int(st, 8);
		o->lane = lane == STORE_LANE_AGENT ? STORE_LANE_AGENT :
		    lane == STORE_LANE_CAMPAIGN ? STORE_LANE_CAMPAIGN :
		    STORE_LANE_REPLY;
		col_copy(o->claimer, sizeof(o->claimer), st, 9);
		o->orphaned = sqlite3_column_int(st, 10) != 0;
	}
	if (rc != SQLITE_DONE) {
		rc = sq_fail(s->db, op, rc);
		goto out;
	}
	rc = OV_OK;
	*out = v;
	*n = len;
	v = NULL;
out:
	store_outbox_free(v, len);
	return rc;
}

static int
sq_outbox_due(void *impl, int64_t now, int limit, struct store_outbox **out,
    size_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_OUTBOX_DUE, &st)) != OV_OK)
		goto out;
	if (bind_int(st, 1, now) || bind_int(st, 2, limit)) {
		rc = sq_fail(s->db, "outbox due", SQLITE_ERROR);
		goto out;
	}
	rc = sq_outbox_rows(s, st, "outbox due", out, n);
out:
	sq_release(st);
	return rc;
}

static int
sq_outbox_due_for(void *impl, const char *wa_id, int64_t now, int limit,
    struct store_outbox **out, size_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_OUTBOX_DUE_FOR, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, wa_id) || bind_int(st, 2, now) ||
	    bind_int(st, 3, limit)) {
		rc = sq_fail(s->db, "outbox due for", SQLITE_ERROR);
		goto out;
	}
	rc = sq_outbox_rows(s, st, "outbox due for", out, n);
out:
	sq_release(st);
	return rc;
}

static int
sq_outbox_count_for(void *impl, const char *wa_id, int64_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_OUTBOX_COUNT_FOR, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, wa_id)) {
		rc = sq_fail(s->db, "outbox count", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = sq_fail(s->db, "outbox count", rc);
		goto out;
	}
	*n = (int64_t)sqlite3_column_int64(st, 0);
	rc = OV_OK;
out:
	sq_release(st);
	return rc;
}

/* Claim (claimer set) or orphan (claimer NULL) an entry still as seen. */
static int
sq_outbox_cas(struct sq *s, enum sq_query q, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until, const char *claimer)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, q, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id) || bind_int(st, 2, seen_at) ||
	    bind_text(st, 3, seen_claimer) || bind_int(st, 4, until) ||
	    (claimer != NULL && bind_text(st, 5, claimer))) {
		rc = sq_fail(s->db, "outbox claim", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "outbox claim")) != OV_OK)
		goto out;
	rc = sqlite3_changes(s->db) == 1 ? OV_OK : OV_EBUSY;
out:
	sq_release(st);
	return rc;
}

static int
sq_outbox_claim(void *impl, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until, const char *claimer)
{
	return sq_outbox_cas(impl, Q_OUTBOX_CLAIM, id, seen_at, seen_claimer,
	    until, claimer);
}

static int
sq_outbox_orphan(void *impl, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until)
{
	return sq_outbox_cas(impl, Q_OUTBOX_ORPHAN, id, seen_at, seen_claimer,
	    until, NULL);
}

static int
sq_outbox_taken_put(void *impl, const char *id, int part, const char *wamid)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_OUTBOX_TAKEN_PUT, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id) || bind_int(st, 2, part) ||
	    bind_text(st, 3, wamid)) {
		rc = sq_fail(s->db, "outbox taken put", SQLITE_ERROR);
		goto out;
	}
	rc = sq_step_done(s->db, st, "outbox taken put");
out:
	sq_release(st);
	return rc;
}

static int
sq_outbox_taken(void *impl, const char *id, struct store_outbox_part *out,
    size_t cap, size_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_OUTBOX_TAKEN, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id) || bind_int(st, 2, (int64_t)cap)) {
		rc = sq_fail(s->db, "outbox taken", SQLITE_ERROR);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < cap) {
		out[*n].part = sqlite3_column_int(st, 0);
		col_copy(out[*n].wamid, sizeof(out[*n].wamid), st, 1);
		(*n)++;
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? OV_OK :
	    sq_fail(s->db, "outbox taken", rc);
out:
	sq_release(st);
	return rc;
}

static int
sq_outbox_reschedule(void *impl, const char *id, int attempts,
    int64_t next_attempt_at, const char *error)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_OUTBOX_RESCHEDULE, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id) || bind_int(st, 2, attempts) ||
	    bind_int(st, 3, next_attempt_at) || bind_text(st, 4, error)) {
		rc = sq_fail(s->db, "outbox reschedule", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "outbox reschedule")) != OV_OK)
		goto out;
	rc = sqlite3_changes(s->db) == 1 ? OV_OK : OV_ENOTFOUND;
out:
	sq_release(st);
	return rc;
}

static int
sq_outbox_delete(void *impl, const char *id)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_OUTBOX_DELETE, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, id)) {
		rc = sq_fail(s->db, "outbox delete", SQLITE_ERROR);
		goto out;
	}
	rc = sq_step_done(s->db, st, "outbox delete");
out:
	sq_release(st);
	return rc;
}

/* ---- conversaciones, turnos -------------------------------------------- */

static int
sq_conv_get(void *impl, const char *key, struct store_conv *out, bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	*found = false;
	if ((rc = sq_stmt(s, Q_CONV_GET, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, key)) {
		rc = sq_fail(s->db, "conversation get", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = OV_OK;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = sq_fail(s->db, "conversation get", rc);
		goto out;
	}
	col_copy(out->key, sizeof(out->key), st, 0);
	col_copy(out->owner, sizeof(out->owner), st, 1);
	col_copy(out->agent, sizeof(out->agent), st, 2);
	out->last_inbound = (int64_t)sqlite3_column_int64(st, 3);
	out->updated_at = (int64_t)sqlite3_column_int64(st, 4);
	if ((rc = col_dup(st, 5, &out->doc)) != OV_OK)
		goto out;
	if (out->doc == NULL && (out->doc = strdup("{}")) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	col_copy(out->lease_holder, sizeof(out->lease_holder), st, 6);
	out->lease_until = (int64_t)sqlite3_column_int64(st, 7);
	*found = true;
out:
	sq_release(st);
	return rc;
}

/* Bind a record's CONV_COLS: ?1 key .. ?6 doc, updated_at = now. */
static int
bind_conv(sqlite3_stmt *st, const struct store_conv *c, int64_t now)
{
	return bind_text(st, 1, c->key) || bind_text(st, 2, c->owner) ||
	    bind_text(st, 3, c->agent) || bind_int(st, 4, c->last_inbound) ||
	    bind_int(st, 5, now) || bind_text(st, 6, c->doc);
}

static int
sq_conv_put(void *impl, const struct store_conv *c, int64_t now)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_CONV_PUT, &st)) != OV_OK)
		goto out;
	if (bind_conv(st, c, now)) {
		rc = sq_fail(s->db, "conversation put", SQLITE_ERROR);
		goto out;
	}
	rc = sq_step_done(s->db, st, "conversation put");
out:
	sq_release(st);
	return rc;
}

/* The record, created empty when missing, then one compare-and-set
 * UPDATE: of many takers only the first finds the lease free. */
static int
sq_conv_lease(void *impl, const char *key, const char *holder, int64_t now,
    int64_t until, bool *got)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	bool taken;
	int rc;

	if ((rc = sq_begin_retry(s)) != OV_OK)
		goto out;
	if ((rc = sq_stmt(s, Q_CONV_ENSURE, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, key) || bind_int(st, 2, now)) {
		rc = sq_fail(s->db, "conversation lease", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "conversation lease")) != OV_OK)
		goto out;
	sq_release(st);
	if ((rc = sq_stmt(s, Q_CONV_LEASE, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, key) || bind_text(st, 2, holder) ||
	    bind_int(st, 3, now) || bind_int(st, 4, until)) {
		rc = sq_fail(s->db, "conversation lease", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "conversation lease")) != OV_OK)
		goto out;
	taken = sqlite3_changes(s->db) == 1;
	sq_release(st);
	st = NULL;
	if ((rc = sq_commit(s)) != OV_OK)
		goto out;
	*got = taken;
out:
	sq_release(st);
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

static int
sq_conv_release(void *impl, const char *key, const char *holder)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_stmt(s, Q_CONV_RELEASE, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, key) || bind_text(st, 2, holder)) {
		rc = sq_fail(s->db, "conversation release", SQLITE_ERROR);
		goto out;
	}
	rc = sq_step_done(s->db, st, "conversation release");
out:
	sq_release(st);
	return rc;
}

/* One statement of a turn's transaction, bound by the caller. */
static int
turn_step(struct sq *s, sqlite3_stmt *st, const char *op)
{
	int rc = sq_step_done(s->db, st, op);

	sq_release(st);
	return rc;
}

/*
 * A turn in one BEGIN IMMEDIATE transaction: its id into turnos (taken:
 * OV_EEXIST, nothing changes), the conversation with the lease ended,
 * the outbox entries, the messages handled. Any failure rolls back all.
 */
static int
sq_turn_commit(void *impl, const struct store_turn *t)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_begin_retry(s)) != OV_OK)
		goto out;
	if ((rc = sq_stmt(s, Q_TURN_INSERT, &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, t->id) || bind_text(st, 2, t->conv->key) ||
	    bind_int(st, 3, t->now)) {
		rc = sq_fail(s->db, "turn commit", SQLITE_ERROR);
		goto out;
	}
	if ((rc = turn_step(s, st, "turn commit")) != OV_OK)
		goto out;
	st = NULL;
	if (sqlite3_changes(s->db) != 1) {
		rc = OV_EEXIST;   /* committed before: its effects stand */
		goto out;
	}
	if ((rc = sq_stmt(s, Q_TURN_CONV, &st)) != OV_OK)
		goto out;
	if (bind_conv(st, t->conv, t->now)) {
		rc = sq_fail(s->db, "turn commit", SQLITE_ERROR);
		goto out;
	}
	if ((rc = turn_step(s, st, "turn commit")) != OV_OK)
		goto out;
	st = NULL;
	for (size_t i = 0; i < t->nreplies; i++) {
		if ((rc = sq_outbox_put(s, &t->replies[i])) != OV_OK) {
			if (rc == OV_EEXIST) {
				log_error("sqlite store: turn commit: outbox id "
				    "%s is taken", t->replies[i].id);
				rc = OV_ESTORE;
			}
			goto out;
		}
	}
	for (size_t i = 0; i < t->nmsgs; i++) {
		if ((rc = sq_stmt(s, Q_IN_DONE, &st)) != OV_OK)
			goto out;
		if (bind_int(st, 1, t->now) || bind_text(st, 2, t->msg_ids[i])) {
			rc = sq_fail(s->db, "turn commit", SQLITE_ERROR);
			goto out;
		}
		if ((rc = turn_step(s, st, "turn commit")) != OV_OK)
			goto out;
		st = NULL;
	}
	rc = sq_commit(s);
out:
	sq_release(st);
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

/* Nothing is ever half applied here. */
static int
sq_turn_recover(void *impl, size_t *applied)
{
	(void)impl;
	*applied = 0;
	return OV_OK;
}

/* ---- proactive messages ------------------------------------------------- */

/*
 * Tables of their own, made on first use (CREATE ... IF NOT EXISTS) so
 * that this section stays apart from the versioned migrations above:
 * proactivos (markers "sent kind X for object Y"), demanda (customers who
 * asked for a product out of stock), and an index for expiring quotes.
 */
static const char px_schema[] =
	"CREATE TABLE IF NOT EXISTS proactivos ("
	" marker TEXT PRIMARY KEY,"
	" wa_id TEXT NOT NULL,"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS demanda ("
	" wa_id TEXT NOT NULL,"
	" product_id INTEGER NOT NULL,"
	" asked_at INTEGER NOT NULL,"
	" PRIMARY KEY (wa_id, product_id)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS presupuestos_expires"
	" ON presupuestos (state, expires_at);";

static int
px_ready(struct sq *s)
{
	int rc;

	if (s->px_ready)
		return OV_OK;
	if ((rc = sq_exec(s->db, px_schema, "proactive schema")) == OV_OK)
		s->px_ready = true;
	return rc;
}

/* A statement of this section, prepared per call (not cached: these run
 * a few times per customer in a job, never in a web request). */
static int
px_prepare(struct sq *s, const char *sql, sqlite3_stmt **st)
{
	int rc;

	*st = NULL;
	if ((rc = px_ready(s)) != OV_OK)
		return rc;
	rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		return sq_fail(s->db, "prepare", rc);
	}
	return OV_OK;
}

static int
sq_proactive_commit(void *impl, const char *const *markers, size_t nmarkers,
    const struct store_outbox *entry, int64_t now)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = px_prepare(s, "INSERT INTO proactivos (marker, wa_id,"
	    " created_at) VALUES (?1, ?2, ?3) ON CONFLICT (marker) DO NOTHING",
	    &st)) != OV_OK)
		return rc;
	if ((rc = sq_begin_retry(s)) != OV_OK)
		goto out;
	for (size_t i = 0; i < nmarkers; i++) {
		sqlite3_reset(st);
		if (bind_text(st, 1, markers[i]) ||
		    bind_text(st, 2, entry->wa_id) || bind_int(st, 3, now)) {
			rc = sq_fail(s->db, "proactive commit", SQLITE_ERROR);
			goto out;
		}
		if ((rc = sq_step_done(s->db, st, "proactive commit")) != OV_OK)
			goto out;
		if (sqlite3_changes(s->db) != 1) {
			rc = OV_EEXIST;   /* made before: nothing changes */
			goto out;
		}
	}
	if ((rc = sq_outbox_put(s, entry)) != OV_OK)
		goto out;
	rc = sq_commit(s);
out:
	sqlite3_finalize(st);
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

/* One item inside the batch's transaction, under a savepoint. */
static int
sq_proactive_item(struct sq *s, sqlite3_stmt *st, struct store_proactive *p,
    int64_t now)
{
	int rc;

	if ((rc = sq_exec(s->db, "SAVEPOINT px", "proactive batch")) != OV_OK)
		return rc;
	for (size_t i = 0; i < p->nmarkers; i++) {
		sqlite3_reset(st);
		if (bind_text(st, 1, p->markers[i]) ||
		    bind_text(st, 2, p->entry->wa_id) || bind_int(st, 3, now)) {
			rc = sq_fail(s->db, "proactive batch", SQLITE_ERROR);
			goto undo;
		}
		if ((rc = sq_step_done(s->db, st, "proactive batch")) != OV_OK)
			goto undo;
		if (sqlite3_changes(s->db) != 1) {
			rc = OV_EEXIST;
			goto undo;
		}
	}
	if ((rc = sq_outbox_put(s, p->entry)) != OV_OK)
		goto undo;
	return sq_exec(s->db, "RELEASE px", "proactive batch");
undo:
	if (sq_exec(s->db, "ROLLBACK TO px; RELEASE px", "proactive batch") !=
	    OV_OK)
		return OV_ESTORE;
	return rc;
}

static int
sq_proactive_batch(void *impl, struct store_proactive *v, size_t n,
    int64_t now)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = px_prepare(s, "INSERT INTO proactivos (marker, wa_id,"
	    " created_at) VALUES (?1, ?2, ?3) ON CONFLICT (marker) DO NOTHING",
	    &st)) != OV_OK)
		return rc;
	if ((rc = sq_begin_retry(s)) != OV_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		v[i].rc = sq_proactive_item(s, st, &v[i], now);
		if (v[i].rc == OV_ESTORE || v[i].rc == OV_ETIMEOUT) {
			rc = v[i].rc;   /* the transaction itself failed */
			goto out;
		}
	}
	sqlite3_reset(st);
	rc = sq_commit(s);
out:
	sqlite3_finalize(st);
	if (rc != OV_OK) {
		sq_rollback(s);
		for (size_t i = 0; i < n; i++)
			v[i].rc = OV_ESTORE;   /* nothing of the batch stands */
	}
	return rc;
}

static int
sq_marker_get(void *impl, const char *marker, bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st;
	int rc;

	if ((rc = px_prepare(s, "SELECT 1 FROM proactivos WHERE marker = ?1",
	    &st)) != OV_OK)
		return rc;
	if (bind_text(st, 1, marker)) {
		rc = sq_fail(s->db, "marker get", SQLITE_ERROR);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		*found = rc == SQLITE_ROW;
		rc = OV_OK;
	} else {
		rc = sq_fail(s->db, "marker get", rc);
	}
out:
	sqlite3_finalize(st);
	return rc;
}

static int
sq_marker_delete(void *impl, const char *marker)
{
	struct sq *s = impl;
	sqlite3_stmt *st;
	int rc;

	if ((rc = px_prepare(s, "DELETE FROM proactivos WHERE marker = ?1",
	    &st)) != OV_OK)
		return rc;
	if (bind_text(st, 1, marker))
		rc = sq_fail(s->db, "marker delete", SQLITE_ERROR);
	else
		rc = sq_step_done(s->db, st, "marker delete");
	sqlite3_finalize(st);
	return rc;
}

/* One transaction: nothing is ever half made here. */
static int
sq_proactive_recover(void *impl, int64_t now, size_t *applied)
{
	(void)impl;
	(void)now;
	*applied = 0;
	return OV_OK;
}

static int
sq_conv_scan(void *impl, const char *after, int limit,
    struct store_conv **out, size_t *n)
{
	struct sq *s = impl;
	struct store_conv *v = NULL, *nv;
	sqlite3_stmt *st;
	size_t len = 0, cap = 0;
	int rc;

	if ((rc = px_prepare(s, "SELECT " CONV_COLS " FROM conversaciones"
	    " WHERE key > ?1 ORDER BY key LIMIT ?2", &st)) != OV_OK)
		return rc;
	if (bind_text(st, 1, after) || bind_int(st, 2, limit)) {
		rc = sq_fail(s->db, "conversation scan", SQLITE_ERROR);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_conv *c;

		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = nv;
		}
		c = &v[len++];
		memset(c, 0, sizeof(*c));
		col_copy(c->key, sizeof(c->key), st, 0);
		col_copy(c->owner, sizeof(c->owner), st, 1);
		col_copy(c->agent, sizeof(c->agent), st, 2);
		c->last_inbound = (int64_t)sqlite3_column_int64(st, 3);
		c->updated_at = (int64_t)sqlite3_column_int64(st, 4);
		if ((rc = col_dup(st, 5, &c->doc)) != OV_OK)
			goto out;
		if (c->doc == NULL && (c->doc = strdup("{}")) == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = sq_fail(s->db, "conversation scan", rc);
		goto out;
	}
	rc = OV_OK;
	*out = v;
	*n = len;
	v = NULL;
out:
	sqlite3_finalize(st);
	store_convs_free(v, len);
	return rc;
}

static int
sq_quote_scan_expiring(void *impl, const char *state, int64_t from,
    int64_t to, const char *after, int limit, struct store_quote **out,
    size_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st;
	int rc;

	if ((rc = px_prepare(s, "SELECT " QUOTE_COLS " FROM presupuestos"
	    " WHERE state = ?1 AND expires_at >= ?2 AND expires_at < ?3"
	    " AND id > ?4 ORDER BY id LIMIT ?5", &st)) != OV_OK)
		return rc;
	if (bind_text(st, 1, state) || bind_int(st, 2, from) ||
	    bind_int(st, 3, to) || bind_text(st, 4, after) ||
	    bind_int(st, 5, limit))
		rc = sq_fail(s->db, "quote scan", SQLITE_ERROR);
	else
		rc = sq_quote_rows(s, st, out, n);
	sqlite3_finalize(st);
	return rc;
}

static int
sq_demand_put(void *impl, const char *wa_id, int64_t product_id,
    int64_t asked_at)
{
	struct sq *s = impl;
	sqlite3_stmt *st;
	int rc;

	if ((rc = px_prepare(s, "INSERT INTO demanda (wa_id, product_id,"
	    " asked_at) VALUES (?1, ?2, ?3) ON CONFLICT (wa_id, product_id)"
	    " DO UPDATE SET asked_at = max(asked_at, excluded.asked_at)",
	    &st)) != OV_OK)
		return rc;
	if (bind_text(st, 1, wa_id) || bind_int(st, 2, product_id) ||
	    bind_int(st, 3, asked_at))
		rc = sq_fail(s->db, "demand put", SQLITE_ERROR);
	else
		rc = sq_step_done(s->db, st, "demand put");
	sqlite3_finalize(st);
	return rc;
}

static int
sq_demand_scan(void *impl, const struct store_demand *after, int limit,
    struct store_demand **out, size_t *n)
{
	struct sq *s = impl;
	struct store_demand *v = NULL, *nv;
	sqlite3_stmt *st;
	size_t len = 0, cap = 0;
	int rc;

	if ((rc = px_prepare(s, "SELECT wa_id, product_id, asked_at FROM"
	    " demanda WHERE (wa_id, product_id) > (?1, ?2)"
	    " ORDER BY wa_id, product_id LIMIT ?3", &st)) != OV_OK)
		return rc;
	if (bind_text(st, 1, after != NULL ? after->wa_id : "") ||
	    bind_int(st, 2, after != NULL ? after->product_id : INT64_MIN) ||
	    bind_int(st, 3, limit)) {
		rc = sq_fail(s->db, "demand scan", SQLITE_ERROR);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			v = nv;
		}
		memset(&v[len], 0, sizeof(v[len]));
		col_copy(v[len].wa_id, sizeof(v[len].wa_id), st, 0);
		v[len].product_id = (int64_t)sqlite3_column_int64(st, 1);
		v[len].asked_at = (int64_t)sqlite3_column_int64(st, 2);
		len++;
	}
	if (rc != SQLITE_DONE) {
		rc = sq_fail(s->db, "demand scan", rc);
		goto out;
	}
	rc = OV_OK;
	*out = v;
	*n = len;
	v = NULL;
out:
	sqlite3_finalize(st);
	free(v);
	return rc;
}

static int
sq_demand_delete(void *impl, const char *wa_id, int64_t product_id)
{
	struct sq *s = impl;
	sqlite3_stmt *st;
	int rc;

	if ((rc = px_prepare(s, "DELETE FROM demanda WHERE wa_id = ?1 AND"
	    " product_id = ?2", &st)) != OV_OK)
		return rc;
	if (bind_text(st, 1, wa_id) || bind_int(st, 2, product_id))
		rc = sq_fail(s->db, "demand delete", SQLITE_ERROR);
	else
		rc = sq_step_done(s->db, st, "demand delete");
	sqlite3_finalize(st);
	return rc;
}

/* ---- identities ---------------------------------------------------------- */

/*
 * Kept out of the numbered migrations: the table is made on first use
 * (IF NOT EXISTS), so this section stands apart from the schema steps
 * other work appends.
 */
static int
sq_identity_table(struct sq *s)
{
	return sq_exec(s->db, "CREATE TABLE IF NOT EXISTS identidades ("
	    " key TEXT PRIMARY KEY,"
	    " phone TEXT NOT NULL DEFAULT '',"
	    " hold INTEGER NOT NULL DEFAULT 0,"
	    " updated_at INTEGER NOT NULL DEFAULT 0)", "identities table");
}

/* One statement with text parameters (NULL-terminated), no rows. */
static int
sq_run(struct sq *s, const char *sql, const char *op, const char *a,
    const char *b)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return sq_fail(s->db, op, rc);
	if ((a != NULL && bind_text(st, 1, a) != SQLITE_OK) ||
	    (b != NULL && bind_text(st, 2, b) != SQLITE_OK)) {
		sqlite3_finalize(st);
		return sq_fail(s->db, op, SQLITE_ERROR);
	}
	rc = sq_step_done(s->db, st, op);
	sqlite3_finalize(st);
	return rc;
}

static int
sq_identity_get(void *impl, const char *key, struct store_identity *out,
    bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_identity_table(s)) != OV_OK)
		return rc;
	if ((rc = sqlite3_prepare_v2(s->db, "SELECT phone, hold, updated_at "
	    "FROM identidades WHERE key = ?", -1, &st, NULL)) != SQLITE_OK)
		return sq_fail(s->db, "identity get", rc);
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(out->key, sizeof(out->key), "%s", key);
		col_copy(out->phone, sizeof(out->phone), st, 0);
		out->hold = sqlite3_column_int64(st, 1) != 0;
		out->updated_at = sqlite3_column_int64(st, 2);
		*found = true;
		rc = OV_OK;
	} else if (rc == SQLITE_DONE) {
		rc = OV_OK;
	} else {
		rc = sq_fail(s->db, "identity get", rc);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
sq_identity_put(void *impl, const struct store_identity *id, int64_t now)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_identity_table(s)) != OV_OK)
		return rc;
	if ((rc = sqlite3_prepare_v2(s->db, "INSERT INTO identidades (key, "
	    "phone, hold, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO "
	    "UPDATE SET phone = excluded.phone, hold = excluded.hold, "
	    "updated_at = excluded.updated_at", -1, &st, NULL)) != SQLITE_OK)
		return sq_fail(s->db, "identity put", rc);
	bind_text(st, 1, id->key);
	bind_text(st, 2, id->phone);
	bind_int(st, 3, id->hold ? 1 : 0);
	bind_int(st, 4, now);
	rc = sq_step_done(s->db, st, "identity put");
	sqlite3_finalize(st);
	return rc;
}

/* One transaction: a record already at `to` wins over the one at `from`. */
static int
sq_identity_move(void *impl, const char *from, const char *to, int64_t now)
{
	static const char *const steps[][2] = {
		{ "DELETE FROM conversaciones WHERE key = ?1 AND EXISTS "
		  "(SELECT 1 FROM conversaciones WHERE key = ?2)", "move conv" },
		{ "UPDATE conversaciones SET key = ?2, lease_holder = NULL, "
		  "lease_until = 0 WHERE key = ?1", "move conv" },
		{ "DELETE FROM clientes WHERE wa_id = ?1 AND EXISTS "
		  "(SELECT 1 FROM clientes WHERE wa_id = ?2)", "move customer" },
		{ "UPDATE clientes SET wa_id = ?2 WHERE wa_id = ?1",
		  "move customer" },
		{ "UPDATE mensajes SET wa_id = ?2 WHERE wa_id = ?1",
		  "move history" },
		{ "UPDATE presupuestos SET wa_id = ?2 WHERE wa_id = ?1",
		  "move quotes" },
		{ "UPDATE outbox SET wa_id = ?2 WHERE wa_id = ?1",
		  "move outbox" },
	};
	struct sq *s = impl;
	int rc;

	(void)now;
	if ((rc = sq_begin_retry(s)) != OV_OK)
		return rc;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if ((rc = sq_run(s, steps[i][0], steps[i][1], from, to)) !=
		    OV_OK)
			goto out;
	rc = sq_commit(s);
out:
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

/* ---- inbox ---------------------------------------------------------------- */

/* Statements prepared per call (the inbox: a page view runs a few; an
 * import once per run), leaving the shared statement table alone. */
static int
sq_prepare(struct sq *s, const char *sql, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, out, NULL);

	if (rc != SQLITE_OK) {
		*out = NULL;
		return sq_fail(s->db, "prepare", rc);
	}
	return OV_OK;
}

static int
sq_conv_swap(void *impl, const struct store_conv *c, const char *expect_owner,
    const char *expect_agent, const char *holder, int64_t now, bool *got)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	*got = false;
	rc = sq_prepare(s, "UPDATE conversaciones SET owner = ?2, agent = ?3,"
	    " last_inbound = ?4, doc = ?5, updated_at = ?6,"
	    " lease_holder = NULL, lease_until = 0"
	    " WHERE key = ?1 AND ifnull(nullif(owner, ''), 'bot') = ?7"
	    " AND agent = ?8 AND lease_holder = ?9", &st);
	if (rc != OV_OK)
		return rc;
	if (bind_text(st, 1, c->key) || bind_text(st, 2, c->owner) ||
	    bind_text(st, 3, c->agent) || bind_int(st, 4, c->last_inbound) ||
	    bind_text(st, 5, c->doc) || bind_int(st, 6, now) ||
	    bind_text(st, 7, expect_owner) || bind_text(st, 8, expect_agent) ||
	    bind_text(st, 9, holder)) {
		rc = sq_fail(s->db, "conversation swap", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "conversation swap")) != OV_OK)
		goto out;
	*got = sqlite3_changes(s->db) == 1;
out:
	sqlite3_finalize(st);
	return rc;
}

/* Inbound messages of wa_id after its last outbound one. */
static int
sq_unanswered(struct sq *s, sqlite3_stmt *st, const char *wa_id, int64_t *n)
{
	int rc;

	*n = 0;
	sqlite3_reset(st);
	if (bind_text(st, 1, wa_id))
		return sq_fail(s->db, "inbox unanswered", SQLITE_ERROR);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = (int64_t)sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		return sq_fail(s->db, "inbox unanswered", rc);
	return OV_OK;
}

#define SQ_DOC_FIELD(f) "(CASE WHEN json_valid(c.doc) THEN" \
	" json_extract(c.doc, '$." f "') END)"

/*
 * A page of the list: the waiting ones and the others each read in index
 * order (conversaciones_owner, conversaciones_last) up to the page, not
 * every conversation sorted; FILTER (a search) is checked on the way, so
 * a common word stops early and a rare one reads them all.
 */
#define SQ_INBOX_PAGE(FILTER) \
	"SELECT p.key, p.owner, p.agent, p.last_inbound, p.updated_at," \
	" p.doc, cl.name, p.waiting FROM" \
	" (SELECT * FROM (SELECT c.key, c.owner, c.agent, c.last_inbound," \
	"  c.updated_at, c.doc, 1 AS waiting FROM conversaciones c" \
	"  WHERE c.owner = 'agent' AND c.agent = 'handoff'" \
	"  AND c.last_inbound > 0" FILTER \
	"  ORDER BY c.last_inbound ASC, c.key LIMIT ?2)" \
	" UNION ALL SELECT * FROM (SELECT c.key, c.owner, c.agent," \
	"  c.last_inbound, c.updated_at, c.doc, 0 AS waiting" \
	"  FROM conversaciones c WHERE c.last_inbound > 0" \
	"  AND NOT (c.owner = 'agent' AND c.agent = 'handoff')" FILTER \
	"  ORDER BY c.last_inbound DESC, c.key LIMIT ?2)) p" \
	" LEFT JOIN clientes cl ON cl.wa_id = p.key" \
	" ORDER BY p.waiting DESC," \
	" CASE WHEN p.waiting THEN p.last_inbound END ASC," \
	" p.last_inbound DESC, p.key LIMIT ?2"

static const char sq_inbox_all[] = SQ_INBOX_PAGE("");

/* A search: ?1 a plain substring of the key, the customer's name (the
 * matching names listed once), the document's razon, or its cuit when ?3
 * (the query is digits only, so it could be part of one). */
static const char sq_inbox_search[] =
	"WITH named(wa_id) AS MATERIALIZED (SELECT x.wa_id FROM clientes x"
	" WHERE instr(lower(ifnull(x.name, '')), ?1) > 0) "
	SQ_INBOX_PAGE(" AND (instr(lower(c.key), ?1) > 0"
	" OR (?3 AND instr(ifnull(" SQ_DOC_FIELD("cuit") ", ''), ?1) > 0)"
	" OR (NOT ?3 AND instr(c.doc, '\"razon\"') > 0"
	"  AND instr(lower(ifnull(" SQ_DOC_FIELD("razon") ", '')), ?1) > 0)"
	" OR c.key IN named)");

static int
sq_inbox_list(void *impl, const char *query, int limit,
    struct store_inbox_row **out, size_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL, *cnt = NULL;
	struct store_inbox_row *v = NULL;
	size_t len = 0;
	int rc;

	rc = sq_prepare(s, query == NULL ? sq_inbox_all : sq_inbox_search,
	    &st);
	if (rc != OV_OK)
		goto out;
	if ((rc = sq_prepare(s, "SELECT count(*) FROM mensajes"
	    " WHERE wa_id = ?1 AND dir = 0 AND ts > ifnull((SELECT max(ts)"
	    " FROM mensajes WHERE wa_id = ?1 AND dir = 1), 0)", &cnt)) != OV_OK)
		goto out;
	if (bind_int(st, 2, limit) || (query != NULL &&
	    (bind_text(st, 1, query) || bind_int(st, 3,
	    query[strspn(query, "0123456789")] == '\0')))) {
		rc = sq_fail(s->db, "inbox list", SQLITE_ERROR);
		goto out;
	}
	if ((v = calloc((size_t)limit, sizeof(*v))) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	while (len < (size_t)limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_inbox_row *r = &v[len++];

		col_copy(r->conv.key, sizeof(r->conv.key), st, 0);
		col_copy(r->conv.owner, sizeof(r->conv.owner), st, 1);
		col_copy(r->conv.agent, sizeof(r->conv.agent), st, 2);
		r->conv.last_inbound = (int64_t)sqlite3_column_int64(st, 3);
		r->conv.updated_at = (int64_t)sqlite3_column_int64(st, 4);
		r->waiting = sqlite3_column_int(st, 7) != 0;
		if ((rc = col_dup(st, 5, &r->conv.doc)) != OV_OK ||
		    (rc = col_dup(st, 6, &r->name)) != OV_OK)
			goto out;
		if (r->conv.doc == NULL &&
		    (r->conv.doc = strdup("{}")) == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
		if ((rc = sq_unanswered(s, cnt, r->conv.key,
		    &r->unanswered)) != OV_OK)
			goto out;
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		rc = sq_fail(s->db, "inbox list", rc);
		goto out;
	}
	rc = OV_OK;
	if (len > 0) {
		*out = v;
		*n = len;
		v = NULL;
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(cnt);
	store_inbox_rows_free(v, len);
	return rc;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of sorted v[0..n), nearest rank. */
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
sq_inbox_stats(void *impl, int64_t since, int64_t now,
    struct store_inbox_stats *out)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int64_t *lat = NULL, *nl;
	size_t nlat = 0, cap = 0;
	int rc;

	if ((rc = sq_prepare(s, "SELECT"
	    " (SELECT count(*) FROM mensajes WHERE dir = 0 AND ts >= ?1),"
	    " (SELECT count(*) FROM mensajes WHERE dir = 1 AND ts >= ?1"
	    "  AND type IS NOT NULL),"
	    " (SELECT count(*) FROM mensajes WHERE dir = 1 AND ts >= ?1"
	    "  AND status = 'failed'),"
	    " (SELECT count(*) FROM outbox WHERE attempts = 0"
	    "  AND next_attempt_at <= ?2),"
	    " (SELECT count(*) FROM outbox WHERE attempts > 0)", &st)) != OV_OK)
		goto out;
	if (bind_int(st, 1, since) || bind_int(st, 2, now)) {
		rc = sq_fail(s->db, "inbox stats", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		rc = sq_fail(s->db, "inbox stats", rc);
		goto out;
	}
	out->msgs_in = (int64_t)sqlite3_column_int64(st, 0);
	out->msgs_out = (int64_t)sqlite3_column_int64(st, 1);
	out->msgs_failed = (int64_t)sqlite3_column_int64(st, 2);
	out->outbox_due = (int64_t)sqlite3_column_int64(st, 3);
	out->outbox_retrying = (int64_t)sqlite3_column_int64(st, 4);
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = sq_prepare(s, "SELECT (SELECT min(o.ts) FROM mensajes o"
	    " WHERE o.wa_id = m.wa_id AND o.dir = 1 AND o.ts >= m.ts"
	    " AND o.type IS NOT NULL) - m.ts FROM mensajes m"
	    " WHERE m.dir = 0 AND m.ts >= ?1", &st)) != OV_OK)
		goto out;
	if (bind_int(st, 1, since)) {
		rc = sq_fail(s->db, "inbox stats", SQLITE_ERROR);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) == SQLITE_NULL)
			continue;
		if (nlat == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			if ((nl = realloc(lat, cap * sizeof(*lat))) == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			lat = nl;
		}
		lat[nlat++] = (int64_t)sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE) {
		rc = sq_fail(s->db, "inbox stats", rc);
		goto out;
	}
	rc = OV_OK;
	if (nlat > 0)
		qsort(lat, nlat, sizeof(*lat), cmp_i64);
	out->latency_p50 = percentile(lat, nlat, 50);
	out->latency_p99 = percentile(lat, nlat, 99);
out:
	sqlite3_finalize(st);
	free(lat);
	return rc;
}

/* ---- legacy and ISR ---------------------------------------------------- */

/* The import's statements are prepared per call too (sq_prepare). */
static int
sq_msgs_import(void *impl, const struct store_msg *v, size_t n,
    size_t *added)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	size_t count = 0;
	int rc;

	if ((rc = sq_begin_retry(s)) != OV_OK)
		return rc;
	rc = sq_prepare(s, "INSERT INTO mensajes (id, wa_id, dir, ts, type,"
	    " status, body, raw, claimed_at, handled_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)"
	    " ON CONFLICT (id) DO NOTHING", &st);
	if (rc != OV_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = &v[i];
		bool in = m->dir == STORE_IN;

		if (bind_text(st, 1, m->id) || bind_text(st, 2, m->wa_id) ||
		    bind_int(st, 3, in ? 0 : 1) || bind_int(st, 4, m->ts) ||
		    bind_text(st, 5, m->type) ||
		    bind_text(st, 6, in ? "handled" : m->status) ||
		    bind_text(st, 7, m->body) || bind_text(st, 8, m->raw) ||
		    (in ? bind_int(st, 9, m->ts) : sqlite3_bind_null(st, 9))) {
			rc = sq_fail(s->db, "import messages", SQLITE_ERROR);
			goto out;
		}
		if ((rc = sq_step_done(s->db, st, "import messages")) != OV_OK)
			goto out;
		count += (size_t)sqlite3_changes(s->db);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = sq_commit(s)) != OV_OK)
		goto out;
	*added = count;
out:
	sqlite3_finalize(st);
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

static int
sq_counter_raise(void *impl, const char *name, int64_t at_least,
    bool *raised)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sq_prepare(s, "INSERT INTO contadores (name, value) VALUES (?1, ?2)"
	    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
	    " WHERE value < excluded.value", &st);
	if (rc != OV_OK)
		goto out;
	if (bind_text(st, 1, name) || bind_int(st, 2, at_least)) {
		rc = sq_fail(s->db, "counter raise", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "counter raise")) != OV_OK)
		goto out;
	*raised = sqlite3_changes(s->db) > 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
sq_quote_by_number(void *impl, int64_t number, struct store_quote *out,
    bool *found)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sq_prepare(s, "SELECT " QUOTE_COLS " FROM presupuestos"
	    " WHERE number = ?1", &st);
	if (rc != OV_OK)
		goto out;
	if (bind_int(st, 1, number)) {
		rc = sq_fail(s->db, "quote by number", SQLITE_ERROR);
		goto out;
	}
	rc = step_one_quote(s, st, "quote by number", out, found);
out:
	sqlite3_finalize(st);
	return rc;
}

/* In process: no round trips to save, one number after another. */
static int
sq_quotes_by_number(void *impl, const int64_t *numbers, size_t n,
    struct store_quote *out, bool *found)
{
	int rc = OV_OK;

	for (size_t i = 0; i < n && rc == OV_OK; i++)
		rc = sq_quote_by_number(impl, numbers[i], &out[i], &found[i]);
	return rc;
}

static int
sq_quotes_import(void *impl, const struct store_quote *v, size_t n,
    size_t *added)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	size_t count = 0;
	int rc;

	if ((rc = sq_begin_retry(s)) != OV_OK)
		return rc;
	rc = sq_prepare(s, "INSERT INTO presupuestos (" QUOTE_COLS ")"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING", &st);
	if (rc != OV_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct store_quote *q = &v[i];

		if (bind_text(st, 1, q->id) || bind_int(st, 2, q->number) ||
		    bind_text(st, 3, q->wa_id) || bind_text(st, 4, q->state) ||
		    bind_int(st, 5, q->created_at) ||
		    bind_int(st, 6, q->expires_at) ||
		    bind_text(st, 7, q->doc)) {
			rc = sq_fail(s->db, "import quotes", SQLITE_ERROR);
			goto out;
		}
		if ((rc = sq_step_done(s->db, st, "import quotes")) != OV_OK)
			goto out;
		count += (size_t)sqlite3_changes(s->db);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = sq_commit(s)) != OV_OK)
		goto out;
	*added = count;
out:
	sqlite3_finalize(st);
	if (rc != OV_OK)
		sq_rollback(s);
	return rc;
}

/* The ISR queue's table, made on first use (no schema version of its
 * own: it is independent of every other table). */
static int
sq_isr_table(struct sq *s)
{
	return sq_exec(s->db, "CREATE TABLE IF NOT EXISTS isr_cola ("
	    " seq INTEGER PRIMARY KEY,"
	    " id TEXT NOT NULL UNIQUE,"
	    " quote_id TEXT NOT NULL,"
	    " payload TEXT NOT NULL,"
	    " last_error TEXT,"
	    " attempts INTEGER NOT NULL,"
	    " created_at INTEGER NOT NULL,"
	    " next_attempt_at INTEGER NOT NULL,"
	    " ord INTEGER NOT NULL);", "isr table");
}

static int
sq_isr_put(void *impl, const struct store_isr *e, int64_t seq)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_isr_table(s)) != OV_OK ||
	    (rc = sq_prepare(s, "INSERT INTO isr_cola (id, quote_id, payload,"
	    " last_error, attempts, created_at, next_attempt_at, ord)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
	    " ON CONFLICT (id) DO NOTHING", &st)) != OV_OK)
		goto out;
	if (bind_text(st, 1, e->id) || bind_text(st, 2, e->quote_id) ||
	    bind_text(st, 3, e->payload) || bind_text(st, 4, e->last_error) ||
	    bind_int(st, 5, e->attempts) || bind_int(st, 6, e->created_at) ||
	    bind_int(st, 7, e->next_attempt_at) || bind_int(st, 8, seq)) {
		rc = sq_fail(s->db, "isr put", SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, "isr put")) != OV_OK)
		goto out;
	if (sqlite3_changes(s->db) == 0)
		rc = OV_EEXIST;
out:
	sqlite3_finalize(st);
	return rc;
}

static int
sq_isr_list(void *impl, int limit, struct store_isr **out, size_t *n)
{
	struct sq *s = impl;
	sqlite3_stmt *st = NULL;
	struct store_isr *v = NULL;
	size_t len = 0;
	int rc;

	if ((rc = sq_isr_table(s)) != OV_OK ||
	    (rc = sq_prepare(s, "SELECT id, quote_id, payload, last_error,"
	    " attempts, created_at, next_attempt_at FROM isr_cola"
	    " ORDER BY created_at, ord, seq LIMIT ?1", &st)) != OV_OK)
		goto out;
	if (bind_int(st, 1, limit)) {
		rc = sq_fail(s->db, "isr list", SQLITE_ERROR);
		goto out;
	}
	if ((v = calloc((size_t)limit, sizeof(*v))) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_isr *e = &v[len++];

		col_copy(e->id, sizeof(e->id), st, 0);
		col_copy(e->quote_id, sizeof(e->quote_id), st, 1);
		e->attempts = sqlite3_column_int(st, 4);
		e->created_at = (int64_t)sqlite3_column_int64(st, 5);
		e->next_attempt_at = (int64_t)sqlite3_column_int64(st, 6);
		if ((rc = col_dup(st, 2, &e->payload)) != OV_OK ||
		    (rc = col_dup(st, 3, &e->last_error)) != OV_OK)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = sq_fail(s->db, "isr list", rc);
		goto out;
	}
	rc = OV_OK;
	*out = v;
	*n = len;
	v = NULL;
out:
	if (v != NULL)
		store_isr_free(v, len);
	sqlite3_finalize(st);
	return rc;
}

/* One UPDATE or DELETE on isr_cola binding ?1 id, ?2 a, ?3 b, ?4 text
 * (as many as it has); *changed gets how many rows it touched. */
static int
sq_isr_change(struct sq *s, const char *sql, const char *op, const char *id,
    int64_t a, int64_t b, const char *text, int *changed)
{
	sqlite3_stmt *st = NULL;
	int rc, np;

	if ((rc = sq_isr_table(s)) != OV_OK ||
	    (rc = sq_prepare(s, sql, &st)) != OV_OK)
		goto out;
	np = sqlite3_bind_parameter_count(st);
	if (bind_text(st, 1, id) || (np >= 2 && bind_int(st, 2, a)) ||
	    (np >= 3 && bind_int(st, 3, b)) ||
	    (np >= 4 && bind_text(st, 4, text))) {
		rc = sq_fail(s->db, op, SQLITE_ERROR);
		goto out;
	}
	if ((rc = sq_step_done(s->db, st, op)) == OV_OK)
		*changed = sqlite3_changes(s->db);
out:
	sqlite3_finalize(st);
	return rc;
}

static int
sq_isr_claim(void *impl, const char *id, int64_t seen, int64_t until)
{
	int changed = 0;
	int rc = sq_isr_change(impl, "UPDATE isr_cola SET next_attempt_at = ?3"
	    " WHERE id = ?1 AND next_attempt_at = ?2",
	    "isr claim", id, seen, until, NULL, &changed);

	if (rc == OV_OK && changed == 0)
		rc = OV_EBUSY;
	return rc;
}

static int
sq_isr_reschedule(void *impl, const char *id, int attempts,
    int64_t next_attempt_at, const char *error)
{
	int changed = 0;
	int rc = sq_isr_change(impl, "UPDATE isr_cola SET attempts = ?2,"
	    " next_attempt_at = ?3, last_error = ?4 WHERE id = ?1",
	    "isr reschedule", id, attempts, next_attempt_at, error, &changed);

	if (rc == OV_OK && changed == 0)
		rc = OV_ENOTFOUND;
	return rc;
}

static int
sq_isr_delete(void *impl, const char *id)
{
	int changed = 0;

	return sq_isr_change(impl, "DELETE FROM isr_cola WHERE id = ?1",
	    "isr delete", id, 0, 0, NULL, &changed);
}


const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.inbound_claim = sq_inbound_claim,
	.inbound_done = sq_inbound_done,
	.inbound_note = sq_inbound_note,
	.outbound_put = sq_outbound_put,
	.status_update = sq_status_update,
	.msg_get = sq_msg_get,
	.history = sq_history,
	.customer_get = sq_customer_get,
	.customer_put = sq_customer_put,
	.counter_next = sq_counter_next,
	.token_get = sq_token_get,
	.token_put = sq_token_put,
	.catalog_begin = sq_catalog_begin,
	.catalog_put = sq_catalog_put,
	.catalog_commit = sq_catalog_commit,
	.catalog_abort = sq_catalog_abort,
	.catalog_get = sq_catalog_get,
	.catalog_count = sq_catalog_count,
	.catalog_search = sq_catalog_search,
	.catalog_lookup = sq_catalog_lookup,
	.quote_put = sq_quote_put,
	.quote_get = sq_quote_get,
	.quote_list_older = sq_quote_list_older,
	.quote_list_older_except = sq_quote_list_older_except,
	.quote_pending_for = sq_quote_pending_for,
	.quote_delete = sq_quote_delete,
	.outbox_put = sq_outbox_put,
	.outbox_due = sq_outbox_due,
	.outbox_count_for = sq_outbox_count_for,
	.outbox_claim = sq_outbox_claim,
	.outbox_reschedule = sq_outbox_reschedule,
	.outbox_delete = sq_outbox_delete,
	.outbox_due_for = sq_outbox_due_for,
	.outbox_orphan = sq_outbox_orphan,
	.outbox_taken_put = sq_outbox_taken_put,
	.outbox_taken = sq_outbox_taken,
	.conv_get = sq_conv_get,
	.conv_put = sq_conv_put,
	.conv_lease = sq_conv_lease,
	.conv_release = sq_conv_release,
	.turn_commit = sq_turn_commit,
	.turn_recover = sq_turn_recover,
	.proactive_commit = sq_proactive_commit,
	.proactive_batch = sq_proactive_batch,
	.marker_get = sq_marker_get,
	.marker_delete = sq_marker_delete,
	.proactive_recover = sq_proactive_recover,
	.conv_scan = sq_conv_scan,
	.quote_scan_expiring = sq_quote_scan_expiring,
	.demand_put = sq_demand_put,
	.demand_scan = sq_demand_scan,
	.demand_delete = sq_demand_delete,
	.identity_get = sq_identity_get,
	.identity_put = sq_identity_put,
	.identity_move = sq_identity_move,
	/* ---- inbox */
	.conv_swap = sq_conv_swap,
	.inbox_list = sq_inbox_list,
	.inbox_stats = sq_inbox_stats,
	/* legacy and ISR */
	.msgs_import = sq_msgs_import,
	.counter_raise = sq_counter_raise,
	.quote_by_number = sq_quote_by_number,
	.quotes_by_number = sq_quotes_by_number,
	.quotes_import = sq_quotes_import,
	.isr_put = sq_isr_put,
	.isr_list = sq_isr_list,
	.isr_claim = sq_isr_claim,
	.isr_reschedule = sq_isr_reschedule,
	.isr_delete = sq_isr_delete,
};
