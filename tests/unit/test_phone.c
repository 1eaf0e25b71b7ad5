/*
 * test_phone.c - phones, CUIT and e-mail as customers and Cianbox write
 * them: what reduces, what matches, and what must match nobody.
 */
#include <string.h>

#include "check.h"
#include "err.h"
#include "identity.h"
#include "phone.h"

/* Reduce s and compare with want ("" means: must not reduce). */
static int
reduces_to(const char *s, const char *want)
{
	char out[PHONE_NATIONAL_LEN + 1];
	int rc = phone_to_national(s, out);

	if (want[0] == '\0') {
		if (rc == OV_OK || out[0] != '\0') {
			fprintf(stderr, "  \"%s\" reduced to %s, expected none\n",
			    s, out);
			return 0;
		}
		return 1;
	}
	if (rc != OV_OK || strcmp(out, want) != 0) {
		fprintf(stderr, "  \"%s\" -> rc %d \"%s\", expected %s\n", s,
		    rc, out, want);
		return 0;
	}
	return 1;
}

static void
test_issue_formats(void)
{
	/* Every format named in the issue, and the fixtures' clients. */
	CHECK(reduces_to("0341 15-555-1234", "3415551234"));
	CHECK(reduces_to("+54 9 341 555-1234", "3415551234"));
	CHECK(reduces_to("341-5551234", "3415551234"));
	CHECK(reduces_to("11 4444-7777", "1144447777"));
	CHECK(reduces_to("02262 15 412345", "2262412345"));
	CHECK(reduces_to("5493415551234", "3415551234"));
	CHECK(reduces_to("+54 9 11 4444-7777", "1144447777"));
	CHECK(reduces_to("0341 4211234", "3414211234"));
	CHECK(reduces_to("11 15 4444 7777", "1144447777"));
	CHECK(reduces_to("341 15 5551234", "3415551234"));
}

static void
test_more_formats(void)
{
	/* Ones found in real address books. */
	CHECK(reduces_to("(0341) 155-551234", "3415551234"));
	CHECK(reduces_to("(341) 155551234", "3415551234"));
	CHECK(reduces_to("+543414211234", "3414211234"));     /* landline */
	CHECK(reduces_to("+54 341 4211234", "3414211234"));
	CHECK(reduces_to("543414211234", "3414211234"));
	CHECK(reduces_to("0054 9 341 555 1234", "3415551234"));
	CHECK(reduces_to("+54 9 341 15 555-1234", "3415551234"));
	CHECK(reduces_to("+54 (0341) 15 5551234", "3415551234"));
	CHECK(reduces_to("54 9 341 5551234", "3415551234"));
	CHECK(reduces_to("549341155551234", "3415551234"));
	CHECK(reduces_to("9 341 5551234", "3415551234"));
	CHECK(reduces_to("011 15 4444-7777", "1144447777"));
	CHECK(reduces_to("011-4444-7777", "1144447777"));
	CHECK(reduces_to("341.555.1234", "3415551234"));
	CHECK(reduces_to("Cel: 0341 15 5551234", "3415551234"));
	CHECK(reduces_to("341 555 1234 int. 23", "3415551234"));
	CHECK(reduces_to("0341 4211234 (oficina)", "3414211234"));
	CHECK(reduces_to("+54 9 2262 41-2345", "2262412345"));
	CHECK(reduces_to("03435 15 412345", "3435412345"));     /* 4-digit, prefix of 343 */
	CHECK(reduces_to("0343 15 5123456", "3435123456"));
	CHECK(reduces_to("03489 15 654321", "3489654321"));     /* Campana */
	CHECK(reduces_to("0351 153 123456", "3513123456"));
	/* UTF-8 no-break space and en dash as separators. */
	CHECK(reduces_to("0341\xc2\xa0" "15\xe2\x80\x93" "555\xe2\x80\x93" "1234",
	    "3415551234"));
}

static void
test_what_reduces_to_nothing(void)
{
	CHECK(reduces_to("1234", ""));                /* the fixture's client 203 */
	CHECK(reduces_to("4401234", ""));             /* local, no area code */
	CHECK(reduces_to("15-555-1234", ""));         /* mobile without area */
	CHECK(reduces_to("15 4444 7777", ""));        /* "15" is no area code */
	CHECK(reduces_to("0800 555 1234", ""));       /* toll-free */
	CHECK(reduces_to("+1 555 123 4567", ""));     /* another country */
	CHECK(reduces_to("+598 99 123 456", ""));
	CHECK(reduces_to("341 555 12345", ""));       /* one digit too many */
	CHECK(reduces_to("341 555 123", ""));         /* one too few */
	CHECK(reduces_to("999 555 1234", ""));        /* unknown area code */
	CHECK(reduces_to("341 0551234", ""));         /* subscriber starts with 0 */
	CHECK(reduces_to("", ""));
	CHECK(reduces_to("sin teléfono", ""));
	CHECK(reduces_to("341#5551234", ""));
	CHECK(reduces_to("1234567890123456789012345", ""));
	/* Over the length bound. */
	char big[PHONE_INPUT_MAX + 10];
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + sizeof(big) - 11, "3415551234", 10);
	CHECK(reduces_to(big, ""));
}

static void
test_match(void)
{
	CHECK(phone_match("5493415551234", "0341 15-555-1234"));
	CHECK(phone_match("5491144447777", "+54 9 11 4444-7777"));
	CHECK(!phone_match("5493415551234", "0341 15-555-1235"));
	/* A stored "1234" matches nobody, not even itself. */
	CHECK(!phone_match("1234", "1234"));
	CHECK(!phone_match("5493415551234", "1234"));
	/* Same digits, different area: no match. */
	CHECK(!phone_match("5493415551234", "0351 15-555-1234"));
}

static void
test_field(void)
{
	char nums[4][PHONE_NATIONAL_LEN + 1];
	size_t n;

	CHECK_INT(phone_field_numbers("0341 4211234 / 341 155551234", nums, 4,
	    &n), OV_OK);
	CHECK_INT(n, 2);
	CHECK_STR(nums[0], "3414211234");
	CHECK_STR(nums[1], "3415551234");
	CHECK(phone_field_matches("0341 4211234 y 0341 15-555-1234",
	    "3415551234"));
	CHECK(phone_field_matches("4401234; +54 9 341 555-1234", "3415551234"));
	CHECK(!phone_field_matches("4401234", "3414401234"));
	CHECK(!phone_field_matches("1234", "1234"));
	CHECK(!phone_field_matches("0341 15-555-1234", "341555123x"));
	CHECK(!phone_field_matches(NULL, "3415551234"));
}

static void
test_cuit(void)
{
	char out[IDENTITY_CUIT_LEN + 1];

	/* The fixtures' CUITs. */
	CHECK(identity_cuit_valid("20284567898"));
	CHECK(identity_cuit_valid("30712345671"));
	CHECK(identity_cuit_valid("30700000008"));
	/* Wrong check digit. */
	CHECK(!identity_cuit_valid("20284567890"));
	CHECK(!identity_cuit_valid("30712345672"));
	/* Unknown type prefix, wrong length, not digits. */
	CHECK(!identity_cuit_valid("99284567898"));
	CHECK(!identity_cuit_valid("2028456789"));
	CHECK(!identity_cuit_valid("2028456789a"));
	CHECK_INT(identity_cuit_normalize("20-28456789-8", out), OV_OK);
	CHECK_STR(out, "20284567898");
	CHECK_INT(identity_cuit_normalize(" 30 71234567 1 ", out), OV_OK);
	CHECK_STR(out, "30712345671");
	CHECK_INT(identity_cuit_normalize("20-28456789-0", out), OV_EINVAL);
	CHECK_STR(out, "");
	CHECK_INT(identity_cuit_normalize("20--28456789-8", out), OV_EINVAL);
	CHECK_INT(identity_cuit_normalize("CUIT 20284567898", out), OV_EINVAL);
	CHECK_INT(identity_cuit_find("hola, mi cuit es 20-28456789-8 gracias",
	    out), OV_OK);
	CHECK_STR(out, "20284567898");
	/* A wrong check digit is not a CUIT; the valid one after it is. */
	CHECK_INT(identity_cuit_find("20284567890 no, perdón: 30712345671",
	    out), OV_OK);
	CHECK_STR(out, "30712345671");
	CHECK_INT(identity_cuit_find("quiero 3 cámaras y 1 DVR", out),
	    OV_ENOTFOUND);
	CHECK_INT(identity_cuit_find("202845678981", out), OV_ENOTFOUND);
}

static void
test_email(void)
{
	char out[IDENTITY_EMAIL_MAX + 1];

	CHECK_INT(identity_email_normalize("  Martin@GomezSeguridad.com.AR ",
	    out, sizeof(out)), OV_OK);
	CHECK_STR(out, "martin@gomezseguridad.com.ar");
	CHECK_INT(identity_email_normalize("mailto:compras@litoralsrl.com.ar",
	    out, sizeof(out)), OV_OK);
	CHECK_STR(out, "compras@litoralsrl.com.ar");
	CHECK_INT(identity_email_normalize("<lucia.fernandez@mail.com>", out,
	    sizeof(out)), OV_OK);
	CHECK_STR(out, "lucia.fernandez@mail.com");
	CHECK_INT(identity_email_normalize("no-es-un-mail", out, sizeof(out)),
	    OV_EINVAL);
	CHECK_INT(identity_email_normalize("a@b", out, sizeof(out)), OV_EINVAL);
	CHECK_INT(identity_email_normalize("a@@b.com", out, sizeof(out)),
	    OV_EINVAL);
	CHECK_INT(identity_email_normalize("a..b@x.com", out, sizeof(out)),
	    OV_EINVAL);
	CHECK_INT(identity_email_normalize("a@-x.com", out, sizeof(out)),
	    OV_EINVAL);
	CHECK_INT(identity_email_normalize("a b@x.com", out, sizeof(out)),
	    OV_EINVAL);
	CHECK_INT(identity_email_normalize("a@x.c0m", out, sizeof(out)),
	    OV_EINVAL);
	CHECK_INT(identity_email_find("Mi mail es Martin@GomezSeguridad.com.ar.",
	    out, sizeof(out)), OV_OK);
	CHECK_STR(out, "martin@gomezseguridad.com.ar");
	CHECK_INT(identity_email_find("escribime a @martin", out, sizeof(out)),
	    OV_ENOTFOUND);
	CHECK(identity_email_field_matches(
	    "ventas@litoralsrl.com.ar; Compras@LitoralSRL.com.ar",
	    "compras@litoralsrl.com.ar"));
	CHECK(!identity_email_field_matches("ventas@litoralsrl.com.ar",
	    "compras@litoralsrl.com.ar"));
}

int
main(void)
{
	RUN(test_issue_formats);
	RUN(test_more_formats);
	RUN(test_what_reduces_to_nothing);
	RUN(test_match);
	RUN(test_field);
	RUN(test_cuit);
	RUN(test_email);
	return check_finish();
}
