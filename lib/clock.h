/*
 * clock.h - the time Ovidio acts on.
 *
 * Every program calls clock_init() once after loading its configuration.
 * When OVIDIO_NOW is set (ISO 8601 with an offset or Z, for example
 * 2026-12-01T10:00:00-03:00), clock_now() returns that instant for the
 * whole run, so tests can set the clock; otherwise it is time(NULL).
 */
#ifndef OVIDIO_CLOCK_H
#define OVIDIO_CLOCK_H

#include <stddef.h>
#include <stdint.h>

struct config;

/* OV_ECONFIG (with err naming the key) when OVIDIO_NOW is malformed. */
int clock_init(const struct config *cfg, char *err, size_t errlen);

/* Unix seconds. */
int64_t clock_now(void);

/* Parse "YYYY-MM-DDTHH:MM:SS" followed by "Z" or "+HH:MM"/"-HH:MM"
 * (a space may stand for the T). OV_EINVAL when malformed or out of range. */
int clock_parse_iso8601(const char *s, int64_t *out);

#endif
