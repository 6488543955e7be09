/*
 * NAME
 *	queue_pool - queue files reused instead of unlinked and created
 * SYNOPSIS
 *	See queue.h: queue_remove(), queue_pool_prune(); queue.c calls
 *	queue_pool_claim().
 * DESCRIPTION
 *	QUEUE.md, "The file pool". A delivered message's file is renamed
 *	into pool/ under one of queue_file_pool_limit slot names (set
 *	with queue_pool_set_limit(), QUEUE_POOL_SLOTS by default) instead of
 *	being unlinked (queue_remove(), qmgr), and a new message's
 *	temporary file is taken from there by a rename instead of being
 *	created (queue_pool_claim(), called by queue_writer_new()): on
 *	a busy queue no inode is freed or allocated per message. A
 *	removal passes over slots still holding a file (up to
 *	POOL_PLACE_TRIES in turn; then it replaces, frees, the file under
 *	the last), so the pool never holds more files than there are
 *	slots; only files of
 *	the process's own user and mode 0600 go there, and one over
 *	QUEUE_POOL_FILE_MAX only once emptied (queue_pool_settle(), by
 *	queue_file_close()). The
 *	rename is the claim: of two processes that pick one name, one
 *	gets the file and the other ENOENT. What a pool file holds is
 *	never read: its content is a delivered message, overwritten by
 *	the writer, which also truncates it to the new length.
 *
 *	The names a process may claim come from one readdir of pool/,
 *	kept until used; an empty pool is listed again at most once a
 *	second. A file system without renameat2(RENAME_NOREPLACE) turns
 *	claiming off for the process's life.
 * DIAGNOSTICS
 *	queue_pool_claim(): -1 when no pool file could be had (the caller
 *	creates a file). queue_remove(): as unlink(): 0, or -1 with errno
 *	(ENOENT: the file is not there).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "xalloc.h"

#define POOL_NAMES	256		/* names kept from one listing */
#define POOL_NAME_MAX	16
#define POOL_PLACE_TRIES 8		/* taken slots before a replace */
#define POOL_TAKEN_MAX	(POOL_NAMES * 2)	/* misses before a create */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static char pool_names[POOL_NAMES][POOL_NAME_MAX];
static size_t pool_n;			/* names left in pool_names */
static time_t pool_next_list;		/* an empty listing waits until */
static int pool_off;			/* no RENAME_NOREPLACE here */
static unsigned pool_slot;		/* queue_remove()'s next slot */
static unsigned long long pool_seq;	/* its hidden names (big files) */
static unsigned pool_slots = QUEUE_POOL_SLOTS;	/* slot names, 0 = off */
static int pool_slot_init;

/*
 * pool_list - fill pool_names from one readdir of pool/ (lock held).
 * Every process lists the same names in the same order: each one
 * starts at a place of its own in the listing (the names before it
 * follow at the end), so that two smtpd processes do not try the same
 * names one after the other (measured: half the claims of two smtpd
 * processes failed with ENOENT before).
 */
static void
pool_list(const char *queue_dir)
{
	char	*path = xasprintf("%s/pool", queue_dir);
	DIR	*d = opendir(path);
	struct dirent *de;
	char	 all[POOL_NAMES * 2][POOL_NAME_MAX];
	size_t	 n = 0, i, start;

	free(path);
	pool_n = 0;
	if (d != NULL) {
		while (n < POOL_NAMES * 2 && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.'
			    || strlen(de->d_name) >= POOL_NAME_MAX)
				continue;
			memcpy(all[n++], de->d_name, strlen(de->d_name) + 1);
		}
		closedir(d);
	}
	start = n ? ((size_t)getpid() * 2654435761u) % n : 0;
	for (i = 0; i < n && pool_n < POOL_NAMES; i++)
		memcpy(pool_names[pool_n++], all[(start + i) % n],
		    POOL_NAME_MAX);
	if (pool_n == 0)
		pool_next_list = time(NULL) + 1;
}

/* pool_pick - the next name to try, or 0 (lock held) */
static int
pool_pick(const char *queue_dir, char *name)
{
	if (pool_off)
		return (0);
	if (pool_n == 0 && time(NULL) >= pool_next_list)
		pool_list(queue_dir);
	if (pool_n == 0)
		return (0);
	memcpy(name, pool_names[--pool_n], POOL_NAME_MAX);
	return (1);
}

/*
 * queue_pool_claim - rename a pool file to tmp (which must not exist)
 * and open it for writing; -1 when none could be had. *exists is set
 * when tmp was there already (the caller takes a new id), *size to the
 * file's length (what the new content must cut when shorter).
 */
int
queue_pool_claim(const char *queue_dir, const char *tmp, int *exists,
    off_t *size)
{
	char	 name[POOL_NAME_MAX], *from;
	struct stat st;
	int	 tries, taken, fd, rc;

	*exists = 0;
	for (tries = 0, taken = 0; tries < 4 && taken < POOL_TAKEN_MAX;) {
		pthread_mutex_lock(&pool_lock);
		rc = pool_pick(queue_dir, name);
		pthread_mutex_unlock(&pool_lock);
		if (!rc)
			return (-1);
		from = xasprintf("%s/pool/%s", queue_dir, name);
		rc = renameat2(AT_FDCWD, from, AT_FDCWD, tmp,
		    RENAME_NOREPLACE);
		free(from);
		if (rc < 0 && errno == ENOENT) {
			/*
			 * Taken by another process: not a failed try. Two
			 * smtpd processes list the same names, and four
			 * such misses in a row sent a third of a held
			 * round's messages to create a file (an inode
			 * allocation, the dearest step of acceptance on
			 * ext4) with the pool still full.
			 */
			taken++;
			continue;
		}
		if (rc < 0) {
			if (errno == EEXIST)
				*exists = 1;
			else if (errno == EINVAL || errno == ENOSYS) {
				pthread_mutex_lock(&pool_lock);
				pool_off = 1;
				pthread_mutex_unlock(&pool_lock);
			}
			return (-1);
		}
		if ((fd = open(tmp, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0
		    || fstat(fd, &st) < 0) {
			if (fd >= 0)
				close(fd);
			(void)unlink(tmp);	/* not ours to write: drop it */
			tries++;
			continue;
		}
		*size = st.st_size;
		/* the age the temp file cleaner reads (queue_clean_temp,
		 * a day): a file in use within the hour, as under load,
		 * is young enough without a touch (a system call less a
		 * message) */
		if (st.st_mtime < time(NULL) - 3600)
			(void)futimens(fd, NULL);
		return (fd);
	}
	return (-1);
}

/* pool_next_slot - the next slot number in turn (qmgr's own sequence) */
static unsigned
pool_next_slot(void)
{
	unsigned slot;

	pthread_mutex_lock(&pool_lock);
	if (!pool_slot_init) {
		/* a restart does not begin by replacing the oldest slots */
		pool_slot = (unsigned)time(NULL) ^ (unsigned)getpid();
		pool_slot_init = 1;
	}
	slot = pool_slots ? pool_slot++ % pool_slots : 0;
	pthread_mutex_unlock(&pool_lock);
	return (slot);
}

/*
 * pool_place - rename path into pool/ under a free slot name: the next
 * slots in turn are tried with RENAME_NOREPLACE, and only after
 * POOL_PLACE_TRIES taken ones does the file replace (free) the one
 * under the last. Writers claim names in readdir's order, not the
 * slots', so slots taken in turn without this check replaced files
 * still in the pool: held to about 3,900 of 8,192 files after rounds
 * of 6,000 messages, a third of the next round's messages created
 * their file (an inode allocation) and each replaced one freed one.
 * -1 with errno as rename(), ENOENT when path or pool/ is not there.
 */
static int
pool_place(const char *queue_dir, const char *path)
{
	char	*to;
	int	 i, rc;

	for (i = 0;; i++) {
		to = xasprintf("%s/pool/%u", queue_dir, pool_next_slot());
		if (i == POOL_PLACE_TRIES - 1)
			rc = rename(path, to);
		else if ((rc = renameat2(AT_FDCWD, path, AT_FDCWD, to,
		    RENAME_NOREPLACE)) < 0 && (errno == EINVAL
		    || errno == ENOSYS))
			rc = rename(path, to);
		free(to);
		if (rc == 0 || errno != EEXIST)
			return (rc);
	}
}

/*
 * queue_remove - remove qf's finished queue file: into the pool when it
 * may go there, else unlink. A file over QUEUE_POOL_FILE_MAX goes under
 * a hidden name (pool/.SLOT.SEQ, never claimed) and queue_file_close()
 * truncates it to nothing and gives it its slot name: freeing its
 * blocks (a discard on a file system mounted with it) is left to the
 * thread that closes, as it was when the close freed the whole inode.
 */
int
queue_remove(const char *queue_dir, struct queue_file *qf)
{
	struct stat st;
	char	*to;
	unsigned slot;
	unsigned long long seq;
	int	 rc, big;

	if (qf->fd < 0 || !qf->writable || fstat(qf->fd, &st) < 0
	    || !S_ISREG(st.st_mode) || st.st_nlink != 1
	    || st.st_uid != geteuid() || (st.st_mode & 07777) != 0600)
		return (unlink(qf->path));
	pthread_mutex_lock(&pool_lock);
	if (pool_slots == 0) {
		pthread_mutex_unlock(&pool_lock);
		return (unlink(qf->path));
	}
	seq = pool_seq++;
	pthread_mutex_unlock(&pool_lock);
	big = st.st_size > QUEUE_POOL_FILE_MAX;
	if (!big)
		rc = pool_place(queue_dir, qf->path);
	else {
		/* a hidden name never used twice by this process (qmgr) */
		slot = pool_next_slot();
		to = xasprintf("%s/pool/.%u.%llu", queue_dir, slot, seq);
		if ((rc = rename(qf->path, to)) == 0) {
			qf->pool_tmp = to;
			qf->pool_dir = xstrdup(queue_dir);
			return (0);
		}
		free(to);
	}
	if (rc == 0 || errno != ENOENT)
		return (rc);
	/* no pool/ (a queue made before it), or the file is gone: unlink */
	return (unlink(qf->path));
}

/*
 * queue_pool_settle - a big file's second step (queue_file_close(),
 * before the close): emptied, then claimable under its slot name
 */
void
queue_pool_settle(struct queue_file *qf)
{
	if (ftruncate(qf->fd, 0) < 0 || pool_place(qf->pool_dir,
	    qf->pool_tmp) < 0)
		(void)unlink(qf->pool_tmp);
	free(qf->pool_tmp);
	free(qf->pool_dir);
	qf->pool_tmp = qf->pool_dir = NULL;
}

/* queue_pool_set_limit - at most n files in pool/ (0: no pool) */
void
queue_pool_set_limit(unsigned n)
{
	pthread_mutex_lock(&pool_lock);
	pool_slots = n;
	pthread_mutex_unlock(&pool_lock);
}

struct pool_prune {
	time_t	 now;
	long	 max_age;
	unsigned slots;
};

/* pool_prune_doomed - unused for max_age, over the limit, or hidden */
static int
pool_prune_doomed(const char *name, const struct stat *st, void *ctx)
{
	const struct pool_prune *pp = ctx;

	/* .SLOT.SEQ: a big file whose remover died before it settled */
	return (st == NULL || name[0] == '.' || pp->now - st->st_mtime
	    > pp->max_age || strtoul(name, NULL, 10) >= pp->slots);
}

/*
 * queue_pool_prune - remove pool files unused for max_age seconds, and
 * those under a slot name the limit no longer has
 */
int
queue_pool_prune(const char *queue_dir, long max_age)
{
	struct pool_prune pp = {time(NULL), max_age, 0};

	pthread_mutex_lock(&pool_lock);
	pp.slots = pool_slots;
	pthread_mutex_unlock(&pool_lock);
	return (queue_unlink_if(queue_dir, "pool", pool_prune_doomed, &pp));
}
