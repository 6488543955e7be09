/*
 * NAME
 *	trigger - wakeup requests to a daemon's socket
 * SYNOPSIS
 *	See trigger.h (the request grammar is there).
 * DESCRIPTION
 *	The one client and the one parser of triggers: master's wakeup
 *	timers, postern flush, sendmail, postqueue and postsuper send
 *	through trigger_send(), smtpd through trigger_keep() (one kept
 *	connection per process, shared by its threads under keep_lock:
 *	see trigger.h for why a lock and not one per thread); qmgr reads
 *	through trigger_parse().
 * DIAGNOSTICS
 *	-1 with a message in err; nothing is logged here.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "trigger.h"

#define TRIGGER_RETRY_MS	10	/* between connects, backlog full */

#define SUN_PATH_SIZE	sizeof(((struct sockaddr_un *)0)->sun_path)

/* The process's kept connection (trigger_keep), under keep_lock. */
static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;
static int keep_fd = -1;
static char keep_path[SUN_PATH_SIZE];

/* trigger_connect - non-blocking connect, retried while the backlog is full */
static int
trigger_connect(const struct sockaddr_un *sun, int wait_ms)
{
	int	 fd, waited = 0;

	for (;;) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK
		    | SOCK_CLOEXEC, 0)) < 0)
			return (-1);
		if (connect(fd, (const struct sockaddr *)sun,
		    sizeof(*sun)) == 0)
			return (fd);
		close(fd);
		/* A unix socket says EAGAIN when the listener's backlog is
		 * full; the socket is then unusable, so connect anew. */
		if (errno != EAGAIN || waited >= wait_ms)
			return (-1);
		(void)poll(NULL, 0, TRIGGER_RETRY_MS);
		waited += TRIGGER_RETRY_MS;
	}
}

/* trigger_addr - path as a unix socket address; -1 when too long */
static int
trigger_addr(struct sockaddr_un *sun, const char *path, char *err,
    size_t errlen)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return (-1);
	}
	strcpy(sun->sun_path, path);
	return (0);
}

/* trigger_send - connect to path, write request, close */
int
trigger_send(const char *path, const char *request, int wait_ms, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	size_t	 len = strlen(request);
	ssize_t	 n;
	int	 fd;

	if (trigger_addr(&sun, path, err, errlen) < 0)
		return (-1);
	if ((fd = trigger_connect(&sun, wait_ms)) < 0) {
		snprintf(err, errlen, "connect %s: %s", path, strerror(errno));
		return (-1);
	}
	n = send(fd, request, len, MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		snprintf(err, errlen, "write %s: %s", path, n < 0
		    ? strerror(errno) : "short write");
		close(fd);
		return (-1);
	}
	close(fd);
	return (0);
}

/* trigger_qmgr_path - queue_dir/public/qmgr; -1 when too long */
static int
trigger_qmgr_path(char *path, size_t size, const char *queue_dir,
    char *err, size_t errlen)
{
	if ((size_t)snprintf(path, size, "%s/%s", queue_dir,
	    TRIGGER_QMGR_PATH) >= size) {
		snprintf(err, errlen, "socket path too long: %s/%s",
		    queue_dir, TRIGGER_QMGR_PATH);
		return (-1);
	}
	return (0);
}

/* trigger_qmgr - trigger_send to queue_dir/public/qmgr */
int
trigger_qmgr(const char *queue_dir, const char *request, int wait_ms,
    char *err, size_t errlen)
{
	char	 path[SUN_PATH_SIZE + 1];

	if (trigger_qmgr_path(path, sizeof(path), queue_dir, err, errlen) < 0)
		return (-1);
	return (trigger_send(path, request, wait_ms, err, errlen));
}

/* keep_close - forget the kept connection (keep_lock held) */
static void
keep_close(void)
{
	if (keep_fd >= 0)
		close(keep_fd);
	keep_fd = -1;
}

/* keep_send - one try on the kept connection (keep_lock held) */
static int
keep_send(const char *path, const char *request, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	size_t	 len = strlen(request);
	ssize_t	 n;
	int	 e;

	if (keep_fd >= 0 && strcmp(keep_path, path) != 0)
		keep_close();
	if (keep_fd < 0) {
		if (trigger_addr(&sun, path, err, errlen) < 0) {
			errno = ENAMETOOLONG;
			return (-1);
		}
		if ((keep_fd = trigger_connect(&sun, 0)) < 0) {
			snprintf(err, errlen, "connect %s: %s", path,
			    strerror(errno));
			errno = 0;		/* no second try */
			return (-1);
		}
		strcpy(keep_path, path);
	}
	/* The socket is non-blocking: EAGAIN is a full buffer. */
	if ((n = send(keep_fd, request, len, MSG_NOSIGNAL)) == (ssize_t)len)
		return (0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return (0);		/* qmgr has requests unread */
	e = n < 0 ? errno : 0;		/* 0: a short write, no retry */
	snprintf(err, errlen, "write %s: %s", path, n < 0 ? strerror(e)
	    : "short write");
	keep_close();
	errno = e;
	return (-1);
}

/* trigger_keep - request on the process's kept connection to path */
int
trigger_keep(const char *path, const char *request, char *err,
    size_t errlen)
{
	int	 rc, had;

	pthread_mutex_lock(&keep_lock);
	had = keep_fd >= 0 && strcmp(keep_path, path) == 0;
	rc = keep_send(path, request, err, errlen);
	/* the daemon went away (restart, idle close): connect once more */
	if (rc < 0 && had && (errno == EPIPE || errno == ECONNRESET
	    || errno == ENOTCONN))
		rc = keep_send(path, request, err, errlen);
	pthread_mutex_unlock(&keep_lock);
	return (rc);
}

/* trigger_qmgr_keep - trigger_keep to queue_dir/public/qmgr */
int
trigger_qmgr_keep(const char *queue_dir, const char *request, char *err,
    size_t errlen)
{
	char	 path[SUN_PATH_SIZE + 1];

	if (trigger_qmgr_path(path, sizeof(path), queue_dir, err, errlen) < 0)
		return (-1);
	return (trigger_keep(path, request, err, errlen));
}

/* trigger_parse - call fn for each request in data */
size_t
trigger_parse(const char *data, size_t len, trigger_fn *fn, void *ctx)
{
	char	 id[QUEUE_ID_MAX + 1];
	size_t	 i, k, count = 0;

	for (i = 0; i < len; i++) {
		switch (data[i]) {
		case TRIGGER_WAKEUP:
		case TRIGGER_FLUSH:
			fn(data[i], NULL, ctx);
			count++;
			break;
		case TRIGGER_FLUSH_ID:
			for (k = 0; i + 1 < len && k < QUEUE_ID_MAX
			    && isalnum((unsigned char)data[i + 1]); k++)
				id[k] = data[++i];
			id[k] = 0;
			if (k > 0) {
				fn(TRIGGER_FLUSH_ID, id, ctx);
				count++;
			}
			break;
		default:
			break;
		}
	}
	return (count);
}
