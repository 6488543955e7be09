/*
 * NAME
 *	virtual_request - one lib/deliver.h request to the virtual agent
 * SYNOPSIS
 *	See virtual.h.
 * DESCRIPTION
 *	Checks the request (version, queue_name, queue_id, recipients),
 *	opens the queue file read-only, maps the message, delivers every
 *	recipient, logs Postfix's delivery line for each and builds the
 *	answer. A request that cannot be served at all (queue file gone or
 *	corrupt) answers every recipient deferred 4.3.0, so qmgr decides.
 * DIAGNOSTICS
 *	A malformed request gets an answer without recipients (rcpt_count
 *	=0) and a warning: qmgr then defers the whole request.
 */
#include <sys/mman.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
#include "deliver.h"
#include "log.h"
#include "queue.h"
#include "virtual.h"
#include "xalloc.h"


/* now_float - wall clock in seconds */
static double
now_float(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return ((double)tv.tv_sec + (double)tv.tv_usec / 1e6);
}

/* fmt_delay - Postfix's compact delay numbers ("0.12", "3.4", "120") */
static const char *
fmt_delay(char *out, size_t len, double d)
{
	if (d < 0)
		d = 0;
	char	*e;

	if (d < 0.005)
		snprintf(out, len, "0");
	else if (d < 10) {
		snprintf(out, len, "%.2f", d);
		for (e = out + strlen(out) - 1; *e == '0'; e--)
			*e = 0;
		if (*e == '.')
			*e = 0;
	} else
		snprintf(out, len, "%.0f", d);
	return (out);
}

/* log_delivery - "ID: to=<x>, orig_to=<y>, relay=virtual, ..." */
static void
log_delivery(const char *id, const char *rcpt, const char *orig,
    double arrival, double start, double end,
    const struct virtual_result *res)
{
	char	 d[4][16];
	const char *st = strcmp(res->action, DELIVER_ACTION_DELIVERED) == 0
	    ? "sent" : strcmp(res->action, DELIVER_ACTION_BOUNCED) == 0
	    ? "bounced" : "deferred";
	char	 origbuf[300] = "";

	if (orig && *orig && strcasecmp(orig, rcpt) != 0)
		snprintf(origbuf, sizeof(origbuf), ", orig_to=<%s>",
		    log_safe(orig));
	log_info("%s: to=<%s>%s, relay=virtual, delay=%s, delays=%s/0/0/%s, "
	    "dsn=%s, status=%s (%s)", id, log_safe(rcpt), origbuf,
	    fmt_delay(d[0], sizeof(d[0]), end - arrival),
	    fmt_delay(d[1], sizeof(d[1]), start - arrival),
	    fmt_delay(d[2], sizeof(d[2]), end - start), res->status, st,
	    res->reason);
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
}

/* virtual_request - serve one request, answer into resp */
void
virtual_request(const struct virtual_cfg *cfg, struct virtual_maps *m,
    const struct attr_list *req, struct buf *resp)
{
	struct virtual_result res;
	struct queue_file *qf = NULL;
	const char *why, *id = attr_get(req, "queue_id");
	char	 err[256], *path, *map = MAP_FAILED, name[64];
	size_t	 maplen = 0;
	long	 count = 0, i, idx;
	double	 arrival, start;

	attr_put(resp, "version", ATTR_VERSION);
	if ((why = deliver_request_check(req, 0, &count)) != NULL) {
		log_warn("malformed delivery request: %s", why);
		attr_put_long(resp, "rcpt_count", 0);
		attr_end(resp);
		return;
	}
	path = queue_path(cfg->queue_dir, attr_get(req, "queue_name"), id);
	if ((qf = queue_file_open(path, 0, err, sizeof(err))) != NULL) {
		maplen = (size_t)(qf->msg_offset + qf->msg_len);
		map = mmap(NULL, maplen ? maplen : 1, PROT_READ, MAP_PRIVATE,
		    qf->fd, 0);
		if (map == MAP_FAILED)
			snprintf(err, sizeof(err), "mmap %s: %m", path);
	}
	free(path);
	attr_put_long(resp, "rcpt_count", count);
	arrival = qf ? (double)qf->arrival + (double)qf->arrival_usec / 1e6
	    : now_float();
	for (i = 0; i < count; i++) {
		start = now_float();
		snprintf(name, sizeof(name), "rcpt.%ld.index", i);
		(void)attr_get_long(req, name, &idx);
		if (map == MAP_FAILED)
			snprintf(res.reason, sizeof(res.reason),
			    "cannot read queue file: %s", err);
		if (map == MAP_FAILED || (size_t)idx >= qf->nrcpts) {
			if (map != MAP_FAILED)
				snprintf(res.reason, sizeof(res.reason),
				    "recipient index %ld not in queue file",
				    idx);
			res.action = DELIVER_ACTION_DEFERRED;
			strcpy(res.status, "4.3.0");
		} else
			virtual_deliver(cfg, m, qf, map + qf->msg_offset,
			    deliver_rcpt_attr(req, i, "addr"), idx, &res);
		answer(resp, i, &res);
		log_delivery(id, deliver_rcpt_attr(req, i, "addr"),
		    deliver_rcpt_attr(req, i, "orig"), arrival, start, now_float(),
		    &res);
	}
	attr_end(resp);
	if (map != MAP_FAILED)
		munmap(map, maplen ? maplen : 1);
	queue_file_close(qf);
}
