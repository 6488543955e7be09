/*
 * NAME
 *	mime_conv - 8-bit MIME to 7-bit (quoted-printable) for a next hop
 *	without 8BITMIME
 * SYNOPSIS
 *	#include "mime_conv.h"
 *
 *	int	mime_conv_downgrade(const char *text, size_t len,
 *		    struct buf *out);
 * DESCRIPTION
 *	mime_conv_downgrade() appends to out the message text (headers,
 *	empty line, body; lines end in LF or CRLF, the last may have no
 *	LF) converted the way Postfix's smtp client converts it when the
 *	server does not announce 8BITMIME (RFC 6152 section 3: convert or
 *	return): every MIME entity whose Content-Transfer-Encoding is 8bit
 *	or binary gets a new header "Content-Transfer-Encoding:
 *	quoted-printable" (leaf entities, message/global) or "...: 7bit"
 *	(multipart, message/rfc822 and the other message types) after
 *	its headers, the old header is dropped, and a leaf's body is
 *	quoted-printable (RFC 2045 section 6.7: soft line breaks keep a
 *	line under 76 octets, a trailing space or tab is encoded).
 *	Multipart bodies are followed boundary by boundary (up to 100
 *	levels, boundaries compared on their first 2048 octets, as
 *	Postfix's mime_nesting_limit and mime_boundary_length_limit);
 *	message/rfc822 parts are parsed as nested messages. Entities
 *	without an 8bit/binary encoding (none, 7bit, base64,
 *	quoted-printable) pass unchanged, even if they hold 8-bit bytes
 *	(Postfix does the same: it converts what is labelled 8-bit, and
 *	headers are never encoded). Header names written "Name :" come
 *	out as "Name:". Every output line ends in LF.
 * DIAGNOSTICS
 *	Returns the number of entities converted (0: the text was copied
 *	unchanged but for line ends).
 * SEE ALSO
 *	RFC 2045, RFC 2046, RFC 6152; Postfix's mime_state(3).
 */
#ifndef MIME_CONV_H
#define MIME_CONV_H

#include <stddef.h>

#include "buf.h"

int	 mime_conv_downgrade(const char *, size_t, struct buf *);

#endif
