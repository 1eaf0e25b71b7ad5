/*
 * wa_payload.h - Meta WhatsApp Cloud API webhook payloads (the only module
 * that knows their JSON).
 *
 * A payload is {"object":"whatsapp_business_account","entry":[{"changes":
 * [{"field":"messages","value":{"metadata":{...},"contacts":[...],
 * "messages":[...],"statuses":[...]}}]}]}. Every entry, change, message and
 * status is read, not only the first. Real traffic carries more fields, in
 * any order: unknown ones are ignored.
 *
 * Ownership: wa_payload_parse() fills a struct wa_payload whose arrays and
 * strings are malloc'd; release everything with wa_payload_free().
 */
#ifndef OVIDIO_WA_PAYLOAD_H
#define OVIDIO_WA_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WA_BODY_MAX (4u * 1024 * 1024) /* webhook POST bound (Meta: <= 3 MB) */
#define WA_ID_MAX 256                   /* wamid */
#define WA_NUMBER_MAX 20                /* wa_id digits */
#define WA_KEY_MAX 32                   /* a phone number or a BSUID
                                           (STORE_WAID_MAX) */
#define WA_MEDIA_REF_MAX 128            /* Meta's media id */
#define WA_IN_FILENAME_MAX 255          /* bytes of a document's file name */
#define WA_TEXT_MAX 8192                /* bytes of text kept per message */
#define WA_RAW_MAX (64u * 1024)         /* bytes of raw JSON kept per message */
#define WA_CALLBACK_DATA_MAX 512        /* biz_opaque_callback_data (Meta) */

enum wa_kind {
	WA_TEXT = 0,       /* text.body */
	WA_BUTTON_REPLY,   /* interactive.button_reply: reply_id, text = title */
	WA_LIST_REPLY,     /* interactive.list_reply: reply_id, text = title */
	WA_BUTTON,         /* template quick-reply "button": reply_id = payload, text */
	WA_IMAGE,          /* text = caption (may be NULL) */
	WA_DOCUMENT,       /* text = caption (may be NULL) */
	WA_AUDIO, WA_VIDEO, WA_STICKER, WA_LOCATION, WA_CONTACTS,
	WA_REACTION,       /* text = emoji; reply_id = reacted message id */
	WA_UNSUPPORTED,    /* anything else Meta sends ("unsupported", "order"...) */
	WA_SYSTEM,         /* system: a user changed number or BSUID (see
	                      sys_change, new_phone, new_user_id) */
};

/* What a system message reports. */
enum wa_sys_change {
	WA_SYS_NONE = 0,
	WA_SYS_NUMBER,     /* user_changed_number: new_phone (and new BSUID) */
	WA_SYS_USER_ID,    /* user_changed_user_id: new_user_id only */
};

/*
 * The sender. Meta sends the phone number (messages[].from, contacts[].
 * wa_id) unless the user has a username and the number cannot be shared,
 * and the BSUID (messages[].from_user_id, contacts[].user_id) since April
 * 2026. A message needs one of them. `from` is the key Ovidio files the
 * customer under: the phone number when there is one, else the BSUID.
 */
struct wa_message {
	char id[WA_ID_MAX + 1];          /* wamid */
	char from[WA_KEY_MAX + 1];       /* phone if any, else the BSUID */
	char phone[WA_NUMBER_MAX + 1];   /* digits, or "" */
	char user_id[WA_KEY_MAX + 1];    /* BSUID, or "" */
	char *username;                  /* profile.username; may be NULL */
	/* image, audio, document, video, sticker: */
	char media_id[WA_MEDIA_REF_MAX + 1]; /* "" when none */
	char mime[64];                   /* mime_type as sent; may be "" */
	bool voice;                      /* audio recorded in WhatsApp */
	char filename[WA_IN_FILENAME_MAX + 1]; /* document.filename, cut on a
	                                    character; "" when none */
	/* system: */
	enum wa_sys_change sys_change;
	char new_phone[WA_NUMBER_MAX + 1];   /* system.wa_id; may be "" */
	char new_user_id[WA_KEY_MAX + 1];    /* system.user_id; may be "" */
	char prev_user_id[WA_KEY_MAX + 1];   /* system.previous_user_id */
	int64_t ts;                      /* Meta's timestamp, Unix seconds */
	enum wa_kind kind;
	char type[32];                   /* Meta's "type" string as sent */
	char *text;                      /* see wa_kind; NULL when none */
	char *reply_id;                  /* button/list id; NULL when none */
	char *profile_name;              /* from contacts[] for this sender; may be NULL */
	char *context_id;                /* message replied to; may be NULL */
	char *raw;                       /* this message's JSON, compact; over
	                                    WA_RAW_MAX a summary of the parsed
	                                    fields with "truncated":true */
	char phone_number_id[32];        /* metadata.phone_number_id; may be "" */
};

struct wa_status {
	char id[WA_ID_MAX + 1];          /* wamid of our outbound message */
	char status[16];                 /* sent, delivered, read, failed */
	int64_t ts;
	char recipient[WA_KEY_MAX + 1];  /* wa_id, else the BSUID */
	char *error;                     /* "code: title" of errors[0]; may be NULL */
	/* biz_opaque_callback_data as we sent it (lib/whatsapp:
	 * wa_set_callback), or "" when none came: printable ASCII only, so
	 * anything else (not ours) reads as none. */
	char callback[WA_CALLBACK_DATA_MAX + 1];
};

struct wa_payload {
	struct wa_message *msgs;
	size_t n_msgs;
	struct wa_status *statuses;
	size_t n_statuses;
	size_t n_skipped;                /* malformed items skipped (logged) */
	/* Coexistence: messages the business sent from the WhatsApp
	 * Business app on the same number (field "smb_message_echoes",
	 * value.message_echoes[]). Parsed as messages are, except that
	 * `from` holds the customer's number (the echo's "to"). */
	struct wa_message *echoes;
	size_t n_echoes;
};

/* Parse a webhook body. OV_EPARSE when it is not JSON, not valid UTF-8,
 * or not object "whatsapp_business_account"; OV_ETOOBIG over WA_BODY_MAX.
 * Individual malformed messages or statuses (missing id, non-digit sender,
 * bad timestamp, overlong fields) are skipped and counted in n_skipped,
 * never half-filled. */
int wa_payload_parse(const char *body, size_t len, struct wa_payload *out);

/* Cheap check for the webhook: valid JSON, valid UTF-8 and the right
 * "object". Returns OV_OK or OV_EPARSE. */
int wa_payload_check(const char *body, size_t len);

void wa_payload_free(struct wa_payload *p);

/* A BSUID: two capital letters, '.', then [0-9A-Za-z.], at most
 * WA_KEY_MAX bytes in all ("AR.1502576394655843", "US.ENT.118157"). */
bool wa_user_id_valid(const char *s);

/* Short name of a kind ("text", "button_reply", ...). Static. */
const char *wa_kind_name(enum wa_kind kind);

#endif
