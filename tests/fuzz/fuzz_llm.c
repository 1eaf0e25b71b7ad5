/*
 * libFuzzer harness for what lib/llm takes from the model server: the
 * chat completion parser, the tool-argument validator (the model writes
 * the arguments), and the conversation builder (customer text). All of it
 * is outside input, so every path must hold its bounds on any bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "llm.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct llm_param item_fields[] = {
	{ .name = "codigo", .type = LLM_STRING, .required = 1, .min_len = 1,
	  .max_len = 40 },
	{ .name = "cantidad", .type = LLM_INTEGER, .required = 1, .imin = 1,
	  .imax = 10000 },
};
static const char *const motivos[] = { "consulta", "reclamo", NULL };
static const struct llm_param params[] = {
	{ .name = "texto", .type = LLM_STRING, .max_len = 100 },
	{ .name = "solo_con_stock", .type = LLM_BOOLEAN },
	{ .name = "limite", .type = LLM_INTEGER, .imin = 1, .imax = 10 },
	{ .name = "descuento", .type = LLM_NUMBER, .dmin = 0, .dmax = 50 },
	{ .name = "motivo", .type = LLM_STRING, .max_len = 20,
	  .enum_values = motivos },
	{ .name = "items", .type = LLM_ARRAY, .max_items = 20,
	  .items = item_fields, .nitems = 2 },
};
static const struct llm_tool tools[] = {
	{ "buscar_productos", "x", params, sizeof(params) / sizeof(params[0]) },
	{ "saldo_cuenta", "x", NULL, 0 },
};
#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

static void
check_parsed(const cJSON *obj)
{
	const cJSON *v;

	if (!cJSON_IsObject(obj))
		__builtin_trap();
	/* Only declared keys, no nulls, strings within bounds. */
	cJSON_ArrayForEach(v, obj) {
		if (cJSON_IsNull(v) || v->string == NULL)
			__builtin_trap();
		if (cJSON_IsString(v) && strlen(v->valuestring) > 100)
			__builtin_trap();
		if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 20)
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct llm_reply r;
	struct llm_conv *conv = NULL;
	char err[256], *text;
	cJSON *parsed = NULL, *msgs;

	if (!init) {
		log_init("fuzz_llm");
		log_set_level(LOG_ERROR);
		init = 1;
	}
	if (llm_reply_parse((const char *)data, size, &r, err, sizeof(err)) ==
	    OV_OK) {
		if (r.ncalls > LLM_MAX_CALLS_PER_ROUND || (r.content != NULL &&
		    strlen(r.content) > LLM_CONTENT_MAX))
			__builtin_trap();
		for (size_t i = 0; i < r.ncalls; i++) {
			if (strlen(r.calls[i].arguments) > LLM_ARGUMENTS_MAX)
				__builtin_trap();
			if (llm_validate_arguments(tools, NTOOLS,
			    r.calls[i].name, r.calls[i].arguments, &parsed, err,
			    sizeof(err)) == OV_OK)
				check_parsed(parsed);
			cJSON_Delete(parsed);
			parsed = NULL;
		}
		llm_reply_free(&r);
	}

	/* The same bytes as arguments and as customer text. */
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (llm_validate_arguments(tools, NTOOLS, "buscar_productos", text,
	    &parsed, err, sizeof(err)) == OV_OK)
		check_parsed(parsed);
	cJSON_Delete(parsed);
	if (llm_conv_new(&conv) == OV_OK) {
		const char *content;
		enum llm_role role;

		llm_conv_system(conv, "s");
		for (int i = 0; i < 3; i++)
			llm_conv_user(conv, text);
		if (llm_conv_get(conv, 1, &role, &content) == OV_OK &&
		    strlen(content) > LLM_MESSAGE_MAX)
			__builtin_trap();
		msgs = llm_conv_json(conv);
		if (msgs == NULL)
			__builtin_trap();
		cJSON_Delete(msgs);
		llm_conv_free(conv);
	}
	free(text);
	return 0;
}
