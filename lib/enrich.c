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

static int
download(struct turn *t, struct enrich *e, const char *id,
    struct media_file *f)
{
	long saved = media_budget_cap(&t->b->media, left_ms(e));
	int rc;

	memset(f, 0, sizeof(*f));
	rc = left_ms(e) < 1000 ? OV_ETIMEOUT : media_download(&t->b->media,
	    &t->b->wa, id, f);
	t->b->media.policy.budget_ms = saved;
	return rc;
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

static int
voice(struct turn *t, struct wa_message *m, char **owned, struct enrich *e)
{
	struct transcriber *tr = t->b->tr;
	struct media_file f;
	char text[TRANSCRIBE_TEXT_MAX + 1], echo[TRANSCRIBE_TEXT_MAX + 64];
	const char *fail = NULL, *what = "falló";
	long secs;
	int rc;

	memset(&f, 0, sizeof(f));
	if (!transcribe_configured(tr)) {
		fail = T_VOICE_NO_KEY;
		what = "sin clave de transcripción";
	} else if ((rc = download(t, e, m->media_id, &f)) != OV_OK) {
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
	int rc = OV_EINVAL;

	/* A caption says what the customer wants: it is the message. */
	if (m->text != NULL)
		return OV_OK;
	memset(&f, 0, sizeof(f));
	if (transcribe_vision_configured(t->b->tr) && m->media_id[0] != '\0' &&
	    (rc = download(t, e, m->media_id, &f)) == OV_OK) {
		struct media_http *h = transcribe_http(t->b->tr);
		long saved = media_budget_cap(h, left_ms(e));

		rc = transcribe_image_items(t->b->tr, &f, items,
		    TRANSCRIBE_ITEMS_MAX, &n);
		h->policy.budget_ms = saved;
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
