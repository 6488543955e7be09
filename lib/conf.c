/*
 * NAME
 *	conf - main.cf parameters: parsing, defaults, overrides, expansion
 * SYNOPSIS
 *	#include "conf.h"
 *
 *	See conf.h.
 * DESCRIPTION
 *	Every parameter the process has heard of is one entry in a small
 *	hash table: its built-in default (lib/params.c), its main.cf
 *	value and line, its -o override, and a cache of its expanded
 *	value. Which text is "the" value is decided on every access:
 *	override, else main.cf, else default. Expansion is lazy and
 *	cached; any change (conf_load, conf_set) drops every cache, since
 *	one value may be built from many others.
 *
 *	main.cf is read as Postfix's readllines() reads it: a logical
 *	line starts with non-whitespace; a line starting with whitespace
 *	continues it (the newline is removed, the whitespace kept); a
 *	line whose first non-whitespace character is '#', and a blank
 *	line, is skipped wherever it occurs, also inside a continued
 *	value. Each logical line is "name = value", whitespace around
 *	name and value is removed.
 *
 *	Expansion is Postfix's mac_expand(): $name, ${name}, $(name),
 *	${name?value}, ${name:value}, the 3.x forms ${name?{v1}:{v2}},
 *	and $$. An undefined name expands to the empty string. A loop
 *	($a -> $b -> $a) is detected, reported once per name with
 *	log_warn() and expands to empty; nesting is limited to
 *	CONF_MAX_DEPTH levels.
 * DIAGNOSTICS
 *	conf_int(), conf_time() and conf_bool() log a fatal error naming
 *	the parameter and its value when the value is malformed.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "params.h"
#include "str.h"
#include "xalloc.h"

#define CONF_HASH_SIZE	1024
#define CONF_MAX_DEPTH	100

struct centry {
	char	*name;
	const struct conf_param *param;	/* built-in, or NULL */
	char	*file_val;		/* main.cf, or NULL */
	int	 file_line;
	char	*over_val;		/* -o override, or NULL */
	char	*sys_val;		/* set by conf_load(), or NULL */
	char	*def_cache;		/* computed default */
	char	*exp;			/* expanded value cache */
	int	 expanding;		/* loop detection */
	int	 loop_reported;
	int	 registered;		/* conf_register() */
	struct centry *next;
};

static struct centry *conf_tab[CONF_HASH_SIZE];

/*
 * One recursive lock serializes every public entry point: expansion
 * fills caches, and a computed default may call conf_str() again.
 */
static pthread_mutex_t conf_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
#define CONF_LOCK()	pthread_mutex_lock(&conf_lock)
#define CONF_UNLOCK()	pthread_mutex_unlock(&conf_lock)
static int conf_ready;
static char *conf_dir;
static char *conf_path_main;

/* conf_hash - FNV-1a of a name */
static unsigned
conf_hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return (h % CONF_HASH_SIZE);
}

/* conf_find - look up an entry, optionally creating it */
static struct centry *
conf_find(const char *name, int create)
{
	struct centry *e;
	unsigned h = conf_hash(name);

	for (e = conf_tab[h]; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return (e);
	if (!create)
		return (NULL);
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	e->next = conf_tab[h];
	conf_tab[h] = e;
	return (e);
}

/* conf_init - enter the built-in table once */
static void
conf_init(void)
{
	const struct conf_param *p;
	struct centry *e;

	if (conf_ready)
		return;
	conf_ready = 1;
	for (p = conf_params; p->name; p++) {
		e = conf_find(p->name, 1);
		if (e->param == NULL)
			e->param = p;
	}
}

/* conf_invalidate - drop every cached expansion and computed default */
static void
conf_invalidate(void)
{
	struct centry *e;
	size_t	 i;

	for (i = 0; i < CONF_HASH_SIZE; i++)
		for (e = conf_tab[i]; e; e = e->next) {
			free(e->exp);
			e->exp = NULL;
			free(e->def_cache);
			e->def_cache = NULL;
			e->loop_reported = 0;
		}
}

/* conf_entry_default - the raw default of an entry, or NULL */
static const char *
conf_entry_default(struct centry *e)
{
	if (e->param == NULL)
		return (NULL);
	if (e->param->def)
		return (e->param->def);
	if (e->def_cache == NULL && e->param->fn) {
		/* fn() may expand parameters that come back here (mydomain's
		 * default reads myhostname, which may say $mydomain): keep
		 * the first value stored, do not leak the other. */
		char	*v = e->param->fn();

		if (e->def_cache == NULL)
			e->def_cache = v;
		else
			free(v);
	}
	return (e->def_cache ? e->def_cache : "");
}

/* conf_entry_raw - override, else main.cf, else default */
static const char *
conf_entry_raw(struct centry *e)
{
	if (e->over_val)
		return (e->over_val);
	if (e->sys_val)
		return (e->sys_val);
	if (e->file_val)
		return (e->file_val);
	return (conf_entry_default(e));
}

static void conf_expand_into(struct buf *, const char *, int);

/* conf_lookup_expanded - expanded value of a name, "" if undefined */
static const char *
conf_lookup_expanded(const char *name, int depth)
{
	struct centry *e;
	const char *raw;
	struct buf *b;

	conf_init();
	if ((e = conf_find(name, 0)) == NULL
	    || (raw = conf_entry_raw(e)) == NULL)
		return ("");
	if (e->exp)
		return (e->exp);
	if (e->expanding || depth > CONF_MAX_DEPTH) {
		if (!e->loop_reported) {
			e->loop_reported = 1;
			log_warn("%s: parameter %s: recursive expansion "
			    "loop through $%s", conf_path_main ?
			    conf_path_main : "main.cf", name, name);
		}
		return ("");
	}
	e->expanding = 1;
	b = buf_new(strlen(raw) + 16);
	conf_expand_into(b, raw, depth + 1);
	e->expanding = 0;
	free(e->exp);
	e->exp = buf_steal(b);
	return (e->exp);
}

/* conf_name_len - length of the parameter name at s */
static size_t
conf_name_len(const char *s)
{
	size_t	 n = 0;

	while (isalnum((unsigned char)s[n]) || s[n] == '_')
		n++;
	return (n);
}

/* conf_match_close - find the close of a ${ or $( group, or NULL */
static const char *
conf_match_close(const char *s, int open, int close)
{
	int	 level = 1;

	for (; *s; s++) {
		if (*s == open)
			level++;
		else if (*s == close && --level == 0)
			return (s);
	}
	return (NULL);
}

/*
 * One parsed reference: $name, ${name}, $(name), ${name?text},
 * ${name:text}, ${name?{text1}:{text2}} or ${name?{text1}:text2}, with
 * optional whitespace around the name and after the operator, as
 * Postfix's mac_parse() accepts.
 */
struct conf_ref {
	const char *name;
	size_t	 nlen;
	int	 op;			/* 0, '?' or ':' */
	const char *t1, *t1e;		/* the text (braces removed) */
	const char *t2, *t2e;		/* '?' only: the else text, or NULL */
	const char *end;		/* just after the reference */
};

/* conf_skip_ws - skip whitespace */
static const char *
conf_skip_ws(const char *s, const char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	return (s);
}

/* conf_braced - "{text}" at s, ending before end: text bounds */
static const char *
conf_braced(const char *s, const char *end, const char **ts,
    const char **te)
{
	const char *c = conf_match_close(s + 1, '{', '}');

	if (c == NULL || c >= end)
		return (NULL);
	*ts = s + 1;
	*te = c;
	return (c + 1);
}

/* conf_parse_value - the text after '?' or ':' */
static const char *
conf_parse_value(struct conf_ref *r, const char *p, const char *close)
{
	const char *q = conf_skip_ws(p, close);

	/* Unbraced text is taken as written, leading space included. */
	if (q == close || *q != '{') {
		r->t1 = p;
		r->t1e = close;
		return (NULL);
	}
	p = q;
	if ((p = conf_braced(p, close, &r->t1, &r->t1e)) == NULL)
		return ("truncated macro reference");
	if ((p = conf_skip_ws(p, close)) == close)
		return (NULL);
	if (r->op != '?' || *p != ':')
		return (r->op == '?' ? "\":\" expected" : "unexpected input");
	q = conf_skip_ws(++p, close);
	if (q < close && *q == '{') {
		if ((p = conf_braced(q, close, &r->t2, &r->t2e)) == NULL)
			return ("truncated macro reference");
		if (conf_skip_ws(p, close) != close)
			return ("unexpected input");
	} else {
		r->t2 = p;
		r->t2e = close;
	}
	return (NULL);
}

/* conf_parse_ref - parse the reference at cp ('$'); NULL or an error */
static const char *
conf_parse_ref(const char *cp, struct conf_ref *r)
{
	const char *p, *close;
	int	 cl;

	memset(r, 0, sizeof(*r));
	if ((r->nlen = conf_name_len(cp + 1)) > 0) {
		r->name = cp + 1;
		r->end = cp + 1 + r->nlen;
		return (NULL);
	}
	if (cp[1] != '{' && cp[1] != '(')
		return ("empty macro name");
	cl = cp[1] == '{' ? '}' : ')';
	if ((close = conf_match_close(cp + 2, cp[1], cl)) == NULL)
		return ("truncated macro reference");
	r->end = close + 1;
	p = conf_skip_ws(cp + 2, close);
	if ((r->nlen = conf_name_len(p)) == 0)
		return (*p == '{' ? "relational expressions are not supported"
		    : "empty macro name");
	r->name = p;
	p = conf_skip_ws(p + r->nlen, close);
	if (p == close)
		return (NULL);
	if (*p != '?' && *p != ':')
		return ("attribute name syntax error");
	r->op = *p;
	return (conf_parse_value(r, p + 1, close));
}

/* conf_expand_range - expand a substring */
static void
conf_expand_range(struct buf *out, const char *s, const char *e, int depth)
{
	char	*tmp = xstrndup(s, (size_t)(e - s));

	conf_expand_into(out, tmp, depth + 1);
	free(tmp);
}

/* conf_expand_into - expand text into out */
static void
conf_expand_into(struct buf *out, const char *text, int depth)
{
	const char *cp = text, *val;
	struct conf_ref r;
	size_t	 n;
	char	*nm;

	if (depth > CONF_MAX_DEPTH) {
		log_warn("%s: unreasonable macro nesting: \"%.40s...\"",
		    conf_path_main ? conf_path_main : "main.cf",
		    log_safe(text));
		return;
	}
	while (*cp) {
		if (*cp != '$') {
			n = strcspn(cp, "$");
			buf_append(out, cp, n);
			cp += n;
		} else if (cp[1] == '$') {
			buf_putc(out, '$');
			cp += 2;
		} else if (conf_parse_ref(cp, &r) != NULL) {
			/* Malformed: kept as written (conf_check says so). */
			buf_putc(out, '$');
			cp++;
		} else {
			nm = xstrndup(r.name, r.nlen);
			val = conf_lookup_expanded(nm, depth);
			free(nm);
			if (r.op == 0)
				buf_puts(out, val);
			else if ((r.op == '?') == (*val != 0))
				conf_expand_range(out, r.t1, r.t1e, depth);
			else if (r.t2)
				conf_expand_range(out, r.t2, r.t2e, depth);
			cp = r.end;
		}
	}
}

/* conf_clear_file - forget main.cf values */
static void
conf_clear_file(void)
{
	struct centry *e;
	size_t	 i;

	for (i = 0; i < CONF_HASH_SIZE; i++)
		for (e = conf_tab[i]; e; e = e->next) {
			free(e->file_val);
			e->file_val = NULL;
			e->file_line = 0;
		}
}

/* conf_parse_line - one logical line "name = value" */
static void
conf_parse_line(const char *path, int lineno, char *line, size_t len,
    void *ctx)
{
	char	*cp, *name, *val, *end;
	struct centry *e;

	if (memchr(line, 0, len) != NULL) {
		log_warn("%s, line %d: NUL byte in line, ignored", path,
		    lineno);
		return;
	}
	cp = line;
	while (isspace((unsigned char)*cp))
		cp++;
	name = cp;
	while (*cp && *cp != '=' && !isspace((unsigned char)*cp))
		cp++;
	end = cp;
	while (isspace((unsigned char)*cp))
		cp++;
	if (end == name || *cp != '=') {
		log_warn("%s, line %d: %s: \"%s\"", path, lineno,
		    end == name ? "missing attribute name"
		    : "missing '=' after attribute name", log_safe(line));
		return;
	}
	*end = 0;
	val = str_trim(cp + 1);
	e = conf_find(name, 1);
	free(e->file_val);
	e->file_val = xstrdup(val);
	e->file_line = lineno;
}

/* conf_logical_lines - split a file image into Postfix logical lines */
void
conf_logical_lines(const char *path, const char *text, size_t len,
    conf_line_fn *fn, void *ctx)
{
	struct buf *lbuf = buf_new(256);
	size_t	 pos = 0, eol, i;
	int	 lineno = 0, first = 0, orphan = 0;
	const char *ln;

	while (pos < len) {
		ln = text + pos;
		for (eol = pos; eol < len && text[eol] != '\n'; eol++)
			;
		lineno++;
		for (i = 0; pos + i < eol && isspace((unsigned char)ln[i]); i++)
			;
		if (pos + i == eol || ln[i] == '#') {
			/* Blank or comment line: skipped everywhere. */
		} else if (i > 0 && BUF_LEN(lbuf) > 0) {
			buf_append(lbuf, ln, eol - pos);
		} else if (i > 0) {
			/* Text continuing nothing: ignored, as Postfix does. */
			if (!orphan)
				log_warn("%s, line %d: logical line must not "
				    "start with whitespace: \"%.30s%s\"", path,
				    lineno, log_safen(ln, eol - pos),
				    eol - pos > 30 ? "..." : "");
			orphan = 1;
		} else {
			if (BUF_LEN(lbuf) > 0)
				fn(path, first, BUF_STR(lbuf), BUF_LEN(lbuf),
				    ctx);
			buf_reset(lbuf);
			buf_append(lbuf, ln, eol - pos);
			first = lineno;
			orphan = 0;
		}
		pos = eol + 1;
	}
	if (BUF_LEN(lbuf) > 0)
		fn(path, first, BUF_STR(lbuf), BUF_LEN(lbuf), ctx);
	buf_free(lbuf);
}

/* conf_read_file - a whole file in memory (main.cf, master.cf) */
char *
conf_read_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
	FILE	*fp;
	struct buf *b;
	char	 chunk[8192];
	size_t	 n;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return (NULL);
	}
	b = buf_new(8192);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(b, chunk, n);
	if (ferror(fp)) {
		snprintf(err, errlen, "read %s: %s", path, strerror(errno));
		fclose(fp);
		buf_free(b);
		return (NULL);
	}
	fclose(fp);
	*lenp = BUF_LEN(b);
	return (buf_steal(b));
}

/* conf_load_locked - read config_dir/main.cf */
static int
conf_load_locked(const char *config_dir, char *err, size_t errlen)
{
	char	*path, *text;
	size_t	 len;
	struct centry *e;

	conf_init();
	path = xasprintf("%s/main.cf", config_dir);
	if ((text = conf_read_file(path, &len, err, errlen)) == NULL) {
		free(path);
		return (-1);
	}
	conf_invalidate();
	conf_clear_file();
	free(conf_path_main);
	conf_path_main = path;
	free(conf_dir);
	conf_dir = xstrdup(config_dir);
	conf_logical_lines(path, text, len, conf_parse_line, NULL);
	free(text);
	e = conf_find("config_directory", 1);
	free(e->sys_val);
	e->sys_val = xstrdup(config_dir);
	return (0);
}

/* conf_load - see conf.h (locked) */
int
conf_load(const char *config_dir, char *err, size_t errlen)
{
	int	 r;

	CONF_LOCK();
	r = conf_load_locked(config_dir, err, errlen);
	CONF_UNLOCK();
	return (r);
}

/* conf_reset_locked - forget main.cf, overrides and registrations */
static void
conf_reset_locked(void)
{
	struct centry *e, *next;
	size_t	 i;

	for (i = 0; i < CONF_HASH_SIZE; i++) {
		for (e = conf_tab[i]; e; e = next) {
			next = e->next;
			free(e->name);
			free(e->file_val);
			free(e->over_val);
			free(e->sys_val);
			free(e->def_cache);
			free(e->exp);
			free(e);
		}
		conf_tab[i] = NULL;
	}
	free(conf_dir);
	free(conf_path_main);
	conf_dir = conf_path_main = NULL;
	conf_ready = 0;
}

/* conf_reset - see conf.h (locked) */
void
conf_reset(void)
{
	CONF_LOCK();
	conf_reset_locked();
	CONF_UNLOCK();
}

/* conf_set_locked - install an override */
static void
conf_set_locked(const char *name, const char *value)
{
	struct centry *e;

	conf_init();
	conf_invalidate();
	e = conf_find(name, 1);
	free(e->over_val);
	e->over_val = xstrdup(value);
}

/* conf_set - see conf.h (locked) */
void
conf_set(const char *name, const char *value)
{
	CONF_LOCK();
	conf_set_locked(name, value);
	CONF_UNLOCK();
}

/* conf_set_option - parse "name=value" and install it */
int
conf_set_option(const char *nv)
{
	const char *eq = strchr(nv, '=');
	char	*name, *val;

	if (eq == NULL || eq == nv)
		return (-1);
	name = xstrndup(nv, (size_t)(eq - nv));
	val = xstrdup(eq + 1);
	if (*str_trim(name) == 0) {
		free(name);
		free(val);
		return (-1);
	}
	conf_set(str_trim(name), str_trim(val));
	free(name);
	free(val);
	return (0);
}

/* conf_raw_locked - unexpanded value, NULL if not defined anywhere */
static const char *
conf_raw_locked(const char *name)
{
	struct centry *e;

	conf_init();
	if ((e = conf_find(name, 0)) == NULL)
		return (NULL);
	return (conf_entry_raw(e));
}

/* conf_raw - see conf.h (locked) */
const char *
conf_raw(const char *name)
{
	const char *r;

	CONF_LOCK();
	r = conf_raw_locked(name);
	CONF_UNLOCK();
	return (r);
}

/* conf_file_value_locked - main.cf text of a parameter, and its line */
static const char *
conf_file_value_locked(const char *name, int *line)
{
	struct centry *e;

	conf_init();
	if ((e = conf_find(name, 0)) == NULL || e->file_val == NULL)
		return (NULL);
	if (line)
		*line = e->file_line;
	return (e->file_val);
}

/* conf_file_value - see conf.h (locked) */
const char *
conf_file_value(const char *name, int *line)
{
	const char *r;

	CONF_LOCK();
	r = conf_file_value_locked(name, line);
	CONF_UNLOCK();
	return (r);
}

/* conf_str_locked - expanded value, "" if unknown */
static const char *
conf_str_locked(const char *name)
{
	return (conf_lookup_expanded(name, 0));
}

/* conf_str - see conf.h (locked) */
const char *
conf_str(const char *name)
{
	const char *r;

	CONF_LOCK();
	r = conf_str_locked(name);
	CONF_UNLOCK();
	return (r);
}

/* conf_int - integer parameter */
long
conf_int(const char *name)
{
	const char *s = conf_str(name);
	long	 v;

	if (str_parse_long(s, &v) < 0)
		log_fatal("bad numerical configuration: %s = %s", name, s);
	return (v);
}

/* conf_time_unit - a time parameter's default unit */
static int
conf_time_unit(const char *name)
{
	struct centry *e = conf_find(name, 0);
	const char *d;
	size_t	 n;

	if (e == NULL || e->param == NULL || (d = e->param->def) == NULL
	    || (n = strlen(d)) == 0 || !isalpha((unsigned char)d[n - 1]))
		return ('s');
	return (d[n - 1]);
}

/* conf_time - time parameter in seconds */
long
conf_time(const char *name)
{
	const char *s = conf_str(name);
	long	 v;

	if (str_parse_time(s, conf_time_unit(name), &v) < 0)
		log_fatal("bad time configuration: %s = %s", name, s);
	return (v);
}

/* conf_bool - boolean parameter */
int
conf_bool(const char *name)
{
	const char *s = conf_str(name);
	int	 v;

	if (str_parse_bool(s, &v) < 0)
		log_fatal("bad boolean configuration: %s = %s", name, s);
	return (v);
}

/* conf_split - list elements; a {...} group is one element */
struct strv *
conf_split(const char *s)
{
	return (strv_splitq(s, STR_LIST_DELIMS));
}

/* conf_list_locked - expanded value split on commas and whitespace */
static struct strv *
conf_list_locked(const char *name)
{
	return (conf_split(conf_lookup_expanded(name, 0)));
}

/* conf_list - see conf.h (locked) */
struct strv *
conf_list(const char *name)
{
	struct strv *r;

	CONF_LOCK();
	r = conf_list_locked(name);
	CONF_UNLOCK();
	return (r);
}

/* conf_expand_locked - expand arbitrary text (caller frees) */
static char *
conf_expand_locked(const char *text)
{
	struct buf *b = buf_new(strlen(text) + 16);

	conf_init();
	conf_expand_into(b, text, 0);
	return (buf_steal(b));
}

/* conf_expand - see conf.h (locked) */
char *
conf_expand(const char *text)
{
	char *r;

	CONF_LOCK();
	r = conf_expand_locked(text);
	CONF_UNLOCK();
	return (r);
}

/* conf_default_locked - the built-in default, NULL if unknown */
static const char *
conf_default_locked(const char *name)
{
	struct centry *e;

	conf_init();
	if ((e = conf_find(name, 0)) == NULL)
		return (NULL);
	return (conf_entry_default(e));
}

/* conf_default - see conf.h (locked) */
const char *
conf_default(const char *name)
{
	const char *r;

	CONF_LOCK();
	r = conf_default_locked(name);
	CONF_UNLOCK();
	return (r);
}

/* conf_known_locked - is this a parameter some postern program uses? */
static int
conf_known_locked(const char *name)
{
	struct centry *e;

	conf_init();
	return ((e = conf_find(name, 0)) != NULL
	    && (e->param != NULL || e->registered));
}

/* conf_known - see conf.h (locked) */
int
conf_known(const char *name)
{
	int	 r;

	CONF_LOCK();
	r = conf_known_locked(name);
	CONF_UNLOCK();
	return (r);
}

/* conf_register_locked - make a name known (dynamic, referenced) */
static void
conf_register_locked(const char *name)
{
	conf_init();
	conf_find(name, 1)->registered = 1;
}

/* conf_register - see conf.h (locked) */
void
conf_register(const char *name)
{
	CONF_LOCK();
	conf_register_locked(name);
	CONF_UNLOCK();
}

/* conf_config_dir - the directory conf_load() read, or NULL */
const char *
conf_config_dir(void)
{
	return (conf_dir);
}

/* conf_name_cmp - qsort on names */
static int
conf_name_cmp(const void *a, const void *b)
{
	const struct centry *x = *(const struct centry * const *)a;
	const struct centry *y = *(const struct centry * const *)b;

	return (strcmp(x->name, y->name));
}

/* conf_sorted - entries selected by which, sorted by name */
static struct centry **
conf_sorted(int which, size_t *np)
{
	struct centry **v = NULL, *e;
	size_t	 n = 0, cap = 0, i;
	int	 take;

	conf_init();
	for (i = 0; i < CONF_HASH_SIZE; i++)
		for (e = conf_tab[i]; e; e = e->next) {
			/* config_directory counts as set when not default */
			take = ((which & CONF_EXPLICIT)
			    && (e->file_val || e->over_val || (e->sys_val
			    && e->param && e->param->def
			    && strcmp(e->sys_val, e->param->def) != 0)))
			    || ((which & CONF_DEFAULTS) && e->param);
			if (!take)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n++] = e;
		}
	if (n)
		qsort(v, n, sizeof(*v), conf_name_cmp);
	*np = n;
	return (v);
}

static struct strv *conf_used_refs(void);
static int conf_entry_unused(const struct centry *, const struct strv *);

/* conf_walk_locked - visit parameters in name order */
static void
conf_walk_locked(int which, conf_walk_fn *fn, void *ctx)
{
	struct centry **v;
	struct strv *used = NULL;
	size_t	 n, i;

	if (which & CONF_USED)
		used = conf_used_refs();
	v = conf_sorted(which & CONF_ALL, &n);
	for (i = 0; i < n; i++) {
		if (used && conf_entry_unused(v[i], used))
			continue;
		fn(v[i]->name, (which & CONF_ALL) == CONF_DEFAULTS ?
		    conf_entry_default(v[i]) : conf_entry_raw(v[i]), ctx);
	}
	strv_free(used);
	free(v);
}

/* conf_walk - see conf.h (locked) */
void
conf_walk(int which, conf_walk_fn *fn, void *ctx)
{
	CONF_LOCK();
	conf_walk_locked(which, fn, ctx);
	CONF_UNLOCK();
}

/* conf_strv_has - membership test */
static int
conf_strv_has(const struct strv *v, const char *s)
{
	size_t	 i;

	for (i = 0; i < v->argc; i++)
		if (strcmp(v->argv[i], s) == 0)
			return (1);
	return (0);
}

/* conf_refs_range - conf_refs_add() on a substring */
static void conf_refs_add(struct strv *, const char *, int, int);

static void
conf_refs_range(struct strv *out, const char *s, const char *e, int all,
    int depth)
{
	char	*tmp;

	if (s == NULL || depth >= CONF_MAX_DEPTH)
		return;
	tmp = xstrndup(s, (size_t)(e - s));
	conf_refs_add(out, tmp, all, depth + 1);
	free(tmp);
}

/* conf_refs_add - collect $name references in text */
static void
conf_refs_add(struct strv *out, const char *text, int all, int depth)
{
	const char *cp = text;
	struct conf_ref r;
	char	*nm;

	while ((cp = strchr(cp, '$')) != NULL) {
		if (cp[1] == '$') {
			cp += 2;
			continue;
		}
		if (conf_parse_ref(cp, &r) != NULL) {
			cp++;
			continue;
		}
		/* The conditional texts may refer to more. */
		conf_refs_range(out, r.t1, r.t1e, all, depth);
		conf_refs_range(out, r.t2, r.t2e, all, depth);
		cp = r.end;
		if (r.op && !all)
			continue;
		nm = xstrndup(r.name, r.nlen);
		if (!conf_strv_has(out, nm))
			strv_add(out, nm);
		free(nm);
	}
}

/* conf_macro_check_depth - conf_macro_check() with a nesting limit */
static int
conf_macro_check_depth(const char *text, const char *end, char *err,
    size_t errlen, int depth)
{
	const char *cp = text, *why;
	struct conf_ref r;
	char	*tmp;
	int	 ret = 0;

	tmp = xstrndup(text, (size_t)(end - text));
	for (cp = tmp; ret == 0 && (cp = strchr(cp, '$')) != NULL; ) {
		if (cp[1] == '$') {
			cp += 2;
			continue;
		}
		if ((why = conf_parse_ref(cp, &r)) != NULL) {
			snprintf(err, errlen, "%s: \"%s\"", why,
			    log_safe(cp));
			ret = -1;
		} else if (depth >= CONF_MAX_DEPTH) {
			snprintf(err, errlen, "unreasonable macro nesting");
			ret = -1;
		} else if ((r.t1 && conf_macro_check_depth(r.t1, r.t1e, err,
		    errlen, depth + 1) < 0) || (r.t2 && conf_macro_check_depth(
		    r.t2, r.t2e, err, errlen, depth + 1) < 0))
			ret = -1;
		else
			cp = r.end;
	}
	free(tmp);
	return (ret);
}

/* conf_macro_check - is the $name syntax of text valid? */
int
conf_macro_check(const char *text, char *err, size_t errlen)
{
	return (conf_macro_check_depth(text, text + strlen(text), err, errlen,
	    0));
}

/* conf_refs - names referenced as $name in text (caller frees) */
struct strv *
conf_refs(const char *text, int with_conditional)
{
	struct strv *v = strv_new();

	conf_refs_add(v, text, with_conditional, 0);
	return (v);
}

/* conf_normalize - collapse whitespace runs to one space (caller frees) */
char *
conf_normalize(const char *text)
{
	struct strv *v = strv_split(text, " \t\r\n");
	char	*s = strv_join(v, " ");

	strv_free(v);
	return (s);
}

/* conf_used_refs - every name some value refers to (lock held) */
static struct strv *
conf_used_refs(void)
{
	struct centry **v;
	struct strv *used = strv_new();
	size_t	 n, i;

	v = conf_sorted(CONF_ALL, &n);
	for (i = 0; i < n; i++)
		conf_refs_add(used, conf_entry_raw(v[i]), 1, 0);
	free(v);
	return (used);
}

/*
 * conf_entry_unused - set in main.cf, known to no program, registered by
 * none and referred to by no value: Postfix's "unused parameter", which
 * its postconf -n does not list either.
 */
static int
conf_entry_unused(const struct centry *e, const struct strv *used)
{
	return (e->file_val != NULL && e->param == NULL && !e->registered
	    && !conf_strv_has(used, e->name));
}

/* conf_check_locked - unused parameters, undefined $references */
static void
conf_check_locked(conf_warn_fn *fn, void *ctx)
{
	struct centry **v, *e;
	struct strv *used = conf_used_refs(), *refs, *said = strv_new();
	size_t	 n, i, j;
	const char *path = conf_path_main ? conf_path_main : "main.cf";
	char	*msg, err[256];

	v = conf_sorted(CONF_ALL, &n);
	for (i = 0; i < n; i++) {
		e = v[i];
		if (!conf_entry_unused(e, used))
			continue;
		/*
		 * The value as main.cf has it (continuation lines joined,
		 * their indentation kept), as Postfix 3.7 prints it.
		 */
		msg = xasprintf("%s: unused parameter: %s=%s", path, e->name,
		    e->file_val);
		fn(msg, ctx);
		free(msg);
	}
	for (i = 0; i < n; i++) {
		e = v[i];
		if (e->file_val == NULL && e->over_val == NULL)
			continue;
		if (conf_macro_check(conf_entry_raw(e), err, sizeof(err)) < 0) {
			msg = xasprintf("%s: parameter %s: %s", path, e->name,
			    err);
			fn(msg, ctx);
			free(msg);
		}
		/* As Postfix: ${name?...} of an undefined name counts too. */
		refs = conf_refs(conf_entry_raw(e), 1);
		for (j = 0; j < refs->argc; j++) {
			if (conf_raw(refs->argv[j]) != NULL
			    || conf_strv_has(said, refs->argv[j]))
				continue;
			strv_add(said, refs->argv[j]);
			msg = xasprintf("%s: undefined parameter: %s", path,
			    refs->argv[j]);
			fn(msg, ctx);
			free(msg);
		}
		strv_free(refs);
	}
	strv_free(used);
	strv_free(said);
	free(v);
}

/* conf_check - see conf.h (locked) */
void
conf_check(conf_warn_fn *fn, void *ctx)
{
	CONF_LOCK();
	conf_check_locked(fn, ctx);
	CONF_UNLOCK();
}
