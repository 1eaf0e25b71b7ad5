/*
 * test_decide.c - the conversation's memory without stand-ins: rules and
 * the action table over a real store (SQLite, or MongoDB with
 * MONGODB_URI) with a small catalog. Each test plays customer messages
 * into a turn (lib/decide) and checks what the customer would read and
 * what the conversation remembers (the last list, the cart). Nothing is
 * sent: replies stay in the turn.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "actions.h"
#include "catalog.h"
#include "check.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "decide.h"
#include "err.h"
#include "log.h"
#include "quote.h"
#include "store.h"
#include "turn.h"

static char dir[] = "/tmp/ov_test_decide.XXXXXX";
static struct config *cfg;
static struct store *st;
static struct bot bot;
static struct conv saved;
static char said[16384];

#define WA "5493415550000"

/* ---- the catalog ------------------------------------------------------ */

static int
put(struct store_catalog_writer *w, int64_t id, const char *code,
    const char *name, const char *brand, int64_t cents, int iva, double stock)
{
	struct catalog_product p;

	memset(&p, 0, sizeof(p));
	p.id = id;
	snprintf(p.codigo, sizeof(p.codigo), "%s", code);
	snprintf(p.nombre, sizeof(p.nombre), "%s", name);
	snprintf(p.marca, sizeof(p.marca), "%s", brand);
	p.neto_cents = cents;
	p.final_cents = cents * (1000 + iva) / 1000;
	p.iva_tenths = iva;
	p.stock = stock;
	snprintf(p.moneda, sizeof(p.moneda), "USD");
	return catalog_put(w, &p);
}

static int
load_catalog(void)
{
	struct store_catalog_writer *w = NULL;
	int rc;

	if ((rc = store_catalog_begin(st, CATALOG_NAME, &w)) != OV_OK)
		return rc;
	if ((rc = put(w, 101, "DH-HDW1400-28", "Cámara Domo Dahua 4MP 2.8mm",
	    "Dahua", 4850, 210, 12)) != OV_OK ||
	    (rc = put(w, 102, "DS-2CE76-36", "Cámara Domo Hikvision 4MP 3.6mm",
	    "Hikvision", 5200, 210, 30)) != OV_OK ||
	    (rc = put(w, 103, "IPC-T2-28", "Cámara Domo Imou 4MP 2.8mm Wi-Fi",
	    "Imou", 3990, 210, 0)) != OV_OK ||
	    (rc = put(w, 201, "XVR-4CH", "DVR Dahua 4 canales 1080p", "Dahua",
	    6100, 210, 9)) != OV_OK ||
	    (rc = put(w, 202, "XVR-8CH", "DVR Dahua 8 canales 1080p", "Dahua",
	    8900, 210, 5)) != OV_OK ||
	    (rc = put(w, 301, "PK5501", "Teclado DSC PK5501 LCD", "DSC", 7400,
	    210, 6)) != OV_OK ||
	    (rc = put(w, 302, "BAT-12-7", "Batería 12V 7Ah gel", "Genérica",
	    1600, 210, 80)) != OV_OK ||
	    (rc = put(w, 401, "HDD-1TB", "Disco rígido 1TB Purple WD", "WD",
	    5500, 105, 20)) != OV_OK ||
	    (rc = put(w, 501, "BAL-HD", "Balun pasivo HD par", "Genérica", 350,
	    210, 200)) != OV_OK) {
		store_catalog_abort(w);
		return rc;
	}
	return store_catalog_commit(w);
}

/* ---- turns -------------------------------------------------------------- */

/* One message as a turn; what it says lands in `said` (all replies,
 * their words, rows and buttons), the conversation in `saved`. */
static void
msg(const char *text)
{
	struct turn t;

	memset(&t, 0, sizeof(t));
	t.b = &bot;
	t.wa_id = WA;
	t.now = clock_now();
	snprintf(t.today, sizeof(t.today), "2026-11-24");
	t.conv = saved;
	snprintf(t.text, sizeof(t.text), "%s", text);
	t.part_text[0] = text;
	t.nparts = 1;
	decide_rules_turn(&t);
	said[0] = '\0';
	for (size_t i = 0; i < t.nreplies; i++) {
		char *s = cJSON_PrintUnformatted(t.replies[i].payload);

		if (s != NULL && strlen(said) + strlen(s) + 2 < sizeof(said)) {
			strcat(said, s);
			strcat(said, "\n");
		}
		free(s);
	}
	saved = t.conv;
	replies_free(&t);
	notices_free(&t);
}

static bool
reads(const char *what)
{
	return strstr(said, what) != NULL;
}

static int64_t
cart_qty(int64_t id)
{
	int i = conv_cart_find(&saved, id);

	return i < 0 ? 0 : saved.cart[i].qty;
}

static void
fresh(void)
{
	conv_init(&saved, WA);
}

/* ---- tests ----------------------------------------------------------- */

static void
test_action_table(void)
{
	size_t n, nt;
	const struct action *a = actions_table(&n);
	const struct llm_tool *tl = actions_tools(&nt);
	char err[256];

	CHECK_INT(n, nt);
	CHECK(n >= 15);
	CHECK_INT(llm_tools_check(tl, nt, err, sizeof(err)), OV_OK);
	for (size_t i = 0; i < n; i++) {
		CHECK(a[i].run != NULL);
		CHECK_STR(a[i].tool.name, tl[i].name);
	}
	/* The rules' calls are validated by the model's schema. */
	{
		struct turn t;
		cJSON *bad = cJSON_Parse("{\"producto_id\":-3}");

		memset(&t, 0, sizeof(t));
		t.b = &bot;
		t.wa_id = WA;
		conv_init(&t.conv, WA);
		CHECK_INT(action_call(&t, A_PRODUCT, bad), OV_EINVAL);
		CHECK_INT(action_call(&t, "no_such_action", NULL), OV_EINVAL);
		CHECK_INT(t.nreplies, 0);
		cJSON_Delete(bad);
	}
}

static void
test_references_to_the_list(void)
{
	fresh();
	msg("tenes domos de 4mp?");
	CHECK(reads("Domo Dahua 4MP"));
	CHECK(reads("Domo Hikvision"));
	CHECK(saved.nlist >= 3);
	msg("la primera cuánto sale?");
	CHECK(reads("Dahua"));
	CHECK(reads("USD 48,50"));
	CHECK_INT(saved.last_product, saved.list[0]);
	msg("la hikvision");
	CHECK(reads("Hikvision 4MP 3.6mm"));
	CHECK_INT(saved.last_product, 102);
	msg("la de 2.8mm");
	CHECK(reads("2.8mm"));
	msg("la más barata");
	CHECK(reads("Imou"));
	msg("dame 3 de la de 3.6");
	CHECK_INT(cart_qty(102), 3);
	conv_cart_clear(&saved);
	msg("la 2");
	CHECK_INT(saved.last_product, saved.list[1]);
	msg("tenés 10 de esas?");
	CHECK(reads("te alcanza"));
	CHECK_INT(saved.pending, CONV_PENDING_ADD);
	msg("dale");
	CHECK_INT(cart_qty(saved.list[1]), 10);
	CHECK(reads("Tu pedido"));
}

static void
test_variation_and_bare_numbers(void)
{
	fresh();
	msg("dvr 4 canales");
	CHECK(reads("DVR Dahua 4 canales"));
	msg("y de 8?");
	CHECK(reads("DVR Dahua 8 canales"));
	CHECK(!reads("4 canales"));
	CHECK_INT(saved.last_product, 202);
	msg("dame 3");
	CHECK_INT(cart_qty(202), 3);
	fresh();
	msg("domo 4mp");
	msg("2");
	CHECK_INT(saved.last_product, saved.list[1]);
	CHECK_INT(saved.ncart, 0);
	msg("4");
	CHECK_INT(cart_qty(saved.last_product), 4);
}

static void
test_cart_and_quote(void)
{
	fresh();
	msg("armame presupuesto de 1 teclado pk5501 y 2 baterias 12v 7ah");
	CHECK_INT(cart_qty(301), 1);
	CHECK_INT(cart_qty(302), 2);
	CHECK(reads("Teclado DSC PK5501"));
	CHECK(reads("Batería 12V 7Ah"));
	CHECK(reads("presupuesto N°"));
	/* 74,00 + 2 x 16,00 = 106,00 + 21 % = 128,26 */
	CHECK(reads("Total USD 128,26"));
	CHECK_INT(saved.pending, CONV_PENDING_CONFIRM);
	msg("mejor que sean 12");
	/* the last product talked about is the battery */
	CHECK_INT(cart_qty(302), 12);
	CHECK(reads("12 × Batería"));
	CHECK_INT(saved.pending, CONV_PENDING_CONFIRM);
	msg("agregale 2 baluns");
	CHECK_INT(cart_qty(501), 2);
	msg("agregale un disco de 1tb");
	CHECK_INT(cart_qty(401), 1);
	msg("sacá el disco");
	CHECK_INT(cart_qty(401), 0);
	CHECK_INT(cart_qty(301), 1);
	msg("qué llevo?");
	CHECK(reads("Tu pedido"));
	CHECK(reads("Teclado"));
	CHECK(reads("Balun"));
	CHECK(!reads("Disco"));
}

static void
test_small_talk_and_complaints(void)
{
	fresh();
	msg("gracias genio");
	CHECK(!reads("No encontr"));
	CHECK(reads("De nada"));
	msg("👍");
	CHECK(!reads("No encontr"));
	msg("chau");
	CHECK(reads("Chau"));
	msg("el dvr q me vendieron no graba, hace 3 dias q espero");
	CHECK(reads("Perdoná"));
	CHECK(!reads("\"rows\""));
	CHECK(!reads("tenemos"));
	msg("a q hora abren mañana?");
	CHECK(!reads("No encontr"));
	CHECK(!reads("\"rows\""));
}

static void
test_out_of_stock_alternatives(void)
{
	fresh();
	msg("domo imou wifi");
	CHECK(reads("no tenemos stock"));
	CHECK(reads("Hikvision") || reads("Dahua"));
	CHECK(saved.nlist >= 1 && saved.nlist <= 3);
}

int
main(void)
{
	char err[512];
	int rc = 1;

	log_init("test_decide");
	log_set_level(LOG_ERROR);
	unsetenv("OVIDIO_CONFIG");
	{
		char db[64];

		snprintf(db, sizeof(db), "ovidio_test_decide_%ld", (long)getpid());
		setenv("MONGODB_DB", db, 1);
	}
	if (mkdtemp(dir) == NULL)
		return 1;
	setenv("OVIDIO_DATA_DIR", dir, 1);
	setenv("OVIDIO_NOW", "2026-11-24T10:00:00-03:00", 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		return 1;
	}
	if (store_open(&st, cfg) != OV_OK || load_catalog() != OV_OK) {
		fprintf(stderr, "store or catalog failed\n");
		goto out;
	}
	bot.cfg = cfg;
	bot.st = st;
	bot.ttl_days = 15;
	bot.handoff_hours = 4;
	bot.business = "GRUPO SER";
	RUN(test_action_table);
	RUN(test_references_to_the_list);
	RUN(test_variation_and_bare_numbers);
	RUN(test_cart_and_quote);
	RUN(test_small_talk_and_complaints);
	RUN(test_out_of_stock_alternatives);
	rc = check_finish();
out:
	store_close(st);
	config_free(cfg);
	return rc;
}
