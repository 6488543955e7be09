#!/bin/bash
# 49-client-limits.t - Postfix's client limits, enforced through anvil.
#
# Issue 9 item 2: smtpd_client_connection_count_limit,
# smtpd_client_connection_rate_limit, smtpd_client_message_rate_limit,
# smtpd_client_recipient_rate_limit,
# smtpd_client_new_tls_session_rate_limit and smtpd_client_auth_rate_limit
# were accepted and ignored. An instance with the seed's master.cf (its
# "anvil" service now runs postern's anvil; submission runs one smtpd
# process per core, so the counts must be shared) and small limits, no
# exceptions (smtpd_client_event_limit_exceptions empty; the client is
# 127.0.0.1). Each limit: the reply one over it gets (Postfix's text and
# enhanced code) and the warning Postfix logs. Then the default
# exceptions ($mynetworks) exempt the client. Ports 26440-26479.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

DIR=$(mktemp -d /tmp/postern-49-limits.XXXXXX)
trap 'instance_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT

SMTP=$(free_port 26440 26459) || bail_out "no free port"
SUB=$(free_port 26460 26479) || bail_out "no free port"
instance_create "$DIR/i" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
printf '127.0.0.0/8 permit\n' >"$E/postscreen_access.cidr"
instance_conf \
	"mynetworks=192.0.2.0/24" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"smtpd_client_event_limit_exceptions=" \
	"smtpd_client_connection_count_limit=3" \
	"smtpd_client_connection_rate_limit=6" \
	"smtpd_client_message_rate_limit=2" \
	"smtpd_client_recipient_rate_limit=3" \
	"smtpd_client_new_tls_session_rate_limit=1" \
	"smtpd_client_auth_rate_limit=1" \
	"alias_maps=" "virtual_alias_maps=" "virtual_mailbox_maps=" \
	"virtual_mailbox_domains=example.org" || bail_out "postconf -e"
grep -q '^anvil .*anvil$' "$E/master.cf"
ok $? "the seed's master.cf has the anvil service"
instance_start || bail_out "instance did not start"
wait_for 'sock_listening "$INSTANCE_QUEUE/private/anvil"' 10
ok $? "master started anvil (private/anvil)"

# smtp PORT SCRIPT - run a Python session script; prints one reply per line
smtp() {
	timeout 60 /usr/bin/python3 - "$@" <<'EOF'
import os, sys
from functools import partial
sys.path.insert(0, os.environ["POSTERN_TOP"] + "/tests/lib")
import smtp_dialog
port = int(sys.argv[1])
keep = []

def conn():
    return smtp_dialog.connect(port)

# a reply on one line: " | " between its lines, "<eof>" for none
reply = partial(smtp_dialog.reply, sep=" | ", eof="<eof>")
cmd = partial(smtp_dialog.cmd, sep=" | ", eof="<eof>")

what = sys.argv[2]
if what == "count":
    # 3 open sessions, then a 4th: concurrency
    for i in range(4):
        s, f = conn()
        keep.append((s, f))
        print("conn%d %s" % (i + 1, reply(f)))
    for s, f in keep:
        s.close()
elif what == "one":
    s, f = conn()
    print("greeting " + reply(f))
    s.close()
elif what == "starttls":
    for i in range(2):
        s, f = conn()
        reply(f)
        cmd(s, f, "EHLO client.example.org")
        print("starttls%d %s" % (i + 1, cmd(s, f, "STARTTLS")))
        s.close()
elif what == "mail":
    s, f = conn()
    print("greeting " + reply(f))
    print("ehlo " + cmd(s, f, "EHLO client.example.org").split(" | ")[0])
    print("mail1 " + cmd(s, f, "MAIL FROM:<a@client.example.org>"))
    for i in range(4):
        print("rcpt%d %s" % (i + 1, cmd(s, f, "RCPT TO:<u%d@example.org>" % i)))
    print("rset " + cmd(s, f, "RSET"))
    print("mail2 " + cmd(s, f, "MAIL FROM:<a@client.example.org>"))
    print("rset " + cmd(s, f, "RSET"))
    print("mail3 " + cmd(s, f, "MAIL FROM:<a@client.example.org>"))
    print("auth1 " + cmd(s, f, "AUTH PLAIN AGZvbwBiYXI="))
    print("auth2 " + cmd(s, f, "AUTH PLAIN AGZvbwBiYXI="))
    print("quit " + cmd(s, f, "QUIT"))
    s.close()
EOF
}

HOST=$("$POSTERN_BIN/postconf" -c "$E" -h myhostname)

# --- STARTTLS first (two connections of the submission budget of 6) ---
out=$(smtp "$SUB" starttls)
like "$(echo "$out" | grep '^starttls1')" '^starttls1 220 ' \
	"newtls: the first STARTTLS is answered 220" "$out"
is "$(echo "$out" | grep '^starttls2')" \
	"starttls2 454 4.7.0 Error: too many new TLS sessions from 127.0.0.1" \
	"newtls: the second in the window: 454 4.7.0, Postfix's text"
wait_for 'instance_log_grep "warning: New TLS session rate limit exceeded: 2 from [^ ]*\[127\.0\.0\.1\] for service 127\.0\.0\.1:$SUB" >/dev/null' 5
ok $? "newtls: the warning Postfix logs"

# --- concurrency: connections 3-6 of the window ---
out=$(smtp "$SUB" count)
is "$(echo "$out" | grep -c '^conn[123] 220 ')" 3 \
	"count: three open sessions are greeted" "$out"
is "$(echo "$out" | grep '^conn4')" \
	"conn4 421 4.7.0 $HOST Error: too many connections from 127.0.0.1" \
	"count: the fourth at once gets 421 4.7.0, Postfix's text"
wait_for 'instance_log_grep "warning: Connection concurrency limit exceeded: 4 from [^ ]*\[127\.0\.0\.1\] for service 127\.0\.0\.1:$SUB" >/dev/null' 5
ok $? "count: 'Connection concurrency limit exceeded: 4 ... for service 127.0.0.1:SUB (the master.cf service field)'"
pids=$(instance_log_grep 'submission/smtpd\[[0-9]+\]: connect from' |
	sed 's/.*smtpd\[\([0-9]*\)\].*/\1/' | sort -u | tr '\n' ' ')
diag "submission connections were served by smtpd pids: $pids"

# --- rate: the 7th connection in the window (the 3 above were closed) ---
sleep 0.5
out=$(smtp "$SUB" one)
is "$out" "greeting 421 4.7.0 $HOST Error: too many connections from 127.0.0.1" \
	"rate: the 7th connection in the window gets 421 4.7.0"
wait_for 'instance_log_grep "warning: Connection rate limit exceeded: 7 from [^ ]*\[127\.0\.0\.1\] for service 127\.0\.0\.1:$SUB" >/dev/null' 5
ok $? "rate: 'Connection rate limit exceeded: 7' (the closed ones were uncounted: not a concurrency refusal)"

# --- MAIL, RCPT and AUTH rates on port 25 (service smtpd, via postscreen) ---
out=$(smtp "$SMTP" mail)
like "$(echo "$out" | grep '^greeting')" '^greeting 220 ' "port 25: greeted" "$out"
like "$(echo "$out" | grep '^mail1')" '^mail1 250 ' "message: the first MAIL is accepted"
isnt "$(echo "$out" | grep '^rcpt3' | cut -c1-14)" "rcpt3 450 4.7." \
	"recipient: the third RCPT is not refused by the rate"
is "$(echo "$out" | grep '^rcpt4')" \
	"rcpt4 450 4.7.1 Error: too many recipients from 127.0.0.1" \
	"recipient: the fourth RCPT in the window: 450 4.7.1, Postfix's text"
like "$(echo "$out" | grep '^mail2')" '^mail2 250 ' "message: the second MAIL is accepted"
is "$(echo "$out" | grep '^mail3')" \
	"mail3 450 4.7.1 Error: too much mail from 127.0.0.1" \
	"message: the third MAIL in the window: 450 4.7.1, Postfix's text"
is "$(echo "$out" | grep '^auth2')" \
	"auth2 450 4.7.1 Error: too many AUTH commands from 127.0.0.1" \
	"auth: the second AUTH in the window: 450 4.7.1, Postfix's text"
like "$(echo "$out" | grep '^quit')" '^quit 221 ' "the session goes on after each refusal"
for w in "Recipient address rate limit exceeded: 4" \
	"Message delivery request rate limit exceeded: 3" \
	"AUTH command rate limit exceeded: 2"; do
	wait_for "instance_log_grep 'warning: $w from [^ ]*\[127\.0\.0\.1\] for service smtpd' >/dev/null" 5
	ok $? "warning: '$w ... for service smtpd'"
done

# --- the default exceptions: $mynetworks is not counted ---
instance_stop
instance_conf "mynetworks=127.0.0.0/8" "smtpd_client_event_limit_exceptions=\$mynetworks"
instance_start || bail_out "instance did not restart"
out=$(smtp "$SUB" count)
is "$(echo "$out" | grep -c '^conn[1234] 220 ')" 4 \
	"exceptions: a client in mynetworks is not limited (4 sessions at once)" "$out"

instance_stop
[ -n "${KEEP:-}" ] || rm -rf "$DIR"
done_testing
