#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "log.h"
#include "utf8.h"
#include "wa_payload.h"

#define WA_NAME_MAX 256        /* bytes of a profile name kept */
#define WA_REPLY_ID_MAX 1024   /* button/list ids are ours (<= 256 by Meta) */
#define WA_ERROR_MAX 512       /* "code: title" of a failed status */
#define WA_SKIP_LOG_MAX 10     /* skip warnings per payload, then a summary */

static const char *const kind_names[] = {
	[WA_TEXT] = "text",
	[WA_BUTTON_REPLY] = "button_reply",
	[WA_LIST_REPLY] = "list_reply",
	[WA_BUTTON] = "button",
	[WA_IMAGE] = "image",
	[WA_DOCUMENT] = "document",
	[WA_AUDIO] = "audio",
	[WA_VIDEO] = "video",
	[WA_STICKER] = "sticker",
	[WA_LOCATION] = "location",
	[WA_CONTACTS] = "contacts",
	[WA_REACTION] = "reaction",
	[WA_UNSUPPORTED] = "unsupported",
	[WA_SYSTEM] = "system",
};

const char *
wa_kind_name(enum wa_kind kind)
{
	if ((int)kind < 0 ||
	    (size_t)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unsupported";
	return kind_names[kind];
}

/* A copy of s cut to at most max bytes without splitting a UTF-8 sequence
 * (s is valid UTF-8: cJSON output of a validated body). */
static char *
dup_bounded(const char *s, size_t max)
{
	size_t n = utf8_cut(s, strlen(s), max);
	char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Parse the whole buffer; trailing bytes other than white space are an
 * error (cJSON alone would accept "{...}garbage"). */
static cJSON *
parse_json(const char *body, size_t len)
{
	const char *end = NULL;
	cJSON *root;

	if (body == NULL || len == 0 || len > WA_BODY_MAX)
		return NULL;
	/* Checked on the raw body because cJSON copies string bytes through
	 * unchecked; utf8_valid() also refuses NUL, never valid in a JSON
	 * text. */
	if (!utf8_valid(body, len))
		return NULL;
	/* cJSON refuses nesting deeper than CJSON_NESTING_LIMIT (1000 in
	 * 1.7.15) instead of recursing without bound. */
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (root == NULL)
		return NULL;
	if (end == NULL || end < body || end > body + len) {
		cJSON_Delete(root);
		return NULL;
	}
	for (; end < body + len; end++) {
		if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
			cJSON_Delete(root);
			return NULL;
		}
	}
	return root;
}

static int
right_object(const cJSON *root)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "object");

	return cJSON_IsObject(root) && cJSON_IsString(o) &&
	    strcmp(o->valuestring, "whatsapp_business_account") == 0;
}

int
wa_payload_check(const char *body, size_t len)
{
	cJSON *root = parse_json(body, len);
	int ok;

	if (root == NULL)
		return OV_EPARSE;
	ok = right_object(root);
	cJSON_Delete(root);
	return ok ? OV_OK : OV_EPARSE;
}

/* String member, or NULL when absent or not a string. */
static const char *
get_str(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(it) && it->valuestring != NULL ?
	    it->valuestring : NULL;
}

static int
copy_id(char *dst, size_t dstlen, const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n >= dstlen)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

/* A wa_id: digits only, 6..WA_NUMBER_MAX of them. */
static int
copy_number(char dst[WA_NUMBER_MAX + 1], const char *s)
{
	size_t n;

	if (s == NULL)
		return -1;
	for (n = 0; s[n] != '\0'; n++)
		if (s[n] < '0' || s[n] > '9' || n >= WA_NUMBER_MAX)
			return -1;
	if (n < 6)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

/* Meta sends "1764000000"; accept a JSON number too. */
static int
get_timestamp(const cJSON *obj, int64_t *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "timestamp");

	if (cJSON_IsString(it) && it->valuestring != NULL) {
		const char *s = it->valuestring;
		int64_t v = 0;
		size_t n;

		for (n = 0; s[n] != '\0'; n++) {
			if (s[n] < '0' || s[n] > '9' || n >= 18)
				return -1;
			v = v * 10 + (s[n] - '0');
		}
		if (n == 0)
			return -1;
		*out = v;
		return 0;
	}
	if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;

		/* Range first: converting an out-of-range double is UB. */
		if (!isfinite(d) || d < 0 || d > 9007199254740991.0 ||
		    d != (double)(int64_t)d)
			return -1;
		*out = (int64_t)d;
		return 0;
	}
	return -1;
}

struct contact {
	const char *wa_id;     /* may be NULL (a username without number) */
	const char *user_id;   /* may be NULL */
	const char *name;      /* may be NULL */
	const char *username;  /* may be NULL */
};

bool
wa_user_id_valid(const char *s)
{
	size_t n;

	if (s == NULL || !(s[0] >= 'A' && s[0] <= 'Z') ||
	    !(s[1] >= 'A' && s[1] <= 'Z') || s[2] != '.')
		return false;
	for (n = 3; s[n] != '\0'; n++)
		if (n >= WA_KEY_MAX || !((s[n] >= '0' && s[n] <= '9') ||
		    (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' &&
		    s[n] <= 'z') || s[n] == '.'))
			return false;
	return n > 3;
}

/* contacts[] of one change value. Pointers are into the cJSON tree; few
 * contacts come per change, so a message finds its own by a scan. */
static int
load_contacts(const cJSON *value, struct contact **out, size_t *nout)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(value, "contacts");
	const cJSON *c;
	struct contact *v;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	if (!cJSON_IsArray(arr))
		return OV_OK;
	v = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v));
	if (v == NULL)
		return OV_ENOMEM;
	cJSON_ArrayForEach(c, arr) {
		const cJSON *prof = cJSON_GetObjectItemCaseSensitive(c,
		    "profile");

		v[n].wa_id = get_str(c, "wa_id");
		v[n].user_id = get_str(c, "user_id");
		v[n].name = get_str(prof, "name");
		v[n].username = get_str(prof, "username");
		if (v[n].name != NULL && *v[n].name == '\0')
			v[n].name = NULL;
		if (v[n].username != NULL && *v[n].username == '\0')
			v[n].username = NULL;
		if (v[n].wa_id != NULL || v[n].user_id != NULL)
			n++;
	}
	*out = v;
	*nout = n;
	return OV_OK;
}

/* The sender's contact: by phone, else by BSUID, else the only one. */
static const struct contact *
find_contact(const struct contact *v, size_t n, const struct wa_message *m)
{
	for (size_t i = 0; i < n; i++)
		if (m->phone[0] != '\0' && v[i].wa_id != NULL &&
		    strcmp(v[i].wa_id, m->phone) == 0)
			return &v[i];
	for (size_t i = 0; i < n; i++)
		if (m->user_id[0] != '\0' && v[i].user_id != NULL &&
		    strcmp(v[i].user_id, m->user_id) == 0)
			return &v[i];
	return n == 1 && (m->phone[0] == '\0' || v[0].wa_id == NULL) &&
	    (m->user_id[0] == '\0' || v[0].user_id == NULL) ? &v[0] : NULL;
}

static void
message_clear(struct wa_message *m)
{
	free(m->text);
	free(m->reply_id);
	free(m->profile_name);
	free(m->username);
	free(m->context_id);
	free(m->raw);
	memset(m, 0, sizeof(*m));
}

static void
status_clear(struct wa_status *s)
{
	free(s->error);
	memset(s, 0, sizeof(*s));
}

struct parse_state {
	struct wa_payload *p;
	size_t cap_msgs, cap_statuses, cap_echoes;
	char *printbuf;        /* WA_RAW_MAX + slack, for cJSON printing */
};

static void
skipped(struct parse_state *st, const char *what, const char *why)
{
	/* Never the content: only which rule failed. */
	st->p->n_skipped++;
	if (st->p->n_skipped <= WA_SKIP_LOG_MAX)
		log_warn("webhook payload: skipped %s: %s", what, why);
}

/* raw: the message as compact JSON; a summary when it is over
 * WA_RAW_MAX (cJSON_PrintPreallocated keeps memory bounded). */
static int
set_raw(struct parse_state *st, const cJSON *msg, struct wa_message *m)
{
	char tsbuf[24];
	cJSON *sum;
	int rc = OV_ENOMEM;

	if (cJSON_PrintPreallocated((cJSON *)msg, st->printbuf,
	    (int)(WA_RAW_MAX + 8), 0) && strlen(st->printbuf) <= WA_RAW_MAX) {
		m->raw = strdup(st->printbuf);
		return m->raw != NULL ? OV_OK : OV_ENOMEM;
	}
	snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)m->ts);
	sum = cJSON_CreateObject();
	if (sum == NULL ||
	    cJSON_AddStringToObject(sum, "from", m->phone[0] != '\0' ?
	    m->phone : m->user_id) == NULL ||
	    cJSON_AddStringToObject(sum, "id", m->id) == NULL ||
	    cJSON_AddStringToObject(sum, "timestamp", tsbuf) == NULL ||
	    cJSON_AddStringToObject(sum, "type", m->type) == NULL ||
	    cJSON_AddTrueToObject(sum, "truncated") == NULL)
		goto out;
	if (cJSON_PrintPreallocated(sum, st->printbuf, (int)(WA_RAW_MAX + 8),
	    0) && (m->raw = strdup(st->printbuf)) != NULL)
		rc = OV_OK;
out:
	cJSON_Delete(sum);
	return rc;
}

static int
type_ok(const char *t)
{
	size_t n;

	for (n = 0; t[n] != '\0'; n++)
		if (!((t[n] >= 'a' && t[n] <= 'z') || (t[n] >= 'A' && t[n] <= 'Z') ||
		    (t[n] >= '0' && t[n] <= '9') || t[n] == '_'))
			return 0;
	return n > 0 && n < sizeof(((struct wa_message *)0)->type);
}

/* Refuse the item being read, saying which rule failed. */
#define REFUSE(reason) do { *why = (reason); return OV_EPARSE; } while (0)

/* A media object's id and mime type (bounded; an odd one is left out:
 * the message still counts, only its media cannot be fetched). */
static void
read_media(const cJSON *obj, struct wa_message *m)
{
	const char *s = get_str(obj, "id");
	size_t n;

	if (s != NULL && (n = strlen(s)) > 0 && n <= WA_MEDIA_REF_MAX &&
	    strspn(s, "0123456789") == n)
		memcpy(m->media_id, s, n + 1);
	s = get_str(obj, "mime_type");
	if (s != NULL && strlen(s) < sizeof(m->mime) &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789/.+-; =") ==
	    strlen(s))
		memcpy(m->mime, s, strlen(s) + 1);
}

/* system: {"type": "user_changed_number", "wa_id": new phone, "user_id":
 * new BSUID, "previous_user_id"} or {"type": "user_changed_user_id",
 * "user_id", "previous_user_id"}; older payloads say
 * "customer_changed_number" with "new_wa_id". */
static int
read_system(const cJSON *obj, struct wa_message *m, const char **why)
{
	const char *t = get_str(obj, "type"), *s;

	if (t == NULL)
		t = "";
	if (strcmp(t, "user_changed_number") == 0 ||
	    strcmp(t, "customer_changed_number") == 0)
		m->sys_change = WA_SYS_NUMBER;
	else if (strcmp(t, "user_changed_user_id") == 0)
		m->sys_change = WA_SYS_USER_ID;
	s = get_str(obj, "wa_id");
	if (s == NULL)
		s = get_str(obj, "new_wa_id");
	if (s != NULL && copy_number(m->new_phone, s) != 0)
		REFUSE("system message with a bad new number");
	s = get_str(obj, "user_id");
	if (s != NULL) {
		if (!wa_user_id_valid(s))
			REFUSE("system message with a bad user id");
		memcpy(m->new_user_id, s, strlen(s) + 1);
	}
	s = get_str(obj, "previous_user_id");
	if (s != NULL) {
		if (!wa_user_id_valid(s))
			REFUSE("system message with a bad previous user id");
		memcpy(m->prev_user_id, s, strlen(s) + 1);
		/* The sender, by the identity the change leaves behind. */
		if (m->user_id[0] == '\0')
			memcpy(m->user_id, s, strlen(s) + 1);
	}
	if ((m->sys_change == WA_SYS_NUMBER && m->new_phone[0] == '\0') ||
	    (m->sys_change == WA_SYS_USER_ID && m->new_user_id[0] == '\0'))
		REFUSE("system change without its new identifier");
	return OV_OK;
}


/* Fill m from one messages[] item. Returns OV_OK, OV_ENOMEM, or
 * OV_EPARSE with *why set (m is then cleared by the caller). */
static int
read_message(struct parse_state *st, const cJSON *msg, struct wa_message *m,
    const char **why)
{
	const cJSON *obj, *sub;
	const char *type, *s, *t;
	int rc;

	if (!cJSON_IsObject(msg))
		REFUSE("not an object");
	if (copy_id(m->id, sizeof(m->id), get_str(msg, "id")) != 0)
		REFUSE("missing or overlong id");
	/* The phone may be missing (a username); then the BSUID, here or in
	 * contacts[] (read_value), identifies the sender. */
	s = get_str(msg, "from");
	if (s != NULL && copy_number(m->phone, s) != 0)
		REFUSE("sender is not 6 to 20 digits");
	s = get_str(msg, "from_user_id");
	if (s != NULL) {
		if (!wa_user_id_valid(s))
			REFUSE("sender's user id is not a BSUID");
		memcpy(m->user_id, s, strlen(s) + 1);
	}
	if (get_timestamp(msg, &m->ts) != 0)
		REFUSE("bad timestamp");
	type = get_str(msg, "type");
	if (type == NULL || !type_ok(type))
		REFUSE("missing or bad type");
	memcpy(m->type, type, strlen(type) + 1);

	obj = cJSON_GetObjectItemCaseSensitive(msg, type);
	if (strcmp(type, "text") == 0) {
		m->kind = WA_TEXT;
		if ((s = get_str(obj, "body")) == NULL)
			REFUSE("text without body");
		if ((m->text = dup_bounded(s, WA_TEXT_MAX)) == NULL)
			return OV_ENOMEM;
	} else if (strcmp(type, "interactive") == 0) {
		const char *itype = get_str(obj, "type");

		m->kind = WA_UNSUPPORTED;   /* e.g. "nfm_reply" (flows) */
		if (itype != NULL && (strcmp(itype, "button_reply") == 0 ||
		    strcmp(itype, "list_reply") == 0)) {
			m->kind = itype[0] == 'b' ? WA_BUTTON_REPLY :
			    WA_LIST_REPLY;
			sub = cJSON_GetObjectItemCaseSensitive(obj, itype);
			s = get_str(sub, "id");
			t = get_str(sub, "title");
			if (s == NULL || *s == '\0' || t == NULL)
				REFUSE("reply without id or title");
			if (strlen(s) > WA_REPLY_ID_MAX)
				REFUSE("overlong reply id");
			if ((m->reply_id = strdup(s)) == NULL ||
			    (m->text = dup_bounded(t, WA_TEXT_MAX)) == NULL)
				return OV_ENOMEM;
		}
	} else if (strcmp(type, "button") == 0) {
		m->kind = WA_BUTTON;
		s = get_str(obj, "payload");
		t = get_str(obj, "text");
		if (t == NULL)
			REFUSE("button without text");
		if (s != NULL && strlen(s) > WA_REPLY_ID_MAX)
			REFUSE("overlong button payload");
		if ((s != NULL && (m->reply_id = strdup(s)) == NULL) ||
		    (m->text = dup_bounded(t, WA_TEXT_MAX)) == NULL)
			return OV_ENOMEM;
	} else if (strcmp(type, "image") == 0 || strcmp(type, "document") == 0 ||
	    strcmp(type, "video") == 0) {
		m->kind = type[0] == 'i' ? WA_IMAGE :
		    type[0] == 'd' ? WA_DOCUMENT : WA_VIDEO;
		s = get_str(obj, "caption");
		if (s != NULL && *s != '\0' &&
		    (m->text = dup_bounded(s, WA_TEXT_MAX)) == NULL)
			return OV_ENOMEM;
		read_media(obj, m);
		s = get_str(obj, "filename");
		if (m->kind == WA_DOCUMENT && s != NULL) {
			size_t n = utf8_cut(s, strlen(s), WA_IN_FILENAME_MAX);

			memcpy(m->filename, s, n);
			m->filename[n] = '\0';
		}
	} else if (strcmp(type, "reaction") == 0) {
		m->kind = WA_REACTION;
		s = get_str(obj, "message_id");
		if (s == NULL || *s == '\0' || strlen(s) > WA_ID_MAX)
			REFUSE("reaction without message id");
		if ((m->reply_id = strdup(s)) == NULL)
			return OV_ENOMEM;
		/* An absent or empty emoji means the reaction was removed. */
		t = get_str(obj, "emoji");
		if (t != NULL && *t != '\0' &&
		    (m->text = dup_bounded(t, WA_TEXT_MAX)) == NULL)
			return OV_ENOMEM;
	} else if (strcmp(type, "audio") == 0) {
		m->kind = WA_AUDIO;
		read_media(obj, m);
		m->voice = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj,
		    "voice"));
	} else if (strcmp(type, "sticker") == 0) {
		m->kind = WA_STICKER;
		read_media(obj, m);
	} else if (strcmp(type, "system") == 0) {
		m->kind = WA_SYSTEM;
		if ((rc = read_system(obj, m, why)) != OV_OK)
			return rc;
	} else if (strcmp(type, "location") == 0) {
		m->kind = WA_LOCATION;
	} else if (strcmp(type, "contacts") == 0) {
		m->kind = WA_CONTACTS;
	} else {
		m->kind = WA_UNSUPPORTED;
	}

	sub = cJSON_GetObjectItemCaseSensitive(msg, "context");
	if (sub != NULL && (s = get_str(sub, "id")) != NULL && *s != '\0') {
		if (strlen(s) > WA_ID_MAX)
			REFUSE("overlong context id");
		if ((m->context_id = strdup(s)) == NULL)
			return OV_ENOMEM;
	}
	return set_raw(st, msg, m);
}

static int
read_status(const cJSON *item, struct wa_status *s, const char **why)
{
	static const char *const known[] = { "sent", "delivered", "read",
	    "failed" };
	const cJSON *errs, *e0, *code;
	const char *st, *title, *cb;
	size_t i, cblen;

	if (!cJSON_IsObject(item))
		REFUSE("not an object");
	if (copy_id(s->id, sizeof(s->id), get_str(item, "id")) != 0)
		REFUSE("missing or overlong id");
	st = get_str(item, "status");
	for (i = 0; st != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(st, known[i]) == 0)
			break;
	if (st == NULL || i == sizeof(known) / sizeof(known[0]))
		REFUSE("unknown status");
	memcpy(s->status, st, strlen(st) + 1);
	if (get_timestamp(item, &s->ts) != 0)
		REFUSE("bad timestamp");
	/* A reply sent to a BSUID may come back without a number: then the
	 * BSUID (recipient_user_id) names the recipient. */
	if (get_str(item, "recipient_id") == NULL &&
	    wa_user_id_valid(get_str(item, "recipient_user_id"))) {
		const char *u = get_str(item, "recipient_user_id");

		memcpy(s->recipient, u, strlen(u) + 1);
	} else if (copy_number(s->recipient, get_str(item, "recipient_id")) !=
	    0) {
		REFUSE("recipient is not 6 to 20 digits");
	}

	cb = get_str(item, "biz_opaque_callback_data");
	if (cb != NULL && (cblen = strnlen(cb, WA_CALLBACK_DATA_MAX + 1)) <=
	    WA_CALLBACK_DATA_MAX) {
		for (i = 0; i < cblen && cb[i] >= 0x20 && cb[i] <= 0x7e; i++)
			;
		if (i == cblen)
			memcpy(s->callback, cb, cblen + 1);
	}

	errs = cJSON_GetObjectItemCaseSensitive(item, "errors");
	e0 = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
	if (cJSON_IsObject(e0)) {
		char buf[WA_ERROR_MAX + 1];
		int n;

		code = cJSON_GetObjectItemCaseSensitive(e0, "code");
		title = get_str(e0, "title");
		if (title == NULL)
			title = get_str(e0, "message");
		if (title == NULL)
			title = "unknown error";
		if (cJSON_IsNumber(code) && code->valuedouble > -1e15 &&
		    code->valuedouble < 1e15)
			n = snprintf(buf, sizeof(buf), "%lld: %s",
			    (long long)code->valuedouble, title);
		else
			n = snprintf(buf, sizeof(buf), "%s", title);
		if (n < 0)
			return OV_ENOMEM;
		if ((s->error = dup_bounded(buf, WA_ERROR_MAX)) == NULL)
			return OV_ENOMEM;
	}
	return OV_OK;
}

static int
push_message(struct parse_state *st, struct wa_message *m)
{
	struct wa_payload *p = st->p;

	if (p->n_msgs == st->cap_msgs) {
		size_t cap = st->cap_msgs ? st->cap_msgs * 2 : 8;
		struct wa_message *v = realloc(p->msgs, cap * sizeof(*v));

		if (v == NULL)
			return OV_ENOMEM;
		p->msgs = v;
		st->cap_msgs = cap;
	}
	p->msgs[p->n_msgs++] = *m;
	memset(m, 0, sizeof(*m));
	return OV_OK;
}

static int
push_status(struct parse_state *st, struct wa_status *s)
{
	struct wa_payload *p = st->p;

	if (p->n_statuses == st->cap_statuses) {
		size_t cap = st->cap_statuses ? st->cap_statuses * 2 : 8;
		struct wa_status *v = realloc(p->statuses, cap * sizeof(*v));

		if (v == NULL)
			return OV_ENOMEM;
		p->statuses = v;
		st->cap_statuses = cap;
	}
	p->statuses[p->n_statuses++] = *s;
	memset(s, 0, sizeof(*s));
	return OV_OK;
}

/* The sender from its contact: name, username, the BSUID (and the phone
 * when the message had none); then the key. A system message (no
 * contacts) keeps what the message said. */
static int
sender_of(const struct contact *v, size_t n, struct wa_message *m,
    const char **why)
{
	const struct contact *c = find_contact(v, n, m);

	if (c != NULL) {
		if (m->user_id[0] == '\0' && c->user_id != NULL &&
		    wa_user_id_valid(c->user_id))
			memcpy(m->user_id, c->user_id, strlen(c->user_id) + 1);
		if (m->phone[0] == '\0' && c->wa_id != NULL &&
		    copy_number(m->phone, c->wa_id) != 0)
			m->phone[0] = '\0';
		if (c->name != NULL &&
		    (m->profile_name = dup_bounded(c->name, WA_NAME_MAX)) ==
		    NULL)
			return OV_ENOMEM;
		if (c->username != NULL &&
		    (m->username = dup_bounded(c->username, WA_NAME_MAX)) ==
		    NULL)
			return OV_ENOMEM;
	}
	if (m->phone[0] != '\0')
		memcpy(m->from, m->phone, strlen(m->phone) + 1);
	else if (m->user_id[0] != '\0')
		memcpy(m->from, m->user_id, strlen(m->user_id) + 1);
	else {
		*why = "sender without a phone number or user id";
		return OV_EPARSE;
	}
	return OV_OK;
}

static int
push_echo(struct parse_state *st, struct wa_message *m)
{
	struct wa_payload *p = st->p;

	if (p->n_echoes == st->cap_echoes) {
		size_t cap = st->cap_echoes ? st->cap_echoes * 2 : 4;
		struct wa_message *v = realloc(p->echoes, cap * sizeof(*v));

		if (v == NULL)
			return OV_ENOMEM;
		p->echoes = v;
		st->cap_echoes = cap;
	}
	p->echoes[p->n_echoes++] = *m;
	memset(m, 0, sizeof(*m));
	return OV_OK;
}

/* smb_message_echoes: each item is a message with "to" (the customer);
 * read as a message whose sender is that customer. */
static int
read_echoes(struct parse_state *st, const cJSON *value)
{
	const cJSON *arr, *it, *to;
	char pnid[32] = "";
	const char *s;
	int rc = OV_OK;

	s = get_str(cJSON_GetObjectItemCaseSensitive(value, "metadata"),
	    "phone_number_id");
	if (s != NULL && strlen(s) < sizeof(pnid))
		memcpy(pnid, s, strlen(s) + 1);
	arr = cJSON_GetObjectItemCaseSensitive(value, "message_echoes");
	if (arr != NULL && !cJSON_IsArray(arr)) {
		skipped(st, "message_echoes", "not an array");
		return OV_OK;
	}
	cJSON_ArrayForEach(it, arr) {
		struct wa_message m;
		const char *why = "malformed";
		cJSON *copy = NULL, *from;

		memset(&m, 0, sizeof(m));
		to = cJSON_GetObjectItemCaseSensitive(it, "to");
		if (!cJSON_IsObject(it) || !cJSON_IsString(to)) {
			skipped(st, "echo", "no recipient");
			continue;
		}
		if ((copy = cJSON_Duplicate(it, 1)) == NULL ||
		    (from = cJSON_CreateString(to->valuestring)) == NULL) {
			cJSON_Delete(copy);
			return OV_ENOMEM;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "from");
		cJSON_AddItemToObject(copy, "from", from);
		rc = read_message(st, copy, &m, &why);
		cJSON_Delete(copy);
		/* The customer is the key, as for their own messages. */
		if (rc == OV_OK && m.phone[0] != '\0')
			memcpy(m.from, m.phone, strlen(m.phone) + 1);
		else if (rc == OV_OK && m.user_id[0] != '\0')
			memcpy(m.from, m.user_id, strlen(m.user_id) + 1);
		else if (rc == OV_OK) {
			why = "recipient without a phone number or user id";
			rc = OV_EPARSE;
		}
		if (rc == OV_OK) {
			memcpy(m.phone_number_id, pnid, sizeof(pnid));
			rc = push_echo(st, &m);
		}
		message_clear(&m);
		if (rc == OV_EPARSE) {
			skipped(st, "echo", why);
			rc = OV_OK;
		}
		if (rc != OV_OK)
			return rc;
	}
	return OV_OK;
}

static int
read_value(struct parse_state *st, const cJSON *value)
{
	const cJSON *meta, *arr, *it;
	struct contact *contacts = NULL;
	size_t ncontacts = 0;
	char pnid[32] = "";
	const char *s;
	int rc;

	meta = cJSON_GetObjectItemCaseSensitive(value, "metadata");
	s = get_str(meta, "phone_number_id");
	if (s != NULL && strlen(s) < sizeof(pnid))
		memcpy(pnid, s, strlen(s) + 1);
	if ((rc = load_contacts(value, &contacts, &ncontacts)) != OV_OK)
		return rc;

	arr = cJSON_GetObjectItemCaseSensitive(value, "messages");
	if (arr != NULL && !cJSON_IsArray(arr)) {
		skipped(st, "messages", "not an array");
		arr = NULL;
	}
	cJSON_ArrayForEach(it, arr) {
		struct wa_message m;
		const char *why = "malformed";

		memset(&m, 0, sizeof(m));
		rc = read_message(st, it, &m, &why);
		if (rc == OV_OK) {
			memcpy(m.phone_number_id, pnid, sizeof(pnid));
			rc = sender_of(contacts, ncontacts, &m, &why);
		}
		if (rc == OV_OK)
			rc = push_message(st, &m);
		message_clear(&m);
		if (rc == OV_EPARSE) {
			skipped(st, "message", why);
			rc = OV_OK;
		}
		if (rc != OV_OK)
			goto out;
	}

	arr = cJSON_GetObjectItemCaseSensitive(value, "statuses");
	if (arr != NULL && !cJSON_IsArray(arr)) {
		skipped(st, "statuses", "not an array");
		arr = NULL;
	}
	cJSON_ArrayForEach(it, arr) {
		struct wa_status s1;
		const char *why = "malformed";

		memset(&s1, 0, sizeof(s1));
		rc = read_status(it, &s1, &why);
		if (rc == OV_OK)
			rc = push_status(st, &s1);
		status_clear(&s1);
		if (rc == OV_EPARSE) {
			skipped(st, "status", why);
			rc = OV_OK;
		}
		if (rc != OV_OK)
			goto out;
	}
	rc = OV_OK;
out:
	free(contacts);
	return rc;
}

int
wa_payload_parse(const char *body, size_t len, struct wa_payload *out)
{
	struct parse_state st;
	const cJSON *entry, *e, *changes, *c, *field, *value;
	cJSON *root = NULL;
	int rc = OV_OK;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	st.p = out;
	if (len > WA_BODY_MAX)
		return OV_ETOOBIG;
	if ((root = parse_json(body, len)) == NULL || !right_object(root)) {
		rc = OV_EPARSE;
		goto out;
	}
	if ((st.printbuf = malloc(WA_RAW_MAX + 8)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	entry = cJSON_GetObjectItemCaseSensitive(root, "entry");
	if (!cJSON_IsArray(entry))
		entry = NULL;
	cJSON_ArrayForEach(e, entry) {
		changes = cJSON_GetObjectItemCaseSensitive(e, "changes");
		if (!cJSON_IsArray(changes))
			changes = NULL;
		cJSON_ArrayForEach(c, changes) {
			/* Other fields (account updates, template reviews)
			 * carry no messages for us. */
			field = cJSON_GetObjectItemCaseSensitive(c, "field");
			value = cJSON_GetObjectItemCaseSensitive(c, "value");
			if (!cJSON_IsObject(value))
				continue;
			if (cJSON_IsString(field) &&
			    strcmp(field->valuestring, "smb_message_echoes") == 0) {
				if ((rc = read_echoes(&st, value)) != OV_OK)
					goto out;
				continue;
			}
			if (cJSON_IsString(field) &&
			    strcmp(field->valuestring, "messages") != 0)
				continue;
			if ((rc = read_value(&st, value)) != OV_OK)
				goto out;
		}
	}
	if (out->n_skipped > WA_SKIP_LOG_MAX)
		log_warn("webhook payload: skipped %zu malformed items in all",
		    out->n_skipped);
out:
	free(st.printbuf);
	cJSON_Delete(root);
	if (rc != OV_OK)
		wa_payload_free(out);
	return rc;
}

void
wa_payload_free(struct wa_payload *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_msgs; i++)
		message_clear(&p->msgs[i]);
	for (size_t i = 0; i < p->n_statuses; i++)
		status_clear(&p->statuses[i]);
	for (size_t i = 0; i < p->n_echoes; i++)
		message_clear(&p->echoes[i]);
	free(p->echoes);
	free(p->msgs);
	free(p->statuses);
	memset(p, 0, sizeof(*p));
}
