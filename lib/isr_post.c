/*
 * isr_post.c - posting queued ISR events (see isr.h), through libcurl:
 * connect and total time-outs, a response byte cap, http/https only, TLS
 * verification on, no redirects, no signals.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cabundle.h"
#include "config.h"
#include "err.h"
#include "isr.h"
#include "log.h"
#include "store.h"

#define RESPONSE_MAX 65536
#define URL_MAX 1024

struct sink {
	size_t len;
};

/* The answer is read (so the connection ends cleanly) and counted, not
 * kept: only its status matters. */
static size_t
sink_write(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	(void)p;
	if (n != 0 && size > RESPONSE_MAX / n)
		return 0;
	s->len += size * n;
	return s->len > RESPONSE_MAX ? 0 : size * n;
}

enum post_result { POST_OK, POST_RETRY, POST_REFUSED, POST_DOWN };

static enum post_result
post(CURL *h, const char *url, const char *key, const char *body, long *status,
    char *err, size_t errlen)
{
	struct curl_slist *hdr = NULL, *grown;
	struct sink s = { 0 };
	char auth[600];
	CURLcode cc;
	enum post_result r;

	*status = 0;
	curl_easy_reset(h);
	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (hdr != NULL && key != NULL && strlen(key) < 512 &&
	    strpbrk(key, "\r\n") == NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		if ((grown = curl_slist_append(hdr, auth)) != NULL)
			hdr = grown;
	}
	if (hdr == NULL) {
		snprintf(err, errlen, "out of memory");
		return POST_RETRY;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ovidio-isr/1");
	cabundle_apply(h);
	cc = curl_easy_perform(h);
	curl_slist_free_all(hdr);
	if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		return cc == CURLE_COULDNT_CONNECT ||
		    cc == CURLE_COULDNT_RESOLVE_HOST ||
		    cc == CURLE_OPERATION_TIMEDOUT ? POST_DOWN : POST_RETRY;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 200 && *status < 300)
		r = POST_OK;
	else if (*status >= 400 && *status < 500 && *status != 408 &&
	    *status != 429)
		r = POST_REFUSED;
	else
		r = POST_RETRY;
	if (r != POST_OK)
		snprintf(err, errlen, "HTTP %ld", *status);
	return r;
}

/* The body to post: the queued event plus origen and vendedor. */
static char *
full_body(const char *payload, const struct config *cfg)
{
	cJSON *o = cJSON_Parse(payload);
	char *out = NULL;

	if (o == NULL || !cJSON_IsObject(o))
		goto out;
	cJSON_DeleteItemFromObject(o, "origen");
	cJSON_DeleteItemFromObject(o, "vendedor");
	if (cJSON_AddStringToObject(o, "origen",
	    config_get(cfg, "ISR_ORIGEN")) != NULL &&
	    cJSON_AddStringToObject(o, "vendedor",
	    config_get(cfg, "ISR_VENDEDOR")) != NULL)
		out = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return out;
}

/* Is the event's quote stored in a state at or past the event's? */
static int
quote_ready(struct store *st, const struct store_isr *e, bool *ready)
{
	struct store_quote q;
	bool found = false;
	const char *colon = strrchr(e->id, ':');
	int rc;

	*ready = false;
	if ((rc = store_quote_get(st, e->quote_id, &q, &found)) != OV_OK ||
	    !found)
		return rc;
	/* nuevo: stored at all; a later event: the quote has left pending. */
	*ready = colon == NULL || strcmp(colon + 1, "nuevo") == 0 ||
	    strcmp(q.state, "pendiente_confirmacion") != 0;
	store_quote_clear(&q);
	return OV_OK;
}

/* ISR_RETRY_S (default ISR_RETRY_MIN_S) doubled per failed try, at most
 * ISR_RETRY_MAX_S. */
static long
next_wait(const struct config *cfg, int attempts)
{
	long w = ISR_RETRY_MIN_S;
	char err[128];

	if (config_get_long(cfg, "ISR_RETRY_S", ISR_RETRY_MIN_S, 0,
	    ISR_RETRY_MAX_S, &w, err, sizeof(err)) != OV_OK)
		w = ISR_RETRY_MIN_S;
	for (int i = 1; i < attempts && w < ISR_RETRY_MAX_S; i++)
		w *= 2;
	return w > ISR_RETRY_MAX_S ? ISR_RETRY_MAX_S : w;
}

int
isr_drain(struct store *st, const struct config *cfg, int64_t now,
    struct isr_stats *stats)
{
	const char *base = config_get(cfg, "ISR_API_URL");
	const char *key = config_get(cfg, "ISR_API_KEY");
	struct store_isr *v = NULL;
	char url[URL_MAX], **blocked = NULL;
	size_t n = 0, nblocked = 0;
	CURL *h = NULL;
	bool down = false;
	int rc;

	memset(stats, 0, sizeof(*stats));
	if (base == NULL)
		return OV_ECONFIG;
	if (strncmp(base, "http://", 7) != 0 &&
	    strncmp(base, "https://", 8) != 0) {
		log_error("ISR_API_URL is not an http(s) URL");
		return OV_ECONFIG;
	}
	snprintf(url, sizeof(url), "%.*s%s",
	    (int)strcspn(base, "?#") - (base[strcspn(base, "?#") - 1] == '/'),
	    base, ISR_PATH);
	if ((rc = store_isr_list(st, ISR_DRAIN_MAX, &v, &n)) != OV_OK)
		return rc;
	if (n > 0 && ((h = curl_easy_init()) == NULL ||
	    (blocked = calloc(n, sizeof(*blocked))) == NULL)) {
		rc = OV_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && !down; i++) {
		struct store_isr *e = &v[i];
		char err[256] = "", *body;
		bool skip = false, ready;
		long status;
		enum post_result r;

		/* One quote's events in order: a later one waits for the
		 * earlier. */
		for (size_t b = 0; b < nblocked && !skip; b++)
			skip = strcmp(blocked[b], e->quote_id) == 0;
		if (skip || e->next_attempt_at > now) {
			stats->waiting++;
			blocked[nblocked++] = e->quote_id;
			continue;
		}
		if ((rc = quote_ready(st, e, &ready)) != OV_OK)
			goto out;
		if (!ready) {
			if (now - e->created_at >= ISR_ORPHAN_S) {
				log_warn("ISR event %s: its quote was never "
				    "stored; dropped", e->id);
				stats->dropped++;
				if ((rc = store_isr_delete(st, e->id)) != OV_OK)
					goto out;
			} else {
				stats->waiting++;
				blocked[nblocked++] = e->quote_id;
			}
			continue;
		}
		if (store_isr_claim(st, e->id, e->next_attempt_at,
		    now + ISR_CLAIM_S) != OV_OK) {
			blocked[nblocked++] = e->quote_id;
			continue;
		}
		if ((body = full_body(e->payload, cfg)) == NULL) {
			log_error("ISR event %s: its body is unreadable; dropped",
			    e->id);
			stats->dropped++;
			if ((rc = store_isr_delete(st, e->id)) != OV_OK)
				goto out;
			continue;
		}
		r = post(h, url, key, body, &status, err, sizeof(err));
		free(body);
		if (r == POST_OK) {
			log_info("ISR event %s posted (HTTP %ld)", e->id, status);
			stats->posted++;
			if ((rc = store_isr_delete(st, e->id)) != OV_OK)
				goto out;
			continue;
		}
		if (r == POST_REFUSED || now - e->created_at >= ISR_GIVE_UP_S) {
			log_error("ISR event %s given up: %s", e->id, err);
			stats->dropped++;
			if ((rc = store_isr_delete(st, e->id)) != OV_OK)
				goto out;
			continue;
		}
		log_warn("ISR event %s not posted (%s); trying again later",
		    e->id, err);
		stats->failed++;
		blocked[nblocked++] = e->quote_id;
		rc = store_isr_reschedule(st, e->id, e->attempts + 1,
		    now + next_wait(cfg, e->attempts + 1), err);
		if (rc != OV_OK)
			goto out;
		/* Nobody answers: the rest waits for the next run. */
		down = r == POST_DOWN;
	}
	rc = OV_OK;
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	free(blocked);
	store_isr_free(v, n);
	return rc;
}
