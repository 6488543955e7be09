#!/usr/bin/python3
"""43-qmgr-backoff.t - qmgr's retry schedule and queue lifetimes.

qmgr -d on a temporary queue, tests/lib/qmgr_fake_agent.py as the virtual
and smtp agents (a "defer*" recipient is always deferred 4.4.1). Small
times: minimal_backoff_time = 1s, maximal_backoff_time = 5s,
queue_run_delay = 1s, maximal_queue_lifetime = 12s, bounce_queue_lifetime
= 3s. Two messages written to incoming/ with a known arrival time: A
from alice@sender.example, B with the null sender (a bounce).

Postfix's rule (qmgr_active.c): after a deferral the next attempt is at
now + the message's age, clamped to [minimal_backoff_time,
maximal_backoff_time] - the interval doubles until the cap - and a
message whose age has reached maximal_queue_lifetime (a null sender:
bounce_queue_lifetime) after an attempt is returned: "ID: from=<s>,
status=expired, returned to sender".

Checks, for every deferral of every message (the file in deferred/ with
atime = the deferral time, mtime = the next retry time, as postern's
qmgr sets them; Postfix sets both to the retry time, only mtime counts): mtime - atime == clamp(atime - arrival, 1, 5) exactly; the next
attempt is not before mtime nor much later (queue_run_delay); A's
intervals grow with its age (1, 1, 2, 4 or so) and then stay at the cap
5 (ages 0, 1, 2, 4, 8: the time in queue doubles). B is deferred only
while younger than 3 s and expires at its first attempt after that, A
is still deferred after 3 s (bounce_queue_lifetime is not its limit) and
expires only after 12 s; Postfix's expiry log line for each; A's sender
gets a failure DSN with the last defer reason (Action: failed, Status:
4.4.1), B's null sender gets nothing; both leave the queue with their
defer logs. About 15 s.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok, read  # noqa: E402
import qfile  # noqa: E402
from smtp_dialog import wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
TOP = os.environ.get('POSTERN_TOP', '.')
OWNER = pwd.getpwnam('postern')[2:4] if os.geteuid() == 0 else None
MIN_B, MAX_B, LIFE, BLIFE = 1, 5, 12, 3


def write_qf(q, qid, sender, rcpt, arrival):
    """a queue file in incoming/, in the QUEUE.md format"""
    body = ('From: %s\nTo: %s\nSubject: backoff %s\nMessage-ID: <%s@t>\n\n'
            'hello\n' % (sender or 'MAILER-DAEMON', rcpt, qid, qid))
    qfile.write_qf(q, qid, sender, [(rcpt, 0)], body, arrival)


def clamp(v):
    return max(MIN_B, min(MAX_B, v))


def main():
    tmp, q, conf, out = qfile.qmgr_tree('postern-43-backoff.')
    with open(os.path.join(conf, 'main.cf'), 'w') as f:
        f.write('''queue_directory = %s
myhostname = mx.test.example
mydomain = test.example
myorigin = $mydomain
mydestination = localhost
virtual_mailbox_domains = example.com
alias_maps =
relayhost =
minimal_backoff_time = %ds
maximal_backoff_time = %ds
queue_run_delay = 1s
maximal_queue_lifetime = %ds
bounce_queue_lifetime = %ds
delay_warning_time = 0h
''' % (q, MIN_B, MAX_B, LIFE, BLIFE))
    qfile.own_tree(tmp)
    agent_log = os.path.join(tmp, 'agent.log')
    qlog = os.path.join(tmp, 'qmgr.log')
    procs = []
    try:
        agent = subprocess.Popen(
            ['/usr/bin/python3',
             os.path.join(TOP, 'tests/lib/qmgr_fake_agent.py'), q, agent_log,
             out, 'virtual', 'smtp'])
        procs.append(agent)
        up = all(wait_accepts(os.path.join(q, 'private', t), agent, 15)
                 for t in ('virtual', 'smtp'))
        procs.append(subprocess.Popen(
            [os.path.join(BIN, 'qmgr'), '-c', conf, '-d', '-l',
             os.path.join(q, 'public', 'qmgr')],
            stdout=subprocess.DEVNULL, stderr=open(qlog, 'a')))
        up = wait_accepts(os.path.join(q, 'public', 'qmgr'), procs[-1],
                          15) and up
        ok(up and os.path.exists(os.path.join(q, 'public', 'qmgr')),
           'qmgr and the fake agents are up', read(qlog))

        arrival = int(time.time())
        msgs = {'A': ('BOA%d' % os.getpid(), 'alice@sender.example',
                      'defer-a@example.com', LIFE),
                'B': ('BOB%d' % os.getpid(), '', 'defer-b@example.com',
                      BLIFE)}
        for k in 'AB':
            write_qf(q, msgs[k][0], msgs[k][1], msgs[k][2], arrival)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(os.path.join(q, 'public', 'qmgr'))
        s.sendall(b'W')
        s.close()

        # Watch both files: each stay in deferred/ is one deferral
        # (atime, mtime as qmgr set them), the moment it leaves is the
        # next attempt; gone from every queue directory is the end.
        seen = {k: [] for k in 'AB'}      # [atime, mtime, left_at]
        gone = {}
        end = arrival + LIFE + MAX_B + 8
        while time.time() < end and len(gone) < 2:
            now = time.time()
            for k in 'AB':
                if k in gone:
                    continue
                qid = msgs[k][0]
                try:
                    st = os.stat(os.path.join(q, 'deferred', qid))
                    pair = [int(st.st_atime), int(st.st_mtime)]
                    if not seen[k] or seen[k][-1][:2] != pair:
                        seen[k].append(pair + [None])
                except OSError:
                    if seen[k] and seen[k][-1][2] is None:
                        seen[k][-1][2] = now
                    if not any(os.path.exists(os.path.join(q, d, qid))
                               for d in ('incoming', 'active', 'deferred')):
                        gone[k] = now
            time.sleep(0.05)
        log = read(qlog)
        ok(len(gone) == 2, 'both messages left the queue', log)

        for k in 'AB':
            qid, sender, rcpt, life = msgs[k]
            d = seen[k]
            bad = [(a - arrival, m - a) for a, m, _ in d
                   if m - a != clamp(a - arrival)]
            ok(d and not bad, '%s: every deferral sets the retry time to '
               'now + clamp(age, %d, %d) (%d deferrals)'
               % (k, MIN_B, MAX_B, len(d)), (d, bad))
            early = [(m, left) for _, m, left in d
                     if left is not None and left < m]
            late = [(m, left) for _, m, left in d
                    if left is not None and left > m + 3]
            ok(not early and not late, '%s: each retry starts at its '
               'retry time, not before, at most queue_run_delay after'
               % k, (d, early, late))
            ok(all(a - arrival < life for a, _, _ in d),
               '%s: deferred only while younger than its lifetime %d s'
               % (k, life), d)
            ok(k in gone and gone[k] - arrival >= life
               and gone[k] - arrival <= life + MAX_B + 4,
               '%s: gone once %d s old (after %.1f s)'
               % (k, life, gone.get(k, 0) - arrival), d)
            ok('%s: from=<%s>, status=expired, returned to sender\n'
               % (qid, sender) in log, '%s: Postfix\'s expiry log line'
               % k, log)
            ok(not os.path.exists(os.path.join(q, 'defer', qid))
               and not os.path.exists(os.path.join(q, 'bounce', qid)),
               '%s: defer and bounce logs removed' % k)

        # Which ages the deferrals fall on moves with the scan (a
        # second or two), but with these times A always has one in the
        # growing part (the interval is the age, above the minimum) and
        # one past the cap.
        da = [(a - arrival, m - a) for a, m, _ in seen['A']]
        ok(any(MIN_B < age <= MAX_B and iv == age for age, iv in da)
           and any(age > MAX_B and iv == MAX_B for age, iv in da)
           and [iv for _, iv in da] == sorted(iv for _, iv in da),
           'A: the interval grows with the age (doubling the time in '
           'queue), then stays at maximal_backoff_time', da)
        ok(any(a - arrival >= BLIFE for a, _, _ in seen['A']),
           'A: still deferred at an age past bounce_queue_lifetime',
           seen['A'])

        rows = [l.split() for l in read(agent_log).splitlines()]
        dsn = [r for r in rows if len(r) > 3 and r[3] == 'alice@sender.example']
        text = read(os.path.join(out, dsn[0][1] + '.msg')) if dsn else ''
        ok(len(dsn) == 1 and dsn[0][4] == '<>'
           and 'Final-Recipient: rfc822; defer-a@example.com' in text
           and 'Action: failed' in text and 'Status: 4.4.1' in text
           and 'Connection refused' in text,
           'A: one failure DSN to the sender with the last defer reason',
           (dsn, text))
        ok(len(rows) == 1, 'B: nothing delivered for the null sender '
           '(the agents delivered only A\'s DSN)', rows)
        ok(not re.search(r'panic:|fatal:|corrupt', log),
           'no panic, fatal or corrupt file in the qmgr log', log)
        ptap.sanitizer_ok(log)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if not os.environ.get('KEEP43'):
            shutil.rmtree(tmp, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
