/*
 * uuid.h - random (version 4) UUIDs as unguessable names.
 *
 * The text form is the canonical lower-case 8-4-4-4-12 hex, 36 characters
 * plus the NUL. No allocation: callers pass the buffer.
 */
#ifndef OVIDIO_UUID_H
#define OVIDIO_UUID_H

#include <stdbool.h>

#define UUID_LEN 36

/* 122 random bits from the kernel (getrandom(2)) into out, e.g.
 * "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f". OV_EIO when the kernel gives
 * no randomness (out is then an empty string). */
int uuid_v4(char out[UUID_LEN + 1]);

/* true only for exactly that shape: lower-case hex, version 4 and the
 * RFC 4122 variant (8, 9, a or b), nothing before or after. Reads at
 * most UUID_LEN + 1 bytes of s; s may be NULL. */
bool uuid_v4_valid(const char *s);

#endif
