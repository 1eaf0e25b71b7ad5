/*
 * cianbox_http.h - the libcurl transport shared by the Cianbox API client
 * (cianbox.c) and the panel scraper (cianbox_panel.c). Internal to them.
 *
 * Every transfer: connect timeout, total timeout, a response byte cap
 * counted in the write callback, http/https only, TLS verification on, no
 * signals, no redirects unless asked (then a small cap). Bounded retries
 * with doubling backoff on 5xx answers, time-outs and failed connections.
 *
 * A URL may carry a secret in its query (Cianbox's access_token): it is
 * never logged; the caller passes log_path (the path alone) for the logs.
 * Error texts come from curl_easy_strerror(), which never holds the URL.
 *
 * Ownership: cianbox_http_open() returns a handle freed with
 * cianbox_http_close(); response bodies are malloc'd, NUL-terminated, and
 * freed with cianbox_http_resp_clear(). cianbox_buf strings are freed with
 * cianbox_buf_free().
 */
#ifndef OVIDIO_CIANBOX_HTTP_H
#define OVIDIO_CIANBOX_HTTP_H

#include <stddef.h>

struct cianbox_http;

struct cianbox_http_opts {
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_bytes;        /* response body cap */
	int attempts;            /* 1..10 tries in all */
	long backoff_ms;         /* pause before the 2nd try; doubles */
	long max_redirs;         /* 0: redirects are not followed */
	const char *cookie_file; /* NULL: no cookies; else kept 0600 */
};

struct cianbox_http_resp {
	long status;             /* HTTP status of the last try */
	char *body;              /* NUL-terminated; may hold NULs inside */
	size_t len;
};

int cianbox_http_open(struct cianbox_http **out,
    const struct cianbox_http_opts *opts);
void cianbox_http_close(struct cianbox_http *h);

/* Every request from now on ends within ms milliseconds of this call (a
 * web page's budget): each try's timeouts are cut to what is left, and no
 * try or backoff pause starts past it. ms <= 0 removes the deadline. */
void cianbox_http_set_deadline(struct cianbox_http *h, long ms);
/* Milliseconds left before the deadline (0 when spent); LONG_MAX without
 * one. */
long cianbox_http_time_left(const struct cianbox_http *h);

/*
 * GET url (form NULL) or POST form (application/x-www-form-urlencoded).
 * OV_OK when an HTTP answer arrived (any status; a 5xx only once the tries
 * are spent); OV_ETIMEOUT, OV_EIO (connection), OV_ETOOBIG (over the cap),
 * OV_ENOMEM otherwise, with one line in err.
 */
int cianbox_http_request(struct cianbox_http *h, const char *url,
    const char *log_path, const char *form, struct cianbox_http_resp *resp,
    char *err, size_t errlen);

void cianbox_http_resp_clear(struct cianbox_http_resp *resp);

/* A growing string. */
struct cianbox_buf {
	char *p;
	size_t len, cap;
};

int cianbox_buf_append(struct cianbox_buf *b, const char *s, size_t n);
int cianbox_buf_str(struct cianbox_buf *b, const char *s);
/* "&key=value" (no '&' when b is empty or ends in '?'), both
 * percent-encoded. */
int cianbox_buf_param(struct cianbox_buf *b, const char *key,
    const char *value);
void cianbox_buf_free(struct cianbox_buf *b);

#endif
