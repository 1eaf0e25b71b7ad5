/*
 * ingest - what a worker process does with the store: one sender's
 * events from the spool, and the replies and notices left waiting.
 *
 * A sender's events come in timestamp order. Its new messages are
 * recorded exactly once and claimed, one conversation turn runs over all
 * of them (lib/bot), and only then are they marked handled, so a crash in
 * between replays the turn. Statuses are applied (one naming an outbox
 * entry's part tells the outbox Meta took it), and coexistence echoes
 * (a salesperson writing from the app) hand the conversation over, in
 * order with the customer's own messages.
 *
 * The store and the conversation (with its connections) are opened at
 * the first need and kept until ingest_close(), so a process can take
 * many senders one after another; after a failure they are opened afresh.
 * While it handles a sender the process holds locks/sender-XX.lock (a
 * hash of the sender), which the kernel releases when it dies: another
 * process that gets it knows a message claimed but not handled was left
 * by a process that is gone, and takes it back at once (SQLite only: on
 * MongoDB other nodes do not share our locks and the store's lease
 * decides).
 */
#ifndef OVIDIO_INGEST_H
#define OVIDIO_INGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "spool.h"
#include "wa_payload.h"

/* ingest_sender() answers: done, the sender's lock stayed taken (its
 * events wait for a later run), or INGEST_ERROR_BASE + the first OV_*
 * error (the spool files stay for a replay). */
#define INGEST_DONE 0
#define INGEST_BUSY 75
#define INGEST_ERROR_BASE 10

enum ingest_kind { INGEST_MESSAGE, INGEST_STATUS, INGEST_ECHO };

/* One event: which of p's messages, statuses or echoes. */
struct ingest_event {
	enum ingest_kind kind;
	const struct wa_payload *p;
	size_t idx;
};

struct ingest_conf {
	const struct config *cfg;
	const struct spool *spool;   /* messages refused go to its failed/ */
	const char *data_dir;        /* for locks/ */
	long lease;                  /* OVIDIO_SPOOL_LEASE, seconds */
	bool local_store;            /* SQLite: our locks cover every claimer */
};

struct ingest;

/* Whether replies are on: WHATSAPP_TOKEN and PHONE_NUMBER_ID are set.
 * Without them messages are only recorded. */
bool ingest_replies_on(const struct config *cfg);

/* OV_OK or OV_ENOMEM; nothing is opened yet. conf's pointers must
 * outlive it. */
int ingest_open(struct ingest **out, const struct ingest_conf *conf);

/* Handle one sender's events, in the order given. */
int ingest_sender(struct ingest *ig, const char *wa_id,
    const struct ingest_event *ev, size_t n);

/* Send the e-mail notices in mailq/ and the replies waiting in the
 * outbox (a look at the store when nothing waits). */
void ingest_drain(struct ingest *ig);

void ingest_close(struct ingest *ig);

#endif
