/*
 * NAME
 *	gsync_test - tests for the group commit primitive
 * DESCRIPTION
 *	Replaces syncfs with a hook that logs (and may sleep or fail) and
 *	checks: one waiter makes one sync per file system; 8 threads that
 *	wait at once share a few syncs, and each returns only after a sync
 *	that STARTED after its call and finished before its return; a
 *	failed sync fails every waiter whose ticket precedes it (with its
 *	errno) and no later one; gsync_dev() rejects a directory on
 *	another file system than the one named; 8 threads that wait 200
 *	times each in a row (generations ending while others begin, the
 *	next generation's leader handed on) all return, each wait covered
 *	by its own sync. With gsync_set_interval(): a sync right after
 *	another starts no sooner than the interval after it ended, the
 *	threads that wait meanwhile (their tickets open) share that one
 *	sync, a wait after a quiet interval syncs at once, a lone writer's
 *	syncs in a row do not wait, and the many-generations case holds
 *	as before.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gsync.h"
#include "tap.h"

#define NTHREADS 8
#define NSYNC_MAX 4096
#define NROUNDS 200	/* waits per thread in the stress case */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int events;		/* a clock of events */
static int sync_start[NSYNC_MAX], sync_end[NSYNC_MAX], nsync;
static double sync_start_ms[NSYNC_MAX], sync_end_ms[NSYNC_MAX];
static int hook_sleep_ms;
static int hook_fail;		/* the next call fails with EIO */
static struct gsync *g;
static int dev0;

/* now_ms - CLOCK_MONOTONIC in milliseconds */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6);
}

/* tick - the next event number */
static int
tick(void)
{
	int	 n;

	pthread_mutex_lock(&ev_lock);
	n = ++events;
	pthread_mutex_unlock(&ev_lock);
	return (n);
}

/* hook - stands for syncfs */
static int
hook(int fd)
{
	int	 i, fail;

	(void)fd;
	pthread_mutex_lock(&ev_lock);
	i = nsync < NSYNC_MAX ? nsync++ : NSYNC_MAX - 1;
	sync_start[i] = ++events;
	sync_start_ms[i] = now_ms();
	sync_end[i] = 0;	/* running */
	fail = hook_fail;
	hook_fail = 0;
	pthread_mutex_unlock(&ev_lock);
	usleep((useconds_t)hook_sleep_ms * 1000);
	pthread_mutex_lock(&ev_lock);
	sync_end[i] = ++events;
	sync_end_ms[i] = now_ms();
	pthread_mutex_unlock(&ev_lock);
	if (fail) {
		errno = EIO;
		return (-1);
	}
	return (0);
}

struct waiter {
	unsigned long ticket;
	int	 called, returned, ret, err;
};

/* wait_thread - one waiter */
static void *
wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->called = tick();
	w->ret = gsync_wait(g, w->ticket, &dev0, 1);
	w->err = errno;
	w->returned = tick();
	gsync_end(g);
	return (NULL);
}

/* covered - a sync started after w's call and ended before its return */
static int
covered(const struct waiter *w)
{
	int	 i;

	for (i = 0; i < nsync; i++)
		if (sync_start[i] > w->called && sync_end[i] > 0
		    && sync_end[i] < w->returned)
			return (1);
	return (0);
}

struct looper {
	int	 failed, uncovered;
};

/* loop_thread - NROUNDS waits in a row, each checked */
static void *
loop_thread(void *arg)
{
	struct looper *l = arg;
	struct waiter w;
	int	 i;

	for (i = 0; i < NROUNDS; i++) {
		memset(&w, 0, sizeof(w));
		w.ticket = gsync_begin(g);
		w.called = tick();
		w.ret = gsync_wait(g, w.ticket, &dev0, 1);
		w.returned = tick();
		gsync_end(g);
		l->failed += w.ret < 0;
		pthread_mutex_lock(&ev_lock);
		l->uncovered += !covered(&w);
		pthread_mutex_unlock(&ev_lock);
	}
	return (NULL);
}

/* run - NTHREADS waiters at once; returns how many failed */
static int
run(struct waiter *w, int take_ticket, int *all_covered)
{
	pthread_t t[NTHREADS];
	int	 i, failed = 0;

	*all_covered = 1;
	for (i = 0; i < NTHREADS; i++) {
		if (take_ticket)
			w[i].ticket = gsync_begin(g);
		pthread_create(&t[i], NULL, wait_thread, &w[i]);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < NTHREADS; i++) {
		failed += w[i].ret < 0;
		*all_covered &= covered(&w[i]);
	}
	return (failed);
}

int
main(void)
{
	struct waiter w[NTHREADS];
	struct stat st, pst;
	unsigned long t;
	static const char *other[] = {"/proc", "/dev", "/sys", "/run",
	    "/dev/shm"};
	const char *second = "/";
	int	 devs[2], cov, failed, i, eio;

	alarm(120);	/* a lost wakeup hangs: fail instead */
	gsync_sync_fn = hook;
	g = gsync_new();
	if (stat("/", &st) < 0)
		return (1);
	/* a second file system: the first of these that is one */
	for (i = 0; i < 5; i++)
		if (stat(other[i], &pst) == 0 && pst.st_dev != st.st_dev)
			break;
	if (i == 5)
		pst = st;
	else
		second = other[i];
	dev0 = gsync_dev(g, st.st_dev, "/");
	tap_ok(dev0 == 0, "first file system registered");
	tap_ok(gsync_dev(g, st.st_dev, "/") == 0, "same file system, "
	    "same index");
	tap_ok(pst.st_dev == st.st_dev || (gsync_dev(g, pst.st_dev, "/") < 0
	    && errno == EXDEV), "a directory on another file system than "
	    "named is refused");

	t = gsync_begin(g);
	tap_ok(gsync_wait(g, t, &dev0, 1) == 0 && nsync == 1
	    && gsync_count(g) == 1, "one waiter, one sync");
	tap_ok(gsync_wait(g, t, NULL, 0) == 0 && nsync == 1,
	    "nothing to sync: no call");
	gsync_end(g);

	if (pst.st_dev != st.st_dev) {
		devs[0] = dev0;
		devs[1] = gsync_dev(g, pst.st_dev, second);
		nsync = 0;
		tap_ok(devs[1] == 1 && gsync_wait(g, gsync_begin(g), devs, 2)
		    == 0 && nsync == 2, "two file systems: one syncfs each");
		gsync_end(g);
	} else
		tap_ok(0, "no second file system (/proc, /dev, /sys, /run) "
		    "to test with");

	nsync = 0;
	hook_sleep_ms = 50;
	memset(w, 0, sizeof(w));
	failed = run(w, 1, &cov);
	tap_ok(failed == 0, "8 concurrent waiters succeed");
	tap_ok(cov, "each returned after a sync that started after its "
	    "call and ended before its return");
	tap_ok(nsync >= 1 && nsync < NTHREADS, "8 waiters shared %d syncs",
	    nsync);

	/* a failed sync: every ticket taken before it fails, with EIO */
	nsync = 0;
	hook_fail = 1;
	memset(w, 0, sizeof(w));
	failed = run(w, 1, &cov);
	for (eio = 1, i = 0; i < NTHREADS; i++)
		eio &= w[i].ret < 0 && w[i].err == EIO;
	tap_ok(failed == NTHREADS && eio, "a failed sync fails every waiter "
	    "whose ticket precedes it, errno EIO (%d failed)", failed);
	t = gsync_begin(g);
	tap_ok(gsync_wait(g, t, &dev0, 1) == 0, "a ticket taken after the "
	    "failure succeeds");
	gsync_end(g);

	/* many generations in a row: no waiter lost, none returns early */
	{
		struct looper l[NTHREADS];
		pthread_t lt[NTHREADS];
		int	 lf = 0, lu = 0;

		nsync = 0;
		hook_sleep_ms = 0;
		memset(l, 0, sizeof(l));
		for (i = 0; i < NTHREADS; i++)
			pthread_create(&lt[i], NULL, loop_thread, &l[i]);
		for (i = 0; i < NTHREADS; i++) {
			pthread_join(lt[i], NULL);
			lf += l[i].failed;
			lu += l[i].uncovered;
		}
		tap_ok(lf == 0 && lu == 0 && nsync < NSYNC_MAX, "%d waits by "
		    "%d threads in a row: %d failed, %d not covered by a sync "
		    "of their own (%d syncs)", NTHREADS * NROUNDS, NTHREADS,
		    lf, lu, nsync);
	}

	/*
	 * an interval of 300 ms between the end of a sync and the next:
	 * long enough that a busy machine (make check runs two files at
	 * once, under ASan) starts the 8 threads well within it
	 */
	{
		pthread_t wt[NTHREADS];
		double	 t0, gap;

		gsync_set_interval(g, 300000);
		nsync = 0;
		hook_sleep_ms = 0;
		t = gsync_begin(g);
		(void)gsync_wait(g, t, &dev0, 1);
		gsync_end(g);
		/* 8 writers at work, their tickets taken */
		memset(w, 0, sizeof(w));
		for (i = 0; i < NTHREADS; i++)
			w[i].ticket = gsync_begin(g);
		for (i = 0; i < NTHREADS; i++) {
			pthread_create(&wt[i], NULL, wait_thread, &w[i]);
			if (i == 0)
				usleep(20000);	/* the first one gathers */
		}
		for (failed = 0, cov = 1, i = 0; i < NTHREADS; i++) {
			pthread_join(wt[i], NULL);
			failed += w[i].ret < 0;
			cov &= covered(&w[i]);
		}
		gap = nsync >= 2 ? sync_start_ms[1] - sync_end_ms[0] : -1;
		tap_ok(gap >= 299.0, "interval 300 ms: the next sync began "
		    "%.1f ms after the last one ended", gap);
		tap_ok(nsync == 2 && failed == 0 && cov, "the %d waiters of "
		    "that wait shared its one sync (%d syncs in all), each "
		    "covered", NTHREADS, nsync);
		usleep(400000);
		t0 = now_ms();
		(void)gsync_wait(g, gsync_begin(g), &dev0, 1);
		gsync_end(g);
		tap_ok(now_ms() - t0 < 250.0 && nsync == 3, "after a quiet "
		    "interval a wait syncs at once (%.1f ms)", now_ms() - t0);
		/* a lone writer: its ticket the only one open */
		t0 = now_ms();
		for (i = 0; i < 5; i++) {
			(void)gsync_wait(g, gsync_begin(g), &dev0, 1);
			gsync_end(g);
		}
		tap_ok(now_ms() - t0 < 250.0 && nsync == 8, "a lone writer's "
		    "5 syncs in a row do not wait for the interval (%.1f ms, "
		    "%d syncs)", now_ms() - t0, nsync - 3);
		gsync_set_interval(g, 200);
		nsync = 0;
		{
			struct looper l[NTHREADS];
			pthread_t lt[NTHREADS];
			int	 lf = 0, lu = 0;

			memset(l, 0, sizeof(l));
			for (i = 0; i < NTHREADS; i++)
				pthread_create(&lt[i], NULL, loop_thread,
				    &l[i]);
			for (i = 0; i < NTHREADS; i++) {
				pthread_join(lt[i], NULL);
				lf += l[i].failed;
				lu += l[i].uncovered;
			}
			tap_ok(lf == 0 && lu == 0 && nsync < NSYNC_MAX,
			    "interval 0.2 ms: %d waits in a row, %d failed, "
			    "%d not covered (%d syncs)", NTHREADS * NROUNDS,
			    lf, lu, nsync);
		}
	}
	gsync_free(g);
	return (tap_done());
}
