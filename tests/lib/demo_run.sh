# NAME
#	demo_run.sh - etc/run.sh ("make run") started and stopped by a test
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/instance.sh"	(wait_for, port_listening)
#	. "$POSTERN_TOP/tests/lib/demo_run.sh"
#
#	demo_start RUNDIR SMTP SUB OUT N
#	demo_stop
# DESCRIPTION
#	demo_start runs etc/run.sh with POSTERN_RUN_DIR=RUNDIR and the
#	ports SMTP and SUB in its own session (setsid: a terminal's process
#	group), output appended to OUT; it waits until both ports listen
#	(60 s), sets DEMO_PGID to the session's process group and waits
#	until RUNDIR/maillog has N "daemon started" lines (30 s).
#
#	demo_stop sends SIGINT to that process group (Ctrl-C), waits up to
#	30 s for it to be gone, SIGKILLs what is left and clears DEMO_PGID.
#	It does nothing when no demo runs (for trap ... EXIT).
# DIAGNOSTICS
#	demo_start returns 1 when a wait times out; demo_stop returns 1
#	when something had to be killed.

DEMO_PGID=

# demo_start - etc/run.sh in its own session
demo_start() {
	local run=$1 smtp=$2 sub=$3 out=$4 n=$5 pid
	POSTERN_BIN=$POSTERN_BIN POSTERN_RUN_DIR=$run POSTERN_SMTP_PORT=$smtp \
	POSTERN_SUBMISSION_PORT=$sub setsid sh "$POSTERN_TOP/etc/run.sh" \
		>>"$out" 2>&1 </dev/null &
	pid=$!
	wait_for "port_listening $smtp && port_listening $sub" 60 || return 1
	DEMO_PGID=$(ps -o pgid= -p "$pid" | tr -d ' ')
	wait_for "[ \$(grep -c 'daemon started' '$run/maillog') -ge $n ]" 30
}

# demo_stop - Ctrl-C to the demo's process group, then make sure
demo_stop() {
	local ok
	[ -n "$DEMO_PGID" ] || return 0
	kill -INT -- -"$DEMO_PGID" 2>/dev/null
	wait_for "! ps -o pid= -g $DEMO_PGID | grep -q ." 30
	ok=$?
	ps -o pid= -g "$DEMO_PGID" 2>/dev/null | xargs -r kill -9 2>/dev/null
	DEMO_PGID=
	return $ok
}
