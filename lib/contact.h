/*
 * contact.h - whom a turn is for (DESIGN.md section 5, issue 11).
 *
 * Meta names a WhatsApp user by phone number and by business-scoped user
 * id (BSUID); a user with a username may come with the BSUID alone. A
 * customer is filed under the phone number when there is one, else under
 * the BSUID (store.h, "identities"):
 *   - a message with both records the pair, and a conversation kept
 *     under the BSUID until then moves to the phone (joined);
 *   - a message with the BSUID alone goes to the phone it was seen with;
 *   - user_changed_number moves the customer to the new number; the
 *     Cianbox link goes along only when the new number is on file for
 *     the same Cianbox customer, else it is dropped and the new key is
 *     held (no account data, no identification by phone);
 *   - user_changed_user_id follows the new BSUID.
 *
 * Nothing to free: the key is written into the caller's buffer.
 */
#ifndef OVIDIO_CONTACT_H
#define OVIDIO_CONTACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "wa_payload.h"

struct contact_who {
	char key[STORE_WAID_MAX + 1]; /* phone, else BSUID */
	bool hold;                    /* account data withheld for this key */
	bool only_system;             /* the turn had system messages only */
};

/* Apply the turn's system messages, record what its messages say of the
 * sender, and name the key in *who. Store errors as they come; OV_EINVAL
 * when no message names a sender. */
int contact_resolve(struct store *st, const struct wa_message *const *msgs,
    size_t n, int64_t now, struct contact_who *who);

#endif
