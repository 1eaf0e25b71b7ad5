/*
 * phone.h - Argentine phone numbers reduced to one comparable form.
 *
 * Customers are recognised by phone (DESIGN.md section 5): the sender's
 * WhatsApp number (wa_id, e.g. 5493415551234) and the phones written in
 * Cianbox ("0341 15-555-1234", "+54 9 341 555-1234", "341-5551234",
 * "11 4444-7777", "02262 15 412345", ...) are both reduced to the
 * 10-digit national number: area code + subscriber number, without the
 * country code 54, the mobile 9, the trunk 0 or the local mobile 15 that
 * follows the area code. Two numbers match only when both reduce and the
 * results are equal; anything that does not reduce to exactly 10 digits
 * with a known area code (a bare "1234", a local "4401234" without area
 * code, a foreign number) matches nobody.
 *
 * The area codes are data: the table in phone.c (Argentina's numbering
 * plan: 11, the 3-digit and the 4-digit codes).
 *
 * Pure functions, no allocation: nothing to free.
 */
#ifndef OVIDIO_PHONE_H
#define OVIDIO_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#define PHONE_NATIONAL_LEN 10  /* digits of a reduced number */
#define PHONE_INPUT_MAX 64     /* longest single number accepted */
#define PHONE_FIELD_MAX 256    /* longest phone field (several numbers) */

/*
 * Reduce one number as people write it to its 10 national digits in out
 * (NUL-terminated). Spaces, dashes, dots, parentheses and a leading "+"
 * or "00" are allowed; a label before the number ("Cel: ") is skipped and
 * text after it ("int. 23", "(oficina)") ends it. OV_EINVAL when it does
 * not reduce (out is then the empty string).
 */
int phone_to_national(const char *s, char out[PHONE_NATIONAL_LEN + 1]);

/* True when a and b reduce to the same national number. */
bool phone_match(const char *a, const char *b);

/*
 * A Cianbox phone field may hold several numbers ("0341 4211234 / 341
 * 155551234"; separators / , ; | and the words "y", "o"). Reduce each into
 * out[0..max-1]; *n is how many reduced (numbers that do not reduce are
 * left out). OV_EINVAL when the field is over PHONE_FIELD_MAX.
 */
int phone_field_numbers(const char *field,
    char out[][PHONE_NATIONAL_LEN + 1], size_t max, size_t *n);

/* True when any number in field reduces to national (10 digits). */
bool phone_field_matches(const char *field, const char *national);

/* True when the digits are a known Argentine area code (e.g. "341"). */
bool phone_area_code_known(const char *digits, size_t len);

#endif
