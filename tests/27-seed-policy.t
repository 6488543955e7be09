#!/bin/bash
# 27-seed-policy.t - the seed's main.cf, unchanged except for its MySQL
# tables (replaced by inline: tables, as is its hash: canonical_maps, which
# recipient validation consults as Postfix's check_rcpt_maps() does: a
# missing /etc/postfix/canonical.lmdb makes every RCPT 451, as in Postfix)
# and the resolver: the restriction
# lists as the seed writes them give Postfix's answers. Transcript:
# smtpd-check reads the script, its output must equal the reference.
. "$POSTERN_TOP/tests/lib/tap.sh"

DRIVER=${POSTERN_TOOLS:-$(dirname "$POSTERN_BIN")/tools}/smtpd-check
DEAD=$((20341 + $$ % 39))	# Ports 20341-20379, where nothing listens.
DIR=$(mktemp -d /tmp/postern-27-seed.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

[ -x "$DRIVER" ] || bail_out "no smtpd-check at $DRIVER (make test-programs)"
[ -f "$POSTERN_TOP/etc/seed/main.cf" ] || bail_out "no etc/seed/main.cf"

cat >"$DIR/script" <<'SCRIPT'
conf resolver_nameservers=127.0.0.1:DEADPORT
conf virtual_mailbox_domains=example.com
conf virtual_mailbox_maps=inline:{user1@example.com=1, user2@example.com=1}
conf virtual_alias_maps=inline:{alias@example.com=user1@example.com}
conf alias_maps=inline:{root=user1@example.com, postmaster=root}
conf canonical_maps=inline:{webmaster@example.com=user1@example.com}
load SEEDDIR
client 203.0.113.5
helo [203.0.113.5]
mail sender@example.net
rcpt user1@example.com
rcpt user1+tag@example.com
rcpt alias@example.com
rcpt nobody@example.com
rcpt somebody@example.org
rcpt root@server.example.com
rcpt nosuchuser@server.lan
rcpt user1@nodot
helo localhost
rcpt user1@example.com
helo bad!helo
rcpt user1@example.com
client 127.0.0.1
helo localhost
mail sender@example.net
rcpt somebody@example.org
rcpt nobody@example.com
pipelining 1
data
# a database outage (the seed's maps are mysql:) is a 451, never a 550
conf virtual_mailbox_maps=mysql:/nonexistent/mysql-virtual-mailbox-maps.cf
client 203.0.113.5
helo [203.0.113.5]
mail sender@example.net
rcpt user1@example.com
rcpt alias@example.com
SCRIPT

cat >"$DIR/expected" <<'REF'
> conf resolver_nameservers=127.0.0.1:DEADPORT
> conf virtual_mailbox_domains=example.com
> conf virtual_mailbox_maps=inline:{user1@example.com=1, user2@example.com=1}
> conf virtual_alias_maps=inline:{alias@example.com=user1@example.com}
> conf alias_maps=inline:{root=user1@example.com, postmaster=root}
> conf canonical_maps=inline:{webmaster@example.com=user1@example.com}
> load SEEDDIR
> client 203.0.113.5
name=unknown reverse=unknown status=2
OK
> helo [203.0.113.5]
OK
> mail sender@example.net
OK
> rcpt user1@example.com
OK
> rcpt user1+tag@example.com
OK
> rcpt alias@example.com
OK
> rcpt nobody@example.com
REJECT 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table
> rcpt somebody@example.org
REJECT 554 5.7.1 <somebody@example.org>: Relay access denied
> rcpt root@server.example.com
OK
> rcpt nosuchuser@server.lan
REJECT 550 5.1.1 <nosuchuser@server.lan>: Recipient address rejected: User unknown in local recipient table
> rcpt user1@nodot
REJECT 554 5.7.1 <user1@nodot>: Relay access denied
> helo localhost
OK
> rcpt user1@example.com
REJECT 504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname
> helo bad!helo
OK
> rcpt user1@example.com
REJECT 501 5.5.2 <bad!helo>: Helo command rejected: Invalid name
> client 127.0.0.1
name=unknown reverse=unknown status=2
OK
> helo localhost
OK
> mail sender@example.net
OK
> rcpt somebody@example.org
REJECT 554 5.7.1 <somebody@example.org>: Relay access denied
> rcpt nobody@example.com
REJECT 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table
> pipelining 1
> data
REJECT 503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining
# a database outage (the seed's maps are mysql:) is a 451, never a 550
> conf virtual_mailbox_maps=mysql:/nonexistent/mysql-virtual-mailbox-maps.cf
> client 203.0.113.5
name=unknown reverse=unknown status=2
OK
> helo [203.0.113.5]
OK
> mail sender@example.net
OK
> rcpt user1@example.com
DEFER 451 4.3.0 <user1@example.com>: Temporary lookup failure
> rcpt alias@example.com
OK
REF

sed -i "s|SEEDDIR|$POSTERN_TOP/etc/seed|;s|DEADPORT|$DEAD|" "$DIR/script" \
	"$DIR/expected"
"$DRIVER" <"$DIR/script" >"$DIR/got" 2>"$DIR/log"
is "$?" 0 "driver ran the whole script"
if diff -u "$DIR/expected" "$DIR/got" >"$DIR/diff"; then
	pass "transcript matches the reference"
else
	fail "transcript matches the reference"
	sed 's/^/# /' "$DIR/diff" >&2
fi
grep -qxF "REJECT 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table" "$DIR/got"
ok $? "unknown virtual user: 550 5.1.1"
grep -qxF "REJECT 554 5.7.1 <somebody@example.org>: Relay access denied" "$DIR/got"
ok $? "relay: 554 5.7.1"
grep -qxF "DEFER 451 4.3.0 <user1@example.com>: Temporary lookup failure" "$DIR/got"
ok $? "database down: 451 4.3.0"
grep -qF "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <somebody@example.org>: Relay access denied; from=<sender@example.net> to=<somebody@example.org> proto=ESMTP helo=<localhost>" "$DIR/log"
ok $? "relay refusal logged in Postfix form (mynetworks does not relay: the seed's recipient list has no permit_mynetworks)"
unlike "$(cat "$DIR/log")" "unknown smtpd restriction" \
	"every restriction in the seed is known"
done_testing
