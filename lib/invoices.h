/*
 * invoices.h - a customer's latest invoices as Cianbox last gave them,
 * kept in the store so a page can show them without waiting for Cianbox
 * (DESIGN.md section 6: the customer panel of the inbox).
 *
 * One copy per Cianbox customer, in the store's tokens under
 * "cianbox_facturas:<id>" (JSON), written by whoever fetched them: the bot
 * answering "mis facturas", the inbox. Only what a person reads is kept:
 * date, type, point of sale and number, total, what is still owed,
 * current account or cash, cancelled, currency.
 *
 * The copy says when it was fetched (fetched_at; 0: never) and, when the
 * last try failed, when (failed_at; 0 after a success), so a page shows
 * its age and the failure, and does not ask a Cianbox that is down on
 * every view: invoices_due() is that policy.
 * A copy for another document number (the customer's CUIT changed) is
 * not this customer's any more: due, and not to be shown.
 *
 * Account data: callers show it only to a verified customer's number
 * (customer.h); nothing here checks that.
 *
 * This module knows the store only: a program that shows the copy links
 * without libcurl. Ownership: plain structs, nothing to free.
 */
#ifndef OVIDIO_INVOICES_H
#define OVIDIO_INVOICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cianbox.h"

struct store;

#define INVOICES_MAX 10          /* invoices kept per customer */
#define INVOICES_FRESH_S 600     /* a younger copy is not fetched again */
#define INVOICES_RETRY_S 60      /* after a failed try, none for this long */

struct invoices {
	int64_t fetched_at;          /* 0: never fetched */
	int64_t failed_at;           /* the last try failed then; 0: it did not */
	char documento[24];          /* the numero_documento asked for */
	size_t n;
	struct cianbox_venta v[INVOICES_MAX];   /* newest first */
};

/* The copy of customer cianbox_id. *found false (and OV_OK) when there is
 * none or it cannot be read (then it is as good as missing). */
int invoices_get(struct store *st, int64_t cianbox_id, struct invoices *out,
    bool *found);

/* Keep what Cianbox gave for documento at now: the first INVOICES_MAX of
 * v[0..n), failed_at cleared. */
int invoices_put(struct store *st, int64_t cianbox_id, const char *documento,
    const struct cianbox_venta *v, size_t n, int64_t now);

/* A try failed at now: the copy (if any) stays, failed_at = now. */
int invoices_failed(struct store *st, int64_t cianbox_id, int64_t now);

/* Whether to ask Cianbox now for documento's invoices: the copy is
 * missing, for another document, or older than INVOICES_FRESH_S, and no
 * try failed in the last INVOICES_RETRY_S. */
bool invoices_due(const struct invoices *c, bool found, const char *documento,
    int64_t now);

/* Whether the copy may be shown for documento (fetched, same document). */
bool invoices_usable(const struct invoices *c, bool found,
    const char *documento);

#endif
