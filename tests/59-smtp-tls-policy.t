#!/bin/bash
# 59-smtp-tls-policy.t - required TLS never becomes plaintext.
#
# Issue 9 item 5 and issue 10 item 2. Part 1, a misspelt level:
# smtpd_tls_security_level = encrpyt (main.cf, then only as a master.cf
# -o of the submission service) and smtp_tls_security_level = encrpyt:
# "postern check" exits non-zero with Postfix's 'Invalid TLS level
# "encrpyt"', "postern start" and "postern reload" refuse, and smtpd
# and smtp started by hand stop with "fatal: Invalid TLS level".
# Before, check said nothing,
# smtpd accepted plaintext ("using may") and smtp sent in plaintext.
#
# Part 2, smtp_tls_policy_maps (texthash:, Postfix's syntax) with the
# default level may, mail routed by transport_maps to one aiosmtpd sink
# (tests/lib/smtp_sink.py) per destination:
#   [127.0.0.1]:R1 secure      sink without STARTTLS (stripped)
#   [127.0.0.1]:R2 dane        sink without STARTTLS
#   [127.0.0.1]:R3 dane-only   sink without STARTTLS
#   [127.0.0.1]:R4 (no entry: may)  sink without STARTTLS: delivered,
#                                   so an empty sink above means refused
#   [127.0.0.1]:R5 fingerprint match=<sha256 of the sink's certificate>
#   [127.0.0.1]:R6 fingerprint match=<another digest>
# Checks: secure and dane-only deferred with their reason (4.7.4 "TLS
# is required, but was not offered", 4.7.5 "TLS is required, but DANE
# requires smtp_dns_support_level = dnssec") and those sinks received
# nothing; dane without DNSSEC is may, as in Postfix (a warning, then
# plaintext to a sink without STARTTLS; DANE itself: tests/81-dane.t);
# may delivered in plaintext; fingerprint delivered over TLS ("Verified TLS connection"),
# a wrong fingerprint deferred "Server certificate not verified" with
# nothing received; reload with encrpyt refused, master keeps running.
# Ports 25900-25999. About 35 s (most of
# it postern check and start under ASan).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

TOP=$(mktemp -d /tmp/postern-59.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
trap 'instance_cleanup; rm -rf "$TOP"' EXIT

NEXT=$(free_port 25900 25960)
alloc() {	# P = the next free port above the last one taken
	while [ "$NEXT" -le 25999 ]; do
		P=$NEXT
		NEXT=$((NEXT + 1))
		free_port "$P" "$P" >/dev/null && return 0
	done
	return 1
}
alloc && SMTP=$P && alloc && SUB=$P
instance_create "$DIR" "$SMTP" "$SUB"
ok $? "instance created"
E=$INSTANCE_CONF
: > "$E/aliases"
"$POSTERN_BIN/postalias" -c "$E" "hash:$E/aliases"
instance_conf "alias_maps=hash:$E/aliases" "alias_database=hash:$E/aliases" \
	"sender_canonical_maps=" "canonical_maps=" "virtual_alias_maps=" \
	"virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=inline:{user1@example.com=x}" \
	"smtp_sasl_auth_enable=no" "smtp_bind_address=" "smtp_generic_maps=" \
	"smtp_tls_CApath=" "smtp_tls_CAfile=$E/cert.pem"

# --- part 1: a misspelt level is fatal -----------------------------------
check_refuses() {	# what: postern check and start refuse, with the words
	local what=$1 out rc
	out=$("$POSTERN_BIN/postern" -c "$E" check 2>&1)
	rc=$?
	isnt "$rc" 0 "$what: postern check exits non-zero"
	like "$out" 'Invalid TLS level "encrpyt"' \
		"$what: postern check says Invalid TLS level \"encrpyt\""
	out=$("$POSTERN_BIN/postern" -c "$E" start 2>&1)
	rc=$?
	isnt "$rc" 0 "$what: postern start refuses"
	like "$out" 'Invalid TLS level "encrpyt"' "$what: start says why"
	is "$(pgrep -f "master -c $E" || true)" "" "$what: no master running"
}
instance_conf "smtpd_tls_security_level=encrpyt"
check_refuses "smtpd_tls_security_level = encrpyt"
alloc
out=$(timeout 20 "$POSTERN_BIN/smtpd" -c "$E" -d -l "127.0.0.1:$P" \
	-o "queue_directory=$TOP/nq" 2>&1 </dev/null)
rc=$?
ok "$([ "$rc" != 0 ] && [ "$rc" != 124 ]; echo $?)" \
	"smtpd with encrpyt exits at once, non-zero ($rc)"
like "$out" 'fatal: Invalid TLS level "encrpyt"' \
	"smtpd: fatal: Invalid TLS level \"encrpyt\""
instance_conf "smtpd_tls_security_level=may"
sed -i 's/^\(submission\|127\.0\.0\.1:'"$SUB"'\) .*/&\n  -o smtpd_tls_security_level=encrpyt/' "$E/master.cf"
out=$("$POSTERN_BIN/postern" -c "$E" check 2>&1)
rc=$?
isnt "$rc" 0 "a master.cf -o smtpd_tls_security_level=encrpyt: check fails"
like "$out" "master.cf, line [0-9]+: service .*: smtpd_tls_security_level: Invalid TLS level \"encrpyt\"" \
	"... naming the master.cf line and service"
sed -i '/-o smtpd_tls_security_level=encrpyt/d' "$E/master.cf"
instance_conf "smtp_tls_security_level=encrpyt"
check_refuses "smtp_tls_security_level = encrpyt"
out=$(timeout 20 "$POSTERN_BIN/smtp" -c "$E" -d -l "$TOP/smtp.sock" 2>&1 \
	</dev/null)
rc=$?
ok "$([ "$rc" != 0 ] && [ "$rc" != 124 ]; echo $?)" \
	"smtp with encrpyt exits at once, non-zero ($rc)"
like "$out" 'fatal: Invalid TLS level "encrpyt"' \
	"smtp: fatal: Invalid TLS level \"encrpyt\""
instance_conf "smtp_tls_security_level=may"
"$POSTERN_BIN/postern" -c "$E" check >/dev/null 2>&1
ok $? "with may again, postern check passes"

# --- part 2: smtp_tls_policy_maps -------------------------------------------
declare -A PORT
for k in secure dane daneonly may fp fpbad; do
	alloc
	PORT[$k]=$P
	mkdir -p "$TOP/out-$k"
done
start_sink() {	# name [cert key]
	/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_sink.py" \
		"${PORT[$1]}" "$TOP/out-$1" "${@:2}" >"$TOP/sink-$1.out" 2>&1 &
	INSTANCE_SINKS+=($!)
}
for k in secure dane daneonly may; do start_sink "$k"; done
for k in fp fpbad; do start_sink "$k" "$E/cert.pem" "$E/key.pem"; done
for k in secure dane daneonly may fp fpbad; do
	wait_for "port_listening ${PORT[$k]}" 15
	ok $? "sink $k listens on ${PORT[$k]}"
done
FP=$(openssl x509 -in "$E/cert.pem" -outform DER | sha256sum | cut -d' ' -f1 |
	sed 's/../&:/g; s/:$//' | tr a-f A-F)
{
	printf '[127.0.0.1]:%s secure\n' "${PORT[secure]}"
	printf '[127.0.0.1]:%s dane\n' "${PORT[dane]}"
	printf '[127.0.0.1]:%s dane-only\n' "${PORT[daneonly]}"
	printf '[127.0.0.1]:%s fingerprint match=%s\n' "${PORT[fp]}" "$FP"
	printf '[127.0.0.1]:%s fingerprint match=%s\n' "${PORT[fpbad]}" \
		"$(printf %064d 0 | sed 's/../&:/g; s/:$//')"
} > "$E/tls_policy"
{
	for k in secure dane daneonly may fp fpbad; do
		printf '%s.example smtp:[127.0.0.1]:%s\n' "$k" "${PORT[$k]}"
	done
} > "$E/transport"
instance_conf "smtp_tls_security_level=may" \
	"smtp_tls_policy_maps=texthash:$E/tls_policy" \
	"transport_maps=texthash:$E/transport" "relayhost="
"$POSTERN_BIN/postern" -c "$E" check >/dev/null 2>&1
ok $? "postern check accepts the policy configuration"

instance_start
ok $? "master starts" || { done_testing; exit 1; }
for k in secure dane daneonly may fp fpbad; do
	printf 'Subject: to %s\n\nsecret body %s\n' "$k" "$k" |
		"$POSTERN_BIN/sendmail" -C "$E" -i -f user1@example.com \
		"rcpt@$k.example"
done
ok $? "sendmail accepts one message per destination"

wait_for "[ -f '$TOP/out-may/1.eml' ]" 15
ok $? "no policy entry (level may): delivered to the sink without TLS" || diag "$(grep -v " connect \| disconnect " "$INSTANCE_LOG" | tail -40)"
like "$(cat "$TOP/out-may/1.eml" 2>/dev/null)" 'X-Sink-TLS: no' \
	"... in plaintext, as may allows"
wait_for "[ -f '$TOP/out-fp/1.eml' ]" 30
ok $? "fingerprint with the right digest: delivered"
like "$(cat "$TOP/out-fp/1.eml" 2>/dev/null)" 'X-Sink-TLS: yes' "... over TLS"
instance_log_grep "Verified TLS connection established to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${PORT[fp]}" >/dev/null
ok $? "maillog: Verified TLS connection (fingerprint)"

deferred() {	# name dsn reason-ERE
	wait_for "instance_log_grep 'to=<rcpt@$1\\.example>, .*dsn=$2, status=deferred \\($3'" 30
}
deferred secure 4.7.4 'TLS is required, but was not offered by host'
ok $? "secure, STARTTLS not offered: deferred 4.7.4 with the reason"
wait_for "[ -f '$TOP/out-dane/1.eml' ]" 15
ok $? "dane without smtp_dns_support_level = dnssec: level may, delivered"
like "$(cat "$TOP/out-dane/1.eml" 2>/dev/null)" 'X-Sink-TLS: no' \
	"... in plaintext to a server without STARTTLS"
instance_log_grep 'warning: TLS security level dane requires smtp_dns_support_level = dnssec: using may' >/dev/null
ok $? "maillog: the warning that dane needs smtp_dns_support_level = dnssec"
deferred daneonly 4.7.5 'TLS is required, but DANE requires smtp_dns_support_level = dnssec'
ok $? "dane-only without DNSSEC: deferred 4.7.5, never downgraded"
deferred fpbad 4.7.5 '.*Server certificate not verified'
ok $? "fingerprint with a wrong digest: deferred 4.7.5 not verified"
for k in secure daneonly fpbad; do
	is "$(ls "$TOP/out-$k")" "" "the $k sink received nothing"
done
n=$(find "$INSTANCE_QUEUE/deferred" "$INSTANCE_QUEUE/active" -type f | wc -l)
is "$n" 3 "the three refused messages stay in the queue"

# reload with a misspelt level: refused, the running system keeps going
instance_conf "smtpd_tls_security_level=encrpyt"
out=$("$POSTERN_BIN/postern" -c "$E" reload 2>&1)
isnt "$?" 0 "postern reload with smtpd_tls_security_level = encrpyt refuses"
like "$out" 'Invalid TLS level "encrpyt"' "... and says why"
kill -0 "$INSTANCE_PID" 2>/dev/null
ok $? "master still runs"
instance_conf "smtpd_tls_security_level=may"

sanitizer_ok "$(cat "$DIR/master.out")" "no sanitizer reports from any process"
instance_stop
ok $? "instance stops, no process left"
instance_sinks_stop
done_testing
