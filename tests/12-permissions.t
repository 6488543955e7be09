#!/bin/bash
# 12-permissions.t - queue and data ownership, as "postfix check" and
# "postfix set-permissions" (issue 10 item 8): with incoming/, deferred/,
# maildrop/ and data_directory owned by root and maildrop/ mode 0755,
# "postern check" reports each and exits 1, start refuses; "postern
# set-permissions" repairs them (and gives a table whose .lmdb was made
# world-readable its 0600 source's mode back); check is then silent and
# mail flows (swaks through port 25 into a Maildir). A full instance of
# the seed's files. Ports 21020-21039. About 8 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

P=$POSTERN_BIN/postern
TOP=$(mktemp -d /tmp/postern-12-perms.XXXXXX)
trap 'instance_cleanup; [ -n "${POSTERN_KEEP:-}" ] || rm -rf "$TOP"' EXIT
command -v swaks >/dev/null || bail_out "swaks is missing (tools/deps.txt)"

if need_root 19 "queue ownership checks and their repair"; then
SMTP=$(free_port 21020 21029) || bail_out "no free port"
SUB=$(free_port 21030 21039) || bail_out "no free port"
instance_create "$TOP/i" "$SMTP" "$SUB" || bail_out instance_create
E=$INSTANCE_CONF
Q=$INSTANCE_QUEUE
D=$INSTANCE_DIR/data
MO=$("$POSTERN_BIN/postconf" -c "$E" -h mail_owner)
VU=$(id -u vmail)
VG=$(id -g vmail)
chown "$VU:$VG" "$INSTANCE_MAIL"
: >"$E/aliases"
printf '[smtp.example.net]:587 user:secret\n' >"$E/relay_password"
chmod 600 "$E/relay_password"
"$POSTERN_BIN/postalias" -c "$E" "hash:$E/aliases" &&
"$POSTERN_BIN/postmap" -c "$E" "hash:$E/relay_password" || bail_out postmap
instance_conf "alias_maps=hash:$E/aliases" "alias_database=hash:$E/aliases" \
	"sender_canonical_maps=" "canonical_maps=" \
	"smtp_sasl_password_maps=hash:$E/relay_password" "smtp_generic_maps=" \
	"postscreen_access_list=permit_mynetworks" "postscreen_dnsbl_sites=" \
	"virtual_mailbox_domains=example.com" \
	"virtual_mailbox_maps=inline:{u@example.com=example.com/u/}" \
	"virtual_alias_maps=" "virtual_uid_maps=static:$VU" \
	"virtual_gid_maps=static:$VG" || bail_out "postconf -e"

# The queue as master makes it, then broken as an administrator might.
"$POSTERN_BIN/postsuper" -c "$E" -s || bail_out "postsuper -s"
mkdir -p "$D" && chown "$MO:" "$D" && chmod 700 "$D"
"$P" -c "$E" check >"$TOP/check0" 2>&1
is "$?" 0 "postern check on a queue made by postsuper -s: exit 0"
touch "$Q/deferred/OLDFILE1"
chown root:root "$Q/incoming" "$Q/deferred" "$Q/maildrop" "$D" \
	"$Q/deferred/OLDFILE1"
chmod 755 "$Q/maildrop"
chmod 644 "$E/relay_password.lmdb"

"$P" -c "$E" check >"$TOP/check1" 2>&1
is "$?" 1 "root-owned queue directories: postern check exits 1"
out=$(cat "$TOP/check1")
for d in "$Q/incoming" "$Q/deferred" "$Q/maildrop" "$D"; do
	grep -q -- "error: not owned by $MO: $d\$" "$TOP/check1"
	ok $? "... reports $d"
done
like "$out" "error: not mode 1733: $Q/maildrop \\(0755\\)" "... and maildrop's mode"
like "$out" "error: 1 file not owned by $MO in $Q/deferred" \
	"... and a queue file of another owner"
like "$out" 'run "postern set-permissions"' "... and says what repairs it"
"$P" -c "$E" start >"$TOP/start1" 2>&1
is "$?" 1 "postern start refuses"

"$P" -c "$E" set-permissions >"$TOP/setp" 2>&1
is "$?" 0 "postern set-permissions exits 0" || diag "$(cat "$TOP/setp")"
is "$(stat -c %U:%a "$Q/incoming" "$Q/deferred" "$Q/maildrop" "$D" "$Q/deferred/OLDFILE1" | tr '\n' ' ')" \
	"$MO:700 $MO:700 $MO:1733 $MO:700 $MO:644 " \
	"... the directories and the file are mail_owner's again, maildrop 1733"
is "$(stat -c %U:%a "$E/relay_password.lmdb")" root:600 \
	"... the table has its 0600 source's mode again"
rm -f "$Q/deferred/OLDFILE1"
"$P" -c "$E" check >"$TOP/check2" 2>&1
is "$?" 0 "postern check after set-permissions exits 0"
unlike "$(cat "$TOP/check2")" "not owned|not mode|set-permissions" "... and says nothing about owners"

instance_start
ok $? "the instance starts"
swaks --server "127.0.0.1:$SMTP" --helo client.example.net \
	--from sender@example.net --to u@example.com \
	--header "Subject: after set-permissions" --timeout 60 \
	>"$TOP/swaks" 2>&1
ok $? "a message is accepted" || diag "$(cat "$TOP/swaks")"
wait_for "grep -lq '^Subject: after set-permissions' '$INSTANCE_MAIL'/example.com/u/new/*" 60
ok $? "... and delivered"
instance_stop
fi

done_testing
