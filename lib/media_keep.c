/*
 * media_keep.c - a customer's media kept for the salesperson (see
 * media_keep.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"
#include "fdio.h"
#include "fsperm.h"
#include "log.h"
#include "media_keep.h"
#include "utf8.h"
#include "uuid.h"

#define DESC_SUFFIX ".json"
#define TMP_SUFFIX ".tmp"
#define TMP_RANDOM 6            /* mkostemps' XXXXXX */
#define DESC_MAX 4096           /* bytes of a description */
#define ASCII_NAME_MAX 120      /* the quoted fallback file name */
#define EXT_NAME_MAX 600        /* the RFC 8187 file name, encoded */

static const char *const kind_names[] = {
	[MEDIA_KEEP_AUDIO] = "audio",
	[MEDIA_KEEP_IMAGE] = "image",
	[MEDIA_KEEP_DOCUMENT] = "document",
};

const char *
media_keep_kind_name(enum media_keep_kind kind)
{
	if ((size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]))
		return kind_names[kind];
	return "document";
}

static int
kind_parse(const char *s, enum media_keep_kind *out)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (s != NULL && strcmp(s, kind_names[i]) == 0) {
			*out = (enum media_keep_kind)i;
			return OV_OK;
		}
	return OV_EPARSE;
}

int
media_keep_config(const struct config *cfg, struct media_keep_conf *out,
    char *err, size_t errlen)
{
	const char *data = config_get(cfg, "OVIDIO_DATA_DIR");
	long doc, media;
	int rc, n;

	memset(out, 0, sizeof(*out));
	if ((rc = config_get_long(cfg, "MEDIA_DOC_MAX_BYTES",
	    MEDIA_KEEP_DOC_DEFAULT, 1024, MEDIA_KEEP_DOC_LIMIT, &doc, err,
	    errlen)) != OV_OK ||
	    (rc = config_get_long(cfg, "MEDIA_MAX_BYTES", MEDIA_MAX_DEFAULT,
	    1024, 100L * 1024 * 1024, &media, err, errlen)) != OV_OK)
		return rc;
	if (data == NULL || data[0] == '\0') {
		snprintf(err, errlen, "configuration key OVIDIO_DATA_DIR must "
		    "be set");
		return OV_ECONFIG;
	}
	n = snprintf(out->dir, sizeof(out->dir), "%s/media", data);
	if (n < 0 || (size_t)n >= sizeof(out->dir) - 64) {
		snprintf(err, errlen, "configuration key OVIDIO_DATA_DIR is "
		    "too long");
		return OV_ECONFIG;
	}
	out->image_max = (size_t)(media < MEDIA_KEEP_IMAGE_MAX ? media :
	    MEDIA_KEEP_IMAGE_MAX);
	out->document_max = (size_t)doc;
	return OV_OK;
}

size_t
media_keep_cap(const struct media_keep_conf *c, enum media_keep_kind kind,
    size_t audio_max)
{
	switch (kind) {
	case MEDIA_KEEP_IMAGE:
		return c->image_max;
	case MEDIA_KEEP_DOCUMENT:
		return c->document_max;
	default:
		return audio_max;
	}
}

/* ---- names -------------------------------------------------------------- */

/* "<dir>/<id><suffix>"; id must be a UUID v4. */
static int
path_of(const char *dir, const char *id, const char *suffix, char *buf,
    size_t len)
{
	int n;

	if (dir == NULL || dir[0] == '\0' || !uuid_v4_valid(id))
		return OV_EINVAL;
	n = snprintf(buf, len, "%s/%s%s", dir, id, suffix);
	if (n < 0 || (size_t)n >= len)
		return OV_ETOOBIG;
	return OV_OK;
}

enum name_kind { NAME_OTHER, NAME_DATA, NAME_DESC, NAME_TMP };

/* What a directory entry is; id receives the UUID of ours. */
static enum name_kind
classify(const char *name, char id[UUID_LEN + 1])
{
	size_t n = strnlen(name, 256), rest;
	const char *r;

	if (n < UUID_LEN)
		return NAME_OTHER;
	memcpy(id, name, UUID_LEN);
	id[UUID_LEN] = '\0';
	if (!uuid_v4_valid(id))
		return NAME_OTHER;
	r = name + UUID_LEN;
	if (*r == '\0')
		return NAME_DATA;
	if (strcmp(r, DESC_SUFFIX) == 0)
		return NAME_DESC;
	/* "<id>[.json].XXXXXX.tmp" */
	if (strncmp(r, DESC_SUFFIX, sizeof(DESC_SUFFIX) - 1) == 0)
		r += sizeof(DESC_SUFFIX) - 1;
	rest = strlen(r);
	if (rest == 1 + TMP_RANDOM + sizeof(TMP_SUFFIX) - 1 && r[0] == '.' &&
	    strcmp(r + 1 + TMP_RANDOM, TMP_SUFFIX) == 0 &&
	    strcspn(r + 1, "./") >= TMP_RANDOM)
		return NAME_TMP;
	return NAME_OTHER;
}

/* ---- writing ------------------------------------------------------------ */

/* path written whole or not at all: a temporary beside it, fsync'd,
 * owner-only, renamed over it. */
static int
write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[MEDIA_KEEP_PATH_MAX + 32];
	int fd, rc = OV_EIO, n;

	n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX" TMP_SUFFIX, path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return OV_ETOOBIG;
	if ((fd = mkostemps(tmp, sizeof(TMP_SUFFIX) - 1, O_CLOEXEC)) < 0) {
		log_error("media: cannot create %s: %s", tmp, strerror(errno));
		return OV_EIO;
	}
	if (fchmod(fd, 0600) != 0 || fdio_write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		log_error("media: cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) != 0) {
		log_error("media: cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		log_error("media: cannot rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = OV_OK;
out:
	if (rc != OV_OK)
		(void)unlink(tmp);
	return rc;
}

static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

/* The customer's file name as kept: valid UTF-8, no control characters,
 * no path separators, at most MEDIA_KEEP_NAME_MAX bytes. */
static void
clean_name(char *s)
{
	size_t n = strlen(s), o = 0;

	if (!utf8_valid(s, n)) {
		s[0] = '\0';
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			continue;
		s[o++] = c == '/' || c == '\\' ? '_' : (char)c;
	}
	s[utf8_cut(s, o, MEDIA_KEEP_NAME_MAX)] = '\0';
}

/* Bounded, printable ASCII of a media type ("" when odd). */
static void
clean_mime(char *s)
{
	size_t n = strlen(s);

	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789/.+-; =_") != n)
		s[0] = '\0';
}

static char *
describe(const struct media_kept *k)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "kind",
	    media_keep_kind_name(k->kind)) != NULL &&
	    cJSON_AddBoolToObject(o, "failed", k->failed) != NULL &&
	    cJSON_AddStringToObject(o, "why", k->why) != NULL &&
	    cJSON_AddStringToObject(o, "mime", k->mime) != NULL &&
	    cJSON_AddStringToObject(o, "filename", k->filename) != NULL &&
	    cJSON_AddStringToObject(o, "media", k->media_ref) != NULL &&
	    cJSON_AddStringToObject(o, "wa_id", k->wa_id) != NULL &&
	    cJSON_AddNumberToObject(o, "size", (double)k->size) != NULL &&
	    cJSON_AddNumberToObject(o, "at", (double)k->at) != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int
media_keep_save(const char *dir, struct media_kept *k, const void *data,
    size_t len)
{
	char path[MEDIA_KEEP_PATH_MAX], err[MEDIA_KEEP_PATH_MAX + 160];
	char *desc = NULL;
	int rc;

	if (dir == NULL || dir[0] == '\0' || k == NULL ||
	    (data == NULL && len > 0) || (!k->failed && data == NULL))
		return OV_EINVAL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("media: cannot create %s: %s", dir, strerror(errno));
		return OV_EIO;
	}
	/* The salesperson opens what is in here: a directory another user
	 * controls could hand them someone else's file. */
	if ((rc = fsperm_dir_ok(dir, 1, err, sizeof(err))) != OV_OK) {
		log_error("media directory: %s", err);
		return rc == OV_ENOTFOUND ? OV_EIO : rc;
	}
	if ((rc = uuid_v4(k->id)) != OV_OK)
		return rc;
	k->mime[sizeof(k->mime) - 1] = '\0';
	k->filename[sizeof(k->filename) - 1] = '\0';
	clean_mime(k->mime);
	clean_name(k->filename);
	k->media_ref[strspn(k->media_ref, "0123456789")] = '\0';
	k->why[utf8_cut(k->why, strnlen(k->why, sizeof(k->why)),
	    sizeof(k->why) - 1)] = '\0';
	k->size = k->failed ? 0 : (int64_t)len;
	if (!k->failed) {
		if ((rc = path_of(dir, k->id, "", path, sizeof(path))) !=
		    OV_OK || (rc = write_atomic(path, data, len)) != OV_OK)
			goto out;
	}
	if ((desc = describe(k)) == NULL) {
		rc = OV_ENOMEM;
		goto out;
	}
	if ((rc = path_of(dir, k->id, DESC_SUFFIX, path, sizeof(path))) !=
	    OV_OK || (rc = write_atomic(path, desc, strlen(desc))) != OV_OK)
		goto out;
	sync_dir(dir);
out:
	if (rc != OV_OK && !k->failed &&
	    path_of(dir, k->id, "", path, sizeof(path)) == OV_OK)
		(void)unlink(path);
	free(desc);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

/* Open dir/name of ours for reading: a regular file, no link followed. */
static int
open_regular(const char *path, int *fd, struct stat *st)
{
	int f = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	*fd = -1;
	if (f < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
			return OV_ENOTFOUND;
		log_error("media: cannot open %s: %s", path, strerror(errno));
		return OV_EIO;
	}
	if (fstat(f, st) != 0 || !S_ISREG(st->st_mode)) {
		close(f);
		return OV_ENOTFOUND;
	}
	*fd = f;
	return OV_OK;
}

static void
copy_field(const cJSON *o, const char *key, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	buf[0] = '\0';
	if (cJSON_IsString(v) && strlen(v->valuestring) < len)
		memcpy(buf, v->valuestring, strlen(v->valuestring) + 1);
}

static int64_t
num_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
	    v->valuedouble > 9e15)
		return 0;
	return (int64_t)v->valuedouble;
}

static int
read_desc(const char *dir, const char *id, struct media_kept *out)
{
	char path[MEDIA_KEEP_PATH_MAX], buf[DESC_MAX + 1];
	struct stat st;
	cJSON *o = NULL;
	ssize_t r;
	size_t got = 0;
	int fd = -1, rc;

	if ((rc = path_of(dir, id, DESC_SUFFIX, path, sizeof(path))) != OV_OK)
		return OV_ENOTFOUND;
	if ((rc = open_regular(path, &fd, &st)) != OV_OK)
		return rc;
	if (st.st_size > DESC_MAX) {
		log_error("media: %s is too big for a description", path);
		rc = OV_EPARSE;
		goto out;
	}
	while (got < DESC_MAX && (r = read(fd, buf + got, DESC_MAX - got)) !=
	    0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = OV_EIO;
			goto out;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	o = cJSON_ParseWithLength(buf, got);
	if (!cJSON_IsObject(o)) {
		log_error("media: %s is not a description", path);
		rc = OV_EPARSE;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->id, id, UUID_LEN + 1);
	{
		char kind[16];

		copy_field(o, "kind", kind, sizeof(kind));
		if (kind_parse(kind, &out->kind) != OV_OK) {
			rc = OV_EPARSE;
			goto out;
		}
	}
	out->failed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
	    "failed"));
	copy_field(o, "why", out->why, sizeof(out->why));
	copy_field(o, "mime", out->mime, sizeof(out->mime));
	copy_field(o, "filename", out->filename, sizeof(out->filename));
	copy_field(o, "media", out->media_ref, sizeof(out->media_ref));
	copy_field(o, "wa_id", out->wa_id, sizeof(out->wa_id));
	clean_mime(out->mime);
	clean_name(out->filename);
	out->size = num_field(o, "size");
	out->at = num_field(o, "at");
	rc = OV_OK;
out:
	cJSON_Delete(o);
	close(fd);
	return rc;
}

/* Readers (the inbox) refuse a directory others could write into. */
static int
dir_readable(const char *dir)
{
	char err[MEDIA_KEEP_PATH_MAX + 160];
	int rc = fsperm_dir_ok(dir, 0, err, sizeof(err));

	if (rc != OV_OK && rc != OV_ENOTFOUND)
		log_error("media directory: %s", err);
	return rc;
}

int
media_keep_info(const char *dir, const char *id, struct media_kept *out)
{
	char own[UUID_LEN + 1];
	int rc;

	/* id may be out->id: copied before out is cleared. */
	if (!uuid_v4_valid(id)) {
		memset(out, 0, sizeof(*out));
		return OV_ENOTFOUND;
	}
	memcpy(own, id, sizeof(own));
	memset(out, 0, sizeof(*out));
	if ((rc = dir_readable(dir)) != OV_OK)
		return rc;
	return read_desc(dir, own, out);
}

int
media_keep_open(const char *dir, const char *id, struct media_kept *out,
    int *fd, struct stat *st)
{
	char path[MEDIA_KEEP_PATH_MAX];
	int rc;

	*fd = -1;
	if ((rc = media_keep_info(dir, id, out)) != OV_OK || out->failed)
		return rc;
	if ((rc = path_of(dir, out->id, "", path, sizeof(path))) != OV_OK)
		return OV_ENOTFOUND;
	return open_regular(path, fd, st);
}

/* ---- serving ------------------------------------------------------------ */

static const struct served {
	const char *type;
	const char *ext;
	bool show;               /* inline: a browser shows it, no script */
} served[] = {
	{ "image/jpeg", "jpg", true },
	{ "image/png", "png", true },
	{ "image/webp", "webp", true },
	{ "audio/ogg", "ogg", true },
	{ "audio/mpeg", "mp3", true },
	{ "audio/mp4", "m4a", true },
	{ "audio/aac", "aac", true },
	{ "audio/amr", "amr", false },
	{ "application/pdf", "pdf", false },
	{ "text/plain", "txt", false },
	{ "application/msword", "doc", false },
	{ "application/vnd.ms-excel", "xls", false },
	{ "application/vnd.ms-powerpoint", "ppt", false },
	{ "application/vnd.openxmlformats-officedocument.wordprocessingml."
	    "document", "docx", false },
	{ "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	    "xlsx", false },
	{ "application/vnd.openxmlformats-officedocument.presentationml."
	    "presentation", "pptx", false },
};

/* The allowed entry for a media type ("audio/ogg; codecs=opus" is
 * audio/ogg), or NULL. */
static const struct served *
served_for(const char *mime)
{
	size_t n = strcspn(mime, "; ");

	for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
		if (strlen(served[i].type) == n &&
		    strncasecmp(mime, served[i].type, n) == 0)
			return &served[i];
	return NULL;
}

/* Append s to buf[*o..len), cut when it does not fit. */
static void
put(char *buf, size_t len, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o + n >= len)
		n = *o + 1 < len ? len - *o - 1 : 0;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
}

void
media_keep_serve_as(const struct media_kept *k, char *type, size_t tlen,
    char *disposition, size_t dlen)
{
	static const char hex[] = "0123456789ABCDEF";
	const struct served *s = served_for(k->mime);
	char name[MEDIA_KEEP_NAME_MAX + 64], ascii[ASCII_NAME_MAX + 1];
	char ext[EXT_NAME_MAX + 1];
	size_t o = 0, a = 0, e = 0;

	snprintf(type, tlen, "%s", s != NULL ? s->type :
	    "application/octet-stream");
	if (k->filename[0] != '\0')
		snprintf(name, sizeof(name), "%s", k->filename);
	else
		snprintf(name, sizeof(name), "%s-%.8s.%s",
		    k->kind == MEDIA_KEEP_AUDIO ? "audio" :
		    k->kind == MEDIA_KEEP_IMAGE ? "foto" : "archivo", k->id,
		    s != NULL ? s->ext : "bin");
	/* A quoted ASCII name for every client, the real one for those
	 * that read filename*. */
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0' &&
	    a < ASCII_NAME_MAX; p++) {
		if (*p >= 0x80) {
			/* One '_' per character, not per byte. */
			if ((*p & 0xc0) != 0x80)
				ascii[a++] = '_';
		} else {
			ascii[a++] = *p < 0x20 || *p == 0x7f || *p == '"' ||
			    *p == '\\' || *p == '%' ? '_' : (char)*p;
		}
	}
	ascii[a] = '\0';
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0' &&
	    e + 3 < sizeof(ext); p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$&+-.^_`|~", *p) !=
		    NULL) {
			ext[e++] = (char)*p;
		} else {
			ext[e++] = '%';
			ext[e++] = hex[*p >> 4];
			ext[e++] = hex[*p & 15];
		}
	}
	ext[e] = '\0';
	disposition[0] = '\0';
	put(disposition, dlen, &o, s != NULL && s->show ? "inline" :
	    "attachment");
	put(disposition, dlen, &o, "; filename=\"");
	put(disposition, dlen, &o, ascii);
	put(disposition, dlen, &o, "\"");
	if (o + sizeof("; filename*=UTF-8''") + e < dlen) {
		put(disposition, dlen, &o, "; filename*=UTF-8''");
		put(disposition, dlen, &o, ext);
	}
}

/* ---- purge -------------------------------------------------------------- */

int
media_keep_purge(const char *dir, int64_t cutoff, bool dry_run,
    size_t *kept, size_t *strays)
{
	char err[MEDIA_KEEP_PATH_MAX + 160], id[UUID_LEN + 1];
	char name[UUID_LEN + sizeof(DESC_SUFFIX)];
	struct dirent *de;
	DIR *d;
	int dfd, rc = OV_OK;

	*kept = *strays = 0;
	rc = fsperm_dir_ok(dir, 1, err, sizeof(err));
	if (rc == OV_ENOTFOUND)
		return OV_OK;   /* nothing was ever kept */
	if (rc != OV_OK) {
		/* Removing files from a directory another user controls is
		 * not ours to do. */
		log_error("media directory: %s", err);
		return rc;
	}
	if ((d = opendir(dir)) == NULL) {
		log_error("cannot read %s: %s", dir, strerror(errno));
		return OV_EIO;
	}
	dfd = dirfd(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		enum name_kind nk = classify(de->d_name, id);
		struct stat sb;

		if (nk == NAME_OTHER || fstatat(dfd, de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode) ||
		    (int64_t)sb.st_mtime >= cutoff)
			continue;
		if (nk == NAME_DATA) {
			/* Its description goes with it (below); alone, it was
			 * left by a crash between the two writes. */
			snprintf(name, sizeof(name), "%s" DESC_SUFFIX, id);
			if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
		}
		if (dry_run) {
			(*(nk == NAME_DESC ? kept : strays))++;
			continue;
		}
		if (nk == NAME_DESC) {
			/* The bytes first: a reader finding the description
			 * still finds them, or finds nothing. */
			if (unlinkat(dfd, id, 0) != 0 && errno != ENOENT) {
				log_error("cannot remove %s/%s: %s", dir, id,
				    strerror(errno));
				rc = OV_EIO;
				continue;
			}
		}
		if (unlinkat(dfd, de->d_name, 0) != 0) {
			if (errno == ENOENT)
				continue;   /* another purge got there first */
			log_error("cannot remove %s/%s: %s", dir, de->d_name,
			    strerror(errno));
			rc = OV_EIO;
			continue;
		}
		if (nk == NAME_DESC)
			(*kept)++;
		else
			(*strays)++;
	}
	if (errno != 0) {
		log_error("cannot read %s: %s", dir, strerror(errno));
		rc = OV_EIO;
	}
	closedir(d);
	return rc;
}
