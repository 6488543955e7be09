#!/bin/bash
# 16-restrictions.t - the restrictions postern once listed as ignored
# (issue 11), with Postfix's semantics and replies:
#   - through the smtpd-check driver against a private dnsmasq:
#     check_{sender,recipient,helo,client,reverse_client}_{mx,ns,a}_access
#     (MX hosts by name and address, a domain without MX as its own MX,
#     NS of the nearest parent that has some, A of the name itself, an
#     address literal, OK refused as Postfix refuses it: 451 4.3.5),
#     check_reverse_client_hostname_access (the unverified name, then
#     the address), permit_mx_backup (a backup MX on 127.0.0.1 relays,
#     the primary or no MX at all does not, permit_mx_backup_networks),
#     check_sasl_access, reject_plaintext_session; and Postfix's
#     permit_rhswl_client, permit_inet_interfaces, check_recipient_maps,
#     sleep, which postern used to call unknown;
#   - through a real smtpd (-d on loopback) with smtpd_tls_ask_ccert and
#     a test CA: a client certificate listed in relay_clientcerts
#     relays, another certificate from the same CA does not, nor does no
#     certificate; permit_tls_all_clientcerts relays any certificate of
#     the CA but not a self-signed one; check_ccert_access rejects one
#     by fingerprint; reject_plaintext_session before STARTTLS and not
#     after; check_sasl_access after AUTH; reject_multi_recipient_bounce
#     at the second RCPT and at DATA; permit_mx_backup end to end; the
#     certificate's CommonName and fingerprint in policy requests.
# About 10 s. Ports 28700-28759.
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"
. "$POSTERN_TOP/tests/lib/wait.sh"

DRIVER=${POSTERN_TOOLS:-$(dirname "$POSTERN_BIN")/tools}/smtpd-check
SMTPD=$POSTERN_BIN/smtpd
DIR=$(mktemp -d /tmp/postern-16-restr.XXXXXX)
SPID= PPID_=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	[ -n "$PPID_" ] && kill "$PPID_" 2>/dev/null && wait "$PPID_" 2>/dev/null
	dnsmasq_stop
	[ -n "$KEEP" ] || rm -rf "$DIR"
}
trap cleanup EXIT

[ -x "$DRIVER" ] || bail_out "no smtpd-check at $DRIVER (make test-programs)"
[ -x "$SMTPD" ] || bail_out "no smtpd at $SMTPD"
need_prog openssl
DNSPORT=$(free_port 28700 28719) || bail_out "no free port in 28700-28719"
PORT=$(free_port 28720 28739) || bail_out "no free port in 28720-28739"
PPORT=$(free_port 28740 28759) || bail_out "no free port in 28740-28759"

# ns_rr NAME HOST - a dnsmasq dns-rr line: NAME has NS HOST
ns_rr() {
	printf 'dns-rr=%s,2,%s\n' "$1" "$(/usr/bin/python3 -c '
import sys
print("".join("%02x" % len(l) + l.encode().hex()
              for l in sys.argv[1].split(".")) + "00")' "$2")"
}

dnsmasq_local good.example
for d in spammy.test spamhost.test aonly.test nsdom.test badns.test \
	backup.test primary.test nomx.test elsewhere.test cleanmx.test \
	remote.test; do
	dnsmasq_local "$d"
done
dnsmasq_record "host-record=mail.good.example,192.0.2.10"
dnsmasq_record "ptr-record=10.2.0.192.in-addr.arpa,mail.good.example"
dnsmasq_record "ptr-record=11.2.0.192.in-addr.arpa,liar.good.example"
dnsmasq_record "mx-host=spammy.test,mx.spamhost.test,10"
dnsmasq_record "host-record=mx.spamhost.test,192.0.2.66"
dnsmasq_record "mx-host=cleanmx.test,mx.elsewhere.test,10"
dnsmasq_record "host-record=mx.elsewhere.test,192.0.2.77"
dnsmasq_record "host-record=aonly.test,192.0.2.66"
dnsmasq_record "$(ns_rr nsdom.test ns1.badns.test)"
dnsmasq_record "host-record=ns1.badns.test,192.0.2.53"
dnsmasq_record "host-record=sub.nsdom.test,192.0.2.54"
dnsmasq_record "mx-host=backup.test,mx1.elsewhere.test,10"
dnsmasq_record "mx-host=backup.test,mx2.backup.test,20"
dnsmasq_record "host-record=mx1.elsewhere.test,192.0.2.50"
dnsmasq_record "host-record=mx2.backup.test,127.0.0.1"
dnsmasq_record "mx-host=primary.test,mx2.backup.test,10"
dnsmasq_record "mx-host=primary.test,mx1.elsewhere.test,20"
dnsmasq_record "host-record=nomx.test,192.0.2.55"
dnsmasq_record "address=/rhswl.test/127.0.0.2"
dnsmasq_start "$DIR/dns" "$DNSPORT" || bail_out "dnsmasq did not start"

# Part 1: the driver (no network but DNS)
printf '192.0.2.66 REJECT bad MX\n' >"$DIR/mx1"
printf 'spamhost.test 553 5.7.1 spam host\n' >"$DIR/mx2"
printf '192.0.2.66 REJECT\n192.0.2.99 REJECT literal\n' >"$DIR/mx3"
printf 'badns.test REJECT bad DNS\n' >"$DIR/ns1"
printf '192.0.2.53 REJECT ns address\n' >"$DIR/ns2"
printf '192.0.2.10 REJECT no mail from MX hosts\n' >"$DIR/cmx"
printf 'good.example REJECT\n192.0.2.12 REJECT no PTR\n' >"$DIR/rev"
printf 'bad@example.com REJECT blocked account\n' >"$DIR/sasl"
# The reference transcript: the driver echoes each script line as
# "> line" (comments as they are) and prints its answers after it; the
# script is its "> " and "#" lines.
cat >"$DIR/want" <<'WANT'
> conf resolver_nameservers=127.0.0.1:LIVEPORT
> conf inet_interfaces=127.0.0.1
> conf mynetworks=192.0.2.0/24
> conf virtual_mailbox_domains=example.com
> conf virtual_mailbox_maps=inline:{u@example.com=x}
> conf smtpd_relay_restrictions=permit_mynetworks reject_unauth_destination
> conf smtpd_recipient_restrictions=
# check_sender_mx_access: the MX host's address, its name's parent
> conf smtpd_sender_restrictions=check_sender_mx_access texthash:DIR/mx1
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@spammy.test
OK
> rcpt u@example.com
REJECT 554 5.7.1 <a@spammy.test>: Sender address rejected: bad MX
> mail a@cleanmx.test
OK
> rcpt u@example.com
OK
> conf smtpd_sender_restrictions=check_sender_mx_access texthash:DIR/mx2
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@spammy.test
OK
> rcpt u@example.com
REJECT 553 5.7.1 <a@spammy.test>: Sender address rejected: spam host
# no MX: the domain is its own MX; an address literal too
> conf smtpd_sender_restrictions=check_sender_mx_access texthash:DIR/mx3
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@aonly.test
OK
> rcpt u@example.com
REJECT 554 5.7.1 <a@aonly.test>: Sender address rejected: Access denied
> mail a@[192.0.2.99]
OK
> rcpt u@example.com
REJECT 554 5.7.1 <a@[192.0.2.99]>: Sender address rejected: literal
# OK is refused (Postfix's forbid_allowlist)
> conf smtpd_sender_restrictions=check_sender_mx_access inline:{192.0.2.66=OK}
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@spammy.test
OK
> rcpt u@example.com
DEFER 451 4.3.5 Server configuration error
# check_recipient_ns_access: NS of the nearest parent with NS records
> conf smtpd_sender_restrictions=
> conf smtpd_recipient_restrictions=check_recipient_ns_access texthash:DIR/ns1
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt x@sub.nsdom.test
REJECT 554 5.7.1 <x@sub.nsdom.test>: Recipient address rejected: bad DNS
> rcpt x@nsdom.test
REJECT 554 5.7.1 <x@nsdom.test>: Recipient address rejected: bad DNS
> rcpt u@example.com
OK
> conf smtpd_recipient_restrictions=check_recipient_ns_access texthash:DIR/ns2
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt x@nsdom.test
REJECT 554 5.7.1 <x@nsdom.test>: Recipient address rejected: ns address
# check_helo_a_access and check_client_mx_access
> conf smtpd_recipient_restrictions=
> conf smtpd_helo_restrictions=check_helo_a_access inline:{192.0.2.66=REJECT}
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> helo aonly.test
OK
> mail a@good.example
OK
> rcpt u@example.com
REJECT 554 5.7.1 <aonly.test>: Helo command rejected: Access denied
> helo mail.good.example
OK
> rcpt u@example.com
OK
> conf smtpd_helo_restrictions=
> conf smtpd_client_restrictions=check_client_mx_access texthash:DIR/cmx
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@example.com
REJECT 554 5.7.1 <mail.good.example[192.0.2.10]>: Client host rejected: no mail from MX hosts
> client 192.0.2.11
name=unknown reverse=liar.good.example status=1
OK
> mail a@good.example
OK
> rcpt u@example.com
OK
# check_reverse_client_hostname_access: the unverified name, the address
> conf smtpd_client_restrictions=check_reverse_client_hostname_access texthash:DIR/rev
> client 192.0.2.11
name=unknown reverse=liar.good.example status=1
OK
> mail a@good.example
OK
> rcpt u@example.com
REJECT 554 5.7.1 <liar.good.example>: Unverified Client host rejected: Access denied
> client 192.0.2.12
name=unknown reverse=unknown status=1
OK
> mail a@good.example
OK
> rcpt u@example.com
REJECT 554 5.7.1 <unknown>: Unverified Client host rejected: no PTR
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@example.com
REJECT 554 5.7.1 <mail.good.example>: Unverified Client host rejected: Access denied
> conf smtpd_client_restrictions=check_reverse_client_hostname_a_access texthash:DIR/cmx
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@example.com
REJECT 554 5.7.1 <mail.good.example>: Unverified Client host rejected: no mail from MX hosts
> client 192.0.2.11
name=unknown reverse=liar.good.example status=1
OK
> mail a@good.example
OK
> rcpt u@example.com
OK
# check_sasl_access (only with smtpd_sasl_auth_enable), reject_plaintext_session
> conf smtpd_client_restrictions=
> conf smtpd_recipient_restrictions=check_sasl_access texthash:DIR/sasl
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> sasl bad@example.com
> mail a@good.example
OK
> rcpt u@example.com
OK
> conf smtpd_sasl_auth_enable=yes
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> sasl bad@example.com
> mail a@good.example
OK
> rcpt u@example.com
REJECT 554 5.7.1 <bad@example.com>: SASL login name rejected: blocked account
> sasl good@example.com
> rcpt u@example.com
OK
> sasl -
> conf smtpd_recipient_restrictions=reject_plaintext_session
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@example.com
DEFER 450 4.7.1 Session encryption is required
# permit_mx_backup: we (127.0.0.1) are a backup MX of backup.test
> conf smtpd_recipient_restrictions=
> conf smtpd_relay_restrictions=permit_mx_backup reject_unauth_destination
> client 203.0.113.5
name=unknown reverse=unknown status=1
OK
> mail a@good.example
OK
> rcpt x@backup.test
OK
> rcpt x@primary.test
REJECT 554 5.7.1 <x@primary.test>: Relay access denied
> rcpt x@nomx.test
REJECT 554 5.7.1 <x@nomx.test>: Relay access denied
> rcpt x@spammy.test
REJECT 554 5.7.1 <x@spammy.test>: Relay access denied
> rcpt u@example.com
OK
> conf permit_mx_backup_networks=192.0.2.0/24
> client 203.0.113.5
name=unknown reverse=unknown status=1
OK
> mail a@good.example
OK
> rcpt x@backup.test
OK
> conf permit_mx_backup_networks=198.51.100.0/24
> client 203.0.113.5
name=unknown reverse=unknown status=1
OK
> mail a@good.example
OK
> rcpt x@backup.test
REJECT 554 5.7.1 <x@backup.test>: Relay access denied
# Postfix restrictions outside issue 11's list that were unknown (451)
> conf smtpd_relay_restrictions=permit_rhswl_client rhswl.test reject_unauth_destination
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt x@remote.test
OK
> client 192.0.2.11
name=unknown reverse=liar.good.example status=1
OK
> mail a@good.example
OK
> rcpt x@remote.test
REJECT 554 5.7.1 <x@remote.test>: Relay access denied
> conf smtpd_relay_restrictions=permit_inet_interfaces reject_unauth_destination
> client 127.0.0.1
name=mx2.backup.test reverse=mx2.backup.test status=0
OK
> mail a@good.example
OK
> rcpt x@remote.test
OK
> client 203.0.113.5
name=unknown reverse=unknown status=1
OK
> mail a@good.example
OK
> rcpt x@remote.test
REJECT 554 5.7.1 <x@remote.test>: Relay access denied
> conf smtpd_relay_restrictions=permit_mynetworks reject_unauth_destination
> conf smtpd_reject_unlisted_recipient=no
> conf smtpd_recipient_restrictions=check_recipient_maps
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt nobody@example.com
REJECT 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table
> rcpt u@example.com
OK
> conf smtpd_recipient_restrictions=sleep 1
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@example.com
OK
> conf smtpd_recipient_restrictions=sleep x
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@example.com
DEFER 451 4.3.5 Server configuration error
WANT
sed -n 's/^> //p; /^#/p' "$DIR/want" |
	sed "s/LIVEPORT/$DNSPORT/;s|DIR/|$DIR/|" >"$DIR/script"
"$DRIVER" <"$DIR/script" 2>"$DIR/stderr" |
	sed "s|$DIR/|DIR/|g;s/127.0.0.1:$DNSPORT\$/127.0.0.1:LIVEPORT/" >"$DIR/got"
is "${PIPESTATUS[0]}" 0 "driver ran the whole script"
if diff -u "$DIR/want" "$DIR/got" >"$DIR/diff"; then
	pass "driver transcript matches the reference"
else
	fail "driver transcript matches the reference"
	sed 's/^/# /' "$DIR/diff" >&2
fi
grep -q 'warning: restriction check_sender_mx_access returns OK for a@spammy.test' "$DIR/stderr"
ok $? "OK from an MX access table is refused with Postfix's warnings"
grep -q "warning: restriction \`check_sasl_access' ignored: no SASL support" "$DIR/stderr"
ok $? "check_sasl_access without smtpd_sasl_auth_enable warns as Postfix"
grep -q 'NOQUEUE: reject: RCPT from unknown\[192.0.2.11\]: 554 5.7.1 <liar.good.example>: Unverified Client host rejected: Access denied;' "$DIR/stderr"
ok $? "reverse client name reject logged in Postfix form"
grep -q 'query\[NS\] sub.nsdom.test' "$DIR/dns/dnsmasq.log" && grep -q 'query\[NS\] nsdom.test' "$DIR/dns/dnsmasq.log"
ok $? "NS lookups walked up to the parent, at the test dnsmasq"

# Part 2: a real smtpd with STARTTLS and smtpd_tls_ask_ccert
T=$DIR/tls
mkdir -p "$T"
ossl() { openssl "$@" >/dev/null 2>&1 || bail_out "openssl $1 failed"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" \
	-days 2 -subj "/CN=postern test CA"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/server.key" \
	-out "$T/server.pem" -days 2 -subj "/CN=mx.example.com"
for c in good other blocked; do
	ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/$c.key" -out "$T/$c.csr" \
		-subj "/CN=$c.client.test"
	ossl x509 -req -in "$T/$c.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
		-CAcreateserial -out "$T/$c.pem" -days 2
done
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/self.key" \
	-out "$T/self.pem" -days 2 -subj "/CN=self.client.test"
fp() { openssl x509 -noout -fingerprint -sha256 -in "$1" | sed 's/.*=//'; }
printf '%s good.client.test\n' "$(fp "$T/good.pem")" >"$DIR/relay_ccerts"
printf '%s REJECT blocked certificate\n' "$(fp "$T/blocked.pem")" >"$DIR/ccert_acl"
printf 'user1@example.com %s\nbad@example.com %s\n' \
	"$(/usr/bin/python3 -W ignore -c 'import crypt; print(crypt.crypt("pw1", "$6$abcdefgh$"))')" \
	"$(/usr/bin/python3 -W ignore -c 'import crypt; print(crypt.crypt("pw2", "$6$ijklmnop$"))')" \
	>"$DIR/sasl_passwd"
printf 'bad@example.com REJECT blocked account\n' >"$DIR/sasl_acl"
printf 'secure@example.com reject_plaintext_session\nmb@example.com reject_multi_recipient_bounce\n' >"$DIR/rcpt_acl"
printf 'dr@example.com REJECT data stage says no\n' >"$DIR/data_acl"
printf 'all.remote.test all_certs\n' >"$DIR/relay_class"
Q=$DIR/q
for d in incoming active deferred hold corrupt maildrop bounce defer \
	private public pid; do
	mkdir -p "$Q/$d"
done
cat >"$DIR/main.cf" <<CF
queue_directory = $Q
myhostname = mx.example.com
mydestination = localhost
inet_interfaces = 127.0.0.1
mynetworks = 192.0.2.0/24
resolver_nameservers = 127.0.0.1:$DNSPORT
smtpd_peername_lookup = no
alias_maps =
local_recipient_maps =
virtual_mailbox_domains = example.com
virtual_mailbox_maps = inline:{ u@example.com=x, u2@example.com=x, secure@example.com=x, mb@example.com=x, dr@example.com=x }
smtpd_tls_security_level = may
smtpd_tls_cert_file = $T/server.pem
smtpd_tls_key_file = $T/server.key
smtpd_tls_ask_ccert = yes
smtpd_tls_CAfile = $T/ca.pem
relay_clientcerts = texthash:$DIR/relay_ccerts
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = postern
smtpd_sasl_password_maps = texthash:$DIR/sasl_passwd
smtpd_restriction_classes = all_certs
all_certs = permit_tls_all_clientcerts, reject_unauth_destination
smtpd_relay_restrictions = check_recipient_access texthash:$DIR/relay_class,
    permit_tls_clientcerts, permit_mx_backup, reject_unauth_destination
smtpd_recipient_restrictions = check_ccert_access texthash:$DIR/ccert_acl,
    check_sasl_access texthash:$DIR/sasl_acl,
    check_recipient_access texthash:$DIR/rcpt_acl,
    check_policy_service inet:127.0.0.1:$PPORT
smtpd_data_restrictions = reject_multi_recipient_bounce,
    check_recipient_access texthash:$DIR/data_acl
smtpd_error_sleep_time = 0
CF
chmod -R a+rwX "$DIR"
chmod a+r "$T"/*.key
/usr/bin/python3 "$POSTERN_TOP/tests/lib/policy_server.py" --inet "$PPORT" \
	--log "$DIR/policy.log" >"$DIR/policy.out" 2>&1 &
PPID_=$!
"$SMTPD" -d -l "127.0.0.1:$PORT" -c "$DIR" >"$DIR/smtpd.log" 2>&1 &
SPID=$!
for i in $(seq 300); do
	grep -q ready "$DIR/policy.out" 2>/dev/null && break
	sleep 0.1
done
wait_accepts "$PORT" 30

/usr/bin/python3 - "$PORT" "$T" >"$DIR/replies" 2>"$DIR/client.err" <<'PY'
import smtplib, ssl, sys
port, t = int(sys.argv[1]), sys.argv[2]


def session(name, cert=None, tls=True, auth=None, sender='s@elsewhere.test',
            rcpts=(), data=False):
    s = smtplib.SMTP('127.0.0.1', port, timeout=20)
    s.ehlo('client.test')
    if tls:
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
        if cert:
            c.load_cert_chain('%s/%s.pem' % (t, cert), '%s/%s.key' % (t, cert))
        s.starttls(context=c)
        s.ehlo('client.test')
    if auth:
        s.login(*auth)
    code, text = s.docmd('MAIL FROM:<%s>' % sender)
    print('%s MAIL %d %s' % (name, code, text.decode()))
    for r in rcpts:
        code, text = s.docmd('RCPT TO:<%s>' % r)
        print('%s RCPT %s %d %s' % (name, r, code, text.decode()))
    if data:
        code, text = s.docmd('DATA')
        print('%s DATA %d %s' % (name, code, text.decode()))
        if code == 354:
            s.send(b'Subject: t\r\n\r\nx\r\n.\r\n')
            s.getreply()
    s.docmd('RSET')
    s.quit()


session('good', cert='good', rcpts=['x@remote.test', 'x@all.remote.test'])
session('other', cert='other', rcpts=['x@remote.test', 'x@all.remote.test'])
session('self', cert='self', rcpts=['x@all.remote.test'])
session('none', rcpts=['x@remote.test', 'x@backup.test', 'x@primary.test'])
session('blocked', cert='blocked', rcpts=['u@example.com'])
session('plain', tls=False, rcpts=['u@example.com', 'secure@example.com'])
session('tls', rcpts=['secure@example.com'])
session('sasl', auth=('bad@example.com', 'pw2'), rcpts=['u@example.com'])
session('sasl1', auth=('user1@example.com', 'pw1'), rcpts=['u@example.com'])
session('bounce', sender='', rcpts=['u@example.com', 'mb@example.com'])
session('bounce2', sender='', rcpts=['u@example.com', 'u2@example.com'],
        data=True)
session('bounce1', sender='', rcpts=['u@example.com'], data=True)
session('dr1', rcpts=['dr@example.com'], data=True)
session('dr2', rcpts=['u@example.com', 'dr@example.com'], data=True)
PY
is "$?" 0 "SMTP client sessions ran" || sed 's/^/# /' "$DIR/client.err" >&2
R=$(cat "$DIR/replies")
like "$R" $'\ngood RCPT x@remote.test 250 ' \
	"permit_tls_clientcerts: the certificate in relay_clientcerts relays"
like "$R" $'\nother RCPT x@remote.test 554 5.7.1 <x@remote.test>: Relay access denied' \
	"permit_tls_clientcerts: another certificate of the same CA does not"
like "$R" $'\nother RCPT x@all.remote.test 250 ' \
	"permit_tls_all_clientcerts: any certificate the CA signed relays"
like "$R" $'\nself RCPT x@all.remote.test 554 5.7.1 <x@all.remote.test>: Relay access denied' \
	"permit_tls_all_clientcerts: a self-signed certificate does not"
like "$R" $'\nnone RCPT x@remote.test 554 5.7.1 <x@remote.test>: Relay access denied' \
	"no client certificate: no relay"
like "$R" $'\nnone RCPT x@backup.test 250 ' \
	"permit_mx_backup: relays for a domain whose backup MX is us"
like "$R" $'\nnone RCPT x@primary.test 554 5.7.1 <x@primary.test>: Relay access denied' \
	"permit_mx_backup: not for a domain whose primary MX is us"
like "$R" $'\nblocked RCPT u@example.com 554 5.7.1 <blocked.client.test>: Client certificate rejected: blocked certificate' \
	"check_ccert_access rejects by fingerprint, naming the CommonName"
like "$R" $'\nplain RCPT u@example.com 250 ' "plaintext session: ordinary recipient"
like "$R" $'\nplain RCPT secure@example.com 450 4.7.1 Session encryption is required' \
	"reject_plaintext_session: 450 4.7.1 without TLS"
like "$R" $'\ntls RCPT secure@example.com 250 ' \
	"reject_plaintext_session: accepted after STARTTLS"
like "$R" $'\nsasl RCPT u@example.com 554 5.7.1 <bad@example.com>: SASL login name rejected: blocked account' \
	"check_sasl_access rejects the listed login"
like "$R" $'\nsasl1 RCPT u@example.com 250 ' "check_sasl_access: another login passes"
like "$R" $'\nbounce RCPT mb@example.com 550 5.5.3 <mb@example.com>: Recipient address rejected: Multi-recipient bounce' \
	"reject_multi_recipient_bounce at the second RCPT of a bounce"
like "$R" $'\nbounce2 DATA 550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce' \
	"reject_multi_recipient_bounce at DATA"
like "$R" $'\nbounce1 DATA 354 ' "a single-recipient bounce is accepted"
like "$R" $'\ndr1 DATA 554 5.7.1 <dr@example.com>: Recipient address rejected: data stage says no' \
	"check_recipient_access at DATA: the only recipient is looked up (Postfix)"
like "$R" $'\ndr2 DATA 354 ' \
	"check_recipient_access at DATA: no recipient with two of them"
L=$(cat "$DIR/smtpd.log")
like "$L" 'Trusted TLS connection established from ' \
	"log: a CA-signed certificate makes a Trusted TLS connection"
like "$L" 'Untrusted TLS connection established from ' \
	"log: a self-signed one an Untrusted one"
like "$L" "client certificate: CN=good.client.test fingerprint=$(fp "$T/good.pem")" \
	"log: the certificate's sha256 fingerprint in Postfix's form"
like "$L" 'NOQUEUE: reject: RCPT from unknown\[127.0.0.1\]: 554 5.7.1 <blocked.client.test>: Client certificate rejected: blocked certificate;' \
	"log: Postfix's reject line"
grep -q "\"ccert_fingerprint\": \"$(fp "$T/good.pem")\"" "$DIR/policy.log" &&
	grep -q '"ccert_subject": "good.client.test"' "$DIR/policy.log"
ok $? "policy request: ccert_subject and ccert_fingerprint of the client certificate"
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
SPID=
sanitizer_ok "$L"
done_testing
