/*
 * NAME
 *	cleanup_int - cleanup's formatting helpers (tests, other callers)
 * SYNOPSIS
 *	#include "cleanup_int.h"
 *
 *	void	cleanup_format_date(time_t when, char *out, size_t len);
 *	void	cleanup_format_received(struct buf *out,
 *	    const char *const *attrs, const char *myhostname,
 *	    const char *queue_id, const char *rcpt, const char *date,
 *	    int auth_header);
 *	char	*cleanup_rewrite_addr(struct cleanup_maps *m,
 *	    const char *addr, int sender, int header);
 *	int	cleanup_rewrite_header(struct cleanup_maps *m,
 *	    const char *hdr, size_t len, int sender, struct buf *out);
 * DESCRIPTION
 *	cleanup_format_date(): RFC 5322 "Wed, 25 Nov 2026 19:00:00 +0000
 *	(UTC)" in local time. cleanup_format_received(): Postfix's
 *	Received: header without the final newline, from the envelope
 *	attributes client_address, client_name, helo_name, protocol,
 *	sasl_username (with auth_header), tls_info, or "uid" for local
 *	submissions; "for <rcpt>" only when rcpt is given (one recipient).
 *	cleanup_rewrite_addr(): class map then canonical_maps (a new
 *	string; NULL on map trouble). cleanup_rewrite_header(): rewrite
 *	every address of an address header into out (1 changed, 0 not,
 *	-1 map trouble).
 */
#ifndef CLEANUP_INT_H
#define CLEANUP_INT_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

struct cleanup_maps;

void	 cleanup_format_date(time_t, char *, size_t);
void	 cleanup_format_received(struct buf *, const char *const *,
	    const char *, const char *, const char *, const char *, int);
char	*cleanup_rewrite_addr(struct cleanup_maps *, const char *, int, int);
int	 cleanup_rewrite_header(struct cleanup_maps *, const char *, size_t,
	    int, struct buf *);

#endif
