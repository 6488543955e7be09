#!/bin/bash
# 50-master.t - master with the seed's master.cf, then with the echod test
# daemon: restart after kill -9, throttled crash loop, reload keeping an
# established session, the pid lock, postern stop/status, the pass service.
# Ports 25000-25199 (10 slots of 20, by PID).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/need.sh"

BASE=$((25000 + ($$ % 10) * 20))
DIR=$(mktemp -d /tmp/postern-50-master.XXXXXX)
trap 'instance_cleanup; exec 7>&- 8>&- 2>/dev/null; rm -rf "$DIR"' EXIT

# greet PORT - the first line a server sends (empty on failure)
greet() {
	timeout 10 /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
print(s.makefile("rb").readline().decode(errors="replace").strip())
EOF
}

# kids_of PROGRAM - master's children running PROGRAM
kids_of() {
	local pid
	for pid in $(instance_children); do
		ps -o args= -p "$pid" 2>/dev/null | grep -q "^$1 " && echo "$pid"
	done
}

# ---- 1. the seed's master.cf, unchanged apart from ports ----
instance_create "$DIR/seed" $BASE $((BASE + 1)) || bail_out "instance_create"
instance_start
ok $? "master starts with the seed's master.cf"
sleep 1
kill -0 "$INSTANCE_PID" 2>/dev/null
ok $? "master stays up"
# Folded programs are accepted quietly, as Postfix's master runs them
# (with -v they are logged; postern check lists them in one line).
is "$(instance_log_count 'service pickup')" 0 \
	"a folded program (pickup): no log line, no warning"
like "$("$POSTERN_BIN/postern" -c "$INSTANCE_CONF" check 2>&1)" \
	'commands built into postern, nothing to run: [^'$'\n'']*pickup' \
	"... postern check lists it as built in"
like "$(instance_log_grep 'warning: service maildrop: unknown command pipe')" \
	'will not run' "an unknown command (pipe) is a warning"
if need_prog 2 "$POSTERN_BIN/postscreen" "220 on the seed's ports" &&
    need_prog 2 "$POSTERN_BIN/smtpd" "220 on the seed's ports"; then
	like "$(greet $BASE)" '^220 ' "port-25 role (postscreen -> smtpd) answers 220" ||
		diag "$(instance_log_grep 'postscreen|smtpd' | tail -5)"
	like "$(greet $((BASE + 1)))" '^220 ' "submission (smtpd) answers 220"
fi
if need_prog 5 "$POSTERN_BIN/smtpd" "an smtpd session survives postern reload"; then
	# an SMTP session on submission survives "postern reload"
	wait_for '[ -n "$(kids_of qmgr)" ]' 10
	oldqmgr=$(kids_of qmgr)
	like "$oldqmgr" '^[0-9]+$' "the seed's qmgr runs (one process)"
	exec 8<>/dev/tcp/127.0.0.1/$((BASE + 1))
	read -r -t 10 banner <&8
	printf 'EHLO client.example.org\r\n' >&8
	while read -r -t 10 l <&8 && [[ $l == 250-* ]]; do :; done
	"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" reload >/dev/null 2>&1
	wait_for "instance_log_grep 'reload -- version'" 5
	sleep 1
	printf 'NOOP\r\n' >&8
	read -r -t 10 l <&8
	like "$l" '^250' "an smtpd session survives postern reload (NOOP answered)"
	like "$(greet $((BASE + 1)))" '^220 ' "new submission connections are served after reload"
	printf 'QUIT\r\n' >&8
	exec 8>&-
	wait_for '[ "$(kids_of qmgr | wc -l)" = 1 ] && [ "$(kids_of qmgr)" != "$oldqmgr" ]' 15
	ok $? "reload replaced qmgr; one qmgr afterwards"
	is "$(instance_log_count 'process [^ ]*/qmgr pid [0-9]+ (killed|exit status)')" 0 \
		"... cleanly"
fi
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" flush >/dev/null 2>&1
ok $? "postern flush reaches public/qmgr"
like "$(cat "$INSTANCE_QUEUE/pid/master.pid" 2>/dev/null)" "^ *$INSTANCE_PID\$" \
	"pid file holds master's pid"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" status >/dev/null 2>&1
ok $? "postern status: running (exit 0)"
out=$("$POSTERN_BIN/master" -c "$INSTANCE_CONF" -d 2>&1)
rc=$?
isnt "$rc" 0 "a second master refuses to start"
like "$out" 'the postern mail system is already running' "... saying why"
seedkids=$(instance_children)
isnt "$seedkids" "" "master has children"
instance_stop
ok $? "postern stop: master and every child gone"
left=""
for p in $seedkids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
is "$left" "" "no child PID left"
[ ! -e "$INSTANCE_QUEUE/pid/master.pid" ]
ok $? "pid file removed"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" status >/dev/null 2>&1
is "$?" 1 "postern status: not running (exit 1)"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" flush >/dev/null 2>&1
is "$?" 1 "postern flush without qmgr: exit 1"

# ---- 2. echod services: restart, throttle, reload, pass ----
P1=$((BASE + 2)) P2=$((BASE + 3))
instance_create "$DIR/echo" "" "" || bail_out "instance_create"
instance_master_cf "127.0.0.1:$P1 inet n - n - 2 echod
127.0.0.1:$P2 inet n - n - 1 echod -o echod_crash_at_start=yes
echopass pass - - n - 1 echod
pickup unix n - - 60 1 pickup"
INSTANCE_PORTS=($P1)
# this section kills an echod (-9) and runs one that exits 1 at start
instance_allow "bin/echod pid [0-9]+ (killed by signal 9|exit status 1)\$" \
	"bin/echod: bad command startup -- throttling"
instance_start
ok $? "master starts with echod services"
wait_for '[ "$(kids_of echod | wc -l)" -ge 3 ]' 10
like "$(greet $P1)" '^220 echod 127.0.0.1:'"$P1"' [0-9]+ 127.0.0.1 0$' \
	"inet service answers through fd 3"
wait_for '[ "$(kids_of echod | wc -l)" -ge 3 ]' 10
ps_p1() {
	local pid
	for pid in $(kids_of echod); do
		ps -o args= -p "$pid" | grep -q -- "-s 127.0.0.1:$P1 " && echo $pid
	done
}
before=$(ps_p1 | sort)
is "$(echo "$before" | wc -l)" 2 "maxproc 2 on 2+ cores: two processes" 
victim=$(echo "$before" | head -1)
kill -9 "$victim"
wait_for "instance_log_grep 'pid $victim killed by signal 9'" 10
ok $? "kill -9 of a child is logged"
wait_for '[ "$(ps_p1 | wc -l)" = 2 ] && ! ps_p1 | grep -qx '"$victim" 10
ok $? "master replaced the killed child"

# the crash loop (exit 1 at start) is throttled: 1s, 2s, 4s, ...
sleep 4
n=$(instance_log_count "exit status 1")
like "$(instance_log_grep 'bad command startup -- throttling')" \
	'throttling for [0-9]+ seconds' "a crash loop is throttled"
[ "$n" -ge 2 ] && [ "$n" -le 6 ]
ok $? "crash loop restarts are spaced out ($n starts in ~5s)"

# pass service: hand a client socket over private/echopass, at once
# (the server takes it right after its accept) and 0.3 s after the
# connect (from its event loop)
pass_one() {
	timeout 10 /usr/bin/python3 - "$INSTANCE_QUEUE/private/echopass" "$1" <<'EOF'
import socket, sys, time
lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen(1)
client = socket.create_connection(lst.getsockname(), timeout=8)
server, _ = lst.accept()
u = socket.socket(socket.AF_UNIX); u.connect(sys.argv[1])
time.sleep(float(sys.argv[2]))
attrs = (b"version=1\nclient_addr=192.0.2.7\nclient_port=4242\n"
         b"server_addr=192.0.2.40\nserver_port=25\n\n")
socket.send_fds(u, [attrs], [server.fileno()])
server.close(); u.close()
print(client.makefile("rb").readline().decode().strip())
EOF
}
like "$(pass_one 0)" '^220 echod echopass [0-9]+ 192.0.2.7 1$' \
	"pass service: client socket and addresses arrive (passed=1)"
like "$(pass_one 0.3)" '^220 echod echopass [0-9]+ 192.0.2.7 1$' \
	"pass service: ... also when they come 0.3 s after the connect"

# reload: an established session survives, new connections go to new
# processes
exec 7<>/dev/tcp/127.0.0.1/$P1
read -r -t 5 line <&7
oldpid=$(echo "$line" | awk '{print $4}')
like "$line" '^220 echod' "session opened before reload"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" reload >/dev/null 2>&1
ok $? "postern reload"
wait_for "instance_log_grep 'reload -- version'" 5
wait_for '! ps_p1 | grep -qx '"$oldpid"' || [ "$(ps_p1 | wc -l)" -ge 3 ]' 10
new=$(greet $P1)
newpid=$(echo "$new" | awk '{print $4}')
like "$new" '^220 echod' "a new connection after reload is served"
isnt "$newpid" "$oldpid" "... by a new process"
printf 'still alive\r\n' >&7
read -r -t 5 echo_back <&7
is "${echo_back%$'\r'}" "still alive" "the established session survived the reload"
printf 'QUIT\r\n' >&7
exec 7>&-
wait_for "! kill -0 $oldpid" 10
ok $? "the old process exits once its session ended"

instance_stop
ok $? "postern stop: master and every echod gone"

# ---- 2b. reload with a changed master.cf; wakeup timers ----
P4=$((BASE + 5))
instance_master_cf "127.0.0.1:$P1 inet n - n - 2 echod
127.0.0.1:$P4 inet n - n - 1 echod
waker unix - - n 1 1 echod"
INSTANCE_PORTS=($P1)
instance_start
ok $? "master starts again"
before=$(instance_log_count 'echod.*connect from \[\]')
wait_for '[ "$(instance_log_count "echod.*connect from \\[\\]")" -ge $((before + 2)) ]' 10
ok $? "wakeup 1: master triggers the unix service every second"
instance_master_cf "127.0.0.1:$P2 inet n - n - 1 echod
127.0.0.1:$P4 inet n - n - 1 echod"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" reload >/dev/null 2>&1
wait_for "! port_listening $P1" 10
ok $? "reload: a removed service's listener is closed"
wait_for "port_listening $P2" 10
like "$(greet $P2)" '^220 echod 127.0.0.1:'"$P2" "reload: a new service is started"
like "$(greet $P4)" '^220 echod 127.0.0.1:'"$P4" "reload: an unchanged service still answers"
[ ! -e "$INSTANCE_QUEUE/private/waker" ]
ok $? "reload: a removed unix service's socket is gone"
instance_stop
ok $? "stopped"

# ---- 2c. the seed's inet_interfaces: unusable addresses are warnings ----
instance_conf "inet_interfaces=127.0.0.1, [::1], 192.0.2.40, 2001:db8::40"
instance_master_cf "$P1 inet n - n - 1 echod"
instance_start
ok $? "master starts with the seed's inet_interfaces"
like "$(instance_log_grep 'warning: service '"$P1"': bind 192.0.2.40 port')" \
	'Cannot assign requested address' "192.0.2.40 (not on this host) is a warning"
like "$(greet $P1)" '^220 echod' "127.0.0.1 answers"
if need_ipv6 1 "[::1] answers too"; then
	out=$(timeout 10 /usr/bin/python3 -c "
import socket
s = socket.create_connection(('::1', $P1), timeout=8)
print(s.makefile('rb').readline().decode().strip())")
	like "$out" '^220 echod .* ::1 0$' "[::1] answers too (-L 2: two listeners)"
fi
instance_stop
ok $? "stopped"
instance_conf "inet_interfaces=127.0.0.1"

# ---- 2d. reload with a changed inet_interfaces: kept addresses stay bound
instance_master_cf "$P1 inet n - n - 1 echod"
instance_start
ok $? "master starts on 127.0.0.1 only"
if need_ipv6 3 "reload adds an [::1] listener"; then
	instance_conf "inet_interfaces=127.0.0.1, [::1]"
	"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" reload >/dev/null 2>&1
	wait_for "ss -Hltn 'sport = :$P1' | grep -q '\[::1\]'" 10
	ok $? "reload adds the [::1] listener"
	like "$(greet $P1)" '^220 echod' "127.0.0.1 still answers"
	is "$(instance_log_count 'Address already in use')" 0 \
		"the kept address was not bound again"
fi
instance_stop
ok $? "stopped"
instance_conf "inet_interfaces=127.0.0.1"

# ---- 2e. kill -9 of master: the children notice and exit ----
instance_master_cf "$P1 inet n - n - 2 echod
waker unix - - n - 1 echod"
instance_start
ok $? "master starts"
wait_for '[ "$(kids_of echod | wc -l)" -ge 3 ]' 10
orphans=$(kids_of echod)
kill -9 "$INSTANCE_PID"
wait "$INSTANCE_PID" 2>/dev/null
INSTANCE_PID=
left=""
wait_for 'left=""; for p in $orphans; do pid_alive $p && left="$left $p"; done; [ -z "$left" ]' 15
is "$left" "" "after kill -9 of master its children exit by themselves"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" status >/dev/null 2>&1
is "$?" 1 "the stale pid file does not count as running"
instance_start
ok $? "master starts again on the same ports"
instance_stop
ok $? "stopped"

# ---- 3. max_use, and postern start (background) / status / stop ----
P3=$((BASE + 4))
instance_master_cf "127.0.0.1:$P3 inet n - n - 1 echod -o max_use=2"
INSTANCE_PORTS=($P3)
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" start >/dev/null 2>&1
ok $? "postern start: master in the background, exit 0 when ready"
bgpid=$(tr -d ' ' < "$INSTANCE_QUEUE/pid/master.pid" 2>/dev/null)
INSTANCE_PID=$bgpid	# so that the EXIT trap stops it if we die here
like "$bgpid" '^[0-9]+$' "... pid file written"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" status >/dev/null 2>&1
ok $? "... postern status says running"
wait_for "port_listening $P3" 10
a=$(greet $P3 | awk '{print $4}')
b=$(greet $P3 | awk '{print $4}')
c=$(greet $P3 | awk '{print $4}')
is "$b" "$a" "max_use=2: the first two connections share a process"
isnt "$c" "$a" "... the third goes to a fresh process"
like "$c" '^[0-9]+$' "... which answers"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" start >/dev/null 2>&1
isnt "$?" 0 "postern start twice: refused"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" stop >/dev/null 2>&1
ok $? "postern stop"
INSTANCE_PID=
pid_alive "$bgpid"
isnt "$?" 0 "... the background master is gone"
wait_for "! pid_alive $c" 5
ok $? "... and its child"
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" stop >/dev/null 2>&1
is "$?" 1 "postern stop when not running: exit 1"
done_testing
