/*
 * jobs/isr-sync - every minute from cron: post the quote events waiting
 * for the distributor's back end (ISR_API_URL + /api/presupuestos; see
 * lib/isr.h). Silent when there is nothing to do or ISR_API_URL is unset;
 * otherwise one line: posted, failed (tried again later), dropped,
 * waiting. Exit 0 when the run went through (failed posts included: they
 * wait in the queue), 1 on a store or configuration error, 2 for usage.
 */
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "isr.h"
#include "log.h"
#include "store.h"

int
main(int argc, char **argv)
{
	struct isr_stats stats;
	struct config *cfg = NULL;
	struct store *st = NULL;
	char err[512];
	int rc, status = 1;

	(void)argv;
	log_init("isr-sync");
	if (argc != 1) {
		fprintf(stderr, "usage: isr-sync\n");
		return 2;
	}
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		return 1;
	}
	log_set_level_name(config_get(cfg, "OVIDIO_LOG"));
	if (config_get(cfg, "ISR_API_URL") == NULL) {
		status = 0;
		goto out;
	}
	if ((rc = store_open(&st, cfg)) != OV_OK)
		goto out;
	/* Scheduling on the real clock, like the queue's times. */
	rc = isr_drain(st, cfg, (int64_t)time(NULL), &stats);
	if (rc != OV_OK) {
		log_error("isr-sync: %s", ov_strerror(rc));
		goto out;
	}
	if (stats.posted + stats.failed + stats.dropped + stats.waiting > 0)
		printf("isr: %zu posted, %zu failed, %zu dropped, %zu waiting\n",
		    stats.posted, stats.failed, stats.dropped, stats.waiting);
	status = 0;
out:
	store_close(st);
	config_free(cfg);
	fflush(stdout);
	return status;
}
