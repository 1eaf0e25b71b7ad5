/* lib/mail against the SMTP stand-in (tests/standins/smtp_server.py):
 * what arrives, escaping, authentication, refusals, mail off. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "mail.h"
#include "standin.h"

#define STANDIN "tests/standins/smtp_server.py"

static char dir[] = "/tmp/ov_test_mail.XXXXXX";
static char maildir[512];
static struct standin_proc smtp;
static const char *const smtp_args[] = {
	"--dir", maildir, "--user", "bot@grupo-ser.test",
	"--password", "s3cret-pass", "--fail-rcpt", "nobody@grupo-ser.test", NULL
};

/* Text of the n-th recorded message file (malloc'd) or NULL. */
static char *
recorded(int n)
{
	char path[700];
	FILE *f;
	char *s;
	long len;

	snprintf(path, sizeof(path), "%s/%04d.json", maildir, n);
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = calloc(1, (size_t)len + 1);
	if (s != NULL && fread(s, 1, (size_t)len, f) != (size_t)len) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static struct mail *
open_with(const char *url, const char *user, const char *pass)
{
	struct config *cfg = NULL;
	struct mail *m = NULL;
	char err[256];

	if (url)
		setenv("SMTP_URL", url, 1);
	else
		unsetenv("SMTP_URL");
	if (user)
		setenv("EMAIL_USER", user, 1);
	else
		unsetenv("EMAIL_USER");
	if (pass)
		setenv("EMAIL_PASS", pass, 1);
	else
		unsetenv("EMAIL_PASS");
	if (config_load(&cfg, err, sizeof(err)) != OV_OK)
		return NULL;
	if (mail_open(cfg, &m, err, sizeof(err)) != OV_OK)
		m = NULL;
	config_free(cfg);
	return m;
}

static void
test_escape(void)
{
	char *s = mail_html_escape("<b>\"Hola\" & 'chau'</b>\nlínea");

	CHECK_STR(s, "&lt;b&gt;&#34;Hola&#34; &amp; &#39;chau&#39;&lt;/b&gt;"
	    "<br>\nlínea");
	free(s);
}

static void
test_send_arrives(void)
{
	char url[64];
	struct mail *m;
	char *got;

	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", smtp.port);
	m = open_with(url, "bot@grupo-ser.test", "s3cret-pass");
	CHECK(m != NULL && mail_configured(m));
	if (m == NULL)
		return;
	CHECK_INT(mail_send(m, "vendedor@grupo-ser.test",
	    "Pedido de atención: Martín Gómez", "<p>Hola</p>\n<p>.punto</p>"),
	    OV_OK);
	got = recorded(1);
	CHECK(got != NULL);
	if (got != NULL) {
		CHECK(strstr(got, "\"to\": [\"vendedor@grupo-ser.test\"]") != NULL);
		CHECK(strstr(got, "\"from\": \"bot@grupo-ser.test\"") != NULL);
		CHECK(strstr(got, "Pedido de atención: Martín Gómez") != NULL);
		CHECK(strstr(got, "<p>.punto</p>") != NULL);
		CHECK(strstr(got, "text/html; charset=UTF-8") != NULL);
		CHECK(strstr(got, "s3cret-pass") == NULL);
		free(got);
	}
	/* A long subject with accents arrives whole (several encoded words). */
	CHECK_INT(mail_send(m, "vendedor@grupo-ser.test", "Presupuesto N° 1234 "
	    "confirmado por Instalaciones del Litoral Sociedad de Responsabilidad "
	    "Limitada — ñandú", "<p>x</p>"), OV_OK);
	got = recorded(2);
	CHECK(got != NULL && strstr(got, "\"subject\": \"Presupuesto N° 1234 "
	    "confirmado por Instalaciones del Litoral Sociedad de Responsabilidad "
	    "Limitada — ñandú\"") != NULL);
	free(got);
	/* A refused recipient and a bad address. */
	CHECK_INT(mail_send(m, "nobody@grupo-ser.test", "x", "y"), OV_EREMOTE);
	CHECK_INT(mail_send(m, "not an address", "x", "y"), OV_EINVAL);
	CHECK_INT(mail_send(m, "a@b.test", "line\r\nBcc: x@y.test", "y"),
	    OV_EINVAL);
	mail_close(m);
}

static void
test_wrong_password(void)
{
	char url[64];
	struct mail *m;

	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", smtp.port);
	m = open_with(url, "bot@grupo-ser.test", "wrong");
	CHECK(m != NULL);
	if (m == NULL)
		return;
	CHECK(mail_send(m, "vendedor@grupo-ser.test", "x", "y") != OV_OK);
	CHECK(recorded(3) == NULL);
	mail_close(m);
}

static void
test_off_and_bad_url(void)
{
	struct mail *m = open_with(NULL, NULL, NULL);

	CHECK(m != NULL && !mail_configured(m));
	if (m != NULL) {
		CHECK_INT(mail_send(m, "a@b.test", "x", "y"), OV_ECONFIG);
		mail_close(m);
	}
	CHECK(open_with("http://127.0.0.1:1", NULL, NULL) == NULL);
	CHECK(open_with("smtp://user:pw@127.0.0.1:1", NULL, NULL) == NULL);
}

static void
test_unreachable(void)
{
	struct mail *m = open_with("smtp://127.0.0.1:1", NULL, NULL);

	CHECK(m != NULL);
	if (m == NULL)
		return;
	CHECK_INT(mail_send(m, "a@b.test", "x", "y"), OV_EIO);
	mail_close(m);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	int rc;

	log_init("test_mail");
	unsetenv("OVIDIO_CONFIG");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(maildir, sizeof(maildir), "%s/mail", dir);
	if (standin_proc_start(&smtp, STANDIN, dir, "smtp", true,
	    smtp_args) != 0) {
		fprintf(stderr, "SMTP stand-in did not start\n");
		return 1;
	}
	RUN(test_escape);
	RUN(test_send_arrives);
	RUN(test_wrong_password);
	RUN(test_off_and_bad_url);
	RUN(test_unreachable);
	rc = check_finish();
	standin_proc_stop(&smtp);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
