/*
 * test_quote_pdf.c - the quote PDF as a customer sees it: read back with
 * poppler's pdftotext/pdfinfo (Debian poppler-utils), as a viewer would.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "quote.h"
#include "quote_file.h"
#include "quote_pdf.h"

#define OUT_MAX (1024 * 1024)

static struct config *cfg;
static char tmpdir[] = "/tmp/ovidio-quote-pdf-test-XXXXXX";

/* A small RGBA PNG (16x8, half transparent red) and an 8x8 grey JPEG. */
static const unsigned char logo_png[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
	0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x08,
	0x08, 0x06, 0x00, 0x00, 0x00, 0xf0, 0x76, 0x7f, 0x97, 0x00, 0x00, 0x00,
	0x15, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x38, 0x21, 0x27, 0xd7,
	0x40, 0x09, 0x66, 0x18, 0x35, 0x60, 0x38, 0x18, 0x00, 0x00, 0x4b, 0x93,
	0xc2, 0x01, 0x9d, 0x13, 0x4b, 0x4f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
	0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};
static const unsigned char logo_jpeg[] = {
	0xff, 0xd8, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01,
	0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
	0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
	0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
	0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
	0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0xff,
	0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00,
	0xff, 0xc4, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0xff, 0xc4,
	0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x08,
	0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x48, 0x0f, 0xff, 0xd9,
};

/* ---- helpers ------------------------------------------------------------ */

/* Run argv, return its standard output (malloc'd, NUL-terminated) or NULL
 * when it could not run or failed. */
static char *
run(char *const argv[])
{
	int p[2], status;
	char *out;
	size_t len = 0;
	pid_t pid;

	if (pipe(p) != 0)
		return NULL;
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(p[1], STDOUT_FILENO);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		close(p[0]);
		close(p[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	out = malloc(OUT_MAX + 1);
	while (out != NULL && len < OUT_MAX) {
		ssize_t r = read(p[0], out + len, OUT_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(p[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		free(out);
		return NULL;
	}
	if (out != NULL)
		out[len] = '\0';
	return out;
}

static int
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, data, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

/* Render q with brand b into tmpdir/name; 0 on success. */
static int
render_to(const struct quote *q, const struct quote_pdf_brand *b,
    const char *name, char *path, size_t pathlen)
{
	unsigned char *pdf = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	rc = quote_pdf_render(q, b, &pdf, &len);
	if (rc == OV_OK && (len < 5 || memcmp(pdf, "%PDF-", 5) != 0))
		rc = OV_EIO;
	if (rc == OV_OK && write_file(path, pdf, len) != 0)
		rc = OV_EIO;
	free(pdf);
	return rc;
}

static char *
pdf_text(const char *path, int page)
{
	char first[16], last[16];
	char *all[] = { "pdftotext", "-layout", "-enc", "UTF-8", (char *)path,
	    "-", NULL };
	char *one[] = { "pdftotext", "-layout", "-enc", "UTF-8", "-f", first,
	    "-l", last, (char *)path, "-", NULL };

	if (page == 0)
		return run(all);
	snprintf(first, sizeof(first), "%d", page);
	snprintf(last, sizeof(last), "%d", page);
	return run(one);
}

/* Some line of text holds both a and b. */
static bool
line_has(const char *text, const char *a, const char *b)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char line[1024];

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		if (strstr(line, a) != NULL && strstr(line, b) != NULL)
			return true;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return false;
}

static int
count_of(const char *text, const char *s)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	return n;
}

static void
item(struct quote *q, const char *code, const char *name, int64_t qty,
    int64_t unit, int iva)
{
	struct quote_item it;

	memset(&it, 0, sizeof(it));
	snprintf(it.code, sizeof(it.code), "%s", code);
	snprintf(it.name, sizeof(it.name), "%s", name);
	it.quantity = qty;
	it.unit_cents = unit;
	it.iva_tenths = iva;
	CHECK_INT(quote_add_item(q, &it), OV_OK);
}

/* Quote 1234, made 01/12/2026 10:00 in Rosario, valid 15 days. */
static void
base_quote(struct quote *q)
{
	quote_init(q);
	snprintf(q->id, sizeof(q->id), "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f");
	q->number = 1234;
	snprintf(q->wa_id, sizeof(q->wa_id), "5493415551234");
	CHECK_INT(clock_parse_iso8601("2026-12-01T10:00:00-03:00",
	    &q->created_at), OV_OK);
	q->expires_at = q->created_at + 15 * 86400;
	CHECK_INT(quote_set_customer(q, "Martín Gómez Ñandú", "20284567898",
	    "0341 15-555-1234"), OV_OK);
}

static struct quote_pdf_brand *
brand(const char *logo)
{
	struct quote_pdf_brand *b = NULL;

	CHECK_INT(quote_pdf_brand_new("GRUPO SER Pruebas",
	    "GRUPO SER - Seguridad electrónica - Rosario, Santa Fe", logo, &b),
	    OV_OK);
	return b;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_pdf_shows_the_quote(void)
{
	struct quote_pdf_brand *b = brand(NULL);
	struct quote q;
	char path[512], *text = NULL;

	base_quote(&q);
	q.usd_rate_cents = 104550;
	item(&q, "DH-HAC-HDW1400TP", "Cámara Domo Dahua 4MP", 2, 4850, 210);
	item(&q, "FTE-12V5A", "Fuente switching 12V 5A", 3, 720, 105);
	item(&q, "DS-7208HGHI-K1", "DVR Hikvision 8 canales", 1, 8990, 210);
	CHECK_INT(render_to(&q, b, "basic.pdf", path, sizeof(path)), OV_OK);
	text = pdf_text(path, 0);
	CHECK(text != NULL);
	if (text != NULL) {
		CHECK(strstr(text, "PRESUPUESTO N° 1234") != NULL);
		CHECK(strstr(text, "GRUPO SER Pruebas") != NULL);
		CHECK(strstr(text, "Martín Gómez Ñandú") != NULL);
		CHECK(strstr(text, "20-28456789-8") != NULL);
		CHECK(strstr(text, "0341 15-555-1234") != NULL);
		CHECK(line_has(text, "Fecha:", "01/12/2026"));
		CHECK(line_has(text, "Válido hasta:", "16/12/2026"));
		/* Every item: code, name, quantity, unit price, rate, subtotal. */
		CHECK(line_has(text, "DH-HAC-HDW1400TP", "Cámara Domo Dahua 4MP"));
		CHECK(line_has(text, "Cámara Domo Dahua 4MP", "48,50"));
		CHECK(line_has(text, "Cámara Domo Dahua 4MP", "97,00"));
		CHECK(line_has(text, "FTE-12V5A", "10,5 %"));
		CHECK(line_has(text, "Fuente switching 12V 5A", "21,60"));
		CHECK(line_has(text, "DS-7208HGHI-K1", "89,90"));
		/* Totals per rate: 97,00 + 89,90 at 21 % (20,37 + 18,88), 21,60
		 * at 10,5 % (2,268 -> 2,27). */
		CHECK(line_has(text, "Subtotal", "208,50"));
		CHECK(line_has(text, "IVA 21 %", "39,25"));
		CHECK(line_has(text, "IVA 10,5 %", "2,27"));
		CHECK(line_has(text, "TOTAL", "250,02"));
		CHECK(line_has(text, "Equivalente en pesos", "261.395,91"));
		CHECK(strstr(text, "no es una factura") != NULL);
		CHECK(strstr(text, "u$s") != NULL);
		CHECK(strstr(text, "más IVA") != NULL);
		CHECK(line_has(text, "Seguridad electrónica", "Página 1 de 1"));
	}
	free(text);
	quote_clear(&q);
	quote_pdf_brand_free(b);
}

static void
test_sixty_items_continue_over_pages(void)
{
	struct quote_pdf_brand *b = brand(NULL);
	struct quote q;
	char path[512], code[32], name[200], *text, *info;
	int pages = 0, table_pages = 0, missing = 0, repeated = 0;

	base_quote(&q);
	for (int i = 1; i <= 60; i++) {
		snprintf(code, sizeof(code), "ART-%03d", i);
		/* Every third one long enough to wrap over several lines. */
		snprintf(name, sizeof(name), i % 3 == 0 ?
		    "Cámara bullet %d con lente varifocal motorizado, "
		    "infrarrojo de 60 metros, protección IP67 y audio" :
		    "Cable UTP cat. 6 exterior %d", i);
		item(&q, code, name, i, 1000 + i, i % 2 ? 210 : 105);
	}
	CHECK_INT(render_to(&q, b, "sixty.pdf", path, sizeof(path)), OV_OK);
	{
		char *argv[] = { "pdfinfo", path, NULL };

		info = run(argv);
	}
	CHECK(info != NULL);
	if (info != NULL) {
		char *p = strstr(info, "Pages:");

		if (p != NULL)
			pages = (int)strtol(p + 6, NULL, 10);
	}
	free(info);
	CHECK(pages >= 3);
	for (int pg = 1; pg <= pages; pg++) {
		char footer[32];

		text = pdf_text(path, pg);
		CHECK(text != NULL);
		if (text == NULL)
			continue;
		/* The table's header on every page that has rows (the totals
		 * may get a page of their own). */
		if (strstr(text, "ART-") != NULL) {
			table_pages++;
			CHECK(line_has(text, "Código", "Descripción"));
			CHECK(line_has(text, "Cant.", "Subtotal u$s"));
		}
		CHECK(strstr(text, "PRESUPUESTO N° 1234") != NULL);
		snprintf(footer, sizeof(footer), "Página %d de %d", pg, pages);
		CHECK(strstr(text, footer) != NULL);
		free(text);
	}
	CHECK(table_pages >= 2);
	CHECK(table_pages >= pages - 1);
	text = pdf_text(path, 0);
	CHECK(text != NULL);
	for (int i = 1; text != NULL && i <= 60; i++) {
		snprintf(code, sizeof(code), "ART-%03d", i);
		if (count_of(text, code) == 0)
			missing++;
		if (count_of(text, code) > 1)
			repeated++;
	}
	CHECK_INT(missing, 0);
	CHECK_INT(repeated, 0);
	if (text != NULL) {
		/* The wrapped descriptions are all there, and the totals come
		 * once, at the end. */
		CHECK_INT(count_of(text, "protección IP67 y audio"), 20);
		CHECK_INT(count_of(text, "TOTAL"), 1);
		CHECK(strstr(text, "TOTAL") > strstr(text, "ART-060"));
	}
	free(text);
	quote_clear(&q);
	quote_pdf_brand_free(b);
}

static void
test_logo_absent_or_broken_still_renders(void)
{
	static const char *const logos[] = {
		"/nonexistent/logo.png", "broken.png", "broken.jpg", "text.png",
		"",
	};
	char path[512], logo[512], *text;
	unsigned char broken[sizeof(logo_png)];
	struct quote q;

	memcpy(broken, logo_png, sizeof(broken));
	memset(broken + 40, 0xff, 12);   /* corrupt the image data */
	snprintf(logo, sizeof(logo), "%s/broken.png", tmpdir);
	CHECK_INT(write_file(logo, broken, sizeof(broken)), 0);
	snprintf(logo, sizeof(logo), "%s/broken.jpg", tmpdir);
	CHECK_INT(write_file(logo, "\xff\xd8\xff\xe0garbage", 11), 0);
	snprintf(logo, sizeof(logo), "%s/text.png", tmpdir);
	CHECK_INT(write_file(logo, "not an image", 12), 0);

	base_quote(&q);
	item(&q, "FTE-12V5A", "Fuente switching 12V 5A", 3, 720, 105);
	for (size_t i = 0; i < sizeof(logos) / sizeof(logos[0]); i++) {
		struct quote_pdf_brand *b;

		if (logos[i][0] == '/' || logos[i][0] == '\0')
			snprintf(logo, sizeof(logo), "%s", logos[i]);
		else
			snprintf(logo, sizeof(logo), "%s/%s", tmpdir, logos[i]);
		b = brand(logo);
		CHECK(b != NULL && !quote_pdf_brand_has_logo(b));
		CHECK_INT(render_to(&q, b, "nologo.pdf", path, sizeof(path)),
		    OV_OK);
		text = pdf_text(path, 0);
		CHECK(text != NULL && strstr(text, "PRESUPUESTO N° 1234") != NULL);
		free(text);
		quote_pdf_brand_free(b);
	}
	quote_clear(&q);
}

/* A readable logo ends up in the PDF as an image. */
static void
test_png_and_jpeg_logos(void)
{
	char path[512], logo[512];
	unsigned char *pdf = NULL;
	size_t len = 0;
	struct quote q;
	struct quote_pdf_brand *b;

	base_quote(&q);
	item(&q, "FTE-12V5A", "Fuente switching 12V 5A", 3, 720, 105);

	snprintf(logo, sizeof(logo), "%s/logo.png", tmpdir);
	CHECK_INT(write_file(logo, logo_png, sizeof(logo_png)), 0);
	b = brand(logo);
	CHECK(quote_pdf_brand_has_logo(b));
	CHECK_INT(quote_pdf_render(&q, b, &pdf, &len), OV_OK);
	CHECK(pdf != NULL && memmem(pdf, len, "/Subtype /Image", 15) != NULL);
	free(pdf);
	pdf = NULL;
	quote_pdf_brand_free(b);

	snprintf(logo, sizeof(logo), "%s/logo.jpg", tmpdir);
	CHECK_INT(write_file(logo, logo_jpeg, sizeof(logo_jpeg)), 0);
	b = brand(logo);
	CHECK(quote_pdf_brand_has_logo(b));
	CHECK_INT(quote_pdf_render(&q, b, &pdf, &len), OV_OK);
	CHECK(pdf != NULL && memmem(pdf, len, "/DCTDecode", 10) != NULL);
	free(pdf);
	quote_pdf_brand_free(b);

	CHECK_INT(render_to(&q, b = brand(logo), "jpeg.pdf", path,
	    sizeof(path)), OV_OK);
	quote_pdf_brand_free(b);
	quote_clear(&q);
}

static void
test_same_quote_same_bytes(void)
{
	struct quote_pdf_brand *b = brand(NULL);
	unsigned char *a = NULL, *c = NULL, *d = NULL;
	size_t alen = 0, clen = 0, dlen = 0;
	struct quote q;
	char err[128];

	base_quote(&q);
	item(&q, "DH-HAC-HDW1400TP", "Cámara Domo Dahua 4MP", 2, 4850, 210);
	item(&q, "FTE-12V5A", "Fuente switching 12V 5A", 3, 720, 105);
	CHECK_INT(quote_pdf_render(&q, b, &a, &alen), OV_OK);
	CHECK_INT(quote_pdf_render(&q, b, &c, &clen), OV_OK);
	CHECK(alen > 0 && alen == clen && memcmp(a, c, alen) == 0);
	/* Another clock: another creation date in the document info. */
	setenv("OVIDIO_NOW", "2026-12-02T09:30:00-03:00", 1);
	CHECK_INT(clock_init(cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(quote_pdf_render(&q, b, &d, &dlen), OV_OK);
	CHECK(dlen > 0 && (dlen != alen || memcmp(a, d, alen) != 0));
	CHECK(memmem(d, dlen, "D:20261202093000-03'00'", 23) != NULL);
	setenv("OVIDIO_NOW", "2026-12-01T10:00:00-03:00", 1);
	CHECK_INT(clock_init(cfg, err, sizeof(err)), OV_OK);
	free(a);
	free(c);
	free(d);
	quote_clear(&q);
	quote_pdf_brand_free(b);
}

static void
test_document_info(void)
{
	struct quote_pdf_brand *b = brand(NULL);
	struct quote q;
	char path[512], *info = NULL;

	base_quote(&q);
	item(&q, "FTE-12V5A", "Fuente switching 12V 5A", 3, 720, 105);
	CHECK_INT(render_to(&q, b, "info.pdf", path, sizeof(path)), OV_OK);
	{
		char *argv[] = { "pdfinfo", "-isodates", path, NULL };

		info = run(argv);
	}
	CHECK(info != NULL);
	if (info != NULL) {
		CHECK(line_has(info, "Title:", "PRESUPUESTO N° 1234"));
		CHECK(line_has(info, "Author:", "GRUPO SER Pruebas"));
		CHECK(line_has(info, "Creator:", "Ovidio"));
		CHECK(line_has(info, "CreationDate:", "2026-12-01T10:00:00-03"));
		CHECK(line_has(info, "Page size:", "(A4)"));
	}
	free(info);
	quote_clear(&q);
	quote_pdf_brand_free(b);
}

static void
test_windows_1252(void)
{
	char out[64];

	CHECK_INT(quote_pdf_cp1252("áéíóúñü¿¡°º", out, sizeof(out)), 11);
	CHECK(memcmp(out, "\xe1\xe9\xed\xf3\xfa\xf1\xfc\xbf\xa1\xb0\xba", 11)
	    == 0);
	CHECK_INT(quote_pdf_cp1252("ÁÉÍÓÚÑÜ", out, sizeof(out)), 7);
	CHECK(memcmp(out, "\xc1\xc9\xcd\xd3\xda\xd1\xdc", 7) == 0);
	quote_pdf_cp1252("u$s 10 € “x” – …", out, sizeof(out));
	CHECK_STR(out, "u$s 10 \x80 \x93x\x94 \x96 \x85");
	/* Outside Windows-1252: one '?' per character, never a byte soup. */
	quote_pdf_cp1252("a中b📷c", out, sizeof(out));
	CHECK_STR(out, "a?b?c");
	quote_pdf_cp1252("x\xff\xc3y", out, sizeof(out));
	CHECK_STR(out, "x??y");
	quote_pdf_cp1252("\xed\xa0\x80", out, sizeof(out));   /* a surrogate */
	CHECK_STR(out, "???");
	quote_pdf_cp1252("tab\there\nnl", out, sizeof(out));
	CHECK_STR(out, "tab here nl");
	CHECK_INT(quote_pdf_cp1252("ñandú", out, 4), 3);
	CHECK_STR(out, "\xf1" "an");
}

/* Text the font cannot show comes out as '?' and the rest stays readable. */
static void
test_unshowable_characters_are_visible(void)
{
	struct quote_pdf_brand *b = brand(NULL);
	struct quote q;
	char path[512], *text;

	base_quote(&q);
	item(&q, "CAM-中", "Cámara 📷 Ω modelo ✓ nuevo", 1, 100, 210);
	CHECK_INT(render_to(&q, b, "symbols.pdf", path, sizeof(path)), OV_OK);
	text = pdf_text(path, 0);
	CHECK(text != NULL && strstr(text, "Cámara ? ? modelo ? nuevo") != NULL);
	CHECK(text != NULL && strstr(text, "CAM-?") != NULL);
	free(text);
	quote_clear(&q);
	quote_pdf_brand_free(b);
}

static void
test_what_cannot_be_rendered(void)
{
	struct quote_pdf_brand *b = brand(NULL);
	unsigned char *pdf = (unsigned char *)"x";
	size_t len = 1;
	struct quote q;

	base_quote(&q);
	CHECK_INT(quote_pdf_render(&q, b, &pdf, &len), OV_EINVAL);   /* empty */
	item(&q, "A", "Cable", 1, 100, 210);
	q.purged = true;
	CHECK_INT(quote_pdf_render(&q, b, &pdf, &len), OV_EINVAL);
	q.purged = false;
	q.number = 0;
	CHECK_INT(quote_pdf_render(&q, b, &pdf, &len), OV_EINVAL);
	quote_clear(&q);
	quote_pdf_brand_free(b);
}

static void
test_saved_where_the_cgi_looks(void)
{
	struct quote_pdf_brand *b = brand(NULL);
	char dir[512], path[1024];
	struct stat sb;
	struct quote q;
	int fd = -1;

	snprintf(dir, sizeof(dir), "%s/presupuestos", tmpdir);
	base_quote(&q);
	item(&q, "A", "Cable", 1, 100, 210);
	CHECK_INT(quote_pdf_save(&q, b, dir), OV_OK);
	CHECK_INT(quote_file_path(dir, q.id, path, sizeof(path)), OV_OK);
	CHECK_INT(stat(path, &sb), 0);
	CHECK_INT(sb.st_mode & 0777, 0640);
	CHECK_INT(quote_file_open(dir, q.id, &fd, &sb), OV_OK);
	if (fd >= 0) {
		char head[5];

		CHECK(read(fd, head, 5) == 5 && memcmp(head, "%PDF-", 5) == 0);
		close(fd);
	}
	quote_clear(&q);
	quote_pdf_brand_free(b);
}

int
main(void)
{
	char err[256];
	int rc;

	log_init("test_quote_pdf");
	log_set_level(LOG_ERROR);
	unsetenv("OVIDIO_CONFIG");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	setenv("TZ", "America/Argentina/Cordoba", 1);
	setenv("OVIDIO_NOW", "2026-12-01T10:00:00-03:00", 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		rc = 1;
		goto out;
	}
	quote_use_timezone(cfg);

	RUN(test_pdf_shows_the_quote);
	RUN(test_sixty_items_continue_over_pages);
	RUN(test_logo_absent_or_broken_still_renders);
	RUN(test_png_and_jpeg_logos);
	RUN(test_same_quote_same_bytes);
	RUN(test_document_info);
	RUN(test_windows_1252);
	RUN(test_unshowable_characters_are_visible);
	RUN(test_what_cannot_be_rendered);
	RUN(test_saved_where_the_cgi_looks);
	rc = check_finish();
out:
	config_free(cfg);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
