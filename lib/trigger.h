/*
 * NAME
 *	trigger - wakeup requests to a daemon's socket (Postfix's triggers)
 * SYNOPSIS
 *	#include "trigger.h"
 *
 *	int	trigger_send(const char *path, const char *request,
 *	    int wait_ms, char *err, size_t errlen);
 *	int	trigger_qmgr(const char *queue_dir, const char *request,
 *	    int wait_ms, char *err, size_t errlen);
 *	int	trigger_keep(const char *path, const char *request,
 *	    char *err, size_t errlen);
 *	int	trigger_qmgr_keep(const char *queue_dir, const char *request,
 *	    char *err, size_t errlen);
 *	size_t	trigger_parse(const char *data, size_t len,
 *	    trigger_fn *fn, void *ctx);
 * DESCRIPTION
 *	A trigger is a connection to a daemon's unix stream socket that
 *	carries a few request bytes and nothing else: the client connects,
 *	writes, and closes without waiting for an answer. It only asks the
 *	daemon to look now at what it would find by itself later (the
 *	queue files are already durable), so a lost trigger costs latency,
 *	never mail. Postfix calls these triggers (mail_trigger(3)); master
 *	sends one to every unix, fifo and pass service with a wakeup time.
 *
 *	The qmgr socket is $queue_directory/public/qmgr. Its grammar, one
 *	connection carrying any sequence of requests, at most TRIGGER_MAX
 *	bytes acted on per read:
 *
 *	  W		TRIGGER_WAKEUP: new mail in incoming/ or maildrop/
 *	  F		TRIGGER_FLUSH: scan incoming/ and retry the whole
 *			deferred queue now (postern flush, postqueue -f)
 *	  I<id>		TRIGGER_FLUSH_ID: retry one deferred message now
 *			(postqueue -i); the id is 1 to QUEUE_ID_MAX letters
 *			or digits and ends at the first other byte; an "I"
 *			without an id is ignored
 *
 *	Any other byte (a newline, NUL, 8-bit) is ignored, so "W\n" and
 *	"WWW" are valid: a daemon that is woken twice scans twice, no
 *	harm done. Requests are not acknowledged. Other daemons that
 *	master wakes act on the connection alone and ignore the bytes.
 *
 *	trigger_send() connects to path without blocking and writes
 *	request. If the listener's backlog is full it retries the connect
 *	for up to wait_ms milliseconds (0: never waits, for an event loop
 *	or a worker that must not stall). SIGPIPE is never raised.
 *	trigger_qmgr() is trigger_send() to queue_dir/public/qmgr.
 *
 *	trigger_keep() sends request on a connection the process keeps
 *	open (one per process, to the last path given; made on first use
 *	like trigger_send() with wait_ms 0), for a client that wakes
 *	qmgr after every few messages (smtpd): one send() instead of
 *	socket, connect, send and close, and no accept, epoll_ctl and
 *	close in the daemon. It never blocks: when the socket buffer is
 *	full the request is dropped and 0 returned (the daemon has
 *	unread requests, so it will look anyway). When the daemon went
 *	away (EPIPE, ECONNRESET, ENOTCONN: a restarted qmgr, or one that
 *	closed the connection after its idle time) it connects once more
 *	and sends again. Requests should be one byte ("W", "F"): a short
 *	write closes the connection rather than leave half a request.
 *	Threads share the one descriptor under a mutex rather than keep
 *	one each: smtpd's callers (its group commit, one at a time, and
 *	postmaster notices) rarely meet, so the lock costs no system
 *	call, while a connection per thread would cost qmgr one
 *	descriptor, accept and epoll entry per worker of every smtpd. A
 *	process must not fork() while a thread is in trigger_keep(); the
 *	descriptor is close-on-exec. trigger_qmgr_keep() is
 *	trigger_keep() to queue_dir/public/qmgr.
 *
 *	trigger_parse() is the daemon's side: it calls fn once per request
 *	found in data, in order, with the request byte and, for
 *	TRIGGER_FLUSH_ID, the id (NUL-terminated; NULL otherwise). It
 *	returns the number of requests. An id split across two reads is
 *	seen as two requests (clients write a request in one send).
 * DIAGNOSTICS
 *	trigger_send() and trigger_qmgr() return 0 when the request was
 *	written to the socket, -1 with a message in err otherwise (no
 *	socket, nobody listening, path too long, backlog full past
 *	wait_ms). They never log; the caller decides how much it matters.
 *	trigger_keep() and trigger_qmgr_keep() likewise, and return 0
 *	too for a request dropped on a full socket buffer.
 * SEE ALSO
 *	qmgr/qmgr.c (the listener), master/master_spawn.c (wakeup timers),
 *	smtpd/smtpd_queue.c, queuecmd/queue_cmd.c, master/postern.c (clients).
 */
#ifndef TRIGGER_H
#define TRIGGER_H

#include <stddef.h>

#define TRIGGER_WAKEUP		'W'
#define TRIGGER_FLUSH		'F'
#define TRIGGER_FLUSH_ID	'I'

#define TRIGGER_REQ_WAKEUP	"W"
#define TRIGGER_REQ_FLUSH	"F"

#define TRIGGER_MAX		4096	/* bytes acted on per read */
#define TRIGGER_QMGR_PATH	"public/qmgr"	/* under queue_directory */

typedef void trigger_fn(int request, const char *id, void *ctx);

int	 trigger_send(const char *, const char *, int, char *, size_t);
int	 trigger_qmgr(const char *, const char *, int, char *, size_t);
int	 trigger_keep(const char *, const char *, char *, size_t);
int	 trigger_qmgr_keep(const char *, const char *, char *, size_t);
size_t	 trigger_parse(const char *, size_t, trigger_fn *, void *);

#endif
