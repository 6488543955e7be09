#!/usr/bin/python3
"""44-maildrop-types.t - what is not a regular file in maildrop/ is skipped.

maildrop/ is world-writable (1733): any local user can put a FIFO, a
symbolic link or a directory there under a name that looks like a queue
id. qmgr's pickup opened each entry with a blocking open() before it
looked at the type, so one FIFO held a resolve thread until somebody
opened its other end, and a few of them (8 here: as many as pickups in
flight) stopped local submission for good (issue 9 item 4).

Now queue_file_open() opens with O_NONBLOCK|O_NOFOLLOW and fstat()s:
each such entry is logged ("not a regular file (fifo)", "is a symbolic
link", "not a regular file (directory)") and moved to corrupt/, as any
maildrop file that does not parse (a directory owned by somebody else
cannot be renamed: it stays, with a warning at each scan, as Postfix
leaves all of them), and mail dropped after them with sendmail is
delivered. The FIFOs are readable (0644): open() would block on them. qmgr and virtual run by this test on a temporary
queue (as tests/38-sendmail-delivery.t). About 3 s.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
from smtp_dialog import wait_accepts  # noqa: E402
from qvtest import make_top, mail_owner, stop_checked  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
PROCS = []
FIFOS = ['AAAAfifo%d' % i for i in range(8)]
LINK = 'AAAAsymlink'
DIRN = 'AAAAdirectory'


def start(args, log):
    p = subprocess.Popen([os.path.join(BIN, args[0])] + args[1:],
                         stdout=log, stderr=log)
    PROCS.append(p)
    return p


def wait_files(d, n, timeout=15):
    end = time.time() + timeout
    f = []
    while time.time() < end:
        try:
            f = sorted(os.listdir(d))
        except FileNotFoundError:
            f = []
        if len(f) >= n:
            return f
        time.sleep(0.1)
    return f


def write_conf(top, cf, q, base, maillog):
    root, uid, gid = mail_owner(base)
    with open(os.path.join(cf, 'vmailbox'), 'w') as f:
        f.write('user1@example.com 1\n')
    with open(os.path.join(cf, 'main.cf'), 'w') as f:
        f.write('queue_directory = %s\nmyhostname = mx.example.net\n'
                'mydestination = $myhostname, localhost\n'
                'virtual_mailbox_domains = example.com\n'
                'virtual_mailbox_base = %s\n'
                'virtual_mailbox_maps = texthash:%s/vmailbox\n'
                'virtual_uid_maps = static:%d\nvirtual_gid_maps = static:%d\n'
                'virtual_minimum_uid = %d\n'
                'alias_maps =\nmaillog_file = %s\n'
                % (q, base, cf, uid, gid, min(uid, 100), maillog))


def plant(q, top):
    md = os.path.join(q, 'maildrop')
    for name in FIFOS:
        os.mkfifo(os.path.join(md, name), 0o644)
    secret = os.path.join(top, 'secret')
    with open(secret, 'w') as f:
        f.write('not for the queue\n')
    os.symlink(secret, os.path.join(md, LINK))
    os.mkdir(os.path.join(md, DIRN))


def send(cf, n):
    rcs = []
    for i in range(n):
        r = subprocess.run([os.path.join(BIN, 'sendmail'), '-C', cf,
                            'user1@example.com'],
                           input=b'Subject: after the fifo %d\n\nbody %d\n'
                           % (i, i), capture_output=True, timeout=30)
        rcs.append(r.returncode)
    return rcs


def stop_all():
    for p in PROCS:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()


def main():
    top, cf, q, base = make_top('44-maildrop.')[:4]
    maillog = os.path.join(top, 'maillog')
    write_conf(top, cf, q, base, maillog)
    log = open(os.path.join(top, 'daemons.out'), 'ab')
    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s', r.stderr)
        plant(q, top)
        start(['qmgr', '-c', cf, '-d', '-l',
               os.path.join(q, 'public', 'qmgr')], log)
        start(['virtual', '-c', cf, '-d', '-l',
               os.path.join(q, 'private', 'virtual')], log)
        for sock in ('public/qmgr', 'private/virtual'):
            if not wait_accepts(os.path.join(q, sock), seconds=15):
                print('# nothing accepts on %s after 15 s' % sock)
        t0 = time.time()
        rcs = send(cf, 3)
        ok(rcs == [0, 0, 0], 'sendmail accepts 3 messages', rcs)
        new = os.path.join(base, 'example.com', 'user1', 'new')
        got = wait_files(new, 3)
        text = ptap.read(maillog)
        ok(len(got) == 3, '3 messages dropped after 8 FIFOs, a symlink and '
           'a directory are delivered (%.1f s)' % (time.time() - t0), text)
        body = b''.join(open(os.path.join(new, f), 'rb').read()
                        for f in got)
        ok(all(b'\nbody %d\n' % i in body for i in range(3)),
           'each message\'s body is in the Maildir', body)
        ok(all('%s: not a regular file (fifo)' % n in text for n in FIFOS),
           'each FIFO is logged as not a regular file', text)
        ok('%s: is a symbolic link' % LINK in text,
           'the symbolic link is logged', text)
        ok('%s: not a regular file (directory)' % DIRN in text,
           'the directory is logged', text)
        left = sorted(os.listdir(os.path.join(q, 'maildrop')))
        moved = sorted(os.listdir(os.path.join(q, 'corrupt')))
        ok(left == [DIRN] and moved == sorted(FIFOS + [LINK]),
           'the FIFOs and the link are in corrupt/; the directory, which '
           'qmgr may not rename (not its owner), is left in maildrop/',
           (left, moved))
        ok('%s: move to corrupt: Permission denied' % DIRN in text,
           'that the directory stays is logged', text)
        ok(os.path.islink(os.path.join(q, 'corrupt', LINK)) and
           open(os.path.join(top, 'secret')).read() == 'not for the queue\n',
           'the link itself was moved, its target is untouched')
        stop_checked(PROCS, ok)
        log.flush()
        ptap.sanitizer_ok(ptap.read(os.path.join(top, 'daemons.out')))
    finally:
        stop_all()
        log.close()
        shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
