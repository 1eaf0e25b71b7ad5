/*
 * cianbox.h - client of the Cianbox ERP API v2 (libcurl + cJSON).
 *
 * Base URL: {CIANBOX_URL}/{CIANBOX_ACCOUNT}/api/v2. Cianbox's terms forbid
 * high-frequency polling: the conversation reads the synced copy in the
 * store and calls the API only for one customer's fresh data (balance,
 * documents, the dollar rate); catalog sync walks the lists once per run.
 *
 * Token lifecycle. The access token lives in the store (tokens, name
 * "cianbox": JSON {access_token, refresh_token}, expires_at = now +
 * expires_in), so every CGI, worker and job shares one. A call that gets
 * HTTP 401, or an error whose text names the token, renews it once and
 * retries once. Renewing happens under an exclusive file lock
 * ($OVIDIO_DATA_DIR/locks/cianbox-token.lock): a process that finds the
 * lock taken waits (CIANBOX_LOCK_WAIT_MS at most), then re-reads the store
 * and reuses the token the holder got, so fifty processes starting
 * together cause one login. Renewing is POST /auth/refresh with the stored
 * refresh token (a new access token, the same refresh token); a refused
 * refresh token falls back to POST /auth/credentials with user and
 * password. With several web nodes on one MongoDB the lock is per node:
 * at worst one login per node, and the last token stored wins (each is
 * valid). Token times run on the real clock, not clock_now().
 *
 * Secrets: the access token travels as the access_token query parameter;
 * URLs are never logged (only the path), user/password/refresh token go
 * in POST bodies, and texts from Cianbox are scrubbed of all three before
 * they reach cianbox_last_error() or a log line.
 *
 * Every call: connect and total timeouts (CIANBOX_CONNECT_TIMEOUT_MS,
 * CIANBOX_TIMEOUT_MS), a response cap (CIANBOX_MAX_BYTES_API), TLS
 * verification on, no redirects, CIANBOX_ATTEMPTS tries with doubling
 * backoff from CIANBOX_BACKOFF_MS on 5xx and time-outs.
 *
 * Parsing is defensive: numbers may come as numbers or strings
 * ("6599.0000"), fields may be missing or null (then "" / 0 / false);
 * an item without a positive id is skipped. A "status" other than "ok"
 * is an error whose text is the first of message, statusMessage,
 * body.description, body.descripcion.
 *
 * Ownership: cianbox_open() returns a client freed with cianbox_close();
 * it borrows the store (one per process, see store.h), which must outlive
 * it. Items are plain structs with fixed buffers: nothing to free. Texts
 * longer than a buffer are cut at a UTF-8 character boundary. The raw
 * member points into the page being walked and is valid only during the
 * callback.
 */
#ifndef OVIDIO_CIANBOX_H
#define OVIDIO_CIANBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct cJSON;
struct cianbox;

#define CIANBOX_PAGE_LIMIT 200       /* items per page asked for */
#define CIANBOX_PAGES_MAX 10000      /* a walk stops with an error past this */
#define CIANBOX_MAX_BYTES_API (16u * 1024 * 1024)
#define CIANBOX_TOKEN_NAME "cianbox" /* name in the store's tokens */
#define CIANBOX_VENTAS_MAX 50

/* Open a client. Needs CIANBOX_ACCOUNT, CIANBOX_USER, CIANBOX_PASS:
 * a missing key is OV_ECONFIG with "missing configuration key KEY" in err.
 * No network traffic happens here. */
int cianbox_open(struct cianbox **out, const struct config *cfg,
    struct store *st, char *err, size_t errlen);
void cianbox_close(struct cianbox *cb);

/* A deadline for a web page: every call from now on ends within ms
 * milliseconds of this one. Each try's timeouts are cut to what is left,
 * no retry or backoff pause starts past it, and waiting for another
 * process's token renewal stops there (the call then fails: OV_ETIMEOUT,
 * or OV_EBUSY while another process renews the token). ms <= 0 removes
 * it. */
void cianbox_set_deadline(struct cianbox *cb, long ms);

/* Why the last call failed, for logs and operators: Cianbox's own text
 * when it gave one, else what went wrong ("GET /acct/api/v2/productos: no
 * answer within 20000 ms (3 tries)"). Never holds a secret. "" when none. */
const char *cianbox_last_error(const struct cianbox *cb);

/* ---- token ------------------------------------------------------------ */

enum cianbox_token_action {
	CIANBOX_TOKEN_KEPT = 0,    /* the stored token had enough time left */
	CIANBOX_TOKEN_REUSED,      /* another process renewed it meanwhile */
	CIANBOX_TOKEN_REFRESHED,   /* POST /auth/refresh */
	CIANBOX_TOKEN_LOGGED_IN    /* POST /auth/credentials */
};

const char *cianbox_token_action_name(enum cianbox_token_action a);

/* Make sure the store holds a token with at least min_left seconds to
 * live, renewing it if not. *did and *expires_at may be NULL. */
int cianbox_token_ensure(struct cianbox *cb, int64_t min_left,
    enum cianbox_token_action *did, int64_t *expires_at);

/* ---- items (only what Ovidio uses; Cianbox field in brackets) --------- */

struct cianbox_producto {
	int64_t id;                 /* [id] */
	char codigo[96];            /* [codigo_interno] the seller's code */
	char codigo_barras[64];     /* [codigo_barras] */
	char nombre[256];           /* [producto] */
	char descripcion[1024];     /* [descripcion] */
	char marca[96];             /* [marca] */
	char categoria[128];        /* [categoria] */
	int64_t id_marca, id_categoria;
	bool vigente;               /* [vigente]; missing: true */
	/* Prices of the price list CIANBOX_PRICE_LIST (default 1) from
	 * [precios]: its neto, final and id_moneda. Without that entry:
	 * [precio_neto], final = neto plus IVA, id_moneda 0 (unknown). */
	double precio_neto;
	double precio_final;
	int id_moneda;              /* 1 pesos, 2 dollars (Cianbox's ids) */
	double iva;                 /* percent: 21, 10.5 (from [alicuota_iva] 1.21) */
	bool oferta;                /* [oferta] */
	double precio_oferta;       /* [precio_oferta] */
	double stock;               /* [stock_total] */
	char updated[24];           /* [updated] "2026-11-20 08:15:00" */
	const struct cJSON *raw;
};

struct cianbox_cliente {
	int64_t id;                 /* [id] */
	char razon[256];            /* [razon] name or company */
	char condicion[16];         /* [condicion] RI, CF, MT, EX ... */
	char tipo_documento[16];    /* [tipo_documento] CUIT, DNI */
	char numero_documento[24];  /* [numero_documento], digits only */
	char domicilio[256];
	char localidad[128];
	char provincia[64];
	char telefono[128];         /* as written; see phone.h */
	char celular[128];
	char email[256];            /* as written; see identity.h */
	bool ctacte;                /* [ctacte] has a current account */
	int64_t plazo;              /* [plazo] payment days */
	double limite;              /* [limite] credit limit */
	double saldo;               /* [saldo] balance owed (negative: credit) */
	double descuento;           /* [descuento] percent */
	char updated[24];
	const struct cJSON *raw;
};

struct cianbox_venta {
	int64_t id;                 /* [id] */
	char fecha[16];             /* [fecha] "2026-11-03" */
	char fecha_carga[24];       /* [fecha_carga] */
	char tipo[32];              /* [tipo] / [tipo_comprobante], may be "" */
	char punto_venta[16];       /* [punto_venta] "0003" */
	char numero[24];            /* [numero] "00012877" */
	int64_t cliente_id;         /* [cliente][0].id */
	char cliente_razon[256];    /* [cliente][0].razon */
	char numero_documento[24];  /* [numero_documento_venta] */
	double gravado, iva, no_gravado, exento;
	double total;               /* [total] */
	bool has_saldo;             /* [saldo] present */
	double saldo;               /* what is still owed on this document */
	bool cta_cte;               /* [cta_cte] sold on current account */
	bool anulado;               /* [anulado] */
	bool vigente;               /* [vigente]; missing: true */
	int id_moneda;
	double cotizacion;
	char url[512];              /* [url][0]: Cianbox's link to the PDF */
};

/* ---- calls -------------------------------------------------------------- */

/* Called once per item; any return other than OV_OK stops the walk and
 * is returned by it. */
typedef int (*cianbox_producto_fn)(void *arg, const struct cianbox_producto *p);
typedef int (*cianbox_cliente_fn)(void *arg, const struct cianbox_cliente *c);

struct cianbox_walk_stats {
	size_t pages;      /* pages fetched */
	size_t items;      /* items handed to the callback */
	size_t skipped;    /* items without a usable id */
};

/* Walk the product list page by page (limit 200, only the fields kept,
 * by id), one page in memory at a time, until page == total_pages or an
 * empty body. stats may be NULL. */
int cianbox_productos_each(struct cianbox *cb, cianbox_producto_fn fn,
    void *arg, struct cianbox_walk_stats *stats);

/* The same for clients. */
int cianbox_clientes_each(struct cianbox *cb, cianbox_cliente_fn fn,
    void *arg, struct cianbox_walk_stats *stats);

/* One client by Cianbox id. *found false (and OV_OK) when there is none. */
int cianbox_cliente_by_id(struct cianbox *cb, int64_t id,
    struct cianbox_cliente *out, bool *found);

/* One client by document (CUIT or DNI, digits; dashes are dropped). When
 * Cianbox has several, the one with the lowest id. */
int cianbox_cliente_by_documento(struct cianbox *cb, const char *documento,
    struct cianbox_cliente *out, bool *found);

/* A customer's latest documents (by numero_documento_venta), newest first
 * (by fecha, then id), at most max (1..CIANBOX_VENTAS_MAX) into out. */
int cianbox_ventas_recent(struct cianbox *cb, const char *documento,
    size_t max, struct cianbox_venta *out, size_t *n);

/* Pesos per US dollar (general/cotizaciones: the current entry whose
 * codigo_afip is DOL or whose symbol is u$s/US$/USD). OV_ENOTFOUND when
 * Cianbox lists none. */
int cianbox_usd_rate(struct cianbox *cb, double *rate);

/* The same through a cache in the store (tokens, name "cianbox_usd_rate"),
 * shared by every process: Cianbox is asked at most once per max_age
 * seconds (1..86400). What the conversation should use. */
int cianbox_usd_rate_cached(struct cianbox *cb, int64_t max_age, double *rate);

/* ---- parsing helpers, shared with the panel scraper and tests ---------- */

/* A JSON number, or a string holding one ("6599.0000", " 12 "). false for
 * null, missing, empty, or anything else. */
bool cianbox_json_number(const struct cJSON *item, double *out);

/* Copy s into dst (size n) cut at a UTF-8 boundary; "" for NULL. */
void cianbox_copy_text(char *dst, size_t n, const char *s);

#endif
