#include <cjson/cJSON.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cianbox.h"
#include "cianbox_http.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "store.h"
#include "utf8.h"

#define TOKEN_MAX 512         /* longest token accepted from Cianbox */
#define EXPIRY_MARGIN 60      /* seconds: a token this close to its end is stale */
#define ERR_MAX 512
#define LOCK_POLL_MS 25

/* Product fields asked for: only what struct cianbox_producto keeps. */
static const char producto_fields[] =
    "id,updated,producto,id_marca,marca,id_categoria,categoria,descripcion,"
    "codigo_interno,codigo_barras,vigente,precio_neto,precio_oferta,oferta,"
    "precios,alicuota_iva,stock_total";

struct token {
	char access[TOKEN_MAX + 1];
	char refresh[TOKEN_MAX + 1];
	int64_t expires_at;
};

struct cianbox {
	struct store *st;
	struct cianbox_http *http;
	char base[1024];          /* {CIANBOX_URL}/{account}/api/v2 */
	char base_path[320];      /* /{account}/api/v2, for the logs */
	char *user, *pass, *app_name, *app_code;
	char lock_path[2048];
	long lock_wait_ms;
	long price_list;
	struct token tok;         /* what this process last used */
	char err[ERR_MAX];
};

/* ---- small helpers ----------------------------------------------------- */

const char *
cianbox_last_error(const struct cianbox *cb)
{
	return cb->err;
}

void
cianbox_set_deadline(struct cianbox *cb, long ms)
{
	cianbox_http_set_deadline(cb->http, ms);
}

const char *
cianbox_token_action_name(enum cianbox_token_action a)
{
	switch (a) {
	case CIANBOX_TOKEN_KEPT: return "kept";
	case CIANBOX_TOKEN_REUSED: return "reused";
	case CIANBOX_TOKEN_REFRESHED: return "refreshed";
	case CIANBOX_TOKEN_LOGGED_IN: return "logged in";
	}
	return "unknown";
}

static int64_t
real_now(void)
{
	return (int64_t)time(NULL);
}

static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

static void
free_secret(char *s)
{
	if (s != NULL) {
		wipe(s, strlen(s));
		free(s);
	}
}

void
cianbox_copy_text(char *dst, size_t n, const char *s)
{
	utf8_copy(dst, n, s);
}

/* Replace every occurrence of secret in s (in place, bounded by n). */
static void
scrub_one(char *s, size_t n, const char *secret)
{
	static const char mark[] = "[redacted]";
	size_t slen, mlen = sizeof(mark) - 1;
	char *p, *from = s;

	if (secret == NULL || (slen = strlen(secret)) < 4)
		return;
	/* Search on after each mark: a secret found inside "[redacted]"
	 * would otherwise loop for ever. */
	while ((p = strstr(from, secret)) != NULL) {
		size_t tail = strlen(p + slen);

		if ((size_t)(p - s) + mlen + tail + 1 > n) {
			*p = '\0';
			return;
		}
		memmove(p + mlen, p + slen, tail + 1);
		memcpy(p, mark, mlen);
		from = p + mlen;
	}
}

static void
scrub(struct cianbox *cb, char *s, size_t n)
{
	scrub_one(s, n, cb->pass);
	scrub_one(s, n, cb->tok.access);
	scrub_one(s, n, cb->tok.refresh);
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static void set_error(struct cianbox *cb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
set_error(struct cianbox *cb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cb->err, sizeof(cb->err), fmt, ap);
	va_end(ap);
	scrub(cb, cb->err, sizeof(cb->err));
}

/* A token as Cianbox issues them: printable ASCII, no blanks or URL
 * delimiters, bounded. */
static bool
token_ok(const char *t)
{
	size_t n = 0;

	if (t == NULL)
		return false;
	for (; t[n] != '\0'; n++)
		if (n >= TOKEN_MAX || (unsigned char)t[n] <= 0x20 ||
		    (unsigned char)t[n] >= 0x7f || strchr("&?#\"\\", t[n]) != NULL)
			return false;
	return n > 0;
}

/* ---- JSON helpers ---------------------------------------------------- */

bool
cianbox_json_number(const cJSON *item, double *out)
{
	const char *s;
	char *end;
	double v;

	if (item == NULL)
		return false;
	if (cJSON_IsNumber(item)) {
		v = item->valuedouble;
	} else if (cJSON_IsString(item) && (s = item->valuestring) != NULL) {
		while (*s == ' ')
			s++;
		if (*s == '\0' || strlen(s) > 64)
			return false;
		errno = 0;
		v = strtod(s, &end);
		while (*end == ' ')
			end++;
		if (end == s || *end != '\0' || errno == ERANGE)
			return false;
		/* strtod takes hex and "inf"/"nan": not numbers here. */
		for (const char *p = s; p < end; p++)
			if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '-' ||
			    *p == '+' || *p == 'e' || *p == 'E' || *p == ' '))
				return false;
	} else {
		return false;
	}
	if (!isfinite(v))
		return false;
	*out = v;
	return true;
}

static double
jnum(const cJSON *obj, const char *key)
{
	double v;

	return cianbox_json_number(cJSON_GetObjectItemCaseSensitive(obj, key),
	    &v) ? v : 0.0;
}

static int64_t
jint(const cJSON *obj, const char *key)
{
	double v;

	if (!cianbox_json_number(cJSON_GetObjectItemCaseSensitive(obj, key), &v))
		return 0;
	if (v < -9.0e15 || v > 9.0e15 || v != floor(v))
		return 0;
	return (int64_t)v;
}

/* true/false, 1/0, "1"/"0", "true"/"false", "si"/"no"; def otherwise. */
static bool
jbool(const cJSON *obj, const char *key, bool def)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	const char *s;

	if (cJSON_IsBool(it))
		return cJSON_IsTrue(it);
	if (cJSON_IsNumber(it))
		return it->valuedouble != 0;
	if (cJSON_IsString(it) && (s = it->valuestring) != NULL) {
		if (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 ||
		    strcasecmp(s, "si") == 0 || strcasecmp(s, "s\xc3\xad") == 0)
			return true;
		if (strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0 ||
		    strcasecmp(s, "no") == 0 || s[0] == '\0')
			return false;
	}
	return def;
}

/* A string field; numbers are written as integers when whole. */
static void
jtext(const cJSON *obj, const char *key, char *dst, size_t n)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	char num[64];

	if (cJSON_IsString(it)) {
		cianbox_copy_text(dst, n, it->valuestring);
	} else if (cJSON_IsNumber(it) && isfinite(it->valuedouble)) {
		if (it->valuedouble == floor(it->valuedouble) &&
		    fabs(it->valuedouble) < 1e17)
			snprintf(num, sizeof(num), "%.0f", it->valuedouble);
		else
			snprintf(num, sizeof(num), "%.4f", it->valuedouble);
		cianbox_copy_text(dst, n, num);
	} else {
		dst[0] = '\0';
	}
}

/* Keep only the digits (documents come with dashes sometimes). */
static void
digits_only(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++)
		if (*s >= '0' && *s <= '9')
			*w++ = *s;
	*w = '\0';
}

static double
round2(double v)
{
	return round(v * 100.0) / 100.0;
}

/* The error text of a Cianbox answer, or NULL. */
static const char *
answer_message(const cJSON *root)
{
	static const char *const top[] = { "message", "statusMessage" };
	static const char *const inner[] = { "description", "descripcion" };
	const cJSON *it, *body;

	for (size_t i = 0; i < 2; i++) {
		it = cJSON_GetObjectItemCaseSensitive(root, top[i]);
		if (cJSON_IsString(it) && it->valuestring[0] != '\0')
			return it->valuestring;
	}
	body = cJSON_GetObjectItemCaseSensitive(root, "body");
	for (size_t i = 0; i < 2; i++) {
		it = cJSON_GetObjectItemCaseSensitive(body, inner[i]);
		if (cJSON_IsString(it) && it->valuestring[0] != '\0')
			return it->valuestring;
	}
	return NULL;
}

static bool
answer_ok(const cJSON *root)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");

	return cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0;
}

static bool
names_token(const char *msg)
{
	return msg != NULL && strcasestr(msg, "token") != NULL;
}

/* ---- open / close ----------------------------------------------------- */

static bool
account_ok(const char *a)
{
	size_t n = 0;

	for (; a[n] != '\0'; n++)
		if (n >= 64 || !(isalnum((unsigned char)a[n]) || a[n] == '_' ||
		    a[n] == '-' || a[n] == '.'))
			return false;
	return n > 0 && strcmp(a, ".") != 0 && strcmp(a, "..") != 0;
}

static bool
base_url_ok(const char *u)
{
	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		return false;
	for (const char *p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '?' || *p == '#' || *p == '@')
			return false;
	return strlen(u) < 512;
}

int
cianbox_open(struct cianbox **out, const struct config *cfg, struct store *st,
    char *err, size_t errlen)
{
	struct cianbox *cb = NULL;
	struct cianbox_http_opts ho;
	const char *url, *account, *user, *pass, *data_dir;
	long connect_ms, total_ms, attempts, backoff, lockwait, plist;
	size_t ulen;
	int rc;

	*out = NULL;
	if ((rc = config_require(cfg, "CIANBOX_ACCOUNT", &account, err,
	    errlen)) != OV_OK ||
	    (rc = config_require(cfg, "CIANBOX_USER", &user, err, errlen)) != OV_OK ||
	    (rc = config_require(cfg, "CIANBOX_PASS", &pass, err, errlen)) != OV_OK ||
	    (rc = config_require(cfg, "CIANBOX_URL", &url, err, errlen)) != OV_OK)
		return rc;
	if ((rc = config_get_long(cfg, "CIANBOX_CONNECT_TIMEOUT_MS", 5000, 100,
	    120000, &connect_ms, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "CIANBOX_TIMEOUT_MS", 20000, 100, 600000,
	    &total_ms, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "CIANBOX_ATTEMPTS", 3, 1, 10, &attempts,
	    err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "CIANBOX_BACKOFF_MS", 500, 0, 60000,
	    &backoff, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "CIANBOX_LOCK_WAIT_MS", 10000, 0, 600000,
	    &lockwait, err, errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "CIANBOX_PRICE_LIST", 1, 0, 1000000,
	    &plist, err, errlen)) != OV_OK)
		return rc;
	if (!account_ok(account)) {
		snprintf(err, errlen, "configuration key CIANBOX_ACCOUNT must be "
		    "letters, digits, '.', '_' or '-'");
		return OV_ECONFIG;
	}
	if (!base_url_ok(url)) {
		snprintf(err, errlen, "configuration key CIANBOX_URL must be an "
		    "http(s) URL without query or credentials");
		return OV_ECONFIG;
	}
	if ((cb = calloc(1, sizeof(*cb))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return OV_ENOMEM;
	}
	cb->st = st;
	cb->lock_wait_ms = lockwait;
	cb->price_list = plist;
	ulen = strlen(url);
	while (ulen > 0 && url[ulen - 1] == '/')
		ulen--;
	snprintf(cb->base_path, sizeof(cb->base_path), "/%s/api/v2", account);
	snprintf(cb->base, sizeof(cb->base), "%.*s%s", (int)ulen, url,
	    cb->base_path);
	data_dir = config_get(cfg, "OVIDIO_DATA_DIR");
	if (data_dir == NULL || strlen(data_dir) > 1900) {
		snprintf(err, errlen, "configuration key OVIDIO_DATA_DIR must "
		    "name a directory");
		rc = OV_ECONFIG;
		goto fail;
	}
	snprintf(cb->lock_path, sizeof(cb->lock_path),
	    "%.1900s/locks/cianbox-token.lock", data_dir);
	cb->user = strdup(user);
	cb->pass = strdup(pass);
	cb->app_name = strdup(config_get(cfg, "CIANBOX_APP_NAME"));
	cb->app_code = strdup(config_get(cfg, "CIANBOX_APP_CODE"));
	if (cb->user == NULL || cb->pass == NULL || cb->app_name == NULL ||
	    cb->app_code == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = OV_ENOMEM;
		goto fail;
	}
	memset(&ho, 0, sizeof(ho));
	ho.connect_timeout_ms = connect_ms;
	ho.timeout_ms = total_ms;
	ho.max_bytes = CIANBOX_MAX_BYTES_API;
	ho.attempts = (int)attempts;
	ho.backoff_ms = backoff;
	ho.max_redirs = 0;
	if ((rc = cianbox_http_open(&cb->http, &ho)) != OV_OK) {
		snprintf(err, errlen, "cannot set up HTTP: %s", ov_strerror(rc));
		goto fail;
	}
	*out = cb;
	return OV_OK;
fail:
	cianbox_close(cb);
	return rc;
}

void
cianbox_close(struct cianbox *cb)
{
	if (cb == NULL)
		return;
	cianbox_http_close(cb->http);
	free(cb->user);
	free_secret(cb->pass);
	free(cb->app_name);
	free(cb->app_code);
	wipe(&cb->tok, sizeof(cb->tok));
	free(cb);
}

/* ---- token: store and lock --------------------------------------------- */

/* Read the shared token. OV_OK with *found false when there is none or
 * it is unreadable (then it is renewed). */
static int
token_load(struct cianbox *cb, struct token *t, bool *found)
{
	char *value = NULL;
	int64_t exp = 0;
	cJSON *root = NULL;
	const cJSON *a, *r;
	int rc;

	memset(t, 0, sizeof(*t));
	*found = false;
	rc = store_token_get(cb->st, CIANBOX_TOKEN_NAME, &value, &exp, found);
	if (rc != OV_OK) {
		set_error(cb, "cannot read the Cianbox token from the store: %s",
		    ov_strerror(rc));
		return rc;
	}
	if (!*found)
		goto out;
	*found = false;
	if ((root = cJSON_Parse(value)) == NULL)
		goto out;
	a = cJSON_GetObjectItemCaseSensitive(root, "access_token");
	r = cJSON_GetObjectItemCaseSensitive(root, "refresh_token");
	if (!cJSON_IsString(a) || !token_ok(a->valuestring))
		goto out;
	cianbox_copy_text(t->access, sizeof(t->access), a->valuestring);
	if (cJSON_IsString(r) && token_ok(r->valuestring))
		cianbox_copy_text(t->refresh, sizeof(t->refresh), r->valuestring);
	t->expires_at = exp;
	*found = true;
out:
	if (value != NULL) {
		wipe(value, strlen(value));
		free(value);
	}
	cJSON_Delete(root);
	return OV_OK;
}

static int
token_save(struct cianbox *cb, const struct token *t)
{
	cJSON *root = cJSON_CreateObject();
	char *value = NULL;
	int rc = OV_ENOMEM;

	if (root == NULL ||
	    cJSON_AddStringToObject(root, "access_token", t->access) == NULL ||
	    (t->refresh[0] != '\0' && cJSON_AddStringToObject(root,
	    "refresh_token", t->refresh) == NULL) ||
	    cJSON_AddNumberToObject(root, "obtained_at", (double)real_now()) == NULL ||
	    (value = cJSON_PrintUnformatted(root)) == NULL)
		goto out;
	rc = store_token_put(cb->st, CIANBOX_TOKEN_NAME, value, t->expires_at);
	if (rc != OV_OK)
		set_error(cb, "cannot keep the Cianbox token in the store: %s",
		    ov_strerror(rc));
out:
	if (value != NULL) {
		wipe(value, strlen(value));
		free(value);
	}
	cJSON_Delete(root);
	return rc;
}

/* Take the renewal lock, waiting at most lock_wait_ms. *fd is -1 when it
 * could not be had in time (the caller then re-reads the store). */
static int
lock_take(struct cianbox *cb, int *fd)
{
	char dir[2048];
	char *slash;
	long waited = 0;

	*fd = -1;
	snprintf(dir, sizeof(dir), "%s", cb->lock_path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		set_error(cb, "cannot create %s: %s", dir, strerror(errno));
		return OV_EIO;
	}
	int f = open(cb->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f < 0) {
		set_error(cb, "cannot open %s: %s", cb->lock_path, strerror(errno));
		return OV_EIO;
	}
	for (;;) {
		if (flock(f, LOCK_EX | LOCK_NB) == 0) {
			*fd = f;
			return OV_OK;
		}
		if (errno != EWOULDBLOCK && errno != EINTR) {
			set_error(cb, "cannot lock %s: %s", cb->lock_path,
			    strerror(errno));
			close(f);
			return OV_EIO;
		}
		if (waited >= cb->lock_wait_ms ||
		    cianbox_http_time_left(cb->http) < LOCK_POLL_MS)
			break;
		struct timespec ts = { 0, LOCK_POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
		waited += LOCK_POLL_MS;
	}
	close(f);
	return OV_OK;
}

static void
lock_release(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

/* ---- auth calls --------------------------------------------------------- */

/*
 * POST an auth form. On success fills t->access and t->expires_at (and
 * t->refresh when the answer has one). *refused tells a refusal by
 * Cianbox (HTTP 4xx or status != ok) from a failure to reach it.
 */
static int
auth_post(struct cianbox *cb, const char *what, const char *form,
    struct token *t, bool *refused)
{
	struct cianbox_http_resp resp = { 0, NULL, 0 };
	char url[1200], path[400], herr[ERR_MAX];
	cJSON *root = NULL;
	const cJSON *body, *a, *r;
	const char *msg;
	double expires_in;
	int rc;

	*refused = false;
	snprintf(url, sizeof(url), "%s/auth/%s", cb->base, what);
	snprintf(path, sizeof(path), "%s/auth/%s", cb->base_path, what);
	rc = cianbox_http_request(cb->http, url, path, form, &resp, herr,
	    sizeof(herr));
	if (rc != OV_OK) {
		set_error(cb, "%s", herr);
		return rc;
	}
	root = cJSON_ParseWithLength(resp.body, resp.len);
	msg = root != NULL ? answer_message(root) : NULL;
	if (root == NULL || !answer_ok(root) || resp.status >= 400) {
		*refused = resp.status < 500;
		if (msg != NULL)
			set_error(cb, "Cianbox refused %s: %s", path, msg);
		else
			set_error(cb, "Cianbox refused %s (HTTP %ld)", path,
			    resp.status);
		rc = resp.status >= 500 ? OV_EREMOTE : OV_EAUTH;
		goto out;
	}
	body = cJSON_GetObjectItemCaseSensitive(root, "body");
	a = cJSON_GetObjectItemCaseSensitive(body, "access_token");
	r = cJSON_GetObjectItemCaseSensitive(body, "refresh_token");
	if (!cJSON_IsString(a) || !token_ok(a->valuestring) ||
	    !cianbox_json_number(cJSON_GetObjectItemCaseSensitive(body,
	    "expires_in"), &expires_in) || expires_in < 1 ||
	    expires_in > 10.0 * 365 * 86400) {
		set_error(cb, "%s answered without a usable access token", path);
		rc = OV_EPARSE;
		goto out;
	}
	cianbox_copy_text(t->access, sizeof(t->access), a->valuestring);
	if (cJSON_IsString(r) && token_ok(r->valuestring))
		cianbox_copy_text(t->refresh, sizeof(t->refresh), r->valuestring);
	t->expires_at = real_now() + (int64_t)expires_in;
	rc = OV_OK;
out:
	if (resp.body != NULL)
		wipe(resp.body, resp.len);
	cianbox_http_resp_clear(&resp);
	cJSON_Delete(root);
	return rc;
}

static int
login(struct cianbox *cb, struct token *t)
{
	struct cianbox_buf form = { NULL, 0, 0 };
	bool refused;
	int rc;

	if ((rc = cianbox_buf_param(&form, "app_name", cb->app_name)) != OV_OK ||
	    (rc = cianbox_buf_param(&form, "app_code", cb->app_code)) != OV_OK ||
	    (rc = cianbox_buf_param(&form, "user", cb->user)) != OV_OK ||
	    (rc = cianbox_buf_param(&form, "password", cb->pass)) != OV_OK)
		goto out;
	memset(t, 0, sizeof(*t));
	rc = auth_post(cb, "credentials", form.p, t, &refused);
	if (rc == OV_OK && t->refresh[0] == '\0')
		log_warn("Cianbox login gave no refresh token");
out:
	cianbox_buf_free(&form);
	return rc;
}

static int
refresh(struct cianbox *cb, struct token *t, bool *refused)
{
	struct cianbox_buf form = { NULL, 0, 0 };
	struct token nt;
	int rc;

	*refused = false;
	if ((rc = cianbox_buf_param(&form, "refresh_token", t->refresh)) != OV_OK)
		goto out;
	memset(&nt, 0, sizeof(nt));
	rc = auth_post(cb, "refresh", form.p, &nt, refused);
	if (rc == OV_OK) {
		/* The refresh token stays; Cianbox may send a new one. */
		if (nt.refresh[0] == '\0')
			memcpy(nt.refresh, t->refresh, sizeof(nt.refresh));
		*t = nt;
	}
	wipe(&nt, sizeof(nt));
out:
	cianbox_buf_free(&form);
	return rc;
}

/*
 * Get a new token into cb->tok and the store, unless another process
 * already did: a stored token other than `stale` (NULL: any) with more
 * than max(min_left, margin) seconds left is reused.
 */
static int
token_renew(struct cianbox *cb, const char *stale, int64_t min_left,
    enum cianbox_token_action *did)
{
	struct token t;
	bool found, refused;
	int fd = -1, rc;
	int64_t need = min_left > EXPIRY_MARGIN ? min_left : EXPIRY_MARGIN;
	char stale_copy[TOKEN_MAX + 1];

	/* stale may point into cb->tok, which is overwritten below. */
	cianbox_copy_text(stale_copy, sizeof(stale_copy), stale);
	if ((rc = lock_take(cb, &fd)) != OV_OK)
		return rc;
	if ((rc = token_load(cb, &t, &found)) != OV_OK)
		goto out;
	if (found && t.expires_at - real_now() > need &&
	    strcmp(t.access, stale_copy) != 0) {
		cb->tok = t;
		*did = CIANBOX_TOKEN_REUSED;
		log_debug("Cianbox token renewed by another process, reused");
		goto out;
	}
	if (fd < 0) {
		set_error(cb, "another process is renewing the Cianbox token "
		    "and did not finish within %ld ms", cb->lock_wait_ms);
		rc = OV_EBUSY;
		goto out;
	}
	if (!found) {
		memset(&t, 0, sizeof(t));
		/* Unreadable store entry: a refresh token we hold still helps. */
		memcpy(t.refresh, cb->tok.refresh, sizeof(t.refresh));
	}
	rc = OV_EAUTH;
	if (t.refresh[0] != '\0') {
		rc = refresh(cb, &t, &refused);
		if (rc == OV_OK) {
			*did = CIANBOX_TOKEN_REFRESHED;
			log_info("Cianbox access token refreshed");
		} else if (refused) {
			log_warn("Cianbox refused the refresh token (%s); "
			    "logging in again", cb->err);
		} else {
			goto out;
		}
	}
	if (rc != OV_OK) {
		if ((rc = login(cb, &t)) != OV_OK)
			goto out;
		*did = CIANBOX_TOKEN_LOGGED_IN;
		log_info("logged in to Cianbox");
	}
	if ((rc = token_save(cb, &t)) != OV_OK)
		goto out;
	cb->tok = t;
	cb->err[0] = '\0';
out:
	wipe(&t, sizeof(t));
	lock_release(fd);
	return rc;
}

/* A usable access token into cb->tok: this process's, the store's, or a
 * renewed one. */
static int
token_current(struct cianbox *cb)
{
	enum cianbox_token_action did;
	struct token t;
	bool found;
	int rc;

	if (cb->tok.access[0] != '\0' &&
	    cb->tok.expires_at - real_now() > EXPIRY_MARGIN)
		return OV_OK;
	if ((rc = token_load(cb, &t, &found)) != OV_OK)
		return rc;
	if (found && t.expires_at - real_now() > EXPIRY_MARGIN) {
		cb->tok = t;
		wipe(&t, sizeof(t));
		return OV_OK;
	}
	if (found)
		memcpy(cb->tok.refresh, t.refresh, sizeof(cb->tok.refresh));
	rc = token_renew(cb, found ? t.access : NULL, 0, &did);
	wipe(&t, sizeof(t));
	return rc;
}

int
cianbox_token_ensure(struct cianbox *cb, int64_t min_left,
    enum cianbox_token_action *did, int64_t *expires_at)
{
	enum cianbox_token_action action = CIANBOX_TOKEN_KEPT;
	struct token t;
	bool found;
	int rc;

	cb->err[0] = '\0';
	if ((rc = token_load(cb, &t, &found)) != OV_OK)
		goto out;
	if (found && t.expires_at - real_now() >= min_left &&
	    t.expires_at - real_now() > EXPIRY_MARGIN) {
		cb->tok = t;
	} else {
		if (found)
			memcpy(cb->tok.refresh, t.refresh, sizeof(cb->tok.refresh));
		rc = token_renew(cb, found ? t.access : NULL, min_left, &action);
		if (rc != OV_OK)
			goto out;
	}
	if (did != NULL)
		*did = action;
	if (expires_at != NULL)
		*expires_at = cb->tok.expires_at;
out:
	wipe(&t, sizeof(t));
	return rc;
}

/* ---- data calls ------------------------------------------------------- */

/*
 * GET {base}/{endpoint}?access_token=...&{query}. On OV_OK *root is the
 * parsed answer with status "ok" (caller frees). 401 or an error naming
 * the token: renew once, retry once.
 */
static int
api_get(struct cianbox *cb, const char *endpoint, const char *query,
    cJSON **root)
{
	char path[600], herr[ERR_MAX];
	int rc = OV_OK;

	*root = NULL;
	snprintf(path, sizeof(path), "%s/%s", cb->base_path, endpoint);
	for (int round = 0; round < 2; round++) {
		struct cianbox_buf url = { NULL, 0, 0 };
		struct cianbox_http_resp resp = { 0, NULL, 0 };
		enum cianbox_token_action did;
		const char *msg;
		bool token_problem;
		cJSON *doc;

		if ((rc = token_current(cb)) != OV_OK)
			return rc;
		if ((rc = cianbox_buf_str(&url, cb->base)) != OV_OK ||
		    (rc = cianbox_buf_str(&url, "/")) != OV_OK ||
		    (rc = cianbox_buf_str(&url, endpoint)) != OV_OK ||
		    (rc = cianbox_buf_str(&url, "?")) != OV_OK ||
		    (rc = cianbox_buf_param(&url, "access_token",
		    cb->tok.access)) != OV_OK ||
		    (query != NULL && query[0] != '\0' &&
		    ((rc = cianbox_buf_str(&url, "&")) != OV_OK ||
		    (rc = cianbox_buf_str(&url, query)) != OV_OK))) {
			cianbox_buf_free(&url);
			set_error(cb, "out of memory");
			return rc;
		}
		rc = cianbox_http_request(cb->http, url.p, path, NULL, &resp,
		    herr, sizeof(herr));
		cianbox_buf_free(&url);
		if (rc != OV_OK) {
			set_error(cb, "%s", herr);
			return rc;
		}
		doc = cJSON_ParseWithLength(resp.body, resp.len);
		msg = doc != NULL ? answer_message(doc) : NULL;
		token_problem = resp.status == 401 ||
		    (doc != NULL && !answer_ok(doc) && names_token(msg));
		if (token_problem) {
			if (msg != NULL)
				set_error(cb, "Cianbox refused the access token: %s",
				    msg);
			else
				set_error(cb, "Cianbox refused the access token "
				    "(HTTP %ld)", resp.status);
			cJSON_Delete(doc);
			cianbox_http_resp_clear(&resp);
			if (round == 1)
				return OV_EAUTH;
			log_info("%s: access token refused, renewing it", path);
			rc = token_renew(cb, cb->tok.access, 0, &did);
			if (rc != OV_OK)
				return rc;
			continue;
		}
		if (doc == NULL || !cJSON_IsObject(doc)) {
			set_error(cb, "%s answered HTTP %ld with no JSON object",
			    path, resp.status);
			rc = resp.status >= 400 ? OV_EREMOTE : OV_EPARSE;
		} else if (!answer_ok(doc) || resp.status >= 400) {
			if (msg != NULL)
				set_error(cb, "%s", msg);
			else
				set_error(cb, "%s answered HTTP %ld, status not ok",
				    path, resp.status);
			rc = OV_EREMOTE;
		} else {
			*root = doc;
			doc = NULL;
			rc = OV_OK;
		}
		cJSON_Delete(doc);
		cianbox_http_resp_clear(&resp);
		return rc;
	}
	return rc;
}

/* ---- mapping items ---------------------------------------------------- */

static void
map_producto(struct cianbox *cb, const cJSON *it, struct cianbox_producto *p)
{
	const cJSON *precios, *e;
	double alic = 0, v;
	bool list_found = false;

	memset(p, 0, sizeof(*p));
	p->raw = it;
	p->id = jint(it, "id");
	jtext(it, "codigo_interno", p->codigo, sizeof(p->codigo));
	jtext(it, "codigo_barras", p->codigo_barras, sizeof(p->codigo_barras));
	jtext(it, "producto", p->nombre, sizeof(p->nombre));
	jtext(it, "descripcion", p->descripcion, sizeof(p->descripcion));
	jtext(it, "marca", p->marca, sizeof(p->marca));
	jtext(it, "categoria", p->categoria, sizeof(p->categoria));
	jtext(it, "updated", p->updated, sizeof(p->updated));
	p->id_marca = jint(it, "id_marca");
	p->id_categoria = jint(it, "id_categoria");
	p->vigente = jbool(it, "vigente", true);
	p->oferta = jbool(it, "oferta", false);
	p->precio_oferta = jnum(it, "precio_oferta");
	p->stock = jnum(it, "stock_total");
	/* alicuota_iva comes as a factor (1.21) or, defensively, a percent. */
	if (cianbox_json_number(cJSON_GetObjectItemCaseSensitive(it,
	    "alicuota_iva"), &alic) && alic > 0) {
		if (alic < 2)
			alic = (alic - 1.0) * 100.0;
		p->iva = round(alic * 10.0) / 10.0;
		if (p->iva < 0 || p->iva > 100)
			p->iva = 0;
	}
	precios = cJSON_GetObjectItemCaseSensitive(it, "precios");
	cJSON_ArrayForEach(e, precios) {
		if (!cJSON_IsObject(e) || jint(e, "id_lista_precio") != cb->price_list)
			continue;
		p->precio_neto = jnum(e, "neto");
		p->precio_final = jnum(e, "final");
		p->id_moneda = (int)jint(e, "id_moneda");
		list_found = true;
		break;
	}
	if (!list_found) {
		p->precio_neto = jnum(it, "precio_neto");
		p->precio_final = round2(p->precio_neto * (1.0 + p->iva / 100.0));
		p->id_moneda = 0;
	} else if (p->precio_final <= 0 && p->precio_neto > 0) {
		p->precio_final = round2(p->precio_neto * (1.0 + p->iva / 100.0));
	}
	if (cianbox_json_number(cJSON_GetObjectItemCaseSensitive(it,
	    "id_moneda"), &v) && p->id_moneda == 0)
		p->id_moneda = (int)v;
}

static void
map_cliente(const cJSON *it, struct cianbox_cliente *c)
{
	memset(c, 0, sizeof(*c));
	c->raw = it;
	c->id = jint(it, "id");
	jtext(it, "razon", c->razon, sizeof(c->razon));
	jtext(it, "condicion", c->condicion, sizeof(c->condicion));
	jtext(it, "tipo_documento", c->tipo_documento, sizeof(c->tipo_documento));
	jtext(it, "numero_documento", c->numero_documento,
	    sizeof(c->numero_documento));
	digits_only(c->numero_documento);
	jtext(it, "domicilio", c->domicilio, sizeof(c->domicilio));
	jtext(it, "localidad", c->localidad, sizeof(c->localidad));
	jtext(it, "provincia", c->provincia, sizeof(c->provincia));
	jtext(it, "telefono", c->telefono, sizeof(c->telefono));
	jtext(it, "celular", c->celular, sizeof(c->celular));
	jtext(it, "email", c->email, sizeof(c->email));
	jtext(it, "updated", c->updated, sizeof(c->updated));
	c->ctacte = jbool(it, "ctacte", false);
	c->plazo = jint(it, "plazo");
	c->limite = jnum(it, "limite");
	c->saldo = jnum(it, "saldo");
	c->descuento = jnum(it, "descuento");
}

static void
map_venta(const cJSON *it, struct cianbox_venta *v)
{
	const cJSON *cl, *url, *first;

	memset(v, 0, sizeof(*v));
	v->id = jint(it, "id");
	jtext(it, "fecha", v->fecha, sizeof(v->fecha));
	jtext(it, "fecha_carga", v->fecha_carga, sizeof(v->fecha_carga));
	jtext(it, "tipo", v->tipo, sizeof(v->tipo));
	if (v->tipo[0] == '\0')
		jtext(it, "tipo_comprobante", v->tipo, sizeof(v->tipo));
	jtext(it, "punto_venta", v->punto_venta, sizeof(v->punto_venta));
	jtext(it, "numero", v->numero, sizeof(v->numero));
	jtext(it, "numero_documento_venta", v->numero_documento,
	    sizeof(v->numero_documento));
	digits_only(v->numero_documento);
	v->gravado = jnum(it, "gravado");
	v->iva = jnum(it, "iva");
	v->no_gravado = jnum(it, "no_gravado");
	v->exento = jnum(it, "exento");
	v->total = jnum(it, "total");
	v->has_saldo = cianbox_json_number(
	    cJSON_GetObjectItemCaseSensitive(it, "saldo"), &v->saldo);
	v->cta_cte = jbool(it, "cta_cte", false);
	v->anulado = jbool(it, "anulado", false);
	v->vigente = jbool(it, "vigente", true);
	v->id_moneda = (int)jint(it, "id_moneda");
	v->cotizacion = jnum(it, "cotizacion");
	cl = cJSON_GetObjectItemCaseSensitive(it, "cliente");
	first = cJSON_IsArray(cl) ? cJSON_GetArrayItem(cl, 0) : cl;
	if (cJSON_IsObject(first)) {
		v->cliente_id = jint(first, "id");
		jtext(first, "razon", v->cliente_razon, sizeof(v->cliente_razon));
	}
	url = cJSON_GetObjectItemCaseSensitive(it, "url");
	first = cJSON_IsArray(url) ? cJSON_GetArrayItem(url, 0) : url;
	if (cJSON_IsString(first) && (strncmp(first->valuestring, "https://", 8) == 0 ||
	    strncmp(first->valuestring, "http://", 7) == 0) &&
	    strlen(first->valuestring) < sizeof(v->url))
		cianbox_copy_text(v->url, sizeof(v->url), first->valuestring);
}

/* ---- paged walks -------------------------------------------------------- */

enum walk_kind { WALK_PRODUCTOS, WALK_CLIENTES };

struct walk {
	enum walk_kind kind;
	cianbox_producto_fn pfn;
	cianbox_cliente_fn cfn;
	void *arg;
};

/* Run fn over the items of one answer. */
static int
walk_items(struct cianbox *cb, const struct walk *w, const cJSON *body,
    struct cianbox_walk_stats *stats)
{
	const cJSON *it;
	int rc;

	cJSON_ArrayForEach(it, body) {
		if (!cJSON_IsObject(it)) {
			stats->skipped++;
			continue;
		}
		if (w->kind == WALK_PRODUCTOS) {
			struct cianbox_producto p;

			map_producto(cb, it, &p);
			if (p.id <= 0) {
				stats->skipped++;
				continue;
			}
			rc = w->pfn(w->arg, &p);
		} else {
			struct cianbox_cliente c;

			map_cliente(it, &c);
			if (c.id <= 0) {
				stats->skipped++;
				continue;
			}
			rc = w->cfn(w->arg, &c);
		}
		if (rc != OV_OK) {
			if (cb->err[0] == '\0')
				set_error(cb, "stopped by the caller: %s",
				    ov_strerror(rc));
			return rc;
		}
		stats->items++;
	}
	return OV_OK;
}

static int
walk(struct cianbox *cb, const struct walk *w, struct cianbox_walk_stats *out)
{
	struct cianbox_walk_stats stats = { 0, 0, 0 };
	const char *endpoint = w->kind == WALK_PRODUCTOS ? "productos" : "clientes";
	int rc = OV_OK;

	cb->err[0] = '\0';
	for (long page = 1;; page++) {
		struct cianbox_buf q = { NULL, 0, 0 };
		char num[24];
		cJSON *root = NULL;
		const cJSON *body;
		double total_pages = 0;
		bool has_total;

		if (page > CIANBOX_PAGES_MAX) {
			set_error(cb, "%s: more than %d pages, giving up", endpoint,
			    CIANBOX_PAGES_MAX);
			rc = OV_ETOOBIG;
			break;
		}
		snprintf(num, sizeof(num), "%ld", page);
		if ((rc = cianbox_buf_param(&q, "page", num)) != OV_OK ||
		    (rc = cianbox_buf_param(&q, "limit", "200")) != OV_OK ||
		    (rc = cianbox_buf_param(&q, "order", "id-asc")) != OV_OK ||
		    (w->kind == WALK_PRODUCTOS &&
		    (rc = cianbox_buf_param(&q, "fields", producto_fields)) != OV_OK)) {
			cianbox_buf_free(&q);
			break;
		}
		rc = api_get(cb, endpoint, q.p, &root);
		cianbox_buf_free(&q);
		if (rc != OV_OK)
			break;
		stats.pages++;
		body = cJSON_GetObjectItemCaseSensitive(root, "body");
		has_total = cianbox_json_number(cJSON_GetObjectItemCaseSensitive(
		    root, "total_pages"), &total_pages);
		if (!cJSON_IsArray(body) || cJSON_GetArraySize(body) == 0) {
			cJSON_Delete(root);
			break;              /* an empty body ends the walk */
		}
		rc = walk_items(cb, w, body, &stats);
		cJSON_Delete(root);
		if (rc != OV_OK || (has_total && (double)page >= total_pages))
			break;
	}
	if (rc == OV_OK)
		log_debug("%s: %zu item(s) in %zu page(s), %zu skipped", endpoint,
		    stats.items, stats.pages, stats.skipped);
	if (out != NULL)
		*out = stats;
	return rc;
}

int
cianbox_productos_each(struct cianbox *cb, cianbox_producto_fn fn, void *arg,
    struct cianbox_walk_stats *stats)
{
	struct walk w = { WALK_PRODUCTOS, fn, NULL, arg };

	return walk(cb, &w, stats);
}

int
cianbox_clientes_each(struct cianbox *cb, cianbox_cliente_fn fn, void *arg,
    struct cianbox_walk_stats *stats)
{
	struct walk w = { WALK_CLIENTES, NULL, fn, arg };

	return walk(cb, &w, stats);
}

/* GET clientes filtered by key=value; the lowest id wins. */
static int
cliente_query(struct cianbox *cb, const char *key, const char *value,
    struct cianbox_cliente *out, bool *found)
{
	struct cianbox_buf q = { NULL, 0, 0 };
	cJSON *root = NULL;
	const cJSON *body, *it;
	int rc;

	*found = false;
	memset(out, 0, sizeof(*out));
	cb->err[0] = '\0';
	if ((rc = cianbox_buf_param(&q, key, value)) != OV_OK ||
	    (rc = cianbox_buf_param(&q, "limit", "50")) != OV_OK)
		goto out;
	if ((rc = api_get(cb, "clientes", q.p, &root)) != OV_OK)
		goto out;
	body = cJSON_GetObjectItemCaseSensitive(root, "body");
	cJSON_ArrayForEach(it, body) {
		struct cianbox_cliente c;

		if (!cJSON_IsObject(it))
			continue;
		map_cliente(it, &c);
		if (c.id <= 0 || (*found && c.id >= out->id))
			continue;
		*out = c;
		out->raw = NULL;       /* the page is freed below */
		*found = true;
	}
out:
	cJSON_Delete(root);
	cianbox_buf_free(&q);
	return rc;
}

int
cianbox_cliente_by_id(struct cianbox *cb, int64_t id,
    struct cianbox_cliente *out, bool *found)
{
	char num[24];
	int rc;

	if (id <= 0)
		return OV_EINVAL;
	snprintf(num, sizeof(num), "%lld", (long long)id);
	rc = cliente_query(cb, "id", num, out, found);
	if (rc == OV_OK && *found && out->id != id)
		*found = false;         /* a filter Cianbox ignored */
	return rc;
}

static int
documento_param(const char *documento, char out[24])
{
	size_t n = 0;

	if (documento == NULL)
		return OV_EINVAL;
	for (const char *p = documento; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9') {
			if (n >= 20)
				return OV_EINVAL;
			out[n++] = *p;
		} else if (*p != '-' && *p != '.' && *p != ' ') {
			return OV_EINVAL;
		}
	}
	out[n] = '\0';
	return n >= 6 ? OV_OK : OV_EINVAL;
}

int
cianbox_cliente_by_documento(struct cianbox *cb, const char *documento,
    struct cianbox_cliente *out, bool *found)
{
	char doc[24];
	int rc;

	if (documento_param(documento, doc) != OV_OK)
		return OV_EINVAL;
	rc = cliente_query(cb, "numero_documento", doc, out, found);
	if (rc == OV_OK && *found && strcmp(out->numero_documento, doc) != 0)
		*found = false;
	return rc;
}

static int
cmp_venta_newest(const void *a, const void *b)
{
	const struct cianbox_venta *x = a, *y = b;
	int c = strcmp(y->fecha, x->fecha);

	if (c != 0)
		return c;
	return y->id > x->id ? 1 : y->id < x->id ? -1 : 0;
}

int
cianbox_ventas_recent(struct cianbox *cb, const char *documento, size_t max,
    struct cianbox_venta *out, size_t *n)
{
	struct cianbox_buf q = { NULL, 0, 0 };
	cJSON *root = NULL;
	const cJSON *body, *it;
	struct cianbox_venta *all = NULL;
	size_t nall = 0;
	char doc[24], lim[16];
	int rc;

	*n = 0;
	cb->err[0] = '\0';
	if (max == 0 || max > CIANBOX_VENTAS_MAX ||
	    documento_param(documento, doc) != OV_OK)
		return OV_EINVAL;
	snprintf(lim, sizeof(lim), "%zu", max);
	if ((rc = cianbox_buf_param(&q, "numero_documento_venta", doc)) != OV_OK ||
	    (rc = cianbox_buf_param(&q, "order", "create-date-desc")) != OV_OK ||
	    (rc = cianbox_buf_param(&q, "limit", lim)) != OV_OK ||
	    (rc = cianbox_buf_param(&q, "page", "1")) != OV_OK)
		goto out;
	if ((rc = api_get(cb, "ventas", q.p, &root)) != OV_OK)
		goto out;
	body = cJSON_GetObjectItemCaseSensitive(root, "body");
	if ((all = calloc(CIANBOX_VENTAS_MAX, sizeof(*all))) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, body) {
		if (!cJSON_IsObject(it) || nall == CIANBOX_VENTAS_MAX)
			continue;
		map_venta(it, &all[nall]);
		/* Someone else's document: a filter Cianbox ignored. */
		if (all[nall].id <= 0 || strcmp(all[nall].numero_documento, doc) != 0)
			continue;
		nall++;
	}
	qsort(all, nall, sizeof(*all), cmp_venta_newest);
	*n = nall < max ? nall : max;
	memcpy(out, all, *n * sizeof(*out));
out:
	free(all);
	cJSON_Delete(root);
	cianbox_buf_free(&q);
	return rc;
}

static bool
is_dollar(const cJSON *e)
{
	static const char *const symbols[] = { "u$s", "us$", "usd", "u$d" };
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "codigo_afip");
	const cJSON *sym = cJSON_GetObjectItemCaseSensitive(e, "simbolo");

	if (cJSON_IsString(code) && strcasecmp(code->valuestring, "DOL") == 0)
		return true;
	if (cJSON_IsString(sym))
		for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++)
			if (strcasecmp(sym->valuestring, symbols[i]) == 0)
				return true;
	return false;
}

int
cianbox_usd_rate(struct cianbox *cb, double *rate)
{
	cJSON *root = NULL;
	const cJSON *body, *e;
	int rc;

	cb->err[0] = '\0';
	if ((rc = api_get(cb, "general/cotizaciones", NULL, &root)) != OV_OK)
		return rc;
	body = cJSON_GetObjectItemCaseSensitive(root, "body");
	rc = OV_ENOTFOUND;
	cJSON_ArrayForEach(e, body) {
		double v;

		if (!cJSON_IsObject(e) || !is_dollar(e) || !jbool(e, "vigente", true))
			continue;
		if (!cianbox_json_number(cJSON_GetObjectItemCaseSensitive(e,
		    "cotizacion"), &v) || v <= 0 || v > 1e7) {
			set_error(cb, "the dollar rate from Cianbox is not a "
			    "usable number");
			rc = OV_EPARSE;
			break;
		}
		*rate = v;
		rc = OV_OK;
		break;
	}
	if (rc == OV_ENOTFOUND)
		set_error(cb, "Cianbox lists no current dollar rate");
	cJSON_Delete(root);
	return rc;
}

int
cianbox_usd_rate_cached(struct cianbox *cb, int64_t max_age, double *rate)
{
	char *value = NULL, *end = NULL, *end2 = NULL, text[64];
	int64_t expires_at = 0;
	long long fetched;
	bool found = false;
	double v;
	int rc;

	if (max_age < 1 || max_age > 86400)
		return OV_EINVAL;
	cb->err[0] = '\0';
	/* Value: "<rate> <unix time fetched>". */
	rc = store_token_get(cb->st, "cianbox_usd_rate", &value, &expires_at,
	    &found);
	if (rc == OV_OK && found) {
		errno = 0;
		v = strtod(value, &end);
		fetched = end != value && *end == ' ' ?
		    strtoll(end + 1, &end2, 10) : 0;
		if (errno == 0 && fetched > 0 && *end2 == '\0' && v > 0 &&
		    v <= 1e7 && real_now() - fetched >= 0 &&
		    real_now() - fetched <= max_age) {
			free(value);
			*rate = v;
			return OV_OK;
		}
	}
	free(value);
	if ((rc = cianbox_usd_rate(cb, &v)) != OV_OK)
		return rc;
	snprintf(text, sizeof(text), "%.6f %lld", v, (long long)real_now());
	if (store_token_put(cb->st, "cianbox_usd_rate", text,
	    real_now() + 86400) != OV_OK)
		log_warn("cannot cache the dollar rate in the store");
	*rate = v;
	return OV_OK;
}
