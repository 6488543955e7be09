"""qfile.py - queue files written by a test, in the QUEUE.md format.

enc(s) %-encodes a record value (%, CR, LF, NUL, space, tab, =).
write_qf(q, qid, sender, rcpts, body, arrival=None, warn=0,
sub='incoming', attrs=(), sync=False) writes q/sub/qid through a
dot-file and a rename, as cleanup does: V1, I, T (arrival, default now),
W, S, one A record per (name, value) in attrs, RP per (addr, notify) in
rcpts, M and the body, E. Started as root, the file is given to
mail_owner (postern), who runs qmgr; sync=True fsyncs it before the
rename. Returns qid.

qmgr_tree(prefix) makes the tree of a test that runs qmgr against fake
delivery agents: a temporary directory with q/ (every queue
subdirectory), conf/master.cf naming qmgr, smtp and virtual, and out/;
returns (tmp, q, conf, out). own_tree(tmp) gives all of it to mail_owner
when root (qmgr runs as postern), once the test has written its files.
"""
import os
import pwd
import tempfile
import time

import ptap


def enc(s):
    for a, b in (('%', '%25'), ('\r', '%0D'), ('\n', '%0A'), ('\0', '%00'),
                 (' ', '%20'), ('\t', '%09'), ('=', '%3D')):
        s = s.replace(a, b)
    return s


def write_qf(q, qid, sender, rcpts, body, arrival=None, warn=0,
             sub='incoming', attrs=(), sync=False):
    arrival = arrival if arrival is not None else time.time()
    msg = body.encode()
    env = 'V1\nI%s\nT%d.%06d\nW%020d\nS%s\n' % (
        qid, int(arrival), int((arrival % 1) * 1e6), warn, enc(sender))
    for name, value in attrs:
        env += 'A%s=%s\n' % (enc(name), enc(value))
    for addr, notify in rcpts:
        env += 'RP %d -1 %s\n' % (notify, enc(addr))
    data = env.encode() + b'M%020d\n' % len(msg) + msg + b'E\n'
    tmp = os.path.join(q, sub, '.' + qid)
    with open(tmp, 'wb') as f:
        f.write(data)
        if sync:
            os.fsync(f.fileno())
    if os.geteuid() == 0:
        os.chown(tmp, *pwd.getpwnam('postern')[2:4])
    os.rename(tmp, os.path.join(q, sub, qid))
    return qid


def qmgr_tree(prefix):
    tmp = tempfile.mkdtemp(prefix=prefix, dir='/tmp')
    q = os.path.join(tmp, 'q')
    conf = os.path.join(tmp, 'conf')
    out = os.path.join(tmp, 'out')
    ptap.queue_dirs(q)
    os.makedirs(conf)
    os.makedirs(out)
    with open(os.path.join(conf, 'master.cf'), 'w') as f:
        f.write('qmgr unix n - n 300 1 qmgr\n'
                'smtp unix - - n - 3 smtp\n'
                'virtual unix - n n - - virtual\n')
    return tmp, q, conf, out


def own_tree(tmp):
    if os.geteuid() != 0:
        return
    owner = pwd.getpwnam('postern')[2:4]
    for root, dirs, files in os.walk(tmp):
        for x in dirs + files:
            os.chown(os.path.join(root, x), *owner)
    os.chown(tmp, *owner)
