/*
 * enrich.c - voice notes, photos and files made words or handed to a
 * person, around the decision (see enrich.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "actions.h"
#include "copy_es.h"
#include "enrich.h"
#include "err.h"
#include "log.h"
#include "media.h"
#include "media_keep.h"
#include "store.h"
#include "transcribe.h"
#include "utf8.h"

/* A consumed message: its answer is owed by enrich_finish(), gather()
 * reads no words and asks nothing of it. */
#define CONSUMED WA_SYSTEM

static void
owe(struct enrich *e, const char *text, bool told)
{
	if (e->nsay < ENRICH_SAY_MAX) {
		e->say[e->nsay] = text;
		e->say_told[e->nsay] = told;
		e->nsay++;
	}
	e->answered = true;
}

static void
append(char *buf, size_t cap, const char *sep, const char *s)
{
	size_t n = strlen(buf);

	if (n > 0 && n + strlen(sep) < cap) {
		memcpy(buf + n, sep, strlen(sep) + 1);
		n += strlen(sep);
	}
	if (n < cap) {
		size_t k = utf8_cut(s, strlen(s), cap - n - 1);

		memcpy(buf + n, s, k);
		buf[n + k] = '\0';
	}
}

/* What is left of the turn's media time. */
static long
left_ms(const struct enrich *e)
{
	return (long)(e->deadline_ms - media_now_ms());
}

/* Meta's media, within the turn's media time and the kind's cap. */
static int
download(struct turn *t, struct enrich *e, const char *id,
    enum media_keep_kind kind, struct media_file *f)
{
	struct media_http *h = &t->b->media;
	size_t cap = h->policy.max_bytes;
	long saved = media_budget_cap(h, left_ms(e));
	int rc;

	memset(f, 0, sizeof(*f));
	h->policy.max_bytes = media_keep_cap(&t->b->keep, kind, cap);
	rc = left_ms(e) < 1000 ? OV_ETIMEOUT : media_download(h, &t->b->wa,
	    id, f);
	h->policy.max_bytes = cap;
	h->policy.budget_ms = saved;
	return rc;
}

static const char *
keep_why(int rc)
{
	switch (rc) {
	case OV_ETOOBIG:
		return T_KEEP_TOO_BIG;
	case OV_ENOTFOUND:
		return T_KEEP_GONE;
	case OV_ETIMEOUT:
		return T_KEEP_SLOW;
	default:
		return T_KEEP_FAILED;
	}
}

static void
kept_add(struct turn *t, const struct media_kept *k)
{
	if (t->nkept < TURN_KEPT_MAX)
		t->kept[t->nkept++] = *k;
}

/*
 * Keep what the customer sent for the salesperson (lib/media_keep) and
 * note its id on the message, so the inbox and the handoff e-mail link
 * it. f holds the bytes when fetched is OV_OK; otherwise the failure is
 * kept, so the salesperson reads what could not be fetched. Nothing here
 * stops the turn: the customer is answered either way.
 */
static void
keep(struct turn *t, const struct wa_message *m, enum media_keep_kind kind,
    const struct media_file *f, int fetched)
{
	struct media_kept k;
	int rc;

	if (m->media_id[0] == '\0')
		return;
	memset(&k, 0, sizeof(k));
	k.kind = kind;
	k.failed = fetched != OV_OK;
	if (k.failed)
		snprintf(k.why, sizeof(k.why), "%s", keep_why(fetched));
	snprintf(k.mime, sizeof(k.mime), "%s", !k.failed && f->mime[0] ?
	    f->mime : m->mime);
	utf8_copy(k.filename, sizeof(k.filename), m->filename);
	snprintf(k.media_ref, sizeof(k.media_ref), "%s", m->media_id);
	snprintf(k.wa_id, sizeof(k.wa_id), "%s", t->wa_id);
	k.at = t->now;
	rc = media_keep_save(t->b->keep.dir, &k, k.failed ? NULL : f->data,
	    k.failed ? 0 : f->len);
	if (rc != OV_OK) {
		log_warn("media %s of %s not kept: %s", m->media_id, t->wa_id,
		    ov_strerror(rc));
		return;
	}
	if ((rc = store_inbound_note(t->b->st, m->id, NULL, k.id)) != OV_OK)
		log_warn("media %s of %s kept as %s, not noted on the message: "
		    "%s", m->media_id, t->wa_id, k.id, ov_strerror(rc));
	kept_add(t, &k);
	log_info("media %s of %s kept as %s%s", m->media_id, t->wa_id, k.id,
	    k.failed ? " (not downloaded)" : "");
}

/* A message replayed after a crash already has its copy: no second
 * download. */
static bool
kept_before(struct turn *t, const struct wa_message *m)
{
	struct store_msg sm;
	struct media_kept k;
	bool found = false, ok = false;

	if (store_msg_get(t->b->st, m->id, &sm, &found) != OV_OK || !found)
		return false;
	if (sm.media[0] != '\0' && media_keep_info(t->b->keep.dir, sm.media,
	    &k) == OV_OK) {
		kept_add(t, &k);
		ok = true;
	}
	store_msg_clear(&sm);
	return ok;
}

/* Download only to keep it. */
static void
keep_fetch(struct turn *t, struct enrich *e, const struct wa_message *m,
    enum media_keep_kind kind)
{
	struct media_file f;
	int rc;

	if (m->media_id[0] == '\0' || kept_before(t, m))
		return;
	rc = download(t, e, m->media_id, kind, &f);
	keep(t, m, kind, &f, rc);
	media_file_clear(&f);
}

static int
transcribe_capped(struct turn *t, struct enrich *e, const struct media_file *f,
    char *text, size_t len)
{
	struct media_http *h = transcribe_http(t->b->tr);
	long saved;
	int rc;

	if (h == NULL || left_ms(e) < 1000)
		return OV_ETIMEOUT;
	saved = media_budget_cap(h, left_ms(e));
	rc = transcribe_audio(t->b->tr, f, text, len);
	h->policy.budget_ms = saved;
	return rc;
}

/* The transcript written back to the recorded message: the inbox and
 * the model's history read "🎤 …" instead of nothing. */
static void
note_said(struct turn *t, const struct wa_message *m, const char *text)
{
	size_t n = strlen(text) + sizeof(T_VOICE_SAID);
	char *said = malloc(n);
	int rc;

	if (said == NULL)
		return;
	snprintf(said, n, T_VOICE_SAID, text);
	if ((rc = store_inbound_note(t->b->st, m->id, said, NULL)) != OV_OK)
		log_warn("transcript of %s's voice note not kept: %s", t->wa_id,
		    ov_strerror(rc));
	free(said);
}

static int
voice(struct turn *t, struct wa_message *m, char **owned, struct enrich *e)
{
	struct transcriber *tr = t->b->tr;
	struct media_file f;
	char text[TRANSCRIBE_TEXT_MAX + 1], echo[TRANSCRIBE_TEXT_MAX + 64];
	const char *fail = NULL, *what = "falló";
	bool tried = false;
	long secs;
	int rc, fetched = OV_EINVAL;

	memset(&f, 0, sizeof(f));
	if (transcribe_configured(tr)) {
		fetched = download(t, e, m->media_id, MEDIA_KEEP_AUDIO, &f);
		tried = true;
	}
	if (!tried) {
		fail = T_VOICE_NO_KEY;
		what = "sin clave de transcripción";
	} else if ((rc = fetched) != OV_OK) {
		fail = rc == OV_ETOOBIG ? T_VOICE_TOO_LONG : T_VOICE_FAILED;
		what = rc == OV_ETOOBIG ? "muy grande" : "no se pudo bajar";
	} else if ((secs = media_audio_seconds(f.data, f.len)) >
	    transcribe_max_seconds(tr)) {
		log_info("voice note of %s: %ld s, over %ld s", t->wa_id, secs,
		    transcribe_max_seconds(tr));
		fail = T_VOICE_TOO_LONG;
		what = "muy largo";
	} else if ((rc = transcribe_capped(t, e, &f, text, sizeof(text))) !=
	    OV_OK) {
		fail = T_VOICE_FAILED;
		what = rc == OV_ENOTFOUND ? "sin palabras" : "falló la "
		    "transcripción";
	}
	if (fail != NULL) {
		/* The salesperson is told of it: it is kept for them. */
		if (!tried)
			keep_fetch(t, e, m, MEDIA_KEEP_AUDIO);
		else if (!kept_before(t, m))
			keep(t, m, MEDIA_KEEP_AUDIO, &f, fetched);
	}
	media_file_clear(&f);
	if (fail != NULL) {
		m->kind = CONSUMED;
		m->text = NULL;
		owe(e, fail, true);
		e->notice = true;
		snprintf(e->why, sizeof(e->why), T_WHY_VOICE, what,
		    m->media_id[0] ? m->media_id : "-");
		return OV_OK;
	}
	if ((*owned = strdup(text)) == NULL)
		return OV_ENOMEM;
	m->kind = WA_TEXT;
	m->text = *owned;
	note_said(t, m, text);
	{
		char shown[TRANSCRIBE_TEXT_MAX + 1];

		/* A long note is echoed short; all of it is answered. */
		snprintf(echo, sizeof(echo), T_VOICE_ECHO, fmt_short(text, 280,
		    shown, sizeof(shown)));
	}
	append(e->echo, sizeof(e->echo), "\n", echo);
	log_info("voice note of %s transcribed", t->wa_id);
	return OV_OK;
}

/* A photo's items as one message the rules read ("agregá 2 cámara
 * domo y 1 fuente 12v"), and as the customer reads them in the lead. */
static int
photo(struct turn *t, struct wa_message *m, char **owned, struct enrich *e)
{
	struct transcribe_item items[TRANSCRIBE_ITEMS_MAX];
	struct media_file f;
	char words[ENRICH_LEAD_MAX] = "", shown[ENRICH_LEAD_MAX] = "";
	size_t n = 0;
	int rc = OV_EINVAL, fetched;

	/* A caption says what the customer wants: it is the message. The
	 * photo is kept for the salesperson all the same. */
	if (m->text != NULL || !transcribe_vision_configured(t->b->tr)) {
		keep_fetch(t, e, m, MEDIA_KEEP_IMAGE);
		if (m->text != NULL)
			return OV_OK;
	}
	memset(&f, 0, sizeof(f));
	if (transcribe_vision_configured(t->b->tr) && m->media_id[0] != '\0') {
		fetched = rc = download(t, e, m->media_id, MEDIA_KEEP_IMAGE, &f);
		if (rc == OV_OK) {
			struct media_http *h = transcribe_http(t->b->tr);
			long saved = media_budget_cap(h, left_ms(e));

			rc = transcribe_image_items(t->b->tr, &f, items,
			    TRANSCRIBE_ITEMS_MAX, &n);
			h->policy.budget_ms = saved;
		}
		keep(t, m, MEDIA_KEEP_IMAGE, &f, fetched);
	}
	media_file_clear(&f);
	if (!transcribe_vision_configured(t->b->tr)) {
		m->kind = CONSUMED;
		owe(e, T_PHOTO_NO_VISION, false);
		e->handoff = true;
		snprintf(e->why, sizeof(e->why), T_WHY_PHOTO,
		    m->media_id[0] ? m->media_id : "-", "");
		return OV_OK;
	}
	if (rc != OV_OK || n == 0) {
		m->kind = CONSUMED;
		owe(e, T_PHOTO_UNREADABLE, false);
		e->handoff = true;
		snprintf(e->why, sizeof(e->why), T_WHY_PHOTO,
		    m->media_id[0] ? m->media_id : "-", ": ilegible");
		return OV_OK;
	}
	for (size_t i = 0; i < n; i++) {
		char one[TRANSCRIBE_ITEM_MAX + 32];

		snprintf(one, sizeof(one), "%ld %.120s", items[i].qty,
		    items[i].words);
		append(words, sizeof(words), " y ", one);
		snprintf(one, sizeof(one), "%ld × %.120s", items[i].qty,
		    items[i].words);
		append(shown, sizeof(shown), ", ", one);
	}
	/* Worded as a customer asking to add them, so the rules (or the
	 * model) put them in the cart for the customer to confirm. */
	if ((*owned = malloc(strlen(words) + 16)) == NULL)
		return OV_ENOMEM;
	snprintf(*owned, strlen(words) + 16, "agregá %s", words);
	m->kind = WA_TEXT;
	m->text = *owned;
	append(e->items, sizeof(e->items), ", ", shown);
	e->photo_items = true;
	snprintf(e->why, sizeof(e->why), T_WHY_PHOTO, m->media_id,
	    ": productos no encontrados");
	return OV_OK;
}

int
enrich_turn(struct turn *t, const struct wa_message *const *msgs, size_t n,
    struct enrich *e)
{
	int rc = OV_OK;

	memset(e, 0, sizeof(*e));
	e->ncart_before = t->conv.ncart;
	e->deadline_ms = media_now_ms() + MEDIA_TURN_BUDGET_MS;
	if ((e->msgs = calloc(n + 1, sizeof(*e->msgs))) == NULL ||
	    (e->ptrs = calloc(n + 1, sizeof(*e->ptrs))) == NULL ||
	    (e->owned = calloc(n + 1, sizeof(*e->owned))) == NULL)
		return OV_ENOMEM;
	e->n = n;
	for (size_t i = 0; i < n && rc == OV_OK; i++) {
		struct wa_message *m = &e->msgs[i];

		*m = *msgs[i];          /* pointers borrowed from msgs */
		e->ptrs[i] = m;
		switch (m->kind) {
		case WA_AUDIO:
			rc = voice(t, m, &e->owned[i], e);
			break;
		case WA_IMAGE:
			rc = photo(t, m, &e->owned[i], e);
			break;
		case WA_DOCUMENT:
			keep_fetch(t, e, m, MEDIA_KEEP_DOCUMENT);
			m->kind = CONSUMED;
			owe(e, T_DOC_RECEIVED, false);
			e->handoff = true;
			snprintf(e->why, sizeof(e->why), T_WHY_DOCUMENT,
			    m->media_id[0] ? m->media_id : "-");
			break;
		case WA_LOCATION:
			m->kind = CONSUMED;
			owe(e, T_LOCATION_THANKS, false);
			break;
		case WA_CONTACTS:
			m->kind = CONSUMED;
			owe(e, T_CONTACT_THANKS, false);
			break;
		default:
			break;
		}
	}
	return rc;
}

void
enrich_keep_only(struct turn *t, const struct wa_message *const *msgs,
    size_t n)
{
	struct enrich e;

	memset(&e, 0, sizeof(e));
	e.deadline_ms = media_now_ms() + MEDIA_TURN_BUDGET_MS;
	for (size_t i = 0; i < n; i++) {
		const struct wa_message *m = msgs[i];

		if (m->kind == WA_AUDIO)
			keep_fetch(t, &e, m, MEDIA_KEEP_AUDIO);
		else if (m->kind == WA_IMAGE)
			keep_fetch(t, &e, m, MEDIA_KEEP_IMAGE);
		else if (m->kind == WA_DOCUMENT)
			keep_fetch(t, &e, m, MEDIA_KEEP_DOCUMENT);
	}
}

/* A kind reply; the voice ones say whether a salesperson was told
 * (only what happened is promised). */
static void
say_owed(struct turn *t, const struct enrich *e, size_t i, bool told)
{
	const char *told_text = told ? T_TOLD_SELLER : "";

	if (!e->say_told[i])
		say(t, "%s", e->say[i]);
	else if (strcmp(e->say[i], T_VOICE_NO_KEY) == 0)
		say(t, T_VOICE_NO_KEY, told_text);
	else if (strcmp(e->say[i], T_VOICE_TOO_LONG) == 0)
		say(t, T_VOICE_TOO_LONG, told_text);
	else
		say(t, T_VOICE_FAILED, told_text);
}

void
enrich_finish(struct turn *t, struct enrich *e)
{
	char lead[ENRICH_LEAD_MAX + 128];
	bool told = false;

	if (e->photo_items) {
		if (t->conv.ncart > e->ncart_before) {
			snprintf(lead, sizeof(lead), T_PHOTO_LEAD, e->items);
			reply_prefix(t, lead);
		} else if (!t->handed_off) {
			/* Nothing of the photo became a cart line: a person
			 * reads it. What the search said goes. */
			replies_free(t);
			say(t, T_PHOTO_UNMATCHED, e->items);
			e->handoff = true;
		}
	}
	if (e->handoff && !t->handed_off) {
		cJSON *args = cJSON_CreateObject();

		if (args != NULL && cJSON_AddStringToObject(args, "motivo",
		    e->why) != NULL) {
			for (size_t i = 0; i < e->nsay; i++)
				say_owed(t, e, i, false);
			e->nsay = 0;
			if (action_call(t, A_HANDOFF, args) != OV_OK)
				log_warn("handoff for %s's media failed",
				    t->wa_id);
		}
		cJSON_Delete(args);
	} else if (e->notice && !t->handed_off) {
		char link[512] = "";

		if (t->b->public_base != NULL)
			snprintf(link, sizeof(link), "%s/cgi-bin/inbox/c/%s",
			    t->b->public_base, t->wa_id);
		told = notify_handoff(t, e->why, link[0] ? link : NULL);
		log_info("media of %s flagged for the salesperson%s", t->wa_id,
		    told ? "" : " (nobody could be told)");
	}
	for (size_t i = 0; i < e->nsay; i++)
		say_owed(t, e, i, told);
	if (e->echo[0] != '\0')
		reply_prefix(t, e->echo);
}

void
enrich_free(struct enrich *e)
{
	if (e->owned != NULL)
		for (size_t i = 0; i < e->n; i++)
			free(e->owned[i]);
	free(e->owned);
	free(e->ptrs);
	free(e->msgs);
	memset(e, 0, sizeof(*e));
}
