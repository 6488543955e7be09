/*
 * NAME
 *	smtp_ext - SMTPUTF8 (RFC 6531) and REQUIRETLS (RFC 8689) for the
 *	smtp client
 * SYNOPSIS
 *	#include "smtp.h"
 *
 *	void	smtp_ext_init(struct smtp_sess *s,
 *	    const struct queue_file *qf);
 *	void	smtp_ext_level(struct smtp_sess *s);
 *	void	smtp_ext_tls_failed(struct smtp_sess *s, const char *name);
 *	int	smtp_ext_check(struct smtp_sess *s, int smtputf8,
 *	    int requiretls, const char *name);
 * DESCRIPTION
 *	smtp_ext_init() reads what the message asks for, once the sender,
 *	recipients and headers of s are set: s->smtputf8 when the queue
 *	file has A smtputf8=1 or, for a message whose source is named in
 *	smtputf8_autodetect_classes (sendmail: origin=sendmail, verify:
 *	an address probe, smtpd: the rest; "all"), when its envelope or
 *	headers hold UTF-8; s->needs_smtputf8 when it is so flagged and the
 *	envelope or the headers are not ASCII (Postfix's "delivery requires
 *	SMTPUTF8"); s->requiretls from A requiretls=1 (smtp only: lmtp
 *	delivers such a message as any other); s->tls_required_no
 *	when, without REQUIRETLS and with tls_required_enable, a header
 *	"TLS-Required: no" is present (RFC 8689 section 5).
 *
 *	smtp_ext_level() adjusts the nexthop's TLS level in s: a REQUIRETLS
 *	message needs a verified certificate, so none, may and encrypt
 *	become verify (the names of smtp_tls_verify_cert_match, the chain
 *	against smtp_tls_CAfile); verify, secure and fingerprint stay. With
 *	TLS-Required: no every level above may becomes may: the message
 *	goes with opportunistic TLS, or in plaintext, as the RFC asks.
 *
 *	smtp_ext_tls_failed() turns a TLS failure of a REQUIRETLS session
 *	(status 4.7.x: no STARTTLS, no TLS engine, a failed handshake, an
 *	untrusted or unmatched certificate) into 5.7.30 with Postfix
 *	3.11's "Sender requested REQUIRETLS, but ..." text: the message
 *	is returned, never sent in plaintext.
 *
 *	smtp_ext_check() runs after the last EHLO with what the server
 *	offered: a message that needs SMTPUTF8 fails 5.6.7 "SMTPUTF8 is
 *	required, but was not offered by host NAME" (Postfix 3.7), a
 *	REQUIRETLS message fails 5.7.30 unless the server offered
 *	REQUIRETLS. -1 with s->status and s->reason set (the caller sends
 *	QUIT; another address of the nexthop may still be tried), 0 to go
 *	on.
 * DIAGNOSTICS
 *	Session failures in s->status and s->reason.
 * SEE ALSO
 *	RFC 6531 section 3.4, RFC 8689 sections 4.2 and 5, Postfix smtp(8)
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "queue.h"
#include "smtp.h"
#include "str.h"
#include "tls.h"
#include "utf8.h"

/* autodetect - is the message's source in smtputf8_autodetect_classes? */
static int
autodetect(const struct queue_file *qf)
{
	struct strv *v = conf_list("smtputf8_autodetect_classes");
	const char *origin = queue_file_attr(qf, "origin");
	const char *cls = queue_file_attr(qf, "verify_probe") ? "verify"
	    : origin && strcmp(origin, "sendmail") == 0 ? "sendmail" : "smtpd";
	size_t	 i;
	int	 hit = 0;

	for (i = 0; v && i < v->argc; i++)
		if (strcasecmp(v->argv[i], cls) == 0
		    || strcasecmp(v->argv[i], "all") == 0)
			hit = 1;
	strv_free(v);
	return (hit);
}

/* tls_required_no - a "TLS-Required: no" header (RFC 8689 section 5) */
static int
tls_required_no(const char *h, size_t len)
{
	const char *end = h + len, *p, *nl;
	size_t	 vlen;

	for (p = h; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) < 13 || strncasecmp(p, "TLS-Required:", 13))
			continue;
		for (p += 13; p < nl && (*p == ' ' || *p == '\t'); p++)
			;
		for (vlen = (size_t)(nl - p); vlen > 0
		    && isspace((unsigned char)p[vlen - 1]); vlen--)
			;
		if (vlen == 2 && strncasecmp(p, "no", 2) == 0)
			return (1);
	}
	return (0);
}

/* smtp_ext_init - what the message asks of the next hop */
void
smtp_ext_init(struct smtp_sess *s, const struct queue_file *qf)
{
	const char *flag;
	size_t	 i;
	int	 utf8 = !utf8_allascii(s->sender, strlen(s->sender))
	    || !utf8_allascii(s->headers, s->headers_len);

	for (i = 0; i < s->nrcpt; i++)
		if (s->rcpts[i].sent && !utf8_allascii(s->rcpts[i].sent,
		    strlen(s->rcpts[i].sent)))
			utf8 = 1;
	flag = queue_file_attr(qf, "smtputf8");
	s->smtputf8 = (flag && strcmp(flag, "1") == 0)
	    || (utf8 && autodetect(qf));
	s->needs_smtputf8 = s->smtputf8 && utf8;
	/* LMTP is final delivery: Postfix 3.11's lmtp_requiretls_policy
	 * default "opportunistic" does not enforce it there either */
	flag = queue_file_attr(qf, "requiretls");
	s->requiretls = flag && strcmp(flag, "1") == 0 && !s->cfg->lmtp;
	s->tls_required_no = !s->requiretls && conf_bool("tls_required_enable")
	    && tls_required_no(s->headers, s->headers_len);
}

/* smtp_ext_level - REQUIRETLS: at least verify; TLS-Required: no: may */
void
smtp_ext_level(struct smtp_sess *s)
{
	if (s->requiretls && s->tls_level < TLS_LEV_VERIFY)
		s->tls_level = TLS_LEV_VERIFY;
	else if (s->tls_required_no && s->tls_level > TLS_LEV_MAY)
		s->tls_level = TLS_LEV_MAY;
}

/* smtp_ext_tls_failed - a REQUIRETLS session's TLS failure is final */
void
smtp_ext_tls_failed(struct smtp_sess *s, const char *name)
{
	char	 why[sizeof(s->reason)];

	if (!s->requiretls || strncmp(s->status, "4.7.", 4) != 0)
		return;
	snprintf(why, sizeof(why), "%s", s->reason);
	snprintf(s->status, sizeof(s->status), "5.7.30");
	if (strncmp(why, "TLS is required, but was not offered", 36) == 0)
		snprintf(s->reason, sizeof(s->reason), "Sender requested "
		    "REQUIRETLS, but TLS service was not offered by host %s",
		    name);
	else
		snprintf(s->reason, sizeof(s->reason), "Sender requested "
		    "REQUIRETLS, but TLS failed with host %.300s: %.600s",
		    name, why);
}

/* smtp_ext_check - the next hop's SMTPUTF8 and REQUIRETLS */
int
smtp_ext_check(struct smtp_sess *s, int smtputf8, int requiretls,
    const char *name)
{
	if (s->needs_smtputf8 && !smtputf8) {
		snprintf(s->status, sizeof(s->status), "5.6.7");
		snprintf(s->reason, sizeof(s->reason), "SMTPUTF8 is required, "
		    "but was not offered by host %s", name);
		return (-1);
	}
	if (s->requiretls && !requiretls) {
		snprintf(s->status, sizeof(s->status), "5.7.30");
		snprintf(s->reason, sizeof(s->reason), "Sender requested "
		    "REQUIRETLS, but no server was found that supports "
		    "REQUIRETLS. The last attempted server was %s", name);
		return (-1);
	}
	return (0);
}
