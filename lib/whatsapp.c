/*
 * whatsapp.c - WhatsApp Cloud API sending. See whatsapp.h for the error
 * model and the limits.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cabundle.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "utf8.h"
#include "whatsapp.h"

#define URL_MAX 2048
#define TOKEN_MAX 2048
#define PHONE_ID_MAX 32
#define LINK_PATH_MAX 512
#define MIN_REQUEST_MS 50     /* below this a request is not worth starting */
#define ELLIPSIS "\xE2\x80\xA6"

/* ---- small helpers ---------------------------------------------------- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

const char *
wa_send_status_name(enum wa_send_status s)
{
	switch (s) {
	case WA_SEND_OK: return "ok";
	case WA_SEND_RETRY_LATER: return "retry_later";
	case WA_SEND_WINDOW_CLOSED: return "window_closed";
	case WA_SEND_AUTH: return "auth";
	case WA_SEND_REJECTED: return "rejected";
	case WA_SEND_INVALID: return "invalid";
	}
	return "unknown";
}

/* The public names of the utf8 module's checks, kept for callers and tests. */
int
wa_utf8_valid(const char *s, size_t len)
{
	return utf8_valid(s, len) ? 1 : 0;
}

size_t
wa_utf8_chars(const char *s)
{
	return utf8_chars(s, strlen(s));
}

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Valid UTF-8 without control characters (newlines included when !lines). */
static int
text_ok(const char *s, int lines)
{
	size_t len = strlen(s);

	if (!wa_utf8_valid(s, len))
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == 0x7f || (ch < 0x20 && !(lines && (ch == '\n' ||
		    ch == '\t' || ch == '\r'))))
			return 0;
	}
	return 1;
}

/* Something a reader can see: not empty, not only whitespace. */
static int
has_content(const char *s)
{
	for (; *s != '\0'; s++)
		if (!is_space(*s))
			return 1;
	return 0;
}

int
wa_label_fit(const char *s, size_t max, char *out, size_t outlen)
{
	size_t len = strlen(s), cut;

	if (max == 0)
		return -1;
	if (wa_utf8_chars(s) <= max) {
		if (len + 1 > outlen)
			return -1;
		memcpy(out, s, len + 1);
		return 0;
	}
	cut = utf8_offset(s, len, max - 1);
	/* "Cámara domo 4 MP …" reads worse than "Cámara domo 4 MP…". */
	while (cut > 0 && (s[cut - 1] == ' ' || s[cut - 1] == '\t'))
		cut--;
	if (cut + sizeof(ELLIPSIS) > outlen)
		return -1;
	memcpy(out, s, cut);
	memcpy(out + cut, ELLIPSIS, sizeof(ELLIPSIS));
	return 1;
}

/* The end of the last blank line that starts within (0, max] of p, as the
 * offset where the paragraph before it ends; 0 when none. */
static size_t
last_paragraph_break(const char *p, size_t avail, size_t max)
{
	size_t best = 0;

	for (size_t i = 1; i <= max && i < avail; i++) {
		size_t j;

		if (p[i] != '\n')
			continue;
		/* A blank line: '\n', then only blanks, then '\n'. */
		j = i + 1;
		while (j < avail && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r'))
			j++;
		if (j < avail && p[j] == '\n')
			best = i;
	}
	return best;
}

static size_t
last_of(const char *p, size_t max, const char *set)
{
	for (size_t i = max; i > 0; i--)
		if (strchr(set, p[i]) != NULL && p[i] != '\0')
			return i;
	return 0;
}

int
wa_text_split(const char *text, size_t len, size_t max, size_t *off,
    size_t *lens, size_t cap, size_t *n)
{
	size_t pos = 0, count = 0;

	*n = 0;
	if (max < 8)
		return OV_EINVAL;
	while (pos < len && is_space(text[pos]))
		pos++;
	if (pos == len)
		return OV_EINVAL;
	while (pos < len) {
		const char *p = text + pos;
		size_t avail = len - pos, end, next;

		if (avail <= max) {
			end = next = avail;
		} else if ((end = last_paragraph_break(p, avail, max)) > 0 ||
		    (end = last_of(p, max, "\n")) > 0 ||
		    (end = last_of(p, max, " \t")) > 0) {
			next = end;
		} else {
			/* One long word: cut before a continuation byte. */
			end = next = utf8_cut(p, avail, max);
		}
		while (end > 0 && is_space(p[end - 1]))
			end--;
		if (count == cap)
			return OV_ETOOBIG;
		off[count] = pos;
		lens[count] = end;
		count++;
		pos += next;
		while (pos < len && is_space(text[pos]))
			pos++;
	}
	*n = count;
	return OV_OK;
}

/* ---- result ---------------------------------------------------------- */

static void
result_start(struct wa_result *res)
{
	memset(res, 0, sizeof(*res));
	res->status = WA_SEND_OK;
}

/* Replace every occurrence of secret in s (in place) with "[redacted]";
 * s has room for cap bytes. */
static void
scrub(char *s, size_t cap, const char *secret)
{
	static const char mark[] = "[redacted]";
	size_t sl;
	char *hit, *from = s;

	if (secret == NULL || (sl = strlen(secret)) < 4)
		return;
	/* Search on after each mark: a secret found inside "[redacted]"
	 * would otherwise loop for ever. */
	while ((hit = strstr(from, secret)) != NULL) {
		size_t tail = strlen(hit + sl), at = (size_t)(hit - s);

		/* No room for the mark (a secret shorter than it, near the
		 * end): cut the text where the secret began. */
		if (at + sizeof(mark) - 1 + 1 > cap) {
			*hit = '\0';
			return;
		}
		if (at + sizeof(mark) - 1 + tail + 1 > cap)
			tail = cap - 1 - at - (sizeof(mark) - 1);
		memmove(hit + sizeof(mark) - 1, hit + sl, tail);
		memcpy(hit, mark, sizeof(mark) - 1);
		hit[sizeof(mark) - 1 + tail] = '\0';
		from = hit + sizeof(mark) - 1;
	}
}

/* Set res->error: one line, valid UTF-8, no secret. */
static void
set_error(const struct wa_client *c, struct wa_result *res, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
set_error(const struct wa_client *c, struct wa_result *res, const char *fmt,
    ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	for (char *p = res->error; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	/* vsnprintf may have cut a character in two. */
	len = strlen(res->error);
	while (len > 0 && !wa_utf8_valid(res->error, len))
		res->error[--len] = '\0';
	if (c != NULL)
		scrub(res->error, sizeof(res->error), c->token);
}

/* Local refusal: nothing was sent. */
static int
invalid(const struct wa_client *c, struct wa_result *res, int rc,
    const char *what)
{
	res->status = WA_SEND_INVALID;
	set_error(c, res, "%s", what);
	log_warn("WhatsApp message not sent: %s", res->error);
	return rc;
}

/* ---- validation of identifiers ------------------------------------- */

static int
digits_ok(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Printable ASCII without blanks or quotes: wamids, media ids, tokens. */
static int
token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

/* http(s)://... without blanks, quotes or control characters. */
static int
url_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max || !(strncmp(s, "https://", 8) == 0 ||
	    strncmp(s, "http://", 7) == 0))
		return 0;
	if (n <= (s[4] == 's' ? 8u : 7u))
		return 0;
	return token_ok(s, max);
}

static int
filename_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > WA_FILENAME_MAX || !text_ok(s, 0))
		return 0;
	return strpbrk(s, "/\\\"") == NULL && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

/* A BSUID: two capital letters, '.', then [0-9A-Za-z.]. */
static int
bsuid_ok(const char *s)
{
	size_t n;

	if (s == NULL || !isupper((unsigned char)s[0]) ||
	    !isupper((unsigned char)s[1]) || s[2] != '.')
		return 0;
	for (n = 3; s[n] != '\0'; n++)
		if (n >= WA_RECIPIENT_MAX || !(isalnum((unsigned char)s[n]) ||
		    s[n] == '.'))
			return 0;
	return n > 3;
}

static int
recipient_ok(const char *to)
{
	return to != NULL && (digits_ok(to, 5, 20) || bsuid_ok(to));
}

int
wa_recipient(const char *key, char *out, size_t len, bool *by_user_id)
{
	size_t n;

	*by_user_id = false;
	if (!recipient_ok(key))
		return OV_EINVAL;
	n = strlen(key);
	if (bsuid_ok(key)) {
		*by_user_id = true;
	} else if (n == 13 && strncmp(key, "549", 3) == 0) {
		/* An Argentine mobile arrives as 549 + 10 digits; Meta only
		 * delivers everywhere (test numbers included: 131030) to 54
		 * + the 10 digits. */
		if ((size_t)snprintf(out, len, "54%s", key + 3) >= len)
			return OV_EINVAL;
		return OV_OK;
	}
	if ((size_t)snprintf(out, len, "%s", key) >= len)
		return OV_EINVAL;
	return OV_OK;
}

/* ---- client ---------------------------------------------------------- */

static char *
dup_trimmed_url(const char *s)
{
	size_t n = strlen(s);
	char *d;

	while (n > 0 && s[n - 1] == '/')
		n--;
	if ((d = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

int
wa_client_init(struct wa_client *c, const struct config *cfg, char *err,
    size_t errlen)
{
	const char *api, *token, *phone, *base;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = config_require(cfg, "WHATSAPP_TOKEN", &token, err,
	    errlen)) != OV_OK ||
	    (rc = config_require(cfg, "PHONE_NUMBER_ID", &phone, err,
	    errlen)) != OV_OK ||
	    (rc = config_require(cfg, "WHATSAPP_API_URL", &api, err,
	    errlen)) != OV_OK)
		return rc;
	if (!token_ok(token, TOKEN_MAX)) {
		snprintf(err, errlen, "configuration key WHATSAPP_TOKEN is not "
		    "a valid access token");
		return OV_ECONFIG;
	}
	if (!digits_ok(phone, 1, PHONE_ID_MAX)) {
		snprintf(err, errlen, "configuration key PHONE_NUMBER_ID must "
		    "be the numeric phone number id");
		return OV_ECONFIG;
	}
	if (!url_ok(api, 1024) || strpbrk(api, "?#") != NULL) {
		snprintf(err, errlen, "configuration key WHATSAPP_API_URL must "
		    "be an http(s) URL");
		return OV_ECONFIG;
	}
	base = config_get(cfg, "PUBLIC_BASE_URL");
	if (base != NULL && (!url_ok(base, 1024) ||
	    strpbrk(base, "?#") != NULL)) {
		snprintf(err, errlen, "configuration key PUBLIC_BASE_URL must "
		    "be an http(s) URL");
		return OV_ECONFIG;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return OV_ENOMEM;
	}
	c->api_url = dup_trimmed_url(api);
	c->token = strdup(token);
	c->phone_number_id = strdup(phone);
	c->public_base_url = base != NULL ? dup_trimmed_url(base) : NULL;
	c->curl = curl_easy_init();
	if (c->api_url == NULL || c->token == NULL ||
	    c->phone_number_id == NULL || c->curl == NULL ||
	    (base != NULL && c->public_base_url == NULL)) {
		if (c->curl == NULL)
			curl_global_cleanup();   /* wa_client_free() won't */
		wa_client_free(c);
		snprintf(err, errlen, "out of memory");
		return OV_ENOMEM;
	}
	c->connect_timeout_ms = 3000;
	c->timeout_ms = 10000;
	c->budget_ms = 20000;
	c->max_attempts = 3;
	c->backoff_ms = 200;
	c->response_max = 64 * 1024;
	c->rng = (unsigned int)mono_ms() ^ ((unsigned int)getpid() << 16);
	return OV_OK;
}

void
wa_client_free(struct wa_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
	}
	free(c->api_url);
	if (c->token != NULL) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->phone_number_id);
	free(c->public_base_url);
	memset(c, 0, sizeof(*c));
}

/* ---- one HTTP exchange ---------------------------------------------- */

struct upload {
	const char *path;
	const char *mime;
	const char *filename;
};

/* One call of the public API: its deadline and its result. */
struct call {
	struct wa_client *c;
	struct wa_result *res;
	int64_t deadline;
};

struct answer {
	char *buf;
	size_t len, max;
	int overflow;
};

static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb;
	char *p;

	if (n > a->max - a->len) {
		a->overflow = 1;
		return 0;   /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if ((p = realloc(a->buf, a->len + n + 1)) == NULL)
		return 0;
	a->buf = p;
	memcpy(a->buf + a->len, data, n);
	a->len += n;
	a->buf[a->len] = '\0';
	return n;
}

static int
build_mime(CURL *h, const struct upload *up, curl_mime **out)
{
	curl_mime *mime = curl_mime_init(h);
	curl_mimepart *part;

	*out = mime;
	if (mime == NULL)
		return OV_ENOMEM;
	if ((part = curl_mime_addpart(mime)) == NULL ||
	    curl_mime_name(part, "messaging_product") != CURLE_OK ||
	    curl_mime_data(part, "whatsapp", CURL_ZERO_TERMINATED) != CURLE_OK)
		return OV_ENOMEM;
	if ((part = curl_mime_addpart(mime)) == NULL ||
	    curl_mime_name(part, "type") != CURLE_OK ||
	    curl_mime_data(part, up->mime, CURL_ZERO_TERMINATED) != CURLE_OK)
		return OV_ENOMEM;
	if ((part = curl_mime_addpart(mime)) == NULL ||
	    curl_mime_name(part, "file") != CURLE_OK)
		return OV_ENOMEM;
	if (curl_mime_filedata(part, up->path) != CURLE_OK)
		return OV_EIO;
	if (curl_mime_filename(part, up->filename) != CURLE_OK ||
	    curl_mime_type(part, up->mime) != CURLE_OK)
		return OV_ENOMEM;
	return OV_OK;
}

/*
 * One request with the time left. Fills *http (0 when no answer) and *cc;
 * the answer body goes to *a (caller frees a->buf).
 */
static int
exchange(struct call *k, const char *endpoint, const char *json,
    const struct upload *up, long *http, CURLcode *cc, struct answer *a)
{
	struct wa_client *c = k->c;
	CURL *h = c->curl;
	struct curl_slist *hdrs = NULL, *t;
	curl_mime *mime = NULL;
	char url[URL_MAX];
	int64_t left = k->deadline - mono_ms();
	long timeout, connect;
	int rc = OV_OK;

	*http = 0;
	*cc = CURLE_OK;
	timeout = c->timeout_ms < left ? c->timeout_ms : (long)left;
	connect = c->connect_timeout_ms < timeout ? c->connect_timeout_ms :
	    timeout;
	if ((size_t)snprintf(url, sizeof(url), "%s/%s/%s", c->api_url,
	    c->phone_number_id, endpoint) >= sizeof(url))
		return OV_EINVAL;

	curl_easy_reset(h);
	if ((t = curl_slist_append(hdrs, "Accept: application/json")) == NULL)
		goto nomem;
	hdrs = t;
	/* No "Expect: 100-continue" pause before a large upload. */
	if ((t = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto nomem;
	hdrs = t;
	if (json != NULL) {
		if ((t = curl_slist_append(hdrs,
		    "Content-Type: application/json")) == NULL)
			goto nomem;
		hdrs = t;
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	} else {
		if ((rc = build_mime(h, up, &mime)) != OV_OK)
			goto out;
		curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
	curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, c->token);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ovidio/1");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	cabundle_apply(h);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);

	k->res->attempts++;
	*cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
	goto out;
nomem:
	rc = OV_ENOMEM;
out:
	/* The handle must not keep pointers to what is freed here. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_MIMEPOST, NULL);
	curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, NULL);
	curl_mime_free(mime);
	curl_slist_free_all(hdrs);
	return rc;
}

/* ---- classification ----------------------------------------------- */

static long
json_long(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
	    v->valuedouble < 1e15)
		return (long)v->valuedouble;
	if (cJSON_IsString(v) && digits_ok(v->valuestring, 1, 15))
		return strtol(v->valuestring, NULL, 10);
	return 0;
}

static const char *
json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
retryable_code(long code)
{
	switch (code) {
	case 1:        /* unknown error */
	case 2:        /* service temporarily unavailable */
	case 4:        /* application request limit */
	case 80007:    /* WABA rate limit */
	case 130429:   /* throughput rate limit */
	case 131000:   /* something went wrong */
	case 131016:   /* service unavailable */
	case 131056:   /* pair rate limit */
	case 133004:   /* server temporarily unavailable */
		return 1;
	}
	return 0;
}

static int
auth_code(long code, long subcode)
{
	return code == 190 || code == 10 || code == 131005 ||
	    (code >= 200 && code <= 299) || (code == 100 && subcode == 33);
}

/*
 * Decide what a failed exchange means. Sets res->status, meta codes and
 * error text; *retry says whether another attempt may help.
 */
static void
classify_failure(struct call *k, long http, CURLcode cc,
    const struct answer *a, int *retry)
{
	struct wa_client *c = k->c;
	struct wa_result *res = k->res;
	cJSON *doc = NULL;
	const cJSON *e;
	const char *msg = NULL, *details = NULL, *trace = NULL;

	*retry = 0;
	res->http_status = http;
	res->meta_code = res->meta_subcode = 0;
	if (cc != CURLE_OK) {
		res->status = WA_SEND_RETRY_LATER;
		if (a->overflow) {
			set_error(c, res, "answer over %zu bytes",
			    c->response_max);
		} else if (cc == CURLE_OPERATION_TIMEDOUT) {
			set_error(c, res, "no answer in time");
			*retry = 1;
		} else {
			set_error(c, res, "network error: %s",
			    curl_easy_strerror(cc));
			*retry = 1;
		}
		return;
	}
	if (a->buf != NULL && (doc = cJSON_ParseWithLength(a->buf, a->len)) &&
	    cJSON_IsObject(e = cJSON_GetObjectItemCaseSensitive(doc, "error"))) {
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(e,
		    "error_data");
		res->meta_code = json_long(e, "code");
		res->meta_subcode = json_long(e, "error_subcode");
		msg = json_str(e, "message");
		trace = json_str(e, "fbtrace_id");
		if (cJSON_IsObject(data))
			details = json_str(data, "details");
	}
	if (msg != NULL && details != NULL && strcmp(msg, details) != 0)
		set_error(c, res, "%s: %s", msg, details);
	else if (msg != NULL)
		set_error(c, res, "%s", msg);
	else
		set_error(c, res, "HTTP %ld without a Graph API error", http);

	if (auth_code(res->meta_code, res->meta_subcode) ||
	    (res->meta_code == 0 && (http == 401 || http == 403))) {
		res->status = WA_SEND_AUTH;
		log_error("WhatsApp refused our credentials (HTTP %ld, Meta "
		    "error %ld): check %s; %s", http, res->meta_code,
		    res->meta_subcode == 33 ? "PHONE_NUMBER_ID" :
		    "WHATSAPP_TOKEN", res->error);
	} else if (res->meta_code == 131047) {
		res->status = WA_SEND_WINDOW_CLOSED;
	} else if (retryable_code(res->meta_code) || http >= 500 ||
	    http == 429) {
		res->status = WA_SEND_RETRY_LATER;
		*retry = 1;
	} else {
		res->status = WA_SEND_REJECTED;
	}
	if (res->status != WA_SEND_AUTH)
		log_warn("WhatsApp refused a message: HTTP %ld, Meta error "
		    "%ld/%ld (%s), fbtrace %s: %s", http, res->meta_code,
		    res->meta_subcode, wa_send_status_name(res->status),
		    trace != NULL && token_ok(trace, 64) ? trace : "-",
		    res->error);
	cJSON_Delete(doc);
}

/*
 * POST to endpoint ("messages" or "media") with a JSON body or an upload,
 * retrying as whatsapp.h says. On OV_OK *out is the parsed 2xx answer
 * (caller frees with cJSON_Delete).
 */
static int
perform(struct call *k, const char *endpoint, const char *json,
    const struct upload *up, cJSON **out)
{
	struct wa_client *c = k->c;
	struct wa_result *res = k->res;
	int64_t wait = c->backoff_ms;
	int rc = OV_EREMOTE;

	*out = NULL;
	for (int attempt = 1;; attempt++) {
		struct answer a = { NULL, 0, c->response_max, 0 };
		long http;
		CURLcode cc;
		int retry;

		if (k->deadline - mono_ms() < MIN_REQUEST_MS) {
			res->status = WA_SEND_RETRY_LATER;
			if (attempt == 1)
				set_error(c, res, "no time left to send");
			log_warn("WhatsApp %s: time budget of %ld ms spent after "
			    "%d attempt(s)", endpoint, c->budget_ms, attempt - 1);
			return OV_EREMOTE;
		}
		rc = exchange(k, endpoint, json, up, &http, &cc, &a);
		if (rc != OV_OK) {
			free(a.buf);
			res->status = rc == OV_ENOMEM ? WA_SEND_RETRY_LATER :
			    WA_SEND_INVALID;
			set_error(c, res, "%s", rc == OV_EIO ?
			    "cannot read the file to upload" : ov_strerror(rc));
			return rc;
		}
		if (cc == CURLE_OK && http >= 200 && http < 300) {
			res->http_status = http;
			res->meta_code = res->meta_subcode = 0;
			*out = a.buf != NULL ? cJSON_ParseWithLength(a.buf,
			    a.len) : NULL;
			free(a.buf);
			if (*out == NULL) {
				/* Meta took it but said something odd: the
				 * message may be out, so no retry. */
				res->status = WA_SEND_RETRY_LATER;
				set_error(c, res, "HTTP %ld with an answer that "
				    "is not JSON", http);
				return OV_EREMOTE;
			}
			res->status = WA_SEND_OK;
			res->error[0] = '\0';
			return OV_OK;
		}
		classify_failure(k, http, cc, &a, &retry);
		free(a.buf);
		if (!retry || attempt >= c->max_attempts)
			break;
		{
			/* Jitter of +-25% so parallel workers spread out. */
			int64_t j = wait / 2 > 0 ? (int64_t)(rand_r(&c->rng) %
			    (unsigned int)(wait / 2 + 1)) - wait / 4 : 0;
			int64_t pause = wait + j;

			if (mono_ms() + pause + MIN_REQUEST_MS > k->deadline) {
				log_warn("WhatsApp %s: no time left for another "
				    "attempt after %d", endpoint, attempt);
				break;
			}
			sleep_ms(pause);
			wait *= 4;
		}
	}
	switch (res->status) {
	case WA_SEND_AUTH:
		return OV_EAUTH;
	default:
		return OV_EREMOTE;
	}
}

/* ---- JSON building --------------------------------------------------- */

/* Every cJSON_Add* can fail for memory; collect that in one flag. */
struct jb {
	int failed;
};

static cJSON *
jadd_obj(struct jb *b, cJSON *parent, const char *key)
{
	cJSON *o = cJSON_AddObjectToObject(parent, key);

	if (o == NULL)
		b->failed = 1;
	return o;
}

static cJSON *
jadd_arr(struct jb *b, cJSON *parent, const char *key)
{
	cJSON *o = cJSON_AddArrayToObject(parent, key);

	if (o == NULL)
		b->failed = 1;
	return o;
}

static void
jadd_str(struct jb *b, cJSON *parent, const char *key, const char *val)
{
	if (parent == NULL || cJSON_AddStringToObject(parent, key, val) == NULL)
		b->failed = 1;
}

static cJSON *
jpush_obj(struct jb *b, cJSON *arr)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || arr == NULL || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		b->failed = 1;
		return NULL;
	}
	return o;
}

/* {"messaging_product":"whatsapp","recipient_type":"individual","to":..,
 * "type":..}, with the type's own object returned in *body. */
static cJSON *
message_new(struct jb *b, const char *to, const char *type, cJSON **body)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL) {
		b->failed = 1;
		return NULL;
	}
	jadd_str(b, m, "messaging_product", "whatsapp");
	jadd_str(b, m, "recipient_type", "individual");
	/* The one place a customer's key becomes Meta's recipient: "to" a
	 * phone number (549 -> 54) or, for a customer known by BSUID alone,
	 * the BSUID (Meta's description of "to": "WhatsApp ID or phone
	 * number of the message recipient"; it requires "to" and knows no
	 * other recipient field). */
	{
		char addr[WA_RECIPIENT_MAX + 1];
		bool by_user_id;

		if (wa_recipient(to, addr, sizeof(addr), &by_user_id) != OV_OK)
			b->failed = 1;
		else
			jadd_str(b, m, "to", addr);
	}
	jadd_str(b, m, "type", type);
	*body = jadd_obj(b, m, type);
	return m;
}

int
wa_set_callback(struct wa_client *c, const char *tag, unsigned int first)
{
	size_t n;

	c->callback[0] = '\0';
	c->callback_first = 0;
	if (tag == NULL)
		return OV_OK;
	n = strnlen(tag, WA_CALLBACK_TAG_MAX + 1);
	if (n == 0 || n > WA_CALLBACK_TAG_MAX)
		return OV_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (tag[i] < 0x20 || tag[i] > 0x7e)
			return OV_EINVAL;
	memcpy(c->callback, tag, n + 1);
	c->callback_first = first;
	return OV_OK;
}

/* Send one message JSON; on success append its wamid as a part. */
static int
send_message(struct call *k, cJSON *msg, size_t off, size_t len)
{
	struct wa_result *res = k->res;
	const cJSON *msgs, *first;
	const char *wamid;
	cJSON *answer = NULL;
	char *json;
	int rc;

	if (k->c->callback[0] != '\0') {
		char cb[WA_CALLBACK_TAG_MAX + 16];

		snprintf(cb, sizeof(cb), "%s:%zu", k->c->callback,
		    (size_t)k->c->callback_first + res->nparts);
		cJSON_DeleteItemFromObjectCaseSensitive(msg,
		    "biz_opaque_callback_data");
		if (cJSON_AddStringToObject(msg, "biz_opaque_callback_data",
		    cb) == NULL) {
			res->status = WA_SEND_RETRY_LATER;
			set_error(k->c, res, "out of memory");
			return OV_ENOMEM;
		}
	}
	if ((json = cJSON_PrintUnformatted(msg)) == NULL) {
		res->status = WA_SEND_RETRY_LATER;
		set_error(k->c, res, "out of memory");
		return OV_ENOMEM;
	}
	rc = perform(k, "messages", json, NULL, &answer);
	cJSON_free(json);
	if (rc != OV_OK)
		goto out;
	msgs = cJSON_GetObjectItemCaseSensitive(answer, "messages");
	first = cJSON_IsArray(msgs) ? cJSON_GetArrayItem(msgs, 0) : NULL;
	wamid = json_str(first, "id");
	if (wamid == NULL || !token_ok(wamid, WA_WAMID_MAX) ||
	    res->nparts == WA_TEXT_PARTS) {
		res->status = WA_SEND_RETRY_LATER;
		set_error(k->c, res, "accepted without a valid message id");
		log_warn("WhatsApp: %s", res->error);
		rc = OV_EREMOTE;
		goto out;
	}
	memcpy(res->parts[res->nparts].wamid, wamid, strlen(wamid) + 1);
	res->parts[res->nparts].off = off;
	res->parts[res->nparts].len = len;
	res->nparts++;
out:
	cJSON_Delete(answer);
	return rc;
}

static void
call_start(struct call *k, struct wa_client *c, struct wa_result *res)
{
	result_start(res);
	k->c = c;
	k->res = res;
	k->deadline = mono_ms() + (c->budget_ms > 0 ? c->budget_ms : 0);
}

/* ---- public senders ------------------------------------------------ */

int
wa_send_text(struct wa_client *c, const char *to, const char *text,
    struct wa_result *res)
{
	struct wa_result local;
	size_t off[WA_TEXT_PARTS], lens[WA_TEXT_PARTS], n, len;
	struct call k;
	int rc = OV_OK;

	if (res == NULL)
		res = &local;
	call_start(&k, c, res);
	if (!recipient_ok(to))
		return invalid(c, res, OV_EINVAL, "recipient is not a WhatsApp "
		    "number");
	if (text == NULL || (len = strlen(text)) > WA_TEXT_TOTAL_MAX)
		return invalid(c, res, text == NULL ? OV_EINVAL : OV_ETOOBIG,
		    "text is missing or too long");
	if (!wa_utf8_valid(text, len))
		return invalid(c, res, OV_EINVAL, "text is not valid UTF-8");
	rc = wa_text_split(text, len, WA_MSG_TEXT_MAX, off, lens,
	    WA_TEXT_PARTS, &n);
	if (rc != OV_OK)
		return invalid(c, res, rc, rc == OV_ETOOBIG ? "text is too long"
		    : "text is empty");
	for (size_t i = 0; i < n && rc == OV_OK; i++) {
		struct jb b = { 0 };
		cJSON *body = NULL, *msg = message_new(&b, to, "text", &body);
		char *piece = malloc(lens[i] + 1);

		if (piece != NULL) {
			memcpy(piece, text + off[i], lens[i]);
			piece[lens[i]] = '\0';
			jadd_str(&b, body, "body", piece);
		}
		if (piece == NULL || b.failed) {
			res->status = WA_SEND_RETRY_LATER;
			set_error(c, res, "out of memory");
			rc = OV_ENOMEM;
		} else {
			rc = send_message(&k, msg, off[i], lens[i]);
		}
		free(piece);
		cJSON_Delete(msg);
	}
	if (rc != OV_OK && res->nparts > 0)
		log_warn("WhatsApp: only %zu of %zu parts of a long text went "
		    "out", res->nparts, n);
	return rc;
}

/* Check a label and fit it into out; OV_EINVAL when empty or malformed. */
static int
fit_label(const char *s, size_t max, char *out, size_t outlen)
{
	if (s == NULL || !text_ok(s, 0) || !has_content(s))
		return OV_EINVAL;
	return wa_label_fit(s, max, out, outlen) < 0 ? OV_EINVAL : OV_OK;
}

/* Check a content text (body, caption): whole or OV_EINVAL. */
static int
content_ok(const char *s, size_t max_chars)
{
	return s != NULL && text_ok(s, 1) && has_content(s) &&
	    wa_utf8_chars(s) <= max_chars;
}

/* Interactive header/body/footer shared by buttons and lists. */
static int
interactive_common(struct jb *b, cJSON *it, const char *header,
    const char *body, size_t body_max, const char *footer, const char **why)
{
	char buf[4 * WA_HEADER_MAX + 8];
	cJSON *o;

	if (!content_ok(body, body_max)) {
		*why = "body is empty, malformed or too long";
		return OV_EINVAL;
	}
	if (header != NULL) {
		if (fit_label(header, WA_HEADER_MAX, buf, sizeof(buf)) != OV_OK) {
			*why = "header is empty or malformed";
			return OV_EINVAL;
		}
		o = jadd_obj(b, it, "header");
		jadd_str(b, o, "type", "text");
		jadd_str(b, o, "text", buf);
	}
	o = jadd_obj(b, it, "body");
	jadd_str(b, o, "text", body);
	if (footer != NULL) {
		if (fit_label(footer, WA_FOOTER_MAX, buf, sizeof(buf)) != OV_OK) {
			*why = "footer is empty or malformed";
			return OV_EINVAL;
		}
		o = jadd_obj(b, it, "footer");
		jadd_str(b, o, "text", buf);
	}
	return OV_OK;
}

static int
id_ok(const char *id, size_t max)
{
	return id != NULL && *id != '\0' && text_ok(id, 0) &&
	    wa_utf8_chars(id) <= max;
}

/* Finish: print and send one interactive/document/template message. */
static int
send_built(struct call *k, cJSON *msg, struct jb *b, int rc,
    const char *why)
{
	if (rc == OV_OK && b->failed) {
		k->res->status = WA_SEND_RETRY_LATER;
		set_error(k->c, k->res, "out of memory");
		rc = OV_ENOMEM;
	} else if (rc != OV_OK) {
		rc = invalid(k->c, k->res, rc, why);
	} else {
		rc = send_message(k, msg, 0, 0);
	}
	cJSON_Delete(msg);
	return rc;
}

int
wa_send_buttons(struct wa_client *c, const char *to, const char *header,
    const char *body, const char *footer, const struct wa_button *buttons,
    size_t nbuttons, struct wa_result *res)
{
	char titles[WA_BUTTONS_MAX][4 * WA_BUTTON_TITLE_MAX + 8];
	struct wa_result local;
	struct jb b = { 0 };
	const char *why = NULL;
	cJSON *msg = NULL, *it = NULL, *arr;
	struct call k;
	int rc = OV_OK;

	if (res == NULL)
		res = &local;
	call_start(&k, c, res);
	if (!recipient_ok(to))
		return invalid(c, res, OV_EINVAL, "recipient is not a WhatsApp "
		    "number");
	if (buttons == NULL || nbuttons < 1 || nbuttons > WA_BUTTONS_MAX)
		return invalid(c, res, OV_EINVAL, "reply buttons must be 1 to 3");
	for (size_t i = 0; i < nbuttons; i++) {
		if (!id_ok(buttons[i].id, WA_BUTTON_ID_MAX)) {
			why = "button id is empty, malformed or too long";
			break;
		}
		if (fit_label(buttons[i].title, WA_BUTTON_TITLE_MAX, titles[i],
		    sizeof(titles[i])) != OV_OK) {
			why = "button title is empty or malformed";
			break;
		}
		for (size_t j = 0; j < i && why == NULL; j++) {
			if (strcmp(buttons[i].id, buttons[j].id) == 0)
				why = "button ids repeat";
			else if (strcmp(titles[i], titles[j]) == 0)
				why = "button titles repeat";
		}
		if (why != NULL)
			break;
	}
	if (why != NULL)
		return invalid(c, res, OV_EINVAL, why);

	msg = message_new(&b, to, "interactive", &it);
	jadd_str(&b, it, "type", "button");
	rc = interactive_common(&b, it, header, body, WA_BUTTONS_BODY_MAX,
	    footer, &why);
	if (rc == OV_OK) {
		arr = jadd_arr(&b, jadd_obj(&b, it, "action"), "buttons");
		for (size_t i = 0; i < nbuttons; i++) {
			cJSON *bt = jpush_obj(&b, arr), *reply;

			jadd_str(&b, bt, "type", "reply");
			reply = jadd_obj(&b, bt, "reply");
			jadd_str(&b, reply, "id", buttons[i].id);
			jadd_str(&b, reply, "title", titles[i]);
		}
	}
	return send_built(&k, msg, &b, rc, why);
}

int
wa_send_list(struct wa_client *c, const char *to, const char *header,
    const char *body, const char *footer, const char *button,
    const struct wa_section *sections, size_t nsections,
    struct wa_result *res)
{
	char label[4 * WA_LIST_BUTTON_MAX + 8], buf[4 * WA_ROW_DESC_MAX + 8];
	const char *ids[WA_LIST_ROWS_MAX];
	struct wa_result local;
	struct jb b = { 0 };
	const char *why = NULL;
	cJSON *msg = NULL, *it = NULL, *action, *arr = NULL;
	size_t nrows = 0;
	struct call k;
	int rc = OV_OK;

	if (res == NULL)
		res = &local;
	call_start(&k, c, res);
	if (!recipient_ok(to))
		return invalid(c, res, OV_EINVAL, "recipient is not a WhatsApp "
		    "number");
	if (sections == NULL || nsections < 1 ||
	    nsections > WA_LIST_SECTIONS_MAX)
		return invalid(c, res, OV_EINVAL, "a list needs 1 to 10 sections");
	if (fit_label(button, WA_LIST_BUTTON_MAX, label, sizeof(label)) != OV_OK)
		return invalid(c, res, OV_EINVAL, "list button label is empty "
		    "or malformed");
	/* Rows: count, ids (never truncated: the reply carries them back). */
	for (size_t s = 0; s < nsections && why == NULL; s++) {
		const struct wa_section *sec = &sections[s];

		if (sec->rows == NULL || sec->nrows == 0)
			why = "a list section has no rows";
		else if (sec->title == NULL && nsections > 1)
			why = "list sections need titles when there are several";
		for (size_t r = 0; why == NULL && r < sec->nrows; r++) {
			if (nrows == WA_LIST_ROWS_MAX) {
				why = "a list has at most 10 rows";
				break;
			}
			if (!id_ok(sec->rows[r].id, WA_ROW_ID_MAX)) {
				why = "row id is empty, malformed or too long";
				break;
			}
			for (size_t j = 0; j < nrows; j++)
				if (strcmp(ids[j], sec->rows[r].id) == 0)
					why = "row ids repeat";
			ids[nrows++] = sec->rows[r].id;
		}
	}
	if (why != NULL)
		return invalid(c, res, OV_EINVAL, why);

	msg = message_new(&b, to, "interactive", &it);
	jadd_str(&b, it, "type", "list");
	rc = interactive_common(&b, it, header, body, WA_LIST_BODY_MAX, footer,
	    &why);
	if (rc == OV_OK) {
		action = jadd_obj(&b, it, "action");
		jadd_str(&b, action, "button", label);
		arr = jadd_arr(&b, action, "sections");
	}
	for (size_t s = 0; rc == OV_OK && s < nsections; s++) {
		const struct wa_section *sec = &sections[s];
		cJSON *so = jpush_obj(&b, arr), *rows;

		if (sec->title != NULL) {
			if (fit_label(sec->title, WA_SECTION_TITLE_MAX, buf,
			    sizeof(buf)) != OV_OK) {
				why = "section title is empty or malformed";
				rc = OV_EINVAL;
				break;
			}
			jadd_str(&b, so, "title", buf);
		}
		rows = jadd_arr(&b, so, "rows");
		for (size_t r = 0; r < sec->nrows; r++) {
			const struct wa_row *row = &sec->rows[r];
			cJSON *ro = jpush_obj(&b, rows);

			jadd_str(&b, ro, "id", row->id);
			if (fit_label(row->title, WA_ROW_TITLE_MAX, buf,
			    sizeof(buf)) != OV_OK) {
				why = "row title is empty or malformed";
				rc = OV_EINVAL;
				break;
			}
			jadd_str(&b, ro, "title", buf);
			if (row->description != NULL) {
				if (fit_label(row->description, WA_ROW_DESC_MAX,
				    buf, sizeof(buf)) != OV_OK) {
					why = "row description is empty or "
					    "malformed";
					rc = OV_EINVAL;
					break;
				}
				jadd_str(&b, ro, "description", buf);
			}
		}
	}
	return send_built(&k, msg, &b, rc, why);
}

static int
document_build(struct call *k, const char *to, const char *media_id,
    const char *link, const char *filename, const char *caption)
{
	struct jb b = { 0 };
	const char *why = NULL;
	cJSON *msg, *doc = NULL;
	int rc = OV_EINVAL;

	if (!recipient_ok(to))
		why = "recipient is not a WhatsApp number";
	else if ((media_id == NULL) == (link == NULL))
		why = "a document needs a media id or a link";
	else if (media_id != NULL && !token_ok(media_id, WA_MEDIA_ID_MAX))
		why = "media id is malformed";
	else if (link != NULL && !url_ok(link, URL_MAX - 1))
		why = "document link is not an http(s) URL";
	else if (filename != NULL && !filename_ok(filename))
		why = "file name is empty, malformed or too long";
	else if (caption != NULL && !content_ok(caption, WA_CAPTION_MAX))
		why = "caption is empty, malformed or too long";
	else
		rc = OV_OK;
	if (rc != OV_OK)
		return invalid(k->c, k->res, rc, why);
	msg = message_new(&b, to, "document", &doc);
	if (media_id != NULL)
		jadd_str(&b, doc, "id", media_id);
	else
		jadd_str(&b, doc, "link", link);
	if (filename != NULL)
		jadd_str(&b, doc, "filename", filename);
	if (caption != NULL)
		jadd_str(&b, doc, "caption", caption);
	return send_built(k, msg, &b, OV_OK, NULL);
}

int
wa_send_document(struct wa_client *c, const char *to, const char *media_id,
    const char *link, const char *filename, const char *caption,
    struct wa_result *res)
{
	struct wa_result local;
	struct call k;

	if (res == NULL)
		res = &local;
	call_start(&k, c, res);
	return document_build(&k, to, media_id, link, filename, caption);
}

/* A picture by link (a product photo on the shop's site), with a caption. */
int
wa_send_image(struct wa_client *c, const char *to, const char *link,
    const char *caption, struct wa_result *res)
{
	struct wa_result local;
	struct call k;
	struct jb b = { 0 };
	const char *why = NULL;
	cJSON *msg, *img = NULL;

	if (res == NULL)
		res = &local;
	call_start(&k, c, res);
	if (!recipient_ok(to))
		why = "recipient is not a WhatsApp number";
	else if (link == NULL || !url_ok(link, URL_MAX - 1))
		why = "image link is not an http(s) URL";
	else if (caption != NULL && !content_ok(caption, WA_CAPTION_MAX))
		why = "caption is empty, malformed or too long";
	if (why != NULL)
		return invalid(k.c, k.res, OV_EINVAL, why);
	msg = message_new(&b, to, "image", &img);
	jadd_str(&b, img, "link", link);
	if (caption != NULL)
		jadd_str(&b, img, "caption", caption);
	return send_built(&k, msg, &b, OV_OK, NULL);
}

static int
mime_ok(const char *s)
{
	const char *slash;

	if (s == NULL || strlen(s) > 127 || (slash = strchr(s, '/')) == NULL ||
	    slash == s || slash[1] == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		    strchr("/.+-", *s) != NULL))
			return 0;
	return 1;
}

static int
upload_media(struct call *k, const char *path, const char *mime,
    const char *filename, char *media_id)
{
	struct upload up = { path, mime, filename };
	struct stat st;
	cJSON *answer = NULL;
	const char *id;
	int rc;

	media_id[0] = '\0';
	if (path == NULL || !mime_ok(mime) || filename == NULL ||
	    !filename_ok(filename))
		return invalid(k->c, k->res, OV_EINVAL, "upload needs a path, "
		    "a MIME type and a plain file name");
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return invalid(k->c, k->res, OV_EIO, "the file to upload cannot "
		    "be read");
	if (st.st_size <= 0 || st.st_size > WA_MEDIA_MAX)
		return invalid(k->c, k->res, OV_ETOOBIG, "the file to upload is "
		    "empty or over 100 MB");
	rc = perform(k, "media", NULL, &up, &answer);
	if (rc != OV_OK)
		goto out;
	id = json_str(answer, "id");
	if (id == NULL || !token_ok(id, WA_MEDIA_ID_MAX)) {
		k->res->status = WA_SEND_RETRY_LATER;
		set_error(k->c, k->res, "upload accepted without a media id");
		log_warn("WhatsApp: %s", k->res->error);
		rc = OV_EREMOTE;
		goto out;
	}
	memcpy(media_id, id, strlen(id) + 1);
out:
	cJSON_Delete(answer);
	return rc;
}

int
wa_upload_media(struct wa_client *c, const char *path, const char *mime,
    const char *filename, char *media_id, struct wa_result *res)
{
	struct wa_result local;
	struct call k;
	int rc;

	if (res == NULL)
		res = &local;
	call_start(&k, c, res);
	rc = upload_media(&k, path, mime, filename, media_id);
	if (rc == OV_OK)
		memcpy(res->media_id, media_id, strlen(media_id) + 1);
	return rc;
}

static int
link_path_ok(const char *p)
{
	size_t n = strlen(p);

	if (n < 2 || n > LINK_PATH_MAX || p[0] != '/' || strstr(p, "..") ||
	    strstr(p, "//"))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)p[i]) || strchr("/._~-", p[i])))
			return 0;
	return 1;
}

int
wa_send_pdf(struct wa_client *c, const char *to, const char *path,
    const char *filename, const char *caption, const char *link_path,
    struct wa_result *res)
{
	char media_id[WA_MEDIA_ID_MAX + 1], link[URL_MAX];
	struct wa_result local;
	struct call k;
	int64_t deadline;
	int rc, fallback;
	int attempts;

	if (res == NULL)
		res = &local;
	call_start(&k, c, res);
	if (!recipient_ok(to))
		return invalid(c, res, OV_EINVAL, "recipient is not a WhatsApp "
		    "number");
	if (caption != NULL && !content_ok(caption, WA_CAPTION_MAX))
		return invalid(c, res, OV_EINVAL, "caption is empty, malformed "
		    "or too long");
	if (link_path != NULL && !link_path_ok(link_path))
		return invalid(c, res, OV_EINVAL, "link path is malformed");
	fallback = c->public_base_url != NULL && link_path != NULL &&
	    (size_t)snprintf(link, sizeof(link), "%s%s", c->public_base_url,
	    link_path) < sizeof(link);

	/* Keep a third of the budget for the link when there is one. */
	deadline = k.deadline;
	if (fallback)
		k.deadline = mono_ms() + c->budget_ms * 2 / 3;
	rc = upload_media(&k, path, "application/pdf", filename, media_id);
	k.deadline = deadline;
	if (rc == OV_OK) {
		memcpy(res->media_id, media_id, strlen(media_id) + 1);
		return document_build(&k, to, media_id, NULL, filename,
		    caption);
	}
	if (!fallback || !(res->status == WA_SEND_RETRY_LATER ||
	    res->status == WA_SEND_REJECTED))
		return rc;
	log_warn("WhatsApp: PDF upload failed (%s); sending the link "
	    "instead", res->error);
	attempts = res->attempts;
	result_start(res);
	res->attempts = attempts;
	res->by_link = true;
	return document_build(&k, to, NULL, link, filename, caption);
}

static int
template_param_ok(const char *p)
{
	if (!content_ok(p, WA_TEMPLATE_PARAM_MAX) ||
	    strpbrk(p, "\n\t\r") != NULL || strstr(p, "     ") != NULL)
		return 0;
	return 1;
}

static int
template_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 512)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
		    s[i] == '_'))
			return 0;
	return 1;
}

static int
language_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 15)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(isalpha((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

int
wa_send_template(struct wa_client *c, const char *to, const char *name,
    const char *language, const char *const *params, size_t nparams,
    struct wa_result *res)
{
	return wa_send_template_buttons(c, to, name, language, params, nparams,
	    NULL, 0, res);
}

int
wa_send_template_buttons(struct wa_client *c, const char *to,
    const char *name, const char *language, const char *const *params,
    size_t nparams, const char *const *payloads, size_t npayloads,
    struct wa_result *res)
{
	struct wa_result local;
	struct jb b = { 0 };
	cJSON *msg, *t = NULL, *lang, *comps = NULL, *bodyc, *arr;
	struct call k;

	if (res == NULL)
		res = &local;
	call_start(&k, c, res);
	if (language == NULL)
		language = "es_AR";
	if (!recipient_ok(to))
		return invalid(c, res, OV_EINVAL, "recipient is not a WhatsApp "
		    "number");
	if (name == NULL || !template_name_ok(name) || !language_ok(language))
		return invalid(c, res, OV_EINVAL, "template name or language is "
		    "malformed");
	if (nparams > WA_TEMPLATE_PARAMS_MAX || (nparams > 0 && params == NULL))
		return invalid(c, res, OV_EINVAL, "too many template parameters");
	for (size_t i = 0; i < nparams; i++)
		if (params[i] == NULL || !template_param_ok(params[i]))
			return invalid(c, res, OV_EINVAL, "a template parameter "
			    "is empty, too long, or has newlines, tabs or 5 "
			    "spaces in a row");
	if (npayloads > WA_BUTTONS_MAX || (npayloads > 0 && payloads == NULL))
		return invalid(c, res, OV_EINVAL, "too many template buttons");
	for (size_t i = 0; i < npayloads; i++)
		if (payloads[i] == NULL ||
		    !content_ok(payloads[i], WA_BUTTON_ID_MAX))
			return invalid(c, res, OV_EINVAL, "a template button "
			    "payload is empty or too long");
	msg = message_new(&b, to, "template", &t);
	jadd_str(&b, t, "name", name);
	lang = jadd_obj(&b, t, "language");
	/* Meta's OpenAPI description requires the policy; "deterministic"
	 * is the only one there is. */
	jadd_str(&b, lang, "policy", "deterministic");
	jadd_str(&b, lang, "code", language);
	if (nparams > 0)
		comps = jadd_arr(&b, t, "components");
	if (nparams > 0) {
		bodyc = jpush_obj(&b, comps);
		jadd_str(&b, bodyc, "type", "body");
		arr = jadd_arr(&b, bodyc, "parameters");
		for (size_t i = 0; i < nparams; i++) {
			cJSON *p = jpush_obj(&b, arr);
			jadd_str(&b, p, "type", "text");
			jadd_str(&b, p, "text", params[i]);
		}
	}
	/* No button components: Meta's published description refuses the
	 * first button's index ("0" fails its pattern), so the template's
	 * own quick-reply buttons go as approved and a tap comes back with
	 * the button's text and the id of the message it answers; the
	 * conversation maps it through that message (see lib/bot.c). */
	(void)payloads;
	return send_built(&k, msg, &b, OV_OK, NULL);
}

int
wa_mark_read(struct wa_client *c, const char *message_id, bool typing,
    struct wa_result *res)
{
	struct wa_result local;
	struct jb b = { 0 };
	cJSON *msg = NULL, *answer = NULL, *ti;
	const cJSON *ok;
	char *json = NULL;
	struct call k;
	int rc;

	if (res == NULL)
		res = &local;
	call_start(&k, c, res);
	if (message_id == NULL || !token_ok(message_id, WA_WAMID_MAX))
		return invalid(c, res, OV_EINVAL, "message id is malformed");
	if ((msg = cJSON_CreateObject()) == NULL)
		b.failed = 1;
	jadd_str(&b, msg, "messaging_product", "whatsapp");
	jadd_str(&b, msg, "status", "read");
	jadd_str(&b, msg, "message_id", message_id);
	if (typing) {
		ti = jadd_obj(&b, msg, "typing_indicator");
		jadd_str(&b, ti, "type", "text");
	}
	if (b.failed || (json = cJSON_PrintUnformatted(msg)) == NULL) {
		res->status = WA_SEND_RETRY_LATER;
		set_error(c, res, "out of memory");
		rc = OV_ENOMEM;
		goto out;
	}
	rc = perform(&k, "messages", json, NULL, &answer);
	if (rc != OV_OK)
		goto out;
	ok = cJSON_GetObjectItemCaseSensitive(answer, "success");
	if (!cJSON_IsTrue(ok)) {
		res->status = WA_SEND_REJECTED;
		set_error(c, res, "mark as read not confirmed");
		rc = OV_EREMOTE;
	}
out:
	cJSON_free(json);
	cJSON_Delete(answer);
	cJSON_Delete(msg);
	return rc;
}
