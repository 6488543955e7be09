#!/bin/bash
# 19-sasl-limits.t - per-login sending limits on submission (issue 14,
# postern's own: smtpd_sasl_message_rate_limit,
# smtpd_sasl_recipient_rate_limit, smtpd_sasl_rate_limit_maps,
# smtpd_sasl_rate_time_unit), counted by anvil per login across sessions.
#
# A texthash limit table gives alice@example.org 2 messages and 3
# recipients per hour and every login of @limited.example 1 message;
# bob@example.org has no entry and the defaults are 0 (no limit). Over
# the limit a login gets "450 4.7.1 Error: too much mail from LOGIN" at
# MAIL (or "too many recipients" at RCPT) and the warning is logged;
# the same client with another login is not affected; the message sent
# within the limit is delivered. Ports 28800-28839. About 20 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/postern-19-sasl-limits.XXXXXX)
trap 'instance_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT

SMTP=$(free_port 28800 28819) || bail_out "no free port"
SUB=$(free_port 28820 28839) || bail_out "no free port"
instance_create "$DIR/i" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
printf '%s {PLAIN}pw\n' alice@example.org bob@example.org \
	carol@limited.example >"$E/sasl_passwd"
printf 'alice@example.org 2 3\n@limited.example 1\n' >"$E/limits"
instance_local_mail a@example.org || bail_out "postconf -e"
instance_conf \
	"smtpd_sasl_type=postern" \
	"smtpd_sasl_password_maps=texthash:$E/sasl_passwd" \
	"smtpd_sasl_rate_limit_maps=texthash:$E/limits" || \
	bail_out "postconf -e"
instance_start || bail_out "instance did not start"

timeout 120 $PY - "$SUB" >"$DIR/out" 2>&1 <<'EOF'
import smtplib, ssl, sys
sub = int(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = b"From: x@example.org\r\nSubject: limits\r\n\r\nbody\r\n"

def session(user):
    c = smtplib.SMTP("127.0.0.1", sub, "client.example.net", 30)
    c.starttls(context=ctx)
    c.login(user, "pw")
    return c

def show(tag, r):
    print("%s %d %s" % (tag, r[0], r[1].decode()))

c = session("alice@example.org")
show("alice-mail1", c.mail("alice@example.org"))
for i in range(4):
    show("alice-rcpt%d" % (i + 1), c.rcpt("a@example.org"))
show("alice-data1", c.data(msg))
c.quit()
c = session("alice@example.org")
show("alice-mail2", c.mail("alice@example.org"))
c.rset()
show("alice-mail3", c.mail("alice@example.org"))
c.quit()
c = session("bob@example.org")
for i in range(4):
    show("bob-mail%d" % (i + 1), c.mail("bob@example.org"))
    c.rset()
c.quit()
c = session("carol@limited.example")
show("carol-mail1", c.mail("carol@limited.example"))
c.rset()
show("carol-mail2", c.mail("carol@limited.example"))
c.quit()
print("done")
EOF
ok $? "the sessions ran" "$(cat "$DIR/out")"
r() { grep "^$1 " "$DIR/out" | cut -d' ' -f2-; }
is "$(r alice-mail1)" "250 2.1.0 Ok" "alice: first message"
is "$(r alice-rcpt3)" "250 2.1.5 Ok" "alice: third recipient within 3"
is "$(r alice-rcpt4)" \
	"450 4.7.1 Error: too many recipients from alice@example.org" \
	"alice: fourth recipient in the hour: 450 4.7.1"
like "$(r alice-data1)" "^250 2.0.0 Ok: queued as" \
	"alice: the message goes to the three accepted recipients"
is "$(r alice-mail2)" "250 2.1.0 Ok" "alice: second message, new session"
is "$(r alice-mail3)" \
	"450 4.7.1 Error: too much mail from alice@example.org" \
	"alice: third message in the hour: 450 4.7.1"
is "$(grep -c '^bob-mail[0-9] 250 ' "$DIR/out")" 4 \
	"bob (no entry, no default limit): not affected"
is "$(r carol-mail1)" "250 2.1.0 Ok" "carol (@limited.example 1): one"
is "$(r carol-mail2)" \
	"450 4.7.1 Error: too much mail from carol@limited.example" \
	"carol: the @domain entry limits her second"
wait_for 'instance_log_grep "warning: SASL message rate limit exceeded: 3 from unknown\[127\.0\.0\.1\] sasl_username=alice@example\.org for service 127\.0\.0\.1:$SUB" >/dev/null' 5
ok $? "the warning for alice's third message"
instance_log_grep "warning: SASL recipient rate limit exceeded: 4 from .* sasl_username=alice@example\.org" >/dev/null
ok $? "the warning for alice's fourth recipient"
wait_for '[ "$(ls "$INSTANCE_MAIL"/example.org/a/new 2>/dev/null | wc -l)" -eq 1 ]' 20
ok $? "alice's message was delivered (once: three RCPTs of one address)"

instance_stop
done_testing
