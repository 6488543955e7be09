#!/bin/sh
# NAME
#	run.sh - "make run": a demo instance of postern under ./run
# SYNOPSIS
#	sh etc/run.sh
#	POSTERN_SMTP_PORT=2525 POSTERN_SUBMISSION_PORT=2587
#	POSTERN_BIN=build/release/bin (the programs to run)
#	POSTERN_RUN_DIR=./run (tests use their own; as root, when the
#	postern user cannot enter the checkout, e.g. one in root's 0700
#	home, the default is /var/lib/postern-demo instead)
# DESCRIPTION
#	The first time, it creates ./run (git-ignored):
#	  run/etc/	main.cf and master.cf from etc/, a self-signed
#			certificate (cert.pem, key.pem), the LMDB maps:
#			virtual_domains (example.com), virtual_mailboxes
#			(user1@example.com, user2@example.com),
#			virtual_aliases (postmaster@, abuse@ -> user1),
#			aliases (root -> user1@example.com), empty
#			canonical/sender_canonical/generic/relay_password,
#			virtual_passwords ("address {SHA512-CRYPT}$6$...",
#			smtpd_sasl_password_maps), sender_logins (each
#			address owned by its own login,
#			smtpd_sender_login_maps), postscreen_access.cidr
#	  run/demo-credentials	"address password" per mailbox (random)
#	  run/queue, run/data, run/mail (the Maildirs, owned by vmail)
#	The first run also sets the paths in run/etc/main.cf with
#	postconf -e (queue_directory, data_directory, daemon_directory,
#	virtual_mailbox_base, virtual_uid/gid_maps, maillog_file =
#	/dev/stdout) and makes run/etc/master.cf from etc/master.cf with
#	the ports. A later run keeps the administrator's edits to both:
#	it changes a path only if it must (another POSTERN_BIN, another
#	user) and a port field only if POSTERN_*_PORT changed (remembered
#	in run/.ports), and says so for each. Then master runs in the
#	foreground (log on the terminal and appended to run/maillog); the
#	banner shows how to run postqueue, postsuper and postern against
#	it. Ctrl-C stops everything. Delete run/ for a fresh instance.
#
#	As root the daemons run as the postern user (tools/install-deps
#	creates it, and vmail), so run/ must be reachable by it.
# DIAGNOSTICS
#	Exits non-zero with a message if something is missing.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${POSTERN_BIN:-$TOP/build/release/bin}
case $BIN in /*) ;; *) BIN=$TOP/$BIN ;; esac
RUN=${POSTERN_RUN_DIR:-$TOP/run}
# A checkout in root's home (0700 on Debian) cannot be entered by the
# postern user the daemons run as: keep the instance outside it then.
if [ -z "${POSTERN_RUN_DIR:-}" ] && [ "$(id -u)" = 0 ] &&
    getent passwd postern >/dev/null &&
    ! runuser -u postern -- test -x "$TOP" 2>/dev/null; then
	RUN=/var/lib/postern-demo
	echo "run.sh: the postern user cannot enter $TOP;" \
		"the demo instance lives in $RUN"
fi
ETC=$RUN/etc
SMTP_PORT=${POSTERN_SMTP_PORT:-2525}
SUB_PORT=${POSTERN_SUBMISSION_PORT:-2587}

die() {
	echo "run.sh: $*" >&2
	exit 1
}

for p in master postern postconf postmap postalias smtpd; do
	[ -x "$BIN/$p" ] || die "$BIN/$p is missing: run make first"
done

if [ "$(id -u)" = 0 ]; then
	getent passwd postern >/dev/null ||
		die "no postern user: run sh tools/install-deps"
	VUID=$(id -u vmail) || die "no vmail user: run sh tools/install-deps"
	VGID=$(id -g vmail)
else
	VUID=$(id -u)
	VGID=$(id -g)
fi

# randpw - a random password (letters and digits)
randpw() {
	head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16
}

# create - the instance, once
create() {
	echo "run.sh: creating the demo instance in $RUN"
	mkdir -p "$ETC" "$RUN/queue" "$RUN/data" "$RUN/mail"
	cp "$TOP/etc/main.cf" "$ETC/main.cf"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
		-subj /CN=server.example.com \
		-addext subjectAltName=DNS:server.example.com,DNS:localhost \
		-keyout "$ETC/key.pem" -out "$ETC/cert.pem" >/dev/null 2>&1 ||
		die "openssl req failed"
	chmod 644 "$ETC/cert.pem"
	chmod 640 "$ETC/key.pem"
	[ "$(id -u)" = 0 ] && chgrp postern "$ETC/key.pem"

	printf 'example.com OK\n' > "$ETC/virtual_domains"
	: > "$ETC/virtual_mailboxes"
	: > "$ETC/virtual_passwords"
	: > "$ETC/sender_logins"
	: > "$RUN/demo-credentials"
	for u in user1 user2; do
		pw=$(randpw)
		printf '%s@example.com example.com/%s/\n' $u $u \
			>> "$ETC/virtual_mailboxes"
		printf '%s@example.com {SHA512-CRYPT}%s\n' $u \
			"$(openssl passwd -6 "$pw")" >> "$ETC/virtual_passwords"
		printf '%s@example.com %s\n' $u "$pw" >> "$RUN/demo-credentials"
		printf '%s@example.com %s@example.com\n' $u $u \
			>> "$ETC/sender_logins"
	done
	chmod 600 "$RUN/demo-credentials"
	chmod 640 "$ETC/virtual_passwords"
	[ "$(id -u)" = 0 ] && chgrp postern "$ETC/virtual_passwords"
	printf 'postmaster@example.com user1@example.com\n' > "$ETC/virtual_aliases"
	printf 'abuse@example.com user1@example.com\n' >> "$ETC/virtual_aliases"
	printf 'postmaster: root\nroot: user1@example.com\n' > "$ETC/aliases"
	: > "$ETC/canonical"
	: > "$ETC/sender_canonical"
	: > "$ETC/generic"
	: > "$ETC/relay_password"
	printf '# postscreen_access_list: cidr_table(5)\n' \
		> "$ETC/postscreen_access.cidr"
	for m in virtual_domains virtual_mailboxes virtual_aliases \
	    virtual_passwords sender_logins canonical sender_canonical generic \
	    relay_password; do
		"$BIN/postmap" -c "$ETC" "lmdb:$ETC/$m" ||
			die "postmap $ETC/$m failed"
	done
	"$BIN/postalias" -c "$ETC" "lmdb:$ETC/aliases" ||
		die "postalias $ETC/aliases failed"
	touch "$RUN/.created"
}

[ -f "$RUN/.created" ] || create

# main.cf: the first run sets what the demo needs; a later run keeps the
# administrator's edits and changes only a path that must follow this
# checkout or user (e.g. another POSTERN_BIN), saying so.
setconf() {
	for nv in "$@"; do
		name=${nv%%=*}
		[ "$("$BIN/postconf" -c "$ETC" -h "$name" 2>/dev/null)" = "${nv#*=}" ] &&
			continue
		[ -f "$RUN/.configured" ] &&
			echo "run.sh: $ETC/main.cf: setting $nv (it was" \
				"\"$("$BIN/postconf" -c "$ETC" -h "$name" 2>/dev/null)\")"
		"$BIN/postconf" -c "$ETC" -e "$nv" || die "postconf -e $nv failed"
	done
}
setconf "queue_directory=$RUN/queue" \
	"data_directory=$RUN/data" \
	"daemon_directory=$BIN" \
	"virtual_mailbox_base=$RUN/mail" \
	"virtual_uid_maps=static:$VUID" \
	"virtual_gid_maps=static:$VGID"

# master.cf: made once from etc/master.cf; a later run changes only the
# two port fields, and only when POSTERN_*_PORT differ from the last run.
if [ ! -f "$RUN/.configured" ]; then
	"$BIN/postconf" -c "$ETC" -e "maillog_file=/dev/stdout" ||
		die "postconf -e failed"
	awk -v smtp="127.0.0.1:$SMTP_PORT" -v subm="127.0.0.1:$SUB_PORT" '
		$0 !~ /^[ \t#]/ && $2 == "inet" && $1 == "127.0.0.1:2525" {
			sub(/^[^ \t]+/, smtp)
		}
		$0 !~ /^[ \t#]/ && $2 == "inet" && $1 == "127.0.0.1:2587" {
			sub(/^[^ \t]+/, subm)
		}
		{ print }' "$TOP/etc/master.cf" > "$ETC/master.cf"
	if [ ! -x "$BIN/postscreen" ]; then
		# Until postscreen exists, smtpd takes the port-25 role itself.
		sed -i 's/^\(127\.0\.0\.1:[0-9]*[ \t]*inet.*[ \t]\)postscreen$/\1smtpd/' \
			"$ETC/master.cf"
	fi
	echo "$SMTP_PORT $SUB_PORT" > "$RUN/.ports"
	touch "$RUN/.configured"
else
	read -r OLD_SMTP OLD_SUB < "$RUN/.ports" || die "$RUN/.ports is unreadable"
	for pair in "$OLD_SMTP:$SMTP_PORT" "$OLD_SUB:$SUB_PORT"; do
		old=${pair%%:*} new=${pair#*:}
		[ "$old" = "$new" ] && continue
		echo "run.sh: $ETC/master.cf: service 127.0.0.1:$old is now" \
			"127.0.0.1:$new (POSTERN_*_PORT changed); nothing else changed"
		awk -v old="127.0.0.1:$old" -v new="127.0.0.1:$new" '
			$0 !~ /^[ \t#]/ && $2 == "inet" && $1 == old {
				sub(/^[^ \t]+/, new)
			}
			{ print }' "$ETC/master.cf" > "$ETC/master.cf.new" &&
			mv "$ETC/master.cf.new" "$ETC/master.cf"
	done
	echo "$SMTP_PORT $SUB_PORT" > "$RUN/.ports"
	echo "run.sh: reusing $RUN: your edits to $ETC/main.cf and master.cf" \
		"are kept (delete $RUN for a fresh instance)"
fi

chmod 755 "$RUN" "$ETC"
if [ "$(id -u)" = 0 ]; then
	chown "$VUID:$VGID" "$RUN/mail"
	chmod 700 "$RUN/mail"
	runuser -u postern -- test -r "$ETC/main.cf" ||
		die "the postern user cannot read $ETC (check the modes of" \
		    "$TOP and its parents)"
fi

"$BIN/postern" -c "$ETC" status >/dev/null 2>&1 &&
	die "an instance is already running on $RUN (stop it with:" \
	    "$BIN/postern -c $ETC stop)"

cat <<EOF

postern demo instance: $RUN
  port-25 role (postscreen -> smtpd): 127.0.0.1:$SMTP_PORT
  submission (STARTTLS + AUTH, as the seed): 127.0.0.1:$SUB_PORT
  mailboxes and passwords: $RUN/demo-credentials
  Maildirs: $RUN/mail/example.com/user1/ and .../user2/
  log: this terminal, and $RUN/maillog

Try:
  swaks --server 127.0.0.1:$SMTP_PORT --helo client.example.org \\
        --from alice@example.org --to user1@example.com
  ls $RUN/mail/example.com/user1/new/
(A client postscreen has not seen before gets "450 4.3.2" after its first
RCPT, as with Postfix's after-220 tests; it passes on the next try.)
A relay attempt is refused, as a public MX refuses a stranger:
  swaks --server 127.0.0.1:$SMTP_PORT --helo client.example.org \\
        --from alice@example.org --to bob@example.net
Submission: STARTTLS, then AUTH with a line of demo-credentials; a login
may send only as its own address:
  swaks --server 127.0.0.1:$SUB_PORT -tls --auth PLAIN \\
        --auth-user user1@example.com --auth-password "\$(awk '/^user1/ {print \$2}' $RUN/demo-credentials)" \\
        --from user1@example.com --to user2@example.com
The queue and the control commands, against this instance (-c, or
export MAIL_CONFIG=$ETC once):
  $BIN/postqueue -c $ETC -p
  $BIN/postsuper -c $ETC -d ALL deferred
  $BIN/postern -c $ETC status
  $BIN/postconf -c $ETC -n
Ctrl-C stops everything.

EOF
# tee -i: keep logging while master shuts down after Ctrl-C.
"$BIN/master" -c "$ETC" -d 2>&1 | tee -i -a "$RUN/maillog"
