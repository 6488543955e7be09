/*
 * NAME
 *	smtpd_cmd_test - the command parser and check/do logic, no network
 * DESCRIPTION
 *	The session functions smtpd_cmd.c calls are replaced (most in
 *	smtpd_cmd_harness.h, shared with smtpd_bdat_test): replies
 *	are collected, and the policy check answers at once (a recipient
 *	containing "reject" is refused with 550, "defer" with 451). Each
 *	vector is a list of command lines and the reply codes (with
 *	enhanced codes where it matters) they must produce, in order.
 *	smtpd_session_reset() is the real one (smtpd_session_reset.c):
 *	after a transaction with every MAIL parameter, a refused and an
 *	accepted RCPT, RSET must leave none of it behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "queue.h"
#include "conf.h"
#include "reply.h"
#include "smtpd.h"
#include "smtpd_cmd_harness.h"
#include "tap.h"
#include "xalloc.h"

/* ext_run - lines through a session with s->tls as given */
static struct smtpd_session *
ext_run(int tls, const char *const *lines, size_t n)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));
	char	 line[200];
	size_t	 i;

	buf_reset(replies);
	s->state = SMTPD_ST_CMD;
	s->tls = tls;
	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "%s", lines[i]);
		smtpd_cmd_dispatch(s, line, strlen(line));
	}
	return (s);
}

/* ext_free - end an ext_run() session */
static void
ext_free(struct smtpd_session *s)
{
	smtpd_session_reset(s);
	free(s->helo);
	free(s);
}

/* ext - SMTPUTF8 and REQUIRETLS (smtpd_ext.c) */
static void
ext(void)
{
	static const char *const strict[] = {"MAIL FROM:<\xc3\xa9@b>",
		"MAIL FROM:<a@b>", "RCPT TO:<\xc3\xa9@d>", "RCPT TO:<a@d>",
		"RSET", "MAIL FROM:<\xc3\xa9@b> SMTPUTF8",
		"RCPT TO:<\xc3\xa9@d>"};
	static const char *const tls[] = {"EHLO c.example",
		"MAIL FROM:<a@b> REQUIRETLS SMTPUTF8"};
	static const char *const plain[] = {"EHLO c.example",
		"MAIL FROM:<a@b> SMTPUTF8", "RSET", "MAIL FROM:<a@b>"};
	struct smtpd_session *s;

	conf_set("strict_smtputf8", "yes");
	s = ext_run(0, strict, sizeof(strict) / sizeof(strict[0]));
	tap_is_str(BUF_STR(replies), "553 5.6.7|250 2.1.0|553 5.6.7|"
	    "250 2.1.5|250 2.0.0|250 2.1.0|250 2.1.5",
	    "strict_smtputf8: a UTF-8 address needs the parameter");
	ext_free(s);
	conf_set("strict_smtputf8", "no");

	s = ext_run(1, tls, sizeof(tls) / sizeof(tls[0]));
	tap_is_str(BUF_STR(replies), "250|250 2.1.0",
	    "REQUIRETLS and SMTPUTF8 under TLS");
	tap_ok(strstr(ehlo_kw, " DSN SMTPUTF8 REQUIRETLS") != NULL,
	    "EHLO under TLS: SMTPUTF8 REQUIRETLS (%s)", ehlo_kw);
	tap_is_int(s->requiretls && s->smtputf8, 1, "both flags recorded");
	ext_free(s);

	s = ext_run(0, plain, sizeof(plain) / sizeof(plain[0]));
	tap_ok(strstr(ehlo_kw, " SMTPUTF8") && !strstr(ehlo_kw, "REQUIRETLS"),
	    "EHLO in plaintext: SMTPUTF8, no REQUIRETLS (%s)", ehlo_kw);
	tap_is_int(s->smtputf8 || s->requiretls, 0,
	    "the next MAIL forgets SMTPUTF8");
	ext_free(s);

	conf_set("smtputf8_enable", "no");
	s = ext_run(0, plain, 2);
	tap_is_str(BUF_STR(replies), "250|555 5.5.4",
	    "smtputf8_enable = no: SMTPUTF8 unsupported");
	tap_ok(strstr(ehlo_kw, " DSN") && !strstr(ehlo_kw, "SMTPUTF8"),
	    "smtputf8_enable = no: not offered (%s)", ehlo_kw);
	ext_free(s);
	conf_set("smtputf8_enable", "yes");
}

/* smtpd_session_check - fake: answer the policy at once */
void
smtpd_session_check(struct smtpd_session *s, int stage, smtpd_cont_fn *cont)
{
	const char *r = s->cs.recipient;

	if (stage == SMTPD_STAGE_RCPT && r && strstr(r, "reject"))
		cont(s, SMTPD_CHECK_REJECT, "550 5.1.1 <x>: Recipient address "
		    "rejected: User unknown");
	else if (stage == SMTPD_STAGE_RCPT && r && strstr(r, "defer"))
		cont(s, SMTPD_CHECK_DEFER, "451 4.3.0 <x>: Temporary lookup "
		    "failure");
	else
		cont(s, SMTPD_CHECK_OK, "");
}

/* smtpd_session_start_data - fake: enter DATA */
void
smtpd_session_start_data(struct smtpd_session *s)
{
	s->state = SMTPD_ST_DATA;
}

static const struct {
	const char *name;
	const char *lines;	/* separated by \n */
	const char *want;	/* replies, "|"-separated, first 9 chars */
	int	 helo_required;
	int	 vrfy_disabled;
} vec[] = {
	{"happy path", "EHLO c.example\nMAIL FROM:<a@b.example>\n"
	    "RCPT TO:<c@d.example>\nDATA",
	    "250|250 2.1.0|250 2.1.5|354 End d", 0, 0},
	{"lower-case verbs", "helo c\nmail from:<a@b>\nrcpt to:<c@d>",
	    "250 mx.ex|250 2.1.0|250 2.1.5", 0, 0},
	{"space after colon tolerated", "MAIL FROM: <a@b>\nRCPT TO: <c@d>",
	    "250 2.1.0|250 2.1.5", 0, 0},
	{"null sender", "MAIL FROM:<>", "250 2.1.0", 0, 0},
	{"HELO required", "MAIL FROM:<a@b>\nHELO x\nMAIL FROM:<a@b>",
	    "503 5.5.1|250 mx.ex|250 2.1.0", 1, 0},
	{"HELO without name", "HELO\nEHLO", "501 5.5.4|501 5.5.4", 0, 0},
	{"MAIL syntax", "MAIL <a@b>\nMAIL FROM\nMAIL TO:<a@b>",
	    "501 5.5.4|501 5.5.4|501 5.5.4", 0, 0},
	{"nested MAIL", "MAIL FROM:<a@b>\nMAIL FROM:<a@b>",
	    "250 2.1.0|503 5.5.1", 0, 0},
	{"RCPT before MAIL", "RCPT TO:<a@b>", "503 5.5.1", 0, 0},
	{"DATA before MAIL", "DATA", "503 5.5.1", 0, 0},
	{"DATA without recipients", "MAIL FROM:<a@b>\nDATA",
	    "250 2.1.0|554 5.5.1", 0, 0},
	{"DATA with argument", "MAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA x",
	    "250 2.1.0|250 2.1.5|501 5.5.4", 0, 0},
	{"unbalanced brackets", "MAIL FROM:<a@b\nMAIL FROM:a@b>\n"
	    "MAIL FROM:<<a@b>>", "501 5.1.7|501 5.1.7|501 5.1.7", 0, 0},
	{"empty recipient", "MAIL FROM:<a@b>\nRCPT TO:<>",
	    "250 2.1.0|501 5.1.3", 0, 0},
	{"UTF-8 local part without SMTPUTF8 (Postfix: accepted)",
	    "MAIL FROM:<\xc3\xa9@b>\nRCPT TO:<\xc3\xa9@d>",
	    "250 2.1.0|250 2.1.5", 0, 0},
	{"UTF-8 domain needs SMTPUTF8 (Postfix: bad syntax)",
	    "MAIL FROM:<a@\xc3\xa9.example>\n"
	    "MAIL FROM:<a@\xc3\xa9.example> SMTPUTF8\n"
	    "RCPT TO:<u@\xe4\xbe\x8b.test>",
	    "501 5.1.7|250 2.1.0|250 2.1.5", 0, 0},
	{"UTF-8 recipient domain without SMTPUTF8",
	    "MAIL FROM:<a@b>\nRCPT TO:<u@\xe4\xbe\x8b.test>",
	    "250 2.1.0|501 5.1.3", 0, 0},
	{"malformed UTF-8 command line (Postfix's 500 5.5.2)",
	    "MAIL FROM:<\xe9@b>\nMAIL FROM:<a\xc0\xaf@b> SMTPUTF8\n"
	    "NOOP \xff\nHELO \xed\xa0\x80",
	    "500 5.5.2|500 5.5.2|500 5.5.2|500 5.5.2", 0, 0},
	{"SMTPUTF8 takes no value", "MAIL FROM:<a@b> SMTPUTF8=yes",
	    "555 5.5.4", 0, 0},
	{"REQUIRETLS before STARTTLS (Postfix's 555)",
	    "MAIL FROM:<a@b> REQUIRETLS", "555 5.5.4", 0, 0},
	{"rejected and deferred recipients", "MAIL FROM:<a@b>\n"
	    "RCPT TO:<reject@d>\nRCPT TO:<defer@d>\nRCPT TO:<ok@d>\nDATA",
	    "250 2.1.0|550 5.1.1|451 4.3.0|250 2.1.5|354 End d", 0, 0},
	{"rejected only: no valid recipients", "MAIL FROM:<a@b>\n"
	    "RCPT TO:<reject@d>\nDATA", "250 2.1.0|550 5.1.1|554 5.5.1", 0,
	    0},
	{"recipient limit", "MAIL FROM:<a@b>\nRCPT TO:<a@d>\nRCPT TO:<b@d>\n"
	    "RCPT TO:<c@d>\nRCPT TO:<d@d>",
	    "250 2.1.0|250 2.1.5|250 2.1.5|250 2.1.5|452 4.5.3", 0, 0},
	{"SIZE over the limit", "MAIL FROM:<a@b> SIZE=2000",
	    "552 5.3.4", 0, 0},
	{"SIZE bad syntax", "MAIL FROM:<a@b> SIZE=12x\n"
	    "MAIL FROM:<a@b> SIZE=-1\nMAIL FROM:<a@b> SIZE=",
	    "501 5.5.4|501 5.5.4|501 5.5.4", 0, 0},
	{"SIZE, BODY, RET, ENVID, AUTH accepted", "MAIL FROM:<a@b> SIZE=10 "
	    "BODY=8BITMIME RET=HDRS ENVID=x+2By AUTH=<>", "250 2.1.0", 0, 0},
	{"BODY bogus", "MAIL FROM:<a@b> BODY=9BIT", "501 5.5.4", 0, 0},
	{"RET bogus", "MAIL FROM:<a@b> RET=ALL", "501 5.5.4", 0, 0},
	{"ENVID bad xtext", "MAIL FROM:<a@b> ENVID=a+zz", "501 5.5.4", 0,
	    0},
	{"unknown MAIL parameter, SMTPUTF8 known", "MAIL FROM:<a@b> FOO=bar\n"
	    "MAIL FROM:<a@b> SMTPUTF8", "555 5.5.4|250 2.1.0", 0, 0},
	{"NOTIFY", "MAIL FROM:<a@b>\nRCPT TO:<c@d> NOTIFY=SUCCESS,DELAY\n"
	    "RCPT TO:<e@d> NOTIFY=NEVER,SUCCESS\nRCPT TO:<f@d> NOTIFY=\n"
	    "RCPT TO:<g@d> NOTIFY=SOMETIMES",
	    "250 2.1.0|250 2.1.5|501 5.5.4|501 5.5.4|501 5.5.4", 0, 0},
	{"ORCPT", "MAIL FROM:<a@b>\nRCPT TO:<c@d> ORCPT=rfc822;c+2B1@d\n"
	    "RCPT TO:<c@d> ORCPT=c@d\nRCPT TO:<c@d> ORCPT=rfc822;",
	    "250 2.1.0|250 2.1.5|501 5.5.4|501 5.5.4", 0, 0},
	{"unknown RCPT parameter", "MAIL FROM:<a@b>\nRCPT TO:<c@d> X=1",
	    "250 2.1.0|555 5.5.4", 0, 0},
	{"unknown command (Postfix 3.7 smtpd's 500; 502 is postscreen's)",
	    "FOO\nMAIL\n\n\t",
	    "500 5.5.2|501 5.5.4|500 5.5.2|500 5.5.2", 0, 0},
	{"RSET", "MAIL FROM:<a@b>\nRSET\nMAIL FROM:<a@b>\nRSET x",
	    "250 2.1.0|250 2.0.0|250 2.1.0|501 5.5.4", 0, 0},
	{"NOOP HELP ETRN", "NOOP\nNOOP x\nHELP\nETRN x",
	    "250 2.0.0|250 2.0.0|214 2.0.0|502 5.5.1", 0, 0},
	{"VRFY enabled", "VRFY\nVRFY <a@b>\nVRFY bob\nVRFY <a@b",
	    "501 5.5.4|252 2.0.0|252 2.0.0|501 5.1.3", 0, 0},
	{"VRFY disabled", "VRFY a", "502 5.5.1", 0, 1},
	{"STARTTLS without TLS, AUTH not enabled", "STARTTLS\nAUTH PLAIN",
	    "502 5.5.1|503 5.5.1", 0, 0},
	{"QUIT", "QUIT", "221 2.0.0", 0, 0},
	{"overlong address", "MAIL FROM:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b>",
	    "501 5.1.7", 0, 0},
};

static const struct {
	const char *in;
	int	 ok;
	const char *want;
} xtext_vec[] = {
	{"abc", 1, "abc"},
	{"a+2Bb", 1, "a+b"},
	{"+3D", 1, "="},
	{"a+2b", 0, NULL},	/* lower-case hex is not xtext */
	{"a+2", 0, NULL},
	{"a+", 0, NULL},
	{"a=b", 0, NULL},
	{"a b", 0, NULL},
	{"\xc3\xa9", 0, NULL},
	{"", 1, ""},
};

static const struct {
	const char *line;
	int	 verb;
	const char *arg;
} parse_vec[] = {
	{"EHLO x", SMTPD_VERB_EHLO, "x"},
	{"ehlo\tx y", SMTPD_VERB_EHLO, "x y"},
	{"MAIL FROM:<a>", SMTPD_VERB_MAIL, "FROM:<a>"},
	{"MAILFROM:<a>", SMTPD_VERB_UNKNOWN, ""},
	{"DATA", SMTPD_VERB_DATA, ""},
	{"DAT", SMTPD_VERB_UNKNOWN, ""},
	{"DATAX", SMTPD_VERB_UNKNOWN, ""},
	{"", SMTPD_VERB_UNKNOWN, ""},
	{"   ", SMTPD_VERB_UNKNOWN, ""},
	{"QUIT   ", SMTPD_VERB_QUIT, ""},
	{"\xff\xfe", SMTPD_VERB_UNKNOWN, ""},
};

/* run - feed one vector's lines to a fresh session */
static void
run(size_t i)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));
	char	*lines = xstrdup(vec[i].lines), *cp = lines, *line;

	smtpd_params.helo_required = vec[i].helo_required;
	smtpd_params.disable_vrfy = vec[i].vrfy_disabled;
	buf_reset(replies);
	s->state = SMTPD_ST_CMD;
	while ((line = strsep(&cp, "\n")) != NULL)
		smtpd_cmd_dispatch(s, line, strlen(line));
	tap_is_str(BUF_STR(replies), vec[i].want, vec[i].name);
	smtpd_session_reset(s);
	free(s->helo);
	free(s->pend_addr);
	free(s->pend_orcpt);
	free(s);
	free(lines);
}

/* reset - RSET forgets the whole transaction, parameters included */
static void
reset(void)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));
	static const char *const lines[] = {"EHLO c.example",
		"MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME RET=HDRS "
		"ENVID=x", "RCPT TO:<reject@d.example>",
		"RCPT TO:<c@d.example> ORCPT=rfc822;c@d.example"};
	char	 line[200];
	size_t	 i;

	smtpd_params.helo_required = smtpd_params.disable_vrfy = 0;
	buf_reset(replies);
	s->state = SMTPD_ST_CMD;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		snprintf(line, sizeof(line), "%s", lines[i]);
		smtpd_cmd_dispatch(s, line, strlen(line));
	}
	tap_is_str(BUF_STR(replies), "250|250 2.1.0|550 5.1.1|250 2.1.5",
	    "reset: the transaction is set up");
	tap_ok(s->dsn_ret == 2 && s->body_8bit == 1 && s->size_hint == 10
	    && s->rcpt_tried == 2 && s->nrcpts == 1 && s->dsn_envid,
	    "reset: MAIL and RCPT recorded RET, BODY, SIZE, ENVID, tries");
	snprintf(line, sizeof(line), "RSET");
	smtpd_cmd_dispatch(s, line, strlen(line));
	tap_is_int(s->dsn_ret, 0, "reset: RSET forgets RET (dsn_ret)");
	tap_is_int(s->body_8bit, 0, "reset: RSET forgets BODY (body_8bit)");
	tap_is_int(s->size_hint, 0, "reset: RSET forgets SIZE (size_hint)");
	tap_is_int(s->rcpt_tried, 0,
	    "reset: RSET forgets the RCPTs tried (rcpt_tried)");
	tap_ok(s->sender == NULL && s->nrcpts == 0 && s->rcpts == NULL
	    && s->dsn_envid == NULL, "reset: RSET forgets sender,"
	    " recipients, ENVID");
	tap_ok(s->cs.sender == NULL && s->cs.recipient == NULL
	    && s->cs.rcpt_count == 0, "reset: RSET forgets the policy's"
	    " transaction state");
	tap_ok(s->helo != NULL, "reset: RSET keeps the HELO name");
	smtpd_session_reset(s);
	free(s->helo);
	free(s->pend_addr);
	free(s->pend_orcpt);
	free(s);
}

int
main(void)
{
	size_t	 i;
	char	*out;
	const char *arg;

	replies = buf_new(0);
	smtpd_params.myhostname = "mx.example.com";
	smtpd_params.size_limit = 1000;
	smtpd_params.rcpt_limit = 3;
	smtpd_params.junk_limit = 100;
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
		run(i);
	reset();
	ext();
	for (i = 0; i < sizeof(xtext_vec) / sizeof(xtext_vec[0]); i++) {
		out = NULL;
		tap_is_int(smtpd_xtext_decode(xtext_vec[i].in, &out) == 0,
		    xtext_vec[i].ok, xtext_vec[i].in);
		if (xtext_vec[i].ok)
			tap_is_str(out, xtext_vec[i].want, xtext_vec[i].in);
		free(out);
	}
	for (i = 0; i < sizeof(parse_vec) / sizeof(parse_vec[0]); i++) {
		tap_is_int(smtpd_cmd_parse(parse_vec[i].line,
		    strlen(parse_vec[i].line), &arg), parse_vec[i].verb,
		    parse_vec[i].line);
		if (parse_vec[i].verb != SMTPD_VERB_UNKNOWN)
			tap_is_str(arg, parse_vec[i].arg, parse_vec[i].line);
	}
	buf_free(replies);
	return (tap_done());
}
