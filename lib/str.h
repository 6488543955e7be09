/*
 * NAME
 *	str - small string helpers and string vectors
 * SYNOPSIS
 *	#include "str.h"
 *
 *	char	*str_token(char **cp, const char *delims);
 *	char	*str_tokq(char **cp, const char *delims);
 *	int	str_balanced(const char *s);
 *	char	*str_trim(char *s);
 *	char	*str_lower(char *s);
 *	int	str_ends_with(const char *s, const char *suffix);
 *	int	str_parse_time(const char *s, int default_unit, long *out);
 *	int	str_parse_long(const char *s, long *out);
 *	int	str_parse_bool(const char *s, int *out);
 *
 *	struct strv *strv_new(void);
 *	void	strv_add(struct strv *v, const char *s);
 *	void	strv_free(struct strv *v);
 *	struct strv *strv_split(const char *s, const char *delims);
 *	struct strv *strv_splitq(const char *s, const char *delims);
 *	char	*strv_join(const struct strv *v, const char *sep);
 *
 *	void	str_pct_put(struct buf *b, const char *s, const char *also);
 *	char	*str_pct_get(const char *s, size_t len, size_t *outlen);
 * DESCRIPTION
 *	str_token() is Postfix's mystrtok(): skip leading delimiters,
 *	return the next token (terminated in place) and advance *cp, or
 *	NULL at the end. STR_LIST_DELIMS are the separators of Postfix
 *	list-valued parameters (comma and whitespace).
 *
 *	str_tokq() is Postfix's mystrtokq() with "{}" as the parens: like
 *	str_token(), but a delimiter inside a {...} group does not split,
 *	so "a, { b c }, d" gives "a", "{ b c }", "d". A '}' without an
 *	open '{' is an ordinary character; a '{' never closed extends the
 *	token to the end of the text. Empty tokens never occur. This is
 *	the one list splitter of main.cf lists, restriction lists, map
 *	lists and inline: tables. str_balanced() tells whether every '}'
 *	closes an earlier '{' and every '{' is closed (Postfix's balpar()
 *	test for a whole "{...}" text).
 *
 *	str_parse_time() reads Postfix time values: a number with an
 *	optional unit s, m, h, d or w; default_unit applies to a bare
 *	number ('s' for most parameters). str_parse_bool() accepts
 *	yes/no/true/false/on/off/1/0.
 *
 *	str_pct_put() appends s to b with '%' and every byte in also
 *	written as %XX (upper-case hex); str_pct_get() decodes len bytes of
 *	such text (hex in either case, any byte may be escaped, %00 too)
 *	into a new string and sets *outlen (if not NULL) to its length.
 *	This is the one %XX codec of the attribute-list IPC (lib/attr.h)
 *	and of queue files (QUEUE.md); each passes its own also set.
 *
 *	A strv is a growable NULL-terminated array of owned strings.
 *	strv_split() and strv_splitq() collect str_token() and str_tokq()
 *	over a copy of s (NULL is the empty list).
 * DIAGNOSTICS
 *	The parse functions return -1 on malformed input or overflow.
 *	str_pct_get() returns NULL for a '%' not followed by two hex
 *	digits.
 */
#ifndef STR_H
#define STR_H

#include <stddef.h>

struct buf;

#define STR_LIST_DELIMS	", \t\r\n"

struct strv {
	char	**argv;
	size_t	 argc;
	size_t	 cap;
};

char	*str_token(char **, const char *);
char	*str_tokq(char **, const char *);
int	 str_balanced(const char *);
char	*str_trim(char *);
char	*str_lower(char *);
int	 str_ends_with(const char *, const char *);
int	 str_parse_time(const char *, int, long *);
int	 str_parse_long(const char *, long *);
int	 str_parse_bool(const char *, int *);

struct strv *strv_new(void);
void	 strv_add(struct strv *, const char *);
void	 strv_free(struct strv *);
struct strv *strv_split(const char *, const char *);
struct strv *strv_splitq(const char *, const char *);
char	*strv_join(const struct strv *, const char *);

void	 str_pct_put(struct buf *, const char *, const char *);
char	*str_pct_get(const char *, size_t, size_t *);

#endif
