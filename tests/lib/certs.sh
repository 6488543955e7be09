# NAME
#	certs.sh - a test CA and server certificates signed by it (openssl)
# SYNOPSIS
#	. "$POSTERN_TOP/tests/lib/certs.sh"
#
#	cert_ca DIR NAME		a CA: DIR/NAME.pem, DIR/NAME.key
#	cert_leaf DIR CA OUT NAME...	a server certificate for the NAMEs
#					(CN the first, every one a DNS
#					subjectAltName, serverAuth) signed by
#					DIR/CA: DIR/OUT.pem, DIR/OUT.key
# DESCRIPTION
#	P-256 keys, valid for 2 days. openssl's messages are appended to
#	DIR/openssl.err (for the test's diag when a step fails).
# DIAGNOSTICS
#	Non-zero when an openssl step fails.

# cert_ca - a self-signed CA certificate and its key
cert_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj "/CN=$2" -keyout "$1/$2.key" -out "$1/$2.pem" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		2>>"$1/openssl.err"
}

# cert_leaf - a server certificate for the NAMEs signed by CA
cert_leaf() {
	local d=$1 ca=$2 out=$3 san n
	shift 3
	san=$(for n in "$@"; do printf 'DNS:%s,' "$n"; done)
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=$1" -keyout "$d/$out.key" -out "$d/$out.csr" \
		2>>"$d/openssl.err" &&
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n%s\n' \
		"${san%,}" 'extendedKeyUsage=serverAuth' > "$d/$out.ext" &&
	openssl x509 -req -in "$d/$out.csr" -CA "$d/$ca.pem" \
		-CAkey "$d/$ca.key" -CAcreateserial -days 2 \
		-extfile "$d/$out.ext" -out "$d/$out.pem" 2>>"$d/openssl.err"
}
