/*
 * NAME
 *	dsn - RFC 3463 enhanced status codes in reply texts
 * SYNOPSIS
 *	#include "dsn.h"
 *
 *	const char *dsn_split(const char *text, char *dsn, size_t len,
 *	    const char *def);
 * DESCRIPTION
 *	dsn_split() splits an optional leading "X.Y.Z " off the text of an
 *	access(5) action or a header/body_checks REJECT/DEFER ("REJECT
 *	5.7.1 go away"), as Postfix's dsn_split() does: the code is copied
 *	into dsn (len bytes) and the text after it and its spaces is
 *	returned. Without such a code, def is copied into dsn and text is
 *	returned as it is. A code is a run of digits and dots, at least 5
 *	long and shorter than len, starting "4." or "5.", followed by a
 *	space or the end of the text.
 *
 *	The caller decides the class: smtpd and cleanup force the first
 *	digit to match the reply code they send.
 * DIAGNOSTICS
 *	None; text that does not start with a code keeps the default.
 */
#ifndef DSN_H
#define DSN_H

#include <stddef.h>

const char *dsn_split(const char *, char *, size_t, const char *);

#endif
