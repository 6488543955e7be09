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
 *	void	queue_writer_sender(struct queue_writer *w, const char *s);
 *	void	queue_writer_attr(struct queue_writer *w, const char *name,
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
 *	Reader (qmgr, delivery agents, postqueue):
 *	struct queue_file *queue_file_open(const char *path, int writable,
 *	    char *err, size_t errlen);
 *	int	queue_file_mark_done(struct queue_file *qf, size_t rcpt);
 *	int	queue_file_set_warn(struct queue_file *qf, long when);
 *	int	queue_file_add_rcpt(struct queue_file *qf, const char *addr,
 *	    const char *orcpt, int notify, size_t parent);
 *	void	queue_file_close(struct queue_file *qf);
 *
 *	char	*queue_path(const char *queue_dir, const char *subdir,
 *	    const char *id);
 *	int	queue_id_valid(const char *id);
 * DESCRIPTION
 *	QUEUE.md at the top of the tree is the specification of the
 *	directories, the file format, the state table and the crash
 *	recovery rule for each state; this header is its API.
 *
 *	Writing a message: queue_writer_new() creates a temporary file
 *	under queue_dir/subdir (normally "incoming") with a fresh queue id;
 *	the envelope calls may come in any order before the first
 *	queue_writer_body(); body bytes are the message with LF line
 *	endings (SMTP dot-stuffing and CRLF already undone by the caller).
 *	queue_writer_finish() completes the records and fsyncs the file;
 *	queue_writer_commit() renames it to its queue id, the commit point.
 *	Durability of the rename needs the directory synced: a caller
 *	that acknowledges many messages calls queue_sync_dir() once for
 *	the batch (group commit) before any 250. Both finish and commit
 *	block on the disk: call them from a worker thread. abort unlinks
 *	the temporary file; finish/commit failures leave nothing behind.
 *
 *	Reading: queue_file_open() parses the envelope (the message is
 *	left on disk: msg_offset/msg_len say where). A file that does not
 *	parse returns NULL with the reason in err: the caller moves it to
 *	corrupt/ and logs. queue_file_mark_done() flips one recipient's
 *	status byte in place and fdatasyncs: from then on no restart
 *	delivers that recipient again. queue_file_add_rcpt() appends a
 *	recipient produced by expanding recipient "parent" (alias
 *	expansion in qmgr), durable before it returns; a parent's
 *	children are found again after a crash, so a repeated expansion
 *	adds nothing.
 * DIAGNOSTICS
 *	Functions returning int give 0 on success and -1 with errno (and
 *	err where there is one) on failure. Nothing here exits.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <stddef.h>
#include <sys/types.h>

#define QUEUE_ID_MAX	32

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
	off_t	 warn_offset;
};

struct queue_writer *queue_writer_new(const char *, const char *, char *,
	    size_t);
const char *queue_writer_id(const struct queue_writer *);
void	 queue_writer_sender(struct queue_writer *, const char *);
void	 queue_writer_attr(struct queue_writer *, const char *, const char *);
void	 queue_writer_rcpt(struct queue_writer *, const char *, const char *,
	    int);
int	 queue_writer_body(struct queue_writer *, const void *, size_t);
int	 queue_writer_finish(struct queue_writer *, char *, size_t);
int	 queue_writer_commit(struct queue_writer *, char *, size_t);
void	 queue_writer_abort(struct queue_writer *);
int	 queue_sync_dir(const char *, const char *);

struct queue_file *queue_file_open(const char *, int, char *, size_t);
const char *queue_file_attr(const struct queue_file *, const char *);
int	 queue_file_mark_done(struct queue_file *, size_t);
int	 queue_file_set_warn(struct queue_file *, long);
int	 queue_file_add_rcpt(struct queue_file *, const char *, const char *,
	    int, size_t);
void	 queue_file_close(struct queue_file *);

char	*queue_path(const char *, const char *, const char *);
int	 queue_id_valid(const char *);

#endif
