#!/bin/bash
# big-messages.sh - issue 9's figure for streaming DATA: N concurrent
# sessions (default 1,000), each sending a SIZE-byte message (default
# 5 MB) at a slow pace (the transfer spread over PACE s, default 60),
# on the release build with the seed's configuration (postscreen in
# front, the client in mynetworks, message_size_limit = 0). Reports the
# peak total Pss of master and every process below it (sampled every
# 0.25 s from /proc/PID/smaps_rollup), its idle value, the largest
# smtpd, the transfer time, how many sessions got 250, how many
# messages reached the Maildir and how many of those are byte-exact
# (sha256 of the body). Not part of make check (5 GB through the queue
# and the Maildir); tests/66-data-streaming.t is the scaled version.
#
# usage: bash tests/bench/big-messages.sh [N [SIZE [PACE]]]
#	(from the top of the tree, after make all; as root)
#
# Measured 2026-12-03 on the 2-core development VM (load average about
# 20 from other work), release build, defaults (1,000 x 5 MB):
#	transfer time 138 s (all 1,000 sessions in DATA at once),
#	250 after the dot 1,000, total Pss idle 26 MB, peak 184 MB
#	(largest smtpd: Pss 54 MB, Rss 60 MB), delivered 1,000,
#	byte-exact 1,000, last delivery 152 s after the start.
set -u
POSTERN_TOP=${POSTERN_TOP:-$(pwd)}
POSTERN_BIN=${POSTERN_BIN:-$POSTERN_TOP/build/release/bin}
export POSTERN_TOP POSTERN_BIN
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

N=${1:-1000}
SIZE=${2:-$((5 * 1024 * 1024))}
PACE=${3:-60}
SRC=127.0.0.67
PY=/usr/bin/python3
PORT=$(free_port 26680 26689) || { echo "no free port" >&2; exit 1; }
SUB=$(free_port 26690 26699) || { echo "no free port" >&2; exit 1; }
DIR=$(mktemp -d /tmp/postern-bench-big.XXXXXX)
trap 'instance_cleanup; rm -rf "$DIR"' EXIT
ulimit -n $((2 * N + 200)) || exit 1

instance_create "$DIR/i" "$PORT" "$SUB" || exit 1
E=$INSTANCE_CONF
VUID=$(id -u vmail 2>/dev/null || id -u)
VGID=$(id -g vmail 2>/dev/null || id -g)
chown "$VUID:$VGID" "$INSTANCE_MAIL"
printf 'john@example.org example.org/john/\n' > "$E/vmailbox"
chmod 644 "$E/vmailbox"
instance_conf "mynetworks=$SRC/32" "postscreen_access_list=permit_mynetworks" \
	"smtpd_peername_lookup=no" "message_size_limit=0" \
	"alias_maps=" "alias_database=" "sender_canonical_maps=" "canonical_maps=" \
	"virtual_mailbox_domains=example.org" "virtual_mailbox_limit=0" \
	"virtual_mailbox_maps=texthash:$E/vmailbox" "virtual_alias_maps=" \
	"virtual_uid_maps=static:$VUID" "virtual_gid_maps=static:$VGID" || exit 1
instance_start || exit 1

start=$(date +%s)
$PY "$POSTERN_TOP/tests/lib/stream_load.py" "$SRC" 127.0.0.1 "$PORT" \
	"$INSTANCE_PID" "$N" "$SIZE" "$PACE" john@example.org "$DIR/r.json" ||
	exit 1
# wait for the deliveries: the Maildir stops growing for 30 s, or all in
last=-1 same=0
while [ "$same" -lt 30 ]; do
	n=$(find "$INSTANCE_MAIL/example.org/john/new" -type f 2>/dev/null | wc -l)
	[ "$n" -ge "$N" ] && break
	if [ "$n" = "$last" ]; then same=$((same + 1)); else same=0; fi
	last=$n
	sleep 1
done
end=$(date +%s)
$PY - "$DIR/r.json" "$INSTANCE_MAIL/example.org/john" $((end - start)) \
	"$SIZE" "$PACE" <<'EOF'
import hashlib, json, os, sys
a = json.load(open(sys.argv[1]))
want = a['bodies']
found = exact = 0
d = os.path.join(sys.argv[2], 'new')
for name in os.listdir(d):
    h = hashlib.sha256()
    with open(os.path.join(d, name), 'rb') as f:
        data = f.read()
    head, _, body = data.partition(b'\n\n')
    subj = [l[9:].decode() for l in head.split(b'\n')
            if l.startswith(b'Subject: ')]
    if subj and subj[0] in want:
        found += 1
        exact += hashlib.sha256(body).hexdigest() == want[subj[0]]
print('sessions:            %d x %d bytes, transfer paced over %s s'
      % (a['sessions'], int(sys.argv[4]), sys.argv[5]))
print('transfer time:       %s s (all sessions in DATA at once)' % a['secs'])
print('250 after the dot:   %d' % a['ok'])
print('other replies:       %s' % (a['codes'] or 'none'))
print('total Pss idle:      %d MB (master and all children, %d sessions '
      'open)' % (a['idle'] // 1024, a['sessions']))
print('total Pss peak:      %d MB' % (a['peak'] // 1024))
print('largest smtpd:       Pss %d MB, Rss %d MB'
      % (a['peak_smtpd_pss'] // 1024, a['peak_smtpd_rss'] // 1024))
print('delivered:           %d' % found)
print('byte-exact:          %d' % exact)
print('time to last delivery: %s s' % sys.argv[3])
EOF
instance_stop >/dev/null
