/*
 * test_isr.c - ISR quote events (lib/isr.h): the posted body, and the
 * queue written with the quote (SQLite, or MongoDB with MONGODB_URI).
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "config.h"
#include "err.h"
#include "isr.h"
#include "log.h"
#include "quote.h"
#include "store.h"

static char tmpdir[] = "/tmp/ovidio-isr-test-XXXXXX";

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
sample(struct quote *q, const char *wa_id)
{
	struct quote_item a = { 0 }, b = { 0 };

	quote_init(q);
	snprintf(q->wa_id, sizeof(q->wa_id), "%s", wa_id);
	quote_set_customer(q, "Gómez \"Martín\"", "20-28456789-8", wa_id);
	snprintf(a.code, sizeof(a.code), "DH-1");
	snprintf(a.name, sizeof(a.name), "Cámara 4MP");
	a.quantity = 4;
	a.unit_cents = 4850;
	a.iva_tenths = 210;
	snprintf(b.code, sizeof(b.code), "PK5501");
	snprintf(b.name, sizeof(b.name), "Teclado");
	b.quantity = 1;
	b.unit_cents = 4050;
	b.iva_tenths = 105;
	quote_add_item(q, &a);
	quote_add_item(q, &b);
}

static double
num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *
str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static void
test_body_has_the_old_fields(void)
{
	struct quote q;
	char *json = NULL;
	cJSON *o, *c, *p, *t;

	sample(&q, "5493415551234");
	q.number = 59;
	q.created_at = 1764000000;
	q.expires_at = q.created_at + 15 * 86400;
	CHECK_INT(isr_quote_json(&q, "nuevo", &json), OV_OK);
	o = json != NULL ? cJSON_Parse(json) : NULL;
	CHECK(o != NULL);
	if (o != NULL) {
		CHECK_STR(str(o, "estado"), "nuevo");
		CHECK_INT((long)num(o, "numero"), 59);
		CHECK_INT((long)num(o, "validezDias"), 15);
		CHECK_STR(str(o, "fecha"), "2025-11-24T16:00:00Z");
		CHECK(strstr(str(o, "notas"), "59") != NULL);
		c = cJSON_GetObjectItemCaseSensitive(o, "cliente");
		CHECK_STR(str(c, "nombre"), "Gómez \"Martín\"");
		CHECK_STR(str(c, "telefono"), "5493415551234");
		p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o,
		    "productos"), 1);
		CHECK_STR(str(p, "codigo"), "PK5501");
		CHECK_INT((long)num(p, "cantidad"), 1);
		CHECK(num(p, "precioUSD") == 40.5);
		CHECK(num(p, "iva") == 10.5);
		t = cJSON_GetObjectItemCaseSensitive(o, "totales");
		/* 194.00 + 40.50; IVA 40.74 + 4.25 (rounded per line). */
		CHECK(num(t, "subtotalUSD") == 234.5);
		CHECK(num(t, "ivaUSD") == 44.99);
		CHECK(num(t, "totalUSD") == 279.49);
		cJSON_Delete(o);
	}
	free(json);
	quote_clear(&q);
}

/* With ISR_API_URL the quote's events are queued with it, once each, in
 * order; without it nothing is kept. */
static void
test_events_queued_with_the_quote(void)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct store_isr *v = NULL;
	struct quote q;
	char err[256], id[64];
	size_t n = 0;

	setenv("ISR_API_URL", "http://127.0.0.1:9", 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(store_open(&st, cfg), OV_OK);
	unsetenv("ISR_API_URL");
	if (st == NULL)
		goto out;
	sample(&q, "5493415559999");
	CHECK_INT(quote_create(st, &q, 15), OV_OK);
	CHECK_INT(quote_set_state(st, &q, QUOTE_CANCELLED), OV_OK);
	CHECK_INT(isr_quote_event(st, &q), OV_OK);   /* again: kept once */
	CHECK_INT(store_isr_list(st, 100, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		snprintf(id, sizeof(id), "%s:nuevo", q.id);
		CHECK_STR(v[0].id, id);
		snprintf(id, sizeof(id), "%s:cancelado", q.id);
		CHECK_STR(v[1].id, id);
		CHECK_STR(v[1].quote_id, q.id);
		CHECK(strstr(v[1].payload, "\"estado\":\"cancelado\"") != NULL);
	}
	for (size_t i = 0; i < n; i++)
		store_isr_delete(st, v[i].id);
	store_isr_free(v, n);
	quote_clear(&q);
out:
	store_close(st);
	config_free(cfg);
}

/* A pending quote replaced by a newer one is cancelled for the back end
 * too. */
static void
test_replaced_quote_is_cancelled(void)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct store_isr *v = NULL;
	struct quote a, b;
	char err[256], id[64];
	size_t n = 0;

	setenv("ISR_API_URL", "http://127.0.0.1:9", 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(store_open(&st, cfg), OV_OK);
	unsetenv("ISR_API_URL");
	if (st == NULL)
		goto out;
	sample(&a, "5493415557777");
	sample(&b, "5493415557777");
	CHECK_INT(quote_create(st, &a, 15), OV_OK);
	CHECK_INT(quote_create(st, &b, 15), OV_OK);
	CHECK_INT(store_isr_list(st, 100, &v, &n), OV_OK);
	CHECK_INT(n, 3);
	if (n == 3) {
		snprintf(id, sizeof(id), "%s:nuevo", b.id);
		CHECK_STR(v[1].id, id);
		snprintf(id, sizeof(id), "%s:cancelado", a.id);
		CHECK_STR(v[2].id, id);
	}
	for (size_t i = 0; i < n; i++)
		store_isr_delete(st, v[i].id);
	store_isr_free(v, n);
	quote_clear(&a);
	quote_clear(&b);
out:
	store_close(st);
	config_free(cfg);
}

static void
test_nothing_queued_without_isr(void)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct store_isr *v = NULL;
	struct quote q;
	char err[256];
	size_t n = 9;

	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(store_open(&st, cfg), OV_OK);
	if (st == NULL)
		goto out;
	sample(&q, "5493415558888");
	CHECK_INT(quote_create(st, &q, 15), OV_OK);
	CHECK_INT(store_isr_list(st, 100, &v, &n), OV_OK);
	CHECK_INT(n, 0);
	store_isr_free(v, n);
	quote_clear(&q);
out:
	store_close(st);
	config_free(cfg);
}

int
main(void)
{
	char db[64];
	int rc;

	log_init("test_isr");
	unsetenv("OVIDIO_CONFIG");
	unsetenv("ISR_API_URL");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
	snprintf(db, sizeof(db), "ovidio_isr_test_%ld", (long)getpid());
	setenv("MONGODB_DB", db, 1);
	setenv("TZ", "UTC", 1);
	RUN(test_body_has_the_old_fields);
	RUN(test_events_queued_with_the_quote);
	RUN(test_replaced_quote_is_cancelled);
	RUN(test_nothing_queued_without_isr);
	rc = check_finish();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
