#!/bin/bash
# NAME
#	64-resolver.t - what smtpd accepts as ours is what qmgr routes as
#	ours: one resolver (resolve/, issue 17 item 1)
# DESCRIPTION
#	A full instance (the seed's main.cf and master.cf, smtpd on the
#	port instead of postscreen) with two independent SMTP servers
#	(tests/lib/smtp_sink.py, aiosmtpd): one stands for relay_transport
#	(relay:[127.0.0.1]:RELAY), the other for default_transport (the
#	relayhost [127.0.0.1]:DEFAULT). smtpd allows relaying only by
#	reject_unauth_destination, so what it accepts is what its resolver
#	calls ours. Each check is one of the drifts the two resolvers had:
#	  - relay_domains = inline:{relay.example=x}: a recipient in
#	    sub.relay.example is accepted by smtpd and reaches the relay
#	    server, never the default one (qmgr did not look up parent
#	    domains in tables and sent it through default_transport);
#	  - virtual_mailbox_domains = /file: a domain listed in the file is
#	    accepted by smtpd (which ignored file patterns: 554) and
#	    delivered to its Maildir by qmgr and virtual; an unknown user
#	    there gets 550 5.1.1, a domain not in the file 554;
#	  - postmaster@[IPv6:::ffff:127.0.0.1], an address literal of this
#	    host (inet_interfaces = 127.0.0.1) in its IPv4-mapped spelling,
#	    is local to smtpd and to qmgr: alias_maps send it to the
#	    mailbox (qmgr routed it to the relayhost: the loop of issue 9
#	    item 7), as [127.0.0.1] itself.
#	Finally the default server got nothing and the queue is empty.
#	Ports 27400-27519.
# DIAGNOSTICS
#	TAP. Every process is stopped by its PID (trap).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

for p in master smtpd qmgr virtual smtp postconf; do
	[ -x "$POSTERN_BIN/$p" ] || bail_out "no $p in $POSTERN_BIN"
done
BASE=$((27400 + ($$ % 30) * 4))
SMTP=$BASE SUB=$((BASE + 1)) RELAY=$((BASE + 2)) DEFAULT=$((BASE + 3))
TOP=$(mktemp -d /tmp/postern-64.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
SEND="/usr/bin/python3 $POSTERN_TOP/tests/lib/smtp_send.py"
trap 'instance_cleanup; [ -n "${POSTERN_KEEP:-}" ] || rm -rf "$TOP"' EXIT

instance_create "$DIR" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
# smtpd itself on the port: postscreen's first-contact 450 is not the
# subject here.
sed -i -E "s/^(127\.0\.0\.1:$SMTP[[:space:]]+inet[[:space:]].*)postscreen\$/\1smtpd/" \
	"$E/master.cf"
grep -Eq "^127\.0\.0\.1:$SMTP[[:space:]]+inet.*smtpd\$" "$E/master.cf"
ok $? "master.cf: smtpd on 127.0.0.1:$SMTP"
printf '# virtual_mailbox_domains of 64-resolver.t\nfile.example\n' \
	>"$TOP/vdomains"
chmod 644 "$TOP/vdomains"
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
chown "$VUID:$VGID" "$INSTANCE_MAIL"
instance_conf \
	"relay_domains=inline:{relay.example=x}" \
	"relay_transport=relay:[127.0.0.1]:$RELAY" \
	"relay_recipient_maps=" \
	"default_transport=smtp" "relayhost=[127.0.0.1]:$DEFAULT" \
	"virtual_mailbox_domains=$TOP/vdomains" \
	"virtual_mailbox_maps=inline:{vuser@file.example=file.example/vuser/}" \
	"virtual_alias_maps=" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID" \
	"alias_maps=inline:{postmaster=vuser@file.example}" \
	"alias_database=" "local_recipient_maps=\$alias_maps" \
	"sender_canonical_maps=" "canonical_maps=" \
	"smtpd_helo_restrictions=" "smtpd_sender_restrictions=" \
	"smtpd_relay_restrictions=reject_unauth_destination" \
	"smtpd_recipient_restrictions=reject_unlisted_recipient" \
	"smtp_tls_security_level=may" "smtp_sasl_auth_enable=no" \
	"smtp_generic_maps=" \
	"minimal_backoff_time=1s" "maximal_backoff_time=2s" \
	"queue_run_delay=1s"
ok $? "postconf -e: relay_domains table, /file mailbox domains, two next hops"

mkdir -p "$TOP/relay" "$TOP/default"
for s in "relay $RELAY" "default $DEFAULT"; do
	set -- $s
	/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_sink.py" "$2" \
		"$TOP/$1" >"$TOP/$1.out" 2>&1 &
	INSTANCE_SINKS+=($!)
done
wait_for "port_listening $RELAY && port_listening $DEFAULT" 15
ok $? "the relay ($RELAY) and default ($DEFAULT) next hops (aiosmtpd) listen"

instance_start
ok $? "master starts" || bail_out "instance did not start"

# send TO SUBJECT - one message; smtpd's lists do not use mynetworks
send() {
	printf 'From: a@sender.example\nSubject: %s\n\n%s\n' "$2" "$2" |
		$SEND 127.0.0.1 127.0.0.1 "$SMTP" client.example.net \
		a@sender.example "$1" -
}
mailbox() {
	grep -l "^Subject: $1\$" "$INSTANCE_MAIL"/file.example/vuser/new/* \
		2>/dev/null | wc -l
}

# ---- 1. a subdomain of a relay_domains table entry ----
out=$(send x@sub.relay.example "relay subdomain")
like "$out" '^accepted' "smtpd accepts x@sub.relay.example (relay_domains table, parent domain)"
wait_for "grep -lq 'X-Sink-To: <x@sub.relay.example>' '$TOP'/relay/*.eml '$TOP'/default/*.eml 2>/dev/null" 30
got=$(grep -l 'X-Sink-To: <x@sub.relay.example>' "$TOP"/relay/*.eml 2>/dev/null | wc -l)
is "$got" 1 "delivered through relay_transport: the relay next hop received it"
got=$(grep -l 'X-Sink-To: <x@sub.relay.example>' "$TOP"/default/*.eml 2>/dev/null | wc -l)
is "$got" 0 "not through default_transport"
wait_for "instance_log_grep 'to=<x@sub.relay.example>, relay=127.0.0.1\\[127.0.0.1\\]:$RELAY, .*status=sent' >/dev/null" 10
ok $? "maillog: to=<x@sub.relay.example>, relay=127.0.0.1[127.0.0.1]:$RELAY, status=sent"

# ---- 2. a /file pattern: the same answer in smtpd and qmgr ----
out=$(send vuser@file.example "file domain")
like "$out" '^accepted' "smtpd accepts vuser@file.example (virtual_mailbox_domains = /file)"
wait_for "[ \$(mailbox 'file domain') = 1 ]" 30
ok $? "qmgr and virtual deliver it to file.example/vuser/"
out=$(send nobody@file.example "unknown user")
like "$out" '^refused 550 .*5\.1\.1 .*User unknown in virtual mailbox table' \
	"an unknown user of the file's domain: 550 5.1.1 (a mailbox domain to smtpd)"
out=$(send x@notlisted.example "not listed")
like "$out" '^refused 554 .*Relay access denied' \
	"a domain not in the file: 554 relay access denied"

# ---- 3. an address literal of this host ----
out=$(send 'postmaster@[IPv6:::ffff:127.0.0.1]' "mapped literal")
like "$out" '^accepted' "smtpd accepts postmaster@[IPv6:::ffff:127.0.0.1] (ours)"
wait_for "[ \$(mailbox 'mapped literal') = 1 ]" 30
ok $? "qmgr: local too, alias_maps send it to the mailbox"
out=$(send 'postmaster@[127.0.0.1]' "plain literal")
like "$out" '^accepted' "smtpd accepts postmaster@[127.0.0.1]"
wait_for "[ \$(mailbox 'plain literal') = 1 ]" 30
ok $? "qmgr: local, delivered through alias_maps"
out=$(send 'postmaster@[192.0.2.77]' "foreign literal")
like "$out" '^refused 554 .*Relay access denied' \
	"a literal that is not ours: 554 relay access denied"

# ---- the default next hop got nothing; the queue is empty ----
wait_for "[ -z \"\$(find '$INSTANCE_QUEUE/active' '$INSTANCE_QUEUE/deferred' '$INSTANCE_QUEUE/incoming' -type f 2>/dev/null)\" ]" 15
ok $? "the queue is empty"
is "$(ls "$TOP/default" | wc -l)" 0 "the default next hop received nothing"
sanitizer_ok "$(cat "$DIR/master.out")" "no sanitizer reports from any process"
instance_stop
ok $? "instance stops, no process left"
instance_sinks_stop
done_testing
