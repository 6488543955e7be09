/*
 * NAME
 *	buf - growable, binary-safe byte buffers
 * SYNOPSIS
 *	#include "buf.h"
 *
 *	struct buf *buf_new(size_t hint);
 *	void	buf_free(struct buf *b);
 *	void	buf_reset(struct buf *b);
 *	void	buf_truncate(struct buf *b, size_t len);
 *	void	buf_append(struct buf *b, const void *data, size_t len);
 *	void	buf_puts(struct buf *b, const char *s);
 *	void	buf_putc(struct buf *b, int c);
 *	void	buf_printf(struct buf *b, const char *fmt, ...);
 *	void	buf_vprintf(struct buf *b, const char *fmt, va_list ap);
 *	char	*buf_steal(struct buf *b);
 *	BUF_STR(b), BUF_LEN(b)
 * DESCRIPTION
 *	A buf keeps its length, may hold NUL bytes, and is always
 *	NUL-terminated so BUF_STR() can be used as a C string when the
 *	content is text. Appends grow the buffer as needed; callers that
 *	read from the network enforce their own ceilings before appending.
 *	buf_steal() returns the storage (caller frees) and frees the buf.
 * DIAGNOSTICS
 *	Out of memory is fatal (xalloc).
 */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_STR(b)	((b)->data)
#define BUF_LEN(b)	((b)->len)

struct buf *buf_new(size_t);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_truncate(struct buf *, size_t);
void	 buf_append(struct buf *, const void *, size_t);
void	 buf_puts(struct buf *, const char *);
void	 buf_putc(struct buf *, int);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vprintf(struct buf *, const char *, va_list);
char	*buf_steal(struct buf *);

#endif
