/*
 * shop.c - products from the shop back end (see shop.h), through the one
 * HTTP transport (cianbox_http: time-outs, byte cap, retries).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "catalog_text.h"
#include "cianbox_http.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "shop.h"

struct shop {
	struct cianbox_http *http;
	char url[1024];
	char err[256];
};

int
shop_open(struct shop **out, const struct config *cfg, char *err,
    size_t errlen)
{
	const char *url = config_get(cfg, "SHOP_CATALOG_URL");
	struct cianbox_http_opts ho;
	struct shop *s;
	int rc;

	*out = NULL;
	if (url == NULL || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) || strlen(url) > 900 ||
	    strpbrk(url, " \t\r\n#") != NULL) {
		snprintf(err, errlen, "SHOP_CATALOG_URL must be an http(s) URL "
		    "(CIANBOX_SYNC_SOURCE=shop)");
		return OV_ECONFIG;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return OV_ENOMEM;
	snprintf(s->url, sizeof(s->url), "%s", url);
	memset(&ho, 0, sizeof(ho));
	ho.connect_timeout_ms = 5000;
	ho.timeout_ms = 60000;
	ho.max_bytes = SHOP_PAGE_MAX_BYTES;
	ho.attempts = 3;
	ho.backoff_ms = 500;
	ho.max_redirs = 2;
	if ((rc = cianbox_http_open(&s->http, &ho)) != OV_OK) {
		snprintf(err, errlen, "cannot set up HTTP for the shop: %s",
		    ov_strerror(rc));
		free(s);
		return rc;
	}
	*out = s;
	return OV_OK;
}

void
shop_close(struct shop *s)
{
	if (s == NULL)
		return;
	cianbox_http_close(s->http);
	free(s);
}

const char *
shop_last_error(const struct shop *s)
{
	return s != NULL ? s->err : "";
}

/* ---- items --------------------------------------------------------------- */

static const char *
text_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A number, or its text with ',' or '.' decimals; NAN when neither. */
static double
num_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	char buf[48], *end;
	double d;

	if (cJSON_IsNumber(v))
		return isfinite(v->valuedouble) ? v->valuedouble : NAN;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof(buf))
		return NAN;
	snprintf(buf, sizeof(buf), "%s", v->valuestring);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == ',')
			*p = '.';
	d = strtod(buf, &end);
	return end != buf && *end == '\0' && isfinite(d) ? d : NAN;
}

static bool
cents(double d, int64_t *out)
{
	if (isnan(d) || d < 0 || d * 100.0 > (double)CATALOG_PRICE_MAX_CENTS)
		return false;
	*out = (int64_t)floor(d * 100.0 + 0.5);
	return true;
}

/* An image link fit to hand to WhatsApp: http(s), no spaces or controls. */
static bool
good_link(const char *s)
{
	size_t n;

	if (s == NULL || (strncmp(s, "https://", 8) != 0 &&
	    strncmp(s, "http://", 7) != 0))
		return false;
	n = strlen(s);
	if (n >= sizeof(((struct catalog_product *)0)->imagen))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '"')
			return false;
	return true;
}

static void
first_image(const cJSON *item, char *dst, size_t n)
{
	static const char *const keys[] = { "url", "imagen", "src", "link",
		NULL };
	const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(item, "imagenes");
	const cJSON *e;

	dst[0] = '\0';
	if (cJSON_IsString(imgs) && good_link(imgs->valuestring)) {
		snprintf(dst, n, "%s", imgs->valuestring);
		return;
	}
	if (!cJSON_IsArray(imgs))
		return;
	cJSON_ArrayForEach(e, imgs) {
		const char *s = cJSON_IsString(e) ? e->valuestring : NULL;

		for (size_t k = 0; s == NULL && cJSON_IsObject(e) &&
		    keys[k] != NULL; k++)
			s = text_of(e, keys[k]);
		if (good_link(s)) {
			snprintf(dst, n, "%s", s);
			return;
		}
	}
}

/* FNV-1a of the code, folded into 10^11..10^12-1: above any real Cianbox
 * id, within what carts and the model's tools accept (under 10^12). */
static int64_t
code_id(const char *code)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)code; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return (int64_t)(h % 899999999999ULL + 100000000000ULL);
}

int
shop_item_product(const void *arg, int64_t now, struct catalog_product *out)
{
	const cJSON *item = arg;
	const cJSON *idv;
	const char *s;
	double iva, stock;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(item))
		return OV_EINVAL;
	catalog_text_clean(out->codigo, sizeof(out->codigo),
	    (s = text_of(item, "codigoInterno")) != NULL ? s : "");
	catalog_text_clean(out->nombre, sizeof(out->nombre),
	    (s = text_of(item, "producto")) != NULL ? s : "");
	if (out->codigo[0] == '\0' || out->nombre[0] == '\0')
		return OV_EINVAL;
	catalog_text_clean(out->descripcion, sizeof(out->descripcion),
	    (s = text_of(item, "descripcion")) != NULL ? s : "");
	catalog_text_clean(out->marca, sizeof(out->marca),
	    (s = text_of(item, "marca")) != NULL ? s : "");
	catalog_text_clean(out->categoria, sizeof(out->categoria),
	    (s = text_of(item, "categoria")) != NULL ? s : "");
	idv = cJSON_GetObjectItemCaseSensitive(item, "id");
	if (cJSON_IsNumber(idv) && idv->valuedouble >= 1 &&
	    idv->valuedouble < 1e15 && idv->valuedouble == floor(idv->valuedouble))
		out->id = (int64_t)idv->valuedouble;
	else if (strspn(out->codigo, "0123456789") == strlen(out->codigo) &&
	    strlen(out->codigo) <= 15 && out->codigo[0] != '0')
		out->id = strtoll(out->codigo, NULL, 10);
	else
		out->id = code_id(out->codigo);
	if (!cents(num_of(item, "precioUSD"), &out->neto_cents))
		return OV_EINVAL;
	iva = num_of(item, "alicuotaIva");
	if (isnan(iva))
		iva = num_of(item, "iva");
	out->iva_tenths = !isnan(iva) && (fabs(iva - 10.5) < 1e-6 ||
	    fabs(iva - 1.105) < 1e-6) ? 105 : 210;
	out->final_cents = (out->neto_cents * (1000 + out->iva_tenths) + 500) /
	    1000;
	stock = num_of(item, "stockTotal");
	out->stock = !isnan(stock) && fabs(stock) < 1e12 ? stock : 0;
	memcpy(out->moneda, "USD", 4);
	memcpy(out->source, "shop", 5);
	first_image(item, out->imagen, sizeof(out->imagen));
	out->synced_at = now;
	return OV_OK;
}

/* ---- the walk ---------------------------------------------------------------- */

static int
fetch_page(struct shop *s, size_t page, cJSON **doc)
{
	struct cianbox_http_resp resp = { 0, NULL, 0 };
	char url[1200];
	int rc;

	*doc = NULL;
	snprintf(url, sizeof(url), "%s%cpagina=%zu&cantidad=%d", s->url,
	    strchr(s->url, '?') != NULL ? '&' : '?', page, SHOP_PAGE_SIZE);
	rc = cianbox_http_request(s->http, url, "shop catalog", NULL, &resp,
	    s->err, sizeof(s->err));
	if (rc != OV_OK)
		goto out;
	if (resp.status != 200) {
		snprintf(s->err, sizeof(s->err), "the shop answered HTTP %ld "
		    "(page %zu)", resp.status, page);
		rc = OV_EREMOTE;
		goto out;
	}
	*doc = cJSON_ParseWithLength(resp.body, resp.len);
	if (*doc == NULL || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(
	    *doc, "producto"))) {
		snprintf(s->err, sizeof(s->err), "page %zu of the shop is not "
		    "its product list (no producto[])", page);
		cJSON_Delete(*doc);
		*doc = NULL;
		rc = OV_EPARSE;
	}
out:
	cianbox_http_resp_clear(&resp);
	return rc;
}

static const char *
first_code(const cJSON *list)
{
	const cJSON *first = cJSON_GetArrayItem(list, 0);
	const char *s = cJSON_IsObject(first) ?
	    text_of(first, "codigoInterno") : NULL;

	return s != NULL ? s : "";
}

int
shop_productos_each(struct shop *s, int64_t now, shop_product_fn fn,
    void *arg, struct shop_walk_stats *stats)
{
	struct catalog_product *p = NULL;
	char first[128] = "";
	int rc = OV_OK;

	memset(stats, 0, sizeof(*stats));
	s->err[0] = '\0';
	if ((p = malloc(sizeof(*p))) == NULL)
		return OV_ENOMEM;
	for (size_t page = 1; page <= SHOP_PAGES_MAX; page++) {
		cJSON *doc, *list, *item;
		int n;

		if ((rc = fetch_page(s, page, &doc)) != OV_OK)
			break;
		list = cJSON_GetObjectItemCaseSensitive(doc, "producto");
		n = cJSON_GetArraySize(list);
		if (page == 1)
			snprintf(first, sizeof(first), "%s", first_code(list));
		else if (n > 0 && first[0] != '\0' &&
		    strcmp(first, first_code(list)) == 0)
			n = 0;    /* the whole list again: paging ignored */
		if (n == 0) {
			cJSON_Delete(doc);
			break;
		}
		stats->pages++;
		cJSON_ArrayForEach(item, list) {
			if (shop_item_product(item, now, p) != OV_OK) {
				stats->skipped++;
				continue;
			}
			if ((rc = fn(arg, p)) != OV_OK)
				break;
			stats->items++;
		}
		cJSON_Delete(doc);
		if (rc != OV_OK || n < SHOP_PAGE_SIZE)
			break;
	}
	free(p);
	return rc;
}
