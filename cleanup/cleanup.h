/*
 * NAME
 *	cleanup - Postfix's cleanup(8), folded in: rewrite, check, enqueue
 * SYNOPSIS
 *	#include "cleanup.h"
 *
 *	struct cleanup_maps *cleanup_maps_new(void);
 *	void	cleanup_maps_free(struct cleanup_maps *m);
 *	int	cleanup_message(struct cleanup_maps *m,
 *	    const struct cleanup_input *in, struct cleanup_result *out);
 *
 *	struct cleanup_stream *cleanup_stream_open(struct cleanup_maps *m,
 *	    const struct cleanup_input *in, struct cleanup_result *out);
 *	void	cleanup_stream_write(struct cleanup_stream *st,
 *	    struct cleanup_maps *m, const char *p, size_t len);
 *	int	cleanup_stream_close(struct cleanup_stream *st,
 *	    struct cleanup_maps *m);
 *	void	cleanup_stream_abort(struct cleanup_stream *st);
 * DESCRIPTION
 *	Blocking code for a worker thread, with that thread's maps
 *	(canonical_maps, sender_canonical_maps, recipient_canonical_maps,
 *	header_checks, body_checks, opened from the current parameters).
 *
 *	cleanup_message() takes a whole message (LF line endings,
 *	dot-stuffing already undone) and its envelope, and:
 *	  - rewrites the envelope sender (sender_canonical_maps, then
 *	    canonical_maps) and recipients (recipient_canonical_maps,
 *	    canonical_maps), and the From/Sender/To/Cc/Reply-To/... headers
 *	    the same way (canonical_classes defaults);
 *	  - runs header_checks on each (unfolded) header and body_checks
 *	    on each body line: REJECT, DEFER, WARN, INFO, DISCARD, IGNORE,
 *	    HOLD, PREPEND (a header or line before the matched one) and
 *	    REPLACE (the text instead; a replaced header is then rewritten
 *	    like the original would have been);
 *	  - prepends in->received, or (when it is NULL) the Received:
 *	    header built from the envelope attributes client_address,
 *	    client_name, helo_name, protocol (sasl_username, tls_info, uid
 *	    when given), unless CLEANUP_FLAG_NO_RECEIVED; for local
 *	    submissions (CLEANUP_FLAG_LOCAL:
 *	    sendmail, authenticated submission) adds Message-ID:, Date:
 *	    and From: when missing;
 *	  - writes the queue file (lib/queue.h) into queue_dir/incoming,
 *	    fsyncs it and renames it to its queue id. The directory sync
 *	    (group commit) is left to the caller: queue_sync_dir().
 *	    With CLEANUP_FLAG_PICKUP the file is instead renamed to the
 *	    temporary .pickup.<in->pickup_id>.<queue id> and its directory
 *	    synced (queue_writer_commit_pickup()); the caller completes
 *	    the commit with queue_pickup_finish() (QUEUE.md, state S1).
 *	The same as a stream, for a message that arrives in pieces (smtpd
 *	DATA): cleanup_stream_open() rewrites the envelope and begins the
 *	queue file (incoming/.ID, in->begun is called with the id), each
 *	cleanup_stream_write() passes the next bytes (cut anywhere) through
 *	the header and body logic into the file, cleanup_stream_close()
 *	ends it (hop count, commit as above) and returns the result;
 *	cleanup_stream_abort() removes the unfinished file. Each call may
 *	run on a different worker thread, with that thread's maps m (in
 *	and out must live until close or abort). The stream holds one line
 *	and one header, each at most header_size_limit bytes (Postfix
 *	discards the excess of a longer header; a longer body line is
 *	checked by body_checks in pieces), whatever the message size.
 *	cleanup_message() is open, one write, close.
 *	Actions decided by smtpd's access tables (smtpd_check.h) come in
 *	as CLEANUP_FLAG_HOLD (the file goes to hold/, as a header_checks
 *	HOLD), CLEANUP_FLAG_DISCARD (the message is read and dropped:
 *	CLEANUP_DISCARD), in->prepend (headers before the Received:
 *	header, as Postfix's smtpd writes them) and in->filter (FILTER).
 *	After-queue content filter and BCC (cleanup_bcc.c): the queue file
 *	gets "A content_filter=transport:nexthop" from in->filter or the
 *	content_filter parameter (qmgr then sends every recipient there),
 *	and always_bcc, sender_bcc_maps and recipient_bcc_maps add
 *	recipients with NOTIFY=NEVER. receive_override_options come in as
 *	CLEANUP_FLAG_NO_MAPS (no canonical rewriting, no BCC) and
 *	CLEANUP_FLAG_NO_HBC (no header_checks, no body_checks).
 *	Results: CLEANUP_OK (queue_id set; with hold set when a HOLD
 *	action put it in hold/ instead), CLEANUP_DISCARD (nothing queued,
 *	the client still gets 250 with the queue id, which the discard
 *	log line carries, as in Postfix), CLEANUP_REJECT (reply "550 5.7.1
 *	..."), CLEANUP_DEFER (map or disk trouble: reply "451 4.3.0 ...").
 *	Every outcome is logged with the queue id (when one exists).
 * DIAGNOSTICS
 *	As above; never exits.
 */
#ifndef CLEANUP_H
#define CLEANUP_H

#include <stddef.h>

#include "queue.h"

#define CLEANUP_OK	0
#define CLEANUP_DISCARD	1
#define CLEANUP_REJECT	2
#define CLEANUP_DEFER	3

#define CLEANUP_FLAG_LOCAL	(1 << 0)	/* add missing headers */
#define CLEANUP_FLAG_NO_RECEIVED (1 << 1)	/* add no Received: */
#define CLEANUP_FLAG_NOSYNC	(1 << 2)	/* no fsync: the caller makes a
						 * batch durable with
						 * queue_sync_fs() before any
						 * 250 (smtpd group commit) */
#define CLEANUP_FLAG_PICKUP	(1 << 3)	/* commit as .pickup.DROPID.ID
						 * (in->pickup_id): the caller
						 * unlinks the maildrop file,
						 * then queue_pickup_finish() */
#define CLEANUP_FLAG_HOLD	(1 << 4)	/* smtpd access HOLD: hold/ */
#define CLEANUP_FLAG_DISCARD	(1 << 5)	/* smtpd access DISCARD */
#define CLEANUP_FLAG_NO_MAPS	(1 << 6)	/* no canonical, no BCC
						 * (no_address_mappings) */
#define CLEANUP_FLAG_NO_HBC	(1 << 7)	/* no header/body_checks
						 * (no_header_body_checks) */

struct cleanup_rcpt {
	const char *addr;
	const char *orcpt;		/* DSN ORCPT, may be NULL */
	int	 notify;		/* QUEUE_NOTIFY_* */
};

struct cleanup_input {
	const char *queue_dir;
	const char *sender;		/* "" = null sender */
	const struct cleanup_rcpt *rcpts;
	size_t	 nrcpts;
	const char *const *attrs;	/* name, value, ..., NULL */
	const char *message;		/* LF line endings */
	size_t	 message_len;
	int	 flags;
	const char *received;		/* complete Received: header
					 * (without trailing LF), or NULL:
					 * cleanup builds it from attrs
					 * (client_address, client_name,
					 * helo_name, protocol, ...) unless
					 * CLEANUP_FLAG_NO_RECEIVED */
	const char *prepend;		/* headers (each ending in LF) put
					 * before the Received: header
					 * (smtpd access PREPEND), or NULL */
	const char *filter;		/* smtpd access FILTER
					 * transport:nexthop, or NULL:
					 * content_filter (the "A
					 * content_filter" record) */
	const char *log_prefix;		/* "client[addr]" for logs */
	struct queue_rename *later;	/* or NULL: the commit's rename is
					 * left here, the caller's group
					 * commit renames
					 * (queue_writer_later()) */
	const char *pickup_id;		/* maildrop id, CLEANUP_FLAG_PICKUP */
	void	(*begun)(void *, const char *);	/* called with the queue id
						 * when the file is begun,
						 * before any cleanup line
						 * (smtpd logs client=) */
	void	*begun_ctx;
};

struct cleanup_result {
	char	 queue_id[QUEUE_ID_MAX + 1];
	int	 hold;
	char	 reply[512];		/* for REJECT/DEFER */
};

struct cleanup_maps;

struct cleanup_maps *cleanup_maps_new(void);
void	 cleanup_maps_free(struct cleanup_maps *);
int	 cleanup_message(struct cleanup_maps *, const struct cleanup_input *,
	    struct cleanup_result *);

struct cleanup_stream;

struct cleanup_stream *cleanup_stream_open(struct cleanup_maps *,
	    const struct cleanup_input *, struct cleanup_result *);
void	 cleanup_stream_write(struct cleanup_stream *, struct cleanup_maps *,
	    const char *, size_t);
int	 cleanup_stream_close(struct cleanup_stream *, struct cleanup_maps *);
void	 cleanup_stream_abort(struct cleanup_stream *);

#endif
