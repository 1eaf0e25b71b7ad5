/*
 * catalog.h - the synced product catalog (productos_cache): its documents,
 * typed access, product search and alternatives, on either store backend.
 *
 * Documents. One JSON object per product, key = the Cianbox id in
 * decimal. Fields keep Cianbox's names where Cianbox has them, so a
 * document reads like the API's item (lib/quote reads id, codigo_interno,
 * producto, precio_neto, oferta, precio_oferta, alicuota_iva):
 *   id               number, > 0
 *   codigo_interno   the seller's code ("DH-HAC-HDW1400TP")
 *   codigo_barras, producto (the name), descripcion, marca, categoria
 *   precio_neto      number, in moneda, net of IVA, rounded to cents
 *   precio_final     number, with IVA
 *   oferta, precio_oferta
 *   alicuota_iva     number, percent: 21 or 10.5
 *   stock_total      number (may be fractional: cable by the metre)
 *   moneda           "USD" or "ARS"
 *   updated          Cianbox's last change, "2026-11-20 08:15:00" or ""
 * and Ovidio's own:
 *   tipo             product type by catalog_words.def ("domo"), or ""
 *   resolucion_mp    highest resolution named, megapixels, or 0
 *   source           "api" or "panel": where this copy came from
 *   synced_at        Unix seconds of the sync
 * Nobody outside lib/catalog needs to parse them: use struct
 * catalog_product.
 *
 * Search: see catalog_search() and catalog_text.h for what matches what.
 *
 * Ownership: a struct catalog_product is plain data (fixed buffers,
 * nothing to free). catalog_result holds a malloc'd array released with
 * catalog_result_clear(). JSON from catalog_product_to_json() is malloc'd;
 * the caller frees it.
 */
#ifndef OVIDIO_CATALOG_H
#define OVIDIO_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog_text.h"

struct cJSON;
struct store;
struct store_catalog_writer;
struct cianbox_producto;
struct cianbox_panel_row;

#define CATALOG_NAME "productos_cache"
#define CATALOG_RESULTS_MAX 50       /* most hits one search returns */
#define CATALOG_PRICE_MAX_CENTS ((int64_t)1000000000000) /* 10^10 units */

struct catalog_product {
	int64_t id;
	char codigo[96];
	char codigo_barras[64];
	char nombre[256];
	char descripcion[1024];
	char marca[96];
	char categoria[128];
	int64_t neto_cents;          /* unit price net of IVA, in moneda */
	int64_t final_cents;         /* with IVA */
	bool oferta;
	int64_t oferta_cents;        /* net offer price while oferta, else 0 */
	int iva_tenths;              /* 210 or 105 */
	double stock;
	char moneda[4];              /* "USD", "ARS" */
	char updated[24];
	char tipo[CATALOG_TYPE_MAX];
	int resolucion_mp;
	char source[8];              /* "api", "panel", "shop" */
	int64_t synced_at;
	char imagen[512];            /* first photo's http(s) link, or "" */
};

/* The price a customer pays now, net of IVA: the offer's while one runs. */
int64_t catalog_product_price_cents(const struct catalog_product *p);
bool catalog_product_in_stock(const struct catalog_product *p);

/* From an API item: the price list's neto and final (lib/cianbox picks the
 * list), currency by Cianbox's id_moneda (1 pesos, 2 dollars; unknown is
 * taken as dollars, the distributor's list currency), IVA 21 or 10.5.
 * OV_EINVAL for an item Ovidio cannot offer: no id, no name, not vigente,
 * a negative or absurd price, or an IVA rate other than 21 / 10.5 (0 when
 * both prices are 0 is taken as 21). now becomes synced_at. */
int catalog_product_from_cianbox(const struct cianbox_producto *in,
    int64_t now, struct catalog_product *out);

/* From a row of the panel's product table (source "panel"). The row's
 * Descripción is the name; rows without an id cannot be keyed: OV_EINVAL. */
int catalog_product_from_panel(const struct cianbox_panel_row *in,
    int64_t now, struct catalog_product *out);

/* The document (see above). *json malloc'd. Computes tipo and
 * resolucion_mp when p leaves them empty. */
int catalog_product_to_json(const struct catalog_product *p, char **json);

/* Read a document. OV_EPARSE when it is not one (no id or no name). */
int catalog_product_from_json(const char *json, struct catalog_product *out);

/* One product by Cianbox id. *found false (and OV_OK) when absent. */
int catalog_product_get(struct store *st, int64_t id,
    struct catalog_product *out, bool *found);

/*
 * Add a product to a sync's writer (store_catalog_begin(st, CATALOG_NAME,
 * ...)): its document, its search tokens, a lookup key "codigo:<code
 * folded, without separators>", and its rank (in stock first).
 */
int catalog_put(struct store_catalog_writer *w, const struct catalog_product *p);

struct catalog_hit {
	struct catalog_product p;
	int matched;                 /* query words this product holds */
	int relevance;               /* the weight of those words in it */
};

struct catalog_result {
	size_t nwords;               /* words the query searched for */
	struct catalog_hit *hits;    /* n of them, best first */
	size_t n;
};

/*
 * Products for a customer's words (WhatsApp text, bounded by
 * CATALOG_QUERY_MAX), at most limit (1..CATALOG_RESULTS_MAX). Order:
 * products holding all the words first, then those holding fewest words
 * missing; within that, in stock before out of stock; then relevance (a
 * word in the code or name counts more than in the description, a whole
 * word more than a fragment). Words the catalog does not know at all are
 * left out of the "all" (hits[i].matched < nwords tells the caller).
 * Relevance orders the best few dozen candidates the store gives in its
 * order (in stock, then as synced), not the whole catalog.
 * A query with nothing searchable gives n == 0 and OV_OK.
 */
int catalog_search(struct store *st, const char *query, size_t limit,
    struct catalog_result *out);

/*
 * Alternatives to p (typically out of stock): in stock, the same tipo,
 * p itself left out; the same brand and at least p's resolution first,
 * then at least p's resolution, then the same brand, then the rest. None
 * when p has no tipo. At most limit (1..CATALOG_RESULTS_MAX).
 */
int catalog_alternatives(struct store *st, const struct catalog_product *p,
    size_t limit, struct catalog_result *out);

void catalog_result_clear(struct catalog_result *r);

/* Fields of a stored catalog document (products here, clients in
 * lib/customer): a string cleaned and bounded into dst ("" when absent or
 * not a string); a finite number, or 0. */
/* Parse a stored document that must be an object with a whole "id" >= 1.
 * *doc is the parsed object (free with cJSON_Delete), NULL on error.
 * OV_EINVAL for NULL json, OV_EPARSE otherwise. */
int catalog_doc_parse(const char *json, struct cJSON **doc, int64_t *id);
void catalog_doc_text(const struct cJSON *o, const char *key, char *dst,
    size_t n);
double catalog_doc_num(const struct cJSON *o, const char *key);

#endif
