/*
 * test_customer.c - who is writing: a sender recognised by the phone on
 * file (and only by an equal 10-digit national number), by a CUIT or an
 * e-mail typed in chat (for prices, not account data), through the synced
 * clients and, for a CUIT or a linked customer not synced, the Cianbox
 * API (the stand-in, tests/standins/cianbox_server.py).
 *
 * Runs against the backend the configuration selects, like test_store.
 */
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cianbox.h"
#include "cianbox_standin.h"
#include "config.h"
#include "customer.h"
#include "err.h"
#include "log.h"
#include "store.h"

static struct config *cfg;
static struct store *st;
static char tmpdir[] = "/tmp/ovidio-customer-test-XXXXXX";

/* The fixture's clients (clientes_page1.json), as lib/cianbox maps them,
 * and one more sharing Gómez's mobile. */
static void
client(struct cianbox_cliente *c, int64_t id, const char *razon,
    const char *tipo, const char *doc, const char *tel, const char *cel,
    const char *email)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	snprintf(c->razon, sizeof(c->razon), "%s", razon);
	snprintf(c->tipo_documento, sizeof(c->tipo_documento), "%s", tipo);
	snprintf(c->numero_documento, sizeof(c->numero_documento), "%s", doc);
	snprintf(c->telefono, sizeof(c->telefono), "%s", tel);
	snprintf(c->celular, sizeof(c->celular), "%s", cel);
	snprintf(c->email, sizeof(c->email), "%s", email);
	snprintf(c->condicion, sizeof(c->condicion), "RI");
	c->ctacte = true;
	c->plazo = 30;
	c->limite = 5000;
	c->saldo = 1843.75;
}

static int
sync_clients(bool with_203)
{
	struct store_catalog_writer *w = NULL;
	struct cianbox_cliente c;
	int rc;

	if ((rc = store_catalog_begin(st, CUSTOMER_CATALOG, &w)) != OV_OK)
		return rc;
	client(&c, 201, "Gómez Martín Sistemas de Seguridad", "CUIT",
	    "20284567898", "0341 4211234", "0341 15-555-1234",
	    "martin@gomezseguridad.com.ar");
	if ((rc = customer_client_put(w, &c, 1764000000)) != OV_OK)
		goto fail;
	client(&c, 202, "Fernández Lucía", "DNI", "31222333", "",
	    "+54 9 11 4444-7777", "lucia.fernandez@mail.com");
	if ((rc = customer_client_put(w, &c, 1764000000)) != OV_OK)
		goto fail;
	if (with_203) {
		client(&c, 203, "Instalaciones del Litoral SRL", "CUIT",
		    "30712345671", "4401234", "1234",
		    "compras@litoralsrl.com.ar");
		if ((rc = customer_client_put(w, &c, 1764000000)) != OV_OK)
			goto fail;
	}
	client(&c, 204, "Gómez hijo", "DNI", "40111222", "",
	    "341 155551234", "");
	if ((rc = customer_client_put(w, &c, 1764000000)) != OV_OK)
		goto fail;
	return store_catalog_commit(w);
fail:
	store_catalog_abort(w);
	return rc;
}

/* The clientes record of wa_id: its link and flag (-1 when none). */
static int64_t
linked_to(const char *wa_id, bool *verified)
{
	struct store_customer c;
	bool found = false;
	int64_t id;

	*verified = false;
	if (store_customer_get(st, wa_id, &c, &found) != OV_OK || !found)
		return -1;
	id = c.cianbox_id;
	*verified = c.verified;
	store_customer_clear(&c);
	return id;
}

static void
set_link(const char *wa_id, int64_t id, bool verified)
{
	struct store_customer c;

	memset(&c, 0, sizeof(c));
	snprintf(c.wa_id, sizeof(c.wa_id), "%s", wa_id);
	c.cianbox_id = id;
	c.verified = verified;
	c.name = "Perfil de WhatsApp";
	CHECK_INT(store_customer_put(st, &c), OV_OK);
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_client_document(void)
{
	struct cianbox_cliente in, out;
	char *json = NULL;

	client(&in, 201, "Gómez Martín", "CUIT", "20284567898",
	    "0341 4211234", "0341 15-555-1234",
	    "Martin@GomezSeguridad.com.ar; ventas@gomez.com.ar");
	CHECK_INT(customer_client_to_json(&in, 77, &json), OV_OK);
	CHECK(json != NULL && strstr(json, "\"telefonos\":[\"3415551234\","
	    "\"3414211234\"]") != NULL);
	CHECK(json != NULL && strstr(json, "\"cuit\":\"20284567898\"") != NULL);
	CHECK(json != NULL && strstr(json, "\"emails\":[\"martin@gomezseguridad"
	    ".com.ar\",\"ventas@gomez.com.ar\"]") != NULL);
	CHECK_INT(customer_client_from_json(json, &out), OV_OK);
	CHECK_INT(out.id, 201);
	CHECK_STR(out.razon, "Gómez Martín");
	CHECK_STR(out.celular, "0341 15-555-1234");
	CHECK(out.ctacte);
	CHECK_INT(out.plazo, 30);
	CHECK(out.saldo == 1843.75);
	free(json);
	CHECK_INT(customer_client_from_json("{\"razon\":\"x\"}", &out),
	    OV_EPARSE);
	CHECK_INT(customer_client_from_json("not json", &out), OV_EPARSE);
}

static void
test_sender_by_phone(void)
{
	struct customer_identity id;
	bool v;

	CHECK_INT(customer_identify(st, NULL, "5493415551234", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_BY_PHONE);
	/* 201 and 204 share the mobile: the lowest id. */
	CHECK_INT(id.cianbox_id, 201);
	CHECK(id.verified);
	CHECK(id.linked);
	CHECK(id.have_client);
	CHECK_STR(id.client.razon, "Gómez Martín Sistemas de Seguridad");
	CHECK_INT(linked_to("5493415551234", &v), 201);
	CHECK(v);
	/* Next time: the link. */
	CHECK_INT(customer_identify(st, NULL, "5493415551234", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_LINKED);
	CHECK_INT(id.cianbox_id, 201);
	CHECK(id.verified);
	/* "+54 9 11 4444-7777" on file, wa_id 5491144447777. */
	CHECK_INT(customer_identify(st, NULL, "5491144447777", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_BY_PHONE);
	CHECK_INT(id.cianbox_id, 202);
	CHECK(id.verified);
}

static void
test_stored_1234_matches_nobody(void)
{
	static const char *const senders[] = {
		"5493414401234",   /* 341 + the 4401234 on file */
		"1234", "541234", "5491234", "5493410001234",
	};
	struct customer_identity id;
	struct cianbox_cliente c;
	bool found = true, v;

	for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		CHECK_INT(customer_identify(st, NULL, senders[i], &id), OV_OK);
		CHECK_INT(id.how, CUSTOMER_UNKNOWN);
		CHECK_INT(id.cianbox_id, 0);
		CHECK(!id.verified);
		CHECK(linked_to(senders[i], &v) <= 0);
	}
	CHECK_INT(customer_client_by_phone(st, "1234", &c, &found), OV_OK);
	CHECK(!found);
	CHECK_INT(customer_client_by_phone(st, "4401234", &c, &found), OV_OK);
	CHECK(!found);
	/* Yet 203 is there, by its CUIT. */
	CHECK_INT(customer_client_by_cuit(st, "30-71234567-1", &c, &found),
	    OV_OK);
	CHECK(found);
	CHECK_INT(c.id, 203);
}

static void
test_cuit_typed_gives_prices_only(void)
{
	struct customer_identity id;
	enum customer_text what;
	bool v;

	CHECK_INT(customer_identify_text(st, NULL, "5493519998888",
	    "hola, mi cuit es 20-28456789-8 gracias", &id, &what), OV_OK);
	CHECK_INT(what, CUSTOMER_TEXT_FOUND);
	CHECK_INT(id.how, CUSTOMER_BY_CUIT);
	CHECK_INT(id.cianbox_id, 201);
	CHECK(!id.verified);          /* the number is not Gómez's */
	CHECK(id.linked);
	CHECK_INT(linked_to("5493519998888", &v), 201);
	CHECK(!v);
	/* Later messages: linked, still not verified. */
	CHECK_INT(customer_identify(st, NULL, "5493519998888", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_LINKED);
	CHECK_INT(id.cianbox_id, 201);
	CHECK(!id.verified);
	/* Typed by the number on file, it is verified. */
	CHECK_INT(customer_identify_text(st, NULL, "5493414211234",
	    "20284567898", &id, &what), OV_OK);
	CHECK_INT(what, CUSTOMER_TEXT_FOUND);
	CHECK(id.verified);
}

static void
test_bad_cuit_refused(void)
{
	static const char *const bad[] = {
		"mi cuit es 20-28456789-9", "CUIT 20284567899",
		"20 28456789 0", "cuit: 30.71234567.2",
	};
	static const char *const none[] = {
		"llamame al 3415551234", "pedido 123456789012", "hola",
		"el 20-28456789 es mi dni",
	};
	struct customer_identity id;
	enum customer_text what;
	bool v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(customer_identify_text(st, NULL, "5493517770000",
		    bad[i], &id, &what), OV_OK);
		CHECK_INT(what, CUSTOMER_TEXT_BAD_CUIT);
		CHECK_INT(id.cianbox_id, 0);
		CHECK(!id.linked);
	}
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		CHECK_INT(customer_identify_text(st, NULL, "5493517770000",
		    none[i], &id, &what), OV_OK);
		CHECK_INT(what, CUSTOMER_TEXT_NONE);
	}
	CHECK(linked_to("5493517770000", &v) <= 0);
	/* A valid CUIT nobody has. */
	CHECK_INT(customer_identify_text(st, NULL, "5493517770000",
	    "20-12345678-6", &id, &what), OV_OK);
	CHECK_INT(what, CUSTOMER_TEXT_UNKNOWN);
	CHECK(linked_to("5493517770000", &v) <= 0);
}

static void
test_email_typed(void)
{
	struct customer_identity id;
	enum customer_text what;
	bool v;

	CHECK_INT(customer_identify_text(st, NULL, "5493516660000",
	    "escribime a COMPRAS@LitoralSRL.com.ar", &id, &what), OV_OK);
	CHECK_INT(what, CUSTOMER_TEXT_FOUND);
	CHECK_INT(id.how, CUSTOMER_BY_EMAIL);
	CHECK_INT(id.cianbox_id, 203);
	CHECK(!id.verified);
	CHECK_INT(linked_to("5493516660000", &v), 203);
	CHECK(!v);
	CHECK_INT(customer_identify_text(st, NULL, "5493516660001",
	    "nadie@ninguno.com", &id, &what), OV_OK);
	CHECK_INT(what, CUSTOMER_TEXT_UNKNOWN);
}

static void
test_verified_sender_not_moved(void)
{
	struct customer_identity id;
	enum customer_text what;
	bool v;

	CHECK_INT(customer_identify(st, NULL, "5493415551234", &id), OV_OK);
	CHECK(id.verified);
	/* Gómez types the Litoral's CUIT (buying for them): prices only. */
	CHECK_INT(customer_identify_text(st, NULL, "5493415551234",
	    "30-71234567-1", &id, &what), OV_OK);
	CHECK_INT(what, CUSTOMER_TEXT_FOUND);
	CHECK_INT(id.cianbox_id, 203);
	CHECK(!id.verified);
	CHECK(!id.linked);
	CHECK_INT(linked_to("5493415551234", &v), 201);
	CHECK(v);
}

static void
test_verification_follows_phone(void)
{
	struct customer_identity id;
	struct store_customer c;
	bool v, found = false;

	/* Recorded as verified, but the number is not on file (any more). */
	set_link("5493510001111", 201, true);
	CHECK_INT(customer_identify(st, NULL, "5493510001111", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_LINKED);
	CHECK(!id.verified);
	CHECK_INT(linked_to("5493510001111", &v), 201);
	CHECK(!v);
	/* Linked by e-mail, and the number is on file: verified now. The
	 * record keeps its name. */
	set_link("5491144447777", 202, false);
	CHECK_INT(customer_identify(st, NULL, "5491144447777", &id), OV_OK);
	CHECK(id.verified);
	CHECK_INT(store_customer_get(st, "5491144447777", &c, &found), OV_OK);
	CHECK(found && c.verified && c.cianbox_id == 202);
	if (found) {
		CHECK_STR(c.name, "Perfil de WhatsApp");
		store_customer_clear(&c);
	}
	/* Linked to a customer neither synced nor reachable: what was
	 * established stays. */
	set_link("5493510002222", 999, false);
	CHECK_INT(customer_identify(st, NULL, "5493510002222", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_LINKED);
	CHECK(!id.have_client);
	CHECK(!id.verified);
	CHECK_INT(customer_identify(st, NULL, "not-a-number", &id), OV_EINVAL);
}

/* What the salesperson's inbox may show: the same answer as the bot
 * would get, read only. */
static void
test_lookup_reads_only(void)
{
	struct customer_identity id;
	bool v;

	/* A number on file nobody wrote from yet: found, verified, and no
	 * clientes record made. */
	CHECK_INT(customer_lookup(st, "5493414211234", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_BY_PHONE);
	CHECK_INT(id.cianbox_id, 201);
	CHECK(id.verified && id.have_client && !id.linked);
	CHECK_INT(linked_to("5493414211234", &v), -1);
	/* Linked by a CUIT typed in chat: that customer, unverified. */
	set_link("5493517001000", 201, false);
	CHECK_INT(customer_lookup(st, "5493517001000", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_LINKED);
	CHECK_INT(id.cianbox_id, 201);
	CHECK(id.have_client && !id.verified);
	/* A record that says verified while the phone on file is another:
	 * not verified, and the record is left as it was. */
	set_link("5493517001001", 201, true);
	CHECK_INT(customer_lookup(st, "5493517001001", &id), OV_OK);
	CHECK(!id.verified && id.was_verified);
	CHECK_INT(linked_to("5493517001001", &v), 201);
	CHECK(v);
	/* A customer known by BSUID alone, linked by CUIT: never verified. */
	set_link("AR.1502576394655843", 201, true);
	CHECK_INT(customer_lookup(st, "AR.1502576394655843", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_LINKED);
	CHECK(id.have_client && !id.verified);
	CHECK_INT(customer_lookup(st, "AR.9999999999999999", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_UNKNOWN);
	/* Nobody. */
	CHECK_INT(customer_lookup(st, "5493517009999", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_UNKNOWN);
	CHECK(!id.verified && !id.have_client);
	CHECK_INT(customer_lookup(st, "no es un número", &id), OV_EINVAL);
}

/* A client not in the synced copy is asked of the API: by CUIT typed in
 * chat, and by id for a linked customer. */
static void
test_api_for_what_is_not_synced(void)
{
	struct standin s;
	struct cianbox *cb = NULL;
	struct config *c2 = NULL;
	struct customer_identity id;
	enum customer_text what;
	char err[256];
	bool v;

	CHECK_INT(sync_clients(false), OV_OK);      /* no 203 */
	if (standin_start(&s, NULL) != 0) {
		CHECK(!"stand-in");
		return;
	}
	setenv("CIANBOX_URL", s.url, 1);
	setenv("CIANBOX_ACCOUNT", "micuenta", 1);
	setenv("CIANBOX_USER", "ovidio", 1);
	setenv("CIANBOX_PASS", "secreto-de-prueba", 1);
	setenv("CIANBOX_ATTEMPTS", "1", 1);
	CHECK_INT(config_load(&c2, err, sizeof(err)), OV_OK);
	CHECK_INT(cianbox_open(&cb, c2, st, err, sizeof(err)), OV_OK);
	if (cb == NULL)
		goto out;
	/* Without the API the CUIT is unknown; with it, found. */
	CHECK_INT(customer_identify_text(st, NULL, "5493515550000",
	    "30712345671", &id, &what), OV_OK);
	CHECK_INT(what, CUSTOMER_TEXT_UNKNOWN);
	CHECK_INT(customer_identify_text(st, cb, "5493515550000",
	    "30712345671", &id, &what), OV_OK);
	CHECK_INT(what, CUSTOMER_TEXT_FOUND);
	CHECK_INT(id.cianbox_id, 203);
	CHECK_STR(id.client.razon, "Instalaciones del Litoral SRL");
	CHECK(!id.verified);
	CHECK_INT(linked_to("5493515550000", &v), 203);
	CHECK(!v);
	CHECK(standin_stat(&s, "requests.GET clientes") >= 1);
	/* Linked to 203, which the synced copy lacks: fetched by id. */
	CHECK_INT(customer_identify(st, cb, "5493515550000", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_LINKED);
	CHECK(id.have_client);
	CHECK_STR(id.client.numero_documento, "30712345671");
	CHECK(!id.verified);
	/* By phone the API has nothing to search: no request is made. */
	standin_control(&s, "{\"reset_stats\":true}");
	CHECK_INT(customer_identify(st, cb, "5493519990000", &id), OV_OK);
	CHECK_INT(id.how, CUSTOMER_UNKNOWN);
	CHECK_INT(standin_stat(&s, "requests.GET clientes"), 0);
out:
	cianbox_close(cb);
	config_free(c2);
	standin_stop(&s);
	CHECK_INT(sync_clients(true), OV_OK);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	char err[256], db[64];
	int rc;

	log_init("test_customer");
	unsetenv("OVIDIO_CONFIG");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
	snprintf(db, sizeof(db), "ovidio_test_customer_%ld", (long)getpid());
	setenv("MONGODB_DB", db, 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (config_load(&cfg, err, sizeof(err)) != OV_OK) {
		fprintf(stderr, "config: %s\n", err);
		rc = 1;
		goto out;
	}
	if ((rc = store_open(&st, cfg)) != OV_OK) {
		fprintf(stderr, "cannot open the store: %s\n", ov_strerror(rc));
		rc = 1;
		goto out;
	}
	fprintf(stderr, "backend: %s\n", store_backend(st));
	if (sync_clients(true) != OV_OK) {
		fprintf(stderr, "cannot sync the test clients\n");
		rc = 1;
		goto out;
	}
	RUN(test_client_document);
	RUN(test_lookup_reads_only);   /* before the numbers are linked */
	RUN(test_sender_by_phone);
	RUN(test_stored_1234_matches_nobody);
	RUN(test_cuit_typed_gives_prices_only);
	RUN(test_bad_cuit_refused);
	RUN(test_email_typed);
	RUN(test_verified_sender_not_moved);
	RUN(test_verification_follows_phone);
	RUN(test_api_for_what_is_not_synced);
	rc = check_finish();
out:
	store_close(st);
	config_free(cfg);
	curl_global_cleanup();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
