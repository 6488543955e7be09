#!/bin/bash
# 28-smtpd-policy.t - the policy engine and cleanup inside the real smtpd,
# seen from a real client: swaks talks to "smtpd -S" (one session on
# stdin/stdout, no port), DNS comes from a private dnsmasq, tables are
# texthash:/regexp: files. Checks the replies a sender would see, the
# Postfix-form log lines, and the queue file of an accepted message
# (Received: header, canonical rewriting). Ports 20380-20399 (dnsmasq).
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"

SMTPD=$POSTERN_BIN/smtpd
PORT=$((20380 + $$ % 20))
DIR=$(mktemp -d /tmp/postern-28-policy.XXXXXX)
trap 'dnsmasq_stop; [ -n "$KEEP" ] || rm -rf "$DIR"' EXIT

[ -x "$SMTPD" ] || bail_out "no smtpd at $SMTPD"
command -v swaks >/dev/null || bail_out "swaks is not installed"

dnsmasq_local good.example
dnsmasq_record "host-record=mail.good.example,192.0.2.10"
dnsmasq_record "mx-host=good.example,mail.good.example,10"
dnsmasq_start "$DIR/dns" "$PORT" || bail_out "dnsmasq did not start"

for d in incoming active deferred hold corrupt maildrop bounce defer \
	private public pid; do
	mkdir -p "$DIR/q/$d"
done
# Started as root, smtpd runs as mail_owner: let it write the queue.
chmod -R a+rwx "$DIR/q"
chmod a+rx "$DIR"

printf 'user1@example.com x\nuser2@example.com x\n' >"$DIR/vmailbox"
printf 'alias@example.com user1@example.com\n' >"$DIR/valias"
printf 'spammer@good.example REJECT Go away\n' >"$DIR/sender_access"
printf 'old@good.example new@good.example\n' >"$DIR/sender_canonical"
printf '/^Subject:.*viagra/ REJECT No spam here\n' >"$DIR/header_checks"
cat >"$DIR/main.cf" <<CF
queue_directory = $DIR/q
maillog_file = $DIR/maillog
myhostname = server.example.com
mydomain = example.com
mydestination = localhost
mynetworks = 192.0.2.0/24
inet_interfaces = 127.0.0.1
resolver_nameservers = $DNSMASQ_SERVER
virtual_mailbox_domains = example.com
virtual_mailbox_maps = texthash:$DIR/vmailbox
virtual_alias_maps = texthash:$DIR/valias
alias_maps =
local_recipient_maps =
sender_canonical_maps = texthash:$DIR/sender_canonical
header_checks = regexp:$DIR/header_checks
smtpd_helo_required = yes
smtpd_helo_restrictions = reject_invalid_helo_hostname
    reject_non_fqdn_helo_hostname reject_unknown_helo_hostname
smtpd_sender_restrictions = reject_non_fqdn_sender
    reject_unknown_sender_domain
    check_sender_access texthash:$DIR/sender_access
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated
    reject_unauth_destination
smtpd_recipient_restrictions = permit_auth_destination
    reject_non_fqdn_recipient reject_unauth_destination
    reject_unknown_recipient_domain reject_unlisted_recipient
    reject_unverified_recipient
CF

# send FROM TO HELO [extra swaks args...] - the whole transcript
send() {
	local from=$1 to=$2 helo=$3
	shift 3
	swaks --pipe "$SMTPD -c $DIR -S $SMTPD_OPTS" --from "$from" \
		--to "$to" --helo "$helo" --timeout 20 "$@" 2>&1
}

out=$(send old@good.example user1@example.com mail.good.example \
	--header "Subject: hello")
like "$out" '250 2.0.0 Ok: queued as [0-9A-Z]+' "virtual user accepted"
id=$(echo "$out" | sed -n 's/.*queued as \([0-9A-Z]*\).*/\1/p' | head -1)
qf="$DIR/q/incoming/$id"
ok $([ -n "$id" ] && [ -f "$qf" ]; echo $?) "queue file incoming/$id exists"
like "$(cat "$qf" 2>/dev/null)" $'Received: from mail\\.good\\.example \\(unknown \\[127\\.0\\.0\\.1\\]\\)\n\tby server\\.example\\.com \\(postern\\) with ESMTP id '"$id"$'\n\tfor <user1@example\\.com>; ' \
	"Received: header in Postfix form"
like "$(sed -n '/^S/{p;q}' "$qf" 2>/dev/null)" '^Snew@good\.example$' \
	"envelope sender rewritten by sender_canonical_maps"

out=$(send a@good.example alias@example.com mail.good.example)
like "$out" '250 2.0.0 Ok: queued as' "virtual alias accepted"

out=$(send a@good.example nobody@example.com mail.good.example)
like "$out" '550 5\.1\.1 <nobody@example\.com>: Recipient address rejected: User unknown in virtual mailbox table' \
	"unknown user: 550 5.1.1"

out=$(send a@good.example x@elsewhere.test mail.good.example)
like "$out" '554 5\.7\.1 <x@elsewhere\.test>: Relay access denied' \
	"relay: 554 5.7.1"

out=$(send a@nxdomain.good.example user1@example.com mail.good.example)
like "$out" '550 5\.1\.8 <a@nxdomain\.good\.example>: Sender address rejected: Domain not found' \
	"sender domain NXDOMAIN: 550 5.1.8"

out=$(send a@good.example user1@example.com localhost)
like "$out" '504 5\.5\.2 <localhost>: Helo command rejected: need fully-qualified hostname' \
	"HELO not fully qualified: 504"

out=$(send a@good.example user1@example.com nohost.good.example)
like "$out" '450 4\.7\.1 <nohost\.good\.example>: Helo command rejected: Host not found' \
	"HELO without DNS records: 450"

out=$(send spammer@good.example user1@example.com mail.good.example)
like "$out" '554 5\.7\.1 <spammer@good\.example>: Sender address rejected: Go away' \
	"check_sender_access REJECT text"

out=$(send a@good.example user1@example.com mail.good.example \
	--header "Subject: cheap viagra")
like "$out" '550 5\.7\.1 No spam here' "header_checks REJECT after DATA"

SMTPD_OPTS="-o virtual_mailbox_maps=texthash:$DIR/missing"
out=$(send a@good.example user1@example.com mail.good.example)
like "$out" '451 4\.3\.0 <user1@example\.com>: Temporary lookup failure' \
	"mailbox table unreadable: 451 4.3.0, never 550"
unlike "$out" 'queued as' "nothing accepted while the table is down"
SMTPD_OPTS=

grep -q 'query\[A\] nohost.good.example from 127.0.0.1' "$DIR/dns/dnsmasq.log"
ok $? "smtpd asked the test dnsmasq (resolver_nameservers), not resolv.conf"

log=$(cat "$DIR/maillog")
like "$log" 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.1\.1 <nobody@example\.com>: Recipient address rejected: User unknown in virtual mailbox table; from=<a@good\.example> to=<nobody@example\.com> proto=ESMTP helo=<mail\.good\.example>' \
	"reject logged in Postfix form"
like "$log" 'NOQUEUE: reject: header Subject: cheap viagra from unknown\[127\.0\.0\.1\]; from=<a@good\.example> to=<user1@example\.com> proto=ESMTP helo=<mail\.good\.example>: 5\.7\.1 No spam here' \
	"header_checks reject logged in Postfix form"
done_testing
