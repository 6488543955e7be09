# NAME
#	dnsmasq.sh - a private dnsmasq on loopback for integration tests
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/dnsmasq.sh"
#
#	dnsmasq_record LINE	add a dnsmasq config line before start, e.g.
#				"mx-host=example.com,mail.example.com,10"
#				"host-record=mail.example.com,192.0.2.10"
#				"ptr-record=10.2.0.192.in-addr.arpa,mail.example.com"
#				"txt-record=example.com,v=spf1 -all"
#				"address=/dnsbl.example/127.0.0.2"
#	dnsmasq_local DOMAIN	answer NXDOMAIN/NODATA for DOMAIN instead of
#				REFUSED (example, example.com/net/org, test,
#				invalid, in-addr.arpa, ip6.arpa are local by
#				default)
#	dnsmasq_start DIR PORT	write DIR/dnsmasq.conf, start dnsmasq on
#				127.0.0.1:PORT, wait until it answers;
#				sets DNSMASQ_PID and DNSMASQ_SERVER
#				("127.0.0.1:PORT", a resolver_nameservers value)
#	dnsmasq_stop		kill it by PID (call from the test's trap)
# DESCRIPTION
#	The server never forwards (no-resolv, no upstream) and never reads
#	/etc/hosts, so a test sees only the records it added and never the
#	machine's resolver. Its log (every query) is DIR/dnsmasq.log.
# DIAGNOSTICS
#	dnsmasq_start returns 1 (and prints the log on stderr) if dnsmasq
#	does not come up within 5 seconds.

DNSMASQ_RECORDS=()
DNSMASQ_LOCALS=(example example.com example.net example.org test invalid
	in-addr.arpa ip6.arpa)
DNSMASQ_PID=
DNSMASQ_SERVER=

# dnsmasq_record - queue one config line for the next start
dnsmasq_record() {
	DNSMASQ_RECORDS+=("$1")
}

# dnsmasq_local - make a domain authoritative-local (NXDOMAIN, not REFUSED)
dnsmasq_local() {
	DNSMASQ_LOCALS+=("$1")
}

# dnsmasq_start - write the config and start the server
dnsmasq_start() {
	local dir=$1 port=$2 conf=$1/dnsmasq.conf i line
	mkdir -p "$dir"
	{
		echo "no-resolv"
		echo "no-hosts"
		echo "no-poll"
		echo "bind-interfaces"
		echo "listen-address=127.0.0.1"
		echo "except-interface=nonexistent0"
		echo "port=$port"
		echo "log-queries"
		echo "log-facility=$dir/dnsmasq.log"
		echo "pid-file="
		echo "user=$(id -un)"
		for line in "${DNSMASQ_LOCALS[@]}"; do
			echo "local=/$line/"
		done
		for line in "${DNSMASQ_RECORDS[@]}"; do
			echo "$line"
		done
	} >"$conf"
	: >"$dir/dnsmasq.log"
	dnsmasq --keep-in-foreground --conf-file="$conf" \
		>"$dir/dnsmasq.out" 2>&1 &
	DNSMASQ_PID=$!
	DNSMASQ_SERVER="127.0.0.1:$port"
	for i in $(seq 50); do
		if grep -q "started, version" "$dir/dnsmasq.log" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$DNSMASQ_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "# dnsmasq did not start:" >&2
	sed 's/^/# /' "$dir/dnsmasq.out" "$dir/dnsmasq.log" >&2
	return 1
}

# dnsmasq_stop - stop the server started by dnsmasq_start
dnsmasq_stop() {
	if [ -n "$DNSMASQ_PID" ]; then
		kill "$DNSMASQ_PID" 2>/dev/null
		wait "$DNSMASQ_PID" 2>/dev/null
		DNSMASQ_PID=
	fi
}
