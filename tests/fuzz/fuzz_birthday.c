/*
 * libFuzzer harness for proactive_birthday_parse(): whatever a customer
 * types (any bytes, any length) is read without a crash, and a birthday
 * found is always a real "MM-DD".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proactive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int days[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
    31 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), bd[6];

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(bd, 'x', sizeof(bd));
	if (proactive_birthday_parse(text, bd)) {
		int m = (bd[0] - '0') * 10 + (bd[1] - '0');
		int d = (bd[3] - '0') * 10 + (bd[4] - '0');

		if (bd[2] != '-' || bd[5] != '\0' || m < 1 || m > 12 || d < 1 ||
		    d > days[m - 1])
			abort();
	}
	free(text);
	return 0;
}
