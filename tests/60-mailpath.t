#!/bin/bash
# 60-mailpath.t - the mail path end to end, as issue 3 asks: a full
# instance with the seed's main.cf and master.cf (changed only with
# postconf -e and the port fields), a private MariaDB holding the seed's
# schema, dnsmasq for DNS, and real clients (Python smtplib, swaks,
# sendmail). Port 25 is the seed's postscreen in front of smtpd.
#   - a message to a virtual user lands byte-exact (dot-stuffing undone)
#   - a message to an alias lands in the destination's Maildir
#   - unknown user 550 5.1.1, relay 554 5.7.1
#   - MariaDB stopped: 451 4.3.0; a message accepted before the outage
#     (held by header_checks HOLD, released while the database is down)
#     is deferred with 4.3.0, then delivered once the database is back
#   - mail for root@ through sendmail reaches the aliased virtual mailbox
#   - an undeliverable recipient produces a DSN back to the sender
# Ports 25200-25239.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
. "$POSTERN_TOP/tests/lib/mariadb.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

PY=/usr/bin/python3
SEND="$PY $POSTERN_TOP/tests/lib/smtp_send.py"
BASE=$((25200 + ($$ % 10) * 4))
PORT=$BASE
DIR=$(mktemp -d /tmp/postern-60-mailpath.XXXXXX)
note "directory $DIR"
trap 'instance_cleanup; mariadb_stop; dnsmasq_stop
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$DIR"' EXIT

for p in master postscreen smtpd qmgr virtual sendmail postmap postalias \
	postconf postqueue; do
	[ -x "$POSTERN_BIN/$p" ] || bail_out "no $p in $POSTERN_BIN"
done

# DNS: the client's HELO name resolves (reject_unknown_helo_hostname);
# the seed's DNSBL zones answer "not listed".
for z in spamhaus.org barracudacentral.org spamcop.net manitu.net \
	swinog.ch imp.ch uceprotect.net sorbs.net dnswl.org isipp.com \
	mailspike.net myisp.com; do
	dnsmasq_local "$z"
done
dnsmasq_record "host-record=client.example.net,127.0.0.5"
dnsmasq_record "mx-host=example.org,mail.example.org,10"
dnsmasq_record "host-record=mail.example.org,127.0.0.1"
dnsmasq_start "$DIR/dns" $((BASE + 2)) || bail_out "dnsmasq did not start"

mariadb_start "$DIR/db" || bail_out "MariaDB did not start"
mariadb_load_seed || bail_out "seed schema did not load"
mariadb_sql "INSERT INTO virtual_users (domain_id, password, email)
	VALUES (1, MD5('x'), 'mary@example.org');
	INSERT INTO virtual_aliases (domain_id, source, destination)
	VALUES (1, 'gone@example.org', 'nobody@example.org');" ||
	bail_out "rows did not load"

instance_create "$DIR/i" "$PORT" $((BASE + 1)) || bail_out "instance_create"
E=$INSTANCE_CONF
# The tutorial's map files, with this test's addresses.
mariadb_cf "$E/mysql-virtual-mailbox-domains.cf" \
	"SELECT 1 FROM virtual_domains WHERE name='%s'"
mariadb_cf "$E/mysql-virtual-mailbox-maps.cf" \
	"SELECT 1 FROM virtual_users WHERE email='%s'"
mariadb_cf "$E/mysql-virtual-alias-maps.cf" \
	"SELECT destination FROM virtual_aliases WHERE source='%s'"
printf 'root: john@example.org\npostmaster: john@example.org\n' >"$E/aliases"
printf 'www-data    webmaster@example.org\n' >"$E/sender_canonical"
printf 'webmaster   john@example.org\n' >"$E/canonical"
printf 'smtp.myisp.com server@example.com:secret\n' >"$E/relay_password"
printf 'root@server user@example.com\n' >"$E/generic"
printf 'aol.com reject_unverified_sender\n' >"$E/sender_access"
printf '10.0.0.0/8 permit\n192.168.0.0/16 permit\nfc00::/7 permit\n' \
	>"$E/postscreen_access.cidr"
# Only the outage check's message is held (section 6).
printf '/^Subject: hold for the outage$/ HOLD\n' >"$E/header_checks"
"$POSTERN_BIN/postalias" -c "$E" "hash:$E/aliases" || bail_out postalias
for m in sender_canonical canonical relay_password generic sender_access; do
	"$POSTERN_BIN/postmap" -c "$E" "hash:$E/$m" || bail_out "postmap $m"
done
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
# The administrator's part, as with Postfix: the mailbox base belongs to
# the virtual user.
chown "$VUID:$VGID" "$INSTANCE_MAIL"
instance_conf \
	"resolver_nameservers=$DNSMASQ_SERVER" \
	"mynetworks=192.0.2.0/24" \
	"alias_maps=hash:$E/aliases" "alias_database=hash:$E/aliases" \
	"sender_canonical_maps=hash:$E/sender_canonical" \
	"canonical_maps=hash:$E/canonical" \
	"smtp_sasl_password_maps=hash:$E/relay_password" \
	"smtp_generic_maps=hash:$E/generic" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"postscreen_greet_wait=1s" \
	"header_checks=regexp:$E/header_checks" \
	"virtual_mailbox_domains=mysql:$E/mysql-virtual-mailbox-domains.cf" \
	"virtual_mailbox_maps=mysql:$E/mysql-virtual-mailbox-maps.cf" \
	"virtual_alias_maps=mysql:$E/mysql-virtual-alias-maps.cf" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID" \
	"minimal_backoff_time=1s" "maximal_backoff_time=2s" \
	"queue_run_delay=1s" || bail_out "postconf -e"
instance_start || bail_out "instance did not start"

maildir_count() {
	find "$INSTANCE_MAIL/example.org/$1/new" -type f 2>/dev/null | wc -l
}

# Postscreen screens a new client once (after-220 tests: 450 on RCPT);
# from then on it goes straight to smtpd.
out=$($SEND 127.0.0.5 127.0.0.1 "$PORT" client.example.net \
	alice@example.net john@example.org /dev/null)
like "$out" '^refused 450 4\.3\.2' \
	"postscreen screens a new client (450 4.3.2 after the tests)"
wait_for "instance_log_grep 'PASS NEW \[127\.0\.0\.5\]'" 5
ok $? "postscreen logged PASS NEW"

send() {	# send FROM TO FILE -> prints the outcome line
	$SEND 127.0.0.5 127.0.0.1 "$PORT" client.example.net "$@"
}

# 1. byte-exact delivery to a virtual user, dot-stuffing undone
printf 'From: Alice <alice@example.net>\r\nTo: john@example.org\r\nSubject: byte exact\r\nMessage-ID: <exact.1@example.net>\r\n\r\n.leading dot\r\n..two dots\r\n.\r\x20\r\nh\xc3\xa9llo 8-bit\r\n\ttab line\r\nlast line\r\n' >"$DIR/exact.eml"
out=$(send alice@example.net john@example.org "$DIR/exact.eml")
like "$out" '^accepted 250 2\.0\.0 Ok: queued as [0-9A-Z]+' \
	"message to a virtual user accepted with its queue id"
qid=$(sed -n 's/.*queued as \([0-9A-Z]*\).*/\1/p' <<<"$out")
wait_for '[ "$(maildir_count john)" -ge 1 ]' 20
is "$(maildir_count john)" 1 "it lands in john's Maildir (domain/user/new)"
f=$(find "$INSTANCE_MAIL/example.org/john/new" -type f | head -1)
$PY - "$f" "$DIR/exact.eml" <<'PYEOF'
import sys
got = open(sys.argv[1], "rb").read()
# A stray CR (the ".\r " line) becomes a space at receipt, as with
# Postfix 3.9's cleanup_replace_stray_cr_lf (issue 12 item 5).
want = open(sys.argv[2], "rb").read().replace(b"\r\n", b"\n").replace(
    b"\r", b" ")
if not got.endswith(want):
    print("# Maildir file does not end with the sent message", file=sys.stderr)
    sys.exit(1)
head = got[:len(got) - len(want)].split(b"\n")[:-1]
names = [h.split(b":")[0] for h in head if not h[:1].isspace()]
if names != [b"Return-Path", b"Delivered-To", b"Received"]:
    print("# prepended headers: %r" % names, file=sys.stderr)
    sys.exit(1)
if b"Return-Path: <alice@example.net>" not in head or \
   b"Delivered-To: john@example.org" not in head:
    print("# envelope headers: %r" % head, file=sys.stderr)
    sys.exit(1)
PYEOF
ok $? "Maildir file: Return-Path, Delivered-To, Received, then the exact bytes"
wait_for "instance_log_grep '$qid: removed'" 10
ok $? "queue file removed after delivery ($qid)"
[ -z "$(find "$INSTANCE_QUEUE"/{incoming,active,deferred} -type f 2>/dev/null)" ]
ok $? "queue empty"
like "$(instance_log_grep "$qid: to=<john@example.org>")" \
	'relay=virtual.*dsn=2\.0\.0, status=sent' "delivery logged in Postfix's form"

# 2. an alias (virtual_aliases in MariaDB) lands in the destination
out=$(swaks --server "127.0.0.1:$PORT" --local-interface 127.0.0.5 \
	--ehlo client.example.net --from alice@example.net \
	--to jack@example.org --header 'Subject: via alias' 2>&1)
like "$out" '<-  250 2\.0\.0 Ok: queued as' "swaks to an alias accepted"
wait_for '[ "$(maildir_count john)" -ge 2 ]' 20
is "$(maildir_count john)" 2 "alias jack@ lands in john's Maildir"
f=$(grep -l 'Subject: via alias' "$INSTANCE_MAIL"/example.org/john/new/* \
	2>/dev/null | head -1)
[ -n "$f" ] && grep -q '^Delivered-To: john@example.org' "$f"
ok $? "Delivered-To names the final recipient"

# 3. unknown user, relay
out=$(send alice@example.net nosuch@example.org "$DIR/exact.eml")
like "$out" '^refused 550 5\.1\.1 <nosuch@example\.org>: Recipient address rejected: User unknown in virtual mailbox table' \
	"unknown user: 550 5.1.1"
out=$(send alice@example.net someone@elsewhere.example "$DIR/exact.eml")
like "$out" '^refused 554 5\.7\.1 <someone@elsewhere\.example>: Relay access denied' \
	"relay to another domain: 554 5.7.1"

# 4. an accepted recipient that cannot be delivered: DSN to the sender
printf 'Subject: to nowhere\r\n\r\nbody\r\n' >"$DIR/gone.eml"
out=$(send mary@example.org gone@example.org "$DIR/gone.eml")
like "$out" '^accepted 250' "alias to a missing mailbox accepted"
wait_for '[ "$(maildir_count mary)" -ge 1 ]' 20
is "$(maildir_count mary)" 1 "the sender got a bounce"
dsn=$(cat "$INSTANCE_MAIL"/example.org/mary/new/* 2>/dev/null)
like "$dsn" 'Return-Path: <>' "the bounce has the null sender"
like "$dsn" 'multipart/report; report-type=delivery-status' "RFC 3464 report"
like "$dsn" 'Final-Recipient: rfc822; ?nobody@example\.org' \
	"it names the failed recipient"
like "$dsn" 'Status: 5\.1\.1' "with status 5.1.1"
like "$dsn" 'From: Mail Delivery System <MAILER-DAEMON@' "from MAILER-DAEMON, as Postfix writes it"

# 5. root@ through sendmail reaches the aliased virtual mailbox. A bare
# "root" would be root@$myorigin = root@example.com, which the seed does
# not receive (it goes to the relayhost, as with Postfix); root@localhost
# is in mydestination, so alias_maps apply.
before=$(maildir_count john)
printf 'Subject: cron output\n\nhello from cron\n' |
	"$POSTERN_BIN/sendmail" -C "$E" -f root root@localhost
ok $? "sendmail accepts mail for root"
wait_for "[ \"\$(maildir_count john)\" -gt $before ]" 20
ok $? "root's mail reaches john@example.org through /etc/aliases"
f=$(grep -l 'hello from cron' "$INSTANCE_MAIL"/example.org/john/new/* \
	2>/dev/null | head -1)
[ -n "$f" ] && grep -q '^Message-ID: <' "$f" && grep -q '^Date: ' "$f"
ok $? "sendmail mail got a Message-ID and a Date"

# 6. MariaDB down: 451 4.3.0, and accepted mail is kept, then delivered.
# The order is made certain: the message is accepted while the database
# is up but goes to hold/ (header_checks HOLD), so qmgr cannot deliver it
# before the outage; it is released (postsuper -H) only once MariaDB is
# stopped, so its delivery must go through the outage path: a deferral
# with 4.3.0 (virtual_alias_maps lookup error), nothing in the Maildir;
# then, with the database back, delivery.
before=$(maildir_count mary)
printf 'Subject: hold for the outage\r\n\r\nx\r\n' >"$DIR/pre.eml"
printf 'Subject: after the outage\r\n\r\ny\r\n' >"$DIR/post.eml"
out=$(send alice@example.net mary@example.org "$DIR/pre.eml")
like "$out" '^accepted 250' "accepted before the outage"
hqid=$(sed -n 's/.*queued as \([0-9A-Z]*\).*/\1/p' <<<"$out")
[ -n "$hqid" ] && [ -f "$INSTANCE_QUEUE/hold/$hqid" ]
ok $? "it waits in hold/ (header_checks HOLD): $hqid"
dbpid=$MARIADB_PID
mariadb_stop
"$POSTERN_BIN/postmap" -c "$E" -q example.org \
	"mysql:$E/mysql-virtual-mailbox-domains.cf" >/dev/null 2>&1
st=$?
! pid_alive "$dbpid" && [ "$st" = 75 ]
ok $? "MariaDB is stopped (pid $dbpid gone, postmap -q exits 75, got $st)"
# the daemons' answers in hand serve until lookup_cache_time (5s) has passed
sleep 5
out=$(send alice@example.net mary@example.org "$DIR/post.eml")
like "$out" '^refused 451 4\.3\.0' "database down: 451 4.3.0 (not 5xx)"
out=$(send alice@example.net nosuch@example.org "$DIR/post.eml")
like "$out" '^refused 451 4\.3\.0' "unknown user while down: 451, not 550"
"$POSTERN_BIN/postsuper" -c "$E" -H "$hqid" >/dev/null 2>&1
ok $? "released from hold while the database is down"
deferred_re="$hqid: to=<mary@example\.org>.* dsn=4\.3\.0, status=deferred \(.*lookup"
wait_for "instance_log_grep '$deferred_re'" 30
ok $? "qmgr deferred it: dsn=4.3.0, status=deferred (lookup error)" ||
	diag "$(instance_log_grep "$hqid")"
note "$(instance_log_grep "$deferred_re" | head -1)"
wait_for "[ -f '$INSTANCE_QUEUE/deferred/$hqid' ]" 10
ok $? "the message waits in deferred/"
is "$(maildir_count mary)" "$before" "nothing delivered while the database is down"
is "$(instance_log_count "$hqid: to=<mary@example\.org>.*status=(sent|bounced)")" 0 \
	"neither sent nor bounced during the outage"
mariadb_start "$DIR/db" "$MARIADB_PORT" || bail_out "MariaDB did not restart"
"$POSTERN_BIN/postqueue" -c "$E" -f
wait_for "[ \"\$(maildir_count mary)\" -gt $before ]" 30
ok $? "the message accepted before the outage is delivered"
grep -l '^Subject: hold for the outage' \
	"$INSTANCE_MAIL"/example.org/mary/new/* >/dev/null 2>&1
ok $? "the delivered file is that message"
# The log shows the order: the deferral before the delivery.
dline=$(grep -nE "$deferred_re" "$INSTANCE_LOG" | head -1 | cut -d: -f1)
sline=$(grep -nE "$hqid: to=<mary@example\.org>.*status=sent" "$INSTANCE_LOG" |
	head -1 | cut -d: -f1)
[ -n "$dline" ] && [ -n "$sline" ] && [ "$dline" -lt "$sline" ]
ok $? "log: deferred (line ${dline:-none}) before sent (line ${sline:-none})"
out=$(send alice@example.net mary@example.org "$DIR/post.eml")
like "$out" '^accepted 250' "database back: accepted again"

instance_stop
ok $? "instance stops cleanly"
done_testing
