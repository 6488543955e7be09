#!/usr/bin/python3
"""63-sync-order.t - smtpd answers 250 only after the batch is synced.

README: "smtpd answers 250 only after syncfs() (or fsync,
smtpd_queue_sync) of the batch of files that finished together". This
test stops smtpd exactly between writing a queue file and making it
durable, and checks what a client sees. tests/lib/syncblock.so
(LD_PRELOAD, after libasan in the ASan build) holds every syncfs,
fsync and fdatasync call while a trigger file exists, and logs the
calls it held.

smtpd runs alone (`smtpd -d -l 127.0.0.1:PORT`, no master, no qmgr: the
queue files stay in incoming/ for the test to read). With
smtpd_queue_sync = syncfs:
  - the shim is in the path: a message gets its 250 and smtpd's syncfs
    call is logged (otherwise the checks below would prove nothing);
  - sync held: the message's queue file is complete in incoming/ (only
    the sync is left), and no reply comes while the sync is held; once
    released, the 250 with that file's queue id comes;
  - group commit: two sessions finishing while a sync is held both wait,
    and both get their 250 after the release;
  - crash between write and sync: with the sync held, kill -9 smtpd: the
    client sees the connection end without any reply (never a 250); the
    messages acknowledged earlier are still in incoming/.
With smtpd_queue_sync = fsync the same hold (on the per-file fsync or
the directory fsync) keeps the 250 back until the release. With the
default, journal: a lone message is in incoming/ at its 250; two
messages finishing together are acknowledged from smtpd's journal and
renamed at its checkpoint; smtpd killed while the checkpoint's sync is
held leaves them out of incoming/, and the next smtpd commits both
from the dead one's journal (logged).
A mutant smtpd that answers 250 when the sync starts instead of when it
ends fails checks 9, 13, 16 and 17. About 8 s. Ports 25400-25439.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
import procs  # noqa: E402
from smtp_dialog import connect, last, wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
SHIM = os.path.join(os.path.dirname(BIN), 'tools', 'syncblock.so')
BASE = 25400 + (os.getpid() % 20) * 2
PROCS = []
TMP = tempfile.mkdtemp(prefix='postern-63-')
CONF = os.path.join(TMP, 'conf')
SB = os.path.join(TMP, 'syncblock')


cleanup = procs.killer(PROCS)


def preload():
    """LD_PRELOAD value: libasan first when smtpd is linked with it."""
    out = subprocess.run(['ldd', os.path.join(BIN, 'smtpd')],
                         capture_output=True, text=True).stdout
    m = re.search(r'(\S*libasan\.so\S*) => (\S+)', out)
    return (m.group(2) + ' ' + SHIM) if m else SHIM


def start(port, queue, log, *opts):
    env = dict(os.environ, SYNCBLOCK_DIR=SB, LD_PRELOAD=preload())
    p = subprocess.Popen([os.path.join(BIN, 'smtpd'), '-d', '-l',
                          '127.0.0.1:%d' % port, '-c', CONF, '-o',
                          'queue_directory=' + queue] + list(opts),
                         stdin=subprocess.DEVNULL, env=env,
                         stdout=open(log, 'a'), stderr=subprocess.STDOUT)
    PROCS.append(p)
    wait_accepts(port, p, 10)
    return p


def make_queue(name):
    q = os.path.join(TMP, name)
    ptap.queue_dirs(q)
    if os.geteuid() == 0:
        pw = pwd.getpwnam('postern')
        for root, dirs, files in os.walk(q):
            os.chown(root, pw.pw_uid, pw.pw_gid)
    return q


class Client:
    """One SMTP session, driven up to the final dot."""

    def __init__(self, port):
        self.s, self.f = connect(port, timeout=5)

    def reply(self):
        return last(self.f)

    def upto_dot(self, mid):
        """Send one message; return the replies before the dot's."""
        got = [self.reply()]
        for cmd in (b'EHLO client.example.net', b'MAIL FROM:<s@example.net>',
                    b'RCPT TO:<user1@example.com>', b'DATA'):
            self.s.sendall(cmd + b'\r\n')
            got.append(self.reply())
        self.s.sendall(b'Subject: sync order\r\nMessage-ID: <%s@63>\r\n\r\n'
                       b'body\r\n.\r\n' % mid.encode())
        return got

    def pending(self, secs):
        """Whatever the server sends within secs (b'' if nothing)."""
        self.s.settimeout(secs)
        try:
            return self.s.recv(4096) or b'<EOF>'
        except socket.timeout:
            return b''
        except OSError as e:
            return ('<%s>' % e).encode()
        finally:
            self.s.settimeout(None)

    def final(self, secs):
        """The dot's reply, '' if none came within secs, '<EOF>'."""
        self.s.settimeout(secs)
        try:
            line = self.f.readline()
        except socket.timeout:
            return ''
        except OSError as e:
            return '<%s>' % type(e).__name__
        finally:
            self.s.settimeout(None)
        return line.decode('latin-1').strip() if line else '<EOF>'

    def close(self):
        self.f.close()
        self.s.close()


def lines(name):
    return ptap.read(os.path.join(SB, name)).split('\n')[:-1]


def wait_held(n, secs=15):
    end = time.time() + secs
    while time.time() < end:
        if len(lines('held')) >= n:
            return True
        time.sleep(0.02)
    return False


def files_with(q, mid):
    d = os.path.join(q, 'incoming')
    return [f for f in os.listdir(d) if not f.startswith('.') and
            ('<%s@63>' % mid).encode() in open(os.path.join(d, f),
                                               'rb').read()]


def block(on):
    path = os.path.join(SB, 'block')
    if on:
        open(path, 'w').close()
    elif os.path.exists(path):
        os.unlink(path)


def main():
    os.makedirs(CONF)
    os.makedirs(SB)
    os.chmod(TMP, 0o755)
    os.chmod(SB, 0o777)     # smtpd writes its notes after dropping root
    with open(os.path.join(CONF, 'main.cf'), 'w') as f:
        f.write('myhostname = mx.example.com\nmydomain = example.com\n'
                'mydestination = localhost\nmynetworks = 127.0.0.0/8\n'
                'smtpd_peername_lookup = no\nalias_maps =\n'
                'virtual_mailbox_domains = example.com\n'
                'virtual_mailbox_maps = inline:{ '
                'user1@example.com=example.com/user1/ }\n')
    if not ok(os.path.exists(SHIM), 'shim built: ' + SHIM):
        return ptap.done()
    log = os.path.join(TMP, 'smtpd.log')

    # --- smtpd_queue_sync = syncfs ---
    q = make_queue('q1')
    port = BASE
    p = start(port, q, log, '-o', 'smtpd_queue_sync=syncfs')
    ok(p.poll() is None, 'smtpd runs with LD_PRELOAD="%s"' % preload())

    c = Client(port)
    c.upto_dot('m0')
    r = c.final(10)
    ok(r.startswith('250 '), 'sync not held: 250 (%s)' % r)
    c.close()
    ok('syncfs %d' % p.pid in lines('calls'),
       'the shim saw smtpd\'s syncfs (calls: %s)' % lines('calls')[-3:])

    block(True)
    c = Client(port)
    got = c.upto_dot('m1')
    ok(got[-1].startswith('354'), 'message m1 sent up to the final dot')
    ok(wait_held(1), 'smtpd reached a sync and is held there (%s)'
       % (lines('held')[:1]))
    held_fn = lines('held')[0].split()[0] if lines('held') else ''
    ok(held_fn == 'syncfs', 'the held call is syncfs (got %s)' % held_fn)
    m1 = files_with(q, 'm1')
    ok(len(m1) == 1, 'm1\'s queue file is already in incoming/ (%s): '
       'written and renamed, not yet synced' % m1)
    early = c.pending(1.5)
    ok(early == b'', 'no reply while the sync is held (1.5 s; got %r)'
       % early)
    block(False)
    r = c.final(10)
    ok(r.startswith('250 ') and m1 and r.endswith(m1[0]),
       'after the release: %s (queue id %s)' % (r, m1[0] if m1 else '?'))
    ok(len(lines('released')) >= 1, 'the shim released the sync')
    c.close()

    # Group commit: two sessions finishing during one held sync.
    block(True)
    nheld = len(lines('held'))
    a, b = Client(port), Client(port)
    a.upto_dot('m2a')
    ok(wait_held(nheld + 1), 'sync held again')
    b.upto_dot('m2b')
    time.sleep(0.5)
    pa, pb = a.pending(1.0), b.pending(0.2)
    ok(pa == b'' and pb == b'',
       'two sessions, sync held: neither got a reply (%r, %r)' % (pa, pb))
    block(False)
    ra, rb = a.final(10), b.final(10)
    ok(ra.startswith('250 ') and rb.startswith('250 '),
       'after the release both got 250 (%s | %s)' % (ra, rb))
    a.close()
    b.close()

    # Crash between write and sync.
    block(True)
    nheld = len(lines('held'))
    c = Client(port)
    c.upto_dot('m3')
    ok(wait_held(nheld + 1), 'sync held for m3')
    early = c.pending(1.0)
    ok(early == b'', 'no reply while held (got %r)' % early)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    r = c.final(10)
    saw = early.decode('latin-1') + r
    ok(not re.search(r'(^|\n)2\d\d', saw),
       'smtpd killed with the sync held: the client saw no 250 (%s)'
       % (saw or 'no reply'))
    ok(r in ('<EOF>', '<ConnectionResetError>'),
       'the connection ended without a reply (%s)' % (r or 'timeout'))
    c.close()
    block(False)
    kept = [m for m in ('m0', 'm1', 'm2a', 'm2b') if len(files_with(q, m))]
    ok(len(kept) == 4, 'every acknowledged message is still in incoming/ '
       '(%s)' % kept)
    print('# m3, never acknowledged: %d queue file(s) in incoming/ '
          '(may be delivered or not)' % len(files_with(q, 'm3')))

    # --- smtpd_queue_sync = fsync ---
    q = make_queue('q2')
    port = BASE + 1
    p = start(port, q, log, '-o', 'smtpd_queue_sync=fsync')
    ok(p.poll() is None, 'smtpd runs with smtpd_queue_sync = fsync')
    block(True)
    nheld = len(lines('held'))
    c = Client(port)
    c.upto_dot('m4')
    ok(wait_held(nheld + 1), 'fsync mode: smtpd is held in a sync')
    held_fn = lines('held')[nheld].split()[0] if len(lines('held')) > nheld \
        else ''
    ok(held_fn in ('fsync', 'fdatasync'),
       'fsync mode: the held call is %s' % held_fn)
    early = c.pending(1.5)
    ok(early == b'', 'fsync mode: no reply while held (got %r)' % early)
    block(False)
    r = c.final(10)
    ok(r.startswith('250 '), 'fsync mode: 250 after the release (%s)' % r)
    c.close()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()

    # --- smtpd_queue_sync = journal (the default) ---
    # A lone message is synced as with syncfs (visible at its 250); two
    # that finish together go through the journal: renamed only at the
    # checkpoint, 50 ms later. Killed in between (the checkpoint held),
    # the next smtpd commits them from the dead one's journal.
    q = make_queue('q3')
    port = BASE + 2
    p = start(port, q, log)
    ok(p.poll() is None, 'smtpd runs with the default (journal)')
    c = Client(port)
    c.upto_dot('j0')
    r = c.final(10)
    ok(r.startswith('250 ') and len(files_with(q, 'j0')) == 1,
       'journal: a lone message is in incoming/ at its 250 (%s)' % r)
    c.close()
    killed = False
    for attempt in range(3):
        block(True)
        nheld = len(lines('held'))
        a = Client(port)
        a.upto_dot('ja%d' % attempt)
        wait_held(nheld + 1)
        # these two finish while a's sync is held: one batch of two
        b, c = Client(port), Client(port)
        b.upto_dot('jb%d' % attempt)
        c.upto_dot('jc%d' % attempt)
        time.sleep(0.3)
        block(False)
        ra, rb, rc = a.final(10), b.final(10), c.final(10)
        block(True)   # the checkpoint, due 50 ms after the batch, waits
        for x in (a, b, c):
            x.close()
        got = (rb.startswith('250 ') and rc.startswith('250 ')
               and ra.startswith('250 '))
        nheld = len(lines('held'))
        if got and not files_with(q, 'jb%d' % attempt) \
                and not files_with(q, 'jc%d' % attempt) \
                and wait_held(nheld + 1, 5):
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            killed = True
            block(False)
            break
        print('# attempt %d: the checkpoint came first (%s | %s | %s)'
              % (attempt, ra, rb, rc))
        block(False)
    ok(killed, 'journal: two messages acknowledged together, not yet '
       'renamed, and smtpd killed in the checkpoint\'s sync')
    ok(files_with(q, 'jb%d' % attempt) == []
       and files_with(q, 'jc%d' % attempt) == [],
       'journal: after the kill neither is in incoming/')
    p = start(port, q, log)
    c = Client(port)
    c.upto_dot('j3')
    r = c.final(10)
    ok(r.startswith('250 '), 'journal: the next smtpd answers (%s)' % r)
    c.close()
    ok(len(files_with(q, 'jb%d' % attempt)) == 1
       and len(files_with(q, 'jc%d' % attempt)) == 1,
       'journal: the next smtpd committed both from the dead one\'s '
       'journal')
    ok(re.search(r'journal \S+: 2 messages committed', ptap.read(log)),
       'journal: the recovery is logged')
    ok(len(files_with(q, 'j3')) == 1, 'journal: and took its own message')
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    text = ptap.read(log)
    ok('panic:' not in text, 'no panic: in smtpd\'s log')
    ptap.sanitizer_ok(text, 'smtpd\'s log: no sanitizer report')
    return ptap.done()


if __name__ == '__main__':
    try:
        rc = main()
    finally:
        block(False)
        cleanup()
        if os.environ.get('POSTERN_KEEP'):
            print('# kept ' + TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
