/*
 * NAME
 *	queue_journal - acknowledged messages made durable by one append
 * SYNOPSIS
 *	#include "queue_journal.h"
 *
 *	struct queue_journal *queue_journal_open(const char *queue_dir,
 *	    char *err, size_t errlen);
 *	int	queue_journal_add(struct queue_journal *j,
 *	    const struct queue_rename *r);
 *	int	queue_journal_write(struct queue_journal *j,
 *	    struct queue_rename **r, size_t n);
 *	int	queue_journal_due(const struct queue_journal *j);
 *	long	queue_journal_wait(const struct queue_journal *j);
 *	size_t	queue_journal_pending(const struct queue_journal *j);
 *	int	queue_journal_checkpoint(struct queue_journal *j);
 *	int	queue_journal_recover(const char *queue_dir);
 *	void	queue_journal_close(struct queue_journal *j);
 *
 *	extern int (*queue_journal_sync_fn)(const char *queue_dir);
 * DESCRIPTION
 *	QUEUE.md, "The journal". smtpd's group commit with
 *	smtpd_queue_sync = journal: a batch of finished queue files
 *	(incoming/.ID, not yet renamed) is appended, content and all, to
 *	the process's journal file (queue/journal/N, preallocated, one
 *	pwrite and one fdatasync: one write and one flush, no metadata),
 *	and the 250s go out. The files are renamed to their final names
 *	(incoming/ID, hold/ID) only at a checkpoint, after a syncfs made
 *	them durable and a durable mark in the journal's header said so;
 *	a second syncfs makes the renames durable and the journal starts
 *	over (a new generation). Until a file is renamed no reader sees
 *	it, so no record of the journal can be a message that was already
 *	delivered.
 *
 *	queue_journal_open() recovers every journal no live process holds
 *	(queue_journal_recover()) and takes one (flock) for the caller,
 *	creating it if need be; NULL with err set when it cannot.
 *	queue_journal_add() stages one finished file (r->tmp, r->final,
 *	absolute, under queue_dir; its bytes are r->data when the writer
 *	kept a copy, else read back from r->tmp): -1 when it cannot go
 *	through the
 *	journal (too big, not under incoming/ or hold/, unreadable), and
 *	the caller syncs the batch as without a journal (its files are
 *	not the journal's business: renamed and synced at once). On -1
 *	the records staged so far are dropped.
 *	queue_journal_write() appends the staged records and syncs them:
 *	on success it takes the renames (r[0..n-1], whose strings it
 *	keeps: their tmp and final become NULL, their data is freed) as
 *	pending; on failure
 *	nothing is pending and r is untouched.
 *	queue_journal_due() says a checkpoint should run (pending files
 *	old or many, or the journal three quarters full);
 *	queue_journal_wait() how long until it does (microseconds; -1:
 *	nothing is pending).
 *	queue_journal_checkpoint() runs one: syncfs, mark, renames of the
 *	pending files, syncfs, new generation; a rename that fails is
 *	logged and tried again by the next checkpoint. A process keeps
 *	two journals and appends to one while the other checkpoints, so
 *	that the renames and syncs of a checkpoint hold no 250 up; a
 *	journal is used by one thread at a time.
 *	queue_journal_close() checkpoints what is pending and closes.
 *	queue_journal_recover() (qmgr, at start and now and then) takes
 *	each journal no process holds and finishes its records: a record
 *	after the header's mark is written again from the journal (its
 *	file may never have reached the disk) and renamed; one before the
 *	mark is renamed if its temporary file is still there (else it was
 *	renamed, and maybe delivered since: nothing to do).
 *
 *	queue_journal_sync_fn is queue_sync_fs; a unit test may replace it.
 * DIAGNOSTICS
 *	-1 with errno set; queue_journal_recover() returns the number of
 *	messages it committed, and logs each journal it finished.
 */
#ifndef QUEUE_JOURNAL_H
#define QUEUE_JOURNAL_H

#include <stddef.h>

#include "queue.h"

#define QUEUE_JOURNAL_DIR	"journal"
#define QUEUE_JOURNAL_SIZE	(8L << 20)	/* preallocated, per process */
#define QUEUE_JOURNAL_MSG_MAX	(256L << 10)	/* larger: a checkpoint */
#define QUEUE_JOURNAL_SLOTS	64
#define QUEUE_JOURNAL_CKPT_USEC	50000		/* oldest pending file */
#define QUEUE_JOURNAL_CKPT_FILES 1024

struct queue_journal;

extern int (*queue_journal_sync_fn)(const char *);

struct queue_journal *queue_journal_open(const char *, char *, size_t);
int	 queue_journal_add(struct queue_journal *, const struct queue_rename *);
int	 queue_journal_write(struct queue_journal *, struct queue_rename **,
	    size_t);
int	 queue_journal_due(const struct queue_journal *);
long	 queue_journal_wait(const struct queue_journal *);
size_t	 queue_journal_pending(const struct queue_journal *);
int	 queue_journal_checkpoint(struct queue_journal *);
int	 queue_journal_recover(const char *);
void	 queue_journal_close(struct queue_journal *);

#endif
