#!/bin/bash
# NAME
#	run.sh - make bench: postern against real Postfix, same machine,
#	same run, both as a public MX
# SYNOPSIS
#	bash tests/bench/run.sh		(as root; make bench runs it)
# DESCRIPTION
#	Starts one private MariaDB, postern and Postfix side by side, each
#	on its own loopback port with postscreen in front of smtpd and the
#	same policy (tests/bench/lib.sh says what both are configured
#	with), and measures one MTA at a time (the other sits idle), so
#	they do not share the cores. The load generator (smtp-load)
#	connects from 20 addresses 127.1.0.1-20, none in mynetworks or on
#	postscreen's access list: a warm-up passes each through postscreen
#	once (greet wait, then the deep tests' 4xx and a reconnect), so the
#	throughput figures are those of a public MX's cached senders.
#
#	Five workloads, each in BENCH_ROUNDS rounds (default 3) that
#	alternate between the two MTAs; each figure is the median. Each
#	timed run starts with a sync (not timed; the dirty data it wrote
#	is printed), so that no MTA's run writes out what the other left:
#	plaintext 1 KB, the same pipelined (smtp-load -P: MAIL, RCPT and
#	DATA in one write, then the message, the dot and QUIT in one, as
#	Postfix's smtp client sends to a server that offers PIPELINING;
#	the issue's figures are the other, one command at a time),
#	plaintext 100 KB, STARTTLS 1 KB, STARTTLS 100 KB (smtp-load -T: a
#	full TLS handshake on every connection, the certificate both MTAs
#	share). Per workload:
#	  no delivery  the issue's "accepted, no delivery running": the same
#	               load to a second recipient (BENCH_HOLD) that both MTAs
#	               put on hold (check_recipient_access in
#	               smtpd_data_restrictions, a texthash table both look
#	               up for every message): the queue file is written and
#	               synced before the 250 as any other, into hold/; no
#	               queue manager work follows. Then postsuper -H ALL
#	               releases them and the round waits for their delivery
#	               (not timed). The round also prints the CPU other
#	               programs took during the timed run (bench_others():
#	               the three busiest, per message)
#	  accept       smtp-load send: 20 parallel sessions, one connection
#	               per message, the recipient looked up in MySQL; a
#	               message counts on the 250 after DATA, which both
#	               MTAs send only once the queue file is fsync'd
#	               (delivery runs meanwhile, as on a live MX)
#	  end to end   from the first message sent to the last one in the
#	               Maildir's new/ (same run as accept): the time new/
#	               last changed (its mtime: both MTAs' virtual rename
#	               each file into it), once the poll every 0.2 s has
#	               seen them all; the poll's own time would add up to
#	               0.2 s to a round (6 % of postern's 3 s), not the
#	               MTA's; also the MySQL SELECTs per message (MariaDB's
#	               Com_select)
#	  CPU/msg      CPU time of master's whole process tree plus
#	               mariadbd over the same span, divided by the messages
#	               delivered: utime+stime+cutime+cstime from
#	               /proc/PID/stat (exited children count through their
#	               parent once reaped; not perf: tests/bench/profile.sh
#	               does perf); the load generator is not counted
#	The two MTAs' trees are kept in block groups of their own (chattr
#	+T on the bench directory): on ext4 without a journal one MTA's
#	deletions would otherwise slow the other's creates in the next
#	round.
#	Then, the MTAs idle:
#	  machine      fsync-rate in the same file system (BENCH_DIR, /tmp):
#	               create+write+fsync of 1 KB files per second, single
#	               stream, and with one syncfs per batch of 100; postern's
#	               plaintext 1 KB end-to-end figure as a fraction of each.
#	               And the SMTP ceiling of this load shape: smtp-load
#	               send (same sessions, sources and 1 KB message count)
#	               against smtp-load sink, a server that answers and
#	               keeps nothing (no disk, no checks), so the TCP and
#	               client work alone; postern's plaintext 1 KB "no
#	               delivery" figure as a fraction of it
#	  idle         smtp-load idle holds N connections from N/10 new
#	               addresses (never seen by postscreen: each waits the
#	               greet wait, BENCH_GREET_WAIT, default 6 s), at most
#	               BENCH_IDLE_WINDOW (default 500) waiting for their
#	               greeting at once; the
#	               greeting latency p50/p99 (connect to the final 220)
#	               beside the greet wait, dropped and timed-out
#	               connections, and the sum of Pss
#	               (/proc/PID/smaps_rollup) over master and all its
#	               descendants once all are greeted
#	Postern holds 1,000 and 10,000 idle sessions; Postfix 1,000. A
#	warm-up of 200 messages (and 40 over STARTTLS) precedes the
#	rounds. Each figure is printed as one line as measured, then one
#	summary table with the ratio postern/Postfix, and where to record
#	it (tests/bench/RESULTS.md).
#
#	Environment: POSTERN_BIN (default build/release/bin), SMTP_LOAD
#	(default build/release/tools/smtp-load), FSYNC_RATE (default beside
#	SMTP_LOAD), BENCH_N (1 KB messages per round, default 6000),
#	BENCH_N_BIG (100 KB messages per round, default BENCH_N/4),
#	BENCH_ROUNDS, BENCH_WORKLOADS (default "plain1k pipe1k plain100k
#	tls1k tls100k"), BENCH_PT_IDLE (default "1000 10000"), BENCH_PF_IDLE
#	(default 1000), BENCH_GREET_WAIT (seconds, default 6),
#	BENCH_FSYNC_N (files, default 2000), BENCH_SKIP_POSTFIX=1,
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
FSYNC_RATE=${FSYNC_RATE:-$(dirname "$LOAD")/fsync-rate}
N=${BENCH_N:-6000}
N_BIG=${BENCH_N_BIG:-$((N / 4))}
ROUNDS=${BENCH_ROUNDS:-3}
WORKLOADS=${BENCH_WORKLOADS:-plain1k pipe1k plain100k tls1k tls100k}
PT_IDLE=${BENCH_PT_IDLE:-1000 10000}
PF_IDLE=${BENCH_PF_IDLE:-1000}
GREET_WAIT=${BENCH_GREET_WAIT:-6}
FSYNC_N=${BENCH_FSYNC_N:-2000}
IDLE_WINDOW=${BENCH_IDLE_WINDOW:-500}
export BENCH_GREET_WAIT=$GREET_WAIT
SESSIONS=20
# the load generator's source addresses: 127.1.0.1 to 127.1.0.20
SRC=(-S 127.1 -k "$SESSIONS")
PT_PORT=26025
PF_PORT=26125
SINK_PORT=26027
TCK=$(getconf CLK_TCK)

. "$POSTERN_TOP/tests/bench/lib.sh"
# instance_stop's check of postern's logs (panics, sanitizer reports,
# child deaths) reports through TAP's diag once the plan is done
TAP_DONE=1
diag() { printf 'bench: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "bench: run as root (Postfix)" >&2; exit 1; }
[ -x "$LOAD" ] || { echo "bench: no $LOAD" >&2; exit 1; }
[ -x "$FSYNC_RATE" ] || { echo "bench: no $FSYNC_RATE" >&2; exit 1; }
[ -x "$POSTERN_BIN/master" ] || { echo "bench: no $POSTERN_BIN" >&2; exit 1; }
# Postfix listens with SO_REUSEPORT: a leftover instance on a port would
# silently take a share of the connections
for p in "$PT_PORT" "$PF_PORT" "$SINK_PORT"; do
	if port_listening "$p"; then
		echo "bench: something listens on 127.0.0.1:$p already" \
			"(a leftover run? ss -ltnp)" >&2
		exit 1
	fi
done
# 10,000 sessions: the load generator and the server need the fds
ulimit -n "$(ulimit -Hn)"

BENCH_DIR=$(mktemp -d /tmp/postern-bench.XXXXXX)
chmod 755 "$BENCH_DIR"
# Each MTA's tree (postern/, postfix/) in block groups of its own: ext4
# without a journal makes a create scan past every inode freed in the
# last minute in its group, so in shared groups one MTA's deletions slow
# the other's next round (the rounds alternate). chattr +T makes the
# directories made here "top" directories, which the allocator spreads
# (QUEUE.md, "The file system under the queue"). No effect elsewhere.
chattr +T "$BENCH_DIR" 2>/dev/null ||
	echo "bench: chattr +T $BENCH_DIR failed: the MTAs share block groups"
IDLE_PID=
SINK_PID=
trap '[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	bench_cleanup
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$BENCH_DIR"' EXIT
echo "bench: directory $BENCH_DIR, $(nproc) cores, $(uname -r)," \
	"commit $(git -C "$POSTERN_TOP" rev-parse --short HEAD 2>/dev/null)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A R

now() { date +%s.%N; }

# elapsed - T0: seconds since T0 (of now); awk, as all the arithmetic
# on fractions here: bc is not installed on a fresh machine
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { print b - a }'; }

# selects - MariaDB's count of SELECT statements so far
selects() {
	mariadb_client -N -B -e "SHOW GLOBAL STATUS LIKE 'Com_select'" |
		awk '{ print $2 }'
}

# load_args - WORKLOAD: smtp-load's size and TLS options for it
load_args() {
	case $1 in
	plain1k) echo "-s 1024" ;;
	pipe1k) echo "-s 1024 -P" ;;
	plain100k) echo "-s 102400" ;;
	tls1k) echo "-s 1024 -T" ;;
	tls100k) echo "-s 102400 -T" ;;
	*) echo "bench: unknown workload $1" >&2; exit 1 ;;
	esac
}

# load_count - WORKLOAD: messages per round
load_count() {
	case $1 in
	*100k) echo "$N_BIG" ;;
	*) echo "$N" ;;
	esac
}

# wait_delivered - MAILDIR WANT SECONDS: until new/ holds WANT files
wait_delivered() {
	local t0
	t0=$(now)
	while [ "$(bench_count "$1")" -lt "$2" ]; do
		awk -v e="$(elapsed "$t0")" -v m="$3" \
			'BEGIN { exit !(e > m) }' && return 1
		sleep 0.2
	done
	return 0
}

# warm_up - NAME PORT MAILDIR: each source address through postscreen
# once (its first connection fails on purpose: greet wait, deep tests'
# 4xx), then processes, database connections, the Maildir, TLS
warm_up() {
	local name=$1 port=$2 md=$3 base out acc=0 a
	base=$(bench_count "$md")
	for t in "" -T; do
		# shellcheck disable=SC2086
		out=$("$LOAD" send -p "$port" -c "$SESSIONS" \
			-n $([ -z "$t" ] && echo 200 || echo 40) -s 1024 $t \
			-r "$BENCH_RCPT" "${SRC[@]}")
		echo "bench: $name warm-up${t:+ over STARTTLS}: $out"
		a=$(sed -n 's/^accepted \([0-9]*\) .*/\1/p' <<<"$out")
		acc=$((acc + ${a:-0}))
	done
	out=$("$LOAD" send -p "$port" -c "$SESSIONS" -n "$SESSIONS" \
		-s 1024 -r "$BENCH_RCPT" "${SRC[@]}")
	case $out in
	*"(0 failed)"*) ;;
	*) echo "bench: $name: warmed-up sources still fail: $out" ;;
	esac
	a=$(sed -n 's/^accepted \([0-9]*\) .*/\1/p' <<<"$out")
	acc=$((acc + ${a:-0}))
	wait_delivered "$md" $((base + acc)) 60 ||
		echo "bench: $name: the warm-up was not delivered in 60 s"
	sleep 2
}

# release_hold - NAME: every held message back to the queue (postsuper
# -H moves it to deferred/, as Postfix's does) and a flush, so that the
# round does not wait for the next deferred queue run; postern's once
# its journaled files are renamed
release_hold() {
	local i
	case $1 in
	postern)
		# under load smtpd acknowledges from its journal and renames
		# into hold/ at the checkpoint, up to 50 ms later (QUEUE.md,
		# "The journal"): release once no temporary file is left
		for i in $(seq 100); do
			ls -A "$BENCH_DIR/postern/queue/incoming" |
				grep -q '^\.' || break
			sleep 0.1
		done
		"$POSTERN_BIN/postsuper" -c "$BENCH_DIR/postern/etc" -H ALL &&
			"$POSTERN_BIN/postqueue" -c "$BENCH_DIR/postern/etc" -f ;;
	postfix)
		postsuper -c "$PF_DIR/etc" -H ALL &&
			postqueue -c "$PF_DIR/etc" -f ;;
	esac
}

# accept_held - NAME PORT MAILDIR WORKLOAD ROUND: acceptance with no
# delivery running (the issue's first figure) in
# R[NAME.WORKLOAD.held.ROUND]: the messages go to BENCH_HOLD, which both
# MTAs put on hold (queue file written and synced before the 250, as
# any other, into hold/ instead of incoming/); then they are released
# and the round waits for them in BENCH_HOLD's Maildir (not timed)
accept_held() {
	local name=$1 port=$2 md=$3 w=$4 r=$5 base out acc n s0 s1
	n=$(load_count "$w")
	md=${md%/bench}/hold
	base=$(bench_count "$md")
	echo "bench: $name $w round $r: before the held run:" "$(before)"
	s0=$(bench_snap)
	# shellcheck disable=SC2046
	out=$("$LOAD" send -p "$port" -c "$SESSIONS" -n "$n" \
		$(load_args "$w") -r "$BENCH_HOLD" "${SRC[@]}")
	s1=$(bench_snap)
	echo "bench: $name $w round $r: no delivery (hold): smtp-load: $out"
	acc=$(sed -n 's/^accepted \([0-9]*\) .*/\1/p' <<<"$out")
	echo "bench: $name $w round $r: held run, CPU of other programs per" \
		"message: $(bench_others "$s0" "$s1" "${acc:-1}" \
		"$(bench_descendants "${ROOT[$name]}")")"
	R[$name.$w.held.$r]=$(sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p' <<<"$out")
	[ "$(bench_count "$md")" -eq "$base" ] ||
		echo "bench: $name $w round $r: held mail was delivered"
	release_hold "$name" >/dev/null 2>&1
	wait_delivered "$md" $((base + ${acc:-0})) 600 ||
		echo "bench: $name $w round $r: the held mail was not" \
			"delivered in 600 s after its release"
}

# before - before each timed round: the load average and the data the
# file systems have dirty, which a sync then writes out. Postfix's
# delivery rounds left 11-12 MB dirty (its queue files' removals, its
# logs), and postern's journal checkpoint, a syncfs(), wrote it during
# postern's next held round (measured 2026-12-05: 12 MB at the start of
# postern's held rounds 2 and 3, 60-250 kB at the others'; 6,000
# unsynced 3 KB files cost a held run 10-13 %, steps.sh
# BENCH_STEPS_DIRTY): each round starts clean and pays for its own.
before() {
	printf 'load average %s, dirty %s kB (synced before the round)\n' \
		"$(cut -d' ' -f1-3 /proc/loadavg)" \
		"$(awk '$1 == "Dirty:" { print $2 }' /proc/meminfo)"
	sync
}

# accept_and_deliver - NAME PORT MAILDIR WORKLOAD ROUND: acceptance,
# end to end and CPU per message, in R[NAME.WORKLOAD.accept.ROUND] ...
accept_and_deliver() {
	local name=$1 port=$2 md=$3 w=$4 r=$5 base t0 t1 out acc want q0
	local c0 c1 n
	n=$(load_count "$w")
	base=$(bench_count "$md")
	q0=$(selects)
	echo "bench: $name $w round $r: before:" "$(before)"
	c0=$(bench_cpu "${ROOT[$name]}" "$MARIADB_PID")
	t0=$(now)
	# shellcheck disable=SC2046
	out=$("$LOAD" send -p "$port" -c "$SESSIONS" -n "$n" \
		$(load_args "$w") -r "$BENCH_RCPT" "${SRC[@]}")
	echo "bench: $name $w round $r: smtp-load: $out"
	acc=$(sed -n 's/^accepted \([0-9]*\) .*/\1/p' <<<"$out")
	R[$name.$w.accept.$r]=$(sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p' <<<"$out")
	R[$name.$w.failed.$r]=$(sed -n 's/.*(\([0-9]*\) failed).*/\1/p' <<<"$out")
	want=$((base + ${acc:-0}))
	wait_delivered "$md" "$want" 600
	t1=$(now)
	c1=$(bench_cpu "${ROOT[$name]}" "$MARIADB_PID")
	# the last rename into new/, if the poll saw it late
	t1=$(awk -v a="$t0" -v b="$t1" -v m="$(stat -c %.9Y "$md/new")" \
		'BEGIN { print (m > a && m < b) ? m : b }')
	R[$name.$w.qpm]=$(awk -v q="$(selects)" -v q0="$q0" -v n="${acc:-1}" \
		'BEGIN { printf "%.1f", int((q - q0) / n * 10) / 10 }')
	if [ "$(bench_count "$md")" -ge "$want" ] && [ "${acc:-0}" -gt 0 ]
	then
		R[$name.$w.e2e.$r]=$(awk -v n="$acc" -v a="$t0" -v b="$t1" \
			'BEGIN { printf "%d", n / (b - a) }')
		R[$name.$w.cpu.$r]=$(awk -v c0="$c0" -v c1="$c1" -v n="$acc" \
			-v tck="$TCK" 'BEGIN { printf "%.2f", \
			int((c1 - c0) * 1000 / tck / n * 100) / 100 }')
		echo "bench: $name $w round $r: delivered end to end:" \
			"${R[$name.$w.e2e.$r]} msg/s ($acc in" \
			"$(awk -v a="$t0" -v b="$t1" \
				'BEGIN { printf "%.1f", b - a }') s)," \
			"CPU ${R[$name.$w.cpu.$r]} ms/msg (MTA and MariaDB)"
	else
		R[$name.$w.e2e.$r]=0
		R[$name.$w.cpu.$r]=0
		echo "bench: $name $w round $r: delivered end to end: FAILED" \
			"($(( $(bench_count "$md") - base )) of ${acc:-0} in" \
			"the Maildir after 600 s)"
	fi
}

# median - of the arguments (numbers)
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : \
			(v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# summarize - NAME KEY LABEL UNIT: the median over the rounds, one line
summarize() {
	local name=$1 key=$2 label=$3 unit=$4 r vals=()
	for r in $(seq "$ROUNDS"); do
		vals+=("${R[$name.$key.$r]:-0}")
	done
	R[$name.$key]=$(median "${vals[@]}")
	echo "$name $label: ${R[$name.$key]}${unit:+ $unit} (median of $ROUNDS" \
		"rounds: ${vals[*]})"
}

# fsync_limits - the machine's own bound, in BENCH_DIR's file system
fsync_limits() {
	local d=$BENCH_DIR/fsync out
	mkdir -p "$d"
	out=$("$FSYNC_RATE" -n "$FSYNC_N" "$d") || out=
	echo "bench: machine: ${out:-fsync-rate failed}"
	R[machine.fsync]=$(sed -n 's/.*: \([0-9]*\) files\/s.*/\1/p' <<<"$out")
	out=$("$FSYNC_RATE" -n "$FSYNC_N" -b 100 "$d") || out=
	echo "bench: machine: ${out:-fsync-rate -b 100 failed}"
	R[machine.syncfs]=$(sed -n 's/.*: \([0-9]*\) files\/s.*/\1/p' <<<"$out")
	rmdir "$d"
}

# smtp_ceiling - the load shape's own bound on this machine: smtp-load
# send (plaintext 1 KB, the bench's sessions, sources and count) against
# smtp-load sink, which answers every command and keeps nothing; the
# median of ROUNDS runs in R[machine.sink]
smtp_ceiling() {
	local out r vals=() n
	n=$(load_count plain1k)
	"$LOAD" sink -p "$SINK_PORT" >"$BENCH_DIR/sink.out" 2>&1 &
	SINK_PID=$!
	if ! wait_for "port_listening $SINK_PORT" 10; then
		echo "bench: machine: SMTP sink did not start:" \
			"$(tr '\n' ' ' <"$BENCH_DIR/sink.out")"
		kill "$SINK_PID" 2>/dev/null
		wait "$SINK_PID" 2>/dev/null
		SINK_PID=
		return
	fi
	for r in $(seq "$ROUNDS"); do
		out=$("$LOAD" send -p "$SINK_PORT" -c "$SESSIONS" -n "$n" \
			-s 1024 "${SRC[@]}")
		echo "bench: machine: SMTP sink, no disk, round $r:" \
			"smtp-load: $out"
		case $out in
		*"(0 failed)"*)
			vals+=("$(sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p' \
				<<<"$out")") ;;
		*) echo "bench: machine: SMTP sink: sessions failed" ;;
		esac
	done
	kill "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
	SINK_PID=
	echo "bench: machine: $(cat "$BENCH_DIR/sink.out")"
	[ "${#vals[@]}" -gt 0 ] && R[machine.sink]=$(median "${vals[@]}")
}

# idle_pss - NAME PORT ROOTPID COUNT: COUNT idle sessions from new
# addresses: greeting latency, PSS
IDLE_NET=2
idle_pss() {
	local name=$1 port=$2 root=$3 n=$4 out=$BENCH_DIR/idle.$1.$4
	local pss procs g
	"$LOAD" idle -p "$port" -n "$n" -t 900 -w "$IDLE_WINDOW" \
		-S "127.$IDLE_NET" \
		-k $(( n >= 10 ? n / 10 : 1 )) >"$out" 2>&1 &
	IDLE_PID=$!
	IDLE_NET=$((IDLE_NET + 1))
	if ! wait_for "grep -q '^greeting' $out || ! kill -0 $IDLE_PID" 900
	then
		R[$name.idle$n]=failed
		echo "$name $n idle sessions: failed ($(tr '\n' ' ' <"$out"))"
	else
		g=$(grep '^greeting' "$out")
		R[$name.g50.$n]=$(sed -n 's/.*p50 \([0-9.]*\) s.*/\1/p' <<<"$g")
		R[$name.g99.$n]=$(sed -n 's/.*p99 \([0-9.]*\) s.*/\1/p' <<<"$g")
		R[$name.gbad.$n]=$(sed -n 's/.*(\([0-9]*\) dropped, \([0-9]*\) timeouts).*/\1+\2/p' <<<"$g")
		sleep 3
		pss=$(bench_pss "$root")
		procs=$(bench_nproc "$root")
		R[$name.idle$n]=$(( (pss + 512) / 1024 ))
		grep -q "^idle $n established" "$out" ||
			R[$name.idle$n]="${R[$name.idle$n]}*"
		echo "$name $n idle sessions: $(grep '^idle' "$out")," \
			"$g, greet wait $GREET_WAIT s;" \
			"${R[$name.idle$n]} MB PSS ($procs processes)"
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
	for w in $WORKLOADS; do
		for m in "${NAMES[@]}"; do
			accept_held "$m" "${PORT[$m]}" "${MD[$m]}" \
				"$w" "$r"
			sleep 3
			accept_and_deliver "$m" "${PORT[$m]}" "${MD[$m]}" \
				"$w" "$r"
			sleep 3
		done
	done
done
echo "bench: MariaDB: $(mariadb_client -N -B -e "SHOW GLOBAL STATUS
	LIKE 'Max_used_connections'" | tr '\t' ' ') (both MTAs together)"
for m in "${NAMES[@]}"; do
	for w in $WORKLOADS; do
		summarize "$m" "$w.held" "$w accept, no delivery (hold)" msg/s
		summarize "$m" "$w.accept" "$w accept, delivery running" msg/s
		summarize "$m" "$w.e2e" "$w delivered end to end" msg/s
		summarize "$m" "$w.cpu" "$w CPU per delivered message" ms
		summarize "$m" "$w.failed" "$w sessions failed (of $(load_count "$w"))" ""
	done
done
fsync_limits
smtp_ceiling
for m in "${NAMES[@]}"; do
	for i in ${IDLE[$m]}; do
		idle_pss "$m" "${PORT[$m]}" "${ROOT[$m]}" "$i"
	done
done
bench_postern_stop
bench_postfix_stop

# the summary table: postern, Postfix, postern/Postfix
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b
		else print "-" }'
}
row() {
	local a=${R[postern.$2]:--} b=${R[postfix.$2]:--}
	printf '%-44s %10s %14s %8s\n' "$1" "$a" "$b" "$(ratio "$a" "$b")"
}
frac() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b
		else print "-" }'
}
label() {
	case $1 in
	plain1k) echo "1 KB" ;; plain100k) echo "100 KB" ;;
	pipe1k) echo "1 KB, pipelined" ;;
	tls1k) echo "1 KB, STARTTLS" ;; tls100k) echo "100 KB, STARTTLS" ;;
	esac
}
echo
echo "bench: summary ($(date -u '+%F %H:%M') UTC, commit" \
	"$(git -C "$POSTERN_TOP" rev-parse --short HEAD 2>/dev/null)," \
	"load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg)" \
	"at the end; medians of $ROUNDS rounds)"
printf '%-44s %10s %14s %8s\n' "" postern \
	"postfix$(postconf -dh mail_version 2>/dev/null | sed 's/^/ /')" ratio
for w in $WORKLOADS; do
	row "accepted, $(label "$w"), no delivery (msg/s)" "$w.held"
done
for w in $WORKLOADS; do
	row "accepted, $(label "$w"), delivering (msg/s)" "$w.accept"
done
for w in $WORKLOADS; do
	row "end to end, $(label "$w") (msg/s)" "$w.e2e"
done
for w in $WORKLOADS; do
	row "CPU per delivered msg, $(label "$w") (ms)" "$w.cpu"
done
for w in $WORKLOADS; do
	row "sessions failed, $(label "$w") (of $(load_count "$w"))" "$w.failed"
done
row "MySQL SELECTs per message (1 KB)" plain1k.qpm
row "PSS, no session (MB)" idle0
for i in $(printf '%s\n' $PT_IDLE $PF_IDLE | sort -n -u); do
	row "PSS, $i idle sessions (MB)" "idle$i"
	row "greeting p50, $i idle (s; greet wait $GREET_WAIT)" "g50.$i"
	row "greeting p99, $i idle (s; greet wait $GREET_WAIT)" "g99.$i"
	row "not greeted, $i idle (dropped+timeouts)" "gbad.$i"
done
printf '%-44s %10s\n' "machine: 1 KB create+write+fsync (files/s)" \
	"${R[machine.fsync]:--}"
printf '%-44s %10s\n' "machine: same, one syncfs per 100 (files/s)" \
	"${R[machine.syncfs]:--}"
printf '%-44s %10s\n' "postern end to end 1 KB / fsync single" \
	"$(frac "${R[postern.plain1k.e2e]:-}" "${R[machine.fsync]:-}")"
printf '%-44s %10s\n' "postern end to end 1 KB / syncfs batches" \
	"$(frac "${R[postern.plain1k.e2e]:-}" "${R[machine.syncfs]:-}")"
printf '%-44s %10s\n' "machine: SMTP sink, no disk (msg/s)" \
	"${R[machine.sink]:--}"
printf '%-44s %10s\n' "postern accepted 1 KB, no delivery / SMTP sink" \
	"$(frac "${R[postern.plain1k.held]:-}" "${R[machine.sink]:-}")"
echo
echo "bench: record this run (the table, the commit, the load averages" \
	"and what else ran) in tests/bench/RESULTS.md"
exit 0
