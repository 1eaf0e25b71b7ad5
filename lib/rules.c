/*
 * rules.c - intents from Spanish text without a model. See rules.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "identity.h"
#include "rules.h"

#define TOKENS_MAX 128
#define TOKEN_MAX 64

const char *
rules_intent_name(enum rules_intent i)
{
	static const char *const names[] = {
		"none", "greeting", "thanks", "search", "price", "stock",
		"select", "balance", "invoices", "quote", "confirm", "cancel",
		"handoff", "identify", "yes", "no",
	};

	if ((size_t)i < sizeof(names) / sizeof(names[0]))
		return names[i];
	return "unknown";
}

/* Two-byte UTF-8 letters of Spanish, folded. */
static const struct { unsigned char b1, b2; char to; } folds[] = {
	{ 0xC3, 0xA1, 'a' }, { 0xC3, 0xA9, 'e' }, { 0xC3, 0xAD, 'i' },
	{ 0xC3, 0xB3, 'o' }, { 0xC3, 0xBA, 'u' }, { 0xC3, 0xBC, 'u' },
	{ 0xC3, 0xB1, 'n' }, { 0xC3, 0x81, 'a' }, { 0xC3, 0x89, 'e' },
	{ 0xC3, 0x8D, 'i' }, { 0xC3, 0x93, 'o' }, { 0xC3, 0x9A, 'u' },
	{ 0xC3, 0x9C, 'u' }, { 0xC3, 0x91, 'n' }, { 0xC3, 0xA0, 'a' },
	{ 0xC3, 0xA8, 'e' }, { 0xC3, 0xB2, 'o' },
	{ 0xC2, 0xBF, ' ' }, { 0xC2, 0xA1, ' ' },  /* ¿ ¡ */
	{ 0xC2, 0xB0, ' ' }, { 0xC2, 0xBA, ' ' },  /* ° º */
};

size_t
rules_fold(const char *s, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t o = 0;

	if (outlen == 0)
		return 0;
	while (*p != '\0' && o + 1 < outlen) {
		size_t i;

		if (*p < 0x80) {
			out[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
			p++;
			continue;
		}
		for (i = 0; i < sizeof(folds) / sizeof(folds[0]); i++)
			if (p[0] == folds[i].b1 && p[1] == folds[i].b2)
				break;
		if (i < sizeof(folds) / sizeof(folds[0])) {
			out[o++] = folds[i].to;
			p += 2;
			continue;
		}
		/* Other non-ASCII: copy the whole sequence when it fits. */
		{
			size_t n = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
			size_t k;

			for (k = 0; k < n && p[k] != '\0'; k++)
				;
			if (k < n || o + n >= outlen)
				break;
			memcpy(out + o, p, n);
			o += n;
			p += n;
		}
	}
	out[o] = '\0';
	return o;
}

static int
in_list(const char *w, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(w, *list) == 0)
			return 1;
	return 0;
}

/* Words that never belong to a product query. */
static const char *const stopwords[] = {
	"de", "del", "la", "el", "los", "las", "un", "una", "unos", "unas",
	"para", "con", "por", "que", "y", "o", "a", "al", "en", "me", "te",
	"se", "lo", "le", "les", "mi", "tu", "su", "sus", "hay", "tenes",
	"tienen", "tiene", "tenemos", "tendras", "tendrian", "stock", "precio",
	"precios", "cuanto", "cuantos", "cuantas", "sale", "salen", "cuesta",
	"cuestan", "esta", "estan", "valor", "vale", "hola", "buenas",
	"buenos", "buen", "dia", "dias", "tardes", "noches", "quiero",
	"queria", "quisiera", "necesito", "necesitaria", "busco", "buscaba",
	"si", "no", "favor", "pasame", "pasas", "pasarme", "mandame",
	"mandas", "decime", "dame", "podes", "podrias", "puede", "pueden",
	"ver", "saber", "info", "informacion", "consulta", "consultar",
	"consultarte", "gracias", "muchas", "ok", "dale", "disponible",
	"disponibles", "alcanza", "es", "son", "sos", "como", "va", "todo",
	"bien", "che", "ahi", "aca", "algo", "alguna", "alguno", "algun",
	"otra", "otro", "mas", "ese", "esa", "eso", "esos", "esas", "este",
	"estos", "estas", "ya", "tambien", "presupuesto", "presupuestame",
	"cotiza", "cotizame", "cotizar", "cotizacion", "armame", "arma",
	"armar", "armas", "unidades", "unidad", "u", "un", "uds", "x", "q",
	"tal", "hacer", "pedido", "pedir", "comprar", "llevar", "llevo",
	"agregame", "agrega", "sumame", "suma", "entonces", "bueno",
	"perfecto", "genial", "listo", "joya", "barbaro", "hay?", "quedan",
	"queda", "precisaria", "preciso", "seria", "serian", "cual", "cuales",
	"sobre", "tema", "pregunto", "pregunta", "cuit", "cuil", "email",
	"mail", "correo", "e", "dni", "soy", "nombre", "nuevo", "nueva",
	"vuelta", "vez", "estoy", "estas", "andas", "anda", "ahora", "hace",
	"falta", "todavia", "nop", "momento",
	NULL
};

/* Measure units: a number next to one is a measure, not a quantity. */
static const char *const units[] = {
	"v", "vcc", "vca", "volts", "volt", "a", "amp", "amper", "amperes",
	"ah", "w", "watts", "mp", "megapixel", "megapixeles", "mm", "m",
	"mt", "mts", "metro", "metros", "cm", "ch", "canal", "canales",
	"tb", "gb", "mb", "pulgadas", "pulg", "hz", "p", "k", "zonas", "zona",
	"puertos", "puerto", "bocas", "vias", "hilos", "pares", "awg", "kg",
	"hs", "horas", "x",
	NULL
};

static int
has_phrase(const char *folded, const char *phrase)
{
	size_t n = strlen(phrase);

	for (const char *p = strstr(folded, phrase); p != NULL;
	    p = strstr(p + 1, phrase)) {
		int before = p == folded || !((p[-1] >= 'a' && p[-1] <= 'z') ||
		    (p[-1] >= '0' && p[-1] <= '9'));
		char c = p[n];
		int after = !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));

		if (before && after)
			return 1;
	}
	return 0;
}

static int
any_phrase(const char *folded, const char *const *list)
{
	for (; *list != NULL; list++)
		if (has_phrase(folded, *list))
			return 1;
	return 0;
}

static const char *const kw_handoff[] = {
	"vendedor", "vendedora", "hablar con alguien", "hablar con una persona",
	"hablar con un humano", "persona", "humano", "asesor", "asesora",
	"que me llamen", "llamame", "atencion al cliente", "operador", NULL
};
static const char *const kw_balance[] = {
	"saldo", "cuanto debo", "cuanto le debo", "cuanto les debo", "deuda",
	"debo", "cuenta corriente", "estado de cuenta", "mi cuenta", NULL
};
static const char *const kw_invoices[] = {
	"factura", "facturas", "comprobante", "comprobantes",
	"ultimas compras", "mis compras", NULL
};
static const char *const kw_confirm[] = {
	"confirmo", "confirmar", "confirmado", "lo confirmo", "acepto",
	"enviamelo", "mandamelo", NULL
};
static const char *const kw_cancel[] = {
	"cancelar", "cancela", "cancelo", "cancelalo", "anular", "anulalo",
	"no lo quiero", NULL
};
static const char *const kw_quote[] = {
	"presupuesto", "presupuestame", "cotiza", "cotizame", "cotizar",
	"cotizacion", "armame", "arma el", "armar", "armalo", NULL
};
static const char *const kw_price[] = {
	"precio", "precios", "cuanto sale", "cuanto salen", "cuanto cuesta",
	"cuanto cuestan", "cuanto esta", "cuanto estan", "valor", "a cuanto",
	"que sale", NULL
};
static const char *const kw_stock[] = {
	"stock", "tenes", "tienen", "tenes?", "hay", "disponible",
	"disponibles", "te quedan", "quedan", "alcanza", "tendras", NULL
};
static const char *const kw_greeting[] = {
	"hola", "holis", "buenas", "buen dia", "buenos dias", "buenas tardes",
	"buenas noches", "que tal", NULL
};
static const char *const kw_thanks[] = {
	"gracias", "muchas gracias", "genial", "perfecto", "buenisimo",
	"joya", "barbaro", "listo", "ok", "okey", NULL
};
static const char *const kw_no[] = {
	"no", "nop", "no gracias", "no hace falta", "no por ahora", "todavia no",
	"ahora no", NULL
};
static const char *const kw_yes[] = {
	"si", "dale", "ok", "de una", "obvio", "claro", "bueno", "va",
	"armalo", "si por favor", NULL
};

/* Token characters: letters, digits, non-ASCII bytes; '.' and ','
 * between digits ("2.8mm", "1,5"). */
static int
tok_char(const char *s, size_t i)
{
	unsigned char c = (unsigned char)s[i];

	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80)
		return 1;
	if ((c == '.' || c == ',') && i > 0 && s[i - 1] >= '0' &&
	    s[i - 1] <= '9' && s[i + 1] >= '0' && s[i + 1] <= '9')
		return 1;
	return 0;
}

static int
all_digits(const char *w)
{
	if (*w == '\0')
		return 0;
	for (; *w != '\0'; w++)
		if (*w < '0' || *w > '9')
			return 0;
	return 1;
}

/* A whole number in 1..RULES_QTY_MAX, or 0. */
static int64_t
qty_value(const char *w)
{
	char *end;
	long long v;

	if (!all_digits(w) || strlen(w) > 6)
		return 0;
	v = strtoll(w, &end, 10);
	if (*end != '\0' || v < 1 || v > RULES_QTY_MAX)
		return 0;
	return (int64_t)v;
}

/* "10u", "10un", "x10": a quantity glued to its marker. */
static int64_t
glued_qty(const char *w)
{
	char num[TOKEN_MAX];
	size_t n = strlen(w);

	if (w[0] == 'x' && n > 1 && all_digits(w + 1))
		return qty_value(w + 1);
	if (n > 1 && w[n - 1] == 'u') {
		memcpy(num, w, n - 1);
		num[n - 1] = '\0';
		return qty_value(num);
	}
	if (n > 2 && strcmp(w + n - 2, "un") == 0) {
		memcpy(num, w, n - 2);
		num[n - 2] = '\0';
		return qty_value(num);
	}
	return 0;
}

/* Query append with a space; silently stops at the bound. */
static void
query_add(char *q, const char *w)
{
	size_t n = strlen(q), wn = strlen(w);

	if (n + (n > 0) + wn > RULES_QUERY_MAX)
		return;
	if (n > 0)
		q[n++] = ' ';
	memcpy(q + n, w, wn + 1);
}

static void
parse_reply_id(const char *id, struct rules_result *out)
{
	char *end;
	long long v;

	if (strncmp(id, "prod:", 5) == 0 || strncmp(id, "quote:new:", 10) == 0) {
		const char *num = id[0] == 'p' ? id + 5 : id + 10;

		if (*num < '1' || *num > '9')
			return;
		v = strtoll(num, &end, 10);
		if (*end != '\0' || v <= 0 || v > 999999999999LL)
			return;
		out->product_id = v;
		out->intent = id[0] == 'p' ? RULES_SELECT : RULES_QUOTE;
		return;
	}
	if (strcmp(id, "quote:confirm") == 0)
		out->intent = RULES_CONFIRM;
	else if (strcmp(id, "quote:cancel") == 0)
		out->intent = RULES_CANCEL;
	else if (strcmp(id, "quote:new") == 0) {
		out->intent = RULES_QUOTE;
		out->uses_last = true;
	} else if (strcmp(id, "handoff") == 0)
		out->intent = RULES_HANDOFF;
}

int
rules_parse(const char *text, const char *reply_id, struct rules_result *out)
{
	char folded[RULES_TEXT_MAX + 1];
	char tok[TOKENS_MAX][TOKEN_MAX];
	size_t ntok = 0, i, n;
	int qty_at = -1;
	bool yes, no;

	if (out == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	if (reply_id != NULL && reply_id[0] != '\0') {
		parse_reply_id(reply_id, out);
		if (out->intent != RULES_NONE)
			return OV_OK;
	}
	if (text == NULL)
		return OV_OK;
	if (identity_cuit_find(text, out->cuit) != OV_OK)
		out->cuit[0] = '\0';
	if (identity_email_find(text, out->email, sizeof(out->email)) != OV_OK)
		out->email[0] = '\0';
	n = rules_fold(text, folded, sizeof(folded));

	/* Tokens, leaving out whole chunks that are an e-mail or a CUIT. */
	for (i = 0; i < n && ntok < TOKENS_MAX;) {
		size_t start, len, chunk_end = i;
		int skip = 0;

		if (!tok_char(folded, i)) {
			i++;
			continue;
		}
		/* The whitespace-delimited chunk this token starts. */
		while (chunk_end < n && folded[chunk_end] != ' ' &&
		    folded[chunk_end] != '\n' && folded[chunk_end] != '\t')
			chunk_end++;
		{
			size_t digits = 0, other = 0;

			for (size_t k = i; k < chunk_end; k++) {
				if (folded[k] == '@')
					skip = 1;
				if (folded[k] >= '0' && folded[k] <= '9')
					digits++;
				else if (folded[k] != '-' && folded[k] != '.' &&
				    folded[k] != '?' && folded[k] != ',')
					other++;
			}
			if (digits == 11 && other == 0)
				skip = 1, out->cuit_like = true;
		}
		if (skip) {
			i = chunk_end;
			continue;
		}
		start = i;
		while (i < n && tok_char(folded, i))
			i++;
		len = i - start;
		if (len >= TOKEN_MAX)
			len = TOKEN_MAX - 1;
		memcpy(tok[ntok], folded + start, len);
		tok[ntok][len] = '\0';
		ntok++;
	}

	/* The quantity: the first bare number not next to a unit. */
	for (i = 0; i < ntok && qty_at < 0; i++) {
		int64_t q = qty_value(tok[i]);

		if (q == 0 && (q = glued_qty(tok[i])) != 0) {
			out->quantity = q;
			qty_at = (int)i;
			break;
		}
		if (q == 0)
			continue;
		if (i + 1 < ntok && in_list(tok[i + 1], units) &&
		    strcmp(tok[i + 1], "x") != 0)
			continue;
		if (i > 0 && strcmp(tok[i - 1], "x") == 0 && i >= 2 &&
		    qty_value(tok[i - 2]) != 0)
			continue;   /* "2 x 4": a size */
		out->quantity = q;
		qty_at = (int)i;
	}

	/* The query: what is left, numbers joined to their units. */
	for (i = 0; i < ntok; i++) {
		char joined[TOKEN_MAX * 2];

		if ((int)i == qty_at || in_list(tok[i], stopwords))
			continue;
		if (all_digits(tok[i]) && i + 1 < ntok &&
		    in_list(tok[i + 1], units) && strcmp(tok[i + 1], "x") != 0) {
			snprintf(joined, sizeof(joined), "%s%s", tok[i], tok[i + 1]);
			query_add(out->query, joined);
			i++;
			continue;
		}
		if (all_digits(tok[i]) && strlen(tok[i]) < 2 && (int)i != qty_at)
			continue;   /* a lone digit is noise */
		query_add(out->query, tok[i]);
	}

	out->greeted = any_phrase(folded, kw_greeting);
	out->thanked = any_phrase(folded, kw_thanks);
	yes = ntok <= 4 && any_phrase(folded, kw_yes);
	no = ntok <= 4 && any_phrase(folded, kw_no);

	if (any_phrase(folded, kw_handoff))
		out->intent = RULES_HANDOFF;
	else if (any_phrase(folded, kw_cancel))
		out->intent = RULES_CANCEL;
	else if (any_phrase(folded, kw_confirm))
		out->intent = RULES_CONFIRM;
	else if (any_phrase(folded, kw_invoices))
		out->intent = RULES_INVOICES;
	else if (any_phrase(folded, kw_balance))
		out->intent = RULES_BALANCE;
	else if (any_phrase(folded, kw_quote))
		out->intent = RULES_QUOTE;
	else if (any_phrase(folded, kw_price))
		out->intent = RULES_PRICE;
	else if (any_phrase(folded, kw_stock) || out->quantity > 0)
		out->intent = RULES_STOCK;
	else if (out->cuit[0] != '\0' || out->email[0] != '\0' ||
	    out->cuit_like)
		out->intent = RULES_IDENTIFY;
	else if (out->query[0] != '\0')
		out->intent = RULES_SEARCH;
	else if (no)
		out->intent = RULES_NO;
	else if (yes && !out->greeted)
		out->intent = RULES_YES;   /* "dale", "sí": to our question */
	else if (out->greeted)
		out->intent = RULES_GREETING;
	else if (out->thanked)
		out->intent = RULES_THANKS;

	/* A stock question without quantity nor product words is a search
	 * for whatever words there were, or about the last product. */
	if ((out->intent == RULES_STOCK || out->intent == RULES_PRICE ||
	    out->intent == RULES_QUOTE) && out->query[0] == '\0')
		out->uses_last = true;
	if (out->intent == RULES_STOCK && out->quantity == 0 &&
	    out->query[0] != '\0')
		out->intent = RULES_SEARCH;
	return OV_OK;
}
