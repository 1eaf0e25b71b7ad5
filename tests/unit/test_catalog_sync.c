/*
 * test_catalog_sync.c - products and clients from the Cianbox stand-in
 * (tests/standins/cianbox_server.py) into the store, as jobs/catalog-sync
 * does: a full sync paging to the end; refusing to wipe the catalog (the
 * stand-in answers with no products, or 40% of them) unless forced; a dry
 * run that writes nothing; the panel when the API fails or is not used;
 * readers that never see half a catalog while a sync runs.
 *
 * Runs against the backend the configuration selects (SQLite in a fresh
 * temporary directory unless MONGODB_URI is set).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "catalog_sync.h"
#include "check.h"
#include "cianbox.h"
#include "cianbox_panel.h"
#include "cianbox_standin.h"
#include "config.h"
#include "customer.h"
#include "err.h"
#include "log.h"
#include "store.h"

#define NPRODUCTS 450        /* 3 fixture items + 447 generated: 3 pages */

static struct standin s;
static struct config *cfg;
static struct store *st;
static struct cianbox *cb;
static struct cianbox_panel *panel;

static int64_t
count(const char *catalog)
{
	int64_t n = -1;

	if (store_catalog_count(st, catalog, &n) != OV_OK)
		return -1;
	return n;
}

static int
sync_products(bool dry_run, bool force, enum catalog_sync_source src,
    struct catalog_sync_report *rep)
{
	struct catalog_sync_opts o;

	memset(&o, 0, sizeof(o));
	o.dry_run = dry_run;
	o.force = force;
	o.source = src;
	o.now = 1764000000;
	return catalog_sync_products(st, cb, panel, &o, rep);
}

static void
control(const char *json)
{
	CHECK_INT(standin_control(&s, json), 0);
}

static void
test_full_sync_pages_to_the_end(void)
{
	struct catalog_sync_report rep;
	struct catalog_product p;
	struct catalog_result r;
	bool found = false;

	control("{\"reset_stats\":true}");
	CHECK_INT(sync_products(false, false, CATALOG_SYNC_AUTO, &rep), OV_OK);
	CHECK_STR(rep.source, "api");
	CHECK_INT(rep.items, NPRODUCTS);
	CHECK_INT(rep.skipped, 0);
	CHECK_INT(rep.pages, 3);
	CHECK(!rep.refused);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	/* Three pages of 200, and not a fourth. */
	CHECK_INT(standin_stat(&s, "requests.GET productos"), 3);
	/* A fixture item, typed, and found by what a customer writes. */
	CHECK_INT(catalog_product_get(st, 10452, &p, &found), OV_OK);
	CHECK(found);
	CHECK_INT(p.neto_cents, 4850);
	CHECK_STR(p.source, "api");
	CHECK_INT(catalog_search(st, "camara domo dahua 4 megapixeles", 5, &r),
	    OV_OK);
	CHECK(r.n > 0 && r.hits[0].p.id == 10452);
	catalog_result_clear(&r);
	/* The last generated item, with its numbers sent as strings. */
	CHECK_INT(catalog_product_get(st, 20000 + NPRODUCTS - 4, &p, &found),
	    OV_OK);
	CHECK(found);
	CHECK(p.neto_cents > 0);
}

static void
test_refuses_an_empty_catalog(void)
{
	struct catalog_sync_report rep;

	control("{\"products\":0}");
	CHECK_INT(sync_products(false, false, CATALOG_SYNC_API, &rep),
	    OV_EINVAL);
	CHECK(rep.refused);
	CHECK_INT(rep.items, 0);
	CHECK(strstr(rep.why, "gave no products") != NULL);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	/* Not even when forced. */
	CHECK_INT(sync_products(false, true, CATALOG_SYNC_API, &rep),
	    OV_EINVAL);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	control("{\"products\":450}");
}

static void
test_refuses_under_half_unless_forced(void)
{
	struct catalog_sync_report rep;
	struct catalog_product p;
	bool found = false;

	control("{\"products\":180}");            /* 40% */
	CHECK_INT(sync_products(false, false, CATALOG_SYNC_AUTO, &rep),
	    OV_EINVAL);
	CHECK(rep.refused);
	CHECK_INT(rep.items, 180);
	CHECK_INT(rep.before, NPRODUCTS);
	CHECK(strstr(rep.why, "--force") != NULL);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	CHECK_INT(catalog_product_get(st, 20400, &p, &found), OV_OK);
	CHECK(found);                             /* the old copy, whole */
	/* The operator means it. */
	CHECK_INT(sync_products(false, true, CATALOG_SYNC_AUTO, &rep), OV_OK);
	CHECK_INT(count(CATALOG_NAME), 180);
	CHECK_INT(catalog_product_get(st, 20400, &p, &found), OV_OK);
	CHECK(!found);
	/* Growing back is fine, and so is half exactly. */
	control("{\"products\":450}");
	CHECK_INT(sync_products(false, false, CATALOG_SYNC_AUTO, &rep), OV_OK);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	control("{\"products\":225}");
	CHECK_INT(sync_products(false, false, CATALOG_SYNC_AUTO, &rep), OV_OK);
	CHECK_INT(count(CATALOG_NAME), 225);
	control("{\"products\":450}");
	CHECK_INT(sync_products(false, false, CATALOG_SYNC_AUTO, &rep), OV_OK);
}

static void
test_dry_run_writes_nothing(void)
{
	struct catalog_sync_report rep;

	control("{\"products\":300}");
	CHECK_INT(sync_products(true, false, CATALOG_SYNC_AUTO, &rep), OV_OK);
	CHECK_INT(rep.items, 300);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	/* It tells what a real run would refuse. */
	control("{\"products\":100}");
	CHECK_INT(sync_products(true, false, CATALOG_SYNC_AUTO, &rep),
	    OV_EINVAL);
	CHECK(rep.refused);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	control("{\"products\":450}");
}

static void
test_panel_when_the_api_fails(void)
{
	struct catalog_sync_report rep;
	struct catalog_product p;
	bool found = false;

	control("{\"fail_next\":1000, \"reset_stats\":true}");
	CHECK_INT(sync_products(false, false, CATALOG_SYNC_AUTO, &rep), OV_OK);
	control("{\"fail_next\":0}");
	CHECK(rep.api_failed);
	CHECK_STR(rep.source, "panel");
	CHECK_INT(rep.items, NPRODUCTS);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	CHECK(standin_stat(&s, "panel_pages") >= 1);
	CHECK_INT(catalog_product_get(st, 10452, &p, &found), OV_OK);
	CHECK(found);
	CHECK_STR(p.source, "panel");
	CHECK_STR(p.codigo, "DH-HAC-HDW1400TP");
	CHECK_INT(p.neto_cents, 4850);
	CHECK_INT(p.iva_tenths, 210);
	CHECK(p.stock == 12);
	/* API only: its failure is the answer, the catalog stays. */
	control("{\"fail_next\":1000}");
	CHECK(sync_products(false, false, CATALOG_SYNC_API, &rep) != OV_OK);
	control("{\"fail_next\":0}");
	CHECK(strstr(rep.why, "API failed") != NULL);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	/* Panel only (the API not enabled for the account): no API call. */
	control("{\"reset_stats\":true}");
	CHECK_INT(sync_products(false, false, CATALOG_SYNC_PANEL, &rep), OV_OK);
	CHECK_STR(rep.source, "panel");
	CHECK_INT(standin_stat(&s, "requests.GET productos"), 0);
	/* Both fail: one line naming both, the catalog stays. */
	control("{\"fail_next\":1000, \"panel_changed\":true}");
	CHECK(sync_products(false, false, CATALOG_SYNC_AUTO, &rep) != OV_OK);
	control("{\"fail_next\":0, \"panel_changed\":false}");
	CHECK(strstr(rep.why, "the API and the Cianbox panel failed") !=
	    NULL);
	CHECK_INT(count(CATALOG_NAME), NPRODUCTS);
	CHECK_INT(sync_products(false, false, CATALOG_SYNC_AUTO, &rep), OV_OK);
	CHECK_STR(rep.source, "api");
}

/* A sync in a child process (its own store and client) while this one
 * reads: every count is the old or the new one, and a known product is
 * always there. */
static void
test_readers_never_see_half(void)
{
	char err[256];
	int64_t seen_other = 0, polls = 0;
	int status = -1;
	bool always_found = true;
	pid_t pid;

	control("{\"products\":900, \"slow_next\":6, \"slow_ms\":250}");
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct config *c2 = NULL;
		struct store *s2 = NULL;
		struct cianbox *cb2 = NULL;
		struct catalog_sync_opts o;
		struct catalog_sync_report rep;
		int rc = 1;

		memset(&o, 0, sizeof(o));
		o.now = 1;
		if (config_load(&c2, err, sizeof(err)) == OV_OK &&
		    store_open(&s2, c2) == OV_OK &&
		    cianbox_open(&cb2, c2, s2, err, sizeof(err)) == OV_OK)
			rc = catalog_sync_products(s2, cb2, NULL, &o, &rep);
		cianbox_close(cb2);
		store_close(s2);
		_exit(rc == OV_OK ? 0 : 1);
	}
	CHECK(pid > 0);
	while (pid > 0 && waitpid(pid, &status, WNOHANG) == 0) {
		struct timespec ts = { 0, 20 * 1000000L };
		struct catalog_product p;
		bool found = false;
		int64_t n = count(CATALOG_NAME);

		polls++;
		if (n != NPRODUCTS && n != 900) {
			fprintf(stderr, "  a reader saw %lld items\n",
			    (long long)n);
			CHECK(!"half a catalog");
		}
		if (n == 900)
			seen_other++;
		if (catalog_product_get(st, 10452, &p, &found) != OV_OK ||
		    !found)
			always_found = false;
		nanosleep(&ts, NULL);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(polls > 20);                  /* it was watched while it ran */
	CHECK(always_found);
	CHECK_INT(count(CATALOG_NAME), 900);
	(void)seen_other;
	control("{\"products\":450}");
}

static void
test_clients(void)
{
	struct catalog_sync_opts o;
	struct catalog_sync_report rep;
	struct cianbox_cliente c;
	bool found = false;

	memset(&o, 0, sizeof(o));
	o.now = 1764000000;
	control("{\"clients\":40}");
	CHECK_INT(catalog_sync_clients(st, cb, &o, &rep), OV_OK);
	CHECK_INT(rep.items, 40);
	CHECK_INT(count(CUSTOMER_CATALOG), 40);
	CHECK_INT(customer_client_by_phone(st, "5493415551234", &c, &found),
	    OV_OK);
	CHECK(found);
	CHECK_INT(c.id, 201);
	CHECK_INT(customer_client_by_cuit(st, "30712345671", &c, &found),
	    OV_OK);
	CHECK(found);
	CHECK_INT(c.id, 203);
	/* Cianbox answering with no clients does not wipe them. */
	control("{\"clients\":0}");
	CHECK_INT(catalog_sync_clients(st, cb, &o, &rep), OV_EINVAL);
	CHECK(rep.refused);
	CHECK_INT(count(CUSTOMER_CATALOG), 40);
	control("{\"clients\":3}");
	CHECK_INT(catalog_sync_clients(st, cb, &o, &rep), OV_EINVAL);
	CHECK_INT(count(CUSTOMER_CATALOG), 40);
	o.force = true;
	CHECK_INT(catalog_sync_clients(st, cb, &o, &rep), OV_OK);
	CHECK_INT(count(CUSTOMER_CATALOG), 3);
	CHECK_INT(catalog_sync_clients(st, NULL, &o, &rep), OV_ECONFIG);
}

int
main(void)
{
	static const char *const extra[] = { "--products", "450", NULL };
	char err[256], data[300], db[64];
	int rc = 1;

	log_init("test_catalog_sync");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (standin_start(&s, extra) != 0)
		return 1;
	snprintf(data, sizeof(data), "%s/data", s.dir);
	mkdir(data, 0700);
	unsetenv("OVIDIO_CONFIG");
	setenv("OVIDIO_DATA_DIR", data, 1);
	snprintf(db, sizeof(db), "ovidio_test_sync_%ld", (long)getpid());
	setenv("MONGODB_DB", db, 1);
	setenv("CIANBOX_URL", s.url, 1);
	setenv("CIANBOX_ACCOUNT", "micuenta", 1);
	setenv("CIANBOX_USER", "ovidio", 1);
	setenv("CIANBOX_PASS", "secreto-de-prueba", 1);
	setenv("CIANBOX_ATTEMPTS", "1", 1);
	setenv("CIANBOX_BACKOFF_MS", "1", 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    store_open(&st, cfg) != OV_OK ||
	    cianbox_open(&cb, cfg, st, err, sizeof(err)) != OV_OK ||
	    cianbox_panel_open(&panel, cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "set-up failed: %s\n", err);
		goto out;
	}
	fprintf(stderr, "backend: %s\n", store_backend(st));
	RUN(test_full_sync_pages_to_the_end);
	RUN(test_refuses_an_empty_catalog);
	RUN(test_refuses_under_half_unless_forced);
	RUN(test_dry_run_writes_nothing);
	RUN(test_panel_when_the_api_fails);
	RUN(test_readers_never_see_half);
	RUN(test_clients);
	rc = check_finish();
out:
	cianbox_panel_close(panel);
	cianbox_close(cb);
	store_close(st);
	config_free(cfg);
	standin_stop(&s);
	curl_global_cleanup();
	return rc;
}
