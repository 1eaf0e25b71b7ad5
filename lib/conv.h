/*
 * conv.h - the conversation's state, typed (DESIGN.md section 4).
 *
 * One record per customer: who owns the conversation (Ovidio or a
 * salesperson), the question Ovidio is waiting an answer to, the last list
 * of products shown (ids in the order the customer saw them) and the last
 * product talked about, the cart, the last inbound time (Meta's 24-hour
 * window), what Ovidio knows of the customer (greeted today, CUIT typed
 * in chat) and the profile (preferred brands, promo consent, birthday,
 * opted out).
 *
 * The store keeps it as a JSON document plus indexed fields
 * (struct store_conv); conv_to_store() and conv_from_store() are the one
 * function each way. A record of v1 (the profile JSON of `clientes`) is
 * converted by conv_from_profile().
 *
 * Pure functions on caller storage: a struct conv holds no pointers and
 * needs no freeing; conv_to_store() fills a store_conv whose doc the
 * caller releases with store_conv_clear().
 */
#ifndef OVIDIO_CONV_H
#define OVIDIO_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define CONV_LIST_MAX 10          /* products of the last list remembered */
#define CONV_CART_MAX 30          /* lines in a cart */
#define CONV_QTY_MAX 100000       /* units of one line */
#define CONV_QUERY_MAX 200        /* bytes of the last search */
#define CONV_BRANDS_MAX 5         /* preferred brands remembered */
#define CONV_BRAND_MAX 31
#define CONV_RAZON_MAX 127
#define CONV_TOPIC_MAX 127

/* The question Ovidio asked and waits an answer to. */
enum conv_pending {
	CONV_PENDING_NONE = 0,
	CONV_PENDING_QTY,         /* "¿cuántas necesitás?" of last_product */
	CONV_PENDING_ADD,         /* "¿te lo sumo al pedido?" (last_qty) */
	CONV_PENDING_QUOTE,       /* "¿te armo el presupuesto?" of the cart */
	CONV_PENDING_CONFIRM,     /* a quote was shown: confirm or cancel */
	CONV_PENDING_HANDOFF,     /* "¿querés que te contacte un vendedor?" */
	CONV_PENDING_INVOICES,    /* "¿querés ver las últimas facturas?" */
	CONV_PENDING_ALT,         /* "¿querés ver opciones parecidas?" */
	CONV_PENDING_CUIT,        /* we asked for a CUIT or e-mail */
	CONV_PENDING_PROMO,       /* we asked for promo consent */
	CONV_PENDING__COUNT
};

enum conv_owner {
	CONV_OWNER_BOT = 0,
	CONV_OWNER_AGENT
};

/* Promo consent: never asked, yes, no. */
enum conv_promo {
	CONV_PROMO_UNKNOWN = 0,
	CONV_PROMO_YES,
	CONV_PROMO_NO
};

struct conv_line {
	int64_t product_id;
	int64_t qty;
};

struct conv_profile {
	char brands[CONV_BRANDS_MAX][CONV_BRAND_MAX + 1]; /* most recent first */
	size_t nbrands;
	enum conv_promo promo;
	bool promo_asked;
	bool opted_out;           /* "baja": no marketing at all */
	char birthday[6];         /* "MM-DD" or "" */
};

struct conv {
	char key[STORE_WAID_MAX + 1];

	enum conv_owner owner;
	char agent[STORE_HOLDER_MAX + 1];
	int64_t owner_until;      /* an agent's hold ends then (0: none) */

	enum conv_pending pending;

	int64_t list[CONV_LIST_MAX];     /* last list, in the order shown */
	size_t nlist;
	char list_query[CONV_QUERY_MAX + 1]; /* the search that made it */
	int64_t last_product;     /* 0: none */
	int64_t last_qty;         /* quantity last talked about (0: none) */

	struct conv_line cart[CONV_CART_MAX];
	size_t ncart;
	int64_t quote_number;     /* the quote last shown (0: none) */
	char sent_quote[40];      /* id of the last quote sent as PDF, or "" */

	int64_t last_inbound;     /* unix seconds */
	char greeted_day[11];     /* business day of the last greeting */
	bool introduced;
	bool cuit_asked;
	char cuit[12];            /* CUIT typed in chat, 11 digits or "" */
	char razon[CONV_RAZON_MAX + 1]; /* the Cianbox name it identified */
	bool cuit_verified;       /* that CUIT belongs to this number */
	char topic[CONV_TOPIC_MAX + 1]; /* products talked about (follow-ups) */
	char biz_topic[16];       /* the business question last answered */

	struct conv_profile profile;
};

/* An empty conversation for key. */
void conv_init(struct conv *c, const char *key);

/* Static names ("none", "qty", ...) for the document and logs; and back
 * (an unknown name reads as CONV_PENDING_NONE). */
const char *conv_pending_name(enum conv_pending p);
enum conv_pending conv_pending_parse(const char *name);

/* The store's record from c: doc is malloc'd (release with
 * store_conv_clear()). OV_ENOMEM. */
int conv_to_store(const struct conv *c, struct store_conv *out);
/* c from the store's record; unknown or broken fields are left at their
 * defaults (a record written by another version still opens). */
int conv_from_store(const struct store_conv *in, struct conv *c);
/* c from v1's profile JSON of `clientes` (may be NULL or broken). */
int conv_from_profile(const char *key, const char *profile_json,
    struct conv *c);

/* ---- the cart ------------------------------------------------------- */

/* The line of product_id, or -1. */
int conv_cart_find(const struct conv *c, int64_t product_id);
/* Add qty units (a new line, or more of an existing one). OV_ETOOBIG when
 * the cart is full, OV_EINVAL for qty outside 1..CONV_QTY_MAX (a sum over
 * it is capped). */
int conv_cart_add(struct conv *c, int64_t product_id, int64_t qty);
/* Set a line's quantity (a new line when missing); qty 0 removes it. */
int conv_cart_set(struct conv *c, int64_t product_id, int64_t qty);
/* Remove a line; OV_ENOTFOUND when it was not there. */
int conv_cart_remove(struct conv *c, int64_t product_id);
void conv_cart_clear(struct conv *c);

/* The last list shown (at most CONV_LIST_MAX ids kept). */
void conv_set_list(struct conv *c, const int64_t *ids, size_t n,
    const char *query);

/* Remember a brand the customer searched for (most recent first). */
void conv_note_brand(struct conv *c, const char *brand);

#endif
