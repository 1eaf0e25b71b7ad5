/*
 * catalog_text.h - the words of product search: what a product is indexed
 * under and what a customer's query asks for, in one normal form.
 *
 * The same rules run when a product is indexed (catalog sync) and when a
 * query is read, so they only have to agree with themselves:
 *   - folding: case and accents go ("Cámara" = "camara"), every other
 *     character separates words, except a '.' or ',' between digits
 *     ("2,8" = "2.8");
 *   - words people also write in two pieces, listed as JOIN pairs in
 *     lib/catalog_words.def, are one word: "Wi-Fi" = "wi fi" = "wifi",
 *     "micro SD" = "microsd"; other pairs (model codes) stay apart;
 *   - Spanish plurals: "cámaras" = "camara", "fuentes" = "fuente",
 *     "grabadores" = "grabador", "luces" = "luz";
 *   - the trade's synonyms and abbreviations, units and stop words, kept
 *     as data in lib/catalog_words.def (domo/dome, grabador > DVR/NVR/XVR,
 *     disco/HDD, hik = Hikvision, ...);
 *   - a number and its unit are one token however spelled: "4mp",
 *     "4 MP", "4 megapíxeles" are all "4mp"; "1080p" is "2mp";
 *   - model codes are indexed with their fragments, so "HDW1400" finds
 *     "DH-HAC-HDW1400TP" (every prefix of 3 or more characters from each
 *     point where letters turn into digits or back).
 *
 * A token is 2..CATALOG_TOKEN_MAX characters of [a-z0-9.:]; ':' appears
 * only in the tags "marca:<brand>" and "tipo:<type>", which a query never
 * produces. Nothing a customer types becomes anything but such a token.
 *
 * Pure functions over caller-owned structs: nothing to free.
 */
#ifndef OVIDIO_CATALOG_TEXT_H
#define OVIDIO_CATALOG_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CATALOG_TOKEN_MAX 40         /* bytes of a token; longer words are cut */
#define CATALOG_ITEM_TOKENS_MAX 384  /* tokens kept per product */
#define CATALOG_QUERY_MAX 512        /* bytes of query text read */
#define CATALOG_QUERY_WORDS 8        /* tokens a query keeps */
#define CATALOG_TYPE_MAX 24

/* How strongly a token speaks for a product, for ranking. */
enum catalog_weight {
	CATALOG_W_TAG = 0,       /* marca:/tipo: tags */
	CATALOG_W_TEXT = 1,      /* description, category */
	CATALOG_W_FRAGMENT = 2,  /* a prefix or a piece of a code */
	CATALOG_W_NAME = 3,      /* a word of the name or the brand */
	CATALOG_W_CODE = 4       /* a part of the seller's code */
};

/* The fields a product is indexed by; any may be NULL. */
struct catalog_fields {
	const char *codigo;
	const char *nombre;
	const char *marca;
	const char *categoria;
	const char *descripcion;
};

/* A product's tokens, unique, each with its highest weight. */
struct catalog_tokens {
	size_t n;
	bool truncated;              /* more than CATALOG_ITEM_TOKENS_MAX */
	char tok[CATALOG_ITEM_TOKENS_MAX][CATALOG_TOKEN_MAX + 1];
	unsigned char weight[CATALOG_ITEM_TOKENS_MAX];
	uint16_t slot[1024];         /* hash of tok: index + 1, 0 empty */
	/* What the fields say about the product. */
	char type[CATALOG_TYPE_MAX]; /* first TYPE named, "" if none */
	int resolution_mp;           /* highest "<n>mp" named, 0 if none */
};

/* Index a product: every token it can be found by, plus the tags
 * "marca:<brand>" and "tipo:<type>". */
void catalog_tokens_index(const struct catalog_fields *f,
    struct catalog_tokens *out);

/* The weight of tok in t, or -1 when t does not hold it. */
int catalog_tokens_find(const struct catalog_tokens *t, const char *tok);

/* The tag of a brand ("Hikvision" -> "marca:hikvision"); "" for none. */
void catalog_brand_tag(const char *marca, char out[CATALOG_TOKEN_MAX + 1]);

struct catalog_query {
	size_t n;                    /* 0: nothing to look for */
	char tok[CATALOG_QUERY_WORDS][CATALOG_TOKEN_MAX + 1];
	int resolution_mp;           /* resolution asked for, 0 if none */
};

/* Read a customer's query. Only the first CATALOG_QUERY_MAX bytes are
 * read; stop words, single letters and repeats are dropped. Never fails:
 * text that holds no searchable word gives n == 0. */
void catalog_query_parse(const char *text, struct catalog_query *q);

/* Fold text into out (lower-case ASCII letters, digits, '.' between
 * digits, single spaces). Returns the length written; out always ends in
 * NUL (outlen > 0). Invalid UTF-8 bytes separate words. */
size_t catalog_fold(const char *in, size_t inlen, char *out, size_t outlen);

/* Copy src (NULL: "") into dst (size n > 0) as valid UTF-8 without
 * control characters: each bad byte becomes '?', each control character
 * a space; cut at a character boundary. Synced text is shown to customers
 * and must pass MongoDB's UTF-8 check. */
void catalog_text_clean(char *dst, size_t n, const char *src);

/* The singular of one folded lower-case word, in place. */
void catalog_singular(char *word);

/* Check lib/catalog_words.def: every entry a single word that folds to
 * itself, no word given two meanings. OV_OK, or OV_EINVAL with the
 * offending entry in err. */
int catalog_words_check(char *err, size_t errlen);

#endif
