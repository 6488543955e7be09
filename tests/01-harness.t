#!/bin/bash
# 01-harness.t - the test harness can fail: a sanitizer report of any
# process a test starts, or a child of master that dies, fails the test
# file even when every check the test prints passes.
#
# tests/lib/canary (built in the asan variant) has a one-byte heap
# overflow ("overflow") or a signed int overflow ("ubsan") on demand.
# Each case runs a small test file written here through tests/lib/runtest,
# as make check runs every file, and checks its exit status and output:
#   direct   the test runs the canary itself and ignores its exit status;
#   master   a real instance (tests/lib/instance.sh) runs the canary as a
#            master.cf service and a client talks to it once; the test
#            declares the child's death (instance_allow) so only runtest
#            can fail it, or does not, so instance_stop's check fails too.
# And without the switch the same files pass: the harness fails on the
# report, not on the canary. Ports 20100-20119.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

CANARY=$POSTERN_TOP/build/asan/tools/canary
RUNTEST=$POSTERN_TOP/tests/lib/runtest
TOP=$(mktemp -d /tmp/postern-01.XXXXXX)
chmod 755 "$TOP"
trap 'rm -rf "$TOP"' EXIT

if [ ! -x "$CANARY" ]; then
	fail "the canary is built" "$CANARY missing: make VARIANT=asan test-programs"
	done_testing
	exit
fi

# direct.t: runs the canary and passes whatever happens to it.
cat > "$TOP/direct.t" <<'EOF'
#!/bin/bash
"$CANARY" now $MODE >/dev/null 2>"$CANARY_ERR"
echo "ok 1 - the canary ran (its exit status is not checked)"
echo "1..1"
EOF
# master.t: an instance whose only service is the canary.
cat > "$TOP/master.t" <<'EOF'
#!/bin/bash
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
trap 'instance_cleanup' EXIT
instance_create "$CASE_DIR/inst" "" ""
ok $? "instance created"
instance_master_cf "127.0.0.1:$PORT inet n - n - 1 $CANARY $MODE"
INSTANCE_PORTS=("$PORT")
instance_start
ok $? "master starts the canary service"
reply=$(/usr/bin/python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 10)
s.sendall(b'hello\n')
try:
    print(s.recv(100).decode().strip())
except OSError:
    pass
PY
)
if [ "$MODE" = clean ]; then
	is "$reply" "ok 5" "the canary answers"
else
	is "$reply" "" "the canary died before it answered"
	wait_for "instance_log_grep 'canary pid [0-9]+ killed'" 10
	ok $? "master logged the death"
fi
[ -n "$ALLOW" ] && instance_allow 'canary pid [0-9]+ killed by signal 6' \
	'canary: bad command startup'
instance_stop
ok $? "instance stops"
done_testing
EOF
chmod +x "$TOP/direct.t" "$TOP/master.t"
export CANARY

# run_case NAME FILE MODE [ALLOW] - the file through runtest: $out, $rc
run_case() {
	mkdir -p "$TOP/$1"
	out=$(CASE_DIR=$TOP/$1 MODE=$3 ALLOW=${4:-} PORT=$PORT \
		CANARY_ERR=${CANARY_ERR:-/dev/null} \
		"$RUNTEST" "$TOP/$2" 2>&1)
	rc=$?
	printf '%s\n' "$out" > "$TOP/$1.out"
}

# the report as TAP diagnostics: runtest's "# " lines
report_re='# ==> san\.canary\.[0-9]+'
asan_re='#   ==(canary==)?[0-9]+==ERROR: AddressSanitizer: heap-buffer-overflow'
frame_re='#   +#0 0x[0-9a-f]+ in canary_copy [^ ]*tests/lib/canary\.c:[0-9]+'
ubsan_re='#   [^ ]*tests/lib/canary\.c:[0-9]+:[0-9]+: runtime error: signed integer overflow'

PORT=$(free_port 20100 20119) || bail_out "no free port in 20100-20119"

run_case direct-overflow direct.t overflow
isnt "$rc" 0 "direct, overflow: runtest fails the file (exit $rc)"
like "$out" "ok 1 - the canary ran" "direct, overflow: the file's own checks passed"
like "$out" "$report_re" "direct, overflow: the report file is named in the output"
like "$out" "$asan_re" "direct, overflow: the ASan report is in the output as # lines"
like "$out" "$frame_re" "direct, overflow: with the faulting frame"
[ -d "$(sed -n 's/^# runtest: full reports kept in //p' "$TOP/direct-overflow.out")" ]
ok $? "direct, overflow: the full report is kept"
rm -rf "$(sed -n 's/^# runtest: full reports kept in //p' "$TOP/direct-overflow.out")"

# GCC's UBSan writes to stderr whatever log_path says (tests/lib/runtest):
# caught on the test's stderr when the process's stderr is the test's.
CANARY_ERR=/dev/stderr run_case direct-ubsan direct.t ubsan
isnt "$rc" 0 "direct, ubsan: runtest fails the file (exit $rc)"
like "$out" "# ==> stderr.reports" "direct, ubsan: runtest names the report it found on stderr"
like "$out" "$ubsan_re" "direct, ubsan: the UBSan report is in the output as # lines"
rm -rf "$(sed -n 's/^# runtest: full reports kept in //p' "$TOP/direct-ubsan.out")"

run_case direct-clean direct.t clean
is "$rc" 0 "direct, no switch: the file passes"
unlike "$out" "runtest:" "direct, no switch: runtest reports nothing"

run_case master-allowed master.t overflow allow
isnt "$rc" 0 "master child, overflow, death allowed: runtest fails the file (exit $rc)"
unlike "$out" "not ok" "master child, overflow, death allowed: every check of the file passed"
like "$out" "$asan_re" "master child, overflow: the ASan report is in the output as # lines"
like "$out" "$frame_re" "master child, overflow: with the faulting frame"
rm -rf "$(sed -n 's/^# runtest: full reports kept in //p' "$TOP/master-allowed.out")"

run_case master-overflow master.t overflow
isnt "$rc" 0 "master child, overflow: the file fails"
like "$out" "not ok [0-9]+ - instance: no sanitizer report, panic: or unexpected child death" \
	"master child, overflow: instance_stop's check fails"
like "$out" "process [^ ]*/canary pid [0-9]+ killed by signal 6" \
	"master child, overflow: naming master's log line"
rm -rf "$(sed -n 's/^# runtest: full reports kept in //p' "$TOP/master-overflow.out")"

# UBSan in a child of master: in master.out, which instance_stop reads; a
# sanitizer report cannot be allowed.
run_case master-ubsan master.t ubsan allow
isnt "$rc" 0 "master child, ubsan, death allowed: the file fails (exit $rc)"
like "$out" "not ok [0-9]+ - instance: no sanitizer report, panic: or unexpected child death" \
	"master child, ubsan: instance_stop's check fails"
like "$out" "# master.out: [^ ]*tests/lib/canary\.c:[0-9]+:[0-9]+: runtime error: signed integer overflow" \
	"master child, ubsan: the UBSan report (from master.out) is in the output as # lines"
rm -rf "$(sed -n 's/^# runtest: full reports kept in //p' "$TOP/master-ubsan.out")"

run_case master-clean master.t clean
is "$rc" 0 "master child, no switch: the file passes"
like "$out" "ok [0-9]+ - the canary answers" "master child, no switch: the canary served"
unlike "$out" "runtest:|not ok" "master child, no switch: nothing reported"
[ "$rc" = 0 ] || diag "$out"

done_testing
