/*
 * NAME
 *	conf_test - table-driven tests for conf.c and params.c
 * DESCRIPTION
 *	Each vector is a main.cf text, an optional override, a parameter
 *	and the value conf_str() must give (and, where it matters, the
 *	warning that must be logged). Then the seed's main.cf
 *	(etc/seed/main.cf) is loaded and every parameter is compared
 *	with tests/data/seed-postconf-n.ref, the values Postfix gives
 *	("postconf -n" form), and what conf_check() says with
 *	tests/data/seed-postconf-unused.ref, Postfix's "unused parameter"
 *	warnings. Both were written by real Postfix (Debian's 3.7), by
 *	tests/data/seed-postconf-n.sh; their '#' lines say so and are
 *	skipped here.
 *	Paths are relative to $POSTERN_TOP (default: the current
 *	directory).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "params.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

static struct buf *warnings;
static char tmpdir[] = "/tmp/conf_test.XXXXXX";

/* hook - collect warnings */
static void
hook(int level, const char *text, void *ctx)
{
	if (level >= LOG_LVL_WARN) {
		buf_puts(warnings, text);
		buf_putc(warnings, '\n');
	}
}

/* load_text - write main.cf into the temp dir and load it */
static int
load_text(const char *text, size_t len)
{
	char	*path = xasprintf("%s/main.cf", tmpdir), err[256];
	FILE	*fp = fopen(path, "w");

	if (fp == NULL || fwrite(text, 1, len, fp) != len || fclose(fp))
		log_fatal("write %s", path);
	free(path);
	buf_reset(warnings);
	return (conf_load(tmpdir, err, sizeof(err)));
}

static const struct {
	const char *name;
	const char *text;
	const char *over;	/* name=value override, or NULL */
	const char *param;
	const char *want;
	const char *warn;	/* substring of a warning, or NULL: none */
} vec[] = {
	{"plain", "a = 1\n", NULL, "a", "1", NULL},
	{"no spaces", "a=1\n", NULL, "a", "1", NULL},
	{"empty value", "a =\n", NULL, "a", "", NULL},
	{"trailing space trimmed", "a = x  \t\n", NULL, "a", "x", NULL},
	{"CRLF line", "a = x\r\nb = y\r\n", NULL, "b", "y", NULL},
	{"no final newline", "a = x", NULL, "a", "x", NULL},
	{"$name", "a = 1\nb = <$a>\n", NULL, "b", "<1>", NULL},
	{"${name}", "a = 1\nb = ${a}x\n", NULL, "b", "1x", NULL},
	{"$(name)", "a = 1\nb = $(a)x\n", NULL, "b", "1x", NULL},
	{"forward reference", "b = $a\na = 2\n", NULL, "b", "2", NULL},
	{"${name?value} set", "a = 1\nb = ${a?yes}\n", NULL, "b", "yes",
	    NULL},
	{"${name?value} empty", "a =\nb = ${a?yes}\n", NULL, "b", "", NULL},
	{"${name:value} empty", "a =\nb = ${a:dflt}\n", NULL, "b", "dflt",
	    NULL},
	{"${name:value} set", "a = 1\nb = ${a:dflt}\n", NULL, "b", "", NULL},
	{"${name?{x}:{y}} set", "a = 1\nb = ${a?{x}:{y}}\n", NULL, "b", "x",
	    NULL},
	{"${name?{x}:{y}} unset", "b = ${a?{x}:{y}}\n", NULL, "b", "y",
	    NULL},
	/* These match Postfix 3.7's postconf -x, checked side by side. */
	{"{text1}:text2 set", "a = 1\nb = ${a?{x}:y}\n", NULL, "b", "x",
	    NULL},
	{"{text1}:text2 unset", "e =\nb = ${e?{x}:y}\n", NULL, "b", "y",
	    NULL},
	{"spaces around the name", "a = 1\nb = ${ a }\n", NULL, "b", "1",
	    NULL},
	{"spaces around the operator", "a = 1\nb = [${ a ? x}]\n", NULL,
	    "b", "[ x]", NULL},
	{"unbraced else text keeps its space", "e =\nb = [${e?{x}: y }]\n",
	    NULL, "b", "[ y ]", NULL},
	{"braced text keeps inner space", "a = 1\nb = [${a?{ x }}]\n", NULL,
	    "b", "[ x ]", NULL},
	{"$(name?{x}:{y})", "a = 1\nb = $(a?{x}:{y})\n", NULL, "b", "x",
	    NULL},
	{"stray close brace is text", "a = 1\nb = ${a}}\n", NULL, "b", "1}",
	    NULL},
	{"unbraced text keeps colons", "a = 1\nb = ${a?x:y}\n", NULL, "b",
	    "x:y", NULL},
	{"double braces keep one", "a = 1\nb = ${a?{{x}}}\n", NULL, "b",
	    "{x}", NULL},
	{"conditional value expanded", "a = 1\nc = C\nb = ${a?$c-$a}\n",
	    NULL, "b", "C-1", NULL},
	{"$$ is a dollar", "a = x$$y\n", NULL, "a", "x$y", NULL},
	{"lone $ at end", "a = x$\n", NULL, "a", "x$", NULL},
	{"$ before punctuation", "a = $-x\n", NULL, "a", "$-x", NULL},
	{"unbalanced ${", "a = ${b\n", NULL, "a", "${b", NULL},
	{"undefined reference", "a = <$nosuchparam>\n", NULL, "a", "<>",
	    NULL},
	{"default used", "a = $mail_name\n", NULL, "a", "postern", NULL},
	{"default refers to main.cf", "myhostname = mx.example.org\n", NULL,
	    "myorigin", "mx.example.org", NULL},
	{"mydomain from myhostname", "myhostname = mx.sub.example.org\n",
	    NULL, "mydomain", "sub.example.org", NULL},
	{"mydestination default", "myhostname = h.example.org\n", NULL,
	    "mydestination", "h.example.org, localhost.example.org, localhost",
	    NULL},
	{"loop", "a = $b\nb = x$a\n", NULL, "a", "x", "loop"},
	{"self loop", "a = x$a\n", NULL, "a", "x", "loop"},
	{"continuation", "a = x\n  y\n\tz\n", NULL, "a", "x  y\tz", NULL},
	{"indented comment in continuation",
	    "a = x\n  # note\n  y\nb = 1\n", NULL, "a", "x  y", NULL},
	{"blank line inside continuation", "a = x\n\n  y\n", NULL, "a",
	    "x  y", NULL},
	{"comment line", "# a = 1\na = 2\n", NULL, "a", "2", NULL},
	{"indented comment at top level", " # a = 1\na = 2\n", NULL, "a",
	    "2", NULL},
	{"'#' inside value is text", "a = x # y\n", NULL, "a", "x # y", NULL},
	{"later definition wins", "a = 1\na = 2\n", NULL, "a", "2", NULL},
	{"override wins", "a = 1\n", "a=3", "a", "3", NULL},
	{"override with spaces", "a = 1\n", " a = 3 ", "a", "3", NULL},
	{"override of default", "", "mail_name=x", "mail_name", "x", NULL},
	{"override used in expansion", "a = 1\nb = $a\n", "a=5", "b", "5",
	    NULL},
	{"missing '='", "junk line\na = 1\n", NULL, "a", "1",
	    "missing '=' after attribute name"},
	{"missing name", "= 1\na = 2\n", NULL, "a", "2",
	    "missing attribute name"},
	{"indented first line ignored", "  a = 1\n  c = 3\nb = 2\n", NULL,
	    "a", "", "must not start with whitespace"},
	{"text after an ignored line loads", "  a = 1\nb = 2\n", NULL, "b",
	    "2", "must not start with whitespace"},
	{"NUL byte line skipped", "a = x\0y\nb = 2\n", NULL, "b", "2", "NUL"},
	{"NUL byte line: value absent", "a = x\0y\nb = 2\n", NULL, "a", "",
	    "NUL"},
	{"8-bit value", "a = \xc3\xa9t\xc3\xa9\n", NULL, "a",
	    "\xc3\xa9t\xc3\xa9", NULL},
	{"bare CR kept", "a = x\ry\n", NULL, "a", "x\ry", NULL},
	{"unbalanced <> is text", "a = <x\n", NULL, "a", "<x", NULL},
	{"config_directory is the loaded dir", "", NULL, "config_directory",
	    NULL, NULL},
};

/* test_vectors - the table above */
static void
test_vectors(void)
{
	size_t	 i;
	const char *want;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		conf_reset();
		if (vec[i].over)
			conf_set_option(vec[i].over);
		/* sizeof - 1: the text may hold a NUL byte */
		tap_ok(load_text(vec[i].text, strlen(vec[i].text) +
		    (strstr(vec[i].name, "NUL") ? strlen(vec[i].text +
		    strlen(vec[i].text) + 1) + 1 : 0)) == 0,
		    "%s: loads", vec[i].name);
		want = vec[i].want ? vec[i].want : tmpdir;
		tap_is_str(conf_str(vec[i].param), want, vec[i].name);
		if (vec[i].warn)
			tap_ok(strstr(BUF_STR(warnings), vec[i].warn) != NULL,
			    "%s: warns '%s'", vec[i].name, vec[i].warn);
		else
			tap_is_str(BUF_STR(warnings), "", vec[i].name);
	}
}

/* garbage_walk - conf_walk callback: expand everything */
static void
garbage_walk(const char *name, const char *value, void *ctx)
{
	(void)conf_str(name);
}

/* garbage_warn - conf_check callback: count */
static void
garbage_warn(const char *msg, void *ctx)
{
	(*(int *)ctx)++;
}

/* test_garbage - 300 seeded random main.cf files: no crash, sane tail */
static void
test_garbage(void)
{
	static const char alpha[] = "$${}():?= \t\n#ab_x,\\\xff\r{}$a";
	struct buf *b = buf_new(1024);
	int	 it, bad = 0, warned = 0;
	size_t	 i, n;
	unsigned seed = 12345;

	for (it = 0; it < 300; it++) {
		buf_reset(b);
		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % 400;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf_putc(b, (seed >> 16) % 10 == 0 ? (int)((seed >> 8)
			    & 0xff) : alpha[(seed >> 16) % (sizeof(alpha) - 1)]);
		}
		/* Whatever came before, these definitions come last. */
		buf_puts(b, "\na = $b\nb = ${a?{$a}:{x}}\n");
		conf_reset();
		load_text(BUF_STR(b), BUF_LEN(b));
		/* a first: the loop is cut at a, so b = x and a = x. */
		if (strcmp(conf_str("a"), "x") != 0)
			bad++;
		conf_walk(CONF_ALL, garbage_walk, NULL);
		conf_check(garbage_warn, &warned);
	}
	buf_free(b);
	tap_is_int(bad, 0, "300 garbage main.cf files: loaded, expanded, "
	    "checked; loop a/b resolved the same way each time");
}

/* test_read_errors - main.cf missing or unreadable: -1 and the reason */
static void
test_read_errors(void)
{
	char	 err[256], *want, *path = xasprintf("%s/nope", tmpdir);
	size_t	 len = 7;

	want = xasprintf("open %s/nope/main.cf: No such file or directory",
	    tmpdir);
	tap_is_int(conf_load(path, err, sizeof(err)), -1, "no main.cf: -1");
	tap_is_str(err, want, "no main.cf: open error names the file");
	free(want);
	free(path);
	/* a directory named main.cf: opens, then read() fails */
	path = xasprintf("%s/d/main.cf", tmpdir);
	want = xasprintf("%s/d", tmpdir);
	if ((mkdir(want, 0700) < 0 && errno != EEXIST) || mkdir(path, 0700) < 0)
		log_fatal("mkdir %s", path);
	tap_is_int(conf_load(want, err, sizeof(err)), -1,
	    "main.cf a directory: -1");
	free(want);
	want = xasprintf("read %s: Is a directory", path);
	tap_is_str(err, want, "main.cf a directory: read error");
	tap_ok(conf_read_file(path, &len, err, sizeof(err)) == NULL
	    && len == 7, "conf_read_file: NULL, length untouched");
	rmdir(path);
	*strrchr(path, '/') = 0;
	rmdir(path);
	free(want);
	free(path);
}

/* test_split - list splitting keeps {...} groups */
static void
test_split(void)
{
	static const struct {
		const char *in, *want;
	} v[] = {
		{"a, b\tc\n d", "a|b|c|d"},
		{"check_sender_access inline:{ a=REJECT, b=OK }, permit",
		    "check_sender_access|inline:{ a=REJECT, b=OK }|permit"},
		{"regexp:{{/^x/ REJECT}, {/y/ OK}} z",
		    "regexp:{{/^x/ REJECT}, {/y/ OK}}|z"},
		{"unbalanced {a, b", "unbalanced|{a, b"},
		{"stray } close, x", "stray|}|close|x"},
		{"", ""},
		{" , ,, ", ""},
	};
	size_t	 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct strv *l = conf_split(v[i].in);
		char	*j = strv_join(l, "|");

		tap_is_str(j, v[i].want, v[i].in);
		free(j);
		strv_free(l);
	}
}

/* test_overlong - a 200 KB value survives intact */
static void
test_overlong(void)
{
	struct buf *b = buf_new(300000);
	size_t	 n;

	buf_puts(b, "a = ");
	while (BUF_LEN(b) < 200000)
		buf_puts(b, "x,\n    ");
	buf_puts(b, "end\n");
	conf_reset();
	load_text(BUF_STR(b), BUF_LEN(b));
	{
		struct strv *v = conf_list("a");

		n = v->argc;
		tap_ok(n > 25000 && strcmp(v->argv[n - 1], "end") == 0,
		    "overlong continued list: %zu elements", n);
		strv_free(v);
	}
	buf_free(b);

	/* 50000 nested conditionals: a warning, not a stack overflow. */
	b = buf_new(500000);
	buf_puts(b, "b = 1\na = ");
	for (n = 0; n < 50000; n++)
		buf_puts(b, "${b?");
	buf_putc(b, 'x');
	for (n = 0; n < 50000; n++)
		buf_putc(b, '}');
	buf_putc(b, '\n');
	conf_reset();
	load_text(BUF_STR(b), BUF_LEN(b));
	tap_is_str(conf_str("a"), "", "deep nesting expands to empty");
	tap_ok(strstr(BUF_STR(warnings), "unreasonable macro nesting") != NULL,
	    "deep nesting warned");
	{
		struct strv *r = conf_refs(conf_raw("a"), 1);

		tap_ok(r->argc == 1, "deep nesting: conf_refs survives");
		strv_free(r);
	}
	buf_free(b);
}

/* child_status - run fn in a child; its exit status and first log line */
static int
child_status(void (*fn)(void), char *msg, size_t len)
{
	int	 p[2], st;
	pid_t	 pid;
	ssize_t	 n;

	if (pipe(p) < 0 || (pid = fork()) < 0)
		log_fatal("fork");
	if (pid == 0) {
		dup2(p[1], 2);
		log_set_hook(NULL, NULL);
		log_init("conf_test", LOG_TO_STDERR);
		fn();
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], msg, len - 1);
	msg[n > 0 ? n : 0] = 0;
	close(p[0]);
	waitpid(pid, &st, 0);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : 128);
}

static void bad_int(void) { (void)conf_int("smtpd_recipient_limit"); }
static void bad_time(void) { (void)conf_time("smtpd_timeout"); }
static void bad_bool(void) { (void)conf_bool("smtpd_helo_required"); }

/* test_typed - int, time, bool */
static void
test_typed(void)
{
	char	 msg[512];

	conf_reset();
	load_text("maximal_queue_lifetime = 2\ndelay_warning_time = 6h\n"
	    "smtpd_timeout = 60\nminimal_backoff_time = 2m\n"
	    "smtpd_helo_required = yes\nbiff = No\nmessage_size_limit = 0\n"
	    "postscreen_dnsbl_whitelist_threshold = -2\n",
	    strlen("maximal_queue_lifetime = 2\ndelay_warning_time = 6h\n"
	    "smtpd_timeout = 60\nminimal_backoff_time = 2m\n"
	    "smtpd_helo_required = yes\nbiff = No\nmessage_size_limit = 0\n"
	    "postscreen_dnsbl_whitelist_threshold = -2\n"));
	tap_is_int(conf_time("maximal_queue_lifetime"), 2 * 86400,
	    "bare number in days for maximal_queue_lifetime");
	tap_is_int(conf_time("delay_warning_time"), 6 * 3600, "6h");
	tap_is_int(conf_time("smtpd_timeout"), 60, "bare seconds");
	tap_is_int(conf_time("minimal_backoff_time"), 120, "2m");
	tap_is_int(conf_time("maximal_backoff_time"), 4000, "default 4000s");
	tap_is_int(conf_time("bounce_queue_lifetime"), 5 * 86400,
	    "default 5d");
	tap_is_int(conf_time("queue_run_delay"), 300, "default 300s");
	tap_is_int(conf_bool("smtpd_helo_required"), 1, "bool yes");
	tap_is_int(conf_bool("biff"), 0, "bool No");
	tap_is_int(conf_bool("smtpd_peername_lookup"), 1,
	    "default smtpd_peername_lookup yes");
	tap_is_int(conf_int("message_size_limit"), 0, "int 0");
	tap_is_int(conf_int("smtpd_recipient_limit"), 1000, "default 1000");
	tap_is_int(conf_int("smtpd_hard_error_limit"), 20, "default 20");
	tap_is_int(conf_int("line_length_limit"), 2048, "default 2048");
	tap_is_int(conf_int("postscreen_dnsbl_whitelist_threshold"), -2,
	    "negative int");
	tap_is_str(conf_str("recipient_delimiter"), "",
	    "recipient_delimiter default empty");

	conf_reset();
	load_text("smtpd_recipient_limit = 10x\nsmtpd_timeout = 5 s\n"
	    "smtpd_helo_required = maybe\n", strlen("smtpd_recipient_limit = "
	    "10x\nsmtpd_timeout = 5 s\nsmtpd_helo_required = maybe\n"));
	tap_ok(child_status(bad_int, msg, sizeof(msg)) == 1 && strstr(msg,
	    "fatal: bad numerical configuration: smtpd_recipient_limit = 10x"),
	    "bad int is fatal, names the parameter");
	tap_ok(child_status(bad_time, msg, sizeof(msg)) == 1 && strstr(msg,
	    "smtpd_timeout = 5 s"), "bad time is fatal, names the parameter");
	tap_ok(child_status(bad_bool, msg, sizeof(msg)) == 1 && strstr(msg,
	    "smtpd_helo_required = maybe"), "bad bool is fatal");
}

/* walk_count - count conf_walk callbacks */
static void
walk_count(const char *name, const char *value, void *ctx)
{
	(*(int *)ctx)++;
}

/* warn_collect - conf_check into a buffer */
static void
warn_collect(const char *msg, void *ctx)
{
	buf_puts(ctx, msg);
	buf_putc(ctx, '\n');
}

/* test_seed - the seed's main.cf against the reference list */
static void
test_seed(void)
{
	const char *top = getenv("POSTERN_TOP");
	char	*dir, *ref, line[4096], *eq, *norm, err[256];
	const char *fv;
	FILE	*fp;
	int	 nref = 0, nok = 0, nexp = 0;
	struct buf *w = buf_new(256), *want;

	top = top ? top : ".";
	dir = xasprintf("%s/etc/seed", top);
	ref = xasprintf("%s/tests/data/seed-postconf-n.ref", top);
	conf_reset();
	buf_reset(warnings);
	tap_ok(conf_load(dir, err, sizeof(err)) == 0, "seed main.cf loads");
	tap_is_str(BUF_STR(warnings), "", "seed main.cf: no syntax warnings");
	if ((fp = fopen(ref, "r")) == NULL)
		log_fatal("open %s", ref);
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#')
			continue;
		if ((eq = strstr(line, " =")) == NULL) {
			tap_ok(0, "reference line without \" =\": %s", line);
			continue;
		}
		*eq = 0;
		nref++;
		fv = conf_file_value(line, NULL);
		norm = fv ? conf_normalize(fv) : NULL;
		if (norm && strcmp(norm, eq[2] ? eq + 3 : "") == 0)
			nok++;
		else
			tap_is_str(norm, eq[2] ? eq + 3 : "", line);
		free(norm);
	}
	fclose(fp);
	tap_ok(nref == 63 && nok == nref, "seed: %d of %d parameters have "
	    "Postfix's value", nok, nref);
	conf_walk(CONF_EXPLICIT | CONF_USED, walk_count, &nexp);
	tap_is_int(nexp, nref + 1,
	    "seed: postconf -n count is the reference + config_directory");
	/* Postfix's -n leaves out the two unused smtp_*_restrictions. */
	nexp = 0;
	conf_walk(CONF_EXPLICIT, walk_count, &nexp);
	tap_is_int(nexp, nref + 3,
	    "seed: explicit settings are those + the two unused ones");

	/* Expanded values a daemon sees. */
	tap_is_str(conf_str("myorigin"), "example.com", "seed myorigin");
	tap_is_str(conf_str("smtpd_banner"),
	    "server.example.com ESMTP postern (Ubuntu)", "seed smtpd_banner");
	tap_is_str(conf_str("smtp_tls_session_cache_database"),
	    "btree:/var/lib/postern/smtp_scache", "seed ${data_directory}");
	tap_is_int(conf_time("delay_warning_time"), 21600, "seed 6h");
	{
		struct strv *v = conf_list("postscreen_dnsbl_sites");

		tap_ok(v->argc == 17 && strcmp(v->argv[0],
		    "zen.spamhaus.org*3") == 0 && strcmp(v->argv[16],
		    "wl.mailspike.net=127.0.0.[19;20]*-2") == 0,
		    "seed postscreen_dnsbl_sites: 17 sites, comments skipped");
		strv_free(v);
	}

	/* What postern check must say about main.cf: what Postfix says. */
	conf_check(warn_collect, w);
	want = buf_new(256);
	free(ref);
	ref = xasprintf("%s/tests/data/seed-postconf-unused.ref", top);
	if ((fp = fopen(ref, "r")) == NULL)
		log_fatal("open %s", ref);
	while (fgets(line, sizeof(line), fp)) {
		static const char pfx[] = "postconf: warning: DIR/";

		if (line[0] == '#')
			continue;
		if (strncmp(line, pfx, sizeof(pfx) - 1) != 0) {
			tap_ok(0, "unused reference line: %s", line);
			continue;
		}
		buf_printf(want, "%s/%s", dir, line + sizeof(pfx) - 1);
	}
	fclose(fp);
	tap_ok(strstr(BUF_STR(want), "unused parameter: smtp_client_"
	    "restrictions=") && strstr(BUF_STR(want), "unused parameter: "
	    "smtp_sender_restrictions="), "seed: Postfix names the two unused");
	tap_is_str(BUF_STR(w), BUF_STR(want),
	    "seed: exactly Postfix's unused-parameter warnings");
	buf_free(want);
	buf_free(w);
	free(dir);
	free(ref);
}

/* test_check - unused and undefined, user-defined parameters */
static void
test_check(void)
{
	struct buf *w = buf_new(256);
	char	*want;

	conf_reset();
	load_text("mine = 1\nsmtpd_banner = $mine $ghost ${ghost2?x}\n"
	    "orphan = 2\nmy_dyn = 3\n", strlen("mine = 1\nsmtpd_banner = $mine"
	    " $ghost ${ghost2?x}\norphan = 2\nmy_dyn = 3\n"));
	conf_register("my_dyn");
	conf_check(warn_collect, w);
	want = xasprintf("%s/main.cf: unused parameter: orphan=2\n"
	    "%s/main.cf: undefined parameter: ghost\n"
	    "%s/main.cf: undefined parameter: ghost2\n", tmpdir, tmpdir,
	    tmpdir);
	tap_is_str(BUF_STR(w), want, "referenced and registered names are "
	    "used; $ghost and ${ghost2?x} undefined");
	free(want);
	buf_free(w);
	tap_ok(conf_known("smtpd_banner") && conf_known("my_dyn")
	    && !conf_known("orphan") && !conf_known("nosuch"), "conf_known");
	tap_ok(conf_raw("nosuch") == NULL && conf_raw("orphan")
	    && strcmp(conf_raw("smtpd_banner"), "$mine $ghost ${ghost2?x}")
	    == 0, "conf_raw");
	tap_is_str(conf_default("smtpd_banner"), "$myhostname ESMTP $mail_name",
	    "conf_default");
	{
		struct strv *r = conf_refs("$a ${b} $(c) ${d?$e} $$f ${g:{h}}",
		    1);
		char	*j = strv_join(r, ",");

		tap_is_str(j, "a,b,c,e,d,g", "conf_refs with conditionals");
		free(j);
		strv_free(r);
		r = conf_refs("$a ${d?$e}", 0);
		j = strv_join(r, ",");
		tap_is_str(j, "a,e", "conf_refs without conditionals");
		free(j);
		strv_free(r);
	}
	{
		char	*x = conf_expand("[$mine/${orphan}]");

		tap_is_str(x, "[1/2]", "conf_expand");
		free(x);
	}
}

/* reader - many threads expanding at once see one consistent value */
static void *
reader(void *arg)
{
	long	 i, bad = 0;

	for (i = 0; i < 2000; i++) {
		if (strcmp(conf_str("smtpd_banner"), "h.example ESMTP postern")
		    != 0 || conf_time("maximal_queue_lifetime") != 432000)
			bad++;
		if (i % 100 == 0) {
			char	*x = conf_expand("$myorigin/$mydomain");

			if (strcmp(x, "h.example/example"))
				bad++;
			free(x);
		}
	}
	return ((void *)bad);
}

/* test_macro_syntax - what Postfix refuses, conf_macro_check() names */
static void
test_macro_syntax(void)
{
	static const struct {
		const char *text;
		const char *why;	/* NULL: valid */
	} v[] = {
		{"plain $a ${b} $(c) $$", NULL},
		{"${a?{x}:{y}} ${a:{x}} ${a?x:y} ${ a ? x }", NULL},
		{"x$", "empty macro name"},
		{"$-x", "empty macro name"},
		{"${b", "truncated macro reference"},
		{"$(a", "truncated macro reference"},
		{"${a==1?x}", "attribute name syntax error"},
		{"${a?{x}:{y}:{z}}", "unexpected input"},
		{"${a?{x} junk}", "\":\" expected"},
		{"${a:{x}:{y}}", "unexpected input"},
		{"${{a}}", "relational expressions are not supported"},
		{"${a?{$b${c}}}", NULL},
		{"${a?{ x$ }}", "empty macro name"},
	};
	char	 err[256];
	size_t	 i;
	int	 r;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		err[0] = 0;
		r = conf_macro_check(v[i].text, err, sizeof(err));
		if (v[i].why == NULL)
			tap_ok(r == 0, "macro syntax ok: %s", v[i].text);
		else
			tap_ok(r < 0 && strstr(err, v[i].why) != NULL,
			    "macro syntax error: %s: %s", v[i].text, err);
	}
	{
		struct buf *w = buf_new(64);

		conf_reset();
		load_text("smtpd_banner = ${b\n", strlen("smtpd_banner = "
		    "${b\n"));
		conf_check(warn_collect, w);
		tap_ok(strstr(BUF_STR(w), "parameter smtpd_banner: truncated "
		    "macro reference") != NULL,
		    "conf_check reports bad syntax");
		tap_is_str(conf_str("smtpd_banner"), "${b",
		    "bad syntax is kept as written");
		buf_free(w);
	}
}

/* test_threads - conf_str() from worker threads */
static void
test_threads(void)
{
	pthread_t t[8];
	void	*r;
	long	 bad = 0;
	int	 i;

	conf_reset();
	load_text("myhostname = h.example\n", strlen("myhostname = "
	    "h.example\n"));
	for (i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, reader, NULL);
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	tap_is_int(bad, 0, "8 threads read consistent values");
}

/* test_params - the table itself */
static void
test_params(void)
{
	const struct conf_param *p, *q;
	int	 dup = 0, n = 0;
	static const char *seed_o[] = {
		"syslog_name", "smtpd_tls_security_level",
		"smtpd_sasl_auth_enable", "smtpd_reject_unlisted_recipient",
		"smtpd_client_restrictions", "smtpd_helo_restrictions",
		"smtpd_sender_restrictions", "smtpd_recipient_restrictions",
		"smtpd_relay_restrictions", "milter_macro_daemon_name", NULL
	};
	const char **s;

	for (p = conf_params; p->name; p++, n++)
		for (q = p + 1; q->name; q++)
			if (strcmp(p->name, q->name) == 0) {
				dup++;
				tap_ok(0, "duplicate parameter %s", p->name);
			}
	tap_ok(dup == 0 && n > 300, "params: %d unique names", n);
	for (s = seed_o; *s; s++)
		tap_ok(conf_known(*s), "master.cf -o %s is known", *s);
	conf_reset();
	tap_is_str(conf_str("mail_name"), "postern", "mail_name");
	tap_is_str(conf_str("queue_directory"), "/var/spool/postern",
	    "queue_directory");
	tap_ok(strchr(conf_str("myhostname"), '.') != NULL,
	    "myhostname has a dot");
	tap_ok(access(conf_str("daemon_directory"), X_OK) == 0,
	    "daemon_directory is a directory");
	{
		struct strv *v = conf_mynetworks();
		char	*j = strv_join(v, " ");

		{
			size_t	 k, six = 0;
			int	 order = 1;

			/* IPv4 first, then [::1]/128 and the other IPv6. */
			for (k = 0; k < v->argc; k++)
				if (strcmp(v->argv[k], "[::1]/128") == 0)
					six = k;
			for (k = 0; k < v->argc; k++)
				if ((strchr(v->argv[k], '[') != NULL)
				    != (k >= six))
					order = 0;
			tap_ok(v->argc >= 2 && six > 0 && order
			    && strcmp(v->argv[0], "127.0.0.0/8") == 0,
			    "mynetworks host style, IPv4 first: %s", j);
		}
		free(j);
		strv_free(v);
		conf_set("mynetworks_style", "class");
		conf_set("inet_protocols", "ipv4");
		v = conf_mynetworks();
		tap_ok(v->argc >= 1 && strcmp(v->argv[0], "127.0.0.0/8") == 0
		    && strstr(conf_str("mynetworks"), "::") == NULL,
		    "mynetworks class style, ipv4 only: %s",
		    conf_str("mynetworks"));
		strv_free(v);
		conf_set("mynetworks", "10.0.0.0/8, cidr:/x");
		v = conf_mynetworks();
		tap_ok(v->argc == 2 && strcmp(v->argv[1], "cidr:/x") == 0,
		    "explicit mynetworks wins");
		strv_free(v);
	}
}

int
main(void)
{
	char	*cmd;

	if (mkdtemp(tmpdir) == NULL)
		return (1);
	warnings = buf_new(256);
	log_init("conf_test", 0);
	log_set_hook(hook, NULL);
	test_vectors();
	test_split();
	test_read_errors();
	test_garbage();
	test_overlong();
	test_typed();
	test_check();
	test_seed();
	test_threads();
	test_macro_syntax();
	test_params();
	conf_reset();
	buf_free(warnings);
	cmd = xasprintf("rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		tap_ok(0, "cleanup");
	free(cmd);
	return (tap_done());
}
