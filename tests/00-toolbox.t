#!/bin/bash
# 00-toolbox.t - every program and module the suite, make run and the
# swaks lines it prints rely on is there, before any test needs it.
# The list is tools/deps.txt (groups build, run and test), the same list
# tools/install-deps installs from; each failure names the Debian package
# that provides the missing piece, so a missing install step is one clear
# line here instead of many puzzling failures later. (Example: without
# libnet-ssleay-perl, swaks says "TLS not available: requires
# Net::SSLeay" in every STARTTLS test; here it is
# "not ok - libnet-ssleay-perl: perl -MNet::SSLeay".)
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"

# present CHECK - exit 0 if the program, module, library or file is there
present() {
	local kind=${1%%:*} what=${1#*:}
	case $kind in
	prog)	if [[ $what == /* ]]; then [ -x "$what" ]
		else command -v "$what" >/dev/null 2>&1; fi ;;
	perl)	perl -M"$what" -e1 >/dev/null 2>&1 ;;
	py)	/usr/bin/python3 -c "import $what" >/dev/null 2>&1 ;;
	pc)	pkg-config --exists "$what" ;;
	file)	[ -e "$what" ] ;;
	*)	return 2 ;;
	esac
}

# describe CHECK - how a user would check it by hand
describe() {
	local kind=${1%%:*} what=${1#*:}
	case $kind in
	prog)	echo "program $what" ;;
	perl)	echo "perl -M$what" ;;
	py)	echo "python3 -c 'import $what'" ;;
	pc)	echo "pkg-config $what" ;;
	file)	echo "file $what" ;;
	*)	echo "unknown check '$1' in tools/deps.txt" ;;
	esac
}

DEPS=${POSTERN_DEPS:-$POSTERN_TOP/tools/deps.txt}
n=0
while read -r group pkg checks; do
	case $group in ''|'#'*) continue ;; esac
	case $group in build|run|test) ;; *) continue ;; esac
	for c in $checks; do
		n=$((n + 1))
		if present "$c"; then
			pass "$pkg: $(describe "$c")"
		else
			fail "$pkg: $(describe "$c")" \
			    "missing: apt-get install $pkg  (tools/install-deps installs it)"
		fi
	done
done < "$DEPS"
[ "$n" -gt 20 ] || fail "tools/deps.txt lists the suite's packages" \
	"only $n checks read from $DEPS"

# The swaks STARTTLS path itself, not only the module: swaks refuses -tls
# with "TLS not available" when its TLS support cannot load.
out=$(swaks --support 2>&1)
like "$out" "=== TLS supported" "swaks reports TLS support" ||
	diag "$out"

done_testing
