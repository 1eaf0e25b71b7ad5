/*
 * actions.h - what Ovidio can do in a conversation: one table that the
 * model sees as tools (name, description, JSON schema from lib/llm) and
 * the rules reach as intents (DESIGN.md section 5). Both go through
 * action_call(): the arguments are validated against the same schema
 * whoever asked, so the model's tools and the rules' intents cannot
 * drift apart. A new action is one row in actions.c plus its function.
 *
 * An action runs inside a turn (lib/turn.h): it reads and changes the
 * conversation (t->conv), adds replies, and queues notices; nothing it
 * does reaches the customer before the turn is committed.
 */
#ifndef OVIDIO_ACTIONS_H
#define OVIDIO_ACTIONS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "llm.h"

struct turn;

/* The tools' names, for callers that name an action. */
#define A_SEARCH      "buscar_productos"
#define A_PRODUCT     "ver_producto"
#define A_STOCK       "consultar_stock"
#define A_CART_ADD    "agregar_al_pedido"
#define A_CART_SET    "cambiar_cantidad"
#define A_CART_REMOVE "quitar_del_pedido"
#define A_CART_SHOW   "ver_pedido"
#define A_QUOTE       "armar_presupuesto"
#define A_CONFIRM     "confirmar_presupuesto"
#define A_CANCEL      "cancelar_presupuesto"
#define A_RESEND      "reenviar_presupuesto"
#define A_BALANCE     "saldo_cuenta"
#define A_INVOICES    "ultimas_facturas"
#define A_BUSINESS    "info_negocio"
#define A_HANDOFF     "hablar_con_vendedor"
#define A_PROMO       "promociones"
#define A_RENEW       "renovar_presupuesto"
#define A_PHOTO       "ver_foto"

struct action {
	struct llm_tool tool;        /* name, description, parameters */
	/* Do it. args holds only declared, validated parameters. OV_OK
	 * (also when the answer to the customer is "no": that is a reply),
	 * or an error that fails the turn (it is replayed). */
	int (*run)(struct turn *t, const cJSON *args);
};

/* The table, and the same as lib/llm tools (contiguous, same order). */
const struct action *actions_table(size_t *n);
const struct llm_tool *actions_tools(size_t *n);

/* Validate args (NULL: {}) against name's schema and run it. OV_EINVAL
 * for an unknown action or arguments the schema refuses (logged). The
 * caller keeps args. */
int action_call(struct turn *t, const char *name, const cJSON *args);

/* A compact JSON of what the customer now reads from the replies added
 * since `before` (the model hears it as the tool's result). malloc'd. */
char *action_result(struct turn *t, size_t before);

#endif
