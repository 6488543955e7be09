/*
 * NAME
 *	qmgr_scan - queue scans
 * SYNOPSIS
 *	#include "qmgr.h"
 *
 *	void	qmgr_scan_init(void);
 *	void	qmgr_scan_active_at_start(void);
 *	void	qmgr_scan_incoming(void);
 *	void	qmgr_scan_deferred(int force);
 *	void	qmgr_scan_flush_one(const char *id);
 *	void	qmgr_scan_more(void);
 *	void	qmgr_scan_incoming_left(void);
 *	void	*qmgr_thread_maps(void *thread_ctx);
 *	struct cleanup_maps *qmgr_thread_cleanup(void *thread_ctx);
 * DESCRIPTION
 *	Directory listings run on their own thread (a listing must not wait
 *	behind the io pool's fsyncs, nor delay them); the loop then starts the
 *	messages it may take (qmgr_message_active_limit, or less when
 *	RLIMIT_NOFILE cannot hold that many open queue files:
 *	qmgr_conf.active_max). One scan of a kind is in flight at a
 *	time; a request during a scan runs it
 *	again afterwards. qmgr_scan_more() rescans incoming/ when an
 *	earlier scan (or a pickup, which says so with
 *	qmgr_scan_incoming_left()) left files behind because of the limit.
 *
 *	At start active/ is taken first (files left by a crash are
 *	delivered again from their recorded state), then incoming/,
 *	maildrop/ and the due files of deferred/ (mtime <= now).
 *	qmgr_scan_deferred(1) is a flush: every deferred file is due.
 *	qmgr_scan_flush_one() makes one deferred file due.
 *
 *	The incoming/ scan also lists maildrop/ and hands each file to
 *	the pickup (qmgr_pickup.c). Before any pickup, the start scan runs
 *	queue_pickup_recover(), which undoes or finishes interrupted
 *	pickups.
 *
 *	qmgr_scan_init() lowers the active limit to what the descriptors
 *	allow (qmgr_conf_fd_limit(), logged) and starts the three pools
 *	(qmgr.h); each resolve thread has its own resolve maps
 *	(qmgr_thread_maps()) and cleanup maps (qmgr_thread_cleanup()).
 * DIAGNOSTICS
 *	A directory that cannot be listed is logged and tried again at
 *	the next scan.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cleanup.h"
#include "log.h"
#include "qmgr.h"
#include "queue_journal.h"
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

/* qmgr_thread_cleanup - a resolve thread's cleanup maps */
struct cleanup_maps *
qmgr_thread_cleanup(void *tctx)
{
	return (((struct qmgr_thread *)tctx)->cm);
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

/* qmgr_scan_init - the active limit, then the pools */
void
qmgr_scan_init(void)
{
	qmgr_conf_fd_limit();
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

#define SCAN_PAUSE_USEC	50000

static void scan_submit(int, int);
static void scan_again_cb(evutil_socket_t, short, void *);

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

/* how often an incoming/ scan looks for a dead smtpd's journal (s) */
#define JOURNAL_EVERY	5
static long journal_next;

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
		/* messages smtpd acknowledged from its journal, first */
		queue_journal_recover(qd);
		/* no pickup runs yet: finish or undo interrupted ones */
		queue_pickup_recover(qd, "incoming");
		queue_pickup_recover(qd, "hold");
		j->ids = queue_scan(qd, "active");
		queue_clean_temp(qd, "incoming", QUEUE_TEMP_MAX_AGE);
		queue_clean_temp(qd, "maildrop", QUEUE_TEMP_MAX_AGE);
		queue_pool_prune(qd, QUEUE_TEMP_MAX_AGE);
		break;
	case SCAN_INCOMING:
		/* the journal of an smtpd that died (none if none did) */
		if (now >= __atomic_load_n(&journal_next, __ATOMIC_RELAXED)) {
			__atomic_store_n(&journal_next, now + JOURNAL_EVERY,
			    __ATOMIC_RELAXED);
			queue_journal_recover(qd);
		}
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
		if (qmgr_active_count() >= (size_t)qmgr_conf.active_max) {
			if (kind == SCAN_INCOMING)
				incoming_left = 1;
			break;
		}
		qmgr_active_start(j->ids->argv[i], from[kind]);
	}
	for (i = 0; j->drop && i < j->drop->argc; i++)
		qmgr_pickup_start(j->drop->argv[i]);
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

/* qmgr_scan_incoming_left - a new incoming file waits for the limit */
void
qmgr_scan_incoming_left(void)
{
	incoming_left = 1;
}

/* qmgr_scan_more - rescan when the active limit left files behind */
void
qmgr_scan_more(void)
{
	if (incoming_left
	    && qmgr_active_count() < (size_t)qmgr_conf.active_max)
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
