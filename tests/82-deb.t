#!/bin/bash
# 82-deb.t - the Debian package: "make deb" builds it from the tree; its
# contents (dpkg-deb -c) are the promised paths, its control fields
# (dpkg-deb -I) make it a Debian MTA (Provides, Conflicts, Replaces:
# mail-transport-agent; /etc/postern's files are conffiles); lintian
# reports no error or warning beyond debian/postern.lintian-overrides.
# Then it is installed, not on this machine (Conflicts would remove the
# host's MTA), but into a Debian 12 root: the minbase bookworm root
# tools/install-deps made once with the package's Depends preinstalled
# (/var/cache/postern-chroot/bookworm-postern.tar.zst; this test uses no
# network), unpacked into a temporary directory with /proc and /dev
# bound. There: dpkg -i (policy-rc.d forbids starting services: no
# systemd in a chroot) creates the users and directories; the installed
# server, started with the unit's own ExecStart line (ports moved to free
# loopback ports, one virtual mailbox added to the installed default
# configuration), takes one message over SMTP from the host into a
# Maildir; a second dpkg -i keeps the edited conffiles and the queued
# mail; dpkg -r leaves exactly the configuration, the queue (with the
# mail still queued), the data directory, the users and the mailboxes;
# dpkg -P removes configuration, queue, data and the postern user and
# group, and leaves the mailboxes and the vmail user that owns them.
# With another MTA installed, dpkg -i refuses and apt replaces it.
# Nothing may still run inside the root at the end. Ports 28200-28299.
# About 3.5 min on a busy 2-core machine, 2 of them make deb (compiling).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/need.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

TOP=$POSTERN_TOP
TARBALL=/var/cache/postern-chroot/bookworm-postern.tar.zst
WORK=
R=
MASTER=

# root_pids - processes whose root directory is inside $R
root_pids() {
	local p
	[ -n "$R" ] || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] &&
			echo "${p#/proc/}"
	done
}

cleanup() {
	local pids
	[ -n "$MASTER" ] && kill -KILL "$MASTER" 2>/dev/null
	pids=$(root_pids)
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null && sleep 1
	if [ -n "$R" ]; then
		umount "$R/dev" 2>/dev/null || umount -l "$R/dev" 2>/dev/null
		umount "$R/proc" 2>/dev/null || umount -l "$R/proc" 2>/dev/null
	fi
	if [ -n "$WORK" ] && ! grep -q " $WORK/" /proc/mounts; then
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# in_root CMD - a shell command inside the root, clean environment
in_root() {
	chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c "$1"
}

# mode PATH - "owner:group mode" of a path inside the root
mode() {
	in_root "stat -c '%U:%G %a' '$1'" 2>&1
}

if ! need_root 1 "the Debian package, built and installed into a chroot"; then
	done_testing
	exit
fi

# 1. make deb
VERSION=$(sed -n "s/.*-DPOSTERN_VERSION='\"\([^\"]*\)\"'.*/\1/p" \
	"$TOP/Makefile" | head -1)
ARCH=$(dpkg --print-architecture)
DEB=$TOP/build/deb/postern_${VERSION}_$ARCH.deb
t0=$(date +%s)
out=$(cd "$TOP" && make deb 2>&1)
st=$?
secs=$(( $(date +%s) - t0 ))
ok $st "make deb builds the package (${secs} s)" || diag "$(tail -30 <<<"$out")"
note "make deb: ${secs} s"
ok "$([ -f "$DEB" ]; echo $?)" "... into build/deb/postern_${VERSION}_$ARCH.deb (the Makefile's POSTERN_VERSION)" ||
	{ diag "$(ls -l "$TOP/build/deb" 2>&1)"; done_testing; exit; }
leak=
for p in "$TOP"/debian/postern "$TOP"/debian/files "$TOP"/debian/.debhelper \
    "$TOP"/debian/debhelper-build-stamp "$(dirname "$TOP")"/postern_*; do
	[ -e "$p" ] && leak+=" $p"
done
is "$leak" "" "make deb writes nothing outside build/ (dpkg-buildpackage runs in build/deb/src)"

# 2. contents: the promised paths; nothing outside /etc/postern, /usr, the
# unit directory and the (empty) queue and data directories
list=$(dpkg-deb -c "$DEB" | awk '{ p = $6; sub(/^\./, "", p); print p }')
missing=
for p in /usr/sbin/postern /usr/sbin/postconf /usr/sbin/postmap \
    /usr/sbin/postalias /usr/sbin/postqueue /usr/sbin/postsuper \
    /usr/sbin/postcat /usr/sbin/sendmail /usr/sbin/mailq \
    /usr/sbin/newaliases /usr/bin/mailq /usr/bin/newaliases \
    /usr/lib/sendmail \
    /usr/lib/postern/master /usr/lib/postern/postscreen \
    /usr/lib/postern/smtpd /usr/lib/postern/qmgr \
    /usr/lib/postern/virtual /usr/lib/postern/smtp /usr/lib/postern/metrics \
    /etc/postern/main.cf /etc/postern/master.cf \
    /lib/systemd/system/postern.service \
    /usr/share/man/man1/postconf.1.gz /usr/share/man/man1/sendmail.1.gz \
    /usr/share/man/man8/smtpd.8.gz /usr/share/man/man8/master.8.gz \
    /usr/share/doc/postern/copyright; do
	grep -qxF "$p" <<<"$list" || missing+=" $p"
done
is "$missing" "" "dpkg-deb -c: commands, links, daemons, configuration, unit, man pages, copyright"
is "$(grep -vE '^/(etc/postern|usr|lib/systemd/system|var/spool/postern|var/lib/postern)(/|$)|^/$|^/etc/$|^/lib/$|^/lib/systemd/$|^/var/$|^/var/spool/$|^/var/lib/$' <<<"$list")" "" \
	"... and nothing elsewhere"
modes=$(dpkg-deb -c "$DEB" | awk '$6 ~ /^\.\/usr\/(sbin|lib\/postern)\/[^\/]+$/ && $1 !~ /^l/ { print $1, $2, $6 }' |
	grep -v '^-rwxr-xr-x root/root ')
is "$modes" "" "... programs are root-owned 0755 (no setuid or setgid bit)"

# 3. control: a Debian MTA
field() { dpkg-deb -f "$DEB" "$1"; }
is "$(field Provides)" "mail-transport-agent" "Provides: mail-transport-agent"
is "$(field Conflicts)" "mail-transport-agent" "Conflicts: mail-transport-agent"
is "$(field Replaces)" "mail-transport-agent" "Replaces: mail-transport-agent"
like "$(field Depends)" '(^|, )adduser(,|$)' "Depends: adduser (postinst creates the users)"
like "$(field Depends)" 'libevent-2\.1-7.*libmariadb3' "Depends: the shared libraries (shlibs)"
is "$(dpkg-deb -I "$DEB" conffiles | sort)" \
	"$(grep '^/etc/' <<<"$list" | grep -v '/$' | sort)" \
	"every file under /etc is a conffile"
is "$(dpkg-deb -I "$DEB" conffiles | sort | tr '\n' ' ')" \
	"/etc/postern/main.cf /etc/postern/master.cf " \
	"... which are main.cf and master.cf"
like "$(dpkg-deb -I "$DEB" postinst)" "deb-systemd-helper enable 'postern.service'" \
	"postinst enables postern.service"

# 4. lintian: no error or warning but the explained overrides
lint=$(cd "$TOP" && lintian build/deb/postern_*.changes 2>&1)
is "$(grep -E '^[EW]: ' <<<"$lint")" "" "lintian: no E: or W: tags"
ovr=$TOP/debian/postern.lintian-overrides
if [ -f "$ovr" ]; then
	# every override has a comment right above it saying why
	bare=$(awk '/^[^#[:space:]]/ && prev !~ /^#/ { print } { prev = $0 }' "$ovr")
	is "$bare" "" "each lintian override has its reason in a comment"
else
	pass "no lintian overrides"
fi

# 5. the Debian 12 root
if [ ! -f "$TARBALL" ]; then
	fail "the cached Debian 12 root $TARBALL exists" \
		"run: sh tools/install-deps check (as root, with the mirror reachable)"
	done_testing
	exit
fi
WORK=$(mktemp -d /var/tmp/postern-82-deb.XXXXXX)
R=$WORK/root
mkdir "$R"
zstd -q -dc "$TARBALL" | tar -C "$R" --numeric-owner -xpf -
ok $? "the cached Debian 12 root unpacks"
mount -t proc proc "$R/proc" && mount --bind /dev "$R/dev"
ok $? "/proc and /dev bound into the root"
like "$(cat "$R/etc/debian_version")" '^12\.' "the root is Debian 12"

# The built package's Depends are all preinstalled (no network here).
deps=$(field Depends | tr ',' '\n' | sed 's/([^)]*)//; s/|.*//; s/ //g' | grep .)
absent=
for d in $deps; do
	in_root "dpkg-query -W -f='\${Status}' $d" 2>/dev/null | grep -q 'ok installed' ||
		absent+=" $d"
done
is "$absent" "" "every Depends of the package is installed in the root" ||
	diag "add them to group root in tools/deps.txt, run sh tools/install-deps check"
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
mkdir -p "$R/var/mail"
echo "untouched" > "$R/var/mail/someone"
cp "$DEB" "$R/tmp/"

# 6. dpkg -i
out=$(in_root 'cd /tmp && dpkg -i postern_*.deb' 2>&1)
ok $? "dpkg -i installs the package in the root" || diag "$out"
like "$(in_root 'getent passwd postern')" '^postern:x:[0-9]+:[0-9]+:[^:]*:/var/spool/postern:/usr/sbin/nologin$' \
	"postinst: system user postern (home /var/spool/postern, no login)"
like "$(in_root 'getent group postern')" '^postern:' "postinst: group postern"
like "$(in_root 'getent passwd vmail')" '^vmail:x:5000:5000:' \
	"postinst: user vmail, uid and gid 5000 (virtual_uid_maps = static:5000)"
is "$(mode /var/spool/postern)" "root:root 755" "queue_directory /var/spool/postern: root 0755"
is "$(mode /var/spool/postern/incoming)" "postern:postern 700" "... incoming/: postern 0700"
is "$(mode /var/spool/postern/maildrop)" "postern:postern 1733" "... maildrop/: postern 1733"
is "$(mode /var/spool/postern/public)" "postern:postern 755" "... public/: postern 0755"
is "$(mode /var/lib/postern)" "postern:postern 700" "data_directory /var/lib/postern: postern 0700"
is "$(mode /var/vmail)" "vmail:vmail 770" "virtual_mailbox_base /var/vmail: vmail 0770"
is "$(in_root "dpkg-query -W -f='\${Conffiles}' postern" | awk 'NF { print $1 }' | sort | tr '\n' ' ')" \
	"/etc/postern/main.cf /etc/postern/master.cf " "dpkg records main.cf and master.cf as conffiles"
is "$(readlink "$R/etc/systemd/system/multi-user.target.wants/postern.service")" \
	"/lib/systemd/system/postern.service" "the service is enabled (multi-user.target.wants)"
is "$(root_pids)" "" "nothing was started (policy-rc.d)"
like "$(cat "$R/etc/aliases" 2>&1)" $'\npostmaster: +root' \
	"postinst: /etc/aliases (absent before) sends postmaster to root"
is "$(in_root 'postalias -q postmaster hash:/etc/aliases' 2>&1)" "root" \
	"... and newaliases built its table"
chk=$(in_root 'postern check' 2>&1)
ok $? "postern check passes on the installed default configuration" || diag "$chk"

# 7. the installed server, started as the unit starts it
UNIT=$R/lib/systemd/system/postern.service
EXEC=$(sed -n 's/^ExecStart=[-@+!:]*//p' "$UNIT" | head -1)
like "$EXEC" '^/usr/' "the unit's ExecStart line: $EXEC"
PRE=$(sed -n 's/^ExecStartPre=[-@+!:]*//p' "$UNIT")
# Free loopback ports for every inet service of the installed master.cf
# (postconf edits main.cf only; the ports are in master.cf's first column).
MC=$R/etc/postern/master.cf
SMTP_PORT=
awkprog='!/^[[:space:]#]/ && $2 == "inet" { print $1 }'
for svc in $(awk "$awkprog" "$MC"); do
	p=$(free_port 28200 28299) || { fail "a free port in 28200-28299"; break; }
	# hold it by its use in master.cf; the next free_port skips nothing
	# listening yet, so take the next one by hand when equal
	while grep -q "127.0.0.1:$p " "$MC"; do p=$((p + 1)); done
	sed -i "s|^$svc\([[:space:]][[:space:]]*inet[[:space:]]\)|127.0.0.1:$p\1|" "$MC"
	case $svc in smtp|*:25|25|*:smtp) SMTP_PORT=$p ;; esac
done
isnt "$SMTP_PORT" "" "master.cf's smtp service moved to 127.0.0.1:$SMTP_PORT"
# One virtual mailbox, in the installed configuration's own terms.
printf 'user@example.com example.com/user/\n' > "$R/etc/postern/vmailbox"
in_root 'postmap lmdb:/etc/postern/vmailbox && postconf -e \
	"inet_interfaces = 127.0.0.1" "maillog_file = /var/log/postern.log" \
	"virtual_mailbox_domains = example.com" \
	"virtual_mailbox_maps = lmdb:/etc/postern/vmailbox"' 2>&1
ok $? "postmap and postconf -e inside the root: a mailbox user@example.com"
pre_ok=0
while IFS= read -r c; do
	[ -n "$c" ] || continue
	out=$(in_root "$c" 2>&1) || { pre_ok=1; diag "$c: $out"; }
done <<<"$PRE"
ok $pre_ok "the unit's ExecStartPre lines pass: ${PRE//$'\n'/; }"
setsid chroot "$R" /usr/bin/env -i LANG=C.UTF-8 \
	PATH=/usr/sbin:/usr/bin:/sbin:/bin $EXEC \
	> "$WORK/server.out" 2>&1 < /dev/null &
MASTER=$!
for _ in $(seq 1 100); do
	[ -n "$SMTP_PORT" ] || break
	ss -ltn "sport = :$SMTP_PORT" | grep -q LISTEN && break
	kill -0 "$MASTER" 2>/dev/null || break
	sleep 0.2
done
[ -n "$SMTP_PORT" ] && ss -ltn "sport = :$SMTP_PORT" | grep -q LISTEN
ok $? "the installed master listens on 127.0.0.1:$SMTP_PORT" ||
	diag "$(cat "$WORK/server.out" "$R/var/log/postern.log" 2>&1 | tail -20)"

TOKEN=deb-$$-$RANDOM
send() {
	swaks --server 127.0.0.1:$SMTP_PORT --helo client.example.org \
		--from alice@example.org --to user@example.com \
		--header "Subject: $TOKEN" --body "body $TOKEN" --timeout 20 2>&1
}
out=$(send)
# postscreen's after-220 tests answer a new client 450 once (as make run)
grep -q '450 4.3.2' <<<"$out" && out=$(send)
like "$out" $'\n<- +250 2\\.0\\.0 Ok: queued' "swaks from the host: 250 queued" ||
	diag "$out"
MD=$R/var/vmail/example.com/user/new
for _ in $(seq 1 100); do
	[ -n "$(ls "$MD" 2>/dev/null)" ] && break
	sleep 0.2
done
msg=$(cat "$MD"/* 2>/dev/null)
like "$msg" $'\nSubject: '"$TOKEN"$'\n' "the message is in user@example.com's Maildir ..."
like "$msg" $'\n\nbody '"$TOKEN"$'\n?$' "... with its body"
like "$msg" 'Received: from client\.example\.org' "... and smtpd's Received: header"
is "$(in_root 'stat -c %U /var/vmail/example.com/user/new/*' 2>&1 | sort -u)" "vmail" \
	"... owned by vmail"
kill -TERM "$MASTER"
for _ in $(seq 1 150); do
	kill -0 "$MASTER" 2>/dev/null || break
	sleep 0.2
done
! kill -0 "$MASTER" 2>/dev/null
ok $? "master stops on SIGTERM (by PID)"
wait "$MASTER" 2>/dev/null
MASTER=
is "$(root_pids)" "" "nothing of the server still runs in the root"
# mailbox_same - the Maildir holds exactly the message delivered above
mailbox_same() {
	[ -n "$msg" ] && [ "$(cat "$MD"/* 2>/dev/null)" = "$msg" ]
}

# 8. mail queued while the server is stopped
echo "queued after stop" | in_root 'sendmail -f root user@example.com' 2>&1
ok $? "sendmail queues one message while the server is stopped"
queued=$(ls "$R/var/spool/postern/maildrop")
isnt "$queued" "" "... in maildrop/"

# 9. dpkg -i again (a reinstall, as an upgrade runs the same scripts):
# the edited conffiles, the queued mail and the users stay
out=$(in_root 'cd /tmp && dpkg -i postern_*.deb' 2>&1)
ok $? "dpkg -i again over the installed package" || diag "$out"
unlike "$out" 'Configuration file' "... asks nothing about the conffiles"
like "$(cat "$R/etc/postern/main.cf")" $'\nvirtual_mailbox_maps = lmdb:/etc/postern/vmailbox' \
	"... keeps the edited main.cf"
like "$(cat "$R/etc/postern/master.cf")" $'\n127\\.0\\.0\\.1:'"$SMTP_PORT"' ' \
	"... and master.cf"
is "$(ls "$R/var/spool/postern/maildrop")" "$queued" "... and the queued mail"
is "$(root_pids)" "" "... and starts nothing (policy-rc.d)"

# 10. dpkg -r: configuration, queue (and its mail), data, users, mail stay
out=$(in_root 'dpkg -r postern' 2>&1)
ok $? "dpkg -r postern" || diag "$out"
gone=
for p in /usr/sbin/postern /usr/sbin/sendmail /usr/lib/postern/master \
    /usr/sbin/mailq /lib/systemd/system/postern.service; do
	[ -e "$R$p" ] || [ -L "$R$p" ] && gone+=" $p"
done
is "$gone" "" "remove: the programs, links and unit are gone"
kept=
for p in /etc/postern/main.cf /etc/postern/master.cf /etc/postern/vmailbox \
    /var/spool/postern/incoming /var/lib/postern "/var/spool/postern/maildrop/$queued"; do
	[ -e "$R$p" ] || kept+=" $p"
done
is "$kept" "" "remove: configuration, queue, queued mail, data stay"
mailbox_same
ok $? "remove: the mailbox is untouched"
ok "$(in_root 'getent passwd postern >/dev/null && getent passwd vmail >/dev/null'; echo $?)" \
	"remove: the users stay"
like "$(in_root "dpkg-query -W -f='\${Status}' postern")" 'deinstall ok config-files' \
	"dpkg: postern config-files"

# 11. dpkg -P: what the package made goes; mailboxes stay
out=$(in_root 'dpkg -P postern' 2>&1)
ok $? "dpkg -P postern" || diag "$out"
left=
for p in /etc/postern /var/spool/postern /var/lib/postern; do
	[ -e "$R$p" ] && left+=" $p"
done
is "$left" "" "purge: /etc/postern, the queue and /var/lib/postern are gone"
in_root 'getent passwd postern || getent group postern' >/dev/null
ok "$([ $? != 0 ]; echo $?)" "purge: user and group postern are gone"
like "$(in_root 'getent passwd vmail')" '^vmail:x:5000:' \
	"purge: vmail, which owns the mailboxes, stays"
mailbox_same
ok $? "purge: the mailbox is untouched"
is "$(cat "$R/var/mail/someone")" "untouched" "purge: /var/mail is untouched"
ok "$([ -f "$R/etc/aliases" ] && [ ! -e "$R/etc/aliases.lmdb" ]; echo $?)" \
	"purge: /etc/aliases.lmdb is gone, /etc/aliases (any MTA's) stays"
is "$(readlink "$R/etc/systemd/system/multi-user.target.wants/postern.service")" "" \
	"purge: the service's enable link is gone"
is "$(in_root "dpkg-query -W -f='\${Status}' postern" 2>/dev/null)" "" \
	"dpkg: postern unknown after purge"

# 12. Another MTA installed: dpkg -i refuses (Conflicts on the virtual
# mail-transport-agent), apt replaces it (from the local file: the
# Depends are installed, nothing is fetched; a dead proxy makes sure)
mkdir -p "$WORK/other/DEBIAN"
printf '%s\n' 'Package: othermta' 'Version: 1.0' 'Architecture: all' \
	'Maintainer: Test <test@example.org>' \
	'Provides: mail-transport-agent' 'Conflicts: mail-transport-agent' \
	'Replaces: mail-transport-agent' 'Description: another MTA' \
	' a stand-in for postfix or exim4' > "$WORK/other/DEBIAN/control"
dpkg-deb -b --root-owner-group "$WORK/other" "$R/tmp/othermta_1.0_all.deb" >/dev/null &&
	in_root 'dpkg -i /tmp/othermta_1.0_all.deb' >/dev/null 2>&1
ok $? "another MTA (Provides mail-transport-agent) installs in the root"
out=$(in_root 'cd /tmp && dpkg -i postern_*.deb' 2>&1)
st=$?
like "$st $out" '^[1-9].*conflicting packages - not installing postern' \
	"dpkg -i postern refuses while it is installed"
out=$(in_root 'cd /tmp && apt-get install -y -q -o Acquire::http::Proxy=http://127.0.0.1:9 ./postern_*.deb' 2>&1)
ok $? "apt-get install ./postern_*.deb replaces it" || diag "$out"
is "$(in_root "dpkg-query -W -f='\${Status}' othermta" 2>/dev/null)/$(in_root "dpkg-query -W -f='\${Status}' postern" 2>/dev/null)" \
	"/install ok installed" "... othermta removed, postern installed"
in_root 'dpkg -P postern' >/dev/null 2>&1

is "$(root_pids)" "" "no process remains in the root"

done_testing
