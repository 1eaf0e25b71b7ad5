/*
 * proactive.h - messages Ovidio starts (issue 10): quote reminders,
 * follow-ups, back in stock, balance reminders, birthdays, the weekly
 * greeting; and what the conversation learns for them.
 *
 * proactive_run() is jobs/notify: it looks at quotes, conversations and
 * recorded demand at `now` (business time zone: the process's TZ, see
 * quote_use_timezone()) and commits each message as a campaign-lane
 * outbox entry together with its markers (store_proactive_commit):
 *   "<kind>:<object>"        once per kind and object (a quote, a topic,
 *                            a product asked for, a year, a week);
 *   "day:<wa_id>:<date>"     at most one proactive message per customer
 *                            and business day.
 * A second run, or one killed mid-way, sends nothing twice. The outbox's
 * drain sends them (throttled by CAMPAIGN_RATE).
 *
 * Rules for every message: only within QUIET_HOURS (default "9-20",
 * Monday to Saturday); never to a conversation a salesperson holds or
 * one active in the last hour; marketing kinds (follow-up, birthday,
 * weekly) only to customers who said yes to promotions and did not opt
 * out; utility kinds (quote reminder, back in stock, balance) to anyone.
 * Inside the 24-hour window the content goes as text (with buttons);
 * outside it only as the approved template (TEMPLATE_LANG, es_AR).
 *
 * Ownership: struct proactive borrows the store, the outbox and the
 * configuration; proactive_free() releases what proactive_init() made.
 */
#ifndef OVIDIO_PROACTIVE_H
#define OVIDIO_PROACTIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config;
struct store;
struct outbox;
struct cianbox;
struct business;
struct turn;

enum proactive_kind {
	PX_QUOTE_REMINDER = 0,   /* utility */
	PX_BACK_IN_STOCK,        /* utility */
	PX_BALANCE,              /* utility */
	PX_BIRTHDAY,             /* marketing */
	PX_FOLLOWUP,             /* marketing */
	PX_WEEKLY,               /* marketing */
	PX__COUNT
};

#define PX_DEMAND_DAYS 30        /* back in stock: asked within this */
#define PX_FOLLOWUP_DAYS 7
#define PX_ACTIVE_S 3600         /* "active in the last hour" */
#define PX_WINDOW_S 86400        /* Meta's customer service window */

/* "quote_reminder", "back_in_stock", "balance", "birthday", "followup",
 * "weekly"; and back (OV_EINVAL for an unknown name). */
const char *proactive_kind_name(enum proactive_kind k);
int proactive_kind_parse(const char *name, enum proactive_kind *out);

struct proactive_stats {
	size_t queued[PX__COUNT];    /* committed (or listed, dry run) */
	size_t skipped;              /* a rule said no (see -v) */
	size_t errors;
};

struct proactive {
	struct store *st;
	struct outbox *ob;           /* makes the entries */
	struct cianbox *cb;          /* NULL: no balance reminders */
	struct business *biz;        /* NULL: no payment details */
	const char *tmpl[PX__COUNT]; /* NULL: the kind is off */
	const char *lang;
	const char *birthday_offer;  /* BIRTHDAY_OFFER or NULL */
	const char *weekly_question;
	int quiet_from, quiet_to;    /* hours, business time: [from, to) */
	bool quiet_sunday;           /* Sundays too (QUIET_HOURS "...,7") */
	bool only[PX__COUNT];        /* --only: these kinds; all false: all */
	bool dry_run;
	bool verbose;
	FILE *list;                  /* dry run and -v lines; may be NULL */
};

/* Read TEMPLATE_* (a kind without its template is off: one info line),
 * TEMPLATE_LANG, QUIET_HOURS ("9-20" or "9-20,7" for Sundays too),
 * BALANCE_REMINDERS, BIRTHDAY_OFFER, WEEKLY_QUESTION. OV_ECONFIG with
 * err for a malformed value. */
int proactive_init(struct proactive *px, const struct config *cfg,
    struct store *st, struct outbox *ob, char *err, size_t errlen);

/* Whether `now` is within the quiet hours (business time). */
bool proactive_quiet_ok(const struct proactive *px, int64_t now);

/* One pass at now. OV_OK also when some customers failed (counted in
 * stats->errors and logged); a store error that stops the pass is
 * returned. */
int proactive_run(struct proactive *px, int64_t now,
    struct proactive_stats *stats);

/* ---- in the conversation (lib/decide.c calls these) ------------------- */

/* A birthday told ("mi cumple es el 3 de mayo", "cumplo años el 3/5"):
 * recorded in the profile with a thank-you. True when the turn said
 * nothing else worth deciding (the caller stops there). */
bool proactive_hear(struct turn *t);

/* After a turn: the topic (products talked about, for the follow-up) and
 * the brands searched (preferred brands). */
void proactive_note(struct turn *t);

/* After a confirmed quote: ask for promo consent once, with two buttons
 * (never in a first message: a quote was confirmed). */
void proactive_ask_promo(struct turn *t);

/* Parse a birthday in text into "MM-DD" (6 bytes). */
bool proactive_birthday_parse(const char *text, char out[6]);

#endif
