/*
 * bench/pdf.c - quote PDF rendering speed (built and run by bench/pdf).
 *
 * Renders N quotes (default 1000) of 20 items each, with the business logo
 * when BUSINESS_LOGO names one, and prints milliseconds per quote (p50,
 * p99, max), the average size and the peak resident memory. Each quote
 * differs (number, customer, quantities) so nothing is rendered twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "quote.h"
#include "quote_pdf.h"

#define ITEMS 20

static const char *const names[] = {
	"Cámara Domo Dahua 4MP HAC-HDW1400 2.8mm",
	"DVR Hikvision 8 canales Turbo HD 1080p H.265+",
	"Fuente switching 12V 5A metálica para CCTV",
	"Cable UTP cat. 6 exterior doble vaina, bobina de 305 metros, "
	"con protección UV y gel antihumedad",
	"Balun pasivo HD (par) para cámaras analógicas",
	"Disco rígido 2TB Western Digital Purple para videovigilancia",
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
make_quote(struct quote *q, int n)
{
	char name[80];
	int rc;

	quote_init(q);
	snprintf(q->id, sizeof(q->id), "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f");
	q->number = 1000 + n;
	snprintf(q->wa_id, sizeof(q->wa_id), "549341555%04d", n % 10000);
	q->created_at = clock_now();
	q->expires_at = q->created_at + 15 * 86400;
	q->usd_rate_cents = 104550;
	snprintf(name, sizeof(name), "Cliente Núñez %d Seguridad S.R.L.", n);
	if ((rc = quote_set_customer(q, name, "20284567898",
	    "0341 15-555-1234")) != OV_OK)
		return rc;
	for (int i = 0; i < ITEMS; i++) {
		struct quote_item it;

		memset(&it, 0, sizeof(it));
		snprintf(it.code, sizeof(it.code), "ART-%05d", n * ITEMS + i);
		snprintf(it.name, sizeof(it.name), "%s",
		    names[i % (int)(sizeof(names) / sizeof(names[0]))]);
		it.quantity = 1 + (n + i) % 12;
		it.unit_cents = 485 + 137 * i + n % 100;
		it.iva_tenths = i % 4 == 3 ? 105 : 210;
		if ((rc = quote_add_item(q, &it)) != OV_OK)
			return rc;
	}
	return OV_OK;
}

int
main(int argc, char **argv)
{
	struct quote_pdf_brand *brand = NULL;
	struct config *cfg = NULL;
	struct rusage ru;
	double *ms, total = 0;
	size_t bytes = 0;
	char err[256];
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	int rc = 1;

	log_init("bench-pdf");
	if (n < 1 || n > 1000000) {
		fprintf(stderr, "usage: pdf [COUNT]\n");
		return 2;
	}
	ms = calloc((size_t)n, sizeof(*ms));
	if (ms == NULL || config_load(&cfg, err, sizeof(err)) != OV_OK ||
	    clock_init(cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "bench-pdf: setup failed\n");
		goto out;
	}
	quote_use_timezone(cfg);
	if (quote_pdf_brand_load(cfg, &brand) != OV_OK)
		goto out;
	for (long i = 0; i < n; i++) {
		struct quote q;
		unsigned char *pdf = NULL;
		size_t len = 0;
		double t0;

		if (make_quote(&q, (int)i) != OV_OK) {
			fprintf(stderr, "bench-pdf: cannot build quote %ld\n", i);
			quote_clear(&q);
			goto out;
		}
		t0 = now_ms();
		if (quote_pdf_render(&q, brand, &pdf, &len) != OV_OK) {
			fprintf(stderr, "bench-pdf: render failed at %ld\n", i);
			quote_clear(&q);
			goto out;
		}
		ms[i] = now_ms() - t0;
		total += ms[i];
		bytes += len;
		free(pdf);
		quote_clear(&q);
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	getrusage(RUSAGE_SELF, &ru);
	printf("pdf: %ld quotes of %d items, logo %s\n", n, ITEMS,
	    quote_pdf_brand_has_logo(brand) ? "yes" : "no");
	printf("pdf: ms per quote: p50 %.2f  p99 %.2f  max %.2f  mean %.2f\n",
	    ms[(size_t)(n * 50 / 100)], ms[(size_t)(n * 99 / 100)],
	    ms[n - 1], total / (double)n);
	printf("pdf: %.0f quotes/s, %zu bytes per PDF on average\n",
	    1000.0 * (double)n / total, bytes / (size_t)n);
	printf("pdf: peak RSS %ld KiB\n", ru.ru_maxrss);
	rc = 0;
out:
	quote_pdf_brand_free(brand);
	config_free(cfg);
	free(ms);
	return rc;
}
