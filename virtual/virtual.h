/*
 * NAME
 *	virtual.h - the virtual(8) delivery agent's private interface
 * SYNOPSIS
 *	#include "virtual.h"
 *
 *	void	virtual_cfg_load(struct virtual_cfg *cfg);
 *	struct virtual_maps *virtual_maps_open(const struct virtual_cfg *cfg);
 *	void	virtual_maps_close(struct virtual_maps *m);
 *	char	*virtual_msg_buf(struct virtual_maps *m, size_t len);
 *	void	virtual_request(const struct virtual_cfg *cfg,
 *	    struct virtual_maps *m, const struct attr_list *req,
 *	    struct buf *resp);
 *	struct virtual_batch *virtual_batch_new(void);
 *	void	virtual_deliver(const struct virtual_cfg *cfg,
 *	    struct virtual_maps *m, const struct queue_file *qf,
 *	    const char *msg, const char *rcpt, long index, int retry,
 *	    struct virtual_batch *b, struct virtual_result *res);
 *	void	virtual_batch_commit(struct virtual_batch *b);
 *	void	virtual_batch_free(struct virtual_batch *b);
 * DESCRIPTION
 *	virtual_request() serves one lib/deliver.h request: it opens the
 *	queue file, delivers each recipient with virtual_deliver(), logs
 *	the Postfix "to=<...>, relay=virtual, ... status=" line for each,
 *	and writes the answer list into resp. It blocks on the disk and on
 *	the maps: it runs on a worker thread with that thread's maps.
 *
 *	virtual_msg_buf() is a buffer of at least len bytes that belongs
 *	to m (one worker thread's), kept until the next call or
 *	virtual_maps_close(): the message of a request, read once.
 *
 *	virtual_deliver() is one Maildir delivery (see virtual_deliver.c
 *	for the rules): msg points at qf's msg_len message bytes. retry=0
 *	(qmgr's rcpt.N.retry=0: never handed to an agent before) skips the
 *	look for an earlier copy. A delivery that wrote a file is only
 *	pending in b (res says deferred until then): virtual_batch_commit()
 *	makes the batch durable with the other threads' batches (lib/
 *	gsync.h: one syncfs for the files, renames, one for the renames)
 *	and only then sets those results; res must live until then.
 * DIAGNOSTICS
 *	Every failure is a result (deferred or bounced with a status and a
 *	reason); nothing here exits.
 */
#ifndef VIRTUAL_H
#define VIRTUAL_H

#include <sys/types.h>

#include "attr.h"
#include "buf.h"
#include "queue.h"

struct virtual_cfg {
	char	*queue_dir;
	char	*base;		/* virtual_mailbox_base */
	char	*mailbox_maps;
	char	*uid_maps;
	char	*gid_maps;
	char	*hostname;	/* myhostname, Maildir-safe */
	char	*delimiter;	/* recipient_delimiter */
	long	 minimum_uid;
	long	 mailbox_limit;	/* 0 = none */
};

struct virtual_maps;

struct virtual_result {
	const char *action;	/* DELIVER_ACTION_* */
	char	 status[16];	/* "2.0.0" */
	char	 reason[512];
	int	 exactly_once;	/* Maildir: a retry cannot duplicate */
};

struct virtual_batch;

void	 virtual_cfg_load(struct virtual_cfg *);
void	 virtual_cfg_free(struct virtual_cfg *);
struct virtual_maps *virtual_maps_open(const struct virtual_cfg *);
void	 virtual_maps_close(struct virtual_maps *);
char	*virtual_msg_buf(struct virtual_maps *, size_t);
void	 virtual_request(const struct virtual_cfg *, struct virtual_maps *,
	    const struct attr_list *, struct buf *);
struct virtual_batch *virtual_batch_new(void);
void	 virtual_deliver(const struct virtual_cfg *, struct virtual_maps *,
	    const struct queue_file *, const char *, const char *, long, int,
	    struct virtual_batch *, struct virtual_result *);
void	 virtual_batch_commit(struct virtual_batch *);
void	 virtual_batch_free(struct virtual_batch *);

#endif
