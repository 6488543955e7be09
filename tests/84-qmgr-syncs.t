#!/usr/bin/python3
"""84-qmgr-syncs.t - which done flips qmgr syncs, and rcpt.N.retry.

qmgr runs under strace (-f -y -e trace=fdatasync: every fdatasync with
the path of its descriptor) against tests/lib/qmgr_fake_agent.py, on a
temporary queue (no master, no TCP port). QUEUE.md's promise 2, as
qmgr keeps it since the flips of one answer share a sync:
  - an smtp answer for two recipients: their flips are synced, with ONE
    fdatasync of the queue file (two before);
  - a virtual answer without exactly_once (an agent that cannot find
    its earlier delivery): one fdatasync;
  - an answer with exactly_once=1 (virtual's Maildir): no fdatasync of
    the queue file at all, and the file is gone (removed);
and rcpt.N.retry in the requests (QUEUE.md "Which deliveries are
retries"): 0 for a message written into incoming/ after qmgr started;
1 for files found at start (incoming/ and active/), for a message
whose arrival time is older than qmgr's start, for the retry of a
deferred message, for a deferred message moved back to incoming/ (as
postsuper -r does), and for everything after a kill -9 of qmgr.
Then 48 messages of two recipients while qmgr is killed -9 eight times
at random moments (the agent waits 0.1 s between delivering and
answering, the window a lost flip leaves): every recipient is delivered
exactly once, and the agent never got retry=0 for a recipient it had
(a mutant qmgr that always says retry=0 fails checks 25-27 in each of
3 runs, and 2, 12, 17, 20, 23 always). About 7 s.
"""
import os
import random
import signal
import subprocess
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import need  # noqa: E402
import ptap  # noqa: E402
from ptap import ok, read  # noqa: E402
import qfile  # noqa: E402
from qvtest import wait_for, wake as qv_wake  # noqa: E402
from smtp_dialog import wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
TOP = os.environ.get('POSTERN_TOP', '.')
STRACE = '/usr/bin/strace'
SEQ = [0]


def write_qf(q, rcpts, arrival=None, sub='incoming'):
    SEQ[0] += 1
    qid = 'S%05d%dX' % (SEQ[0], os.getpid() % 100000)
    body = 'From: s@sender.example\nSubject: %s\n\nhello\n' % qid
    return qfile.write_qf(q, qid, 's@sender.example',
                          [(a, 0) for a in rcpts], body, arrival, sub=sub)


def main():
    if not need.need_prog(1, STRACE, 'strace counts qmgr\'s fdatasyncs'):
        return 0
    tmp, q, conf, out = qfile.qmgr_tree('postern-84-qmgr.')
    with open(os.path.join(conf, 'main.cf'), 'w') as f:
        f.write('queue_directory = %s\nmyhostname = mx.test.example\n'
                'mydomain = test.example\nmydestination = localhost\n'
                'virtual_mailbox_domains = example.com\nrelayhost =\n'
                'alias_maps =\nvirtual_alias_maps =\n'
                'minimal_backoff_time = 300s\n' % q)
    qfile.own_tree(tmp)
    qlog = os.path.join(tmp, 'qmgr.log')
    slog = os.path.join(tmp, 'strace.log')
    rlog = os.path.join(out, 'retry.log')
    procs = []
    kids = []       # qmgr itself (strace's child)

    # LeakSanitizer cannot run under ptrace (40 and 41 check qmgr's leaks)
    env = dict(os.environ)
    env['ASAN_OPTIONS'] = ':'.join(x for x in (
        env.get('ASAN_OPTIONS', ''), 'detect_leaks=0') if x)

    def start_qmgr():
        p = subprocess.Popen([STRACE, '-f', '-qq', '-y', '-e',
                              'trace=fdatasync', '-o', slog,
                              os.path.join(BIN, 'qmgr'), '-c', conf, '-d',
                              '-l', os.path.join(q, 'public', 'qmgr')],
                             stdout=subprocess.DEVNULL,
                             stderr=open(qlog, 'a'), env=env)
        procs.append(p)
        # a connect, not the file: after a kill -9 the old one is still
        # there
        if not wait_accepts(os.path.join(q, 'public', 'qmgr'), p, 20):
            print('# qmgr: nothing accepts on public/qmgr after 20 s')
        kids.append(wait_for(lambda: qmgr_pid(p), 5))
        return p

    def qmgr_pid(p):
        kids = read('/proc/%d/task/%d/children' % (p.pid, p.pid)).split()
        return int(kids[0]) if kids else None

    def wake(what=b'W'):
        qv_wake(q, what)

    def gone(qid):
        return not any(os.path.exists(os.path.join(q, d, qid))
                       for d in ('incoming', 'active', 'deferred'))

    def syncs(qid):
        return sum(1 for line in read(slog).splitlines()
                   if 'fdatasync(' in line
                   and '/q/active/' + qid + '>' in line)

    def retries(qid):
        return [line.split()[3] for line in read(rlog).splitlines()
                if line.split()[1] == qid]

    def removed(qid):
        return '%s: removed' % qid in read(qlog)

    # files qmgr finds at start: one in incoming/, one left in active/
    st_in = write_qf(q, ['once-start1@example.com'])
    st_act = write_qf(q, ['once-start2@example.com'], sub='active')
    time.sleep(0.05)
    agent = subprocess.Popen(['/usr/bin/python3',
                              os.path.join(TOP, 'tests/lib/qmgr_fake_agent.py'),
                              q, os.path.join(tmp, 'agent.log'), out,
                              'virtual', 'smtp'])
    procs.append(agent)
    try:
        for t in ('virtual', 'smtp'):
            if not wait_accepts(os.path.join(q, 'private', t), agent, 15):
                print('# fake agent: nothing accepts on private/%s' % t)
        qm = start_qmgr()
        ok(wait_for(lambda: removed(st_in) and removed(st_act)),
           'start: the files found in incoming/ and active/ delivered',
           read(qlog))
        ok(retries(st_in) == ['1'] and retries(st_act) == ['1'],
           'start: files found at start are sent with retry=1',
           read(rlog))
        time.sleep(0.1)

        # exactly_once: no sync of the queue file at all
        m1 = write_qf(q, ['once1@example.com', 'once2@example.com'])
        wake()
        ok(wait_for(lambda: removed(m1)) and gone(m1),
           'exactly_once answer: message delivered and removed', read(qlog))
        ok(retries(m1) == ['0', '0'],
           'a message written after qmgr started: retry=0', read(rlog))
        ok(syncs(m1) == 0, 'exactly_once recipients: no fdatasync of the '
           'queue file', read(slog))

        # an agent without exactly_once (virtual route): the flip is synced
        m2 = write_qf(q, ['plain1@example.com'])
        wake()
        ok(wait_for(lambda: removed(m2)), 'plain virtual answer: removed')
        ok(syncs(m2) == 1, 'a flip without exactly_once: one fdatasync',
           read(slog))

        # smtp: two recipients in one answer, one fdatasync for both
        m3 = write_qf(q, ['r1@remote.example', 'r2@remote.example'])
        wake()
        ok(wait_for(lambda: removed(m3)), 'smtp answer: removed', read(qlog))
        ok(len(retries(m3)) == 2, 'smtp: both recipients in one request',
           read(rlog))
        ok(syncs(m3) == 1, 'smtp: the flips of one answer share ONE '
           'fdatasync (they are synced: promise 2)', read(slog))

        # a message older than qmgr's start, even if it appears later
        m4 = write_qf(q, ['once4@example.com'], arrival=time.time() - 3600)
        wake()
        ok(wait_for(lambda: removed(m4)), 'old arrival: removed')
        ok(retries(m4) == ['1'], 'arrival before qmgr started: retry=1',
           read(rlog))

        # deferred, then retried: retry=1; back to incoming/: retry=1
        m5 = write_qf(q, ['defer5@example.com', 'once5@example.com'])
        wake()
        d5 = os.path.join(q, 'deferred', m5)
        ok(wait_for(lambda: os.path.exists(d5)), 'partly deferred: deferred/')
        ok(sorted(retries(m5)) == ['0', '0'], 'first attempt: retry=0',
           read(rlog))
        ok(syncs(m5) == 0, 'deferred + exactly_once: no fdatasync',
           read(slog))
        wake(b'I' + m5.encode())
        ok(wait_for(lambda: len(retries(m5)) == 3),
           'flushed deferred message tried again', read(rlog))
        ok(retries(m5)[2:] == ['1'],
           'from deferred/: retry=1 (and only the pending recipient)',
           read(rlog))
        ok(wait_for(lambda: os.path.exists(d5)), 'deferred again')
        time.sleep(0.3)
        os.rename(d5, os.path.join(q, 'incoming', m5))   # postsuper -r
        wake()
        ok(wait_for(lambda: len(retries(m5)) == 4),
           'requeued message tried again', read(rlog))
        ok(retries(m5)[3:] == ['1'], 'deferred message moved back to '
           'incoming/ (postsuper -r): retry=1', read(rlog))

        # kill -9 with a delivery in flight: after the restart, retry=1
        open(os.path.join(out, 'hang'), 'w').close()
        m6 = write_qf(q, ['hang6@example.com'])
        wake()
        ok(wait_for(lambda: retries(m6) == ['0']),
           'in flight: the first attempt says retry=0', read(rlog))
        os.kill(kids[-1], signal.SIGKILL)
        qm.wait()
        os.unlink(os.path.join(out, 'hang'))
        qm = start_qmgr()
        ok(wait_for(lambda: removed(m6)), 'after kill -9: delivered',
           read(qlog))
        ok(retries(m6)[1:] == ['1'], 'after kill -9: retry=1', read(rlog))

        # kill -9 at random moments: every recipient delivered once; the
        # agent delivers a once* recipient again only on retry=0, and
        # records that as a violation (qmgr said "first attempt" to an
        # agent that had it)
        seed = int(os.environ.get('SEED', time.time()))
        rnd = random.Random(seed)
        print('# kill loop seed %d (SEED=%d to repeat)'
                          % (seed, seed))
        ids = []
        for rnd_i in range(8):
            for k in range(6):
                ids.append(write_qf(q, ['oncewA%d@example.com' % k,
                                        'oncewB%d@example.com' % k]))
            wake()
            time.sleep(rnd.uniform(0.05, 0.3))
            os.kill(kids[-1], signal.SIGKILL)
            qm.wait()
            qm = start_qmgr()
        ok(wait_for(lambda: all(gone(x) for x in ids), 60),
           'kill loop: all %d messages delivered and removed' % len(ids),
           read(qlog)[-3000:])
        rows = [line.split() for line in
                read(os.path.join(tmp, 'agent.log')).splitlines()]
        counts = {}
        for r in rows:
            if r[1] in ids:
                counts[(r[1], r[2])] = counts.get((r[1], r[2]), 0) + 1
        ok(len(counts) == 2 * len(ids) and set(counts.values()) == {1},
           'kill loop: every recipient delivered exactly once',
           [kv for kv in counts.items() if kv[1] != 1][:20]
           or '%d of %d recipients' % (len(counts), 2 * len(ids)))
        ok(read(os.path.join(out, 'violations')) == '',
           'kill loop: never retry=0 for a recipient an agent had',
           read(os.path.join(out, 'violations')))
        seen = [v for x in ids for v in retries(x)]
        ok('0' in seen and '1' in seen, 'kill loop: both first attempts '
           '(retry=0) and retries after a kill (retry=1) happened',
           '%d zeros, %d ones' % (seen.count('0'), seen.count('1')))
        os.kill(kids[-1], signal.SIGTERM)
        qm.wait()
        ptap.sanitizer_ok(read(qlog))
    finally:
        for pid in kids:
            try:
                if pid:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if not os.environ.get('POSTERN_KEEP'):
            subprocess.call(['rm', '-rf', tmp])
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
