/*
 * llm.h - OpenAI Chat Completions with tool calling, against any
 * OpenAI-compatible server (OPENAI_BASE_URL).
 *
 * This module knows OpenAI's JSON and nothing about the conversation. The
 * caller declares its tools (name, description, parameters), builds a
 * conversation, and calls llm_run() with a time budget and a callback that
 * executes one validated tool call. llm_run() does the bounded loop:
 *
 *   call the model -> validate every tool call of the round -> run them
 *   through the callback -> feed the results back (tool_call_id) -> ...
 *
 * at most LLM_MAX_ROUNDS model calls per turn; the last one is sent with
 * tool_choice "none" so the model answers in words. Everything the model
 * sends is untrusted: tool names must be in the caller's table, arguments
 * are validated (JSON, types, ranges, lengths) before any callback runs,
 * counts and lengths are bounded.
 *
 * The final text is returned to the caller together with every tool that
 * ran and its result, so the caller decides what a customer reads: prices,
 * stock and totals must come from tool results formatted by the caller,
 * never from the model's text.
 *
 * Failure is normal here: any return other than OV_OK means "answer by
 * rules". The codes tell why (for logs and tests):
 *   OV_ECONFIG   OPENAI_API_KEY not set ("not configured": no request is
 *                made), or the server said 404 (base URL or model wrong)
 *   OV_EAUTH     the server refused the key (401/403)
 *   OV_ETIMEOUT  the budget ran out: slow answer, or 429/5xx retries
 *                (with jittered backoff, Retry-After honoured) that would
 *                not fit in it
 *   OV_EIO       the server could not be reached
 *   OV_EINVAL    the model asked for an unknown tool, sent invalid
 *                arguments or too many calls in one round; nothing ran
 *   OV_EPARSE    the answer was not a chat completion
 *   OV_ETOOBIG   the answer was over a bound, or cut (finish "length")
 *   OV_EREMOTE   any other refusal (400, quota, content filter, empty
 *                answer, still asking for tools after the last round)
 * res->error then holds a one-line summary for the log, free of secrets.
 *
 * Secrets: the API key is sent only in the Authorization header. It is
 * never logged, never put in a URL, and scrubbed from server error
 * messages before they reach res->error or the log.
 *
 * Use (the conversation supplies the tools and the callback):
 *
 *   struct llm *c;  llm_open(cfg, &c, err, sizeof(err));
 *   struct llm_conv *conv;  llm_conv_new(&conv);
 *   llm_conv_system(conv, prompt);  ...history...;  llm_conv_user(conv, text);
 *   struct llm_result res;
 *   if (llm_run(c, conv, tools, ntools, run_tool, ctx, 12000, &res) == OV_OK)
 *           ... res.text, res.runs[0..nruns) ...
 *   else
 *           ... answer by rules; log res.error ...
 *   llm_result_free(&res);  llm_conv_free(conv);  llm_close(c);
 *
 * Ownership:
 *   - llm_open() allocates a client; llm_close() frees it. One process,
 *     one thread (libcurl handle inside); after fork() open a new one.
 *   - A conversation (struct llm_conv) is allocated by llm_conv_new() and
 *     freed by llm_conv_free(). Strings passed in are copied.
 *   - Tool tables are the caller's and must outlive the calls that use
 *     them (string literals and static arrays are the intended use).
 *   - struct llm_result is the caller's storage: llm_run() overwrites it
 *     without looking (so free a used one first); llm_result_free()
 *     releases what it points to and leaves it zeroed.
 *   - The callback's *result is malloc'd by the callback and owned by
 *     llm_run() from then on (even when the callback fails).
 *   - cJSON values handed out (*parsed, run arguments) are owned as stated
 *     at each function.
 */
#ifndef OVIDIO_LLM_H
#define OVIDIO_LLM_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct config;
struct llm;
struct llm_conv;

/* Bounds. */
#define LLM_MAX_ROUNDS 4              /* model calls per llm_run() */
#define LLM_MAX_CALLS_PER_ROUND 5     /* tool calls accepted in one answer */
#define LLM_MAX_MESSAGES 30           /* system prompt included */
#define LLM_MESSAGE_MAX 4096          /* bytes; longer user/assistant text is cut */
#define LLM_SYSTEM_MAX 16384          /* bytes; a longer system prompt is refused */
#define LLM_TOOL_RESULT_MAX 8192      /* bytes of one tool result */
#define LLM_ARGUMENTS_MAX 4096        /* bytes of one call's arguments JSON */
#define LLM_CONTENT_MAX 4096          /* bytes of the model's final text */
#define LLM_RESPONSE_MAX (256 * 1024) /* bytes of one HTTP response body */
#define LLM_NAME_MAX 64               /* tool and parameter names */
#define LLM_CALL_ID_MAX 64            /* tool_call ids */
#define LLM_MAX_TOOLS 24
#define LLM_MAX_PARAMS 16             /* per tool, and per array item */
#define LLM_CONNECT_TIMEOUT_MS 3000
#define LLM_REQUEST_TIMEOUT_MS 20000  /* one HTTP request, at most */
#define LLM_MAX_TOKENS 600
#define LLM_TEMPERATURE 0.2

/* ---- tools ----------------------------------------------------------- */

enum llm_type {
	LLM_STRING,
	LLM_INTEGER,
	LLM_NUMBER,
	LLM_BOOLEAN,
	LLM_ARRAY       /* array of objects whose fields are `items` */
};

/*
 * One parameter of a tool, or one field of an array item. The JSON Schema
 * sent to the model is made from this table (so the model is told exactly
 * what the validator accepts). Bounds:
 *   LLM_STRING   min_len..max_len bytes (max_len 1..LLM_ARGUMENTS_MAX),
 *                valid UTF-8, no control characters; enum_values, when
 *                not NULL, is a NULL-terminated list of the only values
 *   LLM_INTEGER  a whole JSON number in imin..imax (always applied)
 *   LLM_NUMBER   a finite JSON number in dmin..dmax (always applied)
 *   LLM_BOOLEAN  true or false
 *   LLM_ARRAY    min_items..max_items objects (max_items >= 1), each with
 *                exactly the fields in items[0..nitems) (scalars only: no
 *                deeper nesting)
 * Unknown keys, duplicate keys, and objects or arrays where a scalar is
 * declared are refused. A null value counts as absent.
 */
struct llm_param {
	const char *name;
	enum llm_type type;
	int required;
	const char *description;
	size_t min_len, max_len;
	long long imin, imax;
	double dmin, dmax;
	const char *const *enum_values;
	size_t min_items, max_items;
	const struct llm_param *items;
	size_t nitems;
};

struct llm_tool {
	const char *name;          /* [A-Za-z0-9_-], 1..LLM_NAME_MAX */
	const char *description;
	const struct llm_param *params;
	size_t nparams;
};

/* OV_OK when the table is well formed (names, bounds, counts); otherwise
 * OV_EINVAL with the problem in err. llm_run() checks it too. */
int llm_tools_check(const struct llm_tool *tools, size_t ntools, char *err,
    size_t errlen);

/* The tool called name, or NULL. */
const struct llm_tool *llm_tool_find(const struct llm_tool *tools,
    size_t ntools, const char *name);

/* The "tools" array of a request, made from the table. Caller frees with
 * cJSON_Delete(). NULL when out of memory. */
cJSON *llm_tools_schema(const struct llm_tool *tools, size_t ntools);

/*
 * Validate a tool call the model asked for. OV_OK: *parsed is a new cJSON
 * object holding only declared parameters (nulls removed) that the caller
 * frees with cJSON_Delete(). Otherwise *parsed is NULL, err says what was
 * wrong (naming the tool and parameter, never echoing the model's values)
 * and the code is OV_EINVAL (unknown tool, not an object, missing, wrong
 * type, out of range, too long, extra keys, nesting), OV_EPARSE (not
 * JSON) or OV_ETOOBIG (over LLM_ARGUMENTS_MAX). An empty arguments string
 * means {} (some compatible servers send it for tools without parameters).
 */
int llm_validate_arguments(const struct llm_tool *tools, size_t ntools,
    const char *name, const char *arguments, cJSON **parsed, char *err,
    size_t errlen);

/* ---- conversation ---------------------------------------------------- */

enum llm_role { LLM_SYSTEM, LLM_USER, LLM_ASSISTANT, LLM_TOOL };

/* One tool call as the model sent it (arguments not yet validated). */
struct llm_tool_call {
	char id[LLM_CALL_ID_MAX + 1];
	char name[LLM_NAME_MAX + 1];
	char *arguments;           /* malloc'd, owned by the struct holding it */
};

/*
 * At most LLM_MAX_MESSAGES messages including the system prompt. When a
 * message would pass the bound, the oldest ones after the system prompt
 * are dropped (and any tool messages left without the assistant message
 * that asked for them, which the API would refuse). User and assistant
 * text longer than LLM_MESSAGE_MAX is cut at a UTF-8 boundary; invalid
 * UTF-8 bytes become U+FFFD. Appending returns OV_OK, OV_ENOMEM, or
 * OV_EINVAL/OV_ETOOBIG for arguments over their bounds.
 */
int llm_conv_new(struct llm_conv **out);
void llm_conv_free(struct llm_conv *conv);

/* Set (or replace) the system prompt; OV_ETOOBIG over LLM_SYSTEM_MAX. */
int llm_conv_system(struct llm_conv *conv, const char *text);
int llm_conv_user(struct llm_conv *conv, const char *text);
int llm_conv_assistant(struct llm_conv *conv, const char *text);
/* An assistant message asking for tools (text may be NULL); calls are
 * copied. 1..LLM_MAX_CALLS_PER_ROUND calls. */
int llm_conv_assistant_calls(struct llm_conv *conv, const char *text,
    const struct llm_tool_call *calls, size_t ncalls);
/* The result of one tool call; OV_ETOOBIG over LLM_TOOL_RESULT_MAX. */
int llm_conv_tool(struct llm_conv *conv, const char *tool_call_id,
    const char *result);

/* Messages held now, system prompt included. */
size_t llm_conv_count(const struct llm_conv *conv);
/* Role and content of message i (0 is the system prompt when set); content
 * belongs to conv and may be NULL (assistant tool calls without text).
 * OV_ENOTFOUND past the end. */
int llm_conv_get(const struct llm_conv *conv, size_t i, enum llm_role *role,
    const char **content);

/* The "messages" array of a request. Caller frees with cJSON_Delete(). */
cJSON *llm_conv_json(const struct llm_conv *conv);

/* ---- model replies --------------------------------------------------- */

enum llm_finish {
	LLM_FINISH_NONE = 0,
	LLM_FINISH_STOP,           /* final text */
	LLM_FINISH_TOOL_CALLS,     /* asks for tools */
	LLM_FINISH_LENGTH,         /* cut by max_tokens */
	LLM_FINISH_FILTER,         /* content filter */
	LLM_FINISH_ROUNDS          /* llm_run(): still asking after the last round */
};

/* One parsed chat completion. */
struct llm_reply {
	char *content;             /* NULL when none; valid UTF-8 */
	enum llm_finish finish;
	struct llm_tool_call *calls;
	size_t ncalls;
};

/*
 * Parse a chat completion body (choices[0]). Checks the shape and bounds:
 * content within LLM_CONTENT_MAX, at most LLM_MAX_CALLS_PER_ROUND calls,
 * ids and names of allowed characters and length, arguments strings within
 * LLM_ARGUMENTS_MAX. Tool names are not looked up here. OV_OK fills *out
 * (release with llm_reply_free()); otherwise OV_EPARSE, OV_ETOOBIG or
 * OV_EINVAL with err set and *out empty.
 */
int llm_reply_parse(const char *body, size_t len, struct llm_reply *out,
    char *err, size_t errlen);
void llm_reply_free(struct llm_reply *reply);

/* ---- the client ------------------------------------------------------ */

/*
 * Read OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL. Without a key the
 * client is made but not configured (llm_configured() is 0) and
 * llm_run() returns OV_ECONFIG at once. A malformed value (control
 * characters, a base URL that is not http(s)://) is OV_ECONFIG naming the
 * key, never showing a secret.
 */
int llm_open(const struct config *cfg, struct llm **out, char *err,
    size_t errlen);
void llm_close(struct llm *c);
int llm_configured(const struct llm *c);

/*
 * Execute one validated tool call. args is the validated object (owned by
 * llm_run()). Set *result to a malloc'd text (JSON is the intended form)
 * of at most LLM_TOOL_RESULT_MAX bytes, which is sent to the model as the
 * tool message. Return OV_OK, or an error code to end the turn (llm_run()
 * then returns that code). A tool that "fails" in a way the model should
 * hear about (no such product) returns OV_OK with a result saying so.
 */
typedef int (*llm_tool_fn)(void *arg, const struct llm_tool *tool,
    const cJSON *args, char **result);

/* One tool call of the turn. */
struct llm_tool_run {
	char id[LLM_CALL_ID_MAX + 1];
	const struct llm_tool *tool;   /* entry of the caller's table */
	cJSON *arguments;              /* validated; owned by the result */
	char *result;                  /* what the callback returned; owned */
	int status;                    /* the callback's return code */
};

struct llm_result {
	char *text;                 /* final text (OV_OK), else NULL; owned */
	enum llm_finish finish;
	struct llm_tool_run *runs;  /* in the order they ran; owned */
	size_t nruns;
	int rounds;                 /* model answers received */
	int requests;               /* HTTP requests sent, retries included */
	long elapsed_ms;
	char error[512];            /* summary when not OV_OK; "" otherwise */
};

/*
 * One turn: see the top of this file. conv must hold the system prompt and
 * the customer's message; the tool round messages (assistant tool calls
 * and tool results) are appended to it, the final text is not (the caller
 * records what it actually sends). budget_ms (1..600000) bounds the whole
 * turn, retries and backoff included; the wait is measured on
 * CLOCK_MONOTONIC, not clock_now(), which tests may freeze.
 * res is always filled (reset first), whatever the return code.
 */
int llm_run(struct llm *c, struct llm_conv *conv, const struct llm_tool *tools,
    size_t ntools, llm_tool_fn fn, void *arg, long budget_ms,
    struct llm_result *res);

void llm_result_free(struct llm_result *res);

#endif
