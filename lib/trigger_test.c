/*
 * NAME
 *	trigger_test - the qmgr wakeup grammar, client and parser
 * DESCRIPTION
 *	The parser's vectors (hostile ones included), then the client
 *	against a real unix socket in a temporary directory: the bytes a
 *	listener receives, a missing socket, a socket nobody listens on,
 *	an overlong path, a full backlog (bounded by wait_ms, no hang).
 *	Then trigger_qmgr_keep(): requests share one connection, a closed
 *	one is made again once, a daemon that reads nothing never makes
 *	the client wait, and a missing listener is an error.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "sock.h"
#include "tap.h"
#include "trigger.h"

static const struct {
	const char *name;
	const char *in;
	size_t	 len;			/* 0: strlen(in) */
	const char *want;		/* the callbacks, comma-separated */
} vec[] = {
	{"W is a wakeup", "W", 0, "W"},
	{"F is a flush", "F", 0, "F"},
	{"I<id> flushes one message", "I4F2A1B3C", 0, "I:4F2A1B3C"},
	{"several requests on one connection", "WFIab12\nW", 0,
	    "W,F,I:ab12,W"},
	{"the id ends at a non-alphanumeric byte", "Iab-cd", 0, "I:ab"},
	{"I without an id is ignored", "I", 0, ""},
	{"I followed by a newline is ignored", "I\nW", 0, "W"},
	{"empty input", "", 0, ""},
	{"a trailing newline is ignored", "W\n", 0, "W"},
	{"lower case is not a request", "wfi", 0, ""},
	{"NUL bytes are skipped", "\0W\0F", 4, "W,F"},
	{"8-bit bytes are skipped", "\xffW\x80", 0, "W"},
	{"an id ends at 8-bit", "Iab\xc3\xa9", 0, "I:ab"},
	{"an id stops at QUEUE_ID_MAX (32) characters",
	    "I0123456789012345678901234567890123456", 0,
	    "I:01234567890123456789012345678901"},
	{"W inside an id is part of the id", "IWF", 0, "I:WF"},
};

/* record - append one request to the transcript */
static void
record(int request, const char *id, void *ctx)
{
	struct buf *b = ctx;

	if (BUF_LEN(b))
		buf_putc(b, ',');
	buf_putc(b, request);
	if (id)
		buf_printf(b, ":%s", id);
}

/* now_ms - monotonic milliseconds */
static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

/* receive - accept one connection, read it to EOF */
static void
receive(int lfd, struct buf *got)
{
	struct pollfd pfd = {lfd, POLLIN, 0};
	char	 tmp[256];
	ssize_t	 n;
	int	 fd;

	buf_reset(got);
	if (poll(&pfd, 1, 2000) != 1 || (fd = accept(lfd, NULL, NULL)) < 0) {
		buf_puts(got, "(no connection)");
		return;
	}
	pfd.fd = fd;
	while (poll(&pfd, 1, 2000) == 1 && (n = read(fd, tmp,
	    sizeof(tmp))) > 0)
		buf_append(got, tmp, (size_t)n);
	close(fd);
}

/* count_requests - how many requests a transcript lists */
static long
count_requests(const char *want)
{
	long	 n = *want ? 1 : 0;

	for (; *want; want++)
		n += *want == ',';
	return (n);
}

/* test_parse - the grammar's vectors */
static void
test_parse(void)
{
	struct buf *b = buf_new(64);
	size_t	 i, n, len;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		buf_reset(b);
		len = vec[i].len ? vec[i].len : strlen(vec[i].in);
		n = trigger_parse(vec[i].in, len, record, b);
		tap_is_str(BUF_STR(b), vec[i].want, vec[i].name);
		tap_ok((long)n == count_requests(vec[i].want),
		    "%s: returns the number of requests (%zu)", vec[i].name, n);
	}
	buf_free(b);
}

/* test_client - the bytes a real listener receives */
static void
test_client(const char *dir)
{
	struct buf *got = buf_new(64), *parsed = buf_new(64);
	char	 path[512], sub[512], err[512];
	int	 lfd, rc;

	snprintf(sub, sizeof(sub), "%s/public", dir);
	snprintf(path, sizeof(path), "%s/public/qmgr", dir);
	if (mkdir(sub, 0700) < 0
	    || (lfd = sock_listen_unix(path, 0600, 16, err, sizeof(err))) < 0) {
		tap_ok(0, "listener at %s: %s", path, err);
		return;
	}
	rc = trigger_send(path, TRIGGER_REQ_WAKEUP, 0, err, sizeof(err));
	tap_is_int(rc, 0, "trigger_send W returns 0");
	receive(lfd, got);
	tap_is_str(BUF_STR(got), "W", "the listener receives exactly \"W\"");

	rc = trigger_qmgr(dir, TRIGGER_REQ_FLUSH, 2000, err, sizeof(err));
	tap_is_int(rc, 0, "trigger_qmgr F to queue_dir/public/qmgr returns 0");
	receive(lfd, got);
	tap_is_str(BUF_STR(got), "F", "the listener receives exactly \"F\"");

	rc = trigger_qmgr(dir, "I4F2A1B3C", 0, err, sizeof(err));
	tap_is_int(rc, 0, "trigger_qmgr I<id> returns 0");
	receive(lfd, got);
	tap_is_str(BUF_STR(got), "I4F2A1B3C", "I<id> arrives as written");
	(void)trigger_parse(BUF_STR(got), BUF_LEN(got), record, parsed);
	tap_is_str(BUF_STR(parsed), "I:4F2A1B3C",
	    "what the client writes, the parser reads back");

	close(lfd);
	/* the socket file stays, nobody listens: ECONNREFUSED */
	rc = trigger_send(path, "W", 2000, err, sizeof(err));
	tap_ok(rc == -1 && strstr(err, "connect") != NULL,
	    "a socket nobody listens on is an error (%s)", err);
	unlink(path);
	buf_free(got);
	buf_free(parsed);
}

/* test_missing - a missing socket is an error, quickly */
static void
test_missing(const char *dir)
{
	char	 path[512], err[512] = "";
	long	 t0 = now_ms();
	int	 rc;

	snprintf(path, sizeof(path), "%s/no/such/socket", dir);
	rc = trigger_send(path, "W", 2000, err, sizeof(err));
	tap_is_int(rc, -1, "a missing socket returns -1");
	tap_ok(strstr(err, path) && strstr(err, strerror(ENOENT)),
	    "the error names the path and the cause (%s)", err);
	tap_ok(now_ms() - t0 < 1000, "a missing socket does not wait for "
	    "wait_ms (%ld ms)", now_ms() - t0);
	rc = trigger_qmgr(dir, "W", 0, err, sizeof(err));
	tap_ok(rc == -1 && strstr(err, "public/qmgr"),
	    "trigger_qmgr with no qmgr returns -1 (%s)", err);
	memset(path, 'x', 200);
	path[0] = '/';
	path[200] = 0;
	rc = trigger_send(path, "W", 0, err, sizeof(err));
	tap_ok(rc == -1 && strstr(err, "too long"),
	    "an overlong path returns -1 (%.40s)", err);
	rc = trigger_qmgr(path, "W", 0, err, sizeof(err));
	tap_ok(rc == -1 && strstr(err, "too long"),
	    "an overlong queue directory returns -1 (%.40s)", err);
}

/* test_backlog - a full backlog: bounded by wait_ms, then it works */
static void
test_backlog(const char *dir)
{
	struct pollfd pfd = {-1, POLLIN, 0};
	char	 path[512], err[512];
	int	 lfd, fds[64], n = 0, rc;
	long	 t0, t;

	snprintf(path, sizeof(path), "%s/full", dir);
	if ((lfd = sock_listen_unix(path, 0600, 0, err, sizeof(err))) < 0) {
		tap_ok(0, "listener %s: %s", path, err);
		return;
	}
	pfd.fd = lfd;
	while (n < 64 && (fds[n] = socket(AF_UNIX, SOCK_STREAM
	    | SOCK_NONBLOCK, 0)) >= 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		strcpy(sun.sun_path, path);
		if (connect(fds[n], (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			close(fds[n]);
			break;
		}
		n++;
	}
	tap_ok(n < 64, "the backlog fills up (%d pending)", n);
	t0 = now_ms();
	rc = trigger_send(path, "W", 0, err, sizeof(err));
	t = now_ms() - t0;
	tap_ok(rc == -1 && t < 100, "backlog full, wait_ms 0: -1 at once "
	    "(%ld ms, %s)", t, err);
	t0 = now_ms();
	rc = trigger_send(path, "W", 300, err, sizeof(err));
	t = now_ms() - t0;
	tap_ok(rc == -1 && t >= 250 && t < 2000, "backlog full, wait_ms 300: "
	    "-1 after about 300 ms (%ld ms)", t);
	while (n > 0)
		close(fds[--n]);
	/* accept the closed connections so the next one fits */
	while (poll(&pfd, 1, 50) == 1 && (rc = accept(lfd, NULL, NULL)) >= 0)
		close(rc);
	rc = trigger_send(path, "W", 300, err, sizeof(err));
	tap_is_int(rc, 0, "once the backlog drains, the trigger goes through");
	close(lfd);
	unlink(path);
}

/* keep_accept - accept one connection within 2 s; -1 when none */
static int
keep_accept(int lfd)
{
	struct pollfd pfd = {lfd, POLLIN, 0};

	if (poll(&pfd, 1, 2000) != 1)
		return (-1);
	return (accept(lfd, NULL, NULL));
}

/* keep_read - what arrived on fd within 200 ms */
static void
keep_read(int fd, struct buf *got)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	char	 tmp[256];
	ssize_t	 n;

	buf_reset(got);
	while (poll(&pfd, 1, 200) == 1 && (n = read(fd, tmp,
	    sizeof(tmp))) > 0)
		buf_append(got, tmp, (size_t)n);
}

/* test_keep - one kept connection, a restarted listener, a full buffer */
static void
test_keep(const char *dir)
{
	struct pollfd pfd = {-1, POLLIN, 0};
	struct buf *got = buf_new(64);
	char	 path[512], err[512];
	int	 lfd, cfd, rc, i, fails = 0;
	long	 t0, t;

	snprintf(path, sizeof(path), "%s/public/qmgr", dir);
	if ((lfd = sock_listen_unix(path, 0600, 16, err, sizeof(err))) < 0) {
		tap_ok(0, "listener at %s: %s", path, err);
		return;
	}
	for (i = 0; i < 3; i++)
		if (trigger_qmgr_keep(dir, TRIGGER_REQ_WAKEUP, err,
		    sizeof(err)) < 0)
			fails++;
	tap_is_int(fails, 0, "trigger_qmgr_keep W three times returns 0");
	cfd = keep_accept(lfd);
	tap_ok(cfd >= 0, "the listener accepts one connection");
	keep_read(cfd, got);
	tap_is_str(BUF_STR(got), "WWW", "  which carries all three \"W\"");
	pfd.fd = lfd;
	tap_ok(poll(&pfd, 1, 100) == 0, "  and no second connection");

	/* the daemon closes its end (qmgr restarted or idle) */
	close(cfd);
	rc = trigger_qmgr_keep(dir, TRIGGER_REQ_WAKEUP, err, sizeof(err));
	tap_is_int(rc, 0, "after the daemon closed the connection: 0");
	cfd = keep_accept(lfd);
	keep_read(cfd, got);
	tap_is_str(BUF_STR(got), "W",
	    "  the client connected again and sent the \"W\" there");

	/* a daemon that reads nothing: the buffer fills, nobody waits */
	t0 = now_ms();
	for (i = 0, fails = 0; i < 100000; i++)
		if (trigger_qmgr_keep(dir, TRIGGER_REQ_WAKEUP, err,
		    sizeof(err)) < 0)
			fails++;
	t = now_ms() - t0;
	tap_ok(fails == 0 && t < 5000, "100,000 \"W\" to a daemon that "
	    "does not read: all return 0, none blocks (%ld ms)", t);
	close(cfd);

	/* nobody listens any more: the one reconnect fails, -1 */
	close(lfd);
	rc = trigger_qmgr_keep(dir, TRIGGER_REQ_WAKEUP, err, sizeof(err));
	tap_ok(rc == -1 && strstr(err, "connect") != NULL,
	    "no listener: -1 (%s)", err);
	rc = trigger_qmgr_keep(dir, TRIGGER_REQ_WAKEUP, err, sizeof(err));
	tap_ok(rc == -1, "  and again on the next call (%s)", err);

	/* a new listener at the same path: the next request reaches it */
	unlink(path);
	if ((lfd = sock_listen_unix(path, 0600, 16, err, sizeof(err))) < 0) {
		tap_ok(0, "listener at %s: %s", path, err);
		buf_free(got);
		return;
	}
	rc = trigger_qmgr_keep(dir, TRIGGER_REQ_FLUSH, err, sizeof(err));
	cfd = keep_accept(lfd);
	keep_read(cfd, got);
	tap_ok(rc == 0 && strcmp(BUF_STR(got), "F") == 0,
	    "a new listener gets the next request (%s)", BUF_STR(got));
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	/* the client sees EOF at its next request and cannot reconnect */
	rc = trigger_qmgr_keep(dir, TRIGGER_REQ_WAKEUP, err, sizeof(err));
	tap_ok(rc == -1, "listener gone again: -1 (%s)", err);
	unlink(path);
	buf_free(got);
}

int
main(void)
{
	char	 dir[] = "/tmp/trigger_test.XXXXXX", cmd[600];

	test_parse();
	if (mkdtemp(dir) == NULL) {
		tap_ok(0, "mkdtemp: %s", strerror(errno));
		return (tap_done());
	}
	test_client(dir);
	test_missing(dir);
	test_backlog(dir);
	test_keep(dir);
	snprintf(cmd, sizeof(cmd), "%s/public", dir);
	rmdir(cmd);
	rmdir(dir);
	return (tap_done());
}
