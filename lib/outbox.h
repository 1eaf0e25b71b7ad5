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
 * outbox_drain() sends what is due, oldest first. A send that fails again
 * is rescheduled with doubling waits from OUTBOX_RETRY_S (at most an hour);
 * after OUTBOX_MAX_ATTEMPTS tries or 24 hours it is given up: an error in
 * the log and a "failed" record. When Meta still fails, the drain stops
 * for this run (the rest waits for the next). Each entry is claimed
 * before it is sent (store_outbox_claim), so drains running at once on
 * several web nodes never send one reply twice; a drain that dies after
 * claiming leaves the entry due again OUTBOX_CLAIM_S later.
 *
 * Kinds and their payload (a JSON object; lib/bot builds them):
 *   "text"     {"text"}
 *   "buttons"  {"body", "buttons": [{"id","title"}...], "header"?, "footer"?}
 *   "list"     {"body", "button", "rows": [{"id","title","description"?}],
 *               "section"?, "header"?, "footer"?}
 *   "pdf"      {"path", "filename", "caption"?, "link_path"?, ...}: the
 *              file is uploaded, or sent by link when the upload fails
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

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct config;
struct store;
struct wa_client;

#define OUTBOX_DRAIN_MAX 200      /* entries looked at per drain */
#define OUTBOX_GIVE_UP_S 86400    /* a day */
#define OUTBOX_RETRY_MAX_S 3600
#define OUTBOX_CLAIM_S 300        /* a claimed entry's send must end by then */

/* Called once per reply Meta accepted (first part's wamid). */
typedef void (*outbox_sent_fn)(void *arg, const char *wa_id,
    const char *kind, const cJSON *payload, const char *wamid);

struct outbox {
	struct store *st;
	struct wa_client *wa;
	long retry_s;
	long max_attempts;
	outbox_sent_fn on_sent;   /* may be NULL */
	void *on_sent_arg;
	unsigned counter;         /* for unique entry ids */
};

enum outbox_outcome {
	OUTBOX_SENT = 0,
	OUTBOX_QUEUED,            /* kept for a later drain */
	OUTBOX_FAILED             /* not retried; recorded as failed */
};

/* Read OUTBOX_RETRY_S and OUTBOX_MAX_ATTEMPTS. OV_ECONFIG with err. */
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

/* The text a person would read for a payload, for the history (malloc'd,
 * caller frees; NULL when out of memory). */
char *outbox_describe(const char *kind, const cJSON *payload);

#endif
