/*
 * jobs/purge-quotes - daily from cron: quotes older than QUOTE_TTL_DAYS
 * lose their PDF and their contents, keeping a trace so the link answers
 * 410; PDF files nobody owns that are older than that go too (see
 * lib/quote_purge.h for exactly what goes and what stays). The files
 * customers sent, kept for the salesperson (lib/media_keep.h), go after
 * the same days.
 *
 *   purge-quotes [--dry-run] [-v]
 *
 * --dry-run lists what would go and changes nothing; -v lists what goes.
 * Ends with one line, "purged N quotes, M orphan files, K media files".
 * Exit 0 when all
 * went well, 1 otherwise (errors in the log), 2 for bad usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "fsperm.h"
#include "log.h"
#include "media_keep.h"
#include "quote.h"
#include "quote_purge.h"
#include "store.h"

struct listing {
	bool dry_run;
	bool verbose;
};

static void
list_one(void *ctx, enum quote_purge_event ev, const char *name,
    int64_t number, int64_t when)
{
	const struct listing *l = ctx;
	char date[16];

	if (!l->dry_run && !l->verbose)
		return;
	if (quote_format_date(when, date, sizeof(date)) != OV_OK)
		snprintf(date, sizeof(date), "?");
	if (ev == QUOTE_PURGE_QUOTE)
		printf("%s quote %" PRId64 " %s (created %s)\n",
		    l->dry_run ? "would purge" : "purged", number, name, date);
	else
		printf("%s file %s (modified %s)\n",
		    l->dry_run ? "would remove" : "removed", name, date);
}

static void
usage(void)
{
	fprintf(stderr, "usage: purge-quotes [--dry-run] [-v]\n"
	    "Purges quotes older than QUOTE_TTL_DAYS and their PDFs.\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct listing l = { false, false };
	struct quote_purge_stats stats;
	struct media_keep_conf kc;
	struct config *cfg = NULL;
	struct store *st = NULL;
	const char *dir;
	char err[512];
	size_t media = 0, strays = 0;
	long ttl;
	int c, rc, mrc, status = 1;

	log_init("purge-quotes");
	while ((c = getopt_long(argc, argv, "nvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			l.dry_run = true;
			break;
		case 'v':
			l.verbose = true;
			log_set_level(LOG_DEBUG);
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
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		return 1;
	}
	if (!l.verbose)
		log_set_level_name(config_get(cfg, "OVIDIO_LOG"));
	if (clock_init(cfg, err, sizeof(err)) != OV_OK ||
	    quote_ttl_days(cfg, &ttl, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		goto out;
	}
	quote_use_timezone(cfg);
	dir = config_get(cfg, "PRESUPUESTOS_DIR");
	/* Removing files from a directory another user controls is not
	 * ours to do (and what it holds is not our quotes). */
	rc = fsperm_dir_ok(dir, 1, err, sizeof(err));
	if (rc != OV_OK && rc != OV_ENOTFOUND) {
		log_error("quote directory (PRESUPUESTOS_DIR): %s", err);
		goto out;
	}
	if ((rc = store_open(&st, cfg)) != OV_OK)
		goto out;
	rc = quote_purge(st, dir, clock_now(), ttl, l.dry_run, list_one, &l,
	    &stats);
	mrc = media_keep_config(cfg, &kc, err, sizeof(err));
	if (mrc != OV_OK)
		log_error("%s", err);
	else
		mrc = media_keep_purge(kc.dir, clock_now() - (int64_t)ttl *
		    86400, l.dry_run, &media, &strays);
	printf("%s %zu quotes, %zu orphan files, %zu media files%s\n",
	    l.dry_run ? "would purge" : "purged", stats.quotes, stats.orphans,
	    media + strays, stats.errors > 0 || mrc != OV_OK ?
	    " (with errors, see the log)" : "");
	if (rc != OV_OK)
		log_error("purge incomplete: %zu error(s), first: %s",
		    stats.errors, ov_strerror(rc));
	else if (mrc != OV_OK)
		log_error("media purge incomplete: %s", ov_strerror(mrc));
	else
		status = 0;
out:
	store_close(st);
	config_free(cfg);
	fflush(stdout);
	return status;
}
