/*
 * config.h - configuration: environment first, then the file named by
 * OVIDIO_CONFIG (lines KEY=VALUE, '#' comments), then built-in defaults.
 * Without OVIDIO_CONFIG, ovidio.env at the installation's root (the parent
 * of the running program's folder) is the file, when there is one.
 *
 * Ownership: config_load() allocates a struct config that the caller frees
 * with config_free(). Strings returned by config_get() belong to the config
 * (or to the environment) and live until config_free().
 *
 * Secrets (tokens, passwords, app secret, API keys, URIs with credentials)
 * are marked in the key table; config_describe() never prints their values.
 */
#ifndef OVIDIO_CONFIG_H
#define OVIDIO_CONFIG_H

#include <stddef.h>

struct config;

/* Longest value accepted from the environment or the file. */
#define CONFIG_VALUE_MAX 4096

/* Load. On error returns OV_ECONFIG/OV_EIO/OV_ENOMEM and writes one line
 * naming the problem (file, line number) into err. A missing OVIDIO_CONFIG
 * variable is fine; a named file that cannot be read is an error. */
int config_load(struct config **out, char *err, size_t errlen);

void config_free(struct config *cfg);

/* Value, or the default, or NULL when unset and without default. An empty
 * value counts as unset. */
const char *config_get(const struct config *cfg, const char *key);

/* Like config_get() but a missing value is an error: returns OV_ECONFIG
 * and writes "missing configuration key KEY" into err. */
int config_require(const struct config *cfg, const char *key,
    const char **value, char *err, size_t errlen);

/* Parse an integer key within [min, max]; unset gives def. A value that is
 * not a whole number in range is OV_ECONFIG with a message naming the key. */
int config_get_long(const struct config *cfg, const char *key, long def,
    long min, long max, long *out, char *err, size_t errlen);

/* Nonzero when key is one whose value must never be shown. */
int config_is_secret(const char *key);

#endif
