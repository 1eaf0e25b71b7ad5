/*
 * jobs/worker - drains the webhook spool into the store.
 *
 * Started detached by cgi-bin/webhook after each accepted POST, and by
 * cron every minute for crash recovery. One coordinator runs at a time
 * (flock on locks/worker.lock); copies that find it taken exit at once,
 * because the running coordinator polls the spool until it is empty.
 *
 * The coordinator claims spool files (new/ -> cur/) in small batches,
 * parses them, and queues every message and status under its sender. A
 * pool of up to OVIDIO_WORKERS children, started as work comes and kept
 * for the run, takes one sender's queue at a time (a job: the file names
 * and which event of each, over a socket; the child reads the files from
 * cur/ itself and answers with one code) and handles it in timestamp
 * order, so a sender is never handled by two processes at once while
 * different senders proceed in parallel. A child keeps its store and its
 * conversation (connections included) open between jobs: a turn costs no
 * process start. After a failed job it starts those afresh. A spool file
 * is removed only when every event in it was stored.
 *
 * Recovery without waiting out a lease. Every process that claims work
 * holds a lock that the kernel releases when it dies:
 *  - the coordinator holds locks/worker.lock: a coordinator that gets it
 *    knows the previous one is gone, so every file in cur/ goes back to
 *    new/ at once;
 *  - a child holds locks/sender-XX.lock (XX: a hash of the sender) while
 *    it handles that sender. Orphans of a killed coordinator keep theirs
 *    until they finish the job in hand (then they see their socket close
 *    and exit), so a new child for the same sender waits for them: a
 *    customer's messages stay in order across a crash. A child killed in
 *    a job fails that job: its files stay in cur/ and the sender's later
 *    events wait behind them. And a
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
 * Meta took it is not sent again. Every DRAIN_EVERY_S, and when the
 * spool is empty, one more child sends the replies waiting in the outbox
 * and the e-mail notices waiting in mailq/ (lib/mail), beside the pool.
 *
 * The coordinator never touches the store: each child opens its own (a
 * MongoDB client must not cross fork()).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
#define KIDS_MAX 64           /* OVIDIO_WORKERS at most */

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

/* A pool child: it takes one sender's events at a time over its socket
 * and keeps its store and conversation open between them. */
struct kid {
	pid_t pid;
	int fd;                  /* our end of its socket; -1 once it is gone */
	bool busy;               /* a job is out (its sender has pid) */
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
	struct kid kids[KIDS_MAX]; /* the pool (OVIDIO_WORKERS at most) */
	size_t nkids;
	pid_t drain_pid;         /* the outbox's drain child, or 0 */
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

/* ---- the pool: children that take one sender's events at a time ------ */

/*
 * A job on the wire (a stream socket per child): a head, then nevents
 * events. The child reads each named file from spool/cur itself: it was
 * forked before most of them were claimed. The answer is one int, the
 * code a child used to exit with (0, EXIT_BUSY, EXIT_ERROR_BASE + rc).
 */
struct job_head {
	uint32_t nevents;
	char wa_id[WA_KEY_MAX + 1];
};

struct job_event {
	char file[SPOOL_NAME_MAX];
	uint32_t kind;           /* enum event_kind */
	uint32_t idx;
};

#define JOB_EVENTS_MAX 100000 /* more than HELD_FILES_MAX files can hold */

static int
write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0 when len bytes were read, -1 at end of file or on error. */
static int
read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The files one job names, parsed in the child. */
struct job_file {
	const char *name;        /* into the job's events */
	struct wa_payload payload;
	int rc;                  /* OV_OK when parsed */
};

struct job {
	struct job_head head;
	struct job_event *ev;
	struct job_file *files;
	size_t nfiles;
};

static void
job_free(struct job *j)
{
	for (size_t i = 0; i < j->nfiles; i++)
		if (j->files[i].rc == OV_OK)
			wa_payload_free(&j->files[i].payload);
	free(j->files);
	free(j->ev);
	memset(j, 0, sizeof(*j));
}

/* The payload of a job's file, read and parsed once per job. */
static const struct wa_payload *
job_payload(const struct worker *w, struct job *j, const char *name, int *rc)
{
	struct job_file *f;
	char *body = NULL;
	size_t len;

	for (size_t i = 0; i < j->nfiles; i++)
		if (strcmp(j->files[i].name, name) == 0) {
			*rc = j->files[i].rc;
			return *rc == OV_OK ? &j->files[i].payload : NULL;
		}
	f = &j->files[j->nfiles++];   /* room for one per event */
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->rc = spool_read(&w->spool, name, WA_BODY_MAX, &body, &len);
	if (f->rc == OV_OK)
		f->rc = wa_payload_parse(body, len, &f->payload);
	free(body);
	if (f->rc != OV_OK)
		log_error("cannot read %s again: %s", name, ov_strerror(f->rc));
	*rc = f->rc;
	return f->rc == OV_OK ? &f->payload : NULL;
}

/* Read the next job; -1 when the coordinator is gone or done. */
static int
job_read(int fd, struct job *j)
{
	memset(j, 0, sizeof(*j));
	if (read_full(fd, &j->head, sizeof(j->head)) != 0)
		return -1;
	j->head.wa_id[WA_KEY_MAX] = '\0';
	if (j->head.nevents == 0 || j->head.nevents > JOB_EVENTS_MAX)
		return -1;
	j->ev = calloc(j->head.nevents, sizeof(*j->ev));
	j->files = calloc(j->head.nevents, sizeof(*j->files));
	if (j->ev == NULL || j->files == NULL ||
	    read_full(fd, j->ev, j->head.nevents * sizeof(*j->ev)) != 0) {
		job_free(j);
		return -1;
	}
	for (size_t i = 0; i < j->head.nevents; i++)
		j->ev[i].file[SPOOL_NAME_MAX - 1] = '\0';
	return 0;
}

/* What a child keeps between jobs: its store and its conversation, so a
 * sender's turn costs no process start, no store open and no new
 * connection to Meta. */
struct kid_state {
	struct store *st;
	struct bot *bot;
	bool bot_ready;          /* bot_start ran (bot NULL: replies off) */
};

static void
kid_state_close(struct kid_state *k)
{
	bot_close(k->bot);
	store_close(k->st);
	memset(k, 0, sizeof(*k));
}

/* One job: statuses are applied in order; the sender's new messages
 * pending together make one turn. Returns 0 when all was stored,
 * EXIT_BUSY when the sender's lock stayed taken, else EXIT_ERROR_BASE +
 * the first error. */
static int
run_job(struct worker *w, struct kid_state *k, struct job *j)
{
	const struct wa_message **turn = NULL;
	size_t nturn = 0;
	int rc, first_error = OV_OK, slock;

	if ((slock = sender_lock(w, j->head.wa_id)) < 0)
		return EXIT_BUSY;
	if (k->st == NULL && (rc = store_open(&k->st, w->cfg)) != OV_OK) {
		log_error("cannot open the store: %s", ov_strerror(rc));
		k->st = NULL;
		close(slock);
		return EXIT_ERROR_BASE + rc;
	}
	if ((turn = calloc(j->head.nevents, sizeof(*turn))) == NULL) {
		log_error("out of memory");
		close(slock);
		return EXIT_ERROR_BASE + OV_ENOMEM;
	}
	for (size_t i = 0; i < j->head.nevents; i++) {
		const struct job_event *ev = &j->ev[i];
		const struct wa_payload *p = job_payload(w, j, ev->file, &rc);
		bool claimed = false;

		if (p == NULL) {
			/* kept in cur/ for another try */
		} else if (ev->kind == EV_MESSAGE && ev->idx < p->n_msgs) {
			/* Meta may deliver a message twice in quick succession:
			 * a copy of one this turn already claimed is that one. */
			if (in_turn(turn, nturn, p->msgs[ev->idx].id))
				continue;
			rc = claim_message(k->st, &p->msgs[ev->idx], w->lease,
			    w->local_store, &claimed);
			if (claimed)
				turn[nturn++] = &p->msgs[ev->idx];
			if (rc == OV_EINVAL) {
				message_poisoned(w, &p->msgs[ev->idx], rc);
				rc = OV_OK;
			}
		} else if (ev->kind == EV_ECHO && ev->idx < p->n_echoes) {
			/* inbox: a salesperson wrote from the app; Ovidio
			 * stays quiet (before this sender's turn runs). */
			rc = inbox_echo(k->st, &p->echoes[ev->idx], clock_now(),
			    inbox_handoff_hours(w->cfg));
		} else if (ev->kind == EV_STATUS && ev->idx < p->n_statuses) {
			rc = handle_status(k->st, &p->statuses[ev->idx]);
			/* A status is information only: one the store refuses
			 * for good is not worth holding its payload back. */
			if (rc == OV_EINVAL)
				rc = OV_OK;
		} else {
			log_error("%s changed under the worker", ev->file);
			rc = OV_EIO;
		}
		if (rc != OV_OK && first_error == OV_OK)
			first_error = rc;
	}
	if (nturn > 0) {
		/* The spool file stays for a replay when this fails. */
		rc = OV_OK;
		if (!k->bot_ready) {
			rc = bot_start(w->cfg, k->st, &k->bot);
			k->bot_ready = rc == OV_OK;
		}
		if (rc == OV_OK)
			rc = handle_turn(k->st, k->bot, turn, nturn);
		if (rc != OV_OK && first_error == OV_OK)
			first_error = rc;
	}
	free(turn);
	close(slock);
	return first_error == OV_OK ? 0 : EXIT_ERROR_BASE + first_error;
}

/* A pool child's life: jobs until the coordinator closes its end (done,
 * or killed: then the job in hand is finished first). Never returns. */
static void
kid_main(struct worker *w, int fd)
{
	struct kid_state k;
	struct job j;

	memset(&k, 0, sizeof(k));
	while (job_read(fd, &j) == 0) {
		int32_t code = run_job(w, &k, &j);

		job_free(&j);
		/* After a failure start afresh, as a new process would: a
		 * store or connection left in a bad state is not reused. */
		if (code != 0)
			kid_state_close(&k);
		if (write_full(fd, &code, sizeof(code)) != 0)
			break;
	}
	kid_state_close(&k);
	_exit(0);
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

/* Close, in a new child, the coordinator's ends of the pool's sockets: a
 * child holding them would keep the others from seeing the coordinator
 * go. */
static void
close_kid_fds(struct worker *w)
{
	for (size_t i = 0; i < w->nkids; i++)
		if (w->kids[i].fd >= 0)
			close(w->kids[i].fd);
}

/* Replies kept in the outbox go out now (each run; cron makes it every
 * minute). In a child: the coordinator never touches the store. The
 * coordinator goes on dispatching while it sends (a hanging Graph API
 * must not stall the spool); its pid is reaped with the others. */
static pid_t
drain_start(struct worker *w)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		struct store *st = NULL;
		struct bot *bot = NULL;
		size_t sent = 0, left = 0;
		bool work = true;

		close(w->lockfd);
		close_kid_fds(w);
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
	return pid;
}

/* Wait for the drain child, if one runs. */
static void
drain_wait(struct worker *w)
{
	int status;

	if (w->drain_pid == 0)
		return;
	while (waitpid(w->drain_pid, &status, 0) < 0 && errno == EINTR)
		;
	w->drain_pid = 0;
}

/* ---- the coordinator ------------------------------------------------- */

/* Start one more pool child; NULL when it cannot be started. */
static struct kid *
kid_spawn(struct worker *w)
{
	struct kid *k;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		log_error("socketpair: %s", strerror(errno));
		return NULL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		/* The lock belongs to the coordinator: a child must not keep
		 * it held if the coordinator dies, or webhooks would think a
		 * worker runs. */
		close(w->lockfd);
		close(sv[0]);
		close_kid_fds(w);
		kid_main(w, sv[1]);
	}
	close(sv[1]);
	k = &w->kids[w->nkids++];
	k->pid = pid;
	k->fd = sv[0];
	k->busy = false;
	return k;
}

/* An idle pool child, started if there is room; NULL when all are busy. */
static struct kid *
kid_idle(struct worker *w)
{
	for (size_t i = 0; i < w->nkids; i++)
		if (!w->kids[i].busy && w->kids[i].fd >= 0)
			return &w->kids[i];
	if (w->nkids >= (size_t)w->max_children)
		return NULL;
	return kid_spawn(w);
}

static int
job_send(const struct worker *w, const struct kid *k, const struct sender *s)
{
	struct job_head head;
	struct job_event *ev;
	int rc;

	memset(&head, 0, sizeof(head));
	head.nevents = (uint32_t)s->nbusy;
	snprintf(head.wa_id, sizeof(head.wa_id), "%s", s->wa_id);
	if ((ev = calloc(s->nbusy, sizeof(*ev))) == NULL)
		return OV_ENOMEM;
	for (size_t i = 0; i < s->nbusy; i++) {
		snprintf(ev[i].file, sizeof(ev[i].file), "%s",
		    w->files[s->busy[i].file].name);
		ev[i].kind = (uint32_t)s->busy[i].kind;
		ev[i].idx = (uint32_t)s->busy[i].idx;
	}
	rc = write_full(k->fd, &head, sizeof(head)) == 0 &&
	    write_full(k->fd, ev, s->nbusy * sizeof(*ev)) == 0 ? OV_OK :
	    OV_EIO;
	free(ev);
	return rc;
}

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

/* A child that can no longer take jobs: its socket is closed and, if it
 * still runs, it is killed; the reaping settles its job. */
static void
kid_lost(struct kid *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	kill(k->pid, SIGKILL);
}

/* Hand idle senders with queued events to idle pool children. */
static void
dispatch(struct worker *w)
{
	struct sender *s;
	struct kid *k;

	while ((s = next_sender(w)) != NULL && (k = kid_idle(w)) != NULL) {
		qsort(s->queue, s->nqueue, sizeof(*s->queue), cmp_event);
		/* Hand the whole queue over; a fresh one collects new events. */
		s->busy = s->queue;
		s->nbusy = s->nqueue;
		s->queue = NULL;
		s->nqueue = s->capqueue = 0;
		if (job_send(w, k, s) != OV_OK) {
			log_error("cannot hand %s to worker process %ld",
			    s->wa_id, (long)k->pid);
			s->queue = s->busy;
			s->nqueue = s->capqueue = s->nbusy;
			s->busy = NULL;
			s->nbusy = 0;
			kid_lost(k);
			return;
		}
		k->busy = true;
		s->pid = k->pid;
		s->started = now_s();
		w->running++;
	}
}

/* What a child's answer code (or exit code) means, for the log and the
 * poison count ("" when well). */
static void
code_error(int code, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (code == 0)
		return;
	if (code == EXIT_BUSY)
		snprintf(buf, cap, "sender busy in another process");
	else if (code >= EXIT_ERROR_BASE && code < EXIT_ERROR_BASE + OV__MAX)
		snprintf(buf, cap, "%s", ov_strerror(code - EXIT_ERROR_BASE));
	else
		snprintf(buf, cap, "exit %d", code);
}

/* How a child that died in a job ended. */
static void
child_error(int status, char *buf, size_t cap)
{
	if (WIFSIGNALED(status))
		snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		code_error(WEXITSTATUS(status), buf, cap);
	else
		snprintf(buf, cap, "ended in the middle of its work");
}

/* The job of child pid is over: ok, the sender was busy elsewhere, or it
 * failed (why). Its files settle; on failure the sender's later events
 * wait for the next run. */
static void
job_finished(struct worker *w, pid_t pid, bool ok, bool busy, const char *why)
{
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

/* A child's answer, if one is there; its socket is dropped at its end. */
static void
kid_answer(struct worker *w, struct kid *k)
{
	int32_t code;
	ssize_t n;
	char why[128];

	if (k->fd < 0)
		return;
	do
		n = recv(k->fd, &code, sizeof(code), MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n != (ssize_t)sizeof(code) || !k->busy) {
		/* Gone (or talking nonsense): reaped below. */
		kid_lost(k);
		return;
	}
	k->busy = false;
	code_error(code, why, sizeof(why));
	job_finished(w, k->pid, code == 0, code == EXIT_BUSY, why);
}

/* Children that ended: a pool child that died in a job fails that job;
 * the drain child is simply gone. */
static void
reap(struct worker *w)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == w->drain_pid) {
			w->drain_pid = 0;
			continue;
		}
		for (size_t i = 0; i < w->nkids; i++) {
			struct kid *k = &w->kids[i];
			char why[128];

			if (k->pid != pid)
				continue;
			if (k->busy)
				kid_answer(w, k);   /* said before it died? */
			if (k->busy) {
				child_error(status, why, sizeof(why));
				k->busy = false;
				job_finished(w, pid, false, false, why);
			} else if (!WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0) {
				child_error(status, why, sizeof(why));
				log_warn("worker process %ld %s while idle",
				    (long)pid, why);
			}
			if (k->fd >= 0)
				close(k->fd);
			w->kids[i] = w->kids[--w->nkids];
			break;
		}
	}
	if (pid < 0 && errno != ECHILD)
		log_error("waitpid: %s", strerror(errno));
}

/* Wait up to timeout_ms for answers from the pool, then reap. */
static void
collect(struct worker *w, int timeout_ms)
{
	struct pollfd pfd[KIDS_MAX];
	size_t at[KIDS_MAX], n = 0;

	for (size_t i = 0; i < w->nkids; i++)
		if (w->kids[i].fd >= 0) {
			pfd[n].fd = w->kids[i].fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			at[n++] = i;
		}
	if (poll(pfd, n, timeout_ms) > 0)
		for (size_t j = 0; j < n; j++)
			if (pfd[j].revents != 0)
				kid_answer(w, &w->kids[at[j]]);
	reap(w);
}

/* The run is over: idle children see their socket close and exit. */
static void
pool_stop(struct worker *w)
{
	for (size_t i = 0; i < w->nkids; i++)
		if (w->kids[i].fd >= 0) {
			close(w->kids[i].fd);
			w->kids[i].fd = -1;
		}
	while (w->nkids > 0) {
		int status;
		pid_t pid = w->kids[w->nkids - 1].pid;

		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		w->nkids--;
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
		size_t taken = claim_more(w);

		dispatch(w);
		/* Under steady traffic the spool never empties: the outbox
		 * still gets its turn every DRAIN_EVERY_S (a look at the store
		 * when nothing waits), beside the turns. */
		if (w->drain_pid == 0 && now_s() - w->last_drain >= DRAIN_EVERY_S) {
			w->drain_pid = drain_start(w);
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
		collect(w, POLL_USEC / 1000);
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
		pool_stop(&w);
		/* The replies of the last turns go out before the lock does. */
		drain_wait(&w);
		w.drain_pid = drain_start(&w);
		drain_wait(&w);
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
