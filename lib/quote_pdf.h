/*
 * quote_pdf.h - a quote as an A4 PDF (libharu).
 *
 * Layout: the business logo (BUSINESS_LOGO, PNG or JPEG) and name,
 * "PRESUPUESTO N° 1234", date and "Válido hasta"; the customer (name,
 * CUIT, phone); the items table (code, description wrapped over several
 * lines, quantity, unit price, IVA %, line subtotal) continuing on further
 * pages with its header repeated; totals right-aligned (subtotal, IVA per
 * rate, TOTAL, the peso equivalent when the rate is known); footnotes
 * (u$s plus IVA, not an invoice); on every page BUSINESS_FOOTER and
 * "Página i de n". Amounts as 1.234,56, dates dd/mm/yyyy in the process's
 * time zone (quote_use_timezone()).
 *
 * Text uses the built-in Helvetica with WinAnsiEncoding: UTF-8 is
 * converted to Windows-1252 here (á é í ó ú ñ ü ¿ ¡ ° º € “ ” – …), and a
 * character it lacks is printed as '?', never a broken file.
 *
 * Deterministic: the same quote, brand and clock_now() give the same
 * bytes (libharu writes no /ID or time of its own; the document dates come
 * from clock_now()).
 *
 * libharu errors (its handler is ours; it never aborts) come back as
 * OV_ENOMEM or OV_EIO. libpng would abort() on a corrupt PNG inside
 * libharu, so PNG logos are decoded here with libpng's checked API and
 * handed over as plain pixels.
 *
 * Ownership: a brand is created by quote_pdf_brand_load()/_new() and
 * freed by quote_pdf_brand_free(); it may render any number of quotes.
 * quote_pdf_render() returns a malloc'd buffer the caller frees.
 */
#ifndef OVIDIO_QUOTE_PDF_H
#define OVIDIO_QUOTE_PDF_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct quote;
struct quote_pdf_brand;

/* Bounds on the logo: larger files are left out (with a warning). */
#define QUOTE_LOGO_FILE_MAX (4 * 1024 * 1024)
#define QUOTE_LOGO_SIDE_MAX 4096

/* Business name, footer and logo (path; NULL or empty: no logo). A logo
 * that is missing, unreadable, too big or not a PNG/JPEG is left out with
 * a warning: never an error. OV_ENOMEM only. */
int quote_pdf_brand_new(const char *name, const char *footer,
    const char *logo_path, struct quote_pdf_brand **out);
/* The same from BUSINESS_NAME, BUSINESS_FOOTER, BUSINESS_LOGO. */
int quote_pdf_brand_load(const struct config *cfg,
    struct quote_pdf_brand **out);
void quote_pdf_brand_free(struct quote_pdf_brand *b);
bool quote_pdf_brand_has_logo(const struct quote_pdf_brand *b);

/* Render q (at least one item, not purged). OV_EINVAL for a quote that
 * cannot be shown; OV_ETOOBIG past the page bound; OV_ENOMEM; OV_EIO when
 * libharu fails. */
int quote_pdf_render(const struct quote *q, const struct quote_pdf_brand *b,
    unsigned char **pdf, size_t *len);

/* Render and write PRESUPUESTOS_DIR-style: dir/<id>.pdf (lib/quote_file.h). */
int quote_pdf_save(const struct quote *q, const struct quote_pdf_brand *b,
    const char *dir);

/* UTF-8 to Windows-1252 for the PDF fonts: characters without a code
 * there become '?', control characters a space, broken UTF-8 '?'. Writes
 * at most outlen - 1 bytes and a NUL (cutting between characters);
 * returns the bytes written. outlen must be at least 1. */
size_t quote_pdf_cp1252(const char *utf8, char *out, size_t outlen);

#endif
