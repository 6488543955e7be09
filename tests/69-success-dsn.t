#!/bin/bash
# 69-success-dsn.t - success DSNs only where RFC 3461 says (issue 12
# item 2): a full instance relays through transport_maps to raw-byte
# recording servers (tests/lib/raw_sink.py), one that offers DSN and one
# that does not; the sender is a local virtual mailbox.
#  - NOTIFY=SUCCESS to a next hop without DSN: the sender gets a success
#    DSN with "Action: relayed" (RFC 3461 5.2), and NOTIFY is not sent
#    (the server did not offer it); its headers part is "Message
#    Headers" as Postfix writes it, not "Undelivered Message Headers".
#  - NOTIFY=SUCCESS to a next hop with DSN: NOTIFY=SUCCESS goes out on
#    RCPT and no success DSN is sent here (the next hop is now
#    responsible, as Postfix's smtp client does): qmgr logs "removed"
#    with no "sender delivery status notification" line first, and no
#    DSN in the Maildir names that recipient.
#  - NOTIFY=SUCCESS for a local mailbox still gives "Action: delivered".
#  - notify_classes (issue 12 item 3), the seed's value first (resource,
#    software, 2bounce): a bounce that cannot be delivered goes to
#    2bounce_notice_recipient as Postfix's "Postmaster Copy: Undelivered
#    Mail" (the reasons, no boiler-plate, the whole message) from
#    double-bounce@$myorigin; a plain bounce is not copied. After a
#    reload with "bounce": bounce_notice_recipient gets the headers of
#    each bounce, and a postmaster copy that itself fails is discarded
#    with "undeliverable postmaster notification discarded"; with
#    "delay", delay_notice_recipient gets "Postmaster Warning: Delayed
#    Mail" with the headers.
# Runs in about 8 s.
# The instance receives on 127.0.0.1 from mynetworks (the seed's
# smtpd_recipient_restrictions become permit_mynetworks so the test's
# client may relay). Ports 21900-21959.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

SMTP=$(free_port 21900 21919) SUB=$(free_port 21920 21939)
DSNP=$(free_port 21940 21949) NODSNP=$(free_port 21950 21959)
TOP=$(mktemp -d /tmp/postern-69.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
trap 'instance_cleanup; rm -rf "$TOP"' EXIT

instance_create "$DIR" "$SMTP" "$SUB"
ok $? "instance created (ports $SMTP $SUB; next hops $DSNP $NODSNP)"
E=$INSTANCE_CONF
printf 'dsn.example smtp:[127.0.0.1]:%s\nnodsn.example smtp:[127.0.0.1]:%s\n' \
	"$DSNP" "$NODSNP" > "$E/transport"
instance_relay "smtp_tls_security_level=none" \
	"virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=inline:{user1@example.com=example.com/user1/,user2@example.com=example.com/user2/}" \
	"2bounce_notice_recipient=user2@example.com"
ok $? "postconf -e: transport_maps to the raw sinks, local senders"

instance_sinks raw_sink.py "$TOP" "raw sink" \
	dsn:$DSNP:ok nodsn:$NODSNP:nodsn

instance_start
ok $? "master starts" || { done_testing; exit 1; }

# send FROM RCPT-LINE SUBJECT: one SMTP session; prints the replies
send() {
	printf 'From: %s\r\nSubject: %s\r\n\r\nsecret body\r\n' "$1" "$3" |
		/usr/bin/python3 "$POSTERN_TOP/tests/lib/smtp_dialog.py" send \
		"$SMTP" "<$1>" "$2"
}
MBOX=$INSTANCE_MAIL/example.com/user1/new

# --- a next hop with DSN: NOTIFY passed on, no success DSN here ------------
out=$(send user1@example.com '<b@dsn.example> NOTIFY=SUCCESS' 'to dsn')
like "$out" $'\n250 2.0.0 Ok: queued as' "postern accepts NOTIFY=SUCCESS for b@dsn.example"
qid=$(printf '%s\n' "$out" | sed -n 's/.*Ok: queued as \([0-9A-Z]*\).*/\1/p')
wait_for "instance_log_grep ': $qid: removed'" 60
ok $? "the message to the DSN next hop is done ($qid removed)"
wait_for "[ -f '$TOP/dsn/1.raw' ]" 30
raw=$(tr -d '\r' < "$TOP/dsn/1.raw" 2>/dev/null)
like "$raw" $'\nRCPT TO:<b@dsn.example> ORCPT=rfc822;b@dsn.example NOTIFY=SUCCESS[ \n]' \
	"RCPT to the DSN next hop carries NOTIFY=SUCCESS"
line=$(instance_log_grep "to=<b@dsn.example>, " | head -1)
like "$line" "relay=127.0.0.1\\[127.0.0.1\\]:$DSNP, .*dsn=2\\.0\\.0, status=sent" \
	"maillog: b@dsn.example sent"
instance_log_grep ": $qid: sender delivery status notification" >/dev/null
isnt $? 0 "no success DSN queued for b@dsn.example (the next hop took NOTIFY over)"

# --- a next hop without DSN: Action: relayed --------------------------------
out=$(send user1@example.com '<a@nodsn.example> NOTIFY=SUCCESS,FAILURE' \
	'to nodsn')
like "$out" $'\n250 2.0.0 Ok: queued as' "postern accepts NOTIFY=SUCCESS for a@nodsn.example"
wait_for "[ -n \"\$(grep -l 'a@nodsn.example' '$MBOX'/* 2>/dev/null)\" ]" 60
ok $? "the sender gets a success DSN for a@nodsn.example"
wait_for "[ -f '$TOP/nodsn/1.raw' ]" 30
raw=$(tr -d '\r' < "$TOP/nodsn/1.raw" 2>/dev/null)
like "$raw" $'\nRCPT TO:<a@nodsn.example>\n' \
	"no NOTIFY to a next hop that does not offer DSN"
dsn=$(cat $(grep -l 'a@nodsn.example' "$MBOX"/* 2>/dev/null) /dev/null)
like "$dsn" $'\nSubject: Successful Mail Delivery Report\n' "DSN: the success report"
like "$dsn" $'\nFinal-Recipient: rfc822; a@nodsn.example\nOriginal-Recipient: rfc822;a@nodsn.example\nAction: relayed\nStatus: 2.0.0\n' \
	"DSN: Action: relayed, Status: 2.0.0 (RFC 3461 5.2)"
like "$dsn" $'\nContent-Description: Message Headers\nContent-Type: text/rfc822-headers\n' \
	"DSN: the headers part is \"Message Headers\" (Postfix's success wording)"
unlike "$dsn" 'Undelivered Message' "DSN: nothing called undelivered"
like "$dsn" $'\nSubject: to nodsn\n' "DSN: the original headers are returned"
unlike "$dsn" 'secret body' "DSN: the body is not"
n=$(grep -l 'b@dsn.example' "$MBOX"/* 2>/dev/null | wc -l)
is "$n" 0 "no DSN in the Maildir names b@dsn.example"

# --- a local mailbox: Action: delivered -------------------------------------
out=$(send user1@example.com '<user2@example.com> NOTIFY=SUCCESS' 'to local')
like "$out" $'\n250 2.0.0 Ok: queued as' "postern accepts NOTIFY=SUCCESS for user2@example.com"
wait_for "[ -n \"\$(grep -l 'Final-Recipient: rfc822; user2@example.com' '$MBOX'/* 2>/dev/null)\" ]" 60
ok $? "the sender gets a success DSN for the local delivery"
dsn=$(cat $(grep -l 'Final-Recipient: rfc822; user2@example.com' "$MBOX"/* 2>/dev/null) /dev/null)
like "$dsn" $'\nFinal-Recipient: rfc822; user2@example.com\nOriginal-Recipient: rfc822;user2@example.com\nAction: delivered\nStatus: 2.0.0\n' \
	"DSN: a mailbox delivery is Action: delivered"

# --- notify_classes, the seed's value (resource, software, 2bounce) --------
PMBOX=$INSTANCE_MAIL/example.com/user2/new
out=$(send '' '<reject1@dsn.example>' 'bounce of a bounce')
like "$out" $'\n250 2.0.0 Ok: queued as' "postern accepts a null-sender message for reject1@dsn.example"
qid=$(printf '%s\n' "$out" | sed -n 's/.*Ok: queued as \([0-9A-Z]*\).*/\1/p')
wait_for "[ -n \"\$(grep -l 'Final-Recipient: rfc822; reject1@dsn.example' '$PMBOX'/* 2>/dev/null)\" ]" 60
ok $? "2bounce: 2bounce_notice_recipient gets the undeliverable bounce" || diag "$(tail -20 "$INSTANCE_LOG")"
pm=$(cat $(grep -l 'Final-Recipient: rfc822; reject1@dsn.example' "$PMBOX"/* 2>/dev/null) /dev/null)
like "$pm" $'\nSubject: Postmaster Copy: Undelivered Mail\n' "2bounce: Subject: Postmaster Copy: Undelivered Mail"
like "$pm" $'^Return-Path: <double-bounce@[^>]+>\n' "2bounce: from double-bounce@\$myorigin (a failed copy is never bounced again)"
like "$pm" $'\nTo: user2@example.com\n' "2bounce: To: the notice recipient"
like "$pm" $'\nFinal-Recipient: rfc822; reject1@dsn.example\nOriginal-Recipient: rfc822;reject1@dsn.example\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; 127.0.0.1\n' \
	"2bounce: the failed recipient, Action: failed, Status: 5.1.1"
like "$pm" $'\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\n' \
	"2bounce: the whole message is attached"
like "$pm" 'secret body' "2bounce: ... body included"
unlike "$pm" "I'm sorry" "2bounce: no boiler-plate text (Postfix sends the reasons only)"
instance_log_grep ": $qid: postmaster non-delivery notification: " >/dev/null
ok $? "maillog: $qid: postmaster non-delivery notification: ID"

out=$(send user1@example.com '<reject2@dsn.example>' 'plain bounce')
qid=$(printf '%s\n' "$out" | sed -n 's/.*Ok: queued as \([0-9A-Z]*\).*/\1/p')
wait_for "instance_log_grep ': $qid: removed'" 60
ok $? "a bounce to user1 for reject2@dsn.example is done"
wait_for "[ -n \"\$(grep -l 'Final-Recipient: rfc822; reject2@dsn.example' '$MBOX'/* 2>/dev/null)\" ]" 60
ok $? "the sender gets the bounce"
instance_log_grep ": $qid: postmaster non-delivery notification" >/dev/null
isnt $? 0 "no postmaster copy of a plain bounce without the bounce class"

# --- notify_classes = resource, software, bounce, delay (after a reload) ---
instance_conf "notify_classes=resource, software, bounce, delay" \
	"bounce_notice_recipient=user2@example.com" \
	"delay_notice_recipient=user2@example.com" \
	"2bounce_notice_recipient=reject-pm@dsn.example" \
	"delay_warning_time=1s" "minimal_backoff_time=1s" \
	"maximal_backoff_time=1s" "queue_run_delay=1s"
n=$(instance_log_count 'reload -- version')
"$POSTERN_BIN/postern" -c "$E" reload >/dev/null 2>&1
ok $? "postern reload with notify_classes = resource, software, bounce, delay"
wait_for "[ \$(instance_log_count 'reload -- version') -gt $n ]" 30
out=$(send user1@example.com '<reject3@dsn.example>' 'copied bounce')
qid=$(printf '%s\n' "$out" | sed -n 's/.*Ok: queued as \([0-9A-Z]*\).*/\1/p')
wait_for "[ -n \"\$(grep -l 'Final-Recipient: rfc822; reject3@dsn.example' '$PMBOX'/* 2>/dev/null)\" ]" 60
ok $? "bounce: bounce_notice_recipient gets a copy of the bounce"
pm=$(cat $(grep -l 'Final-Recipient: rfc822; reject3@dsn.example' "$PMBOX"/* 2>/dev/null) /dev/null)
like "$pm" $'\nSubject: Postmaster Copy: Undelivered Mail\n' "bounce: Subject: Postmaster Copy: Undelivered Mail"
like "$pm" $'\nContent-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n' \
	"bounce: the headers only"
unlike "$pm" 'secret body' "bounce: ... no body"
like "$pm" $'\nX-Postfix-Sender: rfc822; user1@example.com\n' "bounce: names the original sender"
wait_for "[ -n \"\$(grep -l 'Final-Recipient: rfc822; reject3@dsn.example' '$MBOX'/* 2>/dev/null)\" ]" 60
ok $? "bounce: the sender still gets the bounce"

out=$(send '' '<reject4@dsn.example>' 'copy bounces too')
wait_for "instance_log_grep 'undeliverable postmaster notification discarded'" 60
ok $? "a postmaster copy that bounces (reject-pm@dsn.example) is discarded with Postfix's warning, not bounced again"

out=$(send user1@example.com '<defer1@dsn.example>' 'delayed one')
qid=$(printf '%s\n' "$out" | sed -n 's/.*Ok: queued as \([0-9A-Z]*\).*/\1/p')
wait_for "[ -n \"\$(grep -l 'Subject: Postmaster Warning: Delayed Mail' '$PMBOX'/* 2>/dev/null)\" ]" 60
ok $? "delay: delay_notice_recipient gets a copy of the delay warning" || diag "$(tail -20 "$INSTANCE_LOG")"
pm=$(cat $(grep -l 'Subject: Postmaster Warning: Delayed Mail' "$PMBOX"/* 2>/dev/null) /dev/null)
like "$pm" $'\nFinal-Recipient: rfc822; defer1@dsn.example\nOriginal-Recipient: rfc822;defer1@dsn.example\nAction: delayed\nStatus: 4.2.2\n' \
	"delay: the delayed recipient, Action: delayed, Status: 4.2.2"
like "$pm" $'\nContent-Description: Undelivered Message Headers\n' "delay: the headers only"
unlike "$pm" 'secret body' "delay: ... no body"
instance_log_grep ": $qid: postmaster delay notification: " >/dev/null
ok $? "maillog: $qid: postmaster delay notification: ID"
wait_for "[ -n \"\$(grep -l 'Subject: Delayed Mail (still being retried)' '$MBOX'/* 2>/dev/null)\" ]" 30
ok $? "delay: the sender still gets the delay warning"

sanitizer_ok "$(cat "$DIR/master.out")" "no sanitizer reports from any process"
instance_stop
ok $? "instance stops, no process left"
done_testing
