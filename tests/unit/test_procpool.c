/* procpool: jobs answered by children kept between jobs, a child killed or
 * ending in a job reported with how it ended, children leaving when the
 * coordinator closes the pool or dies. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "log.h"
#include "procpool.h"

static char base[] = "/tmp/ov_test_procpool.XXXXXX";
static int jobs_here;       /* in a child: jobs it ran */
static int starts_here;     /* in a child: child_start calls */

/* A job is a command: "n" answers how many jobs this child ran (1 for
 * its first), "pid" its pid, "start" its child_start count, "sleep MS"
 * sleeps then answers 7, "exit N" ends the child with N. */
static int
run(void *arg, const void *job, size_t len)
{
	char cmd[64];

	(void)arg;
	snprintf(cmd, sizeof(cmd), "%.*s", (int)len, (const char *)job);
	jobs_here++;
	if (strcmp(cmd, "n") == 0)
		return jobs_here;
	if (strcmp(cmd, "pid") == 0)
		return (int)getpid();
	if (strcmp(cmd, "start") == 0)
		return starts_here;
	if (strncmp(cmd, "sleep ", 6) == 0) {
		usleep((useconds_t)atoi(cmd + 6) * 1000);
		return 7;
	}
	if (strncmp(cmd, "exit ", 5) == 0)
		_exit(atoi(cmd + 5));
	return -1;
}

static void
child_start(void *arg)
{
	(void)arg;
	starts_here++;
}

/* Leaves a file named after the pid: the child left by the normal way. */
static void
child_exit(void *arg)
{
	char path[256];
	FILE *f;

	(void)arg;
	snprintf(path, sizeof(path), "%s/exit.%ld", base, (long)getpid());
	if ((f = fopen(path, "w")) != NULL)
		fclose(f);
}

static bool
exited(pid_t pid)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/exit.%ld", base, (long)pid);
	return access(path, F_OK) == 0;
}

static struct procpool *
pool(size_t max)
{
	struct procpool_conf c = { .max = max, .run = run,
	    .child_start = child_start, .child_exit = child_exit };
	struct procpool *pp = NULL;

	CHECK_INT(procpool_open(&pp, &c), OV_OK);
	return pp;
}

static pid_t
submit(struct procpool *pp, const char *cmd)
{
	return procpool_submit(pp, cmd, strlen(cmd));
}

/* Collect until one job ends (5 s at most). */
static bool
one_done(struct procpool *pp, struct procpool_done *d)
{
	struct procpool_done all[PROCPOOL_MAX];

	for (int i = 0; i < 500; i++) {
		size_t n = procpool_collect(pp, 10, all, PROCPOOL_MAX);

		if (n > 0) {
			CHECK_INT(n, 1);
			*d = all[0];
			return true;
		}
	}
	return false;
}

static void
test_bad_conf(void)
{
	struct procpool_conf c = { .max = 0, .run = run };
	struct procpool *pp = NULL;

	CHECK_INT(procpool_open(&pp, &c), OV_EINVAL);
	c.max = PROCPOOL_MAX + 1;
	CHECK_INT(procpool_open(&pp, &c), OV_EINVAL);
	c.max = 1;
	c.run = NULL;
	CHECK_INT(procpool_open(&pp, &c), OV_EINVAL);
	CHECK(pp == NULL);
}

static void
test_child_kept_between_jobs(void)
{
	struct procpool *pp = pool(1);
	struct procpool_done d;
	pid_t first, pid;

	first = submit(pp, "n");
	CHECK(first > 0);
	CHECK(one_done(pp, &d));
	CHECK(d.answered);
	CHECK_INT(d.pid, first);
	CHECK_INT(d.code, 1);
	for (int i = 2; i <= 4; i++) {
		pid = submit(pp, "n");
		CHECK_INT(pid, first);   /* the same process */
		CHECK(one_done(pp, &d));
		CHECK(d.answered);
		CHECK_INT(d.code, i);    /* it remembers its earlier jobs */
	}
	CHECK_INT(submit(pp, "start"), first);
	CHECK(one_done(pp, &d));
	CHECK_INT(d.code, 1);            /* child_start ran once */
	CHECK(!exited(first));
	procpool_close(pp);
	CHECK(exited(first));            /* left by closing, with its hook */
}

static void
test_busy_and_parallel(void)
{
	struct procpool *pp = pool(2);
	struct procpool_done all[PROCPOOL_MAX];
	pid_t a, b;
	size_t got = 0;

	a = submit(pp, "sleep 300");
	b = submit(pp, "sleep 300");
	CHECK(a > 0 && b > 0 && a != b);
	CHECK_INT(procpool_busy(pp), 2);
	CHECK_INT(submit(pp, "n"), 0);   /* every child busy */
	for (int i = 0; i < 500 && got < 2; i++) {
		size_t n = procpool_collect(pp, 10, all + got,
		    PROCPOOL_MAX - got);

		got += n;
	}
	CHECK_INT(got, 2);
	CHECK(all[0].answered && all[1].answered);
	CHECK_INT(all[0].code, 7);
	CHECK_INT(all[1].code, 7);
	CHECK_INT(procpool_busy(pp), 0);
	procpool_close(pp);
}

static void
test_child_killed_in_a_job(void)
{
	struct procpool *pp = pool(1);
	struct procpool_done d;
	pid_t pid, again;

	pid = submit(pp, "sleep 5000");
	CHECK(pid > 0);
	procpool_kill(pp, pid);
	CHECK(one_done(pp, &d));
	CHECK(!d.answered);
	CHECK_INT(d.pid, pid);
	CHECK(WIFSIGNALED(d.status) && WTERMSIG(d.status) == SIGKILL);
	CHECK_INT(procpool_busy(pp), 0);
	/* A new child takes the next job. */
	again = submit(pp, "n");
	CHECK(again > 0 && again != pid);
	CHECK(one_done(pp, &d));
	CHECK(d.answered);
	CHECK_INT(d.code, 1);
	procpool_close(pp);
}

static void
test_child_ending_in_a_job(void)
{
	struct procpool *pp = pool(1);
	struct procpool_done d;
	pid_t pid;

	pid = submit(pp, "exit 3");
	CHECK(pid > 0);
	CHECK(one_done(pp, &d));
	CHECK(!d.answered);
	CHECK(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 3);
	/* Killed while idle: nothing to report, and a new child comes. */
	pid = submit(pp, "pid");
	CHECK(one_done(pp, &d));
	CHECK_INT(d.code, pid);
	kill(pid, SIGKILL);
	usleep(50000);
	{
		struct procpool_done all[PROCPOOL_MAX];

		CHECK_INT(procpool_collect(pp, 0, all, PROCPOOL_MAX), 0);
	}
	CHECK(submit(pp, "n") > 0);
	CHECK(one_done(pp, &d));
	CHECK(d.answered);
	CHECK_INT(d.code, 1);
	procpool_close(pp);
}

/* A child that ran max_jobs jobs leaves by the normal way and a fresh one
 * takes the next job. */
static void
test_child_retired_after_max_jobs(void)
{
	struct procpool_conf c = { .max = 1, .max_jobs = 3, .run = run,
	    .child_start = child_start, .child_exit = child_exit };
	struct procpool *pp = NULL;
	struct procpool_done d;
	pid_t first = 0, pid;

	CHECK_INT(procpool_open(&pp, &c), OV_OK);
	for (int i = 1; i <= 3; i++) {
		pid = submit(pp, "n");
		if (i == 1)
			first = pid;
		CHECK(pid > 0 && pid == first);
		CHECK(one_done(pp, &d));
		CHECK(d.answered);
		CHECK_INT(d.code, i);
	}
	/* The fourth goes to a new child at once, while the first leaves. */
	pid = submit(pp, "n");
	CHECK(pid > 0 && pid != first);
	CHECK(one_done(pp, &d));
	CHECK(d.answered);
	CHECK_INT(d.code, 1);
	for (int i = 0; i < 300 && !exited(first); i++)
		usleep(10000);
	CHECK(exited(first));   /* left with its exit hook */
	procpool_close(pp);
}

/* The coordinator dies holding a pool: the child finishes its job and
 * leaves by itself. */
static void
test_children_leave_when_the_coordinator_dies(void)
{
	int pfd[2], status;
	pid_t coord, kid = 0;

	CHECK(pipe(pfd) == 0);
	coord = fork();
	if (coord == 0) {
		struct procpool *pp = pool(2);
		pid_t a = submit(pp, "sleep 200"), b = submit(pp, "n");

		(void)!write(pfd[1], &a, sizeof(a));
		(void)!write(pfd[1], &b, sizeof(b));
		_exit(0);   /* no procpool_close */
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &kid, sizeof(kid)) == (ssize_t)sizeof(kid));
	{
		pid_t other = 0;

		CHECK(read(pfd[0], &other, sizeof(other)) ==
		    (ssize_t)sizeof(other));
		close(pfd[0]);
		waitpid(coord, &status, 0);
		for (int i = 0; i < 300 && !(exited(kid) && exited(other));
		    i++)
			usleep(10000);
		CHECK(kid > 0 && exited(kid));
		CHECK(other > 0 && exited(other));
	}
}

/* A process the coordinator forks besides the pool: after forgetting the
 * pool, it does not keep the children alive once the pool closes. */
static void
test_forget_in_another_child(void)
{
	struct procpool *pp = pool(1);
	struct procpool_done d;
	pid_t pid, other;
	int status;

	pid = submit(pp, "n");
	CHECK(one_done(pp, &d));
	other = fork();
	if (other == 0) {
		procpool_forget(pp);
		sleep(10);
		_exit(0);
	}
	/* Were the socket held by `other`, this would wait for it to end. */
	procpool_close(pp);
	CHECK(exited(pid));
	CHECK(waitpid(other, &status, WNOHANG) == 0);   /* still there */
	kill(other, SIGKILL);
	waitpid(other, &status, 0);
}

int
main(void)
{
	int rc;

	log_init("test_procpool");
	log_set_level(LOG_ERROR);
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_bad_conf);
	RUN(test_child_kept_between_jobs);
	RUN(test_busy_and_parallel);
	RUN(test_child_killed_in_a_job);
	RUN(test_child_ending_in_a_job);
	RUN(test_child_retired_after_max_jobs);
	RUN(test_children_leave_when_the_coordinator_dies);
	RUN(test_forget_in_another_child);
	rc = check_finish();
	if (rc == 0) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", base);
	}
	return rc;
}
