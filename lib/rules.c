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
		"handoff", "identify", "yes", "no", "complaint", "cart_show",
		"cart_add", "cart_set", "cart_remove", "bye", "opt_out",
		"opt_in", "photo",
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
	"foto", "fotos", "fotito", "imagen", "imagenes",
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
	"falta", "todavia", "nop", "momento", "iva", "incluido",
	/* what people call each other, never a product */
	"genio", "genia", "crack", "capo", "capa", "idolo", "maestro", "groso",
	"grosa", "loco", "loca", "amigo", "amiga", "hermano", "fiera",
	"master", "jefe", "kapo", "querido", "querida", "campeon", "mostro",
	"chau", "chao", "adios", "saludos", "abrazo", "besos", "luego",
	"manana", "hoy", "noche", "tarde", "mismo", "misma", "pedido",
	"carrito", "resumen", "anotado", "mejor", "sean", "sea", "cambia",
	"cambialo", "cambiame", "cambiar", "saca", "sacame", "sacale", "quita",
	"quitame", "quitale", "borra", "borrame", "borrale", "elimina",
	"eliminame", "eliminale", "agregale", "agregar", "agregas", "sumale",
	"sumar", "anotame", "anota", "ademas", "poneme", "pone", "ponele",
	"mete", "metele", "meteme", "inclui", "incluir", "incluime", "sin",
	"vez", "lugar", "opcion", "numero", "nro", "fila", "item", "cada",
	"final", "c", "las", "quiero", "tenes?", "llevame", "lleva", "llevo",
	"manden", "envien", "escriban", "recibir", "promociones", "promos",
	"ofertas", "mensajes", "novedades", "darme", "denme", "mandes",
	"reservame", "separame", "mandame", "publicidad", "porfa", "porfavor",
	"xfa", "plis", "please", "spam", "bueno", "buena", "hasta",
	"armalo", "armala", "armalos", "armalas", "cotizalo", "cotizala",
	"cotizalos", "cotizalas", "presupuestalo", "presupuestala",
	"presupuestalos", "presupuestalas", "cotizas", "queda", "quedaria",
	"total", "reenviame", "reenvia", "reenviar", "volve", "volvelo",
	"pdf", "encuentro",
	NULL
};

/* Number words that are a quantity ("dos cámaras"); "un"/"una" only
 * start an item of a list ("un teclado y una batería"). */
static const struct { const char *w; int v; } number_words[] = {
	{ "un", 1 }, { "una", 1 }, { "uno", 1 }, { "dos", 2 }, { "tres", 3 },
	{ "cuatro", 4 }, { "cinco", 5 }, { "seis", 6 }, { "siete", 7 },
	{ "ocho", 8 }, { "nueve", 9 }, { "diez", 10 }, { "once", 11 },
	{ "doce", 12 }, { "quince", 15 }, { "veinte", 20 }, { "treinta", 30 },
	{ "cincuenta", 50 }, { "cien", 100 },
};

static const struct { const char *w; int v; } ordinals[] = {
	{ "primera", 1 }, { "primero", 1 }, { "primer", 1 }, { "1ra", 1 },
	{ "1ro", 1 }, { "1era", 1 }, { "1ero", 1 }, { "segunda", 2 },
	{ "segundo", 2 }, { "2da", 2 }, { "2do", 2 }, { "tercera", 3 },
	{ "tercero", 3 }, { "tercer", 3 }, { "3ra", 3 }, { "3ro", 3 },
	{ "3era", 3 }, { "cuarta", 4 }, { "cuarto", 4 }, { "4ta", 4 },
	{ "4to", 4 }, { "quinta", 5 }, { "quinto", 5 }, { "5ta", 5 },
	{ "5to", 5 }, { "sexta", 6 }, { "sexto", 6 }, { "6ta", 6 },
	{ "septima", 7 }, { "septimo", 7 }, { "setima", 7 }, { "7ma", 7 },
	{ "octava", 8 }, { "octavo", 8 }, { "8va", 8 }, { "novena", 9 },
	{ "noveno", 9 }, { "9na", 9 }, { "decima", 10 }, { "decimo", 10 },
	{ "10ma", 10 },
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
	"cotizacion", "armame", "arma el", "armar", "armalo", "armala",
	"armalos", "armalas", "cotizalo", "cotizala", "cotizalos", "cotizalas",
	"presupuestalo", "presupuestala", "presupuestalos", "presupuestalas",
	"cotizar", "cotizas", NULL
};
static const char *const kw_photo[] = {
	"foto", "fotos", "fotito", "imagen", "imagenes", NULL
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
	"buenas noches", "que tal", "todo bien", "como andas", "como estas",
	"como va", "como le va", NULL
};
static const char *const kw_thanks[] = {
	"gracias", "muchas gracias", "genial", "perfecto", "buenisimo",
	"joya", "barbaro", "listo", "ok", "okey", NULL
};
static const char *const kw_no[] = {
	"no", "nop", "no gracias", "no hace falta", "no por ahora", "todavia no",
	"ahora no", NULL
};
static const char *const kw_complaint[] = {
	"no anda", "no andan", "no funciona", "no funcionan", "no graba",
	"no prende", "no enciende", "no conecta", "no responde", "dejo de andar",
	"dejo de funcionar", "se rompio", "se quemo", "vino roto", "vino rota",
	"vino fallado", "vino fallada", "fallado", "fallada", "defectuoso",
	"defectuosa", "reclamo", "queja", "quejarme", "estafa", "estafaron",
	"verguenza", "desastre", "pesimo", "pesima", "malisimo", "malisima",
	"una porqueria", "porqueria", "me cagaron", "todavia no llego",
	"no me llego", "nunca llego", "no llego", "sigo esperando",
	"hace dias que espero", "dias que espero", "dias q espero",
	"horas que espero", "nadie me responde", "nadie me contesta",
	"no me atienden", "no me contestan", "boludo", "boludos", "pelotudo",
	"pelotudos", "la puta", "carajo", "mierda", "chantas", "ladrones",
	"inutil", "inutiles", "devolucion", "quiero devolver", "me devuelvan",
	"me vendieron", "me mandaron mal", "mandaron mal", "esta mal",
	"urgente", "urgencia", "es una emergencia", NULL
};
static const char *const kw_cart_show[] = {
	"que llevo", "q llevo", "que tengo", "q tengo", "que tengo en el pedido",
	"mi pedido", "q pedi", "que llevamos", "q llevamos",
	"ver pedido", "ver el pedido", "el pedido", "mi carrito", "carrito",
	"que pedi", "como va el pedido", "resumen", "que tengo anotado",
	"que me anotaste", "que va en el pedido", "que hay en el pedido",
	"sale todo", "cuesta todo", "es todo", "queda todo", "el total",
	"en total", "total", NULL
};
static const char *const kw_cart_remove[] = {
	"saca", "sacame", "sacale", "sacalo", "sacala", "quita", "quitame",
	"quitale", "quitalo", "borra", "borrame", "borrale", "borralo",
	"elimina", "eliminame", "eliminale", "eliminalo", "sin el", "sin la",
	"sin los", "sin las", "ya no quiero", "no quiero mas", "descarta",
	"no va el", "no va la", NULL
};
static const char *const kw_cart_set[] = {
	"que sean", "mejor que sean", "mejor sean", "que sea", "mejor",
	"cambia a", "cambialo a", "cambiame a", "cambialas a", "cambialos a",
	"en vez de", "en lugar de", "serian", NULL
};
static const char *const kw_cart_add[] = {
	"agregale", "agregame", "agrega", "agregar", "agregas", "suma",
	"sumale", "sumame", "sumar", "anotame", "anota", "tambien", "ademas",
	"poneme", "ponele", "metele", "meteme", "inclui", "incluime",
	"llevame", "me llevo", NULL
};
static const char *const kw_bye[] = {
	"chau", "chao", "adios", "nos vemos", "hasta luego", "hasta manana",
	"hasta la proxima", "saludos", "abrazo", "un abrazo", "besos",
	"buen finde", "buen fin de semana", NULL
};
static const char *const kw_opt_out[] = {
	"baja", "darme de baja", "dame de baja", "denme de baja",
	"no me manden mas", "no me envien mas", "no me escriban mas",
	"no quiero recibir", "no quiero mas mensajes", "stop", "desuscribir",
	"desuscribirme", "no me manden promociones", NULL
};
static const char *const kw_opt_in[] = {
	"alta", "darme de alta", "dame de alta", "quiero recibir",
	"mandame promos", "mandame ofertas", "suscribirme", NULL
};
static const char *const kw_want[] = {
	"dame", "mandame", "quiero", "me llevo", "llevo", "pasame", "anotame",
	"reservame", "separame", "poneme", "enviame", NULL
};
static const char *const kw_again[] = {
	"de nuevo", "otra vez", "reenviame", "reenvia", "reenviar",
	"volve a mandar", "volvelo a mandar", "me lo volves a mandar",
	"no me llego el pdf", "no lo encuentro", NULL
};
static const char *const kw_iva[] = {
	"con iva", "iva incluido", "precio final", "c iva", "final con iva",
	"incluido iva", "con el iva", NULL
};
static const char *const kw_that[] = {
	"esa", "ese", "esos", "esas", "eso", "este", "estos", "la misma",
	"el mismo", "los mismos", "las mismas", NULL
};
static const char *const kw_yes[] = {
	"si", "dale", "ok", "de una", "obvio", "claro", "bueno", "va",
	"armalo", "si por favor", NULL
};

static int
isalnum_ascii(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Token characters: letters, digits, non-ASCII bytes; '.' and ','
 * between digits ("2.8mm", "1,5"); '-' inside a word. */
static int
tok_char(const char *s, size_t i)
{
	unsigned char c = (unsigned char)s[i];

	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80)
		return 1;
	if ((c == '.' || c == ',') && i > 0 && s[i - 1] >= '0' &&
	    s[i - 1] <= '9' && s[i + 1] >= '0' && s[i + 1] <= '9')
		return 1;
	/* "dp-15", "lc-100", "wi-fi": a model code stays one word, so its
	 * number is never a quantity. */
	if (c == '-' && i > 0 && isalnum_ascii(s[i - 1]) &&
	    isalnum_ascii(s[i + 1]))
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


static const char *const kw_urgent[] = {
	"urgente", "urgencia", "es urgente", NULL
};

/* A token of symbols only (emoji, arrows): bytes >= 0x80 that are not
 * one of the folded Spanish letters. */
static int
symbol_token(const char *w)
{
	for (; *w != '\0'; w++)
		if ((unsigned char)*w < 0x80)
			return 0;
	return 1;
}

/* A number word's value, or 0. "un"/"una"/"uno" only when allow_one. */
static int64_t
word_number(const char *w, bool allow_one)
{
	for (size_t i = 0; i < sizeof(number_words) / sizeof(number_words[0]);
	    i++)
		if (strcmp(w, number_words[i].w) == 0)
			return number_words[i].v > 1 || allow_one ?
			    number_words[i].v : 0;
	return 0;
}

static int
ordinal_value(const char *w)
{
	for (size_t i = 0; i < sizeof(ordinals) / sizeof(ordinals[0]); i++)
		if (strcmp(w, ordinals[i].w) == 0)
			return ordinals[i].v;
	return 0;
}

/* "kit hikvision 4 cámaras 2mp": a number between words of a product
 * is part of its name, not how many. */
static bool
inside_name(char tok[][TOKEN_MAX], size_t ntok, size_t i,
    const unsigned char *sep)
{
	return i > 0 && i + 1 < ntok && !sep[i] && !sep[i + 1] &&
	    !in_list(tok[i - 1], stopwords) &&
	    !all_digits(tok[i - 1]) && !in_list(tok[i + 1], stopwords) &&
	    !in_list(tok[i + 1], units) && !all_digits(tok[i + 1]) &&
	    strcmp(tok[i + 1], "y") != 0;
}

/* "pulpo 1 a 8": numbers of a range belong to the name. */
static bool
in_range(char tok[][TOKEN_MAX], size_t ntok, size_t i)
{
	if (i + 2 < ntok && strcmp(tok[i + 1], "a") == 0 &&
	    all_digits(tok[i + 2]))
		return all_digits(tok[i]);
	if (i >= 2 && strcmp(tok[i - 1], "a") == 0 && all_digits(tok[i - 2]))
		return all_digits(tok[i]);
	return false;
}

/* The query of tok[from..to): what is left without stop words and used
 * tokens, numbers joined to their units. */
static void
build_query(char tok[][TOKEN_MAX], size_t from, size_t to,
    const unsigned char *used, char *query)
{
	query[0] = '\0';
	for (size_t i = from; i < to; i++) {
		char joined[TOKEN_MAX * 2];

		if (used[i] || in_list(tok[i], stopwords) ||
		    word_number(tok[i], true) != 0 || ordinal_value(tok[i]) != 0)
			continue;
		if (in_range(tok, to, i) && i + 2 < to) {
			snprintf(joined, sizeof(joined), "%s a %s", tok[i],
			    tok[i + 2]);
			query_add(query, joined);
			i += 2;
			continue;
		}
		if (all_digits(tok[i]) && i + 1 < to &&
		    in_list(tok[i + 1], units) && strcmp(tok[i + 1], "x") != 0) {
			snprintf(joined, sizeof(joined), "%s%s", tok[i], tok[i + 1]);
			query_add(query, joined);
			i++;
			continue;
		}
		/* A lone digit is noise, unless it sits inside a name ("kit
		 * hikvision 4 cámaras"). */
		if (all_digits(tok[i]) && strlen(tok[i]) < 2 && !(i > from &&
		    i + 1 < to && !in_list(tok[i - 1], stopwords) &&
		    !all_digits(tok[i - 1]) && !in_list(tok[i + 1], stopwords) &&
		    !in_list(tok[i + 1], units)))
			continue;
		query_add(query, tok[i]);
	}
}

static bool
is_article(const char *w)
{
	return strcmp(w, "la") == 0 || strcmp(w, "el") == 0 ||
	    strcmp(w, "las") == 0 || strcmp(w, "los") == 0;
}

/* "la primera", "la 2", "opción 3", "la última", "esa", "la más
 * barata", "la de 3.6mm": what the message points at. Tokens that only
 * point are marked used. */
static void
read_references(char tok[][TOKEN_MAX], size_t ntok, unsigned char *used,
    struct rules_result *out)
{
	for (size_t i = 0; i < ntok && out->ref == RULES_REF_NONE; i++) {
		int v = ordinal_value(tok[i]);

		if (v > 0) {
			out->ref = RULES_REF_INDEX;
			out->ref_index = v;
			used[i] = 1;
			break;
		}
		if (strcmp(tok[i], "ultima") == 0 || strcmp(tok[i], "ultimo") == 0) {
			out->ref = RULES_REF_LAST_ROW;
			used[i] = 1;
			break;
		}
		/* "la 2", "opción 3", "el nro 4": a row number, not a size
		 * ("dame las 10" is ten units). */
		if ((strcmp(tok[i], "la") == 0 || strcmp(tok[i], "el") == 0 ||
		    strcmp(tok[i], "opcion") == 0 ||
		    strcmp(tok[i], "numero") == 0 || strcmp(tok[i], "nro") == 0 ||
		    strcmp(tok[i], "fila") == 0 || strcmp(tok[i], "item") == 0) &&
		    i + 1 < ntok && qty_value(tok[i + 1]) > 0 &&
		    qty_value(tok[i + 1]) <= 10 &&
		    !(i + 2 < ntok && in_list(tok[i + 2], units))) {
			out->ref = RULES_REF_INDEX;
			out->ref_index = (int)qty_value(tok[i + 1]);
			used[i + 1] = 1;
			break;
		}
		if (strcmp(tok[i], "mas") == 0 && i + 1 < ntok) {
			const char *n = tok[i + 1];

			if (strcmp(n, "barata") == 0 || strcmp(n, "barato") == 0 ||
			    strcmp(n, "baratas") == 0 || strcmp(n, "baratos") == 0 ||
			    strcmp(n, "economica") == 0 ||
			    strcmp(n, "economico") == 0) {
				out->ref = RULES_REF_CHEAPEST;
				used[i] = used[i + 1] = 1;
				break;
			}
			if (strcmp(n, "cara") == 0 || strcmp(n, "caro") == 0) {
				out->ref = RULES_REF_DEAREST;
				used[i] = used[i + 1] = 1;
				break;
			}
		}
	}
	if (out->ref != RULES_REF_NONE)
		return;
	for (size_t i = 0; i < ntok; i++) {
		if (in_list(tok[i], kw_that) || ((strcmp(tok[i], "misma") == 0 ||
		    strcmp(tok[i], "mismo") == 0 || strcmp(tok[i], "mismas") == 0 ||
		    strcmp(tok[i], "mismos") == 0) && i > 0 &&
		    is_article(tok[i - 1]))) {
			out->ref = RULES_REF_THAT;
			return;
		}
	}
	/* "la de 3.6mm", "la hikvision", "el de 8 canales": an article
	 * that starts the message (after a verb, a quantity or "y") and
	 * words. The conversation decides whether a list is there to pick
	 * from. */
	for (size_t i = 0; i + 1 < ntok && i < 6; i++) {
		if (is_article(tok[i]) && (strcmp(tok[i + 1], "de") == 0 ||
		    strcmp(tok[i + 1], "que") == 0 ||
		    (!in_list(tok[i + 1], stopwords) &&
		    qty_value(tok[i + 1]) == 0))) {
			bool before = true;

			for (size_t k = 0; k < i; k++)
				if (!in_list(tok[k], stopwords) &&
				    qty_value(tok[k]) == 0 &&
				    word_number(tok[k], false) == 0)
					before = false;
			if (before) {
				out->ref = RULES_REF_ATTR;
				return;
			}
		}
		if (!in_list(tok[i], stopwords) && qty_value(tok[i]) == 0 &&
		    word_number(tok[i], false) == 0)
			return;
	}
}

/* Several products in one message: "1 teclado pk5501 y 2 baterías 12v
 * 7ah", "10 domos, 2 dvr y una fuente", "cable utp y balun". An item
 * starts at a quantity (when the item before has words) or after "y",
 * "," or a new line; items need words of their own. */
static void
read_items(char tok[][TOKEN_MAX], size_t ntok, const unsigned char *sep,
    struct rules_result *out)
{
	size_t start = 0, k = 0;
	int64_t qty = 0;
	unsigned char none[TOKENS_MAX];

	memset(none, 0, sizeof(none));
	for (size_t i = 0; i <= ntok && k < RULES_ITEMS_MAX; i++) {
		int64_t q = 0;
		bool and = i < ntok && (strcmp(tok[i], "y") == 0 ||
		    (sep[i] && i > start && qty_value(tok[i]) == 0 &&
		    word_number(tok[i], true) == 0));
		char words[RULES_QUERY_MAX + 1];

		if (i < ntok && !and) {
			q = qty_value(tok[i]);
			if (q == 0)
				q = word_number(tok[i], i == start);
			if (q == 0)
				q = glued_qty(tok[i]);
			if (q > 0 && i + 1 < ntok && in_list(tok[i + 1], units))
				q = 0;
			if (q == 0)
				continue;
			build_query(tok, start, i, none, words);
			if (words[0] == '\0') {
				/* A quantity before the item's words. */
				qty = q;
				start = i + 1;
				continue;
			}
			/* "kit hikvision 4 cámaras": a number after words
			 * without one starts nothing. */
			if ((qty == 0 && !sep[i]) ||
			    inside_name(tok, ntok, i, sep))
				continue;
		}
		build_query(tok, start, i, none, out->items[k].query);
		if (out->items[k].query[0] != '\0') {
			out->items[k].quantity = qty;
			k++;
		}
		qty = q;
		/* After "y" the next item starts; after a comma, this word
		 * starts it. */
		start = and && strcmp(tok[i], "y") != 0 ? i : i + 1;
	}
	out->nitems = k >= 2 ? k : 0;
	if (out->nitems == 0)
		memset(out->items, 0, sizeof(out->items));
}

int
rules_parse(const char *text, const char *reply_id, struct rules_result *out)
{
	char folded[RULES_TEXT_MAX + 1];
	char tok[TOKENS_MAX][TOKEN_MAX];
	size_t ntok = 0, i, n;
	int qty_at = -1;
	bool yes, no;
	unsigned char used[TOKENS_MAX], sep[TOKENS_MAX + 1];

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
	memset(sep, 0, sizeof(sep));

	/* Tokens, leaving out whole chunks that are an e-mail or a CUIT. */
	for (i = 0; i < n && ntok < TOKENS_MAX;) {
		size_t start, len, chunk_end = i;
		int skip = 0;

		if (!tok_char(folded, i)) {
			/* ",", ";", "+" and new lines part items of a list. */
			if (folded[i] == ',' || folded[i] == ';' ||
			    folded[i] == '+' || folded[i] == '\n')
				sep[ntok] = 1;
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

	/* Emoji and symbols alone are no words ("👍"). */
	{
		size_t k = 0;
		bool symbols = false;

		for (i = 0; i < ntok; i++) {
			if (symbol_token(tok[i])) {
				symbols = true;
				continue;
			}
			if (k != i) {
				memcpy(tok[k], tok[i], sizeof(tok[0]));
				sep[k] = sep[i];
			}
			k++;
		}
		ntok = k;
		out->emoji_only = symbols && ntok == 0;
	}
	memset(used, 0, sizeof(used));
	read_references(tok, ntok, used, out);

	/* The quantity: the first bare number not next to a unit and not a
	 * row number. "en vez de 10 que sean 12": the other number. */
	for (i = 0; i < ntok && qty_at < 0; i++) {
		int64_t q;

		if (used[i])
			continue;
		q = qty_value(tok[i]);
		if (q == 0 && (q = glued_qty(tok[i])) != 0) {
			out->quantity = q;
			qty_at = (int)i;
			break;
		}
		if (q == 0)
			q = word_number(tok[i], false);
		if (q == 0)
			continue;
		if (in_range(tok, ntok, i) || inside_name(tok, ntok, i, sep))
			continue;
		if (i + 1 < ntok && in_list(tok[i + 1], units) &&
		    strcmp(tok[i + 1], "x") != 0)
			continue;
		if (i > 0 && strcmp(tok[i - 1], "x") == 0 && i >= 2 &&
		    qty_value(tok[i - 2]) != 0)
			continue;   /* "2 x 4": a size */
		if (i >= 2 && strcmp(tok[i - 1], "de") == 0 &&
		    (strcmp(tok[i - 2], "vez") == 0 ||
		    strcmp(tok[i - 2], "lugar") == 0)) {
			used[i] = 1;    /* the old quantity */
			continue;
		}
		out->quantity = q;
		qty_at = (int)i;
	}
	if (qty_at >= 0)
		used[qty_at] = 1;

	build_query(tok, 0, ntok, used, out->query);
	read_items(tok, ntok, sep, out);

	out->greeted = any_phrase(folded, kw_greeting);
	out->thanked = any_phrase(folded, kw_thanks) || out->emoji_only;
	out->bye = any_phrase(folded, kw_bye);
	out->with_iva = any_phrase(folded, kw_iva);
	out->again = any_phrase(folded, kw_again);
	out->complaint = any_phrase(folded, kw_complaint) ||
	    (any_phrase(folded, kw_urgent) && out->query[0] == '\0');
	yes = ntok <= 4 && any_phrase(folded, kw_yes);
	no = ntok <= 4 && any_phrase(folded, kw_no);
	out->only_number = out->quantity > 0 && out->query[0] == '\0' &&
	    out->ref == RULES_REF_NONE && ntok <= 3 &&
	    !any_phrase(folded, kw_stock) && !any_phrase(folded, kw_price);
	if (out->complaint)
		out->quantity = 0;   /* "hace 3 días que espero" */

	if (any_phrase(folded, kw_handoff))
		out->intent = RULES_HANDOFF;
	else if (out->complaint)
		out->intent = RULES_COMPLAINT;
	else if (ntok <= 8 && any_phrase(folded, kw_opt_out) &&
	    (out->query[0] == '\0' || strcmp(out->query, "baja") == 0 ||
	    strcmp(out->query, "stop") == 0))
		out->intent = RULES_OPT_OUT;
	else if (ntok <= 6 && any_phrase(folded, kw_opt_in) &&
	    (out->query[0] == '\0' || strcmp(out->query, "alta") == 0))
		out->intent = RULES_OPT_IN;
	else if (any_phrase(folded, kw_photo))
		out->intent = RULES_PHOTO;
	else if (any_phrase(folded, kw_cancel))
		out->intent = RULES_CANCEL;
	else if (any_phrase(folded, kw_confirm))
		out->intent = RULES_CONFIRM;
	else if (any_phrase(folded, kw_invoices))
		out->intent = RULES_INVOICES;
	else if (any_phrase(folded, kw_balance))
		out->intent = RULES_BALANCE;
	else if (any_phrase(folded, kw_cart_remove))
		out->intent = RULES_CART_REMOVE;
	else if (out->quantity > 0 && any_phrase(folded, kw_cart_set) &&
	    !any_phrase(folded, kw_quote))
		out->intent = RULES_CART_SET;
	else if ((any_phrase(folded, kw_cart_add) && !has_phrase(folded,
	    "tambien") && !has_phrase(folded, "ademas")) ||
	    (out->quantity > 0 && any_phrase(folded, kw_want) &&
	    !any_phrase(folded, kw_quote)))
		out->intent = RULES_CART_ADD;
	else if ((has_phrase(folded, "tambien") || has_phrase(folded,
	    "ademas")) && out->quantity > 0 && out->query[0] != '\0')
		out->intent = RULES_CART_ADD;
	else if (any_phrase(folded, kw_cart_show) && out->query[0] == '\0')
		out->intent = RULES_CART_SHOW;
	else if (any_phrase(folded, kw_quote))
		out->intent = RULES_QUOTE;
	else if (any_phrase(folded, kw_price) || out->with_iva)
		out->intent = RULES_PRICE;
	else if (any_phrase(folded, kw_stock) || out->quantity > 0)
		out->intent = RULES_STOCK;
	else if (out->cuit[0] != '\0' || out->email[0] != '\0' ||
	    out->cuit_like)
		out->intent = RULES_IDENTIFY;
	else if (out->query[0] != '\0')
		out->intent = RULES_SEARCH;
	else if (out->ref != RULES_REF_NONE)
		out->intent = RULES_SELECT;
	else if (no)
		out->intent = RULES_NO;
	else if (yes && !out->greeted)
		out->intent = RULES_YES;   /* "dale", "sí": to our question */
	else if (out->greeted)
		out->intent = RULES_GREETING;
	else if (out->bye)
		out->intent = RULES_BYE;
	else if (out->thanked)
		out->intent = RULES_THANKS;

	/* "y de 8 canales?", "y en 5mp?": the last search, changed ("¿y
	 * tenés 20?" is a quantity, not a change). */
	if (ntok >= 2 && ntok <= 6 && strcmp(tok[0], "y") == 0 &&
	    (out->query[0] != '\0' || (qty_at > 0 &&
	    (strcmp(tok[qty_at - 1], "de") == 0 ||
	    strcmp(tok[qty_at - 1], "en") == 0))) &&
	    out->ref != RULES_REF_INDEX && (out->intent == RULES_SEARCH ||
	    out->intent == RULES_STOCK || out->intent == RULES_PRICE ||
	    out->intent == RULES_SELECT)) {
		out->variation = true;
		out->query[0] = '\0';
		for (i = 1; i < ntok; i++) {
			if (in_list(tok[i], stopwords) && !all_digits(tok[i]))
				continue;
			if (all_digits(tok[i]) && i + 1 < ntok &&
			    in_list(tok[i + 1], units)) {
				char joined[TOKEN_MAX * 2];

				snprintf(joined, sizeof(joined), "%s%s", tok[i],
				    tok[i + 1]);
				query_add(out->query, joined);
				i++;
				continue;
			}
			query_add(out->query, tok[i]);
		}
		if (i >= 2 && out->quantity > 0 && qty_at > 0 &&
		    (strcmp(tok[qty_at - 1], "de") == 0 ||
		    strcmp(tok[qty_at - 1], "en") == 0))
			out->quantity = 0;   /* "y de 8?": 8 of what was asked */
		if (out->ref == RULES_REF_ATTR)
			out->ref = RULES_REF_NONE;
		out->intent = out->quantity > 0 ? RULES_STOCK : RULES_SEARCH;
	}

	/* A stock question without quantity nor product words is a search
	 * for whatever words there were, or about the last product. */
	if ((out->intent == RULES_STOCK || out->intent == RULES_PRICE ||
	    out->intent == RULES_QUOTE || out->intent == RULES_CART_SET ||
	    out->intent == RULES_CART_ADD) && out->query[0] == '\0')
		out->uses_last = true;
	if (out->intent == RULES_STOCK && out->quantity == 0 &&
	    out->query[0] != '\0' && (out->ref == RULES_REF_NONE ||
	    out->ref == RULES_REF_ATTR))
		out->intent = RULES_SEARCH;
	/* "la de 3.6mm" picks from the list: the words are the pick. */
	if (out->ref == RULES_REF_ATTR && out->intent == RULES_SEARCH)
		out->intent = RULES_SELECT;
	return OV_OK;
}
