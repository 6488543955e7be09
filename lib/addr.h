/*
 * NAME
 *	addr - RFC 5321 envelope address parsing and helpers
 * SYNOPSIS
 *	#include "addr.h"
 *
 *	int	addr_parse_path(const char *arg, char **addr, char **params,
 *	    char *err, size_t errlen);
 *	int	addr_valid_mailbox(const char *addr);
 *	const char *addr_domain(const char *addr);
 *	char	*addr_localpart(const char *addr);
 *	int	addr_split_ext(const char *addr, const char *delims,
 *	    char **base, char **ext);
 *	int	addr_valid_hostname(const char *name);
 *	int	addr_is_fqdn(const char *name);
 *	int	addr_is_ip_literal(const char *name);
 *	int	addr_match_cidr(const char *addr, const char *net);
 * DESCRIPTION
 *	addr_parse_path() takes what follows "MAIL FROM:" or "RCPT TO:"
 *	(with or without one space, as Postfix tolerates), i.e.
 *	"<user@domain> PARAM=x ...", and returns the address without the
 *	angle brackets (a source route "@a,@b:" is dropped, "<>" gives
 *	""), unquoted where the quoting was unnecessary, and the ESMTP
 *	parameters as a separate string. Missing brackets, unbalanced <>,
 *	a NUL, CR or LF, malformed UTF-8, an address over RFC 5321's
 *	254/64/255 limits are rejected with a message fit for a
 *	"501 5.1.7 Bad sender/recipient address syntax" reply. Well-formed
 *	UTF-8 (RFC 6531/6532) is accepted in the local part and the domain
 *	(a U-label counts as letters); whether the client declared
 *	SMTPUTF8 is the caller's question.
 *
 *	addr_domain() returns the part after the last '@' (or "" when
 *	there is none); addr_localpart() a copy of the part before it.
 *	addr_split_ext() splits "user+ext@dom" at the first character of
 *	recipient_delimiter found in the local part: base "user@dom", ext
 *	"ext"; returns 0 when there is no extension.
 *	addr_valid_mailbox() accepts a UTF-8 domain as well.
 *	addr_valid_hostname(): letters, digits, '-', '.', labels 1-63,
 *	total <= 255, not all-numeric TLD (Postfix valid_hostname()).
 *	addr_is_fqdn(): has a dot and is a valid hostname.
 *	addr_is_ip_literal(): "[1.2.3.4]" or "[IPv6:...]".
 *	addr_match_cidr(): 1 if the numeric address is inside net
 *	("192.0.2.0/24", "[2001:db8::]/32", "2001:db8::/32", or a single
 *	address; an IPv4-mapped IPv6 address counts as IPv4), 0 if not,
 *	-1 if either is malformed (mynetworks, permit_mynetworks).
 * DIAGNOSTICS
 *	addr_parse_path() returns -1 with err set on malformed input.
 */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>

int	 addr_parse_path(const char *, char **, char **, char *, size_t);
int	 addr_valid_mailbox(const char *);
const char *addr_domain(const char *);
char	*addr_localpart(const char *);
int	 addr_split_ext(const char *, const char *, char **, char **);
int	 addr_valid_hostname(const char *);
int	 addr_is_fqdn(const char *);
int	 addr_is_ip_literal(const char *);
int	 addr_match_cidr(const char *, const char *);

#endif
