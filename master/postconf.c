/*
 * NAME
 *	postconf - show and edit the postern configuration
 * SYNOPSIS
 *	postconf [-c dir] [-o name=value] [-n | -d] [-h] [-x] [name ...]
 *	postconf [-c dir] -M [service[/type] ...]
 *	postconf [-c dir] [-hx] -P [service[/type[/name]] ...]
 *	postconf [-c dir] -e name=value ...
 *	postconf [-c dir] -X name ...
 *	postconf [-c dir] [-v] --check
 * DESCRIPTION
 *	Postfix's postconf(1) for the options postern supports. Output
 *	is "name = value", one per line, in name order, with whitespace
 *	runs in the value shown as one space (as Postfix prints them).
 *	  -c dir  configuration directory (default $MAIL_CONFIG, else
 *	          /etc/postern).
 *	  -n      only parameters set in main.cf, as written.
 *	  -d      built-in defaults.
 *	  -h      the value only, no "name = ".
 *	  -x      expand $name references.
 *	  -o      override a parameter for this command.
 *	  -M      master.cf entries, one line each, columns as Postfix.
 *	  -P      master.cf -o parameters as "service/type/name = value".
 *	  -e      set parameters in main.cf in place: a definition and
 *	          its continuation lines are replaced where it stands
 *	          (every duplicate too), comments and order kept, a
 *	          new parameter appended; written to a temporary file,
 *	          fsync'd and renamed over main.cf.
 *	  -X      remove parameters from main.cf the same way.
 *	  --check run postern_check() (what "postern check" does) and
 *	          exit 1 if it found a fatal problem.
 *	Warnings go to stderr as "postconf: warning: ...".
 * DIAGNOSTICS
 *	Exit status 0 on success, 1 on a fatal error.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "conf.h"
#include "log.h"
#include "mastercf.h"
#include "str.h"
#include "xalloc.h"

static int opt_h, opt_x;

/* postconf_hook - print log lines as Postfix's postconf does */
static void
postconf_hook(int level, const char *text, void *ctx)
{
	if (level == LOG_LVL_DEBUG && !log_verbose)
		return;
	fprintf(stderr, "postconf: %s\n", text);
	fflush(stderr);
}

/* postconf_usage - complain and exit */
static void __attribute__((noreturn))
postconf_usage(void)
{
	fprintf(stderr, "usage: postconf [-c config_dir] [-o name=value] "
	    "[-n|-d] [-h] [-x] [name ...]\n"
	    "       postconf [-c config_dir] -M [service[/type] ...]\n"
	    "       postconf [-c config_dir] [-hx] -P "
	    "[service[/type[/name]] ...]\n"
	    "       postconf [-c config_dir] -e name=value ...\n"
	    "       postconf [-c config_dir] -X name ...\n"
	    "       postconf [-c config_dir] [-v] --check\n");
	exit(1);
}

/* postconf_strcmp - qsort on strings */
static int
postconf_strcmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* postconf_print - one "name = value" line */
static void
postconf_print(const char *name, const char *value, void *ctx)
{
	char	*exp = NULL, *norm;

	if (value == NULL)
		value = "";
	if (opt_x)
		value = exp = conf_expand(value);
	norm = conf_normalize(value);
	if (opt_h)
		printf("%s\n", norm);
	else if (*norm)
		printf("%s = %s\n", name, norm);
	else
		printf("%s =\n", name);
	free(norm);
	free(exp);
}

/* postconf_show - the parameters named on the command line */
static void
postconf_show(int which, char **names, int n)
{
	const char *v;
	int	 i;

	if (n == 0) {
		conf_walk(which, postconf_print, NULL);
		return;
	}
	for (i = 0; i < n; i++) {
		if (which == CONF_DEFAULTS)
			v = conf_default(names[i]);
		else if ((which & CONF_ALL) == CONF_EXPLICIT)
			v = conf_file_value(names[i], NULL);
		else
			v = conf_raw(names[i]);
		if (v == NULL) {
			if (!conf_known(names[i]) && conf_raw(names[i]) == NULL)
				log_warn("%s: unknown parameter",
				    log_safe(names[i]));
			continue;
		}
		postconf_print(names[i], v, NULL);
	}
}

/* postconf_match - does "name[/type[/param]]" select this service? */
static int
postconf_match(const char *pat, const struct mastercf_service *s,
    const char **param)
{
	const char *slash = strchr(pat, '/'), *slash2;
	size_t	 n = slash ? (size_t)(slash - pat) : strlen(pat);

	*param = NULL;
	if (strncmp(pat, s->name, n) != 0 || s->name[n] != 0)
		return (0);
	if (slash == NULL)
		return (1);
	slash2 = strchr(slash + 1, '/');
	n = slash2 ? (size_t)(slash2 - slash - 1) : strlen(slash + 1);
	if (strncmp(slash + 1, s->type, n) != 0 || s->type[n] != 0)
		return (0);
	if (slash2)
		*param = slash2 + 1;
	return (1);
}

/* postconf_print_opts - postconf -P lines of one service */
static int
postconf_print_opts(const struct mastercf_service *s, const char *param)
{
	struct strv *v = strv_new();
	size_t	 i, n;
	char	*name, *key;
	int	 shown = 0;

	/* Sorted by name; a later -o for the same name wins. */
	for (i = 0; i < s->options->argc; i++)
		strv_add(v, s->options->argv[i]);
	qsort(v->argv, v->argc, sizeof(char *), postconf_strcmp);
	for (i = 0; i < v->argc; i++) {
		n = strcspn(v->argv[i], "=");
		name = xstrndup(v->argv[i], n);
		if ((param == NULL || strcmp(param, name) == 0)
		    && (i + 1 == v->argc || strncmp(v->argv[i + 1], name, n)
		    || v->argv[i + 1][n] != '=')) {
			key = xasprintf("%s/%s/%s", s->name, s->type, name);
			postconf_print(key, v->argv[i][n] ? v->argv[i] + n + 1
			    : "", NULL);
			free(key);
			shown++;
		}
		free(name);
	}
	strv_free(v);
	return (shown);
}

/* postconf_master - postconf -M and -P */
static int
postconf_master(const char *dir, char **pat, int n, int params)
{
	char	*path = xasprintf("%s/master.cf", dir), err[512], *line;
	int	*hits = xcalloc((size_t)n + 1, sizeof(int));
	const char *param;
	struct mastercf *m;
	size_t	 i;
	int	 j, any;

	if ((m = mastercf_load(path, err, sizeof(err))) == NULL) {
		free(path);
		free(hits);
		log_fatal("%s", err);
	}
	for (i = 0; i < m->nsvc; i++) {
		for (any = n == 0, j = 0; j < n; j++)
			if (postconf_match(pat[j], &m->svc[i], &param)) {
				if (params)
					hits[j] += postconf_print_opts(
					    &m->svc[i], param) + !param;
				else
					hits[j]++;
				any = 1;
			}
		if (n == 0 && params)
			postconf_print_opts(&m->svc[i], NULL);
		if (any && !params) {
			line = mastercf_format(&m->svc[i]);
			printf("%s\n", line);
			free(line);
		}
	}
	for (j = 0; j < n; j++)
		if (hits[j] == 0)
			log_warn("unmatched request: \"%s\"", log_safe(pat[j]));
	mastercf_free(m);
	free(hits);
	free(path);
	return (0);
}

/* postconf_valid_name - parameter names are [A-Za-z0-9_]+ */
static int
postconf_valid_name(const char *s)
{
	return (*s && s[strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] == 0);
}

struct edit {
	char	*name;
	char	*value;		/* NULL: remove (-X) */
	int	 found;
};

/* postconf_edit_cmp - qsort edits by name */
static int
postconf_edit_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct edit *)a)->name,
	    ((const struct edit *)b)->name));
}

/* postconf_line_name - the parameter a logical line starts, or NULL */
static char *
postconf_line_name(const char *line, size_t len)
{
	size_t	 n = 0;

	while (n < len && line[n] != '=' && line[n] != ' '
	    && line[n] != '\t' && line[n] != '\r' && line[n] != '\n')
		n++;
	return (n ? xstrndup(line, n) : NULL);
}

/* postconf_rewrite - main.cf text with the edits applied */
static struct buf *
postconf_rewrite(const char *path, const char *text, size_t len,
    struct edit *ed, int ned)
{
	struct buf *out = buf_new(len + 256);
	size_t	 pos = 0, eol, ws;
	int	 skipping = 0, i;
	char	*name;

	while (pos < len) {
		for (eol = pos; eol < len && text[eol] != '\n'; eol++)
			;
		if (eol < len)
			eol++;		/* include the newline */
		ws = strspn(text + pos, " \t\r");
		if (pos + ws >= eol || text[pos + ws] == '\n'
		    || text[pos + ws] == '#') {
			buf_append(out, text + pos, eol - pos);
		} else if (ws > 0) {
			if (!skipping)
				buf_append(out, text + pos, eol - pos);
		} else {
			name = postconf_line_name(text + pos, eol - pos);
			for (i = 0; i < ned; i++)
				if (name && strcmp(name, ed[i].name) == 0)
					break;
			skipping = i < ned;
			if (!skipping)
				buf_append(out, text + pos, eol - pos);
			else {
				if (ed[i].found++ == 1)
					log_warn("%s: multiple entries for "
					    "\"%s\"", path, ed[i].name);
				/* Every definition is replaced, as Postfix. */
				if (ed[i].value)
					buf_printf(out, "%s = %s\n",
					    ed[i].name, ed[i].value);
			}
			free(name);
		}
		pos = eol;
	}
	for (i = 0; i < ned; i++)
		if (!ed[i].found && ed[i].value) {
			if (BUF_LEN(out) && BUF_STR(out)[BUF_LEN(out) - 1]
			    != '\n')
				buf_putc(out, '\n');
			buf_printf(out, "%s = %s\n", ed[i].name, ed[i].value);
		}
	return (out);
}

/* postconf_replace - write data to path through a synced temp file */
static void
postconf_replace(const char *path, const struct buf *data, mode_t mode)
{
	char	*tmp = xasprintf("%s.postconf.%ld", path, (long)getpid());
	char	*dcopy = xstrdup(path), why[1024];
	int	 fd, ok;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)) < 0) {
		snprintf(why, sizeof(why), "open %s: %s", tmp, strerror(errno));
		ok = 0;
	} else if (write(fd, BUF_STR(data), BUF_LEN(data))
	    != (ssize_t)BUF_LEN(data) || fsync(fd) < 0 || close(fd) < 0) {
		snprintf(why, sizeof(why), "write %s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		ok = 0;
	} else if (rename(tmp, path) < 0) {
		snprintf(why, sizeof(why), "rename %s to %s: %s", tmp, path,
		    strerror(errno));
		unlink(tmp);
		ok = 0;
	} else
		ok = 1;
	if (ok && (fd = open(dirname(dcopy), O_RDONLY)) >= 0) {
		/* The rename itself must survive a crash. */
		(void)fsync(fd);
		close(fd);
	}
	free(dcopy);
	free(tmp);
	if (!ok)
		log_fatal("%s", why);
}

/* postconf_check_arg - refuse a malformed -e/-X argument (fatal) */
static void
postconf_check_arg(const char *arg, int remove)
{
	const char *eq = strchr(arg, '=');
	char	*tmp, *name;
	int	 bad;

	if (strpbrk(arg, "\r\n"))
		log_fatal("-e or -X accepts no multi-line input");
	if (arg[strspn(arg, " \t")] == '#')
		log_fatal("-e or -X accepts no comment input");
	if (remove && eq)
		log_fatal("-X requires parameter names without value");
	if (!remove && eq == NULL)
		log_fatal("missing '=' after attribute name: \"%s\"",
		    log_safe(arg));
	tmp = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
	name = str_trim(tmp);
	bad = !postconf_valid_name(name);
	if (bad)
		log_warn("invalid parameter name: \"%s\"", log_safe(name));
	free(tmp);
	if (bad)
		log_fatal("no changes made");
}

/* postconf_edit - postconf -e / -X */
static int
postconf_edit(const char *dir, char **args, int nargs, int remove)
{
	char	*path, *eq, *tmp, *name;
	struct edit *ed;
	struct buf *in, *out;
	struct stat st;
	mode_t	 mode = 0644;
	char	 chunk[8192];
	size_t	 k;
	FILE	*fp;
	int	 i, j, n = 0;

	/* Refuse bad input before anything is allocated or written. */
	for (i = 0; i < nargs; i++)
		postconf_check_arg(args[i], remove);
	path = xasprintf("%s/main.cf", dir);
	if ((fp = fopen(path, "r")) == NULL && (errno != ENOENT || remove)) {
		snprintf(chunk, sizeof(chunk), "open %s: %s", path,
		    strerror(errno));
		free(path);
		log_fatal("%s", chunk);
	}
	ed = xcalloc((size_t)nargs + 1, sizeof(*ed));
	in = buf_new(8192);
	for (i = 0; i < nargs; i++) {
		eq = strchr(args[i], '=');
		tmp = eq ? xstrndup(args[i], (size_t)(eq - args[i]))
		    : xstrdup(args[i]);
		name = xstrdup(str_trim(tmp));
		free(tmp);
		/* A repeated name: the later request wins. */
		for (j = 0; j < n; j++)
			if (strcmp(ed[j].name, name) == 0)
				break;
		if (j < n) {
			log_warn("ignoring earlier request: '%s = %s'", name,
			    ed[j].value ? ed[j].value : "");
			free(name);
			free(ed[j].value);
			ed[j].value = NULL;
		} else
			ed[n++].name = name;
		if (eq) {
			tmp = xstrdup(eq + 1);
			ed[j].value = xstrdup(str_trim(tmp));
			free(tmp);
		}
	}
	if (fp != NULL) {
		while ((k = fread(chunk, 1, sizeof(chunk), fp)) > 0)
			buf_append(in, chunk, k);
		if (fstat(fileno(fp), &st) == 0)
			mode = st.st_mode & 07777;
		fclose(fp);
	}
	/*
	 * New parameters are appended in name order, as newer Postfix does
	 * (3.7 appends them in hash table order, which varies per run).
	 */
	qsort(ed, (size_t)n, sizeof(*ed), postconf_edit_cmp);
	out = postconf_rewrite(path, BUF_STR(in), BUF_LEN(in), ed, n);
	postconf_replace(path, out, mode);
	for (i = 0; i < n; i++) {
		free(ed[i].name);
		free(ed[i].value);
	}
	free(ed);
	buf_free(in);
	buf_free(out);
	free(path);
	return (0);
}

int
main(int argc, char **argv)
{
	const char *dir = getenv("MAIL_CONFIG");
	int	 ch, which = CONF_ALL, mode = 0, check = 0, i, j;
	char	 err[512];

	log_init("postconf", 0);
	log_set_hook(postconf_hook, NULL);
	for (i = j = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0)
			check = 1;
		else
			argv[j++] = argv[i];
	}
	argc = j;
	argv[argc] = NULL;
	while ((ch = getopt(argc, argv, "c:dehMno:PvxX")) != -1) {
		switch (ch) {
		case 'c': dir = optarg; break;
		case 'd': which = CONF_DEFAULTS; break;
		case 'n': which = CONF_EXPLICIT; break;
		case 'h': opt_h = 1; break;
		case 'x': opt_x = 1; break;
		case 'e': case 'M': case 'P': case 'X': mode = ch; break;
		case 'v': log_verbose++; break;
		case 'o':
			if (conf_set_option(optarg) < 0)
				log_fatal("-o: need name=value, not \"%s\"",
				    log_safe(optarg));
			break;
		default:
			postconf_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (dir == NULL || *dir == 0)
		dir = conf_default("config_directory");
	if (check)
		return (postern_check(dir, log_verbose) > 0);
	if (mode == 'M' || mode == 'P') {
		if (mode == 'P' && conf_load(dir, err, sizeof(err)) < 0)
			log_fatal("%s", err);
		return (postconf_master(dir, argv, argc, mode == 'P'));
	}
	if (mode == 'e' || mode == 'X') {
		if (argc == 0)
			postconf_usage();
		return (postconf_edit(dir, argv, argc, mode == 'X'));
	}
	/* Defaults are shown as if main.cf were empty, as Postfix does. */
	if (which != CONF_DEFAULTS && conf_load(dir, err, sizeof(err)) < 0)
		log_fatal("%s", err);
	/*
	 * Like Postfix, every run that reads main.cf reports what it saw.
	 * For -n this comes first: it registers the names master.cf uses,
	 * and -n, as Postfix's, leaves out the unused parameters.
	 */
	if (which == CONF_EXPLICIT) {
		mastercf_free(postern_check_params(dir, NULL));
		which |= CONF_USED;
	}
	postconf_show(which, argv, argc);
	if (which == CONF_ALL) {
		fflush(stdout);
		mastercf_free(postern_check_params(dir, NULL));
	}
	return (0);
}
