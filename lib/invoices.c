/*
 * invoices.c - the kept copy of a customer's latest invoices (see
 * invoices.h).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "invoices.h"
#include "log.h"
#include "store.h"
#include "utf8.h"

#define KEEP_S (30 * 86400)   /* the record's expires_at: informative */

static void
name_of(int64_t cianbox_id, char *buf, size_t len)
{
	snprintf(buf, len, "cianbox_facturas:%" PRId64, cianbox_id);
}

static const char *
str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* A number member; false when missing or not a finite number. */
static bool
num_of(const cJSON *o, const char *k, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return false;
	*out = v->valuedouble;
	return true;
}

static int64_t
time_of(const cJSON *o, const char *k)
{
	double d = 0;

	return num_of(o, k, &d) && d > 0 && d < 1e12 ? (int64_t)d : 0;
}

static int
decode(const char *json, struct invoices *out)
{
	cJSON *root = cJSON_Parse(json);
	const cJSON *items, *it;
	int rc = OV_EPARSE;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(root))
		goto out;
	out->fetched_at = time_of(root, "fetched_at");
	out->failed_at = time_of(root, "failed_at");
	utf8_copy(out->documento, sizeof(out->documento),
	    str_of(root, "documento"));
	items = cJSON_GetObjectItemCaseSensitive(root, "items");
	if (items != NULL && !cJSON_IsArray(items))
		goto out;
	cJSON_ArrayForEach(it, items) {
		struct cianbox_venta *v = &out->v[out->n];
		double d = 0;

		if (out->n == INVOICES_MAX)
			break;
		if (!cJSON_IsObject(it))
			goto out;
		memset(v, 0, sizeof(*v));
		if (num_of(it, "id", &d))
			v->id = (int64_t)d;
		utf8_copy(v->fecha, sizeof(v->fecha), str_of(it, "fecha"));
		utf8_copy(v->tipo, sizeof(v->tipo), str_of(it, "tipo"));
		utf8_copy(v->punto_venta, sizeof(v->punto_venta),
		    str_of(it, "punto_venta"));
		utf8_copy(v->numero, sizeof(v->numero), str_of(it, "numero"));
		(void)num_of(it, "total", &v->total);
		v->has_saldo = num_of(it, "saldo", &v->saldo);
		v->cta_cte = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it,
		    "cta_cte"));
		v->anulado = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it,
		    "anulado"));
		v->vigente = true;
		if (num_of(it, "id_moneda", &d) && d >= 0 && d < 1000)
			v->id_moneda = (int)d;
		out->n++;
	}
	rc = OV_OK;
out:
	cJSON_Delete(root);
	return rc;
}

static int
encode(const struct invoices *c, char **json)
{
	cJSON *root = cJSON_CreateObject(), *items;
	int rc = OV_ENOMEM;

	*json = NULL;
	if (root == NULL ||
	    cJSON_AddNumberToObject(root, "fetched_at",
	    (double)c->fetched_at) == NULL ||
	    cJSON_AddNumberToObject(root, "failed_at",
	    (double)c->failed_at) == NULL ||
	    cJSON_AddStringToObject(root, "documento", c->documento) == NULL ||
	    (items = cJSON_AddArrayToObject(root, "items")) == NULL)
		goto out;
	for (size_t i = 0; i < c->n; i++) {
		const struct cianbox_venta *v = &c->v[i];
		cJSON *it = cJSON_CreateObject();

		if (it == NULL)
			goto out;
		cJSON_AddItemToArray(items, it);
		if (cJSON_AddNumberToObject(it, "id", (double)v->id) == NULL ||
		    cJSON_AddStringToObject(it, "fecha", v->fecha) == NULL ||
		    cJSON_AddStringToObject(it, "tipo", v->tipo) == NULL ||
		    cJSON_AddStringToObject(it, "punto_venta",
		    v->punto_venta) == NULL ||
		    cJSON_AddStringToObject(it, "numero", v->numero) == NULL ||
		    cJSON_AddNumberToObject(it, "total", v->total) == NULL ||
		    (v->has_saldo && cJSON_AddNumberToObject(it, "saldo",
		    v->saldo) == NULL) ||
		    cJSON_AddBoolToObject(it, "cta_cte", v->cta_cte) == NULL ||
		    cJSON_AddBoolToObject(it, "anulado", v->anulado) == NULL ||
		    cJSON_AddNumberToObject(it, "id_moneda",
		    v->id_moneda) == NULL)
			goto out;
	}
	if ((*json = cJSON_PrintUnformatted(root)) != NULL)
		rc = OV_OK;
out:
	cJSON_Delete(root);
	return rc;
}

static int
store_copy(struct store *st, int64_t cianbox_id, const struct invoices *c,
    int64_t now)
{
	char name[64], *json = NULL;
	int rc;

	name_of(cianbox_id, name, sizeof(name));
	if ((rc = encode(c, &json)) != OV_OK)
		return rc;
	rc = store_token_put(st, name, json, now + KEEP_S);
	free(json);
	return rc;
}

int
invoices_get(struct store *st, int64_t cianbox_id, struct invoices *out,
    bool *found)
{
	char name[64], *json = NULL;
	int64_t expires = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	*found = false;
	if (cianbox_id <= 0)
		return OV_EINVAL;
	name_of(cianbox_id, name, sizeof(name));
	rc = store_token_get(st, name, &json, &expires, found);
	if (rc == OV_OK && *found && decode(json, out) != OV_OK) {
		log_warn("the kept invoices of Cianbox client %" PRId64
		    " are unreadable; taken as missing", cianbox_id);
		memset(out, 0, sizeof(*out));
		*found = false;
	}
	free(json);
	return rc;
}

int
invoices_put(struct store *st, int64_t cianbox_id, const char *documento,
    const struct cianbox_venta *v, size_t n, int64_t now)
{
	struct invoices c;

	if (cianbox_id <= 0 || documento == NULL || (v == NULL && n > 0))
		return OV_EINVAL;
	memset(&c, 0, sizeof(c));
	c.fetched_at = now;
	utf8_copy(c.documento, sizeof(c.documento), documento);
	c.n = n < INVOICES_MAX ? n : INVOICES_MAX;
	if (c.n > 0)
		memcpy(c.v, v, c.n * sizeof(c.v[0]));
	return store_copy(st, cianbox_id, &c, now);
}

int
invoices_failed(struct store *st, int64_t cianbox_id, int64_t now)
{
	struct invoices c;
	bool found = false;
	int rc;

	if ((rc = invoices_get(st, cianbox_id, &c, &found)) != OV_OK)
		return rc;
	c.failed_at = now;
	return store_copy(st, cianbox_id, &c, now);
}

bool
invoices_usable(const struct invoices *c, bool found, const char *documento)
{
	return found && c->fetched_at > 0 && documento != NULL &&
	    strcmp(c->documento, documento) == 0;
}

bool
invoices_due(const struct invoices *c, bool found, const char *documento,
    int64_t now)
{
	if (found && c->failed_at > now - INVOICES_RETRY_S &&
	    c->failed_at <= now)
		return false;
	return !invoices_usable(c, found, documento) ||
	    c->fetched_at <= now - INVOICES_FRESH_S || c->fetched_at > now;
}
