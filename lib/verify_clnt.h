/*
 * NAME
 *	verify_clnt - client of the address verification service
 * SYNOPSIS
 *	#include "verify_clnt.h"
 *
 *	char	*verify_clnt_path(void);
 *	int	verify_clnt_query(const char *path, const char *addr,
 *	    int *status, char *text, size_t len, int timeout);
 *	int	verify_clnt_update(const char *path, const char *addr,
 *	    int status, const char *text, int timeout);
 * DESCRIPTION
 *	The verify service (verify/verify.c) listens on
 *	$queue_directory/private/$address_verify_service_name;
 *	verify_clnt_path() gives that path (caller frees; read conf where
 *	conf may be read). Protocol (lib/attr.h lists, one request and
 *	one reply per connection):
 *
 *	  version=1, request=query, address=ADDR
 *	  reply: status=0, addr_status=N, reason=TEXT
 *	  version=1, request=update, address=ADDR, addr_status=N,
 *	  reason=TEXT
 *	  reply: status=0
 *
 *	N is VERIFY_STAT_OK (0, deliverable), _DEFER (1), _BOUNCE (2,
 *	undeliverable) or _TODO (3, unknown: a probe is on its way), as
 *	Postfix's DEL_RCPT_STAT_*. A query of an unknown or stale address
 *	makes the service send a probe (a queue file with the attribute
 *	verify_probe=1, QUEUE.md); qmgr sends the update when the probe's
 *	recipient has an outcome.
 *
 *	Both calls block (connect, write, read, each within timeout
 *	seconds): call them from a worker thread, never an event loop.
 * DIAGNOSTICS
 *	0 on success; -1 when the service cannot be reached or answers
 *	malformed (a warning is logged; smtpd then applies
 *	unverified_*_tempfail_action).
 */
#ifndef VERIFY_CLNT_H
#define VERIFY_CLNT_H

#include <stddef.h>

#define VERIFY_STAT_OK		0
#define VERIFY_STAT_DEFER	1
#define VERIFY_STAT_BOUNCE	2
#define VERIFY_STAT_TODO	3

char	*verify_clnt_path(void);
int	 verify_clnt_query(const char *, const char *, int *, char *, size_t,
	    int);
int	 verify_clnt_update(const char *, const char *, int, const char *,
	    int);

#endif
