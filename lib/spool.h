/*
 * spool.h - the durable hand-off between cgi-bin/webhook and jobs/worker.
 *
 * Layout under $OVIDIO_DATA_DIR/spool: tmp/ new/ cur/ failed/ tries/
 * (maildir style, plus tries/<name>: how often a file failed, and how). A body is written to tmp/, fsynced, renamed into new/ and the
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

/* Remove cur/name once everything in it is stored (and its tries/
 * record, if any). */
int spool_done(const struct spool *sp, const char *name);

/* Renew the lease of cur/name (its mtime becomes now): a worker still
 * working on a file keeps spool_recover() from sending it back. */
int spool_touch(const struct spool *sp, const char *name);

/* Move cur/name to failed/ (unprocessable content, kept for inspection). */
int spool_fail(const struct spool *sp, const char *name);

/* Move every file in cur/ back to new/, whatever its age: for a worker
 * that holds the coordinator lock, so the process that claimed them is
 * gone (no lease to wait out). */
int spool_recover_all(const struct spool *sp, size_t *moved);

/* Move cur/name back to new/ (its claimer lets it go for a later try). */
int spool_release(const struct spool *sp, const char *name);

/* Remove files in tmp/ older than max_age_s (a webhook killed between
 * create and rename leaves one). */
int spool_clean_tmp(const struct spool *sp, int64_t now, int64_t max_age_s,
    size_t *removed);

/* One failed attempt at cur/name ended with error (one line, no control
 * characters needed: they are replaced). The count restarts at 1 when the
 * error differs from the last one ("fails the same way N times").
 * Recorded durably in tries/name; *count is the attempts so far. */
int spool_attempt(const struct spool *sp, const char *name,
    const char *error, int64_t now, unsigned *count);

/* Move cur/name to failed/ with failed/name.why beside it: the error, the
 * attempts and their first and last times (from tries/name when there,
 * else one attempt now). The tries/ record is removed. */
int spool_fail_why(const struct spool *sp, const char *name,
    const char *error, int64_t now);

/* spool_put_failed() plus a .why (one attempt, now). */
int spool_put_failed_why(const struct spool *sp, const void *body,
    size_t len, const char *error, int64_t now, char name[SPOOL_NAME_MAX]);

/* Put failed/name (every failed file when name is NULL) back into new/
 * and drop its .why and tries/ record. OV_ENOTFOUND when name is not
 * there; OV_EINVAL when it is not a spool name. */
int spool_retry_failed(const struct spool *sp, const char *name,
    size_t *moved);

/* Count entries in new/ (for tests and the worker's exit check). */
int spool_count_new(const struct spool *sp, size_t *n);

void spool_names_free(char **names, size_t n);

#endif
