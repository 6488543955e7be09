/*
 * NAME
 *	gsync - group commit of syncfs(2) across threads
 * DESCRIPTION
 *	See gsync.h. Leader/follower with a mutex, a condition variable
 *	and two generation counters: started (syncs begun) and done
 *	(syncs finished; they finish in order, one leader at a time). A
 *	waiter needs generation started+1 as it arrives (a sync already
 *	running may have begun before its writes); whoever finds no sync
 *	running becomes the leader of the next one and syncs every file
 *	system marked pending by the waiters so far. Waiters can only
 *	await done+1 or done+2, so two condition variables (by parity)
 *	keep the next generation's waiters asleep when one ends: all of
 *	its own are woken, and one of the next, to lead.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
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
	pthread_cond_t cond[2];	/* by the parity of the awaited generation */
	unsigned long started;
	unsigned long done;
	unsigned long errors;	/* failed syncs so far */
	int	 last_errno;
	unsigned long nsyncs;
	struct gsync_dev *devs;
	size_t	 ndevs;
};

/* gsync_new - an empty group */
struct gsync *
gsync_new(void)
{
	struct gsync *g = xcalloc(1, sizeof(*g));

	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond[0], NULL);
	pthread_cond_init(&g->cond[1], NULL);
	return (g);
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
	pthread_cond_destroy(&g->cond[0]);
	pthread_cond_destroy(&g->cond[1]);
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
	unsigned long t;

	pthread_mutex_lock(&g->lock);
	t = g->errors;
	pthread_mutex_unlock(&g->lock);
	return (t);
}

/* lead - run one generation's syncs (called and returns locked) */
static void
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
	g->nsyncs += n;
	if (err) {
		g->errors++;
		g->last_errno = err;
	}
	g->done = gen;
	/* its waiters are done; one of the next one's leads it */
	pthread_cond_broadcast(&g->cond[gen & 1]);
	pthread_cond_signal(&g->cond[(gen + 1) & 1]);
}

/* gsync_wait - a sync of devs that began after this call, done */
int
gsync_wait(struct gsync *g, unsigned long ticket, const int *devs,
    size_t ndevs)
{
	unsigned long target;
	size_t	 i;
	int	 ret = 0;

	if (ndevs == 0)
		return (0);
	pthread_mutex_lock(&g->lock);
	for (i = 0; i < ndevs; i++)
		g->devs[devs[i]].pending = 1;
	target = g->started + 1;
	while (g->done < target) {
		if (g->started == g->done)
			lead(g);
		else
			pthread_cond_wait(&g->cond[target & 1], &g->lock);
	}
	if (g->errors != ticket) {
		ret = -1;
		errno = g->last_errno;
	}
	pthread_mutex_unlock(&g->lock);
	return (ret);
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
