/*
 * jobs/quote-tool - look at a quote, or make its PDF again, by hand.
 *
 *   quote-tool show ID      the quote as text: number, state, dates,
 *                           customer, items and totals
 *   quote-tool render ID    write PRESUPUESTOS_DIR/ID.pdf again from the
 *                           store (a lost file, a new logo); prints the path
 *
 * ID is the quote's UUID, as in its link. A purged quote has nothing left
 * to show or render (exit 1). Exit 2 for bad usage.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "quote.h"
#include "quote_file.h"
#include "quote_pdf.h"
#include "store.h"
#include "uuid.h"

static void
usage(void)
{
	fprintf(stderr, "usage: quote-tool show ID\n"
	    "       quote-tool render ID\n");
}

static void
show(const struct quote *q)
{
	char a[32], b[32], c[32];

	quote_format_date(q->created_at, a, sizeof(a));
	quote_format_date(q->expires_at, b, sizeof(b));
	printf("quote %" PRId64 " %s\nstate: %s\ncreated: %s\nvalid until: %s\n",
	    q->number, q->id, quote_state_name(q->state), a, b);
	if (q->purged) {
		printf("(purged: only this trace is left)\n");
		return;
	}
	printf("customer: %s\ncuit: %s\nphone: %s\nwhatsapp: %s\n",
	    q->customer.name, q->customer.cuit, q->customer.phone, q->wa_id);
	for (size_t i = 0; i < q->nitems; i++) {
		const struct quote_item *it = &q->items[i];

		quote_format_cents(it->unit_cents, a, sizeof(a));
		quote_format_rate(it->iva_tenths, b, sizeof(b));
		quote_format_cents(it->subtotal_cents, c, sizeof(c));
		printf("  %s | %s | %" PRId64 " x u$s %s | IVA %s %% | u$s %s\n",
		    it->code, it->name, it->quantity, a, b, c);
	}
	quote_format_cents(q->subtotal_cents, a, sizeof(a));
	printf("subtotal: u$s %s\n", a);
	quote_format_cents(q->iva21_cents, a, sizeof(a));
	quote_format_cents(q->iva105_cents, b, sizeof(b));
	printf("IVA 21 %%: u$s %s\nIVA 10,5 %%: u$s %s\n", a, b);
	quote_format_cents(q->total_cents, a, sizeof(a));
	printf("total: u$s %s\n", a);
	if (q->usd_rate_cents > 0) {
		quote_format_cents(q->total_ars_cents, a, sizeof(a));
		quote_format_cents(q->usd_rate_cents, b, sizeof(b));
		printf("in pesos: $ %s (u$s 1 = $ %s)\n", a, b);
	}
}

static int
render(const struct config *cfg, const struct quote *q)
{
	struct quote_pdf_brand *b = NULL;
	const char *dir = config_get(cfg, "PRESUPUESTOS_DIR");
	char path[QUOTE_PATH_MAX];
	int rc;

	if (q->purged) {
		log_error("quote %" PRId64 " was purged: nothing to render",
		    q->number);
		return OV_ENOTFOUND;
	}
	if (quote_is_expired(q, clock_now()))
		log_warn("quote %" PRId64 " has expired; rendering it anyway",
		    q->number);
	if ((rc = quote_pdf_brand_load(cfg, &b)) != OV_OK)
		return rc;
	rc = quote_pdf_save(q, b, dir);
	quote_pdf_brand_free(b);
	if (rc != OV_OK) {
		log_error("quote %" PRId64 ": cannot write its PDF: %s",
		    q->number, ov_strerror(rc));
		return rc;
	}
	if (quote_file_path(dir, q->id, path, sizeof(path)) == OV_OK)
		printf("%s\n", path);
	return OV_OK;
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct quote q;
	bool found = false;
	char err[512];
	int rc, status = 1;

	log_init("quote-tool");
	quote_init(&q);
	if (argc != 3 || (strcmp(argv[1], "show") != 0 &&
	    strcmp(argv[1], "render") != 0)) {
		usage();
		return 2;
	}
	if (!uuid_v4_valid(argv[2])) {
		fprintf(stderr, "quote-tool: %s is not a quote id (a UUID such "
		    "as 3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f)\n", argv[2]);
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
	if ((rc = store_open(&st, cfg)) != OV_OK)
		goto out;
	if ((rc = quote_load(st, argv[2], &q, &found)) != OV_OK) {
		log_error("quote %s: %s", argv[2], ov_strerror(rc));
		goto out;
	}
	if (!found) {
		log_error("no quote %s", argv[2]);
		goto out;
	}
	if (strcmp(argv[1], "show") == 0) {
		show(&q);
		status = 0;
	} else if (render(cfg, &q) == OV_OK) {
		status = 0;
	}
out:
	quote_clear(&q);
	store_close(st);
	config_free(cfg);
	return status;
}
