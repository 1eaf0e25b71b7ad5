/*
 * catalog_sync.h - copy Cianbox's products and clients into the store
 * (productos_cache, clientes_cianbox), as jobs/catalog-sync does.
 *
 * Products come from the API (paged, one page in memory at a time, each
 * item written straight into the store's writer), else from the panel
 * scraper when the API fails or is not used (CIANBOX_SYNC_SOURCE=panel).
 * Clients come from the API only. Either catalog is replaced whole and
 * atomically, and never by a result that looks broken: an empty one, or
 * one under half the items the store holds now, is refused (the old copy
 * stays) unless opts->force. A dry run fetches and counts, writes nothing.
 *
 * Ownership: the store, the API client and the panel client are borrowed
 * (cb or panel may be NULL: that source is not used). Reports are plain
 * structs.
 */
#ifndef OVIDIO_CATALOG_SYNC_H
#define OVIDIO_CATALOG_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct cianbox;
struct cianbox_panel;
struct shop;

enum catalog_sync_source {
	CATALOG_SYNC_AUTO = 0,   /* the API, else the panel */
	CATALOG_SYNC_API,
	CATALOG_SYNC_PANEL,
	CATALOG_SYNC_SHOP        /* the shop back end (lib/shop.h) only */
};

/* From CIANBOX_SYNC_SOURCE ("auto", "api", "panel", "shop"); OV_EINVAL
 * otherwise. */
int catalog_sync_source_parse(const char *s, enum catalog_sync_source *out);

/* Called as items arrive (every page), for a progress line. */
typedef void (*catalog_sync_progress_fn)(void *arg, const char *what,
    const char *source, size_t pages, size_t items);

struct catalog_sync_opts {
	bool dry_run;
	bool force;
	enum catalog_sync_source source;
	int64_t now;                         /* synced_at of the items */
	catalog_sync_progress_fn progress;   /* may be NULL */
	void *progress_arg;
	struct shop *shop;                   /* CATALOG_SYNC_SHOP's source */
};

struct catalog_sync_report {
	const char *what;        /* "products", "clients" */
	char source[8];          /* "api", "panel", "shop", "" when nothing
	                            answered */
	size_t pages;            /* API pages (0 for the panel) */
	size_t items;            /* written (or counted, dry run) */
	size_t skipped;          /* items Ovidio cannot use (no id, not
	                            vigente, no name, odd price or IVA) */
	int64_t before;          /* items in the store before */
	bool refused;            /* the guard kept the old copy */
	bool api_failed;         /* the API failed and the panel was tried */
	char why[256];           /* one line when refused or failed */
};

/*
 * Sync one catalog. OV_OK when replaced (or counted, dry run). When the
 * guard refuses: OV_EINVAL with report->refused and report->why. When no
 * source answered: the source's error code with report->why. The store
 * keeps its old copy on every error.
 */
int catalog_sync_products(struct store *st, struct cianbox *cb,
    struct cianbox_panel *panel, const struct catalog_sync_opts *opts,
    struct catalog_sync_report *report);
int catalog_sync_clients(struct store *st, struct cianbox *cb,
    const struct catalog_sync_opts *opts, struct catalog_sync_report *report);

#endif
