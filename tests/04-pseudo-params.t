#!/bin/bash
# 04-pseudo-params.t - Postfix's read-only $service_name, $process_name
# and $process_id in master.cf -o values (issue 11): a generated Postfix
# master.cf with "-o syslog_name=postfix/$service_name" drew "undefined
# parameter" warnings and logged under a literal "$service_name". Now
# postconf/postern check know the names and every daemon sets them at
# start: smtpd run as service "mysvc" logs as postfix/mysvc/smtpd[PID]
# and a banner "$myhostname $process_name $process_id" names smtpd and
# its pid. Port from 26990-26998. About 3 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

T=$(mktemp -d /tmp/postern-04.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
printf 'myhostname = mx.example.com\nmaillog_file = %s/log\nsmtpd_peername_lookup = no\n' "$T" >"$T/main.cf"
cat >"$T/master.cf" <<'MEOF'
smtp      inet  n       -       y       -       -       smtpd
  -o syslog_name=postfix/$service_name
  -o smtpd_banner=$myhostname $process_name $process_id
MEOF
out=$("$POSTERN_BIN/postconf" -c "$T" -n 2>&1)
unlike "$out" 'undefined parameter' "postconf: no 'undefined parameter' for \$service_name and friends"
out=$("$POSTERN_BIN/postern" -c "$T" check 2>&1)
unlike "$out" 'undefined parameter' "postern check: likewise" 

/usr/bin/python3 -c "import sys; sys.path.insert(0, '$POSTERN_TOP/tests/lib'); import ptap; ptap.queue_dirs('$T/q')"
if [ "$(id -u)" = 0 ]; then chmod 755 "$T"; chown -R postern "$T"; fi
PORT=$(free_port 26990 26998) || bail_out "no free port"
"$POSTERN_BIN/smtpd" -d -s mysvc -l "127.0.0.1:$PORT" -c "$T" \
	-o "queue_directory=$T/q" -o 'syslog_name=postfix/$service_name' \
	-o 'smtpd_banner=$myhostname $process_name $process_id' \
	>"$T/out" 2>&1 &
PID=$!
for i in $(seq 50); do
	got=$(/usr/bin/python3 - "$PORT" 2>/dev/null <<'PEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(s.recv(200).decode().strip())
s.sendall(b"QUIT\r\n")
s.recv(200)
PEOF
) && break
	sleep 0.1
done
is "$got" "220 mx.example.com smtpd $PID" "\$process_name and \$process_id in the banner"
kill "$PID"
wait "$PID" 2>/dev/null
PID=
like "$(cat "$T/log")" "postfix/mysvc/smtpd\\[[0-9]+\\]: connect from" \
	"syslog_name=postfix/\$service_name: lines as postfix/mysvc/smtpd"
sanitizer_ok "$(cat "$T/out")"
done_testing
