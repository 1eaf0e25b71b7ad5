/*
 * standin.h - start and stop a Python stand-in (tests/standins/NAME.py) from a
 * C unit test, run from the repository root as make does.
 *
 * standin_proc_start() runs
 *     /usr/bin/python3 SCRIPT --port 0 --port-file DIR/NAME.port ARGS...
 * with stdout and stderr in DIR/NAME.log (or left as the test's own when
 * log is false) and waits up to 10 s for the port the stand-in writes
 * there. The stand-in gets SIGTERM when the test dies, so a crashed test
 * leaves no server behind. standin_proc_stop() ends it by its pid.
 */
#ifndef OVIDIO_STANDIN_H
#define OVIDIO_STANDIN_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STANDIN_PYTHON "/usr/bin/python3"
#define STANDIN_ARGS_MAX 24

struct standin_proc {
	pid_t pid;          /* > 0 while running */
	int port;
};

/* A port number alone on the first line of path, or 0. The stand-ins
 * write the file under another name and rename it, so it is whole. */
static int
standin_read_port(const char *path)
{
	char buf[32], *end;
	FILE *f = fopen(path, "r");
	long p = 0;

	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		p = strtol(buf, &end, 10);
		if (end == buf || p < 1 || p > 65535)
			p = 0;
	}
	fclose(f);
	return (int)p;
}

/* args: further arguments, NULL-terminated (NULL for none). 0 when the
 * stand-in listens on p->port; -1 otherwise, nothing left running. */
static int
standin_proc_start(struct standin_proc *p, const char *script,
    const char *dir, const char *name, bool log, const char *const *args)
{
	char portfile[512], logfile[512];
	const char *argv[STANDIN_ARGS_MAX + 7];
	pid_t parent = getpid();
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	snprintf(portfile, sizeof(portfile), "%s/%s.port", dir, name);
	snprintf(logfile, sizeof(logfile), "%s/%s.log", dir, name);
	argv[n++] = STANDIN_PYTHON;
	argv[n++] = script;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
		if (i == STANDIN_ARGS_MAX) {
			fprintf(stderr, "  stand-in %s: too many arguments\n",
			    script);
			return -1;
		}
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	unlink(portfile);
	fflush(NULL);           /* or the child flushes our buffers too */
	p->pid = fork();
	if (p->pid < 0) {
		p->pid = 0;
		return -1;
	}
	if (p->pid == 0) {
		/* Never outlive the test, even if it crashes (also before
		 * this line: then the parent is already someone else). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (log) {
			int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC,
			    0600);

			if (fd >= 0) {
				dup2(fd, STDOUT_FILENO);
				dup2(fd, STDERR_FILENO);
				close(fd);
			}
		}
		execv(STANDIN_PYTHON, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct timespec ts = { 0, 50 * 1000000L };

		if ((p->port = standin_read_port(portfile)) > 0)
			return 0;
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			p->pid = 0;     /* it died: nothing to stop */
			break;
		}
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "  stand-in %s did not start%s%s\n", script,
	    log ? "; see " : "", log ? logfile : "");
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = 0;
	return -1;
}

static void
standin_proc_stop(struct standin_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = 0;
}

#endif
