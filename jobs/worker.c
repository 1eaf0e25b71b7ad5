/*
 * jobs/worker - drains the webhook spool into the store.
 *
 * Started detached by cgi-bin/webhook after each accepted POST, and by
 * cron every minute for crash recovery. One coordinator runs at a time
 * (flock on locks/worker.lock); copies that find it taken exit at once,
 * because the running coordinator polls the spool until it is empty.
 *
 * The coordinator claims spool files (new/ -> cur/), parses them, and
 * queues every message and status under its sender. Up to OVIDIO_WORKERS
 * children run at once, each handling one sender's queue in timestamp
 * order, so a sender is never handled by two processes at once while
 * different senders proceed in parallel. A spool file is removed only when
 * every event in it was stored; if a child fails, the file stays in cur/
 * and comes back after the lease (OVIDIO_SPOOL_LEASE seconds), where the
 * store's dedupe makes the replay harmless.
 *
 * Each child claims its sender's new messages (recorded exactly once by
 * the store), runs one conversation turn over all of them (lib/bot), and
 * only then marks them handled, so a crash replays the turn. When the
 * spool is empty, one more child sends the replies waiting in the outbox.
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
#include "inbox.h"
#include "log.h"
#include "spool.h"
#include "store.h"
#include "wa_payload.h"

#define CLAIM_BATCH 64        /* spool files claimed per pass */
#define HELD_FILES_MAX 512    /* stop claiming while this many are in work */
#define POLL_USEC 20000       /* how often an idle coordinator looks again */
#define IDLE_POLLS_MAX 5      /* empty polls before giving up the lock */
#define DRAIN_EVERY_S 60      /* outbox drains while the spool stays busy */

struct held_file {
	char *name;
	struct wa_payload payload;
	size_t pending;          /* events not yet finished by a child */
	bool failed;             /* a child failed on one of its events */
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
	char wa_id[WA_NUMBER_MAX + 1];
	struct event *queue;     /* waiting for a child */
	size_t nqueue, capqueue;
	struct event *busy;      /* handed to the running child */
	size_t nbusy;
	pid_t pid;               /* 0 when no child runs for this sender */
};

struct worker {
	const struct config *cfg;
	struct spool spool;
	char data_dir[2048];
	long max_children;
	long lease;
	struct held_file *files;
	size_t nfiles, capfiles;
	struct sender *senders;
	size_t nsenders, capsenders;
	size_t running;
	size_t order;
	int lockfd;              /* locks/worker.lock, held while coordinating */
	int64_t last_recover;    /* last spool_recover() while coordinating */
	int64_t last_drain;      /* when the outbox was last drained */
	/* Totals for the summary line. */
	size_t n_files, n_msgs, n_statuses, n_failed_files;
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
 * Record an inbound message exactly once and claim it. *claimed is true
 * for NEW and RETRY: the caller then runs the turn over every message it
 * claimed and marks them handled, so a crash in between replays the turn.
 */
static int
claim_message(struct store *st, const struct wa_message *wm, int64_t lease,
    bool *claimed)
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
		 * claimed it within its lease and may yet die before finishing;
		 * keep the spool file so a run after the lease replays it. */
		rc = store_msg_get(st, wm->id, &seen, &found);
		if (rc == OV_OK && found && strcmp(seen.status, "handled") != 0)
			rc = OV_EBUSY;
		store_msg_clear(&seen);
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
	if ((rc = note_customer(st, wm)) != OV_OK) {
		log_msg(LOG_ERROR, wm->id, "cannot record customer: %s",
		    ov_strerror(rc));
		return rc;
	}
	log_msg(LOG_INFO, wm->id, "%s from %s recorded%s",
	    wa_kind_name(wm->kind), wm->from,
	    claim == STORE_CLAIM_RETRY ? " (replayed)" : "");
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

/* Runs in the child; never returns. Statuses are applied in order; the
 * sender's new messages pending together make one turn. */
static void
run_sender(struct worker *w, struct sender *s)
{
	struct store *st = NULL;
	struct bot *bot = NULL;
	const struct wa_message **turn = NULL;
	size_t nturn = 0;
	int rc, failures = 0;

	/* The lock belongs to the coordinator: a child must not keep it held
	 * if the coordinator dies, or webhooks would think a worker runs. */
	close(w->lockfd);
	rc = store_open(&st, w->cfg);
	if (rc != OV_OK) {
		log_error("cannot open the store: %s", ov_strerror(rc));
		_exit(1);
	}
	turn = calloc(s->nbusy, sizeof(*turn));
	if (turn == NULL) {
		log_error("out of memory");
		_exit(1);
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
			    &claimed);
			if (claimed)
				turn[nturn++] = &p->msgs[ev->idx];
		} else if (ev->kind == EV_ECHO) {
			/* inbox: a salesperson wrote from the app; Ovidio
			 * stays quiet (before this sender's turn runs). */
			rc = inbox_echo(st, &p->echoes[ev->idx], clock_now(),
			    inbox_handoff_hours(w->cfg));
		} else {
			rc = handle_status(st, &p->statuses[ev->idx]);
		}
		if (rc != OV_OK)
			failures++;
	}
	if (nturn > 0) {
		if (bot_start(w->cfg, st, &bot) != OV_OK ||
		    handle_turn(st, bot, turn, nturn) != OV_OK)
			failures++;   /* the spool file stays for a replay */
		bot_close(bot);
	}
	free(turn);
	store_close(st);
	_exit(failures == 0 ? 0 : 1);
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

		struct store_outbox *due = NULL;
		size_t ndue = 0;

		close(w->lockfd);
		if (store_open(&st, w->cfg) != OV_OK)
			_exit(1);
		/* Nothing waiting (the usual case): no clients to start. */
		if (store_outbox_due(st, now_s(), 1, &due, &ndue) == OV_OK &&
		    ndue == 0) {
			store_close(st);
			_exit(0);
		}
		store_outbox_free(due, ndue);
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
	s->queue[s->nqueue++] = ev;
	w->files[ev.file].pending++;
	return OV_OK;
}

/* A file whose events are all finished is removed, or left in cur/ for a
 * later replay when any of them failed. */
static void
file_settle(struct worker *w, size_t i)
{
	struct held_file *f = &w->files[i];

	if (f->name == NULL || f->pending > 0)
		return;
	if (f->failed) {
		log_warn("%s not fully stored; it stays in spool/cur and is "
		    "retried after the lease", f->name);
		w->n_failed_files++;
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
		log_error("%s is not a WhatsApp payload (%s); moved to "
		    "spool/failed", name, ov_strerror(rc));
		spool_fail(&w->spool, name);
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
		log_error("out of memory queueing %s; it is retried after the "
		    "lease", f->name);
		f->failed = true;
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

		if (s->pid != 0 || s->nqueue == 0)
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
		w->running++;
	}
}

static void
child_finished(struct worker *w, pid_t pid, int status)
{
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	for (size_t i = 0; i < w->nsenders; i++) {
		struct sender *s = &w->senders[i];

		if (s->pid != pid)
			continue;
		if (!ok)
			log_error("handling %s failed (%s %d)", s->wa_id,
			    WIFEXITED(status) ? "exit" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status));
		for (size_t j = 0; j < s->nbusy; j++) {
			struct held_file *f = &w->files[s->busy[j].file];
			if (!ok)
				f->failed = true;
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
		 * still gets its turn once a minute. */
		if (now_s() - w->last_drain >= DRAIN_EVERY_S) {
			drain_outbox(w);
			w->last_drain = now_s();
		}
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
	    "Drains $OVIDIO_DATA_DIR/spool into the store. Started by the "
	    "webhook and by cron.\n");
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct worker w;
	char err[512];
	const char *dir;
	int c, lockfd = -1, rc, status = 1;
	size_t moved = 0, waiting = 0;

	/* Started by the webhook, the worker inherits a CGI environment but is
	 * not a CGI: its log goes to log/worker.log, which needs timestamps. */
	unsetenv("GATEWAY_INTERFACE");
	log_init("ovidio-worker");
	while ((c = getopt(argc, argv, "vh")) != -1) {
		switch (c) {
		case 'v':
			log_set_level(LOG_DEBUG);
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
	    err, sizeof(err)) != OV_OK) {
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
	signal(SIGPIPE, SIG_IGN);
	w.lockfd = lockfd;
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
		rc = spool_recover(&w.spool, now_s(), w.lease, &moved);
		if (rc == OV_OK && moved > 0)
			log_warn("%zu spool file(s) back from an interrupted run",
			    moved);
		w.last_drain = w.last_recover = now_s();
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
		    "%zu left for retry; cpu %ld ms", w.n_files, w.n_msgs,
		    w.n_statuses, w.n_failed_files, cpu_ms());
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
