#!/bin/sh
# NAME
#	run.sh - run the fuzz targets one after the other, print a table
# SYNOPSIS
#	sh fuzz/run.sh long|check TARGET...	(make fuzz, make fuzz-check)
# DESCRIPTION
#	Each target build/fuzz/bin/fuzz_TARGET runs alone (nice 19: the
#	machine is shared), over its committed corpus fuzz/corpus/TARGET
#	(seeds and crash-* regression inputs, read only) and a working
#	corpus where libFuzzer keeps what it finds.
#
#	long: FUZZ_RUNS executions (default 1000000), or FUZZ_SECONDS
#	seconds when set; the working corpus is build/fuzz/corpus/TARGET
#	and is kept between runs (never committed).
#	check: FUZZ_RUNS new inputs (default 20000) after the committed
#	corpus, at most FUZZ_SECONDS (default 8) seconds, with a fixed
#	seed and a fresh working corpus removed afterwards; what make
#	check runs (tests/90-fuzz.t).
#
#	A crash, a leak, a sanitizer report or a timeout (10 s for one
#	input) stops that target; libFuzzer writes the input to
#	build/fuzz/crashes/TARGET/ (crash-*, leak-*, timeout-*). The
#	table has one line a target: executions, exec/s, crashes (the
#	files in that directory from this run), and the target's exit
#	status; the log of each run is build/fuzz/log/TARGET.log.
#
#	FUZZ_CORPUS names another committed-corpus directory (the test's
#	planted crash).
# DIAGNOSTICS
#	Exit status 1 when any target failed, else 0.
mode=${1:?usage: run.sh long|check TARGET...}
shift
top=$(cd "$(dirname "$0")/.." && pwd)
fz=$top/build/fuzz
corpus=${FUZZ_CORPUS:-$top/fuzz/corpus}
mkdir -p "$fz/log"
fail=0
printf '%-14s %12s %8s %8s %s\n' target executions exec/s crashes status
for t in "$@"; do
	bin=$fz/bin/fuzz_$t
	crashes=$fz/crashes/$t
	mkdir -p "$crashes"
	before=$(ls "$crashes" | wc -l)
	if [ "$mode" = long ]; then
		work=$fz/corpus/$t
		mkdir -p "$work"
		if [ -n "$FUZZ_SECONDS" ]; then
			limit="-max_total_time=$FUZZ_SECONDS"
		else
			limit="-runs=${FUZZ_RUNS:-1000000}"
		fi
		seed=
	else
		work=$(mktemp -d /tmp/postern-fuzz-corpus.XXXXXX)
		limit="-runs=${FUZZ_RUNS:-20000} -max_total_time=${FUZZ_SECONDS:-8}"
		seed=-seed=4711
	fi
	log=$fz/log/$t.log
	nice -n 19 "$bin" $limit $seed -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$crashes/" \
	    "$work" "$corpus/$t" >"$log" 2>&1
	rc=$?
	[ "$mode" = long ] || rm -rf "$work"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	after=$(ls "$crashes" | wc -l)
	new=$((after - before))
	if [ $rc -ne 0 ] || [ $new -ne 0 ]; then
		fail=1
		status="FAILED (exit $rc; log $log)"
	else
		status=ok
	fi
	printf '%-14s %12s %8s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" \
	    "$new" "$status"
done
exit $fail
