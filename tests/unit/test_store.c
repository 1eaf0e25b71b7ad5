/*
 * test_store.c - the store contract (lib/store.h), run against the backend
 * the configuration selects: MongoDB when MONGODB_URI is set (database
 * ovidio_test_<pid>, so runs do not collide), otherwise SQLite in a fresh
 * temporary directory that is removed at the end.
 *
 * Concurrency tests fork processes that each open their own store, as the
 * worker does; children report through a pipe and leave with _exit().
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>
#include <sqlite3.h>

#include "check.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "store.h"

#define NCHILD 8
#define DEDUPE_IDS 50
#define COUNTER_PER_CHILD 100

static struct config *cfg;
static struct store *st;
static bool use_mongo;
static char tmpdir[] = "/tmp/ovidio-store-test-XXXXXX";

/* ---- helpers ------------------------------------------------------------ */

/* The store copies what it is given, so body/raw may point at literals. */
static void
msg_init(struct store_msg *m, const char *id, const char *wa_id, int64_t ts,
    const char *type, const char *status, const char *body)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->wa_id, sizeof(m->wa_id), "%s", wa_id);
	m->ts = ts;
	snprintf(m->type, sizeof(m->type), "%s", type);
	snprintf(m->status, sizeof(m->status), "%s", status);
	m->body = (char *)body;
}

static int
claim(struct store *s, const char *id, const char *wa_id, int64_t now,
    int64_t lease, const char *body, enum store_claim *out)
{
	struct store_msg m;

	msg_init(&m, id, wa_id, now, "text", "", body);
	return store_inbound_claim(s, &m, now, lease, out);
}

static int
put_out(const char *id, const char *wa_id, int64_t ts, const char *status,
    const char *body)
{
	struct store_msg m;

	msg_init(&m, id, wa_id, ts, "text", status, body);
	return store_outbound_put(st, &m);
}

/* Status of a message, "" when absent or on error. */
static const char *
status_of(const char *id, char *buf, size_t len)
{
	struct store_msg m;
	bool found = false;

	buf[0] = '\0';
	if (store_msg_get(st, id, &m, &found) == OV_OK && found) {
		snprintf(buf, len, "%s", m.status);
		store_msg_clear(&m);
	}
	return buf;
}

static int
replace_catalog(const char *catalog, const char *const *kv, size_t n)
{
	struct store_catalog_writer *w;
	int rc;

	if ((rc = store_catalog_begin(st, catalog, &w)) != OV_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = store_catalog_add(w, kv[2 * i], kv[2 * i + 1])) !=
		    OV_OK) {
			store_catalog_abort(w);
			return rc;
		}
	}
	return store_catalog_commit(w);
}

/* The document under key, or NULL; caller frees. */
static char *
catalog_doc(struct store *s, const char *catalog, const char *key)
{
	char *json = NULL;
	bool found = false;

	if (store_catalog_get(s, catalog, key, &json, &found) != OV_OK ||
	    !found) {
		free(json);
		return NULL;
	}
	return json;
}

static int64_t
catalog_count(struct store *s, const char *catalog)
{
	int64_t n = -1;

	if (store_catalog_count(s, catalog, &n) != OV_OK)
		return -1;
	return n;
}

static void
wait_past(int64_t t)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	while ((int64_t)time(NULL) <= t)
		nanosleep(&ts, NULL);
}

/*
 * Fork nchild processes. Each opens its own store, waits for the others,
 * runs fn and writes `per_child` result bytes in one write (atomic below
 * PIPE_BUF). Returns the number of children that failed or -1.
 */
static int
run_children(int nchild, size_t per_child,
    void (*fn)(struct store *, int, unsigned char *), unsigned char *results)
{
	int go[2], res[2], failed = 0;
	pid_t pids[NCHILD];
	size_t got = 0, want = (size_t)nchild * per_child;

	if (nchild > NCHILD || per_child > 4096 || pipe(go) != 0)
		return -1;
	if (pipe(res) != 0) {
		close(go[0]);
		close(go[1]);
		return -1;
	}
	for (int i = 0; i < nchild; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			unsigned char out[4096];
			struct store *cst = NULL;
			char c;
			int status = 1;

			close(go[1]);
			close(res[0]);
			memset(out, 0xff, per_child);
			if (store_open(&cst, cfg) == OV_OK) {
				/* EOF when the parent releases everyone. */
				while (read(go[0], &c, 1) < 0 && errno == EINTR)
					;
				fn(cst, i, out);
				store_close(cst);
				status = 0;
			}
			if (write(res[1], out, per_child) != (ssize_t)per_child)
				status = 1;
			_exit(status);
		}
		if (pids[i] < 0) {
			nchild = i;
			failed++;
			break;
		}
	}
	close(go[0]);
	close(res[1]);
	close(go[1]);   /* start them all at once */
	while (got < want) {
		ssize_t r = read(res[0], results + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(res[0]);
	for (int i = 0; i < nchild; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	if (got != want)
		failed++;
	return failed;
}

/* Many processes opening one brand-new SQLite file at once (the worker's
 * children on a fresh install) all get a working store. */
static void
test_sqlite_fresh_file_opened_by_many_at_once(void)
{
	for (int round = 0; round < 5; round++) {
		char dir[300], err[256];
		int go[2], failed = 0;
		pid_t pids[NCHILD];
		struct config *c = NULL;
		struct store *s = NULL;
		int64_t v = 0;

		snprintf(dir, sizeof(dir), "%s/fresh-%d", tmpdir, round);
		CHECK(mkdir(dir, 0700) == 0);
		CHECK(pipe(go) == 0);
		for (int i = 0; i < NCHILD; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				char ch;
				int ok;

				close(go[1]);
				setenv("OVIDIO_DATA_DIR", dir, 1);
				if (config_load(&c, err, sizeof(err)) != OV_OK)
					_exit(1);
				while (read(go[0], &ch, 1) < 0 && errno == EINTR)
					;
				ok = store_open(&s, c) == OV_OK &&
				    store_counter_next(s, "fresh", &v) == OV_OK;
				store_close(s);
				_exit(ok ? 0 : 1);
			}
		}
		close(go[0]);
		close(go[1]);   /* all at once */
		for (int i = 0; i < NCHILD; i++) {
			int status;

			if (pids[i] < 0 || waitpid(pids[i], &status, 0) != pids[i] ||
			    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed++;
		}
		CHECK_INT(failed, 0);
		setenv("OVIDIO_DATA_DIR", dir, 1);
		CHECK_INT(config_load(&c, err, sizeof(err)), OV_OK);
		CHECK_INT(store_open(&s, c), OV_OK);
		if (s != NULL) {
			CHECK_INT(store_counter_next(s, "fresh", &v), OV_OK);
			CHECK_INT(v, NCHILD + 1);
			store_close(s);
		}
		config_free(c);
		setenv("OVIDIO_DATA_DIR", tmpdir, 1);
	}
}

/* ---- backend ------------------------------------------------------------ */

static void
test_backend_matches_configuration(void)
{
	CHECK_STR(store_backend(st), use_mongo ? "mongodb" : "sqlite");
	if (!use_mongo) {
		char path[512];
		struct stat sb;

		/* umask is 022 here: only the store's own care makes it 0600. */
		snprintf(path, sizeof(path), "%s/ovidio.db", tmpdir);
		CHECK(stat(path, &sb) == 0);
		CHECK_INT(sb.st_mode & 0077, 0);
		snprintf(path, sizeof(path), "%s/ovidio.db-wal", tmpdir);
		if (stat(path, &sb) == 0)
			CHECK_INT(sb.st_mode & 0077, 0);
	}
}

static void
test_sqlite_missing_data_dir(void)
{
	struct config *bad = NULL;
	struct store *s = NULL;
	char err[256], dir[600];

	if (use_mongo)
		return;
	/* The environment is read when a key is looked up: keep it set. */
	snprintf(dir, sizeof(dir), "%s/no/such/dir", tmpdir);
	setenv("OVIDIO_DATA_DIR", dir, 1);
	CHECK_INT(config_load(&bad, err, sizeof(err)), OV_OK);
	if (bad != NULL) {
		CHECK_INT(store_open(&s, bad), OV_EIO);
		CHECK(s == NULL);
		store_close(s);
		config_free(bad);
	}
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
}

/* ---- mensajes: inbound -------------------------------------------------- */

static void
test_inbound_new_then_duplicate(void)
{
	enum store_claim c = STORE_CLAIM_DUPLICATE;
	struct store_msg m;
	bool found = false;

	CHECK_INT(claim(st, "wamid.in.1", "5493415550001", 1000, 300, "hola",
	    &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_NEW);
	CHECK_INT(claim(st, "wamid.in.1", "5493415550001", 1001, 300,
	    "otro texto", &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_DUPLICATE);

	/* The first copy is what was recorded. */
	CHECK_INT(store_msg_get(st, "wamid.in.1", &m, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(m.id, "wamid.in.1");
		CHECK_STR(m.wa_id, "5493415550001");
		CHECK_INT(m.dir, STORE_IN);
		CHECK_INT(m.ts, 1000);
		CHECK_STR(m.type, "text");
		CHECK_STR(m.status, "received");
		CHECK_STR(m.body, "hola");
		store_msg_clear(&m);
	}
	CHECK_INT(store_msg_get(st, "wamid.in.never", &m, &found), OV_OK);
	CHECK(!found);
}

static void
test_inbound_lease_retry(void)
{
	const char *id = "wamid.lease.1", *wa = "5493415550002";
	enum store_claim c = STORE_CLAIM_NEW;
	char buf[32];

	CHECK_INT(claim(st, id, wa, 1000, 60, "precio dvr", &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_NEW);
	/* Another process is still within its lease. */
	CHECK_INT(claim(st, id, wa, 1030, 60, "precio dvr", &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_DUPLICATE);
	CHECK_INT(claim(st, id, wa, 1060, 60, "precio dvr", &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_DUPLICATE);
	/* Lease over: one caller takes it over, the next sees the new claim. */
	CHECK_INT(claim(st, id, wa, 1061, 60, "precio dvr", &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_RETRY);
	CHECK_INT(claim(st, id, wa, 1061, 60, "precio dvr", &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_DUPLICATE);
	CHECK_INT(claim(st, id, wa, 1100, 60, "precio dvr", &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_DUPLICATE);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "received");

	CHECK_INT(store_inbound_done(st, id, 1101), OV_OK);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "handled");
	/* Handled: never again, however late. */
	CHECK_INT(claim(st, id, wa, 999999, 60, "precio dvr", &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_DUPLICATE);
}

static void
test_inbound_done_unknown(void)
{
	CHECK_INT(store_inbound_done(st, "wamid.unknown.1", 1000),
	    OV_ENOTFOUND);
}

/* A voice note's transcript and a kept copy of its media are written back
 * to the recorded message: the inbox and the model read them in the
 * history; Meta's JSON stays as it came. */
static void
test_inbound_note(void)
{
	const char *wa = "5493415550070", *raw = "{\"type\":\"audio\","
	    "\"audio\":{\"id\":\"8001\"}}";
	const char *kept = "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f";
	struct store_msg m, got, *v = NULL;
	enum store_claim c;
	bool found = false;
	size_t n = 0;

	msg_init(&m, "wamid.note.1", wa, 7000, "audio", "", NULL);
	m.raw = (char *)raw;
	CHECK_INT(store_inbound_claim(st, &m, 7000, 300, &c), OV_OK);
	CHECK_INT(claim(st, "wamid.note.2", wa, 7001, 300, "hola", &c), OV_OK);
	CHECK_INT(put_out("wamid.note.out", wa, 7002, "sent", "Hola"), OV_OK);

	CHECK_INT(store_msg_get(st, "wamid.note.1", &got, &found), OV_OK);
	CHECK(found && got.body == NULL && got.media[0] == '\0');
	store_msg_clear(&got);

	CHECK_INT(store_inbound_note(st, "wamid.note.1", "🎤 tenés la DS-2CE?",
	    NULL), OV_OK);
	CHECK_INT(store_inbound_note(st, "wamid.note.1", NULL, kept), OV_OK);
	CHECK_INT(store_inbound_done(st, "wamid.note.1", 7003), OV_OK);
	CHECK_INT(store_history(st, wa, 10, &v, &n), OV_OK);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(v[0].id, "wamid.note.1");
		CHECK_STR(v[0].body, "🎤 tenés la DS-2CE?");
		CHECK_STR(v[0].raw, raw);
		CHECK_STR(v[0].media, kept);
		CHECK_STR(v[0].type, "audio");
		CHECK_STR(v[0].status, "handled");
		/* The others are untouched. */
		CHECK_STR(v[1].body, "hola");
		CHECK_STR(v[1].media, "");
		CHECK_STR(v[2].media, "");
	}
	store_msgs_free(v, n);

	/* Both at once; the first write is replaced. */
	CHECK_INT(store_inbound_note(st, "wamid.note.1", "🎤 y la de 8 canales",
	    "kept-2"), OV_OK);
	CHECK_INT(store_msg_get(st, "wamid.note.1", &got, &found), OV_OK);
	CHECK(found);
	CHECK_STR(got.body, "🎤 y la de 8 canales");
	CHECK_STR(got.media, "kept-2");
	CHECK_STR(got.raw, raw);
	store_msg_clear(&got);

	/* Only inbound messages the store holds. */
	CHECK_INT(store_inbound_note(st, "wamid.note.nobody", "x", NULL),
	    OV_ENOTFOUND);
	CHECK_INT(store_inbound_note(st, "wamid.note.out", "x", NULL),
	    OV_ENOTFOUND);
	CHECK_INT(store_msg_get(st, "wamid.note.out", &got, &found), OV_OK);
	CHECK(found);
	CHECK_STR(got.body, "Hola");
	store_msg_clear(&got);

	/* A name, never a path or an operator. */
	CHECK_INT(store_inbound_note(st, "wamid.note.2", NULL, NULL),
	    OV_EINVAL);
	CHECK_INT(store_inbound_note(st, "wamid.note.2", NULL, "../../etc"),
	    OV_EINVAL);
	CHECK_INT(store_inbound_note(st, "wamid.note.2", NULL, "$set"),
	    OV_EINVAL);
	CHECK_INT(store_inbound_note(st, "wamid.note.2", NULL, ""), OV_EINVAL);
	CHECK_INT(store_inbound_note(st, "wamid.note.2", NULL,
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "4"), OV_EINVAL);
	CHECK_INT(store_inbound_note(st, "", "x", NULL), OV_EINVAL);
	CHECK_INT(store_msg_get(st, "wamid.note.2", &got, &found), OV_OK);
	CHECK_STR(got.body, "hola");
	CHECK_STR(got.media, "");
	store_msg_clear(&got);
}

static void
dedupe_child(struct store *cst, int idx, unsigned char *out)
{
	char id[64];
	enum store_claim c;
	int64_t now = idx >= 100 ? 5000000 + 301 : 5000000;

	for (int i = 0; i < DEDUPE_IDS; i++) {
		snprintf(id, sizeof(id), "wamid.dedupe.%02d", i);
		if (claim(cst, id, "5493415550003", now, 300, "hola", &c) ==
		    OV_OK)
			out[i] = (unsigned char)c;
	}
}

static void
dedupe_child_late(struct store *cst, int idx, unsigned char *out)
{
	dedupe_child(cst, idx + 100, out);
}

/* Tally per id: n[id][claim]; 0xff (error) counted apart. */
static void
tally(const unsigned char *res, int counts[DEDUPE_IDS][3], int *errors)
{
	memset(counts, 0, sizeof(int) * DEDUPE_IDS * 3);
	*errors = 0;
	for (int c = 0; c < NCHILD; c++)
		for (int i = 0; i < DEDUPE_IDS; i++) {
			unsigned char v = res[c * DEDUPE_IDS + i];
			if (v <= STORE_CLAIM_DUPLICATE)
				counts[i][v]++;
			else
				(*errors)++;
		}
}

static void
test_concurrent_dedupe(void)
{
	unsigned char res[NCHILD * DEDUPE_IDS];
	int counts[DEDUPE_IDS][3], errors, bad = 0;

	memset(res, 0xff, sizeof(res));
	CHECK_INT(run_children(NCHILD, DEDUPE_IDS, dedupe_child, res), 0);
	tally(res, counts, &errors);
	CHECK_INT(errors, 0);
	for (int i = 0; i < DEDUPE_IDS; i++)
		if (counts[i][STORE_CLAIM_NEW] != 1 ||
		    counts[i][STORE_CLAIM_RETRY] != 0 ||
		    counts[i][STORE_CLAIM_DUPLICATE] != NCHILD - 1)
			bad++;
	CHECK_INT(bad, 0);

	/* Nobody marked them done and the lease ran out: exactly one
	 * process per id takes each over. */
	memset(res, 0xff, sizeof(res));
	CHECK_INT(run_children(NCHILD, DEDUPE_IDS, dedupe_child_late, res), 0);
	tally(res, counts, &errors);
	CHECK_INT(errors, 0);
	bad = 0;
	for (int i = 0; i < DEDUPE_IDS; i++)
		if (counts[i][STORE_CLAIM_NEW] != 0 ||
		    counts[i][STORE_CLAIM_RETRY] != 1 ||
		    counts[i][STORE_CLAIM_DUPLICATE] != NCHILD - 1)
			bad++;
	CHECK_INT(bad, 0);
}

/* ---- mensajes: outbound and statuses ------------------------------------ */

static void
test_outbound_status_never_lowers(void)
{
	const char *id = "wamid.out.1", *wa = "5493415550004";
	struct store_msg m;
	bool found = false;
	char buf[32];

	CHECK_INT(put_out(id, wa, 2000, "pending", "Hola, ¿en qué te ayudo?"),
	    OV_OK);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "pending");
	CHECK_INT(store_status_update(st, id, wa, "sent", 2001, NULL, &found),
	    OV_OK);
	CHECK(found);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "sent");
	CHECK_INT(store_status_update(st, id, wa, "delivered", 2002, NULL,
	    &found), OV_OK);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "delivered");
	CHECK_INT(store_status_update(st, id, wa, "read", 2003, NULL, &found),
	    OV_OK);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "read");

	/* Webhooks arrive out of order: a late one changes nothing. */
	CHECK_INT(store_status_update(st, id, wa, "delivered", 2002, NULL,
	    &found), OV_OK);
	CHECK(found);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "read");
	CHECK_INT(store_status_update(st, id, wa, "sent", 2001, NULL, NULL),
	    OV_OK);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "read");
	/* Recording the same message again keeps the status too. */
	CHECK_INT(put_out(id, wa, 2000, "sent", "Hola, ¿en qué te ayudo?"),
	    OV_OK);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "read");

	CHECK_INT(store_msg_get(st, id, &m, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_INT(m.dir, STORE_OUT);
		CHECK_STR(m.wa_id, wa);
		CHECK_INT(m.ts, 2000);
		CHECK_STR(m.type, "text");
		CHECK_STR(m.body, "Hola, ¿en qué te ayudo?");
		store_msg_clear(&m);
	}
}

static void
test_status_before_outbound_put(void)
{
	const char *id = "wamid.stub.1", *wa = "5493415550005";
	struct store_msg m, *v = NULL;
	size_t n = 99;
	bool found = true;

	CHECK_INT(store_status_update(st, id, wa, "delivered", 3001, NULL,
	    &found), OV_OK);
	CHECK(!found);
	/* A bare status is not a message of the conversation. */
	CHECK_INT(store_history(st, wa, 10, &v, &n), OV_OK);
	CHECK_INT(n, 0);
	store_msgs_free(v, n);
	/* A second early status finds the stub (a record with this id
	 * exists) and, lower in rank, leaves it as it is. */
	found = false;
	CHECK_INT(store_status_update(st, id, wa, "sent", 3000, NULL, &found),
	    OV_OK);
	CHECK(found);

	CHECK_INT(put_out(id, wa, 3000, "sent", "Te paso el presupuesto"),
	    OV_OK);
	CHECK_INT(store_msg_get(st, id, &m, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(m.status, "delivered");
		CHECK_STR(m.body, "Te paso el presupuesto");
		CHECK_STR(m.type, "text");
		CHECK_INT(m.ts, 3000);
		CHECK_INT(m.dir, STORE_OUT);
		store_msg_clear(&m);
	}
	v = NULL;
	CHECK_INT(store_history(st, wa, 10, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(v[0].id, id);
		CHECK_STR(v[0].status, "delivered");
	}
	store_msgs_free(v, n);

	CHECK_INT(store_status_update(st, id, wa, "read", 3002, NULL, &found),
	    OV_OK);
	CHECK(found);
	CHECK_STR(status_of(id, (char[32]){ 0 }, 32), "read");
}

/* The error text is not part of struct store_msg; on SQLite read the
 * column directly so the test can tell it was kept. */
static void
check_sqlite_error(const char *id, const char *want)
{
	char path[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;

	if (use_mongo)
		return;
	snprintf(path, sizeof(path), "%s/ovidio.db", tmpdir);
	CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	CHECK_INT(sqlite3_prepare_v2(db,
	    "SELECT error FROM mensajes WHERE id = ?1", -1, &q, NULL),
	    SQLITE_OK);
	if (q != NULL) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
		CHECK_INT(sqlite3_step(q), SQLITE_ROW);
		CHECK_STR((const char *)sqlite3_column_text(q, 0), want);
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* SQLite: a write waits for another process's write lock and goes on
 * once it is released, instead of failing busy. */
static void
test_sqlite_writer_waits_for_the_lock(void)
{
	struct store_customer cu;
	struct timespec t0, t1;
	int pfd[2], status = 0;
	char c = 0;
	long ms;
	pid_t pid;

	CHECK(pipe(pfd) == 0);
	pid = fork();
	if (pid == 0) {
		char path[512];
		sqlite3 *db = NULL;

		close(pfd[0]);
		snprintf(path, sizeof(path), "%s/ovidio.db", tmpdir);
		if (sqlite3_open(path, &db) != SQLITE_OK ||
		    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			_exit(1);
		(void)!write(pfd[1], "x", 1);
		usleep(300000);
		_exit(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) ==
		    SQLITE_OK && sqlite3_close(db) == SQLITE_OK ? 0 : 2);
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &c, 1) == 1);   /* the lock is held now */
	close(pfd[0]);
	memset(&cu, 0, sizeof(cu));
	snprintf(cu.wa_id, sizeof(cu.wa_id), "5493415550777");
	cu.name = (char *)"Espera";
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(store_customer_put(st, &cu), OV_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 200);   /* it waited for the other process */
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_failed_keeps_error(void)
{
	const char *id = "wamid.fail.1", *wa = "5493415550006";
	const char *err = "(#131047) Re-engagement message";
	bool found = false;
	char buf[32];

	CHECK_INT(put_out(id, wa, 4000, "sent", "¿Seguís ahí?"), OV_OK);
	CHECK_INT(store_status_update(st, id, wa, "failed", 4001, err, &found),
	    OV_OK);
	CHECK(found);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "failed");
	/* failed outranks everything. */
	CHECK_INT(store_status_update(st, id, wa, "read", 4002, NULL, &found),
	    OV_OK);
	CHECK_STR(status_of(id, buf, sizeof(buf)), "failed");
	check_sqlite_error(id, err);

	/* The same when the failure arrives before the message is recorded. */
	CHECK_INT(store_status_update(st, "wamid.fail.2", wa, "failed", 4003,
	    err, &found), OV_OK);
	CHECK(!found);
	CHECK_INT(put_out("wamid.fail.2", wa, 4003, "sent", "Hola"), OV_OK);
	CHECK_STR(status_of("wamid.fail.2", buf, sizeof(buf)), "failed");
	check_sqlite_error("wamid.fail.2", err);
}

/* ---- history ------------------------------------------------------------ */

static void
test_history(void)
{
	const char *a = "5493415551111", *b = "5493415552222";
	enum store_claim c;
	struct store_msg *v = NULL;
	size_t n = 0;
	static const char *const all_a[] = {
		"h.a0", "h.a1", "h.a2", "h.a3", "h.a4", "h.a5"
	};

	CHECK_INT(claim(st, "h.a1", a, 100, 300, "hola", &c), OV_OK);
	CHECK_INT(claim(st, "h.b1", b, 101, 300, "buenas", &c), OV_OK);
	CHECK_INT(put_out("h.a2", a, 105, "sent", "¡Hola! ¿Qué buscás?"),
	    OV_OK);
	CHECK_INT(claim(st, "h.a3", a, 110, 300, "cámaras", &c), OV_OK);
	/* Same second as h.a3: insertion order decides. */
	CHECK_INT(put_out("h.a4", a, 110, "sent", "Tengo estas cámaras"),
	    OV_OK);
	CHECK_INT(put_out("h.b2", b, 111, "sent", "Hola"), OV_OK);
	CHECK_INT(claim(st, "h.a5", a, 120, 300, "gracias", &c), OV_OK);
	/* Recorded late but sent first. */
	CHECK_INT(put_out("h.a0", a, 90, "sent", "Bienvenido"), OV_OK);

	CHECK_INT(store_history(st, a, 4, &v, &n), OV_OK);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_STR(v[0].id, "h.a2");
		CHECK_INT(v[0].dir, STORE_OUT);
		CHECK_STR(v[0].body, "¡Hola! ¿Qué buscás?");
		CHECK_STR(v[1].id, "h.a3");
		CHECK_INT(v[1].dir, STORE_IN);
		CHECK_STR(v[1].body, "cámaras");
		CHECK_STR(v[2].id, "h.a4");
		CHECK_INT(v[2].dir, STORE_OUT);
		CHECK_STR(v[3].id, "h.a5");
		CHECK_INT(v[3].dir, STORE_IN);
	}
	store_msgs_free(v, n);

	v = NULL;
	CHECK_INT(store_history(st, a, 500, &v, &n), OV_OK);
	CHECK_INT(n, 6);
	for (size_t i = 0; i < n && i < 6; i++) {
		CHECK_STR(v[i].id, all_a[i]);
		CHECK_STR(v[i].wa_id, a);
	}
	store_msgs_free(v, n);

	v = NULL;
	CHECK_INT(store_history(st, a, 1, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(v[0].id, "h.a5");
	store_msgs_free(v, n);

	v = NULL;
	CHECK_INT(store_history(st, b, 500, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, "h.b1");
		CHECK_STR(v[1].id, "h.b2");
	}
	store_msgs_free(v, n);

	v = NULL;
	n = 7;
	CHECK_INT(store_history(st, "5493410000000", 10, &v, &n), OV_OK);
	CHECK_INT(n, 0);
	store_msgs_free(v, n);
}

/* ---- clientes ----------------------------------------------------------- */

static void
test_customers(void)
{
	const char *wa = "5493415553333";
	struct store_customer c, got;
	bool found = true;
	int64_t t0, t1, created = 0;

	CHECK_INT(store_customer_get(st, wa, &got, &found), OV_OK);
	CHECK(!found);

	memset(&c, 0, sizeof(c));
	snprintf(c.wa_id, sizeof(c.wa_id), "%s", wa);
	c.name = "Juan";
	t0 = (int64_t)time(NULL);
	CHECK_INT(store_customer_put(st, &c), OV_OK);
	t1 = (int64_t)time(NULL);
	CHECK_INT(store_customer_get(st, wa, &got, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.wa_id, wa);
		CHECK_STR(got.name, "Juan");
		CHECK(got.profile == NULL);
		CHECK(!got.verified);
		CHECK_INT(got.cianbox_id, 0);
		CHECK(got.created_at >= t0 && got.created_at <= t1);
		CHECK_INT(got.updated_at, got.created_at);
		created = got.created_at;
		store_customer_clear(&got);
	}

	wait_past(created);
	c.name = "Juan Pérez";
	c.profile = "{\"last_product\":\"DVR 8 canales\"}";
	c.verified = true;
	c.cianbox_id = 4711;
	CHECK_INT(store_customer_put(st, &c), OV_OK);
	CHECK_INT(store_customer_get(st, wa, &got, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.name, "Juan Pérez");
		CHECK_STR(got.profile, "{\"last_product\":\"DVR 8 canales\"}");
		CHECK(got.verified);
		CHECK_INT(got.cianbox_id, 4711);
		CHECK_INT(got.created_at, created);
		CHECK(got.updated_at > created);
		store_customer_clear(&got);
	}
	CHECK_INT(store_customer_get(st, "5493415553334", &got, &found),
	    OV_OK);
	CHECK(!found);
}

/* ---- contadores --------------------------------------------------------- */

static void
test_counters(void)
{
	int64_t v = 0;

	CHECK_INT(store_counter_next(st, "test.a", &v), OV_OK);
	CHECK_INT(v, 1);
	CHECK_INT(store_counter_next(st, "test.a", &v), OV_OK);
	CHECK_INT(v, 2);
	CHECK_INT(store_counter_next(st, "test.b", &v), OV_OK);
	CHECK_INT(v, 1);
	CHECK_INT(store_counter_next(st, "test.a", &v), OV_OK);
	CHECK_INT(v, 3);
	CHECK_INT(store_counter_next(st, "test.b", &v), OV_OK);
	CHECK_INT(v, 2);
}

static void
counter_child(struct store *cst, int idx, unsigned char *out)
{
	(void)idx;
	for (int i = 0; i < COUNTER_PER_CHILD; i++) {
		int64_t v = -1;
		if (store_counter_next(cst, "concurrent", &v) != OV_OK)
			v = -1;
		memcpy(out + (size_t)i * sizeof(v), &v, sizeof(v));
	}
}

static void
test_concurrent_counters(void)
{
	enum { TOTAL = NCHILD * COUNTER_PER_CHILD };
	unsigned char res[TOTAL * sizeof(int64_t)];
	bool seen[TOTAL + 1];
	int out_of_range = 0, repeated = 0, distinct = 0;
	int64_t v;

	memset(res, 0, sizeof(res));
	memset(seen, 0, sizeof(seen));
	CHECK_INT(run_children(NCHILD, COUNTER_PER_CHILD * sizeof(int64_t),
	    counter_child, res), 0);
	for (int i = 0; i < TOTAL; i++) {
		memcpy(&v, res + (size_t)i * sizeof(v), sizeof(v));
		if (v < 1 || v > TOTAL)
			out_of_range++;
		else if (seen[v])
			repeated++;
		else {
			seen[v] = true;
			distinct++;
		}
	}
	CHECK_INT(out_of_range, 0);
	CHECK_INT(repeated, 0);
	CHECK_INT(distinct, TOTAL);
	CHECK_INT(store_counter_next(st, "concurrent", &v), OV_OK);
	CHECK_INT(v, TOTAL + 1);
}

/* ---- tokens ------------------------------------------------------------- */

static void
test_tokens(void)
{
	char *value = NULL;
	int64_t exp = 0;
	bool found = true;

	CHECK_INT(store_token_get(st, "cianbox", &value, &exp, &found), OV_OK);
	CHECK(!found);
	CHECK(value == NULL);

	CHECK_INT(store_token_put(st, "cianbox", "tok-1", 1000), OV_OK);
	CHECK_INT(store_token_get(st, "cianbox", &value, &exp, &found), OV_OK);
	CHECK(found);
	CHECK_STR(value, "tok-1");
	CHECK_INT(exp, 1000);
	free(value);

	CHECK_INT(store_token_put(st, "cianbox", "tok-2", 2000), OV_OK);
	CHECK_INT(store_token_put(st, "other", "x", 5), OV_OK);
	CHECK_INT(store_token_get(st, "cianbox", &value, &exp, &found), OV_OK);
	CHECK(found);
	CHECK_STR(value, "tok-2");
	CHECK_INT(exp, 2000);
	free(value);
	CHECK_INT(store_token_get(st, "other", &value, &exp, &found), OV_OK);
	CHECK_STR(value, "x");
	free(value);
}

/* ---- catalogs ----------------------------------------------------------- */

static void
test_catalog_replace(void)
{
	static const char *const first[] = {
		"p1", "{\"name\":\"Cámara domo 2MP\",\"price\":25000}",
		"p2", "{\"name\":\"DVR 8 canales\",\"price\":120000}",
		"p3", "{\"name\":\"Cable UTP 305m\",\"price\":80000}",
	};
	static const char *const second[] = {
		"p4", "{\"name\":\"Sirena 12V\"}",
		"p5", "{\"name\":\"Fuente 12V 5A\"}",
	};
	int64_t clients = catalog_count(st, "clientes_cianbox");
	char *doc;

	CHECK_INT(replace_catalog("productos_cache", first, 3), OV_OK);
	CHECK_INT(catalog_count(st, "productos_cache"), 3);
	doc = catalog_doc(st, "productos_cache", "p2");
	CHECK_STR(doc, "{\"name\":\"DVR 8 canales\",\"price\":120000}");
	free(doc);

	CHECK_INT(replace_catalog("productos_cache", second, 2), OV_OK);
	CHECK_INT(catalog_count(st, "productos_cache"), 2);
	doc = catalog_doc(st, "productos_cache", "p1");
	CHECK(doc == NULL);
	free(doc);
	doc = catalog_doc(st, "productos_cache", "p3");
	CHECK(doc == NULL);
	free(doc);
	doc = catalog_doc(st, "productos_cache", "p5");
	CHECK_STR(doc, "{\"name\":\"Fuente 12V 5A\"}");
	free(doc);
	/* The other catalog is not touched. */
	CHECK_INT(catalog_count(st, "clientes_cianbox"), clients);
}

static void
add_many(struct store_catalog_writer *w, const char *prefix, int n)
{
	char key[64], doc[128];
	int failures = 0;

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s%04d", prefix, i);
		snprintf(doc, sizeof(doc), "{\"sku\":\"%s%04d\",\"stock\":%d}",
		    prefix, i, i);
		if (store_catalog_add(w, key, doc) != OV_OK)
			failures++;
	}
	CHECK_INT(failures, 0);
}

static void
test_catalog_abort_keeps_old(void)
{
	struct store_catalog_writer *w = NULL;
	int64_t before = catalog_count(st, "productos_cache");
	char *doc;

	CHECK(before > 0);
	/* Small (nothing written yet) and large (batches written). */
	for (int round = 0; round < 2; round++) {
		CHECK_INT(store_catalog_begin(st, "productos_cache", &w), OV_OK);
		if (w == NULL)
			return;
		add_many(w, "x", round == 0 ? 3 : 2500);
		store_catalog_abort(w);
		CHECK_INT(catalog_count(st, "productos_cache"), before);
		doc = catalog_doc(st, "productos_cache", "p4");
		CHECK(doc != NULL);
		free(doc);
		doc = catalog_doc(st, "productos_cache", "x0001");
		CHECK(doc == NULL);
		free(doc);
	}
}

static void
test_catalog_readers_during_replace(void)
{
	struct store_catalog_writer *w = NULL;
	struct store *st2 = NULL;
	int64_t before = catalog_count(st, "productos_cache");
	char *doc;

	CHECK_INT(store_open(&st2, cfg), OV_OK);
	if (st2 == NULL)
		return;
	CHECK_INT(store_catalog_begin(st, "productos_cache", &w), OV_OK);
	if (w == NULL) {
		store_close(st2);
		return;
	}
	add_many(w, "r", 2500);
	/* Half-way: both handles still see the old copy, whole. */
	CHECK_INT(catalog_count(st2, "productos_cache"), before);
	CHECK_INT(catalog_count(st, "productos_cache"), before);
	doc = catalog_doc(st2, "productos_cache", "p4");
	CHECK(doc != NULL);
	free(doc);
	doc = catalog_doc(st2, "productos_cache", "r0001");
	CHECK(doc == NULL);
	free(doc);

	CHECK_INT(store_catalog_commit(w), OV_OK);
	CHECK_INT(catalog_count(st2, "productos_cache"), 2500);
	doc = catalog_doc(st2, "productos_cache", "r2499");
	CHECK_STR(doc, "{\"sku\":\"r2499\",\"stock\":2499}");
	free(doc);
	doc = catalog_doc(st2, "productos_cache", "p4");
	CHECK(doc == NULL);
	free(doc);
	store_close(st2);
}

static void
crash_child(struct store *cst, int idx, unsigned char *out)
{
	struct store_catalog_writer *w = NULL;
	char key[32];

	(void)idx;
	out[0] = 1;
	if (store_catalog_begin(cst, "productos_cache", &w) != OV_OK)
		return;
	for (int i = 0; i < 2500; i++) {
		snprintf(key, sizeof(key), "crash%04d", i);
		if (store_catalog_add(w, key, "{}") != OV_OK)
			return;
	}
	out[0] = 0;
	/* Dies here: no commit, no abort. */
}

/* SQLite only: staging tables left in the file (a crashed sync's copy
 * must not stay around forever). 0 on MongoDB. */
static int
sqlite_staging_tables(void)
{
	char path[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int n = -1;

	if (use_mongo)
		return 0;
	snprintf(path, sizeof(path), "%s/ovidio.db", tmpdir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_prepare_v2(db, "SELECT count(*) FROM"
	    " sqlite_master WHERE type = 'table' AND name LIKE '%\\_\\_new%'"
	    " ESCAPE '\\'", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static void
test_catalog_crash_keeps_old(void)
{
	static const char *const kv[] = { "after", "{\"ok\":true}" };
	unsigned char res[1] = { 0xff };
	int64_t before = catalog_count(st, "productos_cache");
	char *doc;

	CHECK_INT(run_children(1, 1, crash_child, res), 0);
	CHECK_INT(res[0], 0);
	CHECK_INT(catalog_count(st, "productos_cache"), before);
	doc = catalog_doc(st, "productos_cache", "crash0001");
	CHECK(doc == NULL);
	free(doc);
	/* The next sync works and contains only its own items. */
	CHECK_INT(replace_catalog("productos_cache", kv, 1), OV_OK);
	CHECK_INT(catalog_count(st, "productos_cache"), 1);
	doc = catalog_doc(st, "productos_cache", "after");
	CHECK_STR(doc, "{\"ok\":true}");
	free(doc);
	CHECK_INT(sqlite_staging_tables(), 0);
}

static void
test_catalog_duplicate_key_keeps_last(void)
{
	struct store_catalog_writer *w = NULL;
	char *doc;

	CHECK_INT(store_catalog_begin(st, "clientes_cianbox", &w), OV_OK);
	if (w == NULL)
		return;
	CHECK_INT(store_catalog_add(w, "c1", "{\"v\":1}"), OV_OK);
	CHECK_INT(store_catalog_add(w, "c2", "{\"v\":1}"), OV_OK);
	CHECK_INT(store_catalog_add(w, "c1", "{\"v\":2}"), OV_OK);
	/* And once more across a batch boundary. */
	add_many(w, "f", 1500);
	CHECK_INT(store_catalog_add(w, "c2", "{\"v\":3}"), OV_OK);
	CHECK_INT(store_catalog_commit(w), OV_OK);
	CHECK_INT(catalog_count(st, "clientes_cianbox"), 1502);
	doc = catalog_doc(st, "clientes_cianbox", "c1");
	CHECK_STR(doc, "{\"v\":2}");
	free(doc);
	doc = catalog_doc(st, "clientes_cianbox", "c2");
	CHECK_STR(doc, "{\"v\":3}");
	free(doc);
}

/* ---- no injection ------------------------------------------------------- */

/* ---- catalog search and lookup ------------------------------------------ */

struct titem {
	const char *key;
	const char *json;
	const char *tokens[6];
	const char *lookups[3];
	unsigned rank;
};

static size_t
count_strs(const char *const *v, size_t max)
{
	size_t n = 0;

	while (n < max && v[n] != NULL)
		n++;
	return n;
}

static int
replace_indexed(struct store *s, const char *catalog, const struct titem *v,
    size_t n)
{
	struct store_catalog_writer *w;
	int rc;

	if ((rc = store_catalog_begin(s, catalog, &w)) != OV_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct store_catalog_item it = {
			v[i].key, v[i].json, v[i].tokens, count_strs(v[i].tokens, 6),
			v[i].lookups, count_strs(v[i].lookups, 3), v[i].rank
		};

		if ((rc = store_catalog_put(w, &it)) != OV_OK) {
			store_catalog_abort(w);
			return rc;
		}
	}
	return store_catalog_commit(w);
}

/* The keys found, comma-separated ("" for none, "error" on failure). */
static const char *
search_keys(struct store *s, const char *catalog, const char *const *tokens,
    size_t n, int limit, char *buf, size_t len)
{
	struct store_catalog_hit *hits = NULL;
	size_t nhits = 0, o = 0;

	buf[0] = '\0';
	if (store_catalog_search(s, catalog, tokens, n, limit, &hits, &nhits) !=
	    OV_OK)
		return "error";
	for (size_t i = 0; i < nhits; i++)
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
		    i > 0 ? "," : "", hits[i].key);
	store_catalog_hits_free(hits, nhits);
	return buf;
}

static const char *
lookup_keys(struct store *s, const char *catalog, const char *lookup,
    char *buf, size_t len)
{
	struct store_catalog_hit *hits = NULL;
	size_t nhits = 0, o = 0;

	buf[0] = '\0';
	if (store_catalog_lookup(s, catalog, lookup, 10, &hits, &nhits) != OV_OK)
		return "error";
	for (size_t i = 0; i < nhits; i++)
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
		    i > 0 ? "," : "", hits[i].key);
	store_catalog_hits_free(hits, nhits);
	return buf;
}

static const struct titem search_items[] = {
	{ "p1", "{\"n\":\"domo 4mp agotado\"}",
	    { "camara", "domo", "4mp", NULL }, { "codigo:dh1", NULL }, 1 },
	{ "p2", "{\"n\":\"bala 2mp\"}",
	    { "camara", "bala", "2mp", "tipo:bala", NULL }, { NULL }, 0 },
	{ "p3", "{\"n\":\"domo 2mp\"}",
	    { "camara", "domo", "2mp", "2.8mm", NULL }, { NULL }, 0 },
	{ "p4", "{\"n\":\"fuente\"}", { "fuente", "12v", NULL }, { NULL }, 0 },
	{ "p5", "{\"n\":\"sin tokens\"}", { NULL }, { NULL }, 0 },
};

static void
test_catalog_search(void)
{
	static const char *const camara[] = { "camara" };
	static const char *const camara_domo[] = { "camara", "domo" };
	static const char *const domo_camara[] = { "domo", "camara" };
	static const char *const exact[] = { "2.8mm", "domo" };
	static const char *const tag[] = { "tipo:bala" };
	static const char *const prefix[] = { "camar" };
	static const char *const none[] = { "nada" };
	static const char *const some_none[] = { "camara", "nada" };
	char buf[256];

	CHECK_INT(replace_indexed(st, "productos_cache", search_items, 5),
	    OV_OK);
	/* Every token must match; rank 0 first, then in the order added. */
	CHECK_STR(search_keys(st, "productos_cache", camara, 1, 10, buf,
	    sizeof(buf)), "p2,p3,p1");
	CHECK_STR(search_keys(st, "productos_cache", camara_domo, 2, 10, buf,
	    sizeof(buf)), "p3,p1");
	CHECK_STR(search_keys(st, "productos_cache", domo_camara, 2, 10, buf,
	    sizeof(buf)), "p3,p1");
	CHECK_STR(search_keys(st, "productos_cache", exact, 2, 10, buf,
	    sizeof(buf)), "p3");
	CHECK_STR(search_keys(st, "productos_cache", tag, 1, 10, buf,
	    sizeof(buf)), "p2");
	CHECK_STR(search_keys(st, "productos_cache", camara, 1, 2, buf,
	    sizeof(buf)), "p2,p3");
	/* Tokens are whole: no prefix, no partial AND. */
	CHECK_STR(search_keys(st, "productos_cache", prefix, 1, 10, buf,
	    sizeof(buf)), "");
	CHECK_STR(search_keys(st, "productos_cache", none, 1, 10, buf,
	    sizeof(buf)), "");
	CHECK_STR(search_keys(st, "productos_cache", some_none, 2, 10, buf,
	    sizeof(buf)), "");
	/* A hit carries its document. */
	{
		struct store_catalog_hit *hits = NULL;
		size_t n = 0;

		CHECK_INT(store_catalog_search(st, "productos_cache", exact, 2,
		    5, &hits, &n), OV_OK);
		CHECK_INT(n, 1);
		if (n == 1)
			CHECK_STR(hits[0].json, "{\"n\":\"domo 2mp\"}");
		store_catalog_hits_free(hits, n);
		CHECK_INT(store_catalog_search(st, "productos_cache", none, 1,
		    5, &hits, &n), OV_OK);
		CHECK_INT(n, 0);
		CHECK(hits == NULL);
	}
	/* Items without tokens are still there to get and count. */
	CHECK_INT(catalog_count(st, "productos_cache"), 5);
	{
		char *doc = catalog_doc(st, "productos_cache", "p5");

		CHECK_STR(doc, "{\"n\":\"sin tokens\"}");
		free(doc);
	}
	CHECK_STR(lookup_keys(st, "productos_cache", "codigo:dh1", buf,
	    sizeof(buf)), "p1");
}

static void
test_catalog_search_refuses_syntax(void)
{
	static const char *const bad[] = {
		"cam*", "\"camara\"", "camara OR", "Camara", "domo NOT",
		"{\"$gt\":\"\"}", "a b", "", ".*", "c\xc3\xa1mara",
		"camara)", "tok-en", "^p",
	};
	struct store_catalog_hit *hits = NULL;
	struct store_catalog_writer *w = NULL;
	const char *one[1];
	size_t n = 99;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		one[0] = bad[i];
		CHECK_INT(store_catalog_search(st, "productos_cache", one, 1, 10,
		    &hits, &n), OV_EINVAL);
		CHECK(hits == NULL);
		CHECK_INT(n, 0);
	}
	one[0] = "camara";
	CHECK_INT(store_catalog_search(st, "productos_cache", one, 0, 10, &hits,
	    &n), OV_EINVAL);
	CHECK_INT(store_catalog_search(st, "productos_cache", one, 1, 0, &hits,
	    &n), OV_EINVAL);
	CHECK_INT(store_catalog_search(st, "productos_cache", one, 1,
	    STORE_SEARCH_LIMIT_MAX + 1, &hits, &n), OV_EINVAL);
	CHECK_INT(store_catalog_search(st, "presupuestos", one, 1, 10, &hits,
	    &n), OV_EINVAL);
	CHECK_INT(store_catalog_lookup(st, "clientes_cianbox", "tel:\n1", 10,
	    &hits, &n), OV_EINVAL);
	CHECK_INT(store_catalog_lookup(st, "clientes_cianbox", "", 10, &hits,
	    &n), OV_EINVAL);
	/* A writer refuses an item whose token could be syntax, or a rank
	 * out of range, and goes on. */
	CHECK_INT(store_catalog_begin(st, "productos_cache", &w), OV_OK);
	if (w != NULL) {
		const char *toks[] = { "ok", "cam*" };
		struct store_catalog_item it = { "k", "{}", toks, 2, NULL, 0, 0 };

		CHECK_INT(store_catalog_put(w, &it), OV_EINVAL);
		it.ntokens = 1;
		it.rank = STORE_RANK_MAX + 1;
		CHECK_INT(store_catalog_put(w, &it), OV_EINVAL);
		it.rank = STORE_RANK_MAX;
		CHECK_INT(store_catalog_put(w, &it), OV_OK);
		store_catalog_abort(w);
	}
	/* The catalog of test_catalog_search is untouched. */
	CHECK_INT(catalog_count(st, "productos_cache"), 5);
}

static const struct titem client_items[] = {
	{ "201", "{\"razon\":\"Gomez\"}", { NULL },
	    { "tel:3415551234", "cuit:20284567898", "email:martin@gomez.com.ar" },
	    0 },
	{ "202", "{\"razon\":\"Fernandez\"}", { NULL }, { "tel:1144447777" }, 0 },
	{ "204", "{\"razon\":\"Gomez hijo\"}", { NULL }, { "tel:3415551234" }, 0 },
};

static void
test_catalog_lookup(void)
{
	static const char *const probes[] = {
		"tel:341555123", "tel:%", "tel:3415551234 ", "TEL:3415551234",
		"{\"$gt\":\"\"}", "{\"$ne\":null}", ".*", "tel:.*",
		"' OR '1'='1", "email:%@gomez.com.ar",
	};
	char buf[256];

	CHECK_INT(replace_indexed(st, "clientes_cianbox", client_items, 3),
	    OV_OK);
	CHECK_STR(lookup_keys(st, "clientes_cianbox", "tel:3415551234", buf,
	    sizeof(buf)), "201,204");
	CHECK_STR(lookup_keys(st, "clientes_cianbox", "cuit:20284567898", buf,
	    sizeof(buf)), "201");
	CHECK_STR(lookup_keys(st, "clientes_cianbox",
	    "email:martin@gomez.com.ar", buf, sizeof(buf)), "201");
	CHECK_STR(lookup_keys(st, "clientes_cianbox", "tel:1144447777", buf,
	    sizeof(buf)), "202");
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (strcmp(lookup_keys(st, "clientes_cianbox", probes[i], buf,
		    sizeof(buf)), "") != 0)
			fprintf(stderr, "  lookup %s found %s\n", probes[i], buf);
		CHECK_STR(buf, "");
	}
	/* Each catalog has its own keys. */
	CHECK_STR(lookup_keys(st, "productos_cache", "tel:3415551234", buf,
	    sizeof(buf)), "");
}

static void
test_catalog_search_follows_replace(void)
{
	static const struct titem twice[] = {
		{ "k1", "{\"v\":1}", { "viejo", NULL }, { "tel:3410000001", NULL },
		    0 },
		{ "k2", "{\"v\":2}", { "otro", NULL }, { NULL }, 0 },
		{ "k1", "{\"v\":3}", { "nuevo", NULL }, { "tel:3410000003", NULL },
		    0 },
	};
	static const struct titem later[] = {
		{ "k9", "{\"v\":9}", { "nuevo", NULL }, { NULL }, 0 },
	};
	static const char *const viejo[] = { "viejo" };
	static const char *const nuevo[] = { "nuevo" };
	static const char *const otro[] = { "otro" };
	struct store_catalog_writer *w = NULL;
	struct store *st2 = NULL;
	char buf[256];

	/* A key added again takes its new tokens and lookups along. */
	CHECK_INT(replace_indexed(st, "clientes_cianbox", twice, 3), OV_OK);
	CHECK_INT(catalog_count(st, "clientes_cianbox"), 2);
	CHECK_STR(search_keys(st, "clientes_cianbox", viejo, 1, 10, buf,
	    sizeof(buf)), "");
	CHECK_STR(search_keys(st, "clientes_cianbox", nuevo, 1, 10, buf,
	    sizeof(buf)), "k1");
	CHECK_STR(lookup_keys(st, "clientes_cianbox", "tel:3410000001", buf,
	    sizeof(buf)), "");
	CHECK_STR(lookup_keys(st, "clientes_cianbox", "tel:3410000003", buf,
	    sizeof(buf)), "k1");

	/* While a replace is written, another reader searches the old copy;
	 * an abort leaves it; a commit brings only the new one. */
	CHECK_INT(store_open(&st2, cfg), OV_OK);
	if (st2 == NULL)
		return;
	CHECK_INT(store_catalog_begin(st, "clientes_cianbox", &w), OV_OK);
	if (w != NULL) {
		const char *toks[] = { "nuevo", "medio" };

		for (int i = 0; i < 1500; i++) {
			char key[16];
			struct store_catalog_item it = { key, "{}", toks, 2, NULL,
			    0, 0 };

			snprintf(key, sizeof(key), "m%04d", i);
			if (store_catalog_put(w, &it) != OV_OK)
				break;
		}
		CHECK_STR(search_keys(st2, "clientes_cianbox", nuevo, 1, 10,
		    buf, sizeof(buf)), "k1");
		CHECK_STR(search_keys(st2, "clientes_cianbox", otro, 1, 10,
		    buf, sizeof(buf)), "k2");
		store_catalog_abort(w);
	}
	CHECK_STR(search_keys(st2, "clientes_cianbox", nuevo, 1, 10, buf,
	    sizeof(buf)), "k1");
	CHECK_INT(replace_indexed(st, "clientes_cianbox", later, 1), OV_OK);
	CHECK_STR(search_keys(st2, "clientes_cianbox", nuevo, 1, 10, buf,
	    sizeof(buf)), "k9");
	CHECK_STR(search_keys(st2, "clientes_cianbox", otro, 1, 10, buf,
	    sizeof(buf)), "");
	CHECK_STR(lookup_keys(st2, "clientes_cianbox", "tel:3410000003", buf,
	    sizeof(buf)), "");
	store_close(st2);
}

static void
test_no_injection(void)
{
	static const char *const kv[] = {
		"p-gt", "{\"$gt\": \"\"}",
		"p-sql", "'; DROP TABLE productos_cache; --",
		"p-re", ".*",
		"a'b\"c\\d$e", "{\"$where\":\"sleep(1000)\"}",
	};
	static const char *const probes[] = {
		"{\"$ne\":null}", ".*", "^p", "p-%", "p-__", "' OR '1'='1",
		"{\"$gt\": \"\"}", "{\"$regex\":\"p\"}",
	};
	const char *evil = "{\"$gt\": \"\"} '; DROP TABLE clientes; -- .*";
	struct store_customer c, got;
	struct store_msg m;
	enum store_claim cl;
	char *doc, *value = NULL;
	int64_t exp, v = 0;
	bool found = false;

	CHECK_INT(replace_catalog("productos_cache", kv, 4), OV_OK);
	for (size_t i = 0; i < 4; i++) {
		doc = catalog_doc(st, "productos_cache", kv[2 * i]);
		CHECK_STR(doc, kv[2 * i + 1]);
		free(doc);
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		doc = catalog_doc(st, "productos_cache", probes[i]);
		if (doc != NULL)
			fprintf(stderr, "  key %s matched\n", probes[i]);
		CHECK(doc == NULL);
		free(doc);
	}
	CHECK_INT(catalog_count(st, "productos_cache"), 4);

	memset(&c, 0, sizeof(c));
	snprintf(c.wa_id, sizeof(c.wa_id), "5493415554444");
	c.name = (char *)evil;
	c.profile = "{\"$set\":{\"verified\":true}}";
	CHECK_INT(store_customer_put(st, &c), OV_OK);
	CHECK_INT(store_customer_get(st, c.wa_id, &got, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.name, evil);
		CHECK_STR(got.profile, "{\"$set\":{\"verified\":true}}");
		CHECK(!got.verified);
		store_customer_clear(&got);
	}

	CHECK_INT(store_token_put(st, "{\"$ne\":null}", evil, 7), OV_OK);
	CHECK_INT(store_token_get(st, "{\"$ne\":null}", &value, &exp, &found),
	    OV_OK);
	CHECK(found);
	CHECK_STR(value, evil);
	free(value);
	value = NULL;
	CHECK_INT(store_token_get(st, ".*", &value, &exp, &found), OV_OK);
	CHECK(!found);
	free(value);

	CHECK_INT(store_counter_next(st, "{\"$inc\":{\"value\":100}}", &v),
	    OV_OK);
	CHECK_INT(v, 1);

	CHECK_INT(claim(st, "wamid.evil.1", "5493415554444", 100, 300, evil,
	    &cl), OV_OK);
	CHECK_INT(cl, STORE_CLAIM_NEW);
	CHECK_INT(store_msg_get(st, "wamid.evil.1", &m, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(m.body, evil);
		store_msg_clear(&m);
	}
	CHECK_INT(store_msg_get(st, "{\"$ne\":null}", &m, &found), OV_OK);
	CHECK(!found);
	CHECK_INT(store_inbound_done(st, ".*", 1), OV_ENOTFOUND);
}

/* ---- argument validation ------------------------------------------------ */

static void
test_invalid_arguments(void)
{
	struct store_catalog_writer *w = NULL;
	struct store_customer cust;
	struct store_quote q;
	struct store_msg m, *v = NULL;
	enum store_claim c;
	char longid[STORE_MSGID_MAX + 2], *json = NULL;
	int64_t n = 0;
	size_t nv = 0;
	bool found = true;

	CHECK_INT(claim(st, "wamid.bad.1", "54934155-0001", 1, 300, "x", &c),
	    OV_EINVAL);
	CHECK_INT(claim(st, "wamid.bad.2", "", 1, 300, "x", &c), OV_EINVAL);
	CHECK_INT(claim(st, "wamid.bad.3", "+5493415550001", 1, 300, "x", &c),
	    OV_EINVAL);
	CHECK_INT(claim(st, "", "5493415550001", 1, 300, "x", &c), OV_EINVAL);
	CHECK_INT(claim(st, "wamid.bad\n4", "5493415550001", 1, 300, "x", &c),
	    OV_EINVAL);
	CHECK_INT(store_msg_get(st, "wamid.bad.1", &m, &found), OV_OK);
	CHECK(!found);

	/* 257 characters: refused; 256: the longest id accepted. */
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	msg_init(&m, "", "5493415550001", 1, "text", "", "x");
	memcpy(m.id, longid, sizeof(m.id) - 1);
	CHECK_INT(store_inbound_claim(st, &m, 1, 300, &c), OV_OK);
	CHECK_INT(c, STORE_CLAIM_NEW);
	CHECK_INT(store_inbound_done(st, longid, 1), OV_EINVAL);
	CHECK_INT(store_status_update(st, longid, "5493415550001", "read", 1,
	    NULL, NULL), OV_EINVAL);
	CHECK_INT(store_msg_get(st, longid, &m, &found), OV_EINVAL);
	longid[STORE_MSGID_MAX] = '\0';
	CHECK_INT(store_msg_get(st, longid, &m, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(m.id, longid);
		store_msg_clear(&m);
	}

	CHECK_INT(store_catalog_begin(st, "usuarios", &w), OV_EINVAL);
	CHECK(w == NULL);
	CHECK_INT(store_catalog_begin(st, "mensajes", &w), OV_EINVAL);
	CHECK_INT(store_catalog_get(st, "mensajes", "wamid.in.1", &json,
	    &found), OV_EINVAL);
	CHECK(json == NULL);
	CHECK_INT(store_catalog_count(st, "productos_cache; DROP TABLE x", &n),
	    OV_EINVAL);

	CHECK_INT(store_history(st, "5493415551111", 0, &v, &nv), OV_EINVAL);
	CHECK_INT(store_history(st, "5493415551111", 501, &v, &nv), OV_EINVAL);
	CHECK_INT(store_status_update(st, "wamid.out.1", "5493415550004",
	    "pending", 1, NULL, NULL), OV_EINVAL);
	CHECK_INT(store_status_update(st, "wamid.out.1", "5493415550004",
	    "bogus", 1, NULL, NULL), OV_EINVAL);
	CHECK_INT(put_out("wamid.bad.5", "5493415550004", 1, "bogus", "x"),
	    OV_EINVAL);
	CHECK_INT(store_counter_next(st, "", &n), OV_EINVAL);

	memset(&cust, 0, sizeof(cust));
	snprintf(cust.wa_id, sizeof(cust.wa_id), "+5493415551234");
	CHECK_INT(store_customer_put(st, &cust), OV_EINVAL);

	memset(&q, 0, sizeof(q));
	snprintf(q.id, sizeof(q.id), "../../etc/passwd");
	q.number = 1;
	snprintf(q.wa_id, sizeof(q.wa_id), "5493415550001");
	snprintf(q.state, sizeof(q.state), "enviado");
	CHECK_INT(store_quote_put(st, &q), OV_EINVAL);
	snprintf(q.id, sizeof(q.id), "0A1B2C3D-0000-4000-8000-000000000001");
	CHECK_INT(store_quote_put(st, &q), OV_EINVAL);
	snprintf(q.id, sizeof(q.id), "0a1b2c3d-0000-4000-8000-000000000009");
	q.number = 0;
	CHECK_INT(store_quote_put(st, &q), OV_EINVAL);
	CHECK_INT(store_quote_get(st, "../x", &q, &found), OV_EINVAL);
}

/* ---- presupuestos ------------------------------------------------------- */

static void
quote_init(struct store_quote *q, const char *id, int64_t number,
    int64_t created, const char *state, const char *doc)
{
	memset(q, 0, sizeof(*q));
	snprintf(q->id, sizeof(q->id), "%s", id);
	q->number = number;
	snprintf(q->wa_id, sizeof(q->wa_id), "5493415555555");
	snprintf(q->state, sizeof(q->state), "%s", state);
	q->created_at = created;
	q->expires_at = created + 15 * 86400;
	q->doc = (char *)doc;
}

static void
test_quotes(void)
{
	static const char *const id1 = "0a1b2c3d-0000-4000-8000-000000000001",
	    *const id2 = "0a1b2c3d-0000-4000-8000-000000000002",
	    *const id3 = "0a1b2c3d-0000-4000-8000-000000000003";
	struct store_quote q, got, *v = NULL;
	size_t n = 0;
	bool found = true;

	CHECK_INT(store_quote_get(st, id1, &got, &found), OV_OK);
	CHECK(!found);
	quote_init(&q, id2, 2, 2000, "pendiente_confirmacion", "{\"n\":2}");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	quote_init(&q, id3, 3, 3000, "pendiente_confirmacion", "{\"n\":3}");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	quote_init(&q, id1, 1, 1000, "pendiente_confirmacion", "{\"n\":1}");
	CHECK_INT(store_quote_put(st, &q), OV_OK);

	CHECK_INT(store_quote_get(st, id1, &got, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.id, id1);
		CHECK_INT(got.number, 1);
		CHECK_STR(got.wa_id, "5493415555555");
		CHECK_STR(got.state, "pendiente_confirmacion");
		CHECK_INT(got.created_at, 1000);
		CHECK_INT(got.expires_at, 1000 + 15 * 86400);
		CHECK_STR(got.doc, "{\"n\":1}");
		store_quote_clear(&got);
	}

	/* Upsert: same id, new state and document, still one quote. */
	quote_init(&q, id1, 1, 1000, "enviado", "{\"n\":1,\"pdf\":true}");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	CHECK_INT(store_quote_get(st, id1, &got, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.state, "enviado");
		CHECK_STR(got.doc, "{\"n\":1,\"pdf\":true}");
		store_quote_clear(&got);
	}
	CHECK_INT(store_quote_list_older(st, 10000, 100, &v, &n), OV_OK);
	CHECK_INT(n, 3);
	store_quotes_free(v, n);

	v = NULL;
	CHECK_INT(store_quote_list_older(st, 2500, 100, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, id1);
		CHECK_STR(v[0].state, "enviado");
		CHECK_STR(v[1].id, id2);
		CHECK_STR(v[1].doc, "{\"n\":2}");
	}
	store_quotes_free(v, n);
	v = NULL;
	CHECK_INT(store_quote_list_older(st, 2500, 1, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(v[0].id, id1);
	store_quotes_free(v, n);
	v = NULL;
	CHECK_INT(store_quote_list_older(st, 1000, 100, &v, &n), OV_OK);
	CHECK_INT(n, 0);
	store_quotes_free(v, n);

	CHECK_INT(store_quote_delete(st, id2), OV_OK);
	CHECK_INT(store_quote_get(st, id2, &got, &found), OV_OK);
	CHECK(!found);
	CHECK_INT(store_quote_delete(st, id2), OV_OK);
	v = NULL;
	CHECK_INT(store_quote_list_older(st, 10000, 100, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, id1);
		CHECK_STR(v[1].id, id3);
	}
	store_quotes_free(v, n);
}

/* The newest pending quote of a customer; other customers, other states
 * and an older pending one do not count. */
static void
test_quote_pending_for(void)
{
	static const char *const a1 = "0a1b2c3d-0000-4000-8000-000000000011",
	    *const a2 = "0a1b2c3d-0000-4000-8000-000000000012",
	    *const a3 = "0a1b2c3d-0000-4000-8000-000000000013",
	    *const b1 = "0a1b2c3d-0000-4000-8000-000000000014";
	struct store_quote q, got;
	bool found = true;

	CHECK_INT(store_quote_pending_for(st, "5493415550077", &got, &found),
	    OV_OK);
	CHECK(!found);
	quote_init(&q, a1, 11, 5000, "pendiente_confirmacion", "{\"a\":1}");
	snprintf(q.wa_id, sizeof(q.wa_id), "5493415550077");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	quote_init(&q, a2, 12, 6000, "pendiente_confirmacion", "{\"a\":2}");
	snprintf(q.wa_id, sizeof(q.wa_id), "5493415550077");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	/* Newer, but already sent: not pending. */
	quote_init(&q, a3, 13, 7000, "enviado", "{\"a\":3}");
	snprintf(q.wa_id, sizeof(q.wa_id), "5493415550077");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	/* Another customer's, newer still. */
	quote_init(&q, b1, 14, 8000, "pendiente_confirmacion", "{\"b\":1}");
	snprintf(q.wa_id, sizeof(q.wa_id), "5493415550088");
	CHECK_INT(store_quote_put(st, &q), OV_OK);

	CHECK_INT(store_quote_pending_for(st, "5493415550077", &got, &found),
	    OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.id, a2);
		CHECK_INT(got.number, 12);
		CHECK_STR(got.doc, "{\"a\":2}");
		store_quote_clear(&got);
	}
	/* Cancel it: the older pending one is what is left. */
	quote_init(&q, a2, 12, 6000, "cancelado", "{\"a\":2}");
	snprintf(q.wa_id, sizeof(q.wa_id), "5493415550077");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	CHECK_INT(store_quote_pending_for(st, "5493415550077", &got, &found),
	    OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.id, a1);
		store_quote_clear(&got);
	}
	quote_init(&q, a1, 11, 5000, "cancelado", "{\"a\":1}");
	snprintf(q.wa_id, sizeof(q.wa_id), "5493415550077");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	CHECK_INT(store_quote_pending_for(st, "5493415550077", &got, &found),
	    OV_OK);
	CHECK(!found);
	CHECK_INT(store_quote_pending_for(st, "5493415550088", &got, &found),
	    OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.id, b1);
		store_quote_clear(&got);
	}
	CHECK_INT(store_quote_pending_for(st, "{\"$ne\":\"x\"}", &got, &found),
	    OV_EINVAL);
	CHECK_INT(store_quote_pending_for(st, "", &got, &found), OV_EINVAL);
}

/* Older quotes except one state, oldest first; the plain listing still
 * returns every state. */
static void
test_quote_list_older_except(void)
{
	static const char *const t1 = "0a1b2c3d-0000-4000-8000-000000000021",
	    *const t2 = "0a1b2c3d-0000-4000-8000-000000000022",
	    *const t3 = "0a1b2c3d-0000-4000-8000-000000000023";
	struct store_quote q, *v = NULL;
	size_t n = 0, all = 0;

	/* Earlier tests left quotes from 1000 to 8000; these come before. */
	quote_init(&q, t1, 21, 100, "vencido", NULL);
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	quote_init(&q, t2, 22, 200, "enviado", "{\"t\":2}");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	quote_init(&q, t3, 23, 300, "vencido", NULL);
	CHECK_INT(store_quote_put(st, &q), OV_OK);

	CHECK_INT(store_quote_list_older(st, 400, 100, &v, &all), OV_OK);
	CHECK_INT(all, 3);
	store_quotes_free(v, all);
	v = NULL;
	CHECK_INT(store_quote_list_older_except(st, 400, "vencido", 100, &v,
	    &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(v[0].id, t2);
		CHECK_STR(v[0].doc, "{\"t\":2}");
	}
	store_quotes_free(v, n);
	v = NULL;
	/* A trace comes back with no document. */
	CHECK_INT(store_quote_list_older_except(st, 400, "enviado", 100, &v,
	    &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, t1);
		CHECK(v[0].doc == NULL);
		CHECK_STR(v[1].id, t3);
	}
	store_quotes_free(v, n);
	v = NULL;
	CHECK_INT(store_quote_list_older_except(st, 400, "vencido", 0, &v, &n),
	    OV_EINVAL);
	CHECK_INT(store_quote_list_older_except(st, 400, "", 10, &v, &n),
	    OV_EINVAL);
	CHECK_INT(store_quote_list_older_except(st, 400, NULL, 10, &v, &n),
	    OV_EINVAL);
}

/* ---- persistence -------------------------------------------------------- */

/* The outbox: entries come back when due, oldest first, bounded; a
 * reschedule moves one later; delete removes it; ids are unique. */
static void
outbox_init(struct store_outbox *o, const char *id, const char *wa_id,
    int64_t created, int64_t next, const char *payload)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "%s", id);
	snprintf(o->wa_id, sizeof(o->wa_id), "%s", wa_id);
	snprintf(o->kind, sizeof(o->kind), "text");
	o->payload = (char *)payload;
	o->created_at = created;
	o->next_attempt_at = next;
}

static void
test_outbox(void)
{
	struct store_outbox o, *v = NULL;
	size_t n = 0;
	int64_t count = -1;

	outbox_init(&o, "ob-1", "5493415550101", 1000, 1000, "{\"text\":\"uno\"}");
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	outbox_init(&o, "ob-2", "5493415550101", 1001, 1001, "{\"text\":\"dos\"}");
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	outbox_init(&o, "ob-3", "5493415550102", 999, 5000, "{\"text\":\"tres\"}");
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	/* Same id again: refused, the first one kept. */
	outbox_init(&o, "ob-1", "5493415550101", 1000, 1000, "{\"x\":1}");
	CHECK_INT(store_outbox_put(st, &o), OV_EEXIST);

	/* Not yet due at 999; at 2000 the two due ones, oldest first. */
	CHECK_INT(store_outbox_due(st, 999, 10, &v, &n), OV_OK);
	CHECK_INT(n, 0);
	store_outbox_free(v, n);
	CHECK_INT(store_outbox_due(st, 2000, 10, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, "ob-1");
		CHECK_STR(v[0].payload, "{\"text\":\"uno\"}");
		CHECK_STR(v[0].kind, "text");
		CHECK_STR(v[0].wa_id, "5493415550101");
		CHECK(v[0].last_error == NULL);
		CHECK_INT(v[0].attempts, 0);
		CHECK_STR(v[1].id, "ob-2");
	}
	store_outbox_free(v, n);
	/* Bounded by limit. */
	CHECK_INT(store_outbox_due(st, 9000, 1, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(v[0].id, "ob-3");   /* created first */
	store_outbox_free(v, n);

	CHECK_INT(store_outbox_count_for(st, "5493415550101", &count), OV_OK);
	CHECK_INT(count, 2);

	/* A failed try pushes ob-1 later and keeps why. */
	CHECK_INT(store_outbox_reschedule(st, "ob-1", 1, 3000, "131056: pair "
	    "rate limit"), OV_OK);
	CHECK_INT(store_outbox_due(st, 2000, 10, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(v[0].id, "ob-2");
	store_outbox_free(v, n);
	CHECK_INT(store_outbox_due(st, 3000, 10, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, "ob-1");
		CHECK_INT(v[0].attempts, 1);
		CHECK_INT(v[0].next_attempt_at, 3000);
		CHECK_STR(v[0].last_error, "131056: pair rate limit");
	}
	store_outbox_free(v, n);
	CHECK_INT(store_outbox_reschedule(st, "ob-none", 1, 1, NULL),
	    OV_ENOTFOUND);

	/* Claiming for a send: only from the time it was listed with, once. */
	CHECK_INT(store_outbox_claim(st, "ob-2", 1001, "", 1500, "h:1"),
	    OV_OK);
	CHECK_INT(store_outbox_claim(st, "ob-2", 1001, "", 1600, "h:2"),
	    OV_EBUSY);
	CHECK_INT(store_outbox_due(st, 1400, 10, &v, &n), OV_OK);
	for (size_t i = 0; i < n; i++)
		CHECK(strcmp(v[i].id, "ob-2") != 0);   /* claimed: not due now */
	store_outbox_free(v, n);
	CHECK_INT(store_outbox_claim(st, "ob-none", 1, "", 2, "h:1"),
	    OV_EBUSY);
	CHECK_INT(store_outbox_claim(st, "ob-2", 1500, "h:1", 1600, ""),
	    OV_EINVAL);
	CHECK_INT(store_outbox_claim(st, "ob-2", 1500, "h:1\n", 1600, "h:2"),
	    OV_EINVAL);

	/* Sent: gone; deleting twice is fine. */
	CHECK_INT(store_outbox_delete(st, "ob-1"), OV_OK);
	CHECK_INT(store_outbox_delete(st, "ob-1"), OV_OK);
	CHECK_INT(store_outbox_count_for(st, "5493415550101", &count), OV_OK);
	CHECK_INT(count, 1);
	CHECK_INT(store_outbox_delete(st, "ob-2"), OV_OK);
	CHECK_INT(store_outbox_delete(st, "ob-3"), OV_OK);
	CHECK_INT(store_outbox_due(st, 99999, 10, &v, &n), OV_OK);
	CHECK_INT(n, 0);
	store_outbox_free(v, n);

	/* Validation: no operators, bounded, required fields. */
	outbox_init(&o, "ob-4", "{\"$ne\":1}", 1, 1, "{}");
	CHECK_INT(store_outbox_put(st, &o), OV_EINVAL);
	outbox_init(&o, "", "5493415550101", 1, 1, "{}");
	CHECK_INT(store_outbox_put(st, &o), OV_EINVAL);
	outbox_init(&o, "ob-5", "5493415550101", 1, 1, NULL);
	CHECK_INT(store_outbox_put(st, &o), OV_EINVAL);
	CHECK_INT(store_outbox_due(st, 1, 0, &v, &n), OV_EINVAL);
	CHECK_INT(store_outbox_due(st, 1, 1001, &v, &n), OV_EINVAL);
	CHECK_INT(store_outbox_count_for(st, "a/c", &count), OV_EINVAL);
}

/* Drains on several nodes listing one entry: exactly one claims it. */
static void
claim_child(struct store *cst, int idx, unsigned char *out)
{
	char me[32];
	int rc;

	snprintf(me, sizeof(me), "node%d:%d", idx, 100 + idx);
	rc = store_outbox_claim(cst, "ob-race", 7000, "", 7300 + idx, me);

	out[0] = rc == OV_OK ? 1 : rc == OV_EBUSY ? 0 : 2;
}

static void
test_outbox_claim_race(void)
{
	struct store_outbox o;
	unsigned char res[NCHILD];
	int won = 0, other = 0;

	outbox_init(&o, "ob-race", "5493415550109", 7000, 7000, "{\"t\":1}");
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	memset(res, 9, sizeof(res));
	CHECK_INT(run_children(NCHILD, 1, claim_child, res), 0);
	for (int i = 0; i < NCHILD; i++) {
		if (res[i] == 1)
			won++;
		else if (res[i] != 0)
			other++;
	}
	CHECK_INT(won, 1);
	CHECK_INT(other, 0);
	CHECK_INT(store_outbox_delete(st, "ob-race"), OV_OK);
}

/* Who claimed an entry is listed; a claim is a compare-and-set on the
 * due time and the claimer; taking it back from a dead claimer leaves it
 * unclaimed and orphaned; a reschedule unclaims it. The parts Meta took
 * are kept with the entry while it is there, and go with it. */
static void
test_outbox_claimer_and_taken(void)
{
	struct store_outbox_part parts[STORE_OUTBOX_PARTS_MAX];
	struct store_outbox o, *v = NULL;
	size_t n = 0, np = 9;

	outbox_init(&o, "ob-cl", "5493415550120", 8000, 8000, "{\"t\":1}");
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	CHECK_INT(store_outbox_due_for(st, "5493415550120", 9000, 10, &v, &n),
	    OV_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(v[0].claimer, "");
		CHECK(!v[0].orphaned);
	}
	store_outbox_free(v, n);

	/* Claimed by h:10: listed so; a claim against a stale view fails. */
	CHECK_INT(store_outbox_claim(st, "ob-cl", 8000, "", 8300, "h:10"),
	    OV_OK);
	CHECK_INT(store_outbox_claim(st, "ob-cl", 8300, "", 8600, "h:11"),
	    OV_EBUSY);   /* the claimer changed */
	CHECK_INT(store_outbox_claim(st, "ob-cl", 8000, "h:10", 8600, "h:11"),
	    OV_EBUSY);   /* the time changed */
	CHECK_INT(store_outbox_due_for(st, "5493415550120", 9000, 10, &v, &n),
	    OV_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(v[0].claimer, "h:10");
		CHECK_INT(v[0].next_attempt_at, 8300);
		CHECK(!v[0].orphaned);
	}
	store_outbox_free(v, n);

	/* h:10 died: taken back once, unclaimed and orphaned. */
	CHECK_INT(store_outbox_orphan(st, "ob-cl", 8300, "h:10", 8320), OV_OK);
	CHECK_INT(store_outbox_orphan(st, "ob-cl", 8300, "h:10", 8320),
	    OV_EBUSY);
	CHECK_INT(store_outbox_orphan(st, "ob-none", 1, "h:10", 2), OV_EBUSY);
	CHECK_INT(store_outbox_due_for(st, "5493415550120", 9000, 10, &v, &n),
	    OV_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(v[0].claimer, "");
		CHECK_INT(v[0].next_attempt_at, 8320);
		CHECK(v[0].orphaned);
	}
	store_outbox_free(v, n);
	/* Claimed again, then a failed try: unclaimed, still orphaned. */
	CHECK_INT(store_outbox_claim(st, "ob-cl", 8320, "", 8620, "h:12"),
	    OV_OK);
	CHECK_INT(store_outbox_reschedule(st, "ob-cl", 1, 8700, "500"), OV_OK);
	CHECK_INT(store_outbox_due(st, 9000, 10, &v, &n), OV_OK);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, "ob-cl") == 0) {
			CHECK_STR(v[i].claimer, "");
			CHECK(v[i].orphaned);
			CHECK_INT(v[i].next_attempt_at, 8700);
		}
	store_outbox_free(v, n);

	/* Parts taken: by part, the first wamid of a part kept. */
	CHECK_INT(store_outbox_taken(st, "ob-cl", parts, STORE_OUTBOX_PARTS_MAX,
	    &np), OV_OK);
	CHECK_INT(np, 0);
	CHECK_INT(store_outbox_taken_put(st, "ob-cl", 2, "wamid.c"), OV_OK);
	CHECK_INT(store_outbox_taken_put(st, "ob-cl", 0, "wamid.a"), OV_OK);
	CHECK_INT(store_outbox_taken_put(st, "ob-cl", 0, "wamid.other"), OV_OK);
	CHECK_INT(store_outbox_taken(st, "ob-cl", parts, STORE_OUTBOX_PARTS_MAX,
	    &np), OV_OK);
	CHECK_INT(np, 2);
	if (np == 2) {
		CHECK_INT(parts[0].part, 0);
		CHECK_STR(parts[0].wamid, "wamid.a");
		CHECK_INT(parts[1].part, 2);
		CHECK_STR(parts[1].wamid, "wamid.c");
	}
	/* Bounded by cap. */
	CHECK_INT(store_outbox_taken(st, "ob-cl", parts, 1, &np), OV_OK);
	CHECK_INT(np, 1);
	/* For an entry that is not there (sent, deleted): nothing kept. */
	CHECK_INT(store_outbox_taken_put(st, "ob-gone", 0, "wamid.g"), OV_OK);
	CHECK_INT(store_outbox_taken(st, "ob-gone", parts,
	    STORE_OUTBOX_PARTS_MAX, &np), OV_OK);
	CHECK_INT(np, 0);
	/* Deleted: what was taken of it goes too (a new entry of the same
	 * id starts with none). */
	CHECK_INT(store_outbox_delete(st, "ob-cl"), OV_OK);
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	CHECK_INT(store_outbox_taken(st, "ob-cl", parts, STORE_OUTBOX_PARTS_MAX,
	    &np), OV_OK);
	CHECK_INT(np, 0);
	CHECK_INT(store_outbox_delete(st, "ob-cl"), OV_OK);

	/* Validation. */
	CHECK_INT(store_outbox_taken_put(st, "ob-cl", -1, "wamid.a"), OV_EINVAL);
	CHECK_INT(store_outbox_taken_put(st, "ob-cl", STORE_OUTBOX_PARTS_MAX,
	    "wamid.a"), OV_EINVAL);
	CHECK_INT(store_outbox_taken_put(st, "ob-cl", 0, ""), OV_EINVAL);
	CHECK_INT(store_outbox_taken_put(st, "", 0, "wamid.a"), OV_EINVAL);
	CHECK_INT(store_outbox_taken(st, "ob-cl", parts, 0, &np), OV_EINVAL);
	CHECK_INT(store_outbox_orphan(st, "ob-cl", 1, "h:\x01", 2), OV_EINVAL);
}

/* ---- conversaciones, turnos, lanes ---------------------------------------- */

static void
conv_set(struct store_conv *c, const char *key, const char *owner,
    const char *agent, int64_t last_inbound, const char *doc)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->key, sizeof(c->key), "%s", key);
	snprintf(c->owner, sizeof(c->owner), "%s", owner);
	snprintf(c->agent, sizeof(c->agent), "%s", agent);
	c->last_inbound = last_inbound;
	c->doc = (char *)doc;
}

/* The document of key, or NULL; caller frees. */
static char *
conv_doc(const char *key)
{
	struct store_conv c;
	bool found = false;

	if (store_conv_get(st, key, &c, &found) != OV_OK || !found)
		return NULL;
	return c.doc;
}

static void
test_conv_get_put(void)
{
	struct store_conv c, got;
	bool found = true;
	char big[STORE_CONV_DOC_MAX + 2];
	char *doc;

	CHECK_INT(store_conv_get(st, "5493415557001", &got, &found), OV_OK);
	CHECK(!found);
	CHECK(got.doc == NULL);
	conv_set(&c, "5493415557001", "", "", 1700, "{\"pending\":\"qty\"}");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	CHECK_INT(store_conv_get(st, "5493415557001", &got, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.key, "5493415557001");
		CHECK_STR(got.owner, "bot");     /* "" reads as "bot" */
		CHECK_STR(got.agent, "");
		CHECK_INT(got.last_inbound, 1700);
		CHECK(got.updated_at > 0);
		CHECK_STR(got.doc, "{\"pending\":\"qty\"}");
		store_conv_clear(&got);
		CHECK(got.doc == NULL);
	}
	/* An upsert replaces; a BSUID is a key; no doc reads as "{}". */
	conv_set(&c, "5493415557001", "agent", "vendedor 2", 1800, NULL);
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	CHECK_INT(store_conv_get(st, "5493415557001", &got, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.owner, "agent");
		CHECK_STR(got.agent, "vendedor 2");
		CHECK_INT(got.last_inbound, 1800);
		CHECK_STR(got.doc, "{}");
		store_conv_clear(&got);
	}
	conv_set(&c, "AR.1502576394655843", "bot", "", 5, "{\"$set\":{\"a\":1}}");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	doc = conv_doc("AR.1502576394655843");
	CHECK_STR(doc, "{\"$set\":{\"a\":1}}");
	free(doc);
	CHECK(conv_doc("ar.1502576394655843") == NULL);

	/* Validation. */
	CHECK_INT(store_conv_get(st, "", &got, &found), OV_EINVAL);
	CHECK_INT(store_conv_get(st, "{\"$ne\":1}", &got, &found), OV_EINVAL);
	CHECK_INT(store_conv_get(st, "549 341", &got, &found), OV_EINVAL);
	CHECK_INT(store_conv_get(st, "123456789012345678901234567890123",
	    &got, &found), OV_EINVAL);
	CHECK_INT(store_conv_get(st, "5493415557001", NULL, &found), OV_EINVAL);
	conv_set(&c, "5493415557001", "boss", "", 1, "{}");
	CHECK_INT(store_conv_put(st, &c), OV_EINVAL);
	conv_set(&c, "5493415557001", "agent", "a\nb", 1, "{}");
	CHECK_INT(store_conv_put(st, &c), OV_EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	conv_set(&c, "5493415557001", "bot", "", 1, big);
	CHECK_INT(store_conv_put(st, &c), OV_EINVAL);
	conv_set(&c, "54934155570-1", "bot", "", 1, "{}");
	CHECK_INT(store_conv_put(st, &c), OV_EINVAL);
	CHECK_INT(store_conv_put(st, NULL), OV_EINVAL);
	/* Nothing of that reached the record. */
	doc = conv_doc("5493415557001");
	CHECK_STR(doc, "{}");
	free(doc);
}

static void
test_conv_lease(void)
{
	const char *k = "5493415557002";
	struct store_conv c;
	bool got = false, found = false;
	char *doc;

	/* None yet: taken, and the record made empty. */
	CHECK_INT(store_conv_lease(st, k, "node-a:1", 1000, 1100, &got), OV_OK);
	CHECK(got);
	CHECK_INT(store_conv_get(st, k, &c, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(c.doc, "{}");
		CHECK_STR(c.owner, "bot");
		store_conv_clear(&c);
	}
	/* Held by another until 1100. */
	CHECK_INT(store_conv_lease(st, k, "node-b:2", 1050, 1150, &got), OV_OK);
	CHECK(!got);
	/* The holder again: renewed. */
	CHECK_INT(store_conv_lease(st, k, "node-a:1", 1060, 1200, &got), OV_OK);
	CHECK(got);
	CHECK_INT(store_conv_lease(st, k, "node-b:2", 1199, 1300, &got), OV_OK);
	CHECK(!got);
	/* Expired (lease_until <= now): anyone's. */
	CHECK_INT(store_conv_lease(st, k, "node-b:2", 1200, 1300, &got), OV_OK);
	CHECK(got);
	/* A release by someone else changes nothing. */
	CHECK_INT(store_conv_release(st, k, "node-a:1"), OV_OK);
	CHECK_INT(store_conv_lease(st, k, "node-c:3", 1250, 1350, &got), OV_OK);
	CHECK(!got);
	CHECK_INT(store_conv_release(st, k, "node-b:2"), OV_OK);
	CHECK_INT(store_conv_lease(st, k, "node-c:3", 1250, 1350, &got), OV_OK);
	CHECK(got);
	CHECK_INT(store_conv_release(st, k, "node-c:3"), OV_OK);
	CHECK_INT(store_conv_release(st, "5493415557999", "node-c:3"), OV_OK);

	/* A lease leaves the state alone. */
	conv_set(&c, k, "bot", "", 7, "{\"cart\":[]}");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	CHECK_INT(store_conv_lease(st, k, "node-a:1", 2000, 2100, &got), OV_OK);
	CHECK(got);
	doc = conv_doc(k);
	CHECK_STR(doc, "{\"cart\":[]}");
	free(doc);
	/* ... and a put leaves the lease alone. */
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	CHECK_INT(store_conv_lease(st, k, "node-b:2", 2050, 2100, &got), OV_OK);
	CHECK(!got);
	CHECK_INT(store_conv_release(st, k, "node-a:1"), OV_OK);

	CHECK_INT(store_conv_lease(st, k, "", 1, 2, &got), OV_EINVAL);
	CHECK_INT(store_conv_lease(st, k, "a\tb", 1, 2, &got), OV_EINVAL);
	CHECK_INT(store_conv_lease(st, k, "n", 1, 2, NULL), OV_EINVAL);
	CHECK_INT(store_conv_lease(st, "{\"$gt\":\"\"}", "n", 1, 2, &got),
	    OV_EINVAL);
	CHECK_INT(store_conv_release(st, k, NULL), OV_EINVAL);
}

/* Many nodes taking one free lease at once: exactly one gets it. */
static void
lease_child(struct store *cst, int idx, unsigned char *out)
{
	char holder[32];
	bool got = false;
	int rc;

	snprintf(holder, sizeof(holder), "child-%d", idx);
	rc = store_conv_lease(cst, "5493415557003", holder, 5000, 5100, &got);
	out[0] = rc != OV_OK ? 2 : got ? 1 : 0;
}

static void
test_conv_lease_race(void)
{
	unsigned char res[NCHILD];
	int won = 0, other = 0;

	memset(res, 9, sizeof(res));
	CHECK_INT(run_children(NCHILD, 1, lease_child, res), 0);
	for (int i = 0; i < NCHILD; i++) {
		if (res[i] == 1)
			won++;
		else if (res[i] != 0)
			other++;
	}
	CHECK_INT(won, 1);
	CHECK_INT(other, 0);
}

/* Outbox entries of a turn. */
static void
reply_init(struct store_outbox *o, const char *id, const char *wa_id,
    enum store_lane lane, int64_t at, const char *payload)
{
	outbox_init(o, id, wa_id, at, at, payload);
	o->lane = lane;
}

static const char *
msg_status(const char *id, char *buf, size_t len)
{
	return status_of(id, buf, len);
}

static void
test_turn_commit(void)
{
	const char *k = "5493415557004";
	const char *ids[] = { "wamid.T4.a", "wamid.T4.b" };
	struct store_outbox r[2], *v = NULL;
	struct store_conv c;
	struct store_turn t;
	enum store_claim cl;
	bool got = false, found = false;
	size_t n = 0;
	int64_t count = -1;
	char buf[32], *doc;

	CHECK_INT(claim(st, ids[0], k, 3000, 300, "hola", &cl), OV_OK);
	CHECK_INT(claim(st, ids[1], k, 3001, 300, "precio del disco", &cl),
	    OV_OK);
	CHECK_INT(store_conv_lease(st, k, "node-a:1", 3002, 3100, &got), OV_OK);
	CHECK(got);

	conv_set(&c, k, "bot", "", 3001, "{\"pending\":\"qty\",\"n\":1}");
	reply_init(&r[0], "wamid.T4.a#0", k, STORE_LANE_REPLY, 3005,
	    "{\"text\":\"¡Hola!\"}");
	reply_init(&r[1], "wamid.T4.a#1", k, STORE_LANE_REPLY, 3005,
	    "{\"text\":\"¿Cuántas?\"}");
	memset(&t, 0, sizeof(t));
	t.id = "wamid.T4.a";
	t.conv = &c;
	t.replies = r;
	t.nreplies = 2;
	t.msg_ids = ids;
	t.nmsgs = 2;
	t.now = 3005;
	CHECK_INT(store_turn_commit(st, &t), OV_OK);

	/* Every effect stands. */
	CHECK_INT(store_conv_get(st, k, &c, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(c.doc, "{\"pending\":\"qty\",\"n\":1}");
		CHECK_INT(c.last_inbound, 3001);
		CHECK_INT(c.updated_at, 3005);
		store_conv_clear(&c);
	}
	CHECK_STR(msg_status(ids[0], buf, sizeof(buf)), "handled");
	CHECK_STR(msg_status(ids[1], buf, sizeof(buf)), "handled");
	CHECK_INT(store_outbox_due_for(st, k, 3005, 10, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, "wamid.T4.a#0");
		CHECK_STR(v[0].payload, "{\"text\":\"¡Hola!\"}");
		CHECK_INT(v[0].lane, STORE_LANE_REPLY);
		CHECK_STR(v[1].id, "wamid.T4.a#1");
	}
	store_outbox_free(v, n);
	/* The lease went with the commit. */
	CHECK_INT(store_conv_lease(st, k, "node-b:2", 3010, 3100, &got), OV_OK);
	CHECK(got);
	CHECK_INT(store_conv_release(st, k, "node-b:2"), OV_OK);

	/* The same turn again (a replay): nothing changes, nothing twice. */
	conv_set(&c, k, "bot", "", 3001, "{\"replayed\":true}");
	t.conv = &c;
	t.now = 3050;
	CHECK_INT(store_turn_commit(st, &t), OV_EEXIST);
	doc = conv_doc(k);
	CHECK_STR(doc, "{\"pending\":\"qty\",\"n\":1}");
	free(doc);
	CHECK_INT(store_outbox_count_for(st, k, &count), OV_OK);
	CHECK_INT(count, 2);

	/* A turn with no replies and no messages is a state change. */
	conv_set(&c, k, "agent", "ana", 3001, "{\"n\":2}");
	memset(&t, 0, sizeof(t));
	t.id = "wamid.T4.c";
	t.conv = &c;
	t.now = 3060;
	CHECK_INT(store_turn_commit(st, &t), OV_OK);
	CHECK_INT(store_conv_get(st, k, &c, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(c.owner, "agent");
		CHECK_STR(c.agent, "ana");
		CHECK_STR(c.doc, "{\"n\":2}");
		store_conv_clear(&c);
	}
	CHECK_INT(store_outbox_delete(st, "wamid.T4.a#0"), OV_OK);
	CHECK_INT(store_outbox_delete(st, "wamid.T4.a#1"), OV_OK);

	/* Validation: bounds, distinct reply ids, a valid record. */
	conv_set(&c, k, "bot", "", 1, "{}");
	memset(&t, 0, sizeof(t));
	t.id = "wamid.T4.d";
	t.conv = &c;
	t.replies = r;
	reply_init(&r[0], "dup", k, STORE_LANE_REPLY, 1, "{}");
	reply_init(&r[1], "dup", k, STORE_LANE_REPLY, 1, "{}");
	t.nreplies = 2;
	CHECK_INT(store_turn_commit(st, &t), OV_EINVAL);
	reply_init(&r[1], "other", k, (enum store_lane)7, 1, "{}");
	CHECK_INT(store_turn_commit(st, &t), OV_EINVAL);
	t.nreplies = STORE_TURN_REPLIES_MAX + 1;
	CHECK_INT(store_turn_commit(st, &t), OV_EINVAL);
	t.nreplies = 0;
	t.nmsgs = 1;
	t.msg_ids = NULL;
	CHECK_INT(store_turn_commit(st, &t), OV_EINVAL);
	t.nmsgs = 0;
	t.id = "";
	CHECK_INT(store_turn_commit(st, &t), OV_EINVAL);
	t.id = "wamid.T4.d";
	t.conv = NULL;
	CHECK_INT(store_turn_commit(st, &t), OV_EINVAL);
	CHECK_INT(store_turn_commit(st, NULL), OV_EINVAL);
	/* None of those was recorded: the id is still free. */
	t.conv = &c;
	CHECK_INT(store_turn_commit(st, &t), OV_OK);
}

/* SQLite: a turn that cannot be written whole leaves nothing behind. */
static void
test_turn_all_or_nothing(void)
{
	const char *k = "5493415557005";
	const char *ids[] = { "wamid.T5.a" };
	struct store_outbox r[2];
	struct store_conv c;
	struct store_turn t;
	enum store_claim cl;
	int64_t count = -1;
	char buf[32], *doc;

	conv_set(&c, k, "bot", "", 1, "{\"old\":true}");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	CHECK_INT(claim(st, ids[0], k, 4000, 300, "hola", &cl), OV_OK);
	/* The second reply's id is taken: the commit fails as a whole. */
	reply_init(&r[0], "taken", k, STORE_LANE_REPLY, 4000, "{\"t\":0}");
	CHECK_INT(store_outbox_put(st, &r[0]), OV_OK);
	reply_init(&r[0], "wamid.T5.a#0", k, STORE_LANE_REPLY, 4001, "{\"t\":1}");
	reply_init(&r[1], "taken", k, STORE_LANE_REPLY, 4001, "{\"t\":2}");
	conv_set(&c, k, "bot", "", 4000, "{\"new\":true}");
	memset(&t, 0, sizeof(t));
	t.id = "wamid.T5.a";
	t.conv = &c;
	t.replies = r;
	t.nreplies = 2;
	t.msg_ids = ids;
	t.nmsgs = 1;
	t.now = 4001;
	CHECK(store_turn_commit(st, &t) != OV_OK);
	doc = conv_doc(k);
	CHECK_STR(doc, "{\"old\":true}");
	free(doc);
	CHECK_INT(store_outbox_count_for(st, k, &count), OV_OK);
	CHECK_INT(count, 1);
	CHECK_STR(status_of(ids[0], buf, sizeof(buf)), "received");
	/* The turn was not recorded: it can be committed once fixed. */
	reply_init(&r[1], "wamid.T5.a#1", k, STORE_LANE_REPLY, 4001, "{\"t\":2}");
	CHECK_INT(store_turn_commit(st, &t), OV_OK);
	CHECK_INT(store_outbox_count_for(st, k, &count), OV_OK);
	CHECK_INT(count, 3);
	CHECK_STR(status_of(ids[0], buf, sizeof(buf)), "handled");
	store_outbox_delete(st, "taken");
	store_outbox_delete(st, "wamid.T5.a#0");
	store_outbox_delete(st, "wamid.T5.a#1");
}

/* Replies go before a salesperson's messages, and those before
 * campaigns, whatever their age; one recipient's list is theirs alone,
 * oldest first. */
static void
test_outbox_lanes(void)
{
	struct store_outbox o, *v = NULL;
	size_t n = 0;

	reply_init(&o, "lane-camp", "5493415557006", STORE_LANE_CAMPAIGN, 100,
	    "{\"text\":\"promo\"}");
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	reply_init(&o, "lane-agent", "5493415557007", STORE_LANE_AGENT, 150,
	    "{\"text\":\"soy Ana\"}");
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	reply_init(&o, "lane-reply", "5493415557006", STORE_LANE_REPLY, 200,
	    "{\"text\":\"hola\"}");
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	reply_init(&o, "lane-later", "5493415557006", STORE_LANE_REPLY, 300,
	    "{\"text\":\"después\"}");
	o.next_attempt_at = 900;
	CHECK_INT(store_outbox_put(st, &o), OV_OK);

	CHECK_INT(store_outbox_due(st, 500, 10, &v, &n), OV_OK);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(v[0].id, "lane-reply");
		CHECK_INT(v[0].lane, STORE_LANE_REPLY);
		CHECK_STR(v[1].id, "lane-agent");
		CHECK_INT(v[1].lane, STORE_LANE_AGENT);
		CHECK_STR(v[2].id, "lane-camp");
		CHECK_INT(v[2].lane, STORE_LANE_CAMPAIGN);
	}
	store_outbox_free(v, n);
	CHECK_INT(store_outbox_due_for(st, "5493415557006", 500, 10, &v, &n),
	    OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, "lane-camp");   /* oldest first, any lane */
		CHECK_STR(v[1].id, "lane-reply");
	}
	store_outbox_free(v, n);
	CHECK_INT(store_outbox_due_for(st, "5493415557006", 1000, 1, &v, &n),
	    OV_OK);
	CHECK_INT(n, 1);
	store_outbox_free(v, n);
	CHECK_INT(store_outbox_due_for(st, "5493415557008", 1000, 10, &v, &n),
	    OV_OK);
	CHECK_INT(n, 0);
	store_outbox_free(v, n);
	CHECK_INT(store_outbox_due_for(st, "{\"$ne\":1}", 1000, 10, &v, &n),
	    OV_EINVAL);
	CHECK_INT(store_outbox_due_for(st, "5493415557006", 1000, 0, &v, &n),
	    OV_EINVAL);
	reply_init(&o, "lane-bad", "5493415557006", (enum store_lane)3, 1, "{}");
	CHECK_INT(store_outbox_put(st, &o), OV_EINVAL);
	store_outbox_delete(st, "lane-camp");
	store_outbox_delete(st, "lane-agent");
	store_outbox_delete(st, "lane-reply");
	store_outbox_delete(st, "lane-later");
}

/* SQLite: a database of schema 4 (before conversations and lanes) opens
 * at the current schema; its waiting replies keep their place as
 * replies, ahead of a newer campaign. */
static void
test_sqlite_migrates_to_lanes(void)
{
	struct config *c2 = NULL;
	struct store *s = NULL;
	struct store_outbox o, *v = NULL;
	struct store_conv conv;
	sqlite3 *db = NULL;
	char err[256], dir[600], path[700];
	size_t n = 0;
	bool found = true;

	if (use_mongo)
		return;
	snprintf(dir, sizeof(dir), "%s/v4", tmpdir);
	snprintf(path, sizeof(path), "%s/ovidio.db", dir);
	CHECK_INT(mkdir(dir, 0700), 0);
	setenv("OVIDIO_DATA_DIR", dir, 1);
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	/* Today's schema taken back to 4, as the last release left it. */
	CHECK_INT(store_open(&s, c2), OV_OK);
	store_close(s);
	s = NULL;
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "DROP TABLE conversaciones; DROP TABLE turnos;"
	    " DROP TRIGGER outbox_taken_gone; DROP TABLE outbox_taken;"
	    " ALTER TABLE outbox DROP COLUMN claimer;"
	    " ALTER TABLE outbox DROP COLUMN orphaned;"
	    " DROP INDEX outbox_lane; ALTER TABLE outbox DROP COLUMN lane;"
	    " ALTER TABLE mensajes DROP COLUMN media;"
	    " INSERT INTO outbox (id, wa_id, kind, payload, attempts,"
	    " created_at, next_attempt_at) VALUES ('old-1', '5493415557020',"
	    " 'text', '{\"text\":\"hola\"}', 2, 500, 500);"
	    " PRAGMA user_version = 4;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	CHECK_INT(store_open(&s, c2), OV_OK);
	if (s != NULL) {
		outbox_init(&o, "new-camp", "5493415557021", 100, 100,
		    "{\"text\":\"promo\"}");
		o.lane = STORE_LANE_CAMPAIGN;
		CHECK_INT(store_outbox_put(s, &o), OV_OK);
		CHECK_INT(store_outbox_due(s, 1000, 10, &v, &n), OV_OK);
		CHECK_INT(n, 2);
		if (n == 2) {
			CHECK_STR(v[0].id, "old-1");
			CHECK_INT(v[0].lane, STORE_LANE_REPLY);
			CHECK_INT(v[0].attempts, 2);
			CHECK_STR(v[1].id, "new-camp");
		}
		store_outbox_free(v, n);
		CHECK_INT(store_conv_get(s, "5493415557020", &conv, &found),
		    OV_OK);
		CHECK(!found);
		store_close(s);
	}
	config_free(c2);
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
}

/* SQLite: a database of schema 6 (before outbox claimers) opens at the
 * current schema; a reply waiting in it is unclaimed, can be claimed and
 * what Meta took of it recorded. */
static void
test_sqlite_migrates_outbox_claimers(void)
{
	struct store_outbox_part parts[STORE_OUTBOX_PARTS_MAX];
	struct config *c2 = NULL;
	struct store *s = NULL;
	struct store_outbox *v = NULL;
	sqlite3 *db = NULL;
	char err[256], dir[600], path[700];
	size_t n = 0, np = 9;

	if (use_mongo)
		return;
	snprintf(dir, sizeof(dir), "%s/v6", tmpdir);
	snprintf(path, sizeof(path), "%s/ovidio.db", dir);
	CHECK_INT(mkdir(dir, 0700), 0);
	setenv("OVIDIO_DATA_DIR", dir, 1);
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	/* Today's schema taken back to 6, as the last release left it, with
	 * a reply that was claimed by a drain then. */
	CHECK_INT(store_open(&s, c2), OV_OK);
	store_close(s);
	s = NULL;
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "DROP TRIGGER outbox_taken_gone;"
	    " DROP TABLE outbox_taken;"
	    " ALTER TABLE outbox DROP COLUMN claimer;"
	    " ALTER TABLE outbox DROP COLUMN orphaned;"
	    " ALTER TABLE mensajes DROP COLUMN media;"
	    " INSERT INTO outbox (id, wa_id, kind, payload, attempts,"
	    " created_at, next_attempt_at, lane) VALUES ('old-6',"
	    " '5493415557030', 'text', '{\"text\":\"hola\"}', 0, 500, 800, 0);"
	    " PRAGMA user_version = 6;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	CHECK_INT(store_open(&s, c2), OV_OK);
	if (s != NULL) {
		CHECK_INT(store_outbox_due(s, 1000, 10, &v, &n), OV_OK);
		CHECK_INT(n, 1);
		if (n == 1) {
			CHECK_STR(v[0].id, "old-6");
			CHECK_STR(v[0].claimer, "");
			CHECK(!v[0].orphaned);
		}
		store_outbox_free(v, n);
		CHECK_INT(store_outbox_claim(s, "old-6", 800, "", 1100, "h:1"),
		    OV_OK);
		CHECK_INT(store_outbox_taken_put(s, "old-6", 0, "wamid.o6"),
		    OV_OK);
		CHECK_INT(store_outbox_taken(s, "old-6", parts,
		    STORE_OUTBOX_PARTS_MAX, &np), OV_OK);
		CHECK_INT(np, 1);
		CHECK_INT(store_outbox_delete(s, "old-6"), OV_OK);
		CHECK_INT(store_outbox_taken(s, "old-6", parts,
		    STORE_OUTBOX_PARTS_MAX, &np), OV_OK);
		CHECK_INT(np, 0);
		store_close(s);
	}
	config_free(c2);
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
}

/* ---- MongoDB: turns left half done, foreign documents -------------------- */

static mongoc_collection_t *
mongo_coll(mongoc_client_t *cl, const char *name)
{
	return mongoc_client_get_collection(cl, getenv("MONGODB_DB"), name);
}

/* One update or delete through the driver, as another program would. */
static bool
mongo_write(mongoc_client_t *cl, const char *coll, const char *filter_json,
    const char *update_json)
{
	mongoc_collection_t *c = mongo_coll(cl, coll);
	bson_t *filter = bson_new_from_json((const uint8_t *)filter_json, -1,
	    NULL);
	bson_t *update = update_json == NULL ? NULL :
	    bson_new_from_json((const uint8_t *)update_json, -1, NULL);
	bool ok = false;

	if (filter != NULL && (update_json == NULL || update != NULL)) {
		if (update == NULL)
			ok = mongoc_collection_delete_many(c, filter, NULL, NULL,
			    NULL);
		else
			ok = mongoc_collection_update_many(c, filter, update,
			    NULL, NULL, NULL);
	}
	bson_destroy(filter);
	bson_destroy(update);
	mongoc_collection_destroy(c);
	return ok;
}

static bool
mongo_insert(mongoc_client_t *cl, const char *coll, const char *json)
{
	mongoc_collection_t *c = mongo_coll(cl, coll);
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, NULL);
	bool ok = doc != NULL &&
	    mongoc_collection_insert_one(c, doc, NULL, NULL, NULL);

	bson_destroy(doc);
	mongoc_collection_destroy(c);
	return ok;
}

static bool
turn_applied(mongoc_client_t *cl, const char *id)
{
	mongoc_collection_t *c = mongo_coll(cl, "turnos");
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "applied",
	    BCON_BOOL(true));
	int64_t n = mongoc_collection_count_documents(c, filter, NULL, NULL,
	    NULL, NULL);

	bson_destroy(filter);
	mongoc_collection_destroy(c);
	return n == 1;
}

/* The turn T6 as a crash between writing it and applying it leaves it:
 * the document there, none of its effects (stale: written long ago). */
static bool
undo_turn_t6(mongoc_client_t *cl, bool outbox_done)
{
	char set[160];

	snprintf(set, sizeof(set), "{\"$set\": {\"applied\": false, "
	    "\"outbox_done\": %s, \"written_at\": 0}}",
	    outbox_done ? "true" : "false");
	return mongo_write(cl, "conversaciones", "{\"_id\": \"5493415557009\"}",
	    NULL) &&
	    mongo_write(cl, "outbox", "{\"_id\": \"wamid.T6#0\"}", NULL) &&
	    mongo_write(cl, "mensajes", "{\"_id\": \"wamid.T6\"}",
	    "{\"$set\": {\"status\": \"received\"}}") &&
	    mongo_write(cl, "turnos", "{\"_id\": \"wamid.T6\"}", set);
}

static void
test_mongo_turn_recovery(void)
{
	const char *k = "5493415557009";
	const char *ids[] = { "wamid.T6" };
	mongoc_client_t *cl = mongoc_client_new(getenv("MONGODB_URI"));
	struct store_outbox r;
	struct store_conv c;
	struct store_turn t;
	enum store_claim clm;
	size_t applied = 0;
	int64_t count = -1;
	bool found = false;
	char buf[32], *doc;

	CHECK(cl != NULL);
	if (cl == NULL)
		return;
	CHECK_INT(claim(st, ids[0], k, 6000, 300, "hola", &clm), OV_OK);
	conv_set(&c, k, "bot", "", 6000, "{\"n\":6}");
	reply_init(&r, "wamid.T6#0", k, STORE_LANE_REPLY, 6001,
	    "{\"text\":\"¡Hola!\"}");
	memset(&t, 0, sizeof(t));
	t.id = ids[0];
	t.conv = &c;
	t.replies = &r;
	t.nreplies = 1;
	t.msg_ids = ids;
	t.nmsgs = 1;
	t.now = 6001;
	CHECK_INT(store_turn_commit(st, &t), OV_OK);
	CHECK(turn_applied(cl, ids[0]));

	/* Reading the conversation completes the turn first. */
	CHECK(undo_turn_t6(cl, false));
	CHECK(!turn_applied(cl, ids[0]));
	CHECK_INT(store_conv_get(st, k, &c, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(c.doc, "{\"n\":6}");
		CHECK_INT(c.last_inbound, 6000);
		store_conv_clear(&c);
	}
	CHECK_INT(store_outbox_count_for(st, k, &count), OV_OK);
	CHECK_INT(count, 1);
	CHECK_STR(status_of(ids[0], buf, sizeof(buf)), "handled");
	CHECK(turn_applied(cl, ids[0]));

	/* So does the drain's recovery. */
	CHECK(undo_turn_t6(cl, false));
	CHECK_INT(store_turn_recover(st, &applied), OV_OK);
	CHECK_INT(applied, 1);
	doc = conv_doc(k);
	CHECK_STR(doc, "{\"n\":6}");
	free(doc);
	CHECK_INT(store_outbox_count_for(st, k, &count), OV_OK);
	CHECK_INT(count, 1);
	CHECK_STR(status_of(ids[0], buf, sizeof(buf)), "handled");
	CHECK(turn_applied(cl, ids[0]));
	CHECK_INT(store_turn_recover(st, &applied), OV_OK);
	CHECK_INT(applied, 0);

	/* A replay of the turn while it is half done completes it and is
	 * still OV_EEXIST. */
	CHECK(undo_turn_t6(cl, false));
	CHECK_INT(store_turn_commit(st, &t), OV_EEXIST);
	CHECK_INT(store_outbox_count_for(st, k, &count), OV_OK);
	CHECK_INT(count, 1);
	CHECK(turn_applied(cl, ids[0]));

	/* Its replies were written and already sent (gone): not again. */
	CHECK(undo_turn_t6(cl, true));
	CHECK_INT(store_turn_recover(st, &applied), OV_OK);
	CHECK_INT(applied, 1);
	CHECK_INT(store_outbox_count_for(st, k, &count), OV_OK);
	CHECK_INT(count, 0);

	/* A late repeat never brings back an older state. */
	conv_set(&c, k, "bot", "", 6100, "{\"n\":7}");
	memset(&t, 0, sizeof(t));
	t.id = "wamid.T7";
	t.conv = &c;
	t.now = 6100;
	CHECK_INT(store_turn_commit(st, &t), OV_OK);
	CHECK(mongo_write(cl, "turnos", "{\"_id\": \"wamid.T6\"}",
	    "{\"$set\": {\"applied\": false, \"written_at\": 0}}"));
	CHECK_INT(store_turn_recover(st, &applied), OV_OK);
	CHECK_INT(applied, 1);
	doc = conv_doc(k);
	CHECK_STR(doc, "{\"n\":7}");
	free(doc);
	store_outbox_delete(st, "wamid.T6#0");
	mongoc_client_destroy(cl);
}

/* A turn document as the design describes it, written by hand (no order,
 * no write time): the drain's recovery applies it whole. */
static void
test_mongo_turn_written_by_hand(void)
{
	const char *k = "5493415557012";
	mongoc_client_t *cl = mongoc_client_new(getenv("MONGODB_URI"));
	struct store_outbox *v = NULL;
	enum store_claim clm;
	size_t applied = 0, n = 0;
	bool found = false;
	char buf[32], *doc;

	CHECK(cl != NULL);
	if (cl == NULL)
		return;
	CHECK_INT(claim(st, "wamid.T8", k, 8000, 300, "hola", &clm), OV_OK);
	CHECK(mongo_insert(cl, "turnos", "{\"_id\": \"wamid.T8\", \"key\": "
	    "\"5493415557012\", \"conv\": {\"owner\": \"bot\", \"agent\": \"\","
	    " \"last_inbound\": 8000, \"doc\": \"{\\\"n\\\":8}\"}, \"outbox\": "
	    "[{\"_id\": \"wamid.T8#0\", \"lane\": 0, \"wa_id\": "
	    "\"5493415557012\", \"kind\": \"text\", \"payload\": "
	    "\"{\\\"text\\\":\\\"hola\\\"}\", \"attempts\": 0, \"created_at\": "
	    "8001, \"next_attempt_at\": 8001}], \"msgs\": [\"wamid.T8\"], "
	    "\"created_at\": 8001, \"applied\": false}"));
	CHECK_INT(store_turn_recover(st, &applied), OV_OK);
	CHECK_INT(applied, 1);
	CHECK(turn_applied(cl, "wamid.T8"));
	doc = conv_doc(k);
	CHECK_STR(doc, "{\"n\":8}");
	free(doc);
	CHECK_STR(status_of("wamid.T8", buf, sizeof(buf)), "handled");
	CHECK_INT(store_outbox_due_for(st, k, 9000, 10, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(v[0].id, "wamid.T8#0");
		CHECK_STR(v[0].payload, "{\"text\":\"hola\"}");
	}
	store_outbox_free(v, n);
	/* The same id from a replaying worker: committed already. */
	{
		struct store_conv c;
		struct store_turn t;

		conv_set(&c, k, "bot", "", 8000, "{\"n\":9}");
		memset(&t, 0, sizeof(t));
		t.id = "wamid.T8";
		t.conv = &c;
		t.now = 8100;
		CHECK_INT(store_turn_commit(st, &t), OV_EEXIST);
	}
	CHECK_INT(store_conv_get(st, k, NULL, &found), OV_EINVAL);
	store_outbox_delete(st, "wamid.T8#0");
	mongoc_client_destroy(cl);
}

/* A database other programs wrote into (the old bot, a person with a
 * shell) opens, and its documents are read with defaults. */
static void
test_mongo_foreign_documents(void)
{
	static const char *const docs[][2] = {
		{ "clientes", "{\"telefono\": \"3415550000\", \"nombre\": \"A\"}" },
		{ "clientes", "{\"telefono\": \"3415550000\", \"nombre\": \"B\"}" },
		{ "clientes", "{\"_id\": 12345, \"telefono\": 1}" },
		{ "presupuestos", "{\"estado\": \"viejo\"}" },
		{ "presupuestos", "{\"estado\": \"viejo\", \"number\": null}" },
		{ "conversaciones", "{\"_id\": \"5493415557010\", \"estado\": 3}" },
		{ "conversaciones", "{\"_id\": 42}" },
		{ "outbox", "{\"_id\": \"foreign-ob\", \"wa_id\": 5}" },
		{ "turnos", "{\"_id\": \"viejo\", \"applied\": false}" },
		{ "turnos", "{\"applied\": false, \"key\": \"5493415557010\"}" },
		{ "mensajes", "{\"texto\": \"hola\"}" },
	};
	mongoc_client_t *cl = mongoc_client_new(getenv("MONGODB_URI"));
	struct store *st2 = NULL;
	struct store_conv c;
	struct store_outbox *v = NULL;
	size_t applied = 9, n = 0;
	bool found = false, got = false;

	CHECK(cl != NULL);
	if (cl == NULL)
		return;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		CHECK(mongo_insert(cl, docs[i][0], docs[i][1]));
	CHECK_INT(store_open(&st2, cfg), OV_OK);
	if (st2 != NULL) {
		CHECK_INT(store_conv_get(st2, "5493415557010", &c, &found),
		    OV_OK);
		CHECK(found);
		if (found) {
			CHECK_STR(c.doc, "{}");
			CHECK_INT(c.last_inbound, 0);
			store_conv_clear(&c);
		}
		CHECK_INT(store_conv_lease(st2, "5493415557010", "n", 1, 2,
		    &got), OV_OK);
		CHECK(got);
		CHECK_INT(store_turn_recover(st2, &applied), OV_OK);
		CHECK_INT(store_outbox_due(st2, INT64_MAX, 100, &v, &n), OV_OK);
		store_outbox_free(v, n);
		store_close(st2);
	}
	mongo_write(cl, "clientes", "{\"telefono\": {\"$exists\": true}}", NULL);
	mongo_write(cl, "presupuestos", "{\"estado\": \"viejo\"}", NULL);
	mongo_write(cl, "outbox", "{\"_id\": \"foreign-ob\"}", NULL);
	mongo_write(cl, "turnos", "{\"seq\": {\"$exists\": false}}", NULL);
	mongoc_client_destroy(cl);
}

static void
test_reopen_keeps_data(void)
{
	char *value = NULL;
	int64_t exp = 0, v = 0;
	bool found = false;

	store_close(st);
	st = NULL;
	CHECK_INT(store_open(&st, cfg), OV_OK);
	if (st == NULL)
		return;
	CHECK_INT(store_token_get(st, "cianbox", &value, &exp, &found), OV_OK);
	CHECK(found);
	CHECK_STR(value, "tok-2");
	free(value);
	CHECK_INT(store_counter_next(st, "test.a", &v), OV_OK);
	CHECK_INT(v, 4);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ---- proactive messages ------------------------------------------------ */

static size_t
outbox_count_id(const char *wa_id, const char *id)
{
	struct store_outbox *v = NULL;
	size_t n = 0, k = 0;

	if (store_outbox_due_for(st, wa_id, INT64_MAX, 1000, &v, &n) != OV_OK)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			k++;
	store_outbox_free(v, n);
	return k;
}

/* The entry and its markers go in together; a marker that stands refuses
 * the whole, so neither a second run nor a second kind the same day for
 * the same customer adds anything. */
static void
test_proactive_commit_once(void)
{
	const char *wa = "5493415558801";
	const char *m1[] = { "quote_reminder:q1", "day:5493415558801:2026-12-05" };
	const char *m2[] = { "followup:cam", "day:5493415558801:2026-12-05" };
	const char *m3[] = { "followup:cam", "day:5493415558801:2026-12-06" };
	struct store_outbox o;
	bool found = true;

	reply_init(&o, "px-1", wa, STORE_LANE_CAMPAIGN, 100, "{\"text\":\"a\"}");
	CHECK_INT(store_marker_get(st, m1[0], &found), OV_OK);
	CHECK(!found);
	CHECK_INT(store_proactive_commit(st, m1, 2, &o, 100), OV_OK);
	CHECK_INT(outbox_count_id(wa, "px-1"), 1);
	CHECK_INT(store_marker_get(st, m1[0], &found), OV_OK);
	CHECK(found);
	CHECK_INT(store_marker_get(st, m1[1], &found), OV_OK);
	CHECK(found);

	/* Again, with a new entry id: refused, nothing added. */
	reply_init(&o, "px-2", wa, STORE_LANE_CAMPAIGN, 100, "{\"text\":\"a\"}");
	CHECK_INT(store_proactive_commit(st, m1, 2, &o, 100), OV_EEXIST);
	CHECK_INT(outbox_count_id(wa, "px-2"), 0);

	/* Another kind the same day: the day marker refuses it, and its own
	 * marker is not left behind. */
	reply_init(&o, "px-3", wa, STORE_LANE_CAMPAIGN, 100, "{\"text\":\"b\"}");
	CHECK_INT(store_proactive_commit(st, m2, 2, &o, 100), OV_EEXIST);
	CHECK_INT(outbox_count_id(wa, "px-3"), 0);
	CHECK_INT(store_marker_get(st, "followup:cam", &found), OV_OK);
	CHECK(!found);
	/* The next day it goes. */
	CHECK_INT(store_proactive_commit(st, m3, 2, &o, 200), OV_OK);
	CHECK_INT(outbox_count_id(wa, "px-3"), 1);

	/* A marker removed (Meta's "not today") may be made again. */
	CHECK_INT(store_marker_delete(st, "followup:cam"), OV_OK);
	CHECK_INT(store_marker_get(st, "followup:cam", &found), OV_OK);
	CHECK(!found);
	CHECK_INT(store_marker_delete(st, "followup:cam"), OV_OK);

	/* Bad arguments change nothing. */
	CHECK_INT(store_proactive_commit(st, m1, 0, &o, 1), OV_EINVAL);
	{
		const char *dup[] = { "x:1", "x:1" };
		const char *ctl[] = { "x:\n1" };

		CHECK_INT(store_proactive_commit(st, dup, 2, &o, 1), OV_EINVAL);
		CHECK_INT(store_proactive_commit(st, ctl, 1, &o, 1), OV_EINVAL);
	}
	CHECK_INT(store_marker_get(st, "", &found), OV_EINVAL);
	CHECK_INT(store_outbox_delete(st, "px-1"), OV_OK);
	CHECK_INT(store_outbox_delete(st, "px-3"), OV_OK);
}

/* An entry id that is taken fails the commit and leaves no marker. */
static void
test_proactive_commit_all_or_nothing(void)
{
	const char *wa = "5493415558802";
	const char *m[] = { "birthday:5493415558802:2026" };
	struct store_outbox o;
	bool found = true;

	reply_init(&o, "px-taken", wa, STORE_LANE_REPLY, 100, "{\"text\":\"r\"}");
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	o.lane = STORE_LANE_CAMPAIGN;
	CHECK(store_proactive_commit(st, m, 1, &o, 100) != OV_OK);
	CHECK_INT(store_marker_get(st, m[0], &found), OV_OK);
	CHECK(!found);
	CHECK_INT(store_outbox_delete(st, "px-taken"), OV_OK);
}

/* A batch: each item all or nothing; an item clashing with an earlier
 * one of the same batch (the day's cap) is refused alone. */
static void
test_proactive_batch(void)
{
	const char *m1[] = { "quote_reminder:b1", "day:5493415558820:2026-12-05" };
	const char *m2[] = { "followup:b2", "day:5493415558820:2026-12-05" };
	const char *m3[] = { "quote_reminder:b3", "day:5493415558821:2026-12-05" };
	struct store_outbox o[3];
	struct store_proactive v[3];
	bool found = true;

	reply_init(&o[0], "pxb-1", "5493415558820", STORE_LANE_CAMPAIGN, 100,
	    "{\"text\":\"1\"}");
	reply_init(&o[1], "pxb-2", "5493415558820", STORE_LANE_CAMPAIGN, 100,
	    "{\"text\":\"2\"}");
	reply_init(&o[2], "pxb-3", "5493415558821", STORE_LANE_CAMPAIGN, 100,
	    "{\"text\":\"3\"}");
	v[0] = (struct store_proactive){ m1, 2, &o[0], -1 };
	v[1] = (struct store_proactive){ m2, 2, &o[1], -1 };
	v[2] = (struct store_proactive){ m3, 2, &o[2], -1 };
	CHECK_INT(store_proactive_commit_batch(st, v, 3, 100), OV_OK);
	CHECK_INT(v[0].rc, OV_OK);
	CHECK_INT(v[1].rc, OV_EEXIST);
	CHECK_INT(v[2].rc, OV_OK);
	CHECK_INT(outbox_count_id("5493415558820", "pxb-1"), 1);
	CHECK_INT(outbox_count_id("5493415558820", "pxb-2"), 0);
	CHECK_INT(outbox_count_id("5493415558821", "pxb-3"), 1);
	CHECK_INT(store_marker_get(st, "followup:b2", &found), OV_OK);
	CHECK(!found);
	/* Again: all refused, nothing added. */
	reply_init(&o[0], "pxb-4", "5493415558820", STORE_LANE_CAMPAIGN, 100,
	    "{\"text\":\"1\"}");
	CHECK_INT(store_proactive_commit_batch(st, v, 1, 100), OV_OK);
	CHECK_INT(v[0].rc, OV_EEXIST);
	CHECK_INT(outbox_count_id("5493415558820", "pxb-4"), 0);
	/* Malformed: nothing done. */
	v[1].nmarkers = 0;
	CHECK_INT(store_proactive_commit_batch(st, v, 2, 100), OV_EINVAL);
	CHECK_INT(store_proactive_commit_batch(st, v, 0, 100), OV_OK);
	CHECK_INT(store_outbox_delete(st, "pxb-1"), OV_OK);
	CHECK_INT(store_outbox_delete(st, "pxb-3"), OV_OK);
}

static void
test_conv_scan_pages(void)
{
	struct store_conv c, *v = NULL;
	char after[STORE_WAID_MAX + 1] = "";
	size_t n = 0, total = 0, pages = 0;
	bool ordered = true;

	for (int i = 0; i < 7; i++) {
		memset(&c, 0, sizeof(c));
		snprintf(c.key, sizeof(c.key), "5493419990%03d", 6 - i);
		c.last_inbound = 1000 + i;
		c.doc = (char *)"{\"topic\":\"x\"}";
		CHECK_INT(store_conv_put(st, &c), OV_OK);
	}
	do {
		CHECK_INT(store_conv_scan(st, after, 3, &v, &n), OV_OK);
		for (size_t i = 0; i < n; i++) {
			if (after[0] != '\0' && strcmp(v[i].key, after) <= 0)
				ordered = false;
			CHECK(v[i].doc != NULL);
			if (strncmp(v[i].key, "5493419990", 10) == 0)
				total++;
			snprintf(after, sizeof(after), "%s", v[i].key);
		}
		store_convs_free(v, n);
		pages++;
	} while (n == 3 && pages < 10000);
	CHECK(ordered);
	CHECK_INT(total, 7);
	CHECK_INT(store_conv_scan(st, "{\"$gt\":\"\"}", 3, &v, &n), OV_EINVAL);
	CHECK_INT(store_conv_scan(st, "", 0, &v, &n), OV_EINVAL);
	CHECK_INT(store_conv_scan(st, "", STORE_SCAN_MAX + 1, &v, &n),
	    OV_EINVAL);
}

static void
test_quote_scan_expiring(void)
{
	static const char *const ids[] = {
		"0b000000-0000-4000-8000-000000000001",
		"0b000000-0000-4000-8000-000000000002",
		"0b000000-0000-4000-8000-000000000003",
		"0b000000-0000-4000-8000-000000000004",
	};
	struct store_quote q, *v = NULL;
	size_t n = 0;

	/* Expiring at 5e8 + 10, +20, +30 (one confirmed), +99. */
	for (int i = 0; i < 4; i++) {
		quote_init(&q, ids[i], 900 + i, 500000000, i == 2 ? "enviado" :
		    "pendiente_confirmacion", "{}");
		q.expires_at = 500000000 + (i == 3 ? 99 : (i + 1) * 10);
		CHECK_INT(store_quote_put(st, &q), OV_OK);
	}
	CHECK_INT(store_quote_scan_expiring(st, "pendiente_confirmacion",
	    500000010, 500000050, "", 10, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, ids[0]);
		CHECK_STR(v[1].id, ids[1]);
	}
	store_quotes_free(v, n);
	/* Paging by id. */
	CHECK_INT(store_quote_scan_expiring(st, "pendiente_confirmacion",
	    500000010, 500000050, ids[0], 10, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(v[0].id, ids[1]);
	store_quotes_free(v, n);
	CHECK_INT(store_quote_scan_expiring(st, "enviado", 500000010,
	    500000050, "", 10, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	store_quotes_free(v, n);
	CHECK_INT(store_quote_scan_expiring(st, "pendiente_confirmacion", 0, 1,
	    "not-a-uuid", 10, &v, &n), OV_EINVAL);
	for (int i = 0; i < 4; i++)
		CHECK_INT(store_quote_delete(st, ids[i]), OV_OK);
}

static void
test_demand(void)
{
	struct store_demand *v = NULL, after;
	size_t n = 0;

	CHECK_INT(store_demand_put(st, "5493415558810", 77, 1000), OV_OK);
	CHECK_INT(store_demand_put(st, "5493415558810", 12, 1100), OV_OK);
	CHECK_INT(store_demand_put(st, "5493415558809", 77, 900), OV_OK);
	/* Asked again: the later time stands, an earlier one does not. */
	CHECK_INT(store_demand_put(st, "5493415558810", 77, 2000), OV_OK);
	CHECK_INT(store_demand_put(st, "5493415558810", 77, 1500), OV_OK);

	CHECK_INT(store_demand_scan(st, NULL, 2, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].wa_id, "5493415558809");
		CHECK_INT(v[0].product_id, 77);
		CHECK_STR(v[1].wa_id, "5493415558810");
		CHECK_INT(v[1].product_id, 12);
		after = v[1];
	}
	free(v);
	if (n == 2) {
		CHECK_INT(store_demand_scan(st, &after, 10, &v, &n), OV_OK);
		CHECK_INT(n, 1);
		if (n == 1) {
			CHECK_INT(v[0].product_id, 77);
			CHECK_INT(v[0].asked_at, 2000);
		}
		free(v);
	}
	CHECK_INT(store_demand_delete(st, "5493415558810", 77), OV_OK);
	CHECK_INT(store_demand_delete(st, "5493415558810", 77), OV_OK);
	CHECK_INT(store_demand_scan(st, NULL, 10, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	free(v);
	CHECK_INT(store_demand_put(st, "{\"$ne\":1}", 1, 1), OV_EINVAL);
	CHECK_INT(store_demand_put(st, "5493415558810", 0, 1), OV_EINVAL);
	CHECK_INT(store_demand_delete(st, "5493415558810", 12), OV_OK);
	CHECK_INT(store_demand_delete(st, "5493415558809", 77), OV_OK);
}


/* ---- identities ---------------------------------------------------------- */

static void
test_identities(void)
{
	struct store_identity id, got;
	struct store_conv c, cg;
	struct store_customer cu, cug;
	struct store_msg *h = NULL;
	size_t nh = 0;
	bool found = true;

	CHECK(store_key_is_phone("5493415550700"));
	CHECK(!store_key_is_phone("AR.1502576394655843"));
	CHECK_INT(store_identity_get(st, "AR.1000000000000700", &got, &found),
	    OV_OK);
	CHECK(!found);
	memset(&id, 0, sizeof(id));
	snprintf(id.key, sizeof(id.key), "AR.1000000000000700");
	snprintf(id.phone, sizeof(id.phone), "5493415550700");
	CHECK_INT(store_identity_put(st, &id, 1764000000), OV_OK);
	CHECK_INT(store_identity_get(st, "AR.1000000000000700", &got, &found),
	    OV_OK);
	CHECK(found && !got.hold && got.updated_at == 1764000000);
	CHECK_STR(got.phone, "5493415550700");
	id.hold = true;
	id.phone[0] = '\0';
	CHECK_INT(store_identity_put(st, &id, 1764000001), OV_OK);
	CHECK_INT(store_identity_get(st, "AR.1000000000000700", &got, &found),
	    OV_OK);
	CHECK(found && got.hold && got.phone[0] == '\0');
	snprintf(id.phone, sizeof(id.phone), "54934x");
	CHECK_INT(store_identity_put(st, &id, 1), OV_EINVAL);
	CHECK_INT(store_identity_get(st, "AR/1", &got, &found), OV_EINVAL);

	/* A BSUID's customer moves to the phone: conversation, record,
	 * history. */
	memset(&c, 0, sizeof(c));
	snprintf(c.key, sizeof(c.key), "AR.1000000000000701");
	c.doc = (char *)"{\"v\":1}";
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	memset(&cu, 0, sizeof(cu));
	snprintf(cu.wa_id, sizeof(cu.wa_id), "AR.1000000000000701");
	cu.name = (char *)"Lucía";
	CHECK_INT(store_customer_put(st, &cu), OV_OK);
	CHECK_INT(claim(st, "wamid.id-701", "AR.1000000000000701", 1764000000,
	    300, "hola", &(enum store_claim){0}), OV_OK);
	CHECK_INT(store_identity_move(st, "AR.1000000000000701",
	    "5493415550701", 1764000002), OV_OK);
	CHECK_INT(store_conv_get(st, "AR.1000000000000701", &cg, &found), OV_OK);
	CHECK(!found);
	store_conv_clear(&cg);
	CHECK_INT(store_conv_get(st, "5493415550701", &cg, &found), OV_OK);
	CHECK(found && cg.doc != NULL && strcmp(cg.doc, "{\"v\":1}") == 0);
	store_conv_clear(&cg);
	CHECK_INT(store_customer_get(st, "5493415550701", &cug, &found), OV_OK);
	CHECK(found && cug.name != NULL && strcmp(cug.name, "Lucía") == 0);
	store_customer_clear(&cug);
	CHECK_INT(store_customer_get(st, "AR.1000000000000701", &cug, &found),
	    OV_OK);
	CHECK(!found);
	store_customer_clear(&cug);
	CHECK_INT(store_history(st, "5493415550701", 10, &h, &nh), OV_OK);
	CHECK_INT(nh, 1);
	store_msgs_free(h, nh);

	/* The key moved to already has a conversation: it wins. */
	snprintf(c.key, sizeof(c.key), "AR.1000000000000702");
	c.doc = (char *)"{\"v\":2}";
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	CHECK_INT(store_identity_move(st, "AR.1000000000000702",
	    "5493415550701", 1764000003), OV_OK);
	CHECK_INT(store_conv_get(st, "5493415550701", &cg, &found), OV_OK);
	CHECK(found && cg.doc != NULL && strcmp(cg.doc, "{\"v\":1}") == 0);
	store_conv_clear(&cg);
	CHECK_INT(store_conv_get(st, "AR.1000000000000702", &cg, &found), OV_OK);
	CHECK(!found);
	store_conv_clear(&cg);
	/* Nothing to move is fine; to itself is not. */
	CHECK_INT(store_identity_move(st, "AR.1000000000000799",
	    "5493415550799", 1764000004), OV_OK);
	CHECK_INT(store_identity_move(st, "5493415550701", "5493415550701", 1),
	    OV_EINVAL);
}

/* ---- inbox ------------------------------------------------------------ */

/* Take, give back and the race between two salespeople: compare-and-set
 * on the owner, only under the caller's lease. */
static void
test_inbox_conv_swap(void)
{
	const char *k = "5493419990100";
	struct store_conv c, got_c;
	bool got = false, found = false;

	conv_set(&c, k, "agent", "handoff", 500, "{\"owner_until\":900}");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	/* Without the lease: refused, nothing written. */
	conv_set(&c, k, "agent", "ana", 500, "{\"owner_until\":1900}");
	CHECK_INT(store_conv_swap(st, &c, "agent", "handoff", "inbox:ana",
	    &got), OV_OK);
	CHECK(!got);
	/* Ana takes it under her lease. */
	CHECK_INT(store_conv_lease(st, k, "inbox:ana", 1000, 1010, &got), OV_OK);
	CHECK(got);
	CHECK_INT(store_conv_swap(st, &c, "agent", "handoff", "inbox:ana",
	    &got), OV_OK);
	CHECK(got);
	CHECK_INT(store_conv_get(st, k, &got_c, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got_c.owner, "agent");
		CHECK_STR(got_c.agent, "ana");
		CHECK_STR(got_c.doc, "{\"owner_until\":1900}");
		store_conv_clear(&got_c);
	}
	/* The write released the lease: Beto may lease it, but his take,
	 * made from what he read before Ana's, fails. */
	CHECK_INT(store_conv_lease(st, k, "inbox:beto", 1001, 1011, &got),
	    OV_OK);
	CHECK(got);
	conv_set(&c, k, "agent", "beto", 500, "{\"owner_until\":1901}");
	CHECK_INT(store_conv_swap(st, &c, "agent", "handoff", "inbox:beto",
	    &got), OV_OK);
	CHECK(!got);
	CHECK_INT(store_conv_release(st, k, "inbox:beto"), OV_OK);
	/* Ana gives it back to Ovidio. */
	CHECK_INT(store_conv_lease(st, k, "inbox:ana", 1002, 1012, &got), OV_OK);
	conv_set(&c, k, "bot", "", 500, "{}");
	CHECK_INT(store_conv_swap(st, &c, "agent", "ana", "inbox:ana", &got),
	    OV_OK);
	CHECK(got);
	/* "" reads as "bot" on both sides. */
	CHECK_INT(store_conv_lease(st, k, "inbox:ana", 1003, 1013, &got), OV_OK);
	conv_set(&c, k, "agent", "ana", 500, "{}");
	CHECK_INT(store_conv_swap(st, &c, "", "", "inbox:ana", &got), OV_OK);
	CHECK(got);
	/* Missing record: not written. */
	conv_set(&c, "5493419990199", "agent", "ana", 1, "{}");
	CHECK_INT(store_conv_swap(st, &c, "bot", "", "inbox:ana", &got), OV_OK);
	CHECK(!got);
	CHECK_INT(store_conv_get(st, "5493419990199", &got_c, &found), OV_OK);
	CHECK(!found);
	CHECK_INT(store_conv_swap(st, &c, "robot", "", "inbox:ana", &got),
	    OV_EINVAL);
	CHECK_INT(store_conv_swap(st, &c, "bot", "", "", &got), OV_EINVAL);
	CHECK_INT(store_conv_swap(st, &c, "bot", "", "h", NULL), OV_EINVAL);
}

static void
test_inbox_list(void)
{
	struct store_customer cu;
	struct store_conv c;
	struct store_inbox_row *v = NULL;
	enum store_claim cl;
	size_t n = 0;

	/* Two waiting (the one waiting longest first), one taken, one with
	 * Ovidio, one never written to. */
	conv_set(&c, "5493419990201", "bot", "", 3000, "{}");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	conv_set(&c, "5493419990202", "agent", "handoff", 2000,
	    "{\"cuit\":\"20284567898\",\"razon\":\"Seguridad Ñandú SRL\"}");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	conv_set(&c, "5493419990203", "agent", "handoff", 1000, "{}");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	conv_set(&c, "5493419990204", "agent", "ana", 4000, "not json");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	conv_set(&c, "5493419990205", "bot", "", 0, "{}");
	CHECK_INT(store_conv_put(st, &c), OV_OK);
	memset(&cu, 0, sizeof(cu));
	snprintf(cu.wa_id, sizeof(cu.wa_id), "5493419990201");
	cu.name = "Martín <b>Gómez</b> 100%_";
	CHECK_INT(store_customer_put(st, &cu), OV_OK);
	/* 0203: answered at 1001, then two more words. */
	CHECK_INT(claim(st, "ib.1", "5493419990203", 1000, 300, "hola", &cl),
	    OV_OK);
	CHECK_INT(put_out("ib.2", "5493419990203", 1001, "sent", "Hola"),
	    OV_OK);
	CHECK_INT(claim(st, "ib.3", "5493419990203", 1002, 300, "¿hay?", &cl),
	    OV_OK);
	CHECK_INT(claim(st, "ib.4", "5493419990203", 1003, 300, "?", &cl),
	    OV_OK);

	CHECK_INT(store_inbox_list(st, "54934199902", 50, &v, &n), OV_OK);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_STR(v[0].conv.key, "5493419990203");
		CHECK(v[0].waiting);
		CHECK_INT(v[0].unanswered, 2);
		CHECK_STR(v[1].conv.key, "5493419990202");
		CHECK(v[1].waiting);
		CHECK_INT(v[1].unanswered, 0);
		CHECK_STR(v[2].conv.key, "5493419990204");
		CHECK(!v[2].waiting);
		CHECK_STR(v[2].conv.agent, "ana");
		CHECK_STR(v[3].conv.key, "5493419990201");
		CHECK_STR(v[3].name, "Martín <b>Gómez</b> 100%_");
	}
	store_inbox_rows_free(v, n);
	/* Limit. */
	v = NULL;
	CHECK_INT(store_inbox_list(st, "54934199902", 1, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	store_inbox_rows_free(v, n);
	/* The whole list (no search; other tests' conversations too): the
	 * same order, the waiting first. */
	v = NULL;
	CHECK_INT(store_inbox_list(st, NULL, STORE_INBOX_LIST_MAX, &v, &n),
	    OV_OK);
	{
		static const char *const want[] = { "5493419990203",
		    "5493419990202", "5493419990204", "5493419990201" };
		size_t k = 0;

		for (size_t i = 0; i < n; i++) {
			CHECK(strcmp(v[i].conv.key, "5493419990205") != 0);
			if (i > 0 && v[i].waiting)
				CHECK(v[i - 1].waiting &&
				    v[i - 1].conv.last_inbound <=
				    v[i].conv.last_inbound);
			if (i > 0 && !v[i].waiting && !v[i - 1].waiting)
				CHECK(v[i - 1].conv.last_inbound >=
				    v[i].conv.last_inbound);
			if (k < 4 && strcmp(v[i].conv.key, want[k]) == 0) {
				CHECK(v[i].waiting == (k < 2));
				if (k == 0)
					CHECK_INT(v[i].unanswered, 2);
				if (k == 3)
					CHECK_STR(v[i].name,
					    "Martín <b>Gómez</b> 100%_");
				k++;
			}
		}
		CHECK_INT(k, 4);
		if (n > 0) {
			struct store_inbox_row *one = NULL;
			size_t n1 = 0;

			CHECK_INT(store_inbox_list(st, NULL, 1, &one, &n1),
			    OV_OK);
			CHECK_INT(n1, 1);
			if (n1 == 1)
				CHECK_STR(one[0].conv.key, v[0].conv.key);
			store_inbox_rows_free(one, n1);
		}
	}
	store_inbox_rows_free(v, n);
	/* By name, any case; by CUIT; by razón social. */
	v = NULL;
	CHECK_INT(store_inbox_list(st, "GÓMEZ", 50, &v, &n), OV_OK);
	/* Only ASCII folds: "GÓMEZ" lower-cases to "gÓmez", no match. */
	CHECK_INT(n, 0);
	store_inbox_rows_free(v, n);
	v = NULL;
	CHECK_INT(store_inbox_list(st, "<B>gómez", 50, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(v[0].conv.key, "5493419990201");
	store_inbox_rows_free(v, n);
	v = NULL;
	CHECK_INT(store_inbox_list(st, "28456789", 50, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(v[0].conv.key, "5493419990202");
	store_inbox_rows_free(v, n);
	v = NULL;
	CHECK_INT(store_inbox_list(st, "ANDú SRL", 50, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	store_inbox_rows_free(v, n);
	/* Wildcards and operators are plain text. */
	v = NULL;
	CHECK_INT(store_inbox_list(st, "100%_", 50, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	store_inbox_rows_free(v, n);
	v = NULL;
	CHECK_INT(store_inbox_list(st, "%", 50, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	store_inbox_rows_free(v, n);
	v = NULL;
	CHECK_INT(store_inbox_list(st, ".*", 50, &v, &n), OV_OK);
	CHECK_INT(n, 0);
	store_inbox_rows_free(v, n);
	v = NULL;
	CHECK_INT(store_inbox_list(st, "x", 0, &v, &n), OV_EINVAL);
	CHECK_INT(store_inbox_list(st, "x", STORE_INBOX_LIST_MAX + 1, &v, &n),
	    OV_EINVAL);
	CHECK_INT(store_inbox_list(st, "a\nb", 5, &v, &n), OV_EINVAL);
	CHECK_INT(store_inbox_list(st, "0123456789012345678901234567890123"
	    "4567890123456789012345678901234", 5, &v, &n), OV_EINVAL);
}

static void
test_inbox_stats(void)
{
	const int64_t day = 6000000000;   /* far from other tests' times */
	struct store_inbox_stats a, b;
	struct store_outbox o;
	enum store_claim cl;

	CHECK_INT(store_inbox_stats(st, day, day, &a), OV_OK);
	CHECK_INT(a.msgs_in, 0);
	CHECK_INT(a.latency_p50, -1);
	/* Answered after 2 s, 4 s and 100 s; one not answered. */
	CHECK_INT(claim(st, "is.1", "5493419990301", day + 10, 300, "a", &cl),
	    OV_OK);
	CHECK_INT(put_out("is.2", "5493419990301", day + 12, "sent", "b"),
	    OV_OK);
	CHECK_INT(claim(st, "is.3", "5493419990302", day + 20, 300, "c", &cl),
	    OV_OK);
	CHECK_INT(put_out("is.4", "5493419990302", day + 24, "read", "d"),
	    OV_OK);
	CHECK_INT(claim(st, "is.5", "5493419990302", day + 30, 300, "e", &cl),
	    OV_OK);
	CHECK_INT(put_out("is.6", "5493419990302", day + 130, "failed", "f"),
	    OV_OK);
	CHECK_INT(claim(st, "is.7", "5493419990303", day + 40, 300, "g", &cl),
	    OV_OK);
	memset(&o, 0, sizeof(o));
	snprintf(o.id, sizeof(o.id), "is.ob1");
	snprintf(o.wa_id, sizeof(o.wa_id), "5493419990303");
	snprintf(o.kind, sizeof(o.kind), "text");
	o.payload = "{\"text\":\"x\"}";
	o.lane = STORE_LANE_AGENT;
	o.created_at = day;
	o.next_attempt_at = day;
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	snprintf(o.id, sizeof(o.id), "is.ob2");
	o.attempts = 2;
	o.next_attempt_at = day + 999999;
	CHECK_INT(store_outbox_put(st, &o), OV_OK);
	CHECK_INT(store_inbox_stats(st, day, day + 200, &b), OV_OK);
	CHECK_INT(b.msgs_in, 4);
	CHECK_INT(b.msgs_out, 3);
	CHECK_INT(b.msgs_failed, 1);
	CHECK_INT(b.latency_p50, 4);
	CHECK_INT(b.latency_p99, 100);
	CHECK_INT(b.outbox_due - a.outbox_due, 1);
	CHECK_INT(b.outbox_retrying - a.outbox_retrying, 1);
	CHECK_INT(store_outbox_delete(st, "is.ob1"), OV_OK);
	CHECK_INT(store_outbox_delete(st, "is.ob2"), OV_OK);
	CHECK_INT(store_inbox_stats(st, day, day, NULL), OV_EINVAL);
}

/* ---- legacy and ISR ---------------------------------------------------- */

static void
legacy_msg(struct store_msg *m, const char *id, enum store_dir dir,
    int64_t ts, const char *body)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->wa_id, sizeof(m->wa_id), "5493417770001");
	m->dir = dir;
	m->ts = ts;
	snprintf(m->type, sizeof(m->type), "text");
	snprintf(m->status, sizeof(m->status), "%s",
	    dir == STORE_IN ? "handled" : "sent");
	m->body = (char *)body;
}

/* An import adds what is new, leaves what is there, and lands in the
 * customer's history in time order with inbound messages handled. */
static void
test_msgs_import(void)
{
	struct store_msg v[3], got, *h = NULL;
	size_t added = 99, n = 0;
	bool found = false;
	enum store_claim claim;

	legacy_msg(&v[0], "legacy.t.0", STORE_IN, 100, "hola");
	legacy_msg(&v[1], "legacy.t.1", STORE_OUT, 101, "buenas");
	legacy_msg(&v[2], "legacy.t.2", STORE_IN, 102, "gracias");
	CHECK_INT(store_msgs_import(st, v, 2, &added), OV_OK);
	CHECK_INT(added, 2);
	CHECK_INT(store_msgs_import(st, v, 3, &added), OV_OK);
	CHECK_INT(added, 1);
	CHECK_INT(store_msgs_import(st, v, 3, &added), OV_OK);
	CHECK_INT(added, 0);
	CHECK_INT(store_msgs_import(st, v, 0, &added), OV_OK);
	CHECK_INT(added, 0);
	CHECK_INT(store_msg_get(st, "legacy.t.0", &got, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.status, "handled");
		CHECK_INT(got.dir, STORE_IN);
		store_msg_clear(&got);
	}
	/* Handled: a webhook replay of the same id is a duplicate. */
	CHECK_INT(store_inbound_claim(st, &v[0], 200, 60, &claim), OV_OK);
	CHECK_INT(claim, STORE_CLAIM_DUPLICATE);
	CHECK_INT(store_history(st, "5493417770001", 10, &h, &n), OV_OK);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(h[0].body, "hola");
		CHECK_STR(h[1].body, "buenas");
		CHECK_INT(h[1].dir, STORE_OUT);
		CHECK_STR(h[2].body, "gracias");
	}
	store_msgs_free(h, n);
	v[1].type[0] = '\0';
	CHECK_INT(store_msgs_import(st, v, 3, &added), OV_EINVAL);
	CHECK_INT(store_msgs_import(st, v, STORE_IMPORT_BATCH + 1, &added),
	    OV_EINVAL);
}

static void
test_counter_raise(void)
{
	int64_t v = 0;
	bool raised = false;

	CHECK_INT(store_counter_raise(st, "test.raise", 58, &raised), OV_OK);
	CHECK(raised);
	CHECK_INT(store_counter_next(st, "test.raise", &v), OV_OK);
	CHECK_INT(v, 59);
	CHECK_INT(store_counter_raise(st, "test.raise", 40, &raised), OV_OK);
	CHECK(!raised);
	CHECK_INT(store_counter_raise(st, "test.raise", 59, &raised), OV_OK);
	CHECK(!raised);
	CHECK_INT(store_counter_next(st, "test.raise", &v), OV_OK);
	CHECK_INT(v, 60);
	CHECK_INT(store_counter_raise(st, "test.raise", 0, &raised), OV_EINVAL);
}

static void
test_quote_by_number(void)
{
	static const char *const id = "0a1b2c3d-0000-4000-8000-0000000000aa";
	struct store_quote q, got;
	bool found = true;

	CHECK_INT(store_quote_by_number(st, 9056, &got, &found), OV_OK);
	CHECK(!found);
	quote_init(&q, id, 9056, 5000, "enviado", "{\"n\":9056}");
	CHECK_INT(store_quote_put(st, &q), OV_OK);
	CHECK_INT(store_quote_by_number(st, 9056, &got, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(got.id, id);
		CHECK_STR(got.state, "enviado");
		store_quote_clear(&got);
	}
	CHECK_INT(store_quote_by_number(st, 0, &got, &found), OV_EINVAL);
	CHECK_INT(store_quote_delete(st, id), OV_OK);
}

/* An import of quotes adds those whose id and number are free and leaves
 * the rest; many numbers are looked up in one call. */
static void
test_quotes_import(void)
{
	static const char *const ids[] = {
		"0a1b2c3d-0000-4000-8000-0000000000c1",
		"0a1b2c3d-0000-4000-8000-0000000000c2",
		"0a1b2c3d-0000-4000-8000-0000000000c3",
		"0a1b2c3d-0000-4000-8000-0000000000c4",
	};
	struct store_quote v[4], got[4];
	int64_t numbers[4] = { 9071, 9072, 9073, 9071 };
	bool found[4] = { true, true, true, true };
	size_t added = 99;

	quote_init(&v[0], ids[0], 9071, 5000, "enviado", "{\"n\":9071}");
	quote_init(&v[1], ids[1], 9072, 5001, "cancelado", "{\"n\":9072}");
	quote_init(&v[2], ids[2], 9073, 5002, "enviado", NULL);
	/* Another id with a number already taken. */
	quote_init(&v[3], ids[3], 9071, 5003, "enviado", "{\"n\":0}");
	CHECK_INT(store_quotes_by_number(st, numbers, 3, got, found), OV_OK);
	CHECK(!found[0] && !found[1] && !found[2]);
	CHECK_INT(store_quotes_import(st, v, 2, &added), OV_OK);
	CHECK_INT(added, 2);
	CHECK_INT(store_quotes_import(st, v, 4, &added), OV_OK);
	CHECK_INT(added, 1);
	CHECK_INT(store_quotes_import(st, v, 4, &added), OV_OK);
	CHECK_INT(added, 0);
	CHECK_INT(store_quotes_import(st, v, 0, &added), OV_OK);
	CHECK_INT(added, 0);
	numbers[2] = 9099;
	CHECK_INT(store_quotes_by_number(st, numbers, 4, got, found), OV_OK);
	CHECK(found[0] && found[1] && !found[2] && found[3]);
	if (found[0] && found[1] && found[3]) {
		CHECK_STR(got[0].id, ids[0]);
		CHECK_STR(got[0].doc, "{\"n\":9071}");
		CHECK_INT(got[0].created_at, 5000);
		CHECK_STR(got[1].id, ids[1]);
		CHECK_STR(got[1].state, "cancelado");
		CHECK_STR(got[3].id, ids[0]);
		CHECK_STR(got[3].doc, "{\"n\":9071}");
	}
	for (size_t i = 0; i < 4; i++)
		if (found[i])
			store_quote_clear(&got[i]);
	/* Imported as store_quote_put() writes: store_quote_get() sees it. */
	CHECK_INT(store_quote_get(st, ids[2], &got[0], &found[0]), OV_OK);
	CHECK(found[0]);
	if (found[0]) {
		CHECK_INT(got[0].number, 9073);
		CHECK(got[0].doc == NULL);
		store_quote_clear(&got[0]);
	}
	numbers[1] = 0;
	CHECK_INT(store_quotes_by_number(st, numbers, 2, got, found),
	    OV_EINVAL);
	CHECK_INT(store_quotes_by_number(st, numbers, 0, got, found), OV_OK);
	v[1].number = 0;
	CHECK_INT(store_quotes_import(st, v, 2, &added), OV_EINVAL);
	CHECK_INT(store_quotes_import(st, v, STORE_IMPORT_BATCH + 1, &added),
	    OV_EINVAL);
	for (size_t i = 0; i < 3; i++)
		CHECK_INT(store_quote_delete(st, ids[i]), OV_OK);
}

static void
isr_entry(struct store_isr *e, const char *id, int64_t created,
    const char *payload)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->quote_id, sizeof(e->quote_id),
	    "0a1b2c3d-0000-4000-8000-0000000000bb");
	e->payload = (char *)payload;
	e->created_at = created;
	e->next_attempt_at = created;
}

/* The queue is kept only when ISR_API_URL is set; then it keeps entries
 * once, oldest first, claims for one drain, reschedules and deletes. */
static void
test_isr_queue(void)
{
	struct store *q = NULL;
	struct config *c2 = NULL;
	struct store_isr e, *v = NULL;
	char err[256];
	size_t n = 0;

	isr_entry(&e, "q1:nuevo", 100, "{\"estado\":\"nuevo\"}");
	CHECK(!store_isr_enabled(st));
	CHECK_INT(store_isr_put(st, &e), OV_OK);   /* off: kept nowhere */
	CHECK_INT(store_isr_list(st, 10, &v, &n), OV_OK);
	CHECK_INT(n, 0);
	store_isr_free(v, n);

	setenv("ISR_API_URL", "http://127.0.0.1:9/isr", 1);
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	if (c2 == NULL || store_open(&q, c2) != OV_OK) {
		unsetenv("ISR_API_URL");
		CHECK(q != NULL);
		config_free(c2);
		return;
	}
	unsetenv("ISR_API_URL");
	CHECK(store_isr_enabled(q));
	CHECK_INT(store_isr_put(q, &e), OV_OK);
	CHECK_INT(store_isr_put(q, &e), OV_EEXIST);
	isr_entry(&e, "q1:confirmado", 100, "{\"estado\":\"confirmado\"}");
	CHECK_INT(store_isr_put(q, &e), OV_OK);
	isr_entry(&e, "q0:nuevo", 50, "{\"estado\":\"viejo\"}");
	CHECK_INT(store_isr_put(q, &e), OV_OK);
	CHECK_INT(store_isr_list(q, 10, &v, &n), OV_OK);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(v[0].id, "q0:nuevo");
		CHECK_STR(v[1].id, "q1:nuevo");
		CHECK_STR(v[2].id, "q1:confirmado");
		CHECK_STR(v[2].payload, "{\"estado\":\"confirmado\"}");
		CHECK_STR(v[2].quote_id, "0a1b2c3d-0000-4000-8000-0000000000bb");
	}
	store_isr_free(v, n);
	CHECK_INT(store_isr_claim(q, "q1:nuevo", 100, 400), OV_OK);
	CHECK_INT(store_isr_claim(q, "q1:nuevo", 100, 400), OV_EBUSY);
	CHECK_INT(store_isr_claim(q, "nadie", 100, 400), OV_EBUSY);
	CHECK_INT(store_isr_reschedule(q, "q1:nuevo", 1, 700, "503"), OV_OK);
	CHECK_INT(store_isr_reschedule(q, "nadie", 1, 700, NULL),
	    OV_ENOTFOUND);
	CHECK_INT(store_isr_delete(q, "q0:nuevo"), OV_OK);
	CHECK_INT(store_isr_delete(q, "q0:nuevo"), OV_OK);
	CHECK_INT(store_isr_list(q, 1, &v, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(v[0].id, "q1:nuevo");
		CHECK_INT(v[0].attempts, 1);
		CHECK_INT(v[0].next_attempt_at, 700);
		CHECK_STR(v[0].last_error, "503");
	}
	store_isr_free(v, n);
	CHECK_INT(store_isr_delete(q, "q1:nuevo"), OV_OK);
	CHECK_INT(store_isr_delete(q, "q1:confirmado"), OV_OK);
	isr_entry(&e, "bad", 1, NULL);
	CHECK_INT(store_isr_put(q, &e), OV_EINVAL);
	CHECK_INT(store_isr_list(q, 0, &v, &n), OV_EINVAL);
	store_close(q);
	config_free(c2);
}

int
main(void)
{
	char err[256], db[64];
	int rc;

	log_init("test_store");
	umask(022);
	unsetenv("OVIDIO_CONFIG");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
	snprintf(db, sizeof(db), "ovidio_test_%ld", (long)getpid());
	setenv("MONGODB_DB", db, 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		rc = 1;
		goto out;
	}
	use_mongo = config_get(cfg, "MONGODB_URI") != NULL;
	if ((rc = store_open(&st, cfg)) != OV_OK) {
		fprintf(stderr, "cannot open the store: %s\n", ov_strerror(rc));
		rc = 1;
		goto out;
	}

	RUN(test_backend_matches_configuration);
	RUN(test_sqlite_missing_data_dir);
	if (getenv("MONGODB_URI") == NULL)
		RUN(test_sqlite_fresh_file_opened_by_many_at_once);
	RUN(test_inbound_new_then_duplicate);
	RUN(test_inbound_lease_retry);
	RUN(test_inbound_done_unknown);
	RUN(test_inbound_note);
	RUN(test_concurrent_dedupe);
	RUN(test_outbound_status_never_lowers);
	RUN(test_status_before_outbound_put);
	RUN(test_failed_keeps_error);
	if (getenv("MONGODB_URI") == NULL)
		RUN(test_sqlite_writer_waits_for_the_lock);
	RUN(test_history);
	RUN(test_customers);
	RUN(test_counters);
	RUN(test_concurrent_counters);
	RUN(test_tokens);
	RUN(test_catalog_replace);
	RUN(test_catalog_abort_keeps_old);
	RUN(test_catalog_readers_during_replace);
	RUN(test_catalog_crash_keeps_old);
	RUN(test_catalog_duplicate_key_keeps_last);
	RUN(test_catalog_search);
	RUN(test_catalog_search_refuses_syntax);
	RUN(test_catalog_lookup);
	RUN(test_catalog_search_follows_replace);
	RUN(test_no_injection);
	RUN(test_invalid_arguments);
	RUN(test_quotes);
	RUN(test_quote_pending_for);
	RUN(test_quote_list_older_except);
	RUN(test_outbox);
	RUN(test_outbox_claim_race);
	RUN(test_outbox_claimer_and_taken);
	RUN(test_conv_get_put);
	RUN(test_conv_lease);
	RUN(test_conv_lease_race);
	RUN(test_turn_commit);
	if (!use_mongo)
		RUN(test_turn_all_or_nothing);
	RUN(test_outbox_lanes);
	RUN(test_sqlite_migrates_to_lanes);
	RUN(test_sqlite_migrates_outbox_claimers);
	if (use_mongo) {
		RUN(test_mongo_turn_recovery);
		RUN(test_mongo_turn_written_by_hand);
		RUN(test_mongo_foreign_documents);
	}
	RUN(test_proactive_commit_once);
	if (!use_mongo)   /* there a taken entry id is the entry re-applied */
		RUN(test_proactive_commit_all_or_nothing);
	RUN(test_proactive_batch);
	RUN(test_conv_scan_pages);
	RUN(test_quote_scan_expiring);
	RUN(test_demand);
	RUN(test_identities);
	RUN(test_reopen_keeps_data);
	/* ---- inbox */
	RUN(test_inbox_conv_swap);
	RUN(test_inbox_list);
	RUN(test_inbox_stats);

	/* legacy and ISR */
	RUN(test_msgs_import);
	RUN(test_counter_raise);
	RUN(test_quote_by_number);
	RUN(test_quotes_import);
	RUN(test_isr_queue);
	rc = check_finish();
out:
	store_close(st);
	config_free(cfg);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
