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
 * Messages are text/html, UTF-8, 8bit; the subject is RFC 2047 encoded.
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

/* &, <, >, " and ' as entities; newlines become <br>. */
char *mail_html_escape(const char *s);

#endif
