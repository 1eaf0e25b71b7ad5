/*
 * inbox.c - ownership, CSRF tokens and status files (see inbox.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "conv.h"
#include "err.h"
#include "hmac.h"
#include "inbox.h"
#include "log.h"
#include "store.h"
#include "wa_payload.h"

#define LEASE_S 15        /* an inbox change takes well under a second */

int
inbox_user_ok(const char *user)
{
	size_t n;

	if (user == NULL)
		return 0;
	n = strnlen(user, INBOX_USER_MAX + 1);
	if (n == 0 || n > INBOX_USER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)user[i];

		if (ch <= 0x20 || ch >= 0x7f || strchr("\"<>&\\'", ch) != NULL)
			return 0;
	}
	return 1;
}

void
inbox_csrf(const char *secret, const char *user,
    char out[INBOX_CSRF_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[SHA256_DIGEST_LEN];
	char msg[16 + INBOX_USER_MAX + 1];

	snprintf(msg, sizeof(msg), "inbox-csrf:%s", user);
	hmac_sha256(secret, strlen(secret), msg, strlen(msg), mac);
	for (size_t i = 0; i < SHA256_DIGEST_LEN; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[INBOX_CSRF_LEN] = '\0';
}

int
inbox_csrf_ok(const char *secret, const char *user, const char *token)
{
	char want[INBOX_CSRF_LEN + 1];
	char got[INBOX_CSRF_LEN + 1];
	size_t n;

	if (secret == NULL || user == NULL || token == NULL)
		return 0;
	n = strnlen(token, INBOX_CSRF_LEN + 1);
	/* Fixed-size buffers: the comparison's time does not depend on
	 * where the token differs. */
	memset(got, 0, sizeof(got));
	memcpy(got, token, n > INBOX_CSRF_LEN ? INBOX_CSRF_LEN : n);
	inbox_csrf(secret, user, want);
	return hmac_equal(want, got, INBOX_CSRF_LEN) && n == INBOX_CSRF_LEN;
}

long
inbox_handoff_hours(const struct config *cfg)
{
	char err[128];
	long h = 4;

	if (config_get_long(cfg, "HANDOFF_HOURS", 4, 0, 24 * 30, &h, err,
	    sizeof(err)) != OV_OK)
		h = 4;
	return h;
}

/* Read key's conversation under holder's lease. */
static int
begin(struct store *st, const char *key, const char *holder, int64_t now,
    struct store_conv *sc, struct conv *c)
{
	bool got = false, found = false;
	int rc;

	if ((rc = store_conv_lease(st, key, holder, now, now + LEASE_S,
	    &got)) != OV_OK)
		return rc;
	if (!got)
		return OV_EBUSY;
	memset(sc, 0, sizeof(*sc));
	if ((rc = store_conv_get(st, key, sc, &found)) != OV_OK)
		goto fail;
	if (!found) {
		rc = OV_ENOTFOUND;
		goto fail;
	}
	if ((rc = conv_from_store(sc, c)) != OV_OK)
		goto fail;
	return OV_OK;
fail:
	store_conv_clear(sc);
	store_conv_release(st, key, holder);
	return rc;
}

/* Write c if the owner is still the one read (sc), then release. */
static int
finish(struct store *st, const struct store_conv *sc, const struct conv *c,
    const char *holder)
{
	struct store_conv out;
	bool got = false;
	int rc;

	memset(&out, 0, sizeof(out));
	if ((rc = conv_to_store(c, &out)) != OV_OK)
		goto out;
	/* The store keeps the latest inbound time; never move it back. */
	if (out.last_inbound < sc->last_inbound)
		out.last_inbound = sc->last_inbound;
	rc = store_conv_swap(st, &out, sc->owner, sc->agent, holder, &got);
	if (rc == OV_OK && !got)
		rc = OV_EBUSY;
out:
	store_conv_clear(&out);
	if (rc != OV_OK)
		store_conv_release(st, sc->key, holder);
	return rc;
}

int
inbox_own(struct store *st, const char *key, const char *user,
    enum inbox_act act, int64_t now, long hours, char *who, size_t wholen)
{
	char holder[STORE_HOLDER_MAX + 1];
	struct store_conv sc;
	struct conv c;
	bool found = false;
	int rc;

	if (who != NULL && wholen > 0)
		who[0] = '\0';
	if (!inbox_user_ok(user))
		return OV_EINVAL;
	/* The lease would make a record for any number: only a customer
	 * who exists can be taken or given back. */
	memset(&sc, 0, sizeof(sc));
	rc = store_conv_get(st, key, &sc, &found);
	store_conv_clear(&sc);
	if (rc != OV_OK)
		return rc;
	if (!found)
		return OV_ENOTFOUND;
	snprintf(holder, sizeof(holder), "inbox:%s", user);
	if ((rc = begin(st, key, holder, now, &sc, &c)) != OV_OK)
		return rc;
	if (act == INBOX_TAKE) {
		if (c.owner == CONV_OWNER_AGENT && c.owner_until > now &&
		    c.agent[0] != '\0' &&
		    strcmp(c.agent, INBOX_AGENT_HANDOFF) != 0 &&
		    strcmp(c.agent, INBOX_AGENT_APP) != 0 &&
		    strcmp(c.agent, user) != 0) {
			if (who != NULL && wholen > 0)
				snprintf(who, wholen, "%s", c.agent);
			store_conv_release(st, key, holder);
			store_conv_clear(&sc);
			return OV_EBUSY;
		}
		c.owner = CONV_OWNER_AGENT;
		snprintf(c.agent, sizeof(c.agent), "%s", user);
		c.owner_until = now + (int64_t)hours * 3600;
	} else {
		c.owner = CONV_OWNER_BOT;
		c.agent[0] = '\0';
		c.owner_until = 0;
		c.pending = CONV_PENDING_NONE;
	}
	rc = finish(st, &sc, &c, holder);
	if (rc == OV_OK)
		log_info("inbox: %s %s %s", user,
		    act == INBOX_TAKE ? "took" : "gave back", key);
	store_conv_clear(&sc);
	return rc;
}

int
inbox_echo(struct store *st, const struct wa_message *m, int64_t now,
    long hours)
{
	struct store_msg rec, old;
	struct store_conv sc;
	struct conv c;
	bool found = false;
	int rc;

	memset(&old, 0, sizeof(old));
	if ((rc = store_msg_get(st, m->id, &old, &found)) != OV_OK)
		return rc;
	store_msg_clear(&old);
	if (found)
		return OV_OK;   /* a repeat */
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.id, sizeof(rec.id), "%s", m->id);
	snprintf(rec.wa_id, sizeof(rec.wa_id), "%s", m->from);
	rec.dir = STORE_OUT;
	rec.ts = m->ts > 0 ? m->ts : now;
	snprintf(rec.type, sizeof(rec.type), "%s", m->type);
	snprintf(rec.status, sizeof(rec.status), "sent");
	rec.body = m->text;
	rec.raw = "{\"agent\":\"" INBOX_AGENT_APP "\",\"echo\":true}";
	if ((rc = store_outbound_put(st, &rec)) != OV_OK)
		return rc;

	/* The lease makes the record when missing (a first message sent
	 * from the app). */
	if ((rc = begin(st, m->from, "inbox:echo", now, &sc, &c)) != OV_OK)
		return rc;
	if (c.owner != CONV_OWNER_AGENT || c.owner_until <= now ||
	    c.agent[0] == '\0' || strcmp(c.agent, INBOX_AGENT_HANDOFF) == 0)
		snprintf(c.agent, sizeof(c.agent), "%s", INBOX_AGENT_APP);
	c.owner = CONV_OWNER_AGENT;
	c.owner_until = now + (int64_t)hours * 3600;
	c.pending = CONV_PENDING_NONE;
	rc = finish(st, &sc, &c, "inbox:echo");
	if (rc == OV_OK)
		log_info("echo %s to %s: the conversation is with %s", m->id,
		    m->from, c.agent);
	store_conv_clear(&sc);
	return rc;
}
