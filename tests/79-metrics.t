#!/bin/bash
# 79-metrics.t - the Prometheus endpoint (issue 14, "Metrics").
#
# An instance with the seed's master.cf plus one line,
#   127.0.0.1:PORT inet n - n - 1 metrics
# receives a scripted set of sessions: three messages on port 25
# (postscreen lets 127.0.0.0/8 through to smtpd), two unknown
# recipients (550 5.1.1) and one relay attempt (554 5.7.1), two AUTH
# failed logins (4 AUTH failures: smtplib tries PLAIN, then LOGIN) and
# one AUTH with a message on submission (STARTTLS, the
# built-in SASL backend). Then GET /metrics must say exactly that:
# connects, messages received and rejects per service and stage, AUTH
# and TLS outcomes, four deliveries with status "sent" and four delay
# observations, every queue empty, and the parser of the Prometheus
# Python client (python3-prometheus-client) must accept the whole
# exposition. HEAD, 404 and 405 answers too. Ports 28840-28879.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/postern-79-metrics.XXXXXX)
trap 'instance_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT

SMTP=$(free_port 28840 28853) || bail_out "no free port"
SUB=$(free_port 28854 28866) || bail_out "no free port"
MPORT=$(free_port 28867 28879) || bail_out "no free port"
instance_create "$DIR/i" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
printf '127.0.0.0/8 permit\n' >"$E/postscreen_access.cidr"
# {PLAIN} as Dovecot writes it: the built-in backend knows the scheme
printf 'user@example.org {PLAIN}secret\n' >"$E/sasl_passwd"
instance_local_mail a@example.org || bail_out "postconf -e"
instance_conf \
	"mynetworks=192.0.2.0/24" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"smtpd_helo_restrictions=" "smtpd_sender_restrictions=" \
	"smtpd_recipient_restrictions=" \
	"smtpd_sasl_type=postern" \
	"smtpd_sasl_password_maps=texthash:$E/sasl_passwd" || \
	bail_out "postconf -e"
printf '127.0.0.1:%s inet n - n - 1 metrics\n' "$MPORT" >>"$E/master.cf"
INSTANCE_PORTS+=("$MPORT")
instance_start || bail_out "instance did not start"
ok $([ -f "$INSTANCE_DIR/data/metrics" ]; echo $?) \
	"master created data_directory/metrics"

timeout 120 $PY - "$SMTP" "$SUB" >"$DIR/script.out" 2>&1 <<'EOF'
import smtplib, ssl, sys
smtp, sub = int(sys.argv[1]), int(sys.argv[2])
msg = b"From: s@client.example.net\r\nSubject: m\r\n\r\nbody\r\n"
for i in range(3):
    with smtplib.SMTP("127.0.0.1", smtp, "client.example.net", 30) as c:
        c.sendmail("s@client.example.net", ["a@example.org"], msg)
with smtplib.SMTP("127.0.0.1", smtp, "client.example.net", 30) as c:
    c.ehlo()
    c.mail("s@client.example.net")
    print("rcpt1", c.rcpt("nobody@example.org"))
    print("rcpt2", c.rcpt("nobody2@example.org"))
    print("rcpt3", c.rcpt("x@elsewhere.example"))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for pw in ("wrong", "wrong2", "secret"):
    with smtplib.SMTP("127.0.0.1", sub, "client.example.net", 30) as c:
        c.starttls(context=ctx)
        try:
            c.login("user@example.org", pw)
        except smtplib.SMTPAuthenticationError as e:
            print("auth", e.smtp_code)
            continue
        print("auth", 235)
        c.sendmail("user@example.org", ["a@example.org"], msg)
print("done")
EOF
ok $? "the scripted sessions ran" "$(cat "$DIR/script.out")"
like "$(grep '^rcpt1' "$DIR/script.out")" "550" "unknown recipient: 550"
like "$(grep '^rcpt3' "$DIR/script.out")" "554" "relay: 554"
is "$(grep -c '^auth 535' "$DIR/script.out")" 2 \
	"two failed logins (smtplib tries PLAIN, then LOGIN: 4 AUTH failures)"

wait_for '[ "$(ls "$INSTANCE_MAIL"/example.org/a/new 2>/dev/null | wc -l)" -ge 4 ]' 20
ok $? "four messages delivered"
wait_for '[ "$(instance_log_count "status=sent")" -ge 4 ]' 10

# fetch PATH [METHOD] - the raw HTTP answer
fetch() {
	$PY - "$MPORT" "$1" "${2:-GET}" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (sys.argv[3],
           sys.argv[2])).encode())
data = b""
while True:
    more = s.recv(65536)
    if not more:
        break
    data += more
sys.stdout.write(data.decode("utf-8", "replace"))
EOF
}

fetch /metrics >"$DIR/scrape.http"
head -1 "$DIR/scrape.http" | grep -q '^HTTP/1.0 200 OK'
ok $? "GET /metrics: 200" "$(head -5 "$DIR/scrape.http")"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$DIR/scrape.http"
ok $? "content type of the text format 0.0.4"
sed '1,/^\r$/d' "$DIR/scrape.http" >"$DIR/scrape"

$PY - "$DIR/scrape" "$SUB" >"$DIR/check.out" 2>&1 <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
sub = "127.0.0.1:" + sys.argv[2]
values = {}
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        values[key] = s.value
print("parsed ok", len(values))

def v(name, **labels):
    # None when the series is missing: a check that wants 0 must see a 0
    return values.get((name, tuple(sorted(labels.items()))))

def check(name, got, want):
    print("%s %s: got %r want %r" % ("PASS" if got == want else "FAIL",
                                      name, got, want))

check("port-25 smtpd sessions",
      v("postern_smtpd_connects_total", service="smtpd"), 4)
check("submission sessions",
      v("postern_smtpd_connects_total", service=sub), 3)
check("messages received on 25",
      v("postern_smtpd_messages_received_total", service="smtpd"), 3)
check("messages received on submission",
      v("postern_smtpd_messages_received_total", service=sub), 1)
check("RCPT 550 5.1.1 rejects",
      v("postern_smtpd_rejects_total", service="smtpd", stage="RCPT",
        code="550", status="5.1.1"), 2)
check("RCPT 554 5.7.1 rejects",
      v("postern_smtpd_rejects_total", service="smtpd", stage="RCPT",
        code="554", status="5.7.1"), 1)
check("all rejects",
      sum(x for (n, l), x in values.items()
          if n == "postern_smtpd_rejects_total"), 3)
check("AUTH failures (two logins, PLAIN and LOGIN each)",
      v("postern_smtpd_sasl_authentications_total", service=sub,
        result="failure"), 4)
check("AUTH successes",
      v("postern_smtpd_sasl_authentications_total", service=sub,
        result="success"), 1)
check("TLS handshakes",
      v("postern_smtpd_tls_handshakes_total", service=sub,
        result="success"), 3)
check("deliveries sent",
      v("postern_deliveries_total", status="sent"), 4)
check("no other delivery status",
      sum(x for (n, l), x in values.items()
          if n == "postern_deliveries_total"), 4)
check("delay observations",
      v("postern_delivery_delay_seconds_count", status="sent"), 4)
check("delay +Inf bucket = count",
      v("postern_delivery_delay_seconds_bucket", status="sent", le="+Inf"),
      4)
for q in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt"):
    check("queue %s empty" % q, v("postern_queue_messages", queue=q), 0)
progs = set(dict(l).get("program") for (n, l) in values
            if n == "postern_process_sessions")
check("process gauges for qmgr and smtpd",
      {"qmgr", "smtpd"} <= progs, True)
check("nothing dropped", v("postern_metrics_series_dropped_total"), 0)
print("end of checks")
EOF
grep -q '^parsed ok' "$DIR/check.out"
ok $? "the Prometheus client's parser accepts the exposition" \
	"$(cat "$DIR/check.out")"
grep -q '^end of checks$' "$DIR/check.out"
ok $? "the checker ran to its end (no check silently missing)" \
	"$(cat "$DIR/check.out")"
while read -r verdict rest; do
	case $verdict in
	PASS) ok 0 "${rest%%: got*}" ;;
	FAIL) ok 1 "${rest%%: got*}" "$rest" ;;
	esac
done <"$DIR/check.out"

head -1 <(fetch /metrics HEAD) | grep -q '^HTTP/1.0 200'
ok $? "HEAD /metrics: 200"
head -1 <(fetch /nothing) | grep -q '^HTTP/1.0 404'
ok $? "GET /nothing: 404"
head -1 <(fetch /metrics POST) | grep -q '^HTTP/1.0 405'
ok $? "POST: 405"

instance_stop
done_testing
