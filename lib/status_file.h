/*
 * status_file.h - small status files for the operator's status page and
 * cgi-bin/health, in $OVIDIO_DATA_DIR/status/, one line each:
 * "<unix seconds> <text>", replaced whole (temp file + rename), so a reader
 * never sees half of one:
 *   worker.last           the worker's last run
 *   sync-products.last    the last good products sync ("<count> from <source>")
 *   sync-clients.last     the last good clients sync
 *   sync.request          a catalog sync asked for from the status page
 * A module of its own so cgi-bin/health links neither the store nor a
 * network library (a monitor's request stays cheap).
 *
 * Ownership: nothing allocated; buffers are the caller's.
 */
#ifndef OVIDIO_STATUS_FILE_H
#define OVIDIO_STATUS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

/* Write $OVIDIO_DATA_DIR/status/<name>: "<now> <text>\n", atomically. */
int status_file_write(const struct config *cfg, const char *name,
    int64_t now, const char *text);
/* Read one; *found false when missing. text may be NULL. */
int status_file_read(const struct config *cfg, const char *name,
    int64_t *when, char *text, size_t textlen, bool *found);
/* Remove one (a request acted on); missing is OV_OK. */
int status_file_remove(const struct config *cfg, const char *name);

#endif
