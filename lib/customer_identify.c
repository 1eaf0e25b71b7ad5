/*
 * customer_identify.c - who a WhatsApp sender is: the linked customer, the
 * phone on file, a CUIT or e-mail typed in chat (see customer.h). Apart
 * from lib/customer.c because it may ask the Cianbox API: a program that
 * only reads the synced clients (the inbox) links without libcurl.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cianbox.h"
#include "customer.h"
#include "err.h"
#include "identity.h"
#include "log.h"
#include "store.h"

/* ---- identifying a sender ------------------------------------------------------------ */

/* Point the sender's clientes record at cianbox_id, keeping the rest. */
static int
link_sender(struct store *st, const char *wa_id, int64_t cianbox_id,
    bool verified)
{
	struct store_customer c;
	bool found = false;
	int rc;

	if ((rc = store_customer_get(st, wa_id, &c, &found)) != OV_OK)
		return rc;
	if (!found) {
		memset(&c, 0, sizeof(c));
		snprintf(c.wa_id, sizeof(c.wa_id), "%s", wa_id);
	}
	c.cianbox_id = cianbox_id;
	c.verified = verified;
	rc = store_customer_put(st, &c);
	store_customer_clear(&c);
	return rc;
}

static bool
valid_wa_id(const char *wa_id)
{
	size_t n;

	if (wa_id == NULL)
		return false;
	n = strnlen(wa_id, STORE_WAID_MAX + 1);
	/* A phone number, or a BSUID: a customer without a number is
	 * identified by CUIT for prices only (no phone ever matches). */
	return n > 0 && n <= STORE_WAID_MAX && strspn(wa_id,
	    "0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	    == n;
}

int
customer_identify(struct store *st, struct cianbox *cb, const char *wa_id,
    struct customer_identity *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL || !valid_wa_id(wa_id))
		return OV_EINVAL;
	if ((rc = customer_lookup(st, wa_id, out)) != OV_OK)
		return rc;
	if (out->how == CUSTOMER_LINKED) {
		if (!out->have_client && cb != NULL) {
			/* Not synced (yet): ask Cianbox for this one. */
			if (cianbox_cliente_by_id(cb, out->cianbox_id,
			    &out->client, &out->have_client) != OV_OK) {
				log_warn("Cianbox client %" PRId64 ": %s",
				    out->cianbox_id, cianbox_last_error(cb));
				out->have_client = false;
			}
			out->client.raw = NULL;
			if (out->have_client)
				out->verified = customer_phone_matches(
				    &out->client, wa_id);
		}
		if (out->verified != out->was_verified)
			rc = link_sender(st, wa_id, out->cianbox_id,
			    out->verified);
		return rc;
	}
	if (out->how == CUSTOMER_BY_PHONE &&
	    (rc = link_sender(st, wa_id, out->client.id, true)) == OV_OK)
		out->linked = true;
	return rc;
}

/* 11 digits shaped like a CUIT ("20284567898", "20-28456789-8", with
 * '-', '.' or ' ' after the 2nd and 10th digit), not part of a longer
 * number, copied as digits into out. */
static bool
cuit_shaped(const char *text, char out[IDENTITY_CUIT_LEN + 1])
{
	size_t len = strnlen(text, 4096);

	for (size_t i = 0; i < len; i++) {
		size_t j = i, n = 0;

		if (text[i] < '0' || text[i] > '9' ||
		    (i > 0 && text[i - 1] >= '0' && text[i - 1] <= '9'))
			continue;
		while (j < len && n < IDENTITY_CUIT_LEN) {
			if (text[j] >= '0' && text[j] <= '9') {
				out[n++] = text[j++];
			} else if ((n == 2 || n == 10) && j + 1 < len &&
			    strchr("-. ", text[j]) != NULL &&
			    text[j + 1] >= '0' && text[j + 1] <= '9') {
				j++;
			} else {
				break;
			}
		}
		out[n] = '\0';
		if (n == IDENTITY_CUIT_LEN &&
		    (j >= len || text[j] < '0' || text[j] > '9'))
			return true;
	}
	out[0] = '\0';
	return false;
}

int
customer_identify_text(struct store *st, struct cianbox *cb,
    const char *wa_id, const char *text, struct customer_identity *out,
    enum customer_text *what)
{
	char cuit[IDENTITY_CUIT_LEN + 1], email[IDENTITY_EMAIL_MAX + 1];
	struct store_customer rec;
	enum customer_how how;
	bool found = false, rec_found = false;
	int rc;

	memset(out, 0, sizeof(*out));
	*what = CUSTOMER_TEXT_NONE;
	if (st == NULL || !valid_wa_id(wa_id) || text == NULL)
		return OV_EINVAL;
	if (identity_cuit_find(text, cuit) == OV_OK) {
		how = CUSTOMER_BY_CUIT;
		rc = customer_client_by_cuit(st, cuit, &out->client, &found);
		if (rc == OV_OK && !found && cb != NULL) {
			if (cianbox_cliente_by_documento(cb, cuit, &out->client,
			    &found) != OV_OK) {
				log_warn("Cianbox client by CUIT: %s",
				    cianbox_last_error(cb));
				found = false;
			}
			out->client.raw = NULL;
		}
	} else if (cuit_shaped(text, cuit)) {
		*what = CUSTOMER_TEXT_BAD_CUIT;
		return OV_OK;
	} else if (identity_email_find(text, email, sizeof(email)) == OV_OK) {
		how = CUSTOMER_BY_EMAIL;
		rc = customer_client_by_email(st, email, &out->client, &found);
	} else {
		return OV_OK;
	}
	if (rc != OV_OK)
		return rc;
	if (!found) {
		memset(&out->client, 0, sizeof(out->client));
		*what = CUSTOMER_TEXT_UNKNOWN;
		return OV_OK;
	}
	*what = CUSTOMER_TEXT_FOUND;
	out->how = how;
	out->have_client = true;
	out->cianbox_id = out->client.id;
	out->verified = customer_phone_matches(&out->client, wa_id);
	if ((rc = store_customer_get(st, wa_id, &rec, &rec_found)) != OV_OK)
		return rc;
	if (rec_found && rec.verified && rec.cianbox_id > 0 &&
	    rec.cianbox_id != out->client.id) {
		/* Verified by phone as someone else: typing does not move
		 * them. The customer named is shown for prices only. */
		out->verified = false;
		store_customer_clear(&rec);
		return OV_OK;
	}
	if (rec_found)
		store_customer_clear(&rec);
	if ((rc = link_sender(st, wa_id, out->client.id, out->verified)) ==
	    OV_OK)
		out->linked = true;
	return rc;
}
