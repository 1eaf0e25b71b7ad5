/*
 * media.c - Meta's media and the media clients' HTTP transport (see
 * media.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cabundle.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "media.h"
#include "whatsapp.h"

#define MIN_REQUEST_MS 200     /* no try with less time left than this */
#define URL_MAX 2048
#define META_INFO_MAX (16 * 1024)

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
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

int
media_http_init(struct media_http *h, const struct config *cfg, char *err,
    size_t errlen)
{
	long timeout, max, attempts;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((rc = config_get_long(cfg, "MEDIA_TIMEOUT_MS", 30000, 1000, 600000,
	    &timeout, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "MEDIA_MAX_BYTES", MEDIA_MAX_DEFAULT,
	    1024, 100L * 1024 * 1024, &max, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "MEDIA_ATTEMPTS", 2, 1, 5, &attempts,
	    err, errlen)) != OV_OK)
		return rc;
	if ((h->curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot make an HTTP handle");
		return OV_ENOMEM;
	}
	h->policy.connect_ms = 5000;
	h->policy.timeout_ms = timeout;
	h->policy.budget_ms = timeout * 2;
	h->policy.max_bytes = (size_t)max;
	h->policy.attempts = (int)attempts;
	h->policy.backoff_ms = 500;
	return OV_OK;
}

void
media_http_free(struct media_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	h->curl = NULL;
}

void
media_answer_clear(struct media_answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

struct sink {
	struct media_answer *a;
	size_t max;
	bool over;
};

static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	char *p;

	if (n > s->max - s->a->len) {
		s->over = true;
		return 0;
	}
	if ((p = realloc(s->a->body, s->a->len + n + 1)) == NULL)
		return 0;
	s->a->body = p;
	memcpy(p + s->a->len, data, n);
	s->a->len += n;
	p[s->a->len] = '\0';
	return n;
}

/* Content-Type and Retry-After, bounded. */
struct heads {
	char type[MEDIA_MIME_MAX + 1];
	long retry_after;     /* seconds; -1 when none */
};

static size_t
on_header(char *line, size_t size, size_t nmemb, void *arg)
{
	struct heads *h = arg;
	size_t n = size * nmemb, k;

	if (n > 13 && strncasecmp(line, "Content-Type:", 13) == 0) {
		const char *v = line + 13;

		while (*v == ' ' && v < line + n)
			v++;
		k = (size_t)(line + n - v);
		while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' ||
		    v[k - 1] == ' '))
			k--;
		if (k > MEDIA_MIME_MAX)
			k = MEDIA_MIME_MAX;
		memcpy(h->type, v, k);
		h->type[k] = '\0';
	} else if (n > 12 && strncasecmp(line, "Retry-After:", 12) == 0) {
		char buf[16], *end;
		long v;

		k = n - 12 < sizeof(buf) - 1 ? n - 12 : sizeof(buf) - 1;
		memcpy(buf, line + 12, k);
		buf[k] = '\0';
		v = strtol(buf, &end, 10);
		if (end != buf && v >= 0 && v <= 3600)
			h->retry_after = v;
	}
	return n;
}

static int
build_mime(CURL *c, const struct media_part *parts, size_t n,
    curl_mime **out)
{
	curl_mime *mime = curl_mime_init(c);

	*out = mime;
	if (mime == NULL)
		return OV_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		curl_mimepart *p = curl_mime_addpart(mime);

		if (p == NULL || curl_mime_name(p, parts[i].name) != CURLE_OK ||
		    curl_mime_data(p, parts[i].data, parts[i].filename != NULL ?
		    parts[i].len : CURL_ZERO_TERMINATED) != CURLE_OK)
			return OV_ENOMEM;
		if (parts[i].filename != NULL &&
		    curl_mime_filename(p, parts[i].filename) != CURLE_OK)
			return OV_ENOMEM;
		if (parts[i].type != NULL &&
		    curl_mime_type(p, parts[i].type) != CURLE_OK)
			return OV_ENOMEM;
	}
	return OV_OK;
}

/* One try within what is left; fills out (status, body, type). */
static int
exchange(struct media_http *h, const char *url, const char *bearer,
    const char *json, const struct media_part *parts, size_t nparts,
    long left, struct media_answer *out, struct heads *hd, CURLcode *cc,
    bool *over)
{
	CURL *c = h->curl;
	struct curl_slist *hdrs = NULL, *t;
	curl_mime *mime = NULL;
	struct sink s = { out, h->policy.max_bytes, false };
	long timeout = h->policy.timeout_ms < left ? h->policy.timeout_ms : left;
	long connect = h->policy.connect_ms < timeout ? h->policy.connect_ms :
	    timeout;
	int rc = OV_OK;

	free(out->body);
	out->body = NULL;
	out->len = 0;
	out->status = 0;
	memset(hd, 0, sizeof(*hd));
	hd->retry_after = -1;
	curl_easy_reset(c);
	if ((t = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto nomem;
	hdrs = t;
	if (json != NULL) {
		if ((t = curl_slist_append(hdrs,
		    "Content-Type: application/json")) == NULL)
			goto nomem;
		hdrs = t;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	} else if (parts != NULL) {
		if ((rc = build_mime(c, parts, nparts, &mime)) != OV_OK)
			goto out;
		curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	}
	if (bearer != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, bearer);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ovidio/1");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	cabundle_apply(c);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, hd);
	out->attempts++;
	*cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	*over = s.over;
	memcpy(out->type, hd->type, sizeof(out->type));
	goto out;
nomem:
	rc = OV_ENOMEM;
out:
	/* The handle keeps no pointer to what is freed here. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(c, CURLOPT_MIMEPOST, NULL);
	curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, NULL);
	curl_mime_free(mime);
	curl_slist_free_all(hdrs);
	return rc;
}

int
media_http_request(struct media_http *h, const char *url, const char *what,
    const char *bearer, const char *json, const struct media_part *parts,
    size_t nparts, struct media_answer *out)
{
	const struct media_policy *p = &h->policy;
	int64_t start = mono_ms(), deadline = start + p->budget_ms;
	long wait = p->backoff_ms;
	int rc = OV_EIO;

	memset(out, 0, sizeof(*out));
	for (int attempt = 1;; attempt++) {
		struct heads hd;
		CURLcode cc = CURLE_OK;
		bool over = false, retry;
		int64_t left = deadline - mono_ms();

		if (left < MIN_REQUEST_MS) {
			log_warn("%s: time budget of %ld ms spent after %d "
			    "attempt(s)", what, p->budget_ms, attempt - 1);
			return OV_ETIMEOUT;
		}
		rc = exchange(h, url, bearer, json, parts, nparts, (long)left,
		    out, &hd, &cc, &over);
		if (rc != OV_OK)
			return rc;
		if (over) {
			log_warn("%s: answer over %zu bytes: refused", what,
			    p->max_bytes);
			return OV_ETOOBIG;
		}
		if (cc == CURLE_OK && out->status >= 200 && out->status < 300) {
			log_info("%s: HTTP %ld, %zu bytes in %lld ms (%d "
			    "attempt(s))", what, out->status, out->len,
			    (long long)(mono_ms() - start), attempt);
			return OV_OK;
		}
		if (cc != CURLE_OK) {
			rc = cc == CURLE_OPERATION_TIMEDOUT ? OV_ETIMEOUT : OV_EIO;
			log_warn("%s: %s (attempt %d)", what,
			    curl_easy_strerror(cc), attempt);
			retry = true;
		} else {
			rc = OV_EREMOTE;
			retry = out->status == 429 || out->status >= 500;
			log_warn("%s: HTTP %ld (attempt %d)", what, out->status,
			    attempt);
		}
		if (!retry || attempt >= p->attempts)
			return rc;
		if (hd.retry_after >= 0 && hd.retry_after * 1000 > wait)
			wait = hd.retry_after * 1000;
		if (mono_ms() + wait + MIN_REQUEST_MS > deadline) {
			log_warn("%s: no time left for another attempt", what);
			return rc;
		}
		sleep_ms(wait);
		wait *= 2;
	}
}

/* ---- Meta's media ---------------------------------------------------- */

void
media_file_clear(struct media_file *f)
{
	free(f->data);
	memset(f, 0, sizeof(*f));
}

int
media_download(struct media_http *h, const struct wa_client *wa,
    const char *media_id, struct media_file *out)
{
	struct media_answer a;
	cJSON *doc = NULL;
	const cJSON *u, *m, *sz;
	char url[URL_MAX];
	size_t saved = h->policy.max_bytes;
	size_t n = media_id != NULL ? strlen(media_id) : 0;
	int64_t start = mono_ms();
	long budget = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	if (n == 0 || n > 128 || strspn(media_id, "0123456789") != n)
		return OV_EINVAL;
	if ((size_t)snprintf(url, sizeof(url), "%s/%s", wa->api_url,
	    media_id) >= sizeof(url))
		return OV_EINVAL;
	h->policy.max_bytes = META_INFO_MAX;
	rc = media_http_request(h, url, "media info", wa->token, NULL, NULL, 0,
	    &a);
	h->policy.max_bytes = saved;
	/* Both requests share the call's budget. */
	budget = h->policy.budget_ms;
	h->policy.budget_ms -= (long)(mono_ms() - start);
	if (rc == OV_EREMOTE && (a.status == 400 || a.status == 404))
		rc = OV_ENOTFOUND;
	if (rc != OV_OK)
		goto out;
	doc = cJSON_ParseWithLength(a.body, a.len);
	u = cJSON_GetObjectItemCaseSensitive(doc, "url");
	m = cJSON_GetObjectItemCaseSensitive(doc, "mime_type");
	sz = cJSON_GetObjectItemCaseSensitive(doc, "file_size");
	if (!cJSON_IsString(u) || strlen(u->valuestring) >= sizeof(url) ||
	    (strncmp(u->valuestring, "https://", 8) != 0 &&
	    strncmp(u->valuestring, "http://", 7) != 0)) {
		log_warn("media %s: Meta's answer has no usable url", media_id);
		rc = OV_EPARSE;
		goto out;
	}
	if (cJSON_IsNumber(sz) && sz->valuedouble > (double)saved) {
		log_warn("media %s: %.0f bytes, over the %zu-byte cap: not "
		    "downloaded", media_id, sz->valuedouble, saved);
		rc = OV_ETOOBIG;
		goto out;
	}
	if (cJSON_IsString(m))
		snprintf(out->mime, sizeof(out->mime), "%s", m->valuestring);
	snprintf(url, sizeof(url), "%s", u->valuestring);
	media_answer_clear(&a);
	/* The URL is Meta's and short-lived; only the id goes to logs. */
	rc = h->policy.budget_ms < MIN_REQUEST_MS ? OV_ETIMEOUT :
	    media_http_request(h, url, "media download", wa->token, NULL,
	    NULL, 0, &a);
	if (rc == OV_EREMOTE && a.status == 404)
		rc = OV_ENOTFOUND;
	if (rc != OV_OK)
		goto out;
	out->data = (unsigned char *)a.body;
	out->len = a.len;
	a.body = NULL;
	if (out->mime[0] == '\0')
		snprintf(out->mime, sizeof(out->mime), "%s", a.type);
	log_info("media %s: %zu bytes of %s", media_id, out->len, out->mime);
out:
	if (budget > 0)
		h->policy.budget_ms = budget;
	if (rc != OV_OK)
		log_warn("media %s: not fetched: %s", media_id, ov_strerror(rc));
	cJSON_Delete(doc);
	media_answer_clear(&a);
	return rc;
}

long
media_audio_seconds(const unsigned char *data, size_t len)
{
	/* The last "OggS" page: its granule position counts 48 kHz samples
	 * for Opus (WhatsApp's voice notes). */
	if (data != NULL && len >= 27 && memcmp(data, "OggS", 4) == 0) {
		for (size_t i = len - 27 + 1; i-- > 0;) {
			if (memcmp(data + i, "OggS", 4) == 0 && data[i + 4] == 0) {
				uint64_t g = 0;

				for (int k = 7; k >= 0; k--)
					g = g << 8 | data[i + 6 + (size_t)k];
				if (g != UINT64_MAX && g > 0)
					return (long)(g / 48000 +
					    (g % 48000 != 0));
				break;
			}
		}
	}
	return (long)(len / 4000 + 1);
}

long
media_budget_cap(struct media_http *h, long left_ms)
{
	long saved = h->policy.budget_ms;

	if (left_ms < h->policy.budget_ms)
		h->policy.budget_ms = left_ms > 0 ? left_ms : 0;
	return saved;
}

int64_t
media_now_ms(void)
{
	return mono_ms();
}
