/*
 * cianbox_standin.h - start and steer tests/standins/cianbox_server.py
 * from a C unit test (run from the repository root, as make does).
 *
 * standin_start() starts the stand-in (standin.h) in a temporary
 * directory of its own; standin_stop() ends it and removes the directory.
 * standin_control() POSTs JSON to /__control; standin_stat() reads a
 * counter from /__stats ("logins", or "requests.GET productos").
 * Fixtures: $OVIDIO_FIXTURES or ../shared/fixtures.
 */
#ifndef OVIDIO_CIANBOX_STANDIN_H
#define OVIDIO_CIANBOX_STANDIN_H

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "standin.h"

#define STANDIN_SCRIPT "tests/standins/cianbox_server.py"

struct standin {
	struct standin_proc proc;
	char dir[256];      /* temporary: port file, data dirs */
	char url[64];       /* http://127.0.0.1:PORT */
};

static const char *
standin_fixtures(void)
{
	const char *f = getenv("OVIDIO_FIXTURES");

	return f != NULL && *f != '\0' ? f : "../shared/fixtures";
}

static int
standin_rm_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
standin_rmtree(const char *dir)
{
	nftw(dir, standin_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* extra: further arguments ("--products", "450", NULL-terminated). */
static int
standin_start(struct standin *s, const char *const *extra)
{
	char fixtures[512];
	const char *args[STANDIN_ARGS_MAX];
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/ovidio-cianbox-test.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	snprintf(fixtures, sizeof(fixtures), "%s/cianbox", standin_fixtures());
	args[n++] = "--fixtures";
	args[n++] = fixtures;
	for (size_t i = 0; extra != NULL && extra[i] != NULL &&
	    n < STANDIN_ARGS_MAX - 1; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	if (standin_proc_start(&s->proc, STANDIN_SCRIPT, s->dir, "cianbox",
	    false, args) != 0)
		return -1;
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->proc.port);
	return 0;
}

static void
standin_stop(struct standin *s)
{
	standin_proc_stop(&s->proc);
	if (s->dir[0] != '\0')
		standin_rmtree(s->dir);
	s->dir[0] = '\0';
}

struct standin_sink {
	char buf[65536];
	size_t len;
};

static size_t
standin_on_data(char *p, size_t size, size_t n, void *arg)
{
	struct standin_sink *k = arg;
	size_t len = size * n;

	if (len > sizeof(k->buf) - 1 - k->len)
		return 0;
	memcpy(k->buf + k->len, p, len);
	k->len += len;
	k->buf[k->len] = '\0';
	return len;
}

/* POST (json non-NULL) or GET path; answer in sink. 0 on HTTP 200. */
static int
standin_http(const struct standin *s, const char *path, const char *json,
    struct standin_sink *sink)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256];
	long status = 0;
	CURLcode cc;

	if (c == NULL)
		return -1;
	sink->len = 0;
	sink->buf[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", s->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, standin_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	if (json != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return cc == CURLE_OK && status == 200 ? 0 : -1;
}

static int
standin_control(const struct standin *s, const char *json)
{
	struct standin_sink sink;

	return standin_http(s, "/__control", json, &sink);
}

/* A counter from /__stats; "requests.GET productos" reaches into the
 * per-path table. -1 when unreadable. */
static long
standin_stat(const struct standin *s, const char *key)
{
	struct standin_sink sink;
	cJSON *root, *it;
	const char *dot = strchr(key, '.');
	long v = -1;

	if (standin_http(s, "/__stats", NULL, &sink) != 0)
		return -1;
	if ((root = cJSON_Parse(sink.buf)) == NULL)
		return -1;
	if (dot != NULL) {
		char head[64];

		snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
		it = cJSON_GetObjectItemCaseSensitive(root, head);
		it = cJSON_GetObjectItemCaseSensitive(it, dot + 1);
		v = it == NULL ? 0 : -1;
	} else {
		it = cJSON_GetObjectItemCaseSensitive(root, key);
	}
	if (cJSON_IsNumber(it))
		v = (long)it->valuedouble;
	cJSON_Delete(root);
	return v;
}

#endif
