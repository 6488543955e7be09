/*
 * NAME
 *	gsync - group commit of syncfs(2) across threads
 * DESCRIPTION
 *	See gsync.h. Leader/follower with a mutex and two generation
 *	counters: started (syncs begun) and done (syncs finished; they
 *	finish in order, one leader at a time). A waiter needs generation
 *	started+1 as it arrives (a sync already running may have begun
 *	before its writes); whoever finds no sync running becomes the
 *	leader of the next one and syncs every file system marked pending
 *	by the waiters so far. Waiters can only await done+1 or done+2, so
 *	they sleep on futex words by the generation they await (mod 4, not
 *	2: a leader wakes after it unlocks, when the generation two later
 *	may have waiters already): when one ends, all of its own are
 *	woken, and one of the next, to lead it.
 *
 *	Not condition variables: a woken waiter would take the mutex again
 *	before it returns, so a generation's waiters, all woken at once,
 *	queued on it (a futex wait and a wake each, context switches: most
 *	of virtual's futex calls). A waiter reads done, and the error
 *	count written before it, without the mutex; only one that must
 *	lead the next generation takes it again. The leader wakes a word
 *	only when someone sleeps on it.
 *
 *	The interval (gsync_set_interval): a waiter about to lead a sync
 *	sooner than the interval after the last one ended, while another
 *	ticket is open (gsync_begin .. gsync_end: another writer may want
 *	this sync), marks the group gathering and sleeps, unlocked, for
 *	the rest. Waiters that arrive meanwhile await the same generation
 *	(started has not moved) and, seeing gathering, do not lead it
 *	themselves. A lone writer (one ticket open) never waits.
 */
#include <linux/futex.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gsync.h"
#include "xalloc.h"

int	(*gsync_sync_fn)(int) = syncfs;

struct gsync_dev {
	dev_t	 dev;
	int	 fd;
	int	 pending;	/* wanted by the next generation */
};

struct gsync {
	pthread_mutex_t lock;
	unsigned int wake[4];	/* futex words, by the awaited generation
				 * mod 4: changed (locked) to wake */
	unsigned int nwait[4];	/* sleepers on each (inc. locked) */
	unsigned long started;
	unsigned long done;	/* written locked, read atomically */
	unsigned long errors;	/* failed syncs so far; likewise */
	int	 last_errno;	/* likewise */
	unsigned long nsyncs;
	struct gsync_dev *devs;
	size_t	 ndevs;
	long	 interval_us;	/* gsync_set_interval(); 0: none */
	int	 open;		/* tickets begun, not ended */
	int	 gathering;	/* a leader sleeps before its generation */
	struct timespec last_end;	/* the last generation's end */
};

/* gsync_new - an empty group */
struct gsync *
gsync_new(void)
{
	struct gsync *g = xcalloc(1, sizeof(*g));

	pthread_mutex_init(&g->lock, NULL);
	return (g);
}

/* gsync_set_interval - a sync starts usec after the last one ended */
void
gsync_set_interval(struct gsync *g, long usec)
{
	pthread_mutex_lock(&g->lock);
	g->interval_us = usec > 0 ? usec : 0;
	pthread_mutex_unlock(&g->lock);
}

/* gsync_free - close the descriptors (no waiter may be left) */
void
gsync_free(struct gsync *g)
{
	size_t	 i;

	if (g == NULL)
		return;
	for (i = 0; i < g->ndevs; i++)
		close(g->devs[i].fd);
	free(g->devs);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* gsync_dev - the index of dev's file system, opened once */
int
gsync_dev(struct gsync *g, dev_t dev, const char *dir)
{
	struct stat st;
	size_t	 i;
	int	 fd, saved;

	pthread_mutex_lock(&g->lock);
	for (i = 0; i < g->ndevs; i++)
		if (g->devs[i].dev == dev) {
			pthread_mutex_unlock(&g->lock);
			return ((int)i);
		}
	pthread_mutex_unlock(&g->lock);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return (-1);
	if (fstat(fd, &st) < 0 || st.st_dev != dev) {
		saved = errno;
		close(fd);
		errno = st.st_dev != dev ? EXDEV : saved;
		return (-1);
	}
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < g->ndevs && g->devs[i].dev != dev; i++)
		;
	if (i < g->ndevs)
		close(fd);	/* another thread was first */
	else {
		g->devs = xrealloc(g->devs, (g->ndevs + 1) * sizeof(*g->devs));
		g->devs[i].dev = dev;
		g->devs[i].fd = fd;
		g->devs[i].pending = 0;
		g->ndevs++;
	}
	pthread_mutex_unlock(&g->lock);
	return ((int)i);
}

/* gsync_begin - a ticket, taken before the writes it covers */
unsigned long
gsync_begin(struct gsync *g)
{
	unsigned long errors;

	pthread_mutex_lock(&g->lock);
	g->open++;
	errors = g->errors;
	pthread_mutex_unlock(&g->lock);
	return (errors);
}

/* gsync_end - the ticket's writes are synced or given up */
void
gsync_end(struct gsync *g)
{
	pthread_mutex_lock(&g->lock);
	if (g->open > 0)
		g->open--;
	pthread_mutex_unlock(&g->lock);
}

/* futex_wait - sleep while *word is val (or until a wake) */
static void
futex_wait(unsigned int *word, unsigned int val)
{
	(void)syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL,
	    0);
}

/* futex_wake - wake up to n sleepers on word */
static void
futex_wake(unsigned int *word, int n)
{
	(void)syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* lead - run one generation's syncs (called and returns locked) */
static unsigned long
lead(struct gsync *g)
{
	unsigned long gen = ++g->started;
	int	*fds = xcalloc(g->ndevs + 1, sizeof(int));
	size_t	 i, n = 0;
	int	 err = 0;

	for (i = 0; i < g->ndevs; i++)
		if (g->devs[i].pending) {
			g->devs[i].pending = 0;
			fds[n++] = g->devs[i].fd;
		}
	pthread_mutex_unlock(&g->lock);
	for (i = 0; i < n; i++)
		if (gsync_sync_fn(fds[i]) < 0)
			err = errno ? errno : EIO;
	free(fds);
	pthread_mutex_lock(&g->lock);
	clock_gettime(CLOCK_MONOTONIC, &g->last_end);
	g->nsyncs += n;
	if (err) {
		__atomic_store_n(&g->last_errno, err, __ATOMIC_RELAXED);
		__atomic_store_n(&g->errors, g->errors + 1, __ATOMIC_RELAXED);
	}
	/* the error count is visible to whoever sees this done */
	__atomic_store_n(&g->done, gen, __ATOMIC_RELEASE);
	/* a sleeper that read the words before this change is woken */
	g->wake[gen & 3]++;
	g->wake[(gen + 1) & 3]++;
	return (gen);
}

/*
 * gather - called locked by a waiter about to lead: with an interval
 * and another ticket open, sleep unlocked until the interval has passed
 * since the last sync ended, while the waiters arriving meanwhile join
 * this generation
 */
static void
gather(struct gsync *g)
{
	struct timespec now, ts;
	long	 left;

	if (g->interval_us == 0 || g->open < 2)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = g->interval_us - ((now.tv_sec - g->last_end.tv_sec) * 1000000L
	    + (now.tv_nsec - g->last_end.tv_nsec) / 1000);
	if (left <= 0)
		return;
	g->gathering = 1;
	pthread_mutex_unlock(&g->lock);
	ts.tv_sec = left / 1000000;
	ts.tv_nsec = (left % 1000000) * 1000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&g->lock);
	g->gathering = 0;
}

/* gsync_wait - a sync of devs that began after this call, done */
int
gsync_wait(struct gsync *g, unsigned long ticket, const int *devs,
    size_t ndevs)
{
	unsigned long target, gen = 0;
	unsigned int seen, *word;
	int	 wake_own = 0, wake_next = 0;
	size_t	 i;

	if (ndevs == 0)
		return (0);
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < ndevs; i++)
		g->devs[devs[i]].pending = 1;
	target = g->started + 1;
	word = &g->wake[target & 3];
	while (g->done < target) {
		if (g->started == g->done && !g->gathering) {
			gather(g);
			gen = lead(g);
			/* its waiters, and one of the next to lead that */
			wake_own = __atomic_load_n(&g->nwait[gen & 3],
			    __ATOMIC_RELAXED) > 0;
			wake_next = __atomic_load_n(&g->nwait[(gen + 1) & 3],
			    __ATOMIC_RELAXED) > 0;
			break;
		}
		/* read locked: a change after the unlock is not missed */
		seen = *word;
		__atomic_add_fetch(&g->nwait[target & 3], 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&g->lock);
		futex_wait(word, seen);
		__atomic_sub_fetch(&g->nwait[target & 3], 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&g->done, __ATOMIC_ACQUIRE) >= target)
			goto done;	/* the common case: no mutex again */
		pthread_mutex_lock(&g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	if (wake_own)
		futex_wake(&g->wake[gen & 3], INT_MAX);
	if (wake_next)
		futex_wake(&g->wake[(gen + 1) & 3], 1);
done:
	if (__atomic_load_n(&g->errors, __ATOMIC_ACQUIRE) != ticket) {
		errno = __atomic_load_n(&g->last_errno, __ATOMIC_RELAXED);
		return (-1);
	}
	return (0);
}

/* gsync_count - syncfs calls so far */
unsigned long
gsync_count(struct gsync *g)
{
	unsigned long n;

	pthread_mutex_lock(&g->lock);
	n = g->nsyncs;
	pthread_mutex_unlock(&g->lock);
	return (n);
}
