#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "err.h"

static bool clock_fixed;
static int64_t clock_fixed_at;

/* Exactly n digits at s into *out. */
static int
digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
clock_parse_iso8601(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
	const char *tz;

	if (s == NULL || strlen(s) < 20 || strlen(s) > 25)
		return OV_EINVAL;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &se))
		return OV_EINVAL;
	tz = s + 19;
	if (strcmp(tz, "Z") == 0) {
		sign = 0;
	} else if ((tz[0] == '+' || tz[0] == '-') && strlen(tz) == 6 &&
	    digits(tz + 1, 2, &oh) && tz[3] == ':' && digits(tz + 4, 2, &om)) {
		sign = tz[0] == '+' ? 1 : -1;
	} else {
		return OV_EINVAL;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) ||
	    h > 23 || mi > 59 || se > 60 || oh > 14 || om > 59)
		return OV_EINVAL;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
	    sign * (oh * 3600 + om * 60);
	return OV_OK;
}

int
clock_init(const struct config *cfg, char *err, size_t errlen)
{
	const char *v = config_get(cfg, "OVIDIO_NOW");

	clock_fixed = false;
	if (v == NULL)
		return OV_OK;
	if (clock_parse_iso8601(v, &clock_fixed_at) != OV_OK) {
		snprintf(err, errlen, "configuration key OVIDIO_NOW must look like "
		    "2026-12-01T10:00:00-03:00");
		return OV_ECONFIG;
	}
	clock_fixed = true;
	return OV_OK;
}

int64_t
clock_now(void)
{
	return clock_fixed ? clock_fixed_at : (int64_t)time(NULL);
}
