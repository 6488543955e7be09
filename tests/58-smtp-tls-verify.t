#!/bin/bash
# 58-smtp-tls-verify.t - the smtp client's TLS levels verify and secure
# against certificates from a test CA made here with openssl.
#
# A private dnsmasq (never the machine's resolver) names the servers:
# mx.good.test (MX of good.test and of corp.test), mx.fake.test,
# mx.bad.test, all 127.0.0.1. Three tests/lib/smtp_sink.py servers with
# STARTTLS: GOOD has a certificate for mx.good.test from the test CA,
# FAKE one for mx.fake.test from another CA (right name, wrong issuer),
# BAD one for wrong.test from the test CA (right issuer, wrong name).
# smtp agents (smtp_tls_CAfile = the test CA) at level verify, secure and
# may get lib/deliver.h requests.
#
# Checks:
#   verify: [mx.good.test]:port, good.test (MX) and corp.test (MX in
#     another domain: verify matches the MX host name) are delivered,
#     the message arrives over TLS byte for byte, the log says
#     "Verified TLS connection established to mx.good.test[127.0.0.1]:P";
#     a second delivery resumes the cached TLS session (the server
#     says so) and is verified again;
#   secure: [mx.good.test]:port and good.test (dot-nexthop) delivered and
#     Verified; corp.test deferred 4.7.5 (the certificate does not name
#     the nexthop);
#   the wrong issuer and the wrong name are deferred 4.7.5 at verify and
#     secure with Postfix's reasons ("Server certificate not trusted",
#     "... not verified"), logged Untrusted/Trusted, with nothing sent to
#     the server and no retry in plaintext;
#   smtp_tls_verify_cert_match and smtp_tls_secure_cert_match are
#     obeyed: "nexthop" alone refuses the MX host name and subdomains, a
#     literal ".good.test" accepts mx.good.test for corp.test;
#   may: the same two servers deliver over TLS, logged Untrusted and
#     Trusted (Postfix's words for an unverified and a verified chain).
# Ports 20820-20859. About 10 s.
set -u
# run directly (not through tests/lib/runtest): tap.sh's sanitizer_ok
# reads POSTERN_SAN_DIR, unset then
POSTERN_SAN_DIR=${POSTERN_SAN_DIR:-}
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
. "$POSTERN_TOP/tests/lib/wait.sh"
. "$POSTERN_TOP/tests/lib/certs.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

TOP=$(mktemp -d /tmp/postern-58.XXXXXX)
chmod 755 "$TOP"
E=$TOP/etc Q=$TOP/queue LOG=$TOP/smtp.log C=$TOP/certs
mkdir -p "$E" "$C" "$TOP/data" "$TOP/good" "$TOP/fake" "$TOP/bad"
PIDS=()
cleanup() {
	stop_pids "${PIDS[@]}"
	dnsmasq_stop
	[ -n "${KEEP58:-}" ] || rm -rf "$TOP"
}
trap cleanup EXIT

DNS=$(free_port 20820 20829) &&
	GOOD=$(free_port 20830 20839) && FAKE=$(free_port 20840 20849) &&
	BAD=$(free_port 20850 20859) || bail_out "no free port in 20820-20859"

cert_ca "$C" testca && cert_ca "$C" otherca &&
	cert_leaf "$C" testca good mx.good.test &&
	cert_leaf "$C" otherca fake mx.fake.test &&
	cert_leaf "$C" testca bad wrong.test
ok $? "test CA, another CA and three server certificates" ||
	diag "$(cat "$C/openssl.err")"
openssl verify -CAfile "$C/testca.pem" "$C/good.pem" >/dev/null 2>&1 &&
	! openssl verify -CAfile "$C/testca.pem" "$C/fake.pem" >/dev/null 2>&1
ok $? "openssl agrees: good chains to the test CA, fake does not"

dnsmasq_record "host-record=mx.good.test,127.0.0.1"
dnsmasq_record "host-record=mx.fake.test,127.0.0.1"
dnsmasq_record "host-record=mx.bad.test,127.0.0.1"
dnsmasq_record "mx-host=good.test,mx.good.test,10"
dnsmasq_record "mx-host=corp.test,mx.good.test,10"
dnsmasq_start "$TOP/dns" "$DNS"
ok $? "dnsmasq on 127.0.0.1:$DNS"

if [ "$(id -u)" = 0 ]; then
	# smtp drops to mail_owner: its TLS session cache is its own
	chown postern: "$TOP/data"
	chmod 644 "$C"/*.key
fi
cat > "$E/main.cf" <<CF
queue_directory = $Q
data_directory = $TOP/data
myhostname = client.example.net
resolver_nameservers = $DNSMASQ_SERVER
smtp_connect_timeout = 5s
smtp_tls_CAfile = $C/testca.pem
smtp_tls_security_level = verify
smtp_tls_session_cache_database = btree:\${data_directory}/smtp_scache
CF
"$POSTERN_BIN/postsuper" -c "$E" -s
ok $? "postsuper -s creates the queue"
printf 'From: s@example.org\nTo: friend@remote.example\nSubject: tls %s\n\nline one\n.dot line\nlast\n' \
	"$$" | "$POSTERN_BIN/sendmail" -C "$E" -i -f s@example.org \
	friend@remote.example
QID=$(ls "$Q/maildrop" | head -1)
mv "$Q/maildrop/$QID" "$Q/active/$QID"
[ -f "$Q/active/$QID" ]
ok $? "a queued message in active/"

for s in good fake bad; do
	case $s in good) p=$GOOD ;; fake) p=$FAKE ;; bad) p=$BAD ;; esac
	/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_sink.py" "$p" \
		"$TOP/$s" "$C/$s.pem" "$C/$s.key" >"$TOP/sink.$s.out" 2>&1 &
	PIDS+=($!)
done
# agent SOCKET LEVEL [-o name=value...] - an smtp agent on private/SOCKET
agent() {
	local sock=$1 lvl=$2
	shift 2
	"$POSTERN_BIN/smtp" -c "$E" -d -l "$Q/private/$sock" \
		-o smtp_tls_security_level=$lvl "$@" >>"$LOG" 2>&1 &
	PIDS+=($!)
}
agent verify verify
agent secure secure
agent may may
agent verify-nexthop verify -o smtp_tls_verify_cert_match=nexthop
agent secure-nexthop secure -o smtp_tls_secure_cert_match=nexthop
agent secure-literal secure -o "smtp_tls_secure_cert_match=example.net:.good.test"
up=1
for a in verify secure may verify-nexthop secure-nexthop secure-literal; do
	wait_accepts "$Q/private/$a" 15 || { up=0; break; }
done
[ $up = 1 ] &&
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$GOOD) && (exec 3<>/dev/tcp/127.0.0.1/$FAKE) &&
	(exec 3<>/dev/tcp/127.0.0.1/$BAD)" 15
ok $? "smtp agents and the three servers are up"

# request LEVEL NEXTHOP - one lib/deliver.h request, print the answer
request() {
	/usr/bin/python3 "$POSTERN_TOP/tests/lib/agent_request.py" "$Q/private/$1" "$QID" "$2"
}

# received DIR - number of messages a server has taken
received() {
	ls "$1" | grep -c '\.eml$'
}

# log_since N - the smtp log after its first N bytes
log_since() {
	tail -c +"$(($1 + 1))" "$LOG"
}

# What GOOD must write for each delivery: the sink's envelope block,
# then the message bytes as the queue file holds them, LF -> CRLF (the
# sink keeps what came after DATA, dot-stuffing undone).
/usr/bin/python3 - "$Q/active/$QID" "$TOP/want.eml" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
pos = 0
while True:
    nl = data.index(b'\n', pos)
    if data[pos:pos + 1] == b'M':
        n = int(data[pos + 1:nl])
        msg = data[nl + 1:nl + 1 + n].replace(b'\n', b'\r\n')
        break
    pos = nl + 1
head = (b'X-Sink-From: <s@example.org>\r\nX-Sink-To: <friend@remote.example>'
        b'\r\nX-Sink-TLS: yes\r\nX-Sink-Auth: \r\nX-Sink-Resumed: no\r\n'
        b'\r\n')
open(sys.argv[2], 'wb').write(head + msg)
open(sys.argv[2] + '.yes', 'wb').write(head.replace(b'Resumed: no',
                                                    b'Resumed: yes') + msg)
PY
like "$(cat "$TOP/want.eml")" $'Subject: tls [0-9]+\r\n\r\nline one\r\n\\.dot line\r\nlast\r$' \
	"the queued message is known"

# delivered LEVEL NEXTHOP NAME [RESUMED] - delivered to GOOD, over TLS,
# verified; RESUMED (yes, no; default either) is what the server saw of
# TLS session resumption
delivered() {
	local n0 off a f want=$TOP/want.eml
	n0=$(received "$TOP/good")
	off=$(stat -c %s "$LOG")
	a=$(request "$1" "$2")
	like "$a" "rcpt.0.action=delivered" "$3: delivered" || diag "$a"
	like "$a" "rcpt.0.relay=mx.good.test\\[127.0.0.1\\]:$GOOD" \
		"$3: relay=mx.good.test[127.0.0.1]:port"
	is "$(received "$TOP/good")" "$((n0 + 1))" "$3: the server has it"
	f=$TOP/good/$((n0 + 1)).eml
	case ${4:-} in
	yes) want=$TOP/want.eml.yes ;;
	'') grep -q '^X-Sink-Resumed: yes' "$f" 2>/dev/null &&
		want=$TOP/want.eml.yes ;;
	esac
	cmp "$want" "$f" >/dev/null 2>&1
	ok $? "$3: received over TLS, byte for byte${4:+, resumed: $4}" ||
		diag "$(diff <(cat -A "$want") <(cat -A "$f" 2>&1))"
	like "$(log_since "$off")" "Verified TLS connection established to mx\\.good\\.test\\[127\\.0\\.0\\.1\\]:$GOOD: TLSv1\\.[23] with cipher " \
		"$3: logged Verified TLS connection"
}

# refused LEVEL NEXTHOP DIR TRUST NAME - deferred 4.7.5, nothing sent;
# TRUST is how the connection is logged (Untrusted: the chain failed,
# reason "not trusted"; Trusted: the name failed, "not verified")
refused() {
	local n0 off a why
	n0=$(received "$3")
	off=$(stat -c %s "$LOG")
	a=$(request "$1" "$2")
	like "$a" "rcpt.0.action=deferred" "$5: deferred" || diag "$a"
	like "$a" "rcpt.0.status=4\\.7\\.5" "$5: 4.7.5"
	why=verified
	[ "$4" = Untrusted ] && why=trusted
	is "$(printf '%s\n' "$a" | sed -n 's/^rcpt\.0\.reason=//p')" \
		"Server certificate not $why" \
		"$5: Postfix's reason: Server certificate not $why"
	like "$(log_since "$off")" "server certificate verification failed for [^ ]+\\[127\\.0\\.0\\.1\\]:[0-9]+: " \
		"$5: the detail is logged"
	is "$(received "$3")" "$n0" "$5: the server got no message"
	like "$(log_since "$off")" "$4 TLS connection established to " \
		"$5: logged $4 TLS connection"
	unlike "$(log_since "$off")" "trying again without TLS" \
		"$5: no retry in plaintext"
}

delivered verify "[mx.good.test]:$GOOD" "verify [mx.good.test]:port" no
delivered verify "good.test:$GOOD" "verify good.test (MX)"
delivered verify "corp.test:$GOOD" "verify corp.test (MX host name matches)"
[ -s "$TOP/data/smtp_scache.lmdb" ]
ok $? "the client TLS session cache is written"
# The seed caches client sessions: a resumed session must be verified
# as well (the peer certificate and chain result come from the cache).
delivered verify "[mx.good.test]:$GOOD" "verify again, cached session" yes
delivered secure "[mx.good.test]:$GOOD" "secure [mx.good.test]:port"
delivered secure "good.test:$GOOD" "secure good.test (dot-nexthop)"
refused secure "corp.test:$GOOD" "$TOP/good" Trusted \
	"secure corp.test (certificate does not name the nexthop)"

# The match lists are read: nexthop only (no MX host name, no
# subdomains), and a literal ".domain" (its subdomains, after a name that
# does not match; colons separate as in Postfix).
refused verify-nexthop "corp.test:$GOOD" "$TOP/good" Trusted \
	"smtp_tls_verify_cert_match=nexthop, MX in another domain"
delivered verify-nexthop "[mx.good.test]:$GOOD" \
	"smtp_tls_verify_cert_match=nexthop, [mx.good.test]"
refused secure-nexthop "good.test:$GOOD" "$TOP/good" Trusted \
	"smtp_tls_secure_cert_match=nexthop, good.test (no dot-nexthop)"
delivered secure-literal "corp.test:$GOOD" \
	"smtp_tls_secure_cert_match=example.net:.good.test, corp.test"

refused verify "[mx.fake.test]:$FAKE" "$TOP/fake" Untrusted \
	"verify, certificate from another CA"
refused secure "[mx.fake.test]:$FAKE" "$TOP/fake" Untrusted \
	"secure, certificate from another CA"
refused verify "[mx.bad.test]:$BAD" "$TOP/bad" Trusted \
	"verify, certificate for another name"
refused secure "[mx.bad.test]:$BAD" "$TOP/bad" Trusted \
	"secure, certificate for another name"

off=$(stat -c %s "$LOG")
a=$(request may "[mx.fake.test]:$FAKE")
like "$a" "rcpt.0.action=delivered" "may, another CA: delivered"
grep -q '^X-Sink-TLS: yes' "$TOP/fake/1.eml" 2>/dev/null
ok $? "may, another CA: over TLS"
like "$(log_since "$off")" "Untrusted TLS connection established to mx\\.fake\\.test\\[127\\.0\\.0\\.1\\]:$FAKE" \
	"may, another CA: logged Untrusted"
off=$(stat -c %s "$LOG")
a=$(request may "[mx.bad.test]:$BAD")
like "$a" "rcpt.0.action=delivered" "may, test CA: delivered"
like "$(log_since "$off")" "Trusted TLS connection established to mx\\.bad\\.test\\[127\\.0\\.0\\.1\\]:$BAD" \
	"may, test CA: logged Trusted (chain verified, no name check)"
unlike "$(log_since "$off")" "Untrusted|Verified" \
	"may, test CA: neither Untrusted nor Verified"

unlike "$(cat "$LOG")" "panic:|fatal:" "no panic or fatal error"
sanitizer_ok "$(cat "$LOG")"
done_testing
