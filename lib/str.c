/*
 * NAME
 *	str - small string helpers and string vectors
 * DESCRIPTION
 *	See str.h.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "str.h"
#include "xalloc.h"

/* str_token - next token, Postfix mystrtok() semantics */
char *
str_token(char **cp, const char *delims)
{
	char	*start = *cp + strspn(*cp, delims);
	char	*end;

	if (*start == 0) {
		*cp = start;
		return (NULL);
	}
	end = start + strcspn(start, delims);
	if (*end)
		*end++ = 0;
	*cp = end;
	return (start);
}

/* str_tokq - next token, {...} groups whole: Postfix mystrtokq() */
char *
str_tokq(char **cp, const char *delims)
{
	char	*start = *cp + strspn(*cp, delims);
	char	*s;
	size_t	 level = 0;

	if (*start == 0) {
		*cp = start;
		return (NULL);
	}
	for (s = start; *s; s++) {
		if (*s == '{')
			level++;
		else if (*s == '}' && level > 0)
			level--;
		else if (level == 0 && strchr(delims, *s)) {
			*s++ = 0;
			break;
		}
	}
	*cp = s;
	return (start);
}

/* str_balanced - every '}' closes an earlier '{', every '{' is closed */
int
str_balanced(const char *s)
{
	size_t	 level = 0;

	for (; *s; s++) {
		if (*s == '{')
			level++;
		else if (*s == '}' && level-- == 0)
			return (0);
	}
	return (level == 0);
}

/* str_trim - strip leading and trailing whitespace in place */
char *
str_trim(char *s)
{
	char	*end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = 0;
	return (s);
}

/* str_lower - fold ASCII to lower case in place */
char *
str_lower(char *s)
{
	char	*p;

	for (p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return (s);
}

/* str_ends_with - suffix test */
int
str_ends_with(const char *s, const char *suffix)
{
	size_t	 n = strlen(s), m = strlen(suffix);

	return (n >= m && strcmp(s + n - m, suffix) == 0);
}

/* str_parse_long - whole decimal number, nothing else */
int
str_parse_long(const char *s, long *out)
{
	char	*end;
	long	 v;

	if (s == NULL || *s == 0)
		return (-1);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end)
		return (-1);
	*out = v;
	return (0);
}

/* str_parse_time - Postfix time value with optional unit suffix */
int
str_parse_time(const char *s, int default_unit, long *out)
{
	char	*end;
	long	 v, mul;
	int	 unit;

	if (s == NULL || !isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno)
		return (-1);
	unit = *end ? *end : default_unit;
	if (*end && end[1])
		return (-1);
	switch (unit) {
	case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 604800; break;
	default: return (-1);
	}
	if (v > LONG_MAX / mul)
		return (-1);
	*out = v * mul;
	return (0);
}

/* str_parse_bool - yes/no and friends */
int
str_parse_bool(const char *s, int *out)
{
	static const char *yes[] = {"yes", "true", "on", "1", NULL};
	static const char *no[] = {"no", "false", "off", "0", NULL};
	int	 i;

	for (i = 0; s && yes[i]; i++)
		if (strcasecmp(s, yes[i]) == 0)
			return (*out = 1, 0);
	for (i = 0; s && no[i]; i++)
		if (strcasecmp(s, no[i]) == 0)
			return (*out = 0, 0);
	return (-1);
}

/* strv_new - empty vector */
struct strv *
strv_new(void)
{
	struct strv *v = xcalloc(1, sizeof(*v));

	v->cap = 8;
	v->argv = xcalloc(v->cap, sizeof(char *));
	return (v);
}

/* strv_add - append a copy */
void
strv_add(struct strv *v, const char *s)
{
	if (v->argc + 1 >= v->cap) {
		v->cap *= 2;
		v->argv = xrealloc(v->argv, v->cap * sizeof(char *));
	}
	v->argv[v->argc++] = xstrdup(s);
	v->argv[v->argc] = NULL;
}

/* strv_free - free vector and strings; NULL is fine */
void
strv_free(struct strv *v)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < v->argc; i++)
		free(v->argv[i]);
	free(v->argv);
	free(v);
}

/* strv_tokens - every token next() finds in a copy of s */
static struct strv *
strv_tokens(const char *s, const char *delims,
    char *(*next)(char **, const char *))
{
	struct strv *v = strv_new();
	char	*copy = xstrdup(s ? s : ""), *cp = copy, *tok;

	while ((tok = next(&cp, delims)) != NULL)
		strv_add(v, tok);
	free(copy);
	return (v);
}

/* strv_split - tokens of s separated by any of delims */
struct strv *
strv_split(const char *s, const char *delims)
{
	return (strv_tokens(s, delims, str_token));
}

/* strv_splitq - tokens of s, {...} groups whole (str_tokq) */
struct strv *
strv_splitq(const char *s, const char *delims)
{
	return (strv_tokens(s, delims, str_tokq));
}

/* strv_join - one string with sep between elements */
char *
strv_join(const struct strv *v, const char *sep)
{
	struct buf *b = buf_new(64);
	size_t	 i;

	for (i = 0; i < v->argc; i++) {
		if (i)
			buf_puts(b, sep);
		buf_puts(b, v->argv[i]);
	}
	return (buf_steal(b));
}

/* str_pct_put - append s, '%' and the bytes in also as %XX */
void
str_pct_put(struct buf *b, const char *s, const char *also)
{
	static const char hexdig[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '%' || strchr(also, *p)) {
			buf_putc(b, '%');
			buf_putc(b, hexdig[*p >> 4]);
			buf_putc(b, hexdig[*p & 15]);
		} else
			buf_putc(b, *p);
	}
}

/* hexval - value of one hex digit, -1 if none */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* str_pct_get - undo %XX escapes of len bytes; NULL if malformed */
char *
str_pct_get(const char *s, size_t len, size_t *outlen)
{
	char	*out = xmalloc(len + 1);
	size_t	 i, o = 0;
	int	 h, l;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len || (h = hexval((unsigned char)s[i + 1])) < 0
		    || (l = hexval((unsigned char)s[i + 2])) < 0) {
			free(out);
			return (NULL);
		}
		out[o++] = (char)(h * 16 + l);
		i += 2;
	}
	out[o] = 0;
	if (outlen)
		*outlen = o;
	return (out);
}
