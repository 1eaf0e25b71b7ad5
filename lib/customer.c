/*
 * customer.c - synced Cianbox clients, and whose account a sender's may be
 * as the store says (see customer.h). Identifying a sender, which may ask
 * the API, is lib/customer_identify.c.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "catalog_text.h"
#include "customer.h"
#include "err.h"
#include "identity.h"
#include "log.h"
#include "phone.h"
#include "store.h"

#define LOOKUP_KEY_MAX (8 + IDENTITY_EMAIL_MAX)
#define FIELD_MAX 512

/* ---- a client's keys ------------------------------------------------------ */

struct client_keys {
	size_t nphones, nemails;
	char phones[CUSTOMER_PHONES_MAX][PHONE_NATIONAL_LEN + 1];
	char emails[CUSTOMER_EMAILS_MAX][IDENTITY_EMAIL_MAX + 1];
	char cuit[IDENTITY_CUIT_LEN + 1];
};

static void
add_phones(struct client_keys *k, const char *field)
{
	char nums[CUSTOMER_PHONES_MAX][PHONE_NATIONAL_LEN + 1];
	size_t n = 0;

	if (field == NULL || field[0] == '\0' ||
	    phone_field_numbers(field, nums, CUSTOMER_PHONES_MAX, &n) != OV_OK)
		return;
	for (size_t i = 0; i < n && k->nphones < CUSTOMER_PHONES_MAX; i++) {
		bool dup = false;

		for (size_t j = 0; j < k->nphones && !dup; j++)
			dup = strcmp(k->phones[j], nums[i]) == 0;
		if (!dup)
			memcpy(k->phones[k->nphones++], nums[i], sizeof(nums[i]));
	}
}

/* Every address in a field ("a@x.com, b@y.com / c@z.com"). */
static void
add_emails(struct client_keys *k, const char *field)
{
	char piece[FIELD_MAX + 1], norm[IDENTITY_EMAIL_MAX + 1];
	size_t len, at = 0;

	if (field == NULL)
		return;
	len = strnlen(field, FIELD_MAX + 1);
	if (len > FIELD_MAX)
		return;
	while (at < len && k->nemails < CUSTOMER_EMAILS_MAX) {
		size_t n = strcspn(field + at, ",;/ \t");
		bool dup = false;

		if (n > 0) {
			memcpy(piece, field + at, n);
			piece[n] = '\0';
			if (identity_email_normalize(piece, norm, sizeof(norm)) ==
			    OV_OK) {
				for (size_t j = 0; j < k->nemails && !dup; j++)
					dup = strcmp(k->emails[j], norm) == 0;
				if (!dup)
					memcpy(k->emails[k->nemails++], norm,
					    sizeof(norm));
			}
		}
		at += n + 1;
	}
}

static void
client_keys(const struct cianbox_cliente *c, struct client_keys *k)
{
	memset(k, 0, sizeof(*k));
	add_phones(k, c->celular);
	add_phones(k, c->telefono);
	add_emails(k, c->email);
	if (identity_cuit_normalize(c->numero_documento, k->cuit) != OV_OK)
		k->cuit[0] = '\0';
}

bool
customer_phone_matches(const struct cianbox_cliente *c, const char *wa_id)
{
	char national[PHONE_NATIONAL_LEN + 1];

	/* A BSUID is never a phone, whatever digits it holds. */
	if (c == NULL || !store_key_is_phone(wa_id) ||
	    phone_to_national(wa_id, national) != OV_OK)
		return false;
	return phone_field_matches(c->celular, national) ||
	    phone_field_matches(c->telefono, national);
}

/* ---- documents ------------------------------------------------------------------ */

static bool
add_str(cJSON *o, const char *k, const char *v)
{
	char clean[FIELD_MAX];

	catalog_text_clean(clean, sizeof(clean), v);
	return cJSON_AddStringToObject(o, k, clean) != NULL;
}

static bool
add_num(cJSON *o, const char *k, double v)
{
	return cJSON_AddNumberToObject(o, k, isfinite(v) ? v : 0) != NULL;
}

static bool
add_list(cJSON *o, const char *k, const char *v, size_t stride, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(o, k);

	if (a == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateString(v + i * stride);

		if (s == NULL || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			return false;
		}
	}
	return true;
}

int
customer_client_to_json(const struct cianbox_cliente *c, int64_t now,
    char **json)
{
	struct client_keys k;
	cJSON *o;
	bool ok;

	*json = NULL;
	if (c == NULL || c->id <= 0)
		return OV_EINVAL;
	client_keys(c, &k);
	if ((o = cJSON_CreateObject()) == NULL)
		return OV_ENOMEM;
	ok = add_num(o, "id", (double)c->id) &&
	    add_str(o, "razon", c->razon) &&
	    add_str(o, "condicion", c->condicion) &&
	    add_str(o, "tipo_documento", c->tipo_documento) &&
	    add_str(o, "numero_documento", c->numero_documento) &&
	    add_str(o, "domicilio", c->domicilio) &&
	    add_str(o, "localidad", c->localidad) &&
	    add_str(o, "provincia", c->provincia) &&
	    add_str(o, "telefono", c->telefono) &&
	    add_str(o, "celular", c->celular) &&
	    add_str(o, "email", c->email) &&
	    cJSON_AddBoolToObject(o, "ctacte", c->ctacte) != NULL &&
	    add_num(o, "plazo", (double)c->plazo) &&
	    add_num(o, "limite", c->limite) &&
	    add_num(o, "saldo", c->saldo) &&
	    add_num(o, "descuento", c->descuento) &&
	    add_str(o, "updated", c->updated) &&
	    add_list(o, "telefonos", k.phones[0], sizeof(k.phones[0]),
	    k.nphones) &&
	    add_str(o, "cuit", k.cuit) &&
	    add_list(o, "emails", k.emails[0], sizeof(k.emails[0]), k.nemails) &&
	    add_num(o, "synced_at", (double)now);
	if (ok)
		*json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return *json != NULL ? OV_OK : OV_ENOMEM;
}


int
customer_client_from_json(const char *json, struct cianbox_cliente *out)
{
	cJSON *o = NULL;
	double plazo;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = catalog_doc_parse(json, &o, &out->id)) != OV_OK)
		goto out;
	rc = OV_EPARSE;
	catalog_doc_text(o, "razon", out->razon, sizeof(out->razon));
	catalog_doc_text(o, "condicion", out->condicion, sizeof(out->condicion));
	catalog_doc_text(o, "tipo_documento", out->tipo_documento,
	    sizeof(out->tipo_documento));
	catalog_doc_text(o, "numero_documento", out->numero_documento,
	    sizeof(out->numero_documento));
	catalog_doc_text(o, "domicilio", out->domicilio, sizeof(out->domicilio));
	catalog_doc_text(o, "localidad", out->localidad, sizeof(out->localidad));
	catalog_doc_text(o, "provincia", out->provincia, sizeof(out->provincia));
	catalog_doc_text(o, "telefono", out->telefono, sizeof(out->telefono));
	catalog_doc_text(o, "celular", out->celular, sizeof(out->celular));
	catalog_doc_text(o, "email", out->email, sizeof(out->email));
	catalog_doc_text(o, "updated", out->updated, sizeof(out->updated));
	out->ctacte = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
	    "ctacte"));
	plazo = catalog_doc_num(o, "plazo");
	out->plazo = plazo >= 0 && plazo < 100000 ? (int64_t)plazo : 0;
	out->limite = catalog_doc_num(o, "limite");
	out->saldo = catalog_doc_num(o, "saldo");
	out->descuento = catalog_doc_num(o, "descuento");
	out->raw = NULL;
	rc = OV_OK;
out:
	cJSON_Delete(o);
	if (rc != OV_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
customer_client_put(struct store_catalog_writer *w,
    const struct cianbox_cliente *c, int64_t now)
{
	char keys[CUSTOMER_PHONES_MAX + CUSTOMER_EMAILS_MAX + 2]
	    [LOOKUP_KEY_MAX + 1];
	const char *lookups[CUSTOMER_PHONES_MAX + CUSTOMER_EMAILS_MAX + 2];
	struct store_catalog_item it;
	struct client_keys k;
	char key[32], *json = NULL;
	size_t n = 0;
	int rc;

	if (c == NULL || c->id <= 0)
		return OV_EINVAL;
	if ((rc = customer_client_to_json(c, now, &json)) != OV_OK)
		return rc;
	client_keys(c, &k);
	for (size_t i = 0; i < k.nphones; i++)
		snprintf(keys[n++], sizeof(keys[0]), "tel:%s", k.phones[i]);
	for (size_t i = 0; i < k.nemails; i++)
		snprintf(keys[n++], sizeof(keys[0]), "email:%s", k.emails[i]);
	if (k.cuit[0] != '\0')
		snprintf(keys[n++], sizeof(keys[0]), "cuit:%s", k.cuit);
	else if (c->numero_documento[0] != '\0' &&
	    strspn(c->numero_documento, "0123456789") ==
	    strlen(c->numero_documento))
		snprintf(keys[n++], sizeof(keys[0]), "doc:%s",
		    c->numero_documento);
	for (size_t i = 0; i < n; i++)
		lookups[i] = keys[i];
	snprintf(key, sizeof(key), "%" PRId64, c->id);
	memset(&it, 0, sizeof(it));
	it.key = key;
	it.json = json;
	it.lookups = lookups;
	it.nlookups = n;
	rc = store_catalog_put(w, &it);
	free(json);
	return rc;
}

/* ---- finding a client ------------------------------------------------------------ */

/* The first synced client under a lookup key. */
static int
by_lookup(struct store *st, const char *lookup, struct cianbox_cliente *out,
    bool *found)
{
	struct store_catalog_hit *hits = NULL;
	size_t n = 0;
	int rc;

	*found = false;
	memset(out, 0, sizeof(*out));
	rc = store_catalog_lookup(st, CUSTOMER_CATALOG, lookup, 2, &hits, &n);
	if (rc != OV_OK || n == 0)
		goto out;
	if (n > 1)
		log_info("several Cianbox clients share one %.*s; taking "
		    "client %s", (int)strcspn(lookup, ":"), lookup, hits[0].key);
	if ((rc = customer_client_from_json(hits[0].json, out)) != OV_OK) {
		log_warn("Cianbox client %s in the store is unreadable",
		    hits[0].key);
		rc = OV_OK;
		goto out;
	}
	*found = true;
out:
	store_catalog_hits_free(hits, n);
	return rc;
}

int
customer_client_get(struct store *st, int64_t id, struct cianbox_cliente *out,
    bool *found)
{
	char key[32], *json = NULL;
	int rc;

	*found = false;
	memset(out, 0, sizeof(*out));
	if (id <= 0)
		return OV_EINVAL;
	snprintf(key, sizeof(key), "%" PRId64, id);
	rc = store_catalog_get(st, CUSTOMER_CATALOG, key, &json, found);
	if (rc == OV_OK && *found &&
	    customer_client_from_json(json, out) != OV_OK) {
		log_warn("Cianbox client %s in the store is unreadable", key);
		*found = false;
	}
	free(json);
	return rc;
}

int
customer_client_by_phone(struct store *st, const char *number,
    struct cianbox_cliente *out, bool *found)
{
	char national[PHONE_NATIONAL_LEN + 1], lookup[LOOKUP_KEY_MAX + 1];

	*found = false;
	memset(out, 0, sizeof(*out));
	if (number == NULL || phone_to_national(number, national) != OV_OK)
		return OV_OK;
	snprintf(lookup, sizeof(lookup), "tel:%s", national);
	return by_lookup(st, lookup, out, found);
}

int
customer_client_by_cuit(struct store *st, const char *cuit,
    struct cianbox_cliente *out, bool *found)
{
	char digits[IDENTITY_CUIT_LEN + 1], lookup[LOOKUP_KEY_MAX + 1];

	*found = false;
	memset(out, 0, sizeof(*out));
	if (cuit == NULL || identity_cuit_normalize(cuit, digits) != OV_OK)
		return OV_OK;
	snprintf(lookup, sizeof(lookup), "cuit:%s", digits);
	return by_lookup(st, lookup, out, found);
}

int
customer_client_by_email(struct store *st, const char *email,
    struct cianbox_cliente *out, bool *found)
{
	char norm[IDENTITY_EMAIL_MAX + 1], lookup[LOOKUP_KEY_MAX + 1];

	*found = false;
	memset(out, 0, sizeof(*out));
	if (email == NULL ||
	    identity_email_normalize(email, norm, sizeof(norm)) != OV_OK)
		return OV_OK;
	snprintf(lookup, sizeof(lookup), "email:%s", norm);
	return by_lookup(st, lookup, out, found);
}

/* ---- whose account ------------------------------------------------------ */

int
customer_lookup(struct store *st, const char *wa_id,
    struct customer_identity *out)
{
	struct store_customer rec;
	bool found = false;
	int rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL || wa_id == NULL)
		return OV_EINVAL;
	if ((rc = store_customer_get(st, wa_id, &rec, &found)) != OV_OK)
		return rc;
	if (found && rec.cianbox_id > 0) {
		/* 1. Linked already. */
		out->how = CUSTOMER_LINKED;
		out->cianbox_id = rec.cianbox_id;
		out->linked = true;
		out->was_verified = rec.verified;
		store_customer_clear(&rec);
		rc = customer_client_get(st, out->cianbox_id, &out->client,
		    &out->have_client);
		/* Verification follows the phone on file; without the
		 * record, what was established stays. */
		out->verified = out->have_client ?
		    customer_phone_matches(&out->client, wa_id) :
		    out->was_verified;
		return rc;
	}
	if (found)
		store_customer_clear(&rec);
	/* 2. The synced clients, by the sender's national number. A sender
	 * known by BSUID alone has no number to match. */
	if (!store_key_is_phone(wa_id))
		return OV_OK;
	rc = customer_client_by_phone(st, wa_id, &out->client,
	    &out->have_client);
	if (rc != OV_OK || !out->have_client)
		return rc;
	out->how = CUSTOMER_BY_PHONE;
	out->cianbox_id = out->client.id;
	out->verified = true;
	return OV_OK;
}
