/* procpool - forked processes that take jobs one at a time (procpool.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "procpool.h"

struct child {
	pid_t pid;
	int fd;                  /* our end of its socket; -1 once lost */
	bool busy;               /* a job is out */
	unsigned jobs;           /* answered */
};

/* Room for max children taking jobs plus those leaving (retired or
 * lost, not yet reaped): a leaving child does not hold up a new one. */
#define KIDS_CAP (2 * PROCPOOL_MAX)

struct procpool {
	struct procpool_conf conf;
	struct child kids[KIDS_CAP];
	size_t nkids;
};

/* Whole buffers over a socket; no SIGPIPE when the other end is gone. */
static int
send_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0 when len bytes came, -1 at end of file or on error. */
static int
recv_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
procpool_open(struct procpool **out, const struct procpool_conf *conf)
{
	struct procpool *pp;

	*out = NULL;
	if (conf == NULL || conf->run == NULL || conf->max < 1 ||
	    conf->max > PROCPOOL_MAX)
		return OV_EINVAL;
	if ((pp = calloc(1, sizeof(*pp))) == NULL)
		return OV_ENOMEM;
	pp->conf = *conf;
	*out = pp;
	return OV_OK;
}

void
procpool_forget(struct procpool *pp)
{
	if (pp == NULL)
		return;
	for (size_t i = 0; i < pp->nkids; i++)
		if (pp->kids[i].fd >= 0) {
			close(pp->kids[i].fd);
			pp->kids[i].fd = -1;
		}
}

/* A child's life: jobs until its socket closes. Never returns. */
static void
child_main(struct procpool *pp, int fd)
{
	const struct procpool_conf *c = &pp->conf;
	char *buf = NULL;
	size_t cap = 0;
	uint32_t len;

	if (c->child_start != NULL)
		c->child_start(c->arg);
	while (recv_full(fd, &len, sizeof(len)) == 0 &&
	    len <= PROCPOOL_JOB_MAX) {
		int32_t code;

		if (len > cap) {
			char *grown = realloc(buf, len);

			if (grown == NULL)
				break;   /* the coordinator sees the job fail */
			buf = grown;
			cap = len;
		}
		if (recv_full(fd, buf, len) != 0)
			break;
		code = c->run(c->arg, buf, len);
		if (send_full(fd, &code, sizeof(code)) != 0)
			break;
	}
	free(buf);
	if (c->child_exit != NULL)
		c->child_exit(c->arg);
	_exit(0);
}

static struct child *
spawn(struct procpool *pp)
{
	struct child *k;
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
		close(sv[0]);
		/* The other children's sockets: held here, they would keep
		 * those children from seeing the coordinator go. */
		procpool_forget(pp);
		child_main(pp, sv[1]);
	}
	close(sv[1]);
	k = &pp->kids[pp->nkids++];
	k->pid = pid;
	k->fd = sv[0];
	k->busy = false;
	k->jobs = 0;
	return k;
}

/* A child that can take no more jobs: its socket closes and it is killed
 * (if it still runs); collect reaps it and reports its job. */
static void
lose(struct child *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	kill(k->pid, SIGKILL);
}

pid_t
procpool_submit(struct procpool *pp, const void *job, size_t len)
{
	struct child *k = NULL;
	uint32_t n = (uint32_t)len;
	size_t live = 0;

	if (len > PROCPOOL_JOB_MAX)
		return -1;
	for (size_t i = 0; i < pp->nkids; i++) {
		if (pp->kids[i].fd < 0)
			continue;   /* leaving */
		live++;
		if (!pp->kids[i].busy && k == NULL)
			k = &pp->kids[i];
	}
	if (k == NULL) {
		if (live >= pp->conf.max || pp->nkids >= KIDS_CAP)
			return 0;
		if ((k = spawn(pp)) == NULL)
			return -1;
	}
	if (send_full(k->fd, &n, sizeof(n)) != 0 ||
	    send_full(k->fd, job, len) != 0) {
		log_error("cannot hand a job to process %ld: %s", (long)k->pid,
		    strerror(errno));
		lose(k);
		return -1;
	}
	k->busy = true;
	return k->pid;
}

/* The child's answer, if it is there. */
static void
answer(const struct procpool *pp, struct child *k, struct procpool_done *done,
    size_t *n)
{
	int32_t code;
	ssize_t got;

	if (k->fd < 0)
		return;
	do
		got = recv(k->fd, &code, sizeof(code), MSG_DONTWAIT);
	while (got < 0 && errno == EINTR);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (got != (ssize_t)sizeof(code) || !k->busy) {
		lose(k);   /* gone, or saying what nobody asked */
		return;
	}
	k->busy = false;
	done[*n].pid = k->pid;
	done[*n].answered = true;
	done[*n].code = code;
	done[*n].status = 0;
	(*n)++;
	/* Retired: its socket closes, so it leaves once it sees that (the
	 * coordinator decides, so no job is ever sent to a leaving child). */
	if (pp->conf.max_jobs > 0 && ++k->jobs >= pp->conf.max_jobs) {
		close(k->fd);
		k->fd = -1;
	}
}

size_t
procpool_collect(struct procpool *pp, int timeout_ms,
    struct procpool_done *done, size_t cap)
{
	struct pollfd pfd[KIDS_CAP];
	size_t at[KIDS_CAP], np = 0, n = 0;

	for (size_t i = 0; i < pp->nkids; i++)
		if (pp->kids[i].fd >= 0) {
			pfd[np].fd = pp->kids[i].fd;
			pfd[np].events = POLLIN;
			pfd[np].revents = 0;
			at[np++] = i;
		}
	if (poll(pfd, np, timeout_ms) > 0)
		for (size_t j = 0; j < np && n < cap; j++)
			if (pfd[j].revents != 0)
				answer(pp, &pp->kids[at[j]], done, &n);
	for (size_t i = 0; i < pp->nkids && n < cap; ) {
		struct child *k = &pp->kids[i];
		int status = 0;
		pid_t r;

		do
			r = waitpid(k->pid, &status, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			i++;
			continue;
		}
		if (k->busy)
			answer(pp, k, done, &n);   /* said before it died? */
		if (k->busy) {   /* n < cap still: answer() added nothing */
			done[n].pid = k->pid;
			done[n].answered = false;
			done[n].code = 0;
			done[n].status = status;
			n++;
		} else if (r > 0 && !k->busy && (!WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)) {
			log_warn("pool process %ld ended while idle (%s %d)",
			    (long)k->pid, WIFSIGNALED(status) ? "signal" :
			    "exit", WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
		}
		if (k->fd >= 0)
			close(k->fd);
		pp->kids[i] = pp->kids[--pp->nkids];
	}
	return n;
}

void
procpool_kill(struct procpool *pp, pid_t pid)
{
	for (size_t i = 0; i < pp->nkids; i++)
		if (pp->kids[i].pid == pid)
			kill(pid, SIGKILL);
}

size_t
procpool_busy(const struct procpool *pp)
{
	size_t n = 0;

	for (size_t i = 0; i < pp->nkids; i++)
		if (pp->kids[i].busy)
			n++;
	return n;
}

void
procpool_close(struct procpool *pp)
{
	if (pp == NULL)
		return;
	procpool_forget(pp);
	for (size_t i = 0; i < pp->nkids; i++) {
		int status;

		while (waitpid(pp->kids[i].pid, &status, 0) < 0 &&
		    errno == EINTR)
			;
	}
	free(pp);
}
