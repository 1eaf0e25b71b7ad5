/*
 * libFuzzer harness for lib/rules: whatever a customer types (any bytes,
 * any length) and whatever reply id comes back must be read without a
 * crash, and the query it gives is bounded, lower case and accent-free.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct rules_result r;
	char *text, *id = NULL;
	size_t cut;

	if (!init) {
		log_init("fuzz_rules");
		log_set_level(LOG_ERROR);
		init = 1;
	}
	/* First byte chooses where the reply id starts (if at all). */
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	cut = size > 0 ? data[0] : 0;
	if (cut > 0 && cut < size) {
		text[cut] = '\0';
		id = text + cut + 1;
	}
	if (rules_parse(text + (size > 0), id, &r) != OV_OK)
		abort();
	if (strlen(r.query) > RULES_QUERY_MAX)
		abort();
	for (const char *p = r.query; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	if (r.quantity < 0 || r.quantity > RULES_QTY_MAX)
		abort();
	free(text);
	return 0;
}
