/*
 * test_cianbox_panel.c - the panel scraper: the fixture page
 * (../shared/fixtures/cianbox/panel_productos.html) read row by row,
 * pages that changed or broke giving an error and zero rows, Argentine
 * numbers, and the session against the stand-in (login, kept cookie,
 * expired session, refused password, redesigned page).
 */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "cianbox_panel.h"
#include "cianbox_standin.h"
#include "config.h"
#include "err.h"
#include "log.h"

static char *fixture;
static size_t fixture_len;

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* The fixture with the first `from` replaced by `to`. Caller frees. */
static char *
changed(const char *from, const char *to)
{
	const char *at = strstr(fixture, from);
	size_t a, b, c;
	char *out;

	if (at == NULL)
		return NULL;
	a = (size_t)(at - fixture);
	b = strlen(to);
	c = strlen(at + strlen(from));
	if ((out = malloc(a + b + c + 1)) == NULL)
		return NULL;
	memcpy(out, fixture, a);
	memcpy(out + a, to, b);
	memcpy(out + a + b, at + strlen(from), c + 1);
	return out;
}

static bool
near(double x, double y)
{
	return x - y < 0.0001 && y - x < 0.0001;
}

/* Parse html expecting failure rc; rows must be zero. */
static int
refused(const char *html, int want, const char *err_part)
{
	struct cianbox_panel_rows rows = { NULL, 0 };
	char err[512];
	int rc;

	if (html == NULL)
		return 0;
	rc = cianbox_panel_parse(html, strlen(html), &rows, err, sizeof(err));
	if (rc != want || rows.n != 0 || rows.v != NULL ||
	    (err_part != NULL && strstr(err, err_part) == NULL)) {
		fprintf(stderr, "  rc %d (want %d), %zu rows, err \"%s\"\n", rc,
		    want, rows.n, err);
		cianbox_panel_rows_free(&rows);
		return 0;
	}
	return 1;
}

static void
test_fixture_page(void)
{
	struct cianbox_panel_rows rows = { NULL, 0 };
	char err[512];

	CHECK(fixture != NULL);
	if (fixture == NULL)
		return;
	CHECK_INT(cianbox_panel_parse(fixture, fixture_len, &rows, err,
	    sizeof(err)), OV_OK);
	CHECK_INT(rows.n, 3);
	if (rows.n != 3)
		goto out;
	CHECK_INT(rows.v[0].id, 10452);
	CHECK_STR(rows.v[0].marca, "DAHUA");
	CHECK_STR(rows.v[0].codigo, "DH-HAC-HDW1400TP");
	CHECK_STR(rows.v[0].descripcion, "Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm");
	CHECK(near(rows.v[0].stock, 12));
	CHECK(near(rows.v[0].precio_final, 58.69));
	CHECK(near(rows.v[0].precio_neto, 48.50));
	CHECK(near(rows.v[0].iva, 21));
	CHECK_STR(rows.v[0].moneda, "USD");
	/* &amp; decoded; stock 0. */
	CHECK_STR(rows.v[1].descripcion,
	    "DVR Hikvision 8 canales Turbo HD 1080p & H.265+");
	CHECK(near(rows.v[1].stock, 0));
	/* Thousands: stock "1.204", "u$s 1.210,00". */
	CHECK_INT(rows.v[2].id, 10499);
	CHECK_STR(rows.v[2].codigo, "PC1832");
	CHECK(near(rows.v[2].stock, 1204));
	CHECK(near(rows.v[2].precio_final, 1210));
	CHECK(near(rows.v[2].precio_neto, 1000));
	CHECK(near(rows.v[2].iva, 21));
out:
	cianbox_panel_rows_free(&rows);
}

static void
test_variants_still_read(void)
{
	struct cianbox_panel_rows rows = { NULL, 0 };
	char err[512], *html;

	/* Columns in another order are found by their headers. */
	html = changed("<th>Marca</th><th>Código</th>",
	    "<th>CÓDIGO</th><th>marca</th>");
	CHECK(html != NULL);
	if (html != NULL) {
		char *h2 = NULL;
		const char *from = "<td>DAHUA</td><td>DH-HAC-HDW1400TP</td>";
		char *at = strstr(html, from);
		if (at != NULL) {
			memcpy(at, "<td>DH-HAC-HDW1400TP</td><td>DAHUA</td>",
			    strlen(from));
			h2 = html;
		}
		/* Only row 1 swapped: keep that one row. */
		char *cut = h2 != NULL ? strstr(h2, "<tr data-id=\"10461\"") : NULL;
		if (cut != NULL)
			memcpy(cut, "</tbody></table>", 17);
		CHECK_INT(cianbox_panel_parse(html, strlen(html), &rows, err,
		    sizeof(err)), OV_OK);
		CHECK_INT(rows.n, 1);
		if (rows.n == 1) {
			CHECK_STR(rows.v[0].marca, "DAHUA");
			CHECK_STR(rows.v[0].codigo, "DH-HAC-HDW1400TP");
		}
		cianbox_panel_rows_free(&rows);
		free(html);
	}
	/* 10.5% IVA, pesos, a message row and a no-break space. */
	html = changed("<td>u$s 58,69</td><td>u$s 48,50</td>",
	    "<td>$&nbsp;7,96</td><td>$ 7,20</td></tr>"
	    "<tr><td colspan=\"8\">Fin de la lista</td>");
	CHECK(html != NULL);
	if (html != NULL) {
		CHECK_INT(cianbox_panel_parse(html, strlen(html), &rows, err,
		    sizeof(err)), OV_OK);
		CHECK_INT(rows.n, 3);
		if (rows.n == 3) {
			CHECK(near(rows.v[0].iva, 10.5));
			CHECK_STR(rows.v[0].moneda, "ARS");
			CHECK(near(rows.v[0].precio_final, 7.96));
		}
		cianbox_panel_rows_free(&rows);
		free(html);
	}
}

/* Headers worded otherwise are found by their words: the fixture's rows
 * read the same under each. */
static void
test_header_variants(void)
{
	static const char *const heads[] = {
		"<th>MARCA</th><th>Cód.</th><th>Descrip.</th><th>Stock disp."
		"</th><th>Suc.</th><th>Rubro</th><th>P. Final</th><th>Neto</th>",
		"<th>Marca</th><th>CÓDIGO</th><th>DESCRIPCIÓN</th><th>STOCK"
		"</th><th>Suc.</th><th>Rubro</th><th>Precio Final c/IVA</th>"
		"<th>Precio Neto s/IVA</th>",
		"<th>marca:</th><th>Código interno</th><th>Descripción del "
		"artículo</th><th>Stock</th><th>Suc.</th><th>Rubro</th>"
		"<th>Final</th><th>Precio neto</th>",
	};
	static const char *const orig = "<th>Marca</th><th>Código</th><th>"
	    "Descripción</th><th>Stock</th><th>Suc.</th><th>Rubro</th><th>"
	    "Precio final</th><th>Precio neto</th>";

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct cianbox_panel_rows rows = { NULL, 0 };
		char err[512] = "", *html = changed(orig, heads[i]);

		CHECK(html != NULL);
		if (html == NULL)
			continue;
		CHECK_INT(cianbox_panel_parse(html, strlen(html), &rows, err,
		    sizeof(err)), OV_OK);
		if (err[0] != '\0')
			fprintf(stderr, "  variant %zu: %s\n", i, err);
		CHECK_INT(rows.n, 3);
		if (rows.n == 3) {
			CHECK_STR(rows.v[0].marca, "DAHUA");
			CHECK_STR(rows.v[0].codigo, "DH-HAC-HDW1400TP");
			CHECK(near(rows.v[0].stock, 12));
			CHECK(near(rows.v[0].precio_final, 58.69));
			CHECK(near(rows.v[0].precio_neto, 48.50));
			CHECK(near(rows.v[2].stock, 1204));
		}
		cianbox_panel_rows_free(&rows);
		free(html);
	}
}

static void
test_changed_or_broken_pages(void)
{
	char *h;

	/* A column renamed away: no header holds its word. */
	CHECK(refused(h = changed("<th>Precio neto</th>", "<th>Costo</th>"),
	    OV_EPARSE, "precio neto"));
	free(h);
	CHECK(refused(h = changed("<th>Precio final</th>", "<th>Precio</th>"),
	    OV_EPARSE, "precio final"));
	free(h);
	CHECK(refused(h = changed("<th>Código</th>", "<th>Artículo</th>"),
	    OV_EPARSE, "codigo"));
	free(h);
	/* A column dropped from header and rows alike. */
	CHECK(refused(h = changed("<th>Stock</th>", ""), OV_EPARSE, "stock"));
	free(h);
	/* A price without its currency: pesos or dollars? Refused. */
	CHECK(refused(h = changed("u$s 58,69", "58,69"), OV_EPARSE, "row 1"));
	free(h);
	/* A stock that is not an Argentine number. */
	CHECK(refused(h = changed("<td>12</td>", "<td>12.5</td>"), OV_EPARSE,
	    "stock"));
	free(h);
	/* Final/net that is no IVA rate. */
	CHECK(refused(h = changed("u$s 58,69", "u$s 70,00"), OV_EPARSE,
	    "neither"));
	free(h);
	/* A row with a cell missing, and a page cut mid-row. */
	CHECK(refused(h = changed("<td>0</td><td>1</td>", "<td>0</td>"),
	    OV_EPARSE, "row 2"));
	free(h);
	h = strdup(fixture);
	if (h != NULL) {
		char *cut = strstr(h, "DVR Hikvision");
		if (cut != NULL)
			*cut = '\0';
		CHECK(refused(h, OV_EPARSE, "row 2"));
		free(h);
	}
	/* An empty code. */
	CHECK(refused(h = changed("<td>PC1832</td>", "<td> </td>"), OV_EPARSE,
	    "code"));
	free(h);
	/* Header only: no rows is not a catalog. */
	h = strdup("<table><tr><th>Marca</th><th>Código</th><th>Descripción"
	    "</th><th>Stock</th><th>Precio final</th><th>Precio neto</th></tr>"
	    "</table>");
	CHECK(refused(h, OV_ENOTFOUND, "no rows"));
	free(h);
	/* The login form, some other page, not HTML at all. */
	CHECK(refused("<html><body><form action=\"login.php\"><input name="
	    "\"usuario\"><input type=\"password\" name=\"clave\"></form></body>"
	    "</html>", OV_EAUTH, "login"));
	CHECK(refused("<div class=\"modulo\">Sección inexistente</div>",
	    OV_EPARSE, "no product table"));
	CHECK(refused("\x01\x02 not html at all", OV_EPARSE, NULL));
}

static void
test_argentine_numbers(void)
{
	double v = -1;
	char m[4];

	CHECK(cianbox_panel_number("1.210,00", &v) == OV_OK && near(v, 1210));
	CHECK(cianbox_panel_number("1.204", &v) == OV_OK && near(v, 1204));
	CHECK(cianbox_panel_number("1.000.000,25", &v) == OV_OK &&
	    near(v, 1000000.25));
	CHECK(cianbox_panel_number("0,5", &v) == OV_OK && near(v, 0.5));
	CHECK(cianbox_panel_number("-3", &v) == OV_OK && near(v, -3));
	CHECK(cianbox_panel_number("12", &v) == OV_OK && near(v, 12));
	CHECK_INT(cianbox_panel_number("12.5", &v), OV_EINVAL);
	CHECK_INT(cianbox_panel_number("1.2345", &v), OV_EINVAL);
	CHECK_INT(cianbox_panel_number("1,2,3", &v), OV_EINVAL);
	CHECK_INT(cianbox_panel_number("1 204", &v), OV_EINVAL);
	CHECK_INT(cianbox_panel_number("", &v), OV_EINVAL);
	CHECK_INT(cianbox_panel_number(",5", &v), OV_EINVAL);
	CHECK_INT(cianbox_panel_number("5,", &v), OV_EINVAL);
	CHECK_INT(cianbox_panel_number("abc", &v), OV_EINVAL);
	CHECK(cianbox_panel_price("u$s 1.210,00", &v, m) == OV_OK &&
	    near(v, 1210) && strcmp(m, "USD") == 0);
	CHECK(cianbox_panel_price("U$S 58,69", &v, m) == OV_OK && near(v, 58.69));
	CHECK(cianbox_panel_price("$ 58,69", &v, m) == OV_OK &&
	    strcmp(m, "ARS") == 0);
	CHECK_INT(cianbox_panel_price("58,69", &v, m), OV_EINVAL);
	CHECK_INT(cianbox_panel_price("u$s -5,00", &v, m), OV_EINVAL);
	CHECK_INT(cianbox_panel_price("€ 5,00", &v, m), OV_EINVAL);
}

/* ---- against the stand-in ------------------------------------------------- */

static int
panel_env(struct standin *s, const char *const *extra, struct config **cfg,
    struct cianbox_panel **p, char *data, size_t dlen)
{
	char err[256];

	*cfg = NULL;
	*p = NULL;
	if (standin_start(s, extra) != 0)
		return -1;
	snprintf(data, dlen, "%s/data", s->dir);
	mkdir(data, 0700);
	unsetenv("OVIDIO_CONFIG");
	setenv("OVIDIO_DATA_DIR", data, 1);
	setenv("CIANBOX_URL", s->url, 1);
	setenv("CIANBOX_ACCOUNT", "micuenta", 1);
	setenv("CIANBOX_USER", "ovidio", 1);
	setenv("CIANBOX_PASS", "secreto-de-prueba", 1);
	setenv("CIANBOX_TIMEOUT_MS", "5000", 1);
	setenv("CIANBOX_BACKOFF_MS", "20", 1);
	if (config_load(cfg, err, sizeof(err)) != OV_OK ||
	    cianbox_panel_open(p, *cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	return 0;
}

static void
test_session_against_standin(void)
{
	struct standin s;
	struct config *cfg;
	struct cianbox_panel *p, *p2 = NULL;
	struct cianbox_panel_rows rows = { NULL, 0 };
	char data[300], cookies[400], err[256], *jar;
	struct stat sb;
	size_t len;

	if (panel_env(&s, NULL, &cfg, &p, data, sizeof(data)) != 0) {
		CHECK(0);
		goto out;
	}
	/* No session yet: the login form comes back, log in, read. */
	CHECK_INT(cianbox_panel_productos(p, &rows), OV_OK);
	CHECK_INT(rows.n, 3);
	CHECK(rows.n == 3 && near(rows.v[2].stock, 1204));
	cianbox_panel_rows_free(&rows);
	CHECK_INT(standin_stat(&s, "panel_logins"), 1);
	/* The cookie is kept, 0600, for the next run. */
	snprintf(cookies, sizeof(cookies), "%s/cianbox-panel.cookies", data);
	CHECK(stat(cookies, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	jar = read_file(cookies, &len);
	CHECK(jar != NULL && strstr(jar, "PHPSESSID") != NULL);
	CHECK(jar == NULL || strstr(jar, "secreto-de-prueba") == NULL);
	free(jar);
	cianbox_panel_close(p);
	p = NULL;
	CHECK_INT(cianbox_panel_open(&p2, cfg, err, sizeof(err)), OV_OK);
	if (p2 != NULL) {
		CHECK_INT(cianbox_panel_productos(p2, &rows), OV_OK);
		CHECK_INT(rows.n, 3);
		cianbox_panel_rows_free(&rows);
		CHECK_INT(standin_stat(&s, "panel_logins"), 1);
		/* The session expires: one more login, then the page. */
		CHECK(standin_control(&s, "{\"panel_expire_sessions\": true}") == 0);
		CHECK_INT(cianbox_panel_productos(p2, &rows), OV_OK);
		CHECK_INT(rows.n, 3);
		cianbox_panel_rows_free(&rows);
		CHECK_INT(standin_stat(&s, "panel_logins"), 2);
		/* A redesigned page: an error and nothing else. */
		CHECK(standin_control(&s, "{\"panel_changed\": true}") == 0);
		CHECK_INT(cianbox_panel_productos(p2, &rows), OV_EPARSE);
		CHECK_INT(rows.n, 0);
		CHECK(rows.v == NULL);
		CHECK(strstr(cianbox_panel_last_error(p2), "changed") != NULL);
	}
out:
	cianbox_panel_close(p);
	cianbox_panel_close(p2);
	config_free(cfg);
	standin_stop(&s);
}

static void
test_refused_password_and_big_page(void)
{
	static const char *const args[] = { "--products", "450", NULL };
	struct standin s;
	struct config *cfg = NULL;
	struct cianbox_panel *p = NULL;
	struct cianbox_panel_rows rows = { NULL, 0 };
	char data[300], err[256];
	size_t n105 = 0;

	if (panel_env(&s, args, &cfg, &p, data, sizeof(data)) != 0) {
		CHECK(0);
		goto out;
	}
	CHECK_INT(cianbox_panel_productos(p, &rows), OV_OK);
	CHECK_INT(rows.n, 450);
	for (size_t i = 0; i < rows.n; i++)
		if (near(rows.v[i].iva, 10.5))
			n105++;
	CHECK(n105 > 50 && n105 < 150);   /* one generated item in five */
	cianbox_panel_rows_free(&rows);
	cianbox_panel_close(p);
	p = NULL;
	config_free(cfg);
	cfg = NULL;
	/* A wrong password, with no session left to fall back on. */
	CHECK(standin_control(&s, "{\"panel_expire_sessions\": true}") == 0);
	setenv("CIANBOX_PASS", "clave-equivocada", 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(cianbox_panel_open(&p, cfg, err, sizeof(err)), OV_OK);
	if (p != NULL) {
		CHECK_INT(cianbox_panel_productos(p, &rows), OV_EAUTH);
		CHECK_INT(rows.n, 0);
		CHECK(strstr(cianbox_panel_last_error(p), "refused") != NULL);
		CHECK(strstr(cianbox_panel_last_error(p), "clave-equivocada") == NULL);
	}
out:
	cianbox_panel_close(p);
	config_free(cfg);
	standin_stop(&s);
}

int
main(void)
{
	char path[512];

	log_init("test_cianbox_panel");
	log_set_level(LOG_WARN);
	snprintf(path, sizeof(path), "%s/cianbox/panel_productos.html",
	    standin_fixtures());
	fixture = read_file(path, &fixture_len);
	if (fixture == NULL)
		fprintf(stderr, "cannot read %s\n", path);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	RUN(test_fixture_page);
	RUN(test_variants_still_read);
	RUN(test_header_variants);
	RUN(test_changed_or_broken_pages);
	RUN(test_argentine_numbers);
	if (access(STANDIN_SCRIPT, R_OK) == 0) {
		RUN(test_session_against_standin);
		RUN(test_refused_password_and_big_page);
	} else {
		fprintf(stderr, "run from the repository root\n");
		check_tests_failed++;
	}
	curl_global_cleanup();
	free(fixture);
	return check_finish();
}
