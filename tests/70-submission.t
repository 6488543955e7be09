#!/bin/bash
# NAME
#	70-submission.t - issue 4's "Must show": submission on 587 with
#	mandatory TLS and SASL, STARTTLS on 25, end to end with real clients
# DESCRIPTION
#	One full instance from the seed's main.cf and master.cf (changed
#	only with postconf -e and the port fields; the seed's submission
#	service with its -o overrides), an RSA test certificate (the seed's
#	2014 RSA-only tls_high_cipherlist then works for TLS 1.2), a private
#	MariaDB with the seed schema and SHA512-CRYPT hashes, the built-in
#	SASL backend on smtpd_sasl_password_maps = mysql: (the seed's
#	Dovecot password_query shape), smtpd_sender_login_maps = mysql: with
#	reject_sender_login_mismatch, a relayhost (tests/lib/smtp_sink.py,
#	STARTTLS + AUTH) and dnsmasq. Clients: swaks, openssl s_client and
#	a small Python client (raw plaintext commands, STARTTLS injection).
#	  - 587 before STARTTLS: no AUTH advertised, AUTH and MAIL 530 5.7.0
#	  - 587 after STARTTLS: AUTH PLAIN and LOGIN 235 2.7.0, wrong
#	    password 535 5.7.8 and the fail2ban line, no password logged
#	  - authenticated mail to a virtual user lands in its Maildir, to
#	    an external domain it reaches the relayhost (TLS and AUTH there)
#	  - another user's sender address: 553 5.7.1 not owned by user
#	  - s_client: TLS 1.1 refused, the configured certificate, session
#	    id resumption (TLS 1.2, no tickets) through the LMDB cache
#	  - "STARTTLS\r\nRSET\r\n" in one write: the RSET is never answered
#	    (default smtpd_forbid_unauth_pipelining=yes: 554 and disconnect;
#	    with "no": the handshake, and the plaintext RSET is discarded)
#	  - 25 (postscreen -> smtpd, level may): STARTTLS offered, plaintext
#	    delivery works
#	  - AUTH failures: a growing delay, then smtpd_sasl_failure_limit
#	  - 587: an unlisted local recipient is accepted (the seed's -o)
#	  - then smtpd_sasl_type = dovecot (Debian's Dovecot with the seed's
#	    SQL passdb) after a restart: the same AUTH checks; with
#	    smtpd_sasl_authenticated_header = yes the user is in Received:
#	  - a new certificate is presented after "postern reload"
#	  - a missing key: a clear error for submission (encrypt), port 25
#	    (may) keeps accepting mail without STARTTLS
# Ports 27000-27199.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
. "$POSTERN_TOP/tests/lib/mariadb.sh"
. "$POSTERN_TOP/tests/lib/dovecot.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

PY=/usr/bin/python3
BASE=$((27000 + ($$ % 40) * 5))
SMTP=$BASE SUB=$((BASE + 1)) DNSP=$((BASE + 2)) RELAY=$((BASE + 3))
TOP=$(mktemp -d /tmp/postern-70.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst
OUT=$TOP/sink
mkdir -p "$OUT"
SINK=
stop_sink() {
	[ -n "$SINK" ] || return 0
	kill "$SINK" 2>/dev/null
	wait "$SINK" 2>/dev/null
	SINK=
}
trap 'stop_sink; instance_cleanup; dovecot_stop; mariadb_stop; dnsmasq_stop
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$TOP"' EXIT
note "directory $TOP, ports smtp $SMTP submission $SUB relay $RELAY"

for p in master postscreen smtpd qmgr virtual smtp postconf postmap; do
	[ -x "$POSTERN_BIN/$p" ] || bail_out "no $p in $POSTERN_BIN"
done
for c in swaks openssl dovecot doveadm; do
	command -v "$c" >/dev/null || bail_out "$c is not installed"
done

# --- DNS: the client's HELO name; the seed's DNSBL zones "not listed"
for z in spamhaus.org barracudacentral.org spamcop.net manitu.net \
	swinog.ch imp.ch uceprotect.net sorbs.net dnswl.org isipp.com \
	mailspike.net myisp.com; do
	dnsmasq_local "$z"
done
dnsmasq_record "host-record=client.example.net,127.0.0.5"
dnsmasq_record "mx-host=example.org,mail.example.org,10"
dnsmasq_record "host-record=mail.example.org,127.0.0.1"
dnsmasq_start "$TOP/dns" "$DNSP" || bail_out "dnsmasq did not start"

# --- MariaDB: the seed schema; users with SHA512-CRYPT hashes --------
PW_JOHN='john-Pass.1' PW_JANE='summer sun 2'
H_JOHN=$(doveadm pw -s SHA512-CRYPT -p "$PW_JOHN") || bail_out "doveadm pw"
H_JANE=$(doveadm pw -s SHA512-CRYPT -p "$PW_JANE") || bail_out "doveadm pw"
H_JOHN=${H_JOHN#\{SHA512-CRYPT\}} H_JANE=${H_JANE#\{SHA512-CRYPT\}}
mariadb_start "$TOP/db" || bail_out "MariaDB did not start"
mariadb_load_seed || bail_out "seed schema did not load"
# The seed's schema has password varchar(32), room for its MD5 hex only;
# a SHA512-CRYPT hash is 106 characters. The tutorial's later versions
# widened the column: so does the administrator here.
mariadb_sql "ALTER TABLE virtual_users MODIFY password varchar(106) NOT NULL;
	UPDATE virtual_users SET password='$H_JOHN' WHERE email='john@example.org';
	INSERT INTO virtual_users (domain_id, password, email)
	VALUES (1, '$H_JANE', 'jane@example.org');" ||
	bail_out "cannot store the SHA512-CRYPT users"
is "$(mariadb_sql "SELECT LENGTH(password) FROM virtual_users WHERE email='jane@example.org'")" \
	106 "MariaDB holds a full SHA512-CRYPT hash (column widened)"

# --- the instance ----------------------------------------------------
instance_create "$DIR" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
# An RSA certificate: the seed's tls_high_cipherlist
# (kEDH+aRSA+AES128:kEECDH+aRSA+AES128) has only RSA suites for TLS 1.2.
rm -f "$E/cert.pem" "$E/key.pem"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
	-subj "/O=Postern Test 70/CN=submission.example.org" \
	-keyout "$E/key.pem" -out "$E/cert.pem" >/dev/null 2>&1 ||
	bail_out "cannot make the RSA certificate"
chmod 644 "$E/cert.pem"
chmod 640 "$E/key.pem"
if [ "$(id -u)" = 0 ] && getent group postern >/dev/null; then
	chgrp postern "$E/key.pem"
fi

mariadb_cf "$E/mysql-virtual-mailbox-domains.cf" \
	"SELECT 1 FROM virtual_domains WHERE name='%s'"
mariadb_cf "$E/mysql-virtual-mailbox-maps.cf" \
	"SELECT 1 FROM virtual_users WHERE email='%s'"
mariadb_cf "$E/mysql-virtual-alias-maps.cf" \
	"SELECT destination FROM virtual_aliases WHERE source='%s'"
# The seed's later/dovecot-sql.conf.ext password_query, %u as %s.
mariadb_cf "$E/mysql-sasl-password.cf" \
	"SELECT email as user, password FROM virtual_users WHERE email='%s'"
# Each user owns their own address.
mariadb_cf "$E/mysql-sender-login.cf" \
	"SELECT email FROM virtual_users WHERE email='%s'"
printf 'postmaster: john@example.org\n' >"$E/aliases"
printf '[127.0.0.1]:%s relayuser:relay secret\n' "$RELAY" >"$E/relay_password"
printf '10.0.0.0/8 permit\n' >"$E/postscreen_access.cidr"
"$POSTERN_BIN/postalias" -c "$E" "hash:$E/aliases" &&
	"$POSTERN_BIN/postmap" -c "$E" "hash:$E/relay_password" ||
	bail_out "postmap"
chmod 644 "$E"/*.lmdb "$E"/*.cf 2>/dev/null
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
chown "$VUID:$VGID" "$INSTANCE_MAIL"
instance_conf \
	"resolver_nameservers=$DNSMASQ_SERVER" \
	"mynetworks=192.0.2.0/24" \
	"alias_maps=hash:$E/aliases" "alias_database=hash:$E/aliases" \
	"sender_canonical_maps=" "canonical_maps=" "smtp_generic_maps=" \
	"relayhost=[127.0.0.1]:$RELAY" \
	"smtp_sasl_password_maps=hash:$E/relay_password" \
	"smtp_tls_CApath=" "smtp_tls_CAfile=$E/cert.pem" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"postscreen_greet_wait=1s" \
	"virtual_mailbox_domains=mysql:$E/mysql-virtual-mailbox-domains.cf" \
	"virtual_mailbox_maps=mysql:$E/mysql-virtual-mailbox-maps.cf" \
	"virtual_alias_maps=mysql:$E/mysql-virtual-alias-maps.cf" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID" \
	"smtpd_sasl_type=postern" \
	"smtpd_sasl_password_maps=mysql:$E/mysql-sasl-password.cf" \
	"smtpd_sender_login_maps=mysql:$E/mysql-sender-login.cf" \
	"mua_sender_restrictions=reject_sender_login_mismatch" \
	"smtpd_sasl_failure_limit=2" \
	"minimal_backoff_time=1s" "maximal_backoff_time=2s" \
	"queue_run_delay=1s" || bail_out "postconf -e"
# The seed's main.cf says encrypt; port 25 must accept plaintext
# (instance_create set may); the submission service keeps its -o.
is "$("$POSTERN_BIN/postconf" -c "$E" -h smtpd_tls_security_level)" may \
	"main.cf: smtpd_tls_security_level = may for port 25"
grep -q '^  -o smtpd_tls_security_level=encrypt' "$E/master.cf" &&
	grep -q '^  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject' "$E/master.cf"
ok $? "master.cf: the seed's submission overrides are in place"

$PY "$POSTERN_TOP/tests/lib/smtp_sink.py" "$RELAY" "$OUT" \
	"$E/cert.pem" "$E/key.pem" relayuser "relay secret" \
	>"$TOP/sink.out" 2>&1 &
SINK=$!
wait_for "port_listening $RELAY" 15 || bail_out "the relayhost did not start"

instance_start || bail_out "instance did not start"

# --- helpers ---------------------------------------------------------
# raw.py PORT CMD...: plaintext session from 127.0.0.5; prints each
# reply's last line ("> CMD" / "< reply")
cat >"$TOP/raw.py" <<'PYEOF'
import os, socket, sys
sys.path.insert(0, os.environ["POSTERN_TOP"] + "/tests/lib")
from smtp_dialog import lines
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20,
                             source_address=("127.0.0.5", 0))
f = s.makefile("rb")
def reply():
    got = lines(f)
    # a close before the final line shows as a line "<eof>"
    return got + ["<eof>"] if not got or got[-1][3:4] == "-" else got
print("< " + reply()[-1])
for c in sys.argv[2:]:
    s.sendall(c.encode() + b"\r\n")
    for l in reply():
        print("< " + l)
PYEOF
raw() { $PY "$TOP/raw.py" "$@" 2>&1; }

# inject.py PORT: STARTTLS and RSET in one write, then TLS; reports
# what arrived after the handshake before any command, then EHLO's reply
cat >"$TOP/inject.py" <<'PYEOF'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20,
                             source_address=("127.0.0.5", 0))
# Not smtp_dialog's buffered file: one byte at a time (r is recv), so
# that the bytes after the 220 to STARTTLS stay in the socket for the
# TLS handshake (and "after-handshake" sees what smtpd sent after it).
def reply(r):
    out = b""
    while True:
        l = b""
        while not l.endswith(b"\n"):
            c = r(1)
            if not c:
                return out + l + b"<eof>"
            l += c
        out += l
        if l[3:4] != b"-":
            return out
reply(s.recv)
s.sendall(b"EHLO client.example.net\r\n")
reply(s.recv)
s.sendall(b"STARTTLS\r\nRSET\r\n")
r = reply(s.recv)
print("starttls: " + r.decode("latin-1").strip())
if not r.startswith(b"220"):
    rest = reply(s.recv)
    print("rest: " + rest.decode("latin-1").replace("\r\n", "|"))
    sys.exit(0)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
t.settimeout(3)
try:
    early = t.recv(4096)
    print("after-handshake: %r" % early)
except socket.timeout:
    print("after-handshake: none")
t.settimeout(20)
t.sendall(b"MAIL FROM:<john@example.org>\r\n")
print("mail: " + reply(t.recv).decode("latin-1").strip())
t.sendall(b"EHLO client.example.net\r\n")
print("ehlo: " + reply(t.recv).decode("latin-1").replace("\r\n", "|"))
t.sendall(b"RSET\r\n")
print("rset: " + reply(t.recv).decode("latin-1").strip())
PYEOF

maildir_count() {
	find "$INSTANCE_MAIL/example.org/$1/new" -type f 2>/dev/null | wc -l
}
sw() {	# swaks on the submission port from 127.0.0.5
	swaks --server "127.0.0.1:$SUB" --local-interface 127.0.0.5 \
		--ehlo client.example.net --timeout 30 "$@" 2>&1
}
b64() { printf '%s' "$1" | base64 -w0; }
sclient() {	# openssl s_client -starttls smtp on the submission port
	sleep 1 | openssl s_client -connect "127.0.0.1:$SUB" \
		-starttls smtp -name client.example.net "$@" 2>&1
}

# --- 587 before STARTTLS ---------------------------------------------
out=$(raw "$SUB" "EHLO client.example.net")
like "$out" '250-STARTTLS|250 STARTTLS' "587 plaintext EHLO offers STARTTLS"
unlike "$out" 'AUTH' "587 plaintext EHLO does not advertise AUTH"
out=$(raw "$SUB" "EHLO client.example.net" \
	"AUTH PLAIN $(b64 $'\0john@example.org\0'"$PW_JOHN")")
like "$(tail -n 1 <<<"$out")" '^< 530 5\.7\.0 ' "AUTH before STARTTLS: 530 5.7.0"
out=$(raw "$SUB" "EHLO client.example.net" "MAIL FROM:<john@example.org>")
like "$(tail -n 1 <<<"$out")" '^< 530 5\.7\.0 .*STARTTLS' \
	"MAIL before STARTTLS: 530 5.7.0 (level encrypt)"

# --- 587 after STARTTLS: AUTH ----------------------------------------
auth_checks() {	# LABEL: AUTH PLAIN/LOGIN good, LOGIN wrong, no password logged
	local label=$1 bad="wrong-$RANDOM-pw"
	out=$(sw --tls --quit-after EHLO)
	like "$out" '<~  250[- ]AUTH .*PLAIN' "$label: AUTH advertised after STARTTLS"
	out=$(sw --tls --quit-after AUTH --auth PLAIN \
		--auth-user john@example.org --auth-password "$PW_JOHN")
	like "$out" '<~  235 2\.7\.0 ' "$label: STARTTLS, AUTH PLAIN (MariaDB user): 235 2.7.0"
	out=$(sw --tls --quit-after AUTH --auth LOGIN \
		--auth-user jane@example.org --auth-password "$PW_JANE")
	like "$out" '<~  235 2\.7\.0 ' "$label: STARTTLS, AUTH LOGIN: 235 2.7.0"
	out=$(sw --tls --quit-after AUTH --auth LOGIN \
		--auth-user john@example.org --auth-password "$bad")
	like "$out" '<~\* 535 5\.7\.8 ' "$label: wrong password: 535 5.7.8"
	wait_for "instance_log_grep '\\[127\\.0\\.0\\.5\\]: SASL LOGIN authentication failed: .*sasl_username=john@example\\.org'" 5
	ok $? "$label: maillog has \"SASL LOGIN authentication failed\" with the user"
	# fail2ban's postfix[mode=auth] expression, in ERE terms
	instance_log_grep 'warning: [-._[:alnum:]]+\[127\.0\.0\.5\]: SASL ((LOGIN|PLAIN|(CRAM|DIGEST)-MD5)) authentication failed:' >/dev/null
	ok $? "$label: the fail2ban postfix-sasl pattern matches"
	! grep -qF -e "$bad" -e "$PW_JOHN" -e "$PW_JANE" -e "$(b64 "$bad")" \
		-e "$(b64 "$PW_JOHN")" "$INSTANCE_LOG"
	ok $? "$label: no password (plain or base64) in the maillog"
}
auth_checks "built-in"

# Failures: a growing delay, then the per-client limit (from 127.0.0.9,
# so the other checks' client is not locked out).
cat >"$TOP/fail.py" <<'PYEOF'
import base64, os, socket, ssl, sys, time
sys.path.insert(0, os.environ["POSTERN_TOP"] + "/tests/lib")
from smtp_dialog import last
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30,
                             source_address=("127.0.0.9", 0))
f = s.makefile("rb")
def reply(f):
    return last(f) or "<eof>"
reply(f)
s.sendall(b"EHLO client.example.net\r\n"); reply(f)
s.sendall(b"STARTTLS\r\n"); reply(f)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
f = t.makefile("rb")
t.sendall(b"EHLO client.example.net\r\n"); reply(f)
for i in range(4):
    cred = base64.b64encode(b"\0john@example.org\0wrong%d" % i)
    t0 = time.time()
    t.sendall(b"AUTH PLAIN " + cred + b"\r\n")
    r = reply(f)
    print("%.1f %s" % (time.time() - t0, r))
    if r.startswith("421") or r == "<eof>":
        break
PYEOF
out=$($PY "$TOP/fail.py" "$SUB" 2>&1)
note "$out"
like "$(sed -n 1p <<<"$out")" '^[1-9]\.[0-9] 535 5\.7\.8 ' "1st failure: 535 5.7.8 after a delay"
d1=$(sed -n '1s/ .*//p' <<<"$out") d2=$(sed -n '2s/ .*//p' <<<"$out")
like "$(sed -n 2p <<<"$out")" '^[0-9.]+ 535 5\.7\.8 ' "2nd failure: 535 5.7.8"
$PY -c "import sys; sys.exit(0 if float('$d2') > float('$d1') + 0.5 else 1)" 2>/dev/null
ok $? "  the delay grows ($d1 s, then $d2 s)"
like "$(tail -n 1 <<<"$out")" '^[0-9.]+ 421 4\.7\.0 ' \
	"after smtpd_sasl_failure_limit = 2 failures, the next AUTH: 421 4.7.0"
is "$(wc -l <<<"$out")" 3 "  and the session ends there"
instance_log_grep 'unknown\[127\.0\.0\.9\]: too many SASL authentication failures' >/dev/null
ok $? "  logged: too many SASL authentication failures"


# --- authenticated mail ----------------------------------------------
out=$(sw --tls --auth PLAIN --auth-user john@example.org \
	--auth-password "$PW_JOHN" --from john@example.org \
	--to jane@example.org --header 'Subject: submitted local 70')
like "$out" '<~  250 2\.0\.0 Ok: queued as' "authenticated mail to a virtual user accepted"
qid=$(sed -n 's/.*<~  250 2\.0\.0 Ok: queued as \([0-9A-Z]*\).*/\1/p' <<<"$out")
instance_log_grep "$qid: client=client\.example\.net\[127\.0\.0\.5\], sasl_method=PLAIN, sasl_username=john@example\.org" >/dev/null
ok $? "maillog: the client= line names sasl_method and sasl_username ($qid)"
instance_log_grep 'submission/smtpd\[[0-9]+\]: Anonymous TLS connection established from client\.example\.net\[127\.0\.0\.5\]: TLSv1\.[23] with cipher [-_A-Z0-9]+ \([0-9]+/[0-9]+ bits\)' >/dev/null
ok $? "maillog: the TLS version and cipher of the submission session"
wait_for '[ "$(maildir_count jane)" -ge 1 ]' 20
is "$(maildir_count jane)" 1 "it lands in jane's Maildir"
f=$(grep -l 'Subject: submitted local 70' "$INSTANCE_MAIL"/example.org/jane/new/* 2>/dev/null | head -1)
[ -n "$f" ] && grep -q '^Return-Path: <john@example.org>' "$f"
ok $? "the Maildir file has the message and the envelope sender"
[ -n "$f" ] && grep -q 'with ESMTPSA id' "$f" && ! grep -qi 'Authenticated sender' "$f"
ok $? "Received: with ESMTPSA, no authenticated user (smtpd_sasl_authenticated_header = no)"

out=$(sw --tls --auth LOGIN --auth-user jane@example.org \
	--auth-password "$PW_JANE" --from jane@example.org \
	--to friend@elsewhere.example --header 'Subject: submitted out 70' \
	--body $'hello from 70\n.leading dot')
like "$out" '<~  250 2\.0\.0 Ok: queued as' "authenticated mail to an external domain accepted"
wait_for "[ -f '$OUT/1.eml' ]" 60
ok $? "the relayhost received it"
got=$(tr -d '\r' <"$OUT/1.eml" 2>/dev/null)
like "$got" $'X-Sink-From: <jane@example.org>\nX-Sink-To: <friend@elsewhere.example>' \
	"relayhost: the envelope"
like "$got" 'X-Sink-TLS: yes' "relayhost: the session used STARTTLS"
like "$got" 'X-Sink-Auth: relayuser' "relayhost: AUTH with smtp_sasl_password_maps' login"
like "$got" $'Subject: submitted out 70' "relayhost: the header"
like "$got" $'hello from 70\n\\.leading dot' "relayhost: the body, dot-stuffing undone"

# Byte-exact through submission and the relayhost (Python smtplib:
# STARTTLS, AUTH, dot-stuffing): what the relayhost got ends with exactly
# the message sent (only a Received: header is prepended).
cat >"$TOP/submit.py" <<'PYEOF'
import smtplib, sys
port, user, pw, frm, to, path = sys.argv[1:7]
data = open(path, "rb").read()
s = smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.example.net",
                 source_address=("127.0.0.5", 0), timeout=30)
s.starttls()
s.ehlo("client.example.net")
s.login(user, pw)
s.sendmail(frm, [to], data)
s.quit()
print("accepted")
PYEOF
printf 'From: Jane <jane@example.org>\r\nTo: <friend@elsewhere.example>\r\nDate: Wed, 25 Nov 2026 20:00:00 +0000\r\nMessage-ID: <exact.70@example.org>\r\nSubject: byte exact 70\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n \r\nh\xc3\xa9llo 8-bit\r\n\ttab line\r\nlast line\r\n' >"$TOP/exact.eml"
out=$($PY "$TOP/submit.py" "$SUB" jane@example.org "$PW_JANE" \
	jane@example.org friend@elsewhere.example "$TOP/exact.eml" 2>&1)
is "$out" accepted "smtplib: STARTTLS, AUTH, a message with dots and 8-bit accepted"
wait_for "grep -ls 'Subject: byte exact 70' '$OUT'/*.eml" 60
f=$(grep -ls 'Subject: byte exact 70' "$OUT"/*.eml | head -1)
$PY - "$f" "$TOP/exact.eml" <<'PYEOF'
import sys
got = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[1]
want = open(sys.argv[2], "rb").read()
if not got.endswith(want):
    print("# relayhost copy does not end with the sent bytes", file=sys.stderr)
    sys.exit(1)
names = [h.split(b":")[0] for h in got[:len(got) - len(want)].split(b"\r\n")
         if h and not h[:1].isspace()]
if names != [b"Received"]:
    print("# prepended: %r" % names, file=sys.stderr)
    sys.exit(1)
PYEOF
ok $? "the relayhost got exactly the bytes sent, after one Received: header"

# smtpd_reject_unlisted_recipient=no on submission (the seed's -o):
# an unknown local user is accepted there (and bounces later), not on 25.
out=$(sw --tls --auth PLAIN --auth-user john@example.org \
	--auth-password "$PW_JOHN" --from john@example.org \
	--to nosuch@example.org --quit-after RCPT)
like "$out" '<~  250 2\.1\.5' "587: an unlisted local recipient is accepted (smtpd_reject_unlisted_recipient=no)"

# --- sender login mismatch -------------------------------------------
out=$(sw --tls --auth PLAIN --auth-user john@example.org \
	--auth-password "$PW_JOHN" --from jane@example.org \
	--to jane@example.org --quit-after RCPT)
like "$out" '<~\* 553 5\.7\.1 <jane@example\.org>: Sender address rejected: not owned by user john@example\.org' \
	"john sending as jane@: 553 5.7.1 not owned by user"
out=$(sw --tls --auth PLAIN --auth-user john@example.org \
	--auth-password "$PW_JOHN" --from john@example.org \
	--to friend@elsewhere.example --quit-after RCPT)
like "$out" '<~  250 2\.1\.5' "john sending as john@ to an external domain: RCPT accepted"
out=$(sw --tls --from stranger@elsewhere.example \
	--to friend@elsewhere.example --quit-after RCPT)
like "$out" '<~\* 554 5\.7\.1 <friend@elsewhere\.example>: ' \
	"no AUTH: relaying refused (554 5.7.1)"
out=$(sw --tls --from john@example.org --to jane@example.org \
	--quit-after RCPT)
like "$out" '<~\* 553 5\.7\.1 <john@example\.org>: Sender address rejected: not logged in' \
	"no AUTH with a user's address: 553 5.7.1 not logged in"

# --- openssl s_client ------------------------------------------------
out=$(sclient -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')
# (the client allows TLS 1.1 at SECLEVEL=0: the refusal is the server's)
like "$out" 'alert protocol version' "TLS 1.1: the server answers a protocol version alert"
unlike "$out" 'New, TLSv1\.1, Cipher is [^(]' "  no TLS 1.1 session"
out=$(sclient -tls1_2)
like "$out" 'Protocol *: TLSv1\.2' "TLS 1.2 works (RSA, the seed's cipher list)"
like "$out" 'Cipher *: ECDHE-RSA-AES128|Cipher *: DHE-RSA-AES128' \
	"  with a cipher from the seed's tls_high_cipherlist"
out=$(sclient)
like "$out" 'Protocol *: TLSv1\.3' "TLS 1.3 works"
like "$out" 'subject=.*O ?= ?Postern Test 70.*CN ?= ?submission\.example\.org' \
	"the configured certificate's subject"
# Session ID resumption (no tickets) goes through the server's cache.
out=$(sclient -tls1_2 -no_ticket -sess_out "$TOP/sess.pem")
like "$out" 'New, TLSv1\.2, Cipher is' "first TLS 1.2 session (no ticket) is new"
out=$(sclient -tls1_2 -no_ticket -sess_in "$TOP/sess.pem")
like "$out" 'Reused, TLSv1\.2, Cipher is' "second connection resumes it (Reused)"
sid=$(sed -n 's/^ *Session-ID: *\([0-9A-F]\{16,\}\)$/\1/p' <<<"$out" | head -1)
out=$(sclient -tls1_2 -no_ticket -sess_in "$TOP/sess.pem")
like "$out" 'Reused, TLSv1\.2, Cipher is' "and a third one"
# The server's in-memory cache is off (tls.c): the session is in LMDB.
[ -n "$sid" ] && mdb_dump -n "$DIR/data/smtpd_scache.lmdb" 2>/dev/null |
	grep -qi "^ $sid\$"
ok $? "the session id is a key in data_directory/smtpd_scache.lmdb"

# --- STARTTLS injection ----------------------------------------------
# The seed leaves smtpd_forbid_unauth_pipelining at its default (yes,
# as Postfix 3.9): the client is cut off; with "no" (below, after the
# restart) the handshake happens and the plaintext RSET is discarded.
out=$($PY "$TOP/inject.py" "$SUB" 2>&1)
like "$out" 'starttls: 554 5\.5\.0 ' "injection (default): STARTTLS refused 554 5.5.0"
like "$out" 'rest: <eof>' "  the connection is closed, the RSET never answered"
instance_log_grep 'improper command pipelining after STARTTLS from client\.example\.net\[127\.0\.0\.5\]: RSET' >/dev/null
ok $? "  logged: improper command pipelining after STARTTLS"

# --- port 25: postscreen -> smtpd, level may -------------------------
out=$($PY "$POSTERN_TOP/tests/lib/smtp_send.py" 127.0.0.5 127.0.0.1 "$SMTP" \
	client.example.net alice@example.net jane@example.org /dev/null 2>&1)
like "$out" '^refused 450 4\.3\.2' "25: postscreen screens a new client first (450)"
wait_for "instance_log_grep 'PASS NEW \[127\.0\.0\.5\]'" 5
out=$(swaks --server "127.0.0.1:$SMTP" --local-interface 127.0.0.5 \
	--ehlo client.example.net --quit-after EHLO --timeout 30 2>&1)
like "$out" '<-  250[- ]STARTTLS' "25: STARTTLS offered"
unlike "$out" 'AUTH' "25: no AUTH (smtpd_sasl_auth_enable is only on submission)"
before=$(maildir_count jane)
out=$(swaks --server "127.0.0.1:$SMTP" --local-interface 127.0.0.5 \
	--ehlo client.example.net --from alice@example.net \
	--to jane@example.org --header 'Subject: plaintext 25' \
	--timeout 30 2>&1)
like "$out" '<-  250 2\.0\.0 Ok: queued as' "25: plaintext delivery accepted"
wait_for "[ \"\$(maildir_count jane)\" -gt $before ]" 20
ok $? "25: the plaintext message lands in jane's Maildir"
f=$(grep -l 'Subject: plaintext 25' "$INSTANCE_MAIL"/example.org/jane/new/* 2>/dev/null | head -1)
[ -n "$f" ] && grep -q 'with ESMTP id' "$f"
ok $? "25: Received: with ESMTP (plaintext, no AUTH)"
out=$(swaks --server "127.0.0.1:$SMTP" --local-interface 127.0.0.5 \
	--ehlo client.example.net --tls --quit-after EHLO --timeout 30 2>&1)
like "$out" '<~  250 ' "25: STARTTLS works too"

# --- smtpd_sasl_type = dovecot ---------------------------------------
mkdir -p "$TOP/dc"
chmod 755 "$TOP/dc"
dovecot_sql_conf "$TOP/dc/dovecot-sql.conf.ext"
dovecot_conf "$TOP/dc" "$TOP/dc/auth" sql "$TOP/dc/dovecot-sql.conf.ext"
dovecot_start "$TOP/dc" || bail_out "dovecot did not start"
instance_stop
ok $? "instance stops (built-in backend)"
instance_conf "smtpd_sasl_type=dovecot" "smtpd_sasl_path=$TOP/dc/auth" \
	"smtpd_sasl_password_maps=" "smtpd_forbid_unauth_pipelining=no" \
	"smtpd_sasl_authenticated_header=yes" "smtpd_tls_received_header=yes" ||
	bail_out "postconf -e dovecot"
instance_start || bail_out "instance did not restart"
out=$($PY "$TOP/inject.py" "$SUB" 2>&1)
like "$out" 'starttls: 220 ' "injection (forbid_unauth_pipelining=no): STARTTLS 220"
like "$out" 'after-handshake: none' "  the pipelined RSET is not answered after the handshake"
like "$out" 'mail: 503 5\.5\.1 ' "  the plaintext EHLO is forgotten: MAIL before a new EHLO is 503 5.5.1"
like "$out" 'ehlo: 250-' "  EHLO in TLS answered"
like "$out" 'rset: 250 ' "  a RSET sent in TLS is answered"
auth_checks "dovecot"
wait_for "grep -q 'auth.*john@example.org' '$TOP/dc/dovecot.log'" 5
ok $? "dovecot: the exchanges went through Dovecot (its log names the user)"
out=$(sw --tls --auth LOGIN --auth-user john@example.org \
	--auth-password "$PW_JOHN" --from john@example.org \
	--to friend@elsewhere.example --header 'Subject: via dovecot 70')
like "$out" '<~  250 2\.0\.0 Ok: queued as' "dovecot: authenticated relay accepted"
wait_for "grep -ls 'Subject: via dovecot 70' '$OUT'/*.eml" 60
ok $? "dovecot: it reaches the relayhost"
f=$(grep -ls 'Subject: via dovecot 70' "$OUT"/*.eml | head -1)
like "$(tr -d '\r' <"$f" 2>/dev/null)" $'\n\t\\(Authenticated sender: john@example\\.org\\)\n' \
	"smtpd_sasl_authenticated_header = yes: Received: names the user"
like "$(tr -d '\r' <"$f" 2>/dev/null)" $'\n\t\\(using TLSv1\\.[23] with cipher [-_A-Z0-9]+ \\([0-9]+/[0-9]+ bits\\)\\)\n' \
	"smtpd_tls_received_header = yes: Received: has the TLS version and cipher"
out=$(sw --tls --auth PLAIN --auth-user jane@example.org \
	--auth-password "$PW_JANE" --from john@example.org \
	--to jane@example.org --quit-after RCPT)
like "$out" '<~\* 553 5\.7\.1 <john@example\.org>: Sender address rejected: not owned by user jane@example\.org' \
	"dovecot: jane sending as john@: 553 5.7.1"
out=$(raw "$SUB" "EHLO client.example.net" \
	"AUTH PLAIN $(b64 $'\0john@example.org\0'"$PW_JOHN")")
like "$(tail -n 1 <<<"$out")" '^< 530 5\.7\.0 ' "dovecot: AUTH before STARTTLS still 530 5.7.0"

# A new certificate and "postern reload": new sessions present it.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
	-subj "/O=Postern Test 70/CN=reloaded.example.org" \
	-keyout "$E/key.new" -out "$E/cert.new" >/dev/null 2>&1 &&
	chmod --reference="$E/key.pem" "$E/key.new" &&
	chown --reference="$E/key.pem" "$E/key.new" &&
	chmod 644 "$E/cert.new" && mv "$E/key.new" "$E/key.pem" &&
	mv "$E/cert.new" "$E/cert.pem" || fail "new certificate"
"$POSTERN_BIN/postern" -c "$E" reload >/dev/null 2>&1
ok $? "postern reload"
wait_for "instance_log_grep 'reload -- version'" 10
wait_for "sclient | grep -q 'subject=.*reloaded\.example\.org'" 15
ok $? "after reload, new sessions present the new certificate"

instance_log_grep 'smtpd\[[0-9]+\]: warning: .*(TLS groups|cipher)' >/dev/null
isnt $? 0 "the seed's TLS settings need no fallback (eecdh grade ultra, cipher list)"
# Reports: files in POSTERN_SAN_DIR (runtest) or master's and its
# children's stderr, master.out (UBSan; every report without runtest).
# panic: and child deaths: instance_stop's check.
sanitizer_ok "$(cat "$INSTANCE_DIR/master.out")" "no sanitizer reports from any process"
instance_stop
ok $? "instance stops cleanly"

# A missing key: only the services that need TLS fail, and say why.
# submission's smtpd exits 1 on purpose (fatal) and master throttles it.
instance_allow "bin/smtpd pid [0-9]+ exit status 1\$" \
	"smtpd: bad command startup -- throttling for [0-9]+ seconds \\(service 127\\.0\\.0\\.1:$SUB\\)"
instance_conf "smtpd_tls_key_file=$E/missing-key.pem" || fail "postconf -e key"
instance_start
ok $? "the instance starts with a missing key"
wait_for "instance_log_grep 'submission/smtpd\\[[0-9]+\\]: fatal: smtpd_tls_security_level = encrypt, but TLS is unusable: cannot read TLS key file .*missing-key\\.pem'" 10
ok $? "submission (encrypt): a fatal error naming the key file"
out=$(swaks --server "127.0.0.1:$SMTP" --local-interface 127.0.0.5 \
	--ehlo client.example.net --from alice@example.net \
	--to jane@example.org --header 'Subject: no key 25' --timeout 30 2>&1)
like "$out" '<-  250 2\.0\.0 Ok: queued as' "25 (may): mail still accepted"
unlike "$out" 'STARTTLS' "25 (may): STARTTLS not offered without a key"
instance_log_grep 'postfix/smtpd\[[0-9]+\]: warning: .*missing-key\.pem.*disabling TLS support' >/dev/null
ok $? "25: a warning names the key file (disabling TLS support)"
instance_stop
ok $? "instance stops cleanly"
done_testing
