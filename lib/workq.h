/*
 * NAME
 *	workq - a small worker pool whose results come back to the loop
 * SYNOPSIS
 *	#include "workq.h"
 *
 *	struct workq *workq_new(struct event_base *base, int nthreads,
 *	    workq_init_fn *init, workq_fini_fn *fini);
 *	void	workq_submit(struct workq *q, workq_job_fn *job,
 *	    workq_done_fn *done, void *arg);
 *	void	workq_set_max(struct workq *q, int max);
 *	void	workq_set_max_now(struct workq *q, int max);
 *	void	workq_inline(struct workq *q, workq_job_fn *job,
 *	    workq_done_fn *done, void *arg);
 *	void	workq_chain(struct workq *q, workq_job_fn *job,
 *	    workq_done_fn *done, void *arg);
 *	void	workq_free(struct workq *q);
 * DESCRIPTION
 *	Everything that can block (map lookups, MySQL above all, password
 *	hashing, fsync, file creation) runs here, never on the event loop.
 *	Each thread calls init() once and keeps what it returns as its
 *	thread context (its own map handles and database connection);
 *	job(arg, thread_ctx) runs on a worker thread; done(arg) then runs
 *	on the event loop thread, in completion order. Jobs are taken in
 *	submission order. workq_free() waits for running jobs, calls
 *	fini(thread_ctx) in each thread, and drops jobs not yet started
 *	without calling done (used at exit only).
 *
 *	workq_set_max() lets the pool grow: when a job has waited 100 ms
 *	while every thread runs one, a new thread is started (its init
 *	runs on it, concurrently with the loop), then one more every 100
 *	ms while that lasts, up to max. Threads are never retired. A pool
 *	of blocking work that may wait on outside servers (policy checks:
 *	DNS, MySQL) keeps its quick jobs moving this way.
 *
 *	workq_set_max_now() grows without the wait: a job submitted while
 *	no thread is free to take it (each one runs a job or is spoken for
 *	by an earlier waiting job) starts a new thread at once, up to max.
 *	A pool sized for its peak (a delivery agent's hundred sessions)
 *	starts small and holds only the threads its bursts needed.
 *	Neither call lowers the limit: a max below the current one is
 *	ignored.
 *
 *	workq_inline() runs a job the caller knows to be short and local
 *	(no network, no fsync) at once on the loop thread, with a thread
 *	context of the loop's own (init() called on the loop at the first
 *	such job, fini() by workq_free()); its done(arg) still runs later
 *	from the loop, after the completions before it, never from inside
 *	workq_inline(): the caller's state is the same as after
 *	workq_submit(). It saves the hop: a futex wakeup of a worker, two
 *	context switches and the eventfd wakeup of the loop.
 *
 *	workq_chain(), called by a job on a worker thread (never on the
 *	loop), queues one more job ahead of every waiting one and wakes no
 *	thread: the caller's thread, once its job returns and that job's
 *	done() is posted to the loop, takes it next. A job that finds more
 *	work of its own kind waiting (smtpd's group commit: the next batch)
 *	goes on without the loop's turn and a worker's wakeup in between;
 *	its done() runs on the loop like a submitted job's, in completion
 *	order. It touches no libevent state, so it is safe off the loop.
 * DIAGNOSTICS
 *	Failure to create threads is fatal.
 */
#ifndef WORKQ_H
#define WORKQ_H

struct event_base;
struct workq;

typedef void *workq_init_fn(void);
typedef void workq_fini_fn(void *thread_ctx);
typedef void workq_job_fn(void *arg, void *thread_ctx);
typedef void workq_done_fn(void *arg);

struct workq *workq_new(struct event_base *, int, workq_init_fn *,
	    workq_fini_fn *);
void	 workq_submit(struct workq *, workq_job_fn *, workq_done_fn *,
	    void *);
void	 workq_set_max(struct workq *, int);
void	 workq_set_max_now(struct workq *, int);
void	 workq_inline(struct workq *, workq_job_fn *, workq_done_fn *,
	    void *);
void	 workq_chain(struct workq *, workq_job_fn *, workq_done_fn *, void *);
void	 workq_free(struct workq *);

#endif
