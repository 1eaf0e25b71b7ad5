/*
 * mail.c - e-mail through libcurl SMTP. See mail.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "mail.h"
#include "utf8.h"

struct mail {
	char *url;       /* NULL: mail is off */
	char *host;      /* for log lines: scheme://host:port, no credentials */
	char *user;
	char *pass;      /* secret */
	bool local;      /* relay on this machine (loopback) */
	char from[MAIL_ADDR_MAX + 1];
};

/* The message being uploaded. */
struct upload {
	const char *data;
	size_t len, off;
};

static bool off_logged;

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* A plain address: local@domain, no spaces, brackets or control chars. */
static int
addr_ok(const char *a)
{
	const char *at;
	size_t n;

	if (a == NULL)
		return 0;
	n = strnlen(a, MAIL_ADDR_MAX + 1);
	if (n == 0 || n > MAIL_ADDR_MAX || has_ctl(a) ||
	    strpbrk(a, " <>()[],;:\"\\") != NULL)
		return 0;
	at = strchr(a, '@');
	return at != NULL && at != a && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL && strchr(at + 1, '.') != NULL;
}

int
mail_open(const struct config *cfg, struct mail **out, char *err,
    size_t errlen)
{
	struct mail *m;
	const char *url, *user, *pass, *p;
	int rc = OV_ENOMEM;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return OV_ENOMEM;
	}
	url = config_get(cfg, "SMTP_URL");
	user = config_get(cfg, "EMAIL_USER");
	pass = config_get(cfg, "EMAIL_PASS");
	if (url != NULL) {
		if (has_ctl(url) || (strncmp(url, "smtp://", 7) != 0 &&
		    strncmp(url, "smtps://", 8) != 0) || strchr(url, '@') != NULL) {
			snprintf(err, errlen, "configuration key SMTP_URL must be "
			    "smtp://host:port or smtps://host:port (credentials "
			    "go in EMAIL_USER and EMAIL_PASS)");
			rc = OV_ECONFIG;
			goto fail;
		}
		if ((m->url = strdup(url)) == NULL || (m->host = strdup(url)) == NULL)
			goto fail;
		p = strchr(strstr(m->host, "://") + 3, '/');   /* drop any path for logs */
		if (p != NULL)
			m->host[p - m->host] = '\0';
		p = strstr(m->host, "://") + 3;
		m->local = strncmp(p, "127.", 4) == 0 ||
		    strncmp(p, "localhost", 9) == 0 || strncmp(p, "[::1]", 5) == 0;
	}
	if (user != NULL && (has_ctl(user) || (m->user = strdup(user)) == NULL))
		goto bad_user;
	if (pass != NULL && (m->pass = strdup(pass)) == NULL)
		goto fail;
	snprintf(m->from, sizeof(m->from), "%s",
	    user != NULL && addr_ok(user) ? user : MAIL_FROM_DEFAULT);
	*out = m;
	return OV_OK;
bad_user:
	if (user != NULL && has_ctl(user)) {
		snprintf(err, errlen, "configuration key EMAIL_USER holds control "
		    "characters");
		rc = OV_ECONFIG;
	}
fail:
	if (rc == OV_ENOMEM)
		snprintf(err, errlen, "out of memory");
	mail_close(m);
	return rc;
}

void
mail_close(struct mail *m)
{
	if (m == NULL)
		return;
	free(m->url);
	free(m->host);
	free(m->user);
	if (m->pass != NULL) {
		memset(m->pass, 0, strlen(m->pass));
		free(m->pass);
	}
	free(m);
}

int
mail_configured(const struct mail *m)
{
	return m != NULL && m->url != NULL;
}

char *
mail_html_escape(const char *s)
{
	size_t n = 0;
	char *out, *o;

	if (s == NULL)
		s = "";
	for (const char *p = s; *p != '\0'; p++) {
		switch (*p) {
		case '&': n += 5; break;
		case '<': case '>': n += 4; break;
		case '"': case '\'': n += 6; break;
		case '\n': n += 5; break;
		default: n++;
		}
	}
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (const char *p = s; *p != '\0'; p++) {
		const char *rep = NULL;

		switch (*p) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&#34;"; break;
		case '\'': rep = "&#39;"; break;
		case '\n': rep = "<br>\n"; break;
		case '\r': continue;
		default: *o++ = *p; continue;
		}
		memcpy(o, rep, strlen(rep));
		o += strlen(rep);
	}
	*o = '\0';
	return out;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 2047: "=?UTF-8?B?...?=" words of at most 45 input bytes (75
 * characters each), cut between characters, folded onto continuation
 * lines. out must hold 3 * strlen(s) + 64 bytes. */
static void
encode_subject(const char *s, char *out, size_t outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), o = 0, i = 0;

	out[0] = '\0';
	while (i < n || i == 0) {
		size_t end = i + utf8_cut(s + i, n - i, 45);

		if (o + 16 >= outlen)
			break;
		o += (size_t)snprintf(out + o, outlen - o, "%s=?UTF-8?B?",
		    i > 0 ? "\r\n " : "");
		for (size_t k = i; k < end && o + 6 < outlen; k += 3) {
			unsigned v = (unsigned)u[k] << 16;

			if (k + 1 < end)
				v |= (unsigned)u[k + 1] << 8;
			if (k + 2 < end)
				v |= u[k + 2];
			out[o++] = b64[(v >> 18) & 63];
			out[o++] = b64[(v >> 12) & 63];
			out[o++] = k + 1 < end ? b64[(v >> 6) & 63] : '=';
			out[o++] = k + 2 < end ? b64[v & 63] : '=';
		}
		if (o + 3 >= outlen)
			break;
		memcpy(out + o, "?=", 3);
		o += 2;
		if (end == n)
			break;
		i = end;
	}
}

static size_t
on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload *u = arg;
	size_t room = size * nitems, left = u->len - u->off;

	if (left < room)
		room = left;
	memcpy(buf, u->data + u->off, room);
	u->off += room;
	return room;
}

/* Discard server chatter (there is no body in SMTP, but be safe). */
static size_t
on_write(char *buf, size_t size, size_t nitems, void *arg)
{
	(void)buf;
	(void)arg;
	return size * nitems;
}

/* Headers and body with CRLF line ends; long lines are broken after a
 * '>' or a space so no line passes SMTP's 998-byte limit. */
static char *
build_message(const struct mail *m, const char *to, const char *subject,
    const char *html, size_t *len)
{
	char subj[MAIL_SUBJECT_MAX * 3 + 64], date[64], head[2048];
	size_t hn, bn = strlen(html), cap, o = 0, col = 0;
	time_t now = time(NULL);
	struct tm tm;
	char *msg;

	encode_subject(subject, subj, sizeof(subj));
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	hn = (size_t)snprintf(head, sizeof(head),
	    "From: Ovidio <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%lld.%ld.%u@ovidio>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/html; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n", m->from, to, subj, date,
	    (long long)now, (long)getpid(), (unsigned)rand());
	if (hn >= sizeof(head))
		return NULL;
	cap = hn + bn * 2 + 8;
	msg = malloc(cap);
	if (msg == NULL)
		return NULL;
	memcpy(msg, head, hn);
	o = hn;
	for (size_t i = 0; i < bn; i++) {
		char c = html[i];

		if (c == '\r')
			continue;
		if (c == '\n') {
			msg[o++] = '\r';
			msg[o++] = '\n';
			col = 0;
			continue;
		}
		msg[o++] = c;
		col++;
		if (col >= 900 && (c == '>' || c == ' ')) {
			msg[o++] = '\r';
			msg[o++] = '\n';
			col = 0;
		}
	}
	msg[o++] = '\r';
	msg[o++] = '\n';
	msg[o] = '\0';
	*len = o;
	return msg;
}

int
mail_send(struct mail *m, const char *to, const char *subject,
    const char *html_body)
{
	CURL *h = NULL;
	struct curl_slist *rcpt = NULL;
	struct upload up = { NULL, 0, 0 };
	char from[MAIL_ADDR_MAX + 3], to_b[MAIL_ADDR_MAX + 3];
	char *msg = NULL;
	size_t len = 0;
	CURLcode cc;
	long code = 0;
	int rc;

	if (!mail_configured(m)) {
		if (!off_logged)
			log_info("e-mail is off (SMTP_URL not set); notices are "
			    "not sent");
		off_logged = true;
		return OV_ECONFIG;
	}
	if (!addr_ok(to) || subject == NULL || has_ctl(subject) ||
	    strlen(subject) > MAIL_SUBJECT_MAX || html_body == NULL ||
	    strlen(html_body) > MAIL_BODY_MAX)
		return OV_EINVAL;
	if ((msg = build_message(m, to, subject, html_body, &len)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	up.data = msg;
	up.len = len;
	snprintf(from, sizeof(from), "<%s>", m->from);
	snprintf(to_b, sizeof(to_b), "<%s>", to);
	if ((rcpt = curl_slist_append(NULL, to_b)) == NULL ||
	    (h = curl_easy_init()) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, m->url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	if (m->user != NULL)
		curl_easy_setopt(h, CURLOPT_USERNAME, m->user);
	if (m->pass != NULL)
		curl_easy_setopt(h, CURLOPT_PASSWORD, m->pass);
	/* A password never crosses the network in clear: with one, STARTTLS
	 * is required, except towards a relay on this machine. */
	curl_easy_setopt(h, CURLOPT_USE_SSL, m->pass != NULL && !m->local ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)MAIL_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)MAIL_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	switch (cc) {
	case CURLE_OK:
		rc = OV_OK;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		rc = OV_ETIMEOUT;
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		rc = OV_EIO;
		break;
	case CURLE_LOGIN_DENIED:
		rc = OV_EAUTH;
		break;
	default:
		rc = OV_EREMOTE;
	}
	/* A refusal the server put in words (5xx/4xx) is its answer, whatever
	 * step libcurl was at when it came. */
	if (rc == OV_EIO && code >= 400)
		rc = OV_EREMOTE;
	if (rc != OV_OK)
		log_error("e-mail to %s through %s failed: %s (SMTP %ld)", to,
		    m->host, curl_easy_strerror(cc), code);
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	free(msg);
	return rc;
}
