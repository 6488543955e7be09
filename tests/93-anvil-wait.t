#!/bin/bash
# 93-anvil-wait.t - a stopped anvil holds up no client, and the
# connection limit still holds.
#
# Issue 13: smtpd used to ask anvil for each client's count before the
# greeting, so a busy or stopped anvil held clients up (and after a 2 s
# wait the limit was not enforced). smtpd now counts in the table master
# shares with it and anvil (lib/anvil_shm.c). With
# smtpd_client_connection_count_limit = 2 (127.0.0.1 counted: no event
# limit exceptions) and anvil stopped (SIGSTOP): clients A and B are
# greeted at once, C gets the 421 for the limit at once, and A's NOOP is
# answered; with anvil continued, once A has quit, D is greeted. Nothing
# is logged about anvil being unavailable. Ports 29720-29729.
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
	"smtpd_client_connection_count_limit=2" \
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

HOST=$("$POSTERN_BIN/postconf" -c "$E" -h myhostname)
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

os.kill(anvil, signal.SIGSTOP)
try:
    t0 = time.time()
    a = socket.create_connection(("127.0.0.1", port), timeout=10)
    print("A %s" % line(a, 3))
    b = socket.create_connection(("127.0.0.1", port), timeout=10)
    print("B %s" % line(b, 3))
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    print("C %s" % line(c, 3))
    print("ABC seconds %.2f" % (time.time() - t0))
    t0 = time.time()
    a.sendall(b"NOOP\r\n")
    print("A noop %s" % (line(a, 3) or "none")[:3])
    print("A seconds %.2f" % (time.time() - t0))
finally:
    os.kill(anvil, signal.SIGCONT)
c.close()
a.sendall(b"QUIT\r\n")
print("quit %s" % (line(a, 5) or "none")[:3])
a.close()
time.sleep(0.3)
d = socket.create_connection(("127.0.0.1", port), timeout=10)
print("D %s" % line(d, 5))
for s in (b, d):
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

like "$(grep '^A ' <<<"$out" | head -1)" '^A 220 ' \
	"anvil stopped: A is greeted" "$out"
like "$(grep '^B ' <<<"$out")" '^B 220 ' "anvil stopped: B is greeted"
is "$(grep '^C ' <<<"$out")" \
	"C 421 4.7.0 $HOST Error: too many connections from 127.0.0.1" \
	"anvil stopped: C, the third at once, gets the limit's 421"
seconds ABC 0 1 "anvil stopped: all three answered at once"
is "$(grep '^A noop' <<<"$out")" "A noop 250" \
	"anvil stopped: A's NOOP is answered"
seconds A 0 0.5 "... within 0.5 s"
like "$(grep '^D ' <<<"$out")" '^D 220 ' \
	"anvil continued, A gone: D is greeted"
is "$(grep -c '^quit 221' <<<"$out")" 3 "every session ends with 221"
instance_log_grep 'Connection concurrency limit exceeded: 3 from [^ ]*\[127\.0\.0\.1\]' >/dev/null
ok $? "the limit's warning is logged"
is "$(instance_log_count 'anvil (service|table) unavailable')" 0 \
	"nothing says anvil was unavailable"

instance_stop
[ -n "${KEEP:-}" ] || rm -rf "$DIR"
done_testing
