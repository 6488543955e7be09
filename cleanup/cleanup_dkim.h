/*
 * NAME
 *	cleanup_dkim - DKIM signing of the queue file cleanup writes
 * SYNOPSIS
 *	#include "cleanup_dkim.h"
 *
 *	struct cleanup_dkim_maps *cleanup_dkim_maps_new(void);
 *	void	cleanup_dkim_maps_free(struct cleanup_dkim_maps *m);
 *
 *	struct cleanup_dkim *cleanup_dkim_new(struct cleanup_dkim_maps *m,
 *	    const struct cleanup_input *in);
 *	void	cleanup_dkim_data(struct cleanup_dkim *d, const char *p,
 *	    size_t len);
 *	int	cleanup_dkim_headers(struct cleanup_dkim *d,
 *	    struct buf *pending, const char *id);
 *	int	cleanup_dkim_commit(struct cleanup_dkim *d,
 *	    const char *path, const char *id, int sync,
 *	    char *err, size_t errlen);
 *	int	cleanup_dkim_signs(const struct cleanup_dkim *d);
 *	void	cleanup_dkim_free(struct cleanup_dkim *d);
 * DESCRIPTION
 *	cleanup_dkim_maps_new() reads dkim_signing, dkim_signing_table,
 *	dkim_key_table, dkim_signed_headers and mynetworks for this
 *	thread (NULL when signing is off or there is no signing table).
 *	cleanup_dkim_new() returns NULL for mail that is not signed: it
 *	is signed only when it comes from an authenticated client (the
 *	sasl_username attribute), a client in mynetworks (client_address),
 *	or a local submission (no client_address: sendmail, pickup).
 *	cleanup_dkim_data() sees every message byte as it goes to the
 *	queue file. cleanup_dkim_headers() is called where the header
 *	block ends (pending: the bytes not yet written, to which the
 *	DKIM-Signature header with placeholders is appended): the From:
 *	address is looked up in the signing table (user@domain, @domain,
 *	*@domain, domain), the key name in the key table
 *	(domain:selector:/path/to/key.pem); nothing is added when a
 *	DKIM-Signature with the same d= and s= is already there (a milter
 *	signed). cleanup_dkim_commit() is called after the file is
 *	complete and before it is renamed (path: its temporary name,
 *	queue_writer_path()): the body hash and signature
 *	are written over the placeholders (same length), then the file is
 *	fsynced when sync is set. cleanup_dkim_signs() says whether it
 *	will write into the file (the caller's copy of the file's bytes,
 *	queue_writer_copy(), would then be stale).
 * DIAGNOSTICS
 *	cleanup_dkim_headers() returns -1 for a table lookup problem or a
 *	key that cannot be used (unsafe mode, unreadable, bad value), with
 *	a warning logged: the caller defers the message (451 4.3.0), as
 *	OpenDKIM's default tempfail does, rather than send it unsigned.
 *	cleanup_dkim_commit() returns -1 with err set on I/O trouble.
 */
#ifndef CLEANUP_DKIM_H
#define CLEANUP_DKIM_H

#include <stddef.h>

#include "buf.h"
#include "cleanup.h"

struct cleanup_dkim_maps;
struct cleanup_dkim;

struct cleanup_dkim_maps *cleanup_dkim_maps_new(void);
void	 cleanup_dkim_maps_free(struct cleanup_dkim_maps *);
struct cleanup_dkim *cleanup_dkim_new(struct cleanup_dkim_maps *,
	    const struct cleanup_input *);
void	 cleanup_dkim_data(struct cleanup_dkim *, const char *, size_t);
int	 cleanup_dkim_headers(struct cleanup_dkim *, struct buf *,
	    const char *);
int	 cleanup_dkim_commit(struct cleanup_dkim *, const char *, const char *,
	    int, char *, size_t);
int	 cleanup_dkim_signs(const struct cleanup_dkim *);
void	 cleanup_dkim_free(struct cleanup_dkim *);

#endif
