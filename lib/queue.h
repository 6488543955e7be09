/*
 * NAME
 *	queue - queue files: ids, the record format, writer and reader
 * SYNOPSIS
 *	#include "queue.h"
 *
 *	Writer (smtpd, sendmail/maildrop, qmgr bounces):
 *	struct queue_writer *queue_writer_new(const char *queue_dir,
 *	    const char *subdir, char *err, size_t errlen);
 *	const char *queue_writer_id(const struct queue_writer *w);
 *	const char *queue_writer_path(const struct queue_writer *w);
 *	void	queue_writer_sender(struct queue_writer *w, const char *s);
 *	void	queue_writer_attr(struct queue_writer *w, const char *name,
 *	    const char *value);
 *	void	queue_writer_trailer(struct queue_writer *w, const char *name,
 *	    const char *value);
 *	void	queue_writer_rcpt(struct queue_writer *w, const char *addr,
 *	    const char *orcpt, int notify);
 *	int	queue_writer_body(struct queue_writer *w, const void *data,
 *	    size_t len);
 *	int	queue_writer_finish(struct queue_writer *w, char *err,
 *	    size_t errlen);
 *	int	queue_writer_commit(struct queue_writer *w, char *err,
 *	    size_t errlen);
 *	void	queue_writer_abort(struct queue_writer *w);
 *	int	queue_sync_dir(const char *queue_dir, const char *subdir);
 *
 *	Pickup (maildrop -> incoming exactly once, QUEUE.md state S1):
 *	int	queue_writer_commit_pickup(struct queue_writer *w,
 *	    const char *drop_id, char *err, size_t errlen);
 *	int	queue_pickup_finish(const char *queue_dir, const char *subdir,
 *	    const char *drop_id, const char *id);
 *	int	queue_pickup_recover(const char *queue_dir, const char *subdir);
 *	int	queue_pickup_parse(const char *name, char *drop_id, char *id);
 *
 *	Reader (qmgr, delivery agents, postqueue):
 *	struct queue_file *queue_file_open(const char *path, int writable,
 *	    char *err, size_t errlen);
 *	int	queue_file_mark_done(struct queue_file *qf, size_t rcpt);
 *	int	queue_file_mark_done_nosync(struct queue_file *qf,
 *	    size_t rcpt);
 *	int	queue_file_sync(struct queue_file *qf);
 *	int	queue_file_set_warn(struct queue_file *qf, long when);
 *	int	queue_file_add_rcpt(struct queue_file *qf, const char *addr,
 *	    const char *orcpt, int notify, size_t parent);
 *	void	queue_file_close(struct queue_file *qf);
 *
 *	const char *queue_file_attr(const struct queue_file *qf,
 *	    const char *name);
 *	const char *queue_file_msg(const struct queue_file *qf);
 *	long	queue_file_find_rcpt(const struct queue_file *qf,
 *	    const char *addr, long parent);
 *
 *	void	queue_writer_warn(struct queue_writer *w, long when);
 *	void	queue_writer_nosync(struct queue_writer *w);
 *	void	queue_writer_subdir(struct queue_writer *w,
 *	    const char *subdir);
 *	int	queue_sync_fs(const char *path);
 *	int	queue_sync_fs_keep(const char *path);
 *	void	queue_writer_later(struct queue_writer *w,
 *	    struct queue_rename *r);
 *	void	queue_writer_copy(struct queue_writer *w);
 *	int	queue_rename_commit(struct queue_rename *r);
 *	void	queue_rename_abort(struct queue_rename *r);
 *
 *	char	*queue_path(const char *queue_dir, const char *subdir,
 *	    const char *id);
 *	int	queue_id_valid(const char *id);
 *
 *	Directory helpers (qmgr, postsuper, postqueue):
 *	int	queue_move(const char *queue_dir, const char *from,
 *	    const char *to, const char *id);
 *	struct strv *queue_scan(const char *queue_dir, const char *subdir);
 *	int	queue_clean_temp(const char *queue_dir, const char *subdir,
 *	    long max_age);
 *	int	queue_dirs_create(const char *queue_dir, uid_t uid, gid_t gid,
 *	    char *err, size_t errlen);
 *
 *	Per-recipient logs bounce/<id> and defer/<id>:
 *	int	queue_log_append(const char *queue_dir, const char *log,
 *	    const char *id, const struct queue_log_entry *e);
 *	struct queue_log_entry *queue_log_read(const char *queue_dir,
 *	    const char *log, const char *id, size_t *count);
 *	void	queue_log_free(struct queue_log_entry *v, size_t count);
 * DESCRIPTION
 *	QUEUE.md at the top of the tree is the specification of the
 *	directories, the file format, the state table and the crash
 *	recovery rule for each state; this header is its API.
 *
 *	Writing a message: queue_writer_new() creates a temporary file
 *	under queue_dir/subdir (normally "incoming") with a fresh queue id
 *	(queue_writer_path() is its path);
 *	the envelope calls may come in any order before the first
 *	queue_writer_body() (after it they are a bug: log_panic); body bytes are the message with LF line
 *	endings (SMTP dot-stuffing and CRLF already undone by the caller).
 *	queue_writer_finish() completes the records and fsyncs the file;
 *	queue_writer_commit() renames it to its queue id, the commit point.
 *	Durability of the rename needs the directory synced: a caller
 *	that acknowledges many messages calls queue_sync_dir() once for
 *	the batch (group commit) before any 250. Both finish and commit
 *	block on the disk: call them from a worker thread. abort unlinks
 *	the temporary file; finish/commit failures leave nothing behind.
 *	The writer is freed by queue_writer_commit() (success or failure)
 *	and by queue_writer_abort(): copy queue_writer_id() first if you
 *	need it afterwards. After a failed finish, call abort (or commit,
 *	which then fails). The delay-warning time defaults to arrival +
 *	delay_warning_time (main.cf; 0 = none); queue_writer_warn()
 *	overrides it (0 = no warning for this message).
 *	queue_writer_trailer() adds an attribute learned while the body
 *	streams (header_checks FILTER): an A record between the message
 *	and E, any time before finish; queue_file_attr() returns the last
 *	record of a name, so it overrides an envelope attribute.
 *	queue_writer_subdir() makes the commit rename the file into
 *	another directory of the queue (hold/ when cleanup finds a HOLD
 *	action in a message it has been writing into incoming/).
 *
 *	Group commit with one flush: after queue_writer_nosync(w),
 *	finish does not fsync the file; the caller commits (renames) a
 *	batch of such files and then calls queue_sync_fs() once (syncfs(2)
 *	of the queue's file system: every file's data and every rename of
 *	the batch become durable together) before any 250. Its path may be
 *	the queue directory or any file in it (sendmail, which may not
 *	open maildrop/, syncs through the file it just wrote). A daemon
 *	calls queue_sync_fs_keep() with that path before it writes any
 *	file: syncfs() reports a write-back error only to descriptors
 *	opened before another one reported it. Until then the
 *	files are not acknowledged; after a power loss in that window a
 *	renamed file may be incomplete and is then moved to corrupt/ by
 *	qmgr, like any unparseable file (nothing acknowledged is lost).
 *	A caller that writes the files where a rename may stall (smtpd's
 *	event loop: on ext4 a rename waits for a running syncfs) can leave
 *	the renames to its group commit: after queue_writer_later(w, r),
 *	queue_writer_commit(w) finishes the file and returns 0 without
 *	the rename, with r->tmp and r->final set (until then r's fields
 *	are NULL). After queue_writer_copy(w), called before
 *	queue_writer_finish() by a caller that does not change the file
 *	after it (cleanup does, to sign with DKIM), when the whole file
 *	went to disk in one write (a message that fit the writer's 64 KB
 *	buffer), r->data and r->len are a copy of its bytes, so that a
 *	journal need not read it back (lib/queue_journal.h); else
 *	r->data is NULL.
 *	The group commit calls queue_rename_commit(r) (the rename, the
 *	commit point; -1 with errno, the file removed) for each file of
 *	the batch, then one queue_sync_fs(); queue_rename_abort(r) removes
 *	a file that is not to be committed. Both free r's strings and
 *	r->data.
 *
 *	Reading: queue_file_open() parses the envelope (the message is
 *	left on disk: msg_offset/msg_len say where). A file opened
 *	read-only that fits in the reader's buffer (QUEUE_LINE_MAX) is
 *	read whole with one pread: queue_file_msg() then gives its
 *	msg_len message bytes (not NUL-terminated, valid until
 *	queue_file_close()); otherwise it is NULL and the caller reads
 *	the message from fd. A file that does not
 *	parse returns NULL with errno EINVAL and the reason in err: the
 *	caller moves it to corrupt/ and logs. Any other errno (ENOENT,
 *	EACCES, EIO, ...) is not corruption: log and retry later. queue_file_mark_done() flips one recipient's
 *	status byte in place and fdatasyncs: from then on no restart
 *	delivers that recipient again. queue_file_mark_done_nosync()
 *	writes the same byte without the fdatasync: the caller either
 *	calls queue_file_sync() once for several flips (one sync per
 *	agent answer), or needs no durability at all because a repeated
 *	delivery of that recipient cannot duplicate (QUEUE.md, promise
 *	2). queue_file_syncs counts the fdatasyncs of queue files this
 *	process did (tests). queue_file_add_rcpt() appends a
 *	recipient produced by expanding recipient "parent" (alias
 *	expansion in qmgr), durable before it returns; a parent's
 *	children are found again after a crash, so a repeated expansion
 *	adds nothing (it returns 0 and the existing child keeps its
 *	status); queue_file_find_rcpt() gives the index of the recipient
 *	with that address and parent (-1 if none).
 *
 *	queue_move() renames queue_dir/from/id to queue_dir/to/id and
 *	fsyncs both directories. queue_scan() lists the complete queue
 *	files of a directory (temporary ".names" and invalid ids skipped),
 *	sorted (= by age), or NULL with errno. queue_clean_temp() removes
 *	temporary files older than max_age seconds and returns how many.
 *	queue_dirs_create() creates missing queue directories with the
 *	modes of QUEUE.md (chown when uid != (uid_t)-1).
 *
 *	The file pool (QUEUE.md, "The file pool"; queue_pool.c):
 *	queue_remove() takes the place of unlink() for the finished queue
 *	file qf (opened writable): a 0600 file of this user is renamed
 *	into pool/ (one over QUEUE_POOL_FILE_MAX under a hidden name
 *	first, emptied and named by queue_file_close(), which must then
 *	follow on the same qf) (at most queue_pool_set_limit()'s files, by default
 *	QUEUE_POOL_SLOTS; 0 turns the pool off), anything else is
 *	unlinked; its return is unlink()'s. queue_writer_new() takes a
 *	pool file for a 0600 temporary file when there is one
 *	(queue_pool_claim()) and creates one otherwise.
 *	queue_pool_prune() removes pool files unused for max_age seconds
 *	and those of slots above the limit.
 *
 *	Pickup: queue_writer_commit_pickup() renames the finished file
 *	to the temporary name .pickup.DROPID.ID (QUEUE_PICKUP_PREFIX) and
 *	syncs the directory; the caller then unlinks maildrop/DROPID,
 *	syncs maildrop/ and calls queue_pickup_finish() (rename to ID,
 *	sync). queue_pickup_recover(), run while no pickup is in flight,
 *	removes each .pickup file whose maildrop file still exists and
 *	finishes the others; it returns how many it finished.
 *	queue_pickup_parse() splits such a name (buffers of
 *	QUEUE_ID_MAX + 1; -1 when it is not one). queue_clean_temp()
 *	leaves .pickup files outside maildrop/ alone.
 *
 *	queue_log_append() appends one entry to queue_dir/log/id ("bounce"
 *	or "defer") and fdatasyncs it; queue_log_read() returns the
 *	entries, the last one per recipient index only, in index order
 *	(NULL, *count = 0 when there is no log).
 * DIAGNOSTICS
 *	Functions returning int give 0 on success and -1 with errno (and
 *	err where there is one) on failure. Nothing here exits.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <stddef.h>
#include <sys/types.h>

#define QUEUE_ID_MAX	32
#define QUEUE_LINE_MAX	(64 * 1024)	/* longest envelope record */
#define QUEUE_RCPT_MAX	1000000
#define QUEUE_TEMP_MAX_AGE	86400
#define QUEUE_PICKUP_PREFIX	".pickup."
#define QUEUE_POOL_SLOTS	8192	/* pool/: files kept, by default */
#define QUEUE_POOL_FILE_MAX	16384	/* larger ones pooled emptied */

struct strv;

/* DSN NOTIFY bits (RFC 3461); 0 means "not given" (default) */
#define QUEUE_NOTIFY_NEVER	(1 << 0)
#define QUEUE_NOTIFY_SUCCESS	(1 << 1)
#define QUEUE_NOTIFY_FAILURE	(1 << 2)
#define QUEUE_NOTIFY_DELAY	(1 << 3)

struct queue_writer;

struct queue_rcpt {
	char	*addr;
	char	*orcpt;		/* DSN ORCPT or original address, may be NULL */
	int	 notify;
	int	 done;
	long	 parent;	/* index of the expanded recipient, -1 = none */
	off_t	 offset;	/* of the status byte */
};

struct queue_file {
	int	 fd;
	char	*path;
	char	 id[QUEUE_ID_MAX + 1];
	long	 arrival;	/* seconds */
	long	 arrival_usec;
	long	 warn_time;	/* 0 = none or already sent */
	char	*sender;	/* "" = null sender */
	struct queue_attr {
		char	*name;
		char	*value;
	}	*attrs;
	size_t	 nattrs;
	struct queue_rcpt *rcpts;
	size_t	 nrcpts;
	off_t	 msg_offset;
	off_t	 msg_len;
	off_t	 warn_offset;	/* of the 20 W digits */
	off_t	 end_offset;	/* where the next appended record goes */
	int	 writable;
	char	*data;		/* a small file read whole, or NULL */
	char	*pool_tmp;	/* queue_remove() of a big file: to settle */
	char	*pool_dir;	/* ... back into this queue (queue_file_close) */
};

struct queue_log_entry {
	long	 index;		/* recipient index in the queue file */
	char	*recipient;
	char	*orig_rcpt;	/* may be NULL */
	char	*status;	/* enhanced status code, "5.1.1" */
	char	*action;	/* "failed" or "delayed" */
	char	*reason;
	long	 time;
};

struct queue_writer *queue_writer_new(const char *, const char *, char *,
	    size_t);
const char *queue_writer_id(const struct queue_writer *);
const char *queue_writer_path(const struct queue_writer *);
void	 queue_writer_sender(struct queue_writer *, const char *);
void	 queue_writer_attr(struct queue_writer *, const char *, const char *);
void	 queue_writer_trailer(struct queue_writer *, const char *,
	    const char *);
void	 queue_writer_rcpt(struct queue_writer *, const char *, const char *,
	    int);
int	 queue_writer_body(struct queue_writer *, const void *, size_t);
int	 queue_writer_finish(struct queue_writer *, char *, size_t);
int	 queue_writer_commit(struct queue_writer *, char *, size_t);
void	 queue_writer_abort(struct queue_writer *);
void	 queue_writer_warn(struct queue_writer *, long);
void	 queue_writer_nosync(struct queue_writer *);
void	 queue_writer_subdir(struct queue_writer *, const char *);
struct queue_rename {
	char	*tmp;		/* finished, under its temp name */
	char	*final;		/* the name the commit gives it */
	char	*data;		/* the file's bytes, or NULL: see above */
	size_t	 len;
};

int	 queue_sync_fs(const char *);
int	 queue_sync_fs_keep(const char *);
void	 queue_writer_later(struct queue_writer *, struct queue_rename *);
void	 queue_writer_copy(struct queue_writer *);
int	 queue_rename_commit(struct queue_rename *);
void	 queue_rename_abort(struct queue_rename *);
int	 queue_sync_dir(const char *, const char *);
int	 queue_writer_commit_pickup(struct queue_writer *, const char *,
	    char *, size_t);
int	 queue_pickup_finish(const char *, const char *, const char *,
	    const char *);
int	 queue_pickup_recover(const char *, const char *);
int	 queue_pickup_parse(const char *, char *, char *);

struct queue_file *queue_file_open(const char *, int, char *, size_t);
const char *queue_file_attr(const struct queue_file *, const char *);
const char *queue_file_msg(const struct queue_file *);
int	 queue_file_mark_done(struct queue_file *, size_t);
int	 queue_file_mark_done_nosync(struct queue_file *, size_t);
int	 queue_file_sync(struct queue_file *);
extern unsigned long queue_file_syncs;
int	 queue_file_set_warn(struct queue_file *, long);
int	 queue_file_add_rcpt(struct queue_file *, const char *, const char *,
	    int, size_t);
long	 queue_file_find_rcpt(const struct queue_file *, const char *, long);
void	 queue_file_close(struct queue_file *);

char	*queue_path(const char *, const char *, const char *);
int	 queue_id_valid(const char *);

int	 queue_move(const char *, const char *, const char *, const char *);
struct strv *queue_scan(const char *, const char *);
int	 queue_clean_temp(const char *, const char *, long);
struct stat;
int	 queue_unlink_if(const char *, const char *,
	    int (*)(const char *, const struct stat *, void *), void *);
int	 queue_remove(const char *, struct queue_file *);
void	 queue_pool_settle(struct queue_file *);
int	 queue_pool_prune(const char *, long);
void	 queue_pool_set_limit(unsigned);
int	 queue_pool_claim(const char *, const char *, int *, off_t *);
	    /* queue.c */
int	 queue_dirs_create(const char *, uid_t, gid_t, char *, size_t);

int	 queue_log_append(const char *, const char *, const char *,
	    const struct queue_log_entry *);
struct queue_log_entry *queue_log_read(const char *, const char *,
	    const char *, size_t *);
void	 queue_log_free(struct queue_log_entry *, size_t);

#endif
