#!/bin/bash
# 74-dkim.t - built-in DKIM signing (issue 14, "DKIM signing").
#
# Keys from "postern dkim-keygen" (RSA 2048 for example.org, Ed25519
# for example.com); dkim_signing_table and dkim_key_table as postern
# maps (texthash:, then the key table as mysql: in a private MariaDB).
# Mail submitted on 587 with AUTH (the built-in SASL backend) and mail
# from a client in mynetworks (a third smtpd service with
# -o mynetworks=127.0.0.0/8) is delivered to a Maildir signed; the
# signature verifies with dkimpy (python3-dkim, dnsfunc answering with
# the TXT record keygen printed: no DNS) for rsa-sha256 and
# ed25519-sha256, and with OpenDKIM's own verifier (opendkim -t with
# TestPublicKeys: no DNS). Local submission (sendmail) is signed too.
# Mail on port 25 from outside mynetworks is not signed. Behind a real
# OpenDKIM milter (a fourth smtpd, -o smtpd_milters) signing d=example.org
# s=rsa1, the message keeps OpenDKIM's signature (c=relaxed/simple, it
# verifies) and postern does not sign again; the same for a signature
# the client sent. A group-readable key file is refused: 451 4.3.0 and
# a log line. ~28 s (MariaDB start included). Ports 28300-28339.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"
. "$POSTERN_TOP/tests/lib/mariadb.sh"

PY=/usr/bin/python3
[ -x /usr/sbin/opendkim ] && $PY -c 'import dkim, nacl' 2>/dev/null
ok $? "opendkim, python3-dkim and python3-nacl installed (tools/deps.txt)"
DIR=$(mktemp -d /tmp/postern-74-dkim.XXXXXX)
DKIM_PID=
trap '[ -n "$DKIM_PID" ] && kill "$DKIM_PID" 2>/dev/null; instance_cleanup; mariadb_stop; [ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT

SMTP=$(free_port 28300 28309) || bail_out "no free port"
SUB=$(free_port 28310 28319) || bail_out "no free port"
MYN=$(free_port 28320 28329) || bail_out "no free port"
DKIMP=$(free_port 28330 28333) || bail_out "no free port"
MILS=$(free_port 28334 28336) || bail_out "no free port"
NOSIGN=$(free_port 28337 28339) || bail_out "no free port"
instance_create "$DIR/i" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
export MAIL_CONFIG=$E

# --- keys ----------------------------------------------------------
owner=$("$POSTERN_BIN/postconf" -c "$E" -h mail_owner 2>/dev/null)
mkdir -m 0700 "$E/keys"
chown "$owner" "$E/keys"	# the signer (smtpd, qmgr's pickup) opens the keys
"$POSTERN_BIN/postern" dkim-keygen -d example.org -s rsa1 -D "$E/keys" \
	>"$DIR/rsa.txt" 2>"$DIR/keygen.err"
ok $? "dkim-keygen rsa" "$(cat "$DIR/keygen.err")"
"$POSTERN_BIN/postern" dkim-keygen -d example.com -s ed1 -t ed25519 \
	-D "$E/keys" >"$DIR/ed.txt" 2>>"$DIR/keygen.err"
ok $? "dkim-keygen ed25519" "$(cat "$DIR/keygen.err")"
like "$(cat "$DIR/rsa.txt")" \
	'^rsa1\._domainkey\.example\.org IN TXT "v=DKIM1; k=rsa; p=MIIB' \
	"RSA record printed"
like "$(cat "$DIR/ed.txt")" \
	'^ed1\._domainkey\.example\.com IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="$' \
	"Ed25519 record printed (raw 32-byte key)"
is "$(stat -c %a "$E/keys/rsa1.private")" 600 "key file mode 0600"
is "$(stat -c %U "$E/keys/rsa1.private")" "$owner" \
	"key file owned by mail_owner ($owner), the signer"
"$POSTERN_BIN/postern" dkim-keygen -d example.org -s rsa1 -D "$E/keys" \
	>/dev/null 2>&1
isnt $? 0 "an existing key is not overwritten"
"$POSTERN_BIN/postern" dkim-keygen -d example.org -s x -t dsa -D "$E/keys" \
	>/dev/null 2>"$DIR/usage.err"
rc=$?
like "$rc $(cat "$DIR/usage.err")" '^1 usage: postern dkim-keygen' \
	"dkim-keygen -t dsa: usage, exit 1"
cp -p "$E/keys/rsa1.private" "$E/keys/bad.private"
chmod 0640 "$E/keys/bad.private"

# --- instance ------------------------------------------------------
printf '127.0.0.0/8 permit\n' >"$E/postscreen_access.cidr"
printf 'a@example.org 1\n' >"$E/vmailbox"
printf '%s\n' 'user@example.org {PLAIN}secret' \
	'other@example.com {PLAIN}secret' >"$E/sasl_passwd"
printf '%s\n' '*@example.org orgkey' 'other@example.com comkey' \
	'bad@example.net badkey' >"$E/signing"
# orgkey only in MariaDB (mysql: key table), the others in texthash
mariadb_start "$DIR/db" || bail_out "cannot start MariaDB"
mariadb_load_seed || bail_out "cannot load the seed schema"
mariadb_sql "CREATE TABLE dkim_keys (name VARCHAR(64) PRIMARY KEY,
	value VARCHAR(512) NOT NULL);
	INSERT INTO dkim_keys VALUES
	('orgkey', 'example.org:rsa1:$E/keys/rsa1.private');" ||
	bail_out "cannot create the key table"
mariadb_cf "$E/dkim-keys.cf" "SELECT value FROM dkim_keys WHERE name='%s'"
printf '%s\n' "comkey example.com:ed1:$E/keys/ed1.private" \
	"badkey example.net:bad:$E/keys/bad.private" >"$E/keys.txt"
vuid=$(id -u vmail 2>/dev/null || id -u)
vgid=$(id -g vmail 2>/dev/null || id -g)
chown "$vuid:$vgid" "$INSTANCE_MAIL"
instance_conf \
	"mynetworks=192.0.2.0/24" \
	"virtual_uid_maps=static:$vuid" "virtual_gid_maps=static:$vgid" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"smtpd_helo_restrictions=" "smtpd_sender_restrictions=" \
	"smtpd_recipient_restrictions=" \
	"smtpd_sasl_type=postern" \
	"smtpd_sasl_password_maps=texthash:$E/sasl_passwd" \
	"alias_maps=" "virtual_alias_maps=" "canonical_maps=" \
	"sender_canonical_maps=" \
	"virtual_mailbox_maps=texthash:$E/vmailbox" \
	"virtual_mailbox_domains=example.org" \
	"dkim_signing_table=texthash:$E/signing" \
	"dkim_key_table=mysql:$E/dkim-keys.cf, texthash:$E/keys.txt" ||
	bail_out "postconf -e"
printf '127.0.0.1:%s inet n - n - - smtpd -o mynetworks=127.0.0.0/8\n' \
	"$MYN" >>"$E/master.cf"
# the same behind a real OpenDKIM milter signing d=example.org s=rsa1
printf '127.0.0.1:%s inet n - n - - smtpd -o mynetworks=127.0.0.0/8 -o smtpd_milters=inet:127.0.0.1:%s\n' \
	"$MILS" "$DKIMP" >>"$E/master.cf"
# and one where signing is off (-o dkim_signing=no)
printf '127.0.0.1:%s inet n - n - - smtpd -o mynetworks=127.0.0.0/8 -o dkim_signing=no\n' \
	"$NOSIGN" >>"$E/master.cf"
INSTANCE_PORTS+=("$MYN" "$MILS" "$NOSIGN")
cat >"$DIR/opendkim-sign.conf" <<EOF
Syslog			no
Mode			s
Domain			example.org
Selector		rsa1
KeyFile			$E/keys/rsa1.private
Socket			inet:$DKIMP@127.0.0.1
InternalHosts		127.0.0.1
Canonicalization	relaxed/simple
RequireSafeKeys		false
EOF
/usr/sbin/opendkim -f -x "$DIR/opendkim-sign.conf" >"$DIR/opendkim.out" 2>&1 &
DKIM_PID=$!
wait_for "port_listening $DKIMP" 10 || bail_out "opendkim did not start: $(cat "$DIR/opendkim.out")"
instance_start || bail_out "instance did not start"

# send.py - the messages of this test; prints "NAME CODE" per message
cat >"$DIR/send.py" <<'EOF'
import smtplib, ssl, sys
smtp, sub, myn, mils, nosign = (int(x) for x in sys.argv[1:6])
which = sys.argv[6:]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

def msg(frm, subj, extra=""):
    return ("%sFrom: %s\r\nTo: a@example.org\r\nSubject: %s\r\n"
            "Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
            "Message-ID: <%s@test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain\r\n\r\nHello  there,\t\r\n"
            "a body line with trailing space \r\n\r\n.dot line\r\n\r\n\r\n"
            % (extra, frm, subj, subj)).encode()

def submit(login, frm, subj, extra=""):
    with smtplib.SMTP("127.0.0.1", sub, "client.example.net", 30) as c:
        c.starttls(context=ctx)
        c.login(login, "secret")
        try:
            c.sendmail(frm, ["a@example.org"], msg(frm, subj, extra))
            print(subj, 250)
        except smtplib.SMTPDataError as e:
            print(subj, e.smtp_code, e.smtp_error.decode())

def plain(port, frm, subj):
    with smtplib.SMTP("127.0.0.1", port, "client.example.net", 30) as c:
        c.sendmail(frm, ["a@example.org"], msg(frm, subj))
        print(subj, 250)

MILTER_SIG = ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"
              " d=example.org; s=rsa1;\r\n\th=from; bh=AAAA; b=MILTERSIGNED\r\n")
for w in which:
    if w == "sub-rsa":
        submit("user@example.org", "user@example.org", "sub-rsa")
    elif w == "sub-ed":
        submit("other@example.com", "Other <other@example.com>", "sub-ed")
    elif w == "mynet":
        plain(myn, "someone@example.org", "mynet")
    elif w == "outside":
        plain(smtp, "user@example.org", "outside")
    elif w == "presigned":
        submit("user@example.org", "user@example.org", "presigned",
               MILTER_SIG)
    elif w == "badkey":
        submit("user@example.org", "bad@example.net", "badkey")
    elif w == "milter":
        plain(mils, "user@example.org", "milter")
    elif w == "nosign":
        plain(nosign, "user@example.org", "nosign")
    elif w == "big":   # many chunks, body lines of every length
        body = "".join(("%d " % i) * (i % 97) + " \t" * (i % 3) + "\r\n"
                       for i in range(1200))
        frm = "user@example.org"
        with smtplib.SMTP("127.0.0.1", sub, "client.example.net", 30) as c:
            c.starttls(context=ctx)
            c.login(frm, "secret")
            c.sendmail(frm, ["a@example.org"], ("From: %s\r\nTo: a@example.org"
                       "\r\nSubject: big\r\n\r\n%s" % (frm, body)).encode())
            print(w, 250, len(body))
    elif w == "headers-only":   # no empty line, no body
        with smtplib.SMTP("127.0.0.1", myn, "client.example.net", 30) as c:
            c.sendmail("user@example.org", ["a@example.org"],
                       b"From: user@example.org\r\nTo: a@example.org\r\n"
                       b"Subject: headers-only\r\n")
            print(w, 250)
EOF
timeout 60 $PY "$DIR/send.py" "$SMTP" "$SUB" "$MYN" "$MILS" "$NOSIGN" sub-rsa \
	sub-ed mynet outside presigned badkey milter nosign headers-only big \
	>"$DIR/send.out" 2>&1
ok $? "messages sent" "$(cat "$DIR/send.out")"
like "$(grep '^badkey' "$DIR/send.out")" '^badkey 451 4\.3\.0 ' \
	"group-readable key: 451 4.3.0, not sent unsigned"
ok $([ "$(instance_log_count 'bad.private: key file is accessible by group or others \(mode 0640\): not used')" -ge 1 ]; echo $?) \
	"the refused key is logged"
printf 'From: local@example.org\nTo: a@example.org\nSubject: local\n\nlocal body\n' |
	"$POSTERN_BIN/sendmail" -C "$E" -f local@example.org a@example.org
ok $? "sendmail (local submission)"
wait_for '[ "$(ls "$INSTANCE_MAIL"/example.org/a/new 2>/dev/null | wc -l)" -ge 10 ]' 20
ok $? "ten messages delivered"

# verify.py MAILDIR RSA.txt ED.txt - one line per message: SUBJECT verdicts
cat >"$DIR/verify.py" <<'EOF'
import dkim, email, glob, re, sys
records = {}
for f in sys.argv[2:4]:
    line = open(f).read()
    name = line.split()[0]
    records[(name + ".").encode()] = "".join(
        re.findall(r'"([^"]*)"', line)).encode()
def dnsfunc(name, timeout=5):
    return records.get(name if name.endswith(b".") else name + b".")
for path in sorted(glob.glob(sys.argv[1] + "/new/*")):
    data = open(path, "rb").read()
    m = email.message_from_bytes(data)
    sigs = m.get_all("DKIM-Signature") or []
    d = dkim.DKIM(data)
    try:    # dkimpy verifies the first signature only
        ok = d.verify(dnsfunc=dnsfunc) if sigs else False
    except dkim.DKIMException as e:
        ok = "error(%s)" % e
    tags = [dict((k.strip(), v.strip()) for k, v in
                 (t.split("=", 1) for t in re.sub(r"\s+", "", s).split(";")
                  if "=" in t)) for s in sigs]
    print(m["Subject"], "sigs=%d" % len(sigs), "verify=%s" % ok,
          " ".join("%s/%s/%s/h=%s" % (t.get("a"), t.get("d"), t.get("s"),
                                      t.get("h")) for t in tags),
          "b=MILTERSIGNED" if any(t.get("b") == "MILTERSIGNED" for t in tags)
          else "")
EOF
$PY "$DIR/verify.py" "$INSTANCE_MAIL/example.org/a" "$DIR/rsa.txt" \
	"$DIR/ed.txt" >"$DIR/verify.out" 2>&1
ok $? "dkimpy ran" "$(cat "$DIR/verify.out")"
v() { grep "^$1 " "$DIR/verify.out"; }
like "$(v sub-rsa)" 'sigs=1 verify=True rsa-sha256/example.org/rsa1/h=from:from:subject:date:message-id:to:mime-version:content-type ' \
	"submission: rsa-sha256 signature verifies with dkimpy; From oversigned; key from the mysql: key table"
like "$(v sub-ed)" 'sigs=1 verify=True ed25519-sha256/example.com/ed1/' \
	"submission: ed25519-sha256 signature verifies with dkimpy"
like "$(v mynet)" 'sigs=1 verify=True rsa-sha256/example.org/rsa1/' \
	"mynetworks client (signing table *@example.org): signed, verifies"
like "$(v outside)" 'sigs=0 ' "port 25 from outside mynetworks: not signed"
like "$(v nosign)" 'sigs=0 ' "-o dkim_signing=no on a service: not signed"
like "$(v headers-only)" 'sigs=1 verify=True rsa-sha256/example.org/rsa1/h=from:from:subject:to ' \
	"a message of headers only (no body): signed, verifies"
like "$(v big)" 'sigs=1 verify=True rsa-sha256/' \
	"a large message (streamed in many chunks): signed, verifies"
like "$(v local)" 'sigs=1 verify=True rsa-sha256/example.org/rsa1/' \
	"local submission (sendmail, pickup): signed, verifies"
like "$(v presigned)" 'sigs=1 .*rsa-sha256/example.org/rsa1/h=from b=MILTERSIGNED' \
	"an existing signature with the same d= and s= is kept, not signed again"
like "$(v milter)" 'sigs=1 verify=True rsa-sha256/example.org/rsa1/' \
	"OpenDKIM milter signed d=example.org s=rsa1: its signature is kept and verifies"
grep -A1 '^DKIM-Signature:' "$(grep -l '^Subject: milter$' "$INSTANCE_MAIL"/example.org/a/new/*)" |
	grep -q 'c=relaxed/simple'
ok $? "... and it is OpenDKIM's (c=relaxed/simple), not postern's"
ok $([ "$(instance_log_count 'DKIM-Signature with d=example.org s=rsa1 already present: not signed again')" -eq 2 ]; echo $?) \
	"the skipped signatures are logged"
ok $([ "$(instance_log_count 'DKIM-Signature field added \(s=rsa1, d=example.org\)')" -eq 5 ] \
	&& [ "$(instance_log_count 'DKIM-Signature field added \(s=ed1, d=example.com\)')" -eq 1 ]; echo $?) \
	"one 'DKIM-Signature field added' log line per signed message" \
	"$(instance_log_grep 'DKIM-Signature')"

# --- OpenDKIM's verifier, offline (TestPublicKeys) ------------------
: >"$DIR/testkeys"
for f in "$DIR/rsa.txt" "$DIR/ed.txt"; do
	printf '%s %s\n' "$(awk '{print $1}' "$f")" \
		"$(grep -o '"[^"]*"' "$f" | tr -d '"' | tr -d '\n')" \
		>>"$DIR/testkeys"
done
printf '%s\n' "TestPublicKeys $DIR/testkeys" "Mode v" "Syslog no" \
	"UserID $(id -un)" >"$DIR/opendkim.conf"
for s in sub-rsa sub-ed mynet local; do
	f=$(grep -l "^Subject: $s\$" "$INSTANCE_MAIL"/example.org/a/new/*)
	out=$(/usr/sbin/opendkim -x "$DIR/opendkim.conf" -vvv -t "$f" 2>&1)
	like "$out" "dkim=pass .*header\.d=example\.(org|com) .*header\.a=(rsa|ed25519)-sha256 header\.s=(rsa1|ed1) " \
		"opendkim -t verifies the $s message"
done

instance_stop
kill "$DKIM_PID"
wait "$DKIM_PID" 2>/dev/null
DKIM_PID=
mariadb_stop
done_testing
