/*
 * decide.c - what a turn's messages ask for, turned into actions (lib/
 * actions): by the rules (lib/rules reads the words; here they meet the
 * conversation's memory: the last list, the last product, the cart, the
 * question we asked), or by the model through the same actions as tools.
 * See decide.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "actions.h"
#include "bot_catalog.h"
#include "business.h"
#include "catalog_text.h"
#include "copy_es.h"
#include "customer.h"
#include "decide.h"
#include "err.h"
#include "llm.h"
#include "log.h"
#include "rules.h"
#include "turn.h"
#include "utf8.h"

#define LEAD_MAX 300
#define HISTORY_TURNS 12

/* ---- calling actions ------------------------------------------------- */

static void
call(struct turn *t, const char *name, cJSON *args)
{
	if (action_call(t, name, args) != OV_OK)
		say(t, T_DONT_UNDERSTAND);
	cJSON_Delete(args);
}

static cJSON *
args_id(int64_t id)
{
	cJSON *a = cJSON_CreateObject();

	if (a != NULL)
		cJSON_AddNumberToObject(a, "producto_id", (double)id);
	return a;
}

static cJSON *
args_id_qty(int64_t id, int64_t qty)
{
	cJSON *a = args_id(id);

	if (a != NULL)
		cJSON_AddNumberToObject(a, "cantidad", (double)qty);
	return a;
}

static void
add_items(struct turn *t, const int64_t *ids, const int64_t *qty, size_t n)
{
	cJSON *a = cJSON_CreateObject(), *arr, *it;

	if (a == NULL)
		return;
	arr = cJSON_AddArrayToObject(a, "items");
	for (size_t i = 0; i < n && arr != NULL; i++) {
		if ((it = args_id_qty(ids[i], qty[i])) != NULL)
			cJSON_AddItemToArray(arr, it);
	}
	call(t, A_CART_ADD, a);
}

static void
add_one(struct turn *t, int64_t id, int64_t qty)
{
	add_items(t, &id, &qty, 1);
}

static void
show_product(struct turn *t, int64_t id, bool with_iva, bool price_only)
{
	cJSON *a = args_id(id);

	if (a != NULL && with_iva)
		cJSON_AddBoolToObject(a, "con_iva", true);
	if (a != NULL && price_only)
		cJSON_AddBoolToObject(a, "solo_precio", true);
	call(t, A_PRODUCT, a);
}

static void
search(struct turn *t, const char *query, bool with_iva)
{
	cJSON *a = cJSON_CreateObject();

	if (a == NULL)
		return;
	cJSON_AddStringToObject(a, "consulta", query);
	if (with_iva)
		cJSON_AddBoolToObject(a, "con_iva", true);
	call(t, A_SEARCH, a);
}

static void
handoff(struct turn *t, const char *why, bool complaint)
{
	cJSON *a = cJSON_CreateObject();
	char motivo[301];

	if (a == NULL)
		return;
	if (why != NULL && why[0] != '\0') {
		snprintf(motivo, sizeof(motivo), "%s", why);
		/* The schema wants no control characters. */
		for (char *p = motivo; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		motivo[utf8_cut(motivo, strlen(motivo), 300)] = '\0';
		cJSON_AddStringToObject(a, "motivo", motivo);
	}
	if (complaint)
		cJSON_AddBoolToObject(a, "reclamo", true);
	call(t, A_HANDOFF, a);
}

/* Whether text asks about the business itself (hours, address...). */
static bool
about_business(const char *text)
{
	enum business_topic topics[4];
	size_t n = 0;

	return business_question(text, topics, 4, &n) && n > 0;
}

/* ---- what the words point at ---------------------------------------- */

/* Products matching query, best first (in stock before). */
static size_t
find(struct turn *t, const char *query, struct bot_product *v, size_t max)
{
	size_t n = 0;

	if (query == NULL || query[0] == '\0' ||
	    bot_catalog_search(t->b->st, query, v, max, &n) != OV_OK)
		return 0;
	return n;
}

/* Whether any word of query names something in the catalog: words that
 * name nothing ("a q hora abren") are not a product question. */
static bool
product_words(struct turn *t, const char *query)
{
	struct catalog_query q;
	struct bot_product v[1];

	catalog_query_parse(query, &q);
	for (size_t i = 0; i < q.n; i++)
		if (find(t, q.tok[i], v, 1) > 0)
			return true;
	return false;
}

static bool
name_matches(const struct bot_product *p, const char *query)
{
	struct catalog_tokens *tk;
	struct catalog_fields f = { .codigo = p->code, .nombre = p->name };
	struct catalog_query q;
	bool all = true;

	catalog_query_parse(query, &q);
	if (q.n == 0 || (tk = malloc(sizeof(*tk))) == NULL)
		return false;
	catalog_tokens_index(&f, tk);
	for (size_t i = 0; i < q.n && all; i++)
		if (catalog_tokens_find(tk, q.tok[i]) < 0)
			all = false;
	free(tk);
	return all;
}

/* The list row a reference points at (0: none). */
static int64_t
from_list(struct turn *t, const struct rules_result *r)
{
	struct conv *c = &t->conv;
	struct bot_product p;
	int64_t best = 0, best_cents = 0;
	bool found;

	if (c->nlist == 0) {
		if (r->ref == RULES_REF_THAT || r->ref == RULES_REF_ATTR)
			return c->last_product;
		return 0;
	}
	switch (r->ref) {
	case RULES_REF_INDEX:
		if (r->ref_index >= 1 && (size_t)r->ref_index <= c->nlist)
			return c->list[r->ref_index - 1];
		return -1;
	case RULES_REF_LAST_ROW:
		return c->list[c->nlist - 1];
	case RULES_REF_THAT:
		return c->last_product != 0 ? c->last_product :
		    c->nlist == 1 ? c->list[0] : 0;
	case RULES_REF_CHEAPEST:
	case RULES_REF_DEAREST:
		for (size_t i = 0; i < c->nlist; i++) {
			if (bot_catalog_get(t->b->st, c->list[i], &p, &found) !=
			    OV_OK || !found)
				continue;
			if (best == 0 || (r->ref == RULES_REF_CHEAPEST ?
			    p.cents < best_cents : p.cents > best_cents)) {
				best = p.id;
				best_cents = p.cents;
			}
		}
		return best;
	case RULES_REF_ATTR:
		for (size_t i = 0; i < c->nlist; i++) {
			if (bot_catalog_get(t->b->st, c->list[i], &p, &found) !=
			    OV_OK || !found || !name_matches(&p, r->query))
				continue;
			return p.id;
		}
		return 0;
	case RULES_REF_NONE:
		break;
	}
	return 0;
}

/* The product a message is about: a reference, its own words (the best
 * match, when several fit *several is set), or the last one. */
static int64_t
target(struct turn *t, const struct rules_result *r, const char *query,
    bool *several)
{
	struct bot_product v[2];
	size_t n;
	int64_t id;

	*several = false;
	if (r->ref != RULES_REF_NONE && (id = from_list(t, r)) != 0)
		return id;
	if (query != NULL && query[0] != '\0' && r->ref != RULES_REF_ATTR) {
		n = find(t, query, v, 2);
		*several = n > 1;
		return n > 0 ? v[0].id : 0;
	}
	return t->conv.last_product;
}

/* The cart line words or a reference point at (0: none). */
static int64_t
cart_target(struct turn *t, const struct rules_result *r)
{
	struct conv *c = &t->conv;
	struct bot_product p;
	bool found;

	if (r->query[0] != '\0') {
		for (size_t i = 0; i < c->ncart; i++)
			if (bot_catalog_get(t->b->st, c->cart[i].product_id, &p,
			    &found) == OV_OK && found &&
			    name_matches(&p, r->query))
				return p.id;
		return 0;
	}
	if (r->ref != RULES_REF_NONE) {
		int64_t id = from_list(t, r);

		if (id > 0 && conv_cart_find(c, id) >= 0)
			return id;
	}
	if (c->last_product != 0 && conv_cart_find(c, c->last_product) >= 0)
		return c->last_product;
	if (c->ncart == 1)
		return c->cart[0].product_id;
	return 0;
}

/* "y de 8 canales?": the last search with the new words in place of the
 * ones of the same kind (a measure with the same unit, a bare number for
 * the first measure), else added. */
static void
vary_query(const char *last, const char *change, char *out, size_t len)
{
	char words[RULES_QUERY_MAX + 1], *save = NULL, *w;
	char repl[RULES_QUERY_MAX + 1];
	bool bare = change[0] >= '0' && change[0] <= '9' &&
	    strspn(change, "0123456789") == strlen(change);

	snprintf(words, sizeof(words), "%s", last);
	snprintf(repl, sizeof(repl), "%s", change);
	out[0] = '\0';
	for (w = strtok_r(words, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		size_t d = strspn(w, "0123456789.");
		const char *unit = w + d;
		bool replaced = false;

		if (d > 0 && *unit != '\0' && repl[0] != '\0') {
			size_t rd = strspn(repl, "0123456789.");

			if (bare) {
				/* "y de 8?" -> the first measure's number. */
				snprintf(out + strlen(out), len - strlen(out),
				    "%s%s%s ", repl, unit, "");
				repl[0] = '\0';
				replaced = true;
			} else if (rd > 0 && strcmp(repl + rd, unit) == 0) {
				snprintf(out + strlen(out), len - strlen(out),
				    "%s ", repl);
				repl[0] = '\0';
				replaced = true;
			}
		}
		if (!replaced)
			snprintf(out + strlen(out), len - strlen(out), "%s ", w);
	}
	if (repl[0] != '\0' && !bare)
		snprintf(out + strlen(out), len - strlen(out), "%s", repl);
	while (strlen(out) > 0 && out[strlen(out) - 1] == ' ')
		out[strlen(out) - 1] = '\0';
}

/* ---- the rules ------------------------------------------------------- */

static bool
is_bare_number(const char *text)
{
	size_t digits = 0;

	for (; text != NULL && *text != '\0'; text++) {
		if (*text >= '0' && *text <= '9')
			digits++;
		else if (*text != ' ' && *text != '.' && *text != '!' &&
		    *text != '?')
			return false;
	}
	return digits > 0 && digits <= 3;
}

static void identify_text(struct turn *t);

/* "y 10?": a follow-up of the last question, not an answer to ours. */
static bool
starts_with_and(const char *text)
{
	while (text != NULL && (*text == ' ' || *text == '\xc2' ||
	    *text == '\xbf'))
		text++;
	return text != NULL && (text[0] == 'y' || text[0] == 'Y') &&
	    text[1] == ' ';
}

/* A quantity for the product talked about (an answer to "¿cuántas?"). */
static void
quantity_for_last(struct turn *t, int64_t qty)
{
	bool quote = t->conv.pending == CONV_PENDING_QUOTE &&
	    t->conv.ncart == 0;

	/* "¿cuántas te presupuesto?" answered: straight to the quote. */
	t->quoting = quote;
	add_one(t, t->conv.last_product, qty);
	t->quoting = false;
	if (quote && t->conv.ncart > 0)
		call(t, A_QUOTE, NULL);
}

/* Products named with quantities: each found (its best match) is added;
 * what is not found is said. */
static void
add_named(struct turn *t, const struct rules_result *r)
{
	int64_t ids[RULES_ITEMS_MAX], qty[RULES_ITEMS_MAX];
	size_t n = 0;
	struct bot_product v[1];

	for (size_t i = 0; i < r->nitems; i++) {
		if (find(t, r->items[i].query, v, 1) == 0) {
			say(t, T_ITEM_NOT_FOUND, r->items[i].query);
			continue;
		}
		ids[n] = v[0].id;
		qty[n] = r->items[i].quantity > 0 ? r->items[i].quantity : 1;
		n++;
	}
	if (n > 0)
		add_items(t, ids, qty, n);
}

static void
decide_reply_id(struct turn *t, const char *id, const struct rules_result *r)
{
	long long v;
	char *end;

	if (strncmp(id, "cart:add:", 9) == 0) {
		v = strtoll(id + 9, &end, 10);
		if (*end == '\0' && v > 0) {
			struct bot_product p;
			bool found = false;

			t->conv.last_product = v;
			t->conv.pending = CONV_PENDING_QTY;
			if (bot_catalog_get(t->b->st, v, &p, &found) == OV_OK &&
			    found)
				say(t, T_ASK_QTY_OF, p.name);
			else
				say(t, T_WHICH_PRODUCT);
		}
		return;
	}
	if (strcmp(id, "cart:quote") == 0) {
		call(t, A_QUOTE, NULL);
		return;
	}
	if (strcmp(id, "yes:add") == 0) {
		if (t->conv.last_product != 0 && t->conv.last_qty > 0)
			add_one(t, t->conv.last_product, t->conv.last_qty);
		else
			say(t, T_WHICH_PRODUCT);
		return;
	}
	switch (r->intent) {
	case RULES_SELECT:
		/* A pick from a list while a quantity waits: that many. */
		if (t->conv.pending == CONV_PENDING_ADD && t->conv.last_qty > 0) {
			cJSON *a = args_id_qty(r->product_id, t->conv.last_qty);

			call(t, A_STOCK, a);
		} else {
			show_product(t, r->product_id, false, false);
		}
		return;
	case RULES_QUOTE:
		/* "quote:new:<id>" (a button of v1's product cards). */
		if (r->product_id > 0) {
			struct bot_product p;
			bool found = false;

			t->conv.pending = CONV_PENDING_QUOTE;
			if (t->conv.last_product == r->product_id &&
			    t->conv.last_qty > 0) {
				quantity_for_last(t, t->conv.last_qty);
				return;
			}
			t->conv.last_product = r->product_id;
			if (bot_catalog_get(t->b->st, r->product_id, &p, &found) ==
			    OV_OK && found)
				say(t, T_ASK_QTY_OF, p.name);
			else
				say(t, T_WHICH_PRODUCT);
			return;
		}
		call(t, A_QUOTE, NULL);
		return;
	case RULES_CONFIRM:
		call(t, A_CONFIRM, NULL);
		return;
	case RULES_CANCEL:
		call(t, A_CANCEL, NULL);
		return;
	case RULES_HANDOFF:
		handoff(t, NULL, false);
		return;
	default:
		say(t, T_DONT_UNDERSTAND);
	}
}

static void
answer_yes(struct turn *t)
{
	struct conv *c = &t->conv;

	switch (c->pending) {
	case CONV_PENDING_QUOTE:
		call(t, A_QUOTE, NULL);
		return;
	case CONV_PENDING_ADD:
		if (c->last_product != 0 && c->last_qty > 0) {
			add_one(t, c->last_product, c->last_qty);
			return;
		}
		break;
	case CONV_PENDING_CONFIRM:
		call(t, A_CONFIRM, NULL);
		return;
	case CONV_PENDING_INVOICES:
		call(t, A_INVOICES, NULL);
		return;
	case CONV_PENDING_HANDOFF:
		handoff(t, NULL, false);
		return;
	case CONV_PENDING_ALT:
		if (c->list_query[0] != '\0') {
			search(t, c->list_query, false);
			return;
		}
		break;
	case CONV_PENDING_PROMO: {
		cJSON *a = cJSON_CreateObject();

		if (a != NULL)
			cJSON_AddBoolToObject(a, "acepta", true);
		call(t, A_PROMO, a);
		return;
	}
	default:
		break;
	}
	say(t, T_YES_NOTHING);
}

static void
decide_one(struct turn *t, const char *text, const char *reply_id)
{
	struct rules_result r;
	enum business_topic topics[4];
	size_t ntopics = 0;
	bool several = false;
	int64_t id;

	t->quoting = false;
	rules_parse(text, reply_id, &r);
	log_debug("rules: %s qty %lld query \"%s\" ref %d items %zu",
	    rules_intent_name(r.intent), (long long)r.quantity, r.query,
	    (int)r.ref, r.nitems);
	t->cur_text = text;
	if (reply_id != NULL && reply_id[0] != '\0') {
		decide_reply_id(t, reply_id, &r);
		return;
	}
	if (r.intent == RULES_COMPLAINT) {
		handoff(t, text, true);
		return;
	}
	if (r.intent == RULES_HANDOFF) {
		handoff(t, text, false);
		return;
	}
	/* The business's own facts come before any product search. */
	if ((r.intent == RULES_SEARCH || r.intent == RULES_STOCK ||
	    r.intent == RULES_PRICE || r.intent == RULES_NONE ||
	    r.intent == RULES_GREETING || r.intent == RULES_THANKS ||
	    r.intent == RULES_SELECT || r.intent == RULES_YES) &&
	    business_question(text, topics, 4, &ntopics) && ntopics > 0) {
		for (size_t i = 0; i < ntopics; i++) {
			cJSON *a = cJSON_CreateObject();

			if (a != NULL)
				cJSON_AddStringToObject(a, "tema",
				    business_topic_name(topics[i]));
			call(t, A_BUSINESS, a);
			if (t->handed_off)
				break;
		}
		return;
	}
	switch (r.intent) {
	case RULES_OPT_OUT:
	case RULES_OPT_IN: {
		cJSON *a = cJSON_CreateObject();

		if (a != NULL)
			cJSON_AddBoolToObject(a, "acepta",
			    r.intent == RULES_OPT_IN);
		call(t, A_PROMO, a);
		return;
	}
	case RULES_CANCEL:
		call(t, A_CANCEL, NULL);
		return;
	case RULES_CONFIRM:
		call(t, A_CONFIRM, NULL);
		return;
	case RULES_BALANCE:
		call(t, A_BALANCE, NULL);
		return;
	case RULES_INVOICES:
		call(t, A_INVOICES, NULL);
		return;
	case RULES_IDENTIFY:
		identify_text(t);
		return;
	case RULES_CART_SHOW:
		call(t, A_CART_SHOW, NULL);
		return;
	case RULES_CART_REMOVE:
		if (t->conv.ncart == 0) {
			call(t, A_CART_SHOW, NULL);
			return;
		}
		if ((id = cart_target(t, &r)) == 0) {
			say(t, T_CART_NOT_IN);
			return;
		}
		call(t, A_CART_REMOVE, args_id(id));
		return;
	case RULES_CART_SET:
		if ((id = cart_target(t, &r)) == 0)
			id = target(t, &r, r.query, &several);
		if (id == 0) {
			say(t, T_WHICH_PRODUCT);
			return;
		}
		call(t, A_CART_SET, args_id_qty(id, r.quantity));
		return;
	case RULES_CART_ADD:
		if (r.nitems >= 2) {
			add_named(t, &r);
			return;
		}
		id = target(t, &r, r.query, &several);
		if (id <= 0) {
			say(t, T_WHICH_PRODUCT);
			return;
		}
		if (several && r.ref == RULES_REF_NONE) {
			/* "quiero 10 domos": which one, for 10. */
			t->conv.last_qty = r.quantity > 0 ? r.quantity : 1;
			t->conv.pending = CONV_PENDING_ADD;
			search(t, r.query, false);
			return;
		}
		add_one(t, id, r.quantity > 0 ? r.quantity : 1);
		return;
	case RULES_QUOTE:
		t->quoting = true;
		if (r.nitems >= 2) {
			add_named(t, &r);
		} else if (r.query[0] != '\0' || r.ref != RULES_REF_NONE) {
			id = target(t, &r, r.query, &several);
			if (id <= 0) {
				if (r.query[0] != '\0' && !product_words(t, r.query))
					say(t, T_QUOTE_NOTHING);
				else
					search(t, r.query, false);
				return;
			}
			if (r.quantity <= 0) {
				struct bot_product p;
				bool found = false;

				t->conv.last_product = id;
				t->conv.pending = CONV_PENDING_QUOTE;
				if (bot_catalog_get(t->b->st, id, &p, &found) ==
				    OV_OK && found)
					say(t, T_ASK_QTY_OF, p.name);
				return;
			}
			add_one(t, id, r.quantity);
		} else if (r.quantity > 0 && t->conv.last_product != 0) {
			add_one(t, t->conv.last_product, r.quantity);
		}
		t->quoting = false;
		if (t->handed_off || t->conv.ncart == 0) {
			if (t->conv.ncart == 0 && t->nreplies == 0)
				say(t, T_QUOTE_NOTHING);
			return;
		}
		call(t, A_QUOTE, NULL);
		return;
	case RULES_PHOTO:
		if ((id = target(t, &r, r.query, &several)) <= 0) {
			say(t, id < 0 ? T_NO_SUCH_ROW : T_WHICH_PRODUCT,
			    t->conv.nlist);
			return;
		}
		call(t, A_PHOTO, args_id(id));
		return;
	case RULES_PRICE:
		if (r.nitems >= 2) {
			for (size_t i = 0; i < r.nitems; i++)
				search(t, r.items[i].query, r.with_iva);
			return;
		}
		if (r.ref == RULES_REF_NONE && r.query[0] != '\0') {
			struct bot_product v[2];
			size_t n = find(t, r.query, v, 2);

			if (n == 0) {
				say(t, product_words(t, r.query) ? T_NOT_FOUND :
				    T_DONT_UNDERSTAND);
				return;
			}
			if (n > 1) {
				search(t, r.query, r.with_iva);
				return;
			}
			show_product(t, v[0].id, r.with_iva, true);
			return;
		}
		if ((id = target(t, &r, NULL, &several)) <= 0) {
			say(t, id < 0 ? T_NO_SUCH_ROW : T_WHICH_PRODUCT,
			    t->conv.nlist);
			return;
		}
		show_product(t, id, r.with_iva, true);
		return;
	case RULES_STOCK:
		if (r.nitems >= 2) {
			for (size_t i = 0; i < r.nitems; i++)
				search(t, r.items[i].query, r.with_iva);
			return;
		}
		if (r.only_number && is_bare_number(text) &&
		    t->conv.pending != CONV_PENDING_QTY &&
		    t->conv.pending != CONV_PENDING_QUOTE &&
		    t->conv.nlist > 1) {
			/* "2" after a list: its second row. */
			if ((size_t)r.quantity <= t->conv.nlist)
				show_product(t, t->conv.list[r.quantity - 1], false,
				    false);
			else
				say(t, T_NO_SUCH_ROW, t->conv.nlist);
			return;
		}
		if (r.only_number && t->conv.last_product != 0 &&
		    !starts_with_and(text)) {
			quantity_for_last(t, r.quantity);
			return;
		}
		id = target(t, &r, r.query, &several);
		if (id > 0 && several && r.ref == RULES_REF_NONE) {
			/* "10 fuentes 12V 5A": the best match answers, with
			 * alternatives when it does not cover the quantity. */
			several = false;
		}
		if (id == 0 && t->conv.nlist > 1 && r.query[0] == '\0') {
			t->conv.last_qty = r.quantity;
			t->conv.pending = CONV_PENDING_ADD;
			say(t, T_WHICH_ROW, t->conv.nlist);
			return;
		}
		if (id <= 0) {
			say(t, id < 0 ? T_NO_SUCH_ROW : T_WHICH_PRODUCT,
			    t->conv.nlist);
			return;
		}
		if (several) {
			t->conv.last_qty = r.quantity;
			t->conv.pending = CONV_PENDING_ADD;
			search(t, r.query, r.with_iva);
			return;
		}
		{
			cJSON *a = args_id_qty(id, r.quantity);

			if (a != NULL && r.with_iva)
				cJSON_AddBoolToObject(a, "con_iva", true);
			call(t, A_STOCK, a);
		}
		return;
	case RULES_SELECT:
		if ((id = from_list(t, &r)) > 0) {
			show_product(t, id, r.with_iva, false);
			return;
		}
		if (id < 0) {
			say(t, T_NO_SUCH_ROW, t->conv.nlist);
			return;
		}
		if (r.ref == RULES_REF_ATTR && r.query[0] != '\0') {
			char q[RULES_QUERY_MAX * 2 + 2];

			if (t->conv.list_query[0] != '\0')
				vary_query(t->conv.list_query, r.query, q,
				    sizeof(q));
			else
				snprintf(q, sizeof(q), "%s", r.query);
			search(t, q, r.with_iva);
			return;
		}
		say(t, T_WHICH_PRODUCT);
		return;
	case RULES_SEARCH:
		if (r.variation && t->conv.list_query[0] != '\0') {
			char q[RULES_QUERY_MAX * 2 + 2];

			vary_query(t->conv.list_query, r.query, q, sizeof(q));
			search(t, q, r.with_iva);
			return;
		}
		if (r.nitems >= 2) {
			for (size_t i = 0; i < r.nitems; i++)
				search(t, r.items[i].query, r.with_iva);
			return;
		}
		if (!product_words(t, r.query)) {
			/* No word of it names a product: not a search. */
			if (r.greeted)
				say(t, T_HOW_CAN_I_HELP);
			else if (r.bye)
				say(t, T_BYE);
			else if (r.thanked)
				say(t, T_THANKS);
			else
				say(t, T_DONT_UNDERSTAND);
			return;
		}
		search(t, r.query, r.with_iva);
		return;
	case RULES_YES:
		answer_yes(t);
		return;
	case RULES_NO:
		if (t->conv.pending == CONV_PENDING_PROMO) {
			t->conv.profile.promo = CONV_PROMO_NO;
			t->conv.profile.promo_asked = true;
		}
		t->conv.pending = CONV_PENDING_NONE;
		say(t, T_NO_OK);
		return;
	case RULES_GREETING:
		say(t, T_HOW_CAN_I_HELP);
		return;
	case RULES_THANKS:
		say(t, r.emoji_only ? T_THUMBS : T_THANKS);
		return;
	case RULES_BYE:
		say(t, T_BYE);
		return;
	case RULES_NONE:
	case RULES_HANDOFF:
	case RULES_COMPLAINT:
	case RULES__COUNT:
		break;
	}
	say(t, T_DONT_UNDERSTAND);
}

/* Whether the rules read an action in a message (not only small talk). */
static bool
substantive(enum rules_intent i)
{
	return i != RULES_NONE && i != RULES_GREETING && i != RULES_THANKS &&
	    i != RULES_YES && i != RULES_NO && i != RULES_BYE;
}

void
decide_rules_turn(struct turn *t)
{
	struct rules_result r;
	size_t acted = 0;

	if (t->nparts < 2) {
		decide_one(t, t->nparts == 1 ? t->part_text[0] : t->text,
		    t->nparts == 1 ? t->part_id[0] : NULL);
		return;
	}
	/* Each message that asks for something is answered, in order;
	 * small talk among them adds nothing. */
	for (size_t i = 0; i < t->nparts && !t->handed_off; i++) {
		rules_parse(t->part_text[i], t->part_id[i], &r);
		if (!substantive(r.intent) && (t->part_id[i] == NULL ||
		    t->part_id[i][0] == '\0') && !about_business(
		    t->part_text[i]))
			continue;
		decide_one(t, t->part_text[i], t->part_id[i]);
		acted++;
	}
	if (acted == 0)
		decide_one(t, t->part_text[t->nparts - 1],
		    t->part_id[t->nparts - 1]);
}

/* ---- identification typed in chat ---------------------------------- */

static void
identify_text(struct turn *t)
{
	struct customer_identity id;
	enum customer_text what = CUSTOMER_TEXT_NONE;
	int rc;

	rc = customer_identify_text(t->b->st, t->b->cb, t->wa_id,
	    t->cur_text != NULL ? t->cur_text : t->text, &id, &what);
	if (rc != OV_OK) {
		log_warn("identify %s: %s", t->wa_id, ov_strerror(rc));
		say(t, "%s %s", T_ID_DOWN, T_ID_WHAT_NEXT);
		return;
	}
	switch (what) {
	case CUSTOMER_TEXT_FOUND:
		if (id.linked) {
			t->cust.cianbox_id = id.cianbox_id;
			t->cust.verified = id.verified;
		}
		utf8_copy(t->conv.cuit, sizeof(t->conv.cuit),
		    id.client.numero_documento);
		t->conv.cuit_verified = id.verified;
		if (id.verified)
			utf8_copy(t->conv.razon, sizeof(t->conv.razon),
			    id.client.razon);
		log_info("%s identified as Cianbox customer %lld by %s (%s)",
		    t->wa_id, (long long)id.cianbox_id,
		    id.how == CUSTOMER_BY_CUIT ? "CUIT" : "e-mail",
		    id.verified ? "number on file" : "prices only");
		if (id.verified)
			say(t, T_ID_VERIFIED " %s", id.client.razon,
			    T_ID_WHAT_NEXT);
		else
			say(t, "%s %s", T_ID_PRICES_ONLY, T_ID_WHAT_NEXT);
		t->conv.pending = CONV_PENDING_NONE;
		return;
	case CUSTOMER_TEXT_BAD_CUIT:
		say(t, T_ID_BAD_CUIT);
		return;
	case CUSTOMER_TEXT_UNKNOWN:
		say(t, T_ID_UNKNOWN);
		return;
	case CUSTOMER_TEXT_NONE:
		break;
	}
	say(t, T_ID_ASK);
}

/* ---- the model -------------------------------------------------------- */

static bool
has_digit(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= '0' && *s <= '9')
			return true;
	return false;
}

static int
run_tool(void *arg, const struct llm_tool *tool, const cJSON *args,
    char **result)
{
	struct turn *t = arg;
	size_t before;
	int rc;

	/* A tool called again replaces what it said the first time. */
	replies_drop_by(t, tool->name);
	before = t->nreplies;
	rc = action_call(t, tool->name, args);
	if (rc != OV_OK && rc != OV_EINVAL)
		return rc;
	*result = action_result(t, before);
	if (*result == NULL)
		*result = strdup("{\"error\":\"no disponible\"}");
	return *result == NULL ? OV_ENOMEM : OV_OK;
}

/* What the model knows of this conversation beyond its history. */
static void
context(struct turn *t, char *buf, size_t len)
{
	struct bot_product p;
	bool found;
	size_t n;

	n = strlen(buf);
	if (t->conv.nlist > 0) {
		snprintf(buf + n, len - n, "\nÚltima lista mostrada (posición: "
		    "id nombre):");
		for (size_t i = 0; i < t->conv.nlist; i++) {
			if (bot_catalog_get(t->b->st, t->conv.list[i], &p, &found) !=
			    OV_OK || !found)
				continue;
			n = strlen(buf);
			snprintf(buf + n, len - n, "\n%zu: %lld %s", i + 1,
			    (long long)p.id, p.name);
		}
	}
	if (t->conv.last_product != 0) {
		n = strlen(buf);
		snprintf(buf + n, len - n, "\nÚltimo producto: %lld",
		    (long long)t->conv.last_product);
	}
	if (t->conv.ncart > 0) {
		n = strlen(buf);
		snprintf(buf + n, len - n, "\nPedido (id x cantidad):");
		for (size_t i = 0; i < t->conv.ncart; i++) {
			n = strlen(buf);
			snprintf(buf + n, len - n, " %lld x %lld;",
			    (long long)t->conv.cart[i].product_id,
			    (long long)t->conv.cart[i].qty);
		}
	}
	if (t->conv.pending != CONV_PENDING_NONE) {
		n = strlen(buf);
		snprintf(buf + n, len - n, "\nPregunta pendiente: %s",
		    conv_pending_name(t->conv.pending));
	}
}

static int
build_conv(struct turn *t, const char *const *current, size_t ncurrent,
    struct llm_conv **out)
{
	struct llm_conv *conv = NULL;
	struct store_msg *h = NULL;
	size_t n = 0;
	char sys[8192];
	int rc;

	if ((rc = llm_conv_new(&conv)) != OV_OK)
		return rc;
	snprintf(sys, sizeof(sys),
	    "Sos Ovidio, el asistente de ventas por WhatsApp de %s, "
	    "distribuidora de seguridad electrónica de Rosario (cámaras, DVR, "
	    "alarmas, cableado). Hablás en español rioplatense (vos), breve y "
	    "cálido. Usá siempre las herramientas para productos, precios, "
	    "stock, el pedido, presupuestos, saldo, facturas y datos del "
	    "negocio: lo que devuelven ya se le muestra al cliente, así que no "
	    "repitas precios, cantidades ni totales, ni inventes datos. Si el "
	    "cliente se refiere a algo de la última lista (\"la primera\", "
	    "\"la 2\", \"esa\"), usá su id. Reclamos, enojo o urgencias: "
	    "hablar_con_vendedor con reclamo true. Tu texto final es solo una "
	    "frase corta, sin números. Cliente: %s%s.",
	    t->b->business, customer_label(t), t->cust.cianbox_id != 0 ?
	    (t->cust.verified ? " (identificado por su número)" :
	    " (identificado solo para precios: no ve saldo ni facturas)") :
	    " (no identificado)");
	context(t, sys, sizeof(sys));
	if ((rc = llm_conv_system(conv, sys)) != OV_OK)
		goto out;
	if (store_history(t->b->st, t->wa_id, HISTORY_TURNS + (int)ncurrent,
	    &h, &n) == OV_OK) {
		for (size_t i = 0; i < n; i++) {
			bool cur = false;

			for (size_t k = 0; k < ncurrent; k++)
				if (strcmp(h[i].id, current[k]) == 0)
					cur = true;
			if (cur || h[i].body == NULL || h[i].body[0] == '\0' ||
			    strcmp(h[i].status, "failed") == 0)
				continue;
			rc = h[i].dir == STORE_IN ? llm_conv_user(conv, h[i].body) :
			    llm_conv_assistant(conv, h[i].body);
			if (rc != OV_OK)
				break;
		}
		store_msgs_free(h, n);
	}
	rc = llm_conv_user(conv, t->text);
out:
	if (rc != OV_OK) {
		llm_conv_free(conv);
		return rc;
	}
	*out = conv;
	return OV_OK;
}

/* Whether the rules read a question about data (products, the account,
 * quotes, a person): never answered by the model's words alone. */
static bool
asks_for_data(const struct turn *t)
{
	struct rules_result r;

	rules_parse(t->text, NULL, &r);
	return substantive(r.intent) ||
	    about_business(t->text);
}

int
decide_model(struct turn *t, const char *const *ids, size_t nids)
{
	struct llm_conv *conv = NULL;
	struct llm_result res;
	const struct llm_tool *tools;
	size_t ntools;
	int rc;

	memset(&res, 0, sizeof(res));
	if ((rc = build_conv(t, ids, nids, &conv)) != OV_OK)
		return rc;
	tools = actions_tools(&ntools);
	rc = llm_run(t->b->llm, conv, tools, ntools, run_tool, t,
	    t->b->llm_budget_ms, &res);
	if (rc != OV_OK)
		log_warn("model for %s: %s (%s); %s", t->wa_id, ov_strerror(rc),
		    res.error, t->nreplies > 0 ? "keeping what its tools did" :
		    "answering by rules");
	if (t->nreplies > 0) {
		/* Its words only when they cannot carry a figure. */
		if (rc == OV_OK && res.text != NULL && !has_digit(res.text) &&
		    strlen(res.text) <= LEAD_MAX && !t->handed_off)
			reply_prefix(t, res.text);
		rc = OV_OK;
	} else if (rc == OV_OK) {
		if (res.text != NULL && res.text[0] != '\0' &&
		    !has_digit(res.text) && !asks_for_data(t))
			say(t, "%s", res.text);
		else
			rc = OV_EINVAL;   /* words of its own about data: rules */
	}
	llm_result_free(&res);
	llm_conv_free(conv);
	return rc;
}
