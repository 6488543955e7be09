/*
 * NAME
 *	dsn - RFC 3463 enhanced status codes in reply texts
 * SYNOPSIS
 *	See dsn.h.
 * DESCRIPTION
 *	The one parser of "X.Y.Z text" used by smtpd's access actions and
 *	cleanup's header/body_checks actions.
 */
#include <stdio.h>
#include <string.h>

#include "dsn.h"

/* dsn_split - split an optional "X.Y.Z " off the front of text */
const char *
dsn_split(const char *text, char *dsn, size_t len, const char *def)
{
	size_t	 n = strspn(text, "0123456789.");

	if (n >= 5 && n < len && (text[n] == ' ' || text[n] == 0)
	    && (text[0] == '4' || text[0] == '5') && text[1] == '.') {
		memcpy(dsn, text, n);
		dsn[n] = 0;
		text += n;
		return (text + strspn(text, " "));
	}
	snprintf(dsn, len, "%s", def);
	return (text);
}
