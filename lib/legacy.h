/*
 * legacy.h - the old Python bot's MongoDB `ovidio_db`, read as that bot
 * wrote it (issue 12), for jobs/import-legacy.
 *
 * The old documents are read here and nowhere else, through mongo-c-driver
 * directly (not through lib/store, whose collections share the database
 * but not the shape). Every field is checked before use: a document the
 * old bot wrote differently, half-written or by hand is skipped with a
 * reason, never trusted. Nothing is written and no user text is ever sent
 * to the server as a pattern or an operator: the only queries are "every
 * document, by _id".
 *
 * clientes: {telefono, nombre, conversaciones[{rol|role, mensaje|content|
 *   texto, fecha|timestamp}], cianbox_id, cianbox_verificado,
 *   marcas_preferidas[] (or one string), acepta_promos, fecha_nacimiento |
 *   cumpleanos | dia_cumple + mes_cumple}. Several documents with one
 *   telefono are merged into one legacy_customer: history of all of them,
 *   newer documents' values over older ones (by _id, the creation order),
 *   brands of the newer first.
 * presupuestos: {numero, telefono | cliente.telefono, cliente{nombre,
 *   telefono, cuit}, productos[{codigo, descripcion, cantidad, precioUSD,
 *   iva}], totales{totalUSD}, estado, fecha_creacion | fecha, validezDias}.
 *
 * Telephones become the WhatsApp id Ovidio keys customers by: "549" and
 * the 10-digit national number (lib/phone.h) for an Argentine number;
 * other numbers of 8 to 15 digits as they are.
 *
 * Ownership: the structs handed to a callback belong to this module and
 * live until the callback returns. legacy_close() frees the reader.
 */
#ifndef OVIDIO_LEGACY_H
#define OVIDIO_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "quote.h"
#include "store.h"

struct config;
struct legacy;

#define LEGACY_ID_MAX 64          /* "<oid>" or "s:<text _id>" */
#define LEGACY_HISTORY_MAX 5000   /* entries kept per customer */

struct legacy_entry {
	char id[STORE_MSGID_MAX + 1];  /* "legacy.<doc id>.<index>[.b]" */
	enum store_dir dir;            /* the customer's or the bot's */
	int64_t ts;                    /* 0 when the old bot kept no date */
	char *text;                    /* UTF-8, at most STORE_TEXT_MAX */
};

struct legacy_customer {
	char wa_id[STORE_WAID_MAX + 1];
	char first_id[LEGACY_ID_MAX + 1]; /* the oldest document merged */
	size_t ndocs;                  /* documents merged (duplicates + 1) */
	char name[QUOTE_CUSTOMER_NAME_MAX + 1];  /* "" when none */
	int64_t cianbox_id;            /* the old bot's link; 0: none */
	bool cianbox_verified;
	struct conv_profile profile;   /* brands, promo, birthday */
	struct legacy_entry *entries;  /* in the old bot's order */
	size_t nentries;
	size_t dropped;                /* entries without text or over the cap */
	int64_t created_at;            /* from the oldest document; 0: unknown */
};

/* A reason a document was left out ("no telefono", ...); what is
 * "cliente" or "presupuesto", id the document's _id as text. */
typedef void (*legacy_skip_fn)(void *ctx, const char *what, const char *id,
    const char *reason);
/* Return OV_OK to go on; anything else stops the walk and is returned. */
typedef int (*legacy_customer_fn)(void *ctx, const struct legacy_customer *c);
/* q: number, wa_id, state, created_at, expires_at, customer and items
 * filled, totals computed (quote_compute); id empty. old_total_cents: the
 * old document's totales.totalUSD in cents, -1 when absent. */
typedef int (*legacy_quote_fn)(void *ctx, const char *doc_id, struct quote *q,
    int64_t old_total_cents);

/* Connect with MONGODB_URI and MONGODB_DB (default ovidio_db).
 * OV_ECONFIG without MONGODB_URI. */
int legacy_open(struct legacy **out, const struct config *cfg);
void legacy_close(struct legacy *lg);

/* Every customer of `clientes` (duplicates merged), in the order of their
 * oldest document. Documents Ovidio wrote (_id a string: its own
 * records) are not old ones and are passed over silently. */
int legacy_customers(struct legacy *lg, legacy_customer_fn fn,
    legacy_skip_fn skip, void *ctx);

/* Every old quote of `presupuestos` (documents with `numero`; Ovidio's
 * own, with `number`, passed over), by _id. */
int legacy_quotes(struct legacy *lg, legacy_quote_fn fn, legacy_skip_fn skip,
    void *ctx);

/* The WhatsApp id for an old telefono (see above). OV_EINVAL when it is
 * not a telephone. */
int legacy_wa_id(const char *telefono, char out[STORE_WAID_MAX + 1]);

#endif
