#!/bin/bash
# 47-sessions-2000.t - 2,000 concurrent SMTP sessions on the seed's
# port-25 role (master.cf unchanged: postscreen hands each client to the
# "smtpd pass" service). The client's address is in mynetworks, so
# postscreen lets it through at once (WHITELISTED) and every session
# ends up in smtpd. Checks: all 2,000 get smtpd's 220 and an EHLO reply
# (with PIPELINING, which postscreen's dummy engine never offers) within
# a bound; the kernel shows them held by at most one smtpd process per
# core and none by postscreen; smtpd neither died nor was restarted; with
# the 2,000 still open, a message is accepted and lands in a Maildir;
# then every session gets 221 to QUIT. The README's 10,000 figure is
# from make bench (too slow here). Ports 26500-26539.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

N=2000
SRC=127.0.0.47
BOUND=60		# seconds for all N sessions to get through EHLO
PY=/usr/bin/python3
PORT=$(free_port 26500 26519) || bail_out "no free port in 26500-26519"
SUB=$(free_port 26520 26539) || bail_out "no free port in 26520-26539"
DIR=$(mktemp -d /tmp/postern-47-sessions.XXXXXX)
HOLDER=
stop_holder() {
	[ -n "$HOLDER" ] || return 0
	exec 9>&- 2>/dev/null
	wait_for "! kill -0 $HOLDER" 30 || kill -9 "$HOLDER" 2>/dev/null
	wait "$HOLDER" 2>/dev/null
	HOLDER=
}
trap 'stop_holder; instance_cleanup; rm -rf "$DIR"' EXIT

# 2,000 sessions need 2,000 descriptors in the client and, at worst, in
# one smtpd process (master's children inherit this shell's limit).
want=$((2 * N + 200))
if [ "$(ulimit -Sn)" -lt "$want" ]; then
	ulimit -Sn "$want" 2>/dev/null || ulimit -n "$want" 2>/dev/null
fi
[ "$(ulimit -n)" -ge "$want" ]
ok $? "open files limit is at least $want ($(ulimit -n); raised by the test if needed)" ||
	bail_out "cannot raise ulimit -n to $want (hard limit $(ulimit -Hn)): run as root"

instance_create "$DIR/i" "$PORT" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
chown "$VUID:$VGID" "$INSTANCE_MAIL"
printf 'john@example.org example.org/john/\n' > "$E/vmailbox"
chmod 644 "$E/vmailbox"
instance_conf "mynetworks=$SRC/32" "postscreen_access_list=permit_mynetworks" \
	"smtpd_peername_lookup=no" \
	"alias_maps=" "alias_database=" "sender_canonical_maps=" "canonical_maps=" \
	"virtual_mailbox_domains=example.org" \
	"virtual_mailbox_maps=texthash:$E/vmailbox" "virtual_alias_maps=" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID"
ok $? "instance: the seed's configuration, client $SRC in mynetworks"
instance_start
ok $? "master starts with the seed's master.cf" || bail_out "no instance"

# smtpd_pids - master's smtpd children
smtpd_pids() {
	local pid
	for pid in $(instance_children); do
		ps -o args= -p "$pid" 2>/dev/null | grep -q '^smtpd ' && echo "$pid"
	done
}
wait_for '[ -n "$(smtpd_pids)" ]' 10
before=$(smtpd_pids | sort | tr '\n' ' ')
ncpu=$(getconf _NPROCESSORS_ONLN)	# what master counts (sysconf)

mkfifo "$DIR/ctl"
$PY "$POSTERN_TOP/tests/lib/smtp_sessions.py" "$SRC" 127.0.0.1 "$PORT" "$N" \
	"$BOUND" < "$DIR/ctl" > "$DIR/sessions.out" 2>&1 &
HOLDER=$!
exec 9> "$DIR/ctl"
wait_for "grep -q '^open' '$DIR/sessions.out' || ! kill -0 $HOLDER" $((BOUND + 30))
r=$(grep '^open' "$DIR/sessions.out")
[ -n "$r" ] || diag "$(cat "$DIR/sessions.out")"
read -r _ nopen _ ngreet _ nehlo _ npipe _ secs why <<< "$r"
is "${ngreet:-0}" "$N" "$N concurrent connections: every one gets a 220 greeting" ||
	diag "first failure: $why"
is "${nehlo:-0}" "$N" "... and a complete EHLO reply (250)"
is "${npipe:-0}" "$N" "... from smtpd (PIPELINING), not postscreen"
awk -v s="${secs:-999}" -v b="$BOUND" 'BEGIN { exit !(s < b) }'
ok $? "... all within $BOUND s (${secs:-?} s)"

# who holds the established sessions on the port: smtpd, never postscreen
held=$(ss -Htnp state established "( sport = :$PORT )" 2>/dev/null)
nsmtpd=$(grep -c '"smtpd"' <<< "$held")
is "$nsmtpd" "$N" "the kernel shows $N sessions held by smtpd" ||
	diag "$(grep -v '"smtpd"' <<< "$held" | head -3)"
is "$(grep -c '"postscreen"' <<< "$held")" 0 "... none left in postscreen"
holders=$(grep -o '"smtpd",pid=[0-9]*' <<< "$held" | sort -u | wc -l)
[ "$holders" -ge 1 ] && [ "$holders" -le "$ncpu" ]
ok $? "... by $holders smtpd process(es) (at most one per core: $ncpu)"
note "sessions per smtpd process: $(grep -o '"smtpd",pid=[0-9]*' <<< "$held" |
	sort | uniq -c | awk '{printf "%s ", $1}')"

# with the 2,000 open: smtpd is the same, and a message goes through
is "$(smtpd_pids | sort | tr '\n' ' ')" "$before" \
	"smtpd was neither restarted nor multiplied (pids $before)"
out=$(timeout 60 $PY - "$SRC" "$PORT" <<'EOF' 2>&1
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[2]), "client.example.org",
                 timeout=50, source_address=(sys.argv[1], 0))
s.ehlo("client.example.org")
code, msg = s.docmd("MAIL FROM:<alice@example.net>")
code2, msg2 = s.docmd("RCPT TO:<john@example.org>")
code3, msg3 = s.data(b"From: alice@example.net\r\nTo: john@example.org\r\n"
                     b"Subject: beside 2000 sessions\r\n\r\nstill works\r\n")
print(code, code2, code3, msg3.decode())
s.quit()
EOF
)
like "$out" '^250 250 250 2\.0\.0 Ok: queued as ' \
	"with $N sessions open a new client's message is accepted"
wait_for "grep -rl 'Subject: beside 2000 sessions' '$INSTANCE_MAIL/example.org/john/new/'" 60
ok $? "... and delivered into john's Maildir" ||
	diag "$(instance_log_grep 'qmgr|virtual|smtpd.*(queued|reject)|warning' | tail -8)"
f=$(grep -rl 'Subject: beside 2000 sessions' "$INSTANCE_MAIL/example.org/john/new/" 2>/dev/null | head -1)
like "$(cat "$f" 2>/dev/null)" $'\n\nstill works$' "... with its body"

echo quit >&9
wait_for "grep -q '^quit' '$DIR/sessions.out' || ! kill -0 $HOLDER" $((BOUND + 30))
r=$(grep '^quit' "$DIR/sessions.out")
read -r _ nquit _ nclosed _ qsecs qwhy <<< "$r"
is "${nquit:-0}" "$N" "QUIT on all $N sessions: $N times 221 (${qsecs:-?} s)" ||
	diag "first failure: $qwhy"
is "${nclosed:-0}" "$N" "... and smtpd closed each one"
stop_holder
is "$(smtpd_pids | sort | tr '\n' ' ')" "$before" "smtpd still runs, same processes"
is "$(instance_log_count 'process [^ ]*/smtpd pid [0-9]+ (killed|exit status)')" 0 \
	"master logged no smtpd failure"
is "$(instance_log_count 'cannot pass connection|too many|busy')" 0 \
	"no session was refused (no 'cannot pass', 'too many' or 'busy' in the log)" ||
	diag "$(instance_log_grep 'cannot pass connection|too many|busy' | sort -k6 | uniq -c -f5 | head -5)"
# on any failure: what the daemons complained about, counted
[ "$TAP_FAILED" = 0 ] ||
	diag "$(instance_log_grep 'warning|fatal|panic|reject' |
		sed -E 's/^.{16}//; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -15)"
instance_stop
ok $? "stopped: master and every child gone"
done_testing
