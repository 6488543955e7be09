# NAME
#	need.sh - checks that need root, a program or IPv6: run, fail or skip
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/tap.sh"
#	. "$POSTERN_TOP/tests/lib/need.sh"
#
#	need_root N WHAT		0 if running as root
#	need_prog N PATH WHAT		0 if PATH is an executable (or a
#					link to one)
#	need_ipv6 N WHAT		0 if the loopback has ::1
#	need_skip N WHAT REASON		the N checks of WHAT cannot run
#	need_strict			0 under make check (POSTERN_CHECK=1
#					or CI=true)
# DESCRIPTION
#	A test guards a block of N checks with one of these:
#
#		if need_root 2 "Maildirs owned by vmail"; then
#			is ... ; is ...
#		fi
#
#	When the condition holds the function prints nothing and returns
#	0, and the block runs its N checks. When it does not, the N checks
#	are accounted for in the TAP output, so the plan never depends on
#	the environment and nothing vanishes silently:
#	  - under make check (POSTERN_CHECK=1, or CI=true), where every
#	    check must run: N "not ok" lines naming the reason (make check
#	    runs as root in CI, with every program built);
#	  - otherwise (prove by hand, as a user): N "ok N # SKIP" lines
#	    with the reason.
#	Either way the function returns 1 and the block is not run.
#
#	need_ipv6 is different: a machine without an IPv6 loopback is an
#	environment, not a broken build, so it skips even under make
#	check, with the reason in the TAP output.
# DIAGNOSTICS
#	The reason is in the TAP line (SKIP) or in a diagnostic (failure).

# need_strict - 0 when checks must run (make check, CI)
need_strict() {
	[ "${POSTERN_CHECK:-}" = 1 ] || [ "${CI:-}" = true ]
}

# need_skip - account for N checks of WHAT that cannot run, and why
need_skip() {
	local n=$1 what=$2 why=$3 i
	for ((i = 0; i < n; i++)); do
		if need_strict; then
			fail "$what (not run: $why)" \
			    "make check must run this check: $why"
		else
			TAP_COUNT=$((TAP_COUNT + 1))
			echo "ok $TAP_COUNT # SKIP $what: $why"
		fi
	done
	return 1
}

# need_root - N checks that need root
need_root() {
	[ "$(id -u)" = 0 ] && return 0
	need_skip "$1" "$2" "needs root (runs as $(id -un))"
}

# need_prog - N checks that need the program PATH
need_prog() {
	[ -x "$2" ] && return 0
	need_skip "$1" "$3" "no executable $2"
}

# need_ipv6 - N checks that need ::1 on the loopback (skip, never fail)
need_ipv6() {
	local i
	grep -q '^0\{31\}1 .* lo$' /proc/net/if_inet6 2>/dev/null && return 0
	for ((i = 0; i < $1; i++)); do
		TAP_COUNT=$((TAP_COUNT + 1))
		echo "ok $TAP_COUNT # SKIP $2: no IPv6 loopback (::1) on lo"
	done
	return 1
}
