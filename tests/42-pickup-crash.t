#!/usr/bin/python3
"""42-pickup-crash.t - maildrop -> incoming exactly once across kill -9.

Real programs: sendmail writes maildrop/ files while qmgr (pickup) is
killed with SIGKILL a random few milliseconds after each start,
while it picks up the few messages dropped while it was down; virtual
delivers. Afterwards every message is in the Maildir exactly once
(Message-IDs counted) and no .pickup temp file is left (QUEUE.md, state
S1). Before that, the recovery rule at qmgr start is checked on
hand-made leftovers: a .pickup.DROPID.ID whose maildrop file still
exists is removed and the maildrop file picked up again (delivered
once); one whose maildrop file is gone is finished and delivered.
"""
import os
import pwd
import random
import shutil
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

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
MESSAGES = 300


def main():
    top, cf, q, base, root, uid, gid = setup('postern-42-pickup.')
    qlog = os.path.join(top, 'qmgr.log')
    vlog = os.path.join(top, 'virtual.log')
    procs = {}

    def start(name, log):
        return start_daemon(BIN, cf, q, name, log, procs)

    def sendmail(args, msg):
        return run_sendmail(BIN, cf, args, msg)

    def queue_empty():
        # .ID temp files of writers killed mid-write (state S0) are
        # not queued mail: removed after a day
        return not any(n for d in ('maildrop', 'incoming', 'active')
                       for n in os.listdir(os.path.join(q, d))
                       if not n.startswith('.') or n.startswith('.pickup.'))

    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s creates the queue', r.stderr)
        start('virtual', vlog)

        # the recovery rule, by hand, before qmgr runs: an interrupted
        # pickup whose maildrop file is still there is undone; one whose
        # maildrop file is gone is finished
        r = sendmail(['-f', 'user1@example.com', 'user1@example.com'],
                     b'Subject: kept\nMessage-ID: <kept@t>\n\nkept\n')
        ok(r.returncode == 0, 'sendmail with qmgr down', r.stderr)
        drops = os.listdir(os.path.join(q, 'maildrop'))
        ok(len(drops) == 1, 'one maildrop file', drops)
        did = drops[0] if drops else 'X'
        stale = os.path.join(q, 'incoming', '.pickup.%s.STALE1' % did)
        shutil.copy(os.path.join(q, 'maildrop', did), stale)
        src = os.path.join(q, 'maildrop', did)
        with open(src, 'rb') as f:
            data = f.read()
        # a finished pickup of another (already removed) maildrop file
        data2 = data.replace(('I%s\n' % did).encode(), b'IDONE1\n') \
            .replace(b'<kept@t>', b'<done@t>')
        with open(os.path.join(q, 'incoming', '.pickup.GONE1.DONE1'),
                  'wb') as f:
            f.write(data2)
        if root:
            os.chown(os.path.join(q, 'incoming', '.pickup.GONE1.DONE1'),
                     *pwd.getpwnam('postern')[2:4])
        start('qmgr', qlog)
        ok(wait_for(lambda: [x for x in maildir(base, 'user1')
                             if '<done@t>' in read(x)]),
           'a pickup interrupted after the maildrop unlink is finished',
           read(qlog)[-2000:])
        ok(wait_for(lambda: [x for x in maildir(base, 'user1')
                             if '<kept@t>' in read(x)]),
           'the maildrop file of an undone pickup is picked up',
           read(qlog)[-2000:])
        ok(wait_for(queue_empty), 'queue empty', os.listdir(q + '/incoming'))
        time.sleep(0.5)
        ok(not os.path.exists(stale)
           and sum('<kept@t>' in read(x) for x in maildir(base, 'user1'))
           == 1, 'the undone copy is gone: delivered once')
        for x in maildir(base, 'user1'):
            os.unlink(x)

        # sendmail -> maildrop -> pickup while qmgr dies by SIGKILL:
        # rounds of a few messages dropped while qmgr is down, then qmgr
        # started and killed a random few milliseconds later, in the
        # middle of the burst of pickups it starts with
        rnd = random.Random(42)
        fails = 0
        kills = 0
        i = 0
        while i < MESSAGES:
            procs['qmgr'].send_signal(signal.SIGKILL)
            procs['qmgr'].wait()
            kills += 1
            for k in range(rnd.randint(3, 12)):
                if i >= MESSAGES:
                    break
                r = sendmail(['-f', 'user1@example.com',
                              'user2@example.com'],
                             b'Subject: n\nMessage-ID: <pick-%d@t>\n\n%d\n'
                             % (i, i))
                if r.returncode != 0:
                    fails += 1
                i += 1
            start('qmgr', qlog)
            time.sleep(rnd.random() * 0.06)
        ok(fails == 0, 'sendmail accepted all %d messages' % MESSAGES,
           '%d failures' % fails)
        ok(kills > 20, 'qmgr was killed %d times' % kills)

        def flushed():
            if queue_empty() and not os.listdir(os.path.join(q, 'deferred')):
                return True
            wake(q, b'F')
            time.sleep(1)
            return False
        ok(wait_for(flushed, 120), 'queue empty after the crash run',
           read(qlog)[-3000:])
        left = [n for d in ('incoming', 'hold', 'maildrop')
                for n in os.listdir(os.path.join(q, d))
                if n.startswith('.pickup.')]
        ok(not left, 'no .pickup files left', left)
        ids = []
        for x in maildir(base, 'user2'):
            for line in read(x).splitlines():
                if line.startswith('Message-ID: <pick-'):
                    ids.append(line)
        want = set('Message-ID: <pick-%d@t>' % i for i in range(MESSAGES))
        missing = want - set(ids)
        dups = len(ids) - len(set(ids))
        ok(not missing, 'every message arrived', 'missing %d' % len(missing))
        ok(dups == 0, 'no message twice', '%d duplicates: %s' % (
            dups, sorted(x for x in set(ids) if ids.count(x) > 1)[:10]))
        stop_daemons(procs, ('qmgr', 'virtual'), (qlog, vlog))
    finally:
        finish(procs, top)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
