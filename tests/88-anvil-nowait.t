#!/bin/bash
# 88-anvil-nowait.t - smtpd counts its clients in the table it shares
# with anvil, without a request to anvil, and the counts stay right.
#
# Issue 13: smtpd counts each connection, MAIL, RCPT, STARTTLS and AUTH
# in anvil's table in memory (lib/anvil_shm.c), which master makes and
# every smtpd and anvil map; anvil answers its protocol from the same
# table. Port 25 (service smtpd, behind postscreen) has no connection
# limit (smtpd_client_connection_count_limit=0 in main.cf) but a message
# rate limit of 3; submission gets "-o smtpd_client_connection_count_limit=2"
# in master.cf (the -o override decides). The connection counts are read
# from anvil itself (a connect and a disconnect on private/anvil). The
# count is taken at accept and checked before the greeting: clients that
# leave before it (also on a service with smtpd_tls_wrappermode=yes and
# the same -o limit, clients that never start TLS) leave no count. Then
# anvil is killed and master respawns it: the next sessions are answered
# at once and the window's counts are still there (the table is
# master's). Last, the smtpd processes are killed while two submission
# clients are counted: anvil uncounts them ("uncounted 2 client
# connections of an smtpd that exited"). Ports 29600-29639.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

DIR=$(mktemp -d /tmp/postern-88-anvil.XXXXXX)
trap 'instance_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT

SMTP=$(free_port 29600 29619) || bail_out "no free port"
SUB=$(free_port 29620 29629) || bail_out "no free port"
WRAP=$(free_port 29630 29639) || bail_out "no free port"
instance_create "$DIR/i" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
printf '127.0.0.0/8 permit\n' >"$E/postscreen_access.cidr"
instance_local_mail a@example.org || bail_out "instance_local_mail"
instance_conf \
	"mynetworks=192.0.2.0/24" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"smtpd_client_event_limit_exceptions=" \
	"smtpd_client_connection_count_limit=0" \
	"smtpd_client_connection_rate_limit=0" \
	"smtpd_client_message_rate_limit=3" \
	"smtpd_helo_restrictions=" "smtpd_sender_restrictions=" \
	"smtpd_client_restrictions=" \
	"smtpd_recipient_restrictions=reject_unauth_destination" \
	|| bail_out "postconf -e"
sed -i "/^127\\.0\\.0\\.1:$SUB inet/a\\  -o smtpd_client_connection_count_limit=2" \
	"$E/master.cf"
cat >>"$E/master.cf" <<EOF
127.0.0.1:$WRAP inet n - - - - smtpd
  -o syslog_name=postfix/wrap
  -o smtpd_tls_wrappermode=yes
  -o smtpd_client_connection_count_limit=2
EOF
is "$(grep -c -- '-o smtpd_client_connection_count_limit=2' "$E/master.cf")" 2 \
	"submission and the wrapper-mode service have -o smtpd_client_connection_count_limit=2"
INSTANCE_PORTS+=("$WRAP")
instance_start || bail_out "instance did not start"
wait_for 'sock_listening "$INSTANCE_QUEUE/private/anvil"' 10
ok $? "master started anvil (private/anvil)"
instance_allow 'process [^ ]*anvil pid [0-9]+ killed by signal 9'

# smtp PORT WHAT [N] - a Python session script; one line per result
smtp() {
	timeout 60 /usr/bin/python3 - "$@" <<'EOF'
import os, socket, ssl, sys, time
from functools import partial
sys.path.insert(0, os.environ["POSTERN_TOP"] + "/tests/lib")
import smtp_dialog
port = int(sys.argv[1])
what = sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 0

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if os.environ.get("WRAPPED"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    return s, s.makefile("rb")

# a reply on one line: " | " between its lines, "<eof>" for none
reply = partial(smtp_dialog.reply, sep=" | ", eof="<eof>")
cmd = partial(smtp_dialog.cmd, sep=" | ", eof="<eof>")

def session(s, f):
    cmd(s, f, "EHLO client.example.org")
    return cmd(s, f, "QUIT")

def open_n(n):
    """n sessions open at once, each greeting printed, then "held" """
    keep = []
    for i in range(n):
        s, f = conn()
        keep.append((s, f))
        print("open%d %s" % (i + 1, reply(f)[:3]))
    print("held")
    sys.stdout.flush()
    return keep

if what == "burst":
    # n sessions open at once, then n one after the other
    keep = open_n(n)
    while not os.path.exists(sys.argv[4]):   # the caller looked at anvil
        time.sleep(0.05)
    for s, f in keep:
        print("quit %s" % session(s, f)[:3])
        s.close()
    for i in range(n):
        s, f = conn()
        print("seq%d %s %s" % (i + 1, reply(f)[:3], session(s, f)[:3]))
        s.close()
elif what == "limit":
    # two held, the third refused, then (closed) a new one
    keep = []
    for i in range(3):
        s, f = conn()
        keep.append((s, f))
        print("conn%d %s" % (i + 1, reply(f)))
    for s, f in keep:
        f.close()                    # the socket closes with its file
        s.close()
    time.sleep(0.5)
    for i in range(20):
        s, f = conn()
        r = reply(f)
        f.close()
        s.close()
        if r.startswith("220"):
            break
        time.sleep(0.2)
    print("after " + r)
elif what == "hold":
    # n sessions greeted and held open until the caller kills us
    keep = open_n(n)
    time.sleep(60)
elif what == "drop":
    # n clients that go away before their greeting
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.close()
    print("dropped %d" % n)
elif what == "mail":
    t0 = time.time()
    s, f = conn()
    print("greeting " + reply(f))
    cmd(s, f, "EHLO client.example.org")
    for i in range(n):
        print("mail%d %s" % (i + 1, cmd(s, f, "MAIL FROM:<a@client.example.org>")))
        cmd(s, f, "RSET")
    print("quit " + cmd(s, f, "QUIT"))
    s.close()
    print("seconds %.1f" % (time.time() - t0))
EOF
}

# anvil_count IDENT - open connections anvil holds for IDENT (its own probe
# connect excluded): a connect and a disconnect on private/anvil
anvil_count() {
	timeout 10 /usr/bin/python3 - "$INSTANCE_QUEUE/private/anvil" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
f = s.makefile("rb")
def ask(req):
    s.sendall(("version=1\nrequest=%s\nident=%s\n\n" % (req, sys.argv[2])).encode())
    a = {}
    while True:
        line = f.readline().decode().rstrip("\n")
        if not line:
            return a
        k, v = line.split("=", 1)
        a[k] = v
c = int(ask("connect")["count"])
ask("disconnect")
print(c - 1)
EOF
}

# wait_count IDENT N - anvil's count for IDENT becomes N (5 s)
wait_count() {
	wait_for "[ \"\$(anvil_count '$1')\" = '$2' ]" 5
}

HOST=$("$POSTERN_BIN/postconf" -c "$E" -h myhostname)
ID25=smtpd:127.0.0.1
IDSUB=127.0.0.1:$SUB:127.0.0.1

# --- no connection limit: counted all the same, and uncounted ---
is "$(anvil_count $ID25)" 0 "anvil: no port-25 connection counted at first"
smtp "$SMTP" burst 25 "$DIR/go" >"$DIR/burst.out" &
BURST=$!
wait_for 'grep -q "^held" "$DIR/burst.out"' 30
out=$(cat "$DIR/burst.out")
is "$(grep -c '^open[0-9]* 220' <<<"$out")" 25 \
	"burst: 25 sessions at once are greeted (no limit on port 25)" "$out"
wait_count $ID25 25
ok $? "burst: anvil sees the 25 open sessions counted" \
	"count $(anvil_count $ID25)"
touch "$DIR/go"
wait "$BURST"
rest=$(sed '1,/^held/d' "$DIR/burst.out")
is "$(grep -c '^quit 221' <<<"$rest")" 25 "burst: the 25 end with 221" "$rest"
is "$(grep -c '^seq[0-9]* 220 221' <<<"$rest")" 25 \
	"burst: 25 more one after the other: 220, then 221"
wait_count $ID25 0
ok $? "burst: after 50 sessions anvil's count is back to 0" \
	"count $(anvil_count $ID25)"

# --- the message rate limit ---
out=$(smtp "$SMTP" mail 4)
like "$(grep '^greeting' <<<"$out")" '^greeting 220 ' "rate: greeted" "$out"
like "$(grep '^mail1' <<<"$out")" '^mail1 250 ' \
	"rate: the first MAIL is accepted"
like "$(grep '^mail3' <<<"$out")" '^mail3 250 ' "rate: the third MAIL is accepted"
is "$(grep '^mail4' <<<"$out")" \
	"mail4 450 4.7.1 Error: too much mail from 127.0.0.1" \
	"rate: the fourth MAIL in the window: 450 4.7.1"
like "$(grep '^quit' <<<"$out")" '^quit 221 ' "rate: the session ends with 221"

# --- -o smtpd_client_connection_count_limit=2 on submission ---
out=$(smtp "$SUB" limit)
is "$(grep -c '^conn[12] 220 ' <<<"$out")" 2 \
	"limit: two sessions at once are greeted" "$out"
is "$(grep '^conn3' <<<"$out")" \
	"conn3 421 4.7.0 $HOST Error: too many connections from 127.0.0.1" \
	"limit: the third at once gets 421 4.7.0 ... too many connections"
like "$(grep '^after' <<<"$out")" '^after 220 ' \
	"limit: once they are closed a new session is greeted"
wait_count "$IDSUB" 0
ok $? "limit: anvil's submission count is back to 0" \
	"count $(anvil_count "$IDSUB")"
wait_for 'instance_log_grep "warning: Connection concurrency limit exceeded: 3 from [^ ]*\[127\.0\.0\.1\] for service 127\.0\.0\.1:$SUB" >/dev/null' 5
ok $? "limit: 'Connection concurrency limit exceeded: 3' is logged"

# --- clients gone before the greeting (counted at accept) ---
out=$(smtp "$SUB" drop 20)
is "$out" "dropped 20" "early: 20 submission clients leave before the greeting"
wait_count "$IDSUB" 0
ok $? "early: anvil's submission count is back to 0" \
	"count $(anvil_count "$IDSUB")"
out=$(smtp "$SUB" limit)
is "$(grep -c '^conn[12] 220 ' <<<"$out")" 2 \
	"early: then two sessions at once are greeted" "$out"
like "$(grep '^conn3' <<<"$out")" '^conn3 421 4\.7\.0 ' \
	"early: and the third is refused"
like "$(grep '^after' <<<"$out")" '^after 220 ' \
	"early: and a new one greeted after they closed"
smtp "$SMTP" drop 20 >/dev/null
wait_count $ID25 0
ok $? "early: port 25 (no limit): the count is back to 0 after 20 more" \
	"count $(anvil_count $ID25)"

# smtpd_tls_wrappermode: counted at accept, checked after the handshake;
# clients that never start TLS are uncounted when they are freed
out=$(WRAPPED=1 smtp "$WRAP" limit)
is "$(grep -c '^conn[12] 220 ' <<<"$out")" 2 \
	"wrapper: two TLS sessions at once are greeted" "$out"
like "$(grep '^conn3' <<<"$out")" '^conn3 421 4\.7\.0 ' \
	"wrapper: the third is refused"
out=$(smtp "$WRAP" drop 20)
is "$out" "dropped 20" "wrapper: 20 clients leave without starting TLS"
IDWRAP=127.0.0.1:$WRAP:127.0.0.1
wait_count "$IDWRAP" 0
ok $? "wrapper: anvil's count is back to 0" \
	"count $(anvil_count "$IDWRAP")"
out=$(WRAPPED=1 smtp "$WRAP" limit)
is "$(grep -c '^conn[12] 220 ' <<<"$out")" 2 \
	"wrapper: then two TLS sessions at once are greeted" "$out"
like "$(grep '^conn3' <<<"$out")" '^conn3 421 4\.7\.0 ' \
	"wrapper: and the third is refused"
like "$(grep '^after' <<<"$out")" '^after 220 ' \
	"wrapper: and one greeted after they closed"

# --- anvil restarted between two sessions ---
apid() {
	local p
	for p in $(instance_children); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = anvil ] && echo "$p"
	done
}
old=$(apid)
ok $([ -n "$old" ]; echo $?) "restart: anvil runs (pid $old)"
kill -9 "$old"
wait_for '[ -n "$(apid)" ] && [ "$(apid)" != "$old" ] && [ -S "$INSTANCE_QUEUE/private/anvil" ]' 10
ok $? "restart: master respawned anvil"
sleep 0.5
out=$(smtp "$SMTP" mail 1)
like "$(grep '^greeting' <<<"$out")" '^greeting 220 ' \
	"restart: the next port-25 session is greeted" "$out"
is "$(grep '^mail1' <<<"$out")" \
	"mail1 450 4.7.1 Error: too much mail from 127.0.0.1" \
	"restart: its MAIL is the fifth in the window: the counts outlived anvil"
like "$(grep '^quit' <<<"$out")" '^quit 221 ' "restart: and ends with 221"
secs=$(sed -n 's/^seconds //p' <<<"$out")
awk -v s="${secs:-99}" 'BEGIN { exit !(s + 0 < 3) }'
ok $? \
	"restart: nothing waited for anvil (${secs:-?} s)"
out=$(smtp "$SUB" limit)
is "$(grep -c '^conn[12] 220 ' <<<"$out")" 2 \
	"restart: submission still greets two at once" "$out"
like "$(grep '^conn3' <<<"$out")" '^conn3 421 4\.7\.0 ' \
	"restart: submission still refuses the third"
wait_count $ID25 0
ok $? "restart: the new anvil's port-25 count is 0 after the session" \
	"count $(anvil_count $ID25)"
wait_count "$IDSUB" 0
ok $? "restart: and its submission count" "count $(anvil_count "$IDSUB")"

# --- smtpd killed with two clients counted: anvil uncounts them ---
smtp "$SUB" hold 2 >"$DIR/hold.out" &
HOLD=$!
wait_for 'grep -q "^held" "$DIR/hold.out"' 30
is "$(grep -c '^open[12] 220' "$DIR/hold.out")" 2 \
	"crash: two submission sessions are greeted and held"
is "$(anvil_count "$IDSUB")" 2 "crash: anvil sees them counted"
instance_allow 'process [^ ]*smtpd pid [0-9]+ killed by signal 9'
for p in $(instance_children); do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = smtpd ] && kill -9 "$p"
done
wait_count "$IDSUB" 0
ok $? "crash: after SIGKILL to every smtpd the count is back to 0" \
	"count $(anvil_count "$IDSUB")"
wait_for 'instance_log_grep "anvil.*: uncounted [12] client connections? of an smtpd that exited" >/dev/null' 5
ok $? "crash: anvil logs that it uncounted them (uncounted N client connections of an smtpd that exited)"
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
out=$(smtp "$SUB" limit)
is "$(grep -c '^conn[12] 220 ' <<<"$out")" 2 \
	"crash: the new smtpd greets two at once" "$out"
like "$(grep '^conn3' <<<"$out")" '^conn3 421 4\.7\.0 ' \
	"crash: and refuses the third"

instance_stop
[ -n "${KEEP:-}" ] || rm -rf "$DIR"
done_testing
