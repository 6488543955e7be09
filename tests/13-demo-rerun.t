#!/bin/bash
# 13-demo-rerun.t - a second "make run" (etc/run.sh) keeps what the
# administrator edited in run/etc/main.cf and master.cf (issue 10 item
# 11): only a changed port is rewritten, and it says so; the start-up
# banner shows how to run postqueue, postsuper and postern against the
# demo, and those commands work as printed; the demo's private tables
# keep their sources' modes (virtual_passwords.lmdb 0640, not 0644).
# Ports 20900-20919. About 25 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/demo_run.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

SMTP=$(free_port 20900 20909) || bail_out "no free port"
SUB=$(free_port 20910 20919) || bail_out "no free port"
DIR=$(mktemp -d /tmp/postern-13-rerun.XXXXXX)
chmod 755 "$DIR"
RUN=$DIR/run
ETC=$RUN/etc
trap 'demo_stop; rm -rf "$DIR"' EXIT

# start_run OUT N - the demo, output in OUT (new), N starts so far
start_run() { demo_start "$RUN" "$SMTP" "$SUB" "$1" "$2"; }

start_run "$DIR/out1" 1
ok $? "first run: the demo starts"
demo_stop
is "$(stat -c %a "$ETC/virtual_passwords.lmdb")" 640 \
	"virtual_passwords.lmdb (every password hash) is 0640 like its source"

# The administrator's edits.
"$POSTERN_BIN/postconf" -c "$ETC" -e 'smtpd_banner = $myhostname ESMTP edited' \
	"maillog_file=$RUN/maillog"
printf '# my own service\nmyecho    unix  -       n       n       -       1       smtp\n' \
	>>"$ETC/master.cf"
cp "$ETC/master.cf" "$DIR/master.cf.edited"

start_run "$DIR/out2" 2
ok $? "second run: the demo starts"
is "$("$POSTERN_BIN/postconf" -c "$ETC" -h smtpd_banner maillog_file)" \
	"\$myhostname ESMTP edited
$RUN/maillog" "main.cf edits are kept (smtpd_banner, maillog_file)"
cmp -s "$ETC/master.cf" "$DIR/master.cf.edited"
ok $? "master.cf is kept byte for byte (same ports)"
like "$(cat "$DIR/out2")" "your edits to $ETC/main.cf and master.cf are kept" \
	"... and run.sh says so"
banner=$(swaks --server "127.0.0.1:$SMTP" --quit-after CONNECT --timeout 10 2>&1)
like "$banner" "220 .* ESMTP edited" "the edited banner is served"
for cmd in "$POSTERN_BIN/postqueue -c $ETC -p" \
    "$POSTERN_BIN/postern -c $ETC status" \
    "$POSTERN_BIN/postsuper -c $ETC -d ALL deferred"; do
	grep -qF -- "  $cmd" "$DIR/out2"
	ok $? "the banner shows: $cmd"
	$cmd >"$DIR/cmd.out" 2>&1
	ok $? "... and it works as printed" || diag "$(cat "$DIR/cmd.out")"
done
like "$(cat "$DIR/out2")" "export MAIL_CONFIG=$ETC" "... and MAIL_CONFIG"
demo_stop

# A changed port is the one thing rewritten, loudly.
OLD=$SMTP
SMTP=$(free_port 20900 20909) || bail_out "no free port"
[ "$SMTP" = "$OLD" ] && SMTP=$((OLD == 20909 ? 20900 : OLD + 1))
start_run "$DIR/out3" 3
ok $? "third run on another port ($SMTP) starts"
like "$(cat "$DIR/out3")" "master.cf: service 127.0.0.1:$OLD is now 127.0.0.1:$SMTP" \
	"... and says which master.cf line it changed"
is "$(diff "$DIR/master.cf.edited" "$ETC/master.cf" | grep -c '^[<>]')" 2 \
	"... only that line changed"
demo_stop
ok $? "the demo stops"

done_testing
