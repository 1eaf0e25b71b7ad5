/*
 * bench/notify.c - jobs/notify at scale (built and run by bench/notify).
 *
 *   bench-notify populate CUSTOMERS QUOTES   fill $OVIDIO_DATA_DIR's store
 *   bench-notify run JOB [ARGS...]           run the job, print its wall
 *                                            time and peak memory
 *   bench-notify drain MAX                   send up to MAX queued
 *                                            messages, print the rate
 *
 * populate writes straight into the SQLite file in one transaction (the
 * store's own layout, documents made by lib/conv), so filling 50,000
 * customers takes seconds; what is measured is the job alone. The clock
 * is OVIDIO_NOW, as for the job.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "config.h"
#include "conv.h"
#include "err.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "whatsapp.h"

#define DAY 86400

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
populate(struct config *cfg, long customers, long quotes)
{
	struct store *st = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *cv = NULL, *qs = NULL;
	char path[512], key[32], id[40];
	const char *dir = getenv("OVIDIO_DATA_DIR");
	int64_t now = clock_now();
	time_t tt = (time_t)now;
	struct tm tm;
	int rc = 1;

	localtime_r(&tt, &tm);
	/* The store makes its tables. */
	if (store_open(&st, cfg) != OV_OK)
		return 1;
	store_close(st);
	snprintf(path, sizeof(path), "%s/ovidio.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO conversaciones (key, owner,"
	    " agent, last_inbound, updated_at, doc) VALUES (?1, ?2, '', ?3, ?3,"
	    " ?4)", -1, &cv, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO presupuestos (id, number, wa_id,"
	    " state, created_at, expires_at, doc) VALUES (?1, ?2, ?3, ?4, ?5,"
	    " ?6, ?7)", -1, &qs, NULL) != SQLITE_OK)
		goto out;
	for (long i = 0; i < customers; i++) {
		struct conv c;
		struct store_conv rec;

		snprintf(key, sizeof(key), "5493410%06ld", i);
		conv_init(&c, key);
		/* Last wrote 0..59 days ago; a third said yes to promotions,
		 * one in twenty said "baja"; about one in 365 has a birthday
		 * today; one in fifty is with a salesperson. */
		c.last_inbound = now - (int64_t)(i % 60) * DAY - (i % 7919);
		if (i % 3 == 0) {
			c.profile.promo = CONV_PROMO_YES;
			c.profile.promo_asked = true;
		}
		if (i % 20 == 7)
			c.profile.opted_out = true;
		if (i % 2 == 0)
			snprintf(c.topic, sizeof(c.topic), "Cámara Domo Dahua 4MP y "
			    "Fuente 12V %ld", i % 97);
		if (i % 365 == 11)
			snprintf(c.profile.birthday, sizeof(c.profile.birthday),
			    "%02d-%02d", tm.tm_mon + 1, tm.tm_mday);
		if (i % 50 == 1) {
			c.owner = CONV_OWNER_AGENT;
			snprintf(c.agent, sizeof(c.agent), "ana");
			c.owner_until = now + DAY;
		}
		conv_note_brand(&c, i % 2 ? "Dahua" : "Hikvision");
		if (conv_to_store(&c, &rec) != OV_OK)
			goto out;
		sqlite3_bind_text(cv, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(cv, 2, c.owner == CONV_OWNER_AGENT ? "agent" :
		    "bot", -1, SQLITE_STATIC);
		sqlite3_bind_int64(cv, 3, c.last_inbound);
		sqlite3_bind_text(cv, 4, rec.doc, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(cv) != SQLITE_DONE)
			goto out;
		sqlite3_reset(cv);
		store_conv_clear(&rec);
	}
	for (long i = 0; i < quotes; i++) {
		static const char *const states[] = { "pendiente_confirmacion",
		    "pendiente_confirmacion", "pendiente_confirmacion", "enviado",
		    "cancelado" };
		int64_t created = now - (int64_t)(i % 16) * DAY - (i % 3571);
		char doc[600];

		snprintf(key, sizeof(key), "5493410%06ld", (i * 5 / 2) %
		    (customers > 0 ? customers : 1));
		snprintf(id, sizeof(id), "%08lx-0000-4000-8000-%012lx",
		    (unsigned long)i, (unsigned long)i);
		snprintf(doc, sizeof(doc), "{\"v\":1,\"customer\":{\"name\":"
		    "\"Cliente %ld\",\"cuit\":\"\",\"phone\":\"\"},\"currency\":"
		    "\"USD\",\"usd_rate_cents\":0,\"items\":[{\"product_id\":10452,"
		    "\"code\":\"DH-1\",\"name\":\"Cámara Domo Dahua 4MP\","
		    "\"quantity\":%ld,\"unit_cents\":4850,\"iva\":210},"
		    "{\"product_id\":10477,\"code\":\"FTE\",\"name\":\"Fuente 12V"
		    " 5A\",\"quantity\":3,\"unit_cents\":720,\"iva\":105}]}", i,
		    1 + i % 9);
		sqlite3_bind_text(qs, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(qs, 2, 100000 + i);
		sqlite3_bind_text(qs, 3, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(qs, 4, states[i % 5], -1, SQLITE_STATIC);
		sqlite3_bind_int64(qs, 5, created);
		sqlite3_bind_int64(qs, 6, created + 15 * DAY);
		sqlite3_bind_text(qs, 7, doc, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(qs) != SQLITE_DONE)
			goto out;
		sqlite3_reset(qs);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	printf("populated %ld customers, %ld quotes\n", customers, quotes);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "populate: %s\n", db ? sqlite3_errmsg(db) : "?");
	sqlite3_finalize(cv);
	sqlite3_finalize(qs);
	sqlite3_close(db);
	return rc;
}

static int
run(char **argv)
{
	struct rusage ru;
	double t0 = now_s();
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return 1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid)
		return 1;
	printf("run: %.2f s wall, %.2f s user, %.2f s sys, peak %.1f MB, "
	    "exit %d\n", now_s() - t0, (double)ru.ru_utime.tv_sec +
	    (double)ru.ru_utime.tv_usec / 1e6, (double)ru.ru_stime.tv_sec +
	    (double)ru.ru_stime.tv_usec / 1e6, (double)ru.ru_maxrss / 1024.0,
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int
drain(struct config *cfg, long max)
{
	struct store *st = NULL;
	struct wa_client wa;
	struct outbox ob;
	char err[256];
	size_t sent = 0, left = 0, total = 0;
	double t0, dt;
	int rc = 1;

	if (store_open(&st, cfg) != OV_OK)
		return 1;
	if (wa_client_init(&wa, cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (outbox_init(&ob, cfg, st, &wa, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "%s\n", err);
		wa_client_free(&wa);
		goto out;
	}
	ob.campaign_budget_ms = 0;   /* as jobs/notify drains */
	t0 = now_s();
	do {
		if (outbox_drain(&ob, &sent, &left) != OV_OK)
			break;
		total += sent;
	} while (sent > 0 && left > 0 && (long)total < max);
	dt = now_s() - t0;
	printf("drain: %zu campaign messages in %.2f s = %.1f per second "
	    "(CAMPAIGN_RATE %ld), %zu left\n", total, dt, dt > 0 ?
	    (double)total / dt : 0.0, ob.campaign_rate, left);
	wa_client_free(&wa);
	rc = 0;
out:
	store_close(st);
	return rc;
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	char err[256];
	int rc = 2;

	log_init("bench-notify");
	log_set_level(LOG_ERROR);
	if (argc >= 3 && strcmp(argv[1], "run") == 0)
		return run(argv + 2);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (argc == 4 && strcmp(argv[1], "populate") == 0)
		rc = populate(cfg, strtol(argv[2], NULL, 10),
		    strtol(argv[3], NULL, 10));
	else if (argc == 3 && strcmp(argv[1], "drain") == 0)
		rc = drain(cfg, strtol(argv[2], NULL, 10));
	else
		fprintf(stderr, "usage: bench-notify populate N Q | run JOB... | "
		    "drain MAX\n");
	config_free(cfg);
	return rc;
}
