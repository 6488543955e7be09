#!/bin/bash
# 54-outbound-bytes.t - what postern sends to the next hop and to the
# sender, byte for byte (issue 12): a full instance relays through
# transport_maps to raw-byte recording servers (tests/lib/raw_sink.py:
# every byte the smtp client sent, commands and data, nothing undone),
# and the sender, a local virtual mailbox, gets the DSN.
#  - ORCPT=rfc822;orig@client.test given at RCPT goes out with one
#    addr-type (RFC 3461 4.2), the DSN prints it verbatim as Postfix
#    ("Original-Recipient: rfc822;orig2@client.test"), and the log has
#    no orig_to= (Postfix logs orig_to only for alias expansion).
#  - SIZE= in MAIL FROM is the octet count of the DATA that follows
#    (CRLF line ends, dot-stuffing undone), RFC 1870.
#  - a 550 from the next hop gives "Remote-MTA: dns; 127.0.0.1" and
#    "Diagnostic-Code: smtp; 550 5.1.1 ..." in the DSN (RFC 3464).
#  - qmgr's from=<...> and pickup's uid=N from=<...> keep a 132-octet
#    sender whole (no 100-octet cut).
#  - lines over 998 octets go out folded with CRLF SP at 998, exactly
#    as Postfix's smtp_text_out(); a stray CR (x<CR>.<CR>y, <CR>.<CR>,
#    endcr<CR><CR>) is a space from receipt on (Postfix 3.9): no bare CR
#    or LF on the wire, "x . y" in a local Maildir.
#  - postqueue -p prints Postfix's long-queue-id layout byte for byte
#    (showq_compat.c's formats) with the whole 200-octet reason.
#  - relay=host[addr]:port once connected: a refused STARTTLS (logged
#    with the server's 4.7.0), a 421 greeting (4.3.2), no greeting
#    within smtp_helo_timeout.
# Runs in about 12 s.
# The instance receives on 127.0.0.1 from mynetworks: the seed's
# smtpd_recipient_restrictions (reject_unauth_destination before any
# permit for mynetworks, reject_unknown_recipient_domain: DNS) become
# permit_mynetworks so the test's client may relay. Ports 21500-21599.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

SMTP=$(free_port 21500 21519) SUB=$(free_port 21520 21539)
OKP=$(free_port 21540 21559) TLSP=$(free_port 21560 21579)
BUSYP=$(free_port 21580 21589) MUTEP=$(free_port 21590 21599)
TOP=$(mktemp -d /tmp/postern-54.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
trap 'instance_cleanup; rm -rf "$TOP"' EXIT

instance_create "$DIR" "$SMTP" "$SUB"
ok $? "instance created (ports $SMTP $SUB; next hop $OKP)"
E=$INSTANCE_CONF
printf 'ok.example smtp:[127.0.0.1]:%s\ntls.example smtp:[127.0.0.1]:%s\nbusy.example smtp:[127.0.0.1]:%s\nmute.example smtp:[127.0.0.1]:%s\n' \
	"$OKP" "$TLSP" "$BUSYP" "$MUTEP" > "$E/transport"
printf '[127.0.0.1]:%s encrypt\n' "$TLSP" > "$E/tls_policy"
instance_relay "smtp_tls_policy_maps=texthash:$E/tls_policy" \
	"smtp_tls_security_level=may" "smtp_helo_timeout=2s" \
	"virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=inline:{user1@example.com=example.com/user1/}"
ok $? "postconf -e: transport_maps to the raw sink, a local sender"

instance_sinks raw_sink.py "$TOP" "raw sink" \
	ok:$OKP:ok tls:$TLSP:tls454 busy:$BUSYP:greet421 mute:$MUTEP:silent

instance_start
ok $? "master starts" || { done_testing; exit 1; }

# send_raw FROM RCPT-LINE... < message: one SMTP session, the message's
# bytes as given (only the final .CRLF added); prints the replies.
send_raw() {
	local from=$1
	shift
	/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_dialog.py" send "$SMTP" \
		"<$from>" "$@"
}

# --- ORCPT once; SIZE counts CRLF ------------------------------------------
msg=$'From: user1@example.com\r\nTo: x@ok.example\r\nSubject: orcpt\r\n\r\nline one\r\n..leading dot\r\nlast\r\n'
out=$(printf '%s' "$msg" | send_raw user1@example.com \
	'<x@ok.example> NOTIFY=FAILURE ORCPT=rfc822;orig@client.test' \
	'<reject1@ok.example> NOTIFY=FAILURE ORCPT=rfc822;orig2@client.test')
like "$out" $'\n250 2.0.0 Ok: queued as' "postern accepts the ORCPT message"
wait_for "[ -f '$TOP/ok/1.raw' ]" 60
ok $? "the next hop got a session"
raw=$(tr -d '\r' < "$TOP/ok/1.raw" 2>/dev/null)
like "$raw" $'\nRCPT TO:<x@ok.example> ORCPT=rfc822;orig@client.test NOTIFY=FAILURE\n' \
	"RCPT carries ORCPT=rfc822;orig@client.test (one addr-type)"
unlike "$raw" 'rfc822;rfc822' "no doubled addr-type on the wire"
size=$(/usr/bin/python3 - "$TOP/ok/1.raw" <<'PY'
import re, sys
raw = open(sys.argv[1], 'rb').read()
m = re.search(rb'MAIL FROM:<[^>]*>[^\r]* SIZE=(\d+)', raw)
data = raw.split(b'\r\nDATA\r\n', 1)[1]
data = data[:data.index(b'\r\n.\r\n') + 2]   # up to the final CRLF.CRLF
data = re.sub(rb'(?m)^\.', b'', data)   # dot-stuffing undone
print(m.group(1).decode() if m else 'none', len(data))
PY
)
set -- $size
is "$1" "$2" "SIZE= ($1) is the octet count of the DATA content ($2)"

wait_for "[ -n \"\$(find '$INSTANCE_MAIL/example.com/user1/new' -type f 2>/dev/null)\" ]" 60
ok $? "the sender gets the DSN for reject1@ok.example"
dsn=$(cat "$INSTANCE_MAIL"/example.com/user1/new/* 2>/dev/null)
like "$dsn" $'\nFinal-Recipient: rfc822; reject1@ok.example\nOriginal-Recipient: rfc822;orig2@client.test\n' \
	"DSN: Original-Recipient: rfc822;orig2@client.test (the ORCPT verbatim, as Postfix)"
like "$dsn" $'\nStatus: 5.1.1\nRemote-MTA: dns; 127.0.0.1\nDiagnostic-Code: smtp; 550 5.1.1 <reject1@ok.example>: Recipient address rejected: no such user\n' \
	"DSN: Remote-MTA: dns; host and Diagnostic-Code: smtp; the server's reply (RFC 3464)"
unlike "$dsn" 'rfc822; rfc822;' "DSN: no doubled addr-type"
wait_for "instance_log_grep 'to=<x@ok.example>, relay=127.0.0.1\\[127.0.0.1\\]:$OKP, .*status=sent'" 30
ok $? "maillog: x@ok.example sent"
instance_log_grep 'to=<x@ok.example>, orig_to=' >/dev/null
isnt $? 0 "maillog: no orig_to= from an ORCPT parameter (Postfix logs none)"

# --- qmgr logs an envelope address whole (no 100-character cut) -----------
LONGS=$(printf 'l%.0s' $(seq 60))@$(printf 'sub%.0s' $(seq 20)).ok.example
printf 'Subject: long sender\r\n\r\nx\r\n' | send_raw "$LONGS" '<y@ok.example>' \
	>/dev/null
wait_for "instance_log_grep 'to=<y@ok.example>, .*status=sent'" 60
ok $? "the message from a ${#LONGS}-character sender is sent"
instance_log_grep "qmgr\\[[0-9]*\\]: [0-9A-Z]*: from=<$LONGS>, size=" >/dev/null
ok $? "qmgr: from=<the whole ${#LONGS}-character sender>, as Postfix logs it"
printf 'Subject: picked up\n\nx\n' | "$POSTERN_BIN/sendmail" -C "$E" -i \
	-f "$LONGS" y2@ok.example
wait_for "instance_log_grep 'pickup\\[[0-9]*\\]: [0-9A-Z]*: uid=[0-9]* from=<$LONGS>\$'" 30
ok $? "pickup: uid=N from=<the whole sender> (sendmail)"
wait_for "instance_log_grep 'to=<y2@ok.example>, .*status=sent'" 60
ok $? "  and it is sent"

# --- long lines folded at smtp_line_length_limit; no bare CR leaves --------
/usr/bin/python3 - > "$TOP/long.msg" <<'PY'
import sys
body = (b'A' * 998 + b'\r\n' + b'B' * 2500 + b'\r\n' + b'x\r.\ry\r\n' +
        b'\r.\r\n' + b'endcr\r\r\n' + b'..dot ' + b'C' * 1200 + b'\r\n')
sys.stdout.buffer.write(b'Subject: long\r\n\r\n' + body)
PY
out=$(send_raw user1@example.com '<long@ok.example>' < "$TOP/long.msg")
like "$out" $'\n250 2.0.0 Ok: queued as' "postern accepts the long-line, bare-CR message"
wait_for "[ -n \"\$(grep -l 'RCPT TO:<long@ok.example>' '$TOP'/ok/*.raw 2>/dev/null)\" ]" 60
ok $? "the next hop got it"
raw=$(grep -l 'RCPT TO:<long@ok.example>' "$TOP"/ok/*.raw | head -1)
res=$(/usr/bin/python3 - "$raw" <<'PY'
import re, sys
raw = open(sys.argv[1], 'rb').read()
wire = raw.split(b'\r\nDATA\r\n', 1)[1]
wire = wire[:wire.index(b'\r\n.\r\n') + 2]
bad = re.search(rb'\r(?!\n)|(?<!\r)\n', wire)
print('bare' if bad else 'clean')
# dot-stuffing undone: Postfix does not count the stuffing dot either
wire = re.sub(rb'(?m)^\.', b'', wire)
lines = wire.split(b'\r\n')[:-1]
print('longest', max(len(l) for l in lines))
body = wire.split(b'\r\n\r\n', 1)[1]
def fold(line, limit=998):   # Postfix smtp_text_out(): CRLF SP
    out, col = b'', 0
    for ch in line:
        if col >= limit:
            out += b'\r\n '
            col = 1
        out += bytes([ch])
        col += 1
    return out
want = b''.join(fold(l) + b'\r\n' for l in [
    # every stray CR is a space from receipt on (Postfix 3.9's
    # cleanup_replace_stray_cr_lf), endcr<CR><CR><LF> too
    b'A' * 998, b'B' * 2500, b'x . y', b' .', b'endcr ',
    b'.dot ' + b'C' * 1200])
print('same' if body == want else 'differs')
if body != want:
    print(repr(body), file=sys.stderr)
PY
)
like "$res" '^clean' "no bare CR or LF in what went out (x<CR>.<CR>y, <CR>.<CR>, endcr<CR><CR>)"
like "$res" $'\nlongest 998\n' "no line over 998 octets on the wire"
like "$res" $'\nsame$' "body folded as Postfix (998, CRLF SP), a 998-octet line unchanged, a stray CR a space"

# --- the stray CR is a space from receipt on: a local Maildir too ---------
before=$(ls "$INSTANCE_MAIL/example.com/user1/new" | wc -l)
printf 'Subject: local cr\r\n\r\nlocal x\r.\ry\r\n' | send_raw user1@example.com \
	'<user1@example.com>' >/dev/null
wait_for "[ \$(ls '$INSTANCE_MAIL/example.com/user1/new' | wc -l) -gt $before ]" 60
ok $? "the local message is delivered"
got=$(grep -l 'Subject: local cr' "$INSTANCE_MAIL"/example.com/user1/new/* 2>/dev/null |
	head -1)
ok "$(grep -q $'^local x \\. y$' "$got" 2>/dev/null; echo $?)" \
	"Maildir: x<CR>.<CR>y stored as 'x . y' (Postfix 3.9's stray-CR rule)"

# --- postqueue -p: Postfix's long-queue-id layout, the whole reason --------
msg=$'From: user1@example.com\r\nSubject: deferred\r\n\r\nwait\r\n'
out=$(printf '%s' "$msg" | send_raw user1@example.com '<defer1@ok.example>' \
	'<defer2@ok.example>')
like "$out" $'\n250 2.0.0 Ok: queued as' "postern accepts mail for defer1/defer2"
wait_for "[ \$(instance_log_count 'to=<defer[12]@ok.example>, .*status=deferred') -ge 2 ]" 60
ok $? "maillog: both recipients deferred (450 from the next hop)"
reason=$(instance_log_grep 'to=<defer1@ok.example>, .*status=deferred' |
	head -1 | sed 's/.*status=deferred (\(.*\))$/\1/')
qid=$(instance_log_grep 'to=<defer1@ok.example>, ' | head -1 |
	sed 's/.*: \([0-9A-Z]*\): to=.*/\1/')
cmp_listing() {	# name mark: the listing re-rendered with Postfix's formats
	/usr/bin/python3 - "$TOP/pq.out" "$qid" "$2" "$reason" <<'PY'
import re, sys
text = open(sys.argv[1], encoding='latin-1').read()
qid, mark, reason = sys.argv[2], sys.argv[3], sys.argv[4]
m = re.search(r'^%s\S* +(\d+) (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) ' %
              re.escape(qid), text, re.M)
if not m:
    print('no row for', qid); print(text); sys.exit(1)
L_STRING, L_SENDER = '%-17s %8s %-19s %s\n', '%-17s %8d %19.19s %s\n'
want = L_STRING % ('----Queue ID-----', '--Size--',
                   '---Arrival Time----', '--Sender/Recipient------')
want += L_SENDER % (qid + mark, int(m.group(1)), m.group(2),
                    'user1@example.com')
if mark != '!':
    want += '%*s(%s)\n' % (max(76 - len(reason), 0), '', reason)
want += L_STRING % ('', '', '', 'defer1@ok.example')
want += L_STRING % ('', '', '', 'defer2@ok.example')
want += '\n-- 0 Kbytes in 1 Request.\n'
if text != want:
    print('got:\n' + text + 'want:\n' + want); sys.exit(1)
PY
}
"$POSTERN_BIN/postqueue" -c "$E" -p > "$TOP/pq.out" 2>&1
ok $? "postqueue -p runs"
diag_out=$(cmp_listing deferred '')
rc=$?
ok $rc "postqueue -p, deferred: Postfix's long-id columns, the whole ${#reason}-character reason"
[ $rc = 0 ] || diag "$diag_out"

# --- relay= once connected; a refused STARTTLS keeps the server's 4.7.0 ----
printf 'Subject: tls\r\n\r\nx\r\n' | send_raw user1@example.com '<a@tls.example>' \
	>/dev/null
printf 'Subject: busy\r\n\r\nx\r\n' | send_raw user1@example.com '<a@busy.example>' \
	>/dev/null
printf 'Subject: mute\r\n\r\nx\r\n' | send_raw user1@example.com '<a@mute.example>' \
	>/dev/null
wait_for "instance_log_grep 'to=<a@tls.example>, .*status=deferred'" 60
line=$(instance_log_grep 'to=<a@tls.example>, .*status=deferred' | head -1)
like "$line" "to=<a@tls.example>, relay=127.0.0.1\\[127.0.0.1\\]:$TLSP, .*dsn=4\\.7\\.0, status=deferred \\(TLS is required, but host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:?[0-9]* refused to start TLS: 454 4\\.7\\.0 TLS not available" \
	"STARTTLS refused with 454 4.7.0: relay=host[addr]:port, dsn=4.7.0 as the server said"
wait_for "instance_log_grep 'to=<a@busy.example>, .*status=deferred'" 60
line=$(instance_log_grep 'to=<a@busy.example>, .*status=deferred' | head -1)
like "$line" "to=<a@busy.example>, relay=127.0.0.1\\[127.0.0.1\\]:$BUSYP, .*dsn=4\\.3\\.2, status=deferred \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:?[0-9]* refused to talk to me: 421 4\\.3\\.2 sink busy\\)" \
	"421 greeting: relay=host[addr]:port, dsn=4.3.2"
wait_for "instance_log_grep 'to=<a@mute.example>, .*status=deferred'" 60
line=$(instance_log_grep 'to=<a@mute.example>, .*status=deferred' | head -1)
like "$line" "to=<a@mute.example>, relay=127.0.0.1\\[127.0.0.1\\]:$MUTEP, .*status=deferred \\(.*timed out.*greeting" \
	"no greeting within smtp_helo_timeout: relay=host[addr]:port"

sanitizer_ok "$(cat "$DIR/master.out")" "no sanitizer reports from any process"
instance_stop
ok $? "instance stops, no process left"
done_testing
