/*
 * NAME
 *	smtp_ext_test - table-driven tests for smtp_ext.c (SMTPUTF8 and
 *	REQUIRETLS in the smtp client)
 * DESCRIPTION
 *	Each vector is a message (queue file attributes, sender, one
 *	recipient, header block) and the nexthop's policy level; the test
 *	checks what smtp_ext_init() reads, the level smtp_ext_level()
 *	leaves, and the status smtp_ext_check() gives against a server
 *	that offers neither SMTPUTF8 nor REQUIRETLS. Then
 *	smtp_ext_tls_failed() on the reasons smtp_proto.c gives.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "queue.h"
#include "smtp.h"
#include "tap.h"
#include "tls.h"

static const struct {
	const char *name;
	const char *smtputf8;	/* A smtputf8= or NULL */
	const char *requiretls;	/* A requiretls= or NULL */
	const char *origin;	/* A origin= or NULL */
	const char *sender;
	const char *rcpt;
	const char *headers;
	int	 level;		/* the policy's */
	int	 lmtp;
	int	 want_level;
	const char *want_status;	/* smtp_ext_check() against a plain
					 * server, "" when it goes on */
} vec[] = {
	{"ASCII message", NULL, NULL, NULL, "a@b.example", "c@d.example",
	    "Subject: x\n\n", TLS_LEV_MAY, 0, TLS_LEV_MAY, ""},
	{"SMTPUTF8 declared, all ASCII: not needed", "1", NULL, NULL,
	    "a@b.example", "c@d.example", "Subject: x\n\n", TLS_LEV_MAY, 0,
	    TLS_LEV_MAY, ""},
	{"SMTPUTF8 declared, UTF-8 recipient", "1", NULL, NULL, "a@b.example",
	    "m\xc3\xbcller@d.example", "Subject: x\n\n", TLS_LEV_NONE, 0,
	    TLS_LEV_NONE, "5.6.7"},
	{"SMTPUTF8 declared, UTF-8 sender", "1", NULL, NULL,
	    "j\xc3\xb6rg@b.example", "c@d.example", "\n", TLS_LEV_MAY, 0,
	    TLS_LEV_MAY, "5.6.7"},
	{"SMTPUTF8 declared, UTF-8 header only", "1", NULL, NULL,
	    "a@b.example", "c@d.example", "Subject: Gr\xc3\xbc\xc3\x9f" "e\n\n",
	    TLS_LEV_MAY, 0, TLS_LEV_MAY, "5.6.7"},
	{"not declared, from smtpd: sent as it is", NULL, NULL, NULL,
	    "a@b.example", "m\xc3\xbcller@d.example", "\n", TLS_LEV_MAY, 0,
	    TLS_LEV_MAY, ""},
	{"not declared, from sendmail: autodetected", NULL, NULL, "sendmail",
	    "a@b.example", "c@d.example", "Subject: \xe4\xbe\x8b\n\n",
	    TLS_LEV_MAY, 0, TLS_LEV_MAY, "5.6.7"},
	{"REQUIRETLS: none becomes verify", NULL, "1", NULL, "a@b.example",
	    "c@d.example", "\n", TLS_LEV_NONE, 0, TLS_LEV_VERIFY, "5.7.30"},
	{"REQUIRETLS: may becomes verify", NULL, "1", NULL, "a@b.example",
	    "c@d.example", "\n", TLS_LEV_MAY, 0, TLS_LEV_VERIFY, "5.7.30"},
	{"REQUIRETLS: encrypt becomes verify", NULL, "1", NULL,
	    "a@b.example", "c@d.example", "\n", TLS_LEV_ENCRYPT, 0,
	    TLS_LEV_VERIFY, "5.7.30"},
	{"REQUIRETLS: secure stays", NULL, "1", NULL, "a@b.example",
	    "c@d.example", "\n", TLS_LEV_SECURE, 0, TLS_LEV_SECURE, "5.7.30"},
	{"REQUIRETLS: fingerprint stays", NULL, "1", NULL, "a@b.example",
	    "c@d.example", "\n", TLS_LEV_FPRINT, 0, TLS_LEV_FPRINT, "5.7.30"},
	{"REQUIRETLS over lmtp: not enforced", NULL, "1", NULL, "a@b.example",
	    "c@d.example", "\n", TLS_LEV_NONE, 1, TLS_LEV_NONE, ""},
	{"TLS-Required: no lowers verify to may", NULL, NULL, NULL,
	    "a@b.example", "c@d.example", "Subject: x\nTLS-Required: no\n\n",
	    TLS_LEV_VERIFY, 0, TLS_LEV_MAY, ""},
	{"TLS-Required:NO\\t (case, space) lowers secure", NULL, NULL, NULL,
	    "a@b.example", "c@d.example", "TLS-REQUIRED:NO\t\n\n",
	    TLS_LEV_SECURE, 0, TLS_LEV_MAY, ""},
	{"TLS-Required: no leaves none", NULL, NULL, NULL, "a@b.example",
	    "c@d.example", "TLS-Required: no\n\n", TLS_LEV_NONE, 0,
	    TLS_LEV_NONE, ""},
	{"TLS-Required: yes is not no", NULL, NULL, NULL, "a@b.example",
	    "c@d.example", "TLS-Required: yes\n\n", TLS_LEV_VERIFY, 0,
	    TLS_LEV_VERIFY, ""},
	{"TLS-Required: nope is not no", NULL, NULL, NULL, "a@b.example",
	    "c@d.example", "TLS-Required: nope\n\n", TLS_LEV_VERIFY, 0,
	    TLS_LEV_VERIFY, ""},
	{"X-TLS-Required: no is another header", NULL, NULL, NULL,
	    "a@b.example", "c@d.example", "X-TLS-Required: no\n\n",
	    TLS_LEV_VERIFY, 0, TLS_LEV_VERIFY, ""},
	{"REQUIRETLS wins over TLS-Required: no", NULL, "1", NULL,
	    "a@b.example", "c@d.example", "TLS-Required: no\n\n",
	    TLS_LEV_MAY, 0, TLS_LEV_VERIFY, "5.7.30"},
};

/* run - one vector */
static void
run(size_t i)
{
	struct queue_attr attrs[3];
	struct queue_file qf;
	struct smtp_cfg cfg;
	struct smtp_rcpt rc;
	struct smtp_sess s;
	size_t	 n = 0;

	memset(&qf, 0, sizeof(qf));
	memset(&cfg, 0, sizeof(cfg));
	memset(&rc, 0, sizeof(rc));
	memset(&s, 0, sizeof(s));
	if (vec[i].smtputf8)
		attrs[n++] = (struct queue_attr){"smtputf8",
		    (char *)vec[i].smtputf8};
	if (vec[i].requiretls)
		attrs[n++] = (struct queue_attr){"requiretls",
		    (char *)vec[i].requiretls};
	if (vec[i].origin)
		attrs[n++] = (struct queue_attr){"origin",
		    (char *)vec[i].origin};
	qf.attrs = attrs;
	qf.nattrs = n;
	cfg.lmtp = vec[i].lmtp;
	rc.sent = (char *)vec[i].rcpt;
	s.cfg = &cfg;
	s.sender = vec[i].sender;
	s.rcpts = &rc;
	s.nrcpt = 1;
	s.headers = vec[i].headers;
	s.headers_len = strlen(vec[i].headers);
	smtp_ext_init(&s, &qf);
	s.tls_level = vec[i].level;
	smtp_ext_level(&s);
	tap_is_int(s.tls_level, vec[i].want_level, vec[i].name);
	(void)smtp_ext_check(&s, 0, 0, "h[192.0.2.1]");
	tap_is_str(s.status, vec[i].want_status, vec[i].name);
	if (smtp_ext_check(&s, 1, 1, "h[192.0.2.1]") == 0)
		s.status[0] = 0;
	tap_is_str(s.status, "", "  ... a server with both takes it");
}

/* tls_failed - a REQUIRETLS session's TLS failures become 5.7.30 */
static void
tls_failed(void)
{
	struct smtp_sess s;

	memset(&s, 0, sizeof(s));
	s.requiretls = 1;
	snprintf(s.status, sizeof(s.status), "4.7.4");
	snprintf(s.reason, sizeof(s.reason), "TLS is required, but was not "
	    "offered by host h[192.0.2.1]");
	smtp_ext_tls_failed(&s, "h[192.0.2.1]");
	tap_is_str(s.status, "5.7.30", "no STARTTLS: 5.7.30");
	tap_is_str(s.reason, "Sender requested REQUIRETLS, but TLS service "
	    "was not offered by host h[192.0.2.1]", "  Postfix's reason");
	snprintf(s.status, sizeof(s.status), "4.7.5");
	snprintf(s.reason, sizeof(s.reason), "Server certificate not trusted");
	smtp_ext_tls_failed(&s, "h[192.0.2.1]");
	tap_is_str(s.status, "5.7.30", "untrusted certificate: 5.7.30");
	tap_is_str(s.reason, "Sender requested REQUIRETLS, but TLS failed "
	    "with host h[192.0.2.1]: Server certificate not trusted",
	    "  the reason keeps the detail");
	snprintf(s.status, sizeof(s.status), "4.4.2");
	snprintf(s.reason, sizeof(s.reason), "lost connection");
	smtp_ext_tls_failed(&s, "h[192.0.2.1]");
	tap_is_str(s.status, "4.4.2", "a lost connection stays a deferral");
	s.requiretls = 0;
	snprintf(s.status, sizeof(s.status), "4.7.5");
	smtp_ext_tls_failed(&s, "h[192.0.2.1]");
	tap_is_str(s.status, "4.7.5", "without REQUIRETLS nothing changes");
}

int
main(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
		run(i);
	tls_failed();
	conf_set("tls_required_enable", "no");
	{
		struct smtp_cfg cfg;
		struct smtp_sess s;
		struct queue_file qf;

		memset(&cfg, 0, sizeof(cfg));
		memset(&s, 0, sizeof(s));
		memset(&qf, 0, sizeof(qf));
		s.cfg = &cfg;
		s.sender = "a@b.example";
		s.headers = "TLS-Required: no\n\n";
		s.headers_len = strlen(s.headers);
		smtp_ext_init(&s, &qf);
		s.tls_level = TLS_LEV_VERIFY;
		smtp_ext_level(&s);
		tap_is_int(s.tls_level, TLS_LEV_VERIFY,
		    "tls_required_enable = no: the header is ignored");
	}
	return (tap_done());
}
