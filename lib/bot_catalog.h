/*
 * bot_catalog.h - what the conversation needs from the synced catalog and
 * clients, in its own terms: a product as the bot shows it (name, code,
 * price in cents, IVA, stock), product search and alternatives, and
 * customers by phone or e-mail. A thin layer over lib/catalog and the
 * store, so lib/bot knows no catalog JSON.
 *
 * Products come from productos_cache (key: the Cianbox id in decimal):
 * price and IVA read as lib/quote reads them (quote_item_from_product:
 * the offer price while an offer runs), stock from stock_total.
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
struct cianbox_cliente;

struct bot_product {
	int64_t id;
	char code[QUOTE_CODE_MAX + 1];
	char name[QUOTE_ITEM_NAME_MAX + 1];
	int64_t cents;            /* unit price net of IVA, USD cents */
	int iva_tenths;           /* 210 or 105 */
	int64_t stock;            /* whole units; <= 0: none */
};

/* A product document (productos_cache JSON) as the bot shows it.
 * OV_EPARSE when it lacks a name, a price or an IVA rate. */
int bot_product_from_json(const char *json, struct bot_product *out);

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

/* The synced client whose phone is the sender's WhatsApp number, or
 * with this e-mail. *found false (OV_OK) when none. */
int bot_catalog_client_by_phone(struct store *st, const char *wa_id,
    struct cianbox_cliente *out, bool *found);
int bot_catalog_client_by_email(struct store *st, const char *email,
    struct cianbox_cliente *out, bool *found);

#endif
