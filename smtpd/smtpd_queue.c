/*
 * NAME
 *	smtpd_queue - the message into the queue as it arrives, durably
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	void	smtpd_queue_begin(struct smtpd_session *s,
 *	    struct workq *wq);
 *	void	smtpd_queue_chunk(struct smtpd_session *s,
 *	    struct workq *wq);
 *	void	smtpd_queue_message(struct smtpd_session *s,
 *	    struct workq *wq);
 * DESCRIPTION
 *	The message streams into its queue file through cleanup's stream
 *	(cleanup/cleanup.h), each step a job on a queue worker (with that
 *	worker's cleanup maps) while the session is busy and does not read:
 *	smtpd_queue_begin() when DATA is accepted makes the transaction
 *	(no job: with milters, the milters' open job), smtpd_queue_chunk()
 *	for every SMTPD_DATA_CHUNK bytes the DATA reader collected in
 *	s->data->msg (written and emptied); the first job that writes
 *	(a chunk's, or the final dot's for a message smaller than a chunk)
 *	begins the file first (envelope rewriting, incoming/.ID begun,
 *	"ID: client=" logged), so a small message costs the session two
 *	worker hops (the file; the group commit), not three, and most often
 *	one: without a milter, every chunk and the final dot are written
 *	on the event loop (workq_inline(), with the loop's own cleanup
 *	maps; a big message's chunks too: a worker hop per chunk was a
 *	thread switch each way, 13.5 % of smtpd's samples with 100 KB
 *	messages) when nothing in it can wait on the network or the disk:
 *	smtpd_queue_sync = syncfs (no per-file fsync), no DKIM signing, and
 *	cleanup's tables (canonical_maps, sender_ and
 *	recipient_canonical_maps, header_checks, body_checks, sender_ and
 *	recipient_bcc_maps) all of types read from local files or memory
 *	(hash, lmdb, btree, texthash, cidr, regexp, pcre, inline, static,
 *	memory; not mysql, unix, or an unknown type). Creating and
 *	writing a small file are what Postfix's cleanup does blocking too;
 *	its rename is left to the group commit on a worker (on ext4 a
 *	rename waits for a running syncfs: on the loop it held every
 *	session up, 520 instead of 1,450 messages a second), see 2 below.
 *	The transaction is s->data->queue;
 *	smtpd_data_free() (RSET, QUIT, a lost client, a 552 or 521) calls
 *	its drop function, which removes an unfinished file.
 *	After the final dot (smtpd_queue_message()) the session is busy
 *	until its reply is known:
 *	  1. On a worker, the last bytes are written and the stream is
 *	     closed: checks that need the whole message (hop count, map
 *	     trouble seen on the way), then the file is finished and
 *	     renamed into incoming/ (or hold/).
 *	  2. Group commit: the committer collects the sessions whose files
 *	     were renamed (or, written on the loop, are finished and wait
 *	     for their rename: queue_writer_later(), lib/queue.h); one
 *	     worker job makes the whole batch durable, then every session
 *	     of the batch gets its "250 2.0.0 Ok: queued as ID": the job
 *	     sends it itself to a plaintext client with nothing queued
 *	     before it (smtpd_session_direct_fd(), commit_reply_early();
 *	     the loop counts, notes and logs it as any reply), the others
 *	     go from the loop. Sessions that finish while a sync runs
 *	     form the next batch, so under load one flush covers many
 *	     messages; the job that ends takes that batch on itself, on
 *	     the same thread (workq_chain()), unless the journal is due
 *	     for its checkpoint. With smtpd_queue_sync =
 *	     journal (postern's default) a batch of files written on the
 *	     loop, of two messages or more, or while the journal has
 *	     files waiting, or within 50 ms of the last batch journaled
 *	     (under load), is appended to the process's journal,
 *	     one write and one flush (commit_journal()), and renamed only
 *	     at a checkpoint
 *	     (ckpt_job(), on a worker while batches go to the process's
 *	     other journal; due 50 ms after the oldest file, and started by
 *	     the loop: journal_kick(), journal_arm()); any other batch is
 *	     renamed and synced as with syncfs (QUEUE.md, "The journal").
 *	     With smtpd_queue_sync = syncfs the job renames the batch's
 *	     files and then syncs; with syncfs or journal cleanup skips
 *	     the per-file fsync (CLEANUP_FLAG_NOSYNC) and the batch is one
 *	     syncfs() of the queue file system (queue_sync_fs(): file data
 *	     and renames together); with "fsync" each file is fsynced by
 *	     cleanup and the batch is one fsync of incoming/ (and hold/).
 *	  3. The same job wakes qmgr: a "W" trigger (lib/trigger.h) to
 *	     public/qmgr, non-blocking, on the connection the process
 *	     keeps to qmgr (trigger_qmgr_keep(): one send per batch, not
 *	     a connection; the workers share it under a lock, uncontended
 *	     since one commit job runs at a time; a full socket buffer
 *	     drops the byte, qmgr having wakeups unread; a restarted qmgr
 *	     is reconnected once); failure is logged at debug level only
 *	     (qmgr also scans the queue on its own).
 *	Envelope attributes passed to cleanup (queue file "A" records):
 *	client_name, reverse_client_name, client_address, client_port,
 *	helo_name, protocol, and when given dsn_envid, dsn_ret (FULL or
 *	HDRS), body_type (8BITMIME), smtputf8 and requiretls ("1", from
 *	the MAIL parameters; smtpd_ext.c). Cleanup builds the Received: header
 *	from them (in->received is NULL), since only it knows the id.
 *	The transaction's access-table actions (smtpd_check.h) go along:
 *	HOLD and DISCARD as cleanup flags, PREPEND headers as
 *	in->prepend, a REDIRECT target instead of every recipient, each
 *	BCC address as one more recipient with NOTIFY=NEVER, a FILTER
 *	as in->filter; receive_override_options (smtpd_override.c) as
 *	cleanup flags.
 * DIAGNOSTICS
 *	A cleanup REJECT or DEFER reply is passed to the client as cleanup
 *	wrote it; a failed directory sync is "451 4.3.0 Error: queue file
 *	write error".
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "cleanup.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "metrics.h"
#include "queue.h"
#include "queue_journal.h"
#include "reply.h"
#include "smtpd.h"
#include "smtpd_milter.h"
#include "smtpd_override.h"
#include "str.h"
#include "trigger.h"
#include "workq.h"
#include "xalloc.h"

static struct workq *queue_wq;

/* one group commit: a batch of sessions and how it went */
struct commit {
	struct smtpd_session *batch;
	int	 hold;			/* the batch has a hold/ file */
	int	 ok;
	struct commit *next;		/* commit_live */
};

/* the loop adds to commit_wait; a commit job that ends takes what
 * waits as its successor (workq_chain()), so both under the lock */
static pthread_mutex_t commit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct smtpd_session *commit_wait;	/* written, not yet synced */
static int commit_running;		/* a commit job runs or is chained */
static struct commit *commit_live;	/* taken, done() not yet run: a job
					 * workq_free() drops is freed at exit */
/* smtpd_queue_sync = journal: two, one taking batches while the other
 * checkpoints (lib/queue_journal.h); the loop swaps them */
static struct queue_journal *journal[2];
static int journal_active;		/* the one batches go to */
static int journal_tried;		/* opened by the first commit job */
static int ckpt_running;		/* a checkpoint job runs */
static int journal_seen;		/* the loop may look at journal[] */
static struct event *journal_timer;	/* a checkpoint after a quiet spell */
static struct timespec journal_last;	/* the last batch journaled (commit
					 * jobs only: they run one at a time) */

/* the transaction's queue file, from DATA to the final dot (d->queue) */
struct queue_txn {
	struct cleanup_input in;
	struct cleanup_result res;
	struct cleanup_rcpt *rcpts;
	const char *attrs[32];
	struct cleanup_stream *st;
	char	*redirect;		/* access REDIRECT target */
	char	*bcc;			/* access BCC list (LF-separated) */
	char	*prepend;		/* access PREPEND headers */
	int	 milter;		/* through smtpd_milter.c */
	struct queue_rename later;	/* written on the loop: the rename */
	int	 later_err;		/* that rename failed */
};

/* queue_txn_of - the session's transaction, or NULL */
static struct queue_txn *
queue_txn_of(struct smtpd_session *s)
{
	return (s->data ? s->data->queue : NULL);
}

/* queue_finish - the reply is queued: end the transaction, go on */
static void
queue_finish(struct smtpd_session *s)
{
	smtpd_session_reset(s);
	s->busy = 0;
	smtpd_session_resume(s);
}

/* queue_wake_qmgr - tell qmgr that there is new mail (best effort) */
static void
queue_wake_qmgr(void)
{
	char	 err[512];

	/* A worker must not stall on a busy qmgr: never blocks. */
	if (trigger_qmgr_keep(smtpd_params.queue_dir, TRIGGER_REQ_WAKEUP, err,
	    sizeof(err)) < 0)
		log_debug("cannot wake qmgr: %s", err);
}

/* journal_get - on a worker: the journal batches go to, both opened
 * (and the orphans recovered) by the first commit job; NULL: syncfs */
static struct queue_journal *
journal_get(void)
{
	char	 err[512];
	int	 i;

	if (!smtpd_params.journal)
		return (NULL);
	if (!journal_tried) {
		journal_tried = 1;
		for (i = 0; i < 2; i++)
			if ((journal[i] = queue_journal_open(
			    smtpd_params.queue_dir, err, sizeof(err))) == NULL) {
				log_warn("smtpd_queue_sync = journal: %s; "
				    "using syncfs", err);
				queue_journal_close(journal[0]);
				journal[0] = NULL;
				break;
			}
	}
	return (journal[journal_active]);
}

/* journal_busy - on a worker: a batch was journaled less than a
 * checkpoint's interval ago: under load, whatever this journal holds
 * (right after the swap to it, nothing: the other one is in its
 * checkpoint) */
static int
journal_busy(void)
{
	struct timespec now;

	if (journal_last.tv_sec == 0 && journal_last.tv_nsec == 0)
		return (0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((now.tv_sec - journal_last.tv_sec) * 1000000L
	    + (now.tv_nsec - journal_last.tv_nsec) / 1000
	    < QUEUE_JOURNAL_CKPT_USEC);
}

/* commit_journal - on a worker: the batch appended to the journal and
 * synced (its 250s may go); 0 when it cannot be, or is a lone message
 * on a quiet server (nothing waits in the journal, none went to it
 * lately): the batch is synced as without a journal */
static int
commit_journal(struct queue_journal *j, struct commit *c)
{
	struct queue_rename **rv;
	struct smtpd_session *s;
	struct queue_txn *t;
	size_t	 n = 0;

	for (s = c->batch; s; s = s->next) {
		/* a file cleanup renamed itself (a milter, a remote map) */
		if ((t = queue_txn_of(s)) == NULL || t->later.tmp == NULL)
			return (0);
		n++;
	}
	/* a lone message on a quiet server: visible at its 250, as in
	 * Postfix; the journal pays off when messages finish together
	 * (and a lone one after the swap to an empty journal is load: a
	 * syncfs of its own cost a flush of everything dirty) */
	if (n < 2 && queue_journal_pending(j) == 0 && !journal_busy())
		return (0);
	rv = xcalloc(n, sizeof(*rv));
	n = 0;
	for (s = c->batch; s; s = s->next) {
		t = queue_txn_of(s);
		if (queue_journal_add(j, &t->later) < 0) {
			if (errno != EFBIG && errno != ENOSPC)
				log_warn("%s: cannot journal: %m; syncfs",
				    s->queue_id);
			free(rv);
			return (0);
		}
		rv[n++] = &t->later;
	}
	if (queue_journal_write(j, rv, n) < 0) {
		log_warn("cannot write the journal: %m; syncfs");
		free(rv);
		return (0);
	}
	free(rv);
	clock_gettime(CLOCK_MONOTONIC, &journal_last);
	c->ok = 1;
	return (1);
}

/* ckpt_job - on a worker: a journal's files durable and renamed */
static void
ckpt_job(void *arg, void *thread_ctx)
{
	struct queue_journal *j = arg;

	(void)thread_ctx;
	if (queue_journal_checkpoint(j) < 0)
		log_warn("journal checkpoint in %s: %m (tried again later)",
		    smtpd_params.queue_dir);
	queue_wake_qmgr();
}

static void ckpt_done(void *);

/*
 * commit_reply_early - on a worker, the batch durable: each 250 that can
 * go straight to its client (smtpd_session_direct_fd(), decided on the
 * loop) is sent now instead of after a turn of the loop, which under
 * load was 0.2-0.4 ms of every message's wait; commit_done() counts and
 * logs it and sends what a full socket left.
 */
static void
commit_reply_early(struct commit *c)
{
	struct smtpd_session *s;
	struct queue_txn *t;
	struct buf *b = buf_new(128);
	ssize_t	 n;

	for (s = c->batch; s; s = s->next) {
		t = queue_txn_of(s);
		if (s->commit_fd < 0 || (t != NULL && t->later_err))
			continue;
		buf_reset(b);
		reply_build(b, REPLY_QUEUED, s->queue_id);
		if ((n = send(s->commit_fd, BUF_STR(b), BUF_LEN(b),
		    MSG_NOSIGNAL | MSG_DONTWAIT)) > 0)
			s->commit_sent = (size_t)n;
	}
	buf_free(b);
}

/* commit_take - the waiting sessions as one commit, or NULL (lock held) */
static struct commit *
commit_take(void)
{
	struct commit *c;
	struct smtpd_session *s;

	if (commit_wait == NULL)
		return (NULL);
	c = xcalloc(1, sizeof(*c));
	c->batch = commit_wait;
	commit_wait = NULL;
	for (s = c->batch; s; s = s->next)
		c->hold |= s->queue_hold;
	c->next = commit_live;
	commit_live = c;
	return (c);
}

static void commit_done(void *);

/*
 * commit_job - on a worker: one flush for the whole batch; then, when
 * sessions finished their files meanwhile, their batch is chained to
 * run next on this thread (workq_chain()) instead of waiting for this
 * one's done() on the loop and a worker's wakeup (0.35 ms under the
 * bench's load) -- unless the journal is due for its checkpoint, which
 * the loop starts (journal_kick()) while no commit runs.
 */
static void
commit_job(void *arg, void *thread_ctx)
{
	struct commit *c = arg, *next;
	struct smtpd_session *s;
	struct queue_txn *t;
	struct queue_journal *j = journal_get();

	if (j != NULL && commit_journal(j, c)) {
		commit_reply_early(c);		/* renamed at a checkpoint */
	} else {
		/* files written on the loop: their commit point, before
		 * the sync */
		for (s = c->batch; s; s = s->next)
			if ((t = queue_txn_of(s)) != NULL && t->later.tmp
			    != NULL && queue_rename_commit(&t->later) < 0) {
				log_warn("%s: cannot rename queue file: %s",
				    s->queue_id, strerror(errno));
				t->later_err = 1;
			}
		if (smtpd_params.sync_fs)
			c->ok = queue_sync_fs(smtpd_params.queue_dir) == 0;
		else
			c->ok = queue_sync_dir(smtpd_params.queue_dir,
			    "incoming") == 0 && (!c->hold || queue_sync_dir(
			    smtpd_params.queue_dir, "hold") == 0);
		if (!c->ok)
			log_warn("cannot sync queue directory %s: %s",
			    smtpd_params.queue_dir, strerror(errno));
		else
			commit_reply_early(c);
		queue_wake_qmgr();
	}
	pthread_mutex_lock(&commit_lock);
	next = j != NULL && queue_journal_due(j) ? NULL : commit_take();
	if (next == NULL)
		commit_running = 0;
	pthread_mutex_unlock(&commit_lock);
	if (next != NULL)
		workq_chain(queue_wq, commit_job, commit_done, next);
}

static void commit_kick(void);
static void journal_arm(void);
static int queue_inline_conf(void);
static int queue_inline(const struct queue_txn *);

/* commit_done - on the loop: answer every session of the batch */
static void
commit_done(void *arg)
{
	struct commit *c = arg, **cp;
	struct smtpd_session *s, *next;
	struct queue_txn *t;

	for (s = c->batch; s; s = next) {
		next = s->next;
		s->next = NULL;
		t = queue_txn_of(s);
		if (c->ok && (t == NULL || !t->later_err)) {
			smtpd_reply_sent(s, REPLY_QUEUED, s->queue_id,
			    s->commit_sent);
			metrics_service_count(
			    "postern_smtpd_messages_received_total", NULL);
		} else
			smtpd_reply(s, REPLY_QUEUE_ERR, NULL);
		s->commit_sent = 0;
		queue_finish(s);
	}
	/* a few at most: the one running, those whose done() the loop
	 * has not run yet */
	pthread_mutex_lock(&commit_lock);
	for (cp = &commit_live; *cp != c; cp = &(*cp)->next)
		;
	*cp = c->next;
	pthread_mutex_unlock(&commit_lock);
	free(c);
	journal_seen = 1;
	commit_kick();
	journal_arm();
}

/* commit_busy - on the loop: a commit job runs or is chained; when not,
 * none starts until the loop starts one, and the loop may look at the
 * journal batches go to */
static int
commit_busy(void)
{
	int	 busy;

	pthread_mutex_lock(&commit_lock);
	busy = commit_running;
	pthread_mutex_unlock(&commit_lock);
	return (busy);
}

/* journal_arm - on the loop: while files wait in a journal no job
 * uses now, a checkpoint comes when the oldest is due, load or not */
static void
journal_arm(void)
{
	long	 wait = -1;
	struct timeval tv;

	if (journal_timer == NULL || !journal_seen)
		return;
	if (!commit_busy())
		wait = queue_journal_wait(journal[journal_active]);
	/* the other has files left only when its checkpoint failed: it is
	 * tried again after a second */
	if (!ckpt_running && queue_journal_pending(journal[!journal_active]) > 0
	    && (wait < 0 || wait > 1000000))
		wait = 1000000;
	if (wait < 0)
		return;
	if (wait < 1000)
		wait = 1000;
	tv.tv_sec = wait / 1000000;
	tv.tv_usec = wait % 1000000;
	evtimer_del(journal_timer);
	evtimer_add(journal_timer, &tv);
}

/* ckpt_done - on the loop: the checkpoint ended */
static void
ckpt_done(void *arg)
{
	(void)arg;
	ckpt_running = 0;
	commit_kick();
	journal_arm();
}

/* journal_kick - on the loop: start a checkpoint when one is due: of
 * the journal batches go to, which the other one then takes over, when
 * no batch runs and the other has nothing left; of the other (a rename
 * that failed) when the timer says so */
static void
journal_kick(int timer)
{
	struct queue_journal *old = journal[journal_active];
	struct queue_journal *other = journal[!journal_active];

	if (!journal_seen || ckpt_running || old == NULL || other == NULL)
		return;
	if (queue_journal_pending(other) > 0) {
		if (!timer)
			return;
		old = other;
	} else if (commit_busy() || !queue_journal_due(old))
		return;
	else
		journal_active = !journal_active;
	ckpt_running = 1;
	workq_submit(queue_wq, ckpt_job, ckpt_done, old);
}

/* journal_timer_fire - on the loop: the oldest journaled file is due */
static void
journal_timer_fire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	journal_kick(1);
	commit_kick();
	journal_arm();
}

/* commit_kick - start a sync for the waiting sessions, if none runs */
static void
commit_kick(void)
{
	struct commit *c = NULL;

	if (queue_wq == NULL)
		return;
	journal_kick(0);
	pthread_mutex_lock(&commit_lock);
	if (!commit_running && (c = commit_take()) != NULL)
		commit_running = 1;
	pthread_mutex_unlock(&commit_lock);
	if (c != NULL)
		workq_submit(queue_wq, commit_job, commit_done, c);
}

/* smtpd_queue_init - the checkpoint timer, on the loop's base */
void
smtpd_queue_init(struct event_base *base)
{
	if (smtpd_params.journal)
		journal_timer = evtimer_new(base, journal_timer_fire, NULL);
}

/* smtpd_queue_fini - at exit, the workers stopped: journaled files
 * renamed (what cannot be waits for the next recovery) */
void
smtpd_queue_fini(void)
{
	struct commit *c;

	while ((c = commit_live) != NULL) {
		commit_live = c->next;
		free(c);
	}
	queue_journal_close(journal[0]);
	queue_journal_close(journal[1]);
	journal[0] = journal[1] = NULL;
	if (journal_timer != NULL)
		event_free(journal_timer);
	journal_timer = NULL;
}

/* queue_attr - add a name/value pair when the value is set */
static void
queue_attr(const char **a, size_t *n, const char *name, const char *value)
{
	if (value == NULL || *value == 0)
		return;
	a[(*n)++] = name;
	a[(*n)++] = value;
}

/* queue_begun - the queue file exists: "ID: client=", before cleanup's lines */
static void
queue_begun(void *arg, const char *id)
{
	struct smtpd_session *s = arg;

	if (s->sasl_user)
		log_info("%s: client=%s, sasl_method=%s, sasl_username=%s", id,
		    s->namaddr, s->sasl_method ? s->sasl_method : "",
		    log_safe(s->sasl_user));
	else
		log_info("%s: client=%s", id, s->namaddr);
}

/* queue_txn_free - forget the transaction; an open file is removed */
static void
queue_txn_free(void *arg)
{
	struct queue_txn *t = arg;

	cleanup_stream_abort(t->st);
	queue_rename_abort(&t->later);
	free(t->rcpts);
	free(t->redirect);
	free(t->bcc);
	free(t->prepend);
	free(t);
}

/* queue_txn_new - the envelope cleanup gets (queue file "A" records) */
static struct queue_txn *
queue_txn_new(struct smtpd_session *s)
{
	struct queue_txn *t = xcalloc(1, sizeof(*t));
	const char **attrs = t->attrs;
	size_t	 i, n = 0, nr = 0, nbcc = 0;
	char	*p, *nl;

	/* access BCC: one more recipient each, no DSN (Postfix's bcc) */
	if (s->cs.bcc[0]) {
		t->bcc = xstrdup(s->cs.bcc);
		for (p = t->bcc; *p; p++)
			nbcc += *p == '\n';
	}
	t->rcpts = xcalloc(s->nrcpts + nbcc + 1, sizeof(*t->rcpts));
	if (s->cs.redirect[0] && s->nrcpts > 0) {
		/* access REDIRECT: it replaces every recipient */
		t->redirect = xstrdup(s->cs.redirect);
		t->rcpts[nr].addr = t->redirect;
		t->rcpts[nr++].notify = s->rcpts[0].notify;
	} else
		for (i = 0; i < s->nrcpts; i++) {
			t->rcpts[nr].addr = s->rcpts[i].addr;
			t->rcpts[nr].orcpt = s->rcpts[i].orcpt;
			t->rcpts[nr++].notify = s->rcpts[i].notify;
		}
	for (p = t->bcc; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		*nl = 0;
		t->rcpts[nr].addr = p;
		t->rcpts[nr++].notify = QUEUE_NOTIFY_NEVER;
	}
	if (s->cs.prepend[0])
		t->prepend = xstrdup(s->cs.prepend);
	queue_attr(attrs, &n, "client_name", s->cs.client_name);
	queue_attr(attrs, &n, "reverse_client_name",
	    s->cs.reverse_client_name);
	queue_attr(attrs, &n, "client_address", s->client_addr);
	queue_attr(attrs, &n, "client_port", s->client_port);
	queue_attr(attrs, &n, "helo_name", s->helo);
	/* Postfix's Received: "with UTF8SMTP" for an SMTPUTF8 transaction */
	queue_attr(attrs, &n, "protocol", s->smtputf8 ? "UTF8SMTP"
	    : s->cs.protocol);
	if (smtpd_params.tls_received)
		queue_attr(attrs, &n, "tls_info", s->tls_info);
	queue_attr(attrs, &n, "sasl_username", s->sasl_user);
	queue_attr(attrs, &n, "sasl_method", s->sasl_method);
	queue_attr(attrs, &n, "dsn_envid", s->dsn_envid);
	queue_attr(attrs, &n, "dsn_ret", s->dsn_ret == 1 ? "FULL"
	    : s->dsn_ret == 2 ? "HDRS" : NULL);
	queue_attr(attrs, &n, "body_type", s->body_8bit ? "8BITMIME" : NULL);
	queue_attr(attrs, &n, "smtputf8", s->smtputf8 ? "1" : NULL);
	queue_attr(attrs, &n, "requiretls", s->requiretls ? "1" : NULL);
	attrs[n] = NULL;

	t->in.queue_dir = smtpd_params.queue_dir;
	t->in.sender = s->sender;
	t->in.rcpts = t->rcpts;
	t->in.nrcpts = nr;
	t->in.prepend = t->prepend;
	t->in.attrs = attrs;
	/*
	 * Local submission (-S: sendmail -bs) and authenticated submission
	 * get missing Message-ID:, Date:, From: added (cleanup.h).
	 */
	t->in.flags = s->stdin_mode || s->sasl_user ? CLEANUP_FLAG_LOCAL : 0;
	if (smtpd_params.sync_fs)
		t->in.flags |= CLEANUP_FLAG_NOSYNC;
	if (s->cs.actions & SMTPD_ACT_HOLD)
		t->in.flags |= CLEANUP_FLAG_HOLD;
	if (s->cs.actions & SMTPD_ACT_DISCARD)
		t->in.flags |= CLEANUP_FLAG_DISCARD;
	t->in.flags |= smtpd_override_cleanup_flags();
	t->in.filter = s->cs.filter[0] ? s->cs.filter : NULL;
	t->in.received = NULL;
	t->in.log_prefix = s->namaddr;
	t->in.begun = queue_begun;
	t->in.begun_ctx = s;
	return (t);
}

/* queue_open_job - on a worker: the milters' message begins (the queue
 * file comes after the milters) */
static void
queue_open_job(void *arg, void *thread_ctx)
{
	smtpd_milter_open_job(arg);
}

/* queue_stream - on a worker: the transaction's file, begun on first use */
static struct cleanup_stream *
queue_stream(struct queue_txn *t, struct smtpd_worker *w)
{
	if (t->st == NULL)
		t->st = cleanup_stream_open(w->cleanup, &t->in, &t->res);
	return (t->st);
}

/* queue_chunk_job - on a worker: the bytes read so far into the file */
static void
queue_chunk_job(void *arg, void *thread_ctx)
{
	struct smtpd_session *s = arg;
	struct smtpd_worker *w = thread_ctx;
	struct queue_txn *t = s->data->queue;
	struct buf *b = s->data->msg;

	if (t && b && BUF_LEN(b) && t->milter) {
		smtpd_milter_chunk_job(s, BUF_STR(b), BUF_LEN(b));
		buf_reset(b);
	} else if (t && b && BUF_LEN(b)) {
		cleanup_stream_write(queue_stream(t, w), w->cleanup, BUF_STR(b),
		    BUF_LEN(b));
		buf_reset(b);
	}
}

/* queue_chunk_done - on the loop: read on */
static void
queue_chunk_done(void *arg)
{
	struct smtpd_session *s = arg;

	s->busy = 0;
	smtpd_session_resume(s);
}

/* smtpd_queue_begin - DATA accepted: begin the queue file */
void
smtpd_queue_begin(struct smtpd_session *s, struct workq *wq)
{
	int	 milter = smtpd_milter_message(s);	/* may set HOLD */

	queue_wq = wq;
	s->data->queue = queue_txn_new(s);
	((struct queue_txn *)s->data->queue)->milter = milter;
	s->data->drop = queue_txn_free;
	if (!milter)
		return;		/* the first chunk's job begins the file */
	s->busy = 1;
	workq_submit(wq, queue_open_job, queue_chunk_done, s);
}

/* smtpd_queue_chunk - a chunk of the message into the queue file */
void
smtpd_queue_chunk(struct smtpd_session *s, struct workq *wq)
{
	struct queue_txn *t = s->data->queue;

	s->busy = 1;
	if (queue_inline(t))
		workq_inline(wq, queue_chunk_job, queue_chunk_done, s);
	else
		workq_submit(wq, queue_chunk_job, queue_chunk_done, s);
}

/* queue_job - on a worker: the rest of the message, commit */
static void
queue_job(void *arg, void *thread_ctx)
{
	struct smtpd_session *s = arg;
	struct smtpd_worker *w = thread_ctx;
	struct queue_txn *t = s->data->queue;

	queue_chunk_job(arg, thread_ctx);
	if (t->milter)
		s->result = smtpd_milter_eom_job(s, w->cleanup, &t->in,
		    &t->res);
	else
		s->result = cleanup_stream_close(queue_stream(t, w),
		    w->cleanup);
	t->st = NULL;
	snprintf(s->queue_id, sizeof(s->queue_id), "%s", t->res.queue_id);
	s->queue_hold = t->res.hold;
	if (s->result == CLEANUP_REJECT || s->result == CLEANUP_DEFER)
		buf_puts(s->job_reply, t->res.reply);
}

/* queue_done - on the loop: the file exists (or not); reply or commit */
static void
queue_done(void *arg)
{
	struct smtpd_session *s = arg;

	if (s->result == CLEANUP_OK) {
		buf_free(s->job_reply);
		s->job_reply = NULL;
		s->commit_fd = smtpd_session_direct_fd(s);
		s->commit_sent = 0;
		pthread_mutex_lock(&commit_lock);
		s->next = commit_wait;
		commit_wait = s;
		pthread_mutex_unlock(&commit_lock);
		commit_kick();
		return;
	}
	if (s->result == CLEANUP_DISCARD) {
		if (s->queue_id[0])
			smtpd_reply(s, REPLY_QUEUED, s->queue_id);
		else
			smtpd_reply(s, REPLY_OK, NULL);
	} else if (BUF_LEN(s->job_reply) > 4)
		smtpd_reply_text(s, BUF_STR(s->job_reply));
	else
		smtpd_reply(s, REPLY_QUEUE_ERR, NULL);
	buf_free(s->job_reply);
	s->job_reply = NULL;
	queue_finish(s);
}

/* queue_local_list - every table of a list parameter is local */
static int
queue_local_list(const char *param)
{
	const char *p = conf_str(param), *start;
	int	 depth;

	for (; p && *p; p++) {
		if (strchr(STR_LIST_DELIMS, *p))
			continue;
		/* one spec: up to a delimiter outside {...} */
		for (start = p, depth = 0; *p; p++) {
			if (*p == '{')
				depth++;
			else if (*p == '}' && depth > 0)
				depth--;
			else if (depth == 0 && strchr(STR_LIST_DELIMS, *p))
				break;
		}
		if (!map_spec_local(start, p - start))
			return (0);
		if (*p == 0)
			break;
	}
	return (1);
}

/* queue_inline_conf - cleanup never waits on the network or a sync */
static int
queue_inline_conf(void)
{
	static const char *const lists[] = {
		"canonical_maps", "sender_canonical_maps",
		"recipient_canonical_maps", "header_checks", "body_checks",
		"sender_bcc_maps", "recipient_bcc_maps", NULL,
	};
	static int ok = -1;
	const char *dkim;
	size_t	 i;

	if (ok >= 0)
		return (ok);
	ok = smtpd_params.sync_fs != 0;
	/* A signature costs a private-key operation: a worker's CPU. */
	dkim = conf_str("dkim_signing_table");
	if (conf_bool("dkim_signing") && dkim
	    && dkim[strspn(dkim, STR_LIST_DELIMS)] != 0)
		ok = 0;
	for (i = 0; ok && lists[i]; i++)
		ok = queue_local_list(lists[i]);
	log_debug("queue files of small messages written on the event "
	    "loop: %s", ok ? "yes" : "no");
	return (ok);
}

/* queue_inline - the transaction's steps run on the loop (see above) */
static int
queue_inline(const struct queue_txn *t)
{
	return (t && !t->milter && queue_inline_conf());
}

/* queue_inline_job - on the loop: queue_job, the rename left to the
 * group commit (commit_job) */
static void
queue_inline_job(void *arg, void *thread_ctx)
{
	struct smtpd_session *s = arg;
	struct queue_txn *t = s->data->queue;

	t->in.later = &t->later;
	queue_job(arg, thread_ctx);
	t->in.later = NULL;
}

/* smtpd_queue_message - start queueing the session's message */
void
smtpd_queue_message(struct smtpd_session *s, struct workq *wq)
{
	struct queue_txn *t = s->data->queue;

	queue_wq = wq;
	s->queue_id[0] = 0;
	s->job_reply = buf_new(128);
	/* No milter: begin (or go on), write, finish, rename on the loop. */
	if (queue_inline(t))
		workq_inline(wq, queue_inline_job, queue_done, s);
	else
		workq_submit(wq, queue_job, queue_done, s);
}
