/*
 * outbox.c - send now or keep for later. See outbox.h.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "conv.h"
#include "err.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "whatsapp.h"

#define DESCRIBE_MAX 8192

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
outbox_init(struct outbox *o, const struct config *cfg, struct store *st,
    struct wa_client *wa, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->st = st;
	o->wa = wa;
	if (config_get_long(cfg, "OUTBOX_RETRY_S", 60, 0, OUTBOX_RETRY_MAX_S,
	    &o->retry_s, err, errlen) != OV_OK ||
	    config_get_long(cfg, "OUTBOX_MAX_ATTEMPTS", 30, 1, 1000,
	    &o->max_attempts, err, errlen) != OV_OK ||
	    config_get_long(cfg, "OUTBOX_CLAIM_S", OUTBOX_CLAIM_DEFAULT_S, 1,
	    OUTBOX_CLAIM_MAX_S, &o->claim_s, err, errlen) != OV_OK ||
	    config_get_long(cfg, "CAMPAIGN_RATE", OUTBOX_CAMPAIGN_RATE_DEFAULT,
	    1, OUTBOX_CAMPAIGN_RATE_MAX, &o->campaign_rate, err, errlen) !=
	    OV_OK)
		return OV_ECONFIG;
	o->campaign_budget_ms = OUTBOX_CAMPAIGN_BUDGET_MS;
	return OV_OK;
}

/* ---- what a person reads ------------------------------------------- */

static void
app(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= cap)
		n = cap - 1 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

static void describe_template(char *buf, size_t cap, size_t *len,
    const cJSON *p);

char *
outbox_describe(const char *kind, const cJSON *payload)
{
	char *buf = malloc(DESCRIBE_MAX);
	size_t len = 0;
	const cJSON *arr, *it;

	if (buf == NULL)
		return NULL;
	buf[0] = '\0';
	if (strcmp(kind, "text") == 0) {
		app(buf, DESCRIBE_MAX, &len, jstr(payload, "text") ?
		    jstr(payload, "text") : "");
	} else if (strcmp(kind, "buttons") == 0 || strcmp(kind, "list") == 0) {
		app(buf, DESCRIBE_MAX, &len, jstr(payload, "body") ?
		    jstr(payload, "body") : "");
		arr = cJSON_GetObjectItemCaseSensitive(payload,
		    kind[0] == 'b' ? "buttons" : "rows");
		cJSON_ArrayForEach(it, arr) {
			const char *t = jstr(it, "title"), *d = jstr(it, "description");

			app(buf, DESCRIBE_MAX, &len, kind[0] == 'b' ? "\n[" : "\n• ");
			app(buf, DESCRIBE_MAX, &len, t ? t : "");
			if (kind[0] == 'b')
				app(buf, DESCRIBE_MAX, &len, "]");
			if (d != NULL) {
				app(buf, DESCRIBE_MAX, &len, " — ");
				app(buf, DESCRIBE_MAX, &len, d);
			}
		}
	} else if (strcmp(kind, "template") == 0) {
		describe_template(buf, DESCRIBE_MAX, &len, payload);
	} else if (strcmp(kind, "image") == 0) {
		app(buf, DESCRIBE_MAX, &len, "[foto] ");
		app(buf, DESCRIBE_MAX, &len, jstr(payload, "caption") ?
		    jstr(payload, "caption") : "");
	} else if (strcmp(kind, "pdf") == 0) {
		app(buf, DESCRIBE_MAX, &len, "[documento] ");
		app(buf, DESCRIBE_MAX, &len, jstr(payload, "filename") ?
		    jstr(payload, "filename") : "");
		if (jstr(payload, "caption") != NULL) {
			app(buf, DESCRIBE_MAX, &len, " — ");
			app(buf, DESCRIBE_MAX, &len, jstr(payload, "caption"));
		}
	}
	return buf;
}

static const char *
record_type(const char *kind)
{
	if (strcmp(kind, "text") == 0)
		return "text";
	if (strcmp(kind, "template") == 0)
		return "template";
	if (strcmp(kind, "pdf") == 0)
		return "document";
	if (strcmp(kind, "image") == 0)
		return "image";
	return "interactive";
}

/* ---- sending ------------------------------------------------------- */

/* An array of 1..max objects, each with string members a and b. */
static bool
items_ok(const cJSON *arr, size_t max, const char *a, const char *b)
{
	const cJSON *it;
	size_t n = 0;

	if (!cJSON_IsArray(arr))
		return false;
	cJSON_ArrayForEach(it, arr) {
		if (++n > max || jstr(it, a) == NULL || jstr(it, b) == NULL)
			return false;
	}
	return n > 0;
}

static bool template_payload_ok(const cJSON *p);

/* The shape each kind needs (what send_one() reads). */
static int
check_payload(const char *kind, const cJSON *p)
{
	bool ok;

	if (kind == NULL || !cJSON_IsObject(p))
		return OV_EINVAL;
	if (strcmp(kind, "text") == 0)
		ok = jstr(p, "text") != NULL;
	else if (strcmp(kind, "buttons") == 0)
		ok = jstr(p, "body") != NULL && items_ok(
		    cJSON_GetObjectItemCaseSensitive(p, "buttons"),
		    WA_BUTTONS_MAX, "id", "title");
	else if (strcmp(kind, "list") == 0)
		ok = jstr(p, "body") != NULL && jstr(p, "button") != NULL &&
		    items_ok(cJSON_GetObjectItemCaseSensitive(p, "rows"),
		    WA_LIST_ROWS_MAX, "id", "title");
	else if (strcmp(kind, "pdf") == 0)
		ok = jstr(p, "path") != NULL && jstr(p, "filename") != NULL;
	else if (strcmp(kind, "template") == 0)
		ok = template_payload_ok(p);
	else if (strcmp(kind, "image") == 0)
		ok = jstr(p, "link") != NULL;
	else
		ok = false;
	return ok ? OV_OK : OV_EINVAL;
}

static int
send_buttons(struct wa_client *wa, const char *to, const cJSON *p,
    struct wa_result *res)
{
	struct wa_button b[WA_BUTTONS_MAX];
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(p, "buttons"), *it;
	size_t n = 0;

	cJSON_ArrayForEach(it, arr) {
		if (n == WA_BUTTONS_MAX || jstr(it, "id") == NULL ||
		    jstr(it, "title") == NULL)
			return OV_EINVAL;
		b[n].id = jstr(it, "id");
		b[n].title = jstr(it, "title");
		n++;
	}
	if (n == 0 || jstr(p, "body") == NULL)
		return OV_EINVAL;
	return wa_send_buttons(wa, to, jstr(p, "header"), jstr(p, "body"),
	    jstr(p, "footer"), b, n, res);
}

static int
send_list(struct wa_client *wa, const char *to, const cJSON *p,
    struct wa_result *res)
{
	struct wa_row rows[WA_LIST_ROWS_MAX];
	struct wa_section sec;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(p, "rows"), *it;
	size_t n = 0;

	cJSON_ArrayForEach(it, arr) {
		if (n == WA_LIST_ROWS_MAX || jstr(it, "id") == NULL ||
		    jstr(it, "title") == NULL)
			return OV_EINVAL;
		rows[n].id = jstr(it, "id");
		rows[n].title = jstr(it, "title");
		rows[n].description = jstr(it, "description");
		n++;
	}
	if (n == 0 || jstr(p, "body") == NULL || jstr(p, "button") == NULL)
		return OV_EINVAL;
	sec.title = jstr(p, "section");
	sec.rows = rows;
	sec.nrows = n;
	return wa_send_list(wa, to, jstr(p, "header"), jstr(p, "body"),
	    jstr(p, "footer"), jstr(p, "button"), &sec, 1, res);
}

static int send_template(struct wa_client *wa, const char *to,
    const cJSON *p, struct wa_result *res);

static int
send_one(struct outbox *o, const char *to, const char *kind, const cJSON *p,
    struct wa_result *res)
{
	memset(res, 0, sizeof(*res));
	if (strcmp(kind, "text") == 0) {
		if (jstr(p, "text") == NULL)
			return OV_EINVAL;
		return wa_send_text(o->wa, to, jstr(p, "text"), res);
	}
	if (strcmp(kind, "buttons") == 0)
		return send_buttons(o->wa, to, p, res);
	if (strcmp(kind, "list") == 0)
		return send_list(o->wa, to, p, res);
	if (strcmp(kind, "pdf") == 0) {
		if (jstr(p, "path") == NULL || jstr(p, "filename") == NULL)
			return OV_EINVAL;
		return wa_send_pdf(o->wa, to, jstr(p, "path"),
		    jstr(p, "filename"), jstr(p, "caption"),
		    jstr(p, "link_path"), res);
	}
	if (strcmp(kind, "template") == 0)
		return send_template(o->wa, to, p, res);
	if (strcmp(kind, "image") == 0) {
		if (jstr(p, "link") == NULL)
			return OV_EINVAL;
		return wa_send_image(o->wa, to, jstr(p, "link"),
		    jstr(p, "caption"), res);
	}
	return OV_EINVAL;
}

/* A salesperson's message (the inbox puts "agent" in its payload) is
 * recorded with raw {"agent": name}, so the transcript tells who wrote
 * it. NULL for Ovidio's own (or out of memory: the record stays). */
static char *
agent_raw(const cJSON *p)
{
	const char *who = jstr(p, "agent");
	cJSON *o;
	char *s = NULL;

	if (who == NULL || *who == '\0' || (o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "agent", who) != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* Record what Meta accepted: one mensajes record per part. */
static int
record_sent(struct outbox *o, const char *to, const char *kind,
    const cJSON *p, const struct wa_result *res)
{
	struct store_msg m;
	char *desc = outbox_describe(kind, p);
	char *raw = strcmp(kind, "template") == 0 ?
	    cJSON_PrintUnformatted(p) : NULL;
	int rc = OV_OK;

	char *who = agent_raw(p);

	if (desc == NULL) {
		free(raw);
		free(who);
		return OV_ENOMEM;
	}

	for (size_t i = 0; i < res->nparts && rc == OV_OK; i++) {
		const char *text = jstr(p, "text");
		char *part = NULL;

		memset(&m, 0, sizeof(m));
		snprintf(m.id, sizeof(m.id), "%s", res->parts[i].wamid);
		snprintf(m.wa_id, sizeof(m.wa_id), "%s", to);
		m.dir = STORE_OUT;
		m.ts = (int64_t)time(NULL);
		snprintf(m.type, sizeof(m.type), "%s", record_type(kind));
		snprintf(m.status, sizeof(m.status), "pending");
		m.body = desc;
		/* A template's buttons are known only from what was sent:
		 * kept, so a tap on one can be read (lib/bot.c). */
		if (strcmp(kind, "template") == 0)
			m.raw = raw;
		if (strcmp(kind, "text") == 0 && res->nparts > 1 && text != NULL &&
		    res->parts[i].off + res->parts[i].len <= strlen(text)) {
			part = strndup(text + res->parts[i].off, res->parts[i].len);
			if (part == NULL) {
				rc = OV_ENOMEM;
				break;
			}
			m.body = part;
		}
		if (who != NULL)
			m.raw = who;   /* the salesperson who wrote it */
		rc = store_outbound_put(o->st, &m);
		free(part);
	}
	free(who);
	free(desc);
	free(raw);
	if (rc != OV_OK)
		log_error("cannot record a sent reply to %s: %s", to,
		    ov_strerror(rc));
	return rc;
}

/* A reply that will never go out, kept in the history as failed. */
static int
record_failed(struct outbox *o, const char *to, const char *kind,
    const cJSON *p, const char *why)
{
	struct store_msg m;
	char *desc = outbox_describe(kind, p);
	int rc;

	if (desc == NULL)
		return OV_ENOMEM;
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "ovidio.failed.%lld.%ld.%u",
	    (long long)time(NULL), (long)getpid(), o->counter++);
	snprintf(m.wa_id, sizeof(m.wa_id), "%s", to);
	m.dir = STORE_OUT;
	m.ts = (int64_t)time(NULL);
	snprintf(m.type, sizeof(m.type), "%s", record_type(kind));
	snprintf(m.status, sizeof(m.status), "failed");
	m.body = desc;
	m.raw = agent_raw(p);
	rc = store_outbound_put(o->st, &m);
	free(m.raw);
	if (rc == OV_OK)
		rc = store_status_update(o->st, m.id, to, "failed", m.ts, why,
		    NULL);
	free(desc);
	return rc;
}

static void
make_id(struct outbox *o, char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, len, "ob.%lld.%09ld.%ld.%u", (long long)ts.tv_sec,
	    ts.tv_nsec, (long)getpid(), o->counter++);
}

/* Keep a reply for a later drain. created_at 0: now (a resent rest of
 * a split text keeps its place with the original's time). */
static int
queue_at(struct outbox *o, const char *to, enum store_lane lane,
    const char *kind, const cJSON *p, int attempts, const char *why,
    int64_t created_at)
{
	struct store_outbox e;
	char *json = cJSON_PrintUnformatted(p);
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (json == NULL)
		return OV_ENOMEM;
	memset(&e, 0, sizeof(e));
	make_id(o, e.id, sizeof(e.id));
	snprintf(e.wa_id, sizeof(e.wa_id), "%s", to);
	snprintf(e.kind, sizeof(e.kind), "%s", kind);
	e.lane = lane;
	e.payload = json;
	e.last_error = (char *)why;
	e.attempts = attempts;
	e.created_at = created_at > 0 ? created_at : now;
	e.next_attempt_at = attempts == 0 ? now : now + o->retry_s;
	rc = store_outbox_put(o->st, &e);
	free(json);
	if (rc != OV_OK)
		log_error("cannot keep a reply to %s for later: %s", to,
		    ov_strerror(rc));
	return rc;
}

static int
queue(struct outbox *o, const char *to, const char *kind, const cJSON *p,
    int attempts, const char *why)
{
	return queue_at(o, to, STORE_LANE_REPLY, kind, p, attempts, why, 0);
}

/* The part of a split text Meta has not taken yet, as a payload. */
static cJSON *
text_rest(const cJSON *payload, const struct wa_result *res)
{
	const struct wa_sent_part *last = &res->parts[res->nparts - 1];
	const char *text = jstr(payload, "text");
	cJSON *rest;

	if (text == NULL || last->off + last->len > strlen(text))
		return NULL;
	if ((rest = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(rest, "text", text + last->off +
	    last->len) == NULL) {
		cJSON_Delete(rest);
		return NULL;
	}
	return rest;
}

int
outbox_send(struct outbox *o, const char *wa_id, const char *kind,
    const cJSON *payload, enum outbox_outcome *outcome)
{
	struct wa_result res;
	int64_t waiting = 0;
	int rc;

	*outcome = OUTBOX_FAILED;
	if (!cJSON_IsObject(payload))
		return OV_EINVAL;
	if ((rc = store_outbox_count_for(o->st, wa_id, &waiting)) != OV_OK)
		return rc;
	if (waiting > 0) {
		/* Behind earlier replies that are still waiting. */
		if ((rc = queue(o, wa_id, kind, payload, 0, NULL)) == OV_OK)
			*outcome = OUTBOX_QUEUED;
		return rc;
	}
	rc = send_one(o, wa_id, kind, payload, &res);
	/* Sent is sent: a failure to record it (logged) must not fail the
	 * turn, whose replay would send every reply again. */
	if (res.nparts > 0)
		record_sent(o, wa_id, kind, payload, &res);
	if (rc == OV_OK) {
		*outcome = OUTBOX_SENT;
		if (o->on_sent != NULL)
			o->on_sent(o->on_sent_arg, wa_id, kind, payload,
			    res.parts[0].wamid);
		return OV_OK;
	}
	if (res.status == WA_SEND_RETRY_LATER || res.status == WA_SEND_AUTH) {
		log_warn("reply to %s kept for later: %s", wa_id,
		    res.error[0] ? res.error : ov_strerror(rc));
		/* A split text that went out in part: only the rest waits.
		 * Parts are cut at paragraph breaks, so the rest stands alone. */
		if (strcmp(kind, "text") == 0 && res.nparts > 0) {
			cJSON *rest = text_rest(payload, &res);

			if (rest == NULL)
				return OV_ENOMEM;
			rc = queue(o, wa_id, kind, rest, 1, res.error);
			cJSON_Delete(rest);
		} else {
			rc = queue(o, wa_id, kind, payload, 1, res.error);
		}
		if (rc == OV_OK)
			*outcome = OUTBOX_QUEUED;
		return rc;
	}
	log_msg(res.status == WA_SEND_WINDOW_CLOSED ? LOG_WARN : LOG_ERROR, NULL,
	    "reply to %s not sent (%s): %s", wa_id,
	    wa_send_status_name(res.status), res.error);
	rc = record_failed(o, wa_id, kind, payload, res.error[0] ? res.error :
	    wa_send_status_name(res.status));
	*outcome = OUTBOX_FAILED;
	return rc;
}

/* ---- entries waiting --------------------------------------------------- */

enum entry_result {
	ENTRY_SENT,     /* Meta took it: recorded, deleted */
	ENTRY_GONE,     /* will never go: recorded as failed, deleted */
	ENTRY_WAIT,     /* Meta failed: rescheduled, try again later */
	ENTRY_TAKEN     /* another process claimed it first */
};

static void campaign_throttle(struct outbox *o);
static bool campaign_spent(const struct outbox *o,
    const struct timespec *start);
static bool campaign_expired(struct outbox *o, const struct store_outbox *e,
    const cJSON *p, int64_t now);
static void campaign_refused(struct outbox *o, const struct store_outbox *e,
    const cJSON *p, const struct wa_result *res);

/* This process as a claimer: "host:pid", as lib/bot.c's turn leases. */
static void
claimer_self(char *buf, size_t len)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "%.40s:%ld", host, (long)getpid());
}

/* Claim one listed entry and try to send it; what became of it. */
static enum entry_result
send_entry(struct outbox *o, const struct store_outbox *e, int64_t now)
{
	char me[STORE_HOLDER_MAX + 1];
	enum entry_result r;
	struct wa_result res;
	cJSON *p;
	int src;

	/* Another drain (a web node sharing MongoDB) may have listed it
	 * too: only the one that claims it sends it. */
	claimer_self(me, sizeof(me));
	if (store_outbox_claim(o->st, e->id, e->next_attempt_at, e->claimer,
	    now + o->claim_s, me) != OV_OK)
		return ENTRY_TAKEN;
	p = cJSON_Parse(e->payload);
	if (p == NULL) {
		log_error("outbox entry %s is not JSON; dropped", e->id);
		store_outbox_delete(o->st, e->id);
		return ENTRY_GONE;
	}
	if (e->lane == STORE_LANE_CAMPAIGN) {
		if (campaign_expired(o, e, p, now)) {
			cJSON_Delete(p);
			return ENTRY_GONE;
		}
		campaign_throttle(o);
	}
	src = send_one(o, e->wa_id, e->kind, p, &res);
	/* What Meta took is out: a failure to record it (logged) must not
	 * make the entry go out again. */
	if (res.nparts > 0)
		record_sent(o, e->wa_id, e->kind, p, &res);
	if (src == OV_OK) {
		store_outbox_delete(o->st, e->id);
		log_info("reply to %s sent from the outbox (try %d)", e->wa_id,
		    e->attempts + 1);
		if (o->on_sent != NULL)
			o->on_sent(o->on_sent_arg, e->wa_id, e->kind, p,
			    res.parts[0].wamid);
		r = ENTRY_SENT;
	} else if (res.status == WA_SEND_RETRY_LATER ||
	    res.status == WA_SEND_AUTH) {
		int tries = e->attempts + 1;
		long wait = o->retry_s;

		for (int k = 1; k < tries && wait < OUTBOX_RETRY_MAX_S; k++)
			wait *= 2;
		if (wait > OUTBOX_RETRY_MAX_S)
			wait = OUTBOX_RETRY_MAX_S;
		if (tries >= o->max_attempts ||
		    now - e->created_at >= OUTBOX_GIVE_UP_S) {
			log_error("reply to %s given up after %d tries since "
			    "%lld: %s", e->wa_id, tries,
			    (long long)e->created_at, res.error);
			record_failed(o, e->wa_id, e->kind, p, res.error);
			store_outbox_delete(o->st, e->id);
			r = ENTRY_GONE;
		} else if (strcmp(e->kind, "text") == 0 && res.nparts > 0) {
			/* Part of a split text went out: only the rest waits,
			 * in the same place in the queue. */
			cJSON *rest = text_rest(p, &res);

			if (rest != NULL && queue_at(o, e->wa_id, e->lane,
			    e->kind, rest, tries, res.error, e->created_at) ==
			    OV_OK)
				store_outbox_delete(o->st, e->id);
			else    /* keep it whole: parts twice, never lost */
				store_outbox_reschedule(o->st, e->id, tries,
				    now + wait, res.error);
			cJSON_Delete(rest);
			r = ENTRY_WAIT;
		} else {
			store_outbox_reschedule(o->st, e->id, tries, now + wait,
			    res.error);
			r = ENTRY_WAIT;
		}
	} else {
		log_msg(res.status == WA_SEND_WINDOW_CLOSED ? LOG_WARN :
		    LOG_ERROR, NULL, "reply to %s from the outbox not sent "
		    "(%s): %s", e->wa_id, wa_send_status_name(res.status),
		    res.error);
		if (e->lane == STORE_LANE_CAMPAIGN)
			campaign_refused(o, e, p, &res);
		record_failed(o, e->wa_id, e->kind, p, res.error);
		store_outbox_delete(o->st, e->id);
		r = ENTRY_GONE;
	}
	cJSON_Delete(p);
	return r;
}

/* Has wa_id been held back in this drain already? */
static bool
held(char (*ids)[STORE_WAID_MAX + 1], size_t n, const char *wa_id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], wa_id) == 0)
			return true;
	return false;
}

int
outbox_drain(struct outbox *o, size_t *sent, size_t *left)
{
	struct store_outbox *v = NULL;
	char (*hold)[STORE_WAID_MAX + 1] = NULL;
	size_t n = 0, nhold = 0, nsent = 0, nleft = 0, recovered = 0;
	int64_t now = (int64_t)time(NULL);
	struct timespec start;
	bool stop = false;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Turns a crash left half applied bring their replies first. */
	if ((rc = store_turn_recover(o->st, &recovered)) != OV_OK)
		log_error("outbox: completing half-applied turns: %s",
		    ov_strerror(rc));
	/* Every waiting entry, lane by lane and oldest first, not only the
	 * due ones: an older reply not yet due holds back its customer's
	 * newer ones, so nobody reads replies out of order. */
	if ((rc = store_outbox_due(o->st, INT64_MAX, OUTBOX_DRAIN_MAX, &v,
	    &n)) != OV_OK)
		goto out;
	if (n > 0 && (hold = calloc(n, sizeof(*hold))) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_outbox *e = &v[i];

		if (e->lane == STORE_LANE_CAMPAIGN && campaign_spent(o, &start))
			stop = true;   /* the rest of the campaign: next drain */
		if (stop || held(hold, nhold, e->wa_id)) {
			nleft++;
			continue;
		}
		if (e->next_attempt_at > now) {
			snprintf(hold[nhold++], sizeof(hold[0]), "%s", e->wa_id);
			nleft++;
			continue;
		}
		switch (send_entry(o, e, now)) {
		case ENTRY_SENT:
			nsent++;
			break;
		case ENTRY_GONE:
			break;
		case ENTRY_TAKEN:
			/* Being sent elsewhere: the customer's later entries
			 * wait for it. */
			snprintf(hold[nhold++], sizeof(hold[0]), "%s", e->wa_id);
			break;
		case ENTRY_WAIT:
			snprintf(hold[nhold++], sizeof(hold[0]), "%s", e->wa_id);
			nleft++;
			stop = true;   /* Meta still fails: next run */
			break;
		}
	}
	rc = OV_OK;
out:
	if (sent != NULL)
		*sent = nsent;
	if (left != NULL)
		*left = nleft;
	free(hold);
	store_outbox_free(v, n);
	return rc;
}

int
outbox_flush_for(struct outbox *o, const char *wa_id, size_t *sent,
    size_t *left)
{
	struct store_outbox *v = NULL;
	size_t n = 0, nsent = 0, ngone = 0;
	int64_t now = (int64_t)time(NULL);
	int rc;

	/* All of the customer's entries, due or not: one not due holds the
	 * rest back. */
	if ((rc = store_outbox_due_for(o->st, wa_id, INT64_MAX,
	    OUTBOX_DRAIN_MAX, &v, &n)) != OV_OK)
		goto out;
	for (size_t i = 0; i < n && v[i].next_attempt_at <= now; i++) {
		enum entry_result r = send_entry(o, &v[i], now);

		if (r == ENTRY_SENT)
			nsent++;
		else if (r == ENTRY_GONE)
			ngone++;
		else
			break;   /* waits, or another process sends it */
	}
out:
	if (sent != NULL)
		*sent = nsent;
	if (left != NULL)
		*left = n - nsent - ngone;
	store_outbox_free(v, n);
	return rc;
}

/* A printable id of 1..STORE_OUTBOX_ID_MAX bytes. */
static bool
valid_entry_id(const char *id)
{
	size_t n = strnlen(id, STORE_OUTBOX_ID_MAX + 1);

	if (n == 0 || n > STORE_OUTBOX_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return false;
	return true;
}

static bool
valid_wa_id(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, STORE_WAID_MAX + 1);
	if (n == 0 || n > STORE_WAID_MAX)
		return false;
	/* A phone number, or a BSUID (a customer without one). */
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '.'))
			return false;
	return true;
}

int
outbox_entry(struct outbox *o, const char *wa_id, enum store_lane lane,
    const char *kind, const cJSON *payload, const char *id,
    struct store_outbox *out)
{
	char *json;
	int64_t now = (int64_t)time(NULL);

	if (out == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	if (o == NULL || !valid_wa_id(wa_id) || (int)lane < STORE_LANE_REPLY ||
	    (int)lane > STORE_LANE_CAMPAIGN || kind == NULL ||
	    strlen(kind) > STORE_OUTBOX_KIND_MAX ||
	    check_payload(kind, payload) != OV_OK ||
	    (id != NULL && !valid_entry_id(id)))
		return OV_EINVAL;
	if ((json = cJSON_PrintUnformatted(payload)) == NULL)
		return OV_ENOMEM;
	if (strlen(json) > STORE_TEXT_MAX) {
		free(json);
		return OV_ETOOBIG;
	}
	if (id != NULL)
		snprintf(out->id, sizeof(out->id), "%s", id);
	else
		make_id(o, out->id, sizeof(out->id));
	snprintf(out->wa_id, sizeof(out->wa_id), "%s", wa_id);
	snprintf(out->kind, sizeof(out->kind), "%s", kind);
	out->lane = lane;
	out->payload = json;
	out->created_at = now;
	out->next_attempt_at = now;
	return OV_OK;
}

/* ---- proactive messages (the campaign lane) ---------------------------- */

/*
 * kind "template": {"name", "language"?, "params": [text...],
 * "buttons": [payload...]?, "text"?: what the history shows}. Campaign
 * entries may carry "marker": the proactive marker that made them
 * (store_proactive_commit), undone when Meta says "not today".
 */
static bool
strings_ok(const cJSON *arr, size_t max)
{
	const cJSON *it;
	size_t n = 0;

	if (arr == NULL)
		return true;
	if (!cJSON_IsArray(arr))
		return false;
	cJSON_ArrayForEach(it, arr)
		if (++n > max || !cJSON_IsString(it))
			return false;
	return true;
}

static bool
template_payload_ok(const cJSON *p)
{
	return jstr(p, "name") != NULL &&
	    strings_ok(cJSON_GetObjectItemCaseSensitive(p, "params"),
	    WA_TEMPLATE_PARAMS_MAX) &&
	    strings_ok(cJSON_GetObjectItemCaseSensitive(p, "buttons"),
	    WA_BUTTONS_MAX);
}

/* The strings of arr into v (at most max); how many. */
static size_t
strings_of(const cJSON *arr, const char **v, size_t max)
{
	const cJSON *it;
	size_t n = 0;

	cJSON_ArrayForEach(it, arr) {
		if (n == max || !cJSON_IsString(it))
			break;
		v[n++] = it->valuestring;
	}
	return n;
}

static int
send_template(struct wa_client *wa, const char *to, const cJSON *p,
    struct wa_result *res)
{
	const char *params[WA_TEMPLATE_PARAMS_MAX], *buttons[WA_BUTTONS_MAX];
	size_t np, nb;

	if (!template_payload_ok(p))
		return OV_EINVAL;
	np = strings_of(cJSON_GetObjectItemCaseSensitive(p, "params"), params,
	    WA_TEMPLATE_PARAMS_MAX);
	nb = strings_of(cJSON_GetObjectItemCaseSensitive(p, "buttons"), buttons,
	    WA_BUTTONS_MAX);
	return wa_send_template_buttons(wa, to, jstr(p, "name"),
	    jstr(p, "language"), params, np, buttons, nb, res);
}

static void
describe_template(char *buf, size_t cap, size_t *len, const cJSON *p)
{
	const cJSON *it;

	app(buf, cap, len, "[plantilla ");
	app(buf, cap, len, jstr(p, "name") ? jstr(p, "name") : "");
	app(buf, cap, len, "]");
	if (jstr(p, "text") != NULL) {
		app(buf, cap, len, " ");
		app(buf, cap, len, jstr(p, "text"));
		return;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(p, "params")) {
		if (cJSON_IsString(it)) {
			app(buf, cap, len, " ");
			app(buf, cap, len, it->valuestring);
		}
	}
}

/* CAMPAIGN_RATE sends per second at most, within this process (the job
 * and the worker's drain send campaigns one process at a time: cron). */
static void
campaign_throttle(struct outbox *o)
{
	struct timespec now, wait;
	int64_t gap = 1000000000LL / (o->campaign_rate > 0 ? o->campaign_rate :
	    OUTBOX_CAMPAIGN_RATE_DEFAULT), since;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (o->campaign_last.tv_sec != 0 || o->campaign_last.tv_nsec != 0) {
		since = (int64_t)(now.tv_sec - o->campaign_last.tv_sec) *
		    1000000000LL + (now.tv_nsec - o->campaign_last.tv_nsec);
		if (since < gap) {
			wait.tv_sec = (time_t)((gap - since) / 1000000000LL);
			wait.tv_nsec = (long)((gap - since) % 1000000000LL);
			while (nanosleep(&wait, &wait) != 0)
				;
			clock_gettime(CLOCK_MONOTONIC, &now);
		}
	}
	o->campaign_last = now;
}

/*
 * Meta refused a proactive message for good. 131050: the customer
 * stopped marketing messages from us: the conversation records the opt
 * out (no more marketing; utility messages still go). 131049: Meta
 * limits marketing to this customer for now: the marker is undone so a
 * later day may try again (the day's cap marker stays: not today).
 */
static void
campaign_refused(struct outbox *o, const struct store_outbox *e,
    const cJSON *p, const struct wa_result *res)
{
	struct store_conv rec;
	struct conv c;
	bool found = false, leased = false;
	int rc;

	if (res->meta_code == 131049 && jstr(p, "marker") != NULL) {
		if ((rc = store_marker_delete(o->st, jstr(p, "marker"))) != OV_OK)
			log_error("cannot undo marker %s: %s", jstr(p, "marker"),
			    ov_strerror(rc));
		else
			log_info("%s: Meta limits marketing to this customer "
			    "(131049); %s may go another day", e->wa_id,
			    jstr(p, "marker"));
		return;
	}
	if (res->meta_code != 131050)
		return;
	/* Not in the middle of a turn, whose commit would write its own
	 * copy over ours: take the conversation's lease (a turn lasts
	 * seconds), and give it back. */
	for (int i = 0; i < 20 && !leased; i++) {
		int64_t t = (int64_t)time(NULL);

		if (store_conv_lease(o->st, e->wa_id, "outbox-optout", t, t + 30,
		    &leased) != OV_OK)
			break;
		if (!leased)
			usleep(200000);
	}
	if (!leased)
		log_warn("%s: conversation busy; recording the opt out anyway",
		    e->wa_id);
	if ((rc = store_conv_get(o->st, e->wa_id, &rec, &found)) != OV_OK) {
		log_error("%s stopped marketing messages (131050) but the "
		    "conversation cannot be read: %s", e->wa_id, ov_strerror(rc));
		goto out;
	}
	if (found)
		conv_from_store(&rec, &c);
	else
		conv_init(&c, e->wa_id);
	store_conv_clear(&rec);
	c.profile.opted_out = true;
	c.profile.promo = CONV_PROMO_NO;
	if ((rc = conv_to_store(&c, &rec)) == OV_OK) {
		rc = store_conv_put(o->st, &rec);
		store_conv_clear(&rec);
	}
	if (rc != OV_OK)
		log_error("cannot record %s's opt out (131050): %s", e->wa_id,
		    ov_strerror(rc));
	else
		log_info("%s stopped marketing messages (131050): opted out",
		    e->wa_id);
out:
	if (leased)
		store_conv_release(o->st, e->wa_id, "outbox-optout");
}

/*
 * A proactive message may only go within the quiet hours it was queued
 * in: "expires_in" (seconds from created_at, both real time) ends them.
 * One that could not go by then (Meta down) is dropped and its marker
 * undone, so a later run queues it again within the hours.
 */
static bool
campaign_expired(struct outbox *o, const struct store_outbox *e,
    const cJSON *p, int64_t now)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "expires_in");

	if (!cJSON_IsNumber(v) || v->valuedouble <= 0 ||
	    now <= e->created_at + (int64_t)v->valuedouble)
		return false;
	if (jstr(p, "marker") != NULL)
		store_marker_delete(o->st, jstr(p, "marker"));
	store_outbox_delete(o->st, e->id);
	log_info("%s: proactive message past the quiet hours it was queued in; "
	    "dropped, %s may go another time", e->wa_id, jstr(p, "marker") ?
	    jstr(p, "marker") : "it");
	return true;
}

/* Has this drain given campaigns all the time it may? */
static bool
campaign_spent(const struct outbox *o, const struct timespec *start)
{
	struct timespec now;
	int64_t ms;

	if (o->campaign_budget_ms <= 0)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000;
	return ms >= o->campaign_budget_ms;
}
