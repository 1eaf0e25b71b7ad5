/*
 * test_invoices.c - the kept copy of a customer's latest invoices
 * (lib/invoices): what is kept comes back as Cianbox gave it, one copy
 * per customer, and the policy of when a page asks Cianbox again (a copy
 * too old, for another document, or none; never again right after a
 * failed try).
 *
 * Runs against the backend the configuration selects, like test_store.
 */
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "err.h"
#include "invoices.h"
#include "log.h"
#include "store.h"

#define NOW 1764000000
#define DOC "20284567898"

static struct store *st;

static void
venta(struct cianbox_venta *v, int64_t id, const char *fecha,
    const char *numero, double total)
{
	memset(v, 0, sizeof(*v));
	v->id = id;
	snprintf(v->fecha, sizeof(v->fecha), "%s", fecha);
	snprintf(v->punto_venta, sizeof(v->punto_venta), "0003");
	snprintf(v->numero, sizeof(v->numero), "%s", numero);
	v->total = total;
	v->id_moneda = 2;
	v->vigente = true;
}

static void
test_kept_as_given(void)
{
	struct cianbox_venta v[3];
	struct invoices c;
	bool found = true;

	CHECK_INT(invoices_get(st, 201, &c, &found), OV_OK);
	CHECK(!found);
	venta(&v[0], 88120, "2026-11-03", "00012877", 1843.75);
	v[0].cta_cte = true;
	v[0].has_saldo = true;
	v[0].saldo = 843.75;
	snprintf(v[0].tipo, sizeof(v[0].tipo), "FA");
	venta(&v[1], 87311, "2026-10-15", "00012544", 774.4);
	v[1].id_moneda = 1;
	venta(&v[2], 80001, "2026-06-02", "00010001", 99.9);
	v[2].anulado = true;
	CHECK_INT(invoices_put(st, 201, DOC, v, 3, NOW), OV_OK);
	CHECK_INT(invoices_get(st, 201, &c, &found), OV_OK);
	CHECK(found);
	CHECK_INT(c.fetched_at, NOW);
	CHECK_INT(c.failed_at, 0);
	CHECK_STR(c.documento, DOC);
	CHECK_INT(c.n, 3);
	CHECK_INT(c.v[0].id, 88120);
	CHECK_STR(c.v[0].fecha, "2026-11-03");
	CHECK_STR(c.v[0].tipo, "FA");
	CHECK_STR(c.v[0].punto_venta, "0003");
	CHECK_STR(c.v[0].numero, "00012877");
	CHECK(c.v[0].total > 1843.74 && c.v[0].total < 1843.76);
	CHECK(c.v[0].has_saldo && c.v[0].saldo > 843.74 &&
	    c.v[0].saldo < 843.76);
	CHECK(c.v[0].cta_cte && !c.v[0].anulado);
	CHECK_INT(c.v[0].id_moneda, 2);
	CHECK(!c.v[1].has_saldo && !c.v[1].cta_cte);
	CHECK_INT(c.v[1].id_moneda, 1);
	CHECK(c.v[2].anulado);
	/* Another customer has none. */
	CHECK_INT(invoices_get(st, 202, &c, &found), OV_OK);
	CHECK(!found);
	CHECK_INT(invoices_get(st, 0, &c, &found), OV_EINVAL);
	/* An empty answer is a copy too: "no invoices". */
	CHECK_INT(invoices_put(st, 202, "31222333", NULL, 0, NOW), OV_OK);
	CHECK_INT(invoices_get(st, 202, &c, &found), OV_OK);
	CHECK(found && c.n == 0 && c.fetched_at == NOW);
}

static void
test_at_most_kept(void)
{
	struct cianbox_venta v[INVOICES_MAX + 5];
	struct invoices c;
	bool found = false;
	char num[16];

	for (size_t i = 0; i < INVOICES_MAX + 5; i++) {
		snprintf(num, sizeof(num), "%08zu", i);
		venta(&v[i], (int64_t)(1000 + i), "2026-01-01", num, 1);
	}
	CHECK_INT(invoices_put(st, 205, "30712345671", v, INVOICES_MAX + 5,
	    NOW), OV_OK);
	CHECK_INT(invoices_get(st, 205, &c, &found), OV_OK);
	CHECK_INT(c.n, INVOICES_MAX);
	CHECK_INT(c.v[0].id, 1000);
	CHECK_INT(c.v[INVOICES_MAX - 1].id, 1000 + INVOICES_MAX - 1);
}

static void
test_when_to_ask_again(void)
{
	struct cianbox_venta v[1];
	struct invoices c;
	bool found = false;

	memset(&c, 0, sizeof(c));
	/* None kept: ask. */
	CHECK(invoices_due(&c, false, DOC, NOW));
	CHECK(!invoices_usable(&c, false, DOC));
	venta(&v[0], 1, "2026-11-03", "00000001", 10);
	CHECK_INT(invoices_put(st, 203, DOC, v, 1, NOW), OV_OK);
	CHECK_INT(invoices_get(st, 203, &c, &found), OV_OK);
	CHECK(invoices_usable(&c, found, DOC));
	/* Fresh: shown as kept. */
	CHECK(!invoices_due(&c, found, DOC, NOW + INVOICES_FRESH_S - 1));
	/* Old: ask. */
	CHECK(invoices_due(&c, found, DOC, NOW + INVOICES_FRESH_S));
	/* Another document: neither shown nor trusted. */
	CHECK(!invoices_usable(&c, found, "30712345671"));
	CHECK(invoices_due(&c, found, "30712345671", NOW + 1));
	/* A failed try: the copy stays, no new try for a while. */
	CHECK_INT(invoices_failed(st, 203, NOW + INVOICES_FRESH_S + 5), OV_OK);
	CHECK_INT(invoices_get(st, 203, &c, &found), OV_OK);
	CHECK(found && c.n == 1 && c.fetched_at == NOW);
	CHECK_INT(c.failed_at, NOW + INVOICES_FRESH_S + 5);
	CHECK(invoices_usable(&c, found, DOC));
	CHECK(!invoices_due(&c, found, DOC, NOW + INVOICES_FRESH_S + 10));
	CHECK(invoices_due(&c, found, DOC,
	    NOW + INVOICES_FRESH_S + 5 + INVOICES_RETRY_S));
	/* A failure in the second of the fetch still reads as one. */
	CHECK_INT(invoices_put(st, 203, DOC, v, 1, NOW + 1000), OV_OK);
	CHECK_INT(invoices_failed(st, 203, NOW + 1000), OV_OK);
	CHECK_INT(invoices_get(st, 203, &c, &found), OV_OK);
	CHECK_INT(c.failed_at, NOW + 1000);
	CHECK(!invoices_due(&c, found, DOC, NOW + 1001));
	/* A success clears the failure. */
	CHECK_INT(invoices_put(st, 203, DOC, v, 1, NOW + 2000), OV_OK);
	CHECK_INT(invoices_get(st, 203, &c, &found), OV_OK);
	CHECK_INT(c.failed_at, 0);
	/* Failing with nothing kept: a record that shows nothing and holds
	 * the next try back. */
	CHECK_INT(invoices_failed(st, 204, NOW), OV_OK);
	CHECK_INT(invoices_get(st, 204, &c, &found), OV_OK);
	CHECK(found && c.fetched_at == 0 && c.n == 0);
	CHECK(!invoices_usable(&c, found, DOC));
	CHECK(!invoices_due(&c, found, DOC, NOW + 1));
	CHECK(invoices_due(&c, found, DOC, NOW + INVOICES_RETRY_S));
}

static void
test_unreadable_copy_is_missing(void)
{
	struct invoices c;
	bool found = true;

	CHECK_INT(store_token_put(st, "cianbox_facturas:206", "{no es json",
	    NOW + 100), OV_OK);
	CHECK_INT(invoices_get(st, 206, &c, &found), OV_OK);
	CHECK(!found);
	CHECK_INT(store_token_put(st, "cianbox_facturas:206",
	    "{\"fetched_at\":1,\"items\":{\"a\":1}}", NOW + 100), OV_OK);
	CHECK_INT(invoices_get(st, 206, &c, &found), OV_OK);
	CHECK(!found);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	char tmpdir[] = "/tmp/ovidio-invoices-test-XXXXXX";
	struct config *cfg = NULL;
	char err[256], db[64];
	int rc;

	log_init("test_invoices");
	log_set_level(LOG_ERROR);
	unsetenv("OVIDIO_CONFIG");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
	snprintf(db, sizeof(db), "ovidio_test_invoices_%ld", (long)getpid());
	setenv("MONGODB_DB", db, 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		rc = 1;
		goto out;
	}
	if ((rc = store_open(&st, cfg)) != OV_OK) {
		fprintf(stderr, "cannot open the store: %s\n", ov_strerror(rc));
		rc = 1;
		goto out;
	}
	fprintf(stderr, "backend: %s\n", store_backend(st));
	RUN(test_kept_as_given);
	RUN(test_at_most_kept);
	RUN(test_when_to_ask_again);
	RUN(test_unreadable_copy_is_missing);
	rc = check_finish();
out:
	store_close(st);
	config_free(cfg);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
