/*
 * NAME
 *	workq_test - tests for the worker pool
 * DESCRIPTION
 *	Runs batches of jobs through pools of several sizes and checks
 *	that every done() runs exactly once, on the loop thread, with the
 *	thread context its init() made; that one thread keeps submission
 *	order; that init/fini run once per thread; that workq_free()
 *	drops jobs not yet started without calling done(); and that
 *	workq_inline() runs its job at once on the loop thread with a
 *	context of the loop's own, and its done() later from the loop, in
 *	completion order; and that a pool with workq_set_max_now() starts
 *	a thread for each job no thread is free to take, before the loop
 *	runs again, and no more; and that a job workq_chain()ed runs next
 *	on the same thread, ahead of a job submitted before it, after the
 *	chaining job's done() was posted to the loop.
 */
#include <sys/time.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "tap.h"
#include "workq.h"
#include "xalloc.h"

static int n_init;
static int n_fini;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

struct tctx {
	int	 magic;
	int	 jobs;
};

struct job {
	int	 seq;
	int	 ran;
	int	 done;
	int	 ctx_ok;
	int	 done_on_loop;
	pthread_t job_thread;
};

static pthread_t loop_thread;
static struct event_base *base;
static int ndone, nwant, order_ok, last_seq;
static int sleep_us;

/* t_init - per-thread context */
static void *
t_init(void)
{
	struct tctx *c = xcalloc(1, sizeof(*c));

	c->magic = 4711;
	pthread_mutex_lock(&count_lock);
	n_init++;
	pthread_mutex_unlock(&count_lock);
	return (c);
}

/* t_fini - free the context */
static void
t_fini(void *ctx)
{
	pthread_mutex_lock(&count_lock);
	n_fini++;
	pthread_mutex_unlock(&count_lock);
	free(ctx);
}

/* t_job - on a worker */
static void
t_job(void *arg, void *ctx)
{
	struct job *j = arg;
	struct tctx *c = ctx;

	j->ctx_ok = (c != NULL && c->magic == 4711);
	c->jobs++;
	j->job_thread = pthread_self();
	j->ran++;
	if (sleep_us)
		usleep(sleep_us);
}

/* t_done - on the loop */
static void
t_done(void *arg)
{
	struct job *j = arg;

	j->done++;
	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
	if (j->seq != last_seq + 1)
		order_ok = 0;
	last_seq = j->seq;
	if (++ndone == nwant)
		event_base_loopexit(base, NULL);
}

/* run_batch - submit n jobs to a pool of t threads, run the loop */
static void
run_batch(int threads, int n, int want_order)
{
	struct workq *q;
	struct job *jobs = xcalloc(n, sizeof(*jobs));
	int	 i, all_ran = 1, all_done = 1, ctx_ok = 1, on_loop = 1;
	int	 off_loop = 1;

	n_init = n_fini = 0;
	ndone = 0;
	nwant = n;
	order_ok = 1;
	last_seq = 0;
	q = workq_new(base, threads, t_init, t_fini);
	tap_is_int(n_init, threads, "init ran once per thread before "
	    "workq_new returned");
	for (i = 0; i < n; i++) {
		jobs[i].seq = i + 1;
		workq_submit(q, t_job, t_done, &jobs[i]);
	}
	event_base_dispatch(base);
	for (i = 0; i < n; i++) {
		all_ran &= jobs[i].ran == 1;
		all_done &= jobs[i].done == 1;
		ctx_ok &= jobs[i].ctx_ok;
		on_loop &= jobs[i].done_on_loop;
		off_loop &= !pthread_equal(jobs[i].job_thread, loop_thread);
	}
	tap_ok(all_ran, "%d threads: every job ran exactly once", threads);
	tap_ok(all_done, "%d threads: every done ran exactly once", threads);
	tap_ok(ctx_ok, "%d threads: jobs see their thread context", threads);
	tap_ok(on_loop, "%d threads: done runs on the loop thread", threads);
	tap_ok(off_loop, "%d threads: jobs run off the loop thread", threads);
	if (want_order)
		tap_ok(order_ok, "one thread: completion in submission order");
	workq_free(q);
	tap_is_int(n_fini, threads, "fini ran once per thread");
	free(jobs);
}

/* blocker - a job that holds its worker for a while */
static void
blocker(void *arg, void *ctx)
{
	usleep(100000);
	(void)arg;
	(void)ctx;
}

/* counter - a job that counts its runs */
static void
counter(void *arg, void *ctx)
{
	pthread_mutex_lock(&count_lock);
	(*(int *)arg)++;
	pthread_mutex_unlock(&count_lock);
	(void)ctx;
}

/* stop_done - a done() after one without done(): the loop goes on */
static void
stop_done(void *arg)
{
	(*(int *)arg)++;
	event_base_loopexit(base, NULL);
}

/* never_done - must not be called */
static void
never_done(void *arg)
{
	(*(int *)arg)++;
}

/* slow_job - t_job after 100 ms */
static void
slow_job(void *arg, void *ctx)
{
	usleep(100000);
	t_job(arg, ctx);
}

/* inline_done - records the order of completions; the second stops */
static void
inline_done(void *arg)
{
	struct job *j = arg;

	j->done++;
	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
	j->seq = ++last_seq;
	if (++ndone == nwant)
		event_base_loopexit(base, NULL);
}

/*
 * meet - a job that waits (up to 5 s) until MEET_N jobs run at once;
 * arg counts those that saw them all
 */
#define MEET_N	4
static int meet_in;
static pthread_cond_t meet_cond = PTHREAD_COND_INITIALIZER;

static void
meet(void *arg, void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&count_lock);
	meet_in++;
	pthread_cond_broadcast(&meet_cond);
	while (meet_in < MEET_N)
		if (pthread_cond_timedwait(&meet_cond, &count_lock, &ts))
			break;
	if (meet_in >= MEET_N)
		(*(int *)arg)++;
	pthread_mutex_unlock(&count_lock);
	(void)ctx;
}

/* meet_done - the last one stops the loop */
static void
meet_done(void *arg)
{
	if (++ndone == nwant)
		event_base_loopexit(base, NULL);
	(void)arg;
}

/*
 * test_grow_now - a pool of one with workq_set_max_now(8): MEET_N jobs
 * submitted together all run at once without the loop running (the
 * delayed growth of workq_set_max() needs the loop's timer), with
 * MEET_N threads; one more job later, when they are free, adds none.
 */
static void
test_grow_now(void)
{
	struct timeval tv = {10, 0};
	struct timespec ts;
	struct workq *q;
	int	 i, met = 0, all = 0;

	n_init = n_fini = ndone = 0;
	nwant = MEET_N;
	meet_in = 0;
	q = workq_new(base, 1, t_init, t_fini);
	workq_set_max_now(q, 8);
	for (i = 0; i < MEET_N; i++)
		workq_submit(q, meet, meet_done, &met);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&count_lock);
	while (meet_in < MEET_N)
		if (pthread_cond_timedwait(&meet_cond, &count_lock, &ts))
			break;
	all = meet_in >= MEET_N;
	pthread_mutex_unlock(&count_lock);
	tap_ok(all, "grow now: all jobs running before the loop ran again");
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	tap_is_int(met, MEET_N, "grow now: every job ran while all ran");
	tap_is_int(n_init, MEET_N, "grow now: one thread per waiting job");
	ndone = 0;
	nwant = 1;
	meet_in = MEET_N;
	workq_submit(q, meet, meet_done, &met);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	tap_is_int(met, MEET_N + 1, "grow now: a later job ran");
	tap_is_int(n_init, MEET_N, "grow now: on a free thread, none added");
	workq_free(q);
	tap_is_int(n_fini, MEET_N, "grow now: fini in every thread");
}

/* test_inline - workq_inline(): on the loop now, done() later */
static void
test_inline(void)
{
	struct timeval tv = {10, 0}, t0, t1;
	struct job slow, quick;
	struct workq *q;

	memset(&slow, 0, sizeof(slow));
	memset(&quick, 0, sizeof(quick));
	n_init = n_fini = 0;
	ndone = last_seq = 0;
	nwant = 2;
	q = workq_new(base, 1, t_init, t_fini);
	workq_submit(q, slow_job, inline_done, &slow);
	workq_inline(q, t_job, inline_done, &quick);
	tap_is_int(quick.ran, 1, "inline: the job ran before workq_inline "
	    "returned");
	tap_ok(pthread_equal(quick.job_thread, loop_thread),
	    "inline: the job ran on the loop thread");
	tap_ok(quick.ctx_ok, "inline: the job sees a context from init");
	tap_is_int(n_init, 2, "inline: init ran on the loop once, besides "
	    "the worker's");
	tap_is_int(quick.done, 0, "inline: done not called from inside "
	    "workq_inline");
	gettimeofday(&t0, NULL);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	gettimeofday(&t1, NULL);
	tap_ok(quick.done == 1 && quick.done_on_loop,
	    "inline: done ran once, on the loop");
	tap_ok(slow.done == 1 && slow.done_on_loop,
	    "inline: the worker's job done ran once, on the loop");
	tap_ok(quick.seq == 1 && slow.seq == 2,
	    "inline: completion order (inline first, the slow job second)");
	tap_ok(t1.tv_sec - t0.tv_sec < 5, "inline: the loop did not wait "
	    "for its timeout");
	workq_inline(q, t_job, NULL, &quick);
	tap_is_int(quick.ran, 2, "inline: a second job, without done");
	tap_is_int(n_init, 2, "inline: init not run again");
	workq_free(q);
	tap_is_int(n_fini, 2, "inline: fini ran for the loop's context too");
}

/* workq_chain(): a chain of C_LEN jobs, then one submitted job */
#define C_LEN	5
static struct workq *c_q;
static pthread_t c_thread[C_LEN + 1];
static int c_order[C_LEN + 1], c_ran, c_done_seq[C_LEN + 1], c_ndone;
static int c_want;
static atomic_int c_done_seen;		/* done() of link k ran: k + 1 */
static int c_waited_ok = 1;

static void c_done(void *);

/* c_job - link k: records itself, chains k + 1; link 1 waits (5 s at
 * most) until link 0's done() ran on the loop: it was posted first */
static void
c_job(void *arg, void *ctx)
{
	int	 k = (int)(long)arg, i;

	(void)ctx;
	if (k == 1) {
		for (i = 0; i < 5000 && atomic_load(&c_done_seen) < 1; i++)
			usleep(1000);
		if (atomic_load(&c_done_seen) < 1)
			c_waited_ok = 0;
	}
	if (k < C_LEN) {
		c_thread[k] = pthread_self();
		c_order[c_ran++] = k;
	}
	if (k == 0)
		usleep(20000);		/* the test submits the other job */
	if (k < C_LEN - 1)
		workq_chain(c_q, c_job, c_done, (void *)(long)(k + 1));
}

/* c_other - the job submitted while the chain ran */
static void
c_other(void *arg, void *ctx)
{
	(void)arg;
	(void)ctx;
	c_order[c_ran++] = C_LEN;
}

/* c_done - on the loop, in completion order */
static void
c_done(void *arg)
{
	int	 k = (int)(long)arg;

	if (k < C_LEN)
		atomic_store(&c_done_seen, k + 1);
	c_done_seq[c_ndone++] = k;
	if (c_ndone == c_want)
		event_base_loopexit(base, NULL);
}

/* test_chain - on a pool of n threads; other: submit c_other during
 * link 0 (one thread: it must wait for the whole chain) */
static void
test_chain(int n, int other)
{
	struct timeval tv = {10, 0};
	int	 k, order_ok = 1, same = 1, done_ok = 1, want = C_LEN + other;

	c_ran = c_ndone = 0;
	c_waited_ok = 1;
	atomic_store(&c_done_seen, 0);
	memset(c_order, 0, sizeof(c_order));
	memset(c_done_seq, 0, sizeof(c_done_seq));
	c_want = want;
	c_q = workq_new(base, n, NULL, NULL);
	workq_submit(c_q, c_job, c_done, (void *)0L);
	if (other) {
		usleep(5000);		/* link 0 runs (20 ms) */
		workq_submit(c_q, c_other, c_done, (void *)(long)C_LEN);
	}
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	workq_free(c_q);
	for (k = 0; k < want; k++) {
		order_ok &= c_order[k] == k;
		done_ok &= c_done_seq[k] == k;
	}
	for (k = 1; k < C_LEN; k++)
		same &= pthread_equal(c_thread[k], c_thread[0]) != 0;
	tap_ok(c_ndone == want, "workq_chain, %d thread(s): every done() "
	    "came (%d of %d)", n, c_ndone, want);
	if (other)
		tap_ok(order_ok, "workq_chain: the links ran ahead of a job "
		    "submitted before them");
	tap_ok(done_ok, "workq_chain, %d thread(s): the done()s came in "
	    "completion order", n);
	if (!other)
		tap_ok(same, "workq_chain, %d threads: each link ran on the "
		    "thread that chained it (no other woken)", n);
	tap_ok(c_waited_ok, "workq_chain, %d thread(s): a link's done() is "
	    "posted before the next link runs", n);
}

int
main(void)
{
	static const struct {
		int	 threads;
		int	 jobs;
		int	 order;
		int	 sleep_us;
	} vec[] = {
		{1, 200, 1, 0},
		{4, 2000, 0, 0},
		{8, 300, 0, 200},
		{0, 10, 1, 0},		/* 0 threads means 1 */
	};
	struct workq *q;
	size_t	 i;
	int	 called = 0;

	loop_thread = pthread_self();
	base = event_base_new();
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		sleep_us = vec[i].sleep_us;
		run_batch(vec[i].threads ? vec[i].threads : 1, vec[i].jobs,
		    vec[i].order);
	}

	/* Jobs queued behind a running one are dropped by workq_free. */
	n_init = n_fini = 0;
	q = workq_new(base, 1, t_init, t_fini);
	workq_submit(q, blocker, never_done, &called);
	usleep(20000);
	for (i = 0; i < 5; i++)
		workq_submit(q, blocker, never_done, &called);
	workq_free(q);
	tap_is_int(called, 0, "workq_free drops pending jobs, calls no done");
	tap_is_int(n_fini, 1, "fini ran at workq_free");

	/*
	 * NULL init/fini and NULL done are allowed: with one thread the
	 * jobs run in order, the first has no done(), the second's done()
	 * must still come (the loop would otherwise run until the timeout).
	 */
	{
		struct timeval tv = {10, 0};
		int	 ran = 0, done2 = 0;

		q = workq_new(base, 1, NULL, NULL);
		workq_submit(q, counter, NULL, &ran);
		workq_submit(q, counter, stop_done, &done2);
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
		workq_free(q);
		tap_is_int(ran, 1, "pool without init/fini: job without done "
		    "ran once");
		tap_is_int(done2, 2, "the next job ran and its done came on "
		    "the loop");
	}

	test_inline();
	test_grow_now();
	test_chain(1, 1);
	test_chain(2, 0);
	event_base_free(base);
	return (tap_done());
}
