/*
 * test_llm.c - the OpenAI client (lib/llm.h) against the scripted
 * OpenAI-compatible stand-in, tests/standins/openai_server.py, which this
 * program starts with /usr/bin/python3 on 127.0.0.1 (any free port).
 *
 * Each test scripts the "model" (POST /__script), runs a turn, and checks
 * what a caller and the model would see: the callback's arguments, the
 * text returned, the error code that sends the conversation to its rules,
 * and the requests the stand-in recorded (GET /__requests).
 *
 * Time: budgets are real, on CLOCK_MONOTONIC. Elapsed times are checked
 * only as lower bounds the client must respect (a Retry-After was waited
 * for) or as generous upper bounds that catch a hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "check.h"
#include "config.h"
#include "err.h"
#include "llm.h"
#include "log.h"
#include "standin.h"

#define KEY "sk-test-ovidio-9f8e7d6c5b4a3928"
#define WRONG_KEY "sk-wrong-ovidio-0011223344556677"
#define MODEL "gpt-4o-mini"
#define SERVER "tests/standins/openai_server.py"

static char tmpdir[] = "/tmp/ovidio-llm-test-XXXXXX";
static struct standin_proc server;
static char base_url[128];

/* ---- the tools the conversation will declare --------------------------- */

static const struct llm_param buscar_params[] = {
	{ .name = "texto", .type = LLM_STRING, .required = 1,
	  .description = "Qué busca el cliente", .min_len = 1, .max_len = 100 },
	{ .name = "solo_con_stock", .type = LLM_BOOLEAN },
	{ .name = "limite", .type = LLM_INTEGER, .imin = 1, .imax = 10 },
};
static const struct llm_param stock_params[] = {
	{ .name = "codigo", .type = LLM_STRING, .required = 1, .min_len = 1,
	  .max_len = 40 },
	{ .name = "cantidad", .type = LLM_INTEGER, .required = 1, .imin = 1,
	  .imax = 10000 },
};
static const struct llm_param facturas_params[] = {
	{ .name = "cantidad", .type = LLM_INTEGER, .imin = 1, .imax = 10 },
};
static const struct llm_param item_fields[] = {
	{ .name = "codigo", .type = LLM_STRING, .required = 1, .min_len = 1,
	  .max_len = 40 },
	{ .name = "cantidad", .type = LLM_INTEGER, .required = 1, .imin = 1,
	  .imax = 10000 },
};
static const struct llm_param presupuesto_params[] = {
	{ .name = "items", .type = LLM_ARRAY, .required = 1, .min_items = 1,
	  .max_items = 20, .items = item_fields, .nitems = 2 },
};
static const struct llm_param confirmar_params[] = {
	{ .name = "numero", .type = LLM_INTEGER, .imin = 1,
	  .imax = 999999999 },
};
static const char *const motivos[] = { "consulta", "reclamo", "compra",
	NULL };
static const struct llm_param vendedor_params[] = {
	{ .name = "motivo", .type = LLM_STRING, .max_len = 20,
	  .enum_values = motivos },
	{ .name = "descuento", .type = LLM_NUMBER, .dmin = 0, .dmax = 50 },
};

static const struct llm_tool tools[] = {
	{ "buscar_productos", "Busca productos del catálogo", buscar_params, 3 },
	{ "consultar_stock", "Stock de un producto para una cantidad",
	  stock_params, 2 },
	{ "saldo_cuenta", "Saldo de la cuenta del cliente", NULL, 0 },
	{ "ultimas_facturas", "Últimas facturas", facturas_params, 1 },
	{ "armar_presupuesto", "Arma un presupuesto", presupuesto_params, 1 },
	{ "confirmar_presupuesto", "Confirma el presupuesto", confirmar_params,
	  1 },
	{ "hablar_con_vendedor", "Deriva a un vendedor", vendedor_params, 2 },
};
#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

/* ---- the callback ------------------------------------------------------- */

struct calls {
	int count;
	char last_tool[64];
	char *last_args;          /* printed arguments of the last call */
	size_t result_size;       /* 0: a normal result */
	int fail;                 /* return this code instead */
};

#define RESULT_JSON "{\"productos\":[{\"codigo\":\"DH-IPC-4MP\"," \
	"\"precio\":41250.5,\"stock\":12}]}"

static int
tool_cb(void *arg, const struct llm_tool *tool, const cJSON *args,
    char **result)
{
	struct calls *c = arg;

	c->count++;
	snprintf(c->last_tool, sizeof(c->last_tool), "%s", tool->name);
	free(c->last_args);
	c->last_args = cJSON_PrintUnformatted(args);
	if (c->fail != 0) {
		*result = NULL;
		return c->fail;
	}
	if (c->result_size > 0) {
		*result = malloc(c->result_size + 1);
		if (*result == NULL)
			return OV_ENOMEM;
		memset(*result, 'x', c->result_size);
		(*result)[c->result_size] = '\0';
		return OV_OK;
	}
	*result = strdup(RESULT_JSON);
	return *result == NULL ? OV_ENOMEM : OV_OK;
}

/* ---- the stand-in ------------------------------------------------------- */

static bool
server_start(void)
{
	static const char *const args[] = { "--key", KEY, NULL };

	if (standin_proc_start(&server, SERVER, tmpdir, "server", true,
	    args) != 0)
		return false;
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d/v1",
	    server.port);
	return true;
}

static void
server_stop(void)
{
	standin_proc_stop(&server);
}

struct buf {
	char *data;
	size_t len;
};

static size_t
buf_write(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	char *d = realloc(b->data, b->len + size * n + 1);

	if (d == NULL)
		return 0;
	memcpy(d + b->len, p, size * n);
	b->len += size * n;
	d[b->len] = '\0';
	b->data = d;
	return size * n;
}

/* GET (body NULL) or POST a control URL of the stand-in; the answer is
 * returned parsed (caller deletes), NULL on failure. */
static cJSON *
control(const char *path, const char *body)
{
	char url[256];
	struct buf b = { NULL, 0 };
	CURL *h = curl_easy_init();
	long status = 0;
	cJSON *out = NULL;

	if (h == NULL)
		return NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server.port,
	    path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (body != NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(h) == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200 && b.data != NULL)
			out = cJSON_Parse(b.data);
	}
	curl_easy_cleanup(h);
	free(b.data);
	return out;
}

static void
script(const char *steps)
{
	cJSON *r = control("/__script", steps);

	CHECK(r != NULL);
	cJSON_Delete(r);
}

/* The chat requests the stand-in received since the last script. */
static cJSON *
requests(void)
{
	cJSON *r = control("/__requests", NULL);

	CHECK(cJSON_IsArray(r));
	return r;
}

static const cJSON *
req_body(const cJSON *reqs, int i)
{
	return cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, i), "body");
}

static const char *
str_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- helpers ------------------------------------------------------------ */

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A client for key (NULL: none configured) and base URL. */
static struct llm *
client(const char *key, const char *base)
{
	struct config *cfg = NULL;
	struct llm *c = NULL;
	char err[256] = "";

	if (key != NULL)
		setenv("OPENAI_API_KEY", key, 1);
	else
		unsetenv("OPENAI_API_KEY");
	setenv("OPENAI_BASE_URL", base, 1);
	setenv("OPENAI_MODEL", MODEL, 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(llm_open(cfg, &c, err, sizeof(err)), OV_OK);
	if (c == NULL)
		fprintf(stderr, "  llm_open: %s\n", err);
	/* The client keeps copies: the configuration may go. */
	config_free(cfg);
	return c;
}

static struct llm_conv *
conversation(const char *user_text)
{
	struct llm_conv *conv = NULL;

	CHECK_INT(llm_conv_new(&conv), OV_OK);
	CHECK_INT(llm_conv_system(conv, "Sos Ovidio, el asistente de ventas "
	    "de GRUPO SER. Respondé corto y con voseo."), OV_OK);
	CHECK_INT(llm_conv_user(conv, user_text), OV_OK);
	return conv;
}

/* Run one turn against the stand-in with the given script. */
static int
turn(const char *steps, const char *key, long budget_ms, struct calls *calls,
    struct llm_result *res, cJSON **reqs)
{
	struct llm *c = client(key, base_url);
	struct llm_conv *conv = conversation("¿Tenés domos de 4 MP?");
	int rc;

	script(steps);
	rc = llm_run(c, conv, tools, NTOOLS, tool_cb, calls, budget_ms, res);
	if (reqs != NULL)
		*reqs = requests();
	llm_conv_free(conv);
	llm_close(c);
	return rc;
}

static char *
file_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n + 1)) !=
	    NULL) {
		size_t got = fread(data, 1, (size_t)n, f);
		data[got] = '\0';
	}
	fclose(f);
	return data;
}

/* ---- validation, no server ---------------------------------------------- */

static int
validate(const char *tool, const char *args, char *err, size_t errlen)
{
	cJSON *parsed = (cJSON *)1;
	int rc = llm_validate_arguments(tools, NTOOLS, tool, args, &parsed,
	    err, errlen);

	if (rc == OV_OK)
		CHECK(cJSON_IsObject(parsed));
	else
		CHECK(parsed == NULL);
	cJSON_Delete(parsed);
	return rc;
}

static void
test_validate_accepts_good_arguments(void)
{
	char err[200];
	cJSON *p = NULL;

	CHECK_INT(validate("buscar_productos", "{\"texto\":\"domo 4mp\"}", err,
	    sizeof(err)), OV_OK);
	CHECK_INT(validate("buscar_productos", " {\"texto\":\"cámara "
	    "bullet\", \"solo_con_stock\":true, \"limite\":5} ", err,
	    sizeof(err)), OV_OK);
	CHECK_INT(validate("consultar_stock", "{\"codigo\":\"DH-1\","
	    "\"cantidad\":10000}", err, sizeof(err)), OV_OK);
	CHECK_INT(validate("armar_presupuesto", "{\"items\":[{\"codigo\":"
	    "\"DH-1\",\"cantidad\":2},{\"codigo\":\"HK-7\",\"cantidad\":1}]}",
	    err, sizeof(err)), OV_OK);
	CHECK_INT(validate("saldo_cuenta", "{}", err, sizeof(err)), OV_OK);
	/* Some compatible servers send "" for a tool without parameters. */
	CHECK_INT(validate("saldo_cuenta", "", err, sizeof(err)), OV_OK);
	CHECK_INT(validate("hablar_con_vendedor", "{\"motivo\":\"reclamo\","
	    "\"descuento\":12.5}", err, sizeof(err)), OV_OK);
	CHECK_INT(validate("ultimas_facturas", "{\"cantidad\":3.0}", err,
	    sizeof(err)), OV_OK);

	/* A null optional value is dropped: the callback sees it absent. */
	CHECK_INT(llm_validate_arguments(tools, NTOOLS, "buscar_productos",
	    "{\"texto\":\"dvr\",\"limite\":null}", &p, err, sizeof(err)),
	    OV_OK);
	CHECK(cJSON_GetObjectItem(p, "limite") == NULL);
	CHECK_STR(str_at(p, "texto"), "dvr");
	cJSON_Delete(p);
}

static void
test_validate_refuses_bad_arguments(void)
{
	static const struct {
		const char *tool, *args;
		int rc;
		const char *says;     /* part of the message */
	} cases[] = {
		{ "buscar_productos", "{texto: domo", OV_EPARSE, "not valid JSON" },
		{ "buscar_productos", "{\"texto\":\"a\"} x", OV_EPARSE, "JSON" },
		{ "buscar_productos", "[\"domo\"]", OV_EINVAL, "object" },
		{ "buscar_productos", "\"domo\"", OV_EINVAL, "object" },
		{ "buscar_productos", "{}", OV_EINVAL, "texto is required" },
		{ "buscar_productos", "", OV_EINVAL, "texto is required" },
		{ "buscar_productos", "{\"texto\":null}", OV_EINVAL,
		  "texto is required" },
		{ "buscar_productos", "{\"texto\":5}", OV_EINVAL,
		  "texto must be a string" },
		{ "buscar_productos", "{\"texto\":\"\"}", OV_EINVAL, "too short" },
		{ "buscar_productos", "{\"texto\":{\"$ne\":1}}", OV_EINVAL,
		  "must be a string" },
		{ "buscar_productos", "{\"texto\":[\"a\"]}", OV_EINVAL,
		  "must be a string" },
		{ "buscar_productos", "{\"texto\":\"a\\u0007b\"}", OV_EINVAL,
		  "control" },
		{ "buscar_productos", "{\"texto\":\"\xff\xfe\"}", OV_EINVAL,
		  "UTF-8" },
		{ "buscar_productos", "{\"texto\":\"a\",\"sql\":\"1\"}", OV_EINVAL,
		  "unknown parameter" },
		{ "buscar_productos", "{\"texto\":\"a\",\"texto\":\"b\"}",
		  OV_EINVAL, "twice" },
		{ "buscar_productos", "{\"texto\":\"a\",\"solo_con_stock\":"
		  "\"true\"}", OV_EINVAL, "true or false" },
		{ "buscar_productos", "{\"texto\":\"a\",\"limite\":11}", OV_EINVAL,
		  "out of range" },
		{ "consultar_stock", "{\"codigo\":\"A\",\"cantidad\":0}",
		  OV_EINVAL, "cantidad is out of range" },
		{ "consultar_stock", "{\"codigo\":\"A\",\"cantidad\":-3}",
		  OV_EINVAL, "out of range" },
		{ "consultar_stock", "{\"codigo\":\"A\",\"cantidad\":10001}",
		  OV_EINVAL, "out of range" },
		{ "consultar_stock", "{\"codigo\":\"A\",\"cantidad\":1e300}",
		  OV_EINVAL, "out of range" },
		{ "consultar_stock", "{\"codigo\":\"A\",\"cantidad\":2.5}",
		  OV_EINVAL, "whole number" },
		{ "consultar_stock", "{\"codigo\":\"A\",\"cantidad\":\"3\"}",
		  OV_EINVAL, "whole number" },
		{ "consultar_stock", "{\"codigo\":\"A\"}", OV_EINVAL,
		  "cantidad is required" },
		{ "armar_presupuesto", "{\"items\":[]}", OV_EINVAL, "1 to 20" },
		{ "armar_presupuesto", "{\"items\":{\"codigo\":\"A\"}}",
		  OV_EINVAL, "must be a list" },
		{ "armar_presupuesto", "{\"items\":[1]}", OV_EINVAL,
		  "items[0] must be an object" },
		{ "armar_presupuesto", "{\"items\":[{\"codigo\":\"A\"}]}",
		  OV_EINVAL, "items[0].cantidad is required" },
		{ "armar_presupuesto", "{\"items\":[{\"codigo\":\"A\",\"cantidad\""
		  ":1},{\"codigo\":{\"x\":1},\"cantidad\":1}]}", OV_EINVAL,
		  "items[1].codigo must be a string" },
		{ "armar_presupuesto", "{\"items\":[{\"codigo\":\"A\",\"cantidad\""
		  ":1,\"precio\":1}]}", OV_EINVAL, "unknown parameter in items[0]" },
		{ "armar_presupuesto", "{\"items\":[[{\"codigo\":\"A\","
		  "\"cantidad\":1}]]}", OV_EINVAL, "must be an object" },
		{ "hablar_con_vendedor", "{\"motivo\":\"otra cosa\"}", OV_EINVAL,
		  "allowed values" },
		{ "hablar_con_vendedor", "{\"descuento\":90}", OV_EINVAL,
		  "out of range" },
		{ "borrar_todo", "{}", OV_EINVAL, "unknown tool" },
		{ "", "{}", OV_EINVAL, "unknown tool" },
	};
	char err[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		err[0] = '\0';
		rc = validate(cases[i].tool, cases[i].args, err, sizeof(err));
		if (rc != cases[i].rc || strstr(err, cases[i].says) == NULL) {
			fprintf(stderr, "  case %zu (%s %s): rc %d, err \"%s\"\n",
			    i, cases[i].tool, cases[i].args, rc, err);
			CHECK_INT(rc, cases[i].rc);
			CHECK(strstr(err, cases[i].says) != NULL);
		}
	}
}

static void
test_validate_bounds_length_and_nesting(void)
{
	char err[200], args[LLM_ARGUMENTS_MAX + 64], deep[4001];
	size_t n;

	/* Strings: 100 bytes is the bound, 101 is refused. */
	n = (size_t)snprintf(args, sizeof(args), "{\"texto\":\"");
	memset(args + n, 'a', 100);
	memcpy(args + n + 100, "\"}", 3);
	CHECK_INT(validate("buscar_productos", args, err, sizeof(err)), OV_OK);
	memset(args + n, 'a', 101);
	memcpy(args + n + 101, "\"}", 3);
	CHECK_INT(validate("buscar_productos", args, err, sizeof(err)),
	    OV_EINVAL);
	CHECK(strstr(err, "too long") != NULL);

	/* 21 items where 20 are allowed. */
	n = (size_t)snprintf(args, sizeof(args), "{\"items\":[");
	for (int i = 0; i < 21; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n,
		    "%s{\"codigo\":\"A%d\",\"cantidad\":1}", i ? "," : "", i);
	snprintf(args + n, sizeof(args) - n, "]}");
	CHECK_INT(validate("armar_presupuesto", args, err, sizeof(err)),
	    OV_EINVAL);
	CHECK(strstr(err, "1 to 20 items") != NULL);

	/* Whole arguments over the bound. */
	memset(args, ' ', LLM_ARGUMENTS_MAX + 1);
	memcpy(args, "{\"texto\":\"a\"}", 13);
	args[LLM_ARGUMENTS_MAX + 1] = '\0';
	CHECK_INT(validate("buscar_productos", args, err, sizeof(err)),
	    OV_ETOOBIG);

	/* Deep nesting is refused without trouble. */
	memset(deep, '[', 2000);
	memset(deep + 2000, ']', 2000);
	deep[4000] = '\0';
	CHECK(validate("buscar_productos", deep, err, sizeof(err)) != OV_OK);
	deep[0] = '{';
	CHECK(validate("buscar_productos", deep, err, sizeof(err)) != OV_OK);
}

static void
test_tool_table_and_schema(void)
{
	static const struct llm_param bad_int[] = {
		{ .name = "n", .type = LLM_INTEGER, .imin = 5, .imax = 1 },
	};
	static const struct llm_param nested[] = {
		{ .name = "inner", .type = LLM_ARRAY, .max_items = 2,
		  .items = item_fields, .nitems = 2 },
	};
	static const struct llm_param outer[] = {
		{ .name = "outer", .type = LLM_ARRAY, .max_items = 2,
		  .items = nested, .nitems = 1 },
	};
	const struct llm_tool bad_name[] = { { "buscar productos", "x", NULL,
		0 } };
	const struct llm_tool bad_bounds[] = { { "t", "x", bad_int, 1 } };
	const struct llm_tool too_deep[] = { { "t", "x", outer, 1 } };
	const struct llm_tool twice[] = { { "t", "x", NULL, 0 },
		{ "t", "y", NULL, 0 } };
	char err[200];
	cJSON *schema, *t, *fn, *params, *props, *req;
	bool has_texto = false;

	CHECK_INT(llm_tools_check(tools, NTOOLS, err, sizeof(err)), OV_OK);
	CHECK_INT(llm_tools_check(bad_name, 1, err, sizeof(err)), OV_EINVAL);
	CHECK_INT(llm_tools_check(bad_bounds, 1, err, sizeof(err)), OV_EINVAL);
	CHECK_INT(llm_tools_check(too_deep, 1, err, sizeof(err)), OV_EINVAL);
	CHECK_INT(llm_tools_check(twice, 2, err, sizeof(err)), OV_EINVAL);

	schema = llm_tools_schema(tools, NTOOLS);
	CHECK_INT(cJSON_GetArraySize(schema), (int)NTOOLS);
	t = cJSON_GetArrayItem(schema, 0);
	CHECK_STR(str_at(t, "type"), "function");
	fn = cJSON_GetObjectItem(t, "function");
	CHECK_STR(str_at(fn, "name"), "buscar_productos");
	CHECK_STR(str_at(fn, "description"), "Busca productos del catálogo");
	params = cJSON_GetObjectItem(fn, "parameters");
	CHECK_STR(str_at(params, "type"), "object");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(params,
	    "additionalProperties")));
	props = cJSON_GetObjectItem(params, "properties");
	CHECK_STR(str_at(cJSON_GetObjectItem(props, "texto"), "type"),
	    "string");
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(props, "texto"),
	    "maxLength")->valuedouble, 100);
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(props, "limite"),
	    "maximum")->valuedouble, 10);
	req = cJSON_GetObjectItem(params, "required");
	CHECK_INT(cJSON_GetArraySize(req), 1);
	for (int i = 0; i < cJSON_GetArraySize(req); i++)
		if (strcmp(cJSON_GetArrayItem(req, i)->valuestring, "texto") == 0)
			has_texto = true;
	CHECK(has_texto);

	/* armar_presupuesto: an array of objects with bounded fields. */
	t = cJSON_GetArrayItem(schema, 4);
	props = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
	    t, "function"), "parameters"), "properties");
	t = cJSON_GetObjectItem(props, "items");
	CHECK_STR(str_at(t, "type"), "array");
	CHECK_INT(cJSON_GetObjectItem(t, "maxItems")->valuedouble, 20);
	t = cJSON_GetObjectItem(t, "items");
	CHECK_STR(str_at(t, "type"), "object");
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
	    t, "properties"), "cantidad"), "minimum")->valuedouble, 1);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(t, "required")), 2);
	cJSON_Delete(schema);
}

/* ---- replies, no server ------------------------------------------------- */

static void
test_reply_parse_fixtures(void)
{
	static const char *const dirs[] = { "../shared/fixtures/openai",
		"/work/shared/fixtures/openai" };
	char path[512], err[200];
	char *body = NULL;
	struct llm_reply r;
	size_t d;

	for (d = 0; d < 2; d++) {
		snprintf(path, sizeof(path), "%s/tool_call.json", dirs[d]);
		if ((body = file_text(path)) != NULL)
			break;
	}
	CHECK(body != NULL);
	if (body == NULL)
		return;
	CHECK_INT(llm_reply_parse(body, strlen(body), &r, err, sizeof(err)),
	    OV_OK);
	CHECK_INT(r.finish, LLM_FINISH_TOOL_CALLS);
	CHECK(r.content == NULL);
	CHECK_INT(r.ncalls, 1);
	if (r.ncalls == 1) {
		CHECK_STR(r.calls[0].id, "call_7Jq2x");
		CHECK_STR(r.calls[0].name, "buscar_productos");
		CHECK_STR(r.calls[0].arguments,
		    "{\"consulta\":\"domo dahua 4mp\",\"solo_con_stock\":true}");
	}
	llm_reply_free(&r);
	free(body);

	snprintf(path, sizeof(path), "%s/final_text.json", dirs[d]);
	body = file_text(path);
	CHECK(body != NULL);
	if (body == NULL)
		return;
	CHECK_INT(llm_reply_parse(body, strlen(body), &r, err, sizeof(err)),
	    OV_OK);
	CHECK_INT(r.finish, LLM_FINISH_STOP);
	CHECK_INT(r.ncalls, 0);
	CHECK(r.content != NULL && strncmp(r.content, "¡Sí, Martín!",
	    strlen("¡Sí, Martín!")) == 0);
	llm_reply_free(&r);
	free(body);
}

static void
test_reply_parse_refuses_bad_answers(void)
{
	static const struct {
		const char *body;
		int rc;
	} cases[] = {
		{ "", OV_EPARSE },
		{ "null", OV_EPARSE },
		{ "{}", OV_EPARSE },
		{ "{\"choices\":[]}", OV_EPARSE },
		{ "{\"choices\":[{\"message\":\"hola\"}]}", OV_EPARSE },
		{ "{\"choices\":[{\"message\":{\"content\":5}}]}", OV_EPARSE },
		{ "{\"choices\":[{\"message\":{\"tool_calls\":{}}}]}", OV_EPARSE },
		{ "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"a b\","
		  "\"type\":\"function\",\"function\":{\"name\":\"x\","
		  "\"arguments\":\"{}\"}}]}}]}", OV_EINVAL },
		{ "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"a\","
		  "\"type\":\"function\",\"function\":{\"name\":\"rm -rf\","
		  "\"arguments\":\"{}\"}}]}}]}", OV_EINVAL },
		{ "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"a\","
		  "\"type\":\"function\",\"function\":{\"name\":\"x\","
		  "\"arguments\":{}}}]}}]}", OV_EINVAL },
		{ "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"a\","
		  "\"function\":{\"name\":\"x\",\"arguments\":\"{}\"}},{\"id\":"
		  "\"a\",\"function\":{\"name\":\"y\",\"arguments\":\"{}\"}}]}}]}",
		  OV_EINVAL },
		{ "{\"choices\":[{\"message\":{\"content\":\"hola\"}}]} trailing",
		  OV_EPARSE },
	};
	char err[200], big[LLM_CONTENT_MAX + 200], six[2048];
	struct llm_reply r;
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = llm_reply_parse(cases[i].body, strlen(cases[i].body),
		    &r, err, sizeof(err));
		if (rc != cases[i].rc)
			fprintf(stderr, "  case %zu: rc %d\n", i, rc);
		CHECK_INT(rc, cases[i].rc);
		CHECK(r.content == NULL && r.calls == NULL);
	}
	/* An embedded NUL. */
	{
		static const char nul[] = "{\"choices\":[{\"message\":{"
		    "\"content\":\"a\"}}]}\0x";
		CHECK_INT(llm_reply_parse(nul, sizeof(nul) - 1, &r, err,
		    sizeof(err)), OV_EPARSE);
	}

	/* Content over its bound. */
	n = (size_t)snprintf(big, sizeof(big),
	    "{\"choices\":[{\"message\":{\"content\":\"");
	memset(big + n, 'a', LLM_CONTENT_MAX + 1);
	n += LLM_CONTENT_MAX + 1;
	snprintf(big + n, sizeof(big) - n, "\"}}]}");
	CHECK_INT(llm_reply_parse(big, strlen(big), &r, err, sizeof(err)),
	    OV_ETOOBIG);

	/* Six tool calls where five are allowed. */
	n = (size_t)snprintf(six, sizeof(six),
	    "{\"choices\":[{\"message\":{\"tool_calls\":[");
	for (int i = 0; i < 6; i++)
		n += (size_t)snprintf(six + n, sizeof(six) - n,
		    "%s{\"id\":\"c%d\",\"type\":\"function\",\"function\":"
		    "{\"name\":\"saldo_cuenta\",\"arguments\":\"{}\"}}",
		    i ? "," : "", i);
	snprintf(six + n, sizeof(six) - n, "]},\"finish_reason\":"
	    "\"tool_calls\"}]}");
	CHECK_INT(llm_reply_parse(six, strlen(six), &r, err, sizeof(err)),
	    OV_EINVAL);
	CHECK(strstr(err, "6 tool calls") != NULL);
}

/* ---- conversation bounds ------------------------------------------------ */

static void
test_conversation_bounds(void)
{
	struct llm_conv *conv = NULL;
	struct llm *c;
	struct llm_result res;
	enum llm_role role;
	const char *content;
	char text[64], *big;
	cJSON *reqs, *msgs;
	int rc;

	CHECK_INT(llm_conv_new(&conv), OV_OK);
	CHECK_INT(llm_conv_system(conv, "Sos Ovidio."), OV_OK);
	for (int i = 1; i <= 49; i++) {
		snprintf(text, sizeof(text), "mensaje %d", i);
		CHECK_INT(i % 2 ? llm_conv_user(conv, text) :
		    llm_conv_assistant(conv, text), OV_OK);
	}
	/* 50 messages in, 30 kept: the system prompt and the newest 29. */
	CHECK_INT(llm_conv_count(conv), LLM_MAX_MESSAGES);
	CHECK_INT(llm_conv_get(conv, 0, &role, &content), OV_OK);
	CHECK_INT(role, LLM_SYSTEM);
	CHECK_STR(content, "Sos Ovidio.");
	CHECK_INT(llm_conv_get(conv, 1, &role, &content), OV_OK);
	CHECK_STR(content, "mensaje 21");
	CHECK_INT(llm_conv_get(conv, 29, &role, &content), OV_OK);
	CHECK_STR(content, "mensaje 49");
	CHECK_INT(role, LLM_USER);
	CHECK_INT(llm_conv_get(conv, 30, &role, &content), OV_ENOTFOUND);

	/* What the model receives is the same bounded history. */
	c = client(KEY, base_url);
	script("[]");
	rc = llm_run(c, conv, tools, NTOOLS, tool_cb, &(struct calls){ 0 },
	    5000, &res);
	CHECK_INT(rc, OV_OK);
	CHECK_STR(res.text, "¡Hola! ¿En qué te puedo ayudar?");
	llm_result_free(&res);
	reqs = requests();
	msgs = cJSON_GetObjectItem(req_body(reqs, 0), "messages");
	CHECK_INT(cJSON_GetArraySize(msgs), LLM_MAX_MESSAGES);
	CHECK_STR(str_at(cJSON_GetArrayItem(msgs, 0), "role"), "system");
	CHECK_STR(str_at(cJSON_GetArrayItem(msgs, 1), "content"), "mensaje 21");
	CHECK_STR(str_at(cJSON_GetArrayItem(msgs, 29), "content"),
	    "mensaje 49");
	cJSON_Delete(reqs);
	llm_conv_free(conv);

	/* Long text is cut at a character boundary; bad bytes replaced. */
	CHECK_INT(llm_conv_new(&conv), OV_OK);
	/* "a" then ñ (2 bytes) at odd offsets: byte 4096 is mid-character. */
	big = malloc(10001);
	big[0] = 'a';
	for (int i = 1; i + 2 <= 9999; i += 2)
		memcpy(big + i, "ñ", 2);
	big[9999] = '\0';
	CHECK_INT(llm_conv_user(conv, big), OV_OK);
	CHECK_INT(llm_conv_get(conv, 0, &role, &content), OV_OK);
	CHECK_INT(strlen(content), LLM_MESSAGE_MAX - 1);
	CHECK(strncmp(content, big, LLM_MESSAGE_MAX - 1) == 0);
	free(big);
	CHECK_INT(llm_conv_user(conv, "precio\xff ok"), OV_OK);
	CHECK_INT(llm_conv_get(conv, 1, &role, &content), OV_OK);
	CHECK_STR(content, "precio\xef\xbf\xbd ok");
	llm_conv_free(conv);

	/* Dropping an assistant tool request drops its results too (the API
	 * refuses a tool message without it). */
	{
		struct llm_tool_call call = { "call_old", "saldo_cuenta", "{}" };

		CHECK_INT(llm_conv_new(&conv), OV_OK);
		CHECK_INT(llm_conv_system(conv, "Sos Ovidio."), OV_OK);
		CHECK_INT(llm_conv_user(conv, "mi saldo"), OV_OK);
		CHECK_INT(llm_conv_assistant_calls(conv, NULL, &call, 1), OV_OK);
		CHECK_INT(llm_conv_tool(conv, "call_old", "{\"saldo\":0}"),
		    OV_OK);
		for (int i = 0; i < 26; i++)
			CHECK_INT(llm_conv_user(conv, "hola"), OV_OK);
		CHECK_INT(llm_conv_count(conv), 30);
		CHECK_INT(llm_conv_user(conv, "penúltimo"), OV_OK);
		CHECK_INT(llm_conv_count(conv), 30);
		CHECK_INT(llm_conv_get(conv, 1, &role, &content), OV_OK);
		CHECK_INT(role, LLM_ASSISTANT);
		CHECK_INT(llm_conv_user(conv, "último"), OV_OK);
		/* The tool request and its result went together. */
		CHECK_INT(llm_conv_count(conv), 29);
		CHECK_INT(llm_conv_get(conv, 1, &role, &content), OV_OK);
		CHECK_INT(role, LLM_USER);
		script("[]");
		rc = llm_run(c, conv, tools, NTOOLS, tool_cb,
		    &(struct calls){ 0 }, 5000, &res);
		CHECK_INT(rc, OV_OK);   /* the stand-in accepted the history */
		llm_result_free(&res);
		llm_conv_free(conv);
	}

	/* Bounds of the other appends. */
	CHECK_INT(llm_conv_new(&conv), OV_OK);
	big = malloc(LLM_SYSTEM_MAX + 2);
	memset(big, 's', LLM_SYSTEM_MAX + 1);
	big[LLM_SYSTEM_MAX + 1] = '\0';
	CHECK_INT(llm_conv_system(conv, big), OV_ETOOBIG);
	big[LLM_TOOL_RESULT_MAX + 1] = '\0';
	CHECK_INT(llm_conv_tool(conv, "call_1", big), OV_ETOOBIG);
	CHECK_INT(llm_conv_tool(conv, "call 1", "{}"), OV_EINVAL);
	free(big);
	CHECK_INT(llm_conv_count(conv), 0);
	llm_conv_free(conv);
	llm_close(c);
}

/* ---- turns against the stand-in ----------------------------------------- */

static void
test_tool_call_round_trip(void)
{
	struct calls calls = { 0 };
	struct llm_result res;
	cJSON *reqs = NULL, *msgs, *m, *tc, *tl;
	int rc;

	rc = turn("[{\"tool_calls\":[{\"id\":\"call_domo1\",\"name\":"
	    "\"buscar_productos\",\"arguments\":{\"texto\":\"domo 4mp\"}}]},"
	    "{\"content\":\"Tengo la domo que buscás. ¿Cuántas necesitás?\"}]",
	    KEY, 8000, &calls, &res, &reqs);
	CHECK_INT(rc, OV_OK);
	CHECK_STR(res.text, "Tengo la domo que buscás. ¿Cuántas necesitás?");
	CHECK_INT(res.finish, LLM_FINISH_STOP);
	CHECK_INT(res.rounds, 2);
	/* The callback ran once, with the validated arguments. */
	CHECK_INT(calls.count, 1);
	CHECK_STR(calls.last_tool, "buscar_productos");
	CHECK_STR(calls.last_args, "{\"texto\":\"domo 4mp\"}");
	/* The caller gets the tool runs to render figures itself. */
	CHECK_INT(res.nruns, 1);
	if (res.nruns == 1) {
		CHECK_STR(res.runs[0].tool->name, "buscar_productos");
		CHECK_STR(res.runs[0].id, "call_domo1");
		CHECK_STR(res.runs[0].result, RESULT_JSON);
		CHECK_STR(str_at(res.runs[0].arguments, "texto"), "domo 4mp");
		CHECK_INT(res.runs[0].status, OV_OK);
	}

	/* What the model was sent. */
	CHECK_INT(cJSON_GetArraySize(reqs), 2);
	for (int i = 0; i < cJSON_GetArraySize(reqs); i++) {
		const cJSON *r = cJSON_GetArrayItem(reqs, i), *b = req_body(reqs,
		    i);
		CHECK_STR(str_at(r, "auth"), "ok");
		CHECK(strstr(str_at(r, "body_text"), KEY) == NULL);
		CHECK_STR(str_at(b, "model"), MODEL);
		CHECK_STR(str_at(b, "tool_choice"), "auto");
		CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(b, "tools")),
		    (int)NTOOLS);
		CHECK(cJSON_GetObjectItem(b, "max_tokens") != NULL);
		CHECK(cJSON_GetObjectItem(b, "temperature")->valuedouble <= 0.5);
	}
	msgs = cJSON_GetObjectItem(req_body(reqs, 0), "messages");
	CHECK_INT(cJSON_GetArraySize(msgs), 2);
	CHECK_STR(str_at(cJSON_GetArrayItem(msgs, 1), "role"), "user");
	CHECK_STR(str_at(cJSON_GetArrayItem(msgs, 1), "content"),
	    "¿Tenés domos de 4 MP?");
	msgs = cJSON_GetObjectItem(req_body(reqs, 1), "messages");
	CHECK_INT(cJSON_GetArraySize(msgs), 4);
	m = cJSON_GetArrayItem(msgs, 2);
	CHECK_STR(str_at(m, "role"), "assistant");
	tc = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "tool_calls"), 0);
	CHECK_STR(str_at(tc, "id"), "call_domo1");
	CHECK_STR(str_at(tc, "type"), "function");
	CHECK_STR(str_at(cJSON_GetObjectItem(tc, "function"), "name"),
	    "buscar_productos");
	tl = cJSON_GetArrayItem(msgs, 3);
	CHECK_STR(str_at(tl, "role"), "tool");
	CHECK_STR(str_at(tl, "tool_call_id"), "call_domo1");
	CHECK_STR(str_at(tl, "content"), RESULT_JSON);

	cJSON_Delete(reqs);
	llm_result_free(&res);
	CHECK(res.text == NULL && res.runs == NULL);
	free(calls.last_args);
}

static void
test_parallel_calls_in_one_round(void)
{
	struct calls calls = { 0 };
	struct llm_result res;
	cJSON *reqs = NULL, *msgs;
	int rc;

	rc = turn("[{\"tool_calls\":["
	    "{\"id\":\"c1\",\"name\":\"consultar_stock\",\"arguments\":"
	    "{\"codigo\":\"DH-1\",\"cantidad\":4}},"
	    "{\"id\":\"c2\",\"name\":\"consultar_stock\",\"arguments\":"
	    "{\"codigo\":\"HK-7\",\"cantidad\":2}}]},"
	    "{\"content\":\"Listo.\"}]", KEY, 8000, &calls, &res, &reqs);
	CHECK_INT(rc, OV_OK);
	CHECK_INT(calls.count, 2);
	CHECK_INT(res.nruns, 2);
	CHECK_STR(calls.last_args, "{\"codigo\":\"HK-7\",\"cantidad\":2}");
	msgs = cJSON_GetObjectItem(req_body(reqs, 1), "messages");
	CHECK_INT(cJSON_GetArraySize(msgs), 5);
	CHECK_STR(str_at(cJSON_GetArrayItem(msgs, 3), "tool_call_id"), "c1");
	CHECK_STR(str_at(cJSON_GetArrayItem(msgs, 4), "tool_call_id"), "c2");
	cJSON_Delete(reqs);
	llm_result_free(&res);
	free(calls.last_args);
}

static void
test_round_limit(void)
{
	struct calls calls = { 0 };
	struct llm_result res;
	cJSON *reqs = NULL;
	char steps[2048];
	size_t n = 0;
	int rc;

	n += (size_t)snprintf(steps, sizeof(steps), "[");
	for (int i = 0; i < 8; i++)
		n += (size_t)snprintf(steps + n, sizeof(steps) - n,
		    "%s{\"tool_calls\":[{\"name\":\"consultar_stock\","
		    "\"arguments\":{\"codigo\":\"DH-%d\",\"cantidad\":2}}]}",
		    i ? "," : "", i);
	snprintf(steps + n, sizeof(steps) - n, "]");
	rc = turn(steps, KEY, 10000, &calls, &res, &reqs);
	/* Four model calls, no more; the last asks for words, not tools. */
	CHECK(rc != OV_OK);
	CHECK_INT(res.finish, LLM_FINISH_ROUNDS);
	CHECK(res.text == NULL);
	CHECK_INT(res.rounds, LLM_MAX_ROUNDS);
	CHECK_INT(cJSON_GetArraySize(reqs), LLM_MAX_ROUNDS);
	CHECK_INT(calls.count, LLM_MAX_ROUNDS - 1);
	CHECK_INT(res.nruns, LLM_MAX_ROUNDS - 1);
	CHECK_STR(str_at(req_body(reqs, 0), "tool_choice"), "auto");
	CHECK_STR(str_at(req_body(reqs, LLM_MAX_ROUNDS - 1), "tool_choice"),
	    "none");
	cJSON_Delete(reqs);
	llm_result_free(&res);
	free(calls.last_args);
}

static void
test_invalid_arguments_fall_back(void)
{
	static const char *const steps[] = {
		/* not JSON */
		"[{\"invalid_arguments\":\"{texto: domo\",\"name\":"
		"\"buscar_productos\"}]",
		/* wrong type */
		"[{\"tool_calls\":[{\"name\":\"consultar_stock\",\"arguments\":"
		"{\"codigo\":\"DH-1\",\"cantidad\":\"muchas\"}}]}]",
		/* out of range */
		"[{\"tool_calls\":[{\"name\":\"consultar_stock\",\"arguments\":"
		"{\"codigo\":\"DH-1\",\"cantidad\":-5}}]}]",
		/* unknown tool */
		"[{\"tool_calls\":[{\"name\":\"borrar_clientes\",\"arguments\":"
		"{}}]}]",
		/* missing required */
		"[{\"tool_calls\":[{\"name\":\"consultar_stock\",\"arguments\":"
		"{\"codigo\":\"DH-1\"}}]}]",
		/* one good call and one bad in the same round: none runs */
		"[{\"tool_calls\":[{\"name\":\"saldo_cuenta\",\"arguments\":{}},"
		"{\"name\":\"buscar_productos\",\"arguments\":{\"texto\":7}}]}]",
		/* more calls than allowed in one round */
		"[{\"tool_calls\":[{\"name\":\"saldo_cuenta\"},{\"name\":"
		"\"saldo_cuenta\"},{\"name\":\"saldo_cuenta\"},{\"name\":"
		"\"saldo_cuenta\"},{\"name\":\"saldo_cuenta\"},{\"name\":"
		"\"saldo_cuenta\"}]}]",
	};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct calls calls = { 0 };
		struct llm_result res;
		cJSON *reqs = NULL;
		int rc = turn(steps[i], KEY, 8000, &calls, &res, &reqs);

		if (rc != OV_EINVAL || calls.count != 0)
			fprintf(stderr, "  case %zu: rc %d, %d call(s): %s\n",
			    i, rc, calls.count, res.error);
		CHECK_INT(rc, OV_EINVAL);
		CHECK_INT(calls.count, 0);       /* nothing ran */
		CHECK_INT(res.nruns, 0);
		CHECK(res.text == NULL);
		CHECK(res.error[0] != '\0');
		/* Refused at once: no second request to the model. */
		CHECK_INT(cJSON_GetArraySize(reqs), 1);
		cJSON_Delete(reqs);
		llm_result_free(&res);
	}
}

static void
test_rate_limited_then_answered(void)
{
	struct calls calls = { 0 };
	struct llm_result res;
	cJSON *reqs = NULL;
	long t0 = now_ms(), elapsed;
	int rc;

	/* Retry-After: 1 is honoured. */
	rc = turn("[{\"http\":429,\"retry_after\":1},{\"content\":\"¡Dale!\"}]",
	    KEY, 8000, &calls, &res, &reqs);
	elapsed = now_ms() - t0;
	CHECK_INT(rc, OV_OK);
	CHECK_STR(res.text, "¡Dale!");
	CHECK_INT(res.requests, 2);
	CHECK_INT(cJSON_GetArraySize(reqs), 2);
	CHECK(elapsed >= 1000);
	cJSON_Delete(reqs);
	llm_result_free(&res);

	/* Without Retry-After: our own backoff, 429 then 503 then success. */
	rc = turn("[{\"http\":429},{\"http\":503},{\"content\":\"¡Dale!\"}]",
	    KEY, 8000, &calls, &res, &reqs);
	CHECK_INT(rc, OV_OK);
	CHECK_INT(res.requests, 3);
	CHECK_INT(cJSON_GetArraySize(reqs), 3);
	cJSON_Delete(reqs);
	llm_result_free(&res);

	/* A dropped connection is retried too. */
	rc = turn("[{\"close\":true},{\"content\":\"¡Dale!\"}]", KEY, 8000,
	    &calls, &res, &reqs);
	CHECK_INT(rc, OV_OK);
	CHECK_INT(res.requests, 2);
	cJSON_Delete(reqs);
	llm_result_free(&res);

	/* Out of quota is not worth a retry. */
	rc = turn("[{\"http\":429,\"code\":\"insufficient_quota\",\"message\":"
	    "\"You exceeded your current quota\"},{\"content\":\"no\"}]", KEY,
	    8000, &calls, &res, &reqs);
	CHECK_INT(rc, OV_EREMOTE);
	CHECK_INT(res.requests, 1);
	CHECK(strstr(res.error, "insufficient_quota") != NULL);
	cJSON_Delete(reqs);
	llm_result_free(&res);
	CHECK_INT(calls.count, 0);
}

static void
test_retry_after_beyond_budget(void)
{
	struct calls calls = { 0 };
	struct llm_result res;
	long t0 = now_ms(), elapsed;
	int rc;

	rc = turn("[{\"http\":429,\"retry_after\":30},{\"content\":\"tarde\"}]",
	    KEY, 3000, &calls, &res, NULL);
	elapsed = now_ms() - t0;
	CHECK_INT(rc, OV_ETIMEOUT);
	CHECK_INT(res.requests, 1);
	/* It gives up at once instead of sleeping past the budget. */
	CHECK(elapsed < 3000);
	llm_result_free(&res);
}

static void
test_server_errors_until_budget(void)
{
	struct calls calls = { 0 };
	struct llm_result res;
	char steps[1024];
	size_t n = 0;
	long t0, elapsed;
	int rc;

	n += (size_t)snprintf(steps, sizeof(steps), "[");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(steps + n, sizeof(steps) - n,
		    "%s{\"http\":500}", i ? "," : "");
	snprintf(steps + n, sizeof(steps) - n, "]");
	t0 = now_ms();
	rc = turn(steps, KEY, 2500, &calls, &res, NULL);
	elapsed = now_ms() - t0;
	CHECK_INT(rc, OV_ETIMEOUT);
	CHECK(res.requests >= 2);        /* it did retry */
	CHECK(res.text == NULL);
	CHECK(strstr(res.error, "500") != NULL);
	CHECK(elapsed < 2500 + 5000);    /* no hang */
	fprintf(stderr, "  500s: %d requests, gave up after %ld ms of 2500\n",
	    res.requests, elapsed);
	llm_result_free(&res);
}

static void
test_slow_model(void)
{
	struct calls calls = { 0 };
	struct llm_result res;
	long t0 = now_ms(), elapsed;
	int rc;

	rc = turn("[{\"sleep\":5,\"content\":\"tarde\"}]", KEY, 1200, &calls,
	    &res, NULL);
	elapsed = now_ms() - t0;
	CHECK_INT(rc, OV_ETIMEOUT);
	CHECK(res.text == NULL);
	CHECK_INT(res.requests, 1);
	CHECK(elapsed < 1200 + 3000);    /* no hang: not the 5 s answer */
	llm_result_free(&res);
}

static void
test_model_down(void)
{
	struct llm *c;
	struct llm_conv *conv;
	struct llm_result res;
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);
	char url[128];
	long t0, elapsed;
	int fd, rc;

	/* A port that was free a moment ago: nothing listens there. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1",
	    ntohs(sa.sin_port));

	c = client(KEY, url);
	conv = conversation("hola");
	t0 = now_ms();
	rc = llm_run(c, conv, tools, NTOOLS, tool_cb, &(struct calls){ 0 },
	    8000, &res);
	elapsed = now_ms() - t0;
	CHECK_INT(rc, OV_EIO);
	CHECK(res.text == NULL);
	CHECK(strstr(res.error, "cannot reach") != NULL);
	CHECK(elapsed < 8000);           /* it did not wait out the budget */
	llm_result_free(&res);
	llm_conv_free(conv);
	llm_close(c);
}

static void
test_wrong_key(void)
{
	struct calls calls = { 0 };
	struct llm_result res;
	cJSON *reqs = NULL;
	int rc;

	rc = turn("[{\"content\":\"no debería verse\"}]", WRONG_KEY, 8000,
	    &calls, &res, &reqs);
	CHECK_INT(rc, OV_EAUTH);
	CHECK(res.text == NULL);
	CHECK_INT(res.requests, 1);      /* not retried */
	CHECK_INT(cJSON_GetArraySize(reqs), 1);
	CHECK_STR(str_at(cJSON_GetArrayItem(reqs, 0), "auth"), "wrong");
	/* A clear reason, without the key (nor the server's masked copy). */
	CHECK(strstr(res.error, "OPENAI_API_KEY") != NULL);
	CHECK(strstr(res.error, "401") != NULL);
	CHECK(strstr(res.error, WRONG_KEY) == NULL);
	CHECK(strstr(res.error, "6677") == NULL);
	cJSON_Delete(reqs);
	llm_result_free(&res);
}

static void
test_not_configured(void)
{
	struct llm *c = client(NULL, base_url);
	struct llm_conv *conv = conversation("hola");
	struct llm_result res;
	cJSON *reqs;

	script("[]");
	CHECK_INT(llm_configured(c), 0);
	CHECK_INT(llm_run(c, conv, tools, NTOOLS, tool_cb,
	    &(struct calls){ 0 }, 8000, &res), OV_ECONFIG);
	CHECK(strstr(res.error, "not configured") != NULL);
	CHECK_INT(res.requests, 0);
	reqs = requests();
	CHECK_INT(cJSON_GetArraySize(reqs), 0);
	cJSON_Delete(reqs);
	llm_result_free(&res);
	llm_conv_free(conv);
	llm_close(c);

	/* A NULL client means the same. */
	CHECK_INT(llm_configured(NULL), 0);
}

static void
test_bad_configuration(void)
{
	struct config *cfg = NULL;
	struct llm *c = NULL;
	char err[256] = "";

	setenv("OPENAI_API_KEY", "sk-with\nnewline", 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(llm_open(cfg, &c, err, sizeof(err)), OV_ECONFIG);
	CHECK(c == NULL);
	CHECK(strstr(err, "OPENAI_API_KEY") != NULL);
	CHECK(strstr(err, "newline") == NULL);
	config_free(cfg);

	setenv("OPENAI_API_KEY", KEY, 1);
	setenv("OPENAI_BASE_URL", "file:///etc/passwd", 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(llm_open(cfg, &c, err, sizeof(err)), OV_ECONFIG);
	CHECK(strstr(err, "OPENAI_BASE_URL") != NULL);
	config_free(cfg);

	/* A wrong path on the server: a configuration problem. */
	{
		char url[160];
		struct llm_result res;
		struct llm_conv *conv = conversation("hola");

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/",
		    server.port);
		c = client(KEY, url);
		CHECK_INT(llm_run(c, conv, tools, NTOOLS, tool_cb,
		    &(struct calls){ 0 }, 5000, &res), OV_ECONFIG);
		CHECK(strstr(res.error, "OPENAI_BASE_URL") != NULL);
		llm_result_free(&res);
		llm_conv_free(conv);
		llm_close(c);
	}
}

static void
test_bad_answers_fall_back(void)
{
	static const struct {
		const char *steps;
		int rc;
	} cases[] = {
		{ "[{\"raw\":\"<html>Bad gateway</html>\"}]", OV_EPARSE },
		{ "[{\"content\":\"Te paso el precio: $\",\"finish_reason\":"
		  "\"length\"}]", OV_ETOOBIG },
		{ "[{\"content\":\"\"}]", OV_EREMOTE },
		{ "[{\"content\":\"x\",\"finish_reason\":\"content_filter\"}]",
		  OV_EREMOTE },
		{ "[{\"http\":400,\"message\":\"Invalid schema\"}]", OV_EREMOTE },
	};
	struct calls calls = { 0 };
	struct llm_result res;
	char *steps;
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = turn(cases[i].steps, KEY, 5000, &calls, &res, NULL);
		if (rc != cases[i].rc)
			fprintf(stderr, "  case %zu: rc %d (%s)\n", i, rc,
			    res.error);
		CHECK_INT(rc, cases[i].rc);
		CHECK(res.text == NULL);
		llm_result_free(&res);
	}

	/* An answer over the byte cap is cut off in transfer. */
	n = LLM_RESPONSE_MAX + 1000;
	steps = malloc(n + 32);
	memcpy(steps, "[{\"raw\":\"", 9);
	memset(steps + 9, 'a', n);
	memcpy(steps + 9 + n, "\"}]", 4);
	CHECK_INT(turn(steps, KEY, 5000, &calls, &res, NULL), OV_ETOOBIG);
	llm_result_free(&res);
	free(steps);

	/* A tool result over its bound ends the turn (the caller's bug). */
	calls.result_size = LLM_TOOL_RESULT_MAX + 1;
	CHECK_INT(turn("[{\"tool_calls\":[{\"name\":\"saldo_cuenta\","
	    "\"arguments\":{}}]}]", KEY, 5000, &calls, &res, NULL), OV_ETOOBIG);
	llm_result_free(&res);
	/* A failing tool ends the turn with its code. */
	calls.result_size = 0;
	calls.fail = OV_ESTORE;
	CHECK_INT(turn("[{\"tool_calls\":[{\"name\":\"saldo_cuenta\","
	    "\"arguments\":{}}]}]", KEY, 5000, &calls, &res, NULL), OV_ESTORE);
	CHECK_INT(res.nruns, 1);
	CHECK_INT(res.runs[0].status, OV_ESTORE);
	llm_result_free(&res);
	free(calls.last_args);
}

static void
test_key_never_logged(void)
{
	char logpath[256], *logged;
	struct calls calls = { 0 };
	struct llm_result res;
	enum log_level saved = log_get_level();
	int fd, saved_fd;

	snprintf(logpath, sizeof(logpath), "%s/stderr.log", tmpdir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	fflush(stderr);
	saved_fd = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_set_level(LOG_DEBUG);

	/* Everything that logs: success with tools, retries, refusals, a
	 * server message quoting the key. */
	turn("[{\"tool_calls\":[{\"name\":\"saldo_cuenta\",\"arguments\":{}}]},"
	    "{\"content\":\"ok\"}]", KEY, 5000, &calls, &res, NULL);
	llm_result_free(&res);
	turn("[{\"http\":429},{\"http\":500,\"message\":\"key " KEY
	    " failed\"},{\"content\":\"ok\"}]", KEY, 8000, &calls, &res, NULL);
	llm_result_free(&res);
	turn("[{\"http\":400,\"message\":\"Your key " KEY " is bad\"}]", KEY,
	    5000, &calls, &res, NULL);
	CHECK(strstr(res.error, KEY) == NULL);
	CHECK(strstr(res.error, "is bad") != NULL);
	llm_result_free(&res);
	turn("[]", WRONG_KEY, 5000, &calls, &res, NULL);
	llm_result_free(&res);

	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	log_set_level(saved);
	free(calls.last_args);

	logged = file_text(logpath);
	CHECK(logged != NULL);
	if (logged == NULL)
		return;
	/* The capture worked: the turns above were logged. */
	CHECK(strstr(logged, "openai:") != NULL);
	CHECK(strstr(logged, "retrying") != NULL);
	CHECK(strstr(logged, "401") != NULL);
	CHECK(strstr(logged, KEY) == NULL);
	CHECK(strstr(logged, WRONG_KEY) == NULL);
	CHECK(strstr(logged, "9f8e7d6c5b4a") == NULL);
	free(logged);
}

/* ---- main --------------------------------------------------------------- */

static void
cleanup_tmp(void)
{
	char path[300];
	static const char *const names[] = { "server.port", "server.log",
		"stderr.log" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int
main(void)
{
	log_init("test_llm");
	unsetenv("OVIDIO_CONFIG");
	/* Loopback only: no proxy may stand in between. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	curl_global_init(CURL_GLOBAL_DEFAULT);

	RUN(test_validate_accepts_good_arguments);
	RUN(test_validate_refuses_bad_arguments);
	RUN(test_validate_bounds_length_and_nesting);
	RUN(test_tool_table_and_schema);
	RUN(test_reply_parse_fixtures);
	RUN(test_reply_parse_refuses_bad_answers);

	if (mkdtemp(tmpdir) == NULL || !server_start()) {
		fprintf(stderr, "cannot start %s\n", SERVER);
		check_tests_failed++;
		server_stop();
		curl_global_cleanup();
		return check_finish();
	}
	RUN(test_conversation_bounds);
	RUN(test_tool_call_round_trip);
	RUN(test_parallel_calls_in_one_round);
	RUN(test_round_limit);
	RUN(test_invalid_arguments_fall_back);
	RUN(test_rate_limited_then_answered);
	RUN(test_retry_after_beyond_budget);
	RUN(test_server_errors_until_budget);
	RUN(test_slow_model);
	RUN(test_model_down);
	RUN(test_wrong_key);
	RUN(test_not_configured);
	RUN(test_bad_configuration);
	RUN(test_bad_answers_fall_back);
	RUN(test_key_never_logged);

	server_stop();
	cleanup_tmp();
	curl_global_cleanup();
	return check_finish();
}
