#!/bin/bash
# 55-make-run.t - etc/run.sh, what "make run" starts: the demo instance
# accepts mail for user1@example.com into its Maildir, refuses relay from
# loopback, writes demo-credentials with SHA512-CRYPT hashes beside them,
# stops cleanly on Ctrl-C (SIGINT to its process group), and a second run
# reuses the instance and its mail. Ports 25500-25519.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/demo_run.sh"
. "$POSTERN_TOP/tests/lib/need.sh"

SMTP=$((25500 + ($$ % 10) * 2))
SUB=$((SMTP + 1))
DIR=$(mktemp -d /tmp/postern-55-run.XXXXXX)
chmod 755 "$DIR"
RUN=$DIR/run
trap 'demo_stop; rm -rf "$DIR"' EXIT

# start_run - the demo (a terminal's process group), output in $DIR/out
start_run() { demo_start "$RUN" "$SMTP" "$SUB" "$DIR/out" 1; }

# send TO - one swaks transaction, print the last server reply line
send() {
	swaks --server 127.0.0.1:$SMTP --helo client.example.org \
		--from alice@example.org --to "$1" --timeout 20 2>&1 |
		grep -E '^<(-|\*\*) ' | tail -2 | head -1
}

start_run
ok $? "run.sh starts the demo instance on ports $SMTP and $SUB"
like "$(cat "$DIR/out")" "swaks --server 127.0.0.1:$SMTP" \
	"it prints the swaks command to try"
like "$(cat "$DIR/out")" "$RUN/mail/example.com/user1" \
	"... and where the Maildirs are"
cred=$(cat "$RUN/demo-credentials" 2>/dev/null)
like "$cred" $'^user1@example.com [A-Za-z0-9]{16}\nuser2@example.com [A-Za-z0-9]{16}$' \
	"demo-credentials: address password lines"
like "$(cat "$RUN/etc/virtual_passwords")" 'user1@example.com \{SHA512-CRYPT\}\$6\$' \
	"password hashes are SHA512-CRYPT"

# postscreen answers 450 to a new client's first RCPT (after-220 tests).
r=$(send user1@example.com)
case $r in *"450 4.3.2"*) r=$(send user1@example.com) ;; esac
like "$r" '^<- +250 2\.0\.0 Ok: queued as' "mail to user1@example.com is accepted"
wait_for "ls $RUN/mail/example.com/user1/new/ 2>/dev/null | grep -q ." 20
ok $? "... and lands in user1's Maildir"
f=$(ls "$RUN/mail/example.com/user1/new/" 2>/dev/null | head -1)
like "$(cat "$RUN/mail/example.com/user1/new/$f" 2>/dev/null)" 'From: alice@example.org' \
	"... with the message"
like "$(send bob@example.net)" '554 5\.7\.1 .*Relay access denied' \
	"relay from loopback is refused (mynetworks has no loopback)"
if need_root 2 "Maildirs owned by vmail, queue by postern"; then
	is "$(stat -c %U "$RUN/mail/example.com/user1")" vmail "Maildirs owned by vmail"
	is "$(stat -c %U "$RUN/queue/incoming")" postern "queue owned by postern"
fi
kids=$(ps -o pid= -g "$DEMO_PGID" | tr -d ' ')
demo_stop
ok $? "Ctrl-C (SIGINT) stops everything"
left=""
for p in $kids; do pid_alive "$p" && left="$left $p"; done
is "$left" "" "no process left"
like "$(tail -3 "$RUN/maillog")" 'master.*terminating' "master logged its stop"

start_run
ok $? "a second run starts again"
is "$(cat "$RUN/demo-credentials")" "$cred" "... reusing the instance (same credentials)"
is "$(grep -c 'creating the demo instance' "$DIR/out")" 1 "... without recreating it"
ls "$RUN/mail/example.com/user1/new/$f" >/dev/null 2>&1
ok $? "... and its mail"
demo_stop
ok $? "stopped again"
done_testing
