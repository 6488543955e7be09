/*
 * NAME
 *	xalloc - memory allocation that cannot fail silently
 * SYNOPSIS
 *	#include "xalloc.h"
 *
 *	void	*xmalloc(size_t len);
 *	void	*xcalloc(size_t n, size_t len);
 *	void	*xrealloc(void *ptr, size_t len);
 *	char	*xstrdup(const char *s);
 *	char	*xstrndup(const char *s, size_t len);
 *	char	*xasprintf(const char *fmt, ...);
 * DESCRIPTION
 *	These wrappers either return usable memory or do not return at
 *	all: on allocation failure they log a fatal error and exit, and
 *	master restarts the process. xstrdup(NULL) returns NULL.
 * DIAGNOSTICS
 *	Fatal error on out-of-memory or on a size that overflows.
 * SEE ALSO
 *	log(3)
 */
#ifndef XALLOC_H
#define XALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
