#!/bin/bash
#
# NAME
#	ab.sh - two builds of postern against each other, in ABBA order
# SYNOPSIS
#	bash tests/bench/ab.sh DIR_A DIR_B	# as root
# DESCRIPTION
#	Runs tests/bench/steps.sh (one instance each time, 20 sessions by
#	default, BENCH_STEPS_DELIVER=1 unless BENCH_AB_HOLD=1) with
#	POSTERN_BIN=DIR_A and POSTERN_BIN=DIR_B (directories of programs,
#	e.g. a copy of build/release/bin made before a change), in the
#	order A B B A, BENCH_AB_ROUNDS times (default 2): a run that comes
#	second in a pair gains some 3-4 % by its place alone (measured
#	2026-12-05, tests/bench/RESULTS.md), which alternating A B A B
#	would credit to B. Then prints, for each build, the messages per
#	second of every run, their mean and median, the mean flushes, disk
#	writes and context switches per message, and each program's mean
#	CPU per message (over 0.01 ms); the full output of each run is in
#	the directory it names (kept).
#
#	Environment: BENCH_AB_ROUNDS, BENCH_AB_HOLD, and steps.sh's own
#	(BENCH_STEPS_N, BENCH_STEPS_WARM, BENCH_STEPS_FILL, BENCH_STEPS_SESSIONS, default
#	"20" here; SMTP_LOAD). Runs keep their directories (BENCH_KEEP=1:
#	a run right after the removal of thousands of files measures the
#	file system's allocator too); they are removed at the end.
# DIAGNOSTICS
#	Exit 1 on bad arguments; a run that fails shows as "-".
set -u
[ $# -eq 2 ] && [ -x "$1/smtpd" ] && [ -x "$2/smtpd" ] || {
	echo "usage: ab.sh DIR_A DIR_B (directories holding smtpd, ...)" >&2
	exit 1
}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
OUT=$(mktemp -d /tmp/postern-ab.XXXXXX)
rounds=${BENCH_AB_ROUNDS:-2}
deliver=1
[ -n "${BENCH_AB_HOLD:-}" ] && deliver=

# one NAME DIR - a steps.sh run, its output in $OUT/NAME.N
n=0
one() {
	n=$((n + 1))
	BENCH_STEPS_DELIVER=$deliver BENCH_KEEP=1 POSTERN_BIN=$2 \
		BENCH_STEPS_SESSIONS=${BENCH_STEPS_SESSIONS:-20} \
		bash "$TOP/tests/bench/steps.sh" >"$OUT/$1.$n" 2>&1
	echo "ab: $1 run $n: $(grep -m1 '^sessions' "$OUT/$1.$n" ||
		echo failed)"
}

for r in $(seq "$rounds"); do
	one A "$A"
	one B "$B"
	one B "$B"
	one A "$A"
done
rm -rf /tmp/postern-steps.*

# summary NAME - msg/s of each run, mean, median; counts per message
summary() {
	cat "$OUT/$1".* | awk -v name="$1" '
		/^sessions/ { for (i = 1; i <= NF; i++)
			if ($(i + 1) == "msg/s") r[++n] = $i }
		/^  per message:/ { for (i = 1; i <= NF; i++) {
			if ($(i + 1) == "context") cs += $i
			if ($(i + 1) == "disk") dw += $i
			if ($(i + 1) == "flushes") fl += $i }; m++ }
		/cpu and context switches per message:/ {
			l = $0; sub(/.*per message: /, "", l)
			k = split(l, part, "; ")
			for (i = 1; i <= k; i++)
				if (split(part[i], f, " ") >= 2 && f[2] + 0 > 0.01)
					cpu[f[1]] += f[2]
			c++ }
		END {
			for (i = 1; i <= n; i++) { s += r[i]; line = line " " r[i] }
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
				if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
			med = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
			if (n == 0 || m == 0) { print name ": no run succeeded"; exit }
			printf "%s: msg/s%s; mean %.0f, median %.0f; per message: " \
			    "%.3f flushes, %.2f disk writes, %.1f context " \
			    "switches\n", name, line, s / n, med, fl / m, dw / m,
			    cs / m
			printf "%s: CPU ms per message (mean):", name
			for (p in cpu) printf " %s %.3f", p, cpu[p] / c
			print "" }'
}
echo "ab: A = $A"
echo "ab: B = $B"
summary A
summary B
echo "ab: each run's output: $OUT"
