/*
 * test_media.c - issue 11 end to end through lib/bot, over HTTP against
 * the Graph, OpenAI and SMTP stand-ins, with webhook fixtures from
 * tests/fixtures/ parsed by lib/wa_payload:
 *   - identity: a BSUID-only customer answered at the BSUID; phone and
 *     BSUID joined; user_changed_number to another Cianbox customer's
 *     number drops the link, to the same customer's keeps it;
 *     user_changed_user_id followed; a 549... sender answered at 54...;
 *   - voice notes: transcribed, echoed, answered as typed; 429 then
 *     success; 500, empty text, a time-out and an oversized or too long
 *     audio refused kindly and flagged to the salesperson;
 *   - photos: the caption as text; a list read by the vision stand-in
 *     into cart lines; unmatched items handed to a person; no key or no
 *     vision model: a kind reply and a handoff; a PDF handed over.
 * With MONGODB_URI set it runs on MongoDB instead.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "bot.h"
#include "catalog.h"
#include "catalog_fixture.h"
#include "check.h"
#include "clock.h"
#include "config.h"
#include "customer.h"
#include "err.h"
#include "log.h"
#include "media.h"
#include "media_keep.h"
#include "standin.h"
#include "standin_http.h"
#include "store.h"
#include "transcribe.h"
#include "wa_payload.h"
#include "whatsapp.h"

#define TOKEN "test-media-graph-token"
#define PHONE_ID "110000000000001"
#define KEY "sk-test-media"
#define BSUID "AR.1502576394655843"

static const char *const graph_args[] = {
	"--token", TOKEN, "--phone-number-id", PHONE_ID, NULL
};
static const char *const openai_args[] = { "--key", KEY, NULL };

static char dir[] = "/tmp/ov_test_media.XXXXXX";
static char maildir[256];
static struct standin_proc graph, openai, smtp;
static struct config *cfg, *cfg_nokey;
static struct store *st;
static struct bot *bot, *bot_nokey;

/* ---- HTTP to the stand-ins -------------------------------------------- */

static char *
call(int port, const char *method, const char *path, const char *body)
{
	return standin_call(port, method, path, body);
}

static void
graph_control(const char *json)
{
	free(call(graph.port, "POST", "/__control", json));
}

static void
openai_script(const char *path, const char *json)
{
	free(call(openai.port, "POST", path, json));
}

/* Every accepted message to `to` (the wa_id Meta files it under, or a
 * BSUID) after the first `skip`, one payload per line; *count of them. */
static char *
received(const char *to, int skip, int *count)
{
	char *raw = call(graph.port, "GET", "/__sent", NULL), *out;
	cJSON *all = raw ? cJSON_Parse(raw) : NULL, *e;
	size_t len = 0, cap = 65536;
	int n = 0;

	free(raw);
	out = calloc(1, cap);
	*count = 0;
	if (out == NULL)
		goto done;
	cJSON_ArrayForEach(e, all) {
		const cJSON *kind = cJSON_GetObjectItem(e, "kind");
		const cJSON *dest = cJSON_GetObjectItem(e, "to");
		char *s;

		if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "message") ||
		    !cJSON_IsString(dest) || strcmp(dest->valuestring, to))
			continue;
		if (n++ < skip)
			continue;
		(*count)++;
		s = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "payload"));
		if (s != NULL && len + strlen(s) + 2 < cap) {
			memcpy(out + len, s, strlen(s));
			len += strlen(s);
			out[len++] = '\n';
		}
		free(s);
	}
done:
	cJSON_Delete(all);
	return out;
}

static char *
slurp_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static int
mails(void)
{
	DIR *d = opendir(maildir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".json") != NULL &&
		    strstr(de->d_name, ".tmp") == NULL)
			n++;
	closedir(d);
	return n;
}

/* True when some e-mail the SMTP stand-in kept holds `what`. */
static bool
mail_has(const char *what)
{
	DIR *d = opendir(maildir);
	struct dirent *de;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		char path[512], *text;

		if (strstr(de->d_name, ".json") == NULL ||
		    strstr(de->d_name, ".tmp") != NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", maildir, de->d_name);
		if ((text = slurp_file(path)) != NULL &&
		    strstr(text, what) != NULL)
			found = true;
		free(text);
	}
	closedir(d);
	return found;
}

/* The stand-in's recorded requests whose path holds `path`. */
static int
requests_to(int port, const char *path)
{
	char *raw = call(port, "GET", "/__requests", NULL);
	cJSON *all = raw ? cJSON_Parse(raw) : NULL, *e;
	int n = 0;

	cJSON_ArrayForEach(e, all) {
		const cJSON *p = cJSON_GetObjectItem(e, "path");

		if (cJSON_IsString(p) && strstr(p->valuestring, path) != NULL)
			n++;
	}
	cJSON_Delete(all);
	free(raw);
	return n;
}

/* ---- fixtures through the parser into a turn --------------------------- */

/* One fixture's messages as one turn of b; the message ids get `tag`
 * appended so a fixture can be played again. */
static const char *play_as;   /* another sender's number, or NULL */

static int
play(struct bot *b, const char *fixture, const char *tag)
{
	char path[256], *json;
	struct wa_payload p;
	const struct wa_message *v[8];
	int rc;

	snprintf(path, sizeof(path), "tests/fixtures/%s", fixture);
	if ((json = slurp_file(path)) == NULL)
		return OV_EIO;
	rc = wa_payload_parse(json, strlen(json), &p);
	free(json);
	if (rc != OV_OK)
		return rc;
	if (p.n_msgs == 0 || p.n_msgs > 8) {
		wa_payload_free(&p);
		return OV_EPARSE;
	}
	for (size_t i = 0; i < p.n_msgs; i++) {
		struct store_msg sm;
		enum store_claim claim;

		if (play_as != NULL) {
			snprintf(p.msgs[i].from, sizeof(p.msgs[i].from), "%s",
			    play_as);
			snprintf(p.msgs[i].phone, sizeof(p.msgs[i].phone), "%s",
			    play_as);
		}
		if (tag != NULL)
			snprintf(p.msgs[i].id + strlen(p.msgs[i].id),
			    sizeof(p.msgs[i].id) - strlen(p.msgs[i].id), "%s",
			    tag);
		memset(&sm, 0, sizeof(sm));
		snprintf(sm.id, sizeof(sm.id), "%s", p.msgs[i].id);
		snprintf(sm.wa_id, sizeof(sm.wa_id), "%s", p.msgs[i].from);
		sm.ts = p.msgs[i].ts;
		snprintf(sm.type, sizeof(sm.type), "%s",
		    wa_kind_name(p.msgs[i].kind));
		if (store_inbound_claim(st, &sm, p.msgs[i].ts, 300, &claim) !=
		    OV_OK) {
			wa_payload_free(&p);
			return OV_ESTORE;
		}
		v[i] = &p.msgs[i];
	}
	rc = bot_turn(b, v, p.n_msgs);
	wa_payload_free(&p);
	return rc;
}

/* What the worker kept of a message for the salesperson: false when the
 * message notes no copy or the copy is gone. */
static bool
kept_of(const char *msg_id, struct media_kept *k)
{
	struct store_msg m;
	char kdir[600];
	bool found = false, ok = false;

	snprintf(kdir, sizeof(kdir), "%s/media", dir);
	if (store_msg_get(st, msg_id, &m, &found) == OV_OK && found &&
	    m.media[0] != '\0')
		ok = media_keep_info(kdir, m.media, k) == OV_OK;
	store_msg_clear(&m);
	return ok;
}

/* ---- the catalogs --------------------------------------------------------- */

static int
load_catalogs(void)
{
	struct store_catalog_writer *w = NULL;
	struct cianbox_cliente c;
	int rc;

	if ((rc = store_catalog_begin(st, CATALOG_NAME, &w)) != OV_OK)
		return rc;
	if ((rc = put_fixture_products(w)) != OV_OK)
		goto fail;
	if ((rc = store_catalog_commit(w)) != OV_OK)
		return rc;
	/* Two Cianbox customers: Ana (two numbers) and another. */
	if ((rc = store_catalog_begin(st, CUSTOMER_CATALOG, &w)) != OV_OK)
		return rc;
	memset(&c, 0, sizeof(c));
	c.id = 501;
	snprintf(c.razon, sizeof(c.razon), "Ana Seguridad SRL");
	snprintf(c.celular, sizeof(c.celular), "341 555-0901");
	snprintf(c.telefono, sizeof(c.telefono), "0341 155550905 / 341 "
	    "5550906");
	c.ctacte = true;
	c.saldo = 1234.5;
	snprintf(c.tipo_documento, sizeof(c.tipo_documento), "CUIT");
	snprintf(c.numero_documento, sizeof(c.numero_documento),
	    "20284567898");
	if ((rc = customer_client_put(w, &c, 1764000000)) != OV_OK)
		goto fail;
	memset(&c, 0, sizeof(c));
	c.id = 502;
	snprintf(c.razon, sizeof(c.razon), "Otro Cliente SA");
	snprintf(c.celular, sizeof(c.celular), "341 555-0902");
	c.ctacte = true;
	c.saldo = 999;
	if ((rc = customer_client_put(w, &c, 1764000000)) != OV_OK)
		goto fail;
	return store_catalog_commit(w);
fail:
	store_catalog_abort(w);
	return rc;
}

/* A fake Ogg/Opus voice note of `seconds` (its last page's granule at
 * 48 kHz), base64 for the stand-in. */
static void
ogg_b64(long seconds, char *out, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char d[96];
	unsigned long long g = (unsigned long long)seconds * 48000;
	size_t o = 0;

	memset(d, 0, sizeof(d));
	memcpy(d, "OggS", 4);
	memcpy(d + 48, "OggS", 4);
	for (int k = 0; k < 8; k++)
		d[48 + 6 + k] = (unsigned char)(g >> (8 * k));
	for (size_t i = 0; i < sizeof(d) && o + 5 < len; i += 3) {
		unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 |
		    d[i + 2];

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	out[o] = '\0';
}

static void
voice_media(const char *id, long seconds)
{
	char b64[256], ctl[512];

	ogg_b64(seconds, b64, sizeof(b64));
	snprintf(ctl, sizeof(ctl), "{\"inbound_media\": {\"%s\": {\"mime_type\":"
	    " \"audio/ogg\", \"data_b64\": \"%s\"}}}", id, b64);
	graph_control(ctl);
}

/* ---- identity -------------------------------------------------------------- */

static void
test_bsuid_only_answered_at_the_bsuid(void)
{
	char *got;
	int n = 0;
	struct store_conv sc;
	bool found = false;

	CHECK_INT(play(bot, "bsuid_only_text.json", NULL), OV_OK);
	got = received(BSUID, 0, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "\"to\":\"" BSUID "\"") != NULL);
	CHECK(strstr(got, "Fuente switching 12V 5A") != NULL);
	free(got);
	CHECK_INT(store_conv_get(st, BSUID, &sc, &found), OV_OK);
	CHECK(found);
	store_conv_clear(&sc);
}

static void
test_phone_and_bsuid_joined(void)
{
	struct store_conv sc;
	struct store_identity id;
	bool found = true;
	char *got;
	int n = 0, before;

	free(received("5493415550900", 0, &before));
	CHECK_INT(play(bot, "phone_and_bsuid_text.json", NULL), OV_OK);
	/* The BSUID's conversation went to the phone: "la de 10A" follows
	 * the search it made as a BSUID. */
	got = received("5493415550900", before, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "\"to\":\"543415550900\"") != NULL);
	CHECK(strstr(got, "10A") != NULL);
	free(got);
	CHECK_INT(store_conv_get(st, BSUID, &sc, &found), OV_OK);
	CHECK(!found);
	store_conv_clear(&sc);
	CHECK_INT(store_conv_get(st, "5493415550900", &sc, &found), OV_OK);
	CHECK(found);
	store_conv_clear(&sc);
	CHECK_INT(store_identity_get(st, BSUID, &id, &found), OV_OK);
	CHECK(found);
	CHECK_STR(id.phone, "5493415550900");
	/* The BSUID alone now reaches the phone. */
	free(received("5493415550900", 0, &before));
	CHECK_INT(play(bot, "bsuid_only_again.json", NULL), OV_OK);
	free(received("5493415550900", before, &n));
	CHECK(n >= 1);
	free(received(BSUID, 0, &before));
	CHECK_INT(play(bot, "bsuid_only_again.json", "-b"), OV_OK);
	free(received(BSUID, before, &n));
	CHECK_INT(n, 0);
}

/* A text from `who` as a hand-made message (test_bot's way). */
static int
say_as(const char *who, const char *text, int seq)
{
	struct wa_message m;
	const struct wa_message *v[1] = { &m };
	struct store_msg sm;
	enum store_claim claim;

	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "wamid.test-media-%s-%d", who, seq);
	snprintf(m.from, sizeof(m.from), "%s", who);
	if (store_key_is_phone(who))
		snprintf(m.phone, sizeof(m.phone), "%s", who);
	else
		snprintf(m.user_id, sizeof(m.user_id), "%s", who);
	m.ts = 1764001000 + seq;
	m.kind = WA_TEXT;
	m.text = (char *)text;
	memset(&sm, 0, sizeof(sm));
	snprintf(sm.id, sizeof(sm.id), "%s", m.id);
	snprintf(sm.wa_id, sizeof(sm.wa_id), "%s", who);
	sm.ts = m.ts;
	snprintf(sm.type, sizeof(sm.type), "text");
	if (store_inbound_claim(st, &sm, m.ts, 300, &claim) != OV_OK)
		return OV_ESTORE;
	return bot_turn(bot, v, 1);
}

static void
test_changed_number_to_another_customer_drops_the_link(void)
{
	struct store_customer c;
	struct store_identity id;
	struct store_conv sc;
	bool found = false;
	char *got;
	int n = 0, before;

	CHECK_INT(say_as("5493415550901", "hola", 1), OV_OK);
	CHECK_INT(store_customer_get(st, "5493415550901", &c, &found), OV_OK);
	CHECK(found && c.cianbox_id == 501 && c.verified);
	store_customer_clear(&c);
	free(received("5493415550902", 0, &before));
	CHECK_INT(play(bot, "user_changed_number.json", NULL), OV_OK);
	/* No reply to a system message. */
	free(received("5493415550902", before, &n));
	CHECK_INT(n, 0);
	CHECK_INT(store_conv_get(st, "5493415550901", &sc, &found), OV_OK);
	CHECK(!found);
	store_conv_clear(&sc);
	CHECK_INT(store_conv_get(st, "5493415550902", &sc, &found), OV_OK);
	CHECK(found);
	store_conv_clear(&sc);
	CHECK_INT(store_customer_get(st, "5493415550902", &c, &found), OV_OK);
	CHECK(found && c.cianbox_id == 0 && !c.verified);
	store_customer_clear(&c);
	CHECK_INT(store_identity_get(st, "5493415550902", &id, &found), OV_OK);
	CHECK(found && id.hold);
	CHECK_INT(store_identity_get(st, "AR.2000000000000002", &id, &found),
	    OV_OK);
	CHECK(found);
	CHECK_STR(id.phone, "5493415550902");
	/* The new number is Otro Cliente SA's on file, but nobody's account
	 * is shown: not Ana's, not theirs. */
	CHECK_INT(say_as("5493415550902", "cuál es mi saldo?", 2), OV_OK);
	got = received("5493415550902", before, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "999") == NULL);
	CHECK(strstr(got, "1.234") == NULL);
	free(got);
	CHECK_INT(store_customer_get(st, "5493415550902", &c, &found), OV_OK);
	CHECK(found && c.cianbox_id == 0);
	store_customer_clear(&c);
}

static void
test_changed_number_same_customer_keeps_the_link(void)
{
	struct store_customer c;
	bool found = false;

	CHECK_INT(say_as("5493415550905", "hola", 3), OV_OK);
	CHECK_INT(store_customer_get(st, "5493415550905", &c, &found), OV_OK);
	CHECK(found && c.cianbox_id == 501);
	store_customer_clear(&c);
	CHECK_INT(play(bot, "user_changed_number_same.json", NULL), OV_OK);
	CHECK_INT(store_customer_get(st, "5493415550906", &c, &found), OV_OK);
	CHECK(found && c.cianbox_id == 501);
	store_customer_clear(&c);
}

static void
test_changed_user_id_followed(void)
{
	struct store_conv sc;
	struct store_identity id;
	bool found = false;

	/* A BSUID-only customer... */
	CHECK_INT(store_conv_lease(st, "AR.3000000000000001", "t", 1, 2,
	    &found), OV_OK);
	CHECK_INT(store_conv_release(st, "AR.3000000000000001", "t"), OV_OK);
	CHECK_INT(play(bot, "user_changed_user_id.json", NULL), OV_OK);
	CHECK_INT(store_conv_get(st, "AR.3000000000000001", &sc, &found),
	    OV_OK);
	CHECK(!found);
	store_conv_clear(&sc);
	CHECK_INT(store_conv_get(st, "AR.3000000000000002", &sc, &found),
	    OV_OK);
	CHECK(found);
	store_conv_clear(&sc);
	CHECK_INT(store_identity_get(st, "AR.3000000000000002", &id, &found),
	    OV_OK);
	CHECK(found);
}

/* Without a phone a CUIT names the customer for prices, never for the
 * account. */
static void
test_phoneless_customer_never_sees_account_data(void)
{
	const char *who = "AR.7000000000000001";
	struct store_customer c;
	bool found = false;
	char *got;
	int n = 0;

	CHECK_INT(say_as(who, "hola, mi cuit es 20-28456789-8", 10), OV_OK);
	CHECK_INT(say_as(who, "cuál es mi saldo?", 11), OV_OK);
	got = received(who, 0, &n);
	CHECK(n >= 2);
	CHECK(strstr(got, "Por seguridad, el saldo") != NULL);
	CHECK(strstr(got, "1.234") == NULL);
	CHECK(strstr(got, "\"to\":\"AR.7000000000000001\"") != NULL);
	free(got);
	CHECK_INT(store_customer_get(st, who, &c, &found), OV_OK);
	CHECK(!found || !c.verified);
	if (found)
		store_customer_clear(&c);
}

static void
test_549_sender_answered_at_54(void)
{
	char *raw, *got;
	int n = 0;

	graph_control("{\"reject_549\": true}");
	CHECK_INT(play(bot, "text_549.json", NULL), OV_OK);
	got = received("5493415550903", 0, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "\"to\":\"543415550903\"") != NULL);
	free(got);
	raw = call(graph.port, "GET", "/__requests", NULL);
	CHECK(raw != NULL && strstr(raw, "131030") == NULL);
	free(raw);
	graph_control("{\"reject_549\": false}");
}

/* ---- voice notes ----------------------------------------------------------- */

static void
test_voice_note_echo_and_product(void)
{
	char *raw, *got;
	int n = 0;

	voice_media("7001", 4);
	openai_script("/__script_audio", "[{\"http\": 429, \"retry_after\": 0},"
	    " {\"text\": \"Hola, ¿tienen fuente 12V 5A?\"}]");
	CHECK_INT(play(bot, "voice_note.json", NULL), OV_OK);
	got = received("5493415550910", 0, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "🎤 Entendí: «Hola, ¿tienen fuente 12V 5A?»") !=
	    NULL);
	CHECK(strstr(got, "Fuente switching 12V 5A") != NULL);
	/* The echo comes first. */
	CHECK(got != NULL && strstr(got, "🎤") < strstr(got, "Fuente switching"));
	free(got);
	raw = call(openai.port, "GET", "/__requests", NULL);
	CHECK(raw != NULL && strstr(raw, "\"model\": \"gpt-4o-mini-transcribe\"")
	    != NULL);
	CHECK(raw != NULL && strstr(raw, "\"language\": \"es\"") != NULL);
	CHECK(raw != NULL && strstr(raw, "\"filename\": \"audio.ogg\"") != NULL);
	CHECK(raw != NULL && strstr(raw, "Hikvision") != NULL);
	CHECK(raw != NULL && strstr(raw, KEY) == NULL);
	free(raw);
	CHECK_INT(requests_to(openai.port, "/audio/transcriptions"), 2);
	/* The transcript stands in the history (the inbox, the model);
	 * understood, the note is not kept. */
	{
		struct store_msg m;
		struct media_kept k;
		bool found = false;

		CHECK_INT(store_msg_get(st, "wamid.voice-1", &m, &found), OV_OK);
		CHECK(found);
		CHECK_STR(m.body, "🎤 Hola, ¿tienen fuente 12V 5A?");
		CHECK_STR(m.type, "audio");
		store_msg_clear(&m);
		CHECK(!kept_of("wamid.voice-1", &k));
	}
}

/* Kind reply asking to write, and the salesperson told; the bot keeps
 * the conversation (the next text is answered). */
static void
voice_refused(const char *tag, const char *expect, bool transcribed)
{
	char *got, tagged[64];
	int n = 0, before, m0 = mails(), r0;

	(void)transcribed;
	free(received("5493415550910", 0, &before));
	r0 = requests_to(openai.port, "/audio/transcriptions");
	snprintf(tagged, sizeof(tagged), "-%s", tag);
	CHECK_INT(play(bot, "voice_note.json", tagged), OV_OK);
	got = received("5493415550910", before, &n);
	CHECK_INT(n, 1);
	CHECK(strstr(got, expect) != NULL);
	CHECK(strstr(got, "Igual ya le avisé a un vendedor") != NULL);
	CHECK(strstr(got, "Entendí") == NULL);
	free(got);
	CHECK_INT(mails(), m0 + 1);
	(void)r0;
}

static void
test_voice_failures_are_kind(void)
{
	int r0;

	/* 500 on every try. */
	voice_media("7001", 4);
	openai_script("/__script_audio", "[{\"http\": 500}, {\"http\": 500}]");
	voice_refused("500", "No pude entender el audio", true);
	/* Nothing heard. */
	openai_script("/__script_audio", "[{\"text\": \"\"}]");
	voice_refused("empty", "No pude entender el audio", true);
	/* No answer in time (MEDIA_TIMEOUT_MS is 1500 here). */
	openai_script("/__script_audio", "[{\"sleep\": 3}, {\"sleep\": 3}]");
	voice_refused("slow", "No pude entender el audio", true);
	/* Over TRANSCRIBE_MAX_SECONDS: not even sent to the model. */
	voice_media("7001", 200);
	openai_script("/__script_audio", "[]");
	r0 = requests_to(openai.port, "/audio/transcriptions");
	voice_refused("long", "El audio es largo para mí", false);
	CHECK_INT(requests_to(openai.port, "/audio/transcriptions"), r0);
	/* Meta does not know the media. */
	graph_control("{\"reset\": true}");
	voice_refused("gone", "No pude entender el audio", false);
}

static void
test_oversized_audio_refused_kindly(void)
{
	char *got;
	int n = 0;

	graph_control("{\"inbound_media\": {\"7002\": {\"mime_type\": "
	    "\"audio/ogg\", \"size\": 64, \"file_size\": 17000000}}}");
	CHECK_INT(play(bot, "voice_note_big.json", NULL), OV_OK);
	got = received("5493415550911", 0, &n);
	CHECK_INT(n, 1);
	CHECK(strstr(got, "El audio es largo para mí") != NULL);
	free(got);
	/* Refused on Meta's word: never downloaded. */
	CHECK_INT(requests_to(graph.port, "/__download/7002"), 0);
}

/* ---- photos and files ----------------------------------------------------- */

static void
test_photo_caption_is_the_message(void)
{
	char *got;
	int n = 0, v0 = requests_to(openai.port, "/chat/completions");

	CHECK_INT(play(bot, "image_caption.json", NULL), OV_OK);
	got = received("5493415550912", 0, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "Fuente switching 12V 5A") != NULL);
	CHECK(strstr(got, "no puedo ver") == NULL);
	free(got);
	CHECK_INT(requests_to(openai.port, "/chat/completions"), v0);
}

static void
test_list_photo_becomes_cart_lines(void)
{
	char *got, *raw;
	int n = 0, before;
	struct store_conv sc;
	bool found = false;

	graph_control("{\"inbound_media\": {\"7004\": {\"mime_type\": "
	    "\"image/jpeg\", \"data_b64\": \"/9j/4AAQSkZJRgABAQ==\"}}}");
	openai_script("/__script", "[{\"content\": \"{\\\"items\\\": ["
	    "{\\\"producto\\\": \\\"fuente 12v 5a\\\", \\\"cantidad\\\": 2}, "
	    "{\\\"producto\\\": \\\"camara domo dahua 4mp\\\", \\\"cantidad\\\": 3}"
	    "]}\"}]");
	CHECK_INT(play(bot, "image_list.json", NULL), OV_OK);
	got = received("5493415550913", 0, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "Encontré esto en tu foto: 2 × fuente 12v 5a, 3 × "
	    "camara domo dahua 4mp") != NULL);
	CHECK(strstr(got, "Tu pedido:") != NULL);
	CHECK(strstr(got, "2 × Fuente switching 12V 5A") != NULL);
	CHECK(strstr(got, "3 × Cámara Domo Dahua 4MP") != NULL);
	free(got);
	raw = call(openai.port, "GET", "/__requests", NULL);
	CHECK(raw != NULL && strstr(raw, "data:image/jpeg;base64,") != NULL);
	free(raw);
	CHECK_INT(store_conv_get(st, "5493415550913", &sc, &found), OV_OK);
	CHECK(found && sc.doc != NULL && strstr(sc.doc, "10477") != NULL);
	store_conv_clear(&sc);
	/* Unreadable items: a person gets the photo. */
	free(received("5493415550913", 0, &before));
	openai_script("/__script", "[{\"content\": \"{\\\"items\\\": ["
	    "{\\\"producto\\\": \\\"bomba de agua\\\", \\\"cantidad\\\": 1}]}\"}]");
	CHECK_INT(play(bot, "image_list.json", "-2"), OV_OK);
	got = received("5493415550913", before, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "Leí en tu foto: 1 × bomba de agua") != NULL);
	CHECK(strstr(got, "vendedor") != NULL);
	free(got);
	CHECK_INT(store_conv_get(st, "5493415550913", &sc, &found), OV_OK);
	CHECK(found && strcmp(sc.owner, "agent") == 0);
	store_conv_clear(&sc);
}

/* The vision model failing (500 twice) is an unreadable photo. */
static void
test_vision_failure_hands_the_photo_over(void)
{
	char *got;
	int n = 0;

	graph_control("{\"inbound_media\": {\"7004\": {\"mime_type\": "
	    "\"image/jpeg\", \"data_b64\": \"/9j/4AAQSkZJRgABAQ==\"}}}");
	openai_script("/__script", "[{\"http\": 500}, {\"http\": 500}]");
	play_as = "5493415550917";
	CHECK_INT(play(bot, "image_list.json", "-vision500"), OV_OK);
	play_as = NULL;
	got = received("5493415550917", 0, &n);
	CHECK(n >= 1);
	CHECK(strstr(got, "No pude leer productos en la foto") != NULL);
	free(got);
	CHECK(mail_has("Foto del cliente (media 7004): ilegible"));
}

static void
test_no_key_kind_reply_and_handoff(void)
{
	char *got;
	int n = 0, before, m0 = mails();
	struct store_conv sc;
	bool found = false;

	/* Voice: asked to write, salesperson told. */
	free(received("5493415550910", 0, &before));
	CHECK_INT(play(bot_nokey, "voice_note.json", "-nokey"), OV_OK);
	got = received("5493415550910", before, &n);
	CHECK_INT(n, 1);
	CHECK(strstr(got, "Todavía no puedo escuchar audios") != NULL);
	CHECK(strstr(got, "Igual ya le avisé a un vendedor") != NULL);
	free(got);
	CHECK_INT(mails(), m0 + 1);
	/* A photo without caption and no vision: handed to a person. */
	play_as = "5493415550916";
	CHECK_INT(play(bot_nokey, "image_list.json", "-nokey"), OV_OK);
	play_as = NULL;
	got = received("5493415550916", 0, &n);
	CHECK(strstr(got, "Todavía no puedo verlas") != NULL);
	free(got);
	CHECK_INT(mails(), m0 + 2);
	/* A PDF: acknowledged and handed over. */
	graph_control("{\"inbound_media\": {\"7005\": {\"mime_type\": "
	    "\"application/pdf\", \"data_b64\": \"JVBERi0xLjQK\"}}}");
	CHECK_INT(play(bot_nokey, "document_pdf.json", NULL), OV_OK);
	got = received("5493415550914", 0, &n);
	CHECK(strstr(got, "Recibí el archivo") != NULL);
	free(got);
	CHECK_INT(store_conv_get(st, "5493415550914", &sc, &found), OV_OK);
	CHECK(found && strcmp(sc.owner, "agent") == 0);
	store_conv_clear(&sc);
	CHECK_INT(mails(), m0 + 3);
	/* The salesperson can find the file: Meta's media id is named. */
	CHECK(mail_has("Documento del cliente (media 7005)"));
	CHECK(mail_has("Nota de voz que Ovidio no pudo transcribir"));
	/* Kept for them: the PDF whole, under its name; the photo and the
	 * voice note Meta no longer had, as not downloaded. */
	{
		struct media_kept k;
		struct stat sb;
		char kdir[600], buf[64];
		int fd = -1;
		ssize_t r = 0;

		CHECK(kept_of("wamid.document-1", &k));
		CHECK(!k.failed);
		CHECK_STR(k.filename, "presupuesto-competencia.pdf");
		CHECK_STR(k.mime, "application/pdf");
		CHECK_STR(k.media_ref, "7005");
		CHECK_STR(k.wa_id, "5493415550914");
		snprintf(kdir, sizeof(kdir), "%s/media", dir);
		CHECK_INT(media_keep_open(kdir, k.id, &k, &fd, &sb), OV_OK);
		if (fd >= 0) {
			r = read(fd, buf, sizeof(buf));
			close(fd);
		}
		CHECK(r == 9 && memcmp(buf, "%PDF-1.4\n", 9) == 0);
		CHECK(mail_has("presupuesto-competencia.pdf (en el inbox)"));
		CHECK(kept_of("wamid.voice-1-nokey", &k));
		CHECK(k.failed && strcmp(k.media_ref, "7001") == 0);
		CHECK(mail_has("Audio: no se pudo descargar (WhatsApp ya no lo "
		    "tiene; media 7001)"));
	}
	/* A location: a short answer, nobody bothered. */
	CHECK_INT(play(bot_nokey, "location.json", NULL), OV_OK);
	got = received("5493415550915", 0, &n);
	CHECK(strstr(got, "Gracias por la ubicación") != NULL);
	free(got);
	CHECK_INT(mails(), m0 + 3);
}

/* ---- the pure parts ------------------------------------------------------ */

static void
test_recipients_items_and_lengths(void)
{
	struct transcribe_item it[TRANSCRIBE_ITEMS_MAX];
	char out[WA_RECIPIENT_MAX + 1];
	unsigned char ogg[96];
	bool by_user_id = true;

	CHECK_INT(wa_recipient("5493415551234", out, sizeof(out), &by_user_id),
	    OV_OK);
	CHECK_STR(out, "543415551234");
	CHECK(!by_user_id);
	CHECK_INT(wa_recipient("5491144447777", out, sizeof(out), &by_user_id),
	    OV_OK);
	CHECK_STR(out, "541144447777");
	CHECK_INT(wa_recipient("543415551234", out, sizeof(out), &by_user_id),
	    OV_OK);
	CHECK_STR(out, "543415551234");
	CHECK_INT(wa_recipient("5511987654321", out, sizeof(out), &by_user_id),
	    OV_OK);
	CHECK_STR(out, "5511987654321");      /* Brazil: unchanged */
	CHECK_INT(wa_recipient(BSUID, out, sizeof(out), &by_user_id), OV_OK);
	CHECK_STR(out, BSUID);
	CHECK(by_user_id);
	CHECK_INT(wa_recipient("AR.", out, sizeof(out), &by_user_id), OV_EINVAL);
	CHECK_INT(wa_recipient("+5493415551234", out, sizeof(out),
	    &by_user_id), OV_EINVAL);

	CHECK_INT(transcribe_items_parse("{\"items\": [{\"producto\": "
	    "\"fuente\\n12v\", \"cantidad\": 2}, {\"producto\": \"\"}, "
	    "{\"producto\": \"balun\", \"cantidad\": -3}, {\"cantidad\": 1}, "
	    "{\"producto\": \"dvr\", \"cantidad\": 1e9}]}", it,
	    TRANSCRIBE_ITEMS_MAX), 3);
	CHECK_STR(it[0].words, "fuente 12v");
	CHECK_INT(it[0].qty, 2);
	CHECK_STR(it[1].words, "balun");
	CHECK_INT(it[1].qty, 1);
	CHECK_INT(it[2].qty, 1);
	CHECK_INT(transcribe_items_parse("no es json", it, 10), 0);
	CHECK_INT(transcribe_items_parse("{\"items\": 3}", it, 10), 0);

	/* 200 s of Opus: the last page's granule; other bytes by size. */
	memset(ogg, 0, sizeof(ogg));
	memcpy(ogg, "OggS", 4);
	memcpy(ogg + 48, "OggS", 4);
	{
		unsigned long long g = 200ULL * 48000;

		for (int k = 0; k < 8; k++)
			ogg[48 + 6 + k] = (unsigned char)(g >> (8 * k));
	}
	CHECK_INT(media_audio_seconds(ogg, sizeof(ogg)), 200);
	CHECK_INT(media_audio_seconds((const unsigned char *)"abc", 3), 1);
	CHECK_INT(media_audio_seconds(NULL, 400000), 101);
}

/* ---- set-up ------------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	char err[512], url[128], pdf[256];
	const char *smtp_args[4];
	int rc = 1;

	log_init("test_media");
	log_set_level(LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	unsetenv("OVIDIO_CONFIG");
	{
		char db[64];

		snprintf(db, sizeof(db), "ovidio_test_media_%ld", (long)getpid());
		setenv("MONGODB_DB", db, 1);
	}
	unsetenv("OPENAI_API_KEY");
	unsetenv("CIANBOX_ACCOUNT");
	unsetenv("PUBLIC_BASE_URL");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(maildir, sizeof(maildir), "%s/mail", dir);
	mkdir(maildir, 0700);
	smtp_args[0] = "--dir";
	smtp_args[1] = maildir;
	smtp_args[2] = NULL;
	if (standin_proc_start(&graph, "tests/standins/graph_server.py", dir,
	    "graph", true, graph_args) != 0 ||
	    standin_proc_start(&openai, "tests/standins/openai_server.py", dir,
	    "openai", true, openai_args) != 0 ||
	    standin_proc_start(&smtp, "tests/standins/smtp_server.py", dir,
	    "smtp", true, smtp_args) != 0) {
		fprintf(stderr, "a stand-in did not start\n");
		goto out;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v21.0", graph.port);
	snprintf(pdf, sizeof(pdf), "%s/pdf", dir);
	mkdir(pdf, 0700);
	setenv("OVIDIO_DATA_DIR", dir, 1);
	setenv("WHATSAPP_API_URL", url, 1);
	setenv("WHATSAPP_TOKEN", TOKEN, 1);
	setenv("PHONE_NUMBER_ID", PHONE_ID, 1);
	setenv("PRESUPUESTOS_DIR", pdf, 1);
	setenv("OVIDIO_NOW", "2026-11-24T10:00:00-03:00", 1);
	setenv("OUTBOX_RETRY_S", "0", 1);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", smtp.port);
	setenv("SMTP_URL", url, 1);
	setenv("VENDEDOR_EMAIL", "vendedor@example.com", 1);
	setenv("MEDIA_TIMEOUT_MS", "1500", 1);
	/* The bot without keys first: the configuration reads the
	 * environment, and a bot takes its keys when it opens. */
	if (config_load(&cfg_nokey, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg_nokey, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		goto out;
	}
	if (store_open(&st, cfg_nokey) != OV_OK || load_catalogs() != OV_OK) {
		fprintf(stderr, "store or catalogs failed\n");
		goto out;
	}
	if (bot_open(&bot_nokey, cfg_nokey, st, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "bot: %s\n", err);
		goto out;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", openai.port);
	setenv("TRANSCRIBE_BASE_URL", url, 1);
	setenv("OPENAI_BASE_URL", url, 1);
	setenv("TRANSCRIBE_API_KEY", KEY, 1);
	setenv("VISION_MODEL", "gpt-4o-mini", 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    bot_open(&bot, cfg, st, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "bot: %s\n", err);
		goto out;
	}
	RUN(test_recipients_items_and_lengths);
	RUN(test_bsuid_only_answered_at_the_bsuid);
	RUN(test_phone_and_bsuid_joined);
	RUN(test_changed_number_to_another_customer_drops_the_link);
	RUN(test_changed_number_same_customer_keeps_the_link);
	RUN(test_changed_user_id_followed);
	RUN(test_phoneless_customer_never_sees_account_data);
	RUN(test_549_sender_answered_at_54);
	RUN(test_voice_note_echo_and_product);
	RUN(test_oversized_audio_refused_kindly);
	RUN(test_photo_caption_is_the_message);
	RUN(test_list_photo_becomes_cart_lines);
	RUN(test_vision_failure_hands_the_photo_over);
	RUN(test_voice_failures_are_kind);
	RUN(test_no_key_kind_reply_and_handoff);
	rc = check_finish();
out:
	bot_close(bot);
	bot_close(bot_nokey);
	store_close(st);
	config_free(cfg);
	config_free(cfg_nokey);
	standin_proc_stop(&graph);
	standin_proc_stop(&openai);
	standin_proc_stop(&smtp);
	curl_global_cleanup();
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
