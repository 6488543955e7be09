#!/bin/bash
# 61-crash.t - kill -9 every process on the mail path while mail streams
# in over SMTP, and check the promise a client relies on: a message
# answered 250 is delivered exactly once to each of its two recipients;
# a message without a 250 may be delivered (at most once), or not.
#
# A full instance with the seed's main.cf and master.cf (postscreen
# allow-lists 127.0.0.1 through its cidr table, so it hands every
# connection to smtpd at once), texthash maps. tests/lib/crash_load.py
# streams messages from 4 sessions and records the outcome of each
# (acked / refused / lost, the SMTP stage, the reply or error, the
# times); meanwhile the test kills, by PID, three rounds of:
#   the port-25 smtpd processes (master's "-s smtpd" children), qmgr,
#   virtual;
# after the second round master itself (kill -9; its children notice
# and drain), then starts master again as an administrator would
# (master -c DIR -d) and checks that the old children exit by
# themselves (each leftover is killed by PID and fails the check);
# and at the end, deterministically, an smtpd while a client is
# half-way through DATA (crash_load.py probe). A process is killed only
# once it is 4 s old, so master never throttles a service
# (MASTER_QUICK_EXIT).
#
# Every submission without a 250 is counted by outcome and stage and
# must be explained by the death of an smtpd or of master: a broken
# connection must end within 1 s after an smtpd kill or while master is
# down, a refused connect happen while master is down, a 4xx reply come
# within 3 s after an smtpd kill or master's restart. qmgr and virtual
# deaths never explain one (smtpd does not need them to accept mail).
# Then, for each Message-ID found in the Maildirs:
#   acked                  exactly once in a/ and in b/
#   refused (any stage), or lost before the final dot was sent:
#                          never delivered (the server never had it or
#                          said it did not take it)
#   lost after the dot     at most once, in both Maildirs or in neither
# After the killing, 20 messages in a row must all get their 250.
# Ports 25300-25339. About 40 s (the old test, with only qmgr and
# virtual killed, took 23 s).
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"

PY=/usr/bin/python3
LOAD="$PY $POSTERN_TOP/tests/lib/crash_load.py"
BASE=$((25300 + ($$ % 10) * 4))
PORT=$BASE
DIR=$(mktemp -d /tmp/postern-61-crash.XXXXXX)
LOADPID=
OLDKIDS=
cleanup() {
	[ -n "$LOADPID" ] && kill "$LOADPID" 2>/dev/null
	for p in $OLDKIDS; do kill -KILL "$p" 2>/dev/null; done
	instance_cleanup
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT
note "directory $DIR"

instance_ab "$DIR/i" "$PORT" $((BASE + 1)) || bail_out "instance did not start"
E=$INSTANCE_CONF

now() { date +%s.%N; }

# kids NAME [AGE]: master's children of one service that have run for
# AGE seconds or more ("smtpd" is the pass service behind postscreen,
# not submission); one ps call
kids() {
	[ -n "$INSTANCE_PID" ] || return 0
	ps -o pid=,etimes=,args= --ppid "$INSTANCE_PID" 2>/dev/null |
	awk -v name="$1" -v age="${2:-0}" '
		$2 < age { next }
		name == "smtpd" { if ($3 == "smtpd" && / -s smtpd /) print $1; next }
		$3 == name { print $1 }'
}

# kill_service NAME: kill -9 the processes of the service that have run
# for 4 s or more (MASTER_QUICK_EXIT: a younger death would throttle
# it); waits up to 6 s for every one to be that old, and up to 15 s
# for one; logs "TIME NAME PID" in DIR/kills
kill_service() {
	local name=$1 pids pid t i=0
	while :; do
		pids=$(kids "$name" 4)
		[ -n "$pids" ] && [ "$pids" = "$(kids "$name")" ] && break
		[ -n "$pids" ] && [ $i -ge 60 ] && break
		i=$((i + 1))
		[ $i -ge 150 ] && { diag "no $name to kill"; return 1; }
		sleep 0.1
	done
	for pid in $pids; do
		# Declare the death this test causes (instance.sh's check of
		# master's "killed by signal" lines), where that exists.
		declare -F instance_allow >/dev/null &&
			instance_allow "process [^ ]+/$name pid $pid killed by signal 9"
		t=$(now)	# before the kill: its sessions end after t
		kill -KILL "$pid" && echo "$t $name $pid" >>"$DIR/kills"
	done
	return 0
}

: >"$DIR/kills"
: >"$DIR/outcomes"
$LOAD stream "$PORT" "$DIR/outcomes" "$DIR/stop" 4 5000 s \
	>"$DIR/load.out" 2>&1 &
LOADPID=$!
started=$(now)
sleep 1
for round in 1 2 3; do
	kill_service smtpd
	sleep 1.2
	kill_service qmgr
	sleep 1.2
	kill_service virtual
	sleep 1.2
	[ $round = 2 ] || continue
	# master: kill -9, then start it again as an administrator would.
	OLDKIDS=$(instance_children | tr '\n' ' ')
	probs=$(instance_problems)
	[ -z "$probs" ]
	ok $? "first master: no unexpected child death, panic: or sanitizer report" ||
		diag "$probs"
	echo "$(now) master $INSTANCE_PID" >>"$DIR/kills"
	kill -KILL "$INSTANCE_PID"
	wait "$INSTANCE_PID" 2>/dev/null
	mpid=$INSTANCE_PID
	INSTANCE_PID=
	sleep 0.5
	wait_for "! port_listening $PORT" 10
	ok $? "master $mpid killed: its children closed the listener"
	instance_start
	ok $? "master started again after kill -9 (pid $INSTANCE_PID)" ||
		bail_out "no master"
	echo "$(now) master-restarted $INSTANCE_PID" >>"$DIR/kills"
	left=
	for p in $OLDKIDS; do
		wait_for "! pid_alive $p" 30 || left="$left $p"
	done
	for p in $left; do kill -KILL "$p" 2>/dev/null; done
	[ -z "$left" ]
	ok $? "the old master's children ($OLDKIDS) exited by themselves${left:+; killed:$left}"
	OLDKIDS=
done
# Deterministic: an smtpd dies while a client is half-way through DATA.
$LOAD probe "$PORT" "$DIR/outcomes" p1 >"$DIR/probe.out" 2>&1 &
probepid=$!
wait_for "grep -q in-data '$DIR/probe.out'" 20
ok $? "probe client is half-way through DATA"
kill_service smtpd
wait_for "! pid_alive $probepid" 40
wait "$probepid" 2>/dev/null
like "$(sed -n 2p "$DIR/probe.out")" '^lost body ' \
	"smtpd killed mid-DATA: the client saw the connection end, no reply"
touch "$DIR/stop"
wait "$LOADPID"
LOADPID=
ended=$(now)

# 20 in a row once nothing is killed any more (smtpd restarted)
wait_for "[ -n \"\$(kids smtpd)\" ]" 15
$LOAD stream "$PORT" "$DIR/after" "$DIR/nostop" 1 20 q >/dev/null 2>&1
is "$(grep -c ' acked ' "$DIR/after")/$(wc -l <"$DIR/after")" 20/20 \
	"after the killing, 20 messages in a row get their 250"
cat "$DIR/after" >>"$DIR/outcomes"

n_smtpd=$(grep -c ' smtpd ' "$DIR/kills")
n_qmgr=$(grep -c ' qmgr ' "$DIR/kills")
n_virtual=$(grep -c ' virtual ' "$DIR/kills")
n_master=$(grep -c ' master ' "$DIR/kills")
note "$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.0f", b - a }') s" \
	"of killing: smtpd $n_smtpd, qmgr $n_qmgr, virtual $n_virtual, master $n_master"
[ "$n_smtpd" -ge 4 ] && [ "$n_qmgr" -ge 3 ] && [ "$n_virtual" -ge 3 ] &&
	[ "$n_master" = 1 ]
ok $? "killed smtpd $n_smtpd, qmgr $n_qmgr, virtual $n_virtual, master $n_master times"
for s in smtpd qmgr virtual; do
	pids=$(awk -v s=$s '$2 == s { print $3 }' "$DIR/kills")
	miss=
	for p in $pids; do
		instance_log_grep "process [^ ]+/$s pid $p killed by signal 9" \
			>/dev/null || miss="$miss $p"
	done
	[ -z "$miss" ]
	ok $? "master logged each killed $s${miss:+ (not:$miss)}"
done

# Every message without a 250 is explained by the death of smtpd or
# master around it; refused and lost are counted apart, with stages.
$PY - "$DIR/outcomes" "$DIR/kills" >"$DIR/explain" <<'PYEOF'
import sys
from collections import Counter
outs = [l.split(None, 5) for l in open(sys.argv[1]) if l.strip()]
kills = [l.split() for l in open(sys.argv[2]) if l.strip()]
# What each death explains (times in seconds from the kill):
#   lost (the connection broke): it ended within 1 s after the kill of
#     an smtpd (its sessions die with it), or while master was down
#     (kill .. restart + 1: the old postscreen closed its listener);
#   refused at connect: only while master was down (kill .. restart
#     + 1): master holds the port, nothing else closes it;
#   refused with a 4xx reply: within 3 s after an smtpd kill (until its
#     successor is up) or while master was down (.. restart + 3).
smtpd_kills = [float(k[0]) for k in kills if k[1] == 'smtpd']
master_down = []
for k in kills:
    if k[1] == 'master':
        t = float(k[0])
        up = [float(r[0]) for r in kills
              if r[1] == 'master-restarted' and float(r[0]) >= t]
        master_down.append((t, up[0] if up else t + 60))


def explain(outcome, stage, t0, t1):
    if outcome == 'lost':
        if any(t <= t1 <= t + 1 for t in smtpd_kills):
            return 'smtpd'
        if any(a <= t1 <= b + 1 for a, b in master_down):
            return 'master'
    elif stage == 'connect':
        if any(a <= t1 and t0 <= b + 1 for a, b in master_down):
            return 'master'
    else:
        if any(t <= t1 and t0 <= t + 3 for t in smtpd_kills):
            return 'smtpd'
        if any(a <= t1 and t0 <= b + 3 for a, b in master_down):
            return 'master'
    return None


tally, bad = Counter(), []
for o in outs:
    mid, t0, t1, outcome, stage = o[:5]
    detail = o[5].strip() if len(o) > 5 else ''
    if outcome == 'acked':
        continue
    t0, t1 = float(t0), float(t1)
    why = explain(outcome, stage, t0, t1)
    key = '%s at %s (%s)' % (outcome, stage, detail.split(':')[0][:40])
    if why:
        tally['%s, %s death' % (key, why)] += 1
    else:
        near = min(kills, key=lambda k: abs(float(k[0]) - t1))
        bad.append('%s %s at %s %.3f-%.3f (%s); nearest kill: %s %s %+.3f s'
                   % (mid, outcome, stage, t0, t1, detail, near[1], near[2],
                      float(near[0]) - t1))
c = Counter(o[3] for o in outs)
print('# %d submissions: %d acked, %d refused, %d lost' %
      (len(outs), c['acked'], c['refused'], c['lost']))
for k, n in sorted(tally.items()):
    print('#   %4d %s' % (n, k))
for b in bad:
    print('UNEXPLAINED ' + b)
PYEOF
grep -v '^UNEXPLAINED' "$DIR/explain"
acked=$(grep -c ' acked ' "$DIR/outcomes")
[ "$acked" -ge 100 ]
ok $? "the stream went on between the kills ($acked acknowledged)"
unexplained=$(grep -c '^UNEXPLAINED' "$DIR/explain")
is "$unexplained" 0 \
	"every submission without a 250 overlapped an smtpd or master death" ||
	diag "$(grep '^UNEXPLAINED' "$DIR/explain" | head -20)"
grep -q ' refused \| lost ' "$DIR/outcomes"
ok $? "the kills cost some submissions (else nothing was tested)"

count() {
	find "$INSTANCE_MAIL/example.org/$1/new" -type f 2>/dev/null | wc -l
}
"$POSTERN_BIN/postqueue" -c "$E" -f >/dev/null 2>&1
# A smtpd killed between creating its temporary file and the commit
# leaves incoming/.ID: state S0 of QUEUE.md, never acknowledged, removed
# by qmgr's start-up sweep once old. Not queued mail, so not counted here;
# an in-flight pickup (.pickup.*) would be.
wait_for "[ \$(count a) -ge $acked ] && [ \$(count b) -ge $acked ] && \
	[ -z \"\$(find '$INSTANCE_QUEUE'/incoming '$INSTANCE_QUEUE'/active \
	'$INSTANCE_QUEUE'/deferred -type f \( ! -name '.*' -o \
	-name '.pickup.*' \))\" ]" 120
ok $? "queue drained after the killing stopped"

$PY - "$INSTANCE_MAIL/example.org" "$DIR/outcomes" >"$DIR/verdict" <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ['POSTERN_TOP'], 'tests', 'lib'))
from crash_verdict import maildirs, classes, check
base, outfile = sys.argv[1], sys.argv[2]
seen = maildirs(base)
cls = classes(outfile)
for r in 'ab':
    acked = [k for k, c in cls.items() if c == 'acked']
    check('%s: every acknowledged message exactly once (%d)' % (r, len(acked)),
          [k for k in acked if seen[r].get(k, 0) != 1])
    check('%s: no message is there twice' % r,
          [k for k, n in seen[r].items() if n > 1])
    check('%s: nothing refused or cut off before the dot is there' % r,
          [k for k in seen[r] if cls.get(k) == 'not-sent'])
    check('%s: nothing that was never sent is there' % r,
          [k for k in seen[r] if k not in cls])
after = [k for k, c in cls.items() if c == 'lost-after-dot']
check('lost after the dot: in both Maildirs or neither (%d such, %d '
      'delivered)' % (len(after), sum(1 for k in after if k in seen['a'])),
      [k for k in after if (k in seen['a']) != (k in seen['b'])])
PYEOF
while read -r v name; do
	[ "$v" = ok ]
	ok $? "$name"
done <"$DIR/verdict"

instance_stop
ok $? "instance stops cleanly"
done_testing
