/*
 * bench/inbox.c - the salesperson's inbox pages over a big store
 * (bench/inbox runs it): loads CONVS conversations (10,000) with MSGS
 * messages (200,000) among them, a tenth waiting for a person, each with
 * a customer name, a tenth Cianbox customers with five invoices kept,
 * then runs the real CGI (cgi-bin/inbox, fork + exec,
 * its output to /dev/null) ROUNDS times for the list and for a random
 * conversation page, and prints milliseconds per page: p50, p90, p99, max.
 * Target: p99 <= 50 ms on SQLite.
 *
 *   bench-inbox LOAD CONVS MSGS     fill the configured store
 *   bench-inbox RUN CGI ROUNDS      time the pages
 *
 * Loading goes around the store's one-call-per-row API (a transaction per
 * message would take minutes): SQLite in one transaction through the same
 * tables, MongoDB with insert_many in batches, documents shaped as
 * lib/store_mongo.c writes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>
#include <sqlite3.h>

#include "config.h"
#include "customer.h"
#include "err.h"
#include "invoices.h"
#include "log.h"
#include "store.h"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Conversation i's number: a Rosario mobile, 549 341 5xxxxxx. */
static void
key_of(long i, char *buf, size_t len)
{
	snprintf(buf, len, "5493415%06ld", i % 1000000);
}

static const char *const names[] = {
	"Martín Gómez", "Lucía Fernández", "Seguridad Norte SRL", "Hugo Pérez",
	"Carla Ruiz", "Instalaciones Rosario", "Diego Sosa", "Ana Torres",
};

static int
load_sqlite(const char *data, long convs, long msgs, int64_t now)
{
	char path[1024], key[32], id[64], doc[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *c = NULL, *m = NULL, *cl = NULL;
	int rc = 1;

	snprintf(path, sizeof(path), "%s/ovidio.db", data);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		goto out;
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "INSERT INTO conversaciones (key, owner,"
	    " agent, last_inbound, updated_at, doc) VALUES (?1, ?2, ?3, ?4,"
	    " ?4, ?5)", -1, &c, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO mensajes (id, wa_id, dir, ts,"
	    " type, status, body) VALUES (?1, ?2, ?3, ?4, 'text', ?5, ?6)", -1,
	    &m, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO clientes (wa_id, name,"
	    " created_at, updated_at) VALUES (?1, ?2, ?3, ?3)", -1, &cl,
	    NULL) != SQLITE_OK)
		goto out;
	for (long i = 0; i < convs; i++) {
		bool waiting = i % 10 == 0;
		int64_t last = now - (i * 37) % (3 * 86400);

		key_of(i, key, sizeof(key));
		snprintf(doc, sizeof(doc), "{\"v\":1,\"owner_until\":%lld,"
		    "\"cuit\":\"20%09ld\"}", waiting ? (long long)(last + 14400) :
		    0LL, 100000000 + i);
		sqlite3_bind_text(c, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(c, 2, waiting ? "agent" : "bot", -1, SQLITE_STATIC);
		sqlite3_bind_text(c, 3, waiting ? "handoff" : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(c, 4, last);
		sqlite3_bind_text(c, 5, doc, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(c) != SQLITE_DONE)
			goto out;
		sqlite3_reset(c);
		sqlite3_bind_text(cl, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(cl, 2, names[i % 8], -1, SQLITE_STATIC);
		sqlite3_bind_int64(cl, 3, now);
		if (sqlite3_step(cl) != SQLITE_DONE)
			goto out;
		sqlite3_reset(cl);
	}
	for (long j = 0; j < msgs; j++) {
		long i = j % convs, k = j / convs;
		int dir = (int)(k % 2);

		key_of(i, key, sizeof(key));
		snprintf(id, sizeof(id), "wamid.bench.%ld", j);
		sqlite3_bind_text(m, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(m, 2, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(m, 3, dir);
		sqlite3_bind_int64(m, 4, now - 3 * 86400 + k * 600 + i % 600);
		sqlite3_bind_text(m, 5, dir ? "delivered" : "handled", -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(m, 6, dir ? "Tenemos estas cámaras domo en "
		    "stock, ¿cuántas necesitás?" : "hola, precio de domo 4mp",
		    -1, SQLITE_STATIC);
		if (sqlite3_step(m) != SQLITE_DONE)
			goto out;
		sqlite3_reset(m);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		rc = 0;
out:
	if (rc != 0 && db != NULL)
		fprintf(stderr, "load: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(c);
	sqlite3_finalize(m);
	sqlite3_finalize(cl);
	sqlite3_close(db);
	return rc;
}

static int
flush(mongoc_collection_t *coll, bson_t **docs, size_t *n)
{
	bson_error_t error;
	bool ok = true;

	if (*n > 0)
		ok = mongoc_collection_insert_many(coll, (const bson_t **)docs,
		    *n, NULL, NULL, &error);
	for (size_t i = 0; i < *n; i++)
		bson_destroy(docs[i]);
	*n = 0;
	if (!ok)
		fprintf(stderr, "load: %s\n", error.message);
	return ok ? 0 : 1;
}

#define BATCH 1000

static int
load_mongo(const char *uri, const char *dbname, long convs, long msgs,
    int64_t now)
{
	mongoc_client_t *cl;
	mongoc_collection_t *cc, *cm, *ccl;
	bson_t *docs[BATCH], *docs2[BATCH];
	size_t n = 0, n2 = 0;
	char key[32], id[64], doc[128];
	int rc = 0;

	/* The driver is initialised (the store was opened first) and stays
	 * so: the store is opened again after this. */
	if ((cl = mongoc_client_new(uri)) == NULL)
		return 1;
	cc = mongoc_client_get_collection(cl, dbname, "conversaciones");
	cm = mongoc_client_get_collection(cl, dbname, "mensajes");
	ccl = mongoc_client_get_collection(cl, dbname, "clientes");
	for (long i = 0; i < convs && rc == 0; i++) {
		bool waiting = i % 10 == 0;
		int64_t last = now - (i * 37) % (3 * 86400);

		key_of(i, key, sizeof(key));
		snprintf(doc, sizeof(doc), "{\"v\":1,\"owner_until\":%lld,"
		    "\"cuit\":\"20%09ld\"}", waiting ? (long long)(last + 14400) :
		    0LL, 100000000 + i);
		docs[n++] = BCON_NEW("_id", BCON_UTF8(key), "owner",
		    BCON_UTF8(waiting ? "agent" : "bot"), "agent",
		    BCON_UTF8(waiting ? "handoff" : ""), "last_inbound",
		    BCON_INT64(last), "updated_at", BCON_INT64(last), "doc",
		    BCON_UTF8(doc), "lease_until", BCON_INT64(0));
		docs2[n2++] = BCON_NEW("_id", BCON_UTF8(key), "name",
		    BCON_UTF8(names[i % 8]), "cianbox_id", BCON_INT64(0),
		    "created_at", BCON_INT64(now), "updated_at", BCON_INT64(now));
		if (n == BATCH)
			rc = flush(cc, docs, &n) | flush(ccl, docs2, &n2);
	}
	rc |= flush(cc, docs, &n) | flush(ccl, docs2, &n2);
	for (long j = 0; j < msgs && rc == 0; j++) {
		long i = j % convs, k = j / convs;
		int dir = (int)(k % 2);

		key_of(i, key, sizeof(key));
		snprintf(id, sizeof(id), "wamid.bench.%ld", j);
		docs[n++] = BCON_NEW("_id", BCON_UTF8(id), "wa_id", BCON_UTF8(key),
		    "dir", BCON_INT32(dir), "ts",
		    BCON_INT64(now - 3 * 86400 + k * 600 + i % 600), "seq",
		    BCON_INT64(j), "type", BCON_UTF8("text"), "status",
		    BCON_UTF8(dir ? "delivered" : "handled"), "body",
		    BCON_UTF8(dir ? "Tenemos estas cámaras domo en stock" :
		    "hola, precio de domo 4mp"));
		if (n == BATCH)
			rc = flush(cm, docs, &n);
	}
	rc |= flush(cm, docs, &n);
	mongoc_collection_destroy(cc);
	mongoc_collection_destroy(cm);
	mongoc_collection_destroy(ccl);
	mongoc_client_destroy(cl);
	return rc;
}

/*
 * Every tenth conversation (not a waiting one) is a Cianbox customer whose
 * phone on file is its number, with five invoices kept: its page shows
 * balance and invoices from the kept copy. Through the store's API, as
 * catalog-sync and the bot write them.
 */
static int
load_customers(struct store *st, long convs, int64_t now)
{
	struct store_catalog_writer *w = NULL;
	struct cianbox_cliente c;
	struct cianbox_venta v[5];
	char key[32];
	int rc;

	if ((rc = store_catalog_begin(st, CUSTOMER_CATALOG, &w)) != OV_OK)
		return rc;
	for (long i = 1; i < convs; i += 10) {
		memset(&c, 0, sizeof(c));
		key_of(i, key, sizeof(key));
		c.id = 5000 + i;
		snprintf(c.razon, sizeof(c.razon), "%s", names[i % 8]);
		snprintf(c.tipo_documento, sizeof(c.tipo_documento), "CUIT");
		snprintf(c.numero_documento, sizeof(c.numero_documento),
		    "20%09ld", 100000000 + i);
		snprintf(c.celular, sizeof(c.celular), "+%s", key);
		c.ctacte = true;
		c.plazo = 30;
		c.limite = 5000;
		c.saldo = 1843.75;
		if ((rc = customer_client_put(w, &c, now)) != OV_OK) {
			store_catalog_abort(w);
			return rc;
		}
	}
	if ((rc = store_catalog_commit(w)) != OV_OK)
		return rc;
	for (long i = 1; i < convs; i += 10) {
		char doc[24];

		for (int k = 0; k < 5; k++) {
			memset(&v[k], 0, sizeof(v[k]));
			v[k].id = i * 10 + k;
			snprintf(v[k].fecha, sizeof(v[k].fecha), "2026-11-%02d",
			    20 - k);
			snprintf(v[k].punto_venta, sizeof(v[k].punto_venta), "0003");
			snprintf(v[k].numero, sizeof(v[k].numero), "%08ld",
			    i * 10 + k);
			v[k].total = 1000 + k;
			v[k].cta_cte = k % 2 == 0;
			v[k].id_moneda = 2;
		}
		snprintf(doc, sizeof(doc), "20%09ld", 100000000 + i);
		if ((rc = invoices_put(st, 5000 + i, doc, v, 5, now)) != OV_OK)
			return rc;
	}
	return OV_OK;
}

static long failures;   /* store calls or pages that failed */

/* CPU milliseconds (user + system) of the last page's process: the
 * machine's other load inflates wall time, much less this. */
static double last_cpu_ms;

/* One page: the CGI with this PATH_INFO; wall milliseconds. */
static double
page(const char *cgi, const char *path_info, const char *query)
{
	double t0 = now_ms();
	pid_t pid = fork();
	int status = 0;
	struct rusage ru;

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		setenv("REQUEST_METHOD", "GET", 1);
		setenv("REMOTE_USER", "bench", 1);
		setenv("SCRIPT_NAME", "/cgi-bin/inbox", 1);
		setenv("PATH_INFO", path_info, 1);
		setenv("QUERY_STRING", query, 1);
		execl(cgi, cgi, (char *)NULL);
		_exit(127);
	}
	memset(&ru, 0, sizeof(ru));
	wait4(pid, &status, 0, &ru);
	last_cpu_ms = (double)ru.ru_utime.tv_sec * 1e3 +
	    (double)ru.ru_utime.tv_usec / 1e3 +
	    (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "the CGI failed for %s\n", path_info);
		failures++;
	}
	return now_ms() - t0;
}

static void
report(const char *what, double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("%-24s n=%zu  p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n",
	    what, n, v[n / 2], v[n * 90 / 100], v[n * 99 / 100], v[n - 1]);
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	char err[256], key[32], path[64], cuit[32];
	int64_t now = (int64_t)time(NULL);
	int rc = 1;

	log_init("bench-inbox");
	log_set_level(LOG_ERROR);
	if (argc != 4 || config_load(&cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "usage: bench-inbox LOAD CONVS MSGS | "
		    "RUN CGI ROUNDS\n");
		return 2;
	}
	if (strcmp(argv[1], "LOAD") == 0) {
		long convs = strtol(argv[2], NULL, 10), msgs = strtol(argv[3],
		    NULL, 10);
		double t0 = now_ms();

		/* The schema and indexes, as the programs make them. */
		if (store_open(&st, cfg) != OV_OK)
			goto out;
		store_close(st);
		st = NULL;
		if (config_get(cfg, "MONGODB_URI") != NULL)
			rc = load_mongo(config_get(cfg, "MONGODB_URI"),
			    config_get(cfg, "MONGODB_DB") != NULL ?
			    config_get(cfg, "MONGODB_DB") : "ovidio", convs, msgs,
			    now);
		else
			rc = load_sqlite(config_get(cfg, "OVIDIO_DATA_DIR"), convs,
			    msgs, now);
		if (rc == 0 && (store_open(&st, cfg) != OV_OK ||
		    load_customers(st, convs, now) != OV_OK))
			rc = 1;
		printf("loaded %ld conversations, %ld messages in %.1f s (%s)\n",
		    convs, msgs, (now_ms() - t0) / 1000, config_get(cfg,
		    "MONGODB_URI") != NULL ? "mongodb" : "sqlite");
	} else {
		long rounds = strtol(argv[3], NULL, 10);
		double *l = calloc((size_t)rounds, sizeof(double));
		double *c = calloc((size_t)rounds, sizeof(double));
		double *s = calloc((size_t)rounds, sizeof(double));
		double *lc = calloc((size_t)rounds, sizeof(double));
		double *cc = calloc((size_t)rounds, sizeof(double));
		double *sc = calloc((size_t)rounds, sizeof(double));
		unsigned seed = 42;
		const char *ec = getenv("BENCH_CONVS");
		long nconvs = ec != NULL ? strtol(ec, NULL, 10) : 10000;

		if (nconvs < 1)
			nconvs = 10000;

		if (l == NULL || c == NULL || s == NULL || lc == NULL ||
		    cc == NULL || sc == NULL || rounds < 1)
			goto out;
		/* The store's share of each page, in this process. */
		if (store_open(&st, cfg) != OV_OK)
			goto out;
		for (long i = 0; i < rounds; i++) {
			struct store_inbox_row *v = NULL;
			struct store_msg *h = NULL;
			struct store_conv sc;
			struct store_customer cu;
			struct store_quote q;
			struct customer_identity id;
			struct cianbox_cliente cli;
			size_t n = 0;
			bool found;
			double t0 = now_ms();

			failures += store_inbox_list(st, NULL, 100, &v, &n) != OV_OK;
			store_inbox_rows_free(v, n);
			l[i] = now_ms() - t0;
			key_of(rand_r(&seed) % nconvs, key, sizeof(key));
			t0 = now_ms();
			/* What the page reads (cgi-bin/inbox h_conv). */
			memset(&sc, 0, sizeof(sc));
			failures += store_conv_get(st, key, &sc, &found) != OV_OK;
			store_conv_clear(&sc);
			memset(&cu, 0, sizeof(cu));
			failures += store_customer_get(st, key, &cu, &found) != OV_OK;
			if (found)
				store_customer_clear(&cu);
			failures += customer_lookup(st, key, &id) != OV_OK;
			if (id.have_client && id.verified) {
				struct invoices kept;

				failures += invoices_get(st, id.client.id, &kept,
				    &found) != OV_OK || !found;
			}
			snprintf(cuit, sizeof(cuit), "20%09ld", 100000000L +
			    strtol(key + 7, NULL, 10));
			failures += customer_client_by_cuit(st, cuit, &cli, &found) !=
			    OV_OK;
			memset(&q, 0, sizeof(q));
			failures += store_quote_pending_for(st, key, &q, &found) !=
			    OV_OK;
			if (found)
				store_quote_clear(&q);
			n = 0;
			failures += store_history(st, key, 200, &h, &n) != OV_OK;
			store_msgs_free(h, n);
			c[i] = now_ms() - t0;
			t0 = now_ms();
			v = NULL;
			n = 0;
			failures += store_inbox_list(st, "seguridad", 100, &v, &n) !=
			    OV_OK;
			store_inbox_rows_free(v, n);
			s[i] = now_ms() - t0;
		}
		store_close(st);
		st = NULL;
		report("store: list", l, (size_t)rounds);
		report("store: conversation", c, (size_t)rounds);
		report("store: name search", s, (size_t)rounds);
		page(argv[2], "", "");   /* warm the page cache */
		for (long i = 0; i < rounds; i++) {
			l[i] = page(argv[2], "", "");
			lc[i] = last_cpu_ms;
			key_of(rand_r(&seed) % nconvs, key, sizeof(key));
			snprintf(path, sizeof(path), "/c/%s", key);
			c[i] = page(argv[2], path, "");
			cc[i] = last_cpu_ms;
			s[i] = page(argv[2], "", "q=seguridad");
			sc[i] = last_cpu_ms;
		}
		report("CGI: list (100 rows)", l, (size_t)rounds);
		report("CGI: conversation", c, (size_t)rounds);
		report("CGI: name search", s, (size_t)rounds);
		report("CGI cpu: list", lc, (size_t)rounds);
		report("CGI cpu: conversation", cc, (size_t)rounds);
		report("CGI cpu: name search", sc, (size_t)rounds);
		for (long i = 0; i < rounds; i++) {
			l[i] = page(argv[2], "/nada", "");
			lc[i] = last_cpu_ms;
		}
		report("CGI: 404 (start cost)", l, (size_t)rounds);
		report("CGI cpu: 404", lc, (size_t)rounds);
		printf("failed store calls or pages: %ld%s\n", failures,
		    failures > 0 ? " (the figures above are not valid)" : "");
		free(l);
		free(c);
		free(s);
		free(lc);
		free(cc);
		free(sc);
		rc = failures == 0 ? 0 : 1;
	}
out:
	store_close(st);
	config_free(cfg);
	return rc;
}
