/*
 * llm.c - OpenAI Chat Completions with tool calling (see llm.h).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cabundle.h"
#include "config.h"
#include "err.h"
#include "llm.h"
#include "log.h"
#include "utf8.h"

#define LLM_KEY_MAX 512
#define LLM_URL_MAX 1024
#define LLM_MODEL_MAX 128
#define LLM_MAX_ATTEMPTS 8        /* HTTP attempts for one model call */
#define LLM_MIN_ATTEMPT_MS 100    /* not worth starting a request in less */
#define LLM_BACKOFF_BASE_MS 250
#define LLM_BACKOFF_CAP_MS 4000
#define LLM_RETRY_AFTER_MAX_S 3600
#define LLM_SUMMARY_MAX 160       /* bytes of a server message kept */
#define LLM_INT_LIMIT 9007199254740992LL /* 2^53: exact in a double */

/* ---- UTF-8 ----------------------------------------------------------- */

/* A malloc'd copy of s, valid UTF-8 of at most max bytes: invalid bytes
 * become U+FFFD and the copy ends on a character boundary. NULL when out
 * of memory. */
static char *
copy_utf8(const char *s, size_t max)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, slen = strlen(s), left = slen, cap;
	char *out;

	/* Each invalid byte may grow to 3; the copy never passes max. */
	cap = slen > max / 3 ? max : slen * 3;
	out = malloc(cap + 1);
	if (out == NULL)
		return NULL;
	while (left > 0) {
		size_t n = utf8_decode(p, left, NULL);
		const char *src = (const char *)p;
		size_t step = n;

		if (n == 0) {
			src = repl;
			step = 3;
			n = 1;
		}
		if (len + step > cap)
			break;
		memcpy(out + len, src, step);
		len += step;
		p += n;
		left -= n;
	}
	out[len] = '\0';
	return out;
}

/* ---- tools ----------------------------------------------------------- */

static bool
valid_name(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		char ch = s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return n >= 1 && n <= LLM_NAME_MAX;
}

static int
check_params(const char *tool, const struct llm_param *params, size_t n,
    bool nested, char *err, size_t errlen)
{
	if (n > LLM_MAX_PARAMS || (n > 0 && params == NULL)) {
		snprintf(err, errlen, "%s: too many parameters", tool);
		return OV_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct llm_param *p = &params[i];
		const char *bad = NULL;

		if (!valid_name(p->name))
			bad = "invalid name";
		for (size_t j = 0; bad == NULL && j < i; j++)
			if (strcmp(params[j].name, p->name) == 0)
				bad = "declared twice";
		if (bad == NULL) {
			switch (p->type) {
			case LLM_STRING:
				if (p->max_len < 1 ||
				    p->max_len > LLM_ARGUMENTS_MAX ||
				    p->min_len > p->max_len)
					bad = "string bounds";
				break;
			case LLM_INTEGER:
				if (p->imin > p->imax ||
				    p->imin < -LLM_INT_LIMIT ||
				    p->imax > LLM_INT_LIMIT)
					bad = "integer bounds";
				break;
			case LLM_NUMBER:
				if (!isfinite(p->dmin) || !isfinite(p->dmax) ||
				    p->dmin > p->dmax)
					bad = "number bounds";
				break;
			case LLM_BOOLEAN:
				break;
			case LLM_ARRAY:
				if (nested)
					bad = "arrays inside arrays";
				else if (p->max_items < 1 ||
				    p->min_items > p->max_items ||
				    p->nitems < 1)
					bad = "array bounds";
				else if (check_params(tool, p->items, p->nitems,
				    true, err, errlen) != OV_OK)
					return OV_EINVAL;
				break;
			default:
				bad = "unknown type";
			}
		}
		if (bad != NULL) {
			snprintf(err, errlen, "%s: parameter %d: %s", tool,
			    (int)i, bad);
			return OV_EINVAL;
		}
	}
	return OV_OK;
}

int
llm_tools_check(const struct llm_tool *tools, size_t ntools, char *err,
    size_t errlen)
{
	if (ntools > LLM_MAX_TOOLS || (ntools > 0 && tools == NULL)) {
		snprintf(err, errlen, "too many tools");
		return OV_EINVAL;
	}
	for (size_t i = 0; i < ntools; i++) {
		if (!valid_name(tools[i].name)) {
			snprintf(err, errlen, "tool %d: invalid name", (int)i);
			return OV_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(tools[j].name, tools[i].name) == 0) {
				snprintf(err, errlen, "tool %s declared twice",
				    tools[i].name);
				return OV_EINVAL;
			}
		if (check_params(tools[i].name, tools[i].params,
		    tools[i].nparams, false, err, errlen) != OV_OK)
			return OV_EINVAL;
	}
	return OV_OK;
}

const struct llm_tool *
llm_tool_find(const struct llm_tool *tools, size_t ntools, const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < ntools; i++)
		if (strcmp(tools[i].name, name) == 0)
			return &tools[i];
	return NULL;
}

static cJSON *object_schema(const struct llm_param *params, size_t n);

static cJSON *
param_schema(const struct llm_param *p)
{
	cJSON *s = cJSON_CreateObject();
	bool ok = s != NULL;

	switch (p->type) {
	case LLM_STRING:
		ok = ok && cJSON_AddStringToObject(s, "type", "string");
		if (p->min_len > 0)
			ok = ok && cJSON_AddNumberToObject(s, "minLength",
			    (double)p->min_len);
		ok = ok && cJSON_AddNumberToObject(s, "maxLength",
		    (double)p->max_len);
		if (ok && p->enum_values != NULL) {
			cJSON *e = cJSON_AddArrayToObject(s, "enum");
			ok = e != NULL;
			for (size_t i = 0; ok && p->enum_values[i] != NULL; i++)
				ok = cJSON_AddItemToArray(e,
				    cJSON_CreateString(p->enum_values[i]));
		}
		break;
	case LLM_INTEGER:
		ok = ok && cJSON_AddStringToObject(s, "type", "integer") &&
		    cJSON_AddNumberToObject(s, "minimum", (double)p->imin) &&
		    cJSON_AddNumberToObject(s, "maximum", (double)p->imax);
		break;
	case LLM_NUMBER:
		ok = ok && cJSON_AddStringToObject(s, "type", "number") &&
		    cJSON_AddNumberToObject(s, "minimum", p->dmin) &&
		    cJSON_AddNumberToObject(s, "maximum", p->dmax);
		break;
	case LLM_BOOLEAN:
		ok = ok && cJSON_AddStringToObject(s, "type", "boolean");
		break;
	case LLM_ARRAY:
		ok = ok && cJSON_AddStringToObject(s, "type", "array");
		if (p->min_items > 0)
			ok = ok && cJSON_AddNumberToObject(s, "minItems",
			    (double)p->min_items);
		ok = ok && cJSON_AddNumberToObject(s, "maxItems",
		    (double)p->max_items);
		if (ok) {
			cJSON *items = object_schema(p->items, p->nitems);
			ok = items != NULL &&
			    cJSON_AddItemToObject(s, "items", items);
			if (!ok)
				cJSON_Delete(items);
		}
		break;
	}
	if (ok && p->description != NULL)
		ok = cJSON_AddStringToObject(s, "description", p->description) !=
		    NULL;
	if (!ok) {
		cJSON_Delete(s);
		return NULL;
	}
	return s;
}

static cJSON *
object_schema(const struct llm_param *params, size_t n)
{
	cJSON *s = cJSON_CreateObject(), *props, *req;
	bool ok;

	ok = s != NULL && cJSON_AddStringToObject(s, "type", "object");
	props = ok ? cJSON_AddObjectToObject(s, "properties") : NULL;
	req = props != NULL ? cJSON_AddArrayToObject(s, "required") : NULL;
	ok = req != NULL && cJSON_AddFalseToObject(s, "additionalProperties");
	for (size_t i = 0; ok && i < n; i++) {
		cJSON *ps = param_schema(&params[i]);
		ok = ps != NULL && cJSON_AddItemToObject(props, params[i].name,
		    ps);
		if (!ok)
			cJSON_Delete(ps);
		if (ok && params[i].required)
			ok = cJSON_AddItemToArray(req,
			    cJSON_CreateString(params[i].name));
	}
	if (!ok) {
		cJSON_Delete(s);
		return NULL;
	}
	return s;
}

cJSON *
llm_tools_schema(const struct llm_tool *tools, size_t ntools)
{
	cJSON *arr = cJSON_CreateArray();
	bool ok = arr != NULL;

	for (size_t i = 0; ok && i < ntools; i++) {
		cJSON *t = cJSON_CreateObject(), *fn = NULL, *ps;

		ok = t != NULL && cJSON_AddItemToArray(arr, t);
		if (!ok) {
			cJSON_Delete(t);
			break;
		}
		ok = cJSON_AddStringToObject(t, "type", "function") &&
		    (fn = cJSON_AddObjectToObject(t, "function")) != NULL &&
		    cJSON_AddStringToObject(fn, "name", tools[i].name);
		if (ok && tools[i].description != NULL)
			ok = cJSON_AddStringToObject(fn, "description",
			    tools[i].description) != NULL;
		if (ok) {
			ps = object_schema(tools[i].params, tools[i].nparams);
			ok = ps != NULL && cJSON_AddItemToObject(fn,
			    "parameters", ps);
			if (!ok)
				cJSON_Delete(ps);
		}
	}
	if (!ok) {
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

/* ---- argument validation ---------------------------------------------- */

static const struct llm_param *
param_find(const struct llm_param *params, size_t n, const char *name,
    size_t *idx)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(params[i].name, name) == 0) {
			*idx = i;
			return &params[i];
		}
	return NULL;
}

static int
check_scalar(const struct llm_param *p, const cJSON *v, const char **why)
{
	switch (p->type) {
	case LLM_STRING: {
		size_t len;

		if (!cJSON_IsString(v) || v->valuestring == NULL) {
			*why = "must be a string";
			return OV_EINVAL;
		}
		len = strlen(v->valuestring);
		if (len > p->max_len) {
			*why = "is too long";
			return OV_EINVAL;
		}
		if (len < p->min_len) {
			*why = "is too short";
			return OV_EINVAL;
		}
		if (!utf8_valid(v->valuestring, len)) {
			*why = "is not valid UTF-8";
			return OV_EINVAL;
		}
		for (const char *s = v->valuestring; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 || *s == 0x7f) {
				*why = "has control characters";
				return OV_EINVAL;
			}
		if (p->enum_values != NULL) {
			size_t i;
			for (i = 0; p->enum_values[i] != NULL; i++)
				if (strcmp(p->enum_values[i],
				    v->valuestring) == 0)
					break;
			if (p->enum_values[i] == NULL) {
				*why = "is not one of the allowed values";
				return OV_EINVAL;
			}
		}
		return OV_OK;
	}
	case LLM_INTEGER: {
		double d;

		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
		    floor(v->valuedouble) != v->valuedouble) {
			*why = "must be a whole number";
			return OV_EINVAL;
		}
		d = v->valuedouble;
		if (d < (double)p->imin || d > (double)p->imax) {
			*why = "is out of range";
			return OV_EINVAL;
		}
		return OV_OK;
	}
	case LLM_NUMBER:
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
			*why = "must be a number";
			return OV_EINVAL;
		}
		if (v->valuedouble < p->dmin || v->valuedouble > p->dmax) {
			*why = "is out of range";
			return OV_EINVAL;
		}
		return OV_OK;
	case LLM_BOOLEAN:
		if (!cJSON_IsBool(v)) {
			*why = "must be true or false";
			return OV_EINVAL;
		}
		return OV_OK;
	case LLM_ARRAY:
		break;
	}
	*why = "has an unsupported type";
	return OV_EINVAL;
}

/* Validate obj against params, in place: nulls of optional parameters are
 * removed. where prefixes names in messages ("" at the top, "items[2]."
 * inside an array). Messages name our parameters, never the model's
 * values or keys. */
static int
check_object(const char *tool, const char *where, cJSON *obj,
    const struct llm_param *params, size_t n, char *err, size_t errlen)
{
	bool seen[LLM_MAX_PARAMS] = { false };
	/* where without its trailing dot, for "in items[2]". */
	int wlen = *where ? (int)strlen(where) - 1 : 0;
	cJSON *v, *next;

	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "%s: %.*s must be an object", tool,
		    *where ? wlen : 9, *where ? where : "arguments");
		return OV_EINVAL;
	}
	for (v = obj->child; v != NULL; v = next) {
		const struct llm_param *p;
		size_t idx = 0;
		const char *why = NULL;

		next = v->next;
		p = v->string != NULL ? param_find(params, n, v->string, &idx) :
		    NULL;
		if (p == NULL) {
			snprintf(err, errlen, "%s: unknown parameter%s%.*s",
			    tool, *where ? " in " : "", wlen, where);
			return OV_EINVAL;
		}
		if (seen[idx]) {
			snprintf(err, errlen, "%s: %s%s given twice", tool,
			    where, p->name);
			return OV_EINVAL;
		}
		seen[idx] = true;
		if (cJSON_IsNull(v)) {
			/* A null is an absent value. */
			if (p->required) {
				snprintf(err, errlen, "%s: %s%s is required",
				    tool, where, p->name);
				return OV_EINVAL;
			}
			cJSON_Delete(cJSON_DetachItemViaPointer(obj, v));
			continue;
		}
		if (p->type == LLM_ARRAY) {
			int count, i = 0;
			cJSON *item;

			if (!cJSON_IsArray(v)) {
				snprintf(err, errlen, "%s: %s%s must be a list",
				    tool, where, p->name);
				return OV_EINVAL;
			}
			count = cJSON_GetArraySize(v);
			if ((size_t)count > p->max_items ||
			    (size_t)count < p->min_items) {
				snprintf(err, errlen,
				    "%s: %s%s must have %zu to %zu items", tool,
				    where, p->name, p->min_items, p->max_items);
				return OV_EINVAL;
			}
			cJSON_ArrayForEach(item, v) {
				char sub[LLM_NAME_MAX + 32];
				snprintf(sub, sizeof(sub), "%s[%d].", p->name,
				    i++);
				if (check_object(tool, sub, item, p->items,
				    p->nitems, err, errlen) != OV_OK)
					return OV_EINVAL;
			}
			continue;
		}
		if (check_scalar(p, v, &why) != OV_OK) {
			snprintf(err, errlen, "%s: %s%s %s", tool, where,
			    p->name, why);
			return OV_EINVAL;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (params[i].required && !seen[i]) {
			snprintf(err, errlen, "%s: %s%s is required", tool, where,
			    params[i].name);
			return OV_EINVAL;
		}
	return OV_OK;
}

int
llm_validate_arguments(const struct llm_tool *tools, size_t ntools,
    const char *name, const char *arguments, cJSON **parsed, char *err,
    size_t errlen)
{
	const struct llm_tool *tool;
	const char *p, *end = NULL;
	cJSON *root = NULL;
	int rc;

	*parsed = NULL;
	tool = llm_tool_find(tools, ntools, name);
	if (tool == NULL) {
		snprintf(err, errlen, "the model asked for an unknown tool");
		return OV_EINVAL;
	}
	if (arguments == NULL) {
		snprintf(err, errlen, "%s: no arguments", tool->name);
		return OV_EINVAL;
	}
	if (strlen(arguments) > LLM_ARGUMENTS_MAX) {
		snprintf(err, errlen, "%s: arguments over %d bytes", tool->name,
		    LLM_ARGUMENTS_MAX);
		return OV_ETOOBIG;
	}
	for (p = arguments; *p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'; p++)
		;
	if (*p == '\0')
		root = cJSON_CreateObject();
	else
		root = cJSON_ParseWithOpts(arguments, &end, 1);
	if (root == NULL) {
		snprintf(err, errlen, "%s: arguments are not valid JSON",
		    tool->name);
		rc = OV_EPARSE;
		goto out;
	}
	rc = check_object(tool->name, "", root, tool->params, tool->nparams,
	    err, errlen);
	if (rc != OV_OK)
		goto out;
	*parsed = root;
	root = NULL;
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- conversation ---------------------------------------------------- */

struct llm_msg {
	enum llm_role role;
	char *content;
	struct llm_tool_call *calls;
	size_t ncalls;
	char call_id[LLM_CALL_ID_MAX + 1];
};

struct llm_conv {
	char *system;
	/* One spare slot: a message is appended, then the oldest dropped. */
	struct llm_msg msgs[LLM_MAX_MESSAGES + 1];
	size_t n;
};

static bool
valid_call_id(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char ch = s[n];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		    ch == '.' || ch == ':'))
			return false;
	}
	return n <= LLM_CALL_ID_MAX;
}

static void
calls_free(struct llm_tool_call *calls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(calls[i].arguments);
	free(calls);
}

static void
msg_clear(struct llm_msg *m)
{
	free(m->content);
	calls_free(m->calls, m->ncalls);
	memset(m, 0, sizeof(*m));
}

int
llm_conv_new(struct llm_conv **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? OV_ENOMEM : OV_OK;
}

void
llm_conv_free(struct llm_conv *conv)
{
	if (conv == NULL)
		return;
	free(conv->system);
	for (size_t i = 0; i < conv->n; i++)
		msg_clear(&conv->msgs[i]);
	free(conv);
}

static void
conv_drop_oldest(struct llm_conv *conv)
{
	msg_clear(&conv->msgs[0]);
	memmove(&conv->msgs[0], &conv->msgs[1],
	    (conv->n - 1) * sizeof(conv->msgs[0]));
	conv->n--;
	memset(&conv->msgs[conv->n], 0, sizeof(conv->msgs[0]));
}

/* Keep the bound; never leave tool results whose request was dropped. */
static void
conv_trim(struct llm_conv *conv)
{
	size_t cap = LLM_MAX_MESSAGES - (conv->system != NULL ? 1 : 0);
	bool dropped = false;

	while (conv->n > cap) {
		conv_drop_oldest(conv);
		dropped = true;
	}
	while (dropped && conv->n > 0 && conv->msgs[0].role == LLM_TOOL)
		conv_drop_oldest(conv);
}

static struct llm_msg *
conv_slot(struct llm_conv *conv)
{
	/* The spare slot is free: conv_trim() runs after every append. */
	struct llm_msg *m = &conv->msgs[conv->n];

	memset(m, 0, sizeof(*m));
	return m;
}

int
llm_conv_system(struct llm_conv *conv, const char *text)
{
	char *copy;

	if (conv == NULL || text == NULL)
		return OV_EINVAL;
	if (strlen(text) > LLM_SYSTEM_MAX)
		return OV_ETOOBIG;
	copy = copy_utf8(text, LLM_SYSTEM_MAX);
	if (copy == NULL)
		return OV_ENOMEM;
	free(conv->system);
	conv->system = copy;
	conv_trim(conv);
	return OV_OK;
}

static int
conv_text(struct llm_conv *conv, enum llm_role role, const char *text)
{
	struct llm_msg *m;

	if (conv == NULL || text == NULL)
		return OV_EINVAL;
	m = conv_slot(conv);
	m->role = role;
	m->content = copy_utf8(text, LLM_MESSAGE_MAX);
	if (m->content == NULL)
		return OV_ENOMEM;
	conv->n++;
	conv_trim(conv);
	return OV_OK;
}

int
llm_conv_user(struct llm_conv *conv, const char *text)
{
	return conv_text(conv, LLM_USER, text);
}

int
llm_conv_assistant(struct llm_conv *conv, const char *text)
{
	return conv_text(conv, LLM_ASSISTANT, text);
}

int
llm_conv_assistant_calls(struct llm_conv *conv, const char *text,
    const struct llm_tool_call *calls, size_t ncalls)
{
	struct llm_msg *m;
	int rc = OV_OK;

	if (conv == NULL || calls == NULL || ncalls < 1 ||
	    ncalls > LLM_MAX_CALLS_PER_ROUND)
		return OV_EINVAL;
	for (size_t i = 0; i < ncalls; i++)
		if (calls[i].id[0] == '\0' || !valid_call_id(calls[i].id) ||
		    !valid_name(calls[i].name) || calls[i].arguments == NULL ||
		    strlen(calls[i].arguments) > LLM_ARGUMENTS_MAX)
			return OV_EINVAL;
	m = conv_slot(conv);
	m->role = LLM_ASSISTANT;
	if (text != NULL && (m->content = copy_utf8(text,
	    LLM_MESSAGE_MAX)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	m->calls = calloc(ncalls, sizeof(*m->calls));
	if (m->calls == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	m->ncalls = ncalls;
	for (size_t i = 0; i < ncalls; i++) {
		memcpy(m->calls[i].id, calls[i].id, sizeof(m->calls[i].id));
		memcpy(m->calls[i].name, calls[i].name,
		    sizeof(m->calls[i].name));
		m->calls[i].arguments = copy_utf8(calls[i].arguments,
		    LLM_ARGUMENTS_MAX);
		if (m->calls[i].arguments == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
	}
	conv->n++;
	conv_trim(conv);
out:
	if (rc != OV_OK)
		msg_clear(m);
	return rc;
}

int
llm_conv_tool(struct llm_conv *conv, const char *tool_call_id,
    const char *result)
{
	struct llm_msg *m;

	if (conv == NULL || tool_call_id == NULL || result == NULL ||
	    tool_call_id[0] == '\0' || !valid_call_id(tool_call_id))
		return OV_EINVAL;
	if (strlen(result) > LLM_TOOL_RESULT_MAX)
		return OV_ETOOBIG;
	m = conv_slot(conv);
	m->role = LLM_TOOL;
	snprintf(m->call_id, sizeof(m->call_id), "%s", tool_call_id);
	m->content = copy_utf8(result, LLM_TOOL_RESULT_MAX);
	if (m->content == NULL)
		return OV_ENOMEM;
	conv->n++;
	conv_trim(conv);
	return OV_OK;
}

size_t
llm_conv_count(const struct llm_conv *conv)
{
	return conv->n + (conv->system != NULL ? 1 : 0);
}

int
llm_conv_get(const struct llm_conv *conv, size_t i, enum llm_role *role,
    const char **content)
{
	if (conv->system != NULL) {
		if (i == 0) {
			*role = LLM_SYSTEM;
			*content = conv->system;
			return OV_OK;
		}
		i--;
	}
	if (i >= conv->n)
		return OV_ENOTFOUND;
	*role = conv->msgs[i].role;
	*content = conv->msgs[i].content;
	return OV_OK;
}

static cJSON *
msg_json(const char *role, const char *content)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddStringToObject(o, "role", role) ||
	    !(content != NULL ? cJSON_AddStringToObject(o, "content", content) :
	    cJSON_AddNullToObject(o, "content"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *
calls_json(const struct llm_tool_call *calls, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	bool ok = arr != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		cJSON *c = cJSON_CreateObject(), *fn;

		ok = c != NULL && cJSON_AddItemToArray(arr, c);
		if (!ok) {
			cJSON_Delete(c);
			break;
		}
		ok = cJSON_AddStringToObject(c, "id", calls[i].id) &&
		    cJSON_AddStringToObject(c, "type", "function") &&
		    (fn = cJSON_AddObjectToObject(c, "function")) != NULL &&
		    cJSON_AddStringToObject(fn, "name", calls[i].name) &&
		    cJSON_AddStringToObject(fn, "arguments",
		    calls[i].arguments);
	}
	if (!ok) {
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

cJSON *
llm_conv_json(const struct llm_conv *conv)
{
	static const char *const roles[] = {
		[LLM_SYSTEM] = "system", [LLM_USER] = "user",
		[LLM_ASSISTANT] = "assistant", [LLM_TOOL] = "tool",
	};
	cJSON *arr = cJSON_CreateArray(), *o;
	bool ok = arr != NULL;

	if (ok && conv->system != NULL) {
		o = msg_json("system", conv->system);
		ok = o != NULL && cJSON_AddItemToArray(arr, o);
	}
	for (size_t i = 0; ok && i < conv->n; i++) {
		const struct llm_msg *m = &conv->msgs[i];

		o = msg_json(roles[m->role], m->content);
		ok = o != NULL && cJSON_AddItemToArray(arr, o);
		if (!ok) {
			cJSON_Delete(o);
			break;
		}
		if (m->role == LLM_TOOL)
			ok = cJSON_AddStringToObject(o, "tool_call_id",
			    m->call_id) != NULL;
		else if (m->ncalls > 0) {
			cJSON *c = calls_json(m->calls, m->ncalls);
			ok = c != NULL && cJSON_AddItemToObject(o, "tool_calls",
			    c);
			if (!ok)
				cJSON_Delete(c);
		}
	}
	if (!ok) {
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

/* ---- replies --------------------------------------------------------- */

void
llm_reply_free(struct llm_reply *reply)
{
	if (reply == NULL)
		return;
	free(reply->content);
	calls_free(reply->calls, reply->ncalls);
	memset(reply, 0, sizeof(*reply));
}

static int
parse_call(const cJSON *c, struct llm_tool_call *out, char *err,
    size_t errlen)
{
	const cJSON *id, *type, *fn, *name, *args;

	if (!cJSON_IsObject(c)) {
		snprintf(err, errlen, "tool call is not an object");
		return OV_EPARSE;
	}
	id = cJSON_GetObjectItemCaseSensitive(c, "id");
	type = cJSON_GetObjectItemCaseSensitive(c, "type");
	fn = cJSON_GetObjectItemCaseSensitive(c, "function");
	if (type != NULL && !cJSON_IsNull(type) && (!cJSON_IsString(type) ||
	    strcmp(type->valuestring, "function") != 0)) {
		snprintf(err, errlen, "tool call of a type other than function");
		return OV_EINVAL;
	}
	if (!cJSON_IsObject(fn)) {
		snprintf(err, errlen, "tool call without a function");
		return OV_EPARSE;
	}
	name = cJSON_GetObjectItemCaseSensitive(fn, "name");
	args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
	if (!cJSON_IsString(name) || !valid_name(name->valuestring)) {
		snprintf(err, errlen, "tool call with an invalid tool name");
		return OV_EINVAL;
	}
	memcpy(out->name, name->valuestring, strlen(name->valuestring) + 1);
	/* Some compatible servers leave the id out: llm_run() makes one. */
	if (id != NULL && !cJSON_IsNull(id)) {
		if (!cJSON_IsString(id) || !valid_call_id(id->valuestring)) {
			snprintf(err, errlen, "tool call with an invalid id");
			return OV_EINVAL;
		}
		memcpy(out->id, id->valuestring, strlen(id->valuestring) + 1);
	}
	if (args == NULL || cJSON_IsNull(args))
		out->arguments = strdup("");
	else if (cJSON_IsString(args)) {
		if (strlen(args->valuestring) > LLM_ARGUMENTS_MAX) {
			snprintf(err, errlen, "tool call arguments over %d bytes",
			    LLM_ARGUMENTS_MAX);
			return OV_ETOOBIG;
		}
		out->arguments = strdup(args->valuestring);
	} else {
		snprintf(err, errlen, "tool call arguments are not a string");
		return OV_EINVAL;
	}
	return out->arguments == NULL ? OV_ENOMEM : OV_OK;
}

static enum llm_finish
finish_of(const cJSON *f)
{
	static const struct {
		const char *name;
		enum llm_finish finish;
	} table[] = {
		{ "stop", LLM_FINISH_STOP },
		{ "tool_calls", LLM_FINISH_TOOL_CALLS },
		{ "function_call", LLM_FINISH_TOOL_CALLS },
		{ "length", LLM_FINISH_LENGTH },
		{ "content_filter", LLM_FINISH_FILTER },
	};

	if (!cJSON_IsString(f))
		return LLM_FINISH_NONE;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(f->valuestring, table[i].name) == 0)
			return table[i].finish;
	return LLM_FINISH_NONE;
}

int
llm_reply_parse(const char *body, size_t len, struct llm_reply *out,
    char *err, size_t errlen)
{
	cJSON *root = NULL;
	const cJSON *choices, *choice, *msg, *content, *calls, *c;
	char *copy = NULL;
	size_t i = 0;
	int rc = OV_EPARSE, n;

	memset(out, 0, sizeof(*out));
	if (len > LLM_RESPONSE_MAX) {
		snprintf(err, errlen, "answer over %d bytes", LLM_RESPONSE_MAX);
		return OV_ETOOBIG;
	}
	/* cJSON wants a NUL-terminated buffer; refuse embedded NULs. */
	copy = malloc(len + 1);
	if (copy == NULL)
		return OV_ENOMEM;
	memcpy(copy, body, len);
	copy[len] = '\0';
	if (memchr(copy, '\0', len) != NULL) {
		snprintf(err, errlen, "answer is not JSON (NUL byte)");
		goto out;
	}
	root = cJSON_ParseWithLengthOpts(copy, len + 1, NULL, 1);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "answer is not a JSON object");
		goto out;
	}
	choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
	choice = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
	msg = cJSON_IsObject(choice) ?
	    cJSON_GetObjectItemCaseSensitive(choice, "message") : NULL;
	if (!cJSON_IsObject(msg)) {
		snprintf(err, errlen, "answer has no choices[0].message");
		goto out;
	}
	out->finish = finish_of(cJSON_GetObjectItemCaseSensitive(choice,
	    "finish_reason"));
	content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	if (content != NULL && !cJSON_IsNull(content)) {
		if (!cJSON_IsString(content)) {
			snprintf(err, errlen, "message content is not a string");
			goto out;
		}
		if (strlen(content->valuestring) > LLM_CONTENT_MAX) {
			snprintf(err, errlen, "message content over %d bytes",
			    LLM_CONTENT_MAX);
			rc = OV_ETOOBIG;
			goto out;
		}
		out->content = copy_utf8(content->valuestring, LLM_CONTENT_MAX);
		if (out->content == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
	}
	calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
	if (calls != NULL && !cJSON_IsNull(calls)) {
		if (!cJSON_IsArray(calls)) {
			snprintf(err, errlen, "tool_calls is not a list");
			goto out;
		}
		n = cJSON_GetArraySize(calls);
		if (n > LLM_MAX_CALLS_PER_ROUND) {
			snprintf(err, errlen,
			    "the model asked for %d tool calls at once (at most %d)",
			    n, LLM_MAX_CALLS_PER_ROUND);
			rc = OV_EINVAL;
			goto out;
		}
		if (n > 0) {
			out->calls = calloc((size_t)n, sizeof(*out->calls));
			if (out->calls == NULL) {
				rc = OV_ENOMEM;
				goto out;
			}
		}
		cJSON_ArrayForEach(c, calls) {
			rc = parse_call(c, &out->calls[i], err, errlen);
			out->ncalls = ++i;
			if (rc != OV_OK)
				goto out;
			for (size_t j = 0; j + 1 < i; j++)
				if (out->calls[j].id[0] != '\0' &&
				    strcmp(out->calls[j].id,
				    out->calls[i - 1].id) == 0) {
					snprintf(err, errlen,
					    "two tool calls with one id");
					rc = OV_EINVAL;
					goto out;
				}
		}
	}
	rc = OV_OK;
out:
	if (rc != OV_OK)
		llm_reply_free(out);
	cJSON_Delete(root);
	free(copy);
	return rc;
}

/* ---- the client ------------------------------------------------------ */

struct llm {
	bool configured;
	char *url;                 /* {base}/chat/completions */
	char *model;
	char *key;                 /* kept only to scrub it from messages */
	struct curl_slist *headers;
	CURL *curl;
	uint64_t rng;
	bool curl_global;
};

struct http_body {
	char *buf;
	size_t len, cap;
	bool over;
	long retry_after_ms;       /* -1: none */
};

static bool
printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int
llm_open(const struct config *cfg, struct llm **out, char *err, size_t errlen)
{
	struct llm *c;
	const char *key, *base, *model;
	char auth[LLM_KEY_MAX + 32];
	const char *lines[] = { auth, "Content-Type: application/json",
		"Accept: application/json", "Expect:" };
	struct curl_slist *h = NULL, *t;
	size_t blen;
	int rc = OV_OK;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return OV_ENOMEM;
	}
	key = config_get(cfg, "OPENAI_API_KEY");
	base = config_get(cfg, "OPENAI_BASE_URL");
	model = config_get(cfg, "OPENAI_MODEL");
	if (key == NULL) {
		/* Not an error: the conversation answers by rules. */
		*out = c;
		return OV_OK;
	}
	if (strlen(key) > LLM_KEY_MAX || !printable_ascii(key)) {
		snprintf(err, errlen, "configuration key OPENAI_API_KEY is "
		    "malformed (printable characters, at most %d)", LLM_KEY_MAX);
		rc = OV_ECONFIG;
		goto out;
	}
	if (base == NULL || strlen(base) > LLM_URL_MAX ||
	    !printable_ascii(base) || (strncasecmp(base, "https://", 8) != 0 &&
	    strncasecmp(base, "http://", 7) != 0)) {
		snprintf(err, errlen, "configuration key OPENAI_BASE_URL must "
		    "be an http:// or https:// URL");
		rc = OV_ECONFIG;
		goto out;
	}
	if (model == NULL || strlen(model) > LLM_MODEL_MAX ||
	    !printable_ascii(model)) {
		snprintf(err, errlen, "configuration key OPENAI_MODEL is "
		    "malformed");
		rc = OV_ECONFIG;
		goto out;
	}
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	c->url = malloc(blen + sizeof("/chat/completions"));
	c->model = strdup(model);
	c->key = strdup(key);
	if (c->url == NULL || c->model == NULL || c->key == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = OV_ENOMEM;
		goto out;
	}
	memcpy(c->url, base, blen);
	memcpy(c->url + blen, "/chat/completions",
	    sizeof("/chat/completions"));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "libcurl failed to start");
		rc = OV_ENOMEM;
		goto out;
	}
	c->curl_global = true;
	c->curl = curl_easy_init();
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		t = curl_slist_append(h, lines[i]);
		if (t == NULL) {
			curl_slist_free_all(h);
			h = NULL;
			break;
		}
		h = t;
	}
	explicit_bzero(auth, sizeof(auth));
	c->headers = h;
	if (c->curl == NULL || c->headers == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = OV_ENOMEM;
		goto out;
	}
	if (getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(c->rng))
		c->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	c->rng |= 1;
	c->configured = true;
	*out = c;
	c = NULL;
out:
	llm_close(c);
	return rc;
}

void
llm_close(struct llm *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	/* The header list holds the key: wipe it before it is freed. */
	for (struct curl_slist *h = c->headers; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(c->headers);
	if (c->key != NULL) {
		explicit_bzero(c->key, strlen(c->key));
		free(c->key);
	}
	if (c->curl_global)
		curl_global_cleanup();
	free(c->url);
	free(c->model);
	free(c);
}

int
llm_configured(const struct llm *c)
{
	return c != NULL && c->configured;
}

static long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* xorshift64: jitter only, not security. */
static long
rand_below(struct llm *c, long n)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return n > 0 ? (long)(c->rng % (uint64_t)n) : 0;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_body *b = arg;
	size_t n = size * nmemb;

	if (n > LLM_RESPONSE_MAX - b->len) {
		b->over = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->buf, cap);
		if (p == NULL)
			return 0;
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return n;
}

/* Whole number of at most 9 digits from s (blanks around allowed). */
static long
header_number(const char *s, const char *end)
{
	char digits[16];
	size_t n = 0;
	char *stop;
	long v;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'))
		end--;
	n = (size_t)(end - s);
	if (n == 0 || n > 9)
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (digits[i] < '0' || digits[i] > '9')
			return -1;
	errno = 0;
	v = strtol(digits, &stop, 10);
	if (errno != 0 || *stop != '\0')
		return -1;
	return v;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_body *b = arg;
	size_t n = size * nmemb;
	const char *end = data + n;
	long v;

	/* A new status line (e.g. after 100 Continue) starts over. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		b->retry_after_ms = -1;
	else if (n > 15 && strncasecmp(data, "retry-after-ms:", 15) == 0) {
		v = header_number(data + 15, end);
		if (v >= 0 && v <= LLM_RETRY_AFTER_MAX_S * 1000L)
			b->retry_after_ms = v;
	} else if (n > 12 && strncasecmp(data, "retry-after:", 12) == 0 &&
	    b->retry_after_ms < 0) {
		/* Seconds only; an HTTP date falls back to our backoff. */
		v = header_number(data + 12, end);
		if (v >= 0 && v <= LLM_RETRY_AFTER_MAX_S)
			b->retry_after_ms = v * 1000L;
	}
	return n;
}

/* Copy msg into out, dropping the key and anything shaped like one. */
static void
scrub(const struct llm *c, const char *msg, char *out, size_t outlen)
{
	size_t klen = c->key != NULL ? strlen(c->key) : 0, o = 0;
	const char *p = msg;

	while (*p != '\0' && o + 1 < outlen) {
		const char *rep = NULL;
		size_t skip = 0;

		if (klen >= 4 && strncmp(p, c->key, klen) == 0) {
			rep = "[redacted]";
			skip = klen;
		} else if (strncmp(p, "sk-", 3) == 0 && (p == msg ||
		    !(isalnum((unsigned char)p[-1]) || p[-1] == '_' ||
		    p[-1] == '-'))) {
			skip = 3;
			while (p[skip] != '\0' && p[skip] != ' ' &&
			    p[skip] != '.' && p[skip] != ',' &&
			    p[skip] != '"' && p[skip] != '\'')
				skip++;
			rep = "sk-[redacted]";
		}
		if (rep != NULL) {
			size_t rl = strlen(rep);
			if (o + rl >= outlen)
				break;
			memcpy(out + o, rep, rl);
			o += rl;
			p += skip;
			continue;
		}
		out[o++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
		p++;
	}
	out[o] = '\0';
}

/* "type/code: message" from an OpenAI error body, scrubbed and bounded. */
static void
error_summary(const struct llm *c, const struct http_body *b, char *out,
    size_t outlen)
{
	cJSON *root = NULL;
	const cJSON *e, *m, *t, *code;
	char msg[LLM_SUMMARY_MAX + 1] = "", *cut = NULL;

	out[0] = '\0';
	if (b->buf == NULL || b->len == 0 || memchr(b->buf, '\0', b->len))
		return;
	root = cJSON_ParseWithLength(b->buf, b->len);
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (!cJSON_IsObject(e))
		goto out;
	m = cJSON_GetObjectItemCaseSensitive(e, "message");
	t = cJSON_GetObjectItemCaseSensitive(e, "type");
	code = cJSON_GetObjectItemCaseSensitive(e, "code");
	if (cJSON_IsString(m)) {
		cut = copy_utf8(m->valuestring, LLM_SUMMARY_MAX);
		if (cut != NULL)
			scrub(c, cut, msg, sizeof(msg));
	}
	/* type and code are short identifiers; anything else is dropped. */
	snprintf(out, outlen, "%s%s%s: %s",
	    cJSON_IsString(t) && valid_name(t->valuestring) ? t->valuestring :
	    "error",
	    cJSON_IsString(code) && valid_name(code->valuestring) ? "/" : "",
	    cJSON_IsString(code) && valid_name(code->valuestring) ?
	    code->valuestring : "", msg);
out:
	free(cut);
	cJSON_Delete(root);
}

static bool
error_code_is(const struct http_body *b, const char *want)
{
	cJSON *root;
	const cJSON *code;
	bool is = false;

	if (b->buf == NULL || b->len == 0 || memchr(b->buf, '\0', b->len))
		return false;
	root = cJSON_ParseWithLength(b->buf, b->len);
	code = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(root, "error"), "code");
	is = cJSON_IsString(code) && strcmp(code->valuestring, want) == 0;
	cJSON_Delete(root);
	return is;
}

/*
 * POST body; retry 429/5xx/dropped connections with jittered backoff (or
 * the server's Retry-After) while the deadline allows. OV_OK fills *reply.
 */
static int
complete(struct llm *c, const char *body, long deadline, int round,
    struct llm_result *res, struct llm_reply *reply)
{
	struct http_body b = { NULL, 0, 0, false, -1 };
	char summary[LLM_SUMMARY_MAX + 160];
	int rc = OV_EREMOTE;

	for (int attempt = 0;; attempt++) {
		long now = mono_ms(), remaining = deadline - now, timeout, wait;
		long status = 0;
		CURLcode cc;

		if (remaining < LLM_MIN_ATTEMPT_MS) {
			snprintf(res->error, sizeof(res->error),
			    "time budget spent after %d request(s)",
			    res->requests);
			rc = OV_ETIMEOUT;
			goto out;
		}
		timeout = remaining < LLM_REQUEST_TIMEOUT_MS ? remaining :
		    LLM_REQUEST_TIMEOUT_MS;
		free(b.buf);
		b = (struct http_body){ NULL, 0, 0, false, -1 };
		curl_easy_reset(c->curl);
		curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body));
		curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
		    timeout < LLM_CONNECT_TIMEOUT_MS ? timeout :
		    (long)LLM_CONNECT_TIMEOUT_MS);
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout);
		curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
		cabundle_apply(c->curl);
		curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "ovidio/1");
		curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &b);
		res->requests++;
		cc = curl_easy_perform(c->curl);
		if (cc == CURLE_OK)
			curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
			    &status);
		log_debug("openai: round %d request %d: %s %ld, %zu bytes, "
		    "%ld ms", round, res->requests, cc == CURLE_OK ? "HTTP" :
		    "transfer failed:", cc == CURLE_OK ? status : (long)cc,
		    b.len, mono_ms() - now);

		if (cc == CURLE_OPERATION_TIMEDOUT) {
			if (timeout == remaining) {
				snprintf(res->error, sizeof(res->error),
				    "no answer within the time budget");
				rc = OV_ETIMEOUT;
				goto out;
			}
		} else if (cc == CURLE_WRITE_ERROR && b.over) {
			snprintf(res->error, sizeof(res->error),
			    "answer over %d bytes", LLM_RESPONSE_MAX);
			rc = OV_ETOOBIG;
			goto out;
		} else if (cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR ||
		    cc == CURLE_SEND_ERROR || cc == CURLE_PARTIAL_FILE) {
			/* The connection dropped: transient. */
		} else if (cc != CURLE_OK) {
			snprintf(res->error, sizeof(res->error),
			    "cannot reach the model server: %s",
			    curl_easy_strerror(cc));
			rc = cc == CURLE_OUT_OF_MEMORY ? OV_ENOMEM : OV_EIO;
			goto out;
		} else if (status == 200) {
			rc = llm_reply_parse(b.buf != NULL ? b.buf : "", b.len,
			    reply, summary, sizeof(summary));
			if (rc != OV_OK)
				snprintf(res->error, sizeof(res->error),
				    "bad answer: %s", summary);
			goto out;
		} else if ((status == 429 && !error_code_is(&b,
		    "insufficient_quota")) || status >= 500) {
			/* Rate limit or server trouble: transient. */
		} else {
			error_summary(c, &b, summary, sizeof(summary));
			snprintf(res->error, sizeof(res->error),
			    "%s (HTTP %ld)%s%s",
			    status == 401 || status == 403 ?
			    "the server refused OPENAI_API_KEY" :
			    status == 404 ? "no such endpoint or model; check "
			    "OPENAI_BASE_URL and OPENAI_MODEL" :
			    "the server refused the request", status,
			    summary[0] ? ": " : "", summary);
			rc = status == 401 || status == 403 ? OV_EAUTH :
			    status == 404 ? OV_ECONFIG : OV_EREMOTE;
			goto out;
		}

		/* Transient: wait and try again if the budget allows. */
		if (b.retry_after_ms >= 0)
			wait = b.retry_after_ms + rand_below(c, 100);
		else {
			long base = LLM_BACKOFF_BASE_MS << (attempt < 5 ?
			    attempt : 5);
			if (base > LLM_BACKOFF_CAP_MS)
				base = LLM_BACKOFF_CAP_MS;
			wait = base / 2 + rand_below(c, base / 2 + 1);
		}
		if (status != 0)
			error_summary(c, &b, summary, sizeof(summary));
		else
			snprintf(summary, sizeof(summary), "%s",
			    curl_easy_strerror(cc));
		if (attempt + 1 >= LLM_MAX_ATTEMPTS) {
			snprintf(res->error, sizeof(res->error),
			    "gave up after %d attempts (last: %s%ld): %s",
			    attempt + 1, status != 0 ? "HTTP " : "curl code ",
			    status != 0 ? status : (long)cc, summary);
			rc = OV_EREMOTE;
			goto out;
		}
		if (mono_ms() + wait + LLM_MIN_ATTEMPT_MS > deadline) {
			if (status != 0)
				snprintf(res->error, sizeof(res->error),
				    "HTTP %ld%s; a retry in %ld ms would pass "
				    "the time budget", status,
				    b.retry_after_ms >= 0 ? " with Retry-After" :
				    "", wait);
			else
				snprintf(res->error, sizeof(res->error),
				    "transfer failed (%s); a retry in %ld ms "
				    "would pass the time budget", summary, wait);
			rc = OV_ETIMEOUT;
			goto out;
		}
		if (status != 0)
			log_warn("openai: HTTP %ld (%s); retrying in %ld ms",
			    status, summary, wait);
		else
			log_warn("openai: transfer failed (%s); retrying in "
			    "%ld ms", summary, wait);
		sleep_ms(wait);
	}
out:
	free(b.buf);
	return rc;
}

static char *
request_body(const struct llm *c, const struct llm_conv *conv, cJSON *tools,
    bool last)
{
	cJSON *req = cJSON_CreateObject(), *msgs = llm_conv_json(conv);
	char *text = NULL;
	bool ok;

	ok = req != NULL && msgs != NULL &&
	    cJSON_AddStringToObject(req, "model", c->model) &&
	    cJSON_AddItemToObject(req, "messages", msgs);
	if (!ok) {
		cJSON_Delete(msgs);
		goto out;
	}
	/* The tools stay declared in the last round (the conversation holds
	 * their calls); "none" asks for an answer in words. */
	if (tools != NULL && cJSON_GetArraySize(tools) > 0)
		ok = cJSON_AddItemReferenceToObject(req, "tools", tools) &&
		    cJSON_AddStringToObject(req, "tool_choice",
		    last ? "none" : "auto");
	ok = ok && cJSON_AddNumberToObject(req, "temperature",
	    LLM_TEMPERATURE) && cJSON_AddNumberToObject(req, "max_tokens",
	    LLM_MAX_TOKENS);
	if (ok)
		text = cJSON_PrintUnformatted(req);
out:
	cJSON_Delete(req);
	return text;
}

void
llm_result_free(struct llm_result *res)
{
	if (res == NULL)
		return;
	free(res->text);
	for (size_t i = 0; i < res->nruns; i++) {
		cJSON_Delete(res->runs[i].arguments);
		free(res->runs[i].result);
	}
	free(res->runs);
	memset(res, 0, sizeof(*res));
}

/* Validate every call of the round, then run them in order. */
static int
run_tools(struct llm_conv *conv, struct llm_reply *reply, int round,
    const struct llm_tool *tools, size_t ntools, llm_tool_fn fn, void *arg,
    struct llm_result *res)
{
	cJSON *parsed[LLM_MAX_CALLS_PER_ROUND] = { NULL };
	char why[200];
	struct llm_tool_run *runs;
	int rc = OV_OK;

	for (size_t i = 0; i < reply->ncalls; i++) {
		/* Some servers send no id; the API still needs one. */
		if (reply->calls[i].id[0] == '\0')
			snprintf(reply->calls[i].id, sizeof(reply->calls[i].id),
			    "call_ovidio_%d_%zu", round, i);
		rc = llm_validate_arguments(tools, ntools, reply->calls[i].name,
		    reply->calls[i].arguments, &parsed[i], why, sizeof(why));
		if (rc != OV_OK) {
			snprintf(res->error, sizeof(res->error),
			    "tool call refused: %s", why);
			rc = rc == OV_ENOMEM ? rc : OV_EINVAL;
			goto out;
		}
	}
	rc = llm_conv_assistant_calls(conv, reply->content, reply->calls,
	    reply->ncalls);
	if (rc != OV_OK) {
		snprintf(res->error, sizeof(res->error),
		    "cannot record the tool calls: %s", ov_strerror(rc));
		goto out;
	}
	runs = realloc(res->runs, (res->nruns + reply->ncalls) *
	    sizeof(*runs));
	if (runs == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	res->runs = runs;
	for (size_t i = 0; i < reply->ncalls; i++) {
		struct llm_tool_run *r = &res->runs[res->nruns++];

		memset(r, 0, sizeof(*r));
		memcpy(r->id, reply->calls[i].id, sizeof(r->id));
		r->tool = llm_tool_find(tools, ntools, reply->calls[i].name);
		r->arguments = parsed[i];
		parsed[i] = NULL;
		r->status = fn(arg, r->tool, r->arguments, &r->result);
		log_debug("openai: tool %s ran: %s", r->tool->name,
		    ov_strerror(r->status));
		if (r->status != OV_OK) {
			rc = r->status;
			snprintf(res->error, sizeof(res->error),
			    "tool %s failed: %s", r->tool->name,
			    ov_strerror(rc));
			goto out;
		}
		if (r->result == NULL) {
			rc = OV_EINVAL;
			snprintf(res->error, sizeof(res->error),
			    "tool %s gave no result", r->tool->name);
			goto out;
		}
		rc = llm_conv_tool(conv, r->id, r->result);
		if (rc != OV_OK) {
			snprintf(res->error, sizeof(res->error),
			    "tool %s result refused: %s", r->tool->name,
			    ov_strerror(rc));
			goto out;
		}
	}
out:
	for (size_t i = 0; i < LLM_MAX_CALLS_PER_ROUND; i++)
		cJSON_Delete(parsed[i]);
	return rc;
}

int
llm_run(struct llm *c, struct llm_conv *conv, const struct llm_tool *tools,
    size_t ntools, llm_tool_fn fn, void *arg, long budget_ms,
    struct llm_result *res)
{
	struct llm_reply reply = { 0 };
	cJSON *schema = NULL;
	char *body = NULL;
	long start = mono_ms(), deadline;
	int rc = OV_OK;

	memset(res, 0, sizeof(*res));
	if (!llm_configured(c)) {
		snprintf(res->error, sizeof(res->error),
		    "not configured (OPENAI_API_KEY not set)");
		rc = OV_ECONFIG;
		goto out;
	}
	if (conv == NULL || budget_ms < 1 || budget_ms > 600000 ||
	    (ntools > 0 && fn == NULL) || llm_conv_count(conv) == 0) {
		snprintf(res->error, sizeof(res->error), "invalid arguments");
		rc = OV_EINVAL;
		goto out;
	}
	if ((rc = llm_tools_check(tools, ntools, res->error,
	    sizeof(res->error))) != OV_OK)
		goto out;
	if (ntools > 0 && (schema = llm_tools_schema(tools, ntools)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	deadline = start + budget_ms;
	for (int round = 1; round <= LLM_MAX_ROUNDS; round++) {
		bool last = round == LLM_MAX_ROUNDS;

		free(body);
		llm_reply_free(&reply);
		body = request_body(c, conv, schema, last);
		if (body == NULL) {
			rc = OV_ENOMEM;
			goto out;
		}
		rc = complete(c, body, deadline, round, res, &reply);
		if (rc != OV_OK)
			goto out;
		res->rounds++;
		res->finish = reply.finish;
		if (reply.ncalls > 0) {
			if (reply.finish == LLM_FINISH_LENGTH) {
				snprintf(res->error, sizeof(res->error),
				    "tool call cut short by max_tokens");
				rc = OV_ETOOBIG;
				goto out;
			}
			if (last || ntools == 0) {
				res->finish = LLM_FINISH_ROUNDS;
				snprintf(res->error, sizeof(res->error),
				    ntools == 0 ? "asked for tools; none declared" :
				    "still asking for tools after %d rounds",
				    res->rounds);
				rc = OV_EREMOTE;
				goto out;
			}
			rc = run_tools(conv, &reply, round, tools, ntools, fn,
			    arg, res);
			if (rc != OV_OK)
				goto out;
			continue;
		}
		if (reply.finish == LLM_FINISH_LENGTH) {
			snprintf(res->error, sizeof(res->error),
			    "answer cut short by max_tokens");
			rc = OV_ETOOBIG;
		} else if (reply.finish == LLM_FINISH_FILTER) {
			snprintf(res->error, sizeof(res->error),
			    "answer withheld by the content filter");
			rc = OV_EREMOTE;
		} else if (reply.content == NULL || reply.content[0] == '\0') {
			snprintf(res->error, sizeof(res->error),
			    "empty answer");
			rc = OV_EREMOTE;
		} else {
			res->finish = LLM_FINISH_STOP;
			res->text = reply.content;
			reply.content = NULL;
			rc = OV_OK;
		}
		goto out;
	}
out:
	res->elapsed_ms = mono_ms() - start;
	if (rc != OV_OK) {
		if (res->error[0] == '\0')
			snprintf(res->error, sizeof(res->error), "%s",
			    ov_strerror(rc));
		if (c != NULL && c->configured)
			log_warn("openai: turn failed after %d round(s), %d "
			    "request(s), %ld ms: %s", res->rounds,
			    res->requests, res->elapsed_ms, res->error);
	} else
		log_debug("openai: turn done: %d round(s), %zu tool call(s), "
		    "%d request(s), %ld ms", res->rounds, res->nruns,
		    res->requests, res->elapsed_ms);
	llm_reply_free(&reply);
	free(body);
	cJSON_Delete(schema);
	return rc;
}
