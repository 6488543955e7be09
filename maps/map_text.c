/*
 * NAME
 *	map_text - read Postfix map source text (postmap, postalias,
 *	texthash:)
 * SYNOPSIS
 *	See map_int.h.
 * DESCRIPTION
 *	A logical line is a line that does not start with whitespace plus
 *	every following line that does (continuation). Lines whose first
 *	non-blank character is '#' are skipped, also between a line and
 *	its continuation (an indented comment); an empty line ends a
 *	logical line. Trailing whitespace and CR are removed. A NUL byte
 *	inside a line makes the line malformed (it cannot be a key).
 *
 *	MAP_TEXT_KV: "key whitespace value", where the key may be in
 *	double quotes to hold whitespace (\" and \\ inside, as Postfix 3.2).
 *	MAP_TEXT_ALIAS: "name: value" where name may be in double quotes;
 *	the value is kept as written (the comma list) after trimming.
 * DIAGNOSTICS
 *	Malformed lines are logged as warnings "file, line N: ..." and
 *	counted; the caller decides whether a count > 0 matters.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "map_int.h"
#include "str.h"
#include "xalloc.h"

/* map_text_physical - one physical line without the newline; -1 at EOF */
static int
map_text_physical(FILE *fp, struct buf *line, int *has_nul)
{
	int	 c;

	buf_reset(line);
	*has_nul = 0;
	while ((c = getc(fp)) != EOF && c != '\n') {
		if (c == 0)
			*has_nul = 1;
		buf_putc(line, c);
	}
	if (c == EOF && BUF_LEN(line) == 0)
		return (-1);
	while (BUF_LEN(line) > 0 && isspace((unsigned char)
	    BUF_STR(line)[BUF_LEN(line) - 1]))
		buf_truncate(line, BUF_LEN(line) - 1);
	return (0);
}

/* map_text_blank - empty or comment line */
static int
map_text_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return (*s == 0 || *s == '#');
}

/*
 * map_text_logical - the next logical line; 0 at EOF. *lineno counts
 * physical lines read so far, *first gets the number of the logical
 * line's first physical line. A line holding a NUL byte is replaced
 * by a single NUL so the caller can report it.
 */
int
map_text_logical(FILE *fp, struct buf *out, int *lineno, int *first)
{
	struct buf *line = buf_new(256);
	int	 nul, have = 0, bad = 0, c;

	buf_reset(out);
	for (;;) {
		/* Peek: a continuation line starts with whitespace. */
		c = getc(fp);
		if (c == EOF)
			break;
		ungetc(c, fp);
		if (have && c != ' ' && c != '\t')
			break;
		if (map_text_physical(fp, line, &nul) < 0)
			break;
		(*lineno)++;
		if (map_text_blank(BUF_STR(line)))
			continue;
		if (nul)
			bad = 1;
		if (!have) {
			*first = *lineno;
			have = 1;
		}
		buf_append(out, BUF_STR(line), BUF_LEN(line));
	}
	buf_free(line);
	if (bad) {
		buf_reset(out);
		buf_putc(out, 0);
	}
	return (have);
}

/* map_text_quoted - "key with \" and \\" in place; end or NULL */
static char *
map_text_quoted(char *s)
{
	char	*in = s + 1, *out = s;

	for (; *in && *in != '"'; in++) {
		if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
			in++;
		*out++ = *in;
	}
	if (*in != '"')
		return (NULL);
	*out = 0;
	return (in + 1);
}

/* map_text_kv - split "key value" in place; -1 if malformed */
static int
map_text_kv(char *s, char **key, char **value)
{
	char	*cp;

	s = str_trim(s);
	if (*s == '"') {
		/* Postfix 3.2: a quoted key may hold whitespace. */
		if ((cp = map_text_quoted(s)) == NULL || *s == 0
		    || (*cp != ' ' && *cp != '\t'))
			return (-1);
		*key = s;
		*value = str_trim(cp);
		return (**value ? 0 : -1);
	}
	cp = s + strcspn(s, " \t");
	if (*cp == 0 || cp == s)
		return (-1);
	*cp++ = 0;
	*key = s;
	*value = str_trim(cp);
	return (**value ? 0 : -1);
}

/* map_text_alias - split "name: value" in place; -1 if malformed */
static int
map_text_alias(char *s, char **key, char **value)
{
	char	*cp;

	s = str_trim(s);
	if (*s == '"') {
		if ((cp = strchr(s + 1, '"')) == NULL || cp[1] != ':')
			return (-1);
		*cp = 0;
		*key = s + 1;
		cp += 2;
	} else {
		if ((cp = strchr(s, ':')) == NULL)
			return (-1);
		*cp++ = 0;
		*key = str_trim(s);
	}
	*value = str_trim(cp);
	return (**key && **value ? 0 : -1);
}

/* map_text_read - parse a map source file; returns malformed count */
int
map_text_read(FILE *fp, const char *file, int how, map_text_fn *fn,
    void *ctx)
{
	struct buf *b = buf_new(256);
	int	 lineno = 0, at, bad = 0;
	char	*key, *value;

	for (;;) {
		if (!map_text_logical(fp, b, &lineno, &at))
			break;
		if (BUF_LEN(b) == 1 && BUF_STR(b)[0] == 0) {
			log_warn("%s, line %d: NUL byte in line, skipped",
			    file, at);
			bad++;
		} else if ((how == MAP_TEXT_ALIAS
		    ? map_text_alias(BUF_STR(b), &key, &value)
		    : map_text_kv(BUF_STR(b), &key, &value)) < 0) {
			log_warn("%s, line %d: expected format: %s, skipped",
			    file, at, how == MAP_TEXT_ALIAS ? "name: value"
			    : "key whitespace value");
			bad++;
		} else if (fn(file, at, key, value, ctx) != 0)
			break;
	}
	buf_free(b);
	return (bad);
}
