/*
 * fuzz_media.c - what models and Meta hand back about media, read within
 * bounds: a vision answer's items (lib/transcribe) and a voice note's
 * length (lib/media) from any bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "transcribe.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct transcribe_item items[TRANSCRIBE_ITEMS_MAX];
	char *s = malloc(size + 1);
	size_t n;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = transcribe_items_parse(s, items, TRANSCRIBE_ITEMS_MAX);
	if (n > TRANSCRIBE_ITEMS_MAX)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if (items[i].words[0] == '\0' || items[i].qty < 1 ||
		    items[i].qty > TRANSCRIBE_QTY_MAX ||
		    strlen(items[i].words) > TRANSCRIBE_ITEM_MAX ||
		    !utf8_valid(items[i].words, strlen(items[i].words)))
			__builtin_trap();
	if (media_audio_seconds(data, size) < 0)
		__builtin_trap();
	free(s);
	return 0;
}
