#!/bin/bash
# 26-smtpd-check.t - the restriction engine's DNS-backed restrictions
# (reject_unknown_helo_hostname, reject_unknown_sender/recipient_domain
# with NXDOMAIN 550 vs NODATA unknown_address_reject_code vs DNS failure
# 450, forward-confirmed client names, reject_rbl_client) against a
# private dnsmasq, as a transcript: smtpd-check reads the script below
# and its output must equal the reference below, line for line.
# Ports 20300-20340.
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"

DRIVER=${POSTERN_TOOLS:-$(dirname "$POSTERN_BIN")/tools}/smtpd-check
PORT=$((20300 + $$ % 40))
DEAD=$((PORT + 1))
DIR=$(mktemp -d /tmp/postern-26-check.XXXXXX)
trap 'dnsmasq_stop; rm -rf "$DIR"' EXIT

[ -x "$DRIVER" ] || bail_out "no smtpd-check at $DRIVER (make test-programs)"

dnsmasq_local good.example
dnsmasq_record "host-record=mail.good.example,192.0.2.10"
dnsmasq_record "ptr-record=10.2.0.192.in-addr.arpa,mail.good.example"
dnsmasq_record "ptr-record=11.2.0.192.in-addr.arpa,liar.good.example"
dnsmasq_record "mx-host=mx-only.good.example,mail.good.example,10"
dnsmasq_record "mx-host=good.example,mail.good.example,10"
dnsmasq_record "host-record=aonly.example,192.0.2.20"
dnsmasq_record "txt-record=nodata.good.example,just text"
dnsmasq_record "address=/dnsbl.example/127.0.0.2"
dnsmasq_start "$DIR/dns" "$PORT" || bail_out "dnsmasq did not start"

cat >"$DIR/script" <<'SCRIPT'
conf resolver_nameservers=127.0.0.1:LIVEPORT
# HELO hostname checks against DNS
conf smtpd_helo_restrictions=reject_invalid_helo_hostname reject_non_fqdn_helo_hostname reject_unknown_helo_hostname
conf mynetworks=192.0.2.0/24
conf smtpd_relay_restrictions=permit_mynetworks reject_unauth_destination
conf smtpd_recipient_restrictions=
conf smtpd_reject_unlisted_recipient=no
client 192.0.2.10
helo mail.good.example
mail <>
rcpt u@example.com
helo mx-only.good.example
rcpt u@example.com
helo nohost.example
rcpt u@example.com
helo MAIL.GOOD.EXAMPLE.
rcpt u@example.com
helo broken.elsewhere.invalid-tld
rcpt u@example.com
# sender and recipient domains
conf smtpd_helo_restrictions=
conf smtpd_sender_restrictions=reject_unknown_sender_domain
conf smtpd_recipient_restrictions=reject_unknown_recipient_domain
client 192.0.2.10
helo mail.good.example
mail a@good.example
rcpt u@good.example
mail a@aonly.example
rcpt u@good.example
mail a@nxdomain.example
rcpt u@good.example
mail a@nodata.good.example
rcpt u@good.example
mail a@elsewhere.invalid-tld
rcpt u@good.example
mail a@good.example
rcpt u@nxdomain.example
rcpt u@nodata.good.example
conf unknown_address_reject_code=550
mail a@nodata.good.example
rcpt u@good.example
# a temporary DNS error loses to a later reject, and wins over a later permit
conf smtpd_sender_restrictions=reject_unknown_sender_domain reject
mail a@elsewhere.invalid-tld
rcpt u@good.example
conf smtpd_sender_restrictions=reject_unknown_sender_domain permit
mail a@elsewhere.invalid-tld
rcpt u@good.example
# client hostname: forward-confirmed, PTR without A, no PTR
conf smtpd_sender_restrictions=
conf smtpd_recipient_restrictions=
conf smtpd_client_restrictions=reject_unknown_reverse_client_hostname reject_unknown_client_hostname
client 192.0.2.10
mail a@good.example
rcpt u@good.example
client 192.0.2.11
mail a@good.example
rcpt u@good.example
client 192.0.2.12
mail a@good.example
rcpt u@good.example
conf smtpd_client_restrictions=check_client_access inline:{{good.example=REJECT by name}}
client 192.0.2.10
mail a@good.example
rcpt u@good.example
# DNS lists
conf smtpd_client_restrictions=permit_dnswl_client dnswl.example reject_rbl_client dnsbl.example=127.0.0.2
client 192.0.2.10
mail a@good.example
rcpt u@good.example
conf smtpd_client_restrictions=reject_rbl_client dnsbl.example=127.0.0.9
client 192.0.2.10
mail a@good.example
rcpt u@good.example
# right-hand side lists (dnsmasq answers 127.0.0.2 for all of dnsbl.example)
conf smtpd_client_restrictions=
conf smtpd_sender_restrictions=reject_rhsbl_sender dnsbl.example
client 192.0.2.10
helo mail.good.example
mail a@good.example
rcpt u@good.example
conf smtpd_sender_restrictions=reject_rhsbl_helo dnsbl.example=127.0.0.3
client 192.0.2.10
helo mail.good.example
mail a@good.example
rcpt u@good.example
conf smtpd_sender_restrictions=reject_rhsbl_client dnsbl.example
client 192.0.2.12
mail a@good.example
rcpt u@good.example
client 192.0.2.10
mail a@good.example
rcpt u@good.example
conf smtpd_sender_restrictions=reject_rhsbl_recipient dnsbl.example
mail a@good.example
rcpt u@good.example
# the dead resolver: DNS trouble is never a 5xx
conf resolver_nameservers=127.0.0.1:DEADPORT
conf smtpd_client_restrictions=reject_unknown_client_hostname
conf smtpd_sender_restrictions=reject_unknown_sender_domain
client 192.0.2.10
mail a@good.example
rcpt u@good.example
SCRIPT

cat >"$DIR/expected" <<'REF'
> conf resolver_nameservers=127.0.0.1:LIVEPORT
# HELO hostname checks against DNS
> conf smtpd_helo_restrictions=reject_invalid_helo_hostname reject_non_fqdn_helo_hostname reject_unknown_helo_hostname
> conf mynetworks=192.0.2.0/24
> conf smtpd_relay_restrictions=permit_mynetworks reject_unauth_destination
> conf smtpd_recipient_restrictions=
> conf smtpd_reject_unlisted_recipient=no
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> helo mail.good.example
OK
> mail <>
OK
> rcpt u@example.com
OK
> helo mx-only.good.example
OK
> rcpt u@example.com
OK
> helo nohost.example
OK
> rcpt u@example.com
DEFER 450 4.7.1 <nohost.example>: Helo command rejected: Host not found
> helo MAIL.GOOD.EXAMPLE.
OK
> rcpt u@example.com
OK
> helo broken.elsewhere.invalid-tld
OK
> rcpt u@example.com
DEFER 450 4.7.1 <broken.elsewhere.invalid-tld>: Helo command rejected: Host not found
# sender and recipient domains
> conf smtpd_helo_restrictions=
> conf smtpd_sender_restrictions=reject_unknown_sender_domain
> conf smtpd_recipient_restrictions=reject_unknown_recipient_domain
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> helo mail.good.example
OK
> mail a@good.example
OK
> rcpt u@good.example
OK
> mail a@aonly.example
OK
> rcpt u@good.example
OK
> mail a@nxdomain.example
OK
> rcpt u@good.example
REJECT 550 5.1.8 <a@nxdomain.example>: Sender address rejected: Domain not found
> mail a@nodata.good.example
OK
> rcpt u@good.example
DEFER 450 4.1.8 <a@nodata.good.example>: Sender address rejected: Domain not found
> mail a@elsewhere.invalid-tld
OK
> rcpt u@good.example
DEFER 450 4.1.8 <a@elsewhere.invalid-tld>: Sender address rejected: Domain not found
> mail a@good.example
OK
> rcpt u@nxdomain.example
REJECT 550 5.1.2 <u@nxdomain.example>: Recipient address rejected: Domain not found
> rcpt u@nodata.good.example
DEFER 450 4.1.2 <u@nodata.good.example>: Recipient address rejected: Domain not found
> conf unknown_address_reject_code=550
> mail a@nodata.good.example
OK
> rcpt u@good.example
REJECT 550 5.1.8 <a@nodata.good.example>: Sender address rejected: Domain not found
# a temporary DNS error loses to a later reject, and wins over a later permit
> conf smtpd_sender_restrictions=reject_unknown_sender_domain reject
> mail a@elsewhere.invalid-tld
OK
> rcpt u@good.example
REJECT 554 5.7.1 <a@elsewhere.invalid-tld>: Sender address rejected: Access denied
> conf smtpd_sender_restrictions=reject_unknown_sender_domain permit
> mail a@elsewhere.invalid-tld
OK
> rcpt u@good.example
DEFER 450 4.1.8 <a@elsewhere.invalid-tld>: Sender address rejected: Domain not found
# client hostname: forward-confirmed, PTR without A, no PTR
> conf smtpd_sender_restrictions=
> conf smtpd_recipient_restrictions=
> conf smtpd_client_restrictions=reject_unknown_reverse_client_hostname reject_unknown_client_hostname
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@good.example
OK
> client 192.0.2.11
name=unknown reverse=liar.good.example status=1
OK
> mail a@good.example
OK
> rcpt u@good.example
DEFER 450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.11]
> client 192.0.2.12
name=unknown reverse=unknown status=1
OK
> mail a@good.example
OK
> rcpt u@good.example
DEFER 450 4.7.25 Client host rejected: cannot find your reverse hostname, [192.0.2.12]
> conf smtpd_client_restrictions=check_client_access inline:{{good.example=REJECT by name}}
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@good.example
REJECT 554 5.7.1 <mail.good.example[192.0.2.10]>: Client host rejected: by name
# DNS lists
> conf smtpd_client_restrictions=permit_dnswl_client dnswl.example reject_rbl_client dnsbl.example=127.0.0.2
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@good.example
REJECT 554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using dnsbl.example
> conf smtpd_client_restrictions=reject_rbl_client dnsbl.example=127.0.0.9
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@good.example
OK
# right-hand side lists (dnsmasq answers 127.0.0.2 for all of dnsbl.example)
> conf smtpd_client_restrictions=
> conf smtpd_sender_restrictions=reject_rhsbl_sender dnsbl.example
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> helo mail.good.example
OK
> mail a@good.example
OK
> rcpt u@good.example
REJECT 554 5.7.1 Service unavailable; Sender address [good.example] blocked using dnsbl.example
> conf smtpd_sender_restrictions=reject_rhsbl_helo dnsbl.example=127.0.0.3
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> helo mail.good.example
OK
> mail a@good.example
OK
> rcpt u@good.example
OK
> conf smtpd_sender_restrictions=reject_rhsbl_client dnsbl.example
> client 192.0.2.12
name=unknown reverse=unknown status=1
OK
> mail a@good.example
OK
> rcpt u@good.example
OK
> client 192.0.2.10
name=mail.good.example reverse=mail.good.example status=0
OK
> mail a@good.example
OK
> rcpt u@good.example
REJECT 554 5.7.1 Service unavailable; Client host [mail.good.example] blocked using dnsbl.example
> conf smtpd_sender_restrictions=reject_rhsbl_recipient dnsbl.example
> mail a@good.example
OK
> rcpt u@good.example
REJECT 554 5.7.1 Service unavailable; Recipient address [good.example] blocked using dnsbl.example
# the dead resolver: DNS trouble is never a 5xx
> conf resolver_nameservers=127.0.0.1:DEADPORT
> conf smtpd_client_restrictions=reject_unknown_client_hostname
> conf smtpd_sender_restrictions=reject_unknown_sender_domain
> client 192.0.2.10
name=unknown reverse=unknown status=2
OK
> mail a@good.example
OK
> rcpt u@good.example
DEFER 450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.10]
REF

sed -i "s/LIVEPORT/$PORT/;s/DEADPORT/$DEAD/" "$DIR/script" "$DIR/expected"
"$DRIVER" <"$DIR/script" >"$DIR/got" 2>"$DIR/log"
is "$?" 0 "driver ran the whole script"
if diff -u "$DIR/expected" "$DIR/got" >"$DIR/diff"; then
	pass "transcript matches the reference"
else
	fail "transcript matches the reference"
	sed 's/^/# /' "$DIR/diff" >&2
fi
# Each expected reply, one check each, so a failure names the case.
n=0
while IFS= read -r line; do
	case $line in
	REJECT*|DEFER*)
		n=$((n + 1))
		grep -qxF -- "$line" "$DIR/got"
		ok $? "reply $n: $line"
		;;
	esac
done <"$DIR/expected"
like "$(cat "$DIR/log")" \
	"NOQUEUE: reject: RCPT from mail.good.example\[192.0.2.10\]: 550 5.1.8 <a@nxdomain.example>: Sender address rejected: Domain not found; from=<a@nxdomain.example> to=<u@good.example> proto=ESMTP helo=<mail.good.example>" \
	"reject logged in Postfix form with the verified client name"
unlike "$(grep -E '^(REJECT|DEFER) 5[0-9][0-9] .*(invalid-tld>: .* not found|\[192\.0\.2\.10\]$)' "$DIR/got")" '.' \
	"no DNS failure became a 5xx"
grep -q 'query\[PTR\] 10.2.0.192.in-addr.arpa' "$DIR/dns/dnsmasq.log"
ok $? "lookups went to the test dnsmasq"
done_testing
