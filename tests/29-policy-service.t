#!/bin/bash
# 29-policy-service.t - check_policy_service (Postfix's SMTPD_POLICY_README
# protocol) in the real smtpd: "smtpd -S" sessions (tests/lib/smtp_pipe.py)
# against
#   - tests/lib/policy_server.py, which records every request and answers
#     by the recipient's local part: the attributes and their values, the
#     replies for REJECT / OK / DUNNO / DEFER_IF_PERMIT / a numeric code,
#     "instance" constant within a transaction and new for the next,
#     unix:private/policy relative to queue_directory, one connection
#     reused by a worker thread and replaced after
#     smtpd_policy_service_request_limit requests, _max_idle, _max_ttl;
#     smtpd alone on a port (-d -l): two sessions, one of them STARTTLS
#     (encryption_* attributes), on one policy connection; a server that
#     closes after each answer;
#   - a port where nothing listens, a server that never answers and one
#     whose reply has no action=: smtpd_policy_service_default_action
#     (451 4.3.5) after smtpd_policy_service_try_limit attempts, with
#     Postfix's warnings; the same set per service with Postfix 3.0's
#     "check_policy_service { endpoint, name=value }";
#   - Debian's postgrey (real, run privately on a loopback port with its
#     own database directory): 450 4.2.0 "Greylisted, see ..." for the
#     first attempt, accepted after its --delay.
# About 31 s (of which 4 s of idle/TTL waits and 3 s of postgrey's delay).
# Ports 24600-24699.
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

SMTPD=$POSTERN_BIN/smtpd
PY=/usr/bin/python3
LIB=$POSTERN_TOP/tests/lib
DIR=$(mktemp -d /tmp/postern-29-policy.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -n "$KEEP" ] || rm -rf "$DIR"
}
trap cleanup EXIT

[ -x "$SMTPD" ] || bail_out "no smtpd at $SMTPD"
P1=$(free_port 24600 24619) || bail_out "no free port in 24600-24619"
DEAD=$(free_port 24640 24659) || bail_out "no free port in 24640-24659"
HUNG=$(free_port 24660 24679) || bail_out "no free port in 24660-24679"

for d in incoming active deferred hold corrupt maildrop bounce defer \
	private public pid; do
	mkdir -p "$DIR/q/$d"
done
# Started as root, smtpd runs as mail_owner: let it write the queue.
chmod -R a+rwx "$DIR/q"
chmod a+rx "$DIR"

printf '%s x\n' ok@example.com reject@example.com dunno@example.com \
	dip@example.com code@example.com other@example.com >"$DIR/vmailbox"
cat >"$DIR/main.cf" <<CF
queue_directory = $DIR/q
maillog_file = $DIR/maillog
myhostname = server.example.com
mydomain = example.com
mydestination = localhost
mynetworks = 192.0.2.0/24
inet_interfaces = 127.0.0.1
resolver_nameservers = 127.0.0.1:9
smtpd_peername_lookup = no
virtual_mailbox_domains = example.com
virtual_mailbox_maps = texthash:$DIR/vmailbox
alias_maps =
local_recipient_maps =
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:$P1,
    check_sender_access inline:{ perm@good.test=OK }, reject
smtpd_data_restrictions = check_policy_service inet:127.0.0.1:$P1
smtpd_policy_service_policy_context = ctx-29
CF

# start_server NAME ARGS... - policy_server.py in the background
start_server() {
	local name=$1
	shift
	$PY "$LIB/policy_server.py" --log "$DIR/$name.log" "$@" \
		>"$DIR/$name.out" 2>&1 &
	PIDS+=($!)
	wait_ready "$DIR/$name.out"
}

# wait_ready FILE - until the server printed "ready" (10 s)
wait_ready() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q ready "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# session [-o name=value ...] - one smtpd -S session; script on stdin
session() {
	$PY "$LIB/smtp_pipe.py" "$SMTPD" -c "$DIR" -S "$@" 2>>"$DIR/stderr"
}

# attr N NAME - attribute NAME of the Nth request (1-based) in a log
attr() {
	$PY -c 'import json,sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
print(reqs[n - 1]["attrs"].get(sys.argv[3], "(absent)") if len(reqs) >= n
      else "(no request %d)" % n)' "$1" "$2" "$3"
}

start_server p1 --inet "$P1" || bail_out "policy_server.py did not start"

# 1. The actions, in one session with two transactions.
out=$(session -o smtpd_worker_threads=1 <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
RCPT TO:<reject@example.com>
RCPT TO:<dunno@example.com>
RCPT TO:<code@example.com>
RCPT TO:<dip@example.com>
DATA
RSET
MAIL FROM:<perm@good.test> SIZE=1234
RCPT TO:<dip@example.com>
RCPT TO:<other@example.com>
QUIT
S
)
note "$out"
like "$out" $'> RCPT TO:<ok@example.com>\n250 2.1.5 Ok' "OK: recipient accepted"
like "$out" $'> RCPT TO:<reject@example.com>\n554 5.7.1 <reject@example.com>: Recipient address rejected: go away' \
	"REJECT text: 554 5.7.1 with the server's text"
like "$out" $'> RCPT TO:<dunno@example.com>\n554 5.7.1 <dunno@example.com>: Recipient address rejected: Access denied' \
	"DUNNO: the next restriction (reject) decides"
like "$out" $'> RCPT TO:<code@example.com>\n450 4.2.0 <code@example.com>: Recipient address rejected: custom code' \
	"numeric action: its code and enhanced status"
like "$out" $'> RCPT TO:<dip@example.com>\n554 5.7.1 <dip@example.com>: Recipient address rejected: Access denied' \
	"DEFER_IF_PERMIT then reject: the reject wins"
like "$out" $'> DATA\n354 .*\n250 2.0.0 Ok: queued as ' \
	"DATA: policy asked (DUNNO), message queued"
like "$out" $'> RCPT TO:<dip@example.com>\n450 4.7.1 <dip@example.com>: Recipient address rejected: try later' \
	"DEFER_IF_PERMIT then permit: 450 4.7.1 with the server's text"
like "$out" $'> RCPT TO:<other@example.com>\n250 2.1.5 Ok' \
	"DUNNO then permit: accepted"

L=$DIR/p1.log
nreq=$(wc -l <"$L")
is "$nreq" 8 "8 policy requests (5 RCPT, DATA, 2 RCPT after RSET)"
is "$(attr "$L" 1 request)" smtpd_access_policy "request=smtpd_access_policy"
is "$(attr "$L" 1 protocol_state)" RCPT "protocol_state=RCPT"
is "$(attr "$L" 1 protocol_name)" ESMTP "protocol_name=ESMTP"
is "$(attr "$L" 1 helo_name)" mail.good.test "helo_name"
is "$(attr "$L" 1 sender)" a@good.test "sender"
is "$(attr "$L" 1 recipient)" ok@example.com "recipient"
is "$(attr "$L" 1 recipient_count)" 0 "recipient_count=0 at RCPT (Postfix)"
is "$(attr "$L" 1 client_address)" 127.0.0.1 "client_address"
is "$(attr "$L" 1 client_name)" unknown "client_name=unknown (no lookup)"
is "$(attr "$L" 1 reverse_client_name)" unknown "reverse_client_name"
is "$(attr "$L" 1 policy_context)" ctx-29 \
	"policy_context = smtpd_policy_service_policy_context"
is "$(attr "$L" 1 etrn_domain)" "" "etrn_domain sent, empty (postgrey's DSN test)"
is "$(attr "$L" 1 compatibility_level)" 3.6 "compatibility_level"
like "$(attr "$L" 1 mail_version)" '^[0-9]' "mail_version"
for a in queue_id sasl_method sasl_username sasl_sender size \
	ccert_subject ccert_issuer ccert_fingerprint ccert_pubkey_fingerprint \
	encryption_protocol encryption_cipher encryption_keysize stress \
	server_address server_port client_port; do
	isnt "$(attr "$L" 1 $a)" "(absent)" "attribute $a sent"
done
is "$(attr "$L" 6 protocol_state)" DATA "protocol_state=DATA"
is "$(attr "$L" 6 recipient_count)" 1 "recipient_count at DATA: the 1 accepted"
i1=$(attr "$L" 1 instance)
like "$i1" '^[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+$' "instance in Postfix's form"
is "$(attr "$L" 5 instance)" "$i1" "instance constant within a transaction"
is "$(attr "$L" 6 instance)" "$i1" "... at DATA too"
isnt "$(attr "$L" 7 instance)" "$i1" "a new instance for the next transaction"
is "$(attr "$L" 8 instance)" "$(attr "$L" 7 instance)" \
	"... constant within that one"
is "$(attr "$L" 8 sender)" perm@good.test "sender of the second transaction"
is "$(attr "$L" 1 size)" 0 "size=0 without MAIL SIZE="
is "$(attr "$L" 8 size)" 1234 "size: MAIL SIZE=1234"
is "$(attr "$L" 1 encryption_protocol)" "" "encryption_protocol empty without TLS"
conns=$($PY -c 'import json,sys
print(len({json.loads(l)["conn"] for l in open(sys.argv[1])}))' "$L")
is "$conns" 1 "one worker thread: one connection for all 8 requests"

# 2. unix:private/policy (relative to queue_directory), request_limit.
start_server pu --unix "$DIR/q/private/policy" ||
	bail_out "policy_server.py (unix) did not start"
out=$(session -o smtpd_worker_threads=1 \
	-o smtpd_policy_service_request_limit=2 \
	-o "smtpd_recipient_restrictions=check_policy_service unix:private/policy, reject" \
	-o smtpd_data_restrictions= <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
RCPT TO:<reject@example.com>
RCPT TO:<ok@example.com>
QUIT
S
)
like "$out" $'> RCPT TO:<ok@example.com>\n250 2.1.5 Ok' \
	"unix:private/policy: OK accepted"
like "$out" $'> RCPT TO:<reject@example.com>\n554 5.7.1 <reject@example.com>: Recipient address rejected: go away' \
	"unix:private/policy: REJECT"
is "$(wc -l <"$DIR/pu.log")" 3 "3 requests on the unix socket"
conns=$($PY -c 'import json,sys
print(",".join(str(json.loads(l)["conn"]) for l in open(sys.argv[1])))' \
	"$DIR/pu.log")
is "$conns" "1,1,2" "request_limit=2: a new connection for the third"

# conns_of LOG FIRST - the connection numbers of requests FIRST.. of LOG
conns_of() {
	$PY -c 'import json,sys
r = [json.loads(l)["conn"] for l in open(sys.argv[1])][int(sys.argv[2]) - 1:]
print(",".join(str(c - r[0] + 1) for c in r))' "$1" "$2"
}
# max_idle=1s: an idle connection is closed, the next query opens one.
n=$(($(wc -l <"$DIR/pu.log") + 1))
out=$(session -o smtpd_worker_threads=1 \
	-o smtpd_policy_service_max_idle=1s \
	-o "smtpd_recipient_restrictions=check_policy_service unix:private/policy, reject" \
	-o smtpd_data_restrictions= <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
RCPT TO:<ok@example.com>
sleep 2.5
RCPT TO:<ok@example.com>
QUIT
S
)
is "$(conns_of "$DIR/pu.log" $n)" "1,1,2" \
	"max_idle=1s: reused at once, a new connection after 2.5 s idle"
# max_ttl=2s: a busy connection still ends at its age limit.
n=$(($(wc -l <"$DIR/pu.log") + 1))
out=$(session -o smtpd_worker_threads=1 \
	-o smtpd_policy_service_max_ttl=2s \
	-o "smtpd_recipient_restrictions=check_policy_service unix:private/policy, reject" \
	-o smtpd_data_restrictions= <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
sleep 1.5
RCPT TO:<ok@example.com>
sleep 1.6
RCPT TO:<ok@example.com>
QUIT
S
)
is "$(conns_of "$DIR/pu.log" $n)" "1,1,2" \
	"max_ttl=2s: reused at 1.5 s, a new connection past 2 s"

# Across sessions: smtpd alone on a port (-d -l), one policy worker; two
# clients one after the other are served on the same policy connection.
LP=$(free_port 24680 24699) || bail_out "no free port in 24680-24699"
n=$(($(wc -l <"$DIR/pu.log") + 1))
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-subj /CN=server.example.com -days 2 -keyout "$DIR/key.pem" \
	-out "$DIR/cert.pem" >/dev/null 2>&1 || bail_out "openssl req failed"
chmod a+r "$DIR/key.pem"
"$SMTPD" -c "$DIR" -d -l "127.0.0.1:$LP" -o smtpd_worker_threads=1 \
	-o smtpd_tls_security_level=may -o smtpd_tls_cert_file="$DIR/cert.pem" \
	-o smtpd_tls_key_file="$DIR/key.pem" \
	-o "smtpd_recipient_restrictions=check_policy_service unix:private/policy, reject" \
	-o smtpd_data_restrictions= 2>>"$DIR/stderr-d" &
SPID=$!
PIDS+=($SPID)
for ((i = 0; i < 100; i++)); do
	ss -ltn "sport = :$LP" | grep -q LISTEN && break
	sleep 0.1
done
for c in 1 2; do
	tls=()
	[ $c = 2 ] && tls=(--tls)
	out=$(swaks --server "127.0.0.1:$LP" --from a@good.test "${tls[@]}" \
		--to ok@example.com --helo mail.good.test --timeout 20 2>&1)
	like "$out" '250 2\.0\.0 Ok: queued as' "listening smtpd: session $c accepted"
done
kill "$SPID"
wait "$SPID" 2>/dev/null
is "$(conns_of "$DIR/pu.log" $n)" "1,1" \
	"two sessions, one worker thread: one policy connection"
like "$(attr "$DIR/pu.log" $((n + 1)) encryption_protocol)" '^TLSv1\.[23]$' \
	"STARTTLS session: encryption_protocol"
like "$(attr "$DIR/pu.log" $((n + 1)) encryption_cipher)" '^[A-Z0-9_-]{8,}$' \
	"... encryption_cipher"
like "$(attr "$DIR/pu.log" $((n + 1)) encryption_keysize)" '^(128|256)$' \
	"... encryption_keysize"
is "$(attr "$DIR/pu.log" $n encryption_keysize)" 0 \
	"plain session: encryption_keysize=0"
is "$(attr "$DIR/pu.log" $n server_address)" 127.0.0.1 \
	"server_address: the listener's own address (no lookup per connection)"
is "$(attr "$DIR/pu.log" $n server_port)" "$LP" "... server_port"

# 3. Nobody listens: the default action after the tries, Postfix's lines.
start=$(date +%s%N)
out=$(session -o "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:$DEAD, permit" \
	-o smtpd_policy_service_try_limit=2 \
	-o smtpd_policy_service_retry_delay=1s <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
QUIT
S
)
took=$((($(date +%s%N) - start) / 1000000))
like "$out" $'> RCPT TO:<ok@example.com>\n451 4.3.5 <ok@example.com>: Recipient address rejected: Server configuration problem' \
	"server down: smtpd_policy_service_default_action"
ok $([ "$took" -ge 1000 ]; echo $?) \
	"retry_delay waited between the tries (${took} ms)"
is "$(grep -c "warning: connect to 127.0.0.1:$DEAD: Connection refused" "$DIR/maillog")" 2 \
	"two connect warnings (try_limit=2)"
like "$(cat "$DIR/maillog")" "warning: problem talking to server 127.0.0.1:$DEAD: Connection refused" \
	"Postfix's \"problem talking to server\" warning"
like "$(cat "$DIR/maillog")" 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 451 4\.3\.5 <ok@example\.com>: Recipient address rejected: Server configuration problem; from=<a@good\.test> to=<ok@example\.com> proto=ESMTP helo=<mail\.good\.test>' \
	"reject logged in Postfix's form"

out=$(session -o "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:$DEAD, permit" \
	-o smtpd_policy_service_try_limit=1 \
	-o smtpd_policy_service_default_action=DUNNO <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
QUIT
S
)
like "$out" $'> RCPT TO:<ok@example.com>\n250 2.1.5 Ok' \
	"default_action=DUNNO: the list goes on (permit)"

# Postfix's per-service form: { endpoint, name=value, { name = value } }.
c0=$(grep -c "connect to 127.0.0.1:$DEAD" "$DIR/maillog")
out=$(session -o "smtpd_recipient_restrictions=check_policy_service { inet:127.0.0.1:$DEAD, try_limit=1, { default_action = 450 4.7.0 policy down } }, permit" <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
QUIT
S
)
like "$out" $'> RCPT TO:<ok@example.com>\n450 4.7.0 <ok@example.com>: Recipient address rejected: policy down' \
	"{ ..., default_action = ... }: the service's own default action"
is "$(($(grep -c "connect to 127.0.0.1:$DEAD" "$DIR/maillog") - c0))" 1 \
	"{ ..., try_limit=1 }: one attempt"
n=$(($(wc -l <"$DIR/p1.log") + 1))
out=$(session -o "smtpd_recipient_restrictions=check_policy_service { inet:127.0.0.1:$P1, policy_context=per-service }, reject" \
	-o smtpd_data_restrictions= <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
QUIT
S
)
like "$out" $'> RCPT TO:<ok@example.com>\n250 2.1.5 Ok' "{ inet:..., policy_context=... }: queried"
is "$(attr "$DIR/p1.log" $n policy_context)" per-service \
	"policy_context from the service's own settings"

# A reply without action=: the default action, as for a dead server.
c0=$(grep -c "problem talking to server 127.0.0.1:$P1" "$DIR/maillog")
out=$(session -o "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:$P1, permit" \
	-o smtpd_policy_service_try_limit=1 -o smtpd_data_restrictions= <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<noaction@example.com>
QUIT
S
)
like "$out" $'> RCPT TO:<noaction@example.com>\n451 4.3.5 <noaction@example.com>: Recipient address rejected: Server configuration problem' \
	"reply without action=: the default action"
is "$(($(grep -c "problem talking to server 127.0.0.1:$P1" "$DIR/maillog") - c0))" 1 \
	"... and a \"problem talking to server\" warning"

# A server that closes after each answer: the next query reconnects at
# once, without a failed attempt or a warning.
OS=$(free_port 24600 24619) || bail_out "no free port in 24600-24619"
start_server os --inet "$OS" --one-shot || bail_out "one-shot server"
w0=$(grep -c "warning:" "$DIR/maillog")
out=$(session -o smtpd_worker_threads=1 \
	-o "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:$OS, reject" \
	-o smtpd_data_restrictions= <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
RCPT TO:<ok@example.com>
RCPT TO:<reject@example.com>
QUIT
S
)
like "$out" $'> RCPT TO:<ok@example.com>\n250 2.1.5 Ok\n> RCPT TO:<ok@example.com>\n250 2.1.5 Ok\n> RCPT TO:<reject@example.com>\n554 5.7.1 ' \
	"server closing after each answer: every query answered"
is "$(conns_of "$DIR/os.log" 1)" "1,2,3" "... on a new connection each"
is "$(($(grep -c "warning:" "$DIR/maillog") - w0))" 0 "... without a warning"

# 4. A server that accepts and never answers: the timeout.
start_server hung --inet "$HUNG" --silent || bail_out "silent server"
start=$(date +%s%N)
out=$(session -o "smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:$HUNG, permit" \
	-o smtpd_policy_service_try_limit=1 \
	-o smtpd_policy_service_timeout=1s <<'S'
EHLO mail.good.test
MAIL FROM:<a@good.test>
RCPT TO:<ok@example.com>
QUIT
S
)
took=$((($(date +%s%N) - start) / 1000000))
like "$out" $'> RCPT TO:<ok@example.com>\n451 4.3.5 <ok@example.com>: Recipient address rejected: Server configuration problem' \
	"hung server: default action after smtpd_policy_service_timeout"
ok $([ "$took" -ge 1000 ] && [ "$took" -lt 10000 ]; echo $?) \
	"... after the 1 s timeout, not later (${took} ms)"
like "$(cat "$DIR/maillog")" "warning: problem talking to server 127.0.0.1:$HUNG: Connection timed out" \
	"timeout logged"

# 5. postgrey from Debian.
if need_root 4 "postgrey runs as user postgrey" &&
	need_prog 4 /usr/sbin/postgrey "package postgrey (tools/deps.txt)"; then
	PG=$(free_port 24620 24639) || bail_out "no free port in 24620-24639"
	mkdir -p "$DIR/pg"
	chown postgrey: "$DIR/pg"
	/usr/sbin/postgrey --inet=127.0.0.1:$PG --dbdir="$DIR/pg" --delay=2 \
		--pidfile="$DIR/pg/postgrey.pid" --user=postgrey \
		--group=postgrey >"$DIR/postgrey.out" 2>&1 &
	PIDS+=($!)
	for ((i = 0; i < 100; i++)); do
		ss -ltn "sport = :$PG" | grep -q LISTEN && break
		sleep 0.1
	done
	script='EHLO mail.good.test
MAIL FROM:<someone@good.test>
RCPT TO:<ok@example.com>
QUIT'
	pgopt=(-o "smtpd_recipient_restrictions=reject_unauth_destination, check_policy_service inet:127.0.0.1:$PG")
	out=$(echo "$script" | session "${pgopt[@]}")
	like "$out" $'> RCPT TO:<ok@example.com>\n450 4.2.0 <ok@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html' \
		"postgrey: first attempt greylisted, 450 4.2.0"
	out=$(echo "$script" | session "${pgopt[@]}")
	like "$out" $'> RCPT TO:<ok@example.com>\n450 4.2.0 ' \
		"postgrey: an early retry is still greylisted"
	sleep 3
	out=$(echo "$script" | session "${pgopt[@]}")
	like "$out" $'> RCPT TO:<ok@example.com>\n250 2.1.5 Ok' \
		"postgrey: the retry after --delay=2 is accepted"
	like "$(cat "$DIR/postgrey.out")" 'action=greylist, reason=new, client_name=unknown, client_address=127\.0\.0\.1, sender=someone@good\.test, recipient=ok@example\.com' \
		"postgrey logged the triplet it greylisted"
fi

sanitizer_ok "$(cat "$DIR"/stderr* 2>/dev/null)" \
	"no sanitizer report from the smtpd runs"
done_testing
