#!/bin/bash
# 78-requiretls.t - REQUIRETLS (RFC 8689) as Postfix 3.11 (issue 18).
# A full instance (smtp_tls_security_level = may, smtp_tls_CAfile = a
# test CA made here, smtp_tls_verify_cert_match = mx.good.test) relays
# through transport_maps to recording next hops (tests/lib/raw_sink.py):
#   P  plaintext, no STARTTLS
#   U  STARTTLS + REQUIRETLS, a self-signed certificate (not trusted)
#   N  STARTTLS with a certificate from the test CA, no REQUIRETLS
#   G  STARTTLS with a certificate from the test CA, REQUIRETLS
# Checks:
#  - smtpd: EHLO offers REQUIRETLS only after STARTTLS; MAIL ...
#    REQUIRETLS before it gets Postfix's 555 5.5.4 Unsupported option;
#    after it 250 (A requiretls=1 in the queue file carries it to smtp);
#  - a REQUIRETLS message to P, U and N is returned to the sender with
#    5.7.30 and Postfix's "Sender requested REQUIRETLS, but ..." reason,
#    and none of them saw MAIL or DATA; the bounce holds the headers,
#    not the body (requiretls_redact_dsn = yes); to G it is delivered over TLS
#    with "MAIL FROM:<...> REQUIRETLS" on the wire;
#  - "TLS-Required: no" (RFC 8689 section 5): a next hop whose
#    smtp_tls_policy_maps level is verify (U, untrusted) gets the
#    message with opportunistic TLS; the same message without the header
#    is deferred 4.7.5 and not sent.
# About 30 s. Ports 27800-27859.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

SMTP=$(free_port 27800 27819) SUB=$(free_port 27820 27839)
PP=$(free_port 27840 27844) UP=$(free_port 27845 27849)
NP=$(free_port 27850 27854) GP=$(free_port 27855 27859)
TOP=$(mktemp -d /tmp/postern-78.XXXXXX)
chmod 755 "$TOP"
DIR=$TOP/inst C=$TOP/certs
mkdir -p "$C"
trap 'instance_cleanup; rm -rf "$TOP"' EXIT

# the test CA, mx.good.test from it, and a self-signed mx.good.test
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-days 30 -subj /CN=postern-78-test-ca -keyout "$C/ca.key" \
	-out "$C/ca.pem" &&
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-subj /CN=mx.good.test -keyout "$C/good.key" -out "$C/good.csr" &&
printf 'subjectAltName=DNS:mx.good.test\n' > "$C/ext" &&
ossl x509 -req -in "$C/good.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" \
	-CAcreateserial -days 30 -extfile "$C/ext" -out "$C/good.pem" &&
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-days 30 -subj /CN=mx.good.test -addext subjectAltName=DNS:mx.good.test \
	-keyout "$C/self.key" -out "$C/self.pem"
ok $? "test CA, a certificate from it and a self-signed one (openssl)"
chmod 644 "$C"/*

instance_create "$DIR" "$SMTP" "$SUB"
ok $? "instance created (ports $SMTP $SUB; next hops $PP $UP $NP $GP)"
E=$INSTANCE_CONF
{
	printf 'plain.example smtp:[127.0.0.1]:%s\n' "$PP"
	printf 'untrusted.example smtp:[127.0.0.1]:%s\n' "$UP"
	printf 'noreq.example smtp:[127.0.0.1]:%s\n' "$NP"
	printf 'good.example smtp:[127.0.0.1]:%s\n' "$GP"
} > "$E/transport"
printf '[127.0.0.1]:%s verify\n' "$UP" > "$E/tls_policy"
instance_relay \
	"smtp_tls_security_level=may" "smtp_tls_CAfile=$C/ca.pem" \
	"smtp_tls_verify_cert_match=mx.good.test" \
	"smtp_tls_policy_maps=texthash:$E/tls_policy" \
	"virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=inline:{user@example.com=example.com/user/}" \
	"virtual_alias_domains="
ok $? "postconf -e: transport_maps, smtp_tls_CAfile, a verify policy for U"

instance_sinks raw_sink.py "$TOP" "next hop" P:$PP:plain \
	U:$UP:tls,reqtls:$C/self N:$NP:tls:$C/good G:$GP:tls,reqtls:$C/good

instance_start
ok $? "master starts" || { done_testing; exit 1; }

# send RCPT [MAILPARAMS] [HEADER]: over STARTTLS to the instance; prints
# the EHLO keywords before and after STARTTLS and every reply
send() {
	/usr/bin/python3 - "$SMTP" "$@" <<'PY'
import smtplib, ssl, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
params = sys.argv[3].split() if len(sys.argv) > 3 and sys.argv[3] else []
header = sys.argv[4] + '\r\n' if len(sys.argv) > 4 else ''
c = smtplib.SMTP('127.0.0.1', port, timeout=60)
c.ehlo('client.test')
print('plain-ehlo:', ' '.join(sorted(c.esmtp_features)))
def r(x):
    return '%d %s' % (x[0], x[1].decode('utf-8', 'replace'))
print('plain-mail:', r(c.docmd('MAIL FROM:<user@example.com> REQUIRETLS')))
c.rset()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c.starttls(context=ctx)
c.ehlo('client.test')
print('tls-ehlo:', ' '.join(sorted(c.esmtp_features)))
print('mail:', r(c.mail('user@example.com', params)))
print('rcpt:', r(c.rcpt(rcpt)))
code, text = c.data((header + 'Subject: requiretls test\r\n\r\nconfidential '
                     'body\r\n').encode())
print('data:', code, text.decode())
c.quit()
PY
}
qid_of() { printf '%s\n' "$1" | sed -n 's/^data: 250 .*queued as \([0-9A-Z]*\).*/\1/p'; }
MBOX=$INSTANCE_MAIL/example.com/user/new

# --- smtpd ---------------------------------------------------------------
out=$(send a@good.example REQUIRETLS)
like "$out" $'(^|\n)plain-ehlo: [^\n]*starttls' "EHLO before STARTTLS offers STARTTLS"
unlike "$(printf '%s\n' "$out" | grep '^plain-ehlo')" 'requiretls' \
	"EHLO before STARTTLS does not offer REQUIRETLS"
like "$out" $'\nplain-mail: 555 5.5.4 Unsupported option: REQUIRETLS' \
	"MAIL ... REQUIRETLS before STARTTLS: 555 5.5.4 (Postfix 3.11)"
like "$out" $'\ntls-ehlo: [^\n]*requiretls' "EHLO after STARTTLS offers REQUIRETLS"
like "$out" $'\nmail: 250 ' "MAIL ... REQUIRETLS after STARTTLS: 250"
qg=$(qid_of "$out")
[ -n "$qg" ]
ok $? "REQUIRETLS message to G queued ($qg)"

# --- G: verified TLS, REQUIRETLS offered: delivered with the parameter ---
wait_for "instance_log_grep ': $qg: removed'" 60
line=$(instance_log_grep "$qg: to=<a@good.example>, " | head -1)
like "$line" 'status=sent' "G: sent" || diag "$(tail -5 "$INSTANCE_LOG")"
raw=$(cat "$TOP"/G/*.raw 2>/dev/null)
like "$raw" $'--STARTTLS--\r\nEHLO [^\r]*\r\nMAIL FROM:<user@example.com>[^\r]* REQUIRETLS' \
	"G: MAIL FROM:<user@example.com> ... REQUIRETLS, after STARTTLS"
like "$raw" 'confidential body' "G: the message went (over TLS)"
instance_log_grep "Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$GP" >/dev/null
ok $? "maillog: Verified TLS connection to G (the level was raised to verify)"

# --- P, U, N: returned with 5.7.30, never sent ---------------------------
for k in P:plain.example:'TLS service was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]' \
	U:untrusted.example:'TLS failed with host 127\.0\.0\.1\[127\.0\.0\.1\]: Server certificate not trusted' \
	N:noreq.example:'no server was found that supports REQUIRETLS\. The last attempted server was 127\.0\.0\.1\[127\.0\.0\.1\]'; do
	IFS=: read -r name dom why <<<"$k"
	out=$(send "r@$dom" REQUIRETLS)
	q=$(qid_of "$out")
	wait_for "instance_log_grep ': $q: removed'" 60
	line=$(instance_log_grep "$q: to=<r@$dom>, " | head -1)
	like "$line" "dsn=5\\.7\\.30, status=bounced \\(Sender requested REQUIRETLS, but $why\\)" \
		"$name: dsn=5.7.30 bounced, Postfix's reason"
	# the session must be on record, or "no MAIL" would hold vacuously
	wait_for "cat '$TOP/$name'/*.raw 2>/dev/null | grep -q '^EHLO '" 30
	raw=$(cat "$TOP/$name"/*.raw 2>/dev/null)
	like "$raw" $'(^|\n)EHLO ' "$name: the next hop was reached (its session is on record)"
	unlike "$raw" 'MAIL FROM|DATA' "$name: the next hop saw no MAIL and no DATA"
	wait_for "[ -n \"\$(grep -l 'r@$dom' '$MBOX'/* 2>/dev/null)\" ]" 60
	dsn=$(cat $(grep -l "r@$dom" "$MBOX"/* 2>/dev/null) /dev/null)
	like "$dsn" $'\nStatus: 5\\.7\\.30\n' "$name: the sender gets the bounce, Status: 5.7.30"
	like "$dsn" $'\nSubject: requiretls test\n' "$name: the bounce returns the headers"
	unlike "$dsn" 'confidential body' \
		"$name: ... not the body (requiretls_redact_dsn, as RET=HDRS)"
done

# --- TLS-Required: no ------------------------------------------------------
n0=$(ls "$TOP"/U/*.raw 2>/dev/null | wc -l)
out=$(send v@untrusted.example '')
q=$(qid_of "$out")
wait_for "instance_log_grep '$q: to=<v@untrusted.example>.*status=deferred'" 60
line=$(instance_log_grep "$q: to=<v@untrusted.example>, " | head -1)
like "$line" 'dsn=4\.7\.5, status=deferred \(Server certificate not trusted\)' \
	"without TLS-Required: no, the verify policy defers U (untrusted)"
out=$(send w@untrusted.example '' 'TLS-Required: No')
q=$(qid_of "$out")
wait_for "instance_log_grep ': $q: removed'" 60
line=$(instance_log_grep "$q: to=<w@untrusted.example>, " | head -1)
like "$line" 'status=sent' "TLS-Required: no: sent to U despite the verify policy"
raw=$(cat $(grep -l 'RCPT TO:<w@untrusted.example>' "$TOP"/U/*.raw 2>/dev/null) /dev/null)
like "$raw" $'--STARTTLS--\r\n[^$]*confidential body' "... with opportunistic TLS (STARTTLS, then the message)"
like "$raw" $'\nTLS-Required: No\r\n' "... the header goes along"

done_testing
