#!/bin/sh
# NAME
#	check-config.sh - check a mail server configuration before deploying
#	it: swaks against "postern sandbox" (README "Testing a configuration")
# SYNOPSIS
#	sh tests/sandbox/check-config.sh SANDBOX_DIR
# DESCRIPTION
#	Drives the sandbox SANDBOX_DIR (started with "postern sandbox -c
#	CONFIG --dir SANDBOX_DIR ...") as the Internet and a user would, and
#	prints "ok N - what" or "not ok N - what" (TAP) for each check. The
#	addresses, passwords and names are those of the example
#	configuration (tests/sandbox/: the seed's main.cf and master.cf,
#	rows.sql, dns.fixture); edit the variables below for yours.
#	127.0.0.1 is the sandbox host itself (mynetworks); 127.0.0.2 and up
#	are Internet clients (dns.fixture names 127.0.0.2 client.example.net).
#	  - mail from the Internet on port 25 (STARTTLS: the seed says
#	    encrypt) to a MySQL mailbox lands byte-exact in its Maildir
#	    (a new client first gets postscreen's 450 4.3.2, then passes)
#	  - a virtual alias (MySQL) reaches its destination's Maildir
#	  - an unknown user of a hosted domain: 550 5.1.1
#	  - relaying on port 25: 554 5.7.1
#	  - a client that talks before the greeting: postscreen's PREGREET,
#	    then 550 5.5.1 at RCPT
#	  - submission (587): STARTTLS, AUTH, mail to another domain is
#	    captured for the relayhost, sender rewritten by
#	    smtp_generic_maps, with the relayhost's SASL user
#	Needs swaks, perl and python3; "postern" on PATH (or $POSTERN).
# ENVIRONMENT
#	WAIT	seconds to wait for a delivery or a capture (default 120:
#		the sanitizer build on a loaded machine needs many)
# DIAGNOSTICS
#	Exit status 0 when every check passed, 1 otherwise.
set -u
SB=${1:?usage: check-config.sh SANDBOX_DIR}
POSTERN=${POSTERN:-postern}
USER_ADDR=john@example.org
USER_PASS=john-secret
ALIAS_ADDR=jack@example.org
UNKNOWN_ADDR=nobody@example.org
REMOTE_ADDR=bob@example.net
GENERIC_FROM=john.smith@myisp.com
RELAY_NEXTHOP=smtp.myisp.com:587
RELAY_SASL_USER=relayuser@myisp.com
CLIENT_IP=127.0.0.2
CLIENT_HELO=client.example.net
PREGREET_IP=127.0.0.3

n=0 failed=0
check() {	# check "what" command...: ok when the command succeeds
	what=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		failed=$((failed + 1))
	fi
}
port() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1] + "/sandbox.json"))
print([s["port"] for s in d["services"] if s["name"] == sys.argv[2]][0])' \
		"$SB" "$1"
}
json() {	# json COMMAND... PYTHON-EXPRESSION-ON-d: prints its value
	expr=$1
	shift
	"$POSTERN" sandbox "$@" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$expr"
}
wait_count() {	# wait_count N COMMAND...: until its "count" is N or more
	# (a delivery on a loaded machine, under a sanitizer build, can
	# take many seconds: WAIT seconds at most, default 120); an
	# unreadable answer counts as "not yet", not as the end of the wait
	want=$1
	shift
	end=$(($(date +%s) + ${WAIT:-120}))
	while :; do
		c=$(json 'd["count"]' "$@" 2>/dev/null)
		case $c in ''|*[!0-9]*) c=0 ;; esac
		[ "$c" -ge "$want" ] && return 0
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
SMTP=$(port smtp)
SUB=$(port submission)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# --- port 25 from the Internet -------------------------------------
# The message without a final newline: swaks ends DATA with CRLF . CRLF
# after the last line, so the Maildir holds exactly these bytes plus LF.
printf '%s\n' "From: Alice <alice@example.net>" "To: John <$USER_ADDR>" \
	"Subject: sandbox check $$" "Message-ID: <check-$$@example.net>" "" \
	"Line one." ".A line that starts with a dot." "  Indented, trailing space " \
	"" "Last line." > "$T/want"
head -c -1 "$T/want" > "$T/msg"
mx() {	# mx OUT ARGS...: one port-25 session from the Internet
	out=$1
	shift
	swaks --server "127.0.0.1:$SMTP" --local-interface "$CLIENT_IP" \
		--helo "$CLIENT_HELO" -tls "$@" > "$out" 2>&1
}
# A new client meets postscreen's after-220 tests: 450 4.3.2, once.
mx "$T/first" --from alice@example.net --to "$USER_ADDR" --data "$T/msg"
check "first contact: postscreen's 450 4.3.2 (after-220 tests)" \
	grep -q '^<~\* *450 4.3.2' "$T/first"
mx "$T/deliver" --from alice@example.net --to "$USER_ADDR" --data "$T/msg"
check "port 25: mail to $USER_ADDR accepted" \
	grep -q '^<~  *250 2.0.0 Ok: queued as' "$T/deliver"
mx "$T/alias" --from alice@example.net --to "$ALIAS_ADDR" \
	--header "Subject: alias check $$"
check "port 25: mail to the alias $ALIAS_ADDR accepted" \
	grep -q '^<~  *250 2.0.0 Ok: queued as' "$T/alias"
mx "$T/unknown" --from alice@example.net --to "$UNKNOWN_ADDR"
check "port 25: unknown user $UNKNOWN_ADDR: 550 5.1.1" \
	grep -q '^<~\* *550 5.1.1' "$T/unknown"
mx "$T/relay" --from alice@example.net --to "$REMOTE_ADDR"
check "port 25: relaying to $REMOTE_ADDR refused: 554 5.7.1" \
	grep -q '^<~\* *554 5.7.1 .*Relay access denied' "$T/relay"

# Wait for both deliveries (virtual), then compare the bytes.
wait_count 2 mailbox "$SB" "$USER_ADDR"
check "2 messages in $USER_ADDR's Maildir (one through the alias)" \
	[ "$(json 'd["count"]' mailbox "$SB" "$USER_ADDR")" = 2 ]
file=$(json '[m["path"] for m in d["messages"] if (m["subject"] or "").startswith("sandbox check")][0]' \
	mailbox "$SB" "$USER_ADDR")
check "the message is byte-exact at the end of $file" \
	sh -c 'tail -c "$(wc -c < "$1")" "$2" | cmp -s - "$1"' - "$T/want" "$file"

# --- postscreen: talking before the greeting -------------------------
# A client that sends EHLO before the greeting, then goes on (STARTTLS,
# as the configuration demands, MAIL, RCPT): postscreen_greet_action =
# enforce lets it talk to the end and rejects the RCPT.
cat > "$T/pregreet.pl" <<'PERL'
use IO::Socket::INET;
use IO::Socket::SSL;
my ($port, $ip, $helo, $from, $to) = @ARGV;
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
    LocalAddr => $ip, Timeout => 30) or die "connect: $!";
$s->autoflush(1);
sub reply { my $l; do { $l = <$s>; print $l if defined $l }
	while (defined $l && $l =~ /^\d\d\d-/); return $l // "" }
sub cmd { print $s "$_[0]\r\n"; return reply() }
print $s "EHLO $helo\r\n";	# before the greeting
reply();	# the greeting
reply();	# the EHLO reply
cmd("STARTTLS") =~ /^220/ or exit 1;
IO::Socket::SSL->start_SSL($s, SSL_verify_mode => 0) or die "TLS: $SSL_ERROR";
cmd("EHLO $helo");
cmd("MAIL FROM:<$from>");
cmd("RCPT TO:<$to>");
cmd("QUIT");
PERL
perl "$T/pregreet.pl" "$SMTP" "$PREGREET_IP" pregreet.example.net \
	spam@example.net "$USER_ADDR" > "$T/pregreet" 2>&1
check "pregreet: postscreen rejects the RCPT: 550 5.5.1 Protocol error" \
	grep -q '^550 5.5.1' "$T/pregreet"
check "pregreet: postscreen logged PREGREET for [$PREGREET_IP]" \
	grep -q "PREGREET .* from \[$PREGREET_IP\]" "$SB/maillog"

# --- submission: STARTTLS, AUTH, relayed through the relayhost -------
swaks --server "127.0.0.1:$SUB" -tls --auth PLAIN --auth-user "$USER_ADDR" \
	--auth-password "$USER_PASS" --from "$USER_ADDR" --to "$REMOTE_ADDR" \
	--header "Subject: submission check $$" > "$T/sub" 2>&1
check "submission: STARTTLS and AUTH PLAIN as $USER_ADDR" \
	grep -q '^<~  *235 2.7.0' "$T/sub"
check "submission: mail to $REMOTE_ADDR accepted" \
	grep -q '^<~  *250 2.0.0 Ok: queued as' "$T/sub"
wait_count 1 captured "$SB"
cap='[m for m in d["messages"] if m["rcpt_to"][0]["addr"] == "'$REMOTE_ADDR'"][-1]'
check "captured for the relayhost $RELAY_NEXTHOP" \
	[ "$(json "$cap[\"nexthop\"]" captured "$SB")" = "$RELAY_NEXTHOP" ]
check "captured with the sender rewritten to $GENERIC_FROM (smtp_generic_maps)" \
	[ "$(json "$cap[\"mail_from\"]" captured "$SB")" = "$GENERIC_FROM" ]
check "captured with AUTH as $RELAY_SASL_USER (smtp_sasl_password_maps)" \
	[ "$(json "$cap[\"auth\"][\"username\"]" captured "$SB")" = "$RELAY_SASL_USER" ]
check "captured with TLS required (smtp_tls_security_level)" \
	[ "$(json "$cap[\"tls\"][\"required\"]" captured "$SB")" = True ]

echo "1..$n"
[ "$failed" = 0 ]
