/*
 * procpool - forked processes that take jobs one at a time.
 *
 * For a coordinator that must not share what its work opens (a MongoDB
 * client must not cross fork(), and a crash of the work must not take the
 * coordinator with it) but cannot afford a process per job. Up to max
 * children are forked as work comes; each takes one job at a time over its
 * own socket and answers with an int, and keeps whatever it opened between
 * jobs. A child that dies in a job has that job reported with how it
 * ended. When the pool is closed, or the coordinator dies, the children
 * see their socket close and exit after the job in hand.
 *
 * One thread; the coordinator's only children need not be the pool's:
 * procpool_collect() waits for the pool's own children by pid.
 */
#ifndef OVIDIO_PROCPOOL_H
#define OVIDIO_PROCPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROCPOOL_MAX 64              /* children at most */
#define PROCPOOL_JOB_MAX (16u << 20) /* bytes of one job */

/* In the child, for each job: its answer (any int). */
typedef int (*procpool_run_fn)(void *arg, const void *job, size_t len);
/* In the child: once after the fork (close what only the coordinator may
 * hold) and once before it exits (close what the jobs opened). */
typedef void (*procpool_hook_fn)(void *arg);

struct procpool_conf {
	size_t max;                      /* 1..PROCPOOL_MAX */
	unsigned max_jobs;               /* a child leaves after this many
	                                    jobs (0: never), so what a long
	                                    run leaks or scatters is bounded */
	procpool_run_fn run;
	procpool_hook_fn child_start;    /* may be NULL */
	procpool_hook_fn child_exit;     /* may be NULL */
	void *arg;                       /* for the three, in the child */
};

/* A job that ended. */
struct procpool_done {
	pid_t pid;                       /* the child that had it */
	bool answered;                   /* code is its answer; else the
	                                    child ended in it (status) */
	int code;
	int status;                      /* wait status, when !answered */
};

struct procpool;

/* OV_OK, OV_EINVAL for a bad conf, OV_ENOMEM. No child starts yet. */
int procpool_open(struct procpool **out, const struct procpool_conf *conf);

/* Hand a job to an idle child, forked if there is room. Returns its pid;
 * 0 when every child is busy; -1 when it could not be handed over (no
 * fork, or the child was gone: try again later). The job is copied. */
pid_t procpool_submit(struct procpool *pp, const void *job, size_t len);

/* Wait up to timeout_ms (0: just look) for jobs to end, and for children
 * that ended; each ended job goes into done[], at most cap (what does not
 * fit comes with the next call). Returns how many. */
size_t procpool_collect(struct procpool *pp, int timeout_ms,
    struct procpool_done *done, size_t cap);

/* Kill a stuck child; its job is reported by a later collect. */
void procpool_kill(struct procpool *pp, pid_t pid);

/* Jobs out now. */
size_t procpool_busy(const struct procpool *pp);

/* In another process forked by the coordinator: close the pool's sockets
 * there, so the children still see the coordinator go. */
void procpool_forget(struct procpool *pp);

/* Close every socket and wait for the children; NULL is fine. Children
 * with a job finish it first. */
void procpool_close(struct procpool *pp);

#endif
