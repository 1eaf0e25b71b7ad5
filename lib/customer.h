/*
 * customer.h - who is writing: the Cianbox customers synced into
 * clientes_cianbox, and the identification of a WhatsApp sender
 * (DESIGN.md section 5).
 *
 * Client documents keep Cianbox's field names (id, razon, condicion,
 * tipo_documento, numero_documento, domicilio, localidad, provincia,
 * telefono, celular, email, ctacte, plazo, limite, saldo, descuento,
 * updated) and add Ovidio's: telefonos (the 10-digit national numbers of
 * telefono and celular, see phone.h), cuit (the mod-11 checked CUIT or
 * ""), emails (normalised, see identity.h), synced_at. They are found by
 * the lookup keys "tel:<10 digits>", "cuit:<11 digits>", "doc:<digits>"
 * and "email:<address>", exact values only.
 *
 * Identifying a sender (customer_identify):
 *   1. a clientes record already linked (cianbox_id set): that customer;
 *   2. the synced clients whose phone reduces to the sender's national
 *      number: linked, verified (the number matches the phone on file);
 *   3. the API: Cianbox's clientes list cannot be searched by phone, so
 *      there is nothing to ask it; the customer stays unknown.
 * Only an equal 10-digit national number matches: a phone on file that
 * does not reduce ("1234", "4401234" without area code) matches nobody.
 * A linked customer's verification follows the phone on file: it is
 * given when the numbers match now and taken back when they no longer do.
 *
 * A CUIT (mod-11 checked) or an e-mail typed in chat
 * (customer_identify_text) identifies for prices, never for account data:
 * the link is made unverified, unless that customer's phone on file is
 * the sender's. A sender verified by phone is never moved to another
 * customer by something typed.
 *
 * Only `verified` allows balance and invoices.
 *
 * Ownership: results are plain structs (struct cianbox_cliente from
 * cianbox.h, with raw NULL): nothing to free. JSON from
 * customer_client_to_json() is malloc'd; the caller frees it. The store
 * and the Cianbox client are borrowed; cb may be NULL (no API calls).
 */
#ifndef OVIDIO_CUSTOMER_H
#define OVIDIO_CUSTOMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cianbox.h"

struct store;
struct store_catalog_writer;

#define CUSTOMER_CATALOG "clientes_cianbox"
#define CUSTOMER_PHONES_MAX 8
#define CUSTOMER_EMAILS_MAX 4

/* The document of a client (see above); *json malloc'd. */
int customer_client_to_json(const struct cianbox_cliente *c, int64_t now,
    char **json);

/* Read a document. OV_EPARSE when it is not one (no positive id). */
int customer_client_from_json(const char *json, struct cianbox_cliente *out);

/* Add a client to a sync's writer (store_catalog_begin(st,
 * CUSTOMER_CATALOG, ...)) with its lookup keys. OV_EINVAL for a client
 * without a positive id. */
int customer_client_put(struct store_catalog_writer *w,
    const struct cianbox_cliente *c, int64_t now);

/* The synced client by Cianbox id, by a phone number as written (a wa_id
 * or any Argentine number), by CUIT (any spelling identity.h reads), or
 * by e-mail. Several clients with one phone or CUIT: the lowest id.
 * *found false (and OV_OK) when none or when the key does not reduce. */
int customer_client_get(struct store *st, int64_t id,
    struct cianbox_cliente *out, bool *found);
int customer_client_by_phone(struct store *st, const char *number,
    struct cianbox_cliente *out, bool *found);
int customer_client_by_cuit(struct store *st, const char *cuit,
    struct cianbox_cliente *out, bool *found);
int customer_client_by_email(struct store *st, const char *email,
    struct cianbox_cliente *out, bool *found);

/* True when a phone on file (telefono or celular) reduces to the same
 * national number as wa_id. */
bool customer_phone_matches(const struct cianbox_cliente *c,
    const char *wa_id);

enum customer_how {
	CUSTOMER_UNKNOWN = 0,
	CUSTOMER_LINKED,      /* the clientes record's link */
	CUSTOMER_BY_PHONE,    /* the synced clients, by phone */
	CUSTOMER_BY_CUIT,     /* a CUIT typed in chat (synced, else API) */
	CUSTOMER_BY_EMAIL     /* an e-mail typed in chat (synced) */
};

struct customer_identity {
	enum customer_how how;
	int64_t cianbox_id;   /* 0 when unknown */
	bool verified;        /* may see balance and invoices */
	bool linked;          /* the clientes record now points here */
	bool was_verified;    /* LINKED: what the clientes record held */
	bool have_client;     /* client holds the customer's record */
	struct cianbox_cliente client;
};

/* Identify a sender by their number (steps 1-3 above); linking writes
 * the clientes record (keeping its name and profile). In
 * lib/customer_identify.c (it may ask the API). */
int customer_identify(struct store *st, struct cianbox *cb,
    const char *wa_id, struct customer_identity *out);

/* Steps 1 and 2 read only, for a page that shows a customer (the
 * salesperson's inbox): the linked customer (verified when the phone on
 * file still matches; without the synced record, as the link says), else
 * the synced client whose phone is wa_id's (verified, not linked yet).
 * Nothing is written and the API is not asked, so the answer is what
 * customer_identify() would give the bot now, short of a client missing
 * from the synced copy. out->how UNKNOWN when neither; a CUIT or e-mail
 * typed in chat only identifies through a link, and then unverified. */
int customer_lookup(struct store *st, const char *wa_id,
    struct customer_identity *out);

enum customer_text {
	CUSTOMER_TEXT_NONE = 0,   /* no CUIT or e-mail in the text */
	CUSTOMER_TEXT_FOUND,      /* out names the customer */
	CUSTOMER_TEXT_UNKNOWN,    /* a valid CUIT / e-mail nobody has */
	CUSTOMER_TEXT_BAD_CUIT    /* 11 digits shaped like a CUIT whose check
	                             digit is wrong: refused */
};

/* Identify a sender by a CUIT or e-mail in their message (CUIT first).
 * A CUIT not among the synced clients is asked of the API when cb is
 * given. */
int customer_identify_text(struct store *st, struct cianbox *cb,
    const char *wa_id, const char *text, struct customer_identity *out,
    enum customer_text *what);

#endif
