#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "store_impl.h"

struct store {
	const struct store_ops *ops;
	void *impl;
	bool isr;               /* ISR_API_URL set: keep the ISR queue */
};

struct store_catalog_writer {
	const struct store_ops *ops;
	void *impl;
};

static const char *const status_ranks[] = {
	"pending", "sent", "delivered", "read", "failed"
};

int
store_status_rank(const char *status)
{
	if (status == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(status_ranks) / sizeof(status_ranks[0]); i++)
		if (strcmp(status, status_ranks[i]) == 0)
			return (int)i;
	return -1;
}

/* Bounded, non-empty, no control characters. */
static int
valid_text(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int
valid_waid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, STORE_WAID_MAX + 1);
	if (n == 0 || n > STORE_WAID_MAX)
		return 0;
	/* A phone number, or a BSUID for a customer without one (see
	 * "identities" in store.h). */
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '.'))
			return 0;
	return 1;
}

static int
valid_optional(const char *s, size_t max)
{
	return s == NULL || strnlen(s, max + 1) <= max;
}

/* A kept copy's id: a name, never a path or a pattern. */
static int
valid_media_ref(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, STORE_MEDIA_REF_MAX + 1);
	if (n == 0 || n > STORE_MEDIA_REF_MAX)
		return 0;
	return strspn(s, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-") == n;
}

static int
valid_catalog(const char *name)
{
	return name != NULL && (strcmp(name, "productos_cache") == 0 ||
	    strcmp(name, "clientes_cianbox") == 0);
}

static int
valid_msg(const struct store_msg *m)
{
	return m != NULL && valid_text(m->id, STORE_MSGID_MAX) &&
	    valid_waid(m->wa_id) &&
	    strnlen(m->type, sizeof(m->type)) < sizeof(m->type) &&
	    valid_optional(m->body, STORE_TEXT_MAX) &&
	    valid_optional(m->raw, STORE_TEXT_MAX);
}

int
store_open(struct store **out, const struct config *cfg)
{
	struct store *st;
	const char *uri;
	int rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return OV_ENOMEM;
	uri = config_get(cfg, "MONGODB_URI");
	st->ops = uri != NULL ? &store_mongo_ops : &store_sqlite_ops;
	st->isr = config_get(cfg, "ISR_API_URL") != NULL;
	rc = st->ops->open(&st->impl, cfg);
	if (rc != OV_OK) {
		log_error("cannot open the %s store: %s", st->ops->name,
		    ov_strerror(rc));
		free(st);
		return rc;
	}
	*out = st;
	return OV_OK;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	st->ops->close(st->impl);
	free(st);
}

const char *
store_backend(const struct store *st)
{
	return st->ops->name;
}

int
store_inbound_claim(struct store *st, const struct store_msg *m, int64_t now,
    int64_t lease_s, enum store_claim *out)
{
	if (!valid_msg(m) || out == NULL || lease_s < 0)
		return OV_EINVAL;
	return st->ops->inbound_claim(st->impl, m, now, lease_s, out);
}

int
store_inbound_done(struct store *st, const char *id, int64_t now)
{
	if (!valid_text(id, STORE_MSGID_MAX))
		return OV_EINVAL;
	return st->ops->inbound_done(st->impl, id, now);
}

int
store_inbound_note(struct store *st, const char *id, const char *body,
    const char *media)
{
	if (!valid_text(id, STORE_MSGID_MAX) || (body == NULL &&
	    media == NULL) || !valid_optional(body, STORE_TEXT_MAX) ||
	    (media != NULL && !valid_media_ref(media)))
		return OV_EINVAL;
	return st->ops->inbound_note(st->impl, id, body, media);
}

int
store_outbound_put(struct store *st, const struct store_msg *m)
{
	if (!valid_msg(m) || store_status_rank(m->status) < 0)
		return OV_EINVAL;
	return st->ops->outbound_put(st->impl, m);
}

int
store_status_update(struct store *st, const char *id, const char *wa_id,
    const char *status, int64_t ts, const char *error, bool *found)
{
	bool dummy;

	if (!valid_text(id, STORE_MSGID_MAX) || !valid_waid(wa_id) ||
	    store_status_rank(status) < 1 ||
	    !valid_optional(error, STORE_TEXT_MAX))
		return OV_EINVAL;
	return st->ops->status_update(st->impl, id, wa_id, status, ts, error,
	    found != NULL ? found : &dummy);
}

int
store_msg_get(struct store *st, const char *id, struct store_msg *out,
    bool *found)
{
	if (!valid_text(id, STORE_MSGID_MAX) || out == NULL || found == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	return st->ops->msg_get(st->impl, id, out, found);
}

int
store_history(struct store *st, const char *wa_id, int limit,
    struct store_msg **out, size_t *n)
{
	if (!valid_waid(wa_id) || limit < 1 || limit > 500 || out == NULL ||
	    n == NULL)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	return st->ops->history(st->impl, wa_id, limit, out, n);
}

void
store_msg_clear(struct store_msg *m)
{
	if (m == NULL)
		return;
	free(m->body);
	free(m->raw);
	m->body = m->raw = NULL;
	m->media[0] = '\0';
}

void
store_msgs_free(struct store_msg *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_msg_clear(&v[i]);
	free(v);
}

int
store_customer_get(struct store *st, const char *wa_id,
    struct store_customer *out, bool *found)
{
	if (!valid_waid(wa_id) || out == NULL || found == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	return st->ops->customer_get(st->impl, wa_id, out, found);
}

int
store_customer_put(struct store *st, const struct store_customer *c)
{
	if (c == NULL || !valid_waid(c->wa_id) || c->cianbox_id < 0 ||
	    !valid_optional(c->name, STORE_NAME_MAX * 4) ||
	    !valid_optional(c->profile, STORE_TEXT_MAX))
		return OV_EINVAL;
	return st->ops->customer_put(st->impl, c, (int64_t)time(NULL));
}

void
store_customer_clear(struct store_customer *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->profile);
	c->name = c->profile = NULL;
}

int
store_counter_next(struct store *st, const char *name, int64_t *value)
{
	if (!valid_text(name, STORE_NAME_MAX) || value == NULL)
		return OV_EINVAL;
	return st->ops->counter_next(st->impl, name, value);
}

int
store_token_get(struct store *st, const char *name, char **value,
    int64_t *expires_at, bool *found)
{
	if (!valid_text(name, STORE_NAME_MAX) || value == NULL ||
	    expires_at == NULL || found == NULL)
		return OV_EINVAL;
	*value = NULL;
	*expires_at = 0;
	return st->ops->token_get(st->impl, name, value, expires_at, found);
}

int
store_token_put(struct store *st, const char *name, const char *value,
    int64_t expires_at)
{
	if (!valid_text(name, STORE_NAME_MAX) || value == NULL ||
	    strnlen(value, STORE_TEXT_MAX + 1) > STORE_TEXT_MAX)
		return OV_EINVAL;
	return st->ops->token_put(st->impl, name, value, expires_at);
}

int
store_catalog_begin(struct store *st, const char *catalog,
    struct store_catalog_writer **out)
{
	struct store_catalog_writer *w;
	int rc;

	if (out == NULL)
		return OV_EINVAL;
	*out = NULL;
	if (!valid_catalog(catalog))
		return OV_EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return OV_ENOMEM;
	w->ops = st->ops;
	rc = st->ops->catalog_begin(st->impl, catalog, &w->impl);
	if (rc != OV_OK) {
		free(w);
		return rc;
	}
	*out = w;
	return OV_OK;
}

int
store_catalog_add(struct store_catalog_writer *w, const char *key,
    const char *json)
{
	struct store_catalog_item it = { key, json, NULL, 0, NULL, 0, 0 };

	return store_catalog_put(w, &it);
}

/* 1..STORE_TOKEN_MAX bytes of [a-z0-9._:]: a search token can never be
 * read as syntax by a backend (FTS5 phrase, BSON). */
static int
valid_token(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, STORE_TOKEN_MAX + 1);
	if (n == 0 || n > STORE_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == ':' || s[i] == '_'))
			return 0;
	return 1;
}

int
store_catalog_put(struct store_catalog_writer *w,
    const struct store_catalog_item *it)
{
	if (w == NULL || it == NULL || !valid_text(it->key, STORE_NAME_MAX) ||
	    it->json == NULL ||
	    strnlen(it->json, STORE_DOC_MAX + 1) > STORE_DOC_MAX ||
	    it->ntokens > STORE_ITEM_TOKENS_MAX ||
	    (it->ntokens > 0 && it->tokens == NULL) ||
	    it->nlookups > STORE_ITEM_LOOKUPS_MAX ||
	    (it->nlookups > 0 && it->lookups == NULL) ||
	    it->rank > STORE_RANK_MAX)
		return OV_EINVAL;
	for (size_t i = 0; i < it->ntokens; i++)
		if (!valid_token(it->tokens[i]))
			return OV_EINVAL;
	for (size_t i = 0; i < it->nlookups; i++)
		if (!valid_text(it->lookups[i], STORE_LOOKUP_MAX))
			return OV_EINVAL;
	return w->ops->catalog_put(w->impl, it);
}

int
store_catalog_commit(struct store_catalog_writer *w)
{
	int rc;

	if (w == NULL)
		return OV_EINVAL;
	rc = w->ops->catalog_commit(w->impl);
	free(w);
	return rc;
}

void
store_catalog_abort(struct store_catalog_writer *w)
{
	if (w == NULL)
		return;
	w->ops->catalog_abort(w->impl);
	free(w);
}

int
store_catalog_get(struct store *st, const char *catalog, const char *key,
    char **json, bool *found)
{
	if (!valid_catalog(catalog) || !valid_text(key, STORE_NAME_MAX) ||
	    json == NULL || found == NULL)
		return OV_EINVAL;
	*json = NULL;
	return st->ops->catalog_get(st->impl, catalog, key, json, found);
}

int
store_catalog_count(struct store *st, const char *catalog, int64_t *n)
{
	if (!valid_catalog(catalog) || n == NULL)
		return OV_EINVAL;
	return st->ops->catalog_count(st->impl, catalog, n);
}

int
store_catalog_search(struct store *st, const char *catalog,
    const char *const *tokens, size_t n, int limit,
    struct store_catalog_hit **out, size_t *nout)
{
	if (out == NULL || nout == NULL)
		return OV_EINVAL;
	*out = NULL;
	*nout = 0;
	if (!valid_catalog(catalog) || tokens == NULL || n == 0 ||
	    n > STORE_SEARCH_TOKENS_MAX || limit < 1 ||
	    limit > STORE_SEARCH_LIMIT_MAX)
		return OV_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!valid_token(tokens[i]))
			return OV_EINVAL;
	return st->ops->catalog_search(st->impl, catalog, tokens, n, limit, out,
	    nout);
}

int
store_catalog_lookup(struct store *st, const char *catalog,
    const char *lookup, int limit, struct store_catalog_hit **out,
    size_t *nout)
{
	if (out == NULL || nout == NULL)
		return OV_EINVAL;
	*out = NULL;
	*nout = 0;
	if (!valid_catalog(catalog) || !valid_text(lookup, STORE_LOOKUP_MAX) ||
	    limit < 1 || limit > STORE_SEARCH_LIMIT_MAX)
		return OV_EINVAL;
	return st->ops->catalog_lookup(st->impl, catalog, lookup, limit, out,
	    nout);
}

void
store_catalog_hits_free(struct store_catalog_hit *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].json);
	}
	free(v);
}

#define QUOTE_STATE_MAX (sizeof(((struct store_quote *)NULL)->state) - 1)

static int
valid_quote_id(const char *id)
{
	/* 8-4-4-4-12 lower-case hex. */
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (id == NULL || strnlen(id, 40) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == '-') {
			if (id[i] != '-')
				return 0;
		} else if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

int
store_quote_put(struct store *st, const struct store_quote *q)
{
	if (q == NULL || !valid_quote_id(q->id) || q->number < 1 ||
	    !valid_waid(q->wa_id) ||
	    !valid_text(q->state, sizeof(q->state) - 1) ||
	    !valid_optional(q->doc, STORE_DOC_MAX))
		return OV_EINVAL;
	return st->ops->quote_put(st->impl, q);
}

int
store_quote_get(struct store *st, const char *id, struct store_quote *out,
    bool *found)
{
	if (!valid_quote_id(id) || out == NULL || found == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	return st->ops->quote_get(st->impl, id, out, found);
}

int
store_quote_list_older(struct store *st, int64_t before, int limit,
    struct store_quote **out, size_t *n)
{
	if (limit < 1 || limit > 10000 || out == NULL || n == NULL)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	return st->ops->quote_list_older(st->impl, before, limit, out, n);
}

int
store_quote_list_older_except(struct store *st, int64_t before,
    const char *except_state, int limit, struct store_quote **out, size_t *n)
{
	if (!valid_text(except_state, QUOTE_STATE_MAX) ||
	    limit < 1 || limit > 10000 || out == NULL || n == NULL)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	return st->ops->quote_list_older_except(st->impl, before, except_state,
	    limit, out, n);
}

int
store_quote_pending_for(struct store *st, const char *wa_id,
    struct store_quote *out, bool *found)
{
	if (!valid_waid(wa_id) || out == NULL || found == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	*found = false;
	return st->ops->quote_pending_for(st->impl, wa_id, out, found);
}

int
store_quote_delete(struct store *st, const char *id)
{
	if (!valid_quote_id(id))
		return OV_EINVAL;
	return st->ops->quote_delete(st->impl, id);
}

void
store_quote_clear(struct store_quote *q)
{
	if (q == NULL)
		return;
	free(q->doc);
	q->doc = NULL;
}

void
store_quotes_free(struct store_quote *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_quote_clear(&v[i]);
	free(v);
}

/* ---- outbox ----------------------------------------------------------- */

static int
valid_outbox_id(const char *id)
{
	return valid_text(id, STORE_OUTBOX_ID_MAX);
}

static int valid_outbox(const struct store_outbox *o);

int
store_outbox_put(struct store *st, const struct store_outbox *o)
{
	if (!valid_outbox(o))
		return OV_EINVAL;
	return st->ops->outbox_put(st->impl, o);
}

int
store_outbox_due(struct store *st, int64_t now, int limit,
    struct store_outbox **out, size_t *n)
{
	if (out == NULL || n == NULL || limit < 1 || limit > 1000)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	return st->ops->outbox_due(st->impl, now, limit, out, n);
}

int
store_outbox_count_for(struct store *st, const char *wa_id, int64_t *n)
{
	if (!valid_waid(wa_id) || n == NULL)
		return OV_EINVAL;
	*n = 0;
	return st->ops->outbox_count_for(st->impl, wa_id, n);
}

static int valid_holder(const char *s);

/* A claimer as listed: "" (nobody) or a holder. */
static int
valid_seen_claimer(const char *s)
{
	return s != NULL && (s[0] == '\0' || valid_holder(s));
}

int
store_outbox_claim(struct store *st, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until, const char *claimer)
{
	if (!valid_outbox_id(id) || !valid_seen_claimer(seen_claimer) ||
	    !valid_holder(claimer))
		return OV_EINVAL;
	return st->ops->outbox_claim(st->impl, id, seen_at, seen_claimer,
	    until, claimer);
}

int
store_outbox_orphan(struct store *st, const char *id, int64_t seen_at,
    const char *seen_claimer, int64_t until)
{
	if (!valid_outbox_id(id) || !valid_seen_claimer(seen_claimer))
		return OV_EINVAL;
	return st->ops->outbox_orphan(st->impl, id, seen_at, seen_claimer,
	    until);
}

int
store_outbox_taken_put(struct store *st, const char *id, int part,
    const char *wamid)
{
	if (!valid_outbox_id(id) || part < 0 ||
	    part >= STORE_OUTBOX_PARTS_MAX ||
	    !valid_text(wamid, STORE_MSGID_MAX))
		return OV_EINVAL;
	return st->ops->outbox_taken_put(st->impl, id, part, wamid);
}

int
store_outbox_taken(struct store *st, const char *id,
    struct store_outbox_part *out, size_t cap, size_t *n)
{
	if (n != NULL)
		*n = 0;
	if (!valid_outbox_id(id) || out == NULL || cap == 0 || n == NULL)
		return OV_EINVAL;
	memset(out, 0, cap * sizeof(*out));
	return st->ops->outbox_taken(st->impl, id, out, cap, n);
}

int
store_outbox_reschedule(struct store *st, const char *id, int attempts,
    int64_t next_attempt_at, const char *error)
{
	if (!valid_outbox_id(id) || attempts < 0 ||
	    !valid_optional(error, STORE_TEXT_MAX))
		return OV_EINVAL;
	return st->ops->outbox_reschedule(st->impl, id, attempts,
	    next_attempt_at, error);
}

int
store_outbox_delete(struct store *st, const char *id)
{
	if (!valid_outbox_id(id))
		return OV_EINVAL;
	return st->ops->outbox_delete(st->impl, id);
}

void
store_outbox_clear(struct store_outbox *o)
{
	if (o == NULL)
		return;
	free(o->payload);
	free(o->last_error);
	o->payload = NULL;
	o->last_error = NULL;
}

void
store_outbox_free(struct store_outbox *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_outbox_clear(&v[i]);
	free(v);
}

int
store_outbox_due_for(struct store *st, const char *wa_id, int64_t now,
    int limit, struct store_outbox **out, size_t *n)
{
	if (out == NULL || n == NULL)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	if (!valid_waid(wa_id) || limit < 1 || limit > 1000)
		return OV_EINVAL;
	return st->ops->outbox_due_for(st->impl, wa_id, now, limit, out, n);
}

/* ---- conversaciones --------------------------------------------------- */

/* 1..STORE_HOLDER_MAX printable ASCII bytes. */
static int
valid_holder(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, STORE_HOLDER_MAX + 1);
	if (n == 0 || n > STORE_HOLDER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

static int
valid_conv(const struct store_conv *c)
{
	size_t n;

	if (c == NULL || !valid_waid(c->key))
		return 0;
	n = strnlen(c->owner, sizeof(c->owner));
	if (n == sizeof(c->owner) || (n > 0 && strcmp(c->owner, "bot") != 0 &&
	    strcmp(c->owner, "agent") != 0))
		return 0;
	n = strnlen(c->agent, sizeof(c->agent));
	if (n == sizeof(c->agent) || (n > 0 && !valid_holder(c->agent)))
		return 0;
	return c->doc == NULL ||
	    strnlen(c->doc, STORE_CONV_DOC_MAX + 1) <= STORE_CONV_DOC_MAX;
}

/* c with "bot" for "" and "{}" for a NULL doc: backends see one shape. */
static void
conv_normal(const struct store_conv *c, struct store_conv *out)
{
	*out = *c;
	if (out->owner[0] == '\0')
		snprintf(out->owner, sizeof(out->owner), "bot");
	if (out->doc == NULL)
		out->doc = (char *)"{}";
}

int
store_conv_get(struct store *st, const char *key, struct store_conv *out,
    bool *found)
{
	int rc;

	if (out == NULL || found == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	*found = false;
	if (!valid_waid(key))
		return OV_EINVAL;
	rc = st->ops->conv_get(st->impl, key, out, found);
	if (rc != OV_OK || !*found)
		store_conv_clear(out);
	return rc;
}

int
store_conv_put(struct store *st, const struct store_conv *c)
{
	struct store_conv n;

	if (!valid_conv(c))
		return OV_EINVAL;
	conv_normal(c, &n);
	return st->ops->conv_put(st->impl, &n, (int64_t)time(NULL));
}

void
store_conv_clear(struct store_conv *c)
{
	if (c == NULL)
		return;
	free(c->doc);
	c->doc = NULL;
}

int
store_conv_lease(struct store *st, const char *key, const char *holder,
    int64_t now, int64_t until, bool *got)
{
	if (got == NULL)
		return OV_EINVAL;
	*got = false;
	if (!valid_waid(key) || !valid_holder(holder))
		return OV_EINVAL;
	return st->ops->conv_lease(st->impl, key, holder, now, until, got);
}

int
store_conv_release(struct store *st, const char *key, const char *holder)
{
	if (!valid_waid(key) || !valid_holder(holder))
		return OV_EINVAL;
	return st->ops->conv_release(st->impl, key, holder);
}

static int
valid_outbox(const struct store_outbox *o)
{
	return o != NULL && valid_outbox_id(o->id) && valid_waid(o->wa_id) &&
	    (int)o->lane >= (int)STORE_LANE_REPLY &&
	    (int)o->lane <= (int)STORE_LANE_CAMPAIGN &&
	    valid_text(o->kind, STORE_OUTBOX_KIND_MAX) &&
	    o->payload != NULL && o->payload[0] != '\0' &&
	    valid_optional(o->payload, STORE_TEXT_MAX) &&
	    valid_optional(o->last_error, STORE_TEXT_MAX) && o->attempts >= 0;
}

int
store_turn_commit(struct store *st, const struct store_turn *t)
{
	struct store_turn nt;
	struct store_conv c;

	if (t == NULL || !valid_text(t->id, STORE_MSGID_MAX) ||
	    !valid_conv(t->conv) || t->nreplies > STORE_TURN_REPLIES_MAX ||
	    (t->nreplies > 0 && t->replies == NULL) ||
	    t->nmsgs > STORE_TURN_MSGS_MAX ||
	    (t->nmsgs > 0 && t->msg_ids == NULL))
		return OV_EINVAL;
	for (size_t i = 0; i < t->nreplies; i++) {
		if (!valid_outbox(&t->replies[i]))
			return OV_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(t->replies[i].id, t->replies[j].id) == 0)
				return OV_EINVAL;
	}
	for (size_t i = 0; i < t->nmsgs; i++)
		if (!valid_text(t->msg_ids[i], STORE_MSGID_MAX))
			return OV_EINVAL;
	conv_normal(t->conv, &c);
	nt = *t;
	nt.conv = &c;
	return st->ops->turn_commit(st->impl, &nt);
}

int
store_turn_recover(struct store *st, size_t *applied)
{
	size_t dummy;

	if (applied == NULL)
		applied = &dummy;
	*applied = 0;
	return st->ops->turn_recover(st->impl, applied);
}

/* ---- proactive messages ------------------------------------------------ */

static int
valid_proactive(const char *const *markers, size_t nmarkers,
    const struct store_outbox *entry)
{
	if (markers == NULL || nmarkers == 0 ||
	    nmarkers > STORE_PROACTIVE_MARKERS_MAX || !valid_outbox(entry))
		return 0;
	for (size_t i = 0; i < nmarkers; i++) {
		if (!valid_text(markers[i], STORE_MARKER_MAX))
			return 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(markers[i], markers[j]) == 0)
				return 0;
	}
	return 1;
}

int
store_proactive_commit(struct store *st, const char *const *markers,
    size_t nmarkers, const struct store_outbox *entry, int64_t now)
{
	if (!valid_proactive(markers, nmarkers, entry))
		return OV_EINVAL;
	return st->ops->proactive_commit(st->impl, markers, nmarkers, entry,
	    now);
}

int
store_proactive_commit_batch(struct store *st, struct store_proactive *v,
    size_t n, int64_t now)
{
	if ((v == NULL && n > 0) || n > STORE_SCAN_MAX)
		return OV_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!valid_proactive(v[i].markers, v[i].nmarkers, v[i].entry))
			return OV_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[i].entry->id, v[j].entry->id) == 0)
				return OV_EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		v[i].rc = OV_ESTORE;
	if (n == 0)
		return OV_OK;
	return st->ops->proactive_batch(st->impl, v, n, now);
}

int
store_marker_get(struct store *st, const char *marker, bool *found)
{
	if (found == NULL)
		return OV_EINVAL;
	*found = false;
	if (!valid_text(marker, STORE_MARKER_MAX))
		return OV_EINVAL;
	return st->ops->marker_get(st->impl, marker, found);
}

int
store_marker_delete(struct store *st, const char *marker)
{
	if (!valid_text(marker, STORE_MARKER_MAX))
		return OV_EINVAL;
	return st->ops->marker_delete(st->impl, marker);
}

int
store_proactive_recover(struct store *st, size_t *applied)
{
	size_t dummy;

	if (applied == NULL)
		applied = &dummy;
	*applied = 0;
	return st->ops->proactive_recover(st->impl, (int64_t)time(NULL),
	    applied);
}

int
store_conv_scan(struct store *st, const char *after, int limit,
    struct store_conv **out, size_t *n)
{
	if (out == NULL || n == NULL)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	if (after == NULL || (after[0] != '\0' && !valid_waid(after)) ||
	    limit < 1 || limit > STORE_SCAN_MAX)
		return OV_EINVAL;
	return st->ops->conv_scan(st->impl, after, limit, out, n);
}

void
store_convs_free(struct store_conv *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		store_conv_clear(&v[i]);
	free(v);
}

int
store_quote_scan_expiring(struct store *st, const char *state, int64_t from,
    int64_t to, const char *after, int limit, struct store_quote **out,
    size_t *n)
{
	if (out == NULL || n == NULL)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	if (!valid_text(state, 31) || after == NULL ||
	    (after[0] != '\0' && !valid_quote_id(after)) || limit < 1 ||
	    limit > STORE_SCAN_MAX)
		return OV_EINVAL;
	return st->ops->quote_scan_expiring(st->impl, state, from, to, after,
	    limit, out, n);
}

int
store_demand_put(struct store *st, const char *wa_id, int64_t product_id,
    int64_t asked_at)
{
	if (!valid_waid(wa_id) || product_id <= 0)
		return OV_EINVAL;
	return st->ops->demand_put(st->impl, wa_id, product_id, asked_at);
}

int
store_demand_scan(struct store *st, const struct store_demand *after,
    int limit, struct store_demand **out, size_t *n)
{
	if (out == NULL || n == NULL)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	if ((after != NULL && !valid_waid(after->wa_id)) || limit < 1 ||
	    limit > STORE_SCAN_MAX)
		return OV_EINVAL;
	return st->ops->demand_scan(st->impl, after, limit, out, n);
}

int
store_demand_delete(struct store *st, const char *wa_id, int64_t product_id)
{
	if (!valid_waid(wa_id) || product_id <= 0)
		return OV_EINVAL;
	return st->ops->demand_delete(st->impl, wa_id, product_id);
}

/* ---- identities -------------------------------------------------------- */

bool
store_key_is_phone(const char *key)
{
	size_t n;

	if (key == NULL)
		return false;
	n = strnlen(key, STORE_WAID_MAX + 1);
	return n > 0 && n <= STORE_WAID_MAX && strspn(key, "0123456789") == n;
}

int
store_identity_get(struct store *st, const char *key,
    struct store_identity *out, bool *found)
{
	if (!valid_waid(key) || out == NULL || found == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	*found = false;
	return st->ops->identity_get(st->impl, key, out, found);
}

int
store_identity_put(struct store *st, const struct store_identity *id,
    int64_t now)
{
	if (id == NULL || !valid_waid(id->key) ||
	    (id->phone[0] != '\0' && !store_key_is_phone(id->phone)))
		return OV_EINVAL;
	return st->ops->identity_put(st->impl, id, now);
}

int
store_identity_move(struct store *st, const char *from, const char *to,
    int64_t now)
{
	if (!valid_waid(from) || !valid_waid(to) || strcmp(from, to) == 0)
		return OV_EINVAL;
	return st->ops->identity_move(st->impl, from, to, now);
}

/* ---- inbox ------------------------------------------------------------ */

int
store_conv_swap(struct store *st, const struct store_conv *c,
    const char *expect_owner, const char *expect_agent, const char *holder,
    bool *got)
{
	struct store_conv n;
	const char *eo;

	if (got == NULL)
		return OV_EINVAL;
	*got = false;
	if (!valid_conv(c) || expect_owner == NULL || expect_agent == NULL ||
	    !valid_holder(holder) || strnlen(expect_agent, STORE_HOLDER_MAX + 1) >
	    STORE_HOLDER_MAX)
		return OV_EINVAL;
	eo = expect_owner[0] == '\0' ? "bot" : expect_owner;
	if (strcmp(eo, "bot") != 0 && strcmp(eo, "agent") != 0)
		return OV_EINVAL;
	conv_normal(c, &n);
	return st->ops->conv_swap(st->impl, &n, eo, expect_agent, holder,
	    (int64_t)time(NULL), got);
}

int
store_inbox_list(struct store *st, const char *query, int limit,
    struct store_inbox_row **out, size_t *n)
{
	char q[STORE_INBOX_QUERY_MAX + 1];
	size_t len;

	if (out == NULL || n == NULL)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	if (limit < 1 || limit > STORE_INBOX_LIST_MAX)
		return OV_EINVAL;
	if (query != NULL && query[0] != '\0') {
		len = strnlen(query, STORE_INBOX_QUERY_MAX + 1);
		if (len > STORE_INBOX_QUERY_MAX)
			return OV_EINVAL;
		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)query[i];

			if (ch < 0x20 || ch == 0x7f)
				return OV_EINVAL;
			q[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
		}
		q[len] = '\0';
		return st->ops->inbox_list(st->impl, q, limit, out, n);
	}
	return st->ops->inbox_list(st->impl, NULL, limit, out, n);
}

void
store_inbox_rows_free(struct store_inbox_row *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		store_conv_clear(&v[i].conv);
		free(v[i].name);
	}
	free(v);
}

int
store_inbox_stats(struct store *st, int64_t since, int64_t now,
    struct store_inbox_stats *out)
{
	if (out == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	out->latency_p50 = out->latency_p99 = -1;
	return st->ops->inbox_stats(st->impl, since, now, out);
}

/* ---- legacy and ISR ---------------------------------------------------- */

int
store_msgs_import(struct store *st, const struct store_msg *v, size_t n,
    size_t *added)
{
	size_t dummy;

	if ((v == NULL && n > 0) || n > STORE_IMPORT_BATCH)
		return OV_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!valid_msg(&v[i]) || v[i].type[0] == '\0' ||
		    (v[i].dir != STORE_IN && v[i].dir != STORE_OUT))
			return OV_EINVAL;
		if (v[i].dir == STORE_OUT && store_status_rank(v[i].status) < 0)
			return OV_EINVAL;
	}
	if (added == NULL)
		added = &dummy;
	*added = 0;
	if (n == 0)
		return OV_OK;
	return st->ops->msgs_import(st->impl, v, n, added);
}

int
store_counter_raise(struct store *st, const char *name, int64_t at_least,
    bool *raised)
{
	bool dummy;

	if (!valid_text(name, STORE_NAME_MAX) || at_least < 1 ||
	    at_least > INT64_MAX / 2)
		return OV_EINVAL;
	if (raised == NULL)
		raised = &dummy;
	*raised = false;
	return st->ops->counter_raise(st->impl, name, at_least, raised);
}

int
store_quote_by_number(struct store *st, int64_t number,
    struct store_quote *out, bool *found)
{
	if (number < 1 || out == NULL || found == NULL)
		return OV_EINVAL;
	memset(out, 0, sizeof(*out));
	*found = false;
	return st->ops->quote_by_number(st->impl, number, out, found);
}

int
store_quotes_by_number(struct store *st, const int64_t *numbers, size_t n,
    struct store_quote *out, bool *found)
{
	int rc;

	if ((n > 0 && (numbers == NULL || out == NULL || found == NULL)) ||
	    n > STORE_IMPORT_BATCH)
		return OV_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (numbers[i] < 1)
			return OV_EINVAL;
	if (n == 0)
		return OV_OK;
	memset(out, 0, n * sizeof(*out));
	memset(found, 0, n * sizeof(*found));
	rc = st->ops->quotes_by_number(st->impl, numbers, n, out, found);
	if (rc != OV_OK) {
		for (size_t i = 0; i < n; i++) {
			if (found[i])
				store_quote_clear(&out[i]);
			found[i] = false;
		}
	}
	return rc;
}

int
store_quotes_import(struct store *st, const struct store_quote *v, size_t n,
    size_t *added)
{
	size_t dummy;

	if ((v == NULL && n > 0) || n > STORE_IMPORT_BATCH)
		return OV_EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct store_quote *q = &v[i];

		if (!valid_quote_id(q->id) || q->number < 1 ||
		    !valid_waid(q->wa_id) ||
		    !valid_text(q->state, sizeof(q->state) - 1) ||
		    !valid_optional(q->doc, STORE_DOC_MAX))
			return OV_EINVAL;
	}
	if (added == NULL)
		added = &dummy;
	*added = 0;
	if (n == 0)
		return OV_OK;
	return st->ops->quotes_import(st->impl, v, n, added);
}

bool
store_isr_enabled(const struct store *st)
{
	return st != NULL && st->isr;
}

static bool
valid_isr(const struct store_isr *e)
{
	return e != NULL && valid_text(e->id, STORE_ISR_ID_MAX) &&
	    valid_quote_id(e->quote_id) && e->payload != NULL &&
	    valid_text(e->payload, STORE_TEXT_MAX) &&
	    valid_optional(e->last_error, STORE_TEXT_MAX) && e->attempts >= 0;
}

int
store_isr_put(struct store *st, const struct store_isr *e)
{
	struct timespec ts;

	if (!valid_isr(e))
		return OV_EINVAL;
	if (!st->isr)
		return OV_OK;
	/* Insertion order across processes: the clock, in microseconds. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return st->ops->isr_put(st->impl, e,
	    (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

int
store_isr_list(struct store *st, int limit, struct store_isr **out,
    size_t *n)
{
	if (limit < 1 || limit > 1000 || out == NULL || n == NULL)
		return OV_EINVAL;
	*out = NULL;
	*n = 0;
	return st->ops->isr_list(st->impl, limit, out, n);
}

int
store_isr_claim(struct store *st, const char *id, int64_t seen,
    int64_t until)
{
	if (!valid_text(id, STORE_ISR_ID_MAX))
		return OV_EINVAL;
	return st->ops->isr_claim(st->impl, id, seen, until);
}

int
store_isr_reschedule(struct store *st, const char *id, int attempts,
    int64_t next_attempt_at, const char *error)
{
	if (!valid_text(id, STORE_ISR_ID_MAX) || attempts < 0 ||
	    !valid_optional(error, STORE_TEXT_MAX))
		return OV_EINVAL;
	return st->ops->isr_reschedule(st->impl, id, attempts,
	    next_attempt_at, error);
}

int
store_isr_delete(struct store *st, const char *id)
{
	if (!valid_text(id, STORE_ISR_ID_MAX))
		return OV_EINVAL;
	return st->ops->isr_delete(st->impl, id);
}

void
store_isr_free(struct store_isr *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].payload);
		free(v[i].last_error);
	}
	free(v);
}
