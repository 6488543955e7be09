#!/bin/bash
# 53-smtp-tarpit.t - tarpit destinations do not stall mail to others.
#
# Issue 9 item 8 (CLARIFICATIONS: one tarpit takes
# initial_destination_concurrency = 5 of the smtp agent's threads; four
# took all 20 and mail to every other destination stopped). Six tarpit
# destinations ([127.0.0.21]..[127.0.0.26], a server that accepts and
# never says a word) each get 6 messages, then 5 messages go to a normal
# destination (aiosmtpd): they must all arrive within 20 s while the
# tarpits still hold their connections (smtp_helo_timeout 300 s). The
# smtp agent now has a thread for every request qmgr may have in flight
# for the transport (smtp_worker_threads = $default_process_limit, the
# transport's limit), so a slow destination only costs its own window.
# Ports 26480-26499.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

DIR=$(mktemp -d /tmp/postern-53-tarpit.XXXXXX)
OUT=$DIR/out
mkdir -p "$OUT"
TARPIT_PID= SINK_PID=
trap 'instance_cleanup; for p in $TARPIT_PID $SINK_PID; do kill $p 2>/dev/null; done; rm -rf "$DIR"' EXIT

SMTP=$(free_port 26480 26484) || bail_out "no free port"
# submission on a port of ours, not the seed's 587 (another test may hold it)
SUB=$(free_port 26485 26489) || bail_out "no free port"
TP=$(free_port 26490 26494) || bail_out "no free port"
NORMAL=$(free_port 26495 26499) || bail_out "no free port"
instance_create "$DIR/i" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF

# The tarpit: accepts on 127.0.0.21-26:TP, reads, never answers.
/usr/bin/python3 - "$TP" >"$DIR/tarpit.out" 2>&1 <<'EOF' &
import selectors, socket, sys
port = int(sys.argv[1])
sel = selectors.DefaultSelector()
for i in range(21, 27):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.%d" % i, port))
    s.listen(100)
    sel.register(s, selectors.EVENT_READ, "listen")
print("READY", flush=True)
held = []
while True:
    for key, _ in sel.select():
        if key.data == "listen":
            c, _ = key.fileobj.accept()
            held.append(c)
            sel.register(c, selectors.EVENT_READ, "conn")
        else:
            try:
                if not key.fileobj.recv(4096):
                    sel.unregister(key.fileobj)
            except OSError:
                sel.unregister(key.fileobj)
EOF
TARPIT_PID=$!
/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_sink.py" "$NORMAL" "$OUT" \
	>"$DIR/sink.out" 2>&1 &
SINK_PID=$!
wait_for "grep -q READY '$DIR/tarpit.out' && port_listening $NORMAL" 15 ||
	bail_out "test servers did not start"

{
	for i in 1 2 3 4 5 6; do
		echo "tarpit$i.test smtp:[127.0.0.2$i]:$TP"
	done
	echo "normal.test smtp:[127.0.0.1]:$NORMAL"
} >"$E/transport"
instance_conf \
	"transport_maps=texthash:$E/transport" \
	"smtp_tls_security_level=none" \
	"smtp_sasl_auth_enable=no" "smtp_generic_maps=" \
	"alias_maps=" "sender_canonical_maps=" "canonical_maps=" \
	"virtual_alias_maps=" "virtual_mailbox_maps=" \
	"virtual_mailbox_domains=example.com" \
	"queue_run_delay=1s" || bail_out "postconf -e"
instance_start || bail_out "instance did not start"

send() {
	printf 'Subject: %s\n\n%s\n' "$2" "$2" |
		"$POSTERN_BIN/sendmail" -C "$E" -i -f sender@example.com "$1"
}
for d in 1 2 3 4 5 6; do
	for m in 1 2 3 4 5 6; do
		send "u$m@tarpit$d.test" "tarpit $d/$m" || fail "sendmail (tarpit)"
	done
done
# Let the tarpits take their windows first.
wait_for "[ \$(ss -tn state established '( dport = :$TP )' | tail -n +2 | wc -l) -ge 30 ]" 30
ok $? "the tarpit destinations hold at least 30 connections ($(ss -tn state established "( dport = :$TP )" | tail -n +2 | wc -l))"

t0=$(date +%s)
for m in 1 2 3 4 5; do
	send "u$m@normal.test" "normal $m" || fail "sendmail (normal)"
done
wait_for "[ \$(ls '$OUT' | grep -c '\\.eml\$') -ge 5 ]" 20
ok $? "all 5 messages to the normal destination arrived while the tarpits hold ($(( $(date +%s) - t0 )) s)"
is "$(cat "$OUT"/*.eml 2>/dev/null | tr -d '\r' | grep -c '^Subject: normal ')" 5 \
	"... each once"
wait_for "[ \$(instance_log_count 'to=<u[1-5]@normal\\.test>.*status=sent') -ge 5 ]" 10
ok $? "the log says sent for each"

# The tarpits go away (their connections close) before the instance stops.
kill "$TARPIT_PID" 2>/dev/null
wait "$TARPIT_PID" 2>/dev/null
TARPIT_PID=
instance_stop
done_testing
