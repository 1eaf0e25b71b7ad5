/* CGI helpers: strict CONTENT_LENGTH, bounded body reads, QUERY_STRING
 * decoding and header-injection refusal. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "check.h"
#include "err.h"

static void
test_content_length(void)
{
	uint64_t v = 12345;

	CHECK_INT(cgi_content_length(NULL, &v), OV_ENOTFOUND);
	CHECK_INT(cgi_content_length("", &v), OV_ENOTFOUND);
	CHECK_INT(cgi_content_length("-1", &v), OV_EINVAL);
	CHECK_INT(cgi_content_length("+5", &v), OV_EINVAL);
	CHECK_INT(cgi_content_length(" 5", &v), OV_EINVAL);
	CHECK_INT(cgi_content_length("5 ", &v), OV_EINVAL);
	CHECK_INT(cgi_content_length("5x", &v), OV_EINVAL);
	CHECK_INT(cgi_content_length("0x10", &v), OV_EINVAL);
	CHECK_INT(cgi_content_length("1e3", &v), OV_EINVAL);
	CHECK_INT(v, 12345);  /* untouched on error */
	CHECK_INT(cgi_content_length("18446744073709551616", &v), OV_ETOOBIG);
	CHECK_INT(cgi_content_length("99999999999999999999999", &v),
	    OV_ETOOBIG);
	CHECK_INT(cgi_content_length("0", &v), OV_OK);
	CHECK_INT(v, 0);
	CHECK_INT(cgi_content_length("4194305", &v), OV_OK);
	CHECK_INT(v, 4194305);
	CHECK_INT(cgi_content_length("18446744073709551615", &v), OV_OK);
	CHECK(v == UINT64_MAX);
}

/* A pipe holding data; the write end is closed so EOF follows it. */
static int
pipe_with(const char *data, size_t len)
{
	int fds[2];

	if (pipe(fds) != 0)
		return -1;
	if (len > 0 && write(fds[1], data, len) != (ssize_t)len) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	close(fds[1]);
	return fds[0];
}

static void
test_read_body(void)
{
	char *body = NULL;
	size_t len = 99;
	int fd;

	fd = pipe_with("hello world", 11);
	CHECK(fd >= 0);
	CHECK_INT(cgi_read_body(fd, 5, 100, &body, &len), OV_OK);
	CHECK_INT(len, 5);
	CHECK_STR(body, "hello");   /* no more than declared is read */
	free(body);
	close(fd);

	/* Short: the client declared more than it sent. */
	fd = pipe_with("abc", 3);
	CHECK_INT(cgi_read_body(fd, 10, 100, &body, &len), OV_EIO);
	CHECK(body == NULL);
	CHECK_INT(len, 0);
	close(fd);

	/* Over the cap: refused before reading or allocating. A huge
	 * length must not reach malloc. */
	CHECK_INT(cgi_read_body(-1, 101, 100, &body, &len), OV_ETOOBIG);
	CHECK_INT(cgi_read_body(-1, UINT64_MAX, 4194304, &body, &len),
	    OV_ETOOBIG);
	CHECK(body == NULL);

	/* Zero bytes: an empty, terminated buffer. */
	CHECK_INT(cgi_read_body(-1, 0, 100, &body, &len), OV_OK);
	CHECK(body != NULL && body[0] == '\0');
	CHECK_INT(len, 0);
	free(body);
}

static void
test_query_basic(void)
{
	struct cgi_query q;
	const char *v;

	CHECK_INT(cgi_query_parse("hub.mode=subscribe&hub.verify_token=a+b"
	    "&hub.challenge=12%2e5&empty=&flag", &q), OV_OK);
	CHECK_INT(q.n, 5);
	CHECK_INT(cgi_query_get(&q, "hub.mode", &v), OV_OK);
	CHECK_STR(v, "subscribe");
	CHECK_INT(cgi_query_get(&q, "hub.verify_token", &v), OV_OK);
	CHECK_STR(v, "a b");
	CHECK_INT(cgi_query_get(&q, "hub.challenge", &v), OV_OK);
	CHECK_STR(v, "12.5");
	CHECK_INT(cgi_query_get(&q, "empty", &v), OV_OK);
	CHECK_STR(v, "");
	CHECK_INT(cgi_query_get(&q, "flag", &v), OV_OK);
	CHECK_STR(v, "");
	CHECK_INT(cgi_query_get(&q, "hub", &v), OV_ENOTFOUND);
	CHECK(v == NULL);
	cgi_query_free(&q);

	/* A dot in a name may itself arrive encoded. */
	CHECK_INT(cgi_query_parse("hub%2Emode=x%3d1%26y", &q), OV_OK);
	CHECK_INT(cgi_query_get(&q, "hub.mode", &v), OV_OK);
	CHECK_STR(v, "x=1&y");
	cgi_query_free(&q);

	/* NULL and empty are empty queries; stray '&' are skipped. */
	CHECK_INT(cgi_query_parse(NULL, &q), OV_OK);
	CHECK_INT(q.n, 0);
	cgi_query_free(&q);
	CHECK_INT(cgi_query_parse("&&a=1&&", &q), OV_OK);
	CHECK_INT(q.n, 1);
	cgi_query_free(&q);
}

static void
test_query_refused(void)
{
	char big[CGI_QUERY_MAX + 16];
	struct cgi_query q;
	const char *v;
	size_t i;
	int n;

	/* %00 would cut the string: refused, in a value or a name. */
	CHECK_INT(cgi_query_parse("hub.verify_token=abc%00def", &q), OV_EINVAL);
	CHECK_INT(q.n, 0);
	CHECK(q.pairs == NULL);
	CHECK_INT(cgi_query_parse("a%00=1", &q), OV_EINVAL);
	/* Broken escapes. */
	CHECK_INT(cgi_query_parse("a=%", &q), OV_EINVAL);
	CHECK_INT(cgi_query_parse("a=%4", &q), OV_EINVAL);
	CHECK_INT(cgi_query_parse("a=%zz", &q), OV_EINVAL);
	CHECK_INT(cgi_query_parse("a=1&%", &q), OV_EINVAL);
	/* Empty name. */
	CHECK_INT(cgi_query_parse("=1", &q), OV_EINVAL);

	/* Too many pairs. */
	n = 0;
	for (i = 0; i < CGI_QUERY_PAIRS_MAX + 1; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "k%zu=v&", i);
	CHECK_INT(cgi_query_parse(big, &q), OV_ETOOBIG);
	CHECK_INT(q.n, 0);
	/* Exactly the bound is fine. */
	n = 0;
	for (i = 0; i < CGI_QUERY_PAIRS_MAX; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "k%zu=v&", i);
	CHECK_INT(cgi_query_parse(big, &q), OV_OK);
	CHECK_INT(q.n, CGI_QUERY_PAIRS_MAX);
	cgi_query_free(&q);

	/* Overlong value (decoded length), overlong name. */
	memcpy(big, "v=", 2);
	memset(big + 2, 'x', CGI_QUERY_VALUE_MAX + 1);
	big[2 + CGI_QUERY_VALUE_MAX + 1] = '\0';
	CHECK_INT(cgi_query_parse(big, &q), OV_ETOOBIG);
	big[2 + CGI_QUERY_VALUE_MAX] = '\0';
	CHECK_INT(cgi_query_parse(big, &q), OV_OK);
	cgi_query_free(&q);
	memset(big, 'n', CGI_QUERY_NAME_MAX + 1);
	memcpy(big + CGI_QUERY_NAME_MAX + 1, "=1", 3);
	CHECK_INT(cgi_query_parse(big, &q), OV_ETOOBIG);
	/* Whole query over its bound. */
	memset(big, 'a', CGI_QUERY_MAX + 1);
	big[CGI_QUERY_MAX + 1] = '\0';
	CHECK_INT(cgi_query_parse(big, &q), OV_ETOOBIG);

	/* A repeated name is ambiguous: refused by get. */
	CHECK_INT(cgi_query_parse("hub.verify_token=a&hub.verify_token=b", &q),
	    OV_OK);
	CHECK_INT(cgi_query_get(&q, "hub.verify_token", &v), OV_EEXIST);
	CHECK(v == NULL);
	cgi_query_free(&q);
}

static void
test_header_values(void)
{
	CHECK(cgi_header_value_ok("text/plain; charset=utf-8"));
	CHECK(cgi_header_value_ok("a\tb"));
	CHECK(cgi_header_value_ok(""));
	CHECK(!cgi_header_value_ok(NULL));
	CHECK(!cgi_header_value_ok("x\r\nSet-Cookie: a=b"));
	CHECK(!cgi_header_value_ok("x\nLocation: /"));
	CHECK(!cgi_header_value_ok("x\r"));
	CHECK(!cgi_header_value_ok("x\x7f"));
}

/* Response into a memory stream. */
static int
respond_to_string(char *buf, size_t size, int status, const char *ctype,
    const struct cgi_header *h, size_t nh, const char *body)
{
	FILE *f = fmemopen(buf, size, "w");
	int rc;

	if (f == NULL)
		return -1;
	rc = cgi_respond(f, status, ctype, h, nh, body,
	    body ? strlen(body) : 0);
	fclose(f);
	return rc;
}

static void
test_respond(void)
{
	const struct cgi_header allow[] = { { "Allow", "GET, POST" } };
	const struct cgi_header evil[] = { { "Location", "/x\r\nSet-Cookie: s=1" } };
	const struct cgi_header badname[] = { { "X Bad", "1" } };
	char buf[1024];

	memset(buf, 0, sizeof(buf));
	CHECK_INT(respond_to_string(buf, sizeof(buf), 405, "text/plain",
	    allow, 1, "method not allowed\n"), OV_OK);
	CHECK_STR(buf,
	    "Status: 405 Method Not Allowed\r\n"
	    "Content-Type: text/plain\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Cache-Control: no-store\r\n"
	    "Allow: GET, POST\r\n"
	    "Content-Length: 19\r\n"
	    "\r\n"
	    "method not allowed\n");

	/* Injection: nothing at all is written. */
	memset(buf, 0, sizeof(buf));
	CHECK_INT(respond_to_string(buf, sizeof(buf), 302, "text/plain", evil,
	    1, "x"), OV_EINVAL);
	CHECK_STR(buf, "");
	CHECK_INT(respond_to_string(buf, sizeof(buf), 200,
	    "text/html\r\nX-Evil: 1", NULL, 0, "x"), OV_EINVAL);
	CHECK_STR(buf, "");
	CHECK_INT(respond_to_string(buf, sizeof(buf), 200, "text/plain",
	    badname, 1, "x"), OV_EINVAL);
	CHECK_STR(buf, "");
	CHECK_INT(respond_to_string(buf, sizeof(buf), 42, "text/plain", NULL,
	    0, "x"), OV_EINVAL);
}

/* Headers for a body the caller streams: its length announced, nothing
 * after the blank line, the same refusals. */
static void
test_respond_head(void)
{
	const struct cgi_header h[] = {
		{ "Content-Disposition", "attachment; filename=\"a.pdf\"" },
	};
	const struct cgi_header evil[] = {
		{ "Content-Disposition", "attachment; filename=\"a\r\nX: 1\"" },
	};
	char buf[1024];
	FILE *f;

	memset(buf, 0, sizeof(buf));
	if ((f = fmemopen(buf, sizeof(buf), "w")) == NULL)
		return;
	CHECK_INT(cgi_respond_head(f, 200, "application/pdf", h, 1,
	    26214400ULL), OV_OK);
	fclose(f);
	CHECK_STR(buf,
	    "Status: 200 OK\r\n"
	    "Content-Type: application/pdf\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Cache-Control: no-store\r\n"
	    "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
	    "Content-Length: 26214400\r\n"
	    "\r\n");
	memset(buf, 0, sizeof(buf));
	if ((f = fmemopen(buf, sizeof(buf), "w")) == NULL)
		return;
	CHECK_INT(cgi_respond_head(f, 200, "application/pdf", evil, 1, 1),
	    OV_EINVAL);
	fclose(f);
	CHECK_STR(buf, "");
}

int
main(void)
{
	RUN(test_content_length);
	RUN(test_read_body);
	RUN(test_query_basic);
	RUN(test_query_refused);
	RUN(test_header_values);
	RUN(test_respond);
	RUN(test_respond_head);
	return check_finish();
}
