/*
 * media.h - media a customer sends (voice notes, photos, documents):
 * fetched from Meta, and the one HTTP transport the media clients share
 * (lib/transcribe uses it for the model calls).
 *
 * Transport policy (curl's, as in lib/whatsapp and lib/cianbox_http):
 * every request has a connect timeout and a total timeout cut to what is
 * left of the call's budget, a byte cap counted in the write callback,
 * http/https only (redirects: https only, at most 3), TLS checks on, no
 * signals. 429, 5xx, time-outs and failed connections are tried again up
 * to `attempts`, pausing backoff_ms then doubling (Retry-After when it
 * fits the budget). Logs name the request (never a URL with a secret,
 * never a token or the content).
 *
 * Meta's media: GET {WHATSAPP_API_URL}/{media-id} with the bearer token
 * answers {url, mime_type, file_size}; GET url with the same token gives
 * the bytes. Over MEDIA_MAX_BYTES (16 MB) it is refused before the
 * download when Meta says so, else when the bytes pass the cap.
 *
 * Ownership: struct media_http is the caller's (media_http_init /
 * media_http_free); answers and downloads are malloc'd and freed with
 * media_answer_clear() / media_file_clear().
 */
#ifndef OVIDIO_MEDIA_H
#define OVIDIO_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct wa_client;

#define MEDIA_MAX_DEFAULT (16L * 1024 * 1024)
#define MEDIA_MIME_MAX 63

struct media_policy {
	long connect_ms;          /* per request */
	long timeout_ms;          /* per request */
	long budget_ms;           /* whole call, retries included */
	size_t max_bytes;         /* answer cap */
	int attempts;             /* 1..5 */
	long backoff_ms;          /* first pause; doubles */
};

struct media_http {
	void *curl;               /* CURL *, reused */
	struct media_policy policy;
};

/* One form field of a multipart POST: text (data NUL-terminated) or a
 * file (filename set, len bytes of data). */
struct media_part {
	const char *name;
	const void *data;
	size_t len;
	const char *filename;     /* NULL: a text field */
	const char *type;         /* the file's content type; may be NULL */
};

struct media_answer {
	long status;              /* HTTP status of the last try; 0: none */
	char *body;               /* NUL-terminated; may hold NULs */
	size_t len;
	char type[MEDIA_MIME_MAX + 1]; /* Content-Type, "" when none */
	int attempts;
};

/* Policy from MEDIA_TIMEOUT_MS, MEDIA_MAX_BYTES, MEDIA_ATTEMPTS. */
int media_http_init(struct media_http *h, const struct config *cfg,
    char *err, size_t errlen);
void media_http_free(struct media_http *h);

/*
 * GET (json and parts NULL), POST json, or POST multipart parts[0..n).
 * bearer may be NULL. what names the request in logs ("transcription").
 * OV_OK with a 2xx answer; OV_EREMOTE with another status (out->status,
 * out->body kept for the caller to read the error); OV_ETOOBIG over the
 * cap; OV_ETIMEOUT; OV_EIO (network); OV_ENOMEM.
 */
int media_http_request(struct media_http *h, const char *url,
    const char *what, const char *bearer, const char *json,
    const struct media_part *parts, size_t nparts, struct media_answer *out);
void media_answer_clear(struct media_answer *a);

struct media_file {
	unsigned char *data;      /* malloc'd */
	size_t len;
	char mime[MEDIA_MIME_MAX + 1];
};

/* Meta's media by id (digits): the metadata, then the bytes, both with
 * the WhatsApp token. OV_ENOTFOUND when Meta does not know it, OV_ETOOBIG
 * over the cap, transport errors as media_http_request(). */
int media_download(struct media_http *h, const struct wa_client *wa,
    const char *media_id, struct media_file *out);
void media_file_clear(struct media_file *f);

/* A turn's media calls share MEDIA_TURN_BUDGET_MS, well inside the
 * conversation's lease (lib/bot: 120 s). media_budget_cap() lowers h's
 * call budget to left_ms and returns the one to put back. */
#define MEDIA_TURN_BUDGET_MS 60000
long media_budget_cap(struct media_http *h, long left_ms);
/* Monotonic milliseconds. */
int64_t media_now_ms(void);

/* Seconds of an Ogg/Opus voice note from its last page's granule
 * position (48 kHz), else an estimate from its size (32 kbit/s). */
long media_audio_seconds(const unsigned char *data, size_t len);

#endif
