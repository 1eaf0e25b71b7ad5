/*
 * bot_catalog.h - what the conversation needs from the synced catalog and
 * clients, in its own terms: a product as the bot shows it (name, code,
 * price in cents, IVA, stock), product search and alternatives, and
 * A thin layer over lib/catalog.
 *
 * Prices are what the customer pays now (the offer's while one runs),
 * stock in whole units.
 *
 * Pure lookups on caller storage: nothing to free.
 */
#ifndef OVIDIO_BOT_CATALOG_H
#define OVIDIO_BOT_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quote.h"

struct store;

struct bot_product {
	int64_t id;
	char code[QUOTE_CODE_MAX + 1];
	char name[QUOTE_ITEM_NAME_MAX + 1];
	int64_t cents;            /* unit price net of IVA, USD cents */
	int iva_tenths;           /* 210 or 105 */
	int64_t stock;            /* whole units; <= 0: none */
	char currency[4];         /* "USD" or "ARS" */
};

/* One product by Cianbox id. *found false (OV_OK) when absent. */
int bot_catalog_get(struct store *st, int64_t id, struct bot_product *out,
    bool *found);

/* Products matching a customer's query, best first and in stock before
 * out of stock, at most max. */
int bot_catalog_search(struct store *st, const char *query,
    struct bot_product *out, size_t max, size_t *n);

/* Products like p (same kind: the customer's query when given, else p's
 * name), p itself included when found; the caller filters by stock. */
int bot_catalog_similar(struct store *st, const struct bot_product *p,
    const char *query, struct bot_product *out, size_t max, size_t *n);

#endif
