/*
 * launch.h - run a program of the bundle (`make bundle`) through the
 * dynamic loader and libraries shipped in it, never the host's.
 *
 * A shared host has its own glibc, often older than the one the programs
 * were built against, and none of libcjson, libmongoc, libhpdf. So the
 * bundle's cgi-bin/NAME and jobs/NAME are one small static program
 * (lib/launch_main.c, libc only) under each name. It finds the bundle's
 * root from its own path (ROOT/cgi-bin/NAME or ROOT/jobs/NAME) and runs
 *
 *   ROOT/lib/ld-linux-x86-64.so.2 --inhibit-cache --library-path ROOT/lib
 *       --argv0 ARGV0 ROOT/libexec/NAME ARGS...
 *
 * with the environment as it came (a CGI's request variables pass
 * through). The host's /etc/ld.so.cache is not read, so a library the
 * programs load late (an NSS module named in the host's nsswitch.conf)
 * never comes from a different glibc by way of the cache. Two variables
 * are set when unset, for what libraries load from fixed paths:
 * OPENSSL_CONF names ROOT/lib/openssl.cnf (the host's openssl.cnf may be
 * written for another OpenSSL version, and a line the shipped one does not
 * know would make every TLS connection fail); SASL_PATH names ROOT/lib/sasl2,
 * which the bundle leaves out (libmongoc's libsasl2 would otherwise load
 * the host's plugins, built against other libraries, at start; MongoDB's
 * SCRAM logins do not need them).
 *
 * libc only; no allocation except launch_argv()'s array.
 */
#ifndef OVIDIO_LAUNCH_H
#define OVIDIO_LAUNCH_H

#include <limits.h>

struct launch_plan {
	char name[NAME_MAX + 1];   /* the program: its launcher's name */
	char root[PATH_MAX];       /* the bundle's top directory */
	char loader[PATH_MAX];     /* ROOT/lib/ld-linux-x86-64.so.2 */
	char libdir[PATH_MAX];     /* ROOT/lib */
	char program[PATH_MAX];    /* ROOT/libexec/NAME */
	char openssl_conf[PATH_MAX];   /* ROOT/lib/openssl.cnf */
	char sasl_path[PATH_MAX];      /* ROOT/lib/sasl2 */
};

/*
 * Fill p from the launcher's own absolute path (symbolic links resolved,
 * as /proc/self/exe gives it): "/home/u/ovidio/cgi-bin/inbox" gives root
 * "/home/u/ovidio" and name "inbox". OV_EINVAL when self is not an
 * absolute DIR/SUBDIR/NAME or a resulting path would not fit.
 */
int launch_plan(const char *self, struct launch_plan *p);

/*
 * The loader's argument vector for the launcher's own argc/argv, NULL
 * terminated. argv[0] is kept for the program (--argv0); an empty argv
 * gives the program's name. The array is malloc'd (the caller frees it,
 * not its strings, which point into p and argv); NULL when out of memory.
 */
char **launch_argv(const struct launch_plan *p, int argc, char *const argv[]);

#endif
