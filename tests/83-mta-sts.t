#!/bin/bash
# 83-mta-sts.t - MTA-STS (RFC 8461) in the smtp client, against real
# components: a private dnsmasq (never the machine's resolver) with the
# _mta-sts TXT records and the MX hosts, a policy server over HTTPS
# (tests/lib/sts_https.py, python3's http.server with ssl) on
# 127.83.X.Y:443 (the RFC's port: the test needs root) with a
# certificate from a test CA, and one STARTTLS sink (tests/lib/smtp_sink.py)
# with a certificate from the same CA for mx.example.net, mx.example.org
# and mx.example.com (not mx.bad.test). smtp agents
# (smtp_mta_sts_enable = yes, smtp_mta_sts_CAfile and smtp_tls_CAfile =
# the test CA, smtp_tls_security_level unset: none) get lib/deliver.h
# requests.
#
# Policies:
#   example.net  enforce, mx: *.example.net; MX mx.example.net
#   example.org  enforce, mx: mx.elsewhere.test; MX mx.example.org
#   example.com  testing, mx: mx.elsewhere.test; MX mx.example.com
#   bad.test     enforce, mx: mx.bad.test (the sink's certificate does
#                not name it)
#   testing.test testing, mx: mx.testing.test (not named either)
#   plain.test   no TXT record: no policy
# Checks:
#   enforce, matching MX: delivered over TLS, logged "Verified TLS
#     connection established to mx.example.net", the policy fetched once
#     and logged (id, mode, max_age);
#   enforce, MX not matching: deferred 4.7.5 "MTA-STS policy for
#     example.org: MX host mx.example.org does not match", nothing sent;
#   enforce, certificate not valid for the MX: deferred 4.7.5 with
#     "certificate verification failed", nothing sent;
#   testing, MX not matching: delivered, the mismatch logged;
#   testing, a certificate that does not name the MX: delivered over
#     TLS (level may although smtp_tls_security_level is none), the
#     verification failure logged;
#   no TXT record: delivered in plaintext (level none), no fetch;
#   the policy server stopped, a new agent process: the cached policies
#     (LMDB under data_directory) still enforce: example.org deferred,
#     example.net delivered verified, no request reached the server;
#   a TXT id that changed with the server down: the fetch fails (logged)
#     and the unexpired cached policy is used.
# Ports 21000-21019 and 127.83.X.Y:443. About 10 s.
set -u
POSTERN_SAN_DIR=${POSTERN_SAN_DIR:-}
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
. "$POSTERN_TOP/tests/lib/wait.sh"
. "$POSTERN_TOP/tests/lib/certs.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

TOP=$(mktemp -d /tmp/postern-83.XXXXXX)
chmod 755 "$TOP"
E=$TOP/etc Q=$TOP/queue LOG=$TOP/smtp.log C=$TOP/certs W=$TOP/www
mkdir -p "$E" "$C" "$W" "$TOP/data" "$TOP/out"
PIDS=() HTTPS=
cleanup() {
	stop_pids "${PIDS[@]}" $HTTPS
	dnsmasq_stop
	[ -n "${KEEP83:-}" ] || rm -rf "$TOP"
}
trap cleanup EXIT

if ! need_root 1 "binding 127.83.X.Y:443 for the policy server"; then
	done_testing
	exit 0
fi

DNS=$(free_port 21000 21009) && SINK=$(free_port 21010 21019) ||
	bail_out "no free port in 21000-21019"
# a loopback address of our own for port 443
WEB=127.83.$(($$ % 250 + 1)).$(( ($$ / 250) % 250 + 1))

cert_ca "$C" testca && cert_leaf "$C" testca web mta-sts.example.net \
	mta-sts.example.org mta-sts.example.com mta-sts.bad.test \
	mta-sts.testing.test &&
	cert_leaf "$C" testca mx mx.example.net mx.example.org mx.example.com
ok $? "test CA, the policy server's and the MX's certificates" ||
	diag "$(cat "$C/openssl.err")"
# smtp drops to mail_owner: it reads the CA and writes the cache
[ "$(id -u)" = 0 ] && chown postern: "$TOP/data" && chmod 644 "$C"/*

for d in example.net example.org example.com bad.test testing.test \
	plain.test; do
	dnsmasq_record "mx-host=$d,mx.$d,10"
	dnsmasq_record "host-record=mx.$d,127.0.0.1"
	dnsmasq_record "host-record=mta-sts.$d,$WEB"
done
dnsmasq_local plain.test
dnsmasq_local bad.test
dnsmasq_local testing.test
for d in example.net example.org example.com bad.test testing.test; do
	dnsmasq_record "txt-record=_mta-sts.$d,\"v=STSv1; id=20261204a;\""
done
dnsmasq_start "$TOP/dns" "$DNS"
ok $? "dnsmasq on 127.0.0.1:$DNS"

printf 'version: STSv1\r\nmode: enforce\r\nmx: *.example.net\r\nmax_age: 86400\r\n' \
	> "$W/mta-sts.example.net"
printf 'version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 86400\n' \
	> "$W/mta-sts.example.org"
printf 'version: STSv1\nmode: testing\nmx: mx.elsewhere.test\nmax_age: 86400\n' \
	> "$W/mta-sts.example.com"
printf 'version: STSv1\nmode: enforce\nmx: mx.bad.test\nmax_age: 86400\n' \
	> "$W/mta-sts.bad.test"
printf 'version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 86400\n' \
	> "$W/mta-sts.testing.test"
/usr/bin/python3 "$POSTERN_TOP/tests/lib/sts_https.py" "$WEB" 443 \
	"$C/web.pem" "$C/web.key" "$W" "$TOP/https.log" >"$TOP/https.out" 2>&1 &
HTTPS=$!
/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_sink.py" "$SINK" "$TOP/out" \
	"$C/mx.pem" "$C/mx.key" >"$TOP/sink.out" 2>&1 &
PIDS+=($!)

cat > "$E/main.cf" <<CF
queue_directory = $Q
data_directory = $TOP/data
myhostname = client.example.net
resolver_nameservers = $DNSMASQ_SERVER
smtp_connect_timeout = 5s
smtp_tls_CAfile = $C/testca.pem
smtp_mta_sts_enable = yes
smtp_mta_sts_CAfile = $C/testca.pem
smtp_mta_sts_timeout = 5s
CF
"$POSTERN_BIN/postsuper" -c "$E" -s
ok $? "postsuper -s creates the queue"
printf 'Subject: sts\n\nbody\n' | "$POSTERN_BIN/sendmail" -C "$E" -i \
	-f s@example.org friend@remote.example
QID=$(ls "$Q/maildrop" | head -1)
mv "$Q/maildrop/$QID" "$Q/active/$QID"

# agent NAME - an smtp agent on private/NAME
agent() {
	"$POSTERN_BIN/smtp" -c "$E" -d -l "$Q/private/$1" >>"$LOG" 2>&1 &
	PIDS+=($!)
}
agent smtp
wait_accepts "$Q/private/smtp" 15 &&
	wait_for "grep -q listening '$TOP/https.out' &&
	(exec 3<>/dev/tcp/127.0.0.1/$SINK)" 15
ok $? "smtp agent, the policy server on $WEB:443 and the sink are up" ||
	diag "$(cat "$TOP/https.out")"

request() {
	/usr/bin/python3 "$POSTERN_TOP/tests/lib/agent_request.py" \
		"$Q/private/$1" "$QID" "$2"
}
received() {
	ls "$TOP/out" | grep -c '\.eml$'
}
log_since() {
	tail -c +"$(($1 + 1))" "$LOG"
}
fetches() {
	grep -c "mta-sts.txt 200" "$TOP/https.log" 2>/dev/null
}

# 1. enforce, the MX matches: delivered, verified
off=$(stat -c %s "$LOG") n0=$(received)
a=$(request smtp "example.net:$SINK")
like "$a" "rcpt.0.action=delivered" "enforce, MX matches: delivered" ||
	diag "$a$(log_since "$off")"
is "$(received)" $((n0 + 1)) "... the sink has it"
like "$(cat "$TOP/out/$((n0 + 1)).eml" 2>/dev/null)" "X-Sink-TLS: yes" \
	"... over TLS"
like "$(log_since "$off")" "Verified TLS connection established to mx.example.net\\[127.0.0.1\\]:$SINK" \
	"... the certificate verified for the MX name"
like "$(log_since "$off")" "MTA-STS policy for example.net: id 20261204a, mode enforce, max_age 86400" \
	"... the policy fetched and logged"
like "$(cat "$TOP/https.log")" "^mta-sts.example.net /.well-known/mta-sts.txt 200" \
	"... from https://mta-sts.example.net/.well-known/mta-sts.txt"

# 2. enforce, the MX does not match: deferred, no connection
off=$(stat -c %s "$LOG") n0=$(received)
a=$(request smtp "example.org:$SINK")
like "$a" "rcpt.0.action=deferred" "enforce, MX does not match: deferred"
like "$a" "rcpt.0.status=4.7.5" "... 4.7.5"
like "$a" "rcpt.0.reason=MTA-STS policy for example.org: MX host mx.example.org does not match" \
	"... the reason names the policy and the MX"
is "$(received)" "$n0" "... nothing sent"
unlike "$(log_since "$off")" "TLS connection established" "... no connection made"

# 3. enforce, the certificate does not name the MX: deferred
n0=$(received)
a=$(request smtp "bad.test:$SINK")
like "$a" "rcpt.0.action=deferred" "enforce, certificate not valid for the MX: deferred"
like "$a" "rcpt.0.status=4.7.5" "... 4.7.5"
like "$a" "rcpt.0.reason=MTA-STS policy for bad.test: certificate verification failed" \
	"... the reason says certificate verification failed"
is "$(received)" "$n0" "... nothing sent"

# 4. testing, the MX does not match: delivered, logged
off=$(stat -c %s "$LOG") n0=$(received)
a=$(request smtp "example.com:$SINK")
like "$a" "rcpt.0.action=delivered" "testing, MX does not match: delivered"
is "$(received)" $((n0 + 1)) "... the sink has it"
like "$(log_since "$off")" "MTA-STS policy \\(testing\\) for example.com: MX host mx.example.com does not match" \
	"... the failure is logged"

# 4b. testing, the certificate does not name the MX: delivered, logged
off=$(stat -c %s "$LOG") n0=$(received)
a=$(request smtp "testing.test:$SINK")
like "$a" "rcpt.0.action=delivered" "testing, certificate not valid for the MX: delivered"
like "$(cat "$TOP/out/$((n0 + 1)).eml" 2>/dev/null)" "X-Sink-TLS: yes" \
	"... over TLS (testing asks for at least may)"
like "$(log_since "$off")" "MTA-STS policy \\(testing\\) for testing.test: certificate verification failed for mx.testing.test" \
	"... the verification failure is logged"

# 5. no TXT record: no policy, plaintext as configured (level none)
n1=$(fetches) n0=$(received)
a=$(request smtp "plain.test:$SINK")
like "$a" "rcpt.0.action=delivered" "no _mta-sts record: delivered"
like "$(cat "$TOP/out/$((n0 + 1)).eml" 2>/dev/null)" "X-Sink-TLS: no" \
	"... in plaintext (level none)"
is "$(fetches)" "$n1" "... no policy fetched"

# 6. the policy server down, a new agent process: the LMDB cache
kill "$HTTPS" && wait "$HTTPS" 2>/dev/null
HTTPS=
n1=$(grep -c . "$TOP/https.log")
agent smtp2
wait_accepts "$Q/private/smtp2" 15
off=$(stat -c %s "$LOG") n0=$(received)
a=$(request smtp2 "example.org:$SINK")
like "$a" "rcpt.0.reason=MTA-STS policy for example.org: MX host mx.example.org does not match" \
	"server down, new process: the cached enforce policy still defers"
a=$(request smtp2 "example.net:$SINK")
like "$a" "rcpt.0.action=delivered" "... and the cached policy delivers a matching MX"
like "$(log_since "$off")" "Verified TLS connection established to mx.example.net" \
	"... verified"
is "$(grep -c . "$TOP/https.log")" "$n1" "... with no request to the policy server"
[ -s "$TOP/data/mta-sts.lmdb" ]
ok $? "the cache is $TOP/data/mta-sts.lmdb"

# 7. the TXT id changed, the server is down: the cached policy is used
dnsmasq_stop
DNSMASQ_RECORDS=("${DNSMASQ_RECORDS[@]/id=20261204a/id=20261204b}")
dnsmasq_start "$TOP/dns" "$DNS"
ok $? "dnsmasq again, with a new id"
off=$(stat -c %s "$LOG")
a=$(request smtp2 "example.org:$SINK")
like "$a" "rcpt.0.reason=MTA-STS policy for example.org: MX host mx.example.org does not match" \
	"id changed, fetch fails: the cached policy still defers"
like "$(log_since "$off")" "MTA-STS policy fetch for example.org failed: .*; using the cached policy" \
	"... the failed fetch is logged"

unlike "$(cat "$LOG")" "panic:" "no panics"
sanitizer_ok "$(cat "$LOG")"
done_testing
