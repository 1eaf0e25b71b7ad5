/*
 * transcribe.h - reading a customer's media with models (OpenAI-compatible
 * endpoints, DESIGN.md section 5):
 *   - voice notes: POST {base}/audio/transcriptions, multipart (file named
 *     audio.ogg, model TRANSCRIBE_MODEL, language es, a short prompt with
 *     the trade's words and brands, response_format json) -> {"text"};
 *   - photos of a list, a label or a quote: POST {base}/chat/completions
 *     with VISION_MODEL, the image inline (data: URL) and a JSON answer
 *     {"items": [{"producto", "cantidad"}]} -> product words and
 *     quantities, bounded and checked here.
 * base is TRANSCRIBE_BASE_URL, else OPENAI_BASE_URL; the key
 * TRANSCRIBE_API_KEY, else OPENAI_API_KEY. Every call goes through lib/media's transport (time,
 * bytes, tries) and is logged without the key or the content.
 *
 * Ownership: transcribe_open() makes a struct transcriber freed by
 * transcribe_close(); results go into caller buffers.
 */
#ifndef OVIDIO_TRANSCRIBE_H
#define OVIDIO_TRANSCRIBE_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct media_file;
struct transcriber;

#define TRANSCRIBE_TEXT_MAX 4000     /* bytes of a transcript kept */
#define TRANSCRIBE_ITEMS_MAX 10      /* items read from one photo */
#define TRANSCRIBE_ITEM_MAX 120      /* bytes of one item's words */
#define TRANSCRIBE_QTY_MAX 9999

struct transcribe_item {
	char words[TRANSCRIBE_ITEM_MAX + 1];
	long qty;                    /* 1..TRANSCRIBE_QTY_MAX */
};

/* Always makes a transcriber (unconfigured without a key);
 * OV_ECONFIG for a malformed key's value. */
int transcribe_open(const struct config *cfg, struct transcriber **out,
    char *err, size_t errlen);
void transcribe_close(struct transcriber *t);

bool transcribe_configured(const struct transcriber *t);
bool transcribe_vision_configured(const struct transcriber *t);
/* The transport of the model calls (its budget is capped per turn). */
struct media_http *transcribe_http(struct transcriber *t);
/* TRANSCRIBE_MAX_SECONDS (default 120). */
long transcribe_max_seconds(const struct transcriber *t);

/* The words of a voice note into text (valid UTF-8, control characters
 * turned to spaces, trimmed). OV_ENOTFOUND for an empty transcript;
 * OV_ECONFIG when not configured; transport errors as lib/media. */
int transcribe_audio(struct transcriber *t, const struct media_file *f,
    char *text, size_t len);

/* The model's answer {"items": [{"producto", "cantidad"}]} into at most
 * max (and TRANSCRIBE_ITEMS_MAX) items: words cleaned and bounded, a
 * quantity outside 1..TRANSCRIBE_QTY_MAX read as 1, anything else
 * skipped. Returns how many; 0 for text that is not such JSON. */
size_t transcribe_items_parse(const char *content,
    struct transcribe_item *items, size_t max);

/* Items of a photo; *n 0 (OV_OK) when the model read none. */
int transcribe_image_items(struct transcriber *t, const struct media_file *f,
    struct transcribe_item *items, size_t max, size_t *n);

#endif
