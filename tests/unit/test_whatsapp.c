/* lib/whatsapp against the Graph API stand-in (tests/standins/
 * graph_server.py), started here: what the customer would receive, read
 * back from the stand-in's record, and how failures are classified. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "check.h"
#include "config.h"
#include "err.h"
#include "hmac.h"
#include "log.h"
#include "standin.h"
#include "wa_payload.h"
#include "whatsapp.h"

#define STANDIN "tests/standins/graph_server.py"
#define TOKEN "EAAGtest0123456789SecretToken"
#define PHONE_ID "110000000000001"
#define TO "5493415551234"
/* What goes on the wire for TO: an Argentine mobile loses its 9. */
#define TO_WIRE "543415551234"
#define APP_SECRET "test-app-secret-whatsapp"

static char dir[] = "/tmp/ov_test_whatsapp.XXXXXX";
static struct standin_proc graph;

/* ---- the stand-in ---------------------------------------------------- */

/* The Graph stand-in as name (its port and log files in dir), posting
 * status webhooks to webhook unless that is NULL. */
static int
graph_start(struct standin_proc *p, const char *name, const char *webhook)
{
	const char *args[] = {
		"--token", TOKEN, "--phone-number-id", PHONE_ID,
		"--webhook", webhook, "--app-secret", APP_SECRET, NULL
	};

	if (webhook == NULL)
		args[4] = NULL;
	return standin_proc_start(p, STANDIN, dir, name, true, args);
}

struct buf {
	char *p;
	size_t len;
};

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;
	char *p = realloc(b->p, b->len + n + 1);

	if (p == NULL)
		return 0;
	b->p = p;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* A plain HTTP exchange with a stand-in; returns the status, 0 on error.
 * *out (may be NULL) gets the malloc'd body. */
static long
http(long port, const char *method, const char *path, const char *ctype,
    const char *auth, const char *body, char **out, size_t *outlen)
{
	struct curl_slist *h = NULL;
	struct buf b = { NULL, 0 };
	char url[256], hdr[256];
	long status = 0;
	CURL *c = curl_easy_init();

	if (c == NULL)
		return 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%ld%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (ctype != NULL) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
		h = curl_slist_append(h, hdr);
	}
	if (auth != NULL) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", auth);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (out != NULL) {
		*out = b.p;
		if (outlen != NULL)
			*outlen = b.len;
	} else {
		free(b.p);
	}
	return status;
}

static int
control(const char *json)
{
	return http(graph.port, "POST", "/__control", "application/json", NULL,
	    json, NULL, NULL) == 200;
}

static cJSON *
get_json(const char *path)
{
	char *body = NULL;
	cJSON *doc = NULL;

	if (http(graph.port, "GET", path, NULL, NULL, NULL, &body, NULL) == 200)
		doc = cJSON_Parse(body);
	free(body);
	return doc;
}

static int
count_of(const char *path)
{
	cJSON *doc = get_json(path);
	int n = cJSON_IsArray(doc) ? cJSON_GetArraySize(doc) : -1;

	cJSON_Delete(doc);
	return n;
}

static const char *
str_at(const cJSON *o, const char *dotted)
{
	char key[64];
	const char *p = dotted, *dot;

	while ((dot = strchr(p, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
		o = cJSON_GetObjectItemCaseSensitive(o, key);
		p = dot + 1;
	}
	o = cJSON_GetObjectItemCaseSensitive(o, p);
	return cJSON_IsString(o) ? o->valuestring : NULL;
}

/* A client on the stand-in, with short timings so the tests are quick. */
static int
client_open(struct wa_client *c, long port, const char *token,
    const char *phone, const char *base)
{
	struct config *cfg = NULL;
	char url[128], err[256];
	int rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%ld/v21.0/", port);
	setenv("WHATSAPP_API_URL", url, 1);
	setenv("WHATSAPP_TOKEN", token, 1);
	setenv("PHONE_NUMBER_ID", phone, 1);
	if (base != NULL)
		setenv("PUBLIC_BASE_URL", base, 1);
	else
		unsetenv("PUBLIC_BASE_URL");
	if ((rc = config_load(&cfg, err, sizeof(err))) != OV_OK)
		return rc;
	rc = wa_client_init(c, cfg, err, sizeof(err));
	config_free(cfg);
	if (rc != OV_OK) {
		fprintf(stderr, "  client: %s\n", err);
		return rc;
	}
	c->connect_timeout_ms = 1000;
	c->timeout_ms = 3000;
	c->budget_ms = 8000;
	c->backoff_ms = 10;
	c->max_attempts = 3;
	return OV_OK;
}

static void
fresh(void)
{
	CHECK(control("{\"reset\": true}"));
}

/* Capture what the module logs during a call. */
static int saved_stderr = -1;

static void
capture_begin(void)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/stderr.txt", dir);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

static char *
capture_end(void)
{
	char path[256], *text;
	FILE *f;
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	snprintf(path, sizeof(path), "%s/stderr.txt", dir);
	if ((text = calloc(1, 65536)) == NULL)
		return NULL;
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(text, 1, 65535, f);
		text[n] = '\0';
		fclose(f);
	}
	return text;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- configuration ----------------------------------------------- */

static void
test_config_errors(void)
{
	struct wa_client c;
	struct config *cfg = NULL;
	char err[256];

	setenv("WHATSAPP_API_URL", "https://graph.facebook.com/v21.0", 1);
	unsetenv("WHATSAPP_TOKEN");
	setenv("PHONE_NUMBER_ID", PHONE_ID, 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(wa_client_init(&c, cfg, err, sizeof(err)), OV_ECONFIG);
	CHECK(strstr(err, "WHATSAPP_TOKEN") != NULL);
	config_free(cfg);

	setenv("WHATSAPP_TOKEN", TOKEN, 1);
	unsetenv("PHONE_NUMBER_ID");
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(wa_client_init(&c, cfg, err, sizeof(err)), OV_ECONFIG);
	CHECK(strstr(err, "PHONE_NUMBER_ID") != NULL);
	config_free(cfg);

	/* A token pasted with a space: refused, and never echoed. */
	setenv("WHATSAPP_TOKEN", "EAAG secret-value", 1);
	setenv("PHONE_NUMBER_ID", PHONE_ID, 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(wa_client_init(&c, cfg, err, sizeof(err)), OV_ECONFIG);
	CHECK(strstr(err, "WHATSAPP_TOKEN") != NULL);
	CHECK(strstr(err, "secret-value") == NULL);
	config_free(cfg);

	/* The default API base is Meta's. */
	setenv("WHATSAPP_TOKEN", TOKEN, 1);
	unsetenv("WHATSAPP_API_URL");
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(wa_client_init(&c, cfg, err, sizeof(err)), OV_OK);
	CHECK_STR(c.api_url, "https://graph.facebook.com/v21.0");
	CHECK(c.public_base_url == NULL);
	wa_client_free(&c);
	config_free(cfg);
}

/* ---- pure helpers ---------------------------------------------------- */

static void
test_label_fit(void)
{
	char out[128];

	CHECK_INT(wa_utf8_chars("Sí, enviámelo"), 13);
	CHECK_INT(wa_label_fit("Sí, enviámelo", 20, out, sizeof(out)), 0);
	CHECK_STR(out, "Sí, enviámelo");
	/* Exactly at the limit stays whole. */
	CHECK_INT(wa_label_fit("Cámaras domo de 4 MP", 20, out, sizeof(out)), 0);
	CHECK_STR(out, "Cámaras domo de 4 MP");
	/* Over: 19 characters and an ellipsis, 20 in all. */
	CHECK_INT(wa_label_fit("Quiero hablar con un vendedor", 20, out,
	    sizeof(out)), 1);
	CHECK_STR(out, "Quiero hablar con u…");
	CHECK_INT(wa_utf8_chars(out), 20);
	/* No blank before the ellipsis; accents never cut in half. */
	CHECK_INT(wa_label_fit("Cámaras domo Dahua y Hikvision", 20, out,
	    sizeof(out)), 1);
	CHECK_STR(out, "Cámaras domo Dahua…");
	CHECK(wa_utf8_valid(out, strlen(out)));
	CHECK_INT(wa_label_fit("ñññññññññññññññññññññññññ", 24, out,
	    sizeof(out)), 1);
	CHECK_STR(out, "ñññññññññññññññññññññññ…");
	/* Too small a buffer is an error, not an overflow. */
	CHECK_INT(wa_label_fit("Sí, enviámelo", 20, out, 5), -1);
}

static void
test_utf8(void)
{
	static const char ok[] = "Hola, ¿cómo andás? 👍";

	CHECK(wa_utf8_valid(ok, strlen(ok)));
	CHECK(!wa_utf8_valid("caf\xC3", 4));            /* cut sequence */
	CHECK(!wa_utf8_valid("\xC0\xAF", 2));           /* overlong */
	CHECK(!wa_utf8_valid("\xED\xA0\x80", 3));       /* surrogate */
	CHECK(!wa_utf8_valid("\xF4\x90\x80\x80", 4));   /* past U+10FFFF */
	CHECK(!wa_utf8_valid("a\0b", 3));               /* NUL inside */
}

/* Pieces are valid UTF-8, within max, and nothing but whitespace is lost. */
static int
pieces_ok(const char *text, const size_t *off, const size_t *lens, size_t n,
    size_t max, const char *sep)
{
	size_t total = 0, cap = strlen(text) + 1;
	char *joined = calloc(1, cap + n * 4);
	int ok = joined != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		if (lens[i] == 0 || lens[i] > max ||
		    !wa_utf8_valid(text + off[i], lens[i]))
			ok = 0;
		if (i > 0) {
			memcpy(joined + total, sep, strlen(sep));
			total += strlen(sep);
		}
		memcpy(joined + total, text + off[i], lens[i]);
		total += lens[i];
	}
	if (ok)
		ok = strcmp(joined, text) == 0;
	free(joined);
	return ok;
}

static void
test_split_shapes(void)
{
	size_t off[WA_TEXT_PARTS], lens[WA_TEXT_PARTS], n = 0, len;
	char *t = malloc(WA_TEXT_TOTAL_MAX + 64);

	if (t == NULL) {
		CHECK(0);
		return;
	}
	/* Short text: one piece, surrounding blanks dropped. */
	CHECK_INT(wa_text_split("  Hola  \n", 9, WA_MSG_TEXT_MAX, off, lens,
	    WA_TEXT_PARTS, &n), OV_OK);
	CHECK_INT(n, 1);
	CHECK_INT(off[0], 2);
	CHECK_INT(lens[0], 4);
	CHECK_INT(wa_text_split(" \n\t ", 4, WA_MSG_TEXT_MAX, off, lens,
	    WA_TEXT_PARTS, &n), OV_EINVAL);

	/* No blank lines: cut at line ends. Lines of 100 bytes. */
	len = 0;
	for (int i = 0; i < 60; i++) {
		len += (size_t)snprintf(t + len, 200, "Línea %02d: cámara, "
		    "grabador y fuente para la instalación del galpón %020d",
		    i, i);
		t[len++] = '\n';
	}
	t[--len] = '\0';
	CHECK_INT(wa_text_split(t, len, WA_MSG_TEXT_MAX, off, lens,
	    WA_TEXT_PARTS, &n), OV_OK);
	CHECK_INT(n, 2);
	CHECK(pieces_ok(t, off, lens, n, WA_MSG_TEXT_MAX, "\n"));

	/* One line of words: cut at spaces. */
	len = 0;
	while (len < 7000)
		len += (size_t)snprintf(t + len, 64, "%s", "acá señor ");
	t[--len] = '\0';
	CHECK_INT(wa_text_split(t, len, WA_MSG_TEXT_MAX, off, lens,
	    WA_TEXT_PARTS, &n), OV_OK);
	CHECK_INT(n, 2);
	CHECK(pieces_ok(t, off, lens, n, WA_MSG_TEXT_MAX, " "));

	/* One endless word of 3-byte characters: cut between characters. */
	len = 0;
	for (int i = 0; i < 2000; i++) {
		memcpy(t + len, "€", 3);
		len += 3;
	}
	t[len] = '\0';
	CHECK_INT(wa_text_split(t, len, WA_MSG_TEXT_MAX, off, lens,
	    WA_TEXT_PARTS, &n), OV_OK);
	CHECK_INT(n, 2);
	CHECK_INT(lens[0], 4095);
	CHECK(pieces_ok(t, off, lens, n, WA_MSG_TEXT_MAX, ""));

	/* More pieces than room: refused, not cut short. */
	memset(t, 'a', WA_TEXT_TOTAL_MAX + 10);
	t[WA_TEXT_TOTAL_MAX + 10] = '\0';
	CHECK_INT(wa_text_split(t, WA_TEXT_TOTAL_MAX + 10, WA_MSG_TEXT_MAX, off,
	    lens, WA_TEXT_PARTS, &n), OV_ETOOBIG);
	free(t);
}

/* ---- sending, read back from the stand-in ------------------------ */

static void
test_text_arrives(void)
{
	static const char text[] = "¡Hola, Martín! Sí, tenemos cámaras domo "
	    "Dahua de 4 MP: $ 45.900 con IVA. ¿Cuántas necesitás? 👍";
	struct wa_client c;
	struct wa_result r;
	cJSON *sent;
	const cJSON *m;

	fresh();
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_text(&c, TO, text, &r), OV_OK);
	CHECK_INT(r.status, WA_SEND_OK);
	CHECK_INT(r.nparts, 1);
	CHECK_INT(r.attempts, 1);
	CHECK(strncmp(r.parts[0].wamid, "wamid.", 6) == 0);
	CHECK_STR(r.error, "");
	sent = get_json("/__sent");
	CHECK_INT(cJSON_GetArraySize(sent), 1);
	m = cJSON_GetArrayItem(sent, 0);
	CHECK_STR(str_at(m, "kind"), "message");
	CHECK_STR(str_at(m, "wamid"), r.parts[0].wamid);
	CHECK_STR(str_at(m, "payload.messaging_product"), "whatsapp");
	CHECK_STR(str_at(m, "payload.recipient_type"), "individual");
	CHECK_STR(str_at(m, "payload.to"), TO_WIRE);
	CHECK_STR(str_at(m, "payload.type"), "text");
	CHECK_STR(str_at(m, "payload.text.body"), text);
	cJSON_Delete(sent);

	/* Refused here, nothing sent: bad UTF-8, blank text, bad number. */
	fresh();
	CHECK_INT(wa_send_text(&c, TO, "caf\xC3", &r), OV_EINVAL);
	CHECK_INT(r.status, WA_SEND_INVALID);
	CHECK_INT(wa_send_text(&c, TO, "  \n\n ", &r), OV_EINVAL);
	CHECK_INT(wa_send_text(&c, "+54 9 341", "Hola", &r), OV_EINVAL);
	CHECK_INT(count_of("/__requests"), 0);
	wa_client_free(&c);
}

static void
test_long_text_paragraphs(void)
{
	/* Lines within a paragraph, so a cut at any line end would show. */
	static const char phrase[] = "Te paso el detalle de la cámara domo "
	    "con visión nocturna y micrófono, ideal para el depósito.\n";
	char text[9100], joined[9200];
	size_t len = 0, jlen = 0;
	struct wa_client c;
	struct wa_result r;
	cJSON *sent;

	/* 9 paragraphs of 998 bytes: 8,998 bytes in all, with accents and
	 * line breaks inside paragraphs. */
	for (int p = 0; p < 9; p++) {
		size_t start;

		if (p > 0) {
			memcpy(text + len, "\n\n", 2);
			len += 2;
		}
		start = len;
		len += (size_t)snprintf(text + len, 64, "Párrafo %d.\n", p + 1);
		while (len - start + sizeof(phrase) - 1 <= 998) {
			memcpy(text + len, phrase, sizeof(phrase) - 1);
			len += sizeof(phrase) - 1;
		}
		while (len - start < 998)
			text[len++] = '.';
	}
	text[len] = '\0';
	CHECK_INT(len, 8998);

	fresh();
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_text(&c, TO, text, &r), OV_OK);
	CHECK_INT(r.nparts, 3);
	sent = get_json("/__sent");
	CHECK_INT(cJSON_GetArraySize(sent), 3);
	for (int i = 0; i < cJSON_GetArraySize(sent) && i < 3; i++) {
		const cJSON *m = cJSON_GetArrayItem(sent, i);
		const char *body = str_at(m, "payload.text.body");

		if (body == NULL) {
			CHECK(0);
			continue;
		}
		/* In order, none over the limit, no broken characters, and
		 * every message ends where a paragraph ends. */
		CHECK_STR(str_at(m, "wamid"), r.parts[i].wamid);
		CHECK(strlen(body) <= WA_MSG_TEXT_MAX);
		CHECK(wa_utf8_valid(body, strlen(body)));
		CHECK(strlen(body) >= 998 && body[strlen(body) - 1] == '.');
		CHECK_INT(strlen(body), r.parts[i].len);
		CHECK(memcmp(text + r.parts[i].off, body, strlen(body)) == 0);
		if (i > 0) {
			memcpy(joined + jlen, "\n\n", 2);
			jlen += 2;
		}
		if (jlen + strlen(body) < sizeof(joined)) {
			memcpy(joined + jlen, body, strlen(body));
			jlen += strlen(body);
		}
	}
	joined[jlen] = '\0';
	CHECK_STR(joined, text);
	CHECK(strncmp(str_at(cJSON_GetArrayItem(sent, 1), "payload.text.body"),
	    "Párrafo 5.", strlen("Párrafo 5.")) == 0);
	cJSON_Delete(sent);
	wa_client_free(&c);
}

/* wa_set_callback(): every message carries biz_opaque_callback_data
 * "<tag>:<k>", k counting a split text's parts from `first`; the stand-in
 * (Meta's schema) takes it; cleared, none. */
static void
test_callback_tags_each_part(void)
{
	static char text[3 * 3000 + 8];
	char tag[WA_CALLBACK_TAG_MAX + 2];
	size_t off = 0;
	struct wa_client c;
	struct wa_result r;
	cJSON *sent;

	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			memcpy(text + off, "\n\n", 2);
			off += 2;
		}
		memset(text + off, 'x', 3000);
		off += 3000;
	}
	text[off] = '\0';
	fresh();
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_set_callback(&c, "ob:turn-9#1", 2), OV_OK);
	CHECK_INT(wa_send_text(&c, TO, text, &r), OV_OK);
	CHECK_INT(r.nparts, 3);
	CHECK_INT(wa_send_buttons(&c, TO, NULL, "¿Lo sumo?", NULL,
	    (const struct wa_button[]){ { "si", "Sí" } }, 1, &r), OV_OK);
	CHECK_INT(wa_set_callback(&c, NULL, 0), OV_OK);
	CHECK_INT(wa_send_text(&c, TO, "sin marca", &r), OV_OK);
	sent = get_json("/__sent");
	CHECK_INT(cJSON_GetArraySize(sent), 5);
	if (cJSON_GetArraySize(sent) == 5) {
		CHECK_STR(str_at(cJSON_GetArrayItem(sent, 0),
		    "payload.biz_opaque_callback_data"), "ob:turn-9#1:2");
		CHECK_STR(str_at(cJSON_GetArrayItem(sent, 1),
		    "payload.biz_opaque_callback_data"), "ob:turn-9#1:3");
		CHECK_STR(str_at(cJSON_GetArrayItem(sent, 2),
		    "payload.biz_opaque_callback_data"), "ob:turn-9#1:4");
		CHECK_STR(str_at(cJSON_GetArrayItem(sent, 3),
		    "payload.biz_opaque_callback_data"), "ob:turn-9#1:2");
		CHECK(str_at(cJSON_GetArrayItem(sent, 4),
		    "payload.biz_opaque_callback_data") == NULL);
	}
	cJSON_Delete(sent);
	/* Printable ASCII, 1..WA_CALLBACK_TAG_MAX bytes; else no tag. */
	memset(tag, 'a', sizeof(tag) - 1);
	tag[sizeof(tag) - 1] = '\0';
	CHECK_INT(wa_set_callback(&c, tag, 0), OV_EINVAL);
	CHECK_STR(c.callback, "");
	CHECK_INT(wa_set_callback(&c, "ob:a\nb", 0), OV_EINVAL);
	CHECK_INT(wa_set_callback(&c, "", 0), OV_EINVAL);
	wa_client_free(&c);
}

static void
test_buttons_payload(void)
{
	static const struct wa_button b[] = {
		{ "quote_send", "Sí, enviámelo" },
		{ "quote_edit", "Cambiar cantidades" },
		{ "human", "Quiero hablar con un vendedor" },
	};
	static const struct wa_button dup[] = {
		{ "x", "Sí" }, { "x", "No" },
	};
	static const char expected[] = "{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO_WIRE "\","
	    "\"type\":\"interactive\",\"interactive\":{\"type\":\"button\","
	    "\"header\":{\"type\":\"text\",\"text\":\"Presupuesto N° 0042\"},"
	    "\"body\":{\"text\":\"¿Te lo mando en PDF?\"},"
	    "\"footer\":{\"text\":\"GRUPO SER\"},"
	    "\"action\":{\"buttons\":["
	    "{\"type\":\"reply\",\"reply\":{\"id\":\"quote_send\",\"title\":\"Sí, enviámelo\"}},"
	    "{\"type\":\"reply\",\"reply\":{\"id\":\"quote_edit\",\"title\":\"Cambiar cantidades\"}},"
	    "{\"type\":\"reply\",\"reply\":{\"id\":\"human\",\"title\":\"Quiero hablar con u…\"}}"
	    "]}}}";
	struct wa_button four[4];
	struct wa_client c;
	struct wa_result r;
	cJSON *sent, *want = cJSON_Parse(expected);

	fresh();
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		cJSON_Delete(want);
		return;
	}
	CHECK(want != NULL);
	CHECK_INT(wa_send_buttons(&c, TO, "Presupuesto N° 0042",
	    "¿Te lo mando en PDF?", "GRUPO SER", b, 3, &r), OV_OK);
	CHECK_INT(r.nparts, 1);
	sent = get_json("/__sent");
	CHECK_INT(cJSON_GetArraySize(sent), 1);
	CHECK(cJSON_Compare(want, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(sent, 0), "payload"), 1));
	cJSON_Delete(sent);

	/* Four buttons, repeated ids, a long body: refused, nothing sent. */
	fresh();
	memcpy(four, b, sizeof(b));
	four[3] = (struct wa_button){ "more", "Más" };
	CHECK_INT(wa_send_buttons(&c, TO, NULL, "¿Qué hacemos?", NULL, four, 4,
	    &r), OV_EINVAL);
	CHECK_INT(r.status, WA_SEND_INVALID);
	CHECK_INT(wa_send_buttons(&c, TO, NULL, "¿Qué hacemos?", NULL, dup, 2,
	    &r), OV_EINVAL);
	CHECK_INT(wa_send_buttons(&c, TO, NULL, "", NULL, b, 2, &r), OV_EINVAL);
	CHECK_INT(count_of("/__requests"), 0);

	/* No header or footer: those keys are absent. */
	CHECK_INT(wa_send_buttons(&c, TO, NULL, "¿Seguimos?", NULL, b, 1, &r),
	    OV_OK);
	sent = get_json("/__sent");
	CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(sent, 0),
	    "payload"), "interactive"), "header") == NULL);
	cJSON_Delete(sent);
	cJSON_Delete(want);
	wa_client_free(&c);
}

static void
test_list_payload(void)
{
	static const struct wa_row rows[] = {
		{ "prod_1001", "Domo Dahua 4 MP", "IR 30 m, lente 2.8 mm, IP67" },
		{ "prod_1002", "Bullet Hikvision 2 MP con audio incorporado",
		  "Visión nocturna a color de 40 metros con luz cálida, "
		  "micrófono, carcasa metálica" },
		{ "prod_1003", "DVR 8 canales", NULL },
	};
	static const struct wa_section sec[] = { { "Cámaras", rows, 3 } };
	static const char expected[] = "{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO_WIRE "\","
	    "\"type\":\"interactive\",\"interactive\":{\"type\":\"list\","
	    "\"body\":{\"text\":\"Encontré estas opciones:\"},"
	    "\"action\":{\"button\":\"Ver opciones\",\"sections\":[{"
	    "\"title\":\"Cámaras\",\"rows\":["
	    "{\"id\":\"prod_1001\",\"title\":\"Domo Dahua 4 MP\","
	    "\"description\":\"IR 30 m, lente 2.8 mm, IP67\"},"
	    "{\"id\":\"prod_1002\",\"title\":\"Bullet Hikvision 2 MP c…\","
	    "\"description\":\"Visión nocturna a color de 40 metros con luz "
	    "cálida, micrófono, carcasa…\"},"
	    "{\"id\":\"prod_1003\",\"title\":\"DVR 8 canales\"}"
	    "]}]}}}";
	struct wa_row many[11];
	struct wa_section big = { "Todo", many, 11 };
	char ids[11][16];
	struct wa_client c;
	struct wa_result r;
	cJSON *sent, *want = cJSON_Parse(expected);
	const char *t;

	fresh();
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		cJSON_Delete(want);
		return;
	}
	CHECK(want != NULL);
	CHECK_INT(wa_send_list(&c, TO, NULL, "Encontré estas opciones:", NULL,
	    "Ver opciones", sec, 1, &r), OV_OK);
	sent = get_json("/__sent");
	CHECK_INT(cJSON_GetArraySize(sent), 1);
	CHECK(cJSON_Compare(want, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(sent, 0), "payload"), 1));
	t = "Bullet Hikvision 2 MP c…";
	CHECK_INT(wa_utf8_chars(t), WA_ROW_TITLE_MAX);
	cJSON_Delete(sent);

	/* Eleven rows: refused, nothing sent. */
	fresh();
	for (int i = 0; i < 11; i++) {
		snprintf(ids[i], sizeof(ids[i]), "row_%d", i);
		many[i] = (struct wa_row){ ids[i], "Producto", NULL };
	}
	CHECK_INT(wa_send_list(&c, TO, NULL, "Elegí uno:", NULL, "Ver", &big, 1,
	    &r), OV_EINVAL);
	CHECK_INT(r.status, WA_SEND_INVALID);
	CHECK_INT(count_of("/__requests"), 0);
	cJSON_Delete(want);
	wa_client_free(&c);
}

/* ---- failures and retries -------------------------------------------- */

static void
test_rate_limit_retried(void)
{
	struct wa_client c;
	struct wa_result r;
	cJSON *req;

	fresh();
	CHECK(control("{\"fail_next\": [{\"http\": 429, \"code\": 130429}]}"));
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_text(&c, TO, "Ya te lo mando.", &r), OV_OK);
	CHECK_INT(r.status, WA_SEND_OK);
	CHECK_INT(r.attempts, 2);
	CHECK_INT(count_of("/__sent"), 1);
	req = get_json("/__requests");
	CHECK_INT(cJSON_GetArraySize(req), 2);
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(req, 0), "code")->valueint,
	    130429);
	cJSON_Delete(req);

	/* The pair rate limit is retried the same way. */
	fresh();
	CHECK(control("{\"fail_next\": [{\"code\": 131056}]}"));
	CHECK_INT(wa_send_text(&c, TO, "Ya te lo mando.", &r), OV_OK);
	CHECK_INT(r.attempts, 2);
	CHECK_INT(count_of("/__sent"), 1);
	wa_client_free(&c);
}

static void
test_window_closed_not_retried(void)
{
	const char *params[] = { "Martín" };
	struct wa_client c;
	struct wa_result r;

	fresh();
	CHECK(control("{\"fail_next\": [{\"http\": 400, \"code\": 131047}]}"));
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_text(&c, TO, "¿Seguís interesado?", &r), OV_EREMOTE);
	CHECK_INT(r.status, WA_SEND_WINDOW_CLOSED);
	CHECK_INT(r.meta_code, 131047);
	CHECK_INT(r.http_status, 400);
	CHECK_INT(r.attempts, 1);
	CHECK_INT(r.nparts, 0);
	CHECK(strstr(r.error, "24 hours") != NULL);
	CHECK_INT(count_of("/__requests"), 1);
	CHECK_INT(count_of("/__sent"), 0);

	/* A closed window lets a template through, and only that. */
	fresh();
	CHECK(control("{\"closed_windows\": [\"" TO "\"]}"));
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_EREMOTE);
	CHECK_INT(r.status, WA_SEND_WINDOW_CLOSED);
	CHECK_INT(wa_send_template(&c, TO, "seguimiento_presupuesto", NULL,
	    params, 1, &r), OV_OK);
	CHECK_INT(count_of("/__sent"), 1);
	wa_client_free(&c);
}

static void
test_bad_token_is_config_error(void)
{
	struct wa_client c;
	struct wa_result r;
	char *log;

	fresh();
	if (client_open(&c, graph.port, "EAAGwrongTokenValue42", PHONE_ID,
	    NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	capture_begin();
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_EAUTH);
	log = capture_end();
	CHECK_INT(r.status, WA_SEND_AUTH);
	CHECK_INT(r.meta_code, 190);
	CHECK_INT(r.http_status, 401);
	CHECK_INT(r.attempts, 1);
	CHECK(strstr(r.error, "EAAGwrongTokenValue42") == NULL);
	CHECK(log != NULL && strstr(log, "WHATSAPP_TOKEN") != NULL);
	CHECK(log != NULL && strstr(log, "EAAGwrongTokenValue42") == NULL);
	free(log);
	CHECK_INT(count_of("/__requests"), 1);
	wa_client_free(&c);

	/* A wrong phone number id is a configuration error too. */
	if (client_open(&c, graph.port, TOKEN, "999", NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	capture_begin();
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_EAUTH);
	log = capture_end();
	CHECK_INT(r.status, WA_SEND_AUTH);
	CHECK(log != NULL && strstr(log, "PHONE_NUMBER_ID") != NULL);
	CHECK(log != NULL && strstr(log, TOKEN) == NULL);
	free(log);
	CHECK_INT(count_of("/__sent"), 0);
	wa_client_free(&c);
}

static void
test_rejected_not_retried(void)
{
	struct wa_client c;
	struct wa_result r;

	fresh();
	CHECK(control("{\"fail_next\": [{\"code\": 131026}]}"));
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_EREMOTE);
	CHECK_INT(r.status, WA_SEND_REJECTED);
	CHECK_INT(r.meta_code, 131026);
	CHECK_INT(r.attempts, 1);
	CHECK(strstr(r.error, "undeliverable") != NULL);
	CHECK_INT(count_of("/__requests"), 1);
	wa_client_free(&c);
}

static void
test_server_errors_bounded(void)
{
	struct wa_client c;
	struct wa_result r;

	fresh();
	CHECK(control("{\"fail_next\": [{\"http\": 500, \"code\": 131000}, "
	    "{\"http\": 500, \"code\": 131000}, {\"http\": 502, \"code\": 1}, "
	    "{\"http\": 500, \"code\": 131000}, {\"http\": 500, \"code\": 1}]}"));
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_EREMOTE);
	CHECK_INT(r.status, WA_SEND_RETRY_LATER);
	CHECK_INT(r.attempts, 3);
	CHECK_INT(count_of("/__requests"), 3);
	CHECK_INT(count_of("/__sent"), 0);

	/* Meta down (503 pages, not JSON): the same, after max_attempts. */
	fresh();
	CHECK(control("{\"down\": true}"));
	c.max_attempts = 2;
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_EREMOTE);
	CHECK_INT(r.status, WA_SEND_RETRY_LATER);
	CHECK_INT(r.http_status, 503);
	CHECK_INT(r.attempts, 2);
	CHECK(strstr(r.error, "503") != NULL);
	CHECK(control("{\"down\": false}"));
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_OK);
	wa_client_free(&c);

	/* Nobody listening: retried, then retry later. */
	if (client_open(&c, 1, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_EREMOTE);
	CHECK_INT(r.status, WA_SEND_RETRY_LATER);
	CHECK_INT(r.attempts, 3);
	CHECK_INT(r.http_status, 0);
	wa_client_free(&c);
}

static void
test_slow_answer_within_budget(void)
{
	struct wa_client c;
	struct wa_result r;
	int64_t t0, took;

	fresh();
	CHECK(control("{\"slow_next\": 10, \"slow_seconds\": 1.5}"));
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	c.timeout_ms = 300;
	c.budget_ms = 800;
	c.backoff_ms = 50;
	t0 = now_ms();
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_EREMOTE);
	took = now_ms() - t0;
	CHECK_INT(r.status, WA_SEND_RETRY_LATER);
	CHECK(r.attempts >= 2 && r.attempts <= 3);
	CHECK(strstr(r.error, "no answer in time") != NULL);
	/* Within the budget (plus scheduling slack), not 3 x 1.5 s. */
	CHECK(took < 1100);
	if (took >= 1100)
		fprintf(stderr, "  took %lld ms\n", (long long)took);
	wa_client_free(&c);
	fresh();    /* the slow requests still asleep are dropped */
}

/* ---- documents, templates, read receipts ------------------------- */

static int
write_pdf(const char *path, char *content, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "wb");
	size_t n;

	if (f == NULL)
		return -1;
	n = (size_t)snprintf(content, cap, "%%PDF-1.4\n%% Presupuesto 0042\n"
	    "1 0 obj << /Type /Catalog >> endobj\n");
	for (int i = 0; i < 200 && n + 40 < cap; i++)
		n += (size_t)snprintf(content + n, cap - n, "%% línea %03d\n", i);
	n += (size_t)snprintf(content + n, cap - n, "%%%%EOF\n");
	*len = n;
	if (fwrite(content, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static void
test_pdf_upload_then_document(void)
{
	char path[256], content[8192], mpath[160], *bytes = NULL;
	size_t len = 0, blen = 0;
	struct wa_client c;
	struct wa_result r;
	cJSON *sent;
	const cJSON *up, *m;

	snprintf(path, sizeof(path), "%s/q0042.pdf", dir);
	CHECK_INT(write_pdf(path, content, sizeof(content), &len), 0);
	fresh();
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_pdf(&c, TO, path, "Presupuesto 0042.pdf",
	    "Acá tenés tu presupuesto, válido por 15 días.",
	    "/cgi-bin/presupuesto/abc123.pdf", &r), OV_OK);
	CHECK_INT(r.status, WA_SEND_OK);
	CHECK(!r.by_link);
	CHECK(r.media_id[0] != '\0');
	CHECK_INT(r.nparts, 1);
	sent = get_json("/__sent");
	CHECK_INT(cJSON_GetArraySize(sent), 2);
	up = cJSON_GetArrayItem(sent, 0);
	m = cJSON_GetArrayItem(sent, 1);
	CHECK_STR(str_at(up, "kind"), "media");
	CHECK_STR(str_at(up, "id"), r.media_id);
	CHECK_STR(str_at(up, "filename"), "Presupuesto 0042.pdf");
	CHECK_STR(str_at(up, "mime_type"), "application/pdf");
	CHECK_STR(str_at(m, "payload.type"), "document");
	CHECK_STR(str_at(m, "payload.document.id"), r.media_id);
	CHECK(str_at(m, "payload.document.link") == NULL);
	CHECK_STR(str_at(m, "payload.document.filename"), "Presupuesto 0042.pdf");
	CHECK_STR(str_at(m, "payload.document.caption"),
	    "Acá tenés tu presupuesto, válido por 15 días.");
	CHECK_STR(str_at(m, "wamid"), r.parts[0].wamid);
	/* The bytes Meta got are the file's. */
	snprintf(mpath, sizeof(mpath), "/__media/%s", r.media_id);
	CHECK_INT(http(graph.port, "GET", mpath, NULL, NULL, NULL, &bytes,
	    &blen), 200);
	CHECK_INT(blen, len);
	CHECK(bytes != NULL && memcmp(bytes, content, len) == 0);
	free(bytes);
	cJSON_Delete(sent);

	/* A missing file is refused here. */
	fresh();
	CHECK_INT(wa_send_pdf(&c, TO, "/nonexistent/q.pdf", "q.pdf", NULL, NULL,
	    &r), OV_EIO);
	CHECK_INT(r.status, WA_SEND_INVALID);
	CHECK_INT(count_of("/__requests"), 0);
	wa_client_free(&c);
}

static void
test_pdf_upload_fails_link_fallback(void)
{
	char path[256], content[8192];
	size_t len;
	struct wa_client c;
	struct wa_result r;
	cJSON *sent;
	const cJSON *m;

	snprintf(path, sizeof(path), "%s/q0043.pdf", dir);
	CHECK_INT(write_pdf(path, content, sizeof(content), &len), 0);

	/* Without PUBLIC_BASE_URL there is nothing to fall back to. */
	fresh();
	CHECK(control("{\"fail_next\": [{\"endpoint\": \"media\", "
	    "\"code\": 131053}]}"));
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_pdf(&c, TO, path, "Presupuesto 0043.pdf", "Tu "
	    "presupuesto", "/cgi-bin/presupuesto/def456.pdf", &r), OV_EREMOTE);
	CHECK_INT(r.status, WA_SEND_REJECTED);
	CHECK_INT(r.meta_code, 131053);
	CHECK_INT(count_of("/__sent"), 0);
	wa_client_free(&c);

	/* With it: the document goes by link to the quote CGI. */
	fresh();
	CHECK(control("{\"fail_next\": [{\"endpoint\": \"media\", \"http\": 500,"
	    " \"code\": 131000}, {\"endpoint\": \"media\", \"http\": 500, "
	    "\"code\": 131000}, {\"endpoint\": \"media\", \"http\": 500, "
	    "\"code\": 131000}]}"));
	if (client_open(&c, graph.port, TOKEN, PHONE_ID,
	    "https://ovidio.example.com.ar/") != OV_OK) {
		CHECK(0);
		return;
	}
	CHECK_INT(wa_send_pdf(&c, TO, path, "Presupuesto 0043.pdf", "Tu "
	    "presupuesto", "/cgi-bin/presupuesto/def456.pdf", &r), OV_OK);
	CHECK_INT(r.status, WA_SEND_OK);
	CHECK(r.by_link);
	CHECK_INT(r.attempts, 4);
	sent = get_json("/__sent");
	CHECK_INT(cJSON_GetArraySize(sent), 1);
	m = cJSON_GetArrayItem(sent, 0);
	CHECK_STR(str_at(m, "payload.type"), "document");
	CHECK_STR(str_at(m, "payload.document.link"),
	    "https://ovidio.example.com.ar/cgi-bin/presupuesto/def456.pdf");
	CHECK(str_at(m, "payload.document.id") == NULL);
	CHECK_STR(str_at(m, "payload.document.filename"), "Presupuesto 0043.pdf");
	CHECK_STR(str_at(m, "payload.document.caption"), "Tu presupuesto");
	CHECK_STR(str_at(m, "wamid"), r.parts[0].wamid);
	cJSON_Delete(sent);
	wa_client_free(&c);
}

static void
test_template_payload(void)
{
	static const char *const params[] = { "Martín", "0042", "$ 1.250.000" };
	static const char *const bad[] = { "Martín\nGómez" };
	static const char expected[] = "{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO_WIRE "\","
	    "\"type\":\"template\",\"template\":{\"name\":\"presupuesto_listo\","
	    "\"language\":{\"policy\":\"deterministic\",\"code\":\"es_AR\"},"
	    "\"components\":[{\"type\":"
	    "\"body\",\"parameters\":[{\"type\":\"text\",\"text\":\"Martín\"},"
	    "{\"type\":\"text\",\"text\":\"0042\"},{\"type\":\"text\","
	    "\"text\":\"$ 1.250.000\"}]}]}}";
	struct wa_client c;
	struct wa_result r;
	cJSON *sent, *want = cJSON_Parse(expected);

	fresh();
	CHECK(control("{\"templates\": {\"presupuesto_listo\": "
	    "{\"es_AR\": 3}}}"));
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		cJSON_Delete(want);
		return;
	}
	CHECK_INT(wa_send_template(&c, TO, "presupuesto_listo", NULL, params, 3,
	    &r), OV_OK);
	sent = get_json("/__sent");
	CHECK_INT(cJSON_GetArraySize(sent), 1);
	CHECK(cJSON_Compare(want, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(sent, 0), "payload"), 1));
	cJSON_Delete(sent);
	/* Meta's own checks: wrong parameter count, unknown template. */
	CHECK_INT(wa_send_template(&c, TO, "presupuesto_listo", NULL, params, 2,
	    &r), OV_EREMOTE);
	CHECK_INT(r.status, WA_SEND_REJECTED);
	CHECK_INT(r.meta_code, 132000);
	CHECK_INT(wa_send_template(&c, TO, "no_existe", NULL, NULL, 0, &r),
	    OV_EREMOTE);
	CHECK_INT(r.meta_code, 132001);
	/* A newline in a parameter is refused before sending. */
	CHECK_INT(wa_send_template(&c, TO, "presupuesto_listo", NULL, bad, 1,
	    &r), OV_EINVAL);
	CHECK_INT(count_of("/__sent"), 1);
	cJSON_Delete(want);
	wa_client_free(&c);
}

static void
test_mark_read_typing(void)
{
	static const char wamid[] =
	    "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABIYFDNBMDFGRkE3QkY1MjM0NTY3ODkwAA==";
	static const char expected[] = "{\"messaging_product\":\"whatsapp\","
	    "\"status\":\"read\",\"message_id\":\"wamid.HBgNNTQ5MzQxNTU1MTIzNBUC"
	    "ABIYFDNBMDFGRkE3QkY1MjM0NTY3ODkwAA==\",\"typing_indicator\":"
	    "{\"type\":\"text\"}}";
	struct wa_client c;
	struct wa_result r;
	cJSON *sent, *want = cJSON_Parse(expected);
	const cJSON *m;

	fresh();
	if (client_open(&c, graph.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		cJSON_Delete(want);
		return;
	}
	CHECK_INT(wa_mark_read(&c, wamid, true, &r), OV_OK);
	CHECK_INT(r.status, WA_SEND_OK);
	CHECK_INT(wa_mark_read(&c, wamid, false, &r), OV_OK);
	sent = get_json("/__sent");
	CHECK_INT(cJSON_GetArraySize(sent), 2);
	m = cJSON_GetArrayItem(sent, 0);
	CHECK_STR(str_at(m, "kind"), "read");
	CHECK_STR(str_at(m, "message_id"), wamid);
	CHECK(cJSON_Compare(want, cJSON_GetObjectItemCaseSensitive(m, "payload"),
	    1));
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(sent, 1),
	    "typing_indicator")));
	cJSON_Delete(sent);
	CHECK_INT(wa_mark_read(&c, "wamid.bad id", true, &r), OV_EINVAL);
	cJSON_Delete(want);
	wa_client_free(&c);
}

/* ---- the stand-in itself refuses what Meta refuses ---------------- */

static long
raw_send(const char *json, long *code)
{
	char path[64], *body = NULL;
	long status;
	cJSON *doc;

	snprintf(path, sizeof(path), "/v21.0/%s/messages", PHONE_ID);
	status = http(graph.port, "POST", path, "application/json", TOKEN, json,
	    &body, NULL);
	doc = body != NULL ? cJSON_Parse(body) : NULL;
	*code = 0;
	if (doc != NULL) {
		const cJSON *e = cJSON_GetObjectItem(doc, "error");
		if (cJSON_IsNumber(cJSON_GetObjectItem(e, "code")))
			*code = cJSON_GetObjectItem(e, "code")->valueint;
	}
	cJSON_Delete(doc);
	free(body);
	return status;
}

static void
test_standin_validates_like_meta(void)
{
	char *json = malloc(8192);
	int n;
	long code;

	fresh();
	if (json == NULL) {
		CHECK(0);
		return;
	}
	n = snprintf(json, 8192, "{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\""
	    TO "\",\"type\":\"text\",\"text\":{\"body\":\"");
	memset(json + n, 'a', 4097);
	snprintf(json + n + 4097, 8192 - (size_t)n - 4097, "\"}}");
	CHECK_INT(raw_send(json, &code), 400);
	CHECK_INT(code, 100);
	CHECK_INT(raw_send("{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO
	    "\",\"type\":\"interactive\",\"interactive\":{\"type\":\"button\","
	    "\"body\":{\"text\":\"x\"},\"action\":{\"buttons\":["
	    "{\"type\":\"reply\",\"reply\":{\"id\":\"a\",\"title\":\"A\"}},"
	    "{\"type\":\"reply\",\"reply\":{\"id\":\"b\",\"title\":\"B\"}},"
	    "{\"type\":\"reply\",\"reply\":{\"id\":\"c\",\"title\":\"C\"}},"
	    "{\"type\":\"reply\",\"reply\":{\"id\":\"d\",\"title\":\"D\"}}]}}}",
	    &code), 400);
	CHECK_INT(code, 100);
	CHECK_INT(raw_send("{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO
	    "\",\"type\":\"interactive\",\"interactive\":{\"type\":\"button\","
	    "\"body\":{\"text\":\"x\"},\"action\":{\"buttons\":["
	    "{\"type\":\"reply\",\"reply\":{\"id\":\"a\",\"title\":"
	    "\"Quiero hablar con un vendedor\"}}]}}}", &code), 400);
	CHECK_INT(code, 100);
	CHECK_INT(raw_send("{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO
	    "\",\"type\":\"interactive\",\"interactive\":{\"type\":\"list\","
	    "\"body\":{\"text\":\"x\"},\"action\":{\"button\":\"Ver\","
	    "\"sections\":[{\"rows\":[{\"id\":\"1\",\"title\":\"a\"},"
	    "{\"id\":\"2\",\"title\":\"a\"},{\"id\":\"3\",\"title\":\"a\"},"
	    "{\"id\":\"4\",\"title\":\"a\"},{\"id\":\"5\",\"title\":\"a\"},"
	    "{\"id\":\"6\",\"title\":\"a\"},{\"id\":\"7\",\"title\":\"a\"},"
	    "{\"id\":\"8\",\"title\":\"a\"},{\"id\":\"9\",\"title\":\"a\"},"
	    "{\"id\":\"10\",\"title\":\"a\"},{\"id\":\"11\",\"title\":\"a\"}]}]}}}",
	    &code), 400);
	CHECK_INT(code, 100);
	/* Meta's OpenAPI description (tests/standins/graph_server.py checks
	 * every body against it): recipient_type is required, and the caps
	 * above (3 buttons, titles of 20, 10 rows) are schema limits there,
	 * answered with code 100. */
	CHECK_INT(raw_send("{\"messaging_product\":\"whatsapp\",\"to\":\"" TO
	    "\",\"type\":\"text\",\"text\":{\"body\":\"hola\"}}", &code), 400);
	CHECK_INT(code, 100);
	CHECK_INT(raw_send("{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO
	    "\",\"type\":\"text\",\"text\":{\"body\":\"hola\"},"
	    "\"extra\":1}", &code), 400);
	CHECK_INT(code, 100);
	/* biz_opaque_callback_data: a string of at most 512 characters, on
	 * any message (Meta's messages reference); longer is refused. */
	n = snprintf(json, 8192, "{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO "\","
	    "\"type\":\"text\",\"text\":{\"body\":\"hola\"},"
	    "\"biz_opaque_callback_data\":\"");
	memset(json + n, 'c', 512);
	snprintf(json + n + 512, 8192 - (size_t)n - 512, "\"}");
	CHECK_INT(raw_send(json, &code), 200);
	CHECK_INT(count_of("/__sent"), 1);
	fresh();
	snprintf(json + n + 512, 8192 - (size_t)n - 512, "c\"}");
	CHECK_INT(raw_send(json, &code), 400);
	CHECK_INT(code, 100);
	CHECK_INT(raw_send("{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO
	    "\",\"type\":\"hologram\",\"hologram\":{}}", &code), 400);
	CHECK_INT(code, 100);
	CHECK_INT(raw_send("{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"" TO
	    "\",\"type\":\"document\",\"document\":{\"id\":\"424242\"}}", &code),
	    400);
	CHECK_INT(code, 100);
	CHECK_INT(count_of("/__sent"), 0);
	free(json);
}

/* ---- status webhooks from the stand-in ------------------------------ */

/* Accept one POST on lfd; return its body (malloc'd) and signature. */
static char *
accept_post(int lfd, char *sig, size_t siglen, size_t *blen)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n";
	struct pollfd p = { lfd, POLLIN, 0 };
	char *req = NULL, *hend = NULL, *body = NULL, *line;
	size_t len = 0, cap = 65536, clen = 0;
	int fd = -1;

	sig[0] = '\0';
	if (poll(&p, 1, 10000) != 1 || (fd = accept(lfd, NULL, NULL)) < 0)
		goto out;
	if ((req = malloc(cap + 1)) == NULL)
		goto out;
	for (;;) {
		struct pollfd q = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&q, 1, 5000) != 1 ||
		    (n = read(fd, req + len, cap - len)) <= 0)
			goto out;
		len += (size_t)n;
		req[len] = '\0';
		if ((hend = strstr(req, "\r\n\r\n")) == NULL)
			continue;
		clen = 0;
		for (line = strstr(req, "\r\n"); line != NULL && line < hend;
		    line = strstr(line + 2, "\r\n")) {
			char *end;
			if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
				clen = (size_t)strtoul(line + 17, &end, 10);
			else if (strncasecmp(line + 2, "X-Hub-Signature-256:",
			    20) == 0) {
				const char *v = line + 22;
				while (*v == ' ')
					v++;
				snprintf(sig, siglen, "%.*s",
				    (int)strcspn(v, "\r"), v);
			}
		}
		if (len >= (size_t)(hend + 4 - req) + clen)
			break;
		if (len == cap)
			goto out;
	}
	if ((body = malloc(clen + 1)) == NULL)
		goto out;
	memcpy(body, hend + 4, clen);
	body[clen] = '\0';
	*blen = clen;
	{
		ssize_t w = write(fd, ok, sizeof(ok) - 1);
		(void)w;
	}
out:
	free(req);
	if (fd >= 0)
		close(fd);
	return body;
}

static void
test_standin_status_webhooks(void)
{
	static const char *const want[] = { "sent", "delivered", "read" };
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	char hook[128], sig[160];
	struct wa_client c;
	struct wa_result r;
	struct standin_proc hooks;
	int lfd;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(lfd, 8) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
		CHECK(0);
		if (lfd >= 0)
			close(lfd);
		return;
	}
	snprintf(hook, sizeof(hook), "http://127.0.0.1:%d/cgi-bin/webhook",
	    ntohs(a.sin_port));
	CHECK(graph_start(&hooks, "graph-hooks", hook) == 0);
	if (hooks.pid <= 0) {
		close(lfd);
		return;
	}
	if (http(hooks.port, "POST", "/__control", "application/json", NULL,
	    "{\"status_delay\": 0.05}", NULL, NULL) != 200 ||
	    client_open(&c, hooks.port, TOKEN, PHONE_ID, NULL) != OV_OK) {
		CHECK(0);
		goto out;
	}
	CHECK_INT(wa_set_callback(&c, "ob:e-1", 0), OV_OK);
	CHECK_INT(wa_send_text(&c, TO, "Hola", &r), OV_OK);
	for (int i = 0; i < 3; i++) {
		struct wa_payload p;
		size_t blen = 0;
		char *body = accept_post(lfd, sig, sizeof(sig), &blen);

		CHECK(body != NULL);
		if (body == NULL)
			break;
		/* Signed like Meta, and our own webhook parser reads it. */
		CHECK_INT(hmac_verify_header(sig, body, blen, APP_SECRET), OV_OK);
		CHECK_INT(wa_payload_parse(body, blen, &p), OV_OK);
		CHECK_INT(p.n_statuses, 1);
		if (p.n_statuses == 1) {
			CHECK_STR(p.statuses[0].id, r.parts[0].wamid);
			CHECK_STR(p.statuses[0].status, want[i]);
			CHECK_STR(p.statuses[0].recipient, TO);
			/* Echoed as Meta does: which entry and part it was. */
			CHECK_STR(p.statuses[0].callback, "ob:e-1:0");
		}
		wa_payload_free(&p);
		free(body);
	}
	wa_client_free(&c);
out:
	standin_proc_stop(&hooks);
	close(lfd);
}

int
main(void)
{
	log_init("test_whatsapp");
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	unsetenv("OVIDIO_CONFIG");

	RUN(test_config_errors);
	RUN(test_label_fit);
	RUN(test_utf8);
	RUN(test_split_shapes);

	if (graph_start(&graph, "graph", NULL) != 0) {
		fprintf(stderr, "cannot start %s with %s\n", STANDIN,
		    STANDIN_PYTHON);
		check_tests_failed++;
	} else {
		RUN(test_text_arrives);
		RUN(test_long_text_paragraphs);
		RUN(test_callback_tags_each_part);
		RUN(test_buttons_payload);
		RUN(test_list_payload);
		RUN(test_rate_limit_retried);
		RUN(test_window_closed_not_retried);
		RUN(test_bad_token_is_config_error);
		RUN(test_rejected_not_retried);
		RUN(test_server_errors_bounded);
		RUN(test_slow_answer_within_budget);
		RUN(test_pdf_upload_then_document);
		RUN(test_pdf_upload_fails_link_fallback);
		RUN(test_template_payload);
		RUN(test_mark_read_typing);
		RUN(test_standin_validates_like_meta);
		RUN(test_standin_status_webhooks);
		standin_proc_stop(&graph);
	}
	curl_global_cleanup();
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	return check_finish();
}
