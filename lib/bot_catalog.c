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
#include "err.h"
#include "log.h"
#include "quote.h"
#include "store.h"

int
bot_product_from_json(const char *json, struct bot_product *out)
{
	struct quote_item item;
	cJSON *doc = NULL;
	double stock = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = quote_item_from_product(json, 1, &item)) != OV_OK)
		return rc == OV_EINVAL ? OV_EPARSE : rc;
	out->id = item.product_id;
	memcpy(out->code, item.code, sizeof(out->code));
	memcpy(out->name, item.name, sizeof(out->name));
	out->cents = item.unit_cents;
	out->iva_tenths = item.iva_tenths;
	if ((doc = cJSON_Parse(json)) == NULL)
		return OV_EPARSE;
	if (cianbox_json_number(cJSON_GetObjectItemCaseSensitive(doc,
	    "stock_total"), &stock) && isfinite(stock) && stock > 0 &&
	    stock < 1e12)
		out->stock = (int64_t)floor(stock);
	cJSON_Delete(doc);
	return OV_OK;
}

int
bot_catalog_get(struct store *st, int64_t id, struct bot_product *out,
    bool *found)
{
	char key[32], *json = NULL;
	int rc;

	*found = false;
	snprintf(key, sizeof(key), "%lld", (long long)id);
	rc = store_catalog_get(st, "productos_cache", key, &json, found);
	if (rc != OV_OK || !*found)
		return rc;
	rc = bot_product_from_json(json, out);
	free(json);
	if (rc != OV_OK) {
		log_warn("product %lld in the catalog cannot be shown: %s",
		    (long long)id, ov_strerror(rc));
		*found = false;
		rc = OV_OK;
	}
	return rc;
}

int
bot_catalog_search(struct store *st, const char *query,
    struct bot_product *out, size_t max, size_t *n)
{
	(void)st;
	(void)query;
	(void)out;
	(void)max;
	*n = 0;
	return OV_OK;
}

int
bot_catalog_similar(struct store *st, const struct bot_product *p,
    const char *query, struct bot_product *out, size_t max, size_t *n)
{
	return bot_catalog_search(st, query != NULL && query[0] != '\0' ?
	    query : p->name, out, max, n);
}

int
bot_catalog_client_by_phone(struct store *st, const char *wa_id,
    struct cianbox_cliente *out, bool *found)
{
	(void)st;
	(void)wa_id;
	(void)out;
	*found = false;
	return OV_OK;
}

int
bot_catalog_client_by_email(struct store *st, const char *email,
    struct cianbox_cliente *out, bool *found)
{
	(void)st;
	(void)email;
	(void)out;
	*found = false;
	return OV_OK;
}
