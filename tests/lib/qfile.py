"""qfile.py - queue files written by a test, in the QUEUE.md format.

enc(s) %-encodes a record value (%, CR, LF, NUL, space, tab, =).
write_qf(q, qid, sender, rcpts, body, arrival=None, warn=0,
sub='incoming', attrs=(), sync=False) writes q/sub/qid through a
dot-file and a rename, as cleanup does: V1, I, T (arrival, default now),
W, S, one A record per (name, value) in attrs, RP per (addr, notify) in
rcpts, M and the body, E. Started as root, the file is given to
mail_owner (postern), who runs qmgr; sync=True fsyncs it before the
rename. Returns qid.
"""
import os
import pwd
import time


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
