/*
 * legacy_import.c - an old bot's records into Ovidio's (see
 * legacy_import.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conv.h"
#include "customer.h"
#include "err.h"
#include "legacy.h"
#include "legacy_import.h"
#include "log.h"
#include "quote.h"
#include "store.h"
#include "uuid.h"

/* An old quote read and waiting for its number to be looked up. */
struct pending_quote {
	char doc_id[LEGACY_ID_MAX + 1];
	int64_t number;
	char wa_id[STORE_WAID_MAX + 1];
	int64_t created_at;
	int64_t old_total_cents;
	int64_t total_cents;
	struct store_quote rec;        /* what to write (not in a dry run) */
};

#define QUOTE_BATCH 500

struct run {
	struct store *st;
	bool dry_run;
	legacy_report_fn report;
	void *ctx;
	struct legacy_import_stats *stats;
	/* History waiting to be written, across customers, so that one
	 * store_msgs_import() carries up to STORE_IMPORT_BATCH messages:
	 * nbatch of them, each body a copy owned here. */
	struct store_msg *batch;
	size_t nbatch;
	/* Quotes, likewise: numbers looked up and new quotes written
	 * QUOTE_BATCH at a time. */
	struct pending_quote *quotes;
	size_t nquotes;
	int64_t *numbers;
	struct store_quote *have;
	bool *found;
	struct store_quote *fresh;
	int quotes_rc;                 /* a flush's failure, met later */
};

static int flush_quotes(struct run *r);

static void
say(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(struct run *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (r->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	r->report(r->ctx, line);
}

static void
on_skip(void *ctx, const char *what, const char *id, const char *reason)
{
	struct run *r = ctx;

	/* The lines of the quotes read before come first; a failure
	 * stops the import at the next quote, or at the end. */
	if (r->quotes_rc == OV_OK)
		r->quotes_rc = flush_quotes(r);
	r->stats->skipped++;
	say(r, "skipped %s %s: %s", what, id, reason);
}

/* ---- customers ----------------------------------------------------------- */

static void
batch_clear(struct run *r)
{
	for (size_t i = 0; i < r->nbatch; i++)
		free(r->batch[i].body);
	r->nbatch = 0;
}

/* Write the history waiting in the batch. */
static int
flush_history(struct run *r)
{
	size_t added = 0;
	int rc;

	if (r->nbatch == 0)
		return OV_OK;
	rc = store_msgs_import(r->st, r->batch, r->nbatch, &added);
	if (rc == OV_OK)
		r->stats->messages_added += added;
	else
		log_error("import of %zu messages: %s", r->nbatch,
		    ov_strerror(rc));
	batch_clear(r);
	return rc;
}

static int
import_history(struct run *r, const struct legacy_customer *c)
{
	int rc;

	r->stats->messages_read += c->nentries;
	r->stats->entries_dropped += c->dropped;
	if (r->dry_run)
		return OV_OK;
	for (size_t i = 0; i < c->nentries; i++) {
		const struct legacy_entry *e = &c->entries[i];
		struct store_msg *m;

		if (r->nbatch == STORE_IMPORT_BATCH &&
		    (rc = flush_history(r)) != OV_OK)
			return rc;
		m = &r->batch[r->nbatch];
		memset(m, 0, sizeof(*m));
		if ((m->body = strdup(e->text)) == NULL)
			return OV_ENOMEM;
		r->nbatch++;
		memcpy(m->id, e->id, sizeof(m->id));
		memcpy(m->wa_id, c->wa_id, sizeof(m->wa_id));
		m->dir = e->dir;
		m->ts = e->ts;
		snprintf(m->type, sizeof(m->type), "text");
		snprintf(m->status, sizeof(m->status), "%s",
		    e->dir == STORE_IN ? "handled" : "sent");
	}
	return OV_OK;
}

/* The Cianbox link the old bot made, if the phone on file agrees. */
static int
checked_link(struct run *r, const struct legacy_customer *c, int64_t *link)
{
	struct cianbox_cliente client;
	bool found = false;
	int rc;

	*link = 0;
	if (c->cianbox_id <= 0)
		return OV_OK;
	rc = customer_client_get(r->st, c->cianbox_id, &client, &found);
	if (rc != OV_OK)
		return rc;
	if (!found) {
		r->stats->links_unchecked++;
		say(r, "not linked %s to Cianbox %" PRId64 ": that customer is "
		    "not among the synced ones (run catalog-sync, then import "
		    "again)", c->wa_id, c->cianbox_id);
		return OV_OK;
	}
	if (!customer_phone_matches(&client, c->wa_id)) {
		r->stats->links_dropped++;
		say(r, "unlinked %s from Cianbox %" PRId64 " (%s): no phone on "
		    "file matches the number", c->wa_id, c->cianbox_id,
		    client.razon);
		return OV_OK;
	}
	r->stats->links_kept++;
	*link = c->cianbox_id;
	return OV_OK;
}

static int
import_customer_record(struct run *r, const struct legacy_customer *c)
{
	struct store_customer cur, want;
	bool found = false, changed = false;
	int64_t link;
	int rc;

	if ((rc = checked_link(r, c, &link)) != OV_OK)
		return rc;
	if ((rc = store_customer_get(r->st, c->wa_id, &cur, &found)) != OV_OK)
		return rc;
	memset(&want, 0, sizeof(want));
	if (found) {
		want = cur;
		/* What Ovidio already knows stands; the old values fill in. */
		if ((want.name == NULL || want.name[0] == '\0') &&
		    c->name[0] != '\0') {
			want.name = (char *)c->name;
			changed = true;
		}
		if (want.cianbox_id == 0 && link != 0) {
			want.cianbox_id = link;
			want.verified = true;
			changed = true;
		}
		if (changed) {
			r->stats->customers_updated++;
			if (!r->dry_run)
				rc = store_customer_put(r->st, &want);
		}
		/* want's other strings are cur's. */
		store_customer_clear(&cur);
		return rc;
	}
	memcpy(want.wa_id, c->wa_id, sizeof(want.wa_id));
	want.cianbox_id = link;
	want.verified = link != 0;
	want.name = c->name[0] != '\0' ? (char *)c->name : NULL;
	r->stats->customers_new++;
	if (r->dry_run)
		return OV_OK;
	return store_customer_put(r->st, &want);
}

static bool
has_brand(const struct conv_profile *p, const char *b)
{
	for (size_t i = 0; i < p->nbrands; i++)
		if (strcasecmp(p->brands[i], b) == 0)
			return true;
	return false;
}

static int
import_profile(struct run *r, const struct legacy_customer *c)
{
	const struct conv_profile *old = &c->profile;
	struct store_conv rec;
	struct conv *cv;
	bool found = false, changed = false;
	int rc;

	if (old->nbrands == 0 && old->promo == CONV_PROMO_UNKNOWN &&
	    old->birthday[0] == '\0')
		return OV_OK;
	if ((cv = malloc(sizeof(*cv))) == NULL)
		return OV_ENOMEM;
	if ((rc = store_conv_get(r->st, c->wa_id, &rec, &found)) != OV_OK)
		goto out;
	if (found) {
		rc = conv_from_store(&rec, cv);
		store_conv_clear(&rec);
		if (rc != OV_OK)
			goto out;
	} else {
		conv_init(cv, c->wa_id);
	}
	for (size_t i = 0; i < old->nbrands; i++) {
		if (cv->profile.nbrands >= CONV_BRANDS_MAX)
			break;
		if (has_brand(&cv->profile, old->brands[i]))
			continue;
		memcpy(cv->profile.brands[cv->profile.nbrands++],
		    old->brands[i], sizeof(old->brands[i]));
		changed = true;
	}
	if (cv->profile.promo == CONV_PROMO_UNKNOWN &&
	    !cv->profile.promo_asked && old->promo != CONV_PROMO_UNKNOWN) {
		cv->profile.promo = old->promo;
		cv->profile.promo_asked = true;
		changed = true;
	}
	if (cv->profile.birthday[0] == '\0' && old->birthday[0] != '\0') {
		memcpy(cv->profile.birthday, old->birthday,
		    sizeof(old->birthday));
		changed = true;
	}
	if (!changed)
		goto out;
	r->stats->profiles++;
	if (r->dry_run)
		goto out;
	if ((rc = conv_to_store(cv, &rec)) != OV_OK)
		goto out;
	rc = store_conv_put(r->st, &rec);
	store_conv_clear(&rec);
out:
	free(cv);
	return rc;
}

static int
on_customer(void *ctx, const struct legacy_customer *c)
{
	struct run *r = ctx;
	int rc;

	r->stats->customers++;
	r->stats->documents += c->ndocs;
	if (c->ndocs > 1)
		say(r, "merged %zu documents of %s", c->ndocs, c->wa_id);
	if ((rc = import_customer_record(r, c)) != OV_OK ||
	    (rc = import_profile(r, c)) != OV_OK ||
	    (rc = import_history(r, c)) != OV_OK)
		log_error("import of customer %s: %s", c->wa_id,
		    ov_strerror(rc));
	return rc;
}

/* ---- quotes ------------------------------------------------------------------ */

static void
quotes_clear(struct run *r)
{
	for (size_t i = 0; i < r->nquotes; i++)
		free(r->quotes[i].rec.doc);
	r->nquotes = 0;
}

/* Look the waiting quotes' numbers up in one go; write the new ones in
 * another. A number taken by the same quote (same customer and time) was
 * imported before; by another, the old quote is skipped. */
static int
flush_quotes(struct run *r)
{
	size_t nfresh = 0, added = 0;
	int rc;

	if (r->nquotes == 0)
		return OV_OK;
	for (size_t i = 0; i < r->nquotes; i++)
		r->numbers[i] = r->quotes[i].number;
	rc = store_quotes_by_number(r->st, r->numbers, r->nquotes, r->have,
	    r->found);
	if (rc != OV_OK)
		goto out;
	for (size_t i = 0; i < r->nquotes; i++) {
		struct pending_quote *p = &r->quotes[i];

		if (r->found[i]) {
			bool same = strcmp(r->have[i].wa_id, p->wa_id) == 0 &&
			    r->have[i].created_at == p->created_at;

			store_quote_clear(&r->have[i]);
			if (same) {
				r->stats->quotes_present++;
				continue;
			}
			r->stats->skipped++;
			say(r, "skipped presupuesto %s: number %" PRId64 " is "
			    "taken by another quote", p->doc_id, p->number);
			continue;
		}
		if (p->old_total_cents >= 0 &&
		    p->old_total_cents != p->total_cents) {
			char was[32], now[32];

			quote_format_cents(p->old_total_cents, was, sizeof(was));
			quote_format_cents(p->total_cents, now, sizeof(now));
			say(r, "quote %" PRId64 ": total recomputed as USD %s "
			    "(the old bot said USD %s)", p->number, now, was);
		}
		if (r->dry_run)
			r->stats->quotes_added++;
		else
			r->fresh[nfresh++] = p->rec;
	}
	if (nfresh == 0)
		goto out;
	rc = store_quotes_import(r->st, r->fresh, nfresh, &added);
	if (rc != OV_OK)
		goto out;
	r->stats->quotes_added += added;
	if (added < nfresh)
		log_warn("%zu quotes not added: their numbers were taken "
		    "meanwhile (run the import again)", nfresh - added);
out:
	if (rc != OV_OK)
		log_error("import of %zu quotes: %s", r->nquotes,
		    ov_strerror(rc));
	quotes_clear(r);
	return rc;
}

static int
on_quote(void *ctx, const char *doc_id, struct quote *q,
    int64_t old_total_cents)
{
	struct run *r = ctx;
	struct pending_quote *p;
	int rc;

	if (r->quotes_rc != OV_OK)
		return r->quotes_rc;
	r->stats->quotes_read++;
	if (q->number > r->stats->highest_number)
		r->stats->highest_number = q->number;
	/* A number met twice is looked up after the first is written. */
	for (size_t i = 0; i < r->nquotes; i++)
		if (r->quotes[i].number == q->number) {
			if ((rc = flush_quotes(r)) != OV_OK)
				return rc;
			break;
		}
	if (r->nquotes == QUOTE_BATCH && (rc = flush_quotes(r)) != OV_OK)
		return rc;
	p = &r->quotes[r->nquotes];
	memset(p, 0, sizeof(*p));
	snprintf(p->doc_id, sizeof(p->doc_id), "%s", doc_id);
	p->number = q->number;
	memcpy(p->wa_id, q->wa_id, sizeof(p->wa_id));
	p->created_at = q->created_at;
	p->old_total_cents = old_total_cents;
	p->total_cents = q->total_cents;
	if (!r->dry_run) {
		if ((rc = uuid_v4(q->id)) != OV_OK ||
		    (rc = quote_to_record(q, &p->rec)) != OV_OK)
			return rc;
	}
	r->nquotes++;
	return OV_OK;
}

int
legacy_import(struct store *st, struct legacy *lg, bool dry_run,
    legacy_report_fn report, void *ctx, struct legacy_import_stats *stats)
{
	struct run r;
	int rc = OV_ENOMEM;

	memset(stats, 0, sizeof(*stats));
	memset(&r, 0, sizeof(r));
	r.st = st;
	r.dry_run = dry_run;
	r.report = report;
	r.ctx = ctx;
	r.stats = stats;
	if ((r.batch = calloc(STORE_IMPORT_BATCH, sizeof(*r.batch))) == NULL ||
	    (r.quotes = calloc(QUOTE_BATCH, sizeof(*r.quotes))) == NULL ||
	    (r.numbers = calloc(QUOTE_BATCH, sizeof(*r.numbers))) == NULL ||
	    (r.have = calloc(QUOTE_BATCH, sizeof(*r.have))) == NULL ||
	    (r.found = calloc(QUOTE_BATCH, sizeof(*r.found))) == NULL ||
	    (r.fresh = calloc(QUOTE_BATCH, sizeof(*r.fresh))) == NULL)
		goto out;
	rc = legacy_customers(lg, on_customer, on_skip, &r);
	if (rc == OV_OK)
		rc = flush_history(&r);
	if (rc == OV_OK)
		rc = legacy_quotes(lg, on_quote, on_skip, &r);
	if (rc == OV_OK)
		rc = r.quotes_rc;
	if (rc == OV_OK)
		rc = flush_quotes(&r);
	if (rc == OV_OK && stats->highest_number > 0) {
		if (dry_run) {
			say(&r, "the quote counter would continue after %" PRId64
			    " (unless it is past it already)",
			    stats->highest_number);
		} else {
			rc = store_counter_raise(st, QUOTE_COUNTER,
			    stats->highest_number, &stats->counter_raised);
			if (rc == OV_OK && stats->counter_raised)
				say(&r, "quote numbers continue after %" PRId64,
				    stats->highest_number);
		}
	}
out:
	batch_clear(&r);
	quotes_clear(&r);
	free(r.batch);
	free(r.quotes);
	free(r.numbers);
	free(r.have);
	free(r.found);
	free(r.fresh);
	return rc;
}
