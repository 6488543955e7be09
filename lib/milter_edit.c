/*
 * NAME
 *	milter_edit - a message's headers after the milters' changes
 * SYNOPSIS
 *	#include "milter.h"
 *
 *	int	milter_hdrs_line(struct milter_hdrs *h, const char *line,
 *	    size_t len);
 *	void	milter_hdrs_apply(struct milter_hdrs *h,
 *	    const struct milter_mods *mods);
 *	void	milter_hdrs_free(struct milter_hdrs *h);
 *	int	milter_is_header(const char *p, size_t len);
 *	char	*milter_addr(char *addr);
 *	int	milter_default_action(const char *value);
 *	size_t	milter_list_parse(const char *param, const char *list,
 *	    int def, struct milter_spec *v, size_t max);
 * DESCRIPTION
 *	The header section of a message (LF line ends, as the queue keeps
 *	it) as a list of headers, each with its continuation lines.
 *	milter_hdrs_line() takes the next line (without its LF): 0 it was
 *	a header or a continuation, 1 it was the empty line that ends the
 *	headers (h->blank set), 2 it is no header (h->first keeps it: the
 *	first body line). milter_hdrs_apply() applies SMFIR_ADDHEADER
 *	(appended), SMFIR_INSHEADER (before the index'th header, 0 first),
 *	SMFIR_CHGHEADER (the index'th header of that name, 1 first; an
 *	empty value deletes it; a missing one is added, as Sendmail does);
 *	a new header is "Name: value" with CR removed from the folding.
 *	milter_is_header() is a "name:" line; milter_addr() strips the
 *	angle brackets of a milter's address argument (in place).
 *	milter_default_action() maps tempfail, accept, reject, quarantine
 *	to MILTER_DEF_* (anything else: a warning, tempfail).
 *	milter_list_parse() reads smtpd_milters/non_smtpd_milters syntax,
 *	"a, b { c, default_action=accept }", into at most max entries
 *	(endpoints allocated; the caller keeps them for the process).
 * DIAGNOSTICS
 *	None.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "milter.h"
#include "xalloc.h"

/* milter_is_header - "name:" with a printable name */
int
milter_is_header(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ':')
			return (i > 0);
		if (c == ' ' || c == '\t') {
			if (i == 0)
				return (0);
			while (i < len && (p[i] == ' ' || p[i] == '\t'))
				i++;
			return (i < len && p[i] == ':');
		}
		if (c < 33 || c > 126)
			return (0);
	}
	return (0);
}

/* hdrs_insert - a header at position i */
static void
hdrs_insert(struct milter_hdrs *h, size_t i, char *text)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 16;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	if (i > h->n)
		i = h->n;
	memmove(h->v + i + 1, h->v + i, (h->n - i) * sizeof(*h->v));
	h->v[i] = text;
	h->n++;
}

/* milter_hdrs_line - the next line of the header section */
int
milter_hdrs_line(struct milter_hdrs *h, const char *line, size_t len)
{
	char	*cur;

	if (len == 0) {
		h->blank = 1;
		return (1);
	}
	if ((line[0] == ' ' || line[0] == '\t') && h->n) {
		cur = h->v[h->n - 1];
		h->v[h->n - 1] = xasprintf("%s\n%.*s", cur, (int)len, line);
		free(cur);
		return (0);
	}
	if (!milter_is_header(line, len)) {
		h->first = xstrndup(line, len);
		return (2);
	}
	hdrs_insert(h, h->n, xstrndup(line, len));
	return (0);
}

/* hdr_text - "name: value", CRLF folding made LF */
static char *
hdr_text(const char *name, const char *value)
{
	struct buf *b = buf_new(strlen(name) + strlen(value) + 4);
	const char *p;

	buf_puts(b, name);
	buf_putc(b, ':');
	if (*value != ' ' && *value != '\t')
		buf_putc(b, ' ');
	for (p = value; *p; p++)
		if (*p != '\r')
			buf_putc(b, *p);
	return (buf_steal(b));
}

/* hdr_is - does header text have this name? */
static int
hdr_is(const char *text, const char *name)
{
	size_t	 n = strlen(name);

	return (strncasecmp(text, name, n) == 0
	    && (text[n] == ':' || text[n] == ' ' || text[n] == '\t'));
}

/* hdrs_change - SMFIR_CHGHEADER */
static void
hdrs_change(struct milter_hdrs *h, const struct milter_mod *d)
{
	size_t	 i;
	unsigned seen = 0, want = d->index ? d->index : 1;

	for (i = 0; i < h->n; i++) {
		if (!hdr_is(h->v[i], d->name) || ++seen < want)
			continue;
		free(h->v[i]);
		if (*d->value) {
			h->v[i] = hdr_text(d->name, d->value);
			return;
		}
		memmove(h->v + i, h->v + i + 1, (h->n - i - 1)
		    * sizeof(*h->v));
		h->n--;
		return;
	}
	if (*d->value)
		hdrs_insert(h, h->n, hdr_text(d->name, d->value));
}

/* milter_hdrs_apply - one milter's header changes, in order */
void
milter_hdrs_apply(struct milter_hdrs *h, const struct milter_mods *mods)
{
	const struct milter_mod *d;
	size_t	 j;

	for (j = 0; j < mods->n; j++) {
		d = &mods->v[j];
		if (d->type == MILTER_MOD_ADDHDR)
			hdrs_insert(h, h->n, hdr_text(d->name, d->value));
		else if (d->type == MILTER_MOD_INSHDR)
			hdrs_insert(h, d->index, hdr_text(d->name, d->value));
		else if (d->type == MILTER_MOD_CHGHDR)
			hdrs_change(h, d);
	}
}

/* milter_hdrs_free - release the list */
void
milter_hdrs_free(struct milter_hdrs *h)
{
	size_t	 i;

	for (i = 0; i < h->n; i++)
		free(h->v[i]);
	free(h->v);
	free(h->first);
	memset(h, 0, sizeof(*h));
}

/* milter_addr - "<addr>" to "addr", in place */
char *
milter_addr(char *a)
{
	size_t	 n = strlen(a);

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		a[n - 1] = 0;
		return (a + 1);
	}
	return (a);
}

/* milter_default_action - a default_action value */
int
milter_default_action(const char *v)
{
	if (strcasecmp(v, "accept") == 0)
		return (MILTER_DEF_ACCEPT);
	if (strcasecmp(v, "reject") == 0)
		return (MILTER_DEF_REJECT);
	if (strcasecmp(v, "quarantine") == 0)
		return (MILTER_DEF_QUARANTINE);
	if (strcasecmp(v, "tempfail") != 0)
		log_warn("bad milter_default_action \"%s\": using tempfail",
		    log_safe(v));
	return (MILTER_DEF_TEMPFAIL);
}

/* list_add - one endpoint, with the options of its { } group */
static void
list_add(const char *param, char *item, int def, struct milter_spec *v,
    size_t max, size_t *n)
{
	char	*opt, *save = NULL, *name = NULL;

	for (opt = strtok_r(item, ", \t", &save); opt;
	    opt = strtok_r(NULL, ", \t", &save)) {
		if (name == NULL && strchr(opt, '=') == NULL)
			name = opt;
		else if (strncmp(opt, "default_action=", 15) == 0)
			def = milter_default_action(opt + 15);
		else if (strchr(opt, '=') != NULL)
			log_warn("%s: ignoring option \"%s\"", param,
			    log_safe(opt));
	}
	if (name == NULL)
		return;
	if (*n == max) {
		log_warn("%s: more than %zu milters; ignoring %s", param, max,
		    log_safe(name));
		return;
	}
	v[*n].endpoint = xstrdup(name);
	v[(*n)++].def_action = def;
}

/* milter_list_parse - "a, b { c, default_action=accept }" */
size_t
milter_list_parse(const char *param, const char *list, int def,
    struct milter_spec *v, size_t max)
{
	char	*copy = xstrdup(list), *p = copy, *end;
	size_t	 n = 0;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\n')
			p++;
		if (*p == 0)
			break;
		if (*p == '{') {
			if ((end = strchr(p, '}')) == NULL) {
				log_warn("%s: missing '}' in \"%s\"", param,
				    log_safe(list));
				break;
			}
			*end = 0;
			list_add(param, p + 1, def, v, max, &n);
			p = end + 1;
			continue;
		}
		end = p + strcspn(p, " \t,\n");
		if (*end)
			*end++ = 0;
		list_add(param, p, def, v, max, &n);
		p = end;
	}
	free(copy);
	return (n);
}
