#!/bin/bash
# 51-master-services.t - what the README claims of master beyond 50:
# max_idle (an idle child exits after max_idle seconds and master puts a
# fresh one in its place; a child holding a session is not idle), fifo
# services (master.cf type "fifo": the socket in public/, master's
# wakeup timer and a client's trigger reach the daemon), max_use (from
# main.cf as well as -o; 0 = no limit; qmgr, long-lived, never retired),
# and a Postfix 2.x master.cf with qmgr and pickup as fifo services
# delivering a sendmail message; a stop right after a start is prompt.
# With the echod test daemon and the real qmgr and virtual. Ports
# 26400-26439.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

DIR=$(mktemp -d /tmp/postern-51-master.XXXXXX)
trap 'instance_cleanup; exec 7>&- 2>/dev/null; rm -rf "$DIR"' EXIT
# Ports are picked right before the section that binds them: another
# copy of this test may pick a port this one left unbound in between.

# greet PORT - the pid field of echod's greeting (empty on failure)
greet() {
	timeout 10 /usr/bin/python3 - "$1" <<'EOF' | awk '{print $4}'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
print(s.makefile("rb").readline().decode(errors="replace").strip())
EOF
}

# kids_on PORT - master's echod children serving 127.0.0.1:PORT
kids_on() {
	local pid
	for pid in $(instance_children); do
		ps -o args= -p "$pid" 2>/dev/null |
			grep -q -- "^echod .*-s 127.0.0.1:$1 " && echo "$pid"
	done
}

# now - seconds since the epoch, with fractions
now() {
	date +%s.%N
}

# between X LO HI - LO <= X <= HI (decimals)
between() {
	awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'
}

instance_create "$DIR/i" "" "" || bail_out "instance_create"

# ---- 1. max_idle ----
P1=$(free_port 26400 26419) || bail_out "no free port in 26400-26419"
instance_master_cf "127.0.0.1:$P1 inet n - n - 1 echod -o max_idle=2
tick fifo n - n 1 1 echod"
INSTANCE_PORTS=($P1)
instance_start
ok $? "master starts (echod with max_idle=2; a fifo service)"
wait_for '[ -n "$(kids_on $P1)" ]' 10
a=$(greet $P1)
t0=$(now)
like "$a" '^[0-9]+$' "max_idle: the inet service answers"
wait_for "! pid_alive $a" 10
ok $? "... its process exits when idle"
idle=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
# time() has whole seconds: the exit comes 1 to 3 s after the session;
# the upper bound leaves room for a loaded machine and ASan's exit.
between "$idle" 1 8
ok $? "... about max_idle (2 s) after its last session (${idle} s)"
wait_for '[ -n "$(kids_on $P1)" ]' 10
b=$(greet $P1)
like "$b" '^[0-9]+$' "... and a fresh process answers the next connection"
isnt "$b" "$a" "... (a new pid)"
is "$(instance_log_count "pid $a (killed|exit status)")" 0 \
	"... the idle process exited cleanly (master logged no failure)"

# a process with an open session is not idle, however quiet the session
wait_for '[ -n "$(kids_on $P1)" ] && ! pid_alive '"$b" 10
exec 7<>/dev/tcp/127.0.0.1/$P1
read -r -t 10 line <&7
c=$(echo "$line" | awk '{print $4}')
like "$c" '^[0-9]+$' "a session is opened"
sleep 4
pid_alive "$c"
ok $? "... its process is still there after twice max_idle"
printf 'still here\r\n' >&7
read -r -t 5 echo_back <&7
is "${echo_back%$'\r'}" "still here" "... and the session still works"
printf 'QUIT\r\n' >&7
exec 7>&-
t0=$(now)
wait_for "! pid_alive $c" 10
ok $? "... once the session ended, the process goes idle and exits"
idle=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
between "$idle" 1 8
ok $? "... about max_idle later (${idle} s)"

# ---- 2. fifo service ----
# master serves a fifo service as a unix stream socket in public/
# (private field n): a trigger is a connection that writes "W".
[ -S "$INSTANCE_QUEUE/public/tick" ]
ok $? "fifo service: master made public/tick (a unix stream socket)"
tick=$(for pid in $(instance_children); do
	ps -o args= -p "$pid" | grep -q -- "^echod .*-s tick " && echo "$pid"
done)
like "$tick" '^[0-9]+$' "... and runs one echod for it (maxproc 1)"
before=$(instance_log_count "echod\[$tick\]: connect from \[\]")
sleep 3.5
after=$(instance_log_count "echod\[$tick\]: connect from \[\]")
[ $((after - before)) -ge 2 ] && [ $((after - before)) -le 5 ]
ok $? "wakeup 1: master triggers the fifo service about every second ($((after - before)) in 3.5 s)"
out=$(timeout 10 /usr/bin/python3 - "$INSTANCE_QUEUE/public/tick" <<'EOF'
import socket, sys
u = socket.socket(socket.AF_UNIX)
u.settimeout(8)
u.connect(sys.argv[1])
f = u.makefile("rb")
greeting = f.readline().decode().strip()
u.sendall(b"W\r\n")
print(greeting + " | " + f.readline().decode().strip())
EOF
)
like "$out" "^220 echod tick $tick - 0 \| W$" \
	"a client's trigger (\"W\") on public/tick reaches the daemon"
instance_stop
ok $? "stopped"

# ---- 3. max_use from main.cf, -o max_use=0, qmgr exempt ----
P2=$(free_port 26420 26429) || bail_out "no free port in 26420-26429"
P3=$(free_port 26430 26439) || bail_out "no free port in 26430-26439"
instance_conf "max_use=2"
instance_master_cf "127.0.0.1:$P2 inet n - n - 1 echod
127.0.0.1:$P3 inet n - n - 1 echod -o max_use=0
qmgr unix n - n 300 1 qmgr"
INSTANCE_PORTS=($P2 $P3)
instance_start
ok $? "master starts with max_use = 2 in main.cf"
a=$(greet $P2) b=$(greet $P2)
wait_for '[ -n "$(kids_on $P2)" ]' 10
c=$(greet $P2)
like "$a" '^[0-9]+$' "max_use=2 (main.cf): the service answers"
is "$b" "$a" "... the second connection goes to the same process"
isnt "$c" "$a" "... the third to a fresh one"
wait_for "! pid_alive $a" 10
ok $? "... the used-up process exits"
pids=""
for i in 1 2 3 4 5; do pids="$pids $(greet $P3)"; done
like "$pids" '^( [0-9]+){5}$' "-o max_use=0: five connections answered"
is "$(echo $pids | tr ' ' '\n' | sort -u | wc -l)" 1 \
	"... all by one process (0 = no limit)"
wait_for 'sock_listening "$INSTANCE_QUEUE/public/qmgr"' 10
q=$(for pid in $(instance_children); do
	ps -o args= -p "$pid" | grep -q '^qmgr ' && echo "$pid"
done)
like "$q" '^[0-9]+$' "qmgr runs"
for i in 1 2 3 4; do
	"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" flush >/dev/null 2>&1 ||
		fail "postern flush $i"
done
sleep 1
pid_alive "$q"
ok $? "qmgr (long-lived) is not retired by max_use after 4 wakeups"
is "$(instance_log_count "pid $q (killed|exit status)")" 0 "... and did not die"
instance_stop
ok $? "stopped"

# ---- 4. a Postfix 2.x master.cf: qmgr and pickup as fifo services ----
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
chown "$VUID:$VGID" "$INSTANCE_MAIL"
printf 'old@example.org example.org/old/\n' > "$INSTANCE_CONF/vmailbox"
chmod 644 "$INSTANCE_CONF/vmailbox"
instance_conf "max_use=0" "alias_maps=" "alias_database=" \
	"sender_canonical_maps=" "canonical_maps=" \
	"virtual_mailbox_domains=example.org" \
	"virtual_mailbox_maps=texthash:$INSTANCE_CONF/vmailbox" \
	"virtual_alias_maps=" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID"
instance_master_cf "pickup    fifo  n       -       -       60      1       pickup
qmgr      fifo  n       -       n       300     1       qmgr
virtual   unix  -       n       n       -       -       virtual"
INSTANCE_PORTS=()
instance_start
ok $? "master starts with qmgr and pickup as fifo services (Postfix 2.x style)"
wait_for 'sock_listening "$INSTANCE_QUEUE/public/qmgr"' 10
ok $? "... qmgr's fifo service is public/qmgr"
out=$("$POSTERN_BIN/postqueue" -c "$INSTANCE_CONF" -f 2>&1)
ok $? "postqueue -f reaches qmgr through it (exit 0; 69 when nothing listens)" ||
	diag "$out"
out=$(printf 'Subject: via fifo qmgr\n\nold style\n' |
	"$POSTERN_BIN/sendmail" -C "$INSTANCE_CONF" -f a@example.net old@example.org 2>&1)
ok $? "sendmail queues a message" || diag "$out"
wait_for "grep -rl 'Subject: via fifo qmgr' '$INSTANCE_MAIL/example.org/old/new/'" 30
ok $? "... qmgr (fifo service) picks it up and virtual delivers it"
is "$(instance_log_count 'service pickup: .*(unknown|not found)')" 0 \
	"the fifo pickup service is accepted as folded (no warning)"
instance_stop
ok $? "stopped"

# ---- 5. a stop right after the start: no child escapes the SIGTERM ----
# (a child signalled between fork and exec used to run master's handler:
# the signal was lost, and the stop waited 20 s to SIGKILL it)
# unix services only: no port another test could hold in between
instance_master_cf "w1 unix - - n - 1 echod
w2 unix - - n - 1 echod
w3 unix - - n - 1 echod
w4 unix - - n - 1 echod"
from=$(($(wc -l < "$INSTANCE_LOG") + 1))
slow=0
started=0
for delay in 0 0.02 0.05 0 0.02 0.05; do
	n=$(grep -c 'master.*daemon started' "$INSTANCE_LOG")
	"$POSTERN_BIN/master" -c "$INSTANCE_CONF" -d \
		>> "$INSTANCE_DIR/master.out" 2>&1 &
	m=$!
	# master logs "daemon started" once its children are forked: the
	# SIGTERM lands while they start
	for i in $(seq 500); do
		[ "$(grep -c 'master.*daemon started' "$INSTANCE_LOG")" -gt "$n" ] &&
			break
		sleep 0.01
	done
	if [ "$i" -lt 500 ]; then
		started=$((started + 1))
	else
		diag "master $m: no 'daemon started' in 5 s; alive: $(pid_alive $m && echo yes || echo no); master.out: $(tail -3 "$INSTANCE_DIR/master.out")"
	fi
	sleep $delay
	kill -TERM "$m"
	if ! wait_for "! pid_alive $m" 5; then
		slow=$((slow + 1))
		kill -KILL "$m"
	fi
	wait "$m" 2>/dev/null
done
is "$slow" 0 "six stops right after the start: each master gone within 5 s"
is "$(tail -n +$from "$INSTANCE_LOG" | grep -cE 'killed by signal|SIGKILL')" 0 \
	"... no child killed by a signal, none needed SIGKILL" ||
	diag "$(tail -n +$from "$INSTANCE_LOG" | grep -E 'killed by signal|SIGKILL')"
is "$started" 6 "... (each had started: logged 'daemon started')"
done_testing
