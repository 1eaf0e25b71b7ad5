#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fsperm.h"

int
fsperm_dir_ok(const char *path, int need_owner, char *err, size_t errlen)
{
	struct stat st;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "empty directory name");
		return OV_EINVAL;
	}
	/* stat, not lstat: a symbolic link to a directory of ours is a
	 * legitimate deployment; what it points to is what gets checked. */
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return OV_ENOTFOUND;
		snprintf(err, errlen, "cannot examine %s: %s", path,
		    strerror(errno));
		return OV_EIO;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", path);
		return OV_EIO;
	}
	if (need_owner && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s belongs to uid %ld, not to this user "
		    "(uid %ld); refused: chown it to this user or choose "
		    "another directory", path, (long)st.st_uid,
		    (long)geteuid());
		return OV_ECONFIG;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen, "%s is writable by %s (mode %04o); "
		    "refused: chmod go-w %s", path,
		    (st.st_mode & S_IWOTH) != 0 ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777), path);
		return OV_ECONFIG;
	}
	return OV_OK;
}
