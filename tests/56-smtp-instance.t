#!/bin/bash
# 56-smtp-instance.t - a full instance sends mail out through its
# relayhost: sendmail -> qmgr -> smtp (started by master) -> an
# independent SMTP server (tests/lib/smtp_sink.py, aiosmtpd) on
# [127.0.0.1]:PORT, with the seed's outbound settings: STARTTLS required
# (smtp_tls_security_level = encrypt), AUTH from smtp_sasl_password_maps
# (hash:, built with postmap), smtp_generic_maps (hash:), the seed's
# foreign smtp_bind_address, the TLS session cache in data_directory.
# Checks the bytes and envelope the server received, TLS and AUTH at
# the server, the Postfix log line, an empty queue afterwards; then the
# relayhost goes away: the next message is deferred (4.4.1) and stays
# in the queue. Ports 20600-20699.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

BASE=$((20600 + ($$ % 30) * 3))
SMTP=$BASE SUB=$((BASE + 1)) RELAY=$((BASE + 2))
TOP=$(mktemp -d /tmp/postern-56.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
OUT=$TOP/out
SINK=
mkdir -p "$OUT"
stop_sink() {
	[ -n "$SINK" ] || return 0
	kill "$SINK" 2>/dev/null
	wait "$SINK" 2>/dev/null
	SINK=
}
trap 'stop_sink; instance_cleanup; rm -rf "$TOP"' EXIT

instance_create "$DIR" "$SMTP" "$SUB"
ok $? "instance created (ports $SMTP $SUB, relayhost port $RELAY)"
E=$INSTANCE_CONF
printf '[127.0.0.1]:%s relayuser:relay secret\n' "$RELAY" > "$E/relay_password"
printf 'user1@example.com user1@isp.example\n' > "$E/generic"
: > "$E/aliases"
"$POSTERN_BIN/postmap" -c "$E" "hash:$E/relay_password" &&
"$POSTERN_BIN/postmap" -c "$E" "hash:$E/generic" &&
"$POSTERN_BIN/postalias" -c "$E" "hash:$E/aliases"
ok $? "postmap builds the password, generic and alias maps"
chmod 644 "$E"/*.lmdb 2>/dev/null
instance_conf \
	"relayhost=[127.0.0.1]:$RELAY" \
	"smtp_sasl_password_maps=hash:$E/relay_password" \
	"smtp_generic_maps=hash:$E/generic" \
	"smtp_tls_security_level=encrypt" \
	"smtp_tls_CApath=" "smtp_tls_CAfile=$E/cert.pem" \
	"alias_maps=hash:$E/aliases" "alias_database=hash:$E/aliases" \
	"sender_canonical_maps=" "canonical_maps=" \
	"virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=inline:{user1@example.com=x}" \
	"virtual_alias_maps="
ok $? "postconf -e: relayhost and the test's maps"

/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_sink.py" "$RELAY" "$OUT" \
	"$E/cert.pem" "$E/key.pem" relayuser "relay secret" \
	> "$TOP/sink.out" 2>&1 &
SINK=$!
wait_for "port_listening $RELAY" 15
ok $? "the relayhost (aiosmtpd) listens on $RELAY"

instance_start
ok $? "master starts"

msg=$'From: User One <user1@example.com>\nTo: friend@remote.example\nSubject: out via relayhost\n\nhello\n.leading dot\n'
printf '%s' "$msg" | "$POSTERN_BIN/sendmail" -C "$E" -i -f user1@example.com \
	friend@remote.example
ok $? "sendmail accepts mail for friend@remote.example"

wait_for "[ -f '$OUT/1.eml' ]" 60
ok $? "the relayhost received the message"
got=$(cat "$OUT/1.eml" 2>/dev/null | tr -d '\r')
like "$got" $'X-Sink-From: <user1@isp.example>\nX-Sink-To: <friend@remote.example>' \
	"envelope: sender rewritten by smtp_generic_maps, the recipient"
like "$got" 'X-Sink-TLS: yes' "the session used STARTTLS"
like "$got" 'X-Sink-Auth: relayuser' "AUTH with the login from smtp_sasl_password_maps"
like "$got" 'From: User One <user1@isp.example>' "From: header rewritten"
like "$got" $'\n\nhello\n.leading dot$' "body intact (dot-stuffing undone at the server)"
wait_for "instance_log_grep 'to=<friend@remote.example>, relay=127.0.0.1\\[127.0.0.1\\]:$RELAY, .*status=sent \\(250 2.0.0 Ok: queued as SINK1\\)'" 10
ok $? "maillog: Postfix to= line with relay and status=sent"
instance_log_grep 'TLS connection established to 127.0.0.1\[127.0.0.1\]:'"$RELAY"': TLSv1\.[23] with cipher' >/dev/null
ok $? "maillog: the TLS connection"
instance_log_grep 'smtp_bind_address = 192.0.2.40 is not an address of this host' >/dev/null
ok $? "the seed's foreign smtp_bind_address: a warning, not a failure"
wait_for "[ -z \"\$(ls '$INSTANCE_QUEUE/active' '$INSTANCE_QUEUE/deferred' '$INSTANCE_QUEUE/incoming' 2>/dev/null | grep -v : | grep .)\" ]" 15
ok $? "the queue is empty afterwards"

# The relayhost goes away: the next message is deferred and kept.
stop_sink
printf 'Subject: second\n\nagain\n' | "$POSTERN_BIN/sendmail" -C "$E" -i \
	-f user1@example.com friend@remote.example
wait_for "instance_log_grep 'to=<friend@remote.example>, relay=none, .*dsn=4.4.1, status=deferred \\(connect to 127.0.0.1\\[127.0.0.1\\]:$RELAY: Connection refused\\)'" 30
ok $? "relayhost down: deferred 4.4.1 (connection refused)"
n=$(find "$INSTANCE_QUEUE/deferred" "$INSTANCE_QUEUE/active" -type f 2>/dev/null | wc -l)
isnt "$n" 0 "the message stays in the queue"
# Reports are files in POSTERN_SAN_DIR (runtest) or, without runtest and
# for UBSan, master's and its children's stderr: master.out. Panics and
# child deaths: instance_stop's check.
sanitizer_ok "$(cat "$DIR/master.out")" "no sanitizer reports from any process"

instance_stop
ok $? "instance stops, no process left"
done_testing
