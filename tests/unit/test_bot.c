/*
 * test_bot.c - lib/bot turns by rules (no model, no Cianbox) against the
 * Graph API stand-in and an SQLite store with a small catalog: what the
 * customer receives, the quote going out as a PDF, the outbox keeping a
 * reply while Meta is down. Also the sanitizer build's view of lib/bot,
 * lib/outbox and lib/rules together. With MONGODB_URI set it runs on
 * MongoDB instead.
 */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "bot.h"
#include "catalog.h"
#include "catalog_fixture.h"
#include "check.h"
#include "config.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "outbox.h"
#include "standin.h"
#include "standin_http.h"
#include "store.h"
#include "wa_payload.h"
#include "whatsapp.h"

#define STANDIN "tests/standins/graph_server.py"
#define TOKEN "test-bot-graph-token"
#define PHONE_ID "110000000000001"

static const char *const graph_args[] = {
	"--token", TOKEN, "--phone-number-id", PHONE_ID, NULL
};

static char dir[] = "/tmp/ov_test_bot.XXXXXX";
static struct standin_proc graph;
static struct config *cfg;
static struct store *st;
static struct bot *bot;
static int seq;

/* ---- the Graph stand-in ---------------------------------------------- */

static char *
graph_call(const char *method, const char *path, const char *body)
{
	return standin_call(graph.port, method, path, body);
}

static void
graph_control(const char *json)
{
	free(graph_call("POST", "/__control", json));
}

/* What the customer `to` can read of the messages sent to them after
 * the first `skip` ones, in one malloc'd text; *count gets how many. */
static char *
received(const char *to, int skip, int *count)
{
	char *raw = graph_call("GET", "/__sent", NULL), *out;
	cJSON *all = raw ? cJSON_Parse(raw) : NULL, *e;
	size_t len = 0, cap = 65536;
	int n = 0;

	free(raw);
	out = calloc(1, cap);
	*count = 0;
	if (out == NULL)
		goto done;
	cJSON_ArrayForEach(e, all) {
		const cJSON *kind = cJSON_GetObjectItem(e, "kind");
		const cJSON *dest = cJSON_GetObjectItem(e, "to");
		char *s;

		if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "message") ||
		    !cJSON_IsString(dest) || strcmp(dest->valuestring, to))
			continue;
		if (n++ < skip)
			continue;
		(*count)++;
		s = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "payload"));
		if (s != NULL && len + strlen(s) + 2 < cap) {
			memcpy(out + len, s, strlen(s));
			len += strlen(s);
			out[len++] = '\n';
		}
		free(s);
	}
done:
	cJSON_Delete(all);
	return out;
}

/* ---- messages ---------------------------------------------------------- */

static int
turn2(const char *from, enum wa_kind k1, const char *t1, const char *id1,
    enum wa_kind k2, const char *t2)
{
	struct wa_message m[2];
	const struct wa_message *v[2];
	struct store_msg sm;
	enum store_claim claim;
	int n = k2 == WA_UNSUPPORTED && t2 == NULL ? 1 : 2, rc;

	memset(m, 0, sizeof(m));
	for (int i = 0; i < n; i++) {
		snprintf(m[i].id, sizeof(m[i].id), "wamid.test-bot-%04d", ++seq);
		snprintf(m[i].from, sizeof(m[i].from), "%s", from);
		m[i].ts = 1764000000 + seq;
		m[i].kind = i == 0 ? k1 : k2;
		m[i].text = (char *)(i == 0 ? t1 : t2);
		m[i].reply_id = (char *)(i == 0 ? id1 : NULL);
		m[i].profile_name = (char *)"Martín Gómez";
		v[i] = &m[i];
		memset(&sm, 0, sizeof(sm));
		memcpy(sm.id, m[i].id, strlen(m[i].id) + 1);   /* < 32 bytes */
		snprintf(sm.wa_id, sizeof(sm.wa_id), "%s", from);
		sm.ts = m[i].ts;
		snprintf(sm.type, sizeof(sm.type), "text");
		sm.body = m[i].text;
		if (store_inbound_claim(st, &sm, m[i].ts, 300, &claim) != OV_OK)
			return OV_ESTORE;
	}
	rc = bot_turn(bot, v, (size_t)n);
	return rc;
}

static int
turn(const char *from, enum wa_kind kind, const char *text,
    const char *reply_id)
{
	return turn2(from, kind, text, reply_id, WA_UNSUPPORTED, NULL);
}

/* ---- the catalog -------------------------------------------------------- */

static int
load_catalog(void)
{
	struct store_catalog_writer *w = NULL;
	int rc;

	if ((rc = store_catalog_begin(st, CATALOG_NAME, &w)) != OV_OK)
		return rc;
	if ((rc = put_fixture_products(w)) != OV_OK)
		goto fail;
	return store_catalog_commit(w);
fail:
	store_catalog_abort(w);
	return rc;
}

/* ---- tests --------------------------------------------------------------- */

static void
test_greeting_and_one_turn_for_two_messages(void)
{
	const char *who = "5493415550301";
	int n = 0;
	char *got;

	CHECK_INT(turn2(who, WA_TEXT, "hola", NULL, WA_TEXT, "cómo va?"), OV_OK);
	got = received(who, 0, &n);
	CHECK_INT(n, 1);
	CHECK(strstr(got, "¡Hola Martín! Soy Ovidio") != NULL);
	free(got);
	/* Same day: no second introduction. */
	CHECK_INT(turn(who, WA_TEXT, "gracias!", NULL), OV_OK);
	got = received(who, 1, &n);
	CHECK_INT(n, 1);
	CHECK(strstr(got, "Soy Ovidio") == NULL);
	CHECK(strstr(got, "¡De nada!") != NULL);
	free(got);
}

static void
test_product_stock_and_quote_to_pdf(void)
{
	const char *who = "5493415550302";
	struct store_quote q;
	bool found = false;
	int n = 0, before;
	char *got;

	CHECK_INT(turn(who, WA_LIST_REPLY, "Fuente 12V 5A", "prod:10477"), OV_OK);
	got = received(who, 0, &n);
	CHECK(strstr(got, "Fuente switching 12V 5A metálica") != NULL);
	CHECK(strstr(got, "USD 6,50 + IVA (10,5 %)") != NULL);
	CHECK(strstr(got, "Tenemos 7 en stock") != NULL);
	CHECK(strstr(got, "cart:add:10477") != NULL);
	free(got);
	before = n;

	/* More than in stock: what there is, and what else covers it. */
	CHECK_INT(turn(who, WA_TEXT, "¿y tenés 10?", NULL), OV_OK);
	got = received(who, before, &n);
	CHECK(strstr(got, "tenemos solo 7") != NULL);
	CHECK(strstr(got, "prod:10478") != NULL);   /* the 10 A one */
	CHECK(strstr(got, "stock 40") != NULL);
	free(got);
	before += n;

	CHECK_INT(turn(who, WA_TEXT, "armame el presupuesto por 5", NULL), OV_OK);
	got = received(who, before, &n);
	CHECK(strstr(got, "5 × Fuente switching 12V 5A metálica") != NULL);
	CHECK(strstr(got, "Subtotal USD 32,50") != NULL);
	CHECK(strstr(got, "IVA 10,5 %: USD 3,41") != NULL);
	CHECK(strstr(got, "Total USD 35,91") != NULL);
	CHECK(strstr(got, "quote:confirm") != NULL);
	free(got);
	before += n;

	CHECK_INT(turn(who, WA_BUTTON_REPLY, "Confirmar", "quote:confirm"),
	    OV_OK);
	got = received(who, before, &n);
	CHECK(strstr(got, "\"type\":\"document\"") != NULL);
	CHECK(strstr(got, "Presupuesto-") != NULL);
	free(got);
	CHECK_INT(store_quote_pending_for(st, who, &q, &found), OV_OK);
	CHECK(!found);
}

static void
test_unsupported_and_reactions(void)
{
	const char *who = "5493415550303";
	int n = 0;
	char *got;

	CHECK_INT(turn(who, WA_REACTION, "👍", NULL), OV_OK);
	free(received(who, 0, &n));
	CHECK_INT(n, 0);
	CHECK_INT(turn(who, WA_STICKER, NULL, NULL), OV_OK);
	got = received(who, 0, &n);
	CHECK_INT(n, 1);
	CHECK(strstr(got, "solo puedo leer mensajes de texto") != NULL);
	free(got);
}

static void
test_outbox_keeps_replies_while_meta_is_down(void)
{
	const char *who = "5493415550304";
	size_t sent = 0, left = 0;
	int64_t waiting = 0;
	int n = 0;
	char *got;

	graph_control("{\"down\": true}");
	CHECK_INT(turn(who, WA_TEXT, "hola", NULL), OV_OK);
	CHECK_INT(store_outbox_count_for(st, who, &waiting), OV_OK);
	CHECK(waiting >= 1);
	/* Still down: nothing lost, nothing sent. */
	CHECK_INT(bot_drain_outbox(bot, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK(left >= 1);
	graph_control("{\"down\": false}");
	CHECK_INT(bot_drain_outbox(bot, &sent, &left), OV_OK);
	CHECK_INT((int64_t)sent, waiting);
	CHECK_INT(left, 0);
	CHECK_INT(store_outbox_count_for(st, who, &waiting), OV_OK);
	CHECK_INT(waiting, 0);
	got = received(who, 0, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "¡Hola Martín!") != NULL);
	free(got);
}

/* A reply Meta never takes is given up after OUTBOX_MAX_ATTEMPTS tries:
 * logged, recorded as failed, gone from the outbox. */
static void
test_outbox_gives_up(void)
{
	const char *who = "5493415550305";
	struct config *c2 = NULL;
	struct wa_client wa;
	struct outbox ob;
	struct store_msg *h = NULL;
	enum outbox_outcome oc;
	size_t sent = 9, left = 9, nh = 0;
	int64_t waiting = 0;
	char err[256];
	cJSON *p = cJSON_CreateObject();

	setenv("OUTBOX_MAX_ATTEMPTS", "2", 1);
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	CHECK_INT(wa_client_init(&wa, c2, err, sizeof(err)), OV_OK);
	wa.backoff_ms = 10;
	CHECK_INT(outbox_init(&ob, c2, st, &wa, err, sizeof(err)), OV_OK);
	unsetenv("OUTBOX_MAX_ATTEMPTS");
	CHECK_INT(ob.max_attempts, 2);
	cJSON_AddStringToObject(p, "text", "¿Te armo el presupuesto?");
	graph_control("{\"down\": true}");
	CHECK_INT(outbox_send(&ob, who, "text", p, &oc), OV_OK);
	CHECK_INT(oc, OUTBOX_QUEUED);
	/* A reply for someone already waiting queues behind, untried. */
	CHECK_INT(outbox_send(&ob, who, "text", p, &oc), OV_OK);
	CHECK_INT(oc, OUTBOX_QUEUED);
	CHECK_INT(store_outbox_count_for(st, who, &waiting), OV_OK);
	CHECK_INT(waiting, 2);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(store_outbox_count_for(st, who, &waiting), OV_OK);
	CHECK_INT(waiting, 1);   /* the first given up, the second waits */
	graph_control("{\"down\": false}");
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(sent, 1);
	CHECK_INT(store_history(st, who, 10, &h, &nh), OV_OK);
	CHECK_INT(nh, 2);
	if (nh == 2) {
		CHECK_STR(h[0].status, "failed");
		CHECK_STR(h[1].status, "pending");
		CHECK_STR(h[1].body, "¿Te armo el presupuesto?");
	}
	store_msgs_free(h, nh);
	cJSON_Delete(p);
	wa_client_free(&wa);
	config_free(c2);
}

/* A reply waiting for its next try holds back the customer's later ones,
 * even when those are due: nobody reads replies out of order. */
static void
test_outbox_keeps_order_across_drains(void)
{
	const char *who = "5493415550306";
	struct config *c2 = NULL;
	struct wa_client wa;
	struct outbox ob;
	struct store_outbox *all = NULL;
	struct store_msg *h = NULL;
	enum outbox_outcome oc;
	size_t sent = 9, left = 9, nall = 0, nh = 0;
	char err[256];
	cJSON *first = cJSON_CreateObject(), *second = cJSON_CreateObject();

	setenv("OUTBOX_RETRY_S", "60", 1);   /* main() makes it 0 */
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	CHECK_INT(wa_client_init(&wa, c2, err, sizeof(err)), OV_OK);
	wa.backoff_ms = 10;
	CHECK_INT(outbox_init(&ob, c2, st, &wa, err, sizeof(err)), OV_OK);
	setenv("OUTBOX_RETRY_S", "0", 1);
	cJSON_AddStringToObject(first, "text", "Primero: te paso el precio.");
	cJSON_AddStringToObject(second, "text", "Segundo: ¿te armo el presupuesto?");
	graph_control("{\"down\": true}");
	CHECK_INT(outbox_send(&ob, who, "text", first, &oc), OV_OK);
	CHECK_INT(oc, OUTBOX_QUEUED);      /* tried once, next try later */
	graph_control("{\"down\": false}");
	CHECK_INT(outbox_send(&ob, who, "text", second, &oc), OV_OK);
	CHECK_INT(oc, OUTBOX_QUEUED);      /* behind the first, due now */
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);                /* the first is not due yet */
	CHECK_INT(left, 2);
	/* The first's time comes: both go, in order. */
	CHECK_INT(store_outbox_due(st, INT64_MAX, 10, &all, &nall), OV_OK);
	for (size_t i = 0; i < nall; i++)
		if (strcmp(all[i].wa_id, who) == 0 && all[i].attempts > 0)
			CHECK_INT(store_outbox_reschedule(st, all[i].id,
			    all[i].attempts, 0, NULL), OV_OK);
	store_outbox_free(all, nall);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(sent, 2);
	CHECK_INT(store_history(st, who, 10, &h, &nh), OV_OK);
	CHECK_INT(nh, 2);
	if (nh == 2) {
		CHECK_STR(h[0].body, "Primero: te paso el precio.");
		CHECK_STR(h[1].body, "Segundo: ¿te armo el presupuesto?");
	}
	store_msgs_free(h, nh);
	cJSON_Delete(first);
	cJSON_Delete(second);
	wa_client_free(&wa);
	config_free(c2);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	char err[512], url[128], pdf[256];
	int rc = 1;

	log_init("test_bot");
	log_set_level(LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	unsetenv("OVIDIO_CONFIG");
	/* MONGODB_URI set: the same turns on MongoDB (a database of our own). */
	{
		char db[64];

		snprintf(db, sizeof(db), "ovidio_test_bot_%ld", (long)getpid());
		setenv("MONGODB_DB", db, 1);
	}
	unsetenv("OPENAI_API_KEY");
	unsetenv("CIANBOX_ACCOUNT");
	unsetenv("SMTP_URL");
	if (mkdtemp(dir) == NULL)
		return 1;
	if (standin_proc_start(&graph, STANDIN, dir, "graph", true,
	    graph_args) != 0) {
		fprintf(stderr, "graph stand-in did not start\n");
		goto out;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v21.0", graph.port);
	snprintf(pdf, sizeof(pdf), "%s/pdf", dir);
	mkdir(pdf, 0700);
	setenv("OVIDIO_DATA_DIR", dir, 1);
	setenv("WHATSAPP_API_URL", url, 1);
	setenv("WHATSAPP_TOKEN", TOKEN, 1);
	setenv("PHONE_NUMBER_ID", PHONE_ID, 1);
	setenv("PRESUPUESTOS_DIR", pdf, 1);
	setenv("OVIDIO_NOW", "2026-11-24T10:00:00-03:00", 1);
	setenv("OUTBOX_RETRY_S", "0", 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		goto out;
	}
	if (store_open(&st, cfg) != OV_OK || load_catalog() != OV_OK) {
		fprintf(stderr, "store or catalog failed\n");
		goto out;
	}
	if (bot_open(&bot, cfg, st, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "bot: %s\n", err);
		goto out;
	}
	RUN(test_greeting_and_one_turn_for_two_messages);
	RUN(test_product_stock_and_quote_to_pdf);
	RUN(test_unsupported_and_reactions);
	RUN(test_outbox_keeps_replies_while_meta_is_down);
	RUN(test_outbox_gives_up);
	RUN(test_outbox_keeps_order_across_drains);
	rc = check_finish();
out:
	bot_close(bot);
	store_close(st);
	config_free(cfg);
	standin_proc_stop(&graph);
	curl_global_cleanup();
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
