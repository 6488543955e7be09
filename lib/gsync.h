/*
 * NAME
 *	gsync - group commit: one syncfs(2) for the writes of many threads
 * SYNOPSIS
 *	#include "gsync.h"
 *
 *	struct gsync *gsync_new(void);
 *	void	gsync_free(struct gsync *g);
 *	int	gsync_dev(struct gsync *g, dev_t dev, const char *dir);
 *	unsigned long gsync_begin(struct gsync *g);
 *	void	gsync_end(struct gsync *g);
 *	int	gsync_wait(struct gsync *g, unsigned long ticket,
 *	    const int *devs, size_t ndevs);
 *	unsigned long gsync_count(struct gsync *g);
 *	void	gsync_set_interval(struct gsync *g, long usec);
 *	extern int (*gsync_sync_fn)(int fd);
 * DESCRIPTION
 *	Threads that each wrote files and need them durable before they
 *	answer share the sync: gsync_wait() returns once a sync of each
 *	file system in devs has STARTED after the call and completed. One
 *	waiter (the leader) runs syncfs() for every file system any waiter
 *	of its generation asked for, while the others that arrive meanwhile
 *	wait for the next generation: 2 syncs per batch, not 2 per file.
 *
 *	gsync_dev() registers the file system dev (st_dev of a file the
 *	caller is about to write) and returns its index for gsync_wait();
 *	the first time it sees dev it opens dir (a directory on it) and
 *	keeps that descriptor for the life of g. syncfs() reports a write-
 *	back error once per open file description, since that open: the
 *	descriptor must exist before the writes it vouches for, so call
 *	gsync_dev() before writing.
 *
 *	gsync_begin() takes a ticket BEFORE the writes; gsync_wait() fails
 *	if any sync since that ticket failed (any device: conservative),
 *	because Linux reports a writeback error to one syncfs only and it
 *	may have been another generation's.
 *
 *	gsync_end() ends a ticket once its writes are synced or given up:
 *	each gsync_begin() is followed by one gsync_end().
 *
 *	gsync_set_interval() makes each sync start at least usec after
 *	the previous one ended while another ticket than the leader's is
 *	open (0, the default: as soon as a waiter finds none running). The
 *	waiter that would lead a sync sooner sleeps for the rest, and
 *	every waiter that arrives meanwhile is covered by that same sync:
 *	busy writers trade at most usec of latency per sync for fewer,
 *	larger syncs (each writes the shared metadata blocks, directories,
 *	inode tables and bitmaps, once for all); a waiter after a quiet
 *	interval, or a lone writer (one ticket open), syncs at once.
 *
 *	gsync_sync_fn is syncfs; a unit test may replace it (count the
 *	calls, inject EIO). gsync_count() is the number of syncfs calls.
 * DIAGNOSTICS
 *	gsync_dev() and gsync_wait() return -1 with errno set (open error;
 *	the sync error, e.g. EIO or ENOSPC), else 0 / the index.
 */
#ifndef GSYNC_H
#define GSYNC_H

#include <sys/types.h>

#include <stddef.h>

struct gsync;

extern int (*gsync_sync_fn)(int);

struct gsync *gsync_new(void);
void	 gsync_free(struct gsync *);
int	 gsync_dev(struct gsync *, dev_t, const char *);
unsigned long gsync_begin(struct gsync *);
int	 gsync_wait(struct gsync *, unsigned long, const int *, size_t);
void	 gsync_end(struct gsync *);
unsigned long gsync_count(struct gsync *);
void	 gsync_set_interval(struct gsync *, long);

#endif
