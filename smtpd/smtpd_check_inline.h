/*
 * NAME
 *	smtpd_check_inline - a policy stage answered on the event loop
 * SYNOPSIS
 *	#include "smtpd_check_inline.h"
 *
 *	int	smtpd_check_inline(int stage, struct smtpd_check_state *st,
 *	    struct buf *reply, int *result);
 *	int	smtpd_check_inline_ok(const struct smtpd_checker *c,
 *	    int stage);
 *	void	smtpd_check_inline_log(int keep);
 *	void	smtpd_check_inline_reset(void);
 * DESCRIPTION
 *	The restrictions run on policy worker threads because a mysql:
 *	lookup blocks. When every lookup a stage makes can be answered
 *	from the process's lookup cache (maps/map_cache.h), no thread is
 *	needed: smtpd_check_inline() tries the stage on the calling thread
 *	(the event loop) with the loop's own checker, the lookup cache in
 *	cache-only mode, and a copy of st. It returns 1 with *result and
 *	reply set (st updated) when the stage was answered; 0 when it
 *	must go to a worker as before (st and the log untouched): a
 *	lookup missed the cache, or the stage is not one
 *	smtpd_check_inline_ok() allows.
 *
 *	smtpd_check_inline_ok() (smtpd_check.c) allows MAIL, RCPT and
 *	DATA when the restriction lists that stage evaluates hold only
 *	restrictions that never block: no DNS, policy service, verify or
 *	restriction classes; check_{client,helo,sender,recipient}_access
 *	only with a table the loop may read (hash, lmdb, btree, texthash,
 *	cidr, regexp, pcre, inline, static, or mysql through the cache);
 *	see sc_inline_list_ok(). What a table answers is checked again as
 *	it runs: a restriction outside that set sends the stage to the
 *	worker as a cache miss does.
 *
 *	A try logs nothing while it runs: what smtpd_check() would log
 *	there (a reject, HOLD, WARN ... with its metrics_reject, or a
 *	warning) is kept in order, per thread. smtpd_check_inline_log()
 *	(smtpd_check.c) ends a try: with keep set it logs those lines
 *	(and counts the rejects) as the worker would have, same text, same
 *	order; without, it drops them, and the worker that runs the stage
 *	again logs them once. smtpd_check_inline() calls it; a caller of
 *	smtpd_check() in cache-only mode must too.
 *
 *	smtpd_check_inline_reset() drops the loop's checker; the next try
 *	makes one from the configuration then in force (tests).
 * DIAGNOSTICS
 *	None; a try that cannot finish falls back to the worker.
 */
#ifndef SMTPD_CHECK_INLINE_H
#define SMTPD_CHECK_INLINE_H

#include "buf.h"
#include "smtpd_check.h"

int	 smtpd_check_inline(int, struct smtpd_check_state *, struct buf *,
	    int *);
int	 smtpd_check_inline_ok(const struct smtpd_checker *, int);
void	 smtpd_check_inline_log(int);
void	 smtpd_check_inline_reset(void);

#endif
