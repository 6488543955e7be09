/*
 * NAME
 *	virtual_request - one lib/deliver.h request to the virtual agent
 * SYNOPSIS
 *	See virtual.h.
 * DESCRIPTION
 *	Checks the request (version, queue_name, queue_id, recipients),
 *	opens the queue file read-only, takes the message from it when
 *	queue_file_open() read the file whole (a small one), else reads
 *	it (up to 256 KB with one pread into the worker thread's buffer;
 *	a larger one is mapped), delivers every
 *	recipient (the Maildir files of all of them in one batch, made
 *	durable together: virtual.h), logs Postfix's delivery line for
 *	each and builds the answer, only after the batch commit. A
 *	recipient with rcpt.N.retry=0 skips the look for an earlier copy;
 *	one delivered into a Maildir is answered rcpt.N.exactly_once=1. A
 *	request that cannot be served at all (queue file gone or corrupt)
 *	answers every recipient deferred 4.3.0, so qmgr decides.
 * DIAGNOSTICS
 *	A malformed request gets an answer without recipients (rcpt_count
 *	=0) and a warning: qmgr then defers the whole request.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "deliver.h"
#include "deliver_log.h"
#include "log.h"
#include "queue.h"
#include "virtual.h"
#include "xalloc.h"

/*
 * A message up to this size is read (one pread) into the worker
 * thread's buffer, kept between requests; a larger one is mapped. A
 * mapping per request costs an mmap, page faults and an munmap whose
 * TLB shootdown interrupts the other threads' processors.
 */
#define VIRTUAL_READ_MAX	(256 * 1024)

struct vmsg {
	struct queue_file *qf;		/* NULL: not open */
	const char *text;		/* the message; NULL: unreadable */
	double	 arrival;		/* seconds since the epoch */
	void	*map;			/* a large message's mapping */
	size_t	 maplen;
};

/* read_at - len bytes at off, or -1 (errno; EIO for a short file) */
static int
read_at(int fd, char *p, size_t len, off_t off)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = pread(fd, p, len, off)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = EIO;
			return (-1);
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * msg_open - the request's queue file, read-only, and its message
 * (deliver_msg_open() but read into m's buffer when it is small)
 */
static void
msg_open(struct vmsg *msg, const struct virtual_cfg *cfg,
    struct virtual_maps *m, const struct attr_list *req, char *err,
    size_t errlen)
{
	char	*path = queue_path(cfg->queue_dir, attr_get(req, "queue_name"),
	    attr_get(req, "queue_id"));
	struct queue_file *qf;
	size_t	 len;
	char	*buf;
	void	*map;

	memset(msg, 0, sizeof(*msg));
	msg->arrival = deliver_log_now();
	if ((qf = msg->qf = queue_file_open(path, 0, err, errlen)) == NULL) {
		free(path);
		return;
	}
	msg->arrival = (double)qf->arrival + (double)qf->arrival_usec / 1e6;
	len = (size_t)qf->msg_len;
	if ((msg->text = queue_file_msg(qf)) != NULL)
		;
	else if (len <= VIRTUAL_READ_MAX) {
		buf = virtual_msg_buf(m, len);
		if (read_at(qf->fd, buf, len, qf->msg_offset) < 0)
			snprintf(err, errlen, "read %s: %s", path,
			    strerror(errno));
		else
			msg->text = buf;
	} else {
		msg->maplen = (size_t)(qf->msg_offset + qf->msg_len);
		map = mmap(NULL, msg->maplen, PROT_READ, MAP_PRIVATE, qf->fd,
		    0);
		if (map == MAP_FAILED)
			snprintf(err, errlen, "mmap %s: %s", path,
			    strerror(errno));
		else {
			msg->map = map;
			msg->text = (const char *)map + qf->msg_offset;
		}
	}
	free(path);
}

/* msg_close - release what msg_open() got */
static void
msg_close(struct vmsg *msg)
{
	if (msg->map)
		munmap(msg->map, msg->maplen);
	queue_file_close(msg->qf);
	memset(msg, 0, sizeof(*msg));
}

/* log_delivery - the delivery line (lib/deliver_log.h) for one recipient */
static void
log_delivery(const char *id, const char *rcpt, const char *orig,
    double arrival, double start, const struct virtual_result *res)
{
	struct deliver_log e = {
		.queue_id = id, .rcpt = rcpt, .orig_rcpt = orig,
		.relay = "virtual", .dsn = res->status,
		.status = deliver_log_status(res->action),
		.reason = res->reason, .arrival = arrival,
		/* the agent's start stands for qmgr's hand-off: b is 0 */
		.active = start, .handoff = start,
	};

	deliver_log(&e);
}

/* answer - one recipient's answer attributes */
static void
answer(struct buf *resp, long i, const struct virtual_result *res)
{
	char	 name[64];

	snprintf(name, sizeof(name), "rcpt.%ld.status", i);
	attr_put(resp, name, res->status);
	snprintf(name, sizeof(name), "rcpt.%ld.action", i);
	attr_put(resp, name, res->action);
	snprintf(name, sizeof(name), "rcpt.%ld.reason", i);
	attr_put(resp, name, res->reason);
	snprintf(name, sizeof(name), "rcpt.%ld.relay", i);
	attr_put(resp, name, "virtual");
	if (res->exactly_once) {
		snprintf(name, sizeof(name), "rcpt.%ld.exactly_once", i);
		attr_put(resp, name, "1");
	}
}

/* retry - 0 only for qmgr's explicit rcpt.N.retry=0 (absent: older qmgr) */
static int
retry(const struct attr_list *req, long i)
{
	const char *v = deliver_rcpt_attr(req, i, "retry");

	return (v == NULL || strcmp(v, "0") != 0);
}

/* virtual_request - serve one request, answer into resp */
void
virtual_request(const struct virtual_cfg *cfg, struct virtual_maps *m,
    const struct attr_list *req, struct buf *resp)
{
	struct virtual_result *res, *r;
	struct virtual_batch *b;
	struct vmsg msg;
	const char *why, *id = attr_get(req, "queue_id");
	char	 err[256], name[64];
	long	 count = 0, i, idx;
	double	*start;

	attr_put(resp, "version", ATTR_VERSION);
	if ((why = deliver_request_check(req, 0, &count)) != NULL) {
		log_warn("malformed delivery request: %s", why);
		attr_put_long(resp, "rcpt_count", 0);
		attr_end(resp);
		return;
	}
	msg_open(&msg, cfg, m, req, err, sizeof(err));
	attr_put_long(resp, "rcpt_count", count);
	res = xcalloc((size_t)count + 1, sizeof(*res));
	start = xcalloc((size_t)count + 1, sizeof(*start));
	b = virtual_batch_new();
	for (i = 0; i < count; i++) {
		r = &res[i];
		start[i] = deliver_log_now();
		snprintf(name, sizeof(name), "rcpt.%ld.index", i);
		(void)attr_get_long(req, name, &idx);
		if (msg.text == NULL)
			snprintf(r->reason, sizeof(r->reason),
			    "cannot read queue file: %s", err);
		if (msg.text == NULL || (size_t)idx >= msg.qf->nrcpts) {
			if (msg.text != NULL)
				snprintf(r->reason, sizeof(r->reason),
				    "recipient index %ld not in queue file",
				    idx);
			r->action = DELIVER_ACTION_DEFERRED;
			strcpy(r->status, "4.3.0");
		} else
			virtual_deliver(cfg, m, msg.qf, msg.text,
			    deliver_rcpt_attr(req, i, "addr"), idx,
			    retry(req, i), b, r);
	}
	/* the answers only after the batch is durable */
	virtual_batch_commit(b);
	virtual_batch_free(b);
	for (i = 0; i < count; i++) {
		answer(resp, i, &res[i]);
		log_delivery(id, deliver_rcpt_attr(req, i, "addr"),
		    deliver_rcpt_attr(req, i, "orig"), msg.arrival, start[i],
		    &res[i]);
	}
	attr_end(resp);
	msg_close(&msg);
	free(res);
	free(start);
}
