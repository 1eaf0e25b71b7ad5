/*
 * jobs/cianbox-token - keep a valid Cianbox access token in the store.
 *
 * Run by cron every 30 minutes (apache/crontab). Renews the shared token
 * (lib/cianbox.h: refresh, or a fresh login when the refresh token is
 * refused) when less than two hours are left, so CGIs and the worker
 * rarely have to. Exit 0 when a valid token is in the store; otherwise
 * one line on stderr saying why (a missing configuration key, Cianbox's
 * own refusal, no answer), never a secret:
 *   1  no valid token could be had      3  configuration
 *   2  usage
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cianbox.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "store.h"

#define MIN_LEFT (2 * 3600)   /* renew when less than this is left */

static void
usage(void)
{
	fprintf(stderr, "usage: cianbox-token [-v]\n"
	    "Makes sure a Cianbox access token with at least two hours left "
	    "is in the store.\n");
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct cianbox *cb = NULL;
	enum cianbox_token_action did;
	int64_t expires_at = 0;
	char err[512];
	int c, rc, status = 1;

	log_init("ovidio-cianbox-token");
	/* Quiet for cron: only the reason for a failure, unless -v. */
	if (log_get_level() > LOG_WARN)
		log_set_level(LOG_WARN);
	while ((c = getopt(argc, argv, "vh")) != -1) {
		switch (c) {
		case 'v':
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
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		status = 3;
		goto out;
	}
	/* Configuration first: a missing key is named before anything runs. */
	if ((rc = cianbox_open(&cb, cfg, NULL, err, sizeof(err))) != OV_OK) {
		log_error("%s", err);
		status = rc == OV_ECONFIG ? 3 : 1;
		goto out;
	}
	cianbox_close(cb);
	cb = NULL;
	if ((rc = store_open(&st, cfg)) != OV_OK) {
		log_error("cannot open the store: %s", ov_strerror(rc));
		goto out;
	}
	if ((rc = cianbox_open(&cb, cfg, st, err, sizeof(err))) != OV_OK) {
		log_error("%s", err);
		goto out;
	}
	rc = cianbox_token_ensure(cb, MIN_LEFT, &did, &expires_at);
	if (rc != OV_OK) {
		const char *why = cianbox_last_error(cb);

		log_error("no valid Cianbox token: %s",
		    why[0] != '\0' ? why : ov_strerror(rc));
		goto out;
	}
	log_debug("Cianbox token %s, valid for %lld more minutes",
	    cianbox_token_action_name(did),
	    (long long)(expires_at - (int64_t)time(NULL)) / 60);
	status = 0;
out:
	cianbox_close(cb);
	store_close(st);
	config_free(cfg);
	return status;
}
