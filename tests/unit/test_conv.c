/*
 * test_conv.c - lib/conv: the conversation's state through its codec
 * (every field there and back, broken documents read as defaults), v1's
 * profile JSON converted, and the cart's rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "conv.h"
#include "err.h"
#include "store.h"

/* A conversation with every field set away from its default. */
static void
full_conv(struct conv *c)
{
	static const int64_t list[] = { 101, 202, 303 };

	conv_init(c, "AR.1502576394655843");
	c->owner = CONV_OWNER_AGENT;
	snprintf(c->agent, sizeof(c->agent), "ana@empresa");
	c->owner_until = 1764600000;
	c->pending = CONV_PENDING_CONFIRM;
	conv_set_list(c, list, 3, "disco 1 tb");
	c->last_product = 202;
	c->last_qty = 4;
	CHECK_INT(conv_cart_add(c, 101, 2), OV_OK);
	CHECK_INT(conv_cart_add(c, 303, 10), OV_OK);
	c->quote_number = 1234;
	c->last_inbound = 1764500000;
	snprintf(c->greeted_day, sizeof(c->greeted_day), "2026-11-24");
	c->introduced = true;
	c->cuit_asked = true;
	snprintf(c->cuit, sizeof(c->cuit), "20284567898");
	snprintf(c->razon, sizeof(c->razon), "Ñandú Informática S.R.L.");
	c->cuit_verified = true;
	snprintf(c->topic, sizeof(c->topic), "discos, memorias");
	conv_note_brand(c, "Kingston");
	conv_note_brand(c, "WD");
	c->profile.promo = CONV_PROMO_YES;
	c->profile.promo_asked = true;
	c->profile.opted_out = true;
	snprintf(c->profile.birthday, sizeof(c->profile.birthday), "07-09");
}

static void
test_round_trip(void)
{
	struct conv a, b;
	struct store_conv sc;

	full_conv(&a);
	CHECK_INT(conv_to_store(&a, &sc), OV_OK);
	CHECK_STR(sc.key, "AR.1502576394655843");
	CHECK_STR(sc.owner, "agent");
	CHECK_STR(sc.agent, "ana@empresa");
	CHECK_INT(sc.last_inbound, 1764500000);
	CHECK(sc.doc != NULL);
	/* The indexed fields live outside the document. */
	CHECK(sc.doc != NULL && strstr(sc.doc, "ana@empresa") == NULL);
	CHECK_INT(conv_from_store(&sc, &b), OV_OK);
	CHECK_STR(b.key, a.key);
	CHECK_INT(b.owner, CONV_OWNER_AGENT);
	CHECK_STR(b.agent, "ana@empresa");
	CHECK_INT(b.owner_until, 1764600000);
	CHECK_INT(b.pending, CONV_PENDING_CONFIRM);
	CHECK_INT(b.nlist, 3);
	CHECK_INT(b.list[0], 101);
	CHECK_INT(b.list[1], 202);
	CHECK_INT(b.list[2], 303);
	CHECK_STR(b.list_query, "disco 1 tb");
	CHECK_INT(b.last_product, 202);
	CHECK_INT(b.last_qty, 4);
	CHECK_INT(b.ncart, 2);
	CHECK_INT(b.cart[0].product_id, 101);
	CHECK_INT(b.cart[0].qty, 2);
	CHECK_INT(b.cart[1].product_id, 303);
	CHECK_INT(b.cart[1].qty, 10);
	CHECK_INT(b.quote_number, 1234);
	CHECK_INT(b.last_inbound, 1764500000);
	CHECK_STR(b.greeted_day, "2026-11-24");
	CHECK(b.introduced);
	CHECK(b.cuit_asked);
	CHECK_STR(b.cuit, "20284567898");
	CHECK_STR(b.razon, "Ñandú Informática S.R.L.");
	CHECK(b.cuit_verified);
	CHECK_STR(b.topic, "discos, memorias");
	CHECK_INT(b.profile.nbrands, 2);
	CHECK_STR(b.profile.brands[0], "WD");
	CHECK_STR(b.profile.brands[1], "Kingston");
	CHECK_INT(b.profile.promo, CONV_PROMO_YES);
	CHECK(b.profile.promo_asked);
	CHECK(b.profile.opted_out);
	CHECK_STR(b.profile.birthday, "07-09");
	/* Byte for byte the same state. */
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	store_conv_clear(&sc);

	/* Every pending question by its name, and back. */
	for (int p = 0; p < CONV_PENDING__COUNT; p++) {
		conv_init(&a, "5493415550001");
		a.pending = (enum conv_pending)p;
		CHECK_INT(conv_to_store(&a, &sc), OV_OK);
		CHECK_INT(conv_from_store(&sc, &b), OV_OK);
		CHECK_INT(b.pending, p);
		CHECK_INT(conv_pending_parse(conv_pending_name(
		    (enum conv_pending)p)), p);
		store_conv_clear(&sc);
	}
	CHECK_STR(conv_pending_name(CONV_PENDING__COUNT), "none");
	CHECK_INT(conv_pending_parse("QTY"), CONV_PENDING_NONE);
	CHECK_INT(conv_pending_parse(NULL), CONV_PENDING_NONE);

	/* A bot-owned conversation. */
	conv_init(&a, "5493415550001");
	CHECK_INT(conv_to_store(&a, &sc), OV_OK);
	CHECK_STR(sc.owner, "bot");
	CHECK_STR(sc.agent, "");
	CHECK_INT(conv_from_store(&sc, &b), OV_OK);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	store_conv_clear(&sc);
}

/* The store's record with this document. */
static void
from_doc(const char *doc, struct conv *c)
{
	struct store_conv sc;

	memset(&sc, 0, sizeof(sc));
	snprintf(sc.key, sizeof(sc.key), "5493415550002");
	snprintf(sc.owner, sizeof(sc.owner), "bot");
	sc.last_inbound = 77;
	sc.doc = (char *)doc;
	CHECK_INT(conv_from_store(&sc, c), OV_OK);
}

static bool
is_default(const struct conv *c)
{
	struct conv d;

	conv_init(&d, "5493415550002");
	d.last_inbound = 77;
	return memcmp(c, &d, sizeof(d)) == 0;
}

static void
test_broken_documents(void)
{
	static const char *const broken[] = {
		NULL, "", "{", "[]", "null", "42", "\"text\"",
		"{\"pending\": 3, \"list\": \"1,2\", \"cart\": {\"id\": 1}}",
		"{\"last_product\": -5, \"last_qty\": 0, \"quote_number\": 1.5}",
		"{\"last_qty\": 100001, \"owner_until\": -1}",
		"{\"greeted_day\": \"ayer\", \"cuit\": \"20-28456789-8\"}",
		"{\"cuit\": \"2028456789\", \"introduced\": \"yes\"}",
		"{\"profile\": [], \"razon\": 7}",
		"{\"profile\": {\"promo\": \"maybe\", \"birthday\": \"13-01\","
		    " \"brands\": [1, \"\", null]}}",
		"{\"pending\": \"desconocido\", \"unknown\": {\"deep\": [1]}}",
	};
	struct conv c;
	char doc[8192];
	size_t o;

	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		from_doc(broken[i], &c);
		if (!is_default(&c))
			fprintf(stderr, "  not defaults for %s\n",
			    broken[i] ? broken[i] : "NULL");
		CHECK(is_default(&c));
	}

	/* Bad entries are dropped, good ones next to them kept. */
	from_doc("{\"list\": [5, -1, 0, 2.5, \"7\", 9e99, 8],"
	    " \"cart\": [{\"id\": 1, \"qty\": 2}, {\"id\": 0, \"qty\": 1},"
	    " {\"id\": 3, \"qty\": 0}, {\"id\": 4, \"qty\": 100001},"
	    " {\"id\": 1, \"qty\": 9}, {\"id\": 5, \"qty\": 100000}, 7]}", &c);
	CHECK_INT(c.nlist, 2);
	CHECK_INT(c.list[0], 5);
	CHECK_INT(c.list[1], 8);
	CHECK_INT(c.ncart, 2);
	CHECK_INT(c.cart[0].product_id, 1);
	CHECK_INT(c.cart[0].qty, 2);
	CHECK_INT(c.cart[1].product_id, 5);
	CHECK_INT(c.cart[1].qty, CONV_QTY_MAX);

	/* Lists longer than their caps: the first ones kept. */
	o = (size_t)snprintf(doc, sizeof(doc), "{\"list\": [");
	for (int i = 1; i <= 25; i++)
		o += (size_t)snprintf(doc + o, sizeof(doc) - o, "%s%d",
		    i > 1 ? "," : "", i);
	o += (size_t)snprintf(doc + o, sizeof(doc) - o, "], \"cart\": [");
	for (int i = 1; i <= 40; i++)
		o += (size_t)snprintf(doc + o, sizeof(doc) - o,
		    "%s{\"id\": %d, \"qty\": 1}", i > 1 ? "," : "", i);
	o += (size_t)snprintf(doc + o, sizeof(doc) - o, "], \"profile\":"
	    " {\"brands\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\"]}}");
	CHECK(o < sizeof(doc));
	from_doc(doc, &c);
	CHECK_INT(c.nlist, CONV_LIST_MAX);
	CHECK_INT(c.list[CONV_LIST_MAX - 1], CONV_LIST_MAX);
	CHECK_INT(c.ncart, CONV_CART_MAX);
	CHECK_INT(c.cart[CONV_CART_MAX - 1].product_id, CONV_CART_MAX);
	CHECK_INT(c.profile.nbrands, CONV_BRANDS_MAX);
	CHECK_STR(c.profile.brands[0], "a");

	/* Texts over their bounds are cut at a character, never mid-way. */
	o = (size_t)snprintf(doc, sizeof(doc), "{\"razon\": \"");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(doc + o, sizeof(doc) - o, "ñ");
	o += (size_t)snprintf(doc + o, sizeof(doc) - o, "\", \"topic\": \"");
	for (int i = 0; i < 300; i++)
		doc[o++] = 'x';
	snprintf(doc + o, sizeof(doc) - o, "\"}");
	from_doc(doc, &c);
	CHECK_INT(strlen(c.razon), 126);   /* 63 ñ of 2 bytes */
	CHECK_INT(strlen(c.topic), CONV_TOPIC_MAX);

	/* An agent record keeps who; an unknown owner reads as the bot. */
	{
		struct store_conv sc;

		memset(&sc, 0, sizeof(sc));
		snprintf(sc.key, sizeof(sc.key), "5493415550002");
		snprintf(sc.owner, sizeof(sc.owner), "robot");
		snprintf(sc.agent, sizeof(sc.agent), "ana");
		sc.doc = (char *)"{}";
		CHECK_INT(conv_from_store(&sc, &c), OV_OK);
		CHECK_INT(c.owner, CONV_OWNER_BOT);
		CHECK_STR(c.agent, "");
		snprintf(sc.owner, sizeof(sc.owner), "agent");
		CHECK_INT(conv_from_store(&sc, &c), OV_OK);
		CHECK_INT(c.owner, CONV_OWNER_AGENT);
		CHECK_STR(c.agent, "ana");
		CHECK_INT(conv_from_store(NULL, &c), OV_EINVAL);
	}
}

static void
test_profile_migration(void)
{
	struct conv c;

	CHECK_INT(conv_from_profile("5493415550003",
	    "{\"pending\":\"quote_qty\",\"last_product\":4711,\"last_qty\":3,"
	    "\"last_query\":\"mouse inalambrico\",\"greeted\":\"2026-11-20\","
	    "\"intro\":true,\"cuit_asked\":true,\"cuit\":\"20-28456789-8\","
	    "\"razon\":\"Pérez Juan\",\"handoff_until\":1764000000,"
	    "\"something_else\":[1,2]}", &c), OV_OK);
	CHECK_STR(c.key, "5493415550003");
	CHECK_INT(c.pending, CONV_PENDING_QTY);
	CHECK_INT(c.last_product, 4711);
	CHECK_INT(c.last_qty, 3);
	CHECK_STR(c.list_query, "mouse inalambrico");
	CHECK_STR(c.greeted_day, "2026-11-20");
	CHECK(c.introduced);
	CHECK(c.cuit_asked);
	CHECK_STR(c.cuit, "20284567898");
	CHECK_STR(c.razon, "Pérez Juan");
	CHECK_INT(c.owner, CONV_OWNER_AGENT);
	CHECK_STR(c.agent, "handoff");
	CHECK_INT(c.owner_until, 1764000000);
	CHECK_INT(c.ncart, 0);

	/* Each v1 pending string. */
	{
		static const struct {
			const char *v1;
			enum conv_pending p;
		} map[] = {
			{ "qty", CONV_PENDING_QTY },
			{ "quote", CONV_PENDING_QUOTE },
			{ "quote_qty", CONV_PENDING_QTY },
			{ "confirm", CONV_PENDING_CONFIRM },
			{ "invoices", CONV_PENDING_INVOICES },
			{ "handoff", CONV_PENDING_HANDOFF },
			{ "alt", CONV_PENDING_ALT },
			{ "", CONV_PENDING_NONE },
			{ "cualquiera", CONV_PENDING_NONE },
		};
		char json[128];

		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			snprintf(json, sizeof(json), "{\"pending\":\"%s\"}",
			    map[i].v1);
			CHECK_INT(conv_from_profile("5493415550003", json, &c),
			    OV_OK);
			CHECK_INT(c.pending, map[i].p);
			CHECK_INT(c.owner, CONV_OWNER_BOT);
		}
	}

	/* A DNI is no CUIT; nothing, or broken, is an empty conversation. */
	CHECK_INT(conv_from_profile("5493415550003", "{\"cuit\":\"28456789\","
	    "\"handoff_until\":0,\"last_qty\":-2}", &c), OV_OK);
	CHECK_STR(c.cuit, "");
	CHECK_INT(c.owner, CONV_OWNER_BOT);
	CHECK_INT(c.last_qty, 0);
	CHECK_INT(conv_from_profile("5493415550003", NULL, &c), OV_OK);
	CHECK_STR(c.key, "5493415550003");
	CHECK_INT(c.pending, CONV_PENDING_NONE);
	CHECK_INT(conv_from_profile("5493415550003", "{\"pending\":", &c),
	    OV_OK);
	CHECK_INT(c.pending, CONV_PENDING_NONE);
	CHECK_INT(conv_from_profile("5493415550003", "{}", NULL), OV_EINVAL);
}

static void
test_cart(void)
{
	struct conv c;

	conv_init(&c, "5493415550004");
	CHECK_INT(conv_cart_find(&c, 1), -1);
	CHECK_INT(conv_cart_add(&c, 10, 2), OV_OK);
	CHECK_INT(conv_cart_add(&c, 20, 1), OV_OK);
	CHECK_INT(conv_cart_add(&c, 10, 3), OV_OK);   /* more of a line */
	CHECK_INT(c.ncart, 2);
	CHECK_INT(conv_cart_find(&c, 10), 0);
	CHECK_INT(c.cart[0].qty, 5);
	CHECK_INT(conv_cart_find(&c, 20), 1);

	/* Bounds: quantity 1..CONV_QTY_MAX, ids >= 1; a sum over is capped. */
	CHECK_INT(conv_cart_add(&c, 10, 0), OV_EINVAL);
	CHECK_INT(conv_cart_add(&c, 10, -1), OV_EINVAL);
	CHECK_INT(conv_cart_add(&c, 10, CONV_QTY_MAX + 1), OV_EINVAL);
	CHECK_INT(conv_cart_add(&c, 0, 1), OV_EINVAL);
	CHECK_INT(conv_cart_add(&c, 20, CONV_QTY_MAX), OV_OK);
	CHECK_INT(c.cart[1].qty, CONV_QTY_MAX);
	CHECK_INT(c.cart[0].qty, 5);

	/* Set: a new line, a new quantity, 0 removes. */
	CHECK_INT(conv_cart_set(&c, 30, 7), OV_OK);
	CHECK_INT(c.ncart, 3);
	CHECK_INT(c.cart[2].qty, 7);
	CHECK_INT(conv_cart_set(&c, 10, 1), OV_OK);
	CHECK_INT(c.cart[0].qty, 1);
	CHECK_INT(conv_cart_set(&c, 10, CONV_QTY_MAX + 1), OV_EINVAL);
	CHECK_INT(conv_cart_set(&c, 10, -1), OV_EINVAL);
	CHECK_INT(conv_cart_set(&c, 10, 0), OV_OK);
	CHECK_INT(c.ncart, 2);
	CHECK_INT(c.cart[0].product_id, 20);   /* order kept */
	CHECK_INT(c.cart[1].product_id, 30);
	CHECK_INT(conv_cart_set(&c, 99, 0), OV_OK);   /* nothing to remove */
	CHECK_INT(c.ncart, 2);

	/* Remove. */
	CHECK_INT(conv_cart_remove(&c, 20), OV_OK);
	CHECK_INT(conv_cart_remove(&c, 20), OV_ENOTFOUND);
	CHECK_INT(c.ncart, 1);
	CHECK_INT(c.cart[0].product_id, 30);

	/* Full: a new line refused, more of a line still fine. */
	conv_cart_clear(&c);
	CHECK_INT(c.ncart, 0);
	for (int i = 1; i <= CONV_CART_MAX; i++)
		CHECK_INT(conv_cart_add(&c, i, 1), OV_OK);
	CHECK_INT(conv_cart_add(&c, 1000, 1), OV_ETOOBIG);
	CHECK_INT(conv_cart_set(&c, 1000, 1), OV_ETOOBIG);
	CHECK_INT(conv_cart_add(&c, 5, 1), OV_OK);
	CHECK_INT(c.cart[4].qty, 2);
	CHECK_INT(c.ncart, CONV_CART_MAX);
	CHECK_INT(conv_cart_remove(&c, 1), OV_OK);
	CHECK_INT(conv_cart_add(&c, 1000, 1), OV_OK);
	CHECK_INT(c.cart[CONV_CART_MAX - 1].product_id, 1000);
}

static void
test_list_and_brands(void)
{
	int64_t ids[CONV_LIST_MAX + 5];
	struct conv c;
	char longq[CONV_QUERY_MAX + 50];

	conv_init(&c, "5493415550005");
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		ids[i] = (int64_t)i + 100;
	memset(longq, 'q', sizeof(longq) - 1);
	longq[sizeof(longq) - 1] = '\0';
	conv_set_list(&c, ids, sizeof(ids) / sizeof(ids[0]), longq);
	CHECK_INT(c.nlist, CONV_LIST_MAX);
	CHECK_INT(c.list[0], 100);
	CHECK_INT(c.list[CONV_LIST_MAX - 1], 100 + CONV_LIST_MAX - 1);
	CHECK_INT(strlen(c.list_query), CONV_QUERY_MAX);
	conv_set_list(&c, ids, 2, NULL);
	CHECK_INT(c.nlist, 2);
	CHECK_STR(c.list_query, "");
	conv_set_list(&c, NULL, 0, "nada");
	CHECK_INT(c.nlist, 0);
	CHECK_STR(c.list_query, "nada");

	/* Brands: most recent first, a repeat moves up, the oldest goes. */
	conv_note_brand(&c, "Kingston");
	conv_note_brand(&c, "Logitech");
	conv_note_brand(&c, "kingston");
	CHECK_INT(c.profile.nbrands, 2);
	CHECK_STR(c.profile.brands[0], "kingston");
	CHECK_STR(c.profile.brands[1], "Logitech");
	conv_note_brand(&c, "");
	conv_note_brand(&c, NULL);
	CHECK_INT(c.profile.nbrands, 2);
	conv_note_brand(&c, "HP");
	conv_note_brand(&c, "Dell");
	conv_note_brand(&c, "Lenovo");
	conv_note_brand(&c, "Asus");
	CHECK_INT(c.profile.nbrands, CONV_BRANDS_MAX);
	CHECK_STR(c.profile.brands[0], "Asus");
	CHECK_STR(c.profile.brands[4], "kingston");   /* Logitech gone */
	conv_note_brand(&c, "Dell");                  /* moves up */
	CHECK_STR(c.profile.brands[0], "Dell");
	CHECK_STR(c.profile.brands[1], "Asus");
	CHECK_STR(c.profile.brands[2], "Lenovo");
	CHECK_STR(c.profile.brands[3], "HP");
	conv_note_brand(&c, "Samsung");
	CHECK_INT(c.profile.nbrands, CONV_BRANDS_MAX);
	CHECK_STR(c.profile.brands[0], "Samsung");
	CHECK_STR(c.profile.brands[4], "HP");         /* kingston gone */
	conv_note_brand(&c, "Una marca con un nombre larguísimo de verdad");
	CHECK(strlen(c.profile.brands[0]) <= CONV_BRAND_MAX);
	CHECK(strncmp(c.profile.brands[0], "Una marca", 9) == 0);
}

int
main(void)
{
	RUN(test_round_trip);
	RUN(test_broken_documents);
	RUN(test_profile_migration);
	RUN(test_cart);
	RUN(test_list_and_brands);
	return check_finish();
}
