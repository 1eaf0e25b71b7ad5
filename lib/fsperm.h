/*
 * fsperm.h - refuse a directory someone else could tamper with.
 *
 * The data directory (spool, store, locks) and the quote directory hold
 * what customers receive; a directory owned by another user, or writable
 * by group or others, lets that someone plant or swap files. Callers
 * refuse it with the message written into err (one line naming the path,
 * the owner or the mode, and what to do).
 *
 * libc only (cgi-bin/webhook is linked statically). No allocation.
 */
#ifndef OVIDIO_FSPERM_H
#define OVIDIO_FSPERM_H

#include <stddef.h>

/* Check the existing directory path. need_owner: it must belong to this
 * process's effective user (writers); readers pass 0 and only refuse a
 * directory writable by group or others. OV_ENOTFOUND when it does not
 * exist (the caller may create it), OV_EIO when it cannot be examined or
 * is not a directory, OV_ECONFIG when refused. */
int fsperm_dir_ok(const char *path, int need_owner, char *err,
    size_t errlen);

#endif
