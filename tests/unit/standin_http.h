/*
 * standin_http.h - one JSON request to a loopback stand-in (its test
 * controls: /__control, /__sent, /__script...), for the unit tests that
 * drive the Graph and OpenAI stand-ins. Header-only; libcurl.
 *
 * standin_call() returns the answer's body, malloc'd (the caller frees),
 * or NULL when the stand-in could not be reached.
 */
#ifndef OVIDIO_TEST_STANDIN_HTTP_H
#define OVIDIO_TEST_STANDIN_HTTP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct standin_buf {
	char *p;
	size_t len;
};

static size_t
standin_collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct standin_buf *b = arg;
	size_t n = size * nmemb;
	char *p = realloc(b->p, b->len + n + 1);

	if (p == NULL)
		return 0;
	b->p = p;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static inline char *
standin_call(int port, const char *method, const char *path, const char *body)
{
	struct curl_slist *h = NULL;
	struct standin_buf b = { NULL, 0 };
	char url[256];
	CURL *c = curl_easy_init();

	if (c == NULL)
		return NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, standin_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) != CURLE_OK) {
		free(b.p);
		b.p = NULL;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return b.p;
}

#endif
