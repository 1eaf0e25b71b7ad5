#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "quote.h"
#include "quote_file.h"
#include "quote_purge.h"
#include "store.h"

#define PURGE_BATCH 500
#define DRY_RUN_MAX 10000
#define TRACE_WA_ID "0"

static void
note(int *first, int rc)
{
	if (*first == OV_OK)
		*first = rc;
}

/* Drop one quote's PDF and contents, keeping the trace. */
static int
purge_one(struct store *st, const char *dir, struct store_quote *q,
    struct quote_purge_stats *stats)
{
	struct store_quote trace;
	int rc, removed = 0;

	/* The file first: if the trace could not be written, the next run
	 * finds the quote again and the missing file is no error. */
	if ((rc = quote_file_remove(dir, q->id, &removed)) != OV_OK)
		return rc;
	if (removed)
		stats->files++;
	memset(&trace, 0, sizeof(trace));
	memcpy(trace.id, q->id, sizeof(trace.id));
	trace.number = q->number;
	snprintf(trace.wa_id, sizeof(trace.wa_id), TRACE_WA_ID);
	snprintf(trace.state, sizeof(trace.state), "%s",
	    quote_state_name(QUOTE_EXPIRED));
	trace.created_at = q->created_at;
	trace.expires_at = q->expires_at;
	trace.doc = NULL;
	return store_quote_put(st, &trace);
}

static int
purge_records(struct store *st, const char *dir, int64_t cutoff,
    bool dry_run, quote_purge_fn fn, void *ctx,
    struct quote_purge_stats *stats)
{
	const char *vencido = quote_state_name(QUOTE_EXPIRED);
	struct store_quote *v = NULL;
	size_t n = 0;
	int rc, first = OV_OK;

	for (;;) {
		size_t failed = 0;

		rc = store_quote_list_older_except(st, cutoff, vencido,
		    dry_run ? DRY_RUN_MAX : PURGE_BATCH, &v, &n);
		if (rc != OV_OK) {
			note(&first, rc);
			stats->errors++;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (!dry_run && (rc = purge_one(st, dir, &v[i], stats))
			    != OV_OK) {
				log_error("quote %" PRId64 " (%s): cannot purge: "
				    "%s", v[i].number, v[i].id,
				    ov_strerror(rc));
				note(&first, rc);
				stats->errors++;
				failed++;
				continue;
			}
			stats->quotes++;
			if (fn != NULL)
				fn(ctx, QUOTE_PURGE_QUOTE, v[i].id, v[i].number,
				    v[i].created_at);
		}
		store_quotes_free(v, n);
		v = NULL;
		/* A dry run changes nothing, so a second listing would return
		 * the same quotes; a batch with failures would come back too. */
		if (dry_run || n == 0 || failed > 0)
			break;
	}
	if (dry_run && stats->quotes == DRY_RUN_MAX)
		log_warn("dry run: listed the first %d quotes only", DRY_RUN_MAX);
	return first;
}

/* Should this "<id>.pdf" go? Only when no live quote owns it. */
static int
pdf_is_orphan(struct store *st, const char *id, int64_t mtime,
    int64_t cutoff, bool *orphan)
{
	struct store_quote q;
	bool found = false;
	int rc;

	*orphan = false;
	if ((rc = store_quote_get(st, id, &q, &found)) != OV_OK)
		return rc;
	if (!found) {
		/* Young: its record may be on its way. */
		*orphan = mtime < cutoff;
		return OV_OK;
	}
	*orphan = strcmp(q.state, quote_state_name(QUOTE_EXPIRED)) == 0;
	store_quote_clear(&q);
	return OV_OK;
}

static int
purge_files(struct store *st, const char *dir, int64_t cutoff, bool dry_run,
    quote_purge_fn fn, void *ctx, struct quote_purge_stats *stats)
{
	DIR *d;
	struct dirent *e;
	int dfd, rc, first = OV_OK;

	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return OV_OK;   /* no quote was ever written */
		log_error("cannot read %s: %s", dir, strerror(errno));
		stats->errors++;
		return OV_EIO;
	}
	dfd = dirfd(d);
	while ((errno = 0, e = readdir(d)) != NULL) {
		enum quote_file_kind kind;
		char id[UUID_LEN + 1];
		struct stat sb;
		bool orphan = false;

		kind = quote_file_classify(e->d_name, id);
		if (kind == QUOTE_FILE_OTHER)
			continue;
		if (fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (kind == QUOTE_FILE_TMP) {
			orphan = (int64_t)sb.st_mtime < cutoff;
		} else if ((rc = pdf_is_orphan(st, id, (int64_t)sb.st_mtime,
		    cutoff, &orphan)) != OV_OK) {
			note(&first, rc);
			stats->errors++;
			continue;
		}
		if (!orphan)
			continue;
		if (!dry_run && unlinkat(dfd, e->d_name, 0) != 0) {
			if (errno == ENOENT)
				continue;   /* another purge got there first */
			log_error("cannot remove %s/%s: %s", dir, e->d_name,
			    strerror(errno));
			note(&first, OV_EIO);
			stats->errors++;
			continue;
		}
		stats->orphans++;
		if (fn != NULL)
			fn(ctx, QUOTE_PURGE_ORPHAN, e->d_name, 0,
			    (int64_t)sb.st_mtime);
	}
	if (errno != 0) {
		log_error("cannot read %s: %s", dir, strerror(errno));
		note(&first, OV_EIO);
		stats->errors++;
	}
	closedir(d);
	return first;
}

int
quote_purge(struct store *st, const char *dir, int64_t now, long ttl_days,
    bool dry_run, quote_purge_fn fn, void *ctx,
    struct quote_purge_stats *stats)
{
	int64_t cutoff;
	int rc, first = OV_OK;

	if (st == NULL || dir == NULL || *dir == '\0' || stats == NULL ||
	    ttl_days < 1 || ttl_days > 3650)
		return OV_EINVAL;
	memset(stats, 0, sizeof(*stats));
	cutoff = now - (int64_t)ttl_days * 86400;
	if ((rc = purge_records(st, dir, cutoff, dry_run, fn, ctx, stats)) !=
	    OV_OK)
		note(&first, rc);
	if ((rc = purge_files(st, dir, cutoff, dry_run, fn, ctx, stats)) !=
	    OV_OK)
		note(&first, rc);
	return first;
}
