#!/bin/bash
# 52-master-throttle.t - a child killed at start-up does not throttle its
# service; one that exits on its own does.
#
# Issue 9 item 11: master treated every failure within MASTER_QUICK_EXIT
# seconds of a start as "bad command startup" and held the service back
# for 1 s, doubling up to 60 s, also when the child had simply been
# killed (kill -9 from an administrator, the OOM killer, a chaos run):
# killing a daemon every 0.2 s stalled the service for minutes. Now a
# death by a signal somebody sent (KILL, TERM, INT, HUP, QUIT, USR1/2)
# is restarted at once; an exit with a failure status, or a crash signal
# (SEGV, BUS, ABRT, ILL, FPE, SYS: the program failed on its own), still
# throttles.
#
# The echod test daemon (tests/lib, built with the programs): one
# service with maxproc 1 whose child is killed with SIGKILL 10 times,
# 0.2 s apart, each time right after master started it; then a client
# must get the greeting within 2 s and the log must have no "bad command
# startup" for it. A second service runs echod -o echod_crash_at_start=yes
# (exit 1 at start): it is still throttled (the log line). About 5 s.
# Ports 25800-25899.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

DIR=$(mktemp -d /tmp/postern-52.XXXXXX)
trap 'instance_cleanup; rm -rf "$DIR"' EXIT
P1=$(free_port 25800 25849) && P2=$(free_port 25850 25899) ||
	bail_out "no free port"

# kids_of PROGRAM SERVICE - master's children running PROGRAM -s SERVICE
kids_of() {
	local pid
	for pid in $(instance_children); do
		ps -o args= -p "$pid" 2>/dev/null |
			grep -q -- "^$1 .*-s $2 " && echo "$pid"
	done
}

instance_create "$DIR/i" "" "" || bail_out "instance_create"
instance_master_cf "127.0.0.1:$P1 inet n - n - 1 echod
127.0.0.1:$P2 inet n - n - 1 echod -o echod_crash_at_start=yes"
INSTANCE_PORTS=($P1)
instance_allow "bin/echod pid [0-9]+ (killed by signal 9|exit status 1)\$" \
	"bin/echod: bad command startup -- throttling for [0-9]+ seconds \\(service 127\\.0\\.0\\.1:$P2\\)"
instance_start
ok $? "master starts with two echod services" || { done_testing; exit 1; }
wait_for '[ -n "$(kids_of echod 127.0.0.1:'"$P1"')" ]' 10
ok $? "the first service has its process"

kills=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	for pid in $(kids_of echod "127.0.0.1:$P1"); do
		kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
	done
	sleep 0.2
done
ok "$([ "$kills" -ge 8 ]; echo $?)" "killed $kills children, 0.2 s apart"
t0=$(date +%s.%N)
line=$(timeout 3 /usr/bin/python3 - "$P1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2.5)
print(s.makefile("rb").readline().decode(errors="replace").strip())
EOF
)
t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
like "$line" "^220 echod 127.0.0.1:$P1 " \
	"a client is served right after the kills (${t} s)"
ok "$(awk -v t="$t" 'BEGIN { exit !(t < 2) }'; echo $?)" "... within 2 s"
unlike "$(instance_log_grep "bad command startup.*service 127\\.0\\.0\\.1:$P1\\)")" \
	'throttling' "no 'bad command startup' for the killed service"
like "$(instance_log_count "pid [0-9]+ killed by signal 9")" '^([8-9]|[1-9][0-9])$' \
	"each kill is logged as a warning"

wait_for "instance_log_grep 'bad command startup -- throttling for [0-9]+ seconds \\(service 127\\.0\\.0\\.1:$P2\\)'" 10
ok $? "a program that exits 1 at start-up is still throttled"

instance_stop
ok $? "instance stops, no process left"
done_testing
