/*
 * utf8.h - UTF-8 (RFC 3629) primitives shared by the modules that check,
 * count or cut text.
 *
 * "Well-formed" means no overlong forms, no surrogates (U+D800..DFFF) and
 * nothing past U+10FFFF. What to do with bytes that are not well-formed
 * (refuse the text, skip them, replace them) stays with each caller.
 *
 * Ownership: pure functions, no allocation; nothing to free. None of them
 * reads past s + n.
 */
#ifndef OVIDIO_UTF8_H
#define OVIDIO_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the well-formed sequence at s, n bytes available; 0 when
 * n is 0 or the bytes there are invalid or truncated. NUL is a one-byte
 * sequence like any other ASCII byte. *cp gets the code point on success
 * when cp is not NULL. */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* True when s[0..n) is well-formed UTF-8 and holds no NUL (it would cut a
 * C string short). */
bool utf8_valid(const char *s, size_t n);

/* The longest prefix of s (len bytes) of at most max bytes that does not
 * end inside a sequence: len when len <= max, otherwise max moved back
 * over continuation bytes. */
size_t utf8_cut(const char *s, size_t len, size_t max);

/* Copy s into dst (size n > 0) cut at a character boundary; "" for
 * NULL. */
void utf8_copy(char *dst, size_t n, const char *s);

/* Characters in s[0..n): the bytes that are not continuation bytes
 * (10xxxxxx). For well-formed text, the number of code points. */
size_t utf8_chars(const char *s, size_t n);

/* Byte offset in s[0..n) of the character that follows the first `chars`
 * characters (counted as utf8_chars() does), or n when s has no more. */
size_t utf8_offset(const char *s, size_t n, size_t chars);

#endif
