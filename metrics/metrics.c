/*
 * NAME
 *	metrics - Prometheus endpoint for postern's counters and queue
 * SYNOPSIS
 *	master.cf: 127.0.0.1:9154 inet n - n - 1 metrics
 *	metrics [-c confdir] [-o name=value] -l 127.0.0.1:9154
 * DESCRIPTION
 *	Answers "GET /metrics" (HTTP/1.0 or 1.1, one request per
 *	connection) with the Prometheus text format (version 0.0.4): the
 *	counters and histograms every daemon adds to
 *	$data_directory/metrics (lib/metrics.h), the sessions and worker
 *	pool depth of each live daemon process, and the number of
 *	messages in each queue directory (maildrop, incoming, active,
 *	deferred, hold, corrupt), counted at each scrape. "GET /" answers
 *	a one-line pointer to /metrics; anything else is 404 or 405.
 *
 *	The listening address is the master.cf service's: put it on a
 *	loopback address (the endpoint has no authentication). A request
 *	must arrive within 5 s and fit in 8 KiB; requests are served one
 *	at a time.
 * DIAGNOSTICS
 *	"warning: metrics: $data_directory/metrics is not available"
 *	once, when master has not created the counters (the queue figures
 *	are still served).
 */
#include <sys/mman.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "server.h"
#include "str.h"
#include "xalloc.h"

#define METRICS_REQ_MAX		8192
#define METRICS_REQ_TIMEOUT	5000	/* ms */

static const char *const queue_names[] = {
	"maildrop", "incoming", "active", "deferred", "hold", "corrupt", NULL
};

/* read_request - the request head, or NULL on timeout, EOF, overflow */
static char *
read_request(int fd)
{
	struct buf *b = buf_new(512);
	struct pollfd pfd = {fd, POLLIN, 0};
	char	 chunk[1024];
	ssize_t	 n;

	for (;;) {
		if (BUF_LEN(b) >= 4 && (strstr(BUF_STR(b), "\r\n\r\n")
		    || strstr(BUF_STR(b), "\n\n")))
			return (buf_steal(b));
		if (BUF_LEN(b) > METRICS_REQ_MAX
		    || poll(&pfd, 1, METRICS_REQ_TIMEOUT) <= 0)
			break;
		if ((n = read(fd, chunk, sizeof(chunk))) < 0
		    && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		buf_append(b, chunk, (size_t)n);
	}
	buf_free(b);
	return (NULL);
}

/* write_all - the whole reply, waiting at most the timeout per write */
static void
write_all(int fd, const char *p, size_t len)
{
	struct pollfd pfd = {fd, POLLOUT, 0};
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if ((errno == EAGAIN || errno == EINTR)
			    && poll(&pfd, 1, METRICS_REQ_TIMEOUT) > 0)
				continue;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

/* reply - status line, headers, body */
static void
reply(int fd, const char *status, const char *type, struct buf *body,
    int head_only)
{
	struct buf *r = buf_new(256);

	buf_printf(r, "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: "
	    "%zu\r\nConnection: close\r\n\r\n", status, type, BUF_LEN(body));
	if (!head_only)
		buf_append(r, BUF_STR(body), BUF_LEN(body));
	write_all(fd, BUF_STR(r), BUF_LEN(r));
	buf_free(r);
}

/* queue_counts - messages per queue directory */
static void
queue_counts(struct buf *out)
{
	const char *qdir = conf_str("queue_directory");
	struct strv *ids;
	int	 i;

	buf_puts(out, "# HELP postern_queue_messages Messages in each queue "
	    "directory now.\n# TYPE postern_queue_messages gauge\n");
	for (i = 0; queue_names[i]; i++) {
		ids = queue_scan(qdir, queue_names[i]);
		buf_printf(out, "postern_queue_messages{queue=\"%s\"} %zu\n",
		    queue_names[i], ids ? ids->argc : (size_t)0);
		strv_free(ids);
	}
}

/* metrics_body - the whole exposition */
static void
metrics_body(struct buf *out)
{
	static int warned;
	const struct metrics_shm *m;
	char	*path = xasprintf("%s/metrics", conf_str("data_directory"));

	if ((m = metrics_map_read(path)) != NULL) {
		metrics_format(out, m);
		munmap((void *)m, sizeof(*m));
	} else if (!warned++)
		log_warn("metrics: %s is not available", path);
	free(path);
	queue_counts(out);
}

/* metrics_accept - one HTTP request */
static void
metrics_accept(const struct server_conn *conn)
{
	struct buf *body = buf_new(8192);
	char	*req, method[16], target[256];
	int	 head_only;

	server_session_begin();
	if ((req = read_request(conn->fd)) == NULL) {
		close(conn->fd);
		buf_free(body);
		server_session_end();
		return;
	}
	if (sscanf(req, "%15s %255s", method, target) != 2) {
		buf_puts(body, "bad request\n");
		reply(conn->fd, "400 Bad Request", "text/plain", body, 0);
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		buf_puts(body, "method not allowed\n");
		reply(conn->fd, "405 Method Not Allowed", "text/plain", body,
		    0);
	} else {
		head_only = strcmp(method, "HEAD") == 0;
		if (strcmp(target, "/metrics") == 0
		    || strncmp(target, "/metrics?", 9) == 0) {
			metrics_body(body);
			reply(conn->fd, "200 OK", "text/plain; version=0.0.4; "
			    "charset=utf-8", body, head_only);
		} else if (strcmp(target, "/") == 0) {
			buf_puts(body, "postern metrics: see /metrics\n");
			reply(conn->fd, "200 OK", "text/plain", body, head_only);
		} else {
			buf_puts(body, "not found\n");
			reply(conn->fd, "404 Not Found", "text/plain", body,
			    head_only);
		}
	}
	free(req);
	buf_free(body);
	close(conn->fd);
	server_session_end();
}

int
main(int argc, char **argv)
{
	static const struct server_spec spec = {
		.program = "metrics",
		.accept = metrics_accept,
	};

	return (server_main(argc, argv, &spec));
}
