#!/bin/bash
# 46-postscreen-smtpd.t - the seed's port-25 role end to end: master runs
# postscreen on the smtp port and hands passing clients to the real smtpd
# over the "smtpd pass" service. A client allow-listed by the access list
# reaches smtpd at once; a new client is screened (450 4.3.2), and on its
# next connection goes straight to smtpd (PASS OLD). smtpd offers
# PIPELINING, which postscreen's dummy engine never does, so the EHLO
# reply tells who answered. Then two postscreen processes on the port
# (master.cf process limit 2) share the cache. Ports 24400-24439.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

PY=/usr/bin/python3
CLIENT="$PY $POSTERN_TOP/tests/lib/psc_client.py"
PORT=$(free_port 24400 24419) || bail_out "no free port in 24400-24419"
SUBPORT=$(free_port 24420 24429) || bail_out "no free port in 24420-24429"
DNSPORT=$(free_port 24430 24439) || bail_out "no free port in 24430-24439"
DIR=$(mktemp -d /tmp/postern-46-postscreen.XXXXXX)
trap 'instance_cleanup; dnsmasq_stop; rm -rf "$DIR"' EXIT

for p in postscreen smtpd master; do
	[ -x "$POSTERN_BIN/$p" ] || bail_out "no $p in $POSTERN_BIN"
done

for z in spamhaus.org barracudacentral.org spamcop.net manitu.net \
	swinog.ch imp.ch uceprotect.net sorbs.net dnswl.org isipp.com \
	mailspike.net; do
	dnsmasq_local "$z"
done
dnsmasq_start "$DIR/dns" "$DNSPORT" || bail_out "dnsmasq did not start"

instance_create "$DIR/i" "$PORT" "$SUBPORT" || bail_out "instance_create"
printf '127.0.0.9 permit\n' >"$INSTANCE_CONF/postscreen_access.cidr"
instance_conf "resolver_nameservers=$DNSMASQ_SERVER" \
	"mynetworks=192.0.2.0/24" "postscreen_greet_wait=1s" \
	"postscreen_access_list=permit_mynetworks, cidr:$INSTANCE_CONF/postscreen_access.cidr" \
	"smtpd_peername_lookup=no"
instance_start || bail_out "instance did not start"

client() {
	local name=$1 src=$2 out
	shift 2
	out=$($CLIENT "$src" 127.0.0.1 "$PORT" "$@" 2>&1)
	ok $? "$name"
	[[ $out == *FAIL* ]] && echo "$out" | sed 's/^/# /' >&2
}

# EHLO and its reply up to the last line; smtpd's has PIPELINING.
SMTPD_EHLO=('send:EHLO client.test\r\n' 'expect:^250-server\.example\.com' \
	'expect:^250-PIPELINING$')

client "allow-listed client talks to smtpd at once" 127.0.0.9 \
	'expect:^220 server\.example\.com ESMTP' "${SMTPD_EHLO[@]}"
wait_for "instance_log_grep 'postscreen.*WHITELISTED \[127\.0\.0\.9\]'" 5
ok $? "postscreen logged WHITELISTED"
wait_for "instance_log_grep 'postfix/smtpd\[[0-9]+\]: connect from .*127\.0\.0\.9'" 5
ok $? "smtpd logged the client's own address"

# (the instance runs smtpd_tls_security_level = may with a test
# certificate: postscreen offers STARTTLS too)
client "new client screened by postscreen first" 127.0.0.5 \
	'expect:^220-server\.example\.com' 'expect:^220 server\.example\.com' \
	'send:EHLO client.test\r\n' 'expect:^250-server' 'expect:^250-SIZE' \
	'expect:^250-VRFY' 'expect:^250-ETRN' 'expect:^250-STARTTLS$' \
	'expect:^250-ENHANCEDSTATUSCODES' 'expect:^250-8BITMIME' \
	'expect:^250-DSN' 'expect:^250-SMTPUTF8$' 'expect:^250 CHUNKING$' \
	'send:MAIL FROM:<a@client.test>\r\n' \
	'expect:^250 2\.1\.0' \
	'send:RCPT TO:<user1@example.com>\r\n' 'expect:^450 4\.3\.2' \
	'send:QUIT\r\n' 'expect:^221' 'closed'
wait_for "instance_log_grep 'PASS NEW \[127\.0\.0\.5\]'" 5
ok $? "PASS NEW after the after-220 tests"

client "the same client next time reaches smtpd" 127.0.0.5 \
	'expect:^220 server\.example\.com ESMTP' "${SMTPD_EHLO[@]}"
wait_for "instance_log_grep 'PASS OLD \[127\.0\.0\.5\]'" 5
ok $? "PASS OLD logged"
wait_for "instance_log_grep 'postfix/smtpd\[[0-9]+\]: connect from .*127\.0\.0\.5'" 5
ok $? "smtpd served 127.0.0.5"

# The hand-off without a connection per client: master makes a
# datagram socket beside the pass service's stream socket, and a client
# arrives there in one datagram (lib/fdpass.h). Hostile datagrams cost
# a warning each, never the process or the next client.
[ -S "$INSTANCE_QUEUE/private/smtpd" ] &&
	[ -S "$INSTANCE_QUEUE/private/smtpd.dgram" ]
ok $? "master made private/smtpd and private/smtpd.dgram"
$PY - "$INSTANCE_QUEUE/private/smtpd.dgram" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])
good = (b"version=1\nclient_addr=127.0.0.66\nclient_port=1\n"
        b"server_addr=127.0.0.1\nserver_port=25\n\n")
s.send(good)                                   # no descriptor
a, b = socket.socketpair()
socket.send_fds(s, [good.replace(b"version=1", b"version=7")], [a.fileno()])
socket.send_fds(s, [b"version=1\nclient_addr=127.0.0.66\n"], [a.fileno()])
socket.send_fds(s, [good], [a.fileno(), a.fileno()])
a.close()
b.settimeout(10)
print("peer closed" if b.recv(1) == b"" else "peer got data")
PYEOF
ok $? "hostile datagrams: smtpd closed the socket each one carried"
for w in 'no socket received' 'bad version' 'incomplete list' \
	'extra or truncated descriptors'; do
	wait_for "instance_log_grep 'postfix/smtpd\[[0-9]+\]: warning: client hand-off: $w'" 5
	ok $? "smtpd logged the bad hand-off: $w"
done
client "after the bad datagrams a client still reaches smtpd" 127.0.0.9 \
	'expect:^220 server\.example\.com ESMTP' "${SMTPD_EHLO[@]}"

# Every smtpd stopped while 30 allow-listed clients arrive: the
# datagram queue (net.unix.max_dgram_qlen, 10) fills, the stream
# socket's backlog takes the rest; all are greeted once smtpd runs.
smtpd_pids=$(for c in $(instance_children); do
	[ "$(cat /proc/$c/comm 2>/dev/null)" = smtpd ] && echo "$c"; done)
[ -n "$smtpd_pids" ]
ok $? "smtpd processes to stop: $(echo $smtpd_pids)"
kill -STOP $smtpd_pids
$PY "$POSTERN_TOP/tests/lib/burst_greet.py" "$PORT" 30 127.0.0.9 \
	"220 server.example.com ESMTP" >"$DIR/burst.out" 2>&1 &
BURST=$!
sleep 2
kill -CONT $smtpd_pids
wait "$BURST"
is "$(cat "$DIR/burst.out")" "greeted 30 busy 0" \
	"30 clients while every smtpd was stopped: all greeted by smtpd"
! instance_log_grep 'cannot pass connection' >/dev/null
ok $? "postscreen turned none of them away"

instance_stop
ok $? "instance stops cleanly"

# Several postscreen processes on one port (master.cf process limit 2:
# master runs min(limit, cores) of them on its one listening socket),
# sharing the LMDB cache: a client that passed through one is PASS OLD
# in the other. The process that logged PASS NEW is stopped (SIGSTOP),
# so the reconnection can only be accepted by the other one.
awk '$0 !~ /^[ \t#]/ && $2 == "inet" && $NF == "postscreen" { $7 = "2" }
	{ print }' "$INSTANCE_CONF/master.cf" >"$INSTANCE_CONF/master.cf.new" &&
	mv "$INSTANCE_CONF/master.cf.new" "$INSTANCE_CONF/master.cf"
instance_start || bail_out "instance with two postscreens did not start"
want=$(( $(nproc) < 2 ? $(nproc) : 2 ))
psc_pids() {
	local c
	for c in $(instance_children); do
		[ "$(cat /proc/$c/comm 2>/dev/null)" = postscreen ] && echo "$c"
	done
}
wait_for "[ \$(psc_pids | wc -l) = $want ]" 10
ok $? "master runs $want postscreen processes on the smtp port"
client "new client screened by one postscreen" 127.0.0.7 \
	'expect:^220-server' 'expect:^220 server' 'send:HELO client.test\r\n' \
	'expect:^250' 'send:MAIL FROM:<a@client.test>\r\n' 'expect:^250' \
	'send:RCPT TO:<user1@example.com>\r\n' 'expect:^450 4\.3\.2' \
	'send:QUIT\r\n' 'expect:^221'
wait_for "instance_log_grep 'PASS NEW \[127\.0\.0\.7\]'" 5
first=$(tail -n +"$INSTANCE_LOG_FROM" "$INSTANCE_LOG" |
	sed -n 's/.*postscreen\[\([0-9]*\)\]: PASS NEW \[127\.0\.0\.7\].*/\1/p')
if [ "$want" -ge 2 ]; then
	[ -n "$first" ]
	ok $? "one of the two postscreen processes logged PASS NEW ($first)"
fi
if [ "$want" -ge 2 ] && [ -n "$first" ]; then
	kill -STOP "$first"
	client "... and PASS OLD in the other one (the first one stopped)" \
		127.0.0.7 'expect:^220 server\.example\.com ESMTP' \
		"${SMTPD_EHLO[@]}"
	kill -CONT "$first"
	old=$(tail -n +"$INSTANCE_LOG_FROM" "$INSTANCE_LOG" |
		sed -n 's/.*postscreen\[\([0-9]*\)\]: PASS OLD \[127\.0\.0\.7\].*/\1/p')
	[ -n "$old" ] && [ "$old" != "$first" ]
	ok $? "the other process ($old, not $first) found the client in the shared cache"
elif [ "$want" -lt 2 ]; then
	diag "one core: master runs one postscreen; the shared cache is not tested"
fi
instance_stop
ok $? "instance with two postscreens stops cleanly"
done_testing
