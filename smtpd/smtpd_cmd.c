/*
 * NAME
 *	smtpd_cmd - SMTP command parsing: check_<cmd>() then do_<cmd>()
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	int	smtpd_cmd_parse(const char *line, size_t len, const char **arg);
 *	const char *smtpd_cmd_name(int verb);
 *	size_t	smtpd_cmd_log_len(const char *line, size_t len);
 *	void	smtpd_cmd_dispatch(struct smtpd_session *s, char *line,
 *	    size_t len);
 *	int	smtpd_cmd_mail_params(struct smtpd_session *s, char *params,
 *	    int *status, const char **text);
 *	int	smtpd_cmd_rcpt_params(char *params, int *notify,
 *	    char **orcpt, int *status, const char **text);
 *	int	smtpd_xtext_decode(const char *in, char **out);
 * DESCRIPTION
 *	smtpd_cmd_parse() splits a command line (CRLF already removed) into
 *	a verb from the table (case-insensitive; the table ends in a
 *	catch-all, so every line has a verb) and its argument.
 *
 *	smtpd_cmd_log_len() says how much of a client's line may be
 *	logged: one line, at most 100 bytes, and of an AUTH command
 *	(AUTH, then a space or a TAB) the mechanism but never the
 *	initial response.
 *
 *	smtpd_cmd_dispatch() runs one command. For each verb check_<cmd>()
 *	checks state and syntax and, when something is wrong, sends the
 *	reply itself and returns -1; do_<cmd>() then does the work, which
 *	for HELO/EHLO, MAIL, RCPT and DATA means a policy check on a worker
 *	(smtpd_session_check()) that continues in <cmd>_done(). (The names
 *	are check_/do_ rather than smtpd_check_, which is the policy
 *	engine's prefix.)
 *
 *	smtpd_cmd_mail_params() and smtpd_cmd_rcpt_params() parse the ESMTP
 *	parameters (SIZE, BODY, RET, ENVID, AUTH, and through smtpd_ext.c
 *	SMTPUTF8 and REQUIRETLS; NOTIFY, ORCPT) and give the reply status
 *	and text for a bad one.
 * DIAGNOSTICS
 *	Every malformed input gets its reply from the table in lib/reply.c.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "log.h"
#include "queue.h"
#include "reply.h"
#include "str.h"
#include "tls.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "xalloc.h"

typedef void cmd_fn(struct smtpd_session *, char *);

static cmd_fn cmd_helo, cmd_ehlo, cmd_mail, cmd_rcpt, cmd_data, cmd_rset,
	cmd_noop, cmd_quit, cmd_vrfy, cmd_help, cmd_etrn,
	cmd_starttls, cmd_auth, cmd_unknown;

#define CMD_JUNK	(1 << 0)	/* counts toward smtpd_junk_command_limit */
#define CMD_LAST	(1 << 1)	/* must end a pipelined group (RFC 2920) */

static const struct smtpd_cmd {
	const char *name;
	int	 verb;
	cmd_fn	*fn;
	int	 flags;
} smtpd_cmds[] = {
	{"HELO", SMTPD_VERB_HELO, cmd_helo, CMD_LAST},
	{"EHLO", SMTPD_VERB_EHLO, cmd_ehlo, CMD_LAST},
	{"MAIL", SMTPD_VERB_MAIL, cmd_mail, 0},
	{"RCPT", SMTPD_VERB_RCPT, cmd_rcpt, 0},
	{"DATA", SMTPD_VERB_DATA, cmd_data, CMD_LAST},
	{"RSET", SMTPD_VERB_RSET, cmd_rset, CMD_JUNK},
	{"NOOP", SMTPD_VERB_NOOP, cmd_noop, CMD_JUNK | CMD_LAST},
	{"QUIT", SMTPD_VERB_QUIT, cmd_quit, CMD_LAST},
	{"VRFY", SMTPD_VERB_VRFY, cmd_vrfy, CMD_JUNK | CMD_LAST},
	{"HELP", SMTPD_VERB_HELP, cmd_help, CMD_JUNK},
	{"ETRN", SMTPD_VERB_ETRN, cmd_etrn, CMD_JUNK | CMD_LAST},
	{"STARTTLS", SMTPD_VERB_STARTTLS, cmd_starttls, CMD_LAST},
	{"AUTH", SMTPD_VERB_AUTH, cmd_auth, CMD_LAST},
	{"BDAT", SMTPD_VERB_BDAT, smtpd_bdat_cmd, 0},	/* smtpd_bdat.c */
	{"unknown", SMTPD_VERB_UNKNOWN, cmd_unknown, 0},	/* catch-all */
};

#define NCMDS	(sizeof(smtpd_cmds) / sizeof(smtpd_cmds[0]))

/* smtpd_cmd_parse - find the verb and the argument of a command line */
int
smtpd_cmd_parse(const char *line, size_t len, const char **arg)
{
	size_t	 n, i;

	for (n = 0; n < len && line[n] != ' ' && line[n] != '\t'; n++)
		;
	*arg = line + n;
	while (**arg == ' ' || **arg == '\t')
		(*arg)++;
	for (i = 0; i + 1 < NCMDS; i++)
		if (strlen(smtpd_cmds[i].name) == n
		    && strncasecmp(line, smtpd_cmds[i].name, n) == 0)
			return (smtpd_cmds[i].verb);
	return (SMTPD_VERB_UNKNOWN);
}

/* smtpd_cmd_last - must the verb end a pipelined command group? */
int
smtpd_cmd_last(int verb)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++)
		if (smtpd_cmds[i].verb == verb)
			return ((smtpd_cmds[i].flags & CMD_LAST) != 0);
	return (0);
}

/* smtpd_cmd_name - the verb's name for logs ("ehlo=1 mail=1") */
const char *
smtpd_cmd_name(int verb)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++)
		if (smtpd_cmds[i].verb == verb)
			return (smtpd_cmds[i].name);
	return ("unknown");
}

/*
 * smtpd_cmd_log_len - how much of a command line may reach the log: the
 * line up to its end (a CR, an LF) and at most 100 bytes, and of AUTH
 * (followed by a space or a TAB) only the verb and the mechanism, never
 * an initial response (a password in base64).
 */
size_t
smtpd_cmd_log_len(const char *line, size_t len)
{
	size_t	 n;

	for (n = 0; n < len && n < 100 && line[n] != '\r' && line[n] != '\n';
	    n++)
		;
	len = n;
	if (len < 5 || strncasecmp(line, "AUTH", 4) != 0
	    || (line[4] != ' ' && line[4] != '\t'))
		return (len);
	for (n = 4; n < len && (line[n] == ' ' || line[n] == '\t'); n++)
		;
	while (n < len && line[n] != ' ' && line[n] != '\t')
		n++;
	return (n);
}

/* smtpd_cmd_dispatch - run one command line (no CRLF, NUL-terminated) */
void
smtpd_cmd_dispatch(struct smtpd_session *s, char *line, size_t len)
{
	const char *arg;
	size_t	 i;
	int	 verb;

	verb = smtpd_cmd_parse(line, len, &arg);
	for (i = 0; smtpd_cmds[i].verb != verb; i++)
		;
	s->cur_verb = s->last_verb = verb;
	if (s->cnt_total[verb] < UINT_MAX)
		s->cnt_total[verb]++;
	if ((smtpd_cmds[i].flags & CMD_JUNK)
	    && ++s->junk > smtpd_params.junk_limit)
		s->errors++;
	/* Rejected at connect (smtpd_delay_reject=no): all but QUIT. */
	if (s->denied && verb != SMTPD_VERB_QUIT) {
		smtpd_reply_text(s, s->denied);
		return;
	}
	if (smtpd_ext_line(s, line, len) < 0)
		return;		/* malformed UTF-8: Postfix's 500 5.5.2 */
	/* The trailing argument is ours to modify (params are split). */
	smtpd_cmds[i].fn(s, line + (arg - line));
}

/* helo_reply - 250 for HELO, the keyword list for EHLO */
static void
helo_reply(struct smtpd_session *s)
{
	const char *lines[16];
	const char *mechs;
	char	 size[40], auth[80], auth_eq[80];
	size_t	 n = 0;

	if (!s->esmtp) {
		smtpd_reply(s, REPLY_HELO, smtpd_params.myhostname);
		return;
	}
	lines[n++] = smtpd_params.myhostname;
	lines[n++] = "PIPELINING";
	if (smtpd_params.size_limit > 0)
		snprintf(size, sizeof(size), "SIZE %ld", smtpd_params.size_limit);
	else
		snprintf(size, sizeof(size), "SIZE");
	lines[n++] = size;
	if (!smtpd_params.disable_vrfy)
		lines[n++] = "VRFY";
	if (smtpd_params.tls && !s->tls && !s->stdin_mode)
		lines[n++] = "STARTTLS";
	if ((mechs = smtpd_auth_offer(s)) != NULL) {
		snprintf(auth, sizeof(auth), "AUTH %s", mechs);
		lines[n++] = auth;
		if (smtpd_auth_broken()) {
			snprintf(auth_eq, sizeof(auth_eq), "AUTH=%s", mechs);
			lines[n++] = auth_eq;
		}
	}
	lines[n++] = "ENHANCEDSTATUSCODES";
	lines[n++] = "8BITMIME";
	lines[n++] = "DSN";
	n = smtpd_ext_ehlo(s, lines, n);	/* SMTPUTF8, REQUIRETLS */
	lines[n++] = "CHUNKING";	/* smtpd_bdat.c */
	smtpd_reply_multi(s, 250, lines, n);
}

/* helo_done - the HELO policy check returned */
static void
helo_done(struct smtpd_session *s, int result, const char *reply)
{
	if (result != SMTPD_CHECK_OK) {
		smtpd_reply_text(s, reply);
		free(s->helo);
		s->helo = NULL;
		s->cs.helo_name = NULL;
		return;
	}
	helo_reply(s);
}

/* check_helo - HELO/EHLO needs a hostname */
static int
check_helo(struct smtpd_session *s, const char *arg, const char *verb)
{
	if (*arg == 0) {
		smtpd_reply(s, REPLY_BAD_HELO, verb);
		return (-1);
	}
	return (0);
}

/* do_helo - remember the name, reset the transaction, ask the policy */
static void
do_helo(struct smtpd_session *s, const char *arg, int esmtp)
{
	size_t	 n = strcspn(arg, " \t");

	smtpd_session_reset(s);
	free(s->helo);
	s->helo = xstrndup(arg, n > 255 ? 255 : n);
	s->esmtp = esmtp;
	s->cs.helo_name = s->helo;
	s->cs.protocol = !esmtp ? "SMTP" : s->sasl_user ? (s->tls ? "ESMTPSA"
	    : "ESMTPA") : s->tls ? "ESMTPS" : "ESMTP";
	smtpd_session_check(s, SMTPD_STAGE_HELO, helo_done);
}

/* cmd_helo - HELO hostname */
static void
cmd_helo(struct smtpd_session *s, char *arg)
{
	if (check_helo(s, arg, "HELO") == 0)
		do_helo(s, arg, 0);
}

/* cmd_ehlo - EHLO hostname */
static void
cmd_ehlo(struct smtpd_session *s, char *arg)
{
	if (check_helo(s, arg, "EHLO") == 0)
		do_helo(s, arg, 1);
}

/* smtpd_xtext_decode - RFC 3461 xtext; -1 on bad syntax */
int
smtpd_xtext_decode(const char *in, char **out)
{
	struct buf *b = buf_new(strlen(in));
	const unsigned char *p;
	int	 hi, lo;

	for (p = (const unsigned char *)in; *p; p++) {
		if (*p < 33 || *p > 126 || *p == '=') {
			buf_free(b);
			return (-1);
		}
		if (*p != '+') {
			buf_putc(b, *p);
			continue;
		}
		if (!isxdigit(p[1]) || !isxdigit(p[2])
		    || islower(p[1]) || islower(p[2])) {
			buf_free(b);
			return (-1);
		}
		hi = isdigit(p[1]) ? p[1] - '0' : p[1] - 'A' + 10;
		lo = isdigit(p[2]) ? p[2] - '0' : p[2] - 'A' + 10;
		buf_putc(b, hi * 16 + lo);
		p += 2;
	}
	*out = buf_steal(b);
	return (0);
}

/* param_bad - set the reply for a bad parameter */
static int
param_bad(int *status, const char **text, int st, const char *t)
{
	*status = st;
	*text = t;
	return (-1);
}

/* smtpd_cmd_mail_params - SIZE= BODY= RET= ENVID= AUTH= */
int
smtpd_cmd_mail_params(struct smtpd_session *s, char *params, int *status,
    const char **text)
{
	char	*cp = params, *tok, *val, *end;
	long	 size;

	s->smtputf8 = s->requiretls = 0;
	while ((tok = str_token(&cp, " \t")) != NULL) {
		if ((val = strchr(tok, '=')) != NULL)
			*val++ = 0;
		if (smtpd_ext_mail_param(s, tok, val))
			continue;	/* SMTPUTF8, REQUIRETLS */
		if (strcasecmp(tok, "SIZE") == 0 && val) {
			size = strtol(val, &end, 10);
			if (!isdigit((unsigned char)*val) || *end || size < 0
			    || strlen(val) > 18)
				return (param_bad(status, text, REPLY_SYNTAX,
				    "Bad message size syntax"));
			if (smtpd_params.size_limit > 0
			    && size > smtpd_params.size_limit)
				return (param_bad(status, text,
				    REPLY_SIZE_LIMIT, NULL));
			s->size_hint = size;
		} else if (strcasecmp(tok, "BODY") == 0 && val) {
			if (strcasecmp(val, "8BITMIME") == 0)
				s->body_8bit = 1;
			else if (strcasecmp(val, "7BIT") == 0)
				s->body_8bit = 0;
			else
				return (param_bad(status, text, REPLY_SYNTAX,
				    "Bad BODY keyword"));
		} else if (strcasecmp(tok, "RET") == 0 && val) {
			if (strcasecmp(val, "FULL") == 0)
				s->dsn_ret = 1;
			else if (strcasecmp(val, "HDRS") == 0)
				s->dsn_ret = 2;
			else
				return (param_bad(status, text, REPLY_SYNTAX,
				    "Bad RET parameter syntax"));
		} else if (strcasecmp(tok, "ENVID") == 0 && val) {
			free(s->dsn_envid);
			s->dsn_envid = NULL;
			if (*val == 0 || strlen(val) > 100
			    || smtpd_xtext_decode(val, &s->dsn_envid) < 0)
				return (param_bad(status, text, REPLY_SYNTAX,
				    "Bad ENVID parameter syntax"));
		} else if (strcasecmp(tok, "AUTH") == 0 && val) {
			/* RFC 4954 AUTH=<>: accepted, not trusted. */
		} else
			return (param_bad(status, text, REPLY_BAD_PARAM, tok));
	}
	return (0);
}

/* notify_parse - NOTIFY=NEVER or SUCCESS,FAILURE,DELAY */
static int
notify_parse(char *val)
{
	char	*cp = val, *kw;
	int	 bits = 0;

	while ((kw = strsep(&cp, ",")) != NULL) {
		if (strcasecmp(kw, "NEVER") == 0)
			bits |= QUEUE_NOTIFY_NEVER;
		else if (strcasecmp(kw, "SUCCESS") == 0)
			bits |= QUEUE_NOTIFY_SUCCESS;
		else if (strcasecmp(kw, "FAILURE") == 0)
			bits |= QUEUE_NOTIFY_FAILURE;
		else if (strcasecmp(kw, "DELAY") == 0)
			bits |= QUEUE_NOTIFY_DELAY;
		else
			return (-1);
	}
	if ((bits & QUEUE_NOTIFY_NEVER) && bits != QUEUE_NOTIFY_NEVER)
		return (-1);
	return (bits);
}

/* smtpd_cmd_rcpt_params - NOTIFY= ORCPT= */
int
smtpd_cmd_rcpt_params(char *params, int *notify, char **orcpt, int *status,
    const char **text)
{
	char	*cp = params, *tok, *val, *semi;

	*notify = 0;
	*orcpt = NULL;
	while ((tok = str_token(&cp, " \t")) != NULL) {
		if ((val = strchr(tok, '=')) != NULL)
			*val++ = 0;
		if (strcasecmp(tok, "NOTIFY") == 0 && val) {
			if ((*notify = notify_parse(val)) <= 0)
				return (param_bad(status, text, REPLY_SYNTAX,
				    "Bad NOTIFY parameter syntax"));
		} else if (strcasecmp(tok, "ORCPT") == 0 && val) {
			free(*orcpt);
			*orcpt = NULL;
			if ((semi = strchr(val, ';')) == NULL || semi == val
			    || strlen(val) > 500
			    || smtpd_xtext_decode(semi + 1, orcpt) < 0
			    || **orcpt == 0)
				return (param_bad(status, text, REPLY_SYNTAX,
				    "Bad ORCPT parameter syntax"));
			/* Keep "type;address", the form DSNs print. */
			*semi = 0;
			val = xasprintf("%s;%s", val, *orcpt);
			free(*orcpt);
			*orcpt = val;
		} else
			return (param_bad(status, text, REPLY_BAD_PARAM, tok));
	}
	return (0);
}

/* param_reply - the reply for a bad ESMTP parameter */
static void
param_reply(struct smtpd_session *s, int status, const char *text)
{
	if (status == REPLY_SYNTAX)
		smtpd_reply_custom(s, status, text);
	else
		smtpd_reply(s, status, text ? log_safe(text) : NULL);
}

/* mail_done - the MAIL policy check returned */
static void
mail_done(struct smtpd_session *s, int result, const char *reply)
{
	if (result != SMTPD_CHECK_OK) {
		smtpd_reply_text(s, reply);
		smtpd_session_reset(s);
		return;
	}
	smtpd_reply(s, REPLY_MAIL_OK, NULL);
}

/* check_mail - state, "FROM:", the address and the parameters */
static int
check_mail(struct smtpd_session *s, char *arg, char **addr)
{
	char	*params = NULL;
	char	 err[200];
	const char *text = NULL;
	int	 status;

	*addr = NULL;
	if (smtpd_params.helo_required && s->helo == NULL) {
		smtpd_reply(s, REPLY_NEED_HELO, NULL);
		return (-1);
	}
	if (s->sender != NULL) {
		smtpd_reply(s, REPLY_NESTED_MAIL, NULL);
		return (-1);
	}
	if (s->data && s->data->bdat) {	/* skipping BDAT chunks */
		smtpd_reply_custom(s, REPLY_NESTED_MAIL,
		    "Error: MAIL after BDAT");
		return (-1);
	}
	if (smtpd_params.tls_level >= TLS_LEV_ENCRYPT && !s->tls) {
		smtpd_reply(s, REPLY_NEED_TLS, NULL);
		return (-1);
	}
	if (smtpd_anvil_event(s, SMTPD_ANVIL_MAIL) < 0)
		return (-1);
	if (strncasecmp(arg, "FROM:", 5) != 0) {
		smtpd_reply(s, REPLY_SYNTAX, "MAIL FROM:<address>");
		return (-1);
	}
	if (addr_parse_path(arg + 5, addr, &params, err, sizeof(err)) < 0) {
		smtpd_reply(s, REPLY_BAD_SENDER, NULL);
		return (-1);
	}
	if (smtpd_cmd_mail_params(s, params, &status, &text) < 0)
		param_reply(s, status, text);
	else if (smtpd_ext_addr(s, *addr, 0) == 0) {	/* SMTPUTF8 rules */
		free(params);
		return (0);
	}
	free(params);
	free(*addr);
	*addr = NULL;
	smtpd_session_reset(s);
	return (-1);
}

/* cmd_mail - MAIL FROM:<addr> [params] */
static void
cmd_mail(struct smtpd_session *s, char *arg)
{
	char	*addr;

	if (check_mail(s, arg, &addr) < 0)
		return;
	s->sender = addr;
	s->cs.sender = addr;
	s->rcpt_tried = 0;
	smtpd_session_check(s, SMTPD_STAGE_MAIL, mail_done);
}

/* rcpt_done - the RCPT policy check returned */
static void
rcpt_done(struct smtpd_session *s, int result, const char *reply)
{
	struct smtpd_rcpt *r;

	if (result != SMTPD_CHECK_OK) {
		smtpd_reply_text(s, reply);
		free(s->pend_addr);
		free(s->pend_orcpt);
	} else {
		if (s->nrcpts == s->rcpts_cap) {
			s->rcpts_cap = s->rcpts_cap ? s->rcpts_cap * 2 : 4;
			s->rcpts = xrealloc(s->rcpts,
			    s->rcpts_cap * sizeof(*s->rcpts));
		}
		r = &s->rcpts[s->nrcpts++];
		r->addr = s->pend_addr;
		r->orcpt = s->pend_orcpt;
		r->notify = s->pend_notify;
		smtpd_reply(s, REPLY_RCPT_OK, NULL);
	}
	s->pend_addr = s->pend_orcpt = NULL;
	s->cs.recipient = NULL;
	s->cs.rcpt_count = (int)s->nrcpts;
}

/* check_rcpt - state, "TO:", limits, the address and the parameters */
static int
check_rcpt(struct smtpd_session *s, char *arg)
{
	char	*addr = NULL, *params = NULL, *orcpt = NULL;
	char	 err[200];
	const char *text = NULL;
	int	 status, notify;

	if (s->sender == NULL) {
		smtpd_reply(s, REPLY_NEED_MAIL, NULL);
		return (-1);
	}
	if (s->data && s->data->bdat) {
		smtpd_reply_custom(s, REPLY_NESTED_MAIL,
		    "Error: RCPT after BDAT");
		return (-1);
	}
	if (smtpd_anvil_event(s, SMTPD_ANVIL_RCPT) < 0)
		return (-1);
	if (strncasecmp(arg, "TO:", 3) != 0) {
		smtpd_reply(s, REPLY_SYNTAX, "RCPT TO:<address>");
		return (-1);
	}
	if (addr_parse_path(arg + 3, &addr, &params, err, sizeof(err)) < 0
	    || *addr == 0) {
		free(addr);
		free(params);
		smtpd_reply(s, REPLY_BAD_RCPT, NULL);
		return (-1);
	}
	if (smtpd_ext_addr(s, addr, 1) < 0) {	/* SMTPUTF8 rules */
		free(addr);
		free(params);
		return (-1);
	}
	if (smtpd_params.rcpt_limit > 0
	    && (long)s->nrcpts >= smtpd_params.rcpt_limit) {
		free(addr);
		free(params);
		smtpd_reply(s, REPLY_TOO_MANY_RCPT, NULL);
		return (-1);
	}
	if (smtpd_cmd_rcpt_params(params, &notify, &orcpt, &status,
	    &text) < 0) {
		param_reply(s, status, text);
		free(addr);
		free(params);
		free(orcpt);
		return (-1);
	}
	free(params);
	s->pend_addr = addr;
	s->pend_orcpt = orcpt;
	s->pend_notify = notify;
	return (0);
}

/* cmd_rcpt - RCPT TO:<addr> [params] */
static void
cmd_rcpt(struct smtpd_session *s, char *arg)
{
	if (check_rcpt(s, arg) < 0)
		return;
	s->rcpt_tried++;
	s->cs.recipient = s->pend_addr;
	s->cs.rcpt_count = (int)s->nrcpts;
	smtpd_session_check(s, SMTPD_STAGE_RCPT, rcpt_done);
}

/*
 * smtpd_data_recipient - the recipient smtpd_data_restrictions see, as
 * Postfix's: the only one of a single-recipient transaction (so that
 * check_recipient_access applies at DATA), none with several (one of
 * them would be misleading). The stage's callback clears it again.
 */
void
smtpd_data_recipient(struct smtpd_session *s)
{
	s->cs.recipient = s->nrcpts == 1 ? s->rcpts[0].addr : NULL;
	s->cs.rcpt_count = (int)s->nrcpts;
}

/* data_done - the DATA policy check returned */
static void
data_done(struct smtpd_session *s, int result, const char *reply)
{
	s->cs.recipient = NULL;
	if (result != SMTPD_CHECK_OK) {
		smtpd_reply_text(s, reply);
		return;
	}
	smtpd_reply(s, REPLY_DATA, NULL);
	smtpd_session_start_data(s);
}

/* check_data - a transaction with at least one recipient, no argument */
static int
check_data(struct smtpd_session *s, const char *arg)
{
	if (s->data && s->data->bdat) {
		smtpd_reply_custom(s, REPLY_NESTED_MAIL,
		    "Error: DATA after BDAT");
		return (-1);
	}
	if (*arg) {
		smtpd_reply(s, REPLY_SYNTAX, "DATA");
		return (-1);
	}
	if (s->sender == NULL) {
		smtpd_reply(s, REPLY_NEED_RCPT, NULL);
		return (-1);
	}
	if (s->nrcpts == 0) {
		smtpd_reply(s, REPLY_NO_VALID_RCPT, NULL);
		return (-1);
	}
	return (0);
}

/* cmd_data - DATA */
static void
cmd_data(struct smtpd_session *s, char *arg)
{
	if (check_data(s, arg) == 0) {
		smtpd_data_recipient(s);
		smtpd_session_check(s, SMTPD_STAGE_DATA, data_done);
	}
}

/* cmd_rset - RSET */
static void
cmd_rset(struct smtpd_session *s, char *arg)
{
	if (*arg) {
		smtpd_reply(s, REPLY_SYNTAX, "RSET");
		return;
	}
	smtpd_session_reset(s);
	smtpd_reply(s, REPLY_RSET_OK, NULL);
}

/* cmd_noop - NOOP [anything] */
static void
cmd_noop(struct smtpd_session *s, char *arg)
{
	smtpd_reply(s, REPLY_OK, NULL);
}

/* cmd_quit - QUIT */
static void
cmd_quit(struct smtpd_session *s, char *arg)
{
	smtpd_reply(s, REPLY_BYE, NULL);
	s->quit = 1;
	smtpd_session_close(s);
}

/* cmd_vrfy - VRFY: disabled, or "252 2.0.0 <addr>" (we cannot verify) */
static void
cmd_vrfy(struct smtpd_session *s, char *arg)
{
	char	*addr = NULL, *params = NULL, *text;
	char	 err[200];

	if (smtpd_params.disable_vrfy) {
		smtpd_reply(s, REPLY_VRFY_DISABLED, NULL);
		return;
	}
	if (*arg == 0) {
		smtpd_reply(s, REPLY_SYNTAX, "VRFY address");
		return;
	}
	if (*arg == '<') {
		if (addr_parse_path(arg, &addr, &params, err, sizeof(err)) < 0
		    || *addr == 0) {
			free(addr);
			free(params);
			smtpd_reply(s, REPLY_BAD_RCPT, NULL);
			return;
		}
	} else
		addr = xstrdup(arg);
	text = xasprintf("<%s>", log_safe(addr));
	smtpd_reply(s, REPLY_VRFY, text);
	free(text);
	free(addr);
	free(params);
}

/* cmd_help - HELP */
static void
cmd_help(struct smtpd_session *s, char *arg)
{
	smtpd_reply(s, REPLY_HELP, NULL);
}

/* cmd_etrn - ETRN: no fast flush service */
static void
cmd_etrn(struct smtpd_session *s, char *arg)
{
	smtpd_reply(s, REPLY_NOT_IMPL, "ETRN");
}

/* check_starttls - offered, not yet active, no argument */
static int
check_starttls(struct smtpd_session *s, const char *arg)
{
	if (smtpd_params.tls == NULL || s->stdin_mode) {
		smtpd_reply(s, REPLY_NOT_IMPL, "STARTTLS");
		return (-1);
	}
	if (*arg) {
		smtpd_reply(s, REPLY_SYNTAX, "STARTTLS");
		return (-1);
	}
	if (s->tls) {
		smtpd_reply(s, REPLY_TLS_ACTIVE, NULL);
		return (-1);
	}
	return (smtpd_anvil_event(s, SMTPD_ANVIL_NTLS));
}

/* cmd_starttls - STARTTLS (RFC 3207): the session does the switch */
static void
cmd_starttls(struct smtpd_session *s, char *arg)
{
	if (check_starttls(s, arg) == 0)
		smtpd_session_starttls(s);
}

/* cmd_auth - AUTH: smtpd_auth.c checks and runs the exchange */
static void
cmd_auth(struct smtpd_session *s, char *arg)
{
	if (smtpd_anvil_event(s, SMTPD_ANVIL_AUTH) < 0)
		return;
	smtpd_auth_cmd(s, arg);
}

/* cmd_unknown - the catch-all */
static void
cmd_unknown(struct smtpd_session *s, char *arg)
{
	smtpd_reply(s, REPLY_UNKNOWN_CMD, NULL);
}
