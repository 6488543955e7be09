#!/bin/bash
# 92-agent-reuse.t - qmgr keeps its connections to the delivery agents
#
# Issue 13: qmgr sends a request on a connection it kept from an
# earlier one when the agent's answer said reuse=1 (lib/deliver.h), and
# the agent (lib/agent.c) reads the next request there.
# 1. virtual alone (-l, no master): three requests on one connection,
#    three answers with reuse=1; a request written in two pieces (the
#    bufferevent path) and one after it on the same connection; an idle
#    connection closed by the agent after max_idle (2 s).
# 2. a master instance whose virtual runs with -v (it logs "new
#    connection from qmgr" per connection): 40 messages over SMTP are
#    delivered over fewer than 40 connections (and at least one is
#    logged, so the count is real); a reload of virtual (SIGHUP: drain)
#    while qmgr holds idle connections: the old process exits within
#    3 s (idle connections do not hold it; qmgr's own idle limit is 5 s)
#    and no delivery fails; then SIGKILL of virtual by PID twice while
#    60 messages stream in (master restarts it); then virtual with
#    -o max_use=4 (a reload): 12 messages one by one go 4 per
#    connection (a request on a kept connection is one use), over 3
#    connections, and 3 processes retire; 12 more at once: no process
#    serves more than 4, every one that logs "max_use reached" served
#    exactly 4 and exits, and master starts others. After a flush every
#    message (134 in all) is in the Maildir exactly once and the queue
#    is empty.
# 3. qmgr alone with a fake agent that drops a kept connection under a
#    request: sent again once, on a new connection, retry=1, no warning
#    (details there).
# Ports 29400-29419. About 10 s.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/postern-92.XXXXXX)
trap 'instance_cleanup; [ -n "${VPID:-}" ] && kill "$VPID" 2>/dev/null;
	[ -n "${POSTERN_KEEP:-}" ] || rm -rf "$DIR"' EXIT
SMTP=$(free_port 29400 29409) || bail_out "no free port"
SUB=$(free_port 29410 29419) || bail_out "no free port"

instance_ab "$DIR/i" "$SMTP" "$SUB" || bail_out "instance did not start"
E=$INSTANCE_CONF

# ---- 1. the agent alone ----
# virtual -l reads the queue named in main.cf; the requests name files
# that do not exist there: each answer defers, which is all this needs
vstart() {
	"$POSTERN_BIN/virtual" -c "$E" -d -v -l "$DIR/vsock" "$@" \
		>>"$DIR/virtual-alone.log" 2>&1 &
	VPID=$!
	# (no test connection: the agent logs each one, and they are counted)
	wait_for "sock_listening $DIR/vsock" 10
}
vstop() {
	kill -TERM "$VPID" 2>/dev/null
	wait "$VPID"
	local rc=$?
	VPID=
	return $rc
}
vstart -o max_idle=2 || bail_out "virtual -l did not start"
cat >"$DIR/alone.py" <<'PYEOF'
import socket, sys, time
path, mode = sys.argv[1], sys.argv[2]

def req(i):
    return ('version=1\nqueue_name=active\nqueue_id=NOSUCH%dX\n'
            'transport=virtual\nnexthop=example.org\nsender=s@example.net\n'
            'rcpt_count=1\nrcpt.0.addr=a@example.org\nrcpt.0.index=0\n'
            'rcpt.0.orig=a@example.org\nrcpt.0.notify=0\nrcpt.0.retry=0\n\n'
            % i).encode()

def answer(s):
    data = b''
    while not data.endswith(b'\n\n'):
        c = s.recv(65536)
        if not c:
            return data, True
        data += c
    return data, False

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(path)
n = 0
for i in range(3):
    s.sendall(req(i))
    a, eof = answer(s)
    if not eof and b'rcpt.0.action=deferred' in a and b'\nreuse=1\n' in a:
        n += 1
print('three: %d answers with reuse=1' % n)
r = req(7)
s.sendall(r[:40])
time.sleep(0.3)
s.sendall(r[40:])
a, eof = answer(s)
print('pieces: answered %s' % (not eof and b'reuse=1' in a))
s.sendall(req(8))
a, eof = answer(s)
print('after pieces: answered %s' % (not eof and b'reuse=1' in a))
t = time.time()
a, eof = answer(s)
print('idle: EOF %s after %.1f s' % (eof and a == b'', time.time() - t))
PYEOF
timeout 60 $PY "$DIR/alone.py" "$DIR/vsock" reuse >"$DIR/alone1.out" 2>&1
ok $? "the client script ran" || diag "$(cat "$DIR/alone1.out")"
out=$(cat "$DIR/alone1.out")
note "$out"
like "$out" 'three: 3 answers with reuse=1' \
	"agent: three requests, three answers on one connection"
like "$out" 'pieces: answered True' \
	"agent: a request in two pieces on a kept connection is answered"
like "$out" 'after pieces: answered True' "  and the next one after it"
like "$out" 'idle: EOF True after [1-4]\.' \
	"agent: an idle connection is closed after max_idle (2 s)"
is "$(grep -c 'new connection from qmgr' "$DIR/virtual-alone.log")" 1 \
	"agent -v: one connection logged"
vstop
ok $? "virtual exits 0 on SIGTERM"

# ---- 2. qmgr and virtual under master ----
sed -i -E 's/^(virtual +unix +- +n +n +- +- +virtual)$/\1 -v/' \
	"$E/master.cf"
like "$(grep '^virtual ' "$E/master.cf")" 'virtual -v$' \
	"master.cf: virtual -v (logs each new connection)"
"$POSTERN_BIN/postern" -c "$E" reload >/dev/null 2>&1
wait_for "pgrep -P $INSTANCE_PID -f 'virtual .*-v'" 20
ok $? "after a reload master runs virtual -v"
instance_allow 'process [^ ]*/virtual pid [0-9]+ killed by signal 9'

timeout 260 $PY - "$SMTP" "$INSTANCE_PID" "$INSTANCE_MAIL/example.org/a/new" \
	"$INSTANCE_LOG" "$POSTERN_BIN" "$E" "$INSTANCE_QUEUE" \
	>"$DIR/client.out" 2>&1 <<'PYEOF'
import collections, os, re, signal, smtplib, subprocess, sys, threading
import time
port, master, new, maillog, bindir, conf, queue = sys.argv[1:8]
port, master = int(port), int(master)

def children(name):
    r = subprocess.run(['pgrep', '-P', str(master), '-x', name],
                       capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]

def send(tag, k, each=None):
    s = smtplib.SMTP('127.0.0.1', port, local_hostname='client.example.net',
                     timeout=30)
    for i in range(k):
        s.sendmail('s@client.example.net', ['a@example.org'],
                   'Subject: %s %d\r\nMessage-ID: <%s-%d@t>\r\n\r\nbody\r\n'
                   % (tag, i, tag, i))
        if each:
            each(i)
    s.quit()

def parallel(tag, sessions, k):
    th = [threading.Thread(target=send, args=('%s%d' % (tag, j), k))
          for j in range(sessions)]
    for x in th:
        x.start()
    for x in th:
        x.join()

def log():
    with open(maillog, errors='replace') as f:
        return f.read()

def wait(cond, limit):
    end = time.time() + limit
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()

def removed():
    return len(re.findall(r'qmgr\[\d+\]: \w+: removed', log()[start:]))

def queue_empty():
    return not any(os.listdir(os.path.join(queue, d))
                   for d in ('incoming', 'active', 'deferred', 'maildrop'))

def ids():
    out = []
    for f in os.listdir(new) if os.path.isdir(new) else []:
        for line in open(os.path.join(new, f), errors='replace'):
            if line.startswith('Message-ID: <'):
                out.append(line.strip())
                break
    return out

def conns():
    return len(re.findall(r'virtual\[\d+\]: new connection from qmgr',
                          log()[start:]))

start = len(log())
# 40 messages in 4 sessions at once
parallel('a', 4, 10)
print('first: delivered %s' % wait(lambda: removed() >= 40, 60))
print('first: connections %d for 40 deliveries' % conns())

# a reload of virtual while qmgr holds idle connections
old = children('virtual')
t = time.time()
for p in old:
    os.kill(p, signal.SIGHUP)
gone = wait(lambda: not any(p in children('virtual') for p in old), 10)
print('hup: old virtual gone %s in %.1f s' % (gone, time.time() - t))
parallel('b', 2, 5)
print('hup: next delivered %s' % wait(lambda: removed() >= 50, 60))
print('hup: agent failures %d' % len(re.findall(r'agent failed', log())))

# SIGKILL twice while 60 messages stream in
th = threading.Thread(target=parallel, args=('c', 3, 20))
th.start()
kills = 0
for n in (15, 35):
    wait(lambda: removed() >= 50 + n, 60)
    pids = children('virtual')
    for p in pids:
        os.kill(p, signal.SIGKILL)
        kills += 1
    wait(lambda: children('virtual') and
         not set(children('virtual')) & set(pids), 20)
th.join()
print('kill: %d virtual process(es) killed' % kills)

def flushed():
    if queue_empty():
        return True
    subprocess.run([os.path.join(bindir, 'postqueue'), '-c', conf, '-f'],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    return False
print('kill: queue empty %s' % wait(flushed, 90))

# virtual with max_use=4: a request on a kept connection is one use too
cf = os.path.join(conf, 'master.cf')
with open(cf) as f:
    text = f.read()
with open(cf, 'w') as f:
    f.write(re.sub(r'^(virtual +unix .* virtual -v)$', r'\1 -o max_use=4',
                   text, flags=re.M))
old = children('virtual')
subprocess.run([os.path.join(bindir, 'postern'), '-c', conf, 'reload'],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print('max: new virtual %s' % wait(lambda: children('virtual') and
                                   not set(children('virtual')) & set(old),
                                   20))

def per_process(seg):
    reqs = collections.Counter(re.findall(r'virtual\[(\d+)\]: \w+: to=<',
                                          seg))
    conn = collections.Counter(re.findall(
        r'virtual\[(\d+)\]: new connection from qmgr', seg))
    return reqs, conn, set(re.findall(r'virtual\[(\d+)\]: max_use reached',
                                      seg))

# 12 messages one by one (each delivered before the next is sent)
start = len(log())
send('e0', 12, lambda i: wait(lambda: removed() >= i + 1, 30))
reqs, conn, full = per_process(log()[start:])
print('seq: %d requests, %d connections, %d retired' % (
    sum(reqs.values()), sum(conn.values()), len(full)))
# then 12 in two sessions at once
parallel('d', 2, 6)
print('max: delivered %s' % wait(lambda: removed() >= 24, 60))
reqs, conn, full = per_process(log()[start:])
print('max: %d requests, %d connections, %d processes, at most %d each' % (
    sum(reqs.values()), sum(conn.values()), len(reqs), max(reqs.values())))
print('max: %d retired, with 4 requests each %s' % (
    len(full), all(reqs[p] == 4 for p in full)))
print('max: retired exited %s' % wait(
    lambda: not {int(p) for p in full} & set(children('virtual')), 10))
print('max: queue empty %s' % wait(flushed, 60))
print('max: agent failures %d' % len(re.findall(r'agent failed',
                                                 log()[start:])))
got = ids()
want = set('Message-ID: <%s%d-%d@t>' % (t, j, i)
           for t, s, k in (('a', 4, 10), ('b', 2, 5), ('c', 3, 20),
                           ('d', 2, 6), ('e', 1, 12))
           for j in range(s) for i in range(k))
print('all: %d files, %d missing, %d twice' % (
    len(got), len(want - set(got)), len(got) - len(set(got))))
PYEOF
ok $? "the client script ran" || diag "$(cat "$DIR/client.out")"
out=$(cat "$DIR/client.out")
note "$out"
like "$out" 'first: delivered True' "40 messages delivered"
n=$(sed -n 's/^first: connections \([0-9]*\) .*/\1/p' <<<"$out")
ok "$([ "${n:-0}" -ge 1 ] && [ "${n:-0}" -lt 40 ] && echo 0 || echo 1)" \
	"40 deliveries over fewer connections (virtual -v logged ${n:-none})"
like "$out" 'hup: old virtual gone True in [0-2]\.' \
	"virtual reloaded (SIGHUP) with idle connections: exits within 3 s"
like "$out" 'hup: next delivered True' "  the next 10 messages delivered"
like "$out" 'hup: agent failures 0' "  no delivery failed over the reload"
like "$out" 'kill: [2-9] virtual process\(es\) killed' \
	"virtual killed by PID twice while 60 messages stream in"
like "$out" 'kill: queue empty True' \
	"  queue empty after a flush"
like "$out" 'max: new virtual True' "virtual with -o max_use=4 (a reload)"
like "$out" 'seq: 12 requests, 3 connections, 3 retired' \
	"  12 messages one by one: 4 requests on each of 3 connections, 3 processes retired"
like "$out" 'max: delivered True' "  then 12 at once: 24 messages delivered"
like "$out" 'max: [0-9]+ requests, [0-9]+ connections, [0-9]+ processes, at most 4 each' \
	"  no virtual process served more than 4 requests"
like "$out" 'max: [4-9] retired, with 4 requests each True' \
	"  each process that logged max_use reached served exactly 4"
like "$out" 'max: retired exited True' "  and exited (master started others)"
like "$out" 'max: queue empty True' "  queue empty"
like "$out" 'max: agent failures 0' "  no delivery failed"
like "$out" 'all: 134 files, 0 missing, 0 twice' \
	"  every message in the Maildir exactly once"
instance_stop
ok $? "instance stops, no process left"

# ---- 3. qmgr alone, with an agent that drops a kept connection ----
# The agent answers reuse=1, then closes a kept connection on the next
# request without answering (what a draining or restarted agent does when
# the request was in flight): qmgr must send it again once, on a new
# connection, with retry=1, and log no warning; a request the agent also
# drops on the new connection is deferred ("agent failed"), not tried a
# third time.
cat >"$DIR/part3.py" <<'PYEOF'
import os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.environ['POSTERN_TOP'], 'tests/lib'))
import qfile
from qvtest import wait_for, wake
from smtp_dialog import wait_served
tmp, q, conf, out = qfile.qmgr_tree('postern-92-qmgr.')
with open(os.path.join(conf, 'main.cf'), 'w') as f:
    f.write('queue_directory = %s\nmyhostname = mx.test.example\n'
            'mydestination =\nvirtual_mailbox_domains = example.com\n'
            'relayhost =\nalias_maps =\n' % q)
qfile.own_tree(tmp)
seen = []      # (connection number, queue id, retry, answered)
lock = threading.Lock()

def serve(c, n):
    k = 0
    while True:
        data = b''
        while b'\n\n' not in data:
            chunk = c.recv(65536)
            if not chunk:
                c.close()
                return
            data += chunk
        a = dict(l.split('=', 1) for l in data.decode().split('\n') if '=' in l)
        qid = a['queue_id']
        # DROP: dropped when it comes on a kept connection; DROPALL: always
        drop = qid.startswith('DROPALL') or (qid.startswith('DROP') and k > 0)
        with lock:
            seen.append((n, qid, a.get('rcpt.0.retry'), not drop))
        k += 1
        if drop:
            c.close()
            return
        c.sendall(b'version=1\nrcpt_count=1\nrcpt.0.action=delivered\n'
                  b'rcpt.0.status=2.0.0\nrcpt.0.reason=fake\n'
                  b'rcpt.0.relay=fake\nreuse=1\n\n')

def listen():
    path = os.path.join(q, 'private', 'virtual')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o666)   # qmgr runs as mail_owner
    s.listen(16)
    n = 0
    while True:
        c, _ = s.accept()
        n += 1
        threading.Thread(target=serve, args=(c, n), daemon=True).start()

threading.Thread(target=listen, daemon=True).start()
qlog = os.path.join(tmp, 'qmgr.log')
qm = subprocess.Popen([os.path.join(os.environ['POSTERN_BIN'], 'qmgr'), '-c',
                       conf, '-d', '-l', os.path.join(q, 'public', 'qmgr')],
                      stdout=subprocess.DEVNULL, stderr=open(qlog, 'a'))
# served, not only accepted: the socket listens before qmgr takes the
# queue lock and starts its life (the arrival time after which a message
# is fresh, retry=0); a message written in between is from before it
# (retry=1), which a loaded machine showed (check 31, 2 runs of 4)
wait_served(os.path.join(q, 'public', 'qmgr'), qm, 15)

def one(qid, where):
    qfile.write_qf(q, qid, 's@example.org', [('u@example.com', 0)],
                   'Subject: x\n\nx\n')
    wake(q)
    if where == 'removed':
        return wait_for(lambda: '%s: removed' % qid in open(qlog).read(), 15)
    return wait_for(lambda: os.path.exists(os.path.join(q, where, qid)), 15)

print('first: removed %s' % one('FIRST1X', 'removed'))
print('drop: removed %s' % one('DROP1X', 'removed'))
print('dropall: deferred %s' % one('DROPALL1X', 'deferred'))
time.sleep(0.5)
for row in seen:
    print('seen: conn %d %s retry=%s answered=%s' % row)
log = open(qlog).read()
print('drop: warnings %d' % log.count('DROP1X: delivery temporarily'))
print('dropall: warnings %d' % log.count('DROPALL1X: delivery temporarily'))
qm.terminate()
print('qmgr: exit %s' % qm.wait(10))
if 'runtime error' not in log and 'Sanitizer' not in log:
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
else:
    print(log)
PYEOF
out=$(POSTERN_BIN=$POSTERN_BIN timeout 90 $PY "$DIR/part3.py" 2>&1)
ok $? "the qmgr script ran" || diag "$out"
note "$out"
like "$out" 'first: removed True' "qmgr: a first message delivered"
like "$out" 'seen: conn 1 FIRST1X retry=0 answered=True' \
	"  on a new connection (retry=0)"
like "$out" 'seen: conn 1 DROP1X retry=0 answered=False' \
	"  the next on the kept connection, which the agent drops"
like "$out" 'seen: conn 2 DROP1X retry=1 answered=True' \
	"  sent again on a new connection, with retry=1"
like "$out" 'drop: removed True' "  delivered then"
like "$out" 'drop: warnings 0' "  no warning logged for it"
is "$(grep -c '^seen: .* DROPALL1X ' <<<"$out")" 2 \
	"qmgr: a request dropped on the new connection too: two tries, no third"
like "$out" 'seen: conn 3 DROPALL1X retry=1 answered=False' \
	"  the second on a new connection"
like "$out" 'dropall: warnings 1' "  then deferred with one warning"
like "$out" 'dropall: deferred True' "  into deferred/"
like "$out" 'qmgr: exit 0' "qmgr exits 0 on SIGTERM"
done_testing
