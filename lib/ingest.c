/* ingest - what a worker process does with the store (ingest.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "clock.h"
#include "err.h"
#include "inbox.h"
#include "ingest.h"
#include "log.h"
#include "mail.h"
#include "outbox.h"
#include "store.h"

#define SENDER_LOCKS 256      /* locks/sender-XX.lock buckets */
#define SENDER_WAIT_MS 10000  /* wait for an orphan handling our sender */

struct ingest {
	struct ingest_conf conf;
	struct store *st;        /* opened at the first need */
	struct bot *bot;
	bool bot_ready;          /* bot_start ran (bot NULL: replies off) */
};

/* Leases measure process liveness, so they run on the real clock even
 * when OVIDIO_NOW fixes business time (clock_now()) for a test. */
static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

static void
msg_to_store(const struct wa_message *wm, struct store_msg *sm)
{
	memset(sm, 0, sizeof(*sm));
	snprintf(sm->id, sizeof(sm->id), "%s", wm->id);
	snprintf(sm->wa_id, sizeof(sm->wa_id), "%s", wm->from);
	sm->dir = STORE_IN;
	sm->ts = wm->ts;
	snprintf(sm->type, sizeof(sm->type), "%s", wa_kind_name(wm->kind));
	sm->body = wm->text;
	sm->raw = wm->raw;
}

/* Keep one clientes record per WhatsApp number, named from the profile. */
static int
note_customer(struct store *st, const struct wa_message *wm)
{
	struct store_customer c;
	bool found;
	int rc;

	rc = store_customer_get(st, wm->from, &c, &found);
	if (rc != OV_OK)
		return rc;
	if (found && (wm->profile_name == NULL || (c.name != NULL &&
	    strcmp(c.name, wm->profile_name) == 0))) {
		store_customer_clear(&c);
		return OV_OK;
	}
	if (!found) {
		memset(&c, 0, sizeof(c));
		snprintf(c.wa_id, sizeof(c.wa_id), "%s", wm->from);
	}
	free(c.name);
	c.name = NULL;
	if (wm->profile_name != NULL &&
	    (c.name = strdup(wm->profile_name)) == NULL) {
		store_customer_clear(&c);
		return OV_ENOMEM;
	}
	rc = store_customer_put(st, &c);
	store_customer_clear(&c);
	return rc;
}

/*
 * Take back a message claimed (not handled) by a process that is gone:
 * the caller holds the sender's lock, which every claimer of this sender
 * holds while it works, and the store is on this machine. Claiming "now"
 * with no lease would miss a claim made within this same second, so the
 * claim is dated one second ahead.
 */
static int
reclaim(struct store *st, const struct store_msg *sm, enum store_claim *claim)
{
	int rc = store_inbound_claim(st, sm, now_s() + 1, 0, claim);

	if (rc == OV_OK && *claim == STORE_CLAIM_RETRY)
		log_msg(LOG_WARN, sm->id, "taken back from a process that is "
		    "gone");
	else if (rc == OV_OK)
		rc = OV_EBUSY;   /* someone else took it back first */
	return rc;
}

/*
 * Record an inbound message exactly once and claim it. *claimed is true
 * for NEW and RETRY: the caller then runs the turn over every message it
 * claimed and marks them handled, so a crash in between replays the turn.
 */
static int
claim_message(struct store *st, const struct wa_message *wm, int64_t lease,
    bool claimer_gone, bool *claimed)
{
	struct store_msg sm;
	enum store_claim claim;
	int rc;

	*claimed = false;
	msg_to_store(wm, &sm);
	rc = store_inbound_claim(st, &sm, now_s(), lease, &claim);
	if (rc != OV_OK) {
		log_msg(LOG_ERROR, wm->id, "cannot record message: %s",
		    ov_strerror(rc));
		return rc;
	}
	if (claim == STORE_CLAIM_DUPLICATE) {
		struct store_msg seen;
		bool found = false;

		/* Handled: this copy can go. Still "received": another process
		 * claimed it within its lease. When its claimer is known to be
		 * gone (claimer_gone), take it back now; otherwise keep the
		 * spool file so a run after the lease replays it. */
		rc = store_msg_get(st, wm->id, &seen, &found);
		if (rc == OV_OK && found && strcmp(seen.status, "handled") != 0)
			rc = claimer_gone ? reclaim(st, &sm, &claim) : OV_EBUSY;
		store_msg_clear(&seen);
		if (rc == OV_OK && claim == STORE_CLAIM_RETRY)
			goto claimed;
		if (rc != OV_OK) {
			log_msg(rc == OV_EBUSY ? LOG_INFO : LOG_ERROR, wm->id,
			    "%s", rc == OV_EBUSY ? "being handled by another "
			    "process; kept for a later run" :
			    "cannot read the message's state");
			return rc;
		}
		log_msg(LOG_DEBUG, wm->id, "duplicate, already handled");
		return OV_OK;
	}
claimed:
	if ((rc = note_customer(st, wm)) != OV_OK) {
		log_msg(LOG_ERROR, wm->id, "cannot record customer: %s",
		    ov_strerror(rc));
		return rc;
	}
	log_msg(LOG_INFO, wm->id, "%s from %s recorded%s",
	    wa_kind_name(wm->kind), wm->from,
	    claim != STORE_CLAIM_NEW ? " (replayed)" : "");
	*claimed = true;
	return OV_OK;
}

/* The turn over a sender's claimed messages, then each marked handled.
 * Without a bot (sending not configured) they are only recorded. */
static int
handle_turn(struct store *st, struct bot *bot,
    const struct wa_message *const *msgs, size_t n)
{
	int rc = OV_OK;

	if (n == 0)
		return OV_OK;
	if (bot != NULL && (rc = bot_turn(bot, msgs, n)) != OV_OK) {
		log_msg(LOG_ERROR, msgs[n - 1]->id, "turn for %s failed (%s); "
		    "replayed after the lease", msgs[0]->from, ov_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		int r = store_inbound_done(st, msgs[i]->id, now_s());

		if (r != OV_OK) {
			log_msg(LOG_ERROR, msgs[i]->id, "cannot mark handled: %s",
			    ov_strerror(r));
			rc = r;
		}
	}
	return rc;
}

bool
ingest_replies_on(const struct config *cfg)
{
	return config_get(cfg, "WHATSAPP_TOKEN") != NULL &&
	    config_get(cfg, "PHONE_NUMBER_ID") != NULL;
}

/*
 * The conversation. Replies are off only by choice: a deployment without
 * WHATSAPP_TOKEN or PHONE_NUMBER_ID records messages and sends nothing
 * (*bot NULL, OV_OK). Any other failure (a typo in another key, no memory)
 * is an error: the turn must wait for a fixed configuration, not be marked
 * handled unanswered.
 */
static int
bot_start(const struct config *cfg, struct store *st, struct bot **bot)
{
	char err[512];
	int rc;

	*bot = NULL;
	if (!ingest_replies_on(cfg))
		return OV_OK;   /* said once by main() */
	rc = bot_open(bot, cfg, st, err, sizeof(err));
	if (rc != OV_OK) {
		log_error("cannot start the conversation: %s", err);
		*bot = NULL;
	}
	return rc;
}

static int
handle_status(struct store *st, const struct wa_status *ws)
{
	bool found;
	int rc;

	rc = store_status_update(st, ws->id, ws->recipient, ws->status, ws->ts,
	    ws->error, &found);
	if (rc != OV_OK) {
		log_msg(LOG_ERROR, ws->id, "cannot record status %s: %s",
		    ws->status, ov_strerror(rc));
		return rc;
	}
	log_msg(LOG_DEBUG, ws->id, "status %s%s", ws->status,
	    found ? "" : " (before its message was recorded)");
	/* Meta took that message: an outbox entry still waiting (its sender
	 * died before it could say so) must not send that part again. */
	if (ws->callback[0] != '\0' &&
	    (rc = outbox_status_taken(st, ws->callback, ws->id)) != OV_OK) {
		log_msg(LOG_ERROR, ws->id, "cannot record that Meta took %s: %s",
		    ws->callback, ov_strerror(rc));
		return rc;
	}
	return OV_OK;
}

static bool
in_turn(const struct wa_message *const *turn, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(turn[i]->id, id) == 0)
			return true;
	return false;
}

/* The bucket lock for a sender: FNV-1a of its id. */
static int
sender_lock(const struct ingest *ig, const char *wa_id)
{
	char path[2200];
	uint32_t h = 2166136261u;
	int fd;

	for (const char *p = wa_id; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(path, sizeof(path), "%s/locks/sender-%02x.lock",
	    ig->conf.data_dir,
	    (unsigned)(h % SENDER_LOCKS));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	/* Another holder is an orphan of a killed coordinator finishing this
	 * sender's turn (or a stuck one): wait a little, in order, then leave
	 * the events for the next run. */
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited += 20) {
		if (errno != EWOULDBLOCK || waited >= SENDER_WAIT_MS) {
			close(fd);
			return -1;
		}
		usleep(20000);
	}
	return fd;
}

/* A message the store refuses as invalid can never be stored: keep it in
 * spool/failed (as a one-message payload, so --retry-failed can replay
 * it after a fix) and let the rest of its payload go on. */
static void
message_poisoned(const struct ingest *ig, const struct wa_message *wm, int rc)
{
	char name[SPOOL_NAME_MAX], why[256];
	char *body = NULL;
	size_t cap;
	const char *raw = wm->raw != NULL ? wm->raw : "{}";
	int n;

	cap = strlen(raw) + 256;
	if ((body = malloc(cap)) == NULL)
		return;
	n = snprintf(body, cap, "{\"object\":\"whatsapp_business_account\","
	    "\"entry\":[{\"id\":\"0\",\"changes\":[{\"field\":\"messages\","
	    "\"value\":{\"messaging_product\":\"whatsapp\",\"messages\":"
	    "[%s]}}]}]}", raw);
	snprintf(why, sizeof(why), "message refused by the store: %s",
	    ov_strerror(rc));
	if (n > 0 && (size_t)n < cap &&
	    spool_put_failed_why(ig->conf.spool, body, (size_t)n, why, now_s(),
	    name) == OV_OK)
		log_error("message from %s refused by the store (%s); kept as "
		    "spool/failed/%s, the rest of its payload goes on", wm->from,
		    ov_strerror(rc), name);
	else
		log_error("message from %s refused by the store (%s) and cannot "
		    "be kept in spool/failed; dropped", wm->from,
		    ov_strerror(rc));
	free(body);
}

int
ingest_open(struct ingest **out, const struct ingest_conf *conf)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return OV_ENOMEM;
	(*out)->conf = *conf;
	return OV_OK;
}

/* Drop the store and the conversation; the next need opens them afresh. */
static void
ingest_reset(struct ingest *ig)
{
	bot_close(ig->bot);
	store_close(ig->st);
	ig->bot = NULL;
	ig->st = NULL;
	ig->bot_ready = false;
}

void
ingest_close(struct ingest *ig)
{
	if (ig == NULL)
		return;
	ingest_reset(ig);
	free(ig);
}

static int
store_ready(struct ingest *ig)
{
	int rc;

	if (ig->st != NULL)
		return OV_OK;
	if ((rc = store_open(&ig->st, ig->conf.cfg)) != OV_OK) {
		log_error("cannot open the store: %s", ov_strerror(rc));
		ig->st = NULL;
	}
	return rc;
}

static int
bot_ready(struct ingest *ig)
{
	int rc;

	if (ig->bot_ready)
		return OV_OK;
	rc = bot_start(ig->conf.cfg, ig->st, &ig->bot);
	ig->bot_ready = rc == OV_OK;
	return rc;
}

int
ingest_sender(struct ingest *ig, const char *wa_id,
    const struct ingest_event *ev, size_t n)
{
	const struct wa_message **turn = NULL;
	size_t nturn = 0;
	int rc, first_error = OV_OK, slock;

	if ((slock = sender_lock(ig, wa_id)) < 0)
		return INGEST_BUSY;
	if ((rc = store_ready(ig)) != OV_OK) {
		close(slock);
		return INGEST_ERROR_BASE + rc;
	}
	if ((turn = calloc(n > 0 ? n : 1, sizeof(*turn))) == NULL) {
		log_error("out of memory");
		close(slock);
		return INGEST_ERROR_BASE + OV_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct wa_payload *p = ev[i].p;
		size_t k = ev[i].idx;
		bool claimed = false;

		rc = OV_OK;
		if (ev[i].kind == INGEST_MESSAGE && k < p->n_msgs) {
			/* Meta may deliver a message twice in quick succession:
			 * a copy of one this turn already claimed is that one. */
			if (in_turn(turn, nturn, p->msgs[k].id))
				continue;
			rc = claim_message(ig->st, &p->msgs[k], ig->conf.lease,
			    ig->conf.local_store, &claimed);
			if (claimed)
				turn[nturn++] = &p->msgs[k];
			if (rc == OV_EINVAL) {
				message_poisoned(ig, &p->msgs[k], rc);
				rc = OV_OK;
			}
		} else if (ev[i].kind == INGEST_ECHO && k < p->n_echoes) {
			/* inbox: a salesperson wrote from the app; Ovidio
			 * stays quiet (before this sender's turn runs). */
			rc = inbox_echo(ig->st, &p->echoes[k], clock_now(),
			    inbox_handoff_hours(ig->conf.cfg));
		} else if (ev[i].kind == INGEST_STATUS && k < p->n_statuses) {
			rc = handle_status(ig->st, &p->statuses[k]);
			/* A status is information only: one the store refuses
			 * for good is not worth holding its payload back. */
			if (rc == OV_EINVAL)
				rc = OV_OK;
		} else {
			log_error("event %zu of %s is not in its payload", k,
			    wa_id);
			rc = OV_EIO;
		}
		if (rc != OV_OK && first_error == OV_OK)
			first_error = rc;
	}
	if (nturn > 0) {
		/* The spool file stays for a replay when this fails. */
		if ((rc = bot_ready(ig)) == OV_OK)
			rc = handle_turn(ig->st, ig->bot, turn, nturn);
		if (rc != OV_OK && first_error == OV_OK)
			first_error = rc;
	}
	free(turn);
	close(slock);
	/* After a failure start afresh, as a new process would: a store or
	 * connection left in a bad state is not reused. */
	if (first_error != OV_OK)
		ingest_reset(ig);
	return first_error == OV_OK ? INGEST_DONE :
	    INGEST_ERROR_BASE + first_error;
}

/* E-mail notices queued while the server could not take them. */
static void
drain_mail_queue(const struct config *cfg)
{
	struct mail *m = NULL;
	char err[256];
	size_t sent = 0, left = 0;

	if (mail_open(cfg, &m, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		return;
	}
	if (mail_configured(m) && mail_queue_drain(m, &sent, &left) == OV_OK &&
	    (sent > 0 || left > 0))
		log_info("mail queue: %zu sent, %zu waiting", sent, left);
	mail_close(m);
}

void
ingest_drain(struct ingest *ig)
{
	size_t sent = 0, left = 0;
	bool work = true;

	drain_mail_queue(ig->conf.cfg);
	if (store_ready(ig) != OV_OK)
		return;
	/* Nothing to do now (the usual case): no clients to start. An entry
	 * claimed by a process that died is something to do: it is taken
	 * back at once. */
	if (outbox_work_waiting(ig->st, now_s(), &work) == OV_OK && !work)
		return;
	if (bot_ready(ig) != OV_OK || ig->bot == NULL)
		return;
	if (bot_drain_outbox(ig->bot, &sent, &left) != OV_OK)
		log_error("cannot drain the outbox");
	else if (sent > 0 || left > 0)
		log_info("outbox: %zu sent, %zu waiting", sent, left);
}
