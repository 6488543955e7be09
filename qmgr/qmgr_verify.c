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
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "qmgr.h"
#include "qmgr_bounce.h"
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

/* qmgr_verify_report_mode - sendmail -bv: A verify_report=1 */
static int
qmgr_verify_report_mode(const struct queue_file *qf)
{
	const char *v = qf ? queue_file_attr(qf, "verify_report") : NULL;

	return (v != NULL && strcmp(v, "1") == 0);
}

/* qmgr_verify_probe - is this message a probe (verify or sendmail -bv) */
int
qmgr_verify_probe(const struct queue_file *qf)
{
	const char *v = qf ? queue_file_attr(qf, "verify_probe") : NULL;

	return ((v != NULL && strcmp(v, "1") == 0)
	    || qmgr_verify_report_mode(qf));
}

/*
 * The sendmail -bv reports being collected, by queue id. Only the io
 * thread (one thread) touches the list: outcomes and finish both run
 * there, so no lock. A qmgr restart in the middle loses the lines
 * collected so far (the report then lists the rest).
 */
struct qmgr_verify_report {
	struct qmgr_verify_report *next;
	char	 id[QUEUE_ID_MAX + 1];
	struct buf *lines;
};
static struct qmgr_verify_report *qmgr_verify_reports;

/* qmgr_verify_report_of - the report being collected for id */
static struct qmgr_verify_report *
qmgr_verify_report_of(const char *id, int create)
{
	struct qmgr_verify_report *r;

	for (r = qmgr_verify_reports; r; r = r->next)
		if (strcmp(r->id, id) == 0)
			return (r);
	if (!create)
		return (NULL);
	r = xcalloc(1, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->lines = buf_new(256);
	r->next = qmgr_verify_reports;
	qmgr_verify_reports = r;
	return (r);
}

/* qmgr_verify_report_line - one recipient's line of a -bv report */
static void
qmgr_verify_report_line(const struct queue_file *qf, const char *addr,
    int action, const char *reason, const char *relay)
{
	struct qmgr_verify_report *r = qmgr_verify_report_of(qf->id, 1);

	if (action == QMGR_OUT_DELIVERED)
		buf_printf(r->lines, "<%s>: delivery via %s: %s\n", addr,
		    relay && *relay ? relay : "none", reason ? reason : "");
	else
		buf_printf(r->lines, "<%s>: %s: %s\n", addr,
		    action == QMGR_OUT_BOUNCED ? "undeliverable" : "deferred",
		    reason ? reason : "");
}

/* qmgr_verify_finish - send a finished -bv report to its sender */
int
qmgr_verify_finish(const struct queue_file *qf, const char *myhostname)
{
	struct qmgr_verify_report *r, **rp;
	struct buf *b;
	char	 date[80], newid[QUEUE_ID_MAX + 1];
	int	 rc = 0;

	if (!qmgr_verify_report_mode(qf))
		return (0);
	if ((r = qmgr_verify_report_of(qf->id, 0)) == NULL || !*qf->sender)
		goto out;
	qmgr_dsn_date((long)time(NULL), date, sizeof(date));
	b = buf_new(1024);
	buf_printf(b, "Date: %s\nFrom: Mail Delivery System "
	    "<MAILER-DAEMON@%s>\nSubject: Mail Delivery Status Report\n"
	    "To: <%s>\nAuto-Submitted: auto-replied\n\n", date, myhostname,
	    qf->sender);
	buf_printf(b, "This is the mail system at host %s.\n\n"
	    "Enclosed is the mail delivery report that you requested.\n\n"
	    "                   The mail system\n\n", myhostname);
	buf_append(b, BUF_STR(r->lines), BUF_LEN(r->lines));
	if (qmgr_dsn_queue(qf->id, qf->sender, b, newid) == 0) {
		log_info("%s: sender delivery status notification: %s", qf->id,
		    newid);
		rc = 1;
	}
	buf_free(b);
out:
	for (rp = &qmgr_verify_reports; *rp; rp = &(*rp)->next)
		if (*rp == r) {
			*rp = r->next;
			buf_free(r->lines);
			free(r);
			break;
		}
	return (rc);
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

/* qmgr_verify_outcome - tell the verify service or the -bv report */
void
qmgr_verify_outcome(const struct queue_file *qf, size_t index, int action,
    const char *reason, const char *relay)
{
	size_t	 root = index;
	int	 status, hops = 0;

	pthread_once(&qmgr_verify_once, qmgr_verify_init);
	while (qf->rcpts[root].parent >= 0
	    && (size_t)qf->rcpts[root].parent < qf->nrcpts && hops++ < 100)
		root = (size_t)qf->rcpts[root].parent;
	if (qmgr_verify_report_mode(qf)) {
		qmgr_verify_report_line(qf, qf->rcpts[root].addr, action,
		    reason, relay);
		return;
	}
	status = action == QMGR_OUT_DELIVERED ? VERIFY_STAT_OK
	    : action == QMGR_OUT_BOUNCED ? VERIFY_STAT_BOUNCE
	    : VERIFY_STAT_DEFER;
	if (verify_clnt_update(qmgr_verify_path, qf->rcpts[root].addr, status,
	    reason ? reason : "", QMGR_VERIFY_TIMEOUT) < 0)
		log_warn("%s: cannot update the verify service for <%s>",
		    qf->id, qf->rcpts[root].addr);
}
