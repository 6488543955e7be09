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
 *	thread support of its own.
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
#include "workq.h"
#include "xalloc.h"

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
	int	 stop;
	struct workq_fifo jobs;
	struct workq_fifo done;
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
		pthread_mutex_unlock(&q->lock);
		j->job(j->arg, thread_ctx);
		pthread_mutex_lock(&q->lock);
		workq_fifo_put(&q->done, j);
		pthread_mutex_unlock(&q->lock);
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

/* workq_submit - queue a job; done(arg) later runs on the loop */
void
workq_submit(struct workq *q, workq_job_fn *job, workq_done_fn *done,
    void *arg)
{
	struct workq_job *j = xmalloc(sizeof(*j));

	j->job = job;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->lock);
	workq_fifo_put(&q->jobs, j);
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
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
	workq_fifo_drop(&q->jobs);
	workq_fifo_drop(&q->done);
	event_free(q->ev);
	close(q->efd);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	pthread_cond_destroy(&q->ready_cond);
	free(q->threads);
	free(q);
}
