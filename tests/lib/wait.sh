# NAME
#	wait.sh - waiting for and stopping the helper processes of a test
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/wait.sh"	(instance.sh sources it)
#
#	wait_for 'COMMAND' SECONDS	retry COMMAND every 0.1s until it
#					succeeds or SECONDS pass
#	port_listening PORT		something listens on 127.0.0.1:PORT
#	pid_alive PID			the process runs (zombies do not count)
#	stop_pids PID...		SIGTERM each PID and reap it
# DIAGNOSTICS
#	wait_for returns 1 when the time is up; the others return the
#	status of their last check.

# wait_for - retry a command until it succeeds or the time is up
wait_for() {
	local cmd=$1 secs=${2:-10} i=0
	local max=$((secs * 10))
	while ! eval "$cmd" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -ge "$max" ] && return 1
		sleep 0.1
	done
	return 0
}

# pid_alive - the process exists and is not a zombie (a daemon whose
# parent is a pid 1 that does not reap stays a zombie for a while)
pid_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in Z*|"") return 1 ;; esac
	return 0
}

# port_listening - a TCP listener on 127.0.0.1:PORT (no connection made)
port_listening() {
	ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# stop_pids - SIGTERM and reap the test's own background processes
stop_pids() {
	local p
	for p; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	return 0
}
