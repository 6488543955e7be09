#!/bin/bash
# NAME
#	queue-rounds.sh - acceptance rounds against a queue that once held
#	many files (issue 13)
# SYNOPSIS
#	bash tools/queue-rounds.sh
# DESCRIPTION
#	Starts a private postern instance (postscreen in front of smtpd on
#	QR_PORT, local Maildir map, no MariaDB), sends QR_ROUNDS rounds of
#	QR_N 1 KB messages with smtp-load (20 sessions, one connection per
#	message) and between rounds deletes them all with postsuper -d ALL.
#	Per round it prints msg/s, smtpd's (and qmgr's) CPU ms per message
#	(utime and stime from /proc/PID/stat), the files left in the queue,
#	the size of the queue directories, the time postsuper -d ALL took
#	and, with QR_PERF=1, inode allocations and frees per message by
#	process (perf record -e ext4:ext4_allocate_inode,ext4_free_inode)
#	and the inclusive share of smtpd's and qmgr's samples in the
#	kernel functions of SYMS (perf record -g).
#
#	QR_MODE: noqmgr (default; qmgr's master.cf line is removed, so the
#	messages stay in incoming/, "hold mode" as the issue measured it),
#	hold (qmgr runs, the recipient triggers HOLD: files go to hold/
#	and qmgr is woken per message), deliver (qmgr and virtual run:
#	a round ends when the queue is empty).
#	QR_BETWEEN: delete (default), fresh (after the deletion incoming/
#	and hold/ are replaced by new empty directories, instance
#	stopped), wait (after the deletion sleep QR_WAIT seconds, default
#	400: ext4 without a journal skips inodes freed in the last 60 s,
#	360 s while their inode table block is dirty).
#	QR_FS: empty (default: the queue lives under /tmp, on whatever file
#	system that is), journal or nojournal (a fresh 4 GB ext4 image,
#	with or without a journal, loop-mounted for the instance: root).
#	QR_TRACE=1: with qmgr running, perf trace -s of qmgr's unlink,
#	rename, fdatasync, fsync, openat, close and getdents64 (calls, mean time).
#	POSTERN_BIN (default build/release/bin), SMTP_LOAD (default
#	build/release/tools/smtp-load).
#
#	The port is private (QR_PORT, default 27931): no need for
#	/tmp/postern-bench.lock, but be frugal, one run at a time. Every
#	process is stopped by its PID (instance_stop), the loop image is
#	unmounted and removed at exit.
set -u
POSTERN_TOP=${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
POSTERN_BIN=${POSTERN_BIN:-$POSTERN_TOP/build/release/bin}
LOAD=${SMTP_LOAD:-$POSTERN_TOP/build/release/tools/smtp-load}
N=${QR_N:-10000}
ROUNDS=${QR_ROUNDS:-3}
PORT=${QR_PORT:-27931}
MODE=${QR_MODE:-noqmgr}
BETWEEN=${QR_BETWEEN:-delete}
WAIT=${QR_WAIT:-400}
PERF=${QR_PERF:-}
SYMS=' \[k\] (entry_SYSCALL_64|__ext4_new_inode|find_inode_bit|recently_deleted|ext4_add_entry|ext4_find_entry|ext4_readdir|ext4_rename2?|ext4_sync_fs|do_unlinkat|ext4_evict_inode|__x64_sys_syncfs|__x64_sys_fsync|__x64_sys_fdatasync|__x64_sys_getdents64|queue_scan|scan_job|qsort_r|msort_with_tmp.part.0)$'
export TAP_DONE=1	# instance.sh: outside a TAP test
pass() { :; }
fail() { echo "FAIL: $*" >&2; }
diag() { echo "# $*" >&2; }
. "$POSTERN_TOP/tests/lib/instance.sh"

BASE=$(mktemp -d /tmp/queue-rounds.XXXXXX)
trap 'instance_cleanup; umount "$BASE/fs" 2>/dev/null; rm -rf "$BASE"' EXIT
TCK=$(getconf CLK_TCK)
TOP=$BASE
case ${QR_FS:-} in
"") ;;
journal|nojournal)
	jopt=()
	[ "$QR_FS" = nojournal ] && jopt=(-O ^has_journal)
	truncate -s 4G "$BASE/fs.img" &&
	mkfs.ext4 -q -F "${jopt[@]}" "$BASE/fs.img" &&
	mkdir "$BASE/fs" && mount -o loop "$BASE/fs.img" "$BASE/fs" || exit 1
	chmod 755 "$BASE/fs"; chmod a+x "$BASE"
	TOP=$BASE/fs ;;
*) echo "queue-rounds: QR_FS journal or nojournal" >&2; exit 1 ;;
esac

instance_create "$TOP/pt" "$PORT" "" || exit 1
e=$INSTANCE_CONF
instance_local_mail bench@example.org || exit 1
printf 'bench@example.org HOLD\n' >"$e/holdmap"
instance_conf "mynetworks=127.0.0.0/8" \
	"postscreen_access_list=permit_mynetworks" \
	"smtpd_peername_lookup=no" || exit 1
case $MODE in
noqmgr)
	sed -i '/^qmgr[ \t]/d' "$e/master.cf" ;;
deliver) ;;
hold)
	instance_conf "smtpd_recipient_restrictions=check_recipient_access texthash:$e/holdmap, permit_mynetworks, reject" ||
		exit 1 ;;
*) echo "queue-rounds: QR_MODE noqmgr, hold or deliver" >&2; exit 1 ;;
esac
instance_start || exit 1
Q=$INSTANCE_QUEUE

smtpd_pids() {
	ps -o pid=,comm=,args= --ppid "$INSTANCE_PID" |
		awk '$2 == "smtpd" && / -t pass / { print $1 }'
}
qmgr_pid() {
	ps -o pid=,comm= --ppid "$INSTANCE_PID" | awk '$2 == "qmgr" { print $1 }'
}
cpu() {
	local t=0 p v
	for p in "$@"; do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null |
			awk '{ print $12 + $13 }')
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
dirs() {
	stat -c '%n=%sB' "$Q/incoming" "$Q/hold" "$Q/active" |
		sed "s|$Q/||" | tr '\n' ' '
}
count() {
	find "$Q/incoming" "$Q/hold" "$Q/active" -maxdepth 1 -type f \
		! -name '.*' | wc -l
}
# the SYMS lines of one command's samples in a perf file
perf_syms() {
	perf report -i "$1" --comms "$2" --children --sort sym --stdio \
		-g none 2>/dev/null | grep -E "$SYMS" |
		awk '{ printf "%s %s  ", $NF, $1 } END { print "" }'
}

# one warm-up connection per source (postscreen, smtpd processes)
"$LOAD" send -p "$PORT" -c 20 -n 200 -s 1024 -r bench@example.org \
	-S 127.1 -k 20 >/dev/null
"$POSTERN_BIN/postsuper" -c "$e" -d ALL >/dev/null 2>&1
sleep 2
echo "queue-rounds: mode $MODE, between rounds: $BETWEEN, queue on" \
	"$(df --output=source "$Q" | tail -1)${QR_FS:+ ($QR_FS)}, $N messages" \
	"per round, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
	pids=$(smtpd_pids)
	qp=$(qmgr_pid)
	# shellcheck disable=SC2086
	c0=$(cpu $pids)
	q0=$(cpu $qp)
	if [ -n "$PERF" ]; then
		perf record -q -g -o "$BASE/perf.$r" \
			-p "$(echo $pids $qp | tr ' ' ,)" \
			>/dev/null 2>&1 &
		perf_pid=$!
		# inode allocations and frees of every process of the instance
		perf record -q -e ext4:ext4_allocate_inode \
			-e ext4:ext4_free_inode -o "$BASE/trace.$r" \
			-p "$(ps -o pid= --ppid "$INSTANCE_PID" | tr -d ' ' |
			paste -sd,)" >/dev/null 2>&1 &
		trace_pid=$!
	fi
	if [ -n "${QR_TRACE:-}" ] && [ -n "$qp" ]; then
		# qmgr's syscalls that may block: time per call
		perf trace -s -o "$BASE/strace.$r" \
			-e unlink,rename,fdatasync,fsync,openat,close,getdents64 -p "$qp" \
			>/dev/null 2>&1 &
		strace_pid=$!
	fi
	out=$("$LOAD" send -p "$PORT" -c 20 -n "$N" -s 1024 \
		-r bench@example.org -S 127.1 -k 20)
	# shellcheck disable=SC2086
	c1=$(cpu $pids)
	if [ "$MODE" = deliver ]; then
		t=0
		while [ "$(count)" -gt 0 ] && [ $t -lt 600 ]; do
			sleep 1
			t=$((t + 1))
		done
	fi
	q1=$(cpu $qp)
	if [ -n "${QR_TRACE:-}" ] && [ -n "$qp" ]; then
		kill -INT "$strace_pid"
		wait "$strace_pid"
	fi
	if [ -n "$PERF" ]; then
		kill -INT "$perf_pid" "$trace_pid"
		wait "$perf_pid" "$trace_pid"
	fi
	acc=$(sed -n 's/^accepted \([0-9]*\) .*/\1/p' <<<"$out")
	rate=$(sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p' <<<"$out")
	echo "round $r: $rate msg/s, smtpd CPU" \
		"$(echo "scale=3; ($c1 - $c0) * 1000 / $TCK / ${acc:-1}" | bc)" \
		"ms/msg, qmgr ${qp:+$(echo "scale=3; ($q1 - $q0) * 1000 / $TCK / ${acc:-1}" | bc)} ms/msg," \
		"$(count) queued, dirs $(dirs)| $out"
	if [ -n "${QR_TRACE:-}" ] && [ -n "$qp" ]; then
		echo "    qmgr's syscalls by thread (perf trace -s):"
		awk -v n="${acc:-1}" -v lp="$qp" '
			/ events, / { th = $2; gsub(/[(),]/, "", th)
				th = (th == lp) ? "loop" : "thread " th }
			$1 ~ /^(unlink|rename|fdatasync|fsync|openat|close|getdents64)$/ {
				printf "      %s: %s %d calls (%.2f/msg), %.0f ms in all, %.3f ms avg, %.3f ms/msg\n",
					th, $1, $2, $2 / n, $4, $6, $4 / n }' \
			"$BASE/strace.$r"
	fi
	if [ -n "$PERF" ]; then
		echo "    inodes per message: $(perf script -i "$BASE/trace.$r" \
			2>/dev/null | awk -v n="${acc:-1}" '
			{ c[$1 " " ($0 ~ /allocate_inode/ ? "alloc" : "free")]++ }
			END { for (k in c) printf "%s %.2f  ", k, c[k] / n }')"
		# inclusive share of each one's samples (call graphs)
		echo "    smtpd: $(perf_syms "$BASE/perf.$r" smtpd)"
		[ -n "$qp" ] &&
			echo "    qmgr: $(perf_syms "$BASE/perf.$r" qmgr)"
	fi
	t0=$(date +%s.%N)
	"$POSTERN_BIN/postsuper" -c "$e" -d ALL >/dev/null 2>&1
	echo "  postsuper -d ALL: $(echo "$(date +%s.%N) - $t0" | bc) s;" \
		"dirs $(dirs)"
	case $BETWEEN in
	fresh)
		instance_stop >/dev/null
		for d in incoming hold; do
			mv "$Q/$d" "$Q/$d.old" &&
			mkdir "$Q/$d" &&
			chmod --reference="$Q/$d.old" "$Q/$d" &&
			chown --reference="$Q/$d.old" "$Q/$d" &&
			rm -rf "$Q/$d.old"
		done
		instance_start >/dev/null || exit 1 ;;
	wait) sleep "$WAIT" ;;
	esac
	sleep 2
done
