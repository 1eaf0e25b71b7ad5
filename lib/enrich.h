/*
 * enrich.h - internal to the conversation (lib/bot): a turn's media made
 * into words before deciding, and what the media still owe after it.
 *
 *   voice note  -> downloaded (lib/media), transcribed (lib/transcribe),
 *                  handled as typed, "🎤 Entendí: …" echoed first; without
 *                  a key, over TRANSCRIBE_MAX_SECONDS, too big or failed:
 *                  a kind reply asking to write it and a notice to the
 *                  salesperson (the bot keeps the conversation);
 *   photo       -> the caption is text (the photo is not read); without
 *                  one, with VISION_MODEL the photo is read into items ("2 cámara domo dahua") that go through
 *                  the rules' product search into the cart ("Encontré esto
 *                  en tu foto: …"); unreadable or unmatched, or without a
 *                  vision model and caption: a kind reply and a handoff;
 *   document    -> acknowledged and handed to the salesperson;
 *   location, contacts -> a short answer; reactions, stickers: as before.
 * Photos, files and the voice notes a salesperson is told of are kept for
 * them (lib/media_keep), linked from the inbox and the handoff e-mail, or
 * recorded as not downloaded; a transcript is written back to its message
 * ("🎤 …", store_inbound_note) for the inbox and the model's history.
 *
 * Ownership: struct enrich lives on bot_turn()'s stack; enrich_free()
 * releases the copies and texts made here.
 */
#ifndef OVIDIO_ENRICH_H
#define OVIDIO_ENRICH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "turn.h"
#include "wa_payload.h"

#define ENRICH_LEAD_MAX 1200
#define ENRICH_SAY_MAX 4
#define ENRICH_WHY_MAX 300

struct enrich {
	struct wa_message *msgs;          /* copies (texts borrowed or owned) */
	const struct wa_message **ptrs;   /* what gather() reads */
	char **owned;                     /* texts made here, one per message */
	size_t n;
	char echo[ENRICH_LEAD_MAX];       /* "🎤 Entendí: …" lines */
	char items[ENRICH_LEAD_MAX];      /* items read from a photo */
	size_t ncart_before;
	bool photo_items;
	const char *say[ENRICH_SAY_MAX];  /* kind replies owed (copy_es.h) */
	bool say_told[ENRICH_SAY_MAX];    /* add "we told a salesperson" */
	size_t nsay;
	bool notice;                      /* tell the salesperson, keep it */
	bool handoff;                     /* hand the conversation over */
	char why[ENRICH_WHY_MAX];
	bool answered;                    /* media got their answer here */
	int64_t deadline_ms;              /* the turn's media time ends */
};

/* Words for the turn's media (t->conv loaded). OV_ENOMEM only: every
 * media failure becomes a reply owed. */
int enrich_turn(struct turn *t, const struct wa_message *const *msgs,
    size_t n, struct enrich *e);
/* After deciding: echo, photo lead or handoff, kind replies, notices. */
void enrich_finish(struct turn *t, struct enrich *e);
void enrich_free(struct enrich *e);
/* While a person has the conversation: voice notes, photos and files are
 * only kept for them (lib/media_keep), nothing is answered. */
void enrich_keep_only(struct turn *t, const struct wa_message *const *msgs,
    size_t n);

#endif
