#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "identity.h"

#define TEXT_MAX 65536   /* longest chat text scanned */
#define FIELD_MAX 1024   /* longest e-mail field scanned */

bool
identity_cuit_valid(const char *d)
{
	static const int weights[10] = { 5, 4, 3, 2, 7, 6, 5, 4, 3, 2 };
	static const char *const types[] = {
		"20", "23", "24", "25", "26", "27", "30", "33", "34", "50",
		"51", "55"
	};
	bool type_ok = false;
	int sum = 0, check;

	if (d == NULL || strnlen(d, IDENTITY_CUIT_LEN + 1) != IDENTITY_CUIT_LEN)
		return false;
	for (size_t i = 0; i < IDENTITY_CUIT_LEN; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (d[0] == types[i][0] && d[1] == types[i][1])
			type_ok = true;
	if (!type_ok)
		return false;
	for (int i = 0; i < 10; i++)
		sum += (d[i] - '0') * weights[i];
	check = 11 - sum % 11;
	if (check == 11)
		check = 0;
	/* 10 is never issued: AFIP changes the type prefix instead. */
	return check != 10 && check == d[10] - '0';
}

/* Digits of one written CUIT starting at s: digits with single '-', '.'
 * or ' ' between them. Returns how many bytes were read; *nd digits. */
static size_t
cuit_digits(const char *s, char d[IDENTITY_CUIT_LEN + 2], size_t *nd)
{
	size_t i = 0;

	*nd = 0;
	while (s[i] != '\0') {
		if (s[i] >= '0' && s[i] <= '9') {
			if (*nd <= IDENTITY_CUIT_LEN)
				d[*nd] = s[i];
			(*nd)++;
			i++;
		} else if ((s[i] == '-' || s[i] == '.' || s[i] == ' ') &&
		    i > 0 && s[i + 1] >= '0' && s[i + 1] <= '9') {
			i++;
		} else {
			break;
		}
	}
	if (*nd <= IDENTITY_CUIT_LEN + 1)
		d[*nd <= IDENTITY_CUIT_LEN ? *nd : IDENTITY_CUIT_LEN + 1] = '\0';
	return i;
}

int
identity_cuit_normalize(const char *s, char out[IDENTITY_CUIT_LEN + 1])
{
	char d[IDENTITY_CUIT_LEN + 2];
	size_t nd, used;

	out[0] = '\0';
	if (s == NULL || strnlen(s, 64) >= 64)
		return OV_EINVAL;
	while (*s == ' ' || *s == '\t')
		s++;
	used = cuit_digits(s, d, &nd);
	while (s[used] == ' ' || s[used] == '\t' || s[used] == '\n' ||
	    s[used] == '\r')
		used++;
	if (s[used] != '\0' || nd != IDENTITY_CUIT_LEN || !identity_cuit_valid(d))
		return OV_EINVAL;
	memcpy(out, d, IDENTITY_CUIT_LEN + 1);
	return OV_OK;
}

int
identity_cuit_find(const char *text, char out[IDENTITY_CUIT_LEN + 1])
{
	size_t len;

	out[0] = '\0';
	if (text == NULL)
		return OV_ENOTFOUND;
	len = strnlen(text, TEXT_MAX);
	for (size_t i = 0; i < len; i++) {
		char d[IDENTITY_CUIT_LEN + 2];
		size_t nd, used;

		if (!isdigit((unsigned char)text[i]) ||
		    (i > 0 && isdigit((unsigned char)text[i - 1])))
			continue;
		used = cuit_digits(text + i, d, &nd);
		if (nd == IDENTITY_CUIT_LEN && identity_cuit_valid(d)) {
			memcpy(out, d, IDENTITY_CUIT_LEN + 1);
			return OV_OK;
		}
		i += used > 0 ? used - 1 : 0;
	}
	return OV_ENOTFOUND;
}

static bool
local_char(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

/* Validate a lower-cased address in place. */
static bool
email_valid(const char *e)
{
	const char *at = strchr(e, '@'), *label, *p, *tld = NULL;
	size_t local_len;

	if (at == NULL || strchr(at + 1, '@') != NULL)
		return false;
	local_len = (size_t)(at - e);
	if (local_len == 0 || local_len > 64 || e[0] == '.' ||
	    at[-1] == '.' || strstr(e, "..") != NULL)
		return false;
	for (p = e; p < at; p++)
		if (!local_char((unsigned char)*p))
			return false;
	/* Domain: labels of [a-z0-9-], not starting or ending with '-', at
	 * least two, the last (TLD) letters only and 2+ long. */
	label = at + 1;
	if (*label == '\0')
		return false;
	for (;;) {
		size_t n = strcspn(label, ".");

		if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
			return false;
		for (size_t i = 0; i < n; i++)
			if (!(isalnum((unsigned char)label[i]) || label[i] == '-'))
				return false;
		if (label[n] == '\0') {
			tld = label;
			break;
		}
		label += n + 1;
	}
	if (tld == at + 1 || strlen(tld) < 2)
		return false;
	for (p = tld; *p != '\0'; p++)
		if (!isalpha((unsigned char)*p))
			return false;
	return true;
}

int
identity_email_normalize(const char *s, char *out, size_t outlen)
{
	const char *b, *e;
	size_t n;

	if (out == NULL || outlen == 0)
		return OV_EINVAL;
	out[0] = '\0';
	if (s == NULL || strnlen(s, 512) >= 512)
		return OV_EINVAL;
	b = s;
	e = s + strlen(s);
	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	if (e - b >= 7 && strncasecmp(b, "mailto:", 7) == 0)
		b += 7;
	if (e - b >= 2 && *b == '<' && e[-1] == '>') {
		b++;
		e--;
	}
	n = (size_t)(e - b);
	if (n == 0 || n > IDENTITY_EMAIL_MAX || n >= outlen)
		return OV_EINVAL;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)b[i]);
	out[n] = '\0';
	if (!email_valid(out)) {
		out[0] = '\0';
		return OV_EINVAL;
	}
	return OV_OK;
}

/* Characters that end an address inside running text. */
static bool
email_stop(unsigned char c)
{
	return c == '\0' || isspace(c) || c == ',' || c == ';' || c == '/' ||
	    c == '(' || c == ')' || c == '"' || c == '<' || c == '>' ||
	    c == '[' || c == ']' || c >= 0x80;
}

/* The token around position at (an '@') in text, trailing punctuation
 * dropped, normalised into out. */
static int
email_token(const char *text, size_t at, char *out, size_t outlen)
{
	char tok[IDENTITY_EMAIL_MAX + 2];
	size_t b = at, e = at, n;

	while (b > 0 && !email_stop((unsigned char)text[b - 1]))
		b--;
	while (!email_stop((unsigned char)text[e]))
		e++;
	while (e > at && strchr(".!?:", text[e - 1]) != NULL)
		e--;
	n = e - b;
	if (n == 0 || n > IDENTITY_EMAIL_MAX)
		return OV_EINVAL;
	memcpy(tok, text + b, n);
	tok[n] = '\0';
	return identity_email_normalize(tok, out, outlen);
}

int
identity_email_find(const char *text, char *out, size_t outlen)
{
	size_t len;

	if (out == NULL || outlen == 0)
		return OV_EINVAL;
	out[0] = '\0';
	if (text == NULL)
		return OV_ENOTFOUND;
	len = strnlen(text, TEXT_MAX);
	for (size_t i = 0; i < len; i++)
		if (text[i] == '@' && email_token(text, i, out, outlen) == OV_OK)
			return OV_OK;
	out[0] = '\0';
	return OV_ENOTFOUND;
}

bool
identity_email_field_matches(const char *field, const char *email)
{
	char norm[IDENTITY_EMAIL_MAX + 1];
	size_t len;

	if (field == NULL || email == NULL || email[0] == '\0')
		return false;
	len = strnlen(field, FIELD_MAX + 1);
	if (len > FIELD_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (field[i] == '@' &&
		    email_token(field, i, norm, sizeof(norm)) == OV_OK &&
		    strcmp(norm, email) == 0)
			return true;
	return false;
}
