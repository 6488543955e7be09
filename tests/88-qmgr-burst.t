#!/usr/bin/python3
"""88-qmgr-burst.t - a burst bigger than qmgr's descriptors allow.

qmgr and the real virtual agent (as in 41, without master) run under
a hard RLIMIT_NOFILE of 256, so qmgr cannot raise it and
qmgr_message_active_limit (20000) is more than it can hold open:
qmgr logs "qmgr_message_active_limit 20000 exceeds what RLIMIT_NOFILE
256 allows: using 128" at start. qmgr is stopped (SIGSTOP) while
MESSAGES (450, 322 more than the 128 it may hold) are written to
incoming/ as smtpd writes them, then continued: every message is in
the Maildirs once (Message-IDs counted), no "transport unavailable"
or "Too many open files" in qmgr's log, deferred/ and corrupt/ empty.
Before the limit, qmgr took all 450 at once and ran out of
descriptors: queue files moved to corrupt/, or requests deferred as
"mail transport unavailable".

Then an agent whose listen queue is full (a socket with backlog 0
that accepts nothing until qmgr has logged a refused connect, at most
GATE_MAX s, then listens with a backlog of 64 and answers as
tests/lib/qmgr_fake_agent.py does) takes the place of virtual: the
connections qmgr cannot make (EAGAIN) are retried, not deferred; every
message is delivered, the retry warning names the error ("Resource
temporarily unavailable; retrying"), and no "transport unavailable".
The gate waits for qmgr's warning, not a fixed time: under load the
queue files and qmgr's first connects could come after a fixed 3 s.
No TCP port (unix sockets in the test's queue). About 10 s under ASan.
"""
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from smtp_dialog import wait_accepts  # noqa: E402
from qvtest import (finish, maildir, setup, stop_daemons,  # noqa: E402
                    wait_for, wake)
from ptap import ok, read  # noqa: E402
import qfile  # noqa: E402
import qmgr_fake_agent  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
NOFILE = 256
ACTIVE = 128            # what qmgr_conf_fd_limit() allows under NOFILE
MESSAGES = ACTIVE + 322
GATED = 30              # messages for the agent with a full listen queue
GATE_MAX = 15           # s; qmgr defers after 30 connect tries 1 s apart
REFUSED = 'virtual: Resource temporarily unavailable; retrying'
USERS = ('user1', 'user2', 'user3')
SEQ = [0]


def write_qf(q, rcpt, body):
    """a queue file in incoming/, in the QUEUE.md format"""
    SEQ[0] += 1
    qid = 'B%06d%d' % (SEQ[0], os.getpid())
    qfile.write_qf(q, qid, 's@sender.example', [(rcpt, 0)], body)
    return qid


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def gate(q, log, out, opened, stop, qlog):
    """private/virtual with a full listen queue until qmgr has met it
    (its retry warning, written after this point of qlog; GATE_MAX s at
    most), then an agent"""
    seen = len(read(qlog))
    path = os.path.join(q, 'private', 'virtual')
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o666)
    s.listen(0)
    opened.set()
    end = time.monotonic() + GATE_MAX
    while REFUSED not in read(qlog)[seen:] and time.monotonic() < end:
        if stop.wait(0.1):
            s.close()
            return
    # the queue is no bottleneck from now on: a retried connect gets in
    s.listen(64)
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        c.settimeout(None)
        threading.Thread(target=qmgr_fake_agent.serve,
                         args=(c, q, log, out, 'virtual'),
                         daemon=True).start()
    s.close()


def main():
    top, cf, q, base, root, uid, gid = setup('postern-88-qmgr.')
    qlog = os.path.join(top, 'qmgr.log')
    vlog = os.path.join(top, 'virtual.log')
    out = os.path.join(top, 'out')
    alog = os.path.join(out, 'agent.log')
    os.makedirs(out)
    procs = {}
    stop = threading.Event()

    def start(name, log):
        sock = os.path.join(q, 'public' if name == 'qmgr' else 'private',
                            name)
        procs[name] = subprocess.Popen(
            [os.path.join(BIN, name), '-c', cf, '-d', '-l', sock],
            stdout=subprocess.DEVNULL, stderr=open(log, 'a'),
            preexec_fn=low_nofile)
        if not wait_accepts(sock, procs[name], 20):
            print('# %s: nothing accepts on %s after 20 s' % (name, sock))

    def delivered():
        return sum(len(maildir(base, u)) for u in USERS)

    def empty(d):
        return not os.listdir(os.path.join(q, d))

    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s creates the queue', r.stderr)
        start('virtual', vlog)
        start('qmgr', qlog)
        line = ('qmgr_message_active_limit 20000 exceeds what RLIMIT_NOFILE'
                ' %d allows: using %d' % (NOFILE, ACTIVE))
        ok(wait_for(lambda: line in read(qlog), 10),
           'qmgr logs the active limit its descriptors allow', read(qlog))

        # the burst: qmgr stopped while the messages arrive
        procs['qmgr'].send_signal(signal.SIGSTOP)
        for i in range(MESSAGES):
            write_qf(q, '%s@example.com' % USERS[i % 3],
                     'From: s@sender.example\nSubject: burst %d\n'
                     'Message-ID: <burst-%d@t>\n\n%d\n' % (i, i, i))
        wake(q)         # queued in the socket until qmgr runs again
        procs['qmgr'].send_signal(signal.SIGCONT)
        ok(wait_for(lambda: delivered() >= MESSAGES
                    and empty('incoming') and empty('active'), 180),
           'burst: %d messages delivered, incoming/ and active/ empty'
           % MESSAGES, 'delivered %d\n%s' % (delivered(), read(qlog)[-3000:]))
        ids = []
        for u in USERS:
            for x in maildir(base, u):
                ids += [ln for ln in read(x).splitlines()
                        if ln.startswith('Message-ID: <burst-')]
        want = set('Message-ID: <burst-%d@t>' % i for i in range(MESSAGES))
        ok(set(ids) == want and len(ids) == MESSAGES,
           'burst: every Message-ID in the Maildirs exactly once',
           'missing %d, extra %d, %d files' % (len(want - set(ids)),
                                               len(set(ids) - want), len(ids)))
        ok(empty('deferred') and empty('corrupt'),
           'burst: deferred/ and corrupt/ empty',
           str(os.listdir(os.path.join(q, 'deferred'))[:5])
           + str(os.listdir(os.path.join(q, 'corrupt'))[:5]))
        text = read(qlog)
        ok('transport unavailable' not in text
           and 'Too many open files' not in text,
           'burst: no "transport unavailable", no "Too many open files"',
           '\n'.join(ln for ln in text.splitlines()
                     if 'unavailable' in ln or 'open files' in ln)[:3000])

        # an agent whose listen queue stays full for 3 s
        procs['virtual'].send_signal(signal.SIGTERM)
        try:
            rc = procs['virtual'].wait(30)
        except subprocess.TimeoutExpired:
            rc = 'still running after 30 s'
        ok(rc == 0, 'virtual exits 0', rc)
        opened = threading.Event()
        t = threading.Thread(target=gate,
                             args=(q, alog, out, opened, stop, qlog),
                             daemon=True)
        t.start()
        if not opened.wait(20):
            print('# the full listen queue was not set up in 20 s')
        gated = [write_qf(q, 'user%d@example.com' % (1 + i % 3),
                          'Subject: gated %d\n\n%d\n' % (i, i))
                 for i in range(GATED)]
        wake(q)

        def agent_got():
            return set(ln.split()[1] for ln in read(alog).splitlines())
        ok(wait_for(lambda: agent_got() >= set(gated) and empty('incoming')
                    and empty('active'), 60),
           'full listen queue: all %d messages delivered' % GATED,
           'got %d\n%s' % (len(agent_got() & set(gated)),
                           read(qlog)[-3000:]))
        text = read(qlog)
        ok(empty('deferred') and 'transport unavailable' not in text,
           'full listen queue: nothing deferred, no "transport unavailable"',
           '\n'.join(ln for ln in text.splitlines()
                     if 'unavailable' in ln)[:3000])
        ok(REFUSED in text,
           'the retry warning names the error', text[-3000:])
        stop.set()
        t.join(5)
        stop_daemons(procs, ('qmgr',), (qlog, vlog))
    finally:
        stop.set()
        finish(procs, top)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
