#!/bin/bash
# NAME
#	65-sasl.t - SMTP AUTH backends: a real Dovecot (passwd-file and the
#	seed's SQL passdb) and the built-in backend against MariaDB
# DESCRIPTION
#	Runs AUTH exchanges through tests/lib/saslq (smtpd_sasl, as an
#	smtpd worker runs them) against:
#	- a private Dovecot (tests/lib/dovecot.sh) with a passwd-file of
#	  SHA512-CRYPT hashes: PLAIN, LOGIN, wrong password, unknown user,
#	  smtpd_sasl_path relative to queue_directory, one connection for
#	  many requests, a long-lived backend across a Dovecot restart
#	  (454 while down, reconnects), Dovecot stopped (454, never 535);
#	  and smtpd -S
#	  itself with the Dovecot backend under swaks (--auth PLAIN relays,
#	  a wrong LOGIN password is 535 with the fail2ban line in maillog,
#	  no AUTH no relay);
#	- a private MariaDB with the seed schema: the built-in backend
#	  (smtpd_sasl_password_maps = mysql:) on the seed database page's
#	  MD5('...') hex and, after widening the password column (the
#	  seed's varchar(32) cannot hold a 106-character SHA512-CRYPT hash;
#	  the tutorial's later versions widen it), on SHA512-CRYPT; the
#	  Dovecot password_query shape "SELECT email as user, password";
#	  an SQL quoting attack; Dovecot with the seed's dovecot-sql.conf.ext
#	  (later/); MariaDB stopped (454).
#	Failure logs have Postfix's form (fail2ban's postfix-sasl filter)
#	and never contain a password.

. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/mariadb.sh"
. "$POSTERN_TOP/tests/lib/dovecot.sh"

Q=${POSTERN_TOOLS:-$(dirname "$POSTERN_BIN")/tools}/saslq
T=$(mktemp -d /tmp/postern-65-sasl.XXXXXX)
chmod 755 "$T"

SQ_PID=
cleanup() {
	[ -n "$SQ_PID" ] && kill "$SQ_PID" 2>/dev/null
	dovecot_stop
	mariadb_stop
	rm -rf "$T"
}
trap cleanup EXIT

command -v dovecot >/dev/null || bail_out "dovecot is not installed (tools/install-deps)"
[ -x "$Q" ] || bail_out "no saslq tool at $Q"

b64() { printf "$1" | base64 -w0; }

# sq ARGS...: run saslq, OUT = replies, RC = exit code, ERR = its log
sq() {
	OUT=$("$Q" "$@" 2>"$T/q.err")
	RC=$?
	ERR=$(cat "$T/q.err")
}

# --- Dovecot, passwd-file --------------------------------------------
mkdir -p "$T/dc" "$T/spool/private"
H_SECRET=$(doveadm pw -s SHA512-CRYPT -p secret)
printf 'john@example.org:%s\n' "$H_SECRET" >"$T/dc/passwd"
dovecot_conf "$T/dc" "$T/spool/private/auth" passwd-file \
	"scheme=SHA512-CRYPT $T/dc/passwd"
dovecot_start "$T/dc" || bail_out "cannot start dovecot"
DC="-o smtpd_sasl_type=dovecot -o smtpd_sasl_path=$T/spool/private/auth"

sq $DC PLAIN "$(b64 '\0john@example.org\0secret')"
is "$RC:$OUT" "0:235 2.7.0 Authentication successful
user=john@example.org" "dovecot: AUTH PLAIN with initial response"

sq $DC LOGIN - "$(b64 john@example.org)" "$(b64 secret)"
is "$RC:$OUT" "0:334 VXNlcm5hbWU6
334 UGFzc3dvcmQ6
235 2.7.0 Authentication successful
user=john@example.org" "dovecot: AUTH LOGIN, three steps"

sq $DC LOGIN "$(b64 john@example.org)" "$(b64 wrongpass)"
is "$RC:$OUT" "1:334 UGFzc3dvcmQ6
535 5.7.8 Error: authentication failed: authentication failure" \
	"dovecot: wrong password is 535 5.7.8"
like "$ERR" "warning: unknown\[127\.0\.0\.1\]: SASL LOGIN authentication failed: authentication failure, sasl_username=john@example\.org" \
	"dovecot: failure logged in Postfix's form"
# fail2ban's postfix-sasl (mode auth) expression, in bash ERE terms
like "$ERR" "warning: [-._[:alnum:]]+\[127\.0\.0\.1\]: SASL ((LOGIN|PLAIN|(CRAM|DIGEST)-MD5)) authentication failed:" \
	"dovecot: the fail2ban postfix-sasl pattern matches"
unlike "$ERR" "wrongpass" "dovecot: the password is not logged"

sq $DC PLAIN "$(b64 '\0nobody@example.org\0secret')"
is "$RC:$OUT" "1:535 5.7.8 Error: authentication failed: authentication failure" \
	"dovecot: unknown user is 535 5.7.8"

sq $DC PLAIN "$(b64 'other@example.org\0john@example.org\0secret')"
is "$RC" 1 "dovecot: authzid of another user refused before Dovecot"

sq -o smtpd_sasl_type=dovecot -o queue_directory="$T/spool" \
	-o smtpd_sasl_path=private/auth -t PLAIN "$(b64 '\0john@example.org\0secret')"
is "$RC:$OUT" "0:235 2.7.0 Authentication successful
user=john@example.org" "dovecot: smtpd_sasl_path private/auth under queue_directory (TLS: secured)"

sq $DC -n 20 PLAIN "$(b64 '\0john@example.org\0secret')"
is "$RC" 0 "dovecot: 20 exchanges on one connection"
is "$(grep -c 'cannot connect' "$T/q.err")" 0 "dovecot: no reconnects needed"

# A long-lived backend (as in smtpd's worker) across a Dovecot restart:
# 454 while it is down, then it reconnects by itself.
coproc SQ { exec "$Q" $DC -i 2>"$T/sqi.err"; }
SQ_PID=$SQ_PID
# sqi LINE: one exchange through the coprocess; REPLY_ALL = its replies
sqi() {
	local l
	REPLY_ALL=
	echo "$1" >&"${SQ[1]}"
	while IFS= read -r -t 30 l <&"${SQ[0]}"; do
		[ "$l" = . ] && break
		REPLY_ALL="$REPLY_ALL$l;"
	done
}
sqi "PLAIN $(b64 '\0john@example.org\0secret')"
is "$REPLY_ALL" "235 2.7.0 Authentication successful;user=john@example.org;" \
	"restart: first exchange on a long-lived backend"
dovecot_stop
sqi "PLAIN $(b64 '\0john@example.org\0secret')"
is "$REPLY_ALL" "454 4.7.0 Temporary authentication failure: Connection lost to authentication server;" \
	"restart: Dovecot down: 454"
dovecot_start "$T/dc" || bail_out "cannot restart dovecot"
sqi "LOGIN - $(b64 john@example.org) $(b64 secret)"
is "$REPLY_ALL" "334 VXNlcm5hbWU6;334 UGFzc3dvcmQ6;235 2.7.0 Authentication successful;user=john@example.org;" \
	"restart: reconnected after Dovecot came back"
eval "exec ${SQ[1]}>&-"
wait "$SQ_PID" 2>/dev/null
SQ_PID=

# smtpd itself (one session on stdin, "smtpd -S") with the Dovecot
# backend, as the seed's submission service: relay only after AUTH.
if command -v swaks >/dev/null && [ -x "$POSTERN_BIN/smtpd" ]; then
	for d in incoming active deferred hold corrupt maildrop private \
		public pid; do
		mkdir -p "$T/spool/$d"
	done
	chmod -R a+rwx "$T/spool"
	cat >"$T/main.cf" <<CF
queue_directory = $T/spool
maillog_file = $T/maillog
myhostname = server.example.com
mydestination = localhost
mynetworks = 192.0.2.0/24
resolver_nameservers = 127.0.0.1:9
smtpd_peername_lookup = no
virtual_mailbox_domains = example.org
virtual_mailbox_maps = inline:{john@example.org=1}
alias_maps =
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_relay_restrictions = permit_sasl_authenticated, reject
CF
	sw() {
		swaks --pipe "$POSTERN_BIN/smtpd -c $T -S" --helo client.test \
			--from john@example.org --to friend@elsewhere.test \
			--timeout 20 "$@" 2>&1
	}
	out=$(sw --auth PLAIN --auth-user john@example.org \
		--auth-password secret)
	like "$out" "235 2\.7\.0 Authentication successful" \
		"smtpd + dovecot: swaks AUTH PLAIN accepted"
	like "$out" "250 2\.0\.0 Ok: queued as" \
		"smtpd + dovecot: authenticated relay queued"
	out=$(sw --auth LOGIN --auth-user john@example.org \
		--auth-password wrongpass)
	like "$out" "535 5\.7\.8 Error: authentication failed" \
		"smtpd + dovecot: swaks AUTH LOGIN, wrong password: 535"
	like "$(cat "$T/maillog" 2>/dev/null)" "SASL LOGIN authentication failed: authentication failure, sasl_username=john@example\.org" \
		"smtpd + dovecot: maillog has the fail2ban line"
	unlike "$(cat "$T/maillog" 2>/dev/null)" "wrongpass" \
		"smtpd + dovecot: no password in the maillog"
	out=$(sw)
	like "$out" "554 5\.7\.1 <friend@elsewhere\.test>: Recipient address rejected: Access denied" \
		"smtpd + dovecot: no AUTH, no relay"
else
	fail "swaks or smtpd missing ($POSTERN_BIN/smtpd)"
fi

dovecot_stop
sq $DC PLAIN "$(b64 '\0john@example.org\0secret')"
is "$RC:$OUT" "75:454 4.7.0 Temporary authentication failure: Connection lost to authentication server" \
	"dovecot stopped: 454 4.7.0, not 535"
like "$ERR" "cannot connect to Dovecot auth server" "dovecot stopped: warning names the socket"

# --- MariaDB: the built-in backend -----------------------------------
mariadb_start "$T/db" || bail_out "cannot start MariaDB"
mariadb_load_seed || bail_out "cannot load the seed schema"
mariadb_cf "$T/sasl.cf" "SELECT password FROM virtual_users WHERE email='%s'"
mariadb_cf "$T/sasl-dovecot-shape.cf" \
	"SELECT email as user, password FROM virtual_users WHERE email='%s'"
BI="-o smtpd_sasl_type=postern -o smtpd_sasl_password_maps=mysql:$T/sasl.cf"

sq $BI PLAIN "$(b64 '\0john@example.org\0secret')"
is "$RC:$OUT" "0:235 2.7.0 Authentication successful
user=john@example.org" "built-in: the seed's MD5('secret') hex matches"

sq $BI LOGIN - "$(b64 john@example.org)" "$(b64 Secret)"
is "$RC" 1 "built-in: wrong password (case matters) is 535"
like "$OUT" "535 5\.7\.8 Error: authentication failed" "built-in: 535 text"

sq -o smtpd_sasl_password_maps=mysql:$T/sasl-dovecot-shape.cf \
	PLAIN "$(b64 '\0john@example.org\0secret')"
is "$RC" 0 "built-in: Dovecot's password_query shape (user, password)"

sq $BI PLAIN "$(b64 "\\0' OR '1'='1\\0secret")"
is "$RC" 1 "built-in: an SQL quoting attack in the login is just a login"

mariadb_sql "ALTER TABLE virtual_users MODIFY password varchar(255) NOT NULL" ||
	fail "widen virtual_users.password"
H_JANE=$(doveadm pw -s SHA512-CRYPT -p summersun)
mariadb_sql "INSERT INTO virtual_users (domain_id, password, email)
	VALUES (1, '${H_JANE#\{SHA512-CRYPT\}}', 'jane@example.org')"
sq $BI PLAIN "$(b64 '\0jane@example.org\0summersun')"
is "$RC:$OUT" "0:235 2.7.0 Authentication successful
user=jane@example.org" "built-in: SHA512-CRYPT hash from the database"
sq $BI PLAIN "$(b64 '\0JANE@Example.org\0summersun')"
is "$RC" 0 "built-in: login case folded for the lookup"
sq $BI PLAIN "$(b64 '\0jane@example.org\0summersun2')"
is "$RC" 1 "built-in: SHA512-CRYPT wrong password"

# --- Dovecot with the seed's SQL passdb ------------------------------
mkdir -p "$T/dcsql"
dovecot_sql_conf "$T/dcsql/dovecot-sql.conf.ext"
dovecot_conf "$T/dcsql" "$T/dcsql/auth" sql "$T/dcsql/dovecot-sql.conf.ext"
dovecot_start "$T/dcsql" || bail_out "cannot start dovecot (sql)"
DS="-o smtpd_sasl_type=dovecot -o smtpd_sasl_path=$T/dcsql/auth"
sq $DS LOGIN - "$(b64 jane@example.org)" "$(b64 summersun)"
is "$RC:$(echo "$OUT" | tail -n 1)" "0:user=jane@example.org" \
	"dovecot sql (seed config): SHA512-CRYPT user logs in"
sq $DS PLAIN "$(b64 '\0jane@example.org\0wrong')"
is "$RC" 1 "dovecot sql: wrong password is 535"

mariadb_stop
sq $BI PLAIN "$(b64 '\0jane@example.org\0summersun')"
is "$RC:$OUT" "75:454 4.7.0 Temporary authentication failure: Temporary lookup failure" \
	"built-in, MariaDB stopped: 454, not 535"
sq $DS PLAIN "$(b64 '\0jane@example.org\0summersun')"
is "$RC" 75 "dovecot sql, MariaDB stopped: 454 (Dovecot's temp)"

done_testing
