/*
 * jobs/notify - every 15 minutes from cron: the messages Ovidio starts
 * (quote reminders, follow-ups, back in stock, birthdays, the weekly
 * greeting; see lib/proactive.h for the rules), queued on the outbox's
 * campaign lane with their markers, then sent (CAMPAIGN_RATE per second).
 *
 *   notify [--dry-run] [--queue-only] [--only KIND] [-v]
 *
 * --dry-run lists who would get what and why, and changes nothing;
 * --only KIND (quote_reminder, back_in_stock, balance, birthday,
 * followup, weekly; may be repeated) runs those kinds only;
 * --queue-only commits the messages and leaves sending to the worker's
 * drain (every minute from cron); -v lists
 * what is queued and what is skipped, and why. Ends with one line,
 * "queued N: ...". Exit 0 when all went well, 1 otherwise (errors in the
 * log), 2 for bad usage.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "business.h"
#include "cianbox.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "outbox.h"
#include "proactive.h"
#include "quote.h"
#include "store.h"
#include "whatsapp.h"

#define DRAIN_BUDGET_S 600   /* the next cron run starts after 15 minutes */

static void
usage(void)
{
	fprintf(stderr, "usage: notify [--dry-run] [--queue-only] [--only KIND] "
	    "[-v]\n"
	    "Queues and sends proactive messages. KIND: quote_reminder, "
	    "back_in_stock,\nbalance, birthday, followup, weekly.\n");
}

/* Send what the pass queued (and anything else due), within a budget. */
static void
drain(struct outbox *ob)
{
	time_t start = time(NULL);
	size_t sent, left, total = 0;

	do {
		if (outbox_drain(ob, &sent, &left) != OV_OK)
			break;
		total += sent;
	} while (sent > 0 && left > 0 && time(NULL) - start < DRAIN_BUDGET_S);
	if (total > 0)
		log_info("sent %zu message(s) from the outbox", total);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "only", required_argument, NULL, 'o' },
		{ "queue-only", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct proactive px;
	struct proactive_stats stats;
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct wa_client wa;
	struct outbox ob;
	struct cianbox *cb = NULL;
	struct business *biz = NULL;
	enum proactive_kind k;
	bool only[PX__COUNT] = { false }, dry_run = false, verbose = false;
	bool wa_ready = false, queue_only = false;
	char err[512];
	size_t total = 0;
	int c, rc, status = 1;

	log_init("notify");
	while ((c = getopt_long(argc, argv, "no:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			queue_only = true;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'o':
			if (proactive_kind_parse(optarg, &k) != OV_OK) {
				usage();
				return 2;
			}
			only[k] = true;
			break;
		case 'v':
			verbose = true;
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
	if (!verbose)
		log_set_level_name(config_get(cfg, "OVIDIO_LOG"));
	if (clock_init(cfg, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		goto out;
	}
	quote_use_timezone(cfg);
	if ((rc = store_open(&st, cfg)) != OV_OK)
		goto out;
	/* A dry run needs no WhatsApp: it only reads. */
	if (!dry_run) {
		if (wa_client_init(&wa, cfg, err, sizeof(err)) != OV_OK) {
			log_error("%s", err);
			goto out;
		}
		wa_ready = true;
	}
	if (outbox_init(&ob, cfg, st, wa_ready ? &wa : NULL, err,
	    sizeof(err)) != OV_OK ||
	    proactive_init(&px, cfg, st, &ob, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		goto out;
	}
	/* Balance reminders read invoices from Cianbox and the payment
	 * details from BUSINESS_INFO. */
	if (px.tmpl[PX_BALANCE] != NULL) {
		if (cianbox_open(&cb, cfg, st, err, sizeof(err)) != OV_OK) {
			cb = NULL;
			log_warn("balance reminders: %s", err);
		}
		if (business_load(cfg, &biz, err, sizeof(err)) != OV_OK)
			log_warn("balance reminders: %s", err);
		px.cb = cb;
		px.biz = biz;
	}
	/* This job's drain is for campaigns: no time limit but its own. */
	ob.campaign_budget_ms = 0;
	memcpy(px.only, only, sizeof(only));
	px.dry_run = dry_run;
	px.verbose = verbose;
	px.list = stdout;
	if (!dry_run && store_proactive_recover(st, NULL) != OV_OK)
		log_warn("proactive messages left by a crash not recovered");
	rc = proactive_run(&px, clock_now(), &stats);
	for (int i = 0; i < PX__COUNT; i++)
		total += stats.queued[i];
	printf("%s %zu:", dry_run ? "would queue" : "queued", total);
	for (int i = 0; i < PX__COUNT; i++)
		printf(" %s %zu%s", proactive_kind_name((enum proactive_kind)i),
		    stats.queued[i], i + 1 < PX__COUNT ? "," : "");
	printf("; skipped %zu%s\n", stats.skipped, stats.errors > 0 ?
	    " (with errors, see the log)" : "");
	fflush(stdout);
	if (rc != OV_OK)
		log_error("notify pass stopped: %s", ov_strerror(rc));
	if (!dry_run && !queue_only)
		drain(&ob);
	status = rc == OV_OK && stats.errors == 0 ? 0 : 1;
out:
	if (wa_ready)
		wa_client_free(&wa);
	cianbox_close(cb);
	business_free(biz);
	store_close(st);
	config_free(cfg);
	fflush(stdout);
	return status;
}
