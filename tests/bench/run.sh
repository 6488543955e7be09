#!/bin/bash
# NAME
#	run.sh - make bench: postern against real Postfix, same machine,
#	same run
# SYNOPSIS
#	bash tests/bench/run.sh		(as root; make bench runs it)
# DESCRIPTION
#	Starts one private MariaDB, then measures postern and then Postfix
#	(one at a time, so they do not share the cores), each on its own
#	loopback port with smtpd directly on the port (tests/bench/lib.sh
#	says what both are configured with):
#	  accept       smtp-load send: 20 parallel sessions, one connection
#	               per 1 KB message, the recipient looked up in MySQL;
#	               a message counts on the 250 after DATA, which both
#	               MTAs send only once the queue file is fsync'd
#	  end to end   from the first message sent to the last one in the
#	               Maildir's new/ (same run as accept); also the
#	               MySQL SELECTs per message (MariaDB's Com_select)
#	  idle PSS     smtp-load idle holds N connections past their 220;
#	               the sum of Pss (/proc/PID/smaps_rollup) over master
#	               and all its descendants (Postfix: one smtpd each)
#	Postern holds 1,000 and 10,000 idle sessions; Postfix 1,000 (a
#	process per session: 10,000 processes are not a reasonable
#	configuration for it). A warm-up of 200 messages precedes each
#	measurement. Each figure is printed as one line, then a table.
#
#	Environment: POSTERN_BIN (default build/release/bin), SMTP_LOAD
#	(default build/release/tools/smtp-load), BENCH_PT_N / BENCH_PF_N
#	(messages for postern / Postfix), BENCH_PT_IDLE (default
#	"1000 10000"), BENCH_PF_IDLE (default 1000), BENCH_SKIP_POSTFIX=1,
#	BENCH_KEEP=1 keeps the directory.
# DIAGNOSTICS
#	Exit 1 when a setup step fails; a figure that could not be
#	measured is printed as "failed" with the reason.
set -u
POSTERN_TOP=$(cd "$(dirname "$0")/../.." && pwd)
POSTERN_BIN=${POSTERN_BIN:-$POSTERN_TOP/build/release/bin}
export POSTERN_TOP POSTERN_BIN
LOAD=${SMTP_LOAD:-$POSTERN_TOP/build/release/tools/smtp-load}
PT_N=${BENCH_PT_N:-8000}
PF_N=${BENCH_PF_N:-6000}
PT_IDLE=${BENCH_PT_IDLE:-1000 10000}
PF_IDLE=${BENCH_PF_IDLE:-1000}
SESSIONS=20
SIZE=1024
PT_PORT=26025
PF_PORT=26125

. "$POSTERN_TOP/tests/bench/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench: run as root (Postfix)" >&2; exit 1; }
[ -x "$LOAD" ] || { echo "bench: no $LOAD" >&2; exit 1; }
[ -x "$POSTERN_BIN/master" ] || { echo "bench: no $POSTERN_BIN" >&2; exit 1; }
# 10,000 sessions: the load generator and the server need the fds
ulimit -n "$(ulimit -Hn)"

BENCH_DIR=$(mktemp -d /tmp/postern-bench.XXXXXX)
chmod 755 "$BENCH_DIR"
IDLE_PID=
trap '[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	bench_cleanup
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$BENCH_DIR"' EXIT
echo "bench: directory $BENCH_DIR, $(nproc) cores, $(uname -r)"

declare -A R

now() { date +%s.%N; }

# selects - MariaDB's count of SELECT statements so far
selects() {
	mariadb_client -N -B -e "SHOW GLOBAL STATUS LIKE 'Com_select'" |
		awk '{ print $2 }'
}

# accept_and_deliver - NAME PORT MAILDIR COUNT: acceptance and end to end
accept_and_deliver() {
	local name=$1 port=$2 md=$3 n=$4 base t0 t1 out acc want got q0
	# warm-up: processes, database connections, Maildir creation
	"$LOAD" send -p "$port" -c "$SESSIONS" -n 200 -s "$SIZE" \
		-r "$BENCH_RCPT" >/dev/null
	wait_for "[ \$(bench_count $md) -ge 200 ]" 60
	sleep 2
	base=$(bench_count "$md")
	q0=$(selects)
	echo "bench: $name: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	t0=$(now)
	out=$("$LOAD" send -p "$port" -c "$SESSIONS" -n "$n" -s "$SIZE" \
		-r "$BENCH_RCPT")
	echo "bench: $name: smtp-load: $out"
	acc=$(sed -n 's/^accepted \([0-9]*\) .*/\1/p' <<<"$out")
	R[$name.accept]=$(sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p' <<<"$out")
	R[$name.failed]=$(sed -n 's/.*(\([0-9]*\) failed).*/\1/p' <<<"$out")
	echo "$name accept: ${R[$name.accept]} msg/s ($out)"
	want=$((base + ${acc:-0}))
	while :; do
		got=$(bench_count "$md")
		[ "$got" -ge "$want" ] && break
		if (( $(echo "$(now) - $t0 > 600" | bc) )); then
			break
		fi
		sleep 0.2
	done
	t1=$(now)
	R[$name.qpm]=$(echo "scale=1; ($(selects) - $q0) / ${acc:-1}" | bc)
	if [ "$got" -ge "$want" ]; then
		R[$name.e2e]=$(echo "$acc / ($t1 - $t0)" | bc)
		echo "$name delivered end to end: ${R[$name.e2e]} msg/s" \
			"($acc in $(printf %.1f "$(echo "$t1 - $t0" | bc)") s)"
	else
		R[$name.e2e]=failed
		echo "$name delivered end to end: failed" \
			"($((got - base)) of $acc in the Maildir after 600 s)"
	fi
}

# idle_pss - NAME PORT ROOTPID COUNT: PSS holding COUNT idle sessions
idle_pss() {
	local name=$1 port=$2 root=$3 n=$4 out=$BENCH_DIR/idle.$name.$4
	local pss procs
	"$LOAD" idle -p "$port" -n "$n" -t 900 >"$out" 2>&1 &
	IDLE_PID=$!
	if ! wait_for "grep -q '^idle' $out || ! kill -0 $IDLE_PID" 300 ||
	    ! grep -q "^idle $n established" "$out"; then
		R[$name.idle$n]=failed
		echo "$name $n idle sessions: failed ($(tr '\n' ' ' <"$out"))"
	else
		sleep 3
		pss=$(bench_pss "$root")
		procs=$(bench_nproc "$root")
		R[$name.idle$n]=$(( (pss + 512) / 1024 ))
		echo "$name $n idle sessions: ${R[$name.idle$n]} MB PSS" \
			"($procs processes)"
	fi
	kill "$IDLE_PID" 2>/dev/null
	wait "$IDLE_PID" 2>/dev/null
	IDLE_PID=
	# let the server see the sessions go
	sleep 5
}

# measure - NAME PORT MAILDIR COUNT ROOTPID IDLE...
measure() {
	local name=$1 port=$2 md=$3 n=$4 root=$5 i pss
	shift 5
	pss=$(bench_pss "$root")
	R[$name.idle0]=$(( (pss + 512) / 1024 ))
	echo "$name no session: ${R[$name.idle0]} MB PSS" \
		"($(bench_nproc "$root") processes)"
	accept_and_deliver "$name" "$port" "$md" "$n"
	sleep 5
	for i in "$@"; do
		idle_pss "$name" "$port" "$root" "$i"
	done
}

bench_mariadb || { echo "bench: MariaDB did not start" >&2; exit 1; }

bench_postern_start "$PT_PORT" ||
	{ echo "bench: postern did not start" >&2; exit 1; }
# shellcheck disable=SC2086
measure postern "$PT_PORT" "$PT_MAIL" "$PT_N" "$INSTANCE_PID" $PT_IDLE
bench_postern_stop

if [ -z "${BENCH_SKIP_POSTFIX:-}" ]; then
	bench_postfix_start "$PF_PORT" ||
		{ echo "bench: Postfix did not start" >&2; exit 1; }
	# shellcheck disable=SC2086
	measure postfix "$PF_PORT" "$PF_MAIL" "$PF_N" "$PF_MASTER" $PF_IDLE
	bench_postfix_stop
fi

echo
printf '%-34s %12s %12s\n' "" postern "postfix $(postconf -dh mail_version)"
row() {
	printf '%-34s %12s %12s\n' "$1" "${R[postern.$2]:--}" \
		"${R[postfix.$2]:--}"
}
row "accepted (msg/s, 20 sessions)" accept
row "delivered end to end (msg/s)" e2e
row "MySQL SELECTs per message" qpm
row "PSS, no session (MB)" idle0
row "PSS, 1,000 idle sessions (MB)" idle1000
row "PSS, 10,000 idle sessions (MB)" idle10000
exit 0
