# NAME
#	tap.sh - TAP helpers for bash integration tests
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/tap.sh"
#
#	ok COND_STATUS NAME	ok if the status is 0:  [ -f x ]; ok $? "x exists"
#	pass NAME / fail NAME [DIAG]
#	is GOT WANT NAME	string equality
#	isnt GOT UNWANTED NAME
#	like GOT REGEX NAME	bash regex match ([[ =~ ]])
#	unlike GOT REGEX NAME
#	diag TEXT...		"# TEXT" on stderr
#	note TEXT...		"# TEXT" on stdout
#	bail_out REASON		"Bail out!", exit 255
#	done_testing		run the TAP_BEFORE_PLAN commands, print the
#				plan "1..N"; exit 0 only if every check
#				passed and at least one ran
#	sanitizer_ok [TEXT [NAME]]	a check: no sanitizer report or
#				"panic:" log line in TEXT (a log the test
#				read), no report in POSTERN_SAN_DIR
# DESCRIPTION
#	Checks print "ok N - name" or "not ok N - name" with a "# got/want"
#	diagnostic. The plan is printed at the end (TAP allows that), so a
#	test that dies early has no plan and prove reports it as failed.
#	Call done_testing last; its status is the script's exit status.
#	Every check returns 0 if it passed and 1 if it failed, so
#	"like ... || diag ..." adds detail to a failure (beware of set -e).
#
#	TAP_BEFORE_PLAN is an array of commands done_testing runs before
#	the plan, where they may still add checks (tests/lib/instance.sh
#	stops a running instance there and checks its logs). TAP_DONE is
#	set once the plan is printed: a helper running later (an EXIT
#	trap) must not print checks.
#
#	Sanitizer reports: under make check every process's ASan/LSan
#	report goes to a file in POSTERN_SAN_DIR (tests/lib/runtest), which
#	fails the test file by itself. sanitizer_ok makes the same check
#	from inside the test, with a name, at a chosen point, and also
#	looks in TEXT (stderr of a daemon the test started: where reports
#	go when the test runs without runtest, and where GCC's UBSan
#	writes even under it).
# DIAGNOSTICS
#	Every failed check is counted; done_testing returns 1 if any failed.

TAP_COUNT=0
TAP_FAILED=0
TAP_DONE=
TAP_BEFORE_PLAN=()
SAN_PATTERN='ERROR: (Address|Leak|Thread)Sanitizer|runtime error:|\]: panic: '

# tap_result - print one result line
tap_result() {
	local status=$1 name=$2
	TAP_COUNT=$((TAP_COUNT + 1))
	if [ "$status" = 0 ]; then
		echo "ok $TAP_COUNT - $name"
	else
		TAP_FAILED=$((TAP_FAILED + 1))
		echo "not ok $TAP_COUNT - $name"
		return 1
	fi
	return 0
}

# ok - a check on a command's exit status
ok() {
	tap_result "$1" "$2"
}

# pass - an unconditional success (after the caller checked something)
pass() {
	tap_result 0 "$1"
}

# fail - an unconditional failure with an optional diagnostic
fail() {
	tap_result 1 "$1"
	[ $# -gt 1 ] && diag "$2"
	return 1
}

# is - string equality
is() {
	if [ "$1" = "$2" ]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "got:  '$1'"
		diag "want: '$2'"
		return 1
	fi
}

# isnt - string inequality
isnt() {
	if [ "$1" != "$2" ]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "got '$1', which it should not be"
		return 1
	fi
}

# like - bash regex match
like() {
	if [[ "$1" =~ $2 ]]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "got:  '$1'"
		diag "want match of: $2"
		return 1
	fi
}

# unlike - bash regex non-match
unlike() {
	if [[ "$1" =~ $2 ]]; then
		tap_result 1 "$3"
		diag "got:  '$1'"
		diag "want no match of: $2"
		return 1
	else
		tap_result 0 "$3"
	fi
}

# diag - comment on stderr (shown by prove)
diag() {
	local line
	printf '%s\n' "$*" | while IFS= read -r line; do
		echo "# $line" >&2
	done
}

# note - comment on stdout
note() {
	local line
	printf '%s\n' "$*" | while IFS= read -r line; do
		echo "# $line"
	done
}

# bail_out - stop the whole test run
bail_out() {
	echo "Bail out! $*"
	exit 255
}

# sanitizer_ok - no sanitizer report in TEXT nor in POSTERN_SAN_DIR
sanitizer_ok() {
	local text=$1 name=${2:-no sanitizer reports} f found=
	if [ -n "${POSTERN_SAN_DIR:-}" ]; then
		for f in "$POSTERN_SAN_DIR"/san.*; do
			[ -e "$f" ] && found+="$f"$'\n'"$(head -n 20 "$f")"$'\n'
		done
	fi
	if [[ "$text" =~ $SAN_PATTERN ]]; then
		found+=$(printf '%s\n' "$text" | grep -E -A12 "$SAN_PATTERN" |
		    head -n 40)
	fi
	if [ -z "$found" ]; then
		pass "$name"
	else
		fail "$name" "$found"
	fi
}

# done_testing - print the plan, return the status
done_testing() {
	local c
	for c in "${TAP_BEFORE_PLAN[@]}"; do
		$c
	done
	TAP_DONE=1
	echo "1..$TAP_COUNT"
	[ "$TAP_FAILED" = 0 ] && [ "$TAP_COUNT" -gt 0 ]
}
