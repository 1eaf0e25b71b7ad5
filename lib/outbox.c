/*
 * outbox.c - send now or keep for later. See outbox.h.
 */
#include <errno.h>
#include <signal.h>
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
#define CALLBACK_PREFIX "ob:"   /* biz_opaque_callback_data "ob:<id>:<part>" */

/* Every message of an entry is a part the store can name. */
_Static_assert(WA_TEXT_PARTS <= STORE_OUTBOX_PARTS_MAX,
    "an outbox entry's parts must fit store_outbox_taken");

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
	if (config_get_long(cfg, "OUTBOX_RETRY_S", OUTBOX_RETRY_DEFAULT_S, 0, OUTBOX_RETRY_MAX_S,
	    &o->retry_s, err, errlen) != OV_OK ||
	    config_get_long(cfg, "OUTBOX_MAX_ATTEMPTS", 30, 1, 1000,
	    &o->max_attempts, err, errlen) != OV_OK ||
	    config_get_long(cfg, "OUTBOX_CLAIM_S", OUTBOX_CLAIM_DEFAULT_S, 1,
	    OUTBOX_CLAIM_MAX_S, &o->claim_s, err, errlen) != OV_OK ||
	    config_get_long(cfg, "OUTBOX_INFLIGHT_GRACE_S",
	    OUTBOX_INFLIGHT_GRACE_DEFAULT_S, 0, OUTBOX_INFLIGHT_GRACE_MAX_S,
	    &o->inflight_grace_s, err, errlen) != OV_OK ||
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

/* Record what Meta accepted: one mensajes record per part. pieces: the
 * parts are pieces of a split text, each recorded with its own words. */
static int
record_sent(struct outbox *o, const char *to, const char *kind,
    const cJSON *p, const struct wa_result *res, bool pieces)
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
		if (strcmp(kind, "text") == 0 && pieces && text != NULL &&
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

/* payload with its "text" from byte off on (the other members kept: who
 * wrote it, for the record); NULL when out of memory or off is past it. */
static cJSON *
text_from(const cJSON *payload, size_t off)
{
	const char *text = jstr(payload, "text");
	cJSON *rest, *t;

	if (text == NULL || off > strlen(text))
		return NULL;
	if ((rest = cJSON_Duplicate(payload, 1)) == NULL ||
	    (t = cJSON_CreateString(text + off)) == NULL) {
		cJSON_Delete(rest);
		return NULL;
	}
	if (!cJSON_ReplaceItemInObjectCaseSensitive(rest, "text", t)) {
		cJSON_Delete(t);
		cJSON_Delete(rest);
		return NULL;
	}
	return rest;
}

/* The part of a split text Meta has not taken yet, as a payload. */
static cJSON *
text_rest(const cJSON *payload, const struct wa_result *res)
{
	const struct wa_sent_part *last = &res->parts[res->nparts - 1];

	return text_from(payload, last->off + last->len);
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
		record_sent(o, wa_id, kind, payload, &res, res.nparts > 1);
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

/*
 * Test hook, as lib/bot.c's: OVIDIO_CRASH_AT=after_send kills the process
 * right after Meta took a message of an outbox entry, before anything is
 * recorded, so a test can prove the entry is neither sent again nor left
 * holding its customer's later replies.
 */
static void
crash_point(const char *step)
{
	const char *at = getenv("OVIDIO_CRASH_AT");

	if (at != NULL && strcmp(at, step) == 0) {
		log_warn("OVIDIO_CRASH_AT=%s: killing this process", step);
		raise(SIGKILL);
	}
}

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

/* Is claimer ("host:pid") a process of this host that is no more? A
 * claimer of another host, or one that cannot be told, is alive. */
static bool
claimer_gone(const char *claimer)
{
	char me[STORE_HOLDER_MAX + 1];
	size_t hl;
	const char *pid_s;
	char *end;
	long pid;

	if (claimer[0] == '\0')
		return false;
	claimer_self(me, sizeof(me));
	hl = strcspn(me, ":");
	if (strncmp(claimer, me, hl + 1) != 0)
		return false;
	pid_s = claimer + hl + 1;
	errno = 0;
	pid = strtol(pid_s, &end, 10);
	if (*pid_s == '\0' || *end != '\0' || errno != 0 || pid <= 0 ||
	    (long)(pid_t)pid != pid)
		return false;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* The messages an entry's payload becomes: a text's pieces (off/lens in
 * its text, as lib/whatsapp splits it), else one. */
static size_t
entry_parts(const char *kind, const cJSON *p, size_t *off, size_t *lens)
{
	const char *text = jstr(p, "text");
	size_t n = 0;

	off[0] = lens[0] = 0;
	if (strcmp(kind, "text") != 0 || text == NULL ||
	    wa_text_split(text, strlen(text), WA_MSG_TEXT_MAX, off, lens,
	    WA_TEXT_PARTS, &n) != OV_OK || n == 0)
		return 1;   /* a text that cannot be split fails when sent */
	return n;
}

/*
 * How many of e's leading parts (of nparts, pieces at off/lens) Meta took
 * before this try, as its status webhooks told (store_outbox_taken). A
 * part goes out only after Meta took the one before it, so part k taken
 * means parts 0..k were. Those known by their wamid are recorded as sent
 * (store_outbound_put keeps a status that came first); *first gets the
 * first one's wamid ("" when none is known).
 */
static size_t
parts_out(struct outbox *o, const struct store_outbox *e, const cJSON *p,
    size_t nparts, const size_t *off, const size_t *lens, char *first,
    size_t firstlen)
{
	struct store_outbox_part v[STORE_OUTBOX_PARTS_MAX];
	struct wa_result r;
	size_t n = 0, out = 0;
	int rc;

	first[0] = '\0';
	if ((rc = store_outbox_taken(o->st, e->id, v, STORE_OUTBOX_PARTS_MAX,
	    &n)) != OV_OK) {
		/* At least once: unsure, it goes again. */
		log_error("outbox entry %s: cannot read what Meta took of it: "
		    "%s", e->id, ov_strerror(rc));
		return 0;
	}
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < n; i++) {
		size_t k = (size_t)v[i].part;

		if (k >= nparts)
			continue;
		if (k + 1 > out)
			out = k + 1;
		snprintf(r.parts[r.nparts].wamid, sizeof(r.parts[0].wamid), "%s",
		    v[i].wamid);
		r.parts[r.nparts].off = off[k];
		r.parts[r.nparts].len = lens[k];
		r.nparts++;
	}
	if (r.nparts > 0) {
		snprintf(first, firstlen, "%s", r.parts[0].wamid);
		record_sent(o, e->wa_id, e->kind, p, &r, nparts > 1);
		log_info("outbox entry %s: Meta took %zu of its %zu part(s) "
		    "before (status webhooks); not sent again", e->id, out,
		    nparts);
	}
	return out;
}

/*
 * An entry whose claimer (this host) died. Its claim would keep the
 * entry, and its customer's later replies, waiting claim_s; it is taken
 * back at once instead, by a compare-and-set against that claim, so of
 * two drains only one does. The dead process may have had a message in
 * flight that Meta took after all: its status webhook, naming the entry
 * and part (biz_opaque_callback_data), should come within
 * inflight_grace_s of now (the death is seen now; Meta took the message
 * no later than a request time-out after it). So the entry waits that
 * long, unless Meta's statuses already account for every part; the next
 * drain after that sends only the parts no status came back for. At
 * least once stays the floor: a part whose status is lost or later than
 * the grace goes again. Returns true when e (updated to what the store
 * now holds) is due now.
 */
static bool
take_back(struct outbox *o, struct store_outbox *e, int64_t now)
{
	size_t off[WA_TEXT_PARTS], lens[WA_TEXT_PARTS], nparts, known = 0;
	struct store_outbox_part v[STORE_OUTBOX_PARTS_MAX];
	cJSON *p = cJSON_Parse(e->payload);
	int64_t until;
	size_t n = 0;

	nparts = p != NULL ? entry_parts(e->kind, p, off, lens) : 1;
	cJSON_Delete(p);
	if (store_outbox_taken(o->st, e->id, v, STORE_OUTBOX_PARTS_MAX,
	    &n) == OV_OK)
		for (size_t i = 0; i < n; i++)
			if ((size_t)v[i].part + 1 > known)
				known = (size_t)v[i].part + 1;
	/* now is whole seconds: one more keeps the full grace. */
	until = known >= nparts ? now : now + o->inflight_grace_s + 1;
	if (store_outbox_orphan(o->st, e->id, e->next_attempt_at, e->claimer,
	    until) != OV_OK)
		return false;   /* another drain took it back, or it is gone */
	log_warn("outbox entry %s for %s: its sender (%s) is gone; taken "
	    "back, %s", e->id, e->wa_id, e->claimer, until <= now ?
	    "every part was taken by Meta" : "due after the in-flight grace");
	e->next_attempt_at = until;
	e->claimer[0] = '\0';
	e->orphaned = true;
	return until <= now;
}

/* Is a listed entry to be sent now? One claimed by a process of this host
 * that is gone is taken back first (take_back). */
static bool
entry_due(struct outbox *o, struct store_outbox *e, int64_t now)
{
	if (e->next_attempt_at <= now)
		return true;
	return claimer_gone(e->claimer) && take_back(o, e, now);
}

/* Claim one listed entry and try to send it; what became of it. */
static enum entry_result
send_entry(struct outbox *o, const struct store_outbox *e, int64_t now)
{
	size_t off[WA_TEXT_PARTS], lens[WA_TEXT_PARTS], nparts, skip = 0;
	char me[STORE_HOLDER_MAX + 1], tag[WA_CALLBACK_TAG_MAX + 1];
	char first[WA_WAMID_MAX + 1] = "";
	enum entry_result r;
	struct wa_result res;
	cJSON *p, *rest = NULL;
	const cJSON *ps;   /* what goes now: p, or a text's untaken rest */
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
	if (e->lane == STORE_LANE_CAMPAIGN && campaign_expired(o, e, p, now)) {
		cJSON_Delete(p);
		return ENTRY_GONE;
	}
	nparts = entry_parts(e->kind, p, off, lens);
	/* Tried before (a claimer that died, a try that failed or timed
	 * out): what Meta's status webhooks say it took does not go again. */
	if (e->attempts > 0 || e->claimer[0] != '\0' || e->orphaned)
		skip = parts_out(o, e, p, nparts, off, lens, first,
		    sizeof(first));
	if (skip >= nparts) {
		store_outbox_delete(o->st, e->id);
		log_info("reply to %s was out already (Meta's status webhooks "
		    "came back for every part); not sent again", e->wa_id);
		if (o->on_sent != NULL)
			o->on_sent(o->on_sent_arg, e->wa_id, e->kind, p, first);
		cJSON_Delete(p);
		return ENTRY_SENT;
	}
	ps = p;
	if (skip > 0 && (rest = text_from(p, off[skip])) != NULL)
		ps = rest;
	else
		skip = 0;   /* out of memory: at least once, whole */
	if (e->lane == STORE_LANE_CAMPAIGN)
		campaign_throttle(o);
	/* Each message names the entry and its part, so its status webhooks
	 * can tell a later drain that it went out (see take_back). */
	snprintf(tag, sizeof(tag), CALLBACK_PREFIX "%s", e->id);
	wa_set_callback(o->wa, tag, (unsigned int)skip);
	src = send_one(o, e->wa_id, e->kind, ps, &res);
	wa_set_callback(o->wa, NULL, 0);
	/* What Meta took is out: a failure to record it (logged) must not
	 * make the entry go out again. */
	if (res.nparts > 0) {
		crash_point("after_send");
		record_sent(o, e->wa_id, e->kind, ps, &res, nparts > 1);
	}
	if (src == OV_OK) {
		store_outbox_delete(o->st, e->id);
		log_info("reply to %s sent from the outbox (try %d)", e->wa_id,
		    e->attempts + 1);
		if (o->on_sent != NULL)
			o->on_sent(o->on_sent_arg, e->wa_id, e->kind, p,
			    skip > 0 && first[0] != '\0' ? first :
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
			record_failed(o, e->wa_id, e->kind, ps, res.error);
			store_outbox_delete(o->st, e->id);
			r = ENTRY_GONE;
		} else if (strcmp(e->kind, "text") == 0 && res.nparts > 0) {
			/* Part of a split text went out: only the rest waits,
			 * in the same place in the queue. */
			cJSON *left = text_rest(ps, &res);

			if (left != NULL && queue_at(o, e->wa_id, e->lane,
			    e->kind, left, tries, res.error, e->created_at) ==
			    OV_OK)
				store_outbox_delete(o->st, e->id);
			else    /* keep it whole: parts twice, never lost */
				store_outbox_reschedule(o->st, e->id, tries,
				    now + wait, res.error);
			cJSON_Delete(left);
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
		record_failed(o, e->wa_id, e->kind, ps, res.error);
		store_outbox_delete(o->st, e->id);
		r = ENTRY_GONE;
	}
	cJSON_Delete(rest);
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
		if (!entry_due(o, e, now)) {
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
	for (size_t i = 0; i < n && entry_due(o, &v[i], now); i++) {
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

int
outbox_work_waiting(struct store *st, int64_t now, bool *any)
{
	struct store_outbox *v = NULL;
	size_t n = 0;
	int rc;

	*any = false;
	if ((rc = store_outbox_due(st, INT64_MAX, OUTBOX_DRAIN_MAX, &v, &n)) !=
	    OV_OK)
		return rc;
	for (size_t i = 0; i < n && !*any; i++)
		*any = v[i].next_attempt_at <= now || claimer_gone(v[i].claimer);
	store_outbox_free(v, n);
	return OV_OK;
}

/*
 * A status webhook came back with the callback data of one of our
 * messages: an outbox entry's part went out. Recorded for the entry while
 * it waits (a drain taking it back from a dead sender skips that part);
 * for an entry sent and deleted already, nothing is kept.
 */
int
outbox_status_taken(struct store *st, const char *callback,
    const char *wamid)
{
	char id[STORE_OUTBOX_ID_MAX + 1];
	const char *colon, *pre = CALLBACK_PREFIX;
	size_t plen = strlen(pre), idlen;
	char *end;
	long part;

	if (callback == NULL || strncmp(callback, pre, plen) != 0 ||
	    (colon = strrchr(callback, ':')) == NULL ||
	    colon < callback + plen)
		return OV_OK;   /* not one of ours */
	idlen = (size_t)(colon - (callback + plen));
	errno = 0;
	part = strtol(colon + 1, &end, 10);
	if (idlen == 0 || idlen > STORE_OUTBOX_ID_MAX || colon[1] == '\0' ||
	    *end != '\0' || errno != 0 || part < 0 ||
	    part >= STORE_OUTBOX_PARTS_MAX)
		return OV_OK;
	memcpy(id, callback + plen, idlen);
	id[idlen] = '\0';
	return store_outbox_taken_put(st, id, (int)part, wamid);
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
