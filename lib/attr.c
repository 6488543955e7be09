/*
 * NAME
 *	attr - attribute lists: the IPC format between postern processes
 * SYNOPSIS
 *	See attr.h.
 * DESCRIPTION
 *	Encoder, incremental parser and blocking read/write helpers for
 *	"name=value\n" lists ended by an empty line. In values only '%',
 *	CR, LF and NUL are escaped (%25 %0D %0A %00); a decoder accepts
 *	any %XX (hex, either case) so that a writer escaping more is still
 *	understood. Names are [a-z0-9_.]+ and are never escaped.
 *
 *	A parsed list is sorted by name (stable) so attr_get() is a binary
 *	search; with duplicate names the first one in the input wins.
 * DIAGNOSTICS
 *	attr_parse(): NULL + empty err = incomplete; NULL + err = malformed
 *	(raw NUL or CR, a line without '=', a bad name, a bad %-escape) or
 *	larger than ATTR_MAX_LIST. attr_read(): NULL + err on EOF, timeout,
 *	I/O error or a malformed list. attr_write(): -1 with errno
 *	(ETIMEDOUT on timeout).
 * SEE ALSO
 *	deliver.h, the protocol carried in these lists.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "sock.h"
#include "str.h"
#include "xalloc.h"

struct attr {
	char	*name;
	char	*value;
	size_t	 seq;
};

struct attr_list {
	struct attr *v;
	size_t	 n;
};

/* attr_put - append name=value, value escaped */
void
attr_put(struct buf *out, const char *name, const char *value)
{
	buf_puts(out, name);
	buf_putc(out, '=');
	str_pct_put(out, value ? value : "", "\r\n");
	buf_putc(out, '\n');
}

/* attr_put_long - append name=number */
void
attr_put_long(struct buf *out, const char *name, long value)
{
	buf_printf(out, "%s=%ld\n", name, value);
}

/* attr_end - terminate the list */
void
attr_end(struct buf *out)
{
	buf_putc(out, '\n');
}

/* attr_cmp - order by name, then by input position */
static int
attr_cmp(const void *a, const void *b)
{
	const struct attr *x = a, *y = b;
	int	 c = strcmp(x->name, y->name);

	if (c)
		return (c);
	return (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* attr_bad - fill err, free the partial list */
static struct attr_list *
attr_bad(struct attr_list *l, char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	attr_list_free(l);
	return (NULL);
}

/* attr_line - parse one non-empty line into l; -1 + why on error */
static int
attr_line(struct attr_list *l, const char *s, size_t len, const char **why)
{
	const char *eq = memchr(s, '=', len);
	const char *p;
	char	*value;
	size_t	 vlen;

	if (eq == NULL || eq == s) {
		*why = eq ? "empty attribute name" : "attribute without '='";
		return (-1);
	}
	for (p = s; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
		    || *p == '_' || *p == '.')) {
			*why = "bad attribute name";
			return (-1);
		}
	for (p = eq + 1; p < s + len; p++)
		if (*p == 0 || *p == '\r') {
			*why = "unescaped NUL or CR in attribute value";
			return (-1);
		}
	if ((value = str_pct_get(eq + 1, len - (size_t)(eq + 1 - s),
	    &vlen)) == NULL) {
		*why = "bad %-escape in attribute value";
		return (-1);
	}
	if (strlen(value) != vlen) {
		free(value);
		*why = "NUL byte in attribute value";
		return (-1);
	}
	if ((l->n & (l->n - 1)) == 0)	/* 0, 1, 2, 4, ...: double */
		l->v = xrealloc(l->v, (l->n ? l->n * 2 : 1) * sizeof(*l->v));
	l->v[l->n].name = xstrndup(s, (size_t)(eq - s));
	l->v[l->n].value = value;
	l->v[l->n].seq = l->n;
	l->n++;
	return (0);
}

/* attr_parse - parse one complete list from data, or ask for more */
struct attr_list *
attr_parse(const char *data, size_t len, size_t *used, char *err,
    size_t errlen)
{
	struct attr_list *l = xcalloc(1, sizeof(*l));
	const char *p = data, *end = data + len, *nl;
	const char *why;

	*used = 0;
	if (errlen)
		err[0] = 0;
	while (p < end) {
		if ((size_t)(p - data) >= ATTR_MAX_LIST)
			return (attr_bad(l, err, errlen,
			    "attribute list too large"));
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (nl == p) {
			*used = (size_t)(nl + 1 - data);
			if (l->n > 1)
				qsort(l->v, l->n, sizeof(*l->v), attr_cmp);
			return (l);
		}
		if (attr_line(l, p, (size_t)(nl - p), &why) < 0)
			return (attr_bad(l, err, errlen, why));
		p = nl + 1;
	}
	if (len > ATTR_MAX_LIST)
		return (attr_bad(l, err, errlen, "attribute list too large"));
	if (memchr(p, 0, (size_t)(end - p)) != NULL)
		return (attr_bad(l, err, errlen,
		    "unescaped NUL in attribute list"));
	attr_list_free(l);
	return (NULL);
}

/* attr_find - index of the first attribute called name, or -1 */
static long
attr_find(const struct attr_list *l, const char *name)
{
	size_t	 lo = 0, hi = l ? l->n : 0, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(l->v[mid].name, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (l && lo < l->n && strcmp(l->v[lo].name, name) == 0)
		return ((long)lo);
	return (-1);
}

/* attr_get - the value of name, or NULL */
const char *
attr_get(const struct attr_list *l, const char *name)
{
	long	 i = attr_find(l, name);

	return (i < 0 ? NULL : l->v[i].value);
}

/* attr_get_long - a decimal value; -1 if missing or malformed */
int
attr_get_long(const struct attr_list *l, const char *name, long *value)
{
	const char *s = attr_get(l, name);

	/* no leading space or '+', which strtol() would take */
	if (s == NULL || (*s != '-' && (*s < '0' || *s > '9')))
		return (-1);
	return (str_parse_long(s, value));
}

/* attr_list_free - release a list; NULL is fine */
void
attr_list_free(struct attr_list *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	free(l);
}

/* attr_read - read one list from fd, blocking up to timeout seconds */
struct attr_list *
attr_read(int fd, int timeout, char *err, size_t errlen)
{
	struct buf *in = buf_new(4096);
	struct attr_list *l = NULL;
	time_t	 deadline = time(NULL) + (timeout > 0 ? timeout : 1);
	char	 chunk[8192];
	size_t	 used;
	ssize_t	 n;

	for (;;) {
		if (sock_wait(fd, POLLIN, deadline) < 0) {
			snprintf(err, errlen, "%s", errno == ETIMEDOUT ?
			    "timeout reading attribute list" : strerror(errno));
			break;
		}
		if ((n = read(fd, chunk, sizeof(chunk))) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(err, errlen, "read: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			snprintf(err, errlen, "unexpected EOF");
			break;
		}
		buf_append(in, chunk, (size_t)n);
		if ((l = attr_parse(BUF_STR(in), BUF_LEN(in), &used, err,
		    errlen)) != NULL || err[0])
			break;
	}
	buf_free(in);
	return (l);
}

/* attr_write - write a whole list to fd, blocking up to timeout seconds */
int
attr_write(int fd, const struct buf *out, int timeout)
{
	time_t	 deadline = time(NULL) + (timeout > 0 ? timeout : 1);
	size_t	 off = 0;
	ssize_t	 n;
	int	 sock = 1;

	while (off < BUF_LEN(out)) {
		if (sock_wait(fd, POLLOUT, deadline) < 0)
			return (-1);
		if (sock) {
			n = send(fd, BUF_STR(out) + off, BUF_LEN(out) - off,
			    MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				sock = 0;
				continue;
			}
		} else
			n = write(fd, BUF_STR(out) + off, BUF_LEN(out) - off);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return (-1);
		}
		off += (size_t)n;
	}
	return (0);
}
