/*
 * NAME
 *	postscreen_smtp - the dummy SMTP engine of the after-220 tests
 * SYNOPSIS
 *	#include "postscreen.h"
 *
 *	void	psc_smtp_tests(struct psc_state *s);
 *	void	psc_smtp_cancel(struct psc_state *s);
 *
 *	struct psc_forbidden *psc_forbidden_parse(const char *list);
 *	int	psc_forbidden_match(const struct psc_forbidden *f,
 *	    const char *line);
 *	void	psc_forbidden_free(struct psc_forbidden *f);
 * DESCRIPTION
 *	psc_smtp_tests() completes the greeting ("220 $smtpd_banner", after
 *	the "220-$postscreen_greet_banner" teaser, as Postfix) and speaks
 *	just enough SMTP to watch the client: EHLO (what smtpd offers but
 *	PIPELINING and AUTH: SMTPUTF8 when smtputf8_enable, CHUNKING; as
 *	Postfix), HELO, MAIL (parameters ignored, as Postfix), RCPT, DATA,
 *	BDAT (logged "BDAT without valid RCPT", answered 554 and the
 *	connection closed, as Postfix), RSET, NOOP, VRFY, QUIT. Every
 *	RCPT is refused: with the reply of an "enforce" action if a test
 *	failed that way (for example "550 5.3.2 Service currently
 *	unavailable" for a denylisted client), otherwise with "450 4.3.2
 *	Service currently unavailable" - as in Postfix, a client that
 *	passes these tests is allow-listed but must come back on a new
 *	connection to reach smtpd. Reaching RCPT without failing passes
 *	the enabled tests; the cache is updated then, before the 450 goes
 *	out (a client that reconnects at once is PASS OLD), and again when
 *	the client leaves only if a test failed after RCPT.
 *
 *	On every command line, in this order:
 *	  bare newline (LF without CR; postscreen_bare_newline_*),
 *	  non-SMTP command (postscreen_forbidden_commands;
 *	  postscreen_non_smtp_command_*),
 *	  pipelining (more input already waiting after the command, while
 *	  PIPELINING was not offered; postscreen_pipelining_*).
 *	Failures are logged as Postfix does ("BARE NEWLINE from
 *	[addr]:port after CMD", "NON-SMTP COMMAND from ... after CMD:
 *	text", "COMMAND PIPELINING from ... after CMD: text") and their
 *	action applied: drop answers "521 5.5.1 Protocol error" and closes.
 *
 *	STARTTLS is offered when postscreen_tls_security_level is may or
 *	encrypt and a server context could be built from the smtpd_tls_*
 *	certificate parameters (as Postfix's tlsproxy does for postscreen);
 *	at encrypt, commands other than EHLO, HELO, STARTTLS, NOOP, RSET
 *	and QUIT get "530 5.7.0 Must issue a STARTTLS command first".
 *	Plaintext that follows STARTTLS in the same packet is discarded,
 *	never run after the handshake, and the SMTP state is reset.
 *
 *	Limits: postscreen_command_time_limit per command (421 4.4.2),
 *	postscreen_command_count_limit commands (421 4.7.0),
 *	line_length_limit bytes per line (521 5.5.2), all followed by a
 *	close.
 *
 *	psc_forbidden_parse() reads postscreen_forbidden_commands: words
 *	(compared with the command verb, case-insensitively) and inline
 *	"regexp:{{/pattern/ result}}" tables, matched case-insensitively
 *	against the whole line as Postfix's regexp tables are (the default
 *	"/^[^A-Z]/" catches lines that do not start with a letter). Other
 *	table types are ignored with a warning.
 * DIAGNOSTICS
 *	Write errors and EOF end the session ("DISCONNECT [addr]:port").
 */
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "postscreen.h"
#include "str.h"
#include "tls.h"
#include "xalloc.h"

struct psc_forbidden {
	struct strv *words;
	regex_t	*re;
	size_t	 nre;
};

/* add_regexp - "regexp:{{/re/ result}}" or "pcre:..." inline rules */
static void
add_regexp(struct psc_forbidden *f, const char *item)
{
	const char *p = strchr(item, ':') + 1, *end;
	char	*re;

	p += strspn(p, "{ ");
	if (*p != '/' || (end = strchr(p + 1, '/')) == NULL) {
		log_warn("postscreen_forbidden_commands: cannot use \"%s\"; "
		    "ignored", log_safe(item));
		return;
	}
	re = xstrndup(p + 1, (size_t)(end - p - 1));
	f->re = xrealloc(f->re, (f->nre + 1) * sizeof(regex_t));
	if (regcomp(&f->re[f->nre], re, REG_EXTENDED | REG_ICASE |
	    REG_NOSUB) != 0)
		log_warn("postscreen_forbidden_commands: bad regexp \"%s\"; "
		    "ignored", log_safe(re));
	else
		f->nre++;
	free(re);
}

/* psc_forbidden_parse - postscreen_forbidden_commands */
struct psc_forbidden *
psc_forbidden_parse(const char *list)
{
	struct psc_forbidden *f = xcalloc(1, sizeof(*f));
	char	*copy = xstrdup(list ? list : ""), *cp = copy, *item;

	f->words = strv_new();
	while ((item = str_tokq(&cp, STR_LIST_DELIMS)) != NULL) {
		if (strncmp(item, "regexp:", 7) == 0 ||
		    strncmp(item, "pcre:", 5) == 0)
			add_regexp(f, item);
		else if (strchr(item, ':'))
			log_warn("postscreen_forbidden_commands: table \"%s\" "
			    "not supported; ignored", log_safe(item));
		else
			strv_add(f->words, item);
	}
	free(copy);
	return (f);
}

/* psc_forbidden_match - is this line a non-SMTP command? */
int
psc_forbidden_match(const struct psc_forbidden *f, const char *line)
{
	size_t	 i, vlen = strcspn(line, " \t");

	for (i = 0; i < f->words->argc; i++)
		if (strlen(f->words->argv[i]) == vlen &&
		    strncasecmp(f->words->argv[i], line, vlen) == 0)
			return (1);
	for (i = 0; i < f->nre; i++)
		if (regexec(&f->re[i], line, 0, NULL, 0) == 0)
			return (1);
	return (0);
}

/* psc_forbidden_free - release */
void
psc_forbidden_free(struct psc_forbidden *f)
{
	size_t	 i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nre; i++)
		regfree(&f->re[i]);
	free(f->re);
	strv_free(f->words);
	free(f);
}

/* psc_smtp_cancel - forget the engine's events and buffers */
void
psc_smtp_cancel(struct psc_state *s)
{
	buf_free(s->in);
	s->in = NULL;
}

/* reply - send, or hang up; 1 if the state is gone */
static int
reply(struct psc_state *s, const char *text)
{
	if (psc_send_reply(s, text) == 0)
		return (0);
	psc_hangup(s, NULL);
	return (1);
}

/* limit_drop - a limit was hit: log, answer, close */
static void
limit_drop(struct psc_state *s, const char *what, const char *text)
{
	log_info("%s from %s after %s", what, psc_client(s), s->last_cmd);
	psc_drop(s, text);
}

/* strip_reply - a reply without its CRLF, for logs */
static const char *
strip_reply(const char *r)
{
	static char buf[300];

	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(r, "\r\n"), r);
	return (buf);
}

/* do_rcpt - refuse, and count the after-220 tests as passed */
static int
do_rcpt(struct psc_state *s, const char *arg)
{
	const char *r = s->enforce_reply ? s->enforce_reply :
	    "450 4.3.2 Service currently unavailable\r\n";
	const char *to = arg;
	int	 i;

	for (i = PSC_TEST_PIPEL; i < PSC_NTESTS; i++)
		if (s->todo[i] && !s->fail[i]) {
			s->pass[i] = 1;
			s->todo[i] = 0;
		}
	if (strncasecmp(to, "TO:", 3) == 0)
		to += 3;
	to += strspn(to, " <");
	log_info("NOQUEUE: reject: RCPT from %s: %s; from=<%s>, to=<%.*s>, "
	    "proto=%s, helo=<%s>", psc_client(s), strip_reply(r),
	    s->sender ? log_safe(s->sender) : "", (int)strcspn(to, ">"),
	    log_safe(to), s->esmtp ? "ESMTP" : "SMTP",
	    s->helo ? log_safe(s->helo) : "");
	/* In the cache before the 450 that makes the client come back. */
	psc_pass_rcpt(s);
	return (reply(s, r));
}

/* tls_offered - may this session still start TLS? */
static int
tls_offered(const struct psc_state *s)
{
	return (psc_tls != NULL && psc_var.tls_level >= TLS_LEV_MAY &&
	    s->tls_state == 0);
}

/* do_starttls - answer 220, forget the plaintext, start the handshake */
static int
do_starttls(struct psc_state *s, const char *arg)
{
	if (!tls_offered(s))
		return (reply(s, "502 5.5.1 Error: command not implemented\r\n"));
	if (*arg)
		return (reply(s, "501 5.5.4 Syntax: STARTTLS\r\n"));
	if (reply(s, "220 2.0.0 Ready to start TLS\r\n"))
		return (1);
	/* Plaintext sent after STARTTLS is never read as commands. */
	buf_reset(s->in);
	free(s->helo);
	free(s->sender);
	s->helo = s->sender = NULL;
	s->esmtp = 0;
	s->ssl = tls_ssl_new(psc_tls, s->fd, NULL, NULL);
	s->tls_state = 1;
	return (0);
}

/*
 * do_bdat - as Postfix's postscreen: log, answer and hang up, since
 * the chunk that follows would be read as commands; 1 (state gone)
 */
static int
do_bdat(struct psc_state *s, const char *arg)
{
	log_info("BDAT without valid RCPT from %s", psc_client(s));
	psc_finish_after_smtp(s);
	psc_drop(s, *arg == '\0' ? "501 5.5.4 Syntax: BDAT count [LAST]\r\n"
	    : s->sender == NULL ? "554 5.5.1 Error: need MAIL command\r\n"
	    : "554 5.5.1 Error: no valid recipients\r\n");
	return (1);
}

/* do_command - execute one command; 1 if the state is gone */
static int
do_command(struct psc_state *s, char *verb, char *arg)
{
	char	 text[1024];

	if (strcasecmp(verb, "EHLO") == 0 || strcasecmp(verb, "HELO") == 0) {
		if (*arg == '\0')
			return (reply(s, "501 5.5.4 Syntax: EHLO hostname\r\n"));
		free(s->helo);
		s->helo = xstrdup(arg);
		if (toupper((unsigned char)verb[0]) == 'H') {
			snprintf(text, sizeof(text), "250 %s\r\n",
			    psc_var.myhostname);
			return (reply(s, text));
		}
		s->esmtp = 1;
		/* What smtpd offers but PIPELINING and AUTH (Postfix's list) */
		snprintf(text, sizeof(text), "250-%s\r\n250-SIZE %ld\r\n%s"
		    "250-ETRN\r\n%s250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
		    "250-DSN\r\n%s250 CHUNKING\r\n", psc_var.myhostname,
		    psc_var.message_size_limit,
		    psc_var.disable_vrfy ? "" : "250-VRFY\r\n",
		    tls_offered(s) ? "250-STARTTLS\r\n" : "",
		    conf_bool("smtputf8_enable") ? "250-SMTPUTF8\r\n" : "");
		return (reply(s, text));
	}
	if (strcasecmp(verb, "STARTTLS") == 0)
		return (do_starttls(s, arg));
	if (psc_var.tls_level >= TLS_LEV_ENCRYPT && psc_tls &&
	    s->tls_state != 2 && strcasecmp(verb, "NOOP") != 0 &&
	    strcasecmp(verb, "RSET") != 0 && strcasecmp(verb, "QUIT") != 0)
		return (reply(s, "530 5.7.0 Must issue a STARTTLS command "
		    "first\r\n"));
	if (strcasecmp(verb, "MAIL") == 0) {
		if (strncasecmp(arg, "FROM:", 5) == 0)
			arg += 5;
		arg += strspn(arg, " <");
		arg[strcspn(arg, ">")] = '\0';
		free(s->sender);
		s->sender = xstrdup(arg);
		return (reply(s, "250 2.1.0 Ok\r\n"));
	}
	if (strcasecmp(verb, "RCPT") == 0 || strcasecmp(verb, "VRFY") == 0)
		return (do_rcpt(s, arg));
	if (strcasecmp(verb, "DATA") == 0)
		return (reply(s, "554 5.5.1 Error: no valid recipients\r\n"));
	if (strcasecmp(verb, "BDAT") == 0)
		return (do_bdat(s, arg));
	if (strcasecmp(verb, "RSET") == 0 || strcasecmp(verb, "NOOP") == 0)
		return (reply(s, "250 2.0.0 Ok\r\n"));
	if (strcasecmp(verb, "QUIT") == 0) {
		(void)psc_send_reply(s, "221 2.0.0 Bye\r\n");
		psc_finish_after_smtp(s);
		psc_hangup(s, NULL);
		return (1);
	}
	if (strcasecmp(verb, "AUTH") == 0 || strcasecmp(verb, "ETRN") == 0)
		return (reply(s, "502 5.5.1 Error: command not implemented\r\n"));
	if (*verb == '\0')
		return (reply(s, "500 5.5.2 Error: bad syntax\r\n"));
	return (reply(s, "502 5.5.2 Error: command not recognized\r\n"));
}

/* check_line - the after-220 tests on one line; 1 if the state is gone */
static int
check_line(struct psc_state *s, const char *line, int bare_lf,
    const char *rest, size_t restlen)
{
	char	 text[400];

	if (bare_lf && s->todo[PSC_TEST_BARLF]) {
		log_info("BARE NEWLINE from %s after %s", psc_client(s),
		    s->last_cmd);
		if (psc_fail(s, PSC_TEST_BARLF, psc_var.barlf_action,
		    "550 5.5.1 Protocol error\r\n",
		    "521 5.5.1 Protocol error\r\n"))
			return (1);
	}
	if (s->todo[PSC_TEST_NSMTP] && psc_var.forbidden &&
	    psc_forbidden_match(psc_var.forbidden, line)) {
		log_info("NON-SMTP COMMAND from %s after %s: %s", psc_client(s),
		    s->last_cmd, psc_escape(line, strlen(line), text,
		    sizeof(text)));
		if (psc_fail(s, PSC_TEST_NSMTP, psc_var.nsmtp_action,
		    "550 5.5.1 Protocol error\r\n",
		    "521 5.5.1 Protocol error\r\n"))
			return (1);
	}
	/* BDAT's chunk follows it at once: not pipelining (Postfix) */
	if (restlen > 0 && s->todo[PSC_TEST_PIPEL]
	    && !(strncasecmp(line, "BDAT", 4) == 0 && (line[4] == ' '
	    || line[4] == '\0'))) {
		char	 verb[16];

		snprintf(verb, sizeof(verb), "%.*s", (int)strcspn(line, " "),
		    line);
		log_info("COMMAND PIPELINING from %s after %s: %s",
		    psc_client(s), log_safe(verb), psc_escape(rest, restlen,
		    text, sizeof(text)));
		if (psc_fail(s, PSC_TEST_PIPEL, psc_var.pipel_action,
		    "550 5.5.1 Protocol error\r\n",
		    "521 5.5.1 Protocol error\r\n"))
			return (1);
	}
	return (0);
}

/* one_line - take one line off the input; 1 if the state is gone */
static int
one_line(struct psc_state *s, size_t eol)
{
	char	*line, *verb, *arg;
	int	 bare_lf, gone;

	bare_lf = (eol == 0 || BUF_STR(s->in)[eol - 1] != '\r');
	line = xstrndup(BUF_STR(s->in), bare_lf ? eol : eol - 1);
	if (++s->ncmds > psc_var.command_count_limit) {
		free(line);
		limit_drop(s, "COMMAND COUNT LIMIT",
		    "421 4.7.0 Error: too many commands\r\n");
		return (1);
	}
	gone = check_line(s, line, bare_lf, BUF_STR(s->in) + eol + 1,
	    BUF_LEN(s->in) - eol - 1);
	if (!gone) {
		/* Consume the line before the reply (QUIT frees s). */
		memmove(BUF_STR(s->in), BUF_STR(s->in) + eol + 1,
		    BUF_LEN(s->in) - eol - 1);
		buf_truncate(s->in, BUF_LEN(s->in) - eol - 1);
		arg = line;
		verb = str_token(&arg, " \t");
		if (verb == NULL)
			verb = "";
		arg += strspn(arg, " \t");
		gone = do_command(s, verb, arg);
		if (!gone)
			snprintf(s->last_cmd, sizeof(s->last_cmd), "%s",
			    *verb ? log_safe(verb) : "(empty)");
	}
	free(line);
	return (gone);
}

/* tls_continue - drive the server handshake */
static void
tls_continue(struct psc_state *s)
{
	char	 info[200];
	int	 rc, e;

	ERR_clear_error();
	if ((rc = SSL_do_handshake(s->ssl)) == 1) {
		s->tls_state = 2;
		log_info("TLS connection established from %s: %s",
		    psc_client(s), tls_log_info(s->ssl, info, sizeof(info)));
		return;
	}
	e = SSL_get_error(s->ssl, rc);
	if (e == SSL_ERROR_WANT_READ)
		return;
	/* WANT_WRITE: the first flight did not fit the socket: give up. */
	log_info("TLS handshake failed for %s", psc_client(s));
	psc_hangup(s, NULL);
}

/* tls_input - decrypt what is there; bytes, 0 at EOF, -1 (errno) */
static ssize_t
tls_input(struct psc_state *s)
{
	char	 data[4096];
	ssize_t	 total = 0;
	int	 n, e;

	for (;;) {
		ERR_clear_error();
		if ((n = SSL_read(s->ssl, data, sizeof(data))) > 0) {
			buf_append(s->in, data, (size_t)n);
			total += n;
			/* Bounded: the rest waits (see SSL_pending below). */
			if ((long)BUF_LEN(s->in) > psc_var.line_length_limit)
				return (total);
			continue;
		}
		e = SSL_get_error(s->ssl, n);
		if (e == SSL_ERROR_WANT_READ) {
			if (total > 0)
				return (total);
			errno = EAGAIN;
			return (-1);
		}
		return (total > 0 ? total : 0);
	}
}

/* smtp_read - input, EOF or the command time limit */
static void
smtp_read(evutil_socket_t fd, short what, void *arg)
{
	struct psc_state *s = arg;
	char	 data[4096], *nl;
	ssize_t	 n;

	if (what & EV_TIMEOUT) {
		limit_drop(s, "COMMAND TIME LIMIT",
		    "421 4.4.2 Error: timeout exceeded\r\n");
		return;
	}
	if (s->tls_state == 1) {
		tls_continue(s);
		return;
	}
	if (s->tls_state == 2)
		n = tls_input(s);
	else {
		n = read(fd, data, sizeof(data));
		if (n > 0)
			buf_append(s->in, data, (size_t)n);
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		psc_finish_after_smtp(s);
		psc_hangup(s, NULL);
		return;
	}
	while ((nl = memchr(BUF_STR(s->in), '\n', BUF_LEN(s->in))) != NULL) {
		if (one_line(s, (size_t)(nl - BUF_STR(s->in))))
			return;
	}
	if ((long)BUF_LEN(s->in) > psc_var.line_length_limit) {
		limit_drop(s, "COMMAND LENGTH LIMIT",
		    "521 5.5.2 Error: command line too long\r\n");
		return;
	}
	/* Decrypted bytes OpenSSL still holds raise no socket event. */
	if (s->tls_state == 2 && SSL_pending(s->ssl) > 0)
		event_active(s->read_ev, EV_READ, 0);
}

/* psc_smtp_tests - complete the greeting and run the engine */
void
psc_smtp_tests(struct psc_state *s)
{
	struct timeval tv;
	char	*greeting;

	s->test_phase = "tests after SMTP handshake";
	s->in = buf_new(512);
	greeting = xasprintf("220 %s\r\n", psc_var.smtpd_banner);
	if (psc_send_reply(s, greeting) < 0) {
		free(greeting);
		psc_hangup(s, "HANGUP");
		return;
	}
	free(greeting);
	s->read_ev = event_new(psc_base, s->fd, EV_READ | EV_PERSIST,
	    smtp_read, s);
	tv.tv_sec = psc_var.command_time_limit;
	tv.tv_usec = 0;
	event_add(s->read_ev, &tv);
}
