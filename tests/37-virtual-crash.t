#!/usr/bin/python3
"""37-virtual-crash.t - kill -9 the virtual agent while it delivers.

400 queue files (two recipients each, written in the QUEUE.md format)
are delivered through `virtual` by 8 client threads that behave like
qmgr: a request without an answer is retried until it is answered. A
killer thread sends SIGKILL to virtual every 30 completed messages (at
a random instant a few milliseconds later) and starts a new one.
Afterwards every (message, recipient) must be in its Maildir exactly
once, complete and byte-exact: the retry of a delivery whose answer was
lost finds its own earlier file.

Every retry is counted with its reason. A retry is expected only when
its request got no answer and overlapped a kill (or the restart after
it, until the new virtual accepts a connection); any other retry (an
answer other than "delivered", a timeout or a refused connection from a
virtual nobody killed) fails the test, with its reason.
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
from qvtest import make_top  # noqa: E402
from smtp_dialog import wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
MESSAGES = 400
KILL_EVERY = 30     # completed messages between two kills
MAX_TRIES = 40      # a message still not delivered then is given up


def write_qf(q, qid, sender, rcpts, body):
    env = 'V1\nI%s\nT%d.000000\nW%020d\nS%s\n' % (qid, int(time.time()), 0,
                                                  sender)
    for r in rcpts:
        env += 'RP 0 -1 %s\n' % r
    data = env.encode() + b'M%020d\n' % len(body) + body + b'E\n'
    tmp = os.path.join(q, 'active', '.' + qid)
    with open(tmp, 'wb') as f:
        f.write(data)
    os.rename(tmp, os.path.join(q, 'active', qid))


def request(sock_path, qid, rcpts):
    """One delivery request: (answer dict, None) or (None, why it failed)."""
    lines = ['version=1', 'queue_name=active', 'queue_id=' + qid,
             'transport=virtual', 'nexthop=example.com',
             'sender=s@example.org', 'rcpt_count=%d' % len(rcpts)]
    for i, addr in enumerate(rcpts):
        lines += ['rcpt.%d.addr=%s' % (i, addr), 'rcpt.%d.index=%d' % (i, i)]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect(sock_path)
        s.sendall(('\n'.join(lines) + '\n\n').encode())
        data = b''
        while not data.endswith(b'\n\n'):
            chunk = s.recv(65536)
            if not chunk:
                return None, 'connection closed without an answer'
            data += chunk
    except OSError as e:
        return None, '%s (%s)' % (type(e).__name__,
                                  os.strerror(e.errno) if e.errno else e)
    finally:
        s.close()
    ans = dict(l.split('=', 1) for l in data.decode().split('\n') if '=' in l)
    return ans, None


class Agent:
    """The virtual process. gen counts kills and up says whether the
    current one is known to accept connections: both change before the
    SIGKILL and after the new process answered a connect, so a request
    that started with a different gen, or while up was False, overlapped
    a kill or the restart that followed it."""

    def __init__(self, cf, sock, log):
        self.cf, self.sock, self.log = cf, sock, log
        self.p = None
        self.lock = threading.Lock()
        self.kills = 0
        self.gen = 0
        self.up = False

    def state(self):
        return self.gen, self.up

    def start(self):
        with self.lock:
            if os.path.exists(self.sock):
                os.unlink(self.sock)
            self.p = subprocess.Popen([os.path.join(BIN, 'virtual'), '-c',
                                       self.cf, '-d', '-l', self.sock],
                                      stdout=self.log, stderr=self.log)
            # up once a connect succeeds (the socket file exists from
            # bind(), before listen())
            self.up = wait_accepts(self.sock, self.p, 15)

    def kill(self):
        with self.lock:
            if self.p and self.p.poll() is None:
                self.up = False
                self.gen += 1
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait()
                self.kills += 1

    def stop(self):
        with self.lock:
            self.up = False
            if self.p and self.p.poll() is None:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait()


def main():
    top, cf, q, base, root, uid, gid = make_top('37-virtual-crash.')
    with open(os.path.join(cf, 'vmailbox'), 'w') as f:
        f.write('user1@example.com 1\nu2@example.com 1\n')
    with open(os.path.join(cf, 'main.cf'), 'w') as f:
        f.write('queue_directory = %s\nmyhostname = mx.example.net\n'
                'virtual_mailbox_base = %s\n'
                'virtual_mailbox_maps = texthash:%s/vmailbox\n'
                'virtual_uid_maps = static:%d\nvirtual_gid_maps = static:%d\n'
                'virtual_minimum_uid = %d\n'
                % (q, base, cf, uid, gid, min(uid, 100)))
    log = open(os.path.join(top, 'virtual.log'), 'ab')
    agent = Agent(cf, os.path.join(q, 'private', 'virtual'), log)
    try:
        subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                       check=True)
        rcpts = ['user1@example.com', 'u2@example.com']
        bodies = {}
        for i in range(MESSAGES):
            qid = 'CRASH%06dX' % i
            bodies[qid] = (b'Subject: crash %d\nMessage-ID: <%s@t>\n\n' %
                           (i, qid.encode()) + b'x' * random.randint(10, 20000)
                           + b'\n')
            write_qf(q, qid, 's@example.org', rcpts, bodies[qid])
        agent.start()
        pending = list(bodies)
        plock = threading.Lock()
        done = threading.Event()
        attempts = [0]
        completed = [0]
        by_kill = {}        # reason -> retries that overlapped a kill
        unexpected = []     # (qid, reason) of every other retry
        abandoned = []      # not delivered after MAX_TRIES requests

        def client():
            while True:
                with plock:
                    if not pending:
                        return
                    qid = pending.pop()
                for _ in range(MAX_TRIES):
                    gen0, up0 = agent.state()
                    a, why = request(agent.sock, qid, rcpts)
                    gen1, _ = agent.state()
                    with plock:
                        attempts[0] += 1
                    if a and a.get('rcpt.0.action') == 'delivered' and \
                            a.get('rcpt.1.action') == 'delivered':
                        with plock:
                            completed[0] += 1
                        break
                    if why is None:
                        why = 'answer: ' + ', '.join(
                            '%s %s (%s)' % (a.get('rcpt.%d.action' % i),
                                            a.get('rcpt.%d.status' % i),
                                            a.get('rcpt.%d.reason' % i))
                            for i in range(2))
                    with plock:
                        # Only a request that overlapped a kill (or the
                        # restart after it) may fail: the answer was
                        # lost with the process. An answer other than
                        # "delivered" from a live virtual never is.
                        if a is None and (gen0 != gen1 or not up0):
                            by_kill[why] = by_kill.get(why, 0) + 1
                        else:
                            unexpected.append((qid, why))
                    time.sleep(0.05)    # qmgr would retry later
                else:
                    with plock:
                        abandoned.append(qid)

        def killer():
            nxt = KILL_EVERY
            while not done.is_set():
                if completed[0] < nxt:
                    time.sleep(0.002)
                    continue
                nxt += KILL_EVERY
                time.sleep(random.uniform(0, 0.01))    # mid-delivery
                agent.kill()
                agent.start()

        k = threading.Thread(target=killer)
        k.start()
        cs = [threading.Thread(target=client) for _ in range(8)]
        for c in cs:
            c.start()
        for c in cs:
            c.join(300)
        done.set()
        k.join()
        ok(not any(c.is_alive() for c in cs) and not abandoned,
           'every message answered "delivered" within %d tries' % MAX_TRIES,
           'given up: %s' % abandoned[:10])
        ok(agent.kills >= 3, 'virtual was killed %d times during %d '
           'requests' % (agent.kills, attempts[0]))
        for why, n in sorted(by_kill.items()):
            print('# retry after a kill: %d x %s' % (n, why))
        ok(sum(by_kill.values()) > 0,
           'the kills cost retries (%d; reasons above)' %
           sum(by_kill.values()))
        ok(not unexpected, 'no retry without a kill (%d)' % len(unexpected),
           '\n'.join('%s: %s' % u for u in unexpected[:20]))
        ok(attempts[0] == MESSAGES + sum(by_kill.values()) + len(unexpected),
           'every request is a first try or a counted retry (%d = %d + %d '
           '+ %d)' % (attempts[0], MESSAGES, sum(by_kill.values()),
                      len(unexpected)))

        dup, missing, bad = [], [], []
        for user in ('user1', 'u2'):
            new = os.path.join(base, 'example.com', user, 'new')
            names = os.listdir(new) if os.path.isdir(new) else []
            idx = 0 if user == 'user1' else 1
            for qid, body in bodies.items():
                mine = [n for n in names if '.%s_%d.' % (qid, idx) in n]
                if len(mine) > 1:
                    dup.append((user, qid, mine))
                elif not mine:
                    missing.append((user, qid))
                else:
                    want = (b'Return-Path: <s@example.org>\n'
                            b'Delivered-To: %s@example.com\n' %
                            user.encode()) + body
                    if open(os.path.join(new, mine[0]), 'rb').read() != want:
                        bad.append((user, qid))
            ok(len(names) == MESSAGES, '%s: %d files for %d messages' %
               (user, len(names), MESSAGES))
        ok(not missing, 'no delivery missing', missing[:5])
        ok(not dup, 'no delivery duplicated', dup[:5])
        ok(not bad, 'every file complete and byte-exact', bad[:5])
        log.flush()
        text = open(os.path.join(top, 'virtual.log'), 'rb').read()
        ok(b'(already delivered)' in text,
           'retries found their earlier files (%d times)' %
           text.count(b'(already delivered)'))
        # virtual's stderr (UBSan reports, panic:) goes to virtual.log;
        # ASan reports also reach runtest's log_path directory.
        ptap.sanitizer_ok(text, 'virtual.log: no sanitizer report')
        ok(b'panic:' not in text, 'virtual.log: no panic:')
    finally:
        agent.stop()
        log.close()
        if os.environ.get('KEEP'):
            print('# kept ' + top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
