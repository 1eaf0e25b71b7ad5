#include <string.h>

#include "err.h"
#include "hmac.h"

void
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
    uint8_t out[SHA256_DIGEST_LEN])
{
	uint8_t k[SHA256_BLOCK_LEN], pad[SHA256_BLOCK_LEN];
	uint8_t inner[SHA256_DIGEST_LEN];
	struct sha256_ctx ctx;
	size_t i;

	/* RFC 2104 section 2: keys longer than the block are hashed first,
	 * shorter ones are padded with zeros. */
	memset(k, 0, sizeof(k));
	if (keylen > SHA256_BLOCK_LEN)
		sha256(key, keylen, k);
	else if (keylen > 0)
		memcpy(k, key, keylen);

	for (i = 0; i < SHA256_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&ctx);
	sha256_update(&ctx, pad, sizeof(pad));
	sha256_update(&ctx, msg, msglen);
	sha256_final(&ctx, inner);

	for (i = 0; i < SHA256_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&ctx);
	sha256_update(&ctx, pad, sizeof(pad));
	sha256_update(&ctx, inner, sizeof(inner));
	sha256_final(&ctx, out);

	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(inner, sizeof(inner));
}

int
hmac_equal(const void *a, const void *b, size_t n)
{
	/* volatile keeps the compiler from turning the loop into an early
	 * exit once diff is nonzero. */
	const volatile uint8_t *pa = a, *pb = b;
	volatile uint8_t diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= pa[i] ^ pb[i];
	return diff == 0;
}

int
hmac_equal_str(const char *a, const char *b)
{
	uint8_t da[SHA256_DIGEST_LEN], db[SHA256_DIGEST_LEN];

	sha256(a, strlen(a), da);
	sha256(b, strlen(b), db);
	return hmac_equal(da, db, sizeof(da));
}

/* Value of one hex digit, or -1. Branch-free enough: timing here depends
 * only on the attacker's own header, never on the secret digest. */
static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hmac_verify_header(const char *header, const void *body, size_t len,
    const char *secret)
{
	static const char prefix[] = "sha256=";
	const size_t plen = sizeof(prefix) - 1;
	uint8_t want[SHA256_DIGEST_LEN], got[SHA256_DIGEST_LEN];
	const char *hex;
	int rc = OV_EAUTH;
	size_t i;

	if (header == NULL || secret == NULL)
		return OV_EAUTH;
	/* The prefix is fixed and public: an ordinary compare is fine. */
	if (strncmp(header, prefix, plen) != 0)
		return OV_EAUTH;
	hex = header + plen;
	if (strlen(hex) != 2 * SHA256_DIGEST_LEN)
		return OV_EAUTH;
	for (i = 0; i < SHA256_DIGEST_LEN; i++) {
		int hi = hexval((unsigned char)hex[2 * i]);
		int lo = hexval((unsigned char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			goto out;
		got[i] = (uint8_t)(hi << 4 | lo);
	}
	hmac_sha256(secret, strlen(secret), body, len, want);
	if (hmac_equal(want, got, sizeof(want)))
		rc = OV_OK;
out:
	explicit_bzero(want, sizeof(want));
	return rc;
}
