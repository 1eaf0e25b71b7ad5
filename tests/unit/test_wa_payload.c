/* Meta webhook payloads: the shared fixtures field by field, then hostile
 * and odd input (broken JSON, bad UTF-8, depth, size, malformed items). */
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "log.h"
#include "wa_payload.h"

static char fixdir[1024];

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static char *
fixture(const char *name, size_t *len)
{
	char path[1400];

	snprintf(path, sizeof(path), "%s/whatsapp/%s", fixdir, name);
	return slurp(path, len);
}

/* Parse a fixture; returns OV_* and fills p. */
static int
parse_fixture(const char *name, struct wa_payload *p)
{
	size_t len;
	char *body = fixture(name, &len);
	int rc;

	memset(p, 0, sizeof(*p));
	if (body == NULL) {
		fprintf(stderr, "  cannot read fixture %s under %s\n", name,
		    fixdir);
		return -1;
	}
	rc = wa_payload_parse(body, len, p);
	free(body);
	return rc;
}

static int
parse_str(const char *s, struct wa_payload *p)
{
	return wa_payload_parse(s, strlen(s), p);
}

/* Growing string for building payloads. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt,
		    ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (b->s != NULL && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			abort();
	}
}

#define HEAD "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\"," \
	"\"changes\":[{\"field\":\"messages\",\"value\":{\"messaging_product\":" \
	"\"whatsapp\",\"metadata\":{\"phone_number_id\":\"110000000000001\"},"
#define TAIL "}}]}]}"

/* Wrap messages JSON (the array's contents) in a full payload. */
static char *
payload_with_messages(const char *msgs)
{
	struct sbuf b = { NULL, 0, 0 };

	sb_add(&b, HEAD "\"messages\":[%s]" TAIL, msgs);
	return b.s;
}

static int
utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;

		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		p += n;
	}
	return 1;
}

static void
test_fixture_text(void)
{
	struct wa_payload p;

	CHECK_INT(parse_fixture("text.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	CHECK_INT(p.n_statuses, 0);
	CHECK_INT(p.n_skipped, 0);
	if (p.n_msgs == 1) {
		struct wa_message *m = &p.msgs[0];

		CHECK_STR(m->id, "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABIYFDNBMDFGRkE3QkY1MjM0NTY3ODkwAA==");
		CHECK_STR(m->from, "5493415551234");
		CHECK_INT(m->ts, 1764000000);
		CHECK_INT(m->kind, WA_TEXT);
		CHECK_STR(m->type, "text");
		CHECK_STR(m->text, "Hola, ¿tenés cámaras domo Dahua de 4 MP?");
		CHECK(m->reply_id == NULL);
		CHECK(m->context_id == NULL);
		CHECK_STR(m->profile_name, "Martín Gómez");
		CHECK_STR(m->phone_number_id, "110000000000001");
		CHECK(m->raw != NULL && m->raw[0] == '{');
		CHECK(m->raw != NULL && strstr(m->raw, m->id) != NULL);
		CHECK(m->raw != NULL && strstr(m->raw, "cámaras") != NULL);
	}
	wa_payload_free(&p);
	CHECK(p.msgs == NULL && p.n_msgs == 0);
}

static void
test_fixture_button_reply(void)
{
	struct wa_payload p;

	CHECK_INT(parse_fixture("button_reply.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		struct wa_message *m = &p.msgs[0];

		CHECK_STR(m->id, "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABIYFDNBMDM5OUFBQkNERUYwMTIzNDU2AA==");
		CHECK_INT(m->kind, WA_BUTTON_REPLY);
		CHECK_STR(m->type, "interactive");
		CHECK_STR(m->reply_id, "quote:confirm");
		CHECK_STR(m->text, "Sí, enviámelo");
		CHECK_STR(m->context_id, "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABEYEkJCMTIzNDU2Nzg5MEFCQ0QwMAA=");
		CHECK_INT(m->ts, 1764000120);
		CHECK_STR(m->from, "5493415551234");
		CHECK_STR(m->profile_name, "Martín Gómez");
	}
	wa_payload_free(&p);
}

static void
test_fixture_list_reply(void)
{
	struct wa_payload p;

	CHECK_INT(parse_fixture("interactive_list_reply.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		struct wa_message *m = &p.msgs[0];

		CHECK_STR(m->id, "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABIYFDNBMDI3QzE5MjBGQkE2NTQzMjEwAA==");
		CHECK_INT(m->kind, WA_LIST_REPLY);
		CHECK_STR(m->reply_id, "prod:10452");
		CHECK_STR(m->text, "Domo Dahua 4MP");
		CHECK_STR(m->context_id, "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABEYEkE5QjAwQzQ1RjI0MTFBQkMwMAA=");
		CHECK_INT(m->ts, 1764000065);
	}
	wa_payload_free(&p);
}

static void
test_fixture_image(void)
{
	struct wa_payload p;

	CHECK_INT(parse_fixture("image.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		CHECK_INT(p.msgs[0].kind, WA_IMAGE);
		CHECK_STR(p.msgs[0].type, "image");
		CHECK_STR(p.msgs[0].text, "¿Tienen este modelo?");
		CHECK_INT(p.msgs[0].ts, 1764000180);
		CHECK(p.msgs[0].reply_id == NULL);
	}
	wa_payload_free(&p);
}

static void
test_fixture_status(void)
{
	struct wa_payload p;

	CHECK_INT(parse_fixture("status_delivered.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 0);
	CHECK_INT(p.n_statuses, 1);
	CHECK_INT(p.n_skipped, 0);
	if (p.n_statuses == 1) {
		CHECK_STR(p.statuses[0].id, "wamid.HBgNNTQ5MzQxNTU1MTIzNBUCABEYEkE5QjAwQzQ1RjI0MTFBQkMwMAA=");
		CHECK_STR(p.statuses[0].status, "delivered");
		CHECK_INT(p.statuses[0].ts, 1764000070);
		CHECK_STR(p.statuses[0].recipient, "5493415551234");
		CHECK(p.statuses[0].error == NULL);
	}
	wa_payload_free(&p);
}

static void
test_fixture_batch(void)
{
	struct wa_payload p;

	CHECK_INT(parse_fixture("batch_two_senders.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 2);
	if (p.n_msgs == 2) {
		CHECK_STR(p.msgs[0].from, "5493415551234");
		CHECK_STR(p.msgs[0].text, "¿Cuánto debo?");
		CHECK_STR(p.msgs[0].profile_name, "Martín Gómez");
		CHECK_INT(p.msgs[0].ts, 1764000300);
		CHECK_STR(p.msgs[1].from, "5491144447777");
		CHECK_STR(p.msgs[1].text, "Necesito 10 fuentes 12V 5A");
		CHECK_STR(p.msgs[1].profile_name, "Lucía Fernández");
		CHECK_INT(p.msgs[1].ts, 1764000301);
		CHECK(strcmp(p.msgs[0].id, p.msgs[1].id) != 0);
	}
	wa_payload_free(&p);
}

/* Every file in the fixture directory: accepted by the webhook check and
 * parsed with something in it and nothing skipped. */
static void
test_every_fixture(void)
{
	char path[1200];
	struct dirent *de;
	int files = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/whatsapp", fixdir);
	d = opendir(path);
	CHECK(d != NULL);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct wa_payload p;
		size_t len;
		char *body;

		if (strstr(de->d_name, ".json") == NULL)
			continue;
		body = fixture(de->d_name, &len);
		CHECK(body != NULL);
		if (body == NULL)
			continue;
		files++;
		CHECK_INT(wa_payload_check(body, len), OV_OK);
		CHECK_INT(wa_payload_parse(body, len, &p), OV_OK);
		CHECK(p.n_msgs + p.n_statuses > 0);
		CHECK_INT(p.n_skipped, 0);
		for (size_t i = 0; i < p.n_msgs; i++) {
			CHECK(p.msgs[i].id[0] != '\0');
			CHECK(strlen(p.msgs[i].from) >= 6);
			CHECK(p.msgs[i].ts > 1700000000);
			CHECK(p.msgs[i].raw != NULL);
		}
		wa_payload_free(&p);
		free(body);
	}
	closedir(d);
	CHECK(files >= 6);
}

static void
test_bad_json(void)
{
	struct wa_payload p;
	size_t len;
	char *body = fixture("text.json", &len);

	CHECK(body != NULL);
	if (body == NULL)
		return;
	/* Truncated. */
	CHECK_INT(wa_payload_parse(body, len - 10, &p), OV_EPARSE);
	CHECK(p.msgs == NULL && p.n_msgs == 0);
	CHECK_INT(wa_payload_check(body, len - 10), OV_EPARSE);
	CHECK_INT(wa_payload_check(body, 1), OV_EPARSE);
	CHECK_INT(wa_payload_check(body, 0), OV_EPARSE);
	free(body);

	CHECK_INT(parse_str("", &p), OV_EPARSE);
	CHECK_INT(parse_str("not json", &p), OV_EPARSE);
	/* Trailing garbage after a valid document; white space is fine. */
	CHECK_INT(parse_str("{\"object\":\"whatsapp_business_account\"}x", &p),
	    OV_EPARSE);
	CHECK_INT(parse_str("{\"object\":\"whatsapp_business_account\"}{}", &p),
	    OV_EPARSE);
	CHECK_INT(parse_str("{\"object\":\"whatsapp_business_account\"}\r\n", &p),
	    OV_OK);
	CHECK_INT(p.n_msgs, 0);
	wa_payload_free(&p);
	/* An embedded NUL is not JSON. */
	CHECK_INT(wa_payload_parse("{\"object\":\"whatsapp_business_account\"}\0",
	    39, &p), OV_EPARSE);
}

static void
test_wrong_object(void)
{
	struct wa_payload p;

	CHECK_INT(parse_str("{\"object\":\"page\",\"entry\":[]}", &p), OV_EPARSE);
	CHECK_INT(wa_payload_check("{\"object\":\"page\"}", 17), OV_EPARSE);
	CHECK_INT(parse_str("{\"entry\":[]}", &p), OV_EPARSE);
	CHECK_INT(parse_str("{\"object\":1}", &p), OV_EPARSE);
	CHECK_INT(parse_str("[\"whatsapp_business_account\"]", &p), OV_EPARSE);
	CHECK_INT(parse_str("\"whatsapp_business_account\"", &p), OV_EPARSE);
	CHECK_INT(parse_str("{\"object\":\"WHATSAPP_BUSINESS_ACCOUNT\"}", &p),
	    OV_EPARSE);
	/* Right object, odd shapes underneath: nothing to read, no error. */
	CHECK_INT(parse_str("{\"object\":\"whatsapp_business_account\","
	    "\"entry\":{\"changes\":[]}}", &p), OV_OK);
	CHECK_INT(p.n_msgs, 0);
	wa_payload_free(&p);
	CHECK_INT(parse_str("{\"object\":\"whatsapp_business_account\","
	    "\"entry\":[1,null,{\"changes\":\"x\"},{\"changes\":[{\"value\":7}]}]}",
	    &p), OV_OK);
	CHECK_INT(p.n_msgs, 0);
	wa_payload_free(&p);
	/* messages that is not an array: counted as skipped. */
	CHECK_INT(parse_str("{\"object\":\"whatsapp_business_account\","
	    "\"entry\":[{\"changes\":[{\"value\":{\"messages\":{\"a\":1},"
	    "\"statuses\":\"x\"}}]}]}", &p), OV_OK);
	CHECK_INT(p.n_msgs, 0);
	CHECK_INT(p.n_skipped, 2);
	wa_payload_free(&p);
}

static void
test_bad_utf8(void)
{
	static const char *const bad[] = {
		"\xff",                 /* never valid */
		"\xe1",                 /* Latin-1 a-acute, lone */
		"\xc3",                 /* cut sequence */
		"\x80",                 /* lone continuation */
		"\xc0\xaf",             /* overlong '/' */
		"\xc1\xbf",             /* overlong */
		"\xe0\x80\xaf",         /* overlong, 3 bytes */
		"\xf0\x80\x80\xaf",     /* overlong, 4 bytes */
		"\xed\xa0\x80",         /* surrogate U+D800 */
		"\xed\xbf\xbf",         /* surrogate U+DFFF */
		"\xf4\x90\x80\x80",     /* U+110000 */
		"\xf5\x80\x80\x80",     /* over range lead byte */
		"\xe2\x82",             /* cut 3-byte */
	};
	struct wa_payload p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *body;
		struct sbuf b = { NULL, 0, 0 };

		sb_add(&b, "{\"from\":\"5493415551234\",\"id\":\"wamid.X\","
		    "\"timestamp\":\"1764000000\",\"type\":\"text\","
		    "\"text\":{\"body\":\"hola %s chau\"}}", bad[i]);
		body = payload_with_messages(b.s);
		free(b.s);
		if (wa_payload_parse(body, strlen(body), &p) != OV_EPARSE) {
			fprintf(stderr, "  accepted bad UTF-8 #%zu\n", i);
			CHECK(0);
			wa_payload_free(&p);
		}
		CHECK_INT(wa_payload_check(body, strlen(body)), OV_EPARSE);
		free(body);
	}

	/* The edges that are valid: U+007F, U+0080, U+07FF, U+0800, U+D7FF,
	 * U+E000, U+FFFF, U+10000, U+10FFFF, and an emoji. */
	char *body = payload_with_messages(
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.X\","
	    "\"timestamp\":\"1764000000\",\"type\":\"text\",\"text\":{\"body\":"
	    "\"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
	    "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xf0\x9f\x93\xb7\"}}");
	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1)
		CHECK_INT(strlen(p.msgs[0].text), 1 + 2 + 2 + 3 + 3 + 3 + 3 + 4 + 4 + 4);
	wa_payload_free(&p);
	free(body);

	/* An escaped lone surrogate is refused by cJSON itself. */
	body = payload_with_messages(
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.X\","
	    "\"timestamp\":\"1764000000\",\"type\":\"text\",\"text\":{\"body\":"
	    "\"a\\ud800b\"}}");
	CHECK(wa_payload_parse(body, strlen(body), &p) == OV_EPARSE ||
	    (p.n_msgs == 1 && utf8_ok(p.msgs[0].text)));
	wa_payload_free(&p);
	free(body);
}

static const char *
msg_json(struct sbuf *b, const char *from, int i, const char *text)
{
	sb_add(b, "{\"from\":\"%s\",\"id\":\"wamid.BULK%06d\",\"timestamp\":"
	    "\"%d\",\"type\":\"text\",\"text\":{\"body\":\"%s\"}}", from, i,
	    1764000000 + i, text);
	return b->s;
}

static void
test_big_payload(void)
{
	struct sbuf b = { NULL, 0, 0 };
	struct wa_payload p;
	int i, n = 0;

	sb_add(&b, HEAD "\"contacts\":[{\"profile\":{\"name\":\"Martín Gómez\"},"
	    "\"wa_id\":\"5493415551234\"},{\"profile\":{\"name\":\"Lucía\"},"
	    "\"wa_id\":\"5491144447777\"}],\"messages\":[");
	for (i = 0; b.len < 3 * 1000 * 1000; i++, n++) {
		if (i > 0)
			sb_add(&b, ",");
		msg_json(&b, i % 2 ? "5491144447777" : "5493415551234", i,
		    "Necesito cámaras domo de 4 MP para un depósito, ¿tenés stock?");
	}
	sb_add(&b, "]" TAIL);
	CHECK(b.len > 3000000 && b.len < WA_BODY_MAX);
	CHECK_INT(wa_payload_check(b.s, b.len), OV_OK);
	CHECK_INT(wa_payload_parse(b.s, b.len, &p), OV_OK);
	CHECK_INT(p.n_msgs, n);
	CHECK_INT(p.n_skipped, 0);
	if ((int)p.n_msgs == n && n > 2) {
		CHECK_STR(p.msgs[0].id, "wamid.BULK000000");
		CHECK_STR(p.msgs[0].profile_name, "Martín Gómez");
		CHECK_STR(p.msgs[n - 1].profile_name,
		    (n - 1) % 2 ? "Lucía" : "Martín Gómez");
		CHECK_INT(p.msgs[n - 1].ts, 1764000000 + n - 1);
		CHECK_STR(p.msgs[n - 1].text,
		    "Necesito cámaras domo de 4 MP para un depósito, ¿tenés stock?");
	}
	wa_payload_free(&p);

	/* Over WA_BODY_MAX: refused before parsing. */
	while (b.len <= WA_BODY_MAX)
		sb_add(&b, "                                                  ");
	CHECK_INT(wa_payload_parse(b.s, b.len, &p), OV_ETOOBIG);
	CHECK_INT(wa_payload_check(b.s, b.len), OV_EPARSE);
	free(b.s);
}

static void
test_deep_nesting(void)
{
	enum { DEPTH = 100000 };
	struct wa_payload p;
	char *s = malloc(2 * DEPTH + 1);
	struct sbuf b = { NULL, 0, 0 };
	char *body;
	int i;

	CHECK(s != NULL);
	if (s == NULL)
		return;
	memset(s, '[', DEPTH);
	CHECK_INT(wa_payload_parse(s, DEPTH, &p), OV_EPARSE);
	memset(s + DEPTH, ']', DEPTH);
	CHECK_INT(wa_payload_parse(s, 2 * DEPTH, &p), OV_EPARSE);
	CHECK_INT(wa_payload_check(s, 2 * DEPTH), OV_EPARSE);
	free(s);

	/* Deep inside a real payload: past cJSON's limit the whole body is
	 * refused; below it the message is read and its raw JSON printed. */
	sb_add(&b, "{\"from\":\"5493415551234\",\"id\":\"wamid.DEEP\","
	    "\"timestamp\":\"1764000000\",\"type\":\"text\",\"text\":{\"body\":"
	    "\"hola\"},\"extra\":");
	for (i = 0; i < 5000; i++)
		sb_add(&b, "{\"a\":");
	sb_add(&b, "1");
	for (i = 0; i < 5000; i++)
		sb_add(&b, "}");
	sb_add(&b, "}");
	body = payload_with_messages(b.s);
	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_EPARSE);
	free(body);
	free(b.s);

	memset(&b, 0, sizeof(b));
	sb_add(&b, "{\"from\":\"5493415551234\",\"id\":\"wamid.DEEP\","
	    "\"timestamp\":\"1764000000\",\"type\":\"text\",\"text\":{\"body\":"
	    "\"hola\"},\"extra\":");
	for (i = 0; i < 900; i++)
		sb_add(&b, "[");
	for (i = 0; i < 900; i++)
		sb_add(&b, "]");
	sb_add(&b, "}");
	body = payload_with_messages(b.s);
	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		CHECK_STR(p.msgs[0].text, "hola");
		CHECK(p.msgs[0].raw != NULL &&
		    strstr(p.msgs[0].raw, "[[[[") != NULL);
	}
	wa_payload_free(&p);
	free(body);
	free(b.s);
}

static void
test_malformed_messages_skipped(void)
{
	struct wa_payload p;
	char *body = payload_with_messages(
	    /* non-digit sender */
	    "{\"from\":\"+5493415551234\",\"id\":\"wamid.A\",\"timestamp\":\"1764000000\","
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    "{\"from\":\"54934155abc\",\"id\":\"wamid.B\",\"timestamp\":\"1764000000\","
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    /* sender too short, too long, a number */
	    "{\"from\":\"12345\",\"id\":\"wamid.C\",\"timestamp\":\"1764000000\","
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    "{\"from\":\"123456789012345678901\",\"id\":\"wamid.D\",\"timestamp\":\"1764000000\","
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    "{\"from\":5493415551234,\"id\":\"wamid.E\",\"timestamp\":\"1764000000\","
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    /* missing id, empty id */
	    "{\"from\":\"5493415551234\",\"timestamp\":\"1764000000\","
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"\",\"timestamp\":\"1764000000\","
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    /* bad timestamps */
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.F\",\"timestamp\":\"17a\","
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.G\",\"timestamp\":-1,"
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.H\",\"timestamp\":1.5,"
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.I\","
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.J\",\"timestamp\":1e300,"
	    "\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
	    /* text without body, no type, reply without id */
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.K\",\"timestamp\":\"1764000000\","
	    "\"type\":\"text\"},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.L\",\"timestamp\":\"1764000000\"},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.M\",\"timestamp\":\"1764000000\","
	    "\"type\":\"interactive\",\"interactive\":{\"type\":\"button_reply\","
	    "\"button_reply\":{\"title\":\"Sí\"}}},"
	    /* not an object */
	    "\"wamid.N\",null,"
	    /* and one good one, which must survive */
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.OK\",\"timestamp\":\"1764000000\","
	    "\"type\":\"text\",\"text\":{\"body\":\"bien\"}}");

	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	CHECK_INT(p.n_skipped, 17);
	if (p.n_msgs == 1) {
		CHECK_STR(p.msgs[0].id, "wamid.OK");
		CHECK_STR(p.msgs[0].text, "bien");
	}
	wa_payload_free(&p);
	free(body);

	/* An overlong id (over WA_ID_MAX) is skipped, not cut. */
	struct sbuf b = { NULL, 0, 0 };
	sb_add(&b, "{\"from\":\"5493415551234\",\"id\":\"");
	for (int i = 0; i < WA_ID_MAX + 1; i++)
		sb_add(&b, "x");
	sb_add(&b, "\",\"timestamp\":\"1764000000\",\"type\":\"audio\"}");
	body = payload_with_messages(b.s);
	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_OK);
	CHECK_INT(p.n_msgs, 0);
	CHECK_INT(p.n_skipped, 1);
	wa_payload_free(&p);
	free(body);
	free(b.s);
}

static void
test_huge_text_truncated(void)
{
	struct sbuf b = { NULL, 0, 0 };
	struct wa_payload p;
	char *body;
	size_t i;

	/* "x" then 2-byte letters: byte WA_TEXT_MAX falls inside one. */
	sb_add(&b, "{\"from\":\"5493415551234\",\"id\":\"wamid.HUGE\","
	    "\"timestamp\":\"1764000000\",\"type\":\"text\",\"text\":{\"body\":\"x");
	for (i = 0; i < 10000; i++)
		sb_add(&b, "á");
	sb_add(&b, "\"}}");
	body = payload_with_messages(b.s);
	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		const char *t = p.msgs[0].text;

		CHECK(t != NULL);
		CHECK_INT(strlen(t), WA_TEXT_MAX - 1);
		CHECK(utf8_ok(t));
		CHECK(t[0] == 'x' && memcmp(t + 1, "á", 2) == 0);
		CHECK(memcmp(t + strlen(t) - 2, "á", 2) == 0);
		/* raw stays whole while under its own bound. */
		CHECK(p.msgs[0].raw != NULL && strlen(p.msgs[0].raw) > 20000);
	}
	wa_payload_free(&p);
	free(body);
	free(b.s);

	/* Over WA_RAW_MAX, raw becomes a summary. */
	memset(&b, 0, sizeof(b));
	sb_add(&b, "{\"from\":\"5493415551234\",\"id\":\"wamid.HUGE2\","
	    "\"timestamp\":\"1764000000\",\"type\":\"text\",\"text\":{\"body\":\"");
	for (i = 0; i < 40000; i++)
		sb_add(&b, "ñ");
	sb_add(&b, "\"}}");
	body = payload_with_messages(b.s);
	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		CHECK_INT(strlen(p.msgs[0].text), WA_TEXT_MAX);
		CHECK(p.msgs[0].raw != NULL &&
		    strlen(p.msgs[0].raw) <= WA_RAW_MAX);
		CHECK(p.msgs[0].raw != NULL &&
		    strstr(p.msgs[0].raw, "\"truncated\":true") != NULL);
		CHECK(p.msgs[0].raw != NULL &&
		    strstr(p.msgs[0].raw, "wamid.HUGE2") != NULL);
	}
	wa_payload_free(&p);
	free(body);
	free(b.s);
}

static void
test_unknown_fields_any_order(void)
{
	struct wa_payload p;
	const char *s =
	    "{\"entry\":[{\"changes\":[{\"value\":{\"statuses\":[],"
	    "\"messages\":[{\"type\":\"text\",\"unknown\":{\"deep\":[1,{\"x\":null}]},"
	    "\"text\":{\"preview_url\":false,\"body\":\"orden\"},\"timestamp\":1764000999,"
	    "\"errors\":[],\"id\":\"wamid.ORDER\",\"from\":\"5493415551234\"}],"
	    "\"contacts\":[{\"wa_id\":\"5493415551234\",\"profile\":{\"name\":\"Ana\","
	    "\"extra\":1}}],\"metadata\":{\"phone_number_id\":\"999\","
	    "\"display_phone_number\":\"1\"},\"brand_new\":true},\"field\":\"messages\","
	    "\"more\":[]}],\"id\":\"1\",\"time\":1}],\"object\":\"whatsapp_business_account\","
	    "\"zzz\":{}}";

	CHECK_INT(parse_str(s, &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	CHECK_INT(p.n_skipped, 0);
	if (p.n_msgs == 1) {
		CHECK_STR(p.msgs[0].id, "wamid.ORDER");
		CHECK_STR(p.msgs[0].text, "orden");
		CHECK_INT(p.msgs[0].ts, 1764000999);  /* numeric timestamp */
		CHECK_STR(p.msgs[0].profile_name, "Ana");
		CHECK_STR(p.msgs[0].phone_number_id, "999");
	}
	wa_payload_free(&p);
}

static void
test_other_kinds(void)
{
	struct wa_payload p;
	char *body = payload_with_messages(
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.1\",\"timestamp\":\"1764000001\","
	    "\"type\":\"button\",\"button\":{\"payload\":\"PROMO_SI\",\"text\":\"Sí, quiero\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.2\",\"timestamp\":\"1764000002\","
	    "\"type\":\"reaction\",\"reaction\":{\"message_id\":\"wamid.OUT\",\"emoji\":\"\xf0\x9f\x91\x8d\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.3\",\"timestamp\":\"1764000003\","
	    "\"type\":\"audio\",\"audio\":{\"id\":\"1\",\"mime_type\":\"audio/ogg\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.4\",\"timestamp\":\"1764000004\","
	    "\"type\":\"document\",\"document\":{\"caption\":\"Lista de precios\",\"filename\":\"a.pdf\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.5\",\"timestamp\":\"1764000005\","
	    "\"type\":\"video\",\"video\":{\"id\":\"2\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.6\",\"timestamp\":\"1764000006\","
	    "\"type\":\"sticker\",\"sticker\":{}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.7\",\"timestamp\":\"1764000007\","
	    "\"type\":\"location\",\"location\":{\"latitude\":-32.9,\"longitude\":-60.6}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.8\",\"timestamp\":\"1764000008\","
	    "\"type\":\"contacts\",\"contacts\":[]},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.9\",\"timestamp\":\"1764000009\","
	    "\"type\":\"unsupported\",\"errors\":[{\"code\":131051}]},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.10\",\"timestamp\":\"1764000010\","
	    "\"type\":\"interactive\",\"interactive\":{\"type\":\"nfm_reply\"}},"
	    "{\"from\":\"5493415551234\",\"id\":\"wamid.11\",\"timestamp\":\"1764000011\","
	    "\"type\":\"reaction\",\"reaction\":{\"message_id\":\"wamid.OUT\"}}");

	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_OK);
	CHECK_INT(p.n_msgs, 11);
	CHECK_INT(p.n_skipped, 0);
	if (p.n_msgs == 11) {
		CHECK_INT(p.msgs[0].kind, WA_BUTTON);
		CHECK_STR(p.msgs[0].reply_id, "PROMO_SI");
		CHECK_STR(p.msgs[0].text, "Sí, quiero");
		CHECK_INT(p.msgs[1].kind, WA_REACTION);
		CHECK_STR(p.msgs[1].reply_id, "wamid.OUT");
		CHECK_STR(p.msgs[1].text, "\xf0\x9f\x91\x8d");
		CHECK_INT(p.msgs[2].kind, WA_AUDIO);
		CHECK(p.msgs[2].text == NULL);
		CHECK_INT(p.msgs[3].kind, WA_DOCUMENT);
		CHECK_STR(p.msgs[3].text, "Lista de precios");
		CHECK_STR(p.msgs[3].filename, "a.pdf");
		CHECK_STR(p.msgs[2].filename, "");
		CHECK_INT(p.msgs[4].kind, WA_VIDEO);
		CHECK(p.msgs[4].text == NULL);
		CHECK_INT(p.msgs[5].kind, WA_STICKER);
		CHECK_INT(p.msgs[6].kind, WA_LOCATION);
		CHECK_INT(p.msgs[7].kind, WA_CONTACTS);
		CHECK_INT(p.msgs[8].kind, WA_UNSUPPORTED);
		CHECK_STR(p.msgs[8].type, "unsupported");
		CHECK_INT(p.msgs[9].kind, WA_UNSUPPORTED);
		CHECK_STR(p.msgs[9].type, "interactive");
		CHECK_INT(p.msgs[10].kind, WA_REACTION);
		CHECK(p.msgs[10].text == NULL);   /* reaction removed */
		CHECK(p.msgs[3].profile_name == NULL);  /* no contacts[] */
	}
	wa_payload_free(&p);
	free(body);

	CHECK_STR(wa_kind_name(WA_TEXT), "text");
	CHECK_STR(wa_kind_name(WA_LIST_REPLY), "list_reply");
	CHECK_STR(wa_kind_name(WA_REACTION), "reaction");
	CHECK_STR(wa_kind_name((enum wa_kind)999), "unsupported");
}

static void
test_statuses_and_many_entries(void)
{
	struct wa_payload p;
	const char *s =
	    "{\"object\":\"whatsapp_business_account\",\"entry\":["
	    "{\"changes\":[{\"field\":\"messages\",\"value\":{\"statuses\":["
	    "{\"id\":\"wamid.S1\",\"status\":\"failed\",\"timestamp\":\"1764000100\","
	    "\"recipient_id\":\"5493415551234\",\"errors\":[{\"code\":131047,"
	    "\"title\":\"Re-engagement message\"}]},"
	    "{\"id\":\"wamid.S2\",\"status\":\"deleted\",\"timestamp\":\"1764000100\","
	    "\"recipient_id\":\"5493415551234\"},"
	    "{\"id\":\"wamid.S3\",\"status\":\"read\",\"timestamp\":\"1764000101\","
	    "\"recipient_id\":\"5491144447777\","
	    "\"biz_opaque_callback_data\":\"ob:turn-1#0:2\"}]}},"
	    "{\"field\":\"messages\",\"value\":{\"messages\":[{\"from\":\"5491144447777\","
	    "\"id\":\"wamid.M2\",\"timestamp\":\"1764000102\",\"type\":\"text\","
	    "\"text\":{\"body\":\"segundo cambio\"}}]}}]},"
	    "{\"changes\":[{\"field\":\"account_update\",\"value\":{\"messages\":["
	    "{\"from\":\"5491144447777\",\"id\":\"wamid.NO\",\"timestamp\":\"1\","
	    "\"type\":\"text\",\"text\":{\"body\":\"no\"}}]}},"
	    "{\"field\":\"messages\",\"value\":{\"statuses\":[{\"id\":\"wamid.S4\","
	    "\"status\":\"sent\",\"timestamp\":1764000103,\"recipient_id\":\"5491144447777\","
	    "\"biz_opaque_callback_data\":\"ob:\u00e9:0\"}],"
	    "\"messages\":[{\"from\":\"5493415551234\",\"id\":\"wamid.M3\","
	    "\"timestamp\":\"1764000104\",\"type\":\"text\",\"text\":{\"body\":\"tercera\"}}]}}]}]}";

	CHECK_INT(parse_str(s, &p), OV_OK);
	CHECK_INT(p.n_statuses, 3);
	CHECK_INT(p.n_msgs, 2);
	CHECK_INT(p.n_skipped, 1);
	if (p.n_statuses == 3) {
		CHECK_STR(p.statuses[0].status, "failed");
		CHECK_STR(p.statuses[0].error, "131047: Re-engagement message");
		CHECK_STR(p.statuses[1].id, "wamid.S3");
		CHECK_STR(p.statuses[1].status, "read");
		CHECK_STR(p.statuses[1].recipient, "5491144447777");
		CHECK(p.statuses[1].error == NULL);
		CHECK_STR(p.statuses[1].callback, "ob:turn-1#0:2");
		CHECK_STR(p.statuses[0].callback, "");
		CHECK_STR(p.statuses[2].status, "sent");
		CHECK_INT(p.statuses[2].ts, 1764000103);
		/* Not printable ASCII: not ours, none (the status stays). */
		CHECK_STR(p.statuses[2].callback, "");
	}
	if (p.n_msgs == 2) {
		CHECK_STR(p.msgs[0].text, "segundo cambio");
		CHECK_STR(p.msgs[1].text, "tercera");
		CHECK_STR(p.msgs[1].phone_number_id, "");
	}
	wa_payload_free(&p);
}


/* ---- identities and media (issue 11; tests/fixtures of this tree) ---- */

static int
parse_own(const char *name, struct wa_payload *p)
{
	char path[256], *body;
	size_t len;
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "tests/fixtures/%s", name);
	if ((body = slurp(path, &len)) == NULL)
		return -1;
	rc = wa_payload_parse(body, len, p);
	free(body);
	return rc;
}

static void
test_bsuid_only_sender(void)
{
	struct wa_payload p;

	CHECK_INT(parse_own("bsuid_only_text.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		CHECK_STR(p.msgs[0].from, "AR.1502576394655843");
		CHECK_STR(p.msgs[0].phone, "");
		CHECK_STR(p.msgs[0].user_id, "AR.1502576394655843");
		CHECK(p.msgs[0].username != NULL &&
		    strcmp(p.msgs[0].username, "lucia.seguridad") == 0);
		CHECK(p.msgs[0].profile_name != NULL &&
		    strcmp(p.msgs[0].profile_name, "Lucía") == 0);
	}
	wa_payload_free(&p);
	CHECK_INT(parse_own("phone_and_bsuid_text.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		CHECK_STR(p.msgs[0].from, "5493415550900");
		CHECK_STR(p.msgs[0].phone, "5493415550900");
		CHECK_STR(p.msgs[0].user_id, "AR.1502576394655843");
	}
	wa_payload_free(&p);
}

static void
test_bsuid_from_contacts_and_refusals(void)
{
	struct wa_payload p;
	char *body;

	/* The BSUID in contacts[] only; a bad BSUID or no sender at all is
	 * skipped, never half-filled. */
	body = strdup("{\"object\":\"whatsapp_business_account\",\"entry\":"
	    "[{\"changes\":[{\"field\":\"messages\",\"value\":{\"contacts\":"
	    "[{\"profile\":{\"name\":\"X\"},\"user_id\":\"US.1349120865\"}],"
	    "\"messages\":[{\"id\":\"wamid.a\",\"timestamp\":\"1\",\"type\":"
	    "\"text\",\"text\":{\"body\":\"hi\"}},{\"from_user_id\":"
	    "\"ar.bad\",\"id\":\"wamid.b\",\"timestamp\":\"1\",\"type\":"
	    "\"text\",\"text\":{\"body\":\"x\"}}]}}]}]}");
	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	CHECK_INT(p.n_skipped, 1);
	if (p.n_msgs == 1)
		CHECK_STR(p.msgs[0].from, "US.1349120865");
	wa_payload_free(&p);
	free(body);
	body = strdup("{\"object\":\"whatsapp_business_account\",\"entry\":"
	    "[{\"changes\":[{\"field\":\"messages\",\"value\":{"
	    "\"messages\":[{\"id\":\"wamid.a\",\"timestamp\":\"1\",\"type\":"
	    "\"text\",\"text\":{\"body\":\"hi\"}}]}}]}]}");
	CHECK_INT(wa_payload_parse(body, strlen(body), &p), OV_OK);
	CHECK_INT(p.n_msgs, 0);
	CHECK_INT(p.n_skipped, 1);
	wa_payload_free(&p);
	free(body);
	CHECK(wa_user_id_valid("AR.1502576394655843"));
	CHECK(wa_user_id_valid("US.ENT.11815799212886844830"));
	CHECK(!wa_user_id_valid("AR."));
	CHECK(!wa_user_id_valid("5493415551234"));
	CHECK(!wa_user_id_valid("AR.15025763946558431502576394655843"));
	CHECK(!wa_user_id_valid("AR.150/2576"));
}

static void
test_system_changes(void)
{
	struct wa_payload p;

	CHECK_INT(parse_own("user_changed_number.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		CHECK_INT(p.msgs[0].kind, WA_SYSTEM);
		CHECK_INT(p.msgs[0].sys_change, WA_SYS_NUMBER);
		CHECK_STR(p.msgs[0].from, "5493415550901");
		CHECK_STR(p.msgs[0].new_phone, "5493415550902");
		CHECK_STR(p.msgs[0].new_user_id, "AR.2000000000000002");
		CHECK_STR(p.msgs[0].prev_user_id, "AR.2000000000000001");
	}
	wa_payload_free(&p);
	CHECK_INT(parse_own("user_changed_user_id.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		CHECK_INT(p.msgs[0].sys_change, WA_SYS_USER_ID);
		CHECK_STR(p.msgs[0].from, "AR.3000000000000001");
		CHECK_STR(p.msgs[0].new_user_id, "AR.3000000000000002");
	}
	wa_payload_free(&p);
}

static void
test_media_references(void)
{
	struct wa_payload p;

	CHECK_INT(parse_own("voice_note.json", &p), OV_OK);
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		CHECK_INT(p.msgs[0].kind, WA_AUDIO);
		CHECK_STR(p.msgs[0].media_id, "7001");
		CHECK_STR(p.msgs[0].mime, "audio/ogg; codecs=opus");
		CHECK(p.msgs[0].voice);
	}
	wa_payload_free(&p);
	CHECK_INT(parse_own("image_list.json", &p), OV_OK);
	if (p.n_msgs == 1) {
		CHECK_INT(p.msgs[0].kind, WA_IMAGE);
		CHECK_STR(p.msgs[0].media_id, "7004");
		CHECK(p.msgs[0].text == NULL);
	}
	wa_payload_free(&p);
}

/* A document's file name is kept for the salesperson, cut on a
 * character when Meta sends a long one. */
static void
test_document_filename(void)
{
	struct wa_payload p;
	char name[400 * 2 + 8], *body;
	size_t o = 0;

	for (int i = 0; i < 200; i++) {
		memcpy(name + o, "\xc3\xa1", 2);   /* á */
		o += 2;
	}
	memcpy(name + o, ".pdf", 5);
	body = malloc(strlen(name) + 512);
	if (body == NULL)
		return;
	snprintf(body, strlen(name) + 512, "{\"from\":\"5493415551234\","
	    "\"id\":\"wamid.f1\",\"timestamp\":\"1764000001\",\"type\":"
	    "\"document\",\"document\":{\"id\":\"9001\",\"filename\":"
	    "\"%s\"}}", name);
	{
		char *whole = payload_with_messages(body);

		CHECK_INT(wa_payload_parse(whole, strlen(whole), &p), OV_OK);
		free(whole);
	}
	CHECK_INT(p.n_msgs, 1);
	if (p.n_msgs == 1) {
		CHECK_INT(strlen(p.msgs[0].filename), 254);  /* 127 × á */
		CHECK(memcmp(p.msgs[0].filename, name, 254) == 0);
		CHECK_STR(p.msgs[0].media_id, "9001");
	}
	wa_payload_free(&p);
	free(body);
}

int
main(void)
{
	const char *env = getenv("OVIDIO_FIXTURES");

	log_init("test_wa_payload");
	log_set_level(LOG_ERROR);   /* skip warnings are expected here */
	snprintf(fixdir, sizeof(fixdir), "%s",
	    env != NULL && *env != '\0' ? env : "../shared/fixtures");
	RUN(test_fixture_text);
	RUN(test_fixture_button_reply);
	RUN(test_fixture_list_reply);
	RUN(test_fixture_image);
	RUN(test_fixture_status);
	RUN(test_fixture_batch);
	RUN(test_every_fixture);
	RUN(test_bad_json);
	RUN(test_wrong_object);
	RUN(test_bad_utf8);
	RUN(test_big_payload);
	RUN(test_deep_nesting);
	RUN(test_malformed_messages_skipped);
	RUN(test_huge_text_truncated);
	RUN(test_unknown_fields_any_order);
	RUN(test_other_kinds);
	RUN(test_statuses_and_many_entries);
	RUN(test_bsuid_only_sender);
	RUN(test_bsuid_from_contacts_and_refusals);
	RUN(test_system_changes);
	RUN(test_media_references);
	RUN(test_document_filename);
	return check_finish();
}
