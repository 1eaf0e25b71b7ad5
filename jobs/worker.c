/*
 * jobs/worker - drains the webhook spool into the store.
 *
 * Started detached by cgi-bin/webhook after each accepted POST, and by
 * cron every minute for crash recovery. One coordinator runs at a time
 * (flock on locks/worker.lock); copies that find it taken exit at once,
 * because the running coordinator polls the spool until it is empty.
 *
 * The coordinator claims spool files (new/ -> cur/) in small batches,
 * parses them, and queues every message and status under its sender. Up
 * to OVIDIO_WORKERS children run at once, each handling one sender's queue
 * in timestamp order, so a sender is never handled by two processes at
 * once while different senders proceed in parallel. A spool file is
 * removed only when every event in it was stored.
 *
 * Recovery without waiting out a lease. Every process that claims work
 * holds a lock that the kernel releases when it dies:
 *  - the coordinator holds locks/worker.lock: a coordinator that gets it
 *    knows the previous one is gone, so every file in cur/ goes back to
 *    new/ at once;
 *  - a child holds locks/sender-XX.lock (XX: a hash of the sender) while
 *    it handles that sender. Orphans of a killed coordinator keep theirs
 *    until they finish, so a new child for the same sender waits for
 *    them: a customer's messages stay in order across a crash. And a
 *    message the store shows claimed but not handled, found by a child
 *    that holds its sender's lock, was claimed by a process that is gone:
 *    the child takes it back at once (SQLite: one machine, so the lock
 *    proves it; on MongoDB other nodes do not share our locks and the
 *    store's lease decides).
 * The lease (OVIDIO_SPOOL_LEASE) is left for a live process that is stuck:
 * the coordinator kills a child that outlives it, and files a stuck
 * coordinator holds go back after it.
 *
 * Poison. A file whose handling fails is kept in cur/ and its sender is
 * held back for the rest of the run (its later messages must not overtake
 * it); the next run tries again. A file that fails the same way
 * OVIDIO_POISON_ATTEMPTS times, or is not a WhatsApp payload, moves to
 * spool/failed with a .why beside it; a single message the store refuses
 * as invalid goes there alone and the rest of its payload is handled.
 * `worker --retry-failed [FILE]` puts failed files back.
 *
 * Each child claims its sender's new messages (recorded exactly once by
 * the store), runs one conversation turn over all of them (lib/bot), and
 * only then marks them handled, so a crash replays the turn. A status
 * whose callback data names an outbox entry's part tells the outbox that
 * Meta took it (outbox_status_taken), so a reply whose sender died after
 * Meta took it is not sent again. When the
 * spool is empty, one more child sends the replies waiting in the outbox
 * and the e-mail notices waiting in mailq/ (lib/mail).
 *
 * The coordinator never touches the store: each child opens its own (a
 * MongoDB client must not cross fork()).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "fsperm.h"
#include "inbox.h"
#include "log.h"
#include "mail.h"
#include "outbox.h"
#include "spool.h"
#include "store.h"
#include "wa_payload.h"

#define CLAIM_BATCH 16        /* spool files claimed per pass */
#define HELD_FILES_MAX 128    /* stop claiming while this many are in work */
#define SENDER_LOCKS 256      /* locks/sender-XX.lock buckets */
#define SENDER_WAIT_MS 10000  /* wait for an orphan handling our sender */
#define EXIT_BUSY 75          /* child: the sender's lock stayed taken */
#define EXIT_ERROR_BASE 10    /* child: 10 + the first OV_* error */
#define TMP_MAX_AGE_S 3600    /* spool/tmp leftovers older than this go */
#define RETRY_EVERY_S 30      /* a busy coordinator retries what it left */
#define POLL_USEC 20000       /* how often an idle coordinator looks again */
#define IDLE_POLLS_MAX 5      /* empty polls before giving up the lock */
#define DRAIN_EVERY_S 10      /* outbox drains while the spool stays busy */

struct held_file {
	char *name;
	struct wa_payload payload;
	size_t pending;          /* events not yet finished by a child */
	bool failed;             /* a child failed on one of its events */
	bool held;               /* left for a later run, not a failure */
	char error[128];         /* how it failed (first failure) */
};

enum event_kind { EV_MESSAGE, EV_STATUS, EV_ECHO /* inbox */ };

struct event {
	size_t file;             /* index into worker.files */
	enum event_kind kind;
	size_t idx;              /* index into that payload's msgs/statuses */
	int64_t ts;
	size_t order;            /* arrival order, for a stable sort */
};

struct sender {
	char wa_id[WA_KEY_MAX + 1];   /* phone or BSUID (wa_payload.h) */
	struct event *queue;     /* waiting for a child */
	size_t nqueue, capqueue;
	struct event *busy;      /* handed to the running child */
	size_t nbusy;
	pid_t pid;               /* 0 when no child runs for this sender */
	int64_t started;         /* when that child started */
	bool blocked;            /* a turn failed: later events wait (order) */
};

struct worker {
	const struct config *cfg;
	struct spool spool;
	char data_dir[2048];
	long max_children;
	long lease;
	long poison_max;         /* OVIDIO_POISON_ATTEMPTS */
	bool local_store;        /* SQLite: our locks cover every claimer */
	struct held_file *files;
	size_t nfiles, capfiles;
	struct sender *senders;
	size_t nsenders, capsenders;
	char **left;             /* files left in cur/ for another try */
	size_t nleft, capleft;
	size_t running;
	size_t order;
	int lockfd;              /* locks/worker.lock, held while coordinating */
	int64_t last_recover;    /* last spool_recover() while coordinating */
	int64_t last_drain;      /* when the outbox was last drained */
	int64_t last_retry;      /* when files left in cur/ were last released */
	/* Totals for the summary line. */
	size_t n_files, n_msgs, n_statuses, n_failed_files, n_poisoned;
};

/* Leases measure process liveness, so they run on the real clock even
 * when OVIDIO_NOW fixes business time (clock_now()) for a test. */
static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- the child: one sender's events into the store ------------------- */

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

static bool
replies_configured(const struct config *cfg)
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
	if (!replies_configured(cfg))
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

static int
cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
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
sender_lock(const struct worker *w, const char *wa_id)
{
	char path[2200];
	uint32_t h = 2166136261u;
	int fd;

	for (const char *p = wa_id; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(path, sizeof(path), "%s/locks/sender-%02x.lock", w->data_dir,
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
message_poisoned(struct worker *w, const struct wa_message *wm, int rc)
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
	    spool_put_failed_why(&w->spool, body, (size_t)n, why, now_s(),
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

/* Runs in the child; never returns. Statuses are applied in order; the
 * sender's new messages pending together make one turn. Exit 0 when all
 * was stored, EXIT_BUSY when the sender's lock stayed taken, else
 * EXIT_ERROR_BASE + the first error. */
static void
run_sender(struct worker *w, struct sender *s)
{
	struct store *st = NULL;
	struct bot *bot = NULL;
	const struct wa_message **turn = NULL;
	size_t nturn = 0;
	int rc, first_error = OV_OK, slock;

	/* The lock belongs to the coordinator: a child must not keep it held
	 * if the coordinator dies, or webhooks would think a worker runs. */
	close(w->lockfd);
	if ((slock = sender_lock(w, s->wa_id)) < 0)
		_exit(EXIT_BUSY);
	rc = store_open(&st, w->cfg);
	if (rc != OV_OK) {
		log_error("cannot open the store: %s", ov_strerror(rc));
		_exit(EXIT_ERROR_BASE + rc);
	}
	turn = calloc(s->nbusy, sizeof(*turn));
	if (turn == NULL) {
		log_error("out of memory");
		_exit(EXIT_ERROR_BASE + OV_ENOMEM);
	}
	for (size_t i = 0; i < s->nbusy; i++) {
		const struct event *ev = &s->busy[i];
		const struct wa_payload *p = &w->files[ev->file].payload;
		bool claimed = false;

		if (ev->kind == EV_MESSAGE) {
			/* Meta may deliver a message twice in quick succession:
			 * a copy of one this turn already claimed is that one. */
			if (in_turn(turn, nturn, p->msgs[ev->idx].id))
				continue;
			rc = claim_message(st, &p->msgs[ev->idx], w->lease,
			    w->local_store, &claimed);
			if (claimed)
				turn[nturn++] = &p->msgs[ev->idx];
			if (rc == OV_EINVAL) {
				message_poisoned(w, &p->msgs[ev->idx], rc);
				rc = OV_OK;
			}
		} else if (ev->kind == EV_ECHO) {
			/* inbox: a salesperson wrote from the app; Ovidio
			 * stays quiet (before this sender's turn runs). */
			rc = inbox_echo(st, &p->echoes[ev->idx], clock_now(),
			    inbox_handoff_hours(w->cfg));
		} else {
			rc = handle_status(st, &p->statuses[ev->idx]);
			/* A status is information only: one the store refuses
			 * for good is not worth holding its payload back. */
			if (rc == OV_EINVAL)
				rc = OV_OK;
		}
		if (rc != OV_OK && first_error == OV_OK)
			first_error = rc;
	}
	if (nturn > 0) {
		/* The spool file stays for a replay when this fails. */
		if ((rc = bot_start(w->cfg, st, &bot)) != OV_OK ||
		    (rc = handle_turn(st, bot, turn, nturn)) != OV_OK) {
			if (first_error == OV_OK)
				first_error = rc;
		}
		bot_close(bot);
	}
	free(turn);
	store_close(st);
	close(slock);
	_exit(first_error == OV_OK ? 0 : EXIT_ERROR_BASE + first_error);
}

/* E-mail notices queued while the server could not take them. */
static void
drain_mail_queue(struct worker *w)
{
	struct mail *m = NULL;
	char err[256];
	size_t sent = 0, left = 0;

	if (mail_open(w->cfg, &m, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		return;
	}
	if (mail_configured(m) && mail_queue_drain(m, &sent, &left) == OV_OK &&
	    (sent > 0 || left > 0))
		log_info("mail queue: %zu sent, %zu waiting", sent, left);
	mail_close(m);
}

/* Replies kept in the outbox go out now (each run; cron makes it every
 * minute). In a child: the coordinator never touches the store. */
static void
drain_outbox(struct worker *w)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		struct store *st = NULL;
		struct bot *bot = NULL;
		size_t sent = 0, left = 0;

		bool work = true;

		close(w->lockfd);
		drain_mail_queue(w);
		if (store_open(&st, w->cfg) != OV_OK)
			_exit(1);
		/* Nothing to do now (the usual case): no clients to start. An
		 * entry claimed by a process that died is something to do: it
		 * is taken back at once. */
		if (outbox_work_waiting(st, now_s(), &work) == OV_OK && !work) {
			store_close(st);
			_exit(0);
		}
		if (bot_start(w->cfg, st, &bot) == OV_OK && bot != NULL) {
			if (bot_drain_outbox(bot, &sent, &left) != OV_OK)
				log_error("cannot drain the outbox");
			else if (sent > 0 || left > 0)
				log_info("outbox: %zu sent, %zu waiting", sent,
				    left);
			bot_close(bot);
		}
		store_close(st);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* ---- the coordinator ------------------------------------------------- */

static struct sender *
sender_get(struct worker *w, const char *wa_id)
{
	struct sender *s;

	for (size_t i = 0; i < w->nsenders; i++)
		if (strcmp(w->senders[i].wa_id, wa_id) == 0)
			return &w->senders[i];
	if (w->nsenders == w->capsenders) {
		size_t cap = w->capsenders ? w->capsenders * 2 : 16;
		s = realloc(w->senders, cap * sizeof(*s));
		if (s == NULL)
			return NULL;
		w->senders = s;
		w->capsenders = cap;
	}
	s = &w->senders[w->nsenders++];
	memset(s, 0, sizeof(*s));
	snprintf(s->wa_id, sizeof(s->wa_id), "%s", wa_id);
	return s;
}

static int
enqueue(struct worker *w, const char *wa_id, struct event ev)
{
	struct sender *s = sender_get(w, wa_id);

	if (s == NULL)
		return OV_ENOMEM;
	if (s->nqueue == s->capqueue) {
		size_t cap = s->capqueue ? s->capqueue * 2 : 8;
		struct event *q = realloc(s->queue, cap * sizeof(*q));
		if (q == NULL)
			return OV_ENOMEM;
		s->queue = q;
		s->capqueue = cap;
	}
	ev.order = w->order++;
	if (s->blocked) {
		/* An earlier turn of this sender failed in this run: its later
		 * events wait in cur/ for the next run, behind it. */
		w->files[ev.file].held = true;
		return OV_OK;
	}
	s->queue[s->nqueue++] = ev;
	w->files[ev.file].pending++;
	return OV_OK;
}

/* Remember a file left in cur/: a coordinator that keeps running under
 * steady traffic gives it another try after RETRY_EVERY_S. */
static void
leave_file(struct worker *w, const char *name)
{
	char *copy;

	if (w->nleft == w->capleft) {
		size_t cap = w->capleft ? w->capleft * 2 : 16;
		char **grown = realloc(w->left, cap * sizeof(*grown));

		if (grown == NULL)
			return;   /* the next run, or the lease, brings it back */
		w->left = grown;
		w->capleft = cap;
	}
	if ((copy = strdup(name)) != NULL)
		w->left[w->nleft++] = copy;
}

/* Whether a file that will be left in cur/ (a held or failed event in it)
 * still has other events in work. Its held events belong to a blocked
 * sender: unblocking that sender before the file is left and released
 * would let the sender's newer messages overtake them. */
static bool
left_in_work(const struct worker *w)
{
	for (size_t i = 0; i < w->nfiles; i++)
		if (w->files[i].name != NULL &&
		    (w->files[i].held || w->files[i].failed))
			return true;
	return false;
}

/* Give the files left in cur/ another try, in arrival order (their names
 * sort before anything newer in new/), and let held senders go again. */
static void
retry_left(struct worker *w)
{
	size_t moved = 0;

	for (size_t i = 0; i < w->nleft; i++) {
		if (spool_release(&w->spool, w->left[i]) == OV_OK)
			moved++;
		free(w->left[i]);
	}
	w->nleft = 0;
	for (size_t i = 0; i < w->nsenders; i++)
		w->senders[i].blocked = false;
	if (moved > 0)
		log_info("%zu spool file(s) back for another try", moved);
}

/* A file whose events are all finished is removed, or left in cur/ for a
 * later run when any of them failed or waited; after failing the same way
 * poison_max times it goes to spool/failed. */
static void
file_settle(struct worker *w, size_t i)
{
	struct held_file *f = &w->files[i];
	unsigned tries = 0;

	if (f->name == NULL || f->pending > 0)
		return;
	if (f->failed) {
		if (spool_attempt(&w->spool, f->name, f->error, now_s(),
		    &tries) == OV_OK && tries >= (unsigned)w->poison_max &&
		    spool_fail_why(&w->spool, f->name, f->error, now_s()) ==
		    OV_OK) {
			log_error("%s failed %u times (%s); moved to "
			    "spool/failed", f->name, tries, f->error);
			w->n_poisoned++;
		} else {
			log_warn("%s not fully stored (%s, attempt %u); it stays "
			    "in spool/cur for the next run", f->name, f->error,
			    tries);
			w->n_failed_files++;
			leave_file(w, f->name);
		}
	} else if (f->held) {
		log_info("%s waits in spool/cur behind an earlier message of "
		    "its sender", f->name);
		w->n_failed_files++;
		leave_file(w, f->name);
	} else if (spool_done(&w->spool, f->name) != OV_OK) {
		log_error("cannot remove spool file %s", f->name);
	}
	wa_payload_free(&f->payload);
	free(f->name);
	f->name = NULL;
}

static size_t
held_files(const struct worker *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->nfiles; i++)
		if (w->files[i].name != NULL)
			n++;
	return n;
}

/* Take one claimed file into work. Malformed content goes to failed/. */
static int
take_file(struct worker *w, char *name)
{
	struct held_file *f;
	char *body = NULL;
	size_t len, idx;
	int rc;

	if (w->nfiles == w->capfiles) {
		size_t cap = w->capfiles ? w->capfiles * 2 : 64;
		f = realloc(w->files, cap * sizeof(*f));
		if (f == NULL) {
			/* Left in cur/: the lease brings it back. */
			log_error("out of memory taking %s", name);
			free(name);
			return OV_ENOMEM;
		}
		w->files = f;
		w->capfiles = cap;
	}
	idx = w->nfiles++;
	f = &w->files[idx];
	memset(f, 0, sizeof(*f));
	f->name = name;
	w->n_files++;

	rc = spool_read(&w->spool, name, WA_BODY_MAX, &body, &len);
	if (rc == OV_OK)
		rc = wa_payload_parse(body, len, &f->payload);
	free(body);
	if (rc == OV_EPARSE || rc == OV_ETOOBIG) {
		char why[128];

		snprintf(why, sizeof(why), "not a WhatsApp payload: %s",
		    ov_strerror(rc));
		log_error("%s is not a WhatsApp payload (%s); moved to "
		    "spool/failed", name, ov_strerror(rc));
		spool_fail_why(&w->spool, name, why, now_s());
		w->n_poisoned++;
		free(f->name);
		f->name = NULL;
		return OV_OK;
	}
	if (rc != OV_OK) {
		/* Unreadable for now: leave it in cur/ for the lease replay. */
		log_error("cannot read %s: %s", name, ov_strerror(rc));
		free(f->name);
		f->name = NULL;
		return OV_OK;
	}
	for (size_t i = 0; i < f->payload.n_msgs && rc == OV_OK; i++) {
		const struct wa_message *m = &f->payload.msgs[i];
		struct event ev = { idx, EV_MESSAGE, i, m->ts, 0 };
		rc = enqueue(w, m->from, ev);
	}
	for (size_t i = 0; i < f->payload.n_statuses && rc == OV_OK; i++) {
		const struct wa_status *s = &w->files[idx].payload.statuses[i];
		struct event ev = { idx, EV_STATUS, i, s->ts, 0 };
		rc = enqueue(w, s->recipient, ev);
	}
	/* inbox: coexistence echoes, in order with the customer's own. */
	for (size_t i = 0; i < f->payload.n_echoes && rc == OV_OK; i++) {
		const struct wa_message *m = &w->files[idx].payload.echoes[i];
		struct event ev = { idx, EV_ECHO, i, m->ts, 0 };
		rc = enqueue(w, m->from, ev);
	}
	if (rc != OV_OK) {
		/* Part of it is queued: once that part is done the file must
		 * stay in cur/ for a replay, not be removed. */
		log_error("out of memory queueing %s; it is retried by the next "
		    "run", f->name);
		f->held = true;
		file_settle(w, idx);
		return rc;
	}
	w->n_msgs += f->payload.n_msgs;
	w->n_statuses += f->payload.n_statuses;
	file_settle(w, idx);   /* nothing in it (e.g. only skipped items) */
	return OV_OK;
}

/* Claim what is waiting in new/. Returns how many files were taken. */
static size_t
claim_more(struct worker *w)
{
	char **names = NULL;
	size_t n = 0, taken = 0;

	if (held_files(w) >= HELD_FILES_MAX)
		return 0;
	if (spool_claim(&w->spool, CLAIM_BATCH, &names, &n) != OV_OK)
		return 0;
	for (size_t i = 0; i < n; i++) {
		take_file(w, names[i]);   /* logs its own failures */
		names[i] = NULL;    /* owned by w->files now (or freed) */
		taken++;
	}
	spool_names_free(names, n);
	return taken;
}

/* The idle sender whose queued event arrived first, or NULL. Taking the
 * oldest first keeps a busy sender from starving the others. */
static struct sender *
next_sender(struct worker *w)
{
	struct sender *best = NULL;

	for (size_t i = 0; i < w->nsenders; i++) {
		struct sender *s = &w->senders[i];

		if (s->pid != 0 || s->nqueue == 0 || s->blocked)
			continue;
		if (best == NULL || s->queue[0].order < best->queue[0].order)
			best = s;
	}
	return best;
}

/* Start a child for idle senders with queued events, up to the limit. */
static void
dispatch(struct worker *w)
{
	struct sender *s;

	while (w->running < (size_t)w->max_children &&
	    (s = next_sender(w)) != NULL) {
		pid_t pid;

		qsort(s->queue, s->nqueue, sizeof(*s->queue), cmp_event);
		/* Hand the whole queue over; a fresh one collects new events. */
		s->busy = s->queue;
		s->nbusy = s->nqueue;
		s->queue = NULL;
		s->nqueue = s->capqueue = 0;
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			log_error("fork: %s", strerror(errno));
			s->queue = s->busy;
			s->nqueue = s->capqueue = s->nbusy;
			s->busy = NULL;
			s->nbusy = 0;
			return;
		}
		if (pid == 0)
			run_sender(w, s);
		s->pid = pid;
		s->started = now_s();
		w->running++;
	}
}

/* How a child ended, for the log and the poison count ("" when well). */
static void
child_error(int status, char *buf, size_t cap)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	buf[0] = '\0';
	if (code == 0)
		return;
	if (code == EXIT_BUSY)
		snprintf(buf, cap, "sender busy in another process");
	else if (code >= EXIT_ERROR_BASE && code < EXIT_ERROR_BASE + OV__MAX)
		snprintf(buf, cap, "%s", ov_strerror(code - EXIT_ERROR_BASE));
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, cap, "exit %d", code);
}

static void
child_finished(struct worker *w, pid_t pid, int status)
{
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	bool busy = WIFEXITED(status) && WEXITSTATUS(status) == EXIT_BUSY;
	char why[128];

	child_error(status, why, sizeof(why));
	for (size_t i = 0; i < w->nsenders; i++) {
		struct sender *s = &w->senders[i];

		if (s->pid != pid)
			continue;
		if (!ok) {
			log_error("handling %s failed (%s)%s", s->wa_id, why,
			    busy ? "; left for the next run" : "");
			/* Its later events must not overtake the failed
			 * ones: they wait for the next run too. */
			s->blocked = true;
			for (size_t j = 0; j < s->nqueue; j++)
				w->files[s->queue[j].file].held = true;
			for (size_t j = 0; j < s->nqueue; j++) {
				w->files[s->queue[j].file].pending--;
				file_settle(w, s->queue[j].file);
			}
			s->nqueue = 0;
		}
		for (size_t j = 0; j < s->nbusy; j++) {
			struct held_file *f = &w->files[s->busy[j].file];

			if (busy) {
				f->held = true;
			} else if (!ok && !f->failed) {
				f->failed = true;
				snprintf(f->error, sizeof(f->error), "%s", why);
			}
			f->pending--;
			file_settle(w, s->busy[j].file);
		}
		free(s->busy);
		s->busy = NULL;
		s->nbusy = 0;
		s->pid = 0;
		w->running--;
		return;
	}
}

static bool
work_left(const struct worker *w)
{
	if (w->running > 0)
		return true;
	for (size_t i = 0; i < w->nsenders; i++)
		if (w->senders[i].nqueue > 0)
			return true;
	return false;
}

static int
lock_open(const char *data_dir, int *fd)
{
	char path[2200];

	snprintf(path, sizeof(path), "%s/locks", data_dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return OV_EIO;
	snprintf(path, sizeof(path), "%s/locks/worker.lock", data_dir);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	return *fd < 0 ? OV_EIO : OV_OK;
}

/* The lease is for a live process that is stuck: a child still running
 * after it is killed, which releases its sender's lock; its files count a
 * failed attempt. */
static void
kill_stuck(struct worker *w)
{
	for (size_t i = 0; i < w->nsenders; i++) {
		struct sender *s = &w->senders[i];

		if (s->pid != 0 && now_s() - s->started > w->lease) {
			log_error("handling %s takes over %ld s; killed", s->wa_id,
			    w->lease);
			kill(s->pid, SIGKILL);
			s->started = now_s();   /* once per lease */
		}
	}
}

/* Run until the spool is empty. */
static void
coordinate(struct worker *w)
{
	int idle = 0;

	for (;;) {
		pid_t pid;
		int status;
		size_t taken = claim_more(w);

		dispatch(w);
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			child_finished(w, pid, status);
		if (pid < 0 && errno != ECHILD)
			log_error("waitpid: %s", strerror(errno));
		/* Under steady traffic the spool never empties: the outbox
		 * still gets its turn every DRAIN_EVERY_S (a look at the store
		 * when nothing waits). */
		if (now_s() - w->last_drain >= DRAIN_EVERY_S) {
			drain_outbox(w);
			w->last_drain = now_s();
		}
		if (w->nleft > 0 && now_s() - w->last_retry >= RETRY_EVERY_S &&
		    !left_in_work(w)) {
			retry_left(w);
			w->last_retry = now_s();
		}
		kill_stuck(w);
		/* Likewise, files a failed turn left in cur/ come back once
		 * their lease is over, even if this loop never ends. */
		if (now_s() - w->last_recover >= w->lease) {
			size_t moved = 0;

			for (size_t i = 0; i < w->nfiles; i++)
				if (w->files[i].name != NULL)
					spool_touch(&w->spool, w->files[i].name);
			if (spool_recover(&w->spool, now_s(), w->lease, &moved) ==
			    OV_OK && moved > 0)
				log_warn("%zu spool file(s) back for another try",
				    moved);
			w->last_recover = now_s();
		}
		if (taken == 0 && !work_left(w)) {
			/* Linger briefly: webhook calls arriving now find the
			 * lock taken and rely on this loop to see their file. */
			if (++idle >= IDLE_POLLS_MAX)
				return;
		} else {
			idle = 0;
		}
		usleep(POLL_USEC);
	}
}

static void
worker_free(struct worker *w)
{
	for (size_t i = 0; i < w->nfiles; i++) {
		if (w->files[i].name == NULL)
			continue;
		wa_payload_free(&w->files[i].payload);
		free(w->files[i].name);
	}
	free(w->files);
	for (size_t i = 0; i < w->nsenders; i++) {
		free(w->senders[i].queue);
		free(w->senders[i].busy);
	}
	free(w->senders);
	for (size_t i = 0; i < w->nleft; i++)
		free(w->left[i]);
	free(w->left);
}

/* CPU time of this run, children included (bench/worker reads it). */
static long
cpu_ms(void)
{
	struct rusage self, kids;

	if (getrusage(RUSAGE_SELF, &self) != 0 ||
	    getrusage(RUSAGE_CHILDREN, &kids) != 0)
		return -1;
	return (self.ru_utime.tv_sec + self.ru_stime.tv_sec +
	    kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) * 1000L +
	    (self.ru_utime.tv_usec + self.ru_stime.tv_usec +
	    kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1000L;
}

static void
usage(void)
{
	fprintf(stderr, "usage: worker [-v]\n"
	    "       worker --retry-failed [FILE]\n"
	    "Drains $OVIDIO_DATA_DIR/spool into the store. Started by the "
	    "webhook and by cron.\n"
	    "--retry-failed puts spool/failed/FILE (every failed file without "
	    "FILE) back\nfor the next run, after a fix.\n");
}

/* worker --retry-failed [FILE]: FILE may be given with its directory. */
static int
retry_failed(struct worker *w, const char *file)
{
	const char *name = NULL;
	size_t moved = 0;
	int rc;

	if (file != NULL) {
		const char *slash = strrchr(file, '/');

		name = slash != NULL ? slash + 1 : file;
	}
	rc = spool_retry_failed(&w->spool, name, &moved);
	if (rc != OV_OK) {
		fprintf(stderr, "worker: cannot put back %s: %s\n",
		    name != NULL ? name : "spool/failed", ov_strerror(rc));
		return 1;
	}
	printf("%zu file(s) back in spool/new\n", moved);
	log_info("--retry-failed: %zu file(s) back in spool/new", moved);
	return 0;
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct worker w;
	char err[512];
	const char *dir;
	static const struct option longopts[] = {
		{ "retry-failed", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, lockfd = -1, rc, status = 1;
	bool want_retry = false;
	size_t moved = 0, waiting = 0;

	/* Started by the webhook, the worker inherits a CGI environment but is
	 * not a CGI: its log goes to log/worker.log, which needs timestamps. */
	unsetenv("GATEWAY_INTERFACE");
	log_init("ovidio-worker");
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'R':
			want_retry = true;
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	memset(&w, 0, sizeof(w));
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		return 1;
	}
	w.cfg = cfg;
	if (log_get_level() != LOG_DEBUG)   /* -v wins */
		log_set_level_name(config_get(cfg, "OVIDIO_LOG"));
	if (clock_init(cfg, err, sizeof(err)) != OV_OK ||
	    config_get_long(cfg, "OVIDIO_WORKERS", 4, 1, 64, &w.max_children,
	    err, sizeof(err)) != OV_OK ||
	    config_get_long(cfg, "OVIDIO_SPOOL_LEASE", 300, 1, 86400, &w.lease,
	    err, sizeof(err)) != OV_OK ||
	    config_get_long(cfg, "OVIDIO_POISON_ATTEMPTS", 5, 1, 1000,
	    &w.poison_max, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		goto out;
	}
	dir = config_get(cfg, "OVIDIO_DATA_DIR");
	snprintf(w.data_dir, sizeof(w.data_dir), "%s", dir);
	if (spool_init(&w.spool, w.data_dir) != OV_OK ||
	    lock_open(w.data_dir, &lockfd) != OV_OK) {
		lockfd = -1;
		log_error("cannot use the data directory %s: %s", w.data_dir,
		    strerror(errno));
		goto out;
	}
	if (fsperm_dir_ok(w.data_dir, 1, err, sizeof(err)) != OV_OK) {
		log_error("data directory (OVIDIO_DATA_DIR): %s", err);
		goto out;
	}
	if (want_retry || optind < argc) {
		if (!want_retry || argc - optind > 1) {
			usage();
			status = 2;
			goto out;
		}
		status = retry_failed(&w, optind < argc ? argv[optind] : NULL);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	w.lockfd = lockfd;
	w.local_store = config_get(cfg, "MONGODB_URI") == NULL;
	if (!replies_configured(cfg))
		log_warn("replies are off: WHATSAPP_TOKEN or PHONE_NUMBER_ID is "
		    "not set (messages are still recorded)");

	for (;;) {
		if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
			/* Another coordinator runs and will see our files. */
			log_debug("another worker is running");
			status = 0;
			goto out;
		}
		/* We hold the coordinator lock: whoever claimed what is in
		 * cur/ is gone. No lease to wait out. */
		rc = spool_recover_all(&w.spool, &moved);
		if (rc == OV_OK && moved > 0)
			log_warn("%zu spool file(s) back from an interrupted run",
			    moved);
		if (spool_clean_tmp(&w.spool, now_s(), TMP_MAX_AGE_S, &moved) ==
		    OV_OK && moved > 0)
			log_warn("%zu stale file(s) removed from spool/tmp", moved);
		for (size_t i = 0; i < w.nleft; i++)
			free(w.left[i]);
		w.nleft = 0;
		for (size_t i = 0; i < w.nsenders; i++)
			w.senders[i].blocked = false;
		w.last_drain = w.last_recover = w.last_retry = now_s();
		coordinate(&w);
		drain_outbox(&w);
		flock(lockfd, LOCK_UN);
		/* A file spooled after our last look, whose webhook found the
		 * lock still taken, is ours: look once more after unlocking. */
		if (spool_count_new(&w.spool, &waiting) != OV_OK || waiting == 0)
			break;
	}
	if (w.n_files > 0)
		log_info("done: %zu file(s), %zu message(s), %zu status(es), "
		    "%zu left for retry, %zu to spool/failed; cpu %ld ms",
		    w.n_files, w.n_msgs, w.n_statuses, w.n_failed_files,
		    w.n_poisoned, cpu_ms());
	status = w.n_failed_files == 0 ? 0 : 1;
	{
		/* inbox: the status page and cgi-bin/health read this. */
		char line[96];

		snprintf(line, sizeof(line), "%zu files %zu messages %zu failed",
		    w.n_files, w.n_msgs, w.n_failed_files);
		if (status_file_write(cfg, "worker.last", (int64_t)time(NULL),
		    line) != OV_OK)
			log_warn("cannot write status/worker.last");
	}
out:
	if (lockfd >= 0)
		close(lockfd);
	worker_free(&w);
	config_free(cfg);
	return status;
}
