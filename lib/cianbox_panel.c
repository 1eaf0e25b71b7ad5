#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cianbox.h"
#include "cianbox_http.h"
#include "cianbox_panel.h"
#include "config.h"
#include "err.h"
#include "log.h"

#define ERR_MAX 512
#define CELL_MAX 4096   /* longest cell text kept */

struct cianbox_panel {
	struct cianbox_http *http;
	char base[1024];       /* {CIANBOX_URL}/{account} */
	char base_path[128];   /* /{account}, for the logs */
	char *user, *pass;
	char err[ERR_MAX];
};

/* Columns read, by normalised header text. */
enum col { COL_MARCA, COL_CODIGO, COL_DESC, COL_STOCK, COL_FINAL, COL_NETO,
	COL__N };
static const char *const col_names[COL__N] = {
	"marca", "codigo", "descripcion", "stock", "precio final", "precio neto"
};
/* The word (its start) that finds a column when the header is worded
 * otherwise: "P. Final", "Precio Final c/IVA", "Neto", "Cód.", "Descrip.". */
static const char *const col_words[COL__N] = {
	"marca", "cod", "descrip", "stock", "final", "neto"
};

/* ---- numbers ------------------------------------------------------------ */

int
cianbox_panel_number(const char *s, double *out)
{
	double ip = 0, frac = 0, scale = 1;
	bool neg = false, any = false;
	size_t group = 0, ngroups = 0;

	if (s == NULL)
		return OV_EINVAL;
	while (*s == ' ')
		s++;
	if (*s == '-') {
		neg = true;
		s++;
	}
	/* Integer part: digits, '.' between groups of exactly three. */
	for (; *s != '\0' && *s != ',' && *s != ' '; s++) {
		if (*s >= '0' && *s <= '9') {
			if (ip > 1e15)
				return OV_EINVAL;
			ip = ip * 10 + (*s - '0');
			group++;
			any = true;
		} else if (*s == '.') {
			if (group == 0 || (ngroups == 0 && group > 3) ||
			    (ngroups > 0 && group != 3))
				return OV_EINVAL;
			ngroups++;
			group = 0;
		} else {
			return OV_EINVAL;
		}
	}
	if (!any || (ngroups > 0 && group != 3))
		return OV_EINVAL;
	if (*s == ',') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return OV_EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (scale < 1e-9)
				return OV_EINVAL;
			scale /= 10;
			frac += (*s - '0') * scale;
		}
	}
	while (*s == ' ')
		s++;
	if (*s != '\0')
		return OV_EINVAL;
	*out = neg ? -(ip + frac) : ip + frac;
	return OV_OK;
}

int
cianbox_panel_price(const char *s, double *out, char moneda[4])
{
	static const struct {
		const char *prefix, *code;
	} currencies[] = {
		{ "u$s", "USD" }, { "us$", "USD" }, { "usd", "USD" },
		{ "u$d", "USD" }, { "ars", "ARS" }, { "$", "ARS" },
	};
	double v;

	moneda[0] = '\0';
	if (s == NULL)
		return OV_EINVAL;
	while (*s == ' ')
		s++;
	for (size_t i = 0; i < sizeof(currencies) / sizeof(currencies[0]); i++) {
		size_t n = strlen(currencies[i].prefix);

		if (strncasecmp(s, currencies[i].prefix, n) != 0)
			continue;
		if (cianbox_panel_number(s + n, &v) != OV_OK || v < 0)
			return OV_EINVAL;
		*out = v;
		memcpy(moneda, currencies[i].code, 4);
		return OV_OK;
	}
	return OV_EINVAL;
}

/* ---- text of a cell ------------------------------------------------------- */

/* The text of node, blanks (including no-break spaces) collapsed to one
 * space, trimmed, at most CELL_MAX bytes. */
static void
node_text(xmlNode *node, char *dst, size_t n)
{
	xmlChar *raw = xmlNodeGetContent(node);
	const unsigned char *s = raw;
	size_t len = 0;
	bool space = false, cut = false;

	dst[0] = '\0';
	if (raw == NULL)
		return;
	for (; *s != '\0'; s++) {
		bool blank = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r';

		if (s[0] == 0xC2 && s[1] == 0xA0) {   /* &nbsp; */
			blank = true;
			s++;
		}
		if (blank) {
			space = len > 0;
			continue;
		}
		if (space && len + 1 < n)
			dst[len++] = ' ';
		space = false;
		if (len + 1 < n) {
			dst[len++] = (char)*s;
		} else {
			cut = true;
			break;
		}
	}
	/* Cut short: never end inside a UTF-8 sequence (*s is the first
	 * byte left out). */
	if (cut)
		while (len > 0 && (*s & 0xC0) == 0x80)
			s--, len--;
	dst[len] = '\0';
	xmlFree(raw);
}

/* Header text -> lower case ASCII without accents or trailing ".:". */
static void
normalise_header(const char *s, char *out, size_t n)
{
	static const struct {
		const char *utf8;
		char ascii;
	} accents[] = {
		{ "\xc3\xa1", 'a' }, { "\xc3\xa9", 'e' }, { "\xc3\xad", 'i' },
		{ "\xc3\xb3", 'o' }, { "\xc3\xba", 'u' }, { "\xc3\xbc", 'u' },
		{ "\xc3\xb1", 'n' }, { "\xc3\x81", 'a' }, { "\xc3\x89", 'e' },
		{ "\xc3\x8d", 'i' }, { "\xc3\x93", 'o' }, { "\xc3\x9a", 'u' },
		{ "\xc3\x91", 'n' },
	};
	size_t len = 0;

	while (*s != '\0' && len + 1 < n) {
		bool done = false;

		for (size_t i = 0; i < sizeof(accents) / sizeof(accents[0]); i++) {
			if (strncmp(s, accents[i].utf8, 2) == 0) {
				out[len++] = accents[i].ascii;
				s += 2;
				done = true;
				break;
			}
		}
		if (!done)
			out[len++] = (char)tolower((unsigned char)*s++);
	}
	while (len > 0 && (out[len - 1] == '.' || out[len - 1] == ':'))
		len--;
	out[len] = '\0';
}

/* ---- the DOM walk ---------------------------------------------------- */

static bool
is_element(const xmlNode *n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE &&
	    xmlStrcasecmp(n->name, (const xmlChar *)name) == 0;
}

/* Is there an <input name="clave"> (the login form) under node? */
static bool
has_login_form(xmlNode *node)
{
	for (xmlNode *c = node; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (is_element(c, "input")) {
			xmlChar *name = xmlGetProp(c, (const xmlChar *)"name");
			bool hit = name != NULL &&
			    xmlStrcasecmp(name, (const xmlChar *)"clave") == 0;

			xmlFree(name);
			if (hit)
				return true;
		}
		if (has_login_form(c->children))
			return true;
	}
	return false;
}

/* Rows of a table in document order, through thead/tbody/tfoot but not
 * into nested tables. */
struct rowlist {
	xmlNode **v;
	size_t n, cap;
};

static int
collect_rows(xmlNode *node, struct rowlist *rl)
{
	for (xmlNode *c = node; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (is_element(c, "tr")) {
			if (rl->n == rl->cap) {
				size_t cap = rl->cap ? rl->cap * 2 : 256;
				xmlNode **v;

				if (rl->n >= CIANBOX_PANEL_ROWS_MAX + 1)
					return OV_ETOOBIG;
				if ((v = realloc(rl->v, cap * sizeof(*v))) == NULL)
					return OV_ENOMEM;
				rl->v = v;
				rl->cap = cap;
			}
			rl->v[rl->n++] = c;
		} else if (is_element(c, "thead") || is_element(c, "tbody") ||
		    is_element(c, "tfoot")) {
			int rc = collect_rows(c->children, rl);
			if (rc != OV_OK)
				return rc;
		}
	}
	return OV_OK;
}

/* Cells (td or th) of a row, at most max; returns how many. */
static size_t
row_cells(xmlNode *tr, xmlNode **cells, size_t max, bool *has_th)
{
	size_t n = 0;

	*has_th = false;
	for (xmlNode *c = tr->children; c != NULL; c = c->next) {
		if (is_element(c, "th"))
			*has_th = true;
		else if (!is_element(c, "td"))
			continue;
		if (n < max)
			cells[n] = c;
		n++;
	}
	return n;
}

#define CELLS_MAX 64

/* True when a word of the normalised header starts with word ("final"
 * in "precio final c/iva", "cod" in "cod. interno"). */
static bool
header_has_word(const char *norm, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = norm; *p != '\0';) {
		size_t n = 0;

		while (p[n] != '\0' && isalnum((unsigned char)p[n]))
			n++;
		if (n >= wl && strncmp(p, word, wl) == 0)
			return true;
		p += n;
		while (*p != '\0' && !isalnum((unsigned char)*p))
			p++;
	}
	return false;
}

/* Map columns from a header row: a header named as the column wins, then
 * the first header holding the column's word; a cell serves one column
 * only. Returns how many wanted columns it has. */
static int
map_header(xmlNode *tr, int idx[COL__N], char *missing, size_t mlen)
{
	xmlNode *cells[CELLS_MAX];
	char norm[CELLS_MAX][128];
	bool th, used[CELLS_MAX] = { false };
	size_t n = row_cells(tr, cells, CELLS_MAX, &th);
	int found = 0;

	for (int k = 0; k < COL__N; k++)
		idx[k] = -1;
	if (n > CELLS_MAX)
		n = CELLS_MAX;
	for (size_t i = 0; i < n; i++) {
		char text[256];

		node_text(cells[i], text, sizeof(text));
		normalise_header(text, norm[i], sizeof(norm[i]));
	}
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < COL__N; k++)
			for (size_t i = 0; i < n && idx[k] < 0; i++) {
				if (used[i])
					continue;
				if (pass == 0 ? strcmp(norm[i], col_names[k]) != 0 :
				    !header_has_word(norm[i], col_words[k]))
					continue;
				idx[k] = (int)i;
				used[i] = true;
				found++;
			}
	missing[0] = '\0';
	for (int k = 0; k < COL__N; k++)
		if (idx[k] < 0) {
			snprintf(missing, mlen, "%s", col_names[k]);
			break;
		}
	return found;
}

static bool
clean_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Read one body row into r. */
static int
read_row(xmlNode *tr, const int idx[COL__N], size_t rowno,
    struct cianbox_panel_row *r, char *err, size_t errlen)
{
	xmlNode *cells[CELLS_MAX];
	char text[COL__N][CELL_MAX];
	char mf[4], mn[4];
	bool th;
	size_t n = row_cells(tr, cells, CELLS_MAX, &th);
	xmlChar *id;
	double ratio;

	memset(r, 0, sizeof(*r));
	for (int k = 0; k < COL__N; k++) {
		if ((size_t)idx[k] >= n || idx[k] >= CELLS_MAX) {
			fail(err, errlen, "product row %zu has %zu cells, the "
			    "table has more columns", rowno, n);
			return OV_EPARSE;
		}
		node_text(cells[idx[k]], text[k], sizeof(text[k]));
		if (!clean_text(text[k])) {
			fail(err, errlen, "product row %zu: control characters "
			    "in %s", rowno, col_names[k]);
			return OV_EPARSE;
		}
	}
	if (text[COL_CODIGO][0] == '\0' ||
	    strlen(text[COL_CODIGO]) >= sizeof(r->codigo) ||
	    strlen(text[COL_MARCA]) >= sizeof(r->marca)) {
		fail(err, errlen, "product row %zu: code missing or too long",
		    rowno);
		return OV_EPARSE;
	}
	memcpy(r->codigo, text[COL_CODIGO], strlen(text[COL_CODIGO]) + 1);
	memcpy(r->marca, text[COL_MARCA], strlen(text[COL_MARCA]) + 1);
	cianbox_copy_text(r->descripcion, sizeof(r->descripcion), text[COL_DESC]);
	if (cianbox_panel_number(text[COL_STOCK], &r->stock) != OV_OK) {
		fail(err, errlen, "product row %zu (%.40s): stock \"%.40s\" is "
		    "not a number", rowno, r->codigo, text[COL_STOCK]);
		return OV_EPARSE;
	}
	if (cianbox_panel_price(text[COL_FINAL], &r->precio_final, mf) != OV_OK ||
	    cianbox_panel_price(text[COL_NETO], &r->precio_neto, mn) != OV_OK) {
		fail(err, errlen, "product row %zu (%.40s): price \"%.40s\" / "
		    "\"%.40s\" is not a price with its currency", rowno,
		    r->codigo, text[COL_FINAL], text[COL_NETO]);
		return OV_EPARSE;
	}
	if (strcmp(mf, mn) != 0) {
		fail(err, errlen, "product row %zu (%.40s): final and net price "
		    "in different currencies", rowno, r->codigo);
		return OV_EPARSE;
	}
	memcpy(r->moneda, mf, sizeof(r->moneda));
	if (r->precio_final == 0 && r->precio_neto == 0) {
		r->iva = 0;
	} else if (r->precio_neto <= 0) {
		fail(err, errlen, "product row %zu (%.40s): net price is 0",
		    rowno, r->codigo);
		return OV_EPARSE;
	} else {
		/* Prices are rounded to cents, so allow a little slack. */
		ratio = r->precio_final / r->precio_neto;
		if (fabs(ratio - 1.21) <= 0.005 + 0.011 / r->precio_neto)
			r->iva = 21;
		else if (fabs(ratio - 1.105) <= 0.005 + 0.011 / r->precio_neto)
			r->iva = 10.5;
		else {
			fail(err, errlen, "product row %zu (%.40s): final/net "
			    "%.4f is neither 21%% nor 10.5%% IVA", rowno,
			    r->codigo, ratio);
			return OV_EPARSE;
		}
	}
	id = xmlGetProp(tr, (const xmlChar *)"data-id");
	if (id != NULL) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll((const char *)id, &end, 10);
		if (errno == 0 && end != (char *)id && *end == '\0' && v > 0)
			r->id = v;
		xmlFree(id);
	}
	return OV_OK;
}

/* A body row that is only a message ("Sin resultados"): one spanning cell. */
static bool
message_row(xmlNode *tr)
{
	xmlNode *cells[2];
	bool th;
	size_t n = row_cells(tr, cells, 2, &th);
	xmlChar *span;
	bool spans;

	if (n != 1)
		return n == 0;
	span = xmlGetProp(cells[0], (const xmlChar *)"colspan");
	spans = span != NULL;
	xmlFree(span);
	return spans;
}

static int
parse_table(xmlNode *table, struct cianbox_panel_rows *out, char *err,
    size_t errlen)
{
	struct rowlist rl = { NULL, 0, 0 };
	int idx[COL__N];
	char missing[32];
	size_t header = 0, rowno = 0;
	bool have_header = false;
	int rc;

	if ((rc = collect_rows(table->children, &rl)) != OV_OK) {
		fail(err, errlen, "the product table is too large");
		goto out;
	}
	for (size_t i = 0; i < rl.n; i++) {
		xmlNode *cells[1];
		bool th;

		row_cells(rl.v[i], cells, 1, &th);
		if (th) {
			header = i;
			have_header = true;
			break;
		}
	}
	if (!have_header) {
		fail(err, errlen, "the product table has no header row");
		rc = OV_EPARSE;
		goto out;
	}
	if (map_header(rl.v[header], idx, missing, sizeof(missing)) < COL__N) {
		fail(err, errlen, "the product table changed: no \"%s\" column",
		    missing);
		rc = OV_EPARSE;
		goto out;
	}
	if ((out->v = calloc(rl.n, sizeof(*out->v))) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	for (size_t i = header + 1; i < rl.n; i++) {
		if (message_row(rl.v[i]))
			continue;
		rowno++;
		rc = read_row(rl.v[i], idx, rowno, &out->v[out->n], err, errlen);
		if (rc != OV_OK)
			goto out;
		out->n++;
	}
	if (out->n == 0) {
		fail(err, errlen, "the product table has no rows");
		rc = OV_ENOTFOUND;
		goto out;
	}
	rc = OV_OK;
out:
	free(rl.v);
	if (rc != OV_OK)
		cianbox_panel_rows_free(out);
	return rc;
}

/* Tables under node, in document order. */
static int
each_table(xmlNode *node, xmlNode **found, size_t max, size_t *n)
{
	for (xmlNode *c = node; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (is_element(c, "table") && *n < max)
			found[(*n)++] = c;
		each_table(c->children, found, max, n);
	}
	return OV_OK;
}

int
cianbox_panel_parse(const char *html, size_t len,
    struct cianbox_panel_rows *out, char *err, size_t errlen)
{
	htmlDocPtr doc = NULL;
	xmlNode *root, *tables[64], *pick = NULL;
	size_t ntables = 0;
	int rc = OV_EPARSE, best = -1;

	out->v = NULL;
	out->n = 0;
	err[0] = '\0';
	if (html == NULL || len == 0 || len > CIANBOX_PANEL_MAX_BYTES ||
	    len > (size_t)INT32_MAX) {
		fail(err, errlen, "empty or oversized panel page");
		return OV_EPARSE;
	}
	doc = htmlReadMemory(html, (int)len, "panel.html", "UTF-8",
	    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
	    HTML_PARSE_NONET);
	if (doc == NULL || (root = xmlDocGetRootElement(doc)) == NULL) {
		fail(err, errlen, "the panel page is not HTML");
		goto out;
	}
	if (has_login_form(root)) {
		fail(err, errlen, "the panel answered with its login form");
		rc = OV_EAUTH;
		goto out;
	}
	each_table(root, tables, 64, &ntables);
	/* The table with the most of our columns: the product list, or the
	 * one it became. */
	for (size_t i = 0; i < ntables; i++) {
		struct rowlist rl = { NULL, 0, 0 };
		int idx[COL__N], got = 0;
		char missing[32];

		if (collect_rows(tables[i]->children, &rl) == OV_OK) {
			for (size_t r = 0; r < rl.n; r++) {
				xmlNode *cells[1];
				bool th;

				row_cells(rl.v[r], cells, 1, &th);
				if (th) {
					got = map_header(rl.v[r], idx, missing,
					    sizeof(missing));
					break;
				}
			}
		}
		free(rl.v);
		if (got > best) {
			best = got;
			pick = tables[i];
		}
	}
	if (pick == NULL) {
		fail(err, errlen, "no product table in the panel page");
		goto out;
	}
	rc = parse_table(pick, out, err, errlen);
out:
	if (doc != NULL)
		xmlFreeDoc(doc);
	return rc;
}

void
cianbox_panel_rows_free(struct cianbox_panel_rows *rows)
{
	free(rows->v);
	rows->v = NULL;
	rows->n = 0;
}

/* ---- the session --------------------------------------------------------- */

const char *
cianbox_panel_last_error(const struct cianbox_panel *p)
{
	return p->err;
}

int
cianbox_panel_open(struct cianbox_panel **out, const struct config *cfg,
    char *err, size_t errlen)
{
	struct cianbox_panel *p;
	struct cianbox_http_opts ho;
	const char *url, *account, *user, *pass, *dir;
	char cookies[2100];
	long connect_ms, total_ms, attempts, backoff;
	size_t ulen;
	int rc;

	*out = NULL;
	if ((rc = config_require(cfg, "CIANBOX_ACCOUNT", &account, err,
	    errlen)) != OV_OK ||
	    (rc = config_require(cfg, "CIANBOX_USER", &user, err, errlen)) != OV_OK ||
	    (rc = config_require(cfg, "CIANBOX_PASS", &pass, err, errlen)) != OV_OK ||
	    (rc = config_require(cfg, "CIANBOX_URL", &url, err, errlen)) != OV_OK ||
	    (rc = config_require(cfg, "OVIDIO_DATA_DIR", &dir, err, errlen)) != OV_OK)
		return rc;
	if ((rc = config_get_long(cfg, "CIANBOX_CONNECT_TIMEOUT_MS", 5000, 100,
	    120000, &connect_ms, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "CIANBOX_TIMEOUT_MS", 20000, 100, 600000,
	    &total_ms, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "CIANBOX_ATTEMPTS", 3, 1, 10, &attempts,
	    err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "CIANBOX_BACKOFF_MS", 500, 0, 60000,
	    &backoff, err, errlen)) != OV_OK)
		return rc;
	for (const char *a = account; *a != '\0'; a++)
		if (!(isalnum((unsigned char)*a) || *a == '_' || *a == '-' ||
		    *a == '.') || a - account >= 64) {
			snprintf(err, errlen, "configuration key CIANBOX_ACCOUNT "
			    "must be letters, digits, '.', '_' or '-'");
			return OV_ECONFIG;
		}
	if ((strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
	    strlen(url) > 512 || strpbrk(url, "?#@ ") != NULL) {
		snprintf(err, errlen, "configuration key CIANBOX_URL must be an "
		    "http(s) URL without query or credentials");
		return OV_ECONFIG;
	}
	if (strlen(dir) > 2000) {
		snprintf(err, errlen, "configuration key OVIDIO_DATA_DIR is too long");
		return OV_ECONFIG;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return OV_ENOMEM;
	ulen = strlen(url);
	while (ulen > 0 && url[ulen - 1] == '/')
		ulen--;
	snprintf(p->base_path, sizeof(p->base_path), "/%s", account);
	snprintf(p->base, sizeof(p->base), "%.*s%s", (int)ulen, url, p->base_path);
	snprintf(cookies, sizeof(cookies), "%s/cianbox-panel.cookies", dir);
	p->user = strdup(user);
	p->pass = strdup(pass);
	memset(&ho, 0, sizeof(ho));
	ho.connect_timeout_ms = connect_ms;
	ho.timeout_ms = total_ms;
	ho.max_bytes = CIANBOX_PANEL_MAX_BYTES;
	ho.attempts = (int)attempts;
	ho.backoff_ms = backoff;
	ho.max_redirs = 3;          /* login answers with a redirect */
	ho.cookie_file = cookies;
	if (p->user == NULL || p->pass == NULL) {
		rc = OV_ENOMEM;
		snprintf(err, errlen, "out of memory");
	} else if ((rc = cianbox_http_open(&p->http, &ho)) != OV_OK) {
		snprintf(err, errlen, "cannot set up HTTP for the panel (cookie "
		    "file %s): %s", cookies, ov_strerror(rc));
	}
	if (rc != OV_OK) {
		cianbox_panel_close(p);
		return rc;
	}
	*out = p;
	return OV_OK;
}

void
cianbox_panel_close(struct cianbox_panel *p)
{
	if (p == NULL)
		return;
	cianbox_http_close(p->http);
	free(p->user);
	if (p->pass != NULL) {
		memset(p->pass, 0, strlen(p->pass));
		free(p->pass);
	}
	free(p);
}

static int
post(struct cianbox_panel *p, const char *page, const char *form,
    struct cianbox_http_resp *resp)
{
	char url[1200], path[200], herr[ERR_MAX];
	int rc;

	snprintf(url, sizeof(url), "%s/%s", p->base, page);
	snprintf(path, sizeof(path), "%s/%s", p->base_path, page);
	rc = cianbox_http_request(p->http, url, path, form, resp, herr,
	    sizeof(herr));
	if (rc != OV_OK) {
		snprintf(p->err, sizeof(p->err), "%s", herr);
		return rc;
	}
	if (resp->status != 200) {
		snprintf(p->err, sizeof(p->err), "%s answered HTTP %ld", path,
		    resp->status);
		cianbox_http_resp_clear(resp);
		return OV_EREMOTE;
	}
	return OV_OK;
}

static int
panel_login(struct cianbox_panel *p)
{
	struct cianbox_buf form = { NULL, 0, 0 };
	struct cianbox_http_resp resp = { 0, NULL, 0 };
	htmlDocPtr doc = NULL;
	xmlNode *root;
	int rc;

	if ((rc = cianbox_buf_param(&form, "usuario", p->user)) != OV_OK ||
	    (rc = cianbox_buf_param(&form, "clave", p->pass)) != OV_OK)
		goto out;
	if ((rc = post(p, "login.php", form.p, &resp)) != OV_OK)
		goto out;
	doc = htmlReadMemory(resp.body, (int)(resp.len > INT32_MAX ? 0 : resp.len),
	    "login.html", "UTF-8", HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
	    HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
	root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
	if (root != NULL && has_login_form(root)) {
		snprintf(p->err, sizeof(p->err), "the Cianbox panel refused the "
		    "user or password");
		rc = OV_EAUTH;
		goto out;
	}
	log_info("logged in to the Cianbox panel");
	rc = OV_OK;
out:
	if (doc != NULL)
		xmlFreeDoc(doc);
	cianbox_http_resp_clear(&resp);
	cianbox_buf_free(&form);
	return rc;
}

int
cianbox_panel_productos(struct cianbox_panel *p, struct cianbox_panel_rows *out)
{
	struct cianbox_http_resp resp = { 0, NULL, 0 };
	char perr[ERR_MAX - 32];
	int rc = OV_EAUTH;

	out->v = NULL;
	out->n = 0;
	p->err[0] = '\0';
	/* The kept session first; on the login form, log in once. */
	for (int round = 0; round < 2; round++) {
		if (round == 1 && (rc = panel_login(p)) != OV_OK)
			return rc;
		if ((rc = post(p, "content.php", "sec=pv_productos", &resp)) != OV_OK)
			return rc;
		rc = cianbox_panel_parse(resp.body, resp.len, out, perr,
		    sizeof(perr));
		cianbox_http_resp_clear(&resp);
		if (rc != OV_EAUTH)
			break;
		log_debug("Cianbox panel session expired");
	}
	if (rc == OV_EAUTH)
		snprintf(p->err, sizeof(p->err), "the Cianbox panel keeps "
		    "answering with its login form");
	else if (rc != OV_OK)
		snprintf(p->err, sizeof(p->err), "Cianbox panel: %s", perr);
	else
		log_debug("Cianbox panel: %zu product(s)", out->n);
	return rc;
}
