/*
 * NAME
 *	buf - growable, binary-safe byte buffers
 * DESCRIPTION
 *	See buf.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "xalloc.h"

/* buf_grow - make room for len more bytes plus the terminator */
static void
buf_grow(struct buf *b, size_t len)
{
	size_t	 need;

	if (len > ((size_t)-1) / 2 - b->len)
		log_panic("buf_grow: size overflow");
	need = b->len + len + 1;
	if (need <= b->cap)
		return;
	while (b->cap < need)
		b->cap = b->cap ? b->cap * 2 : 64;
	b->data = xrealloc(b->data, b->cap);
}

/* buf_new - create an empty buffer */
struct buf *
buf_new(size_t hint)
{
	struct buf *b = xcalloc(1, sizeof(*b));

	b->cap = hint ? hint + 1 : 64;
	b->data = xmalloc(b->cap);
	b->data[0] = 0;
	return (b);
}

/* buf_free - destroy a buffer; NULL is fine */
void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	free(b);
}

/* buf_reset - empty the buffer, keep the storage */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->data[0] = 0;
}

/* buf_truncate - shorten to len bytes */
void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = 0;
	}
}

/* buf_append - append len bytes */
void
buf_append(struct buf *b, const void *data, size_t len)
{
	buf_grow(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
}

/* buf_puts - append a C string */
void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* buf_putc - append one byte */
void
buf_putc(struct buf *b, int c)
{
	buf_grow(b, 1);
	b->data[b->len++] = (char)c;
	b->data[b->len] = 0;
}

/* buf_vprintf - append formatted text */
void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 aq;
	int	 n;

	va_copy(aq, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, aq);
	va_end(aq);
	if (n < 0)
		log_panic("buf_vprintf: bad format");
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

/* buf_printf - append formatted text */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* buf_steal - take the storage and free the wrapper */
char *
buf_steal(struct buf *b)
{
	char	*p = b->data;

	free(b);
	return (p);
}
