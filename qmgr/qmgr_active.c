/*
 * NAME
 *	qmgr_active - the life of a message in active/
 * SYNOPSIS
 *	#include "qmgr.h"
 *
 *	void	qmgr_active_start(const char *id, const char *from);
 *	size_t	qmgr_active_count(void);
 *	int	qmgr_active_has(const char *id);
 *	void	qmgr_active_outcomes(struct qmgr_msg *msg,
 *	    struct qmgr_outcome *out, size_t n, const char *transport,
 *	    const char *nexthop);
 *	void	qmgr_msg_release(struct qmgr_msg *msg);
 * DESCRIPTION
 *	A round: qmgr_active_start() moves the file from "from" (incoming,
 *	deferred, or active after a crash) to active/ and opens it (io
 *	pool); resolution runs on the resolve pool (alias expansion is
 *	appended to the queue file there, parent marked done); routes are
 *	handed to the scheduler, and qmgr-internal outcomes (bounce,
 *	defer, error/retry/discard transports) go straight to
 *	qmgr_active_outcomes(). That records each outcome on the io pool
 *	(bounce/defer log entry first, then the done flag; the flags of one
 *	answer share one fdatasync, and an exactly_once recipient's flag
 *	needs none) and logs the
 *	"to=" line. When nothing is in flight any more (msg->refs == 0)
 *	the round ends on the io pool: expired recipients are bounced,
 *	a DSN goes to the sender for the bounce log, a delay warning if
 *	due, then the file is removed (all done) or moved to deferred/
 *	with mtime = now + backoff (the message's age, clamped to
 *	[minimal_backoff_time, maximal_backoff_time], as Postfix does).
 * DIAGNOSTICS
 *	A file that does not parse, or is not a regular file, goes to
 *	corrupt/ with a warning; one that cannot be opened for a reason
 *	that passes (EMFILE, ENFILE, ENOMEM, EIO, EACCES ...) waits in
 *	deferred/ for minimal_backoff_time instead, with a warning. A
 *	failure to record an outcome leaves the recipient pending (it is
 *	delivered again later: at least once, never lost).
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "deliver_log.h"
#include "log.h"
#include "qmgr.h"
#include "qmgr_filter.h"
#include "qmgr_verify.h"
#include "workq.h"
#include "xalloc.h"

static TAILQ_HEAD(, qmgr_msg) msgs = TAILQ_HEAD_INITIALIZER(msgs);
static size_t nmsgs;

/* an id hash: scans ask "is this one active?" for every file they see */
#define MSG_HASH_SIZE	8192
static struct qmgr_msg *msg_hash[MSG_HASH_SIZE];

/* id_hash - FNV-1a of a queue id */
static size_t
id_hash(const char *id)
{
	unsigned long h = 2166136261UL;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619UL;
	return (h % MSG_HASH_SIZE);
}

/*
 * Which deliveries may be a retry (rcpt.N.retry, lib/deliver.h). A
 * recipient is fresh (retry=0: its agent cannot have had it before)
 * only when its message came from incoming/, was written after this
 * qmgr took the queue lock (its arrival time is later: everything from
 * an earlier qmgr's life, a crash or a power loss is older, however
 * the listings that find it are cut), and was not in an earlier round
 * of this life: every id this qmgr activated and did not remove is
 * remembered (postsuper -r can bring one back to incoming/). The set
 * keeps 64-bit hashes: a collision only makes a delivery a retry.
 */
static struct timeval life_start;
static struct workq *closer;		/* see close_job */
static struct event *close_ev;		/* see close_later */
static void close_flush(evutil_socket_t, short, void *);
static unsigned long long *life_ids;	/* open addressing, 0 = empty */
static size_t life_cap, life_n;

/* life_hash - 64-bit FNV-1a of an id, never 0 */
static unsigned long long
life_hash(const char *id)
{
	unsigned long long h = 14695981039346656037ULL;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (h ? h : 1);
}

/* life_put - insert without growing */
static void
life_put(unsigned long long h)
{
	size_t	 i = (size_t)h & (life_cap - 1);

	for (; life_ids[i]; i = (i + 1) & (life_cap - 1))
		if (life_ids[i] == h)
			return;
	life_ids[i] = h;
	life_n++;
}

/* life_add - this id was activated and not removed */
static void
life_add(const char *id)
{
	unsigned long long *old = life_ids;
	size_t	 i, n = life_cap;

	if (2 * (life_n + 1) > life_cap) {
		life_cap = n ? 2 * n : 1024;
		life_ids = xcalloc(life_cap, sizeof(*life_ids));
		life_n = 0;
		for (i = 0; i < n; i++)
			if (old[i])
				life_put(old[i]);
		free(old);
	}
	life_put(life_hash(id));
}

/* life_has - was this id in an earlier round of this life */
static int
life_has(const char *id)
{
	unsigned long long h = life_hash(id);
	size_t	 i;

	if (life_cap == 0)
		return (0);
	for (i = (size_t)h & (life_cap - 1); life_ids[i];
	    i = (i + 1) & (life_cap - 1))
		if (life_ids[i] == h)
			return (1);
	return (0);
}

/* qmgr_active_life_start - the queue lock is ours from now on */
void
qmgr_active_life_start(void)
{
	gettimeofday(&life_start, NULL);
	closer = workq_new(qmgr_base, 1, NULL, NULL);
	if ((close_ev = evtimer_new(qmgr_base, close_flush, NULL)) == NULL)
		log_fatal("cannot create the close timer");
}

/* fresh - may this round's deliveries say retry=0 */
static int
fresh(const struct qmgr_msg *m)
{
	const struct queue_file *qf = m->qf;

	if (!m->from_incoming || life_has(m->id))
		return (0);
	return (qf->arrival > (long)life_start.tv_sec
	    || (qf->arrival == (long)life_start.tv_sec
	    && qf->arrival_usec > (long)life_start.tv_usec));
}

/*
 * The close of a removed message's queue file is the last reference to
 * its inode: the kernel evicts it and frees its blocks there (on a file
 * system mounted with discard, a synchronous discard: ~1 ms measured).
 * It runs on a thread of its own, neither on the loop nor on the io
 * pool (measured by G: 1 ms of the loop per message on this VM).
 * The files are closed in batches, at most CLOSE_WAIT_MS after their
 * removal or as soon as CLOSE_BATCH wait: one wakeup of the closer
 * and one completion for the loop per batch, not per message (the
 * closer keeps up with the load, so it was woken for most files).
 * Their space is freed that much later; the names are gone already.
 * A file waiting for its close still holds a descriptor, so it counts
 * against the active limit (qmgr_active_count()) until the closer's
 * batch is done: under a low RLIMIT_NOFILE a slow close (heavy disk
 * I/O) otherwise let removed files pile up past the reserve and new
 * queue files failed to open with EMFILE (tests/88-qmgr-burst.t, found
 * by B in session 8).
 * Tried in session 6 and dropped, no gain in perf stat: activating
 * in the resolve job (one pool hop less per message), and batches
 * made only while the closer was busy (it rarely is).
 */

#define CLOSE_BATCH	64		/* files closed by one job */
#define CLOSE_WAIT_MS	50		/* longest wait for a batch */

struct close_batch {
	size_t	 n;
	struct queue_file *qf[CLOSE_BATCH];
};

static struct close_batch *close_next;	/* filling, on the loop */
static size_t nclosing;			/* files not yet closed */

/* close_job - release removed messages' queue files (closer thread) */
static void
close_job(void *arg, void *tctx)
{
	struct close_batch *b = arg;
	size_t	 i;

	for (i = 0; i < b->n; i++)
		queue_file_close(b->qf[i]);
}

/* close_done - the batch's descriptors are free again (loop) */
static void
close_done(void *arg)
{
	struct close_batch *b = arg;

	nclosing -= b->n;
	free(b);
	qmgr_scan_more();
}

/* close_flush - hand the waiting files to the closer (loop) */
static void
close_flush(evutil_socket_t fd, short what, void *arg)
{
	if (close_next == NULL)
		return;
	workq_submit(closer, close_job, close_done, close_next);
	close_next = NULL;
}

/* close_later - close a removed message's queue file soon (loop) */
static void
close_later(struct queue_file *qf)
{
	struct timeval tv = {0, CLOSE_WAIT_MS * 1000};

	if (close_next == NULL)
		close_next = xcalloc(1, sizeof(*close_next));
	close_next->qf[close_next->n++] = qf;
	nclosing++;
	if (close_next->n == CLOSE_BATCH) {
		evtimer_del(close_ev);
		close_flush(-1, 0, NULL);
	} else if (!evtimer_pending(close_ev, NULL))
		evtimer_add(close_ev, &tv);
}

/* qmgr_active_count - messages in memory, and files still to close */
size_t
qmgr_active_count(void)
{
	return (nmsgs + nclosing);
}

/* qmgr_active_has - is this id being handled */
int
qmgr_active_has(const char *id)
{
	struct qmgr_msg *m;

	for (m = msg_hash[id_hash(id)]; m; m = m->hnext)
		if (strcmp(m->id, id) == 0)
			return (1);
	return (0);
}

/* msg_free - forget a message */
static void
msg_free(struct qmgr_msg *m)
{
	struct qmgr_msg **pp;

	for (pp = &msg_hash[id_hash(m->id)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == m) {
			*pp = m->hnext;
			break;
		}
	}
	TAILQ_REMOVE(&msgs, m, link);
	nmsgs--;
	if (!m->removed)
		life_add(m->id);
	if (m->qf && m->removed && closer) {	/* see close_job */
		close_later(m->qf);
		m->qf = NULL;
	}
	if (m->qf)
		queue_file_close(m->qf);
	free(m->path);
	free(m->rstate);
	free(m);
	qmgr_scan_more();
}

/* ---- activation ---- */

struct activate_job {
	struct qmgr_msg *msg;
	char	 from[16];
	int	 ok;
};

/* open_transient - an open() failure that passes: the file is not to blame */
static int
open_transient(int err)
{
	switch (err) {
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case ENOBUFS:
	case EAGAIN:
	case EINTR:
	case EIO:
	case EACCES:
	case EPERM:
		return (1);
	default:
		return (0);
	}
}

/*
 * open_failed - the file could not be opened (no descriptor left,
 * memory, I/O, permissions): nothing says it is corrupt, so it waits
 * in deferred/ for min_backoff_time, as a deferred message does
 */
static void
open_failed(struct qmgr_msg *m, const char *err)
{
	struct timeval tv[2];
	long	 now = time(NULL);

	log_warn("%s: cannot open the queue file: %s; trying again in %ld s",
	    m->id, err, qmgr_conf.min_backoff);
	tv[0].tv_sec = now;
	tv[0].tv_usec = 0;
	tv[1].tv_sec = now + qmgr_conf.min_backoff;
	tv[1].tv_usec = 0;
	if (utimes(m->path, tv) < 0)
		log_warn("%s: set retry time: %m", m->id);
	if (qmgr_move("active", "deferred", m->id) < 0)
		log_warn("%s: move to deferred: %m", m->id);
}

/* activate_job - move to active/ and parse (io pool) */
static void
activate_job(void *arg, void *tctx)
{
	struct activate_job *j = arg;
	struct qmgr_msg *m = j->msg;
	const char *qd = qmgr_conf.queue_dir;
	char	 err[256];

	if (strcmp(j->from, "active") != 0
	    && qmgr_move(j->from, "active", m->id) < 0) {
		if (errno != ENOENT)
			log_warn("%s: move %s to active: %m", m->id, j->from);
		return;
	}
	if ((m->qf = queue_file_open(m->path, 1, err, sizeof(err))) == NULL) {
		if (errno == ENOENT)
			return;
		if (open_transient(errno)) {
			open_failed(m, err);
			return;
		}
		log_warn("%s: corrupt queue file: %s", m->id, err);
		if (queue_move(qd, "active", "corrupt", m->id) < 0)
			log_warn("%s: move to corrupt: %m", m->id);
		return;
	}
	/*
	 * A message fresh from incoming/ cannot have had its delay warning
	 * yet: if its writer left W at 0, set it from delay_warning_time.
	 */
	if (strcmp(j->from, "incoming") == 0 && m->qf->warn_time == 0
	    && qmgr_conf.delay_warning > 0 && *m->qf->sender
	    && queue_file_set_warn(m->qf, m->qf->arrival +
	    qmgr_conf.delay_warning) < 0)
		log_warn("%s: cannot set the delay warning time: %m", m->id);
	j->ok = 1;
}

static void resolve_start(struct qmgr_msg *);

/* activate_done - log and resolve (loop) */
static void
activate_done(void *arg)
{
	struct activate_job *j = arg;
	struct qmgr_msg *m = j->msg;
	size_t	 i;

	if (!j->ok) {
		free(j);
		msg_free(m);
		return;
	}
	free(j);
	log_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queue active)",
	    m->id, log_printable(m->qf->sender), (long long)m->qf->msg_len,
	    m->qf->nrcpts);
	m->fresh = fresh(m);
	m->logs_maybe = !m->fresh;	/* a fresh message has none yet */
	m->nrstate = m->qf->nrcpts;
	m->rstate = xcalloc(m->nrstate ? m->nrstate : 1, sizeof(int));
	for (i = 0; i < m->nrstate; i++)
		m->rstate[i] = m->qf->rcpts[i].done ? QMGR_RCPT_DONE
		    : QMGR_RCPT_IDLE;
	resolve_start(m);
}

/* qmgr_active_start - take one message into a delivery round */
void
qmgr_active_start(const char *id, const char *from)
{
	struct qmgr_msg *m;
	struct activate_job *j;

	if (!queue_id_valid(id) || qmgr_active_has(id))
		return;
	m = xcalloc(1, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->path = queue_path(qmgr_conf.queue_dir, "active", id);
	m->refs = 1;
	m->activated = time(NULL);
	m->from_incoming = strcmp(from, "incoming") == 0;
	TAILQ_INSERT_TAIL(&msgs, m, link);
	m->hnext = msg_hash[id_hash(m->id)];
	msg_hash[id_hash(m->id)] = m;
	nmsgs++;
	j = xcalloc(1, sizeof(*j));
	j->msg = m;
	snprintf(j->from, sizeof(j->from), "%s", from);
	workq_submit(qmgr_io, activate_job, activate_done, j);
}

/* ---- resolution ---- */

struct route_res {
	size_t	 index;
	struct qmgr_route r;
};

struct resolve_job {
	struct qmgr_msg *msg;
	struct route_res *res;
	size_t	 nres;
};

/* res_add - one recipient's route */
static struct qmgr_route *
res_add(struct resolve_job *j, size_t index)
{
	j->res = xrealloc(j->res, (j->nres + 1) * sizeof(*j->res));
	memset(&j->res[j->nres], 0, sizeof(j->res[0]));
	j->res[j->nres].index = index;
	return (&j->res[j->nres++].r);
}

/* defer_route - a temporary failure as a route */
static void
defer_route(struct qmgr_route *r, const char *status, const char *reason)
{
	r->action = QMGR_ROUTE_DEFER;
	snprintf(r->status, sizeof(r->status), "%.15s", status);
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

/* expand_rcpt - expand an original recipient into children */
static void
expand_rcpt(struct resolve_job *j, struct qmgr_resolve_maps *rm,
    size_t i)
{
	struct queue_file *qf = j->msg->qf;
	struct strv *leaves = strv_new();
	char	 why[512];
	char	*addr = xstrdup(qf->rcpts[i].addr);
	char	*orig = xstrdup(qf->rcpts[i].orcpt ? qf->rcpts[i].orcpt
	    : qf->rcpts[i].addr);
	int	 notify = qf->rcpts[i].notify, rc;
	size_t	 k;

	rc = qmgr_resolve_expand(rm, addr, leaves, why, sizeof(why));
	if (rc == QMGR_EXPAND_DEFER) {
		why[5] = 0;
		defer_route(res_add(j, i), why, why + 6);
	} else if (rc == QMGR_EXPAND_NONE) {
		qmgr_resolve_leaf(rm, addr, res_add(j, i));
	} else {
		for (k = 0; k < leaves->argc; k++) {
			if (queue_file_add_rcpt(qf, leaves->argv[k], orig,
			    notify, i) < 0)
				break;
		}
		if (k < leaves->argc || queue_file_mark_done(qf, i) < 0) {
			log_warn("%s: cannot record expansion of %s: %m",
			    j->msg->id, log_safe(addr));
			defer_route(res_add(j, i), "4.3.0",
			    "cannot update queue file");
		}
	}
	strv_free(leaves);
	free(addr);
	free(orig);
}

struct addr_set {
	char	**slot;
	size_t	 cap;
	size_t	 n;
};

/* addr_hash - case-insensitive FNV-1a */
static size_t
addr_hash(const char *s)
{
	unsigned long h = 2166136261UL;

	for (; *s; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) * 16777619UL;
	return ((size_t)(h ^ (h >> 17)));
}

/* addr_set_put - insert without growing */
static int
addr_set_put(struct addr_set *set, char *addr)
{
	size_t	 i = addr_hash(addr) & (set->cap - 1);

	for (; set->slot[i]; i = (i + 1) & (set->cap - 1))
		if (strcasecmp(set->slot[i], addr) == 0)
			return (1);
	set->slot[i] = addr;
	set->n++;
	return (0);
}

/* seen_before - 1 if an earlier leaf had this address, else remember it */
static int
seen_before(struct addr_set *set, const char *addr)
{
	size_t	 i, old = set->cap;
	char	**slots = set->slot;

	if (2 * (set->n + 1) > set->cap) {
		set->cap = old ? 2 * old : 64;
		set->slot = xcalloc(set->cap, sizeof(char *));
		set->n = 0;
		for (i = 0; i < old; i++)
			if (slots[i])
				addr_set_put(set, slots[i]);
		free(slots);
	}
	return (addr_set_put(set, (char *)addr));
}

/*
 * resolve_job - route every pending recipient (resolve pool). A leaf
 * address that an earlier leaf of the same message already has (the
 * user is listed directly and through an alias) is marked done
 * without a delivery: Postfix's duplicate elimination. A message
 * with a content_filter goes to the filter as it is (qmgr_filter.c),
 * but for an address verification probe, as in Postfix.
 */
static void
resolve_job(void *arg, void *tctx)
{
	struct resolve_job *j = arg;
	struct queue_file *qf = j->msg->qf;
	struct qmgr_resolve_maps *rm = qmgr_verify_maps(qf,
	    qmgr_thread_maps(tctx));
	struct addr_set seenset = {NULL, 0, 0}, *seen = &seenset;
	char	*expanded;
	const char *filter = queue_file_attr(qf, "content_filter");
	size_t	 i, nexp = qf->nrcpts;

	if (filter && *filter && !qmgr_verify_probe(qf)) {
		/* after-queue filter: every recipient goes there */
		for (i = 0; i < qf->nrcpts; i++)
			if (!qf->rcpts[i].done)
				qmgr_filter_route(filter, qmgr_conf.myhostname,
				    res_add(j, i));
		return;
	}
	expanded = xcalloc(qf->nrcpts + 1, 1);
	for (i = 0; i < qf->nrcpts; i++)
		if (qf->rcpts[i].parent >= 0
		    && (size_t)qf->rcpts[i].parent < nexp)
			expanded[qf->rcpts[i].parent] = 1;
	for (i = 0; i < qf->nrcpts; i++) {
		if (i >= nexp) {
			expanded = xrealloc(expanded, qf->nrcpts + 1);
			memset(expanded + nexp, 0, qf->nrcpts + 1 - nexp);
			nexp = qf->nrcpts;
		}
		if (qf->rcpts[i].done) {
			if (!expanded[i])
				(void)seen_before(seen, qf->rcpts[i].addr);
			continue;
		}
		if (qf->rcpts[i].parent < 0) {
			expand_rcpt(j, rm, i);
			if (qf->rcpts[i].done) {
				expanded[i] = 1;
				continue;
			}
		}
		if (seen_before(seen, qf->rcpts[i].addr)) {
			if (queue_file_mark_done(qf, i) < 0)
				log_warn("%s: cannot mark duplicate %zu: %m",
				    j->msg->id, i);
			if (j->nres && j->res[j->nres - 1].index == i) {
				free(j->res[j->nres - 1].r.nexthop);
				j->nres--;
			}
			continue;
		}
		if (qf->rcpts[i].parent >= 0)
			qmgr_resolve_leaf(rm, qf->rcpts[i].addr,
			    res_add(j, i));
	}
	free(expanded);
	free(seenset.slot);
}

/* internal_outcome - one outcome decided inside qmgr */
static void
internal_outcome(struct qmgr_outcome *o, size_t index, int action,
    const char *status, const char *reason)
{
	memset(o, 0, sizeof(*o));
	o->index = index;
	o->action = action;
	o->status = xstrdup(status);
	o->reason = xstrdup(reason);
	o->relay = xstrdup("none");
}

/* error_transport - "error:5.1.1 text" as an outcome */
static void
error_transport(struct qmgr_outcome *o, size_t index, const char *nexthop,
    int retry)
{
	char	 status[16];
	const char *text = nexthop;

	snprintf(status, sizeof(status), "%s", retry ? "4.0.0" : "5.0.0");
	if (strlen(nexthop) >= 6 && nexthop[1] == '.' && nexthop[3] == '.'
	    && (nexthop[0] == '4' || nexthop[0] == '5')) {
		size_t	 n = strcspn(nexthop, " ");

		if (n < sizeof(status)) {
			memcpy(status, nexthop, n);
			status[n] = 0;
			text = nexthop + n + (nexthop[n] == ' ');
		}
	}
	internal_outcome(o, index, retry ? QMGR_OUT_DEFERRED :
	    QMGR_OUT_BOUNCED, status, *text ? text : "mail delivery failed");
}

/* same_route - same transport and nexthop */
static int
same_route(const struct qmgr_route *a, const struct qmgr_route *b)
{
	return (strcmp(a->transport, b->transport) == 0
	    && strcmp(a->nexthop, b->nexthop) == 0);
}

/* route_cmp - order results by transport, nexthop, recipient index */
static int
route_cmp(const void *a, const void *b)
{
	const struct route_res *x = *(const struct route_res *const *)a;
	const struct route_res *y = *(const struct route_res *const *)b;
	int	 c;

	if ((c = strcmp(x->r.transport, y->r.transport)) != 0)
		return (c);
	if ((c = strcmp(x->r.nexthop, y->r.nexthop)) != 0)
		return (c);
	return (x->index < y->index ? -1 : x->index > y->index);
}

/* schedule_routes - hand deliverable groups to the scheduler */
static void
schedule_routes(struct resolve_job *j, const char *taken)
{
	struct route_res **v = xcalloc(j->nres + 1, sizeof(*v));
	size_t	 a, b, n = 0, k, *idx = xcalloc(j->nres + 1, sizeof(size_t));

	for (a = 0; a < j->nres; a++)
		if (!taken[a])
			v[n++] = &j->res[a];
	qsort(v, n, sizeof(*v), route_cmp);
	for (a = 0; a < n; a = b) {
		for (k = 0, b = a; b < n && same_route(&v[a]->r, &v[b]->r);
		    b++) {
			idx[k++] = v[b]->index;
			j->msg->rstate[v[b]->index] = QMGR_RCPT_BUSY;
		}
		qmgr_sched_add(j->msg, v[a]->r.transport, v[a]->r.nexthop,
		    idx, k);
	}
	free(idx);
	free(v);
}

/* resolve_done - split routes into internal outcomes and deliveries */
static void
resolve_done(void *arg)
{
	struct resolve_job *j = arg;
	struct qmgr_msg *m = j->msg;
	struct qmgr_outcome *out = xcalloc(j->nres + 1, sizeof(*out));
	char	*taken = xcalloc(j->nres + 1, 1);
	size_t	 i, n = 0;

	if (m->qf->nrcpts > m->nrstate) {
		m->rstate = xrealloc(m->rstate, m->qf->nrcpts * sizeof(int));
		for (i = m->nrstate; i < m->qf->nrcpts; i++)
			m->rstate[i] = m->qf->rcpts[i].done ? QMGR_RCPT_DONE
			    : QMGR_RCPT_IDLE;
		m->nrstate = m->qf->nrcpts;
	}
	for (i = 0; i < j->nres; i++) {
		struct qmgr_route *r = &j->res[i].r;
		size_t	 x = j->res[i].index;

		if (r->action == QMGR_ROUTE_BOUNCE
		    || r->action == QMGR_ROUTE_DEFER) {
			internal_outcome(&out[n++], x, r->action ==
			    QMGR_ROUTE_BOUNCE ? QMGR_OUT_BOUNCED :
			    QMGR_OUT_DEFERRED, r->status, r->reason);
		} else if (strcmp(r->transport, "error") == 0
		    || strcmp(r->transport, "retry") == 0) {
			error_transport(&out[n++], x, r->nexthop,
			    r->transport[0] == 'r');
		} else if (strcmp(r->transport, "discard") == 0) {
			internal_outcome(&out[n++], x, QMGR_OUT_DELIVERED,
			    "2.0.0", *r->nexthop ? r->nexthop : "discarded");
		} else if (qmgr_verify_local(m->qf, r->transport)) {
			internal_outcome(&out[n++], x, QMGR_OUT_DELIVERED,
			    "2.0.0", "delivers to mailbox");
		} else {
			continue;
		}
		taken[i] = 1;
	}
	if (n > 0)
		qmgr_active_outcomes(m, out, n, "none", "none");
	else
		free(out);
	schedule_routes(j, taken);
	for (i = 0; i < j->nres; i++)
		free(j->res[i].r.nexthop);
	free(j->res);
	free(taken);
	free(j);
	qmgr_sched_run();
	qmgr_msg_release(m);
}

/* resolve_start - submit the resolution of one message */
static void
resolve_start(struct qmgr_msg *m)
{
	struct resolve_job *j = xcalloc(1, sizeof(*j));

	j->msg = m;
	workq_submit(qmgr_resolver, resolve_job, resolve_done, j);
}

/* ---- outcomes ---- */

void	 qmgr_finish_job(void *, void *);	/* qmgr_finish.c */
void	 qmgr_finish_done(void *);

struct outcome_job {
	int	 finish;		/* the message's last work: end the
					 * round in the same io job */
	struct qmgr_msg *msg;
	struct qmgr_outcome *out;
	size_t	 n;
	char	*transport;
	char	*nexthop;
	int	*recorded;
};

/* log_entry - a bounce/defer log entry for one outcome */
static int
log_entry(struct qmgr_msg *m, const struct qmgr_outcome *o,
    const char *log, const char *action)
{
	struct queue_rcpt *r = &m->qf->rcpts[o->index];
	struct queue_log_entry e;
	char	*said = NULL;
	const char *br;
	int	 rc;

	memset(&e, 0, sizeof(e));
	e.index = (long)o->index;
	e.recipient = r->addr;
	e.orig_rcpt = r->orcpt;
	e.status = o->status;
	e.action = (char *)action;
	e.reason = o->reason;
	/* a next hop's 2xx reply: "host NAME[ADDR] said: 250 ..." gives the
	 * success DSN Remote-MTA and an smtp Diagnostic-Code, as Postfix */
	if (o->action == QMGR_OUT_DELIVERED && o->relay && o->reason
	    && (br = strchr(o->relay, ']')) != NULL && o->reason[0] == '2')
		e.reason = said = xasprintf("host %.*s said: %s",
		    (int)(br + 1 - o->relay), o->relay, o->reason);
	e.time = time(NULL);
	m->logs_maybe = 1;
	rc = queue_log_append(qmgr_conf.queue_dir, log, m->id, &e);
	free(said);
	return (rc);
}

/*
 * outcome_job - make outcomes durable (io pool). The done flips of one
 * answer are written first and synced once at the end (after every
 * bounce/success log entry they depend on was synced by its append);
 * a recipient whose agent answered exactly_once (virtual's Maildir: a
 * retry finds its own earlier delivery) needs no sync at all, so an
 * answer of only those costs no fdatasync (QUEUE.md, promise 2).
 */
static void outcome_unsync(struct outcome_job *);

/*
 * last_flips_unneeded - the round's last answer leaves nothing pending,
 * and every outcome in it is a delivery answered exactly_once without
 * a success DSN, in a message without bounce/defer logs: the file is
 * unlinked in this same io job (qmgr_finish_job: pending 0, nothing to
 * bounce), so its "D" flips need not be written at all. What they
 * would guard is guarded by the agent: after a crash before the
 * unlink the file is in active/ (retry=1 at the next start), after a
 * failed unlink or a postsuper move it is remembered as not removed
 * (retry=1 again, remove_msg()), and virtual finds each Maildir file.
 * The same reasoning as the flips that are never synced (QUEUE.md,
 * S3), one write less per message.
 */
static int
last_flips_unneeded(const struct outcome_job *j)
{
	const struct qmgr_msg *m = j->msg;
	const struct queue_file *qf = m->qf;
	size_t	 i, pending = 0, answered = 0;

	if (!j->finish || m->logs_maybe || qmgr_verify_probe(qf))
		return (0);
	for (i = 0; i < j->n; i++) {
		const struct qmgr_outcome *o = &j->out[i];

		if (o->action != QMGR_OUT_DELIVERED || !o->exactly_once
		    || o->index >= qf->nrcpts
		    || (qf->rcpts[o->index].notify & QUEUE_NOTIFY_SUCCESS))
			return (0);
		answered += !qf->rcpts[o->index].done;
	}
	for (i = 0; i < qf->nrcpts; i++)
		pending += !qf->rcpts[i].done;
	/* an answer names each of its recipients once */
	return (pending == answered);
}

static void
outcome_job(void *arg, void *tctx)
{
	struct outcome_job *j = arg;
	struct qmgr_msg *m = j->msg;
	size_t	 i;
	int	 sync = 0;

	if (last_flips_unneeded(j)) {
		for (i = 0; i < j->n; i++) {
			m->qf->rcpts[j->out[i].index].done = 1;
			j->recorded[i] = 1;
		}
		qmgr_finish_job(m, tctx);
		return;
	}
	for (i = 0; i < j->n; i++) {
		struct qmgr_outcome *o = &j->out[i];

		if (qmgr_verify_probe(m->qf)) {	/* never bounced or retried */
			qmgr_verify_outcome(m->qf, o->index, o->action,
			    o->reason, o->relay);
			j->recorded[i] = queue_file_mark_done_nosync(m->qf,
			    o->index) == 0;
			sync = 1;
			continue;
		}
		switch (o->action) {
		case QMGR_OUT_BOUNCED:
			if (log_entry(m, o, "bounce", "failed") < 0) {
				log_warn("%s: bounce log: %m", m->id);
				break;
			}
			/* FALLTHROUGH */
		case QMGR_OUT_DELIVERED:
			if (o->action == QMGR_OUT_DELIVERED
			    && (m->qf->rcpts[o->index].notify &
			    QUEUE_NOTIFY_SUCCESS)
			    && (o->dsn_action == NULL
			    || strcmp(o->dsn_action, "none") != 0)
			    && log_entry(m, o, "bounce", o->dsn_action ?
			    o->dsn_action : "delivered") < 0)
				log_warn("%s: success log: %m", m->id);
			if (queue_file_mark_done_nosync(m->qf, o->index) < 0)
				log_warn("%s: cannot mark recipient %zu"
				    " done: %m", m->id, o->index);
			else
				j->recorded[i] = 1;
			if (o->action != QMGR_OUT_DELIVERED
			    || !o->exactly_once)
				sync = 1;
			break;
		default:
			if (log_entry(m, o, "defer", "delayed") < 0)
				log_warn("%s: defer log: %m", m->id);
			j->recorded[i] = 1;
			break;
		}
	}
	if (sync && queue_file_sync(m->qf) < 0)
		outcome_unsync(j);
	if (j->finish)
		qmgr_finish_job(m, tctx);
}

/* outcome_unsync - the flips of a job could not be synced */
static void
outcome_unsync(struct outcome_job *j)
{
	struct qmgr_msg *m = j->msg;
	size_t	 i;

	log_warn("%s: cannot sync done flags: %m", m->id);
	for (i = 0; i < j->n; i++) {	/* not durable: not recorded */
		struct qmgr_outcome *o = &j->out[i];

		if (o->action == QMGR_OUT_DEFERRED || !j->recorded[i]
		    || (o->action == QMGR_OUT_DELIVERED && o->exactly_once
		    && !qmgr_verify_probe(m->qf)))
			continue;
		j->recorded[i] = 0;
		m->qf->rcpts[o->index].done = 0;
	}
}

/* outcome_log - the delivery line (lib/deliver_log.h) qmgr decided */
static void
outcome_log(struct qmgr_msg *m, const struct qmgr_outcome *o)
{
	struct queue_rcpt *r = &m->qf->rcpts[o->index];
	static const char *stat[] = {"sent", "deferred", "bounced"};
	struct deliver_log e = {
		.queue_id = m->id, .rcpt = r->addr, .orig_rcpt = r->orcpt,
		.relay = o->relay, .dsn = o->status,
		.status = qmgr_verify_probe(m->qf)
		    ? qmgr_verify_status(o->action) : stat[o->action],
		.reason = o->reason,
		.arrival = m->qf->arrival + m->qf->arrival_usec / 1e6,
		.active = (double)m->activated,
	};

	if (e.active < e.arrival)
		e.active = e.arrival;
	/* the time since activation is logged as d (delays=a/0/0/d) */
	e.handoff = e.active;
	deliver_log(&e);
}

/* outcome_done - log and update the in-memory state (loop) */
static void
outcome_done(void *arg)
{
	struct outcome_job *j = arg;
	struct qmgr_msg *m = j->msg;
	size_t	 i;

	for (i = 0; i < j->n; i++) {
		struct qmgr_outcome *o = &j->out[i];

		if (o->index < m->nrstate)
			m->rstate[o->index] = QMGR_RCPT_DONE;
		if (o->action == QMGR_OUT_DEFERRED || !j->recorded[i])
			m->ndeferred++;
		if (!o->agent || !j->recorded[i])
			outcome_log(m, o);
		free(o->status);
		free(o->reason);
		free(o->relay);
	}
	free(j->out);
	free(j->recorded);
	free(j->transport);
	free(j->nexthop);
	if (!j->finish) {
		free(j);
		qmgr_msg_release(m);
		return;
	}
	free(j);
	if (--m->refs == 0)	/* the request's ref went in sched_done */
		qmgr_finish_done(m);
	else
		log_warn("%s: round ended with %d refs", m->id, m->refs);
}

static void outcomes(struct qmgr_msg *, struct qmgr_outcome *, size_t,
	    const char *, const char *, int);

/* qmgr_active_outcomes - record outcomes (takes ownership of out) */
void
qmgr_active_outcomes(struct qmgr_msg *m, struct qmgr_outcome *out,
    size_t n, const char *transport, const char *nexthop)
{
	outcomes(m, out, n, transport, nexthop, 0);
}

/*
 * qmgr_active_answer - an agent's outcomes for one request, which
 * qmgr_sched_done() ends right after: when that request is all the
 * message still has in flight (refs == 1; nothing adds work to a
 * message after its resolution), the round ends in the same io job
 * (one hop of the io pool less per message)
 */
void
qmgr_active_answer(struct qmgr_msg *m, struct qmgr_outcome *out,
    size_t n, const char *transport, const char *nexthop)
{
	outcomes(m, out, n, transport, nexthop, m->refs == 1);
}

/* outcomes - submit the recording job */
static void
outcomes(struct qmgr_msg *m, struct qmgr_outcome *out, size_t n,
    const char *transport, const char *nexthop, int finish)
{
	struct outcome_job *j = xcalloc(1, sizeof(*j));
	size_t	 i;

	/* soft_bounce: Postfix's safety net while testing a configuration */
	for (i = 0; qmgr_conf.soft_bounce && i < n; i++) {
		if (out[i].action != QMGR_OUT_BOUNCED)
			continue;
		out[i].action = QMGR_OUT_DEFERRED;
		if (out[i].status[0] == '5')
			out[i].status[0] = '4';
	}
	j->msg = m;
	j->finish = finish;
	j->out = out;
	j->n = n;
	j->recorded = xcalloc(n + 1, sizeof(int));
	j->transport = xstrdup(transport);
	j->nexthop = xstrdup(nexthop);
	m->refs++;
	workq_submit(qmgr_io, outcome_job, outcome_done, j);
}

/* ---- end of a round ---- */

/* qmgr_msg_release - drop a reference; end the round at zero */
void
qmgr_msg_release(struct qmgr_msg *m)
{
	if (--m->refs > 0)
		return;
	workq_submit(qmgr_io, qmgr_finish_job, qmgr_finish_done, m);
}

/* qmgr_msg_forget - called by qmgr_finish_done */
void
qmgr_msg_forget(struct qmgr_msg *m)
{
	msg_free(m);
}
