/* The inbox's pieces without Apache: the HTML writer escapes everything,
 * CSRF tokens are the user's, take / give back are compare-and-set
 * (two salespeople never both hold one conversation), a coexistence echo
 * is parsed from Meta's smb_message_echoes, recorded as the salesperson's
 * and pauses Ovidio, and status files round-trip. */
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgi.h"
#include "check.h"
#include "config.h"
#include "conv.h"
#include "err.h"
#include "html.h"
#include "inbox.h"
#include "log.h"
#include "store.h"
#include "wa_payload.h"

static char tmpdir[] = "/tmp/ovidio-test-inbox.XXXXXX";
static struct config *cfg;
static struct store *st;

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static void
test_html_escapes(void)
{
	struct html h;

	html_init(&h, 4096);
	html_raw(&h, "<p title=\"");
	html_attr(&h, "\" onmouseover=\"alert(1)");
	html_raw(&h, "\">");
	html_text(&h, "<script>alert('x')</script> & \xff\x01ñ");
	html_raw(&h, "<a href=\"/c/");
	html_url(&h, "549 341\"/..?");
	html_raw(&h, "\">");
	html_int(&h, -42);
	CHECK_INT(h.err, OV_OK);
	CHECK_STR(h.buf, "<p title=\"&quot; onmouseover=&quot;alert(1)\">"
	    "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
	    "\xef\xbf\xbd\xef\xbf\xbd\xc3\xb1"
	    "<a href=\"/c/549%20341%22%2F..%3F\">-42");
	html_free(&h);

	/* The cap is an error, never a cut page. */
	html_init(&h, 10);
	html_text(&h, "0123456789");
	CHECK_INT(h.err, OV_OK);
	html_text(&h, "x");
	CHECK_INT(h.err, OV_ETOOBIG);
	html_raw(&h, "more");
	CHECK_INT((int)h.len, 10);
	html_free(&h);
}

static void
test_csrf(void)
{
	char a[INBOX_CSRF_LEN + 1], b[INBOX_CSRF_LEN + 1];

	inbox_csrf("secret", "ana", a);
	inbox_csrf("secret", "beto", b);
	CHECK_INT((int)strlen(a), INBOX_CSRF_LEN);
	CHECK(strcmp(a, b) != 0);
	CHECK(inbox_csrf_ok("secret", "ana", a));
	CHECK(!inbox_csrf_ok("secret", "beto", a));
	CHECK(!inbox_csrf_ok("other", "ana", a));
	CHECK(!inbox_csrf_ok("secret", "ana", NULL));
	CHECK(!inbox_csrf_ok("secret", "ana", ""));
	a[10] ^= 1;
	CHECK(!inbox_csrf_ok("secret", "ana", a));
	a[10] ^= 1;
	{
		char longer[INBOX_CSRF_LEN + 2];

		snprintf(longer, sizeof(longer), "%s0", a);
		CHECK(!inbox_csrf_ok("secret", "ana", longer));
	}
	/* The inbox's answers have their reason phrases (lib/cgi). */
	CHECK_STR(cgi_status_reason(303), "See Other");
	CHECK_STR(cgi_status_reason(409), "Conflict");
	CHECK(inbox_user_ok("laura.ventas"));
	CHECK(!inbox_user_ok(""));
	CHECK(!inbox_user_ok("a b"));
	CHECK(!inbox_user_ok("<x>"));
}

static void
put_conv(const char *key, const char *owner, const char *agent,
    int64_t until)
{
	struct conv c;
	struct store_conv sc;

	conv_init(&c, key);
	c.owner = strcmp(owner, "agent") == 0 ? CONV_OWNER_AGENT :
	    CONV_OWNER_BOT;
	snprintf(c.agent, sizeof(c.agent), "%s", agent);
	c.owner_until = until;
	c.last_inbound = 1000;
	memset(&sc, 0, sizeof(sc));
	CHECK_INT(conv_to_store(&c, &sc), OV_OK);
	CHECK_INT(store_conv_put(st, &sc), OV_OK);
	store_conv_clear(&sc);
}

static struct conv
get_conv(const char *key)
{
	struct store_conv sc;
	struct conv c;
	bool found = false;

	conv_init(&c, key);
	memset(&sc, 0, sizeof(sc));
	CHECK_INT(store_conv_get(st, key, &sc, &found), OV_OK);
	CHECK(found);
	if (found)
		CHECK_INT(conv_from_store(&sc, &c), OV_OK);
	store_conv_clear(&sc);
	return c;
}

static void
test_take_and_give_back(void)
{
	const char *k = "5493415550001";
	char who[64];
	struct conv c;

	put_conv(k, "agent", "handoff", 5000);
	CHECK_INT(inbox_own(st, k, "ana", INBOX_TAKE, 2000, 4, who,
	    sizeof(who)), OV_OK);
	c = get_conv(k);
	CHECK_INT(c.owner, CONV_OWNER_AGENT);
	CHECK_STR(c.agent, "ana");
	CHECK_INT(c.owner_until, 2000 + 4 * 3600);
	CHECK_INT(c.last_inbound, 1000);
	/* Beto cannot take it while Ana's hold lasts. */
	CHECK_INT(inbox_own(st, k, "beto", INBOX_TAKE, 2100, 4, who,
	    sizeof(who)), OV_EBUSY);
	CHECK_STR(who, "ana");
	/* Ana's own action moves the hold. */
	CHECK_INT(inbox_own(st, k, "ana", INBOX_TAKE, 3000, 4, NULL, 0), OV_OK);
	CHECK_INT(get_conv(k).owner_until, 3000 + 4 * 3600);
	/* After the hold ran out Beto may. */
	CHECK_INT(inbox_own(st, k, "beto", INBOX_TAKE, 3000 + 4 * 3600, 4,
	    NULL, 0), OV_OK);
	CHECK_STR(get_conv(k).agent, "beto");
	/* A turn holds the lease: busy, nothing changed. */
	{
		bool got = false;

		CHECK_INT(store_conv_lease(st, k, "worker:1", 20000, 20060,
		    &got), OV_OK);
		CHECK(got);
		CHECK_INT(inbox_own(st, k, "beto", INBOX_GIVE_BACK, 20001, 4,
		    NULL, 0), OV_EBUSY);
		CHECK_INT(store_conv_release(st, k, "worker:1"), OV_OK);
	}
	CHECK_INT(inbox_own(st, k, "beto", INBOX_GIVE_BACK, 20002, 4, NULL, 0),
	    OV_OK);
	c = get_conv(k);
	CHECK_INT(c.owner, CONV_OWNER_BOT);
	CHECK_STR(c.agent, "");
	CHECK_INT(c.owner_until, 0);
	CHECK_INT(inbox_own(st, k, "a b", INBOX_TAKE, 1, 4, NULL, 0),
	    OV_EINVAL);
	/* Nobody by that number: nothing taken, no record made. */
	{
		struct store_conv sc;
		bool found = true;

		CHECK_INT(inbox_own(st, "5493415550999", "ana", INBOX_TAKE, 1, 4,
		    NULL, 0), OV_ENOTFOUND);
		memset(&sc, 0, sizeof(sc));
		CHECK_INT(store_conv_get(st, "5493415550999", &sc, &found),
		    OV_OK);
		CHECK(!found);
		store_conv_clear(&sc);
	}
}

/* Two salespeople pressing "Tomar" at once: exactly one gets it. */
static void
test_take_race(void)
{
	const char *k = "5493415550002";
	const char *users[] = { "u0", "u1", "u2", "u3", "u4", "u5" };
	int ok = 0, busy = 0;
	pid_t pids[6];

	put_conv(k, "agent", "handoff", 99999);
	for (int i = 0; i < 6; i++) {
		if ((pids[i] = fork()) == 0) {
			struct store *cst = NULL;
			int rc = OV_EBUSY;

			if (store_open(&cst, cfg) == OV_OK) {
				/* A busy lease is retried as a person would. */
				for (int t = 0; t < 50 && rc == OV_EBUSY; t++) {
					char who[64] = "";

					rc = inbox_own(cst, k, users[i], INBOX_TAKE,
					    5000, 4, who, sizeof(who));
					if (rc == OV_EBUSY && who[0] != '\0')
						break;
					if (rc == OV_EBUSY)
						usleep(20000);
				}
				store_close(cst);
			}
			_exit(rc == OV_OK ? 0 : rc == OV_EBUSY ? 1 : 2);
		}
	}
	for (int i = 0; i < 6; i++) {
		int status = 0;

		waitpid(pids[i], &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
			busy++;
	}
	CHECK_INT(ok, 1);
	CHECK_INT(busy, 5);
}

static void
test_echo_pauses_ovidio(void)
{
	const char *dir = getenv("OVIDIO_TEST_FIXTURES");
	char path[1024];
	struct wa_payload p;
	struct store_msg m;
	struct conv c;
	bool found = false;
	size_t len = 0;
	char *body;

	snprintf(path, sizeof(path), "%s/whatsapp/smb_message_echoes_text.json",
	    dir != NULL ? dir : "tests/fixtures");
	body = slurp(path, &len);
	CHECK(body != NULL);
	if (body == NULL)
		return;
	CHECK_INT(wa_payload_parse(body, len, &p), OV_OK);
	free(body);
	CHECK_INT((int)p.n_msgs, 0);
	CHECK_INT((int)p.n_echoes, 1);
	if (p.n_echoes != 1) {
		wa_payload_free(&p);
		return;
	}
	CHECK_STR(p.echoes[0].from, "5493415551234");
	CHECK_STR(p.echoes[0].text, "Hola Martín, soy Laura de ventas. Te paso "
	    "el precio por mayor ahora.");
	CHECK_INT(p.echoes[0].ts, 1764590400);

	put_conv("5493415551234", "bot", "", 0);
	CHECK_INT(inbox_echo(st, &p.echoes[0], 1764590401, 4), OV_OK);
	c = get_conv("5493415551234");
	CHECK_INT(c.owner, CONV_OWNER_AGENT);
	CHECK_STR(c.agent, INBOX_AGENT_APP);
	CHECK_INT(c.owner_until, 1764590401 + 4 * 3600);
	memset(&m, 0, sizeof(m));
	CHECK_INT(store_msg_get(st, p.echoes[0].id, &m, &found), OV_OK);
	CHECK(found);
	CHECK_INT(m.dir, STORE_OUT);
	CHECK(m.raw != NULL && strstr(m.raw, "\"agent\":\"app\"") != NULL);
	store_msg_clear(&m);
	/* A repeat changes nothing; an echo while Ana holds it keeps Ana. */
	CHECK_INT(inbox_echo(st, &p.echoes[0], 1764590999, 4), OV_OK);
	CHECK_INT(get_conv("5493415551234").owner_until, 1764590401 + 4 * 3600);
	CHECK_INT(inbox_own(st, "5493415551234", "ana", INBOX_TAKE, 1764591000,
	    4, NULL, 0), OV_OK);
	snprintf(p.echoes[0].id, sizeof(p.echoes[0].id), "wamid.ECHO.2");
	CHECK_INT(inbox_echo(st, &p.echoes[0], 1764592000, 4), OV_OK);
	c = get_conv("5493415551234");
	CHECK_STR(c.agent, "ana");
	CHECK_INT(c.owner_until, 1764592000 + 4 * 3600);
	wa_payload_free(&p);

	/* The image echo with its caption; the one without "to" skipped. */
	snprintf(path, sizeof(path), "%s/whatsapp/smb_message_echoes_image.json",
	    dir != NULL ? dir : "tests/fixtures");
	body = slurp(path, &len);
	CHECK(body != NULL);
	if (body == NULL)
		return;
	CHECK_INT(wa_payload_parse(body, len, &p), OV_OK);
	free(body);
	CHECK_INT((int)p.n_echoes, 1);
	CHECK_INT((int)p.n_skipped, 1);
	if (p.n_echoes == 1) {
		CHECK_INT(p.echoes[0].kind, WA_IMAGE);
		CHECK_STR(p.echoes[0].text, "Así queda instalada");
	}
	wa_payload_free(&p);
}

static void
test_status_files(void)
{
	char text[128];
	int64_t when = 0;
	bool found = true;

	CHECK_INT(status_file_read(cfg, "worker.last", &when, text,
	    sizeof(text), &found), OV_OK);
	CHECK(!found);
	CHECK_INT(status_file_write(cfg, "worker.last", 1234, "3 files\n7"),
	    OV_OK);
	CHECK_INT(status_file_read(cfg, "worker.last", &when, text,
	    sizeof(text), &found), OV_OK);
	CHECK(found);
	CHECK_INT(when, 1234);
	CHECK_STR(text, "3 files 7");
	CHECK_INT(status_file_write(cfg, "../x", 1, ""), OV_EINVAL);
	CHECK_INT(status_file_remove(cfg, "worker.last"), OV_OK);
	CHECK_INT(status_file_remove(cfg, "worker.last"), OV_OK);
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
	char err[256];
	int rc = 1;

	log_init("test_inbox");
	log_set_level(LOG_ERROR);
	unsetenv("OVIDIO_CONFIG");
	unsetenv("MONGODB_URI");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    store_open(&st, cfg) != OV_OK) {
		fprintf(stderr, "setup failed\n");
		goto out;
	}
	RUN(test_html_escapes);
	RUN(test_csrf);
	RUN(test_take_and_give_back);
	RUN(test_take_race);
	RUN(test_echo_pauses_ovidio);
	RUN(test_status_files);
	rc = check_finish();
out:
	store_close(st);
	config_free(cfg);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
