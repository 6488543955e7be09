#!/bin/bash
# NAME
#	run.sh - make bench: postern against real Postfix, same machine,
#	same run
# SYNOPSIS
#	bash tests/bench/run.sh		(as root; make bench runs it)
# DESCRIPTION
#	Starts one private MariaDB, postern and Postfix side by side, each
#	on its own loopback port with smtpd directly on the port
#	(tests/bench/lib.sh says what both are configured with), and
#	measures one MTA at a time (the other sits idle), so they do not
#	share the cores. Acceptance runs in BENCH_ROUNDS rounds (default 3)
#	that alternate between the two; the figure is the median:
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
#	configuration for it). A warm-up of 200 messages precedes the
#	rounds. Each figure is printed as one line, then a table.
#
#	Environment: POSTERN_BIN (default build/release/bin), SMTP_LOAD
#	(default build/release/tools/smtp-load), BENCH_N (messages per
#	round, default 6000), BENCH_ROUNDS, BENCH_PT_IDLE (default
#	"1000 10000"), BENCH_PF_IDLE (default 1000), BENCH_SKIP_POSTFIX=1,
#	BENCH_PT_CONF (extra postern settings, see lib.sh), BENCH_KEEP=1
#	keeps the directory.
# DIAGNOSTICS
#	Exit 1 when a setup step fails; a figure that could not be
#	measured is printed as "failed" with the reason.
set -u
POSTERN_TOP=$(cd "$(dirname "$0")/../.." && pwd)
POSTERN_BIN=${POSTERN_BIN:-$POSTERN_TOP/build/release/bin}
export POSTERN_TOP POSTERN_BIN
LOAD=${SMTP_LOAD:-$POSTERN_TOP/build/release/tools/smtp-load}
N=${BENCH_N:-6000}
ROUNDS=${BENCH_ROUNDS:-3}
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

# warm_up - NAME PORT MAILDIR: processes, database connections, Maildir
warm_up() {
	local name=$1 port=$2 md=$3 base
	base=$(bench_count "$md")
	"$LOAD" send -p "$port" -c "$SESSIONS" -n 200 -s "$SIZE" \
		-r "$BENCH_RCPT" >/dev/null
	wait_for "[ \$(bench_count $md) -ge $((base + 200)) ]" 60 ||
		echo "bench: $name: the warm-up was not delivered in 60 s"
	sleep 2
}

# accept_and_deliver - NAME PORT MAILDIR COUNT ROUND: acceptance and end
# to end, figures in R[NAME.accept.ROUND], R[NAME.e2e.ROUND], ...
accept_and_deliver() {
	local name=$1 port=$2 md=$3 n=$4 r=$5 base t0 t1 out acc want got q0
	base=$(bench_count "$md")
	q0=$(selects)
	echo "bench: $name round $r: load average before:" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
	t0=$(now)
	out=$("$LOAD" send -p "$port" -c "$SESSIONS" -n "$n" -s "$SIZE" \
		-r "$BENCH_RCPT")
	echo "bench: $name round $r: smtp-load: $out"
	acc=$(sed -n 's/^accepted \([0-9]*\) .*/\1/p' <<<"$out")
	R[$name.accept.$r]=$(sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p' <<<"$out")
	R[$name.failed.$r]=$(sed -n 's/.*(\([0-9]*\) failed).*/\1/p' <<<"$out")
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
		R[$name.e2e.$r]=$(echo "$acc / ($t1 - $t0)" | bc)
		echo "bench: $name round $r: delivered end to end:" \
			"${R[$name.e2e.$r]} msg/s ($acc in" \
			"$(printf %.1f "$(echo "$t1 - $t0" | bc)") s)"
	else
		R[$name.e2e.$r]=0
		echo "bench: $name round $r: delivered end to end: FAILED" \
			"($((got - base)) of $acc in the Maildir after 600 s)"
	fi
}

# median - of the arguments (numbers)
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : \
			int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# summarize - NAME KEY LABEL: the median over the rounds, one line
summarize() {
	local name=$1 key=$2 label=$3 r vals=()
	for r in $(seq "$ROUNDS"); do
		vals+=("${R[$name.$key.$r]:-0}")
	done
	R[$name.$key]=$(median "${vals[@]}")
	echo "$name $label: ${R[$name.$key]} msg/s (median of $ROUNDS" \
		"rounds: ${vals[*]})"
}

# idle_pss - NAME PORT ROOTPID COUNT: PSS holding COUNT idle sessions
idle_pss() {
	local name=$1 port=$2 root=$3 n=$4 out=$BENCH_DIR/idle.$1.$4
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

# no_session - NAME ROOTPID: PSS of the instance at rest
no_session() {
	local pss
	pss=$(bench_pss "$2")
	R[$1.idle0]=$(( (pss + 512) / 1024 ))
	echo "$1 no session: ${R[$1.idle0]} MB PSS ($(bench_nproc "$2")" \
		"processes)"
}

bench_mariadb || { echo "bench: MariaDB did not start" >&2; exit 1; }
NAMES=(postern)
bench_postern_start "$PT_PORT" ||
	{ echo "bench: postern did not start" >&2; exit 1; }
PT_ROOT=$INSTANCE_PID
if [ -z "${BENCH_SKIP_POSTFIX:-}" ]; then
	bench_postfix_start "$PF_PORT" ||
		{ echo "bench: Postfix did not start" >&2; exit 1; }
	NAMES+=(postfix)
fi
declare -A PORT=([postern]=$PT_PORT [postfix]=$PF_PORT)
declare -A MD=([postern]=$PT_MAIL [postfix]=$PF_MAIL)
declare -A ROOT=([postern]=$PT_ROOT [postfix]=$PF_MASTER)
declare -A IDLE=([postern]=$PT_IDLE [postfix]=$PF_IDLE)

for m in "${NAMES[@]}"; do
	no_session "$m" "${ROOT[$m]}"
	warm_up "$m" "${PORT[$m]}" "${MD[$m]}"
done
# the rounds alternate: a burst of other activity on the machine hits
# both MTAs alike, and the median leaves one bad round out
for r in $(seq "$ROUNDS"); do
	for m in "${NAMES[@]}"; do
		accept_and_deliver "$m" "${PORT[$m]}" "${MD[$m]}" "$N" "$r"
		sleep 3
	done
done
echo "bench: MariaDB: $(mariadb_client -N -B -e "SHOW GLOBAL STATUS
	LIKE 'Max_used_connections'" | tr '\t' ' ') (both MTAs together)"
for m in "${NAMES[@]}"; do
	summarize "$m" accept "accept"
	summarize "$m" e2e "delivered end to end"
done
for m in "${NAMES[@]}"; do
	for i in ${IDLE[$m]}; do
		idle_pss "$m" "${PORT[$m]}" "${ROOT[$m]}" "$i"
	done
done
bench_postern_stop
bench_postfix_stop

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
