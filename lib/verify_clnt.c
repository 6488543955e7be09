/*
 * NAME
 *	verify_clnt - client of the address verification service
 * SYNOPSIS
 *	See verify_clnt.h.
 * DESCRIPTION
 *	One short blocking connection per request: the callers are
 *	smtpd's checker threads and qmgr's io thread, and a request is a
 *	few hundred bytes to a local process.
 * DIAGNOSTICS
 *	See verify_clnt.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "verify_clnt.h"
#include "xalloc.h"

/* verify_clnt_path - $queue_directory/private/$address_verify_service_name */
char *
verify_clnt_path(void)
{
	const char *name = conf_str("address_verify_service_name");

	return (xasprintf("%s/private/%s", conf_str("queue_directory"),
	    name && *name ? name : "verify"));
}

/* verify_call - one request, one reply; NULL on failure (logged) */
static struct attr_list *
verify_call(const char *path, const struct buf *req, int timeout)
{
	struct sockaddr_un sun;
	struct attr_list *l;
	char	 err[128];
	int	 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warn("verify service %s: socket path too long", path);
		return (NULL);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0
	    || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		log_warn("connect to verify service %s: %m", path);
		if (fd >= 0)
			close(fd);
		return (NULL);
	}
	if (attr_write(fd, req, timeout) < 0) {
		log_warn("write to verify service %s: %m", path);
		close(fd);
		return (NULL);
	}
	if ((l = attr_read(fd, timeout, err, sizeof(err))) == NULL)
		log_warn("read from verify service %s: %s", path, err);
	close(fd);
	return (l);
}

/* verify_clnt_query - the status of addr (a probe goes out if needed) */
int
verify_clnt_query(const char *path, const char *addr, int *status,
    char *text, size_t len, int timeout)
{
	struct buf *b = buf_new(256);
	struct attr_list *l;
	const char *reason;
	long	 st = -1;
	int	 rc = -1;

	attr_put(b, "version", ATTR_VERSION);
	attr_put(b, "request", "query");
	attr_put(b, "address", addr);
	attr_end(b);
	if ((l = verify_call(path, b, timeout)) != NULL) {
		reason = attr_get(l, "reason");
		if (attr_get_long(l, "addr_status", &st) == 0
		    && st >= VERIFY_STAT_OK && st <= VERIFY_STAT_TODO) {
			*status = (int)st;
			snprintf(text, len, "%s", reason ? reason : "");
			rc = 0;
		} else
			log_warn("verify service %s: malformed reply", path);
	}
	attr_list_free(l);
	buf_free(b);
	return (rc);
}

/* verify_clnt_update - a probe's result */
int
verify_clnt_update(const char *path, const char *addr, int status,
    const char *text, int timeout)
{
	struct buf *b = buf_new(256);
	struct attr_list *l;

	attr_put(b, "version", ATTR_VERSION);
	attr_put(b, "request", "update");
	attr_put(b, "address", addr);
	attr_put_long(b, "addr_status", status);
	attr_put(b, "reason", text);
	attr_end(b);
	l = verify_call(path, b, timeout);
	buf_free(b);
	if (l == NULL)
		return (-1);
	attr_list_free(l);
	return (0);
}
