/*
 * NAME
 *	utf8 - UTF-8 validation and safe printing
 * SYNOPSIS
 *	See utf8.h.
 * DESCRIPTION
 *	The table of RFC 3629 section 4: the second byte's range depends on
 *	the first (E0: A0..BF, ED: 80..9F, F0: 90..BF, F4: 80..8F), which is
 *	what keeps out overlong forms, surrogates and code points past
 *	U+10FFFF; C0, C1 and F5..FF never occur.
 * DIAGNOSTICS
 *	None: every input has an answer.
 * SEE ALSO
 *	RFC 3629, Postfix valid_utf8_string()
 */
#include <string.h>

#include "utf8.h"

/* utf8_seq_len - the length of the well-formed sequence at s, or 0 */
size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t	 n, i;

	if (len == 0)
		return (0);
	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return (0);
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return (0);
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return (0);
	return (n);
}

/* utf8_valid - is s[0..len) well-formed UTF-8? */
int
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t	 i = 0, n;

	while (i < len) {
		if ((n = utf8_seq_len(p + i, len - i)) == 0)
			return (0);
		i += n;
	}
	return (1);
}

/* utf8_allascii - no byte with the high bit */
int
utf8_allascii(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return (0);
	return (1);
}

/* utf8_printable - printable ASCII and whole UTF-8 kept, the rest '?' */
char *
utf8_printable(const char *s, size_t len, size_t max, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t	 i = 0, o = 0, n;

	while (i < len && p[i] && o < max) {
		n = utf8_seq_len(p + i, len - i);
		if (n > 1 && !(p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			/* U+0080..U+009F are C1 controls: '?' */
			if (o + n > max)
				break;
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
			continue;
		}
		out[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
		i++;
	}
	out[o] = 0;
	return (out);
}
