/*
 * html.c - escaping writer for the inbox's pages (see html.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "html.h"

void
html_init(struct html *h, size_t max)
{
	memset(h, 0, sizeof(*h));
	h->max = max;
}

void
html_free(struct html *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

static void
put(struct html *h, const char *s, size_t n)
{
	char *nb;
	size_t ncap;

	if (h->err != OV_OK || n == 0)
		return;
	if (n > h->max || h->len > h->max - n) {
		h->err = OV_ETOOBIG;
		return;
	}
	if (h->len + n + 1 > h->cap) {
		ncap = h->cap == 0 ? 4096 : h->cap;
		while (ncap < h->len + n + 1)
			ncap *= 2;
		if ((nb = realloc(h->buf, ncap)) == NULL) {
			h->err = OV_ENOMEM;
			return;
		}
		h->buf = nb;
		h->cap = ncap;
	}
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	h->buf[h->len] = '\0';
}

void
html_raw(struct html *h, const char *markup)
{
	if (markup != NULL)
		put(h, markup, strlen(markup));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t
utf8_seq(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

static void
escape(struct html *h, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL)
		return;
	while (*p != '\0' && h->err == OV_OK) {
		size_t n;

		switch (*p) {
		case '&': html_raw(h, "&amp;"); p++; continue;
		case '<': html_raw(h, "&lt;"); p++; continue;
		case '>': html_raw(h, "&gt;"); p++; continue;
		case '"': html_raw(h, "&quot;"); p++; continue;
		case '\'': html_raw(h, "&#39;"); p++; continue;
		default: break;
		}
		if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
			html_raw(h, "\xef\xbf\xbd");
			p++;
			continue;
		}
		if ((n = utf8_seq(p)) == 0) {
			html_raw(h, "\xef\xbf\xbd");
			p++;
			continue;
		}
		put(h, (const char *)p, n);
		p += n;
	}
}

void
html_text(struct html *h, const char *s)
{
	escape(h, s);
}

void
html_attr(struct html *h, const char *s)
{
	escape(h, s);
}

void
html_url(struct html *h, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (s == NULL)
		return;
	for (const unsigned char *p = (const unsigned char *)s;
	    *p != '\0' && h->err == OV_OK; p++) {
		char e[3];

		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '~' || *p == '-') {
			put(h, (const char *)p, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 15];
		put(h, e, 3);
	}
}

void
html_int(struct html *h, int64_t v)
{
	char b[32];

	snprintf(b, sizeof(b), "%lld", (long long)v);
	html_raw(h, b);
}
