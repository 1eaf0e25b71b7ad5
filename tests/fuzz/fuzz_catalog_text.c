/*
 * libFuzzer harness for product search's text rules: a customer's query
 * (WhatsApp text) and a product's fields (Cianbox text) go through
 * folding, plurals, synonyms, units and code fragments. Whatever the
 * bytes, every token must be 2..CATALOG_TOKEN_MAX bytes of [a-z0-9.:]
 * (what the store accepts), unique, and the query bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_token(const char *t)
{
	size_t n = strlen(t);

	if (n < 2 || n > CATALOG_TOKEN_MAX ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789.:") != n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct catalog_tokens t;
	struct catalog_query q;
	struct catalog_fields f;
	char *s = malloc(size + 1), clean[256];
	size_t cut;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	catalog_query_parse(s, &q);
	if (q.n > CATALOG_QUERY_WORDS)
		abort();
	for (size_t i = 0; i < q.n; i++) {
		check_token(q.tok[i]);
		if (strchr(q.tok[i], ':') != NULL)   /* tags are not typable */
			abort();
	}
	/* The same bytes as each field of a product, split in two. */
	cut = size / 2;
	s[cut] = '\0';
	f.codigo = s;
	f.nombre = s + cut + (cut < size ? 1 : 0);
	f.marca = s;
	f.categoria = f.nombre;
	f.descripcion = s;
	catalog_tokens_index(&f, &t);
	for (size_t i = 0; i < t.n; i++) {
		check_token(t.tok[i]);
		for (size_t k = i + 1; k < t.n; k++)
			if (strcmp(t.tok[i], t.tok[k]) == 0)
				abort();
	}
	catalog_text_clean(clean, sizeof(clean), s);
	free(s);
	return 0;
}
