#!/usr/bin/python3
"""35-virtual-mkdir-sync.t - the directories of a new Maildir are durable.

Issue 9 item 12: virtual fsync'd the message file and new/, but not the
parents of the directories it created for a first delivery (the domain
and user directories, tmp/ new/ cur/): after a crash the acknowledged
message could be in a directory whose entry was never written.

virtual runs alone (virtual -d -l ...) with tests/lib/syncblock.so
preloaded (as tests/63-sync-order.t does; nothing is held, each fsync
call is only logged with the caller's PID). Two messages for the same
mailbox: the first delivery creates base/example.com/user1/{tmp,new,cur}
and must fsync 5 more directories than the second, which creates
nothing (base for example.com, example.com for user1, user1 for each of
tmp, new, cur). On the old code both made the same 2 calls. Since the
group commit a delivery's 2 syncs are syncfs calls (counted too). About
2 s.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
from qvtest import make_top  # noqa: E402
from smtp_dialog import wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
SHIM = os.path.join(os.path.dirname(BIN), 'tools', 'syncblock.so')


def preload():
    out = subprocess.run(['ldd', os.path.join(BIN, 'virtual')],
                         capture_output=True, text=True).stdout
    m = re.search(r'(\S*libasan\.so\S*) => (\S+)', out)
    return (m.group(2) + ' ' + SHIM) if m else SHIM


def request(sock_path, qid):
    return ptap.agent_request(sock_path, qid, [('user1@example.com', 0)])


def fsyncs(sb, pid):
    try:
        with open(os.path.join(sb, 'calls')) as f:
            return sum(1 for line in f
                       if line.split() in (['fsync', str(pid)],
                                           ['syncfs', str(pid)]))
    except FileNotFoundError:
        return 0


def main():
    top, cf, q, base, root, uid, gid = make_top('35-vsync.')
    sb = os.path.join(top, 'sb')
    os.makedirs(sb)
    os.chmod(sb, 0o777)  # the shim writes as the mailbox owner (setfsuid)
    with open(os.path.join(cf, 'main.cf'), 'w') as f:
        f.write('queue_directory = %s\nmyhostname = mx.example.net\n'
                'virtual_mailbox_base = %s\n'
                'virtual_mailbox_maps = inline:{user1@example.com=1}\n'
                'virtual_uid_maps = static:%d\nvirtual_gid_maps = static:%d\n'
                'virtual_minimum_uid = %d\n'
                % (q, base, uid, gid, min(uid, 100)))
    log_path = os.path.join(top, 'virtual.log')
    p = None
    try:
        subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                       check=True)
        for i in range(2):
            subprocess.run([os.path.join(BIN, 'sendmail'), '-C', cf, '-i',
                            '-f', 's@example.org', 'user1@example.com'],
                           input=b'Subject: %d\n\nbody\n' % i, check=True)
        ids = sorted(os.listdir(os.path.join(q, 'maildrop')))
        for qid in ids:
            os.rename(os.path.join(q, 'maildrop', qid),
                      os.path.join(q, 'active', qid))
        sock = os.path.join(q, 'private', 'virtual')
        env = dict(os.environ, SYNCBLOCK_DIR=sb, LD_PRELOAD=preload())
        p = subprocess.Popen([os.path.join(BIN, 'virtual'), '-c', cf, '-d',
                              '-l', sock], stdout=open(log_path, 'ab'),
                             stderr=subprocess.STDOUT, env=env)
        up = wait_accepts(sock, p, 15)
        ok(len(ids) == 2 and up and os.path.exists(sock),
           'two queued messages; virtual listens with the shim', ids)
        counts, answers = [], []
        for qid in ids:
            before = fsyncs(sb, p.pid)
            answers.append(request(sock, qid).get('rcpt.0.action'))
            counts.append(fsyncs(sb, p.pid) - before)
        new = os.path.join(base, 'example.com', 'user1', 'new')
        ok(answers == ['delivered', 'delivered'] and
           len(os.listdir(new)) == 2, 'both delivered', answers)
        ok(counts[1] >= 2, 'the shim sees the sync calls of a delivery '
           '(%d for the second)' % counts[1], counts)
        ok(counts[0] - counts[1] == 5,
           'the first delivery fsyncs the parents of the 5 directories '
           'it creates (%d calls, then %d)' % tuple(counts), counts)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        ok(rc == 0, 'virtual exits 0 on SIGTERM', rc)
        ptap.sanitizer_ok(ptap.read(log_path))
    finally:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
