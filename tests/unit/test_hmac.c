/* SHA-256 (FIPS 180-4 / NIST examples), HMAC-SHA256 (RFC 4231) and the
 * X-Hub-Signature-256 check. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "hmac.h"
#include "sha256.h"

static void
to_hex(const uint8_t *d, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static const char *
sha_hex(const void *data, size_t len)
{
	static char hex[2 * SHA256_DIGEST_LEN + 1];
	uint8_t d[SHA256_DIGEST_LEN];

	sha256(data, len, d);
	to_hex(d, sizeof(d), hex);
	return hex;
}

static const char *
hmac_hex(const void *key, size_t keylen, const void *msg, size_t len)
{
	static char hex[2 * SHA256_DIGEST_LEN + 1];
	uint8_t d[SHA256_DIGEST_LEN];

	hmac_sha256(key, keylen, msg, len, d);
	to_hex(d, sizeof(d), hex);
	return hex;
}

static void
test_sha256_nist(void)
{
	const char *m448 =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	const char *m896 =
	    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

	CHECK_STR(sha_hex("", 0),
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	CHECK_STR(sha_hex("abc", 3),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK_STR(sha_hex(m448, strlen(m448)),
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	CHECK_STR(sha_hex(m896, strlen(m896)),
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void
test_sha256_million_a(void)
{
	char *a = malloc(1000000);
	struct sha256_ctx ctx;
	uint8_t d[SHA256_DIGEST_LEN];
	char hex[2 * SHA256_DIGEST_LEN + 1];
	size_t off = 0, step = 1;

	CHECK(a != NULL);
	if (a == NULL)
		return;
	memset(a, 'a', 1000000);
	CHECK_STR(sha_hex(a, 1000000),
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* Same digest fed in uneven pieces: exercises the partial block. */
	sha256_init(&ctx);
	while (off < 1000000) {
		size_t n = step < 1000000 - off ? step : 1000000 - off;

		sha256_update(&ctx, a + off, n);
		off += n;
		step = step * 3 % 1031 + 1;
	}
	sha256_final(&ctx, d);
	to_hex(d, sizeof(d), hex);
	CHECK_STR(hex,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

static void
test_sha256_padding_edges(void)
{
	/* 55, 56 and 64 bytes sit on the padding boundaries. */
	char buf[64];

	memset(buf, 'a', sizeof(buf));
	CHECK_STR(sha_hex(buf, 55),
	    "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	CHECK_STR(sha_hex(buf, 56),
	    "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	CHECK_STR(sha_hex(buf, 64),
	    "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static void
test_hmac_rfc4231(void)
{
	uint8_t k[131], d[50];
	const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	const char *t7 = "This is a test using a larger than block-size key "
	    "and a larger than block-size data. The key needs to be hashed "
	    "before being used by the HMAC algorithm.";

	/* 1 */
	memset(k, 0x0b, 20);
	CHECK_STR(hmac_hex(k, 20, "Hi There", 8),
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* 2 */
	CHECK_STR(hmac_hex("Jefe", 4, "what do ya want for nothing?", 28),
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* 3 */
	memset(k, 0xaa, 20);
	memset(d, 0xdd, 50);
	CHECK_STR(hmac_hex(k, 20, d, 50),
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	/* 4 */
	for (int i = 0; i < 25; i++)
		k[i] = (uint8_t)(i + 1);
	memset(d, 0xcd, 50);
	CHECK_STR(hmac_hex(k, 25, d, 50),
	    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
	/* 6 */
	memset(k, 0xaa, 131);
	CHECK_STR(hmac_hex(k, 131, t6, strlen(t6)),
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	/* 7 */
	CHECK_STR(hmac_hex(k, 131, t7, strlen(t7)),
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void
test_hmac_equal(void)
{
	CHECK(hmac_equal("abcd", "abcd", 4));
	CHECK(!hmac_equal("abcd", "abce", 4));
	CHECK(!hmac_equal("xbcd", "abcd", 4));
	CHECK(hmac_equal("", "", 0));
	CHECK(hmac_equal_str("token", "token"));
	CHECK(!hmac_equal_str("token", "token2"));
	CHECK(!hmac_equal_str("", "token"));
	CHECK(!hmac_equal_str("Token", "token"));
}

/* A body signed with "s3cr3t"; the expected digest was made by OpenSSL
 * (openssl dgst -sha256 -hmac s3cr3t), an outside check of ours. */
static const char body[] = "{\"object\":\"whatsapp_business_account\"}";
static const char secret[] = "s3cr3t";

static void
test_header_verify(void)
{
	char hdr[80], hex[2 * SHA256_DIGEST_LEN + 1];
	uint8_t d[SHA256_DIGEST_LEN];
	size_t len = strlen(body);

	hmac_sha256(secret, strlen(secret), body, len, d);
	to_hex(d, sizeof(d), hex);
	CHECK_STR(hex,
	    "6e8ddfd7f9da1721f11cfdf13893594c5ffed70a767c5b5b193960dee6dec37e");

	snprintf(hdr, sizeof(hdr), "sha256=%s", hex);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_OK);
	/* Upper-case hex is the same digest. */
	for (char *p = hdr + 7; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_OK);
	/* Mixed case too. */
	hdr[8] = (char)tolower((unsigned char)hdr[8]);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_OK);

	/* Wrong secret, wrong body. */
	snprintf(hdr, sizeof(hdr), "sha256=%s", hex);
	CHECK_INT(hmac_verify_header(hdr, body, len, "s3cr3T"), OV_EAUTH);
	CHECK_INT(hmac_verify_header(hdr, body, len - 1, secret), OV_EAUTH);
}

static void
test_header_refused(void)
{
	char hdr[80], hex[2 * SHA256_DIGEST_LEN + 1];
	uint8_t d[SHA256_DIGEST_LEN];
	size_t len = strlen(body);

	hmac_sha256(secret, strlen(secret), body, len, d);
	to_hex(d, sizeof(d), hex);

	CHECK_INT(hmac_verify_header(NULL, body, len, secret), OV_EAUTH);
	CHECK_INT(hmac_verify_header("", body, len, secret), OV_EAUTH);
	CHECK_INT(hmac_verify_header("sha256=", body, len, secret), OV_EAUTH);
	/* Wrong prefix: sha1 (the old header), upper case, no '='. */
	snprintf(hdr, sizeof(hdr), "sha1=%s", hex);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_EAUTH);
	snprintf(hdr, sizeof(hdr), "SHA256=%s", hex);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_EAUTH);
	snprintf(hdr, sizeof(hdr), "sha256%s", hex);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_EAUTH);
	snprintf(hdr, sizeof(hdr), "%s", hex);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_EAUTH);
	/* Wrong length: one digit short, one extra, trailing space. */
	snprintf(hdr, sizeof(hdr), "sha256=%.63s", hex);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_EAUTH);
	snprintf(hdr, sizeof(hdr), "sha256=%s0", hex);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_EAUTH);
	snprintf(hdr, sizeof(hdr), "sha256=%s ", hex);
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_EAUTH);
	/* Non-hex digit of the right length. */
	snprintf(hdr, sizeof(hdr), "sha256=%s", hex);
	hdr[20] = 'g';
	CHECK_INT(hmac_verify_header(hdr, body, len, secret), OV_EAUTH);
	/* Every single flipped bit of the digest is refused. */
	int accepted = 0;
	for (size_t i = 0; i < SHA256_DIGEST_LEN; i++) {
		for (int b = 0; b < 8; b++) {
			uint8_t e[SHA256_DIGEST_LEN];

			memcpy(e, d, sizeof(e));
			e[i] ^= (uint8_t)(1u << b);
			to_hex(e, sizeof(e), hex);
			snprintf(hdr, sizeof(hdr), "sha256=%s", hex);
			if (hmac_verify_header(hdr, body, len, secret) == OV_OK)
				accepted++;
		}
	}
	CHECK_INT(accepted, 0);
}

int
main(void)
{
	RUN(test_sha256_nist);
	RUN(test_sha256_million_a);
	RUN(test_sha256_padding_edges);
	RUN(test_hmac_rfc4231);
	RUN(test_hmac_equal);
	RUN(test_header_verify);
	RUN(test_header_refused);
	return check_finish();
}
