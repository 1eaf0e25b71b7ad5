/*
 * inbox.h - the salesperson's side of a conversation (DESIGN.md section 6):
 * who owns it (take, give back, an agent's activity, a coexistence echo),
 * and the inbox's CSRF tokens.
 *
 * Ownership changes go through store_conv_swap() under the conversation's
 * lease, so a salesperson's change never interleaves with a bot turn and
 * two salespeople can never both take one conversation. An agent's hold
 * lasts HANDOFF_HOURS from the last agent action (owner_until); after it
 * lib/bot gives the conversation back to Ovidio on the next message.
 *
 * The status files the status page reads are lib/status_file's.
 *
 * Ownership of memory: nothing here allocates what the caller must free.
 */
#ifndef OVIDIO_INBOX_H
#define OVIDIO_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status_file.h"
#include "store.h"

struct config;
struct wa_message;

#define INBOX_USER_MAX 48          /* REMOTE_USER bytes kept */
#define INBOX_CSRF_LEN 64          /* hex of an HMAC-SHA256 */
#define INBOX_AGENT_APP "app"      /* echoes from the WhatsApp Business app */
#define INBOX_AGENT_HANDOFF "handoff" /* Ovidio handed over, nobody took it */

enum inbox_act {
	INBOX_TAKE = 0,   /* owner = this salesperson (also an agent's reply) */
	INBOX_GIVE_BACK,  /* owner = Ovidio */
};

/* 1 when user is a usable salesperson name: 1..INBOX_USER_MAX printable
 * ASCII bytes other than space, '"', '<', '>', '&', '\\'. */
int inbox_user_ok(const char *user);

/* The user's CSRF token: hex HMAC-SHA256(secret, "inbox-csrf:" user). */
void inbox_csrf(const char *secret, const char *user,
    char out[INBOX_CSRF_LEN + 1]);
/* 1 when token is user's (constant-time compare); 0 for NULL. */
int inbox_csrf_ok(const char *secret, const char *user, const char *token);

/*
 * Change a conversation's owner for user at now; the hold lasts
 * hours * 3600 s. TAKE: refused (OV_EBUSY, *holder says by whom) when
 * another salesperson holds it and the hold has not run out; a
 * conversation Ovidio handed over, Ovidio's own, an expired hold or the
 * user's own are taken (the user's own: the hold moves). GIVE_BACK: the
 * conversation returns to Ovidio, pending question cleared. OV_EBUSY also
 * when a turn is running (try again); OV_ENOTFOUND for no conversation.
 * holder may be NULL.
 */
int inbox_own(struct store *st, const char *key, const char *user,
    enum inbox_act act, int64_t now, long hours, char *holder,
    size_t holderlen);

/*
 * A coexistence echo: a message the business sent from the WhatsApp
 * Business app (m->from holds the customer's number). Recorded as an
 * outbound message by the salesperson (status "sent", raw {"agent":"app"}),
 * and the conversation becomes agent-owned for hours (kept by the
 * salesperson who holds it, else "app"), so Ovidio stops talking over a
 * person. A repeat of the same echo changes nothing.
 */
int inbox_echo(struct store *st, const struct wa_message *m, int64_t now,
    long hours);

/* HANDOFF_HOURS from the configuration (default 4). */
long inbox_handoff_hours(const struct config *cfg);

#endif
