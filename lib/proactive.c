/*
 * proactive.c - jobs/notify's pass over quotes, demand and conversations.
 * See proactive.h.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "bot_catalog.h"
#include "business.h"
#include "cianbox.h"
#include "config.h"
#include "conv.h"
#include "copy_es.h"
#include "customer.h"
#include "err.h"
#include "log.h"
#include "outbox.h"
#include "proactive.h"
#include "quote.h"
#include "store.h"
#include "turn.h"

#define PAGE 500
#define BATCH 100      /* messages committed per store transaction */
#define NAME_MAX_BYTES (QUOTE_CUSTOMER_NAME_MAX + 1)

static const char *const kind_names[PX__COUNT] = {
	[PX_QUOTE_REMINDER] = "quote_reminder",
	[PX_BACK_IN_STOCK] = "back_in_stock",
	[PX_BALANCE] = "balance",
	[PX_BIRTHDAY] = "birthday",
	[PX_FOLLOWUP] = "followup",
	[PX_WEEKLY] = "weekly",
};

/* The configuration key of each kind's template, and its default. */
static const char *const tmpl_keys[PX__COUNT] = {
	[PX_QUOTE_REMINDER] = "TEMPLATE_QUOTE_REMINDER",
	[PX_BACK_IN_STOCK] = "TEMPLATE_BACK_IN_STOCK",
	[PX_BALANCE] = "TEMPLATE_BALANCE",
	[PX_BIRTHDAY] = "TEMPLATE_BIRTHDAY",
	[PX_FOLLOWUP] = "TEMPLATE_FOLLOWUP",
	[PX_WEEKLY] = "TEMPLATE_WEEKLY",
};
static const char *const tmpl_defaults[PX__COUNT] = {
	[PX_QUOTE_REMINDER] = "recordatorio_presupuesto",
	[PX_FOLLOWUP] = "seguimiento_7dias",
};

static bool
marketing(enum proactive_kind k)
{
	return k == PX_BIRTHDAY || k == PX_FOLLOWUP || k == PX_WEEKLY;
}

const char *
proactive_kind_name(enum proactive_kind k)
{
	return (int)k >= 0 && k < PX__COUNT ? kind_names[k] : "?";
}

int
proactive_kind_parse(const char *name, enum proactive_kind *out)
{
	for (int k = 0; name != NULL && k < PX__COUNT; k++)
		if (strcmp(name, kind_names[k]) == 0) {
			*out = (enum proactive_kind)k;
			return OV_OK;
		}
	return OV_EINVAL;
}

/* A template name as Meta takes it: [a-z0-9_], 1..512. */
static bool
template_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 512)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
		    s[i] == '_'))
			return false;
	return true;
}

/* "H-H" or "H-H,7" (Sundays too); 0 <= from < to <= 24. */
static int
quiet_parse(const char *s, int *from, int *to, bool *sunday)
{
	char *end;
	long a, b;

	a = strtol(s, &end, 10);
	if (end == s || *end != '-')
		return OV_EINVAL;
	s = end + 1;
	b = strtol(s, &end, 10);
	if (end == s || a < 0 || b > 24 || a >= b)
		return OV_EINVAL;
	*sunday = false;
	if (*end == ',' && end[1] == '7' && end[2] == '\0')
		*sunday = true;
	else if (*end != '\0')
		return OV_EINVAL;
	*from = (int)a;
	*to = (int)b;
	return OV_OK;
}

int
proactive_init(struct proactive *px, const struct config *cfg,
    struct store *st, struct outbox *ob, char *err, size_t errlen)
{
	const char *v;

	memset(px, 0, sizeof(*px));
	px->st = st;
	px->ob = ob;
	for (int k = 0; k < PX__COUNT; k++) {
		v = config_get(cfg, tmpl_keys[k]);
		if (v == NULL)
			v = tmpl_defaults[k];
		if (v != NULL && (v[0] == '\0' || strcmp(v, "off") == 0))
			v = NULL;
		if (v != NULL && !template_name_ok(v)) {
			snprintf(err, errlen, "%s: not a template name ([a-z0-9_])",
			    tmpl_keys[k]);
			return OV_ECONFIG;
		}
		px->tmpl[k] = v;
	}
	v = config_get(cfg, "BALANCE_REMINDERS");
	if (px->tmpl[PX_BALANCE] != NULL && (v == NULL || strcmp(v, "1") != 0))
		px->tmpl[PX_BALANCE] = NULL;
	for (int k = 0; k < PX__COUNT; k++)
		if (px->tmpl[k] == NULL)
			log_info("%s messages are off (%s%s)", kind_names[k],
			    k == PX_BALANCE ? "BALANCE_REMINDERS=1 and " : "",
			    tmpl_keys[k]);
	px->lang = config_get(cfg, "TEMPLATE_LANG");
	if (px->lang == NULL || px->lang[0] == '\0')
		px->lang = "es_AR";
	px->birthday_offer = config_get(cfg, "BIRTHDAY_OFFER");
	if (px->birthday_offer != NULL && px->birthday_offer[0] == '\0')
		px->birthday_offer = NULL;
	px->weekly_question = config_get(cfg, "WEEKLY_QUESTION");
	if (px->weekly_question == NULL || px->weekly_question[0] == '\0')
		px->weekly_question = "¿Necesitás algo para esta semana?";
	v = config_get(cfg, "QUIET_HOURS");
	if (v == NULL)
		v = "9-20";
	if (quiet_parse(v, &px->quiet_from, &px->quiet_to, &px->quiet_sunday) !=
	    OV_OK) {
		snprintf(err, errlen, "QUIET_HOURS: expected hours like 9-20 "
		    "(Monday to Saturday) or 9-20,7 (Sundays too)");
		return OV_ECONFIG;
	}
	return OV_OK;
}

bool
proactive_quiet_ok(const struct proactive *px, int64_t now)
{
	time_t tt = (time_t)now;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return false;
	if (tm.tm_wday == 0 && !px->quiet_sunday)
		return false;
	return tm.tm_hour >= px->quiet_from && tm.tm_hour < px->quiet_to;
}

/* ---- one message ------------------------------------------------------ */

/* A message made, waiting for its batch's commit. */
struct queued {
	enum proactive_kind kind;
	char marker[STORE_MARKER_MAX + 1];
	char day[STORE_MARKER_MAX + 1];
	const char *markers[2];
	const char *how;             /* "text" or the template's name */
	char why[256];
	struct store_outbox e;
};

struct run {
	struct proactive *px;
	struct queued *batch;        /* BATCH of them */
	size_t nbatch;
	int64_t now;
	char today[16];              /* business day, YYYY-MM-DD */
	int64_t quiet_left;          /* seconds until the quiet hours end */
	struct proactive_stats *stats;
	/* Dry run: customers already given something in this run. */
	char (*given)[STORE_WAID_MAX + 1];
	size_t ngiven, capgiven;
};

struct msg {
	enum proactive_kind kind;
	const char *wa_id;
	const struct conv *conv;
	char object[STORE_MARKER_MAX - 32]; /* "<kind>:<object>": the marker */
	char why[256];
	const char *params[5];
	size_t nparams;
	char text[1024];                   /* the content inside the window */
	const char *btn_id[WA_BUTTONS_MAX];
	const char *btn_title[WA_BUTTONS_MAX];
	size_t nbuttons;
};

static bool
phone_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static void
listing(const struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
listing(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->px->list == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(r->px->list, fmt, ap);
	va_end(ap);
	fputc('\n', r->px->list);
}

static void
skip(struct run *r, const struct msg *m, const char *why)
{
	r->stats->skipped++;
	if (r->px->verbose || r->px->dry_run)
		listing(r, "skip %s to %s: %s (%s)", kind_names[m->kind], m->wa_id,
		    why, m->why);
}

static bool
given_has(const struct run *r, const char *wa_id)
{
	for (size_t i = 0; i < r->ngiven; i++)
		if (strcmp(r->given[i], wa_id) == 0)
			return true;
	return false;
}

static void
given_add(struct run *r, const char *wa_id)
{
	if (r->ngiven == r->capgiven) {
		size_t cap = r->capgiven == 0 ? 64 : r->capgiven * 2;
		void *p = realloc(r->given, cap * sizeof(*r->given));

		if (p == NULL)
			return;
		r->given = p;
		r->capgiven = cap;
	}
	snprintf(r->given[r->ngiven++], sizeof(r->given[0]), "%s", wa_id);
}

/* The payload: the text (with buttons) inside the window, else the
 * template with its parameters and button payloads. */
static cJSON *
payload_for(const struct run *r, const struct msg *m, bool window,
    const char *marker, const char **kind)
{
	cJSON *p = cJSON_CreateObject(), *arr;

	if (p == NULL)
		return NULL;
	if (window && m->nbuttons > 0) {
		*kind = "buttons";
		cJSON_AddStringToObject(p, "body", m->text);
		arr = cJSON_AddArrayToObject(p, "buttons");
		for (size_t i = 0; i < m->nbuttons && arr != NULL; i++) {
			cJSON *b = cJSON_CreateObject();

			cJSON_AddStringToObject(b, "id", m->btn_id[i]);
			cJSON_AddStringToObject(b, "title", m->btn_title[i]);
			cJSON_AddItemToArray(arr, b);
		}
	} else if (window) {
		*kind = "text";
		cJSON_AddStringToObject(p, "text", m->text);
	} else {
		*kind = "template";
		cJSON_AddStringToObject(p, "name", r->px->tmpl[m->kind]);
		cJSON_AddStringToObject(p, "language", r->px->lang);
		arr = cJSON_AddArrayToObject(p, "params");
		for (size_t i = 0; i < m->nparams && arr != NULL; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(m->params[i]));
		if (m->nbuttons > 0) {
			arr = cJSON_AddArrayToObject(p, "buttons");
			for (size_t i = 0; i < m->nbuttons && arr != NULL; i++)
				cJSON_AddItemToArray(arr,
				    cJSON_CreateString(m->btn_id[i]));
			/* The titles the approved template shows: a tap comes
			 * back as one of them (lib/bot.c maps it to its id). */
			arr = cJSON_AddArrayToObject(p, "titles");
			for (size_t i = 0; i < m->nbuttons && arr != NULL; i++)
				cJSON_AddItemToArray(arr,
				    cJSON_CreateString(m->btn_title[i]));
		}
		cJSON_AddStringToObject(p, "text", m->text);
	}
	cJSON_AddStringToObject(p, "marker", marker);
	/* It may go until the quiet hours end (the outbox drops it then). */
	cJSON_AddNumberToObject(p, "expires_in", (double)r->quiet_left);
	return p;
}

/* Template parameters may not hold newlines, tabs or 5 spaces in a row,
 * nor be empty: a name or topic is made safe here. */
static void
param_clean(char *s)
{
	size_t o = 0, spaces = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		char c = s[i] == '\n' || s[i] == '\t' || s[i] == '\r' ? ' ' : s[i];

		spaces = c == ' ' ? spaces + 1 : 0;
		if (spaces > 1)
			continue;
		s[o++] = c;
	}
	s[o] = '\0';
	while (o > 0 && s[o - 1] == ' ')
		s[--o] = '\0';
}

static int flush(struct run *r);

/* Decide, then queue for the batch's commit (or list) one message. */
static void
px_send(struct run *r, const struct msg *m)
{
	struct proactive *px = r->px;
	const struct conv *c = m->conv;
	char marker[STORE_MARKER_MAX + 1], day[STORE_MARKER_MAX + 1];
	const char *kind = NULL;
	struct queued *q;
	bool window, found = false;
	cJSON *p;
	int rc;

	if (px->tmpl[m->kind] == NULL)
		return;
	if (c->owner == CONV_OWNER_AGENT &&
	    (c->owner_until == 0 || c->owner_until > r->now)) {
		skip(r, m, "a salesperson holds the conversation");
		return;
	}
	if (c->last_inbound > r->now - PX_ACTIVE_S) {
		skip(r, m, "active in the last hour");
		return;
	}
	if (marketing(m->kind) && (c->profile.opted_out ||
	    c->profile.promo != CONV_PROMO_YES)) {
		skip(r, m, c->profile.opted_out ? "opted out" :
		    "no promo consent");
		return;
	}
	if (!phone_ok(m->wa_id)) {
		skip(r, m, "no phone number");
		return;
	}
	snprintf(marker, sizeof(marker), "%s:%s", kind_names[m->kind],
	    m->object);
	snprintf(day, sizeof(day), "day:%s:%s", m->wa_id, r->today);
	if ((rc = store_marker_get(px->st, marker, &found)) != OV_OK) {
		r->stats->errors++;
		return;
	}
	if (found)
		return;   /* sent before: nothing to say */
	window = c->last_inbound > r->now - PX_WINDOW_S;
	if (px->dry_run) {
		if (store_marker_get(px->st, day, &found) != OV_OK) {
			r->stats->errors++;
			return;
		}
		if (found || given_has(r, m->wa_id)) {
			skip(r, m, "already one today");
			return;
		}
		given_add(r, m->wa_id);
		r->stats->queued[m->kind]++;
		listing(r, "would send %s to %s as %s: %s", kind_names[m->kind],
		    m->wa_id, window ? "text (24-hour window open)" :
		    px->tmpl[m->kind], m->why);
		return;
	}
	if ((p = payload_for(r, m, window, marker, &kind)) == NULL) {
		r->stats->errors++;
		return;
	}
	q = &r->batch[r->nbatch];
	rc = outbox_entry(px->ob, m->wa_id, STORE_LANE_CAMPAIGN, kind, p, NULL,
	    &q->e);
	cJSON_Delete(p);
	if (rc != OV_OK) {
		log_error("%s to %s: cannot make the message: %s",
		    kind_names[m->kind], m->wa_id, ov_strerror(rc));
		r->stats->errors++;
		return;
	}
	q->kind = m->kind;
	memcpy(q->marker, marker, sizeof(marker));
	memcpy(q->day, day, sizeof(day));
	q->markers[0] = q->marker;
	q->markers[1] = q->day;
	q->how = window ? "text" : px->tmpl[m->kind];
	snprintf(q->why, sizeof(q->why), "%s", m->why);
	if (++r->nbatch == BATCH)
		flush(r);
}

/* Commit the messages made so far, each with its markers. */
static int
flush(struct run *r)
{
	struct store_proactive v[BATCH];
	int rc;

	if (r->nbatch == 0)
		return OV_OK;
	for (size_t i = 0; i < r->nbatch; i++) {
		v[i].markers = r->batch[i].markers;
		v[i].nmarkers = 2;
		v[i].entry = &r->batch[i].e;
		v[i].rc = OV_ESTORE;
	}
	rc = store_proactive_commit_batch(r->px->st, v, r->nbatch, r->now);
	for (size_t i = 0; i < r->nbatch; i++) {
		struct queued *q = &r->batch[i];

		if (v[i].rc == OV_OK) {
			r->stats->queued[q->kind]++;
			log_info("%s queued for %s as %s: %s",
			    kind_names[q->kind], q->e.wa_id, q->how, q->why);
			if (r->px->verbose)
				listing(r, "queued %s to %s as %s: %s",
				    kind_names[q->kind], q->e.wa_id, q->how,
				    q->why);
		} else if (v[i].rc == OV_EEXIST) {
			r->stats->skipped++;
			if (r->px->verbose)
				listing(r, "skip %s to %s: already one today (%s)",
				    kind_names[q->kind], q->e.wa_id, q->why);
		} else {
			log_error("%s to %s: not queued: %s", kind_names[q->kind],
			    q->e.wa_id, ov_strerror(v[i].rc));
			r->stats->errors++;
		}
		store_outbox_clear(&q->e);
	}
	r->nbatch = 0;
	return rc;
}

/* The customer's name for a greeting: the account's, else WhatsApp's
 * (as the clientes record keeps it), else "cliente". */
static void
name_of(struct run *r, const char *wa_id, const struct conv *c, char *buf,
    size_t len)
{
	struct store_customer cust;
	bool found = false;

	buf[0] = '\0';
	if (c->razon[0] != '\0' && c->cuit_verified)
		snprintf(buf, len, "%s", c->razon);
	else if (store_customer_get(r->px->st, wa_id, &cust, &found) == OV_OK &&
	    found) {
		if (cust.name != NULL)
			snprintf(buf, len, "%s", cust.name);
		store_customer_clear(&cust);
	}
	param_clean(buf);
	if (buf[0] == '\0')
		snprintf(buf, len, "cliente");
}

static int
conv_of(struct store *st, const char *wa_id, struct conv *c)
{
	struct store_conv rec;
	bool found = false;
	int rc;

	conv_init(c, wa_id);
	if ((rc = store_conv_get(st, wa_id, &rec, &found)) != OV_OK)
		return rc;
	if (found)
		rc = conv_from_store(&rec, c);
	store_conv_clear(&rec);
	return rc;
}

/* ---- quote reminders -------------------------------------------------- */

static void
one_reminder(struct run *r, const struct store_quote *rec)
{
	struct quote q;
	struct conv c;
	struct msg m;
	char name[NAME_MAX_BYTES], number[24], days[24];
	char confirm[64], renew[64];
	int64_t left = rec->expires_at - r->now;

	if (conv_of(r->px->st, rec->wa_id, &c) != OV_OK) {
		r->stats->errors++;
		return;
	}
	quote_init(&q);
	if (quote_from_record(rec, &q) == OV_OK && q.customer.name[0] != '\0' &&
	    strcmp(q.customer.name, "Cliente") != 0) {
		snprintf(name, sizeof(name), "%s", q.customer.name);
		param_clean(name);
	} else {
		name_of(r, rec->wa_id, &c, name, sizeof(name));
	}
	quote_clear(&q);
	memset(&m, 0, sizeof(m));
	m.kind = PX_QUOTE_REMINDER;
	m.wa_id = rec->wa_id;
	m.conv = &c;
	snprintf(m.object, sizeof(m.object), "%s", rec->id);
	snprintf(number, sizeof(number), "%" PRId64, rec->number);
	snprintf(days, sizeof(days), "%" PRId64, (left + 86399) / 86400);
	snprintf(m.why, sizeof(m.why), "quote %s expires in %s days", number,
	    days);
	m.params[0] = name;
	m.params[1] = number;
	m.params[2] = days;
	m.nparams = 3;
	snprintf(m.text, sizeof(m.text), T_PX_REMINDER, name, number, days);
	snprintf(confirm, sizeof(confirm), "rq:confirm:%s", rec->id);
	snprintf(renew, sizeof(renew), "rq:renew:%s", rec->id);
	m.btn_id[0] = confirm;
	m.btn_title[0] = T_BTN_CONFIRM;
	m.btn_id[1] = renew;
	m.btn_title[1] = T_BTN_RENEW;
	m.nbuttons = 2;
	px_send(r, &m);
}

/* Pending quotes with 1 to 3 days of validity left (at least an hour). */
static int
quote_reminders(struct run *r)
{
	struct store_quote *v = NULL;
	char after[40] = "";
	size_t n;
	int rc;

	do {
		rc = store_quote_scan_expiring(r->px->st,
		    "pendiente_confirmacion", r->now + 3600, r->now + 3 * 86400 +
		    1, after, PAGE, &v, &n);
		if (rc != OV_OK)
			return rc;
		for (size_t i = 0; i < n; i++)
			one_reminder(r, &v[i]);
		if (n > 0)
			snprintf(after, sizeof(after), "%s", v[n - 1].id);
		store_quotes_free(v, n);
	} while (n == PAGE);
	return OV_OK;
}

/* ---- back in stock ---------------------------------------------------- */

static void
one_demand(struct run *r, const struct store_demand *d)
{
	struct bot_product p;
	struct conv c;
	struct msg m;
	char name[NAME_MAX_BYTES], price[64], want[48];
	char product[QUOTE_ITEM_NAME_MAX + 1];
	bool found = false;

	if (d->asked_at < r->now - PX_DEMAND_DAYS * 86400) {
		if (!r->px->dry_run)
			store_demand_delete(r->px->st, d->wa_id, d->product_id);
		return;
	}
	if (bot_catalog_get(r->px->st, d->product_id, &p, &found) != OV_OK) {
		r->stats->errors++;
		return;
	}
	if (!found || p.stock <= 0)
		return;   /* not yet */
	if (conv_of(r->px->st, d->wa_id, &c) != OV_OK) {
		r->stats->errors++;
		return;
	}
	name_of(r, d->wa_id, &c, name, sizeof(name));
	fmt_price(&p, price, sizeof(price));
	snprintf(product, sizeof(product), "%s", p.name);
	param_clean(product);
	memset(&m, 0, sizeof(m));
	m.kind = PX_BACK_IN_STOCK;
	m.wa_id = d->wa_id;
	m.conv = &c;
	snprintf(m.object, sizeof(m.object), "%s:%" PRId64 ":%" PRId64,
	    d->wa_id, d->product_id, d->asked_at);
	snprintf(m.why, sizeof(m.why), "asked for product %" PRId64
	    " without stock; %" PRId64 " in stock now", d->product_id, p.stock);
	m.params[0] = name;
	m.params[1] = product;
	m.params[2] = price;
	m.nparams = 3;
	snprintf(m.text, sizeof(m.text), T_PX_BACK_IN_STOCK, name, product,
	    price);
	snprintf(want, sizeof(want), "cart:add:%" PRId64, d->product_id);
	m.btn_id[0] = want;
	m.btn_title[0] = T_BTN_WANT;
	m.nbuttons = 1;
	px_send(r, &m);
	if (!r->px->dry_run && flush(r) == OV_OK) {
		bool sent = false;
		char marker[STORE_MARKER_MAX + 1];

		/* Once its notice stands, the demand is done. */
		snprintf(marker, sizeof(marker), "%s:%s", kind_names[m.kind],
		    m.object);
		if (store_marker_get(r->px->st, marker, &sent) == OV_OK && sent)
			store_demand_delete(r->px->st, d->wa_id, d->product_id);
	}
}

static int
back_in_stock(struct run *r)
{
	struct store_demand *v = NULL, after;
	size_t n;
	int rc;
	bool first = true;

	do {
		rc = store_demand_scan(r->px->st, first ? NULL : &after, PAGE,
		    &v, &n);
		if (rc != OV_OK)
			return rc;
		for (size_t i = 0; i < n; i++)
			one_demand(r, &v[i]);
		if (n > 0)
			after = v[n - 1];
		first = false;
		free(v);
	} while (n == PAGE);
	return OV_OK;
}

/* ---- per conversation: birthday, follow-up, weekly -------------------- */

/* FNV-1a of the topic, as the follow-up's object: once per topic. */
static uint64_t
topic_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)tolower((unsigned char)*s);
		h *= 1099511628211ULL;
	}
	return h;
}

/* ---- balance reminders ------------------------------------------------ */

/* Midnight (business time) of "YYYY-MM-DD" plus days; -1 when malformed. */
static int64_t
day_start(const char *ymd, long days)
{
	struct tm tm;
	char *end;
	long y, m, d;

	memset(&tm, 0, sizeof(tm));
	y = strtol(ymd, &end, 10);
	if (end != ymd + 4 || *end != '-')
		return -1;
	m = strtol(end + 1, &end, 10);
	if (*end != '-')
		return -1;
	d = strtol(end + 1, &end, 10);
	if (y < 2000 || y > 2100 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)(d + days);
	tm.tm_hour = 12;   /* noon: a day's length never moves it */
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) - 12 * 3600;
}

/*
 * Invoices on current account still owed: three days before their term
 * (the customer's plazo), the day it ends, and a week after; once per
 * invoice and level. Only to a number that is that Cianbox customer's
 * (verified), never to a stranger who typed a CUIT.
 */
static void
balance_of(struct run *r, const struct conv *c, const struct tm *tm)
{
	struct proactive *px = r->px;
	struct store_customer cust;
	struct cianbox_cliente cli;
	struct cianbox_venta v[10];
	char name[NAME_MAX_BYTES], doc[64], when[64], amount[48], pay[512];
	char date[16];
	struct tm today = *tm;
	int64_t midnight;
	bool found = false;
	size_t n = 0;

	if (store_customer_get(px->st, c->key, &cust, &found) != OV_OK ||
	    !found)
		return;
	found = cust.cianbox_id > 0 && cust.verified;
	if (found)
		found = customer_client_get(px->st, cust.cianbox_id, &cli,
		    &found) == OV_OK && found && cli.ctacte && cli.saldo > 0.004 &&
		    cli.numero_documento[0] != '\0';
	store_customer_clear(&cust);
	if (!found)
		return;
	if (cianbox_ventas_recent(px->cb, cli.numero_documento, 10, v, &n) !=
	    OV_OK) {
		log_warn("balance of %s: %s", c->key, cianbox_last_error(px->cb));
		r->stats->errors++;
		return;
	}
	today.tm_hour = 12;
	today.tm_min = today.tm_sec = 0;
	today.tm_isdst = -1;
	midnight = (int64_t)mktime(&today) - 12 * 3600;
	if (px->biz == NULL || business_answer(px->biz, BUSINESS_PAYMENT, pay,
	    sizeof(pay)) != OV_OK)
		snprintf(pay, sizeof(pay), "Cualquier consulta, escribinos.");
	param_clean(pay);
	for (size_t i = 0; i < n; i++) {
		int64_t due = day_start(v[i].fecha, (long)cli.plazo);
		long days;
		const char *level;
		struct msg m;

		if (!v[i].cta_cte || v[i].anulado || !v[i].vigente || due < 0 ||
		    (v[i].has_saldo && v[i].saldo <= 0.004))
			continue;
		days = lround((double)(midnight - due) / 86400.0);
		if (days >= -3 && days <= -1)
			level = "antes";
		else if (days == 0)
			level = "vence";
		else if (days >= 7 && days <= 13)
			level = "vencida";
		else
			continue;
		quote_format_date(due, date, sizeof(date));
		if (days < 0)
			snprintf(when, sizeof(when), "vence el %s", date);
		else if (days == 0)
			snprintf(when, sizeof(when), "vence hoy");
		else
			snprintf(when, sizeof(when), "venció el %s", date);
		snprintf(doc, sizeof(doc), "%s%s%s-%s", v[i].tipo,
		    v[i].tipo[0] ? " " : "", v[i].punto_venta, v[i].numero);
		fmt_money((int64_t)((v[i].has_saldo ? v[i].saldo : v[i].total) *
		    100.0 + 0.5), amount, sizeof(amount));
		if (v[i].id_moneda == 1) {
			char num[40];

			if (quote_format_cents((int64_t)((v[i].has_saldo ?
			    v[i].saldo : v[i].total) * 100.0 + 0.5), num,
			    sizeof(num)) == OV_OK)
				snprintf(amount, sizeof(amount), "$ %s", num);
		}
		name_of(r, c->key, c, name, sizeof(name));
		memset(&m, 0, sizeof(m));
		m.kind = PX_BALANCE;
		m.wa_id = c->key;
		m.conv = c;
		snprintf(m.object, sizeof(m.object), "%" PRId64 ":%s", v[i].id,
		    level);
		snprintf(m.why, sizeof(m.why), "invoice %s of %s %s (%s)", doc,
		    amount, when, level);
		m.params[0] = name;
		m.params[1] = doc;
		m.params[2] = amount;
		m.params[3] = when;
		m.params[4] = pay;
		m.nparams = 5;
		snprintf(m.text, sizeof(m.text), T_PX_BALANCE, name, doc, amount,
		    when, pay);
		px_send(r, &m);
	}
}

static void
one_conv(struct run *r, const struct conv *c, const struct tm *tm)
{
	struct proactive *px = r->px;
	char name[NAME_MAX_BYTES] = "", mmdd[16], topic[CONV_TOPIC_MAX + 1];
	struct msg m;

	if (px->tmpl[PX_BALANCE] != NULL && px->cb != NULL)
		balance_of(r, c, tm);
	/* Birthday: its day, from 09:00 business time, once a year. */
	snprintf(mmdd, sizeof(mmdd), "%02d-%02d", tm->tm_mon + 1, tm->tm_mday);
	if (px->tmpl[PX_BIRTHDAY] != NULL &&
	    strcmp(c->profile.birthday, mmdd) == 0 && tm->tm_hour >= 9) {
		name_of(r, c->key, c, name, sizeof(name));
		memset(&m, 0, sizeof(m));
		m.kind = PX_BIRTHDAY;
		m.wa_id = c->key;
		m.conv = c;
		snprintf(m.object, sizeof(m.object), "%s:%04d", c->key,
		    tm->tm_year + 1900);
		snprintf(m.why, sizeof(m.why), "birthday %s", c->profile.birthday);
		m.params[0] = name;
		m.nparams = 1;
		if (px->birthday_offer != NULL)
			m.params[m.nparams++] = px->birthday_offer;
		snprintf(m.text, sizeof(m.text), T_PX_BIRTHDAY, name);
		if (px->birthday_offer != NULL) {
			size_t l = strlen(m.text);

			snprintf(m.text + l, sizeof(m.text) - l, " %s",
			    px->birthday_offer);
		}
		px_send(r, &m);
	}
	/* Follow-up: a product conversation quiet for 7 days (not 14). */
	if (px->tmpl[PX_FOLLOWUP] != NULL && c->topic[0] != '\0' &&
	    c->last_inbound <= r->now - PX_FOLLOWUP_DAYS * 86400 &&
	    c->last_inbound > r->now - 2 * PX_FOLLOWUP_DAYS * 86400) {
		if (name[0] == '\0')
			name_of(r, c->key, c, name, sizeof(name));
		snprintf(topic, sizeof(topic), "%s", c->topic);
		param_clean(topic);
		memset(&m, 0, sizeof(m));
		m.kind = PX_FOLLOWUP;
		m.wa_id = c->key;
		m.conv = c;
		snprintf(m.object, sizeof(m.object), "%s:%016" PRIx64, c->key,
		    topic_hash(c->topic));
		snprintf(m.why, sizeof(m.why), "talked about \"%.120s\" 7 days "
		    "ago, no confirmed quote", topic);
		m.params[0] = name;
		m.params[1] = topic[0] != '\0' ? topic : "lo que buscabas";
		m.nparams = 2;
		snprintf(m.text, sizeof(m.text), T_PX_FOLLOWUP, name, m.params[1]);
		px_send(r, &m);
	}
	/* Weekly greeting: Mondays, customers active in the last 30 days. */
	if (px->tmpl[PX_WEEKLY] != NULL && tm->tm_wday == 1 &&
	    c->last_inbound > r->now - 30 * 86400) {
		char week[16];

		if (name[0] == '\0')
			name_of(r, c->key, c, name, sizeof(name));
		strftime(week, sizeof(week), "%G-W%V", tm);
		memset(&m, 0, sizeof(m));
		m.kind = PX_WEEKLY;
		m.wa_id = c->key;
		m.conv = c;
		snprintf(m.object, sizeof(m.object), "%s:%s", c->key, week);
		snprintf(m.why, sizeof(m.why), "weekly greeting %s", week);
		m.params[0] = name;
		m.params[1] = px->weekly_question;
		m.nparams = 2;
		snprintf(m.text, sizeof(m.text), T_PX_WEEKLY, name,
		    px->weekly_question);
		px_send(r, &m);
	}
}

static int
conversations(struct run *r)
{
	struct store_conv *v = NULL;
	char after[STORE_WAID_MAX + 1] = "";
	time_t tt = (time_t)r->now;
	struct tm tm;
	struct conv *c;
	size_t n;
	int rc;

	if (localtime_r(&tt, &tm) == NULL)
		return OV_EINVAL;
	if ((c = malloc(sizeof(*c))) == NULL)
		return OV_ENOMEM;
	do {
		if ((rc = store_conv_scan(r->px->st, after, PAGE, &v, &n)) !=
		    OV_OK)
			break;
		for (size_t i = 0; i < n; i++) {
			if (conv_from_store(&v[i], c) != OV_OK) {
				r->stats->errors++;
				continue;
			}
			one_conv(r, c, &tm);
		}
		if (n > 0)
			snprintf(after, sizeof(after), "%s", v[n - 1].key);
		store_convs_free(v, n);
	} while (n == PAGE);
	free(c);
	return rc;
}

/* ---- the pass --------------------------------------------------------- */

static bool
wanted(const struct proactive *px, enum proactive_kind k)
{
	bool any = false;

	for (int i = 0; i < PX__COUNT; i++)
		any = any || px->only[i];
	return px->tmpl[k] != NULL && (!any || px->only[k]);
}

int
proactive_run(struct proactive *px, int64_t now,
    struct proactive_stats *stats)
{
	struct run r;
	const char *saved[PX__COUNT];
	time_t tt = (time_t)now;
	struct tm tm;
	int rc = OV_OK;

	memset(stats, 0, sizeof(*stats));
	memset(&r, 0, sizeof(r));
	r.px = px;
	r.now = now;
	r.stats = stats;
	if (localtime_r(&tt, &tm) == NULL)
		return OV_EINVAL;
	strftime(r.today, sizeof(r.today), "%Y-%m-%d", &tm);
	r.quiet_left = ((int64_t)px->quiet_to - tm.tm_hour) * 3600 -
	    tm.tm_min * 60 - tm.tm_sec;
	if (!proactive_quiet_ok(px, now)) {
		log_info("outside the quiet hours (%d-%d%s, business time): "
		    "nothing sent", px->quiet_from, px->quiet_to,
		    px->quiet_sunday ? ", Sundays too" : ", Monday to Saturday");
		listing(&r, "outside the quiet hours: nothing %s",
		    px->dry_run ? "would be sent" : "sent");
		return OV_OK;
	}
	if ((r.batch = calloc(BATCH, sizeof(*r.batch))) == NULL)
		return OV_ENOMEM;
	/* --only: the other kinds are off for this pass. */
	for (int k = 0; k < PX__COUNT; k++) {
		saved[k] = px->tmpl[k];
		if (!wanted(px, (enum proactive_kind)k))
			px->tmpl[k] = NULL;
	}
	/* Utility first: with one message a day, a reminder of a quote
	 * about to expire matters more than a greeting. */
	if (px->tmpl[PX_QUOTE_REMINDER] != NULL)
		rc = quote_reminders(&r);
	if (rc == OV_OK && px->tmpl[PX_BACK_IN_STOCK] != NULL)
		rc = back_in_stock(&r);
	if (px->tmpl[PX_BALANCE] != NULL && px->cb == NULL) {
		log_warn("balance reminders need Cianbox (CIANBOX_ACCOUNT...): "
		    "none sent");
		px->tmpl[PX_BALANCE] = NULL;
	}
	if (rc == OV_OK && (px->tmpl[PX_BALANCE] != NULL ||
	    px->tmpl[PX_BIRTHDAY] != NULL ||
	    px->tmpl[PX_FOLLOWUP] != NULL || px->tmpl[PX_WEEKLY] != NULL))
		rc = conversations(&r);
	if (flush(&r) != OV_OK && rc == OV_OK)
		rc = OV_ESTORE;
	for (int k = 0; k < PX__COUNT; k++)
		px->tmpl[k] = saved[k];
	free(r.given);
	free(r.batch);
	return rc;
}
