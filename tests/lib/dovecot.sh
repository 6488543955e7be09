# NAME
#	dovecot.sh - a private Dovecot auth server for integration tests
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/dovecot.sh"
#
#	dovecot_conf DIR SOCKET PASSDB_DRIVER PASSDB_ARGS
#				write DIR/dovecot.conf: no mail protocols, no
#				listeners but the auth socket SOCKET (mode
#				0666), base_dir and logs under DIR, the seed's
#				auth_mechanisms = plain and userdb static
#				(later/auth-sql.conf.ext), the given passdb
#				(e.g. "passwd-file" "scheme=SHA512-CRYPT
#				DIR/passwd", or "sql" "DIR/dovecot-sql.conf.ext")
#	dovecot_lmtp_conf DIR SOCKET MAILBASE UID GID QUOTA PASSDB_DRIVER
#	    PASSDB_ARGS		write DIR/dovecot.conf for LMTP delivery (the
#				seed's later/10-master.conf "service lmtp"):
#				protocols = lmtp, the listener SOCKET (mode
#				0600, user postern, as the seed's is for
#				postfix), the seed's userdb static with home=
#				MAILBASE/%d/%n (uid UID, gid GID; users must
#				exist in the passdb: allow_all_users=no), the
#				given passdb (the seed's: "sql"
#				"DIR/dovecot-sql.conf.ext"), mail_location
#				maildir:~ (postern virtual's layout), the quota
#				plugin (maildir++ quota, QUOTA e.g. 10K per
#				user), no auth socket
#	dovecot_sql_conf FILE	the seed's later/dovecot-sql.conf.ext for the
#				private MariaDB (tests/lib/mariadb.sh): driver
#				mysql, default_pass_scheme SHA512-CRYPT, the
#				seed's password_query
#	dovecot_start DIR	start "dovecot -F -c DIR/dovecot.conf" in the
#				background (DOVECOT_PID) and wait until the
#				auth socket exists
#	dovecot_stop		stop it and its children by PID, wait for them
# DESCRIPTION
#	As root the auth processes run as root; the files under DIR are
#	readable by them. No dovecot service of the system is involved
#	(a private base_dir, instance_name and config). auth_failure_delay
#	is 0 so that failures answer at once. Log: DIR/dovecot.log.
# DIAGNOSTICS
#	dovecot_start returns 1 (and prints the log) when the socket does
#	not appear within 15 seconds.

. "${BASH_SOURCE[0]%/*}/wait.sh"	# sock_listening

DOVECOT_PID=
DOVECOT_DIR=

dovecot_conf() {
	local dir=$1 sock=$2 driver=$3 args=$4 user
	user=$(id -un)
	mkdir -p "$dir/run"
	cat >"$dir/dovecot.conf" <<CONF
instance_name = postern-test-$$
base_dir = $dir/run
state_dir = $dir/run
log_path = $dir/dovecot.log
protocols =
ssl = no
default_internal_user = $user
default_login_user = $user
auth_mechanisms = plain
auth_failure_delay = 0
auth_verbose = yes
passdb {
  driver = $driver
  args = $args
}
userdb {
  driver = static
  args = uid=vmail gid=vmail home=/var/vmail/%d/%n allow_all_users=yes
}
service auth {
  unix_listener $sock {
    mode = 0666
  }
}
service auth-worker {
  user = $user
}
service anvil {
  chroot =
}
CONF
}

dovecot_lmtp_conf() {
	local dir=$1 sock=$2 base=$3 uid=$4 gid=$5 quota=$6 driver=$7 args=$8
	local user
	user=$(id -un)
	mkdir -p "$dir/run"
	cat >"$dir/dovecot.conf" <<CONF
instance_name = postern-lmtp-$$
base_dir = $dir/run
state_dir = $dir/run
log_path = $dir/dovecot.log
protocols = lmtp
ssl = no
default_internal_user = $user
default_login_user = $user
first_valid_uid = 1
mail_location = maildir:~
mail_plugins = quota
passdb {
  driver = $driver
  args = $args
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$base/%d/%n allow_all_users=no
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=$quota
}
service lmtp {
  unix_listener $sock {
    mode = 0600
    user = postern
  }
}
service anvil {
  chroot =
}
CONF
}

dovecot_sql_conf() {
	cat >"$1" <<CONF
driver = mysql
connect = host=127.0.0.1 port=$MARIADB_PORT dbname=mailserver user=mailuser password=$MARIADB_PASSWORD
default_pass_scheme = SHA512-CRYPT
password_query = SELECT email as user, password FROM virtual_users WHERE email='%u';
CONF
}

dovecot_start() {
	local i sock
	DOVECOT_DIR=$1
	sock=$(sed -n 's/^  unix_listener \(.*\) {$/\1/p' "$DOVECOT_DIR/dovecot.conf")
	rm -f "$sock"	# a stale socket must not look like a started server
	dovecot -F -c "$DOVECOT_DIR/dovecot.conf" \
		>>"$DOVECOT_DIR/dovecot.out" 2>&1 </dev/null &
	DOVECOT_PID=$!
	for i in $(seq 150); do
		# listening, not only bound (no probe connection: Dovecot
		# logs each one)
		sock_listening "$sock" && return 0
		kill -0 "$DOVECOT_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "dovecot.sh: dovecot did not start:" >&2
	cat "$DOVECOT_DIR/dovecot.out" "$DOVECOT_DIR/dovecot.log" >&2 2>/dev/null
	return 1
}

dovecot_stop() {
	local i p children
	[ -n "$DOVECOT_PID" ] || return 0
	# Its children (auth, log, anvil...) by PID: an auth process that
	# outlives master would keep answering old connections.
	children=$(pgrep -P "$DOVECOT_PID")
	kill "$DOVECOT_PID" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$DOVECOT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$DOVECOT_PID" 2>/dev/null && kill -9 "$DOVECOT_PID" 2>/dev/null
	wait "$DOVECOT_PID" 2>/dev/null
	for p in $children; do
		kill "$p" 2>/dev/null
		for i in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
	done
	DOVECOT_PID=
	return 0
}
