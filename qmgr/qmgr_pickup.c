/*
 * NAME
 *	qmgr_pickup - the maildrop pickup
 * SYNOPSIS
 *	#include "qmgr.h"
 *
 *	void	qmgr_pickup_start(const char *id);
 * DESCRIPTION
 *	Postfix's pickup(8), folded into qmgr: qmgr_scan.c lists
 *	maildrop/ with incoming/ and calls qmgr_pickup_start() for each
 *	file; a file already being picked up, or any file while
 *	2 * QMGR_RESOLVE_THREADS are, waits for the next scan.
 *
 *	A maildrop/ file, written by sendmail in queue format, is read on
 *	a resolve thread, unqualified addresses get @$myorigin
 *	(append_at_myorigin), and it goes through cleanup_message()
 *	(canonical maps, header checks, Received:, missing
 *	Message-ID/Date/From) into incoming/ under the temporary name
 *	.pickup.DROPID.NEWID; the maildrop file is removed and then the
 *	new file renamed to NEWID, which the loop then activates (or, at
 *	the active limit, qmgr_conf.active_max, leaves for
 *	qmgr_scan_more()). At start, before any pickup,
 *	queue_pickup_recover() (run by the scan) undoes or finishes
 *	interrupted pickups, so each maildrop file is queued exactly once
 *	(QUEUE.md, S1 and S1p).
 *
 *	Only the DSN and full-name attributes are taken from the file;
 *	uid and login come from the file's owner. A file larger than
 *	message_size_limit, or one cleanup rejects, is returned to the
 *	sender as a DSN.
 * DIAGNOSTICS
 *	A maildrop file that does not parse goes to corrupt/ with a
 *	warning; so does an entry that is not a regular file (a FIFO,
 *	a symbolic link, a directory: queue_file_open() never blocks on
 *	or follows one). Postfix's pickup warns and leaves such entries
 *	to the administrator on every scan; here they leave maildrop/
 *	once. A cleanup DEFER leaves it for the next scan; REJECT and
 *	DISCARD remove it with a log line.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "qmgr.h"
#include "qmgr_bounce.h"
#include "qmgr_milter.h"
#include "str.h"
#include "workq.h"
#include "xalloc.h"

static struct strv *pickups;	/* maildrop ids being picked up */

struct pickup_job {
	char	*id;
	char	 newid[QUEUE_ID_MAX + 1];
	int	 ok;
};

/* read_all - the message bytes of a queue file */
static char *
read_all(struct queue_file *qf, size_t *len)
{
	size_t	 want = (size_t)qf->msg_len, got = 0;
	char	*buf = xmalloc(want + 1);
	ssize_t	 n;

	while (got < want) {
		n = pread(qf->fd, buf + got, want - got,
		    qf->msg_offset + (off_t)got);
		if (n <= 0) {
			free(buf);
			return (NULL);
		}
		got += (size_t)n;
	}
	buf[got] = 0;
	*len = got;
	return (buf);
}

/* clean_value - a user-supplied attribute value made harmless */
static char *
clean_value(const char *v)
{
	char	*c = xstrndup(v, 200), *cp;

	for (cp = c; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			*cp = ' ';
	return (c);
}

/*
 * pickup_attrs - the envelope attributes cleanup gets for a maildrop
 * file. The file was written by an unprivileged user: only the DSN
 * and full-name attributes are taken from it (cleaned); uid and login
 * come from the file's owner, never from the file's text (Postfix's
 * pickup does the same).
 */
static char **
pickup_attrs(const struct queue_file *qf, uid_t uid)
{
	/* verify_report: sendmail -bv (a report to the sender, no delivery) */
	static const char *keep[] = {"dsn_ret", "dsn_envid", "full_name",
	"verify_report", NULL};
	char	**a = xcalloc(2 * 7 + 1, sizeof(char *));
	struct passwd pw, *pwp = NULL;
	char	 pwbuf[1024];
	size_t	 i, k, n = 0;
	const char *v;

	a[n++] = xstrdup("uid");
	a[n++] = xasprintf("%ld", (long)uid);
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp) {
		a[n++] = xstrdup("login");
		a[n++] = clean_value(pw.pw_name);
	}
	a[n++] = xstrdup("origin");
	a[n++] = xstrdup("sendmail");
	for (k = 0; keep[k]; k++) {
		for (v = NULL, i = 0; i < qf->nattrs; i++)
			if (strcmp(qf->attrs[i].name, keep[k]) == 0)
				v = qf->attrs[i].value;
		if (v && n + 2 <= 2 * 7) {
			a[n++] = xstrdup(keep[k]);
			a[n++] = clean_value(v);
		}
	}
	return (a);
}

/* free_attrs - release pickup_attrs() */
static void
free_attrs(char **a)
{
	size_t	 i;

	for (i = 0; a[i]; i++)
		free(a[i]);
	free(a);
}

/*
 * pickup_reject - cleanup refused a local submission (header_checks
 * REJECT): return it to the sender as a DSN, as Postfix's cleanup does,
 * rather than dropping it. -1 when the DSN could not be queued (the
 * maildrop file then stays for another try).
 */
static int
pickup_reject(struct pickup_job *j, struct queue_file *qf,
    const char *sender, const char *msg, size_t mlen, const char *reply)
{
	struct qmgr_dsn_rcpt *r = xcalloc(qf->nrcpts + 1, sizeof(*r));
	const char *status = "5.7.1", *text = reply;
	char	 newid[QUEUE_ID_MAX + 1];
	struct qmgr_dsn d;
	struct buf *b;
	size_t	 i;
	int	 rc = 0;

	if (*sender == 0)
		goto out;
	if (strncmp(text, "552 5.3.4 ", 10) == 0)
		status = "5.3.4";
	if (strlen(text) > 4 && text[0] == '5' && text[3] == ' ')
		text += 4;
	for (i = 0; i < qf->nrcpts; i++) {
		r[i].addr = qf->rcpts[i].addr;
		r[i].orcpt = qf->rcpts[i].orcpt;
		r[i].status = status;
		r[i].reason = text;
	}
	memset(&d, 0, sizeof(d));
	d.kind = QMGR_DSN_FAILURE;
	d.queue_id = j->id;
	d.sender = sender;
	d.myhostname = qmgr_conf.myhostname;
	d.mail_name = qmgr_conf.mail_name;
	d.arrival = qf->arrival;
	d.now = time(NULL);
	d.rcpts = r;
	d.nrcpts = qf->nrcpts;
	d.msg = msg;
	d.msg_len = mlen;
	d.full = mlen <= (size_t)qmgr_conf.bounce_size_limit;
	b = buf_new(4096);
	qmgr_dsn_format(&d, b);
	if ((rc = qmgr_dsn_queue(j->id, sender, b, newid)) == 0) {
		log_info("maildrop %s: sender non-delivery notification: %s",
		    j->id, newid);
		snprintf(j->newid, sizeof(j->newid), "%s", newid);
	}
	buf_free(b);
out:
	free(r);
	return (rc);
}

/* pickup_too_big - return an oversized file unread; 1 if it was */
static int
pickup_too_big(struct pickup_job *j, struct queue_file *qf,
    const char *path)
{
	char	*sender;

	if (qmgr_conf.message_size_limit <= 0
	    || qf->msg_len <= qmgr_conf.message_size_limit)
		return (0);
	log_warn("maildrop %s: from=<%s>: message size %lld exceeds"
	    " message_size_limit", j->id, log_safe(qf->sender),
	    (long long)qf->msg_len);
	sender = qmgr_resolve_qualify(&qmgr_conf.rc, qf->sender);
	if (pickup_reject(j, qf, sender, NULL, 0, "552 5.3.4 Message size"
	    " exceeds fixed limit") == 0 && unlink(path) < 0)
		log_warn("maildrop %s: remove: %m", j->id);
	free(sender);
	return (1);
}

/*
 * pickup_commit - cleanup left the new file as .pickup.ID.NEWID
 * (durable): unlink the maildrop file and make that durable, then
 * rename the new file to NEWID. A crash at any point leaves one copy:
 * queue_pickup_recover() at qmgr start undoes the new file while the
 * maildrop file exists and finishes it once that is gone (QUEUE.md S1).
 */
static void
pickup_commit(struct pickup_job *j, const struct cleanup_result *res,
    uid_t uid, const char *sender, const char *path)
{
	const char *qd = qmgr_conf.queue_dir;
	const char *dir = res->hold ? "hold" : "incoming";
	char	*tmp;

	if (unlink(path) < 0 && errno != ENOENT) {
		log_warn("maildrop %s: remove: %m; will try again", j->id);
		tmp = xasprintf("%s/%s/" QUEUE_PICKUP_PREFIX "%s.%s", qd, dir,
		    j->id, res->queue_id);
		if (unlink(tmp) < 0)
			log_warn("%s: remove: %m", tmp);
		free(tmp);
		return;
	}
	j->ok = 1;
	if (queue_sync_dir(qd, "maildrop") < 0) {
		log_warn("maildrop %s: sync: %m; %s is committed at the next"
		    " qmgr start", j->id, res->queue_id);
		return;
	}
	if (queue_pickup_finish(qd, dir, j->id, res->queue_id) < 0) {
		log_warn("%s: commit: %m; done at the next qmgr start",
		    res->queue_id);
		return;
	}
	/* Postfix's pickup daemon logs it: pflogsumm counts it as received */
	log_info_as("pickup", "%s: uid=%ld from=<%s>", res->queue_id,
	    (long)uid, log_printable(sender));
	if (!res->hold)
		snprintf(j->newid, sizeof(j->newid), "%s", res->queue_id);
}

/* pickup_outcome - act on cleanup's verdict */
static void
pickup_outcome(struct pickup_job *j, struct queue_file *qf,
    const char *path, const struct cleanup_input *in,
    const struct cleanup_result *res, int r, uid_t uid)
{
	int	 keep = 0;

	if (r == CLEANUP_DEFER) {
		log_warn("maildrop %s: %s; will try again", j->id, res->reply);
		return;
	}
	if (r == CLEANUP_OK) {
		pickup_commit(j, res, uid, in->sender, path);
		return;
	} else if (r == CLEANUP_REJECT) {
		log_warn("maildrop %s: from=<%s>: rejected: %s", j->id,
		    log_safe(in->sender), log_safe(res->reply));
		keep = pickup_reject(j, qf, in->sender, in->message,
		    in->message_len, res->reply) < 0;
	} else {
		log_info("maildrop %s: from=<%s>: discarded", j->id,
		    log_safe(in->sender));
	}
	if (!keep && unlink(path) < 0)
		log_warn("maildrop %s: remove: %m", j->id);
	j->ok = !keep;
}

/* pickup_clean - run one maildrop file through cleanup */
static void
pickup_clean(struct pickup_job *j, struct cleanup_maps *cm,
    struct queue_file *qf, const char *path)
{
	const struct qmgr_resolve_conf *rc = &qmgr_conf.rc;
	struct cleanup_rcpt *rcpts;
	struct cleanup_input in;
	struct cleanup_result res;
	struct strv *own;
	struct stat st;
	char	**attrs, *msg;
	size_t	 i, mlen = 0;

	if (pickup_too_big(j, qf, path))
		return;
	if ((msg = read_all(qf, &mlen)) == NULL) {
		log_warn("maildrop %s: read error: %m", j->id);
		return;
	}
	rcpts = xcalloc(qf->nrcpts + 1, sizeof(*rcpts));
	own = strv_new();
	for (i = 0; i < qf->nrcpts; i++) {
		strv_add(own, "");
		free(own->argv[i]);
		own->argv[i] = qmgr_resolve_qualify(rc, qf->rcpts[i].addr);
		rcpts[i].addr = own->argv[i];
		rcpts[i].orcpt = qf->rcpts[i].orcpt;
		rcpts[i].notify = qf->rcpts[i].notify;
	}
	if (fstat(qf->fd, &st) < 0)
		st.st_uid = (uid_t)-1;
	attrs = pickup_attrs(qf, st.st_uid);
	memset(&in, 0, sizeof(in));
	memset(&res, 0, sizeof(res));
	in.queue_dir = qmgr_conf.queue_dir;
	in.sender = qmgr_resolve_qualify(rc, qf->sender);
	in.rcpts = rcpts;
	in.nrcpts = qf->nrcpts;
	in.attrs = (const char *const *)attrs;
	in.message = msg;
	in.message_len = mlen;
	in.flags = CLEANUP_FLAG_LOCAL | CLEANUP_FLAG_PICKUP;
	in.pickup_id = j->id;
	in.received = NULL;		/* "Received: by ... from userid N" */
	in.log_prefix = "pickup";
	/* cleanup_message(), after non_smtpd_milters if any */
	pickup_outcome(j, qf, path, &in, &res, qmgr_milter_message(cm, &in,
	    &res), st.st_uid);
	free((char *)in.sender);
	free_attrs(attrs);
	free(msg);
	strv_free(own);
	free(rcpts);
}

/* pickup_job - one maildrop file (resolve pool) */
static void
pickup_job(void *arg, void *tctx)
{
	struct pickup_job *j = arg;
	char	*path = queue_path(qmgr_conf.queue_dir, "maildrop", j->id);
	struct queue_file *qf;
	char	 err[256];

	if ((qf = queue_file_open(path, 0, err, sizeof(err))) == NULL) {
		if (errno != ENOENT) {
			/* unparseable, or no regular file: a FIFO, a link */
			log_warn("maildrop %s: corrupt queue file: %s", j->id,
			    err);
			if (queue_move(qmgr_conf.queue_dir, "maildrop",
			    "corrupt", j->id) < 0)
				log_warn("%s: move to corrupt: %m", j->id);
		}
		free(path);
		return;
	}
	pickup_clean(j, qmgr_thread_cleanup(tctx), qf, path);
	queue_file_close(qf);
	free(path);
}

/* pickup_done - start the new message (loop) */
static void
pickup_done(void *arg)
{
	struct pickup_job *j = arg;
	size_t	 i;

	for (i = 0; i < pickups->argc; i++) {
		if (strcmp(pickups->argv[i], j->id) == 0) {
			free(pickups->argv[i]);
			pickups->argv[i] = pickups->argv[--pickups->argc];
			pickups->argv[pickups->argc] = NULL;
			break;
		}
	}
	if (*j->newid
	    && qmgr_active_count() < (size_t)qmgr_conf.active_max)
		qmgr_active_start(j->newid, "incoming");
	else if (*j->newid)
		qmgr_scan_incoming_left();
	free(j->id);
	free(j);
}

/* in_list - membership */
static int
in_list(const struct strv *v, const char *s)
{
	size_t	 i;

	for (i = 0; v && i < v->argc; i++)
		if (strcmp(v->argv[i], s) == 0)
			return (1);
	return (0);
}

/* qmgr_pickup_start - submit one maildrop file, unless busy */
void
qmgr_pickup_start(const char *id)
{
	struct pickup_job *j;

	if (pickups == NULL)
		pickups = strv_new();
	if (in_list(pickups, id) || pickups->argc >= 2 * QMGR_RESOLVE_THREADS)
		return;
	j = xcalloc(1, sizeof(*j));
	j->id = xstrdup(id);
	strv_add(pickups, id);
	workq_submit(qmgr_resolver, pickup_job, pickup_done, j);
}
