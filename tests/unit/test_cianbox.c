/*
 * test_cianbox.c - the Cianbox API client against the stand-in
 * (tests/standins/cianbox_server.py): the shared token's life (login,
 * reuse across processes, refresh near expiry, 401 mid-sync, refused
 * refresh, fifty processes at once), paging to the end, numbers as
 * strings, retries, time-outs, Cianbox's error texts, and secrets kept
 * out of the logs. Each test gets a fresh stand-in and data directory.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "cianbox.h"
#include "cianbox_standin.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "phone.h"
#include "store.h"

#define PASSWORD "secreto-de-prueba"

struct env {
	struct standin s;
	struct config *cfg;
	struct store *st;
	struct cianbox *cb;
};

static int
env_client(struct env *e)
{
	char err[256];
	int rc;

	if (config_load(&e->cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "  config: %s\n", err);
		return -1;
	}
	if ((rc = store_open(&e->st, e->cfg)) != OV_OK) {
		fprintf(stderr, "  store: %s\n", ov_strerror(rc));
		return -1;
	}
	if ((rc = cianbox_open(&e->cb, e->cfg, e->st, err, sizeof(err))) != OV_OK) {
		fprintf(stderr, "  cianbox_open: %s\n", err);
		return -1;
	}
	return 0;
}

static void
env_client_close(struct env *e)
{
	cianbox_close(e->cb);
	store_close(e->st);
	config_free(e->cfg);
	e->cb = NULL;
	e->st = NULL;
	e->cfg = NULL;
}

/* A stand-in (with extra arguments), a data directory, and a client. */
static int
env_up(struct env *e, const char *const *extra)
{
	char data[300];

	memset(e, 0, sizeof(*e));
	if (standin_start(&e->s, extra) != 0)
		return -1;
	snprintf(data, sizeof(data), "%s/data", e->s.dir);
	mkdir(data, 0700);
	unsetenv("MONGODB_URI");
	unsetenv("OVIDIO_CONFIG");
	setenv("OVIDIO_DATA_DIR", data, 1);
	setenv("CIANBOX_URL", e->s.url, 1);
	setenv("CIANBOX_ACCOUNT", "micuenta", 1);
	setenv("CIANBOX_USER", "ovidio", 1);
	setenv("CIANBOX_PASS", PASSWORD, 1);
	setenv("CIANBOX_TIMEOUT_MS", "3000", 1);
	setenv("CIANBOX_CONNECT_TIMEOUT_MS", "1000", 1);
	setenv("CIANBOX_BACKOFF_MS", "20", 1);
	setenv("CIANBOX_ATTEMPTS", "3", 1);
	unsetenv("CIANBOX_PRICE_LIST");
	return env_client(e);
}

static void
env_down(struct env *e)
{
	env_client_close(e);
	standin_stop(&e->s);
}

/* The shared token as stored: access and refresh into the buffers. */
static bool
stored_token(struct store *st, char *access, char *refresh, size_t n,
    int64_t *expires_at)
{
	char *value = NULL;
	bool found = false;
	cJSON *root;

	if (store_token_get(st, CIANBOX_TOKEN_NAME, &value, expires_at,
	    &found) != OV_OK || !found)
		return false;
	root = cJSON_Parse(value);
	free(value);
	if (root == NULL)
		return false;
	snprintf(access, n, "%s", cJSON_GetStringValue(
	    cJSON_GetObjectItem(root, "access_token")) ?: "");
	snprintf(refresh, n, "%s", cJSON_GetStringValue(
	    cJSON_GetObjectItem(root, "refresh_token")) ?: "");
	cJSON_Delete(root);
	return true;
}

/* ---- token lifecycle ---------------------------------------------------- */

static void
test_login_once_then_reuse_across_processes(void)
{
	struct env e, other;
	double rate = 0;
	char a1[600], r1[600], a2[600], r2[600];
	int64_t exp;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	CHECK(rate > 1045.49 && rate < 1045.51);     /* "1045.5000" */
	CHECK_INT(standin_stat(&e.s, "logins"), 1);
	CHECK(stored_token(e.st, a1, r1, sizeof(a1), &exp));
	CHECK(strncmp(a1, "CBX_AT-", 7) == 0);
	CHECK(strncmp(r1, "CBX_RT-", 7) == 0);
	CHECK(exp > (int64_t)time(NULL) + 86000);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);

	/* Another process (its own client on the same store) reuses it. */
	memset(&other, 0, sizeof(other));
	CHECK(env_client(&other) == 0);
	if (other.cb != NULL)
		CHECK_INT(cianbox_usd_rate(other.cb, &rate), OV_OK);
	env_client_close(&other);
	CHECK_INT(standin_stat(&e.s, "logins"), 1);
	CHECK_INT(standin_stat(&e.s, "refreshes"), 0);
	CHECK(stored_token(e.st, a2, r2, sizeof(a2), &exp));
	CHECK_STR(a2, a1);
	env_down(&e);
}

static void
test_refresh_when_near_expiry(void)
{
	struct env e;
	enum cianbox_token_action did = CIANBOX_TOKEN_KEPT;
	char a1[600], r1[600], a2[600], r2[600];
	int64_t exp1 = 0, exp2 = 0, exp = 0;

	if (env_up(&e, NULL) != 0 ||
	    standin_control(&e.s, "{\"expires_in\": 3600}") != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_token_ensure(e.cb, 7200, &did, &exp), OV_OK);
	CHECK_INT(did, CIANBOX_TOKEN_LOGGED_IN);
	CHECK(stored_token(e.st, a1, r1, sizeof(a1), &exp1));
	/* One hour left, two wanted: refreshed, same refresh token. */
	CHECK_INT(cianbox_token_ensure(e.cb, 7200, &did, &exp), OV_OK);
	CHECK_INT(did, CIANBOX_TOKEN_REFRESHED);
	CHECK(stored_token(e.st, a2, r2, sizeof(a2), &exp2));
	CHECK(strcmp(a1, a2) != 0);
	CHECK_STR(r2, r1);
	CHECK_INT(exp, exp2);
	CHECK_INT(standin_stat(&e.s, "logins"), 1);
	CHECK_INT(standin_stat(&e.s, "refreshes"), 1);
	/* Enough left for what is asked: nothing happens. */
	CHECK_INT(cianbox_token_ensure(e.cb, 600, &did, NULL), OV_OK);
	CHECK_INT(did, CIANBOX_TOKEN_KEPT);
	CHECK_INT(standin_stat(&e.s, "refreshes"), 1);
	env_down(&e);
}

struct collect {
	size_t n;
	int64_t last_id;
	bool ordered;
	struct cianbox_producto first[12];
};

static int
collect_producto(void *arg, const struct cianbox_producto *p)
{
	struct collect *c = arg;

	if (c->n < 12)
		c->first[c->n] = *p;
	if (p->id <= c->last_id)
		c->ordered = false;
	c->last_id = p->id;
	c->n++;
	return OV_OK;
}

static void
test_token_expires_mid_sync(void)
{
	static const char *const args[] = { "--products", "450", NULL };
	struct env e;
	struct collect c = { 0, 0, true, { { 0 } } };
	struct cianbox_walk_stats ws;

	if (env_up(&e, args) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	/* The token dies after the first page. */
	CHECK(standin_control(&e.s, "{\"expire_after\": 1}") == 0);
	CHECK_INT(cianbox_productos_each(e.cb, collect_producto, &c, &ws), OV_OK);
	CHECK_INT(c.n, 450);
	CHECK(c.ordered);
	CHECK_INT(ws.pages, 3);
	CHECK_INT(standin_stat(&e.s, "logins"), 1);
	CHECK_INT(standin_stat(&e.s, "refreshes"), 1);
	/* Page 2 twice: refused, then retried once with the new token. */
	CHECK_INT(standin_stat(&e.s, "requests.GET productos"), 4);
	env_down(&e);
}

static void
test_error_naming_the_token_renews(void)
{
	struct env e;
	double rate;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	/* HTTP 200 with {"status":"error","message":"El access_token expiró"} */
	CHECK(standin_control(&e.s, "{\"token_error_200\": true, "
	    "\"expire_tokens\": true}") == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	CHECK_INT(standin_stat(&e.s, "refreshes"), 1);
	CHECK_INT(standin_stat(&e.s, "logins"), 1);
	env_down(&e);
}

static void
test_refused_refresh_falls_back_to_login(void)
{
	struct env e;
	double rate;
	char a1[600], r1[600], a2[600], r2[600];
	int64_t exp;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	CHECK(stored_token(e.st, a1, r1, sizeof(a1), &exp));
	CHECK(standin_control(&e.s, "{\"refuse_refresh\": true, "
	    "\"expire_tokens\": true}") == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	CHECK_INT(standin_stat(&e.s, "refresh_refused"), 1);
	CHECK_INT(standin_stat(&e.s, "logins"), 2);
	CHECK(stored_token(e.st, a2, r2, sizeof(a2), &exp));
	CHECK(strcmp(a1, a2) != 0);
	CHECK(strcmp(r1, r2) != 0);    /* the login brought a new one */
	env_down(&e);
}

static void
test_one_renewal_serves_every_process(void)
{
	struct env e, b;
	double rate;

	/* Two processes hold the same token; it dies; both call. */
	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	memset(&b, 0, sizeof(b));
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	CHECK(env_client(&b) == 0);
	if (b.cb != NULL)
		CHECK_INT(cianbox_usd_rate(b.cb, &rate), OV_OK);
	CHECK(standin_control(&e.s, "{\"expire_tokens\": true}") == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	if (b.cb != NULL)
		CHECK_INT(cianbox_usd_rate(b.cb, &rate), OV_OK);
	/* The second found the first one's token in the store. */
	CHECK_INT(standin_stat(&e.s, "refreshes"), 1);
	CHECK_INT(standin_stat(&e.s, "logins"), 1);
	env_client_close(&b);
	env_down(&e);
}

static void
test_fifty_processes_one_login(void)
{
	enum { N = 50 };
	struct env e;
	pid_t pids[N];
	int gate[2], ok = 0;

	if (env_up(&e, NULL) != 0 || pipe(gate) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	/* The store exists (schema created); the login is slow, so every
	 * process arrives while the first one is logging in. */
	env_client_close(&e);
	CHECK(standin_control(&e.s, "{\"login_delay_ms\": 400}") == 0);
	fflush(NULL);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct env c;
			char x;
			double rate;
			int rc;

			close(gate[1]);
			if (read(gate[0], &x, 1) < 0)  /* all start together */
				_exit(3);
			memset(&c, 0, sizeof(c));
			if (env_client(&c) != 0)
				_exit(2);
			rc = cianbox_usd_rate(c.cb, &rate);
			if (rc != OV_OK)
				fprintf(stderr, "  child: %s\n",
				    cianbox_last_error(c.cb));
			env_client_close(&c);
			_exit(rc == OV_OK ? 0 : 1);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < N; i++) {
		int status;

		if (pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	}
	CHECK_INT(ok, N);
	CHECK_INT(standin_stat(&e.s, "logins"), 1);
	CHECK_INT(standin_stat(&e.s, "refreshes"), 0);
	CHECK_INT(standin_stat(&e.s, "requests.GET general/cotizaciones"), N);
	env_down(&e);
}

/* ---- lists and fields ------------------------------------------------------- */

static void
test_paging_to_the_end(void)
{
	static const char *const args[] = { "--products", "1003", NULL };
	struct env e;
	struct collect c = { 0, 0, true, { { 0 } } };
	struct cianbox_walk_stats ws;

	if (env_up(&e, args) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_productos_each(e.cb, collect_producto, &c, &ws), OV_OK);
	CHECK_INT(c.n, 1003);
	CHECK_INT(ws.items, 1003);
	CHECK_INT(ws.pages, 6);          /* 200 a page, stops at total_pages */
	CHECK(c.ordered);
	/* Without total_pages, an empty page ends it. */
	CHECK(standin_control(&e.s, "{\"omit_total_pages\": true, "
	    "\"reset_stats\": true}") == 0);
	memset(&c, 0, sizeof(c));
	c.ordered = true;
	CHECK_INT(cianbox_productos_each(e.cb, collect_producto, &c, &ws), OV_OK);
	CHECK_INT(c.n, 1003);
	CHECK_INT(ws.pages, 7);
	CHECK_INT(standin_stat(&e.s, "requests.GET productos"), 7);
	env_down(&e);
}

static const struct cianbox_producto *
find_producto(const struct collect *c, int64_t id)
{
	for (size_t i = 0; i < c->n && i < 12; i++)
		if (c->first[i].id == id)
			return &c->first[i];
	return NULL;
}

static bool
near(double a, double b)
{
	return a - b < 0.0051 && b - a < 0.0051;
}

static void
test_numbers_as_numbers_and_strings(void)
{
	static const char *const args[] = { "--products", "10", NULL };
	struct env e;
	struct collect c = { 0, 0, true, { { 0 } } };
	const struct cianbox_producto *p;

	if (env_up(&e, args) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_productos_each(e.cb, collect_producto, &c, NULL), OV_OK);
	CHECK_INT(c.n, 10);
	/* Fixture item, numbers as JSON numbers. */
	p = find_producto(&c, 10452);
	CHECK(p != NULL);
	if (p != NULL) {
		CHECK_STR(p->codigo, "DH-HAC-HDW1400TP");
		CHECK_STR(p->marca, "Dahua");
		CHECK_STR(p->nombre, "Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm");
		CHECK(near(p->precio_neto, 48.5));
		CHECK(near(p->precio_final, 58.69));
		CHECK(near(p->iva, 21));
		CHECK_INT(p->id_moneda, 2);
		CHECK(near(p->stock, 12));
		CHECK(p->vigente);
	}
	p = find_producto(&c, 10477);
	CHECK(p != NULL && near(p->iva, 10.5) && p->oferta &&
	    near(p->precio_final, 7.96));
	/* Generated item with every number as a string ("8.7000"). */
	p = find_producto(&c, 20001);
	CHECK(p != NULL);
	if (p != NULL) {
		CHECK(near(p->precio_neto, 8.7));
		CHECK(near(p->precio_final, 10.53));
		CHECK(near(p->stock, 13));
		CHECK(near(p->iva, 21));
		CHECK(p->vigente);            /* "1" */
	}
	/* Null description, no barcode, no price list: neto plus IVA. */
	p = find_producto(&c, 20000);
	CHECK(p != NULL);
	if (p != NULL) {
		CHECK_STR(p->descripcion, "");
		CHECK_STR(p->codigo_barras, "");
		CHECK(near(p->iva, 10.5));
		CHECK(near(p->precio_neto, 5.0));
		CHECK(p->precio_final > 5.51 && p->precio_final < 5.54);
		CHECK_INT(p->id_moneda, 0);
	}
	env_down(&e);
}

static void
test_clientes_ventas_cotizacion(void)
{
	struct env e;
	struct cianbox_cliente cl;
	struct cianbox_venta v[CIANBOX_VENTAS_MAX];
	size_t n = 0;
	bool found = false;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_cliente_by_id(e.cb, 201, &cl, &found), OV_OK);
	CHECK(found);
	CHECK_STR(cl.razon, "Gómez Martín Sistemas de Seguridad");
	CHECK_STR(cl.numero_documento, "20284567898");
	CHECK(near(cl.saldo, 1843.75));
	CHECK(near(cl.limite, 5000));
	CHECK(cl.ctacte);
	CHECK_INT(cl.plazo, 30);
	CHECK(phone_match(cl.celular, "5493415551234"));
	CHECK_INT(cianbox_cliente_by_documento(e.cb, "30-71234567-1", &cl,
	    &found), OV_OK);
	CHECK(found && cl.id == 203 && near(cl.saldo, -120.5));
	CHECK(!phone_match(cl.celular, "5493415551234"));   /* "1234" */
	CHECK_INT(cianbox_cliente_by_id(e.cb, 999999, &cl, &found), OV_OK);
	CHECK(!found);
	CHECK_INT(cianbox_cliente_by_documento(e.cb, "20;drop", &cl, &found),
	    OV_EINVAL);

	CHECK_INT(cianbox_ventas_recent(e.cb, "20284567898", 10, v, &n), OV_OK);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_INT(v[0].id, 88120);      /* newest first */
		CHECK_INT(v[1].id, 87311);
		CHECK_INT(v[2].id, 80001);
		CHECK_STR(v[0].fecha, "2026-11-03");
		CHECK(near(v[0].total, 1843.75));   /* "1843.7500" */
		CHECK(v[0].cta_cte && !v[1].cta_cte && !v[0].anulado);
		CHECK_STR(v[0].numero, "00012877");
		CHECK_STR(v[0].punto_venta, "0003");
		CHECK_INT(v[0].cliente_id, 201);
	}
	CHECK_INT(cianbox_ventas_recent(e.cb, "20284567898", 2, v, &n), OV_OK);
	CHECK_INT(n, 2);
	CHECK_INT(cianbox_ventas_recent(e.cb, "27999999990", 5, v, &n), OV_OK);
	CHECK_INT(n, 0);
	env_down(&e);
}

static void
test_dollar_rate_cached_for_every_process(void)
{
	struct env e, other;
	double rate = 0;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_usd_rate_cached(e.cb, 3600, &rate), OV_OK);
	CHECK(near(rate, 1045.5));
	CHECK_INT(cianbox_usd_rate_cached(e.cb, 3600, &rate), OV_OK);
	memset(&other, 0, sizeof(other));
	CHECK(env_client(&other) == 0);
	rate = 0;
	if (other.cb != NULL)
		CHECK_INT(cianbox_usd_rate_cached(other.cb, 3600, &rate), OV_OK);
	CHECK(near(rate, 1045.5));
	env_client_close(&other);
	/* Three answers, one question to Cianbox. */
	CHECK_INT(standin_stat(&e.s, "requests.GET general/cotizaciones"), 1);
	/* A rate fetched two hours ago is too old for one hour. */
	char stale[64];
	snprintf(stale, sizeof(stale), "999.000000 %lld",
	    (long long)time(NULL) - 7200);
	CHECK_INT(store_token_put(e.st, "cianbox_usd_rate", stale,
	    (int64_t)time(NULL) + 80000), OV_OK);
	CHECK_INT(cianbox_usd_rate_cached(e.cb, 3600, &rate), OV_OK);
	CHECK(near(rate, 1045.5));
	CHECK_INT(standin_stat(&e.s, "requests.GET general/cotizaciones"), 2);
	/* ... but fine for three hours. */
	CHECK_INT(store_token_put(e.st, "cianbox_usd_rate", stale,
	    (int64_t)time(NULL) + 80000), OV_OK);
	CHECK_INT(cianbox_usd_rate_cached(e.cb, 3 * 3600, &rate), OV_OK);
	CHECK(near(rate, 999));
	CHECK_INT(standin_stat(&e.s, "requests.GET general/cotizaciones"), 2);
	CHECK_INT(cianbox_usd_rate_cached(e.cb, 0, &rate), OV_EINVAL);
	env_down(&e);
}

/* ---- failures ------------------------------------------------------------ */

static void
test_server_errors_retried(void)
{
	struct env e;
	double rate;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	CHECK(standin_control(&e.s, "{\"fail_next\": 2, \"reset_stats\": "
	    "true}") == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	CHECK_INT(standin_stat(&e.s, "errors_500"), 2);
	CHECK_INT(standin_stat(&e.s, "requests.GET general/cotizaciones"), 3);
	/* More failures than tries: an error that says so. */
	CHECK(standin_control(&e.s, "{\"fail_next\": 5}") == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_EREMOTE);
	CHECK(strstr(cianbox_last_error(e.cb), "HTTP 500") != NULL);
	env_down(&e);
}

static void
test_slow_answer_times_out(void)
{
	struct env e;
	double rate;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	/* env_up sets 3000 ms: open a client with 800 ms instead. */
	env_client_close(&e);
	setenv("CIANBOX_TIMEOUT_MS", "800", 1);
	CHECK(env_client(&e) == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	/* One slow answer: the retry gets through. */
	CHECK(standin_control(&e.s, "{\"slow_next\": 1, \"slow_ms\": 3000}") == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	/* Slow every time: a time-out error, after the tries. */
	CHECK(standin_control(&e.s, "{\"slow_next\": 3, \"slow_ms\": 3000}") == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_ETIMEOUT);
	CHECK(strstr(cianbox_last_error(e.cb), "no answer within 800 ms") != NULL);
	CHECK(strstr(cianbox_last_error(e.cb), "CBX_AT-") == NULL);
	env_down(&e);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000L +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* A web page's budget (the inbox's invoices): a deadline bounds the
 * whole call, tries, backoff and a slow login included. */
static void
test_deadline_bounds_a_call(void)
{
	struct env e;
	struct cianbox_venta v[5];
	struct timespec t0;
	size_t n = 0;
	int rc;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	CHECK_INT(cianbox_ventas_recent(e.cb, "20284567898", 5, v, &n), OV_OK);
	/* A try may take 3000 ms; the deadline cuts it at 1 s. */
	CHECK(standin_control(&e.s, "{\"slow_next\": 1, \"slow_ms\": 4000}")
	    == 0);
	cianbox_set_deadline(e.cb, 1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = cianbox_ventas_recent(e.cb, "20284567898", 5, v, &n);
	CHECK_INT(rc, OV_ETIMEOUT);
	CHECK(ms_since(&t0) < 1600);
	CHECK(strstr(cianbox_last_error(e.cb), "ventas") != NULL);
	/* Spent: the next call fails at once, without asking. */
	CHECK(standin_control(&e.s, "{\"reset_stats\": true}") == 0);
	usleep(1100 * 1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(cianbox_ventas_recent(e.cb, "20284567898", 5, v, &n),
	    OV_ETIMEOUT);
	CHECK(ms_since(&t0) < 300);
	CHECK_INT(standin_stat(&e.s, "requests.GET ventas"), 0);
	/* Server errors within the budget are still retried. */
	cianbox_set_deadline(e.cb, 2000);
	CHECK(standin_control(&e.s, "{\"fail_next\": 1}") == 0);
	CHECK_INT(cianbox_ventas_recent(e.cb, "20284567898", 5, v, &n), OV_OK);
	CHECK_INT(n, 3);
	/* A login that takes longer than the budget. */
	cianbox_set_deadline(e.cb, 0);
	CHECK(standin_control(&e.s, "{\"expire_tokens\": true, "
	    "\"refuse_refresh\": true, \"login_delay_ms\": 4000}") == 0);
	cianbox_set_deadline(e.cb, 800);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(cianbox_ventas_recent(e.cb, "20284567898", 5, v, &n) != OV_OK);
	CHECK(ms_since(&t0) < 1400);
	/* No deadline: the ordinary timeouts again. */
	cianbox_set_deadline(e.cb, 0);
	CHECK(standin_control(&e.s, "{\"login_delay_ms\": 0}") == 0);
	CHECK_INT(cianbox_ventas_recent(e.cb, "20284567898", 5, v, &n), OV_OK);
	env_down(&e);
}

static void
test_error_texts(void)
{
	static const struct {
		const char *control, *want;
	} cases[] = {
		{ "{\"error_next\": {\"statusMessage\": \"Cuenta suspendida\"}}",
		    "Cuenta suspendida" },
		{ "{\"error_next\": {\"message\": \"Primero\", \"statusMessage\": "
		    "\"Segundo\"}}", "Primero" },
		{ "{\"error_next\": {\"body\": {\"description\": \"Sin permiso "
		    "para general\"}}}", "Sin permiso para general" },
		{ "{\"error_next\": {\"body\": {\"descripcion\": \"Módulo no "
		    "habilitado\"}, \"http\": 403}}", "Módulo no habilitado" },
	};
	struct env e;
	double rate;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(standin_control(&e.s, cases[i].control) == 0);
		CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_EREMOTE);
		CHECK_STR(cianbox_last_error(e.cb), cases[i].want);
	}
	/* And it works again afterwards, with the same token. */
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	CHECK_INT(standin_stat(&e.s, "logins"), 1);
	env_down(&e);
}

static void
test_wrong_password_and_missing_key(void)
{
	struct env e;
	struct config *cfg = NULL;
	struct cianbox *cb = NULL;
	char err[256];
	double rate;

	if (env_up(&e, NULL) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	env_client_close(&e);
	setenv("CIANBOX_PASS", "clave-equivocada", 1);
	CHECK(env_client(&e) == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_EAUTH);
	CHECK(strstr(cianbox_last_error(e.cb),
	    "Usuario o contraseña incorrectos") != NULL);
	CHECK(strstr(cianbox_last_error(e.cb), "clave-equivocada") == NULL);
	CHECK_INT(standin_stat(&e.s, "login_refused"), 1);

	unsetenv("CIANBOX_ACCOUNT");
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(cianbox_open(&cb, cfg, e.st, err, sizeof(err)), OV_ECONFIG);
	CHECK_STR(err, "missing configuration key CIANBOX_ACCOUNT");
	CHECK(cb == NULL);
	config_free(cfg);
	env_down(&e);
}

static void
test_secrets_stay_out_of_logs(void)
{
	static const char *const args[] = { "--products", "450", NULL };
	struct env e;
	struct collect c = { 0, 0, true, { { 0 } } };
	char logpath[400], buf[65536];
	int fd, saved;
	ssize_t n;
	double rate;

	if (env_up(&e, args) != 0) {
		CHECK(0);
		env_down(&e);
		return;
	}
	snprintf(logpath, sizeof(logpath), "%s/log", e.s.dir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved = dup(STDERR_FILENO);
	CHECK(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_set_level(LOG_DEBUG);
	/* Login, a walk, a token dying mid-way, a refused refresh, a 500. */
	CHECK(standin_control(&e.s, "{\"expire_after\": 1, \"fail_next\": 1}") == 0);
	CHECK_INT(cianbox_productos_each(e.cb, collect_producto, &c, NULL), OV_OK);
	CHECK(standin_control(&e.s, "{\"refuse_refresh\": true, "
	    "\"expire_tokens\": true}") == 0);
	CHECK_INT(cianbox_usd_rate(e.cb, &rate), OV_OK);
	log_set_level(LOG_WARN);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	fd = open(logpath, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	/* What happened is there; no token or password is. */
	CHECK(strstr(buf, "/micuenta/api/v2/productos") != NULL);
	CHECK(strstr(buf, "/micuenta/api/v2/auth/refresh") != NULL);
	CHECK(strstr(buf, "CBX_AT-") == NULL);
	CHECK(strstr(buf, "CBX_RT-") == NULL);
	CHECK(strstr(buf, "access_token=") == NULL);
	CHECK(strstr(buf, PASSWORD) == NULL);
	env_down(&e);
}

int
main(void)
{
	if (access(STANDIN_SCRIPT, R_OK) != 0) {
		fprintf(stderr, "run from the repository root\n");
		return 1;
	}
	log_init("test_cianbox");
	log_set_level(LOG_WARN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	RUN(test_login_once_then_reuse_across_processes);
	RUN(test_refresh_when_near_expiry);
	RUN(test_token_expires_mid_sync);
	RUN(test_error_naming_the_token_renews);
	RUN(test_refused_refresh_falls_back_to_login);
	RUN(test_one_renewal_serves_every_process);
	RUN(test_fifty_processes_one_login);
	RUN(test_paging_to_the_end);
	RUN(test_numbers_as_numbers_and_strings);
	RUN(test_clientes_ventas_cotizacion);
	RUN(test_dollar_rate_cached_for_every_process);
	RUN(test_server_errors_retried);
	RUN(test_slow_answer_times_out);
	RUN(test_deadline_bounds_a_call);
	RUN(test_error_texts);
	RUN(test_wrong_password_and_missing_key);
	RUN(test_secrets_stay_out_of_logs);
	curl_global_cleanup();
	return check_finish();
}
