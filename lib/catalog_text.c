/*
 * catalog_text.c - folding, plurals, synonyms, units and code fragments for
 * product search (see catalog_text.h). The vocabulary is data, in
 * catalog_words.def; it is normalised with the same rules as the text it
 * meets, once, on first use.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_text.h"
#include "err.h"
#include "utf8.h"

#define FIELD_MAX 4096        /* bytes of one field read for indexing */
#define FIELD_WORDS_MAX 96    /* words of a field kept for its type */
#define FRAGMENTS_PER_WORD 64
#define RESOLUTION_MAX 100    /* megapixels; more is a typo */

enum word_op { OP_SAME, OP_KIND, OP_TYPE, OP_BROAD, OP_UNIT, OP_STOP,
	OP_JOIN };

struct word_def {
	enum word_op op;
	const char *a;   /* canonical, general, unit, or the word itself */
	const char *b;   /* the word (SAME, KIND, UNIT), the second piece
	                    (JOIN); NULL otherwise */
};

static const struct word_def word_defs[] = {
#define SAME(canonical, word) { OP_SAME, canonical, word },
#define KIND(general, specific) { OP_KIND, general, specific },
#define TYPE(word) { OP_TYPE, word, NULL },
#define BROAD_TYPE(word) { OP_BROAD, word, NULL },
#define UNIT(unit, spelling) { OP_UNIT, unit, spelling },
#define STOP(word) { OP_STOP, word, NULL },
#define JOIN(first, second) { OP_JOIN, first, second },
#include "catalog_words.def"
#undef SAME
#undef KIND
#undef TYPE
#undef BROAD_TYPE
#undef UNIT
#undef STOP
#undef JOIN
};

#define NDEFS (sizeof(word_defs) / sizeof(word_defs[0]))

/* The vocabulary in normal form: words sorted for bsearch. */
struct lex_entry {
	char word[CATALOG_TOKEN_MAX + 1];
	char target[CATALOG_TOKEN_MAX + 1];
	enum word_op op;
};

static struct lex_entry lex_map[NDEFS];     /* SAME and KIND */
static struct lex_entry lex_unit[NDEFS];
static struct lex_entry lex_stop[NDEFS];
static struct lex_entry lex_type[NDEFS];    /* TYPE and BROAD_TYPE, in order */
static struct lex_entry lex_join[NDEFS];    /* word: first, target: second */
static size_t nmap, nunit, nstop, ntype, njoin;
static pthread_once_t lex_once = PTHREAD_ONCE_INIT;

/* ---- characters ----------------------------------------------------------- */

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return c >= 'a' && c <= 'z';
}

static int
is_vowel(int c)
{
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* Latin-1 supplement letters after the 0xC3 lead byte (U+00C0..U+00FF),
 * folded to ASCII; 0 for the signs that separate words (x, division). */
static const char latin1_fold[64] =
	"aaaaaaaceeeeiiii" "dnooooo\0ouuuuyts"
	"aaaaaaaceeeeiiii" "dnooooo\0ouuuuyty";

size_t
catalog_fold(const char *in, size_t inlen, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;

	if (outlen == 0)
		return 0;
	while (i < inlen && s[i] != '\0' && o + 1 < outlen) {
		unsigned char c = s[i];
		size_t adv = 1;
		char f = 0;

		if (c < 0x80) {
			if (c >= 'A' && c <= 'Z')
				f = (char)(c - 'A' + 'a');
			else if (is_alpha(c) || is_digit(c))
				f = (char)c;
			else if ((c == '.' || c == ',') && o > 0 &&
			    is_digit(out[o - 1]) && i + 1 < inlen &&
			    is_digit(s[i + 1]))
				f = '.';
		} else {
			/* Broken bytes go one at a time; each is a separator,
			 * so a run of them folds to one space. */
			adv = utf8_decode(s + i, inlen - i, NULL);
			if (adv == 0)
				adv = 1;
			else if (c == 0xC3 && adv == 2)
				f = latin1_fold[s[i + 1] - 0x80];
		}
		if (f != 0)
			out[o++] = f;
		else if (o > 0 && out[o - 1] != ' ')
			out[o++] = ' ';
		i += adv;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return o;
}

void
catalog_singular(char *w)
{
	size_t n = strlen(w);

	for (size_t i = 0; i < n; i++)
		if (!is_alpha(w[i]))
			return;
	if (n <= 3 || w[n - 1] != 's')
		return;
	if (n >= 5 && w[n - 2] == 'e' && w[n - 3] == 'c') {
		/* luces -> luz, interfaces -> interfaz */
		w[n - 3] = 'z';
		w[n - 2] = '\0';
		return;
	}
	if (n >= 5 && w[n - 2] == 'e' && strchr("rlndjy", w[n - 3]) != NULL &&
	    is_vowel(w[n - 4])) {
		/* grabadores -> grabador, canales -> canal, redes -> red */
		w[n - 2] = '\0';
		return;
	}
	if (w[n - 2] == 's')
		return;                  /* "cross", "express" */
	/* camaras -> camara, fuentes -> fuente, dvrs -> dvr, kits -> kit */
	w[n - 1] = '\0';
}

void
catalog_text_clean(char *dst, size_t n, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src != NULL ? src : "");
	size_t left = strlen((const char *)s), o = 0;

	while (left > 0) {
		size_t len = utf8_decode(s, left, NULL);

		if (len == 0) {
			if (o + 1 >= n)
				break;
			dst[o++] = '?';
			s++;
			left--;
			continue;
		}
		if (o + len >= n)
			break;
		if (len == 1 && (*s < 0x20 || *s == 0x7f)) {
			dst[o++] = ' ';
		} else {
			memcpy(dst + o, s, len);
			o += len;
		}
		s += len;
		left -= len;
	}
	dst[o] = '\0';
}

/* ---- the vocabulary --------------------------------------------------------- */

/* A vocabulary word in normal form: folded, one word, singular. */
static void
lex_normal(const char *raw, char out[CATALOG_TOKEN_MAX + 1])
{
	catalog_fold(raw, strlen(raw), out, CATALOG_TOKEN_MAX + 1);
	catalog_singular(out);
}

static int
lex_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lex_entry *)a)->word,
	    ((const struct lex_entry *)b)->word);
}

static void
lex_build(void)
{
	for (size_t i = 0; i < NDEFS; i++) {
		const struct word_def *d = &word_defs[i];
		struct lex_entry *e;

		switch (d->op) {
		case OP_SAME:
		case OP_KIND:
			e = &lex_map[nmap++];
			lex_normal(d->b, e->word);
			lex_normal(d->a, e->target);
			break;
		case OP_UNIT:
			e = &lex_unit[nunit++];
			lex_normal(d->b, e->word);
			lex_normal(d->a, e->target);
			break;
		case OP_STOP:
			e = &lex_stop[nstop++];
			lex_normal(d->a, e->word);
			break;
		case OP_JOIN:
			/* Pieces as folded, not singular: "fi" stays "fi". */
			e = &lex_join[njoin++];
			catalog_fold(d->a, strlen(d->a), e->word,
			    sizeof(e->word));
			catalog_fold(d->b, strlen(d->b), e->target,
			    sizeof(e->target));
			break;
		default:
			e = &lex_type[ntype++];
			lex_normal(d->a, e->word);
			break;
		}
		e->op = d->op;
	}
	qsort(lex_map, nmap, sizeof(lex_map[0]), lex_cmp);
	qsort(lex_unit, nunit, sizeof(lex_unit[0]), lex_cmp);
	qsort(lex_stop, nstop, sizeof(lex_stop[0]), lex_cmp);
}

static const struct lex_entry *
lex_find(const struct lex_entry *v, size_t n, const char *word)
{
	struct lex_entry key;
	size_t len = strlen(word);

	if (len > CATALOG_TOKEN_MAX)
		return NULL;
	memcpy(key.word, word, len + 1);
	return bsearch(&key, v, n, sizeof(v[0]), lex_cmp);
}

int
catalog_words_check(char *err, size_t errlen)
{
	char w[CATALOG_TOKEN_MAX + 1];

	pthread_once(&lex_once, lex_build);
	for (size_t i = 0; i < NDEFS; i++) {
		const char *raw[2] = { word_defs[i].a, word_defs[i].b };

		for (size_t k = 0; k < 2; k++) {
			size_t n;

			if (raw[k] == NULL)
				continue;
			n = catalog_fold(raw[k], strlen(raw[k]), w, sizeof(w));
			if (n == 0 || n != strlen(raw[k]) || strchr(w, ' ') ||
			    strcmp(w, raw[k]) != 0) {
				snprintf(err, errlen, "catalog_words.def: \"%s\" "
				    "is not one lower-case word without accents",
				    raw[k]);
				return OV_EINVAL;
			}
		}
	}
	for (size_t i = 0; i + 1 < nmap; i++)
		if (strcmp(lex_map[i].word, lex_map[i + 1].word) == 0 &&
		    (strcmp(lex_map[i].target, lex_map[i + 1].target) != 0 ||
		    lex_map[i].op != lex_map[i + 1].op)) {
			snprintf(err, errlen, "catalog_words.def: \"%s\" means "
			    "both \"%s\" and \"%s\"", lex_map[i].word,
			    lex_map[i].target, lex_map[i + 1].target);
			return OV_EINVAL;
		}
	for (size_t i = 0; i + 1 < nunit; i++)
		if (strcmp(lex_unit[i].word, lex_unit[i + 1].word) == 0 &&
		    strcmp(lex_unit[i].target, lex_unit[i + 1].target) != 0) {
			snprintf(err, errlen, "catalog_words.def: unit \"%s\" is "
			    "both \"%s\" and \"%s\"", lex_unit[i].word,
			    lex_unit[i].target, lex_unit[i + 1].target);
			return OV_EINVAL;
		}
	for (size_t i = 0; i < nstop; i++)
		if (lex_find(lex_map, nmap, lex_stop[i].word) != NULL) {
			snprintf(err, errlen, "catalog_words.def: \"%s\" is a "
			    "stop word and a synonym", lex_stop[i].word);
			return OV_EINVAL;
		}
	return OV_OK;
}

/* ---- one word ----------------------------------------------------------------- */

enum word_kind {
	W_STOP,      /* nothing to search by */
	W_WORD,      /* letters */
	W_NUMBER,    /* digits (and '.') */
	W_UNIT,      /* a number with its unit: 4mp, 12v, 8ch */
	W_MIXED      /* letters and digits: a model code */
};

struct norm {
	enum word_kind kind;
	char tok[CATALOG_TOKEN_MAX + 1];
	char general[CATALOG_TOKEN_MAX + 1]; /* KIND: what else it is */
	size_t numlen;                       /* W_UNIT: digits in front */
};

/* "<n>mp" -> n; 0 for any other token. */
static int
resolution_of(const char *tok)
{
	int v = 0;
	size_t i = 0;

	while (is_digit(tok[i]) && i < 3)
		v = v * 10 + (tok[i++] - '0');
	if (i == 0 || strcmp(tok + i, "mp") != 0 || v > RESOLUTION_MAX)
		return 0;
	return v;
}

/* Apply SAME/KIND to n->tok. */
static void
apply_map(struct norm *n)
{
	const struct lex_entry *e = lex_find(lex_map, nmap, n->tok);

	if (e == NULL)
		return;
	if (e->op == OP_SAME) {
		memcpy(n->tok, e->target, sizeof(n->tok));
		if (resolution_of(n->tok) > 0) {
			n->kind = W_UNIT;
			n->numlen = 0;
		}
	} else {
		memcpy(n->general, e->target, sizeof(n->general));
	}
}

static void
word_norm(const char *w, size_t len, struct norm *n)
{
	size_t alpha = 0, digit = 0, lead = 0;

	memset(n, 0, sizeof(*n));
	if (len > CATALOG_TOKEN_MAX)
		len = CATALOG_TOKEN_MAX;
	memcpy(n->tok, w, len);
	n->tok[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (is_alpha(w[i]))
			alpha++;
		else
			digit++;
	}
	if (alpha == 0) {
		n->kind = W_NUMBER;
		apply_map(n);
		return;
	}
	if (digit == 0) {
		if (lex_find(lex_stop, nstop, n->tok) != NULL) {
			n->kind = W_STOP;
			return;
		}
		catalog_singular(n->tok);
		if (lex_find(lex_stop, nstop, n->tok) != NULL) {
			n->kind = W_STOP;
			return;
		}
		n->kind = W_WORD;
		apply_map(n);
		return;
	}
	/* A number with its unit attached ("4mp", "12v", "2.8mm")? */
	while (lead < len && (is_digit(w[lead]) || w[lead] == '.'))
		lead++;
	if (lead > 0 && lead < len) {
		char unit[CATALOG_TOKEN_MAX + 1];
		const struct lex_entry *e;
		size_t i;

		for (i = lead; i < len && is_alpha(w[i]); i++)
			;
		if (i == len) {
			memcpy(unit, w + lead, len - lead);
			unit[len - lead] = '\0';
			catalog_singular(unit);
			e = lex_find(lex_unit, nunit, unit);
			if (e != NULL && lead + strlen(e->target) <=
			    CATALOG_TOKEN_MAX) {
				memcpy(n->tok + lead, e->target,
				    strlen(e->target) + 1);
				n->kind = W_UNIT;
				n->numlen = lead;
				apply_map(n);
				return;
			}
		}
	}
	n->kind = W_MIXED;
	apply_map(n);
}

/* The JOIN pair the word at s (len bytes) starts, written into out; the
 * end of the second piece in *end. False when no listed pair starts here. */
static bool
join_pair(const char *s, size_t len, char out[CATALOG_TOKEN_MAX + 1],
    const char **end)
{
	const char *w2 = s + len;
	size_t len2;

	while (*w2 == ' ')
		w2++;
	len2 = strcspn(w2, " ");
	if (len2 == 0 || len + len2 > CATALOG_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < njoin; i++) {
		const char *a = lex_join[i].word, *b = lex_join[i].target;
		char second[CATALOG_TOKEN_MAX + 1];

		if (strlen(a) != len || strncmp(s, a, len) != 0)
			continue;
		memcpy(second, w2, len2);
		second[len2] = '\0';
		if (strcmp(second, b) != 0) {
			catalog_singular(second);   /* "micro sds" */
			if (strcmp(second, b) != 0)
				continue;
		}
		memcpy(out, s, len);
		memcpy(out + len, w2, len2);
		out[len + len2] = '\0';
		*end = w2 + len2;
		return true;
	}
	return false;
}

/*
 * Walk the words of folded text, joining the pieces of a JOIN pair
 * ("wi fi" -> "wifi") and a number with the unit that follows it
 * ("4 mp" -> "4mp"). *pos moves past what was used.
 */
static bool
next_norm(const char *folded, size_t *pos, struct norm *n)
{
	const char *s = folded + *pos;
	size_t len, len2;
	const char *w2, *end;
	char joined[CATALOG_TOKEN_MAX + 1];

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return false;
	len = strcspn(s, " ");
	if (join_pair(s, len, joined, &end)) {
		word_norm(joined, strlen(joined), n);
		*pos = (size_t)(end - folded);
		return true;
	}
	word_norm(s, len, n);
	*pos = (size_t)(s + len - folded);
	if (n->kind != W_NUMBER || len > CATALOG_TOKEN_MAX / 2)
		return true;
	w2 = s + len;
	while (*w2 == ' ')
		w2++;
	len2 = strcspn(w2, " ");
	if (len2 > 0 && len2 <= CATALOG_TOKEN_MAX / 2) {
		char unit[CATALOG_TOKEN_MAX + 1];
		const struct lex_entry *e;
		size_t i;

		for (i = 0; i < len2 && is_alpha(w2[i]); i++)
			;
		if (i < len2)
			return true;
		memcpy(unit, w2, len2);
		unit[len2] = '\0';
		catalog_singular(unit);
		e = lex_find(lex_unit, nunit, unit);
		if (e == NULL)
			return true;
		memcpy(n->tok, s, len);
		memcpy(n->tok + len, e->target, strlen(e->target) + 1);
		n->kind = W_UNIT;
		n->numlen = len;
		apply_map(n);
		*pos = (size_t)(w2 + len2 - folded);
	}
	return true;
}

/* ---- a product's tokens ---------------------------------------------------------- */

static uint32_t
hash_tok(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

#define NSLOTS (sizeof(((struct catalog_tokens *)0)->slot) / sizeof(uint16_t))

static long
tokens_lookup(const struct catalog_tokens *t, const char *tok, size_t len,
    size_t *slot)
{
	size_t i = hash_tok(tok, len) & (NSLOTS - 1);

	for (;;) {
		uint16_t v = t->slot[i];

		if (v == 0) {
			*slot = i;
			return -1;
		}
		if (strncmp(t->tok[v - 1], tok, len) == 0 &&
		    t->tok[v - 1][len] == '\0')
			return v - 1;
		i = (i + 1) & (NSLOTS - 1);
	}
}

static void
add_token(struct catalog_tokens *t, const char *tok, size_t len, int weight)
{
	size_t slot;
	long at;

	if (len < 2)
		return;
	if (len > CATALOG_TOKEN_MAX)
		len = CATALOG_TOKEN_MAX;
	at = tokens_lookup(t, tok, len, &slot);
	if (at >= 0) {
		if (t->weight[at] < weight)
			t->weight[at] = (unsigned char)weight;
		return;
	}
	if (t->n == CATALOG_ITEM_TOKENS_MAX) {
		t->truncated = true;
		return;
	}
	memcpy(t->tok[t->n], tok, len);
	t->tok[t->n][len] = '\0';
	t->weight[t->n] = (unsigned char)weight;
	t->n++;
	t->slot[slot] = (uint16_t)t->n;
}

int
catalog_tokens_find(const struct catalog_tokens *t, const char *tok)
{
	size_t slot, len = strlen(tok);
	long at;

	if (len < 2 || len > CATALOG_TOKEN_MAX)
		return -1;
	at = tokens_lookup(t, tok, len, &slot);
	return at < 0 ? -1 : t->weight[at];
}

/* Every prefix of 3 or more characters from each point where letters
 * turn into digits or back, and two-character runs: "hdw1400tp" gives
 * hdw, hdw1 .. hdw1400t, 140, 1400, 1400t, 1400tp, tp. */
static void
add_fragments(struct catalog_tokens *t, const char *w)
{
	size_t len = strlen(w), added = 0;

	for (size_t s = 0; s < len; s++) {
		size_t run;

		if (s > 0 && is_alpha(w[s]) == is_alpha(w[s - 1]))
			continue;
		for (run = s; run < len && is_alpha(w[run]) == is_alpha(w[s]);
		    run++)
			;
		if (run - s == 2)
			add_token(t, w + s, 2, CATALOG_W_FRAGMENT);
		for (size_t l = 3; s + l <= len && added < FRAGMENTS_PER_WORD;
		    l++, added++)
			add_token(t, w + s, l, CATALOG_W_FRAGMENT);
	}
}

/* Prefixes of a name word, from 4 letters: "hikv" finds Hikvision. */
static void
add_prefixes(struct catalog_tokens *t, const char *w)
{
	size_t len = strlen(w);

	for (size_t l = 4; l < len; l++)
		add_token(t, w, l, CATALOG_W_FRAGMENT);
}

struct field_words {
	size_t n;
	char w[FIELD_WORDS_MAX][CATALOG_TOKEN_MAX + 1];
};

static void
field_words_add(struct field_words *fw, const char *tok)
{
	if (fw != NULL && fw->n < FIELD_WORDS_MAX)
		snprintf(fw->w[fw->n++], sizeof(fw->w[0]), "%s", tok);
}

static void
index_field(struct catalog_tokens *t, const char *text, int weight,
    bool is_code, struct field_words *fw, int *res)
{
	char folded[FIELD_MAX + 1];
	size_t pos = 0;
	struct norm n;

	if (text == NULL)
		return;
	catalog_fold(text, strnlen(text, FIELD_MAX), folded, sizeof(folded));
	if (is_code && strchr(folded, ' ') != NULL) {
		/* The code written without its dashes, too. */
		char joined[CATALOG_TOKEN_MAX + 1];
		size_t nj = 0;

		for (size_t i = 0; folded[i] != '\0' && nj < CATALOG_TOKEN_MAX;
		    i++)
			if (folded[i] != ' ')
				joined[nj++] = folded[i];
		add_token(t, joined, nj, weight);
	}
	while (next_norm(folded, &pos, &n)) {
		size_t len = strlen(n.tok);

		switch (n.kind) {
		case W_STOP:
			break;
		case W_NUMBER:
			add_token(t, n.tok, len, weight);
			break;
		case W_UNIT:
			add_token(t, n.tok, len, weight);
			add_token(t, n.tok, n.numlen, CATALOG_W_TEXT);
			if (res != NULL && resolution_of(n.tok) > *res)
				*res = resolution_of(n.tok);
			field_words_add(fw, n.tok);
			break;
		case W_WORD:
			add_token(t, n.tok, len, weight);
			field_words_add(fw, n.tok);
			if (n.general[0] != '\0') {
				add_token(t, n.general, strlen(n.general), weight);
				field_words_add(fw, n.general);
			}
			if (weight >= CATALOG_W_NAME)
				add_prefixes(t, n.tok);
			break;
		case W_MIXED:
			add_token(t, n.tok, len, weight);
			if (n.general[0] != '\0')
				add_token(t, n.general, strlen(n.general), weight);
			add_fragments(t, n.tok);
			break;
		}
	}
}

static bool
is_type(const char *w, bool broad)
{
	for (size_t i = 0; i < ntype; i++)
		if (strcmp(lex_type[i].word, w) == 0)
			return (lex_type[i].op == OP_BROAD) == broad;
	return false;
}

/* The first TYPE the words name, else the first BROAD_TYPE. */
static bool
type_of(const struct field_words *fw, char out[CATALOG_TYPE_MAX])
{
	for (int broad = 0; broad < 2; broad++)
		for (size_t i = 0; i < fw->n; i++)
			if (is_type(fw->w[i], broad != 0) &&
			    strlen(fw->w[i]) < CATALOG_TYPE_MAX) {
				memcpy(out, fw->w[i], strlen(fw->w[i]) + 1);
				return true;
			}
	return false;
}

void
catalog_brand_tag(const char *marca, char out[CATALOG_TOKEN_MAX + 1])
{
	char folded[256];
	size_t o = 0, n;

	out[0] = '\0';
	if (marca == NULL)
		return;
	n = catalog_fold(marca, strnlen(marca, 255), folded, sizeof(folded));
	if (n == 0)
		return;
	memcpy(out, "marca:", 6);
	o = 6;
	for (size_t i = 0; i < n && o < CATALOG_TOKEN_MAX; i++)
		if (folded[i] != ' ')
			out[o++] = folded[i];
	out[o] = '\0';
}

void
catalog_tokens_index(const struct catalog_fields *f,
    struct catalog_tokens *t)
{
	struct field_words fw[3];   /* name, description, category */
	char tag[CATALOG_TOKEN_MAX + 1];
	int res_name = 0, res_desc = 0;

	memset(t, 0, sizeof(*t));
	fw[0].n = fw[1].n = fw[2].n = 0;
	pthread_once(&lex_once, lex_build);
	index_field(t, f->codigo, CATALOG_W_CODE, true, NULL, NULL);
	index_field(t, f->nombre, CATALOG_W_NAME, false, &fw[0], &res_name);
	index_field(t, f->marca, CATALOG_W_NAME, false, NULL, NULL);
	index_field(t, f->categoria, CATALOG_W_TEXT, false, &fw[2], NULL);
	index_field(t, f->descripcion, CATALOG_W_TEXT, false, &fw[1],
	    &res_desc);
	t->resolution_mp = res_name > 0 ? res_name : res_desc;
	if (!type_of(&fw[0], t->type) && !type_of(&fw[1], t->type))
		(void)type_of(&fw[2], t->type);
	catalog_brand_tag(f->marca, tag);
	if (tag[0] != '\0')
		add_token(t, tag, strlen(tag), CATALOG_W_TAG);
	if (t->type[0] != '\0') {
		snprintf(tag, sizeof(tag), "tipo:%s", t->type);
		add_token(t, tag, strlen(tag), CATALOG_W_TAG);
	}
}

/* ---- a query ------------------------------------------------------------------------ */

void
catalog_query_parse(const char *text, struct catalog_query *q)
{
	char folded[CATALOG_QUERY_MAX + 1];
	size_t pos = 0;
	struct norm n;

	memset(q, 0, sizeof(*q));
	if (text == NULL)
		return;
	pthread_once(&lex_once, lex_build);
	catalog_fold(text, strnlen(text, CATALOG_QUERY_MAX), folded,
	    sizeof(folded));
	while (q->n < CATALOG_QUERY_WORDS && next_norm(folded, &pos, &n)) {
		bool dup = false;

		if (n.kind == W_STOP || strlen(n.tok) < 2)
			continue;
		for (size_t i = 0; i < q->n; i++)
			dup = dup || strcmp(q->tok[i], n.tok) == 0;
		if (dup)
			continue;
		memcpy(q->tok[q->n++], n.tok, sizeof(q->tok[0]));
		if (resolution_of(n.tok) > q->resolution_mp)
			q->resolution_mp = resolution_of(n.tok);
	}
}
