/* The settable clock: OVIDIO_NOW parsing and clock_now(). */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "clock.h"
#include "config.h"
#include "err.h"

static void
parses_offsets_and_utc(void)
{
	int64_t t = 0;

	CHECK_INT(clock_parse_iso8601("1970-01-01T00:00:00Z", &t), OV_OK);
	CHECK_INT(t, 0);
	CHECK_INT(clock_parse_iso8601("2026-12-01T10:00:00-03:00", &t), OV_OK);
	CHECK_INT(t, 1796130000);   /* 13:00 UTC */
	CHECK_INT(clock_parse_iso8601("2026-12-01 13:00:00Z", &t), OV_OK);
	CHECK_INT(t, 1796130000);
	CHECK_INT(clock_parse_iso8601("2024-02-29T00:00:00+00:00", &t), OV_OK);
	CHECK_INT(t, 1709164800);
}

static void
refuses_malformed_dates(void)
{
	const char *bad[] = { "", "2026-12-01", "2026-12-01T10:00:00",
		"2026-13-01T10:00:00Z", "2026-02-30T10:00:00Z", "2025-02-29T00:00:00Z",
		"2026-12-01T24:00:00Z", "2026-12-01T10:00:00+3", "2026-12-01T10:00:00-03:00x",
		" 2026-12-01T10:00:00Z", "2026-12-01T1a:00:00Z" };
	int64_t t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(clock_parse_iso8601(bad[i], &t), OV_EINVAL);
}

static void
ovidio_now_fixes_the_clock(void)
{
	struct config *cfg = NULL;
	char err[256] = "";

	unsetenv("OVIDIO_CONFIG");
	setenv("OVIDIO_NOW", "2026-12-01T10:00:00-03:00", 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(clock_init(cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(clock_now(), 1796130000);
	setenv("OVIDIO_NOW", "mañana", 1);
	CHECK_INT(clock_init(cfg, err, sizeof(err)), OV_ECONFIG);
	CHECK(strstr(err, "OVIDIO_NOW") != NULL);
	unsetenv("OVIDIO_NOW");
	CHECK_INT(clock_init(cfg, err, sizeof(err)), OV_OK);
	CHECK(llabs(clock_now() - (int64_t)time(NULL)) <= 1);
	config_free(cfg);
}

int
main(void)
{
	RUN(parses_offsets_and_utc);
	RUN(refuses_malformed_dates);
	RUN(ovidio_now_fixes_the_clock);
	return check_finish();
}
