/* The bundle launcher's plan: where the root, loader, libraries and the
 * real program are, and the loader's arguments. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "launch.h"

static void
root_is_above_the_launchers_folder(void)
{
	struct launch_plan p;

	CHECK_INT(launch_plan("/home/u/ovidio/cgi-bin/inbox", &p), OV_OK);
	CHECK_STR(p.name, "inbox");
	CHECK_STR(p.root, "/home/u/ovidio");
	CHECK_STR(p.loader, "/home/u/ovidio/lib/ld-linux-x86-64.so.2");
	CHECK_STR(p.libdir, "/home/u/ovidio/lib");
	CHECK_STR(p.program, "/home/u/ovidio/libexec/inbox");
	CHECK_STR(p.openssl_conf, "/home/u/ovidio/lib/openssl.cnf");
	CHECK_STR(p.sasl_path, "/home/u/ovidio/lib/sasl2");
	CHECK_INT(launch_plan("/srv/o/jobs/catalog-sync", &p), OV_OK);
	CHECK_STR(p.program, "/srv/o/libexec/catalog-sync");
	/* Unpacked at the top of a chroot or container. */
	CHECK_INT(launch_plan("/jobs/worker", &p), OV_OK);
	CHECK_STR(p.root, "/");
	CHECK_STR(p.loader, "/lib/ld-linux-x86-64.so.2");
	CHECK_STR(p.program, "/libexec/worker");
}

static void
refuses_what_is_not_root_dir_name(void)
{
	struct launch_plan p;
	const char *bad[] = { "", "worker", "jobs/worker", "/worker",
		"/srv/o/jobs/", "/srv/o/jobs/..", "/srv/o/jobs/." };
	char longpath[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(launch_plan(bad[i], &p), OV_EINVAL);
		CHECK_STR(p.loader, "");
	}
	CHECK_INT(launch_plan(NULL, &p), OV_EINVAL);
	/* A root so long that ROOT/lib/ld-linux-x86-64.so.2 cannot fit. */
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	memcpy(longpath + PATH_MAX - 20, "/jobs/worker", 13);
	CHECK_INT(launch_plan(longpath, &p), OV_EINVAL);
	CHECK_STR(p.program, "");
}

static void
loader_arguments_keep_argv0_and_args(void)
{
	struct launch_plan p;
	char *argv[] = { "/home/u/ovidio/jobs/catalog-sync", "--products",
		"--dry-run", NULL };
	char **v;

	CHECK_INT(launch_plan("/home/u/ovidio/jobs/catalog-sync", &p), OV_OK);
	v = launch_argv(&p, 3, argv);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK_STR(v[0], "/home/u/ovidio/lib/ld-linux-x86-64.so.2");
	CHECK_STR(v[1], "--inhibit-cache");
	CHECK_STR(v[2], "--library-path");
	CHECK_STR(v[3], "/home/u/ovidio/lib");
	CHECK_STR(v[4], "--argv0");
	CHECK_STR(v[5], "/home/u/ovidio/jobs/catalog-sync");
	CHECK_STR(v[6], "/home/u/ovidio/libexec/catalog-sync");
	CHECK_STR(v[7], "--products");
	CHECK_STR(v[8], "--dry-run");
	CHECK(v[9] == NULL);
	free(v);
}

/* execve() with an empty argv: the program still gets a name. */
static void
empty_argv_gives_the_name(void)
{
	struct launch_plan p;
	char *argv[] = { NULL };
	char **v;

	CHECK_INT(launch_plan("/o/cgi-bin/health", &p), OV_OK);
	v = launch_argv(&p, 0, argv);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK_STR(v[5], "health");
	CHECK_STR(v[6], "/o/libexec/health");
	CHECK(v[7] == NULL);
	free(v);
}

int
main(void)
{
	RUN(root_is_above_the_launchers_folder);
	RUN(refuses_what_is_not_root_dir_name);
	RUN(loader_arguments_keep_argv0_and_args);
	RUN(empty_argv_gives_the_name);
	return check_finish();
}
