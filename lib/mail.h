/*
 * mail.h - e-mail notices (to the salesperson, to purchasing) through
 * libcurl's SMTP client.
 *
 * Configuration: SMTP_URL (smtp://host:port or smtps://host:port; with
 * smtp:// STARTTLS is used when the server offers it), EMAIL_USER and
 * EMAIL_PASS (login; the user is also the sender address when it holds
 * an '@', otherwise MAIL_FROM_DEFAULT). Without SMTP_URL mail is off:
 * mail_open() succeeds, mail_configured() is 0, and mail_send() returns
 * OV_ECONFIG after logging "e-mail is off" once per process.
 *
 * Every transfer has a connect and a total timeout, only the smtp/smtps
 * protocols, TLS verification on. The password is never logged; errors
 * name the server host only.
 *
 * Messages are text/html, UTF-8, 8bit; the subject is RFC 2047 encoded,
 * after every control character in it (CR and LF included: a customer's
 * name may carry them) became a space, so nothing a customer wrote can
 * reach a header line of its own.
 *
 * The mail queue: a notice that cannot be sent now (server down, slow,
 * refusing for the moment) is kept as one file in $OVIDIO_DATA_DIR/mailq
 * (written to a temporary name, fsynced, renamed: never half a file) by
 * mail_send_or_queue(), and mail_queue_drain() (jobs/worker, every run)
 * sends it later, MAIL_QUEUE_ATTEMPTS times at most with growing pauses,
 * then moves it to mailq/failed with one error line in the log.
 * Callers build the body with mail_html_escape() for every piece of text
 * that came from a customer or a catalog, so nothing they wrote becomes
 * markup.
 *
 * Ownership: mail_open() allocates a struct mail freed by mail_close().
 * Strings passed in are borrowed for the call. mail_html_escape() returns
 * a malloc'd string (caller frees) or NULL when out of memory.
 */
#ifndef OVIDIO_MAIL_H
#define OVIDIO_MAIL_H

#include <stddef.h>

struct config;
struct mail;

#define MAIL_FROM_DEFAULT "ovidio@localhost"
#define MAIL_CONNECT_TIMEOUT_MS 5000
#define MAIL_TIMEOUT_MS 15000
#define MAIL_SUBJECT_MAX 400     /* bytes (about 100 characters at worst) */
#define MAIL_BODY_MAX (256 * 1024)
#define MAIL_ADDR_MAX 254

/* OV_ECONFIG with err naming the key for a malformed SMTP_URL (not
 * smtp:// or smtps://, control characters). */
int mail_open(const struct config *cfg, struct mail **out, char *err,
    size_t errlen);
void mail_close(struct mail *m);
int mail_configured(const struct mail *m);

/* Send one message to `to` (one address). OV_ECONFIG when mail is off,
 * OV_EINVAL for a bad address or subject/body over their bounds,
 * OV_EREMOTE when the server refused, OV_EIO when it could not be
 * reached, OV_ETIMEOUT when it was too slow. */
int mail_send(struct mail *m, const char *to, const char *subject,
    const char *html_body);

/* Like mail_send(), but a notice the server cannot take now is queued
 * durably instead of lost. OV_OK when it was sent (*queued = 0) or is
 * safely queued (*queued = 1; queued may be NULL): the caller may then
 * promise that the person will hear of it. Anything else (mail off:
 * OV_ECONFIG; bad address or sizes: OV_EINVAL; the queue cannot be
 * written: OV_EIO) means nobody will be told, and the caller must not say
 * otherwise. */
int mail_send_or_queue(struct mail *m, const char *to, const char *subject,
    const char *html_body, int *queued);

/* Only keep the notice in the queue (durable at return), due at once:
 * the next mail_queue_drain() sends it. For a notice that must not be
 * lost by a crash right after a promise to a customer. OV_OK, or
 * OV_ECONFIG / OV_EINVAL / OV_EIO (nobody will be told). */
int mail_queue(struct mail *m, const char *to, const char *subject,
    const char *html_body);

/* Send what waits in the queue, oldest first, each when its pause is
 * over; stops at the first server that cannot be reached. *sent and *left
 * (may be NULL) count the notices sent now and still waiting. OV_OK also
 * when there is no queue; OV_ECONFIG when mail is off. */
int mail_queue_drain(struct mail *m, size_t *sent, size_t *left);

#define MAIL_QUEUE_ATTEMPTS 20
#define MAIL_QUEUE_PAUSE_S 60        /* first pause; doubles up to an hour */

/* &, <, >, " and ' as entities; newlines become <br>. */
char *mail_html_escape(const char *s);

#endif
