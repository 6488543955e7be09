#!/bin/bash
# 77-smtputf8.t - SMTPUTF8 (RFC 6531/6532) end to end (issue 18).
# A full instance from the seed: virtual mailboxes in an lmdb: table
# (jörg@example.com) and in the seed's MariaDB schema through a mysql:
# table (josé@example.net); transport_maps send utf8.example to a
# recording next hop that offers SMTPUTF8 and ascii.example to one that
# does not (tests/lib/raw_sink.py).
#  - EHLO offers SMTPUTF8; MAIL ... SMTPUTF8 with UTF-8 recipients in the
#    lmdb: and the mysql: table: both delivered, the Maildir file ends
#    with the sent message byte for byte (UTF-8 headers and body);
#    recipient lookups fold ASCII letters only: Jörg@EXAMPLE.com finds
#    jörg@example.com, JÖRG@example.com is unknown (README); Received:
#    says "with UTF8SMTP".
#  - relayed to the next hop with SMTPUTF8: "MAIL FROM:<...> SMTPUTF8"
#    and the UTF-8 RCPT on the wire, the message byte for byte;
#  - to the next hop without it: never sent (no MAIL on the wire) and
#    returned to the sender with 5.6.7 "SMTPUTF8 is required, but was
#    not offered by host ..."; an ASCII-only message (MAIL ... SMTPUTF8,
#    nothing to declare) to that next hop is delivered, without the
#    parameter;
#  - smtputf8_autodetect_classes (Postfix's default sendmail, verify): a
#    UTF-8 message from sendmail needs SMTPUTF8 (5.6.7 there), one from
#    smtpd without the parameter is sent as it is;
#  - the maillog keeps the UTF-8 address readable (to=<müller@...>) and
#    postqueue -p lists a deferred UTF-8 recipient as UTF-8;
#  - malformed UTF-8 in a command: 500 5.5.2 Error: bad UTF-8 syntax;
#  - after a reload with strict_smtputf8 = yes the same addresses
#    without the parameter: 553 5.6.7 Must declare SMTPUTF8 to send
#    unicode address (sender and recipient); with it: accepted.
# About 30-45 s (MariaDB start included). Ports 27700-27749 and 27860-27869.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"
. "$POSTERN_TOP/tests/lib/mariadb.sh"

SMTP=$(free_port 27700 27719) SUB=$(free_port 27720 27739)
UP=$(free_port 27740 27749) AP=$(free_port 27860 27869)
TOP=$(mktemp -d /tmp/postern-77.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
trap 'instance_cleanup; mariadb_stop; rm -rf "$TOP"' EXIT

mariadb_start "$TOP/db" >/dev/null && mariadb_load_seed
ok $? "MariaDB with the seed schema"
mariadb_sql "INSERT INTO virtual_domains (id, name) VALUES (2, 'example.net');
	INSERT INTO virtual_users (domain_id, password, email)
	VALUES (2, MD5('x'), 'josé@example.net');"
ok $? "MariaDB: a UTF-8 mailbox josé@example.net"

instance_create "$DIR" "$SMTP" "$SUB"
ok $? "instance created (ports $SMTP $SUB; next hops $UP $AP)"
E=$INSTANCE_CONF
printf 'utf8.example smtp:[127.0.0.1]:%s\nascii.example smtp:[127.0.0.1]:%s\ndead.example smtp:[127.0.0.1]:9\n' \
	"$UP" "$AP" > "$E/transport"
printf 'jörg@example.com example.com/joerg/\nuser@example.com example.com/user/\n' \
	> "$E/vmailbox"
"$POSTERN_BIN/postmap" -c "$E" "lmdb:$E/vmailbox"
ok $? "postmap lmdb: with a UTF-8 key"
mariadb_cf "$E/mysql-mailbox.cf" \
	"SELECT 'example.net/jose/' FROM virtual_users WHERE email='%s'"
instance_relay "smtp_tls_security_level=none" \
	"virtual_mailbox_domains=example.com, example.net" \
	"virtual_mailbox_maps=lmdb:$E/vmailbox, mysql:$E/mysql-mailbox.cf" \
	"virtual_alias_domains="
ok $? "postconf -e: lmdb: and mysql: mailboxes, transport_maps to the sinks"

instance_sinks raw_sink.py "$TOP" "next hop" \
	utf8:$UP:utf8 ascii:$AP:plain

instance_start
ok $? "master starts" || { done_testing; exit 1; }

send() {
	/usr/bin/python3 "$POSTERN_TOP/tests/lib/utf8_send.py" "$SMTP" "$@"
}
qid_of() { printf '%s\n' "$1" | sed -n 's/.*Ok: queued as \([0-9A-Z]*\).*/\1/p'; }
# ends_with FILE MSGFILE - FILE's last bytes are MSGFILE's
ends_with() {
	local n
	n=$(stat -c %s "$2")
	[ -f "$1" ] && tail -c "$n" "$1" | cmp -s - "$2"
}

MSG=$TOP/msg.eml
printf 'From: Jörg <jörg@example.com>\nTo: José <josé@example.net>\nSubject: Grüße, 例え\n\nUTF-8 body: ñandú, 日本語, 🙂\n.leading dot line\n' > "$MSG"

ehlo=$(/usr/bin/python3 - "$SMTP" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=30)
f = s.makefile('rb'); f.readline()
s.sendall(b'EHLO client.test\r\n')
while True:
    l = f.readline().decode(); print(l.strip())
    if l[3:4] != '-': break
s.sendall(b'QUIT\r\n'); f.readline()
PY
)
like "$ehlo" $'\n250-SMTPUTF8\r?\n|\n250 SMTPUTF8' "EHLO offers SMTPUTF8"
unlike "$ehlo" 'REQUIRETLS' "EHLO in plaintext does not offer REQUIRETLS"

# --- UTF-8 recipients in the lmdb: and mysql: tables ------------------------
out=$(send '<sender@example.org> SMTPUTF8' '<jörg@example.com>' "$MSG")
like "$out" $'\n250 2.0.0 Ok: queued as' "lmdb: jörg@example.com accepted with SMTPUTF8"
B1=$INSTANCE_MAIL/example.com/joerg/new
wait_for "[ -n \"\$(ls '$B1' 2>/dev/null)\" ]" 30
f1=$(ls "$B1"/* 2>/dev/null | head -1)
ends_with "$f1" "$MSG"
ok $? "lmdb: delivered to example.com/joerg/, the message byte for byte" ||
	diag "$(tail -5 "$INSTANCE_LOG")"
like "$(cat "$f1" 2>/dev/null)" $'^Return-Path: <sender@example.org>\n' \
	"lmdb: Return-Path added"
like "$(cat "$f1" 2>/dev/null)" $'\n\tby [^\n]* with UTF8SMTP id ' \
	"Received: ... with UTF8SMTP (Postfix's protocol name for SMTPUTF8)"

out=$(send '<sender@example.org> SMTPUTF8' '<josé@example.net>' "$MSG")
like "$out" $'\n250 2.0.0 Ok: queued as' "mysql: josé@example.net accepted with SMTPUTF8"
B2=$INSTANCE_MAIL/example.net/jose/new
wait_for "[ -n \"\$(ls '$B2' 2>/dev/null)\" ]" 30
f2=$(ls "$B2"/* 2>/dev/null | head -1)
ends_with "$f2" "$MSG"
ok $? "mysql: delivered to example.net/jose/, the message byte for byte" ||
	diag "$(tail -5 "$INSTANCE_LOG")"
like "$(cat "$f2" 2>/dev/null)" $'\nDelivered-To: josé@example.net\n' \
	"mysql: Delivered-To: the UTF-8 address"

out=$(send '<sender@example.org> SMTPUTF8' '<Jörg@EXAMPLE.com>' "$MSG")
like "$out" $'\n250 2.0.0 Ok: queued as' "ASCII letters fold: Jörg@EXAMPLE.com is jörg@example.com"
wait_for "[ \$(ls '$B1' | wc -l) -ge 2 ]" 30
ok $? "... and is delivered to example.com/joerg/"
out=$(send '<sender@example.org> SMTPUTF8' '<JÖRG@example.com>' "$MSG")
like "$out" $'\n5[0-9][0-9] 5\\.1\\.1 ' "UTF-8 letters do not fold (documented): JÖRG@example.com unknown"

# --- relay: a next hop with SMTPUTF8, one without ---------------------------
out=$(send '<jörg@example.com> SMTPUTF8' '<müller@utf8.example>' "$MSG")
qid=$(qid_of "$out")
like "$out" $'\n250 2.0.0 Ok: queued as' "relay: müller@utf8.example accepted"
wait_for "instance_log_grep ': $qid: removed'" 60
ok $? "relay: the message to the SMTPUTF8 next hop is done"
raw=$(cat "$TOP"/utf8/*.raw 2>/dev/null)
like "$raw" $'MAIL FROM:<jörg@example.com>[^\r]* SMTPUTF8' "relay: MAIL FROM:<jörg@example.com> ... SMTPUTF8 on the wire"
like "$raw" $'\r\nRCPT TO:<müller@utf8.example>' "relay: RCPT TO:<müller@utf8.example> on the wire"
tr -d '\r' < "$(ls "$TOP"/utf8/*.raw | head -1)" > "$TOP/utf8.lf"
grep -q -F "Subject: Grüße, 例え" "$TOP/utf8.lf" &&
	grep -q -F "UTF-8 body: ñandú, 日本語, 🙂" "$TOP/utf8.lf"
ok $? "relay: UTF-8 header and body on the wire unchanged"
line=$(instance_log_grep "to=<müller@utf8.example>, " | head -1)
like "$line" 'status=sent' "maillog: to=<müller@utf8.example> kept readable, status=sent"

out=$(send '<jörg@example.com> SMTPUTF8' '<müller@ascii.example>' "$MSG")
qid=$(qid_of "$out")
like "$out" $'\n250 2.0.0 Ok: queued as' "no SMTPUTF8: müller@ascii.example accepted"
wait_for "instance_log_grep ': $qid: removed'" 60
ok $? "no SMTPUTF8: the message is done"
line=$(instance_log_grep "$qid: to=<müller@ascii.example>, " | head -1)
like "$line" 'dsn=5\.6\.7, status=bounced \(SMTPUTF8 is required, but was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]\)' \
	"maillog: dsn=5.6.7 bounced, Postfix's reason"
# the session must be on record, or "no MAIL" would hold vacuously
wait_for "cat '$TOP'/ascii/*.raw 2>/dev/null | grep -q '^EHLO '" 30
raw=$(cat "$TOP"/ascii/*.raw 2>/dev/null)
like "$raw" $'(^|\n)EHLO ' "no SMTPUTF8: the next hop was reached (its session is on record)"
unlike "$raw" 'MAIL FROM' "no SMTPUTF8: the next hop saw no MAIL (never sent)"
wait_for "[ -n \"\$(grep -l 'müller@ascii.example' '$B1'/* 2>/dev/null)\" ]" 60
ok $? "no SMTPUTF8: the sender jörg@example.com gets the bounce"
dsn=$(cat $(grep -l 'müller@ascii.example' "$B1"/* 2>/dev/null) /dev/null)
like "$dsn" $'\nStatus: 5\\.6\\.7\n' "bounce: Status: 5.6.7"
like "$dsn" 'SMTPUTF8 is required' "bounce: the reason"

n0=$(ls "$TOP"/ascii/*.raw 2>/dev/null | wc -l)
printf 'Subject: plain\n\nascii only\n' > "$TOP/ascii.eml"
out=$(send '<user@example.com> SMTPUTF8' '<bob@ascii.example>' "$TOP/ascii.eml")
qid=$(qid_of "$out")
wait_for "instance_log_grep ': $qid: removed'" 60
line=$(instance_log_grep "$qid: to=<bob@ascii.example>, " | head -1)
like "$line" 'status=sent' "ASCII-only message (SMTPUTF8 declared) to the next hop without it: sent"
raw=$(cat $(ls -t "$TOP"/ascii/*.raw | head -1) 2>/dev/null)
like "$raw" $'MAIL FROM:<user@example.com>[^\r]*\r\n' "... MAIL FROM on the wire"
unlike "$raw" 'SMTPUTF8' "... without SMTPUTF8 (the server did not offer it)"

# --- smtputf8_autodetect_classes (sendmail, verify) --------------------------
# smtpd without the parameter: not requested, sent as it is (Postfix);
# sendmail: autodetected, so the next hop without SMTPUTF8 returns it.
out=$(send '<user@example.com>' '<björn@ascii.example>' "$MSG")
qid=$(qid_of "$out")
wait_for "instance_log_grep ': $qid: removed'" 60
line=$(instance_log_grep "$qid: to=<björn@ascii.example>, " | head -1)
like "$line" 'status=sent' "smtpd without SMTPUTF8 (class smtpd not autodetected): sent as it is"
printf 'Subject: Grüße via sendmail\n\nhallo\n' | "$POSTERN_BIN/sendmail" -C "$E" -i \
	-f user@example.com 'sven@ascii.example'
ok $? "sendmail: a UTF-8 header to sven@ascii.example"
wait_for "instance_log_grep 'to=<sven@ascii\.example>, .*status=bounced'" 60
line=$(instance_log_grep "to=<sven@ascii\.example>, " | head -1)
like "$line" 'dsn=5\.6\.7, status=bounced \(SMTPUTF8 is required' \
	"sendmail (autodetected): the next hop without SMTPUTF8 returns it 5.6.7"

# --- postqueue -p with a deferred UTF-8 recipient ---------------------------
out=$(send '<jörg@example.com> SMTPUTF8' '<zoë@dead.example>' "$TOP/ascii.eml")
qid=$(qid_of "$out")
wait_for "instance_log_grep '$qid: to=<zoë@dead.example>.*status=deferred'" 60
ok $? "zoë@dead.example deferred (nothing listens on port 9)"
pq=$("$POSTERN_BIN/postqueue" -c "$E" -p 2>&1)
like "$pq" "$qid"$'[^\n]*'"jörg@example\.com" "postqueue -p: the UTF-8 sender as UTF-8"
like "$pq" $'\n +zoë@dead\\.example' "postqueue -p: the UTF-8 recipient as UTF-8"

# --- malformed UTF-8 ---------------------------------------------------------
out=$(send $'<j\xf6rg@example.com>' '<user@example.com>')
like "$out" $'\n500 5\\.5\\.2 Error: bad UTF-8 syntax' "malformed UTF-8 (latin-1 byte) in MAIL: 500 5.5.2"

# --- strict_smtputf8 = yes ----------------------------------------------------
instance_conf "strict_smtputf8=yes"
n=$(instance_log_count 'reload -- version')
"$POSTERN_BIN/postern" -c "$E" reload >/dev/null 2>&1
wait_for "[ \$(instance_log_count 'reload -- version') -gt $n ]" 30
ok $? "reload with strict_smtputf8 = yes"
sleep 1
out=$(send '<sender@example.org>' '<jörg@example.com>' "$MSG")
like "$out" $'\n553 5\\.6\\.7 Must declare SMTPUTF8 to send unicode address' \
	"strict: UTF-8 recipient without SMTPUTF8: 553 5.6.7"
out=$(send '<jörg@example.com>' '<user@example.com>' "$MSG")
like "$out" $'\n553 5\\.6\\.7 Must declare SMTPUTF8 to send unicode address' \
	"strict: UTF-8 sender without SMTPUTF8: 553 5.6.7"
out=$(send '<sender@example.org> SMTPUTF8' '<jörg@example.com>' "$MSG")
like "$out" $'\n250 2.0.0 Ok: queued as' "strict: with SMTPUTF8 accepted"

done_testing
