/*
 * contact.c - whom a turn is for: phone or BSUID, joined and followed
 * through Meta's number and BSUID changes (see contact.h).
 */
#include <stdio.h>
#include <string.h>

#include "contact.h"
#include "customer.h"
#include "err.h"
#include "log.h"
#include "store.h"

/* The key a known identifier is filed under: a BSUID seen with a phone
 * goes to that phone. */
static int
key_of(struct store *st, const char *phone, const char *user_id,
    char key[STORE_WAID_MAX + 1])
{
	struct store_identity id;
	bool found = false;
	int rc;

	if (phone != NULL && phone[0] != '\0') {
		snprintf(key, STORE_WAID_MAX + 1, "%s", phone);
		return OV_OK;
	}
	if (user_id == NULL || user_id[0] == '\0')
		return OV_EINVAL;
	if ((rc = store_identity_get(st, user_id, &id, &found)) != OV_OK)
		return rc;
	snprintf(key, STORE_WAID_MAX + 1, "%s", found && id.phone[0] != '\0' ?
	    id.phone : user_id);
	return OV_OK;
}

/* A BSUID's phone, recorded; the BSUID's own conversation (from before
 * the number was shared) joins the phone's the first time. */
static int
join(struct store *st, const char *user_id, const char *phone, int64_t now)
{
	struct store_identity id;
	bool found = false;
	int rc;

	if ((rc = store_identity_get(st, user_id, &id, &found)) != OV_OK)
		return rc;
	if (found && strcmp(id.phone, phone) == 0)
		return OV_OK;
	if ((rc = store_identity_move(st, user_id, phone, now)) != OV_OK)
		return rc;
	memset(&id, 0, sizeof(id));
	snprintf(id.key, sizeof(id.key), "%s", user_id);
	snprintf(id.phone, sizeof(id.phone), "%s", phone);
	if ((rc = store_identity_put(st, &id, now)) != OV_OK)
		return rc;
	log_info("%s joined to %s", user_id, phone);
	return OV_OK;
}

/* Hold (or clear) account data for key. */
static int
set_hold(struct store *st, const char *key, bool hold, int64_t now)
{
	struct store_identity id;
	bool found = false;
	int rc;

	if ((rc = store_identity_get(st, key, &id, &found)) != OV_OK)
		return rc;
	if (!found) {
		if (!hold)
			return OV_OK;
		memset(&id, 0, sizeof(id));
		snprintf(id.key, sizeof(id.key), "%s", key);
	}
	if (id.hold == hold)
		return OV_OK;
	id.hold = hold;
	return store_identity_put(st, &id, now);
}

/* user_changed_number: the customer goes to the new number; the Cianbox
 * link (the one the old number had) only when the new number is on file
 * for that same customer. */
static int
changed_number(struct store *st, const struct wa_message *m, int64_t now)
{
	char old[STORE_WAID_MAX + 1];
	struct store_customer c;
	struct cianbox_cliente cl;
	int64_t linked = 0;
	bool found = false, same = false;
	int rc;

	if ((rc = key_of(st, m->phone, m->user_id, old)) != OV_OK)
		return rc;
	if ((rc = store_customer_get(st, old, &c, &found)) != OV_OK)
		return rc;
	if (found) {
		linked = c.cianbox_id;
		store_customer_clear(&c);
	}
	if (strcmp(old, m->new_phone) != 0 &&
	    (rc = store_identity_move(st, old, m->new_phone, now)) != OV_OK)
		return rc;
	if (linked > 0) {
		memset(&cl, 0, sizeof(cl));
		if ((rc = customer_client_by_phone(st, m->new_phone, &cl,
		    &same)) != OV_OK)
			return rc;
		same = same && cl.id == linked;
		if ((rc = store_customer_get(st, m->new_phone, &c, &found)) !=
		    OV_OK)
			return rc;
		if (!found) {
			memset(&c, 0, sizeof(c));
			snprintf(c.wa_id, sizeof(c.wa_id), "%s", m->new_phone);
		}
		c.cianbox_id = same ? linked : 0;
		c.verified = same;
		rc = store_customer_put(st, &c);
		store_customer_clear(&c);
		if (rc == OV_OK)
			rc = set_hold(st, m->new_phone, !same, now);
		if (rc != OV_OK)
			return rc;
		if (same)
			log_info("%s changed number to %s: same Cianbox customer "
			    "%lld", old, m->new_phone, (long long)linked);
		else
			log_warn("%s changed number to %s, which is not Cianbox "
			    "customer %lld's: link dropped, account data "
			    "withheld", old, m->new_phone, (long long)linked);
	} else {
		log_info("%s changed number to %s", old, m->new_phone);
	}
	if (m->new_user_id[0] != '\0')
		rc = join(st, m->new_user_id, m->new_phone, now);
	return rc;
}

/* user_changed_user_id: the new BSUID names the same customer. */
static int
changed_user_id(struct store *st, const struct wa_message *m, int64_t now)
{
	struct store_identity id, nid;
	const char *prev = m->prev_user_id[0] != '\0' ? m->prev_user_id :
	    m->user_id;
	bool found = false;
	int rc;

	if (prev[0] == '\0' || strcmp(prev, m->new_user_id) == 0)
		return OV_OK;
	if ((rc = store_identity_get(st, prev, &id, &found)) != OV_OK)
		return rc;
	memset(&nid, 0, sizeof(nid));
	snprintf(nid.key, sizeof(nid.key), "%s", m->new_user_id);
	if (m->phone[0] != '\0')
		snprintf(nid.phone, sizeof(nid.phone), "%s", m->phone);
	else if (found)
		snprintf(nid.phone, sizeof(nid.phone), "%s", id.phone);
	nid.hold = found && id.hold;
	if (nid.phone[0] == '\0' &&
	    (rc = store_identity_move(st, prev, m->new_user_id, now)) != OV_OK)
		return rc;
	if ((rc = store_identity_put(st, &nid, now)) != OV_OK)
		return rc;
	log_info("%s is now %s%s%s", prev, m->new_user_id,
	    nid.phone[0] ? " of " : "", nid.phone);
	return OV_OK;
}

/* A message made by hand (tests, tools) may fill `from` alone. */
static const char *
phone_of(const struct wa_message *m)
{
	if (m->phone[0] != '\0' || m->user_id[0] != '\0')
		return m->phone;
	return store_key_is_phone(m->from) ? m->from : "";
}

static const char *
user_of(const struct wa_message *m)
{
	if (m->phone[0] != '\0' || m->user_id[0] != '\0')
		return m->user_id;
	return store_key_is_phone(m->from) ? "" : m->from;
}

int
contact_resolve(struct store *st, const struct wa_message *const *msgs,
    size_t n, int64_t now, struct contact_who *who)
{
	const struct wa_message *last = NULL;
	struct store_identity id;
	bool found = false;
	int rc;

	memset(who, 0, sizeof(*who));
	who->only_system = true;
	for (size_t i = 0; i < n; i++) {
		const struct wa_message *m = msgs[i];

		if (m->kind != WA_SYSTEM) {
			who->only_system = false;
			last = m;
			continue;
		}
		if (m->sys_change == WA_SYS_NUMBER)
			rc = changed_number(st, m, now);
		else if (m->sys_change == WA_SYS_USER_ID)
			rc = changed_user_id(st, m, now);
		else
			rc = OV_OK;
		if (rc != OV_OK)
			return rc;
		/* Where the customer is now. */
		if (m->sys_change == WA_SYS_NUMBER)
			snprintf(who->key, sizeof(who->key), "%s", m->new_phone);
		else if (m->sys_change == WA_SYS_USER_ID &&
		    (rc = key_of(st, m->phone, m->new_user_id, who->key)) !=
		    OV_OK)
			return rc;
	}
	if (last != NULL) {
		const char *phone = phone_of(last), *user = user_of(last);

		if (phone[0] != '\0' && user[0] != '\0' &&
		    (rc = join(st, user, phone, now)) != OV_OK)
			return rc;
		if ((rc = key_of(st, phone, user, who->key)) != OV_OK)
			return rc;
		/* A BSUID alone filed under its phone: what was recorded of
		 * the message under the BSUID (history, a customer record)
		 * joins the phone's. */
		if (phone[0] == '\0' && strcmp(who->key, user) != 0 &&
		    (rc = store_identity_move(st, user, who->key, now)) != OV_OK)
			return rc;
	} else if (who->key[0] == '\0' && n > 0 &&
	    (rc = key_of(st, phone_of(msgs[0]), user_of(msgs[0]), who->key))
	    != OV_OK) {
		return rc;
	}
	if (who->key[0] == '\0')
		return OV_EINVAL;
	if ((rc = store_identity_get(st, who->key, &id, &found)) != OV_OK)
		return rc;
	who->hold = found && id.hold;
	return OV_OK;
}
