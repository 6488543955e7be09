#!/bin/bash
# 85-two-hosts.t - README "More than one host" on one machine: two
# postern instances (two MX hosts: each its own queue, data directory,
# log and ports), one MariaDB (the database tier), one Dovecot
# delivering over LMTP into Maildirs (the mailbox tier).
#   - both instances run the seed's main.cf/master.cf with the seed's
#     three mysql: maps, whose files list two database hosts ("hosts =
#     db1 db2"): the first is down (nothing listens there), the second
#     is the shared MariaDB; virtual_transport = lmtp:inet:127.0.0.1:PORT
#   - six messages (distinct Message-IDs), three to each instance, to
#     two users and an alias: each is in Dovecot's Maildirs exactly
#     once, delivered by the instance that accepted it
#   - MariaDB stopped: a message accepted by instance 1 before the outage
#     (kept in hold/ by header_checks HOLD, so that it cannot be
#     delivered before) is released while the database is down; it is
#     deferred with 4.3.0 and a lookup reason, instance 2 answers RCPT
#     with 451 4.3.0 meanwhile; MariaDB started again, postqueue -f:
#     delivered, once
#   - instance 2 switched to lmtp:unix:private/dovecot-lmtp (a socket
#     path relative to queue_directory, the tutorial's form) and
#     reloaded: delivered through Dovecot's unix listener
# The clients are in mynetworks (127.0.0.0/8): this test is about what
# the hosts share; the public port-25 policy is tests/60-mailpath.t's.
# Ports 28500-28549. About 25 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"
. "$POSTERN_TOP/tests/lib/mariadb.sh"
. "$POSTERN_TOP/tests/lib/dovecot.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/lmtp ] ||
	bail_out "no /usr/lib/dovecot/lmtp (Debian package dovecot-lmtpd)"

PY=/usr/bin/python3
SEND="$PY $POSTERN_TOP/tests/lib/smtp_send.py"
DIR=$(mktemp -d /tmp/postern-85-two-hosts.XXXXXX)
chmod 755 "$DIR"
note "directory $DIR"

# Two instances with instance.sh, which keeps one in INSTANCE_*: each is
# saved under a number and made current again with use.
IVARS="INSTANCE_DIR INSTANCE_CONF INSTANCE_QUEUE INSTANCE_LOG INSTANCE_MAIL
	INSTANCE_PID INSTANCE_LOG_FROM INSTANCE_OUT_FROM"
save() {
	local v
	for v in $IVARS; do eval "${v}_$1=\$$v"; done
	eval "PORTS_$1=(\"\${INSTANCE_PORTS[@]}\")"
}
use() {
	local v
	for v in $IVARS; do eval "$v=\${${v}_$1-}"; done
	eval "INSTANCE_PORTS=(\"\${PORTS_$1[@]}\")"
	CUR=$1
}
CUR=
stop_both() {
	local n
	for n in 1 2; do
		[ -n "$(eval "echo \${INSTANCE_DIR_$n-}")" ] || continue
		use "$n"
		instance_cleanup
		save "$n"
	done
}
TAP_BEFORE_PLAN+=(stop_both)
trap 'stop_both; dovecot_stop; mariadb_stop
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$DIR"' EXIT

LMTP=$(free_port 28500 28507) || bail_out "no free port in 28500-28507"
DEAD=$(free_port 28508 28515) || bail_out "no free port in 28508-28515"
SMTP_1=$(free_port 28516 28523) || bail_out "no free port in 28516-28523"
SUB_1=$(free_port 28524 28531) || bail_out "no free port in 28524-28531"
SMTP_2=$(free_port 28532 28539) || bail_out "no free port in 28532-28539"
SUB_2=$(free_port 28540 28549) || bail_out "no free port in 28540-28549"

# The database tier.
mariadb_start "$DIR/db" || bail_out "MariaDB did not start"
mariadb_load_seed || bail_out "seed schema did not load"
mariadb_sql "INSERT INTO virtual_users (domain_id, password, email)
	VALUES (1, MD5('x'), 'mary@example.org');" || bail_out "rows"

# The mailbox tier: Dovecot's LMTP on a loopback port, Maildirs under
# $DIR/mailstore owned by vmail (the seed's virtual user).
VUSER=vmail
id -u vmail >/dev/null 2>&1 || VUSER=$(id -un)
STORE=$DIR/mailstore
mkdir -p "$STORE" "$DIR/dovecot/run"
chown "$VUSER:" "$STORE" 2>/dev/null || chown "$VUSER" "$STORE"

# A configuration (seed's files, this machine's paths) for instance N.
make_instance() {
	local n=$1 smtp=$2 sub=$3 E m
	instance_create "$DIR/i$n" "$smtp" "$sub" || return 1
	E=$INSTANCE_CONF
	# The seed's three map files; hosts: db1 (down) then db2.
	cfq() {
		printf 'user = mailuser\npassword = %s\n' "$MARIADB_PASSWORD"
		printf 'hosts = inet:127.0.0.1:%s inet:127.0.0.1:%s\n' \
			"$DEAD" "$MARIADB_PORT"
		printf 'dbname = mailserver\nquery = %s\n' "$1"
	}
	cfq "SELECT 1 FROM virtual_domains WHERE name='%s'" \
		>"$E/mysql-virtual-mailbox-domains.cf"
	cfq "SELECT 1 FROM virtual_users WHERE email='%s'" \
		>"$E/mysql-virtual-mailbox-maps.cf"
	cfq "SELECT destination FROM virtual_aliases WHERE source='%s'" \
		>"$E/mysql-virtual-alias-maps.cf"
	printf 'postmaster: john@example.org\n' >"$E/aliases"
	: >"$E/sender_canonical"
	: >"$E/canonical"
	: >"$E/relay_password"
	: >"$E/generic"
	: >"$E/sender_access"
	: >"$E/postscreen_access.cidr"
	printf '/^Subject: hold for the outage$/ HOLD\n' >"$E/header_checks"
	"$POSTERN_BIN/postalias" -c "$E" "hash:$E/aliases" || return 1
	for m in sender_canonical canonical relay_password generic \
	    sender_access; do
		"$POSTERN_BIN/postmap" -c "$E" "hash:$E/$m" || return 1
	done
	instance_conf \
		"mynetworks=127.0.0.0/8" \
		"alias_maps=hash:$E/aliases" "alias_database=hash:$E/aliases" \
		"sender_canonical_maps=hash:$E/sender_canonical" \
		"canonical_maps=hash:$E/canonical" \
		"smtp_sasl_password_maps=hash:$E/relay_password" \
		"smtp_generic_maps=hash:$E/generic" \
		"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
		"header_checks=regexp:$E/header_checks" \
		"virtual_mailbox_domains=mysql:$E/mysql-virtual-mailbox-domains.cf" \
		"virtual_mailbox_maps=mysql:$E/mysql-virtual-mailbox-maps.cf" \
		"virtual_alias_maps=mysql:$E/mysql-virtual-alias-maps.cf" \
		"virtual_transport=lmtp:inet:127.0.0.1:$LMTP" \
		"minimal_backoff_time=1s" "maximal_backoff_time=2s" \
		"queue_run_delay=1s" || return 1
	save "$n"
}

for n in 1 2; do
	eval "make_instance $n \$SMTP_$n \$SUB_$n" ||
		bail_out "instance $n: configuration"
	use "$n"
	instance_start || bail_out "instance $n did not start"
	save "$n"
done
pass "two instances run: ports $SMTP_1/$SUB_1 and $SMTP_2/$SUB_2"
[ "$INSTANCE_QUEUE_1" != "$INSTANCE_QUEUE_2" ] &&
	[ "$INSTANCE_LOG_1" != "$INSTANCE_LOG_2" ]
ok $? "each has its own queue and log"

# Dovecot after the instances: its second LMTP listener sits in
# instance 2's queue (private/), which master creates.
cat >"$DIR/dovecot/dovecot.conf" <<CONF
instance_name = postern-85-$$
base_dir = $DIR/dovecot/run
state_dir = $DIR/dovecot/run
log_path = $DIR/dovecot/dovecot.log
protocols = lmtp
ssl = no
default_internal_user = $(id -un)
default_login_user = $(id -un)
mail_location = maildir:$STORE/%d/%n
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=$VUSER gid=$(id -gn "$VUSER") home=$STORE/%d/%n allow_all_users=yes
}
service auth {
  unix_listener $DIR/dovecot/run/auth-test {
    mode = 0600
  }
}
service auth-worker {
  user = $(id -un)
}
service anvil {
  chroot =
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP
  }
    unix_listener $INSTANCE_QUEUE_2/private/dovecot-lmtp {
    mode = 0666
  }
}
CONF
dovecot_start "$DIR/dovecot" || bail_out "Dovecot did not start"
wait_for "port_listening $LMTP" 15
ok $? "Dovecot LMTP listens on 127.0.0.1:$LMTP"

# store_count ID - files with Message-ID <ID> in Dovecot's Maildirs
store_count() {
	grep -rlx "Message-ID: <$1>" "$STORE" 2>/dev/null |
		grep -c '/\(new\|cur\)/'
}
# send N MSGID TO [SUBJECT] - one message to instance N's port 25
send() {
	local port
	eval "port=\$SMTP_$1"
	printf 'From: alice@example.net\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\nbody of %s\r\n' \
		"$3" "${4:-two hosts}" "$2" "$2" >"$DIR/msg.eml"
	$SEND 127.0.0.1 127.0.0.1 "$port" client.example.net \
		alice@example.net "$3" "$DIR/msg.eml"
}
qid_of() { sed -n 's/.*queued as \([0-9A-Z]*\).*/\1/p' <<<"$1"; }

# 1. Mail to either host is delivered exactly once.
RCPTS=(john@example.org mary@example.org jack@example.org)
declare -A QID HOST
for i in 1 2 3 4 5 6; do
	n=$(((i - 1) % 2 + 1))
	to=${RCPTS[$(((i - 1) % 3))]}
	out=$(send "$n" "th.$i@example.net" "$to")
	like "$out" '^accepted 250 2\.0\.0 Ok: queued as' \
		"message th.$i to $to accepted by instance $n"
	QID[$i]=$(qid_of "$out")
	HOST[$i]=$n
done
all_in() {
	local i
	for i in 1 2 3 4 5 6; do
		[ "$(store_count "th.$i@example.net")" -ge 1 ] || return 1
	done
}
wait_for all_in 30
ok $? "all six reached Dovecot's Maildirs"
for i in 1 2 3 4 5 6; do
	n=${HOST[$i]}
	use "$n"
	wait_for "instance_log_grep '${QID[$i]}: removed'" 10
	is "$(store_count "th.$i@example.net")" 1 \
		"th.$i is in the mailbox tier exactly once"
	like "$(instance_log_grep "${QID[$i]}: to=<")" \
		"relay=127\.0\.0\.1\[127\.0\.0\.1\]:$LMTP,.* status=sent \(250 2\.0\.0" \
		"... delivered over LMTP by instance $n, which accepted it"
done
f=$(grep -rlx 'Message-ID: <th.3@example.net>' "$STORE")
like "$f" "^$STORE/example\.org/john/(new|cur)/" \
	"the alias jack@ (from MariaDB) lands in john's Maildir"
total=$(find "$STORE" -path '*/new/*' -type f -o -path '*/cur/*' -type f |
	wc -l)
is "$total" 6 "six files in all, no duplicate"
for n in 1 2; do
	use "$n"
	left=$(find "$INSTANCE_QUEUE"/{incoming,active,deferred,hold} -type f \
		2>/dev/null | wc -l)
	is "$left" 0 "instance $n's queue is empty"
done

# 2. MariaDB down. The message is accepted while the database is up and
# kept in hold/, so it cannot be delivered before the outage.
use 1
out=$(send 1 th.outage@example.net mary@example.org "hold for the outage")
like "$out" '^accepted 250' "instance 1 accepts a message before the outage"
hqid=$(qid_of "$out")
[ -n "$hqid" ] && wait_for "[ -f '$INSTANCE_QUEUE/hold/$hqid' ]" 5
ok $? "it waits in instance 1's hold/ ($hqid)"
dbpid=$MARIADB_PID
mariadb_stop
E1=$INSTANCE_CONF_1
"$POSTERN_BIN/postmap" -c "$E1" -q example.org \
	"mysql:$E1/mysql-virtual-mailbox-domains.cf" >/dev/null 2>&1
st=$?
! pid_alive "$dbpid" && [ "$st" = 75 ]
ok $? "MariaDB is stopped (postmap -q exits 75, got $st)"
# the daemons' answers in hand serve until lookup_cache_time (5s) has passed
sleep 5
out=$(send 2 th.during@example.net john@example.org)
like "$out" '^refused 451 4\.3\.0' \
	"instance 2 answers 451 4.3.0 while the database is down (not 5xx)"
"$POSTERN_BIN/postsuper" -c "$E1" -H "$hqid" >/dev/null 2>&1
ok $? "postsuper -H releases it while the database is down"
dre="$hqid: to=<mary@example\.org>.* dsn=4\.3\.0, status=deferred \(.*lookup"
wait_for "instance_log_grep '$dre'" 30
ok $? "instance 1 defers it: dsn=4.3.0, status=deferred (lookup error)" ||
	diag "$(instance_log_grep "$hqid")"
note "$(instance_log_grep "$dre" | head -1)"
wait_for "[ -f '$INSTANCE_QUEUE/deferred/$hqid' ]" 10
ok $? "it waits in instance 1's deferred/"
is "$(store_count th.outage@example.net)" 0 "nothing delivered meanwhile"
mariadb_start "$DIR/db" "$MARIADB_PORT" || bail_out "MariaDB did not restart"
pq=$("$POSTERN_BIN/postqueue" -v -c "$E1" -f 2>&1)
ok $? "database back; postqueue -f" || diag "$pq"
wait_for "instance_log_grep '$hqid: removed'" 30
ok $? "the message left instance 1's queue"
is "$(store_count th.outage@example.net)" 1 \
	"the message queued during the outage is delivered, once"
like "$(instance_log_grep "$hqid: to=<mary@example\.org>.*status=sent")" \
	"relay=127\.0\.0\.1\[127\.0\.0\.1\]:$LMTP" "... over LMTP"
is "$(store_count th.during@example.net)" 0 \
	"the message refused with 451 was not delivered"

# 3. LMTP over a unix socket relative to queue_directory.
use 2
qmgr_pid() {
	ps -o pid=,args= --ppid "$INSTANCE_PID" 2>/dev/null |
		awk '$2 ~ /(^|\/)qmgr$/ { print $1 }'
}
oldq=$(qmgr_pid)
instance_conf "virtual_transport=lmtp:unix:private/dovecot-lmtp" &&
	"$POSTERN_BIN/postern" -c "$INSTANCE_CONF" reload >/dev/null 2>&1
ok $? "instance 2: virtual_transport = lmtp:unix:private/dovecot-lmtp, reload"
# The new configuration is qmgr's once a new qmgr runs and the old one,
# drained, is gone.
wait_for "q=\$(qmgr_pid); [ -n \"\$q\" ] && ! grep -qx '$oldq' <<<\"\$q\"" 15
ok $? "a new qmgr runs (was ${oldq:-none}, now $(qmgr_pid))"
out=$(send 2 th.unix@example.net john@example.org)
like "$out" '^accepted 250' "instance 2 accepts a message"
uqid=$(qid_of "$out")
wait_for "[ \"\$(store_count th.unix@example.net)\" -ge 1 ]" 20
is "$(store_count th.unix@example.net)" 1 "it is delivered once"
like "$(instance_log_grep "$uqid: to=<john@example\.org>")" \
	"relay=.*\[$INSTANCE_QUEUE/private/dovecot-lmtp\],.* status=sent" \
	"... through Dovecot's socket in instance 2's private/"

grep -E 'Error|Fatal|Panic' "$DIR/dovecot/dovecot.log" >"$DIR/dovecot.err"
is "$(head -3 "$DIR/dovecot.err")" "" "Dovecot logged no error"

for n in 1 2; do
	use "$n"
	instance_stop
	ok $? "instance $n stops cleanly"
	save "$n"
done
done_testing
