#!/bin/bash
# NAME
#	71-milter.t - issue 11's milters: real OpenDKIM on submission, a
#	test milter on port 25, default actions
# DESCRIPTION
#	One instance from the seed's files (tests/lib/instance.sh), virtual
#	mailboxes a@ and b@example.org, SASL (smtpd_sasl_type = postern,
#	texthash) for submission. The seed's submission service (STARTTLS
#	required, -o milter_macro_daemon_name=ORIGINATING) gets
#	"-o smtpd_milters=unix:DIR/dkim/milter.sock", Debian's OpenDKIM in
#	the foreground with a key from opendkim-genkey, signing only mail whose
#	{daemon_name} macro is ORIGINATING (InternalHosts excludes
#	127.0.0.1). main.cf's smtpd_milters is tests/lib/milter_test_server.py
#	for port 25. Checks:
#	  - submission: the delivered message carries OpenDKIM's
#	    DKIM-Signature and python3-dkim verifies it (the key's TXT
#	    record answered from the key file, no DNS)
#	  - port 25: the milter's header is in the Maildir bytes; it got
#	    the connect, helo, mail, rcpt, data, header, eoh, body and eom
#	    events with the j, {daemon_name}, {mail_addr}, {rcpt_addr}
#	    macros; a recipient it refuses gets its own reply code and text
#	    and the "milter-reject: RCPT" log line
#	  - a milter rejecting at end of message: its reply to the client,
#	    nothing queued; a milter quarantining: the message in hold/,
#	    postqueue -p shows "!"; a milter deleting and changing headers,
#	    replacing the body and adding a recipient: the Maildir bytes
#	  - sendmail: non_smtpd_milters in pickup add their header; a reject
#	    at end of message bounces to the sender with the milter's text
#	  - one milter connection for a session's two transactions,
#	    SMFIC_ABORT after RSET; a 220 KB message byte-exact through the
#	    spool, in several SMFIC_BODY packets
#	  - BDAT: the message goes through the milter like DATA
#	  - a milter rejecting at connect: every command gets 550 5.7.1
#	  - the milter down: milter_default_action = tempfail answers
#	    451 4.7.1; after milter_default_action = accept and a reload the
#	    mail is delivered
# Ports 27600-27699 and 27750-27799. About 25 s (up to 60 s
# on a loaded machine).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

PY=/usr/bin/python3
TOP=$(mktemp -d /tmp/postern-71.XXXXXX)
chmod 755 "$TOP"
DKIM_PID= MILTER_PID=
stop_pid() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
trap 'stop_pid "$DKIM_PID"; stop_pid "$MILTER_PID"; instance_cleanup
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$TOP"' EXIT

for c in /usr/sbin/opendkim opendkim-genkey; do
	command -v "$c" >/dev/null || bail_out "$c is not installed (opendkim, opendkim-tools)"
done
$PY -c 'import dkim' || bail_out "python3-dkim is not installed"

SMTP=$(free_port 27600 27649) && SUB=$(free_port 27650 27699) &&
	MILP=$(free_port 27750 27799) || bail_out "no free port"
note "directory $TOP, ports smtp $SMTP submission $SUB milter $MILP"

# --- OpenDKIM: a key, a config, foreground -------------------------
mkdir -p "$TOP/dkim"
opendkim-genkey -D "$TOP/dkim" -d example.org -s test ||
	bail_out "opendkim-genkey failed"
cat >"$TOP/dkim/opendkim.conf" <<EOF
Syslog			no
Mode			s
Domain			example.org
Selector		test
KeyFile			$TOP/dkim/test.private
Socket			local:$TOP/dkim/milter.sock
UMask			000
InternalHosts		192.0.2.1
MacroList		daemon_name|ORIGINATING
Canonicalization	relaxed/simple
RequireSafeKeys		false
EOF
/usr/sbin/opendkim -f -x "$TOP/dkim/opendkim.conf" >"$TOP/dkim/out" 2>&1 &
DKIM_PID=$!

# --- the test milter --------------------------------------------------
# start_milter ARGS... - (re)start tests/lib/milter_test_server.py
start_milter() {
	stop_pid "$MILTER_PID"
	MILTER_PID=
	: >"$TOP/milter.log"
	$PY "$POSTERN_TOP/tests/lib/milter_test_server.py" --port "$MILP" \
		--log "$TOP/milter.log" "$@" >"$TOP/milter.out" 2>&1 &
	MILTER_PID=$!
	wait_for "port_listening $MILP" 10
}
start_milter --add-header 'X-Milter-Test: added by the test milter' ||
	bail_out "the test milter did not start"
wait_for "sock_listening '$TOP/dkim/milter.sock'" 10 || {
	diag "$(cat "$TOP/dkim/out")"
	bail_out "opendkim did not start"
}

# --- the instance ------------------------------------------------------
instance_create "$TOP/inst" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
printf 'a@example.org 1\nb@example.org 1\nrcptreject@example.org 1\n' >"$E/vmailbox"
printf '127.0.0.1 permit\n' >"$E/postscreen_access.cidr"
$PY -W ignore -c 'import crypt, sys; print("john@example.org", crypt.crypt("john-pw", "$6$saltsalt$"))' \
	>"$E/sasl_passwd"
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
chown "$VUID:$VGID" "$INSTANCE_MAIL"
instance_conf \
	"mynetworks=127.0.0.0/8" \
	"alias_maps=" "alias_database=" "canonical_maps=" \
	"sender_canonical_maps=" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"virtual_mailbox_domains=example.org" \
	"virtual_mailbox_maps=texthash:$E/vmailbox" \
	"virtual_alias_maps=" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID" \
	"smtpd_sasl_type=postern" \
	"smtpd_sasl_password_maps=texthash:$E/sasl_passwd" \
	"mua_client_restrictions=permit_sasl_authenticated, reject" \
	"mua_helo_restrictions=" "mua_sender_restrictions=" \
	"smtpd_milters=inet:127.0.0.1:$MILP" \
	"milter_connect_macros=j {daemon_name} {daemon_addr} {daemon_port} v _" \
	"non_smtpd_milters=inet:127.0.0.1:$MILP" \
	"milter_command_timeout=5s" "milter_content_timeout=5s" \
	"minimal_backoff_time=1s" "maximal_backoff_time=2s" \
	"queue_run_delay=1s" || bail_out "postconf -e"
sed -i "s|^  -o milter_macro_daemon_name=ORIGINATING\$|&\\n  -o smtpd_milters=unix:$TOP/dkim/milter.sock|" \
	"$E/master.cf"
grep -q "^  -o smtpd_milters=unix:$TOP/dkim/milter.sock\$" "$E/master.cf"
ok $? "master.cf: the seed's submission service gets -o smtpd_milters (OpenDKIM)"
"$POSTERN_BIN/postern" -c "$E" -v check >"$TOP/check.out" 2>&1
unlike "$(cat "$TOP/check.out")" "milter" "postern check has nothing to say about the milter parameters"
instance_start || bail_out "instance did not start"

# send PORT FROM RCPTS FILE [tls] - one SMTP transaction; prints one
# line per step: "EHLO code", "MAIL code text", "RCPT addr code text",
# "DATA code text" (stops at the first refused MAIL or DATA)
send() {
	$PY - "$@" <<'PYEOF'
import smtplib, ssl, sys
port, sender, rcpts, path = sys.argv[1:5]
tls = len(sys.argv) > 5
s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
try:
    code, _ = s.ehlo("client.example.net")
    print("EHLO", code)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo("client.example.net")
        s.login("john@example.org", "john-pw")
    code, text = s.mail(sender)
    print("MAIL", code, text.decode())
    if code != 250:
        sys.exit(0)
    good = 0
    for r in rcpts.split(","):
        code, text = s.rcpt(r)
        print("RCPT", r, code, text.decode())
        good += code == 250
    if not good:
        sys.exit(0)
    code, text = s.data(open(path).read())
    print("DATA", code, text.decode())
except smtplib.SMTPResponseException as e:
    print("ERR", e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPServerDisconnected as e:
    print("DISCONNECTED", e)
finally:
    try:
        s.quit()
    except Exception:
        pass
PYEOF
}

# logged ERE NAME - one TAP check: the maillog has a matching line
logged() {
	instance_log_grep "$1" >/dev/null
	ok $? "$2"
}

# mailbox USER - the number of messages in USER@example.org's new/
mailbox() {
	find "$INSTANCE_MAIL/example.org/$1/new" -type f 2>/dev/null | wc -l
}
# newest USER - the newest message's path
newest() {
	ls -t "$INSTANCE_MAIL/example.org/$1/new"/* 2>/dev/null | head -1
}
# wait_mail USER N - until USER has N messages
wait_mail() {
	wait_for "[ \$(mailbox $1) -ge $2 ]" 15
}

printf 'From: John <john@example.org>\nTo: b@example.org\nSubject: signed\nDate: Thu, 03 Dec 2026 12:00:00 +0000\nMessage-ID: <m1@example.org>\n\nA body line.\nAnd a second one.\n' \
	>"$TOP/m1"

# --- submission: OpenDKIM signs, the signature verifies ----------------
out=$(send "$SUB" john@example.org b@example.org "$TOP/m1" tls)
like "$out" "DATA 250 2.0.0 Ok: queued as" "submission: the message is accepted through OpenDKIM"
wait_mail b 1
is "$(mailbox b)" 1 "submission: delivered to b@example.org"
M=$(newest b)
like "$(cat "$M")" "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example.org;" \
	"submission: OpenDKIM added its DKIM-Signature (the {daemon_name} macro said ORIGINATING)"
$PY - "$M" "$TOP/dkim/test.txt" >"$TOP/verify.out" 2>&1 <<'PYEOF'
import re, sys, dkim
msg = open(sys.argv[1], "rb").read().replace(b"\n", b"\r\n")
txt = "".join(re.findall(r'"([^"]*)"', open(sys.argv[2]).read()))
def dnsfunc(name, timeout=5):
    assert name == b"test._domainkey.example.org.", name
    return txt.encode()
print("verified" if dkim.verify(msg, dnsfunc=dnsfunc) else "NOT verified")
PYEOF
is "$(cat "$TOP/verify.out")" verified "submission: python3-dkim verifies the signature with the key's TXT record"
# Port 25 mail is not signed (no ORIGINATING): OpenDKIM is only on 587.
is "$(grep -c '"cmd": "C"' "$TOP/milter.log")" 0 "submission: main.cf's milter got no connect from the submission service"

# --- port 25: the test milter -------------------------------------------
printf 'From: a@example.net\nTo: b@example.org\nSubject: plain\n\nbody\n' >"$TOP/m2"
out=$(send "$SMTP" a@example.net "b@example.org,rcptreject@example.org" "$TOP/m2")
like "$out" "RCPT rcptreject@example.org 550 5.7.1 milter says no to <rcptreject@example.org>" \
	"port 25: a recipient the milter refuses gets the milter's own reply"
like "$out" "DATA 250 2.0.0 Ok: queued as" "port 25: the message is accepted for the other recipient"
wait_mail b 2
M=$(newest b)
like "$(cat "$M")" $'\nX-Milter-Test: added by the test milter\n' \
	"port 25: the milter's header is in the Maildir bytes"
like "$(sed -n '/^$/,$p' "$M")" $'^\nbody$' "port 25: the body is unchanged"
logged 'NOQUEUE: milter-reject: RCPT from [^ ]*\[127\.0\.0\.1\]: 550 5\.7\.1 milter says no to <rcptreject@example\.org>; from=<a@example\.net> to=<rcptreject@example\.org> proto=ESMTP helo=<client\.example\.net>' \
	"port 25: the log has Postfix's milter-reject line"
$PY - "$TOP/milter.log" >"$TOP/events" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join(e["cmd"] for e in ev))
m = {}
for e in ev:
    for k, v in e.get("macros", {}).items():
        m.setdefault(e["cmd"] + k, v)
print("C{daemon_name}=%s Cj=%s M{mail_addr}=%s R{rcpt_addr}=%s" % (
    m.get("C{daemon_name}"), m.get("Cj"), m.get("M{mail_addr}"),
    m.get("R{rcpt_addr}")))
print([e["args"] for e in ev if e["cmd"] == "L"])
print("C{daemon_addr}=%s C{daemon_port}=%s" % (m.get("C{daemon_addr}"),
    m.get("C{daemon_port}")))
PYEOF
EV=$(cat "$TOP/events")
like "$EV" "^O C H M R R T L L L N B E Q" \
	"port 25: the milter got negotiate, connect, helo, mail, 2 rcpt, data, 3 headers, eoh, body, eom, quit"
HOST=$("$POSTERN_BIN/postconf" -c "$E" -h myhostname)
like "$EV" "C\\{daemon_name\\}=$HOST Cj=$HOST M\\{mail_addr\\}=a@example.net R\\{rcpt_addr\\}=b@example.org" \
	"port 25: the macros {daemon_name}, j, {mail_addr}, {rcpt_addr}"
like "$EV" "\\['From', 'a@example.net', ''\\]" "port 25: headers go as name and value, one leading space eaten"
like "$EV" "C\\{daemon_addr\\}=127\\.0\\.0\\.1 C\\{daemon_port\\}=$SMTP" \
	"port 25: {daemon_addr} and {daemon_port} (milter_connect_macros), through postscreen's hand-off"

# --- sendmail: non_smtpd_milters in pickup --------------------------------
printf 'Subject: local\n\nlocal body\n' >"$TOP/m4"
"$POSTERN_BIN/sendmail" -C "$E" -f a@example.org b@example.org <"$TOP/m4"
ok $? "sendmail: accepted into maildrop"
wait_mail b 3
M=$(newest b)
like "$(cat "$M")" $'\nX-Milter-Test: added by the test milter\n' \
	"sendmail: non_smtpd_milters add their header in pickup"
like "$(grep -a '"cmd": "M"' "$TOP/milter.log" | tail -1)" '<a@example.org>' \
	"sendmail: the milter got the envelope sender"

# --- end of message: reject, quarantine, changes -------------------------
start_milter --reject eom --replycode '554 5.7.1 the test milter says spam'
nb=$(mailbox b) na=$(mailbox a)
out=$(send "$SMTP" a@example.net b@example.org "$TOP/m2")
like "$out" "DATA 554 5.7.1 the test milter says spam" "eom reject: the milter's reply at the final dot"
logged 'NOQUEUE: milter-reject: END-OF-MESSAGE from [^ ]*\[127\.0\.0\.1\]: 554 5\.7\.1 the test milter says spam' \
	"eom reject: logged as milter-reject END-OF-MESSAGE"
"$POSTERN_BIN/sendmail" -C "$E" -f a@example.org b@example.org <"$TOP/m4"
wait_mail a $((na + 1))
like "$(cat "$(newest a)")" "Diagnostic-Code: X-Postfix; 5.7.1 the test milter says spam" \
	"sendmail, eom reject: the sender gets a bounce with the milter's reply"
is "$(mailbox b)" "$nb" "eom reject: nothing delivered"

start_milter --quarantine 'held by the test'
out=$(send "$SMTP" a@example.net b@example.org "$TOP/m2")
like "$out" "DATA 250 2.0.0 Ok: queued as" "quarantine: accepted"
ID=$(printf '%s\n' "$out" | sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p')
[ -n "$ID" ] && [ -f "$INSTANCE_QUEUE/hold/$ID" ]
ok $? \
	"quarantine: the queue file is in hold/"
like "$("$POSTERN_BIN/postqueue" -c "$E" -p 2>&1)" "$ID!" "quarantine: postqueue -p shows the id with !"
logged "$ID: milter-hold: END-OF-MESSAGE from" "quarantine: the milter-hold log line"

printf 'From: a@example.net\nTo: b@example.org\nSubject: old subject\nX-Drop: me\n\noriginal body\n' >"$TOP/m3"
start_milter --delete-header X-Drop --change-header 'Subject: new subject' \
	--insert-header 'X-First: inserted at 0' --replace-body 'replaced body\nline two\n' \
	--add-rcpt a@example.org
na=$(mailbox a) nb=$(mailbox b)
out=$(send "$SMTP" a@example.net b@example.org "$TOP/m3")
like "$out" "DATA 250 2.0.0 Ok: queued as" "changes: accepted"
wait_mail b $((nb + 1))
wait_mail a $((na + 1))
M=$(newest b)
C=$(cat "$M")
unlike "$C" "X-Drop" "changes: the deleted header is gone"
like "$C" $'\nSubject: new subject\n' "changes: the changed header"
like "$C" $'Received: [^\n]*(\n[ \t][^\n]*)*\nX-First: inserted at 0\nFrom: a@example.net' \
	"changes: the inserted header is first after Received:"
like "$(sed -n '/^$/,$p' "$M")" $'^\nreplaced body\nline two$' "changes: the body is replaced"
is "$(mailbox a)" $((na + 1)) "changes: the added recipient got it"

# --- one connection per session; RSET aborts; a big message --------------
start_milter --add-header 'X-Milter-Test: big'
$PY - "$TOP/big" <<'PYEOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: a@example.net\nTo: b@example.org\nSubject: big\n\n")
    for i in range(4000):
        f.write("line %05d of a message bigger than a body packet %s\n" % (i, "x" * (i % 7)))
PYEOF
nb=$(mailbox b)
out=$($PY - "$SMTP" "$TOP/big" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.net")
s.mail("a@example.net"); s.rcpt("b@example.org"); s.rset()
s.mail("a@example.net"); s.rcpt("b@example.org")
code, text = s.data(open(sys.argv[2]).read())
print("DATA", code, text.decode())
s.quit()
PYEOF
)
like "$out" "DATA 250 2.0.0 Ok: queued as" "big message through the milter: accepted"
wait_mail b $((nb + 1))
M=$(newest b)
cmp -s <(sed -n '/^$/,$p' "$M" | tail -n +2) <(sed -n '/^$/,$p' "$TOP/big" | tail -n +2)
ok $? "big message: the body in the Maildir is the body sent, byte for byte"
$PY - "$TOP/milter.log" >"$TOP/events2" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print("conns=%d" % len({e["conn"] for e in ev}))
print(" ".join(e["cmd"] for e in ev if e["cmd"] != "B"))
print("bodies=%d bytes=%d" % (sum(e["cmd"] == "B" for e in ev),
      sum(len("\0".join(e["args"])) for e in ev if e["cmd"] == "B")))
PYEOF
EV=$(cat "$TOP/events2")
like "$EV" "conns=1" "one milter connection for the session's two transactions"
like "$EV" "O C H M R A M R T L L L N E Q" "RSET: SMFIC_ABORT before the next MAIL"
like "$EV" "bodies=([4-9]|[1-9][0-9]+) " "big message: the body went in several SMFIC_BODY packets (at most 64 KB each)"

# BDAT (CHUNKING) goes through the milters as DATA does
nb=$(mailbox b)
out=$($PY - "$SMTP" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["POSTERN_TOP"] + "/tests/lib")
from smtp_dialog import cmd, connect, last
s, f = connect(sys.argv[1], timeout=30)
msg = b"From: a@example.net\r\nSubject: chunked\r\n\r\nbdat body\r\n"
last(f)
for c in ("EHLO client.example.net", "MAIL FROM:<a@example.net>",
          "RCPT TO:<b@example.org>"):
    cmd(s, f, c)
s.sendall(b"BDAT %d LAST\r\n" % len(msg) + msg)
print("BDAT", last(f))
s.sendall(b"QUIT\r\n")
PYEOF
)
like "$out" "BDAT 250 2.0.0 Ok: queued as" "BDAT: accepted through the milter"
wait_mail b $((nb + 1))
like "$(cat "$(newest b)")" $'Subject: chunked\nX-Milter-Test: big\n\nbdat body' \
	"BDAT: the milter's header is in the Maildir bytes"

# --- a reject at connect answers every command ------------------------------
start_milter --reject connect
out=$(send "$SMTP" a@example.net b@example.org "$TOP/m2")
like "$out" "MAIL 550 5.7.1 Command rejected" "connect reject: MAIL gets Postfix's default text"
logged 'NOQUEUE: milter-reject: CONNECT from [^ ]*\[127\.0\.0\.1\]: 550 5\.7\.1 Command rejected; proto=SMTP' \
	"connect reject: the milter-reject CONNECT line names the client"

# --- the milter down: milter_default_action --------------------------------
stop_pid "$MILTER_PID"
MILTER_PID=
out=$(send "$SMTP" a@example.net b@example.org "$TOP/m2")
like "$out" "MAIL 451 4.7.1 Service unavailable - try again later" \
	"milter down, default tempfail: 451 4.7.1"
logged "warning: milter inet:127\.0\.0\.1:$MILP: connect to" \
	"milter down: the warning names the milter"
instance_conf "milter_default_action=accept"
"$POSTERN_BIN/postern" -c "$E" reload >/dev/null 2>&1
sleep 2
nb=$(mailbox b)
out=$(send "$SMTP" a@example.net b@example.org "$TOP/m2")
like "$out" "DATA 250 2.0.0 Ok: queued as" "milter down, default accept: accepted"
wait_mail b $((nb + 1))
is "$(mailbox b)" $((nb + 1)) "milter down, default accept: delivered"

instance_allow 'warning: milter inet:127\.0\.0\.1'
instance_stop
done_testing
