#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"
#include "fsperm.h"
#include "log.h"
#include "quote_file.h"
#include "uuid.h"

#define PDF_SUFFIX ".pdf"
#define TMP_SUFFIX ".tmp"
#define TMP_RANDOM 6          /* mkstemp's XXXXXX */

int
quote_file_path(const char *dir, const char *id, char *buf, size_t len)
{
	int n;

	if (dir == NULL || *dir == '\0' || !uuid_v4_valid(id))
		return OV_EINVAL;
	n = snprintf(buf, len, "%s/%s" PDF_SUFFIX, dir, id);
	if (n < 0 || (size_t)n >= len)
		return OV_ETOOBIG;
	return OV_OK;
}

enum quote_file_kind
quote_file_classify(const char *name, char *id)
{
	size_t n = strnlen(name, 256);
	const size_t pdf = UUID_LEN + sizeof(PDF_SUFFIX) - 1;
	const size_t tmp = pdf + 1 + TMP_RANDOM + sizeof(TMP_SUFFIX) - 1;
	char uuid[UUID_LEN + 1];

	if (n != pdf && n != tmp)
		return QUOTE_FILE_OTHER;
	memcpy(uuid, name, UUID_LEN);
	uuid[UUID_LEN] = '\0';
	if (!uuid_v4_valid(uuid) ||
	    memcmp(name + UUID_LEN, PDF_SUFFIX, sizeof(PDF_SUFFIX) - 1) != 0)
		return QUOTE_FILE_OTHER;
	if (n == tmp) {
		const char *r = name + pdf + 1;

		if (name[pdf] != '.' || strcmp(r + TMP_RANDOM, TMP_SUFFIX) != 0)
			return QUOTE_FILE_OTHER;
		for (size_t i = 0; i < TMP_RANDOM; i++)
			if (r[i] == '/' || r[i] == '.' || r[i] == '\0')
				return QUOTE_FILE_OTHER;
	}
	if (id != NULL)
		memcpy(id, uuid, sizeof(uuid));
	return n == pdf ? QUOTE_FILE_PDF : QUOTE_FILE_TMP;
}

/* fsync the directory so the rename itself survives a crash. */
static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

int
quote_file_write(const char *dir, const char *id, const void *data,
    size_t len)
{
	char path[QUOTE_PATH_MAX], tmp[QUOTE_PATH_MAX], err[QUOTE_PATH_MAX + 160];
	int fd = -1, rc, n;

	if (data == NULL && len > 0)
		return OV_EINVAL;
	if ((rc = quote_file_path(dir, id, path, sizeof(path))) != OV_OK)
		return rc;
	n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX" TMP_SUFFIX, path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return OV_ETOOBIG;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", dir, strerror(errno));
		return OV_EIO;
	}
	/* A customer receives what is in here: another user's directory, or
	 * one others can write to, could hand them someone else's file. */
	if ((rc = fsperm_dir_ok(dir, 1, err, sizeof(err))) != OV_OK) {
		log_error("quote directory (PRESUPUESTOS_DIR): %s", err);
		return rc == OV_ENOTFOUND ? OV_EIO : rc;
	}
	fd = mkostemps(tmp, sizeof(TMP_SUFFIX) - 1, O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot create a file in %s: %s", dir,
		    strerror(errno));
		return OV_EIO;
	}
	if (fchmod(fd, 0640) != 0 || fdio_write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		rc = OV_EIO;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		log_error("cannot write %s: %s", tmp, strerror(errno));
		rc = OV_EIO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		log_error("cannot rename %s: %s", tmp, strerror(errno));
		rc = OV_EIO;
		goto out;
	}
	sync_dir(dir);
	rc = OV_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rc != OV_OK)
		(void)unlink(tmp);
	return rc;
}

int
quote_file_open(const char *dir, const char *id, int *fd, struct stat *st)
{
	char path[QUOTE_PATH_MAX], err[QUOTE_PATH_MAX + 160];
	int rc, f;

	*fd = -1;
	if ((rc = quote_file_path(dir, id, path, sizeof(path))) != OV_OK)
		return rc;
	/* Readers may run as another user (Apache); they only refuse a
	 * directory that others could have written into. */
	rc = fsperm_dir_ok(dir, 0, err, sizeof(err));
	if (rc == OV_ENOTFOUND)
		return OV_ENOTFOUND;
	if (rc != OV_OK) {
		log_error("quote directory (PRESUPUESTOS_DIR): %s", err);
		return rc;
	}
	f = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (f < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
			return OV_ENOTFOUND;
		log_error("cannot open %s: %s", path, strerror(errno));
		return OV_EIO;
	}
	if (fstat(f, st) != 0) {
		log_error("cannot stat %s: %s", path, strerror(errno));
		close(f);
		return OV_EIO;
	}
	if (!S_ISREG(st->st_mode)) {
		close(f);
		return OV_ENOTFOUND;
	}
	*fd = f;
	return OV_OK;
}

int
quote_file_remove(const char *dir, const char *id, int *removed)
{
	char path[QUOTE_PATH_MAX];
	int rc;

	if (removed != NULL)
		*removed = 0;
	if ((rc = quote_file_path(dir, id, path, sizeof(path))) != OV_OK)
		return rc;
	if (unlink(path) != 0) {
		if (errno == ENOENT)
			return OV_OK;
		log_error("cannot remove %s: %s", path, strerror(errno));
		return OV_EIO;
	}
	if (removed != NULL)
		*removed = 1;
	return OV_OK;
}
