/*
 * isr.c - ISR quote events queued (see isr.h). No network here: this is
 * what lib/quote links; the posting is lib/isr_post.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "isr.h"
#include "log.h"
#include "quote.h"
#include "store.h"

/* Dollars with two decimals, as JSON number text. */
static cJSON *
money(int64_t cents)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%s%" PRId64 ".%02" PRId64,
	    cents < 0 ? "-" : "", (cents < 0 ? -cents : cents) / 100,
	    (cents < 0 ? -cents : cents) % 100);
	return cJSON_CreateRaw(buf);
}

static bool
add(cJSON *o, const char *key, cJSON *v)
{
	return v != NULL && cJSON_AddItemToObject(o, key, v);
}

int
isr_quote_json(const struct quote *q, const char *estado, char **json)
{
	cJSON *o = cJSON_CreateObject(), *c, *items, *tot;
	char when[32], notes[96];
	struct tm tm;
	time_t t = (time_t)q->created_at;
	bool ok;

	*json = NULL;
	if (o == NULL)
		return OV_ENOMEM;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		when[0] = '\0';
	snprintf(notes, sizeof(notes), "Presupuesto N° %" PRId64
	    " hecho por WhatsApp", q->number);
	ok = add(o, "estado", cJSON_CreateString(estado)) &&
	    add(o, "numero", cJSON_CreateNumber((double)q->number)) &&
	    add(o, "id", cJSON_CreateString(q->id)) &&
	    add(o, "fecha", cJSON_CreateString(when)) &&
	    (c = cJSON_AddObjectToObject(o, "cliente")) != NULL &&
	    add(c, "nombre", cJSON_CreateString(q->customer.name)) &&
	    add(c, "telefono", cJSON_CreateString(q->customer.phone[0] != '\0' ?
	    q->customer.phone : q->wa_id)) &&
	    add(c, "cuit", cJSON_CreateString(q->customer.cuit)) &&
	    (items = cJSON_AddArrayToObject(o, "productos")) != NULL;
	for (size_t i = 0; ok && i < q->nitems; i++) {
		const struct quote_item *it = &q->items[i];
		cJSON *p = cJSON_CreateObject();

		ok = p != NULL && cJSON_AddItemToArray(items, p) &&
		    add(p, "codigo", cJSON_CreateString(it->code)) &&
		    add(p, "descripcion", cJSON_CreateString(it->name)) &&
		    add(p, "cantidad", cJSON_CreateNumber((double)it->quantity)) &&
		    add(p, "precioUSD", money(it->unit_cents)) &&
		    add(p, "iva", cJSON_CreateRaw(it->iva_tenths == 105 ? "10.5" :
		    "21"));
	}
	ok = ok && (tot = cJSON_AddObjectToObject(o, "totales")) != NULL &&
	    add(tot, "subtotalUSD", money(q->subtotal_cents)) &&
	    add(tot, "ivaUSD", money(q->iva21_cents + q->iva105_cents)) &&
	    add(tot, "totalUSD", money(q->total_cents)) &&
	    add(o, "validezDias", cJSON_CreateNumber((double)
	    ((q->expires_at - q->created_at + 43200) / 86400))) &&
	    add(o, "notas", cJSON_CreateString(notes));
	if (ok)
		*json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return *json != NULL ? OV_OK : OV_ENOMEM;
}

int
isr_quote_event(struct store *st, const struct quote *q)
{
	struct store_isr e;
	const char *estado;
	int rc;

	if (!store_isr_enabled(st) || q->purged)
		return OV_OK;
	switch (q->state) {
	case QUOTE_PENDING:
		estado = "nuevo";
		break;
	case QUOTE_SENT:
		estado = "confirmado";
		break;
	case QUOTE_CANCELLED:
		estado = "cancelado";
		break;
	default:
		return OV_OK;
	}
	memset(&e, 0, sizeof(e));
	snprintf(e.id, sizeof(e.id), "%s:%s", q->id, estado);
	snprintf(e.quote_id, sizeof(e.quote_id), "%s", q->id);
	/* Scheduling runs on the real clock, like the outbox. */
	e.created_at = e.next_attempt_at = (int64_t)time(NULL);
	if ((rc = isr_quote_json(q, estado, &e.payload)) != OV_OK)
		return rc;
	rc = store_isr_put(st, &e);
	free(e.payload);
	if (rc == OV_EEXIST)
		rc = OV_OK;
	if (rc != OV_OK)
		log_warn("quote %" PRId64 ": the ISR event \"%s\" was not queued"
		    " (%s)", q->number, estado, ov_strerror(rc));
	return rc;
}
