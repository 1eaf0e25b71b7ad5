/*
 * test_outbox.c - lib/outbox against the Graph API stand-in: a turn's
 * replies made entries (outbox_entry), committed with the turn and sent
 * at once for that customer (outbox_flush_for) in order; a reply that
 * must wait holds the later ones; a drain serves replies before
 * campaigns; the claim time comes from OUTBOX_CLAIM_S; an entry claimed
 * by a process that died is taken back at once, and what Meta's status
 * webhooks say went out is not sent again. SQLite by default, MongoDB
 * when MONGODB_URI is set.
 */
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "check.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "outbox.h"
#include "standin.h"
#include "standin_http.h"
#include "store.h"
#include "whatsapp.h"

#define STANDIN "tests/standins/graph_server.py"
#define TOKEN "test-outbox-graph-token"
#define PHONE_ID "110000000000002"

static const char *const graph_args[] = {
	"--token", TOKEN, "--phone-number-id", PHONE_ID, NULL
};

static char dir[] = "/tmp/ov_test_outbox.XXXXXX";
static struct standin_proc graph;
static struct config *cfg;
static struct store *st;
static struct wa_client wa;
static struct outbox ob;
/* Claimers: this process ("host:pid", alive) and a process of this host
 * that is gone (a child that exited and was reaped). */
static char self[96], dead[96];

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

/* The texts Meta accepted, in order, as "to:text" lines (malloc'd). */
static char *
sent_texts(void)
{
	char *raw = graph_call("GET", "/__sent", NULL), *out;
	cJSON *all = raw ? cJSON_Parse(raw) : NULL, *e;
	size_t len = 0, cap = 65536;

	free(raw);
	out = calloc(1, cap);
	if (out == NULL)
		goto done;
	cJSON_ArrayForEach(e, all) {
		const cJSON *to = cJSON_GetObjectItem(e, "to");
		const cJSON *p = cJSON_GetObjectItem(e, "payload");
		const cJSON *text = cJSON_GetObjectItem(cJSON_GetObjectItem(p,
		    "text"), "body");

		if (!cJSON_IsString(to) || !cJSON_IsString(text))
			continue;
		len += (size_t)snprintf(out + len, cap - len, "%s:%s\n",
		    to->valuestring, text->valuestring);
		if (len >= cap)
			break;
	}
done:
	cJSON_Delete(all);
	return out;
}

/* The biz_opaque_callback_data of each message Meta accepted, in order,
 * one per line ("-" for none); malloc'd. */
static char *
sent_callbacks(void)
{
	char *raw = graph_call("GET", "/__sent", NULL), *out;
	cJSON *all = raw ? cJSON_Parse(raw) : NULL, *e;
	size_t len = 0, cap = 8192;

	free(raw);
	out = calloc(1, cap);
	if (out == NULL)
		goto done;
	cJSON_ArrayForEach(e, all) {
		const cJSON *cb = cJSON_GetObjectItem(cJSON_GetObjectItem(e,
		    "payload"), "biz_opaque_callback_data");

		if (!cJSON_IsString(cJSON_GetObjectItem(e, "wamid")))
			continue;
		len += (size_t)snprintf(out + len, cap - len, "%s\n",
		    cJSON_IsString(cb) ? cb->valuestring : "-");
		if (len >= cap)
			break;
	}
done:
	cJSON_Delete(all);
	return out;
}

/* ---- helpers ------------------------------------------------------------- */

static cJSON *
text_payload(const char *text)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "text", text);
	return p;
}

/* A turn of one inbound message whose replies are these texts. */
static int
commit_turn(const char *turn_id, const char *who, const char *const *texts,
    size_t n)
{
	struct store_outbox r[8];
	struct store_conv c;
	struct store_turn t;
	struct store_msg m;
	enum store_claim cl;
	char id[STORE_OUTBOX_ID_MAX + 1];
	const char *ids[1] = { turn_id };
	int rc = OV_OK;

	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", turn_id);
	snprintf(m.wa_id, sizeof(m.wa_id), "%s", who);
	m.ts = (int64_t)time(NULL);
	snprintf(m.type, sizeof(m.type), "text");
	if ((rc = store_inbound_claim(st, &m, m.ts, 300, &cl)) != OV_OK)
		return rc;
	memset(r, 0, sizeof(r));
	for (size_t i = 0; i < n && rc == OV_OK; i++) {
		cJSON *p = text_payload(texts[i]);

		snprintf(id, sizeof(id), "%s#%zu", turn_id, i);
		rc = outbox_entry(&ob, who, STORE_LANE_REPLY, "text", p, id,
		    &r[i]);
		cJSON_Delete(p);
	}
	memset(&c, 0, sizeof(c));
	snprintf(c.key, sizeof(c.key), "%s", who);
	c.doc = (char *)"{}";
	memset(&t, 0, sizeof(t));
	t.id = turn_id;
	t.conv = &c;
	t.replies = r;
	t.nreplies = n;
	t.msg_ids = ids;
	t.nmsgs = 1;
	t.now = m.ts;
	if (rc == OV_OK)
		rc = store_turn_commit(st, &t);
	for (size_t i = 0; i < n; i++)
		store_outbox_clear(&r[i]);
	return rc;
}

static int64_t
waiting_for(const char *who)
{
	int64_t n = -1;

	if (store_outbox_count_for(st, who, &n) != OV_OK)
		return -1;
	return n;
}

/* Entry id of who, as listed now (claimer, due time, orphaned) in *out;
 * false when it is not there. */
static bool
entry_of(const char *who, const char *id, struct store_outbox *out)
{
	struct store_outbox *v = NULL;
	size_t n = 0;
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (store_outbox_due_for(st, who, INT64_MAX, 10, &v, &n) != OV_OK)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0) {
			*out = v[i];
			out->payload = NULL;
			out->last_error = NULL;
			found = true;
		}
	store_outbox_free(v, n);
	return found;
}

/* What a process that died mid-send left: entry id claimed by claimer
 * until now + 300. */
static int
claim_as(const char *who, const char *id, const char *claimer)
{
	struct store_outbox e;

	if (!entry_of(who, id, &e))
		return OV_ENOTFOUND;
	return store_outbox_claim(st, id, e.next_attempt_at, e.claimer,
	    (int64_t)time(NULL) + 300, claimer);
}

/* Time passes: an orphaned entry waiting out its grace is due now. */
static int
grace_over(const char *who, const char *id)
{
	struct store_outbox e;

	if (!entry_of(who, id, &e))
		return OV_ENOTFOUND;
	return store_outbox_orphan(st, id, e.next_attempt_at, e.claimer,
	    (int64_t)time(NULL));
}

/* The status webhook of part `part` of entry id came back (what the
 * worker does with its biz_opaque_callback_data). */
static int
status_came(const char *id, int part, const char *wamid)
{
	char cb[128];

	snprintf(cb, sizeof(cb), "ob:%s:%d", id, part);
	return outbox_status_taken(st, cb, wamid);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_entry(void)
{
	struct store_outbox e;
	cJSON *p = text_payload("Hola"), *bad = cJSON_CreateObject(), *btn;
	char big[STORE_TEXT_MAX + 10];

	CHECK_INT(outbox_entry(&ob, "5493415558001", STORE_LANE_AGENT, "text",
	    p, "turn-1#0", &e), OV_OK);
	CHECK_STR(e.id, "turn-1#0");
	CHECK_STR(e.wa_id, "5493415558001");
	CHECK_STR(e.kind, "text");
	CHECK_INT(e.lane, STORE_LANE_AGENT);
	CHECK_STR(e.payload, "{\"text\":\"Hola\"}");
	CHECK_INT(e.attempts, 0);
	CHECK(e.last_error == NULL);
	CHECK(e.created_at > 0);
	CHECK_INT(e.next_attempt_at, e.created_at);
	store_outbox_clear(&e);
	CHECK(e.payload == NULL);
	/* No id given: a fresh one each time. */
	CHECK_INT(outbox_entry(&ob, "5493415558001", STORE_LANE_REPLY, "text",
	    p, NULL, &e), OV_OK);
	CHECK(e.id[0] != '\0');
	store_outbox_clear(&e);

	/* The shapes a send needs. */
	CHECK_INT(outbox_entry(&ob, "5493415558001", STORE_LANE_REPLY,
	    "buttons", p, NULL, &e), OV_EINVAL);
	CHECK(e.payload == NULL);
	CHECK_INT(outbox_entry(&ob, "5493415558001", STORE_LANE_REPLY, "text",
	    bad, NULL, &e), OV_EINVAL);
	CHECK_INT(outbox_entry(&ob, "5493415558001", STORE_LANE_REPLY, "fax",
	    p, NULL, &e), OV_EINVAL);
	cJSON_AddStringToObject(bad, "body", "¿Te lo sumo?");
	btn = cJSON_AddArrayToObject(bad, "buttons");
	CHECK_INT(outbox_entry(&ob, "5493415558001", STORE_LANE_REPLY,
	    "buttons", bad, NULL, &e), OV_EINVAL);   /* no buttons */
	{
		cJSON *b = cJSON_CreateObject();

		cJSON_AddStringToObject(b, "id", "si");
		cJSON_AddStringToObject(b, "title", "Sí");
		cJSON_AddItemToArray(btn, b);
	}
	CHECK_INT(outbox_entry(&ob, "5493415558001", STORE_LANE_REPLY,
	    "buttons", bad, NULL, &e), OV_OK);
	store_outbox_clear(&e);
	/* Recipient, lane, id. */
	CHECK_INT(outbox_entry(&ob, "+5493415558001", STORE_LANE_REPLY, "text",
	    p, NULL, &e), OV_EINVAL);
	CHECK_INT(outbox_entry(&ob, "5493415558001", (enum store_lane)3,
	    "text", p, NULL, &e), OV_EINVAL);
	CHECK_INT(outbox_entry(&ob, "5493415558001", STORE_LANE_REPLY, "text",
	    p, "", &e), OV_EINVAL);
	/* Too big for the store. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cJSON_Delete(p);
	p = text_payload(big);
	CHECK_INT(outbox_entry(&ob, "5493415558001", STORE_LANE_REPLY, "text",
	    p, NULL, &e), OV_ETOOBIG);
	CHECK(e.payload == NULL);
	cJSON_Delete(p);
	cJSON_Delete(bad);
}

/* A committed turn's replies go out at once, in order, each recorded,
 * none left; another customer's entries are not touched. */
static void
test_flush_after_commit(void)
{
	static const char *const texts[] = {
		"Primero: tenemos el disco.", "Segundo: ¿cuántos?",
		"Tercero: ¡gracias!"
	};
	const char *who = "5493415558002", *other = "5493415558003";
	struct store_msg *h = NULL;
	size_t sent = 9, left = 9, nh = 0;
	char *got;

	graph_control("{\"reset\": true}");
	CHECK_INT(commit_turn("wamid.flush.other", other, texts, 1), OV_OK);
	CHECK_INT(commit_turn("wamid.flush.1", who, texts, 3), OV_OK);
	CHECK_INT(waiting_for(who), 3);
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 3);
	CHECK_INT(left, 0);
	CHECK_INT(waiting_for(who), 0);
	CHECK_INT(waiting_for(other), 1);
	got = sent_texts();
	CHECK_STR(got, "5493415558002:Primero: tenemos el disco.\n"
	    "5493415558002:Segundo: ¿cuántos?\n"
	    "5493415558002:Tercero: ¡gracias!\n");
	free(got);
	/* Each names its entry and part: Meta echoes it in its statuses. */
	got = sent_callbacks();
	CHECK_STR(got, "ob:wamid.flush.1#0:0\nob:wamid.flush.1#1:0\n"
	    "ob:wamid.flush.1#2:0\n");
	free(got);
	CHECK_INT(store_history(st, who, 10, &h, &nh), OV_OK);
	CHECK_INT(nh, 4);   /* the message in, three out */
	if (nh == 4) {
		CHECK_STR(h[1].body, texts[0]);
		CHECK_STR(h[1].status, "pending");
		CHECK_STR(h[3].body, texts[2]);
	}
	store_msgs_free(h, nh);
	/* The replay of the turn sends nothing twice. */
	CHECK_INT(commit_turn("wamid.flush.1", who, texts, 3), OV_EEXIST);
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(left, 0);
	/* Nothing for a customer with nothing waiting. */
	CHECK_INT(outbox_flush_for(&ob, "5493415558099", &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(left, 0);
	CHECK_INT(outbox_flush_for(&ob, "{\"$ne\":1}", &sent, &left),
	    OV_EINVAL);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(waiting_for(other), 0);
}

/* Meta failing: the first reply is rescheduled and the later ones wait
 * behind it, in this flush and while it is not due; then all go in
 * order. */
static void
test_flush_stops_at_first_waiting(void)
{
	static const char *const texts[] = { "Uno.", "Dos." };
	const char *who = "5493415558004";
	struct store_outbox *v = NULL;
	size_t sent = 9, left = 9, n = 0;
	char *got;

	graph_control("{\"reset\": true}");
	CHECK_INT(commit_turn("wamid.wait.1", who, texts, 2), OV_OK);
	graph_control("{\"fail_next\": [{\"http\": 429, \"code\": 130429}]}");
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(left, 2);
	/* The first is due later (OUTBOX_RETRY_S): the second still waits. */
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(left, 2);
	got = sent_texts();
	CHECK_STR(got, "");
	free(got);
	/* Its time comes. */
	CHECK_INT(store_outbox_due_for(st, who, INT64_MAX, 10, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(v[0].id, "wamid.wait.1#0");
		CHECK_INT(v[0].attempts, 1);
		CHECK_INT(store_outbox_reschedule(st, v[0].id, 1, 0, NULL),
		    OV_OK);
	}
	store_outbox_free(v, n);
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 2);
	CHECK_INT(left, 0);
	got = sent_texts();
	CHECK_STR(got, "5493415558004:Uno.\n5493415558004:Dos.\n");
	free(got);
}

/* An entry claimed by another process (being sent there) stops this
 * flush: the next one never overtakes it. */
static void
test_flush_respects_claims(void)
{
	static const char *const texts[] = { "A.", "B." };
	const char *who = "5493415558005";
	struct store_outbox *v = NULL;
	size_t sent = 9, left = 9, n = 0;
	int64_t now = (int64_t)time(NULL);

	graph_control("{\"reset\": true}");
	CHECK_INT(commit_turn("wamid.claim.1", who, texts, 2), OV_OK);
	CHECK_INT(store_outbox_due_for(st, who, INT64_MAX, 10, &v, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2)
		CHECK_INT(store_outbox_claim(st, v[0].id, v[0].next_attempt_at,
		    "", now + 300, self), OV_OK);
	store_outbox_free(v, n);
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(left, 2);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(waiting_for(who), 2);   /* the drain holds them too */
	store_outbox_delete(st, "wamid.claim.1#0");
	store_outbox_delete(st, "wamid.claim.1#1");
}

/* A drain sends replies before campaigns, whatever their age. */
static void
test_drain_lanes(void)
{
	struct store_outbox e;
	cJSON *p;
	size_t sent = 9, left = 9;
	char *got;

	graph_control("{\"reset\": true}");
	p = text_payload("Promo de la semana");
	CHECK_INT(outbox_entry(&ob, "5493415558006", STORE_LANE_CAMPAIGN,
	    "text", p, "lanes-camp", &e), OV_OK);
	e.created_at -= 100;
	e.next_attempt_at = e.created_at;
	CHECK_INT(store_outbox_put(st, &e), OV_OK);
	store_outbox_clear(&e);
	cJSON_Delete(p);
	p = text_payload("Soy Ana, te escribo por tu pedido");
	CHECK_INT(outbox_entry(&ob, "5493415558007", STORE_LANE_AGENT, "text",
	    p, "lanes-agent", &e), OV_OK);
	e.created_at -= 50;
	e.next_attempt_at = e.created_at;
	CHECK_INT(store_outbox_put(st, &e), OV_OK);
	store_outbox_clear(&e);
	cJSON_Delete(p);
	p = text_payload("Tu respuesta");
	CHECK_INT(outbox_entry(&ob, "5493415558008", STORE_LANE_REPLY, "text",
	    p, "lanes-reply", &e), OV_OK);
	CHECK_INT(store_outbox_put(st, &e), OV_OK);
	store_outbox_clear(&e);
	cJSON_Delete(p);

	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(sent, 3);
	CHECK_INT(left, 0);
	got = sent_texts();
	CHECK_STR(got, "5493415558008:Tu respuesta\n"
	    "5493415558007:Soy Ana, te escribo por tu pedido\n"
	    "5493415558006:Promo de la semana\n");
	free(got);
}

/* A claim by a process of this host that is alive (or of another host)
 * is left alone: the entry, and its customer's later ones, wait. */
static void
test_live_claimer_keeps_its_claim(void)
{
	static const char *const texts[] = { "A.", "B." };
	const char *who = "5493415558010";
	struct store_outbox e;
	size_t sent = 9, left = 9;
	char *got;

	graph_control("{\"reset\": true}");
	CHECK_INT(commit_turn("wamid.live.1", who, texts, 2), OV_OK);
	CHECK_INT(claim_as(who, "wamid.live.1#0", self), OV_OK);
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK(entry_of(who, "wamid.live.1#0", &e));
	CHECK_STR(e.claimer, self);
	CHECK(!e.orphaned);
	CHECK(e.next_attempt_at > (int64_t)time(NULL) + 200);
	/* Another host's process cannot be asked: it keeps it too. */
	CHECK_INT(claim_as(who, "wamid.live.1#1", "some-other-host:1"), OV_OK);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK(entry_of(who, "wamid.live.1#1", &e));
	CHECK_STR(e.claimer, "some-other-host:1");
	got = sent_texts();
	CHECK_STR(got, "");
	free(got);
	store_outbox_delete(st, "wamid.live.1#0");
	store_outbox_delete(st, "wamid.live.1#1");
}

/* A worker killed after Meta took a reply and before it deleted the
 * entry: the reply's status webhook came back, so the next flush takes
 * the entry back at once, records it as sent and does not send it again;
 * the customer's next reply goes at once, not 300 seconds later. */
static void
test_dead_claimer_with_status_not_sent_again(void)
{
	static const char *const texts[] = { "Primero.", "Segundo." };
	const char *who = "5493415558011";
	struct store_msg m;
	size_t sent = 9, left = 9;
	bool found = false;
	char *got;

	graph_control("{\"reset\": true}");
	CHECK_INT(commit_turn("wamid.dead.1", who, texts, 2), OV_OK);
	CHECK_INT(claim_as(who, "wamid.dead.1#0", dead), OV_OK);
	CHECK_INT(status_came("wamid.dead.1#0", 0, "wamid.out.dead.1"), OV_OK);
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 2);
	CHECK_INT(left, 0);
	CHECK_INT(waiting_for(who), 0);
	got = sent_texts();
	CHECK_STR(got, "5493415558011:Segundo.\n");
	free(got);
	CHECK_INT(store_msg_get(st, "wamid.out.dead.1", &m, &found), OV_OK);
	CHECK(found);
	if (found) {
		CHECK_STR(m.body, "Primero.");
		CHECK_INT(m.dir, STORE_OUT);
	}
	store_msg_clear(&m);
}

/* No status came back: the entry is taken back at once but waits the
 * in-flight grace (holding the later one); a status arriving meanwhile
 * stops it going again. With none, it goes again after the grace (at
 * least once), in order. */
static void
test_dead_claimer_without_status_waits_the_grace(void)
{
	static const char *const texts[] = { "Uno.", "Dos." };
	const char *who = "5493415558012", *who2 = "5493415558013";
	struct store_outbox e;
	size_t sent = 9, left = 9;
	int64_t now = (int64_t)time(NULL);
	char *got;

	graph_control("{\"reset\": true}");
	CHECK_INT(commit_turn("wamid.grace.1", who, texts, 2), OV_OK);
	CHECK_INT(claim_as(who, "wamid.grace.1#0", dead), OV_OK);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK(entry_of(who, "wamid.grace.1#0", &e));
	CHECK_STR(e.claimer, "");
	CHECK(e.orphaned);
	CHECK(e.next_attempt_at >= now + OUTBOX_INFLIGHT_GRACE_DEFAULT_S);
	CHECK(e.next_attempt_at <= now + OUTBOX_INFLIGHT_GRACE_DEFAULT_S + 5);
	/* Within the grace nothing goes, the later reply neither. */
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(left, 2);
	got = sent_texts();
	CHECK_STR(got, "");
	free(got);
	/* The grace is over, no status came: both go, in order, the first
	 * again (at least once), still naming entry and part. */
	CHECK_INT(grace_over(who, "wamid.grace.1#0"), OV_OK);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(sent, 2);
	CHECK_INT(waiting_for(who), 0);
	got = sent_texts();
	CHECK_STR(got, "5493415558012:Uno.\n5493415558012:Dos.\n");
	free(got);
	got = sent_callbacks();
	CHECK_STR(got, "ob:wamid.grace.1#0:0\nob:wamid.grace.1#1:0\n");
	free(got);

	/* The status comes during the grace: not sent again. */
	graph_control("{\"reset\": true}");
	CHECK_INT(commit_turn("wamid.grace.2", who2, texts, 2), OV_OK);
	CHECK_INT(claim_as(who2, "wamid.grace.2#0", dead), OV_OK);
	CHECK_INT(outbox_flush_for(&ob, who2, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(status_came("wamid.grace.2#0", 0, "wamid.out.grace.2"),
	    OV_OK);
	CHECK_INT(grace_over(who2, "wamid.grace.2#0"), OV_OK);
	CHECK_INT(outbox_flush_for(&ob, who2, &sent, &left), OV_OK);
	CHECK_INT(sent, 2);
	CHECK_INT(left, 0);
	got = sent_texts();
	CHECK_STR(got, "5493415558013:Dos.\n");
	free(got);
}

/* A long text goes as several messages: the parts whose status came back
 * do not go again, only the rest, each still naming its part. */
static void
test_dead_claimer_mid_text_sends_only_the_rest(void)
{
	static char text[3 * 3000 + 16];
	const char *texts[1] = { text };
	const char *who = "5493415558014";
	size_t sent = 9, left = 9, off = 0;
	char *got, *raw;
	cJSON *all;

	/* Three paragraphs of 3000 bytes: three messages. */
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			memcpy(text + off, "\n\n", 2);
			off += 2;
		}
		memset(text + off, 'a' + i, 3000);
		off += 3000;
	}
	text[off] = '\0';
	graph_control("{\"reset\": true}");
	CHECK_INT(commit_turn("wamid.parts.1", who, texts, 1), OV_OK);
	CHECK_INT(claim_as(who, "wamid.parts.1#0", dead), OV_OK);
	/* Part 1's status came, part 0's not yet: Meta took both (a part
	 * goes only after the one before it was taken). */
	CHECK_INT(status_came("wamid.parts.1#0", 1, "wamid.out.parts.1b"),
	    OV_OK);
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);   /* part 2 may have been in flight: grace */
	CHECK_INT(grace_over(who, "wamid.parts.1#0"), OV_OK);
	CHECK_INT(outbox_flush_for(&ob, who, &sent, &left), OV_OK);
	CHECK_INT(sent, 1);
	CHECK_INT(waiting_for(who), 0);
	raw = graph_call("GET", "/__sent", NULL);
	all = raw ? cJSON_Parse(raw) : NULL;
	free(raw);
	CHECK_INT(cJSON_GetArraySize(all), 1);
	if (cJSON_GetArraySize(all) == 1) {
		const cJSON *body = cJSON_GetObjectItem(cJSON_GetObjectItem(
		    cJSON_GetObjectItem(cJSON_GetArrayItem(all, 0), "payload"),
		    "text"), "body");

		CHECK(cJSON_IsString(body) && strlen(body->valuestring) ==
		    3000 && body->valuestring[0] == 'c');
	}
	cJSON_Delete(all);
	got = sent_callbacks();
	CHECK_STR(got, "ob:wamid.parts.1#0:2\n");
	free(got);

	/* Every part accounted for when the death is seen: done at once. */
	graph_control("{\"reset\": true}");
	CHECK_INT(commit_turn("wamid.parts.2", who, texts, 1), OV_OK);
	CHECK_INT(claim_as(who, "wamid.parts.2#0", dead), OV_OK);
	CHECK_INT(status_came("wamid.parts.2#0", 2, "wamid.out.parts.2c"),
	    OV_OK);
	CHECK_INT(status_came("wamid.parts.2#0", 0, "wamid.out.parts.2a"),
	    OV_OK);
	CHECK_INT(outbox_drain(&ob, &sent, &left), OV_OK);
	CHECK_INT(sent, 1);
	CHECK_INT(waiting_for(who), 0);
	got = sent_texts();
	CHECK_STR(got, "");
	free(got);
}

/* Callback data that is not ours, malformed, or for an entry already
 * gone changes nothing and is no error. */
static void
test_status_taken_parsing(void)
{
	struct store_outbox_part v[STORE_OUTBOX_PARTS_MAX];
	struct store_outbox e;
	cJSON *p = text_payload("x");
	size_t n = 9;

	CHECK_INT(outbox_entry(&ob, "5493415558015", STORE_LANE_REPLY, "text",
	    p, "cb:odd:id", &e), OV_OK);
	CHECK_INT(store_outbox_put(st, &e), OV_OK);
	store_outbox_clear(&e);
	cJSON_Delete(p);
	CHECK_INT(outbox_status_taken(st, "campaign-42", "wamid.z"), OV_OK);
	CHECK_INT(outbox_status_taken(st, "ob:", "wamid.z"), OV_OK);
	CHECK_INT(outbox_status_taken(st, "ob:cb:odd:id:", "wamid.z"), OV_OK);
	CHECK_INT(outbox_status_taken(st, "ob:cb:odd:id:x1", "wamid.z"), OV_OK);
	CHECK_INT(outbox_status_taken(st, "ob:cb:odd:id:99", "wamid.z"), OV_OK);
	CHECK_INT(outbox_status_taken(st, "ob:no-such-entry:0", "wamid.z"),
	    OV_OK);
	CHECK_INT(store_outbox_taken(st, "cb:odd:id", v, STORE_OUTBOX_PARTS_MAX,
	    &n), OV_OK);
	CHECK_INT(n, 0);
	/* An id with colons in it: the part is after the last one. */
	CHECK_INT(outbox_status_taken(st, "ob:cb:odd:id:0", "wamid.z"), OV_OK);
	CHECK_INT(store_outbox_taken(st, "cb:odd:id", v, STORE_OUTBOX_PARTS_MAX,
	    &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_INT(v[0].part, 0);
		CHECK_STR(v[0].wamid, "wamid.z");
	}
	CHECK_INT(store_outbox_delete(st, "cb:odd:id"), OV_OK);
}

static void
test_claim_time_from_config(void)
{
	struct config *c2 = NULL;
	struct outbox o2;
	char err[256];

	CHECK_INT(ob.claim_s, OUTBOX_CLAIM_DEFAULT_S);
	setenv("OUTBOX_CLAIM_S", "45", 1);
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	CHECK_INT(outbox_init(&o2, c2, st, &wa, err, sizeof(err)), OV_OK);
	CHECK_INT(o2.claim_s, 45);
	config_free(c2);
	c2 = NULL;
	setenv("OUTBOX_CLAIM_S", "0", 1);
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	CHECK_INT(outbox_init(&o2, c2, st, &wa, err, sizeof(err)),
	    OV_ECONFIG);
	CHECK(strstr(err, "OUTBOX_CLAIM_S") != NULL);
	config_free(c2);
	c2 = NULL;
	unsetenv("OUTBOX_CLAIM_S");
	/* The in-flight grace: 0..600 seconds. */
	CHECK_INT(ob.inflight_grace_s, OUTBOX_INFLIGHT_GRACE_DEFAULT_S);
	setenv("OUTBOX_INFLIGHT_GRACE_S", "5", 1);
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	CHECK_INT(outbox_init(&o2, c2, st, &wa, err, sizeof(err)), OV_OK);
	CHECK_INT(o2.inflight_grace_s, 5);
	config_free(c2);
	c2 = NULL;
	setenv("OUTBOX_INFLIGHT_GRACE_S", "601", 1);
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	CHECK_INT(outbox_init(&o2, c2, st, &wa, err, sizeof(err)),
	    OV_ECONFIG);
	CHECK(strstr(err, "OUTBOX_INFLIGHT_GRACE_S") != NULL);
	config_free(c2);
	unsetenv("OUTBOX_INFLIGHT_GRACE_S");
}

/* self: this process; dead: a child of ours that exited (reaped, so
 * kill(pid, 0) says ESRCH). */
static int
claimers(void)
{
	char host[256];
	pid_t pid;
	int status;

	if (gethostname(host, sizeof(host)) != 0)
		return -1;
	host[sizeof(host) - 1] = '\0';
	snprintf(self, sizeof(self), "%.40s:%ld", host, (long)getpid());
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	snprintf(dead, sizeof(dead), "%.40s:%ld", host, (long)pid);
	return 0;
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

	log_init("test_outbox");
	log_set_level(LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	unsetenv("OVIDIO_CONFIG");
	unsetenv("OUTBOX_CLAIM_S");
	unsetenv("OUTBOX_INFLIGHT_GRACE_S");
	unsetenv("OVIDIO_CRASH_AT");
	if (claimers() != 0)
		return 1;
	snprintf(db, sizeof(db), "ovidio_test_outbox_%ld", (long)getpid());
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
	setenv("OUTBOX_RETRY_S", "60", 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		goto out;
	}
	if (store_open(&st, cfg) != OV_OK) {
		fprintf(stderr, "store failed\n");
		goto out;
	}
	if (wa_client_init(&wa, cfg, err, sizeof(err)) != OV_OK ||
	    outbox_init(&ob, cfg, st, &wa, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "outbox: %s\n", err);
		goto out;
	}
	wa.backoff_ms = 10;
	wa.max_attempts = 1;
	RUN(test_entry);
	RUN(test_flush_after_commit);
	RUN(test_flush_stops_at_first_waiting);
	RUN(test_flush_respects_claims);
	RUN(test_drain_lanes);
	RUN(test_live_claimer_keeps_its_claim);
	RUN(test_dead_claimer_with_status_not_sent_again);
	RUN(test_dead_claimer_without_status_waits_the_grace);
	RUN(test_dead_claimer_mid_text_sends_only_the_rest);
	RUN(test_status_taken_parsing);
	RUN(test_claim_time_from_config);
	rc = check_finish();
	wa_client_free(&wa);
out:
	store_close(st);
	config_free(cfg);
	standin_proc_stop(&graph);
	curl_global_cleanup();
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
