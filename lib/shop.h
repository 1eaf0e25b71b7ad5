/*
 * shop.h - the distributor's public shop back end as a product source
 * (CIANBOX_SYNC_SOURCE=shop, SHOP_CATALOG_URL; issue 12): the old bot read
 * `…/IDSRBE/Productos/ConsProductos`, a JSON object whose `producto[]`
 * items have producto (name), codigoInterno, marca, precioUSD (net of
 * IVA), precioARS, stockTotal, categoria, imagenes[] and descripcion.
 *
 * Paged or whole: the URL is asked with pagina=1,2,… and cantidad=
 * SHOP_PAGE_SIZE added; the walk ends at a page with fewer items, an
 * empty one, or one that repeats the first (a back end that ignores the
 * parameters and answers whole), and after SHOP_PAGES_MAX pages. Each
 * page is bounded (SHOP_PAGE_MAX_BYTES), parsed, and its items handed
 * over one by one, so the catalog is never held whole.
 *
 * Items become catalog products (source "shop", USD, IVA 21 % unless the
 * item says alicuotaIva/iva 10.5): the id is `id` when the item has a
 * positive one, else codigoInterno when it is all digits, else a stable
 * number made from codigoInterno (so carts and quotes keep pointing at
 * it from one sync to the next). The first image that is an http(s) URL
 * is kept with the product (catalog_product.imagen). An item without a
 * name, code or a sane price is skipped and counted.
 *
 * Ownership: shop_open() returns a client freed by shop_close().
 */
#ifndef OVIDIO_SHOP_H
#define OVIDIO_SHOP_H

#include <stddef.h>
#include <stdint.h>

struct catalog_product;
struct config;
struct shop;

#define SHOP_PAGE_SIZE 500
#define SHOP_PAGES_MAX 1000
#define SHOP_PAGE_MAX_BYTES (16 * 1024 * 1024)

/* OV_ECONFIG (err says why) without a valid SHOP_CATALOG_URL. */
int shop_open(struct shop **out, const struct config *cfg, char *err,
    size_t errlen);
void shop_close(struct shop *s);

typedef int (*shop_product_fn)(void *arg, const struct catalog_product *p);

struct shop_walk_stats {
	size_t pages;
	size_t items;      /* handed to fn */
	size_t skipped;
};

/* Walk every product. OV_EPARSE for a page that is not the expected JSON
 * (nothing after it is read), the transport's errors otherwise; the last
 * error is in shop_last_error(). fn's error stops the walk. */
int shop_productos_each(struct shop *s, int64_t now, shop_product_fn fn,
    void *arg, struct shop_walk_stats *stats);
const char *shop_last_error(const struct shop *s);

/* The product of one shop item (a cJSON object); OV_EINVAL when it cannot
 * be offered. Exposed for tests. */
int shop_item_product(const void *item, int64_t now,
    struct catalog_product *out);

#endif
