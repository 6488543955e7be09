#!/bin/bash
# 25-dns.t - lib/dns.c against a private dnsmasq: A/AAAA, MX order, PTR,
# TXT, NXDOMAIN vs NODATA, REFUSED and dead or silent servers -> RETRY,
# and resolver_nameservers really replacing /etc/resolv.conf's servers.
# Ports 20250-20291.
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
. "$POSTERN_TOP/tests/lib/wait.sh"

DNSQ=${POSTERN_TOOLS:-$(dirname "$POSTERN_BIN")/tools}/dnsq
PORT=$((20250 + $$ % 40))
DEAD=$((PORT + 1))
SILENT=$((PORT + 2))
DIR=$(mktemp -d /tmp/postern-25-dns.XXXXXX)
SILENT_PID=
cleanup() {
	dnsmasq_stop
	[ -n "$SILENT_PID" ] && kill "$SILENT_PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

[ -x "$DNSQ" ] || bail_out "no dnsq at $DNSQ (make test-programs)"

dnsmasq_record "mx-host=example.com,mx2.example.com,20"
dnsmasq_record "mx-host=example.com,mx1.example.com,10"
dnsmasq_record "mx-host=example.com,mx3.example.com,30"
dnsmasq_record "host-record=mx1.example.com,192.0.2.10,2001:db8::10"
dnsmasq_record "host-record=v4only.example.com,192.0.2.11"
dnsmasq_record "ptr-record=10.2.0.192.in-addr.arpa,mx1.example.com"
dnsmasq_record "ptr-record=0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa,six.example.com"
dnsmasq_record "txt-record=example.com,v=spf1 -all"
dnsmasq_record "txt-record=split.example.com,part one ,part two"
dnsmasq_record "address=/dnsbl.example/127.0.0.2"
HAVE_V6=
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
	HAVE_V6=1
	dnsmasq_record "listen-address=::1"
fi
dnsmasq_start "$DIR/dns" "$PORT" || bail_out "dnsmasq did not start"
NS=$DNSMASQ_SERVER

q() { "$DNSQ" -n "$NS" "$@" 2>&1; }

is "$(q a mx1.example.com)" $'192.0.2.10\n2001:db8::10\nstatus=OK nxdomain=0' \
	"A and AAAA records, A first"
is "$(q a v4only.example.com)" $'192.0.2.11\nstatus=OK nxdomain=0' \
	"A only: AAAA NODATA does not hide it"
is "$(q a MX1.Example.COM.)" $'192.0.2.10\n2001:db8::10\nstatus=OK nxdomain=0' \
	"case-insensitive, trailing dot"
is "$(q mx example.com)" \
	$'10 mx1.example.com\n20 mx2.example.com\n30 mx3.example.com\nstatus=OK nxdomain=0' \
	"MX sorted by preference"
is "$(q ptr 192.0.2.10)" $'mx1.example.com\nstatus=OK nxdomain=0' "PTR IPv4"
is "$(q ptr 2001:db8::10)" $'six.example.com\nstatus=OK nxdomain=0' \
	"PTR IPv6 nibbles"
is "$(q ptr 192.0.2.99)" "status=NOTFOUND nxdomain=1" "PTR missing"
is "$(q ptr not-an-ip)" "status=NOTFOUND nxdomain=0" "PTR of garbage"
is "$(q txt example.com)" $'v=spf1 -all\nstatus=OK nxdomain=0' "TXT"
is "$(q txt split.example.com)" $'part one part two\nstatus=OK nxdomain=0' \
	"TXT character-strings concatenated"
is "$(q a 2.0.0.127.dnsbl.example)" $'127.0.0.2\nstatus=OK nxdomain=0' \
	"DNSBL-style wildcard hit"
is "$(q a nosuch.example.com)" "status=NOTFOUND nxdomain=1" "NXDOMAIN"
is "$(q mx mx1.example.com)" "status=NOTFOUND nxdomain=0" \
	"NODATA: name exists without MX"
is "$(q mx nosuch.example.com)" "status=NOTFOUND nxdomain=1" "MX NXDOMAIN"
is "$(q a 'bad..name.example')" "status=NOTFOUND nxdomain=1" \
	"malformed name is not found, not sent"
long=$(printf 'a%.0s' $(seq 300)).example
is "$(q a "$long")" "status=NOTFOUND nxdomain=1" "overlong name"
is "$(q a www.example.net.invalid-tld-postern)" "status=RETRY nxdomain=0" \
	"REFUSED (not local, no upstream) is RETRY, never NOTFOUND"
like "$(grep -c 'query\[A\] www.example.net.invalid-tld-postern' \
	"$DIR/dns/dnsmasq.log")" '^[1-9]' \
	"that query went to our dnsmasq, not to resolv.conf's servers"

start=$(date +%s)
is "$("$DNSQ" -n "127.0.0.1:$DEAD" a mx1.example.com)" \
	"status=RETRY nxdomain=0" "dead server port: RETRY"
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(60)' "$SILENT" &
SILENT_PID=$!
wait_for "ss -Hlun 'sport = :$SILENT' | grep -q ." 10
is "$("$DNSQ" -n "127.0.0.1:$SILENT" a mx1.example.com)" \
	"status=RETRY nxdomain=0" "silent server: RETRY (timeout)"
elapsed=$(( $(date +%s) - start ))
ok $([ "$elapsed" -le 15 ]; echo $?) "timeouts are short (${elapsed}s <= 15s)"

"$DNSQ" -n "not-an-address" a mx1.example.com >/dev/null 2>&1
is "$?" 2 "malformed resolver_nameservers is refused"
"$DNSQ" -n "127.0.0.1:0" a mx1.example.com >/dev/null 2>&1
is "$?" 2 "port 0 is refused"
"$DNSQ" -n "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4" a x >/dev/null 2>&1
is "$?" 2 "more than 3 servers is refused"
is "$("$DNSQ" -n "127.0.0.1:$DEAD [::1]:$DEAD" a mx1.example.com)" \
	"status=RETRY nxdomain=0" "IPv6 server syntax accepted (dead: RETRY)"
is "$("$DNSQ" -n "127.0.0.1:$DEAD,$NS" mx example.com | tail -1)" \
	"status=OK nxdomain=0" "second server used after a dead first one"

if [ -n "$HAVE_V6" ]; then
	is "$("$DNSQ" -n "[::1]:$PORT" mx example.com | tail -1)" \
		"status=OK nxdomain=0" "IPv6 nameserver [::1]:port answers"
	grep -q "from ::1" "$DIR/dns/dnsmasq.log"
	ok $? "the query came over IPv6"
else
	note "no IPv6 loopback: the [::1] server checks are not run"
fi

is "$(q -t 8 mx example.com)" \
	$'10 mx1.example.com\n20 mx2.example.com\n30 mx3.example.com\nstatus=OK nxdomain=0' \
	"8 threads x 20 lookups at once: every answer the same"
is "$(q -t 4 a nosuch.example.com)" "status=NOTFOUND nxdomain=1" \
	"threads keep their own NXDOMAIN flag"

is "$("$DNSQ" rev 192.0.2.1 zen.example)" "1.2.0.192.zen.example" \
	"reverse name IPv4"
is "$("$DNSQ" rev 2001:db8::1 dnsbl.example)" \
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.dnsbl.example" \
	"reverse name IPv6 nibbles"
is "$("$DNSQ" rev 999.1.1.1 z)" "(null)" "reverse name of garbage"

done_testing
