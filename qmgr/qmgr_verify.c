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
#include <string.h>

#include "log.h"
#include "qmgr.h"
#include "qmgr_verify.h"
#include "queue.h"
#include "verify_clnt.h"

#define QMGR_VERIFY_TIMEOUT	10	/* seconds per update */

static pthread_once_t qmgr_verify_once = PTHREAD_ONCE_INIT;
static char *qmgr_verify_path;

/* qmgr_verify_init - the verify service's socket */
static void
qmgr_verify_init(void)
{
	qmgr_verify_path = verify_clnt_path();
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
