/*
 * status_file.c - one-line status files (see status_file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "status_file.h"

#define STATUS_LINE_MAX 512

static int
status_path(const struct config *cfg, const char *name, char *buf,
    size_t len)
{
	const char *dir = config_get(cfg, "OVIDIO_DATA_DIR");

	if (dir == NULL || name == NULL || strchr(name, '/') != NULL ||
	    name[0] == '.')
		return OV_EINVAL;
	if ((size_t)snprintf(buf, len, "%s/status/%s", dir, name) >= len)
		return OV_ETOOBIG;
	return OV_OK;
}

int
status_file_write(const struct config *cfg, const char *name, int64_t now,
    const char *text)
{
	char path[1024], tmp[1100], line[STATUS_LINE_MAX];
	const char *dir = config_get(cfg, "OVIDIO_DATA_DIR");
	int fd, rc, n;

	if ((rc = status_path(cfg, name, path, sizeof(path))) != OV_OK)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s/status", dir);
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return OV_EIO;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	n = snprintf(line, sizeof(line), "%lld %s\n", (long long)now,
	    text != NULL ? text : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return OV_ETOOBIG;
	for (int i = 0; line[i] != '\0' && i < n - 1; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return OV_EIO;
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		unlink(tmp);
		return OV_EIO;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return OV_EIO;
	}
	return OV_OK;
}

int
status_file_read(const struct config *cfg, const char *name, int64_t *when,
    char *text, size_t textlen, bool *found)
{
	char path[1024], line[STATUS_LINE_MAX], *end;
	FILE *f;
	long long t;
	int rc;

	*found = false;
	*when = 0;
	if (text != NULL && textlen > 0)
		text[0] = '\0';
	if ((rc = status_path(cfg, name, path, sizeof(path))) != OV_OK)
		return rc;
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? OV_OK : OV_EIO;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return OV_OK;
	}
	fclose(f);
	errno = 0;
	t = strtoll(line, &end, 10);
	if (errno != 0 || end == line || t < 0)
		return OV_OK;
	*when = (int64_t)t;
	*found = true;
	if (text != NULL && textlen > 0) {
		while (*end == ' ')
			end++;
		end[strcspn(end, "\r\n")] = '\0';
		snprintf(text, textlen, "%s", end);
	}
	return OV_OK;
}

int
status_file_remove(const struct config *cfg, const char *name)
{
	char path[1024];
	int rc;

	if ((rc = status_path(cfg, name, path, sizeof(path))) != OV_OK)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		return OV_EIO;
	return OV_OK;
}
