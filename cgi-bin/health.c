/*
 * health - for uptime monitors (CGI; DESIGN.md section 6). No
 * authentication and no customer data: only ages, in seconds.
 *
 *   GET /cgi-bin/health
 *   200 {"status":"ok","worker_age_s":N,"sync_age_s":N,"spool_oldest_s":N}
 *   503 {"status":"failing","failing":["worker",...],...}
 *
 * Checks (limits from the configuration, seconds):
 *   worker  the worker's last run (status/worker.last), HEALTH_WORKER_MAX_S
 *           (default 300: cron starts it every minute);
 *   sync    the last good products sync (status/sync-products.last),
 *           HEALTH_SYNC_MAX_S (default 93600: 6-hourly syncs, a day of
 *           slack);
 *   spool   the oldest file waiting in spool/new or spool/cur,
 *           HEALTH_SPOOL_MAX_S (default 300).
 * A check never run (no status file) fails, with age -1. Reads files
 * only: no store, so a locked database does not hang a monitor.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgi.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "status_file.h"
#include "log.h"

/* Age of the oldest file in dir (-1: none). */
static int64_t
oldest(const char *dir, int64_t now)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat sb;
	int64_t old = -1;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), e->d_name, &sb, 0) == 0 &&
		    S_ISREG(sb.st_mode) && now - (int64_t)sb.st_mtime > old)
			old = now - (int64_t)sb.st_mtime;
	}
	closedir(d);
	return old < 0 ? -1 : old;
}

static int64_t
status_age(const struct config *cfg, const char *name, int64_t now)
{
	int64_t when = 0;
	bool found = false;

	if (status_file_read(cfg, name, &when, NULL, 0, &found) != OV_OK ||
	    !found)
		return -1;
	return now - when < 0 ? 0 : now - when;
}

/* Add a check's name to the JSON list in buf. */
static void
fail(char *buf, size_t len, const char *name)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s\"%s\"", used > 0 ? "," : "",
	    name);
}

static void
respond(int status, const char *json)
{
	static const struct cgi_header hd[] = {
		{ "Content-Security-Policy", "default-src 'none'" },
	};

	if (cgi_respond(stdout, status, "application/json", hd, 1, json,
	    strlen(json)) != OV_OK)
		log_error("health: cannot write the response");
}

int
main(void)
{
	struct config *cfg = NULL;
	const char *data;
	char err[256], dir[1100], json[512], failing[96] = "";
	long max_worker = 300, max_sync = 93600, max_spool = 300;
	int64_t now, worker, sync, spool, a;
	enum cgi_method m = cgi_method();

	log_init("health");
	cgi_drain_body(STDIN_FILENO, 64 * 1024);
	if (m != CGI_METHOD_GET && m != CGI_METHOD_HEAD) {
		respond(405, "{\"status\":\"method not allowed\"}\n");
		return 0;
	}
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg, err, sizeof(err)) != OV_OK ||
	    config_get_long(cfg, "HEALTH_WORKER_MAX_S", 300, 1, 864000,
	    &max_worker, err, sizeof(err)) != OV_OK ||
	    config_get_long(cfg, "HEALTH_SYNC_MAX_S", 93600, 1, 8640000,
	    &max_sync, err, sizeof(err)) != OV_OK ||
	    config_get_long(cfg, "HEALTH_SPOOL_MAX_S", 300, 1, 864000,
	    &max_spool, err, sizeof(err)) != OV_OK) {
		log_error("health: %s", err);
		respond(503, "{\"status\":\"failing\",\"failing\":"
		    "[\"config\"]}\n");
		config_free(cfg);
		return 0;
	}
	now = clock_now();
	data = config_get(cfg, "OVIDIO_DATA_DIR");
	worker = status_age(cfg, "worker.last", now);
	sync = status_age(cfg, "sync-products.last", now);
	snprintf(dir, sizeof(dir), "%s/spool/new", data != NULL ? data : ".");
	spool = oldest(dir, now);
	snprintf(dir, sizeof(dir), "%s/spool/cur", data != NULL ? data : ".");
	if ((a = oldest(dir, now)) > spool)
		spool = a;
	if (worker < 0 || worker > max_worker)
		fail(failing, sizeof(failing), "worker");
	if (sync < 0 || sync > max_sync)
		fail(failing, sizeof(failing), "sync");
	if (spool > max_spool)
		fail(failing, sizeof(failing), "spool");
	snprintf(json, sizeof(json), "{\"status\":\"%s\",\"failing\":[%s],"
	    "\"worker_age_s\":%lld,\"sync_age_s\":%lld,"
	    "\"spool_oldest_s\":%lld}\n", failing[0] ? "failing" : "ok",
	    failing, (long long)worker, (long long)sync, (long long)spool);
	respond(failing[0] ? 503 : 200, json);
	config_free(cfg);
	return 0;
}
