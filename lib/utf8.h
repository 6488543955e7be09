/*
 * NAME
 *	utf8 - UTF-8 validation and safe printing (RFC 3629, RFC 6531)
 * SYNOPSIS
 *	#include "utf8.h"
 *
 *	int	utf8_valid(const char *s, size_t len);
 *	int	utf8_allascii(const char *s, size_t len);
 *	size_t	utf8_seq_len(const unsigned char *s, size_t len);
 *	char	*utf8_printable(const char *s, size_t len, size_t max,
 *	    char *out);
 * DESCRIPTION
 *	utf8_valid() is 1 when s[0..len) is well-formed UTF-8 as Postfix's
 *	valid_utf8_string() has it: no overlong forms, no surrogates
 *	(U+D800..U+DFFF), nothing above U+10FFFF, no stray continuation
 *	byte, no truncated sequence. ASCII (NUL included) is valid.
 *
 *	utf8_allascii() is 1 when no byte has the high bit set.
 *
 *	utf8_seq_len() is the length (1-4) of the well-formed sequence at
 *	s, or 0 when s does not start one (len > 0).
 *
 *	utf8_printable() copies at most max bytes of s into out (which has
 *	room for max + 1) for a log line or a listing: printable ASCII and
 *	well-formed multi-byte UTF-8 sequences (U+00A0 and up: never a C1
 *	control) are kept, every other byte becomes '?'. A sequence that
 *	does not fit whole is cut before it. Returns out.
 * SEE ALSO
 *	RFC 3629 section 4, RFC 6532 section 3.1
 */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

int	 utf8_valid(const char *, size_t);
int	 utf8_allascii(const char *, size_t);
size_t	 utf8_seq_len(const unsigned char *, size_t);
char	*utf8_printable(const char *, size_t, size_t, char *);

#endif
