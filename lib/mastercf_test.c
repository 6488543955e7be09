/*
 * NAME
 *	mastercf_test - table-driven tests for mastercf.c
 * DESCRIPTION
 *	The seed's master.cf (etc/seed/master.cf, under $POSTERN_TOP or
 *	the current directory) parses with every entry and option as
 *	written; hostile entries are skipped with a file:line warning
 *	and do not stop the rest of the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "mastercf.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

static struct buf *warnings;

/* hook - collect warnings */
static void
hook(int level, const char *text, void *ctx)
{
	if (level == LOG_LVL_WARN) {
		buf_puts(warnings, text);
		buf_putc(warnings, '\n');
	}
}

/* load_text - write text to a temp file and parse it */
static struct mastercf *
load_text(const char *text, size_t len)
{
	char	 path[] = "/tmp/mastercf_test.XXXXXX";
	char	 err[256];
	struct mastercf *m;
	int	 fd = mkstemp(path);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		log_fatal("temp file");
	close(fd);
	m = mastercf_load(path, err, sizeof(err));
	unlink(path);
	return (m);
}

static const struct {
	const char *name;
	const char *text;
	int	 nsvc;		/* entries that survive */
	const char *warn;	/* substring of the warning, or NULL */
} hostile[] = {
	{"empty file", "", 0, NULL},
	{"only comments", "# x\n   # y\n\n", 0, NULL},
	{"too few fields", "smtp inet n - - - -\n", 0, "field count 7"},
	{"bad type", "smtp tcp n - - - - smtpd\n", 0, "bad transport type"},
	{"bad maxproc", "smtp inet n - - - x smtpd\n", 0,
	    "bad process limit"},
	{"negative maxproc", "smtp inet n - - - -1 smtpd\n", 0,
	    "bad process limit"},
	{"huge maxproc", "smtp inet n - - - 99999999999999999999 smtpd\n",
	    0, "bad process limit"},
	{"bad wakeup", "x unix n - - 5q 1 qmgr\n", 0, "bad wakeup time"},
	{"bad private", "x unix maybe - - - 1 qmgr\n", 0,
	    "bad private field"},
	{"bad line then good line", "x unix\nqmgr unix n - n 300 1 qmgr\n",
	    1, "field count 2"},
	{"continuation without entry", "  -o a=b\nqmgr unix n - n 300 1 "
	    "qmgr\n", 1, "must not start with whitespace"},
	{"bare CR kept inside a field", "a unix - - - - 1 cmd\r\n", 1, NULL},
	{"no final newline", "a unix - - - - 1 cmd", 1, NULL},
	{"8-bit service name", "\xc3\xa9 unix - - - - 1 cmd\n", 1, NULL},
	{"overlong argument", NULL, 1, NULL},
	{"unbalanced brace is a word", "a unix - - - - 1 cmd -o {x=1\n", 1,
	    NULL},
};

/* test_seed - the seed's master.cf */
static void
test_seed(void)
{
	const char *top = getenv("POSTERN_TOP");
	char	*path, err[256], *j;
	struct mastercf *m;
	const struct mastercf_service *s;
	static const char *sub_opts =
	    "syslog_name=postfix/submission|smtpd_tls_security_level=encrypt|"
	    "smtpd_sasl_auth_enable=yes|smtpd_reject_unlisted_recipient=no|"
	    "smtpd_client_restrictions=$mua_client_restrictions|"
	    "smtpd_helo_restrictions=$mua_helo_restrictions|"
	    "smtpd_sender_restrictions=$mua_sender_restrictions|"
	    "smtpd_recipient_restrictions=|"
	    "smtpd_relay_restrictions=permit_sasl_authenticated,reject|"
	    "milter_macro_daemon_name=ORIGINATING";

	path = xasprintf("%s/etc/seed/master.cf", top ? top : ".");
	m = mastercf_load(path, err, sizeof(err));
	tap_ok(m != NULL, "seed master.cf loads (%s)", m ? path : err);
	if (m == NULL) {
		free(path);
		return;
	}
	tap_is_int((long)m->nsvc, 34, "seed: 34 services");
	tap_is_str(BUF_STR(warnings), "", "seed: no warnings");
	s = mastercf_find(m, "submission", "inet");
	tap_ok(s != NULL, "seed: submission/inet found");
	if (s) {
		j = strv_join(s->options, "|");
		tap_is_str(j, sub_opts, "submission -o options in order");
		free(j);
		tap_is_int(s->private_, 0, "submission private n");
		tap_is_int(s->maxproc, 100, "submission maxproc - is 100");
		tap_is_str(s->command, "smtpd", "submission command");
		tap_is_int((long)s->args->argc, 20, "submission 20 args");
	}
	if (s) {
		/* The submission service's parameter view. */
		conf_reset();
		conf_set("mua_helo_restrictions", "permit_sasl_authenticated");
		mastercf_apply(s);
		tap_is_str(conf_str("syslog_name"), "postfix/submission",
		    "apply: syslog_name from -o");
		tap_is_str(conf_str("smtpd_helo_restrictions"),
		    "permit_sasl_authenticated", "apply: -o value expanded");
		tap_is_str(conf_str("smtpd_client_restrictions"), "",
		    "apply: undefined reference expands to empty");
		tap_is_str(conf_str("smtpd_recipient_restrictions"), "",
		    "apply: -o name= is an empty override");
		conf_reset();
	}
	s = mastercf_find(m, "smtp", "inet");
	tap_ok(s && strcmp(s->command, "postscreen") == 0 && s->maxproc == 1,
	    "smtp/inet is postscreen, maxproc 1");
	s = mastercf_find(m, "smtp", "unix");
	tap_ok(s && strcmp(s->command, "smtp") == 0, "smtp/unix is smtp");
	s = mastercf_find(m, "smtpd", NULL);
	tap_ok(s && strcmp(s->type, "pass") == 0 && s->private_ == 1
	    && s->unpriv == 1 && s->chroot == 0 && s->wakeup == 0
	    && s->wakeup_if_used == 0, "smtpd pass: '-' defaults");
	s = mastercf_find(m, "tlsmgr", "unix");
	tap_ok(s && s->wakeup == 1000 && s->wakeup_if_used == 1
	    && strcmp(s->raw[5], "1000?") == 0, "tlsmgr wakeup 1000?");
	s = mastercf_find(m, "qmgr", "unix");
	tap_ok(s && s->wakeup == 300 && !s->wakeup_if_used && s->chroot == 0
	    && s->private_ == 0 && s->maxproc == 1, "qmgr n - n 300 1");
	s = mastercf_find(m, "maildrop", "unix");
	j = s ? strv_join(s->args, "|") : NULL;
	tap_is_str(j, "flags=DRhu|user=vmail|argv=/usr/bin/maildrop|-d|"
	    "${recipient}", "maildrop pipe args across continuation");
	free(j);
	tap_ok(s && s->unpriv == 0 && strcmp(s->command, "pipe") == 0,
	    "maildrop unpriv n, command pipe");
	s = mastercf_find(m, "uucp", "unix");
	j = s ? strv_join(s->args, "|") : NULL;
	tap_is_str(j, "flags=Fqhu|user=uucp|argv=uux|-r|-n|-z|-a$sender|-|"
	    "$nexthop!rmail|($recipient)", "uucp pipe args");
	free(j);
	s = mastercf_find(m, "mailman", "unix");
	j = s ? strv_join(s->args, "|") : NULL;
	tap_is_str(j, "flags=FR|user=list|argv=/usr/lib/mailman/bin/"
	    "postfix-to-mailman.py|${nexthop}|${user}",
	    "mailman: two continuation lines");
	free(j);
	s = mastercf_find(m, "scalemail-backend", "unix");
	tap_ok(s && s->maxproc == 2, "tab-separated entry");
	tap_ok(mastercf_find(m, "628", NULL) == NULL
	    && mastercf_find(m, "smtps", NULL) == NULL
	    && mastercf_find(m, "cyrus", NULL) == NULL,
	    "commented-out entries absent");
	s = mastercf_find(m, "relay", "unix");
	tap_ok(s && s->args->argc == 0, "comment after relay not an arg");
	s = mastercf_find(m, "pickup", "unix");
	j = s ? mastercf_format(s) : NULL;
	tap_is_str(j, "pickup     unix  n       -       -       60      1"
	    "       pickup", "postconf -M layout");
	free(j);
	s = mastercf_find(m, "scalemail-backend", "unix");
	j = s ? mastercf_format(s) : NULL;
	tap_is_str(j, "scalemail-backend unix - n       n       -       2  "
	    "     pipe flags=R user=scalemail argv=/usr/lib/scalemail/"
	    "bin/scalemail-store ${nexthop} ${user} ${extension}",
	    "postconf -M layout, long name");
	free(j);
	mastercf_free(m);
	free(path);
}

/* test_garbage - seeded random master.cf files: every entry kept is sane */
static void
test_garbage(void)
{
	static const char alpha[] = "- 1?yn\t\n#unix inet pass -o a=$b {}";
	struct buf *b = buf_new(1024);
	struct mastercf *m;
	unsigned seed = 4242;
	int	 it, bad = 0, kept = 0;
	size_t	 i, n;
	char	*f;

	for (it = 0; it < 300; it++) {
		buf_reset(b);
		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % 500;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf_putc(b, (seed >> 16) % 12 == 0 ? (int)((seed >> 8)
			    & 0xff) : alpha[(seed >> 16) % (sizeof(alpha) - 1)]);
		}
		buf_puts(b, "\nok unix - - - - 1 cmd -o x=1\n");
		if ((m = load_text(BUF_STR(b), BUF_LEN(b))) == NULL) {
			bad++;
			continue;
		}
		for (i = 0; i < m->nsvc; i++) {
			f = mastercf_format(&m->svc[i]);
			if (m->svc[i].maxproc < 0 || m->svc[i].wakeup < 0
			    || strncmp(f, m->svc[i].name, strlen(
			    m->svc[i].name)) != 0)
				bad++;
			free(f);
		}
		if (mastercf_find(m, "ok", "unix") != NULL)
			kept++;
		mastercf_free(m);
	}
	buf_free(b);
	tap_ok(bad == 0 && kept == 300, "300 garbage master.cf files: sane "
	    "entries, the good last line always kept (%d bad, %d kept)",
	    bad, kept);
}

int
main(void)
{
	size_t	 i;
	struct mastercf *m;
	char	 err[256];

	warnings = buf_new(256);
	log_init("mastercf_test", 0);
	log_set_hook(hook, NULL);
	test_seed();
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		char	*text;

		buf_reset(warnings);
		if (hostile[i].text)
			text = xstrdup(hostile[i].text);
		else {
			struct buf *b = buf_new(100000);

			buf_puts(b, "a unix - - - - 1 cmd -o x=");
			while (BUF_LEN(b) < 90000)
				buf_puts(b, "yyyyyyyyyy");
			buf_putc(b, '\n');
			text = buf_steal(b);
		}
		m = load_text(text, strlen(text));
		tap_ok(m != NULL && m->nsvc == (size_t)hostile[i].nsvc,
		    "%s: %d entries", hostile[i].name, hostile[i].nsvc);
		if (hostile[i].warn)
			tap_ok(strstr(BUF_STR(warnings), hostile[i].warn)
			    != NULL && strstr(BUF_STR(warnings), ", line ")
			    != NULL, "%s: warning with line", hostile[i].name);
		else
			tap_is_str(BUF_STR(warnings), "", hostile[i].name);
		mastercf_free(m);
		free(text);
	}
	/* Malformed entries are counted for master and check (fatal). */
	buf_reset(warnings);
	m = load_text("x unix\nqmgr unix n - n 300 1 qmgr\nsmtp tcp n - - - - "
	    "smtpd\n", 59);
	tap_ok(m && m->nsvc == 1 && m->nbad == 2, "two malformed entries "
	    "counted, the good one kept");
	tap_ok(m && m->bad && strstr(m->bad, ", line 1: missing \"private\" "
	    "field") != NULL, "the first one named by its missing field (%s)",
	    m && m->bad ? m->bad : "none");
	tap_ok(strstr(BUF_STR(warnings), ", line 3: bad transport type field: "
	    "tcp") != NULL && strstr(BUF_STR(warnings), "smtp tcp") == NULL,
	    "a bad field is named with its value, the line is not quoted");
	mastercf_free(m);
	/* NUL byte inside an entry */
	buf_reset(warnings);
	m = load_text("a unix - - - - 1 c\0md\nb unix - - - - 1 x\n", 40);
	tap_ok(m != NULL && m->nsvc == 2 && strstr(BUF_STR(warnings), "NUL"),
	    "NUL byte: warned, entries kept");
	mastercf_free(m);
	/* -o { name = value } */
	m = load_text("a unix - - - - 1 c -o { x = a b } -o y=\n",
	    strlen("a unix - - - - 1 c -o { x = a b } -o y=\n"));
	tap_ok(m && m->nsvc == 1 && m->svc[0].options->argc == 2
	    && strcmp(m->svc[0].options->argv[0], "x=a b") == 0
	    && strcmp(m->svc[0].options->argv[1], "y=") == 0,
	    "-o { x = a b } and empty -o y=");
	mastercf_free(m);
	tap_ok(mastercf_load("/nonexistent/master.cf", err, sizeof(err))
	    == NULL, "missing file: NULL");
	tap_is_str(err, "open /nonexistent/master.cf: No such file or "
	    "directory", "missing file: the reason, as before");
	tap_ok(mastercf_load("/", err, sizeof(err)) == NULL,
	    "a directory: NULL");
	tap_is_str(err, "read /: Is a directory", "a directory: read error");
	test_garbage();
	buf_free(warnings);
	conf_reset();
	return (tap_done());
}
