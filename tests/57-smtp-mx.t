#!/bin/bash
# 57-smtp-mx.t - the smtp agent's nexthop resolution against a private
# dnsmasq (never the machine's resolver): MX hosts in preference order
# (the first one refuses connections, the second one takes the mail),
# A fallback for a domain without MX, "[host]:port" skips the MX lookup,
# a domain that does not exist bounces 5.4.4, smtp_mx_address_limit=1
# tries only the best MX (deferred). The server is tests/lib/smtp_sink.py.
# Ports 20700-20799.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
. "$POSTERN_TOP/tests/lib/wait.sh"

BASE=$((20700 + ($$ % 30) * 3))
DNS=$BASE PORT=$((BASE + 1))
TOP=$(mktemp -d /tmp/postern-57.XXXXXX)
chmod 755 "$TOP"
E=$TOP/etc Q=$TOP/queue OUT=$TOP/out LOG=$TOP/smtp.log
mkdir -p "$E" "$OUT"
SINK= SMTP1= SMTP2=
cleanup() {
	stop_pids $SINK $SMTP1 $SMTP2
	dnsmasq_stop
	rm -rf "$TOP"
}
trap cleanup EXIT

# request SOCKET NEXTHOP - one lib/deliver.h request, print the answer
request() {
	/usr/bin/python3 "$POSTERN_TOP/tests/lib/agent_request.py" "$1" "$QID" "$2"
}

dnsmasq_record "mx-host=remote.example,mx1.remote.example,10"
dnsmasq_record "mx-host=remote.example,mx2.remote.example,20"
dnsmasq_record "host-record=mx1.remote.example,127.0.0.3"
dnsmasq_record "host-record=mx2.remote.example,127.0.0.1"
dnsmasq_record "host-record=direct.example,127.0.0.1"
dnsmasq_start "$TOP/dns" "$DNS"
ok $? "dnsmasq on 127.0.0.1:$DNS"

cat > "$E/main.cf" <<CF
queue_directory = $Q
myhostname = mx.example.net
resolver_nameservers = $DNSMASQ_SERVER
smtp_connect_timeout = 5s
CF
"$POSTERN_BIN/postsuper" -c "$E" -s
ok $? "postsuper -s creates the queue"
printf 'Subject: mx\n\nbody\n' | "$POSTERN_BIN/sendmail" -C "$E" -i \
	-f s@example.org friend@remote.example
QID=$(ls "$Q/maildrop" | head -1)
mv "$Q/maildrop/$QID" "$Q/active/$QID"
[ -f "$Q/active/$QID" ]
ok $? "a queued message in active/"

/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_sink.py" "$PORT" "$OUT" \
	> "$TOP/sink.out" 2>&1 &
SINK=$!
"$POSTERN_BIN/smtp" -c "$E" -d -l "$Q/private/smtp" >> "$LOG" 2>&1 &
SMTP1=$!
"$POSTERN_BIN/smtp" -c "$E" -d -l "$Q/private/smtp1" \
	-o smtp_mx_address_limit=1 >> "$LOG" 2>&1 &
SMTP2=$!
wait_accepts "$Q/private/smtp" 15 && wait_accepts "$Q/private/smtp1" 15 &&
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 15
ok $? "smtp agents and the sink are up"

a=$(request "$Q/private/smtp" "remote.example:$PORT")
like "$a" "rcpt.0.action=delivered" "MX: delivered"
like "$a" "rcpt.0.relay=mx2.remote.example\\[127.0.0.1\\]:$PORT" \
	"... through the second MX (the first refuses)"
like "$(cat "$LOG")" "connect to mx1.remote.example\\[127.0.0.3\\]:$PORT: Connection refused" \
	"the first MX was tried first (logged)"
[ -f "$OUT/1.eml" ]
ok $? "the sink has the message"

a=$(request "$Q/private/smtp" "direct.example:$PORT")
like "$a" "rcpt.0.relay=direct.example\\[127.0.0.1\\]:$PORT" \
	"no MX: the domain's A record"
a=$(request "$Q/private/smtp" "[mx2.remote.example]:$PORT")
like "$a" "rcpt.0.relay=mx2.remote.example\\[127.0.0.1\\]:$PORT" \
	"[host]:port: no MX lookup, the host's address"
a=$(request "$Q/private/smtp" "gone.example")
like "$a" "rcpt.0.action=bounced" "a domain that does not exist bounces"
like "$a" "rcpt.0.status=5.4.4" "... 5.4.4"
like "$a" "rcpt.0.reason=Host or domain name not found. Name service error for name=gone.example type=A: Host not found" \
	"... with Postfix's reason"
a=$(request "$Q/private/smtp1" "remote.example:$PORT")
like "$a" "rcpt.0.action=deferred" "smtp_mx_address_limit=1: only the best MX, deferred"
like "$a" "rcpt.0.status=4.4.1" "... 4.4.1"
unlike "$(cat "$LOG")" "panic:" "no panics"
# ASan/LSan: files in POSTERN_SAN_DIR (tests/lib/runtest); UBSan, and
# everything without runtest: the daemon's stderr log.
sanitizer_ok "$(cat "$LOG")"
done_testing
