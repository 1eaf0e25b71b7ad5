/*
 * mail.c - e-mail through libcurl SMTP. See mail.h.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cabundle.h"
#include "config.h"
#include "err.h"
#include "fdio.h"
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
	char *queue;     /* $OVIDIO_DATA_DIR/mailq, or NULL */
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

/* Text for a header: each control character (CR and LF too) becomes one
 * space, so a customer's name can never start a header line of its own.
 * dst holds at least strlen(src) + 1 bytes or the text is cut. */
static void
header_text(const char *src, char *dst, size_t cap)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < cap; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' :
		    src[i];
	dst[i] = '\0';
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
	if ((p = config_get(cfg, "OVIDIO_DATA_DIR")) != NULL) {
		size_t n = strlen(p) + sizeof("/mailq");

		if ((m->queue = malloc(n)) == NULL)
			goto fail;
		snprintf(m->queue, n, "%s/mailq", p);
	}
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
	free(m->queue);
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
	char subj[MAIL_SUBJECT_MAX + 1];
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
	if (!addr_ok(to) || subject == NULL ||
	    strlen(subject) > MAIL_SUBJECT_MAX || html_body == NULL ||
	    strlen(html_body) > MAIL_BODY_MAX)
		return OV_EINVAL;
	header_text(subject, subj, sizeof(subj));
	if ((msg = build_message(m, to, subj, html_body, &len)) == NULL) {
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
	cabundle_apply(h);
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

/* ---- the queue ------------------------------------------------------- */

/* A queued notice: mailq/<ns>.<pid>.<16 hex>.mail holding
 *   ovidio-mail 1\n to ADDR\n attempts N\n first T\n next T\n subject S\n
 *   \n BODY
 * (no leading spaces). Header values are single lines by construction:
 * the address is checked, the subject cleaned. */
struct queued {
	char to[MAIL_ADDR_MAX + 1];
	char subject[MAIL_SUBJECT_MAX + 1];
	long attempts;
	int64_t first, next;
	char *body;      /* points into the file's buffer */
};

#define QUEUE_FILE_MAX (MAIL_BODY_MAX + MAIL_SUBJECT_MAX + 1024)

static int
make_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Write q as queue file `name` atomically (temporary dotfile, fsync,
 * rename, fsync of the directory). */
static int
queue_write(const struct mail *m, const char *name, const struct queued *q)
{
	char path[4096], tmp[4096], head[MAIL_SUBJECT_MAX + MAIL_ADDR_MAX + 256];
	int fd = -1, n, rc = OV_EIO;

	if (snprintf(path, sizeof(path), "%s/%s", m->queue, name) >=
	    (int)sizeof(path) || snprintf(tmp, sizeof(tmp), "%s/.tmp-%s",
	    m->queue, name) >= (int)sizeof(tmp))
		return OV_EINVAL;
	n = snprintf(head, sizeof(head), "ovidio-mail 1\nto %s\nattempts %ld\n"
	    "first %lld\nnext %lld\nsubject %s\n\n", q->to, q->attempts,
	    (long long)q->first, (long long)q->next, q->subject);
	if (n < 0 || n >= (int)sizeof(head))
		return OV_EINVAL;
	fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		goto out;
	if (fdio_write_all(fd, head, (size_t)n) != 0 ||
	    fdio_write_all(fd, q->body, strlen(q->body)) != 0 || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0 || fsync_dir(m->queue) != 0)
		goto out;
	rc = OV_OK;
out:
	if (rc != OV_OK) {
		log_error("cannot write the mail queue file %s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	return rc;
}

static int
queue_name(char name[96])
{
	struct timespec ts;
	uint8_t r[8];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r) ||
	    clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	snprintf(name, 96, "%019lld.%ld.%02x%02x%02x%02x%02x%02x%02x%02x.mail",
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, (long)getpid(),
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	return 0;
}

/* A failure worth trying again later (the server, not the notice). */
static bool
transient(int rc)
{
	return rc == OV_EIO || rc == OV_ETIMEOUT || rc == OV_EREMOTE ||
	    rc == OV_EAUTH || rc == OV_ENOMEM;
}

static int64_t
pause_after(long attempts)
{
	int64_t p = MAIL_QUEUE_PAUSE_S;

	for (long i = 1; i < attempts && p < 3600; i++)
		p *= 2;
	return p < 3600 ? p : 3600;
}

/* Keep a notice in the queue; attempts already made, next try at. */
static int
queue_put(struct mail *m, const char *to, const char *subject,
    const char *html_body, int attempts, int64_t next)
{
	struct queued q;
	char name[96];
	int rc;

	if (m->queue == NULL || make_dir(m->queue) != 0 || queue_name(name) != 0) {
		log_error("e-mail to %s is lost: the mail queue cannot be used",
		    to);
		return OV_EIO;
	}
	memset(&q, 0, sizeof(q));
	snprintf(q.to, sizeof(q.to), "%s", to);
	header_text(subject, q.subject, sizeof(q.subject));
	q.attempts = attempts;
	q.first = (int64_t)time(NULL);
	q.next = next;
	q.body = (char *)html_body;
	if ((rc = queue_write(m, name, &q)) != OV_OK)
		return rc;
	log_info("e-mail to %s queued as mailq/%s", to, name);
	return OV_OK;
}

int
mail_send_or_queue(struct mail *m, const char *to, const char *subject,
    const char *html_body, int *queued)
{
	int rc;

	if (queued != NULL)
		*queued = 0;
	rc = mail_send(m, to, subject, html_body);
	if (rc == OV_OK || !transient(rc))
		return rc;
	if ((rc = queue_put(m, to, subject, html_body, 1,
	    (int64_t)time(NULL) + pause_after(1))) != OV_OK)
		return rc;
	if (queued != NULL)
		*queued = 1;
	return OV_OK;
}

int
mail_queue(struct mail *m, const char *to, const char *subject,
    const char *html_body)
{
	if (!mail_configured(m))
		return OV_ECONFIG;
	if (to == NULL || subject == NULL || html_body == NULL)
		return OV_EINVAL;
	return queue_put(m, to, subject, html_body, 0, (int64_t)time(NULL));
}

static int
field(char **p, const char *key, char **value)
{
	size_t k = strlen(key);
	char *nl;

	if (strncmp(*p, key, k) != 0 || (*p)[k] != ' ')
		return -1;
	if ((nl = strchr(*p, '\n')) == NULL)
		return -1;
	*nl = '\0';
	*value = *p + k + 1;
	*p = nl + 1;
	return 0;
}

static int
num(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return (end == s || *end != '\0' || errno != 0 || *out < 0) ? -1 : 0;
}

/* Parse buf (NUL-terminated, modified in place) into q. */
static int
queue_parse(char *buf, struct queued *q)
{
	char *p = buf, *v;
	long long n;

	memset(q, 0, sizeof(q[0]));
	if (strncmp(p, "ovidio-mail 1\n", 14) != 0)
		return -1;
	p += 14;
	if (field(&p, "to", &v) != 0 || !addr_ok(v))
		return -1;
	snprintf(q->to, sizeof(q->to), "%s", v);
	if (field(&p, "attempts", &v) != 0 || num(v, &n) != 0 || n > 1000000)
		return -1;
	q->attempts = (long)n;
	if (field(&p, "first", &v) != 0 || num(v, &n) != 0)
		return -1;
	q->first = n;
	if (field(&p, "next", &v) != 0 || num(v, &n) != 0)
		return -1;
	q->next = n;
	if (field(&p, "subject", &v) != 0 || strlen(v) > MAIL_SUBJECT_MAX)
		return -1;
	header_text(v, q->subject, sizeof(q->subject));
	if (*p != '\n')
		return -1;
	q->body = p + 1;
	return 0;
}

static char *
slurp(const char *path)
{
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	if ((buf = malloc(QUEUE_FILE_MAX + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t r = read(fd, buf + got, QUEUE_FILE_MAX - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (r == 0 && got == 0)) {
			free(buf);
			buf = NULL;
			break;
		}
		if (r == 0 || (got += (size_t)r) == QUEUE_FILE_MAX)
			break;
	}
	close(fd);
	if (buf != NULL)
		buf[got] = '\0';
	return buf;
}

/* Keep a notice that will never go out where a person can find it. */
static void
queue_give_up(const struct mail *m, const char *name, const char *why)
{
	char src[4096], dir[4096], dst[4200];

	snprintf(src, sizeof(src), "%s/%s", m->queue, name);
	snprintf(dir, sizeof(dir), "%s/failed", m->queue);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (make_dir(dir) != 0 || rename(src, dst) != 0)
		unlink(src);
	log_error("e-mail mailq/%s given up (%s); kept in mailq/failed", name,
	    why);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
queue_file_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 5 && len < 96 &&
	    strcmp(n + len - 5, ".mail") == 0;
}

int
mail_queue_drain(struct mail *m, size_t *sent, size_t *left)
{
	char **names = NULL, **grown, path[4096];
	size_t n = 0, cap = 0, nsent = 0, nleft = 0;
	struct dirent *de;
	int64_t now = (int64_t)time(NULL);
	bool down = false;
	DIR *d;

	if (sent != NULL)
		*sent = 0;
	if (left != NULL)
		*left = 0;
	if (!mail_configured(m))
		return OV_ECONFIG;
	if (m->queue == NULL || (d = opendir(m->queue)) == NULL)
		return OV_OK;   /* nothing was ever queued */
	while ((de = readdir(d)) != NULL) {
		if (!queue_file_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((grown = realloc(names, cap * sizeof(*names))) == NULL)
				break;
			names = grown;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct queued q;
		char *buf;
		int rc;

		snprintf(path, sizeof(path), "%s/%s", m->queue, names[i]);
		if (down) {
			nleft++;
			continue;
		}
		if ((buf = slurp(path)) == NULL)
			continue;   /* gone meanwhile */
		if (queue_parse(buf, &q) != 0) {
			queue_give_up(m, names[i], "unreadable");
			free(buf);
			continue;
		}
		if (q.next > now) {
			nleft++;
			free(buf);
			continue;
		}
		rc = mail_send(m, q.to, q.subject, q.body);
		if (rc == OV_OK) {
			unlink(path);
			fsync_dir(m->queue);
			log_info("e-mail mailq/%s sent after %ld attempt(s)",
			    names[i], q.attempts + 1);
			nsent++;
		} else if (!transient(rc) ||
		    q.attempts + 1 >= MAIL_QUEUE_ATTEMPTS) {
			q.attempts++;
			queue_give_up(m, names[i], ov_strerror(rc));
		} else {
			q.attempts++;
			q.next = now + pause_after(q.attempts);
			queue_write(m, names[i], &q);
			nleft++;
			/* Not reachable: the rest would only wait for the
			 * same time-out. */
			down = rc == OV_EIO || rc == OV_ETIMEOUT;
		}
		free(buf);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (sent != NULL)
		*sent = nsent;
	if (left != NULL)
		*left = nleft;
	return OV_OK;
}
