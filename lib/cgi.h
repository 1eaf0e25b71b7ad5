/*
 * cgi.h - small helpers for CGI programs (RFC 3875): the method, a strict
 * CONTENT_LENGTH, a bounded body reader, QUERY_STRING pairs and a response
 * writer that refuses header injection.
 *
 * Ownership:
 *  - cgi_read_body() returns a malloc'd buffer the caller frees.
 *  - cgi_query_parse() fills a struct cgi_query whose names and values are
 *    malloc'd; cgi_query_free() releases them. Strings from
 *    cgi_query_get() belong to the query and live until cgi_query_free().
 *  - cgi_respond() only reads the strings and headers it is given; the
 *    caller keeps them.
 */
#ifndef OVIDIO_CGI_H
#define OVIDIO_CGI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cgi_method {
	CGI_METHOD_NONE = 0,   /* REQUEST_METHOD unset or empty */
	CGI_METHOD_GET,
	CGI_METHOD_POST,
	CGI_METHOD_HEAD,
	CGI_METHOD_OTHER,
};

/* Reads REQUEST_METHOD (exact, case-sensitive as RFC 9110 says). */
enum cgi_method cgi_method(void);

/* Strict CONTENT_LENGTH: digits only (no sign, no space, no suffix).
 * s NULL or empty: OV_ENOTFOUND ("no length"). Other than digits:
 * OV_EINVAL. Does not fit in 64 bits: OV_ETOOBIG. */
int cgi_content_length(const char *s, uint64_t *out);

/* Read exactly len bytes from fd into a malloc'd, NUL-terminated buffer
 * (*len_out = len; the NUL is not counted). len over cap: OV_ETOOBIG
 * without reading anything or allocating. End of input before len bytes:
 * OV_EIO (nothing returned). */
int cgi_read_body(int fd, uint64_t len, size_t cap, char **body,
    size_t *len_out);

/* Read and discard the request body announced by CONTENT_LENGTH, up to
 * cap bytes (nothing when the length is absent, malformed or over cap).
 * A CGI that answers without reading the body makes Apache fail to hand
 * it over and cut the connection mid-response; draining first lets the
 * refusal reach the client intact. */
void cgi_drain_body(int fd, size_t cap);

/* Bounds of QUERY_STRING parsing. */
#define CGI_QUERY_MAX 8192        /* raw QUERY_STRING bytes */
#define CGI_QUERY_PAIRS_MAX 32
#define CGI_QUERY_NAME_MAX 64     /* decoded bytes */
#define CGI_QUERY_VALUE_MAX 1024  /* decoded bytes */

struct cgi_pair {
	char *name;
	char *value;
};

struct cgi_query {
	struct cgi_pair *pairs;
	size_t n;
};

/* Split "a=1&b.c=x+y%2e" into decoded pairs ('+' is a space, %XX a byte).
 * qs NULL is an empty query. Empty segments are skipped; a segment with no
 * '=' has the value "". OV_EINVAL for a bad %-escape, %00 or an empty
 * name; OV_ETOOBIG over the bounds above; OV_ENOMEM. On error q is empty. */
int cgi_query_parse(const char *qs, struct cgi_query *q);

/* The value of name. OV_ENOTFOUND when absent; OV_EEXIST when the name
 * appears more than once (ambiguous, so refused). */
int cgi_query_get(const struct cgi_query *q, const char *name,
    const char **value);

void cgi_query_free(struct cgi_query *q);

/* 1 when v can be sent as a header value: no CR, LF or other control
 * byte except tab, and at most 1024 bytes. */
int cgi_header_value_ok(const char *v);

struct cgi_header {
	const char *name;    /* token characters only */
	const char *value;   /* checked with cgi_header_value_ok() */
};

/* Write a whole CGI response to out: "Status: NNN Reason", Content-Type,
 * X-Content-Type-Options: nosniff, Cache-Control: no-store, the extra
 * headers, Content-Length: len, a blank line, then body (len bytes; body
 * may be NULL when len is 0). Every header is checked before anything is
 * written: a bad name or value gives OV_EINVAL and writes nothing. OV_EIO
 * when out fails. Does not flush. */
int cgi_respond(FILE *out, int status, const char *content_type,
    const struct cgi_header *extra, size_t n_extra, const void *body,
    size_t len);

/* cgi_respond()'s headers alone, for a body the caller streams after
 * them (exactly len bytes). Same checks; nothing written on OV_EINVAL. */
int cgi_respond_head(FILE *out, int status, const char *content_type,
    const struct cgi_header *extra, size_t n_extra, uint64_t len);

/* Reason phrase of a status ("OK", "Forbidden"...); "Unknown" otherwise. */
const char *cgi_status_reason(int status);

#endif
