/*
 * jobs/import-legacy - move an old bot's MongoDB `ovidio_db` over, in
 * place (issue 12; see lib/legacy_import.h for what becomes what).
 *
 *   import-legacy [--dry-run] [-q]
 *
 * Uses MONGODB_URI and MONGODB_DB like every program. Prints one line per
 * thing merged, unlinked or skipped (with the reason; -q leaves those
 * out), then a summary. Safe to run again: a second run changes nothing.
 * --dry-run reads everything and writes nothing. Exit 0 when all went
 * well, 1 otherwise (errors in the log), 2 for bad usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "legacy.h"
#include "legacy_import.h"
#include "log.h"
#include "quote.h"
#include "store.h"

static void
print_line(void *ctx, const char *line)
{
	if (*(const bool *)ctx)
		return;
	printf("%s\n", line);
}

static void
usage(void)
{
	fprintf(stderr, "usage: import-legacy [--dry-run] [-q]\n"
	    "Converts the old bot's MongoDB ovidio_db (MONGODB_URI, MONGODB_DB)"
	    " in place.\n");
}

static void
summary(const struct legacy_import_stats *s, bool dry_run)
{
	const char *w = dry_run ? "would be " : "";

	printf("customers: %zu from %zu documents; %zu %snew, %zu %supdated, "
	    "%zu profiles %swritten\n", s->customers, s->documents,
	    s->customers_new, w, s->customers_updated, w, s->profiles, w);
	printf("cianbox links: %zu kept, %zu dropped (phone does not match), "
	    "%zu not checked (customer not synced)\n", s->links_kept,
	    s->links_dropped, s->links_unchecked);
	if (dry_run)
		printf("messages: %zu in the old history (already imported ones "
		    "would be left alone), %zu entries without text\n",
		    s->messages_read, s->entries_dropped);
	else
		printf("messages: %zu added of %zu in the old history, %zu "
		    "entries without text\n", s->messages_added,
		    s->messages_read, s->entries_dropped);
	printf("quotes: %zu %sadded, %zu imported before, of %zu; highest "
	    "number %" PRId64 "%s\n", s->quotes_added, w, s->quotes_present,
	    s->quotes_read, s->highest_number,
	    s->counter_raised ? " (counter raised)" : "");
	printf("skipped: %zu documents\n", s->skipped);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct legacy_import_stats stats;
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct legacy *lg = NULL;
	bool dry_run = false, quiet = false;
	char err[512];
	int c, rc, status = 1;

	log_init("import-legacy");
	while ((c = getopt_long(argc, argv, "nqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			dry_run = true;
			break;
		case 'q':
			quiet = true;
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
	log_set_level_name(config_get(cfg, "OVIDIO_LOG"));
	if (clock_init(cfg, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		goto out;
	}
	quote_use_timezone(cfg);
	if (config_get(cfg, "MONGODB_URI") == NULL) {
		log_error("MONGODB_URI is not set: the old bot's database is "
		    "MongoDB, and the import writes beside it");
		goto out;
	}
	if ((rc = legacy_open(&lg, cfg)) != OV_OK) {
		log_error("cannot read the old database: %s", ov_strerror(rc));
		goto out;
	}
	if ((rc = store_open(&st, cfg)) != OV_OK) {
		log_error("cannot open the store: %s", ov_strerror(rc));
		goto out;
	}
	rc = legacy_import(st, lg, dry_run, print_line, &quiet, &stats);
	summary(&stats, dry_run);
	if (rc != OV_OK)
		log_error("import stopped: %s (run it again: what is done "
		    "stays done)", ov_strerror(rc));
	else
		status = 0;
out:
	store_close(st);
	legacy_close(lg);
	config_free(cfg);
	fflush(stdout);
	return status;
}
