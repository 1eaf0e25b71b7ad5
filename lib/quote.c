#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "isr.h"
#include "log.h"
#include "quote.h"
#include "store.h"
#include "utf8.h"
#include "uuid.h"

#define QUOTE_DOC_VERSION 1
#define QUOTE_TTL_MAX_DAYS 3650
/* Integers a JSON number (an IEEE double) holds exactly. */
#define JSON_INT_MAX 9007199254740992LL

static const char *const state_names[] = {
	[QUOTE_PENDING] = "pendiente_confirmacion",
	[QUOTE_SENT] = "enviado",
	[QUOTE_CANCELLED] = "cancelado",
	[QUOTE_EXPIRED] = "vencido",
};

#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

void
quote_init(struct quote *q)
{
	memset(q, 0, sizeof(*q));
	q->state = QUOTE_PENDING;
	memcpy(q->currency, "USD", 4);
}

void
quote_clear(struct quote *q)
{
	if (q == NULL)
		return;
	free(q->items);
	quote_init(q);
}

const char *
quote_state_name(enum quote_state s)
{
	if ((size_t)s >= NSTATES)
		return "desconocido";
	return state_names[s];
}

int
quote_state_parse(const char *s, enum quote_state *out)
{
	if (s == NULL)
		return OV_EINVAL;
	for (size_t i = 0; i < NSTATES; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum quote_state)i;
			return OV_OK;
		}
	}
	return OV_EINVAL;
}

/* ---- text --------------------------------------------------------------- */

/* Copy src into dst (room for max bytes plus the NUL): control characters
 * become spaces, broken UTF-8 becomes '?', leading and trailing blanks go,
 * and the text is cut at a character boundary. */
static void
text_clean(char *dst, size_t max, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = src != NULL ? strlen(src) : 0, o = 0, i = 0;

	while (i < n && (s[i] == ' ' || s[i] < 0x20 || s[i] == 0x7f))
		i++;
	while (i < n) {
		size_t len = utf8_decode(s + i, n - i, NULL), plen = len;
		const char *piece = (const char *)s + i;

		if (len == 0) {
			piece = "?";
			len = plen = 1;
		} else if (len == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
			piece = " ";
		}
		if (o + plen > max)
			break;
		memcpy(dst + o, piece, plen);
		o += plen;
		i += len;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

/* "", 11 digits, or 2-8-1 digits with dashes; kept as 11 digits. */
static int
cuit_clean(char out[QUOTE_CUIT_MAX + 1], const char *s)
{
	size_t n, d = 0;

	out[0] = '\0';
	if (s == NULL || *s == '\0')
		return OV_OK;
	n = strnlen(s, QUOTE_CUIT_MAX + 1);
	if (n != 11 && !(n == 13 && s[2] == '-' && s[11] == '-'))
		return OV_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (n == 13 && (i == 2 || i == 11))
			continue;
		if (s[i] < '0' || s[i] > '9')
			return OV_EINVAL;
		out[d++] = s[i];
	}
	out[d] = '\0';
	return OV_OK;
}

static int
phone_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 1;
	n = strnlen(s, QUOTE_PHONE_MAX + 1);
	if (n > QUOTE_PHONE_MAX)
		return 0;
	return strspn(s, "0123456789 +-()") == n;
}

int
quote_set_customer(struct quote *q, const char *name, const char *cuit,
    const char *phone)
{
	char c[QUOTE_CUIT_MAX + 1];

	if (q == NULL || cuit_clean(c, cuit) != OV_OK || !phone_ok(phone))
		return OV_EINVAL;
	text_clean(q->customer.name, QUOTE_CUSTOMER_NAME_MAX, name);
	memcpy(q->customer.cuit, c, sizeof(c));
	snprintf(q->customer.phone, sizeof(q->customer.phone), "%s",
	    phone != NULL ? phone : "");
	return OV_OK;
}

/* ---- money -------------------------------------------------------------- */

static int
iva_ok(int tenths)
{
	return tenths == 210 || tenths == 105;
}

int
quote_compute(struct quote *q)
{
	int64_t sub = 0, iva21 = 0, iva105 = 0, total, ars = 0;

	for (size_t i = 0; i < q->nitems; i++) {
		struct quote_item *it = &q->items[i];
		int64_t line, scaled, *acc;

		if (it->quantity < 1 || it->quantity > QUOTE_QTY_MAX ||
		    it->unit_cents < 0 || it->unit_cents > QUOTE_UNIT_MAX_CENTS ||
		    !iva_ok(it->iva_tenths))
			return OV_EINVAL;
		line = it->quantity * it->unit_cents;   /* <= 1e14: no overflow */
		/* Rounded half up, once, on this line. */
		scaled = line * it->iva_tenths;          /* <= 2.1e16 */
		it->subtotal_cents = line;
		it->iva_cents = (scaled + 500) / 1000;
		acc = it->iva_tenths == 210 ? &iva21 : &iva105;
		if (__builtin_add_overflow(sub, line, &sub) ||
		    __builtin_add_overflow(*acc, it->iva_cents, acc))
			return OV_EINVAL;
	}
	if (__builtin_add_overflow(sub, iva21, &total) ||
	    __builtin_add_overflow(total, iva105, &total))
		return OV_EINVAL;
	if (q->usd_rate_cents < 0 || q->usd_rate_cents > QUOTE_RATE_MAX_CENTS)
		return OV_EINVAL;
	if (q->usd_rate_cents > 0) {
		/* total (u$s cents) x rate (centavos per u$s) / 100. */
		__int128 x = (__int128)total * q->usd_rate_cents + 50;

		x /= 100;
		if (x > INT64_MAX)
			return OV_EINVAL;
		ars = (int64_t)x;
	}
	q->subtotal_cents = sub;
	q->iva21_cents = iva21;
	q->iva105_cents = iva105;
	q->total_cents = total;
	q->total_ars_cents = ars;
	return OV_OK;
}

int
quote_add_item(struct quote *q, const struct quote_item *item)
{
	struct quote_item *v, it;
	int rc;

	if (q == NULL || item == NULL)
		return OV_EINVAL;
	if (item->quantity < 1 || item->quantity > QUOTE_QTY_MAX ||
	    item->unit_cents < 0 || item->unit_cents > QUOTE_UNIT_MAX_CENTS ||
	    !iva_ok(item->iva_tenths) || item->product_id < 0)
		return OV_EINVAL;
	if (q->nitems >= QUOTE_ITEMS_MAX)
		return OV_ETOOBIG;
	memset(&it, 0, sizeof(it));
	it.product_id = item->product_id;
	it.quantity = item->quantity;
	it.unit_cents = item->unit_cents;
	it.iva_tenths = item->iva_tenths;
	text_clean(it.code, QUOTE_CODE_MAX, item->code);
	text_clean(it.name, QUOTE_ITEM_NAME_MAX, item->name);
	if (it.name[0] == '\0')
		return OV_EINVAL;
	v = realloc(q->items, (q->nitems + 1) * sizeof(*v));
	if (v == NULL)
		return OV_ENOMEM;
	q->items = v;
	q->items[q->nitems++] = it;
	if ((rc = quote_compute(q)) != OV_OK) {
		q->nitems--;
		(void)quote_compute(q);
	}
	return rc;
}

/* A price as the catalog gives it (a JSON number) into cents, rounding
 * half up on its decimal digits: "%.6f" first takes the binary noise out
 * (58.685 is 58.68499999... as a double, and 58.685000 in decimal). */
static int
cents_from_number(double v, int64_t max, int64_t *out)
{
	char buf[64], *dot, *end;
	long long whole, frac;
	int64_t cents;

	if (!isfinite(v) || v < 0 || v > (double)max / 100.0)
		return OV_EINVAL;
	if (snprintf(buf, sizeof(buf), "%.6f", v) >= (int)sizeof(buf))
		return OV_EINVAL;
	dot = strchr(buf, '.');
	if (dot == NULL || strlen(dot + 1) != 6)
		return OV_EINVAL;
	*dot = '\0';
	errno = 0;
	whole = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || whole < 0)
		return OV_EINVAL;
	frac = strtoll(dot + 1, &end, 10);
	if (errno != 0 || *end != '\0' || frac < 0)
		return OV_EINVAL;
	cents = (int64_t)whole * 100 + frac / 10000 + (frac % 10000 >= 5000);
	if (cents > max)
		return OV_EINVAL;
	*out = cents;
	return OV_OK;
}

/* Cianbox gives the IVA as a factor (1.21, 1.105) or a percentage. */
static int
iva_from_number(double v, int *out)
{
	long long t;

	if (!isfinite(v) || v <= 0 || v > 100)
		return OV_EINVAL;
	t = v < 2 ? llround((v - 1.0) * 1000.0) : llround(v * 10.0);
	if (!iva_ok((int)t))
		return OV_EINVAL;
	*out = (int)t;
	return OV_OK;
}

int
quote_item_from_product(const char *product_json, int64_t quantity,
    struct quote_item *out)
{
	const cJSON *id, *code, *name, *price, *offer, *offer_price, *iva;
	cJSON *doc = NULL;
	int rc = OV_EPARSE;

	if (product_json == NULL || out == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	if (strnlen(product_json, STORE_DOC_MAX + 1) > STORE_DOC_MAX)
		return OV_ETOOBIG;
	doc = cJSON_Parse(product_json);
	if (!cJSON_IsObject(doc))
		goto out;
	id = cJSON_GetObjectItemCaseSensitive(doc, "id");
	code = cJSON_GetObjectItemCaseSensitive(doc, "codigo_interno");
	name = cJSON_GetObjectItemCaseSensitive(doc, "producto");
	price = cJSON_GetObjectItemCaseSensitive(doc, "precio_neto");
	offer = cJSON_GetObjectItemCaseSensitive(doc, "oferta");
	offer_price = cJSON_GetObjectItemCaseSensitive(doc, "precio_oferta");
	iva = cJSON_GetObjectItemCaseSensitive(doc, "alicuota_iva");
	if (!cJSON_IsNumber(id) || id->valuedouble < 1 ||
	    id->valuedouble > (double)JSON_INT_MAX ||
	    id->valuedouble != floor(id->valuedouble) ||
	    !cJSON_IsString(name) || !cJSON_IsNumber(price) ||
	    !cJSON_IsNumber(iva))
		goto out;
	out->product_id = (int64_t)id->valuedouble;
	if (cJSON_IsString(code))
		text_clean(out->code, QUOTE_CODE_MAX, code->valuestring);
	text_clean(out->name, QUOTE_ITEM_NAME_MAX, name->valuestring);
	if (out->name[0] == '\0')
		goto out;
	/* While an offer runs its price is the one the customer gets. */
	if (cJSON_IsTrue(offer) && cJSON_IsNumber(offer_price) &&
	    offer_price->valuedouble > 0) {
		if (cents_from_number(offer_price->valuedouble,
		    QUOTE_UNIT_MAX_CENTS, &out->unit_cents) != OV_OK)
			goto out;
	} else if (cents_from_number(price->valuedouble, QUOTE_UNIT_MAX_CENTS,
	    &out->unit_cents) != OV_OK) {
		goto out;
	}
	if (iva_from_number(iva->valuedouble, &out->iva_tenths) != OV_OK)
		goto out;
	if (quantity < 1 || quantity > QUOTE_QTY_MAX) {
		rc = OV_EINVAL;
		goto out;
	}
	out->quantity = quantity;
	rc = OV_OK;
out:
	cJSON_Delete(doc);
	if (rc != OV_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
quote_add_product(struct store *st, struct quote *q, int64_t product_id,
    int64_t quantity)
{
	struct quote_item it;
	char key[24], *json = NULL;
	bool found = false;
	int rc;

	if (st == NULL || q == NULL || product_id < 1)
		return OV_EINVAL;
	snprintf(key, sizeof(key), "%" PRId64, product_id);
	rc = store_catalog_get(st, "productos_cache", key, &json, &found);
	if (rc != OV_OK)
		goto out;
	if (!found) {
		rc = OV_ENOTFOUND;
		goto out;
	}
	if ((rc = quote_item_from_product(json, quantity, &it)) != OV_OK)
		goto out;
	rc = quote_add_item(q, &it);
out:
	free(json);
	return rc;
}

/* ---- the stored document ------------------------------------------------ */

/* An exact integer in JSON (cJSON numbers are doubles: large totals would
 * lose digits), written as raw number text. */
static bool
add_int(cJSON *obj, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return cJSON_AddRawToObject(obj, name, buf) != NULL;
}

int
quote_doc_to_json(const struct quote *q, char **json)
{
	cJSON *doc, *cust, *items, *it, *tot;
	bool ok;
	int rc = OV_ENOMEM;

	*json = NULL;
	doc = cJSON_CreateObject();
	if (doc == NULL)
		return OV_ENOMEM;
	ok = add_int(doc, "v", QUOTE_DOC_VERSION) &&
	    (cust = cJSON_AddObjectToObject(doc, "customer")) != NULL &&
	    cJSON_AddStringToObject(cust, "name", q->customer.name) != NULL &&
	    cJSON_AddStringToObject(cust, "cuit", q->customer.cuit) != NULL &&
	    cJSON_AddStringToObject(cust, "phone", q->customer.phone) != NULL &&
	    cJSON_AddStringToObject(doc, "currency", q->currency) != NULL &&
	    add_int(doc, "usd_rate_cents", q->usd_rate_cents) &&
	    (items = cJSON_AddArrayToObject(doc, "items")) != NULL;
	for (size_t i = 0; ok && i < q->nitems; i++) {
		const struct quote_item *x = &q->items[i];

		ok = (it = cJSON_CreateObject()) != NULL &&
		    cJSON_AddItemToArray(items, it) &&
		    add_int(it, "product_id", x->product_id) &&
		    cJSON_AddStringToObject(it, "code", x->code) != NULL &&
		    cJSON_AddStringToObject(it, "name", x->name) != NULL &&
		    add_int(it, "quantity", x->quantity) &&
		    add_int(it, "unit_cents", x->unit_cents) &&
		    add_int(it, "iva", x->iva_tenths) &&
		    add_int(it, "subtotal_cents", x->subtotal_cents) &&
		    add_int(it, "iva_cents", x->iva_cents);
	}
	/* For readers of the store; quote_doc_from_json() recomputes. */
	ok = ok && (tot = cJSON_AddObjectToObject(doc, "totals")) != NULL &&
	    add_int(tot, "subtotal_cents", q->subtotal_cents) &&
	    add_int(tot, "iva21_cents", q->iva21_cents) &&
	    add_int(tot, "iva105_cents", q->iva105_cents) &&
	    add_int(tot, "total_cents", q->total_cents) &&
	    add_int(tot, "total_ars_cents", q->total_ars_cents);
	if (ok && (*json = cJSON_PrintUnformatted(doc)) != NULL)
		rc = OV_OK;
	cJSON_Delete(doc);
	return rc;
}

static int
get_int(const cJSON *obj, const char *name, int64_t min, int64_t max,
    int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < (double)min || v->valuedouble > (double)max)
		return OV_EPARSE;
	*out = (int64_t)v->valuedouble;
	return OV_OK;
}

static const char *
get_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
quote_doc_from_json(const char *json, struct quote *q)
{
	const cJSON *cust, *items, *it;
	const char *cur;
	cJSON *doc;
	int64_t v;
	int rc = OV_EPARSE;

	if (json == NULL || q == NULL)
		return OV_EINVAL;
	if (strnlen(json, STORE_DOC_MAX + 1) > STORE_DOC_MAX)
		return OV_ETOOBIG;
	free(q->items);
	q->items = NULL;
	q->nitems = 0;
	doc = cJSON_Parse(json);
	if (!cJSON_IsObject(doc) ||
	    get_int(doc, "v", 1, QUOTE_DOC_VERSION, &v) != OV_OK)
		goto out;
	cust = cJSON_GetObjectItemCaseSensitive(doc, "customer");
	if (!cJSON_IsObject(cust) ||
	    quote_set_customer(q, get_str(cust, "name"), get_str(cust, "cuit"),
	    get_str(cust, "phone")) != OV_OK)
		goto out;
	cur = get_str(doc, "currency");
	if (cur == NULL || strlen(cur) != 3)
		goto out;
	memcpy(q->currency, cur, 4);
	if (get_int(doc, "usd_rate_cents", 0, QUOTE_RATE_MAX_CENTS,
	    &q->usd_rate_cents) != OV_OK)
		goto out;
	items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	if (!cJSON_IsArray(items))
		goto out;
	cJSON_ArrayForEach(it, items) {
		struct quote_item x;
		int64_t iva;

		memset(&x, 0, sizeof(x));
		if (!cJSON_IsObject(it) ||
		    get_int(it, "product_id", 0, JSON_INT_MAX, &x.product_id) ||
		    get_int(it, "quantity", 1, QUOTE_QTY_MAX, &x.quantity) ||
		    get_int(it, "unit_cents", 0, QUOTE_UNIT_MAX_CENTS,
		    &x.unit_cents) ||
		    get_int(it, "iva", 0, 1000, &iva)) {
			/* rc is OV_OK after an earlier item was added. */
			rc = OV_EPARSE;
			goto out;
		}
		x.iva_tenths = (int)iva;
		text_clean(x.code, QUOTE_CODE_MAX, get_str(it, "code"));
		text_clean(x.name, QUOTE_ITEM_NAME_MAX, get_str(it, "name"));
		if ((rc = quote_add_item(q, &x)) != OV_OK) {
			if (rc == OV_EINVAL)
				rc = OV_EPARSE;
			goto out;
		}
	}
	rc = quote_compute(q) == OV_OK ? OV_OK : OV_EPARSE;
out:
	cJSON_Delete(doc);
	return rc;
}

int
quote_to_record(const struct quote *q, struct store_quote *rec)
{
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->id, sizeof(rec->id), "%s", q->id);
	rec->number = q->number;
	snprintf(rec->wa_id, sizeof(rec->wa_id), "%s", q->wa_id);
	snprintf(rec->state, sizeof(rec->state), "%s",
	    quote_state_name(q->state));
	rec->created_at = q->created_at;
	rec->expires_at = q->expires_at;
	if (q->purged)
		return OV_OK;
	return quote_doc_to_json(q, &rec->doc);
}

int
quote_from_record(const struct store_quote *rec, struct quote *q)
{
	int rc;

	if (!uuid_v4_valid(rec->id) || rec->number < 1 ||
	    quote_state_parse(rec->state, &q->state) != OV_OK)
		return OV_EPARSE;
	memcpy(q->id, rec->id, sizeof(q->id));
	q->number = rec->number;
	snprintf(q->wa_id, sizeof(q->wa_id), "%s", rec->wa_id);
	q->created_at = rec->created_at;
	q->expires_at = rec->expires_at;
	if (rec->doc == NULL) {
		q->purged = true;
		return OV_OK;
	}
	if ((rc = quote_doc_from_json(rec->doc, q)) != OV_OK)
		log_error("quote %s: stored document unreadable (%s)", rec->id,
		    ov_strerror(rc));
	return rc;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int
quote_store(struct store *st, const struct quote *q)
{
	struct store_quote rec;
	int rc;

	/* The back end's event first (lib/isr.h): a crash between the two
	 * writes leaves an event its drain drops, never a quote unposted. A
	 * queue that fails is logged there and does not stop the quote. */
	(void)isr_quote_event(st, q);
	if ((rc = quote_to_record(q, &rec)) == OV_OK)
		rc = store_quote_put(st, &rec);
	free(rec.doc);
	return rc;
}

/* The back end hears of a pending quote cancelled by a newer one too. */
static void
isr_replaced(struct store *st, const struct store_quote *rec)
{
	struct quote old;

	if (!store_isr_enabled(st))
		return;
	quote_init(&old);
	if (quote_from_record(rec, &old) == OV_OK)
		(void)isr_quote_event(st, &old);
	quote_clear(&old);
}

int
quote_create(struct store *st, struct quote *q, long ttl_days)
{
	struct store_quote prev;
	bool found = false;
	int rc;

	memset(&prev, 0, sizeof(prev));
	if (st == NULL || q == NULL || q->nitems == 0 || ttl_days < 1 ||
	    ttl_days > QUOTE_TTL_MAX_DAYS || q->wa_id[0] == '\0' ||
	    strspn(q->wa_id, "0123456789") != strlen(q->wa_id))
		return OV_EINVAL;
	if ((rc = quote_compute(q)) != OV_OK)
		return rc;
	if ((rc = uuid_v4(q->id)) != OV_OK)
		goto out;
	if ((rc = store_counter_next(st, QUOTE_COUNTER, &q->number)) != OV_OK)
		goto out;
	q->state = QUOTE_PENDING;
	q->purged = false;
	q->created_at = clock_now();
	q->expires_at = q->created_at + (int64_t)ttl_days * 86400;
	if ((rc = store_quote_pending_for(st, q->wa_id, &prev, &found)) !=
	    OV_OK)
		goto out;
	if ((rc = quote_store(st, q)) != OV_OK)
		goto out;
	/* Stored first, cancelled second: a failure in between leaves two
	 * pending quotes, and the newest is the one that counts. */
	if (found && strcmp(prev.id, q->id) != 0) {
		snprintf(prev.state, sizeof(prev.state), "%s",
		    quote_state_name(QUOTE_CANCELLED));
		isr_replaced(st, &prev);
		if (store_quote_put(st, &prev) != OV_OK)
			log_warn("quote %" PRId64 ": cannot cancel the earlier "
			    "pending quote %" PRId64, q->number, prev.number);
		else
			log_info("quote %" PRId64 " replaces pending quote %"
			    PRId64, q->number, prev.number);
	}
out:
	store_quote_clear(&prev);
	if (rc != OV_OK) {
		q->id[0] = '\0';
		q->number = 0;
	}
	return rc;
}

int
quote_load(struct store *st, const char *id, struct quote *q, bool *found)
{
	struct store_quote rec;
	int rc;

	*found = false;
	if (!uuid_v4_valid(id))
		return OV_EINVAL;
	if ((rc = store_quote_get(st, id, &rec, found)) != OV_OK || !*found)
		return rc;
	quote_clear(q);
	rc = quote_from_record(&rec, q);
	store_quote_clear(&rec);
	if (rc != OV_OK) {
		quote_clear(q);
		*found = false;
	}
	return rc;
}

int
quote_set_state(struct store *st, struct quote *q, enum quote_state to)
{
	enum quote_state from = q->state;
	int rc;

	if (from == to)
		return OV_OK;
	/* vencido is written by the purge alone, with the contents dropped
	 * (lib/quote_purge.h); before that, quote_is_expired() tells. */
	if (from != QUOTE_PENDING || (to != QUOTE_SENT && to != QUOTE_CANCELLED))
		return OV_EINVAL;
	q->state = to;
	if ((rc = quote_store(st, q)) != OV_OK)
		q->state = from;
	return rc;
}

bool
quote_is_expired(const struct quote *q, int64_t now)
{
	return q->state == QUOTE_EXPIRED || q->purged || now >= q->expires_at;
}

/* ---- formatting --------------------------------------------------------- */

int
quote_format_cents(int64_t cents, char *buf, size_t len)
{
	char digits[24], out[40];
	uint64_t u;
	size_t nd, o = 0;
	int n;

	u = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
	n = snprintf(digits, sizeof(digits), "%03" PRIu64, u);
	nd = (size_t)n;
	if (cents < 0)
		out[o++] = '-';
	/* Integer part with a dot every three digits, then ",cc". */
	for (size_t i = 0; i < nd - 2; i++) {
		if (i > 0 && (nd - 2 - i) % 3 == 0)
			out[o++] = '.';
		out[o++] = digits[i];
	}
	out[o++] = ',';
	out[o++] = digits[nd - 2];
	out[o++] = digits[nd - 1];
	out[o] = '\0';
	if (o + 1 > len) {
		if (len > 0)
			buf[0] = '\0';
		return OV_ETOOBIG;
	}
	memcpy(buf, out, o + 1);
	return OV_OK;
}

int
quote_format_rate(int tenths, char *buf, size_t len)
{
	int n;

	if (tenths < 0)
		return OV_EINVAL;
	if (tenths % 10 == 0)
		n = snprintf(buf, len, "%d", tenths / 10);
	else
		n = snprintf(buf, len, "%d,%d", tenths / 10, tenths % 10);
	return n < 0 || (size_t)n >= len ? OV_ETOOBIG : OV_OK;
}

int
quote_format_date(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	int n;

	if (localtime_r(&tt, &tm) == NULL)
		return OV_EINVAL;
	n = snprintf(buf, len, "%02d/%02d/%04d", tm.tm_mday, tm.tm_mon + 1,
	    tm.tm_year + 1900);
	return n < 0 || (size_t)n >= len ? OV_ETOOBIG : OV_OK;
}

void
quote_use_timezone(const struct config *cfg)
{
	const char *tz = config_get(cfg, "TZ");

	if (tz != NULL && setenv("TZ", tz, 1) != 0)
		log_warn("cannot set the time zone %s", tz);
	tzset();
}

int
quote_ttl_days(const struct config *cfg, long *days, char *err, size_t errlen)
{
	return config_get_long(cfg, "QUOTE_TTL_DAYS", QUOTE_TTL_DEFAULT_DAYS, 1,
	    QUOTE_TTL_MAX_DAYS, days, err, errlen);
}
