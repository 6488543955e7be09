#!/bin/bash
# 73-postfix-compare.t - postern and a private Debian Postfix side by side
# (issue 12's Must-show). Both MTAs get the same settings (the seed's
# myhostname, example.com as a virtual mailbox domain with user1 and
# postmaster, transport_maps to the same raw-byte recording servers,
# tests/lib/raw_sink.py, which tell the two apart by the EHLO name:
# pt.example for postern, pf.example for Postfix) and the same messages
# and DSN requests over SMTP, and the test compares, normalized by
# tests/lib/pf_compare.py:
#  - the bytes each next hop received: MAIL/RCPT parameters (ORCPT
#    before NOTIFY, an ORCPT for every recipient, BODY, SIZE= equal to
#    the DATA octets), the DATA content without the Received: header:
#    lines over 998 octets folded with CRLF SP, a stray CR a space (no
#    bare CR or LF), 8-bit MIME converted to quoted-printable for a
#    server without 8BITMIME; RCPT lines are compared sorted (Postfix's
#    qmgr sorts a message's recipients);
#  - the DSNs each sender received, parsed as RFC 3464 (Action, Status,
#    Original-Recipient, Remote-MTA, Diagnostic-Code), success DSNs only
#    where RFC 3461 says (relayed to a next hop without DSN; none when
#    the next hop took NOTIFY);
#  - the postmaster copies per notify_classes (the seed's "resource,
#    software, 2bounce" plus bounce, policy, protocol: a double bounce,
#    the bounce copies, and smtpd's transcripts of a session with
#    protocol errors, one with a policy reject and one with a software
#    error: an access map result that is no restriction, 451 4.3.5);
#  - postqueue -p on the same queue shapes (active: a next hop that never
#    greets; deferred with a 200-character reason; hold) with Postfix's
#    enable_long_queue_ids = yes: the layout byte for byte, ids, sizes
#    and dates masked;
#  - the delivery log fields to=, orig_to=, relay=, dsn=, status=.
# Then postern alone, reloaded with the seed's notify_classes and
# disable_mime_output_conversion = yes: no transcript for a protocol
# error or a policy reject, one for a software error; the 8-bit message
# goes raw.
# Where postern differs on purpose the check says why (README,
# "Differences from Postfix"):
#  - when converting 8-bit MIME, postern sends SIZE= of the converted
#    message, Postfix sends no SIZE.
# (Debian's Postfix 3.7.11 already makes a stray CR a space, like 3.9:
# there both agree.)
# Needs root (Postfix's master) and /usr/sbin/postfix (tools/deps.txt,
# group test). Runs in 25-60 s (machine load). Ports 27300-27399.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"
. "$POSTERN_TOP/tests/lib/need.sh"

need_root 1 "a private Postfix instance" || { done_testing; exit 0; }
need_prog 1 /usr/sbin/postfix "Postfix to compare with" ||
	{ done_testing; exit 0; }

PT=$(free_port 27300 27319) PTSUB=$(free_port 27320 27339)
PF=$(free_port 27340 27359) OKP=$(free_port 27360 27369)
NODSNP=$(free_port 27370 27379) OLDP=$(free_port 27380 27389)
MUTEP=$(free_port 27390 27399)
MUTE_PID=
TOP=$(mktemp -d /tmp/postern-73.XXXXXX)
chmod 755 "$TOP"
PFD=$TOP/postfix
PF_MASTER=
SINKS=
pf_stop() {
	local pids p
	[ -n "$PF_MASTER" ] || return 0
	pids=$(ps -e -o pid=,ppid= | awk -v r="$PF_MASTER" '$2 == r { print $1 }')
	script -qc "postfix -c $PFD/etc stop" /dev/null >>"$PFD/start.out" 2>&1
	wait_for "! pid_alive $PF_MASTER" 30
	for p in $pids; do pid_alive "$p" && kill -KILL "$p" 2>/dev/null; done
	PF_MASTER=
}
trap 'pf_stop; for p in $SINKS; do kill $p 2>/dev/null; wait $p 2>/dev/null; done
	instance_cleanup; rm -rf "$TOP"' EXIT
CMP="/usr/bin/python3 $POSTERN_TOP/tests/lib/pf_compare.py"
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)

# --- the next hops -----------------------------------------------------------
for k in ok:$OKP:ok nodsn:$NODSNP:nodsn old:$OLDP:no8bit mute:$MUTEP:silent
do
	IFS=: read -r name port mode <<<"$k"
	mkdir -p "$TOP/$name"
	/usr/bin/python3 "$POSTERN_TOP/tests/lib/raw_sink.py" "$port" \
		"$TOP/$name" "$mode" >"$TOP/sink-$name.out" 2>&1 &
	SINKS="$SINKS $!"
	[ "$name" = mute ] && MUTE_PID=$!
done
printf '%s\n' "ok.example smtp:[127.0.0.1]:$OKP" \
	"nodsn.example smtp:[127.0.0.1]:$NODSNP" \
	"old.example smtp:[127.0.0.1]:$OLDP" \
	"mute.example smtp:[127.0.0.1]:$MUTEP" > "$TOP/transport"
chmod 644 "$TOP/transport"
MBOX="inline:{user1@example.com=example.com/user1/, postmaster@example.com=example.com/postmaster/}"
# the settings both get (name=value)
COMMON=("transport_maps=texthash:$TOP/transport" "relayhost="
	"mynetworks=127.0.0.0/8"
	"smtpd_relay_restrictions=permit_mynetworks, reject"
	"smtpd_recipient_restrictions=check_recipient_access inline:{hold@ok.example=HOLD, deny@ok.example=REJECT, soft@ok.example=no_such_restriction}, permit_mynetworks, reject"
	"notify_classes=resource, software, 2bounce, bounce, policy, protocol"
	"smtp_tls_security_level=may" "alias_maps=" "alias_database="
	"virtual_mailbox_domains=example.com" "virtual_mailbox_maps=$MBOX"
	"virtual_alias_maps=" "virtual_uid_maps=static:$VUID"
	"virtual_gid_maps=static:$VGID" "delay_warning_time=6h")

# --- postern -------------------------------------------------------------
instance_create "$TOP/pt" "$PT" "$PTSUB"
ok $? "postern instance created (port $PT; sinks $OKP $NODSNP $OLDP $MUTEP)"
chown "$VUID:$VGID" "$INSTANCE_MAIL"
instance_conf "${COMMON[@]}" "smtp_helo_name=pt.example" \
	"postscreen_access_list=permit_mynetworks" "sender_canonical_maps=" \
	"canonical_maps=" "smtp_generic_maps=" "smtp_sasl_password_maps="
ok $? "postern: the common settings"

# --- Postfix (Debian's, private: own queue, config, log, ports) ------------
mkdir -p "$PFD/etc" "$PFD/queue" "$PFD/data" "$PFD/mail"
chown postfix "$PFD/data"
chown "$VUID:$VGID" "$PFD/mail"
chmod 755 "$PFD" "$PFD/etc"
{
	printf '%s\n' "compatibility_level = 3.6" \
		"config_directory = $PFD/etc" "queue_directory = $PFD/queue" \
		"data_directory = $PFD/data" "meta_directory = /etc/postfix" \
		"myhostname = server.example.com" "mydomain = example.com" \
		"myorigin = \$mydomain" "mydestination =" \
		"inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" \
		"disable_dns_lookups = yes" "smtp_host_lookup = native" \
		"maillog_file = $PFD/maillog" \
		"maillog_file_prefixes = /var, /dev/stdout, /tmp" \
		"virtual_mailbox_base = $PFD/mail" "virtual_minimum_uid = 1" \
		"enable_long_queue_ids = yes" "smtp_helo_name = pf.example"
	printf '%s\n' "${COMMON[@]}" | sed 's/=/ = /'
} > "$PFD/etc/main.cf"
awk -v p="127.0.0.1:$PF" '
	/^[^ \t#]/ && ($2 ~ /^(inet|unix|unix-dgram|fifo|pass)$/) {
		if ($1 == "smtp" && $2 == "inet") $1 = p
		$5 = "n"
	}
	{ print }' /etc/postfix/master.cf > "$PFD/etc/master.cf"
postfix -c "$PFD/etc" check > "$PFD/check.out" 2>&1
script -qc "postfix -c $PFD/etc start" /dev/null > "$PFD/start.out" 2>&1
wait_for "[ -s $PFD/queue/pid/master.pid ] && port_listening $PF" 20
ok $? "Postfix $(postconf -h -c "$PFD/etc" mail_version 2>/dev/null) starts privately on $PF" ||
	{ cat "$PFD/check.out" "$PFD/start.out" >&2; done_testing; exit 1; }
PF_MASTER=$(tr -d ' \n' < "$PFD/queue/pid/master.pid")

for p in $OKP $NODSNP $OLDP $MUTEP; do wait_for "port_listening $p" 15; done
ok $? "the four raw sinks listen"
instance_start
ok $? "postern starts" || { done_testing; exit 1; }

# same GOT WANT NAME: is, with a diff instead of both texts
same() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3"
		diag "$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$1") |
			sed 's/^</Postfix:/; s/^>/postern:/' | cut -c1-400)"
	fi
}

# both MSG FROM-PARAMS RCPT-LINE...: the same session to both MTAs
both() {
	local msg=$1 r1 r2
	shift
	r1=$(printf '%s' "$msg" | $CMP send "$PT" "$@")
	r2=$(printf '%s' "$msg" | $CMP send "$PF" "$@")
	like "$r1" $'\n250 2.0.0 Ok: queued as' "postern accepts: $1 $2"
	like "$r2" $'\n250 2.0.0 Ok: queued as' "Postfix accepts: $1 $2"
}
HDR=$'From: user1@example.com\r\nTo: x@ok.example\r\nDate: Thu, 3 Dec 2026 12:00:00 +0000\r\n'

# 1. ORCPT and NOTIFY, a rejected recipient (failure DSN)
both "${HDR}Message-ID: <m1@client.test>"$'\r\nSubject: orcpt\r\n\r\nline one\r\n..leading dot\r\nlast\r\n' \
	'<user1@example.com>' \
	'<x@ok.example> NOTIFY=FAILURE ORCPT=rfc822;orig@client.test' \
	'<reject1@ok.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;orig2@client.test'
# 2. long lines and a stray CR
LONG=$(printf 'A%.0s' $(seq 998))$'\r\n'$(printf 'B%.0s' $(seq 2500))$'\r\n'
both "${HDR}Message-ID: <m2@client.test>"$'\r\nSubject: long\r\n\r\n'"$LONG"$'x\r.\ry\r\nend\r\n' \
	'<user1@example.com>' '<long@ok.example>'
# 3. 8-bit MIME to a next hop without 8BITMIME
MIME8=$'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\nContent-Transfer-Encoding: 8bit\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9 = caf\xc3\xa9 \r\n'$(printf 'e\xcc\x81%.0s' $(seq 40))$'\r\n--b1\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xe9t\xe9\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n--b1--\r\n'
both "${HDR}Message-ID: <m3@client.test>"$'\r\nSubject: eight\r\n'"$MIME8" \
	'<user1@example.com> BODY=8BITMIME' '<a@old.example>'
# 4. NOTIFY=SUCCESS to a next hop without DSN (relayed) and with DSN (none)
both "${HDR}Message-ID: <m4@client.test>"$'\r\nSubject: success\r\n\r\nx\r\n' \
	'<user1@example.com>' '<s1@nodsn.example> NOTIFY=SUCCESS' \
	'<s2@ok.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;s2orig@client.test'
# 5. a bounce that cannot be delivered (2bounce)
both "${HDR}Message-ID: <m5@client.test>"$'\r\nSubject: double\r\n\r\nx\r\n' \
	'<reject9@ok.example>' '<reject2@ok.example>'
# 6-8. the queue shapes: deferred (long reason), hold, active
both "${HDR}Message-ID: <m6@client.test>"$'\r\nSubject: deferred\r\n\r\nwait\r\n' \
	'<user1@example.com>' '<defer1@ok.example>' '<defer2@ok.example>'
both "${HDR}Message-ID: <m7@client.test>"$'\r\nSubject: held\r\n\r\nx\r\n' \
	'<user1@example.com>' '<hold@ok.example>'
both "${HDR}Message-ID: <m8@client.test>"$'\r\nSubject: active\r\n\r\nx\r\n' \
	'<user1@example.com>' '<a@mute.example>'

# 9-10. sessions with a protocol error and a policy reject: with policy
# and protocol in notify_classes, a transcript each to the postmaster
for port in $PT $PF; do
	/usr/bin/python3 - "$port" <<'PY'
import os, sys
sys.path.insert(0, os.environ['POSTERN_TOP'] + '/tests/lib')
from smtp_dialog import session
port = int(sys.argv[1])
session(port, ['EHLO client.test', 'MAIL FROM:<bad', 'FOO bar', 'QUIT'], 30)
session(port, ['EHLO client.test', 'MAIL FROM:<user1@example.com>',
               'RCPT TO:<deny@ok.example>', 'QUIT'], 30)
session(port, ['EHLO client.test', 'MAIL FROM:<user1@example.com>',
               'RCPT TO:<soft@ok.example>', 'QUIT'], 30)
PY
done

# wait until both have done what they can: 3 DSNs to user1 (reject1, the
# relayed s1, and nothing else), 2 postmaster copies, both deferrals
PTM=$INSTANCE_MAIL/example.com PFM=$PFD/mail/example.com
settled() {
	[ "$(ls "$1/user1/new" 2>/dev/null | wc -l)" -ge 2 ] &&
	[ "$(ls "$1/postmaster/new" 2>/dev/null | wc -l)" -ge 6 ] &&
	[ "$(grep -c 'to=<defer[12]@ok.example>.*status=deferred' "$2")" -ge 2 ] &&
	[ "$(ls "$3"/*.raw 2>/dev/null | wc -l)" -ge 1 ]
}
wait_for "settled '$PTM' '$INSTANCE_LOG' '$TOP/old'" 60
ok $? "postern: DSNs, postmaster copies and deferrals are in"
wait_for "settled '$PFM' '$PFD/maillog' '$TOP/old'" 60
ok $? "Postfix: DSNs, postmaster copies and deferrals are in"
sleep 1		# a late, unexpected DSN would show below

# --- the bytes each next hop received -------------------------------------
for r in x@ok.example long@ok.example a@old.example s1@nodsn.example \
	s2@ok.example; do
	dir=$TOP/$(case $r in *@ok.*) echo ok;; *@old.*) echo old;;
		*@nodsn.*) echo nodsn;; esac)
	pt=$($CMP wire "$dir" pt.example "$r")
	pf=$($CMP wire "$dir" pf.example "$r")
	case $r in
	long@*)
		# a stray CR is a space from receipt on in both (Debian's
		# 3.7.11 has the cleanup_replace_stray_cr_lf of 3.9)
		like "$pt" $'\nx \\. y\\\\r\\\\n\n' "long: postern sends 'x . y' (no bare CR)"
		like "$pf" $'\nx \\. y\\\\r\\\\n\n' "long: Postfix sends 'x . y' (no bare CR)"
		# the CRLF SP folds are on the wire but in neither SIZE=
		# (Postfix: the queue file's size; postern: the CRLF count
		# before folding), and the Received: lines differ in length
		like "$pt" 'SIZE=[0-9]+!=' "long: postern's SIZE= leaves out the folds"
		like "$pf" 'SIZE=[0-9]+!=' "long: Postfix's SIZE= leaves out the folds"
		pt=$(sed 's/SIZE=[0-9]*!=[0-9]*/SIZE=folded/' <<<"$pt")
		pf=$(sed 's/SIZE=[0-9]*!=[0-9]*/SIZE=folded/' <<<"$pf") ;;
	a@old*)
		# on purpose: postern's SIZE= counts the converted octets
		like "$pt" 'MAIL FROM:<user1@example.com> SIZE=ok' \
			"8bit: postern's SIZE= is the converted message's"
		unlike "$pf" 'SIZE=' "8bit: Postfix sends no SIZE= when it converts"
		pt=${pt/ SIZE=ok/} ;;
	esac
	same "$pt" "$pf" "next hop bytes for $r: the same"
done

# --- the DSNs and the postmaster copies ---------------------------------------
for who in user1 postmaster; do
	pt=$($CMP dsns "$PTM/$who")
	pf=$($CMP dsns "$PFM/$who")
	same "$pt" "$pf" "the DSNs $who received: the same (RFC 3464 fields)"
done
# the transcripts are there (the seed's software class: an access map
# result that is no restriction, 451 4.3.5; protocol; policy)
for c in 'RCPT TO:<soft@ok.example>'$'\n'' Out: 451' \
	'FOO bar'$'\n'' Out: 50' 'RCPT TO:<deny@ok.example>'$'\n'' Out: 554'; do
	like "$pt" "$c" "postern's postmaster got the transcript with ${c%%$'\n'*}"
	like "$pf" "$c" "Postfix's postmaster got the transcript with ${c%%$'\n'*}"
done

# --- postqueue -p: active, deferred, hold ---------------------------------
"$POSTERN_BIN/postqueue" -c "$INSTANCE_CONF" -p > "$TOP/pt.q" 2>&1
postqueue -c "$PFD/etc" -p > "$TOP/pf.q" 2>&1
pt=$($CMP queue "$TOP/pt.q")
pf=$($CMP queue "$TOP/pf.q")
like "$pf" 'QID\* SIZE DATE' "Postfix's listing has the active message"
like "$pf" 'QID! SIZE DATE' "Postfix's listing has the held message"
unlike "$pt$pf" 'BAD LAYOUT' "every row in Postfix's long-queue-id layout"
same "$pt" "$pf" "postqueue -p: the same listing (ids, sizes, dates masked)"

# --- the delivery log --------------------------------------------------------
pt=$($CMP log "$INSTANCE_LOG")
pf=$($CMP log "$PFD/maillog")
same "$pt" "$pf" "delivery log: to=, orig_to=, relay=, dsn=, status= the same"

# --- the seed's notify_classes: resource, software, 2bounce --------------
# after a reload, a protocol error and a policy reject send no notice,
# a software error (451 4.3.5) still does: one new transcript, its own
instance_conf "notify_classes=resource, software, 2bounce" \
	"disable_mime_output_conversion=yes"
n=$(instance_log_count 'reload -- version')
before=$(ls "$PTM/postmaster/new" | wc -l)
"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" reload >/dev/null 2>&1
ok $? "postern reload with the seed's notify_classes, disable_mime_output_conversion = yes"
wait_for "[ \$(instance_log_count 'reload -- version') -gt $n ]" 30
/usr/bin/python3 - "$PT" <<'PY'
import os, sys
sys.path.insert(0, os.environ['POSTERN_TOP'] + '/tests/lib')
from smtp_dialog import session
port = int(sys.argv[1])
session(port, ['EHLO client.test', 'FOO seed', 'MAIL FROM:<user1@example.com>',
               'RCPT TO:<deny@ok.example>', 'QUIT'], 30)
session(port, ['EHLO client.test', 'MAIL FROM:<user1@example.com>',
               'RCPT TO:<soft@ok.example>', 'QUIT'], 30)
PY
wait_for "[ \$(ls '$PTM/postmaster/new' | wc -l) -gt $before ]" 30
ok $? "seed's classes: the software error's transcript arrives"
sleep 1
is "$(ls "$PTM/postmaster/new" | wc -l)" "$((before + 1))" \
	"seed's classes: one notice, none for the protocol error and policy reject"
seed=$(grep -l 'FOO seed' "$PTM"/postmaster/new/* 2>/dev/null)
is "$seed" "" "seed's classes: no transcript of the session with FOO seed"

# disable_mime_output_conversion = yes: the 8-bit message goes raw
r=$(printf '%s' "${HDR}Message-ID: <m11@client.test>"$'\r\nSubject: raw\r\n'"$MIME8" |
	$CMP send "$PT" '<user1@example.com> BODY=8BITMIME' '<raw@old.example>')
like "$r" $'\n250 2.0.0 Ok: queued as' "postern accepts the 8-bit message for raw@old.example"
wait_for "grep -q 'to=<raw@old.example>.*status=sent' '$INSTANCE_LOG'" 30
ok $? "raw@old.example is sent"
raw=$($CMP wire "$TOP/old" pt.example raw@old.example)
like "$raw" 'caf\\xc3\\xa9 = caf\\xc3\\xa9 ' \
	"disable_mime_output_conversion = yes: the 8-bit text as it came"
unlike "$raw" 'quoted-printable' "  no Content-Transfer-Encoding: quoted-printable added"
like "$raw" $'\nMAIL FROM:<user1@example.com> SIZE=ok\n' "  SIZE= the octets sent, no BODY=8BITMIME (not offered)"

# the next hop that never greets goes away: both smtp clients see the
# connection close (a lost connection, deferred) before the MTAs stop
kill "$MUTE_PID" 2>/dev/null
wait "$MUTE_PID" 2>/dev/null
wait_for "grep -q 'to=<a@mute.example>.*status=deferred' '$INSTANCE_LOG'" 20
ok $? "postern defers a@mute.example once the silent next hop is gone"
pf_stop
sanitizer_ok "$(cat "$TOP/pt/master.out")" "no sanitizer reports from any process"
instance_stop
ok $? "postern stops, no process left"
done_testing
