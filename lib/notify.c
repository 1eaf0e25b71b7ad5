/*
 * notify.c - e-mail notices of a turn (to the salesperson, to
 * purchasing). They are kept with the turn and sent after its commit, so
 * a turn that is replayed does not e-mail twice. Every piece of text that
 * came from a customer or the catalog is escaped here, at the boundary
 * (mail_html_escape); subjects lose control characters (no header
 * injection, whatever a customer's name holds). See turn.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot_catalog.h"
#include "err.h"
#include "log.h"
#include "mail.h"
#include "quote.h"
#include "turn.h"

const char *
customer_label(const struct turn *t)
{
	/* A name from Cianbox only when this number is that customer's:
	 * a CUIT typed by a stranger confirms nobody's name. */
	if (t->cust.verified && t->conv.razon[0] != '\0')
		return t->conv.razon;
	if (t->cust.name != NULL && t->cust.name[0] != '\0')
		return t->cust.name;
	if (t->profile_name[0] != '\0')
		return t->profile_name;
	return "cliente sin nombre";
}

/* A subject without control characters (CR/LF would start a header). */
static void
clean_subject(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < len; in++)
		out[o++] = (unsigned char)*in < 0x20 || *in == 0x7f ? ' ' : *in;
	out[o] = '\0';
}

bool
notice_add(struct turn *t, const char *to, const char *subject,
    const char *html)
{
	struct notice *n;
	char subj[MAIL_SUBJECT_MAX];

	if (to == NULL || !mail_configured(t->b->mail) ||
	    t->nnotices == TURN_NOTICES_MAX)
		return false;
	n = &t->notices[t->nnotices];
	clean_subject(subject, subj, sizeof(subj));
	n->to = to;
	n->subject = strdup(subj);
	n->html = strdup(html);
	if (n->subject == NULL || n->html == NULL) {
		free(n->subject);
		free(n->html);
		return false;
	}
	t->nnotices++;
	return true;
}

void
notices_send(struct turn *t)
{
	/* What this turn queued (a handoff) goes now, not at the next
	 * worker run. */
	if (t->mail_queued)
		mail_queue_drain(t->b->mail, NULL, NULL);
	for (size_t i = 0; i < t->nnotices; i++) {
		int rc = mail_send_or_queue(t->b->mail, t->notices[i].to,
		    t->notices[i].subject, t->notices[i].html, NULL);

		if (rc != OV_OK)
			log_warn("notice \"%s\" not e-mailed: %s",
			    t->notices[i].subject, ov_strerror(rc));
	}
}

void
notices_free(struct turn *t)
{
	for (size_t i = 0; i < t->nnotices; i++) {
		free(t->notices[i].subject);
		free(t->notices[i].html);
	}
	t->nnotices = 0;
}

/* ---- building the bodies ---------------------------------------------- */

/* A growing HTML body: markup as is, text always escaped. */
struct html {
	char buf[32768];
	size_t len;
};

static void
html_raw(struct html *h, const char *markup)
{
	size_t n = strlen(markup);

	if (h->len + n >= sizeof(h->buf))
		return;
	memcpy(h->buf + h->len, markup, n + 1);
	h->len += n;
}

static void
html_text(struct html *h, const char *text)
{
	char *e = mail_html_escape(text != NULL ? text : "");

	if (e != NULL)
		html_raw(h, e);
	free(e);
}

/* "<p><b>label</b> text" */
static void
html_field(struct html *h, const char *label, const char *text)
{
	html_raw(h, "<br><b>");
	html_raw(h, label);
	html_raw(h, "</b> ");
	html_text(h, text);
}

/* What the customer sent, kept for the salesperson: a link to each file
 * in the inbox (behind its login), or why it could not be fetched. */
static void
kept_links(const struct turn *t, struct html *h)
{
	static const char *const what[] = {
		[MEDIA_KEEP_AUDIO] = "Audio", [MEDIA_KEEP_IMAGE] = "Foto",
		[MEDIA_KEEP_DOCUMENT] = "Documento",
	};
	const char *base = t->b->public_base;

	for (size_t i = 0; i < t->nkept; i++) {
		const struct media_kept *k = &t->kept[i];
		const char *label = k->filename[0] != '\0' ? k->filename :
		    what[k->kind];
		char text[MEDIA_KEEP_NAME_MAX + MEDIA_KEEP_REF_MAX + 128];

		html_raw(h, "<p><b>Archivo del cliente:</b> ");
		if (k->failed) {
			snprintf(text, sizeof(text), "%s: no se pudo descargar "
			    "(%s; media %s). Miralo en el teléfono.", label,
			    k->why, k->media_ref);
			html_text(h, text);
		} else if (base != NULL) {
			snprintf(text, sizeof(text), "%s/cgi-bin/inbox/media?id=%s",
			    base, k->id);
			html_raw(h, "<a href=\"");
			html_text(h, text);
			html_raw(h, "\">");
			html_text(h, label);
			html_raw(h, "</a>");
		} else {
			snprintf(text, sizeof(text), "%s (en el inbox)", label);
			html_text(h, text);
		}
		html_raw(h, "</p>");
	}
}

bool
notify_handoff(struct turn *t, const char *why, const char *link)
{
	struct bot *b = t->b;
	struct store_msg *hist = NULL;
	struct html *h;
	size_t n = 0;
	char subject[MAIL_SUBJECT_MAX], subj[MAIL_SUBJECT_MAX], who[256];
	char wa[64];
	bool ok;

	if (b->vendedor == NULL || !mail_configured(b->mail))
		return false;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return false;
	snprintf(subject, sizeof(subject), "Ovidio: %s pide hablar con un "
	    "vendedor", fmt_short(customer_label(t), 60, who, sizeof(who)));
	snprintf(wa, sizeof(wa), "+%s", t->wa_id);
	html_raw(h, "<p><b>Cliente:</b> ");
	html_text(h, customer_label(t));
	html_field(h, "WhatsApp:", wa);
	if (t->conv.cuit[0] != '\0')
		html_field(h, "CUIT:", t->conv.cuit);
	if (why != NULL && why[0] != '\0')
		html_field(h, "Motivo:", why);
	html_raw(h, "</p>");
	if (link != NULL) {
		html_raw(h, "<p><a href=\"");
		html_text(h, link);
		html_raw(h, "\">Abrir la conversación</a></p>");
	}
	kept_links(t, h);
	html_raw(h, "<p>Ovidio no le va a responder por unas horas: escribile "
	    "vos por WhatsApp.</p><h3>Conversación reciente</h3>");
	if (store_history(b->st, t->wa_id, 20, &hist, &n) == OV_OK) {
		for (size_t i = 0; i < n; i++) {
			html_raw(h, hist[i].dir == STORE_IN ? "<p><b>Cliente:</b> " :
			    "<p><b>Ovidio:</b> ");
			html_text(h, hist[i].body != NULL ? hist[i].body :
			    hist[i].type);
			html_raw(h, "</p>");
		}
		store_msgs_free(hist, n);
	}
	html_raw(h, "<p><b>Cliente (ahora):</b> ");
	html_text(h, t->text);
	html_raw(h, "</p>");
	/* The customer is about to be promised a salesperson: the notice
	 * is made durable now (a crash before the commit may e-mail twice,
	 * never zero times). */
	clean_subject(subject, subj, sizeof(subj));
	ok = mail_queue(b->mail, b->vendedor, subj, h->buf) == OV_OK;
	if (ok)
		t->mail_queued = true;
	free(h);
	return ok;
}

void
notify_demand(struct turn *t, const struct bot_product *p, int64_t qty)
{
	struct bot *b = t->b;
	struct html *h;
	char name[STORE_NAME_MAX + 1], subject[MAIL_SUBJECT_MAX], q[32];
	char shortname[512], wa[64];
	int64_t n = 0;

	/* Asked for while out of stock: the back-in-stock notice (lib/
	 * proactive) reads this once the catalog has it again. */
	if (p->stock <= 0 && store_demand_put(b->st, t->wa_id, p->id, t->now) !=
	    OV_OK)
		log_warn("demand of %s for product %lld not recorded", t->wa_id,
		    (long long)p->id);
	if (b->compras == NULL || !mail_configured(b->mail))
		return;
	/* Purchasing hears once per product per day. */
	snprintf(name, sizeof(name), "sin-stock:%lld:%s", (long long)p->id,
	    t->today);
	if (store_counter_next(b->st, name, &n) != OV_OK || n != 1)
		return;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return;
	snprintf(subject, sizeof(subject), "Sin stock: %s",
	    fmt_short(p->name, 80, shortname, sizeof(shortname)));
	html_raw(h, "<p>Un cliente pidió un producto sin stock suficiente.</p>"
	    "<p><b>Producto:</b> ");
	html_text(h, p->name);
	html_field(h, "Código:", p->code);
	snprintf(q, sizeof(q), "%lld", (long long)(qty > 0 ? qty : 1));
	html_field(h, "Cantidad pedida:", q);
	snprintf(q, sizeof(q), "%lld", (long long)p->stock);
	html_field(h, "Stock:", q);
	html_field(h, "Cliente:", customer_label(t));
	snprintf(wa, sizeof(wa), "+%s", t->wa_id);
	html_field(h, "WhatsApp:", wa);
	html_raw(h, "</p><p>Aviso único por producto y por día.</p>");
	notice_add(t, b->compras, subject, h->buf);
	free(h);
}

void
notify_quote_sent(struct bot *b, const struct quote *q, const char *wa_id)
{
	struct html *h;
	char subject[MAIL_SUBJECT_MAX], who[256], line[128], a[48], wa[64];
	char subj[MAIL_SUBJECT_MAX];
	int rc;

	if (b->vendedor == NULL || !mail_configured(b->mail))
		return;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return;
	snprintf(subject, sizeof(subject), "Presupuesto N° %lld confirmado por "
	    "%s", (long long)q->number, fmt_short(q->customer.name[0] ?
	    q->customer.name : wa_id, 60, who, sizeof(who)));
	clean_subject(subject, subj, sizeof(subj));
	snprintf(line, sizeof(line), "<p>El cliente confirmó el presupuesto "
	    "N° %lld y se le envió el PDF por WhatsApp.</p><p><b>Cliente:</b> ",
	    (long long)q->number);
	html_raw(h, line);
	html_text(h, q->customer.name[0] ? q->customer.name : "(sin nombre)");
	snprintf(wa, sizeof(wa), "+%s", wa_id);
	html_field(h, "WhatsApp:", wa);
	html_raw(h, "</p><table border=\"1\" cellpadding=\"4\"><tr><th>Cant."
	    "</th><th>Producto</th><th>Unitario</th></tr>");
	for (size_t i = 0; i < q->nitems; i++) {
		snprintf(line, sizeof(line), "<tr><td>%lld</td><td>",
		    (long long)q->items[i].quantity);
		html_raw(h, line);
		html_text(h, q->items[i].name);
		fmt_money(q->items[i].unit_cents, a, sizeof(a));
		html_raw(h, "</td><td>");
		html_text(h, a);
		html_raw(h, "</td></tr>");
	}
	fmt_money(q->total_cents, a, sizeof(a));
	html_raw(h, "</table><p><b>Total con IVA:</b> ");
	html_text(h, a);
	html_raw(h, "</p>");
	if ((rc = mail_send_or_queue(b->mail, b->vendedor, subj, h->buf,
	    NULL)) != OV_OK)
		log_warn("notice \"%s\" not e-mailed: %s", subj, ov_strerror(rc));
	free(h);
}
