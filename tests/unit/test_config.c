/* Configuration: environment, then the OVIDIO_CONFIG file, then defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "err.h"

static char dir[] = "/tmp/ovidio-config-test.XXXXXX";
static char path[256];

static void
write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	setenv("OVIDIO_CONFIG", path, 1);
}

static struct config *
load_ok(void)
{
	struct config *cfg = NULL;
	char err[256] = "";
	int rc = config_load(&cfg, err, sizeof(err));

	CHECK_INT(rc, OV_OK);
	if (rc != OV_OK)
		fprintf(stderr, "  config_load: %s\n", err);
	return cfg;
}

static void
defaults_apply_when_nothing_is_set(void)
{
	struct config *cfg;

	unsetenv("OVIDIO_CONFIG");
	unsetenv("OPENAI_MODEL");
	unsetenv("QUOTE_TTL_DAYS");
	cfg = load_ok();
	CHECK_STR(config_get(cfg, "OPENAI_MODEL"), "gpt-4o-mini");
	CHECK_STR(config_get(cfg, "WHATSAPP_API_URL"), "https://graph.facebook.com/v21.0");
	CHECK_STR(config_get(cfg, "MONGODB_DB"), "ovidio_db");
	CHECK_STR(config_get(cfg, "TZ"), "America/Argentina/Cordoba");
	CHECK(config_get(cfg, "OPENAI_API_KEY") == NULL);
	CHECK(config_get(cfg, "MONGODB_URI") == NULL);
	config_free(cfg);
}

static void
file_overrides_defaults_and_environment_overrides_file(void)
{
	struct config *cfg;

	write_file("# Ovidio\n"
	    "OPENAI_MODEL=gpt-file\n"
	    "  BUSINESS_NAME = \"Seguridad Rosario\"  \n"
	    "export PHONE_NUMBER_ID='1100'\n"
	    "\n"
	    "QUOTE_TTL_DAYS=10\n"
	    "QUOTE_TTL_DAYS=12\n");
	unsetenv("OPENAI_MODEL");
	unsetenv("BUSINESS_NAME");
	unsetenv("PHONE_NUMBER_ID");
	unsetenv("QUOTE_TTL_DAYS");
	cfg = load_ok();
	CHECK_STR(config_get(cfg, "OPENAI_MODEL"), "gpt-file");
	CHECK_STR(config_get(cfg, "BUSINESS_NAME"), "Seguridad Rosario");
	CHECK_STR(config_get(cfg, "PHONE_NUMBER_ID"), "1100");
	CHECK_STR(config_get(cfg, "QUOTE_TTL_DAYS"), "12");
	setenv("OPENAI_MODEL", "gpt-env", 1);
	CHECK_STR(config_get(cfg, "OPENAI_MODEL"), "gpt-env");
	/* An empty variable counts as unset: the file's value stands. */
	setenv("OPENAI_MODEL", "", 1);
	CHECK_STR(config_get(cfg, "OPENAI_MODEL"), "gpt-file");
	unsetenv("OPENAI_MODEL");
	config_free(cfg);
}

static void
missing_required_key_names_the_key(void)
{
	struct config *cfg;
	const char *v = NULL;
	char err[256] = "";

	unsetenv("OVIDIO_CONFIG");
	unsetenv("WHATSAPP_APP_SECRET");
	cfg = load_ok();
	CHECK_INT(config_require(cfg, "WHATSAPP_APP_SECRET", &v, err, sizeof(err)),
	    OV_ECONFIG);
	CHECK_STR(err, "missing configuration key WHATSAPP_APP_SECRET");
	setenv("WHATSAPP_APP_SECRET", "s3cr3t", 1);
	CHECK_INT(config_require(cfg, "WHATSAPP_APP_SECRET", &v, err, sizeof(err)),
	    OV_OK);
	CHECK_STR(v, "s3cr3t");
	unsetenv("WHATSAPP_APP_SECRET");
	config_free(cfg);
}

static void
unreadable_file_is_an_error_naming_it(void)
{
	struct config *cfg = NULL;
	char err[512] = "";

	setenv("OVIDIO_CONFIG", "/nonexistent/ovidio.env", 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_EIO);
	CHECK(cfg == NULL);
	CHECK(strstr(err, "/nonexistent/ovidio.env") != NULL);
	unsetenv("OVIDIO_CONFIG");
}

static void
malformed_lines_are_refused_without_echoing_values(void)
{
	struct config *cfg = NULL;
	char err[512] = "";

	write_file("OPENAI_MODEL=ok\nWHATSAPP_APP_SECRET supersecret\n");
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_ECONFIG);
	CHECK(strstr(err, ":2:") != NULL);
	CHECK(strstr(err, "supersecret") == NULL);

	write_file("bad key=supersecret\n");
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_ECONFIG);
	CHECK(strstr(err, ":1:") != NULL);
	CHECK(strstr(err, "supersecret") == NULL);
	unsetenv("OVIDIO_CONFIG");
}

static void
integers_are_checked_for_range_and_form(void)
{
	struct config *cfg;
	char err[256] = "";
	long n = 0;

	unsetenv("OVIDIO_CONFIG");
	cfg = load_ok();
	unsetenv("OVIDIO_WORKERS");
	CHECK_INT(config_get_long(cfg, "OVIDIO_WORKERS", 4, 1, 64, &n, err, sizeof(err)), OV_OK);
	CHECK_INT(n, 4);
	setenv("OVIDIO_WORKERS", "8", 1);
	CHECK_INT(config_get_long(cfg, "OVIDIO_WORKERS", 4, 1, 64, &n, err, sizeof(err)), OV_OK);
	CHECK_INT(n, 8);
	const char *bad[] = { "0", "65", "4x", "-3", " 4", "99999999999999999999", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("OVIDIO_WORKERS", bad[i], 1);
		int rc = config_get_long(cfg, "OVIDIO_WORKERS", 4, 1, 64, &n, err, sizeof(err));
		if (bad[i][0] == '\0') {
			CHECK_INT(rc, OV_OK);   /* empty = unset: default */
			CHECK_INT(n, 4);
		} else {
			CHECK_INT(rc, OV_ECONFIG);
			CHECK(strstr(err, "OVIDIO_WORKERS") != NULL);
		}
	}
	unsetenv("OVIDIO_WORKERS");
	config_free(cfg);
}

static void
secret_keys_are_marked(void)
{
	CHECK(config_is_secret("WHATSAPP_APP_SECRET"));
	CHECK(config_is_secret("WHATSAPP_TOKEN"));
	CHECK(config_is_secret("CIANBOX_PASS"));
	CHECK(config_is_secret("OPENAI_API_KEY"));
	CHECK(config_is_secret("MONGODB_URI"));
	CHECK(config_is_secret("EMAIL_PASS"));
	CHECK(!config_is_secret("PHONE_NUMBER_ID"));
	CHECK(!config_is_secret("OVIDIO_DATA_DIR"));
}

/* PRESUPUESTOS_DIR follows the data directory unless it is set: a /tmp
 * default differs between Apache (PrivateTmp) and cron. */
static void
quote_dir_defaults_under_the_data_dir(void)
{
	struct config *cfg;

	unsetenv("OVIDIO_CONFIG");
	unsetenv("PRESUPUESTOS_DIR");
	unsetenv("OVIDIO_DATA_DIR");
	cfg = load_ok();
	CHECK_STR(config_get(cfg, "PRESUPUESTOS_DIR"),
	    "/var/lib/ovidio/presupuestos");
	config_free(cfg);
	setenv("OVIDIO_DATA_DIR", "/srv/ovidio", 1);
	cfg = load_ok();
	CHECK_STR(config_get(cfg, "PRESUPUESTOS_DIR"), "/srv/ovidio/presupuestos");
	config_free(cfg);
	write_file("OVIDIO_DATA_DIR=/srv/file\n");
	unsetenv("OVIDIO_DATA_DIR");
	cfg = load_ok();
	CHECK_STR(config_get(cfg, "PRESUPUESTOS_DIR"), "/srv/file/presupuestos");
	config_free(cfg);
	write_file("PRESUPUESTOS_DIR=/srv/quotes\n");
	cfg = load_ok();
	CHECK_STR(config_get(cfg, "PRESUPUESTOS_DIR"), "/srv/quotes");
	config_free(cfg);
	setenv("PRESUPUESTOS_DIR", "/srv/env", 1);
	cfg = load_ok();
	CHECK_STR(config_get(cfg, "PRESUPUESTOS_DIR"), "/srv/env");
	config_free(cfg);
	unsetenv("PRESUPUESTOS_DIR");
	unsetenv("OVIDIO_CONFIG");
}

/* This test program, copied to ROOT/jobs/, prints what KEY reads there. */
static void
run_copy(const char *exe, const char *key, char *out, size_t len)
{
	char cmd[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' --print %s", exe, key);
	out[0] = '\0';
	if ((p = popen(cmd, "r")) == NULL)
		return;
	if (fgets(out, (int)len, p) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

static void
copy_self(const char *to)
{
	FILE *in = fopen("/proc/self/exe", "rb"), *o = fopen(to, "wb");
	char buf[65536];
	size_t n;

	CHECK(in != NULL && o != NULL);
	while (in != NULL && o != NULL && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, o);
	if (in != NULL)
		fclose(in);
	if (o != NULL)
		fclose(o);
	chmod(to, 0700);
}

/* suEXEC passes a CGI none of .htaccess's SetEnv lines: without
 * OVIDIO_CONFIG the installation's ovidio.env is read. */
static void
root_file_read_without_ovidio_config(void)
{
	char root[300], jobs[320], exe[340], env[320], got[128];
	FILE *f;

	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(jobs, sizeof(jobs), "%s/jobs", root);
	snprintf(exe, sizeof(exe), "%s/probe", jobs);
	snprintf(env, sizeof(env), "%s/ovidio.env", root);
	CHECK_INT(mkdir(root, 0700), 0);
	CHECK_INT(mkdir(jobs, 0700), 0);
	copy_self(exe);
	unsetenv("OVIDIO_CONFIG");
	unsetenv("OPENAI_API_KEY");
	run_copy(exe, "OPENAI_API_KEY", got, sizeof(got));
	CHECK_STR(got, "(unset)");
	f = fopen(env, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("OPENAI_API_KEY=Desde la raiz\n", f);
		fclose(f);
	}
	run_copy(exe, "OPENAI_API_KEY", got, sizeof(got));
	CHECK_STR(got, "Desde la raiz");
	/* OVIDIO_CONFIG, when set, is the file. */
	write_file("OPENAI_API_KEY=Del archivo nombrado\n");
	run_copy(exe, "OPENAI_API_KEY", got, sizeof(got));
	CHECK_STR(got, "Del archivo nombrado");
	unsetenv("OVIDIO_CONFIG");
	unlink(env);
	unlink(exe);
	rmdir(jobs);
	rmdir(root);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--print") == 0) {
		struct config *cfg = NULL;
		char err[256];
		const char *v;

		if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
			printf("error: %s\n", err);
			return 1;
		}
		v = config_get(cfg, argv[2]);
		printf("%s\n", v != NULL ? v : "(unset)");
		config_free(cfg);
		return 0;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/ovidio.env", dir);
	RUN(defaults_apply_when_nothing_is_set);
	RUN(file_overrides_defaults_and_environment_overrides_file);
	RUN(missing_required_key_names_the_key);
	RUN(unreadable_file_is_an_error_naming_it);
	RUN(malformed_lines_are_refused_without_echoing_values);
	RUN(integers_are_checked_for_range_and_form);
	RUN(secret_keys_are_marked);
	RUN(quote_dir_defaults_under_the_data_dir);
	RUN(root_file_read_without_ovidio_config);
	unlink(path);
	rmdir(dir);
	return check_finish();
}
