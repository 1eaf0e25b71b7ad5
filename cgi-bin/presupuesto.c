/*
 * presupuesto - serves a quote's PDF by its unguessable id (CGI).
 *
 *   GET|HEAD /cgi-bin/presupuesto/<id>.pdf     (PATH_INFO)
 *   GET|HEAD /cgi-bin/presupuesto?id=<id>
 *
 * 200 application/pdf, streamed from PRESUPUESTOS_DIR with its length from
 * fstat; 404 for an id that is not exactly a UUID v4 (checked before any
 * file or store access) or that nobody issued; 410 with a short page in
 * Spanish once the quote expired, was purged or was replaced; 405 for
 * other methods. Links the store, not libcurl, libxml2 or libharu.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgi.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "fdio.h"
#include "log.h"
#include "quote.h"
#include "quote_file.h"
#include "store.h"
#include "uuid.h"

#define PDF_SUFFIX ".pdf"
#define BODY_DRAIN_MAX (64 * 1024)
#define FILENAME_NAME_MAX 40
/* Customers open the link a few times; a changed quote gets a new id. */
#define CACHE_CONTROL "private, max-age=300"
#define PAGE_MAX 4096

static void
respond(int status, const char *type, const struct cgi_header *extra,
    size_t n_extra, const char *body)
{
	if (cgi_respond(stdout, status, type, extra, n_extra, body,
	    strlen(body)) != OV_OK)
		log_error("cannot write the response");
}

/* A short page for people, in the customer's Spanish. */
static void
respond_page(int status, const char *title, const char *text,
    const char *business)
{
	char page[PAGE_MAX], name[512];
	size_t o = 0;

	/* The business name comes from the configuration: escape it. */
	for (const char *p = business != NULL ? business : ""; *p != '\0' &&
	    o + 7 < sizeof(name); p++) {
		const char *esc = *p == '<' ? "&lt;" : *p == '>' ? "&gt;" :
		    *p == '&' ? "&amp;" : *p == '"' ? "&quot;" : NULL;

		if (esc != NULL) {
			memcpy(name + o, esc, strlen(esc));
			o += strlen(esc);
		} else {
			name[o++] = *p;
		}
	}
	name[o] = '\0';
	snprintf(page, sizeof(page),
	    "<!doctype html>\n"
	    "<html lang=\"es\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>%s</title></head>\n"
	    "<body style=\"font-family:sans-serif;max-width:32em;"
	    "margin:3em auto;padding:0 1em;line-height:1.5\">\n"
	    "<h1 style=\"font-size:1.3em\">%s</h1>\n<p>%s</p>\n<p>%s</p>\n"
	    "</body></html>\n", title, title, text, name);
	respond(status, "text/html; charset=utf-8", NULL, 0, page);
}

static void
not_found(const char *business)
{
	respond_page(404, "No encontramos este presupuesto",
	    "Revis\xc3\xa1 el enlace, o escribinos por WhatsApp y te "
	    "mandamos uno nuevo.", business);
}

static void
unavailable(void)
{
	static const struct cgi_header retry[] = { { "Retry-After", "60" } };
	char page[PAGE_MAX];

	snprintf(page, sizeof(page), "<!doctype html>\n<html lang=\"es\"><head>"
	    "<meta charset=\"utf-8\"><title>Prob\xc3\xa1 en un rato</title>"
	    "</head>\n<body><p>No pudimos abrir el presupuesto ahora. "
	    "Prob\xc3\xa1 de nuevo en un rato.</p></body></html>\n");
	respond(503, "text/html; charset=utf-8", retry, 1, page);
}

/* The id in the request, or false: "/<uuid>.pdf" in PATH_INFO, else
 * ?id=<uuid>. Nothing but that exact shape gets through. */
static bool
request_id(char id[UUID_LEN + 1])
{
	const char *pi = getenv("PATH_INFO"), *v;
	struct cgi_query q = { NULL, 0 };
	bool ok = false;

	if (pi != NULL && *pi != '\0') {
		if (strnlen(pi, UUID_LEN + 8) != 1 + UUID_LEN + 4 ||
		    pi[0] != '/' || strcmp(pi + 1 + UUID_LEN, PDF_SUFFIX) != 0)
			return false;
		memcpy(id, pi + 1, UUID_LEN);
		id[UUID_LEN] = '\0';
		return uuid_v4_valid(id);
	}
	if (cgi_query_parse(getenv("QUERY_STRING"), &q) == OV_OK &&
	    cgi_query_get(&q, "id", &v) == OV_OK && uuid_v4_valid(v)) {
		memcpy(id, v, UUID_LEN + 1);
		ok = true;
	}
	cgi_query_free(&q);
	return ok;
}

/* "GRUPO SER" -> "GRUPO_SER": letters and digits of the business name,
 * accents dropped, anything else one '_', for a download's file name. */
static void
filename_part(const char *s, char *out, size_t len)
{
	static const char *const fold[][2] = {
		{ "\xc3\xa1", "a" }, { "\xc3\xa9", "e" }, { "\xc3\xad", "i" },
		{ "\xc3\xb3", "o" }, { "\xc3\xba", "u" }, { "\xc3\xbc", "u" },
		{ "\xc3\xb1", "n" }, { "\xc3\x81", "A" }, { "\xc3\x89", "E" },
		{ "\xc3\x8d", "I" }, { "\xc3\x93", "O" }, { "\xc3\x9a", "U" },
		{ "\xc3\x9c", "U" }, { "\xc3\x91", "N" },
	};
	size_t o = 0, max = len - 1 < FILENAME_NAME_MAX ? len - 1 :
	    FILENAME_NAME_MAX;

	for (const char *p = s != NULL ? s : ""; *p != '\0' && o < max;) {
		char c = *p;
		size_t adv = 1;

		for (size_t i = 0; i < sizeof(fold) / sizeof(fold[0]); i++) {
			if (strncmp(p, fold[i][0], 2) == 0) {
				c = fold[i][1][0];
				adv = 2;
				break;
			}
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')))
			c = '_';
		if (!(c == '_' && (o == 0 || out[o - 1] == '_')))
			out[o++] = c;
		p += adv;
	}
	while (o > 0 && out[o - 1] == '_')
		o--;
	if (o == 0) {
		snprintf(out, len, "Ovidio");
		return;
	}
	out[o] = '\0';
}

static void
send_pdf(const struct config *cfg, const struct store_quote *rec, int fd,
    const struct stat *sb, bool head)
{
	char name[FILENAME_NAME_MAX + 1], disposition[256], length[32];
	const struct cgi_header h[] = {
		{ "Content-Disposition", disposition },
		{ "Cache-Control", CACHE_CONTROL },
	};

	filename_part(config_get(cfg, "BUSINESS_NAME"), name, sizeof(name));
	snprintf(disposition, sizeof(disposition),
	    "inline; filename=\"Presupuesto_%s_%" PRId64 ".pdf\"", name,
	    rec->number);
	snprintf(length, sizeof(length), "%jd", (intmax_t)sb->st_size);
	if (!cgi_header_value_ok(disposition)) {
		log_error("bad Content-Disposition for quote %" PRId64,
		    rec->number);
		respond(500, "text/plain; charset=utf-8", NULL, 0, "error\n");
		return;
	}
	/* cgi_respond() says no-store and wants the body in memory: a PDF
	 * is streamed, and may be kept briefly by the customer's browser. */
	printf("Status: 200 OK\r\nContent-Type: application/pdf\r\n"
	    "Content-Length: %s\r\nX-Content-Type-Options: nosniff\r\n",
	    length);
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		printf("%s: %s\r\n", h[i].name, h[i].value);
	fputs("\r\n", stdout);
	if (head)
		return;
	if (fdio_copy_out(fd, sb->st_size, stdout) != OV_OK)
		log_error("quote %" PRId64 ": PDF cut short while sending",
		    rec->number);
	else
		log_debug("sent quote %" PRId64, rec->number);
}

static void
serve(const struct config *cfg, const char *id, bool head)
{
	const char *business = config_get(cfg, "BUSINESS_NAME");
	struct store *st = NULL;
	struct store_quote rec;
	enum quote_state state;
	struct stat sb;
	bool found = false;
	int fd = -1, rc;

	memset(&rec, 0, sizeof(rec));
	if ((rc = store_open(&st, cfg)) != OV_OK) {
		unavailable();
		goto out;
	}
	if ((rc = store_quote_get(st, id, &rec, &found)) != OV_OK) {
		log_error("quote %s: %s", id, ov_strerror(rc));
		unavailable();
		goto out;
	}
	if (!found) {
		not_found(business);
		goto out;
	}
	if (quote_state_parse(rec.state, &state) != OV_OK) {
		log_error("quote %s: unknown state", id);
		not_found(business);
		goto out;
	}
	if (state == QUOTE_CANCELLED) {
		respond_page(410, "Este presupuesto fue reemplazado",
		    "Te mandamos uno m\xc3\xa1s nuevo por WhatsApp. Si no lo "
		    "ten\xc3\xa9s, pedinoslo y te lo reenviamos.", business);
		goto out;
	}
	if (state == QUOTE_EXPIRED || clock_now() >= rec.expires_at) {
		char date[16], text[256];

		if (quote_format_date(rec.expires_at, date, sizeof(date)) !=
		    OV_OK)
			snprintf(date, sizeof(date), "-");
		snprintf(text, sizeof(text), "Este presupuesto venci\xc3\xb3 el "
		    "%s, pedinos uno nuevo por WhatsApp.", date);
		respond_page(410, "Presupuesto vencido", text, business);
		goto out;
	}
	rc = quote_file_open(config_get(cfg, "PRESUPUESTOS_DIR"), id, &fd, &sb);
	if (rc == OV_ENOTFOUND) {
		log_warn("quote %" PRId64 " (%s) has no PDF file", rec.number,
		    id);
		not_found(business);
		goto out;
	}
	if (rc != OV_OK) {
		unavailable();
		goto out;
	}
	send_pdf(cfg, &rec, fd, &sb, head);
out:
	if (fd >= 0)
		close(fd);
	store_quote_clear(&rec);
	store_close(st);
}

int
main(void)
{
	static const struct cgi_header allow[] = { { "Allow", "GET, HEAD" } };
	struct config *cfg = NULL;
	enum cgi_method method;
	char err[512], id[UUID_LEN + 1];

	log_init("presupuesto");
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		respond(500, "text/plain; charset=utf-8", NULL, 0,
		    "server misconfigured\n");
		goto out;
	}
	log_set_level_name(config_get(cfg, "OVIDIO_LOG"));
	if (clock_init(cfg, err, sizeof(err)) != OV_OK) {
		log_error("%s", err);
		respond(500, "text/plain; charset=utf-8", NULL, 0,
		    "server misconfigured\n");
		goto out;
	}
	quote_use_timezone(cfg);
	method = cgi_method();
	if (method != CGI_METHOD_GET && method != CGI_METHOD_HEAD) {
		cgi_drain_body(STDIN_FILENO, BODY_DRAIN_MAX);
		respond(405, "text/plain; charset=utf-8", allow, 1,
		    "method not allowed\n");
		goto out;
	}
	/* The id's shape is the whole check before any file or record is
	 * touched: no "..", no '/', no NUL, nothing longer. */
	if (!request_id(id)) {
		not_found(config_get(cfg, "BUSINESS_NAME"));
		goto out;
	}
	serve(cfg, id, method == CGI_METHOD_HEAD);
out:
	fflush(stdout);
	config_free(cfg);
	return 0;
}
