#!/usr/bin/python3
"""41-qmgr-virtual.t - sendmail -> qmgr (pickup, aliases) -> virtual.

Real programs only: postsuper -s makes the queue, sendmail writes to
maildrop/, qmgr picks it up, expands aliases (alias_maps for root,
virtual_alias_maps for a list) and hands the recipients to the real
virtual agent, which writes Maildirs. Checks: mail for root reaches the
aliased virtual mailbox; a list reaches every member once; an unknown
virtual user produces a DSN that lands in the sender's own Maildir;
then 500 messages written to incoming/ (as smtpd writes them) while
qmgr and virtual are killed with SIGKILL several times: after restarts every message is in each Maildir exactly
once (Message-IDs counted) and the queue is empty.
"""
import os
import signal
import subprocess
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from qvtest import (finish, maildir, run_sendmail, setup,  # noqa: E402
                    start_daemon, stop_daemons, wait_for, wake)
from ptap import ok, read  # noqa: E402
import qfile  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
MESSAGES = 500


SEQ = [0]


def write_qf(q, sender, rcpts, body):
    """a queue file in incoming/, in the QUEUE.md format"""
    SEQ[0] += 1
    qid = 'C%06d%d' % (SEQ[0], os.getpid())
    qfile.write_qf(q, qid, sender, [(a, 0) for a in rcpts], body, sync=True)


def main():
    top, cf, q, base, root, uid, gid = setup('postern-41-qmgr.')
    qlog = os.path.join(top, 'qmgr.log')
    vlog = os.path.join(top, 'virtual.log')
    procs = {}

    def start(name, log):
        return start_daemon(BIN, cf, q, name, log, procs)

    def sendmail(args, msg):
        return run_sendmail(BIN, cf, args, msg)

    def queue_empty():
        return not any(os.listdir(os.path.join(q, d))
                       for d in ('maildrop', 'incoming', 'active'))

    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s creates the queue', r.stderr)
        start('virtual', vlog)
        start('qmgr', qlog)

        r = sendmail(['root'], b'Subject: for root\n\ncron says hi\n')
        ok(r.returncode == 0, 'sendmail root', r.stderr)
        ok(wait_for(lambda: any('cron says hi' in read(f)
                                for f in maildir(base, 'user1'))),
           'mail for root reaches the aliased virtual mailbox',
           read(qlog) + read(vlog))
        f = [x for x in maildir(base, 'user1') if 'cron says hi' in read(x)]
        text = read(f[0]) if f else ''
        ok('Delivered-To: user1@example.com' in text
           and 'Return-Path: <root@localhost>' in text,
           'Delivered-To and Return-Path', text)

        r = sendmail(['-f', 'user1@example.com', 'all@example.com'],
                     b'Subject: to all\nMessage-ID: <all-1@t>\n\nhello all\n')
        for u in ('user1', 'user2', 'user3'):
            ok(wait_for(lambda: [x for x in maildir(base, u)
                                 if '<all-1@t>' in read(x)]),
               'nested alias list reaches %s' % u)
        time.sleep(0.5)
        ok(sum('<all-1@t>' in read(x) for x in maildir(base, 'user1')) == 1,
           'a member reached twice through the tree gets it once')

        r = sendmail(['-f', 'user1@example.com', 'nobody@example.com'],
                     b'Subject: lost\nMessage-ID: <lost-1@t>\n\nlost\n')
        ok(wait_for(lambda: [x for x in maildir(base, 'user1')
                             if 'Final-Recipient: rfc822; nobody@example.com'
                             in read(x)]),
           'unknown virtual user: DSN in the sender\'s Maildir',
           read(qlog) + read(vlog))
        d = [read(x) for x in maildir(base, 'user1')
             if 'nobody@example.com' in read(x)]
        ok(d and 'report-type=delivery-status' in d[0]
           and 'Return-Path: <>' in d[0] and 'Status: 5.1.1' in d[0]
           and '<lost-1@t>' in d[0], 'DSN: null sender, 5.1.1, original'
           ' message returned', d[0] if d else '')
        ok(wait_for(queue_empty), 'queue empty after the first messages')

        # kill -9 qmgr and virtual while mail streams in
        for u in ('user1', 'user2', 'user3'):
            for x in maildir(base, u):
                os.unlink(x)
        # (written to incoming/ as smtpd does: pickup from maildrop/ has
        # the one duplicate window QUEUE.md documents, state S1)
        for i in range(MESSAGES):
            write_qf(q, 'user1@example.com', ['user2@example.com',
                                             'team@example.com'],
                     'Subject: n\nMessage-ID: <crash-%d@t>\n\n%d\n' % (i, i))
            wake(q)
            if i % 60 == 15:
                procs['qmgr'].send_signal(signal.SIGKILL)
                procs['qmgr'].wait()
                start('qmgr', qlog)
            if i % 60 == 45:
                procs['virtual'].send_signal(signal.SIGKILL)
                procs['virtual'].wait()
                start('virtual', vlog)
        # deliveries that met a killed agent wait in deferred/: flush
        # them as postqueue -f would, until nothing is left
        def flushed():
            if queue_empty() and not os.listdir(os.path.join(q, 'deferred')):
                return True
            wake(q, b'F')
            time.sleep(1)
            return False
        ok(wait_for(flushed, 120), 'queue empty after the crash run and'
           ' a flush', read(qlog)[-3000:])
        for u in ('user2', 'user3'):
            ids = []
            for x in maildir(base, u):
                for line in read(x).splitlines():
                    if line.startswith('Message-ID: <crash-'):
                        ids.append(line)
            want = sorted('Message-ID: <crash-%d@t>' % i
                          for i in range(MESSAGES))
            missing = set(want) - set(ids)
            dups = len(ids) - len(set(ids))
            ok(not missing, '%s: every message arrived' % u,
               'missing %d' % len(missing))
            ok(dups == 0, '%s: no message twice (user2 is also in team)' % u,
               '%d duplicates' % dups)
        stop_daemons(procs, ('qmgr', 'virtual'), (qlog, vlog))
    finally:
        finish(procs, top)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
