/*
 * whatsapp.h - sending through Meta's WhatsApp Cloud API (Graph API).
 *
 * The only module that knows the JSON of outbound messages: text (split
 * when long), reply buttons, lists, documents (upload or link), templates,
 * mark-as-read with typing indicator. It knows nothing about the store or
 * the conversation: the caller records what was sent from struct wa_result.
 *
 * Requests: POST {WHATSAPP_API_URL}/{PHONE_NUMBER_ID}/messages with a JSON
 * body, POST .../media as multipart/form-data, bearer WHATSAPP_TOKEN. The
 * token is never logged, never in a URL, never copied into an error text.
 *
 * Error model. Every wa_send_* function returns an enum ov_err and always
 * fills *res (when res is not NULL) with the outcome:
 *
 *   return        res->status            meaning, what the caller does
 *   OV_OK         WA_SEND_OK             Meta accepted: record res->parts[]
 *                                        (each with its wamid)
 *   OV_EREMOTE    WA_SEND_RETRY_LATER    rate limit (130429, 131056), 5xx,
 *                                        timeout or network error, after
 *                                        this call's own bounded retries;
 *                                        queue it and try again later
 *   OV_EREMOTE    WA_SEND_WINDOW_CLOSED  131047: more than 24 h since the
 *                                        customer last wrote; not retried.
 *                                        Only a template can go out now
 *   OV_EAUTH      WA_SEND_AUTH           190 (or another permission error):
 *                                        WHATSAPP_TOKEN / PHONE_NUMBER_ID
 *                                        are wrong; logged once here as a
 *                                        configuration error; not retried
 *   OV_EREMOTE    WA_SEND_REJECTED       any other refusal (bad recipient,
 *                                        invalid parameter): not retried
 *   OV_EINVAL,    WA_SEND_INVALID        refused here before anything was
 *   OV_ETOOBIG,                          sent (empty or malformed text,
 *   OV_EIO                               duplicate button ids, unreadable
 *                                        file...); a bug or bad input
 *   OV_ENOMEM     WA_SEND_RETRY_LATER    nothing sent
 *
 * res->meta_code is Meta's error.code (0 when Meta gave none), and
 * res->error a short one-line English text for the record (Meta's message
 * and details, or what was wrong locally). A text split into several
 * messages stops at the first failure: res->parts[] then lists the parts
 * that did go out, which the caller records as sent.
 *
 * Retries happen inside one call, for WA_SEND_RETRY_LATER causes only:
 * at most max_attempts tries per request, waiting backoff_ms, then 4x that
 * (jittered by +-25%) between them, and never past budget_ms for the whole
 * call (all parts, upload and fallback included), so a worker turn never
 * hangs. A retried 5xx or timeout may, rarely, deliver a message twice:
 * Meta has no idempotency key, and a lost message is worse.
 *
 * Limits, and what happens over them (decided here, tested):
 *   - text: 1..4096 bytes of valid UTF-8 per message; a longer text is split
 *     into messages at paragraph breaks (blank lines), else at line ends,
 *     else at spaces, else at a character boundary; at most WA_TEXT_PARTS
 *     messages (WA_TEXT_TOTAL_MAX bytes), beyond that OV_ETOOBIG.
 *   - labels are truncated, content is refused: a button title over 20
 *     characters, a list row title over 24, a row description over 72, a
 *     list button label over 20, a header or footer over 60 or a section
 *     title over 24 is cut at a character boundary and ends in "…" (the
 *     result has exactly the maximum number of characters). A body (1024
 *     for buttons, 4096 for lists), a caption (1024) or a template parameter
 *     that is too long, an id that is too long, empty or repeated, or a
 *     title that is empty or repeated after truncation is OV_EINVAL.
 *   Characters are Unicode code points: "Sí, enviámelo" is 13.
 *
 * Ownership: wa_client_init() fills a caller-provided struct wa_client with
 * copies of the configuration and a libcurl handle; release it with
 * wa_client_free(). Every const char * argument is borrowed for the call.
 * struct wa_result holds no pointers and needs no freeing. A client is not
 * thread-safe: use one per thread or process.
 */
#ifndef OVIDIO_WHATSAPP_H
#define OVIDIO_WHATSAPP_H

#include <stdbool.h>
#include <stddef.h>

struct config;

#define WA_MSG_TEXT_MAX 4096      /* bytes of one text message */
#define WA_TEXT_PARTS 16          /* messages one long text may become */
#define WA_TEXT_TOTAL_MAX (WA_TEXT_PARTS * WA_MSG_TEXT_MAX)
#define WA_BUTTONS_MAX 3
#define WA_BUTTON_TITLE_MAX 20    /* characters */
#define WA_BUTTON_ID_MAX 256      /* characters */
#define WA_LIST_ROWS_MAX 10       /* over all sections */
#define WA_LIST_SECTIONS_MAX 10
#define WA_ROW_TITLE_MAX 24
#define WA_ROW_DESC_MAX 72
#define WA_ROW_ID_MAX 200
#define WA_LIST_BUTTON_MAX 20
#define WA_SECTION_TITLE_MAX 24
#define WA_HEADER_MAX 60
#define WA_FOOTER_MAX 60
#define WA_BUTTONS_BODY_MAX 1024
#define WA_LIST_BODY_MAX 4096
#define WA_CAPTION_MAX 1024
#define WA_FILENAME_MAX 240       /* bytes */
#define WA_TEMPLATE_PARAMS_MAX 20
#define WA_TEMPLATE_PARAM_MAX 1024
#define WA_MEDIA_MAX (100L * 1024 * 1024) /* Meta's limit for documents */
#define WA_WAMID_MAX 256
#define WA_MEDIA_ID_MAX 128
#define WA_ERROR_TEXT_MAX 256
#define WA_RECIPIENT_MAX 32       /* a phone number or a BSUID */
#define WA_CALLBACK_MAX 512       /* biz_opaque_callback_data (Meta's bound) */
#define WA_CALLBACK_TAG_MAX 128   /* what wa_set_callback() takes */

/* Client settings, filled from the configuration by wa_client_init(). The
 * numeric fields may be changed afterwards (tests use short ones). */
struct wa_client {
	char *api_url;            /* no trailing '/' */
	char *token;              /* secret */
	char *phone_number_id;
	char *public_base_url;    /* PUBLIC_BASE_URL, no trailing '/'; may be NULL */
	long connect_timeout_ms;  /* per request; default 3000 */
	long timeout_ms;          /* per request; default 10000 */
	long budget_ms;           /* whole call, retries included; default 20000 */
	int max_attempts;         /* per request; default 3 */
	long backoff_ms;          /* first wait; the next is 4x; default 200 */
	size_t response_max;      /* response byte cap; default 64 KiB */
	unsigned int rng;         /* jitter state */
	void *curl;               /* CURL *, reused for keep-alive */
	char callback[WA_CALLBACK_TAG_MAX + 1]; /* wa_set_callback(); "": none */
	unsigned int callback_first;
};

enum wa_send_status {
	WA_SEND_OK = 0,
	WA_SEND_RETRY_LATER,
	WA_SEND_WINDOW_CLOSED,
	WA_SEND_AUTH,
	WA_SEND_REJECTED,
	WA_SEND_INVALID,
};

/* One message that went out. For a text, off/len locate its content in the
 * caller's text (what the customer received, before JSON escaping). */
struct wa_sent_part {
	char wamid[WA_WAMID_MAX + 1];
	size_t off, len;
};

struct wa_result {
	enum wa_send_status status;
	struct wa_sent_part parts[WA_TEXT_PARTS];
	size_t nparts;            /* messages accepted by Meta */
	long meta_code;           /* error.code of the last failure; 0: none */
	long meta_subcode;        /* error.error_subcode; 0: none */
	long http_status;         /* of the last answer; 0: no answer */
	int attempts;             /* HTTP requests made by this call */
	bool by_link;             /* wa_send_pdf(): sent by link, not upload */
	char media_id[WA_MEDIA_ID_MAX + 1]; /* wa_send_pdf(): uploaded media */
	char error[WA_ERROR_TEXT_MAX];      /* "" on success */
};

/* Static name: "ok", "retry_later", "window_closed", "auth", "rejected",
 * "invalid". */
const char *wa_send_status_name(enum wa_send_status s);

/*
 * Every wa_send_* takes `to` as Ovidio keys a customer: a phone number
 * (5..20 digits, as Meta sent it) or a BSUID ("AR.1502576394655843").
 * wa_recipient() is what goes on the wire: a BSUID goes in "recipient"
 * (*by_user_id true); an Argentine mobile "549" + 10 digits becomes "54" +
 * the 10 digits (the 549 form fails with 131030 on test numbers and in
 * some live cases); other numbers are unchanged. OV_EINVAL for anything
 * else or when out (WA_RECIPIENT_MAX + 1 is enough) is too small.
 */
int wa_recipient(const char *key, char *out, size_t len, bool *by_user_id);

/* Read WHATSAPP_API_URL, WHATSAPP_TOKEN, PHONE_NUMBER_ID, PUBLIC_BASE_URL.
 * A missing or malformed key is OV_ECONFIG with err naming the key (never
 * its value). */
int wa_client_init(struct wa_client *c, const struct config *cfg, char *err,
    size_t errlen);
void wa_client_free(struct wa_client *c);

/*
 * Tag the messages of the following sends, until cleared (tag NULL), with
 * biz_opaque_callback_data "<tag>:<k>": k counts the messages of each
 * call from `first` (a text split in three parts: first, first + 1,
 * first + 2; any other send: first). Meta takes the field on every
 * message and echoes it in that message's status webhooks
 * (lib/wa_payload: wa_status.callback), which is how the outbox learns
 * that a message went out when the process that sent it died before it
 * could say so. tag: 1..WA_CALLBACK_TAG_MAX printable ASCII bytes, else
 * OV_EINVAL (and no tag).
 */
int wa_set_callback(struct wa_client *c, const char *tag, unsigned int first);

/* Text to wa_id `to` (digits only). Split as described above. */
int wa_send_text(struct wa_client *c, const char *to, const char *text,
    struct wa_result *res);

struct wa_button {
	const char *id;           /* returned in the customer's button_reply */
	const char *title;
};

/* Reply buttons (1..3). header and footer may be NULL. */
int wa_send_buttons(struct wa_client *c, const char *to, const char *header,
    const char *body, const char *footer, const struct wa_button *buttons,
    size_t nbuttons, struct wa_result *res);

struct wa_row {
	const char *id;
	const char *title;
	const char *description;  /* may be NULL */
};

struct wa_section {
	const char *title;        /* may be NULL only when it is the one section */
	const struct wa_row *rows;
	size_t nrows;
};

/* List message: `button` is the label that opens the list. */
int wa_send_list(struct wa_client *c, const char *to, const char *header,
    const char *body, const char *footer, const char *button,
    const struct wa_section *sections, size_t nsections,
    struct wa_result *res);

/* Document already uploaded (media_id) or at a public https link; exactly
 * one of media_id and link is non-NULL. filename and caption may be NULL. */
int wa_send_document(struct wa_client *c, const char *to,
    const char *media_id, const char *link, const char *filename,
    const char *caption, struct wa_result *res);

/* Send a picture by its http(s) link, with an optional caption (at most
 * WA_CAPTION_MAX bytes). */
int wa_send_image(struct wa_client *c, const char *to, const char *link,
    const char *caption, struct wa_result *res);

/* Upload a file (POST /{PHONE_NUMBER_ID}/media) and give its media id in
 * media_id (WA_MEDIA_ID_MAX + 1 bytes). The file is at most WA_MEDIA_MAX. */
int wa_upload_media(struct wa_client *c, const char *path, const char *mime,
    const char *filename, char *media_id, struct wa_result *res);

/*
 * Send the PDF at `path` as a document named `filename` with `caption`:
 * upload it and send by media id; when the upload fails (other than
 * WA_SEND_AUTH) and both PUBLIC_BASE_URL and link_path are set, send by
 * link {PUBLIC_BASE_URL}{link_path} instead (res->by_link). link_path is
 * the caller's absolute path, e.g. "/cgi-bin/presupuesto/<id>.pdf".
 */
int wa_send_pdf(struct wa_client *c, const char *to, const char *path,
    const char *filename, const char *caption, const char *link_path,
    struct wa_result *res);

/* Approved template `name` in `language` (NULL: "es_AR") with body
 * parameters {{1}}..{{n}}. Goes out even when the 24-hour window is
 * closed. Parameters may not hold newlines, tabs or 5 spaces in a row. */
int wa_send_template(struct wa_client *c, const char *to, const char *name,
    const char *language, const char *const *params, size_t nparams,
    struct wa_result *res);

/* The same with the template's quick-reply buttons: payloads[i] (1..
 * WA_BUTTON_ID_MAX characters) for button i, returned as the customer's
 * reply id. At most WA_BUTTONS_MAX. */
int wa_send_template_buttons(struct wa_client *c, const char *to,
    const char *name, const char *language, const char *const *params,
    size_t nparams, const char *const *payloads, size_t npayloads,
    struct wa_result *res);

/* Mark the customer's message read (blue ticks) and, when typing is true,
 * show "typing…" until the reply is sent (at most 25 s). */
int wa_mark_read(struct wa_client *c, const char *message_id, bool typing,
    struct wa_result *res);

/*
 * Pure helpers, exposed for callers and tests.
 */

/* Split text (len bytes, valid UTF-8) into pieces of at most max bytes as
 * described above. Fills off[]/lens[] (room for cap pieces) and *n.
 * Whitespace at the cut is dropped. OV_ETOOBIG when more than cap pieces
 * would be needed; OV_EINVAL when text is empty or only whitespace. */
int wa_text_split(const char *text, size_t len, size_t max, size_t *off,
    size_t *lens, size_t cap, size_t *n);

/* Nonzero when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF) and holds no NUL. */
int wa_utf8_valid(const char *s, size_t len);

/* Code points in the well-formed UTF-8 string s. */
size_t wa_utf8_chars(const char *s);

/* Copy s into out (outlen bytes) keeping at most max characters; a longer
 * s keeps max - 1 characters and ends in "…". Returns 1 when truncated, 0
 * when copied whole, -1 when out is too small. */
int wa_label_fit(const char *s, size_t max, char *out, size_t outlen);

#endif
