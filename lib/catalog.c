/*
 * catalog.c - product documents, search and alternatives over the store's
 * productos_cache (see catalog.h). The store matches tokens exactly; this
 * module decides which tokens, in which combinations, and how to rank.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "cianbox.h"
#include "cianbox_panel.h"
#include "err.h"
#include "log.h"
#include "store.h"

#define CANDIDATES_MAX 160    /* products looked at per search */
#define FETCH_MAX 64          /* asked of the store per token set */
#define ALT_FETCH 100         /* candidates for alternatives, per query */

/* ---- small helpers ------------------------------------------------------- */

/* Money as cents, rounding half up on the decimal text (as lib/quote). */
static int
to_cents(double v, int64_t *out)
{
	char buf[64], *dot, *end;
	long long whole, frac;

	if (!isfinite(v) || v < 0 ||
	    v > (double)CATALOG_PRICE_MAX_CENTS / 100.0)
		return OV_EINVAL;
	snprintf(buf, sizeof(buf), "%.6f", v);
	if ((dot = strchr(buf, '.')) == NULL)
		return OV_EINVAL;
	*dot = '\0';
	errno = 0;
	whole = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || whole < 0)
		return OV_EINVAL;
	frac = strtoll(dot + 1, &end, 10);
	if (errno != 0 || *end != '\0' || frac < 0 || end - (dot + 1) != 6)
		return OV_EINVAL;
	*out = (int64_t)whole * 100 + frac / 10000 + (frac % 10000 >= 5000);
	return OV_OK;
}

/* IVA as tenths of a percent from 21 / 10.5 or 1.21 / 1.105. */
static int
to_iva_tenths(double v, int *out)
{
	long long t;

	if (!isfinite(v) || v <= 0 || v > 100)
		return OV_EINVAL;
	t = v < 2 ? llround((v - 1.0) * 1000.0) : llround(v * 10.0);
	if (t != 210 && t != 105)
		return OV_EINVAL;
	*out = (int)t;
	return OV_OK;
}

static void
fields_of(const struct catalog_product *p, struct catalog_fields *f)
{
	f->codigo = p->codigo;
	f->nombre = p->nombre;
	f->marca = p->marca;
	f->categoria = p->categoria;
	f->descripcion = p->descripcion;
}

int64_t
catalog_product_price_cents(const struct catalog_product *p)
{
	return p->oferta && p->oferta_cents > 0 ? p->oferta_cents :
	    p->neto_cents;
}

bool
catalog_product_in_stock(const struct catalog_product *p)
{
	return p->stock > 0;
}

/* final from net and IVA when Cianbox gave none. */
static int64_t
with_iva(int64_t neto, int iva_tenths)
{
	return (neto * (1000 + iva_tenths) + 500) / 1000;
}

/* ---- from Cianbox ----------------------------------------------------------- */

int
catalog_product_from_cianbox(const struct cianbox_producto *in, int64_t now,
    struct catalog_product *out)
{
	memset(out, 0, sizeof(*out));
	if (in->id <= 0 || !in->vigente)
		return OV_EINVAL;
	out->id = in->id;
	catalog_text_clean(out->codigo, sizeof(out->codigo), in->codigo);
	catalog_text_clean(out->codigo_barras, sizeof(out->codigo_barras),
	    in->codigo_barras);
	catalog_text_clean(out->nombre, sizeof(out->nombre),
	    in->nombre[0] != '\0' ? in->nombre : in->descripcion);
	catalog_text_clean(out->descripcion, sizeof(out->descripcion), in->descripcion);
	catalog_text_clean(out->marca, sizeof(out->marca), in->marca);
	catalog_text_clean(out->categoria, sizeof(out->categoria), in->categoria);
	catalog_text_clean(out->updated, sizeof(out->updated), in->updated);
	if (out->nombre[0] == '\0')
		return OV_EINVAL;
	if (to_cents(in->precio_neto, &out->neto_cents) != OV_OK ||
	    to_cents(in->precio_final, &out->final_cents) != OV_OK)
		return OV_EINVAL;
	if (to_iva_tenths(in->iva, &out->iva_tenths) != OV_OK) {
		if (out->neto_cents != 0 || out->final_cents != 0)
			return OV_EINVAL;
		out->iva_tenths = 210;    /* unpriced: the common rate */
	}
	if (out->final_cents == 0)
		out->final_cents = with_iva(out->neto_cents, out->iva_tenths);
	out->oferta = in->oferta && in->precio_oferta > 0 &&
	    to_cents(in->precio_oferta, &out->oferta_cents) == OV_OK;
	if (!out->oferta)
		out->oferta_cents = 0;
	out->stock = isfinite(in->stock) && fabs(in->stock) < 1e12 ?
	    in->stock : 0;
	memcpy(out->moneda, in->id_moneda == 1 ? "ARS" : "USD", 4);
	memcpy(out->source, "api", 4);
	out->synced_at = now;
	return OV_OK;
}

int
catalog_product_from_panel(const struct cianbox_panel_row *in, int64_t now,
    struct catalog_product *out)
{
	memset(out, 0, sizeof(*out));
	if (in->id <= 0)
		return OV_EINVAL;
	out->id = in->id;
	catalog_text_clean(out->codigo, sizeof(out->codigo), in->codigo);
	catalog_text_clean(out->nombre, sizeof(out->nombre), in->descripcion);
	catalog_text_clean(out->marca, sizeof(out->marca), in->marca);
	if (out->nombre[0] == '\0')
		return OV_EINVAL;
	if (to_cents(in->precio_neto, &out->neto_cents) != OV_OK ||
	    to_cents(in->precio_final, &out->final_cents) != OV_OK)
		return OV_EINVAL;
	if (to_iva_tenths(in->iva, &out->iva_tenths) != OV_OK) {
		if (out->neto_cents != 0 || out->final_cents != 0)
			return OV_EINVAL;
		out->iva_tenths = 210;
	}
	out->stock = isfinite(in->stock) && fabs(in->stock) < 1e12 ?
	    in->stock : 0;
	memcpy(out->moneda, strcmp(in->moneda, "ARS") == 0 ? "ARS" : "USD", 4);
	memcpy(out->source, "panel", 6);
	out->synced_at = now;
	return OV_OK;
}

/* ---- the document ------------------------------------------------------------ */

static bool
add_str(cJSON *o, const char *k, const char *v)
{
	return cJSON_AddStringToObject(o, k, v) != NULL;
}

static bool
add_num(cJSON *o, const char *k, double v)
{
	return cJSON_AddNumberToObject(o, k, v) != NULL;
}

static int
to_json(const struct catalog_product *p, const struct catalog_tokens *t,
    char **json)
{
	cJSON *o = cJSON_CreateObject();
	bool ok;

	*json = NULL;
	if (o == NULL)
		return OV_ENOMEM;
	ok = add_num(o, "id", (double)p->id) &&
	    add_str(o, "codigo_interno", p->codigo) &&
	    add_str(o, "codigo_barras", p->codigo_barras) &&
	    add_str(o, "producto", p->nombre) &&
	    add_str(o, "descripcion", p->descripcion) &&
	    add_str(o, "marca", p->marca) &&
	    add_str(o, "categoria", p->categoria) &&
	    add_num(o, "precio_neto", (double)p->neto_cents / 100.0) &&
	    add_num(o, "precio_final", (double)p->final_cents / 100.0) &&
	    cJSON_AddBoolToObject(o, "oferta", p->oferta) != NULL &&
	    add_num(o, "precio_oferta", (double)p->oferta_cents / 100.0) &&
	    add_num(o, "alicuota_iva", p->iva_tenths / 10.0) &&
	    add_num(o, "stock_total", p->stock) &&
	    add_str(o, "moneda", p->moneda) &&
	    add_str(o, "updated", p->updated) &&
	    add_str(o, "tipo", t->type) &&
	    add_num(o, "resolucion_mp", t->resolution_mp) &&
	    add_str(o, "source", p->source) &&
	    add_num(o, "synced_at", (double)p->synced_at) &&
	    (p->imagen[0] == '\0' || add_str(o, "imagen", p->imagen));
	if (ok)
		*json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return *json != NULL ? OV_OK : OV_ENOMEM;
}

int
catalog_product_to_json(const struct catalog_product *p, char **json)
{
	struct catalog_tokens *t;
	struct catalog_fields f;
	int rc;

	if ((t = malloc(sizeof(*t))) == NULL)
		return OV_ENOMEM;
	fields_of(p, &f);
	catalog_tokens_index(&f, t);
	if (p->tipo[0] != '\0' || p->resolucion_mp > 0) {
		memcpy(t->type, p->tipo, sizeof(t->type));
		t->resolution_mp = p->resolucion_mp;
	}
	rc = to_json(p, t, json);
	free(t);
	return rc;
}

void
catalog_doc_text(const struct cJSON *o, const char *k, char *dst, size_t n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	catalog_text_clean(dst, n, cJSON_IsString(v) ? v->valuestring : "");
}

double
catalog_doc_num(const struct cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) && isfinite(v->valuedouble) ?
	    v->valuedouble : 0;
}

int
catalog_doc_parse(const char *json, struct cJSON **doc, int64_t *id)
{
	cJSON *o;
	double n;

	*doc = NULL;
	if (json == NULL)
		return OV_EINVAL;
	o = cJSON_Parse(json);
	n = catalog_doc_num(o, "id");
	/* A whole number a double holds exactly (JSON numbers are doubles). */
	if (!cJSON_IsObject(o) || n < 1 || n > 9007199254740991.0 ||
	    n != floor(n)) {
		cJSON_Delete(o);
		return OV_EPARSE;
	}
	*id = (int64_t)n;
	*doc = o;
	return OV_OK;
}

int
catalog_product_from_json(const char *json, struct catalog_product *out)
{
	cJSON *o = NULL;
	double res;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = catalog_doc_parse(json, &o, &out->id)) != OV_OK)
		goto out;
	rc = OV_EPARSE;
	catalog_doc_text(o, "codigo_interno", out->codigo, sizeof(out->codigo));
	catalog_doc_text(o, "codigo_barras", out->codigo_barras,
	    sizeof(out->codigo_barras));
	catalog_doc_text(o, "producto", out->nombre, sizeof(out->nombre));
	catalog_doc_text(o, "descripcion", out->descripcion, sizeof(out->descripcion));
	catalog_doc_text(o, "marca", out->marca, sizeof(out->marca));
	catalog_doc_text(o, "categoria", out->categoria, sizeof(out->categoria));
	catalog_doc_text(o, "moneda", out->moneda, sizeof(out->moneda));
	catalog_doc_text(o, "updated", out->updated, sizeof(out->updated));
	catalog_doc_text(o, "tipo", out->tipo, sizeof(out->tipo));
	catalog_doc_text(o, "source", out->source, sizeof(out->source));
	catalog_doc_text(o, "imagen", out->imagen, sizeof(out->imagen));
	if (out->nombre[0] == '\0')
		goto out;
	if (to_cents(catalog_doc_num(o, "precio_neto"), &out->neto_cents) != OV_OK ||
	    to_cents(catalog_doc_num(o, "precio_final"), &out->final_cents) != OV_OK)
		goto out;
	out->oferta = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
	    "oferta")) && to_cents(catalog_doc_num(o, "precio_oferta"),
	    &out->oferta_cents) == OV_OK && out->oferta_cents > 0;
	if (!out->oferta)
		out->oferta_cents = 0;
	if (to_iva_tenths(catalog_doc_num(o, "alicuota_iva"), &out->iva_tenths) !=
	    OV_OK)
		out->iva_tenths = 210;
	out->stock = catalog_doc_num(o, "stock_total");
	res = catalog_doc_num(o, "resolucion_mp");
	out->resolucion_mp = res >= 0 && res <= 100 ? (int)res : 0;
	res = catalog_doc_num(o, "synced_at");
	/* A double out of int64_t's range does not convert (undefined). */
	out->synced_at = res >= 0 && res < 9.2e18 ? (int64_t)res : 0;
	if (out->moneda[0] == '\0')
		memcpy(out->moneda, "USD", 4);
	rc = OV_OK;
out:
	cJSON_Delete(o);
	if (rc != OV_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
catalog_product_get(struct store *st, int64_t id, struct catalog_product *out,
    bool *found)
{
	char key[32], *json = NULL;
	int rc;

	*found = false;
	if (id <= 0)
		return OV_EINVAL;
	snprintf(key, sizeof(key), "%" PRId64, id);
	rc = store_catalog_get(st, CATALOG_NAME, key, &json, found);
	if (rc != OV_OK || !*found)
		goto out;
	if ((rc = catalog_product_from_json(json, out)) != OV_OK) {
		log_warn("product %s in the catalog is unreadable", key);
		*found = false;
	}
out:
	free(json);
	return rc;
}

/* ---- writing ----------------------------------------------------------------- */

/* "codigo:<code folded, without separators>", or "" without a code. */
static void
code_lookup(const char *codigo, char *out, size_t n)
{
	char folded[sizeof(((struct catalog_product *)0)->codigo)];
	size_t o;

	out[0] = '\0';
	if (catalog_fold(codigo, strlen(codigo), folded, sizeof(folded)) == 0)
		return;
	o = (size_t)snprintf(out, n, "codigo:");
	for (size_t i = 0; folded[i] != '\0' && o + 1 < n; i++)
		if (folded[i] != ' ')
			out[o++] = folded[i];
	out[o] = '\0';
}

int
catalog_put(struct store_catalog_writer *w, const struct catalog_product *p)
{
	struct catalog_tokens *t = NULL;
	const char **toks = NULL;
	struct catalog_fields f;
	char key[32], lookup[128], *json = NULL;
	const char *lookups[1] = { lookup };
	struct store_catalog_item it;
	int rc;

	if ((t = malloc(sizeof(*t))) == NULL ||
	    (toks = malloc(CATALOG_ITEM_TOKENS_MAX * sizeof(*toks))) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	fields_of(p, &f);
	catalog_tokens_index(&f, t);
	if ((rc = to_json(p, t, &json)) != OV_OK)
		goto out;
	for (size_t i = 0; i < t->n; i++)
		toks[i] = t->tok[i];
	code_lookup(p->codigo, lookup, sizeof(lookup));
	snprintf(key, sizeof(key), "%" PRId64, p->id);
	it.key = key;
	it.json = json;
	it.tokens = toks;
	it.ntokens = t->n;
	it.lookups = lookups;
	it.nlookups = lookup[0] != '\0' ? 1 : 0;
	it.rank = catalog_product_in_stock(p) ? 0 : 1;
	rc = store_catalog_put(w, &it);
out:
	free(json);
	free(toks);
	free(t);
	return rc;
}

/* ---- candidates ---------------------------------------------------------------- */

struct cand {
	char *key;
	char *json;
	struct catalog_product p;
	bool ok;                 /* p read */
	int matched, relevance, score;
	size_t order;            /* as the store gave them */
};

struct cands {
	struct cand *v;
	size_t n;
};

static void
cands_free(struct cands *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].json);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* Ask the store for the products holding all of toks; keep the new ones.
 * *got (may be NULL) is how many the store gave. */
static int
gather(struct store *st, const char *const *toks, size_t n, int limit,
    struct cands *c, size_t *got)
{
	struct store_catalog_hit *hits = NULL;
	size_t nhits = 0;
	int rc;

	if (got != NULL)
		*got = 0;
	if (n == 0)
		return OV_OK;
	rc = store_catalog_search(st, CATALOG_NAME, toks, n, limit, &hits,
	    &nhits);
	if (rc != OV_OK)
		return rc;
	if (got != NULL)
		*got = nhits;
	for (size_t i = 0; i < nhits && c->n < CANDIDATES_MAX; i++) {
		bool dup = false;

		for (size_t k = 0; k < c->n && !dup; k++)
			dup = strcmp(c->v[k].key, hits[i].key) == 0;
		if (dup)
			continue;
		memset(&c->v[c->n], 0, sizeof(c->v[0]));
		c->v[c->n].key = hits[i].key;
		c->v[c->n].json = hits[i].json;
		c->v[c->n].order = c->n;
		hits[i].key = hits[i].json = NULL;
		c->n++;
	}
	store_catalog_hits_free(hits, nhits);
	return OV_OK;
}

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	bool sx = catalog_product_in_stock(&x->p), sy =
	    catalog_product_in_stock(&y->p);

	if (x->ok != y->ok)
		return x->ok ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->matched != y->matched)
		return x->matched > y->matched ? -1 : 1;
	if (sx != sy)
		return sx ? -1 : 1;
	if (x->relevance != y->relevance)
		return x->relevance > y->relevance ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order ? 1 : 0;
}

/* Sort the read candidates and hand out the best limit. */
static int
cands_result(struct cands *c, size_t limit, struct catalog_result *out)
{
	size_t n = 0;

	qsort(c->v, c->n, sizeof(c->v[0]), cand_cmp);
	while (n < c->n && n < limit && c->v[n].ok)
		n++;
	if (n == 0)
		return OV_OK;
	out->hits = calloc(n, sizeof(*out->hits));
	if (out->hits == NULL)
		return OV_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		out->hits[i].p = c->v[i].p;
		out->hits[i].matched = c->v[i].matched;
		out->hits[i].relevance = c->v[i].relevance;
	}
	out->n = n;
	return OV_OK;
}

/* ---- search --------------------------------------------------------------------- */

void
catalog_result_clear(struct catalog_result *r)
{
	if (r == NULL)
		return;
	free(r->hits);
	memset(r, 0, sizeof(*r));
}

/* The tokens of q except skip (SIZE_MAX: none) among those in use. */
static size_t
pick(const struct catalog_query *q, const bool *use, size_t skip,
    const char **out)
{
	size_t n = 0;

	for (size_t i = 0; i < q->n; i++)
		if (use[i] && i != skip)
			out[n++] = q->tok[i];
	return n;
}

int
catalog_search(struct store *st, const char *query, size_t limit,
    struct catalog_result *out)
{
	struct catalog_query q;
	struct catalog_tokens *t = NULL;
	struct cands c = { NULL, 0 };
	const char *toks[CATALOG_QUERY_WORDS];
	bool use[CATALOG_QUERY_WORDS];
	size_t nuse = 0, got, n;
	int want, rc;

	if (out == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	if (st == NULL || limit < 1 || limit > CATALOG_RESULTS_MAX)
		return OV_EINVAL;
	catalog_query_parse(query, &q);
	out->nwords = q.n;
	if (q.n == 0)
		return OV_OK;
	want = (int)(limit * 3 < FETCH_MAX ? limit * 3 : FETCH_MAX);
	c.v = calloc(CANDIDATES_MAX, sizeof(*c.v));
	t = malloc(sizeof(*t));
	if (c.v == NULL || t == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < q.n; i++)
		use[i] = true;
	n = pick(&q, use, SIZE_MAX, toks);
	if ((rc = gather(st, toks, n, want, &c, NULL)) != OV_OK)
		goto out;
	if (c.n < limit && q.n > 1) {
		/* Fewer than asked: leave out the words the catalog does not
		 * know at all, then one word at a time, then single words. */
		for (size_t i = 0; i < q.n; i++) {
			toks[0] = q.tok[i];
			if ((rc = gather(st, toks, 1, 1, &c, &got)) != OV_OK)
				goto out;
			use[i] = got > 0;
			nuse += use[i];
		}
		if (nuse >= 1 && nuse < q.n) {
			n = pick(&q, use, SIZE_MAX, toks);
			if ((rc = gather(st, toks, n, want, &c, NULL)) != OV_OK)
				goto out;
		}
		for (size_t skip = 0; nuse > 2 && c.n < limit && skip < q.n;
		    skip++) {
			if (!use[skip])
				continue;
			n = pick(&q, use, skip, toks);
			if ((rc = gather(st, toks, n, want, &c, NULL)) != OV_OK)
				goto out;
		}
		for (size_t i = 0; nuse > 1 && c.n < limit && i < q.n; i++) {
			if (!use[i])
				continue;
			toks[0] = q.tok[i];
			if ((rc = gather(st, toks, 1, want, &c, NULL)) != OV_OK)
				goto out;
		}
	}
	for (size_t i = 0; i < c.n; i++) {
		struct cand *k = &c.v[i];
		struct catalog_fields f;

		if (catalog_product_from_json(k->json, &k->p) != OV_OK)
			continue;
		k->ok = true;
		fields_of(&k->p, &f);
		catalog_tokens_index(&f, t);
		for (size_t w = 0; w < q.n; w++) {
			int weight = catalog_tokens_find(t, q.tok[w]);

			if (weight >= 0) {
				k->matched++;
				k->relevance += weight;
			}
		}
	}
	rc = cands_result(&c, limit, out);
out:
	cands_free(&c);
	free(t);
	if (rc != OV_OK)
		catalog_result_clear(out);
	return rc;
}

/* ---- alternatives ------------------------------------------------------------------ */

int
catalog_alternatives(struct store *st, const struct catalog_product *p,
    size_t limit, struct catalog_result *out)
{
	struct cands c = { NULL, 0 };
	char tipo[CATALOG_TOKEN_MAX + 1], marca[CATALOG_TOKEN_MAX + 1];
	char pm[CATALOG_TOKEN_MAX + 1];
	const char *toks[2];
	int rc;

	if (out == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	if (st == NULL || p == NULL || limit < 1 || limit > CATALOG_RESULTS_MAX)
		return OV_EINVAL;
	if (p->tipo[0] == '\0')
		return OV_OK;
	snprintf(tipo, sizeof(tipo), "tipo:%s", p->tipo);
	catalog_brand_tag(p->marca, marca);
	if ((c.v = calloc(CANDIDATES_MAX, sizeof(*c.v))) == NULL)
		return OV_ENOMEM;
	toks[0] = tipo;
	toks[1] = marca;
	if (marca[0] != '\0' &&
	    (rc = gather(st, toks, 2, ALT_FETCH, &c, NULL)) != OV_OK)
		goto out;
	if ((rc = gather(st, toks, 1, ALT_FETCH, &c, NULL)) != OV_OK)
		goto out;
	for (size_t i = 0; i < c.n; i++) {
		struct cand *k = &c.v[i];
		bool res_ok, same_brand;

		if (catalog_product_from_json(k->json, &k->p) != OV_OK ||
		    k->p.id == p->id || !catalog_product_in_stock(&k->p))
			continue;
		k->ok = true;
		catalog_brand_tag(k->p.marca, pm);
		same_brand = marca[0] != '\0' && strcmp(pm, marca) == 0;
		res_ok = k->p.resolucion_mp >= p->resolucion_mp;
		k->score = (res_ok ? 2 : 0) + (same_brand ? 1 : 0);
	}
	rc = cands_result(&c, limit, out);
out:
	cands_free(&c);
	if (rc != OV_OK)
		catalog_result_clear(out);
	return rc;
}
