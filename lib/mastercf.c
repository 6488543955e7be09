/*
 * NAME
 *	mastercf - master.cf service table
 * SYNOPSIS
 *	#include "mastercf.h"
 *
 *	See mastercf.h.
 * DESCRIPTION
 *	Logical lines are formed as in main.cf (Postfix's readllines():
 *	a line starting with whitespace continues the previous one, '#'
 *	lines and blank lines are skipped anywhere). Each entry is split
 *	on whitespace; an argument written as "{ text }" is one argument
 *	(braces and surrounding whitespace removed), as Postfix 3 allows,
 *	so "-o { name = value with spaces }" works.
 *
 *	Field defaults for '-': private y, unpriv y, chroot n (Postfix
 *	3.0 and later; postern never chroots), wakeup 0, maxproc
 *	$default_process_limit (read from conf when the file is loaded).
 *	The seven fields as written are kept in raw[] (postconf -M).
 * DIAGNOSTICS
 *	mastercf_load() returns NULL with err set if the file cannot be
 *	read. A malformed entry is logged as "file, line N: ..." naming
 *	the bad field (not quoting the line) and skipped; the rest of the
 *	file loads, and nbad/bad (the first message) tell master and
 *	"postern check", for which a malformed entry is fatal.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "mastercf.h"
#include "str.h"
#include "xalloc.h"

static const char *mastercf_types[] = {
	"inet", "unix", "unix-dgram", "fifo", "pass", NULL
};

/* mastercf_split - whitespace tokens, "{ text }" kept as one */
static struct strv *
mastercf_split(const char *line)
{
	struct strv *v = strv_new();
	const char *cp = line, *start;
	char	*tok;
	int	 level;

	for (;;) {
		while (isspace((unsigned char)*cp))
			cp++;
		if (*cp == 0)
			break;
		start = cp;
		if (*cp == '{') {
			for (level = 0; *cp; cp++) {
				if (*cp == '{')
					level++;
				else if (*cp == '}' && --level == 0)
					break;
			}
			if (*cp == '}') {
				tok = xstrndup(start + 1,
				    (size_t)(cp - start - 1));
				strv_add(v, str_trim(tok));
				free(tok);
				cp++;
				continue;
			}
			cp = start;	/* unbalanced: an ordinary word */
		}
		while (*cp && !isspace((unsigned char)*cp))
			cp++;
		tok = xstrndup(start, (size_t)(cp - start));
		strv_add(v, tok);
		free(tok);
	}
	return (v);
}

/* mastercf_bool - y/n/- field */
static int
mastercf_bool(const char *s, int def, int *out)
{
	if (strcmp(s, "-") == 0)
		*out = def;
	else if (strcmp(s, "y") == 0 || strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "n") == 0 || strcmp(s, "no") == 0)
		*out = 0;
	else
		return (-1);
	return (0);
}

/* mastercf_option - add one -o value, normalizing "name = value" */
static void
mastercf_option(struct mastercf_service *s, const char *nv)
{
	const char *eq = strchr(nv, '=');
	char	*name, *val, *opt;

	if (eq == NULL) {
		strv_add(s->options, nv);
		return;
	}
	name = xstrndup(nv, (size_t)(eq - nv));
	val = xstrdup(eq + 1);
	opt = xasprintf("%s=%s", str_trim(name), str_trim(val));
	strv_add(s->options, opt);
	free(opt);
	free(name);
	free(val);
}

/* mastercf_default_maxproc - $default_process_limit, or 100 */
static int
mastercf_default_maxproc(void)
{
	long	 v;

	if (str_parse_long(conf_str("default_process_limit"), &v) < 0
	    || v < 0 || v > 1000000)
		return (100);
	return ((int)v);
}

/* mastercf_fields - parse the seven fixed fields into s; *bad: field */
static const char *
mastercf_fields(struct mastercf_service *s, char **f, int *bad)
{
	const char *const *t;
	char	*w;
	long	 v;
	size_t	 n;

	for (t = mastercf_types; *t; t++)
		if (strcmp(f[1], *t) == 0)
			break;
	*bad = 1;
	if (*t == NULL)
		return ("bad transport type field");
	*bad = 2;
	if (mastercf_bool(f[2], 1, &s->private_) < 0)
		return ("bad private field");
	*bad = 3;
	if (mastercf_bool(f[3], 1, &s->unpriv) < 0)
		return ("bad unprivileged field");
	*bad = 4;
	if (mastercf_bool(f[4], 0, &s->chroot) < 0)
		return ("bad chroot field");
	*bad = 5;
	if (strcmp(f[5], "-") != 0) {
		w = xstrdup(f[5]);
		n = strlen(w);
		if (n > 0 && w[n - 1] == '?') {
			s->wakeup_if_used = 1;
			w[n - 1] = 0;
		}
		if (str_parse_time(w, 's', &v) < 0 || v > 0x7fffffff) {
			free(w);
			return ("bad wakeup time field");
		}
		s->wakeup = v;
		free(w);
	}
	*bad = 6;
	if (strcmp(f[6], "-") == 0)
		s->maxproc = mastercf_default_maxproc();
	else if (str_parse_long(f[6], &v) < 0 || v < 0 || v > 1000000)
		return ("bad process limit field");
	else
		s->maxproc = (int)v;
	return (NULL);
}

/* mastercf_service_free - release one entry's storage */
static void
mastercf_service_free(struct mastercf_service *s)
{
	int	 i;

	free(s->name);
	free(s->type);
	free(s->command);
	strv_free(s->args);
	strv_free(s->options);
	free(s->file);
	for (i = 0; i < 7; i++)
		free(s->raw[i]);
}

/* mastercf_bad - a malformed entry: warn, remember the first */
static void
mastercf_bad(struct mastercf *m, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s", msg);
	if (m->nbad++ == 0)
		m->bad = xstrdup(msg);
}

/* mastercf_entry - one logical line into a service, 0 or -1 */
static int
mastercf_entry(struct mastercf *m, const char *path, int lineno,
    const char *line)
{
	static const char *names[] = {"service", "type", "private",
	    "unprivileged", "chroot", "wakeup", "maxproc", "command"};
	struct strv *f = mastercf_split(line);
	struct mastercf_service s;
	const char *why;
	size_t	 i;
	int	 k;

	memset(&s, 0, sizeof(s));
	/* Name the field, not the whole line (Postfix's master does). */
	if (f->argc < 8) {
		mastercf_bad(m, "%s, line %d: missing \"%s\" field (field "
		    "count %zu, need at least 8)", path, lineno,
		    names[f->argc], f->argc);
		strv_free(f);
		return (-1);
	}
	if ((why = mastercf_fields(&s, f->argv, &k)) != NULL) {
		mastercf_bad(m, "%s, line %d: %s: %s", path, lineno, why,
		    log_safe(f->argv[k]));
		strv_free(f);
		return (-1);
	}
	s.name = xstrdup(f->argv[0]);
	s.type = xstrdup(f->argv[1]);
	for (k = 0; k < 7; k++)
		s.raw[k] = xstrdup(f->argv[k]);
	s.command = xstrdup(f->argv[7]);
	s.args = strv_new();
	s.options = strv_new();
	for (i = 8; i < f->argc; i++) {
		strv_add(s.args, f->argv[i]);
		if (strcmp(f->argv[i], "-o") == 0 && i + 1 < f->argc) {
			strv_add(s.args, f->argv[++i]);
			mastercf_option(&s, f->argv[i]);
		} else if (strncmp(f->argv[i], "-o", 2) == 0
		    && f->argv[i][2] != 0)
			mastercf_option(&s, f->argv[i] + 2);
	}
	s.file = xstrdup(path);
	s.line = lineno;
	m->svc = xrealloc(m->svc, (m->nsvc + 1) * sizeof(*m->svc));
	m->svc[m->nsvc++] = s;
	strv_free(f);
	return (0);
}

/* mastercf_line - conf_logical_lines() callback */
static void
mastercf_line(const char *path, int lineno, char *text, size_t len,
    void *ctx)
{
	mastercf_entry(ctx, path, lineno, text);
}

/* mastercf_load - read and parse a master.cf file */
struct mastercf *
mastercf_load(const char *path, char *err, size_t errlen)
{
	struct mastercf *m;
	char	*text;
	size_t	 len;

	if ((text = conf_read_file(path, &len, err, errlen)) == NULL)
		return (NULL);
	if (memchr(text, 0, len) != NULL)
		log_warn("%s: file contains NUL bytes; text after them on "
		    "a line is ignored", path);
	m = xcalloc(1, sizeof(*m));
	conf_logical_lines(path, text, len, mastercf_line, m);
	free(text);
	return (m);
}

/* mastercf_free - release a table */
void
mastercf_free(struct mastercf *m)
{
	size_t	 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nsvc; i++)
		mastercf_service_free(&m->svc[i]);
	free(m->svc);
	free(m->bad);
	free(m);
}

/* mastercf_find - look up service (and type, if not NULL) */
const struct mastercf_service *
mastercf_find(const struct mastercf *m, const char *service,
    const char *type)
{
	size_t	 i;

	for (i = 0; i < m->nsvc; i++)
		if (strcmp(m->svc[i].name, service) == 0
		    && (type == NULL || strcmp(m->svc[i].type, type) == 0))
			return (&m->svc[i]);
	return (NULL);
}

/* mastercf_format - one entry as postconf -M prints it (caller frees) */
char *
mastercf_format(const struct mastercf_service *s)
{
	static const int goal[] = {0, 11, 17, 25, 33, 41, 49, 57};
	struct buf *b = buf_new(128);
	const char *f;
	size_t	 i;
	int	 k;

	for (k = 0; k < 8; k++) {
		f = k < 7 ? s->raw[k] : s->command;
		if (k > 0) {
			if (BUF_LEN(b) >= (size_t)goal[k])
				buf_putc(b, ' ');
			while (BUF_LEN(b) < (size_t)goal[k])
				buf_putc(b, ' ');
		}
		buf_puts(b, f);
	}
	for (i = 0; i < s->args->argc; i++) {
		buf_putc(b, ' ');
		f = s->args->argv[i];
		if (strpbrk(f, " \t") != NULL || *f == 0)
			buf_printf(b, "{ %s }", f);
		else
			buf_puts(b, f);
	}
	return (buf_steal(b));
}

/* mastercf_apply - the service's -o options as conf overrides */
void
mastercf_apply(const struct mastercf_service *s)
{
	size_t	 i;

	for (i = 0; i < s->options->argc; i++)
		if (conf_set_option(s->options->argv[i]) < 0)
			log_warn("%s, line %d: service %s: ignoring -o \"%s\": "
			    "need name=value", s->file, s->line, s->name,
			    log_safe(s->options->argv[i]));
}
