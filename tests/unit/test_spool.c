/* The spool: durable put, exclusive claim (also across processes), lease
 * recovery, bounded read, failure paths. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "log.h"
#include "spool.h"

static char base[] = "/tmp/ov_test_spool.XXXXXX";
static int case_no;

/* A fresh data dir per test. */
static int
fresh(struct spool *sp, char *dir, size_t dirlen)
{
	snprintf(dir, dirlen, "%s/case%d", base, ++case_no);
	return spool_init(sp, dir);
}

static int
path_of(char *buf, size_t n, const struct spool *sp, const char *sub,
    const char *name)
{
	return snprintf(buf, n, "%s/%s/%s", sp->root, sub, name);
}

static size_t
count_entries(const struct spool *sp, const char *sub)
{
	char path[4200];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", sp->root, sub);
	if ((d = opendir(path)) == NULL)
		return (size_t)-1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_put(void)
{
	static const char body[] = "{\"object\":\"whatsapp_business_account\"}";
	char dir[256], name[SPOOL_NAME_MAX], path[4200], got[128];
	struct spool sp;
	struct stat st;
	ssize_t n;
	int fd;

	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	CHECK_INT(spool_put(&sp, body, strlen(body), name), OV_OK);
	/* "<unix-ns>.<pid>.<16 hex>.json" */
	CHECK(strlen(name) > 30);
	CHECK(strstr(name, ".json") == name + strlen(name) - 5);
	path_of(path, sizeof(path), &sp, "new", name);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK(S_ISREG(st.st_mode));
	fd = open(path, O_RDONLY);
	n = read(fd, got, sizeof(got));
	close(fd);
	CHECK_INT(n, (ssize_t)strlen(body));
	CHECK(n > 0 && memcmp(got, body, (size_t)n) == 0);
	CHECK_INT(count_entries(&sp, "tmp"), 0);
	/* Directories are private. */
	snprintf(path, sizeof(path), "%s/new", sp.root);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0700);

	size_t cnt = 0;
	CHECK_INT(spool_count_new(&sp, &cnt), OV_OK);
	CHECK_INT(cnt, 1);
	/* spool_init on an existing spool is fine. */
	CHECK_INT(spool_init(&sp, dir), OV_OK);
}

static void
test_claim(void)
{
	char dir[256], names[3][SPOOL_NAME_MAX], path[4200];
	char **got = NULL, *body = NULL;
	struct spool sp;
	size_t n = 0, len = 0, cnt = 9;

	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	for (int i = 0; i < 3; i++) {
		char b[16];

		snprintf(b, sizeof(b), "body %d", i);
		CHECK_INT(spool_put(&sp, b, strlen(b), names[i]), OV_OK);
	}
	/* Oldest first, at most max. */
	CHECK_INT(spool_claim(&sp, 2, &got, &n), OV_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(got[0], names[0]);
		CHECK_STR(got[1], names[1]);
		path_of(path, sizeof(path), &sp, "cur", got[0]);
		CHECK_INT(access(path, F_OK), 0);
		path_of(path, sizeof(path), &sp, "new", got[0]);
		CHECK(access(path, F_OK) != 0);
		CHECK_INT(spool_read(&sp, got[1], 100, &body, &len), OV_OK);
		CHECK_STR(body, "body 1");
		CHECK_INT(len, 6);
		free(body);
	}
	spool_names_free(got, n);
	CHECK_INT(spool_count_new(&sp, &cnt), OV_OK);
	CHECK_INT(cnt, 1);
	CHECK_INT(spool_claim(&sp, 10, &got, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(got[0], names[2]);
	spool_names_free(got, n);
	/* Nothing left: a second claim gets nothing. */
	CHECK_INT(spool_claim(&sp, 10, &got, &n), OV_OK);
	CHECK_INT(n, 0);
	CHECK(got == NULL);
	CHECK_INT(count_entries(&sp, "cur"), 3);

	/* done removes from cur/. */
	CHECK_INT(spool_done(&sp, names[0]), OV_OK);
	CHECK_INT(spool_done(&sp, names[0]), OV_ENOTFOUND);
	CHECK_INT(count_entries(&sp, "cur"), 2);
}

static void
test_claim_ignores_strangers(void)
{
	char dir[256], name[SPOOL_NAME_MAX], path[4200];
	char **got = NULL;
	struct spool sp;
	size_t n = 0, cnt = 0;
	int fd;

	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	CHECK_INT(spool_put(&sp, "x", 1, name), OV_OK);
	/* A dotfile, an odd name, a directory and a symlink with the right
	 * shape: none is the spool's. */
	path_of(path, sizeof(path), &sp, "new", ".1700000000000000000.1.0123456789abcdef.json");
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	path_of(path, sizeof(path), &sp, "new", "notes.json");
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	path_of(path, sizeof(path), &sp, "new", "1700000000000000000.1.0123456789abcdef.json");
	CHECK_INT(mkdir(path, 0700), 0);
	path_of(path, sizeof(path), &sp, "new", "1700000000000000001.1.0123456789abcdef.json");
	CHECK_INT(symlink("/etc/passwd", path), 0);

	CHECK_INT(spool_count_new(&sp, &cnt), OV_OK);
	CHECK_INT(cnt, 1);
	CHECK_INT(spool_claim(&sp, 10, &got, &n), OV_OK);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(got[0], name);
	spool_names_free(got, n);
	CHECK_INT(count_entries(&sp, "new"), 4);

	/* Names from callers are checked too. */
	char *body = NULL;
	size_t len;
	CHECK_INT(spool_read(&sp, "../new/notes.json", 100, &body, &len),
	    OV_EINVAL);
	CHECK_INT(spool_done(&sp, "../../x"), OV_EINVAL);
	CHECK_INT(spool_fail(&sp, "notes.json"), OV_EINVAL);
}

/* Two processes claim from the same 100 files; each file must be claimed
 * by exactly one of them. */
static void
test_claim_race(void)
{
	enum { NFILES = 100 };
	char dir[256], names[NFILES][SPOOL_NAME_MAX], out[2][4200];
	struct spool sp;
	pid_t pids[2];
	int seen[NFILES] = { 0 }, total = 0, dup = 0, unknown = 0;

	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	for (int i = 0; i < NFILES; i++)
		CHECK_INT(spool_put(&sp, "m", 1, names[i]), OV_OK);
	for (int p = 0; p < 2; p++) {
		snprintf(out[p], sizeof(out[p]), "%s/claimed%d", dir, p);
		pids[p] = fork();
		if (pids[p] == 0) {
			FILE *f = fopen(out[p], "w");
			char **got;
			size_t n;

			if (f == NULL)
				_exit(2);
			/* Small batches so the two interleave. */
			while (spool_claim(&sp, 3, &got, &n) == OV_OK && n > 0) {
				for (size_t i = 0; i < n; i++)
					fprintf(f, "%s\n", got[i]);
				spool_names_free(got, n);
			}
			fclose(f);
			_exit(0);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status = -1;

		waitpid(pids[p], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (int p = 0; p < 2; p++) {
		FILE *f = fopen(out[p], "r");
		char line[256];

		CHECK(f != NULL);
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			int i;

			line[strcspn(line, "\n")] = '\0';
			for (i = 0; i < NFILES; i++)
				if (strcmp(line, names[i]) == 0)
					break;
			if (i == NFILES) {
				unknown++;
				continue;
			}
			if (seen[i]++)
				dup++;
			total++;
		}
		fclose(f);
	}
	CHECK_INT(total, NFILES);
	CHECK_INT(dup, 0);
	CHECK_INT(unknown, 0);
	CHECK_INT(count_entries(&sp, "cur"), NFILES);
	CHECK_INT(count_entries(&sp, "new"), 0);
}

static void
test_recover(void)
{
	char dir[256], a[SPOOL_NAME_MAX], b[SPOOL_NAME_MAX], path[4200];
	struct timespec old[2];
	struct spool sp;
	char **got = NULL;
	size_t n = 0, moved = 99, cnt = 0;
	time_t now = time(NULL);

	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	CHECK_INT(spool_put(&sp, "a", 1, a), OV_OK);
	CHECK_INT(spool_put(&sp, "b", 1, b), OV_OK);
	/* Written long ago, claimed now: the claim starts a fresh lease. */
	old[0].tv_sec = old[1].tv_sec = now - 3600;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	path_of(path, sizeof(path), &sp, "new", a);
	CHECK_INT(utimensat(AT_FDCWD, path, old, 0), 0);
	path_of(path, sizeof(path), &sp, "new", b);
	CHECK_INT(utimensat(AT_FDCWD, path, old, 0), 0);
	CHECK_INT(spool_claim(&sp, 10, &got, &n), OV_OK);
	CHECK_INT(n, 2);
	spool_names_free(got, n);
	CHECK_INT(spool_recover(&sp, now, 300, &moved), OV_OK);
	CHECK_INT(moved, 0);

	/* Now a's worker "died" 10 minutes ago. */
	path_of(path, sizeof(path), &sp, "cur", a);
	old[0].tv_sec = old[1].tv_sec = now - 600;
	CHECK_INT(utimensat(AT_FDCWD, path, old, 0), 0);
	CHECK_INT(spool_recover(&sp, now, 300, &moved), OV_OK);
	CHECK_INT(moved, 1);
	path_of(path, sizeof(path), &sp, "new", a);
	CHECK_INT(access(path, F_OK), 0);
	path_of(path, sizeof(path), &sp, "cur", b);
	CHECK_INT(access(path, F_OK), 0);
	CHECK_INT(spool_count_new(&sp, &cnt), OV_OK);
	CHECK_INT(cnt, 1);
	CHECK_INT(spool_recover(&sp, now, 300, NULL), OV_OK);
	CHECK_INT(count_entries(&sp, "cur"), 1);

	/* b's worker is alive and renews its lease: it stays in cur/. */
	path_of(path, sizeof(path), &sp, "cur", b);
	CHECK_INT(utimensat(AT_FDCWD, path, old, 0), 0);
	CHECK_INT(spool_touch(&sp, b), OV_OK);
	CHECK_INT(spool_recover(&sp, time(NULL), 300, &moved), OV_OK);
	CHECK_INT(moved, 0);
	CHECK_INT(access(path, F_OK), 0);
	CHECK_INT(spool_touch(&sp, a), OV_ENOTFOUND);   /* a is in new/ */
	CHECK_INT(spool_touch(&sp, "../../etc/passwd"), OV_EINVAL);
}

static void
test_read_cap_and_fail(void)
{
	char dir[256], name[SPOOL_NAME_MAX], path[4200];
	char **got = NULL, *body = NULL;
	struct spool sp;
	size_t n = 0, len = 0;

	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	CHECK_INT(spool_put(&sp, "0123456789", 10, name), OV_OK);
	/* Reading needs a claim: the file is not in cur/ yet. */
	CHECK_INT(spool_read(&sp, name, 100, &body, &len), OV_ENOTFOUND);
	CHECK_INT(spool_claim(&sp, 1, &got, &n), OV_OK);
	spool_names_free(got, n);
	CHECK_INT(spool_read(&sp, name, 9, &body, &len), OV_ETOOBIG);
	CHECK(body == NULL);
	CHECK_INT(spool_read(&sp, name, 10, &body, &len), OV_OK);
	CHECK_INT(len, 10);
	CHECK_STR(body, "0123456789");
	free(body);

	CHECK_INT(spool_fail(&sp, name), OV_OK);
	path_of(path, sizeof(path), &sp, "failed", name);
	CHECK_INT(access(path, F_OK), 0);
	CHECK_INT(count_entries(&sp, "cur"), 0);
	CHECK_INT(spool_fail(&sp, name), OV_ENOTFOUND);

	/* put_failed goes straight to failed/, never to new/. */
	CHECK_INT(spool_put_failed(&sp, "junk", 4, name), OV_OK);
	path_of(path, sizeof(path), &sp, "failed", name);
	CHECK_INT(access(path, F_OK), 0);
	CHECK_INT(count_entries(&sp, "failed"), 2);
	CHECK_INT(count_entries(&sp, "new"), 0);
	CHECK_INT(count_entries(&sp, "tmp"), 0);
}

static void
test_put_unwritable(void)
{
	char dir[256], name[SPOOL_NAME_MAX] = "x", path[4200];
	struct spool sp;
	int fd;

	/* Works as root too: new/ replaced by a regular file makes the
	 * rename fail after the tmp file was written. */
	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	snprintf(path, sizeof(path), "%s/new", sp.root);
	CHECK_INT(rmdir(path), 0);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(spool_put(&sp, "body", 4, name), OV_EIO);
	CHECK_STR(name, "");
	CHECK_INT(count_entries(&sp, "tmp"), 0);
	/* spool_init sees the damage too. */
	CHECK_INT(spool_init(&sp, dir), OV_EIO);

	/* tmp/ missing: the create fails. */
	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	snprintf(path, sizeof(path), "%s/tmp", sp.root);
	CHECK_INT(rmdir(path), 0);
	CHECK_INT(spool_put(&sp, "body", 4, name), OV_EIO);
	CHECK_INT(count_entries(&sp, "new"), 0);

	/* Permissions, where they bind (not root). */
	if (geteuid() != 0) {
		CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
		snprintf(path, sizeof(path), "%s/new", sp.root);
		CHECK_INT(chmod(path, 0500), 0);
		CHECK_INT(spool_put(&sp, "body", 4, name), OV_EIO);
		CHECK_INT(count_entries(&sp, "tmp"), 0);
		chmod(path, 0700);
	}

	/* A data dir that cannot be made. */
	CHECK_INT(spool_init(&sp, "/proc/nonexistent/dir"), OV_EIO);
	CHECK_INT(spool_init(&sp, ""), OV_EINVAL);
}

static int
read_text(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

/* Poison: attempts count the same failure, a different one starts over;
 * the N-th goes to failed/ with a .why; --retry-failed puts it back. */
static void
test_attempts_fail_why_and_retry(void)
{
	char dir[256], name[SPOOL_NAME_MAX], path[4200], why[1024];
	char **got = NULL;
	struct spool sp;
	size_t n = 0, moved = 9;
	unsigned count = 0;

	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	CHECK_INT(spool_put(&sp, "{}", 2, name), OV_OK);
	CHECK_INT(spool_claim(&sp, 1, &got, &n), OV_OK);
	spool_names_free(got, n);
	CHECK_INT(spool_attempt(&sp, name, "store: busy", 100, &count), OV_OK);
	CHECK_INT(count, 1);
	CHECK_INT(spool_attempt(&sp, name, "store: busy", 160, &count), OV_OK);
	CHECK_INT(count, 2);
	/* A different failure is a different problem: counted afresh. */
	CHECK_INT(spool_attempt(&sp, name, "invalid\r\nargument", 200, &count),
	    OV_OK);
	CHECK_INT(count, 1);
	CHECK_INT(spool_attempt(&sp, name, "invalid\r\nargument", 260, &count),
	    OV_OK);
	CHECK_INT(count, 2);
	CHECK_INT(spool_attempt(&sp, "../x", "e", 1, &count), OV_EINVAL);

	CHECK_INT(spool_fail_why(&sp, name, "invalid\r\nargument", 300), OV_OK);
	path_of(path, sizeof(path), &sp, "failed", name);
	CHECK_INT(access(path, F_OK), 0);
	CHECK_INT(count_entries(&sp, "cur"), 0);
	CHECK_INT(count_entries(&sp, "tries"), 0);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), ".why");
	CHECK_INT(read_text(path, why, sizeof(why)), 0);
	CHECK(strstr(why, "error: invalid  argument\n") != NULL);
	CHECK(strstr(why, "attempts: 2\n") != NULL);
	CHECK(strstr(why, "first: 1970-01-01T00:03:20Z\n") != NULL);
	CHECK(strstr(why, "last: 1970-01-01T00:04:20Z\n") != NULL);

	CHECK_INT(spool_retry_failed(&sp, "nope", &moved), OV_EINVAL);
	CHECK_INT(spool_retry_failed(&sp, name, &moved), OV_OK);
	CHECK_INT(moved, 1);
	CHECK_INT(count_entries(&sp, "failed"), 0);
	CHECK_INT(count_entries(&sp, "new"), 1);
	CHECK_INT(spool_retry_failed(&sp, name, &moved), OV_ENOTFOUND);

	/* A body kept straight into failed/ also says why; all go back. */
	CHECK_INT(spool_put_failed_why(&sp, "x", 1, "not a payload", 5, name),
	    OV_OK);
	CHECK_INT(count_entries(&sp, "failed"), 2);
	CHECK_INT(spool_retry_failed(&sp, NULL, &moved), OV_OK);
	CHECK_INT(moved, 1);
	CHECK_INT(count_entries(&sp, "failed"), 0);
	CHECK_INT(count_entries(&sp, "new"), 2);
}

/* A new coordinator takes back everything at once; tmp/ leftovers older
 * than the limit go, fresh ones stay. */
static void
test_recover_all_and_clean_tmp(void)
{
	char dir[256], name[SPOOL_NAME_MAX], path[4200];
	char **got = NULL;
	struct spool sp;
	size_t n = 0, moved = 0;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	int fd;

	CHECK_INT(fresh(&sp, dir, sizeof(dir)), OV_OK);
	CHECK_INT(spool_put(&sp, "a", 1, name), OV_OK);
	CHECK_INT(spool_put(&sp, "b", 1, name), OV_OK);
	CHECK_INT(spool_claim(&sp, 5, &got, &n), OV_OK);
	spool_names_free(got, n);
	CHECK_INT(count_entries(&sp, "cur"), 2);
	/* Just claimed, well within any lease: still all back. */
	CHECK_INT(spool_recover_all(&sp, &moved), OV_OK);
	CHECK_INT(moved, 2);
	CHECK_INT(count_entries(&sp, "new"), 2);
	CHECK_INT(spool_claim(&sp, 1, &got, &n), OV_OK);
	CHECK_INT(spool_release(&sp, got[0]), OV_OK);
	CHECK_INT(spool_release(&sp, got[0]), OV_ENOTFOUND);
	spool_names_free(got, n);

	path_of(path, sizeof(path), &sp, "tmp",
	    "1000000000000000000.1.0123456789abcdef.json");
	CHECK((fd = open(path, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	CHECK_INT(spool_clean_tmp(&sp, time(NULL), 3600, &moved), OV_OK);
	CHECK_INT(moved, 0);
	CHECK_INT(utimensat(AT_FDCWD, path, old, 0), 0);
	CHECK_INT(spool_clean_tmp(&sp, time(NULL), 3600, &moved), OV_OK);
	CHECK_INT(moved, 1);
	CHECK_INT(count_entries(&sp, "tmp"), 0);
}

int
main(void)
{
	int rc;

	log_init("test_spool");
	log_set_level(LOG_ERROR);
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_put);
	RUN(test_claim);
	RUN(test_claim_ignores_strangers);
	RUN(test_claim_race);
	RUN(test_recover);
	RUN(test_read_cap_and_fail);
	RUN(test_put_unwritable);
	RUN(test_attempts_fail_why_and_retry);
	RUN(test_recover_all_and_clean_tmp);
	rc = check_finish();
	if (rc == 0) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", base);
	}
	return rc;
}
