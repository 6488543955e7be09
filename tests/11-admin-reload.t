#!/bin/bash
# 11-admin-reload.t - what happens when the administrator makes a mistake
# (issue 10 items 3, 4, 5): "postern start" detaches (nothing holds the
# caller's stdout/stderr: "postern start | cat" ends; master and its
# children have /dev/null as stdio and their own session); "postern
# reload" runs the configuration check first and refuses a broken main.cf
# (message_size_limit = 10MB, smtpd_helo_required = yse) or a malformed
# master.cf line, leaving the running system on its old configuration
# (a message sent after each refused reload is accepted and delivered);
# master itself, sent SIGHUP directly with the same broken files, keeps
# the old configuration; check and start refuse a malformed master.cf
# line, naming the bad field. A full instance of the seed's files, swaks
# as the client. Ports 20860-20879. About 15 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

P=$POSTERN_BIN/postern
TOP=$(mktemp -d /tmp/postern-11-reload.XXXXXX)
trap 'instance_cleanup; [ -n "${POSTERN_KEEP:-}" ] || rm -rf "$TOP"' EXIT
command -v swaks >/dev/null || bail_out "swaks is missing (tools/deps.txt)"
[ -x "$P" ] || bail_out "no postern in $POSTERN_BIN"

SMTP=$(free_port 20860 20869) || bail_out "no free port"
SUB=$(free_port 20870 20879) || bail_out "no free port"
instance_create "$TOP/i" "$SMTP" "$SUB" || bail_out instance_create
E=$INSTANCE_CONF
VU=$(id -u vmail 2>/dev/null || id -u)
VG=$(id -g vmail 2>/dev/null || id -g)
[ "$(id -u)" = 0 ] && chown "$VU:$VG" "$INSTANCE_MAIL"
: >"$E/aliases"
"$POSTERN_BIN/postalias" -c "$E" "hash:$E/aliases" || bail_out postalias
instance_conf "alias_maps=hash:$E/aliases" "alias_database=hash:$E/aliases" \
	"sender_canonical_maps=" "canonical_maps=" \
	"postscreen_access_list=permit_mynetworks" "postscreen_dnsbl_sites=" \
	"virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=inline:{u@example.com=example.com/u/}" \
	"virtual_alias_maps=" "virtual_uid_maps=static:$VU" \
	"virtual_gid_maps=static:$VG" || bail_out "postconf -e"
cp "$E/main.cf" "$TOP/main.cf.good"
cp "$E/master.cf" "$TOP/master.cf.good"

# send N - one message through port 25 (postscreen -> smtpd); swaks' exit
send() {
	swaks --server "127.0.0.1:$SMTP" --helo client.example.net \
		--from sender@example.net --to u@example.com \
		--header "Subject: message $1" --body "body $1" \
		--timeout 60 >"$TOP/swaks.$1" 2>&1
}

# delivered N - message N is in u's Maildir
delivered() {
	grep -lq "^Subject: message $1" "$INSTANCE_MAIL"/example.com/u/new/* \
		2>/dev/null
}

# ---- start detaches ----
: >>"$INSTANCE_LOG"
INSTANCE_LOG_FROM=$(($(wc -l <"$INSTANCE_LOG") + 1))
: >>"$INSTANCE_DIR/master.out"
t0=$(date +%s)
( "$P" -c "$E" start; echo "rc=$?" ) 2>&1 | timeout 60 cat >"$TOP/start.out"
is "$?" 0 "'postern start | cat' ends (nothing holds the pipe)"
like "$(cat "$TOP/start.out")" "rc=0" "postern start exits 0"
pid=$("$P" -c "$E" status 2>&1 | sed -n 's/.*PID: \([0-9]*\).*/\1/p')
like "$pid" '^[0-9]+$' "master runs (postern status: PID $pid)"
INSTANCE_PID=$pid
for p in "$SMTP" "$SUB"; do wait_for "port_listening $p" 60; done
is "$(ps -o sid= -p "$pid" | tr -d ' ')" "$pid" \
	"master leads its own session (setsid)"
bad=
for q in $pid $(ps -o pid= --ppid "$pid"); do
	for fd in 0 1 2; do
		t=$(readlink "/proc/$q/fd/$fd" 2>/dev/null)
		[ "$t" = /dev/null ] || bad="$bad $q:$fd=$t"
	done
done
is "$bad" "" "master and its children have /dev/null as stdin/stdout/stderr"

send 1
ok $? "a message is accepted" || diag "$(cat "$TOP/swaks.1")"
wait_for "delivered 1" 60
ok $? "... and delivered"

# ---- reload with a broken main.cf ----
# reload_refused WHAT - postern reload exits 1, names PATTERN, HUP not sent
reload_refused() {
	local what=$1 pattern=$2 n
	n=$(instance_log_count 'reload -- version')
	"$P" -c "$E" reload >"$TOP/reload.out" 2>&1
	is "$?" 1 "$what: postern reload exits 1"
	like "$(cat "$TOP/reload.out")" "$pattern" "$what: ... names the problem"
	like "$(cat "$TOP/reload.out")" "not reload" "$what: ... says it did not reload"
	sleep 0.5
	is "$(instance_log_count 'reload -- version')" "$n" \
		"$what: ... master was not signalled"
}

# hup_kept WHAT - SIGHUP to master directly: it keeps the old configuration
hup_kept() {
	local what=$1 n
	n=$(instance_log_count 'keeping the old configuration')
	kill -HUP "$pid"
	wait_for "[ \$(instance_log_count 'keeping the old configuration') -gt $n ]" 30
	ok $? "$what: master sent SIGHUP keeps the old configuration (logged)"
}

i=2
for broken in "message_size_limit = 10MB" "smtpd_helo_required = yse"; do
	cp "$TOP/main.cf.good" "$E/main.cf"
	printf '%s\n' "$broken" >>"$E/main.cf"
	reload_refused "main.cf '$broken'" "${broken%% *}"
	hup_kept "main.cf '$broken'"
	send $i
	ok $? "main.cf '$broken': a message sent after the refused reload is accepted" ||
		diag "$(cat "$TOP/swaks.$i")"
	wait_for "delivered $i" 60
	ok $? "... and delivered"
	i=$((i + 1))
done
cp "$TOP/main.cf.good" "$E/main.cf"

# ---- a malformed master.cf line ----
# break - the port-25 line loses its command field: 7 fields are left
break_smtp() {
	sed "s/^\(127.0.0.1:$SMTP .*\) postscreen\$/\1/" \
		"$TOP/master.cf.good" >"$E/master.cf"
	grep -q "^127.0.0.1:$SMTP .* 1[[:space:]]*\$" "$E/master.cf" ||
		diag "the test did not break the line: $(grep "^127.0.0.1:$SMTP" "$E/master.cf")"
}
break_smtp
"$P" -c "$E" check >"$TOP/check.out" 2>&1
is "$?" 1 "master.cf with a 7-field line: postern check exits 1"
like "$(cat "$TOP/check.out")" "master\\.cf, line [0-9]+: missing \"command\" field" \
	"... naming the missing field with file and line"
unlike "$(cat "$TOP/check.out")" "127\\.0\\.0\\.1:$SMTP +inet" \
	"... without quoting the whole line"
reload_refused "master.cf 7-field line" 'missing "command" field'
hup_kept "master.cf 7-field line"
send $i
ok $? "master.cf 7-field line: a message sent after the refused reload is accepted" ||
	diag "$(cat "$TOP/swaks.$i")"
wait_for "delivered $i" 60
ok $? "... and delivered"
i=$((i + 1))

sed "s/^\(127.0.0.1:$SUB *\)inet/\1inet6/" "$TOP/master.cf.good" >"$E/master.cf"
"$P" -c "$E" check >"$TOP/check2.out" 2>&1
is "$?" 1 "master.cf with a bad type: postern check exits 1"
like "$(cat "$TOP/check2.out")" "line [0-9]+: bad transport type field: inet6" \
	"... naming the field and its value"
cp "$TOP/master.cf.good" "$E/master.cf"

# A good reload still works.
n=$(instance_log_count 'reload -- version')
"$P" -c "$E" reload >"$TOP/reload-ok.out" 2>&1
is "$?" 0 "reload of the repaired configuration exits 0"
wait_for "[ \$(instance_log_count 'reload -- version') -gt $n ]" 30
ok $? "... and master reloads"
send $i
ok $? "a message after the good reload is accepted" || diag "$(cat "$TOP/swaks.$i")"
instance_allow 'keeping the old configuration' 'missing "command" field' \
	'message_size_limit' 'smtpd_helo_required'
instance_stop
ok $? "postern stop"

# ---- start refuses a malformed master.cf ----
break_smtp
( "$P" -c "$E" start; echo "rc=$?" ) >"$TOP/start2.out" 2>&1
like "$(cat "$TOP/start2.out")" "rc=1" "start with a malformed master.cf exits 1"
like "$(cat "$TOP/start2.out")" 'missing "command" field' "... naming the field"
"$P" -c "$E" status >/dev/null 2>&1
is "$?" 1 "... and nothing runs"
timeout 60 "$POSTERN_BIN/master" -c "$E" -d >"$TOP/master.out" 2>&1
is "$?" 1 "master itself (-d) exits 1 on the malformed line"
like "$(cat "$TOP/master.out")" 'fatal: .*master\.cf, line [0-9]+: missing "command" field' \
	"... with a fatal line naming the field"
note "took $(($(date +%s) - t0)) s"

done_testing
