#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_program = "ovidio";
static enum log_level log_threshold = LOG_INFO;
/* Under a CGI, Apache stamps each error-log line itself. */
static int log_stamp = 1;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int
log_set_level_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			log_threshold = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_init(const char *program)
{
	if (program != NULL)
		log_program = program;
	log_stamp = getenv("GATEWAY_INTERFACE") == NULL;
	log_set_level_name(getenv("OVIDIO_LOG"));
}

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

enum log_level
log_get_level(void)
{
	return log_threshold;
}

/* Replace bytes that would break the one-line-per-event rule. */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

void
log_msg(enum log_level level, const char *msgid, const char *fmt, ...)
{
	char text[1024], id[160] = "";
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sanitize(text);
	if (msgid != NULL) {
		snprintf(id, sizeof(id), "msg=%s ", msgid);
		sanitize(id);
	}
	/* One write(2) per line keeps lines whole when processes share stderr. */
	char line[1400], stamp[32] = "";
	if (log_stamp) {
		time_t now = time(NULL);
		struct tm tm;
		if (gmtime_r(&now, &tm) != NULL)
			strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	int n = snprintf(line, sizeof(line), "%s%s[%ld] %s: %s%s\n", stamp,
	    log_program, (long)getpid(), level_names[level], id, text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
