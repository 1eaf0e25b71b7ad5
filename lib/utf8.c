/*
 * utf8.c - UTF-8 primitives (see utf8.h).
 */
#include <string.h>

#include "utf8.h"

static bool
is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c, lo = 0x80, hi = 0xbf;
	size_t len;
	uint32_t v;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		if (cp != NULL)
			*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;              /* overlong */
		else if (c == 0xed)
			hi = 0x9f;              /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;              /* overlong */
		else if (c == 0xf4)
			hi = 0x8f;              /* past U+10FFFF */
	} else {
		return 0;                       /* 80..C1, F5..FF */
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (!is_cont(s[i]))
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (cp != NULL)
		*cp = v;
	return len;
}

bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t k = p[i] == '\0' ? 0 : utf8_decode(p + i, n - i, NULL);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && is_cont((unsigned char)s[max]))
		max--;
	return max;
}

size_t
utf8_chars(const char *s, size_t n)
{
	size_t chars = 0;

	for (size_t i = 0; i < n; i++)
		if (!is_cont((unsigned char)s[i]))
			chars++;
	return chars;
}

size_t
utf8_offset(const char *s, size_t n, size_t chars)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_cont((unsigned char)s[i])) {
			if (chars == 0)
				break;
			chars--;
		}
	}
	return i;
}

void
utf8_copy(char *dst, size_t n, const char *s)
{
	size_t len;

	if (n == 0)
		return;
	if (s == NULL) {
		dst[0] = '\0';
		return;
	}
	len = utf8_cut(s, strnlen(s, n), n - 1);
	memcpy(dst, s, len);
	dst[len] = '\0';
}
