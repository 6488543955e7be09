#!/bin/bash
# 80-install.t - "make install" as an administrator uses it (issue 8):
#   - make install DESTDIR=... gives the layout mk/install.mk promises:
#     every command in usr/sbin, the mailq/newaliases/sendmail names,
#     every daemon in usr/lib/postern, the commented main.cf and
#     master.cf, the unit, a man page for each command and daemon, the
#     queue and data directories, with their modes; nothing that
#     "make all" builds for the mail system is left out
#   - a second make install keeps the administrator's edited main.cf
#   - systemd-analyze verify passes on the installed unit (its paths
#     moved under DESTDIR), and fails when ExecStart names no program
#   - every installed man page renders with "MANWIDTH=80 man
#     --warnings -l" without a warning; man finds smtpd(8) by name
#   - the installed tree, started with the unit's own ExecStartPre and
#     ExecStart lines (MAIL_CONFIG pointing at a copy of the installed
#     main.cf/master.cf changed only where a test must: queue, data,
#     ports, Maildir base, log file, no DNS, a certificate, one hosted
#     domain), receives a message over SMTP (swaks) and delivers it to
#     the Maildir byte for byte
#   - the unit's ExecReload line with a session open: the session
#     still answers NOOP and RSET with 250 and delivers a message, and
#     a new connection sees the new smtpd_banner; with a broken main.cf
#     ExecReload fails and master keeps running
#   - SIGTERM to master (what systemctl stop sends) stops everything.
# Ports 28100-28119. About 45 s (two installs, 18 man pages, postscreen's
# 6 s greet wait).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

PORT=$((28100 + ($$ % 10) * 2))
DIR=$(mktemp -d /tmp/postern-80-install.XXXXXX)
C=$DIR/conf
MASTER=
STAGE=
note "directory $DIR"
cleanup() {
	if [ -n "$MASTER" ] && pid_alive "$MASTER"; then
		kill -TERM "$MASTER"
		wait_for "! pid_alive $MASTER" 30 || kill -KILL "$MASTER"
	fi
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$DIR" "$STAGE"
}
trap cleanup EXIT
chmod 755 "$DIR"

# make install, as README.md's "Installing" block and debian/rules run
# it. A make check around us must not lend its jobserver or variables.
STAGE=$(mktemp -d)
R=$STAGE
chmod 755 "$R"
(cd "$POSTERN_TOP" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u VARIANT \
	-u BUILD make install DESTDIR=$STAGE) > "$DIR/install.log" 2>&1
ok $? "make install DESTDIR=... succeeds" ||
	diag "$(tail -n 20 "$DIR/install.log")"
n=$(find $STAGE -type f | wc -l)
ok $([ "$n" -ge 35 ]; echo $?) "find \$STAGE -type f lists the installed files ($n)"
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u VARIANT -u BUILD \
		make -s -C "$POSTERN_TOP" "$@"
}

# mode - octal mode and type of a path
mode() {
	stat -c '%a %F' "$1" 2>/dev/null
}

COMMANDS="postern postconf postmap postalias postqueue postsuper postcat sendmail"
DAEMONS="master postscreen smtpd qmgr virtual smtp anvil metrics"
bad=
for p in $COMMANDS; do
	[ "$(mode "$R/usr/sbin/$p")" = "755 regular file" ] ||
		bad+=" usr/sbin/$p($(mode "$R/usr/sbin/$p"))"
done
ok $([ -z "$bad" ]; echo $?) "every command in usr/sbin, 0755" ||
	diag "wrong:$bad"
bad=
for p in $DAEMONS; do
	[ "$(mode "$R/usr/lib/postern/$p")" = "755 regular file" ] ||
		bad+=" $p($(mode "$R/usr/lib/postern/$p"))"
done
ok $([ -z "$bad" ]; echo $?) "every daemon in usr/lib/postern, 0755" ||
	diag "wrong:$bad"

# What make all builds for the mail system (not the test helpers) is
# all installed.
bad=
for f in "$POSTERN_TOP"/build/release/bin/*; do
	p=${f##*/}
	[ -L "$f" ] && continue
	case $p in echod) continue ;; esac
	[ -e "$R/usr/sbin/$p" ] || [ -e "$R/usr/lib/postern/$p" ] ||
		bad+=" $p"
done
ok $([ -z "$bad" ]; echo $?) "every program of make all is installed" ||
	diag "not installed:$bad"

links=$(for l in usr/sbin/mailq usr/sbin/newaliases usr/bin/mailq \
	usr/bin/newaliases usr/lib/sendmail; do
	printf '%s -> %s\n' "$l" "$(readlink "$R/$l")"
done)
is "$links" "usr/sbin/mailq -> postqueue
usr/sbin/newaliases -> postalias
usr/bin/mailq -> ../sbin/mailq
usr/bin/newaliases -> ../sbin/newaliases
usr/lib/sendmail -> ../sbin/sendmail" "mailq, newaliases and /usr/lib/sendmail links, as Debian's postfix"
ok $([ -x "$R/usr/bin/mailq" ] && [ -x "$R/usr/lib/sendmail" ]; echo $?) \
	"the links resolve to programs"

is "$(mode "$R/etc/postern/main.cf") $(mode "$R/etc/postern/master.cf")" \
	"644 regular file 644 regular file" "main.cf and master.cf, 0644"
ok $(grep -q '^# What is my hostname' "$R/etc/postern/main.cf" &&
	grep -q '^smtp      inet .* postscreen$' "$R/etc/postern/master.cf"
	echo $?) "main.cf is the commented one, master.cf runs postscreen on port 25"
is "$(mode "$R/var/spool/postern") $(mode "$R/var/lib/postern")" \
	"755 directory 700 directory" "queue 0755 and data 0700 directories"
is "$(mode "$R/lib/systemd/system/postern.service")" "644 regular file" \
	"postern.service in lib/systemd/system, 0644"

MAN1="postern postconf postmap postalias newaliases postqueue mailq postsuper postcat sendmail"
MAN8="master postscreen smtpd qmgr virtual smtp lmtp anvil metrics verify"
bad=
for p in $MAN1; do
	[ "$(mode "$R/usr/share/man/man1/$p.1")" = "644 regular file" ] ||
		bad+=" $p.1"
done
for p in $MAN8; do
	[ "$(mode "$R/usr/share/man/man8/$p.8")" = "644 regular file" ] ||
		bad+=" $p.8"
done
[ -f "$R/usr/share/man/man5/postconf.5" ] || bad+=" postconf.5"
ok $([ -z "$bad" ]; echo $?) "a man page for every command (1), daemon (8) and postconf(5)" ||
	diag "missing:$bad"

# The installed programs find each other without any setting
# (lib/params.c: daemon_directory, command_directory).
is "$("$R/usr/sbin/postconf" -c "$R/etc/postern" -h daemon_directory command_directory)" \
	"$R/usr/lib/postern
$R/usr/sbin" "installed postconf: daemon_directory is usr/lib/postern, command_directory usr/sbin"

# A reinstall never overwrites the administrator's configuration.
echo "# edited by the administrator" >> "$R/etc/postern/main.cf"
mk install DESTDIR="$R" > "$DIR/install2.log" 2>&1
ok $? "a second make install succeeds"
ok $(tail -n 1 "$R/etc/postern/main.cf" | grep -q 'edited by the administrator'
	echo $?) "a second make install keeps the edited main.cf"
sed -i '$d' "$R/etc/postern/main.cf"

# systemd-analyze verify: the unit with its programs moved under $R
# (it checks that ExecStart's program exists and that the man pages of
# Documentation= are found: MANPATH).
UNIT=$R/lib/systemd/system/postern.service
mkdir -p "$DIR/unit" "$DIR/unit-bad"
sed -e "s|/usr/lib/postern/|$R/usr/lib/postern/|" \
	-e "s|/usr/sbin/|$R/usr/sbin/|" "$UNIT" > "$DIR/unit/postern.service"
out=$(MANPATH=$R/usr/share/man systemd-analyze verify \
	"$DIR/unit/postern.service" 2>&1)
ok $? "systemd-analyze verify passes on the installed unit" || diag "$out"
sed -e "s|^ExecStart=.*|ExecStart=$DIR/nonexistent -f|" \
	"$DIR/unit/postern.service" > "$DIR/unit-bad/postern.service"
out=$(MANPATH=$R/usr/share/man systemd-analyze verify \
	"$DIR/unit-bad/postern.service" 2>&1)
isnt $? 0 "systemd-analyze verify fails on a unit whose ExecStart is missing"

# Every man page renders at 80 columns without a warning.
bad=
n=0
for f in "$R"/usr/share/man/man[158]/*; do
	n=$((n + 1))
	MANWIDTH=80 man --warnings -l "$f" > "$DIR/man.out" 2> "$DIR/man.err"
	st=$?
	if [ $st != 0 ] || [ -s "$DIR/man.err" ] ||
	    ! grep -q '^NAME' "$DIR/man.out"; then
		bad+="${f##*/}: $(head -n 3 "$DIR/man.err")"$'\n'
	fi
done
ok $([ -z "$bad" ] && [ $n -ge 19 ]; echo $?) \
	"man --warnings -l renders all $n pages without a warning" ||
	diag "$bad"
like "$(MANPATH=$R/usr/share/man man -w 8 smtpd 2>&1)" \
	"^$R/usr/share/man/man8/smtpd\\.8" "man finds smtpd(8) in the installed tree"

# The installed tree runs with the unit's own command lines.
if need_root 11 "the installed tree as a service (master as root, Maildirs as uid 5000)"; then
	chmod a+x "$(dirname "$DIR")"
	cp -r "$R/etc/postern" "$C"
	chmod 755 "$C"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 30 -subj /CN=mail.example.com \
		-keyout "$C/key.pem" -out "$C/cert.pem" >/dev/null 2>&1
	printf 'user@example.com example.com/user/\n' > "$C/vmailbox"
	printf 'postmaster: user@example.com\n' > "$C/aliases"
	export MAIL_CONFIG=$C
	# Installed commands, run as an administrator would.
	"$R/usr/sbin/postconf" -e "queue_directory=$DIR/queue" \
		"data_directory=$DIR/data" "maillog_file=$DIR/maillog" \
		"virtual_mailbox_base=$DIR/vmail" "inet_interfaces=127.0.0.1" \
		"resolver_nameservers=127.0.0.1:9" \
		"smtpd_tls_cert_file=$C/cert.pem" "smtpd_tls_key_file=$C/key.pem" \
		"alias_maps=hash:$C/aliases" "alias_database=hash:$C/aliases" \
		"virtual_mailbox_domains=example.com" \
		"virtual_mailbox_maps=hash:$C/vmailbox"
	"$R/usr/sbin/postmap" "hash:$C/vmailbox"
	"$R/usr/bin/newaliases"
	sed -i "s/^smtp      inet /127.0.0.1:$PORT inet /" "$C/master.cf"
	mkdir -p "$DIR/vmail"
	chown 5000:5000 "$DIR/vmail"

	# unit_line KEY: the unit's command line, programs under $R
	unit_line() {
		sed -n "s/^$1=//p" "$UNIT" | sed -e "s|/usr/lib/postern/|$R/usr/lib/postern/|" \
			-e "s|/usr/sbin/|$R/usr/sbin/|"
	}
	pre=$(unit_line ExecStartPre)
	start=$(unit_line ExecStart)
	reload=$(unit_line ExecReload)
	note "ExecStartPre: $pre; ExecStart: $start; ExecReload: $reload"
	$pre > "$DIR/check.out" 2>&1
	ok $? "the unit's ExecStartPre ($pre) passes on the installed main.cf" ||
		diag "$(cat "$DIR/check.out")"
	$start > "$DIR/master.out" 2>&1 &
	MASTER=$!
	if wait_for "grep -q 'daemon started' '$DIR/maillog'" 20 &&
	    wait_for "port_listening $PORT" 20; then
		pass "master started with the unit's ExecStart listens on $PORT"
	else
		fail "master started with the unit's ExecStart" \
			"$(cat "$DIR/master.out" "$DIR/maillog" 2>/dev/null)"
	fi

	# A message over SMTP, through postscreen, into the Maildir.
	# swaks ends DATA with CRLF . CRLF after the file: the file has no
	# final newline, the Maildir copy has (msg.want).
	printf 'Subject: installed %s\nFrom: a@example.net\nTo: user@example.com\n\nfirst line\n.dot line\nlast line %s' \
		$$ $$ > "$DIR/msg"
	{ cat "$DIR/msg"; echo; } > "$DIR/msg.want"
	swaks --server 127.0.0.1:$PORT --helo client.example.net \
		--from a@example.net --to user@example.com \
		--data @"$DIR/msg" > "$DIR/swaks.out" 2>&1
	ok $? "swaks: the message is accepted" ||
		diag "$(tail -n 15 "$DIR/swaks.out")"
	md=$DIR/vmail/example.com/user/new
	wait_for "ls '$md' | grep -q ." 20
	f=$(ls "$md" 2>/dev/null | head -n 1)
	if [ -n "$f" ] && tail -c "$(wc -c < "$DIR/msg.want")" "$md/$f" |
	    cmp -s - "$DIR/msg.want" &&
	    head -n 1 "$md/$f" | grep -q '^Return-Path: <a@example.net>$'; then
		pass "the message is in the Maildir byte for byte"
	else
		fail "the message is in the Maildir byte for byte" \
			"$(ls -la "$md" 2>&1; tail -n 20 "$DIR/maillog")"
	fi

	# A session open across the unit's reload.
	exec 3<>/dev/tcp/127.0.0.1/$PORT
	# reply: one SMTP reply (all its lines) from fd 3
	reply() {
		local line all=
		while IFS= read -r -t 15 line <&3; do
			all+=${line%$'\r'}$'\n'
			[[ $line =~ ^[0-9]{3}\  ]] && break
		done
		printf '%s' "$all"
	}
	say() {
		printf '%s\r\n' "$1" >&3
		reply
	}
	banner1=$(reply)
	say "EHLO client.example.net" > /dev/null
	"$R/usr/sbin/postconf" -e 'smtpd_banner = $myhostname ESMTP reloaded-80'
	MAINPID=$MASTER
	eval "$reload" > "$DIR/reload.out" 2>&1
	ok $? "the unit's ExecReload ($reload) succeeds" ||
		diag "$(cat "$DIR/reload.out")"
	wait_for "grep -q 'master.*reload -- version' '$DIR/maillog'" 10
	sleep 1
	r=$(say "NOOP")$(say "RSET")
	r+=$(say "MAIL FROM:<a@example.net>")$(say "RCPT TO:<user@example.com>")
	r+=$(say "DATA")
	printf 'Subject: after reload %s\r\n\r\nsame session\r\n.\r\n' $$ >&3
	r+=$(reply)$(say "QUIT")
	exec 3<&-
	like "$r" "^250 2\.0\.0 [^2]*250 2\.0\.0 [^2]*250 2\.1\.0 [^2]*250 2\.1\.5 [^3]*354 .*250 2\.0\.0 Ok: queued as [0-9A-Z]+221 " \
		"after ExecReload the open session answers NOOP, RSET, a whole message with 250" ||
		diag "banner before: $banner1; replies: $r"
	banner2=$(exec 3<>/dev/tcp/127.0.0.1/$PORT; reply; printf 'QUIT\r\n' >&3
		reply >/dev/null; exec 3<&-)
	NL=$'\n'
	like "$banner2" "(^|$NL)220 [^$NL]*reloaded-80" "a new connection sees the reloaded smtpd_banner"
	# A broken main.cf: the unit's reload fails and changes nothing.
	"$R/usr/sbin/postconf" -e 'smtpd_helo_required = yse'
	eval "$reload" > "$DIR/reload2.out" 2>&1
	st=$?
	"$R/usr/sbin/postconf" -e 'smtpd_helo_required = yes'
	ok $([ $st != 0 ] && pid_alive "$MASTER"; echo $?) \
		"ExecReload refuses a broken main.cf (exit $st), master keeps running" ||
		diag "$(cat "$DIR/reload2.out")"
	wait_for "[ \$(ls '$md' | wc -l) -ge 2 ]" 20
	ok $(grep -lq "after reload $$" "$md"/* 2>/dev/null; echo $?) \
		"the message sent across the reload is delivered"

	# systemctl stop: SIGTERM to master (KillMode=mixed).
	kids=$(ps -o pid= --ppid "$MASTER" | tr -d ' ')
	kill -TERM "$MASTER"
	wait_for "! pid_alive $MASTER" 30
	wait "$MASTER"
	st=$?
	left=
	for k in $kids; do pid_alive "$k" && left+=" $k"; done
	probs=$(grep -E 'panic:|killed by signal|exit status [1-9]|fatal:' \
		"$DIR/maillog")
	ok $([ "$st" = 0 ] && [ -z "$left" ] && [ -z "$probs" ]; echo $?) \
		"SIGTERM stops master (exit 0) and its children; no panic, fatal or child death in the log" ||
		diag "status $st, left:$left; $probs"
	MASTER=
	unset MAIL_CONFIG
fi

done_testing
