/*
 * media_keep.h - what a customer sent (a document, a photo, a voice note
 * the bot could not use), kept for the salesperson. Meta's media URLs
 * expire within minutes and need the business's token, so the worker
 * keeps a copy that the inbox serves (cgi-bin/inbox/media?id=<id>) and
 * the handoff e-mail links.
 *
 * Layout, in $OVIDIO_DATA_DIR/media (mode 0700, ours, not writable by
 * group or others: lib/fsperm):
 *   <id>        the bytes, mode 0600;
 *   <id>.json   what they are (kind, type, the customer's file name,
 *               Meta's media id, the customer, size, time), mode 0600.
 * id is a UUID v4: unguessable, and checked before any path is made.
 * Each file is written to "<name>.XXXXXX.tmp", fsync'd and renamed, the
 * bytes first: whoever finds a description finds the whole file. A
 * download that failed is kept as a description alone ("failed"), so
 * the salesperson reads what could not be fetched and its media id.
 * jobs/purge-quotes removes what is older than the quotes' retention
 * (QUOTE_TTL_DAYS); nothing else in the directory is touched.
 *
 * Ownership: nothing is allocated for the caller; a descriptor from
 * media_keep_open() is the caller's to close.
 */
#ifndef OVIDIO_MEDIA_KEEP_H
#define OVIDIO_MEDIA_KEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "media.h"
#include "uuid.h"

struct config;

#define MEDIA_KEEP_PATH_MAX 4096
#define MEDIA_KEEP_NAME_MAX 255      /* bytes of a file name kept */
#define MEDIA_KEEP_REF_MAX 128       /* Meta's media id (digits) */
#define MEDIA_KEEP_WHY_MAX 63
#define MEDIA_KEEP_WAID_MAX 32

/*
 * Caps of a download kept. Meta's own limits: images 5 MB, audio 16 MB,
 * documents 100 MB. Audio keeps MEDIA_MAX_BYTES (16 MB). Documents are
 * capped at MEDIA_DOC_MAX_BYTES, 25 MB unless set (up to Meta's 100 MB):
 * the worker holds a download in memory and must finish it within the
 * turn's media time (lib/media: 60 s); a bigger file is recorded as not
 * downloaded and the salesperson opens it on the phone.
 */
#define MEDIA_KEEP_IMAGE_MAX (5L * 1024 * 1024)
#define MEDIA_KEEP_DOC_DEFAULT (25L * 1024 * 1024)
#define MEDIA_KEEP_DOC_LIMIT (100L * 1024 * 1024)

enum media_keep_kind {
	MEDIA_KEEP_AUDIO = 0,
	MEDIA_KEEP_IMAGE,
	MEDIA_KEEP_DOCUMENT,
};

struct media_keep_conf {
	char dir[MEDIA_KEEP_PATH_MAX];   /* $OVIDIO_DATA_DIR/media */
	size_t image_max;                /* 5 MB, at most MEDIA_MAX_BYTES */
	size_t document_max;             /* MEDIA_DOC_MAX_BYTES */
};

struct media_kept {
	char id[UUID_LEN + 1];
	enum media_keep_kind kind;
	bool failed;                     /* not downloaded: no bytes */
	char why[MEDIA_KEEP_WHY_MAX + 1]; /* why not, in Spanish; "" */
	char mime[MEDIA_MIME_MAX + 1];   /* as Meta said; "" unknown */
	char filename[MEDIA_KEEP_NAME_MAX + 1]; /* the customer's; "" none */
	char media_ref[MEDIA_KEEP_REF_MAX + 1]; /* Meta's media id */
	char wa_id[MEDIA_KEEP_WAID_MAX + 1];    /* the customer */
	int64_t size;                    /* bytes kept */
	int64_t at;                      /* when (Unix seconds) */
};

/* The directory and caps from the configuration (OVIDIO_DATA_DIR,
 * MEDIA_MAX_BYTES, MEDIA_DOC_MAX_BYTES). OV_ECONFIG with err. */
int media_keep_config(const struct config *cfg, struct media_keep_conf *out,
    char *err, size_t errlen);

/* The download cap for a kind (audio: audio_max, lib/media's cap). */
size_t media_keep_cap(const struct media_keep_conf *c,
    enum media_keep_kind kind, size_t audio_max);

/* "audio", "image", "document". */
const char *media_keep_kind_name(enum media_keep_kind kind);

/*
 * Keep len bytes of data (NULL and 0 when k->failed) under a new id,
 * written into k->id; k->size is set, the file name is cleaned (no
 * control characters or slashes, cut to MEDIA_KEEP_NAME_MAX on a
 * character boundary). Creates dir (0700) when missing. OV_ECONFIG
 * (logged) when dir belongs to another user or others may write in it;
 * OV_EIO (logged) when a file cannot be written (nothing is left half).
 */
int media_keep_save(const char *dir, struct media_kept *k, const void *data,
    size_t len);

/* The description of id (which may be out->id). OV_ENOTFOUND when there
 * is none (never kept, purged, or id is not a UUID v4); OV_ECONFIG
 * (logged) for a directory others may write in. */
int media_keep_info(const char *dir, const char *id, struct media_kept *out);

/* The description, and the bytes open for reading without following a
 * symbolic link (*fd; *st describes them). A failed one: OV_OK with *fd
 * -1. OV_ENOTFOUND as media_keep_info(), also when the bytes are gone. */
int media_keep_open(const char *dir, const char *id, struct media_kept *out,
    int *fd, struct stat *st);

/*
 * How to serve it: type from an allow-list of what customers send
 * (images, voice notes, PDF, office files, text), anything else
 * application/octet-stream; disposition "inline" for the allowed images
 * and audio, "attachment" for everything else, with the customer's file
 * name made safe for a header (quoted ASCII fallback and RFC 8187
 * filename*). Both always fit a header value (lib/cgi).
 */
void media_keep_serve_as(const struct media_kept *k, char *type,
    size_t tlen, char *disposition, size_t dlen);

/* Remove what is older than cutoff (files' modification time): the
 * bytes and description of each id (*kept counts them), and files of
 * ours left by a crash (*strays). A dry run removes nothing and counts
 * what would go. OV_OK when the directory is missing; OV_ECONFIG (logged)
 * when it belongs to another user or others may write in it. */
int media_keep_purge(const char *dir, int64_t cutoff, bool dry_run,
    size_t *kept, size_t *strays);

#endif
