/*
 * libFuzzer harness for the conversation's codec (lib/conv): whatever the
 * stored document or v1 profile holds, the state read is within its
 * bounds (lists capped, ids >= 1, quantities 1..CONV_QTY_MAX, texts
 * terminated and valid UTF-8, a CUIT of 11 digits or none), and writing
 * it and reading it back gives the same state.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "err.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap || !utf8_valid(s, n))
		abort();
}

static void
check_conv(const struct conv *c)
{
	if (c->nlist > CONV_LIST_MAX || c->ncart > CONV_CART_MAX ||
	    c->profile.nbrands > CONV_BRANDS_MAX ||
	    (int)c->pending < 0 || c->pending >= CONV_PENDING__COUNT ||
	    c->last_qty < 0 || c->last_qty > CONV_QTY_MAX ||
	    c->last_product < 0 || c->quote_number < 0)
		abort();
	for (size_t i = 0; i < c->nlist; i++)
		if (c->list[i] < 1)
			abort();
	for (size_t i = 0; i < c->ncart; i++) {
		if (c->cart[i].product_id < 1 || c->cart[i].qty < 1 ||
		    c->cart[i].qty > CONV_QTY_MAX)
			abort();
		for (size_t j = 0; j < i; j++)
			if (c->cart[j].product_id == c->cart[i].product_id)
				abort();
	}
	check_text(c->list_query, sizeof(c->list_query));
	check_text(c->razon, sizeof(c->razon));
	check_text(c->topic, sizeof(c->topic));
	check_text(c->agent, sizeof(c->agent));
	for (size_t i = 0; i < c->profile.nbrands; i++)
		check_text(c->profile.brands[i], sizeof(c->profile.brands[i]));
	if (c->cuit[0] != '\0' && (strlen(c->cuit) != 11 ||
	    strspn(c->cuit, "0123456789") != 11))
		abort();
}

/* Written and read back: the same state. */
static void
check_round_trip(const struct conv *c)
{
	struct store_conv sc;
	struct conv back;

	if (conv_to_store(c, &sc) != OV_OK)
		return;   /* out of memory */
	if (conv_from_store(&sc, &back) != OV_OK ||
	    memcmp(c, &back, sizeof(back)) != 0)
		abort();
	store_conv_clear(&sc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_conv sc;
	struct conv c;
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.key, sizeof(sc.key), "5493415550000");
	snprintf(sc.owner, sizeof(sc.owner), "%s",
	    size > 0 && data[0] & 1 ? "agent" : "bot");
	snprintf(sc.agent, sizeof(sc.agent), "ana");
	sc.doc = s;
	if (conv_from_store(&sc, &c) != OV_OK)
		abort();
	check_conv(&c);
	check_round_trip(&c);
	if (conv_from_profile("5493415550000", s, &c) != OV_OK)
		abort();
	check_conv(&c);
	check_round_trip(&c);
	free(s);
	return 0;
}
