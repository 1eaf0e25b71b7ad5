/*
 * log.h - one line per event on stderr.
 *
 * Format: "[<UTC time>] <program>[<pid>] <level>: [msg=<id>] <text>". Under
 * Apache (GATEWAY_INTERFACE set) the line lands in the error log, which
 * stamps it, so the time is left out. Control characters in the text are replaced
 * so one event is always one line. Secrets must never be passed here.
 */
#ifndef OVIDIO_LOG_H
#define OVIDIO_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* program is kept by pointer: pass a string literal. Reads OVIDIO_LOG
 * ("debug", "info", "warn", "error") for the threshold; default info. */
void log_init(const char *program);
void log_set_level(enum log_level level);
/* "error", "warn", "info", "debug" (any case); -1 and no change otherwise.
 * Programs call it with config_get(cfg, "OVIDIO_LOG") once the
 * configuration is loaded, so the OVIDIO_CONFIG file can set it too. */
int log_set_level_name(const char *name);
enum log_level log_get_level(void);

/* msgid may be NULL. */
void log_msg(enum log_level level, const char *msgid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
