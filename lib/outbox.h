/*
 * outbox.h - every reply goes out through here, so none is lost.
 *
 * outbox_send() tries to send a reply now through lib/whatsapp:
 *   - accepted: each message Meta accepted is recorded in mensajes
 *     (store_outbound_put, status "pending" until Meta's status webhooks
 *     raise it) with its wamid;
 *   - WA_SEND_RETRY_LATER (rate limit, 5xx, time-out, network) or
 *     WA_SEND_AUTH (a configuration error, logged by lib/whatsapp): kept
 *     in the store's outbox with the whole request, and sent by a later
 *     outbox_drain() (every worker run; cron runs one each minute);
 *   - WA_SEND_WINDOW_CLOSED (131047), REJECTED, INVALID: not retried;
 *     recorded in mensajes as "failed" with the reason.
 * A customer who already has replies waiting gets new ones queued behind
 * them, so replies never arrive out of order.
 *
 * A turn does not send: outbox_entry() makes each reply an outbox entry,
 * the turn commits them with its state (store_turn_commit), and then
 * outbox_flush_for() sends that customer's entries at once, oldest first,
 * stopping at the first one that must wait so the order holds.
 *
 * outbox_drain() first completes turns a crash left half applied
 * (store_turn_recover), then sends what is due: lane by lane (replies,
 * a salesperson's messages, campaigns: the store orders them), oldest
 * first within a lane. A send that fails again
 * is rescheduled with doubling waits from OUTBOX_RETRY_S (at most an hour);
 * after OUTBOX_MAX_ATTEMPTS tries or 24 hours it is given up: an error in
 * the log and a "failed" record. When Meta still fails, the drain stops
 * for this run (the rest waits for the next). Each entry is claimed
 * before it is sent (store_outbox_claim, naming this process as
 * "host:pid"), so drains running at once on several web nodes never send
 * one reply twice. A claimer that is alive but stuck keeps the entry for
 * claim_s (config OUTBOX_CLAIM_S, default 300 seconds: longer than any
 * send takes); one of another host, too. A claimer of this host that is
 * gone (killed mid-send) loses it to the next drain at once.
 *
 * Nothing doubled: every message sent for an entry carries
 * biz_opaque_callback_data "ob:<entry id>:<part>", which Meta echoes in
 * the message's status webhooks; the worker hands those to
 * outbox_status_taken(), which records the part as taken for the entry
 * while it waits. An entry taken back from a dead claimer waits
 * OUTBOX_INFLIGHT_GRACE_S (default 20 seconds, at most 600; more than a
 * request's time-out plus the status webhook's way here) for the status
 * of a message that may have been in flight, unless every part is
 * accounted for already; then only the parts no status came back for go
 * (at least once stays the floor: a status lost or later than the grace
 * means the part goes again). The same holds for any entry tried before,
 * e.g. a send that timed out after Meta took it.
 *
 * Kinds and their payload (a JSON object; lib/bot builds them):
 *   "text"     {"text"}
 *   "buttons"  {"body", "buttons": [{"id","title"}...], "header"?, "footer"?}
 *   "list"     {"body", "button", "rows": [{"id","title","description"?}],
 *               "section"?, "header"?, "footer"?}
 *   "image"    {"link", "caption"?}: a picture by its http(s) link
 *   "pdf"      {"path", "filename", "caption"?, "link_path"?, ...}: the
 *              file is uploaded, or sent by link when the upload fails
 *   "template" {"name", "language"?, "params": [...], "buttons": [payload
 *              ...]?, "text"?}: an approved template (proactive messages
 *              outside the 24-hour window; see the end of outbox.c)
 *
 * Campaign lane (STORE_LANE_CAMPAIGN, proactive messages): at most
 * CAMPAIGN_RATE sends per second (default 10), and one drain gives them
 * at most campaign_budget_ms (the rest waits for the next); a refusal
 * with Meta's
 * 131050 opts the customer out of marketing, 131049 undoes the entry's
 * "marker" so another day may try again; an entry whose "expires_in"
 * (seconds after created_at: the end of the quiet hours) has passed is
 * dropped and its marker undone.
 * Extra members are kept and handed to the on_sent callback (lib/bot puts
 * a quote id there to mark the quote sent once Meta accepted the PDF).
 *
 * Scheduling runs on the real clock (time(NULL)), like spool leases: it
 * measures Meta's availability, not business time.
 *
 * Ownership: struct outbox is the caller's; it borrows the store and the
 * WhatsApp client (both must outlive it) and needs no freeing. Payloads
 * are borrowed for the call.
 */
#ifndef OVIDIO_OUTBOX_H
#define OVIDIO_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "store.h"

struct config;
struct wa_client;

#define OUTBOX_DRAIN_MAX 200      /* entries looked at per drain */
#define OUTBOX_GIVE_UP_S 86400    /* a day */
/* A customer waits for a reply Meta refused for a moment (5xx, 429,
 * time-out): the first resend comes soon, then the waits double. */
#define OUTBOX_RETRY_DEFAULT_S 10
#define OUTBOX_RETRY_MAX_S 3600
#define OUTBOX_CLAIM_DEFAULT_S 300 /* a claimed entry's send must end by then */
#define OUTBOX_CLAIM_MAX_S 86400
#define OUTBOX_INFLIGHT_GRACE_DEFAULT_S 20 /* a dead claimer's last send */
#define OUTBOX_INFLIGHT_GRACE_MAX_S 600
#define OUTBOX_CAMPAIGN_RATE_DEFAULT 10 /* campaign sends per second */
#define OUTBOX_CAMPAIGN_RATE_MAX 1000
#define OUTBOX_CAMPAIGN_BUDGET_MS 2000

/* Called once per reply Meta accepted (first part's wamid). */
typedef void (*outbox_sent_fn)(void *arg, const char *wa_id,
    const char *kind, const cJSON *payload, const char *wamid);

struct outbox {
	struct store *st;
	struct wa_client *wa;
	long retry_s;
	long max_attempts;
	long claim_s;             /* OUTBOX_CLAIM_S */
	long inflight_grace_s;    /* OUTBOX_INFLIGHT_GRACE_S */
	outbox_sent_fn on_sent;   /* may be NULL */
	void *on_sent_arg;
	unsigned counter;         /* for unique entry ids */
	long campaign_rate;       /* CAMPAIGN_RATE: campaign sends per second */
	long campaign_budget_ms;  /* time one drain may give campaigns (0: no
	                             limit); default OUTBOX_CAMPAIGN_BUDGET_MS so
	                             a worker's drain never keeps replies waiting
	                             behind a throttled campaign; jobs/notify
	                             sets 0 for its own */
	struct timespec campaign_last; /* last campaign send (monotonic) */
};

enum outbox_outcome {
	OUTBOX_SENT = 0,
	OUTBOX_QUEUED,            /* kept for a later drain */
	OUTBOX_FAILED             /* not retried; recorded as failed */
};

/* Read OUTBOX_RETRY_S, OUTBOX_MAX_ATTEMPTS, OUTBOX_CLAIM_S (1..OUTBOX_
 * CLAIM_MAX_S) and OUTBOX_INFLIGHT_GRACE_S (0..OUTBOX_INFLIGHT_GRACE_MAX_S).
 * OV_ECONFIG with err. */
int outbox_init(struct outbox *o, const struct config *cfg,
    struct store *st, struct wa_client *wa, char *err, size_t errlen);

/* Send or queue one reply. OV_OK whenever the reply was dealt with (sent,
 * queued, or recorded as failed: see *outcome); OV_EINVAL for a payload
 * of the wrong shape; store errors as they come (nothing was lost only
 * if the reply was queued: the caller then fails the turn so it is
 * replayed). */
int outbox_send(struct outbox *o, const char *wa_id, const char *kind,
    const cJSON *payload, enum outbox_outcome *outcome);

/* Send what is due. sent and left may be NULL. */
int outbox_drain(struct outbox *o, size_t *sent, size_t *left);

/*
 * A reply as an outbox entry for store_turn_commit(): the payload checked
 * as a send checks it (OV_EINVAL for the wrong shape, an unknown kind, a
 * bad wa_id or lane) and printed into out->payload (malloc'd; OV_ETOOBIG
 * over STORE_TEXT_MAX), due now, no tries yet. id: the entry's id
 * (1..STORE_OUTBOX_ID_MAX bytes, e.g. "<turn id>#<i>"), or NULL for a
 * fresh one. Release out with store_outbox_clear().
 */
int outbox_entry(struct outbox *o, const char *wa_id, enum store_lane lane,
    const char *kind, const cJSON *payload, const char *id,
    struct store_outbox *out);

/* Send wa_id's due entries now, oldest first, each claimed first and,
 * once Meta took it, recorded and deleted as outbox_drain() does. Stops
 * at the first entry that must wait (not due, failing, or being sent by
 * another process): later ones never overtake it. sent and left (the
 * entries still there) may be NULL. */
int outbox_flush_for(struct outbox *o, const char *wa_id, size_t *sent,
    size_t *left);

/* Is there anything for a drain to do now: an entry due, or one claimed
 * by a process of this host that is gone (taken back at once)? A cheap
 * look before starting the WhatsApp client. */
int outbox_work_waiting(struct store *st, int64_t now, bool *any);

/* A status webhook for the message wamid carried callback (wa_status.
 * callback): when it names an outbox entry's part ("ob:<id>:<part>"), the
 * part is recorded as taken by Meta (store_outbox_taken_put). OV_OK also
 * for a callback that is not ours or an entry already gone; store errors
 * as they come. */
int outbox_status_taken(struct store *st, const char *callback,
    const char *wamid);

/* The text a person would read for a payload, for the history (malloc'd,
 * caller frees; NULL when out of memory). */
char *outbox_describe(const char *kind, const cJSON *payload);

#endif
