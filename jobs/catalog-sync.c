/*
 * jobs/catalog-sync - copy Cianbox's products and clients into the store.
 *
 *   catalog-sync [--products] [--clients] [--dry-run] [--force] [-v]
 *   catalog-sync --requested   (both, only when the inbox asked for it)
 *
 * Without --products or --clients, both. Products come from the API, else
 * from the panel (CIANBOX_SYNC_SOURCE: auto, api, panel), or from the shop
 * back end alone (shop, with SHOP_CATALOG_URL); clients from the API. Each catalog is replaced atomically, and a result that is empty or
 * under half of what the store holds is refused (the old copy stays)
 * unless --force. --dry-run fetches and counts, and writes nothing.
 *
 * Run by cron (apache/crontab: products every 6 hours, clients daily). On
 * a terminal it shows a progress line (pages, items); otherwise it is
 * silent but for one summary line on stdout (items, seconds, source), and
 * on failure one line on stderr saying why, never a secret. Exit status:
 *   0  done                               2  usage
 *   1  refused, failed, or already running 3  configuration
 * Two runs never sync the same catalog at once (a lock per catalog in
 * $OVIDIO_DATA_DIR/locks).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog_sync.h"
#include "cianbox.h"
#include "cianbox_panel.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "status_file.h"
#include "log.h"
#include "shop.h"
#include "store.h"

struct job {
	const struct config *cfg;
	struct store *st;
	struct cianbox *cb;
	struct cianbox_panel *panel;
	struct catalog_sync_opts opts;
	bool tty;
	bool progress_shown;
};

static void
usage(void)
{
	fprintf(stderr, "usage: catalog-sync [--products] [--clients] "
	    "[--dry-run] [--force] [-v]\n"
	    "Copies Cianbox's products (API, else panel) and clients (API) "
	    "into the store.\n"
	    "  --products  only products        --dry-run  fetch and count, "
	    "write nothing\n"
	    "  --clients   only clients         --force    accept an empty or "
	    "much smaller result\n");
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
on_progress(void *arg, const char *what, const char *source, size_t pages,
    size_t items)
{
	struct job *j = arg;

	if (strcmp(source, "panel") == 0)
		fprintf(stderr, "\r%s (panel): %zu items   ", what, items);
	else
		fprintf(stderr, "\r%s (%s): page %zu, %zu items   ", what, source,
		    pages, items);
	fflush(stderr);
	j->progress_shown = true;
}

/* An exclusive lock per catalog, so cron runs never overlap. -1 when
 * another run holds it (or the directory is unusable: errno says). */
static int
lock_catalog(const char *data_dir, const char *what)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%.2000s/locks", data_dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%.2000s/locks/catalog-sync-%s.lock",
	    data_dir, what);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		errno = EWOULDBLOCK;
		return -1;
	}
	return fd;
}

/* Sync one catalog; appends its part of the summary to sum. */
static int
run_one(struct job *j, bool products, char *sum, size_t sumlen)
{
	struct catalog_sync_report rep;
	struct timespec t0;
	const char *what = products ? "products" : "clients";
	size_t used = strlen(sum);
	int fd, rc;

	fd = lock_catalog(config_get(j->cfg, "OVIDIO_DATA_DIR"), what);
	if (fd < 0) {
		if (errno == EWOULDBLOCK)
			log_error("%s: another catalog-sync is running", what);
		else
			log_error("%s: cannot take the lock in %s/locks: %s", what,
			    config_get(j->cfg, "OVIDIO_DATA_DIR"),
			    strerror(errno));
		return OV_EBUSY;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	j->progress_shown = false;
	if (products)
		rc = catalog_sync_products(j->st, j->cb, j->panel, &j->opts,
		    &rep);
	else
		rc = catalog_sync_clients(j->st, j->cb, &j->opts, &rep);
	if (j->progress_shown)
		fputc('\n', stderr);
	close(fd);
	if (rc != OV_OK) {
		log_error("%s%s", j->opts.dry_run ? "dry run: " : "",
		    rep.why[0] != '\0' ? rep.why : ov_strerror(rc));
		return rc;
	}
	if (!j->opts.dry_run) {
		/* inbox: the status page and cgi-bin/health read this. */
		char line[64];

		snprintf(line, sizeof(line), "%zu items from %s", rep.items,
		    rep.source);
		if (status_file_write(j->cfg, products ? "sync-products.last" :
		    "sync-clients.last", (int64_t)time(NULL), line) != OV_OK)
			log_warn("cannot write the %s sync status file", what);
	}
	snprintf(sum + used, sumlen - used, "%s%s: %zu items from %s in %.1f s"
	    " (%zu skipped%s)", used > 0 ? "; " : "", what, rep.items,
	    rep.source, seconds_since(&t0), rep.skipped,
	    rep.api_failed ? ", the API failed" : "");
	return OV_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "products", no_argument, NULL, 'p' },
		{ "clients", no_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "requested", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	struct config *cfg = NULL;
	struct job j;
	bool products = false, clients = false, requested = false;
	char err[512], sum[512] = "";
	int c, rc, status = 1;

	memset(&j, 0, sizeof(j));
	log_init("ovidio-catalog-sync");
	/* Quiet for cron: the summary, or the reason for a failure. */
	if (log_get_level() > LOG_WARN)
		log_set_level(LOG_WARN);
	while ((c = getopt_long(argc, argv, "pcnfvhr", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			products = true;
			break;
		case 'c':
			clients = true;
			break;
		case 'n':
			j.opts.dry_run = true;
			break;
		case 'f':
			j.opts.force = true;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'r':
			requested = true;   /* inbox: only if asked for */
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (!products && !clients)
		products = clients = true;
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		status = 3;
		goto out;
	}
	j.cfg = cfg;
	/* inbox: --requested syncs only when the status page asked for it
	 * (status/sync.request; cron runs it every minute, silently). */
	if (requested) {
		int64_t when;
		bool asked = false;

		if (status_file_read(cfg, "sync.request", &when, NULL, 0,
		    &asked) != OV_OK || !asked) {
			status = 0;
			goto out;
		}
		(void)status_file_remove(cfg, "sync.request");
		log_warn("a catalog sync was asked for from the status page");
	}
	if (catalog_sync_source_parse(config_get(cfg, "CIANBOX_SYNC_SOURCE"),
	    &j.opts.source) != OV_OK) {
		log_error("CIANBOX_SYNC_SOURCE must be auto, api, panel or shop");
		status = 3;
		goto out;
	}
	/* Configuration first: a missing key is named before anything runs.
	 * The shop source needs neither the panel nor, for products alone,
	 * Cianbox. */
	if (j.opts.source == CATALOG_SYNC_SHOP && products &&
	    (rc = shop_open(&j.opts.shop, cfg, err, sizeof(err))) != OV_OK) {
		log_error("%s", err);
		status = rc == OV_ECONFIG ? 3 : 1;
		goto out;
	}
	if (j.opts.source != CATALOG_SYNC_SHOP &&
	    (rc = cianbox_panel_open(&j.panel, cfg, err, sizeof(err))) !=
	    OV_OK) {
		log_error("%s", err);
		status = rc == OV_ECONFIG ? 3 : 1;
		goto out;
	}
	if ((rc = store_open(&j.st, cfg)) != OV_OK) {
		log_error("cannot open the store: %s", ov_strerror(rc));
		goto out;
	}
	if ((j.opts.source != CATALOG_SYNC_SHOP || clients) &&
	    (rc = cianbox_open(&j.cb, cfg, j.st, err, sizeof(err))) != OV_OK) {
		log_error("%s", err);
		status = rc == OV_ECONFIG ? 3 : 1;
		goto out;
	}
	j.opts.now = clock_now();
	j.tty = isatty(STDERR_FILENO) == 1;
	if (j.tty) {
		j.opts.progress = on_progress;
		j.opts.progress_arg = &j;
	}
	status = 0;
	if (products && run_one(&j, true, sum, sizeof(sum)) != OV_OK)
		status = 1;
	if (clients && run_one(&j, false, sum, sizeof(sum)) != OV_OK)
		status = 1;
	if (sum[0] != '\0')
		printf("catalog-sync: %s%s\n", sum,
		    j.opts.dry_run ? " (dry run: nothing written)" : "");
out:
	cianbox_close(j.cb);
	cianbox_panel_close(j.panel);
	shop_close(j.opts.shop);
	store_close(j.st);
	config_free(cfg);
	return status;
}
