#!/bin/sh
# seed-postconf-n.sh - write seed-postconf-n.ref and seed-postconf-unused.ref
# with real Postfix, never with postern.
#
# These two files are what Debian's Postfix says about the seed's main.cf
# (etc/seed/main.cf with its master.cf): `postconf -c DIR -n` (stdout,
# without its config_directory line, which names the temporary DIR) and
# the "unused parameter" warnings it prints on stderr (sorted; DIR
# written as "DIR"). lib/conf_test.c and tests/10-postern-check.t compare
# postern's parser and postconf with them.
#
# Needs Postfix from Debian (`sh tools/install-deps bench` installs it
# without configuring or starting it) and root: Postfix 3.7's postconf
# refuses the seed ("fatal: parameter inet_interfaces: no local interface
# found for 192.0.2.40"), so it runs in a private network namespace
# (unshare -n) whose own loopback carries the seed's 192.0.2.40 and
# 2001:db8::40; the host's network is not touched and no value changes.
#
# Usage: sh tests/data/seed-postconf-n.sh   (from anywhere; rewrites both
# files; review the diff like code)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
seed=$here/../../etc/seed
PC=/usr/sbin/postconf
[ -x "$PC" ] || { echo "$0: no Postfix ($PC): sh tools/install-deps bench" >&2; exit 1; }
ver=$("$PC" -d -h mail_version)
pkg=$(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo unknown)
tmp=$(mktemp -d /tmp/seed-postconf.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$seed/main.cf" "$seed/master.cf" "$tmp/"
unshare -n sh -c 'ip link set lo up &&
	ip addr add 192.0.2.40/32 dev lo &&
	ip -6 addr add 2001:db8::40/128 dev lo nodad &&
	exec "$1" -c "$2" -n' sh "$PC" "$tmp" >"$tmp/n" 2>"$tmp/err"
grep -q "^config_directory = $tmp\$" "$tmp/n" || {
	echo "$0: no config_directory line in postconf -n output" >&2; exit 1; }
head="# Written by tests/data/seed-postconf-n.sh with Debian's Postfix $ver
# (package postfix $pkg) from etc/seed/main.cf and master.cf"
{
	printf '%s\n' "$head" \
	    "# postconf -c DIR -n, without the config_directory line. Do not edit."
	grep -v '^config_directory = ' "$tmp/n"
} >"$here/seed-postconf-n.ref"
{
	printf '%s\n' "$head" \
	    "# postconf -c DIR -n, its \"unused parameter\" warnings (stderr, sorted)."
	grep 'unused parameter' "$tmp/err" |
	    sed -e "s|^$PC: |postconf: |" -e "s|$tmp|DIR|g" | LC_ALL=C sort
} >"$here/seed-postconf-unused.ref"
echo "wrote $here/seed-postconf-n.ref and seed-postconf-unused.ref (Postfix $ver)"
