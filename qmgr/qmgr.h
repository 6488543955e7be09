/*
 * NAME
 *	qmgr - the queue manager's private interfaces
 * SYNOPSIS
 *	#include "qmgr.h"
 * DESCRIPTION
 *	Modules of the qmgr daemon (not a public interface):
 *
 *	qmgr.c		main(): the wakeup service (public/qmgr), timers,
 *			the one-qmgr-per-queue lock.
 *	qmgr_conf.c	parameter snapshot (qmgr_conf_load()), taken on
 *			the loop thread at start; qmgr_move().
 *	qmgr_active.c	the life of a message in active/: activation,
 *			resolution on the worker pool (alias expansion
 *			recorded in the file, duplicate elimination),
 *			outcomes (bounce/defer logs, done flags, logs).
 *	qmgr_finish.c	the end of a delivery round: expiry, DSNs
 *			(failure, delay, success), remove or defer.
 *	qmgr_sched.c	destinations (transport, nexthop) with their
 *			concurrency windows and request queues.
 *	qmgr_deliver.c	the event-driven agent client (lib/deliver.h).
 *	qmgr_scan.c	scans of incoming/, active/, deferred/ and
 *			maildrop/; the pools and their threads' maps.
 *	qmgr_pickup.c	the maildrop/ pickup (Postfix's pickup(8)):
 *			a maildrop file through cleanup into incoming/.
 *	qmgr_resolve.c	address expansion and routing (own header).
 *	qmgr_bounce.c	DSN formatting (own header).
 *
 *	Threads: the event loop owns every struct below. Blocking work
 *	runs in three pools: "resolve" (QMGR_RESOLVE_THREADS threads, each
 *	with its own maps: resolution and pickup), "io" (one thread:
 *	every write to a queue file, log or directory, so that writes to
 *	one message are serialized without locks) and "scan" (one thread:
 *	directory listings).
 *
 *	Choices (where Postfix leaves room or postern differs):
 *	- agents log their own "to=" lines; qmgr logs the outcomes it
 *	  decides itself (resolution, error/discard, agent failure);
 *	- an alias loop defers at once with 4.4.6 (Postfix runs into
 *	  virtual_alias_recursion_limit and defers too);
 *	- "|command", "/file" and ":include:" aliases bounce 5.3.0, and a
 *	  local name without an alias bounces 5.1.1: there is no local(8);
 *	- a recipient listed twice (directly and through an alias) gets one
 *	  copy, as Postfix's duplicate elimination does;
 *	- the delay-warning time is set on first activation when the
 *	  writer left it at 0;
 *	- on reload qmgr exits at once (deliveries in flight are retried by
 *	  the next qmgr, which waits for the queue lock).
 */
#ifndef QMGR_H
#define QMGR_H

#include <sys/queue.h>

#include <stddef.h>

#include "qmgr_resolve.h"
#include "queue.h"

struct event_base;
struct mastercf;
struct workq;
struct buf;
struct event;
struct cleanup_maps;

#define QMGR_RESOLVE_THREADS	4

struct qmgr_conf {
	char	*queue_dir;
	char	*myhostname;
	char	*mail_name;
	long	 active_limit;		/* qmgr_message_active_limit */
	long	 active_max;		/* what the descriptors allow of it */
	long	 min_backoff;
	long	 max_backoff;
	long	 queue_run_delay;
	long	 max_lifetime;
	long	 bounce_lifetime;
	long	 delay_warning;
	long	 bounce_size_limit;
	long	 message_size_limit;
	long	 default_conc;
	long	 initial_conc;
	long	 default_rcpt_limit;
	long	 default_time_limit;
	long	 transport_limit;	/* requests in flight per transport */
	long	 pool_limit;		/* queue_file_pool_limit */
	int	 soft_bounce;		/* bounces become deferrals */
	struct mastercf *mastercf;	/* for each transport's maxproc */
	struct qmgr_resolve_conf rc;
};

extern struct qmgr_conf qmgr_conf;
extern struct workq *qmgr_io;
extern struct workq *qmgr_resolver;
extern struct event_base *qmgr_base;

/* per-recipient state in memory, indexed like the queue file */
#define QMGR_RCPT_IDLE		0	/* pending, not in a request */
#define QMGR_RCPT_BUSY		1	/* in a request */
#define QMGR_RCPT_DONE		2	/* done, or deferred this round */

struct qmgr_msg {
	TAILQ_ENTRY(qmgr_msg) link;
	struct qmgr_msg *hnext;		/* id hash chain */
	char	 id[QUEUE_ID_MAX + 1];
	char	*path;			/* active/ID */
	struct queue_file *qf;
	int	*rstate;		/* QMGR_RCPT_* per queue-file index */
	size_t	 nrstate;
	int	 refs;			/* requests and jobs in flight */
	long	 activated;
	int	 ndeferred;		/* recipients deferred this round */
	int	 wake;			/* a DSN was queued: scan incoming */
	int	 from_incoming;		/* this round took it from incoming/ */
	int	 fresh;			/* no agent had it before: retry=0 */
	int	 logs_maybe;		/* bounce/ID or defer/ID may exist */
	int	 removed;		/* the queue file was unlinked */
};

/* what an agent (or qmgr itself) said about one recipient */
#define QMGR_OUT_DELIVERED	0
#define QMGR_OUT_DEFERRED	1
#define QMGR_OUT_BOUNCED	2

struct qmgr_outcome {
	size_t	 index;
	int	 action;
	char	*status;
	char	*reason;
	char	*relay;
	int	 agent;			/* the agent answered (and logged) */
	int	 exactly_once;		/* the agent's retry cannot duplicate:
					 * the done flip needs no sync */
	const char *dsn_action;		/* delivered: success DSN action
					 * ("relayed"), "none" (passed on) or
					 * NULL ("delivered") */
};

struct qmgr_dest;
struct qmgr_conn;

struct qmgr_req {
	TAILQ_ENTRY(qmgr_req) link;
	struct qmgr_msg *msg;
	struct qmgr_dest *dest;
	size_t	*idx;
	size_t	 n;
	struct qmgr_conn *conn;		/* to the agent; NULL: none */
	struct buf *io;			/* the request, then the answer */
	size_t	 sent;			/* of the request */
	int	 sending;		/* the request is not all sent yet */
	int	 again;			/* a kept connection failed: sent
					 * again on a new one, retry=1 */
	long	 started;
	int	 tries;			/* connects that failed for now */
	int	 err;			/* errno of the last one */
};

TAILQ_HEAD(qmgr_req_list, qmgr_req);

struct qmgr_transport {
	TAILQ_ENTRY(qmgr_transport) link;
	char	*name;
	int	 active;
	int	 limit;
	struct qmgr_conn **idle;	/* kept agent connections, a stack */
	int	 nidle;			/* nidle + active <= limit */
};

struct qmgr_dest {
	TAILQ_ENTRY(qmgr_dest) link;
	struct qmgr_transport *tp;
	char	*transport;
	char	*nexthop;
	int	 active;
	int	 window;
	int	 limit;
	long	 rcpt_limit;
	long	 time_limit;
	struct qmgr_req_list queue;
};

/* qmgr_conf.c */
void	 qmgr_conf_load(void);
void	 qmgr_conf_fd_limit(void);
long	 qmgr_conf_long(const char *, long, int);
int	 qmgr_move(const char *, const char *, const char *);

/* qmgr_active.c */
void	 qmgr_active_life_start(void);
size_t	 qmgr_active_count(void);
int	 qmgr_active_has(const char *);
void	 qmgr_active_start(const char *, const char *);
void	 qmgr_active_outcomes(struct qmgr_msg *, struct qmgr_outcome *,
	    size_t, const char *, const char *);
void	 qmgr_active_answer(struct qmgr_msg *, struct qmgr_outcome *,
	    size_t, const char *, const char *);
void	 qmgr_msg_release(struct qmgr_msg *);
void	 qmgr_msg_forget(struct qmgr_msg *);

/* qmgr_finish.c */
int	 qmgr_dsn_queue(const char *, const char *, const struct buf *,
	    char *);

/* qmgr_sched.c */
void	 qmgr_sched_add(struct qmgr_msg *, const char *, const char *,
	    const size_t *, size_t);
void	 qmgr_sched_done(struct qmgr_req *, int);
void	 qmgr_sched_run(void);

/* qmgr_deliver.c */
void	 qmgr_deliver_start(struct qmgr_req *);

/* qmgr_scan.c */
void	 qmgr_scan_init(void);
void	 qmgr_scan_incoming(void);
void	 qmgr_scan_deferred(int);
void	 qmgr_scan_flush_one(const char *);
void	 qmgr_scan_active_at_start(void);
void	 qmgr_scan_more(void);
void	 qmgr_scan_incoming_left(void);
void	*qmgr_thread_maps(void *);
struct cleanup_maps *qmgr_thread_cleanup(void *);

/* qmgr_pickup.c */
void	 qmgr_pickup_start(const char *);

#endif
