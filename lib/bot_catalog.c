/*
 * bot_catalog.c - the catalog as the conversation sees it. See
 * bot_catalog.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bot_catalog.h"
#include "cianbox.h"
#include "catalog.h"
#include "err.h"
#include "log.h"
#include "quote.h"
#include "store.h"

/* The bot's view of a catalog product. */
static void
from_catalog(const struct catalog_product *c, struct bot_product *out)
{
	memset(out, 0, sizeof(*out));
	out->id = c->id;
	cianbox_copy_text(out->code, sizeof(out->code), c->codigo);
	cianbox_copy_text(out->name, sizeof(out->name), c->nombre);
	out->cents = catalog_product_price_cents(c);
	out->iva_tenths = c->iva_tenths;
	out->stock = isfinite(c->stock) && c->stock > 0 && c->stock < 1e12 ?
	    (int64_t)floor(c->stock) : 0;
	snprintf(out->currency, sizeof(out->currency), "%s",
	    strcmp(c->moneda, "ARS") == 0 ? "ARS" : "USD");
}

int
bot_catalog_get(struct store *st, int64_t id, struct bot_product *out,
    bool *found)
{
	struct catalog_product c;
	int rc;

	*found = false;
	if ((rc = catalog_product_get(st, id, &c, found)) != OV_OK || !*found)
		return rc;
	from_catalog(&c, out);
	return OV_OK;
}

static void
take(const struct catalog_result *r, struct bot_product *out, size_t max,
    size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < r->n && *n < max; i++)
		from_catalog(&r->hits[i].p, &out[(*n)++]);
}

int
bot_catalog_search(struct store *st, const char *query,
    struct bot_product *out, size_t max, size_t *n)
{
	struct catalog_result r;
	int rc;

	*n = 0;
	if (max == 0)
		return OV_OK;
	memset(&r, 0, sizeof(r));
	rc = catalog_search(st, query, max < CATALOG_RESULTS_MAX ? max :
	    CATALOG_RESULTS_MAX, &r);
	if (rc == OV_OK) {
		/* Products missing some of the words only when none has all. */
		size_t all = 0;

		for (size_t i = 0; i < r.n; i++)
			if ((size_t)r.hits[i].matched >= r.nwords)
				all++;
		take(&r, out, all > 0 ? (all < max ? all : max) : max, n);
	}
	catalog_result_clear(&r);
	return rc;
}

int
bot_catalog_similar(struct store *st, const struct bot_product *p,
    const char *query, struct bot_product *out, size_t max, size_t *n)
{
	struct catalog_product c;
	struct catalog_result r;
	bool found = false;
	int rc;

	*n = 0;
	memset(&r, 0, sizeof(r));
	if ((rc = catalog_product_get(st, p->id, &c, &found)) != OV_OK)
		return rc;
	if (found) {
		rc = catalog_alternatives(st, &c, max < CATALOG_RESULTS_MAX ?
		    max : CATALOG_RESULTS_MAX, &r);
		if (rc == OV_OK)
			take(&r, out, max, n);
		catalog_result_clear(&r);
		if (rc != OV_OK || *n > 0)
			return rc;
	}
	/* No kind known: what the customer asked for, else the name. */
	return bot_catalog_search(st, query != NULL && query[0] != '\0' ?
	    query : p->name, out, max, n);
}
