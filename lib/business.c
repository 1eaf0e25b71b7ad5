/*
 * business.c - the business facts file, its answers, opening hours and
 * the phrases that ask for them (see business.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "business.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "rules.h"
#include "utf8.h"

#define DAYS 7                      /* 0 = lunes .. 6 = domingo */
#define NEXT_OPEN_DAYS 366

/* Free-text facts, one per key. */
enum business_field {
	F_NOMBRE = 0, F_DIRECCION, F_MAPA, F_PAGOS, F_ENVIOS, F_GARANTIA,
	F_WEB, F_TELEFONO, F_EMAIL, F_RETIRO, F_FACTURACION, F_COUNT
};

struct span {
	int from, to;                   /* minutes after midnight, from < to */
};

struct business {
	char *field[F_COUNT];           /* NULL when not given */
	bool has_hours;
	size_t nspans[DAYS];
	struct span spans[DAYS][BUSINESS_SPANS_MAX];
	bool day_given[DAYS];
	size_t nholidays;
	int holiday[BUSINESS_HOLIDAYS_MAX];  /* yyyymmdd */
	bool holidays_given;
};

/* ---- names ------------------------------------------------------------------ */

static const char *const topic_names[BUSINESS_TOPICS] = {
	[BUSINESS_HOURS] = "horario",
	[BUSINESS_ADDRESS] = "direccion",
	[BUSINESS_PAYMENT] = "pagos",
	[BUSINESS_SHIPPING] = "envios",
	[BUSINESS_WARRANTY] = "garantia",
	[BUSINESS_WEB] = "web",
	[BUSINESS_PHONE] = "telefono",
	[BUSINESS_PICKUP] = "retiro",
	[BUSINESS_EMAIL] = "email",
	[BUSINESS_INVOICING] = "facturacion",
};

/* The field that answers each free-text topic (hours have their own). */
static const enum business_field topic_field[BUSINESS_TOPICS] = {
	[BUSINESS_HOURS] = F_COUNT,
	[BUSINESS_ADDRESS] = F_DIRECCION,
	[BUSINESS_PAYMENT] = F_PAGOS,
	[BUSINESS_SHIPPING] = F_ENVIOS,
	[BUSINESS_WARRANTY] = F_GARANTIA,
	[BUSINESS_WEB] = F_WEB,
	[BUSINESS_PHONE] = F_TELEFONO,
	[BUSINESS_PICKUP] = F_RETIRO,
	[BUSINESS_EMAIL] = F_EMAIL,
	[BUSINESS_INVOICING] = F_FACTURACION,
};

static const char *const day_keys[DAYS] = {
	"horario_lunes", "horario_martes", "horario_miercoles",
	"horario_jueves", "horario_viernes", "horario_sabado",
	"horario_domingo",
};

/* Singular (one day, "el lunes") and plural ("los sábados"). */
static const char *const day_one[DAYS] = {
	"lunes", "martes", "miércoles", "jueves", "viernes", "sábado",
	"domingo",
};
static const char *const day_many[DAYS] = {
	"lunes", "martes", "miércoles", "jueves", "viernes", "sábados",
	"domingos",
};

/* Keys of the file that hold free text. */
static const struct {
	const char *key;
	enum business_field field;
} field_keys[] = {
	{ "nombre", F_NOMBRE }, { "direccion", F_DIRECCION },
	{ "mapa", F_MAPA }, { "pagos", F_PAGOS }, { "envios", F_ENVIOS },
	{ "garantia", F_GARANTIA }, { "web", F_WEB },
	{ "telefono", F_TELEFONO }, { "email", F_EMAIL },
	{ "retiro", F_RETIRO }, { "facturacion", F_FACTURACION },
};

#define NFIELD_KEYS (sizeof(field_keys) / sizeof(field_keys[0]))

const char *
business_topic_name(enum business_topic t)
{
	if ((int)t < 0 || t >= BUSINESS_TOPICS)
		return "";
	return topic_names[t];
}

int
business_topic_parse(const char *name, enum business_topic *out)
{
	char folded[64];

	if (name == NULL || strlen(name) >= sizeof(folded))
		return OV_EINVAL;
	rules_fold(name, folded, sizeof(folded));
	for (int t = 0; t < BUSINESS_TOPICS; t++)
		if (strcmp(folded, topic_names[t]) == 0) {
			*out = (enum business_topic)t;
			return OV_OK;
		}
	return OV_EINVAL;
}

/* ---- a bounded text buffer ---------------------------------------------------- */

struct out {
	char *p;
	size_t len, cap;
	bool over;
};

static void
out_init(struct out *o, char *buf, size_t cap)
{
	o->p = buf;
	o->len = 0;
	o->cap = cap;
	o->over = cap == 0;
	if (cap > 0)
		buf[0] = '\0';
}

static void
out_printf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->over = true;
		o->p[0] = '\0';
		return;
	}
	o->len += (size_t)n;
}

static int
out_done(struct out *o)
{
	if (o->over) {
		if (o->cap > 0)
			o->p[0] = '\0';
		return OV_ETOOBIG;
	}
	return OV_OK;
}

/* ---- parsing -------------------------------------------------------------------- */

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* "H", "HH", "H:MM" or "HH:MM" at *s into minutes; 24:00 is the end of
 * the day. Advances *s. */
static bool
parse_clock(const char **s, int *minutes)
{
	const char *p = *s;
	int h = 0, m = 0, nd = 0;

	while (*p == ' ')
		p++;
	while (*p >= '0' && *p <= '9' && nd < 2) {
		h = h * 10 + (*p++ - '0');
		nd++;
	}
	if (nd == 0)
		return false;
	if (*p == ':') {
		p++;
		if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9'))
			return false;
		m = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
	}
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return false;
	while (*p == ' ')
		p++;
	*minutes = h * 60 + m;
	*s = p;
	return true;
}

/* "8:30-12:30,14:00-18:00" or "cerrado" into the spans of one day. */
static bool
parse_day(const char *v, struct span *spans, size_t *n)
{
	const char *p = v;
	char folded[32];

	*n = 0;
	if (strlen(v) < sizeof(folded)) {
		rules_fold(v, folded, sizeof(folded));
		if (strcmp(folded, "cerrado") == 0)
			return true;
	}
	for (;;) {
		struct span sp;

		if (*n == BUSINESS_SPANS_MAX || !parse_clock(&p, &sp.from) ||
		    *p++ != '-' || !parse_clock(&p, &sp.to) || sp.from >= sp.to)
			return false;
		if (*n > 0 && sp.from < spans[*n - 1].to)
			return false;    /* in order, not overlapping */
		spans[(*n)++] = sp;
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			return false;
	}
}

static bool
is_leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* "2026-12-08, 2026-12-25" (commas and/or spaces). */
static bool
parse_holidays(const char *v, struct business *b)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	const char *p = v;

	for (;;) {
		int y = 0, m = 0, d = 0;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			return true;
		for (int i = 0; i < 10; i++) {
			bool dash = i == 4 || i == 7;

			if (dash ? p[i] != '-' : !(p[i] >= '0' && p[i] <= '9'))
				return false;
		}
		y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 +
		    (p[2] - '0') * 10 + (p[3] - '0');
		m = (p[5] - '0') * 10 + (p[6] - '0');
		d = (p[8] - '0') * 10 + (p[9] - '0');
		if (y < 2000 || y > 2200 || m < 1 || m > 12 || d < 1 ||
		    d > mdays[m - 1] || (m == 2 && d == 29 && !is_leap(y)))
			return false;
		if (p[10] != '\0' && p[10] != ',' && p[10] != ' ')
			return false;
		if (b->nholidays == BUSINESS_HOLIDAYS_MAX)
			return false;
		b->holiday[b->nholidays++] = y * 10000 + m * 100 + d;
		p += 10;
	}
}

static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool
is_url(const char *v)
{
	return (strncmp(v, "https://", 8) == 0 && v[8] != '\0') ||
	    (strncmp(v, "http://", 7) == 0 && v[7] != '\0');
}

/* One KEY=VALUE line (trimmed, not a comment) into b. */
static int
parse_line(struct business *b, char *line, const char *name, int lineno,
    char *err, size_t errlen)
{
	char *eq = strchr(line, '='), *key, *val;
	size_t n;

	if (eq == NULL) {
		snprintf(err, errlen, "%s:%d: expected clave=valor", name,
		    lineno);
		return OV_EPARSE;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	n = strlen(val);
	if (n >= 2 && (val[0] == '"' || val[0] == '\'') &&
	    val[n - 1] == val[0]) {
		val[n - 1] = '\0';
		val++;
		n -= 2;
	}
	if (n > BUSINESS_VALUE_MAX) {
		snprintf(err, errlen, "%s:%d: %.40s: value over %d bytes", name,
		    lineno, key, BUSINESS_VALUE_MAX);
		return OV_EPARSE;
	}
	if (has_control(val)) {
		snprintf(err, errlen, "%s:%d: %.40s: control character in the "
		    "value", name, lineno, key);
		return OV_EPARSE;
	}
	for (size_t i = 0; i < NFIELD_KEYS; i++) {
		enum business_field f = field_keys[i].field;

		if (strcmp(key, field_keys[i].key) != 0)
			continue;
		if (b->field[f] != NULL) {
			snprintf(err, errlen, "%s:%d: %s given twice", name,
			    lineno, key);
			return OV_EPARSE;
		}
		if (f == F_MAPA && n > 0 && !is_url(val)) {
			snprintf(err, errlen, "%s:%d: mapa must be an http(s) "
			    "link", name, lineno);
			return OV_EPARSE;
		}
		if ((b->field[f] = strdup(val)) == NULL) {
			snprintf(err, errlen, "out of memory reading %s", name);
			return OV_ENOMEM;
		}
		return OV_OK;
	}
	for (int d = 0; d < DAYS; d++) {
		if (strcmp(key, day_keys[d]) != 0)
			continue;
		if (b->day_given[d]) {
			snprintf(err, errlen, "%s:%d: %s given twice", name,
			    lineno, key);
			return OV_EPARSE;
		}
		if (!parse_day(val, b->spans[d], &b->nspans[d])) {
			snprintf(err, errlen, "%s:%d: %s: expected hours like "
			    "8:30-12:30,14:00-18:00 or cerrado", name, lineno,
			    key);
			return OV_EPARSE;
		}
		b->day_given[d] = true;
		b->has_hours = true;
		return OV_OK;
	}
	if (strcmp(key, "feriados") == 0) {
		if (b->holidays_given || !parse_holidays(val, b)) {
			snprintf(err, errlen, "%s:%d: feriados: expected dates "
			    "like 2026-12-08, 2026-12-25 (at most %d), once",
			    name, lineno, BUSINESS_HOLIDAYS_MAX);
			return OV_EPARSE;
		}
		b->holidays_given = true;
		return OV_OK;
	}
	snprintf(err, errlen, "%s:%d: unknown key \"%.40s\"", name, lineno, key);
	return OV_EPARSE;
}

void
business_free(struct business *b)
{
	if (b == NULL)
		return;
	for (int f = 0; f < F_COUNT; f++)
		free(b->field[f]);
	free(b);
}

int
business_parse(const char *text, size_t len, const char *name,
    struct business **out, char *err, size_t errlen)
{
	struct business *b;
	char *copy = NULL, *line, *next;
	int lineno = 0, rc = OV_OK;

	*out = NULL;
	if (text == NULL || name == NULL)
		return OV_EINVAL;
	if (len > BUSINESS_FILE_MAX) {
		snprintf(err, errlen, "%s: over %d bytes", name,
		    BUSINESS_FILE_MAX);
		return OV_ETOOBIG;
	}
	if (memchr(text, '\0', len) != NULL || !utf8_valid(text, len)) {
		snprintf(err, errlen, "%s: not UTF-8 text", name);
		return OV_EPARSE;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (copy = malloc(len + 1)) == NULL) {
		free(b);
		snprintf(err, errlen, "out of memory reading %s", name);
		return OV_ENOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = copy; line != NULL; line = next) {
		char *p;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((rc = parse_line(b, p, name, lineno, err, errlen)) != OV_OK)
			goto out;
	}
	/* A day the file leaves out stays closed (no spans). */
out:
	free(copy);
	if (rc != OV_OK) {
		business_free(b);
		return rc;
	}
	*out = b;
	return OV_OK;
}

int
business_load(const struct config *cfg, struct business **out, char *err,
    size_t errlen)
{
	const char *path = config_get(cfg, "BUSINESS_INFO");
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	*out = NULL;
	if (path == NULL) {
		log_warn("BUSINESS_INFO is not set: questions about the "
		    "business go to a person");
		return OV_OK;
	}
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT) {
			log_warn("BUSINESS_INFO %s: no such file: questions "
			    "about the business go to a person", path);
			return OV_OK;
		}
		snprintf(err, errlen, "cannot read BUSINESS_INFO %s: %s", path,
		    strerror(errno));
		return OV_EIO;
	}
	if ((text = malloc(BUSINESS_FILE_MAX + 1)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory reading %s", path);
		return OV_ENOMEM;
	}
	len = fread(text, 1, BUSINESS_FILE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read BUSINESS_INFO %s", path);
		rc = OV_EIO;
	} else {
		rc = business_parse(text, len, path, out, err, errlen);
	}
	fclose(f);
	free(text);
	return rc;
}

/* ---- what it knows ---------------------------------------------------------------- */

bool
business_has(const struct business *b, enum business_topic t)
{
	enum business_field f;

	if (b == NULL || (int)t < 0 || t >= BUSINESS_TOPICS)
		return false;
	if (t == BUSINESS_HOURS)
		return b->has_hours;
	f = topic_field[t];
	return b->field[f] != NULL && b->field[f][0] != '\0';
}

const char *
business_name(const struct business *b)
{
	return b != NULL && b->field[F_NOMBRE] != NULL ? b->field[F_NOMBRE] :
	    "";
}

/* "8:30", "14" (a whole hour without minutes). */
static void
out_clock(struct out *o, int minutes)
{
	if (minutes % 60 == 0)
		out_printf(o, "%d", minutes / 60);
	else
		out_printf(o, "%d:%02d", minutes / 60, minutes % 60);
}

/* "de 8:30 a 12:30 y de 14 a 18", or "cerrado". */
static void
out_spans(struct out *o, const struct span *sp, size_t n)
{
	if (n == 0) {
		out_printf(o, "cerrado");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		out_printf(o, "%s", i == 0 ? "de " : i + 1 == n ? " y de " :
		    ", de ");
		out_clock(o, sp[i].from);
		out_printf(o, " a ");
		out_clock(o, sp[i].to);
	}
}

static bool
same_day(const struct business *b, int d1, int d2)
{
	if (b->nspans[d1] != b->nspans[d2])
		return false;
	for (size_t i = 0; i < b->nspans[d1]; i++)
		if (b->spans[d1][i].from != b->spans[d2][i].from ||
		    b->spans[d1][i].to != b->spans[d2][i].to)
			return false;
	return true;
}

static void
out_week(struct out *o, const struct business *b)
{
	int d = 0;

	while (d < DAYS) {
		int e = d;

		while (e + 1 < DAYS && same_day(b, d, e + 1))
			e++;
		if (d > 0)
			out_printf(o, ", ");
		if (e == d)
			out_printf(o, "%s ", day_many[d]);
		else if (e == d + 1)
			out_printf(o, "%s y %s ", day_many[d], day_many[e]);
		else
			out_printf(o, "%s a %s ", day_one[d], day_one[e]);
		out_spans(o, b->spans[d], b->nspans[d]);
		d = e + 1;
	}
}

int
business_hours_text(const struct business *b, char *buf, size_t len)
{
	struct out o;

	if (!business_has(b, BUSINESS_HOURS))
		return OV_ENOTFOUND;
	out_init(&o, buf, len);
	out_week(&o, b);
	return out_done(&o);
}

int
business_answer(const struct business *b, enum business_topic t, char *buf,
    size_t len)
{
	struct out o;
	const char *v;

	if (!business_has(b, t))
		return OV_ENOTFOUND;
	out_init(&o, buf, len);
	v = t == BUSINESS_HOURS ? NULL : b->field[topic_field[t]];
	switch (t) {
	case BUSINESS_HOURS:
		out_printf(&o, "Atendemos ");
		out_week(&o, b);
		out_printf(&o, ".");
		break;
	case BUSINESS_ADDRESS:
		out_printf(&o, "Estamos en %s.", v);
		if (b->field[F_MAPA] != NULL && b->field[F_MAPA][0] != '\0')
			out_printf(&o, " Te dejo el mapa: %s", b->field[F_MAPA]);
		break;
	case BUSINESS_WEB:
		out_printf(&o, "Nuestra página es %s", v);
		break;
	case BUSINESS_PHONE:
		out_printf(&o, "Nuestro teléfono es %s", v);
		break;
	case BUSINESS_EMAIL:
		out_printf(&o, "Nuestro mail es %s", v);
		break;
	default:
		out_printf(&o, "%s", v);
		break;
	}
	return out_done(&o);
}

/* ---- time ---------------------------------------------------------------------------- */

/* The local calendar day of now shifted by days_ahead, at noon (away
 * from any DST change), normalised; false when the libc refuses. */
static bool
local_day(int64_t now, int days_ahead, struct tm *tm)
{
	time_t t = (time_t)now;
	struct tm day;

	if (localtime_r(&t, &day) == NULL)
		return false;
	day.tm_mday += days_ahead;
	day.tm_hour = 12;
	day.tm_min = day.tm_sec = 0;
	day.tm_isdst = -1;
	if (mktime(&day) == (time_t)-1)
		return false;
	*tm = day;
	return true;
}

static int
weekday(const struct tm *tm)
{
	return (tm->tm_wday + 6) % 7;    /* lunes 0 */
}

static bool
is_holiday(const struct business *b, const struct tm *tm)
{
	int ymd = (tm->tm_year + 1900) * 10000 + (tm->tm_mon + 1) * 100 +
	    tm->tm_mday;

	for (size_t i = 0; i < b->nholidays; i++)
		if (b->holiday[i] == ymd)
			return true;
	return false;
}

/* Unix time of minutes after midnight on the local day tm. */
static int64_t
at_minutes(const struct tm *day, int minutes)
{
	struct tm tm = *day;

	tm.tm_hour = minutes / 60;
	tm.tm_min = minutes % 60;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

bool
business_is_open(const struct business *b, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	int d, m;

	if (b == NULL || !b->has_hours || localtime_r(&tt, &tm) == NULL ||
	    is_holiday(b, &tm))
		return false;
	d = weekday(&tm);
	m = tm.tm_hour * 60 + tm.tm_min;
	for (size_t i = 0; i < b->nspans[d]; i++)
		if (m >= b->spans[d][i].from && m < b->spans[d][i].to)
			return true;
	return false;
}

/* The next opening: *at and how many local days after now's day. */
static int
next_open(const struct business *b, int64_t now, int64_t *at, int *days)
{
	if (b == NULL || !b->has_hours)
		return OV_ENOTFOUND;
	if (business_is_open(b, now)) {
		*at = now;
		*days = 0;
		return OV_OK;
	}
	for (int k = 0; k <= NEXT_OPEN_DAYS; k++) {
		struct tm day;
		int d;

		if (!local_day(now, k, &day))
			return OV_EINVAL;
		if (is_holiday(b, &day))
			continue;
		d = weekday(&day);
		for (size_t i = 0; i < b->nspans[d]; i++) {
			int64_t t = at_minutes(&day, b->spans[d][i].from);

			if (t >= now) {
				*at = t;
				*days = k;
				return OV_OK;
			}
		}
	}
	return OV_ENOTFOUND;
}

int
business_next_open(const struct business *b, int64_t now, int64_t *at)
{
	int days;

	return next_open(b, now, at, &days);
}

/* "hoy", "mañana", "el lunes", "el lunes 12/1". */
static void
out_day_ref(struct out *o, const struct tm *day, int days)
{
	if (days == 0)
		out_printf(o, "hoy");
	else if (days == 1)
		out_printf(o, "mañana");
	else if (days < 7)
		out_printf(o, "el %s", day_one[weekday(day)]);
	else
		out_printf(o, "el %s %d/%d", day_one[weekday(day)], day->tm_mday,
		    day->tm_mon + 1);
}

int
business_next_open_text(const struct business *b, int64_t now, char *buf,
    size_t len)
{
	struct out o;
	struct tm tm;
	time_t tt;
	int64_t at;
	int days, rc;

	if ((rc = next_open(b, now, &at, &days)) != OV_OK)
		return rc;
	tt = (time_t)at;
	if (localtime_r(&tt, &tm) == NULL)
		return OV_EINVAL;
	out_init(&o, buf, len);
	out_day_ref(&o, &tm, days);
	out_printf(&o, tm.tm_hour == 1 ? " a la " : " a las ");
	out_clock(&o, tm.tm_hour * 60 + tm.tm_min);
	return out_done(&o);
}

int
business_handoff_text(const struct business *b, int64_t now, char *buf,
    size_t len)
{
	char when[64];
	struct out o;
	int rc;

	if (b == NULL || !b->has_hours)
		return OV_ENOTFOUND;
	out_init(&o, buf, len);
	if (business_is_open(b, now))
		return out_done(&o);
	if ((rc = business_next_open_text(b, now, when, sizeof(when))) != OV_OK)
		return rc;
	out_printf(&o, "Ahora estamos cerrados; te responde una persona %s.",
	    when);
	return out_done(&o);
}

int
business_day_text(const struct business *b, int64_t now, int days_ahead,
    char *buf, size_t len)
{
	struct out o;
	struct tm day;
	int d;

	if (b == NULL || !b->has_hours)
		return OV_ENOTFOUND;
	if (days_ahead < 0 || days_ahead > NEXT_OPEN_DAYS)
		return OV_EINVAL;
	if (!local_day(now, days_ahead, &day))
		return OV_EINVAL;
	d = weekday(&day);
	out_init(&o, buf, len);
	if (days_ahead == 0)
		out_printf(&o, "Hoy");
	else if (days_ahead == 1)
		out_printf(&o, "Mañana (%s)", day_one[d]);
	else if (days_ahead < 7)
		out_printf(&o, "El %s", day_one[d]);
	else
		out_printf(&o, "El %s %d/%d", day_one[d], day.tm_mday,
		    day.tm_mon + 1);
	if (is_holiday(b, &day)) {
		if (days_ahead < 7 && days_ahead > 1)
			out_printf(&o, " %d/%d", day.tm_mday, day.tm_mon + 1);
		out_printf(&o, " es feriado: no abrimos.");
	} else if (b->nspans[d] == 0) {
		out_printf(&o, " no abrimos.");
	} else {
		out_printf(&o, " abrimos ");
		out_spans(&o, b->spans[d], b->nspans[d]);
		out_printf(&o, ".");
	}
	return out_done(&o);
}

/* ---- reading the customer ------------------------------------------------------------- */

/*
 * A phrase matches folded text at word boundaries; a trailing '*' lets
 * the last word go on ("horario*": horario, horarios). A phrase with an
 * "unless" list is dropped when any of those words is in the text too:
 * "tarjeta" is a payment, "tarjeta de proximidad" a product.
 */
struct phrase {
	enum business_topic topic;
	const char *text;
	const char *unless;         /* space-separated words, or NULL */
};

/* What is sent by mail or chat, not by a carrier. */
#define NOT_SENT_WORDS "mail email whatsapp presupuesto cotizacion factura " \
	"lista foto fotos"

#define ACCESS_WORDS "rfid proximidad acceso mifare lector cerradura " \
	"sd microsd memoria red video captura"

static const struct phrase phrases[] = {
	/* horario */
	{ BUSINESS_HOURS, "horario*", NULL },
	{ BUSINESS_HOURS, "a que hora", NULL },
	{ BUSINESS_HOURS, "a q hora", NULL },
	{ BUSINESS_HOURS, "a que horas", NULL },
	{ BUSINESS_HOURS, "hasta que hora*", NULL },
	{ BUSINESS_HOURS, "hasta q hora*", NULL },
	{ BUSINESS_HOURS, "que hora abr*", NULL },
	{ BUSINESS_HOURS, "que hora cierr*", NULL },
	{ BUSINESS_HOURS, "abren", NULL },
	{ BUSINESS_HOURS, "abris", NULL },
	{ BUSINESS_HOURS, "cierran", NULL },
	{ BUSINESS_HOURS, "cerras", NULL },
	{ BUSINESS_HOURS, "abierto*", "circuito contacto sensor magnetico "
	    "normalmente" },
	{ BUSINESS_HOURS, "atienden", NULL },
	{ BUSINESS_HOURS, "atendes", NULL },
	{ BUSINESS_HOURS, "trabajan hoy", NULL },
	{ BUSINESS_HOURS, "trabajan manana", NULL },
	{ BUSINESS_HOURS, "trabajan el sabado", NULL },
	{ BUSINESS_HOURS, "trabajan los sabados", NULL },
	{ BUSINESS_HOURS, "trabajan el domingo", NULL },
	{ BUSINESS_HOURS, "trabajan los domingos", NULL },
	{ BUSINESS_HOURS, "feriado*", NULL },
	/* direccion */
	{ BUSINESS_ADDRESS, "donde estan", NULL },
	{ BUSINESS_ADDRESS, "donde quedan", NULL },
	{ BUSINESS_ADDRESS, "donde queda", NULL },
	{ BUSINESS_ADDRESS, "donde se encuentran", NULL },
	{ BUSINESS_ADDRESS, "donde los encuentro", NULL },
	{ BUSINESS_ADDRESS, "donde es el local", NULL },
	{ BUSINESS_ADDRESS, "direccion", "ip mac mail email correo" },
	{ BUSINESS_ADDRESS, "ubicacion", "gps" },
	{ BUSINESS_ADDRESS, "ubicados", NULL },
	{ BUSINESS_ADDRESS, "como llego", NULL },
	{ BUSINESS_ADDRESS, "como llegar", NULL },
	{ BUSINESS_ADDRESS, "como hago para llegar", NULL },
	{ BUSINESS_ADDRESS, "tienen local", NULL },
	{ BUSINESS_ADDRESS, "el local", "grabacion almacenamiento" },
	{ BUSINESS_ADDRESS, "mapa", NULL },
	/* pagos */
	{ BUSINESS_PAYMENT, "forma* de pago", NULL },
	{ BUSINESS_PAYMENT, "medio* de pago", NULL },
	{ BUSINESS_PAYMENT, "mercadopago", NULL },
	{ BUSINESS_PAYMENT, "mercado pago", NULL },
	{ BUSINESS_PAYMENT, "tarjeta*", ACCESS_WORDS },
	{ BUSINESS_PAYMENT, "transferencia*", NULL },
	{ BUSINESS_PAYMENT, "transferir", NULL },
	{ BUSINESS_PAYMENT, "transfiero", NULL },
	{ BUSINESS_PAYMENT, "efectivo", "alcance" },
	{ BUSINESS_PAYMENT, "cuotas", NULL },
	{ BUSINESS_PAYMENT, "debito", NULL },
	{ BUSINESS_PAYMENT, "credito", "nota saldo" },
	{ BUSINESS_PAYMENT, "cheque*", NULL },
	{ BUSINESS_PAYMENT, "echeq*", NULL },
	{ BUSINESS_PAYMENT, "como pago", NULL },
	{ BUSINESS_PAYMENT, "como se paga", NULL },
	{ BUSINESS_PAYMENT, "como te pago", NULL },
	{ BUSINESS_PAYMENT, "como les pago", NULL },
	{ BUSINESS_PAYMENT, "puedo pagar", NULL },
	{ BUSINESS_PAYMENT, "pagar con", NULL },
	{ BUSINESS_PAYMENT, "pago con", NULL },
	/* envios */
	{ BUSINESS_SHIPPING, "envio*", NULL },
	{ BUSINESS_SHIPPING, "envian", NULL },
	{ BUSINESS_SHIPPING, "envias", NULL },
	{ BUSINESS_SHIPPING, "mandan a", NOT_SENT_WORDS },
	{ BUSINESS_SHIPPING, "mandas a", NOT_SENT_WORDS },
	{ BUSINESS_SHIPPING, "lo mandan", NOT_SENT_WORDS },
	{ BUSINESS_SHIPPING, "la mandan", NOT_SENT_WORDS },
	{ BUSINESS_SHIPPING, "los mandan", NOT_SENT_WORDS },
	{ BUSINESS_SHIPPING, "despachan", NULL },
	{ BUSINESS_SHIPPING, "por correo", "electronico" },
	{ BUSINESS_SHIPPING, "andreani", NULL },
	{ BUSINESS_SHIPPING, "via cargo", NULL },
	{ BUSINESS_SHIPPING, "viacargo", NULL },
	{ BUSINESS_SHIPPING, "encomienda*", NULL },
	{ BUSINESS_SHIPPING, "flete*", NULL },
	{ BUSINESS_SHIPPING, "entregan en", NULL },
	{ BUSINESS_SHIPPING, "entregan a domicilio", NULL },
	{ BUSINESS_SHIPPING, "reparto", NULL },
	{ BUSINESS_SHIPPING, "delivery", NULL },
	/* garantia */
	{ BUSINESS_WARRANTY, "garantia*", NULL },
	{ BUSINESS_WARRANTY, "servicio tecnico", NULL },
	{ BUSINESS_WARRANTY, "si falla", NULL },
	{ BUSINESS_WARRANTY, "si se rompe", NULL },
	{ BUSINESS_WARRANTY, "devolucion*", NULL },
	/* web */
	{ BUSINESS_WEB, "pagina web", NULL },
	{ BUSINESS_WEB, "pagina", "web" },   /* "pagina web" says it */
	{ BUSINESS_WEB, "sitio web", NULL },
	{ BUSINESS_WEB, "web", "camara webcam interfaz navegador acceso "
	    "configuracion pagina sitio" },
	{ BUSINESS_WEB, "tienda online", NULL },
	{ BUSINESS_WEB, "catalogo online", NULL },
	/* telefono */
	{ BUSINESS_PHONE, "telefono*", "portero linea comunicador gsm "
	    "modulo alarma" },
	{ BUSINESS_PHONE, "un numero para llamar", NULL },
	{ BUSINESS_PHONE, "los puedo llamar", NULL },
	{ BUSINESS_PHONE, "puedo llamar", NULL },
	{ BUSINESS_PHONE, "numero fijo", NULL },
	/* retiro */
	{ BUSINESS_PICKUP, "retirar*", NULL },
	{ BUSINESS_PICKUP, "retiro", NULL },
	{ BUSINESS_PICKUP, "retira", NULL },
	{ BUSINESS_PICKUP, "retiramos", NULL },
	{ BUSINESS_PICKUP, "retiralo", NULL },
	{ BUSINESS_PICKUP, "pasar a buscar*", NULL },
	{ BUSINESS_PICKUP, "paso a buscar*", NULL },
	{ BUSINESS_PICKUP, "pasa a buscar*", NULL },
	{ BUSINESS_PICKUP, "pasamos a buscar*", NULL },
	{ BUSINESS_PICKUP, "ir a buscar*", NULL },
	{ BUSINESS_PICKUP, "voy a buscar*", NULL },
	{ BUSINESS_PICKUP, "buscarlo", NULL },
	{ BUSINESS_PICKUP, "buscarla", NULL },
	{ BUSINESS_PICKUP, "buscarlos", NULL },
	/* email */
	{ BUSINESS_EMAIL, "su mail", NULL },
	{ BUSINESS_EMAIL, "direccion de mail", NULL },
	{ BUSINESS_EMAIL, "direccion de correo", NULL },
	{ BUSINESS_EMAIL, "tu mail", NULL },
	{ BUSINESS_EMAIL, "el mail", "mandame enviame pasame mandar enviar "
	    "presupuesto cotizacion factura" },
	{ BUSINESS_EMAIL, "un mail", "mandame enviame pasame presupuesto "
	    "cotizacion factura" },
	{ BUSINESS_EMAIL, "correo electronico", "mandame enviame pasame "
	    "presupuesto cotizacion factura" },
	{ BUSINESS_EMAIL, "email", "mandame enviame pasame presupuesto "
	    "cotizacion factura mi" },
	/* facturacion */
	{ BUSINESS_INVOICING, "facturan", NULL },
	{ BUSINESS_INVOICING, "facturas a", NULL },
	{ BUSINESS_INVOICING, "hacen factura*", NULL },
	{ BUSINESS_INVOICING, "dan factura*", NULL },
	{ BUSINESS_INVOICING, "factura a", NULL },
	{ BUSINESS_INVOICING, "factura b", NULL },
	{ BUSINESS_INVOICING, "facturacion", NULL },
};

#define NPHRASES (sizeof(phrases) / sizeof(phrases[0]))

static bool
is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    (unsigned char)c >= 0x80;
}

/* Does phrase p (plen bytes, maybe ending in '*') occur in text at word
 * boundaries? Inside a phrase, '*' after a word lets that word go on. */
static bool
phrase_at(const char *text, const char *p)
{
	const char *t = text;
	size_t plen = strlen(p);

	for (const char *s = t; *s != '\0'; s++) {
		const char *a = s, *q = p;

		if (s > t && is_word_char(s[-1]))
			continue;
		while (*q != '\0') {
			if (*q == '*') {
				while (is_word_char(*a))
					a++;
				q++;
				continue;
			}
			if (*q == ' ') {
				/* One or more separators. */
				if (is_word_char(*a))
					break;
				while (*a != '\0' && !is_word_char(*a))
					a++;
				q++;
				continue;
			}
			if (*a != *q)
				break;
			a++;
			q++;
		}
		if (*q == '\0' && (plen > 0) && !is_word_char(*a))
			return true;
	}
	return false;
}

/* Any word of the space-separated list in text. */
static bool
any_word(const char *text, const char *list)
{
	char w[48];

	while (list != NULL && *list != '\0') {
		size_t n = strcspn(list, " ");

		if (n > 0 && n < sizeof(w)) {
			memcpy(w, list, n);
			w[n] = '\0';
			if (phrase_at(text, w))
				return true;
		}
		list += n;
		while (*list == ' ')
			list++;
	}
	return false;
}

bool
business_question(const char *text, enum business_topic *topics, size_t max,
    size_t *n)
{
	char folded[RULES_TEXT_MAX + 1];
	bool seen[BUSINESS_TOPICS] = { false };
	bool any = false;

	*n = 0;
	if (text == NULL)
		return false;
	rules_fold(text, folded, sizeof(folded));
	for (size_t i = 0; i < NPHRASES; i++) {
		const struct phrase *ph = &phrases[i];

		if (seen[ph->topic] || !phrase_at(folded, ph->text) ||
		    any_word(folded, ph->unless))
			continue;
		seen[ph->topic] = true;
		any = true;
	}
	for (int t = 0; t < BUSINESS_TOPICS && *n < max; t++)
		if (seen[t])
			topics[(*n)++] = (enum business_topic)t;
	return any;
}

/* Days from now's weekday to the weekday named, 0..6. */
static const struct {
	const char *word;
	int day;                 /* lunes 0; -1: "hoy", -2: "mañana" ... */
} day_words[] = {
	{ "pasado manana", -3 }, { "hoy", -1 }, { "manana", -2 },
	{ "lunes", 0 }, { "martes", 1 }, { "miercoles", 2 }, { "jueves", 3 },
	{ "viernes", 4 }, { "sabado*", 5 }, { "domingo*", 6 },
	{ "finde", 5 }, { "fin de semana", 5 },
};

int
business_question_day(const char *text, int64_t now)
{
	char folded[RULES_TEXT_MAX + 1];
	struct tm today;

	if (text == NULL)
		return -1;
	rules_fold(text, folded, sizeof(folded));
	for (size_t i = 0; i < sizeof(day_words) / sizeof(day_words[0]); i++) {
		if (!phrase_at(folded, day_words[i].word))
			continue;
		if (day_words[i].day == -2) {
			/* "a la mañana", "por la mañana" is a time of day. */
			const char *s = folded;
			bool tomorrow = false;

			while ((s = strstr(s, "manana")) != NULL) {
				if (!(s >= folded + 3 && strncmp(s - 3, "la ",
				    3) == 0))
					tomorrow = true;
				s += 6;
			}
			if (!tomorrow)
				continue;
			return 1;
		}
		if (day_words[i].day == -1)
			return 0;
		if (day_words[i].day == -3)
			return 2;
		if (!local_day(now, 0, &today))
			return -1;
		return (day_words[i].day - weekday(&today) + 7) % 7;
	}
	return -1;
}
