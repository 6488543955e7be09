#!/bin/bash
# 89-qmgr-wakeup.t - smtpd's kept connection to qmgr survives a restart
#
# Issue 13: smtpd wakes qmgr with a "W" on one connection it keeps to
# public/qmgr (lib/trigger.h, trigger_keep()), not a connection per
# group commit. When qmgr is killed (SIGTERM, then SIGKILL) between two
# messages, master starts a new one; the smtpd that accepted the first
# message must see the old connection fail (EPIPE), connect to the new
# qmgr and send the wakeup again, so the second message is delivered
# within 2 s of its 250, and before the new qmgr's first poll of
# incoming/ (QMGR_POLL, 5 s after it started: the test sends 1 s after
# the start, so a lost wakeup would wait for the poll and fail the
# check). smtpd is limited to one process (master.cf maxproc 1) so that
# every message goes through the process that holds the connection;
# the log must show one smtpd PID for all of them. Before each kill a
# message is delivered (and its file removed: the kill does not
# interrupt a delivery), so that smtpd holds a connection to the qmgr
# about to die. Then a burst of 30
# messages in 10 sessions at once: all delivered, once each. A mutant
# smtpd that does not reconnect fails the restart checks (its "W" is
# dropped; delivery waits for the poll, 3-5 s). Ports 29500-29519.
# About 20 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/postern-89.XXXXXX)
trap 'instance_cleanup; [ -n "${POSTERN_KEEP:-}" ] || rm -rf "$DIR"' EXIT
SMTP=$(free_port 29500 29509) || bail_out "no free port"
# submission on a port of ours too, not the seed's 587 (another test may hold it)
SUB=$(free_port 29510 29519) || bail_out "no free port"

instance_create "$DIR/i" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
printf '127.0.0.0/8 permit\n' >"$E/postscreen_access.cidr"
instance_local_mail a@example.org || bail_out "postconf -e"
instance_conf \
	"mynetworks=192.0.2.0/24" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"smtpd_helo_restrictions=" "smtpd_sender_restrictions=" \
	"smtpd_recipient_restrictions=reject_unauth_destination" ||
	bail_out "postconf -e"
# one smtpd process: it must reach the restarted qmgr itself
awk '$1 == "smtpd" && $2 == "pass" { $7 = "1" } { print }' \
	"$E/master.cf" >"$E/master.cf.new" && mv "$E/master.cf.new" "$E/master.cf"
like "$(grep '^smtpd ' "$E/master.cf")" '^smtpd pass - - - - 1 smtpd' \
	"master.cf: smtpd limited to one process"
instance_allow 'process [^ ]*/qmgr pid [0-9]+ killed by signal (9|15)'
instance_start || bail_out "instance did not start"

timeout 90 $PY - "$SMTP" "$INSTANCE_PID" "$INSTANCE_MAIL/example.org/a/new" \
	"$INSTANCE_LOG" >"$DIR/client.out" 2>&1 <<'PYEOF'
import os, re, signal, smtplib, sys, threading, time
port, master, new, maillog = (int(sys.argv[1]), int(sys.argv[2]),
                              sys.argv[3], sys.argv[4])
QMGR_POLL = 5.0
tick = os.sysconf('SC_CLK_TCK')

def qmgr_pids():
    pids = []
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            st = open('/proc/%s/stat' % p).read()
        except OSError:
            continue
        comm = st[st.index('(') + 1:st.rindex(')')]
        ppid = int(st[st.rindex(')') + 2:].split()[1])
        if comm == 'qmgr' and ppid == master:
            pids.append(int(p))
    return pids

def started(pid):
    st = open('/proc/%d/stat' % pid).read()
    ticks = int(st[st.rindex(')') + 2:].split()[19])
    boot = time.time() - float(open('/proc/uptime').read().split()[0])
    return boot + ticks / tick

def send(subject):
    s = smtplib.SMTP('127.0.0.1', port, local_hostname='client.example.net',
                     timeout=30)
    s.sendmail('s@client.example.net', ['a@example.org'],
               'Subject: %s\r\n\r\nbody\r\n' % subject)
    t = time.time()
    s.quit()
    return t

def finished(n, limit):
    """qmgr logged n files 'removed' (done with them)"""
    end = time.time() + limit
    while time.time() < end:
        with open(maillog) as f:
            if len(re.findall(r'qmgr\[\d+\]: \w+: removed', f.read())) >= n:
                return True
        time.sleep(0.02)
    return False

def delivered(n, limit):
    end = time.time() + limit
    while time.time() < end:
        files = os.listdir(new) if os.path.isdir(new) else []
        if len(files) >= n:
            return max(os.path.getmtime(os.path.join(new, f))
                       for f in files)
        time.sleep(0.02)
    return None

t = send('first')
d = delivered(1, 20)
print('first: delivered %s' % (d is not None))
count = 1
for name, sig in (('TERM', signal.SIGTERM), ('KILL', signal.SIGKILL)):
    # a wakeup first, so that smtpd holds a connection to this qmgr
    send('before %s' % name)
    count += 1
    print('before %s: delivered %s' % (name, delivered(count, 20)
                                       is not None and finished(count, 20)))
    old = qmgr_pids()
    assert len(old) == 1, old
    os.kill(old[0], sig)
    end = time.time() + 20
    while time.time() < end:
        now = qmgr_pids()
        if len(now) == 1 and now[0] != old[0]:
            break
        time.sleep(0.05)
    else:
        print('%s: no new qmgr' % name)
        continue
    start = started(now[0])
    time.sleep(max(0, start + 1.0 - time.time()))
    t = send('after %s' % name)
    count += 1
    d = delivered(count, 15)
    if d is None:
        print('%s: not delivered' % name)
        continue
    # d is a file's mtime, on the kernel's coarse clock (a few ms behind
    # time.time()): a delivery right after the 250 may show as -0.00 s
    print('%s: latency %.2f s, before poll %s (%.2f s after start)'
          % (name, max(0.0, d - t), d < start + QMGR_POLL, d - start))
    print('%s: quick %s' % (name, d - t < 2.0))

def burst(k):
    for i in range(3):
        send('burst %d.%d' % (k, i))
th = [threading.Thread(target=burst, args=(k,)) for k in range(10)]
for x in th:
    x.start()
for x in th:
    x.join()
count += 30
print('burst: delivered %s' % (delivered(count, 30) is not None
                                and finished(count, 30)))
PYEOF
ok $? "the client script ran" || diag "$(cat "$DIR/client.out")"
out=$(cat "$DIR/client.out")
note "$out"
like "$out" 'first: delivered True' "the first message is delivered"
like "$out" 'before TERM: delivered True' "  and the next one"
like "$out" 'before KILL: delivered True' \
	"  and the one after the first restart"
like "$out" 'TERM: quick True' \
	"qmgr restarted (SIGTERM): the next message is delivered within 2 s" ||
	diag "$out"
like "$out" 'TERM: latency [0-9.]+ s, before poll True' \
	"  before the new qmgr's first poll (a wakeup, not the poll)"
like "$out" 'KILL: quick True' \
	"qmgr restarted (SIGKILL): the next message is delivered within 2 s" ||
	diag "$out"
like "$out" 'KILL: latency [0-9.]+ s, before poll True' \
	"  before the new qmgr's first poll (a wakeup, not the poll)"
like "$out" 'burst: delivered True' "a burst of 30 in 10 sessions: delivered"
is "$(ls "$INSTANCE_MAIL/example.org/a/new" | wc -l)" 35 \
	"  35 messages in the Maildir, once each"
pids=$(grep -oE 'smtpd\[[0-9]+\]: [0-9A-Za-z]+: client=' "$INSTANCE_LOG" |
	sed 's/: .*//' | sort -u | wc -l)
is "$pids" 1 "one smtpd process accepted every message (its kept connection)"
is "$(instance_log_count 'status=sent')" 35 "35 deliveries logged (status=sent)"
instance_stop
ok $? "instance stops, no process left"
done_testing
