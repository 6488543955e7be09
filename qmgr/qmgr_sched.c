/*
 * NAME
 *	qmgr_sched - destinations, concurrency windows, request queues
 * SYNOPSIS
 *	#include "mastercf.h"
#include "qmgr.h"
 *
 *	void	qmgr_sched_add(struct qmgr_msg *msg, const char *transport,
 *	    const char *nexthop, const size_t *idx, size_t n);
 *	void	qmgr_sched_run(void);
 *	void	qmgr_sched_done(struct qmgr_req *req, int ok);
 * DESCRIPTION
 *	A destination is (transport, nexthop). Its recipients are cut into
 *	requests of at most <transport>_destination_recipient_limit
 *	(default_destination_recipient_limit) recipients, queued FIFO, and
 *	started while fewer than the destination's window are in flight.
 *	The window starts at initial_destination_concurrency, grows by one
 *	with every answered request up to
 *	<transport>_destination_concurrency_limit
 *	(default_destination_concurrency_limit), and halves (at least 1)
 *	when an agent fails, a simple form of Postfix's slow start. A
 *	destination without queued or running requests is forgotten.
 *
 *	Besides, a transport never has more requests in flight over all
 *	its destinations than the maxproc of its master.cf service ("-":
 *	default_process_limit, 100; 0: QMGR_TRANSPORT_MAX): the bound
 *	Postfix gets from the number of agent processes (our agents serve
 *	many requests per process, so it is a bound, not a cost), which
 *	also keeps qmgr's descriptors bounded when mail goes to many
 *	domains.
 * DIAGNOSTICS
 *	None.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mastercf.h"
#include "qmgr.h"
#include "xalloc.h"

#define QMGR_TRANSPORT_MAX	1000	/* maxproc 0: "no limit" */

static TAILQ_HEAD(, qmgr_dest) dests = TAILQ_HEAD_INITIALIZER(dests);
static TAILQ_HEAD(, qmgr_transport) transports =
    TAILQ_HEAD_INITIALIZER(transports);

/* transport_long - <transport>_<suffix>, else the default */
static long
transport_long(const char *transport, const char *suffix, long def,
    int is_time)
{
	char	 name[200];

	snprintf(name, sizeof(name), "%s_%s", transport, suffix);
	return (qmgr_conf_long(name, def, is_time));
}

/* transport_find - look up or create a transport */
static struct qmgr_transport *
transport_find(const char *name)
{
	const struct mastercf_service *svc;
	struct qmgr_transport *t;

	TAILQ_FOREACH(t, &transports, link)
		if (strcmp(t->name, name) == 0)
			return (t);
	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	svc = qmgr_conf.mastercf ? mastercf_find(qmgr_conf.mastercf, name,
	    "unix") : NULL;
	t->limit = svc == NULL ? (int)qmgr_conf.transport_limit :
	    svc->maxproc > 0 ? svc->maxproc : QMGR_TRANSPORT_MAX;
	if (t->limit < 1)
		t->limit = 1;
	TAILQ_INSERT_TAIL(&transports, t, link);
	return (t);
}

/* dest_find - look up or create a destination */
static struct qmgr_dest *
dest_find(const char *transport, const char *nexthop)
{
	struct qmgr_dest *d;

	TAILQ_FOREACH(d, &dests, link)
		if (strcmp(d->transport, transport) == 0
		    && strcmp(d->nexthop, nexthop) == 0)
			return (d);
	d = xcalloc(1, sizeof(*d));
	d->tp = transport_find(transport);
	d->transport = xstrdup(transport);
	d->nexthop = xstrdup(nexthop);
	d->limit = (int)transport_long(transport,
	    "destination_concurrency_limit", qmgr_conf.default_conc, 0);
	if (d->limit < 1)
		d->limit = 1;
	d->window = (int)qmgr_conf.initial_conc;
	if (d->window > d->limit)
		d->window = d->limit;
	d->rcpt_limit = transport_long(transport,
	    "destination_recipient_limit", qmgr_conf.default_rcpt_limit, 0);
	if (d->rcpt_limit < 1)
		d->rcpt_limit = 1;
	d->time_limit = transport_long(transport, "time_limit",
	    qmgr_conf.default_time_limit, 1);
	TAILQ_INIT(&d->queue);
	TAILQ_INSERT_TAIL(&dests, d, link);
	return (d);
}

/* dest_gc - forget an idle destination */
static void
dest_gc(struct qmgr_dest *d)
{
	if (d->active > 0 || !TAILQ_EMPTY(&d->queue))
		return;
	TAILQ_REMOVE(&dests, d, link);
	free(d->transport);
	free(d->nexthop);
	free(d);
}

/* qmgr_sched_add - queue requests for one destination */
void
qmgr_sched_add(struct qmgr_msg *m, const char *transport,
    const char *nexthop, const size_t *idx, size_t n)
{
	struct qmgr_dest *d = dest_find(transport, nexthop);
	struct qmgr_req *r;
	size_t	 off, k;

	for (off = 0; off < n; off += k) {
		k = n - off;
		if ((long)k > d->rcpt_limit)
			k = (size_t)d->rcpt_limit;
		r = xcalloc(1, sizeof(*r));
		r->msg = m;
		r->dest = d;
		r->idx = xcalloc(k, sizeof(size_t));
		memcpy(r->idx, idx + off, k * sizeof(size_t));
		r->n = k;
		m->refs++;
		TAILQ_INSERT_TAIL(&d->queue, r, link);
	}
}

/* qmgr_sched_run - start what the windows allow */
void
qmgr_sched_run(void)
{
	struct qmgr_dest *d, *next;
	struct qmgr_req *r;

	for (d = TAILQ_FIRST(&dests); d != NULL; d = next) {
		next = TAILQ_NEXT(d, link);
		while (d->active < d->window && d->tp->active < d->tp->limit
		    && (r = TAILQ_FIRST(&d->queue)) != NULL) {
			TAILQ_REMOVE(&d->queue, r, link);
			d->active++;
			d->tp->active++;
			r->started = time(NULL);
			qmgr_deliver_start(r);
		}
	}
}

/* qmgr_sched_done - a request has ended (outcomes already recorded) */
void
qmgr_sched_done(struct qmgr_req *r, int ok)
{
	struct qmgr_dest *d = r->dest;
	struct qmgr_msg *m = r->msg;

	d->active--;
	d->tp->active--;
	if (ok && d->window < d->limit)
		d->window++;
	else if (!ok)
		d->window = d->window > 1 ? d->window / 2 : 1;
	free(r->idx);
	free(r);
	dest_gc(d);
	qmgr_msg_release(m);
	qmgr_sched_run();
}
