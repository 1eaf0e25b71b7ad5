/* lib/rules: what customers' messages ask for, without a model. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "rules.h"

static struct rules_result r;

static void
parse(const char *text, const char *reply_id)
{
	CHECK_INT(rules_parse(text, reply_id, &r), OV_OK);
}

static void
test_fold(void)
{
	char out[64];

	rules_fold("¿Tenés CÁMARAS Ñandú?", out, sizeof(out));
	CHECK_STR(out, " tenes camaras nandu?");
}

static void
test_greetings_and_thanks(void)
{
	parse("Hola!", NULL);
	CHECK_INT(r.intent, RULES_GREETING);
	CHECK(r.greeted);
	parse("Buen día, cómo va?", NULL);
	CHECK_INT(r.intent, RULES_GREETING);
	parse("muchas gracias!!", NULL);
	CHECK_INT(r.intent, RULES_THANKS);
	/* A greeting with a question is the question, greeted. */
	parse("Hola, tenés domos Dahua de 4 MP?", NULL);
	CHECK_INT(r.intent, RULES_SEARCH);
	CHECK(r.greeted);
	CHECK_STR(r.query, "domos dahua 4mp");
	CHECK_INT(r.quantity, 0);
}

static void
test_quantities_with_units(void)
{
	parse("10 fuentes 12V 5A", NULL);
	CHECK_INT(r.intent, RULES_STOCK);
	CHECK_INT(r.quantity, 10);
	CHECK_STR(r.query, "fuentes 12v 5a");
	CHECK(!r.uses_last);

	parse("necesito 3 dvr de 8 canales", NULL);
	CHECK_INT(r.intent, RULES_STOCK);
	CHECK_INT(r.quantity, 3);
	CHECK_STR(r.query, "dvr 8canales");

	parse("domo 4 mp 2.8mm", NULL);
	CHECK_INT(r.quantity, 0);
	CHECK_INT(r.intent, RULES_SEARCH);
	CHECK_STR(r.query, "domo 4mp 2.8mm");

	parse("cable utp x 305 mts", NULL);
	CHECK_INT(r.quantity, 0);

	parse("quiero x20 baluns", NULL);
	CHECK_INT(r.quantity, 20);
	CHECK_STR(r.query, "baluns");

	parse("15 unidades de fuente 12v", NULL);
	CHECK_INT(r.quantity, 15);
	CHECK_STR(r.query, "fuente 12v");

	/* Out of range is not a quantity. */
	parse("tenés 0 camaras", NULL);
	CHECK_INT(r.quantity, 0);
	parse("1000000 camaras", NULL);
	CHECK_INT(r.quantity, 0);
}

static void
test_last_product_follow_ups(void)
{
	parse("¿y tenés 20?", NULL);
	CHECK_INT(r.intent, RULES_STOCK);
	CHECK_INT(r.quantity, 20);
	CHECK(r.uses_last);
	CHECK_STR(r.query, "");

	parse("cuánto sale?", NULL);
	CHECK_INT(r.intent, RULES_PRICE);
	CHECK(r.uses_last);

	parse("armame un presupuesto por 5", NULL);
	CHECK_INT(r.intent, RULES_QUOTE);
	CHECK_INT(r.quantity, 5);
	CHECK(r.uses_last);

	parse("tenés stock?", NULL);
	CHECK_INT(r.intent, RULES_STOCK);
	CHECK(r.uses_last);
}

static void
test_account_and_people(void)
{
	parse("cuánto debo?", NULL);
	CHECK_INT(r.intent, RULES_BALANCE);
	parse("Me pasás mi saldo", NULL);
	CHECK_INT(r.intent, RULES_BALANCE);
	parse("mis últimas facturas", NULL);
	CHECK_INT(r.intent, RULES_INVOICES);
	parse("quiero hablar con alguien", NULL);
	CHECK_INT(r.intent, RULES_HANDOFF);
	parse("me comunicás con un vendedor?", NULL);
	CHECK_INT(r.intent, RULES_HANDOFF);
}

static void
test_quotes(void)
{
	parse("cotizá 10 fuentes 12V 5A", NULL);
	CHECK_INT(r.intent, RULES_QUOTE);
	CHECK_INT(r.quantity, 10);
	CHECK_STR(r.query, "fuentes 12v 5a");
	CHECK(!r.uses_last);
	parse("confirmo", NULL);
	CHECK_INT(r.intent, RULES_CONFIRM);
	parse("Cancelar", NULL);
	CHECK_INT(r.intent, RULES_CANCEL);
	parse("dale", NULL);
	CHECK_INT(r.intent, RULES_YES);
	parse("sí", NULL);
	CHECK_INT(r.intent, RULES_YES);
	parse("no, por ahora no", NULL);
	CHECK_INT(r.intent, RULES_NO);
	parse("no tenés domos?", NULL);
	CHECK_INT(r.intent, RULES_SEARCH);
}

static void
test_reply_ids(void)
{
	parse("Domo Dahua 4MP", "prod:10452");
	CHECK_INT(r.intent, RULES_SELECT);
	CHECK_INT(r.product_id, 10452);
	parse("Confirmar", "quote:confirm");
	CHECK_INT(r.intent, RULES_CONFIRM);
	parse("Cancelar", "quote:cancel");
	CHECK_INT(r.intent, RULES_CANCEL);
	parse("Presupuesto", "quote:new:10477");
	CHECK_INT(r.intent, RULES_QUOTE);
	CHECK_INT(r.product_id, 10477);
	/* Unknown or malformed ids fall back to the text. */
	parse("hola", "prod:abc");
	CHECK_INT(r.intent, RULES_GREETING);
	parse("hola", "prod:-5");
	CHECK_INT(r.product_id, 0);
}

static void
test_identify(void)
{
	parse("mi cuit es 20-28456789-8", NULL);
	CHECK_INT(r.intent, RULES_IDENTIFY);
	CHECK_STR(r.cuit, "20284567898");
	CHECK_STR(r.query, "");
	parse("martin@gomezseguridad.com.ar", NULL);
	CHECK_INT(r.intent, RULES_IDENTIFY);
	CHECK_STR(r.email, "martin@gomezseguridad.com.ar");
	CHECK_STR(r.query, "");
	/* A bad check digit is not a CUIT and not a quantity either. */
	parse("20284567891", NULL);
	CHECK_STR(r.cuit, "");
	CHECK_INT(r.quantity, 0);
	CHECK(r.cuit_like);   /* still an answer: the bot says it is wrong */
	CHECK_INT(r.intent, RULES_IDENTIFY);
}

static void
test_nothing(void)
{
	parse(NULL, NULL);
	CHECK_INT(r.intent, RULES_NONE);
	parse("???", NULL);
	CHECK_INT(r.intent, RULES_NONE);
	CHECK_INT(rules_parse("x", NULL, NULL), OV_EINVAL);
}


static void
test_references(void)
{
	parse("la primera cuánto sale?", NULL);
	CHECK_INT(r.intent, RULES_PRICE);
	CHECK_INT(r.ref, RULES_REF_INDEX);
	CHECK_INT(r.ref_index, 1);
	CHECK_STR(r.query, "");
	parse("la 2", NULL);
	CHECK_INT(r.intent, RULES_SELECT);
	CHECK_INT(r.ref_index, 2);
	CHECK_INT(r.quantity, 0);
	parse("dame 3 de la tercera", NULL);
	CHECK_INT(r.ref, RULES_REF_INDEX);
	CHECK_INT(r.ref_index, 3);
	CHECK_INT(r.quantity, 3);
	CHECK_INT(r.intent, RULES_CART_ADD);
	parse("tenés 10 de esas?", NULL);
	CHECK_INT(r.intent, RULES_STOCK);
	CHECK_INT(r.ref, RULES_REF_THAT);
	CHECK_INT(r.quantity, 10);
	parse("esa", NULL);
	CHECK_INT(r.intent, RULES_SELECT);
	CHECK_INT(r.ref, RULES_REF_THAT);
	parse("la de 3.6mm", NULL);
	CHECK_INT(r.intent, RULES_SELECT);
	CHECK_INT(r.ref, RULES_REF_ATTR);
	CHECK_STR(r.query, "3.6mm");
	parse("la hikvision", NULL);
	CHECK_INT(r.ref, RULES_REF_ATTR);
	CHECK_STR(r.query, "hikvision");
	parse("la más barata", NULL);
	CHECK_INT(r.ref, RULES_REF_CHEAPEST);
	CHECK_INT(r.intent, RULES_SELECT);
	parse("la última", NULL);
	CHECK_INT(r.ref, RULES_REF_LAST_ROW);
	/* "domo de 4 mp" is a size, not a row */
	parse("el 4 mp", NULL);
	CHECK(r.ref != RULES_REF_INDEX);
}

static void
test_variations(void)
{
	parse("y de 8 canales?", NULL);
	CHECK(r.variation);
	CHECK_INT(r.intent, RULES_SEARCH);
	CHECK_STR(r.query, "8canales");
	CHECK_INT(r.quantity, 0);
	parse("y de 8?", NULL);
	CHECK(r.variation);
	CHECK_STR(r.query, "8");
	CHECK_INT(r.quantity, 0);
	parse("y en 5mp?", NULL);
	CHECK(r.variation);
	CHECK_STR(r.query, "5mp");
}

static void
test_cart_edits(void)
{
	parse("mejor que sean 12", NULL);
	CHECK_INT(r.intent, RULES_CART_SET);
	CHECK_INT(r.quantity, 12);
	CHECK_STR(r.query, "");
	parse("en vez de 10 que sean 12", NULL);
	CHECK_INT(r.intent, RULES_CART_SET);
	CHECK_INT(r.quantity, 12);
	parse("sacá el disco", NULL);
	CHECK_INT(r.intent, RULES_CART_REMOVE);
	CHECK_STR(r.query, "disco");
	parse("agregale 2 baluns", NULL);
	CHECK_INT(r.intent, RULES_CART_ADD);
	CHECK_INT(r.quantity, 2);
	CHECK_STR(r.query, "baluns");
	parse("qué llevo?", NULL);
	CHECK_INT(r.intent, RULES_CART_SHOW);
	parse("dame 3", NULL);
	CHECK_INT(r.intent, RULES_CART_ADD);
	CHECK_INT(r.quantity, 3);
	CHECK(r.uses_last);
}

static void
test_several_items(void)
{
	parse("armame presupuesto de 1 teclado pk5501 y 2 baterias 12v 7ah",
	    NULL);
	CHECK_INT(r.intent, RULES_QUOTE);
	CHECK_INT(r.nitems, 2);
	CHECK_INT(r.items[0].quantity, 1);
	CHECK_STR(r.items[0].query, "teclado pk5501");
	CHECK_INT(r.items[1].quantity, 2);
	CHECK_STR(r.items[1].query, "baterias 12v 7ah");
	parse("necesito 10 domos 2mp, 1 dvr 8 canales y una fuente 12v", NULL);
	CHECK_INT(r.nitems, 3);
	CHECK_INT(r.items[0].quantity, 10);
	CHECK_INT(r.items[1].quantity, 1);
	CHECK_STR(r.items[1].query, "dvr 8canales");
	CHECK_INT(r.items[2].quantity, 1);
	CHECK_STR(r.items[2].query, "fuente 12v");
	parse("quiero una camara que tenga un microfono", NULL);
	CHECK_INT(r.nitems, 0);
	parse("tenés sensor pir y cable utp?", NULL);
	CHECK_INT(r.nitems, 2);
}

static void
test_people_and_small_talk(void)
{
	parse("el dvr q me vendieron no graba, hace 3 dias q espero", NULL);
	CHECK_INT(r.intent, RULES_COMPLAINT);
	CHECK_INT(r.quantity, 0);
	parse("gracias genio", NULL);
	CHECK_INT(r.intent, RULES_THANKS);
	parse("chau", NULL);
	CHECK_INT(r.intent, RULES_BYE);
	parse("👍", NULL);
	CHECK_INT(r.intent, RULES_THANKS);
	CHECK(r.emoji_only);
	parse("baja", NULL);
	CHECK_INT(r.intent, RULES_OPT_OUT);
	parse("no me manden más promociones", NULL);
	CHECK_INT(r.intent, RULES_OPT_OUT);
	parse("precio con iva del dvr", NULL);
	CHECK_INT(r.intent, RULES_PRICE);
	CHECK(r.with_iva);
	CHECK_STR(r.query, "dvr");
}

int
main(void)
{
	RUN(test_fold);
	RUN(test_greetings_and_thanks);
	RUN(test_quantities_with_units);
	RUN(test_last_product_follow_ups);
	RUN(test_account_and_people);
	RUN(test_quotes);
	RUN(test_reply_ids);
	RUN(test_identify);
	RUN(test_nothing);
	RUN(test_references);
	RUN(test_variations);
	RUN(test_cart_edits);
	RUN(test_several_items);
	RUN(test_people_and_small_talk);
	return check_finish();
}
