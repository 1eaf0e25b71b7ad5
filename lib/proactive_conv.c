/*
 * proactive_conv.c - what the conversation learns for proactive messages
 * (see proactive.h): a birthday told, the topic of a product
 * conversation, preferred brands, promo consent asked once.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actions.h"
#include "bot_catalog.h"
#include "conv.h"
#include "copy_es.h"
#include "err.h"
#include "log.h"
#include "proactive.h"
#include "turn.h"
#include "utf8.h"

static const char *const months[12] = {
	"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
	"agosto", "septiembre", "octubre", "noviembre", "diciembre"
};
static const int month_days[12] = {
	31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};

/* Lower-case ASCII copy; accented vowels (UTF-8) become plain ones. */
static void
fold(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in;
	    *p != '\0' && o + 1 < len; p++) {
		if (p[0] == 0xc3 && p[1] != '\0') {
			static const char from[] = "\xa1\xa9\xad\xb3\xba\x81\x89"
			    "\x8d\x93\x9a\xb1\x91";
			static const char to[] = "aeiouaeiounn";
			const char *f = strchr(from, (char)p[1]);

			out[o++] = f != NULL ? to[f - from] : '?';
			p++;
			continue;
		}
		out[o++] = (char)tolower(*p);
	}
	out[o] = '\0';
}

/* A day 1..31 at s: its value and the end, or 0. */
static int
day_at(const char *s, const char **end)
{
	int d = 0, n = 0;

	while (isdigit((unsigned char)s[n]) && n < 3)
		d = d * 10 + (s[n++] - '0');
	if (n == 0 || n > 2 || isdigit((unsigned char)s[n]) || d < 1 || d > 31)
		return 0;
	*end = s + n;
	return d;
}

bool
proactive_birthday_parse(const char *text, char out[6])
{
	char f[512];
	const char *p, *e;

	fold(text, f, sizeof(f));
	if ((p = strstr(f, "cumple")) == NULL && (p = strstr(f, "naci")) ==
	    NULL && (p = strstr(f, "cumplo")) == NULL)
		return false;
	for (; *p != '\0'; p++) {
		int d, m = 0;

		if (!isdigit((unsigned char)*p) ||
		    (p > f && isdigit((unsigned char)p[-1])))
			continue;
		if ((d = day_at(p, &e)) == 0)
			continue;
		if (*e == '/' || *e == '-') {
			const char *e2;

			m = day_at(e + 1, &e2);
			if (m > 12)
				m = 0;
		} else {
			while (*e == ' ')
				e++;
			if (strncmp(e, "de ", 3) == 0)
				e += 3;
			for (int i = 0; i < 12 && m == 0; i++)
				if (strncmp(e, months[i], strlen(months[i])) == 0 ||
				    (i == 8 && strncmp(e, "setiembre", 9) == 0))
					m = i + 1;
		}
		if (m >= 1 && m <= 12 && d <= month_days[m - 1]) {
			snprintf(out, 6, "%02d-%02d", m, d);
			return true;
		}
	}
	return false;
}

bool
proactive_hear(struct turn *t)
{
	char bd[6], when[32];
	int m, d;

	if (!proactive_birthday_parse(t->text, bd))
		return false;
	memcpy(t->conv.profile.birthday, bd, sizeof(bd));
	m = (bd[0] - '0') * 10 + (bd[1] - '0');
	d = (bd[3] - '0') * 10 + (bd[4] - '0');
	snprintf(when, sizeof(when), "%d de %s", d, months[m - 1]);
	log_info("%s told a birthday (%s)", t->wa_id, bd);
	say(t, T_BIRTHDAY_NOTED, when);
	return true;
}

/* Brands the customer may search for (security, networking, storage). */
static const char *const brands[] = {
	"ajax", "alonso", "bosch", "dahua", "dsc", "epcom", "ezviz", "garnet",
	"hikvision", "honeywell", "imou", "intelbras", "mikrotik", "paradox",
	"provision", "seagate", "tplink", "tp-link", "ubiquiti", "uniview",
	"western", "wd", "x-28", "zkteco", NULL
};

static void
note_brands(struct turn *t, const char *query)
{
	char f[CONV_QUERY_MAX + 1], *save = NULL, *w;

	fold(query, f, sizeof(f));
	for (w = strtok_r(f, " ,.;", &save); w != NULL;
	    w = strtok_r(NULL, " ,.;", &save))
		for (size_t i = 0; brands[i] != NULL; i++)
			if (strcmp(w, brands[i]) == 0) {
				char b[CONV_BRAND_MAX + 1];

				snprintf(b, sizeof(b), "%s", brands[i]);
				b[0] = (char)toupper((unsigned char)b[0]);
				conv_note_brand(&t->conv, b);
			}
}

/* Append a product's name to the topic ("A y B"). */
static void
topic_add(char *topic, size_t len, struct store *st, int64_t id)
{
	struct bot_product p;
	bool found = false;
	size_t n = strlen(topic);

	if (id <= 0 || bot_catalog_get(st, id, &p, &found) != OV_OK || !found)
		return;
	snprintf(topic + n, len - n, "%s%s", n > 0 ? " y " : "", p.name);
}

/* Did this turn talk about products (a search, a product, the cart, a
 * quote)? Only then is there a topic: a "gracias" after a confirmed quote
 * must not bring the product back for a follow-up. */
static bool
product_turn(const struct turn *t)
{
	static const char *const actions[] = {
		A_SEARCH, A_PRODUCT, A_STOCK, A_CART_ADD, A_CART_SET,
		A_CART_REMOVE, A_CART_SHOW, A_QUOTE, A_RENEW, NULL
	};

	for (size_t i = 0; i < t->nreplies; i++)
		for (size_t k = 0; t->replies[i].by != NULL && actions[k] != NULL;
		    k++)
			if (strcmp(t->replies[i].by, actions[k]) == 0)
				return true;
	return false;
}

void
proactive_note(struct turn *t)
{
	struct conv *c = &t->conv;
	char topic[2 * QUOTE_ITEM_NAME_MAX + CONV_QUERY_MAX + 8] = "";

	for (size_t i = 0; i < t->nreplies; i++)
		if (strcmp(t->replies[i].kind, "pdf") == 0) {
			/* A confirmed quote ends the topic: no follow-up. */
			c->topic[0] = '\0';
			return;
		}
	if (!product_turn(t))
		return;
	if (c->list_query[0] != '\0')
		note_brands(t, c->list_query);
	if (c->ncart > 0) {
		for (size_t i = 0; i < c->ncart && i < 2; i++)
			topic_add(topic, sizeof(topic), t->b->st,
			    c->cart[i].product_id);
	} else if (c->last_product > 0) {
		topic_add(topic, sizeof(topic), t->b->st, c->last_product);
	} else if (c->nlist > 0 && c->list_query[0] != '\0') {
		snprintf(topic, sizeof(topic), "%s", c->list_query);
	}
	if (topic[0] != '\0')
		utf8_copy(c->topic, sizeof(c->topic), topic);
}

void
proactive_ask_promo(struct turn *t)
{
	struct conv_profile *p = &t->conv.profile;

	if (p->promo_asked || p->promo != CONV_PROMO_UNKNOWN || p->opted_out)
		return;
	p->promo_asked = true;
	t->conv.pending = CONV_PENDING_PROMO;
	reply_buttons(t, T_PROMO_ASK, "promo:yes", T_BTN_PROMO_YES, "promo:no",
	    T_BTN_PROMO_NO, NULL, NULL);
}
