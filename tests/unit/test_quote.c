/*
 * test_quote.c - quotes: money, formats, the stored document, numbering,
 * states, the customer's pending quote, and the purge.
 *
 * Runs against the store the configuration selects, like test_store.c:
 * MongoDB when MONGODB_URI is set (database ovidio_quote_test_<pid>),
 * otherwise SQLite in a fresh temporary directory. PDFs go into a
 * temporary PRESUPUESTOS_DIR; both are removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "quote.h"
#include "quote_file.h"
#include "quote_purge.h"
#include "store.h"
#include "uuid.h"

#define NCHILD 8
#define QUOTES_PER_CHILD 20
#define DAY 86400

static struct config *cfg;
static struct store *st;
static char tmpdir[] = "/tmp/ovidio-quote-test-XXXXXX";
static char pdfdir[512];

/* ---- helpers ------------------------------------------------------------ */

static int64_t
set_clock(const char *iso)
{
	char err[128];

	setenv("OVIDIO_NOW", iso, 1);
	if (clock_init(cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "clock: %s\n", err);
		return -1;
	}
	return clock_now();
}

static void
item_init(struct quote_item *it, const char *code, const char *name,
    int64_t qty, int64_t unit_cents, int iva)
{
	memset(it, 0, sizeof(*it));
	snprintf(it->code, sizeof(it->code), "%s", code);
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->quantity = qty;
	it->unit_cents = unit_cents;
	it->iva_tenths = iva;
}

/* A quote for wa_id with two items (one per IVA rate). */
static int
sample_quote(struct quote *q, const char *wa_id)
{
	struct quote_item it;
	int rc;

	quote_init(q);
	snprintf(q->wa_id, sizeof(q->wa_id), "%s", wa_id);
	if ((rc = quote_set_customer(q, "Martín Gómez", "20-28456789-8",
	    "0341 15-555-1234")) != OV_OK)
		return rc;
	item_init(&it, "DH-HAC-HDW1400TP", "Cámara Domo Dahua 4MP", 2, 4850,
	    210);
	if ((rc = quote_add_item(q, &it)) != OV_OK)
		return rc;
	item_init(&it, "FTE-12V5A", "Fuente switching 12V 5A", 3, 720, 105);
	return quote_add_item(q, &it);
}

static int
create_for(const char *wa_id, struct quote *q)
{
	int rc = sample_quote(q, wa_id);

	if (rc == OV_OK)
		rc = quote_create(st, q, 15);
	return rc;
}

/* State of a stored quote, "" when absent. */
static const char *
stored_state(const char *id, char *buf, size_t len)
{
	struct store_quote rec;
	bool found = false;

	buf[0] = '\0';
	if (store_quote_get(st, id, &rec, &found) == OV_OK && found) {
		snprintf(buf, len, "%s", rec.state);
		store_quote_clear(&rec);
	}
	return buf;
}

static bool
exists(const char *dir, const char *name)
{
	char path[1024];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &sb) == 0;
}

static int
touch(const char *dir, const char *name, int64_t mtime)
{
	char path[1024];
	struct timespec ts[2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (write(fd, "%PDF-1.3\n", 9) != 9) {
		close(fd);
		return -1;
	}
	close(fd);
	ts[0].tv_sec = ts[1].tv_sec = (time_t)mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	return utimensat(AT_FDCWD, path, ts, 0);
}

static int
set_mtime(const char *dir, const char *name, int64_t mtime)
{
	char path[1024];
	struct timespec ts[2];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ts[0].tv_sec = ts[1].tv_sec = (time_t)mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	return utimensat(AT_FDCWD, path, ts, 0);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ---- money -------------------------------------------------------------- */

/* 2.50 at 21 % is 0.525: half up gives 0.53, while 2.5 * 0.21 in binary
 * floating point is 0.52499999... and would round to 0.52. */
static void
test_iva_rounds_half_up_exactly(void)
{
	struct quote q;
	struct quote_item it;

	quote_init(&q);
	item_init(&it, "A", "Conector BNC", 1, 250, 210);
	CHECK_INT(quote_add_item(&q, &it), OV_OK);
	CHECK_INT(q.items[0].subtotal_cents, 250);
	CHECK_INT(q.items[0].iva_cents, 53);
	CHECK_INT(q.iva21_cents, 53);
	CHECK_INT(q.total_cents, 303);
	CHECK((int64_t)(2.5 * 0.21 * 100.0) != 53);   /* what float would do */

	/* 1.15 at 21 % = 0.2415 -> 0.24; 0.10 x 3 at 10,5 % = 0.0315 -> 0.03. */
	item_init(&it, "B", "Ficha RJ45", 1, 115, 210);
	CHECK_INT(quote_add_item(&q, &it), OV_OK);
	item_init(&it, "C", "Precinto", 3, 10, 105);
	CHECK_INT(quote_add_item(&q, &it), OV_OK);
	CHECK_INT(q.subtotal_cents, 250 + 115 + 30);
	CHECK_INT(q.iva21_cents, 53 + 24);
	CHECK_INT(q.iva105_cents, 3);
	CHECK_INT(q.total_cents, 395 + 77 + 3);
	quote_clear(&q);
}

/* The rule is once per line: ten lines of 0.10 at 21 % carry 0.021 of
 * IVA each, 0.02 rounded, so 0.20 in all (per rate it would be 0.21).
 * The PDF's lines then add up to its totals. */
static void
test_iva_is_rounded_per_line(void)
{
	struct quote q;
	struct quote_item it;
	int64_t sum = 0;
	double fsum = 0;

	quote_init(&q);
	for (int i = 0; i < 10; i++) {
		item_init(&it, "T", "Tornillo", 1, 10, 210);
		CHECK_INT(quote_add_item(&q, &it), OV_OK);
		fsum += 0.10;
	}
	for (size_t i = 0; i < q.nitems; i++)
		sum += q.items[i].iva_cents;
	CHECK_INT(q.subtotal_cents, 100);
	CHECK_INT(q.iva21_cents, 20);
	CHECK_INT(sum, q.iva21_cents);
	CHECK_INT(q.total_cents, 120);
	CHECK(fsum != 1.0);   /* ten 0.10 in float are not 1.00 */
	quote_clear(&q);
}

static void
test_peso_equivalent(void)
{
	struct quote q;
	struct quote_item it;

	quote_init(&q);
	item_init(&it, "A", "DVR 8 canales", 1, 8990, 210);
	CHECK_INT(quote_add_item(&q, &it), OV_OK);
	CHECK_INT(q.total_cents, 8990 + 1888);   /* 18.879 -> 18.88 */
	CHECK_INT(q.total_ars_cents, 0);          /* rate unknown */
	q.usd_rate_cents = 104550;                /* $ 1.045,50 */
	CHECK_INT(quote_compute(&q), OV_OK);
	/* 108.78 x 1045.50 = 113729.49 */
	CHECK_INT(q.total_ars_cents, 11372949);
	q.usd_rate_cents = -1;
	CHECK_INT(quote_compute(&q), OV_EINVAL);
	quote_clear(&q);
}

static void
test_bad_items_refused(void)
{
	struct quote q;
	struct quote_item it;

	quote_init(&q);
	item_init(&it, "A", "Cable", 0, 100, 210);
	CHECK_INT(quote_add_item(&q, &it), OV_EINVAL);
	item_init(&it, "A", "Cable", QUOTE_QTY_MAX + 1, 100, 210);
	CHECK_INT(quote_add_item(&q, &it), OV_EINVAL);
	item_init(&it, "A", "Cable", 1, -1, 210);
	CHECK_INT(quote_add_item(&q, &it), OV_EINVAL);
	item_init(&it, "A", "Cable", 1, QUOTE_UNIT_MAX_CENTS + 1, 210);
	CHECK_INT(quote_add_item(&q, &it), OV_EINVAL);
	item_init(&it, "A", "Cable", 1, 100, 270);
	CHECK_INT(quote_add_item(&q, &it), OV_EINVAL);
	item_init(&it, "A", "  \t ", 1, 100, 210);
	CHECK_INT(quote_add_item(&q, &it), OV_EINVAL);
	CHECK_INT(q.nitems, 0);
	/* The largest quote still adds up in 64 bits. */
	for (int i = 0; i < QUOTE_ITEMS_MAX; i++) {
		item_init(&it, "X", "Rack", QUOTE_QTY_MAX, QUOTE_UNIT_MAX_CENTS,
		    210);
		if (quote_add_item(&q, &it) != OV_OK)
			break;
	}
	CHECK_INT(q.nitems, QUOTE_ITEMS_MAX);
	CHECK_INT(q.subtotal_cents,
	    (int64_t)QUOTE_ITEMS_MAX * QUOTE_QTY_MAX * QUOTE_UNIT_MAX_CENTS);
	CHECK_INT(quote_add_item(&q, &it), OV_ETOOBIG);
	quote_clear(&q);
}

static void
test_text_is_cleaned(void)
{
	struct quote q;
	struct quote_item it;
	char name[700];

	quote_init(&q);
	item_init(&it, "A\tB", "Cámara\ndomo \xff\xfe 4MP", 1, 100, 210);
	CHECK_INT(quote_add_item(&q, &it), OV_OK);
	CHECK_STR(q.items[0].code, "A B");
	CHECK_STR(q.items[0].name, "Cámara domo ?? 4MP");
	/* "a" and 300 two-byte characters: cut at a character, not in one. */
	name[0] = '\0';
	for (int i = 0; i < 300; i++)
		memcpy(name + 2 * i, "ñ", 3);
	{
		char json[800];

		snprintf(json, sizeof(json), "{\"id\":1,\"producto\":\"a%s\","
		    "\"precio_neto\":1,\"alicuota_iva\":1.21}", name);
		CHECK_INT(quote_item_from_product(json, 1, &it), OV_OK);
		CHECK_INT(strlen(it.name), 239);
		CHECK_INT(quote_add_item(&q, &it), OV_OK);
		CHECK_STR(q.items[1].name, it.name);
	}

	CHECK_INT(quote_set_customer(&q, "Lucía", "20284567898", "+54 9 11"),
	    OV_OK);
	CHECK_STR(q.customer.cuit, "20284567898");
	CHECK_INT(quote_set_customer(&q, "Lucía", "20-28456789-8", NULL),
	    OV_OK);
	CHECK_STR(q.customer.cuit, "20284567898");
	CHECK_INT(quote_set_customer(&q, "Lucía", "2028456789", NULL),
	    OV_EINVAL);
	CHECK_INT(quote_set_customer(&q, "Lucía", "20-2845678-98", NULL),
	    OV_EINVAL);
	CHECK_INT(quote_set_customer(&q, "Lucía", NULL, "0341<script>"),
	    OV_EINVAL);
	quote_clear(&q);
}

/* ---- formats ------------------------------------------------------------ */

static void
test_amounts_in_argentine_format(void)
{
	char buf[32], tiny[5];

	CHECK_INT(quote_format_cents(0, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "0,00");
	quote_format_cents(5, buf, sizeof(buf));
	CHECK_STR(buf, "0,05");
	quote_format_cents(99999, buf, sizeof(buf));
	CHECK_STR(buf, "999,99");
	quote_format_cents(123456, buf, sizeof(buf));
	CHECK_STR(buf, "1.234,56");
	quote_format_cents(100000000, buf, sizeof(buf));
	CHECK_STR(buf, "1.000.000,00");
	quote_format_cents(-123456, buf, sizeof(buf));
	CHECK_STR(buf, "-1.234,56");
	quote_format_cents(INT64_MAX, buf, sizeof(buf));
	CHECK_STR(buf, "92.233.720.368.547.758,07");
	quote_format_cents(INT64_MIN, buf, sizeof(buf));
	CHECK_STR(buf, "-92.233.720.368.547.758,08");
	CHECK_INT(quote_format_cents(123456, tiny, sizeof(tiny)), OV_ETOOBIG);
	CHECK_STR(tiny, "");
	quote_format_rate(210, buf, sizeof(buf));
	CHECK_STR(buf, "21");
	quote_format_rate(105, buf, sizeof(buf));
	CHECK_STR(buf, "10,5");
}

static void
test_dates_in_business_time(void)
{
	char buf[16];
	int64_t t;

	/* 02:00 UTC on 1 December is still 30 November in Córdoba. */
	CHECK_INT(clock_parse_iso8601("2026-12-01T02:00:00Z", &t), OV_OK);
	CHECK_INT(quote_format_date(t, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "30/11/2026");
	CHECK_INT(clock_parse_iso8601("2026-12-01T03:00:00Z", &t), OV_OK);
	quote_format_date(t, buf, sizeof(buf));
	CHECK_STR(buf, "01/12/2026");
}

/* ---- ids ---------------------------------------------------------------- */

static void
test_uuids(void)
{
	enum { N = 2000 };
	static char ids[N][UUID_LEN + 1];
	int dup = 0, bad = 0;

	for (int i = 0; i < N; i++) {
		CHECK_INT(uuid_v4(ids[i]), OV_OK);
		if (!uuid_v4_valid(ids[i]))
			bad++;
		for (int j = 0; j < i; j++)
			if (strcmp(ids[i], ids[j]) == 0)
				dup++;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(dup, 0);
	CHECK(uuid_v4_valid("3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"));
	CHECK(!uuid_v4_valid("3F1C0D2E-8A4B-4C6D-9E0F-1A2B3C4D5E6F"));
	CHECK(!uuid_v4_valid("3f1c0d2e-8a4b-1c6d-9e0f-1a2b3c4d5e6f"));
	CHECK(!uuid_v4_valid("3f1c0d2e-8a4b-4c6d-1e0f-1a2b3c4d5e6f"));
	CHECK(!uuid_v4_valid("3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f0"));
	CHECK(!uuid_v4_valid("3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6"));
	CHECK(!uuid_v4_valid("3f1c0d2e8a4b-4c6d-9e0f-1a2b3c4d5e6f-"));
	CHECK(!uuid_v4_valid("../../../../../../../../etc/passwd00"));
	CHECK(!uuid_v4_valid(""));
	CHECK(!uuid_v4_valid(NULL));
}

static void
test_file_names(void)
{
	static const char *id = "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f";
	char path[64], got[UUID_LEN + 1];

	CHECK_INT(quote_file_path("/srv/p", id, path, sizeof(path)), OV_OK);
	CHECK_STR(path, "/srv/p/3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f.pdf");
	CHECK_INT(quote_file_path("/srv/p", "../x", path, sizeof(path)),
	    OV_EINVAL);
	CHECK_INT(quote_file_path("/a-very-long-directory-name", id, path,
	    sizeof(path)), OV_ETOOBIG);
	CHECK_INT(quote_file_classify(
	    "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f.pdf", got), QUOTE_FILE_PDF);
	CHECK_STR(got, id);
	CHECK_INT(quote_file_classify(
	    "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f.pdf.Ab12Cd.tmp", got),
	    QUOTE_FILE_TMP);
	CHECK_INT(quote_file_classify(
	    "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f.pdf.Ab.2Cd.tmp", NULL),
	    QUOTE_FILE_OTHER);
	CHECK_INT(quote_file_classify(
	    "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f.txt", NULL), QUOTE_FILE_OTHER);
	CHECK_INT(quote_file_classify("notes.pdf", NULL), QUOTE_FILE_OTHER);
	CHECK_INT(quote_file_classify(".", NULL), QUOTE_FILE_OTHER);
}

static void
test_file_written_atomically_0640(void)
{
	char id[UUID_LEN + 1], path[1024], buf[16];
	struct stat sb;
	int fd;

	CHECK_INT(uuid_v4(id), OV_OK);
	CHECK_INT(quote_file_write(pdfdir, id, "%PDF-one", 8), OV_OK);
	CHECK_INT(quote_file_write(pdfdir, id, "%PDF-two", 8), OV_OK);
	quote_file_path(pdfdir, id, path, sizeof(path));
	CHECK_INT(stat(path, &sb), 0);
	CHECK_INT(sb.st_mode & 07777, 0640);
	CHECK_INT(sb.st_size, 8);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, 8) == 8 && memcmp(buf, "%PDF-two", 8) == 0);
	if (fd >= 0)
		close(fd);
	CHECK_INT(quote_file_open(pdfdir, id, &fd, &sb), OV_OK);
	if (fd >= 0)
		close(fd);
	/* A symbolic link in the directory is not served. */
	{
		char other[UUID_LEN + 1], link[1024];

		CHECK_INT(uuid_v4(other), OV_OK);
		quote_file_path(pdfdir, other, link, sizeof(link));
		CHECK_INT(symlink("/etc/passwd", link), 0);
		CHECK_INT(quote_file_open(pdfdir, other, &fd, &sb),
		    OV_ENOTFOUND);
		unlink(link);
	}
	CHECK_INT(quote_file_remove(pdfdir, id, NULL), OV_OK);
	CHECK_INT(quote_file_open(pdfdir, id, &fd, &sb), OV_ENOTFOUND);
	CHECK_INT(quote_file_remove(pdfdir, id, NULL), OV_OK);
}

/* ---- catalog ------------------------------------------------------------ */

/* As productos_page1.json has them. */
static const char *const product_dome =
    "{\"id\":10452,\"producto\":\"Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm\","
    "\"codigo_interno\":\"DH-HAC-HDW1400TP\",\"vigente\":true,\"costo\":31.2,"
    "\"precio_neto\":48.5,\"alicuota_iva\":1.21,\"oferta\":false,"
    "\"stock_total\":12}";
static const char *const product_psu =
    "{\"id\":10477,\"producto\":\"Fuente switching 12V 5A metálica\","
    "\"codigo_interno\":\"FTE-12V5A\",\"precio_neto\":7.2,"
    "\"alicuota_iva\":1.105,\"oferta\":true,\"precio_oferta\":6.5}";

static void
test_item_from_product(void)
{
	struct quote_item it;

	CHECK_INT(quote_item_from_product(product_dome, 3, &it), OV_OK);
	CHECK_INT(it.product_id, 10452);
	CHECK_STR(it.code, "DH-HAC-HDW1400TP");
	CHECK_STR(it.name, "Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm");
	CHECK_INT(it.unit_cents, 4850);
	CHECK_INT(it.iva_tenths, 210);
	CHECK_INT(it.quantity, 3);
	/* On offer: the offer price, at 10,5 %. */
	CHECK_INT(quote_item_from_product(product_psu, 1, &it), OV_OK);
	CHECK_INT(it.unit_cents, 650);
	CHECK_INT(it.iva_tenths, 105);
	/* 58.685 is 58.68499... in binary: still 58.69. */
	CHECK_INT(quote_item_from_product("{\"id\":1,\"producto\":\"x\","
	    "\"precio_neto\":58.685,\"alicuota_iva\":21}", 1, &it), OV_OK);
	CHECK_INT(it.unit_cents, 5869);
	CHECK_INT(it.iva_tenths, 210);
	CHECK_INT(quote_item_from_product("{\"id\":1,\"producto\":\"x\","
	    "\"precio_neto\":5,\"alicuota_iva\":1.27}", 1, &it), OV_EPARSE);
	CHECK_INT(quote_item_from_product("{\"id\":1,\"precio_neto\":5,"
	    "\"alicuota_iva\":1.21}", 1, &it), OV_EPARSE);
	CHECK_INT(quote_item_from_product("{\"id\":1,\"producto\":\"x\","
	    "\"precio_neto\":-5,\"alicuota_iva\":1.21}", 1, &it), OV_EPARSE);
	CHECK_INT(quote_item_from_product("{\"id\":1,\"producto\":\"x\","
	    "\"precio_neto\":1e300,\"alicuota_iva\":1.21}", 1, &it),
	    OV_EPARSE);
	CHECK_INT(quote_item_from_product("[1,2]", 1, &it), OV_EPARSE);
	CHECK_INT(quote_item_from_product("{", 1, &it), OV_EPARSE);
	CHECK_INT(quote_item_from_product(product_dome, 0, &it), OV_EINVAL);
}

static void
test_add_product_from_the_catalog(void)
{
	struct store_catalog_writer *w = NULL;
	struct quote q;

	CHECK_INT(store_catalog_begin(st, "productos_cache", &w), OV_OK);
	CHECK_INT(store_catalog_add(w, "10452", product_dome), OV_OK);
	CHECK_INT(store_catalog_add(w, "10477", product_psu), OV_OK);
	CHECK_INT(store_catalog_commit(w), OV_OK);
	quote_init(&q);
	CHECK_INT(quote_add_product(st, &q, 10452, 2), OV_OK);
	CHECK_INT(quote_add_product(st, &q, 10477, 10), OV_OK);
	CHECK_INT(quote_add_product(st, &q, 99999, 1), OV_ENOTFOUND);
	CHECK_INT(q.nitems, 2);
	CHECK_INT(q.subtotal_cents, 2 * 4850 + 10 * 650);
	CHECK_INT(q.iva21_cents, 2037);   /* 97.00 x 21 % = 20.37 */
	CHECK_INT(q.iva105_cents, 683);   /* 65.00 x 10,5 % = 6.825 -> 6.83 */
	quote_clear(&q);
}

/* ---- the stored document ------------------------------------------------- */

static void
test_record_round_trip(void)
{
	struct quote q, back;
	struct store_quote rec;

	CHECK_INT(sample_quote(&q, "5493415551234"), OV_OK);
	CHECK_INT(uuid_v4(q.id), OV_OK);
	q.number = 77;
	q.created_at = 1700000000;
	q.expires_at = 1700000000 + 15 * DAY;
	q.usd_rate_cents = 104550;
	CHECK_INT(quote_compute(&q), OV_OK);
	CHECK_INT(quote_to_record(&q, &rec), OV_OK);
	CHECK_STR(rec.state, "pendiente_confirmacion");
	CHECK(rec.doc != NULL);
	quote_init(&back);
	CHECK_INT(quote_from_record(&rec, &back), OV_OK);
	CHECK_STR(back.id, q.id);
	CHECK_INT(back.number, 77);
	CHECK_STR(back.wa_id, "5493415551234");
	CHECK_STR(back.customer.name, "Martín Gómez");
	CHECK_STR(back.customer.cuit, "20284567898");
	CHECK_STR(back.customer.phone, "0341 15-555-1234");
	CHECK_INT(back.nitems, 2);
	if (back.nitems == 2) {
		CHECK_STR(back.items[0].name, "Cámara Domo Dahua 4MP");
		CHECK_INT(back.items[1].unit_cents, 720);
		CHECK_INT(back.items[1].iva_tenths, 105);
	}
	CHECK_INT(back.total_cents, q.total_cents);
	CHECK_INT(back.total_ars_cents, q.total_ars_cents);
	CHECK(!back.purged);
	quote_clear(&back);
	free(rec.doc);

	/* A purge trace: no document. */
	rec.doc = NULL;
	snprintf(rec.state, sizeof(rec.state), "vencido");
	quote_init(&back);
	CHECK_INT(quote_from_record(&rec, &back), OV_OK);
	CHECK(back.purged);
	CHECK_INT(back.state, QUOTE_EXPIRED);
	CHECK_INT(back.nitems, 0);
	CHECK(quote_is_expired(&back, back.created_at));
	quote_clear(&back);
	quote_clear(&q);
}

static void
test_bad_documents_refused(void)
{
	static const char *const bad[] = {
		"", "{", "[]", "{\"v\":2}", "{\"v\":1}",
		"{\"v\":1,\"customer\":{},\"currency\":\"USD\","
		"\"usd_rate_cents\":0,\"items\":[{\"product_id\":1,"
		"\"quantity\":\"2\",\"unit_cents\":100,\"iva\":210,"
		"\"name\":\"x\"}]}",
		"{\"v\":1,\"customer\":{},\"currency\":\"USD\","
		"\"usd_rate_cents\":0,\"items\":[{\"product_id\":1,"
		"\"quantity\":2,\"unit_cents\":1e30,\"iva\":210,"
		"\"name\":\"x\"}]}",
		"{\"v\":1,\"customer\":{},\"currency\":\"USD\","
		"\"usd_rate_cents\":0,\"items\":[{\"product_id\":1,"
		"\"quantity\":2,\"unit_cents\":100,\"iva\":200,"
		"\"name\":\"x\"}]}",
		"{\"v\":1,\"customer\":{\"cuit\":\"abc\"},\"currency\":\"USD\","
		"\"usd_rate_cents\":0,\"items\":[]}",
		/* A good item, then a bad one: refused, not half read. */
		"{\"v\":1,\"customer\":{},\"currency\":\"USD\","
		"\"usd_rate_cents\":0,\"items\":[{\"product_id\":1,"
		"\"quantity\":2,\"unit_cents\":100,\"iva\":210,"
		"\"name\":\"x\"},{\"product_id\":2,\"quantity\":\"2\","
		"\"unit_cents\":100,\"iva\":210,\"name\":\"y\"}]}",
	};
	struct quote q;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		quote_init(&q);
		CHECK_INT(quote_doc_from_json(bad[i], &q), OV_EPARSE);
		quote_clear(&q);
	}
	quote_init(&q);
	CHECK_INT(quote_doc_from_json("{\"v\":1,\"customer\":{},\"currency\":"
	    "\"USD\",\"usd_rate_cents\":0,\"items\":[{\"product_id\":1,"
	    "\"quantity\":2,\"unit_cents\":100,\"iva\":210,\"name\":\"x\"}]}",
	    &q), OV_OK);
	CHECK_INT(q.total_cents, 242);
	quote_clear(&q);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void
test_create_numbers_and_dates(void)
{
	struct quote a, b, got;
	bool found = false;
	int64_t now = set_clock("2026-12-01T10:00:00-03:00");

	CHECK_INT(create_for("5493415550101", &a), OV_OK);
	CHECK_INT(create_for("5493415550102", &b), OV_OK);
	CHECK(uuid_v4_valid(a.id));
	CHECK(strcmp(a.id, b.id) != 0);
	CHECK(a.number >= 1);
	CHECK_INT(b.number, a.number + 1);
	CHECK_INT(a.created_at, now);
	CHECK_INT(a.expires_at, now + 15 * DAY);
	CHECK_INT(a.state, QUOTE_PENDING);

	quote_init(&got);
	CHECK_INT(quote_load(st, a.id, &got, &found), OV_OK);
	CHECK(found);
	CHECK_INT(got.number, a.number);
	CHECK_INT(got.total_cents, a.total_cents);
	CHECK_STR(got.customer.name, "Martín Gómez");
	CHECK(!quote_is_expired(&got, now + 15 * DAY - 1));
	CHECK(quote_is_expired(&got, now + 15 * DAY));
	quote_clear(&got);
	CHECK_INT(quote_load(st, "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f", &got,
	    &found), OV_OK);
	CHECK(!found);
	CHECK_INT(quote_load(st, "../etc", &got, &found), OV_EINVAL);

	/* An empty quote or a bad number is not created. */
	quote_clear(&a);
	quote_init(&a);
	snprintf(a.wa_id, sizeof(a.wa_id), "5493415550101");
	CHECK_INT(quote_create(st, &a, 15), OV_EINVAL);
	CHECK_INT(sample_quote(&a, "+54 9 341"), OV_OK);
	CHECK_INT(quote_create(st, &a, 15), OV_EINVAL);
	quote_clear(&a);
	quote_clear(&b);
}

static void
test_new_quote_cancels_pending_one(void)
{
	struct quote a, b, c, d;
	char s[32];

	set_clock("2026-12-02T10:00:00-03:00");
	CHECK_INT(create_for("5493415550201", &a), OV_OK);
	set_clock("2026-12-02T10:05:00-03:00");
	CHECK_INT(create_for("5493415550201", &b), OV_OK);
	CHECK_STR(stored_state(a.id, s, sizeof(s)), "cancelado");
	CHECK_STR(stored_state(b.id, s, sizeof(s)), "pendiente_confirmacion");
	/* Another customer's quote leaves this one alone. */
	CHECK_INT(create_for("5493415550202", &c), OV_OK);
	CHECK_STR(stored_state(b.id, s, sizeof(s)), "pendiente_confirmacion");
	/* A sent quote is not pending: the next one does not touch it. */
	CHECK_INT(quote_set_state(st, &b, QUOTE_SENT), OV_OK);
	set_clock("2026-12-02T10:10:00-03:00");
	CHECK_INT(create_for("5493415550201", &d), OV_OK);
	CHECK_STR(stored_state(b.id, s, sizeof(s)), "enviado");
	CHECK_STR(stored_state(d.id, s, sizeof(s)), "pendiente_confirmacion");
	quote_clear(&a);
	quote_clear(&b);
	quote_clear(&c);
	quote_clear(&d);
}

static void
test_state_changes(void)
{
	struct quote q;
	char s[32];

	CHECK_INT(create_for("5493415550301", &q), OV_OK);
	CHECK_INT(quote_set_state(st, &q, QUOTE_EXPIRED), OV_EINVAL);
	CHECK_INT(quote_set_state(st, &q, QUOTE_SENT), OV_OK);
	CHECK_INT(quote_set_state(st, &q, QUOTE_SENT), OV_OK);
	CHECK_INT(quote_set_state(st, &q, QUOTE_CANCELLED), OV_EINVAL);
	CHECK_INT(quote_set_state(st, &q, QUOTE_PENDING), OV_EINVAL);
	CHECK_INT(q.state, QUOTE_SENT);
	CHECK_STR(stored_state(q.id, s, sizeof(s)), "enviado");
	quote_clear(&q);
	CHECK_INT(create_for("5493415550301", &q), OV_OK);
	CHECK_INT(quote_set_state(st, &q, QUOTE_CANCELLED), OV_OK);
	CHECK_INT(quote_set_state(st, &q, QUOTE_SENT), OV_EINVAL);
	CHECK_STR(stored_state(q.id, s, sizeof(s)), "cancelado");
	quote_clear(&q);
}

/* Many workers creating quotes at once never share a number. */
static void
test_concurrent_creation(void)
{
	enum { TOTAL = NCHILD * QUOTES_PER_CHILD };
	int res[2], failed = 0, dup = 0, bad = 0;
	int64_t numbers[TOTAL], start;
	size_t got = 0;
	struct quote q;

	CHECK_INT(create_for("5493415550400", &q), OV_OK);
	start = q.number;
	quote_clear(&q);
	if (pipe(res) != 0) {
		CHECK(0);
		return;
	}
	for (int i = 0; i < NCHILD; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			int64_t mine[QUOTES_PER_CHILD];
			struct store *cst = NULL;
			char wa[20];

			close(res[0]);
			memset(mine, 0, sizeof(mine));
			snprintf(wa, sizeof(wa), "54934155504%02d", i + 1);
			if (store_open(&cst, cfg) == OV_OK) {
				for (int k = 0; k < QUOTES_PER_CHILD; k++) {
					struct quote cq;

					if (sample_quote(&cq, wa) == OV_OK &&
					    quote_create(cst, &cq, 15) == OV_OK)
						mine[k] = cq.number;
					quote_clear(&cq);
				}
				store_close(cst);
			}
			if (write(res[1], mine, sizeof(mine)) !=
			    (ssize_t)sizeof(mine))
				_exit(1);
			_exit(0);
		}
		if (pid < 0)
			failed++;
	}
	close(res[1]);
	while (got < sizeof(numbers)) {
		ssize_t r = read(res[0], (char *)numbers + got,
		    sizeof(numbers) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(res[0]);
	while (wait(NULL) > 0)
		;
	CHECK_INT(failed, 0);
	CHECK_INT(got, sizeof(numbers));
	for (int i = 0; i < TOTAL; i++) {
		if (numbers[i] <= start || numbers[i] > start + TOTAL)
			bad++;
		for (int j = 0; j < i; j++)
			if (numbers[i] == numbers[j])
				dup++;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(dup, 0);
	/* And every one of them was stored under its own id. */
	CHECK_INT(create_for("5493415550400", &q), OV_OK);
	CHECK_INT(q.number, start + TOTAL + 1);
	quote_clear(&q);
}

/* ---- purge -------------------------------------------------------------- */

struct seen {
	int quotes, orphans;
};

static void
count_event(void *ctx, enum quote_purge_event ev, const char *name,
    int64_t number, int64_t when)
{
	struct seen *s = ctx;

	(void)name;
	(void)number;
	(void)when;
	if (ev == QUOTE_PURGE_QUOTE)
		s->quotes++;
	else
		s->orphans++;
}

static void
test_purge(void)
{
	struct quote old[3], young[2], got;
	struct quote_purge_stats ps;
	struct seen seen = { 0, 0 };
	char s[32], name[128], orphan_old[UUID_LEN + 1],
	    orphan_young[UUID_LEN + 1];
	int64_t t0, t10, now;
	bool found = false;
	int64_t last_number = 0;

	/* A fresh directory: only what this test puts there. */
	snprintf(pdfdir + strlen(pdfdir), sizeof(pdfdir) - strlen(pdfdir),
	    "/purge");
	t0 = set_clock("2027-01-01T10:00:00-03:00");
	/* Earlier tests' quotes (December 2026) are old by now: out first. */
	CHECK_INT(quote_purge(st, pdfdir, t0, 15, false, NULL, NULL, &ps),
	    OV_OK);
	CHECK(ps.quotes > 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "54934155506%02d", i);
		CHECK_INT(create_for(name, &old[i]), OV_OK);
		CHECK_INT(quote_file_write(pdfdir, old[i].id, "%PDF-old", 8),
		    OV_OK);
		snprintf(name, sizeof(name), "%.36s.pdf", old[i].id);
		CHECK_INT(set_mtime(pdfdir, name, t0), 0);
	}
	t10 = set_clock("2027-01-11T10:00:00-03:00");
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "54934155507%02d", i);
		CHECK_INT(create_for(name, &young[i]), OV_OK);
		CHECK_INT(quote_file_write(pdfdir, young[i].id, "%PDF-new", 8),
		    OV_OK);
		snprintf(name, sizeof(name), "%.36s.pdf", young[i].id);
		CHECK_INT(set_mtime(pdfdir, name, t10), 0);
		last_number = young[i].number;
	}
	/* Files with no record: old ones go, young ones may be on their way. */
	CHECK_INT(uuid_v4(orphan_old), OV_OK);
	CHECK_INT(uuid_v4(orphan_young), OV_OK);
	snprintf(name, sizeof(name), "%.36s.pdf", orphan_old);
	CHECK_INT(touch(pdfdir, name, t0), 0);
	snprintf(name, sizeof(name), "%.36s.pdf", orphan_young);
	CHECK_INT(touch(pdfdir, name, t10), 0);
	snprintf(name, sizeof(name), "%.36s.pdf.Xy12Zw.tmp", orphan_old);
	CHECK_INT(touch(pdfdir, name, t0), 0);
	snprintf(name, sizeof(name), "%.36s.pdf.Ab34Cd.tmp", orphan_young);
	CHECK_INT(touch(pdfdir, name, t10), 0);
	CHECK_INT(touch(pdfdir, "notas.txt", t0), 0);
	CHECK_INT(touch(pdfdir, "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f.bak",
	    t0), 0);

	/* 20 days after t0 with 15 days of life: cutoff at t0 + 5 days. */
	now = set_clock("2027-01-21T10:00:00-03:00");

	/* A dry run lists and changes nothing. */
	CHECK_INT(quote_purge(st, pdfdir, now, 15, true, count_event, &seen,
	    &ps), OV_OK);
	CHECK_INT(ps.quotes, 3);
	CHECK_INT(ps.orphans, 2);
	CHECK_INT(seen.quotes, 3);
	CHECK_INT(seen.orphans, 2);
	CHECK_STR(stored_state(old[0].id, s, sizeof(s)),
	    "pendiente_confirmacion");
	snprintf(name, sizeof(name), "%.36s.pdf", old[0].id);
	CHECK(exists(pdfdir, name));
	snprintf(name, sizeof(name), "%.36s.pdf", orphan_old);
	CHECK(exists(pdfdir, name));

	CHECK_INT(quote_purge(st, pdfdir, now, 15, false, NULL, NULL, &ps),
	    OV_OK);
	CHECK_INT(ps.quotes, 3);
	CHECK_INT(ps.files, 3);
	CHECK_INT(ps.orphans, 2);
	CHECK_INT(ps.errors, 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%.36s.pdf", old[i].id);
		CHECK(!exists(pdfdir, name));
		/* The trace: number and dates, nothing of the customer. */
		quote_init(&got);
		CHECK_INT(quote_load(st, old[i].id, &got, &found), OV_OK);
		CHECK(found);
		CHECK(got.purged);
		CHECK_INT(got.state, QUOTE_EXPIRED);
		CHECK_INT(got.number, old[i].number);
		CHECK_INT(got.created_at, old[i].created_at);
		CHECK_INT(got.expires_at, old[i].expires_at);
		CHECK_STR(got.wa_id, "0");
		CHECK_INT(got.nitems, 0);
		CHECK_STR(got.customer.name, "");
		quote_clear(&got);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "%.36s.pdf", young[i].id);
		CHECK(exists(pdfdir, name));
		CHECK_STR(stored_state(young[i].id, s, sizeof(s)),
		    "pendiente_confirmacion");
	}
	snprintf(name, sizeof(name), "%.36s.pdf", orphan_old);
	CHECK(!exists(pdfdir, name));
	snprintf(name, sizeof(name), "%.36s.pdf.Xy12Zw.tmp", orphan_old);
	CHECK(!exists(pdfdir, name));
	snprintf(name, sizeof(name), "%.36s.pdf", orphan_young);
	CHECK(exists(pdfdir, name));
	snprintf(name, sizeof(name), "%.36s.pdf.Ab34Cd.tmp", orphan_young);
	CHECK(exists(pdfdir, name));
	CHECK(exists(pdfdir, "notas.txt"));
	CHECK(exists(pdfdir, "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f.bak"));

	/* Again: nothing more to do. */
	CHECK_INT(quote_purge(st, pdfdir, now, 15, false, NULL, NULL, &ps),
	    OV_OK);
	CHECK_INT(ps.quotes, 0);
	CHECK_INT(ps.files, 0);
	CHECK_INT(ps.orphans, 0);

	/* A PDF that turns up again for a purged quote goes at any age. */
	CHECK_INT(quote_file_write(pdfdir, old[1].id, "%PDF-again", 10), OV_OK);
	CHECK_INT(quote_purge(st, pdfdir, now, 15, false, NULL, NULL, &ps),
	    OV_OK);
	CHECK_INT(ps.orphans, 1);
	snprintf(name, sizeof(name), "%.36s.pdf", old[1].id);
	CHECK(!exists(pdfdir, name));

	/* Numbers go on after a purge; they never start again. */
	CHECK_INT(create_for("5493415550800", &got), OV_OK);
	CHECK_INT(got.number, last_number + 1);
	quote_clear(&got);

	/* A directory that does not exist yet is nothing to purge. */
	CHECK_INT(quote_purge(st, "/nonexistent/ovidio", now, 15, false, NULL,
	    NULL, &ps), OV_OK);
	for (int i = 0; i < 3; i++)
		quote_clear(&old[i]);
	for (int i = 0; i < 2; i++)
		quote_clear(&young[i]);
}

int
main(void)
{
	char err[256], db[64];
	int rc;

	log_init("test_quote");
	log_set_level(LOG_WARN);
	umask(022);
	unsetenv("OVIDIO_CONFIG");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(pdfdir, sizeof(pdfdir), "%s/presupuestos", tmpdir);
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
	setenv("PRESUPUESTOS_DIR", pdfdir, 1);
	setenv("TZ", "America/Argentina/Cordoba", 1);
	snprintf(db, sizeof(db), "ovidio_quote_test_%ld", (long)getpid());
	setenv("MONGODB_DB", db, 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		rc = 1;
		goto out;
	}
	quote_use_timezone(cfg);
	if ((rc = store_open(&st, cfg)) != OV_OK) {
		fprintf(stderr, "cannot open the store: %s\n", ov_strerror(rc));
		rc = 1;
		goto out;
	}
	printf("store: %s\n", store_backend(st));

	RUN(test_iva_rounds_half_up_exactly);
	RUN(test_iva_is_rounded_per_line);
	RUN(test_peso_equivalent);
	RUN(test_bad_items_refused);
	RUN(test_text_is_cleaned);
	RUN(test_amounts_in_argentine_format);
	RUN(test_dates_in_business_time);
	RUN(test_uuids);
	RUN(test_file_names);
	RUN(test_file_written_atomically_0640);
	RUN(test_item_from_product);
	RUN(test_add_product_from_the_catalog);
	RUN(test_record_round_trip);
	RUN(test_bad_documents_refused);
	RUN(test_create_numbers_and_dates);
	RUN(test_new_quote_cancels_pending_one);
	RUN(test_state_changes);
	RUN(test_concurrent_creation);
	RUN(test_purge);
	rc = check_finish();
out:
	store_close(st);
	config_free(cfg);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
