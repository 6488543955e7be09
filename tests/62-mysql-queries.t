#!/bin/bash
# NAME
#	62-mysql-queries.t - MySQL SELECTs per message, as Postfix 3.7
# DESCRIPTION
#	The bench configuration (tests/bench/lib.sh: the seed's three mysql
#	maps, smtpd on the port, reject_unlisted_recipient): one message to
#	a virtual mailbox, sent as the second message of an SMTP session,
#	costs the SELECTs Postfix 3.7 issues for it, 6: smtpd's
#	reject_unlisted_recipient (alias user, alias @domain, mailbox user),
#	qmgr's virtual alias expansion (alias user, alias @domain) and
#	virtual's mailbox lookup. The domain's class (virtual_alias_domains
#	= $virtual_alias_maps, virtual_mailbox_domains) comes from the
#	processes' 5-second caches (lib/dcache.h), and is asked again once
#	that has expired.
# DIAGNOSTICS
#	TAP. Every process is stopped by its PID (trap).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/bench/lib.sh"

for p in master smtpd qmgr virtual postmap postalias; do
	[ -x "$POSTERN_BIN/$p" ] || bail_out "no $p in $POSTERN_BIN"
done
PORT=$((28400 + ($$ % 10) * 4))
BENCH_DIR=$(mktemp -d /tmp/postern-62-queries.XXXXXX)
chmod 755 "$BENCH_DIR"
note "directory $BENCH_DIR"
trap 'bench_cleanup; [ -n "${POSTERN_KEEP:-}" ] || rm -rf "$BENCH_DIR"' EXIT

bench_mariadb || bail_out "MariaDB did not start"
bench_postern_start "$PORT" || bail_out "postern did not start"
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
# delivered N - wait until the mailbox holds N messages
delivered() {
	wait_for "[ \$(bench_count $PT_MAIL) -ge $1 ]" 20
}

# two messages in one session; the log covers only the second
export POSTERN_TOP PT_MAIL LOG MARIADB_SOCKET
/usr/bin/python3 - "$PORT" <<'PY'
import os, smtplib, subprocess, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
s.ehlo('client.example.net')
msg = 'Subject: queries\r\n\r\nbody\r\n'
s.sendmail('someone@sender.example', ['bench@example.org'], msg)
sock = os.environ['MARIADB_SOCKET']
mail = os.environ['PT_MAIL'] + '/new'
subprocess.run(['bash', '-c', 'for i in $(seq 100); do '
    '[ "$(ls %s 2>/dev/null | wc -l)" -ge 1 ] && break; sleep 0.1; done'
    % mail])
open(os.environ['LOG'], 'w').close()
subprocess.run(['mariadb', '--no-defaults', '-uroot', '--socket=' + sock,
    '-e', "SET GLOBAL general_log_file='%s'; SET GLOBAL general_log=1"
    % os.environ['LOG']], check=True)
s.sendmail('someone@sender.example', ['bench@example.org'], msg)
s.quit()
PY
ok $? "two messages sent in one session"
delivered 2
is "$(bench_count "$PT_MAIL")" 2 "both delivered"
sleep 1
log_off
got=$(selects | sort | uniq -c | sed 's/^ *//')
want="2 SELECT 1 FROM virtual_users WHERE email='bench@example.org'
2 SELECT destination FROM virtual_aliases WHERE source='@example.org'
2 SELECT destination FROM virtual_aliases WHERE source='bench@example.org'"
is "$got" "$want" "warm: Postfix's 6 SELECTs, no domain-class query"
is "$(selects | wc -l)" 6 "warm: 6 SELECTs per message"

# after the cache's TTL (5 s) the domain's class is asked again
sleep 6
log_on
swaks -s 127.0.0.1 -p "$PORT" -h client.example.net \
	-f someone@sender.example -t bench@example.org --silent 2 >/dev/null
ok $? "third message accepted"
delivered 3
is "$(bench_count "$PT_MAIL")" 3 "third delivered"
sleep 1
log_off
is "$(selects | grep -c "virtual_domains WHERE name='example.org'")" 2 \
	"expired: smtpd and qmgr ask virtual_mailbox_domains again"
is "$(selects | grep -c "virtual_aliases WHERE source='example.org'")" 2 \
	"expired: and virtual_alias_domains (\$virtual_alias_maps)"
is "$(selects | wc -l)" 10 "cold: 10 SELECTs"
done_testing
