#!/bin/bash
# NAME
#	62-mysql-queries.t - MySQL SELECTs per message; the lookup cache
# DESCRIPTION
#	The bench configuration (tests/bench/lib.sh: the seed's three mysql
#	maps, postscreen in front of smtpd, reject_unlisted_recipient) with
#	one smtpd process (each process has its own cache) and
#	lookup_cache_time = 10s (the default is 5s; 10 keeps the warm
#	message inside the TTL on a loaded machine). Counted twice, from
#	MariaDB's general query log (which statements) and its Com_select
#	counter (how many):
#	- cold, the first message to a virtual mailbox: 10 SELECTs, those
#	  Postfix 3.7 issues after its caches expire: smtpd's domain class
#	  (virtual_mailbox_domains, virtual_alias_domains =
#	  $virtual_alias_maps) and reject_unlisted_recipient (alias user,
#	  alias @domain, mailbox user), qmgr's domain class and virtual
#	  alias expansion (alias user, alias @domain), virtual's mailbox;
#	- warm, the next message within lookup_cache_time: 0 (Postfix 3.7:
#	  6), every answer from the processes' lookup caches;
#	- a table change is seen once the TTL has passed, not before: a
#	  user added after smtpd was told "not found" is refused (550
#	  5.1.1, the cached negative answer) until lookup_cache_time has
#	  passed, then accepted and delivered.
#	The outage side (a database that is down is 4xx/deferred, never a
#	cached answer, past the TTL) is tests/60-mailpath.t's and
#	maps/map_cache_test's.
# DIAGNOSTICS
#	TAP. Every process is stopped by its PID (trap). About 30 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/bench/lib.sh"

for p in master smtpd qmgr virtual postmap postalias; do
	[ -x "$POSTERN_BIN/$p" ] || bail_out "no $p in $POSTERN_BIN"
done
PORT=$((28400 + ($$ % 10) * 4))	# Ports 28400-28439 (bench/profile.sh holds 26225).
BENCH_DIR=$(mktemp -d /tmp/postern-62-queries.XXXXXX)
chmod 755 "$BENCH_DIR"
note "directory $BENCH_DIR"
trap 'bench_cleanup; [ -n "${POSTERN_KEEP:-}" ] || rm -rf "$BENCH_DIR"' EXIT

TTL=10
bench_mariadb || bail_out "MariaDB did not start"
BENCH_PT_CONF="lookup_cache_time=${TTL}s" bench_postern_start "$PORT" ||
	bail_out "postern did not start"
# one smtpd process (maxproc 1; the default is one per core): the lookup
# cache is per process, and this test counts what one process remembers
instance_stop
awk '$1 == "smtpd" && $2 == "pass" { $7 = 1 } { print }' \
	"$INSTANCE_CONF/master.cf" >"$BENCH_DIR/master.cf" &&
	cat "$BENCH_DIR/master.cf" >"$INSTANCE_CONF/master.cf"
instance_start || bail_out "postern did not restart"
wait_for "port_listening $PORT" 10 || bail_out "smtpd not listening"
LOG=$BENCH_DIR/general.log

# log_on / log_off - MariaDB's general query log
log_on() {
	: >"$LOG"
	mariadb_client -e "SET GLOBAL general_log_file='$LOG';
		SET GLOBAL general_log=1"
}
log_off() {
	mariadb_client -e "SET GLOBAL general_log=0"
}
# selects - the SELECT statements logged, one a line
selects() {
	grep -i 'Query[[:space:]]*SELECT' "$LOG" | grep -v general_log |
		sed 's/.*Query[[:space:]]*//'
}
# com_select - MariaDB's count of SELECT statements since it started
com_select() {
	mariadb_client -N -B -e "SHOW GLOBAL STATUS LIKE 'Com_select'" |
		awk '{ print $2 }'
}
# delivered N - wait until the mailbox holds N messages
delivered() {
	wait_for "[ \$(bench_count $PT_MAIL) -ge $1 ]" 20
}
# send RCPT - one message from a fresh session; prints swaks' transcript
send() {
	swaks -s 127.0.0.1 -p "$PORT" -h client.example.net \
		-f someone@sender.example -t "$1" 2>&1
}

# 1. cold: the first message, nothing cached anywhere
log_on
c0=$(com_select)
send bench@example.org >"$BENCH_DIR/s1.txt"
ok $? "first message accepted" || diag "$(tail -5 "$BENCH_DIR/s1.txt")"
delivered 1
is "$(bench_count "$PT_MAIL")" 1 "first delivered"
sleep 1
c1=$(com_select)
log_off
got=$(selects | sort | uniq -c | sed 's/^ *//')
want="2 SELECT 1 FROM virtual_domains WHERE name='example.org'
2 SELECT 1 FROM virtual_users WHERE email='bench@example.org'
2 SELECT destination FROM virtual_aliases WHERE source='@example.org'
2 SELECT destination FROM virtual_aliases WHERE source='bench@example.org'
2 SELECT destination FROM virtual_aliases WHERE source='example.org'"
is "$got" "$want" "cold: each of smtpd and qmgr asks the domain class and aliases; smtpd and virtual the mailbox"
is "$((c1 - c0))" 10 "cold: Com_select +10 for the first message"

# 2. warm: the next message, within lookup_cache_time
log_on
c0=$(com_select)
send bench@example.org >"$BENCH_DIR/s2.txt"
ok $? "second message accepted" || diag "$(tail -5 "$BENCH_DIR/s2.txt")"
delivered 2
is "$(bench_count "$PT_MAIL")" 2 "second delivered"
sleep 1
c1=$(com_select)
log_off
is "$(selects | wc -l)" 0 "warm: no SELECT in the general log" ||
	diag "$(selects)"
is "$((c1 - c0))" 0 "warm: Com_select +0 (Postfix 3.7: +6)"

# 3. a new row is seen after lookup_cache_time, not before
NEWBOX=$INSTANCE_MAIL/example.org/fresh
out=$(send fresh@example.org)
like "$out" '<\*\* +550 5\.1\.1' "not yet a user: 550 5.1.1"
t0=$SECONDS
mariadb_sql "INSERT INTO virtual_users (domain_id, password, email)
	VALUES (1, 'x', 'fresh@example.org')" || bail_out "cannot insert"
out=$(send fresh@example.org)
like "$out" '<\*\* +550 5\.1\.1' \
	"added, $((SECONDS - t0)) s later (TTL $TTL s): still 550, the cached answer"
sleep $((TTL + 1 - (SECONDS - t0) > 0 ? TTL + 1 - (SECONDS - t0) : 0))
out=$(send fresh@example.org)
like "$out" '<- +250 ' "added, after lookup_cache_time: accepted" ||
	diag "$(tail -5 <<<"$out")"
wait_for "[ \$(bench_count $NEWBOX) -ge 1 ]" 20
is "$(bench_count "$NEWBOX")" 1 "and delivered to the new mailbox"
done_testing
