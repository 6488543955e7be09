#!/bin/bash
# 93-anvil-wait.t - a client whose connect anvil has not answered yet
# waits alone: the other sessions of its smtpd are answered meanwhile.
#
# Issue 13: with a connection limit (here smtpd_client_connection_count_limit
# = 10 on submission, 127.0.0.1 counted: no event limit exceptions) smtpd
# must read anvil's answer to a client's connect before the greeting.
# smtpd/smtpd_anvil.c sends the connect at accept and, when the answer has
# not come by the greeting, holds that one session until it has
# (smtpd_anvil_wait), where it used to poll() anvil's socket on the event
# loop for up to 2 s, holding up every session of the process. The
# submission service gets one smtpd process (maxproc 1), so both clients
# share one loop. Client A is greeted; anvil is stopped (SIGSTOP); client B
# connects and gets no greeting; A's NOOP is answered within 0.5 s; anvil is
# continued (SIGCONT) and B is greeted with a 220. Then anvil is stopped
# for longer than smtpd's 2 s wait: client C is greeted after about 2 s
# (the limit not enforced, "anvil service unavailable" logged once) and
# A's NOOP, sent after C's wait ran out, is still answered within 0.5 s
# (smtpd does not then ask the stopped anvil again, blocking, for each
# session); with anvil continued, a client D is greeted. Ports
# 29720-29729.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

DIR=$(mktemp -d /tmp/postern-93-anvil.XXXXXX)
APID=
trap '[ -n "$APID" ] && kill -CONT "$APID" 2>/dev/null
	instance_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT

SMTP=$(free_port 29720 29724) || bail_out "no free port"
SUB=$(free_port 29725 29729) || bail_out "no free port"
instance_create "$DIR/i" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
instance_conf \
	"smtpd_client_event_limit_exceptions=" \
	"smtpd_client_connection_count_limit=10" \
	|| bail_out "postconf -e"
# submission: one smtpd process, so both clients share its loop
awk -v a="127.0.0.1:$SUB" '$1 == a && $2 == "inet" { $7 = 1 } { print }' \
	"$E/master.cf" >"$E/master.cf.new" && mv "$E/master.cf.new" "$E/master.cf"
like "$(grep "^127\\.0\\.0\\.1:$SUB " "$E/master.cf")" \
	"^127\\.0\\.0\\.1:$SUB inet n - - - 1 smtpd" \
	"submission has one smtpd process (maxproc 1)"
instance_start || bail_out "instance did not start"
wait_for 'sock_listening "$INSTANCE_QUEUE/private/anvil"' 10
ok $? "master started anvil (private/anvil)"
for p in $(instance_children); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = anvil ] && APID=$p
done
ok "$([ -n "$APID" ]; echo $?)" "anvil runs (pid ${APID:-none})"

out=$(timeout 60 /usr/bin/python3 - "$SUB" "$APID" <<'EOF'
import os, select, signal, socket, sys, time
port, anvil = int(sys.argv[1]), int(sys.argv[2])

def line(s, secs):
    """the first reply line within secs, or None"""
    buf = b""
    end = time.time() + secs
    while not buf.endswith(b"\r\n"):
        left = end - time.time()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            return None
        c = s.recv(1)
        if not c:
            return "<eof>"
        buf += c
    return buf.decode().strip()

a = socket.create_connection(("127.0.0.1", port), timeout=10)
print("A %s" % line(a, 5))
os.kill(anvil, signal.SIGSTOP)
try:
    b = socket.create_connection(("127.0.0.1", port), timeout=10)
    print("B stopped %s" % line(b, 0.3))
    t0 = time.time()
    a.sendall(b"NOOP\r\n")
    r = line(a, 3)
    print("A noop %s" % (r or "none")[:3])
    print("A seconds %.2f" % (time.time() - t0))
    print("B still %s" % line(b, 0.1))
finally:
    os.kill(anvil, signal.SIGCONT)
print("B %s" % line(b, 5))
# anvil stopped past smtpd's 2 s wait
os.kill(anvil, signal.SIGSTOP)
try:
    t0 = time.time()
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    r = line(c, 6)
    print("C %s" % r)
    print("C seconds %.2f" % (time.time() - t0))
    t1 = time.time()
    a.sendall(b"NOOP\r\n")
    r = line(a, 5)
    print("A2 noop %s" % (r or "none")[:3])
    print("A2 seconds %.2f" % (time.time() - t1))
finally:
    os.kill(anvil, signal.SIGCONT)
time.sleep(2.5)		# past the time smtpd leaves anvil alone
d = socket.create_connection(("127.0.0.1", port), timeout=10)
print("D %s" % line(d, 5))
for s in (a, b, c, d):
    s.sendall(b"QUIT\r\n")
    print("quit %s" % (line(s, 5) or "none")[:3])
    s.close()
EOF
)
# seconds KEY LO HI DESC - the "KEY seconds N" line of $out: LO <= N < HI
seconds() {
	local secs
	secs=$(sed -n "s/^$1 seconds //p" <<<"$out")
	awk -v s="${secs:-99}" -v lo="$2" -v hi="$3" \
		'BEGIN { exit !(s + 0 >= lo && s + 0 < hi) }'
	ok $? "$4 (${secs:-?} s)"
}

like "$(grep '^A ' <<<"$out" | head -1)" '^A 220 ' "A is greeted" "$out"
is "$(grep '^B stopped' <<<"$out")" "B stopped None" \
	"anvil stopped: B gets no greeting"
is "$(grep '^A noop' <<<"$out")" "A noop 250" \
	"anvil stopped: A's NOOP is answered"
seconds A 0 0.5 "anvil stopped: within 0.5 s, not after anvil's timeout"
is "$(grep '^B still' <<<"$out")" "B still None" \
	"anvil stopped: B still waits"
like "$(grep '^B [0-9<]' <<<"$out")" '^B 220 ' \
	"anvil continued: B is greeted"
like "$(grep '^C [0-9<]' <<<"$out")" '^C 220 ' \
	"anvil stopped past the wait: C is greeted all the same"
seconds C 1.5 3.5 "... after smtpd's 2 s wait"
is "$(grep '^A2 noop' <<<"$out")" "A2 noop 250" \
	"anvil still stopped: A's next NOOP is answered"
seconds A2 0 0.5 "... within 0.5 s: no blocking query of the stopped anvil"
like "$(grep '^D [0-9<]' <<<"$out")" '^D 220 ' \
	"anvil continued: D is greeted"
is "$(grep -c '^quit 221' <<<"$out")" 4 "every session ends with 221"
is "$(instance_log_count 'anvil service unavailable: client limits not enforced \(timeout waiting for a connect answer\)')" 1 \
	"the timeout is logged once"
instance_allow 'anvil service unavailable: client limits not enforced'

instance_stop
[ -n "${KEEP:-}" ] || rm -rf "$DIR"
done_testing
