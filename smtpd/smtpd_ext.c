/*
 * NAME
 *	smtpd_ext - the SMTPUTF8 (RFC 6531) and REQUIRETLS (RFC 8689)
 *	extensions of smtpd
 * SYNOPSIS
 *	#include "smtpd.h"
 *
 *	size_t	smtpd_ext_ehlo(const struct smtpd_session *s,
 *	    const char **lines, size_t n);
 *	int	smtpd_ext_line(struct smtpd_session *s, const char *line,
 *	    size_t len);
 *	int	smtpd_ext_mail_param(struct smtpd_session *s, const char *tok,
 *	    const char *val);
 *	int	smtpd_ext_addr(struct smtpd_session *s, const char *addr,
 *	    int rcpt);
 * DESCRIPTION
 *	smtpd_ext_ehlo() appends the EHLO keywords at lines[n] and returns
 *	the new count: SMTPUTF8 when smtputf8_enable (Postfix's default
 *	yes), REQUIRETLS when requiretls_enable and the session is under
 *	TLS (as Postfix 3.11: never offered in plaintext).
 *
 *	smtpd_ext_line() is Postfix's check of every command line with
 *	smtputf8_enable: malformed UTF-8 gets "500 5.5.2 Error: bad UTF-8
 *	syntax" (an error, as every 5xx reply), returns -1; 0 when the
 *	line may run.
 *
 *	smtpd_ext_mail_param() takes the MAIL parameters SMTPUTF8 and
 *	REQUIRETLS (the latter only after STARTTLS, so before it the
 *	caller answers Postfix's "555 5.5.4 Unsupported option:
 *	REQUIRETLS"); 1 when it took tok, 0 when not.
 *
 *	smtpd_ext_addr() applies Postfix's rules to an envelope address of
 *	a transaction without SMTPUTF8: with strict_smtputf8 = yes any
 *	non-ASCII address gets "553 5.6.7 Must declare SMTPUTF8 to send
 *	unicode address"; otherwise a UTF-8 local part passes (historical
 *	Postfix behaviour) and a UTF-8 domain gets the bad address syntax
 *	reply (501 5.1.7 / 5.1.3). Returns -1 after the reply, 0 when the
 *	address may go on.
 * DIAGNOSTICS
 *	Replies from lib/reply.c.
 * SEE ALSO
 *	RFC 6531 section 3.4, RFC 8689 section 4.1, Postfix smtpd(8)
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf.h"
#include "reply.h"
#include "smtpd.h"
#include "utf8.h"

/* smtpd_ext_ehlo - SMTPUTF8, and REQUIRETLS under TLS */
size_t
smtpd_ext_ehlo(const struct smtpd_session *s, const char **lines, size_t n)
{
	if (conf_bool("smtputf8_enable"))
		lines[n++] = "SMTPUTF8";
	if (s->tls && conf_bool("requiretls_enable"))
		lines[n++] = "REQUIRETLS";
	return (n);
}

/* smtpd_ext_line - malformed UTF-8 in a command: 500 5.5.2 */
int
smtpd_ext_line(struct smtpd_session *s, const char *line, size_t len)
{
	if (utf8_allascii(line, len) || utf8_valid(line, len)
	    || !conf_bool("smtputf8_enable"))
		return (0);
	smtpd_reply(s, REPLY_BAD_UTF8, NULL);	/* counts as an error */
	return (-1);
}

/* smtpd_ext_mail_param - SMTPUTF8, REQUIRETLS (after STARTTLS) */
int
smtpd_ext_mail_param(struct smtpd_session *s, const char *tok,
    const char *val)
{
	if (val != NULL)
		return (0);
	if (strcasecmp(tok, "SMTPUTF8") == 0 && conf_bool("smtputf8_enable")) {
		s->smtputf8 = 1;
		return (1);
	}
	if (strcasecmp(tok, "REQUIRETLS") == 0 && s->tls
	    && conf_bool("requiretls_enable")) {
		s->requiretls = 1;
		return (1);
	}
	return (0);
}

/* smtpd_ext_addr - a UTF-8 address without SMTPUTF8 */
int
smtpd_ext_addr(struct smtpd_session *s, const char *addr, int rcpt)
{
	const char *domain = addr_domain(addr);

	if (s->smtputf8 || utf8_allascii(addr, strlen(addr)))
		return (0);
	if (conf_bool("strict_smtputf8")) {
		smtpd_reply(s, REPLY_NEED_SMTPUTF8, NULL);
		return (-1);
	}
	if (!utf8_allascii(domain, strlen(domain))) {
		smtpd_reply(s, rcpt ? REPLY_BAD_RCPT : REPLY_BAD_SENDER, NULL);
		return (-1);
	}
	return (0);
}
