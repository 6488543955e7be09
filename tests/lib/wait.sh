# NAME
#	wait.sh - waiting for and stopping the helper processes of a test
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/wait.sh"	(instance.sh sources it)
#
#	wait_for 'COMMAND' SECONDS	retry COMMAND every 0.1s until it
#					succeeds or SECONDS pass
#	port_listening PORT		something listens on 127.0.0.1:PORT
#	sock_listening PATH		the UNIX-domain socket PATH listens (no
#					connection made: for servers that
#					count or log every connection)
#	accepts WHERE [SECONDS]		a connect to WHERE succeeds (a port
#					on 127.0.0.1, or a UNIX-domain socket
#					path), retried for SECONDS (0: once)
#	wait_accepts WHERE [SECONDS]	accepts WHERE, 10 s unless told; says
#					so on stdout (a TAP comment) when the
#					time is up
#	pid_alive PID			the process runs (zombies do not count)
#	stop_pids PID...		SIGTERM each PID and reap it
# DIAGNOSTICS
#	wait_for and wait_accepts return 1 when the time is up; the others
#	return the status of their last check.
# BUGS
#	A socket file exists from bind(), before the server listens:
#	wait for "accepts PATH" (or sock_listening PATH), not for
#	"[ -S PATH ]" (connection refused).

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

# sock_listening - a listening UNIX socket bound to PATH (/proc/net/unix:
# flags 00010000 is __SO_ACCEPTCON, set by listen(); no connection made)
sock_listening() {
	awk -v p="$1" '$4 == "00010000" && $NF == p { f = 1 }
		END { exit !f }' /proc/net/unix
}

# accepts - a connect to a port on 127.0.0.1 or a UNIX socket succeeds,
# trying every 0.05 s for SECONDS (one try unless told)
accepts() {
	case $1 in
	*[!0-9]*)
		/usr/bin/python3 -c 'import socket, sys, time
end = time.monotonic() + float(sys.argv[2])
while True:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(sys.argv[1])
        sys.exit(0)
    except OSError:
        if time.monotonic() >= end:
            sys.exit(1)
        time.sleep(0.05)
    finally:
        s.close()' "$1" "${2:-0}" 2>/dev/null ;;
	*)	[ "${2:-0}" = 0 ] || { wait_for "accepts $1" "$2"; return; }
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null ;;
	esac
}

# wait_accepts - wait until WHERE accepts a connection; say so if never
wait_accepts() {
	accepts "$1" "${2:-10}" && return 0
	echo "# nothing accepts connections on $1 after ${2:-10} s"
	return 1
}

# stop_pids - SIGTERM and reap the test's own background processes
stop_pids() {
	local p
	for p; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	return 0
}
