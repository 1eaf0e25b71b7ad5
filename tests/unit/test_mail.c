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

/* A customer's name with CR/LF in a subject: the notice still goes, the
 * name stays on the Subject line and adds no header. */
static void
test_control_characters_never_reach_a_header(void)
{
	char url[64];
	struct mail *m;
	char *got;

	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", smtp.port);
	m = open_with(url, "bot@grupo-ser.test", "s3cret-pass");
	CHECK(m != NULL);
	if (m == NULL)
		return;
	CHECK_INT(mail_send(m, "vendedor@grupo-ser.test",
	    "Pedido de atención: Ana\r\nBcc: intruso@y.test\x01", "<p>x</p>"),
	    OV_OK);
	got = recorded(3);
	CHECK(got != NULL);
	if (got != NULL) {
		CHECK(strstr(got, "\"subject\": \"Pedido de atención: Ana  Bcc: "
		    "intruso@y.test \"") != NULL);
		CHECK(strstr(got, "\"to\": [\"vendedor@grupo-ser.test\"]") != NULL);
		CHECK(strstr(got, "\\nBcc:") == NULL);
		CHECK(strstr(got, "\\r\\nBcc:") == NULL);
		free(got);
	}
	mail_close(m);
}

static size_t
queued_files(const char *sub)
{
	char path[700];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/mailq%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".mail") != NULL && de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Make every queued notice due now (the test cannot wait a minute). */
static void
make_due(void)
{
	char path[1400], buf[8192], *p;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/mailq", dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		FILE *f;
		size_t n;

		if (strstr(de->d_name, ".mail") == NULL || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/mailq/%s", dir, de->d_name);
		if ((f = fopen(path, "r+")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		/* "next 1764..." -> "next 0000..." keeps the length. */
		if ((p = strstr(buf, "\nnext ")) != NULL) {
			for (p += 6; *p >= '0' && *p <= '9'; p++)
				*p = '0';
			fseek(f, 0, SEEK_SET);
			fwrite(buf, 1, n, f);
		}
		fclose(f);
	}
	closedir(d);
}

/* A notice the server cannot take now is queued durably, sent by a later
 * drain, and given up after MAIL_QUEUE_ATTEMPTS. */
static void
test_queue_keeps_and_retries(void)
{
	char url[64], path[800];
	struct mail *down, *up;
	size_t sent = 9, left = 9;
	int queued = -1;
	char *got;
	FILE *f;

	setenv("OVIDIO_DATA_DIR", dir, 1);
	down = open_with("smtp://127.0.0.1:1", NULL, NULL);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", smtp.port);
	up = open_with(url, "bot@grupo-ser.test", "s3cret-pass");
	CHECK(down != NULL && up != NULL);
	if (down == NULL || up == NULL)
		goto out;
	CHECK_INT(mail_send_or_queue(down, "vendedor@grupo-ser.test",
	    "Pedido de atención: Ana\nx", "<p>llamar</p>", &queued), OV_OK);
	CHECK_INT(queued, 1);
	CHECK_INT(queued_files(""), 1);
	/* Refusals of the notice itself are not queued. */
	CHECK_INT(mail_send_or_queue(down, "not an address", "x", "y", &queued),
	    OV_EINVAL);
	CHECK_INT(queued, 0);
	CHECK_INT(queued_files(""), 1);
	/* Not due yet: waits. */
	CHECK_INT(mail_queue_drain(up, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(left, 1);
	make_due();
	CHECK_INT(mail_queue_drain(down, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(left, 1);
	make_due();
	CHECK_INT(mail_queue_drain(up, &sent, &left), OV_OK);
	CHECK_INT(sent, 1);
	CHECK_INT(left, 0);
	CHECK_INT(queued_files(""), 0);
	got = recorded(4);
	CHECK(got != NULL && strstr(got, "<p>llamar</p>") != NULL &&
	    strstr(got, "\"subject\": \"Pedido de atención: Ana x\"") != NULL);
	free(got);
	/* Sent at once when the server is up: nothing queued. */
	CHECK_INT(mail_send_or_queue(up, "vendedor@grupo-ser.test", "x", "y",
	    &queued), OV_OK);
	CHECK_INT(queued, 0);
	CHECK_INT(queued_files(""), 0);
	/* The last allowed attempt fails: kept in mailq/failed. */
	snprintf(path, sizeof(path), "%s/mailq/1000000000000000000.1."
	    "0123456789abcdef.mail", dir);
	if ((f = fopen(path, "w")) != NULL) {
		fprintf(f, "ovidio-mail 1\nto nobody@grupo-ser.test\nattempts %d\n"
		    "first 1\nnext 1\nsubject x\n\n<p>y</p>",
		    MAIL_QUEUE_ATTEMPTS - 1);
		fclose(f);
	}
	CHECK_INT(mail_queue_drain(up, &sent, &left), OV_OK);
	CHECK_INT(sent, 0);
	CHECK_INT(left, 0);
	CHECK_INT(queued_files(""), 0);
	CHECK_INT(queued_files("/failed"), 1);
	/* Queued only (a promise made before the commit): due at once,
	 * sent by the next drain. */
	CHECK_INT(mail_queue(up, "vendedor@grupo-ser.test", "Handoff\r\nBcc: x",
	    "<p>escribile</p>"), OV_OK);
	CHECK_INT(queued_files(""), 1);
	CHECK_INT(mail_queue_drain(up, &sent, &left), OV_OK);
	CHECK_INT(sent, 1);
	CHECK_INT(queued_files(""), 0);
	/* Mail off: nothing to queue into, and the caller hears so. */
	mail_close(down);
	down = open_with(NULL, NULL, NULL);
	CHECK_INT(mail_send_or_queue(down, "a@b.test", "x", "y", &queued),
	    OV_ECONFIG);
	CHECK_INT(mail_queue(down, "a@b.test", "x", "y"), OV_ECONFIG);
out:
	unsetenv("OVIDIO_DATA_DIR");
	mail_close(down);
	mail_close(up);
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
	RUN(test_control_characters_never_reach_a_header);
	RUN(test_queue_keeps_and_retries);
	rc = check_finish();
	standin_proc_stop(&smtp);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
