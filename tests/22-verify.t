#!/bin/bash
# 22-verify.t - address verification (Postfix's verify(8),
# ADDRESS_VERIFICATION_README) on a full instance from the seed's
# main.cf and master.cf (its "verify unix ... 1 verify" service). The
# seed's own reject_unverified_recipient comes after permit_auth_
# destination and reject_unauth_destination and never runs (as in
# Postfix); the test reaches it the way an administrator would: an
# access table in front of the seed's list answering
# reject_unverified_recipient for remote.example, tarpit.example and
# example.com.
# Destinations: tests/lib/verify_sink.py (aiosmtpd; RCPT good* -> 250,
# anything else 550 5.1.1) for remote.example, and a tarpit (accepts the
# connection, never says a word) for tarpit.example, both reached
# through transport_maps [127.0.0.1]:PORT (no DNS).
# Checks: the first RCPT of an unknown remote address gets 450 4.1.1
# "unverified address: Address verification in progress"; after the
# probe (logged status=undeliverable / deliverable, RCPT then QUIT at
# the destination, never DATA) the next RCPT gets 550 5.1.1
# "undeliverable address: host ... said: 550 5.1.1 ..." or 250; a
# virtual mailbox recipient is verified from the tables (no agent, no
# mail in the Maildir); the verify cache (btree: -> LMDB in
# data_directory) survives a restart (no new probe); with the default
# address_verify_poll_count smtpd waits for a quick probe and answers
# at once; the tarpit costs its own address a 450 while another
# session's mail is delivered at once; no probe is ever in a mailbox,
# at the sink as DATA, or bounced; reject_unverified_sender answers
# from the same cache with the seed's unverified_sender_reject_reason; a
# probe follows address_verify_transport_maps; sendmail -bv mails the
# sender a report and delivers nothing. ~45 s. Ports 22700-22799.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"



BASE=$((22700 + ($$ % 24) * 4))
SMTP=$BASE SUB=$((BASE + 1)) SINKP=$((BASE + 2)) TARP=$((BASE + 3))
TOP=$(mktemp -d /tmp/postern-22.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
OUT=$TOP/out
SINK= TARPIT=
mkdir -p "$OUT"
stop_helpers() {
	local p
	for p in $SINK $TARPIT; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	SINK= TARPIT=
}
trap 'stop_helpers; instance_cleanup; rm -rf "$TOP"' EXIT

instance_create "$DIR" "$SMTP" "$SUB"
ok $? "instance created from the seed (ports $SMTP $SUB, sink $SINKP, tarpit $TARP)"
E=$INSTANCE_CONF
printf 'remote.example smtp:[127.0.0.1]:%s\ntarpit.example smtp:[127.0.0.1]:%s\n' \
	"$SINKP" "$TARP" >"$E/transport"
printf 'remote.example reject_unverified_recipient\ntarpit.example reject_unverified_recipient\nexample.com reject_unverified_recipient\nother.example reject_unverified_recipient\n' \
	>"$E/verify_access"
printf 'user1@example.com example.com/user1/\n' >"$E/vmailbox"
printf 'remote.example reject_unverified_sender\n' >"$E/sender_verify"
# probes only: other.example (mail to it would go to the seed's relayhost)
printf 'other.example smtp:[127.0.0.1]:%s\n' "$SINKP" >"$E/vtransport"
# the mailbox base belongs to the virtual user (the administrator's part)
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
chown "$VUID:$VGID" "$INSTANCE_MAIL"
instance_conf \
	"transport_maps=texthash:$E/transport" \
	"relay_domains=remote.example tarpit.example other.example" \
	"address_verify_transport_maps=texthash:$E/transport texthash:$E/vtransport" \
	"smtp_tls_security_level=may" \
	"smtp_sasl_password_maps=" "smtp_generic_maps=" \
	"alias_maps=" "alias_database=" \
	"sender_canonical_maps=" "canonical_maps=" \
	"postscreen_access_list=permit_mynetworks" \
	"virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=texthash:$E/vmailbox" \
	"virtual_alias_maps=" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID" \
	"smtpd_recipient_restrictions=check_recipient_access texthash:$E/verify_access permit_auth_destination reject_non_fqdn_recipient reject_unauth_destination reject_unknown_recipient_domain reject_unlisted_recipient reject_unverified_recipient" \
	"smtpd_sender_restrictions=check_sender_access texthash:$E/sender_verify" \
	"address_verify_poll_count=1" \
	"unverified_recipient_reject_code=550"
ok $? "postconf -e: the access table in front of the seed's list, poll count 1, reject code 550"

/usr/bin/python3 "$POSTERN_TOP/tests/lib/verify_sink.py" "$SINKP" "$OUT" \
	>"$TOP/sink.out" 2>&1 &
SINK=$!
/usr/bin/python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
held = []
while True:
    held.append(s.accept()[0])      # never a greeting
' "$TARP" >"$TOP/tarpit.out" 2>&1 &
TARPIT=$!
wait_for "port_listening $SINKP && port_listening $TARP" 15
ok $? "the destination (aiosmtpd) and the tarpit listen"

instance_start
ok $? "master starts (with the seed's verify service)"

# rcpt [-n] ADDR... - one session: EHLO, MAIL, one RCPT per ADDR; prints
# "CODE TEXT" per RCPT, then DATA if some RCPT passed (not with -n);
# FROM is the sender (default sender@client.example.org)
rcpt() {
	/usr/bin/python3 - "$SMTP" "$@" <<'PY'
import os, smtplib, sys
port, addrs = int(sys.argv[1]), sys.argv[2:]
nodata = addrs[:1] == ['-n']
addrs = addrs[1:] if nodata else addrs
s = smtplib.SMTP('127.0.0.1', port, timeout=60)
s.ehlo('client.example.org')
s.mail(os.environ.get('FROM', 'sender@client.example.org'))
good = 0
for a in addrs:
    code, text = s.rcpt(a)
    print(code, text.decode().replace('\n', ' '))
    good += code == 250
if good and not nodata:
    code, text = s.data(b'Subject: real mail\r\n\r\nhello\r\n')
    print('DATA', code, text.decode())
s.quit()
PY
}

# --- an address the destination refuses -------------------------------
out=$(rcpt bad@remote.example)
is "$out" "450 4.1.1 <bad@remote.example>: Recipient address rejected: unverified address: Address verification in progress" \
	"first RCPT of an unknown remote address: 450 4.1.1, verification in progress"
wait_for "instance_log_grep 'to=<bad@remote.example>, relay=127.0.0.1\\[127.0.0.1\\]:$SINKP, .*dsn=5.1.1, status=undeliverable \\(host 127.0.0.1\\[127.0.0.1\\] said: 550 5.1.1 <bad@remote.example>: Recipient address rejected: User unknown in virtual mailbox table \\(in reply to RCPT TO command\\)\\)'" 20
ok $? "maillog: the probe, Postfix's status=undeliverable line"
instance_log_grep 'address verification probe for <bad@remote.example> from <double-bounce@' >/dev/null
ok $? "maillog: the probe was sent from address_verify_sender (\$double_bounce_sender)"
out=$(rcpt bad@remote.example)
is "$out" "550 5.1.1 <bad@remote.example>: Recipient address rejected: undeliverable address: host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <bad@remote.example>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)" \
	"next RCPT: 550 5.1.1 undeliverable address with the destination's reply"

# --- an address the destination accepts ------------------------------
out=$(rcpt good1@remote.example)
like "$out" "^450 4.1.1 <good1@remote.example>: Recipient address rejected: unverified address: Address verification in progress" \
	"first RCPT of good1@remote.example: 450 in progress"
wait_for "instance_log_grep 'to=<good1@remote.example>, relay=127.0.0.1\\[127.0.0.1\\]:$SINKP, .*status=deliverable \\(250 2.1.5 Ok\\)'" 20
ok $? "maillog: the probe, status=deliverable (250 2.1.5 Ok)"
out=$(rcpt good1@remote.example)
like "$out" $'^250 2.1.5 Ok\nDATA 250 ' "next RCPT: 250, and the message is accepted"
wait_for "[ -f '$OUT/1.eml' ]" 20
ok $? "the real message reached the destination"
like "$(tr -d '\r' <"$OUT/1.eml")" $'^X-Sink-To: <good1@remote.example>\n\n.*\nSubject: real mail\n\nhello$' \
	"... it is the client's message, not a probe"

# --- the probes at the destination: RCPT, then QUIT; never DATA ---------
cmds=$(cat "$OUT/commands")
is "$(grep -c '^DATA' <<<"$cmds")" 1 "the destination saw DATA once: the real message only"
like "$cmds" $'MAIL <double-bounce@[^>]*>\nRCPT <bad@remote.example> 550\nQUIT' \
	"probe for bad@: MAIL from double-bounce, RCPT, QUIT"
like "$cmds" $'MAIL <double-bounce@[^>]*>\nRCPT <good1@remote.example> 250\nQUIT' \
	"probe for good1@: MAIL, RCPT 250, QUIT (no DATA)"

# --- a virtual mailbox recipient: from the tables, no delivery --------
out=$(rcpt user1@example.com)
like "$out" "^450 4.1.1 <user1@example.com>: Recipient address rejected: unverified address: Address verification in progress" \
	"virtual mailbox user: 450 in progress first"
wait_for "instance_log_grep 'to=<user1@example.com>, relay=none, .*status=deliverable \\(delivers to mailbox\\)'" 20
ok $? "maillog: verified from the tables (relay=none, delivers to mailbox)"
n=$(find "$INSTANCE_MAIL" -type f 2>/dev/null | wc -l)
is "$n" 0 "no probe in any Maildir"

# --- the same address as a sender: reject_unverified_sender -------------
# (from the cache; the seed's unverified_sender_reject_reason replaces
# the details; with unverified_sender_reject_code at 450, Postfix says
# "unverified address", not "undeliverable address")
out=$(FROM=bad@remote.example rcpt -n user1@example.com)
is "$out" "450 4.1.7 <bad@remote.example>: Sender address rejected: unverified address: Sender address verification failed" \
	"reject_unverified_sender: 450 4.1.7 with the seed's reject reason"

# --- the cache survives a restart -------------------------------------
ls "$DIR"/data/verify_cache.lmdb >/dev/null 2>&1
ok $? "address_verify_map btree:\$data_directory/verify_cache is an LMDB file"
probes=$(instance_log_count 'address verification probe for')
# from here on Postfix's default poll count (3), with a 1 s delay
instance_conf "address_verify_poll_count=3" "address_verify_poll_delay=1s" \
	"address_verify_cache_cleanup_interval=2s"
instance_stop
ok $? "instance stops"
instance_start
ok $? "master starts again"
out=$(rcpt bad@remote.example good1@remote.example)
like "$out" $'^550 5.1.1 <bad@remote.example>: Recipient address rejected: undeliverable address: .*\n250 2.1.5 Ok' \
	"after the restart both answers come from the cache"
is "$(instance_log_count 'address verification probe for')" "$probes" \
	"... without a new probe"
wait_for "[ -f '$OUT/2.eml' ]" 20
ok $? "... and the good recipient's message is delivered"

# --- poll count 3: a quick probe is waited for -------------------------
out=$(rcpt bad2@remote.example)
like "$out" "^550 5.1.1 <bad2@remote.example>: Recipient address rejected: undeliverable address: host 127.0.0.1" \
	"poll count 3, delay 1s: the first RCPT already gets the probe's answer"

# --- address_verify_transport_maps: the probes' own routing -------------
out=$(rcpt -n good9@other.example)
is "$out" "250 2.1.5 Ok" \
	"other.example (only in address_verify_transport_maps): verified at the sink"
instance_log_grep 'to=<good9@other.example>, relay=127.0.0.1\[127.0.0.1\]:'"$SINKP"', .*status=deliverable' >/dev/null
ok $? "... the probe took address_verify_transport_maps, not the relayhost"

# --- a destination that never answers ---------------------------------
t0=$(date +%s%N)
out=$(rcpt slow@tarpit.example)
t1=$(date +%s%N)
like "$out" "^450 4.1.1 <slow@tarpit.example>: Recipient address rejected: unverified address: Address verification in progress" \
	"tarpit: 450 in progress"
[ $(( (t1 - t0) / 1000000 )) -lt 6000 ]
ok $? "... within the poll time (2 polls of 1s), not the tarpit's"
t0=$(date +%s%N)
out=$(rcpt good3@remote.example)
like "$out" $'^250 2.1.5 Ok\nDATA 250 ' \
	"meanwhile another session: good3@ verified within the poll, its mail accepted"
instance_log_grep 'to=<good3@remote.example>, relay=127.0.0.1.*status=deliverable' >/dev/null
ok $? "... after its probe (status=deliverable)"
wait_for "[ -f '$OUT/3.eml' ]" 10
ok $? "... and delivered while the tarpit probe still hangs"
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt 15000 ]
ok $? "... in seconds"
is "$(instance_log_count 'to=<slow@tarpit.example>, relay=')" 0 \
	"the tarpit probe has no outcome yet (it waits for its greeting)"
out=$(rcpt slow@tarpit.example)
like "$out" "^450 4.1.1 .*Address verification in progress" \
	"a second session to the tarpit address: 450 again, no stall"

# --- no probe bounced, nothing in a mailbox ---------------------------
is "$(instance_log_count 'status=bounced|sender non-delivery notification')" 0 \
	"no probe bounced, no notification"
n=$(find "$INSTANCE_MAIL" -type f 2>/dev/null | wc -l)
is "$n" 0 "no probe in any Maildir"
is "$(ls "$OUT" | grep -c '\.eml$')" 3 "the destination holds the 3 real messages only"
instance_log_grep "verify\\[[0-9]+\\]: cache btree:$DIR/data/verify_cache full cleanup: retained=[0-9]+ dropped=0 entries" >/dev/null
ok $? "address_verify_cache_cleanup_interval: the cleanup pass is logged as Postfix's (nothing expired)"

# --- sendmail -bv: a report to the sender, nothing delivered ----------
"$POSTERN_BIN/sendmail" -C "$E" -bv -f user1@example.com \
	good5@remote.example bad5@remote.example </dev/null
ok $? "sendmail -bv accepts two recipients (no message read)"
wait_for "[ -n \"\$(find '$INSTANCE_MAIL' -type f -path '*/new/*' 2>/dev/null)\" ]" 20
ok $? "the report reached the sender's Maildir"
rep=$(cat $(find "$INSTANCE_MAIL" -type f -path '*/new/*') 2>/dev/null)
like "$rep" $'\nSubject: Mail Delivery Status Report\n' "... Subject: Mail Delivery Status Report"
like "$rep" $'\nTo: <user1@example.com>\n' "... to the -f sender"
like "$rep" "<good5@remote.example>: delivery via 127.0.0.1\\[127.0.0.1\\]:$SINKP: 250 2.1.5 Ok" \
	"... good5@: delivery via the destination, its 250"
like "$rep" "<bad5@remote.example>: undeliverable: host 127.0.0.1\\[127.0.0.1\\] said: 550 5.1.1 <bad5@remote.example>" \
	"... bad5@: undeliverable with the destination's 550"
is "$(grep -c '^DATA' "$OUT/commands")" 3 "... and the destination saw no DATA for them"
instance_log_grep 'to=<good5@remote.example>, relay=127.0.0.1.*status=deliverable' >/dev/null
ok $? "maillog: the -bv probes are logged as probes"

sanitizer_ok "$(cat "$DIR/master.out")" "no sanitizer reports from any process"

# The tarpit goes away: its probe ends (deferred), never bounced.
kill "$TARPIT" 2>/dev/null
wait "$TARPIT" 2>/dev/null
TARPIT=
wait_for "instance_log_grep 'to=<slow@tarpit.example>, relay=127.0.0.1\\[127.0.0.1\\]:$TARP, .*status=deferred \\(lost connection with 127.0.0.1\\[127.0.0.1\\] while receiving the initial server greeting\\)'" 20
ok $? "the tarpit closes: its probe is deferred (lost connection), logged as Postfix"
wait_for "[ -z \"\$(find '$INSTANCE_QUEUE/active' '$INSTANCE_QUEUE/deferred' '$INSTANCE_QUEUE/incoming' -type f 2>/dev/null)\" ]" 10
ok $? "no probe is left in the queue (never retried)"
out=$(rcpt slow@tarpit.example)
like "$out" "^450 4.1.1 <slow@tarpit.example>: Recipient address rejected: unverified address: lost connection with 127.0.0.1" \
	"the deferred probe's answer: 450 4.1.1 unverified address with the reason"
instance_stop
ok $? "instance stops, no process left"
done_testing
