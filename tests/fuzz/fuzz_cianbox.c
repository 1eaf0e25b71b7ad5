/*
 * libFuzzer harness for what Ovidio reads from Cianbox and from people
 * about Cianbox customers: the panel's product page (HTML), Argentine
 * numbers and prices, phones as written in Cianbox or WhatsApp, CUITs
 * and e-mails typed in chat. All outside input: every path must hold its
 * bounds on any bytes, and a parsed row must satisfy the documented
 * guarantees (a code, a known currency, IVA 0, 10.5 or 21).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cianbox_panel.h"
#include "err.h"
#include "identity.h"
#include "phone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cianbox_panel_rows rows = { NULL, 0 };
	char err[512], *s;
	char nat[PHONE_NATIONAL_LEN + 1], nums[4][PHONE_NATIONAL_LEN + 1];
	char cuit[IDENTITY_CUIT_LEN + 1], email[IDENTITY_EMAIL_MAX + 1];
	char moneda[4];
	double v;
	size_t n;

	if (cianbox_panel_parse((const char *)data, size, &rows, err,
	    sizeof(err)) == OV_OK) {
		for (size_t i = 0; i < rows.n; i++) {
			const struct cianbox_panel_row *r = &rows.v[i];

			if (r->codigo[0] == '\0' || (strcmp(r->moneda, "USD") != 0 &&
			    strcmp(r->moneda, "ARS") != 0) ||
			    !(r->iva == 0 || r->iva == 10.5 || r->iva == 21))
				abort();
		}
	}
	cianbox_panel_rows_free(&rows);

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)cianbox_panel_number(s, &v);
	if (cianbox_panel_price(s, &v, moneda) == OV_OK && v < 0)
		abort();
	if (phone_to_national(s, nat) == OV_OK && strlen(nat) != PHONE_NATIONAL_LEN)
		abort();
	(void)phone_field_numbers(s, nums, 4, &n);
	if (identity_cuit_find(s, cuit) == OV_OK && !identity_cuit_valid(cuit))
		abort();
	(void)identity_cuit_normalize(s, cuit);
	(void)identity_email_find(s, email, sizeof(email));
	(void)identity_email_normalize(s, email, sizeof(email));
	free(s);
	return 0;
}
