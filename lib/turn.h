/*
 * turn.h - internal to the conversation (lib/bot, lib/actions,
 * lib/decide, lib/reply, lib/notify): the bot's long-lived parts and one
 * turn's working state. Not for other modules.
 *
 * A turn: identify -> decide (model tools or rules) -> act (lib/actions)
 * -> replies -> one store commit (lib/bot) -> send (lib/outbox).
 *
 * Ownership: struct bot is made by bot_open() and freed by bot_close();
 * struct turn lives on bot_turn()'s stack; its replies' payloads and
 * notices are freed by turn_release().
 */
#ifndef OVIDIO_TURN_H
#define OVIDIO_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "conv.h"
#include "customer.h"
#include "media.h"
#include "media_keep.h"
#include "outbox.h"
#include "store.h"
#include "whatsapp.h"

struct config;
struct llm;
struct cianbox;
struct mail;
struct quote_pdf_brand;
struct business;
struct transcriber;

#define TURN_REPLIES_MAX 12       /* replies one turn may produce */
#define TURN_TEXT_MAX 4000        /* bytes of one text reply */
#define TURN_PARTS_MAX 16         /* messages of one turn read one by one */
#define TURN_TEXT_IN_MAX 4096     /* bytes of one turn's words */
#define TURN_NOTICES_MAX 4        /* e-mails one turn may send */
#define TURN_KEPT_MAX 4           /* customer's files one notice links */
#define TURN_NAME_MAX 64
#define TURN_LIST_ROWS 10         /* products per list */
#define TURN_ALTERNATIVES 3       /* in-stock options for one missing */

struct bot {
	const struct config *cfg;
	struct store *st;
	struct wa_client wa;
	bool wa_ready;
	struct outbox ob;
	struct llm *llm;
	struct cianbox *cb;          /* NULL: Cianbox not configured */
	struct mail *mail;
	struct quote_pdf_brand *brand;
	struct business *biz;        /* NULL: no BUSINESS_INFO */
	struct transcriber *tr;      /* voice notes, photos (lib/transcribe) */
	struct media_http media;     /* Meta's media (lib/media) */
	bool media_ready;
	struct media_keep_conf keep; /* where and how much is kept */
	long handoff_hours;
	long llm_budget_ms;
	long ttl_days;
	const char *vendedor;        /* VENDEDOR_EMAIL or NULL */
	const char *compras;         /* EMAIL_TO_COMPRAS or NULL */
	const char *pdf_dir;
	const char *business;        /* BUSINESS_NAME */
	const char *public_base;     /* PUBLIC_BASE_URL or NULL */
	char holder[STORE_HOLDER_MAX + 1]; /* this process, for leases */
};

struct reply {
	char kind[16];               /* text, buttons, list, pdf */
	cJSON *payload;              /* owned */
	const char *by;              /* the action that made it, or NULL */
};

/* An e-mail to send once the turn is committed. */
struct notice {
	const char *to;              /* borrowed from struct bot */
	char *subject;               /* owned */
	char *html;                  /* owned */
};

struct turn {
	struct bot *b;
	const char *wa_id;           /* the customer's key (lib/contact) */
	char key[STORE_WAID_MAX + 1];
	bool hold;                   /* account data withheld (lib/contact) */
	struct conv conv;
	struct store_customer cust;  /* the clientes record */
	struct customer_identity identity;
	char first_name[TURN_NAME_MAX];
	char profile_name[TURN_NAME_MAX * 2];
	int64_t now;
	char today[16];              /* business day, YYYY-MM-DD */

	/* The words: all of them, and each message's own. */
	char text[TURN_TEXT_IN_MAX + 1];
	const char *part_text[TURN_PARTS_MAX];
	const char *part_id[TURN_PARTS_MAX];
	char part_tap[TURN_PARTS_MAX][WA_ROW_ID_MAX + 1]; /* mapped taps */
	size_t nparts;
	const char *cur_text;        /* the message being decided */
	bool unsupported;            /* audio, sticker... with no words */
	bool picture;                /* an image or file without caption */
	/* What the customer sent, kept for the salesperson (lib/enrich):
	 * the handoff e-mail links it. */
	struct media_kept kept[TURN_KEPT_MAX];
	size_t nkept;

	struct reply replies[TURN_REPLIES_MAX];
	size_t nreplies;
	struct notice notices[TURN_NOTICES_MAX];
	size_t nnotices;
	const char *action;          /* the action running now, or NULL */
	bool handed_off;             /* this turn handed over to a person */
	bool mail_queued;            /* a notice waits in the mail queue */
	struct {                     /* the model's calls of this turn */
		const char *tool;
		char args[256];
	} calls[8];
	size_t ncalls;
	bool with_iva;               /* the customer asked for prices with IVA */
	bool complaint;              /* the turn's words complain */
	bool quoting;                /* items go straight into a quote: the
	                                cart is not shown on the way */
};

/* ---- replies (lib/reply.c) ------------------------------------------ */

cJSON *reply_add(struct turn *t, const char *kind);
void say(struct turn *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Buttons (1..3): ids and titles in pairs, NULL-terminated. */
void reply_buttons(struct turn *t, const char *body, const char *id1,
    const char *t1, const char *id2, const char *t2, const char *id3,
    const char *t3);
struct bot_product;
void reply_product_list(struct turn *t, const char *body,
    const struct bot_product *v, size_t n);
/* Words before the first reply that carries text (or on their own). */
void reply_prefix(struct turn *t, const char *lead);
/* Join what reads as one message: consecutive texts, a text before
 * buttons or a list (when the body has room). Fewer messages, same
 * words, same order. */
void replies_consolidate(struct turn *t);
/* Drop the replies an action made (the model called it again). */
void replies_drop_by(struct turn *t, const char *action);
void replies_free(struct turn *t);

/* "USD 1.234,56" and a product's price as read ("USD 48,50" / "$ 1.200") */
void fmt_money(int64_t cents, char *buf, size_t len);
void fmt_price(const struct bot_product *p, char *buf, size_t len);
/* The price with IVA: cents * (1000 + iva_tenths) / 1000, rounded. */
int64_t price_with_iva(const struct bot_product *p);
/* s cut to max characters (never inside one) into out. */
const char *fmt_short(const char *s, size_t max, char *out, size_t outlen);

/* ---- notices (lib/notify.c) ----------------------------------------- */

/* Queue an e-mail for after the commit; false when nobody can get it
 * (no address or no mail configured). */
bool notice_add(struct turn *t, const char *to, const char *subject,
    const char *html);
void notices_send(struct turn *t);
void notices_free(struct turn *t);
/* The salesperson hears of a handoff (with the recent conversation and
 * link, when given, to the inbox); false when nobody can be told. */
bool notify_handoff(struct turn *t, const char *why, const char *link);
/* Purchasing hears of a product asked for without stock (once a day). */
void notify_demand(struct turn *t, const struct bot_product *p,
    int64_t qty);
struct quote;
/* The salesperson hears of a confirmed quote Meta accepted (now). */
void notify_quote_sent(struct bot *b, const struct quote *q,
    const char *wa_id);
/* The name to show a salesperson for this customer. */
const char *customer_label(const struct turn *t);

#endif
