/*
 * The bundle's launcher: installed as cgi-bin/NAME and jobs/NAME of the
 * bundle, it runs ROOT/libexec/NAME through the shipped loader and
 * libraries (lib/launch.h says how and why). Linked statically, libc only,
 * so it runs whatever the host's glibc. Not part of libovidio.a.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "launch.h"

extern char **environ;

/* Our own path, symbolic links resolved: /proc/self/exe, else argv[0]
 * (a host without /proc; cron and Apache start us by full path). */
static int
own_path(const char *argv0, char out[PATH_MAX])
{
	ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);

	if (n > 0) {
		out[n] = '\0';
		return 0;
	}
	if (argv0 != NULL && strchr(argv0, '/') != NULL &&
	    realpath(argv0, out) != NULL)
		return 0;
	return -1;
}

int
main(int argc, char *argv[])
{
	static struct launch_plan plan;
	char self[PATH_MAX];
	char **v;

	if (own_path(argc > 0 ? argv[0] : NULL, self) != 0) {
		fprintf(stderr, "ovidio launcher: cannot find its own path "
		    "(no /proc/self/exe, argv[0] not a path)\n");
		return 127;
	}
	if (launch_plan(self, &plan) != OV_OK) {
		fprintf(stderr, "ovidio launcher: %s is not ROOT/cgi-bin/NAME "
		    "or ROOT/jobs/NAME of the bundle\n", self);
		return 127;
	}
	if ((getenv("OPENSSL_CONF") == NULL &&
	    setenv("OPENSSL_CONF", plan.openssl_conf, 1) != 0) ||
	    (getenv("SASL_PATH") == NULL &&
	    setenv("SASL_PATH", plan.sasl_path, 1) != 0)) {
		fprintf(stderr, "ovidio launcher: out of memory\n");
		return 127;
	}
	if ((v = launch_argv(&plan, argc, argv)) == NULL) {
		fprintf(stderr, "ovidio launcher: out of memory\n");
		return 127;
	}
	execve(plan.loader, v, environ);
	fprintf(stderr, "ovidio launcher: cannot run %s through %s: %s\n",
	    plan.program, plan.loader, strerror(errno));
	free(v);
	return 127;
}
