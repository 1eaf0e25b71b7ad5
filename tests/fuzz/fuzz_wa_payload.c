/*
 * libFuzzer harness for the webhook payload parser: the bytes come straight
 * from the network (signed, but by whoever holds the app secret), so both
 * the webhook's check and the worker's full parse must survive anything.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "wa_payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct wa_payload p;
	int rc_check, rc_parse;

	if (!init) {
		log_init("fuzz_wa_payload");
		log_set_level(LOG_ERROR);   /* skip warnings would flood */
		init = 1;
	}
	/* data is not NUL-terminated: the parser must respect size. */
	rc_check = wa_payload_check((const char *)data, size);
	rc_parse = wa_payload_parse((const char *)data, size, &p);
	if (rc_parse == OV_OK) {
		/* The two must agree on what a payload is. */
		if (rc_check != OV_OK)
			__builtin_trap();
		for (size_t i = 0; i < p.n_msgs; i++) {
			const struct wa_message *m = &p.msgs[i];

			/* Invariants the worker relies on. */
			if (m->raw == NULL || strlen(m->raw) > WA_RAW_MAX ||
			    m->from[0] == '\0' || (strcmp(m->from, m->phone)
			    != 0 && strcmp(m->from, m->user_id) != 0) ||
			    (m->phone[0] != '\0' && strlen(m->phone) < 6) ||
			    (m->user_id[0] != '\0' &&
			    !wa_user_id_valid(m->user_id)) || m->id[0] == '\0' ||
			    (m->text != NULL && strlen(m->text) > WA_TEXT_MAX))
				__builtin_trap();
			(void)wa_kind_name(m->kind);
		}
		for (size_t i = 0; i < p.n_statuses; i++)
			if (p.statuses[i].id[0] == '\0' ||
			    p.statuses[i].status[0] == '\0')
				__builtin_trap();
	} else if (rc_parse == OV_EPARSE && rc_check == OV_OK) {
		__builtin_trap();
	}
	wa_payload_free(&p);
	return 0;
}
