/*
 * NAME
 *	qmgr_verify - address verification probes in qmgr
 * SYNOPSIS
 *	See qmgr_verify.h.
 * DESCRIPTION
 *	The hooks in qmgr_active.c and qmgr_deliver.c call these; the
 *	verify service's socket path is read from conf once (conf does
 *	not change while qmgr runs: a reload restarts qmgr).
 * DIAGNOSTICS
 *	See qmgr_verify.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "qmgr.h"
#include "qmgr_verify.h"
#include "queue.h"
#include "verify_clnt.h"
#include "xalloc.h"

#define QMGR_VERIFY_TIMEOUT	10	/* seconds per update */

static pthread_once_t qmgr_verify_once = PTHREAD_ONCE_INIT;
static char *qmgr_verify_path;

/* probes' routing: address_verify_{relayhost,transport_maps,*_transport} */
static pthread_once_t qmgr_verify_route_once = PTHREAD_ONCE_INIT;
static struct qmgr_resolve_conf qmgr_verify_rc;
static int qmgr_verify_own_route;	/* differs from the mail's */
static pthread_key_t qmgr_verify_key;

/* qmgr_verify_init - the verify service's socket */
static void
qmgr_verify_init(void)
{
	qmgr_verify_path = verify_clnt_path();
}

/* qmgr_verify_swap - one address_verify_ parameter over its mail twin */
static void
qmgr_verify_swap(char **field, const char *param)
{
	const char *v = conf_str(param);

	if (v == NULL || strcmp(v, *field) == 0)
		return;
	free(*field);
	*field = xstrdup(v);
	qmgr_verify_own_route = 1;
}

/* qmgr_verify_maps_free - a resolve thread's probe tables */
static void
qmgr_verify_maps_free(void *maps)
{
	qmgr_resolve_maps_free(maps);
}

/* qmgr_verify_route_init - the probes' routing parameters */
static void
qmgr_verify_route_init(void)
{
	qmgr_resolve_conf_load(&qmgr_verify_rc);
	qmgr_verify_swap(&qmgr_verify_rc.relayhost, "address_verify_relayhost");
	qmgr_verify_swap(&qmgr_verify_rc.transport_maps,
	    "address_verify_transport_maps");
	qmgr_verify_swap(&qmgr_verify_rc.virtual_transport,
	    "address_verify_virtual_transport");
	qmgr_verify_swap(&qmgr_verify_rc.relay_transport,
	    "address_verify_relay_transport");
	qmgr_verify_swap(&qmgr_verify_rc.default_transport,
	    "address_verify_default_transport");
	if (pthread_key_create(&qmgr_verify_key, qmgr_verify_maps_free) != 0)
		log_fatal("pthread_key_create: %m");
}

/* qmgr_verify_maps - the tables that route this message (resolve pool) */
struct qmgr_resolve_maps *
qmgr_verify_maps(const struct queue_file *qf, struct qmgr_resolve_maps *mail)
{
	struct qmgr_resolve_maps *m;

	if (!qmgr_verify_probe(qf))
		return (mail);
	pthread_once(&qmgr_verify_route_once, qmgr_verify_route_init);
	if (!qmgr_verify_own_route)
		return (mail);
	if ((m = pthread_getspecific(qmgr_verify_key)) == NULL) {
		m = qmgr_resolve_maps_new(&qmgr_verify_rc);
		(void)pthread_setspecific(qmgr_verify_key, m);
	}
	return (m);
}

/* qmgr_verify_probe - is this message an address verification probe */
int
qmgr_verify_probe(const struct queue_file *qf)
{
	const char *v = qf ? queue_file_attr(qf, "verify_probe") : NULL;

	return (v != NULL && strcmp(v, "1") == 0);
}

/* qmgr_verify_local - a probe's recipient decided from the tables */
int
qmgr_verify_local(const struct queue_file *qf, const char *transport)
{
	return (qmgr_verify_probe(qf) && (strcmp(transport, "virtual") == 0
	    || strcmp(transport, "local") == 0));
}

/* qmgr_verify_status - the status= word of a probe's log line */
const char *
qmgr_verify_status(int action)
{
	switch (action) {
	case QMGR_OUT_DELIVERED:
		return ("deliverable");
	case QMGR_OUT_BOUNCED:
		return ("undeliverable");
	default:
		return ("deferred");
	}
}

/* qmgr_verify_outcome - tell the verify service (io thread) */
void
qmgr_verify_outcome(const struct queue_file *qf, size_t index, int action,
    const char *reason)
{
	size_t	 root = index;
	int	 status, hops = 0;

	pthread_once(&qmgr_verify_once, qmgr_verify_init);
	while (qf->rcpts[root].parent >= 0
	    && (size_t)qf->rcpts[root].parent < qf->nrcpts && hops++ < 100)
		root = (size_t)qf->rcpts[root].parent;
	status = action == QMGR_OUT_DELIVERED ? VERIFY_STAT_OK
	    : action == QMGR_OUT_BOUNCED ? VERIFY_STAT_BOUNCE
	    : VERIFY_STAT_DEFER;
	if (verify_clnt_update(qmgr_verify_path, qf->rcpts[root].addr, status,
	    reason ? reason : "", QMGR_VERIFY_TIMEOUT) < 0)
		log_warn("%s: cannot update the verify service for <%s>",
		    qf->id, qf->rcpts[root].addr);
}
