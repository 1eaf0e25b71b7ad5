/*
 * decide_model.c - deciding by the model: the action table as tools
 * (lib/actions), what the model knows of the conversation (the last list
 * with positions and ids, the pedido, the question pending), and which of
 * its words may reach the customer (none with a figure; none about data
 * when no tool ran). See decide.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "actions.h"
#include "bot_catalog.h"
#include "decide.h"
#include "err.h"
#include "llm.h"
#include "log.h"
#include "store.h"
#include "turn.h"
#include "utf8.h"

#define LEAD_MAX 300
#define HISTORY_TURNS 12

/* ---- the model -------------------------------------------------------- */

static bool
has_digit(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= '0' && *s <= '9')
			return true;
	return false;
}

static int
run_tool(void *arg, const struct llm_tool *tool, const cJSON *args,
    char **result)
{
	struct turn *t = arg;
	size_t before;
	int rc;

	/* The same call again replaces what it said the first time (two
	 * quotes in one turn would only confuse); other calls of the same
	 * tool ("sensor pir", then "balun") each keep their answer. */
	{
		char *json = cJSON_PrintUnformatted(args);
		char key[256];

		utf8_copy(key, sizeof(key), json != NULL ? json : "");
		free(json);
		for (size_t i = 0; i < t->ncalls; i++)
			if (strcmp(t->calls[i].tool, tool->name) == 0 &&
			    strcmp(t->calls[i].args, key) == 0)
				replies_drop_by(t, tool->name);
		if (t->ncalls < sizeof(t->calls) / sizeof(t->calls[0])) {
			t->calls[t->ncalls].tool = tool->name;
			memcpy(t->calls[t->ncalls].args, key, sizeof(key));
			t->ncalls++;
		}
	}
	before = t->nreplies;
	rc = action_call(t, tool->name, args);
	if (rc != OV_OK && rc != OV_EINVAL)
		return rc;
	*result = action_result(t, before);
	if (*result == NULL)
		*result = strdup("{\"error\":\"no disponible\"}");
	return *result == NULL ? OV_ENOMEM : OV_OK;
}

/* What the model knows of this conversation beyond its history. */
static void
context(struct turn *t, char *buf, size_t len)
{
	struct bot_product p;
	bool found;
	size_t n;

	n = strlen(buf);
	if (t->conv.nlist > 0) {
		snprintf(buf + n, len - n, "\nÚltima lista mostrada (posición: "
		    "id nombre):");
		for (size_t i = 0; i < t->conv.nlist; i++) {
			if (bot_catalog_get(t->b->st, t->conv.list[i], &p, &found) !=
			    OV_OK || !found)
				continue;
			n = strlen(buf);
			snprintf(buf + n, len - n, "\n%zu: %lld %s", i + 1,
			    (long long)p.id, p.name);
		}
	}
	if (t->conv.last_product != 0) {
		n = strlen(buf);
		snprintf(buf + n, len - n, "\nÚltimo producto: %lld",
		    (long long)t->conv.last_product);
	}
	if (t->conv.ncart > 0) {
		n = strlen(buf);
		snprintf(buf + n, len - n, "\nPedido (id x cantidad):");
		for (size_t i = 0; i < t->conv.ncart; i++) {
			n = strlen(buf);
			snprintf(buf + n, len - n, " %lld x %lld;",
			    (long long)t->conv.cart[i].product_id,
			    (long long)t->conv.cart[i].qty);
		}
	}
	if (t->conv.pending != CONV_PENDING_NONE) {
		n = strlen(buf);
		snprintf(buf + n, len - n, "\nPregunta pendiente: %s",
		    conv_pending_name(t->conv.pending));
	}
}

static int
build_conv(struct turn *t, const char *const *current, size_t ncurrent,
    struct llm_conv **out)
{
	struct llm_conv *conv = NULL;
	struct store_msg *h = NULL;
	size_t n = 0;
	char sys[8192];
	int rc;

	if ((rc = llm_conv_new(&conv)) != OV_OK)
		return rc;
	snprintf(sys, sizeof(sys),
	    "Sos Ovidio, el asistente de ventas por WhatsApp de %s, "
	    "distribuidora de seguridad electrónica de Rosario (cámaras, DVR, "
	    "alarmas, cableado). Hablás en español rioplatense (vos), breve y "
	    "cálido. Usá siempre las herramientas para productos, precios, "
	    "stock, el pedido, presupuestos, saldo, facturas y datos del "
	    "negocio: lo que devuelven ya se le muestra al cliente, así que no "
	    "repitas precios, cantidades ni totales, ni inventes datos. Si el "
	    "cliente se refiere a algo de la última lista (\"la primera\", "
	    "\"la 2\", \"esa\"), usá su id. Reclamos, enojo o urgencias: "
	    "hablar_con_vendedor con reclamo true. Tu texto final es solo una "
	    "frase corta, sin números. Cliente: %s%s.",
	    t->b->business, customer_label(t), t->cust.cianbox_id != 0 ?
	    (t->cust.verified ? " (identificado por su número)" :
	    " (identificado solo para precios: no ve saldo ni facturas)") :
	    " (no identificado)");
	context(t, sys, sizeof(sys));
	if ((rc = llm_conv_system(conv, sys)) != OV_OK)
		goto out;
	if (store_history(t->b->st, t->wa_id, HISTORY_TURNS + (int)ncurrent,
	    &h, &n) == OV_OK) {
		for (size_t i = 0; i < n; i++) {
			bool cur = false;

			for (size_t k = 0; k < ncurrent; k++)
				if (strcmp(h[i].id, current[k]) == 0)
					cur = true;
			if (cur || h[i].body == NULL || h[i].body[0] == '\0' ||
			    strcmp(h[i].status, "failed") == 0)
				continue;
			rc = h[i].dir == STORE_IN ? llm_conv_user(conv, h[i].body) :
			    llm_conv_assistant(conv, h[i].body);
			if (rc != OV_OK)
				break;
		}
		store_msgs_free(h, n);
	}
	rc = llm_conv_user(conv, t->text);
out:
	if (rc != OV_OK) {
		llm_conv_free(conv);
		return rc;
	}
	*out = conv;
	return OV_OK;
}

int
decide_model_tools(struct turn *t, const char *const *ids, size_t nids)
{
	struct llm_conv *conv = NULL;
	struct llm_result res;
	const struct llm_tool *tools;
	size_t ntools;
	int rc;

	memset(&res, 0, sizeof(res));
	t->cur_text = t->text;
	if ((rc = build_conv(t, ids, nids, &conv)) != OV_OK)
		return rc;
	tools = actions_tools(&ntools);
	rc = llm_run(t->b->llm, conv, tools, ntools, run_tool, t,
	    t->b->llm_budget_ms, &res);
	if (rc != OV_OK)
		log_warn("model for %s: %s (%s); %s", t->wa_id, ov_strerror(rc),
		    res.error, t->nreplies > 0 ? "keeping what its tools did" :
		    "answering by rules");
	if (t->nreplies > 0) {
		/* Its words only when they cannot carry a figure. */
		if (rc == OV_OK && res.text != NULL && !has_digit(res.text) &&
		    strlen(res.text) <= LEAD_MAX && !t->handed_off)
			reply_prefix(t, res.text);
		rc = OV_OK;
	} else if (rc == OV_OK) {
		if (res.text != NULL && res.text[0] != '\0' &&
		    !has_digit(res.text) && !decide_asks_for_data(t->text))
			say(t, "%s", res.text);
		else
			rc = OV_EINVAL;   /* words of its own about data: rules */
	}
	llm_result_free(&res);
	llm_conv_free(conv);
	return rc;
}

