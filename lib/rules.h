/*
 * rules.h - what a customer's message asks for, without a model.
 *
 * The conversation (lib/bot) decides by the model's tools when one is
 * configured and answering; otherwise, or when it fails, it decides by
 * these rules, so a customer always gets a useful answer. Rules read:
 *   - button and list reply ids: "prod:<id>" (a product picked from a
 *     list), "quote:confirm", "quote:cancel", "quote:new" (quote the
 *     product talked about), "handoff";
 *   - Spanish keywords, as people type them (any case, with or without
 *     accents): saludo (hola, buenas...), gracias, precio / cuánto sale,
 *     stock / tenés / hay, saldo / cuánto debo, facturas, presupuesto /
 *     cotizá, confirmo, cancelar, vendedor / hablar con alguien;
 *   - a quantity: a whole number that is not part of a measure
 *     ("10 fuentes 12V 5A" is 10 of "fuentes 12v 5a"; "domo 4 mp" has no
 *     quantity), also "x10" and "10 unidades";
 *   - a CUIT (valid check digit) or an e-mail address typed in chat;
 *   - what is left, without filler words, is the product query. An
 *     intent that needs a product and has no query refers to the product
 *     last talked about (uses_last): "¿y tenés 20?".
 *
 * Pure functions on caller storage: nothing to free.
 */
#ifndef OVIDIO_RULES_H
#define OVIDIO_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RULES_QUERY_MAX 200      /* bytes of the product query */
#define RULES_TEXT_MAX 4096      /* bytes of text looked at */
#define RULES_QTY_MAX 100000

enum rules_intent {
	RULES_NONE = 0,        /* nothing recognised (and no product words) */
	RULES_GREETING,        /* only a greeting */
	RULES_THANKS,          /* thanks / ok / perfect, nothing else */
	RULES_SEARCH,          /* products matching query */
	RULES_PRICE,           /* price of query, or of the last product */
	RULES_STOCK,           /* quantity (or stock) of query / last product */
	RULES_SELECT,          /* product_id picked from a list */
	RULES_BALANCE,         /* account balance */
	RULES_INVOICES,        /* recent invoices */
	RULES_QUOTE,           /* build a quote: quantity x query / last */
	RULES_CONFIRM,         /* confirm the pending quote */
	RULES_CANCEL,          /* cancel the pending quote */
	RULES_HANDOFF,         /* talk to a person */
	RULES_IDENTIFY,        /* only a CUIT or an e-mail */
	RULES_YES,             /* "sí", "dale": yes to the question we asked */
	RULES_NO,              /* "no", "no hace falta": no to it */
	RULES_COMPLAINT,       /* a complaint, an insult, urgency: a person */
	RULES_CART_SHOW,       /* "¿qué llevo?" */
	RULES_CART_ADD,        /* "agregale 2 baluns" */
	RULES_CART_SET,        /* "mejor que sean 12" */
	RULES_CART_REMOVE,     /* "sacá el disco" */
	RULES_BYE,             /* "chau", "nos vemos" */
	RULES_OPT_OUT,         /* "baja", "no me manden más" */
	RULES_OPT_IN,          /* "alta", "quiero recibir promos" */
	RULES_PHOTO,           /* "tenés foto?", "mandame una foto de la 2" */
	RULES__COUNT
};

/* A reference to the last list or product shown. */
enum rules_ref {
	RULES_REF_NONE = 0,
	RULES_REF_INDEX,       /* "la primera", "la 2", "opción 3": ref_index */
	RULES_REF_LAST_ROW,    /* "la última" */
	RULES_REF_THAT,        /* "esa", "ese", "esos", "la misma" */
	RULES_REF_CHEAPEST,    /* "la más barata" */
	RULES_REF_DEAREST,     /* "la más cara" */
	RULES_REF_ATTR         /* "la de 3.6mm", "la hikvision": query picks */
};

#define RULES_ITEMS_MAX 10

/* One product of a message that names several ("1 teclado pk5501 y 2
 * baterías 12v 7ah"). */
struct rules_item {
	int64_t quantity;              /* 0: none given */
	char query[RULES_QUERY_MAX + 1];
};

struct rules_result {
	enum rules_intent intent;
	bool greeted;                  /* a greeting came with it */
	bool thanked;
	int64_t quantity;              /* 0: none given */
	int64_t product_id;            /* RULES_SELECT (and quote:new) */
	bool uses_last;                /* needs the last product talked about */
	char query[RULES_QUERY_MAX + 1]; /* lower case, no accents; may be "" */
	char cuit[12];                 /* 11 digits or "" */
	bool cuit_like;                /* 11 digits shaped like a CUIT, valid
	                                  or not (a typo is still an answer) */
	char email[255];               /* normalised or "" */
	enum rules_ref ref;            /* a reference to what was shown */
	int ref_index;                 /* RULES_REF_INDEX: 1.. */
	bool with_iva;                 /* "con IVA", "precio final" */
	bool variation;                /* "y de 8 canales?": the last search
	                                  changed by query */
	bool only_number;              /* nothing but a number ("2", "dame 3") */
	bool emoji_only;               /* symbols and emoji, no words */
	bool complaint;                /* complaint words, whatever the intent */
	bool bye;
	bool again;                    /* "de nuevo", "otra vez", "reenviame" */
	size_t nitems;                 /* >= 2 when several products came */
	struct rules_item items[RULES_ITEMS_MAX];
};

/* Read text (may be NULL) and reply_id (a button/list id; may be NULL).
 * Always fills *out; OV_OK, or OV_EINVAL for NULL out. */
int rules_parse(const char *text, const char *reply_id,
    struct rules_result *out);

/* Static English name of an intent ("search", "stock", ...), for logs. */
const char *rules_intent_name(enum rules_intent i);

/* Lower-case s and fold Spanish accents (á->a, ñ->n, ü->u, ¿¡ dropped)
 * into out (outlen bytes, cut at a character). Other non-ASCII bytes are
 * kept. Returns bytes written. */
size_t rules_fold(const char *s, char *out, size_t outlen);

#endif
