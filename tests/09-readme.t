#!/bin/bash
# 09-readme.t - README.md's command blocks work as written.
#
# "Two commands" (make run, make check) is not run here: make check is
# this very run, and make check-fresh proves both on a fresh Debian root
# (and tests/55-make-run.t proves etc/run.sh). Its text is asserted to be
# exactly those two commands, so that a change to it fails here and is
# looked at.
#
# "Running one daemon by hand" is extracted from README.md (the first
# fenced block after that heading) and run line by line, from a
# temporary directory, against a demo instance made by etc/run.sh (what
# make run does) in that directory and then stopped. The only
# substitutions, each a whole word of the block:
#   B=build/release/bin -> B=$POSTERN_BIN (the build under test)
#   E=run/etc           -> E=<temporary dir>/run/etc
#   127.0.0.1:10025, :10026 -> free loopback ports of this test's range
# Lines with -d (daemons) are started in the background, checked, and
# stopped by PID; the others run in the foreground. session.txt is
# written by the test.
#
# Every fenced block of README.md is accounted for, each by the comment
# on the last non-blank line before it (one check a block, named
# README.md:LINE; an untagged block fails with its first line):
#   <!-- tested: tests/09-readme.t -->  one of the two blocks above,
#	the first block after its heading; any other block so tagged fails
#   <!-- tested: tests/NN-name.t [note] -->  that file exists and contains
#	every command line of the block verbatim (a line trimmed of a
#	leading "$ " prompt, a trailing "# comment" and a trailing
#	backslash; blank lines and lines starting with # skipped)
#   <!-- not a command: REASON -->  configuration or output, not run;
#	REASON must not be empty. "main.cf ..." blocks are checked: as
#	the main.cf of an empty directory, postconf -n prints each of
#	their settings (continuation lines joined) and no warning (an
#	unknown parameter fails); "master.cf ..." blocks: postconf -M
#	without a warning. A test named in REASON must exist.
# Ports 20880-20899.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

README=$POSTERN_TOP/README.md
BASE=$((20880 + ($$ % 5) * 4))
SMTP=$BASE SUB=$((BASE + 1)) P1=$((BASE + 2)) P2=$((BASE + 3))
DIR=$(mktemp -d /tmp/postern-09-readme.XXXXXX)
chmod 755 "$DIR"
RUN=$DIR/run
PGID= PIDS= Q=

# block HEADING - the first fenced block after the line "HEADING"
block() {
	awk -v h="$1" '
		$0 == h { in_sec = 1; next }
		in_sec && /^```/ { if (in_blk) exit; in_blk = 1; next }
		in_blk { print }' "$README"
}

stop_all() {
	local p
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait_for "! pid_alive $p" 10 || kill -9 "$p" 2>/dev/null
	done
	PIDS=
	if [ -n "$PGID" ]; then
		kill -INT -- -"$PGID" 2>/dev/null
		wait_for "! ps -o pid= -g $PGID | grep -q ." 30
		ps -o pid= -g "$PGID" 2>/dev/null | xargs -r kill -9 2>/dev/null
		PGID=
	fi
}
trap 'stop_all; rm -rf "$DIR" ${Q:+"$Q"}' EXIT

# 1. "Two commands": its text, not run (see above).
is "$(block '## Two commands')" \
"make run      # installs what is missing, builds, starts a demo mail server
make check    # installs what is missing, builds with ASan/UBSan, runs every test" \
	"Two commands block is make run / make check (proven by make check and make check-fresh)"

# 2. "Running one daemon by hand"
text=$(block '## Running one daemon by hand')
is "$(printf '%s\n' "$text" | wc -l)" 9 "the daemon block has 9 lines"

# The demo instance, as make run makes it; stopped once it listens.
POSTERN_BIN=$POSTERN_BIN POSTERN_RUN_DIR=$RUN POSTERN_SMTP_PORT=$SMTP \
POSTERN_SUBMISSION_PORT=$SUB setsid sh "$POSTERN_TOP/etc/run.sh" \
	>> "$DIR/run.out" 2>&1 < /dev/null &
pid=$!
wait_for "port_listening $SMTP && port_listening $SUB" 30
ok $? "etc/run.sh made the demo instance (run/etc)"
PGID=$(ps -o pgid= -p "$pid" | tr -d ' ')
stop_all

text=$(printf '%s\n' "$text" | sed \
	-e "s|^B=build/release/bin;|B=$POSTERN_BIN;|" \
	-e "s|E=run/etc;|E=$RUN/etc;|" \
	-e "s|127\.0\.0\.1:10025|127.0.0.1:$P1|" \
	-e "s|127\.0\.0\.1:10026|127.0.0.1:$P2|")
cd "$DIR" || exit 1
printf 'EHLO client.example.org\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<user1@example.com>\r\nRCPT TO:<nobody@example.com>\r\nQUIT\r\n' > session.txt

n=0
while IFS= read -r line; do
	n=$((n + 1))
	case $line in
	B=*)	eval "$line"
		ok $? "line $n sets B, E, Q"
		;;
	*" -d "*)
		eval "exec $line" > "$DIR/out.$n" 2>&1 < /dev/null &
		PIDS="$PIDS $!"
		eval "L_$n=\$!"
		;;
	*)	eval "$line" > "$DIR/out.$n" 2>&1 < /dev/null
		eval "R_$n=\$?"
		;;
	esac
	case $n in
	2)	is "$R_2" 0 "line 2: postsuper -s exits 0"
		miss=
		for d in incoming active deferred hold corrupt maildrop \
		    public private bounce defer; do
			[ -d "$Q/$d" ] || miss="$miss $d"
		done
		is "$miss" "" "... and creates the queue structure in \$Q"
		;;
	3)	wait_for "port_listening $P1" 10
		ok $? "line 3: smtpd -d listens on 127.0.0.1:$P1"
		r=$(swaks --server 127.0.0.1:$P1 --helo client.example.org \
			--from alice@example.org --to user1@example.com \
			--timeout 20 2>&1)
		like "$r" '<- *220 ' "... answers 220"
		like "$r" '<- *250 2\.0\.0 Ok: queued as' \
			"... and queues a message for user1@example.com"
		;;
	4)	is "$R_4" 0 "line 4: smtpd -S exits 0"
		r=$(cat "$DIR/out.4")
		like "$r" '220 server\.example\.com ESMTP' "... greets"
		like "$r" '250 2\.1\.5 Ok' \
			"... accepts RCPT user1@example.com from session.txt"
		like "$r" '550 5\.1\.1 <nobody@example\.com>' \
			"... and refuses an unknown user"
		like "$r" '221 2\.0\.0' "... and says goodbye"
		;;
	5)	wait_accepts "$Q/public/qmgr" 10
		ok $? "line 5: qmgr -d listens on \$Q/public/qmgr"
		;;
	6)	wait_accepts "$Q/private/virtual" 10
		ok $? "line 6: virtual -d listens on \$Q/private/virtual"
		;;
	7)	wait_for "port_listening $P2" 10
		ok $? "line 7: postscreen -d listens on 127.0.0.1:$P2"
		;;
	8)	is "$R_8" 0 "line 8: postmap -q exits 0"
		isnt "$(cat "$DIR/out.8")" "" "... and prints the mailbox"
		;;
	9)	is "$R_9" 0 "line 9: postconf -n exits 0"
		like "$(cat "$DIR/out.9")" 'myhostname = server\.example\.com' \
			"... and prints main.cf's settings"
		;;
	esac
done <<< "$text"

for p in $PIDS; do
	pid_alive "$p" || fail "daemon $p died early"
done
kill $PIDS 2>/dev/null
left=
for p in $PIDS; do
	wait_for "! pid_alive $p" 10 || left="$left $p"
done
is "$left" "" "every daemon stops on SIGTERM"
PIDS=
for f in "$DIR"/out.*; do
	grep -q 'panic:\|fatal:' "$f" && fail "$(basename "$f"): $(grep 'panic:\|fatal:' "$f" | head -1)"
done
cd "$POSTERN_TOP" || exit 1

# 3. Every fenced block: run here, tested elsewhere, or not a command.
# blocks README OUTDIR - one file set per block: N.line (of the opening
# fence), N.head (the heading above), N.nth (its rank under that
# heading), N.tag (the comment before it, or empty), N.body
/usr/bin/python3 - "$README" "$DIR/blocks" <<'PY'
import os, re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
out = sys.argv[2]
os.makedirs(out)
head, nth, n, i = "", 0, 0, 0
while i < len(lines):
    if re.match(r"#{1,6} ", lines[i]):
        head, nth = lines[i], 0
    if not lines[i].startswith("```"):
        i += 1
        continue
    j = i + 1
    while j < len(lines) and not lines[j].startswith("```"):
        j += 1
    k = i - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    tag = lines[k].strip() if k >= 0 else ""
    n, nth = n + 1, nth + 1
    files = {"line": str(i + 1), "head": head, "nth": str(nth),
             "tag": tag if tag.startswith("<!--") else "",
             "body": "\n".join(lines[i + 1:j])}
    for ext, text in files.items():
        with open("%s/%d.%s" % (out, n, ext), "w", encoding="utf-8") as f:
            f.write(text + "\n")
    i = j + 1
PY
ok $? "README.md's fenced blocks extracted"

# commands FILE - the command lines of a block, trimmed
commands() {
	sed -e 's/^[[:space:]]*\$ //' -e 's/[[:space:]][[:space:]]*#.*$//' \
		-e 's/[[:space:]]*\\$//' -e 's/^[[:space:]]*//' \
		-e 's/[[:space:]]*$//' "$1" | grep -v '^#' | grep .
}

# maincf_check WHERE BODY - a main.cf excerpt: postconf -n shows it all
maincf_check() {
	local where=$1 body=$2 mc=$DIR/maincf err want miss l
	rm -rf "$mc"
	mkdir -p "$mc"
	cp "$body" "$mc/main.cf"
	: > "$mc/master.cf"
	out=$("$POSTERN_BIN/postconf" -c "$mc" -n 2>"$mc/err")
	err=$(grep . "$mc/err")
	# name = value, continuation lines joined by one space
	want=$(awk '
		/^[ \t]*(#|$)/ { next }
		/^[ \t]/ { sub(/^[ \t]+/, ""); cur = cur " " $0; next }
		{ if (cur != "") print cur; cur = $0 }
		END { if (cur != "") print cur }' "$body" |
		sed -e 's/^\([^ =]*\)[[:space:]]*=[[:space:]]*/\1 = /' \
		    -e 's/[[:space:]]*$//')
	miss=
	while IFS= read -r l; do
		[ -z "$l" ] && continue
		grep -qxF -- "$l" <<<"$out" || miss="$miss [$l]"
	done <<<"$want"
	is "$err$miss" "" "$where: main.cf excerpt: postconf -n prints each setting, no warning"
}

for f in $(ls "$DIR"/blocks/*.body 2>/dev/null | sort -t/ -k1 -V); do
	b=${f%.body}
	line=$(cat "$b.line") head=$(cat "$b.head") nth=$(cat "$b.nth")
	tag=$(cat "$b.tag")
	where="README.md:$line"
	first=$(grep -m1 . "$f")
	case $tag in
	"<!-- tested: tests/09-readme.t -->")
		case "$nth $head" in
		"1 ## Two commands"|"1 ## Running one daemon by hand")
			pass "$where: run or asserted above (\"${head#\#\# }\")" ;;
		*)	fail "$where: tagged tests/09-readme.t, which does not run it: $first" ;;
		esac
		;;
	"<!-- tested: "*" -->")
		t=${tag#"<!-- tested: "}
		t=${t%" -->"}
		t=${t%% *}	# a note may follow the file name
		if [ ! -f "$t" ]; then
			fail "$where: tagged $t, which does not exist: $first"
			continue
		fi
		miss=
		while IFS= read -r c; do
			grep -qF -- "$c" "$t" || miss="$miss [$c]"
		done < <(commands "$f")
		is "$miss" "" "$where: each command line is in $t"
		;;
	"<!-- not a command: "*" -->")
		r=${tag#"<!-- not a command: "}
		r=${r%" -->"}
		r=${r%% }
		t=$(grep -o 'tests/[0-9][0-9]-[A-Za-z0-9_.-]*\.t' <<<"$r" | head -1)
		if [ -z "${r// /}" ]; then
			fail "$where: 'not a command' without a reason: $first"
		elif [ -n "$t" ] && [ ! -f "$t" ]; then
			fail "$where: the reason names $t, which does not exist"
		elif [[ $r == main.cf* ]]; then
			maincf_check "$where" "$f"
		elif [[ $r == master.cf* ]]; then
			mkdir -p "$DIR/mastercf"
			: > "$DIR/mastercf/main.cf"
			cp "$f" "$DIR/mastercf/master.cf"
			"$POSTERN_BIN/postconf" -c "$DIR/mastercf" -M \
				>/dev/null 2>"$DIR/mastercf/err"
			is "$(grep . "$DIR/mastercf/err")" "" \
				"$where: master.cf excerpt: postconf -M, no warning"
		else
			pass "$where: not a command ($r)"
		fi
		;;
	*)	fail "$where: a fenced block without <!-- tested: tests/NN-name.t --> or <!-- not a command: reason -->: $first" ;;
	esac
done
done_testing
