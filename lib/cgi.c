#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "err.h"

enum cgi_method
cgi_method(void)
{
	const char *m = getenv("REQUEST_METHOD");

	if (m == NULL || *m == '\0')
		return CGI_METHOD_NONE;
	if (strcmp(m, "GET") == 0)
		return CGI_METHOD_GET;
	if (strcmp(m, "POST") == 0)
		return CGI_METHOD_POST;
	if (strcmp(m, "HEAD") == 0)
		return CGI_METHOD_HEAD;
	return CGI_METHOD_OTHER;
}

int
cgi_content_length(const char *s, uint64_t *out)
{
	unsigned long long v;
	const char *p;
	char *end;

	if (s == NULL || *s == '\0')
		return OV_ENOTFOUND;
	/* strtoull alone would take "+5", " 5" and "-1" (as a huge value). */
	for (p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return OV_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return OV_ETOOBIG;
	if (errno != 0 || *end != '\0')
		return OV_EINVAL;
	*out = (uint64_t)v;
	return OV_OK;
}

int
cgi_read_body(int fd, uint64_t len, size_t cap, char **body, size_t *len_out)
{
	char *buf;
	size_t got = 0;
	int rc = OV_OK;

	*body = NULL;
	*len_out = 0;
	/* The length comes from the client: check it before malloc. */
	if (len > (uint64_t)cap || len >= SIZE_MAX)
		return OV_ETOOBIG;
	buf = malloc((size_t)len + 1);
	if (buf == NULL)
		return OV_ENOMEM;
	while (got < (size_t)len) {
		ssize_t r = read(fd, buf + got, (size_t)len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = OV_EIO;
			goto out;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*body = buf;
	*len_out = got;
	buf = NULL;
out:
	free(buf);
	return rc;
}

void
cgi_drain_body(int fd, size_t cap)
{
	char buf[16384];
	uint64_t left;

	if (cgi_content_length(getenv("CONTENT_LENGTH"), &left) != OV_OK ||
	    left > (uint64_t)cap)
		return;
	while (left > 0) {
		ssize_t r = read(fd, buf, left < sizeof(buf) ? (size_t)left :
		    sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		left -= (uint64_t)r;
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..n) into a malloc'd string of at most max bytes. */
static int
decode(const char *s, size_t n, size_t max, char **out)
{
	char *d;
	size_t i, j = 0;
	int rc = OV_OK;

	*out = NULL;
	/* Decoding never grows a string: n bytes of room is enough. */
	d = malloc(n + 1);
	if (d == NULL)
		return OV_ENOMEM;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (n - i < 3) {
				rc = OV_EINVAL;
				goto out;
			}
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0) {
				rc = OV_EINVAL;
				goto out;
			}
			c = (char)(hi << 4 | lo);
			/* An embedded NUL would cut the C string short and make
			 * two different inputs look alike. */
			if (c == '\0') {
				rc = OV_EINVAL;
				goto out;
			}
			i += 2;
		}
		if (j >= max) {
			rc = OV_ETOOBIG;
			goto out;
		}
		d[j++] = c;
	}
	d[j] = '\0';
	*out = d;
	d = NULL;
out:
	free(d);
	return rc;
}

int
cgi_query_parse(const char *qs, struct cgi_query *q)
{
	const char *p, *amp, *eq;
	size_t qlen;
	int rc = OV_OK;

	q->pairs = NULL;
	q->n = 0;
	if (qs == NULL || *qs == '\0')
		return OV_OK;
	qlen = strlen(qs);
	if (qlen > CGI_QUERY_MAX)
		return OV_ETOOBIG;
	q->pairs = calloc(CGI_QUERY_PAIRS_MAX, sizeof(*q->pairs));
	if (q->pairs == NULL)
		return OV_ENOMEM;
	for (p = qs; p < qs + qlen; p = amp + 1) {
		struct cgi_pair *pr;
		size_t seglen;

		amp = strchr(p, '&');
		if (amp == NULL)
			amp = qs + qlen;
		seglen = (size_t)(amp - p);
		if (seglen == 0)
			continue;
		if (q->n == CGI_QUERY_PAIRS_MAX) {
			rc = OV_ETOOBIG;
			goto out;
		}
		eq = memchr(p, '=', seglen);
		if (eq == p) {
			rc = OV_EINVAL;
			goto out;
		}
		pr = &q->pairs[q->n];
		if (eq == NULL) {
			rc = decode(p, seglen, CGI_QUERY_NAME_MAX, &pr->name);
			if (rc == OV_OK && (pr->value = strdup("")) == NULL)
				rc = OV_ENOMEM;
		} else {
			rc = decode(p, (size_t)(eq - p), CGI_QUERY_NAME_MAX,
			    &pr->name);
			if (rc == OV_OK)
				rc = decode(eq + 1, (size_t)(amp - eq - 1),
				    CGI_QUERY_VALUE_MAX, &pr->value);
		}
		/* Count the pair even when half-made so cleanup frees it. */
		q->n++;
		if (rc != OV_OK)
			goto out;
	}
out:
	if (rc != OV_OK)
		cgi_query_free(q);
	return rc;
}

int
cgi_query_get(const struct cgi_query *q, const char *name, const char **value)
{
	const char *found = NULL;

	*value = NULL;
	for (size_t i = 0; i < q->n; i++) {
		if (strcmp(q->pairs[i].name, name) != 0)
			continue;
		if (found != NULL)
			return OV_EEXIST;
		found = q->pairs[i].value;
	}
	if (found == NULL)
		return OV_ENOTFOUND;
	*value = found;
	return OV_OK;
}

void
cgi_query_free(struct cgi_query *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->n; i++) {
		free(q->pairs[i].name);
		free(q->pairs[i].value);
	}
	free(q->pairs);
	q->pairs = NULL;
	q->n = 0;
}

int
cgi_header_value_ok(const char *v)
{
	size_t n = 0;

	if (v == NULL)
		return 0;
	for (; *v != '\0'; v++, n++) {
		unsigned char c = (unsigned char)*v;

		/* CR or LF would start a new header (response splitting). */
		if ((c < 0x20 && c != '\t') || c == 0x7f || n >= 1024)
			return 0;
	}
	return 1;
}

/* RFC 9110 token characters. */
static int
header_name_ok(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

const char *
cgi_status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 410: return "Gone";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

int
cgi_respond(FILE *out, int status, const char *content_type,
    const struct cgi_header *extra, size_t n_extra, const void *body,
    size_t len)
{
	int rc;

	if (len > 0 && body == NULL)
		return OV_EINVAL;
	if ((rc = cgi_respond_head(out, status, content_type, extra, n_extra,
	    len)) != OV_OK)
		return rc;
	if (len > 0)
		fwrite(body, 1, len, out);
	return ferror(out) ? OV_EIO : OV_OK;
}

int
cgi_respond_head(FILE *out, int status, const char *content_type,
    const struct cgi_header *extra, size_t n_extra, uint64_t len)
{
	size_t i;

	if (status < 100 || status > 599 || !cgi_header_value_ok(content_type))
		return OV_EINVAL;
	for (i = 0; i < n_extra; i++)
		if (!header_name_ok(extra[i].name) ||
		    !cgi_header_value_ok(extra[i].value))
			return OV_EINVAL;

	fprintf(out, "Status: %d %s\r\n", status, cgi_status_reason(status));
	fprintf(out, "Content-Type: %s\r\n", content_type);
	fputs("X-Content-Type-Options: nosniff\r\n", out);
	fputs("Cache-Control: no-store\r\n", out);
	for (i = 0; i < n_extra; i++)
		fprintf(out, "%s: %s\r\n", extra[i].name, extra[i].value);
	fprintf(out, "Content-Length: %llu\r\n\r\n", (unsigned long long)len);
	return ferror(out) ? OV_EIO : OV_OK;
}
