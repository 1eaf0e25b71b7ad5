/*
 * test_notify.c - lib/proactive (jobs/notify) against the store and the
 * Graph API stand-in, with the clock set by each test (as OVIDIO_NOW
 * does for the job): a quote made on day 0 is reminded on day 12 once,
 * with its buttons; "baja" stops follow-ups and birthdays but not the
 * reminder; a product back in stock is told once; the template outside
 * the 24-hour window, text inside; quiet hours and the daily cap; Meta's
 * 131050 opts out; a second pass sends nothing twice; a dry run sends
 * nothing. SQLite by default, MongoDB when MONGODB_URI is set.
 */
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "check.h"
#include "cianbox.h"
#include "cianbox_standin.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "customer.h"
#include "err.h"
#include "log.h"
#include "outbox.h"
#include "proactive.h"
#include "quote.h"
#include "standin.h"
#include "standin_http.h"
#include "store.h"
#include "whatsapp.h"

#define STANDIN "tests/standins/graph_server.py"
#define TOKEN "test-notify-graph-token"
#define PHONE_ID "110000000000003"
#define DAY 86400

static const char *const graph_args[] = {
	"--token", TOKEN, "--phone-number-id", PHONE_ID, NULL
};

static char dir[] = "/tmp/ov_test_notify.XXXXXX";
static struct standin_proc graph;
static struct config *cfg;
static struct store *st;
static struct wa_client wa;
static struct outbox ob;
static struct proactive px;
static struct standin cianbox;
static struct cianbox *cb;
static int64_t day0;   /* 2026-12-02 10:00 -03:00, a Wednesday */

/* ---- the Graph stand-in ------------------------------------------------ */

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

/* The messages Meta accepted for `to`, in order (a JSON array; free). */
static cJSON *
sent_to(const char *to)
{
	char *raw = graph_call("GET", "/__sent", NULL);
	cJSON *all = raw ? cJSON_Parse(raw) : NULL, *out = cJSON_CreateArray();
	cJSON *e;

	free(raw);
	cJSON_ArrayForEach(e, all) {
		const cJSON *t = cJSON_GetObjectItem(e, "to");
		const cJSON *k = cJSON_GetObjectItem(e, "kind");

		if (cJSON_IsString(t) && strcmp(t->valuestring, to) == 0 &&
		    cJSON_IsString(k) && strcmp(k->valuestring, "message") == 0)
			cJSON_AddItemToArray(out, cJSON_Duplicate(
			    cJSON_GetObjectItem(e, "payload"), 1));
	}
	cJSON_Delete(all);
	return out;
}

static const char *
jpath_str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItem(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItem(v, b);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- fixtures ------------------------------------------------------------ */

static void
put_conv(const char *key, int64_t last_inbound, void (*edit)(struct conv *))
{
	struct store_conv rec;
	struct conv c;

	conv_init(&c, key);
	c.last_inbound = last_inbound;
	if (edit != NULL)
		edit(&c);
	if (conv_to_store(&c, &rec) == OV_OK) {
		CHECK_INT(store_conv_put(st, &rec), OV_OK);
		store_conv_clear(&rec);
	}
}

static bool
conv_opted_out(const char *key)
{
	struct store_conv rec;
	struct conv c;
	bool found = false, out = false;

	if (store_conv_get(st, key, &rec, &found) == OV_OK && found &&
	    conv_from_store(&rec, &c) == OV_OK)
		out = c.profile.opted_out;
	store_conv_clear(&rec);
	return out;
}

static void
put_quote(const char *id, int64_t number, const char *wa_id, int64_t created)
{
	struct store_quote q;
	char doc[512];

	snprintf(doc, sizeof(doc), "{\"v\":1,\"customer\":{\"name\":\"Martín "
	    "Gómez\",\"cuit\":\"\",\"phone\":\"\"},\"currency\":\"USD\","
	    "\"usd_rate_cents\":0,\"items\":[{\"product_id\":10452,"
	    "\"code\":\"DH-1\",\"name\":\"Cámara Domo\",\"quantity\":2,"
	    "\"unit_cents\":4850,\"iva\":210}]}");
	memset(&q, 0, sizeof(q));
	snprintf(q.id, sizeof(q.id), "%s", id);
	q.number = number;
	snprintf(q.wa_id, sizeof(q.wa_id), "%s", wa_id);
	snprintf(q.state, sizeof(q.state), "pendiente_confirmacion");
	q.created_at = created;
	q.expires_at = created + 15 * DAY;
	q.doc = doc;
	CHECK_INT(store_quote_put(st, &q), OV_OK);
}

static void
put_catalog(int64_t stock)
{
	struct store_catalog_writer *w = NULL;
	char json[512];

	snprintf(json, sizeof(json), "{\"id\":20001,\"producto\":\"Batería "
	    "12V 7Ah\",\"codigo_interno\":\"BAT-127\",\"precio_neto\":19.5,"
	    "\"alicuota_iva\":21,\"stock_total\":%lld,\"vigente\":true}",
	    (long long)stock);
	CHECK_INT(store_catalog_begin(st, "productos_cache", &w), OV_OK);
	if (w == NULL)
		return;
	CHECK_INT(store_catalog_add(w, "20001", json), OV_OK);
	CHECK_INT(store_catalog_commit(w), OV_OK);
}

/* One pass at now; then the outbox drained. */
static size_t
pass(int64_t now, struct proactive_stats *s)
{
	size_t total = 0, sent = 0, left = 0;

	CHECK_INT(proactive_run(&px, now, s), OV_OK);
	for (int k = 0; k < PX__COUNT; k++)
		total += s->queued[k];
	if (!px.dry_run)
		do {
			outbox_drain(&ob, &sent, &left);
		} while (sent > 0 && left > 0);
	return total;
}

static size_t
count(const cJSON *arr)
{
	return (size_t)cJSON_GetArraySize(arr);
}

/* ---- the tests ----------------------------------------------------------- */

static void
opt_in(struct conv *c)
{
	c->profile.promo = CONV_PROMO_YES;
	c->profile.promo_asked = true;
}

static void
test_quote_reminder_day_12_once_with_buttons(void)
{
	const char *who = "5493415559001";
	const char *id = "0c000000-0000-4000-8000-000000000001";
	struct proactive_stats s;
	cJSON *v, *comps, *c;
	char want[64];
	int nbuttons = 0;

	put_conv(who, day0, NULL);
	put_quote(id, 501, who, day0);
	/* Day 11: 4 days left, nothing. */
	CHECK_INT(pass(day0 + 11 * DAY, &s), 0);
	/* Day 12: 3 days left: the template (the window closed long ago). */
	CHECK_INT(pass(day0 + 12 * DAY, &s), 1);
	CHECK_INT(s.queued[PX_QUOTE_REMINDER], 1);
	v = sent_to(who);
	CHECK_INT(count(v), 1);
	c = cJSON_GetArrayItem(v, 0);
	CHECK_STR(jpath_str(c, "type", NULL), "template");
	CHECK_STR(jpath_str(c, "template", "name"), "recordatorio_presupuesto");
	CHECK_STR(jpath_str(cJSON_GetObjectItem(c, "template"), "language",
	    "code"), "es_AR");
	comps = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "template"),
	    "components");
	{
		const cJSON *comp;

		cJSON_ArrayForEach(comp, comps) {
			if (strcmp(jpath_str(comp, "type", NULL), "body") == 0) {
				const cJSON *ps = cJSON_GetObjectItem(comp,
				    "parameters");

				CHECK_INT(cJSON_GetArraySize(ps), 3);
				CHECK_STR(jpath_str(cJSON_GetArrayItem(ps, 0), "text",
				    NULL), "Martín Gómez");
				CHECK_STR(jpath_str(cJSON_GetArrayItem(ps, 1), "text",
				    NULL), "501");
				CHECK_STR(jpath_str(cJSON_GetArrayItem(ps, 2), "text",
				    NULL), "3");
			} else {
				nbuttons++;
			}
		}
	}
	/* The approved template's own buttons go as they are (Meta's
	 * description refuses an index "0"); what they mean is kept with
	 * the message sent, for the tap to be read. */
	CHECK_INT(nbuttons, 0);
	{
		struct store_msg *h = NULL;
		size_t nh = 0;
		bool kept = false;

		snprintf(want, sizeof(want), "rq:confirm:%s", id);
		CHECK_INT(store_history(st, who, 5, &h, &nh), OV_OK);
		for (size_t i = 0; i < nh; i++)
			if (h[i].dir == STORE_OUT && h[i].raw != NULL &&
			    strstr(h[i].raw, want) != NULL &&
			    strstr(h[i].raw, "Confirmar") != NULL)
				kept = true;
		CHECK(kept);
		store_msgs_free(h, nh);
	}
	cJSON_Delete(v);
	/* A second pass that day, and the next days: nothing more. */
	CHECK_INT(pass(day0 + 12 * DAY + 900, &s), 0);
	CHECK_INT(pass(day0 + 13 * DAY, &s), 0);
	v = sent_to(who);
	CHECK_INT(count(v), 1);
	cJSON_Delete(v);
}

static void
test_text_inside_the_window(void)
{
	const char *who = "5493415559002";
	const char *id = "0c000000-0000-4000-8000-000000000002";
	struct proactive_stats s;
	int64_t now = day0 + 12 * DAY;
	cJSON *v, *c;

	put_conv(who, now - 3 * 3600, NULL);   /* wrote 3 hours ago */
	put_quote(id, 502, who, day0);
	CHECK_INT(pass(now, &s), 1);
	v = sent_to(who);
	CHECK_INT(count(v), 1);
	c = cJSON_GetArrayItem(v, 0);
	CHECK_STR(jpath_str(c, "type", NULL), "interactive");
	CHECK(strstr(jpath_str(cJSON_GetObjectItem(c, "interactive"), "body",
	    "text"), "N° 502 vence en 3 días") != NULL);
	{
		const cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(
		    cJSON_GetObjectItem(c, "interactive"), "action"), "buttons");
		char want[64];

		CHECK_INT(cJSON_GetArraySize(b), 2);
		snprintf(want, sizeof(want), "rq:renew:%s", id);
		CHECK_STR(jpath_str(cJSON_GetArrayItem(b, 1), "reply", "id"),
		    want);
		CHECK_STR(jpath_str(cJSON_GetArrayItem(b, 1), "reply", "title"),
		    "Renovar");
	}
	cJSON_Delete(v);
}

static void
opted_out_with_everything(struct conv *c)
{
	opt_in(c);
	c->profile.opted_out = true;
	c->profile.promo = CONV_PROMO_NO;
	snprintf(c->topic, sizeof(c->topic), "Cámara Domo Dahua");
	snprintf(c->profile.birthday, sizeof(c->profile.birthday), "12-21");
}

static void
test_baja_stops_marketing_not_the_reminder(void)
{
	const char *who = "5493415559003";
	const char *id = "0c000000-0000-4000-8000-000000000003";
	/* Monday 21 December: the birthday, 7 days after the talk. */
	int64_t now = day0 + 19 * DAY;
	struct proactive_stats s;
	cJSON *v;

	put_conv(who, now - 7 * DAY - 600, opted_out_with_everything);
	put_quote(id, 503, who, now - 12 * DAY);
	CHECK_INT(pass(now, &s), 1);
	CHECK_INT(s.queued[PX_QUOTE_REMINDER], 1);
	CHECK_INT(s.queued[PX_BIRTHDAY], 0);
	CHECK_INT(s.queued[PX_FOLLOWUP], 0);
	/* The next days: no follow-up, no birthday greeting either. */
	CHECK_INT(pass(now + DAY, &s), 0);
	CHECK_INT(s.queued[PX_FOLLOWUP], 0);
	v = sent_to(who);
	CHECK_INT(count(v), 1);
	cJSON_Delete(v);
}

static void
consenting_with_topic(struct conv *c)
{
	opt_in(c);
	snprintf(c->topic, sizeof(c->topic), "Batería 12V 7Ah");
	snprintf(c->profile.birthday, sizeof(c->profile.birthday), "12-21");
}

/* One proactive message a day: the birthday and the follow-up fall on
 * the same day; the follow-up goes the next. */
static void
test_daily_cap_and_birthday_then_followup(void)
{
	const char *who = "5493415559004";
	int64_t now = day0 + 19 * DAY;     /* Monday 21/12 10:00 */
	struct proactive_stats s;
	cJSON *v;

	put_conv(who, now - 7 * DAY - 600, consenting_with_topic);
	CHECK_INT(pass(now - 2 * 3600, &s), 0);   /* 08:00: before 09:00 */
	CHECK_INT(pass(now, &s), 1);
	CHECK_INT(s.queued[PX_BIRTHDAY], 1);
	CHECK_INT(pass(now + 3600, &s), 0);   /* the cap holds */
	CHECK_INT(pass(now + DAY, &s), 1);
	CHECK_INT(s.queued[PX_FOLLOWUP], 1);
	CHECK_INT(pass(now + 2 * DAY, &s), 0);   /* once per topic */
	v = sent_to(who);
	CHECK_INT(count(v), 2);
	if (count(v) == 2) {
		const cJSON *t = cJSON_GetObjectItem(cJSON_GetArrayItem(v, 1),
		    "template");

		CHECK_STR(jpath_str(t, "name", NULL), "seguimiento_7dias");
	}
	cJSON_Delete(v);
}

static void
test_quiet_hours_agent_and_active(void)
{
	const char *a = "5493415559005", *b = "5493415559006";
	const char *c = "5493415559007";
	int64_t now = day0 + 12 * DAY;
	struct proactive_stats s;
	struct store_conv rec;
	struct conv cv;

	put_conv(a, day0, NULL);
	put_quote("0c000000-0000-4000-8000-000000000005", 505, a, day0);
	/* 21:00, and Sunday 13/12: outside the quiet hours. */
	CHECK_INT(pass(day0 + 11 * DAY + 11 * 3600, &s), 0);
	CHECK_INT(pass(day0 + 11 * DAY - 3600 + DAY / 2, &s), 0);
	CHECK_INT(pass(now + 10 * 3600 + 1, &s), 0);   /* 20:00:01 */
	/* A salesperson holds b; c wrote 10 minutes ago. */
	conv_init(&cv, b);
	cv.owner = CONV_OWNER_AGENT;
	snprintf(cv.agent, sizeof(cv.agent), "ana");
	cv.owner_until = now + 5 * DAY;
	if (conv_to_store(&cv, &rec) == OV_OK) {
		CHECK_INT(store_conv_put(st, &rec), OV_OK);
		store_conv_clear(&rec);
	}
	put_quote("0c000000-0000-4000-8000-000000000006", 506, b, day0);
	put_conv(c, now - 600, NULL);
	put_quote("0c000000-0000-4000-8000-000000000007", 507, c, day0);
	CHECK_INT(pass(now, &s), 1);   /* only a */
	CHECK(s.skipped >= 2);
	{
		cJSON *v = sent_to(b), *w = sent_to(c);

		CHECK_INT(count(v), 0);
		CHECK_INT(count(w), 0);
		cJSON_Delete(v);
		cJSON_Delete(w);
	}
	/* Out of the later tests' way. */
	store_quote_delete(st, "0c000000-0000-4000-8000-000000000006");
	store_quote_delete(st, "0c000000-0000-4000-8000-000000000007");
}

static void
test_back_in_stock_once(void)
{
	const char *who = "5493415559008";
	int64_t now = day0 + 12 * DAY;
	struct proactive_stats s;
	struct store_demand *d = NULL;
	size_t n = 0;
	cJSON *v;

	px.tmpl[PX_BACK_IN_STOCK] = "vuelve_el_stock";
	put_catalog(0);
	put_conv(who, now - 5 * DAY, NULL);
	CHECK_INT(store_demand_put(st, who, 20001, now - 5 * DAY), OV_OK);
	CHECK_INT(pass(now, &s), 0);          /* still none in stock */
	put_catalog(12);                      /* the sync that restocks */
	CHECK_INT(pass(now + 900, &s), 1);
	CHECK_INT(s.queued[PX_BACK_IN_STOCK], 1);
	CHECK_INT(pass(now + DAY, &s), 0);
	v = sent_to(who);
	CHECK_INT(count(v), 1);
	if (count(v) == 1) {
		const cJSON *c = cJSON_GetArrayItem(v, 0);
		struct store_msg *h = NULL;
		size_t nh = 0;
		bool lo_quiero = false;

		CHECK_STR(jpath_str(c, "template", "name"), "vuelve_el_stock");
		/* "Lo quiero" means that product: kept with the message sent,
		 * for its tap to be read. */
		CHECK_INT(store_history(st, who, 5, &h, &nh), OV_OK);
		for (size_t i = 0; i < nh; i++)
			if (h[i].dir == STORE_OUT && h[i].raw != NULL &&
			    strstr(h[i].raw, "cart:add:20001") != NULL &&
			    strstr(h[i].raw, "Lo quiero") != NULL)
				lo_quiero = true;
		store_msgs_free(h, nh);
		CHECK(lo_quiero);
	}
	cJSON_Delete(v);
	CHECK_INT(store_demand_scan(st, NULL, 10, &d, &n), OV_OK);
	CHECK_INT(n, 0);
	free(d);
	/* Asked more than 30 days ago: forgotten, not told. */
	put_conv("5493415559009", now - 40 * DAY, NULL);
	CHECK_INT(store_demand_put(st, "5493415559009", 20001, now - 40 * DAY),
	    OV_OK);
	CHECK_INT(pass(now + DAY, &s), 0);
	px.tmpl[PX_BACK_IN_STOCK] = NULL;
}

static void
test_131050_opts_out(void)
{
	const char *who = "5493415559010";
	int64_t now = day0 + 19 * DAY;
	struct proactive_stats s;

	put_conv(who, now - 7 * DAY - 600, consenting_with_topic);
	graph_control("{\"fail_next\":[{\"code\":131050,\"http\":400,"
	    "\"message\":\"(#131050) User has stopped marketing messages\"}]}");
	CHECK_INT(pass(now, &s), 1);   /* the birthday, refused */
	CHECK(conv_opted_out(who));
	{
		bool got = false;
		int64_t t = (int64_t)time(NULL);

		/* The lease taken to record it (real time, as leases run)
		 * was given back. */
		CHECK_INT(store_conv_lease(st, who, "a-turn", t, t + 60, &got),
		    OV_OK);
		CHECK(got);
		CHECK_INT(store_conv_release(st, who, "a-turn"), OV_OK);
	}
	CHECK_INT(pass(now + DAY, &s), 0);   /* no follow-up now */
}

/* Meta limits marketing to this customer today (131049): not retried
 * today, tried again the next day. */
static void
test_131049_tried_another_day(void)
{
	const char *who = "5493415559012";
	const char *id = "0c000000-0000-4000-8000-000000000012";
	int64_t now = day0 + 21 * DAY;     /* Wednesday 23/12 */
	struct proactive_stats s;
	cJSON *v;

	put_conv(who, day0, NULL);
	put_quote(id, 512, who, now - 12 * DAY);
	graph_control("{\"fail_next\":[{\"code\":131049,\"http\":400,"
	    "\"message\":\"(#131049) healthy ecosystem engagement\"}]}");
	CHECK_INT(pass(now, &s), 1);
	v = sent_to(who);
	CHECK_INT(count(v), 0);
	cJSON_Delete(v);
	CHECK_INT(pass(now + 3600, &s), 0);   /* not today */
	CHECK_INT(pass(now + DAY, &s), 1);    /* the next day */
	v = sent_to(who);
	CHECK_INT(count(v), 1);
	cJSON_Delete(v);
	CHECK(!conv_opted_out(who));
}

/* Queued at 19:59 and Meta down until 20:05: not sent after the quiet
 * hours; the marker is undone so a later run queues it again. */
static void
test_past_quiet_hours_dropped(void)
{
	const char *who = "5493415559013";
	const char *m[] = { "followup:5493415559013:x",
	    "day:5493415559013:2026-12-30" };
	struct store_outbox e;
	size_t sent = 0, left = 0;
	int64_t waiting = -1;
	bool found = true;
	cJSON *p = cJSON_Parse("{\"text\":\"hola\",\"marker\":"
	    "\"followup:5493415559013:x\",\"expires_in\":60}"), *v;

	CHECK_INT(outbox_entry(&ob, who, STORE_LANE_CAMPAIGN, "text", p, NULL,
	    &e), OV_OK);
	cJSON_Delete(p);
	e.created_at -= 360;          /* queued 6 minutes ago */
	e.next_attempt_at = e.created_at;
	CHECK_INT(store_proactive_commit(st, m, 2, &e, day0), OV_OK);
	store_outbox_clear(&e);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	v = sent_to(who);
	CHECK_INT(count(v), 0);
	cJSON_Delete(v);
	CHECK_INT(store_outbox_count_for(st, who, &waiting), OV_OK);
	CHECK_INT(waiting, 0);
	CHECK_INT(store_marker_get(st, m[0], &found), OV_OK);
	CHECK(!found);
}

/* A worker's drain gives a throttled campaign at most its budget, so a
 * customer's reply never waits long behind it; the rate holds. */
static void
test_drain_budget_and_rate(void)
{
	struct outbox o2 = ob;
	struct store_outbox e;
	struct timespec a, b;
	size_t sent = 0, left = 0;
	double secs;

	o2.campaign_rate = 5;
	o2.campaign_budget_ms = 1000;
	memset(&o2.campaign_last, 0, sizeof(o2.campaign_last));
	for (int i = 0; i < 20; i++) {
		char who[32];
		cJSON *p = cJSON_Parse("{\"text\":\"novedades\"}");

		snprintf(who, sizeof(who), "54934155597%02d", i);
		CHECK_INT(outbox_entry(&o2, who, STORE_LANE_CAMPAIGN, "text", p,
		    NULL, &e), OV_OK);
		cJSON_Delete(p);
		CHECK_INT(store_outbox_put(st, &e), OV_OK);
		store_outbox_clear(&e);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_INT(outbox_drain(&o2, &sent, &left), OV_OK);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) /
	    1e9;
	/* 5 per second for about a second: 5 or 6 sent, the rest waits. */
	CHECK(sent >= 4 && sent <= 7);
	CHECK_INT(left, 20 - sent);
	CHECK(secs < 2.0);
	/* Without a budget (jobs/notify) the rest goes, at the rate. */
	o2.campaign_budget_ms = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_INT(outbox_drain(&o2, &sent, &left), OV_OK);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) /
	    1e9;
	CHECK_INT(left, 0);
	CHECK(sent >= 13 && secs >= (double)(sent - 1) / 5.0 - 0.05);
}

static void
test_dry_run_sends_nothing(void)
{
	const char *who = "5493415559011";
	struct proactive_stats s;
	int64_t waiting = -1;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cJSON *v;

	put_conv(who, day0, NULL);
	put_quote("0c000000-0000-4000-8000-000000000011", 511, who,
	    day0 + 1 * DAY);
	px.dry_run = true;
	px.list = f;
	CHECK_INT(pass(day0 + 13 * DAY, &s), 1);
	px.dry_run = false;
	px.list = NULL;
	fclose(f);
	CHECK(out != NULL && strstr(out, "would send quote_reminder to "
	    "5493415559011 as recordatorio_presupuesto: quote 511 expires in 3 "
	    "days") != NULL);
	free(out);
	CHECK_INT(store_outbox_count_for(st, who, &waiting), OV_OK);
	CHECK_INT(waiting, 0);
	v = sent_to(who);
	CHECK_INT(count(v), 0);
	cJSON_Delete(v);
	/* The real pass still sends it: the dry run marked nothing. */
	CHECK_INT(pass(day0 + 13 * DAY, &s), 1);
}

/* Martín (Cianbox 201, plazo 30 days) owes invoice 0003-00012877 of
 * 03/11/2026 on current account: due 03/12. Reminded three days before
 * (once), on the day, and a week after. */
static void
test_balance_levels(void)
{
	const char *who = "5493415551234";
	struct store_customer cust;
	struct store_catalog_writer *w = NULL;
	struct cianbox_cliente cli;
	struct proactive_stats s;
	int64_t d;
	cJSON *v;

	CHECK_INT(standin_control(&cianbox, "{\"reset_stats\":true}"), 0);
	memset(&cli, 0, sizeof(cli));
	cli.id = 201;
	snprintf(cli.razon, sizeof(cli.razon), "Gómez Martín Sistemas");
	snprintf(cli.numero_documento, sizeof(cli.numero_documento),
	    "20284567898");
	snprintf(cli.celular, sizeof(cli.celular), "0341 15-555-1234");
	cli.ctacte = true;
	cli.plazo = 30;
	cli.saldo = 1843.75;
	CHECK_INT(store_catalog_begin(st, CUSTOMER_CATALOG, &w), OV_OK);
	if (w != NULL) {
		CHECK_INT(customer_client_put(w, &cli, day0), OV_OK);
		CHECK_INT(store_catalog_commit(w), OV_OK);
	}
	memset(&cust, 0, sizeof(cust));
	snprintf(cust.wa_id, sizeof(cust.wa_id), "%s", who);
	cust.cianbox_id = 201;
	cust.verified = true;
	cust.name = (char *)"Martín";
	CHECK_INT(store_customer_put(st, &cust), OV_OK);
	put_conv(who, day0 - 20 * DAY, NULL);
	d = day0 - 2 * DAY;                        /* Monday 30/11 */
	CHECK_INT(pass(d, &s), 1);
	CHECK_INT(s.queued[PX_BALANCE], 1);
	CHECK_INT(pass(d + DAY, &s), 0);            /* same level */
	CHECK_INT(pass(d + 3 * DAY, &s), 1);        /* 03/12: due today */
	CHECK_INT(s.queued[PX_BALANCE], 1);
	CHECK_INT(pass(d + 4 * DAY, &s), 0);
	CHECK_INT(pass(d + 10 * DAY, &s) >= 1, 1);  /* 10/12: a week late */
	CHECK_INT(s.queued[PX_BALANCE], 1);
	CHECK_INT(pass(d + 11 * DAY, &s), 0);
	v = sent_to(who);
	CHECK_INT(count(v), 3);
	if (count(v) == 3) {
		const cJSON *comp;

		cJSON_ArrayForEach(comp, cJSON_GetObjectItem(cJSON_GetObjectItem(
		    cJSON_GetArrayItem(v, 0), "template"), "components")) {
			const cJSON *ps = cJSON_GetObjectItem(comp, "parameters");

			CHECK_INT(cJSON_GetArraySize(ps), 5);
			CHECK_STR(jpath_str(cJSON_GetArrayItem(ps, 1), "text", NULL),
			    "0003-00012877");
			CHECK_STR(jpath_str(cJSON_GetArrayItem(ps, 3), "text", NULL),
			    "vence el 03/12/2026");
		}
		CHECK_STR(jpath_str(cJSON_GetArrayItem(v, 0), "template", "name"),
		    "recordatorio_saldo");
	}
	cJSON_Delete(v);
	/* Invoices are asked of Cianbox only for customers who owe. */
	CHECK_INT(standin_stat(&cianbox, "requests.GET ventas"), 6);
}

static void
test_birthday_parse(void)
{
	char bd[6];

	CHECK(proactive_birthday_parse("mi cumple es el 3 de mayo", bd));
	CHECK_STR(bd, "05-03");
	CHECK(proactive_birthday_parse("Mi cumpleaños es el 21/12", bd));
	CHECK_STR(bd, "12-21");
	CHECK(proactive_birthday_parse("nací el 9 de Septiembre de 1980", bd));
	CHECK_STR(bd, "09-09");
	CHECK(!proactive_birthday_parse("quiero 3 de mayo baterías", bd));
	CHECK(!proactive_birthday_parse("mi cumple es el 31 de febrero", bd));
	CHECK(!proactive_birthday_parse("cumple 2025", bd));
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
	char err[512], url[128], db[64];
	int rc = 1;

	log_init("test_notify");
	log_set_level(LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	unsetenv("OVIDIO_CONFIG");
	unsetenv("OVIDIO_NOW");
	setenv("TZ", "America/Argentina/Cordoba", 1);
	tzset();
	snprintf(db, sizeof(db), "ovidio_test_notify_%ld", (long)getpid());
	setenv("MONGODB_DB", db, 1);
	if (mkdtemp(dir) == NULL)
		return 1;
	if (standin_proc_start(&graph, STANDIN, dir, "graph", true,
	    graph_args) != 0) {
		fprintf(stderr, "graph stand-in did not start\n");
		goto out;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v21.0", graph.port);
	setenv("OVIDIO_DATA_DIR", dir, 1);
	setenv("WHATSAPP_API_URL", url, 1);
	setenv("WHATSAPP_TOKEN", TOKEN, 1);
	setenv("PHONE_NUMBER_ID", PHONE_ID, 1);
	setenv("CAMPAIGN_RATE", "200", 1);
	setenv("TEMPLATE_BIRTHDAY", "feliz_cumple", 1);
	setenv("TEMPLATE_BALANCE", "recordatorio_saldo", 1);
	setenv("BALANCE_REMINDERS", "1", 1);
	if (standin_start(&cianbox, NULL) != 0) {
		fprintf(stderr, "cianbox stand-in did not start\n");
		goto out;
	}
	setenv("CIANBOX_URL", cianbox.url, 1);
	setenv("CIANBOX_ACCOUNT", "micuenta", 1);
	setenv("CIANBOX_USER", "ovidio", 1);
	setenv("CIANBOX_PASS", "secreto-de-prueba", 1);
	setenv("CIANBOX_ATTEMPTS", "1", 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		goto out;
	}
	if (store_open(&st, cfg) != OV_OK) {
		fprintf(stderr, "store failed\n");
		goto out;
	}
	if (wa_client_init(&wa, cfg, err, sizeof(err)) != OV_OK ||
	    outbox_init(&ob, cfg, st, &wa, err, sizeof(err)) != OV_OK ||
	    proactive_init(&px, cfg, st, &ob, err, sizeof(err)) != OV_OK ||
	    cianbox_open(&cb, cfg, st, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "init: %s\n", err);
		goto out;
	}
	px.cb = cb;
	wa.backoff_ms = 10;
	wa.max_attempts = 1;
	ob.campaign_budget_ms = 0;
	if (clock_parse_iso8601("2026-12-02T10:00:00-03:00", &day0) != OV_OK)
		goto out;
	RUN(test_birthday_parse);
	RUN(test_balance_levels);
	RUN(test_quote_reminder_day_12_once_with_buttons);
	RUN(test_text_inside_the_window);
	RUN(test_baja_stops_marketing_not_the_reminder);
	RUN(test_daily_cap_and_birthday_then_followup);
	RUN(test_quiet_hours_agent_and_active);
	RUN(test_back_in_stock_once);
	RUN(test_131050_opts_out);
	RUN(test_131049_tried_another_day);
	RUN(test_past_quiet_hours_dropped);
	RUN(test_drain_budget_and_rate);
	RUN(test_dry_run_sends_nothing);
	rc = check_finish();
	wa_client_free(&wa);
out:
	cianbox_close(cb);
	store_close(st);
	config_free(cfg);
	standin_proc_stop(&graph);
	standin_stop(&cianbox);
	curl_global_cleanup();
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
