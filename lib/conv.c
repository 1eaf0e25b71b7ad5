/*
 * conv.c - the conversation's state and its one codec. See conv.h.
 *
 * The document (struct store_conv.doc) holds everything but the indexed
 * fields (owner, agent, last_inbound):
 *   {"v": 1, "owner_until", "pending": "<name>", "list": [ids],
 *    "list_query", "last_product", "last_qty", "cart": [{"id", "qty"}],
 *    "quote_number", "greeted_day", "introduced", "cuit_asked", "cuit",
 *    "razon", "cuit_verified", "topic",
 *    "profile": {"brands": [...], "promo": "yes"|"no"|"unknown",
 *                "promo_asked", "opted_out", "birthday": "MM-DD"}}
 * Reading is tolerant: a member missing, of the wrong type or out of its
 * bounds keeps its default, so a record written by another version (or
 * by hand) still opens. Texts too long are cut at a character boundary.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "conv.h"
#include "err.h"
#include "utf8.h"

#define CONV_DOC_VERSION 1

static const char *const pending_names[CONV_PENDING__COUNT] = {
	[CONV_PENDING_NONE] = "none",
	[CONV_PENDING_QTY] = "qty",
	[CONV_PENDING_ADD] = "add",
	[CONV_PENDING_QUOTE] = "quote",
	[CONV_PENDING_CONFIRM] = "confirm",
	[CONV_PENDING_HANDOFF] = "handoff",
	[CONV_PENDING_INVOICES] = "invoices",
	[CONV_PENDING_ALT] = "alt",
	[CONV_PENDING_CUIT] = "cuit",
	[CONV_PENDING_PROMO] = "promo",
};

static const char *const promo_names[] = {
	[CONV_PROMO_UNKNOWN] = "unknown",
	[CONV_PROMO_YES] = "yes",
	[CONV_PROMO_NO] = "no",
};

const char *
conv_pending_name(enum conv_pending p)
{
	if ((int)p < 0 || p >= CONV_PENDING__COUNT)
		return pending_names[CONV_PENDING_NONE];
	return pending_names[p];
}

enum conv_pending
conv_pending_parse(const char *name)
{
	if (name == NULL)
		return CONV_PENDING_NONE;
	for (int i = 0; i < CONV_PENDING__COUNT; i++)
		if (strcmp(name, pending_names[i]) == 0)
			return (enum conv_pending)i;
	return CONV_PENDING_NONE;
}

/* Copy text into a buffer of cap bytes, cut at a character boundary;
 * invalid UTF-8 is refused (dst left as it was). */
static void
text_copy(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (src == NULL)
		return;
	n = strlen(src);
	if (!utf8_valid(src, n))
		return;
	if (n >= cap)
		n = utf8_cut(src, n, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
conv_init(struct conv *c, const char *key)
{
	memset(c, 0, sizeof(*c));
	if (key != NULL)
		snprintf(c->key, sizeof(c->key), "%s", key);
}

/* ---- reading ---------------------------------------------------------- */

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A whole number in [lo, hi], or def. */
static int64_t
jint(const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	double d;

	if (!cJSON_IsNumber(v))
		return def;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
		return def;
	return (int64_t)d;
}

static bool
jbool(const cJSON *o, const char *key, bool def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* A product id: a whole number >= 1 (JSON numbers are doubles: 2^53). */
#define ID_MAX ((int64_t)1 << 53)

static bool
all_digits(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "YYYY-MM-DD" (greeted_day) */
static bool
valid_day(const char *s)
{
	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (size_t i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	return true;
}

/* "MM-DD" with a month 01..12 and a day 01..31. */
static bool
valid_birthday(const char *s)
{
	int mm, dd;

	if (s == NULL || strlen(s) != 5 || s[2] != '-' ||
	    s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '9' || s[4] < '0' || s[4] > '9')
		return false;
	mm = (s[0] - '0') * 10 + (s[1] - '0');
	dd = (s[3] - '0') * 10 + (s[4] - '0');
	return mm >= 1 && mm <= 12 && dd >= 1 && dd <= 31;
}

static void
read_list(const cJSON *doc, struct conv *c)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "list"), *it;

	c->nlist = 0;
	cJSON_ArrayForEach(it, arr) {
		double d;

		if (c->nlist == CONV_LIST_MAX)
			break;
		if (!cJSON_IsNumber(it))
			continue;
		d = it->valuedouble;
		if (!isfinite(d) || d != floor(d) || d < 1 ||
		    d > (double)ID_MAX)
			continue;
		c->list[c->nlist++] = (int64_t)d;
	}
}

static void
read_cart(const cJSON *doc, struct conv *c)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "cart"), *it;

	c->ncart = 0;
	cJSON_ArrayForEach(it, arr) {
		int64_t id = jint(it, "id", 1, ID_MAX, 0);
		int64_t qty = jint(it, "qty", 1, CONV_QTY_MAX, 0);

		if (c->ncart == CONV_CART_MAX)
			break;
		if (id == 0 || qty == 0 || conv_cart_find(c, id) >= 0)
			continue;
		c->cart[c->ncart].product_id = id;
		c->cart[c->ncart].qty = qty;
		c->ncart++;
	}
}

static void
read_profile(const cJSON *doc, struct conv_profile *p)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "profile");
	const cJSON *arr, *it;
	const char *s;

	if (!cJSON_IsObject(o))
		return;
	arr = cJSON_GetObjectItemCaseSensitive(o, "brands");
	cJSON_ArrayForEach(it, arr) {
		if (p->nbrands == CONV_BRANDS_MAX)
			break;
		if (!cJSON_IsString(it) || it->valuestring[0] == '\0')
			continue;
		text_copy(p->brands[p->nbrands], sizeof(p->brands[0]),
		    it->valuestring);
		if (p->brands[p->nbrands][0] != '\0')
			p->nbrands++;
	}
	s = jstr(o, "promo");
	for (size_t i = 0; s != NULL && i < sizeof(promo_names) /
	    sizeof(promo_names[0]); i++)
		if (strcmp(s, promo_names[i]) == 0)
			p->promo = (enum conv_promo)i;
	p->promo_asked = jbool(o, "promo_asked", false);
	p->opted_out = jbool(o, "opted_out", false);
	s = jstr(o, "birthday");
	if (valid_birthday(s))
		snprintf(p->birthday, sizeof(p->birthday), "%s", s);
}

int
conv_from_store(const struct store_conv *in, struct conv *c)
{
	cJSON *doc = NULL;
	const char *s;

	if (in == NULL || c == NULL)
		return OV_EINVAL;
	conv_init(c, in->key);
	if (strcmp(in->owner, "agent") == 0) {
		c->owner = CONV_OWNER_AGENT;
		text_copy(c->agent, sizeof(c->agent), in->agent);
	}
	c->last_inbound = in->last_inbound > 0 ? in->last_inbound : 0;
	if (in->doc != NULL)
		doc = cJSON_Parse(in->doc);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return OV_OK;   /* a broken document: the defaults */
	}
	c->owner_until = jint(doc, "owner_until", 0, INT64_MAX / 2, 0);
	c->pending = conv_pending_parse(jstr(doc, "pending"));
	read_list(doc, c);
	text_copy(c->list_query, sizeof(c->list_query),
	    jstr(doc, "list_query"));
	c->last_product = jint(doc, "last_product", 1, ID_MAX, 0);
	c->last_qty = jint(doc, "last_qty", 1, CONV_QTY_MAX, 0);
	read_cart(doc, c);
	c->quote_number = jint(doc, "quote_number", 1, ID_MAX, 0);
	text_copy(c->sent_quote, sizeof(c->sent_quote), jstr(doc, "sent_quote"));
	s = jstr(doc, "greeted_day");
	if (valid_day(s))
		snprintf(c->greeted_day, sizeof(c->greeted_day), "%s", s);
	c->introduced = jbool(doc, "introduced", false);
	c->cuit_asked = jbool(doc, "cuit_asked", false);
	s = jstr(doc, "cuit");
	if (all_digits(s, 11))
		snprintf(c->cuit, sizeof(c->cuit), "%s", s);
	text_copy(c->razon, sizeof(c->razon), jstr(doc, "razon"));
	c->cuit_verified = jbool(doc, "cuit_verified", false);
	text_copy(c->topic, sizeof(c->topic), jstr(doc, "topic"));
	text_copy(c->biz_topic, sizeof(c->biz_topic), jstr(doc, "biz_topic"));
	read_profile(doc, &c->profile);
	cJSON_Delete(doc);
	return OV_OK;
}

/* ---- v1: the profile JSON of clientes ------------------------------- */

/* v1's "pending" strings (lib/bot.c before conversaciones). */
static const struct {
	const char *v1;
	enum conv_pending p;
} v1_pending[] = {
	{ "qty", CONV_PENDING_QTY },
	{ "quote_qty", CONV_PENDING_QTY },   /* the quantity for a quote */
	{ "quote", CONV_PENDING_QUOTE },
	{ "confirm", CONV_PENDING_CONFIRM },
	{ "invoices", CONV_PENDING_INVOICES },
	{ "handoff", CONV_PENDING_HANDOFF },
	{ "alt", CONV_PENDING_ALT },
};

int
conv_from_profile(const char *key, const char *profile_json, struct conv *c)
{
	cJSON *doc = NULL;
	const char *s;
	int64_t until;

	if (c == NULL)
		return OV_EINVAL;
	conv_init(c, key);
	if (profile_json != NULL)
		doc = cJSON_Parse(profile_json);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return OV_OK;
	}
	s = jstr(doc, "pending");
	for (size_t i = 0; s != NULL && i < sizeof(v1_pending) /
	    sizeof(v1_pending[0]); i++)
		if (strcmp(s, v1_pending[i].v1) == 0)
			c->pending = v1_pending[i].p;
	c->last_product = jint(doc, "last_product", 1, ID_MAX, 0);
	c->last_qty = jint(doc, "last_qty", 1, CONV_QTY_MAX, 0);
	text_copy(c->list_query, sizeof(c->list_query),
	    jstr(doc, "last_query"));
	s = jstr(doc, "greeted");
	if (valid_day(s))
		snprintf(c->greeted_day, sizeof(c->greeted_day), "%s", s);
	c->introduced = jbool(doc, "intro", false);
	c->cuit_asked = jbool(doc, "cuit_asked", false);
	/* v1 kept Cianbox's numero_documento as it came: only a CUIT's 11
	 * digits (dashes left out) are one. */
	s = jstr(doc, "cuit");
	if (s != NULL) {
		char digits[12];
		size_t n = 0;
		bool ok = true;

		for (const char *p = s; *p != '\0' && ok; p++) {
			if (*p >= '0' && *p <= '9') {
				if (n == 11)
					ok = false;
				else
					digits[n++] = *p;
			} else if (*p != '-' && *p != ' ' && *p != '.') {
				ok = false;
			}
		}
		if (ok && n == 11) {
			memcpy(c->cuit, digits, 11);
			c->cuit[11] = '\0';
		}
	}
	text_copy(c->razon, sizeof(c->razon), jstr(doc, "razon"));
	/* v1's hand-off kept Ovidio quiet until then: a salesperson owns
	 * the conversation until then. */
	until = jint(doc, "handoff_until", 1, INT64_MAX / 2, 0);
	if (until > 0) {
		c->owner = CONV_OWNER_AGENT;
		snprintf(c->agent, sizeof(c->agent), "handoff");
		c->owner_until = until;
	}
	cJSON_Delete(doc);
	return OV_OK;
}

/* ---- writing ---------------------------------------------------------- */

/* Members added in order; NULL from cJSON (out of memory) is checked once
 * at the end through `ok`. */
static void
add_num(cJSON *o, const char *key, int64_t v, bool *ok)
{
	if (cJSON_AddNumberToObject(o, key, (double)v) == NULL)
		*ok = false;
}

static void
add_str(cJSON *o, const char *key, const char *v, bool *ok)
{
	if (cJSON_AddStringToObject(o, key, v) == NULL)
		*ok = false;
}

static void
add_bool(cJSON *o, const char *key, bool v, bool *ok)
{
	if (cJSON_AddBoolToObject(o, key, v) == NULL)
		*ok = false;
}

static cJSON *
profile_json(const struct conv_profile *p, bool *ok)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	if (o == NULL) {
		*ok = false;
		return NULL;
	}
	arr = cJSON_AddArrayToObject(o, "brands");
	if (arr == NULL)
		*ok = false;
	for (size_t i = 0; arr != NULL && i < p->nbrands && i < CONV_BRANDS_MAX;
	    i++) {
		cJSON *s = cJSON_CreateString(p->brands[i]);

		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			*ok = false;
		}
	}
	add_str(o, "promo", (int)p->promo >= 0 && p->promo <= CONV_PROMO_NO ?
	    promo_names[p->promo] : promo_names[CONV_PROMO_UNKNOWN], ok);
	add_bool(o, "promo_asked", p->promo_asked, ok);
	add_bool(o, "opted_out", p->opted_out, ok);
	add_str(o, "birthday", p->birthday, ok);
	return o;
}

int
conv_to_store(const struct conv *c, struct store_conv *out)
{
	cJSON *doc = NULL, *arr, *line, *prof;
	bool ok = true;
	char *text = NULL;

	if (c == NULL || out == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	snprintf(out->key, sizeof(out->key), "%s", c->key);
	if (c->owner == CONV_OWNER_AGENT) {
		snprintf(out->owner, sizeof(out->owner), "agent");
		snprintf(out->agent, sizeof(out->agent), "%s", c->agent);
	} else {
		snprintf(out->owner, sizeof(out->owner), "bot");
	}
	out->last_inbound = c->last_inbound;
	if ((doc = cJSON_CreateObject()) == NULL)
		return OV_ENOMEM;
	add_num(doc, "v", CONV_DOC_VERSION, &ok);
	add_num(doc, "owner_until", c->owner_until, &ok);
	add_str(doc, "pending", conv_pending_name(c->pending), &ok);
	if ((arr = cJSON_AddArrayToObject(doc, "list")) == NULL)
		ok = false;
	for (size_t i = 0; arr != NULL && i < c->nlist && i < CONV_LIST_MAX;
	    i++) {
		cJSON *n = cJSON_CreateNumber((double)c->list[i]);

		if (n == NULL || !cJSON_AddItemToArray(arr, n)) {
			cJSON_Delete(n);
			ok = false;
		}
	}
	add_str(doc, "list_query", c->list_query, &ok);
	add_num(doc, "last_product", c->last_product, &ok);
	add_num(doc, "last_qty", c->last_qty, &ok);
	if ((arr = cJSON_AddArrayToObject(doc, "cart")) == NULL)
		ok = false;
	for (size_t i = 0; arr != NULL && i < c->ncart && i < CONV_CART_MAX;
	    i++) {
		if ((line = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(arr, line)) {
			cJSON_Delete(line);
			ok = false;
			continue;
		}
		add_num(line, "id", c->cart[i].product_id, &ok);
		add_num(line, "qty", c->cart[i].qty, &ok);
	}
	add_num(doc, "quote_number", c->quote_number, &ok);
	add_str(doc, "sent_quote", c->sent_quote, &ok);
	add_str(doc, "greeted_day", c->greeted_day, &ok);
	add_bool(doc, "introduced", c->introduced, &ok);
	add_bool(doc, "cuit_asked", c->cuit_asked, &ok);
	add_str(doc, "cuit", c->cuit, &ok);
	add_str(doc, "razon", c->razon, &ok);
	add_bool(doc, "cuit_verified", c->cuit_verified, &ok);
	add_str(doc, "topic", c->topic, &ok);
	add_str(doc, "biz_topic", c->biz_topic, &ok);
	prof = profile_json(&c->profile, &ok);
	if (prof != NULL && !cJSON_AddItemToObject(doc, "profile", prof)) {
		cJSON_Delete(prof);
		ok = false;
	}
	if (ok)
		text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (text == NULL)
		return OV_ENOMEM;
	out->doc = text;
	return OV_OK;
}

/* ---- the cart --------------------------------------------------------- */

int
conv_cart_find(const struct conv *c, int64_t product_id)
{
	for (size_t i = 0; i < c->ncart; i++)
		if (c->cart[i].product_id == product_id)
			return (int)i;
	return -1;
}

static int
cart_append(struct conv *c, int64_t product_id, int64_t qty)
{
	if (c->ncart >= CONV_CART_MAX)
		return OV_ETOOBIG;
	c->cart[c->ncart].product_id = product_id;
	c->cart[c->ncart].qty = qty;
	c->ncart++;
	return OV_OK;
}

int
conv_cart_add(struct conv *c, int64_t product_id, int64_t qty)
{
	int i;

	if (product_id < 1 || qty < 1 || qty > CONV_QTY_MAX)
		return OV_EINVAL;
	if ((i = conv_cart_find(c, product_id)) < 0)
		return cart_append(c, product_id, qty);
	c->cart[i].qty = c->cart[i].qty > CONV_QTY_MAX - qty ? CONV_QTY_MAX :
	    c->cart[i].qty + qty;
	return OV_OK;
}

int
conv_cart_set(struct conv *c, int64_t product_id, int64_t qty)
{
	int i;

	if (product_id < 1 || qty < 0 || qty > CONV_QTY_MAX)
		return OV_EINVAL;
	i = conv_cart_find(c, product_id);
	if (qty == 0) {
		if (i >= 0)
			conv_cart_remove(c, product_id);
		return OV_OK;
	}
	if (i < 0)
		return cart_append(c, product_id, qty);
	c->cart[i].qty = qty;
	return OV_OK;
}

int
conv_cart_remove(struct conv *c, int64_t product_id)
{
	int i = conv_cart_find(c, product_id);

	if (i < 0)
		return OV_ENOTFOUND;
	/* The order the customer built it in stays. */
	memmove(&c->cart[i], &c->cart[i + 1],
	    (c->ncart - (size_t)i - 1) * sizeof(c->cart[0]));
	c->ncart--;
	return OV_OK;
}

void
conv_cart_clear(struct conv *c)
{
	memset(c->cart, 0, sizeof(c->cart));
	c->ncart = 0;
}

/* ---- memory ----------------------------------------------------------- */

void
conv_set_list(struct conv *c, const int64_t *ids, size_t n, const char *query)
{
	c->nlist = 0;
	for (size_t i = 0; ids != NULL && i < n && c->nlist < CONV_LIST_MAX;
	    i++)
		if (ids[i] > 0)
			c->list[c->nlist++] = ids[i];
	c->list_query[0] = '\0';
	text_copy(c->list_query, sizeof(c->list_query), query);
}

void
conv_note_brand(struct conv *c, const char *brand)
{
	struct conv_profile *p = &c->profile;
	char b[CONV_BRAND_MAX + 1] = "";
	size_t at;

	text_copy(b, sizeof(b), brand);
	if (b[0] == '\0')
		return;
	/* Already there (in any case): moves to the front. */
	for (at = 0; at < p->nbrands; at++)
		if (strcasecmp(p->brands[at], b) == 0)
			break;
	if (at == p->nbrands) {
		if (p->nbrands < CONV_BRANDS_MAX)
			p->nbrands++;
		at = p->nbrands - 1;   /* the oldest goes when full */
	}
	memmove(p->brands[1], p->brands[0], at * sizeof(p->brands[0]));
	memcpy(p->brands[0], b, sizeof(b));
}
