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
 * for the run (each retires after KID_JOBS_MAX senders), takes one
 * sender's queue at a time (a job: the file names
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
 *  - a child holds its sender's lock while it handles that sender
 *    (lib/ingest). Orphans of a killed coordinator keep theirs until they
 *    finish the job in hand (then they see their socket close and exit),
 *    so a new child for the same sender waits for them: a customer's
 *    messages stay in order across a crash. A child killed in a job fails
 *    that job: its files stay in cur/ and the sender's later events wait
 *    behind them. A message claimed by a process that is gone is taken
 *    back at once (lib/ingest).
 * The lease (OVIDIO_SPOOL_LEASE) is left for a live process that is stuck:
 * the coordinator kills a child whose job outlives it, and files a stuck
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
 * What a child does with a sender's events, and with the outbox, is
 * lib/ingest's; the pool is lib/procpool. Every DRAIN_EVERY_S, and when the
 * spool is empty, one more child sends the replies waiting in the outbox
 * and the e-mail notices waiting in mailq/ (lib/mail), beside the pool.
 *
 * The coordinator never touches the store: each child opens its own (a
 * MongoDB client must not cross fork()).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "fsperm.h"
#include "ingest.h"
#include "log.h"
#include "procpool.h"
#include "spool.h"
#include "status_file.h"
#include "wa_payload.h"

#define CLAIM_BATCH 16        /* spool files claimed per pass */
#define HELD_FILES_MAX 128    /* stop claiming while this many are in work */
#define TMP_MAX_AGE_S 3600    /* spool/tmp leftovers older than this go */
#define RETRY_EVERY_S 30      /* a busy coordinator retries what it left */
#define POLL_USEC 20000       /* how often an idle coordinator looks again */
#define IDLE_POLLS_MAX 5      /* empty polls before giving up the lock */
#define DRAIN_EVERY_S 10      /* outbox drains while the spool stays busy */
#define KID_JOBS_MAX 1000     /* senders a pool process takes before a fresh
                                 one replaces it (a run may last all day) */

struct held_file {
	char *name;
	struct wa_payload payload;
	size_t pending;          /* events not yet finished by a child */
	bool failed;             /* a child failed on one of its events */
	bool held;               /* left for a later run, not a failure */
	char error[128];         /* how it failed (first failure) */
};

struct event {
	size_t file;             /* index into worker.files */
	enum ingest_kind kind;
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
	pid_t pid;               /* the child handling it, or 0 */
	int64_t started;         /* when that child took it */
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
	struct procpool *pool;   /* children taking senders (OVIDIO_WORKERS) */
	struct ingest_conf ingest; /* what they do with them */
	struct ingest *ig;       /* in a child: its store and conversation */
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

static int
cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* ---- a job: one sender's events, as a child gets them ---------------- */

/*
 * The head, then nevents events naming a spool file in cur/ and which of
 * its messages, statuses or echoes. The child reads the files itself: it
 * may have been forked before they were claimed. Its answer is an
 * ingest_sender() code.
 */
struct job_head {
	uint32_t nevents;
	char wa_id[WA_KEY_MAX + 1];
};

struct job_event {
	char file[SPOOL_NAME_MAX];
	uint32_t kind;           /* enum ingest_kind */
	uint32_t idx;
};

/* A sender's busy events as a job (malloc'd, *len bytes). */
static void *
job_encode(const struct worker *w, const struct sender *s, size_t *len)
{
	struct job_head *head;
	struct job_event *ev;
	char *buf;

	*len = sizeof(*head) + s->nbusy * sizeof(*ev);
	if ((buf = calloc(1, *len)) == NULL)
		return NULL;
	head = (struct job_head *)buf;
	ev = (struct job_event *)(buf + sizeof(*head));
	head->nevents = (uint32_t)s->nbusy;
	snprintf(head->wa_id, sizeof(head->wa_id), "%s", s->wa_id);
	for (size_t i = 0; i < s->nbusy; i++) {
		snprintf(ev[i].file, sizeof(ev[i].file), "%s",
		    w->files[s->busy[i].file].name);
		ev[i].kind = (uint32_t)s->busy[i].kind;
		ev[i].idx = (uint32_t)s->busy[i].idx;
	}
	return buf;
}

/* The files a job names, read and parsed once each. */
struct job_files {
	const char **names;
	struct wa_payload *payloads;
	size_t n;
};

static void
job_files_free(struct job_files *jf)
{
	for (size_t i = 0; i < jf->n; i++)
		wa_payload_free(&jf->payloads[i]);
	free(jf->names);
	free(jf->payloads);
}

static const struct wa_payload *
job_file(const struct worker *w, struct job_files *jf, const char *name,
    int *rc)
{
	char *body = NULL;
	size_t len;

	for (size_t i = 0; i < jf->n; i++)
		if (strcmp(jf->names[i], name) == 0)
			return &jf->payloads[i];
	*rc = spool_read(&w->spool, name, WA_BODY_MAX, &body, &len);
	if (*rc == OV_OK)
		*rc = wa_payload_parse(body, len, &jf->payloads[jf->n]);
	free(body);
	if (*rc != OV_OK) {
		log_error("cannot read %s again: %s", name, ov_strerror(*rc));
		return NULL;
	}
	jf->names[jf->n] = name;
	return &jf->payloads[jf->n++];
}

/* In a child, for each job. A file it cannot read fails the whole job
 * before anything is handled: the sender's order stays. */
static int
kid_run(void *arg, const void *job, size_t len)
{
	struct worker *w = arg;
	const struct job_head *head = job;
	const struct job_event *jev;
	struct ingest_event *ev = NULL;
	struct job_files jf = { NULL, NULL, 0 };
	char wa_id[WA_KEY_MAX + 1];
	size_t n;
	int rc = OV_OK, code;

	if (len < sizeof(*head) || (len - sizeof(*head)) % sizeof(*jev) != 0 ||
	    (n = (len - sizeof(*head)) / sizeof(*jev)) != head->nevents ||
	    n == 0) {
		log_error("a job that makes no sense (%zu bytes)", len);
		return INGEST_ERROR_BASE + OV_EINVAL;
	}
	jev = (const struct job_event *)((const char *)job + sizeof(*head));
	snprintf(wa_id, sizeof(wa_id), "%.*s", WA_KEY_MAX, head->wa_id);
	if (w->ig == NULL && ingest_open(&w->ig, &w->ingest) != OV_OK)
		return INGEST_ERROR_BASE + OV_ENOMEM;
	ev = calloc(n, sizeof(*ev));
	jf.names = calloc(n, sizeof(*jf.names));
	jf.payloads = calloc(n, sizeof(*jf.payloads));
	if (ev == NULL || jf.names == NULL || jf.payloads == NULL)
		rc = OV_ENOMEM;
	for (size_t i = 0; i < n && rc == OV_OK; i++) {
		if (memchr(jev[i].file, '\0', sizeof(jev[i].file)) == NULL ||
		    jev[i].kind > INGEST_ECHO) {
			rc = OV_EINVAL;
			break;
		}
		ev[i].kind = (enum ingest_kind)jev[i].kind;
		ev[i].idx = jev[i].idx;
		ev[i].p = job_file(w, &jf, jev[i].file, &rc);
	}
	code = rc == OV_OK ? ingest_sender(w->ig, wa_id, ev, n) :
	    INGEST_ERROR_BASE + rc;
	job_files_free(&jf);
	free(ev);
	return code;
}

/* In a new child: the coordinator's lock is not its to keep (webhooks
 * would think a worker runs after the coordinator died). */
static void
kid_start(void *arg)
{
	struct worker *w = arg;

	close(w->lockfd);
}

static void
kid_exit(void *arg)
{
	struct worker *w = arg;

	ingest_close(w->ig);
	w->ig = NULL;
}

/* Replies kept in the outbox go out now (each run; cron makes it every
 * minute). In a child: the coordinator never touches the store. The
 * coordinator goes on dispatching while it sends (a hanging Graph API
 * must not stall the spool). */
static pid_t
drain_start(struct worker *w)
{
	struct ingest *ig = NULL;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return 0;
	}
	if (pid > 0)
		return pid;
	close(w->lockfd);
	procpool_forget(w->pool);
	if (ingest_open(&ig, &w->ingest) != OV_OK)
		_exit(1);
	ingest_drain(ig);
	ingest_close(ig);
	_exit(0);
}

/* Whether the drain child ended; wait for it when block. */
static void
drain_reap(struct worker *w, bool block)
{
	int status;
	pid_t r;

	if (w->drain_pid == 0)
		return;
	do
		r = waitpid(w->drain_pid, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r != 0)
		w->drain_pid = 0;
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
		struct event ev = { idx, INGEST_MESSAGE, i, m->ts, 0 };
		rc = enqueue(w, m->from, ev);
	}
	for (size_t i = 0; i < f->payload.n_statuses && rc == OV_OK; i++) {
		const struct wa_status *s = &w->files[idx].payload.statuses[i];
		struct event ev = { idx, INGEST_STATUS, i, s->ts, 0 };
		rc = enqueue(w, s->recipient, ev);
	}
	/* inbox: coexistence echoes, in order with the customer's own. */
	for (size_t i = 0; i < f->payload.n_echoes && rc == OV_OK; i++) {
		const struct wa_message *m = &w->files[idx].payload.echoes[i];
		struct event ev = { idx, INGEST_ECHO, i, m->ts, 0 };
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

/* Hand idle senders with queued events to idle pool children. */
static void
dispatch(struct worker *w)
{
	struct sender *s;

	while ((s = next_sender(w)) != NULL) {
		void *job;
		size_t len;
		pid_t pid;

		qsort(s->queue, s->nqueue, sizeof(*s->queue), cmp_event);
		/* Hand the whole queue over; a fresh one collects new events. */
		s->busy = s->queue;
		s->nbusy = s->nqueue;
		s->queue = NULL;
		s->nqueue = s->capqueue = 0;
		job = job_encode(w, s, &len);
		pid = job != NULL ? procpool_submit(w->pool, job, len) : -1;
		free(job);
		if (pid <= 0) {
			/* Every child busy, or none could take it: later. */
			s->queue = s->busy;
			s->nqueue = s->capqueue = s->nbusy;
			s->busy = NULL;
			s->nbusy = 0;
			return;
		}
		s->pid = pid;
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
	if (code == INGEST_BUSY)
		snprintf(buf, cap, "sender busy in another process");
	else if (code >= INGEST_ERROR_BASE && code < INGEST_ERROR_BASE + OV__MAX)
		snprintf(buf, cap, "%s", ov_strerror(code - INGEST_ERROR_BASE));
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

/* Wait up to timeout_ms for jobs to end, and settle them. */
static void
collect(struct worker *w, int timeout_ms)
{
	struct procpool_done done[PROCPOOL_MAX];
	size_t n = procpool_collect(w->pool, timeout_ms, done, PROCPOOL_MAX);

	for (size_t i = 0; i < n; i++) {
		char why[128];

		if (done[i].answered) {
			code_error(done[i].code, why, sizeof(why));
			job_finished(w, done[i].pid, done[i].code == INGEST_DONE,
			    done[i].code == INGEST_BUSY, why);
		} else {
			child_error(done[i].status, why, sizeof(why));
			job_finished(w, done[i].pid, false, false, why);
		}
	}
	drain_reap(w, false);
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
			procpool_kill(w->pool, s->pid);
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
	struct procpool_conf pconf;
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
	w.ingest.cfg = cfg;
	w.ingest.spool = &w.spool;
	w.ingest.data_dir = w.data_dir;
	w.ingest.lease = w.lease;
	w.ingest.local_store = w.local_store;
	if (!ingest_replies_on(cfg))
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
		memset(&pconf, 0, sizeof(pconf));
		pconf.max = (size_t)w.max_children;
		pconf.max_jobs = KID_JOBS_MAX;
		pconf.run = kid_run;
		pconf.child_start = kid_start;
		pconf.child_exit = kid_exit;
		pconf.arg = &w;
		if ((rc = procpool_open(&w.pool, &pconf)) != OV_OK) {
			log_error("cannot start: %s", ov_strerror(rc));
			flock(lockfd, LOCK_UN);
			goto out;
		}
		coordinate(&w);
		procpool_close(w.pool);   /* the children are idle by now */
		w.pool = NULL;
		/* The replies of the last turns go out before the lock does. */
		drain_reap(&w, true);
		w.drain_pid = drain_start(&w);
		drain_reap(&w, true);
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
