#!/bin/bash
# 81-dane.t - DANE (RFC 7672) in the smtp client, as Postfix does it.
#
# Issue 14, "DANE". A DNSSEC-signed zone dane.test, made here with
# ldns-keygen and ldns-signzone (ldnsutils), and an unsigned zone
# plain.test are served by unbound on loopback (auth-zone for-upstream,
# so unbound validates them as a resolver) with the signing key's DS
# as trust anchor: answers from dane.test have the AD bit, answers from
# plain.test (no anchor covers it) do not. postern uses it through
# resolver_nameservers, with smtp_dns_support_level = dnssec and
# smtp_tls_security_level = dane. One aiosmtpd sink with STARTTLS (the
# instance's certificate) per destination (for none and bogus a
# tests/lib/raw_sink.py, which records any connection), reached by MX lookup
# (transport_maps "smtp:DOMAIN:PORT", so the TLSA name is
# _PORT._tcp.MXHOST):
#   good.dane.test  MX mx-good   TLSA 3 1 1 <sha256 of the sink's key>
#   bad.dane.test   MX mx-bad    TLSA 3 1 1 <another digest>
#   none.dane.test  MX mx-none   no TLSA; dane-only (smtp_tls_policy_maps)
#   plain.test      MX mx        unsigned zone
#   unus.dane.test  MX mx-unus   TLSA 1 1 1 only (PKIX-EE: unusable)
#   bogus.dane.test MX mx-bogus  TLSA whose data was changed after
#                                signing (DNSSEC bogus: SERVFAIL)
# Checks: good delivered over TLS and the log says "Verified TLS
# connection established"; bad deferred 4.7.5 "Server certificate not
# trusted" with nothing received; none (dane-only) deferred 4.7.5
# without a connection; plain delivered with opportunistic TLS
# ("Untrusted"/"Trusted", never "Verified"); unus delivered over TLS
# without authentication (encrypt); bogus deferred 4.7.5 "TLSA lookup
# error" without a connection; unbound and the sinks stopped by
# PID. About 25 s under ASan. Ports 29300-29399.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

for p in /usr/sbin/unbound /usr/bin/ldns-keygen /usr/bin/ldns-signzone \
    /usr/bin/drill; do
	need_prog 1 "$p" "packages unbound, ldnsutils (tools/deps.txt)" ||
		{ done_testing; exit; }
done

TOP=$(mktemp -d /tmp/postern-81.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
trap 'instance_cleanup; rm -rf "$TOP"' EXIT

NEXT=$(free_port 29300 29340)
alloc() {	# P = the next free port above the last one taken
	while [ "$NEXT" -le 29399 ]; do
		P=$NEXT
		NEXT=$((NEXT + 1))
		free_port "$P" "$P" >/dev/null && return 0
	done
	return 1
}
alloc && SMTP=$P && alloc && SUB=$P && alloc && DNS=$P
KINDS="good bad none plain unus bogus"
declare -A PORT
for k in $KINDS; do
	alloc
	PORT[$k]=$P
	mkdir -p "$TOP/out-$k"
done

INSTANCE_RESOLVER=127.0.0.1:$DNS
instance_create "$DIR" "$SMTP" "$SUB"
ok $? "instance created"
E=$INSTANCE_CONF

# --- the zones ----------------------------------------------------------
SPKI=$(openssl x509 -in "$E/cert.pem" -noout -pubkey |
	openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
mkdir "$TOP/dns"
{
	printf '$ORIGIN dane.test.\n$TTL 300\n'
	printf '@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300\n'
	printf '@ IN NS ns.dane.test.\nns IN A 127.0.0.1\n'
	for k in good bad none unus bogus; do
		printf '%s IN MX 10 mx-%s.dane.test.\n' "$k" "$k"
		printf 'mx-%s IN A 127.0.0.1\n' "$k"
	done
	printf '_%s._tcp.mx-good IN TLSA 3 1 1 %s\n' "${PORT[good]}" "$SPKI"
	printf '_%s._tcp.mx-bad IN TLSA 3 1 1 %064d\n' "${PORT[bad]}" 0
	printf '_%s._tcp.mx-unus IN TLSA 1 1 1 %s\n' "${PORT[unus]}" "$SPKI"
	printf '_%s._tcp.mx-bogus IN TLSA 3 1 1 %s\n' "${PORT[bogus]}" "$SPKI"
} > "$TOP/dns/dane.test.zone"
{
	printf '$ORIGIN plain.test.\n$TTL 300\n'
	printf '@ IN SOA ns.plain.test. hostmaster.plain.test. 1 3600 600 86400 300\n'
	printf '@ IN NS ns.plain.test.\nns IN A 127.0.0.1\n'
	printf '@ IN MX 10 mx.plain.test.\nmx IN A 127.0.0.1\n'
	printf '_%s._tcp.mx IN TLSA 3 1 1 %064d\n' "${PORT[plain]}" 0
} > "$TOP/dns/plain.test.zone"
KEY=$(cd "$TOP/dns" && ldns-keygen -k -a ECDSAP256SHA256 dane.test)
ok $? "ldns-keygen made the zone key $KEY"
(cd "$TOP/dns" && ldns-signzone dane.test.zone "$KEY")
ok $? "ldns-signzone signed dane.test"
# bogus: the TLSA data changed after signing, its RRSIG no longer fits
sed -i "/^_${PORT[bogus]}\._tcp\.mx-bogus\.dane\.test\..*TLSA[[:space:]]*3 1 1/s/[0-9a-f]\{64\}\$/$(printf %064d 1)/" \
	"$TOP/dns/dane.test.zone.signed"
grep -q "mx-bogus.*TLSA.*3 1 1 $(printf %064d 1)" "$TOP/dns/dane.test.zone.signed"
ok $? "the bogus TLSA record was altered after signing"

cat > "$TOP/dns/unbound.conf" <<EOF
server:
	interface: 127.0.0.1@$DNS
	do-ip6: no
	do-daemonize: no
	chroot: ""
	username: ""
	directory: "$TOP/dns"
	pidfile: ""
	use-syslog: no
	logfile: ""
	verbosity: 1
	num-threads: 1
	access-control: 127.0.0.0/8 allow
	module-config: "validator iterator"
	trust-anchor-file: "$TOP/dns/$KEY.ds"
	local-zone: "test." nodefault
auth-zone:
	name: "dane.test"
	zonefile: "$TOP/dns/dane.test.zone.signed"
	for-downstream: no
	for-upstream: yes
	fallback-enabled: no
auth-zone:
	name: "plain.test"
	zonefile: "$TOP/dns/plain.test.zone"
	for-downstream: no
	for-upstream: yes
	fallback-enabled: no
remote-control:
	control-enable: no
EOF
/usr/sbin/unbound -d -c "$TOP/dns/unbound.conf" >"$TOP/unbound.out" 2>&1 &
UNBOUND=$!
INSTANCE_SINKS+=("$UNBOUND")
wait_for "ss -Hlun 'sport = :$DNS' | grep -q ." 15
ok $? "unbound validates on 127.0.0.1:$DNS" || diag "$(cat "$TOP/unbound.out")"

# the resolver itself: AD for the signed zone, none for the other
ad() {	# name type: "ad" when the answer had the AD bit
	drill -D -p "$DNS" @127.0.0.1 "$1" "$2" 2>/dev/null |
		grep -q '^;; flags:.* ad' && echo ad || echo no-ad
}
is "$(ad "_${PORT[good]}._tcp.mx-good.dane.test" TLSA)" ad \
	"unbound: the TLSA answer of dane.test is validated (AD)"
is "$(ad mx.plain.test A)" no-ad "unbound: plain.test is insecure (no AD)"
like "$(drill -p "$DNS" @127.0.0.1 "_${PORT[bogus]}._tcp.mx-bogus.dane.test" TLSA 2>&1)" \
	'rcode: SERVFAIL' "unbound: the altered TLSA record is bogus (SERVFAIL)"

# --- the sinks and the configuration --------------------------------------
# none and bogus must never be connected to: their sinks are raw_sink.py,
# which records every session, even one that sends nothing, as N.raw
for k in $KINDS; do
	case $k in
	none|bogus)
		/usr/bin/python3 "$POSTERN_TOP/tests/lib/raw_sink.py" \
			"${PORT[$k]}" "$TOP/out-$k" >"$TOP/sink-$k.out" 2>&1 & ;;
	*)
		/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_sink.py" \
			"${PORT[$k]}" "$TOP/out-$k" "$E/cert.pem" "$E/key.pem" \
			>"$TOP/sink-$k.out" 2>&1 & ;;
	esac
	INSTANCE_SINKS+=($!)
done
for k in $KINDS; do
	wait_for "port_listening ${PORT[$k]}" 15 ||
		{ ok 1 "sink $k listens"; done_testing; exit 1; }
done
{
	for k in good bad none unus bogus; do
		printf '%s.example smtp:%s.dane.test:%s\n' "$k" "$k" "${PORT[$k]}"
	done
	printf 'plain.example smtp:plain.test:%s\n' "${PORT[plain]}"
} > "$E/transport"
printf 'none.dane.test dane-only\n' > "$E/tls_policy"
instance_conf "virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=inline:{user1@example.com=x}" \
	"sender_canonical_maps=" "canonical_maps=" "virtual_alias_maps=" \
	"smtp_sasl_auth_enable=no" "smtp_bind_address=" "smtp_generic_maps=" \
	"smtp_tls_CApath=" "smtp_tls_CAfile=" \
	"smtp_dns_support_level=dnssec" "smtp_tls_security_level=dane" \
	"smtp_tls_policy_maps=texthash:$E/tls_policy" \
	"transport_maps=texthash:$E/transport" "relayhost="
: > "$E/aliases"
"$POSTERN_BIN/postalias" -c "$E" "hash:$E/aliases"
instance_conf "alias_maps=hash:$E/aliases" "alias_database=hash:$E/aliases"

instance_start
ok $? "master starts" || { done_testing; exit 1; }
for k in $KINDS; do
	printf 'Subject: to %s\n\nbody for %s\n' "$k" "$k" |
		"$POSTERN_BIN/sendmail" -C "$E" -i -f user1@example.com \
		"rcpt@$k.example"
done
ok $? "sendmail accepts one message per destination"

# --- results ------------------------------------------------------------
wait_for "[ -f '$TOP/out-good/1.eml' ]" 30
ok $? "matching TLSA 3 1 1: delivered" ||
	diag "$(grep -v " connect \| disconnect " "$INSTANCE_LOG" | tail -30)"
like "$(cat "$TOP/out-good/1.eml" 2>/dev/null)" 'X-Sink-TLS: yes' "... over TLS"
instance_log_grep "Verified TLS connection established to mx-good\\.dane\\.test\\[127\\.0\\.0\\.1\\]:${PORT[good]}" >/dev/null
ok $? "maillog: Verified TLS connection established to mx-good.dane.test"
instance_log_grep "to=<rcpt@good\\.example>, relay=mx-good\\.dane\\.test\\[127\\.0\\.0\\.1\\]:${PORT[good]}, .*status=sent" >/dev/null
ok $? "maillog: status=sent through mx-good.dane.test"

wait_for "[ -f '$TOP/out-plain/1.eml' ]" 30
ok $? "unsigned zone (its TLSA record is not validated): delivered"
like "$(cat "$TOP/out-plain/1.eml" 2>/dev/null)" 'X-Sink-TLS: yes' \
	"... with opportunistic TLS"
line=$(instance_log_grep "TLS connection established to mx\\.plain\\.test")
like "$line" '(Untrusted|Anonymous|Trusted) TLS connection' \
	"maillog: an unauthenticated TLS connection to mx.plain.test"
unlike "$line" 'Verified' "... never Verified"

wait_for "[ -f '$TOP/out-unus/1.eml' ]" 30
ok $? "only an unusable TLSA record (1 1 1): delivered (level encrypt)"
like "$(cat "$TOP/out-unus/1.eml" 2>/dev/null)" 'X-Sink-TLS: yes' \
	"... over TLS, never plaintext"

deferred() {	# name dsn reason-ERE
	wait_for "instance_log_grep 'to=<rcpt@$1\\.example>, .*dsn=$2, status=deferred \\($3'" 30
}
deferred bad 4.7.5 'Server certificate not trusted'
ok $? "wrong TLSA: deferred 4.7.5 Server certificate not trusted" ||
	diag "$(grep -v " connect \| disconnect " "$INSTANCE_LOG" | tail -30)"
instance_log_grep "Untrusted TLS connection established to mx-bad\\.dane\\.test" >/dev/null
ok $? "maillog: Untrusted TLS connection established to mx-bad.dane.test"
instance_log_grep "server certificate verification failed for mx-bad\\.dane\\.test" >/dev/null
ok $? "maillog: server certificate verification failed"
deferred none 4.7.5 'TLS is required, but no DNSSEC-validated TLSA records'
ok $? "dane-only without TLSA records: deferred 4.7.5"
deferred bogus 4.7.5 'TLSA lookup error for mx-bogus\.dane\.test:'
ok $? "bogus TLSA (SERVFAIL): deferred 4.7.5 TLSA lookup error"
is "$(ls "$TOP/out-bad")" "" "the bad sink received no message"
for k in none bogus; do
	is "$(ls "$TOP/out-$k")" "" "the $k MX was never connected to"
done
is "$(instance_log_grep "TLS connection established to mx-(none|bogus)")" "" \
	"dane-only without TLSA, bogus TLSA: no TLS connection to their MX"
n=$(find "$INSTANCE_QUEUE/deferred" "$INSTANCE_QUEUE/active" -type f | wc -l)
is "$n" 3 "the three refused messages stay in the queue"

sanitizer_ok "$(cat "$DIR/master.out")" "no sanitizer reports from any process"
instance_stop
ok $? "instance stops, no process left"
instance_sinks_stop
kill -0 "$UNBOUND" 2>/dev/null
isnt $? 0 "unbound stopped"
done_testing
