/*
 * business.h - what the business is: hours, address, payments, shipping,
 * warranty, web, phone, pick-up; read from the file named by the
 * configuration key BUSINESS_INFO, answered in Rioplatense Spanish.
 *
 * The file has KEY=VALUE lines and '#' comments, UTF-8, at most
 * BUSINESS_FILE_MAX bytes, each value at most BUSINESS_VALUE_MAX bytes
 * (surrounding quotes are dropped). Keys (see apache/business_info.example):
 *   nombre, direccion, mapa (http(s) URL), web, telefono, email,
 *   horario_lunes .. horario_domingo   "8:30-12:30,14:00-18:00" or "cerrado"
 *                                      (a day left out is closed when any
 *                                      day is given),
 *   feriados       closed days: "2026-12-08, 2026-12-25" (YYYY-MM-DD),
 *   pagos, envios, garantia, retiro, facturacion
 *                  sentences the customer reads as written.
 * An unknown or repeated key, a line without '=', a bad value: an error
 * naming the line, so a typo never silently closes the shop.
 *
 * Times are read in the process's time zone: programs make the configured
 * TZ theirs once with quote_use_timezone(cfg) (lib/bot does).
 *
 * Ownership: business_load()/business_parse() allocate a struct business
 * the caller frees with business_free(). Text functions write into caller
 * buffers. A NULL business is valid everywhere and knows nothing, so
 * every question goes to a person.
 */
#ifndef OVIDIO_BUSINESS_H
#define OVIDIO_BUSINESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUSINESS_FILE_MAX (64 * 1024)
#define BUSINESS_VALUE_MAX 1000
#define BUSINESS_SPANS_MAX 4        /* openings per day */
#define BUSINESS_HOLIDAYS_MAX 128
#define BUSINESS_ANSWER_MAX 2048    /* enough for any one answer */

struct config;
struct business;

enum business_topic {
	BUSINESS_HOURS = 0,    /* horario */
	BUSINESS_ADDRESS,      /* direccion (and mapa) */
	BUSINESS_PAYMENT,      /* pagos */
	BUSINESS_SHIPPING,     /* envios */
	BUSINESS_WARRANTY,     /* garantia */
	BUSINESS_WEB,          /* web */
	BUSINESS_PHONE,        /* telefono */
	BUSINESS_PICKUP,       /* retiro */
	BUSINESS_EMAIL,        /* email */
	BUSINESS_INVOICING,    /* facturacion */
	BUSINESS_TOPICS        /* how many; not a topic */
};

/* Read the file named by BUSINESS_INFO. No key, or no such file: *out
 * NULL, OV_OK and a warning in the log. A file that cannot be read, is
 * too big or has a bad line: OV_EIO, OV_ETOOBIG or OV_EPARSE with err
 * naming the file and line ("business.txt:12: horario_lunes: ..."). */
int business_load(const struct config *cfg, struct business **out,
    char *err, size_t errlen);

/* The same from memory (len bytes of text); name is used in messages. */
int business_parse(const char *text, size_t len, const char *name,
    struct business **out, char *err, size_t errlen);

void business_free(struct business *b);

/* "horario", "direccion", "pagos", "envios", "garantia", "web",
 * "telefono", "retiro", "email", "facturacion"; "" for no topic. Static. */
const char *business_topic_name(enum business_topic t);

/* A topic by that name (any case, accents allowed): OV_OK, or OV_EINVAL. */
int business_topic_parse(const char *name, enum business_topic *out);

/* True when the file says something about the topic. */
bool business_has(const struct business *b, enum business_topic t);

/* The business's name ("" when not given). */
const char *business_name(const struct business *b);

/*
 * The answer to a topic, short and warm, as a customer reads it:
 *   horario   "Atendemos lunes a viernes de 8:30 a 12:30 y de 14 a 18,
 *              sábados de 9 a 13, domingos cerrado."
 *   direccion "Estamos en <direccion>. Te dejo el mapa: <mapa>"
 *   web / telefono / email with a lead; pagos, envios, garantia, retiro,
 *   facturacion as written in the file.
 * OV_ENOTFOUND when the file says nothing of it (the question goes to a
 * person), OV_ETOOBIG when buf is too small (buf then holds "").
 */
int business_answer(const struct business *b, enum business_topic t,
    char *buf, size_t len);

/* The week as a person writes it, equal consecutive days grouped:
 * "lunes a viernes de 8:30 a 12:30 y de 14 a 18, sábados de 9 a 13,
 * domingos cerrado". OV_ENOTFOUND without hours; OV_ETOOBIG. */
int business_hours_text(const struct business *b, char *buf, size_t len);

/* Open at unix time t (a holiday is closed all day). */
bool business_is_open(const struct business *b, int64_t t);

/* The first instant >= now when the business is open (now itself when
 * open). OV_ENOTFOUND when it never opens in the coming year. */
int business_next_open(const struct business *b, int64_t now, int64_t *at);

/* When it opens next, in words: "hoy a las 14", "mañana a las 8:30",
 * "el lunes a las 8:30", past a week "el lunes 12/1 a las 8:30".
 * OV_ENOTFOUND as business_next_open(); OV_ETOOBIG. */
int business_next_open_text(const struct business *b, int64_t now,
    char *buf, size_t len);

/* For a handoff: "" when open now (a person answers now); otherwise
 * "Ahora estamos cerrados; te responde una persona mañana a las 8:30."
 * OV_ENOTFOUND without hours (the caller says nothing of when). */
int business_handoff_text(const struct business *b, int64_t now,
    char *buf, size_t len);

/* The hours of the day days_ahead (0 today, 1 tomorrow, .. 366) after
 * now's day: "Mañana (sábado) abrimos de 9 a 13.", "Hoy abrimos de 8:30
 * a 12:30 y de 14 a 18.", "El domingo no abrimos.", "El lunes 8/12 es
 * feriado: no abrimos." OV_ENOTFOUND without hours; OV_EINVAL for a
 * days_ahead out of range; OV_ETOOBIG. */
int business_day_text(const struct business *b, int64_t now, int days_ahead,
    char *buf, size_t len);

/* Which day a customer's text asks about, as days after now's day: "hoy"
 * 0, "mañana" 1 (not "a la mañana"), "pasado mañana" 2, a weekday
 * ("abren el sábado?") the next one (0 when it is today). -1 when none. */
int business_question_day(const char *text, int64_t now);

/*
 * Whether text asks about the business, and which topics, in the order of
 * enum business_topic, each once; at most max into topics, *n how many.
 * Everyday phrasing ("a q hora abren mañana?", "donde estan?", "aceptan
 * mercadopago?", "mandan a Funes?", "puedo pasar a buscar?"); product
 * questions ("cable interior", "tenes fuente 12v?", "tarjeta de
 * proximidad") are not. The phrases are data in lib/business.c. Any case,
 * with or without accents; the first RULES_TEXT_MAX bytes are read.
 */
bool business_question(const char *text, enum business_topic *topics,
    size_t max, size_t *n);

#endif
