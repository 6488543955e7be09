/*
 * NAME
 *	qmgr_scan - queue scans and the maildrop pickup
 * SYNOPSIS
 *	#include "qmgr.h"
 *
 *	void	qmgr_scan_init(void);
 *	void	qmgr_scan_active_at_start(void);
 *	void	qmgr_scan_incoming(void);
 *	void	qmgr_scan_deferred(int force);
 *	void	qmgr_scan_flush_one(const char *id);
 *	void	qmgr_scan_more(void);
 *	void	*qmgr_thread_maps(void *thread_ctx);
 * DESCRIPTION
 *	Directory listings run on their own thread (a listing must not wait
 *	behind the io pool's fsyncs, nor delay them); the loop then starts the
 *	messages it may take (qmgr_message_active_limit). One scan of a
 *	kind is in flight at a time; a request during a scan runs it
 *	again afterwards. qmgr_scan_more() rescans incoming/ when an
 *	earlier scan left files behind because of the limit.
 *
 *	At start active/ is taken first (files left by a crash are
 *	delivered again from their recorded state), then incoming/,
 *	maildrop/ and the due files of deferred/ (mtime <= now).
 *	qmgr_scan_deferred(1) is a flush: every deferred file is due.
 *	qmgr_scan_flush_one() makes one deferred file due.
 *
 *	Pickup (Postfix's pickup(8), folded in): a maildrop/ file, written
 *	by sendmail in queue format, is read on a resolve thread,
 *	unqualified addresses get @$myorigin (append_at_myorigin), and it
 *	goes through cleanup_message() (canonical maps, header checks,
 *	Received:, missing Message-ID/Date/From) into incoming/ under the
 *	temporary name .pickup.DROPID.NEWID; the maildrop file is removed
 *	and then the new file renamed to NEWID. At start, before any
 *	pickup, queue_pickup_recover() undoes or finishes interrupted
 *	pickups, so each maildrop file is queued exactly once.
 * DIAGNOSTICS
 *	A maildrop file that does not parse goes to corrupt/ with a
 *	warning. A cleanup DEFER leaves it for the next scan; REJECT and
 *	DISCARD remove it with a log line.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cleanup.h"
#include "log.h"
#include "qmgr.h"
#include "qmgr_bounce.h"
#include "str.h"
#include "workq.h"
#include "xalloc.h"

static struct workq *scan_pool;	/* directory listings */

struct qmgr_thread {
	struct qmgr_resolve_maps *rm;
	struct cleanup_maps *cm;
};

/* qmgr_thread_maps - a resolve thread's maps */
void *
qmgr_thread_maps(void *tctx)
{
	return (((struct qmgr_thread *)tctx)->rm);
}

/* thread_init - open one resolve thread's tables */
static void *
thread_init(void)
{
	struct qmgr_thread *t = xcalloc(1, sizeof(*t));

	t->rm = qmgr_resolve_maps_new(&qmgr_conf.rc);
	t->cm = cleanup_maps_new();
	return (t);
}

/* thread_fini - close them */
static void
thread_fini(void *tctx)
{
	struct qmgr_thread *t = tctx;

	qmgr_resolve_maps_free(t->rm);
	cleanup_maps_free(t->cm);
	free(t);
}

/* qmgr_scan_init - start the pools */
void
qmgr_scan_init(void)
{
	qmgr_io = workq_new(qmgr_base, 1, NULL, NULL);
	scan_pool = workq_new(qmgr_base, 1, NULL, NULL);
	qmgr_resolver = workq_new(qmgr_base, QMGR_RESOLVE_THREADS,
	    thread_init, thread_fini);
}

/* ---- scans ---- */

#define SCAN_INCOMING	0
#define SCAN_DEFERRED	1
#define SCAN_ACTIVE	2

struct scan_job {
	int	 kind;
	int	 force;
	struct strv *ids;
	struct strv *drop;
};

static int scan_busy[3], scan_again[3], force_again;
static int incoming_left;
static struct strv *pickups;	/* maildrop ids being picked up */

#define SCAN_PAUSE_USEC	50000

static void scan_submit(int, int);
static void scan_again_cb(evutil_socket_t, short, void *);
static void pickup_start(const char *);

/* due - a deferred file whose retry time has come */
static int
due(const char *id, long now)
{
	char	*p = queue_path(qmgr_conf.queue_dir, "deferred", id);
	struct stat st;
	int	 rc;

	rc = stat(p, &st) == 0 && st.st_mtime <= now;
	free(p);
	return (rc);
}

/* scan_job - list a directory (io pool) */
static void
scan_job(void *arg, void *tctx)
{
	struct scan_job *j = arg;
	const char *qd = qmgr_conf.queue_dir;
	struct strv *all;
	long	 now = time(NULL);
	size_t	 i;

	errno = 0;
	switch (j->kind) {
	case SCAN_ACTIVE:
		/* no pickup runs yet: finish or undo interrupted ones */
		queue_pickup_recover(qd, "incoming");
		queue_pickup_recover(qd, "hold");
		j->ids = queue_scan(qd, "active");
		queue_clean_temp(qd, "incoming", QUEUE_TEMP_MAX_AGE);
		queue_clean_temp(qd, "maildrop", QUEUE_TEMP_MAX_AGE);
		break;
	case SCAN_INCOMING:
		j->ids = queue_scan(qd, "incoming");
		j->drop = queue_scan(qd, "maildrop");
		break;
	case SCAN_DEFERRED:
		if ((all = queue_scan(qd, "deferred")) == NULL)
			break;
		j->ids = strv_new();
		for (i = 0; i < all->argc; i++)
			if (j->force || due(all->argv[i], now))
				strv_add(j->ids, all->argv[i]);
		strv_free(all);
		break;
	}
	if (j->ids == NULL)
		log_warn("cannot scan %s/%s: %m", qd, j->kind == SCAN_ACTIVE ?
		    "active" : j->kind == SCAN_INCOMING ? "incoming" :
		    "deferred");
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

/* scan_done - start what was found (loop) */
static void
scan_done(void *arg)
{
	struct scan_job *j = arg;
	static const char *from[] = {"incoming", "deferred", "active"};
	size_t	 i;
	int	 kind = j->kind;

	if (kind == SCAN_INCOMING)
		incoming_left = 0;
	for (i = 0; j->ids && i < j->ids->argc; i++) {
		if (qmgr_active_count() >= (size_t)qmgr_conf.active_limit) {
			if (kind == SCAN_INCOMING)
				incoming_left = 1;
			break;
		}
		qmgr_active_start(j->ids->argv[i], from[kind]);
	}
	for (i = 0; j->drop && i < j->drop->argc; i++)
		if (!in_list(pickups, j->drop->argv[i])
		    && pickups->argc < 2 * QMGR_RESOLVE_THREADS)
			pickup_start(j->drop->argv[i]);
	if (j->ids)
		strv_free(j->ids);
	if (j->drop)
		strv_free(j->drop);
	free(j);
	scan_busy[kind] = 0;
	if (kind == SCAN_ACTIVE) {
		scan_submit(SCAN_INCOMING, 0);
		scan_submit(SCAN_DEFERRED, 0);
	} else if (scan_again[kind]) {
		/*
		 * Wakeups came during the scan (smtpd sends one per
		 * message): scan again, but not more often than every
		 * SCAN_PAUSE, so that a busy queue is not listed once per
		 * message.
		 */
		struct timeval tv = {0, SCAN_PAUSE_USEC};

		scan_busy[kind] = 1;
		event_base_once(qmgr_base, -1, EV_TIMEOUT, scan_again_cb,
		    (void *)(long)kind, &tv);
	}
}

/* scan_again_cb - the delayed repeat of a scan */
static void
scan_again_cb(evutil_socket_t fd, short what, void *arg)
{
	int	 kind = (int)(long)arg;

	scan_busy[kind] = 0;
	scan_again[kind] = 0;
	scan_submit(kind, kind == SCAN_DEFERRED ? force_again : 0);
	if (kind == SCAN_DEFERRED)
		force_again = 0;
}

/* scan_submit - one scan of a kind at a time */
static void
scan_submit(int kind, int force)
{
	struct scan_job *j;

	if (scan_busy[kind]) {
		scan_again[kind] = 1;
		if (force)
			force_again = 1;
		return;
	}
	scan_busy[kind] = 1;
	j = xcalloc(1, sizeof(*j));
	j->kind = kind;
	j->force = force;
	workq_submit(scan_pool, scan_job, scan_done, j);
}

/* qmgr_scan_active_at_start - crash leftovers, then the rest */
void
qmgr_scan_active_at_start(void)
{
	if (pickups == NULL)
		pickups = strv_new();
	scan_submit(SCAN_ACTIVE, 0);
}

/* qmgr_scan_incoming - incoming/ and maildrop/ */
void
qmgr_scan_incoming(void)
{
	scan_submit(SCAN_INCOMING, 0);
}

/* qmgr_scan_deferred - due (or, with force, all) deferred files */
void
qmgr_scan_deferred(int force)
{
	scan_submit(SCAN_DEFERRED, force);
}

/* qmgr_scan_more - rescan when the active limit left files behind */
void
qmgr_scan_more(void)
{
	if (incoming_left
	    && qmgr_active_count() < (size_t)qmgr_conf.active_limit)
		scan_submit(SCAN_INCOMING, 0);
}

/* flush_one_job - make one deferred file due (io pool) */
static void
flush_one_job(void *arg, void *tctx)
{
	char	*p = queue_path(qmgr_conf.queue_dir, "deferred", arg);

	if (utimes(p, NULL) < 0 && errno != ENOENT)
		log_warn("%s: flush: %m", (char *)arg);
	free(p);
}

/* flush_one_done - then scan deferred/ (loop) */
static void
flush_one_done(void *arg)
{
	free(arg);
	qmgr_scan_deferred(0);
}

/* qmgr_scan_flush_one - "I<id>" */
void
qmgr_scan_flush_one(const char *id)
{
	if (!queue_id_valid(id))
		return;
	workq_submit(qmgr_io, flush_one_job, flush_one_done, xstrdup(id));
}

/* ---- pickup ---- */

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
	static const char *keep[] = {"dsn_ret", "dsn_envid", "full_name",
	NULL};
	char	**a = xcalloc(2 * 6 + 1, sizeof(char *));
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
		if (v && n + 2 <= 2 * 6) {
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
	log_info("%s: uid=%ld from=<%s>", res->queue_id, (long)uid,
	    log_safe(sender));
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
pickup_clean(struct pickup_job *j, struct qmgr_thread *t,
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
	pickup_outcome(j, qf, path, &in, &res, cleanup_message(t->cm, &in,
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
			log_warn("%s: corrupt queue file: %s", j->id, err);
			if (queue_move(qmgr_conf.queue_dir, "maildrop",
			    "corrupt", j->id) < 0)
				log_warn("%s: move to corrupt: %m", j->id);
		}
		free(path);
		return;
	}
	pickup_clean(j, tctx, qf, path);
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
	    && qmgr_active_count() < (size_t)qmgr_conf.active_limit)
		qmgr_active_start(j->newid, "incoming");
	else if (*j->newid)
		incoming_left = 1;
	free(j->id);
	free(j);
}

/* pickup_start - submit one maildrop file */
static void
pickup_start(const char *id)
{
	struct pickup_job *j = xcalloc(1, sizeof(*j));

	j->id = xstrdup(id);
	strv_add(pickups, id);
	workq_submit(qmgr_resolver, pickup_job, pickup_done, j);
}
