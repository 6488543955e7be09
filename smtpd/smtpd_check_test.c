/*
 * NAME
 *	smtpd_check_test - table-driven tests for the restriction engine
 * DESCRIPTION
 *	Each vector sets parameters (on top of a base configuration in
 *	the seed's style, with memory:/inline:/lmdb: tables), a client
 *	state and a stage, and checks the result and the exact reply.
 *	DNS goes to a dead local port (resolver_nameservers), so every DNS
 *	lookup here is a temporary failure: those vectors check that DNS
 *	trouble is a 4xx, never a 5xx. tests/26-smtpd-check-dns.t covers
 *	the DNS-backed restrictions against dnsmasq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "dns.h"
#include "log.h"
#include "map.h"
#include "map_cache.h"
#include "smtpd_check.h"
#include "smtpd_check_inline.h"
#include "str.h"
#include "tap.h"
#include "xalloc.h"

#define SEED_HELO "permit_mynetworks reject_invalid_helo_hostname " \
	"reject_non_fqdn_helo_hostname reject_unknown_helo_hostname"
#define SEED_RELAY "permit_mynetworks permit_sasl_authenticated " \
	"reject_unauth_destination"
#define SEED_RCPT "permit_auth_destination reject_non_fqdn_recipient " \
	"reject_unauth_destination reject_unknown_recipient_domain " \
	"reject_unlisted_recipient reject_unverified_recipient"

static const char *base_conf[] = {
	"myhostname=server.example.com",
	"mydomain=example.com",
	"mydestination=server.example.com, localhost",
	"mynetworks=127.0.0.0/8 [::1]/128 192.0.2.0/24",
	"inet_interfaces=127.0.0.1, [::1]",
	"proxy_interfaces=",
	"recipient_delimiter=+",
	"virtual_mailbox_domains=memory:t_vdomains",
	"virtual_mailbox_maps=memory:t_vmbox",
	"virtual_alias_maps=memory:t_valias",
	"virtual_alias_domains=valias.example catchall.example",
	"alias_maps=inline:{root=user1@example.com, postmaster=root}",
	"local_recipient_maps=proxy:unix:passwd.byname $alias_maps",
	"relay_domains=relay.example",
	"relay_recipient_maps=inline:{known@relay.example=x}",
	"smtpd_client_restrictions=",
	"smtpd_helo_restrictions=" SEED_HELO,
	"smtpd_sender_restrictions=",
	"smtpd_relay_restrictions=" SEED_RELAY,
	"smtpd_recipient_restrictions=" SEED_RCPT,
	"smtpd_data_restrictions=reject_unauth_pipelining",
	"smtpd_delay_reject=yes",
	"smtpd_reject_unlisted_recipient=yes",
	"smtpd_reject_unlisted_sender=no",
	NULL,
};

#define OUT	"203.0.113.5"	/* a stranger */
#define IN	"192.0.2.7"	/* mynetworks */

#define OK	SMTPD_CHECK_OK
#define REJ	SMTPD_CHECK_REJECT
#define DEF	SMTPD_CHECK_DEFER

static const struct vec {
	const char *name;
	const char *conf;		/* "name=value" lines, '|' separated */
	int	 stage;
	const char *client;
	const char *helo;
	const char *sender;
	const char *rcpt;
	const char *sasl;
	int	 pipelining;
	int	 want;
	const char *reply;
} vecs[] = {
	{"virtual mailbox user accepted", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "a@b.example", "user1@example.com", NULL, 0, OK,
	    ""},
	{"unknown virtual user 550 5.1.1", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "a@b.example", "nobody@example.com", NULL, 0, REJ,
	    "550 5.1.1 <nobody@example.com>: Recipient address rejected: "
	    "User unknown in virtual mailbox table"},
	{"address extension stripped", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "a@b.example", "user1+tag@example.com", NULL, 0,
	    OK, ""},
	{"case folded", "", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]",
	    "a@b.example", "User1@Example.COM", NULL, 0, OK, ""},
	{"virtual alias in mailbox domain", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "a@b.example", "alias@example.com", NULL, 0, OK,
	    ""},
	{"virtual alias domain unknown user", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "x@valias.example", NULL, 0, REJ,
	    "550 5.1.1 <x@valias.example>: Recipient address rejected: "
	    "User unknown in virtual alias table"},
	{"virtual alias domain catch-all", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "anyone@catchall.example", NULL, 0, OK, ""},
	{"relay denied 554 5.7.1", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "a@b.example", "x@elsewhere.test", NULL, 0, REJ,
	    "554 5.7.1 <x@elsewhere.test>: Relay access denied"},
	{"seed recipient list denies relay even to mynetworks",
	    "", SMTPD_STAGE_RCPT, IN, "[192.0.2.7]", "a@b.example",
	    "x@elsewhere.test", NULL, 0, REJ,
	    "554 5.7.1 <x@elsewhere.test>: Relay access denied"},
	{"mynetworks relays with relay list only",
	    "smtpd_recipient_restrictions=", SMTPD_STAGE_RCPT, IN,
	    "[192.0.2.7]", "a@b.example", "x@elsewhere.test", NULL, 0, OK, ""},
	{"sasl relays (submission)", "smtpd_recipient_restrictions=|"
	    "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "user1@example.com",
	    "x@elsewhere.test", "user1@example.com", 0, OK, ""},
	{"submission without auth", "smtpd_recipient_restrictions=|"
	    "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "user1@example.com",
	    "x@elsewhere.test", NULL, 0, REJ,
	    "554 5.7.1 <x@elsewhere.test>: Recipient address rejected: "
	    "Access denied"},
	{"default relay restrictions defer", "smtpd_relay_restrictions="
	    "permit_mynetworks, permit_sasl_authenticated, "
	    "defer_unauth_destination|smtpd_recipient_restrictions=",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "x@elsewhere.test",
	    NULL, 0, DEF, "450 4.7.1 <x@elsewhere.test>: Relay access denied"},
	{"percent hack to relay domain denied", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "x%elsewhere.test@relay.example", NULL, 0,
	    REJ, "554 5.7.1 <x%elsewhere.test@relay.example>: Relay access "
	    "denied"},
	{"relay domain known recipient", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "known@relay.example", NULL, 0, OK, ""},
	{"relay domain subdomain matches", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "known@sub.relay.example", NULL, 0, REJ,
	    "550 5.1.1 <known@sub.relay.example>: Recipient address rejected: "
	    "User unknown in relay recipient table"},
	{"relay domain unknown recipient", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "unknown@relay.example", NULL, 0, REJ,
	    "550 5.1.1 <unknown@relay.example>: Recipient address rejected: "
	    "User unknown in relay recipient table"},
	{"local alias", "", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "",
	    "postmaster@server.example.com", NULL, 0, OK, ""},
	{"local passwd user", "", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "",
	    "nobody@localhost", NULL, 0, OK, ""},
	{"bare postmaster", "", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "",
	    "postmaster", NULL, 0, OK, ""},
	{"local unknown user", "", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "",
	    "nosuchuser@server.example.com", NULL, 0, REJ,
	    "550 5.1.1 <nosuchuser@server.example.com>: Recipient address "
	    "rejected: User unknown in local recipient table"},
	{"local_recipient_maps empty accepts all", "local_recipient_maps=",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "",
	    "nosuchuser@server.example.com", NULL, 0, OK, ""},
	{"address literal of ours", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "postmaster@[127.0.0.1]", NULL, 0, OK, ""},
	{"address literal elsewhere", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "x@[198.51.100.1]", NULL, 0, REJ,
	    "554 5.7.1 <x@[198.51.100.1]>: Relay access denied"},
	{"v4-mapped address literal of ours", "", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "postmaster@[IPv6:::ffff:127.0.0.1]", NULL,
	    0, OK, ""},
	{"relay_domains table: a subdomain is relayed (resolve/)",
	    "relay_domains=inline:{relay.example=x}|relay_recipient_maps=",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "x@sub.relay.example",
	    NULL, 0, OK, ""},
	{"relay_domains not in parent_domain_matches_subdomains",
	    "parent_domain_matches_subdomains=mynetworks|"
	    "relay_recipient_maps=", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]",
	    "", "x@sub.relay.example", NULL, 0, REJ,
	    "554 5.7.1 <x@sub.relay.example>: Relay access denied"},
	{"/file pattern: a mailbox domain listed in the file",
	    "virtual_mailbox_domains=@T@/vdomains", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "user1@example.com", NULL, 0, OK, ""},
	{"/file pattern: second domain of the file (validated, not relay)",
	    "virtual_mailbox_domains=@T@/vdomains", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "x@filemail.example", NULL, 0, REJ,
	    "550 5.1.1 <x@filemail.example>: Recipient address rejected: "
	    "User unknown in virtual mailbox table"},
	{"/file pattern unreadable: 451, never 554",
	    "virtual_mailbox_domains=/nonexistent/postern/vdomains",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "user1@example.com",
	    NULL, 0, DEF,
	    "451 4.3.0 <user1@example.com>: Temporary lookup failure"},
	{"mailbox map down: 451, never 550",
	    "virtual_mailbox_maps=lmdb:/nonexistent/postern/vmbox",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "user1@example.com",
	    NULL, 0, DEF,
	    "451 4.3.0 <user1@example.com>: Temporary lookup failure"},
	{"domain map down: 451, never relay denied",
	    "virtual_mailbox_domains=lmdb:/nonexistent/postern/vdom",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "user1@example.com",
	    NULL, 0, DEF,
	    "451 4.3.0 <user1@example.com>: Temporary lookup failure"},
	{"alias map down: 451", "virtual_alias_maps=lmdb:/nonexistent/va",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "nobody@example.com",
	    NULL, 0, DEF,
	    "451 4.3.0 <nobody@example.com>: Temporary lookup failure"},
	{"warn_if_reject does not hide a map failure",
	    "virtual_mailbox_domains=lmdb:/nonexistent/postern/vdom|"
	    "smtpd_recipient_restrictions=warn_if_reject "
	    "reject_unauth_destination", SMTPD_STAGE_RCPT, IN,
	    "[192.0.2.7]", "", "user1@example.com", NULL, 0, DEF,
	    "451 4.3.0 <user1@example.com>: Temporary lookup failure"},
	{"non-fqdn recipient", "smtpd_recipient_restrictions="
	    "reject_non_fqdn_recipient", SMTPD_STAGE_RCPT, IN, "[192.0.2.7]",
	    "", "x@nodots", NULL, 0, REJ, "504 5.5.2 <x@nodots>: Recipient "
	    "address rejected: need fully-qualified address"},
	{"non-fqdn recipient trailing dot ok", "smtpd_recipient_restrictions="
	    "reject_non_fqdn_recipient", SMTPD_STAGE_RCPT, IN, "[192.0.2.7]",
	    "", "x@elsewhere.test.", NULL, 0, OK, ""},
	{"helo invalid", "", SMTPD_STAGE_RCPT, OUT, "bad_helo!", "",
	    "user1@example.com", NULL, 0, REJ, "501 5.5.2 <bad_helo!>: Helo "
	    "command rejected: Invalid name"},
	{"helo with CR LF is made printable", "", SMTPD_STAGE_RCPT, OUT,
	    "evil\r\n250 ok", "", "user1@example.com", NULL, 0, REJ,
	    "501 5.5.2 <evil??250 ok>: Helo command rejected: Invalid name"},
	{"helo 8-bit", "", SMTPD_STAGE_RCPT, OUT, "h\xc3\xa9.example", "",
	    "user1@example.com", NULL, 0, REJ, "501 5.5.2 <h??.example>: "
	    "Helo command rejected: Invalid name"},
	{"helo not fqdn", "", SMTPD_STAGE_RCPT, OUT, "nodot", "",
	    "user1@example.com", NULL, 0, REJ, "504 5.5.2 <nodot>: Helo "
	    "command rejected: need fully-qualified hostname"},
	{"helo bare ip is not fqdn", "", SMTPD_STAGE_RCPT, OUT, "203.0.113.5",
	    "", "user1@example.com", NULL, 0, REJ, "504 5.5.2 <203.0.113.5>: "
	    "Helo command rejected: need fully-qualified hostname"},
	{"helo bad literal", "", SMTPD_STAGE_RCPT, OUT, "[300.1.1.1]", "",
	    "user1@example.com", NULL, 0, REJ, "501 5.5.2 <[300.1.1.1]>: "
	    "Helo command rejected: Invalid ip address"},
	{"helo DNS failure defers, never 5xx", "", SMTPD_STAGE_RCPT, OUT,
	    "mail.far.example", "", "user1@example.com", NULL, 0, DEF,
	    "450 4.7.1 <mail.far.example>: Helo command rejected: Host not "
	    "found"},
	{"helo from mynetworks skips checks", "", SMTPD_STAGE_RCPT, IN,
	    "nodot", "", "user1@example.com", NULL, 0, OK, ""},
	{"defer_if_permit loses to a later reject",
	    "smtpd_sender_restrictions=reject", SMTPD_STAGE_RCPT, OUT,
	    "mail.far.example", "a@b.example", "user1@example.com", NULL, 0,
	    REJ, "554 5.7.1 <a@b.example>: Sender address rejected: Access "
	    "denied"},
	{"non-fqdn sender", "smtpd_sender_restrictions=reject_non_fqdn_sender",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "user@nodot",
	    "user1@example.com", NULL, 0, REJ, "504 5.5.2 <user@nodot>: Sender "
	    "address rejected: need fully-qualified address"},
	{"null sender passes sender checks", "smtpd_sender_restrictions="
	    "reject_non_fqdn_sender reject_unknown_sender_domain "
	    "reject_unlisted_sender", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]",
	    "", "user1@example.com", NULL, 0, OK, ""},
	{"warn_if_reject only warns", "smtpd_sender_restrictions="
	    "warn_if_reject reject_non_fqdn_sender", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "user@nodot", "user1@example.com", NULL, 0, OK,
	    ""},
	{"warn_if_reject applies to the next restriction only",
	    "smtpd_sender_restrictions=warn_if_reject reject_non_fqdn_sender "
	    "reject_non_fqdn_sender", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]",
	    "user@nodot", "user1@example.com", NULL, 0, REJ, "504 5.5.2 "
	    "<user@nodot>: Sender address rejected: need fully-qualified "
	    "address"},
	{"unknown sender domain: DNS failure is 450",
	    "smtpd_sender_restrictions=reject_unknown_sender_domain",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "u@far.example",
	    "user1@example.com", NULL, 0, DEF, "450 4.1.8 <u@far.example>: "
	    "Sender address rejected: Domain not found"},
	{"unknown sender domain: our own domain needs no DNS",
	    "smtpd_sender_restrictions=reject_unknown_sender_domain",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "user1@example.com",
	    "user1@example.com", NULL, 0, OK, ""},
	{"unlisted sender in our domain", "smtpd_sender_restrictions="
	    "reject_unlisted_sender", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]",
	    "forged@example.com", "user1@example.com", NULL, 0, REJ,
	    "550 5.1.0 <forged@example.com>: Sender address rejected: User "
	    "unknown in virtual mailbox table"},
	{"smtpd_reject_unlisted_sender=yes", "smtpd_reject_unlisted_sender=yes",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "forged@example.com",
	    "user1@example.com", NULL, 0, REJ, "550 5.1.0 <forged@example.com>: "
	    "Sender address rejected: User unknown in virtual mailbox table"},
	{"sender access REJECT text", "smtpd_sender_restrictions="
	    "check_sender_access inline:{{spammer@bad.example=REJECT Go away}}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "spammer@bad.example",
	    "user1@example.com", NULL, 0, REJ, "554 5.7.1 "
	    "<spammer@bad.example>: Sender address rejected: Go away"},
	{"sender access REJECT default text", "smtpd_sender_restrictions="
	    "check_sender_access inline:{bad.example=REJECT}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "x@bad.example",
	    "user1@example.com", NULL, 0, REJ, "554 5.7.1 <x@bad.example>: "
	    "Sender address rejected: Access denied"},
	{"sender access parent domain and numeric reply",
	    "smtpd_sender_restrictions=check_sender_access "
	    "inline:{{bad.example=550 5.7.0 Nope}}", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "x@sub.bad.example", "user1@example.com", NULL, 0,
	    REJ, "550 5.7.0 <x@sub.bad.example>: Sender address rejected: "
	    "Nope"},
	{"sender access numeric without dsn", "smtpd_sender_restrictions="
	    "check_sender_access inline:{{x@bad.example=421 go}}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "x@bad.example",
	    "user1@example.com", NULL, 0, DEF, "421 4.7.1 <x@bad.example>: "
	    "Sender address rejected: go"},
	{"sender access user@ key and OK", "smtpd_sender_restrictions="
	    "check_sender_access inline:{okuser@=OK} reject",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "okuser@any.example",
	    "user1@example.com", NULL, 0, OK, ""},
	{"sender access DUNNO stops the lookup", "smtpd_sender_restrictions="
	    "check_sender_access inline:{a@bad.example=DUNNO, "
	    "bad.example=REJECT}", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]",
	    "a@bad.example", "user1@example.com", NULL, 0, OK, ""},
	{"sender access DEFER", "smtpd_sender_restrictions="
	    "check_sender_access inline:{{bad.example=DEFER later}}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@bad.example",
	    "user1@example.com", NULL, 0, DEF, "450 4.7.1 <a@bad.example>: "
	    "Sender address rejected: later"},
	{"sender access null sender key", "smtpd_sender_restrictions="
	    "check_sender_access inline:{{<>=REJECT no bounces}}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "user1@example.com",
	    NULL, 0, REJ, "554 5.7.1 <>: Sender address rejected: no bounces"},
	{"sender access value is a restriction", "smtpd_sender_restrictions="
	    "check_sender_access inline:{{bad.example=reject_non_fqdn_sender "
	    "reject}}", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]",
	    "a@bad.example", "user1@example.com", NULL, 0, REJ, "554 5.7.1 "
	    "<a@bad.example>: Sender address rejected: Access denied"},
	/* issue 11: restrictions that need no DNS (tests/16 has the rest) */
	{"reject_plaintext_session without TLS: 450 4.7.1",
	    "smtpd_recipient_restrictions=reject_plaintext_session",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@b.example",
	    "user1@example.com", NULL, 0, DEF, "450 4.7.1 Session encryption "
	    "is required"},
	{"check_sasl_access rejects a listed login",
	    "smtpd_sasl_auth_enable=yes|smtpd_recipient_restrictions="
	    "check_sasl_access inline:{bad@example.com=REJECT}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@b.example",
	    "user1@example.com", "bad@example.com", 0, REJ, "554 5.7.1 "
	    "<bad@example.com>: SASL login name rejected: Access denied"},
	{"check_sasl_access: another login, or no AUTH, passes",
	    "smtpd_sasl_auth_enable=yes|smtpd_recipient_restrictions="
	    "check_sasl_access inline:{bad@example.com=REJECT}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@b.example",
	    "user1@example.com", "good@example.com", 0, OK, ""},
	{"check_sasl_access is ignored without smtpd_sasl_auth_enable",
	    "smtpd_sasl_auth_enable=no|smtpd_recipient_restrictions="
	    "check_sasl_access inline:{bad@example.com=REJECT}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@b.example",
	    "user1@example.com", "bad@example.com", 0, OK, ""},
	{"permit_tls_clientcerts without TLS: dunno, so relay is denied",
	    "smtpd_relay_restrictions=permit_tls_clientcerts "
	    "reject_unauth_destination",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@b.example",
	    "x@elsewhere.example", NULL, 0, REJ, "554 5.7.1 "
	    "<x@elsewhere.example>: Relay access denied"},
	{"reject_multi_recipient_bounce: the first RCPT of a bounce passes",
	    "smtpd_recipient_restrictions=reject_multi_recipient_bounce",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "user1@example.com",
	    NULL, 0, OK, ""},
	{"reject_unverified_sender without a verify service: 450 (Postfix)",
	    "smtpd_sender_restrictions=check_sender_access "
	    "inline:{bad.example=reject_unverified_sender}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@bad.example",
	    "user1@example.com", NULL, 0, DEF, "450 4.1.7 <a@bad.example>: "
	    "Sender address rejected: address verification problem"},
	{"sender access table down", "smtpd_sender_restrictions="
	    "check_sender_access lmdb:/nonexistent/postern/access",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@b.example",
	    "user1@example.com", NULL, 0, DEF, "451 4.3.0 <a@b.example>: "
	    "Temporary lookup failure"},
	{"recipient access", "smtpd_recipient_restrictions="
	    "check_recipient_access inline:{{user1@example.com=REJECT closed}}",
	    SMTPD_STAGE_RCPT, IN, "[192.0.2.7]", "", "user1+x@example.com",
	    NULL, 0, REJ, "554 5.7.1 <user1+x@example.com>: Recipient address "
	    "rejected: closed"},
	{"client access by class prefix", "smtpd_client_restrictions="
	    "check_client_access inline:{{203.0.113=DEFER try later}}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "user1@example.com",
	    NULL, 0, DEF, "450 4.7.1 <unknown[203.0.113.5]>: Client host "
	    "rejected: try later"},
	{"client access cidr", "smtpd_client_restrictions="
	    "check_client_access cidr:/nonexistent/postern/x.cidr",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "user1@example.com",
	    NULL, 0, DEF, "451 4.3.0 <unknown[203.0.113.5]>: Temporary lookup "
	    "failure"},
	{"helo access", "smtpd_helo_restrictions=check_helo_access "
	    "inline:{{example.net=REJECT you are not me}}", SMTPD_STAGE_RCPT,
	    OUT, "mx.example.net", "", "user1@example.com", NULL, 0, REJ,
	    "554 5.7.1 <mx.example.net>: Helo command rejected: you are not "
	    "me"},
	{"unknown client hostname", "smtpd_client_restrictions="
	    "reject_unknown_client_hostname", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "user1@example.com", NULL, 0, DEF,
	    "450 4.7.25 Client host rejected: cannot find your hostname, "
	    "[203.0.113.5]"},
	{"unknown reverse client hostname 550", "smtpd_client_restrictions="
	    "reject_unknown_reverse_client_hostname|"
	    "unknown_client_reject_code=550", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "user1@example.com", NULL, 0, REJ,
	    "550 5.7.25 Client host rejected: cannot find your reverse "
	    "hostname, [203.0.113.5]"},
	{"client reject names the client", "smtpd_client_restrictions=reject",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "user1@example.com",
	    NULL, 0, REJ, "554 5.7.1 <unknown[203.0.113.5]>: Client host "
	    "rejected: Access denied"},
	{"permit in client list does not skip recipient checks",
	    "smtpd_client_restrictions=permit", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "x@elsewhere.test", NULL, 0, REJ,
	    "554 5.7.1 <x@elsewhere.test>: Relay access denied"},
	{"unauth pipelining at DATA", "", SMTPD_STAGE_DATA, OUT,
	    "[203.0.113.5]", "a@b.example", "user1@example.com", NULL, 1, REJ,
	    "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP "
	    "command pipelining"},
	{"DATA without pipelining abuse", "", SMTPD_STAGE_DATA, OUT,
	    "[203.0.113.5]", "a@b.example", "user1@example.com", NULL, 0, OK,
	    ""},
	{"unknown restriction: 451 4.3.5", "smtpd_sender_restrictions="
	    "reject_bogus_thing", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]",
	    "a@b.example", "user1@example.com", NULL, 0, DEF,
	    "451 4.3.5 Server configuration error"},
	{"missing table argument: 451 4.3.5", "smtpd_sender_restrictions="
	    "check_sender_access", SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]",
	    "a@b.example", "user1@example.com", NULL, 0, DEF,
	    "451 4.3.5 Server configuration error"},
	{"restriction class", "smtpd_restriction_classes=strict|"
	    "strict=reject_non_fqdn_sender, reject|smtpd_sender_restrictions="
	    "check_sender_access inline:{bad.example=strict}",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@bad.example",
	    "user1@example.com", NULL, 0, REJ, "554 5.7.1 <a@bad.example>: "
	    "Sender address rejected: Access denied"},
	{"restriction class loop is bounded", "smtpd_restriction_classes="
	    "loop|loop=loop|smtpd_sender_restrictions=loop",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "a@b.example",
	    "user1@example.com", NULL, 0, DEF,
	    "451 4.3.5 Server configuration error"},
	{"sender login mismatch", "smtpd_sender_login_maps="
	    "inline:{user1@example.com=user1@example.com}|"
	    "smtpd_sender_restrictions=reject_sender_login_mismatch",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "user1@example.com",
	    "x@elsewhere.test", "user2@example.com", 0, REJ,
	    "553 5.7.1 <user1@example.com>: Sender address rejected: not "
	    "owned by user user2@example.com"},
	{"sender login match", "smtpd_sender_login_maps="
	    "inline:{user1@example.com=user1@example.com}|"
	    "smtpd_sender_restrictions=reject_sender_login_mismatch|"
	    "smtpd_recipient_restrictions=",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "user1@example.com",
	    "x@elsewhere.test", "user1@example.com", 0, OK, ""},
	{"owned sender without login", "smtpd_sender_login_maps="
	    "inline:{user1@example.com=user1@example.com}|"
	    "smtpd_sender_restrictions=reject_sender_login_mismatch",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "user1@example.com",
	    "user1@example.com", NULL, 0, REJ,
	    "553 5.7.1 <user1@example.com>: Sender address rejected: not "
	    "logged in"},
	{"delay_reject=no: helo checked at HELO", "smtpd_delay_reject=no",
	    SMTPD_STAGE_HELO, OUT, "nodot", NULL, NULL, NULL, 0, REJ,
	    "504 5.5.2 <nodot>: Helo command rejected: need fully-qualified "
	    "hostname"},
	{"delay_reject=no: client checked at CONNECT", "smtpd_delay_reject=no|"
	    "smtpd_client_restrictions=reject", SMTPD_STAGE_CONNECT, OUT, NULL,
	    NULL, NULL, NULL, 0, REJ, "554 5.7.1 <unknown[203.0.113.5]>: "
	    "Client host rejected: Access denied"},
	{"delay_reject=no: helo not rechecked at RCPT", "smtpd_delay_reject=no",
	    SMTPD_STAGE_RCPT, OUT, "nodot", "", "user1@example.com", NULL, 0,
	    OK, ""},
	{"delay_reject=yes: nothing at HELO", "", SMTPD_STAGE_HELO, OUT,
	    "nodot", NULL, NULL, NULL, 0, OK, ""},
	{"delay_reject=yes: nothing at MAIL", "smtpd_sender_restrictions="
	    "reject", SMTPD_STAGE_MAIL, OUT, "[203.0.113.5]", "a@b.example",
	    NULL, NULL, 0, OK, ""},
	{"mynetworks from a table", "mynetworks=inline:{203.0.113.5=ok}|"
	    "smtpd_recipient_restrictions=", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "x@elsewhere.test", NULL, 0, OK, ""},
	{"mynetworks !exclusion first match wins",
	    "mynetworks=!192.0.2.7 192.0.2.0/24|smtpd_recipient_restrictions=",
	    SMTPD_STAGE_RCPT, IN, "[192.0.2.7]", "", "x@elsewhere.test", NULL,
	    0, REJ, "554 5.7.1 <x@elsewhere.test>: Relay access denied"},
	{"mynetworks !exclusion of another host",
	    "mynetworks=!192.0.2.8 192.0.2.0/24|smtpd_recipient_restrictions=",
	    SMTPD_STAGE_RCPT, IN, "[192.0.2.7]", "", "x@elsewhere.test", NULL,
	    0, OK, ""},
	{"mynetworks ipv6", "smtpd_recipient_restrictions=",
	    SMTPD_STAGE_RCPT, "::1", "[IPv6:::1]", "", "x@elsewhere.test",
	    NULL, 0, OK, ""},
	{"mynetworks v4-mapped client", "smtpd_recipient_restrictions=",
	    SMTPD_STAGE_RCPT, "::ffff:192.0.2.9", "[192.0.2.9]", "",
	    "x@elsewhere.test", NULL, 0, OK, ""},
	{"no relay-blocking restriction: never an open relay",
	    "smtpd_relay_restrictions=permit_mynetworks|"
	    "smtpd_recipient_restrictions=permit_sasl_authenticated",
	    SMTPD_STAGE_RCPT, OUT, "[203.0.113.5]", "", "x@elsewhere.test",
	    NULL, 0, DEF, "451 4.3.5 Server configuration error"},
	{"relay-blocking restriction inside a restriction class",
	    "smtpd_restriction_classes=guard|guard=reject_unauth_destination|"
	    "smtpd_relay_restrictions=permit_mynetworks guard|"
	    "smtpd_recipient_restrictions=", SMTPD_STAGE_RCPT, OUT,
	    "[203.0.113.5]", "", "x@elsewhere.test", NULL, 0, REJ,
	    "554 5.7.1 <x@elsewhere.test>: Relay access denied"},
	{"static: access table", "smtpd_helo_restrictions=check_helo_access "
	    "static:{REJECT static says no}", SMTPD_STAGE_RCPT, OUT,
	    "mx.example.net", "", "user1@example.com", NULL, 0, REJ,
	    "554 5.7.1 <mx.example.net>: Helo command rejected: static says no"},
	{"texthash: recipient access with user@ key",
	    "smtpd_recipient_restrictions=check_recipient_access "
	    "texthash:@T@/rcpt_access", SMTPD_STAGE_RCPT, IN, "[192.0.2.7]",
	    "", "abuse@elsewhere.test", NULL, 0, REJ, "550 5.7.1 "
	    "<abuse@elsewhere.test>: Recipient address rejected: no abuse here"},
	{"texthash: domain key OK", "smtpd_recipient_restrictions="
	    "check_recipient_access texthash:@T@/rcpt_access reject",
	    SMTPD_STAGE_RCPT, IN, "[192.0.2.7]", "", "x@friend.test", NULL, 0,
	    OK, ""},
	{"unknown recipient domain: DNS failure is 450",
	    "smtpd_recipient_restrictions=reject_unknown_recipient_domain",
	    SMTPD_STAGE_RCPT, IN, "[192.0.2.7]", "", "x@far.example", NULL, 0,
	    DEF, "450 4.1.2 <x@far.example>: Recipient address rejected: "
	    "Domain not found"},
};

/* log capture */
static struct buf *logged;
static char tdir[64];		/* texthash fixtures, "@T@" in vectors */

/* log_hook - keep every line */
static void
log_hook(int level, const char *text, void *ctx)
{
	buf_puts(logged, text);
	buf_putc(logged, '\n');
}

/* apply_conf - base configuration plus a vector's overrides */
static void
apply_conf(const char *extra)
{
	char	*copy, *cp, *tok;
	int	 i;

	conf_reset();
	for (i = 0; base_conf[i]; i++)
		conf_set_option(base_conf[i]);
	copy = xstrdup(extra);
	cp = copy;
	while ((tok = str_token(&cp, "|")) != NULL) {
		char	*at = strstr(tok, "@T@");

		if (at) {
			char	*full;

			*at = 0;
			full = xasprintf("%s%s%s", tok, tdir, at + 3);
			conf_set_option(full);
			free(full);
		} else
			conf_set_option(tok);
	}
	free(copy);
}

/* run_vec - one vector */
static void
run_vec(const struct vec *v)
{
	struct smtpd_checker *c;
	struct smtpd_check_state st;
	struct buf *reply = buf_new(128);
	char	 name[300];
	int	 rc;

	apply_conf(v->conf);
	c = smtpd_check_new();
	memset(&st, 0, sizeof(st));
	st.client_addr = v->client;
	st.server_addr = "127.0.0.1";
	st.protocol = "ESMTP";
	st.helo_name = v->helo;
	st.sender = v->sender;
	st.recipient = v->rcpt;
	st.sasl_username = v->sasl;
	st.unauth_pipelining = v->pipelining;
	snprintf(st.client_name, sizeof(st.client_name), "unknown");
	snprintf(st.reverse_client_name, sizeof(st.reverse_client_name),
	    "unknown");
	st.client_name_status = SMTPD_NAME_UNKNOWN;
	rc = smtpd_check(c, v->stage, &st, reply);
	snprintf(name, sizeof(name), "%s: result", v->name);
	tap_is_int(rc, v->want, name);
	snprintf(name, sizeof(name), "%s: reply", v->name);
	tap_is_str(BUF_STR(reply), v->reply, name);
	smtpd_check_free(c);
	buf_free(reply);
}

/* check_logs - the Postfix-form log lines */
static void
check_logs(void)
{
	tap_ok(strstr(BUF_STR(logged), "NOQUEUE: reject: RCPT from "
	    "unknown[203.0.113.5]: 550 5.1.1 <nobody@example.com>: Recipient "
	    "address rejected: User unknown in virtual mailbox table; "
	    "from=<a@b.example> to=<nobody@example.com> proto=ESMTP "
	    "helo=<[203.0.113.5]>\n") != NULL, "reject logged in Postfix form");
	tap_ok(strstr(BUF_STR(logged), "NOQUEUE: reject_warning: RCPT from "
	    "unknown[203.0.113.5]: 504 5.5.2 <user@nodot>: Sender address "
	    "rejected: need fully-qualified address; from=<user@nodot> "
	    "to=<user1@example.com> proto=ESMTP helo=<[203.0.113.5]>\n")
	    != NULL, "warn_if_reject logged as reject_warning");
	tap_ok(strstr(BUF_STR(logged), "NOQUEUE: reject: DATA from "
	    "unknown[203.0.113.5]: 503 5.5.0 <DATA>: Data command rejected: "
	    "Improper use of SMTP command pipelining; from=<a@b.example> "
	    "to=<user1@example.com> proto=ESMTP helo=<[203.0.113.5]>\n")
	    != NULL, "DATA reject logged");
	tap_ok(strstr(BUF_STR(logged), "warning: verify service failure")
	    != NULL, "verify service failure warned");
	tap_ok(strstr(BUF_STR(logged), "helo=<evil??250 ok>") != NULL,
	    "client text is made safe in logs");
	tap_ok(strstr(BUF_STR(logged), "specify at least one working "
	    "instance of") != NULL, "missing relay protection warned");
	tap_ok(strstr(BUF_STR(logged), "unknown smtpd restriction: "
	    "\"reject_bogus_thing\"") != NULL, "unknown restriction warned");
}

/* action_state - a fresh state for test_actions */
static void
action_state(struct smtpd_check_state *st, const char *sender)
{
	memset(st, 0, sizeof(*st));
	st->client_addr = OUT;
	st->server_addr = "127.0.0.1";
	st->protocol = "ESMTP";
	st->helo_name = "[" OUT "]";
	st->sender = sender;
	st->recipient = "user1@example.com";
	snprintf(st->client_name, sizeof(st->client_name), "unknown");
	snprintf(st->reverse_client_name, sizeof(st->reverse_client_name),
	    "unknown");
}

/* action_run - one stage with extra configuration, returns the result */
static int
action_run(const char *conf, int stage, struct smtpd_check_state *st)
{
	struct smtpd_checker *c;
	struct buf *reply = buf_new(128);
	int	 rc;

	apply_conf(conf);
	c = smtpd_check_new();
	rc = smtpd_check(c, stage, st, reply);
	smtpd_check_free(c);
	buf_free(reply);
	return (rc);
}

/* test_actions - HOLD, DISCARD, REDIRECT, BCC, PREPEND in the state */
static void
test_actions(void)
{
	struct smtpd_check_state st;
	int	 rc;

	action_state(&st, "a@b.example");
	rc = action_run("smtpd_recipient_restrictions=check_recipient_access "
	    "static:{HOLD} check_sender_access static:{HOLD} "
	    "check_recipient_access static:{BCC one@x.example} "
	    "check_sender_access static:{BCC two@x.example} "
	    "check_recipient_access static:{REDIRECT to@x.example} "
	    "check_recipient_access static:{PREPEND X-Tag: yes} "
	    "permit_mynetworks reject", SMTPD_STAGE_RCPT, &st);
	tap_is_int(rc, REJ, "actions: the list goes on after them");
	tap_is_int(st.actions, SMTPD_ACT_HOLD, "actions: HOLD recorded");
	tap_is_str(st.bcc, "one@x.example\ntwo@x.example\n",
	    "actions: every BCC kept");
	tap_is_str(st.redirect, "to@x.example", "actions: REDIRECT kept");
	tap_is_str(st.prepend, "X-Tag: yes\n", "actions: PREPEND kept");
	tap_ok(strstr(BUF_STR(logged), "NOQUEUE: hold: RCPT from unknown["
	    OUT "]: <user1@example.com>: Recipient address triggers HOLD "
	    "action; from=<a@b.example> to=<user1@example.com> proto=ESMTP "
	    "helo=<[" OUT "]>\n") != NULL, "actions: hold logged");
	tap_ok(strstr(BUF_STR(logged), "NOQUEUE: hold: RCPT from unknown["
	    OUT "]: <a@b.example>") == NULL, "actions: a second HOLD is not "
	    "logged again");
	tap_ok(strstr(BUF_STR(logged), "NOQUEUE: bcc: RCPT from unknown["
	    OUT "]: <a@b.example>: Sender address triggers BCC "
	    "two@x.example;") != NULL, "actions: bcc logged");

	rc = action_run("", SMTPD_STAGE_MAIL, &st);
	tap_ok(rc == OK && st.actions == 0 && !st.bcc[0] && !st.redirect[0]
	    && !st.prepend[0], "actions: cleared at MAIL");

	rc = action_run("smtpd_recipient_restrictions=check_recipient_access "
	    "static:{DISCARD} reject_unauth_destination reject", SMTPD_STAGE_RCPT,
	    &st);
	tap_is_int(rc, OK, "actions: DISCARD permits");
	tap_is_int(st.actions, SMTPD_ACT_DISCARD, "actions: DISCARD recorded");
	rc = action_run("smtpd_recipient_restrictions=reject|"
	    "smtpd_data_restrictions=reject", SMTPD_STAGE_RCPT, &st);
	tap_is_int(rc, OK, "actions: after DISCARD every RCPT is OK");
	rc = action_run("smtpd_data_restrictions=reject", SMTPD_STAGE_DATA,
	    &st);
	tap_is_int(rc, OK, "actions: after DISCARD DATA is OK");
	tap_ok(strstr(BUF_STR(logged), "NOQUEUE: discard: RCPT from unknown["
	    OUT "]: <user1@example.com>: Recipient address triggers DISCARD "
	    "action; from=<a@b.example>") != NULL, "actions: discard logged");

	action_state(&st, "a@b.example");
	action_run("smtpd_recipient_restrictions=check_recipient_access "
	    "static:{REDIRECT nobody} check_recipient_access "
	    "static:{PREPEND no header} permit", SMTPD_STAGE_RCPT, &st);
	tap_ok(!st.redirect[0] && !st.prepend[0], "actions: a REDIRECT "
	    "without @ and a PREPEND without header: are ignored");
	tap_ok(strstr(BUF_STR(logged), "\"REDIRECT nobody\" requires "
	    "user@domain target") != NULL, "actions: REDIRECT warned");
	tap_ok(strstr(BUF_STR(logged), "\"PREPEND no header\" requires "
	    "header: text") != NULL, "actions: PREPEND warned");

	action_state(&st, NULL);
	st.recipient = NULL;
	rc = action_run("smtpd_delay_reject=no|smtpd_client_restrictions="
	    "check_client_access static:{HOLD}", SMTPD_STAGE_CONNECT, &st);
	tap_ok(rc == OK && st.actions == 0, "actions: skipped before MAIL");
	tap_ok(strstr(BUF_STR(logged), "action HOLD is always skipped in "
	    "client or helo restrictions") != NULL,
	    "actions: skipping warned");
}

/* inline_run - a stage tried on the event loop (smtpd_check_inline.c)
 * with a loop checker made from conf: the verdict, the result, the miss */
static int
inline_run(const char *conf, int stage, struct smtpd_check_state *st,
    int *ok, int *missed)
{
	struct smtpd_checker *c;
	struct buf *reply = buf_new(128);
	int	 rc = -1;

	apply_conf(conf);
	c = smtpd_check_new();
	*ok = smtpd_check_inline_ok(c, stage);
	smtpd_check_free(c);
	smtpd_check_inline_reset();
	*missed = !smtpd_check_inline(stage, st, reply, &rc);
	smtpd_check_inline_reset();
	buf_free(reply);
	return (rc);
}

/* test_inline - which lists the event loop may try, and what it leaves
 * to a worker (anything that would block or log) */
static void
test_inline(void)
{
	static const struct {
		const char *name;
		const char *conf;
		const char *rcpt;
		int	 ok;		/* smtpd_check_inline_ok() */
		int	 missed;	/* left to a worker */
		int	 rc;		/* when not missed */
	} v[] = {
		{"local access table, no match",
		    "smtpd_data_restrictions=reject_unauth_pipelining "
		    "check_recipient_access texthash:@T@/rcpt_access",
		    "user1@example.com", 1, 0, OK},
		{"local access table, OK",
		    "smtpd_data_restrictions=check_recipient_access "
		    "texthash:@T@/rcpt_access reject", "x@friend.test", 1, 0,
		    OK},
		{"a reject is answered and logged on the loop",
		    "smtpd_data_restrictions=check_recipient_access "
		    "texthash:@T@/rcpt_access", "abuse@inline.example", 1, 0,
		    REJ},
		{"HOLD is answered and logged on the loop",
		    "smtpd_data_restrictions=check_recipient_access "
		    "static:{HOLD}", "user1@example.com", 1, 0, OK},
		{"a table naming a DNS restriction",
		    "smtpd_data_restrictions=check_recipient_access "
		    "static:{reject_unknown_recipient_domain}",
		    "user1@example.com", 1, 1, 0},
		{"unix: table: not on the loop",
		    "smtpd_data_restrictions=check_recipient_access "
		    "unix:passwd.byname", "user1@example.com", 0, -1, 0},
		{"DNS list: not on the loop",
		    "smtpd_data_restrictions=reject_rbl_client zen.example",
		    "user1@example.com", 0, -1, 0},
		{"policy service: not on the loop",
		    "smtpd_data_restrictions=check_policy_service "
		    "inet:127.0.0.1:9", "user1@example.com", 0, -1, 0},
	};
	struct smtpd_check_state st;
	size_t	 i;
	int	 ok, missed, rc;
	char	 name[300];

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		action_state(&st, "a@b.example");
		st.recipient = v[i].rcpt;
		if (v[i].missed < 0) {
			struct smtpd_checker *c;

			apply_conf(v[i].conf);
			c = smtpd_check_new();
			snprintf(name, sizeof(name), "inline: %s", v[i].name);
			tap_is_int(smtpd_check_inline_ok(c, SMTPD_STAGE_DATA),
			    0, name);
			smtpd_check_free(c);
			continue;
		}
		rc = inline_run(v[i].conf, SMTPD_STAGE_DATA, &st, &ok,
		    &missed);
		snprintf(name, sizeof(name), "inline: %s: tried on the loop",
		    v[i].name);
		tap_is_int(ok, v[i].ok, name);
		snprintf(name, sizeof(name), "inline: %s: left to a worker",
		    v[i].name);
		tap_is_int(missed, v[i].missed, name);
		if (!missed) {
			snprintf(name, sizeof(name), "inline: %s: result",
			    v[i].name);
			tap_is_int(rc, v[i].rc, name);
		}
	}
}

/* log_count - lines logged since mark that hold needle */
static int
log_count(size_t mark, const char *needle)
{
	const char *p = BUF_STR(logged) + mark;
	int	 n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return (n);
}

/*
 * test_inline_log - what a try on the event loop logs: exactly what the
 * worker would have logged, once, when the try stands; nothing when it
 * misses, and then the worker's line once
 */
static void
test_inline_log(void)
{
	static const struct {
		const char *name;
		const char *conf;
		const char *rcpt;
		int	 answered;	/* on the loop, not a worker */
		int	 rc;
		const char *line;	/* logged once in all */
	} v[] = {
		{"REJECT from texthash",
		    "smtpd_data_restrictions=check_recipient_access "
		    "texthash:@T@/rcpt_access", "reject@inline.example", 1,
		    REJ, "NOQUEUE: reject: DATA from unknown[" OUT "]: 554 "
		    "5.7.1 <reject@inline.example>: Recipient address "
		    "rejected: go away; from=<a@b.example> "
		    "to=<reject@inline.example> proto=ESMTP helo=<[" OUT
		    "]>\n"},
		{"HOLD from texthash",
		    "smtpd_data_restrictions=check_recipient_access "
		    "texthash:@T@/rcpt_access", "hold@inline.example", 1, OK,
		    "NOQUEUE: hold: DATA from unknown[" OUT "]: "
		    "<hold@inline.example>: Recipient address triggers HOLD "
		    "action; from=<a@b.example> to=<hold@inline.example> "
		    "proto=ESMTP helo=<[" OUT "]>\n"},
		{"WARN from texthash",
		    "smtpd_data_restrictions=check_recipient_access "
		    "texthash:@T@/rcpt_access", "warn@inline.example", 1, OK,
		    "NOQUEUE: warn: DATA from unknown[" OUT "]: "
		    "<warn@inline.example>: Recipient address triggers WARN "
		    "watch this; from=<a@b.example> to=<warn@inline.example> "
		    "proto=ESMTP helo=<[" OUT "]>\n"},
		{"a 4xx from texthash",
		    "smtpd_data_restrictions=check_recipient_access "
		    "texthash:@T@/rcpt_access", "later@inline.example", 1,
		    DEF, "NOQUEUE: reject: DATA from unknown[" OUT "]: 451 "
		    "4.7.1 <later@inline.example>: Recipient address "
		    "rejected: try later;"},
		{"a warning from a table",
		    "smtpd_data_restrictions=check_recipient_access "
		    "static:{PREPEND no header}", "user1@example.com", 1, OK,
		    "warning: access table entry for user1@example.com "
		    "\"PREPEND no header\" requires header: text\n"},
		{"WARN, then a miss",
		    "smtpd_data_restrictions=check_recipient_access "
		    "texthash:@T@/rcpt_access check_recipient_access "
		    "static:{reject_unknown_recipient_domain}",
		    "warn@inline.example", 0, 0,
		    "NOQUEUE: warn: DATA from unknown[" OUT "]: "
		    "<warn@inline.example>: Recipient address triggers WARN "
		    "watch this;"},
		{"a warning, then a miss",
		    "smtpd_data_restrictions=check_recipient_access "
		    "static:{PREPEND no header} check_recipient_access "
		    "static:{reject_unknown_recipient_domain}",
		    "user1@example.com", 0, 0,
		    "\"PREPEND no header\" requires header: text"},
	};
	struct smtpd_check_state st, wst;
	struct buf *reply = buf_new(128);
	size_t	 i, mark, wmark;
	char	 name[300], *tried;
	int	 answered, rc;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		action_state(&st, "a@b.example");
		st.recipient = v[i].rcpt;
		wst = st;
		apply_conf(v[i].conf);
		smtpd_check_inline_reset();
		mark = BUF_LEN(logged);
		answered = smtpd_check_inline(SMTPD_STAGE_DATA, &st, reply,
		    &rc);
		smtpd_check_inline_reset();
		wmark = BUF_LEN(logged);
		tried = xstrndup(BUF_STR(logged) + mark, wmark - mark);
		snprintf(name, sizeof(name), "inline log: %s: answered on the "
		    "loop", v[i].name);
		tap_is_int(answered, v[i].answered, name);
		snprintf(name, sizeof(name), "inline log: %s: lines from the "
		    "try", v[i].name);
		tap_is_int(log_count(mark, v[i].line), v[i].answered, name);
		if (answered) {
			snprintf(name, sizeof(name), "inline log: %s: result",
			    v[i].name);
			tap_is_int(rc, v[i].rc, name);
		}
		/* The worker: the same stage with the lookup cache on. */
		action_run(v[i].conf, SMTPD_STAGE_DATA, &wst);
		snprintf(name, sizeof(name), "inline log: %s: the line "
		    "once in all", v[i].name);
		tap_is_int(log_count(mark, v[i].line), 1 + v[i].answered,
		    name);
		if (answered) {
			snprintf(name, sizeof(name), "inline log: %s: same "
			    "lines as the worker, same order", v[i].name);
			tap_is_str(tried, BUF_STR(logged) + wmark, name);
		}
		free(tried);
	}
	action_state(&st, "a@b.example");
	st.recipient = "hold@inline.example";
	apply_conf("smtpd_data_restrictions=check_recipient_access "
	    "texthash:@T@/rcpt_access");
	smtpd_check_inline_reset();
	smtpd_check_inline(SMTPD_STAGE_DATA, &st, reply, &rc);
	smtpd_check_inline_reset();
	tap_is_int(st.actions, SMTPD_ACT_HOLD, "inline log: HOLD recorded "
	    "in the session's state");
	buf_free(reply);
}

int
main(void)
{
	struct map *vdom, *vmbox, *valias;
	char	 err[256];
	size_t	 i;

	logged = buf_new(4096);
	log_init("smtpd_check_test", 0);
	log_set_hook(log_hook, NULL);
	/* A dead local port: every DNS lookup fails fast with RETRY. */
	if (dns_init("127.0.0.1:9", err, sizeof(err)) < 0) {
		printf("Bail out! dns_init: %s\n", err);
		return (1);
	}
	snprintf(tdir, sizeof(tdir), "/tmp/postern-check-test.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return (1);
	}
	{
		char	*path = xasprintf("%s/rcpt_access", tdir);
		FILE	*fp = fopen(path, "w");

		if (fp == NULL) {
			printf("Bail out! %s\n", path);
			return (1);
		}
		fputs("abuse@ 550 no abuse here\nfriend.test OK\n"
		    "reject@inline.example REJECT go away\n"
		    "hold@inline.example HOLD\n"
		    "warn@inline.example WARN watch this\n"
		    "later@inline.example 451 try later\n", fp);
		fclose(fp);
		free(path);
		path = xasprintf("%s/vdomains", tdir);
		if ((fp = fopen(path, "w")) == NULL) {
			printf("Bail out! %s\n", path);
			return (1);
		}
		fputs("# /file pattern of virtual_mailbox_domains\n"
		    "example.com, filemail.example\n", fp);
		fclose(fp);
		free(path);
	}
	vdom = map_open("memory:t_vdomains", 0);
	vmbox = map_open("memory:t_vmbox", 0);
	valias = map_open("memory:t_valias", 0);
	map_update(vdom, "example.com", "1");
	map_update(vmbox, "user1@example.com", "example.com/user1/");
	map_update(vmbox, "user2@example.com", "example.com/user2/");
	map_update(valias, "alias@example.com", "user1@example.com");
	map_update(valias, "@catchall.example", "user1@example.com");
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		run_vec(&vecs[i]);
	check_logs();
	test_actions();
	test_inline();
	test_inline_log();
	map_close(vdom);
	map_close(vmbox);
	map_close(valias);
	conf_reset();
	{
		char	*cmd = xasprintf("rm -rf '%s'", tdir);

		if (system(cmd) != 0)
			printf("# could not remove %s\n", tdir);
		free(cmd);
	}
	buf_free(logged);
	return (tap_done());
}
