/*
 * NAME
 *	qmgr_finish - the end of a delivery round: expire, notify, remove
 *	or defer
 * SYNOPSIS
 *	void	qmgr_finish_job(void *msg, void *thread_ctx);
 *	void	qmgr_finish_done(void *msg);
 *	int	qmgr_dsn_queue(const char *id, const char *rcpt,
 *	    const struct buf *msg, char *newid);
 * DESCRIPTION
 *	Runs on the io pool once nothing is in flight for the message:
 *	  1. expiry: when the message is older than maximal_queue_lifetime
 *	     (bounce_queue_lifetime for a null-sender message), every
 *	     pending recipient is bounced with its last defer reason
 *	     (status kept as the agent gave it, Action: failed), logged
 *	     as Postfix does: "ID: from=<s>, status=expired, returned to
 *	     sender";
 *	  2. bounce/ID: a DSN to the sender for the recipients whose
 *	     NOTIFY allows it (not given, or FAILURE), and a success report
 *	     for the delivered ones that asked for NOTIFY=SUCCESS (they are
 *	     logged there with action "delivered", or "relayed" by smtp to
 *	     a next hop without DSN; one with DSN took NOTIFY over and is
 *	     not logged there at all); notify_classes as Postfix's
 *	     bounce(8): the failures of a null-sender message go to
 *	     2bounce_notice_recipient ("Postmaster Copy: Undelivered
 *	     Mail", whole message, from double-bounce@$myorigin) when the
 *	     classes name 2bounce or bounce, else a log line; those of a
 *	     double-bounce message are discarded with a warning; with
 *	     bounce, bounce_notice_recipient gets each bounce's headers,
 *	     with delay, delay_notice_recipient each delay warning's
 *	     (a failure there only logged); the log is removed once the
 *	     DSNs are committed;
 *	  3. all done: the queue file and its logs are removed
 *	     ("removed");
 *	  4. otherwise a delay warning if delay_warning_time has passed
 *	     (once: the W field is then set to 0), and the file goes to
 *	     deferred/ with mtime = next retry time.
 *
 *	qmgr_dsn_queue() writes a formatted notification with the null
 *	sender to rcpt into incoming/ and makes it durable (any thread).
 * DIAGNOSTICS
 *	A DSN that cannot be queued leaves bounce/ID in place; the
 *	message is deferred and the DSN is tried again next round. When
 *	the failure DSN was queued and the success DSN was not, the
 *	failed recipients are marked "failed-notified" in bounce/ID, so
 *	the retry sends the success DSN only.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "qmgr.h"
#include "qmgr_verify.h"
#include "qmgr_bounce.h"
#include "workq.h"
#include "xalloc.h"

void	 qmgr_finish_job(void *, void *);
void	 qmgr_finish_done(void *);

/* bounce/ID action of a failed recipient whose DSN is queued */
#define BOUNCE_NOTIFIED	"failed-notified"

/* read_message - the original message bytes (for the DSN) */
static char *
read_message(struct queue_file *qf, size_t limit, size_t *len)
{
	size_t	 want = (size_t)qf->msg_len, got = 0;
	char	*buf;
	ssize_t	 n;

	if (want > limit)
		want = limit;
	buf = xmalloc(want + 1);
	while (got < want) {
		n = pread(qf->fd, buf + got, want - got,
		    qf->msg_offset + (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	*len = got;
	return (buf);
}

/* is_success - a bounce/ID entry for the success DSN */
static int
is_success(const char *action)
{
	/* "relayed": smtp to a next hop without DSN (RFC 3461 5.2) */
	return (action != NULL && (strcmp(action, "delivered") == 0
	    || strcmp(action, "relayed") == 0));
}

/* notify_ok - may this recipient get a DSN of this kind */
static int
notify_ok(const struct queue_file *qf, long index, int bit)
{
	int	 notify;

	if (index < 0 || (size_t)index >= qf->nrcpts)
		return (1);
	notify = qf->rcpts[index].notify;
	if (notify & QUEUE_NOTIFY_NEVER)
		return (0);
	return (notify == 0 || (notify & bit));
}

/* dsn_queue_from - a notification from sender into incoming/ */
static int
dsn_queue_from(const char *id, const char *sender, const char *rcpt,
    const char *orig, const struct buf *b, char *newid)
{
	struct queue_writer *w;
	char	 err[256];

	if ((w = queue_writer_new(qmgr_conf.queue_dir, "incoming", err,
	    sizeof(err))) == NULL) {
		log_warn("%s: cannot create notification: %s", id, err);
		return (-1);
	}
	snprintf(newid, QUEUE_ID_MAX + 1, "%s", queue_writer_id(w));
	queue_writer_sender(w, sender);
	queue_writer_rcpt(w, rcpt, orig, QUEUE_NOTIFY_NEVER);
	if (queue_writer_body(w, BUF_STR(b), BUF_LEN(b)) < 0
	    || queue_writer_finish(w, err, sizeof(err)) < 0) {
		log_warn("%s: cannot write notification: %s", id, err);
		queue_writer_abort(w);
		return (-1);
	}
	if (queue_writer_commit(w, err, sizeof(err)) < 0) {
		log_warn("%s: cannot commit notification: %s", id, err);
		return (-1);
	}
	if (queue_sync_dir(qmgr_conf.queue_dir, "incoming") < 0) {
		log_warn("%s: sync incoming: %m", id);
		return (-1);
	}
	return (0);
}

/* qmgr_dsn_queue - a notification into incoming/; 0 on success */
int
qmgr_dsn_queue(const char *id, const char *rcpt, const struct buf *b,
    char *newid)
{
	return (dsn_queue_from(id, "", rcpt, NULL, b, newid));
}

/* notify_class - is this class named in notify_classes */
static int
notify_class(const char *want)
{
	char	*list = xstrdup(conf_str("notify_classes")), *cp = list, *w;
	int	 found = 0;

	while ((w = strsep(&cp, ", \t\r\n")) != NULL)
		if (*w && strcasecmp(w, want) == 0)
			found = 1;
	free(list);
	return (found);
}

/* dsn_rcpts - the log entries this kind of notification reports */
static struct qmgr_dsn_rcpt *
dsn_rcpts(const struct queue_file *qf, int kind,
    const struct queue_log_entry *e, size_t n, size_t *k, int override)
{
	struct qmgr_dsn_rcpt *r = xcalloc(n + 1, sizeof(*r));
	int	 bit = kind == QMGR_DSN_DELAY ? QUEUE_NOTIFY_DELAY :
	    kind == QMGR_DSN_SUCCESS ? QUEUE_NOTIFY_SUCCESS :
	    QUEUE_NOTIFY_FAILURE;
	size_t	 i;

	for (*k = 0, i = 0; i < n; i++) {
		int	 success = is_success(e[i].action);

		if (e[i].action && strcmp(e[i].action, BOUNCE_NOTIFIED) == 0)
			continue;		/* its failure DSN is queued */
		if (success != (kind == QMGR_DSN_SUCCESS)
		    || (!override && !notify_ok(qf, e[i].index, bit)))
			continue;
		r[*k].addr = e[i].recipient;
		r[*k].orcpt = e[i].orig_rcpt;
		r[*k].status = e[i].status;
		r[*k].action = success ? e[i].action : NULL;
		r[(*k)++].reason = e[i].reason;
	}
	return (r);
}

/* dsn_fill - the parts every notification of this message shares */
static char *
dsn_fill(struct qmgr_msg *m, struct qmgr_dsn *d, int kind, int full)
{
	struct queue_file *qf = m->qf;
	size_t	 mlen;
	char	*msg;

	d->kind = kind;
	d->queue_id = m->id;
	d->sender = qf->sender;
	d->myhostname = qmgr_conf.myhostname;
	d->myorigin = qmgr_conf.rc.myorigin;
	d->mail_name = qmgr_conf.mail_name;
	d->envid = queue_file_attr(qf, "dsn_envid");
	d->arrival = qf->arrival;
	d->now = time(NULL);
	d->retry_until = qf->arrival + qmgr_conf.max_lifetime;
	d->full = full && qf->msg_len <= qmgr_conf.bounce_size_limit;
	msg = read_message(qf, d->full ? (size_t)qf->msg_len : 65536, &mlen);
	d->msg = msg;
	d->msg_len = mlen;
	return (msg);
}

/*
 * postmaster_copy - Postfix's "Postmaster Copy: Undelivered Mail" (kind
 * failure) or "Postmaster Warning: Delayed Mail" (delay) to the recipient
 * that param names, from double-bounce@$myorigin, every recipient of that
 * kind whatever its NOTIFY (DSN_NOTIFY_OVERRIDE); the whole message when
 * full (2bounce), its headers otherwise (bounce, delay); 0 on success
 */
static int
postmaster_copy(struct qmgr_msg *m, int kind, const struct queue_log_entry *e,
    size_t n, const char *param, int full, const char *from)
{
	char	 newid[QUEUE_ID_MAX + 1];
	struct qmgr_dsn d;
	struct buf *b;
	char	*msg, *to;
	int	 rc;

	memset(&d, 0, sizeof(d));
	d.rcpts = dsn_rcpts(m->qf, kind, e, n, &d.nrcpts, 1);
	if (d.nrcpts == 0) {
		free((void *)d.rcpts);
		return (0);
	}
	to = qmgr_resolve_qualify(&qmgr_conf.rc, conf_str(param));
	msg = dsn_fill(m, &d, kind, full);
	d.to = to;
	b = buf_new(4096);
	qmgr_dsn_format(&d, b);
	free(msg);
	free((void *)d.rcpts);
	/* "postmaster" made postmaster@$myorigin: the delivery is logged
	 * with orig_to=<postmaster>, as Postfix logs it */
	if ((rc = dsn_queue_from(m->id, from, to, strcmp(to,
	    conf_str(param)) != 0 ? conf_str(param) : NULL, b, newid)) == 0) {
		log_info("%s: postmaster %s notification: %s", m->id,
		    kind == QMGR_DSN_DELAY ? "delay" : "non-delivery", newid);
		m->wake = 1;
	}
	buf_free(b);
	free(to);
	return (rc);
}

/*
 * bounce_of_bounce - failed recipients of a message from the null sender
 * or from double-bounce: as Postfix's bounce_notify_service(), a failed
 * postmaster copy is discarded with a warning, a failed bounce goes to
 * 2bounce_notice_recipient when notify_classes names 2bounce or bounce
 */
static int
bounce_of_bounce(struct qmgr_msg *m, const struct queue_log_entry *e,
    size_t n, const char *dbl)
{
	struct qmgr_dsn_rcpt *r;
	size_t	 k;

	r = dsn_rcpts(m->qf, QMGR_DSN_FAILURE, e, n, &k, 1);
	free(r);
	if (k == 0)
		return (0);
	if (*m->qf->sender != 0) {
		log_warn("%s: undeliverable postmaster notification discarded",
		    m->id);
		return (0);
	}
	if (notify_class("2bounce") || notify_class("bounce"))
		return (postmaster_copy(m, QMGR_DSN_FAILURE, e, n,
		    "2bounce_notice_recipient", 1, dbl));
	log_info("%s: undeliverable bounce or notification with the null"
	    " sender: %zu recipient(s), discarded (notify_classes has no"
	    " 2bounce)", m->id, k);
	return (0);
}

/* send_dsn - queue a notification to the sender; 0 on success */
static int
send_dsn(struct qmgr_msg *m, int kind, const struct queue_log_entry *e,
    size_t n)
{
	struct queue_file *qf = m->qf;
	const char *ret = queue_file_attr(qf, "dsn_ret");
	char	 newid[QUEUE_ID_MAX + 1];
	struct qmgr_dsn d;
	struct buf *b;
	char	*msg, *dbl;
	int	 rc = 0, from_dbl;

	dbl = qmgr_resolve_qualify(&qmgr_conf.rc,
	    conf_str("double_bounce_sender"));
	from_dbl = *dbl && strcasecmp(qf->sender, dbl) == 0;
	if (kind == QMGR_DSN_FAILURE && (*qf->sender == 0 || from_dbl)) {
		rc = bounce_of_bounce(m, e, n, dbl);
		free(dbl);
		return (rc);
	}
	memset(&d, 0, sizeof(d));
	d.rcpts = dsn_rcpts(qf, kind, e, n, &d.nrcpts, 0);
	if (d.nrcpts == 0 || *qf->sender == 0 || from_dbl) {
		free((void *)d.rcpts);
		goto copy;
	}
	/* requiretls_redact_dsn: a REQUIRETLS message's notification
	 * carries its headers only, as RET=HDRS (RFC 8689 section 5) */
	if (queue_file_attr(qf, "requiretls")
	    && conf_bool("requiretls_redact_dsn"))
		ret = "HDRS";
	msg = dsn_fill(m, &d, kind, ret == NULL || strcasecmp(ret, "HDRS"));
	b = buf_new(4096);
	qmgr_dsn_format(&d, b);
	free(msg);
	free((void *)d.rcpts);
	if ((rc = qmgr_dsn_queue(m->id, qf->sender, b, newid)) == 0) {
		log_info("%s: sender %s notification: %s", m->id,
		    kind == QMGR_DSN_DELAY ? "delay" : kind == QMGR_DSN_SUCCESS
		    ? "delivery status" : "non-delivery", newid);
		m->wake = 1;
	}
	buf_free(b);
copy:
	/* notify_classes bounce: the headers to bounce_notice_recipient;
	 * not critical, as in Postfix: a failure is only logged */
	if (rc == 0 && kind == QMGR_DSN_FAILURE && !from_dbl
	    && *qf->sender != 0 && notify_class("bounce")
	    && postmaster_copy(m, kind, e, n, "bounce_notice_recipient", 0,
	    dbl) < 0)
		log_warn("%s: postmaster copy of the bounce not sent", m->id);
	/* delay: "Postmaster Warning: Delayed Mail", the headers */
	if (rc == 0 && kind == QMGR_DSN_DELAY && !from_dbl
	    && notify_class("delay")
	    && postmaster_copy(m, kind, e, n, "delay_notice_recipient", 0,
	    dbl) < 0)
		log_warn("%s: postmaster copy of the delay warning not sent",
		    m->id);
	free(dbl);
	return (rc);
}

/* last_defer - the last defer entry for a recipient, or NULL */
static struct queue_log_entry *
last_defer(struct queue_log_entry *e, size_t n, long index)
{
	size_t	 i;

	for (i = n; i-- > 0;)
		if (e[i].index == index)
			return (&e[i]);
	return (NULL);
}

/* expire - bounce every pending recipient of an expired message */
static void
expire(struct qmgr_msg *m)
{
	struct queue_file *qf = m->qf;
	struct queue_log_entry *d, e, *last;
	size_t	 nd = 0, i;

	m->logs_maybe = 1;	/* bounce/ID gets an entry per recipient */
	d = queue_log_read(qmgr_conf.queue_dir, "defer", m->id, &nd);
	for (i = 0; i < qf->nrcpts; i++) {
		if (qf->rcpts[i].done)
			continue;
		last = last_defer(d, nd, (long)i);
		memset(&e, 0, sizeof(e));
		e.index = (long)i;
		e.recipient = qf->rcpts[i].addr;
		e.orig_rcpt = qf->rcpts[i].orcpt;
		e.status = last && last->status ? last->status : "4.4.7";
		e.action = "failed";
		e.reason = last && last->reason ? last->reason
		    : "message expired";
		e.time = time(NULL);
		if (queue_log_append(qmgr_conf.queue_dir, "bounce", m->id,
		    &e) < 0 || queue_file_mark_done(qf, i) < 0)
			log_warn("%s: cannot expire recipient %zu: %m", m->id,
			    i);
	}
	queue_log_free(d, nd);
	/* Postfix's qmgr line, once per message (log analysers match it) */
	log_info("%s: from=<%s>, status=expired, returned to sender", m->id,
	    log_printable(qf->sender));
}

/* log_path - queue_dir/log/id */
static void
unlink_log(const char *log, const char *id)
{
	char	*p = queue_path(qmgr_conf.queue_dir, log, id);

	if (unlink(p) < 0 && errno != ENOENT)
		log_warn("%s: remove %s: %m", id, p);
	free(p);
}

/*
 * mark_notified - the failure DSN for these entries is queued: say so in
 * bounce/ID (the last entry per recipient counts), so that a success DSN
 * that cannot be queued now does not bring the failure DSN again at
 * every retry
 */
static void
mark_notified(struct qmgr_msg *m, struct queue_log_entry *e, size_t n)
{
	struct queue_log_entry x;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (is_success(e[i].action) || (e[i].action
		    && strcmp(e[i].action, BOUNCE_NOTIFIED) == 0))
			continue;
		x = e[i];
		x.action = (char *)BOUNCE_NOTIFIED;
		if (queue_log_append(qmgr_conf.queue_dir, "bounce", m->id,
		    &x) < 0)
			log_warn("%s: bounce log: %m (a failure notification "
			    "may be sent again)", m->id);
	}
}

/* bounce_flush - DSN for bounce/ID; 0 when done or nothing to do */
static int
bounce_flush(struct qmgr_msg *m)
{
	struct queue_log_entry *e;
	size_t	 n = 0;
	int	 rc;

	e = queue_log_read(qmgr_conf.queue_dir, "bounce", m->id, &n);
	if (e == NULL || n == 0)
		return (0);
	rc = send_dsn(m, QMGR_DSN_FAILURE, e, n);
	if (rc == 0) {
		rc = send_dsn(m, QMGR_DSN_SUCCESS, e, n);
		if (rc != 0)
			mark_notified(m, e, n);
	}
	queue_log_free(e, n);
	if (rc == 0)
		unlink_log("bounce", m->id);
	return (rc);
}

/* delay_warning - the one "delayed" DSN, if due */
static void
delay_warning(struct qmgr_msg *m, long now)
{
	struct queue_file *qf = m->qf;
	struct queue_log_entry *d, *e;
	size_t	 nd = 0, i, k = 0;

	if (qf->warn_time <= 0 || now < qf->warn_time)
		return;
	d = queue_log_read(qmgr_conf.queue_dir, "defer", m->id, &nd);
	e = xcalloc(qf->nrcpts + 1, sizeof(*e));
	for (i = 0; i < qf->nrcpts; i++) {
		struct queue_log_entry *last;

		if (qf->rcpts[i].done)
			continue;
		last = last_defer(d, nd, (long)i);
		e[k].index = (long)i;
		e[k].recipient = qf->rcpts[i].addr;
		e[k].orig_rcpt = qf->rcpts[i].orcpt;
		e[k].status = last && last->status ? last->status : "4.0.0";
		e[k++].reason = last && last->reason ? last->reason
		    : "delivery temporarily suspended";
	}
	if (send_dsn(m, QMGR_DSN_DELAY, e, k) == 0
	    && queue_file_set_warn(qf, 0) < 0)
		log_warn("%s: cannot clear the warning time: %m", m->id);
	free(e);
	queue_log_free(d, nd);
}

/* remove_msg - every recipient is done */
static void
remove_msg(struct qmgr_msg *m)
{
	/* into the file pool: the next message reuses the inode */
	if (queue_remove(qmgr_conf.queue_dir, m->qf) < 0) {
		if (errno != ENOENT) {
			log_warn("%s: remove %s: %m", m->id, m->path);
			return;
		}
		/*
		 * postsuper moved (-r, -h) or deleted it meanwhile: not
		 * "removed" for this life, so that should it come back to
		 * incoming/ its deliveries are retries (qmgr_active.c,
		 * fresh()) and virtual looks for its earlier copies (the
		 * last done flips may not have been written: qmgr_active.c,
		 * last_flips_unneeded()).
		 */
	} else
		m->removed = 1;
	if (m->logs_maybe) {	/* a fresh message without logs: no lookups */
		unlink_log("defer", m->id);
		unlink_log("bounce", m->id);
	}
	log_info("%s: removed", m->id);
}

/* defer_msg - move to deferred/ with the next retry time as mtime */
static void
defer_msg(struct qmgr_msg *m, long now)
{
	struct timeval tv[2];
	long	 age = now - m->qf->arrival, delay;

	delay = age;
	if (delay > qmgr_conf.max_backoff)
		delay = qmgr_conf.max_backoff;
	if (delay < qmgr_conf.min_backoff)
		delay = qmgr_conf.min_backoff;
	tv[0].tv_sec = now;
	tv[0].tv_usec = 0;
	tv[1].tv_sec = now + delay;
	tv[1].tv_usec = 0;
	if (utimes(m->path, tv) < 0)
		log_warn("%s: set retry time: %m", m->id);
	if (qmgr_move("active", "deferred", m->id) < 0)
		log_warn("%s: move to deferred: %m", m->id);
}

/* qmgr_finish_job - end the round (io pool) */
void
qmgr_finish_job(void *arg, void *tctx)
{
	struct qmgr_msg *m = arg;
	struct queue_file *qf = m->qf;
	long	 now = time(NULL), lifetime;
	size_t	 i, pending = 0;
	int	 bounced;

	if (qf == NULL)
		return;
	lifetime = *qf->sender ? qmgr_conf.max_lifetime
	    : qmgr_conf.bounce_lifetime;
	for (i = 0; i < qf->nrcpts; i++)
		pending += !qf->rcpts[i].done;
	if (pending > 0 && now - qf->arrival >= lifetime) {
		expire(m);
		for (pending = 0, i = 0; i < qf->nrcpts; i++)
			pending += !qf->rcpts[i].done;
	}
	bounced = m->logs_maybe ? bounce_flush(m) : 0;
	if (pending == 0 && bounced == 0) {
		if (qmgr_verify_finish(qf, qmgr_conf.myhostname))
			m->wake = 1;	/* a sendmail -bv report */
		remove_msg(m);
		return;
	}
	if (pending > 0)
		delay_warning(m, now);
	defer_msg(m, now);
}

/* qmgr_finish_done - forget the message (loop) */
void
qmgr_finish_done(void *arg)
{
	struct qmgr_msg *m = arg;

	int	 wake = m->wake;

	qmgr_msg_forget(m);
	if (wake)
		qmgr_scan_incoming();
}
