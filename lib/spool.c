#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"
#include "log.h"
#include "spool.h"

#define SPOOL_PATH_MAX 4096

static const char *const subdirs[] = { "tmp", "new", "cur", "failed",
    "tries" };

/* "<root>/<sub>" or "<root>/<sub>/<name>" into buf; 0 when it fits. */
static int
spool_path(const struct spool *sp, const char *sub, const char *name,
    char buf[SPOOL_PATH_MAX])
{
	int n;

	if (name != NULL)
		n = snprintf(buf, SPOOL_PATH_MAX, "%s/%s/%s", sp->root, sub, name);
	else
		n = snprintf(buf, SPOOL_PATH_MAX, "%s/%s", sp->root, sub);
	return (n < 0 || n >= SPOOL_PATH_MAX) ? -1 : 0;
}

/* The one name shape this module writes: "<digits>.<digits>.<16 hex>.json".
 * Anything else found in the spool (dotfiles, editor droppings, names from
 * a caller) is never touched. */
static int
spool_name_ok(const char *s)
{
	size_t n, i;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		;
	if (n == 0 || n > 20 || s[n] != '.')
		return 0;
	s += n + 1;
	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		;
	if (n == 0 || n > 10 || s[n] != '.')
		return 0;
	s += n + 1;
	for (i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return strcmp(s + 16, ".json") == 0;
}

static int
fsync_dir(const char *path)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
make_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST) {
		struct stat st;

		/* EEXIST may be a file of that name: that is no spool. */
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		if (errno == EEXIST)
			errno = ENOTDIR;
	}
	return -1;
}

int
spool_init(struct spool *sp, const char *data_dir)
{
	char path[SPOOL_PATH_MAX];
	int n;

	memset(sp, 0, sizeof(*sp));
	if (data_dir == NULL || *data_dir == '\0')
		return OV_EINVAL;
	n = snprintf(sp->root, sizeof(sp->root), "%s/spool", data_dir);
	if (n < 0 || (size_t)n >= sizeof(sp->root))
		return OV_EINVAL;
	/* The data directory itself is the deployment's to create; making it
	 * here (one level only) just saves a step for tests and new setups. */
	if (make_dir(data_dir) != 0 || make_dir(sp->root) != 0) {
		log_error("cannot create spool %s: %s", sp->root,
		    strerror(errno));
		return OV_EIO;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (spool_path(sp, subdirs[i], NULL, path) != 0)
			return OV_EINVAL;
		if (make_dir(path) != 0) {
			log_error("cannot create %s: %s", path, strerror(errno));
			return OV_EIO;
		}
	}
	return OV_OK;
}

static int
make_name(char name[SPOOL_NAME_MAX])
{
	struct timespec ts;
	uint8_t rnd[8];
	size_t got = 0;
	int64_t ns;
	int n;

	while (got < sizeof(rnd)) {
		ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	n = snprintf(name, SPOOL_NAME_MAX,
	    "%019lld.%ld.%02x%02x%02x%02x%02x%02x%02x%02x.json",
	    (long long)ns, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3],
	    rnd[4], rnd[5], rnd[6], rnd[7]);
	return (n < 0 || n >= SPOOL_NAME_MAX) ? -1 : 0;
}

/* Write body into tmp/, fsync it, rename into dest/ and fsync dest/. */
static int
put_into(const struct spool *sp, const char *dest, const void *body,
    size_t len, char name[SPOOL_NAME_MAX])
{
	char tmp[SPOOL_PATH_MAX], fin[SPOOL_PATH_MAX], dir[SPOOL_PATH_MAX];
	int fd = -1, rc = OV_EIO, have_tmp = 0, renamed = 0;
	const char *what = "name";

	name[0] = '\0';
	if (make_name(name) != 0 || spool_path(sp, "tmp", name, tmp) != 0 ||
	    spool_path(sp, dest, name, fin) != 0 ||
	    spool_path(sp, dest, NULL, dir) != 0)
		goto out;
	what = "create";
	fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	have_tmp = 1;
	what = "write";
	if (fdio_write_all(fd, body, len) != 0)
		goto out;
	what = "fsync";
	if (fsync(fd) != 0)
		goto out;
	what = "close";
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	what = "rename";
	if (rename(tmp, fin) != 0)
		goto out;
	have_tmp = 0;
	renamed = 1;
	/* Without this the rename may not survive a crash, and the sender
	 * would already have been told the message is safe. */
	what = "fsync directory";
	if (fsync_dir(dir) != 0)
		goto out;
	rc = OV_OK;
out:
	if (rc != OV_OK) {
		int saved = errno;

		if (fd >= 0)
			close(fd);
		if (have_tmp)
			unlink(tmp);
		/* Not durable: the caller answers an error and the sender
		 * retries, so do not keep a second copy around. */
		if (renamed)
			unlink(fin);
		log_error("spool %s %s failed: %s", dest, what, strerror(saved));
		name[0] = '\0';
	}
	return rc;
}

int
spool_put(const struct spool *sp, const void *body, size_t len,
    char name[SPOOL_NAME_MAX])
{
	return put_into(sp, "new", body, len, name);
}

int
spool_put_failed(const struct spool *sp, const void *body, size_t len,
    char name[SPOOL_NAME_MAX])
{
	return put_into(sp, "failed", body, len, name);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
spool_names_free(char **names, size_t n)
{
	if (names == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Names of the regular files of the expected shape in sub/, sorted. */
static int
list_dir(const struct spool *sp, const char *sub, char ***out, size_t *nout)
{
	char path[SPOOL_PATH_MAX];
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = NULL;
	int rc = OV_OK;

	*out = NULL;
	*nout = 0;
	if (spool_path(sp, sub, NULL, path) != 0)
		return OV_EINVAL;
	d = opendir(path);
	if (d == NULL) {
		log_error("cannot open %s: %s", path, strerror(errno));
		return OV_EIO;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				rc = OV_EIO;
				goto out;
			}
			break;
		}
		if (!spool_name_ok(de->d_name))
			continue;
		if (de->d_type != DT_REG) {
			struct stat st;

			if (de->d_type != DT_UNKNOWN)
				continue;
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
				continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(names, cap * sizeof(*names));
			if (grown == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			names = grown;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*nout = n;
	names = NULL;
	n = 0;
out:
	spool_names_free(names, n);
	if (d != NULL)
		closedir(d);
	return rc;
}

int
spool_claim(const struct spool *sp, size_t max, char ***names, size_t *n)
{
	char src[SPOOL_PATH_MAX], dst[SPOOL_PATH_MAX];
	char **all = NULL, **mine = NULL;
	size_t nall = 0, nmine = 0, i;
	int rc;

	*names = NULL;
	*n = 0;
	if ((rc = list_dir(sp, "new", &all, &nall)) != OV_OK)
		return rc;
	if (nall == 0 || max == 0)
		goto out;
	mine = calloc(nall < max ? nall : max, sizeof(*mine));
	if (mine == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	for (i = 0; i < nall && nmine < max; i++) {
		if (spool_path(sp, "new", all[i], src) != 0 ||
		    spool_path(sp, "cur", all[i], dst) != 0)
			continue;
		/* Start the lease before the file appears in cur/, so a
		 * concurrent spool_recover() never sees it there with the old
		 * arrival time and hands it back. ENOENT: someone else won. */
		if (utimensat(AT_FDCWD, src, NULL, 0) != 0) {
			if (errno != ENOENT)
				log_warn("cannot touch spool file %s: %s",
				    all[i], strerror(errno));
			continue;
		}
		if (rename(src, dst) != 0) {
			if (errno == ENOENT)
				continue;
			log_error("cannot claim spool file %s: %s", all[i],
			    strerror(errno));
			if (nmine == 0)
				rc = OV_EIO;
			break;
		}
		mine[nmine++] = all[i];
		all[i] = NULL;
	}
	if (rc == OV_OK && nmine > 0) {
		*names = mine;
		*n = nmine;
		mine = NULL;
		nmine = 0;
	}
out:
	spool_names_free(all, nall);
	spool_names_free(mine, nmine);
	return rc;
}

int
spool_recover(const struct spool *sp, int64_t now, int64_t lease_s,
    size_t *moved)
{
	char src[SPOOL_PATH_MAX], dst[SPOOL_PATH_MAX];
	char **all = NULL;
	size_t nall = 0, nmoved = 0;
	int rc;

	if (moved != NULL)
		*moved = 0;
	if ((rc = list_dir(sp, "cur", &all, &nall)) != OV_OK)
		return rc;
	for (size_t i = 0; i < nall; i++) {
		struct stat st;

		if (spool_path(sp, "cur", all[i], src) != 0 ||
		    spool_path(sp, "new", all[i], dst) != 0)
			continue;
		if (lstat(src, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if ((int64_t)st.st_mtime >= now - lease_s)
			continue;
		if (rename(src, dst) != 0) {
			if (errno != ENOENT)
				log_warn("cannot recover spool file %s: %s",
				    all[i], strerror(errno));
			continue;
		}
		log_info("spool file %s back to new/ after its lease", all[i]);
		nmoved++;
	}
	if (moved != NULL)
		*moved = nmoved;
	spool_names_free(all, nall);
	return OV_OK;
}

int
spool_read(const struct spool *sp, const char *name, size_t max, char **body,
    size_t *len)
{
	char path[SPOOL_PATH_MAX];
	char *buf = NULL;
	size_t got = 0, size;
	struct stat st;
	int fd = -1, rc = OV_EIO;

	*body = NULL;
	*len = 0;
	if (name == NULL || !spool_name_ok(name) ||
	    spool_path(sp, "cur", name, path) != 0)
		return OV_EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = errno == ENOENT ? OV_ENOTFOUND : OV_EIO;
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max) {
		rc = OV_ETOOBIG;
		goto out;
	}
	size = (size_t)st.st_size;
	/* One spare byte detects a file that grew since fstat(). */
	if ((buf = malloc(size + 2)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + got, size + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > size) {
			rc = got > max ? OV_ETOOBIG : OV_EIO;
			goto out;
		}
	}
	buf[got] = '\0';
	*body = buf;
	*len = got;
	buf = NULL;
	rc = OV_OK;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

int
spool_done(const struct spool *sp, const char *name)
{
	char path[SPOOL_PATH_MAX];

	if (name == NULL || !spool_name_ok(name) ||
	    spool_path(sp, "cur", name, path) != 0)
		return OV_EINVAL;
	if (unlink(path) != 0)
		return errno == ENOENT ? OV_ENOTFOUND : OV_EIO;
	if (spool_path(sp, "tries", name, path) == 0)
		unlink(path);
	return OV_OK;
}

int
spool_touch(const struct spool *sp, const char *name)
{
	char path[SPOOL_PATH_MAX];

	if (name == NULL || !spool_name_ok(name) ||
	    spool_path(sp, "cur", name, path) != 0)
		return OV_EINVAL;
	if (utimensat(AT_FDCWD, path, NULL, 0) != 0)
		return errno == ENOENT ? OV_ENOTFOUND : OV_EIO;
	return OV_OK;
}

int
spool_fail(const struct spool *sp, const char *name)
{
	char src[SPOOL_PATH_MAX], dst[SPOOL_PATH_MAX], dir[SPOOL_PATH_MAX];

	if (name == NULL || !spool_name_ok(name) ||
	    spool_path(sp, "cur", name, src) != 0 ||
	    spool_path(sp, "failed", name, dst) != 0 ||
	    spool_path(sp, "failed", NULL, dir) != 0)
		return OV_EINVAL;
	if (rename(src, dst) != 0)
		return errno == ENOENT ? OV_ENOTFOUND : OV_EIO;
	if (fsync_dir(dir) != 0)
		return OV_EIO;
	return OV_OK;
}

int
spool_count_new(const struct spool *sp, size_t *n)
{
	char **all;
	size_t nall;
	int rc;

	*n = 0;
	if ((rc = list_dir(sp, "new", &all, &nall)) != OV_OK)
		return rc;
	*n = nall;
	spool_names_free(all, nall);
	return OV_OK;
}

int
spool_recover_all(const struct spool *sp, size_t *moved)
{
	char src[SPOOL_PATH_MAX], dst[SPOOL_PATH_MAX];
	char **all = NULL;
	size_t nall = 0, nmoved = 0;
	int rc;

	if (moved != NULL)
		*moved = 0;
	if ((rc = list_dir(sp, "cur", &all, &nall)) != OV_OK)
		return rc;
	for (size_t i = 0; i < nall; i++) {
		if (spool_path(sp, "cur", all[i], src) != 0 ||
		    spool_path(sp, "new", all[i], dst) != 0)
			continue;
		if (rename(src, dst) != 0) {
			if (errno != ENOENT)
				log_warn("cannot recover spool file %s: %s",
				    all[i], strerror(errno));
			continue;
		}
		nmoved++;
	}
	if (moved != NULL)
		*moved = nmoved;
	spool_names_free(all, nall);
	return OV_OK;
}

int
spool_clean_tmp(const struct spool *sp, int64_t now, int64_t max_age_s,
    size_t *removed)
{
	char path[SPOOL_PATH_MAX];
	char **all = NULL;
	size_t nall = 0, n = 0;
	int rc;

	if (removed != NULL)
		*removed = 0;
	if ((rc = list_dir(sp, "tmp", &all, &nall)) != OV_OK)
		return rc;
	for (size_t i = 0; i < nall; i++) {
		struct stat st;

		if (spool_path(sp, "tmp", all[i], path) != 0 ||
		    lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    (int64_t)st.st_mtime >= now - max_age_s)
			continue;
		if (unlink(path) == 0)
			n++;
	}
	if (removed != NULL)
		*removed = n;
	spool_names_free(all, nall);
	return OV_OK;
}

/* tries/<name>: "<count> <first> <last> <error>\n". */
struct spool_tries {
	unsigned count;
	int64_t first, last;
	char error[256];
};

/* One line of printable text: control characters become spaces. */
static void
one_line(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < cap; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ?
		    ' ' : src[i];
	dst[i] = '\0';
}

static int
tries_read(const struct spool *sp, const char *name, struct spool_tries *t)
{
	char path[SPOOL_PATH_MAX], buf[512], *end, *p;
	long long v[3];
	ssize_t r;
	int fd;

	memset(t, 0, sizeof(*t));
	if (spool_path(sp, "tries", name, path) != 0)
		return OV_EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? OV_ENOTFOUND : OV_EIO;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return OV_EPARSE;
	buf[r] = '\0';
	p = buf;
	for (int i = 0; i < 3; i++) {
		errno = 0;
		v[i] = strtoll(p, &end, 10);
		if (end == p || errno != 0 || *end != ' ' || v[i] < 0)
			return OV_EPARSE;
		p = end + 1;
	}
	if (v[0] > 1000000)
		return OV_EPARSE;
	t->count = (unsigned)v[0];
	t->first = v[1];
	t->last = v[2];
	if ((end = strchr(p, '\n')) != NULL)
		*end = '\0';
	one_line(t->error, sizeof(t->error), p);
	return OV_OK;
}

/* Write a small file durably and atomically: tmp/, fsync, rename. */
static int
write_small(const struct spool *sp, const char *sub, const char *fname,
    const char *text)
{
	char tmp[SPOOL_PATH_MAX], fin[SPOOL_PATH_MAX], dir[SPOOL_PATH_MAX];
	char tname[SPOOL_NAME_MAX];
	int fd, rc = OV_EIO;

	if (make_name(tname) != 0 || spool_path(sp, "tmp", tname, tmp) != 0 ||
	    spool_path(sp, sub, fname, fin) != 0 ||
	    spool_path(sp, sub, NULL, dir) != 0)
		return OV_EINVAL;
	fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return OV_EIO;
	if (fdio_write_all(fd, text, strlen(text)) == 0 && fsync(fd) == 0) {
		if (close(fd) == 0 && rename(tmp, fin) == 0) {
			fsync_dir(dir);
			return OV_OK;
		}
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int
spool_attempt(const struct spool *sp, const char *name, const char *error,
    int64_t now, unsigned *count)
{
	struct spool_tries t;
	char line[512], err[256];
	int rc;

	*count = 0;
	if (name == NULL || !spool_name_ok(name))
		return OV_EINVAL;
	one_line(err, sizeof(err), error);
	rc = tries_read(sp, name, &t);
	if (rc != OV_OK || strcmp(t.error, err) != 0) {
		t.count = 0;
		t.first = now;
	}
	t.count++;
	t.last = now;
	snprintf(line, sizeof(line), "%u %lld %lld %s\n", t.count,
	    (long long)t.first, (long long)t.last, err);
	if ((rc = write_small(sp, "tries", name, line)) != OV_OK)
		return rc;
	*count = t.count;
	return OV_OK;
}

static void
iso_time(int64_t t, char buf[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "%lld", (long long)t);
}

/* failed/<name>.why from the tries/ record (or one attempt now). */
static int
write_why(const struct spool *sp, const char *name, const char *error,
    int64_t now)
{
	struct spool_tries t;
	char why[1024], fname[SPOOL_NAME_MAX + 8], err[256], a[32], b[32];

	one_line(err, sizeof(err), error);
	if (tries_read(sp, name, &t) != OV_OK) {
		t.count = 1;
		t.first = t.last = now;
	}
	iso_time(t.first, a);
	iso_time(t.last, b);
	snprintf(why, sizeof(why), "error: %s\nattempts: %u\nfirst: %s\n"
	    "last: %s\n", err, t.count, a, b);
	snprintf(fname, sizeof(fname), "%s.why", name);
	return write_small(sp, "failed", fname, why);
}

int
spool_fail_why(const struct spool *sp, const char *name, const char *error,
    int64_t now)
{
	char path[SPOOL_PATH_MAX];
	int rc;

	if (name == NULL || !spool_name_ok(name))
		return OV_EINVAL;
	/* The .why first: a file in failed/ always says why. */
	if ((rc = write_why(sp, name, error, now)) != OV_OK)
		return rc;
	if ((rc = spool_fail(sp, name)) != OV_OK)
		return rc;
	if (spool_path(sp, "tries", name, path) == 0)
		unlink(path);
	return OV_OK;
}

int
spool_put_failed_why(const struct spool *sp, const void *body, size_t len,
    const char *error, int64_t now, char name[SPOOL_NAME_MAX])
{
	int rc = put_into(sp, "failed", body, len, name);

	if (rc == OV_OK)
		rc = write_why(sp, name, error, now);
	return rc;
}

static int
retry_one(const struct spool *sp, const char *name)
{
	char src[SPOOL_PATH_MAX], dst[SPOOL_PATH_MAX], why[SPOOL_PATH_MAX];
	char dir[SPOOL_PATH_MAX];

	if (spool_path(sp, "failed", name, src) != 0 ||
	    spool_path(sp, "new", name, dst) != 0 ||
	    spool_path(sp, "new", NULL, dir) != 0 ||
	    snprintf(why, sizeof(why), "%s.why", src) >= (int)sizeof(why))
		return OV_EINVAL;
	if (rename(src, dst) != 0)
		return errno == ENOENT ? OV_ENOTFOUND : OV_EIO;
	fsync_dir(dir);
	unlink(why);
	if (spool_path(sp, "tries", name, src) == 0)
		unlink(src);
	return OV_OK;
}

int
spool_retry_failed(const struct spool *sp, const char *name, size_t *moved)
{
	char **all = NULL;
	size_t nall = 0, n = 0;
	int rc;

	if (moved != NULL)
		*moved = 0;
	if (name != NULL) {
		if (!spool_name_ok(name))
			return OV_EINVAL;
		if ((rc = retry_one(sp, name)) == OV_OK && moved != NULL)
			*moved = 1;
		return rc;
	}
	if ((rc = list_dir(sp, "failed", &all, &nall)) != OV_OK)
		return rc;
	for (size_t i = 0; i < nall; i++)
		if (retry_one(sp, all[i]) == OV_OK)
			n++;
	if (moved != NULL)
		*moved = n;
	spool_names_free(all, nall);
	return OV_OK;
}

int
spool_release(const struct spool *sp, const char *name)
{
	char src[SPOOL_PATH_MAX], dst[SPOOL_PATH_MAX];

	if (name == NULL || !spool_name_ok(name) ||
	    spool_path(sp, "cur", name, src) != 0 ||
	    spool_path(sp, "new", name, dst) != 0)
		return OV_EINVAL;
	if (rename(src, dst) != 0)
		return errno == ENOENT ? OV_ENOTFOUND : OV_EIO;
	return OV_OK;
}
