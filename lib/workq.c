/*
 * NAME
 *	workq - a small worker pool whose results come back to the loop
 * SYNOPSIS
 *	See workq.h.
 * DESCRIPTION
 *	Threads take jobs from one mutex-protected FIFO. A finished job is
 *	appended to a second FIFO (the completion list) and the worker
 *	writes to an eventfd; the event loop watches that eventfd, takes
 *	the whole completion list at once and calls each done() in order.
 *	Only the loop thread touches the event_base, so libevent needs no
 *	thread support of its own. workq_inline() runs the job on the loop,
 *	appends it to the completion list and activates the completion
 *	event by hand (event_active(), no eventfd write or read).
 *
 *	The init functions run one at a time (serialized by the pool) and
 *	workq_new() returns only after every thread has initialized: init
 *	may therefore read the configuration (conf.h is single-threaded)
 *	while the main thread waits, and a failing init shows up before
 *	the daemon starts serving.
 * DIAGNOSTICS
 *	Failure to create a thread or the eventfd is fatal (log_fatal).
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "metrics.h"
#include "workq.h"
#include "xalloc.h"

#define WORKQ_GROW_MS	100	/* a job waiting this long: grow */

struct workq_job {
	struct workq_job *next;
	workq_job_fn *job;
	workq_done_fn *done;
	void	*arg;
};

struct workq_fifo {
	struct workq_job *head;
	struct workq_job *tail;
};

struct workq {
	struct event_base *base;
	struct event *ev;
	int	 efd;
	int	 nthreads;
	pthread_t *threads;
	workq_init_fn *init;
	workq_fini_fn *fini;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* jobs available or stop */
	pthread_cond_t ready_cond;	/* one more thread initialized */
	int	 nready;
	int	 nbusy;			/* threads running a job */
	int	 max;			/* workq_set_max(): grow up to this */
	int	 now;			/* workq_set_max_now(): no delay */
	int	 nqueued;		/* jobs not yet taken by a thread */
	struct event *grow_ev;		/* workq_grow() timer */
	int	 stop;
	struct workq_fifo jobs;
	struct workq_fifo done;
	void	*loop_ctx;		/* workq_inline()'s context */
	int	 loop_init;		/* init() ran on the loop */
};

static pthread_mutex_t workq_init_lock = PTHREAD_MUTEX_INITIALIZER;

/* workq_fifo_put - append a job to a FIFO (lock held) */
static void
workq_fifo_put(struct workq_fifo *f, struct workq_job *j)
{
	j->next = NULL;
	if (f->tail)
		f->tail->next = j;
	else
		f->head = j;
	f->tail = j;
}

/* workq_fifo_get - remove the oldest job (lock held) */
static struct workq_job *
workq_fifo_get(struct workq_fifo *f)
{
	struct workq_job *j = f->head;

	if (j) {
		f->head = j->next;
		if (f->head == NULL)
			f->tail = NULL;
	}
	return (j);
}

/* workq_fifo_drop - free every job in a FIFO without running it */
static void
workq_fifo_drop(struct workq_fifo *f)
{
	struct workq_job *j;

	while ((j = workq_fifo_get(f)) != NULL)
		free(j);
}

/* workq_notify - wake the event loop */
static void
workq_notify(struct workq *q)
{
	uint64_t one = 1;

	while (write(q->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	/* EAGAIN means the counter is saturated: the loop wakes anyway. */
}

/* workq_thread - one worker: init, run jobs until stop, fini */
static void *
workq_thread(void *ctx)
{
	struct workq *q = ctx;
	struct workq_job *j;
	void	*thread_ctx = NULL;
	int	 wake;

	pthread_mutex_lock(&workq_init_lock);
	if (q->init)
		thread_ctx = q->init();
	pthread_mutex_unlock(&workq_init_lock);

	pthread_mutex_lock(&q->lock);
	q->nready++;
	pthread_cond_signal(&q->ready_cond);
	for (;;) {
		while (!q->stop && q->jobs.head == NULL)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->stop)
			break;
		j = workq_fifo_get(&q->jobs);
		q->nqueued--;
		metrics_queue_depth(-1);
		q->nbusy++;
		pthread_mutex_unlock(&q->lock);
		j->job(j->arg, thread_ctx);
		pthread_mutex_lock(&q->lock);
		q->nbusy--;
		/*
		 * The loop takes the whole completion list at once: a job
		 * finished onto a list that is not empty is seen by the wakeup
		 * the first one sent (no eventfd write of its own).
		 */
		wake = q->done.head == NULL;
		workq_fifo_put(&q->done, j);
		pthread_mutex_unlock(&q->lock);
		if (wake)
			workq_notify(q);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	if (q->fini)
		q->fini(thread_ctx);
	return (NULL);
}

/* workq_event - on the loop: deliver every completion, in order */
static void
workq_event(evutil_socket_t fd, short what, void *ctx)
{
	struct workq *q = ctx;
	struct workq_fifo batch;
	struct workq_job *j;
	uint64_t n;

	/* workq_inline() activates the event with EV_TIMEOUT: no read. */
	if (what & EV_READ)
		while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
			;
	pthread_mutex_lock(&q->lock);
	batch = q->done;
	q->done.head = q->done.tail = NULL;
	pthread_mutex_unlock(&q->lock);
	while ((j = workq_fifo_get(&batch)) != NULL) {
		if (j->done)
			j->done(j->arg);
		free(j);
	}
}

/* workq_new - start the pool; returns when every thread is initialized */
struct workq *
workq_new(struct event_base *base, int nthreads, workq_init_fn *init,
    workq_fini_fn *fini)
{
	struct workq *q = xcalloc(1, sizeof(*q));
	int	 i, err;

	if (nthreads < 1)
		nthreads = 1;
	q->base = base;
	q->init = init;
	q->fini = fini;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	pthread_cond_init(&q->ready_cond, NULL);
	if ((q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		log_fatal("workq: eventfd: %s", strerror(errno));
	q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, workq_event, q);
	if (q->ev == NULL || event_add(q->ev, NULL) < 0)
		log_fatal("workq: cannot register the completion event");
	q->max = nthreads;
	q->threads = xcalloc(nthreads, sizeof(*q->threads));
	for (i = 0; i < nthreads; i++) {
		if ((err = pthread_create(&q->threads[i], NULL, workq_thread,
		    q)) != 0)
			log_fatal("workq: pthread_create: %s", strerror(err));
		q->nthreads++;
	}
	pthread_mutex_lock(&q->lock);
	while (q->nready < q->nthreads)
		pthread_cond_wait(&q->ready_cond, &q->lock);
	pthread_mutex_unlock(&q->lock);
	return (q);
}

/* workq_stuck - every thread busy and a job waiting (lock held) */
static int
workq_stuck(struct workq *q)
{
	return (q->jobs.head != NULL && q->nbusy >= q->nready
	    && q->nready == q->nthreads && q->nthreads < q->max);
}

/* workq_grow - on the loop: jobs waited WORKQ_GROW_MS; one more thread */
static void
workq_grow(evutil_socket_t fd, short what, void *ctx)
{
	struct workq *q = ctx;
	struct timeval tv = {0, WORKQ_GROW_MS * 1000};
	int	 grow, err;

	pthread_mutex_lock(&q->lock);
	if ((grow = workq_stuck(q)) != 0)
		q->nthreads++;
	pthread_mutex_unlock(&q->lock);
	if (!grow)
		return;
	if ((err = pthread_create(&q->threads[q->nthreads - 1], NULL,
	    workq_thread, q)) != 0)
		log_fatal("workq: pthread_create: %s", strerror(err));
	if (q->nthreads == q->max)
		log_warn("workq: all %d worker threads busy; the pool is at its "
		    "limit", q->max);
	else
		evtimer_add(q->grow_ev, &tv);	/* still stuck? look again */
}

/* workq_raise_max - room for max threads; never shrinks (lock held) */
static void
workq_raise_max(struct workq *q, int max)
{
	if (max > q->max) {
		q->threads = xrealloc(q->threads, max * sizeof(*q->threads));
		q->max = max;
	}
}

/* workq_set_max - let the pool grow to max threads (loop thread only) */
void
workq_set_max(struct workq *q, int max)
{
	pthread_mutex_lock(&q->lock);
	workq_raise_max(q, max);
	pthread_mutex_unlock(&q->lock);
	if (q->grow_ev == NULL
	    && (q->grow_ev = evtimer_new(q->base, workq_grow, q)) == NULL)
		log_fatal("workq: cannot create the growth timer");
}

/*
 * workq_set_max_now - let the pool grow to max threads, a thread for
 * each job that no thread is free to take, at once (loop thread only)
 */
void
workq_set_max_now(struct workq *q, int max)
{
	pthread_mutex_lock(&q->lock);
	workq_raise_max(q, max);
	q->now = 1;
	pthread_mutex_unlock(&q->lock);
}

/*
 * workq_chain - from a job on a worker: one more job, ahead of the
 * waiting ones, for the first thread that looks (this one, when its
 * job returns); no wakeup, no timer: callable off the loop
 */
void
workq_chain(struct workq *q, workq_job_fn *job, workq_done_fn *done,
    void *arg)
{
	struct workq_job *j = xmalloc(sizeof(*j));

	j->job = job;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->lock);
	if ((j->next = q->jobs.head) == NULL)
		q->jobs.tail = j;
	q->jobs.head = j;
	q->nqueued++;
	metrics_queue_depth(1);
	pthread_mutex_unlock(&q->lock);
}

/* workq_submit - queue a job; done(arg) later runs on the loop */
void
workq_submit(struct workq *q, workq_job_fn *job, workq_done_fn *done,
    void *arg)
{
	struct workq_job *j = xmalloc(sizeof(*j));
	struct timeval tv = {0, WORKQ_GROW_MS * 1000};
	int	 stuck, grow = 0, err;

	j->job = job;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->lock);
	workq_fifo_put(&q->jobs, j);
	q->nqueued++;
	metrics_queue_depth(1);
	pthread_cond_signal(&q->cond);
	stuck = q->grow_ev != NULL && workq_stuck(q);
	/*
	 * workq_set_max_now(): more jobs waiting than threads not running
	 * one (idle, or still starting): one more thread now.
	 */
	if (q->now && q->nqueued > q->nthreads - q->nbusy
	    && q->nthreads < q->max)
		grow = ++q->nthreads;
	pthread_mutex_unlock(&q->lock);
	if (grow && (err = pthread_create(&q->threads[grow - 1], NULL,
	    workq_thread, q)) != 0)
		log_fatal("workq: pthread_create: %s", strerror(err));
	/*
	 * Every thread busy: if the job still waits WORKQ_GROW_MS from now,
	 * the pool grows (workq_grow), so that jobs stuck on a slow server
	 * (DNS, a database) do not hold up the quick ones behind them. A
	 * busy pool whose jobs are quick drains before then and stays as
	 * it is.
	 */
	if (stuck && !evtimer_pending(q->grow_ev, NULL))
		evtimer_add(q->grow_ev, &tv);
}

/* workq_inline - run a short local job now, on the loop; done(arg) later */
void
workq_inline(struct workq *q, workq_job_fn *job, workq_done_fn *done,
    void *arg)
{
	struct workq_job *j = xmalloc(sizeof(*j));

	if (!q->loop_init) {
		pthread_mutex_lock(&workq_init_lock);
		if (q->init)
			q->loop_ctx = q->init();
		pthread_mutex_unlock(&workq_init_lock);
		q->loop_init = 1;
	}
	j->job = job;
	j->done = done;
	j->arg = arg;
	job(arg, q->loop_ctx);
	pthread_mutex_lock(&q->lock);
	workq_fifo_put(&q->done, j);
	pthread_mutex_unlock(&q->lock);
	/* done() runs from the loop, not from inside the caller. */
	event_active(q->ev, EV_TIMEOUT, 0);
}

/* workq_free - stop the threads (running jobs finish), drop the rest */
void
workq_free(struct workq *q)
{
	int	 i;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	if (q->loop_init && q->fini)
		q->fini(q->loop_ctx);
	workq_fifo_drop(&q->jobs);
	workq_fifo_drop(&q->done);
	if (q->grow_ev)
		event_free(q->grow_ev);
	event_free(q->ev);
	close(q->efd);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	pthread_cond_destroy(&q->ready_cond);
	free(q->threads);
	free(q);
}
