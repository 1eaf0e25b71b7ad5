/*
 * test_media_keep.c - a customer's files kept for the salesperson
 * (lib/media_keep.h): written whole and owner-only under an unguessable
 * id, read back with what they are, served with a safe type and name,
 * refused from a directory others may write in, purged by age.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cgi.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "media_keep.h"
#include "uuid.h"

static char tmpdir[] = "/tmp/ovidio-media-keep-test-XXXXXX";
static char dir[600];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
kept_init(struct media_kept *k, enum media_keep_kind kind, const char *mime,
    const char *filename)
{
	memset(k, 0, sizeof(*k));
	k->kind = kind;
	snprintf(k->mime, sizeof(k->mime), "%s", mime);
	snprintf(k->filename, sizeof(k->filename), "%s", filename);
	snprintf(k->media_ref, sizeof(k->media_ref), "8101");
	snprintf(k->wa_id, sizeof(k->wa_id), "5493415550960");
	k->at = 1764000000;
}

/* Bytes of fd, up to cap; -1 on error. */
static ssize_t
read_fd(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t r;

	while (got < cap && (r = read(fd, buf + got, cap - got)) > 0)
		got += (size_t)r;
	return (ssize_t)got;
}

static int
count_entries(const char *d)
{
	char cmd[700];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", d);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static void
test_save_and_open(void)
{
	static const char pdf[] = "%PDF-1.4\n\0binary\xff\n%%EOF\n";
	struct media_kept k, got;
	struct stat sb, ds;
	char buf[256], path[800];
	int fd = -1;

	kept_init(&k, MEDIA_KEEP_DOCUMENT, "application/pdf",
	    "Presupuesto competencia.pdf");
	CHECK_INT(media_keep_save(dir, &k, pdf, sizeof(pdf)), OV_OK);
	CHECK(uuid_v4_valid(k.id));
	CHECK_INT(k.size, (int64_t)sizeof(pdf));
	/* Owner only: the directory made 0700, the files 0600. */
	CHECK_INT(stat(dir, &ds), 0);
	CHECK_INT(ds.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/%s", dir, k.id);
	CHECK_INT(stat(path, &sb), 0);
	CHECK_INT(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/%s.json", dir, k.id);
	CHECK_INT(stat(path, &sb), 0);
	CHECK_INT(sb.st_mode & 0777, 0600);

	CHECK_INT(media_keep_open(dir, k.id, &got, &fd, &sb), OV_OK);
	CHECK(fd >= 0);
	CHECK_INT(sb.st_size, (off_t)sizeof(pdf));
	if (fd >= 0) {
		CHECK_INT(read_fd(fd, buf, sizeof(buf)), (ssize_t)sizeof(pdf));
		CHECK(memcmp(buf, pdf, sizeof(pdf)) == 0);
		close(fd);
	}
	CHECK_STR(got.id, k.id);
	CHECK_INT(got.kind, MEDIA_KEEP_DOCUMENT);
	CHECK(!got.failed);
	CHECK_STR(got.mime, "application/pdf");
	CHECK_STR(got.filename, "Presupuesto competencia.pdf");
	CHECK_STR(got.media_ref, "8101");
	CHECK_STR(got.wa_id, "5493415550960");
	CHECK_INT(got.at, 1764000000);
	/* Opened again by the id it holds. */
	CHECK_INT(media_keep_open(dir, got.id, &got, &fd, &sb), OV_OK);
	CHECK(fd >= 0);
	CHECK_STR(got.id, k.id);
	if (fd >= 0)
		close(fd);

	/* Two files of the same name get two ids. */
	{
		struct media_kept k2;

		kept_init(&k2, MEDIA_KEEP_DOCUMENT, "application/pdf",
		    "Presupuesto competencia.pdf");
		CHECK_INT(media_keep_save(dir, &k2, "x", 1), OV_OK);
		CHECK(strcmp(k.id, k2.id) != 0);
	}
}

static void
test_failed_download_kept_as_such(void)
{
	struct media_kept k, got;
	struct stat sb;
	char path[800];
	int fd = 7;

	kept_init(&k, MEDIA_KEEP_DOCUMENT, "application/pdf", "lista.pdf");
	k.failed = true;
	snprintf(k.why, sizeof(k.why), "muy grande");
	snprintf(k.media_ref, sizeof(k.media_ref), "8199");
	CHECK_INT(media_keep_save(dir, &k, NULL, 0), OV_OK);
	snprintf(path, sizeof(path), "%s/%s", dir, k.id);
	CHECK(stat(path, &sb) != 0 && errno == ENOENT);   /* no bytes */
	CHECK_INT(media_keep_open(dir, k.id, &got, &fd, &sb), OV_OK);
	CHECK_INT(fd, -1);
	CHECK(got.failed);
	CHECK_STR(got.why, "muy grande");
	CHECK_STR(got.media_ref, "8199");
	CHECK_STR(got.filename, "lista.pdf");
	/* Bytes are required unless it failed. */
	kept_init(&k, MEDIA_KEEP_IMAGE, "image/png", "");
	CHECK_INT(media_keep_save(dir, &k, NULL, 0), OV_EINVAL);
}

/* Nothing outside the directory, nothing but our own names. */
static void
test_ids_are_names_only(void)
{
	struct media_kept got;
	struct stat sb;
	int fd = -1;

	CHECK_INT(media_keep_info(dir, "../../etc/passwd", &got), OV_ENOTFOUND);
	CHECK_INT(media_keep_info(dir, "", &got), OV_ENOTFOUND);
	CHECK_INT(media_keep_info(dir, NULL, &got), OV_ENOTFOUND);
	CHECK_INT(media_keep_info(dir, "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f",
	    &got), OV_ENOTFOUND);
	CHECK_INT(media_keep_info(dir,
	    "3F1C0D2E-8A4B-4C6D-9E0F-1A2B3C4D5E6F", &got), OV_ENOTFOUND);
	CHECK_INT(media_keep_open(dir, "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"
	    ".json", &got, &fd, &sb), OV_ENOTFOUND);
	CHECK_INT(fd, -1);
}

/* A symbolic link planted under an id is not followed. */
static void
test_links_not_followed(void)
{
	struct media_kept k, got;
	struct stat sb;
	char path[800];
	int fd = -1;

	kept_init(&k, MEDIA_KEEP_IMAGE, "image/png", "");
	CHECK_INT(media_keep_save(dir, &k, "png", 3), OV_OK);
	snprintf(path, sizeof(path), "%s/%s", dir, k.id);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(symlink("/etc/passwd", path), 0);
	CHECK_INT(media_keep_open(dir, k.id, &got, &fd, &sb), OV_ENOTFOUND);
	CHECK_INT(fd, -1);
	CHECK_INT(unlink(path), 0);
}

/* The customer's file name is cleaned before it is kept. */
static void
test_file_name_cleaned(void)
{
	struct media_kept k, got;
	char long_name[MEDIA_KEEP_NAME_MAX + 1];
	size_t o = 0;

	kept_init(&k, MEDIA_KEEP_DOCUMENT, "application/pdf",
	    "../../lista\r\nX-Evil: 1\x7f.pdf");
	CHECK_INT(media_keep_save(dir, &k, "x", 1), OV_OK);
	CHECK_INT(media_keep_info(dir, k.id, &got), OV_OK);
	CHECK_STR(got.filename, ".._.._listaX-Evil: 1.pdf");

	/* The longest name is kept whole: 127 × "ñ" and an "x". */
	while (o + 2 < sizeof(long_name) - 1) {
		memcpy(long_name + o, "\xc3\xb1", 2);
		o += 2;
	}
	long_name[o++] = 'x';
	long_name[o] = '\0';
	kept_init(&k, MEDIA_KEEP_DOCUMENT, "application/pdf", long_name);
	CHECK_INT(media_keep_save(dir, &k, "x", 1), OV_OK);
	CHECK_INT(media_keep_info(dir, k.id, &got), OV_OK);
	CHECK_STR(got.filename, long_name);

	/* Not UTF-8 (a name cut inside a character): no name at all. */
	long_name[o - 1] = '\xc3';
	kept_init(&k, MEDIA_KEEP_DOCUMENT, "application/pdf", long_name);
	CHECK_INT(media_keep_save(dir, &k, "x", 1), OV_OK);
	CHECK_INT(media_keep_info(dir, k.id, &got), OV_OK);
	CHECK_STR(got.filename, "");
}

static void
test_serve_as(void)
{
	struct media_kept k;
	char type[128], disp[1024];

	/* A document is downloaded, under its own name. */
	kept_init(&k, MEDIA_KEEP_DOCUMENT, "application/pdf",
	    "Presupuesto competencia.pdf");
	media_keep_serve_as(&k, type, sizeof(type), disp, sizeof(disp));
	CHECK_STR(type, "application/pdf");
	CHECK_STR(disp, "attachment; filename=\"Presupuesto competencia.pdf\"; "
	    "filename*=UTF-8''Presupuesto%20competencia.pdf");

	/* Photos and voice notes may be shown; parameters dropped. */
	kept_init(&k, MEDIA_KEEP_AUDIO, "audio/ogg; codecs=opus", "");
	snprintf(k.id, sizeof(k.id), "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f");
	media_keep_serve_as(&k, type, sizeof(type), disp, sizeof(disp));
	CHECK_STR(type, "audio/ogg");
	CHECK_STR(disp, "inline; filename=\"audio-3f1c0d2e.ogg\"; "
	    "filename*=UTF-8''audio-3f1c0d2e.ogg");
	kept_init(&k, MEDIA_KEEP_IMAGE, "IMAGE/JPEG", "");
	media_keep_serve_as(&k, type, sizeof(type), disp, sizeof(disp));
	CHECK_STR(type, "image/jpeg");
	CHECK(strncmp(disp, "inline;", 7) == 0);

	/* What is not on the list is bytes to save, never a page. */
	kept_init(&k, MEDIA_KEEP_DOCUMENT, "text/html", "oferta.html");
	media_keep_serve_as(&k, type, sizeof(type), disp, sizeof(disp));
	CHECK_STR(type, "application/octet-stream");
	CHECK(strncmp(disp, "attachment;", 11) == 0);
	kept_init(&k, MEDIA_KEEP_IMAGE, "image/svg+xml", "logo.svg");
	media_keep_serve_as(&k, type, sizeof(type), disp, sizeof(disp));
	CHECK_STR(type, "application/octet-stream");
	CHECK(strncmp(disp, "attachment;", 11) == 0);
	kept_init(&k, MEDIA_KEEP_DOCUMENT, "", "");
	media_keep_serve_as(&k, type, sizeof(type), disp, sizeof(disp));
	CHECK_STR(type, "application/octet-stream");

	/* A name with quotes, a backslash and accents stays one header. */
	kept_init(&k, MEDIA_KEEP_DOCUMENT, "application/vnd.openxmlformats-"
	    "officedocument.spreadsheetml.sheet", "Lista \"nueva\" a\\b "
	    "c\xc3\xa1maras.xlsx");
	media_keep_serve_as(&k, type, sizeof(type), disp, sizeof(disp));
	CHECK_STR(disp, "attachment; filename=\"Lista _nueva_ a_b c_maras.xlsx\"; "
	    "filename*=UTF-8''Lista%20%22nueva%22%20a%5Cb%20c%C3%A1maras.xlsx");
	CHECK(cgi_header_value_ok(disp));

	/* The longest name still fits a header. */
	memset(k.filename, 0, sizeof(k.filename));
	for (size_t i = 0; i + 2 < MEDIA_KEEP_NAME_MAX; i += 2)
		memcpy(k.filename + i, "\xc3\xb1", 2);
	media_keep_serve_as(&k, type, sizeof(type), disp, sizeof(disp));
	CHECK(cgi_header_value_ok(disp));
	CHECK(strncmp(disp, "attachment; filename=\"", 22) == 0);
}

/* Readers and writers refuse a directory others may write in. */
static void
test_open_directory_refused(void)
{
	struct media_kept k, got;
	char bad[700];

	snprintf(bad, sizeof(bad), "%s/open", tmpdir);
	CHECK_INT(mkdir(bad, 0700), 0);
	CHECK_INT(chmod(bad, 0777), 0);
	kept_init(&k, MEDIA_KEEP_DOCUMENT, "application/pdf", "a.pdf");
	CHECK_INT(media_keep_save(bad, &k, "x", 1), OV_ECONFIG);
	CHECK_INT(media_keep_info(bad, "3f1c0d2e-8a4b-4c6d-9e0f-1a2b3c4d5e6f",
	    &got), OV_ECONFIG);
	{
		size_t kept = 9, strays = 9;

		CHECK_INT(media_keep_purge(bad, INT64_MAX, false, &kept,
		    &strays), OV_ECONFIG);
	}
	CHECK_INT(chmod(bad, 0700), 0);
}

static void
set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };

	CHECK_INT(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void
test_purge(void)
{
	struct media_kept old, young, failed;
	char pdir[700], path[800], other[800];
	size_t kept = 0, strays = 0;
	time_t now = time(NULL), then = now - 16 * 86400;
	FILE *f;

	snprintf(pdir, sizeof(pdir), "%s/purge", tmpdir);
	kept_init(&old, MEDIA_KEEP_DOCUMENT, "application/pdf", "viejo.pdf");
	kept_init(&young, MEDIA_KEEP_IMAGE, "image/png", "");
	kept_init(&failed, MEDIA_KEEP_DOCUMENT, "application/pdf", "x.pdf");
	failed.failed = true;
	CHECK_INT(media_keep_save(pdir, &old, "old", 3), OV_OK);
	CHECK_INT(media_keep_save(pdir, &young, "young", 5), OV_OK);
	CHECK_INT(media_keep_save(pdir, &failed, NULL, 0), OV_OK);
	snprintf(path, sizeof(path), "%s/%s", pdir, old.id);
	set_mtime(path, then);
	snprintf(path, sizeof(path), "%s/%s.json", pdir, old.id);
	set_mtime(path, then);
	snprintf(path, sizeof(path), "%s/%s.json", pdir, failed.id);
	set_mtime(path, then);
	/* A temporary left by a crash, and a file that is not ours. */
	snprintf(path, sizeof(path), "%s/%s.json.Ab12Cd.tmp", pdir, young.id);
	if ((f = fopen(path, "w")) != NULL)
		fclose(f);
	set_mtime(path, then);
	snprintf(other, sizeof(other), "%s/LEEME.txt", pdir);
	if ((f = fopen(other, "w")) != NULL)
		fclose(f);
	set_mtime(other, then);
	CHECK_INT(count_entries(pdir), 7);

	/* A dry run counts and removes nothing. */
	CHECK_INT(media_keep_purge(pdir, (int64_t)now - 15 * 86400, true,
	    &kept, &strays), OV_OK);
	CHECK_INT(kept, 2);
	CHECK_INT(strays, 1);
	CHECK_INT(count_entries(pdir), 7);

	CHECK_INT(media_keep_purge(pdir, (int64_t)now - 15 * 86400, false,
	    &kept, &strays), OV_OK);
	CHECK_INT(kept, 2);
	CHECK_INT(strays, 1);
	CHECK_INT(count_entries(pdir), 3);   /* young's two, LEEME.txt */
	{
		struct media_kept got;

		CHECK_INT(media_keep_info(pdir, young.id, &got), OV_OK);
		CHECK_INT(media_keep_info(pdir, old.id, &got), OV_ENOTFOUND);
		CHECK_INT(media_keep_info(pdir, failed.id, &got), OV_ENOTFOUND);
	}
	CHECK_INT(access(other, F_OK), 0);
	/* Again: nothing more to do. */
	CHECK_INT(media_keep_purge(pdir, (int64_t)now - 15 * 86400, false,
	    &kept, &strays), OV_OK);
	CHECK_INT(kept + strays, 0);
	/* No directory: nothing was ever kept. */
	snprintf(path, sizeof(path), "%s/never", tmpdir);
	CHECK_INT(media_keep_purge(path, (int64_t)now, false, &kept, &strays),
	    OV_OK);
}

static void
test_config_caps(void)
{
	struct config *cfg = NULL;
	struct media_keep_conf c;
	char err[256];

	setenv("OVIDIO_DATA_DIR", tmpdir, 1);
	unsetenv("MEDIA_DOC_MAX_BYTES");
	unsetenv("MEDIA_MAX_BYTES");
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(media_keep_config(cfg, &c, err, sizeof(err)), OV_OK);
	CHECK(strncmp(c.dir, tmpdir, strlen(tmpdir)) == 0);
	CHECK_STR(c.dir + strlen(tmpdir), "/media");
	CHECK_INT(c.image_max, 5 * 1024 * 1024);
	CHECK_INT(c.document_max, 25 * 1024 * 1024);
	CHECK_INT(media_keep_cap(&c, MEDIA_KEEP_AUDIO, 16 * 1024 * 1024),
	    16 * 1024 * 1024);
	CHECK_INT(media_keep_cap(&c, MEDIA_KEEP_DOCUMENT, 1), 25 * 1024 * 1024);
	config_free(cfg);

	/* Never above what the operator allows for media. */
	setenv("MEDIA_MAX_BYTES", "1048576", 1);
	setenv("MEDIA_DOC_MAX_BYTES", "104857600", 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(media_keep_config(cfg, &c, err, sizeof(err)), OV_OK);
	CHECK_INT(c.image_max, 1024 * 1024);
	CHECK_INT(c.document_max, 100 * 1024 * 1024);
	config_free(cfg);
	setenv("MEDIA_DOC_MAX_BYTES", "104857601", 1);
	CHECK_INT(config_load(&cfg, err, sizeof(err)), OV_OK);
	CHECK_INT(media_keep_config(cfg, &c, err, sizeof(err)), OV_ECONFIG);
	CHECK(strstr(err, "MEDIA_DOC_MAX_BYTES") != NULL);
	config_free(cfg);
	unsetenv("MEDIA_MAX_BYTES");
	unsetenv("MEDIA_DOC_MAX_BYTES");
}

int
main(void)
{
	log_init("test_media_keep");
	log_set_level(LOG_ERROR);
	umask(022);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/media", tmpdir);
	RUN(test_save_and_open);
	RUN(test_failed_download_kept_as_such);
	RUN(test_ids_are_names_only);
	RUN(test_links_not_followed);
	RUN(test_file_name_cleaned);
	RUN(test_serve_as);
	RUN(test_open_directory_refused);
	RUN(test_purge);
	RUN(test_config_caps);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return check_finish();
}
