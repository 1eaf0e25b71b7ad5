/*
 * reply.c - what one turn says, as WhatsApp messages: texts, buttons,
 * product lists, PDFs; joined into as few messages as read well (Meta
 * bills each). See turn.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot_catalog.h"
#include "copy_es.h"
#include "err.h"
#include "quote.h"
#include "turn.h"
#include "whatsapp.h"

void
fmt_money(int64_t cents, char *buf, size_t len)
{
	char n[40];

	if (quote_format_cents(cents, n, sizeof(n)) != OV_OK)
		snprintf(n, sizeof(n), "?");
	snprintf(buf, len, "USD %s", n);
}

static void
fmt_amount(const struct bot_product *p, int64_t cents, char *buf, size_t len)
{
	char n[40];

	if (strcmp(p->currency, "ARS") != 0) {
		fmt_money(cents, buf, len);
		return;
	}
	if (quote_format_cents(cents, n, sizeof(n)) != OV_OK)
		snprintf(n, sizeof(n), "?");
	snprintf(buf, len, "$ %s", n);
}

void
fmt_price(const struct bot_product *p, char *buf, size_t len)
{
	fmt_amount(p, p->cents, buf, len);
}

int64_t
price_with_iva(const struct bot_product *p)
{
	/* Half up, once, as lib/quote rounds IVA. */
	return p->cents + (p->cents * p->iva_tenths + 500) / 1000;
}

const char *
fmt_short(const char *s, size_t max, char *out, size_t outlen)
{
	if (wa_label_fit(s != NULL ? s : "", max, out, outlen) < 0)
		out[0] = '\0';
	return out;
}

cJSON *
reply_add(struct turn *t, const char *kind)
{
	struct reply *r;

	if (t->nreplies == TURN_REPLIES_MAX)
		return NULL;
	r = &t->replies[t->nreplies];
	r->payload = cJSON_CreateObject();
	if (r->payload == NULL)
		return NULL;
	r->by = t->action;
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	t->nreplies++;
	return r->payload;
}

void
say(struct turn *t, const char *fmt, ...)
{
	char buf[TURN_TEXT_MAX];
	va_list ap;
	cJSON *p;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((p = reply_add(t, "text")) != NULL)
		cJSON_AddStringToObject(p, "text", buf);
}

static void
add_button(cJSON *arr, const char *id, const char *title)
{
	cJSON *b;

	if (id == NULL || (b = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(b, "id", id);
	cJSON_AddStringToObject(b, "title", title);
	cJSON_AddItemToArray(arr, b);
}

void
reply_buttons(struct turn *t, const char *body, const char *id1,
    const char *t1, const char *id2, const char *t2, const char *id3,
    const char *t3)
{
	cJSON *p, *arr;

	if (strlen(body) > WA_BUTTONS_BODY_MAX) {
		/* Too long for a buttons body: the words go as text. */
		say(t, "%s", body);
		return;
	}
	if ((p = reply_add(t, "buttons")) == NULL)
		return;
	cJSON_AddStringToObject(p, "body", body);
	if ((arr = cJSON_AddArrayToObject(p, "buttons")) == NULL)
		return;
	add_button(arr, id1, t1);
	add_button(arr, id2, t2);
	add_button(arr, id3, t3);
}

/* What a list row's title (24 characters: 23 and "…") leaves out of a
 * long name, or NULL: it goes after price and stock in the description,
 * so rows of similar products can be told apart. */
static const char *
name_rest(const char *name)
{
	size_t chars = 0;
	const char *p = name;

	if (wa_utf8_chars(name) <= WA_ROW_TITLE_MAX)
		return NULL;
	while (*p != '\0' && chars < WA_ROW_TITLE_MAX - 1) {
		p++;
		while (((unsigned char)*p & 0xC0) == 0x80)
			p++;
		chars++;
	}
	/* From the start of the word the "…" cut, so it reads whole. */
	while (p > name && p[-1] != ' ')
		p--;
	while (*p == ' ')
		p++;
	return *p != '\0' ? p : NULL;
}

void
reply_product_list(struct turn *t, const char *body,
    const struct bot_product *v, size_t n)
{
	cJSON *p, *rows, *row;
	char id[32], desc[512], price[48], stock[48];
	const char *rest;

	if ((p = reply_add(t, "list")) == NULL)
		return;
	cJSON_AddStringToObject(p, "body", body);
	cJSON_AddStringToObject(p, "button", T_LIST_BUTTON);
	cJSON_AddStringToObject(p, "section", T_LIST_SECTION);
	rows = cJSON_AddArrayToObject(p, "rows");
	for (size_t i = 0; i < n && i < TURN_LIST_ROWS && rows != NULL; i++) {
		snprintf(id, sizeof(id), "prod:%lld", (long long)v[i].id);
		fmt_price(&v[i], price, sizeof(price));
		if (v[i].stock > 0)
			snprintf(stock, sizeof(stock), "stock %lld",
			    (long long)v[i].stock);
		else
			snprintf(stock, sizeof(stock), "sin stock");
		rest = name_rest(v[i].name);
		snprintf(desc, sizeof(desc), "%s + IVA · %s%s%s", price, stock,
		    rest ? " · " : "", rest ? rest : "");
		if ((row = cJSON_CreateObject()) == NULL)
			break;
		cJSON_AddStringToObject(row, "id", id);
		cJSON_AddStringToObject(row, "title", v[i].name);
		cJSON_AddStringToObject(row, "description", desc);
		cJSON_AddItemToArray(rows, row);
	}
}

static const char *
words_key(const struct reply *r)
{
	if (strcmp(r->kind, "text") == 0)
		return "text";
	if (strcmp(r->kind, "buttons") == 0 || strcmp(r->kind, "list") == 0)
		return "body";
	return NULL;
}

static size_t
words_max(const struct reply *r)
{
	if (strcmp(r->kind, "buttons") == 0)
		return WA_BUTTONS_BODY_MAX;
	if (strcmp(r->kind, "list") == 0)
		return WA_LIST_BODY_MAX;
	return TURN_TEXT_MAX - 1;
}

/* a "\n\n" b into buf (cap bytes; the caller checked the lengths). */
static void
join2(char *buf, size_t cap, const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na + nb + 3 > cap)
		nb = cap > na + 3 ? cap - na - 3 : 0;
	memcpy(buf, a, na);
	memcpy(buf + na, "\n\n", 2);
	memcpy(buf + na + 2, b, nb);
	buf[na + 2 + nb] = '\0';
}

static void
set_words(struct reply *r, const char *key, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(r->payload, key);
	cJSON_AddStringToObject(r->payload, key, v);
}

static const char *
words_of(const struct reply *r, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->payload, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void
reply_prefix(struct turn *t, const char *lead)
{
	char buf[TURN_TEXT_MAX + 512];

	for (size_t i = 0; i < t->nreplies; i++) {
		const char *key = words_key(&t->replies[i]), *old;

		if (key == NULL || (old = words_of(&t->replies[i], key)) == NULL)
			continue;
		if (strlen(old) + strlen(lead) + 2 > words_max(&t->replies[i]))
			break;
		join2(buf, sizeof(buf), lead, old);
		set_words(&t->replies[i], key, buf);
		return;
	}
	/* Nothing to lean on: the words go first on their own. */
	if (t->nreplies < TURN_REPLIES_MAX) {
		memmove(&t->replies[1], &t->replies[0],
		    t->nreplies * sizeof(t->replies[0]));
		t->nreplies++;
		snprintf(t->replies[0].kind, sizeof(t->replies[0].kind), "text");
		t->replies[0].by = NULL;
		t->replies[0].payload = cJSON_CreateObject();
		if (t->replies[0].payload != NULL)
			cJSON_AddStringToObject(t->replies[0].payload, "text", lead);
	}
}

void
replies_consolidate(struct turn *t)
{
	char buf[WA_LIST_BODY_MAX + TURN_TEXT_MAX + 4];
	size_t i = 0;

	while (i + 1 < t->nreplies) {
		struct reply *a = &t->replies[i], *b = &t->replies[i + 1];
		const char *ka = words_key(a), *kb = words_key(b);
		const char *wa = ka ? words_of(a, ka) : NULL;
		const char *wb = kb ? words_of(b, kb) : NULL;

		/* A text joins the message after it (text, buttons, list)
		 * when the whole still fits there. */
		if (strcmp(a->kind, "text") == 0 && wa != NULL && wb != NULL &&
		    strlen(wa) + strlen(wb) + 2 <= words_max(b)) {
			join2(buf, sizeof(buf), wa, wb);
			set_words(b, kb, buf);
			cJSON_Delete(a->payload);
			memmove(&t->replies[i], &t->replies[i + 1],
			    (t->nreplies - i - 1) * sizeof(t->replies[0]));
			t->nreplies--;
			continue;
		}
		i++;
	}
}

void
replies_drop_by(struct turn *t, const char *action)
{
	size_t k = 0;

	for (size_t i = 0; i < t->nreplies; i++) {
		if (t->replies[i].by != NULL &&
		    strcmp(t->replies[i].by, action) == 0) {
			cJSON_Delete(t->replies[i].payload);
			continue;
		}
		t->replies[k++] = t->replies[i];
	}
	t->nreplies = k;
}

void
replies_free(struct turn *t)
{
	for (size_t i = 0; i < t->nreplies; i++)
		cJSON_Delete(t->replies[i].payload);
	t->nreplies = 0;
}
