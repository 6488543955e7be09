#!/bin/bash
# NAME
#	86-sandbox.t - issue 19's "Must show": "postern sandbox" runs a real
#	configuration, unchanged, as a non-root user, and swaks checks it
# DESCRIPTION
#	1. The seed's main.cf and master.cf, byte for byte, with the map
#	   files they name (tests/sandbox/postfix/: aliases, generic,
#	   relay_password, the tutorial's three mysql-*.cf, ...) in one
#	   directory, started by the user nobody (setpriv) with the README's
#	   command: --dns tests/sandbox/dns.fixture, --sql the seed schema
#	   (etc/sql/mailserver-tables.sql) and tests/sandbox/rows.sql (the
#	   sandbox starts its own MariaDB), -o smtpd_sasl_type = dovecot
#	   and smtpd_sasl_path at a Dovecot (root's, as an administrator's
#	   would be) whose passdb is the seed's SQL on the sandbox's MariaDB.
#	   tests/sandbox/check-config.sh (the README's example, run as
#	   nobody, verbatim) must pass all its checks: MySQL mailbox
#	   byte-exact, virtual alias, 550 5.1.1, relay 554 5.7.1,
#	   postscreen's pregreet rejection, submission STARTTLS + AUTH
#	   captured for the relayhost with smtp_generic_maps and the
#	   relay_password user. Then the JSON: sandbox.json (ports accept,
#	   PIDs alive), "mailbox" (2 for john, 0 for jane), "captured" (1:
#	   TLS level encrypt, server smtp.myisp.com[192.0.2.26]:587 from the
#	   fixture, the .eml's From: rewritten), a message deferred on
#	   purpose (jane's Maildir made unwritable): "queue" shows it
#	   deferred with the reason, "log" shows its status=deferred line,
#	   the captured message's log has status=sent relay=capture and
#	   "removed". "stop": every process of the sandbox (master and its
#	   children, dnsmasq, mariadbd) gone, within 1 s of SIGTERM.
#	2. Debian's postfix package's default configuration
#	   (/usr/share/postfix/main.cf.debian, /etc/postfix/master.cf) in
#	   the sandbox, without MariaDB: every inet service accepts, start
#	   and stop times printed (start within 15 s under ASan; the release
#	   build takes 0.2-0.35 s and stops in 0.02-0.06 s), and the
#	   warnings printed are exactly
#	   those "postern check" prints for that directory.
#	A failing test still stops everything: the EXIT trap runs
#	"postern sandbox stop" and then kills by PID whatever is left.
#	35-40 s under ASan on 2 shared cores (load ~10), 65-85 s with
#	3-5 more busy loops: MariaDB's first start (9-35 s), postscreen's
#	greet wait for the first Internet client (6 s, the seed's
#	postscreen_greet_wait), ASan daemons' exits at stop. Every wait for
#	a delivery is for the state a user would look at (the Maildir file,
#	the capture record, the log's last line, the queue's deferred
#	entry), bounded at 120 s, never a fixed sleep.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/dovecot.sh"

[ "$(id -u)" = 0 ] || bail_out "needs root (to run the sandbox as nobody)"
for c in swaks dnsmasq mariadbd mariadb-install-db dovecot setpriv perl \
	/usr/bin/python3 openssl; do
	command -v "$c" >/dev/null || bail_out "$c is not installed"
done
perl -MIO::Socket::SSL -e 1 2>/dev/null || bail_out "no IO::Socket::SSL"
[ -f /usr/share/postfix/main.cf.debian ] && [ -f /etc/postfix/master.cf ] ||
	bail_out "Debian's postfix package is not installed"

# Under ASan every daemon's exit (LeakSanitizer's scan) takes longer than
# the 1 s "postern sandbox stop" gives before SIGKILL: wait up to 15 s,
# and check that no SIGKILL was needed (the release build stops the seed's
# sandbox in about 0.3 s).
export POSTERN_SANDBOX_STOP_WAIT=15
TOP=$(mktemp -d /tmp/postern-86.XXXXXX)
chmod 755 "$TOP"
mkdir -p "$TOP/run" "$TOP/dc" "$TOP/postfix" "$TOP/debian"
chown nobody "$TOP/run"
CONF=$TOP/postfix
SB=$TOP/run/sb
SASL=$TOP/dc/auth
DEB_SB=$TOP/run/debian-sb
note "directory $TOP"

elapsed() {	# elapsed T0 T1: seconds, 3 decimals
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}
# The checkout may sit where nobody cannot enter (root's 0700 home: a CI
# clone under /root, make check-fresh's /root/postern), so nobody works
# in a copy of what it needs: the programs, the files the README's
# example names (tests/sandbox, etc/sql, etc/seed) and the LeakSanitizer
# suppressions its daemons read when they exit.
STAGE=$TOP/top
mkdir -p "$STAGE/etc" "$STAGE/tests/lib" "$STAGE/bin"
cp -R "$POSTERN_TOP/tests/sandbox" "$STAGE/tests/" &&
	cp -R "$POSTERN_TOP/etc/sql" "$POSTERN_TOP/etc/seed" "$STAGE/etc/" &&
	cp "$POSTERN_TOP/tests/lib/lsan.supp" "$STAGE/tests/lib/" &&
	cp -pR "$POSTERN_BIN/." "$STAGE/bin/" && chmod -R a+rX "$STAGE" ||
	bail_out "cannot copy the checkout's files for nobody"
# as_user CMD: CMD by sh as nobody, in the copy, postern on PATH
as_user() {
	(cd "$STAGE" && setpriv --reuid=nobody --regid=nogroup \
		--clear-groups env PATH="$STAGE/bin:$PATH" CONF="$CONF" \
		LSAN_OPTIONS="suppressions=$STAGE/tests/lib/lsan.supp:print_suppressions=0" \
		SB="$SB" SASL="$SASL" sh -c "$1")
}
# sb_pids DIR: the sandbox's recorded PIDs and all their descendants
sb_pids() {
	local p list kids
	list=$(awk '$1 ~ /^(master|dnsmasq|mariadb)$/ && $2 > 0 { print $2 }' \
		"$1/.sandbox" 2>/dev/null)
	kids=$list
	while [ -n "$kids" ]; do
		p=$kids
		kids=$(for k in $p; do ps -o pid= --ppid "$k"; done | tr -d ' ')
		list="$list $kids"
	done
	echo $list
}
cleanup() {
	local d p
	for d in "$SB" "$DEB_SB"; do
		[ -f "$d/.sandbox" ] || continue
		p=$(sb_pids "$d")
		as_user "postern sandbox stop '$d'" >/dev/null 2>&1
		for p in $p; do kill -KILL "$p" 2>/dev/null; done
	done
	dovecot_stop
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$TOP"
}
trap cleanup EXIT

cp "$POSTERN_TOP/etc/seed/main.cf" "$POSTERN_TOP/etc/seed/master.cf" \
	"$POSTERN_TOP"/tests/sandbox/postfix/* "$CONF/"
chmod -R a+rX "$TOP/postfix"
cmp -s "$CONF/main.cf" "$POSTERN_TOP/etc/seed/main.cf" &&
	cmp -s "$CONF/master.cf" "$POSTERN_TOP/etc/seed/master.cf"
ok $? "the seed's main.cf and master.cf, unchanged"

# --- 1. the seed's configuration ------------------------------------
t0=$(date +%s.%N)
as_user 'postern sandbox -c "$CONF" --dir "$SB" --dns tests/sandbox/dns.fixture --sql etc/sql/mailserver-tables.sql --sql tests/sandbox/rows.sql -o smtpd_sasl_type=dovecot -o smtpd_sasl_path="$SASL"' \
	>"$TOP/start.out" 2>"$TOP/start.err"
rc=$?
t1=$(date +%s.%N)
is "$rc" 0 "sandbox start as nobody: exit 0" ||
	bail_out "the sandbox did not start: $(grep -v 'postern\[' \
		"$TOP/start.err" | tail -5; grep -E 'fatal|panic|not found' \
		"$SB/maillog" 2>/dev/null | tail -3)"
note "seed sandbox (with MariaDB) started in $(elapsed "$t0" "$t1") s"
J=$SB/sandbox.json
# /usr/bin/python3 (tools/deps.txt's), not the first python3 on PATH: a
# pyenv shim there costs 1-7 s a call on a loaded machine, and this test
# makes about 40 calls.
jq() {	# jq PYTHON-EXPR FILE: the expression on the parsed JSON in d
	/usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[2]))
v = eval(sys.argv[1])
print(" ".join(map(str, v)) if isinstance(v, tuple) else v)' "$1" "$2"
}
is "$(jq '" ".join(sorted(s["name"] for s in d["services"]))' "$J")" \
	"smtp submission" "sandbox.json: the seed's two inet services"
is "$(stat -c %U "$SB/queue" "$SB/capture" "$SB/mail" | sort -u)" nobody \
	"queue, capture and Maildirs belong to the calling user"
n=0
for p in $(jq '" ".join(str(s["port"]) for s in d["services"])' "$J"); do
	/usr/bin/python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2).close()' "$p" &&
		n=$((n + 1))
done
is "$n" 2 "both services accept on their 127.0.0.1 port"
mapdir() {	# TYPE:/dir/file -> TYPE:DIR/file
	sed -E 's#(hash|mysql|cidr):/[^ ,]*/#\1:DIR/#g' "$@"
}
sed -n '/^# --- postern sandbox/q;p' "$SB/etc/main.cf" | mapdir |
	diff -B - <(mapdir "$POSTERN_TOP/etc/seed/main.cf") >"$TOP/main.diff"
ok $? "DIR/etc/main.cf: the seed's lines first, only map paths changed"
grep -q "hash:$SB/etc/maps/relay_password" "$SB/etc/main.cf"
ok $? "DIR/etc/main.cf: hash:/etc/postfix/relay_password is the copy in DIR"

# Dovecot as the administrator runs it: the seed's SQL passdb, here on
# the sandbox's MariaDB (port and password from sandbox.json).
cat >"$TOP/dc/sql.conf" <<EOF
driver = mysql
connect = host=127.0.0.1 port=$(jq 'd["mariadb"]["port"]' "$J") dbname=mailserver user=sandbox password=$(jq 'd["mariadb"]["password"]' "$J")
default_pass_scheme = PLAIN-MD5
password_query = SELECT email as user, password FROM virtual_users WHERE email='%u';
EOF
dovecot_conf "$TOP/dc" "$SASL" sql "$TOP/dc/sql.conf"
dovecot_start "$TOP/dc" || bail_out "dovecot did not start"

as_user 'sh tests/sandbox/check-config.sh "$SB"' >"$TOP/check.out" 2>&1
rc=$?
while read -r line; do
	case $line in
	"ok "*) pass "check-config.sh: ${line#ok [0-9]* - }" ;;
	"not ok "*) fail "check-config.sh: ${line#not ok [0-9]* - }" ;;
	esac
done <"$TOP/check.out"
sblog() {	# the sandbox's log lines that explain a failed check
	grep -E 'status=|warning|fatal|panic|timeout|suspended|removed' \
		"$SB/maillog" | tail -40
}
is "$rc" 0 "check-config.sh exits 0" || {
	diag "$(cat "$TOP/check.out")"
	diag "$(sblog)"
}
is "$(grep -c '^ok ' "$TOP/check.out")" 15 "check-config.sh: 15 checks passed"

as_user 'postern sandbox captured "$SB"' >"$TOP/captured.json"
is "$(jq 'd["count"]' "$TOP/captured.json")" 1 "captured: 1 message" ||
	diag "$(cat "$TOP/captured.json"; sblog)"
C='d["messages"][0]'
is "$(jq "$C[\"server\"][\"host\"], $C[\"server\"][\"addr\"], $C[\"server\"][\"port\"]" "$TOP/captured.json")" \
	"smtp.myisp.com 192.0.2.26 587" \
	"captured: the server is the relayhost's address from the DNS fixture"
is "$(jq "$C[\"tls\"][\"level\"], $C[\"transport\"], $C[\"rcpt_to\"][0][\"addr\"]" "$TOP/captured.json")" \
	"encrypt smtp bob@example.net" "captured: TLS level, transport, recipient"
EML=$SB/capture/$(jq "$C[\"message\"]" "$TOP/captured.json")
grep -q '^From: john.smith@myisp.com' "$EML"
ok $? "captured .eml: From: rewritten by smtp_generic_maps"
CID=$(jq "$C[\"queue_id\"]" "$TOP/captured.json")
# The capture file is written before the agent logs status=sent and qmgr
# logs "removed": wait for that last line (bounded) before reading it.
end=$((SECONDS + 120))
while :; do
	as_user "postern sandbox log \"\$SB\" $CID" >"$TOP/log.json"
	case $(jq 'd["lines"][-1]' "$TOP/log.json" 2>/dev/null) in
	*": removed") break ;;
	esac
	[ "$SECONDS" -lt "$end" ] || break
	sleep 0.2
done
like "$(jq '"\n".join(d["lines"])' "$TOP/log.json")" \
	"$CID: to=<bob@example.net>, relay=capture, .*status=sent \\(250 2.0.0 Ok: captured as $CID\\.1\\)" \
	"log: the captured message was sent, relay=capture"
like "$(jq 'd["lines"][-1]' "$TOP/log.json")" "$CID: removed" \
	"log: and its queue file removed"

as_user 'postern sandbox mailbox "$SB"' >"$TOP/mbox.json"
is "$(jq 'd["count"], sorted(set(m["delivered_to"] for m in d["messages"]))' "$TOP/mbox.json")" \
	"2 ['john@example.org']" "mailbox: 2 messages in all, both john's" ||
	diag "$(cat "$TOP/mbox.json"; sblog)"

# A message deferred on purpose: jane's Maildir is not writable.
as_user 'mkdir -p "$SB/mail/example.org/jane" && chmod 0 "$SB/mail/example.org/jane"'
SUB=$(jq '[s["port"] for s in d["services"] if s["name"] == "submission"][0]' "$J")
swaks --server "127.0.0.1:$SUB" -tls --auth PLAIN --auth-user john@example.org \
	--auth-password john-secret --from john@example.org \
	--to jane@example.org >"$TOP/jane.out" 2>&1
grep -q '^<~  *250 2.0.0 Ok: queued' "$TOP/jane.out"
ok $? "submission: mail to jane@example.org queued"
end=$((SECONDS + 120))	# a generous bound: the ASan build, a loaded machine
while :; do
	as_user 'postern sandbox queue "$SB"' >"$TOP/queue.json"
	[ "$(jq '[m["queue_name"] for m in d["messages"]]' "$TOP/queue.json")" = "['deferred']" ] && break
	[ "$SECONDS" -lt "$end" ] || break
	sleep 0.2
done
is "$(jq 'd["count"], d["messages"][0]["queue_name"], d["messages"][0]["recipients"][0]["address"]' "$TOP/queue.json")" \
	"1 deferred jane@example.org" "queue: 1 message, deferred, for jane" ||
	diag "$(cat "$TOP/queue.json"; sblog)"
like "$(jq 'd["messages"][0]["recipients"][0]["delay_reason"]' "$TOP/queue.json")" \
	"cannot (create maildir|write) .*: Permission denied" "queue: the deferral reason"
QID=$(jq 'd["messages"][0]["queue_id"]' "$TOP/queue.json")
as_user "postern sandbox log \"\$SB\" $QID" >"$TOP/qlog.json"
like "$(jq 'd["lines"][-1]' "$TOP/qlog.json")" \
	"$QID: to=<jane@example.org>, relay=virtual, .*dsn=4.3.0, status=deferred" \
	"log: its status=deferred line"
as_user 'postern sandbox log "$SB" NOSUCHID' >/dev/null
is "$?" 1 "log of an unknown queue id: exit 1"

# stop: every process gone, by PID (the log kept for POSTERN_KEEP=1)
cp "$SB/maillog" "$TOP/maillog" 2>/dev/null
PIDS=$(sb_pids "$SB")
[ "$(echo $PIDS | wc -w)" -ge 5 ]
ok $? "before stop: master, its children, dnsmasq, mariadbd ($(echo $PIDS | wc -w) processes)"
t0=$(date +%s.%N)
as_user 'postern sandbox stop "$SB"' >"$TOP/stop.out" 2>&1
rc=$?
t1=$(date +%s.%N)
is "$rc" 0 "sandbox stop: exit 0"
! grep -q SIGKILL "$TOP/stop.out"
ok $? "sandbox stop: every process ended on SIGTERM (no SIGKILL)"
note "seed sandbox stopped in $(elapsed "$t0" "$t1") s: $(cat "$TOP/stop.out")"
left=
for p in $PIDS; do
	st=$(ps -o stat= -p "$p" 2>/dev/null)
	case $st in ""|Z*) ;; *) left="$left $p($(ps -o comm= -p "$p"))" ;; esac
done
is "$left" "" "after stop: none of the sandbox's processes is left"
[ ! -e "$SB" ]
ok $? "after stop: DIR removed (no --keep)"

# exit codes a script can use
as_user "postern sandbox stop '$TOP/postfix'" >/dev/null 2>&1
is "$?" 2 "stop on a directory that is not a sandbox: exit 2"
as_user "postern sandbox -c '$TOP/postfix' --dir '$TOP/postfix'" >/dev/null 2>&1
is "$?" 2 "start into a directory that is not empty: exit 2"
as_user "postern sandbox -c '$TOP/postfix' --no-such-option" >/dev/null 2>&1
is "$?" 2 "usage error: exit 2"

# --- 2. Debian's default /etc/postfix ---------------------------------
cp /usr/share/postfix/main.cf.debian "$TOP/debian/main.cf"
cp /etc/postfix/master.cf "$TOP/debian/master.cf"
chmod -R a+rX "$TOP/debian"
"$POSTERN_BIN/postern" -c "$TOP/debian" check >"$TOP/deb-check.out" 2>&1
is "$?" 0 "postern check on Debian's default configuration: exit 0"
t0=$(date +%s.%N)
as_user "postern sandbox -c '$TOP/debian' --dir '$DEB_SB' --keep --json '$TOP/run/deb.json'" \
	>"$TOP/deb-start.out" 2>"$TOP/deb-start.err"
rc=$?
t1=$(date +%s.%N)
is "$rc" 0 "Debian's default configuration starts in the sandbox" ||
	diag "$(cat "$TOP/deb-start.err")"
start=$(elapsed "$t0" "$t1")
note "Debian default sandbox started in $start s (accepting on every port)"
# The issue's 1 s is the release build's (README: 0.2-0.35 s); the ASan
# build takes 1.5-2 s on 2 busy cores and up to 6 s at load 35. 15 s still
# catches a start that waits out a timeout (a port, the resolver, a pid).
awk -v t="$start" 'BEGIN { exit !(t < 15) }'
ok $? "started within 15 s (ASan build, loaded machine)"
norm() {	# the warnings, without time, pid and directory
	grep -E 'warning:|error:|fatal:' "$1" |
		sed -E 's/^.*(warning|error|fatal): //; s#'"$2"'#CONF#g'
}
is "$(norm "$TOP/deb-start.err" "$DEB_SB/etc")" \
	"$(norm "$TOP/deb-check.out" "$TOP/debian")" \
	"the sandbox prints exactly the warnings of postern check"
[ -n "$(norm "$TOP/deb-check.out" "$TOP/debian")" ]
ok $? "(postern check has warnings for it: the comparison is not empty)"
cmp -s "$TOP/run/deb.json" "$DEB_SB/sandbox.json"
ok $? "--json FILE: the same description as DIR/sandbox.json"
n=0
for p in $(jq '" ".join(str(s["port"]) for s in d["services"])' "$DEB_SB/sandbox.json"); do
	/usr/bin/python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2).close()' "$p" &&
		n=$((n + 1))
done
is "$n" "$(jq 'len(d["services"])' "$DEB_SB/sandbox.json")" \
	"every inet service of Debian's master.cf accepts"
PIDS=$(sb_pids "$DEB_SB")
t0=$(date +%s.%N)
as_user "postern sandbox stop '$DEB_SB'" >"$TOP/deb-stop.out" 2>&1
is "$?" 0 "Debian sandbox stop: exit 0"
t1=$(date +%s.%N)
note "Debian default sandbox stopped in $(elapsed "$t0" "$t1") s"
! grep -q SIGKILL "$TOP/deb-stop.out"
ok $? "Debian sandbox stop: no SIGKILL needed"
left=
for p in $PIDS; do
	st=$(ps -o stat= -p "$p" 2>/dev/null)
	case $st in ""|Z*) ;; *) left="$left $p" ;; esac
done
is "$left" "" "after stop: no process of the Debian sandbox is left"
[ -f "$DEB_SB/sandbox.json" ]
ok $? "--keep: DIR kept after stop"

done_testing
