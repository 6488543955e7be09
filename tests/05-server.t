#!/bin/bash
# 05-server.t - the daemon skeleton (lib/server.c) through the echod test
# daemon, without master: -l inet/IPv6/unix, -S, -o, logging, privilege
# drop, SIGHUP drain, SIGTERM, bad options. Ports 20500-20539.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/need.sh"

ECHOD=$POSTERN_BIN/echod
PORT=$((20500 + ($$ % 10) * 4))
DIR=$(mktemp -d /tmp/postern-05-server.XXXXXX)
chmod 755 "$DIR"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$DIR"
}
trap cleanup EXIT
printf 'maillog_file = %s/log\n' "$DIR" > "$DIR/main.cf"
: > "$DIR/log"

# start ARGS... - echod in the background; sets PID
start() {
	"$ECHOD" -c "$DIR" "$@" 2>>"$DIR/stderr" &
	PID=$!
	PIDS+=("$PID")
}

# talk HOST PORT|PATH LINES... - connect, print every line received
talk() {
	timeout 10 /usr/bin/python3 - "$@" <<'EOF'
import socket, sys, time
target, lines = sys.argv[1], sys.argv[3:]
if target == "unix":
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[2])
else:
    s = socket.create_connection((target, int(sys.argv[2])), timeout=8)
f = s.makefile("rb")
print(f.readline().decode().strip())
for l in lines:
    s.sendall(l.encode() + b"\r\n")
    if l != "QUIT":
        print(f.readline().decode().strip())
EOF
}

# --- inet -l, greeting, echo, client address ---
start -d -l 127.0.0.1:$PORT
wait_for "port_listening $PORT" 10
out=$(talk 127.0.0.1 $PORT hello QUIT)
like "$out" "^220 echod echod [0-9]+ 127.0.0.1 0" "-l host:port: accept gets the numeric client address"
like "$out" $'\nhello$' "echo through the loop"
out=$(talk 127.0.0.1 $PORT one two QUIT)
is "$(echo "$out" | tail -2 | tr '\n' ' ')" "one two " "a second connection is served too"
if need_root 1 "started as root: runs as mail_owner"; then
	is "$(ps -o user= -p $PID)" "postern" "started as root: runs as mail_owner"
fi
like "$(cat "$DIR/log")" "postfix/echod\[$PID\]: connect from \[127.0.0.1\]" \
	"logs as \$syslog_name/program to maillog_file"

# --- SIGHUP: stop accepting, finish the session, exit ---
exec 7<>/dev/tcp/127.0.0.1/$PORT
read -r -t 5 line <&7
kill -HUP $PID
wait_for "! port_listening $PORT" 5
ok $? "after SIGHUP the listener is closed"
printf 'after hup\r\n' >&7
read -r -t 5 line <&7
is "${line%$'\r'}" "after hup" "the open session still works"
kill -0 $PID 2>/dev/null
ok $? "the process waits for the session"
printf 'QUIT\r\n' >&7
exec 7>&-
wait_for "! kill -0 $PID" 10
ok $? "it exits when the last session ends"
wait $PID
is "$?" 0 "... with status 0"

# --- SIGTERM ---
start -l 127.0.0.1:$PORT -o syslog_name=test/x
wait_for "port_listening $PORT" 10
talk 127.0.0.1 $PORT QUIT >/dev/null
like "$(grep "\[$PID\]" "$DIR/log")" "test/x/echod\[$PID\]" "-o syslog_name=... is applied"
kill -TERM $PID
wait_for "! kill -0 $PID" 10
ok $? "SIGTERM: exit"
wait $PID
is "$?" 0 "... with status 0"

# --- IPv6 and unix listeners ---
if need_ipv6 1 "-l [::1]:port"; then
	start -l "[::1]:$((PORT + 1))"
	wait_for "port_listening $((PORT + 1))" 10
	like "$(talk ::1 $((PORT + 1)) QUIT)" "^220 echod echod [0-9]+ ::1 0" \
		"-l [::1]:port"
	kill $PID
fi
start -l "$DIR/sock" -s mysvc
# listening, not only bound; no probe connection (echod counts them)
wait_for "sock_listening $DIR/sock" 10
like "$(talk unix "$DIR/sock" QUIT)" "^220 echod mysvc [0-9]+ - 0" \
	"-l path: unix listener, -s sets the service name"
is "$(stat -c %a "$DIR/sock")" 666 "unix socket mode 0666"
out=$(talk unix "$DIR/sock" STOP 2>&1)
wait_for "! kill -0 $PID" 10
ok $? "server_stop() from the daemon ends the process"

# --- -S: one session on stdin/stdout ---
out=$(printf 'abc\r\n\xff\x01 8-bit\r\nQUIT\r\n' | timeout 10 "$ECHOD" -c "$DIR" -S 2>&1)
rc=$?
is "$rc" 0 "-S exits 0"
like "$out" "^220 echod stdin" "-S greets on stdout"
like "$out" $'\nabc' "-S echoes"

# --- bad invocations: a clear message, exit 1, never a crash ---
check_bad() {
	local want=$1; shift
	out=$(timeout 10 "$ECHOD" "$@" 2>&1 </dev/null)
	rc=$?
	is "$rc" 1 "bad invocation exits 1: $*"
	like "$out" "$want" "... saying: $want"
}
check_bad "usage: echod" -c "$DIR" -x
check_bad "usage: echod" -c "$DIR" -l 127.0.0.1:$PORT extra
check_bad "no listener" -c "$DIR"
check_bad "bad -o option" -c "$DIR" -o novalue -S
check_bad "unknown service or bad port" -c "$DIR" -l 127.0.0.1:nosuchservice
check_bad "bad -l address" -c "$DIR" -l '::1:25'
check_bad "no listener on fd 3" -c "$DIR" -t inet 3<&-
check_bad "unsupported service type" -c "$DIR" -t bogus -l 127.0.0.1:$PORT
check_bad "main.cf" -c "$DIR/nonexistent" -S
long=$(printf 'x%.0s' $(seq 1 200))
check_bad "too long" -c "$DIR" -l "$DIR/$long/$long"

done_testing
