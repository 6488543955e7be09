#!/bin/bash
# 90-fuzz.t - every libFuzzer target runs briefly, so a parser regression
# fails make check.
#
# The targets (fuzz/fuzz_NAME.c, README "Fuzzing") are built with clang
# into build/fuzz by `make fuzz-build` (mk/fuzz.mk), under the build lock
# like every build of the shared tree; the build is part of this test's
# time. Then `make fuzz-check` runs each one over its committed corpus,
# fuzz/corpus/NAME (the seeds and every crash-* regression input: an
# input that crashed once must never crash again), plus up to 20000 new
# inputs or 8 seconds, with a fixed seed. One check a target: it ran,
# found no crash, leak, sanitizer report or timeout; the line of the
# table is in the TAP output. runtest's sanitizer options (log_path)
# reach the targets too, so a report also fails the file that way.
#
# First the runner must be able to fail: fuzz_selftest has a planted heap
# overflow on inputs that start with "crash"; with such an input in its
# corpus, run.sh must exit non-zero, call the target FAILED and leave the
# input in build/fuzz/crashes/selftest/. Its sanitizer report is expected,
# so that one run gets its own ASAN_OPTIONS without log_path.
#
# About 2.5 minutes on the shared 2-core machine (17 targets x 8 s at most,
# plus the build when sources changed).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
top=$POSTERN_TOP
targets=$(make -s -C "$top" --no-print-directory fuzz-targets 2>/dev/null)
ntargets=$(wc -w <<<"$targets")
[ "$ntargets" -ge 17 ]
ok $? "mk/fuzz.mk lists the targets ($ntargets: $targets)"

if need_prog $((2 + ntargets)) /usr/bin/clang "clang (libFuzzer targets)"
then
	out=$(cd "$top" && flock /tmp/postern-build.lock make -s -j2 \
		fuzz-build 2>&1)
	ok $? "make fuzz-build" || diag "$out"

	tmp=$(mktemp -d /tmp/postern-fuzz-t.XXXXXX)
	mkdir -p "$tmp/selftest"
	printf 'crash me' >"$tmp/selftest/crash-planted"
	rm -rf "$top/build/fuzz/crashes/selftest"
	out=$(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS= FUZZ_CORPUS=$tmp \
		FUZZ_RUNS=10 sh "$top/fuzz/run.sh" check selftest 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [[ $out == *FAILED* ]] &&
	   [ -n "$(ls "$top/build/fuzz/crashes/selftest" 2>/dev/null)" ]; then
		pass "a planted crash fails the run and is saved"
	else
		fail "a planted crash fails the run and is saved" \
			"exit $rc: $out"
	fi
	rm -rf "$tmp" "$top/build/fuzz/crashes/selftest"

	for t in $targets; do
		out=$(sh "$top/fuzz/run.sh" check "$t" 2>&1)
		rc=$?
		note "$(tail -1 <<<"$out")"
		ok $rc "fuzz_$t: committed corpus and new inputs, no crash" ||
			diag "$(tail -30 "$top/build/fuzz/log/$t.log")"
	done
fi
done_testing
