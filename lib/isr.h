/*
 * isr.h - quotes posted to the distributor's own back end (ISR), as the
 * old bot did: ISR_API_URL + /api/presupuestos, one POST per event of a
 * quote: "nuevo" when it is made, then "confirmado" or "cancelado".
 *
 * Never in the customer's turn: lib/quote queues each event with
 * isr_quote_event() (the store's isr_cola, kept only when ISR_API_URL is
 * set) before it stores the quote, and isr_drain() (jobs/isr-sync, every
 * minute from cron) posts what waits, oldest first, one quote's events in
 * order. A back end that is down delays the posts and loses none: a
 * failed post is tried again with doubling waits (ISR_RETRY_S, default 1
 * minute, to 1 hour) for
 * ISR_GIVE_UP_S; a 4xx answer other than 408/429 is a refusal, logged and
 * dropped. An event whose quote was never stored (a failure between the
 * two writes) is dropped once it is ISR_ORPHAN_S old.
 *
 * Body (JSON): origen, cliente{nombre, telefono, cuit}, vendedor,
 * productos[{codigo, descripcion, cantidad, precioUSD, iva}],
 * totales{subtotalUSD, ivaUSD, totalUSD}, validezDias, notas, and
 * estado, numero, id, fecha (ISO 8601, UTC). Money in dollars with two
 * decimals; iva 21 or 10.5.
 *
 * Ownership: nothing to free; the store and configuration are borrowed.
 */
#ifndef OVIDIO_ISR_H
#define OVIDIO_ISR_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct quote;
struct store;

#define ISR_PATH "/api/presupuestos"
#define ISR_DRAIN_MAX 200        /* entries looked at per drain */
#define ISR_RETRY_MIN_S 60
#define ISR_RETRY_MAX_S 3600
#define ISR_GIVE_UP_S (7 * 86400)
#define ISR_ORPHAN_S 600
#define ISR_CLAIM_S 300

/* Queue q's current state as an event (pending: "nuevo", sent:
 * "confirmado", cancelled: "cancelado"; other states: nothing). An event
 * queued before is OV_OK. Nothing when the store keeps no ISR queue. */
int isr_quote_event(struct store *st, const struct quote *q);

/* The event's JSON body, without origen and vendedor (added when it is
 * posted); *json malloc'd (caller frees). */
int isr_quote_json(const struct quote *q, const char *estado, char **json);

struct isr_stats {
	size_t posted;
	size_t failed;     /* tried, to be tried again */
	size_t dropped;    /* refused, too old, or orphaned */
	size_t waiting;    /* not due yet */
};

/* Post what is due (see above). OV_ECONFIG without ISR_API_URL. */
int isr_drain(struct store *st, const struct config *cfg, int64_t now,
    struct isr_stats *stats);

#endif
