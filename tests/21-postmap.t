#!/bin/bash
# NAME
#	21-postmap.t - postmap, postalias and newaliases as a user runs them
# DESCRIPTION
#	Builds tables from source files, queries them (-q, -q -), dumps
#	(-s), deletes (-d), adds (-i), checks exit codes (0 found, 1 not
#	found, 75 temporary failure), bad lines reported with file and
#	line, postalias refusing :include:, newaliases building every
#	alias_database, and that a rebuild under a running reader is
#	atomic (every query answered, old or new value, never "not found").

. "$POSTERN_TOP/tests/lib/tap.sh"

PM=$POSTERN_BIN/postmap
PA=$POSTERN_BIN/postalias
NA=$POSTERN_BIN/newaliases
T=$(mktemp -d /tmp/postern-21-postmap.XXXXXX)
READER_PID=
cleanup() {
	[ -n "$READER_PID" ] && kill "$READER_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/conf"
: >"$T/conf/main.cf"
cat >"$T/virtual" <<'SRC'
# virtual alias table
Info@Example.COM     john@example.org
sales@example.com    john@example.org,
                     jane@example.org
broken-line-without-value
@example.net         catchall@example.org
info@example.com     duplicate
SRC

"$PM" -c "$T/conf" "$T/virtual" 2>"$T/err"
is "$?" 0 "postmap builds the table"
ok $([ -f "$T/virtual.lmdb" ]; echo $?) "virtual.lmdb created (default type lmdb)"
like "$(cat "$T/err")" "virtual, line 5: expected format" \
	"malformed line reported with file and line"
like "$(cat "$T/err")" "virtual, line 7: duplicate entry" \
	"duplicate reported with file and line"

OUT=$("$PM" -c "$T/conf" -q INFO@example.com "$T/virtual"); RC=$?
is "$RC:$OUT" "0:john@example.org" "-q: found, key folded, exit 0"
OUT=$("$PM" -c "$T/conf" -q sales@example.com "hash:$T/virtual")
is "$OUT" "john@example.org,                     jane@example.org" \
	"-q: continuation line kept with the value (hash: = lmdb)"
OUT=$("$PM" -c "$T/conf" -q nobody@example.com "lmdb:$T/virtual"); RC=$?
is "$RC:$OUT" "1:" "-q: not found, exit 1, nothing printed"
OUT=$("$PM" -c "$T/conf" -q x "btree:$T/nonexistent" 2>"$T/err"); RC=$?
is "$RC" 75 "-q on a missing table: exit 75 (temporary), not 1"
like "$(cat "$T/err")" "temporary lookup failure.*nonexistent" \
	"-q on a missing table: message names the table"
OUT=$("$PM" -c "$T/conf" -q "" "$T/virtual"); RC=$?
is "$RC" 1 "-q with an empty key: not found"

OUT=$(printf 'info@example.com\nnobody@x\n@example.net\n' |
	"$PM" -c "$T/conf" -q - "$T/virtual"); RC=$?
is "$OUT" "$(printf 'info@example.com\tjohn@example.org\n@example.net\tcatchall@example.org')" \
	"-q -: key<TAB>value for each key found"
is "$RC" 0 "-q -: exit 0 when something was found"

OUT=$("$PM" -c "$T/conf" -s "$T/virtual" | cut -f1 | tr '\n' ' ')
is "$OUT" "@example.net info@example.com sales@example.com " "-s dumps every key"

printf 'new@example.com new-value\ninfo@example.com changed\n' |
	"$PM" -c "$T/conf" -i "$T/virtual"
is "$?" 0 "-i adds from stdin"
is "$("$PM" -c "$T/conf" -q new@example.com "$T/virtual")" new-value "-i: new key"
is "$("$PM" -c "$T/conf" -q info@example.com "$T/virtual")" changed "-i: replaced key"
"$PM" -c "$T/conf" -d NEW@example.com "$T/virtual"
is "$?" 0 "-d of a present key: exit 0"
"$PM" -c "$T/conf" -d new@example.com "$T/virtual"
is "$?" 1 "-d of an absent key: exit 1"
"$PM" -c "$T/conf" -q new@example.com "$T/virtual" >/dev/null
is "$?" 1 "-d removed the key"

"$PM" -c "$T/conf" "$T/missing-source" 2>"$T/err"
is "$?" 1 "building from a missing source: exit 1"
like "$(cat "$T/err")" "missing-source" "... and the message names it"
"$PM" -c "$T/conf" "cidr:$T/virtual" 2>"$T/err"
is "$?" 1 "building a cidr: table is refused"
like "$(cat "$T/err")" "unsupported map type" "... with a clear message"
"$PM" -c "$T/nosuchdir" -q x "$T/virtual" 2>/dev/null
is "$?" 1 "-c with a missing directory: exit 1"

# Other map types through postmap -q.
printf '192.0.2.0/24 REJECT\n' >"$T/access.cidr"
is "$("$PM" -c "$T/conf" -q 192.0.2.9 "cidr:$T/access.cidr")" REJECT "-q cidr:"
printf '/^(.*)@old\\.test$/ $1@new.test\n' >"$T/re"
is "$("$PM" -c "$T/conf" -q bob@old.test "pcre:$T/re")" bob@new.test "-q pcre:"
is "$("$PM" -c "$T/conf" -q bob@old.test "regexp:$T/re")" bob@new.test "-q regexp:"
is "$("$PM" -c "$T/conf" -q b 'inline:{a=1, b=2}')" 2 "-q inline:"

# postalias and newaliases.
cat >"$T/aliases" <<'SRC'
# /etc/aliases
postmaster: root
root:	john@example.org,
	jane@example.org
"quoted name": someone@example.org
Abuse: root
staff: :include:/etc/mail/staff
nocolon here
SRC
"$PA" -c "$T/conf" "$T/aliases" 2>"$T/err"
is "$?" 0 "postalias builds the rest of the file"
like "$(cat "$T/err")" "aliases, line 7: alias \"staff\": :include: files are not supported" \
	":include: refused with file, line and alias name"
like "$(cat "$T/err")" "aliases, line 8: expected format: name: value" \
	"line without colon reported"
is "$("$PA" -c "$T/conf" -q root "$T/aliases")" \
	"john@example.org,	jane@example.org" "postalias -q: continuation list"
is "$("$PA" -c "$T/conf" -q abuse "$T/aliases")" root "postalias: key folded"
is "$("$PA" -c "$T/conf" -q "quoted name" "$T/aliases")" someone@example.org \
	"postalias: quoted name"
"$PA" -c "$T/conf" -q staff "$T/aliases" >/dev/null
is "$?" 1 "postalias: the :include: alias is not in the table"
like "$("$PA" -c "$T/conf" -s "$T/aliases")" "postmaster: root" \
	"postalias -s prints name: value"

mkdir -p "$T/na"
printf 'alias_database = hash:%s/na/aliases, lmdb:%s/na/other\n' "$T" "$T" \
	>"$T/na/main.cf"
printf 'mailer-daemon: postmaster\n' >"$T/na/aliases"
printf 'x: y\n' >"$T/na/other"
"$NA" -c "$T/na"
is "$?" 0 "newaliases runs"
is "$("$PA" -c "$T/na" -q mailer-daemon "$T/na/aliases")" postmaster \
	"newaliases built the first alias_database"
is "$("$PA" -c "$T/na" -q x "$T/na/other")" y \
	"newaliases built the second alias_database"

# Atomic swap: a reader querying during rebuilds never misses.
for i in $(seq 1 3000); do echo "key$i value-one-$i"; done >"$T/src1"
sed 's/value-one/value-two/' "$T/src1" >"$T/src2"
cp "$T/src1" "$T/big"
"$PM" -c "$T/conf" "$T/big"
# The reader re-checks the file once a second; rebuilds every 1.1 s
# while it runs (6 s) mean it must see both versions.
N=240000
for i in $(seq 120); do yes key2999 | head -n 2000; sleep 0.05; done |
	"$PM" -c "$T/conf" -q - "$T/big" >"$T/reader.out" &
READER_PID=$!
for i in 1 2 3 4; do
	sleep 1.1
	cp "$T/src$((i % 2 + 1))" "$T/big"
	"$PM" -c "$T/conf" "$T/big"
done
wait "$READER_PID"
RC=$?
READER_PID=
is "$RC" 0 "reader during rebuilds: exit 0"
is "$(wc -l <"$T/reader.out")" "$N" "reader during rebuilds: every query answered"
is "$(grep -cv $'^key2999\tvalue-\\(one\\|two\\)-2999$' "$T/reader.out")" 0 \
	"reader during rebuilds: only whole old or new values"
ok $(grep -q value-one "$T/reader.out" && grep -q value-two "$T/reader.out"
	echo $?) "reader saw both versions (the rebuilds overlapped it)"

# --- a table gets its source's permission bits and owner (issue 10) ----
# Postfix: postmap runs as the source's owner and masks the umask with the
# source's mode; group and other never get write permission.
. "$POSTERN_TOP/tests/lib/need.sh"
umask 022
for mode in 600 640; do
	printf 'k v\n' >"$T/p$mode"
	chmod "$mode" "$T/p$mode"
	"$PM" -c "$T/conf" "$T/p$mode"
	is "$(stat -c %a "$T/p$mode.lmdb")" "$mode" \
		"postmap: a 0$mode source gives a 0$mode table"
	printf 'k: v\n' >"$T/a$mode"
	chmod "$mode" "$T/a$mode"
	"$PA" -c "$T/conf" "$T/a$mode"
	is "$(stat -c %a "$T/a$mode.lmdb")" "$mode" \
		"postalias: a 0$mode source gives a 0$mode table"
done
printf 'k2 v2\n' | "$PM" -c "$T/conf" -i "$T/p600"
"$PM" -c "$T/conf" -d k "$T/p600"
is "$(stat -c %a "$T/p600.lmdb")" 600 "postmap -i and -d keep the source's mode"
printf 'k v\n' >"$T/p666"
chmod 666 "$T/p666"
(umask 0; "$PM" -c "$T/conf" "$T/p666")
is "$(stat -c %a "$T/p666.lmdb")" 644 \
	"a 0666 source under umask 0: 0644 (never group/other writable)"
printf 'root: u@example.com\n' >"$T/na/aliases600"
chmod 600 "$T/na/aliases600"
"$POSTERN_BIN/postconf" -c "$T/na" -e "alias_database=hash:$T/na/aliases600"
"$NA" -c "$T/na"
is "$(stat -c %a "$T/na/aliases600.lmdb")" 600 "newaliases: the same"

if need_root 2 "as root, the table gets the source's owner"; then
	printf 'k v\n' >"$T/owned"
	chown nobody:nogroup "$T/owned"
	chmod 640 "$T/owned"
	"$PM" -c "$T/conf" "$T/owned"
	is "$(stat -c %U:%G:%a "$T/owned.lmdb")" nobody:nogroup:640 \
		"root runs postmap on nobody's 0640 source: nobody's 0640 table"
	chown root:root "$T/owned"
	"$PM" -c "$T/conf" "$T/owned"
	is "$(stat -c %U:%G "$T/owned.lmdb")" root:root \
		"... and back to root's when the source is root's"
fi

if need_root 2 "as a non-root owner (nobody)"; then
	mkdir -p "$T/u/bin"
	cp "$PM" "$T/u/bin/postmap"
	chmod 755 "$T" "$T/u" "$T/u/bin" "$T/conf"
	chmod 644 "$T/conf/main.cf"
	chown nobody "$T/u"
	for mode in 600 640; do
		runuser -u nobody -- sh -c "umask 022; printf 'k v\n' >$T/u/s$mode;
			chmod $mode $T/u/s$mode; $T/u/bin/postmap -c $T/conf $T/u/s$mode"
		is "$(stat -c %U:%a "$T/u/s$mode.lmdb")" "nobody:$mode" \
			"nobody's postmap of its 0$mode source: its 0$mode table"
	done
fi

# --- a source edited after postmap: "database ... is older than source" --
printf 'k v\n' >"$T/stale"
"$PM" -c "$T/conf" "$T/stale"
OUT=$("$PM" -c "$T/conf" -q k "$T/stale" 2>&1)
unlike "$OUT" "older than source" "a fresh table: no warning"
printf 'k changed\n' >"$T/stale"
touch -d "@$(($(date +%s) + 5))" "$T/stale"
OUT=$("$PM" -c "$T/conf" -q k "$T/stale" 2>&1)
like "$OUT" "warning: database $T/stale\\.lmdb is older than source file $T/stale" \
	"a source edited without postmap: warned when the table is opened"
mkdir -p "$T/chk"
printf 'queue_directory = %s/q\nvirtual_alias_maps = hash:%s/stale\n' \
	"$T" "$T" >"$T/chk/main.cf"
: >"$T/chk/master.cf"
OUT=$("$POSTERN_BIN/postern" -c "$T/chk" check 2>&1)
like "$OUT" "warning: database $T/stale\\.lmdb is older than source file $T/stale" \
	"... and by postern check"

done_testing
