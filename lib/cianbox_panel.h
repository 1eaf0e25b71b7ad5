/*
 * cianbox_panel.h - Cianbox's web panel, read as a person would: the
 * fallback for the product list when the API fails or is not enabled for
 * the account (libcurl + libxml2's HTML parser).
 *
 * Session: POST /{account}/login.php (form usuario, clave); the session
 * cookie is kept in $OVIDIO_DATA_DIR/cianbox-panel.cookies (mode 0600) so
 * later runs reuse it. When a page comes back as the login form the
 * session has expired: log in again, once, and ask again.
 *
 * Products: POST /{account}/content.php with sec=pv_productos gives a
 * table (see ../shared/fixtures/cianbox/panel_productos.html). Columns are
 * found by their headers (Marca, Código, Descripción, Stock, Precio final,
 * Precio neto; accents and case do not matter, order neither). Numbers are
 * Argentine: "u$s 1.210,00", stock "1.204"; entities are decoded. The IVA
 * rate comes from final/net and must be 21 or 10.5 (0 when both prices
 * are 0). A page whose table lost a column, or any row that does not read
 * cleanly, is an error with zero rows: never garbage rows.
 *
 * Ownership: cianbox_panel_open() returns a handle freed with
 * cianbox_panel_close(); row arrays are freed with
 * cianbox_panel_rows_free(). The password never reaches a log line or an
 * error text.
 */
#ifndef OVIDIO_CIANBOX_PANEL_H
#define OVIDIO_CIANBOX_PANEL_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct cianbox_panel;

#define CIANBOX_PANEL_MAX_BYTES (32u * 1024 * 1024)
#define CIANBOX_PANEL_ROWS_MAX 200000

struct cianbox_panel_row {
	int64_t id;              /* the row's data-id, 0 when absent */
	char marca[96];
	char codigo[96];         /* never empty */
	char descripcion[384];   /* cut at a UTF-8 boundary if longer */
	double stock;
	double precio_final;
	double precio_neto;
	double iva;              /* percent: 21 or 10.5; 0 when unpriced */
	char moneda[4];          /* "USD" (u$s) or "ARS" ($) */
};

struct cianbox_panel_rows {
	struct cianbox_panel_row *v;
	size_t n;
};

/* Needs CIANBOX_ACCOUNT, CIANBOX_USER, CIANBOX_PASS (OV_ECONFIG with
 * "missing configuration key KEY" in err). No traffic happens here. */
int cianbox_panel_open(struct cianbox_panel **out, const struct config *cfg,
    char *err, size_t errlen);
void cianbox_panel_close(struct cianbox_panel *p);

/* Why the last call failed, for logs and operators; "" when none. */
const char *cianbox_panel_last_error(const struct cianbox_panel *p);

/* The whole product list. OV_EAUTH when the panel refuses the user or
 * password, OV_EPARSE when the page changed or a row is malformed,
 * OV_ENOTFOUND when the table has no rows; out is empty on any error. */
int cianbox_panel_productos(struct cianbox_panel *p,
    struct cianbox_panel_rows *out);

/* Parse one product page. OV_EAUTH when it is the login form. err gets
 * one line on failure (which row, which column). */
int cianbox_panel_parse(const char *html, size_t len,
    struct cianbox_panel_rows *out, char *err, size_t errlen);

void cianbox_panel_rows_free(struct cianbox_panel_rows *rows);

/* "1.210,00" -> 1210, "1.204" -> 1204, "-3" -> -3. OV_EINVAL otherwise
 * (a '.' not followed by exactly three digits is not Argentine). */
int cianbox_panel_number(const char *s, double *out);

/* "u$s 1.210,00" -> 1210 and "USD"; "$ 58,69" -> "ARS". A price needs
 * its currency and is not negative. */
int cianbox_panel_price(const char *s, double *out, char moneda[4]);

#endif
