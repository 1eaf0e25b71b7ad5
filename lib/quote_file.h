/*
 * quote_file.h - quote PDFs on disk: PRESUPUESTOS_DIR/<id>.pdf.
 *
 * The id is a UUID v4 (lib/uuid.h) and is checked before any path is
 * made, so no caller can reach outside the directory. Files are written
 * to "<id>.pdf.XXXXXX.tmp" in the same directory, fsync'd, given mode
 * 0640 and renamed over "<id>.pdf": a reader sees the whole old file or
 * the whole new one. The purge (lib/quote_purge.h) knows both names and
 * touches nothing else in the directory.
 *
 * Ownership: paths go into the caller's buffers; descriptors returned by
 * quote_file_open() belong to the caller, who closes them.
 */
#ifndef OVIDIO_QUOTE_FILE_H
#define OVIDIO_QUOTE_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "uuid.h"

/* Room for "<dir>/<id>.pdf.XXXXXX.tmp". */
#define QUOTE_PATH_MAX 4096

enum quote_file_kind {
	QUOTE_FILE_OTHER = 0,   /* not ours: never touched */
	QUOTE_FILE_PDF,         /* <id>.pdf */
	QUOTE_FILE_TMP,         /* <id>.pdf.XXXXXX.tmp, being written or left by a crash */
};

/* "<dir>/<id>.pdf". OV_EINVAL for an id that is not a UUID v4 or an
 * empty dir, OV_ETOOBIG when it does not fit. */
int quote_file_path(const char *dir, const char *id, char *buf, size_t len);

/* What a directory entry is; for PDF and TMP, id (UUID_LEN + 1 bytes,
 * may be NULL) receives the quote id. */
enum quote_file_kind quote_file_classify(const char *name, char *id);

/* Write data as the quote's PDF, atomically (see above). Creates dir
 * (mode 0750) if it is missing. OV_EIO with errno logged; OV_ECONFIG
 * (logged) when dir belongs to another user or is writable by group or
 * others (lib/fsperm.h). */
int quote_file_write(const char *dir, const char *id, const void *data,
    size_t len);

/* Open the quote's PDF for reading without following a symbolic link;
 * *st describes it. OV_ENOTFOUND when there is none or it is not a
 * regular file; OV_ECONFIG (logged) when dir is writable by group or
 * others. */
int quote_file_open(const char *dir, const char *id, int *fd,
    struct stat *st);

/* Remove the quote's PDF; a file already gone is OV_OK (*removed false).
 * removed may be NULL. */
int quote_file_remove(const char *dir, const char *id, int *removed);

#endif
