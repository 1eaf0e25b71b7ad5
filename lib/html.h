/*
 * html.h - the inbox's HTML writer: every value reaches markup only
 * through html_text() or html_attr() (escaped at the output boundary, as
 * cgit's html_txt/html_attr do); markup itself comes from string literals
 * through html_raw().
 *
 * A struct html is a growing buffer with a hard cap fixed at init (curl's
 * dynbuf): going over it, or running out of memory, sets h->err and every
 * later call does nothing, so a page is either whole or an error the
 * caller sees, never silently cut.
 *
 * Ownership: h->buf is malloc'd by the writer; html_free() releases it.
 */
#ifndef OVIDIO_HTML_H
#define OVIDIO_HTML_H

#include <stddef.h>
#include <stdint.h>

struct html {
	char *buf;      /* NUL-terminated */
	size_t len;
	size_t cap;
	size_t max;     /* bytes a page may have */
	int err;        /* OV_OK, OV_ETOOBIG or OV_ENOMEM */
};

void html_init(struct html *h, size_t max);
void html_free(struct html *h);

/* Markup from the program (a literal, never outside data). */
void html_raw(struct html *h, const char *markup);
/* Text content: & < > " ' escaped; invalid UTF-8 bytes and control
 * characters other than tab and newline become U+FFFD. NULL writes
 * nothing. */
void html_text(struct html *h, const char *s);
/* An attribute value (inside double quotes): escaped as html_text(). */
void html_attr(struct html *h, const char *s);
/* A URL path segment or query value: every byte outside [A-Za-z0-9._~-]
 * percent-encoded, so it is safe in an attribute as well. */
void html_url(struct html *h, const char *s);
/* A decimal integer. */
void html_int(struct html *h, int64_t v);

#endif
