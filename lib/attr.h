/*
 * NAME
 *	attr - attribute lists: the IPC format between postern processes
 * SYNOPSIS
 *	#include "attr.h"
 *
 *	void	attr_put(struct buf *out, const char *name, const char *value);
 *	void	attr_put_long(struct buf *out, const char *name, long value);
 *	void	attr_end(struct buf *out);
 *
 *	struct attr_list *attr_parse(const char *data, size_t len,
 *	    size_t *used, char *err, size_t errlen);
 *	const char *attr_get(const struct attr_list *l, const char *name);
 *	int	attr_get_long(const struct attr_list *l, const char *name,
 *	    long *value);
 *	void	attr_list_free(struct attr_list *l);
 *
 *	struct attr_list *attr_read(int fd, int timeout, char *err,
 *	    size_t errlen);
 *	int	attr_write(int fd, const struct buf *out, int timeout);
 * DESCRIPTION
 *	A list is a sequence of "name=value\n" lines ended by an empty
 *	line. Names are [a-z0-9_.]+. In values the bytes '%', CR, LF and
 *	NUL are written as %25, %0D, %0A, %00, so any value survives; no
 *	other quoting exists ("don't parse"). The first attribute of every
 *	request is version=ATTR_VERSION.
 *
 *	attr_parse() returns NULL with *used == 0 and err empty when the
 *	data holds no complete list yet (read more), a list when it does
 *	(*used bytes consumed), and NULL with err set when the data is
 *	malformed or exceeds ATTR_MAX_LIST bytes: one connection's loss,
 *	never a crash. attr_read()/attr_write() are the blocking versions
 *	for simple clients (timeout in seconds); attr_read() may consume
 *	bytes that follow the list, so use it where one list per direction
 *	is the whole conversation (lib/deliver.h). A parsed list is sorted
 *	by name; with duplicate names attr_get() returns the first one
 *	sent. A value cannot contain NUL (%00 is rejected as malformed):
 *	values are C strings.
 * DIAGNOSTICS
 *	As above; attr_read() returns NULL with err on EOF, timeout or a
 *	malformed list; attr_write() returns -1 with errno.
 */
#ifndef ATTR_H
#define ATTR_H

#include <stddef.h>

#include "buf.h"

#define ATTR_VERSION	"1"
#define ATTR_MAX_LIST	(1024 * 1024)

struct attr_list;

void	 attr_put(struct buf *, const char *, const char *);
void	 attr_put_long(struct buf *, const char *, long);
void	 attr_end(struct buf *);
struct attr_list *attr_parse(const char *, size_t, size_t *, char *, size_t);
const char *attr_get(const struct attr_list *, const char *);
int	 attr_get_long(const struct attr_list *, const char *, long *);
void	 attr_list_free(struct attr_list *);
struct attr_list *attr_read(int, int, char *, size_t);
int	 attr_write(int, const struct buf *, int);

#endif
