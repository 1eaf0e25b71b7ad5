/*
 * inbox - the salesperson's web inbox and the operator's status page (CGI;
 * DESIGN.md section 6). Spanish UI, server-rendered, no JavaScript.
 *
 *   GET  /cgi-bin/inbox                    conversations (?q= search)
 *   GET  /cgi-bin/inbox/c/<wa_id>          one conversation
 *   POST /cgi-bin/inbox/c/<wa_id>/tomar    take it (owner = REMOTE_USER)
 *   POST /cgi-bin/inbox/c/<wa_id>/responder   text, through the outbox's
 *                                          agent lane (inside 24 h)
 *   POST /cgi-bin/inbox/c/<wa_id>/plantilla   an approved template
 *   POST /cgi-bin/inbox/c/<wa_id>/pdf      the pending quote's PDF
 *   POST /cgi-bin/inbox/c/<wa_id>/devolver give it back to Ovidio
 *   GET  /cgi-bin/inbox/media?id=<id>      a file, photo or voice note the
 *                                          customer sent (lib/media_keep)
 *   POST /cgi-bin/inbox/c/<wa_id>/facturas ask Cianbox for the invoices now
 *   GET  /cgi-bin/inbox/estado             status page
 *   POST /cgi-bin/inbox/estado/reintentar  a failed spool file back to new/
 *   POST /cgi-bin/inbox/estado/sincronizar ask the next cron run for a sync
 *
 * Apache authenticates (Basic, htpasswd); this program refuses (403, one
 * log line) when REMOTE_USER is empty, so a forgotten auth block never
 * opens customer data. Every POST carries the user's CSRF token (checked
 * in constant time) and must come from this origin (Origin, else
 * Referer). Every value reaches the page through lib/html's escaping
 * writer. A change answers 303 to the conversation page (POST/redirect/
 * GET). Responses: Cache-Control no-store, nosniff (lib/cgi), X-Frame-
 * Options DENY, a Content-Security-Policy with no scripts at all.
 *
 * Two builds of this file (Makefile): cgi-bin/inbox (INBOX_LEAN) links
 * SQLite and cJSON only, so a page costs little more than its queries,
 * and hands MongoDB, sending through WhatsApp, quote PDFs and asking
 * Cianbox to libexec/inbox-full, which links everything (see "the lean
 * build" below).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cgi.h"
#include "cianbox.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "customer.h"
#include "err.h"
#include "fdio.h"
#include "html.h"
#include "inbox.h"
#include "invoices.h"
#include "log.h"
#include "media_keep.h"
#include "outbox.h"
#include "quote.h"
#include "quote_file.h"
#include "quote_pdf.h"
#include "sha256.h"
#include "spool.h"
#include "store.h"
#include "uuid.h"
#include "whatsapp.h"

#define PAGE_MAX (2u * 1024 * 1024)
#define BODY_MAX (16 * 1024)     /* a form: 1000 characters, %-encoded */
#define FORM_FIELDS_MAX 8
#define FORM_NAME_MAX 16
#define FORM_VALUE_MAX 4096      /* bytes of one decoded value */
#define REPLY_CHARS_MAX 1000     /* characters of a salesperson's reply */
#define LIST_ROWS 100
#define HISTORY_ROWS 200
#define WINDOW_S 86400           /* Meta's customer service window */
#define FAILED_LISTED 50
#define LOG_TAIL (256 * 1024)    /* bytes of worker.log read */
#define ERROR_LINES 50
#define TEMPLATES_MAX 8
#define INVOICES_SHOWN 5
#define INVOICES_BUDGET_MS 3000  /* a page waits for Cianbox at most this */

/* The whole style sheet; its hash goes into the CSP (no inline allowance). */
static const char css[] =
	"body{font:16px/1.4 system-ui,sans-serif;margin:0;color:#1a1a1a;"
	"background:#f4f5f7}"
	"header{background:#075e54;color:#fff;padding:.6em 1em;display:flex;"
	"gap:1em;align-items:center;flex-wrap:wrap}"
	"header a{color:#fff}main{max-width:60em;margin:0 auto;padding:.5em}"
	"h1{font-size:1.2em;margin:.2em 0}h2{font-size:1.05em}"
	"table{width:100%;border-collapse:collapse;background:#fff}"
	"td,th{padding:.45em;border-bottom:1px solid #ddd;text-align:left;"
	"vertical-align:top}"
	".wait{background:#fff4e5}.badge{background:#d93025;color:#fff;"
	"border-radius:1em;padding:0 .5em;font-size:.85em}"
	".msg{margin:.4em 0;padding:.5em .7em;border-radius:.6em;max-width:85%;"
	"background:#fff;word-wrap:break-word;white-space:pre-wrap}"
	".in{margin-right:auto}.out{margin-left:auto;background:#dcf8c6}"
	".agent{margin-left:auto;background:#cfe3ff}"
	".thumb{display:block;max-width:12em;max-height:12em;margin:.3em 0}"
	".meta{font-size:.8em;color:#555}.panel{background:#fff;padding:.6em;"
	"margin:.6em 0;border-radius:.4em}"
	"form{display:inline}textarea{width:100%;box-sizing:border-box;"
	"min-height:5em;font:inherit}"
	"button{font:inherit;padding:.45em .9em;margin:.2em 0}"
	".err{background:#fde8e8;padding:.6em;border-radius:.4em}"
	".ok{background:#e6f4ea;padding:.6em;border-radius:.4em}"
	"input[type=search]{font:inherit;padding:.35em;width:14em}"
	"@media(max-width:600px){.msg{max-width:100%}td,th{padding:.3em}}";

struct app {
	const struct config *cfg;
	struct store *st;
	const char *user;
	const char *secret;          /* CSRF key */
	char csrf[INBOX_CSRF_LEN + 1];
	char csp[256];
	char base[256];              /* SCRIPT_NAME */
	char pdf_base[256];          /* cgi-bin/presupuesto beside it */
	int64_t now;
	long hours;
	struct form {                /* a POST's fields */
		char name[FORM_FIELDS_MAX][FORM_NAME_MAX + 1];
		char *value[FORM_FIELDS_MAX];   /* malloc'd */
		size_t n;
	} form;
};

/* ---- responses ------------------------------------------------------ */

static void
security_headers(const struct app *a, struct cgi_header *h, size_t *n)
{
	h[(*n)++] = (struct cgi_header){ "X-Frame-Options", "DENY" };
	h[(*n)++] = (struct cgi_header){ "Content-Security-Policy", a->csp };
	h[(*n)++] = (struct cgi_header){ "Referrer-Policy", "same-origin" };
}

static void
send_html(const struct app *a, int status, struct html *h)
{
	struct cgi_header hd[4];
	size_t n = 0;

	if (h->err != OV_OK) {
		log_error("inbox: page not built: %s", ov_strerror(h->err));
		status = 500;
		html_free(h);
		html_init(h, 4096);
		html_raw(h, "<!doctype html><p>Error interno.</p>");
	}
	security_headers(a, hd, &n);
	if (cgi_respond(stdout, status, "text/html; charset=utf-8", hd, n,
	    h->buf, h->len) != OV_OK)
		log_error("inbox: cannot write the response");
}

static void
page_start(const struct app *a, struct html *h, const char *title,
    bool refresh)
{
	html_raw(h, "<!doctype html>\n<html lang=\"es\"><head>"
	    "<meta charset=\"utf-8\"><meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">");
	if (refresh)
		html_raw(h, "<meta http-equiv=\"refresh\" content=\"30\">");
	html_raw(h, "<title>");
	html_text(h, title);
	html_raw(h, " · Ovidio</title><style>");
	html_raw(h, css);
	html_raw(h, "</style></head><body><header><strong>Ovidio</strong>"
	    "<a href=\"");
	html_attr(h, a->base);
	html_raw(h, "\">Conversaciones</a><a href=\"");
	html_attr(h, a->base);
	html_raw(h, "/estado\">Estado</a><span>");
	html_text(h, a->user);
	html_raw(h, "</span></header><main>");
}

static void
page_end(struct html *h)
{
	html_raw(h, "</main></body></html>\n");
}

/* A short page for a refusal or an error. */
static void
message_page(const struct app *a, int status, const char *title,
    const char *text, const char *back)
{
	struct html h;

	html_init(&h, 64 * 1024);
	page_start(a, &h, title, false);
	html_raw(&h, "<h1>");
	html_text(&h, title);
	html_raw(&h, "</h1><p class=\"err\">");
	html_text(&h, text);
	html_raw(&h, "</p>");
	if (back != NULL) {
		html_raw(&h, "<p><a href=\"");
		html_attr(&h, back);
		html_raw(&h, "\">Volver</a></p>");
	}
	page_end(&h);
	send_html(a, status, &h);
	html_free(&h);
}

/* Before the user is known: no page frame, no data. */
static void
bare(int status, const char *text)
{
	static const struct cgi_header hd[] = {
		{ "X-Frame-Options", "DENY" },
		{ "Content-Security-Policy", "default-src 'none'" },
	};

	if (cgi_respond(stdout, status, "text/plain; charset=utf-8", hd, 2,
	    text, strlen(text)) != OV_OK)
		log_error("inbox: cannot write the response");
}

static void
redirect(const struct app *a, const char *key, const char *flash)
{
	char loc[512];
	struct cgi_header hd[5];
	size_t n = 0;
	static const char body[] = "Listo.\n";

	if (key != NULL)
		snprintf(loc, sizeof(loc), "%s/c/%s%s%s", a->base, key,
		    flash != NULL ? "?ok=" : "", flash != NULL ? flash : "");
	else
		snprintf(loc, sizeof(loc), "%s/estado%s%s", a->base,
		    flash != NULL ? "?ok=" : "", flash != NULL ? flash : "");
	security_headers(a, hd, &n);
	hd[n++] = (struct cgi_header){ "Location", loc };
	if (cgi_respond(stdout, 303, "text/plain; charset=utf-8", hd, n, body,
	    strlen(body)) != OV_OK)
		log_error("inbox: cannot write the response");
}

/* ---- small helpers ---------------------------------------------------- */

static void
fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%d/%m %H:%M", &tm);
}

static void
fmt_age(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%lld s", (long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%lld min", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, len, "%lld h", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lld días", (long long)(s / 86400));
}

static void
csrf_field(const struct app *a, struct html *h)
{
	html_raw(h, "<input type=\"hidden\" name=\"csrf\" value=\"");
	html_attr(h, a->csrf);
	html_raw(h, "\">");
}

/* <form method=post action="base/c/key/act"><button>label</button></form> */
static void
action_button(const struct app *a, struct html *h, const char *key,
    const char *act, const char *label)
{
	html_raw(h, "<form method=\"post\" action=\"");
	html_attr(h, a->base);
	html_raw(h, "/c/");
	html_url(h, key);
	html_raw(h, "/");
	html_raw(h, act);
	html_raw(h, "\">");
	csrf_field(a, h);
	html_raw(h, "<button type=\"submit\">");
	html_text(h, label);
	html_raw(h, "</button></form> ");
}

/* A conversation key from the path: [0-9A-Za-z.], 1..STORE_WAID_MAX. */
static bool
key_ok(const char *s, size_t n)
{
	if (n == 0 || n > STORE_WAID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') || s[i] == '.'))
			return false;
	return true;
}

/* The name to show: clientes.name, else the Cianbox razón social, else
 * the number. */
static void
display_name(const char *name, const struct conv *c, const char *key,
    char *buf, size_t len)
{
	if (name != NULL && name[0] != '\0')
		snprintf(buf, len, "%s", name);
	else if (c != NULL && c->razon[0] != '\0')
		snprintf(buf, len, "%s", c->razon);
	else
		snprintf(buf, len, "+%s", key);
}

static const char *
status_es(const char *s)
{
	static const char *const map[][2] = {
		{ "pending", "pendiente" }, { "sent", "enviado" },
		{ "delivered", "entregado" }, { "read", "leído" },
		{ "failed", "falló" }, { "received", "recibido" },
		{ "handled", "recibido" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s, map[i][0]) == 0)
			return map[i][1];
	return s;
}

/* Who wrote an outbound message: raw {"agent": name} from the inbox or
 * an echo; NULL for Ovidio. who is the caller's buffer. */
static const char *
outbound_agent(const struct store_msg *m, char *who, size_t len)
{
	cJSON *o;
	const cJSON *v;

	if (m->raw == NULL || strstr(m->raw, "\"agent\"") == NULL)
		return NULL;
	if ((o = cJSON_Parse(m->raw)) == NULL)
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(o, "agent");
	if (cJSON_IsString(v) && v->valuestring[0] != '\0') {
		snprintf(who, len, "%s", strcmp(v->valuestring, INBOX_AGENT_APP) ==
		    0 ? "Vendedor (app WhatsApp Business)" : v->valuestring);
		cJSON_Delete(o);
		return who;
	}
	cJSON_Delete(o);
	return NULL;
}

/* ---- the lean build ----------------------------------------------------- */

#ifdef INBOX_LEAN
/*
 * cgi-bin/inbox is this file built without libcurl, libharu and libmongoc
 * (Makefile: INBOX_LIB): loading and relocating those libraries and what
 * they pull in (OpenSSL, GnuTLS, Kerberos, LDAP, ICU...) cost most of a
 * page's time. What needs them is handed, request untouched (environment,
 * body unread), to the full build by execve: the MongoDB store, sending
 * through WhatsApp, a quote's PDF, asking Cianbox for invoices. The full
 * build is INBOX_FULL from the configuration, else libexec/inbox-full
 * beside cgi-bin/ (as the webhook finds jobs/worker). In the shared-hosting
 * bundle this program runs through the bundle's own loader
 * (ROOT/lib/ld-linux-x86-64.so.2, lib/launch.h): the full build then goes
 * through that loader and ROOT/lib too, never the host's.
 */
static void
hand_over(struct app *a)
{
	char self[PATH_MAX], dir[PATH_MAX], path[PATH_MAX + 32], *slash;
	const char *conf = config_get(a->cfg, "INBOX_FULL");
	char *argv[] = { "inbox", NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	const char *exe;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	snprintf(dir, sizeof(dir), "%s", self);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (conf != NULL && strlen(conf) < sizeof(path))
		snprintf(path, sizeof(path), "%s", conf);
	else
		snprintf(path, sizeof(path), "%s/../libexec/inbox-full", dir);
	exe = path;
	if (slash != NULL && strncmp(slash + 1, "ld-linux", 8) == 0) {
		/* Run as ROOT/lib/ld-linux-*.so.2 ... ROOT/libexec/inbox. */
		exe = self;
		argv[1] = "--inhibit-cache";
		argv[2] = "--library-path";
		argv[3] = dir;
		argv[4] = "--argv0";
		argv[5] = "inbox";
		argv[6] = path;
	}
	fflush(stdout);
	/* Nothing of ours may stay open in it: the database in particular. */
	store_close(a->st);
	a->st = NULL;
	execv(exe, argv);
	log_error("inbox: cannot run the full inbox %s: %s", path,
	    strerror(errno));
	cgi_drain_body(STDIN_FILENO, BODY_MAX);
	message_page(a, 503, "Falta una parte del inbox", "Esta acción no "
	    "está disponible: revisá la instalación (libexec/inbox-full).",
	    NULL);
}

#include "store_impl.h"

/* The lean build has no MongoDB backend: main() hands a MongoDB
 * configuration to the full build before the store is opened, so this
 * only lets lib/store link without libmongoc. */
static int
no_mongo_open(void **impl, const struct config *cfg)
{
	(void)cfg;
	*impl = NULL;
	log_error("inbox: this build has no MongoDB backend");
	return OV_ECONFIG;
}

const struct store_ops store_mongo_ops = {
	.name = "mongodb",
	.open = no_mongo_open,
};
#endif

/* ---- the list ----------------------------------------------------------- */

static void
h_list(struct app *a, const char *rest)
{
	struct store_inbox_row *v = NULL;
	const char *q = NULL;
	struct cgi_query qs = { NULL, 0 };
	struct html h;
	size_t n = 0;
	int rc;

	(void)rest;
	if (cgi_query_parse(getenv("QUERY_STRING"), &qs) != OV_OK) {
		message_page(a, 400, "Búsqueda inválida",
		    "La dirección tiene caracteres que no se pueden leer.",
		    a->base);
		return;
	}
	if (cgi_query_get(&qs, "q", &q) != OV_OK || q[0] == '\0')
		q = NULL;
	if (q != NULL && strlen(q) > STORE_INBOX_QUERY_MAX) {
		message_page(a, 400, "Búsqueda demasiado larga",
		    "Buscá con hasta 64 caracteres: nombre, número o CUIT.",
		    a->base);
		cgi_query_free(&qs);
		return;
	}
	rc = store_inbox_list(a->st, q, LIST_ROWS, &v, &n);
	if (rc == OV_EINVAL) {
		message_page(a, 400, "Búsqueda inválida",
		    "La búsqueda tiene caracteres de control.", a->base);
		cgi_query_free(&qs);
		return;
	}
	if (rc != OV_OK) {
		message_page(a, 503, "No pudimos leer las conversaciones",
		    "Probá de nuevo en un rato.", NULL);
		cgi_query_free(&qs);
		return;
	}
	html_init(&h, PAGE_MAX);
	page_start(a, &h, "Conversaciones", q == NULL);
	html_raw(&h, "<h1>Conversaciones</h1><form method=\"get\" action=\"");
	html_attr(&h, a->base);
	html_raw(&h, "\"><input type=\"search\" name=\"q\" maxlength=\"64\" "
	    "placeholder=\"Nombre, número o CUIT\" value=\"");
	html_attr(&h, q);
	html_raw(&h, "\"> <button type=\"submit\">Buscar</button></form>");
	if (n == 0)
		html_raw(&h, "<p>No hay conversaciones.</p>");
	else
		html_raw(&h, "<table><thead><tr><th>Cliente</th><th>Estado</th>"
		    "<th>Último mensaje</th></tr></thead><tbody>");
	for (size_t i = 0; i < n; i++) {
		struct conv c;
		char name[300], t[32], age[32];
		bool expired;

		conv_init(&c, v[i].conv.key);
		conv_from_store(&v[i].conv, &c);
		display_name(v[i].name, &c, v[i].conv.key, name, sizeof(name));
		expired = c.owner == CONV_OWNER_AGENT && c.owner_until <= a->now;
		html_raw(&h, v[i].waiting && !expired ? "<tr class=\"wait\">" :
		    "<tr>");
		html_raw(&h, "<td><a href=\"");
		html_attr(&h, a->base);
		html_raw(&h, "/c/");
		html_url(&h, v[i].conv.key);
		html_raw(&h, "\">");
		html_text(&h, name);
		html_raw(&h, "</a>");
		if (v[i].unanswered > 0) {
			html_raw(&h, " <span class=\"badge\" title=\"sin "
			    "responder\">");
			html_int(&h, v[i].unanswered);
			html_raw(&h, "</span>");
		}
		html_raw(&h, "<div class=\"meta\">+");
		html_text(&h, v[i].conv.key);
		html_raw(&h, "</div></td><td>");
		if (v[i].waiting && !expired) {
			/* Waiting since the handoff (its hold started then). */
			int64_t since = c.owner_until - (int64_t)a->hours * 3600;

			if (since <= 0 || since > a->now)
				since = v[i].conv.last_inbound;
			fmt_age(a->now - since, age, sizeof(age));
			html_raw(&h, "<strong>Espera un vendedor</strong> hace ");
			html_text(&h, age);
		} else if (c.owner == CONV_OWNER_AGENT && !expired) {
			html_raw(&h, "Con ");
			html_text(&h, strcmp(c.agent, INBOX_AGENT_APP) == 0 ?
			    "la app WhatsApp Business" : c.agent);
		} else {
			html_raw(&h, "Ovidio");
		}
		fmt_time(v[i].conv.last_inbound, t, sizeof(t));
		html_raw(&h, "</td><td>");
		html_text(&h, t);
		html_raw(&h, "</td></tr>");
	}
	if (n > 0)
		html_raw(&h, "</tbody></table>");
	page_end(&h);
	send_html(a, 200, &h);
	html_free(&h);
	store_inbox_rows_free(v, n);
	cgi_query_free(&qs);
}

/* ---- one conversation ------------------------------------------------- */

/* INBOX_TEMPLATES: "name|Texto que se muestra;name2|..." */
struct tmpl {
	char name[64];
	char label[160];
};

static size_t
templates(const struct config *cfg, struct tmpl *out, size_t max)
{
	const char *s = config_get(cfg, "INBOX_TEMPLATES");
	size_t n = 0;

	while (s != NULL && *s != '\0' && n < max) {
		size_t len = strcspn(s, ";"), nl;
		const char *bar = memchr(s, '|', len);

		nl = bar != NULL ? (size_t)(bar - s) : len;
		if (nl > 0 && nl < sizeof(out[n].name)) {
			bool ok = true;

			for (size_t i = 0; i < nl; i++)
				if (!((s[i] >= 'a' && s[i] <= 'z') ||
				    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
					ok = false;
			if (ok) {
				memcpy(out[n].name, s, nl);
				out[n].name[nl] = '\0';
				snprintf(out[n].label, sizeof(out[n].label), "%.*s",
				    bar != NULL ? (int)(len - nl - 1) : (int)nl,
				    bar != NULL ? bar + 1 : s);
				n++;
			}
		}
		s += len;
		if (*s == ';')
			s++;
	}
	return n;
}

/* "2026-11-03" -> "03/11/2026"; anything else as given. */
static void
fmt_fecha(const char *ymd, char *buf, size_t len)
{
	if (strlen(ymd) == 10 && ymd[4] == '-' && ymd[7] == '-')
		snprintf(buf, len, "%.2s/%.2s/%.4s", ymd + 8, ymd + 5, ymd);
	else
		snprintf(buf, len, "%s", ymd);
}

/* An amount as Cianbox gave it, in its currency: "u$s 1.843,75". */
static void
fmt_amount(double v, int id_moneda, char *buf, size_t len)
{
	char num[48];
	double r = v * 100.0;

	if (!(r > -9e15 && r < 9e15) ||
	    quote_format_cents((int64_t)(r < 0 ? r - 0.5 : r + 0.5), num,
	    sizeof(num)) != OV_OK)
		snprintf(num, sizeof(num), "?");
	snprintf(buf, len, "%s %s", id_moneda == 2 ? "u$s" : "$", num);
}

/* The customer's invoices for the panel: the kept copy, asked of Cianbox
 * again when invoices_due() says so (or "Actualizar"). */
struct panel_invoices {
	bool shown;              /* a verified customer with a document */
	bool configured;         /* Cianbox is configured */
	bool found;              /* a kept copy */
	struct invoices kept;
};

static bool
cianbox_configured(const struct config *cfg)
{
	return config_get(cfg, "CIANBOX_ACCOUNT") != NULL &&
	    config_get(cfg, "CIANBOX_URL") != NULL;
}

#ifndef INBOX_LEAN
/* Ask Cianbox for the customer's invoices within INVOICES_BUDGET_MS and
 * keep them (or the failure); pi->kept is what the store holds after. */
static int
invoices_fetch(struct app *a, const struct cianbox_cliente *cl,
    struct panel_invoices *pi)
{
	struct cianbox *cb = NULL;
	struct cianbox_venta v[INVOICES_SHOWN];
	char err[256];
	size_t n = 0;
	int rc;

	if ((rc = cianbox_open(&cb, a->cfg, a->st, err, sizeof(err))) != OV_OK)
		log_error("inbox: invoices of client %lld: %s",
		    (long long)cl->id, err);
	if (rc == OV_OK) {
		cianbox_set_deadline(cb, INVOICES_BUDGET_MS);
		rc = cianbox_ventas_recent(cb, cl->numero_documento,
		    INVOICES_SHOWN, v, &n);
		if (rc != OV_OK)
			log_warn("inbox: invoices of client %lld: %s",
			    (long long)cl->id, cianbox_last_error(cb));
	}
	cianbox_close(cb);
	if (rc == OV_OK)
		rc = invoices_put(a->st, cl->id, cl->numero_documento, v, n,
		    a->now);
	else if (invoices_failed(a->st, cl->id, a->now) != OV_OK)
		log_warn("inbox: invoices of client %lld: the failure not "
		    "kept", (long long)cl->id);
	if (invoices_get(a->st, cl->id, &pi->kept, &pi->found) != OV_OK)
		pi->found = false;
	return rc;
}
#endif

static void
invoices_section(struct app *a, struct html *h, const char *key,
    const struct cianbox_cliente *cl, const struct panel_invoices *pi)
{
	const struct invoices *k = &pi->kept;
	bool usable = invoices_usable(k, pi->found, cl->numero_documento);
	char age[32], t[32], buf[64];

	html_raw(h, "<h3>Últimas facturas</h3>");
	if (!pi->configured) {
		html_raw(h, "<p class=\"meta\">Cianbox no está configurado: no "
		    "podemos traer las facturas.</p>");
		return;
	}
	if (pi->found && k->failed_at != 0) {
		html_raw(h, "<p class=\"err\">No pudimos traer las facturas "
		    "ahora: Cianbox no respondió");
		if (usable) {
			fmt_age(a->now - k->fetched_at, age, sizeof(age));
			html_raw(h, ". Te mostramos las que trajimos hace ");
			html_text(h, age);
		}
		html_raw(h, ".</p>");
	} else if (!usable) {
		html_raw(h, "<p class=\"err\">No pudimos traer las facturas "
		    "ahora.</p>");
	}
	if (usable && k->n == 0)
		html_raw(h, "<p>No hay facturas recientes en Cianbox.</p>");
	if (usable && k->n > 0) {
		html_raw(h, "<table><thead><tr><th>Comprobante</th><th>Fecha"
		    "</th><th>Total</th><th>Saldo</th></tr></thead><tbody>");
		for (size_t i = 0; i < k->n && i < INVOICES_SHOWN; i++) {
			const struct cianbox_venta *v = &k->v[i];

			html_raw(h, "<tr><td>");
			if (v->tipo[0] != '\0') {
				html_text(h, v->tipo);
				html_raw(h, " ");
			}
			html_text(h, v->punto_venta);
			html_raw(h, "-");
			html_text(h, v->numero);
			html_raw(h, "</td><td>");
			fmt_fecha(v->fecha, buf, sizeof(buf));
			html_text(h, buf);
			html_raw(h, "</td><td>");
			fmt_amount(v->total, v->id_moneda, buf, sizeof(buf));
			html_text(h, buf);
			html_raw(h, "</td><td>");
			if (v->anulado) {
				html_raw(h, "Anulada");
			} else if (v->has_saldo) {
				fmt_amount(v->saldo, v->id_moneda, buf,
				    sizeof(buf));
				html_text(h, buf);
			} else {
				html_raw(h, v->cta_cte ? "Cuenta corriente" :
				    "Contado");
			}
			html_raw(h, "</td></tr>");
		}
		html_raw(h, "</tbody></table>");
	}
	html_raw(h, "<p class=\"meta\">");
	if (usable) {
		fmt_time(k->fetched_at, t, sizeof(t));
		fmt_age(a->now - k->fetched_at, age, sizeof(age));
		html_raw(h, "Traídas de Cianbox el ");
		html_text(h, t);
		html_raw(h, " (hace ");
		html_text(h, age);
		html_raw(h, "). ");
	}
	html_raw(h, "</p>");
	action_button(a, h, key, "facturas", "Actualizar las facturas");
}

static void
customer_panel(struct app *a, struct html *h, const char *key,
    const struct conv *c, const struct customer_identity *id,
    const struct panel_invoices *pi)
{
	struct cianbox_cliente cl;
	struct store_quote q;
	bool found = false;
	char buf[64];

	html_raw(h, "<div class=\"panel\"><h2>Cliente en Cianbox</h2>");
	memset(&cl, 0, sizeof(cl));
	if (id->have_client) {
		cl = id->client;
		found = true;
	} else if (id->how == CUSTOMER_UNKNOWN && c->cuit[0] != '\0' &&
	    customer_client_by_cuit(a->st, c->cuit, &cl, &found) != OV_OK) {
		found = false;
	}
	if (found) {
		html_raw(h, "<p><strong>");
		html_text(h, cl.razon);
		html_raw(h, "</strong><br>");
		html_text(h, cl.tipo_documento[0] ? cl.tipo_documento : "CUIT");
		html_raw(h, " ");
		html_text(h, cl.numero_documento);
		html_raw(h, "<br>");
		html_text(h, cl.localidad);
		html_raw(h, "</p>");
	}
	if (found && id->have_client && id->verified) {
		html_raw(h, "<p>Saldo: ");
		fmt_amount(cl.saldo, 1, buf, sizeof(buf));
		html_text(h, buf);
		html_raw(h, " · Límite de crédito: ");
		fmt_amount(cl.limite, 1, buf, sizeof(buf));
		html_text(h, buf);
		if (cl.ctacte) {
			html_raw(h, " · Cuenta corriente a ");
			html_int(h, cl.plazo);
			html_raw(h, " días");
		}
		html_raw(h, "</p>");
		if (pi->shown)
			invoices_section(a, h, key, &cl, pi);
	} else if (found) {
		/* The bot's rule (lib/customer.h): account data only for the
		 * number on file. Nor does the salesperson see it here, so
		 * it cannot be passed on to whoever is writing. */
		html_raw(h, "<p class=\"meta\">Identificado por CUIT o e-mail "
		    "en el chat, no por su número: el saldo y las facturas se "
		    "muestran solo si el WhatsApp figura en la cuenta.</p>");
	} else if (id->how == CUSTOMER_LINKED) {
		html_raw(h, "<p>Vinculado al cliente N.º ");
		html_int(h, id->cianbox_id);
		html_raw(h, " de Cianbox, que no está en la copia sincronizada."
		    "</p>");
	} else {
		html_raw(h, "<p>No lo encontramos en los clientes sincronizados");
		if (c->cuit[0] != '\0') {
			html_raw(h, " (CUIT dado en el chat: ");
			html_text(h, c->cuit);
			html_raw(h, ")");
		}
		html_raw(h, ".</p>");
	}

	/* The open quote and the cart. */
	memset(&q, 0, sizeof(q));
	found = false;
	if (store_quote_pending_for(a->st, key, &q, &found) == OV_OK && found) {
		char exp[32];

		fmt_time(q.expires_at, exp, sizeof(exp));
		html_raw(h, "<h2>Presupuesto abierto</h2><p><a href=\"");
		html_attr(h, a->pdf_base);
		html_raw(h, "/");
		html_url(h, q.id);
		html_raw(h, ".pdf\">Presupuesto N.º ");
		html_int(h, q.number);
		html_raw(h, " (PDF)</a> · vence ");
		html_text(h, exp);
		html_raw(h, "</p>");
		action_button(a, h, key, "pdf", "Enviar el PDF al cliente");
		store_quote_clear(&q);
	}
	html_raw(h, "<h2>Carrito</h2>");
	if (c->ncart == 0)
		html_raw(h, "<p>Vacío.</p>");
	else
		html_raw(h, "<ul>");
	for (size_t i = 0; i < c->ncart; i++) {
		char *json = NULL, idbuf[32];
		bool f = false;
		cJSON *o = NULL;
		const cJSON *nm = NULL;

		snprintf(idbuf, sizeof(idbuf), "%lld",
		    (long long)c->cart[i].product_id);
		if (store_catalog_get(a->st, "productos_cache", idbuf, &json,
		    &f) == OV_OK && f && (o = cJSON_Parse(json)) != NULL)
			nm = cJSON_GetObjectItemCaseSensitive(o, "name");
		html_raw(h, "<li>");
		html_int(h, c->cart[i].qty);
		html_raw(h, " × ");
		if (cJSON_IsString(nm))
			html_text(h, nm->valuestring);
		else {
			html_raw(h, "producto ");
			html_text(h, idbuf);
		}
		html_raw(h, "</li>");
		cJSON_Delete(o);
		free(json);
	}
	if (c->ncart > 0)
		html_raw(h, "</ul>");
	html_raw(h, "</div>");
}

/* The inbox's link to a kept file. */
static void
media_href(const struct app *a, struct html *h, const char *id)
{
	html_attr(h, a->base);
	html_raw(h, "/media?id=");
	html_url(h, id);
}

/*
 * What the customer sent, in the transcript: the kept copy linked (a
 * photo as a thumbnail), a voice note's transcript ("🎤 …", in the body),
 * or why there is no copy. dir NULL: the media directory is unknown.
 */
static void
media_line(const struct app *a, struct html *h, const char *dir,
    const struct store_msg *m)
{
	const char *body = m->body != NULL && m->body[0] != '\0' ? m->body :
	    NULL;
	bool audio = strcmp(m->type, "audio") == 0;
	bool image = strcmp(m->type, "image") == 0 ||
	    strcmp(m->type, "sticker") == 0;
	bool video = strcmp(m->type, "video") == 0;
	bool kept = false;
	struct media_kept k;

	if (dir != NULL && m->media[0] != '\0')
		kept = media_keep_info(dir, m->media, &k) == OV_OK;
	if (audio) {
		/* Understood: the transcript as the body. */
		html_text(h, body != NULL ? body : "🎤 Audio");
	} else if (image || video) {
		html_raw(h, video ? "🎬 Video" : "📷 Imagen");
		if (body != NULL) {
			html_raw(h, ": ");
			html_text(h, body);
		}
	} else {
		const char *name = kept && k.filename[0] != '\0' ?
		    k.filename : body != NULL ? body : "Documento";

		html_raw(h, "📄 ");
		if (kept && !k.failed) {
			html_raw(h, "<a href=\"");
			media_href(a, h, k.id);
			html_raw(h, "\">");
			html_text(h, name);
			html_raw(h, "</a>");
		} else {
			html_text(h, name);
		}
		if (body != NULL && name != body) {
			html_raw(h, ": ");
			html_text(h, body);
		}
	}
	if (kept && k.failed) {
		char why[MEDIA_KEEP_WHY_MAX + MEDIA_KEEP_REF_MAX + 96];

		snprintf(why, sizeof(why), " · No se pudo descargar (%s; media "
		    "%s): miralo en el teléfono.", k.why, k.media_ref);
		html_text(h, why);
	} else if (kept && image) {
		html_raw(h, "<a href=\"");
		media_href(a, h, k.id);
		html_raw(h, "\"><img class=\"thumb\" src=\"");
		media_href(a, h, k.id);
		html_raw(h, "\" alt=\"Foto del cliente\"></a>");
	} else if (kept && audio) {
		html_raw(h, " · <a href=\"");
		media_href(a, h, k.id);
		html_raw(h, "\">Escuchar</a>");
	} else if (!kept && m->media[0] != '\0') {
		html_raw(h, " · (el archivo ya no está guardado)");
	} else if (audio && body == NULL) {
		html_raw(h, " (escuchalo en el teléfono)");
	}
}

static void
transcript(struct app *a, struct html *h, const char *key)
{
	struct store_msg *v = NULL;
	struct media_keep_conf kc;
	const char *dir = NULL;
	char err[256];
	size_t n = 0;

	if (media_keep_config(a->cfg, &kc, err, sizeof(err)) == OV_OK)
		dir = kc.dir;
	else
		log_warn("inbox: %s", err);
	if (store_history(a->st, key, HISTORY_ROWS, &v, &n) != OV_OK) {
		html_raw(h, "<p class=\"err\">No pudimos leer los mensajes.</p>");
		return;
	}
	html_raw(h, "<h2>Mensajes</h2>");
	if (n == 0)
		html_raw(h, "<p>Todavía no hay mensajes.</p>");
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = &v[i];
		char t[32], who[128];
		const char *agent = m->dir == STORE_OUT ?
		    outbound_agent(m, who, sizeof(who)) : NULL;

		fmt_time(m->ts, t, sizeof(t));
		html_raw(h, m->dir == STORE_IN ? "<div class=\"msg in\">" :
		    agent != NULL ? "<div class=\"msg agent\">" :
		    "<div class=\"msg out\">");
		html_raw(h, "<div class=\"meta\">");
		html_text(h, m->dir == STORE_IN ? "Cliente" : agent != NULL ?
		    agent : "Ovidio");
		html_raw(h, " · ");
		html_text(h, t);
		if (m->dir == STORE_OUT) {
			html_raw(h, " · ");
			html_text(h, status_es(m->status));
		}
		html_raw(h, "</div>");
		if (strcmp(m->type, "audio") == 0 ||
		    strcmp(m->type, "image") == 0 ||
		    strcmp(m->type, "sticker") == 0 ||
		    strcmp(m->type, "video") == 0 ||
		    strcmp(m->type, "document") == 0)
			media_line(a, h, dir, m);
		else
			html_text(h, m->body != NULL ? m->body : "");
		html_raw(h, "</div>");
	}
	store_msgs_free(v, n);
}

enum panel_prep { PANEL_READY = 0, PANEL_HANDED_OVER };

/* Whose account the panel may show (customer_lookup: the bot's rule) and
 * the invoices kept for it; asks Cianbox when they are due, or when
 * refresh (the "Actualizar" button). PANEL_HANDED_OVER: the lean build
 * gave the request to the full one, which answered it. */
static enum panel_prep
panel_prepare(struct app *a, const char *key, struct customer_identity *id,
    struct panel_invoices *pi, bool refresh)
{
	const struct cianbox_cliente *cl = &id->client;

	memset(pi, 0, sizeof(*pi));
	if (customer_lookup(a->st, key, id) != OV_OK) {
		log_warn("inbox: cannot tell whose account %s is", key);
		memset(id, 0, sizeof(*id));
	}
	pi->configured = cianbox_configured(a->cfg);
	pi->shown = id->have_client && id->verified &&
	    cl->numero_documento[0] != '\0';
	if (!pi->shown)
		return PANEL_READY;
	if (invoices_get(a->st, cl->id, &pi->kept, &pi->found) != OV_OK)
		pi->found = false;
	if (!pi->configured || (!refresh && !invoices_due(&pi->kept,
	    pi->found, cl->numero_documento, a->now)))
		return PANEL_READY;
#ifdef INBOX_LEAN
	hand_over(a);
	return PANEL_HANDED_OVER;
#else
	(void)invoices_fetch(a, cl, pi);
	return PANEL_READY;
#endif
}

static void
h_conv(struct app *a, const char *key)
{
	struct store_conv sc;
	struct store_customer cu;
	struct customer_identity id;
	struct panel_invoices pi;
	struct conv c;
	struct tmpl tp[TEMPLATES_MAX];
	struct cgi_query qs = { NULL, 0 };
	const char *ok = NULL;
	bool found = false, cfound = false, mine, window;
	char name[300], age[32];
	struct html h;
	size_t nt;

	memset(&sc, 0, sizeof(sc));
	memset(&cu, 0, sizeof(cu));
	if (store_conv_get(a->st, key, &sc, &found) != OV_OK) {
		message_page(a, 503, "No pudimos leer la conversación",
		    "Probá de nuevo en un rato.", a->base);
		return;
	}
	if (!found) {
		message_page(a, 404, "No existe esa conversación",
		    "Revisá el enlace.", a->base);
		return;
	}
	conv_init(&c, key);
	conv_from_store(&sc, &c);
	if (store_customer_get(a->st, key, &cu, &cfound) != OV_OK)
		cfound = false;
	display_name(cfound ? cu.name : NULL, &c, key, name, sizeof(name));
	if (cgi_query_parse(getenv("QUERY_STRING"), &qs) == OV_OK)
		(void)cgi_query_get(&qs, "ok", &ok);
	if (panel_prepare(a, key, &id, &pi, false) == PANEL_HANDED_OVER)
		goto out;

	html_init(&h, PAGE_MAX);
	page_start(a, &h, name, false);
	html_raw(&h, "<h1>");
	html_text(&h, name);
	html_raw(&h, "</h1><p class=\"meta\">+");
	html_text(&h, key);
	html_raw(&h, "</p>");
	if (ok != NULL) {
		static const char *const flashes[][2] = {
			{ "tomada", "Tomaste la conversación: Ovidio no responde "
			    "mientras la tengas." },
			{ "enviado", "Mensaje enviado." },
			{ "en-cola", "El mensaje quedó en cola: sale en cuanto "
			    "WhatsApp responda." },
			{ "devuelta", "La conversación volvió a Ovidio." },
			{ "pdf", "PDF enviado." },
			{ "plantilla", "Plantilla enviada." },
			{ "facturas", "Facturas actualizadas desde Cianbox." },
		};
		for (size_t i = 0; i < sizeof(flashes) / sizeof(flashes[0]); i++)
			if (strcmp(ok, flashes[i][0]) == 0) {
				html_raw(&h, "<p class=\"ok\">");
				html_text(&h, flashes[i][1]);
				html_raw(&h, "</p>");
			}
	}

	/* Who has it, and the actions. */
	mine = c.owner == CONV_OWNER_AGENT && c.owner_until > a->now &&
	    strcmp(c.agent, a->user) == 0;
	html_raw(&h, "<div class=\"panel\">");
	if (c.owner == CONV_OWNER_AGENT && c.owner_until > a->now) {
		fmt_age(c.owner_until - a->now, age, sizeof(age));
		if (strcmp(c.agent, INBOX_AGENT_HANDOFF) == 0)
			html_raw(&h, "<strong>Espera un vendedor.</strong> ");
		else if (mine)
			html_raw(&h, "<strong>La tenés vos.</strong> ");
		else {
			html_raw(&h, "<strong>La tiene ");
			html_text(&h, strcmp(c.agent, INBOX_AGENT_APP) == 0 ?
			    "la app WhatsApp Business" : c.agent);
			html_raw(&h, ".</strong> ");
		}
		html_raw(&h, "Ovidio no responde por ");
		html_text(&h, age);
		html_raw(&h, " más.<br>");
		if (!mine)
			action_button(a, &h, key, "tomar", "Tomar");
		action_button(a, &h, key, "devolver", "Devolver a Ovidio");
	} else {
		html_raw(&h, "<strong>Ovidio atiende esta conversación.</strong>"
		    "<br>");
		action_button(a, &h, key, "tomar", "Tomar");
	}
	html_raw(&h, "</div>");

	customer_panel(a, &h, key, &c, &id, &pi);
	transcript(a, &h, key);

	/* Reply, or the templates outside the 24-hour window. */
	window = sc.last_inbound > a->now - WINDOW_S;
	html_raw(&h, "<div class=\"panel\"><h2>Responder</h2>");
	if (window) {
		html_raw(&h, "<form method=\"post\" action=\"");
		html_attr(&h, a->base);
		html_raw(&h, "/c/");
		html_url(&h, key);
		html_raw(&h, "/responder\">");
		csrf_field(a, &h);
		html_raw(&h, "<label for=\"texto\">Mensaje (hasta 1000 "
		    "caracteres; tomás la conversación al enviar)</label>"
		    "<textarea id=\"texto\" name=\"texto\" maxlength=\"1000\" "
		    "required></textarea><button type=\"submit\">Enviar"
		    "</button></form>");
	} else {
		nt = templates(a->cfg, tp, TEMPLATES_MAX);
		html_raw(&h, "<p class=\"err\">Pasaron más de 24 horas desde el "
		    "último mensaje del cliente: WhatsApp solo deja enviar "
		    "plantillas aprobadas hasta que vuelva a escribir.</p>");
		if (nt == 0)
			html_raw(&h, "<p>No hay plantillas configuradas "
			    "(INBOX_TEMPLATES).</p>");
		for (size_t i = 0; i < nt; i++) {
			html_raw(&h, "<form method=\"post\" action=\"");
			html_attr(&h, a->base);
			html_raw(&h, "/c/");
			html_url(&h, key);
			html_raw(&h, "/plantilla\">");
			csrf_field(a, &h);
			html_raw(&h, "<input type=\"hidden\" name=\"nombre\" "
			    "value=\"");
			html_attr(&h, tp[i].name);
			html_raw(&h, "\"><button type=\"submit\">");
			html_text(&h, tp[i].label);
			html_raw(&h, "</button></form><br>");
		}
	}
	html_raw(&h, "</div>");
	page_end(&h);
	send_html(a, 200, &h);
	html_free(&h);
out:
	cgi_query_free(&qs);
	store_conv_clear(&sc);
	store_customer_clear(&cu);
}

/* ---- actions ------------------------------------------------------------ */

static bool
own(struct app *a, const char *key, enum inbox_act act)
{
	char who[STORE_HOLDER_MAX + 1];
	char back[300];
	int rc;

	snprintf(back, sizeof(back), "%s/c/%s", a->base, key);
	rc = inbox_own(a->st, key, a->user, act, a->now, a->hours, who,
	    sizeof(who));
	if (rc == OV_OK)
		return true;
	if (rc == OV_EBUSY && who[0] != '\0') {
		char text[200];

		snprintf(text, sizeof(text), "La tiene %s. Pedile que la "
		    "devuelva, o esperá a que pase su tiempo.", who);
		message_page(a, 409, "Otro vendedor tomó la conversación", text,
		    back);
	} else if (rc == OV_EBUSY) {
		message_page(a, 409, "Ovidio está respondiendo",
		    "Probá de nuevo en unos segundos.", back);
	} else if (rc == OV_ENOTFOUND) {
		message_page(a, 404, "No existe esa conversación",
		    "Revisá el enlace.", a->base);
	} else {
		message_page(a, 503, "No pudimos guardar el cambio",
		    "Probá de nuevo en un rato.", back);
	}
	return false;
}

static void
a_take(struct app *a, const char *key)
{
	if (own(a, key, INBOX_TAKE))
		redirect(a, key, "tomada");
}

static void
a_give_back(struct app *a, const char *key)
{
	if (own(a, key, INBOX_GIVE_BACK))
		redirect(a, key, "devuelta");
}

#ifndef INBOX_LEAN
/* "Actualizar las facturas": ask Cianbox now, whatever the kept copy's
 * age; the page then shows the new copy, or the failure beside the old. */
static void
a_invoices(struct app *a, const char *key)
{
	struct customer_identity id;
	struct panel_invoices pi;
	char back[300];

	snprintf(back, sizeof(back), "%s/c/%s", a->base, key);
	(void)panel_prepare(a, key, &id, &pi, true);
	if (!pi.shown) {
		message_page(a, 403, "No hay facturas para mostrar", "Las "
		    "facturas se muestran solo de un cliente cuyo WhatsApp "
		    "figura en su cuenta de Cianbox.", back);
		return;
	}
	if (!pi.configured) {
		message_page(a, 503, "Cianbox no está configurado", "No podemos "
		    "traer las facturas.", back);
		return;
	}
	redirect(a, key, pi.found && pi.kept.failed_at == 0 ?
	    "facturas" : NULL);
}
#endif

#ifndef INBOX_LEAN
/* An entry in the agent lane, committed, then sent at once. */
static int
queue_and_flush(struct app *a, const char *key, const char *kind,
    const cJSON *payload, bool *sent)
{
	struct wa_client wa;
	struct outbox ob;
	struct store_outbox e;
	char err[256];
	size_t nsent = 0, left = 0;
	int rc;

	*sent = false;
	memset(&e, 0, sizeof(e));
	if ((rc = wa_client_init(&wa, a->cfg, err, sizeof(err))) != OV_OK) {
		log_error("inbox: %s", err);
		return rc;
	}
	if ((rc = outbox_init(&ob, a->cfg, a->st, &wa, err, sizeof(err))) !=
	    OV_OK) {
		log_error("inbox: %s", err);
		goto out;
	}
	if ((rc = outbox_entry(&ob, key, STORE_LANE_AGENT, kind, payload, NULL,
	    &e)) != OV_OK || (rc = store_outbox_put(a->st, &e)) != OV_OK)
		goto out;
	if (outbox_flush_for(&ob, key, &nsent, &left) == OV_OK && left == 0)
		*sent = true;
out:
	store_outbox_clear(&e);
	wa_client_free(&wa);
	return rc;
}
#endif

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decode s[0..n) (application/x-www-form-urlencoded) into out (cap bytes
 * and a NUL). OV_EINVAL for a bad escape or a NUL, OV_ETOOBIG over cap. */
static int
form_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return OV_EINVAL;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0)
			return OV_EINVAL;
		if (o == cap)
			return OV_ETOOBIG;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return OV_OK;
}

/* The form's fields: at most FORM_FIELDS_MAX, names FORM_NAME_MAX, values
 * FORM_VALUE_MAX bytes once decoded. */
static int
form_parse(const char *body, struct form *f)
{
	const char *p = body;
	int rc;

	while (*p != '\0') {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t nl = eq != NULL ? (size_t)(eq - p) : len;

		if (len == 0) {
			p++;
			continue;
		}
		if (f->n == FORM_FIELDS_MAX)
			return OV_ETOOBIG;
		if (nl == 0 || nl > FORM_NAME_MAX * 3)
			return OV_EINVAL;
		if ((rc = form_decode(p, nl, f->name[f->n], FORM_NAME_MAX)) !=
		    OV_OK)
			return rc == OV_ETOOBIG ? OV_EINVAL : rc;
		if ((f->value[f->n] = malloc(FORM_VALUE_MAX + 1)) == NULL)
			return OV_ENOMEM;
		f->n++;
		rc = eq != NULL ? form_decode(eq + 1, len - nl - 1,
		    f->value[f->n - 1], FORM_VALUE_MAX) :
		    form_decode("", 0, f->value[f->n - 1], FORM_VALUE_MAX);
		if (rc != OV_OK)
			return rc;
		p += len;
		if (*p == '&')
			p++;
	}
	return OV_OK;
}

static void
form_free(struct form *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->value[i]);
	f->n = 0;
}

#ifndef INBOX_LEAN
/* Characters (code points) of valid UTF-8 s. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}
#endif

static const char *
field(struct app *a, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < a->form.n; i++)
		if (strcmp(a->form.name[i], name) == 0) {
			if (v != NULL)
				return NULL;   /* twice: ambiguous, refused */
			v = a->form.value[i];
		}
	return v;
}

#ifndef INBOX_LEAN
static void
a_reply(struct app *a, const char *key)
{
	const char *text = field(a, "texto");
	char back[300];
	struct store_conv sc;
	bool found = false, sent = false;
	cJSON *p;
	int rc;

	snprintf(back, sizeof(back), "%s/c/%s", a->base, key);
	if (text == NULL || text[strspn(text, " \t\r\n")] == '\0') {
		message_page(a, 400, "Falta el mensaje", "Escribí algo para "
		    "enviar.", back);
		return;
	}
	if (wa_utf8_valid(text, strlen(text)) != 1 ||
	    utf8_chars(text) > REPLY_CHARS_MAX) {
		message_page(a, 400, "Mensaje inválido", "El mensaje puede tener "
		    "hasta 1000 caracteres de texto.", back);
		return;
	}
	memset(&sc, 0, sizeof(sc));
	if (store_conv_get(a->st, key, &sc, &found) != OV_OK || !found) {
		message_page(a, 404, "No existe esa conversación",
		    "Revisá el enlace.", a->base);
		return;
	}
	if (sc.last_inbound <= a->now - WINDOW_S) {
		store_conv_clear(&sc);
		message_page(a, 409, "Fuera de la ventana de 24 horas",
		    "El cliente no escribe hace más de 24 horas: usá una "
		    "plantilla.", back);
		return;
	}
	store_conv_clear(&sc);
	/* Replying takes the conversation (or moves this user's hold). */
	if (!own(a, key, INBOX_TAKE))
		return;
	if ((p = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(p, "text", text) == NULL ||
	    cJSON_AddStringToObject(p, "agent", a->user) == NULL) {
		cJSON_Delete(p);
		message_page(a, 500, "Error interno", "Sin memoria.", back);
		return;
	}
	rc = queue_and_flush(a, key, "text", p, &sent);
	cJSON_Delete(p);
	if (rc != OV_OK) {
		message_page(a, 503, "No pudimos enviar el mensaje",
		    "Probá de nuevo en un rato.", back);
		return;
	}
	log_info("inbox: %s replied to %s", a->user, key);
	redirect(a, key, sent ? "enviado" : "en-cola");
}

static void
a_pdf(struct app *a, const char *key)
{
	struct store_quote rec;
	struct quote q;
	struct quote_pdf_brand *brand = NULL;
	const char *dir = config_get(a->cfg, "PRESUPUESTOS_DIR");
	char back[300], path[1024], filename[64], caption[128], link[128];
	bool found = false, sent = false;
	cJSON *p = NULL;
	int rc;

	snprintf(back, sizeof(back), "%s/c/%s", a->base, key);
	memset(&rec, 0, sizeof(rec));
	quote_init(&q);
	if (store_quote_pending_for(a->st, key, &rec, &found) != OV_OK ||
	    !found) {
		message_page(a, 404, "No hay presupuesto abierto",
		    "Este cliente no tiene un presupuesto pendiente.", back);
		goto out;
	}
	if (dir == NULL || quote_from_record(&rec, &q) != OV_OK ||
	    quote_pdf_brand_load(a->cfg, &brand) != OV_OK ||
	    quote_pdf_save(&q, brand, dir) != OV_OK ||
	    quote_file_path(dir, q.id, path, sizeof(path)) != OV_OK) {
		message_page(a, 503, "No pudimos armar el PDF",
		    "Probá de nuevo en un rato.", back);
		goto out;
	}
	if (!own(a, key, INBOX_TAKE))
		goto out;
	snprintf(filename, sizeof(filename), "Presupuesto-%lld.pdf",
	    (long long)q.number);
	snprintf(caption, sizeof(caption), "Presupuesto N.º %lld",
	    (long long)q.number);
	snprintf(link, sizeof(link), "/cgi-bin/presupuesto/%s.pdf", q.id);
	if ((p = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(p, "path", path) == NULL ||
	    cJSON_AddStringToObject(p, "filename", filename) == NULL ||
	    cJSON_AddStringToObject(p, "caption", caption) == NULL ||
	    cJSON_AddStringToObject(p, "link_path", link) == NULL ||
	    cJSON_AddStringToObject(p, "agent", a->user) == NULL) {
		message_page(a, 500, "Error interno", "Sin memoria.", back);
		goto out;
	}
	rc = queue_and_flush(a, key, "pdf", p, &sent);
	if (rc != OV_OK) {
		message_page(a, 503, "No pudimos enviar el PDF",
		    "Probá de nuevo en un rato.", back);
		goto out;
	}
	log_info("inbox: %s sent quote %lld to %s", a->user,
	    (long long)q.number, key);
	redirect(a, key, sent ? "pdf" : "en-cola");
out:
	cJSON_Delete(p);
	quote_pdf_brand_free(brand);
	quote_clear(&q);
	store_quote_clear(&rec);
}

static void
a_template(struct app *a, const char *key)
{
	const char *name = field(a, "nombre");
	struct tmpl tp[TEMPLATES_MAX];
	struct wa_client wa;
	struct wa_result res;
	struct store_msg m;
	char back[300], err[256], raw[160];
	size_t nt = templates(a->cfg, tp, TEMPLATES_MAX), i;

	snprintf(back, sizeof(back), "%s/c/%s", a->base, key);
	for (i = 0; name != NULL && i < nt; i++)
		if (strcmp(tp[i].name, name) == 0)
			break;
	if (name == NULL || i == nt) {
		message_page(a, 400, "Plantilla desconocida",
		    "Elegí una de las plantillas configuradas.", back);
		return;
	}
	if (!own(a, key, INBOX_TAKE))
		return;
	if (wa_client_init(&wa, a->cfg, err, sizeof(err)) != OV_OK) {
		log_error("inbox: %s", err);
		message_page(a, 503, "WhatsApp no está configurado", err, back);
		return;
	}
	/* Templates go straight out (the outbox knows no template kind);
	 * recorded in the history as the salesperson's. */
	memset(&res, 0, sizeof(res));
	if (wa_send_template(&wa, key, tp[i].name, NULL, NULL, 0, &res) !=
	    OV_OK || res.nparts == 0) {
		wa_client_free(&wa);
		message_page(a, 502, "WhatsApp no aceptó la plantilla",
		    res.error[0] != '\0' ? res.error : "Probá de nuevo.", back);
		return;
	}
	wa_client_free(&wa);
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", res.parts[0].wamid);
	snprintf(m.wa_id, sizeof(m.wa_id), "%s", key);
	m.dir = STORE_OUT;
	m.ts = (int64_t)time(NULL);
	snprintf(m.type, sizeof(m.type), "template");
	snprintf(m.status, sizeof(m.status), "pending");
	m.body = tp[i].label;
	snprintf(raw, sizeof(raw), "{\"agent\":\"%s\"}", a->user);
	m.raw = raw;
	if (store_outbound_put(a->st, &m) != OV_OK)
		log_error("inbox: template to %s sent but not recorded", key);
	redirect(a, key, "plantilla");
}
#endif

/* ---- status page -------------------------------------------------------- */

struct spool_count {
	size_t n;
	int64_t oldest;   /* mtime; 0: none */
};

static void
count_dir(const char *dir, struct spool_count *c)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat sb;
	char path[1400];

	memset(c, 0, sizeof(*c));
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.' || (len > 4 &&
		    strcmp(e->d_name + len - 4, ".why") == 0))
			continue;
		c->n++;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &sb) == 0 && (c->oldest == 0 ||
		    sb.st_mtime < c->oldest))
			c->oldest = (int64_t)sb.st_mtime;
	}
	closedir(d);
}

/* The reason kept beside a failed file (<name>.why), first line. */
static void
failed_reason(const char *dir, const char *name, char *buf, size_t len)
{
	char path[1400];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s.why", dir, name);
	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	fclose(f);
}

static void
status_line(struct app *a, struct html *h, const char *label,
    const char *file)
{
	int64_t when = 0;
	bool found = false;
	char text[256], t[32], age[32];

	html_raw(h, "<tr><th>");
	html_text(h, label);
	html_raw(h, "</th><td>");
	if (status_file_read(a->cfg, file, &when, text, sizeof(text),
	    &found) == OV_OK && found) {
		fmt_time(when, t, sizeof(t));
		fmt_age(a->now - when, age, sizeof(age));
		html_text(h, t);
		html_raw(h, " (hace ");
		html_text(h, age);
		html_raw(h, ") ");
		html_text(h, text);
	} else {
		html_raw(h, "nunca");
	}
	html_raw(h, "</td></tr>");
}

/* Error lines of the last 24 hours from the worker's log (its tail). */
static void
error_lines(struct app *a, struct html *h, const char *data)
{
	char path[1024], *buf = NULL, *line, *next;
	const char *lines[ERROR_LINES];
	size_t nl = 0, total = 0;
	struct stat sb;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "%s/log/worker.log", data);
	html_raw(h, "<h2>Errores de las últimas 24 h</h2>");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		html_raw(h, "<p>Sin registro del worker.</p>");
		return;
	}
	if ((buf = malloc(LOG_TAIL + 1)) == NULL) {
		close(fd);
		return;
	}
	if (sb.st_size > LOG_TAIL)
		(void)lseek(fd, sb.st_size - LOG_TAIL, SEEK_SET);
	while (total < LOG_TAIL && (got = read(fd, buf + total,
	    LOG_TAIL - total)) > 0)
		total += (size_t)got;
	close(fd);
	buf[total] = '\0';
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		struct tm tm;
		char *end;
		time_t t;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';

		if (strstr(line, " error: ") == NULL)
			continue;
		memset(&tm, 0, sizeof(tm));
		end = strptime(line, "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (end == NULL || (t = timegm(&tm)) < (time_t)(a->now - 86400))
			continue;
		if (nl == ERROR_LINES) {
			memmove(lines, lines + 1, (ERROR_LINES - 1) *
			    sizeof(lines[0]));
			nl--;
		}
		lines[nl++] = line;
	}
	if (nl == 0)
		html_raw(h, "<p>Ninguno.</p>");
	else
		html_raw(h, "<pre>");
	for (size_t i = 0; i < nl; i++) {
		html_text(h, lines[i]);
		html_raw(h, "\n");
	}
	if (nl > 0)
		html_raw(h, "</pre>");
	free(buf);
}

static void
h_status(struct app *a, const char *rest)
{
	const char *data = config_get(a->cfg, "OVIDIO_DATA_DIR");
	static const char *const subs[] = { "new", "cur", "failed" };
	struct spool_count sc[3];
	struct store_inbox_stats stats;
	struct cgi_query qs = { NULL, 0 };
	const char *ok = NULL;
	char dir[1100], t[32], age[32], *tok = NULL;
	int64_t n = 0, since, exp = 0;
	struct tm tm;
	time_t tt = (time_t)a->now;
	bool found = false;
	struct html h;
	int rc;

	(void)rest;
	localtime_r(&tt, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	since = (int64_t)mktime(&tm);
	html_init(&h, PAGE_MAX);
	page_start(a, &h, "Estado", false);
	html_raw(&h, "<h1>Estado de Ovidio</h1>");
	if (cgi_query_parse(getenv("QUERY_STRING"), &qs) == OV_OK &&
	    cgi_query_get(&qs, "ok", &ok) == OV_OK) {
		html_raw(&h, "<p class=\"ok\">");
		html_text(&h, strcmp(ok, "sync") == 0 ? "Sincronización pedida: "
		    "la hace la próxima corrida del cron." : strcmp(ok,
		    "reintento") == 0 ? "El archivo vuelve a procesarse en la "
		    "próxima corrida del worker." : "Listo.");
		html_raw(&h, "</p>");
	}
	cgi_query_free(&qs);

	html_raw(&h, "<table>");
	for (size_t i = 0; i < 3; i++) {
		snprintf(dir, sizeof(dir), "%s/spool/%s", data, subs[i]);
		count_dir(dir, &sc[i]);
		html_raw(&h, "<tr><th>Spool ");
		html_text(&h, subs[i]);
		html_raw(&h, "</th><td>");
		html_int(&h, (int64_t)sc[i].n);
		if (sc[i].oldest > 0) {
			fmt_age(a->now - sc[i].oldest, age, sizeof(age));
			html_raw(&h, " (el más viejo: hace ");
			html_text(&h, age);
			html_raw(&h, ")");
		}
		html_raw(&h, "</td></tr>");
	}
	rc = store_inbox_stats(a->st, since, a->now, &stats);
	if (rc == OV_OK) {
		html_raw(&h, "<tr><th>Outbox</th><td>");
		html_int(&h, stats.outbox_due);
		html_raw(&h, " para enviar, ");
		html_int(&h, stats.outbox_retrying);
		html_raw(&h, " reintentando, ");
		html_int(&h, stats.msgs_failed);
		html_raw(&h, " abandonados o rechazados hoy</td></tr>"
		    "<tr><th>Mensajes hoy</th><td>");
		html_int(&h, stats.msgs_in);
		html_raw(&h, " recibidos, ");
		html_int(&h, stats.msgs_out);
		html_raw(&h, " enviados</td></tr><tr><th>Demora de respuesta "
		    "hoy</th><td>");
		if (stats.latency_p50 < 0) {
			html_raw(&h, "sin datos");
		} else {
			html_raw(&h, "p50 ");
			html_int(&h, stats.latency_p50);
			html_raw(&h, " s · p99 ");
			html_int(&h, stats.latency_p99);
			html_raw(&h, " s");
		}
		html_raw(&h, "</td></tr>");
	} else {
		html_raw(&h, "<tr><th>Base de datos</th><td class=\"err\">no "
		    "responde</td></tr>");
	}
	status_line(a, &h, "Última corrida del worker", "worker.last");
	status_line(a, &h, "Última sincronización de productos",
	    "sync-products.last");
	if (store_catalog_count(a->st, "productos_cache", &n) == OV_OK) {
		html_raw(&h, "<tr><th>Productos en el catálogo</th><td>");
		html_int(&h, n);
		html_raw(&h, "</td></tr>");
	}
	status_line(a, &h, "Última sincronización de clientes",
	    "sync-clients.last");
	if (store_catalog_count(a->st, "clientes_cianbox", &n) == OV_OK) {
		html_raw(&h, "<tr><th>Clientes sincronizados</th><td>");
		html_int(&h, n);
		html_raw(&h, "</td></tr>");
	}
	html_raw(&h, "<tr><th>Token de Cianbox</th><td>");
	if (store_token_get(a->st, CIANBOX_TOKEN_NAME, &tok, &exp, &found) ==
	    OV_OK && found) {
		fmt_time(exp, t, sizeof(t));
		html_raw(&h, exp > a->now ? "vence " : "<strong>vencido</strong> ");
		html_text(&h, t);
	} else {
		html_raw(&h, "no hay");
	}
	free(tok);   /* never shown */
	html_raw(&h, "</td></tr>");
	if (status_file_read(a->cfg, "sync.request", &exp, NULL, 0, &found) ==
	    OV_OK && found)
		html_raw(&h, "<tr><th>Sincronización pedida</th><td>esperando "
		    "al cron</td></tr>");
	html_raw(&h, "</table>");

	html_raw(&h, "<p><form method=\"post\" action=\"");
	html_attr(&h, a->base);
	html_raw(&h, "/estado/sincronizar\">");
	csrf_field(a, &h);
	html_raw(&h, "<button type=\"submit\">Sincronizar el catálogo ahora"
	    "</button></form></p>");

	/* Failed spool files with their reasons and a retry each. */
	html_raw(&h, "<h2>Archivos fallidos</h2>");
	snprintf(dir, sizeof(dir), "%s/spool/failed", data);
	{
		DIR *d = opendir(dir);
		struct dirent *e;
		size_t shown = 0;

		while (d != NULL && (e = readdir(d)) != NULL &&
		    shown < FAILED_LISTED) {
			char why[256];
			size_t len = strlen(e->d_name);

			if (e->d_name[0] == '.' || (len > 4 &&
			    strcmp(e->d_name + len - 4, ".why") == 0))
				continue;
			failed_reason(dir, e->d_name, why, sizeof(why));
			html_raw(&h, "<div class=\"panel\"><code>");
			html_text(&h, e->d_name);
			html_raw(&h, "</code><br>");
			html_text(&h, why[0] != '\0' ? why : "(sin motivo guardado)");
			html_raw(&h, "<br><form method=\"post\" action=\"");
			html_attr(&h, a->base);
			html_raw(&h, "/estado/reintentar\">");
			csrf_field(a, &h);
			html_raw(&h, "<input type=\"hidden\" name=\"archivo\" "
			    "value=\"");
			html_attr(&h, e->d_name);
			html_raw(&h, "\"><button type=\"submit\">Reintentar"
			    "</button></form></div>");
			shown++;
		}
		if (d != NULL)
			closedir(d);
		if (shown == 0)
			html_raw(&h, "<p>Ninguno.</p>");
	}
	error_lines(a, &h, data);
	page_end(&h);
	send_html(a, 200, &h);
	html_free(&h);
}

static void
a_retry(struct app *a, const char *rest)
{
	const char *name = field(a, "archivo");
	const char *data = config_get(a->cfg, "OVIDIO_DATA_DIR");
	char from[1200], to[1200], why[1300];
	char back[300];
	size_t len;

	(void)rest;
	snprintf(back, sizeof(back), "%s/estado", a->base);
	len = name != NULL ? strnlen(name, SPOOL_NAME_MAX) : 0;
	if (len == 0 || len >= SPOOL_NAME_MAX || name[0] == '.' ||
	    strchr(name, '/') != NULL) {
		message_page(a, 400, "Archivo inválido", "Ese nombre no es de "
		    "un archivo del spool.", back);
		return;
	}
	snprintf(from, sizeof(from), "%s/spool/failed/%s", data, name);
	snprintf(to, sizeof(to), "%s/spool/new/%s", data, name);
	if (access(to, F_OK) == 0 || rename(from, to) != 0) {
		message_page(a, 404, "No está ese archivo",
		    "Quizás ya se reintentó.", back);
		return;
	}
	snprintf(why, sizeof(why), "%s.why", from);
	(void)unlink(why);
	log_info("inbox: %s retried spool file %s", a->user, name);
	redirect(a, NULL, "reintento");
}

static void
a_sync(struct app *a, const char *rest)
{
	char text[96];

	(void)rest;
	snprintf(text, sizeof(text), "by %s", a->user);
	if (status_file_write(a->cfg, "sync.request", a->now, text) != OV_OK) {
		message_page(a, 503, "No pudimos pedir la sincronización",
		    "Revisá los permisos del directorio de datos.", NULL);
		return;
	}
	log_info("inbox: %s asked for a catalog sync", a->user);
	redirect(a, NULL, "sync");
}

/* ---- a customer's file ---------------------------------------------------- */

/*
 * GET /media?id=<id>: what a customer sent, kept by the worker. Its type
 * comes from an allow-list (else application/octet-stream), a document is
 * downloaded (attachment), a photo or voice note may be shown; nothing
 * the customer sent runs here (CSP sandbox, no scripts, nosniff).
 */
static void
h_media(struct app *a, const char *rest)
{
	static const char csp[] = "sandbox; default-src 'none'; img-src "
	    "'self'; media-src 'self'; style-src 'unsafe-inline'";
	struct cgi_query q = { NULL, 0 };
	struct media_keep_conf kc;
	struct media_kept k;
	struct stat sb;
	const char *id = NULL, *method = getenv("REQUEST_METHOD");
	char err[256], type[128], disp[1024], text[MEDIA_KEEP_WHY_MAX +
	    MEDIA_KEEP_REF_MAX + 128];
	int fd = -1, rc;

	(void)rest;
	if (cgi_query_parse(getenv("QUERY_STRING"), &q) != OV_OK ||
	    cgi_query_get(&q, "id", &id) != OV_OK || !uuid_v4_valid(id)) {
		message_page(a, 404, "No existe ese archivo", "Revisá el "
		    "enlace.", a->base);
		goto out;
	}
	if (media_keep_config(a->cfg, &kc, err, sizeof(err)) != OV_OK) {
		log_error("inbox: %s", err);
		message_page(a, 500, "Falta configurar el inbox", err, a->base);
		goto out;
	}
	rc = media_keep_open(kc.dir, id, &k, &fd, &sb);
	if (rc == OV_ENOTFOUND) {
		message_page(a, 404, "Ese archivo ya no está", "Los archivos de "
		    "los clientes se guardan unos días; pedíselo de nuevo por "
		    "WhatsApp.", a->base);
		goto out;
	}
	if (rc != OV_OK) {
		message_page(a, 503, "No pudimos abrir el archivo", "Probá de "
		    "nuevo en un rato.", a->base);
		goto out;
	}
	if (k.failed) {
		snprintf(text, sizeof(text), "WhatsApp no lo entregó (%s; media "
		    "%s): miralo en el teléfono.", k.why, k.media_ref);
		message_page(a, 404, "No se pudo descargar este archivo", text,
		    a->base);
		goto out;
	}
	media_keep_serve_as(&k, type, sizeof(type), disp, sizeof(disp));
	{
		const struct cgi_header hd[] = {
			{ "Content-Disposition", disp },
			{ "Content-Security-Policy", csp },
			{ "X-Frame-Options", "DENY" },
			{ "Referrer-Policy", "same-origin" },
		};

		if (cgi_respond_head(stdout, 200, type, hd, sizeof(hd) /
		    sizeof(hd[0]), (uint64_t)sb.st_size) != OV_OK) {
			log_error("inbox: media %s: headers refused", id);
			message_page(a, 500, "No pudimos mandar el archivo",
			    "Probá de nuevo en un rato.", a->base);
			goto out;
		}
	}
	log_info("inbox: %s opened media %s", a->user, id);
	if (method != NULL && strcmp(method, "HEAD") == 0)
		goto out;
	if (fdio_copy_out(fd, sb.st_size, stdout) != OV_OK)
		log_error("inbox: media %s cut short while sending", id);
out:
	if (fd >= 0)
		close(fd);
	cgi_query_free(&q);
}

/* ---- dispatch ----------------------------------------------------------- */

#ifdef INBOX_LEAN
#define FULL(fn) NULL      /* handed to the full build */
#else
#define FULL(fn) fn
#endif

/* Conversation routes: /c/<key>[/<action>]. full: the route needs what
 * the lean build leaves out (WhatsApp, libharu, Cianbox). */
static const struct conv_route {
	const char *action;    /* "" for the page */
	bool post;
	bool full;
	void (*run)(struct app *, const char *key);
} conv_routes[] = {
	{ "", false, false, h_conv },
	{ "tomar", true, false, a_take },
	{ "responder", true, true, FULL(a_reply) },
	{ "plantilla", true, true, FULL(a_template) },
	{ "pdf", true, true, FULL(a_pdf) },
	{ "devolver", true, false, a_give_back },
	{ "facturas", true, true, FULL(a_invoices) },
};

static const struct route {
	const char *path;
	bool post;
	void (*run)(struct app *, const char *rest);
} routes[] = {
	{ "", false, h_list },
	{ "/", false, h_list },
	{ "/estado", false, h_status },
	{ "/estado/reintentar", true, a_retry },
	{ "/estado/sincronizar", true, a_sync },
	{ "/media", false, h_media },
};

/* Origin (else Referer) must be this site: scheme://HTTP_HOST. */
static bool
same_origin(void)
{
	const char *host = getenv("HTTP_HOST");
	const char *https = getenv("HTTPS");
	const char *origin = getenv("HTTP_ORIGIN");
	const char *ref = getenv("HTTP_REFERER");
	char want[300];
	size_t n;

	if (host == NULL || host[0] == '\0' || strlen(host) > 255)
		return false;
	n = (size_t)snprintf(want, sizeof(want), "%s://%s",
	    https != NULL && strcasecmp(https, "on") == 0 ? "https" : "http",
	    host);
	if (origin != NULL && origin[0] != '\0')
		return strcmp(origin, want) == 0;
	return ref != NULL && strncmp(ref, want, n) == 0 && ref[n] == '/';
}

/* Read a POST's form; false (answered) when it must not run. */
static bool
post_ok(struct app *a)
{
	const char *ct = getenv("CONTENT_TYPE"), *token = NULL;
	uint64_t len = 0;
	size_t got = 0;
	char *body = NULL;
	int rc;

	if (!same_origin()) {
		cgi_drain_body(STDIN_FILENO, BODY_MAX);
		log_warn("inbox: %s: POST from another origin refused", a->user);
		message_page(a, 403, "Pedido rechazado", "El formulario no "
		    "viene de esta página.", a->base);
		return false;
	}
	if (ct == NULL || strncmp(ct, "application/x-www-form-urlencoded",
	    33) != 0) {
		cgi_drain_body(STDIN_FILENO, BODY_MAX);
		message_page(a, 415, "Formulario inválido", "Enviá el formulario "
		    "desde la página.", a->base);
		return false;
	}
	rc = cgi_content_length(getenv("CONTENT_LENGTH"), &len);
	if (rc == OV_OK)
		rc = cgi_read_body(STDIN_FILENO, len, BODY_MAX, &body, &got);
	if (rc == OV_ETOOBIG) {
		cgi_drain_body(STDIN_FILENO, 4u * 1024 * 1024);
		message_page(a, 413, "Mensaje demasiado largo", "El mensaje "
		    "puede tener hasta 1000 caracteres.", a->base);
		return false;
	}
	if (rc != OV_OK) {
		message_page(a, 400, "Formulario inválido", "No pudimos leer el "
		    "formulario.", a->base);
		return false;
	}
	rc = form_parse(body, &a->form);
	free(body);
	if (rc == OV_ETOOBIG) {
		message_page(a, 413, "Mensaje demasiado largo", "El mensaje "
		    "puede tener hasta 1000 caracteres.", a->base);
		return false;
	}
	if (rc != OV_OK) {
		message_page(a, 400, "Formulario inválido", "No pudimos leer el "
		    "formulario.", a->base);
		return false;
	}
	if (a->secret == NULL) {
		message_page(a, 503, "Falta configurar el inbox", "Definí "
		    "INBOX_SECRET en la configuración.", a->base);
		return false;
	}
	if ((token = field(a, "csrf")) == NULL ||
	    !inbox_csrf_ok(a->secret, a->user, token)) {
		log_warn("inbox: %s: POST without a valid CSRF token refused",
		    a->user);
		message_page(a, 403, "Pedido rechazado", "El formulario venció o "
		    "no es tuyo: volvé a abrir la página.", a->base);
		return false;
	}
	return true;
}

static void
dispatch(struct app *a, enum cgi_method m)
{
	const char *pi = getenv("PATH_INFO");
	bool post = m == CGI_METHOD_POST;

	if (pi == NULL)
		pi = "";
	if (strnlen(pi, 512) == 512) {
		message_page(a, 404, "No existe esa página", "Revisá el enlace.",
		    a->base);
		return;
	}
	if (strncmp(pi, "/c/", 3) == 0) {
		const char *key = pi + 3, *slash = strchr(key, '/');
		size_t kl = slash != NULL ? (size_t)(slash - key) : strlen(key);
		const char *act = slash != NULL ? slash + 1 : "";
		char k[STORE_WAID_MAX + 1];

		if (!key_ok(key, kl)) {
			message_page(a, 404, "No existe esa conversación",
			    "Revisá el enlace.", a->base);
			return;
		}
		memcpy(k, key, kl);
		k[kl] = '\0';
		for (size_t i = 0; i < sizeof(conv_routes) /
		    sizeof(conv_routes[0]); i++) {
			if (strcmp(act, conv_routes[i].action) != 0)
				continue;
			if (conv_routes[i].post != post) {
				message_page(a, 405, "Método no permitido",
				    post ? "Esta página solo se lee." :
				    "Los cambios se hacen con los botones.",
				    a->base);
				return;
			}
#ifdef INBOX_LEAN
			if (conv_routes[i].full) {
				hand_over(a);
				return;
			}
#endif
			if (post && !post_ok(a))
				return;
			conv_routes[i].run(a, k);
			return;
		}
	} else {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			if (strcmp(pi, routes[i].path) != 0)
				continue;
			if (routes[i].post != post) {
				message_page(a, 405, "Método no permitido",
				    post ? "Esta página solo se lee." :
				    "Los cambios se hacen con los botones.",
				    a->base);
				return;
			}
			if (post && !post_ok(a))
				return;
			routes[i].run(a, pi);
			return;
		}
	}
	message_page(a, 404, "No existe esa página", "Revisá el enlace.",
	    a->base);
}

static void
base64(const uint8_t *in, size_t n, char *out)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
}

int
main(void)
{
	struct app a;
	struct config *cfg = NULL;
	enum cgi_method m = cgi_method();
	const char *user = getenv("REMOTE_USER"), *sn = getenv("SCRIPT_NAME");
	uint8_t digest[SHA256_DIGEST_LEN];
	char err[256], b64[64];
	int rc, status = 0;

	log_init("inbox");
	memset(&a, 0, sizeof(a));
	/* Never open customer data without Apache's authentication. */
	if (user == NULL || user[0] == '\0') {
		log_error("inbox: no REMOTE_USER: Apache authentication is not "
		    "configured for %s; refusing", sn != NULL ? sn : "inbox");
		cgi_drain_body(STDIN_FILENO, BODY_MAX);
		bare(403, "Acceso denegado: falta la autenticación de Apache.\n");
		return 0;
	}
	if (!inbox_user_ok(user)) {
		log_warn("inbox: unusable user name refused");
		cgi_drain_body(STDIN_FILENO, BODY_MAX);
		bare(403, "Acceso denegado: nombre de usuario inválido.\n");
		return 0;
	}
	if (m != CGI_METHOD_GET && m != CGI_METHOD_POST &&
	    m != CGI_METHOD_HEAD) {
		cgi_drain_body(STDIN_FILENO, BODY_MAX);
		bare(405, "Método no permitido.\n");
		return 0;
	}
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg, err, sizeof(err)) != OV_OK) {
		log_error("inbox: %s", err);
		cgi_drain_body(STDIN_FILENO, BODY_MAX);
		bare(500, "Error de configuración.\n");
		config_free(cfg);
		return 0;
	}
	log_set_level_name(config_get(cfg, "OVIDIO_LOG"));
	a.cfg = cfg;
	a.user = user;
	a.now = clock_now();
	a.hours = inbox_handoff_hours(cfg);
	a.secret = config_get(cfg, "INBOX_SECRET");
	if (a.secret == NULL || a.secret[0] == '\0')
		a.secret = config_get(cfg, "WHATSAPP_APP_SECRET");
	if (a.secret != NULL && a.secret[0] == '\0')
		a.secret = NULL;
	if (a.secret != NULL)
		inbox_csrf(a.secret, user, a.csrf);
	snprintf(a.base, sizeof(a.base), "%s", sn != NULL && sn[0] == '/' &&
	    strlen(sn) < 200 && strpbrk(sn, "\"<>'\\ ") == NULL ? sn :
	    "/cgi-bin/inbox");
	/* cgi-bin/presupuesto sits beside this program. */
	{
		const char *slash = strrchr(a.base, '/');
		int dl = slash != NULL ? (int)(slash - a.base) : 0;

		snprintf(a.pdf_base, sizeof(a.pdf_base), "%.*s/presupuesto", dl,
		    a.base);
	}
	sha256(css, strlen(css), digest);
	base64(digest, sizeof(digest), b64);
	snprintf(a.csp, sizeof(a.csp), "default-src 'none'; style-src "
	    "'sha256-%s'; img-src 'self'; form-action 'self'; "
	    "frame-ancestors 'none'; base-uri 'none'", b64);
#ifdef INBOX_LEAN
	if (config_get(cfg, "MONGODB_URI") != NULL) {
		hand_over(&a);
		goto out;
	}
#endif
	if ((rc = store_open(&a.st, cfg)) != OV_OK) {
		log_error("inbox: cannot open the store: %s", ov_strerror(rc));
		cgi_drain_body(STDIN_FILENO, BODY_MAX);
		message_page(&a, 503, "No pudimos abrir la base de datos",
		    "Probá de nuevo en un rato.", NULL);
		status = 0;
		goto out;
	}
	dispatch(&a, m == CGI_METHOD_HEAD ? CGI_METHOD_GET : m);
out:
	fflush(stdout);
	form_free(&a.form);
	store_close(a.st);
	config_free(cfg);
	return status;
}
