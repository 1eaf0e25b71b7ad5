/*
 * spool.h - the durable hand-off between cgi-bin/webhook and jobs/worker.
 *
 * Layout under $OVIDIO_DATA_DIR/spool: tmp/ new/ cur/ failed/ (maildir
 * style). A body is written to tmp/, fsynced, renamed into new/ and the
 * directory fsynced: only then is it acknowledged. A worker claims a file
 * by renaming new/X to cur/X (rename is atomic: one claimant wins). A file
 * left in cur/ longer than a lease goes back to new/ (crash recovery).
 * Names are "<unix-ns>.<pid>.<16 hex>.json": unique, and sorting by name
 * sorts by arrival.
 *
 * Ownership: struct spool holds only paths; names handed out are malloc'd
 * arrays freed with spool_names_free().
 */
#ifndef OVIDIO_SPOOL_H
#define OVIDIO_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_NAME_MAX 96

struct spool {
	char root[4096 - 16];   /* .../spool */
};

/* Fill sp from data_dir and create spool/{tmp,new,cur,failed} (0700) when
 * missing (data_dir itself too, one level only). OV_EIO when they cannot
 * be created or one of them is not a directory. */
int spool_init(struct spool *sp, const char *data_dir);

/* Durably store body into new/. On success writes the file name (no
 * directory) into name (SPOOL_NAME_MAX bytes). OV_EIO on any failure
 * (disk full, permissions), after removing the partial tmp file. */
int spool_put(const struct spool *sp, const void *body, size_t len,
    char name[SPOOL_NAME_MAX]);

/* Keep a body that cannot be processed: written straight into failed/
 * with a ".json" name, durably. */
int spool_put_failed(const struct spool *sp, const void *body, size_t len,
    char name[SPOOL_NAME_MAX]);

/* Move files in cur/ whose mtime is older than now - lease_s back to new/.
 * Returns the count moved in *moved (may be NULL). */
int spool_recover(const struct spool *sp, int64_t now, int64_t lease_s,
    size_t *moved);

/* Claim up to max files from new/, oldest name first, by renaming each into
 * cur/ (and touching its mtime, which starts its lease). Files another
 * process claimed first are skipped. *names is a malloc'd array of *n
 * malloc'd names; free with spool_names_free(). */
int spool_claim(const struct spool *sp, size_t max, char ***names, size_t *n);

/* Read a claimed file cur/name whole (at most max bytes, else OV_ETOOBIG).
 * *body is malloc'd and NUL-terminated; *len excludes the NUL. */
int spool_read(const struct spool *sp, const char *name, size_t max,
    char **body, size_t *len);

/* Remove cur/name once everything in it is stored. */
int spool_done(const struct spool *sp, const char *name);

/* Renew the lease of cur/name (its mtime becomes now): a worker still
 * working on a file keeps spool_recover() from sending it back. */
int spool_touch(const struct spool *sp, const char *name);

/* Move cur/name to failed/ (unprocessable content, kept for inspection). */
int spool_fail(const struct spool *sp, const char *name);

/* Count entries in new/ (for tests and the worker's exit check). */
int spool_count_new(const struct spool *sp, size_t *n);

void spool_names_free(char **names, size_t n);

#endif
