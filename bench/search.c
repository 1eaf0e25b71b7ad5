/*
 * bench/search.c - product search over a synced catalog (bench/search
 * syncs 50,000 products from the Cianbox stand-in first): COUNT (1,000)
 * varied queries through catalog_search(), 10 results each, milliseconds
 * per query (p50, p90, p99, max). Target: p99 <= 2 ms on SQLite.
 *
 * The queries mix what customers write: a product word that matches the
 * whole catalog ("cámaras"), brands and abbreviations, code fragments,
 * exact codes, numbers, resolutions, several words with one unknown
 * (which makes the search fall back to fewer words), and nonsense.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "store.h"

#define WARMUP 50

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Query i of the run: a fixed mix, with product numbers drawn from a
 * seeded generator so runs compare. */
static void
make_query(unsigned *seed, size_t i, int64_t nproducts, char *q, size_t n)
{
	static const char *const fixed[] = {
		"cámaras", "camara domo", "hikvision", "hik", "dahua domo 4mp",
		"domo 4 megapixeles", "HDW1400", "DH-HAC-HDW1400TP",
		"dvr hikvision 8 canales", "grabador", "fuente 12v 5a",
		"fuentes", "panel de alarma", "genérica", "dsc", "ñandú",
		"camara dahua xyzzy", "quiero una camara bala", "hdd 1tb",
		"cable utp exterior", "' OR 1=1 --", "zzzz", "precio",
		"prueba", "descripcion",
	};
	int64_t id = 20000 + (int64_t)(rand_r(seed) % (nproducts > 3 ?
	    nproducts - 3 : 1));

	switch (i % 8) {
	case 0:
	case 1:
	case 2:
		snprintf(q, n, "%s", fixed[(size_t)rand_r(seed) %
		    (sizeof(fixed) / sizeof(fixed[0]))]);
		break;
	case 3:
		snprintf(q, n, "GEN-%lld", (long long)id);
		break;
	case 4:
		snprintf(q, n, "producto %lld", (long long)id);
		break;
	case 5:
		snprintf(q, n, "camara %s %lld", (id % 2) ? "dahua" : "hikvision",
		    (long long)id);
		break;
	case 6:
		snprintf(q, n, "%lld", (long long)id / 10);
		break;
	default:
		snprintf(q, n, "camaras %s ñandu", (id % 3) ? "dsc" : "genericas");
		break;
	}
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct catalog_result r;
	double *ms = NULL, total = 0;
	size_t count = 1000, hits = 0, empty = 0;
	unsigned seed = 20261201;
	int64_t n = 0;
	char err[256], q[256];
	int rc = 1;

	log_init("bench-search");
	if (argc > 1)
		count = (size_t)strtoul(argv[1], NULL, 10);
	if (count < 1 || count > 1000000)
		count = 1000;
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (store_open(&st, cfg) != OV_OK ||
	    store_catalog_count(st, CATALOG_NAME, &n) != OV_OK || n == 0) {
		fprintf(stderr, "no synced catalog in the store\n");
		goto out;
	}
	if ((ms = calloc(count, sizeof(*ms))) == NULL)
		goto out;
	for (size_t i = 0; i < WARMUP; i++) {
		make_query(&seed, i, n, q, sizeof(q));
		if (catalog_search(st, q, 10, &r) == OV_OK)
			catalog_result_clear(&r);
	}
	seed = 20261201;
	for (size_t i = 0; i < count; i++) {
		double t0;

		make_query(&seed, i, n, q, sizeof(q));
		t0 = now_ms();
		if (catalog_search(st, q, 10, &r) != OV_OK) {
			fprintf(stderr, "search \"%s\" failed\n", q);
			goto out;
		}
		ms[i] = now_ms() - t0;
		total += ms[i];
		hits += r.n;
		empty += r.n == 0;
		catalog_result_clear(&r);
	}
	qsort(ms, count, sizeof(*ms), cmp_double);
	printf("product search on %s, %lld products, %zu queries, 10 results "
	    "each\n", store_backend(st), (long long)n, count);
	printf("  per query: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms,"
	    " mean %.3f ms\n", ms[count / 2], ms[count * 9 / 10],
	    ms[count * 99 / 100], ms[count - 1], total / (double)count);
	printf("  %.1f results per query, %zu queries with none\n",
	    (double)hits / (double)count, empty);
	printf("  target: p99 <= 2 ms (SQLite)\n");
	rc = 0;
out:
	free(ms);
	store_close(st);
	config_free(cfg);
	return rc;
}
