#!/bin/bash
# NAME
#	20-mysql-maps.t - mysql: maps against a private MariaDB with the
#	seed's schema and the seed's three .cf query shapes
# DESCRIPTION
#	Starts MariaDB (tests/lib/mariadb.sh), loads the seed schema and a
#	few rows, and checks postmap -q through the virtual domain,
#	mailbox and alias queries of postfix.rst: found values, not found
#	(exit 1), case folding, an SQL quoting attack, host fail-over,
#	then a stopped server (temporary error, exit 75, never "not
#	found") and a long-lived "postmap -q -" session that reconnects
#	after the server comes back.

. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/mariadb.sh"

PM=$POSTERN_BIN/postmap
T=$(mktemp -d /tmp/postern-20-mysql.XXXXXX)
SESSION_PID=

cleanup() {
	exec 3>&- 2>/dev/null
	[ -n "$SESSION_PID" ] && kill "$SESSION_PID" 2>/dev/null
	mariadb_stop
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/conf"
: >"$T/conf/main.cf"
mariadb_start "$T/db" || bail_out "cannot start MariaDB"
mariadb_load_seed || bail_out "cannot load the seed schema"

# The three query shapes of the seed (postfix.rst).
mariadb_cf "$T/domains.cf" "SELECT 1 FROM virtual_domains WHERE name='%s'"
mariadb_cf "$T/mailboxes.cf" "SELECT 1 FROM virtual_users WHERE email='%s'"
mariadb_cf "$T/aliases.cf" \
	"SELECT destination FROM virtual_aliases WHERE source='%s'"

q() {
	OUT=$("$PM" -c "$T/conf" -q "$1" "mysql:$T/$2" 2>"$T/q.err")
	RC=$?
}

q example.org domains.cf
is "$RC:$OUT" "0:1" "virtual domain example.org found"
q EXAMPLE.Org domains.cf
is "$RC:$OUT" "0:1" "domain lookup folds case"
q example.com domains.cf
is "$RC:$OUT" "1:" "unknown domain: not found, exit 1"
q john@example.org mailboxes.cf
is "$RC:$OUT" "0:1" "mailbox john@example.org found"
q nobody@example.org mailboxes.cf
is "$RC:$OUT" "1:" "unknown mailbox: not found"
q jack@example.org aliases.cf
is "$RC:$OUT" "0:john@example.org" "alias jack -> john"
q john@example.org aliases.cf
is "$RC:$OUT" "1:" "address without alias: not found"

# Quoting attacks: the key is escaped, never SQL.
q "x' OR '1'='1" domains.cf
is "$RC:$OUT" "1:" "quoting attack on domains is not found"
q "x' OR '1'='1" aliases.cf
is "$RC:$OUT" "1:" "quoting attack on aliases is not found"
q "jack@example.org' OR 'a'='a" aliases.cf
is "$RC:$OUT" "1:" "quoting attack with a real prefix is not found"
q "x\\' OR 1=1 -- " mailboxes.cf
is "$RC:$OUT" "1:" "backslash-quote attack is not found"
q "$(printf 'jack@example.org\xff')" aliases.cf
is "$RC:$OUT" "1:" "invalid UTF-8 key is not found"

# Fail-over: a dead host first, the real one over the unix socket.
DEAD=$(mariadb_free_port)
cat >"$T/failover.cf" <<CF
user = mailuser
password = $MARIADB_PASSWORD
hosts = inet:127.0.0.1:$DEAD, unix:$MARIADB_SOCKET
dbname = mailserver
query = SELECT destination FROM virtual_aliases WHERE source='%s'
CF
# Hosts are tried in random order (seeded per process, as Postfix picks
# among them at random): over 20 postmap processes the dead host must be
# tried first sometimes (then a warning names it and the lookup still
# succeeds over the socket), and not tried at all other times. The chance
# that 20 random starts all pick the same host is 2 in a million.
good=0 tried=0 skipped=0
for i in $(seq 20); do
	q jack@example.org failover.cf
	[ "$RC:$OUT" = "0:john@example.org" ] && good=$((good + 1))
	if grep -q "connect to mysql server inet:127\.0\.0\.1:$DEAD: " "$T/q.err"; then
		tried=$((tried + 1))
	else
		skipped=$((skipped + 1))
	fi
done
is "$good" 20 "fail-over: every lookup found over the unix socket"
ok $(( tried == 0 )) "fail-over: the dead host was tried and failed ($tried of 20), warning names it"
ok $(( skipped == 0 )) "fail-over: random host order, the socket came first $skipped of 20 times"

# result_format and the domain restriction.
cat >"$T/fmt.cf" <<CF
user = mailuser
password = $MARIADB_PASSWORD
hosts = 127.0.0.1:$MARIADB_PORT
dbname = mailserver
query = SELECT email FROM virtual_users WHERE email='%u@%d'
result_format = %d/%u/
domain = example.org
CF
q john@example.org fmt.cf
is "$RC:$OUT" "0:example.org/john/" "result_format %d/%u/"
q john@example.net fmt.cf
is "$RC:$OUT" "1:" "domain restriction: other domains not queried"

# Several rows are joined with ", "; expansion_limit makes too many an error.
mariadb_sql "INSERT INTO virtual_aliases (domain_id, source, destination)
	VALUES (1, 'team@example.org', 'john@example.org'),
	       (1, 'team@example.org', 'jane@example.org')" ||
	bail_out "cannot insert rows"
q team@example.org aliases.cf
is "$RC:$OUT" "0:john@example.org, jane@example.org" "two rows joined with ', '"
{ cat "$T/aliases.cf"; echo "expansion_limit = 1"; } >"$T/limit.cf"
q team@example.org limit.cf
is "$RC:$OUT" "75:" "beyond expansion_limit: temporary error, no value"
like "$(cat "$T/q.err")" "expansion limit 1 exceeded" \
	"expansion_limit: the message says why"
q jack@example.org limit.cf
is "$RC:$OUT" "0:john@example.org" "within expansion_limit: found"

# A long-lived handle: keys through a fifo into one postmap -q - session.
mkfifo "$T/in"
"$PM" -c "$T/conf" -q - "mysql:$T/aliases.cf" <"$T/in" >"$T/out" \
	2>"$T/session.err" &
SESSION_PID=$!
exec 3>"$T/in"

# wait_lines - wait until FILE has N lines (10 s)
wait_lines() {
	local i
	for i in $(seq 100); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

echo jack@example.org >&3
wait_lines "$T/out" 1
is "$(sed -n 1p "$T/out")" "$(printf 'jack@example.org\tjohn@example.org')" \
	"session: first lookup"

mariadb_stop
start=$SECONDS
q jack@example.org aliases.cf
is "$RC" 75 "server stopped: postmap -q exits 75 (temporary), not 1"
is "$OUT" "" "server stopped: no value printed"
like "$(cat "$T/q.err")" "temporary lookup failure.*no database server" \
	"server stopped: the message says temporary failure"
ok $(( SECONDS - start > 10 )) "server stopped: the failure is quick"

echo jack@example.org >&3
for i in $(seq 100); do
	grep -q "temporary lookup failure" "$T/session.err" && break
	sleep 0.1
done
like "$(cat "$T/session.err")" "temporary lookup failure" \
	"session: the lookup while the server is down is a temporary error"

mariadb_launch
mariadb_wait || bail_out "cannot restart MariaDB"
echo jack@example.org >&3
wait_lines "$T/out" 2
is "$(sed -n 2p "$T/out")" "$(printf 'jack@example.org\tjohn@example.org')" \
	"session: reconnected after the server came back"

# A server restart while the session holds a connection.
mariadb_restart || bail_out "cannot restart MariaDB"
echo jack@example.org >&3
wait_lines "$T/out" 3
is "$(sed -n 3p "$T/out")" "$(printf 'jack@example.org\tjohn@example.org')" \
	"session: reconnected after a restart (dropped connection)"

# The server kills the session's connection (an admin, a wait_timeout).
killed=0
for id in $(mariadb_sql "SELECT id FROM information_schema.processlist
	WHERE user = 'mailuser'"); do
	mariadb_sql "KILL $id" && killed=$((killed + 1))
done
is "$killed" 1 "the session's one connection was killed"
echo jack@example.org >&3
wait_lines "$T/out" 4
is "$(sed -n 4p "$T/out")" "$(printf 'jack@example.org\tjohn@example.org')" \
	"session: reconnected after the server killed its connection"

exec 3>&-
for i in $(seq 100); do
	kill -0 "$SESSION_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$SESSION_PID" 2>/dev/null; then
	fail "session exits at end of input" "postmap -q - still running"
else
	wait "$SESSION_PID"
	is "$?" 75 "session exit status: 75 (a lookup failed temporarily)"
	SESSION_PID=
fi

done_testing
