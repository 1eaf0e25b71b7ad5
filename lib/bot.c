/*
 * bot.c - the conversation. See bot.h for what a turn does and the rule
 * that every figure a customer reads is formatted here from our data.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "bot.h"
#include "bot_catalog.h"
#include "cianbox.h"
#include "clock.h"
#include "config.h"
#include "customer.h"
#include "err.h"
#include "identity.h"
#include "llm.h"
#include "log.h"
#include "mail.h"
#include "outbox.h"
#include "phone.h"
#include "quote.h"
#include "quote_file.h"
#include "quote_pdf.h"
#include "rules.h"
#include "store.h"
#include "utf8.h"
#include "wa_payload.h"
#include "whatsapp.h"

#define REPLIES_MAX 6
#define TEXT_MAX 4000
#define NAME_MAX_BYTES 64
#define INVOICES_SHOWN 5
#define QUOTE_ITEMS_TOOL 20
#define HANDOFF_HISTORY 20
#define LEAD_MAX 300
#define BOT_TURN_PARTS 16         /* messages of one turn read one by one */

struct bot {
	const struct config *cfg;
	struct store *st;
	struct wa_client wa;
	bool wa_ready;
	struct outbox ob;
	struct llm *llm;
	struct cianbox *cb;          /* NULL: Cianbox not configured */
	struct mail *mail;
	struct quote_pdf_brand *brand;
	long handoff_hours;
	long llm_budget_ms;
	long ttl_days;
	const char *vendedor;        /* VENDEDOR_EMAIL or NULL */
	const char *compras;         /* EMAIL_TO_COMPRAS or NULL */
	const char *pdf_dir;
	const char *business;
};

struct reply {
	char kind[16];
	cJSON *payload;
	const char *by;              /* the model's tool that made it, or NULL */
};

/* One turn's state. */
struct turn {
	struct bot *b;
	const char *wa_id;
	struct store_customer cust;
	bool cust_found;
	cJSON *profile;              /* owned */
	char first_name[NAME_MAX_BYTES];
	char text[BOT_TURN_TEXT_MAX + 1];   /* the turn's words */
	char reply_id[WA_ROW_ID_MAX + 1];
	bool unsupported;            /* audio, sticker... with no words */
	bool picture;                /* an image or file without a caption */
	int64_t now;
	char today[16];              /* business day, YYYY-MM-DD */
	struct reply replies[REPLIES_MAX];
	size_t nreplies;
	bool list_sent;              /* one product list per turn */
	const char *tool;            /* the model's tool running now, or NULL */
	/* Each message's own words and reply id (pointing into the
	 * messages, valid for the turn), for the rules. */
	const char *part_text[BOT_TURN_PARTS];
	const char *part_id[BOT_TURN_PARTS];
	size_t nparts;
	struct customer_identity identity;
};

/* ---- small helpers -------------------------------------------------- */

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t
jint(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return 0;
	return (int64_t)v->valuedouble;
}

static bool
jtrue(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* Replace or add a member. */
static void
pset_str(cJSON *o, const char *key, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddStringToObject(o, key, v);
}

static void
pset_int(cJSON *o, const char *key, int64_t v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddNumberToObject(o, key, (double)v);
}

static void
pset_bool(cJSON *o, const char *key, bool v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddBoolToObject(o, key, v);
}

/* "USD 1.234,56" */
static void
money(int64_t cents, char *buf, size_t len)
{
	char n[40];

	if (quote_format_cents(cents, n, sizeof(n)) != OV_OK)
		snprintf(n, sizeof(n), "?");
	snprintf(buf, len, "USD %s", n);
}

/* A product's price as the customer reads it. */
static void
price_of(const struct bot_product *p, char *buf, size_t len)
{
	char n[40];

	if (strcmp(p->currency, "ARS") != 0) {
		money(p->cents, buf, len);
		return;
	}
	if (quote_format_cents(p->cents, n, sizeof(n)) != OV_OK)
		snprintf(n, sizeof(n), "?");
	snprintf(buf, len, "$ %s", n);
}

static int64_t
to_cents(double v)
{
	if (!isfinite(v) || fabs(v) > 1e13)
		return 0;
	return (int64_t)llround(v * 100.0);
}

/* s shortened to at most max characters (never inside one), "…" when
 * cut. A static-free helper: out is the caller's. */
static const char *
short_text(const char *s, size_t max, char *out, size_t outlen)
{
	if (wa_label_fit(s != NULL ? s : "", max, out, outlen) < 0)
		out[0] = '\0';
	return out;
}

/* "2026-11-03" -> "03/11/2026"; anything else copied. */
static void
date_ar(const char *iso, char *buf, size_t len)
{
	if (strlen(iso) >= 10 && iso[4] == '-' && iso[7] == '-')
		snprintf(buf, len, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
	else
		snprintf(buf, len, "%s", iso);
}

static bool
has_digit(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= '0' && *s <= '9')
			return true;
	return false;
}

/* ---- replies -------------------------------------------------------- */

static cJSON *
reply_add(struct turn *t, const char *kind)
{
	struct reply *r;

	if (t->nreplies == REPLIES_MAX)
		return NULL;
	r = &t->replies[t->nreplies];
	r->payload = cJSON_CreateObject();
	if (r->payload == NULL)
		return NULL;
	r->by = t->tool;
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	t->nreplies++;
	return r->payload;
}

static void
say(struct turn *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct turn *t, const char *fmt, ...)
{
	char buf[TEXT_MAX];
	va_list ap;
	cJSON *p;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((p = reply_add(t, "text")) != NULL)
		cJSON_AddStringToObject(p, "text", buf);
}

static void
buttons2(struct turn *t, const char *body, const char *id1, const char *t1,
    const char *id2, const char *t2)
{
	cJSON *p = reply_add(t, "buttons"), *arr, *b;

	if (p == NULL)
		return;
	cJSON_AddStringToObject(p, "body", body);
	arr = cJSON_AddArrayToObject(p, "buttons");
	if (arr == NULL)
		return;
	if ((b = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(b, "id", id1);
		cJSON_AddStringToObject(b, "title", t1);
		cJSON_AddItemToArray(arr, b);
	}
	if (id2 != NULL && (b = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(b, "id", id2);
		cJSON_AddStringToObject(b, "title", t2);
		cJSON_AddItemToArray(arr, b);
	}
}

/* Put words before the first reply that carries text. */
static void
prefix_first(struct turn *t, const char *lead)
{
	for (size_t i = 0; i < t->nreplies; i++) {
		const char *key = strcmp(t->replies[i].kind, "text") == 0 ? "text" :
		    strcmp(t->replies[i].kind, "pdf") == 0 ? NULL : "body";
		const char *old;
		char buf[TEXT_MAX + LEAD_MAX + 512];

		if (key == NULL)
			continue;
		old = jstr(t->replies[i].payload, key);
		if (old == NULL)
			continue;
		/* Buttons bodies are short (1024): keep the lead short there. */
		if (strcmp(key, "body") == 0 &&
		    strlen(old) + strlen(lead) + 2 > WA_BUTTONS_BODY_MAX)
			break;
		snprintf(buf, sizeof(buf), "%s\n\n%s", lead, old);
		pset_str(t->replies[i].payload, key, buf);
		return;
	}
	/* Nothing to lean on: the words go first on their own. */
	if (t->nreplies < REPLIES_MAX) {
		memmove(&t->replies[1], &t->replies[0],
		    t->nreplies * sizeof(t->replies[0]));
		t->nreplies++;
		snprintf(t->replies[0].kind, sizeof(t->replies[0].kind), "text");
		t->replies[0].by = NULL;
		t->replies[0].payload = cJSON_CreateObject();
		if (t->replies[0].payload != NULL)
			cJSON_AddStringToObject(t->replies[0].payload, "text", lead);
	}
}

static void
replies_free(struct turn *t)
{
	for (size_t i = 0; i < t->nreplies; i++)
		cJSON_Delete(t->replies[i].payload);
	t->nreplies = 0;
}

/* ---- e-mail --------------------------------------------------------- */

static void
notify(struct bot *b, const char *to, const char *subject, const char *html)
{
	int rc;

	if (to == NULL || !mail_configured(b->mail))
		return;
	rc = mail_send(b->mail, to, subject, html);
	if (rc != OV_OK)
		log_warn("notice \"%s\" not e-mailed: %s", subject,
		    ov_strerror(rc));
}

/* Append escaped text to a growing HTML buffer. */
static void
html_cat(char *buf, size_t cap, const char *raw_html, const char *text)
{
	size_t n = strlen(buf);

	if (raw_html != NULL)
		snprintf(buf + n, cap - n, "%s", raw_html);
	if (text != NULL) {
		char *e = mail_html_escape(text);

		n = strlen(buf);
		if (e != NULL)
			snprintf(buf + n, cap - n, "%s", e);
		free(e);
	}
}

static const char *
customer_label(const struct turn *t)
{
	const char *razon = jstr(t->profile, "razon");

	if (razon != NULL)
		return razon;
	return t->cust.name != NULL ? t->cust.name : "cliente sin nombre";
}

/* ---- products ------------------------------------------------------- */

static void
remember_product(struct turn *t, const struct bot_product *p, int64_t qty)
{
	pset_int(t->profile, "last_product", p->id);
	if (qty > 0)
		pset_int(t->profile, "last_qty", qty);
}

static void
stock_words(const struct bot_product *p, char *buf, size_t len)
{
	if (p->stock <= 0)
		snprintf(buf, len, "sin stock");
	else
		snprintf(buf, len, "stock %lld", (long long)p->stock);
}

/* Out-of-stock demand: purchasing hears once per product per day. */
static void
demand_notice(struct turn *t, const struct bot_product *p, int64_t qty)
{
	struct bot *b = t->b;
	char name[STORE_NAME_MAX + 1], subject[MAIL_SUBJECT_MAX], html[4096];
	char q[32], shortname[512];
	int64_t n = 0;

	if (b->compras == NULL || !mail_configured(b->mail))
		return;
	snprintf(name, sizeof(name), "sin-stock:%lld:%s", (long long)p->id,
	    t->today);
	if (store_counter_next(b->st, name, &n) != OV_OK || n != 1)
		return;
	snprintf(subject, sizeof(subject), "Sin stock: %s",
	    short_text(p->name, 80, shortname, sizeof(shortname)));
	snprintf(q, sizeof(q), "%lld", (long long)(qty > 0 ? qty : 1));
	html[0] = '\0';
	html_cat(html, sizeof(html), "<p>Un cliente pidió un producto sin "
	    "stock suficiente.</p><p><b>Producto:</b> ", p->name);
	html_cat(html, sizeof(html), "<br><b>Código:</b> ", p->code);
	html_cat(html, sizeof(html), "<br><b>Cantidad pedida:</b> ", q);
	snprintf(q, sizeof(q), "%lld", (long long)p->stock);
	html_cat(html, sizeof(html), "<br><b>Stock:</b> ", q);
	html_cat(html, sizeof(html), "<br><b>Cliente:</b> ", customer_label(t));
	html_cat(html, sizeof(html), " (WhatsApp +", t->wa_id);
	html_cat(html, sizeof(html), ")</p><p>Aviso único por producto y por "
	    "día.</p>", NULL);
	notify(b, b->compras, subject, html);
}

/* What a list row's title (24 characters: 23 and "…") leaves out of a
 * long name, or NULL: it goes after price and stock in the description,
 * so rows of similar products can be told apart. */
static const char *
name_rest(const char *name)
{
	size_t chars = 0;
	const char *p = name;

	if (wa_utf8_chars(name) <= WA_ROW_TITLE_MAX)
		return NULL;
	while (*p != '\0' && chars < WA_ROW_TITLE_MAX - 1) {
		p++;
		while (((unsigned char)*p & 0xC0) == 0x80)
			p++;
		chars++;
	}
	/* From the start of the word the "…" cut, so it reads whole. */
	while (p > name && p[-1] != ' ')
		p--;
	while (*p == ' ')
		p++;
	return *p != '\0' ? p : NULL;
}

/* A list of products (in stock first, as the search ranks them). */
static void
product_list(struct turn *t, const char *body, const struct bot_product *v,
    size_t n)
{
	cJSON *p, *rows, *row;
	char id[32], desc[512], price[48], stock[32];

	if (t->list_sent) {
		/* One list per turn: a second search replaces the first. */
		for (size_t i = 0; i < t->nreplies; i++)
			if (strcmp(t->replies[i].kind, "list") == 0) {
				cJSON_Delete(t->replies[i].payload);
				memmove(&t->replies[i], &t->replies[i + 1],
				    (t->nreplies - i - 1) * sizeof(t->replies[0]));
				t->nreplies--;
				break;
			}
	}
	if ((p = reply_add(t, "list")) == NULL)
		return;
	t->list_sent = true;
	cJSON_AddStringToObject(p, "body", body);
	cJSON_AddStringToObject(p, "button", "Ver productos");
	cJSON_AddStringToObject(p, "section", "Productos");
	rows = cJSON_AddArrayToObject(p, "rows");
	for (size_t i = 0; i < n && i < BOT_LIST_ROWS && rows != NULL; i++) {
		snprintf(id, sizeof(id), "prod:%lld", (long long)v[i].id);
		price_of(&v[i], price, sizeof(price));
		stock_words(&v[i], stock, sizeof(stock));
		snprintf(desc, sizeof(desc), "%s + IVA · %s%s%s", price, stock,
		    name_rest(v[i].name) ? " · " : "", name_rest(v[i].name) ?
		    name_rest(v[i].name) : "");
		if ((row = cJSON_CreateObject()) == NULL)
			break;
		cJSON_AddStringToObject(row, "id", id);
		cJSON_AddStringToObject(row, "title", v[i].name);
		cJSON_AddStringToObject(row, "description", desc);
		cJSON_AddItemToArray(rows, row);
	}
}

/* Products matching query; in stock first. */
static int
search(struct turn *t, const char *query, struct bot_product *v, size_t max,
    size_t *n)
{
	int rc = bot_catalog_search(t->b->st, query, v, max, n);

	if (rc != OV_OK)
		log_error("product search failed: %s", ov_strerror(rc));
	return rc;
}

static void
act_search(struct turn *t, const char *query)
{
	struct bot_product v[BOT_LIST_ROWS];
	size_t n = 0;
	char body[512];

	if (query == NULL || query[0] == '\0') {
		say(t, "Contame qué producto buscás (marca, modelo o medida) y te "
		    "paso precio y stock. ¿Qué necesitás?");
		return;
	}
	if (search(t, query, v, BOT_LIST_ROWS, &n) != OV_OK) {
		say(t, "Uy, ahora no puedo buscar en el catálogo 😕 Probá de nuevo "
		    "en un ratito. ¿Querés que te contacte un vendedor?");
		return;
	}
	pset_str(t->profile, "last_query", query);
	if (n == 0) {
		say(t, "No encontré productos para \"%s\" 🤔 ¿Me lo describís de "
		    "otra forma? (marca, modelo o medida)", query);
		return;
	}
	if (n == 1) {
		remember_product(t, &v[0], 0);
		pset_str(t->profile, "pending", "qty");
	}
	snprintf(body, sizeof(body), "Te paso lo que tenemos en %s 👇\n¿Cuál "
	    "te interesa?", query);
	product_list(t, body, v, n);
}

/* Similar products with at least `need` in stock, without p itself. */
static size_t
alternatives(struct turn *t, const struct bot_product *p, const char *query,
    int64_t need, struct bot_product *out, size_t max)
{
	struct bot_product v[BOT_LIST_ROWS * 2];
	size_t n = 0, k = 0;

	if (bot_catalog_similar(t->b->st, p, query, v, BOT_LIST_ROWS * 2,
	    &n) != OV_OK)
		return 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (v[i].id != p->id && v[i].stock >= (need > 0 ? need : 1))
			out[k++] = v[i];
	return k;
}

static void
act_product(struct turn *t, const struct bot_product *p)
{
	char price[48], body[1024], id[48];
	struct bot_product alt[BOT_LIST_ROWS - 1];
	size_t n;

	price_of(p, price, sizeof(price));
	remember_product(t, p, 0);
	if (p->stock <= 0) {
		n = alternatives(t, p, NULL, 1, alt, BOT_LIST_ROWS - 1);
		demand_notice(t, p, 0);
		if (n == 0) {
			say(t, "De %s (%s + IVA) no tenemos stock ahora 😕 "
			    "¿Querés que le avise a un vendedor para conseguirlo?",
			    p->name, price);
			pset_str(t->profile, "pending", "handoff");
			return;
		}
		snprintf(body, sizeof(body), "De %s no tenemos stock ahora. Te "
		    "dejo opciones parecidas que sí tenemos:\n¿Te sirve alguna?",
		    p->name);
		product_list(t, body, alt, n);
		return;
	}
	snprintf(body, sizeof(body), "*%s*\nCódigo %s\n%s + IVA (IVA %s%%)\n"
	    "Tenemos %lld en stock.\n¿Cuántas necesitás?", p->name,
	    p->code[0] ? p->code : "-", price,
	    p->iva_tenths == 105 ? "10,5" : "21", (long long)p->stock);
	snprintf(id, sizeof(id), "quote:new:%lld", (long long)p->id);
	buttons2(t, body, id, "Presupuesto", "handoff", "Hablar con vendedor");
	pset_str(t->profile, "pending", "qty");
}

static void
act_stock(struct turn *t, const struct bot_product *p, int64_t qty,
    const char *query)
{
	struct bot_product alt[BOT_LIST_ROWS];
	char body[1024], price[48], id[48];
	size_t n;

	remember_product(t, p, qty);
	price_of(p, price, sizeof(price));
	if (qty <= 0) {
		act_product(t, p);
		return;
	}
	if (p->stock >= qty) {
		snprintf(body, sizeof(body), "%s: tenemos %lld, te alcanza 👌\n"
		    "%s + IVA c/u.\n¿Te armo el presupuesto por %lld?", p->name,
		    (long long)p->stock, price, (long long)qty);
		snprintf(id, sizeof(id), "quote:new:%lld", (long long)p->id);
		buttons2(t, body, id, "Sí, armalo", "handoff",
		    "Hablar con vendedor");
		pset_str(t->profile, "pending", "quote");
		return;
	}
	demand_notice(t, p, qty);
	n = alternatives(t, p, query, qty, alt, BOT_LIST_ROWS);
	if (p->stock > 0)
		snprintf(body, sizeof(body), "De %s solo tenemos %lld. ", p->name,
		    (long long)p->stock);
	else
		snprintf(body, sizeof(body), "De %s no tenemos stock ahora. ",
		    p->name);
	if (n > 0) {
		size_t len = strlen(body);

		snprintf(body + len, sizeof(body) - len, "Te dejo opciones "
		    "parecidas que sí tenemos:\n¿Te sirve alguna?");
		product_list(t, body, alt, n);
		return;
	}
	if (p->stock > 0) {
		size_t len = strlen(body);

		snprintf(body + len, sizeof(body) - len, "¿Te armo el "
		    "presupuesto por esas %lld?", (long long)p->stock);
		pset_int(t->profile, "last_qty", p->stock);
		pset_str(t->profile, "pending", "quote");
		say(t, "%s", body);
		return;
	}
	say(t, "%s¿Querés que le avise a un vendedor para conseguirlo?", body);
	pset_str(t->profile, "pending", "handoff");
}

static void
act_price(struct turn *t, const struct bot_product *p)
{
	char price[48];

	remember_product(t, p, 0);
	price_of(p, price, sizeof(price));
	if (p->stock > 0)
		say(t, "%s: %s + IVA. Tenemos %lld en stock. ¿Cuántas necesitás?",
		    p->name, price, (long long)p->stock);
	else
		say(t, "%s: %s + IVA, pero ahora no tenemos stock. ¿Querés ver "
		    "opciones parecidas?", p->name, price);
	pset_str(t->profile, "pending", p->stock > 0 ? "qty" : "alt");
}

/* The product a message is about: picked id, a query, or the last one. */
static int
resolve_product(struct turn *t, int64_t id, const char *query,
    bool uses_last, struct bot_product *p, bool *found)
{
	size_t n = 0;
	int rc;

	*found = false;
	if (id == 0 && (query == NULL || query[0] == '\0') && uses_last)
		id = jint(t->profile, "last_product");
	if (id > 0)
		return bot_catalog_get(t->b->st, id, p, found);
	if (query == NULL || query[0] == '\0')
		return OV_OK;
	if ((rc = search(t, query, p, 1, &n)) != OV_OK)
		return rc;
	*found = n > 0;
	if (*found)
		pset_str(t->profile, "last_query", query);
	return OV_OK;
}

/* ---- the account ---------------------------------------------------- */

/* Whether account data may be shown; says why not when not. */
static bool
account_allowed(struct turn *t)
{
	if (t->cust.cianbox_id == 0) {
		say(t, "Para ver tu cuenta necesito saber quién sos: el saldo y las "
		    "facturas los muestro solo al número registrado en tu cuenta. "
		    "¿Me pasás tu CUIT?");
		return false;
	}
	if (!t->cust.verified) {
		say(t, "Por seguridad, el saldo y las facturas solo los muestro al "
		    "WhatsApp que figura en tu cuenta. Pedíselos a tu vendedor o "
		    "escribinos desde ese número. ¿Te ayudo con otra cosa?");
		return false;
	}
	return true;
}

/* The customer's record: fresh from Cianbox when it answers, else the
 * synced copy. */
static int
account_client(struct turn *t, struct cianbox_cliente *c, bool *found)
{
	int rc = OV_EIO;

	*found = false;
	if (t->b->cb != NULL) {
		rc = cianbox_cliente_by_id(t->b->cb, t->cust.cianbox_id, c, found);
		if (rc != OV_OK)
			log_warn("account of %s: %s; using the synced copy",
			    t->wa_id, cianbox_last_error(t->b->cb));
	}
	if (rc != OV_OK)
		rc = customer_client_get(t->b->st, t->cust.cianbox_id, c, found);
	return rc;
}

static void
act_balance(struct turn *t)
{
	struct cianbox_cliente c;
	char saldo[48], limite[48], plazo[64];
	bool found = false;

	if (!account_allowed(t))
		return;
	if (account_client(t, &c, &found) != OV_OK || !found) {
		log_warn("balance for %s: customer %lld not found", t->wa_id,
		    (long long)t->cust.cianbox_id);
		say(t, "No pude consultar tu cuenta ahora 😕 Probá en un rato. "
		    "¿Querés que te contacte un vendedor?");
		pset_str(t->profile, "pending", "handoff");
		return;
	}
	money(to_cents(c.saldo), saldo, sizeof(saldo));
	money(to_cents(c.limite), limite, sizeof(limite));
	if (c.plazo > 0)
		snprintf(plazo, sizeof(plazo), ", plazo %lld días",
		    (long long)c.plazo);
	else
		plazo[0] = '\0';
	if (!c.ctacte)
		say(t, "No tenés cuenta corriente abierta con nosotros, así que no "
		    "hay saldo pendiente. ¿Te ayudo con otra cosa?");
	else if (c.saldo > 0.004)
		say(t, "Tu saldo en cuenta corriente es de %s.\nLímite de crédito "
		    "%s%s.\n¿Querés ver las últimas facturas?", saldo, limite,
		    plazo);
	else
		say(t, "No tenés saldo pendiente 🙌 (límite de crédito %s%s). "
		    "¿Querés ver las últimas facturas?", limite, plazo);
	pset_str(t->profile, "pending", "invoices");
}

static void
act_invoices(struct turn *t)
{
	struct cianbox_cliente c;
	struct cianbox_venta v[INVOICES_SHOWN];
	char text[TEXT_MAX], date[16], total[48];
	size_t n = 0, len;
	bool found = false;

	if (!account_allowed(t))
		return;
	if (t->b->cb == NULL || account_client(t, &c, &found) != OV_OK ||
	    !found || c.numero_documento[0] == '\0' ||
	    cianbox_ventas_recent(t->b->cb, c.numero_documento, INVOICES_SHOWN,
	    v, &n) != OV_OK) {
		log_warn("invoices for %s: %s", t->wa_id, t->b->cb == NULL ?
		    "Cianbox not configured" : cianbox_last_error(t->b->cb));
		say(t, "No pude traer tus facturas ahora 😕 Probá en un rato. "
		    "¿Querés que te contacte un vendedor?");
		pset_str(t->profile, "pending", "handoff");
		return;
	}
	if (n == 0) {
		say(t, "No encontré facturas recientes en tu cuenta. ¿Te ayudo con "
		    "otra cosa?");
		return;
	}
	snprintf(text, sizeof(text), "Tus últimas facturas:");
	for (size_t i = 0; i < n; i++) {
		if (v[i].anulado)
			continue;
		date_ar(v[i].fecha, date, sizeof(date));
		if (v[i].id_moneda == 1) {
			char num[40];

			if (quote_format_cents(to_cents(v[i].total), num,
			    sizeof(num)) != OV_OK)
				snprintf(num, sizeof(num), "?");
			snprintf(total, sizeof(total), "$ %s", num);
		} else {
			money(to_cents(v[i].total), total, sizeof(total));
		}
		len = strlen(text);
		snprintf(text + len, sizeof(text) - len, "\n• %s · %s%s%s-%s · %s · %s",
		    date, v[i].tipo, v[i].tipo[0] ? " " : "", v[i].punto_venta,
		    v[i].numero, total, v[i].cta_cte ? "cuenta corriente" :
		    "contado");
	}
	len = strlen(text);
	snprintf(text + len, sizeof(text) - len, "\n¿Necesitás algo más?");
	say(t, "%s", text);
	pset_str(t->profile, "pending", "");
}

/* ---- quotes --------------------------------------------------------- */

static void
quote_summary(struct turn *t, const struct quote *q)
{
	char body[WA_BUTTONS_BODY_MAX], a[48], b[48], item[256];
	size_t len;

	snprintf(body, sizeof(body), "Te armé el presupuesto N° %lld:",
	    (long long)q->number);
	for (size_t i = 0; i < q->nitems && i < 8; i++) {
		money(q->items[i].unit_cents, a, sizeof(a));
		len = strlen(body);
		snprintf(body + len, sizeof(body) - len, "\n• %lld × %s — %s c/u",
		    (long long)q->items[i].quantity, short_text(q->items[i].name,
		    60, item, sizeof(item)), a);
	}
	if (q->nitems > 8) {
		len = strlen(body);
		snprintf(body + len, sizeof(body) - len, "\n• y %zu ítems más",
		    q->nitems - 8);
	}
	money(q->subtotal_cents, a, sizeof(a));
	len = strlen(body);
	snprintf(body + len, sizeof(body) - len, "\nSubtotal %s", a);
	if (q->iva21_cents > 0) {
		money(q->iva21_cents, b, sizeof(b));
		len = strlen(body);
		snprintf(body + len, sizeof(body) - len, "\nIVA 21 %%: %s", b);
	}
	if (q->iva105_cents > 0) {
		money(q->iva105_cents, b, sizeof(b));
		len = strlen(body);
		snprintf(body + len, sizeof(body) - len, "\nIVA 10,5 %%: %s", b);
	}
	money(q->total_cents, a, sizeof(a));
	len = strlen(body);
	snprintf(body + len, sizeof(body) - len, "\n*Total %s*\n¿Te lo confirmo "
	    "y te mando el PDF?", a);
	buttons2(t, body, "quote:confirm", "Confirmar", "quote:cancel",
	    "Cancelar");
}

struct quote_line {
	int64_t product_id;
	int64_t qty;
};

static void
act_quote(struct turn *t, const struct quote_line *lines, size_t n)
{
	struct quote q;
	int rc = OV_OK;

	quote_init(&q);
	snprintf(q.wa_id, sizeof(q.wa_id), "%s", t->wa_id);
	quote_set_customer(&q, customer_label(t), jstr(t->profile, "cuit"),
	    NULL);
	for (size_t i = 0; i < n && rc == OV_OK; i++) {
		rc = quote_add_product(t->b->st, &q, lines[i].product_id,
		    lines[i].qty);
		if (rc == OV_ENOTFOUND) {
			log_warn("quote: product %lld is not in the catalog",
			    (long long)lines[i].product_id);
			rc = OV_OK;
		}
	}
	if (rc == OV_OK && q.nitems == 0)
		rc = OV_ENOTFOUND;
	if (rc == OV_OK && t->b->cb != NULL) {
		double rate;

		if (cianbox_usd_rate_cached(t->b->cb, 3600, &rate) == OV_OK && rate > 0 &&
		    rate * 100 < (double)QUOTE_RATE_MAX_CENTS)
			q.usd_rate_cents = to_cents(rate);
		quote_compute(&q);
	}
	if (rc == OV_OK)
		rc = quote_create(t->b->st, &q, t->b->ttl_days);
	if (rc != OV_OK) {
		log_error("cannot create a quote for %s: %s", t->wa_id,
		    ov_strerror(rc));
		say(t, rc == OV_ENOTFOUND ? "No encontré ese producto en el "
		    "catálogo para presupuestarlo. ¿Me decís cuál es?" :
		    "No pude armar el presupuesto ahora 😕 ¿Querés que te lo "
		    "arme un vendedor?");
		quote_clear(&q);
		return;
	}
	quote_summary(t, &q);
	pset_str(t->profile, "pending", "confirm");
	quote_clear(&q);
}

/* Quote for the product talked about (rules path). */
static void
act_quote_product(struct turn *t, const struct bot_product *p, int64_t qty)
{
	struct quote_line l;

	if (qty <= 0)
		qty = jint(t->profile, "last_product") == p->id ?
		    jint(t->profile, "last_qty") : 0;
	if (qty <= 0 || qty > QUOTE_QTY_MAX) {
		remember_product(t, p, 0);
		pset_str(t->profile, "pending", "quote_qty");
		say(t, "Dale, ¿cuántas unidades de %s te presupuesto?", p->name);
		return;
	}
	remember_product(t, p, qty);
	l.product_id = p->id;
	l.qty = qty;
	act_quote(t, &l, 1);
}

static void
act_confirm(struct turn *t)
{
	struct store_quote rec;
	struct quote q;
	char path[QUOTE_PATH_MAX], filename[64], caption[160], link[128];
	char until[16];
	bool found = false;
	cJSON *p;
	int rc;

	quote_init(&q);
	rc = store_quote_pending_for(t->b->st, t->wa_id, &rec, &found);
	if (rc == OV_OK && found) {
		rc = quote_from_record(&rec, &q);
		store_quote_clear(&rec);
	}
	if (rc != OV_OK || !found) {
		say(t, "No tengo ningún presupuesto pendiente para confirmar. "
		    "¿Querés que te arme uno?");
		goto out;
	}
	if (quote_is_expired(&q, t->now)) {
		say(t, "Ese presupuesto ya venció. ¿Te armo uno nuevo con precios "
		    "actualizados?");
		goto out;
	}
	if ((rc = quote_pdf_save(&q, t->b->brand, t->b->pdf_dir)) != OV_OK ||
	    (rc = quote_file_path(t->b->pdf_dir, q.id, path, sizeof(path))) !=
	    OV_OK) {
		log_error("cannot render quote %lld: %s", (long long)q.number,
		    ov_strerror(rc));
		say(t, "No pude generar el PDF ahora 😕 ¿Querés que te lo mande un "
		    "vendedor?");
		goto out;
	}
	quote_format_date(q.expires_at, until, sizeof(until));
	snprintf(filename, sizeof(filename), "Presupuesto-%lld.pdf",
	    (long long)q.number);
	snprintf(caption, sizeof(caption), "Presupuesto N° %lld · válido hasta "
	    "el %s", (long long)q.number, until);
	snprintf(link, sizeof(link), "/cgi-bin/presupuesto/%s.pdf", q.id);
	say(t, "¡Listo! Te mando el presupuesto N° %lld en PDF 👇",
	    (long long)q.number);
	if ((p = reply_add(t, "pdf")) != NULL) {
		cJSON_AddStringToObject(p, "path", path);
		cJSON_AddStringToObject(p, "filename", filename);
		cJSON_AddStringToObject(p, "caption", caption);
		cJSON_AddStringToObject(p, "link_path", link);
		cJSON_AddStringToObject(p, "quote_id", q.id);
	}
	say(t, "Cualquier cosa me escribís por acá. ¿Necesitás algo más?");
	pset_str(t->profile, "pending", "");
out:
	quote_clear(&q);
}

static void
act_cancel(struct turn *t)
{
	struct store_quote rec;
	struct quote q;
	bool found = false;
	int rc;

	quote_init(&q);
	rc = store_quote_pending_for(t->b->st, t->wa_id, &rec, &found);
	if (rc == OV_OK && found) {
		rc = quote_from_record(&rec, &q);
		store_quote_clear(&rec);
	}
	if (rc != OV_OK || !found) {
		say(t, "No tenés presupuestos pendientes. ¿Te ayudo con otra cosa?");
		goto out;
	}
	if (quote_set_state(t->b->st, &q, QUOTE_CANCELLED) != OV_OK) {
		say(t, "No pude cancelarlo ahora 😕 ¿Probamos de nuevo en un rato?");
		goto out;
	}
	say(t, "Listo, cancelé el presupuesto N° %lld. ¿Te ayudo con otra cosa?",
	    (long long)q.number);
	pset_str(t->profile, "pending", "");
out:
	quote_clear(&q);
}

/* Meta accepted a reply; a quote's PDF makes the quote sent. */
static void
on_sent(void *arg, const char *wa_id, const char *kind, const cJSON *payload,
    const char *wamid)
{
	struct bot *b = arg;
	const char *qid = jstr(payload, "quote_id");
	struct store_quote rec;
	struct quote q;
	char subject[MAIL_SUBJECT_MAX], html[8192], a[48], line[512], who[512];
	bool found = false;

	(void)wamid;
	if (strcmp(kind, "pdf") != 0 || qid == NULL)
		return;
	quote_init(&q);
	if (store_quote_get(b->st, qid, &rec, &found) != OV_OK || !found)
		goto out;
	if (quote_from_record(&rec, &q) != OV_OK) {
		store_quote_clear(&rec);
		goto out;
	}
	store_quote_clear(&rec);
	if (quote_set_state(b->st, &q, QUOTE_SENT) != OV_OK) {
		log_error("quote %lld: cannot mark sent", (long long)q.number);
		goto out;
	}
	log_info("quote %lld sent to %s", (long long)q.number, wa_id);
	snprintf(subject, sizeof(subject), "Presupuesto N° %lld confirmado por "
	    "%s", (long long)q.number, short_text(q.customer.name[0] ?
	    q.customer.name : wa_id, 60, who, sizeof(who)));
	html[0] = '\0';
	snprintf(line, sizeof(line), "<p>El cliente confirmó el presupuesto "
	    "N° %lld y se le envió el PDF por WhatsApp.</p><p><b>Cliente:</b> ",
	    (long long)q.number);
	html_cat(html, sizeof(html), line, q.customer.name[0] ?
	    q.customer.name : "(sin nombre)");
	html_cat(html, sizeof(html), "<br><b>WhatsApp:</b> +", wa_id);
	html_cat(html, sizeof(html), "</p><table border=\"1\" cellpadding=\"4\">"
	    "<tr><th>Cant.</th><th>Producto</th><th>Unitario</th></tr>", NULL);
	for (size_t i = 0; i < q.nitems; i++) {
		snprintf(line, sizeof(line), "<tr><td>%lld</td><td>",
		    (long long)q.items[i].quantity);
		html_cat(html, sizeof(html), line, q.items[i].name);
		money(q.items[i].unit_cents, a, sizeof(a));
		html_cat(html, sizeof(html), "</td><td>", a);
		html_cat(html, sizeof(html), "</td></tr>", NULL);
	}
	money(q.total_cents, a, sizeof(a));
	html_cat(html, sizeof(html), "</table><p><b>Total con IVA:</b> ", a);
	html_cat(html, sizeof(html), "</p>", NULL);
	notify(b, b->vendedor, subject, html);
out:
	quote_clear(&q);
}

/* ---- people --------------------------------------------------------- */

static void
act_handoff(struct turn *t, const char *why)
{
	struct bot *b = t->b;
	struct store_msg *h = NULL;
	size_t n = 0;
	char subject[MAIL_SUBJECT_MAX], html[32768], who[512];

	pset_int(t->profile, "handoff_until", t->now + b->handoff_hours * 3600);
	pset_str(t->profile, "pending", "");
	snprintf(subject, sizeof(subject), "Ovidio: %s pide hablar con un "
	    "vendedor", short_text(customer_label(t), 60, who, sizeof(who)));
	html[0] = '\0';
	html_cat(html, sizeof(html), "<p><b>Cliente:</b> ", customer_label(t));
	html_cat(html, sizeof(html), "<br><b>WhatsApp:</b> +", t->wa_id);
	if (jstr(t->profile, "cuit") != NULL)
		html_cat(html, sizeof(html), "<br><b>CUIT:</b> ",
		    jstr(t->profile, "cuit"));
	if (why != NULL && why[0] != '\0')
		html_cat(html, sizeof(html), "<br><b>Motivo:</b> ", why);
	html_cat(html, sizeof(html), "</p><p>Ovidio no le va a responder por "
	    "unas horas: escribile vos por WhatsApp.</p><h3>Conversación "
	    "reciente</h3>", NULL);
	if (store_history(b->st, t->wa_id, HANDOFF_HISTORY, &h, &n) == OV_OK) {
		for (size_t i = 0; i < n; i++) {
			html_cat(html, sizeof(html), h[i].dir == STORE_IN ?
			    "<p><b>Cliente:</b> " : "<p><b>Ovidio:</b> ",
			    h[i].body != NULL ? h[i].body : h[i].type);
			html_cat(html, sizeof(html), "</p>", NULL);
		}
		store_msgs_free(h, n);
	}
	html_cat(html, sizeof(html), "<p><b>Cliente (ahora):</b> ", t->text);
	html_cat(html, sizeof(html), "</p>", NULL);
	notify(b, b->vendedor, subject, html);
	say(t, "Listo, le pasé tu consulta a un vendedor y te va a escribir por "
	    "acá en breve 🙌 ¿Querés dejarle algún dato más?");
	log_info("handoff for %s; quiet for %ld h", t->wa_id, b->handoff_hours);
}

/* What an identification found, into this turn's record and state. */
static void
note_identity(struct turn *t, const struct customer_identity *id)
{
	if (!id->have_client)
		return;
	if (id->linked) {
		t->cust.cianbox_id = id->cianbox_id;
		t->cust.verified = id->verified;
	}
	pset_str(t->profile, "razon", id->client.razon);
	if (id->client.numero_documento[0] != '\0')
		pset_str(t->profile, "cuit", id->client.numero_documento);
}

static void
act_identify(struct turn *t)
{
	struct customer_identity id;
	enum customer_text what = CUSTOMER_TEXT_NONE;
	int rc;

	rc = customer_identify_text(t->b->st, t->b->cb, t->wa_id, t->text, &id,
	    &what);
	if (rc != OV_OK) {
		log_warn("identify %s: %s", t->wa_id, ov_strerror(rc));
		say(t, "No pude verificar tus datos ahora 😕 Igual te ayudo con "
		    "precios y stock. ¿Qué estás buscando?");
		return;
	}
	switch (what) {
	case CUSTOMER_TEXT_FOUND:
		note_identity(t, &id);
		log_info("%s identified as Cianbox customer %lld by %s (%s)",
		    t->wa_id, (long long)id.cianbox_id,
		    id.how == CUSTOMER_BY_CUIT ? "CUIT" : "e-mail",
		    id.verified ? "number on file" : "prices only");
		say(t, "¡Gracias! Ya te identifiqué como %s 🙌 ¿Qué estás buscando "
		    "hoy?", id.client.razon);
		return;
	case CUSTOMER_TEXT_BAD_CUIT:
		say(t, "Ese CUIT no me da: el dígito verificador no coincide 🤔 "
		    "¿Lo revisás?");
		return;
	case CUSTOMER_TEXT_UNKNOWN:
		say(t, "No encontré una cuenta con ese dato 🤔 ¿Lo revisás, o me "
		    "pasás el CUIT o el e-mail de tu cuenta?");
		return;
	case CUSTOMER_TEXT_NONE:
		break;
	}
	say(t, "¿Me pasás tu CUIT (11 números) o el e-mail de tu cuenta?");
}

/* ---- deciding by rules ---------------------------------------------- */

static void
decide_rules(struct turn *t)
{
	struct rules_result r;
	struct bot_product p;
	const char *pending = jstr(t->profile, "pending");
	bool found = false;
	int rc;

	rules_parse(t->text, t->reply_id[0] ? t->reply_id : NULL, &r);
	log_debug("rules: %s qty %lld query \"%s\"%s", rules_intent_name(r.intent),
	    (long long)r.quantity, r.query, r.uses_last ? " (last product)" : "");
	if (pending == NULL)
		pending = "";
	/* A bare number answers our "¿cuántas?". */
	if (r.intent == RULES_STOCK && r.uses_last &&
	    strcmp(pending, "quote_qty") == 0)
		r.intent = RULES_QUOTE;
	if (r.intent == RULES_YES) {
		if (strcmp(pending, "quote") == 0)
			r.intent = RULES_QUOTE, r.uses_last = true;
		else if (strcmp(pending, "confirm") == 0)
			r.intent = RULES_CONFIRM;
		else if (strcmp(pending, "invoices") == 0)
			r.intent = RULES_INVOICES;
		else if (strcmp(pending, "handoff") == 0)
			r.intent = RULES_HANDOFF;
		else if (strcmp(pending, "alt") == 0)
			r.intent = RULES_SEARCH;
	}
	switch (r.intent) {
	case RULES_SEARCH:
		if (r.query[0] == '\0' && jstr(t->profile, "last_query") != NULL)
			act_search(t, jstr(t->profile, "last_query"));
		else
			act_search(t, r.query);
		return;
	case RULES_SELECT:
	case RULES_PRICE:
	case RULES_STOCK:
	case RULES_QUOTE:
		/* "¿Cuánto sale un disco de 1 TB?" fits several products:
		 * their list (each with its price) beats a guess. */
		if (r.intent == RULES_PRICE && r.product_id == 0 &&
		    r.query[0] != '\0') {
			struct bot_product v[2];
			size_t n = 0;

			if (search(t, r.query, v, 2, &n) == OV_OK && n > 1) {
				act_search(t, r.query);
				return;
			}
		}
		rc = resolve_product(t, r.product_id, r.query, r.uses_last, &p,
		    &found);
		if (rc != OV_OK) {
			say(t, "Uy, ahora no puedo consultar el catálogo 😕 ¿Probás "
			    "en un ratito?");
			return;
		}
		if (!found) {
			if (r.query[0] != '\0')
				act_search(t, r.query);
			else
				say(t, "¿De qué producto me hablás? Decime marca, "
				    "modelo o medida y te paso precio y stock.");
			return;
		}
		if (r.intent == RULES_SELECT)
			act_product(t, &p);
		else if (r.intent == RULES_PRICE)
			act_price(t, &p);
		else if (r.intent == RULES_STOCK)
			act_stock(t, &p, r.quantity, r.query);
		else
			act_quote_product(t, &p, r.quantity);
		return;
	case RULES_BALANCE:
		act_balance(t);
		return;
	case RULES_INVOICES:
		act_invoices(t);
		return;
	case RULES_CONFIRM:
		act_confirm(t);
		return;
	case RULES_CANCEL:
		act_cancel(t);
		return;
	case RULES_HANDOFF:
		act_handoff(t, NULL);
		return;
	case RULES_IDENTIFY:
		act_identify(t);
		return;
	case RULES_GREETING:
		say(t, "¿En qué te puedo ayudar hoy?");
		return;
	case RULES_THANKS:
		say(t, "¡De nada! ¿Te ayudo con algo más?");
		return;
	case RULES_YES:
		say(t, "¡Dale! Contame qué necesitás: te busco productos con precio "
		    "y stock, te paso tu saldo o te armo un presupuesto.");
		return;
	case RULES_NO:
		pset_str(t->profile, "pending", "");
		say(t, "Dale, sin problema. ¿Te ayudo con otra cosa?");
		return;
	case RULES_NONE:
		break;
	}
	say(t, "Perdón, no te entendí 🙈 Puedo buscarte productos con precio y "
	    "stock, pasarte tu saldo y facturas, o armarte un presupuesto. "
	    "¿Qué necesitás?");
}

/* Whether the rules read an action in a message (not only small talk). */
static bool
substantive(enum rules_intent i)
{
	return i != RULES_NONE && i != RULES_GREETING && i != RULES_THANKS &&
	    i != RULES_YES && i != RULES_NO;
}

/*
 * Several quick messages are one turn; by rules each message that asks
 * for something is acted on in order ("cuánto debo?" then "¿tenés domos?"
 * gets both answers), while small talk among them ("hola", "gracias")
 * adds nothing. With no such message, the words are read together.
 */
static void
decide_rules_turn(struct turn *t)
{
	char whole[BOT_TURN_TEXT_MAX + 1], whole_id[WA_ROW_ID_MAX + 1];
	struct rules_result r;
	size_t acted = 0;

	if (t->nparts < 2) {
		decide_rules(t);
		return;
	}
	memcpy(whole, t->text, sizeof(whole));
	memcpy(whole_id, t->reply_id, sizeof(whole_id));
	for (size_t i = 0; i < t->nparts; i++) {
		rules_parse(t->part_text[i], t->part_id[i], &r);
		if (!substantive(r.intent))
			continue;
		snprintf(t->text, sizeof(t->text), "%s",
		    t->part_text[i] != NULL ? t->part_text[i] : "");
		snprintf(t->reply_id, sizeof(t->reply_id), "%s",
		    t->part_id[i] != NULL ? t->part_id[i] : "");
		decide_rules(t);
		acted++;
	}
	memcpy(t->text, whole, sizeof(whole));
	memcpy(t->reply_id, whole_id, sizeof(whole_id));
	if (acted == 0)
		decide_rules(t);
}

/* ---- deciding with the model ---------------------------------------- */

static const struct llm_param p_buscar[] = {
	{ .name = "consulta", .type = LLM_STRING, .required = 1,
	  .description = "Qué busca el cliente (marca, tipo, medida)",
	  .min_len = 1, .max_len = 200 },
};
static const struct llm_param p_stock[] = {
	{ .name = "producto_id", .type = LLM_INTEGER, .required = 0,
	  .description = "id del producto (de buscar_productos)",
	  .imin = 1, .imax = 999999999999LL },
	{ .name = "consulta", .type = LLM_STRING, .required = 0,
	  .description = "el producto en palabras, si no hay id",
	  .min_len = 1, .max_len = 200 },
	{ .name = "cantidad", .type = LLM_INTEGER, .required = 1,
	  .description = "unidades que necesita", .imin = 1,
	  .imax = RULES_QTY_MAX },
};
static const struct llm_param p_item[] = {
	{ .name = "producto_id", .type = LLM_INTEGER, .required = 1,
	  .description = "id del producto", .imin = 1,
	  .imax = 999999999999LL },
	{ .name = "cantidad", .type = LLM_INTEGER, .required = 1,
	  .description = "unidades", .imin = 1, .imax = QUOTE_QTY_MAX },
};
static const struct llm_param p_quote[] = {
	{ .name = "items", .type = LLM_ARRAY, .required = 1,
	  .description = "productos y cantidades", .min_items = 1,
	  .max_items = QUOTE_ITEMS_TOOL, .items = p_item, .nitems = 2 },
};
static const struct llm_param p_handoff[] = {
	{ .name = "motivo", .type = LLM_STRING, .required = 0,
	  .description = "por qué quiere hablar con una persona",
	  .min_len = 1, .max_len = 300 },
};

static const struct llm_tool tools[] = {
	{ "buscar_productos", "Busca productos del catálogo con precio y stock "
	  "y se los muestra al cliente como lista.", p_buscar, 1 },
	{ "consultar_stock", "Dice si hay stock para una cantidad de un "
	  "producto y ofrece alternativas si no alcanza.", p_stock, 3 },
	{ "saldo_cuenta", "Saldo de la cuenta corriente del cliente.", NULL, 0 },
	{ "ultimas_facturas", "Últimas facturas del cliente.", NULL, 0 },
	{ "armar_presupuesto", "Arma un presupuesto con productos y cantidades "
	  "y se lo muestra al cliente para confirmar.", p_quote, 1 },
	{ "confirmar_presupuesto", "El cliente confirma su presupuesto "
	  "pendiente: se le envía el PDF.", NULL, 0 },
	{ "cancelar_presupuesto", "Cancela el presupuesto pendiente.", NULL, 0 },
	{ "hablar_con_vendedor", "El cliente quiere hablar con una persona.",
	  p_handoff, 1 },
};
#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

/* What the model hears back: facts, with our formatting. */
static char *
tool_result_products(const struct bot_product *v, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *arr, *it;
	char price[48];
	char *s;

	if (o == NULL)
		return NULL;
	cJSON_AddBoolToObject(o, "mostrado_al_cliente", true);
	arr = cJSON_AddArrayToObject(o, "productos");
	for (size_t i = 0; i < n && arr != NULL; i++) {
		if ((it = cJSON_CreateObject()) == NULL)
			break;
		price_of(&v[i], price, sizeof(price));
		cJSON_AddNumberToObject(it, "id", (double)v[i].id);
		cJSON_AddStringToObject(it, "nombre", v[i].name);
		cJSON_AddStringToObject(it, "precio", price);
		cJSON_AddNumberToObject(it, "stock", (double)v[i].stock);
		cJSON_AddItemToArray(arr, it);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static char *
tool_result_text(struct turn *t, size_t before)
{
	cJSON *o = cJSON_CreateObject();
	char *s, *d;

	if (o == NULL)
		return NULL;
	cJSON_AddBoolToObject(o, "mostrado_al_cliente", t->nreplies > before);
	if (t->nreplies > before) {
		struct reply *r = &t->replies[t->nreplies - 1];

		d = outbox_describe(r->kind, r->payload);
		if (d != NULL && strlen(d) > LLM_TOOL_RESULT_MAX / 2) {
			/* Cut between characters, never inside one. */
			d[utf8_cut(d, strlen(d), LLM_TOOL_RESULT_MAX / 2)] = '\0';
		}
		cJSON_AddStringToObject(o, "mensaje", d ? d : "");
		free(d);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int
run_tool_act(struct turn *t, const char *name, const cJSON *args,
    size_t before, char **result)
{
	if (strcmp(name, "buscar_productos") == 0) {
		struct bot_product v[BOT_LIST_ROWS];
		size_t n = 0;
		const char *q = jstr(args, "consulta");
		char folded[RULES_QUERY_MAX + 1];

		rules_fold(q, folded, sizeof(folded));
		act_search(t, folded);
		if (search(t, folded, v, BOT_LIST_ROWS, &n) == OV_OK)
			*result = tool_result_products(v, n);
	} else if (strcmp(name, "consultar_stock") == 0) {
		struct bot_product p;
		bool found = false;
		char folded[RULES_QUERY_MAX + 1] = "";

		if (jstr(args, "consulta") != NULL)
			rules_fold(jstr(args, "consulta"), folded, sizeof(folded));
		if (resolve_product(t, jint(args, "producto_id"), folded, true, &p,
		    &found) == OV_OK && found)
			act_stock(t, &p, jint(args, "cantidad"), folded);
		else
			say(t, "¿De qué producto me hablás? Decime marca, modelo o "
			    "medida y te paso precio y stock.");
		*result = tool_result_text(t, before);
	} else if (strcmp(name, "saldo_cuenta") == 0) {
		act_balance(t);
		*result = tool_result_text(t, before);
	} else if (strcmp(name, "ultimas_facturas") == 0) {
		act_invoices(t);
		*result = tool_result_text(t, before);
	} else if (strcmp(name, "armar_presupuesto") == 0) {
		struct quote_line lines[QUOTE_ITEMS_TOOL];
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(args, "items"),
		    *it;
		size_t n = 0;

		cJSON_ArrayForEach(it, items) {
			if (n == QUOTE_ITEMS_TOOL)
				break;
			lines[n].product_id = jint(it, "producto_id");
			lines[n].qty = jint(it, "cantidad");
			n++;
		}
		act_quote(t, lines, n);
		*result = tool_result_text(t, before);
	} else if (strcmp(name, "confirmar_presupuesto") == 0) {
		act_confirm(t);
		*result = tool_result_text(t, before);
	} else if (strcmp(name, "cancelar_presupuesto") == 0) {
		act_cancel(t);
		*result = tool_result_text(t, before);
	} else if (strcmp(name, "hablar_con_vendedor") == 0) {
		act_handoff(t, jstr(args, "motivo"));
		*result = tool_result_text(t, before);
	}
	if (*result == NULL)
		*result = strdup("{\"error\":\"no disponible\"}");
	return *result == NULL ? OV_ENOMEM : OV_OK;
}

/* A tool the model calls again replaces what it said the first time
 * (two quotes or two stock answers in one turn would only confuse). */
static void
drop_replies_by(struct turn *t, const char *tool)
{
	size_t k = 0;

	for (size_t i = 0; i < t->nreplies; i++) {
		if (t->replies[i].by != NULL &&
		    strcmp(t->replies[i].by, tool) == 0) {
			if (strcmp(t->replies[i].kind, "list") == 0)
				t->list_sent = false;
			cJSON_Delete(t->replies[i].payload);
			continue;
		}
		t->replies[k++] = t->replies[i];
	}
	t->nreplies = k;
}

static int
run_tool(void *arg, const struct llm_tool *tool, const cJSON *args,
    char **result)
{
	struct turn *t = arg;
	size_t before;
	const char *name = tool->name;
	int rc;

	*result = NULL;
	drop_replies_by(t, name);
	before = t->nreplies;
	t->tool = name;
	rc = run_tool_act(t, name, args, before, result);
	t->tool = NULL;
	return rc;
}

static int
build_conv(struct turn *t, const char *const *current, size_t ncurrent,
    struct llm_conv **out)
{
	struct llm_conv *conv = NULL;
	struct store_msg *h = NULL;
	size_t n = 0;
	char sys[4096];
	int rc;

	if ((rc = llm_conv_new(&conv)) != OV_OK)
		return rc;
	snprintf(sys, sizeof(sys),
	    "Sos Ovidio, el asistente de ventas por WhatsApp de %s, "
	    "distribuidora de seguridad electrónica de Rosario (cámaras, DVR, "
	    "alarmas, cableado). Hablás en español rioplatense (vos), breve y "
	    "cálido, y terminás con una sola pregunta. Usá siempre las "
	    "herramientas para productos, precios, stock, saldo, facturas y "
	    "presupuestos: lo que devuelven ya se le muestra al cliente, así "
	    "que no repitas precios, cantidades ni totales, ni inventes datos. "
	    "Tu texto final es solo una frase corta de acompañamiento, sin "
	    "números. Cliente: %s%s.",
	    t->b->business, customer_label(t),
	    t->cust.cianbox_id != 0 ? (t->cust.verified ?
	    " (identificado por su número)" : " (identificado solo para "
	    "precios: no ve saldo ni facturas)") : " (no identificado)");
	if ((rc = llm_conv_system(conv, sys)) != OV_OK)
		goto out;
	if (store_history(t->b->st, t->wa_id, BOT_HISTORY_TURNS + ncurrent, &h,
	    &n) == OV_OK) {
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

/* OV_OK when the model's path produced the replies. */
/* Whether the rules read a question about data (products, the account,
 * quotes, a person): such a question is never answered by the model's
 * words alone, only by a tool's result. */
static bool
asks_for_data(enum rules_intent i)
{
	switch (i) {
	case RULES_NONE:
	case RULES_GREETING:
	case RULES_THANKS:
	case RULES_YES:
	case RULES_NO:
		return false;
	default:
		return true;
	}
}

static int
decide_model(struct turn *t, const char *const *ids, size_t nids,
    enum rules_intent intent)
{
	struct llm_conv *conv = NULL;
	struct llm_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	if ((rc = build_conv(t, ids, nids, &conv)) != OV_OK)
		return rc;
	rc = llm_run(t->b->llm, conv, tools, NTOOLS, run_tool, t,
	    t->b->llm_budget_ms, &res);
	if (rc != OV_OK)
		log_warn("model for %s: %s (%s); %s", t->wa_id, ov_strerror(rc),
		    res.error, t->nreplies > 0 ? "keeping what its tools did" :
		    "answering by rules");
	if (t->nreplies > 0) {
		/* Its words only when they cannot carry a figure. */
		if (rc == OV_OK && res.text != NULL && !has_digit(res.text) &&
		    strlen(res.text) <= LEAD_MAX)
			prefix_first(t, res.text);
		rc = OV_OK;
	} else if (rc == OV_OK) {
		if (res.text != NULL && res.text[0] != '\0' &&
		    !has_digit(res.text) && !asks_for_data(intent))
			say(t, "%s", res.text);
		else
			rc = OV_EINVAL;   /* words of its own about data: rules */
	}
	llm_result_free(&res);
	llm_conv_free(conv);
	return rc;
}

/* ---- the turn ------------------------------------------------------- */

static void
first_name_of(const char *name, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	if (name == NULL)
		return;
	while (*name == ' ')
		name++;
	while (name[n] != '\0' && name[n] != ' ' && n + 1 < len)
		n++;
	memcpy(out, name, n);
	out[n] = '\0';
	/* Only letters make a name worth saying ("🔥🔥" is not). */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x80 && !((out[i] >= 'A' &&
		    out[i] <= 'Z') || (out[i] >= 'a' && out[i] <= 'z') ||
		    out[i] == '\'' || out[i] == '-')) {
			out[0] = '\0';
			return;
		}
}

/* Greeting and the CUIT question, around what was decided. */
static void
greet(struct turn *t, bool only_greeting, bool words)
{
	const char *last = jstr(t->profile, "greeted");
	bool first = !jtrue(t->profile, "intro");
	bool new_day = last == NULL || strcmp(last, t->today) != 0;
	bool ask_cuit = words && t->cust.cianbox_id == 0 &&
	    !jtrue(t->profile, "cuit_asked") && t->b->cb != NULL;
	char hello[96], lead[512];

	if (t->first_name[0] != '\0')
		snprintf(hello, sizeof(hello), "¡Hola %s!", t->first_name);
	else
		snprintf(hello, sizeof(hello), "¡Hola!");
	if (first) {
		snprintf(lead, sizeof(lead), "%s Soy Ovidio, el asistente virtual "
		    "de %s 👋 Te ayudo con productos, precios y stock, tu cuenta y "
		    "presupuestos.", hello, t->b->business);
	} else if (new_day) {
		snprintf(lead, sizeof(lead), "%s", hello);
	} else {
		lead[0] = '\0';
	}
	if (only_greeting && ask_cuit) {
		/* The CUIT question is this turn's one question. */
		replies_free(t);
		say(t, "%s%sPara mostrarte tus datos de cliente, ¿me pasás tu CUIT "
		    "o el e-mail de tu cuenta? Mientras tanto, contame qué "
		    "estás buscando.", lead, lead[0] ? "\n\n" : "");
		pset_bool(t->profile, "cuit_asked", true);
		ask_cuit = false;
	} else if (lead[0] != '\0') {
		prefix_first(t, lead);
	}
	if (ask_cuit && t->nreplies < REPLIES_MAX) {
		say(t, "Por cierto: si me pasás tu CUIT o el e-mail de tu cuenta, te "
		    "identifico como cliente 😉");
		pset_bool(t->profile, "cuit_asked", true);
	}
	pset_bool(t->profile, "intro", true);
	pset_str(t->profile, "greeted", t->today);
}

/* The turn's words from its messages; kinds without words noted. */
static bool
gather(struct turn *t, const struct wa_message *const *msgs, size_t n)
{
	size_t len = 0;
	bool any = false;

	t->text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct wa_message *m = msgs[i];
		const char *words = NULL;

		switch (m->kind) {
		case WA_TEXT:
		case WA_IMAGE:
		case WA_DOCUMENT:
			words = m->text;
			if (words == NULL)
				t->unsupported = t->picture = true;
			break;
		case WA_BUTTON_REPLY:
		case WA_LIST_REPLY:
		case WA_BUTTON:
			words = m->text;
			if (m->reply_id != NULL)
				snprintf(t->reply_id, sizeof(t->reply_id), "%s",
				    m->reply_id);
			any = true;
			break;
		case WA_REACTION:
			break;   /* a thumbs-up needs no answer */
		default:
			t->unsupported = true;
			break;
		}
		if ((words != NULL && words[0] != '\0') ||
		    (m->reply_id != NULL && m->kind != WA_REACTION)) {
			if (t->nparts < BOT_TURN_PARTS) {
				t->part_text[t->nparts] = words;
				t->part_id[t->nparts] = m->kind == WA_REACTION ?
				    NULL : m->reply_id;
				t->nparts++;
			}
		}
		if (words == NULL || words[0] == '\0')
			continue;
		any = true;
		if (len > 0 && len + 1 < sizeof(t->text))
			t->text[len++] = '\n';
		snprintf(t->text + len, sizeof(t->text) - len, "%s", words);
		len = strlen(t->text);
	}
	return any;
}

static int
load_customer(struct turn *t, const struct wa_message *m)
{
	int rc;

	rc = store_customer_get(t->b->st, t->wa_id, &t->cust, &t->cust_found);
	if (rc != OV_OK)
		return rc;
	if (!t->cust_found) {
		memset(&t->cust, 0, sizeof(t->cust));
		snprintf(t->cust.wa_id, sizeof(t->cust.wa_id), "%s", t->wa_id);
	}
	if (t->cust.profile != NULL)
		t->profile = cJSON_Parse(t->cust.profile);
	if (!cJSON_IsObject(t->profile)) {
		cJSON_Delete(t->profile);
		t->profile = cJSON_CreateObject();
		if (t->profile == NULL)
			return OV_ENOMEM;
	}
	first_name_of(t->cust.name != NULL ? t->cust.name : m->profile_name,
	    t->first_name, sizeof(t->first_name));
	return OV_OK;
}

static int
save_customer(struct turn *t)
{
	char *json = cJSON_PrintUnformatted(t->profile);
	int rc;

	if (json == NULL)
		return OV_ENOMEM;
	free(t->cust.profile);
	t->cust.profile = json;
	rc = store_customer_put(t->b->st, &t->cust);
	if (rc != OV_OK)
		log_error("cannot save the conversation state of %s: %s",
		    t->wa_id, ov_strerror(rc));
	return rc;
}

/* Who is writing: the linked customer, else the synced clients by phone
 * (lib/customer links and verifies). Before the record is loaded, since
 * linking writes it. */
static void
identify(struct turn *t)
{
	struct customer_identity id;
	int rc;

	rc = customer_identify(t->b->st, t->b->cb, t->wa_id, &id);
	if (rc != OV_OK) {
		log_warn("cannot identify %s: %s", t->wa_id, ov_strerror(rc));
		return;
	}
	if (id.how == CUSTOMER_BY_PHONE)
		log_info("%s identified by phone as Cianbox customer %lld",
		    t->wa_id, (long long)id.cianbox_id);
	t->identity = id;
}

/* Blue ticks and "typing…": nice to have, so one quick try only. */
static void
mark_read(struct bot *b, const char *id)
{
	int attempts = b->wa.max_attempts;
	long budget = b->wa.budget_ms;

	b->wa.max_attempts = 1;
	b->wa.budget_ms = 3000;
	wa_mark_read(&b->wa, id, true, NULL);
	b->wa.max_attempts = attempts;
	b->wa.budget_ms = budget;
}

int
bot_turn(struct bot *b, const struct wa_message *const *msgs, size_t n)
{
	struct turn t;
	const char *ids[64];
	struct tm tm;
	time_t now;
	int rc = OV_OK;
	bool words, only_greeting = false;

	if (n == 0)
		return OV_OK;
	memset(&t, 0, sizeof(t));
	t.b = b;
	t.wa_id = msgs[0]->from;
	t.now = clock_now();
	now = (time_t)t.now;
	localtime_r(&now, &tm);
	strftime(t.today, sizeof(t.today), "%Y-%m-%d", &tm);
	for (size_t i = 0; i < n && i < 64; i++)
		ids[i] = msgs[i]->id;

	identify(&t);
	if ((rc = load_customer(&t, msgs[n - 1])) != OV_OK)
		goto out;
	note_identity(&t, &t.identity);
	if (jint(t.profile, "handoff_until") > t.now) {
		log_info("%s is with a salesperson; no reply", t.wa_id);
		goto out;
	}
	words = gather(&t, msgs, n);
	if (!words && !t.unsupported)
		goto out;   /* reactions only */
	mark_read(b, msgs[n - 1]->id);

	if (!words && t.picture) {
		say(&t, "¡Gracias! Por ahora no puedo ver imágenes ni archivos 🙏 "
		    "¿Me contás en un mensaje qué necesitás?");
	} else if (!words) {
		say(&t, "Por ahora solo puedo leer mensajes de texto 🙏 ¿Me lo "
		    "escribís?");
	} else {
		struct rules_result r;

		rules_parse(t.text, t.reply_id[0] ? t.reply_id : NULL, &r);
		only_greeting = r.intent == RULES_GREETING;
		if (llm_configured(b->llm) && !only_greeting &&
		    t.reply_id[0] == '\0') {
			if (decide_model(&t, ids, n < 64 ? n : 64, r.intent) !=
			    OV_OK) {
				replies_free(&t);
				decide_rules_turn(&t);
			}
		} else {
			decide_rules_turn(&t);
		}
	}
	greet(&t, only_greeting, words);

	/* The state first: a crash after sending must not lose it. */
	if ((rc = save_customer(&t)) != OV_OK)
		goto out;
	for (size_t i = 0; i < t.nreplies; i++) {
		enum outbox_outcome oc;

		rc = outbox_send(&b->ob, t.wa_id, t.replies[i].kind,
		    t.replies[i].payload, &oc);
		if (rc != OV_OK) {
			log_error("reply to %s lost for now: %s", t.wa_id,
			    ov_strerror(rc));
			goto out;
		}
	}
out:
	replies_free(&t);
	cJSON_Delete(t.profile);
	store_customer_clear(&t.cust);
	return rc;
}

int
bot_drain_outbox(struct bot *b, size_t *sent, size_t *left)
{
	return outbox_drain(&b->ob, sent, left);
}

/* ---- open / close --------------------------------------------------- */

int
bot_open(struct bot **out, const struct config *cfg, struct store *st,
    char *err, size_t errlen)
{
	struct bot *b;
	int rc;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return OV_ENOMEM;
	}
	b->cfg = cfg;
	b->st = st;
	if ((rc = wa_client_init(&b->wa, cfg, err, errlen)) != OV_OK)
		goto fail;
	b->wa_ready = true;
	if ((rc = outbox_init(&b->ob, cfg, st, &b->wa, err, errlen)) != OV_OK)
		goto fail;
	b->ob.on_sent = on_sent;
	b->ob.on_sent_arg = b;
	if ((rc = llm_open(cfg, &b->llm, err, errlen)) != OV_OK)
		goto fail;
	if ((rc = mail_open(cfg, &b->mail, err, errlen)) != OV_OK)
		goto fail;
	if (config_get(cfg, "CIANBOX_ACCOUNT") != NULL &&
	    (rc = cianbox_open(&b->cb, cfg, st, err, errlen)) != OV_OK)
		goto fail;
	if ((rc = quote_pdf_brand_load(cfg, &b->brand)) != OV_OK) {
		snprintf(err, errlen, "cannot load the quote branding");
		goto fail;
	}
	if ((rc = config_get_long(cfg, "HANDOFF_HOURS", 4, 0, 24 * 30,
	    &b->handoff_hours, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "LLM_BUDGET_MS", 20000, 100, 600000,
	    &b->llm_budget_ms, err, errlen)) != OV_OK ||
	    (rc = quote_ttl_days(cfg, &b->ttl_days, err, errlen)) != OV_OK)
		goto fail;
	b->vendedor = config_get(cfg, "VENDEDOR_EMAIL");
	b->compras = config_get(cfg, "EMAIL_TO_COMPRAS");
	b->pdf_dir = config_get(cfg, "PRESUPUESTOS_DIR");
	b->business = config_get(cfg, "BUSINESS_NAME");
	if (b->business == NULL)
		b->business = "GRUPO SER";
	quote_use_timezone(cfg);
	*out = b;
	return OV_OK;
fail:
	bot_close(b);
	return rc;
}

void
bot_close(struct bot *b)
{
	if (b == NULL)
		return;
	if (b->wa_ready)
		wa_client_free(&b->wa);
	llm_close(b->llm);
	mail_close(b->mail);
	cianbox_close(b->cb);
	quote_pdf_brand_free(b->brand);
	free(b);
}
