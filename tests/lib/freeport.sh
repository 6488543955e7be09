# NAME
#	freeport.sh - pick a loopback port nobody uses, inside a test's range
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/freeport.sh"
#
#	free_port FIRST LAST	print a port in FIRST..LAST that is free for
#				both TCP and UDP on 127.0.0.1 (and ::1)
# DESCRIPTION
#	Starts at a PID-dependent offset and tries every port of the range
#	once, so that two copies of one test running at the same time (two
#	engineers, or make check next to a manual run) do not collide. The
#	port is only probed, not held: use it right away.
#
#	make check runs two test files at once (prove -j2), so each file's
#	range must be its own: name it in the file's header ("Ports
#	A-B.") and pick one that no other file names (grep -n Ports
#	tests/*.t tests/bench/*.sh; bench/run.sh and bench/profile.sh hold
#	26025-26027, 26125-26126 and 26225-26226). A probe cannot replace
#	that: another file may probe the same free port before either binds.
# DIAGNOSTICS
#	Returns 1 (prints nothing) when the whole range is busy.

# free_port - first free port of a range, from a PID-dependent offset
free_port() {
	/usr/bin/python3 - "$1" "$2" "$$" <<'PY'
import socket, sys
first, last, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
n = last - first + 1
for i in range(n):
    port = first + (pid + i) % n
    try:
        for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(fam, kind)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, port))
                s.close()
    except OSError:
        continue
    print(port)
    sys.exit(0)
sys.exit(1)
PY
}
