/*
 * webhook - Meta's WhatsApp Cloud API webhook (CGI).
 *
 * GET: the subscription handshake (hub.mode, hub.verify_token,
 * hub.challenge). POST: check the size and X-Hub-Signature-256, store the
 * raw body durably in the spool, answer 200, then start jobs/worker
 * detached. Links libc only, statically (DESIGN.md section 2): process
 * start is the cost of a CGI, so all real work, even the JSON shape check,
 * happens in the worker after the answer (a signed body that is not a
 * WhatsApp payload ends in spool/failed from there).
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "config.h"
#include "err.h"
#include "fsperm.h"
#include "hmac.h"
#include "log.h"
#include "spool.h"

#define CHALLENGE_MAX 128
/* Same bound as the worker's parser (WA_BODY_MAX; Meta sends <= 3 MB). */
#define WEBHOOK_BODY_MAX (4u * 1024 * 1024)
/* A refused body is still read up to this much, so the refusal reaches
 * the client instead of a reset (Apache's LimitRequestBody, set in the
 * shipped config, stops larger ones before us). */
#define WEBHOOK_DRAIN_MAX ((size_t)64 * 1024 * 1024)
#define WORKER_NICE 10     /* the detached worker yields to webhook calls */

extern char **environ;

static void
respond_text(int status, const char *text, const struct cgi_header *extra,
    size_t n_extra)
{
	if (cgi_respond(stdout, status, "text/plain; charset=utf-8", extra,
	    n_extra, text, strlen(text)) != OV_OK)
		log_error("cannot write the response");
}

static void
respond_plain(int status, const char *text)
{
	respond_text(status, text, NULL, 0);
}

/* Meta's challenge is a short token of digits; echo back nothing that
 * could be markup or a header: letters, digits and "-._~" only. */
static int
challenge_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (n >= CHALLENGE_MAX ||
		    !(isalnum((unsigned char)s[n]) || s[n] == '-' ||
		    s[n] == '.' || s[n] == '_' || s[n] == '~'))
			return 0;
	return n > 0;
}

static int
handle_get(const struct config *cfg)
{
	struct cgi_query q = { NULL, 0 };
	const char *token, *mode, *given, *challenge;
	char err[256];
	int rc;

	if (config_require(cfg, "WHATSAPP_VERIFY_TOKEN", &token, err,
	    sizeof(err)) != OV_OK) {
		log_error("%s", err);
		respond_plain(500, "server misconfigured\n");
		return 0;
	}
	rc = cgi_query_parse(getenv("QUERY_STRING"), &q);
	if (rc != OV_OK) {
		log_warn("verification refused: bad query string (%s)",
		    ov_strerror(rc));
		goto forbidden;
	}
	if (cgi_query_get(&q, "hub.mode", &mode) != OV_OK ||
	    strcmp(mode, "subscribe") != 0) {
		log_warn("verification refused: hub.mode is not subscribe");
		goto forbidden;
	}
	if (cgi_query_get(&q, "hub.verify_token", &given) != OV_OK ||
	    !hmac_equal_str(given, token)) {
		log_warn("verification refused: wrong hub.verify_token");
		goto forbidden;
	}
	if (cgi_query_get(&q, "hub.challenge", &challenge) != OV_OK ||
	    !challenge_ok(challenge)) {
		log_warn("verification refused: missing or bad hub.challenge");
		goto forbidden;
	}
	if (cgi_respond(stdout, 200, "text/plain", NULL, 0, challenge,
	    strlen(challenge)) != OV_OK)
		log_error("cannot write the response");
	else
		log_info("webhook verified");
	cgi_query_free(&q);
	return 0;
forbidden:
	cgi_query_free(&q);
	respond_plain(403, "forbidden\n");
	return 0;
}

/* open() that never returns 0, 1 or 2: stdin and stdout are closed by
 * now, and a descriptor landing there would be clobbered by the dup2()s
 * that set them up again. */
static int
open_high(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_CLOEXEC, mode), high;

	if (fd < 0 || fd > STDERR_FILENO)
		return fd;
	high = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	close(fd);
	return high;
}

/* dup2 that also works when fd already is target (then dup2 would keep
 * O_CLOEXEC and exec would close it). */
static int
move_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

static void
close_from(int lowfd)
{
	long max;

	if (close_range((unsigned)lowfd, ~0U, 0) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (long fd = lowfd; fd < max; fd++)
		close((int)fd);
}

/* Path of jobs/worker: OVIDIO_WORKER, else ../jobs/worker next to this
 * executable. Writes into buf (PATH_MAX); 0 on success. */
static int
worker_path(const struct config *cfg, char buf[PATH_MAX])
{
	char self[PATH_MAX], guess[PATH_MAX + 32];
	const char *p = config_get(cfg, "OVIDIO_WORKER");
	char *slash;
	ssize_t n;

	if (p != NULL) {
		if (strlen(p) >= PATH_MAX)
			return -1;
		memcpy(buf, p, strlen(p) + 1);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return -1;
	*slash = '\0';
	snprintf(guess, sizeof(guess), "%s/../jobs/worker", self);
	return realpath(guess, buf) != NULL ? 0 : -1;
}

/* Runs in the grandchild: never returns. */
static void
exec_worker(const char *path, const char *data_dir)
{
	char logdir[PATH_MAX], logpath[PATH_MAX];
	char *const argv[] = { "worker", NULL };
	int devnull, logfd = -1;
	sigset_t none;

	devnull = open_high("/dev/null", O_RDWR, 0);
	if (data_dir != NULL &&
	    snprintf(logdir, sizeof(logdir), "%s/log", data_dir) <
	    (int)sizeof(logdir) &&
	    snprintf(logpath, sizeof(logpath), "%s/log/worker.log", data_dir) <
	    (int)sizeof(logpath)) {
		if (mkdir(logdir, 0700) == 0 || errno == EEXIST)
			logfd = open_high(logpath, O_WRONLY | O_APPEND | O_CREAT,
			    0600);
	}
	if (logfd < 0)
		logfd = devnull;
	if (devnull < 0 || move_fd(devnull, STDIN_FILENO) != 0 ||
	    move_fd(devnull, STDOUT_FILENO) != 0 ||
	    move_fd(logfd, STDERR_FILENO) != 0)
		_exit(127);
	/* Nothing of Apache's (its pipes, listening sockets) may stay open:
	 * it would keep the request, or the server, waiting on us. */
	close_from(3);
	/* The answer to Meta comes first: on a small host the worker would
	 * otherwise take the CPU the next webhook calls need. It still gets
	 * all the CPU nobody else wants. */
	if (setpriority(PRIO_PROCESS, 0, WORKER_NICE) != 0)
		log_debug("cannot lower the worker's priority: %s",
		    strerror(errno));
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execve(path, argv, environ);
	log_error("cannot start worker %s: %s", path, strerror(errno));
	_exit(127);
}

/*
 * Whether a worker is running now: it holds locks/worker.lock while it
 * drains the spool. Our file is already in new/, and a running worker
 * looks at new/ again after it lets the lock go, so it will take our file;
 * starting another (a process that loads every library) would be wasted.
 */
static int
worker_running(const char *data_dir)
{
	char lock[PATH_MAX];
	int fd, busy;

	if (data_dir == NULL || snprintf(lock, sizeof(lock),
	    "%s/locks/worker.lock", data_dir) >= (int)sizeof(lock))
		return 0;
	fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);   /* also drops the shared lock if we got it */
	return busy;
}

static void
start_worker(const struct config *cfg, const char *data_dir)
{
	char path[PATH_MAX];
	pid_t pid;
	int status;

	if (worker_running(data_dir)) {
		log_debug("worker already running; it will take this file");
		return;
	}
	/* The message is already safe in the spool; cron runs the worker
	 * every minute, so this is worth a warning, not an error. */
	if (worker_path(cfg, path) != 0) {
		log_warn("worker not started: cannot find jobs/worker (set "
		    "OVIDIO_WORKER)");
		return;
	}
	if (access(path, X_OK) != 0) {
		log_warn("worker not started: %s: %s", path, strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("worker not started: fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		/* New session, then fork again: the worker is not a session
		 * leader (cannot get a terminal) and is not our child, so
		 * Apache ends the request as soon as we exit. */
		if (setsid() < 0)
			_exit(1);
		pid = fork();
		if (pid < 0)
			_exit(1);
		if (pid == 0)
			exec_worker(path, data_dir);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

static int
handle_post(const struct config *cfg)
{
	static const struct cgi_header retry[] = { { "Retry-After", "60" } };
	const char *secret, *data_dir = NULL, *sig;
	char err[256], name[SPOOL_NAME_MAX];
	struct spool sp;
	char *body = NULL;
	size_t len = 0;
	uint64_t clen = 0;
	int rc, spawn = 0;

	if (config_require(cfg, "WHATSAPP_APP_SECRET", &secret, err,
	    sizeof(err)) != OV_OK) {
		log_error("%s", err);
		cgi_drain_body(STDIN_FILENO, WEBHOOK_DRAIN_MAX);
		respond_plain(500, "server misconfigured\n");
		goto out;
	}
	rc = cgi_content_length(getenv("CONTENT_LENGTH"), &clen);
	if (rc == OV_ENOTFOUND) {
		respond_plain(411, "length required\n");
		goto out;
	}
	if (rc == OV_ETOOBIG || (rc == OV_OK && clen > WEBHOOK_BODY_MAX)) {
		log_warn("request refused: body over %u bytes", WEBHOOK_BODY_MAX);
		cgi_drain_body(STDIN_FILENO, WEBHOOK_DRAIN_MAX);
		respond_plain(413, "too large\n");
		goto out;
	}
	if (rc != OV_OK) {
		log_warn("request refused: malformed CONTENT_LENGTH");
		respond_plain(400, "bad request\n");
		goto out;
	}
	sig = getenv("HTTP_X_HUB_SIGNATURE_256");
	if (sig == NULL || *sig == '\0') {
		log_warn("request refused: no X-Hub-Signature-256");
		cgi_drain_body(STDIN_FILENO, WEBHOOK_DRAIN_MAX);
		respond_plain(401, "unauthorized\n");
		goto out;
	}
	rc = cgi_read_body(STDIN_FILENO, clen, WEBHOOK_BODY_MAX, &body, &len);
	if (rc != OV_OK) {
		log_warn("request refused: cannot read the body (%s)",
		    ov_strerror(rc));
		if (rc == OV_ENOMEM)
			respond_text(503, "try again later\n", retry, 1);
		else
			respond_plain(400, "bad request\n");
		goto out;
	}
	if (hmac_verify_header(sig, body, len, secret) != OV_OK) {
		log_warn("request refused: bad X-Hub-Signature-256 (%zu bytes)",
		    len);
		respond_plain(401, "unauthorized\n");
		goto out;
	}

	data_dir = config_get(cfg, "OVIDIO_DATA_DIR");
	if (spool_init(&sp, data_dir) != OV_OK) {
		respond_text(503, "try again later\n", retry, 1);
		goto out;
	}
	if (fsperm_dir_ok(data_dir, 1, err, sizeof(err)) != OV_OK) {
		log_error("data directory (OVIDIO_DATA_DIR): %s", err);
		respond_text(503, "try again later\n", retry, 1);
		goto out;
	}
	if (spool_put(&sp, body, len, name) != OV_OK) {
		respond_text(503, "try again later\n", retry, 1);
		goto out;
	}
	log_info("accepted %s (%zu bytes)", name, len);
	respond_plain(200, "ok\n");
	spawn = 1;
out:
	free(body);
	/* The answer is complete; start the worker before closing stdout.
	 * mod_cgid sends SIGTERM to a CGI still running when its output
	 * ends, so a fork after the close could be killed before it
	 * happens. The worker's process drops our stdout at once, and
	 * start_worker() returns as soon as the intermediate child exits. */
	fflush(stdout);
	if (spawn)
		start_worker(cfg, data_dir);
	/* close(), not fclose(): main() still flushes stdout, and a FILE
	 * must not be used after fclose(). The buffer is empty by now. */
	close(STDOUT_FILENO);
	close(STDIN_FILENO);
	return 0;
}

int
main(void)
{
	static const struct cgi_header allow[] = { { "Allow", "GET, POST" } };
	struct config *cfg = NULL;
	char err[512];
	int rc;

	log_init("webhook");
	rc = config_load(&cfg, err, sizeof(err));
	if (rc != OV_OK) {
		log_error("%s", err);
		cgi_drain_body(STDIN_FILENO, WEBHOOK_DRAIN_MAX);
		respond_plain(500, "server misconfigured\n");
		return 0;
	}
	log_set_level_name(config_get(cfg, "OVIDIO_LOG"));
	switch (cgi_method()) {
	case CGI_METHOD_GET:
		handle_get(cfg);
		break;
	case CGI_METHOD_POST:
		handle_post(cfg);
		break;
	default:
		cgi_drain_body(STDIN_FILENO, WEBHOOK_DRAIN_MAX);
		respond_text(405, "method not allowed\n", allow, 1);
		break;
	}
	fflush(stdout);
	config_free(cfg);
	return 0;
}
