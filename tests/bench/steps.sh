#!/bin/bash
#
# NAME
#	steps.sh - where a message's time and CPU go, by session count
# SYNOPSIS
#	bash tests/bench/steps.sh		# as root, after make release
# DESCRIPTION
#	Starts one postern instance of the bench's configuration
#	(tests/bench/lib.sh: postscreen in front, MySQL maps, Maildir
#	delivery), warms each of 20 source addresses (127.1.x.y) up through
#	postscreen and sends BENCH_STEPS_WARM messages (default 3000) to
#	fill the file pool and the caches, then, for each session count in
#	BENCH_STEPS_SESSIONS (default "20 40 20 40"), sends BENCH_STEPS_N
#	messages of 1 KB (default 4000) and prints:
#	  - smtp-load's line and the mean wait for each reply
#	    (SMTP_LOAD_STEPS=1: greet, ehlo, mail, rcpt, data, dot, quit);
#	  - the machine's CPU split over the run (/proc/stat);
#	  - CPU per message of each program (utime + stime of every
#	    process by name, /proc/PID/stat, kernel threads such as
#	    kworker by kind; a process that exits during the run is not
#	    counted, one that starts is counted from its start);
#	  - per message: context switches (/proc/stat ctxt), rescheduling
#	    and function-call IPIs (/proc/interrupts RES, CAL), disk write
#	    requests, KB written and cache flushes (/proc/diskstats of the
#	    queue's block device).
#	By default the messages go to BENCH_HOLD (held: acceptance alone);
#	BENCH_STEPS_FILL=N first sends N held messages and has them
#	delivered, which leaves N files in the file pool (QUEUE.md, "The
#	file pool"), as the bench's later held rounds find it: held runs
#	then claim their files instead of creating them.
#	BENCH_STEPS_FILL_SIZE: the size of those messages (default 1024;
#	a file over 16 KB goes to the pool emptied, as after the bench's
#	100 KB rounds).
#	BENCH_STEPS_DIRTY=N writes N files of 3 KB, not synced, on the
#	queue's file system before each run: what the journal's
#	checkpoint (a syncfs) pays for data others left dirty.
#	BENCH_STEPS_DELIVER=1 sends them to BENCH_RCPT and also waits for
#	their delivery, printing how long after acceptance the last one
#	reached the Maildir. tests/bench/RESULTS.md, "Where the limit is at
#	20 sessions", was measured this way.
#
#	Environment as run.sh: POSTERN_BIN, SMTP_LOAD, BENCH_PT_CONF.
#	BENCH_KEEP=1 keeps the directory (its queue and Maildirs): on ext4
#	without a journal, inodes freed in the last minutes are skipped
#	when files are created, so a run right after removing thousands of
#	files (the last run's directory) measures the allocator's scan too;
#	for A/B runs keep the directories and remove them afterwards.
# DIAGNOSTICS
#	Exit 1 when the setup fails.
set -u
POSTERN_TOP=$(cd "$(dirname "$0")/../.." && pwd)
POSTERN_BIN=${POSTERN_BIN:-$POSTERN_TOP/build/release/bin}
export POSTERN_TOP POSTERN_BIN
LOAD=${SMTP_LOAD:-$POSTERN_TOP/build/release/tools/smtp-load}
N=${BENCH_STEPS_N:-4000}
WARM=${BENCH_STEPS_WARM:-3000}
PORT=26235

. "$POSTERN_TOP/tests/bench/lib.sh"
# instance_stop's log check reports through diag, not as a TAP check
TAP_DONE=1
diag() { printf 'steps: %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "steps: run as root" >&2; exit 1; }
# without it every send fails and each run would only say "not all
# delivered": make the tools (make bench does) or set SMTP_LOAD
[ -x "$LOAD" ] || { echo "steps: no $LOAD (make" \
	"build/release/tools/smtp-load, or set SMTP_LOAD)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
BENCH_DIR=$(mktemp -d /tmp/postern-steps.XXXXXX)
chmod 755 "$BENCH_DIR"
trap 'bench_cleanup
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$BENCH_DIR"' EXIT
bench_mariadb || { echo "steps: MariaDB did not start" >&2; exit 1; }
bench_postern_start "$PORT" || { echo "steps: postern" >&2; exit 1; }
SRC=(-S 127.1 -k 20)
RCPT=$BENCH_HOLD
[ -n "${BENCH_STEPS_DELIVER:-}" ] && RCPT=$BENCH_RCPT
dev=$(basename "$(df --output=source "$BENCH_DIR" | tail -1)")

# each source's first connection fails on purpose (postscreen's tests)
"$LOAD" send -p "$PORT" -c 20 -n 200 -s 1024 -r "$BENCH_RCPT" \
	"${SRC[@]}" >/dev/null
"$LOAD" send -p "$PORT" -c 20 -n "$WARM" -s 1024 -r "$BENCH_RCPT" \
	"${SRC[@]}" >/dev/null
wait_for "[ \$(bench_count $PT_MAIL) -ge $WARM ]" 120 ||
	echo "steps: the warm-up was not delivered in 120 s"
# BENCH_STEPS_FILL=N: N more held, released and delivered, so that the
# file pool holds N files, as the bench's held rounds find it (after a
# warm-up delivered as it came, the pool holds only the few files that
# were in flight at once, and held runs create their files)
if [ -n "${BENCH_STEPS_FILL:-}" ]; then
	hmd=${PT_MAIL%/bench}/hold
	"$LOAD" send -p "$PORT" -c 20 -n "$BENCH_STEPS_FILL" \
		-s "${BENCH_STEPS_FILL_SIZE:-1024}" -r "$BENCH_HOLD" "${SRC[@]}" \
		>/dev/null
	for i in $(seq 100); do
		ls -A "$BENCH_DIR/postern/queue/incoming" | grep -q '^\.' ||
			break
		sleep 0.1
	done
	"$POSTERN_BIN/postsuper" -c "$BENCH_DIR/postern/etc" -H ALL &&
		"$POSTERN_BIN/postqueue" -c "$BENCH_DIR/postern/etc" -f
	wait_for "[ \$(bench_count $hmd) -ge $BENCH_STEPS_FILL ]" 120 ||
		echo "steps: the pool's fill was not delivered in 120 s"
	sleep 2
fi

# counters - ctxt, RES, CAL, disk writes, sectors, flushes, /proc/stat cpu
counters() {
	awk '/^ctxt/ { print $2 }' /proc/stat
	awk '$1 == "RES:" || $1 == "CAL:" { for (i = 2; i <= NF &&
		$i ~ /^[0-9]+$/; i++) s[$1] += $i }
		END { print s["RES:"] + 0, s["CAL:"] + 0 }' /proc/interrupts
	awk -v d="$dev" '$3 == d { w = $8; s = $10; f = $19 }
		END { print w + 0, s + 0, f + 0 }' /proc/diskstats
	head -1 /proc/stat
}

# print_cpu BEFORE AFTER - ms of CPU per message by program, busiest first
print_cpu() {
	printf '%s\n' "$1" | awk -v n="$N" -v hz="$(getconf CLK_TCK)" \
		-v after="$2" 'BEGIN { k = split(after, l, "\n")
			for (i = 1; i <= k; i++) { split(l[i], f, " ")
				b[f[1]] = f[3]; name[f[1]] = f[2] } }
		{ a[$1] = $3 }
		END { for (p in b) if (p ~ /^ctxt:/)
				x[name[p]] += b[p] - (p in a ? a[p] : 0)
			else
				s[name[p]] += b[p] - (p in a ? a[p] : 0)
			for (p in s) if (s[p] > 0)
				printf "%s %.3f %.1f\n", p, 1000 * s[p] / hz / n,
				    x[p] / n
		}' | sort -k2 -rn | awk '{ printf "%s %s ms %s cs; ", $1, $2, $3 }
		END { print "" }' | sed 's/^/  cpu and context switches per message: /'
}

# proc_cpu - "pid name ticks" for every process (bench_snap, lib.sh:
# kernel workers by their kind), then "pid ctxt switches" (all its
# threads) as "ctxt:pid name count"
proc_cpu() {
	bench_snap
	cat /proc/[0-9]*/task/[0-9]*/status 2>/dev/null | awk '
		$1 == "Name:" { n = $2; sub(/\/.*/, "", n) }
		$1 == "Tgid:" { t = $2 }
		$1 ~ /ctxt_switches:$/ { c[t] += $2; nm[t] = n }
		END { for (t in c) print "ctxt:" t, nm[t], c[t] }'
}

for c in ${BENCH_STEPS_SESSIONS:-20 40 20 40}; do
	if [ -n "${BENCH_STEPS_DIRTY:-}" ]; then
		mkdir -p "$BENCH_DIR/dirty"
		python3 -c "
for i in range(int('$BENCH_STEPS_DIRTY')):
    with open('$BENCH_DIR/dirty/f%d' % i, 'wb') as f:
        f.write(b'x' * 3000)
"
	fi
	base=$(bench_count "$PT_MAIL")
	a=$(counters | tr '\n' ' ')
	pa=$(proc_cpu)
	out=$(SMTP_LOAD_STEPS=1 "$LOAD" send -p "$PORT" -c "$c" -n "$N" \
		-s 1024 -r "$RCPT" "${SRC[@]}")
	t0=$(date +%s.%N)
	b=$(counters | tr '\n' ' ')
	echo "sessions $c: $out"
	# shellcheck disable=SC2086
	set -- $a $b
	# 1 ctxt, 2 RES, 3 CAL, 4-6 disk, 7 "cpu", 8-17 cpu fields;
	# then the same from 18
	echo "$*" | awk -v n="$N" '{
		for (i = 8; i <= 17; i++) { d[i] = $(i + 17) - $i; t += d[i] }
		printf "  cpu: user %.0f%% system %.0f%% softirq %.0f%% " \
			"idle %.0f%% iowait %.0f%%\n", 100 * (d[8] + d[9]) / t,
			100 * d[10] / t, 100 * d[14] / t, 100 * d[11] / t,
			100 * d[12] / t
		printf "  per message: %.1f context switches, %.2f " \
			"rescheduling IPIs, %.2f call IPIs, %.2f disk writes, " \
			"%.1f KB, %.3f flushes\n", ($18 - $1) / n,
			($19 - $2) / n, ($20 - $3) / n, ($21 - $4) / n,
			($22 - $5) / 2 / n, ($23 - $6) / n }'
	pb=$(proc_cpu)
	[ -n "${BENCH_STEPS_DELIVER:-}" ] || print_cpu "$pa" "$pb"
	if [ -n "${BENCH_STEPS_DELIVER:-}" ]; then
		wait_for "[ \$(bench_count $PT_MAIL) -ge $((base + N)) ]" \
			120 || echo "  not all delivered in 120 s"
		print_cpu "$pa" "$(proc_cpu)"
		echo "  the last delivered $(awk -v a="$t0" \
			-v b="$(stat -c %.9Y "$PT_MAIL/new")" \
			'BEGIN { printf "%.2f", b - a }') s after acceptance"
	fi
done
