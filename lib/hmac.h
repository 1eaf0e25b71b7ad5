/*
 * hmac.h - HMAC-SHA256 (RFC 2104) and constant-time comparison, for Meta's
 * X-Hub-Signature-256 header and the verify-token handshake.
 *
 * Ownership: nothing is allocated; all buffers are the caller's. Keys are
 * wiped from the stack before returning.
 */
#ifndef OVIDIO_HMAC_H
#define OVIDIO_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

/* HMAC-SHA256(key, msg) into out. Any key length (long keys are hashed). */
void hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t msglen, uint8_t out[SHA256_DIGEST_LEN]);

/* 1 when the n bytes at a and b are equal, else 0. The time taken depends
 * on n only, never on where the first difference is. */
int hmac_equal(const void *a, const void *b, size_t n);

/* 1 when strings a and b are equal. Compares their SHA-256 digests in
 * constant time, so neither contents nor length leak through timing of
 * the comparison itself (used for the verify token). */
int hmac_equal_str(const char *a, const char *b);

/* Check a header value "sha256=<64 hex digits>" (hex in either case)
 * against HMAC-SHA256(secret, body). OV_OK when it matches; OV_EAUTH when
 * header is NULL, empty, lacks the prefix, has the wrong length or a
 * non-hex digit, or does not match. The digest comparison is constant
 * time. */
int hmac_verify_header(const char *header, const void *body, size_t len,
    const char *secret);

#endif
