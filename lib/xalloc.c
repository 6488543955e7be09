/*
 * NAME
 *	xalloc - memory allocation that cannot fail silently
 * DESCRIPTION
 *	See xalloc.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

/* xmalloc - allocate or die */
void *
xmalloc(size_t len)
{
	void	*p;

	if ((p = malloc(len ? len : 1)) == NULL)
		log_fatal("out of memory allocating %zu bytes", len);
	return (p);
}

/* xcalloc - allocate zeroed memory or die */
void *
xcalloc(size_t n, size_t len)
{
	void	*p;

	if ((p = calloc(n ? n : 1, len ? len : 1)) == NULL)
		log_fatal("out of memory allocating %zu x %zu bytes", n, len);
	return (p);
}

/* xrealloc - resize or die */
void *
xrealloc(void *ptr, size_t len)
{
	void	*p;

	if ((p = realloc(ptr, len ? len : 1)) == NULL)
		log_fatal("out of memory reallocating %zu bytes", len);
	return (p);
}

/* xstrdup - copy a string or die; NULL stays NULL */
char *
xstrdup(const char *s)
{
	return (s ? xstrndup(s, strlen(s)) : NULL);
}

/* xstrndup - copy at most len bytes and terminate */
char *
xstrndup(const char *s, size_t len)
{
	char	*p;
	size_t	 n;

	for (n = 0; n < len && s[n]; n++)
		;
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return (p);
}

/* xasprintf - format into new memory or die */
char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		log_fatal("out of memory formatting a string");
	va_end(ap);
	return (p);
}
