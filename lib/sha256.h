/*
 * sha256.h - SHA-256 (FIPS 180-4), written here so that cgi-bin/webhook
 * links no crypto library (DESIGN.md section 2: every shared library costs
 * process start-up time on each webhook call).
 *
 * Ownership: the context is the caller's (stack or embedded); nothing is
 * allocated. A context may be reused after sha256_init().
 */
#ifndef OVIDIO_SHA256_H
#define OVIDIO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_BLOCK_LEN 64

struct sha256_ctx {
	uint32_t h[8];
	uint64_t nbytes;                 /* total bytes hashed so far */
	uint8_t buf[SHA256_BLOCK_LEN];   /* pending partial block */
	size_t buflen;
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes the context. */
void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_DIGEST_LEN]);

/* One-shot digest of data. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

#endif
