/*
 * NAME
 *	virtual.h - the virtual(8) delivery agent's private interface
 * SYNOPSIS
 *	#include "virtual.h"
 *
 *	void	virtual_cfg_load(struct virtual_cfg *cfg);
 *	struct virtual_maps *virtual_maps_open(const struct virtual_cfg *cfg);
 *	void	virtual_maps_close(struct virtual_maps *m);
 *	void	virtual_request(const struct virtual_cfg *cfg,
 *	    struct virtual_maps *m, const struct attr_list *req,
 *	    struct buf *resp);
 *	void	virtual_deliver(const struct virtual_cfg *cfg,
 *	    struct virtual_maps *m, const struct queue_file *qf,
 *	    const char *msg, const char *rcpt, long index,
 *	    struct virtual_result *res);
 * DESCRIPTION
 *	virtual_request() serves one lib/deliver.h request: it opens the
 *	queue file, delivers each recipient with virtual_deliver(), logs
 *	the Postfix "to=<...>, relay=virtual, ... status=" line for each,
 *	and writes the answer list into resp. It blocks on the disk and on
 *	the maps: it runs on a worker thread with that thread's maps.
 *
 *	virtual_deliver() is one Maildir delivery (see virtual_deliver.c
 *	for the rules): msg points at qf's msg_len message bytes.
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
};

void	 virtual_cfg_load(struct virtual_cfg *);
void	 virtual_cfg_free(struct virtual_cfg *);
struct virtual_maps *virtual_maps_open(const struct virtual_cfg *);
void	 virtual_maps_close(struct virtual_maps *);
void	 virtual_request(const struct virtual_cfg *, struct virtual_maps *,
	    const struct attr_list *, struct buf *);
void	 virtual_deliver(const struct virtual_cfg *, struct virtual_maps *,
	    const struct queue_file *, const char *, const char *, long,
	    struct virtual_result *);

#endif
