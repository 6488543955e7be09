#!/bin/bash
# NAME
#	profile.sh - where postern's time goes during acceptance (perf)
# SYNOPSIS
#	bash tests/bench/profile.sh [postfix]	(as root, after make bench
#						built the programs)
# DESCRIPTION
#	The bench's setup (tests/bench/lib.sh: private MariaDB, postern
#	from the seed with postscreen in front of smtpd; the load comes
#	from 127.0.0.1, in mynetworks, which postscreen's access list
#	permits: each connection is handed to smtpd at once, the greet wait
#	and the deep tests skipped), a warm-up (BENCH_PROF_WARM messages
#	delivered, default 300; as many as the bench's rounds, 6000, leave
#	postern's file pool as full as the bench's later rounds find it),
#	then smtp-load
#	sends BENCH_PROF_N messages (default 6000; 20 sessions, of
#	BENCH_PROF_SIZE bytes, default 1024) while
#	"perf record -a -g" samples the whole machine until the last one
#	is delivered. It prints:
#	  1. CPU milliseconds per message for each command (smtpd, qmgr,
#	     virtual, mariadbd, smtp-load, ...; samples are attributed by
#	     command name, and the script says whether another process of
#	     those names, e.g. another user's test, ran meanwhile), and the
#	     MySQL SELECTs per message (Com_select);
#	  2. for smtpd, qmgr and virtual: the share per object (kernel,
#	     libc, the program, libraries), the system calls (time spent in
#	     them and below), and the top symbols (self time).
#	With BENCH_PROF_HOLD=1 the messages go to BENCH_HOLD, which the
#	bench's configuration puts on hold: perf samples acceptance alone,
#	with no queue manager or delivery work (the bench's "accepted, no
#	delivery" figure), and stops when the last message is accepted.
#	With the argument "postfix", the same run against the private
#	Postfix instance, section 1 only (CPU per message per command:
#	smtpd, cleanup, trivial-rewrite, qmgr, virtual, ...), for the
#	comparison.
#	Environment as run.sh (POSTERN_BIN, SMTP_LOAD, BENCH_PT_CONF);
#	BENCH_KEEP=1 keeps the directory with perf.data.
# DIAGNOSTICS
#	Exit 1 when perf or the setup fails.
set -u
POSTERN_TOP=$(cd "$(dirname "$0")/../.." && pwd)
POSTERN_BIN=${POSTERN_BIN:-$POSTERN_TOP/build/release/bin}
export POSTERN_TOP POSTERN_BIN
LOAD=${SMTP_LOAD:-$POSTERN_TOP/build/release/tools/smtp-load}
N=${BENCH_PROF_N:-6000}
WARM=${BENCH_PROF_WARM:-300}
SIZE=${BENCH_PROF_SIZE:-1024}	# bytes per profiled message
MTA=${1:-postern}
PORT=26225
FREQ=999

. "$POSTERN_TOP/tests/bench/lib.sh"
# instance_stop's log check reports through diag, not as a TAP check
TAP_DONE=1
diag() { printf 'profile: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "profile: run as root" >&2; exit 1; }
command -v perf >/dev/null || { echo "profile: no perf" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
BENCH_DIR=$(mktemp -d /tmp/postern-profile.XXXXXX)
chmod 755 "$BENCH_DIR"
PERF_PID=
POLL_PID=
trap '[ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null
	[ -n "$POLL_PID" ] && kill "$POLL_PID" 2>/dev/null
	bench_cleanup
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$BENCH_DIR"' EXIT

bench_mariadb || { echo "profile: MariaDB did not start" >&2; exit 1; }
if [ "$MTA" = postfix ]; then
	bench_postfix_start "$PORT" || { echo "profile: Postfix" >&2; exit 1; }
	ROOT=$PF_MASTER MAIL=$PF_MAIL
	NAMES='postscreen|smtpd|cleanup|qmgr|trivial-rewrite|virtual|master|mariadbd|smtp-load|anvil|tlsmgr|postlogd|proxymap'
else
	bench_postern_start "$PORT" || { echo "profile: postern" >&2; exit 1; }
	ROOT=$INSTANCE_PID MAIL=$PT_MAIL
	NAMES='postscreen|smtpd|qmgr|virtual|master|mariadbd|smtp-load'
fi
"$LOAD" send -p "$PORT" -c 20 -n "$WARM" -s 1024 -r "$BENCH_RCPT" >/dev/null
wait_for "[ \$(bench_count $MAIL) -ge $WARM ]" 120
sleep 2

# MySQL statements the run costs, as the server counts them
selects() {
	mariadb_client -N -B -e "SHOW GLOBAL STATUS LIKE 'Com_select'" |
		awk '{ print $2 }'
}
D=$BENCH_DIR/perf.data
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
q0=$(selects)
perf record -a -g -F "$FREQ" -o "$D" >"$BENCH_DIR/perf.out" 2>&1 &
PERF_PID=$!
# Samples are attributed by command name (perf report --comms): note
# any process of the same names that is not ours (another user's test)
# while perf runs, so the report can say whether the figures are clean
( while :; do
	seen=$(pgrep -x "$NAMES")
	ours=" $(bench_descendants "$ROOT" | tr '\n' ' ') $MARIADB_PID "
	for p in $seen; do
		case $ours in *" $p "*) continue ;; esac
		c=$(ps -o comm= -p "$p") && [ -n "$c" ] && echo "$p $c"
	done
	sleep 0.2
done >"$BENCH_DIR/foreign" ) &
POLL_PID=$!
sleep 1
t0=$(date +%s.%N)
RCPT=$BENCH_RCPT
[ -n "${BENCH_PROF_HOLD:-}" ] && RCPT=$BENCH_HOLD
"$LOAD" send -p "$PORT" -c 20 -n "$N" -s "$SIZE" -r "$RCPT" \
	>"$BENCH_DIR/load.out" &
LOAD_PID=$!
echo "$LOAD_PID" >"$BENCH_DIR/load.pid"
wait "$LOAD_PID"
out=$(cat "$BENCH_DIR/load.out")
t1=$(date +%s.%N)
[ -n "${BENCH_PROF_HOLD:-}" ] ||
	wait_for "[ \$(bench_count $MAIL) -ge $((WARM + N)) ]" 120
kill -INT "$PERF_PID"
wait "$PERF_PID"
kill "$POLL_PID"; wait "$POLL_PID" 2>/dev/null
FOREIGN=$(sort -u "$BENCH_DIR/foreign" | awk '{ print $2 }' | sort | uniq -c |
	awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
QPM=$(awk -v a="$(selects)" -v b="$q0" -v n="$N" 'BEGIN { printf "%.1f", (a - b) / n }')
PERF_PID=
echo "profile: smtp-load: $out (perf -a -g at $FREQ Hz, $(nproc) cores)"

# per_command - samples per command: "comm samples"
per_command() {
	perf report -i "$D" --no-children --sort comm --stdio -F sample,comm -g none \
		2>/dev/null | awk '/^ +[0-9]/ { print $2, $1 }'
}

echo
echo "== 1. $MTA: CPU per accepted message, by command (the MTA, MariaDB, the load generator;"
echo "     ms = samples / $FREQ Hz / $N messages; load average at start: $LOADAVG)"
per_command | awk -v hz="$FREQ" -v n="$N" -v names="$NAMES" '
	$1 ~ "^(" names ")$" {
		ms[$1] += 1000 * $2 / hz / n; tot += $2; next
	}
	$1 == "swapper" { idle += $2; next }
	{ other += $2 }
	END {
		for (k in ms) printf "    %-12s %6.3f ms\n", k, ms[k] | "sort -k2 -rn"
		close("sort -k2 -rn")
		printf "    %-12s %6.3f ms\n", "sum", 1000 * tot / hz / n
		printf "    (idle: %.3f ms per message; everything else on the" \
		    " machine: %.3f ms: kernel threads, other users)\n",
		    1000 * idle / hz / n, 1000 * other / hz / n
	}'
echo "    MySQL queries per message: $QPM"
if [ -n "$FOREIGN" ]; then
	echo "    CAUTION: other processes with these names ran meanwhile" \
		"(counted in): $FOREIGN"
else
	echo "    (no other process with these names ran meanwhile)"
fi

[ "$MTA" = postfix ] && exit 0
for c in smtpd qmgr virtual; do
	echo
	echo "== $c: by object (share of $c's samples)"
	perf report -i "$D" --no-children --comms "$c" --sort dso,symbol \
		--stdio -g none --percentage relative 2>/dev/null |
		awk '/^ +[0-9]/ { sub(/%/, "", $1); by[$2] += $1 }
		END { for (d in by) if (by[d] >= 0.5)
			printf "    %6.2f%%  %s\n", by[d], d | "sort -rn" }' |
		head -8
	echo "== $c: system calls (with what they call, share of $c's samples)"
	perf report -i "$D" --children --comms "$c" \
		--sort symbol --stdio -g none --percentage relative 2>/dev/null |
		awk '$4 ~ /^__(x64|se)_sys_/ && $1 + 0 >= 1 {
			printf "    %7s  %s\n", $1, substr($4, 11) }' | head -8
	echo "== $c: top symbols (self, share of $c's samples)"
	perf report -i "$D" --no-children --comms "$c" --sort dso,symbol \
		--stdio -g none --percentage relative 2>/dev/null |
		grep -E '^ +[0-9]' | head -${TOPN:-15} |
		sed -E 's/ +- +- *$//'
done
