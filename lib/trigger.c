/*
 * NAME
 *	trigger - wakeup requests to a daemon's socket
 * SYNOPSIS
 *	See trigger.h (the request grammar is there).
 * DESCRIPTION
 *	The one client and the one parser of triggers: smtpd, master's
 *	wakeup timers, postern flush, sendmail, postqueue and postsuper
 *	send through trigger_send(); qmgr reads through trigger_parse().
 * DIAGNOSTICS
 *	-1 with a message in err; nothing is logged here.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "trigger.h"

#define TRIGGER_RETRY_MS	10	/* between connects, backlog full */

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

/* trigger_send - connect to path, write request, close */
int
trigger_send(const char *path, const char *request, int wait_ms, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	size_t	 len = strlen(request);
	ssize_t	 n;
	int	 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return (-1);
	}
	strcpy(sun.sun_path, path);
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

/* trigger_qmgr - trigger_send to queue_dir/public/qmgr */
int
trigger_qmgr(const char *queue_dir, const char *request, int wait_ms,
    char *err, size_t errlen)
{
	char	 path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", queue_dir,
	    TRIGGER_QMGR_PATH) >= sizeof(path)) {
		snprintf(err, errlen, "socket path too long: %s/%s",
		    queue_dir, TRIGGER_QMGR_PATH);
		return (-1);
	}
	return (trigger_send(path, request, wait_ms, err, errlen));
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
