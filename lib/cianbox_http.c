#include <curl/curl.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cabundle.h"
#include "cianbox_http.h"
#include "err.h"
#include "log.h"

struct cianbox_http {
	CURL *curl;
	struct cianbox_http_opts opts;
	char *cookie_file;
	bool has_deadline;
	struct timespec deadline;   /* CLOCK_MONOTONIC */
};

struct sink {
	char *p;
	size_t len, cap, max;
	bool too_big;
};

static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (n > s->max - s->len) {
		s->too_big = true;
		return 0;            /* aborts the transfer */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		char *p;

		while (cap < s->len + n + 1)
			cap *= 2;
		if ((p = realloc(s->p, cap)) == NULL)
			return 0;
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
	s->p[s->len] = '\0';
	return n;
}

static bool
curl_global_ready(void)
{
	static bool done;
	static bool ok;

	if (!done) {
		ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
		done = true;
	}
	return ok;
}

int
cianbox_http_open(struct cianbox_http **out,
    const struct cianbox_http_opts *opts)
{
	struct cianbox_http *h;
	int rc = OV_ENOMEM;

	*out = NULL;
	if (opts->connect_timeout_ms <= 0 || opts->timeout_ms <= 0 ||
	    opts->max_bytes == 0 || opts->attempts < 1 || opts->attempts > 10 ||
	    opts->backoff_ms < 0 || opts->max_redirs < 0 || opts->max_redirs > 5)
		return OV_EINVAL;
	if (!curl_global_ready())
		return OV_EIO;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return OV_ENOMEM;
	h->opts = *opts;
	if ((h->curl = curl_easy_init()) == NULL)
		goto out;
	if (opts->cookie_file != NULL) {
		int fd;

		if ((h->cookie_file = strdup(opts->cookie_file)) == NULL)
			goto out;
		h->opts.cookie_file = h->cookie_file;
		/* Created 0600 before libcurl writes it, and kept so. */
		fd = open(h->cookie_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || fchmod(fd, 0600) != 0) {
			log_error("cannot use the cookie file %s: %s",
			    h->cookie_file, strerror(errno));
			if (fd >= 0)
				close(fd);
			rc = OV_EIO;
			goto out;
		}
		close(fd);
		curl_easy_setopt(h->curl, CURLOPT_COOKIEFILE, h->cookie_file);
		curl_easy_setopt(h->curl, CURLOPT_COOKIEJAR, h->cookie_file);
	}
	*out = h;
	h = NULL;
	rc = OV_OK;
out:
	cianbox_http_close(h);
	return rc;
}

void
cianbox_http_close(struct cianbox_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);   /* writes the cookie jar */
	if (h->cookie_file != NULL)
		chmod(h->cookie_file, 0600);
	free(h->cookie_file);
	free(h);
}

void
cianbox_http_resp_clear(struct cianbox_http_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
	resp->status = 0;
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000L +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

void
cianbox_http_set_deadline(struct cianbox_http *h, long ms)
{
	h->has_deadline = ms > 0;
	if (ms <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &h->deadline);
	h->deadline.tv_sec += ms / 1000;
	h->deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (h->deadline.tv_nsec >= 1000000000L) {
		h->deadline.tv_sec++;
		h->deadline.tv_nsec -= 1000000000L;
	}
}

long
cianbox_http_time_left(const struct cianbox_http *h)
{
	long left;

	if (!h->has_deadline)
		return LONG_MAX;
	left = -elapsed_ms(&h->deadline);
	return left > 0 ? left : 0;
}

static bool
retryable(CURLcode cc)
{
	return cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_COULDNT_CONNECT ||
	    cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
	    cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE;
}

static void
setup(struct cianbox_http *h, const char *url, const char *form,
    struct sink *s, struct curl_slist *headers, long timeout_ms)
{
	CURL *c = h->curl;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    h->opts.connect_timeout_ms < timeout_ms ?
	    h->opts.connect_timeout_ms : timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	/* An https start never follows a redirect down to plain http: the
	 * panel's session cookie would go out in clear. */
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
	    strncmp(url, "https://", 8) == 0 ? "https" : "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, h->opts.max_redirs > 0 ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, h->opts.max_redirs);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	cabundle_apply(c);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Ovidio/1.0");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (form != NULL) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
}

int
cianbox_http_request(struct cianbox_http *h, const char *url,
    const char *log_path, const char *form, struct cianbox_http_resp *resp,
    char *err, size_t errlen)
{
	struct curl_slist *headers = NULL, *t;
	const char *method = form != NULL ? "POST" : "GET";
	long backoff = h->opts.backoff_ms;
	int rc = OV_EIO;

	memset(resp, 0, sizeof(*resp));
	err[0] = '\0';
	t = curl_slist_append(headers, "Accept: application/json, text/html");
	if (t == NULL)
		return OV_ENOMEM;
	headers = t;
	if (form != NULL) {
		t = curl_slist_append(headers,
		    "Content-Type: application/x-www-form-urlencoded");
		if (t == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
		headers = t;
	}
	for (int attempt = 1; attempt <= h->opts.attempts; attempt++) {
		struct sink s = { NULL, 0, 0, h->opts.max_bytes, false };
		struct timespec t0;
		CURLcode cc;
		long status = 0, left = cianbox_http_time_left(h);
		long timeout = h->opts.timeout_ms < left ? h->opts.timeout_ms :
		    left;
		bool last;

		if (timeout <= 0) {
			snprintf(err, errlen, "%s %s: no time left for %s",
			    method, log_path, attempt == 1 ? "a try" :
			    "another try");
			rc = OV_ETIMEOUT;
			log_debug("%s", err);
			goto out;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		setup(h, url, form, &s, headers, timeout);
		cc = curl_easy_perform(h->curl);
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
		/* The last try: the tries are spent, or the next one could not
		 * start before the deadline. */
		last = attempt == h->opts.attempts ||
		    backoff >= cianbox_http_time_left(h);
		if (h->cookie_file != NULL) {
			curl_easy_setopt(h->curl, CURLOPT_COOKIELIST, "FLUSH");
			chmod(h->cookie_file, 0600);
		}
		if (cc == CURLE_OK && (status < 500 || last)) {
			log_debug("%s %s -> %ld (%ld ms, %zu bytes)", method,
			    log_path, status, elapsed_ms(&t0), s.len);
			if (s.p == NULL && (s.p = calloc(1, 1)) == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
			resp->status = status;
			resp->body = s.p;
			resp->len = s.len;
			rc = OV_OK;
			goto out;
		}
		free(s.p);
		if (cc != CURLE_OK && (s.too_big || !retryable(cc) || last)) {
			if (s.too_big) {
				snprintf(err, errlen, "%s %s: answer over %zu bytes",
				    method, log_path, h->opts.max_bytes);
				rc = OV_ETOOBIG;
			} else if (cc == CURLE_OPERATION_TIMEDOUT) {
				snprintf(err, errlen, "%s %s: no answer within %ld ms"
				    " (%d %s)", method, log_path, timeout,
				    attempt, attempt == 1 ? "try" : "tries");
				rc = OV_ETIMEOUT;
			} else {
				snprintf(err, errlen, "%s %s: %s", method, log_path,
				    curl_easy_strerror(cc));
				rc = cc == CURLE_OUT_OF_MEMORY ? OV_ENOMEM : OV_EIO;
			}
			log_debug("%s", err);
			goto out;
		}
		log_info("%s %s -> %s, retrying in %ld ms (try %d of %d)",
		    method, log_path, cc != CURLE_OK ? curl_easy_strerror(cc) :
		    status >= 500 ? "server error" : "error", backoff, attempt,
		    h->opts.attempts);
		pause_ms(backoff);
		backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
	}
out:
	curl_slist_free_all(headers);
	/* The list is freed: do not leave libcurl pointing at it. */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	return rc;
}

int
cianbox_buf_append(struct cianbox_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return OV_ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return OV_OK;
}

int
cianbox_buf_str(struct cianbox_buf *b, const char *s)
{
	return cianbox_buf_append(b, s, strlen(s));
}

static int
encode(struct cianbox_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char enc[3];
		int rc;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '~') {
			rc = cianbox_buf_append(b, (const char *)&c, 1);
		} else {
			enc[0] = '%';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			rc = cianbox_buf_append(b, enc, 3);
		}
		if (rc != OV_OK)
			return rc;
	}
	return OV_OK;
}

int
cianbox_buf_param(struct cianbox_buf *b, const char *key, const char *value)
{
	int rc = OV_OK;

	if (b->len > 0 && b->p[b->len - 1] != '?')
		rc = cianbox_buf_append(b, "&", 1);
	if (rc == OV_OK)
		rc = encode(b, key);
	if (rc == OV_OK)
		rc = cianbox_buf_append(b, "=", 1);
	if (rc == OV_OK)
		rc = encode(b, value);
	return rc;
}

void
cianbox_buf_free(struct cianbox_buf *b)
{
	if (b->p != NULL) {
		/* Forms carry passwords and tokens: wipe before freeing. */
		memset(b->p, 0, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}
