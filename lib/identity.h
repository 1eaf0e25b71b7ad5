/*
 * identity.h - who a customer is: CUIT and e-mail in canonical form.
 *
 * A CUIT (Argentine tax id, 11 digits: type, number, check digit) or an
 * e-mail typed in chat identifies a customer for prices, never for account
 * data (DESIGN.md section 5); phones are in phone.h. Both forms here are
 * what Cianbox stores, so equal canonical strings mean the same customer.
 * (The lookup itself - linked customer, synced clients, then the API -
 * builds on these.)
 *
 * Pure functions writing into caller buffers: nothing to free.
 */
#ifndef OVIDIO_IDENTITY_H
#define OVIDIO_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#define IDENTITY_CUIT_LEN 11
#define IDENTITY_EMAIL_MAX 254   /* RFC 5321 path limit */

/* True for 11 digits with a known type prefix (20, 23, 24, 25, 26, 27,
 * 30, 33, 34, 50, 51, 55) and a correct mod-11 check digit. */
bool identity_cuit_valid(const char *digits);

/* "20-28456789-8", "20 28456789 8", "20284567898" -> the 11 digits in
 * out. OV_EINVAL when it is not exactly one valid CUIT. */
int identity_cuit_normalize(const char *s, char out[IDENTITY_CUIT_LEN + 1]);

/* The first valid CUIT written anywhere in text (chat), OV_ENOTFOUND if
 * none. Eleven digits that fail the check digit are not a CUIT. */
int identity_cuit_find(const char *text, char out[IDENTITY_CUIT_LEN + 1]);

/* Trim, drop "mailto:" and <...>, lower-case, then validate (one '@', a
 * sensible local part, a dotted domain with a letters-only TLD). outlen
 * should be IDENTITY_EMAIL_MAX + 1. OV_EINVAL when not an address. */
int identity_email_normalize(const char *s, char *out, size_t outlen);

/* The first address in text (chat), normalised; OV_ENOTFOUND if none. */
int identity_email_find(const char *text, char *out, size_t outlen);

/* True when any address in a Cianbox e-mail field (several may be
 * separated by , ; / or spaces) normalises to email (already normal). */
bool identity_email_field_matches(const char *field, const char *email);

#endif
