/*
 * legacy.c - reading the old bot's `ovidio_db` (see legacy.h).
 *
 * Customers are read in two passes so duplicates can be merged without
 * holding the whole collection: the first reads only _id and telefono
 * (a few dozen bytes per document) and counts the documents of each
 * number; the second reads whole documents by _id and hands a customer
 * over as soon as its last document has been seen. Only the documents of
 * numbers that have duplicates wait in memory, merged as they come.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "config.h"
#include "err.h"
#include "legacy.h"
#include "log.h"
#include "clock.h"
#include "phone.h"
#include "utf8.h"

struct legacy {
	mongoc_client_t *client;
	mongoc_collection_t *clientes;
	mongoc_collection_t *presupuestos;
};

/* ---- open, close ------------------------------------------------------- */

static bool
valid_db_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 63 && strcspn(s, "/\\. \"$*<>:|?") == n;
}

int
legacy_open(struct legacy **out, const struct config *cfg)
{
	const char *uri_text = config_get(cfg, "MONGODB_URI");
	const char *db = config_get(cfg, "MONGODB_DB");
	mongoc_uri_t *uri = NULL;
	struct legacy *lg = NULL;
	bson_error_t error;
	int rc = OV_ESTORE;

	*out = NULL;
	if (db == NULL)
		db = "ovidio_db";
	if (uri_text == NULL || !valid_db_name(db))
		return OV_ECONFIG;
	mongoc_init();
	/* The parser's message may quote the URI (a password): not logged. */
	if ((uri = mongoc_uri_new_with_error(uri_text, &error)) == NULL)
		return OV_ECONFIG;
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri,
		    MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
		    60000);
	if ((lg = calloc(1, sizeof(*lg))) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	lg->client = mongoc_client_new_from_uri_with_error(uri, &error);
	if (lg->client == NULL) {
		log_error("mongodb connect: %s", error.message);
		goto out;
	}
	mongoc_client_set_error_api(lg->client, MONGOC_ERROR_API_VERSION_2);
	mongoc_client_set_appname(lg->client, "ovidio-import-legacy");
	lg->clientes = mongoc_client_get_collection(lg->client, db, "clientes");
	lg->presupuestos = mongoc_client_get_collection(lg->client, db,
	    "presupuestos");
	if (lg->clientes == NULL || lg->presupuestos == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	*out = lg;
	lg = NULL;
	rc = OV_OK;
out:
	legacy_close(lg);
	mongoc_uri_destroy(uri);
	return rc;
}

void
legacy_close(struct legacy *lg)
{
	if (lg == NULL)
		return;
	if (lg->clientes != NULL)
		mongoc_collection_destroy(lg->clientes);
	if (lg->presupuestos != NULL)
		mongoc_collection_destroy(lg->presupuestos);
	if (lg->client != NULL)
		mongoc_client_destroy(lg->client);
	free(lg);
}

/* ---- fields, checked --------------------------------------------------- */

/* The first of keys that the document (an iterator's level) holds. */
static bool
find_any(const bson_t *doc, const char *const *keys, bson_iter_t *it)
{
	for (; *keys != NULL; keys++)
		if (bson_iter_init_find(it, doc, *keys) &&
		    !BSON_ITER_HOLDS_NULL(it))
			return true;
	return false;
}

/* A string field's text, or NULL (absent, another type). */
static const char *
str_of(const bson_iter_t *it)
{
	uint32_t len;
	const char *s;

	if (!BSON_ITER_HOLDS_UTF8(it))
		return NULL;
	s = bson_iter_utf8(it, &len);
	/* BSON strings may hold NUL bytes; a C string would be cut there. */
	return s != NULL && strlen(s) == len ? s : NULL;
}

static const char *
get_text(const bson_t *doc, const char *const *keys)
{
	bson_iter_t it;

	return find_any(doc, keys, &it) ? str_of(&it) : NULL;
}

/* An integral number (int32, int64, a double without fraction, or a
 * string of digits). */
static bool
int_of(const bson_iter_t *it, int64_t *out)
{
	const char *s;
	double d;
	char *end;
	long long v;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
		*out = bson_iter_int32(it);
		return true;
	case BSON_TYPE_INT64:
		*out = bson_iter_int64(it);
		return true;
	case BSON_TYPE_DOUBLE:
		d = bson_iter_double(it);
		if (!isfinite(d) || d != floor(d) || fabs(d) > 1e15)
			return false;
		*out = (int64_t)d;
		return true;
	case BSON_TYPE_UTF8:
		if ((s = str_of(it)) == NULL || !isdigit((unsigned char)*s))
			return false;
		v = strtoll(s, &end, 10);
		if (*end != '\0' || v < 0 || v > 1000000000000000LL)
			return false;
		*out = v;
		return true;
	default:
		return false;
	}
}

/* Money as the old bot wrote it (a number of dollars, or its text with a
 * '.' or ',' decimal separator) in cents, rounded half up. */
static bool
cents_of(const bson_iter_t *it, int64_t *out)
{
	double d;
	char buf[32], *end;
	const char *s;

	if (BSON_ITER_HOLDS_NUMBER(it) && !BSON_ITER_HOLDS_BOOL(it)) {
		d = bson_iter_as_double(it);
	} else if ((s = str_of(it)) != NULL && strlen(s) < sizeof(buf)) {
		snprintf(buf, sizeof(buf), "%s", s);
		for (char *p = buf; *p != '\0'; p++)
			if (*p == ',')
				*p = '.';
		d = strtod(buf, &end);
		if (end == buf || *end != '\0')
			return false;
	} else {
		return false;
	}
	if (!isfinite(d) || d < 0 || d > 1e11)
		return false;
	*out = (int64_t)floor(d * 100.0 + 0.5 + 1e-9);
	return true;
}

/* A date as the old bot kept it: a BSON date, Unix seconds or
 * milliseconds, or ISO 8601 text (Python's isoformat(), with or without
 * fraction and zone; without a zone it is the business's, UTC-3). */
static bool
time_of(const bson_iter_t *it, int64_t *out)
{
	char buf[40];
	const char *s, *rest;
	int64_t v;
	size_t n;

	if (BSON_ITER_HOLDS_DATE_TIME(it)) {
		*out = bson_iter_date_time(it) / 1000;
		return true;
	}
	if (BSON_ITER_HOLDS_UTF8(it)) {
		if ((s = str_of(it)) == NULL || (n = strlen(s)) < 10 ||
		    n > 35)
			return false;
		if (n == 10) {           /* a bare date: noon that day */
			snprintf(buf, sizeof(buf), "%sT12:00:00-03:00", s);
			return clock_parse_iso8601(buf, out) == OV_OK;
		}
		if (n < 19)
			return false;
		rest = s + 19;
		if (*rest == '.')        /* fraction of a second: dropped */
			rest += 1 + strspn(rest + 1, "0123456789");
		snprintf(buf, sizeof(buf), "%.19s%s", s,
		    *rest == '\0' ? "-03:00" : rest);
		return clock_parse_iso8601(buf, out) == OV_OK;
	}
	if (int_of(it, &v) && v > 0) {
		*out = v > 100000000000LL ? v / 1000 : v;
		return true;
	}
	return false;
}

/* Copy text bounded at a character boundary, control characters as
 * spaces, surrounding spaces trimmed. */
static void
clean_copy(char *dst, size_t cap, const char *src)
{
	size_t n;

	while (*src == ' ' || *src == '\t' || *src == '\n' || *src == '\r')
		src++;
	utf8_copy(dst, cap, src);
	for (char *p = dst; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	n = strlen(dst);
	while (n > 0 && dst[n - 1] == ' ')
		dst[--n] = '\0';
}

/* The _id as text: the ObjectId's hex, "s:" and a string, "i:" and a
 * number. false for any other kind. */
static bool
id_of(const bson_t *doc, char out[LEGACY_ID_MAX + 1], bool *is_string)
{
	bson_iter_t it;
	int64_t v;
	const char *s;

	*is_string = false;
	if (!bson_iter_init_find(&it, doc, "_id"))
		return false;
	if (BSON_ITER_HOLDS_OID(&it)) {
		bson_oid_to_string(bson_iter_oid(&it), out);
		return true;
	}
	if ((s = str_of(&it)) != NULL) {
		*is_string = true;
		if (strlen(s) > LEGACY_ID_MAX - 2 ||
		    !utf8_valid(s, strlen(s)))
			return false;
		for (const char *p = s; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20)
				return false;
		snprintf(out, LEGACY_ID_MAX + 1, "s:%s", s);
		return true;
	}
	if (int_of(&it, &v)) {
		snprintf(out, LEGACY_ID_MAX + 1, "i:%lld", (long long)v);
		return true;
	}
	return false;
}

int
legacy_wa_id(const char *telefono, char out[STORE_WAID_MAX + 1])
{
	char national[PHONE_NATIONAL_LEN + 1], digits[STORE_WAID_MAX + 1];
	size_t n = 0;

	out[0] = '\0';
	if (telefono == NULL || strlen(telefono) > PHONE_INPUT_MAX)
		return OV_EINVAL;
	if (phone_to_national(telefono, national) == OV_OK) {
		snprintf(out, STORE_WAID_MAX + 1, "549%s", national);
		return OV_OK;
	}
	for (const char *p = telefono; *p != '\0'; p++) {
		if (isdigit((unsigned char)*p)) {
			if (n >= STORE_WAID_MAX)
				return OV_EINVAL;
			digits[n++] = *p;
		} else if (strchr(" +-().", *p) == NULL) {
			return OV_EINVAL;
		}
	}
	digits[n] = '\0';
	/* Argentine-looking numbers that did not reduce are not trusted. */
	if (n < 8 || n > 15 || digits[0] == '0' || strncmp(digits, "54", 2) == 0)
		return OV_EINVAL;
	memcpy(out, digits, n + 1);
	return OV_OK;
}

static const char *const K_TELEFONO[] = { "telefono", "teléfono", "phone",
	"wa_id", NULL };

/* ---- customers ----------------------------------------------------------- */

/* Pass one: a document's number, for grouping. */
struct doc_key {
	char id[LEGACY_ID_MAX + 1];
	char wa_id[STORE_WAID_MAX + 1];
	size_t group;         /* documents of this wa_id */
};

/* A customer whose documents are still being read (duplicates only). */
struct pending {
	struct legacy_customer c;
	size_t cap;           /* entries allocated */
	size_t seen;
	size_t expected;
};

static int
cmp_by_wa(const void *a, const void *b)
{
	const struct doc_key *x = a, *y = b;
	int d = strcmp(x->wa_id, y->wa_id);

	return d != 0 ? d : strcmp(x->id, y->id);
}

static int
cmp_by_id(const void *a, const void *b)
{
	return strcmp(((const struct doc_key *)a)->id,
	    ((const struct doc_key *)b)->id);
}

static void
customer_free(struct legacy_customer *c)
{
	for (size_t i = 0; i < c->nentries; i++)
		free(c->entries[i].text);
	free(c->entries);
	c->entries = NULL;
	c->nentries = 0;
}

static mongoc_cursor_t *
find_all(mongoc_collection_t *coll, const bson_t *projection)
{
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	mongoc_cursor_t *cur;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	if (projection != NULL)
		BSON_APPEND_DOCUMENT(&opts, "projection", projection);
	BSON_APPEND_INT32(&opts, "batchSize", 500);
	cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
	bson_destroy(&filter);
	bson_destroy(&opts);
	return cur;
}

static int
cursor_error(mongoc_cursor_t *cur, const char *op)
{
	bson_error_t error;

	if (mongoc_cursor_error(cur, &error)) {
		log_error("mongodb %s: %s", op, error.message);
		return error.domain == MONGOC_ERROR_SERVER_SELECTION ?
		    OV_ETIMEOUT : OV_ESTORE;
	}
	return OV_OK;
}

/* The old document's telefono as Ovidio's key, or a reason it has none. */
static const char *
doc_wa_id(const bson_t *doc, char wa_id[STORE_WAID_MAX + 1])
{
	bson_iter_t it;
	const char *s;
	char buf[32];
	int64_t v;

	if (!find_any(doc, K_TELEFONO, &it))
		return "no telefono";
	if ((s = str_of(&it)) == NULL) {
		if (!int_of(&it, &v))
			return "telefono is not text";
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
		s = buf;
	}
	if (legacy_wa_id(s, wa_id) != OV_OK)
		return "telefono is not a WhatsApp number";
	return NULL;
}

static void
add_brand_last(struct conv_profile *p, const char *brand)
{
	char b[CONV_BRAND_MAX + 1];

	clean_copy(b, sizeof(b), brand);
	if (b[0] == '\0' || p->nbrands >= CONV_BRANDS_MAX)
		return;
	for (size_t i = 0; i < p->nbrands; i++)
		if (strcasecmp(p->brands[i], b) == 0)
			return;
	memcpy(p->brands[p->nbrands++], b, sizeof(b));
}

/* Brands of a newer document go before those already known. */
static void
merge_brands(struct conv_profile *p, const bson_t *doc)
{
	static const char *const keys[] = { "marcas_preferidas", "marcas",
		NULL };
	struct conv_profile fresh;
	bson_iter_t it, arr;
	const char *s;

	memset(&fresh, 0, sizeof(fresh));
	if (!find_any(doc, keys, &it))
		return;
	if (BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
		while (bson_iter_next(&arr))
			if ((s = str_of(&arr)) != NULL)
				add_brand_last(&fresh, s);
	} else if ((s = str_of(&it)) != NULL) {
		char list[256], *at = list, *comma;

		utf8_copy(list, sizeof(list), s);
		while (at != NULL) {
			if ((comma = strchr(at, ',')) != NULL)
				*comma++ = '\0';
			add_brand_last(&fresh, at);
			at = comma;
		}
	}
	if (fresh.nbrands == 0)
		return;
	for (size_t i = 0; i < p->nbrands; i++)
		add_brand_last(&fresh, p->brands[i]);
	memcpy(p->brands, fresh.brands, sizeof(p->brands));
	p->nbrands = fresh.nbrands;
}

static void
merge_promo(struct conv_profile *p, const bson_t *doc)
{
	static const char *const keys[] = { "acepta_promos",
		"acepta_promociones", "promos", NULL };
	bson_iter_t it;
	const char *s;
	int64_t v;
	int yes = -1;

	if (!find_any(doc, keys, &it))
		return;
	if (BSON_ITER_HOLDS_BOOL(&it))
		yes = bson_iter_bool(&it);
	else if ((s = str_of(&it)) != NULL) {
		if (strcasecmp(s, "si") == 0 || strcasecmp(s, "sí") == 0 ||
		    strcasecmp(s, "true") == 0)
			yes = 1;
		else if (strcasecmp(s, "no") == 0 ||
		    strcasecmp(s, "false") == 0)
			yes = 0;
	} else if (int_of(&it, &v) && (v == 0 || v == 1))
		yes = (int)v;
	if (yes < 0)
		return;
	p->promo = yes ? CONV_PROMO_YES : CONV_PROMO_NO;
	p->promo_asked = true;
}

static bool
valid_day(int month, int day)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	return month >= 1 && month <= 12 && day >= 1 && day <= days[month - 1];
}

/* "MM-DD" of a day valid_day() accepted. */
static void
mmdd(char out[6], int month, int day)
{
	out[0] = (char)('0' + month / 10);
	out[1] = (char)('0' + month % 10);
	out[2] = '-';
	out[3] = (char)('0' + day / 10);
	out[4] = (char)('0' + day % 10);
	out[5] = '\0';
}

/* Two digits (or one) at s; -1 when there are none. */
static int
small_int(const char *s, const char **end)
{
	int v = 0, n = 0;

	while (n < 2 && isdigit((unsigned char)s[n]))
		v = v * 10 + (s[n++] - '0');
	*end = s + n;
	return n > 0 ? v : -1;
}

/* "MM-DD" from "YYYY-MM-DD...", "DD/MM[/YYYY]", "DD-MM". */
static bool
birthday_text(const char *s, char out[6])
{
	const char *e;
	int a, b;

	if (strlen(s) >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-') {
		a = small_int(s + 5, &e);
		b = *e == '-' ? small_int(e + 1, &e) : -1;
		if (!valid_day(a, b))
			return false;
		mmdd(out, a, b);
		return true;
	}
	a = small_int(s, &e);
	if (*e != '/' && *e != '-')
		return false;
	b = small_int(e + 1, &e);
	if (*e != '\0' && *e != '/' && *e != '-')
		return false;
	if (!valid_day(b, a))
		return false;
	mmdd(out, b, a);
	return true;
}

static void
merge_birthday(struct conv_profile *p, const bson_t *doc)
{
	static const char *const keys[] = { "fecha_nacimiento", "cumpleanos",
		"cumpleaños", "fecha_cumpleanos", "birthday", NULL };
	static const char *const days[] = { "dia_cumple", "cumple_dia",
		"dia_nacimiento", NULL };
	static const char *const months[] = { "mes_cumple", "cumple_mes",
		"mes_nacimiento", NULL };
	bson_iter_t it;
	const char *s;
	int64_t d, m;
	char out[6];

	if (find_any(doc, keys, &it)) {
		if (BSON_ITER_HOLDS_DATE_TIME(&it)) {
			time_t t = (time_t)(bson_iter_date_time(&it) / 1000);
			struct tm tm;

			/* A date of birth kept as midnight UTC (Python's
			 * datetime of a date): its UTC day. */
			if (gmtime_r(&t, &tm) != NULL &&
			    valid_day(tm.tm_mon + 1, tm.tm_mday)) {
				mmdd(p->birthday, tm.tm_mon + 1, tm.tm_mday);
				return;
			}
		} else if ((s = str_of(&it)) != NULL &&
		    birthday_text(s, out)) {
			memcpy(p->birthday, out, sizeof(out));
			return;
		}
	}
	if (find_any(doc, days, &it) && int_of(&it, &d) &&
	    find_any(doc, months, &it) && int_of(&it, &m) &&
	    m >= 1 && m <= 12 && d >= 1 && d <= 31 &&
	    valid_day((int)m, (int)d))
		mmdd(p->birthday, (int)m, (int)d);
}

static int
add_entry(struct legacy_customer *c, size_t *cap, const char *id_base,
    const char *suffix, enum store_dir dir, int64_t ts, const char *text)
{
	struct legacy_entry *e, *grown;
	size_t n;

	while (*text == ' ' || *text == '\n')
		text++;
	if (*text == '\0' || c->nentries >= LEGACY_HISTORY_MAX) {
		c->dropped++;
		return OV_OK;
	}
	if (c->nentries == *cap) {
		size_t ncap = *cap == 0 ? 64 : *cap * 2;

		if ((grown = realloc(c->entries, ncap * sizeof(*grown))) ==
		    NULL)
			return OV_ENOMEM;
		c->entries = grown;
		*cap = ncap;
	}
	e = &c->entries[c->nentries];
	snprintf(e->id, sizeof(e->id), "%s%s", id_base, suffix);
	e->dir = dir;
	e->ts = ts;
	n = utf8_cut(text, strlen(text), STORE_TEXT_MAX);
	if ((e->text = malloc(n + 1)) == NULL)
		return OV_ENOMEM;
	memcpy(e->text, text, n);
	e->text[n] = '\0';
	c->nentries++;
	return OV_OK;
}

/* Who wrote an entry: 0 the customer, 1 the bot, -1 neither (system). */
static int
role_of(const char *r)
{
	static const char *const customer[] = { "usuario", "user", "cliente",
		"customer", "human", "in", NULL };
	static const char *const bot[] = { "asistente", "assistant", "bot",
		"ovidio", "model", "vendedor", "out", NULL };

	for (size_t i = 0; customer[i] != NULL; i++)
		if (strcasecmp(r, customer[i]) == 0)
			return 0;
	for (size_t i = 0; bot[i] != NULL; i++)
		if (strcasecmp(r, bot[i]) == 0)
			return 1;
	return -1;
}

static int
merge_history(struct legacy_customer *c, size_t *cap, const bson_t *doc,
    const char *doc_id, int64_t fallback_ts)
{
	static const char *const roles[] = { "rol", "role", "tipo", "de",
		"from", NULL };
	static const char *const texts[] = { "mensaje", "content", "contenido",
		"texto", "text", "message", NULL };
	static const char *const times[] = { "fecha", "timestamp", "ts",
		"date", "hora", NULL };
	static const char *const in_keys[] = { "usuario", "user", "pregunta",
		NULL };
	static const char *const out_keys[] = { "bot", "asistente",
		"respuesta", NULL };
	bson_iter_t it, arr, t;
	int64_t ts = fallback_ts;
	int index = -1, rc;

	if (!bson_iter_init_find(&it, doc, "conversaciones") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr))
		return OV_OK;
	while (bson_iter_next(&arr)) {
		const uint8_t *data;
		uint32_t len;
		bson_t entry;
		const char *role, *text;
		char base[STORE_MSGID_MAX + 1];
		int who;

		index++;
		if (!BSON_ITER_HOLDS_DOCUMENT(&arr)) {
			c->dropped++;
			continue;
		}
		bson_iter_document(&arr, &len, &data);
		if (!bson_init_static(&entry, data, len)) {
			c->dropped++;
			continue;
		}
		if (find_any(&entry, times, &t))
			(void)time_of(&t, &ts);
		snprintf(base, sizeof(base), "legacy.%s.%d", doc_id, index);
		text = get_text(&entry, texts);
		role = get_text(&entry, roles);
		if (text != NULL) {
			who = role != NULL ? role_of(role) : 0;
			if (who < 0) {
				c->dropped++;
				continue;
			}
			rc = add_entry(c, cap, base, "", who == 0 ? STORE_IN :
			    STORE_OUT, ts, text);
			if (rc != OV_OK)
				return rc;
			continue;
		}
		/* {usuario: "...", bot: "..."}: a question and its answer. */
		text = get_text(&entry, in_keys);
		if (text != NULL &&
		    (rc = add_entry(c, cap, base, "", STORE_IN, ts, text)) !=
		    OV_OK)
			return rc;
		role = get_text(&entry, out_keys);
		if (role != NULL &&
		    (rc = add_entry(c, cap, base, ".b", STORE_OUT, ts, role)) !=
		    OV_OK)
			return rc;
		if (text == NULL && role == NULL)
			c->dropped++;
	}
	return OV_OK;
}

/* Merge one old document into c (documents come oldest first). */
static int
merge_doc(struct legacy_customer *c, size_t *cap, const bson_t *doc,
    const char *doc_id)
{
	static const char *const names[] = { "nombre", "name", "nombre_perfil",
		NULL };
	static const char *const created[] = { "creado", "fecha_creacion",
		"fecha_registro", "created_at", "fecha", NULL };
	static const char *const verified[] = { "cianbox_verificado",
		"verificado", NULL };
	static const char *const linked[] = { "cianbox_id", "id_cianbox",
		"cianbox_cliente_id", NULL };
	bson_iter_t it;
	const char *s;
	int64_t v, when = 0;

	if (c->ndocs++ == 0)
		snprintf(c->first_id, sizeof(c->first_id), "%s", doc_id);
	if ((s = get_text(doc, names)) != NULL) {
		char name[QUOTE_CUSTOMER_NAME_MAX + 1];

		clean_copy(name, sizeof(name), s);
		if (name[0] != '\0')
			memcpy(c->name, name, sizeof(name));
	}
	if (find_any(doc, created, &it) && time_of(&it, &when) &&
	    (c->created_at == 0 || when < c->created_at))
		c->created_at = when;
	if (find_any(doc, linked, &it) && int_of(&it, &v) && v > 0) {
		c->cianbox_id = v;
		c->cianbox_verified = find_any(doc, verified, &it) &&
		    bson_iter_as_bool(&it);
	}
	merge_brands(&c->profile, doc);
	merge_promo(&c->profile, doc);
	merge_birthday(&c->profile, doc);
	return merge_history(c, cap, doc, doc_id, when);
}

int
legacy_customers(struct legacy *lg, legacy_customer_fn fn,
    legacy_skip_fn skip, void *ctx)
{
	bson_t proj = BSON_INITIALIZER;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	struct doc_key *keys = NULL, *grown;
	struct pending *pend = NULL;
	size_t nkeys = 0, capkeys = 0, npend = 0, cappend = 0;
	int rc = OV_OK;

	/* Pass one: every document's number. */
	for (size_t i = 0; K_TELEFONO[i] != NULL; i++)
		BSON_APPEND_INT32(&proj, K_TELEFONO[i], 1);
	if ((cur = find_all(lg->clientes, &proj)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	while (mongoc_cursor_next(cur, &doc)) {
		struct doc_key k;
		const char *why;
		bool is_string;

		memset(&k, 0, sizeof(k));
		if (!id_of(doc, k.id, &is_string)) {
			skip(ctx, "cliente", "?", "its _id is of an unusual kind");
			continue;
		}
		if ((why = doc_wa_id(doc, k.wa_id)) != NULL) {
			/* Ovidio's own records (_id: the wa_id) have no
			 * telefono: not old ones. */
			if (!is_string || strcmp(why, "no telefono") != 0)
				skip(ctx, "cliente", k.id, why);
			continue;
		}
		if (nkeys == capkeys) {
			size_t ncap = capkeys == 0 ? 1024 : capkeys * 2;

			if ((grown = realloc(keys, ncap * sizeof(*keys))) ==
			    NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			keys = grown;
			capkeys = ncap;
		}
		keys[nkeys++] = k;
	}
	if ((rc = cursor_error(cur, "read clientes")) != OV_OK)
		goto out;
	mongoc_cursor_destroy(cur);
	cur = NULL;
	if (nkeys == 0)
		goto out;
	qsort(keys, nkeys, sizeof(*keys), cmp_by_wa);
	for (size_t i = 0, j; i < nkeys; i = j) {
		for (j = i; j < nkeys && strcmp(keys[j].wa_id, keys[i].wa_id) ==
		    0; j++)
			;
		for (size_t k = i; k < j; k++)
			keys[k].group = j - i;
	}
	qsort(keys, nkeys, sizeof(*keys), cmp_by_id);

	/* Pass two: whole documents, by _id. */
	if ((cur = find_all(lg->clientes, NULL)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	while (mongoc_cursor_next(cur, &doc)) {
		struct doc_key probe, *k;
		struct pending *p = NULL;
		bool is_string;
		size_t at, cap;

		if (!id_of(doc, probe.id, &is_string))
			continue;
		k = bsearch(&probe, keys, nkeys, sizeof(*keys), cmp_by_id);
		if (k == NULL)
			continue;     /* skipped in pass one, or new since */
		if (k->group == 1) {
			struct legacy_customer c;

			memset(&c, 0, sizeof(c));
			memcpy(c.wa_id, k->wa_id, sizeof(c.wa_id));
			cap = 0;
			rc = merge_doc(&c, &cap, doc, k->id);
			if (rc == OV_OK)
				rc = fn(ctx, &c);
			customer_free(&c);
			if (rc != OV_OK)
				goto out;
			continue;
		}
		for (at = 0; at < npend; at++)
			if (strcmp(pend[at].c.wa_id, k->wa_id) == 0)
				break;
		if (at == npend) {
			if (npend == cappend) {
				size_t ncap = cappend == 0 ? 8 : cappend * 2;
				struct pending *g = realloc(pend,
				    ncap * sizeof(*g));

				if (g == NULL) {
					rc = OV_ENOMEM;
					goto out;
				}
				pend = g;
				cappend = ncap;
			}
			memset(&pend[npend], 0, sizeof(pend[npend]));
			memcpy(pend[npend].c.wa_id, k->wa_id,
			    sizeof(pend[npend].c.wa_id));
			pend[npend].expected = k->group;
			npend++;
		}
		p = &pend[at];
		if ((rc = merge_doc(&p->c, &p->cap, doc, k->id)) != OV_OK)
			goto out;
		if (++p->seen < p->expected)
			continue;
		rc = fn(ctx, &p->c);
		customer_free(&p->c);
		pend[at] = pend[--npend];
		if (rc != OV_OK)
			goto out;
	}
	if ((rc = cursor_error(cur, "read clientes")) != OV_OK)
		goto out;
	/* Documents removed between the passes: what was read is whole. */
	while (npend > 0) {
		rc = fn(ctx, &pend[npend - 1].c);
		customer_free(&pend[npend - 1].c);
		npend--;
		if (rc != OV_OK)
			goto out;
	}
out:
	for (size_t i = 0; i < npend; i++)
		customer_free(&pend[i].c);
	free(pend);
	free(keys);
	if (cur != NULL)
		mongoc_cursor_destroy(cur);
	bson_destroy(&proj);
	return rc;
}

/* ---- quotes ---------------------------------------------------------------- */

/* IVA as the old bot wrote it: 21, 10.5, 1.21, 1.105, 0.21, 0.105. */
static bool
iva_of(const bson_iter_t *it, int *tenths)
{
	double d;

	if (!BSON_ITER_HOLDS_NUMBER(it) || BSON_ITER_HOLDS_BOOL(it))
		return false;
	d = bson_iter_as_double(it);
	if (fabs(d - 21) < 1e-6 || fabs(d - 1.21) < 1e-6 ||
	    fabs(d - 0.21) < 1e-6)
		*tenths = 210;
	else if (fabs(d - 10.5) < 1e-6 || fabs(d - 1.105) < 1e-6 ||
	    fabs(d - 0.105) < 1e-6)
		*tenths = 105;
	else
		return false;
	return true;
}

/* One line of productos[]; a reason when it cannot be one. */
static const char *
item_of(const bson_t *line, struct quote_item *item)
{
	static const char *const codes[] = { "codigo", "codigoInterno",
		"code", NULL };
	static const char *const names[] = { "descripcion", "producto",
		"nombre", "name", NULL };
	static const char *const qtys[] = { "cantidad", "qty", "quantity",
		NULL };
	static const char *const prices[] = { "precioUSD", "precio_usd",
		"precio", "precio_unitario", NULL };
	static const char *const ivas[] = { "iva", "alicuota_iva", "alicuota",
		NULL };
	static const char *const ids[] = { "id", "producto_id", "id_producto",
		NULL };
	bson_iter_t it;
	const char *s;
	int64_t v;

	memset(item, 0, sizeof(*item));
	if ((s = get_text(line, codes)) != NULL)
		utf8_copy(item->code, sizeof(item->code), s);
	if ((s = get_text(line, names)) == NULL || *s == '\0')
		return "an item without descripcion";
	utf8_copy(item->name, sizeof(item->name), s);
	if (!find_any(line, qtys, &it) || !int_of(&it, &v) || v < 1 ||
	    v > QUOTE_QTY_MAX)
		return "an item with a bad cantidad";
	item->quantity = v;
	if (!find_any(line, prices, &it) || !cents_of(&it, &v) ||
	    v > QUOTE_UNIT_MAX_CENTS)
		return "an item with a bad precioUSD";
	item->unit_cents = v;
	item->iva_tenths = 210;
	if (find_any(line, ivas, &it) && !iva_of(&it, &item->iva_tenths))
		return "an item with an IVA rate other than 21 or 10.5";
	if (find_any(line, ids, &it) && int_of(&it, &v) && v > 0 &&
	    v < INT64_MAX / 2)
		item->product_id = v;
	return NULL;
}

/* A reason the document is not a quote, or NULL with q filled. */
static const char *
quote_of(const bson_t *doc, struct quote *q, int64_t *old_total)
{
	static const char *const created[] = { "fecha_creacion", "fecha",
		"creado", "created_at", NULL };
	static const char *const states[] = { "estado", "state", NULL };
	static const char *const validity[] = { "validezDias", "validez_dias",
		"validez", NULL };
	bson_iter_t it, arr;
	const char *s, *phone = NULL, *name = NULL, *cuit = NULL;
	char wa_id[STORE_WAID_MAX + 1];
	int64_t v, days = QUOTE_TTL_DEFAULT_DAYS;
	bson_t cliente;
	bool have_cliente = false;

	*old_total = -1;
	if (!bson_iter_init_find(&it, doc, "numero") || !int_of(&it, &v) ||
	    v < 1 || v > INT32_MAX)
		return "numero is not a positive whole number";
	q->number = v;
	if (bson_iter_init_find(&it, doc, "cliente") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;

		bson_iter_document(&it, &len, &data);
		have_cliente = bson_init_static(&cliente, data, len);
	}
	phone = get_text(doc, K_TELEFONO);
	if (have_cliente) {
		static const char *const nk[] = { "nombre", "razon", "name",
			NULL };
		static const char *const ck[] = { "cuit", "documento", NULL };

		if (phone == NULL)
			phone = get_text(&cliente, K_TELEFONO);
		name = get_text(&cliente, nk);
		cuit = get_text(&cliente, ck);
	}
	if (phone == NULL || legacy_wa_id(phone, wa_id) != OV_OK)
		return "no WhatsApp telefono";
	snprintf(q->wa_id, sizeof(q->wa_id), "%s", wa_id);
	/* A CUIT the quote block would refuse is left out, not the quote. */
	if (quote_set_customer(q, name, cuit, wa_id) != OV_OK &&
	    quote_set_customer(q, name, NULL, wa_id) != OV_OK)
		(void)quote_set_customer(q, NULL, NULL, wa_id);
	if ((s = get_text(doc, states)) == NULL ||
	    quote_state_parse(s, &q->state) != OV_OK)
		return "estado is none of pendiente_confirmacion, enviado, "
		    "cancelado, vencido";
	if (!find_any(doc, created, &it) || !time_of(&it, &q->created_at))
		return "no fecha_creacion";
	if (find_any(doc, validity, &it) && int_of(&it, &v) && v >= 1 &&
	    v <= 3650)
		days = v;
	q->expires_at = q->created_at + days * 86400;
	if (!bson_iter_init_find(&it, doc, "productos") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr))
		return "no productos";
	while (bson_iter_next(&arr)) {
		struct quote_item item;
		const uint8_t *data;
		uint32_t len;
		bson_t line;
		const char *why;

		if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
			return "an item that is not a document";
		bson_iter_document(&arr, &len, &data);
		if (!bson_init_static(&line, data, len))
			return "an item that is not a document";
		if ((why = item_of(&line, &item)) != NULL)
			return why;
		if (quote_add_item(q, &item) != OV_OK)
			return "an item Ovidio cannot quote (too many items?)";
	}
	if (q->nitems == 0)
		return "no productos";
	if (quote_compute(q) != OV_OK)
		return "totals too large";
	if (bson_iter_init_find(&it, doc, "totales") &&
	    BSON_ITER_HOLDS_DOCUMENT(&it)) {
		const uint8_t *data;
		uint32_t len;
		bson_t tot;
		bson_iter_t t;

		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&tot, data, len) &&
		    bson_iter_init_find(&t, &tot, "totalUSD") &&
		    cents_of(&t, &v))
			*old_total = v;
	}
	return NULL;
}

int
legacy_quotes(struct legacy *lg, legacy_quote_fn fn, legacy_skip_fn skip,
    void *ctx)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	int rc = OV_OK;

	if ((cur = find_all(lg->presupuestos, NULL)) == NULL)
		return OV_ENOMEM;
	while (mongoc_cursor_next(cur, &doc)) {
		char id[LEGACY_ID_MAX + 1];
		struct quote q;
		int64_t old_total;
		const char *why;
		bool is_string;
		bson_iter_t it;

		if (!id_of(doc, id, &is_string)) {
			skip(ctx, "presupuesto", "?",
			    "its _id is of an unusual kind");
			continue;
		}
		/* Ovidio's own quotes: `number`, no `numero`. */
		if (!bson_iter_init_find(&it, doc, "numero"))
			continue;
		quote_init(&q);
		if ((why = quote_of(doc, &q, &old_total)) != NULL) {
			skip(ctx, "presupuesto", id, why);
			quote_clear(&q);
			continue;
		}
		rc = fn(ctx, id, &q, old_total);
		quote_clear(&q);
		if (rc != OV_OK)
			break;
	}
	if (rc == OV_OK)
		rc = cursor_error(cur, "read presupuestos");
	mongoc_cursor_destroy(cur);
	return rc;
}
