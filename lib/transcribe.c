/*
 * transcribe.c - voice notes to words and photos to items through
 * OpenAI-compatible endpoints (see transcribe.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "media.h"
#include "transcribe.h"
#include "utf8.h"

#define URL_MAX 512

/* The trade's words, so "balun", "Hikvision" or "NVR" come out right. */
#define AUDIO_PROMPT \
	"Instalador de seguridad electrónica en Argentina pidiendo productos: " \
	"cámara domo, bullet, DVR, NVR, XVR, balun, fuente 12V, cable UTP, " \
	"disco rígido, batería 12V 7Ah, teclado de alarma, sirena, sensor PIR, " \
	"cerco eléctrico, portero, videoportero. Marcas: Hikvision, Dahua, " \
	"Imou, Ezviz, DSC, Paradox, Ajax, Garnet, Alonso, X-28, TP-Link, " \
	"Western Digital, Seagate."

#define VISION_SYSTEM \
	"Leés fotos que manda un cliente de un distribuidor de seguridad " \
	"electrónica: listas escritas a mano, etiquetas de equipos, " \
	"presupuestos. Devolvé solo JSON: {\"items\": [{\"producto\": " \
	"\"palabras del producto (tipo, marca, modelo, medida)\", " \
	"\"cantidad\": número}]}. Cantidad 1 si no figura. Sin precios ni " \
	"comentarios. Si no hay productos legibles: {\"items\": []}."

struct transcriber {
	struct media_http http;
	bool http_ready;
	char base[URL_MAX];
	const char *key;           /* borrowed from the configuration */
	const char *model;
	const char *vision;        /* NULL: no vision */
	long max_seconds;
};

int
transcribe_open(const struct config *cfg, struct transcriber **out,
    char *err, size_t errlen)
{
	struct transcriber *t;
	const char *base;
	size_t n;
	int rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return OV_ENOMEM;
	}
	if ((rc = config_get_long(cfg, "TRANSCRIBE_MAX_SECONDS", 120, 1, 3600,
	    &t->max_seconds, err, errlen)) != OV_OK)
		goto fail;
	if ((rc = media_http_init(&t->http, cfg, err, errlen)) != OV_OK)
		goto fail;
	t->http_ready = true;
	/* Its own key when the voice service is another than the chat
	 * model's (or there is no chat model). */
	t->key = config_get(cfg, "TRANSCRIBE_API_KEY");
	if (t->key == NULL)
		t->key = config_get(cfg, "OPENAI_API_KEY");
	t->model = config_get(cfg, "TRANSCRIBE_MODEL");
	t->vision = config_get(cfg, "VISION_MODEL");
	base = config_get(cfg, "TRANSCRIBE_BASE_URL");
	if (base == NULL)
		base = config_get(cfg, "OPENAI_BASE_URL");
	if (base == NULL)
		base = "https://api.openai.com/v1";
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(t->base) - 32 ||
	    (strncmp(base, "https://", 8) != 0 &&
	    strncmp(base, "http://", 7) != 0)) {
		snprintf(err, errlen, "TRANSCRIBE_BASE_URL / OPENAI_BASE_URL is "
		    "not an http(s) URL");
		rc = OV_ECONFIG;
		goto fail;
	}
	memcpy(t->base, base, n);
	t->base[n] = '\0';
	if (t->model == NULL)
		t->model = "gpt-4o-mini-transcribe";
	*out = t;
	return OV_OK;
fail:
	transcribe_close(t);
	return rc;
}

void
transcribe_close(struct transcriber *t)
{
	if (t == NULL)
		return;
	if (t->http_ready)
		media_http_free(&t->http);
	free(t);
}

bool
transcribe_configured(const struct transcriber *t)
{
	return t != NULL && t->key != NULL && t->key[0] != '\0';
}

bool
transcribe_vision_configured(const struct transcriber *t)
{
	return transcribe_configured(t) && t->vision != NULL &&
	    t->vision[0] != '\0';
}

struct media_http *
transcribe_http(struct transcriber *t)
{
	return t != NULL && t->http_ready ? &t->http : NULL;
}

long
transcribe_max_seconds(const struct transcriber *t)
{
	return t != NULL ? t->max_seconds : 120;
}

/* Model text made safe to treat as typed: valid UTF-8 cut at a character
 * boundary, control characters as spaces, runs of spaces squeezed,
 * trimmed. */
static void
clean_text(const char *s, size_t len, char *out, size_t outlen)
{
	size_t n = 0;
	bool space = true;

	out[0] = '\0';
	if (outlen == 0 || !utf8_valid(s, len))
		return;
	len = utf8_cut(s, len, outlen - 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			c = ' ';
		if (c == ' ' && space)
			continue;
		space = c == ' ';
		out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

int
transcribe_audio(struct transcriber *t, const struct media_file *f,
    char *text, size_t len)
{
	struct media_answer a;
	struct media_part parts[6];
	char url[URL_MAX + 32];
	cJSON *doc = NULL;
	const cJSON *v;
	int rc;

	text[0] = '\0';
	if (!transcribe_configured(t))
		return OV_ECONFIG;
	snprintf(url, sizeof(url), "%s/audio/transcriptions", t->base);
	/* WhatsApp's voice notes are Ogg/Opus: named .ogg, the service
	 * goes by the name. */
	parts[0] = (struct media_part){ "file", f->data, f->len, "audio.ogg",
	    "audio/ogg" };
	parts[1] = (struct media_part){ "model", t->model, 0, NULL, NULL };
	parts[2] = (struct media_part){ "language", "es", 0, NULL, NULL };
	parts[3] = (struct media_part){ "prompt", AUDIO_PROMPT, 0, NULL, NULL };
	parts[4] = (struct media_part){ "response_format", "json", 0, NULL,
	    NULL };
	rc = media_http_request(&t->http, url, "transcription", t->key, NULL,
	    parts, 5, &a);
	if (rc != OV_OK)
		goto out;
	doc = cJSON_ParseWithLength(a.body, a.len);
	v = cJSON_GetObjectItemCaseSensitive(doc, "text");
	if (!cJSON_IsString(v)) {
		log_warn("transcription: answer without text");
		rc = OV_EPARSE;
		goto out;
	}
	clean_text(v->valuestring, strlen(v->valuestring), text,
	    len < TRANSCRIBE_TEXT_MAX + 1 ? len : TRANSCRIBE_TEXT_MAX + 1);
	if (text[0] == '\0') {
		log_info("transcription: no words");
		rc = OV_ENOTFOUND;
		goto out;
	}
	log_info("transcription: %zu bytes of text", strlen(text));
out:
	cJSON_Delete(doc);
	media_answer_clear(&a);
	return rc;
}

static char *
base64(const unsigned char *d, size_t n, const char *prefix)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t pl = strlen(prefix), o = pl;
	char *out = malloc(pl + (n + 2) / 3 * 4 + 1);

	if (out == NULL)
		return NULL;
	memcpy(out, prefix, pl);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* A JSON-safe image type for the data: URL. */
static const char *
image_type(const char *mime)
{
	static const char *const ok[] = { "image/jpeg", "image/png",
	    "image/webp", "image/gif" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strncmp(mime, ok[i], strlen(ok[i])) == 0)
			return ok[i];
	return "image/jpeg";
}

static cJSON *
vision_request(const struct transcriber *t, const struct media_file *f)
{
	char prefix[64];
	char *data;
	cJSON *req = cJSON_CreateObject(), *msgs, *m, *content, *part, *img;

	snprintf(prefix, sizeof(prefix), "data:%s;base64,",
	    image_type(f->mime));
	if (req == NULL || (data = base64(f->data, f->len, prefix)) == NULL) {
		cJSON_Delete(req);
		return NULL;
	}
	cJSON_AddStringToObject(req, "model", t->vision);
	msgs = cJSON_AddArrayToObject(req, "messages");
	m = cJSON_CreateObject();
	cJSON_AddItemToArray(msgs, m);
	cJSON_AddStringToObject(m, "role", "system");
	cJSON_AddStringToObject(m, "content", VISION_SYSTEM);
	m = cJSON_CreateObject();
	cJSON_AddItemToArray(msgs, m);
	cJSON_AddStringToObject(m, "role", "user");
	content = cJSON_AddArrayToObject(m, "content");
	part = cJSON_CreateObject();
	cJSON_AddItemToArray(content, part);
	cJSON_AddStringToObject(part, "type", "text");
	cJSON_AddStringToObject(part, "text", "¿Qué productos y cantidades "
	    "hay en esta foto?");
	part = cJSON_CreateObject();
	cJSON_AddItemToArray(content, part);
	cJSON_AddStringToObject(part, "type", "image_url");
	img = cJSON_AddObjectToObject(part, "image_url");
	cJSON_AddStringToObject(img, "url", data);
	free(data);
	cJSON_AddNumberToObject(req, "temperature", 0);
	cJSON_AddNumberToObject(req, "max_tokens", 800);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(req,
	    "response_format"), "type", "json_object");
	return req;
}

size_t
transcribe_items_parse(const char *content, struct transcribe_item *items,
    size_t max)
{
	cJSON *doc = cJSON_Parse(content);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "items"), *it;
	size_t n = 0;

	cJSON_ArrayForEach(it, arr) {
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(it, "producto");
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(it, "cantidad");
		long qty = 1;

		if (n >= max || n >= TRANSCRIBE_ITEMS_MAX)
			break;
		if (!cJSON_IsString(w))
			continue;
		if (cJSON_IsNumber(q) && q->valuedouble >= 1 &&
		    q->valuedouble <= TRANSCRIBE_QTY_MAX)
			qty = (long)q->valuedouble;
		clean_text(w->valuestring, strlen(w->valuestring),
		    items[n].words, sizeof(items[n].words));
		if (items[n].words[0] == '\0')
			continue;
		items[n].qty = qty;
		n++;
	}
	cJSON_Delete(doc);
	return n;
}

int
transcribe_image_items(struct transcriber *t, const struct media_file *f,
    struct transcribe_item *items, size_t max, size_t *n)
{
	struct media_answer a;
	char url[URL_MAX + 32], *body = NULL;
	cJSON *req = NULL, *doc = NULL;
	const cJSON *c;
	int rc;

	*n = 0;
	memset(&a, 0, sizeof(a));
	if (!transcribe_vision_configured(t))
		return OV_ECONFIG;
	if ((req = vision_request(t, f)) == NULL ||
	    (body = cJSON_PrintUnformatted(req)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	snprintf(url, sizeof(url), "%s/chat/completions", t->base);
	rc = media_http_request(&t->http, url, "vision", t->key, body, NULL,
	    0, &a);
	if (rc != OV_OK)
		goto out;
	doc = cJSON_ParseWithLength(a.body, a.len);
	c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc,
	    "choices"), 0), "message"), "content");
	if (!cJSON_IsString(c)) {
		log_warn("vision: answer without content");
		rc = OV_EPARSE;
		goto out;
	}
	*n = transcribe_items_parse(c->valuestring, items, max);
	log_info("vision: %zu item(s) read", *n);
out:
	cJSON_Delete(req);
	cJSON_Delete(doc);
	free(body);
	media_answer_clear(&a);
	return rc;
}
