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
#include "log.h"
#include "proactive.h"
#include "rules.h"
#include "turn.h"
#include "utf8.h"


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

/* How many of query's words a product's own name or code holds. */
static size_t
name_score(const struct bot_product *p, const struct catalog_query *q)
{
	struct catalog_tokens *tk;
	struct catalog_fields f = { .codigo = p->code, .nombre = p->name };
	size_t n = 0;

	if (q->n == 0 || (tk = malloc(sizeof(*tk))) == NULL)
		return 0;
	catalog_tokens_index(&f, tk);
	for (size_t i = 0; i < q->n; i++)
		if (catalog_tokens_find(tk, q->tok[i]) >= 0)
			n++;
	free(tk);
	return n;
}

/* How many of the customer's own words ("pulpo 1 a 8": also the "8"
 * the catalog's query leaves out) stand whole in the product's name. */
static size_t
word_score(const struct bot_product *p, const char *query)
{
	char name[QUOTE_ITEM_NAME_MAX * 2 + 3], words[RULES_QUERY_MAX + 1];
	char *save = NULL, *w;
	size_t n = 0;

	name[0] = ' ';
	rules_fold(p->name, name + 1, sizeof(name) - 2);
	for (char *c = name; *c != '\0'; c++)
		if (*c == '-' || *c == '(' || *c == ')' || *c == ',')
			*c = ' ';
	strcat(name, " ");
	utf8_copy(words, sizeof(words), query);
	for (w = strtok_r(words, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		char pat[RULES_QUERY_MAX + 3];

		snprintf(pat, sizeof(pat), " %s ", w);
		if (strstr(name, pat) != NULL)
			n++;
	}
	return n;
}

static size_t
name_words(const struct bot_product *p)
{
	size_t n = 0;

	for (const char *c = p->name; *c != '\0'; c++)
		if (*c != ' ' && (c == p->name || c[-1] == ' '))
			n++;
	return n;
}

/* Products matching query as the catalog ranks them (in stock first),
 * except that the one whose own name says most of the query leads: when
 * one product is meant, "baluns" is a balun, not a kit that mentions
 * baluns in its description. *tied (may be NULL): another one's name
 * says as much, so which one is meant is not clear. */
static size_t
find_best(struct turn *t, const char *query, struct bot_product *v,
    size_t max, bool *tied)
{
	struct bot_product all[TURN_LIST_ROWS];
	struct catalog_query q;
	size_t n = 0, best = 0, best_score = 0, score[TURN_LIST_ROWS];

	if (tied != NULL)
		*tied = false;
	if (query == NULL || query[0] == '\0' ||
	    bot_catalog_search(t->b->st, query, all, max > 0 ? TURN_LIST_ROWS :
	    1, &n) != OV_OK || n == 0)
		return 0;
	if (max == 0)
		return n;   /* only whether anything matches */
	catalog_query_parse(query, &q);
	for (size_t i = 0; i < n; i++) {
		/* The catalog's words first; the customer's own words break
		 * ties. */
		score[i] = name_score(&all[i], &q) * 100 +
		    word_score(&all[i], query);
		/* More of the words; then, all of them said by a shorter name
		 * (fewer words the customer did not say); then in stock. */
		if (score[i] > best_score || (score[i] == best_score &&
		    score[i] > 0 && ((score[i] / 100 == q.n && q.n >= 3 &&
		    name_words(&all[i]) < name_words(&all[best])) ||
		    (all[best].stock <= 0 &&
		    all[i].stock > 0)))) {
			best = i;
			best_score = score[i];
		}
	}
	if (tied != NULL)
		for (size_t i = 0; i < n; i++)
			if (i != best && score[i] >= best_score &&
			    !(best_score / 100 == q.n && q.n >= 3 &&
			    name_words(&all[best]) < name_words(&all[i])))
				*tied = true;
	v[0] = all[best];
	for (size_t i = 0, k = 1; i < n && k < max; i++)
		if (i != best)
			v[k++] = all[i];
	return n < max ? n : max;
}

static size_t
find(struct turn *t, const char *query, struct bot_product *v, size_t max)
{
	return find_best(t, query, v, max, NULL);
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
		n = find_best(t, query, v, 2, several);
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

	if (r->query[0] != '\0' && r->ref != RULES_REF_INDEX &&
	    r->ref != RULES_REF_THAT) {
		/* The line whose name says most of the words ("sacá el disco,
		 * lo tiene el cliente": the disk; none when none says any). */
		struct catalog_query q;
		int64_t best = 0;
		size_t best_score = 0;

		catalog_query_parse(r->query, &q);
		for (size_t i = 0; i < c->ncart; i++) {
			size_t sc;

			if (bot_catalog_get(t->b->st, c->cart[i].product_id, &p,
			    &found) != OV_OK || !found)
				continue;
			if ((sc = name_score(&p, &q)) > best_score) {
				best = p.id;
				best_score = sc;
			}
		}
		return best;
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

/* "¿De qué producto?", or "¿cuál de la lista?" when one is on screen. */
static void
ask_which(struct turn *t)
{
	if (t->conv.nlist > 1)
		say(t, T_WHICH_ROW, t->conv.nlist);
	else
		say(t, T_WHICH_PRODUCT);
}

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

static bool decide_proactive_id(struct turn *t, const char *id);

static void
decide_reply_id(struct turn *t, const char *id, const struct rules_result *r)
{
	long long v;
	char *end;

	if (decide_proactive_id(t, id))
		return;
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
				ask_which(t);
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
			ask_which(t);
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
				ask_which(t);
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

/* Whether the stock of id covers qty (a yes to "¿te sumo?" is for it;
 * after a short answer with alternatives, it asks which). */
static bool
covers(struct turn *t, int64_t id, int64_t qty)
{
	struct bot_product p;
	bool found = false;

	return bot_catalog_get(t->b->st, id, &p, &found) == OV_OK && found &&
	    (p.stock >= qty || t->conv.nlist <= 1);
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
		if (c->last_product != 0 && c->last_qty > 0 &&
		    covers(t, c->last_product, c->last_qty)) {
			add_one(t, c->last_product, c->last_qty);
			return;
		}
		if (c->nlist > 1) {
			say(t, T_WHICH_ROW, c->nlist);
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
business_answer_topic(struct turn *t, enum business_topic topic)
{
	cJSON *a = cJSON_CreateObject();

	if (t->handed_off || a == NULL) {
		cJSON_Delete(a);
		return;
	}
	cJSON_AddStringToObject(a, "tema", business_topic_name(topic));
	call(t, A_BUSINESS, a);
}

/* A product named beside another question: its price (one product) or
 * the list (several). */
static void
product_question(struct turn *t, const struct rules_result *r,
    const char *query)
{
	struct bot_product v[2];
	bool tied = false;
	size_t n = find_best(t, query, v, 2, &tied);

	if (n == 0)
		return;
	if (n > 1 && tied)
		search(t, query, r->with_iva);
	else
		show_product(t, v[0].id, r->with_iva, true);
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
	/* "la del medio" with no list on screen: just words to search. */
	if (r.ref == RULES_REF_ATTR && t->conv.nlist == 0) {
		r.ref = RULES_REF_NONE;
		if (r.intent == RULES_SELECT)
			r.intent = RULES_SEARCH;
	}
	/* The business's own facts come before any product search; a
	 * product asked in the same message is answered first. */
	if ((r.intent == RULES_SEARCH || r.intent == RULES_STOCK ||
	    r.intent == RULES_PRICE || r.intent == RULES_NONE ||
	    r.intent == RULES_GREETING || r.intent == RULES_THANKS ||
	    r.intent == RULES_SELECT || r.intent == RULES_YES) &&
	    business_question(text, topics, 4, &ntopics) && ntopics > 0) {
		for (size_t i = 0; i < r.nitems; i++)
			if (!about_business(r.items[i].query) &&
			    product_words(t, r.items[i].query))
				product_question(t, &r, r.items[i].query);
		for (size_t i = 0; i < ntopics; i++)
			business_answer_topic(t, topics[i]);
		return;
	}
	/* "¿y el domingo?" after the hours: that day's hours. */
	if (strcmp(t->conv.biz_topic, "horario") == 0 &&
	    business_question_day(text, t->now) >= 0 &&
	    (r.query[0] == '\0' || !product_words(t, r.query))) {
		business_answer_topic(t, BUSINESS_HOURS);
		return;
	}
	/* A list of products with their quantities is an order: into the
	 * pedido, and the quote that shows it. */
	if (r.nitems >= 2 && (r.intent == RULES_STOCK ||
	    r.intent == RULES_SEARCH)) {
		bool all_qty = true;

		for (size_t i = 0; i < r.nitems; i++)
			if (r.items[i].quantity <= 0)
				all_qty = false;
		if (all_qty)
			r.intent = RULES_QUOTE;
	}
	/* "y 2 de la primera" right after the pedido was shown: more of it. */
	if (r.intent == RULES_STOCK && r.ref != RULES_REF_NONE &&
	    r.quantity > 0 && starts_with_and(text) &&
	    t->conv.pending == CONV_PENDING_QUOTE && t->conv.ncart > 0)
		r.intent = RULES_CART_ADD;
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
		/* What is confirmed is what was last shown: a pedido not yet
		 * quoted is quoted first ("pasame el presupuesto así lo
		 * confirmo"). */
		if (t->conv.pending != CONV_PENDING_CONFIRM && t->conv.ncart > 0)
			call(t, A_QUOTE, NULL);
		else
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
			ask_which(t);
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
			ask_which(t);
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
		if (r.again && r.nitems == 0 && r.query[0] == '\0') {
			call(t, A_RESEND, NULL);
			return;
		}
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
		} else if (t->conv.last_product != 0 && (r.quantity > 0 ||
		    (t->conv.ncart == 0 && t->conv.last_qty > 0 &&
		    t->conv.pending == CONV_PENDING_ADD))) {
			/* "cotizalas": the ones just talked about. */
			add_one(t, t->conv.last_product, r.quantity > 0 ?
			    r.quantity : t->conv.last_qty);
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
			bool tied = false;
			size_t n = find_best(t, r.query, v, 2, &tied);

			if (n == 0) {
				say(t, product_words(t, r.query) ? T_NOT_FOUND :
				    T_DONT_UNDERSTAND);
				return;
			}
			if (n > 1 && tied) {
				search(t, r.query, r.with_iva);
				return;
			}
			/* One product: its price, and the words remembered so
			 * "¿y el de 6?" changes them. */
			conv_set_list(&t->conv, &v[0].id, 1, r.query);
			show_product(t, v[0].id, r.with_iva, true);
			return;
		}
		if ((id = target(t, &r, NULL, &several)) <= 0) {
			if (id < 0)
				say(t, T_NO_SUCH_ROW, t->conv.nlist);
			else
				ask_which(t);
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
			if (id < 0)
				say(t, T_NO_SUCH_ROW, t->conv.nlist);
			else
				ask_which(t);
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
		ask_which(t);
		return;
	case RULES_SEARCH:
		if (r.variation && t->conv.nlist > 1) {
			/* "¿y la de 3.6mm?": a row of the list that says it. */
			struct rules_result pick = r;

			pick.ref = RULES_REF_ATTR;
			if ((id = from_list(t, &pick)) > 0) {
				show_product(t, id, r.with_iva, true);
				return;
			}
		}
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
		{
			/* One product says every word and no other does
			 * ("pulpo 1 a 8", "teclado pk5501"): that one. */
			struct bot_product v[2];
			struct catalog_query q;
			bool tied = true;

			catalog_query_parse(r.query, &q);
			if (strpbrk(r.query, "0123456789") != NULL &&
			    find_best(t, r.query, v, 2, &tied) > 0 && !tied &&
			    q.n >= 1 && name_score(&v[0], &q) == q.n) {
				conv_set_list(&t->conv, &v[0].id, 1, r.query);
				show_product(t, v[0].id, r.with_iva, false);
				return;
			}
		}
		if (find(t, r.query, NULL, 0) == 0 &&
		    !product_words(t, r.query)) {
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

static void
decide_rules_parts(struct turn *t)
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
		if ((t->conv.pending == CONV_PENDING_CONFIRM ||
		    t->conv.pending == CONV_PENDING_QUOTE) && t->conv.ncart > 0) {
			/* A quote was waiting for it: made again with it. */
			if (id.verified)
				say(t, T_ID_VERIFIED, id.client.razon);
			else
				say(t, T_ID_PRICES_ONLY);
			call(t, A_QUOTE, NULL);
			return;
		}
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

/* Whether the rules read in text a question about data (products, the
 * account, quotes, the business, a person): the model's words alone never
 * answer one. */
bool
decide_asks_for_data(const char *text)
{
	struct rules_result r;

	rules_parse(text, NULL, &r);
	return substantive(r.intent) || about_business(text);
}

/* ---- proactive messages (lib/proactive) ------------------------------- */

/*
 * The buttons of proactive messages and of the promo question:
 *   "rq:confirm:<quote id>"  a quote reminder's "Confirmar": the PDF;
 *   "rq:renew:<quote id>"    its "Renovar": the same items at today's
 *                            prices as a new quote;
 *   "promo:yes", "promo:no"  consent asked after a confirmed quote.
 * ("Lo quiero" of back in stock is "cart:add:<id>", handled above.)
 */
static bool
decide_proactive_id(struct turn *t, const char *id)
{
	cJSON *a;

	if (strncmp(id, "rq:confirm:", 11) == 0) {
		struct store_quote q;
		bool found = false;

		/* Only that quote: one replaced since is not confirmed by
		 * a reminder of another. */
		if (store_quote_pending_for(t->b->st, t->wa_id, &q, &found) ==
		    OV_OK && found && strcmp(q.id, id + 11) == 0)
			call(t, A_CONFIRM, NULL);
		else
			say(t, T_RENEW_NONE);
		if (found)
			store_quote_clear(&q);
		return true;
	}
	if (strncmp(id, "rq:renew:", 9) == 0) {
		if ((a = cJSON_CreateObject()) != NULL)
			cJSON_AddStringToObject(a, "presupuesto_id", id + 9);
		call(t, A_RENEW, a);
		return true;
	}
	if (strcmp(id, "promo:yes") == 0 || strcmp(id, "promo:no") == 0) {
		if ((a = cJSON_CreateObject()) != NULL)
			cJSON_AddBoolToObject(a, "acepta", id[6] == 'y');
		call(t, A_PROMO, a);
		return true;
	}
	return false;
}

/* What every turn learns for proactive messages: a birthday told (which
 * is the whole answer), the topic and the brands. */
void
decide_rules_turn(struct turn *t)
{
	if (!proactive_hear(t))
		decide_rules_parts(t);
	proactive_note(t);
}

int
decide_model(struct turn *t, const char *const *ids, size_t nids)
{
	int rc = OV_OK;

	if (!proactive_hear(t))
		rc = decide_model_tools(t, ids, nids);
	if (rc == OV_OK)
		proactive_note(t);
	return rc;
}
