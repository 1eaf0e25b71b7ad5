/*
 * catalog_fixture.h - the three products the conversation tests share (a
 * Dahua domo and two power supplies), written into a catalog being
 * loaded. Header-only, like check.h.
 */
#ifndef OVIDIO_CATALOG_FIXTURE_H
#define OVIDIO_CATALOG_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "err.h"
#include "store.h"

static void
product(struct catalog_product *p, int64_t id, const char *code,
    const char *name, const char *brand, int64_t cents, int iva, double stock)
{
	memset(p, 0, sizeof(*p));
	p->id = id;
	snprintf(p->codigo, sizeof(p->codigo), "%s", code);
	snprintf(p->nombre, sizeof(p->nombre), "%s", name);
	snprintf(p->marca, sizeof(p->marca), "%s", brand);
	p->neto_cents = cents;
	p->final_cents = cents * (1000 + iva) / 1000;
	p->iva_tenths = iva;
	p->stock = stock;
	snprintf(p->moneda, sizeof(p->moneda), "USD");
}

/* The domo (10452, 12 in stock) and the 5 A and 10 A supplies (10477,
 * 10478). */
static int
put_fixture_products(struct store_catalog_writer *w)
{
	struct catalog_product p;
	int rc;

	product(&p, 10452, "DH-HAC-HDW1400TP",
	    "Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm", "Dahua", 4850, 210, 12);
	if ((rc = catalog_put(w, &p)) != OV_OK)
		return rc;
	product(&p, 10477, "FTE-12V5A", "Fuente switching 12V 5A metálica",
	    "Genérica", 650, 105, 7);
	if ((rc = catalog_put(w, &p)) != OV_OK)
		return rc;
	product(&p, 10478, "FTE-12V10A", "Fuente switching 12V 10A metálica",
	    "Genérica", 1290, 105, 40);
	return catalog_put(w, &p);
}

#endif
