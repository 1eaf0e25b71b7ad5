#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hpdf.h>
#include <png.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "quote.h"
#include "quote_file.h"
#include "quote_pdf.h"
#include "utf8.h"

/* A4 in points, and the layout's fixed measures. */
#define PAGE_W 595.276f
#define PAGE_H 841.89f
#define MARGIN_X 42.0f
#define RIGHT (PAGE_W - MARGIN_X)
#define TOP (PAGE_H - 40.0f)
#define TABLE_BOTTOM 62.0f    /* rows stop above the footer */
#define FOOTER_Y 28.0f
#define PAGES_MAX 200
#define CELL_LINES_MAX 12     /* longer cell text ends in "..." */
#define TABLE_SIZE 8.5f
#define TABLE_LEAD 10.5f
#define HEADER_ROW_H 16.0f
#define LOGO_BOX_W 150.0f
#define LOGO_BOX_H 60.0f
/* Logos are scaled down to this many pixels when loaded: enough for
 * print at the size they are drawn, cheap to embed in every PDF. */
#define LOGO_PX_W 600
#define LOGO_PX_H 240
#define TEXT_MAX 1024         /* bytes of one converted text */

enum logo_kind { LOGO_NONE = 0, LOGO_RGB, LOGO_JPEG };

struct quote_pdf_brand {
	char name[TEXT_MAX];        /* Windows-1252 */
	char footer[TEXT_MAX];      /* Windows-1252 */
	enum logo_kind logo;
	unsigned char *data;        /* RGB pixels or the JPEG file */
	size_t size;
	unsigned width, height;     /* pixels */
};

struct span {
	size_t start, len;
};

/* Lines of one cell's text, ready to print (Windows-1252). */
struct cell {
	char text[TEXT_MAX];
	struct span lines[CELL_LINES_MAX];
	size_t n;
	bool cut;
};

struct render {
	HPDF_Doc pdf;
	HPDF_Font font, bold;
	HPDF_Page page;
	HPDF_Page pages[PAGES_MAX];
	size_t npages;
	float y;                    /* where the next thing goes */
	const struct quote *q;
	const struct quote_pdf_brand *b;
	char title[64];             /* "PRESUPUESTO N° 1234", Windows-1252 */
	struct cell code, name;     /* the row being drawn */
	HPDF_STATUS error, detail;  /* first libharu error */
};

struct column {
	const char *title;          /* Windows-1252 */
	float width;
	bool right;
};

static const struct column columns[] = {
	{ "C\xf3" "digo", 96, false },
	{ "Descripci\xf3n", 197.276f, false },
	{ "Cant.", 36, true },
	{ "P. unit. u$s", 66, true },
	{ "IVA %", 36, true },
	{ "Subtotal u$s", 80, true },
};

#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))
#define CELL_PAD 4.0f

/* ---- text --------------------------------------------------------------- */

/* Windows-1252 bytes 0x80..0x9f and the characters they stand for. */
static const uint16_t cp1252_high[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

static unsigned char
cp1252_byte(uint32_t cp)
{
	if (cp < 0x20 || cp == 0x7f)
		return ' ';
	if (cp < 0x80 || (cp >= 0xa0 && cp <= 0xff))
		return (unsigned char)cp;
	for (unsigned i = 0; i < 32; i++)
		if (cp1252_high[i] != 0 && cp1252_high[i] == cp)
			return (unsigned char)(0x80 + i);
	if (cp == 0x2010 || cp == 0x2011 || cp == 0x2012 || cp == 0x2212)
		return '-';
	return '?';
}

size_t
quote_pdf_cp1252(const char *utf8, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t n = utf8 != NULL ? strlen(utf8) : 0, i = 0, o = 0;

	while (i < n && o + 1 < outlen) {
		uint32_t cp = 0;
		size_t len = utf8_decode(s + i, n - i, &cp);

		if (len == 0) {
			out[o++] = '?';
			i++;
			continue;
		}
		out[o++] = (char)cp1252_byte(cp);
		i += len;
	}
	out[o] = '\0';
	return o;
}

/* ---- brand -------------------------------------------------------------- */

static int
read_file(const char *path, unsigned char **data, size_t *size)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	int fd, rc = OV_EIO;

	*data = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? OV_ENOTFOUND : OV_EIO;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		rc = OV_EINVAL;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > QUOTE_LOGO_FILE_MAX) {
		rc = OV_ETOOBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (buf == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	*data = buf;
	*size = got;
	buf = NULL;
	rc = OV_OK;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Box-filter rgb (w x h) down to fit LOGO_PX_W x LOGO_PX_H. */
static int
shrink_rgb(struct quote_pdf_brand *b)
{
	unsigned w = b->width, h = b->height, dw, dh;
	unsigned char *dst;
	double scale;

	if (w <= LOGO_PX_W && h <= LOGO_PX_H)
		return OV_OK;
	scale = (double)LOGO_PX_W / w;
	if ((double)LOGO_PX_H / h < scale)
		scale = (double)LOGO_PX_H / h;
	dw = (unsigned)(w * scale);
	dh = (unsigned)(h * scale);
	if (dw < 1)
		dw = 1;
	if (dh < 1)
		dh = 1;
	dst = malloc((size_t)dw * dh * 3);
	if (dst == NULL)
		return OV_ENOMEM;
	for (unsigned y = 0; y < dh; y++) {
		unsigned y0 = (unsigned)((uint64_t)y * h / dh);
		unsigned y1 = (unsigned)((uint64_t)(y + 1) * h / dh);

		if (y1 <= y0)
			y1 = y0 + 1;
		for (unsigned x = 0; x < dw; x++) {
			unsigned x0 = (unsigned)((uint64_t)x * w / dw);
			unsigned x1 = (unsigned)((uint64_t)(x + 1) * w / dw);
			uint64_t sum[3] = { 0, 0, 0 }, count;

			if (x1 <= x0)
				x1 = x0 + 1;
			count = (uint64_t)(x1 - x0) * (y1 - y0);
			for (unsigned sy = y0; sy < y1; sy++) {
				const unsigned char *p = b->data +
				    ((size_t)sy * w + x0) * 3;

				for (unsigned sx = x0; sx < x1; sx++, p += 3) {
					sum[0] += p[0];
					sum[1] += p[1];
					sum[2] += p[2];
				}
			}
			for (int c = 0; c < 3; c++)
				dst[((size_t)y * dw + x) * 3 + (size_t)c] =
				    (unsigned char)((sum[c] + count / 2) / count);
		}
	}
	free(b->data);
	b->data = dst;
	b->size = (size_t)dw * dh * 3;
	b->width = dw;
	b->height = dh;
	return OV_OK;
}

/* libpng's simplified API reports errors instead of aborting; alpha is
 * laid over white. */
static int
load_png(struct quote_pdf_brand *b, const unsigned char *data, size_t size)
{
	png_image img;
	png_color white = { 255, 255, 255 };
	unsigned char *px = NULL;
	int rc = OV_EPARSE;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, data, size)) {
		log_warn("BUSINESS_LOGO: not a readable PNG (%s)",
		    img.message);
		goto out;
	}
	if (img.width < 1 || img.height < 1 ||
	    img.width > QUOTE_LOGO_SIDE_MAX || img.height > QUOTE_LOGO_SIDE_MAX) {
		log_warn("BUSINESS_LOGO: %ux%u pixels is over %d",
		    (unsigned)img.width, (unsigned)img.height,
		    QUOTE_LOGO_SIDE_MAX);
		rc = OV_ETOOBIG;
		goto out;
	}
	img.format = PNG_FORMAT_RGB;
	px = malloc(PNG_IMAGE_SIZE(img));
	if (px == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	if (!png_image_finish_read(&img, &white, px, 0, NULL)) {
		log_warn("BUSINESS_LOGO: not a readable PNG (%s)",
		    img.message);
		goto out;
	}
	b->data = px;
	b->size = PNG_IMAGE_SIZE(img);
	b->width = img.width;
	b->height = img.height;
	b->logo = LOGO_RGB;
	px = NULL;
	if ((rc = shrink_rgb(b)) != OV_OK) {
		free(b->data);
		b->data = NULL;
		b->logo = LOGO_NONE;
	}
out:
	png_image_free(&img);
	free(px);
	return rc;
}

static void
ignore_error(HPDF_STATUS error, HPDF_STATUS detail, void *data)
{
	(void)error;
	(void)detail;
	(void)data;
}

/* libharu embeds a JPEG as it is: try it once in a scratch document, so
 * rendering never meets a JPEG it refuses. */
static int
load_jpeg(struct quote_pdf_brand *b, unsigned char *data, size_t size)
{
	HPDF_Doc pdf;
	HPDF_Image img;
	int rc = OV_EPARSE;

	pdf = HPDF_New(ignore_error, NULL);
	if (pdf == NULL)
		return OV_ENOMEM;
	img = HPDF_LoadJpegImageFromMem(pdf, data, (HPDF_UINT)size);
	if (img == NULL) {
		log_warn("BUSINESS_LOGO: not a readable JPEG");
		goto out;
	}
	b->width = HPDF_Image_GetWidth(img);
	b->height = HPDF_Image_GetHeight(img);
	if (b->width < 1 || b->height < 1 ||
	    b->width > QUOTE_LOGO_SIDE_MAX || b->height > QUOTE_LOGO_SIDE_MAX) {
		log_warn("BUSINESS_LOGO: JPEG size out of bounds");
		goto out;
	}
	b->data = data;
	b->size = size;
	b->logo = LOGO_JPEG;
	rc = OV_OK;
out:
	HPDF_Free(pdf);
	return rc;
}

static void
load_logo(struct quote_pdf_brand *b, const char *path)
{
	static const unsigned char png_sig[8] = {
		0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'
	};
	unsigned char *data = NULL;
	size_t size = 0;
	int rc;

	rc = read_file(path, &data, &size);
	if (rc != OV_OK) {
		log_warn("BUSINESS_LOGO %s: %s: no logo", path,
		    rc == OV_ETOOBIG ? "empty or over 4 MiB" :
		    rc == OV_EINVAL ? "not a regular file" : ov_strerror(rc));
		return;
	}
	if (size >= 8 && memcmp(data, png_sig, 8) == 0) {
		if (load_png(b, data, size) != OV_OK)
			log_warn("BUSINESS_LOGO %s: left out", path);
	} else if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 &&
	    data[2] == 0xff) {
		if (load_jpeg(b, data, size) == OV_OK)
			data = NULL;   /* kept by the brand */
		else
			log_warn("BUSINESS_LOGO %s: left out", path);
	} else {
		log_warn("BUSINESS_LOGO %s: neither PNG nor JPEG: no logo",
		    path);
	}
	free(data);
}

int
quote_pdf_brand_new(const char *name, const char *footer,
    const char *logo_path, struct quote_pdf_brand **out)
{
	struct quote_pdf_brand *b;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return OV_ENOMEM;
	quote_pdf_cp1252(name != NULL ? name : "", b->name, sizeof(b->name));
	quote_pdf_cp1252(footer != NULL ? footer : "", b->footer,
	    sizeof(b->footer));
	if (logo_path != NULL && *logo_path != '\0')
		load_logo(b, logo_path);
	*out = b;
	return OV_OK;
}

int
quote_pdf_brand_load(const struct config *cfg, struct quote_pdf_brand **out)
{
	return quote_pdf_brand_new(config_get(cfg, "BUSINESS_NAME"),
	    config_get(cfg, "BUSINESS_FOOTER"), config_get(cfg, "BUSINESS_LOGO"),
	    out);
}

void
quote_pdf_brand_free(struct quote_pdf_brand *b)
{
	if (b == NULL)
		return;
	free(b->data);
	free(b);
}

bool
quote_pdf_brand_has_logo(const struct quote_pdf_brand *b)
{
	return b != NULL && b->logo != LOGO_NONE;
}

/* ---- drawing ------------------------------------------------------------ */

static void
on_error(HPDF_STATUS error, HPDF_STATUS detail, void *data)
{
	struct render *r = data;

	/* Reading the finished stream to its end is reported as an error. */
	if (error == HPDF_STREAM_EOF || r->error != HPDF_OK)
		return;
	r->error = error;
	r->detail = detail;
}

static float
text_width(HPDF_Font f, float size, const char *s, size_t len)
{
	HPDF_TextWidth tw = HPDF_Font_TextWidth(f, (const HPDF_BYTE *)s,
	    (HPDF_UINT)len);

	return (float)tw.width * size / 1000.0f;
}

/* s is Windows-1252. */
static void
text_at(struct render *r, HPDF_Font f, float size, float x, float y,
    const char *s)
{
	HPDF_Page_BeginText(r->page);
	HPDF_Page_SetFontAndSize(r->page, f, size);
	HPDF_Page_TextOut(r->page, x, y, s);
	HPDF_Page_EndText(r->page);
}

static void
text_right(struct render *r, HPDF_Font f, float size, float right, float y,
    const char *s)
{
	text_at(r, f, size, right - text_width(f, size, s, strlen(s)), y, s);
}

/* s cut (with "...") to fit width, into buf. */
static const char *
fit(HPDF_Font f, float size, const char *s, float width, char *buf,
    size_t len)
{
	size_t n = strlen(s), keep;
	HPDF_REAL real;

	if (text_width(f, size, s, n) <= width)
		return s;
	keep = HPDF_Font_MeasureText(f, (const HPDF_BYTE *)s, (HPDF_UINT)n,
	    width - text_width(f, size, "...", 3), size, 0, 0, HPDF_FALSE,
	    &real);
	if (keep + 4 > len)
		keep = len - 4;
	memcpy(buf, s, keep);
	memcpy(buf + keep, "...", 4);
	return buf;
}

static void
hline(struct render *r, float x0, float x1, float y, float gray, float width)
{
	HPDF_Page_SetGrayStroke(r->page, gray);
	HPDF_Page_SetLineWidth(r->page, width);
	HPDF_Page_MoveTo(r->page, x0, y);
	HPDF_Page_LineTo(r->page, x1, y);
	HPDF_Page_Stroke(r->page);
}

/* Break s into lines no wider than width, at spaces where possible and
 * inside a word that is wider than the line. At most max lines; when text
 * is left over, *cut is set. */
static size_t
wrap(HPDF_Font f, float size, const char *s, float width, struct span *lines,
    size_t max, bool *cut)
{
	size_t n = strlen(s), pos = 0, count = 0;
	HPDF_REAL real;

	*cut = false;
	while (pos < n) {
		HPDF_UINT take;

		while (pos < n && s[pos] == ' ')
			pos++;
		if (pos >= n)
			break;
		if (count == max) {
			*cut = true;
			break;
		}
		take = HPDF_Font_MeasureText(f, (const HPDF_BYTE *)s + pos,
		    (HPDF_UINT)(n - pos), width, size, 0, 0, HPDF_TRUE, &real);
		if (take == 0)
			take = HPDF_Font_MeasureText(f,
			    (const HPDF_BYTE *)s + pos, (HPDF_UINT)(n - pos),
			    width, size, 0, 0, HPDF_FALSE, &real);
		if (take == 0)
			take = 1;
		lines[count].start = pos;
		lines[count].len = take;
		while (lines[count].len > 0 &&
		    s[pos + lines[count].len - 1] == ' ')
			lines[count].len--;
		count++;
		pos += take;
	}
	return count;
}

static int
hpdf_rc(const struct render *r)
{
	if (r->error == HPDF_OK)
		return OV_OK;
	log_error("pdf: libharu error 0x%04lx (detail %lu)",
	    (unsigned long)r->error, (unsigned long)r->detail);
	return r->error == HPDF_FAILD_TO_ALLOC_MEM ? OV_ENOMEM : OV_EIO;
}

static void
draw_logo(struct render *r, float *bottom)
{
	const struct quote_pdf_brand *b = r->b;
	HPDF_Image img = NULL;
	float w, h, scale;

	*bottom = TOP;
	if (b->logo == LOGO_RGB)
		img = HPDF_LoadRawImageFromMem(r->pdf, b->data, b->width,
		    b->height, HPDF_CS_DEVICE_RGB, 8);
	else if (b->logo == LOGO_JPEG)
		img = HPDF_LoadJpegImageFromMem(r->pdf, b->data,
		    (HPDF_UINT)b->size);
	if (img == NULL)
		return;
	scale = LOGO_BOX_W / (float)b->width;
	if (LOGO_BOX_H / (float)b->height < scale)
		scale = LOGO_BOX_H / (float)b->height;
	w = (float)b->width * scale;
	h = (float)b->height * scale;
	HPDF_Page_DrawImage(r->page, img, MARGIN_X, TOP - h, w, h);
	*bottom = TOP - h;
}

static void
draw_first_header(struct render *r)
{
	const struct quote *q = r->q;
	char buf[TEXT_MAX], line[TEXT_MAX], date[16], cut[TEXT_MAX];
	float logo_bottom, y, name_y;

	draw_logo(r, &logo_bottom);
	if (r->b->logo != LOGO_NONE) {
		name_y = logo_bottom - 15;
		text_at(r, r->bold, 12, MARGIN_X, name_y,
		    fit(r->bold, 12, r->b->name, 280, cut, sizeof(cut)));
	} else {
		name_y = TOP - 16;
		text_at(r, r->bold, 16, MARGIN_X, name_y,
		    fit(r->bold, 16, r->b->name, 280, cut, sizeof(cut)));
	}
	text_right(r, r->bold, 15, RIGHT, TOP - 15, r->title);
	quote_format_date(q->created_at, date, sizeof(date));
	snprintf(line, sizeof(line), "Fecha: %s", date);
	text_right(r, r->font, 10, RIGHT, TOP - 32, line);
	quote_format_date(q->expires_at, date, sizeof(date));
	snprintf(line, sizeof(line), "V\xe1lido hasta: %s", date);
	text_right(r, r->bold, 10, RIGHT, TOP - 46, line);

	y = name_y - 12;
	if (y > TOP - 58)
		y = TOP - 58;
	hline(r, MARGIN_X, RIGHT, y, 0.6f, 0.8f);
	y -= 18;

	quote_pdf_cp1252(q->customer.name[0] != '\0' ? q->customer.name :
	    "Cliente", buf, sizeof(buf));
	text_at(r, r->bold, 10, MARGIN_X, y, "Cliente:");
	text_at(r, r->font, 10, MARGIN_X + 58, y,
	    fit(r->font, 10, buf, RIGHT - MARGIN_X - 58, cut, sizeof(cut)));
	y -= 14;
	if (strlen(q->customer.cuit) == 11) {
		snprintf(line, sizeof(line), "%.2s-%.8s-%.1s", q->customer.cuit,
		    q->customer.cuit + 2, q->customer.cuit + 10);
		text_at(r, r->bold, 10, MARGIN_X, y, "CUIT:");
		text_at(r, r->font, 10, MARGIN_X + 58, y, line);
		y -= 14;
	}
	if (q->customer.phone[0] != '\0')
		snprintf(line, sizeof(line), "%s", q->customer.phone);
	else
		snprintf(line, sizeof(line), "+%s", q->wa_id);
	text_at(r, r->bold, 10, MARGIN_X, y, "Tel\xe9" "fono:");
	text_at(r, r->font, 10, MARGIN_X + 58, y, line);
	r->y = y - 20;
}

static void
draw_next_header(struct render *r)
{
	char line[96], cut[TEXT_MAX];

	text_at(r, r->bold, 10, MARGIN_X, TOP - 10,
	    fit(r->bold, 10, r->b->name, 250, cut, sizeof(cut)));
	snprintf(line, sizeof(line), "%s (continuaci\xf3n)", r->title);
	text_right(r, r->bold, 10, RIGHT, TOP - 10, line);
	hline(r, MARGIN_X, RIGHT, TOP - 18, 0.6f, 0.8f);
	r->y = TOP - 34;
}

static void
draw_table_header(struct render *r)
{
	float x = MARGIN_X, top = r->y;

	HPDF_Page_SetGrayFill(r->page, 0.88f);
	HPDF_Page_Rectangle(r->page, MARGIN_X, top - HEADER_ROW_H,
	    RIGHT - MARGIN_X, HEADER_ROW_H);
	HPDF_Page_Fill(r->page);
	HPDF_Page_SetGrayFill(r->page, 0);
	for (size_t c = 0; c < NCOLUMNS; c++) {
		float base = top - HEADER_ROW_H + 5;

		if (columns[c].right)
			text_right(r, r->bold, TABLE_SIZE,
			    x + columns[c].width - CELL_PAD, base,
			    columns[c].title);
		else
			text_at(r, r->bold, TABLE_SIZE, x + CELL_PAD, base,
			    columns[c].title);
		x += columns[c].width;
	}
	r->y = top - HEADER_ROW_H;
}

static int
new_page(struct render *r, bool first)
{
	HPDF_Page p;

	if (r->npages == PAGES_MAX)
		return OV_ETOOBIG;
	p = HPDF_AddPage(r->pdf);
	if (p == NULL)
		return hpdf_rc(r) != OV_OK ? hpdf_rc(r) : OV_EIO;
	HPDF_Page_SetSize(p, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
	r->pages[r->npages++] = p;
	r->page = p;
	if (first)
		draw_first_header(r);
	else
		draw_next_header(r);
	return OV_OK;
}

static void
cell_wrap(struct render *r, struct cell *c, const char *utf8, float width)
{
	quote_pdf_cp1252(utf8, c->text, sizeof(c->text));
	c->n = wrap(r->font, TABLE_SIZE, c->text, width - 2 * CELL_PAD,
	    c->lines, CELL_LINES_MAX, &c->cut);
}

static void
cell_draw(struct render *r, const struct cell *c, float x, float top)
{
	char line[TEXT_MAX];

	for (size_t i = 0; i < c->n; i++) {
		size_t len = c->lines[i].len;

		memcpy(line, c->text + c->lines[i].start, len);
		line[len] = '\0';
		if (c->cut && i + 1 == c->n && len + 4 <= sizeof(line))
			memcpy(line + (len > 3 ? len - 3 : len), "...", 4);
		text_at(r, r->font, TABLE_SIZE, x + CELL_PAD,
		    top - 9 - (float)i * TABLE_LEAD, line);
	}
}

static int
draw_items(struct render *r)
{
	struct cell *code = &r->code, *name = &r->name;
	const struct quote *q = r->q;
	int rc;

	draw_table_header(r);
	for (size_t i = 0; i < q->nitems; i++) {
		const struct quote_item *it = &q->items[i];
		char num[32], cell[40];
		size_t lines;
		float h, x, base;

		cell_wrap(r, code, it->code, columns[0].width);
		cell_wrap(r, name, it->name, columns[1].width);
		lines = code->n > name->n ? code->n : name->n;
		if (lines == 0)
			lines = 1;
		h = (float)lines * TABLE_LEAD + 5;
		if (r->y - h < TABLE_BOTTOM) {
			if ((rc = new_page(r, false)) != OV_OK)
				return rc;
			draw_table_header(r);
		}
		cell_draw(r, code, MARGIN_X, r->y);
		cell_draw(r, name, MARGIN_X + columns[0].width, r->y);
		base = r->y - 9;
		x = MARGIN_X + columns[0].width + columns[1].width;
		snprintf(num, sizeof(num), "%" PRId64, it->quantity);
		text_right(r, r->font, TABLE_SIZE, x + columns[2].width -
		    CELL_PAD, base, num);
		x += columns[2].width;
		quote_format_cents(it->unit_cents, num, sizeof(num));
		text_right(r, r->font, TABLE_SIZE, x + columns[3].width -
		    CELL_PAD, base, num);
		x += columns[3].width;
		quote_format_rate(it->iva_tenths, num, sizeof(num));
		snprintf(cell, sizeof(cell), "%s %%", num);
		text_right(r, r->font, TABLE_SIZE, x + columns[4].width -
		    CELL_PAD, base, cell);
		x += columns[4].width;
		quote_format_cents(it->subtotal_cents, num, sizeof(num));
		text_right(r, r->font, TABLE_SIZE, x + columns[5].width -
		    CELL_PAD, base, num);
		r->y -= h;
		hline(r, MARGIN_X, RIGHT, r->y, 0.8f, 0.4f);
	}
	return hpdf_rc(r);
}

static void
total_line(struct render *r, HPDF_Font f, float size, const char *label,
    const char *prefix, int64_t cents)
{
	char num[32], line[48];

	quote_format_cents(cents, num, sizeof(num));
	snprintf(line, sizeof(line), "%s %s", prefix, num);
	text_right(r, f, size, RIGHT - 120, r->y, label);
	text_right(r, f, size, RIGHT, r->y, line);
	r->y -= size + 5;
}

static int
draw_totals(struct render *r)
{
	const struct quote *q = r->q;
	char rate[32], line[TEXT_MAX], date[16];
	float need;
	int rc;

	/* Totals and notes stay together, on a new page if need be. */
	need = 5 * 16 + 6 * 11 + 20;
	if (r->y - need < TABLE_BOTTOM && (rc = new_page(r, false)) != OV_OK)
		return rc;
	r->y -= 16;
	total_line(r, r->font, 10, "Subtotal", "u$s", q->subtotal_cents);
	if (q->iva21_cents != 0 || q->iva105_cents == 0)
		total_line(r, r->font, 10, "IVA 21 %", "u$s", q->iva21_cents);
	if (q->iva105_cents != 0)
		total_line(r, r->font, 10, "IVA 10,5 %", "u$s",
		    q->iva105_cents);
	hline(r, RIGHT - 200, RIGHT, r->y + 9, 0.3f, 0.6f);
	r->y -= 4;
	total_line(r, r->bold, 12, "TOTAL", "u$s", q->total_cents);
	if (q->usd_rate_cents > 0)
		total_line(r, r->font, 9, "Equivalente en pesos", "$",
		    q->total_ars_cents);

	r->y -= 14;
	text_at(r, r->font, 8, MARGIN_X, r->y,
	    "Precios unitarios y subtotales en d\xf3lares estadounidenses "
	    "(u$s), m\xe1s IVA; el IVA se suma en los totales.");
	r->y -= 11;
	if (q->usd_rate_cents > 0) {
		quote_format_cents(q->usd_rate_cents, rate, sizeof(rate));
		snprintf(line, sizeof(line), "Equivalente en pesos con el d\xf3lar "
		    "a $ %s; se ajusta a la cotizaci\xf3n del d\xed" "a de pago.",
		    rate);
		text_at(r, r->font, 8, MARGIN_X, r->y, line);
		r->y -= 11;
	}
	quote_format_date(q->expires_at, date, sizeof(date));
	snprintf(line, sizeof(line), "V\xe1lido hasta el %s. Precios y stock "
	    "sujetos a disponibilidad al confirmar.", date);
	text_at(r, r->font, 8, MARGIN_X, r->y, line);
	r->y -= 11;
	text_at(r, r->bold, 8, MARGIN_X, r->y,
	    "Este presupuesto no es una factura.");
	r->y -= 11;
	text_at(r, r->font, 8, MARGIN_X, r->y,
	    "Para confirmarlo o hacer cambios, respondenos por WhatsApp.");
	return hpdf_rc(r);
}

static void
draw_footers(struct render *r)
{
	char line[64], cut[TEXT_MAX];

	for (size_t i = 0; i < r->npages; i++) {
		float w;

		r->page = r->pages[i];
		snprintf(line, sizeof(line), "P\xe1gina %zu de %zu", i + 1,
		    r->npages);
		w = text_width(r->font, 8, line, strlen(line));
		hline(r, MARGIN_X, RIGHT, FOOTER_Y + 12, 0.6f, 0.5f);
		HPDF_Page_SetGrayFill(r->page, 0.35f);
		text_at(r, r->font, 8, MARGIN_X, FOOTER_Y,
		    fit(r->font, 8, r->b->footer, RIGHT - MARGIN_X - w - 20,
		    cut, sizeof(cut)));
		text_right(r, r->font, 8, RIGHT, FOOTER_Y, line);
		HPDF_Page_SetGrayFill(r->page, 0);
	}
}

static void
set_info(struct render *r)
{
	struct tm tm;
	time_t now = (time_t)clock_now();
	HPDF_Date d;
	long off;

	HPDF_SetInfoAttr(r->pdf, HPDF_INFO_TITLE, r->title);
	HPDF_SetInfoAttr(r->pdf, HPDF_INFO_AUTHOR, r->b->name);
	HPDF_SetInfoAttr(r->pdf, HPDF_INFO_CREATOR, "Ovidio");
	if (localtime_r(&now, &tm) == NULL)
		return;
	off = tm.tm_gmtoff;
	memset(&d, 0, sizeof(d));
	d.year = tm.tm_year + 1900;
	d.month = tm.tm_mon + 1;
	d.day = tm.tm_mday;
	d.hour = tm.tm_hour;
	d.minutes = tm.tm_min;
	d.seconds = tm.tm_sec > 59 ? 59 : tm.tm_sec;
	d.ind = off == 0 ? 'Z' : off > 0 ? '+' : '-';
	if (off < 0)
		off = -off;
	d.off_hour = (HPDF_INT)(off / 3600);
	d.off_minutes = (HPDF_INT)(off % 3600 / 60);
	HPDF_SetInfoDateAttr(r->pdf, HPDF_INFO_CREATION_DATE, d);
	HPDF_SetInfoDateAttr(r->pdf, HPDF_INFO_MOD_DATE, d);
}

static int
take_bytes(struct render *r, unsigned char **pdf, size_t *len)
{
	HPDF_UINT32 size, got;
	HPDF_STATUS st;
	unsigned char *buf;

	if (HPDF_SaveToStream(r->pdf) != HPDF_OK)
		return hpdf_rc(r) != OV_OK ? hpdf_rc(r) : OV_EIO;
	size = HPDF_GetStreamSize(r->pdf);
	if (size == 0)
		return OV_EIO;
	buf = malloc(size);
	if (buf == NULL)
		return OV_ENOMEM;
	got = size;
	st = HPDF_ReadFromStream(r->pdf, buf, &got);
	if ((st != HPDF_OK && st != HPDF_STREAM_EOF) || got != size) {
		free(buf);
		return hpdf_rc(r) != OV_OK ? hpdf_rc(r) : OV_EIO;
	}
	*pdf = buf;
	*len = size;
	return OV_OK;
}

int
quote_pdf_render(const struct quote *q, const struct quote_pdf_brand *b,
    unsigned char **pdf, size_t *len)
{
	struct render *r;
	int rc;

	if (q == NULL || b == NULL || pdf == NULL || len == NULL ||
	    q->nitems == 0 || q->purged || q->number < 1)
		return OV_EINVAL;
	*pdf = NULL;
	*len = 0;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return OV_ENOMEM;
	r->q = q;
	r->b = b;
	snprintf(r->title, sizeof(r->title), "PRESUPUESTO N\xb0 %" PRId64,
	    q->number);
	r->pdf = HPDF_New(on_error, r);
	if (r->pdf == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	HPDF_SetCompressionMode(r->pdf, HPDF_COMP_ALL);
	r->font = HPDF_GetFont(r->pdf, "Helvetica", "WinAnsiEncoding");
	r->bold = HPDF_GetFont(r->pdf, "Helvetica-Bold", "WinAnsiEncoding");
	if (r->font == NULL || r->bold == NULL) {
		rc = hpdf_rc(r) != OV_OK ? hpdf_rc(r) : OV_EIO;
		goto out;
	}
	set_info(r);
	if ((rc = new_page(r, true)) != OV_OK ||
	    (rc = draw_items(r)) != OV_OK || (rc = draw_totals(r)) != OV_OK)
		goto out;
	draw_footers(r);
	if ((rc = hpdf_rc(r)) != OV_OK)
		goto out;
	rc = take_bytes(r, pdf, len);
out:
	if (r->pdf != NULL)
		HPDF_Free(r->pdf);
	free(r);
	return rc;
}

int
quote_pdf_save(const struct quote *q, const struct quote_pdf_brand *b,
    const char *dir)
{
	unsigned char *pdf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = quote_pdf_render(q, b, &pdf, &len)) == OV_OK)
		rc = quote_file_write(dir, q->id, pdf, len);
	free(pdf);
	return rc;
}
