#!/bin/bash
# 09-readme.t - README.md's command blocks work as written.
#
# "Two commands" (make run, make check) is not run here: make check is
# this very run, and make check-fresh proves both on a fresh Debian root
# (and tests/55-make-run.t proves etc/run.sh). Its text is asserted to be
# exactly those two commands, so that a change to it fails here and is
# looked at.
#
# "Running one daemon by hand" is extracted from README.md (the first
# fenced block after that heading) and run line by line, from a
# temporary directory, against a demo instance made by etc/run.sh (what
# make run does) in that directory and then stopped. The only
# substitutions, each a whole word of the block:
#   B=build/release/bin -> B=$POSTERN_BIN (the build under test)
#   E=run/etc           -> E=<temporary dir>/run/etc
#   127.0.0.1:10025, :10026 -> free loopback ports of this test's range
# Lines with -d (daemons) are started in the background, checked, and
# stopped by PID; the others run in the foreground. session.txt is
# written by the test. Ports 20880-20899.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

README=$POSTERN_TOP/README.md
BASE=$((20880 + ($$ % 5) * 4))
SMTP=$BASE SUB=$((BASE + 1)) P1=$((BASE + 2)) P2=$((BASE + 3))
DIR=$(mktemp -d /tmp/postern-09-readme.XXXXXX)
chmod 755 "$DIR"
RUN=$DIR/run
PGID= PIDS= Q=

# block HEADING - the first fenced block after the line "HEADING"
block() {
	awk -v h="$1" '
		$0 == h { in_sec = 1; next }
		in_sec && /^```/ { if (in_blk) exit; in_blk = 1; next }
		in_blk { print }' "$README"
}

stop_all() {
	local p
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait_for "! pid_alive $p" 10 || kill -9 "$p" 2>/dev/null
	done
	PIDS=
	if [ -n "$PGID" ]; then
		kill -INT -- -"$PGID" 2>/dev/null
		wait_for "! ps -o pid= -g $PGID | grep -q ." 30
		ps -o pid= -g "$PGID" 2>/dev/null | xargs -r kill -9 2>/dev/null
		PGID=
	fi
}
trap 'stop_all; rm -rf "$DIR" ${Q:+"$Q"}' EXIT

# 1. "Two commands": its text, not run (see above).
is "$(block '## Two commands')" \
"make run      # installs what is missing, builds, starts a demo mail server
make check    # installs what is missing, builds with ASan/UBSan, runs every test" \
	"Two commands block is make run / make check (proven by make check and make check-fresh)"

# 2. "Running one daemon by hand"
text=$(block '## Running one daemon by hand')
is "$(printf '%s\n' "$text" | wc -l)" 9 "the daemon block has 9 lines"

# The demo instance, as make run makes it; stopped once it listens.
POSTERN_BIN=$POSTERN_BIN POSTERN_RUN_DIR=$RUN POSTERN_SMTP_PORT=$SMTP \
POSTERN_SUBMISSION_PORT=$SUB setsid sh "$POSTERN_TOP/etc/run.sh" \
	>> "$DIR/run.out" 2>&1 < /dev/null &
pid=$!
wait_for "port_listening $SMTP && port_listening $SUB" 30
ok $? "etc/run.sh made the demo instance (run/etc)"
PGID=$(ps -o pgid= -p "$pid" | tr -d ' ')
stop_all

text=$(printf '%s\n' "$text" | sed \
	-e "s|^B=build/release/bin;|B=$POSTERN_BIN;|" \
	-e "s|E=run/etc;|E=$RUN/etc;|" \
	-e "s|127\.0\.0\.1:10025|127.0.0.1:$P1|" \
	-e "s|127\.0\.0\.1:10026|127.0.0.1:$P2|")
cd "$DIR" || exit 1
printf 'EHLO client.example.org\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<user1@example.com>\r\nRCPT TO:<nobody@example.com>\r\nQUIT\r\n' > session.txt

n=0
while IFS= read -r line; do
	n=$((n + 1))
	case $line in
	B=*)	eval "$line"
		ok $? "line $n sets B, E, Q"
		;;
	*" -d "*)
		eval "exec $line" > "$DIR/out.$n" 2>&1 < /dev/null &
		PIDS="$PIDS $!"
		eval "L_$n=\$!"
		;;
	*)	eval "$line" > "$DIR/out.$n" 2>&1 < /dev/null
		eval "R_$n=\$?"
		;;
	esac
	case $n in
	2)	is "$R_2" 0 "line 2: postsuper -s exits 0"
		miss=
		for d in incoming active deferred hold corrupt maildrop \
		    public private bounce defer; do
			[ -d "$Q/$d" ] || miss="$miss $d"
		done
		is "$miss" "" "... and creates the queue structure in \$Q"
		;;
	3)	wait_for "port_listening $P1" 10
		ok $? "line 3: smtpd -d listens on 127.0.0.1:$P1"
		r=$(swaks --server 127.0.0.1:$P1 --helo client.example.org \
			--from alice@example.org --to user1@example.com \
			--timeout 20 2>&1)
		like "$r" '<- *220 ' "... answers 220"
		like "$r" '<- *250 2\.0\.0 Ok: queued as' \
			"... and queues a message for user1@example.com"
		;;
	4)	is "$R_4" 0 "line 4: smtpd -S exits 0"
		r=$(cat "$DIR/out.4")
		like "$r" '220 server\.example\.com ESMTP' "... greets"
		like "$r" '250 2\.1\.5 Ok' \
			"... accepts RCPT user1@example.com from session.txt"
		like "$r" '550 5\.1\.1 <nobody@example\.com>' \
			"... and refuses an unknown user"
		like "$r" '221 2\.0\.0' "... and says goodbye"
		;;
	5)	wait_for "[ -S $Q/public/qmgr ]" 10
		ok $? "line 5: qmgr -d listens on \$Q/public/qmgr"
		;;
	6)	wait_for "[ -S $Q/private/virtual ]" 10
		ok $? "line 6: virtual -d listens on \$Q/private/virtual"
		;;
	7)	wait_for "port_listening $P2" 10
		ok $? "line 7: postscreen -d listens on 127.0.0.1:$P2"
		;;
	8)	is "$R_8" 0 "line 8: postmap -q exits 0"
		isnt "$(cat "$DIR/out.8")" "" "... and prints the mailbox"
		;;
	9)	is "$R_9" 0 "line 9: postconf -n exits 0"
		like "$(cat "$DIR/out.9")" 'myhostname = server\.example\.com' \
			"... and prints main.cf's settings"
		;;
	esac
done <<< "$text"

for p in $PIDS; do
	pid_alive "$p" || fail "daemon $p died early"
done
kill $PIDS 2>/dev/null
left=
for p in $PIDS; do
	wait_for "! pid_alive $p" 10 || left="$left $p"
done
is "$left" "" "every daemon stops on SIGTERM"
PIDS=
for f in "$DIR"/out.*; do
	grep -q 'panic:\|fatal:' "$f" && fail "$(basename "$f"): $(grep 'panic:\|fatal:' "$f" | head -1)"
done
done_testing
