/*
 * libFuzzer harness for what lib/quote reads from outside: the quote
 * document kept in the store, a Cianbox product from the catalog, and the
 * UTF-8 to Windows-1252 conversion the PDF applies to every text. Any
 * bytes: bounds held, no crash, and a document that loads always renders.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "quote.h"
#include "quote_pdf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct quote_pdf_brand *brand;
	struct quote_item it;
	struct quote q;
	char *text, out[512];

	if (brand == NULL) {
		log_init("fuzz_quote");
		log_set_level(LOG_ERROR);
		if (quote_pdf_brand_new("Fuzz", "pie", NULL, &brand) != OV_OK)
			abort();
	}
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	(void)quote_pdf_cp1252(text, out, sizeof(out));
	if (strlen(out) >= sizeof(out))
		abort();
	(void)quote_item_from_product(text, 1, &it);

	quote_init(&q);
	if (quote_doc_from_json(text, &q) == OV_OK && q.nitems > 0 &&
	    q.nitems <= 40) {
		unsigned char *pdf = NULL;
		size_t len = 0;

		q.number = 1;
		q.expires_at = 15 * 86400;
		if (quote_pdf_render(&q, brand, &pdf, &len) != OV_OK ||
		    len < 5 || memcmp(pdf, "%PDF-", 5) != 0)
			abort();
		free(pdf);
	}
	quote_clear(&q);
	free(text);
	return 0;
}
