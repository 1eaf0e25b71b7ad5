/*
 * test_business.c - the business facts file as a customer meets it: the
 * answers' wording, the week written as a person writes it, open or
 * closed and when it opens next (lunch, evening, Saturday afternoon,
 * Sunday, a holiday), and which messages are questions about the
 * business and which are product questions.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "business.h"
#include "check.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"

static const char sample[] =
	"# Grupo SER\n"
	"nombre=Grupo SER\n"
	"direccion = Bv. Oroño 1234, Rosario\n"
	"mapa=https://maps.app.goo.gl/abc123\n"
	"\n"
	"horario_lunes=8:30-12:30,14:00-18:00\n"
	"horario_martes=8:30-12:30,14-18\n"
	"horario_miercoles=8:30-12:30, 14:00-18:00\n"
	"horario_jueves=8:30-12:30,14:00-18:00\n"
	"horario_viernes=8:30-12:30,14:00-18:00\n"
	"horario_sabado=9-13\n"
	"horario_domingo=cerrado\n"
	"feriados=2026-12-08, 2026-12-25\n"
	"pagos=\"Podés pagar en efectivo, transferencia, Mercado Pago o "
	"tarjeta.\"\n"
	"envios=Enviamos en el día a Rosario y alrededores; al interior, por "
	"Andreani o Vía Cargo.\n"
	"garantia=Las cámaras y DVR tienen 12 meses de garantía.\n"
	"web=https://www.gruposer.com.ar\n"
	"telefono=0341 456-7890\n"
	"retiro=Podés pasar a retirar por el local en el horario de atención.\n";

static struct business *
load(const char *text)
{
	struct business *b = NULL;
	char err[256] = "";

	if (business_parse(text, strlen(text), "test", &b, err, sizeof(err)) !=
	    OV_OK)
		fprintf(stderr, "  parse: %s\n", err);
	return b;
}

/* Local time in the business zone (America/Argentina/Cordoba, -03). */
static int64_t
at(const char *iso)
{
	int64_t t = 0;

	if (clock_parse_iso8601(iso, &t) != OV_OK)
		fprintf(stderr, "  bad time %s\n", iso);
	return t;
}

static void
test_parse(void)
{
	struct business *b = load(sample);
	char buf[BUSINESS_ANSWER_MAX];

	CHECK(b != NULL);
	CHECK_STR(business_name(b), "Grupo SER");
	CHECK(business_has(b, BUSINESS_HOURS));
	CHECK(business_has(b, BUSINESS_ADDRESS));
	CHECK(business_has(b, BUSINESS_PAYMENT));
	CHECK(business_has(b, BUSINESS_PICKUP));
	CHECK(!business_has(b, BUSINESS_EMAIL));
	CHECK(!business_has(b, BUSINESS_INVOICING));
	CHECK_INT(business_answer(b, BUSINESS_EMAIL, buf, sizeof(buf)),
	    OV_ENOTFOUND);
	CHECK_INT(business_answer(b, BUSINESS_ADDRESS, buf, sizeof(buf)),
	    OV_OK);
	CHECK_STR(buf, "Estamos en Bv. Oroño 1234, Rosario. Te dejo el mapa: "
	    "https://maps.app.goo.gl/abc123");
	CHECK_INT(business_answer(b, BUSINESS_PAYMENT, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "Podés pagar en efectivo, transferencia, Mercado Pago o "
	    "tarjeta.");
	CHECK_INT(business_answer(b, BUSINESS_PHONE, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "Nuestro teléfono es 0341 456-7890");
	/* Too small a buffer is said, never a cut answer. */
	CHECK_INT(business_answer(b, BUSINESS_ADDRESS, buf, 20), OV_ETOOBIG);
	CHECK_STR(buf, "");
	business_free(b);

	/* Nothing known: every topic goes to a person. */
	CHECK(!business_has(NULL, BUSINESS_HOURS));
	CHECK_INT(business_answer(NULL, BUSINESS_WEB, buf, sizeof(buf)),
	    OV_ENOTFOUND);
	CHECK_INT(business_handoff_text(NULL, 0, buf, sizeof(buf)),
	    OV_ENOTFOUND);
	CHECK(!business_is_open(NULL, 0));
}

static void
test_malformed(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "nombre=X\nsin igual\n", "test:2: expected clave=valor" },
		{ "# c\n\nhorario_lunes=8:30-25:00\n", "test:3: horario_lunes" },
		{ "horario_lunes=14-12\n", "test:1: horario_lunes" },
		{ "horario_lunes=8-12,11-18\n", "test:1: horario_lunes" },
		{ "horario_lunes=de 8 a 12\n", "test:1: horario_lunes" },
		{ "horarios_lunes=8-12\n", "test:1: unknown key" },
		{ "web=a\nweb=b\n", "test:2: web given twice" },
		{ "feriados=2026-13-01\n", "test:1: feriados" },
		{ "feriados=2026-02-29\n", "test:1: feriados" },
		{ "mapa=javascript:alert(1)\n", "test:1: mapa" },
	};
	char err[256], big[BUSINESS_VALUE_MAX + 32];
	struct business *b = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_INT(business_parse(bad[i].text, strlen(bad[i].text), "test",
		    &b, err, sizeof(err)), OV_EPARSE);
		CHECK(b == NULL);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			fprintf(stderr, "  got \"%s\", want \"%s...\"\n", err,
			    bad[i].want);
		CHECK(strncmp(err, bad[i].want, strlen(bad[i].want)) == 0);
	}
	memcpy(big, "pagos=", 6);
	memset(big + 6, 'x', BUSINESS_VALUE_MAX + 1);
	big[6 + BUSINESS_VALUE_MAX + 1] = '\0';
	CHECK_INT(business_parse(big, strlen(big), "test", &b, err,
	    sizeof(err)), OV_EPARSE);
	CHECK_INT(business_parse("web=\xff\n", 5, "test", &b, err, sizeof(err)),
	    OV_EPARSE);
	CHECK_INT(business_parse("web=a\0b\n", 8, "test", &b, err, sizeof(err)),
	    OV_EPARSE);
}

static void
test_load(void)
{
	char path[] = "/tmp/ovidio-business-XXXXXX", err[256] = "";
	struct business *b = (struct business *)1;
	struct config *cfg = NULL;
	int fd;

	/* Not configured, or no such file: nothing known, not an error. */
	unsetenv("BUSINESS_INFO");
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(business_load(cfg, &b, err, sizeof(err)), OV_OK);
	CHECK(b == NULL);
	setenv("BUSINESS_INFO", "/nonexistent/business_info", 1);
	b = (struct business *)1;
	CHECK_INT(business_load(cfg, &b, err, sizeof(err)), OV_OK);
	CHECK(b == NULL);

	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	CHECK(write(fd, sample, strlen(sample)) == (ssize_t)strlen(sample));
	close(fd);
	setenv("BUSINESS_INFO", path, 1);
	CHECK_INT(business_load(cfg, &b, err, sizeof(err)), OV_OK);
	CHECK(b != NULL && business_has(b, BUSINESS_SHIPPING));
	business_free(b);
	/* The shipped example loads. */
	setenv("BUSINESS_INFO", "apache/business_info.example", 1);
	b = NULL;
	CHECK_INT(business_load(cfg, &b, err, sizeof(err)), OV_OK);
	if (b == NULL)
		fprintf(stderr, "  example: %s\n", err);
	for (int t = 0; t < BUSINESS_TOPICS; t++)
		if (t != BUSINESS_EMAIL && t != BUSINESS_INVOICING)
			CHECK(business_has(b, (enum business_topic)t));
	business_free(b);
	/* A bad line in the file names it. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write(fd, "web=x\nhorario_lunes=9\n", 22) == 22);
	close(fd);
	setenv("BUSINESS_INFO", path, 1);
	CHECK_INT(business_load(cfg, &b, err, sizeof(err)), OV_EPARSE);
	CHECK(strstr(err, ":2: horario_lunes") != NULL);
	unlink(path);
out:
	unsetenv("BUSINESS_INFO");
	config_free(cfg);
}

static void
test_hours_text(void)
{
	struct business *b = load(sample);
	char buf[512];

	CHECK_INT(business_hours_text(b, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "lunes a viernes de 8:30 a 12:30 y de 14 a 18, sábados "
	    "de 9 a 13, domingos cerrado");
	CHECK_INT(business_answer(b, BUSINESS_HOURS, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "Atendemos lunes a viernes de 8:30 a 12:30 y de 14 a 18, "
	    "sábados de 9 a 13, domingos cerrado.");
	business_free(b);

	/* Two equal days, a day alone, days left out are closed. */
	b = load("horario_lunes=9-17\nhorario_martes=9-17\n"
	    "horario_miercoles=10-12:15\nhorario_jueves=9-17\n");
	CHECK_INT(business_hours_text(b, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "lunes y martes de 9 a 17, miércoles de 10 a 12:15, "
	    "jueves de 9 a 17, viernes a domingo cerrado");
	business_free(b);
}

static void
test_open_and_next(void)
{
	struct business *b = load(sample);
	char buf[256];
	int64_t t = 0;

	/* Friday 4 December 2026. */
	CHECK(business_is_open(b, at("2026-12-04T10:00:00-03:00")));
	CHECK(business_is_open(b, at("2026-12-04T08:30:00-03:00")));
	CHECK(!business_is_open(b, at("2026-12-04T08:29:00-03:00")));
	CHECK(!business_is_open(b, at("2026-12-04T12:30:00-03:00")));
	CHECK_INT(business_next_open(b, at("2026-12-04T10:00:00-03:00"), &t),
	    OV_OK);
	CHECK_INT(t, at("2026-12-04T10:00:00-03:00"));
	CHECK_INT(business_handoff_text(b, at("2026-12-04T10:00:00-03:00"), buf,
	    sizeof(buf)), OV_OK);
	CHECK_STR(buf, "");

	/* Lunch. */
	CHECK(!business_is_open(b, at("2026-12-04T13:00:00-03:00")));
	CHECK_INT(business_next_open(b, at("2026-12-04T13:00:00-03:00"), &t),
	    OV_OK);
	CHECK_INT(t, at("2026-12-04T14:00:00-03:00"));
	CHECK_INT(business_next_open_text(b, at("2026-12-04T13:00:00-03:00"),
	    buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "hoy a las 14");
	CHECK_INT(business_handoff_text(b, at("2026-12-04T13:00:00-03:00"), buf,
	    sizeof(buf)), OV_OK);
	CHECK_STR(buf, "Ahora estamos cerrados; te responde una persona hoy a "
	    "las 14.");

	/* Friday evening: Saturday morning. */
	CHECK_INT(business_next_open_text(b, at("2026-12-04T19:30:00-03:00"),
	    buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "mañana a las 9");
	/* Before opening the same day. */
	CHECK_INT(business_next_open_text(b, at("2026-12-04T07:00:00-03:00"),
	    buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "hoy a las 8:30");

	/* Saturday afternoon and Sunday: Monday. */
	CHECK(business_is_open(b, at("2026-12-05T12:59:00-03:00")));
	CHECK(!business_is_open(b, at("2026-12-05T15:00:00-03:00")));
	CHECK_INT(business_next_open_text(b, at("2026-12-05T15:00:00-03:00"),
	    buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "el lunes a las 8:30");
	CHECK(!business_is_open(b, at("2026-12-06T11:00:00-03:00")));
	CHECK_INT(business_next_open_text(b, at("2026-12-06T11:00:00-03:00"),
	    buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "mañana a las 8:30");

	/* Tuesday 8 December is a holiday: closed all day, Wednesday next. */
	CHECK(!business_is_open(b, at("2026-12-08T10:00:00-03:00")));
	CHECK_INT(business_next_open_text(b, at("2026-12-07T19:00:00-03:00"),
	    buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "el miércoles a las 8:30");
	CHECK_INT(business_next_open(b, at("2026-12-07T19:00:00-03:00"), &t),
	    OV_OK);
	CHECK_INT(t, at("2026-12-09T08:30:00-03:00"));
	/* Christmas Eve (Thursday) evening: Friday 25 is a holiday, so
	 * Saturday. */
	CHECK_INT(business_next_open_text(b, at("2026-12-24T20:00:00-03:00"),
	    buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "el sábado a las 9");
	business_free(b);

	/* Never open. */
	b = load("horario_lunes=cerrado\n");
	CHECK_INT(business_next_open(b, at("2026-12-04T10:00:00-03:00"), &t),
	    OV_ENOTFOUND);
	business_free(b);
}

static void
test_day_text(void)
{
	struct business *b = load(sample);
	int64_t fri = at("2026-12-04T19:00:00-03:00");
	int64_t mon = at("2026-12-07T19:00:00-03:00");
	char buf[256];

	CHECK_INT(business_day_text(b, fri, 0, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "Hoy abrimos de 8:30 a 12:30 y de 14 a 18.");
	CHECK_INT(business_day_text(b, fri, 1, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "Mañana (sábado) abrimos de 9 a 13.");
	CHECK_INT(business_day_text(b, fri, 2, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "El domingo no abrimos.");
	CHECK_INT(business_day_text(b, mon, 1, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "Mañana (martes) es feriado: no abrimos.");
	CHECK_INT(business_day_text(b, fri, 4, buf, sizeof(buf)), OV_OK);
	CHECK_STR(buf, "El martes 8/12 es feriado: no abrimos.");
	CHECK_INT(business_day_text(b, fri, -1, buf, sizeof(buf)), OV_EINVAL);

	/* Which day a question asks about (Friday). */
	CHECK_INT(business_question_day("a q hora abren mañana?", fri), 1);
	CHECK_INT(business_question_day("abren mañana a la mañana?", fri), 1);
	CHECK_INT(business_question_day("abren a la mañana?", fri), -1);
	CHECK_INT(business_question_day("abren hoy?", fri), 0);
	CHECK_INT(business_question_day("abren los sábados?", fri), 1);
	CHECK_INT(business_question_day("y el lunes?", fri), 3);
	CHECK_INT(business_question_day("abren el viernes?", fri), 0);
	CHECK_INT(business_question_day("pasado mañana abren?", fri), 2);
	CHECK_INT(business_question_day("horarios", fri), -1);
	business_free(b);
}

static void
test_topic_names(void)
{
	enum business_topic t;

	CHECK_STR(business_topic_name(BUSINESS_HOURS), "horario");
	CHECK_STR(business_topic_name(BUSINESS_PICKUP), "retiro");
	CHECK_STR(business_topic_name(BUSINESS_TOPICS), "");
	for (int i = 0; i < BUSINESS_TOPICS; i++) {
		CHECK_INT(business_topic_parse(business_topic_name(
		    (enum business_topic)i), &t), OV_OK);
		CHECK_INT(t, i);
	}
	CHECK_INT(business_topic_parse("Garantía", &t), OV_OK);
	CHECK_INT(t, BUSINESS_WARRANTY);
	CHECK_INT(business_topic_parse("precio", &t), OV_EINVAL);
}

/* The single topic text asks about; -1 for none, -2 for several. */
static int
topic_of(const char *text)
{
	enum business_topic t[BUSINESS_TOPICS];
	size_t n = 0;

	if (!business_question(text, t, BUSINESS_TOPICS, &n))
		return n == 0 ? -1 : -3;
	return n == 1 ? (int)t[0] : -2;
}

static void
test_questions(void)
{
	static const struct {
		const char *text;
		int topic;
	} yes[] = {
		{ "a q hora abren mañana?", BUSINESS_HOURS },
		{ "hasta que hora estan?", BUSINESS_HOURS },
		{ "Hasta qué hora están?", BUSINESS_HOURS },
		{ "abren los sabados?", BUSINESS_HOURS },
		{ "horarios", BUSINESS_HOURS },
		{ "Horario de atención?", BUSINESS_HOURS },
		{ "estan abiertos?", BUSINESS_HOURS },
		{ "atienden el feriado?", BUSINESS_HOURS },
		{ "donde estan?", BUSINESS_ADDRESS },
		{ "¿Dónde están ubicados?", BUSINESS_ADDRESS },
		{ "dirección", BUSINESS_ADDRESS },
		{ "como llego", BUSINESS_ADDRESS },
		{ "aceptan mercadopago?", BUSINESS_PAYMENT },
		{ "formas de pago", BUSINESS_PAYMENT },
		{ "tarjeta", BUSINESS_PAYMENT },
		{ "puedo pagar con tarjeta de crédito?", BUSINESS_PAYMENT },
		{ "transferencia", BUSINESS_PAYMENT },
		{ "efectivo", BUSINESS_PAYMENT },
		{ "hacen envios al interior?", BUSINESS_SHIPPING },
		{ "mandan a Funes?", BUSINESS_SHIPPING },
		{ "envían por correo", BUSINESS_SHIPPING },
		{ "cuanto sale el envío?", BUSINESS_SHIPPING },
		{ "tienen garantía?", BUSINESS_WARRANTY },
		{ "página web", BUSINESS_WEB },
		{ "tienen web?", BUSINESS_WEB },
		{ "teléfono", BUSINESS_PHONE },
		{ "puedo retirar?", BUSINESS_PICKUP },
		{ "lo puedo pasar a buscar?", BUSINESS_PICKUP },
		{ "facturan A?", BUSINESS_INVOICING },
		{ "trabajan el sabado?", BUSINESS_HOURS },
		{ "me lo mandan a Funes?", BUSINESS_SHIPPING },
		{ "cual es su direccion de mail?", BUSINESS_EMAIL },
	};
	static const char *const no[] = {
		"cable interior", "camara exterior", "tenes fuente 12v?",
		"dvr 8 canales", "busco camara wifi", "domo 4mp hikvision",
		"tarjeta de proximidad rfid", "lector de tarjetas",
		"tarjeta micro sd 64gb", "camara web", "camara con direccion ip",
		"mandame el presupuesto por mail", "hola", "gracias",
		"precio del kit de alarma", "portero con telefono",
		"cuanto debo?", "pasame la lista", "cable utp exterior 305m",
		"disco de 2 teras", "sensor magnetico abierto cerrado",
		"trabajan con hikvision?", "me lo mandan por mail?",
		"hasta cuando vale el presupuesto?",
	};
	enum business_topic t[BUSINESS_TOPICS];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		int got = topic_of(yes[i].text);

		if (got != yes[i].topic)
			fprintf(stderr, "  \"%s\": %d, want %d\n", yes[i].text,
			    got, yes[i].topic);
		CHECK_INT(got, yes[i].topic);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		int got = topic_of(no[i]);

		if (got != -1)
			fprintf(stderr, "  \"%s\": %d, want none\n", no[i], got);
		CHECK_INT(got, -1);
	}
	/* Several questions in one message: each topic once, in order. */
	CHECK(business_question("Hola! donde estan y hasta que hora abren? "
	    "aceptan tarjeta? hacen envios?", t, BUSINESS_TOPICS, &n));
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_INT(t[0], BUSINESS_HOURS);
		CHECK_INT(t[1], BUSINESS_ADDRESS);
		CHECK_INT(t[2], BUSINESS_PAYMENT);
		CHECK_INT(t[3], BUSINESS_SHIPPING);
	}
	/* At most max. */
	CHECK(business_question("donde estan y hasta que hora abren?", t, 1,
	    &n));
	CHECK_INT(n, 1);
	CHECK(!business_question(NULL, t, BUSINESS_TOPICS, &n));
	CHECK_INT(n, 0);
}

int
main(void)
{
	log_init("test_business");
	log_set_level(LOG_ERROR);
	unsetenv("OVIDIO_CONFIG");
	setenv("TZ", "America/Argentina/Cordoba", 1);
	tzset();

	RUN(test_parse);
	RUN(test_malformed);
	RUN(test_load);
	RUN(test_hours_text);
	RUN(test_open_and_next);
	RUN(test_day_text);
	RUN(test_topic_names);
	RUN(test_questions);
	return check_finish();
}
