# NAME
#	instance.sh - a full postern instance for integration tests
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/tap.sh"
#	. "$POSTERN_TOP/tests/lib/instance.sh"
#
#	instance_create DIR SMTP_PORT SUBMISSION_PORT
#	instance_conf name=value ...	postconf -e on the instance
#	instance_service_name OLD NEW	rename a master.cf service (inet)
#	instance_master_cf TEXT		replace master.cf entirely
#	instance_start			master -d in the background
#	instance_stop			stop, verify no process is left,
#					check the logs (one TAP check)
#	instance_allow ERE...		log lines the test causes itself
#	instance_problems		the offending lines so far
#	instance_cleanup		for trap ... EXIT: stop if running
#	instance_ab DIR PORT SUB	create and start the stream-and-kill
#					tests' instance (61, 68): a@ and
#					b@example.org Maildirs, 127.0.0.1
#					past postscreen, 1-2 s backoff
#	instance_local_mail ADDR...	virtual mailboxes for ADDRs (@example.org)
#					in a texthash table, owned by vmail, no
#					alias or canonical maps (the seed's
#					name files the test does not have)
#	instance_relay name=value...	the outbound tests' relay: mail from
#					127.0.0.1 relayed by transport_maps =
#					texthash:$INSTANCE_CONF/transport (the
#					test writes it), Maildirs owned by
#					vmail, no alias/canonical/generic/SASL
#					maps; then the test's own settings
#	instance_sinks SCRIPT DIR LABEL NAME:PORT:MODE[:CERT]...
#					a next hop per NAME: tests/lib/SCRIPT
#					PORT DIR/NAME MODE [CERT.pem CERT.key]
#					(output in DIR/sink-NAME.out), one
#					check each ("LABEL NAME (MODE) listens
#					on PORT"); instance_cleanup stops them
#	instance_sinks_stop		kill and reap the PIDs in
#					INSTANCE_SINKS (instance_sinks', or a
#					test's own helper servers)
#	instance_children		PIDs of master's children
#	instance_log_grep PATTERN	grep -E in the instance's maillog
#	instance_log_count PATTERN	number of matching log lines
#	wait_for, port_listening, pid_alive, stop_pids
#					from tests/lib/wait.sh (sourced here)
# DESCRIPTION
#	instance_create copies the seed's configuration (etc/seed/main.cf
#	and master.cf, unchanged) to DIR/etc and changes only what a
#	machine-local test must change, with "postconf -e":
#	  queue_directory = DIR/queue, data_directory = DIR/data,
#	  daemon_directory = $POSTERN_BIN, maillog_file = DIR/maillog,
#	  virtual_mailbox_base = DIR/mail, inet_interfaces = 127.0.0.1,
#	  resolver_nameservers = $INSTANCE_RESOLVER (default 127.0.0.1:9,
#	  where nothing answers: no DNS query ever leaves the machine;
#	  point it at tests/lib/dnsmasq.sh's server with instance_conf),
#	  smtpd_tls_cert_file/key_file = a fresh self-signed certificate
#	  in DIR/etc, smtpd_tls_security_level = may (the seed says
#	  encrypt: the tests' port-25 clients, like the Internet's, mostly
#	  speak plain SMTP; submission keeps the seed's -o encrypt).
#	smtp_tls_security_level stays the seed's (encrypt): a test whose
#	smtp client relays to a server without TLS sets "may" itself and
#	says why.
#	In master.cf it rewrites only the service field of the "smtp inet"
#	and "submission inet" lines to 127.0.0.1:SMTP_PORT and
#	127.0.0.1:SUBMISSION_PORT (instance_service_name does the same for
#	any other inet service); the rest, with its -o overrides, is the
#	seed's. The maps the seed names (/etc/aliases, /etc/postfix/...,
#	mysql:...) are the test's business: set them with instance_conf.
#
#	Variables set: INSTANCE_DIR, INSTANCE_CONF (DIR/etc),
#	INSTANCE_QUEUE, INSTANCE_LOG, INSTANCE_MAIL, INSTANCE_PID (master),
#	INSTANCE_PORTS (what instance_start waits for).
#
#	instance_start runs "$POSTERN_BIN/master -c DIR/etc -d" in the
#	background (output in DIR/master.out), waits until every port in
#	INSTANCE_PORTS listens and master logged "daemon started", and
#	returns 1 (with master.out on stderr) if master died or did not
#	come up in 20 seconds.
#
#	instance_stop runs "postern stop" (SIGTERM to the pid-file master,
#	which stops its children and waits for them), falls back to
#	SIGTERM/SIGKILL by PID, reaps master, then checks that none of the
#	children seen before the stop is alive: any leftover is killed by
#	PID, reported with diag, and instance_stop returns 1.
#
#	Then it reads what master and its children left since
#	instance_start, and prints one TAP check, "instance: no sanitizer
#	report, panic: or unexpected child death", which fails listing:
#	  - maillog lines "process PATH pid N killed by signal S" and
#	    "... exit status N" (master's word for a child that died or
#	    failed), "panic:" lines, and "bad command startup";
#	  - master.out (master's and its children's stderr) lines of a
#	    sanitizer report ("ERROR: AddressSanitizer", "ERROR:
#	    LeakSanitizer", "runtime error:") or "panic:".
#	A test that kills or breaks a child on purpose declares the lines
#	it causes, before instance_stop, with instance_allow ERE... (grep
#	-E patterns matched against each maillog line), e.g.
#	    instance_allow 'bin/virtual pid [0-9]+ killed by signal 9'
#	Declarations last for the test file. Sanitizer reports cannot be
#	allowed. instance_problems prints the offending lines (for a test
#	that wants to check in the middle).
#
#	Sanitizer reports: under make check (tests/lib/runtest) every
#	ASan/LSan report of every process goes to a file in
#	POSTERN_SAN_DIR, and runtest fails the test file on any of them,
#	whatever the test checks. UBSan reports (GCC's separate libubsan
#	ignores log_path when ASan is loaded) go to stderr, i.e.
#	master.out, read here; every one is fatal (-fno-sanitize-recover),
#	so the child's death is logged by master as well.
#
#	done_testing stops an instance still running before it prints the
#	plan (tap.sh's TAP_BEFORE_PLAN), so the check is never skipped.
#	instance_cleanup (the EXIT trap, e.g. after bail_out) stops a
#	running instance the same way; after the plan it cannot add a TAP
#	check, so it prints the problems with diag and writes them to
#	POSTERN_SAN_DIR/instance.problems (runtest then fails the file).
#
#	As root (CI), DIR and its parent are made world-searchable so that
#	children running as mail_owner can read the configuration and
#	reach the queue (put DIR directly inside a mktemp -d directory,
#	or in /tmp); master creates
#	the queue and data directories with their owners.
# DIAGNOSTICS
#	Functions return non-zero on failure and say why on stderr.

. "$POSTERN_TOP/tests/lib/wait.sh"

INSTANCE_DIR=
INSTANCE_CONF=
INSTANCE_QUEUE=
INSTANCE_LOG=
INSTANCE_MAIL=
INSTANCE_PID=
INSTANCE_PORTS=()
INSTANCE_ALLOW=()
INSTANCE_SINKS=()
INSTANCE_LOG_FROM=1
INSTANCE_OUT_FROM=1

# instance_conf - postconf -e on the instance's main.cf
instance_conf() {
	"$POSTERN_BIN/postconf" -c "$INSTANCE_CONF" -e "$@"
}

# instance_service_name - rename an inet service in master.cf
instance_service_name() {
	local old=$1 new=$2 f="$INSTANCE_CONF/master.cf"
	awk -v old="$old" -v new="$new" '
		$0 !~ /^[ \t#]/ && $1 == old && $2 == "inet" {
			sub(/^[^ \t]+/, new)
		}
		{ print }
	' "$f" > "$f.new" && mv "$f.new" "$f"
}

# instance_master_cf - replace master.cf (custom services, echod, ...)
instance_master_cf() {
	printf '%s\n' "$1" > "$INSTANCE_CONF/master.cf"
}

# instance_create - a configuration directory from the seed
instance_create() {
	local dir=$1 smtp_port=$2 sub_port=$3
	INSTANCE_DIR=$dir
	INSTANCE_CONF=$dir/etc
	INSTANCE_QUEUE=$dir/queue
	INSTANCE_LOG=$dir/maillog
	INSTANCE_MAIL=$dir/mail
	INSTANCE_PORTS=()
	mkdir -p "$INSTANCE_CONF" "$INSTANCE_MAIL" || return 1
	chmod 755 "$dir" "$INSTANCE_CONF"
	# mktemp -d makes 0700 directories: mail_owner must get through.
	[ "$(id -u)" = 0 ] && chmod a+x "$(dirname "$dir")"
	cp "$POSTERN_TOP/etc/seed/main.cf" "$POSTERN_TOP/etc/seed/master.cf" \
		"$INSTANCE_CONF/" || return 1
	chmod 644 "$INSTANCE_CONF/main.cf" "$INSTANCE_CONF/master.cf"
	if command -v openssl >/dev/null; then
		openssl req -x509 -newkey ec \
			-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
			-subj /CN=server.example.com \
			-keyout "$INSTANCE_CONF/key.pem" \
			-out "$INSTANCE_CONF/cert.pem" >/dev/null 2>&1
		chmod 644 "$INSTANCE_CONF/cert.pem"
		chmod 640 "$INSTANCE_CONF/key.pem"
		if [ "$(id -u)" = 0 ] && getent group postern >/dev/null; then
			chgrp postern "$INSTANCE_CONF/key.pem"
		fi
	fi
	instance_conf \
		"queue_directory=$INSTANCE_QUEUE" \
		"data_directory=$dir/data" \
		"daemon_directory=$POSTERN_BIN" \
		"maillog_file=$INSTANCE_LOG" \
		"virtual_mailbox_base=$INSTANCE_MAIL" \
		"inet_interfaces=127.0.0.1" \
		"resolver_nameservers=${INSTANCE_RESOLVER:-127.0.0.1:9}" \
		"smtpd_tls_cert_file=$INSTANCE_CONF/cert.pem" \
		"smtpd_tls_key_file=$INSTANCE_CONF/key.pem" \
		"smtpd_tls_security_level=may" || return 1
	if [ -n "$smtp_port" ]; then
		instance_service_name smtp "127.0.0.1:$smtp_port"
		INSTANCE_PORTS+=("$smtp_port")
	fi
	if [ -n "$sub_port" ]; then
		instance_service_name submission "127.0.0.1:$sub_port"
		INSTANCE_PORTS+=("$sub_port")
	fi
	return 0
}

# instance_start - master in the foreground, in the background
instance_start() {
	local p before
	: >> "$INSTANCE_LOG"
	: >> "$INSTANCE_DIR/master.out"
	before=$(wc -l < "$INSTANCE_LOG")
	INSTANCE_LOG_FROM=$((before + 1))
	INSTANCE_OUT_FROM=$(($(wc -l < "$INSTANCE_DIR/master.out") + 1))
	"$POSTERN_BIN/master" -c "$INSTANCE_CONF" -d \
		>> "$INSTANCE_DIR/master.out" 2>&1 &
	INSTANCE_PID=$!
	if ! wait_for "tail -n +$((before + 1)) '$INSTANCE_LOG' | \
	    grep -q 'master.*daemon started' || ! kill -0 $INSTANCE_PID" 20 ||
	    ! kill -0 "$INSTANCE_PID" 2>/dev/null
	then
		echo "instance_start: master did not start:" >&2
		sed 's/^/    /' "$INSTANCE_DIR/master.out" >&2
		INSTANCE_PID=
		return 1
	fi
	for p in "${INSTANCE_PORTS[@]}"; do
		if ! wait_for "port_listening $p" 20; then
			echo "instance_start: nothing listens on port $p" >&2
			return 1
		fi
	done
	return 0
}

# instance_children - PIDs whose parent is master
instance_children() {
	[ -n "$INSTANCE_PID" ] || return 0
	ps -o pid= --ppid "$INSTANCE_PID" 2>/dev/null | tr -d ' '
}

# instance_stop - stop master and verify that nothing is left
instance_stop() {
	local kids pid left=0
	[ -n "$INSTANCE_PID" ] || return 0
	kids=$(instance_children)
	if ! "$POSTERN_BIN/postern" -c "$INSTANCE_CONF" stop \
	    >> "$INSTANCE_DIR/master.out" 2>&1; then
		echo "instance_stop: postern stop failed; SIGTERM to" \
			"$INSTANCE_PID" >&2
		kill -TERM "$INSTANCE_PID" 2>/dev/null
	fi
	if ! wait_for "! pid_alive $INSTANCE_PID" 30; then
		echo "instance_stop: master $INSTANCE_PID ignored SIGTERM;" \
			"SIGKILL" >&2
		kill -KILL "$INSTANCE_PID" 2>/dev/null
		left=1
	fi
	wait "$INSTANCE_PID" 2>/dev/null
	instance_check
	for pid in $kids; do
		if pid_alive "$pid"; then
			sleep 1
			if pid_alive "$pid"; then
				echo "instance_stop: LEFTOVER child $pid:" \
					"$(ps -o cmd= -p "$pid")" >&2
				kill -KILL "$pid" 2>/dev/null
				left=1
			fi
		fi
	done
	INSTANCE_PID=
	return $left
}

# instance_allow - maillog lines (ERE) the test causes on purpose
instance_allow() {
	INSTANCE_ALLOW+=("$@")
}

# instance_problems - unexpected deaths, panics, sanitizer reports
instance_problems() {
	local allowed
	allowed=$(printf '%s\n' "${INSTANCE_ALLOW[@]}" | grep .)
	tail -n +"$INSTANCE_LOG_FROM" "$INSTANCE_LOG" 2>/dev/null |
	    grep -E 'process [^ ]+ pid [0-9]+ (killed by signal|exit status)|panic:|bad command startup' |
	    if [ -n "$allowed" ]; then
		grep -v -E -f <(printf '%s\n' "$allowed")
	    else
		cat
	    fi
	tail -n +"$INSTANCE_OUT_FROM" "$INSTANCE_DIR/master.out" \
	    2>/dev/null | grep -E -A12 \
	    'ERROR: (Address|Leak)Sanitizer|runtime error:|panic:' |
	    sed 's/^/master.out: /'
	return 0
}

# instance_check - one TAP check on the logs since instance_start
instance_check() {
	local probs name
	name="instance: no sanitizer report, panic: or unexpected child death"
	probs=$(instance_problems | head -n 40)
	if [ -z "$TAP_DONE" ]; then
		if [ -z "$probs" ]; then
			pass "$name"
		else
			fail "$name" "$probs"
		fi
		return 0
	fi
	[ -z "$probs" ] && return 0
	diag "instance_cleanup: $name: failed after the plan:"
	diag "$probs"
	if [ -n "${POSTERN_SAN_DIR:-}" ] && [ -d "$POSTERN_SAN_DIR" ]; then
		printf '%s\n' "$probs" >> "$POSTERN_SAN_DIR/instance.problems"
	fi
}

# instance_local_mail ADDR... - Maildir delivery for ADDRs, no other maps
instance_local_mail() {
	local vuid vgid e=$INSTANCE_CONF
	printf '%s 1\n' "$@" >"$e/vmailbox"
	vuid=$(id -u vmail 2>/dev/null || id -u)
	vgid=$(id -g vmail 2>/dev/null || id -g)
	chown "$vuid:$vgid" "$INSTANCE_MAIL"
	instance_conf \
		"alias_maps=" "alias_database=" "canonical_maps=" \
		"sender_canonical_maps=" \
		"virtual_mailbox_domains=example.org" \
		"virtual_mailbox_maps=texthash:$e/vmailbox" \
		"virtual_alias_maps=" \
		"virtual_uid_maps=static:$vuid" "virtual_gid_maps=static:$vgid"
}

# instance_relay - relay by transport_maps to the test's next hops
instance_relay() {
	local vuid vgid e=$INSTANCE_CONF
	vuid=$(id -u vmail 2>/dev/null || id -u)
	vgid=$(id -g vmail 2>/dev/null || id -g)
	chown "$vuid:$vgid" "$INSTANCE_MAIL"
	instance_conf \
		"transport_maps=texthash:$e/transport" "relayhost=" \
		"smtpd_recipient_restrictions=permit_mynetworks" \
		"postscreen_access_list=permit_mynetworks" \
		"alias_maps=" "alias_database=" "sender_canonical_maps=" \
		"canonical_maps=" "smtp_generic_maps=" \
		"smtp_sasl_password_maps=" "virtual_alias_maps=" \
		"virtual_uid_maps=static:$vuid" "virtual_gid_maps=static:$vgid" \
		"$@"
}

# instance_sinks - start recording next hops, one TAP check each
instance_sinks() {
	local script=$1 dir=$2 label=$3 k name port mode cert
	shift 3
	for k; do
		IFS=: read -r name port mode cert <<<"$k"
		mkdir -p "$dir/$name"
		/usr/bin/python3 "$POSTERN_TOP/tests/lib/$script" "$port" \
			"$dir/$name" "$mode" ${cert:+"$cert.pem" "$cert.key"} \
			>"$dir/sink-$name.out" 2>&1 &
		INSTANCE_SINKS+=($!)
		wait_for "port_listening $port" 15
		ok $? "$label $name ($mode${cert:+, ${cert##*/} certificate})$(
			) listens on $port"
	done
}

# instance_sinks_stop - kill and reap the PIDs in INSTANCE_SINKS
instance_sinks_stop() {
	stop_pids "${INSTANCE_SINKS[@]}"
	INSTANCE_SINKS=()
}

# instance_ab - the instance of the tests that stream mail and kill
instance_ab() {
	local e
	instance_create "$1" "$2" "$3" || return 1
	e=$INSTANCE_CONF
	printf '127.0.0.1 permit\n' >"$e/postscreen_access.cidr"
	instance_local_mail a@example.org b@example.org || return 1
	instance_conf \
		"mynetworks=127.0.0.0/8" \
		"postscreen_access_list=permit_mynetworks, cidr:$e/postscreen_access.cidr" \
		"minimal_backoff_time=1s" "maximal_backoff_time=2s" \
		"queue_run_delay=1s" || return 1
	instance_start
}

# instance_cleanup - for trap EXIT: stop whatever is still running
instance_cleanup() {
	instance_sinks_stop
	[ -n "$INSTANCE_PID" ] && instance_stop
	return 0
}
TAP_BEFORE_PLAN+=(instance_cleanup)

# instance_log_grep - grep -E the instance's maillog
instance_log_grep() {
	grep -E -- "$1" "$INSTANCE_LOG" 2>/dev/null
}

# instance_log_count - how many maillog lines match
instance_log_count() {
	grep -cE -- "$1" "$INSTANCE_LOG" 2>/dev/null
}
