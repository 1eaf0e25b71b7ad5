/*
 * actions.c - the action table and what each action does. See actions.h.
 *
 * Every figure the customer reads (prices, stock, totals, balances) is
 * formatted here from the store and Cianbox, never taken from model text.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "actions.h"
#include "bot_catalog.h"
#include "business.h"
#include "catalog.h"
#include "cianbox.h"
#include "copy_es.h"
#include "err.h"
#include "invoices.h"
#include "log.h"
#include "outbox.h"
#include "proactive.h"
#include "quote.h"
#include "quote_file.h"
#include "quote_pdf.h"
#include "turn.h"
#include "utf8.h"

#define INVOICES_SHOWN 5
#define ITEMS_TOOL 20

/* ---- small helpers -------------------------------------------------- */

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t
jint(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return 0;
	return (int64_t)v->valuedouble;
}

static bool
jtrue(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int64_t
to_cents(double v)
{
	if (!isfinite(v) || fabs(v) > 1e13)
		return 0;
	return (int64_t)llround(v * 100.0);
}

/* "2026-11-03" -> "03/11/2026"; anything else copied. */
static void
date_ar(const char *iso, char *buf, size_t len)
{
	if (strlen(iso) >= 10 && iso[4] == '-' && iso[7] == '-')
		snprintf(buf, len, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
	else
		snprintf(buf, len, "%s", iso);
}

static void
cat(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cat(char *buf, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

/* The price as the customer asked: "+ IVA (21 %)" or "IVA incluido". */
static void
price_words(const struct turn *t, const struct bot_product *p, bool with_iva,
    char *buf, size_t len)
{
	char price[48];

	with_iva = with_iva || t->with_iva;

	if (with_iva) {
		struct bot_product q = *p;

		q.cents = price_with_iva(p);
		fmt_price(&q, price, sizeof(price));
		snprintf(buf, len, T_PRICE_WITH_IVA, price);
		return;
	}
	fmt_price(p, price, sizeof(price));
	snprintf(buf, len, T_PRICE_PLUS_IVA, price,
	    p->iva_tenths == 105 ? "10,5" : "21");
}

static int
product_get(struct turn *t, int64_t id, struct bot_product *p, bool *found)
{
	int rc = bot_catalog_get(t->b->st, id, p, found);

	if (rc != OV_OK) {
		log_error("catalog read failed: %s", ov_strerror(rc));
		say(t, T_CATALOG_DOWN);
	} else if (!*found) {
		say(t, T_WHICH_PRODUCT);
	}
	return rc;
}

/* Similar products with at least `need` in stock, without p itself. */
static size_t
alternatives(struct turn *t, const struct bot_product *p, int64_t need,
    struct bot_product *out, size_t max)
{
	struct bot_product v[TURN_LIST_ROWS * 2];
	size_t n = 0, k = 0;

	if (bot_catalog_similar(t->b->st, p, t->conv.list_query, v,
	    TURN_LIST_ROWS * 2, &n) != OV_OK)
		return 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (v[i].id != p->id && v[i].stock >= (need > 0 ? need : 1))
			out[k++] = v[i];
	return k;
}

static void
remember_product(struct turn *t, const struct bot_product *p, int64_t qty)
{
	t->conv.last_product = p->id;
	t->conv.last_qty = qty > 0 ? qty : 0;
}

/* The words every name of a list holds ("Cámara Domo Dahua 4MP"), in
 * the first name's order, as a label of what was found; "" when none. */
static void
common_label(const struct bot_product *v, size_t n, char *out, size_t len)
{
	char first[QUOTE_ITEM_NAME_MAX + 1], *save = NULL, *w;
	size_t words = 0;

	out[0] = '\0';
	if (n < 2)
		return;
	utf8_copy(first, sizeof(first), v[0].name);
	for (w = strtok_r(first, " ", &save); w != NULL && words < 5;
	    w = strtok_r(NULL, " ", &save)) {
		bool everywhere = true;

		for (size_t i = 1; i < n && everywhere; i++) {
			const char *p = v[i].name;
			size_t wl = strlen(w);

			everywhere = false;
			while ((p = strcasestr(p, w)) != NULL) {
				bool start = p == v[i].name || p[-1] == ' ';
				bool end = p[wl] == '\0' || p[wl] == ' ';

				if (start && end) {
					everywhere = true;
					break;
				}
				p++;
			}
		}
		if (!everywhere)
			continue;
		if (strlen(out) + strlen(w) + 2 > len)
			break;
		if (out[0] != '\0')
			strcat(out, " ");
		strcat(out, w);
		words++;
	}
}

/* ---- search and products ------------------------------------------- */

static void product_card(struct turn *t, const struct bot_product *p,
    bool with_iva);

/* Show products found: a list (remembered in order), or the one card. */
static void
show_found(struct turn *t, const struct bot_product *v, size_t n,
    const char *query, bool with_iva)
{
	int64_t ids[CONV_LIST_MAX];
	char label[96], body[512];

	for (size_t i = 0; i < n && i < CONV_LIST_MAX; i++)
		ids[i] = v[i].id;
	conv_set_list(&t->conv, ids, n < CONV_LIST_MAX ? n : CONV_LIST_MAX,
	    query);
	if (n == 1) {
		product_card(t, &v[0], with_iva);
		return;
	}
	common_label(v, n, label, sizeof(label));
	if (t->conv.pending == CONV_PENDING_ADD && t->conv.last_qty > 0)
		snprintf(body, sizeof(body), T_LIST_FOR_QTY,
		    (long long)t->conv.last_qty);
	else if (label[0] != '\0')
		snprintf(body, sizeof(body), T_LIST_LABEL, label);
	else
		snprintf(body, sizeof(body), T_LIST_PLAIN);
	reply_product_list(t, body, v, n);
	if (t->conv.pending != CONV_PENDING_ADD)
		t->conv.pending = CONV_PENDING_NONE;
}

static int
run_search(struct turn *t, const cJSON *args)
{
	struct bot_product v[TURN_LIST_ROWS];
	const char *q = jstr(args, "consulta");
	size_t n = 0;
	int rc;

	if ((rc = bot_catalog_search(t->b->st, q, v, TURN_LIST_ROWS, &n)) !=
	    OV_OK) {
		log_error("product search failed: %s", ov_strerror(rc));
		say(t, T_CATALOG_DOWN);
		return OV_OK;
	}
	if (n == 0) {
		say(t, T_NOT_FOUND);
		return OV_OK;
	}
	show_found(t, v, n, q, jtrue(args, "con_iva"));
	return OV_OK;
}

static void
product_card(struct turn *t, const struct bot_product *p, bool with_iva)
{
	char price[96], body[1024], id[48];
	struct bot_product alt[TURN_ALTERNATIVES];
	size_t n;

	price_words(t, p, with_iva, price, sizeof(price));
	remember_product(t, p, 0);
	if (p->stock <= 0) {
		notify_demand(t, p, 0);
		n = alternatives(t, p, 1, alt, TURN_ALTERNATIVES);
		if (n == 0) {
			char line[512];

			snprintf(line, sizeof(line), T_NO_STOCK, p->name, price);
			say(t, "%s %s", line, T_ASK_GET_IT);
			t->conv.pending = CONV_PENDING_HANDOFF;
			return;
		}
		snprintf(body, sizeof(body), T_NO_STOCK_ALTS, p->name);
		{
			int64_t ids[TURN_ALTERNATIVES];

			for (size_t i = 0; i < n; i++)
				ids[i] = alt[i].id;
			conv_set_list(&t->conv, ids, n, t->conv.list_query);
		}
		reply_product_list(t, body, alt, n);
		t->conv.pending = CONV_PENDING_NONE;
		return;
	}
	snprintf(body, sizeof(body), T_CARD, p->name, p->code[0] ? p->code :
	    "-", price, (long long)p->stock);
	snprintf(id, sizeof(id), "cart:add:%lld", (long long)p->id);
	reply_buttons(t, body, id, T_BTN_ADD, "handoff", T_BTN_PERSON, NULL,
	    NULL);
	t->conv.pending = CONV_PENDING_QTY;
}

static int
run_product(struct turn *t, const cJSON *args)
{
	struct bot_product p;
	bool found = false;

	if (product_get(t, jint(args, "producto_id"), &p, &found) != OV_OK ||
	    !found)
		return OV_OK;
	if (jtrue(args, "solo_precio")) {
		char price[96];

		remember_product(t, &p, 0);
		price_words(t, &p, jtrue(args, "con_iva"), price, sizeof(price));
		if (p.stock > 0) {
			say(t, T_PRICE_LINE, p.name, price, (long long)p.stock);
			t->conv.pending = CONV_PENDING_QTY;
		} else {
			char line[512];

			snprintf(line, sizeof(line), T_PRICE_LINE_NOSTOCK, p.name,
			    price);
			say(t, "%s %s", line, T_ASK_GET_IT);
			notify_demand(t, &p, 0);
			t->conv.pending = CONV_PENDING_HANDOFF;
		}
		return OV_OK;
	}
	product_card(t, &p, jtrue(args, "con_iva"));
	return OV_OK;
}

/* The product's photo (kept by a shop sync) by link, captioned with its
 * name and price; without one, the product's line in words. */
static int
run_photo(struct turn *t, const cJSON *args)
{
	struct bot_product p;
	struct catalog_product *cp;
	char price[96], caption[512];
	bool found = false;
	cJSON *r;
	int rc;

	if (product_get(t, jint(args, "producto_id"), &p, &found) != OV_OK ||
	    !found)
		return OV_OK;
	remember_product(t, &p, 0);
	price_words(t, &p, false, price, sizeof(price));
	if ((cp = malloc(sizeof(*cp))) == NULL)
		return OV_ENOMEM;
	rc = catalog_product_get(t->b->st, p.id, cp, &found);
	if (rc == OV_OK && found && cp->imagen[0] != '\0' &&
	    (r = reply_add(t, "image")) != NULL) {
		snprintf(caption, sizeof(caption), T_PHOTO_CAPTION, p.name,
		    price);
		cJSON_AddStringToObject(r, "link", cp->imagen);
		cJSON_AddStringToObject(r, "caption", caption);
	} else {
		say(t, T_PHOTO_NONE, p.name, price);
	}
	free(cp);
	return rc;
}

static int
run_stock(struct turn *t, const cJSON *args)
{
	struct bot_product p, alt[TURN_ALTERNATIVES];
	int64_t qty = jint(args, "cantidad");
	char price[96], body[1024];
	bool found = false;
	size_t n;

	if (product_get(t, jint(args, "producto_id"), &p, &found) != OV_OK ||
	    !found)
		return OV_OK;
	remember_product(t, &p, qty);
	price_words(t, &p, jtrue(args, "con_iva"), price, sizeof(price));
	if (p.stock >= qty) {
		snprintf(body, sizeof(body), T_STOCK_OK, p.name,
		    (long long)p.stock, price, (long long)qty);
		reply_buttons(t, body, "yes:add", T_BTN_ADD, "handoff",
		    T_BTN_PERSON, NULL, NULL);
		t->conv.pending = CONV_PENDING_ADD;
		return OV_OK;
	}
	notify_demand(t, &p, qty);
	n = alternatives(t, &p, qty, alt, TURN_ALTERNATIVES);
	if (n > 0) {
		int64_t ids[TURN_ALTERNATIVES];

		if (p.stock > 0)
			snprintf(body, sizeof(body), T_STOCK_SHORT_ALTS, p.name,
			    (long long)p.stock);
		else
			snprintf(body, sizeof(body), T_NO_STOCK_ALTS, p.name);
		for (size_t i = 0; i < n; i++)
			ids[i] = alt[i].id;
		conv_set_list(&t->conv, ids, n, t->conv.list_query);
		reply_product_list(t, body, alt, n);
		/* A pick from these is for the same quantity; a bare "dale"
		 * asks which. */
		t->conv.last_qty = qty;
		t->conv.pending = CONV_PENDING_ADD;
		return OV_OK;
	}
	if (p.stock > 0) {
		char line[512];

		snprintf(line, sizeof(line), T_STOCK_SHORT, p.name,
		    (long long)p.stock);
		say(t, "%s " T_STOCK_SHORT_ASK, line, (long long)p.stock);
		t->conv.last_qty = p.stock;
		t->conv.pending = CONV_PENDING_ADD;
		return OV_OK;
	}
	{
		char line[512];

		snprintf(line, sizeof(line), T_NO_STOCK, p.name, price);
		say(t, "%s %s", line, T_ASK_GET_IT);
	}
	t->conv.pending = CONV_PENDING_HANDOFF;
	return OV_OK;
}

/* ---- the cart and quotes -------------------------------------------- */

static int make_quote(struct turn *t);

/* The cart as the customer reads it, with the question that follows. */
static void
show_cart(struct turn *t, const char *lead)
{
	char body[TURN_TEXT_MAX], name[256], price[48];
	int64_t subtotal = 0;

	if (t->conv.ncart == 0) {
		if (lead != NULL)
			say(t, "%s\n%s", lead, T_CART_EMPTY);
		else
			say(t, T_CART_EMPTY);
		return;
	}
	body[0] = '\0';
	if (lead != NULL)
		cat(body, sizeof(body), "%s\n\n", lead);
	cat(body, sizeof(body), T_CART_HEAD);
	for (size_t i = 0; i < t->conv.ncart; i++) {
		struct bot_product p;
		bool found = false;

		if (bot_catalog_get(t->b->st, t->conv.cart[i].product_id, &p,
		    &found) != OV_OK || !found)
			continue;
		fmt_price(&p, price, sizeof(price));
		cat(body, sizeof(body), T_CART_LINE,
		    (long long)t->conv.cart[i].qty, fmt_short(p.name, 60, name,
		    sizeof(name)), price);
		if (p.stock < t->conv.cart[i].qty)
			cat(body, sizeof(body), T_CART_LOW_STOCK,
			    (long long)(p.stock > 0 ? p.stock : 0));
		subtotal += p.cents * t->conv.cart[i].qty;
	}
	fmt_money(subtotal, price, sizeof(price));
	cat(body, sizeof(body), T_CART_SUBTOTAL, price);
	cat(body, sizeof(body), T_CART_ASK);
	reply_buttons(t, body, "cart:quote", T_BTN_QUOTE, NULL, NULL, NULL,
	    NULL);
	t->conv.pending = CONV_PENDING_QUOTE;
}

/* After the cart changed: a quote on screen is made again (so what is
 * confirmed is what was last shown), else the cart is shown. */
static int
cart_changed(struct turn *t, const char *lead)
{
	if (t->quoting)
		return OV_OK;   /* the quote that follows shows every line */
	if (t->conv.pending == CONV_PENDING_CONFIRM && t->conv.ncart > 0) {
		say(t, "%s", lead);
		return make_quote(t);
	}
	show_cart(t, lead);
	return OV_OK;
}

static int
run_cart_add(struct turn *t, const cJSON *args)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(args, "items"),
	    *it;
	char lead[TURN_TEXT_MAX], name[256];

	lead[0] = '\0';
	cJSON_ArrayForEach(it, items) {
		struct bot_product p;
		bool found = false;
		int64_t qty = jint(it, "cantidad");
		int rc;

		if (bot_catalog_get(t->b->st, jint(it, "producto_id"), &p,
		    &found) != OV_OK || !found)
			continue;
		rc = conv_cart_add(&t->conv, p.id, qty);
		if (rc == OV_ETOOBIG) {
			say(t, T_CART_FULL);
			t->conv.pending = CONV_PENDING_HANDOFF;
			return OV_OK;
		}
		if (rc != OV_OK)
			continue;
		remember_product(t, &p, qty);
		if (lead[0] != '\0')
			cat(lead, sizeof(lead), "\n");
		cat(lead, sizeof(lead), T_CART_ADDED, (long long)qty,
		    fmt_short(p.name, 60, name, sizeof(name)));
	}
	if (lead[0] == '\0') {
		say(t, T_WHICH_PRODUCT);
		return OV_OK;
	}
	return cart_changed(t, lead);
}

static int
run_cart_set(struct turn *t, const cJSON *args)
{
	struct bot_product p;
	int64_t qty = jint(args, "cantidad");
	char lead[512], name[256];
	bool found = false;

	if (product_get(t, jint(args, "producto_id"), &p, &found) != OV_OK ||
	    !found)
		return OV_OK;
	if (conv_cart_set(&t->conv, p.id, qty) == OV_ETOOBIG) {
		say(t, T_CART_FULL);
		return OV_OK;
	}
	remember_product(t, &p, qty);
	snprintf(lead, sizeof(lead), T_CART_SET, (long long)qty,
	    fmt_short(p.name, 60, name, sizeof(name)));
	return cart_changed(t, lead);
}

static int
run_cart_remove(struct turn *t, const cJSON *args)
{
	struct bot_product p;
	char lead[512], name[256];
	bool found = false;

	if (product_get(t, jint(args, "producto_id"), &p, &found) != OV_OK ||
	    !found)
		return OV_OK;
	if (conv_cart_remove(&t->conv, p.id) != OV_OK) {
		say(t, T_CART_NOT_IN);
		return OV_OK;
	}
	fmt_short(p.name, 60, name, sizeof(name));
	if (t->conv.ncart == 0) {
		say(t, T_CART_NOW_EMPTY, name);
		t->conv.pending = CONV_PENDING_NONE;
		return OV_OK;
	}
	snprintf(lead, sizeof(lead), T_CART_REMOVED, name);
	return cart_changed(t, lead);
}

static int
run_cart_show(struct turn *t, const cJSON *args)
{
	(void)args;
	show_cart(t, NULL);
	return OV_OK;
}

/* The quote as the customer reads it: every line, totals per rate. */
static void
quote_summary(struct turn *t, const struct quote *q)
{
	char body[TURN_TEXT_MAX], a[48], item[256];

	snprintf(body, sizeof(body), T_QUOTE_HEAD, (long long)q->number);
	for (size_t i = 0; i < q->nitems; i++) {
		fmt_money(q->items[i].unit_cents, a, sizeof(a));
		cat(body, sizeof(body), T_QUOTE_LINE,
		    (long long)q->items[i].quantity, fmt_short(q->items[i].name,
		    60, item, sizeof(item)), a);
	}
	fmt_money(q->subtotal_cents, a, sizeof(a));
	cat(body, sizeof(body), T_QUOTE_SUBTOTAL, a);
	if (q->iva21_cents > 0) {
		fmt_money(q->iva21_cents, a, sizeof(a));
		cat(body, sizeof(body), T_QUOTE_IVA21, a);
	}
	if (q->iva105_cents > 0) {
		fmt_money(q->iva105_cents, a, sizeof(a));
		cat(body, sizeof(body), T_QUOTE_IVA105, a);
	}
	fmt_money(q->total_cents, a, sizeof(a));
	cat(body, sizeof(body), T_QUOTE_TOTAL, a);
	/* An unknown sender is asked for a CUIT here, once: it is when a
	 * name on the quote matters. */
	if (t->cust.cianbox_id == 0 && t->conv.cuit[0] == '\0' &&
	    t->b->cb != NULL && !t->conv.cuit_asked) {
		cat(body, sizeof(body), "\n\n%s", T_QUOTE_CUIT);
		t->conv.cuit_asked = true;
	}
	cat(body, sizeof(body), "\n%s", T_QUOTE_ASK);
	if (strlen(body) > WA_BUTTONS_BODY_MAX) {
		/* A long quote: the lines as text, the question with buttons. */
		char *ask = strrchr(body, '\n');

		*ask = '\0';
		say(t, "%s", body);
		reply_buttons(t, T_QUOTE_ASK, "quote:confirm", T_BTN_CONFIRM,
		    "quote:cancel", T_BTN_CANCEL, NULL, NULL);
		return;
	}
	reply_buttons(t, body, "quote:confirm", T_BTN_CONFIRM, "quote:cancel",
	    T_BTN_CANCEL, NULL, NULL);
}

static const char *
quote_name(const struct turn *t)
{
	if (t->cust.verified || t->conv.cuit_verified)
		return customer_label(t);
	if (t->profile_name[0] != '\0')
		return t->profile_name;
	return "Cliente";
}

static int
make_quote(struct turn *t)
{
	struct quote q;
	int rc = OV_OK;

	if (t->conv.ncart == 0) {
		say(t, T_QUOTE_NOTHING);
		return OV_OK;
	}
	quote_init(&q);
	snprintf(q.wa_id, sizeof(q.wa_id), "%s", t->wa_id);
	quote_set_customer(&q, quote_name(t), t->conv.cuit[0] ? t->conv.cuit :
	    NULL, NULL);
	for (size_t i = 0; i < t->conv.ncart && rc == OV_OK; i++) {
		rc = quote_add_product(t->b->st, &q, t->conv.cart[i].product_id,
		    t->conv.cart[i].qty);
		if (rc == OV_ENOTFOUND) {
			log_warn("quote: product %lld is not in the catalog",
			    (long long)t->conv.cart[i].product_id);
			rc = OV_OK;
		}
	}
	if (rc == OV_OK && q.nitems == 0)
		rc = OV_ENOTFOUND;
	if (rc == OV_OK && t->b->cb != NULL) {
		double rate;

		if (cianbox_usd_rate_cached(t->b->cb, 3600, &rate) == OV_OK &&
		    rate > 0 && rate * 100 < (double)QUOTE_RATE_MAX_CENTS)
			q.usd_rate_cents = to_cents(rate);
		quote_compute(&q);
	}
	if (rc == OV_OK)
		rc = quote_create(t->b->st, &q, t->b->ttl_days);
	if (rc != OV_OK) {
		log_error("cannot create a quote for %s: %s", t->wa_id,
		    ov_strerror(rc));
		say(t, T_QUOTE_FAILED);
		t->conv.pending = CONV_PENDING_HANDOFF;
		quote_clear(&q);
		return OV_OK;
	}
	quote_summary(t, &q);
	t->conv.quote_number = q.number;
	t->conv.pending = CONV_PENDING_CONFIRM;
	quote_clear(&q);
	return OV_OK;
}

static int
run_quote(struct turn *t, const cJSON *args)
{
	(void)args;
	return make_quote(t);
}

static int
pending_quote(struct turn *t, struct quote *q, bool *found)
{
	struct store_quote rec;
	int rc;

	*found = false;
	rc = store_quote_pending_for(t->b->st, t->wa_id, &rec, found);
	if (rc == OV_OK && *found) {
		rc = quote_from_record(&rec, q);
		store_quote_clear(&rec);
	}
	return rc;
}

/* The quote's PDF as a reply (rendered again: the same bytes). */
static int
send_pdf(struct turn *t, const struct quote *q)
{
	char path[QUOTE_PATH_MAX], filename[64], caption[160], link[128];
	char until[16];
	cJSON *p;
	int rc;

	if ((rc = quote_pdf_save(q, t->b->brand, t->b->pdf_dir)) != OV_OK ||
	    (rc = quote_file_path(t->b->pdf_dir, q->id, path, sizeof(path))) !=
	    OV_OK) {
		log_error("cannot render quote %lld: %s", (long long)q->number,
		    ov_strerror(rc));
		say(t, T_PDF_FAILED);
		t->conv.pending = CONV_PENDING_HANDOFF;
		return rc;
	}
	quote_format_date(q->expires_at, until, sizeof(until));
	snprintf(filename, sizeof(filename), "Presupuesto-%lld.pdf",
	    (long long)q->number);
	snprintf(caption, sizeof(caption), T_PDF_CAPTION, (long long)q->number,
	    until);
	snprintf(link, sizeof(link), "/cgi-bin/presupuesto/%s.pdf", q->id);
	say(t, T_PDF_HERE, (long long)q->number);
	if ((p = reply_add(t, "pdf")) != NULL) {
		cJSON_AddStringToObject(p, "path", path);
		cJSON_AddStringToObject(p, "filename", filename);
		cJSON_AddStringToObject(p, "caption", caption);
		cJSON_AddStringToObject(p, "link_path", link);
		cJSON_AddStringToObject(p, "quote_id", q->id);
	}
	say(t, T_PDF_AFTER);
	utf8_copy(t->conv.sent_quote, sizeof(t->conv.sent_quote), q->id);
	return OV_OK;
}

static int
run_confirm(struct turn *t, const cJSON *args)
{
	struct quote q;
	bool found = false;

	(void)args;
	quote_init(&q);
	if (pending_quote(t, &q, &found) != OV_OK || !found) {
		say(t, T_QUOTE_NONE_PENDING);
		t->conv.pending = CONV_PENDING_NONE;
		goto out;
	}
	if (quote_is_expired(&q, t->now)) {
		say(t, T_QUOTE_EXPIRED);
		t->conv.pending = CONV_PENDING_QUOTE;
		goto out;
	}
	if (send_pdf(t, &q) != OV_OK)
		goto out;
	/* The order is in the quote now: a new one starts empty. */
	conv_cart_clear(&t->conv);
	t->conv.quote_number = 0;
	t->conv.pending = CONV_PENDING_NONE;
	proactive_ask_promo(t);
out:
	quote_clear(&q);
	return OV_OK;
}

/* "Mandámelo de nuevo": the last quote sent, again, while it is valid. */
static int
run_resend(struct turn *t, const cJSON *args)
{
	struct quote q;
	bool found = false;

	(void)args;
	quote_init(&q);
	if (t->conv.sent_quote[0] == '\0' || quote_load(t->b->st,
	    t->conv.sent_quote, &q, &found) != OV_OK || !found ||
	    strcmp(q.wa_id, t->wa_id) != 0) {
		quote_clear(&q);
		/* None sent yet: the pending one, if any. */
		return run_confirm(t, args);
	}
	if (quote_is_expired(&q, t->now))
		say(t, T_QUOTE_EXPIRED);
	else
		send_pdf(t, &q);
	quote_clear(&q);
	return OV_OK;
}

static int
run_cancel(struct turn *t, const cJSON *args)
{
	struct quote q;
	bool found = false;

	(void)args;
	quote_init(&q);
	if (pending_quote(t, &q, &found) != OV_OK || !found) {
		say(t, T_CANCEL_NONE);
	} else if (quote_set_state(t->b->st, &q, QUOTE_CANCELLED) != OV_OK) {
		say(t, T_CANCEL_FAILED);
	} else {
		say(t, T_CANCEL_DONE, (long long)q.number);
		t->conv.quote_number = 0;
	}
	t->conv.pending = CONV_PENDING_NONE;
	quote_clear(&q);
	return OV_OK;
}

/* ---- the account ---------------------------------------------------- */

/* Whether account data may be shown; says why not when not. */
static bool
account_allowed(struct turn *t)
{
	if (t->cust.cianbox_id == 0) {
		say(t, T_ACCOUNT_WHO);
		t->conv.cuit_asked = true;
		t->conv.pending = CONV_PENDING_CUIT;
		return false;
	}
	if (!t->cust.verified) {
		say(t, T_ACCOUNT_NOT_YOURS);
		t->conv.pending = CONV_PENDING_NONE;
		return false;
	}
	return true;
}

/* The customer's record: fresh from Cianbox when it answers, else the
 * synced copy. */
static int
account_client(struct turn *t, struct cianbox_cliente *c, bool *found)
{
	int rc = OV_EIO;

	*found = false;
	if (t->b->cb != NULL) {
		rc = cianbox_cliente_by_id(t->b->cb, t->cust.cianbox_id, c, found);
		if (rc != OV_OK)
			log_warn("account of %s: %s; using the synced copy",
			    t->wa_id, cianbox_last_error(t->b->cb));
	}
	if (rc != OV_OK)
		rc = customer_client_get(t->b->st, t->cust.cianbox_id, c, found);
	return rc;
}

static int
run_balance(struct turn *t, const cJSON *args)
{
	struct cianbox_cliente c;
	char saldo[48], limite[48], plazo[64];
	bool found = false;

	(void)args;
	if (!account_allowed(t))
		return OV_OK;
	if (account_client(t, &c, &found) != OV_OK || !found) {
		log_warn("balance for %s: customer %lld not found", t->wa_id,
		    (long long)t->cust.cianbox_id);
		say(t, T_ACCOUNT_DOWN);
		t->conv.pending = CONV_PENDING_HANDOFF;
		return OV_OK;
	}
	fmt_money(to_cents(c.saldo), saldo, sizeof(saldo));
	fmt_money(to_cents(c.limite), limite, sizeof(limite));
	plazo[0] = '\0';
	if (c.plazo > 0)
		snprintf(plazo, sizeof(plazo), T_BALANCE_TERM, (long long)c.plazo);
	if (!c.ctacte) {
		say(t, T_BALANCE_NO_CTACTE);
		t->conv.pending = CONV_PENDING_NONE;
		return OV_OK;
	}
	if (c.saldo > 0.004)
		say(t, T_BALANCE_OWED, saldo, limite, plazo);
	else
		say(t, T_BALANCE_CLEAR, limite, plazo);
	t->conv.pending = CONV_PENDING_INVOICES;
	return OV_OK;
}

static int
run_invoices(struct turn *t, const cJSON *args)
{
	struct cianbox_cliente c;
	struct cianbox_venta v[INVOICES_SHOWN];
	char text[TURN_TEXT_MAX], date[16], total[48];
	size_t n = 0;
	bool found = false;

	(void)args;
	if (!account_allowed(t))
		return OV_OK;
	if (t->b->cb == NULL || account_client(t, &c, &found) != OV_OK ||
	    !found || c.numero_documento[0] == '\0' ||
	    cianbox_ventas_recent(t->b->cb, c.numero_documento, INVOICES_SHOWN,
	    v, &n) != OV_OK) {
		log_warn("invoices for %s: %s", t->wa_id, t->b->cb == NULL ?
		    "Cianbox not configured" : cianbox_last_error(t->b->cb));
		if (t->b->cb != NULL && found && c.numero_documento[0] != '\0' &&
		    invoices_failed(t->b->st, t->cust.cianbox_id, t->now) !=
		    OV_OK)
			log_warn("invoices for %s: the failure not kept", t->wa_id);
		say(t, T_INVOICES_DOWN);
		t->conv.pending = CONV_PENDING_HANDOFF;
		return OV_OK;
	}
	/* The inbox shows the salesperson the same copy. */
	if (invoices_put(t->b->st, t->cust.cianbox_id, c.numero_documento, v,
	    n, t->now) != OV_OK)
		log_warn("invoices for %s: not kept in the store", t->wa_id);
	t->conv.pending = CONV_PENDING_NONE;
	if (n == 0) {
		say(t, T_INVOICES_NONE);
		return OV_OK;
	}
	snprintf(text, sizeof(text), T_INVOICES_HEAD);
	for (size_t i = 0; i < n; i++) {
		if (v[i].anulado)
			continue;
		date_ar(v[i].fecha, date, sizeof(date));
		if (v[i].id_moneda == 1) {
			char num[40];

			if (quote_format_cents(to_cents(v[i].total), num,
			    sizeof(num)) != OV_OK)
				snprintf(num, sizeof(num), "?");
			snprintf(total, sizeof(total), "$ %s", num);
		} else {
			fmt_money(to_cents(v[i].total), total, sizeof(total));
		}
		cat(text, sizeof(text), T_INVOICES_LINE, date, v[i].tipo,
		    v[i].tipo[0] ? " " : "", v[i].punto_venta, v[i].numero, total,
		    v[i].cta_cte ? T_INVOICE_CTACTE : T_INVOICE_CASH);
	}
	cat(text, sizeof(text), T_INVOICES_END);
	say(t, "%s", text);
	return OV_OK;
}

/* ---- the business and people ---------------------------------------- */

static int handoff(struct turn *t, const char *why, bool complaint);

static int
run_business(struct turn *t, const cJSON *args)
{
	enum business_topic topic;
	char text[TURN_TEXT_MAX];

	int day = -1;

	if (t->b->biz != NULL && business_topic_parse(jstr(args, "tema"),
	    &topic) == OV_OK && topic == BUSINESS_HOURS && t->cur_text != NULL)
		day = business_question_day(t->cur_text, t->now);
	if (day >= 0 && business_day_text(t->b->biz, t->now, day, text,
	    sizeof(text)) == OV_OK) {
		utf8_copy(t->conv.biz_topic, sizeof(t->conv.biz_topic),
		    "horario");
		say(t, "%s", text);
		return OV_OK;
	}
	utf8_copy(t->conv.biz_topic, sizeof(t->conv.biz_topic),
	    jstr(args, "tema"));
	if (t->b->biz == NULL || business_topic_parse(jstr(args, "tema"),
	    &topic) != OV_OK || !business_has(t->b->biz, topic) ||
	    business_answer(t->b->biz, topic, text, sizeof(text)) != OV_OK) {
		/* Nothing written down: a person answers, never a search. */
		return handoff(t, jstr(args, "tema"), false);
	}
	say(t, "%s", text);
	return OV_OK;
}

static int
handoff(struct turn *t, const char *why, bool complaint)
{
	struct bot *b = t->b;
	char text[TURN_TEXT_MAX], when[128], link[512];
	char phone[512];
	bool told;

	link[0] = '\0';
	if (b->public_base != NULL)
		snprintf(link, sizeof(link), "%s/cgi-bin/inbox/c/%s",
		    b->public_base, t->wa_id);
	told = notify_handoff(t, why, link[0] ? link : NULL);
	text[0] = '\0';
	if (complaint)
		cat(text, sizeof(text), "%s ", T_SORRY);
	if (!told) {
		/* Only what happened is promised. */
		cat(text, sizeof(text), T_HANDOFF_NOBODY);
		if (business_answer(b->biz, BUSINESS_PHONE, phone,
		    sizeof(phone)) == OV_OK)
			cat(text, sizeof(text), " %s", phone);
		log_warn("handoff for %s: no salesperson could be told",
		    t->wa_id);
		say(t, "%s", text);
		t->conv.pending = CONV_PENDING_NONE;
		return OV_OK;
	}
	if (b->biz != NULL && !business_is_open(b->biz, t->now) &&
	    business_next_open_text(b->biz, t->now, when, sizeof(when)) == OV_OK)
		cat(text, sizeof(text), T_HANDOFF_LATER, when);
	else
		cat(text, sizeof(text), T_HANDOFF_NOW);
	say(t, "%s", text);
	t->conv.owner = CONV_OWNER_AGENT;
	snprintf(t->conv.agent, sizeof(t->conv.agent), "handoff");
	t->conv.owner_until = t->now + b->handoff_hours * 3600;
	t->conv.pending = CONV_PENDING_NONE;
	t->handed_off = true;
	log_info("handoff for %s; quiet for %ld h", t->wa_id, b->handoff_hours);
	return OV_OK;
}

static int
run_handoff(struct turn *t, const cJSON *args)
{
	return handoff(t, jstr(args, "motivo"), jtrue(args, "reclamo") ||
	    t->complaint);
}

static int
run_promo(struct turn *t, const cJSON *args)
{
	if (jtrue(args, "acepta")) {
		t->conv.profile.opted_out = false;
		t->conv.profile.promo = CONV_PROMO_YES;
		say(t, T_OPTED_IN);
	} else {
		t->conv.profile.opted_out = true;
		t->conv.profile.promo = CONV_PROMO_NO;
		say(t, T_OPTED_OUT);
	}
	t->conv.profile.promo_asked = true;
	t->conv.pending = CONV_PENDING_NONE;
	return OV_OK;
}

/* ---- proactive messages: a quote reminder's "Renovar" ----------------- */

/* The same items at today's prices, as a new quote shown to confirm. */
static int
run_renew(struct turn *t, const cJSON *args)
{
	struct quote q;
	bool found = false;
	int rc;

	quote_init(&q);
	rc = quote_load(t->b->st, jstr(args, "presupuesto_id"), &q, &found);
	if (rc != OV_OK || !found || strcmp(q.wa_id, t->wa_id) != 0 ||
	    q.nitems == 0) {
		say(t, T_RENEW_NONE);
		t->conv.pending = CONV_PENDING_QUOTE;
		quote_clear(&q);
		return OV_OK;
	}
	conv_cart_clear(&t->conv);
	for (size_t i = 0; i < q.nitems; i++)
		if (q.items[i].product_id > 0)
			conv_cart_add(&t->conv, q.items[i].product_id,
			    q.items[i].quantity);
	quote_clear(&q);
	return make_quote(t);
}

/* ---- the table ------------------------------------------------------ */

#define ID_MAX 999999999999LL

static const struct llm_param p_search[] = {
	{ .name = "consulta", .type = LLM_STRING, .required = 1,
	  .description = "Qué busca el cliente (tipo, marca, modelo, medida)",
	  .min_len = 1, .max_len = 200 },
	{ .name = "con_iva", .type = LLM_BOOLEAN,
	  .description = "true si pidió el precio con IVA" },
};
static const struct llm_param p_product[] = {
	{ .name = "producto_id", .type = LLM_INTEGER, .required = 1,
	  .description = "id del producto (de una lista mostrada)",
	  .imin = 1, .imax = ID_MAX },
	{ .name = "con_iva", .type = LLM_BOOLEAN,
	  .description = "true si pidió el precio con IVA" },
	{ .name = "solo_precio", .type = LLM_BOOLEAN,
	  .description = "true si solo preguntó el precio" },
};
static const struct llm_param p_photo[] = {
	{ .name = "producto_id", .type = LLM_INTEGER, .required = 1,
	  .description = "id del producto (de una lista mostrada)",
	  .imin = 1, .imax = ID_MAX },
};
static const struct llm_param p_stock[] = {
	{ .name = "producto_id", .type = LLM_INTEGER, .required = 1,
	  .description = "id del producto", .imin = 1, .imax = ID_MAX },
	{ .name = "cantidad", .type = LLM_INTEGER, .required = 1,
	  .description = "unidades que necesita", .imin = 1,
	  .imax = CONV_QTY_MAX },
	{ .name = "con_iva", .type = LLM_BOOLEAN,
	  .description = "true si pidió el precio con IVA" },
};
static const struct llm_param p_line[] = {
	{ .name = "producto_id", .type = LLM_INTEGER, .required = 1,
	  .description = "id del producto", .imin = 1, .imax = ID_MAX },
	{ .name = "cantidad", .type = LLM_INTEGER, .required = 1,
	  .description = "unidades", .imin = 1, .imax = CONV_QTY_MAX },
};
static const struct llm_param p_cart_add[] = {
	{ .name = "items", .type = LLM_ARRAY, .required = 1,
	  .description = "productos y cantidades a sumar al pedido",
	  .min_items = 1, .max_items = ITEMS_TOOL, .items = p_line,
	  .nitems = 2 },
};
static const struct llm_param p_cart_remove[] = {
	{ .name = "producto_id", .type = LLM_INTEGER, .required = 1,
	  .description = "id del producto a sacar del pedido", .imin = 1,
	  .imax = ID_MAX },
};
static const char *const topics[] = {
	"horario", "direccion", "pagos", "envios", "garantia", "web",
	"telefono", "retiro", NULL
};
static const struct llm_param p_business[] = {
	{ .name = "tema", .type = LLM_STRING, .required = 1,
	  .description = "qué quiere saber del negocio", .min_len = 1,
	  .max_len = 20, .enum_values = topics },
};
static const struct llm_param p_handoff[] = {
	{ .name = "motivo", .type = LLM_STRING,
	  .description = "por qué quiere hablar con una persona",
	  .min_len = 1, .max_len = 300 },
	{ .name = "reclamo", .type = LLM_BOOLEAN,
	  .description = "true si es un reclamo, un enojo o una urgencia" },
};
static const struct llm_param p_renew[] = {
	{ .name = "presupuesto_id", .type = LLM_STRING, .required = 1,
	  .description = "id del presupuesto a renovar", .min_len = 36,
	  .max_len = 36 },
};
static const struct llm_param p_promo[] = {
	{ .name = "acepta", .type = LLM_BOOLEAN, .required = 1,
	  .description = "true: quiere recibir promociones; false: la baja" },
};

#define ROW(n, d, p, f) { { n, d, p, sizeof(p) / sizeof(p[0]) }, f }
#define ROW0(n, d, f) { { n, d, NULL, 0 }, f }

static const struct action table[] = {
	ROW(A_SEARCH, "Busca productos del catálogo con precio y stock y se "
	    "los muestra al cliente como lista numerada.", p_search, run_search),
	ROW(A_PRODUCT, "Muestra un producto (precio, stock, código). Usalo "
	    "cuando el cliente elige uno de la lista (\"la primera\", \"la "
	    "2\", \"esa\").", p_product, run_product),
	ROW(A_PHOTO, "Manda la foto de un producto con su nombre y precio "
	    "(\"tenés foto?\", \"mandame una foto de la 2\").", p_photo,
	    run_photo),
	ROW(A_STOCK, "Dice si hay stock para una cantidad de un producto y "
	    "ofrece alternativas si no alcanza.", p_stock, run_stock),
	ROW(A_CART_ADD, "Suma productos con su cantidad al pedido del "
	    "cliente y le muestra el pedido.", p_cart_add, run_cart_add),
	ROW(A_CART_SET, "Cambia la cantidad de un producto del pedido (\"que "
	    "sean 12\").", p_line, run_cart_set),
	ROW(A_CART_REMOVE, "Saca un producto del pedido.", p_cart_remove,
	    run_cart_remove),
	ROW0(A_CART_SHOW, "Muestra el pedido del cliente (\"¿qué llevo?\").",
	    run_cart_show),
	ROW0(A_QUOTE, "Arma el presupuesto con todo el pedido y se lo "
	    "muestra al cliente para confirmar.", run_quote),
	ROW0(A_CONFIRM, "El cliente confirma el presupuesto que le "
	    "mostramos: se le envía el PDF.", run_confirm),
	ROW0(A_CANCEL, "Cancela el presupuesto pendiente.", run_cancel),
	ROW0(A_RESEND, "Vuelve a mandar el PDF del último presupuesto "
	    "enviado (\"mandámelo de nuevo\").", run_resend),
	ROW0(A_BALANCE, "Saldo de la cuenta corriente del cliente.",
	    run_balance),
	ROW0(A_INVOICES, "Últimas facturas del cliente.", run_invoices),
	ROW(A_BUSINESS, "Horarios, dirección, formas de pago, envíos, "
	    "garantía, web, teléfono o retiro del negocio.", p_business,
	    run_business),
	ROW(A_HANDOFF, "Pasa la conversación a un vendedor (lo pide el "
	    "cliente, un reclamo, algo que no sabés).", p_handoff, run_handoff),
	ROW(A_PROMO, "El cliente quiere (o no) recibir promociones.", p_promo,
	    run_promo),
	ROW(A_RENEW, "Renueva un presupuesto (los mismos productos con los "
	    "precios de hoy) como uno nuevo para confirmar.", p_renew,
	    run_renew),
};
#define NACTIONS (sizeof(table) / sizeof(table[0]))

static struct llm_tool tools[NACTIONS];

const struct action *
actions_table(size_t *n)
{
	*n = NACTIONS;
	return table;
}

const struct llm_tool *
actions_tools(size_t *n)
{
	if (tools[0].name == NULL)
		for (size_t i = 0; i < NACTIONS; i++)
			tools[i] = table[i].tool;
	*n = NACTIONS;
	return tools;
}

int
action_call(struct turn *t, const char *name, const cJSON *args)
{
	const struct llm_tool *tl;
	cJSON *valid = NULL;
	char *json = NULL, err[256];
	const char *prev = t->action;
	size_t n;
	int rc;

	tl = actions_tools(&n);
	if (args != NULL && (json = cJSON_PrintUnformatted(args)) == NULL)
		return OV_ENOMEM;
	rc = llm_validate_arguments(tl, n, name, json != NULL ? json : "",
	    &valid, err, sizeof(err));
	free(json);
	if (rc != OV_OK) {
		log_error("action %s refused: %s", name, err);
		return rc;
	}
	for (size_t i = 0; i < NACTIONS; i++) {
		if (strcmp(table[i].tool.name, name) != 0)
			continue;
		log_debug("action %s for %s", name, t->wa_id);
		t->action = table[i].tool.name;
		rc = table[i].run(t, valid);
		t->action = prev;
		break;
	}
	cJSON_Delete(valid);
	return rc;
}

char *
action_result(struct turn *t, size_t before)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	char *s;

	if (o == NULL)
		return NULL;
	cJSON_AddBoolToObject(o, "mostrado_al_cliente", t->nreplies > before);
	arr = cJSON_AddArrayToObject(o, "mensajes");
	for (size_t i = before; i < t->nreplies && arr != NULL; i++) {
		char *d = outbox_describe(t->replies[i].kind,
		    t->replies[i].payload);

		if (d != NULL && strlen(d) > LLM_TOOL_RESULT_MAX / 4)
			d[utf8_cut(d, strlen(d), LLM_TOOL_RESULT_MAX / 4)] = '\0';
		cJSON_AddItemToArray(arr, cJSON_CreateString(d ? d : ""));
		free(d);
	}
	if (t->conv.nlist > 0) {
		cJSON *ids = cJSON_AddArrayToObject(o, "lista_ids");

		for (size_t i = 0; i < t->conv.nlist && ids != NULL; i++)
			cJSON_AddItemToArray(ids,
			    cJSON_CreateNumber((double)t->conv.list[i]));
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}
