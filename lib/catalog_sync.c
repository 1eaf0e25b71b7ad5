/*
 * catalog_sync.c - Cianbox products and clients into the store. See
 * catalog_sync.h.
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "catalog_sync.h"
#include "cianbox.h"
#include "cianbox_panel.h"
#include "customer.h"
#include "err.h"
#include "log.h"
#include "shop.h"
#include "store.h"

struct sync_ctx {
	const struct catalog_sync_opts *opts;
	struct catalog_sync_report *rep;
	struct store_catalog_writer *w;   /* NULL on a dry run */
};

int
catalog_sync_source_parse(const char *s, enum catalog_sync_source *out)
{
	if (s == NULL || strcmp(s, "auto") == 0)
		*out = CATALOG_SYNC_AUTO;
	else if (strcmp(s, "api") == 0)
		*out = CATALOG_SYNC_API;
	else if (strcmp(s, "panel") == 0)
		*out = CATALOG_SYNC_PANEL;
	else if (strcmp(s, "shop") == 0)
		*out = CATALOG_SYNC_SHOP;
	else
		return OV_EINVAL;
	return OV_OK;
}

static void
progress(struct sync_ctx *x)
{
	const struct catalog_sync_opts *o = x->opts;
	struct catalog_sync_report *r = x->rep;

	/* Pages of CIANBOX_PAGE_LIMIT: the walk reports them at its end. */
	if (o->progress != NULL && (r->items + r->skipped) %
	    CIANBOX_PAGE_LIMIT == 0)
		o->progress(o->progress_arg, r->what, r->source,
		    (r->items + r->skipped) / CIANBOX_PAGE_LIMIT, r->items);
}

/* The last word on a walk: its real page count. */
static void
progress_end(struct sync_ctx *x)
{
	const struct catalog_sync_opts *o = x->opts;

	if (o->progress != NULL)
		o->progress(o->progress_arg, x->rep->what, x->rep->source,
		    x->rep->pages, x->rep->items);
}

static int
on_producto(void *arg, const struct cianbox_producto *in)
{
	struct sync_ctx *x = arg;
	struct catalog_product p;
	int rc = OV_OK;

	if (catalog_product_from_cianbox(in, x->opts->now, &p) != OV_OK) {
		x->rep->skipped++;
		log_debug("product %lld skipped: not vigente, unnamed or "
		    "unpriced", (long long)in->id);
	} else if (x->w == NULL || (rc = catalog_put(x->w, &p)) == OV_OK) {
		x->rep->items++;
	}
	if (rc == OV_OK)
		progress(x);
	return rc;
}

static int
on_cliente(void *arg, const struct cianbox_cliente *c)
{
	struct sync_ctx *x = arg;
	int rc = OV_OK;

	if (x->w == NULL ||
	    (rc = customer_client_put(x->w, c, x->opts->now)) == OV_OK)
		x->rep->items++;
	if (rc == OV_OK)
		progress(x);
	return rc;
}

static int
begin(struct store *st, const char *catalog, struct sync_ctx *x)
{
	x->w = NULL;
	if (x->opts->dry_run)
		return OV_OK;
	return store_catalog_begin(st, catalog, &x->w);
}

static void
abort_writer(struct sync_ctx *x)
{
	store_catalog_abort(x->w);
	x->w = NULL;
}

/* The guard, then commit (or, on a dry run, just the verdict). */
static int
finish(struct sync_ctx *x)
{
	struct catalog_sync_report *r = x->rep;
	int rc;

	if (r->items == 0) {
		snprintf(r->why, sizeof(r->why), "%s: Cianbox (%s) gave no "
		    "%s; keeping the %lld in the store", r->what, r->source,
		    r->what, (long long)r->before);
		r->refused = true;
	} else if (!x->opts->force && (int64_t)r->items * 2 < r->before) {
		snprintf(r->why, sizeof(r->why), "%s: refusing to replace %lld "
		    "with %zu (less than half); run with --force to accept",
		    r->what, (long long)r->before, r->items);
		r->refused = true;
	}
	if (r->refused || x->w == NULL) {
		abort_writer(x);
		return r->refused ? OV_EINVAL : OV_OK;
	}
	rc = store_catalog_commit(x->w);
	x->w = NULL;
	if (rc != OV_OK)
		snprintf(r->why, sizeof(r->why), "%s: the store refused the "
		    "new copy (%s); the old one stays", r->what,
		    ov_strerror(rc));
	return rc;
}

static void
report_init(struct catalog_sync_report *r, const char *what)
{
	memset(r, 0, sizeof(*r));
	r->what = what;
}

static int
products_from_api(struct store *st, struct cianbox *cb, struct sync_ctx *x)
{
	struct cianbox_walk_stats stats = { 0, 0, 0 };
	int rc;

	memcpy(x->rep->source, "api", 4);
	if ((rc = begin(st, CATALOG_NAME, x)) != OV_OK)
		return rc;
	rc = cianbox_productos_each(cb, on_producto, x, &stats);
	x->rep->pages = stats.pages;
	x->rep->skipped += stats.skipped;
	if (rc != OV_OK)
		abort_writer(x);
	else
		progress_end(x);
	return rc;
}

static int
products_from_panel(struct store *st, struct cianbox_panel *panel,
    struct sync_ctx *x)
{
	struct cianbox_panel_rows rows = { NULL, 0 };
	struct catalog_product p;
	int rc;

	memcpy(x->rep->source, "panel", 6);
	x->rep->pages = 0;
	x->rep->items = 0;
	x->rep->skipped = 0;
	/* The panel gives its table whole; rows are small (about 700
	 * bytes), and written to the store one by one. */
	if ((rc = cianbox_panel_productos(panel, &rows)) != OV_OK)
		return rc;
	if ((rc = begin(st, CATALOG_NAME, x)) != OV_OK)
		goto out;
	for (size_t i = 0; i < rows.n; i++) {
		if (catalog_product_from_panel(&rows.v[i], x->opts->now, &p) !=
		    OV_OK) {
			x->rep->skipped++;
			continue;
		}
		if (x->w != NULL && (rc = catalog_put(x->w, &p)) != OV_OK) {
			abort_writer(x);
			goto out;
		}
		x->rep->items++;
		progress(x);
	}
	progress_end(x);
out:
	cianbox_panel_rows_free(&rows);
	return rc;
}

static int
on_shop_product(void *arg, const struct catalog_product *p)
{
	struct sync_ctx *x = arg;
	int rc = OV_OK;

	if (x->w == NULL || (rc = catalog_put(x->w, p)) == OV_OK) {
		x->rep->items++;
		if (x->opts->progress != NULL &&
		    x->rep->items % SHOP_PAGE_SIZE == 0)
			x->opts->progress(x->opts->progress_arg, x->rep->what,
			    x->rep->source, x->rep->items / SHOP_PAGE_SIZE,
			    x->rep->items);
	}
	return rc;
}

/* The shop back end, streamed page by page into the same writer, guard
 * and swap as the other sources. */
static int
products_from_shop(struct store *st, struct shop *shop, struct sync_ctx *x)
{
	struct shop_walk_stats stats;
	int rc;

	memcpy(x->rep->source, "shop", 5);
	if ((rc = begin(st, CATALOG_NAME, x)) != OV_OK)
		return rc;
	rc = shop_productos_each(shop, x->opts->now, on_shop_product, x,
	    &stats);
	x->rep->pages = stats.pages;
	x->rep->skipped = stats.skipped;
	if (rc != OV_OK) {
		abort_writer(x);
		snprintf(x->rep->why, sizeof(x->rep->why), "products: the shop "
		    "failed: %s", shop_last_error(shop));
		return rc;
	}
	progress_end(x);
	return finish(x);
}

int
catalog_sync_products(struct store *st, struct cianbox *cb,
    struct cianbox_panel *panel, const struct catalog_sync_opts *opts,
    struct catalog_sync_report *rep)
{
	struct sync_ctx x = { opts, rep, NULL };
	bool use_api, use_panel;
	int rc = OV_ECONFIG;

	report_init(rep, "products");
	if ((rc = store_catalog_count(st, CATALOG_NAME, &rep->before)) !=
	    OV_OK) {
		snprintf(rep->why, sizeof(rep->why), "products: cannot count "
		    "the catalog in the store (%s)", ov_strerror(rc));
		return rc;
	}
	if (opts->source == CATALOG_SYNC_SHOP) {
		if (opts->shop == NULL) {
			snprintf(rep->why, sizeof(rep->why), "products: "
			    "CIANBOX_SYNC_SOURCE=shop needs SHOP_CATALOG_URL");
			return OV_ECONFIG;
		}
		return products_from_shop(st, opts->shop, &x);
	}
	use_api = cb != NULL && opts->source != CATALOG_SYNC_PANEL;
	use_panel = panel != NULL && opts->source != CATALOG_SYNC_API;
	if (use_api) {
		rc = products_from_api(st, cb, &x);
		if (rc == OV_OK)
			return finish(&x);
		snprintf(rep->why, sizeof(rep->why), "products: the Cianbox "
		    "API failed: %s", cianbox_last_error(cb));
		if (!use_panel)
			return rc;
		/* The summary line says it too; under cron that is enough. */
		log_info("%s; trying the panel", rep->why);
		rep->api_failed = true;
	}
	if (!use_panel) {
		snprintf(rep->why, sizeof(rep->why), "products: no source to "
		    "sync from (CIANBOX_SYNC_SOURCE)");
		return OV_ECONFIG;
	}
	rc = products_from_panel(st, panel, &x);
	if (rc == OV_OK)
		return finish(&x);
	snprintf(rep->why, sizeof(rep->why), "products: %sthe Cianbox panel "
	    "failed: %s", rep->api_failed ? "the API and " : "",
	    cianbox_panel_last_error(panel));
	return rc;
}

int
catalog_sync_clients(struct store *st, struct cianbox *cb,
    const struct catalog_sync_opts *opts, struct catalog_sync_report *rep)
{
	struct sync_ctx x = { opts, rep, NULL };
	struct cianbox_walk_stats stats = { 0, 0, 0 };
	int rc;

	report_init(rep, "clients");
	if ((rc = store_catalog_count(st, CUSTOMER_CATALOG, &rep->before)) !=
	    OV_OK) {
		snprintf(rep->why, sizeof(rep->why), "clients: cannot count "
		    "them in the store (%s)", ov_strerror(rc));
		return rc;
	}
	if (cb == NULL) {
		snprintf(rep->why, sizeof(rep->why), "clients: they come from "
		    "the Cianbox API only");
		return OV_ECONFIG;
	}
	memcpy(rep->source, "api", 4);
	if ((rc = begin(st, CUSTOMER_CATALOG, &x)) != OV_OK)
		return rc;
	rc = cianbox_clientes_each(cb, on_cliente, &x, &stats);
	rep->pages = stats.pages;
	rep->skipped = stats.skipped;
	if (rc != OV_OK) {
		abort_writer(&x);
		snprintf(rep->why, sizeof(rep->why), "clients: the Cianbox API "
		    "failed: %s", cianbox_last_error(cb));
		return rc;
	}
	progress_end(&x);
	return finish(&x);
}
