# NAME
#	mariadb.sh - a private MariaDB server for integration tests
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/mariadb.sh"
#
#	mariadb_start DIR [PORT]  initialise DIR/data (mariadb-install-db),
#				start mariadbd on 127.0.0.1:PORT (a free port
#				if none is given) and DIR/mysql.sock, wait
#				until it answers (an existing DIR/data is
#				reused: a restart); sets MARIADB_PID,
#				MARIADB_PORT, MARIADB_SOCKET, MARIADB_DIR
#	mariadb_load_seed	database mailserver, the seed schema
#				(etc/sql/mailserver-tables.sql), user
#				mailuser@127.0.0.1 and @localhost with
#				password $MARIADB_PASSWORD (SELECT only), and
#				rows: domain example.org, user
#				john@example.org (password hash of "secret"),
#				alias jack@example.org -> john@example.org
#	mariadb_sql "SQL"	run SQL as root in database mailserver (if it
#				exists); prints the result tab-separated,
#				without column names
#	mariadb_stop		stop the server (kill by PID, wait for exit)
#	mariadb_restart		stop and start again on the same port, datadir
#				and socket (a "dropped connection" for clients)
#	mariadb_cf FILE QUERY	write a Postfix mysql_table(5) .cf file for
#				the mailuser account over TCP
# DESCRIPTION
#	The server runs with --no-defaults (no /etc/mysql config), as
#	the invoking user (--user=root when run as root), networking on
#	127.0.0.1 only, no name resolution, small InnoDB files. The server does not inherit the
#	test's file descriptors 3-9 (a fifo the test holds open stays
#	closable). Call mariadb_stop from the test's trap. Its error log
#	is DIR/mariadb.err.
# DIAGNOSTICS
#	mariadb_start returns 1 and prints the error log on stderr when the
#	datadir cannot be initialised or the server does not answer within
#	30 seconds. The other functions return the mariadb client's status.

MARIADB_PID=
MARIADB_PORT=
MARIADB_SOCKET=
MARIADB_DIR=
MARIADB_PASSWORD=${MARIADB_PASSWORD:-mailpass-Test1}
export MARIADB_PORT MARIADB_SOCKET MARIADB_PASSWORD

# mariadb_free_port - a TCP port nobody listens on right now
mariadb_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# mariadb_launch - start mariadbd in the background (datadir exists)
mariadb_launch() {
	mariadbd --no-defaults --user="$(id -un)" \
		--datadir="$MARIADB_DIR/data" \
		--socket="$MARIADB_SOCKET" --port="$MARIADB_PORT" \
		--bind-address=127.0.0.1 --skip-name-resolve \
		--pid-file="$MARIADB_DIR/mariadb.pid" \
		--log-error="$MARIADB_DIR/mariadb.err" \
		--innodb-buffer-pool-size=32M --innodb-log-file-size=8M \
		--skip-log-bin --max-connections=200 \
		>>"$MARIADB_DIR/mariadb.out" 2>&1 </dev/null \
		3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	MARIADB_PID=$!
}

# mariadb_wait - wait until the server answers (30 s)
mariadb_wait() {
	local i
	for i in $(seq 300); do
		if mariadb --no-defaults -uroot --socket="$MARIADB_SOCKET" \
			-e 'SELECT 1' >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$MARIADB_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "mariadb.sh: MariaDB did not start (port $MARIADB_PORT):" >&2
	tail -n 30 "$MARIADB_DIR/mariadb.err" >&2 2>/dev/null
	return 1
}

# mariadb_start - initialise a private datadir and start the server
mariadb_start() {
	MARIADB_DIR=$1
	MARIADB_PORT=${2:-$(mariadb_free_port)}
	MARIADB_SOCKET=$MARIADB_DIR/mysql.sock
	export MARIADB_PORT MARIADB_SOCKET
	mkdir -p "$MARIADB_DIR"
	if [ -d "$MARIADB_DIR/data/mysql" ]; then
		# An existing datadir (a restart): keep its data.
		mariadb_launch
		mariadb_wait
		return
	fi
	if ! mariadb-install-db --no-defaults \
		--auth-root-authentication-method=normal --user="$(id -un)" \
		--datadir="$MARIADB_DIR/data" --skip-test-db \
		--skip-name-resolve \
		--innodb-log-file-size=8M \
		>"$MARIADB_DIR/install.log" 2>&1; then
		echo "mariadb.sh: mariadb-install-db failed:" >&2
		# the server's own reason comes first in the log, its
		# generic advice (the last 25 lines) after it
		grep -E '\[(ERROR|Warning)\]|error' "$MARIADB_DIR/install.log" |
			head -n 20 >&2
		tail -n 30 "$MARIADB_DIR/install.log" >&2
		return 1
	fi
	mariadb_launch
	mariadb_wait
}

# mariadb_client - the mariadb client as root over the socket
mariadb_client() {
	mariadb --no-defaults -uroot --socket="$MARIADB_SOCKET" "$@"
}

# mariadb_sql - run SQL (in mailserver if it exists)
mariadb_sql() {
	local db=
	if mariadb_client -N -B -e 'SHOW DATABASES' 2>/dev/null |
		grep -qx mailserver; then
		db=mailserver
	fi
	mariadb_client -N -B ${db:+"$db"} -e "$1"
}

# mariadb_load_seed - schema, user and a few rows
mariadb_load_seed() {
	local top=${POSTERN_TOP:-.}
	mariadb_client -e "CREATE DATABASE IF NOT EXISTS mailserver;
		CREATE USER IF NOT EXISTS 'mailuser'@'127.0.0.1'
			IDENTIFIED BY '$MARIADB_PASSWORD';
		CREATE USER IF NOT EXISTS 'mailuser'@'localhost'
			IDENTIFIED BY '$MARIADB_PASSWORD';
		GRANT SELECT ON mailserver.* TO 'mailuser'@'127.0.0.1';
		GRANT SELECT ON mailserver.* TO 'mailuser'@'localhost';
		FLUSH PRIVILEGES;" || return 1
	mariadb_client mailserver \
		<"$top/etc/sql/mailserver-tables.sql" || return 1
	mariadb_client mailserver -e "
		INSERT INTO virtual_domains (id, name)
			VALUES (1, 'example.org');
		INSERT INTO virtual_users (domain_id, password, email)
			VALUES (1, MD5('secret'), 'john@example.org');
		INSERT INTO virtual_aliases (domain_id, source, destination)
			VALUES (1, 'jack@example.org', 'john@example.org');"
}

# mariadb_stop - stop the server by PID and wait for it
mariadb_stop() {
	local i
	[ -n "$MARIADB_PID" ] || return 0
	kill "$MARIADB_PID" 2>/dev/null
	for i in $(seq 300); do
		kill -0 "$MARIADB_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$MARIADB_PID" 2>/dev/null; then
		kill -9 "$MARIADB_PID" 2>/dev/null
	fi
	wait "$MARIADB_PID" 2>/dev/null
	MARIADB_PID=
	return 0
}

# mariadb_restart - stop and start on the same port and datadir
mariadb_restart() {
	mariadb_stop
	mariadb_launch
	mariadb_wait
}

# mariadb_cf - a mysql_table(5) file for the seed's mailuser over TCP
mariadb_cf() {
	cat >"$1" <<EOF
user = mailuser
password = $MARIADB_PASSWORD
hosts = inet:127.0.0.1:$MARIADB_PORT
dbname = mailserver
query = $2
EOF
}
