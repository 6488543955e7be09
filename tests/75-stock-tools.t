#!/bin/bash
# NAME
#	75-stock-tools.t - issue 8's "Must show" on logging: the tools a
#	Postfix administrator already runs read postern's log unchanged
# DESCRIPTION
#	One instance with the seed's main.cf and master.cf and the default
#	logging (syslog_name left at its default; only maillog_file is set,
#	since a test cannot read journald: DIR/mail.log, the name Debian's
#	tools read, /var/log/mail.log, as the README's Logging says), the
#	seed's postscreen on 25 and submission (STARTTLS, AUTH) on 587.
#	Virtual maps are hash: files here (the logging is the point, not
#	MariaDB); dnsmasq answers the HELO name and the seed's DNSBL zones.
#	swaks traffic from 127.0.0.5: 3 deliveries, 2 unknown users, 1
#	relay attempt on 25; 2 failed AUTH on 587 after STARTTLS. Then, with
#	each tool's stock configuration:
#	  - fail2ban-regex with /etc/fail2ban/filter.d/postfix.conf:
#	    mode=normal matches the 3 rejected RCPTs, mode=auth the 2 AUTH
#	    failures, mode=aggressive those 5 plus the 2 "disconnect ...
#	    auth=0/1" lines of the failed sessions (its ddos expression;
#	    Postfix logs the same lines, so 7 is what Postfix gives too);
#	    mode=more (the [postfix] jail's default) the 3 RCPTs
#	  - pflogsumm (no option): 3 received, 3 delivered, 3 rejected
#	  - logwatch's postfix service (--logdir DIR: Debian's logwatch
#	    reads mail.log there): 3 delivered, 3 rejected, the reject
#	    reasons, SASL failures; its "Unmatched Entries" hold nothing
#	    from the mail flow, only the two stop lines listed exactly
#	  - every delivered message's lines, in order: smtpd client=,
#	    cleanup message-id=, qmgr from= (queue active), the delivery
#	    line with delays=a/b/c/d, qmgr removed
#	  - every line is "Mon DD HH:MM:SS host postfix/<program>[pid]: "
#	  - then a sendmail submission: "postfix/pickup[pid]: ID: uid=N
#	    from=<sender>", which pflogsumm counts as 1 received
# Ports 29000-29199. About 25 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

BASE=$((29000 + ($$ % 40) * 5))
SMTP=$BASE SUB=$((BASE + 1)) DNSP=$((BASE + 2))
TOP=$(mktemp -d /tmp/postern-75.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
trap 'instance_cleanup; dnsmasq_stop
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$TOP"' EXIT
note "directory $TOP, ports smtp $SMTP submission $SUB"

for p in master postscreen smtpd qmgr virtual postconf postmap; do
	[ -x "$POSTERN_BIN/$p" ] || bail_out "no $p in $POSTERN_BIN"
done
for c in swaks openssl fail2ban-regex pflogsumm logwatch; do
	command -v "$c" >/dev/null || bail_out "$c is not installed (tools/deps.txt)"
done
F2B=/etc/fail2ban/filter.d/postfix.conf
[ -f "$F2B" ] || bail_out "no $F2B (package fail2ban)"

for z in spamhaus.org barracudacentral.org spamcop.net manitu.net \
	swinog.ch imp.ch uceprotect.net sorbs.net dnswl.org isipp.com \
	mailspike.net myisp.com; do
	dnsmasq_local "$z"
done
dnsmasq_record "host-record=client.example.net,127.0.0.5"
dnsmasq_start "$TOP/dns" "$DNSP" || bail_out "dnsmasq did not start"

instance_create "$DIR" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
INSTANCE_LOG=$DIR/mail.log
printf 'john@example.org example.org/john/\njane@example.org example.org/jane/\n' \
	>"$E/vmailbox"
printf 'postmaster: john@example.org\n' >"$E/aliases"
printf '127.0.0.5/32 permit\n' >"$E/postscreen_access.cidr"
printf 'john@example.org %s\n' "$(openssl passwd -6 'john-Pass.1')" \
	>"$E/sasl_passwd"
"$POSTERN_BIN/postalias" -c "$E" "hash:$E/aliases" &&
	"$POSTERN_BIN/postmap" -c "$E" "hash:$E/vmailbox" &&
	"$POSTERN_BIN/postmap" -c "$E" "hash:$E/sasl_passwd" ||
	bail_out "postmap"
chmod 644 "$E"/*.lmdb
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
chown "$VUID:$VGID" "$INSTANCE_MAIL"
instance_conf \
	"resolver_nameservers=$DNSMASQ_SERVER" \
	"mynetworks=192.0.2.0/24" \
	"alias_maps=hash:$E/aliases" "alias_database=hash:$E/aliases" \
	"sender_canonical_maps=" "canonical_maps=" "smtp_generic_maps=" \
	"smtp_sasl_password_maps=" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"virtual_mailbox_domains=example.org" \
	"virtual_mailbox_maps=hash:$E/vmailbox" "virtual_alias_maps=" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID" \
	"smtpd_sasl_type=postern" \
	"smtpd_sasl_password_maps=hash:$E/sasl_passwd" \
	"queue_run_delay=1s" "maillog_file=$INSTANCE_LOG" ||
	bail_out "postconf -e"

# The default logging: nobody set syslog_name in main.cf, and the
# seed's master.cf names submission postfix/submission.
is "$("$POSTERN_BIN/postconf" -c "$E" -h syslog_name)" postfix \
	"syslog_name is Postfix's default, postfix"
grep -q '^syslog_name' "$E/main.cf"
isnt $? 0 "  main.cf does not set it"

instance_start || bail_out "instance did not start"

sw() {	# swaks from 127.0.0.5 on PORT
	local port=$1
	shift
	swaks --server "127.0.0.1:$port" --local-interface 127.0.0.5 \
		--ehlo client.example.net --timeout 30 "$@" 2>&1
}

# --- the traffic -----------------------------------------------------
for i in 1 2 3; do
	out=$(sw "$SMTP" --from alice@example.net --to john@example.org \
		--header "Subject: stock tools $i" \
		--header "Message-Id: <stock-$i@example.net>")
	like "$out" '<-  250 2\.0\.0 Ok: queued as' "delivery $i accepted"
done
for u in nosuch1 nosuch2; do
	out=$(sw "$SMTP" --from alice@example.net --to "$u@example.org" \
		--quit-after RCPT)
	like "$out" "<\\*\\* 550 5\\.1\\.1 <$u@example\\.org>: Recipient address rejected: User unknown" \
		"unknown user $u: 550 5.1.1"
done
out=$(sw "$SMTP" --from alice@example.net --to friend@elsewhere.example \
	--quit-after RCPT)
like "$out" '<\*\* 554 5\.7\.1 <friend@elsewhere\.example>: Relay access denied' \
	"relay attempt: 554 5.7.1 Relay access denied"
for i in 1 2; do
	out=$(sw "$SUB" --tls --quit-after AUTH --auth LOGIN \
		--auth-user john@example.org --auth-password "wrong-$i")
	like "$out" '<~\* 535 5\.7\.8 ' "587 after STARTTLS: failed AUTH $i, 535 5.7.8"
done
wait_for '[ "$(find "$INSTANCE_MAIL/example.org/john/new" -type f | wc -l)" -ge 3 ]' 30
ok $? "the 3 messages are in john's Maildir"
wait_for "[ \"\$(instance_log_count ': removed\$')\" -ge 3 ]" 10
instance_stop
ok $? "instance stops cleanly"
LOG=$INSTANCE_LOG

# --- every line has Postfix's shape ----------------------------------
bad=$(grep -Ev '^[A-Z][a-z]{2} [0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] [^ ]+ postfix(/submission)?/[a-z]+\[[0-9]+\]: ' "$LOG")
is "$bad" "" "every maillog line is 'Mon DD HH:MM:SS host postfix/<program>[pid]: '"
instance_log_grep 'postfix/submission/smtpd\[[0-9]+\]: ' >/dev/null
ok $? "submission's lines say postfix/submission/smtpd (the seed's -o)"

# --- the order of a delivered message's lines ------------------------
ids=$(sed -n 's/.* postfix\/qmgr\[[0-9]*\]: \([0-9A-Za-z]*\): removed$/\1/p' "$LOG")
is "$(wc -w <<<"$ids")" 3 "3 messages removed by qmgr"
for id in $ids; do
	seq=$(grep -E ": $id: " "$LOG" | sed -E \
		-e "s/^.* postfix\\/smtpd\\[[0-9]+\\]: $id: client=client\\.example\\.net\\[127\\.0\\.0\\.5\\]\$/client/" \
		-e "s/^.* postfix\\/cleanup\\[[0-9]+\\]: $id: message-id=<stock-[123]@example\\.net>\$/message-id/" \
		-e "s/^.* postfix\\/qmgr\\[[0-9]+\\]: $id: from=<alice@example\\.net>, size=[0-9]+, nrcpt=1 \\(queue active\\)\$/from/" \
		-e "s/^.* postfix\\/virtual\\[[0-9]+\\]: $id: to=<john@example\\.org>, relay=virtual, delay=[0-9.]+, delays=[0-9.]+\\/[0-9.]+\\/[0-9.]+\\/[0-9.]+, dsn=2\\.0\\.0, status=sent \\(delivered to maildir\\)\$/to/" \
		-e "s/^.* postfix\\/qmgr\\[[0-9]+\\]: $id: removed\$/removed/" |
		tr '\n' ' ')
	is "$seq" "client message-id from to removed " \
		"$id: smtpd client=, cleanup message-id=, qmgr from=, delivery with delays=a/b/c/d, qmgr removed"
done

# --- fail2ban, the stock postfix filter ------------------------------
f2b() {	# MODE: the number of matched lines
	fail2ban-regex "$LOG" "$F2B[mode=$1]" 2>&1 |
		sed -n 's/^Lines: [0-9]* lines, [0-9]* ignored, \([0-9]*\) matched.*/\1/p'
}
f2b_hosts() {	# MODE: the matched lines, one per line
	fail2ban-regex --print-all-matched "$LOG" "$F2B[mode=$1]" 2>&1 |
		grep -c '^|  .*127\.0\.0\.5'
}
is "$(f2b normal)" 3 "fail2ban postfix[mode=normal]: the 3 rejected RCPTs"
is "$(f2b_hosts normal)" 3 "  each naming 127.0.0.5"
fail2ban-regex --print-all-matched "$LOG" "$F2B[mode=normal]" 2>&1 |
	grep -E '^\|  ' >"$TOP/f2b-normal"
is "$(grep -cE 'NOQUEUE: reject: RCPT from client\.example\.net\[127\.0\.0\.5\]:[0-9]*:? 55[04] ' "$TOP/f2b-normal")" 3 \
	"  they are the NOQUEUE: reject: RCPT lines"
is "$(f2b more)" 3 "fail2ban postfix[mode=more] (the [postfix] jail's default): the 3 RCPTs"
is "$(f2b auth)" 2 "fail2ban postfix[mode=auth] (the [postfix-sasl] jail): the 2 AUTH failures"
is "$(f2b_hosts auth)" 2 "  each naming 127.0.0.5"
is "$(f2b aggressive)" 7 \
	"fail2ban postfix[mode=aggressive]: the 5, plus the 2 'disconnect ... auth=0/1' lines (as with Postfix)"

# --- pflogsumm, defaults ---------------------------------------------
pflogsumm "$LOG" >"$TOP/pflogsumm.out" 2>&1
ok $? "pflogsumm runs"
pfl() {	# LABEL: the number in front of it in the grand totals
	sed -n "s/^ *\\([0-9]*\\) *$1\$/\\1/p" "$TOP/pflogsumm.out" | head -1
}
is "$(pfl received)" 3 "pflogsumm: 3 received"
is "$(pfl delivered)" 3 "pflogsumm: 3 delivered"
is "$(sed -n 's/^ *\([0-9]*\) *rejected (.*/\1/p' "$TOP/pflogsumm.out" | head -1)" 3 \
	"pflogsumm: 3 rejected"
is "$(pfl 'deferred')" 0 "pflogsumm: 0 deferred"
is "$(pfl 'bounced')" 0 "pflogsumm: 0 bounced"
like "$(cat "$TOP/pflogsumm.out")" 'Recipient address rejected: User unknown' \
	"pflogsumm lists the unknown-user rejects"

# --- logwatch's postfix service --------------------------------------
# Debian's logwatch (dist.conf/logfiles/maillog.conf) reads mail.log
# from its LogDir; --logdir points it at the instance's directory.
logwatch --logdir "$DIR" --service postfix --range All \
	--detail High --output stdout >"$TOP/logwatch.out" 2>&1
ok $? "logwatch --service postfix runs"
lw() {	# ERE: a line of logwatch's report
	grep -qE "$1" "$TOP/logwatch.out"
}
lw '^ +3 +Delivered +3$'
ok $? "logwatch: 3 delivered"
lw '^ +3 +Accepted +50\.00%$' && lw '^ +3 +Rejected +50\.00%$'
ok $? "logwatch: 3 accepted, 3 rejected"
lw '^ +2 +5xx Reject unknown user ' && lw '^ +1 +5xx Reject relay denied '
ok $? "logwatch: 2 unknown users, 1 relay denied"
lw '^ +2 +SASL authentication failed '
ok $? "logwatch: 2 SASL authentication failures"
lw '^ +3 +Removed from queue '
ok $? "logwatch: 3 removed from the queue"
# Its "Unmatched Entries": nothing from the mail flow. What is left is
# master's final "terminating" and "stopping the postern mail system"
# (README: Logging lists them); any other line fails here.
sed -n '/\*\*Unmatched Entries\*\*/,/^ *-\{5,\} Postfix End/p' \
	"$TOP/logwatch.out" | grep -E '^ +[0-9]+ ' >"$TOP/unmatched.all"
grep -vE ' postfix/master\[[0-9]+\]: terminating$' \
	"$TOP/unmatched.all" |
	grep -vE ' postfix/postern\[[0-9]+\]: stopping the postern mail system$' \
	>"$TOP/unmatched"
is "$(cat "$TOP/unmatched")" "" \
	"logwatch: no unmatched entries but master's and postern stop's last lines"
grep -qE 'postfix/(smtpd|submission/smtpd|cleanup|qmgr|virtual|postscreen|anvil)\[' \
	"$TOP/unmatched.all"
isnt $? 0 "  none from smtpd, cleanup, qmgr, virtual, postscreen, anvil"

# --- local submission: pickup's line -----------------------------------
# sendmail's message, picked up by qmgr, is logged as Postfix's pickup
# logs it, "ID: uid=N from=<sender>", which pflogsumm counts as received.
from=$(wc -l <"$LOG")
instance_start || bail_out "instance did not restart"
out=$(printf 'Subject: stock tools local\n\nvia sendmail\n' |
	"$POSTERN_BIN/sendmail" -C "$E" -f alice@example.org john@example.org 2>&1)
ok $? "sendmail queues a message" || diag "$out"
wait_for '[ "$(find "$INSTANCE_MAIL/example.org/john/new" -type f | wc -l)" -ge 4 ]' 30
ok $? "... and it is delivered"
wait_for "[ \"\$(instance_log_count ': removed\$')\" -ge 1 ]" 10
instance_stop
ok $? "instance stops cleanly"
tail -n +"$((from + 1))" "$LOG" >"$TOP/local.log"
grep -qE " postfix/pickup\[[0-9]+\]: [0-9A-Z]+: uid=$(id -u) from=<alice@example\.org>\$" \
	"$TOP/local.log"
ok $? "postfix/pickup[pid]: ID: uid=$(id -u) from=<alice@example.org>"
pflogsumm "$TOP/local.log" >"$TOP/pflogsumm.local" 2>&1
is "$(sed -n 's/^ *\([0-9]*\) *received$/\1/p' "$TOP/pflogsumm.local" | head -1)" 1 \
	"pflogsumm: the local submission is 1 received"
is "$(sed -n 's/^ *\([0-9]*\) *delivered$/\1/p' "$TOP/pflogsumm.local" | head -1)" 1 \
	"pflogsumm: ... and 1 delivered"

sanitizer_ok "$(cat "$INSTANCE_DIR/master.out")" "no sanitizer reports"
done_testing
