/*
 * bot.h - the conversation: one turn per sender's pending messages.
 *
 * DESIGN.md section 5, issue 5. For a sender's messages that are pending
 * together (already recorded and claimed by jobs/worker), one turn:
 *
 *   identify -> decide -> act -> reply -> record
 *
 * Identify: the clientes record (linked Cianbox customer, verified when
 * the sender's number equals a phone of that customer), else the synced
 * clients by phone, else a CUIT or e-mail typed in chat (prices only).
 * An unknown sender is asked once, kindly, for a CUIT or e-mail, and
 * helped meanwhile.
 *
 * Decide: with a model (OPENAI_API_KEY), by its tools (buscar_productos,
 * consultar_stock, saldo_cuenta, ultimas_facturas, armar_presupuesto,
 * confirmar_presupuesto, cancelar_presupuesto, hablar_con_vendedor);
 * without one, or when it fails, is slow (LLM_BUDGET_MS) or sends invalid
 * arguments, by lib/rules. Both run the same actions. Button and list
 * replies (their ids say exactly what was picked) and bare greetings are
 * decided by the rules without asking the model.
 *
 * What the customer reads is always made here from store and API data:
 * product names, prices ("USD 48,50 + IVA"), stock, balances and totals
 * are formatted by this module, never taken from model text. The model
 * only chooses the actions; its final words are shown as a short lead-in
 * only when they hold no digit at all (so no figure of its own can reach
 * a customer), and on their own only when no tool ran and the message is
 * small talk by the rules' reading (a question about products, the
 * account or quotes answered without a tool goes to the rules instead).
 *
 * Replies are Rioplatense Spanish, short, ending in one question, and go
 * out through lib/outbox (never lost; recorded with their wamid). The
 * conversation state lives in the customer's profile JSON (greeting day
 * in TZ, introduced, CUIT asked, last product and quantity, the question
 * we asked, quiet-until after a handoff).
 *
 * E-mail (lib/mail): VENDEDOR_EMAIL gets handoffs (with the recent
 * conversation) and confirmed quotes; EMAIL_TO_COMPRAS gets out-of-stock
 * demand at most once per product per day (store counter
 * "sin-stock:<id>:<day>").
 *
 * Ownership: bot_open() returns a struct bot freed by bot_close(). It
 * borrows cfg and st (one store per process, see store.h), which must
 * outlive it. bot_open() makes its own WhatsApp, model, Cianbox and mail
 * clients; the ones not configured are simply not used.
 */
#ifndef OVIDIO_BOT_H
#define OVIDIO_BOT_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct wa_message;
struct bot;

#define BOT_HISTORY_TURNS 12       /* earlier messages the model sees */
#define BOT_LIST_ROWS 10           /* products per list */
#define BOT_TURN_TEXT_MAX 4096     /* bytes of one turn's text read */

/* OV_ECONFIG (err names the key) when WhatsApp sending is not configured
 * (WHATSAPP_TOKEN, PHONE_NUMBER_ID) or a present key is malformed. */
int bot_open(struct bot **out, const struct config *cfg, struct store *st,
    char *err, size_t errlen);
void bot_close(struct bot *b);

/*
 * One turn over msgs[0..n) of one sender, in timestamp order, each
 * already recorded and claimed. OV_OK when the turn is done (replies sent
 * or kept in the outbox): the caller then marks the messages handled.
 * Another code means nothing durable was promised: the caller leaves the
 * messages claimed so the turn is replayed after the lease.
 */
int bot_turn(struct bot *b, const struct wa_message *const *msgs, size_t n);

/* Send what waits in the outbox (see outbox.h). */
int bot_drain_outbox(struct bot *b, size_t *sent, size_t *left);

#endif
