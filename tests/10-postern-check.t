#!/bin/bash
# 10-postern-check.t - postconf on the seed configuration: "postern check"
# (postconf --check) warns exactly as Postfix would and does not fail;
# postconf -n shows what Postfix 3.7's postconf -n shows on the seed; -e/-X edit
# main.cf in place keeping comments; -M prints master.cf entries.
. "$POSTERN_TOP/tests/lib/tap.sh"

PC=$POSTERN_BIN/postconf
SEED=$POSTERN_TOP/etc/seed
# Both references were written by real Postfix (Debian's 3.7), never by
# postern: see tests/data/seed-postconf-n.sh and the '#' lines atop them.
REF=$POSTERN_TOP/tests/data/seed-postconf-n.ref
UNUSED_REF=$POSTERN_TOP/tests/data/seed-postconf-unused.ref
DIR=$(mktemp -d /tmp/postern-10-check.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
grep -v '^#' "$REF" >"$DIR/ref"
grep -v '^#' "$UNUSED_REF" >"$DIR/unused.ref"
is "$(wc -l <"$DIR/unused.ref")" 2 "Postfix's reference names two unused parameters"

[ -x "$PC" ] || bail_out "no postconf at $PC"

# --- the seed copy is the tutorial's file, byte for byte -------------------
# (sha256 of ../shared/seed-config/main.cf and master.cf)
is "$(sha256sum <"$SEED/main.cf" | cut -d' ' -f1)" \
	06b897f9a650328bdc44fb505707525f5c4fb1fb356b89da9d81a8a3a85a9f90 \
	"etc/seed/main.cf is the seed's main.cf"
is "$(sha256sum <"$SEED/master.cf" | cut -d' ' -f1)" \
	e2f901f2e1774731bfa2566e94fa6e1df065bceb81f1c8978dbb2350daa49317 \
	"etc/seed/master.cf is the seed's master.cf"

# --- postern check on the unchanged seed ---------------------------------
"$PC" -c "$SEED" --check >"$DIR/out" 2>"$DIR/err"
ok $? "check on the seed exits 0 (warnings only)"
is "$(cat "$DIR/out")" "" "check prints nothing on stdout"
# The unused-parameter lines are Postfix's own (tests/data), values as
# main.cf has them; the undefined ones Postfix 3.7 prints the same way.
is "$(grep -E 'unused parameter|undefined parameter' "$DIR/err")" \
"$(sed "s|DIR|$SEED|" "$DIR/unused.ref")
postconf: warning: $SEED/master.cf: undefined parameter: mua_client_restrictions
postconf: warning: $SEED/master.cf: undefined parameter: mua_helo_restrictions
postconf: warning: $SEED/master.cf: undefined parameter: mua_sender_restrictions" \
	"exactly the two unused and three undefined parameters"
unlike "$(cat "$DIR/err")" "postconf: (fatal|error|panic):" "no fatal or error lines"
is "$(grep -c 'built into postern' "$DIR/err")" 1 \
	"the folded commands are named on one line"
like "$(cat "$DIR/err")" \
	"postconf: $SEED/master\\.cf: 13 commands built into postern, nothing to run: dnsblog, tlsproxy, pickup, cleanup, .*bounce, " \
	"... all 13 of them (bounce, used by 3 services, once)"
is "$(grep -c 'will not run' "$DIR/err")" 1 \
	"the services postern cannot run are named on one line"
like "$(cat "$DIR/err")" \
	"warning: $SEED/master\\.cf: 7 services with a command postern does not have will not run \\(mail routed to them is deferred\\): local/unix \\(local, line 60\\), maildrop/unix \\(pipe, line 78\\), uucp/unix" \
	"... each with its command and master.cf line"
unlike "$(cat "$DIR/err")" "unknown command \"(smtpd|postscreen|qmgr|smtp|virtual|lmtp)\"|[( ](smtpd|postscreen|qmgr|smtp|virtual|lmtp), line" \
	"postern's own programs are not among them"
unlike "$(cat "$DIR/err")" "sender_access is unavailable" \
	"the unused (misspelt) smtp_sender_restrictions is not evaluated: its table is not opened"
like "$(cat "$DIR/err")" \
	"warning: 9 lookup tables are unavailable \\(mail that needs one is deferred\\): hash:/etc/aliases is unavailable\\. .*mysql:/etc/postfix/mysql-virtual-alias-maps\\.cf is unavailable" \
	"the unavailable tables (the seed's /etc/postfix files) on one line"
# A handful of lines, each one the administrator acts on (issue 10 item 9).
is "$(wc -l <"$DIR/err")" 8 "check on the seed prints 8 lines (not ~30)"
is "$(grep -v -E 'unused parameter: |undefined parameter: |commands built into postern, nothing to run: |services with a command postern does not have will not run|lookup tables are unavailable' "$DIR/err")" "" \
	"... each of them actionable (a parameter to fix, a service that will not run, a table to build)"
"$POSTERN_BIN/postern" -c "$SEED" check >"$DIR/pout" 2>"$DIR/perr"
ok $? "postern check on the seed exits 0"
is "$(sed 's/^.*postern\[[0-9]*\]: //' "$DIR/perr")" \
	"$(sed 's/^postconf: //' "$DIR/err")" \
	"postern check prints the same 8 lines as postconf --check"
unlike "$(cat "$DIR/err")" "smtp_scache|smtpd_scache" \
	"TLS session caches are not opened as tables"

# --- the migration report: postern -v check -c DIR, line by line ---------
# (docs/MIGRATION.md) The seed as an existing Postfix's /etc/postfix, plus a
# before-queue proxy filter, which postern knows by name but does not
# implement (milters it does, since issue 11).
mkdir -p "$DIR/pf"
cp "$SEED/main.cf" "$SEED/master.cf" "$DIR/pf/"
printf 'smtpd_proxy_filter = 127.0.0.1:10025\n' >>"$DIR/pf/main.cf"
"$POSTERN_BIN/postern" -v -c "$DIR/pf" check >"$DIR/mig.out" 2>&1
ok $? "postern -v check on a Postfix configuration exits 0 (warnings only)"
sed 's/^.*postern\[[0-9]*\]: //' "$DIR/mig.out" >"$DIR/mig"
is "$(grep -c "^warning: $DIR/pf/master\.cf, line [0-9]*: service .* will not run: postern has no program" "$DIR/mig")" 7 \
	"each of the 7 services postern cannot run on its own line, with file and line"
grep -q "^warning: $DIR/pf/master\.cf, line 78: service maildrop/unix will not run: postern has no program \"pipe\"\$" "$DIR/mig"
ok $? "... e.g. maildrop/unix at line 78 (pipe)"
grep -q "^warning: $DIR/pf/main\.cf, line 166: unused parameter: smtp_sender_restrictions=" "$DIR/mig"
ok $? "each unused parameter with its line (smtp_sender_restrictions, line 166)"
is "$(grep -c 'unused parameter' "$DIR/mig")" 2 "... both of them"
grep -q "^warning: $DIR/pf/main\.cf, line $(wc -l <"$DIR/pf/main.cf"): smtpd_proxy_filter is not implemented by postern (ignored)\$" "$DIR/mig"
ok $? "a parameter postern knows but does not implement (smtpd_proxy_filter), with its line"

# --- postconf -n / -d / -x / -h -------------------------------------------
"$PC" -n -c "$SEED" >"$DIR/n" 2>"$DIR/nerr"
ok $? "postconf -n exits 0"
# Postfix shows config_directory too when it is not the default.
is "$(grep '^config_directory' "$DIR/n")" "config_directory = $SEED" \
	"postconf -n shows config_directory = the -c directory"
grep -v '^config_directory = ' "$DIR/n" >"$DIR/n.seed"
if diff -u "$DIR/ref" "$DIR/n.seed" >"$DIR/ndiff"; then
	pass "postconf -n equals Postfix's postconf -n on the seed"
else
	fail "postconf -n equals Postfix's postconf -n on the seed" "$(cat "$DIR/ndiff")"
fi
is "$(wc -l <"$DIR/n.seed")" 63 \
	"postconf -n lists the 63 seed parameters in use (as Postfix, not the 2 unused)"
is "$(grep -c -E 'unused parameter|undefined parameter' "$DIR/nerr")" 5 \
	"postconf -n also reports the 5 problems on stderr, as Postfix does"
is "$("$PC" -c "$SEED" -h myorigin 2>/dev/null)" '$mydomain' "-h shows the raw value"
is "$("$PC" -c "$SEED" -x myorigin smtpd_banner 2>/dev/null)" \
	$'myorigin = example.com\nsmtpd_banner = server.example.com ESMTP postern (Ubuntu)' \
	"-x expands"
is "$("$PC" -c "$SEED" -d mail_name smtpd_timeout relay_domains 2>/dev/null)" \
	$'mail_name = postern\nsmtpd_timeout = ${stress?{10}:{300}}s\nrelay_domains =' \
	"-d shows built-in defaults (Postfix's text)"
is "$("$PC" -c "$SEED" -x smtpd_timeout smtpd_hard_error_limit 2>/dev/null)" \
	$'smtpd_timeout = 300s\nsmtpd_hard_error_limit = 20' "stress defaults expand"
# Expected values from the host name itself, by Postfix's rule: myhostname
# is the system's name (postern appends .localdomain to a name without a
# dot, lib/params.c), mydomain is myhostname minus its first label.
host=$(uname -n)
case $host in
*.*) want_host=$host ;;
*) want_host=$host.localdomain ;;
esac
is "$("$PC" -c "$SEED" -d -x myhostname 2>/dev/null)" "myhostname = $want_host" \
	"-d ignores main.cf (myhostname from uname -n)"
is "$("$PC" -c "$SEED" -d -x mydomain 2>/dev/null)" "mydomain = ${want_host#*.}" \
	"-d ignores main.cf (mydomain = myhostname minus its first label)"
is "$("$PC" -c "$SEED" -o myorigin=x.example -x -h myorigin 2>/dev/null)" "x.example" \
	"-o overrides"
is "$("$PC" -c "$SEED" nosuch_param 2>&1 | grep nosuch)" \
	"postconf: warning: nosuch_param: unknown parameter" "unknown name warned"
like "$("$PC" -c "$SEED" 2>/dev/null | grep -c ' = ')" "^[0-9]{3}$" \
	"postconf without -n lists hundreds of parameters"

# --- postconf -M -----------------------------------------------------------
"$PC" -c "$SEED" -M >"$DIR/M"
ok $? "postconf -M exits 0"
is "$(wc -l <"$DIR/M")" 34 "postconf -M: 34 entries"
is "$("$PC" -c "$SEED" -M tlsmgr/unix 2>/dev/null)" \
	"tlsmgr     unix  -       -       -       1000?   1       tlsmgr" \
	"-M service/type, '?' kept"
is "$("$PC" -c "$SEED" -M mailman 2>/dev/null)" \
	"mailman    unix  -       n       n       -       -       pipe flags=FR user=list argv=/usr/lib/mailman/bin/postfix-to-mailman.py \${nexthop} \${user}" \
	"-M joins continuation lines"
is "$(grep '^submission' "$DIR/M")" \
	"submission inet  n       -       -       -       -       smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_reject_unlisted_recipient=no -o smtpd_client_restrictions=\$mua_client_restrictions -o smtpd_helo_restrictions=\$mua_helo_restrictions -o smtpd_sender_restrictions=\$mua_sender_restrictions -o smtpd_recipient_restrictions= -o smtpd_relay_restrictions=permit_sasl_authenticated,reject -o milter_macro_daemon_name=ORIGINATING" \
	"-M submission with its -o options in order"

is "$("$PC" -c "$SEED" -M nosuch 2>&1)" 'postconf: warning: unmatched request: "nosuch"' \
	"-M unmatched request warned"
is "$("$PC" -c "$SEED" -P submission/inet/syslog_name submission/inet/smtpd_recipient_restrictions 2>/dev/null)" \
	$'submission/inet/syslog_name = postfix/submission\nsubmission/inet/smtpd_recipient_restrictions =' \
	"-P shows service parameters"
is "$("$PC" -c "$SEED" -P 2>/dev/null | wc -l)" 10 "-P: the seed has 10 service parameters"

# --- postconf -e / -X round trip -------------------------------------------
cp "$SEED/main.cf" "$SEED/master.cf" "$DIR/"
chmod 640 "$DIR/main.cf"
comments_before=$(grep -c '^[[:space:]]*#' "$DIR/main.cf")
"$PC" -c "$DIR" -e 'myhostname = mx.test.example' \
	'postscreen_dnsbl_sites=zen.spamhaus.org*3' brand_new=1
ok $? "postconf -e exits 0"
is "$(grep -c '^[[:space:]]*#' "$DIR/main.cf")" "$comments_before" \
	"-e keeps every comment line"
is "$("$PC" -c "$DIR" -h myhostname postscreen_dnsbl_sites brand_new 2>/dev/null)" \
	$'mx.test.example\nzen.spamhaus.org*3\n1' "-e values read back"
is "$(grep -n '^myhostname' "$DIR/main.cf")" "8:myhostname = mx.test.example" \
	"-e replaces in place (same line)"
unlike "$(cat "$DIR/main.cf")" "barracudacentral" \
	"-e drops the old continuation lines"
is "$(tail -n 1 "$DIR/main.cf")" "brand_new = 1" "-e appends a new parameter"
"$PC" -n -c "$DIR" 2>/dev/null | grep -v -E '^(config_directory|myhostname|postscreen_dnsbl_sites|brand_new) ' >"$DIR/n2"
grep -v -E '^(myhostname|postscreen_dnsbl_sites) ' "$DIR/ref" >"$DIR/ref2"
if diff -u "$DIR/ref2" "$DIR/n2" >"$DIR/n2diff"; then
	pass "-e leaves every other parameter unchanged"
else
	fail "-e leaves every other parameter unchanged" "$(cat "$DIR/n2diff")"
fi
is "$(stat -c %a "$DIR/main.cf")" 640 "-e keeps the file mode"
is "$(ls "$DIR" | grep -c postconf)" 0 "-e leaves no temp file"
"$PC" -c "$DIR" -X brand_new smtp_client_restrictions
ok $? "postconf -X exits 0"
unlike "$(cat "$DIR/main.cf")" "brand_new|smtp_client_restrictions|reject_unknown_client_hostname" \
	"-X removes the parameter and its continuation lines"
is "$(grep -c '^[[:space:]]*#' "$DIR/main.cf")" "$comments_before" \
	"-X keeps every comment line"

# Postfix's -e details: later request wins, duplicates collapse, sorted append.
printf 'biff = yes\n' >>"$DIR/main.cf"
err=$("$PC" -c "$DIR" -e zz=1 biff=no aa=2 zz=3 2>&1)
like "$err" "ignoring earlier request: 'zz = 1'" "-e: repeated name, later wins"
like "$err" "multiple entries for \"biff\"" "-e: duplicate definitions warned"
is "$(grep '^biff' "$DIR/main.cf")" $'biff = no\nbiff = no' "-e: every duplicate replaced"
is "$(tail -n 2 "$DIR/main.cf")" $'aa = 2\nzz = 3' "-e: new names appended in name order"
"$PC" -c "$DIR" -X aa zz 2>/dev/null
"$PC" -c "$DIR" -X a=b 2>/dev/null
is "$?" 1 "-X with a value is refused"
"$PC" -c "$DIR" -e 'bad name=1' 2>/dev/null
is "$?" 1 "-e with an invalid name is refused"
"$PC" -c "$DIR" -e $'a=1\nb=2' 2>/dev/null
is "$?" 1 "-e with a line break is refused"

# A user-defined parameter that master.cf refers to is used, not undefined.
"$PC" -c "$DIR" -e 'mua_client_restrictions = permit_sasl_authenticated, reject' 2>/dev/null
"$PC" -c "$DIR" --check 2>"$DIR/err2"
ok $? "check after edits exits 0"
is "$(grep -E 'unused parameter|undefined parameter' "$DIR/err2" | sed "s|$DIR|DIR|")" \
"$(grep smtp_sender_restrictions "$DIR/unused.ref")
postconf: warning: DIR/master.cf: undefined parameter: mua_helo_restrictions
postconf: warning: DIR/master.cf: undefined parameter: mua_sender_restrictions" \
	"defined mua_client_restrictions: neither unused nor undefined"

# A table that exists opens without a warning.
printf 'spammer@example.com REJECT\n' >"$DIR/sender_access"
"$PC" -c "$DIR" -e "smtpd_sender_restrictions = check_sender_access texthash:$DIR/sender_access"
"$PC" -c "$DIR" --check 2>"$DIR/err3"
unlike "$(cat "$DIR/err3")" "texthash:$DIR/sender_access" "a readable table is not reported"

# A malformed boolean is a fatal problem.
"$PC" -c "$DIR" -e 'smtpd_helo_required = maybe'
"$PC" -c "$DIR" --check 2>"$DIR/err4"
is "$?" 1 "check exits 1 on a bad boolean"
like "$(cat "$DIR/err4")" "bad boolean configuration: smtpd_helo_required = maybe" \
	"the bad boolean is named"

# ... also as a master.cf -o value, named with file, line and service.
"$PC" -c "$DIR" -e 'smtpd_helo_required = yes'
printf 'bad unix - - - - 1 smtpd -o smtpd_timeout=5x\n' >>"$DIR/master.cf"
"$PC" -c "$DIR" --check 2>"$DIR/err6"
is "$?" 1 "check exits 1 on a bad -o time value"
like "$(cat "$DIR/err6")" "master\.cf, line [0-9]+: service bad/unix: bad time configuration: smtpd_timeout = 5x" \
	"the bad -o value is named"

# Missing files.
"$PC" -c "$DIR/none" --check 2>"$DIR/err5"
is "$?" 1 "check exits 1 without main.cf"
like "$(cat "$DIR/err5")" "$DIR/none/main.cf: No such file" "missing main.cf named"

done_testing
