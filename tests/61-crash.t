#!/bin/bash
# 61-crash.t - issue 3's crash test: while 500 messages stream in over
# SMTP, kill -9 qmgr and virtual again and again (master restarts them);
# then every acknowledged message is delivered exactly once to each of
# its two recipients: the Message-IDs in each Maildir are counted and
# compared with the list of messages that got their 250. Full instance,
# the seed's main.cf and master.cf (postscreen allow-lists 127.0.0.1
# through its cidr table), LMDB-free simple maps. Ports 25300-25339.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

PY=/usr/bin/python3
LOAD=$POSTERN_BIN/../tools/smtp-load
BASE=$((25300 + ($$ % 10) * 4))
PORT=$BASE
N=${POSTERN_CRASH_MESSAGES:-500}
DIR=$(mktemp -d /tmp/postern-61-crash.XXXXXX)
KILLER=
trap '[ -n "$KILLER" ] && kill "$KILLER" 2>/dev/null; instance_cleanup
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$DIR"' EXIT
note "directory $DIR"

[ -x "$LOAD" ] || bail_out "no smtp-load in $POSTERN_BIN/../tools"

instance_create "$DIR/i" "$PORT" $((BASE + 1)) || bail_out "instance_create"
E=$INSTANCE_CONF
printf 'a@example.org 1\nb@example.org 1\n' >"$E/vmailbox"
printf '127.0.0.1 permit\n' >"$E/postscreen_access.cidr"
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
chown "$VUID:$VGID" "$INSTANCE_MAIL"
instance_conf \
	"mynetworks=127.0.0.0/8" \
	"alias_maps=" "alias_database=" "canonical_maps=" \
	"sender_canonical_maps=" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"virtual_mailbox_domains=example.org" \
	"virtual_mailbox_maps=texthash:$E/vmailbox" \
	"virtual_alias_maps=" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID" \
	"minimal_backoff_time=1s" "maximal_backoff_time=2s" \
	"queue_run_delay=1s" || bail_out "postconf -e"
instance_start || bail_out "instance did not start"

# The killer: every 0.25 s one of qmgr and virtual, by PID, 40 times:
# during the stream and during the deliveries that follow it.
(
	i=0
	while [ $i -lt 40 ]; do
		sleep 0.25
		if [ $((i % 2)) = 0 ]; then p=qmgr; else p=virtual; fi
		pid=$(pgrep -P "$INSTANCE_PID" -x "$p" | head -1)
		[ -n "$pid" ] && kill -KILL "$pid" && echo "$p $pid" >>"$DIR/kills"
		i=$((i + 1))
	done
) &
KILLER=$!

"$LOAD" send -p "$PORT" -c 4 -n "$N" -s 1024 -f sender@example.net \
	-r a@example.org,b@example.org -l "$DIR/acked" >"$DIR/load.out" 2>&1
wait "$KILLER" 2>/dev/null
KILLER=
acked=$(sort -u "$DIR/acked" 2>/dev/null | wc -l)
kills=$(wc -l <"$DIR/kills" 2>/dev/null || echo 0)
note "$(cat "$DIR/load.out"); $kills kills"
[ "$acked" -ge $((N * 9 / 10)) ]
ok $? "most messages acknowledged while processes were killed ($acked/$N)"
[ "$kills" -ge 6 ]
ok $? "qmgr and virtual were killed repeatedly ($kills kills)"
[ "$(instance_log_count 'bin/(qmgr|virtual) pid [0-9]+ killed by signal 9')" -ge 4 ]
ok $? "master logged the killed children"

count() {
	find "$INSTANCE_MAIL/example.org/$1/new" -type f 2>/dev/null | wc -l
}
"$POSTERN_BIN/postqueue" -c "$E" -f >/dev/null 2>&1
wait_for "[ \$(count a) -ge $acked ] && [ \$(count b) -ge $acked ] && \
	[ -z \"\$(find '$INSTANCE_QUEUE'/incoming '$INSTANCE_QUEUE'/active \
	'$INSTANCE_QUEUE'/deferred -type f)\" ]" 180
ok $? "queue drained after the killing stopped"

for r in a b; do
	$PY - "$INSTANCE_MAIL/example.org/$r/new" "$DIR/acked" <<'PYEOF'
import os, re, sys
d, ackfile = sys.argv[1], sys.argv[2]
seen = {}
for name in os.listdir(d):
    with open(os.path.join(d, name), "rb") as f:
        m = re.search(rb"^Message-ID: <bench\.(\d+)@smtp-load>", f.read(),
                      re.M | re.I)
    if m:
        seen[m.group(1).decode()] = seen.get(m.group(1).decode(), 0) + 1
acked = set(open(ackfile).read().split())
dups = {k: v for k, v in seen.items() if v > 1}
missing = acked - set(seen)
print("# %s: %d files, %d distinct, %d acked, %d duplicated, %d missing"
      % (os.path.basename(os.path.dirname(d)), sum(seen.values()),
         len(seen), len(acked), len(dups), len(missing)))
sys.exit(1 if dups or missing else 0)
PYEOF
	ok $? "recipient $r: every acknowledged message exactly once"
done

instance_stop
ok $? "instance stops cleanly"
done_testing
