/*
 * test_utf8.c - the UTF-8 primitives every text-handling module relies on.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "utf8.h"

#define LEN(s) (sizeof(s) - 1)

static size_t
dec(const char *s, size_t n, uint32_t *cp)
{
	return utf8_decode((const unsigned char *)s, n, cp);
}

static void
test_decode_valid(void)
{
	uint32_t cp = 0;

	CHECK_INT(dec("A", 1, &cp), 1);
	CHECK_INT(cp, 'A');
	CHECK_INT(dec("\xC2\x80", 2, &cp), 2);            /* U+0080 */
	CHECK_INT(cp, 0x80);
	CHECK_INT(dec("\xC3\xA1", 2, &cp), 2);            /* á */
	CHECK_INT(cp, 0xE1);
	CHECK_INT(dec("\xE0\xA0\x80", 3, &cp), 3);        /* U+0800 */
	CHECK_INT(cp, 0x800);
	CHECK_INT(dec("\xE2\x80\xA6", 3, &cp), 3);        /* … */
	CHECK_INT(cp, 0x2026);
	CHECK_INT(dec("\xED\x9F\xBF", 3, &cp), 3);        /* U+D7FF */
	CHECK_INT(cp, 0xD7FF);
	CHECK_INT(dec("\xEE\x80\x80", 3, &cp), 3);        /* U+E000 */
	CHECK_INT(cp, 0xE000);
	CHECK_INT(dec("\xF0\x90\x80\x80", 4, &cp), 4);    /* U+10000 */
	CHECK_INT(cp, 0x10000);
	CHECK_INT(dec("\xF0\x9F\x98\x80", 4, &cp), 4);    /* 😀 */
	CHECK_INT(cp, 0x1F600);
	CHECK_INT(dec("\xF4\x8F\xBF\xBF", 4, &cp), 4);    /* U+10FFFF */
	CHECK_INT(cp, 0x10FFFF);
	CHECK_INT(dec("\xC3\xA1" "bc", 4, NULL), 2);      /* cp may be NULL */
	CHECK_INT(dec("", 1, &cp), 1);                    /* NUL is ASCII */
	CHECK_INT(cp, 0);
}

static void
test_decode_invalid(void)
{
	uint32_t cp = 12345;

	CHECK_INT(dec("\xC0\x80", 2, &cp), 0);            /* overlong NUL */
	CHECK_INT(dec("\xC1\xBF", 2, &cp), 0);            /* overlong */
	CHECK_INT(dec("\xE0\x80\x80", 3, &cp), 0);        /* overlong */
	CHECK_INT(dec("\xE0\x9F\xBF", 3, &cp), 0);        /* overlong */
	CHECK_INT(dec("\xF0\x8F\xBF\xBF", 4, &cp), 0);    /* overlong */
	CHECK_INT(dec("\xED\xA0\x80", 3, &cp), 0);        /* U+D800 */
	CHECK_INT(dec("\xED\xBF\xBF", 3, &cp), 0);        /* U+DFFF */
	CHECK_INT(dec("\xF4\x90\x80\x80", 4, &cp), 0);    /* U+110000 */
	CHECK_INT(dec("\xF5\x80\x80\x80", 4, &cp), 0);
	CHECK_INT(dec("\xFF", 1, &cp), 0);
	CHECK_INT(dec("\x80", 1, &cp), 0);                /* lone continuation */
	CHECK_INT(dec("\xC3" "a", 2, &cp), 0);            /* not a continuation */
	CHECK_INT(dec("\xE2\x80" "a", 3, &cp), 0);
	CHECK_INT(dec("\xC3\xA1", 1, &cp), 0);            /* truncated */
	CHECK_INT(dec("\xE2\x80\xA6", 2, &cp), 0);
	CHECK_INT(dec("\xF0\x9F\x98\x80", 3, &cp), 0);
	CHECK_INT(dec("\xC3\xA1", 0, &cp), 0);            /* nothing to read */
	CHECK_INT(cp, 12345);                             /* untouched */
}

/* Every code point, encoded by the book, decodes back; every surrogate
 * encoded the same way is refused. */
static void
test_decode_all(void)
{
	size_t bad = 0;

	for (uint32_t c = 0; c <= 0x10FFFF; c++) {
		unsigned char b[4];
		size_t n;
		uint32_t got = 0;

		if (c < 0x80) {
			b[0] = (unsigned char)c;
			n = 1;
		} else if (c < 0x800) {
			b[0] = (unsigned char)(0xC0 | (c >> 6));
			b[1] = (unsigned char)(0x80 | (c & 0x3F));
			n = 2;
		} else if (c < 0x10000) {
			b[0] = (unsigned char)(0xE0 | (c >> 12));
			b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
			b[2] = (unsigned char)(0x80 | (c & 0x3F));
			n = 3;
		} else {
			b[0] = (unsigned char)(0xF0 | (c >> 18));
			b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
			b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
			b[3] = (unsigned char)(0x80 | (c & 0x3F));
			n = 4;
		}
		if (c >= 0xD800 && c <= 0xDFFF) {
			if (utf8_decode(b, n, &got) != 0)
				bad++;
		} else if (utf8_decode(b, n, &got) != n || got != c ||
		    utf8_decode(b, n - 1, NULL) != 0) {
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

static void
test_valid(void)
{
	static const char ok[] = "Cámara domo 4 MP — ñandú 😀 \xF4\x8F\xBF\xBF";

	CHECK(utf8_valid(ok, LEN(ok)));
	CHECK(utf8_valid("", 0));
	CHECK(utf8_valid("abc", 3));
	CHECK(!utf8_valid("caf\xC3", 4));                 /* cut sequence */
	CHECK(utf8_valid("caf\xC3", 3));                  /* only what n says */
	CHECK(!utf8_valid("\xC0\x80", 2));
	CHECK(!utf8_valid("a\xE0\x80\x80", 4));
	CHECK(!utf8_valid("\xED\xA0\x80" "b", 4));
	CHECK(!utf8_valid("\xF4\x90\x80\x80", 4));
	CHECK(!utf8_valid("a\0b", 3));                    /* NUL inside */
	CHECK(!utf8_valid("\xBF", 1));
}

static void
test_cut(void)
{
	static const char s[] = "a\xC3\xA1\xE2\x80\xA6\xF0\x9F\x98\x80z";
	size_t n = LEN(s);                                /* 1+2+3+4+1 = 11 */

	CHECK_INT(utf8_cut(s, n, 100), n);
	CHECK_INT(utf8_cut(s, n, n), n);
	CHECK_INT(utf8_cut(s, n, 0), 0);
	CHECK_INT(utf8_cut(s, n, 1), 1);
	CHECK_INT(utf8_cut(s, n, 2), 1);                  /* inside á */
	CHECK_INT(utf8_cut(s, n, 3), 3);
	CHECK_INT(utf8_cut(s, n, 4), 3);                  /* inside … */
	CHECK_INT(utf8_cut(s, n, 5), 3);
	CHECK_INT(utf8_cut(s, n, 6), 6);
	CHECK_INT(utf8_cut(s, n, 7), 6);                  /* inside 😀 */
	CHECK_INT(utf8_cut(s, n, 9), 6);
	CHECK_INT(utf8_cut(s, n, 10), 10);
	CHECK_INT(utf8_cut("\xC3\xA1", 2, 1), 0);         /* nothing fits */
}

static void
test_chars(void)
{
	static const char s[] = "Sí, enviámelo 😀";

	CHECK_INT(utf8_chars("", 0), 0);
	CHECK_INT(utf8_chars("abc", 3), 3);
	CHECK_INT(utf8_chars(s, LEN(s)), 15);
	CHECK_INT(utf8_chars("\xE2\x80\xA6\xE2\x80\xA6", 6), 2);
	CHECK_INT(utf8_chars(s, 2), 2);                   /* "S" and a lead */
	CHECK_INT(utf8_offset(s, LEN(s), 0), 0);
	CHECK_INT(utf8_offset(s, LEN(s), 1), 1);
	CHECK_INT(utf8_offset(s, LEN(s), 2), 3);          /* past "Sí" */
	CHECK_INT(utf8_offset(s, LEN(s), 14), LEN(s) - 4); /* before 😀 */
	CHECK_INT(utf8_offset(s, LEN(s), 15), LEN(s));
	CHECK_INT(utf8_offset(s, LEN(s), 99), LEN(s));
}

int
main(void)
{
	RUN(test_decode_valid);
	RUN(test_decode_invalid);
	RUN(test_decode_all);
	RUN(test_valid);
	RUN(test_cut);
	RUN(test_chars);
	return check_finish();
}
