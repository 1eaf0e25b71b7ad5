/*
 * bot.c - one conversation turn, composed (see bot.h and turn.h):
 *
 *   lease -> identify -> load the conversation -> decide (lib/decide:
 *   model tools or rules, both through lib/actions) -> greet -> join
 *   replies -> commit (state, replies into the outbox, messages handled:
 *   one store transaction) -> send (lib/outbox) -> e-mail notices.
 *
 * Nothing reaches the customer before the commit: a crash before it
 * replays the turn with nothing sent; after it, the outbox sends each
 * reply once (a replayed turn finds its id committed and sends nothing
 * new).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bot.h"
#include "business.h"
#include "cianbox.h"
#include "clock.h"
#include "config.h"
#include "contact.h"
#include "conv.h"
#include "copy_es.h"
#include "decide.h"
#include "enrich.h"
#include "err.h"
#include "llm.h"
#include "log.h"
#include "mail.h"
#include "outbox.h"
#include "quote.h"
#include "quote_pdf.h"
#include "rules.h"
#include "sha256.h"
#include "store.h"
#include "transcribe.h"
#include "turn.h"
#include "utf8.h"
#include "wa_payload.h"
#include "whatsapp.h"

#define TURN_LEASE_S 120          /* one turn must end by then */
#define IDS_MAX 64

/*
 * Test hook: OVIDIO_CRASH_AT names a step ("before_commit",
 * "after_commit", "mid_send") where the process kills itself, so the
 * crash tests can prove that a replay sends every reply exactly once.
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

/*
 * A lease held by a process of this host that is gone (killed mid-turn)
 * is taken at once rather than after its expiry: its turn was never
 * committed, and the customer waits for this one. Taking it is a
 * compare-and-set against the dead holder's expiry, so of two processes
 * doing this only one gets it.
 */
static int
take_from_the_dead(struct bot *b, const char *key, int64_t now, bool *got)
{
	struct store_conv sc;
	bool found = false;
	size_t hl = strcspn(b->holder, ":");
	const char *pid_s;
	char *end;
	long pid;
	int rc;

	*got = false;
	memset(&sc, 0, sizeof(sc));
	if ((rc = store_conv_get(b->st, key, &sc, &found)) != OV_OK || !found)
		goto out;
	/* Same host ("host:pid"), and that pid is no more. */
	if (strncmp(sc.lease_holder, b->holder, hl + 1) != 0)
		goto out;
	pid_s = sc.lease_holder + hl + 1;
	pid = strtol(pid_s, &end, 10);
	if (*pid_s == '\0' || *end != '\0' || pid <= 0 ||
	    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		goto out;
	log_warn("%s: the turn of process %ld (gone) is taken over", key,
	    pid);
	rc = store_conv_lease(b->st, key, b->holder, sc.lease_until,
	    now + TURN_LEASE_S, got);
out:
	store_conv_clear(&sc);
	return rc;
}

/* Meta accepted a reply; a quote's PDF makes the quote sent. */
static void
on_sent(void *arg, const char *wa_id, const char *kind, const cJSON *payload,
    const char *wamid)
{
	struct bot *b = arg;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, "quote_id");
	struct store_quote rec;
	struct quote q;
	bool found = false;

	(void)wamid;
	if (strcmp(kind, "pdf") != 0 || !cJSON_IsString(v))
		goto out_crash;
	quote_init(&q);
	if (store_quote_get(b->st, v->valuestring, &rec, &found) != OV_OK ||
	    !found)
		goto out;
	if (quote_from_record(&rec, &q) != OV_OK) {
		store_quote_clear(&rec);
		goto out;
	}
	store_quote_clear(&rec);
	if (q.state == QUOTE_SENT)
		goto out;
	if (quote_set_state(b->st, &q, QUOTE_SENT) != OV_OK) {
		log_error("quote %lld: cannot mark sent", (long long)q.number);
		goto out;
	}
	log_info("quote %lld sent to %s", (long long)q.number, wa_id);
	notify_quote_sent(b, &q, wa_id);
out:
	quote_clear(&q);
out_crash:
	/* A reply is out and recorded: the test hook between two sends. */
	crash_point("mid_send");
}

/* ---- the turn's parts ------------------------------------------------ */

static void
first_name_of(const char *name, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	if (name == NULL)
		return;
	while (*name == ' ')
		name++;
	while (name[n] != '\0' && name[n] != ' ' && n + 1 < len)
		n++;
	memcpy(out, name, n);
	out[n] = '\0';
	/* Only letters make a name worth saying ("🔥🔥" is not). */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x80 && !((out[i] >= 'A' &&
		    out[i] <= 'Z') || (out[i] >= 'a' && out[i] <= 'z') ||
		    out[i] == '\'' || out[i] == '-')) {
			out[0] = '\0';
			return;
		}
}

/* One greeting a day, short; who we are on the first contact ever. */
static void
greet(struct turn *t)
{
	char hello[96], lead[512];
	bool first = !t->conv.introduced;

	if (strcmp(t->conv.greeted_day, t->today) == 0 && !first)
		return;
	if (t->first_name[0] != '\0')
		snprintf(hello, sizeof(hello), T_HELLO_NAME, t->first_name);
	else
		snprintf(hello, sizeof(hello), T_HELLO);
	if (first)
		snprintf(lead, sizeof(lead), T_INTRO, hello, t->b->business);
	else
		snprintf(lead, sizeof(lead), "%s", hello);
	reply_prefix(t, lead);
	t->conv.introduced = true;
	utf8_copy(t->conv.greeted_day, sizeof(t->conv.greeted_day), t->today);
}

/*
 * A tap on a template's quick-reply button comes back as its title and
 * the id of the message it answers (no payload of ours: see
 * lib/whatsapp.c). The message we sent holds the buttons' ids and titles:
 * the title tapped gives the id. NULL when it cannot be told.
 */
static const char *
template_tap(struct turn *t, const struct wa_message *m, char *out,
    size_t len)
{
	struct store_msg sent;
	const cJSON *ids, *titles;
	cJSON *raw = NULL;
	const char *id = NULL;
	bool found = false;
	int i = 0;

	if (m->context_id == NULL || m->text == NULL ||
	    store_msg_get(t->b->st, m->context_id, &sent, &found) != OV_OK ||
	    !found)
		return NULL;
	if (sent.dir == STORE_OUT && strcmp(sent.wa_id, t->wa_id) == 0 &&
	    sent.raw != NULL)
		raw = cJSON_Parse(sent.raw);
	store_msg_clear(&sent);
	ids = cJSON_GetObjectItemCaseSensitive(raw, "buttons");
	titles = cJSON_GetObjectItemCaseSensitive(raw, "titles");
	for (const cJSON *tl = titles != NULL ? titles->child : NULL; tl != NULL;
	    tl = tl->next, i++) {
		const cJSON *v = cJSON_GetArrayItem(ids, i);

		if (cJSON_IsString(tl) && cJSON_IsString(v) &&
		    strcasecmp(tl->valuestring, m->text) == 0) {
			utf8_copy(out, len, v->valuestring);
			id = out;
			break;
		}
	}
	cJSON_Delete(raw);
	return id;
}

/* The turn's words from its messages; kinds without words noted. */
static bool
gather(struct turn *t, const struct wa_message *const *msgs, size_t n)
{
	size_t len = 0;
	bool any = false;

	t->text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct wa_message *m = msgs[i];
		const char *words = NULL;

		switch (m->kind) {
		case WA_TEXT:
		case WA_IMAGE:
		case WA_DOCUMENT:
			words = m->text;
			if (words == NULL)
				t->unsupported = t->picture = true;
			break;
		case WA_BUTTON_REPLY:
		case WA_LIST_REPLY:
		case WA_BUTTON:
			words = m->text;
			any = true;
			break;
		case WA_REACTION:
		case WA_SYSTEM:
			break;   /* a thumbs-up, a number change: no answer */
		default:
			t->unsupported = true;
			break;
		}
		if (((words != NULL && words[0] != '\0') ||
		    (m->reply_id != NULL && m->kind != WA_REACTION)) &&
		    t->nparts < TURN_PARTS_MAX) {
			const char *tap = m->kind == WA_BUTTON ? template_tap(t,
			    m, t->part_tap[t->nparts],
			    sizeof(t->part_tap[0])) : NULL;

			t->part_text[t->nparts] = words;
			t->part_id[t->nparts] = tap != NULL ? tap :
			    m->kind == WA_REACTION ? NULL : m->reply_id;
			t->nparts++;
		}
		if (words == NULL || words[0] == '\0')
			continue;
		any = true;
		if (len > 0 && len + 1 < sizeof(t->text))
			t->text[len++] = '\n';
		snprintf(t->text + len, sizeof(t->text) - len, "%s", words);
		len = strlen(t->text);
	}
	return any;
}

/* Who is writing: the linked customer, else the synced clients by phone
 * (lib/customer links and verifies). */
static int
identify(struct turn *t, const struct wa_message *last)
{
	int rc;

	if (t->hold) {
		/* A number change left the Cianbox link behind: nobody by
		 * phone until a person sorts it out. */
		log_info("%s: account data withheld after a number change",
		    t->wa_id);
		memset(&t->identity, 0, sizeof(t->identity));
		rc = OV_OK;
	} else {
		rc = customer_identify(t->b->st, t->b->cb, t->wa_id,
		    &t->identity);
	}
	if (rc != OV_OK) {
		log_warn("cannot identify %s: %s", t->wa_id, ov_strerror(rc));
		memset(&t->identity, 0, sizeof(t->identity));
	} else if (t->identity.how == CUSTOMER_BY_PHONE) {
		log_info("%s identified by phone as Cianbox customer %lld",
		    t->wa_id, (long long)t->identity.cianbox_id);
	}
	rc = store_customer_get(t->b->st, t->wa_id, &t->cust, &(bool){false});
	if (rc != OV_OK)
		return rc;
	if (t->identity.have_client && t->identity.linked) {
		t->cust.cianbox_id = t->identity.cianbox_id;
		t->cust.verified = t->identity.verified;
	}
	snprintf(t->profile_name, sizeof(t->profile_name), "%s",
	    last->profile_name != NULL ? last->profile_name : "");
	first_name_of(t->cust.name != NULL ? t->cust.name : last->profile_name,
	    t->first_name, sizeof(t->first_name));
	return OV_OK;
}

/* The conversation record; v1's profile JSON when there is none yet. */
static int
load_conv(struct turn *t)
{
	struct store_conv sc;
	bool found = false;
	int rc;

	memset(&sc, 0, sizeof(sc));
	if ((rc = store_conv_get(t->b->st, t->wa_id, &sc, &found)) != OV_OK)
		return rc;
	if (found && sc.doc != NULL && strcmp(sc.doc, "{}") != 0)
		rc = conv_from_store(&sc, &t->conv);
	else
		rc = conv_from_profile(t->wa_id, t->cust.profile, &t->conv);
	store_conv_clear(&sc);
	if (rc != OV_OK)
		return rc;
	if (t->identity.have_client && t->identity.verified)
		utf8_copy(t->conv.razon, sizeof(t->conv.razon),
		    t->identity.client.razon);
	return OV_OK;
}

/* Blue ticks and "typing…": nice to have, so one quick try only. */
static void
mark_read(struct bot *b, const char *id)
{
	int attempts = b->wa.max_attempts;
	long budget = b->wa.budget_ms;

	b->wa.max_attempts = 1;
	b->wa.budget_ms = 3000;
	wa_mark_read(&b->wa, id, true, NULL);
	b->wa.max_attempts = attempts;
	b->wa.budget_ms = budget;
}

/* Outbox ids of a turn: short (the store's bound) and the same on a
 * replay, so a replayed commit cannot queue a reply twice. */
static void
entry_id(const char *turn_id, size_t i, char *out, size_t len)
{
	uint8_t h[SHA256_DIGEST_LEN];
	char hex[33];

	sha256(turn_id, strlen(turn_id), h);
	for (size_t k = 0; k < 16; k++)
		snprintf(hex + 2 * k, 3, "%02x", h[k]);
	snprintf(out, len, "t%s#%zu", hex, i);
}

/* State, replies and handled marks in one transaction. */
static int
commit(struct turn *t, const struct wa_message *const *msgs, size_t n)
{
	struct store_outbox entries[TURN_REPLIES_MAX];
	const char *ids[IDS_MAX];
	struct store_conv sc;
	struct store_turn st;
	size_t k = 0;
	int rc;

	memset(&sc, 0, sizeof(sc));
	memset(entries, 0, sizeof(entries));
	for (size_t i = 0; i < n && i < IDS_MAX; i++)
		ids[i] = msgs[i]->id;
	if ((rc = conv_to_store(&t->conv, &sc)) != OV_OK)
		goto out;
	for (; k < t->nreplies; k++) {
		char id[STORE_OUTBOX_ID_MAX + 1];

		entry_id(msgs[0]->id, k, id, sizeof(id));
		rc = outbox_entry(&t->b->ob, t->wa_id, STORE_LANE_REPLY,
		    t->replies[k].kind, t->replies[k].payload, id, &entries[k]);
		if (rc != OV_OK) {
			log_error("reply %zu to %s is malformed: %s", k, t->wa_id,
			    ov_strerror(rc));
			goto out;
		}
	}
	memset(&st, 0, sizeof(st));
	st.id = msgs[0]->id;
	st.conv = &sc;
	st.replies = entries;
	st.nreplies = k;
	st.msg_ids = ids;
	st.nmsgs = n < IDS_MAX ? n : IDS_MAX;
	st.now = t->now;
	crash_point("before_commit");
	rc = store_turn_commit(t->b->st, &st);
	if (rc == OV_EEXIST) {
		log_info("turn %s of %s was committed before; sending what it "
		    "left", msgs[0]->id, t->wa_id);
		notices_free(t);   /* they went with the first commit */
		rc = OV_OK;
	} else if (rc != OV_OK) {
		log_error("cannot commit the turn of %s: %s", t->wa_id,
		    ov_strerror(rc));
	}
out:
	for (size_t i = 0; i < k; i++)
		store_outbox_clear(&entries[i]);
	store_conv_clear(&sc);
	return rc;
}

int
bot_turn(struct bot *b, const struct wa_message *const *msgs, size_t n)
{
	struct turn t;
	struct enrich en;
	const char *ids[IDS_MAX];
	struct tm tm;
	time_t now;
	bool got = false, words;
	size_t sent = 0, left = 0;
	int rc;

	if (n == 0)
		return OV_OK;
	memset(&t, 0, sizeof(t));
	memset(&en, 0, sizeof(en));
	t.b = b;
	t.now = clock_now();
	/* Whom it is for: phone or BSUID, joined, changes followed. */
	{
		struct contact_who who;

		if ((rc = contact_resolve(b->st, msgs, n, t.now, &who)) !=
		    OV_OK) {
			log_error("cannot tell whom messages from %s are for: "
			    "%s", msgs[0]->from, ov_strerror(rc));
			return rc;
		}
		memcpy(t.key, who.key, sizeof(t.key));
		t.hold = who.hold;
	}
	t.wa_id = t.key;
	now = (time_t)t.now;
	localtime_r(&now, &tm);
	strftime(t.today, sizeof(t.today), "%Y-%m-%d", &tm);
	for (size_t i = 0; i < n && i < IDS_MAX; i++)
		ids[i] = msgs[i]->id;

	/* One turn per customer at a time, on every web node. */
	rc = store_conv_lease(b->st, t.wa_id, b->holder, t.now,
	    t.now + TURN_LEASE_S, &got);
	if (rc == OV_OK && !got)
		rc = take_from_the_dead(b, t.wa_id, t.now, &got);
	if (rc == OV_OK && !got)
		rc = OV_EBUSY;
	if (rc != OV_OK) {
		log_info("%s: another process holds the conversation (%s)",
		    t.wa_id, ov_strerror(rc));
		return rc;
	}
	if ((rc = identify(&t, msgs[n - 1])) != OV_OK ||
	    (rc = load_conv(&t)) != OV_OK)
		goto fail;
	t.conv.last_inbound = msgs[n - 1]->ts > 0 ? msgs[n - 1]->ts : t.now;

	/* A person has it: Ovidio records and stays silent until it ends. */
	if (t.conv.owner == CONV_OWNER_AGENT) {
		if (t.conv.owner_until > t.now) {
			log_info("%s is with a salesperson; no reply", t.wa_id);
			/* What the customer sends is theirs to open. */
			enrich_keep_only(&t, msgs, n);
			goto commit;
		}
		t.conv.owner = CONV_OWNER_BOT;
		t.conv.agent[0] = '\0';
		t.conv.owner_until = 0;
	}
	/* Voice notes and photos become words (lib/enrich) first. */
	if ((rc = enrich_turn(&t, msgs, n, &en)) != OV_OK)
		goto fail;
	words = gather(&t, en.ptrs, n);
	if (!words && !t.unsupported && !en.answered)
		goto commit;   /* reactions only */
	{
		struct rules_result r;

		rules_parse(t.text, NULL, &r);
		t.with_iva = r.with_iva;
		t.complaint = r.complaint;
	}
	mark_read(b, msgs[n - 1]->id);

	if (!words && en.answered) {
		/* The media's own answers (enrich_finish) are the reply. */
	} else if (!words && t.picture) {
		say(&t, T_NO_PICTURES);
	} else if (!words) {
		say(&t, T_TEXT_ONLY);
	} else if (llm_configured(b->llm) && t.nparts > 0 &&
	    (t.part_id[t.nparts - 1] == NULL ||
	    t.part_id[t.nparts - 1][0] == '\0')) {
		struct conv before = t.conv;

		if (decide_model(&t, ids, n < IDS_MAX ? n : IDS_MAX) != OV_OK) {
			replies_free(&t);
			notices_free(&t);
			t.conv = before;
			t.handed_off = false;
			decide_rules_turn(&t);
		}
	} else {
		decide_rules_turn(&t);
	}
	enrich_finish(&t, &en);
	if (!t.handed_off)
		greet(&t);
	replies_consolidate(&t);

commit:
	if ((rc = commit(&t, msgs, n)) != OV_OK)
		goto fail;
	crash_point("after_commit");
	notices_send(&t);
	if (outbox_flush_for(&b->ob, t.wa_id, &sent, &left) != OV_OK ||
	    left > 0)
		log_warn("replies to %s: %zu sent, %zu wait in the outbox",
		    t.wa_id, sent, left);
	rc = OV_OK;
	goto out;
fail:
	store_conv_release(b->st, t.wa_id, b->holder);
out:
	enrich_free(&en);
	replies_free(&t);
	notices_free(&t);
	store_customer_clear(&t.cust);
	return rc;
}

int
bot_drain_outbox(struct bot *b, size_t *sent, size_t *left)
{
	return outbox_drain(&b->ob, sent, left);
}

/* ---- open / close --------------------------------------------------- */

int
bot_open(struct bot **out, const struct config *cfg, struct store *st,
    char *err, size_t errlen)
{
	struct bot *b;
	char host[64];
	int rc;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return OV_ENOMEM;
	}
	b->cfg = cfg;
	b->st = st;
	if ((rc = wa_client_init(&b->wa, cfg, err, errlen)) != OV_OK)
		goto fail;
	b->wa_ready = true;
	if ((rc = outbox_init(&b->ob, cfg, st, &b->wa, err, errlen)) != OV_OK)
		goto fail;
	b->ob.on_sent = on_sent;
	b->ob.on_sent_arg = b;
	if ((rc = llm_open(cfg, &b->llm, err, errlen)) != OV_OK)
		goto fail;
	if ((rc = mail_open(cfg, &b->mail, err, errlen)) != OV_OK)
		goto fail;
	if (config_get(cfg, "CIANBOX_ACCOUNT") != NULL &&
	    (rc = cianbox_open(&b->cb, cfg, st, err, errlen)) != OV_OK)
		goto fail;
	if ((rc = quote_pdf_brand_load(cfg, &b->brand)) != OV_OK) {
		snprintf(err, errlen, "cannot load the quote branding");
		goto fail;
	}
	if ((rc = business_load(cfg, &b->biz, err, errlen)) != OV_OK)
		goto fail;
	if ((rc = transcribe_open(cfg, &b->tr, err, errlen)) != OV_OK ||
	    (rc = media_http_init(&b->media, cfg, err, errlen)) != OV_OK)
		goto fail;
	b->media_ready = true;
	if ((rc = media_keep_config(cfg, &b->keep, err, errlen)) != OV_OK)
		goto fail;
	if ((rc = config_get_long(cfg, "HANDOFF_HOURS", 4, 0, 24 * 30,
	    &b->handoff_hours, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "LLM_BUDGET_MS", 20000, 100, 600000,
	    &b->llm_budget_ms, err, errlen)) != OV_OK ||
	    (rc = quote_ttl_days(cfg, &b->ttl_days, err, errlen)) != OV_OK)
		goto fail;
	b->vendedor = config_get(cfg, "VENDEDOR_EMAIL");
	b->compras = config_get(cfg, "EMAIL_TO_COMPRAS");
	b->pdf_dir = config_get(cfg, "PRESUPUESTOS_DIR");
	b->public_base = config_get(cfg, "PUBLIC_BASE_URL");
	b->business = config_get(cfg, "BUSINESS_NAME");
	if (b->business == NULL)
		b->business = "GRUPO SER";
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	snprintf(b->holder, sizeof(b->holder), "%.40s:%ld", host,
	    (long)getpid());
	quote_use_timezone(cfg);
	*out = b;
	return OV_OK;
fail:
	bot_close(b);
	return rc;
}

void
bot_close(struct bot *b)
{
	if (b == NULL)
		return;
	if (b->wa_ready)
		wa_client_free(&b->wa);
	llm_close(b->llm);
	mail_close(b->mail);
	cianbox_close(b->cb);
	quote_pdf_brand_free(b->brand);
	business_free(b->biz);
	transcribe_close(b->tr);
	if (b->media_ready)
		media_http_free(&b->media);
	free(b);
}
