#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

struct config_key {
	const char *name;
	const char *def;
	int secret;
};

/* DESIGN.md section 3, plus the OVIDIO_* operational keys. */
static const struct config_key keys[] = {
	{ "WHATSAPP_VERIFY_TOKEN", NULL, 1 },
	{ "WHATSAPP_APP_SECRET", NULL, 1 },
	{ "WHATSAPP_TOKEN", NULL, 1 },
	{ "PHONE_NUMBER_ID", NULL, 0 },
	{ "WHATSAPP_API_URL", "https://graph.facebook.com/v21.0", 0 },
	{ "OPENAI_API_KEY", NULL, 1 },
	{ "OPENAI_BASE_URL", "https://api.openai.com/v1", 0 },
	{ "OPENAI_MODEL", "gpt-4o-mini", 0 },
	{ "CIANBOX_URL", "https://cianbox.org", 0 },
	{ "CIANBOX_ACCOUNT", NULL, 0 },
	{ "CIANBOX_USER", NULL, 0 },
	{ "CIANBOX_PASS", NULL, 1 },
	{ "CIANBOX_APP_NAME", "Ovidio Bot", 0 },
	{ "CIANBOX_APP_CODE", "ovidio-bot", 0 },
	/* Cianbox client (lib/cianbox.h): per-call limits and the lock. */
	{ "CIANBOX_CONNECT_TIMEOUT_MS", "5000", 0 },
	{ "CIANBOX_TIMEOUT_MS", "20000", 0 },
	{ "CIANBOX_ATTEMPTS", "3", 0 },     /* tries on 5xx and time-outs */
	{ "CIANBOX_BACKOFF_MS", "500", 0 }, /* first pause; doubles */
	{ "CIANBOX_LOCK_WAIT_MS", "10000", 0 }, /* wait for another renewal */
	{ "CIANBOX_PRICE_LIST", "1", 0 },   /* id_lista_precio quoted */
	{ "CIANBOX_SYNC_SOURCE", "auto", 0 }, /* catalog-sync: auto, api, panel */
	{ "MONGODB_URI", NULL, 1 },
	{ "MONGODB_DB", "ovidio_db", 0 },
	{ "OVIDIO_DATA_DIR", "/var/lib/ovidio", 0 },
	/* Unset: $OVIDIO_DATA_DIR/presupuestos (config_load). Never /tmp:
	 * Apache's PrivateTmp would hide cron's files from the CGI. */
	{ "PRESUPUESTOS_DIR", "/var/lib/ovidio/presupuestos", 0 },
	{ "PUBLIC_BASE_URL", NULL, 0 },
	{ "QUOTE_TTL_DAYS", "15", 0 },
	{ "BUSINESS_NAME", "GRUPO SER", 0 },
	{ "BUSINESS_FOOTER", "GRUPO SER - Seguridad electrónica - Rosario, Santa Fe", 0 },
	{ "BUSINESS_LOGO", NULL, 0 },
	{ "BUSINESS_INFO", NULL, 0 },      /* lib/business: hours, address... */
	{ "VENDEDOR_EMAIL", NULL, 0 },
	{ "EMAIL_TO_COMPRAS", NULL, 0 },
	{ "SMTP_URL", NULL, 0 },
	{ "EMAIL_USER", NULL, 0 },
	{ "EMAIL_PASS", NULL, 1 },
	{ "TZ", "America/Argentina/Cordoba", 0 },
	/* Operational. */
	{ "OVIDIO_WORKERS", "4", 0 },
	{ "OVIDIO_WORKER", NULL, 0 },     /* path of jobs/worker for the CGI */
	{ "INBOX_FULL", NULL, 0 },        /* path of libexec/inbox-full */
	{ "OVIDIO_SPOOL_LEASE", "300", 0 },/* a stuck (live) worker's files */
	{ "OVIDIO_POISON_ATTEMPTS", "5", 0 },/* same failure N times: failed/ */
	{ "OVIDIO_LOG", "info", 0 },
	{ "OVIDIO_NOW", NULL, 0 },
	/* The conversation (lib/bot, lib/outbox). */
	{ "HANDOFF_HOURS", "4", 0 },       /* quiet after "hablar con alguien" */
	{ "LLM_BUDGET_MS", "20000", 0 },   /* the model's time per turn */
	{ "OUTBOX_RETRY_S", "10", 0 },     /* first wait before a resend */
	{ "OUTBOX_MAX_ATTEMPTS", "30", 0 },/* then (or after 24 h) give up */
	/* Media from customers (lib/media, lib/transcribe, lib/enrich). */
	{ "TRANSCRIBE_MODEL", "gpt-4o-mini-transcribe", 0 },
	{ "TRANSCRIBE_BASE_URL", NULL, 0 },  /* default OPENAI_BASE_URL */
	{ "TRANSCRIBE_API_KEY", NULL, 1 },   /* default OPENAI_API_KEY */
	{ "TRANSCRIBE_MAX_SECONDS", "120", 0 },
	{ "VISION_MODEL", NULL, 0 },         /* unset: photos go to a person */
	{ "MEDIA_MAX_BYTES", "16777216", 0 },/* download cap (16 MB) */
	{ "MEDIA_TIMEOUT_MS", "30000", 0 },  /* per download or model call */
	{ "MEDIA_ATTEMPTS", "2", 0 },        /* tries on 429, 5xx, time-outs */
	{ "MEDIA_DOC_MAX_BYTES", "26214400", 0 },/* documents kept (25 MB) */
	/* The distributor's back end (lib/isr, jobs/isr-sync). */
	{ "ISR_API_URL", NULL, 0 },        /* unset: quotes are not posted */
	{ "ISR_API_KEY", NULL, 1 },        /* sent as a Bearer token if set */
	{ "ISR_VENDEDOR", "Ovidio (WhatsApp)", 0 },
	{ "ISR_ORIGEN", "whatsapp", 0 },
	{ "ISR_RETRY_S", "60", 0 },        /* first wait after a failed post */
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct config_entry {
	char *key;
	char *value;
};

struct config {
	struct config_entry *file;
	size_t nfile;
};

int
config_is_secret(const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, key) == 0)
			return keys[i].secret;
	/* Unknown keys that look secret are treated as secret. */
	return strstr(key, "PASS") != NULL || strstr(key, "SECRET") != NULL ||
	    strstr(key, "TOKEN") != NULL || strstr(key, "KEY") != NULL;
}

static int
valid_key(const char *k)
{
	if (*k == '\0' || strlen(k) > 64)
		return 0;
	for (; *k != '\0'; k++)
		if (!(isupper((unsigned char)*k) || isdigit((unsigned char)*k) ||
		    *k == '_'))
			return 0;
	return 1;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int
add_entry(struct config *cfg, const char *key, const char *value)
{
	struct config_entry *e;

	/* A later line for the same key wins, as in a shell .env file. */
	for (size_t i = 0; i < cfg->nfile; i++) {
		if (strcmp(cfg->file[i].key, key) == 0) {
			char *v = strdup(value);
			if (v == NULL)
				return OV_ENOMEM;
			free(cfg->file[i].value);
			cfg->file[i].value = v;
			return OV_OK;
		}
	}
	e = realloc(cfg->file, (cfg->nfile + 1) * sizeof(*e));
	if (e == NULL)
		return OV_ENOMEM;
	cfg->file = e;
	e = &cfg->file[cfg->nfile];
	e->key = strdup(key);
	e->value = strdup(value);
	if (e->key == NULL || e->value == NULL) {
		free(e->key);
		free(e->value);
		return OV_ENOMEM;
	}
	cfg->nfile++;
	return OV_OK;
}

static int
parse_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char line[CONFIG_VALUE_MAX + 128];
	int lineno = 0, rc = OV_OK;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "cannot read OVIDIO_CONFIG file %s: %s",
		    path, strerror(errno));
		return OV_EIO;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p, *eq, *key, *val;
		size_t n;

		lineno++;
		n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = OV_ECONFIG;
			break;
		}
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			p = trim(p + 7);
		eq = strchr(p, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%d: expected KEY=VALUE", path,
			    lineno);
			rc = OV_ECONFIG;
			break;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		if (!valid_key(key)) {
			snprintf(err, errlen, "%s:%d: invalid key name", path,
			    lineno);
			rc = OV_ECONFIG;
			break;
		}
		n = strlen(val);
		if (n >= 2 && (val[0] == '"' || val[0] == '\'') &&
		    val[n - 1] == val[0]) {
			val[n - 1] = '\0';
			val++;
		}
		if ((rc = add_entry(cfg, key, val)) != OV_OK) {
			snprintf(err, errlen, "out of memory reading %s", path);
			break;
		}
	}
	if (rc == OV_OK && ferror(f)) {
		snprintf(err, errlen, "cannot read %s", path);
		rc = OV_EIO;
	}
	fclose(f);
	return rc;
}

/* PRESUPUESTOS_DIR unset: under the data directory, which Apache's CGIs
 * and cron's jobs share (DESIGN.md section 3). */
static int
default_quote_dir(struct config *cfg)
{
	const char *data, *set = getenv("PRESUPUESTOS_DIR");
	char *dir;
	size_t n;
	int rc;

	if (set != NULL && *set != '\0')
		return OV_OK;
	for (size_t i = 0; i < cfg->nfile; i++)
		if (strcmp(cfg->file[i].key, "PRESUPUESTOS_DIR") == 0 &&
		    cfg->file[i].value[0] != '\0')
			return OV_OK;
	data = config_get(cfg, "OVIDIO_DATA_DIR");
	n = strlen(data) + sizeof("/presupuestos");
	if (n > CONFIG_VALUE_MAX)
		return OV_OK;   /* config_get() would not return it anyway */
	if ((dir = malloc(n)) == NULL)
		return OV_ENOMEM;
	snprintf(dir, n, "%s/presupuestos", data);
	rc = add_entry(cfg, "PRESUPUESTOS_DIR", dir);
	free(dir);
	return rc;
}

/*
 * Without OVIDIO_CONFIG, the file "ovidio.env" at the installation's root
 * (the parent of the folder holding the running program: cgi-bin/, jobs/,
 * or the bundle's lib/ where its loader runs) is read when it exists. A
 * host that runs CGIs through suEXEC passes them none of .htaccess's
 * SetEnv lines; this is how they still find their keys.
 */
static bool
root_config(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	for (int up = 0; up < 2; up++) {
		if ((slash = strrchr(exe, '/')) == NULL)
			return false;
		*slash = '\0';
	}
	if ((size_t)snprintf(buf, len, "%s/ovidio.env", exe) >= len)
		return false;
	return access(buf, F_OK) == 0;
}

int
config_load(struct config **out, char *err, size_t errlen)
{
	char fallback[PATH_MAX];
	struct config *cfg;
	const char *path;
	int rc;

	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		return OV_ENOMEM;
	}
	path = getenv("OVIDIO_CONFIG");
	if ((path == NULL || *path == '\0') &&
	    root_config(fallback, sizeof(fallback)))
		path = fallback;
	if (path != NULL && *path != '\0') {
		if ((rc = parse_file(cfg, path, err, errlen)) != OV_OK) {
			config_free(cfg);
			return rc;
		}
	}
	if ((rc = default_quote_dir(cfg)) != OV_OK) {
		snprintf(err, errlen, "out of memory");
		config_free(cfg);
		return rc;
	}
	*out = cfg;
	return OV_OK;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nfile; i++) {
		free(cfg->file[i].key);
		free(cfg->file[i].value);
	}
	free(cfg->file);
	free(cfg);
}

const char *
config_get(const struct config *cfg, const char *key)
{
	const char *v = getenv(key);

	if (v != NULL && *v != '\0' && strlen(v) <= CONFIG_VALUE_MAX)
		return v;
	if (cfg != NULL)
		for (size_t i = 0; i < cfg->nfile; i++)
			if (strcmp(cfg->file[i].key, key) == 0 &&
			    cfg->file[i].value[0] != '\0')
				return cfg->file[i].value;
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, key) == 0)
			return keys[i].def;
	return NULL;
}

int
config_require(const struct config *cfg, const char *key, const char **value,
    char *err, size_t errlen)
{
	const char *v = config_get(cfg, key);

	if (v == NULL) {
		snprintf(err, errlen, "missing configuration key %s", key);
		return OV_ECONFIG;
	}
	*value = v;
	return OV_OK;
}

int
config_get_long(const struct config *cfg, const char *key, long def, long min,
    long max, long *out, char *err, size_t errlen)
{
	const char *v = config_get(cfg, key);
	char *end;
	long n;

	if (v == NULL) {
		*out = def;
		return OV_OK;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	/* strtol() skips leading blanks and takes '+': refuse both. */
	if (!(isdigit((unsigned char)v[0]) || (v[0] == '-' &&
	    isdigit((unsigned char)v[1]))) || errno != 0 || *end != '\0' ||
	    n < min || n > max) {
		snprintf(err, errlen,
		    "configuration key %s must be a whole number from %ld to %ld",
		    key, min, max);
		return OV_ECONFIG;
	}
	*out = n;
	return OV_OK;
}
