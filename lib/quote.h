/*
 * quote.h - quotes (presupuestos): items, money, numbering and states.
 *
 * Money is integer cents (int64_t) of the catalog's currency (USD); IVA
 * rates are tenths of a percent (210 = 21 %, 105 = 10,5 %). Rounding
 * happens once per line and never again:
 *   line subtotal = quantity x unit price            (exact, in cents)
 *   line IVA      = line subtotal x rate / 1000      (rounded half up)
 *   IVA per rate  = sum of that rate's line IVA      (exact)
 *   total         = subtotal + every IVA             (exact)
 * so the PDF's columns always add up to its totals. The peso equivalent
 * (when the Cianbox USD rate is known) is total x rate, rounded half up.
 *
 * Lifecycle: quote_create() gives a new quote its UUID, its number from
 * the store's "presupuesto" counter (atomic, never reused, unaffected by
 * purges) and its validity, cancels the customer's earlier pending quote
 * and stores it. States: pendiente_confirmacion -> enviado (only once
 * WhatsApp accepted the document) | cancelado | vencido; enviado ->
 * vencido. Only the purge (lib/quote_purge.h) writes vencido, together
 * with dropping the contents (a trace keeps id, number and dates): a
 * quote past expires_at but not yet purged is expired for every reader
 * (quote_is_expired()).
 *
 * Ownership: struct quote owns its items array (malloc'd); quote_clear()
 * releases it. Strings in items and customer are fixed arrays. Functions
 * that return text allocate it (caller frees) or write into the caller's
 * buffer, as each says.
 */
#ifndef OVIDIO_QUOTE_H
#define OVIDIO_QUOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "uuid.h"

struct config;

#define QUOTE_ITEMS_MAX 500
#define QUOTE_CODE_MAX 64           /* bytes of a product code */
#define QUOTE_ITEM_NAME_MAX 240     /* bytes of UTF-8; longer is cut */
#define QUOTE_CUSTOMER_NAME_MAX 160 /* bytes of UTF-8; longer is cut */
#define QUOTE_CUIT_MAX 13           /* 11 digits, or 20-12345678-9 */
#define QUOTE_PHONE_MAX 32
#define QUOTE_QTY_MAX 100000
#define QUOTE_UNIT_MAX_CENTS 1000000000LL    /* u$s 10.000.000,00 */
#define QUOTE_RATE_MAX_CENTS 100000000LL     /* $ 1.000.000,00 per u$s */
#define QUOTE_TTL_DEFAULT_DAYS 15

/* The counter quote numbers come from. */
#define QUOTE_COUNTER "presupuesto"

enum quote_state {
	QUOTE_PENDING = 0,   /* pendiente_confirmacion */
	QUOTE_SENT,          /* enviado */
	QUOTE_CANCELLED,     /* cancelado */
	QUOTE_EXPIRED,       /* vencido */
};

struct quote_item {
	int64_t product_id;             /* Cianbox id; 0 when not from the catalog */
	char code[QUOTE_CODE_MAX + 1];
	char name[QUOTE_ITEM_NAME_MAX + 1];
	int64_t quantity;               /* 1..QUOTE_QTY_MAX */
	int64_t unit_cents;             /* net of IVA, 0..QUOTE_UNIT_MAX_CENTS */
	int iva_tenths;                 /* 210 or 105 */
	/* Computed by quote_compute(): */
	int64_t subtotal_cents;
	int64_t iva_cents;
};

struct quote_customer {
	char name[QUOTE_CUSTOMER_NAME_MAX + 1];   /* may be empty */
	char cuit[QUOTE_CUIT_MAX + 1];            /* may be empty */
	char phone[QUOTE_PHONE_MAX + 1];          /* may be empty */
};

struct quote {
	char id[UUID_LEN + 1];
	int64_t number;
	char wa_id[STORE_WAID_MAX + 1];
	enum quote_state state;
	int64_t created_at;
	int64_t expires_at;
	struct quote_customer customer;
	char currency[4];               /* "USD" */
	int64_t usd_rate_cents;         /* pesos (in centavos) per u$s 1; 0: unknown */
	struct quote_item *items;       /* owned */
	size_t nitems;
	bool purged;                    /* a trace: contents dropped by the purge */
	/* Computed by quote_compute(): */
	int64_t subtotal_cents;
	int64_t iva21_cents;
	int64_t iva105_cents;
	int64_t total_cents;
	int64_t total_ars_cents;        /* 0 when the rate is unknown */
};

/* An empty quote: no items, state pending, currency USD. */
void quote_init(struct quote *q);
void quote_clear(struct quote *q);

/* "pendiente_confirmacion", "enviado", "cancelado", "vencido". */
const char *quote_state_name(enum quote_state s);
/* OV_EINVAL for any other text. */
int quote_state_parse(const char *s, enum quote_state *out);

/* Set the customer block. The name is cleaned like item text (below);
 * cuit must be 11 digits (dashes allowed where a CUIT has them: kept as
 * 11 digits) or empty/NULL; phone digits, spaces, '+', '-', '(' and ')'
 * or empty/NULL. OV_EINVAL otherwise. */
int quote_set_customer(struct quote *q, const char *name, const char *cuit,
    const char *phone);

/* Validate and append a copy of item (its computed fields are ignored),
 * then recompute the totals. Text (code, name) comes from the catalog, so
 * it is cleaned rather than refused: control characters become spaces,
 * bytes that are not UTF-8 become '?', and text over its bound is cut at
 * a character boundary. OV_EINVAL for a bad quantity, price or rate or an
 * empty name; OV_ETOOBIG past QUOTE_ITEMS_MAX; OV_ENOMEM. */
int quote_add_item(struct quote *q, const struct quote_item *item);

/* An item from one Cianbox product document (productos_cache; see the
 * fixture productos_page1.json): id, codigo_interno, producto,
 * precio_neto (or precio_oferta while oferta is true), alicuota_iva
 * (1.21 / 1.105, or 21 / 10.5). Prices are turned into cents once, here.
 * OV_EPARSE when the document lacks what a quote needs. */
int quote_item_from_product(const char *product_json, int64_t quantity,
    struct quote_item *out);

/* Look product_id up in productos_cache (key: the id in decimal) and add
 * it. OV_ENOTFOUND when the catalog does not have it. */
int quote_add_product(struct store *st, struct quote *q, int64_t product_id,
    int64_t quantity);

/* Recompute every line and the totals (see the rounding rule above).
 * OV_EINVAL if an amount would not fit in 64 bits. */
int quote_compute(struct quote *q);

/* Give q a new id and number, created_at = clock_now(), expires_at
 * ttl_days later, state pending; store it and cancel the customer's
 * earlier pending quote (if any). q->wa_id must be set and q must have at
 * least one item. On error nothing is stored, though a number may have
 * been used up (numbers are never reused, gaps are fine). */
int quote_create(struct store *st, struct quote *q, long ttl_days);

/* Load by id into q (prepared by quote_init(); what it held is released).
 * *found false (OV_OK) when there is no such quote. A purged quote loads
 * with purged = true and no items. */
int quote_load(struct store *st, const char *id, struct quote *q,
    bool *found);

/* Change the state and store it. Allowed: pending -> sent (once WhatsApp
 * accepted the document) and pending -> cancelled; anything else is
 * OV_EINVAL and stores nothing (vencido belongs to the purge). The same
 * state again is OV_OK. */
int quote_set_state(struct store *st, struct quote *q, enum quote_state to);

/* true when now is past the validity, or the quote is vencido. */
bool quote_is_expired(const struct quote *q, int64_t now);

/* The quote as the store keeps it: rec's strings point into q, and
 * rec->doc is malloc'd (caller frees). */
int quote_to_record(const struct quote *q, struct store_quote *rec);
/* Fill q (which quote_init() prepared) from a stored record. A record
 * whose doc is NULL is a purge trace. OV_EPARSE for a bad document. */
int quote_from_record(const struct store_quote *rec, struct quote *q);

/* The contents document alone (customer, currency, rate, items, totals):
 * malloc'd JSON text, caller frees. */
int quote_doc_to_json(const struct quote *q, char **json);
int quote_doc_from_json(const char *json, struct quote *q);

/* "1.234,56" (Argentine format, '-' first when negative). OV_ETOOBIG when
 * buf is too small (buf then holds ""); 32 bytes always suffice. */
int quote_format_cents(int64_t cents, char *buf, size_t len);
/* "21" / "10,5" from tenths of a percent. */
int quote_format_rate(int tenths, char *buf, size_t len);
/* "dd/mm/yyyy" in the process's time zone (see quote_use_timezone()). */
int quote_format_date(int64_t t, char *buf, size_t len);

/* Make the configured TZ (America/Argentina/Cordoba by default) the
 * process's time zone, so dates are the business's. Programs call it once
 * after config_load(). */
void quote_use_timezone(const struct config *cfg);

/* QUOTE_TTL_DAYS (1..3650, default 15). OV_ECONFIG with err filled. */
int quote_ttl_days(const struct config *cfg, long *days, char *err,
    size_t errlen);

#endif
