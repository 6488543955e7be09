#!/bin/bash
# 17-policyd-spf.t - Debian's postfix-policyd-spf-python, unchanged,
# through check_policy_service (issue 11): "smtpd -S" sessions
# (tests/lib/smtp_pipe.py) with
#   smtpd_recipient_restrictions = reject_unauth_destination,
#       check_policy_service inet:127.0.0.1:PORT
# where tests/lib/spawn_stdio.py plays Postfix's spawn(8): one policyd-spf
# per connection on its stdin/stdout (postern's master has no spawn).
# Its SPF library (python3-spf over dnspython) resolves through
# /etc/resolv.conf, which no test may use: the spawner and its children
# get PYTHONPATH with a sitecustomize.py that makes dnspython's default
# resolver a private dnsmasq on 127.53.X.1 port 53 serving the SPF TXT
# records (policyd-spf itself is unchanged). A mount namespace with a
# private resolv.conf worked too, but not in a chroot (tools/check-fresh:
# "unshare: cannot change root filesystem propagation") nor in a
# container without CAP_SYS_ADMIN.
# Checks: a sender whose SPF record fails gets policyd-spf's 550 5.7.23
# reject; one whose record passes is queued with policyd-spf's
# Received-SPF: Pass header prepended; the TXT queries reached the
# private dnsmasq; the machine's /etc/resolv.conf is untouched.
# About 7 s. Ports 28760-28779 (and 127.53.X.1:53).
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

SMTPD=$POSTERN_BIN/smtpd
PY=/usr/bin/python3
LIB=$POSTERN_TOP/tests/lib
DIR=$(mktemp -d /tmp/postern-17-spf.XXXXXX)
DPID= WPID=
cleanup() {
	local p
	for p in $WPID $DPID; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -n "$KEEP" ] || rm -rf "$DIR"
}
trap cleanup EXIT

[ -x "$SMTPD" ] || bail_out "no smtpd at $SMTPD"
need_root 1 "port 53 needs root" || { done_testing; exit; }
need_prog 1 /usr/bin/policyd-spf "package postfix-policyd-spf-python (tools/deps.txt)" ||
	{ done_testing; exit; }
PPORT=$(free_port 28760 28779) || bail_out "no free port in 28760-28779"
# A loopback address of our own, so that port 53 is free on it.
DNSADDR=
for i in $(seq 0 199); do
	a=127.53.$(((i + $$) % 200 + 1)).1
	if $PY -c 'import socket,sys
for k in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, k); s.bind((sys.argv[1], 53)); s.close()' "$a" 2>/dev/null; then
		DNSADDR=$a
		break
	fi
done
[ -n "$DNSADDR" ] || bail_out "no free 127.53.X.1:53"

# The private DNS: SPF records only, never forwarding.
cat >"$DIR/dnsmasq.conf" <<CF
no-resolv
no-hosts
no-poll
bind-interfaces
listen-address=$DNSADDR
except-interface=nonexistent0
port=53
log-queries
log-facility=$DIR/dnsmasq.log
pid-file=
user=$(id -un)
local=/test/
txt-record=fail.test,"v=spf1 ip4:192.0.2.1 -all"
txt-record=pass.test,"v=spf1 ip4:127.0.0.1 -all"
CF
dnsmasq --keep-in-foreground --conf-file="$DIR/dnsmasq.conf" \
	>"$DIR/dnsmasq.out" 2>&1 &
DPID=$!
for i in $(seq 300); do
	grep -q "started, version" "$DIR/dnsmasq.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "started, version" "$DIR/dnsmasq.log" 2>/dev/null ||
	bail_out "dnsmasq did not start on $DNSADDR:53: $(cat "$DIR/dnsmasq.out")"

# policyd-spf's resolver: only that DNS (dnspython's default resolver).
mkdir -p "$DIR/pysite"
cat >"$DIR/pysite/sitecustomize.py" <<'PYEOF'
import os
import dns.resolver
_r = dns.resolver.Resolver(configure=False)
_r.nameservers = [os.environ["POSTERN_TEST_DNS"]]
dns.resolver.default_resolver = _r
PYEOF
cat >"$DIR/policyd-spf.conf" <<CF
debugLevel = 1
TestOnly = 1
HELO_reject = No_Check
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 192.0.2.255/32
CF
RESOLV_SUM=$(md5sum </etc/resolv.conf 2>/dev/null)
PYTHONPATH=$DIR/pysite POSTERN_TEST_DNS=$DNSADDR \
	$PY "$LIB/spawn_stdio.py" "127.0.0.1:$PPORT" \
	/usr/bin/policyd-spf "$DIR/policyd-spf.conf" \
	>"$DIR/spawn.out" 2>"$DIR/spawn.err" &
WPID=$!
for i in $(seq 300); do
	grep -q listening "$DIR/spawn.out" 2>/dev/null && break
	sleep 0.1
done
grep -q listening "$DIR/spawn.out" ||
	bail_out "spawn_stdio did not start: $(cat "$DIR/spawn.err")"

for d in incoming active deferred hold corrupt maildrop bounce defer \
	private public pid; do
	mkdir -p "$DIR/q/$d"
done
chmod -R a+rwx "$DIR/q"
chmod a+rx "$DIR"
cat >"$DIR/main.cf" <<CF
queue_directory = $DIR/q
myhostname = mx.example.com
mydestination = localhost
mynetworks = 192.0.2.0/24
inet_interfaces = 127.0.0.1
resolver_nameservers = 127.0.0.1:9
smtpd_peername_lookup = no
alias_maps =
local_recipient_maps =
virtual_mailbox_domains = example.com
virtual_mailbox_maps = inline:{ u@example.com=x }
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination,
    check_policy_service inet:127.0.0.1:$PPORT
CF

session() {
	printf '%s\n' "$@" |
		$PY "$LIB/smtp_pipe.py" "$SMTPD" -c "$DIR" -S 2>>"$DIR/stderr"
}
out=$(session "EHLO client.test" "MAIL FROM:<someone@fail.test>" \
	"RCPT TO:<u@example.com>" "QUIT")
like "$out" $'> RCPT TO:<u@example.com>\n550 5.7.23 <u@example.com>: Recipient address rejected: Message rejected due to: SPF fail - not authorized. ' \
	"SPF fail: policyd-spf's 550 5.7.23 reaches the client"
out=$(session "EHLO client.test" "MAIL FROM:<someone@pass.test>" \
	"RCPT TO:<u@example.com>" "DATA" "QUIT")
like "$out" $'> RCPT TO:<u@example.com>\n250 2.1.5 Ok' "SPF pass: recipient accepted"
like "$out" '250 2.0.0 Ok: queued as ' "SPF pass: message queued"
qf=$(grep -rl 'someone@pass.test' "$DIR/q" 2>/dev/null | head -1)
like "$(cat "$qf" 2>/dev/null)" 'Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=127\.0\.0\.1; helo=client\.test; envelope-from=someone@pass\.test; receiver=' \
	"SPF pass: policyd-spf's Received-SPF header is in the queued message"
grep -q 'query\[TXT\] fail.test from 127' "$DIR/dnsmasq.log" &&
	grep -q 'query\[TXT\] pass.test from 127' "$DIR/dnsmasq.log"
ok $? "policyd-spf's SPF lookups went to the private dnsmasq"
is "$(md5sum </etc/resolv.conf 2>/dev/null)" "$RESOLV_SUM" \
	"the machine's /etc/resolv.conf is unchanged"
unlike "$(cat "$DIR/stderr")" 'panic:|runtime error|Sanitizer' "smtpd: no panic or sanitizer report"
done_testing
