# NAME
#	lib.sh - shared setup for the benchmarks (postern and real Postfix)
# SYNOPSIS
#	. "$POSTERN_TOP/tests/bench/lib.sh"
#
#	bench_mariadb			private MariaDB, seed schema, the
#					recipient bench@example.org
#	bench_postern_start PORT	a postern instance from the seed,
#					postscreen in front of smtpd on PORT
#	bench_postern_stop
#	bench_postfix_start PORT	a private Postfix 3.x instance,
#					postscreen in front of smtpd on PORT,
#					same maps and policy
#	bench_postfix_stop
#	bench_pss PID			total PSS (kB) of PID and its
#					descendants
#	bench_cpu PID...		CPU ticks (utime+stime+cutime+
#					cstime, /proc/PID/stat) of each PID
#					and its descendants, summed
#	bench_count DIR			files in a Maildir's new/
#	bench_cleanup			for trap EXIT: stop everything
#
#	BENCH_PT_CONF: extra name=value settings (space-separated) for
#	postern, e.g. "max_use=100000", to measure a tuning.
# DESCRIPTION
#	Both MTAs get the same workload and the same policy: the seed's
#	restrictions (its HELO restrictions without
#	reject_unknown_helo_hostname, which needs DNS; its
#	smtpd_data_restrictions; permit_mynetworks /
#	reject_unauth_destination for
#	relay, the seed's smtpd_recipient_restrictions, unlisted
#	recipients rejected through the MySQL maps), mynetworks =
#	127.0.0.1/32 (the load generator connects from 127.1.x.y and up,
#	so it is a stranger to postscreen and smtpd, as a public MX's
#	senders are), TLS offered (may) with the same certificate,
#	virtual_mailbox_maps / virtual_alias_maps / virtual_mailbox_domains
#	in the one private MariaDB, Maildir delivery under vmail's uid with
#	fsync, no DNS (postern: resolver_nameservers = 127.0.0.1:9,
#	smtpd_peername_lookup = no; Postfix: disable_dns_lookups = yes,
#	smtpd_peername_lookup = no). Both put postscreen in front of smtpd
#	on the port, with the seed's postscreen settings (greet action
#	enforce, greet wait BENCH_GREET_WAIT seconds (default 6, the
#	seed's), the pipelining, non-SMTP command and bare newline tests
#	after the 220, no DNSBL); Postfix gets its own postscreen, smtpd
#	pass service, dnsblog and tlsproxy, as its master.cf's commented
#	lines have them. A client passes once (greet wait, then the deep
#	tests' 4xx and a reconnect) and is then in postscreen's cache, as
#	a public MX's regular senders are: the throughput figures measure
#	cached clients (run.sh warms each source address up first), the
#	idle figures new ones.
#	Both have postscreen_pre_queue_limit and postscreen_post_queue_limit
#	raised to 30000: an idle client that passed the greet wait sits in
#	postscreen's dummy SMTP engine (the deep tests) and counts against
#	the pre-queue limit, which defaults to default_process_limit (1200
#	here): 10,000 idle sessions need the limits raised, as the issue's
#	"with every limit raised" says.
#
#	Postfix's virtual(8) needs the mailbox path from the map, so its
#	virtual_mailbox_maps query returns "domain/user/" where the seed's
#	returns 1 (postern derives domain/user/ from that 1): one indexed
#	SELECT either way.
#
#	Everything lives under $BENCH_DIR (a mktemp -d directory in /tmp);
#	every process is stopped by its PID.
# DIAGNOSTICS
#	Functions return non-zero and say why on stderr.

. "$POSTERN_TOP/tests/lib/mariadb.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

BENCH_RCPT=bench@example.org
# mail to BENCH_HOLD is put on hold by both MTAs (check_recipient_access
# in smtpd_data_restrictions): acceptance with no delivery running
BENCH_HOLD=hold@example.org
BENCH_VUID=$(id -u vmail 2>/dev/null || id -u)
BENCH_VGID=$(id -g vmail 2>/dev/null || id -g)
PF_DIR=
PF_MASTER=
PT_MAIL=
PF_MAIL=

# bench_mariadb - the one database both MTAs query
bench_mariadb() {
	mariadb_start "$BENCH_DIR/db" || return 1
	mariadb_load_seed || return 1
	# tests/lib/mariadb.sh allows 200 connections: both MTAs side by
	# side (Postfix's idle smtpd processes, postern's thread pools) need
	# more, and a refused connection would be a 451 in the figures
	mariadb_client -e "SET GLOBAL max_connections = 2000" || return 1
	mariadb_sql "INSERT INTO virtual_users (domain_id, password, email)
		VALUES (1, MD5('x'), '$BENCH_RCPT'), (1, MD5('x'), '$BENCH_HOLD');"
}

# bench_maps - the three mysql .cf files in a configuration directory;
# $2 is the mailbox query's result column
bench_maps() {
	local e=$1 col=$2
	mariadb_cf "$e/mysql-virtual-mailbox-domains.cf" \
		"SELECT 1 FROM virtual_domains WHERE name='%s'"
	mariadb_cf "$e/mysql-virtual-mailbox-maps.cf" \
		"SELECT $col FROM virtual_users WHERE email='%s'"
	mariadb_cf "$e/mysql-virtual-alias-maps.cf" \
		"SELECT destination FROM virtual_aliases WHERE source='%s'"
	printf '%s HOLD\n' "$BENCH_HOLD" >"$e/hold_access"
	chmod 644 "$e"/mysql-*.cf
}

# bench_policy - the settings both MTAs share (name=value lines)
bench_policy() {
	local e=$1
	printf '%s\n' \
		"mynetworks=127.0.0.1/32" \
		"smtpd_peername_lookup=no" \
		"smtpd_helo_required=yes" \
		"smtpd_helo_restrictions=permit_mynetworks, reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname" \
		"smtpd_data_restrictions=reject_unauth_pipelining, check_recipient_access texthash:$e/hold_access" \
		"smtpd_relay_restrictions=permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" \
		"smtpd_recipient_restrictions=permit_auth_destination, reject_non_fqdn_recipient, reject_unauth_destination, reject_unlisted_recipient" \
		"virtual_mailbox_domains=mysql:$e/mysql-virtual-mailbox-domains.cf" \
		"virtual_mailbox_maps=mysql:$e/mysql-virtual-mailbox-maps.cf" \
		"virtual_alias_maps=mysql:$e/mysql-virtual-alias-maps.cf" \
		"virtual_uid_maps=static:$BENCH_VUID" \
		"virtual_gid_maps=static:$BENCH_VGID" \
		"smtpd_tls_security_level=may" \
		"default_process_limit=1200" \
		"postscreen_pre_queue_limit=30000" \
		"postscreen_post_queue_limit=30000" \
		"postscreen_access_list=permit_mynetworks" \
		"postscreen_greet_action=enforce" \
		"postscreen_greet_wait=${BENCH_GREET_WAIT:-6}s" \
		"postscreen_dnsbl_sites=" \
		"postscreen_pipelining_enable=yes" \
		"postscreen_non_smtp_command_enable=yes" \
		"postscreen_bare_newline_enable=yes" \
		"postscreen_bare_newline_action=drop"
}

# bench_postern_start - postern from the seed (postscreen on the port)
bench_postern_start() {
	local port=$1 e
	instance_create "$BENCH_DIR/postern" "$port" $((port + 1)) || return 1
	e=$INSTANCE_CONF
	bench_maps "$e" 1
	printf 'root: bench@example.org\n' >"$e/aliases"
	: >"$e/sender_canonical"
	: >"$e/canonical"
	: >"$e/relay_password"
	: >"$e/generic"
	: >"$e/sender_access"
	: >"$e/postscreen_access.cidr"
	"$POSTERN_BIN/postalias" -c "$e" "hash:$e/aliases" || return 1
	for m in sender_canonical canonical relay_password generic \
		sender_access; do
		"$POSTERN_BIN/postmap" -c "$e" "hash:$e/$m" || return 1
	done
	chown "$BENCH_VUID:$BENCH_VGID" "$INSTANCE_MAIL"
	mapfile -t pol < <(bench_policy "$e")
	instance_conf "${pol[@]}" \
		"alias_maps=hash:$e/aliases" "alias_database=hash:$e/aliases" \
		"sender_canonical_maps=hash:$e/sender_canonical" \
		"canonical_maps=hash:$e/canonical" \
		"smtp_sasl_password_maps=hash:$e/relay_password" \
		"smtp_generic_maps=hash:$e/generic" || return 1
	if [ -n "${BENCH_PT_CONF:-}" ]; then
		# shellcheck disable=SC2086
		instance_conf $BENCH_PT_CONF || return 1
	fi
	PT_MAIL=$INSTANCE_MAIL/example.org/bench
	instance_start
}

# bench_postern_stop - stop the postern instance
bench_postern_stop() {
	instance_stop
}

# bench_postfix_start - a private Postfix instance (root only)
bench_postfix_start() {
	local port=$1 e
	PF_DIR=$BENCH_DIR/postfix
	e=$PF_DIR/etc
	mkdir -p "$e" "$PF_DIR/queue" "$PF_DIR/data" "$PF_DIR/mail" ||
		return 1
	chown postfix "$PF_DIR/data"
	chown "$BENCH_VUID:$BENCH_VGID" "$PF_DIR/mail"
	chmod 755 "$PF_DIR" "$e"
	bench_maps "$e" \
		"CONCAT(SUBSTRING_INDEX(email,'@',-1),'/',SUBSTRING_INDEX(email,'@',1),'/')"
	# the same certificate as postern's (a fresh one without postern)
	if [ -f "$BENCH_DIR/postern/etc/cert.pem" ]; then
		cp "$BENCH_DIR/postern/etc/cert.pem" \
			"$BENCH_DIR/postern/etc/key.pem" "$e/" || return 1
	else
		openssl req -x509 -newkey ec \
			-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
			-subj /CN=server.example.com -keyout "$e/key.pem" \
			-out "$e/cert.pem" >/dev/null 2>&1 || return 1
	fi
	chmod 644 "$e/cert.pem"
	chmod 600 "$e/key.pem"
	chown root:root "$e/key.pem" "$e/cert.pem"
	{
		printf '%s\n' \
			"compatibility_level = 3.6" \
			"config_directory = $e" \
			"queue_directory = $PF_DIR/queue" \
			"data_directory = $PF_DIR/data" \
			"meta_directory = /etc/postfix" \
			"myhostname = bench.example.net" \
			"mydestination =" \
			"inet_interfaces = 127.0.0.1" \
			"inet_protocols = ipv4" \
			"disable_dns_lookups = yes" \
			"smtp_host_lookup = native" \
			"maillog_file = $PF_DIR/maillog" \
			"maillog_file_prefixes = /var, /dev/stdout, /tmp" \
			"virtual_mailbox_base = $PF_DIR/mail" \
			"virtual_minimum_uid = 100" \
			"smtpd_tls_cert_file = $e/cert.pem" \
			"smtpd_tls_key_file = $e/key.pem"
		bench_policy "$e" | sed 's/=/ = /'
	} >"$e/main.cf"
	# postscreen on the port, smtpd behind it, no chroot (no copies of
	# /etc in the queue)
	awk -v p="127.0.0.1:$port" '
		/^#(smtpd|dnsblog|tlsproxy)[ \t]/ { sub(/^#/, "") }
		/^[^ \t#]/ && ($2 ~ /^(inet|unix|unix-dgram|fifo|pass)$/) {
			if ($1 == "smtp" && $2 == "inet") {
				$1 = p; $7 = "1"; $8 = "postscreen"
			}
			$5 = "n"
		}
		{ print }' /etc/postfix/master.cf >"$e/master.cf" || return 1
	grep -q "^smtpd[[:space:]]*pass" "$e/master.cf" &&
		grep -q "^127\.0\.0\.1:$port[[:space:]].*postscreen\$" \
		"$e/master.cf" || {
		echo "bench: no postscreen/smtpd pass in Postfix's master.cf" >&2
		return 1
	}
	postfix -c "$e" check >"$PF_DIR/check.out" 2>&1
	script -qc "postfix -c $e start" /dev/null >"$PF_DIR/start.out" 2>&1
	if ! wait_for "[ -s $PF_DIR/queue/pid/master.pid ] && port_listening $port" 20
	then
		echo "bench: Postfix did not start:" >&2
		cat "$PF_DIR/check.out" "$PF_DIR/start.out" >&2
		tail -n 20 "$PF_DIR/maillog" >&2 2>/dev/null
		return 1
	fi
	PF_MASTER=$(tr -d ' \n' <"$PF_DIR/queue/pid/master.pid")
	PF_MAIL=$PF_DIR/mail/example.org/bench
	return 0
}

# bench_descendants - PID and every descendant of it
bench_descendants() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = split(root, todo, " ")
			while (n > 0) {
				p = todo[n--]; print p
				m = split(kids[p], k, " ")
				for (i = 1; i <= m; i++) todo[++n] = k[i]
			}
		}'
}

# bench_snap - "pid name ticks" (user + system) of every process; a
# kernel thread by its kind (a kworker's name changes with its work)
bench_snap() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk '{
		n = $0; sub(/^[0-9]+ \(/, "", n); sub(/\) .*/, "", n)
		sub(/\/.*/, "", n); gsub(/ /, "_", n)
		r = $0; sub(/^.*\) /, "", r); split(r, f, " ")
		print $1, n, f[12] + f[13] }'
}

# bench_others BEFORE AFTER N PIDS - the busiest programs between two
# bench_snap()s that are not PIDS (the MTA measured), the load
# generator or MariaDB: "name ms" of CPU per message (N messages), the
# three busiest and the rest together; what else took the machine (a
# process that exits before AFTER is not counted)
bench_others() {
	printf '%s\n' "$1" | awk -v n="$3" -v hz="$(getconf CLK_TCK)" \
	    -v after="$2" -v skip="$4" 'BEGIN {
		if (n <= 0)
			n = 1
		k = split(skip, sp, /[ \n]+/)
		for (i = 1; i <= k; i++) if (sp[i] != "") x[sp[i]] = 1
		k = split(after, l, "\n")
		for (i = 1; i <= k; i++) { split(l[i], f, " ")
			b[f[1]] = f[3]; name[f[1]] = f[2] } }
		{ a[$1] = $3 }
		END { for (p in b) {
			if (p in x || name[p] == "smtp-load" ||
			    name[p] == "mariadbd")
				continue
			d = b[p] - (p in a ? a[p] : 0)
			if (d > 0) s[name[p]] += d }
		  m = 0
		  for (q in s) { m++; nm[m] = q }
		  for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
			if (s[nm[j]] > s[nm[i]]) { t = nm[i]; nm[i] = nm[j]; nm[j] = t }
		  rest = 0
		  for (i = 1; i <= m; i++)
			if (i <= 3) printf "%s %.3f ms, ", nm[i], 1000 * s[nm[i]] / hz / n
			else rest += s[nm[i]]
		  printf "the rest %.3f ms\n", 1000 * rest / hz / n }'
}

# bench_postfix_stop - stop Postfix, kill what is left by PID
bench_postfix_stop() {
	local pids pid
	[ -n "$PF_MASTER" ] || return 0
	pids=$(bench_descendants "$PF_MASTER")
	script -qc "postfix -c $PF_DIR/etc stop" /dev/null \
		>>"$PF_DIR/start.out" 2>&1
	wait_for "! pid_alive $PF_MASTER" 30
	for pid in $pids; do
		if pid_alive "$pid"; then
			sleep 1
			pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
		fi
	done
	PF_MASTER=
}

# bench_pss - PSS in kB of PID and all its descendants
bench_pss() {
	local pid total=0 v
	for pid in $(bench_descendants "$1"); do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" \
			2>/dev/null)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# bench_cpu - CPU ticks (1/CLK_TCK s) of the PIDs and all their
# descendants: utime+stime of each, plus cutime+cstime (what its exited
# children used, once reaped), so a process that ends during a
# measurement still counts through its parent
bench_cpu() {
	local root pid total=0 v
	for root in "$@"; do
		for pid in $(bench_descendants "$root"); do
			# fields after the ")" of comm: 14-17 are 12-15 here
			v=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null |
				awk '{ print $12 + $13 + $14 + $15 }')
			total=$((total + ${v:-0}))
		done
	done
	echo "$total"
}

# bench_nproc - how many processes PID and its descendants are
bench_nproc() {
	bench_descendants "$1" | wc -l
}

# bench_count - messages in a Maildir's new/
bench_count() {
	local n
	n=$(ls -f "$1/new" 2>/dev/null | wc -l)
	# ls -f lists . and ..
	[ "$n" -ge 2 ] && n=$((n - 2))
	echo "$n"
}

# bench_cleanup - for trap EXIT
bench_cleanup() {
	instance_cleanup
	bench_postfix_stop
	mariadb_stop
}
