/*
 * test_catalog.c - product search as a customer meets it: by name, brand,
 * code fragment, with or without accents, in plural, by the trade's
 * synonyms and however a resolution is spelled; all words first, in stock
 * before out of stock; alternatives for an item out of stock; text that
 * looks like an injection finds nothing and breaks nothing.
 *
 * Runs against the backend the configuration selects, like test_store:
 * MongoDB when MONGODB_URI is set (database ovidio_test_catalog_<pid>),
 * otherwise SQLite in a fresh temporary directory. The catalog is written
 * through catalog_put(), the path catalog-sync uses.
 */
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot_catalog.h"
#include "catalog.h"
#include "catalog_text.h"
#include "check.h"
#include "cianbox.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "quote.h"
#include "store.h"

static struct config *cfg;
static struct store *st;
static char tmpdir[] = "/tmp/ovidio-catalog-test-XXXXXX";

/* ---- the test catalog ------------------------------------------------------ */

struct prod {
	int64_t id;
	const char *codigo, *nombre, *marca, *categoria, *descripcion;
	double neto, stock, iva;
};

static const struct prod prods[] = {
	{ 10452, "DH-HAC-HDW1400TP", "Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm",
	    "Dahua", "Cámaras", "Domo HDCVI 4 MP, IR 30 m, lente 2.8 mm",
	    48.5, 12, 21 },
	{ 10453, "DH-HAC-HFW1200TP", "Cámara Bala Dahua 2MP HAC-HFW1200",
	    "Dahua", "Cámaras", "Bullet HDCVI 1080p, IR 20 m", 31.9, 0, 21 },
	{ 10454, "DS-2CE16D0T-IRPF", "Cámara Bullet Hikvision Turbo HD 4MP",
	    "Hikvision", "Cámaras", "Bullet 4 megapíxeles exterior", 39.0, 5,
	    21 },
	{ 10455, "DS-2CE56D0T-IRMMF", "Cámara Domo Hikvision 2MP",
	    "Hikvision", "Cámaras", "Domo Turbo HD 1080p", 22.0, 3, 21 },
	{ 10456, "DH-HAC-HDW1200TP", "Cámara Domo Dahua 2MP HAC-HDW1200",
	    "Dahua", "Cámaras", "Domo HDCVI 2 MP", 25.0, 0, 21 },
	{ 10457, "DH-HAC-HDW1500TP", "Cámara Domo Dahua 5MP HAC-HDW1500",
	    "Dahua", "Cámaras", "Domo HDCVI 5 MP", 55.0, 4, 21 },
	{ 10458, "DS-2CE78U1T-IT3F", "Cámara Domo Hikvision 4K",
	    "Hikvision", "Cámaras", "Domo Turbo HD 8 MP", 70.0, 2, 21 },
	{ 10459, "DH-HAC-HDW1100", "Cámara Domo Dahua 1MP HAC-HDW1100",
	    "Dahua", "Cámaras", "Domo HDCVI 720p", 15.0, 9, 21 },
	{ 10461, "DS-7208HGHI-K1", "DVR Hikvision 8 canales Turbo HD 1080p",
	    "Hikvision", "Grabadores", "DVR 8 ch 1080p lite, H.265+", 89.9, 0,
	    21 },
	{ 10462, "DHI-NVR4116HS", "NVR Dahua 16 canales 4K", "Dahua",
	    "Grabadores", "NVR IP 16 ch 8MP", 120.0, 3, 21 },
	{ 10463, "DH-XVR1B04", "XVR Dahua 4 canales 1080p", "Dahua",
	    "Grabadores", "Pentahíbrido 4 ch", 45.0, 6, 21 },
	{ 10464, "DS-7216HGHI-K1", "DVR Hikvision 16 canales 1080p",
	    "Hikvision", "Grabadores", "DVR 16 ch", 140.0, 2, 21 },
	{ 10477, "FTE-12V5A", "Fuente switching 12V 5A metálica", "Genérica",
	    "Fuentes", "Fuente 12 V 5 A para CCTV", 7.2, 7, 10.5 },
	{ 10478, "FTE-12V10A", "Fuente 12V 10A", "Genérica", "Fuentes",
	    "Fuente de 12 volts 10 amper", 12.0, 0, 10.5 },
	{ 10480, "WD10PURZ", "Disco rígido WD Purple 1TB", "Western Digital",
	    "Almacenamiento", "Disco para videovigilancia 1 TB", 52.0, 4, 21 },
	{ 10481, "UTP-CAT5E-EXT", "Cable UTP Cat5e exterior 305 m", "Genérica",
	    "Cables", "Bobina de cable UTP", 95.0, 10, 21 },
	{ 10482, "SOP-DOMO", "Soporte para domo", "Genérica", "Accesorios",
	    "Soporte de pared", 3.5, 20, 21 },
	{ 10460, "DS-2CE56D8T-ITMF", "Cámara Domo Hikvision 4MP",
	    "Hikvision", "Cámaras", "Domo Turbo HD 4 MP", 35.0, 0, 21 },
	{ 10470, "IPC-F22-IMOU", "Cámara IP Wi-Fi 2MP", "Imou", "Cámaras",
	    "Cámara IP con audio y visión nocturna", 28.0, 6, 21 },
	{ 10499, "PC1832", "Panel de alarma DSC PowerSeries 8/32 zonas", "DSC",
	    "Alarmas", "Panel 8 zonas expandible a 32", 1000.0, 1204, 21 },
};

#define NPRODS (sizeof(prods) / sizeof(prods[0]))

static void
cianbox_item(const struct prod *s, struct cianbox_producto *p)
{
	memset(p, 0, sizeof(*p));
	p->id = s->id;
	snprintf(p->codigo, sizeof(p->codigo), "%s", s->codigo);
	snprintf(p->nombre, sizeof(p->nombre), "%s", s->nombre);
	snprintf(p->marca, sizeof(p->marca), "%s", s->marca);
	snprintf(p->categoria, sizeof(p->categoria), "%s", s->categoria);
	snprintf(p->descripcion, sizeof(p->descripcion), "%s", s->descripcion);
	p->vigente = true;
	p->precio_neto = s->neto;
	p->precio_final = s->neto * (1 + s->iva / 100);
	p->id_moneda = 2;
	p->iva = s->iva;
	p->stock = s->stock;
	snprintf(p->updated, sizeof(p->updated), "2026-11-20 08:15:00");
}

static int
load_catalog(void)
{
	struct store_catalog_writer *w = NULL;
	int rc;

	if ((rc = store_catalog_begin(st, CATALOG_NAME, &w)) != OV_OK)
		return rc;
	for (size_t i = 0; i < NPRODS; i++) {
		struct cianbox_producto in;
		struct catalog_product p;

		cianbox_item(&prods[i], &in);
		if ((rc = catalog_product_from_cianbox(&in, 1764000000, &p)) !=
		    OV_OK || (rc = catalog_put(w, &p)) != OV_OK) {
			store_catalog_abort(w);
			return rc;
		}
	}
	return store_catalog_commit(w);
}

/* The ids found, comma-separated; "error" when the search failed. */
static const char *
ids(const char *query, size_t limit, char *buf, size_t len)
{
	struct catalog_result r;
	size_t o = 0;

	buf[0] = '\0';
	if (catalog_search(st, query, limit, &r) != OV_OK)
		return "error";
	for (size_t i = 0; i < r.n; i++)
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%lld",
		    i > 0 ? "," : "", (long long)r.hits[i].p.id);
	catalog_result_clear(&r);
	return buf;
}

/* The id of the first hit, 0 when none. */
static int64_t
first(const char *query)
{
	struct catalog_result r;
	int64_t id = 0;

	if (catalog_search(st, query, 10, &r) != OV_OK)
		return -1;
	if (r.n > 0)
		id = r.hits[0].p.id;
	catalog_result_clear(&r);
	return id;
}

/* True when every hit whose word count is complete is in csv. */
static bool
has(const char *csv, int64_t id)
{
	char want[32];
	size_t n;
	const char *p = csv;

	n = (size_t)snprintf(want, sizeof(want), "%lld", (long long)id);
	while ((p = strstr(p, want)) != NULL) {
		if ((p == csv || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

/* ---- normalisation, no store ----------------------------------------------- */

static void
test_vocabulary_is_consistent(void)
{
	char err[256] = "";

	CHECK_INT(catalog_words_check(err, sizeof(err)), OV_OK);
	if (err[0] != '\0')
		fprintf(stderr, "  %s\n", err);
}

static void
test_fold_and_plurals(void)
{
	char out[128];
	struct {
		const char *in, *want;
	} words[] = {
		{ "camaras", "camara" }, { "fuentes", "fuente" },
		{ "grabadores", "grabador" }, { "luces", "luz" },
		{ "cables", "cable" }, { "canales", "canal" },
		{ "dvrs", "dvr" }, { "domo", "domo" }, { "gas", "gas" },
	};

	catalog_fold("Cámara ÑANDÚ 2,8mm (DH-HAC)", 29, out, sizeof(out));
	CHECK_STR(out, "camara nandu 2.8mm dh hac");
	catalog_fold("a\xff\xfe" "b", 4, out, sizeof(out));
	CHECK_STR(out, "a b");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		snprintf(out, sizeof(out), "%s", words[i].in);
		catalog_singular(out);
		CHECK_STR(out, words[i].want);
	}
}

static const char *
qtok(const char *text, char *buf, size_t len)
{
	struct catalog_query q;
	size_t o = 0;

	catalog_query_parse(text, &q);
	buf[0] = '\0';
	for (size_t i = 0; i < q.n; i++)
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
		    i > 0 ? " " : "", q.tok[i]);
	return buf;
}

static void
test_query_words(void)
{
	static const char *const four[] = {
		"4mp", "4 MP", "4 megapíxeles", "4MPX", "4 Mpx", "4 megapixels",
		"4 mega", "4Megapixeles", "2k",
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(four) / sizeof(four[0]); i++)
		CHECK_STR(qtok(four[i], buf, sizeof(buf)), "4mp");
	CHECK_STR(qtok("1080p", buf, sizeof(buf)), "2mp");
	CHECK_STR(qtok("Quiero una cámara domo de 4 MP, precio?", buf,
	    sizeof(buf)), "camara domo 4mp");
	CHECK_STR(qtok("grabadores de 8 canales", buf, sizeof(buf)),
	    "grabador 8ch");
	CHECK_STR(qtok("dome bullet hik hdd power utp", buf, sizeof(buf)),
	    "domo bala hikvision disco fuente utp");
	CHECK_STR(qtok("disco de 2 teras", buf, sizeof(buf)), "disco 2tb");
	CHECK_STR(qtok(".*", buf, sizeof(buf)), "");
	CHECK_STR(qtok("' OR 1=1 --", buf, sizeof(buf)), "");
	CHECK_STR(qtok("camara camara CÁMARAS", buf, sizeof(buf)), "camara");
	/* Words split by a hyphen or a space are one word. */
	CHECK_STR(qtok("busco camara wi-fi", buf, sizeof(buf)), "camara wifi");
	CHECK_STR(qtok("camara Wi Fi", buf, sizeof(buf)), "camara wifi");
	CHECK_STR(qtok("WiFi", buf, sizeof(buf)), "wifi");
	CHECK_STR(qtok("micro-SD 64 gb", buf, sizeof(buf)), "microsd 64gb");
	CHECK_STR(qtok("domo full hd", buf, sizeof(buf)), "domo 2mp");
	CHECK_STR(qtok("TP-Link", buf, sizeof(buf)), "tplink");
	/* Not every pair of words: a code keeps its pieces. */
	CHECK_STR(qtok("HAC-HDW1400", buf, sizeof(buf)), "hac hdw1400");
}

static void
test_code_fragments_indexed(void)
{
	static struct catalog_tokens t;
	struct catalog_fields f = { "DH-HAC-HDW1400TP",
		"Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm", "Dahua", "Cámaras",
		"Domo HDCVI 4 MP" };
	static const char *const want[] = {
		"hdw1400", "hdw1400tp", "1400", "dhhachdw1400tp", "hac", "4mp",
		"camara", "domo", "dahua", "marca:dahua", "tipo:domo", "2.8mm",
	};

	catalog_tokens_index(&f, &t);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (catalog_tokens_find(&t, want[i]) < 0)
			fprintf(stderr, "  missing token %s\n", want[i]);
		CHECK(catalog_tokens_find(&t, want[i]) >= 0);
	}
	CHECK_STR(t.type, "domo");
	CHECK_INT(t.resolution_mp, 4);
	CHECK(!t.truncated);
}

static void
test_product_from_cianbox(void)
{
	struct cianbox_producto in;
	struct catalog_product p;

	cianbox_item(&prods[0], &in);
	CHECK_INT(catalog_product_from_cianbox(&in, 5, &p), OV_OK);
	CHECK_INT(p.neto_cents, 4850);
	CHECK_INT(p.final_cents, 5869);
	CHECK_INT(p.iva_tenths, 210);
	CHECK_STR(p.moneda, "USD");
	CHECK_STR(p.source, "api");
	in.vigente = false;
	CHECK_INT(catalog_product_from_cianbox(&in, 5, &p), OV_EINVAL);
	cianbox_item(&prods[0], &in);
	in.iva = 27;
	CHECK_INT(catalog_product_from_cianbox(&in, 5, &p), OV_EINVAL);
	cianbox_item(&prods[0], &in);
	in.nombre[0] = in.descripcion[0] = '\0';
	CHECK_INT(catalog_product_from_cianbox(&in, 5, &p), OV_EINVAL);
	cianbox_item(&prods[0], &in);
	in.precio_neto = -1;
	CHECK_INT(catalog_product_from_cianbox(&in, 5, &p), OV_EINVAL);
	/* Bytes that are not UTF-8 never reach the store. */
	cianbox_item(&prods[0], &in);
	snprintf(in.nombre, sizeof(in.nombre), "Domo \xff\xfe 4MP");
	CHECK_INT(catalog_product_from_cianbox(&in, 5, &p), OV_OK);
	CHECK_STR(p.nombre, "Domo ?? 4MP");
}

/* ---- on the store ------------------------------------------------------------- */

static void
test_document_and_quote_agree(void)
{
	struct catalog_product p;
	struct quote_item qi;
	char key[] = "10477", *json = NULL;
	bool found = false;

	CHECK_INT(catalog_product_get(st, 10477, &p, &found), OV_OK);
	CHECK(found);
	CHECK_STR(p.codigo, "FTE-12V5A");
	CHECK_STR(p.nombre, "Fuente switching 12V 5A metálica");
	CHECK_INT(p.neto_cents, 720);
	CHECK_INT(p.iva_tenths, 105);
	CHECK(p.stock == 7);
	CHECK_STR(p.tipo, "fuente");
	CHECK_INT(p.synced_at, 1764000000);
	/* lib/quote reads the same document to the same price and rate. */
	CHECK_INT(store_catalog_get(st, CATALOG_NAME, key, &json, &found),
	    OV_OK);
	CHECK_INT(quote_item_from_product(json, 2, &qi), OV_OK);
	CHECK_INT(qi.unit_cents, 720);
	CHECK_INT(qi.iva_tenths, 105);
	CHECK_STR(qi.code, "FTE-12V5A");
	free(json);
	CHECK_INT(catalog_product_get(st, 999999, &p, &found), OV_OK);
	CHECK(!found);
	CHECK_INT(catalog_product_get(st, 10452, &p, &found), OV_OK);
	CHECK_INT(p.resolucion_mp, 4);
}

static void
test_by_name_and_brand(void)
{
	char buf[512], hik[512];

	CHECK_INT(first("panel de alarma"), 10499);
	CHECK_INT(first("soporte domo"), 10482);
	ids("hikvision", 20, hik, sizeof(hik));
	CHECK(has(hik, 10454) && has(hik, 10455) && has(hik, 10458) &&
	    has(hik, 10461) && has(hik, 10464));
	CHECK(!has(hik, 10452));
	/* The abbreviation finds the same products. */
	CHECK_STR(ids("hik", 20, buf, sizeof(buf)), hik);
	CHECK_STR(ids("HIKVISION", 20, buf, sizeof(buf)), hik);
}

static void
test_by_code_fragment(void)
{
	CHECK_INT(first("HDW1400"), 10452);
	CHECK_INT(first("hdw1400"), 10452);
	CHECK_INT(first("DH-HAC-HDW1400TP"), 10452);
	CHECK_INT(first("HAC-HDW1400"), 10452);
	CHECK_INT(first("dhhachdw1400tp"), 10452);
	CHECK_INT(first("7208HGHI"), 10461);
	CHECK_INT(first("PC1832"), 10499);
	CHECK_INT(first("1832"), 10499);
}

static void
test_split_words(void)
{
	static const char *const wifi[] = {
		"busco camara wifi", "camara wi-fi", "cámara Wi Fi",
		"CAMARA WIFI", "camara Wi-Fi 2mp", "camaras wifi",
		"camara inalambrica", "wi-fi 2mp",
	};

	for (size_t i = 0; i < sizeof(wifi) / sizeof(wifi[0]); i++) {
		if (first(wifi[i]) != 10470)
			fprintf(stderr, "  not found by \"%s\"\n", wifi[i]);
		CHECK_INT(first(wifi[i]), 10470);
	}
}

static void
test_accents_and_plurals(void)
{
	char a[512], b[512];

	CHECK_STR(ids("cámara domo", 20, a, sizeof(a)),
	    ids("camara domo", 20, b, sizeof(b)));
	CHECK_STR(ids("CÁMARAS DOMOS", 20, a, sizeof(a)),
	    ids("camara domo", 20, b, sizeof(b)));
	CHECK(strlen(a) > 0);
	CHECK_STR(ids("disco rígido", 5, a, sizeof(a)),
	    ids("disco rigido", 5, b, sizeof(b)));
	CHECK_INT(first("discos rígidos"), 10480);
	/* Plural "fuentes": both fuentes, the one in stock first. */
	CHECK_STR(ids("fuentes", 5, a, sizeof(a)), "10477,10478");
	CHECK_INT(first("grabadores"), 10462);
}

static void
test_synonyms(void)
{
	char a[512], b[512];

	/* dome = domo */
	CHECK_STR(ids("dome", 20, a, sizeof(a)), ids("domo", 20, b, sizeof(b)));
	CHECK(strlen(a) > 0);   /* two empty answers would also be equal */
	/* bullet = bala: the Hikvision "Bullet" and the Dahua "Bala". */
	ids("bala", 20, a, sizeof(a));
	CHECK(has(a, 10453) && has(a, 10454));
	CHECK_STR(ids("bullet", 20, b, sizeof(b)), a);
	/* grabador finds DVRs, NVRs and XVRs; nvr only NVRs. */
	ids("grabador", 20, a, sizeof(a));
	CHECK(has(a, 10461) && has(a, 10462) && has(a, 10463) &&
	    has(a, 10464));
	CHECK_STR(ids("nvr", 20, a, sizeof(a)), "10462");
	/* dvr: the one in stock first. */
	CHECK_STR(ids("dvr", 20, a, sizeof(a)), "10464,10461");
	CHECK_INT(first("hdd 1tb"), 10480);
	CHECK_INT(first("power 12v 10a"), 10478);
	CHECK_INT(first("utp"), 10481);
	/* cable also finds the UTP (utp is a kind of cable). */
	CHECK_INT(first("cable exterior"), 10481);
}

static void
test_resolution_spellings(void)
{
	static const char *const spellings[] = {
		"domo 4mp", "domo 4 MP", "domo 4 megapixeles", "domo 4MPX",
		"domo de 4 megapíxeles", "DOMO 4 Mpx",
	};
	char want[512], got[512];

	CHECK_INT(first("domo 4mp"), 10452);
	ids("domo 4mp", 10, want, sizeof(want));
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
		CHECK_STR(ids(spellings[i], 10, got, sizeof(got)), want);
	/* "1080p" is 2 MP: the Dahua bala says 2MP in its name. */
	ids("bala 1080p", 10, got, sizeof(got));
	CHECK(has(got, 10453));
	CHECK_INT(first("domo 4k"), 10458);
	CHECK_INT(first("domo 8 megapixeles"), 10458);
}

static void
test_ranking(void)
{
	struct catalog_result r;
	char buf[512];

	/* All words first: the only domo Dahua 5MP, then partial matches. */
	CHECK_INT(catalog_search(st, "domo dahua 5mp", 10, &r), OV_OK);
	CHECK_INT(r.nwords, 3);
	CHECK(r.n >= 2);
	if (r.n >= 2) {
		CHECK_INT(r.hits[0].p.id, 10457);
		CHECK_INT(r.hits[0].matched, 3);
		CHECK(r.hits[1].matched < 3);
		for (size_t i = 1; i + 1 < r.n; i++)
			CHECK(r.hits[i].matched >= r.hits[i + 1].matched);
	}
	catalog_result_clear(&r);
	/* In stock before out of stock among equal matches. */
	CHECK_INT(catalog_search(st, "camara domo dahua", 10, &r), OV_OK);
	{
		bool seen_out = false;

		for (size_t i = 0; i < r.n && r.hits[i].matched == 3; i++) {
			if (!catalog_product_in_stock(&r.hits[i].p))
				seen_out = true;
			else
				CHECK(!seen_out);
		}
		CHECK(r.n >= 5);
		CHECK(seen_out);     /* 10456 is there, after the others */
	}
	catalog_result_clear(&r);
	/* A word the catalog does not know is left out, and said. */
	CHECK_INT(catalog_search(st, "camara dahua xyzzy", 10, &r), OV_OK);
	CHECK_INT(r.nwords, 3);
	CHECK(r.n > 0);
	if (r.n > 0)
		CHECK_INT(r.hits[0].matched, 2);
	catalog_result_clear(&r);
	/* A word in the code or name outranks one in the description. */
	CHECK_INT(first("hdcvi domo 1200"), 10456);
	CHECK_STR(ids("zzzz qqqq", 10, buf, sizeof(buf)), "");
	CHECK_INT(catalog_search(st, "camara", 0, &r), OV_EINVAL);
	CHECK_INT(catalog_search(st, "camara", CATALOG_RESULTS_MAX + 1, &r),
	    OV_EINVAL);
}

static void
test_alternatives(void)
{
	struct catalog_result r;
	struct catalog_product p;
	bool found = false;

	/* Domo Dahua 2MP, out of stock. */
	CHECK_INT(catalog_product_get(st, 10456, &p, &found), OV_OK);
	CHECK(found && !catalog_product_in_stock(&p));
	CHECK_INT(catalog_alternatives(st, &p, 10, &r), OV_OK);
	CHECK_INT(r.n, 5);
	if (r.n == 5) {
		/* Same brand and at least 2MP: 4MP and 5MP Dahua domos. */
		CHECK((r.hits[0].p.id == 10452 && r.hits[1].p.id == 10457) ||
		    (r.hits[0].p.id == 10457 && r.hits[1].p.id == 10452));
		/* Then at least 2MP of another brand. */
		CHECK((r.hits[2].p.id == 10455 && r.hits[3].p.id == 10458) ||
		    (r.hits[2].p.id == 10458 && r.hits[3].p.id == 10455));
		/* Then the same brand with less resolution. */
		CHECK_INT(r.hits[4].p.id, 10459);
	}
	for (size_t i = 0; i < r.n; i++) {
		CHECK(r.hits[i].p.id != 10456);    /* not itself */
		CHECK(r.hits[i].p.id != 10482);    /* a soporte is no domo */
		CHECK(catalog_product_in_stock(&r.hits[i].p));
	}
	catalog_result_clear(&r);
	/* The DVR out of stock: the other DVR, not the NVR or XVR. */
	CHECK_INT(catalog_product_get(st, 10461, &p, &found), OV_OK);
	CHECK_INT(catalog_alternatives(st, &p, 10, &r), OV_OK);
	CHECK_INT(r.n, 1);
	if (r.n == 1)
		CHECK_INT(r.hits[0].p.id, 10464);
	catalog_result_clear(&r);
	/* The Dahua bala: no other bala of the brand in stock; the
	 * Hikvision one has at least its resolution. */
	CHECK_INT(catalog_product_get(st, 10453, &p, &found), OV_OK);
	CHECK_INT(catalog_alternatives(st, &p, 10, &r), OV_OK);
	CHECK_INT(r.n, 1);
	if (r.n == 1)
		CHECK_INT(r.hits[0].p.id, 10454);
	catalog_result_clear(&r);
}

/* An out-of-stock 4MP domo: up to 3 in-stock alternatives, all domos of
 * at least 4MP, the same brand first; the conversation's helper
 * (bot_catalog_similar) gives the same. */
static void
test_alternatives_4mp_domo(void)
{
	struct catalog_result r;
	struct catalog_product p, a;
	struct bot_product bp, sim[3];
	bool found = false;
	size_t n = 0;

	CHECK_INT(catalog_product_get(st, 10460, &p, &found), OV_OK);
	CHECK(found && !catalog_product_in_stock(&p));
	CHECK_STR(p.tipo, "domo");
	CHECK_INT(p.resolucion_mp, 4);
	CHECK_INT(catalog_alternatives(st, &p, 3, &r), OV_OK);
	CHECK_INT(r.n, 3);
	if (r.n == 3) {
		CHECK_INT(r.hits[0].p.id, 10458);   /* Hikvision 8MP */
		CHECK((r.hits[1].p.id == 10452 && r.hits[2].p.id == 10457) ||
		    (r.hits[1].p.id == 10457 && r.hits[2].p.id == 10452));
	}
	for (size_t i = 0; i < r.n; i++) {
		CHECK_STR(r.hits[i].p.tipo, "domo");
		CHECK(r.hits[i].p.resolucion_mp >= 4);
		CHECK(catalog_product_in_stock(&r.hits[i].p));
	}
	catalog_result_clear(&r);

	CHECK_INT(bot_catalog_get(st, 10460, &bp, &found), OV_OK);
	CHECK(found);
	CHECK_INT(bot_catalog_similar(st, &bp, NULL, sim, 3, &n), OV_OK);
	CHECK_INT(n, 3);
	for (size_t i = 0; i < n; i++) {
		CHECK(sim[i].id != 10460);
		CHECK(sim[i].stock > 0);
		CHECK_INT(catalog_product_get(st, sim[i].id, &a, &found),
		    OV_OK);
		CHECK(found);
		CHECK_STR(a.tipo, "domo");
		CHECK(a.resolucion_mp >= 4);
	}
}

static void
test_injection_finds_nothing(void)
{
	static const char *const evil[] = {
		".*", "{\"$gt\":\"\"}", "' OR 1=1 --", "\"; DROP TABLE "
		"productos_cache; --", "{\"$where\":\"sleep(100)\"}", "^.*$",
		"%", "_", "\\", "\xc3\x28\xff", "a*", "$regex", "*:*",
	};
	/* Search syntax of the backends is read as plain words. */
	static const char *const plain[][2] = {
		{ "\"camara\" OR \"domo\"", "camara domo" },
		{ "NEAR(domo bala)", "near domo bala" },
		{ "domo NOT dahua", "domo not dahua" },
		{ "{\"tokens\": {\"$all\": [\"domo\"]}}", "tokens all domo" },
		{ "dom*", "dom" },
	};
	char a[512], b[512];
	struct catalog_result r;
	int64_t n = 0;
	char buf[64];

	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		CHECK_INT(catalog_search(st, evil[i], 10, &r), OV_OK);
		if (r.n != 0)
			fprintf(stderr, "  \"%s\" found %zu\n", evil[i], r.n);
		CHECK_INT(r.n, 0);
		catalog_result_clear(&r);
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		CHECK_STR(ids(plain[i][0], 10, a, sizeof(a)),
		    ids(plain[i][1], 10, b, sizeof(b)));
	/* Tags are not reachable by typing them either ("tipo domo" is two
	 * plain words, of which "tipo" carries no meaning). */
	CHECK_STR(qtok("tipo:domo", buf, sizeof(buf)), "domo");
	/* Very long input is read up to its bound. */
	{
		char *big = malloc(100000);

		if (big != NULL) {
			memset(big, 'a', 99999);
			big[99999] = '\0';
			memcpy(big, "domo ", 5);
			CHECK_INT(catalog_search(st, big, 10, &r), OV_OK);
			catalog_result_clear(&r);
			free(big);
		}
	}
	CHECK_INT(store_catalog_count(st, CATALOG_NAME, &n), OV_OK);
	CHECK_INT(n, (int64_t)NPRODS);
	CHECK_INT(first("HDW1400"), 10452);
}

static void
test_empty_query(void)
{
	struct catalog_result r;

	CHECK_INT(catalog_search(st, "", 10, &r), OV_OK);
	CHECK_INT(r.n, 0);
	CHECK_INT(r.nwords, 0);
	CHECK_INT(catalog_search(st, "hola, buenas tardes!", 10, &r), OV_OK);
	CHECK_INT(r.n, 0);
	CHECK_INT(catalog_search(st, NULL, 10, &r), OV_OK);
	CHECK_INT(r.n, 0);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	char err[256], db[64];
	int rc;

	log_init("test_catalog");
	unsetenv("OVIDIO_CONFIG");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
	snprintf(db, sizeof(db), "ovidio_test_catalog_%ld", (long)getpid());
	setenv("MONGODB_DB", db, 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		rc = 1;
		goto out;
	}
	if ((rc = store_open(&st, cfg)) != OV_OK) {
		fprintf(stderr, "cannot open the store: %s\n", ov_strerror(rc));
		rc = 1;
		goto out;
	}
	fprintf(stderr, "backend: %s\n", store_backend(st));

	RUN(test_vocabulary_is_consistent);
	RUN(test_fold_and_plurals);
	RUN(test_query_words);
	RUN(test_code_fragments_indexed);
	RUN(test_product_from_cianbox);
	if (load_catalog() != OV_OK) {
		fprintf(stderr, "cannot load the test catalog\n");
		rc = 1;
		goto out;
	}
	RUN(test_document_and_quote_agree);
	RUN(test_by_name_and_brand);
	RUN(test_by_code_fragment);
	RUN(test_split_words);
	RUN(test_accents_and_plurals);
	RUN(test_synonyms);
	RUN(test_resolution_spellings);
	RUN(test_ranking);
	RUN(test_alternatives);
	RUN(test_alternatives_4mp_domo);
	RUN(test_injection_finds_nothing);
	RUN(test_empty_query);
	rc = check_finish();
out:
	store_close(st);
	config_free(cfg);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
