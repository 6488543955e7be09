#!/usr/bin/python3
"""35-virtual.t - the virtual(8) delivery agent over its unix socket.

A temporary queue and config; a message queued with our sendmail and
moved to active/; `virtual -d -l <queue>/private/virtual`; requests in
the lib/deliver.h format. Checks: the Maildir file bytes exactly
(Return-Path:, Delivered-To:, message), the answer attributes, the
Postfix log line, idempotence (same request twice -> one file, also
after the user moved it to cur/), unknown user -> bounced 5.1.1, many
concurrent requests, a request that arrives in parts after the connect
(lib/agent.c reads a whole one at accept, the rest on the loop), one
that stops half-way (closed after ipc_timeout), and a MySQL map on a
closed port -> deferred 4.3.0.
"""
import os
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
from qvtest import make_top, start_agent, stop  # noqa: E402
from need import need_root  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
PROCS = []


def request(sock_path, qid, rcpts, sender='s@example.org', queue='active'):
    """rcpts: list of (addr, index). Returns the answer as a dict."""
    return ptap.agent_request(sock_path, qid, rcpts, sender, queue)


def start_virtual(cf, sock_path, log_path, extra=()):
    return start_agent(BIN, 'virtual', cf, sock_path, log_path, PROCS, extra)


def files(d):
    try:
        return sorted(f for f in os.listdir(d) if not f.startswith('.'))
    except FileNotFoundError:
        return []


def main():
    top, cf, q, base, root, uid, gid = make_top('35-virtual.')
    with open(os.path.join(cf, 'vmailbox'), 'w') as f:
        f.write('user1@example.com 1\nu2@example.com custom/u2/\n')
    # a port nothing listens on, keyed on this test
    port = 20350
    with open(os.path.join(cf, 'down.cf'), 'w') as f:
        f.write('hosts = 127.0.0.1:%d\nuser = x\npassword = y\n'
                'dbname = mailserver\n'
                "query = SELECT 1 FROM virtual_users WHERE email='%%s'\n"
                % port)
    with open(os.path.join(cf, 'main.cf'), 'w') as f:
        f.write('queue_directory = %s\nmyhostname = mx.example.net\n'
                'virtual_mailbox_base = %s\n'
                'virtual_mailbox_maps = texthash:%s/vmailbox\n'
                'virtual_uid_maps = static:%d\nvirtual_gid_maps = static:%d\n'
                'virtual_minimum_uid = %d\nipc_timeout = 2s\n'
                % (q, base, cf, uid, gid, min(uid, 100)))
    log_path = os.path.join(top, 'virtual.log')
    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0 and os.path.isdir(os.path.join(q, 'active')),
           'postsuper -s creates the queue', r.stderr)

        msg = (b'From: <s@example.org>\r\nTo: user1@example.com\r\n'
               b'Subject: virtual test\r\n\r\nline one\r\n..dot line\r\n'
               b'\xc3\xa9t\xc3\xa9\r\n')
        r = subprocess.run([os.path.join(BIN, 'sendmail'), '-C', cf, '-i',
                            '-f', 's@example.org', 'user1@example.com',
                            'nobody@example.com', 'u2@example.com'],
                           input=msg, capture_output=True)
        ids = files(os.path.join(q, 'maildrop'))
        ok(r.returncode == 0 and len(ids) == 1, 'sendmail queued one file',
           r.stderr)
        qid = ids[0]
        os.rename(os.path.join(q, 'maildrop', qid),
                  os.path.join(q, 'active', qid))
        sock = os.path.join(q, 'private', 'virtual')
        p = start_virtual(cf, sock, log_path)
        ok(os.path.exists(sock), 'virtual listens on private/virtual')

        a = request(sock, qid, [('user1@example.com', 0)])
        ok(a.get('rcpt_count') == '1' and a.get('rcpt.0.action') ==
           'delivered' and a.get('rcpt.0.status') == '2.0.0' and
           a.get('rcpt.0.relay') == 'virtual',
           'answer: delivered 2.0.0 relay=virtual', a)
        new = os.path.join(base, 'example.com', 'user1', 'new')
        got = files(new)
        ok(len(got) == 1, 'one file in example.com/user1/new', got)
        want = (b'Return-Path: <s@example.org>\n'
                b'Delivered-To: user1@example.com\n' +
                msg.replace(b'\r\n', b'\n'))
        data = open(os.path.join(new, got[0]), 'rb').read() if got else b''
        ok(data == want, 'Maildir bytes exact (CRLF -> LF, 8-bit kept)',
           repr(data))
        ok(got and got[0].endswith('.%s_0.mx.example.net' % qid),
           'file name carries queue id and index', got)
        if need_root(1, 'owned by virtual_uid_maps/virtual_gid_maps'):
            st = os.stat(os.path.join(new, got[0])) if got else None
            ok(st and st.st_uid == 5000 and st.st_gid == 5000,
               'owned by virtual_uid_maps/virtual_gid_maps',
               st and (st.st_uid, st.st_gid))

        a = request(sock, qid, [('user1@example.com', 0)])
        ok(a.get('rcpt.0.action') == 'delivered' and len(files(new)) == 1,
           'same request again: delivered, still one file', a)
        cur = os.path.join(base, 'example.com', 'user1', 'cur')
        if got:
            os.rename(os.path.join(new, got[0]),
                      os.path.join(cur, got[0] + ':2,S'))
        a = request(sock, qid, [('user1@example.com', 0)])
        ok(a.get('rcpt.0.action') == 'delivered' and files(new) == [] and
           len(files(cur)) == 1, 'after the move to cur/: still one copy', a)

        a = request(sock, qid, [('nobody@example.com', 1),
                                ('u2@example.com', 2)])
        ok(a.get('rcpt.0.action') == 'bounced' and
           a.get('rcpt.0.status') == '5.1.1',
           'unknown user: bounced 5.1.1', a)
        ok(a.get('rcpt.1.action') == 'delivered' and
           len(files(os.path.join(base, 'custom', 'u2', 'new'))) == 1,
           'map value "custom/u2/" is the Maildir path', a)

        # many requests at once
        results = []

        def one(i):
            results.append(request(sock, qid, [('u2@example.com', 2)]))
        ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ok(len(results) == 20 and all(r.get('rcpt.0.action') == 'delivered'
                                      for r in results) and
           len(files(os.path.join(base, 'custom', 'u2', 'new'))) == 1,
           '20 concurrent requests: all delivered, one file')

        a = request(sock, 'NOSUCHID123', [('user1@example.com', 0)])
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.3.0' and
           a.get('rcpt.0.reason', '').startswith('cannot read queue file: '),
           'missing queue file: deferred 4.3.0, "cannot read queue file"', a)
        a = request(sock, qid, [('user1@example.com', 99)])
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.3.0' and
           a.get('rcpt.0.reason') == 'recipient index 99 not in queue file',
           'recipient index beyond the queue file: deferred 4.3.0', a)

        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sock)
        s.sendall(b'version=1\nBAD LINE\n\n')
        s.shutdown(socket.SHUT_WR)
        ok(s.recv(100) == b'', 'malformed request: connection closed')
        s.close()
        ok(p.poll() is None, 'virtual still running')

        # the request in two parts, the second 0.5 s after the connect
        # (cut inside a line): read on the loop, answered as a whole one
        req = ('version=1\nqueue_name=active\nqueue_id=%s\n'
               'transport=virtual\nnexthop=example.com\n'
               'sender=s@example.org\nrcpt_count=1\n'
               'rcpt.0.addr=u2@example.com\nrcpt.0.index=2\n'
               'rcpt.0.orig=u2@example.com\nrcpt.0.notify=0\n\n'
               % qid).encode()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sock)
        s.sendall(req[:40])
        time.sleep(0.5)
        s.sendall(req[40:])
        data = b''
        try:
            while not data.endswith(b'\n\n'):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        s.close()
        ok(b'rcpt.0.action=delivered\n' in data and
           b'rcpt.0.status=2.0.0\n' in data,
           'a request sent in two parts 0.5 s apart: delivered 2.0.0', data)

        # half a request, then silence: closed after ipc_timeout (2s)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        s.connect(sock)
        s.sendall(req[:40])
        t0 = time.time()
        try:
            eof = s.recv(100) == b''
        except OSError:
            eof = False
        waited = time.time() - t0
        s.close()
        ok(eof and 1.5 <= waited < 12,
           'half a request, then nothing: closed after ipc_timeout',
           (eof, waited))

        # connect and close at once: nothing to serve, virtual goes on
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.close()
        a = request(sock, qid, [('u2@example.com', 2)])
        ok(p.poll() is None and a.get('rcpt.0.action') == 'delivered',
           'an empty connection closed: virtual still serves requests', a)

        rc = stop(p)
        ok(rc == 0, 'virtual exits 0 on SIGTERM', rc)
        log = open(log_path, 'rb').read().decode('latin-1')
        ok(('%s: to=<user1@example.com>, relay=virtual, delay=' % qid) in log
           and 'dsn=2.0.0, status=sent (delivered to maildir)' in log,
           'Postfix delivery log line', log[-2000:])
        ok('dsn=5.1.1, status=bounced (unknown user: "nobody@example.com")'
           in log, 'bounce log line', log[-2000:])
        ok('delivery request: timeout' in log,
           'the stalled request is logged as a timeout', log[-2000:])
        ptap.delivery_log_ok(log, 'virtual', "every to= line virtual "
                             "logged has lib/deliver_log.h's fields and "
                             "Postfix's delay format", least=2)

        # the MySQL map on a closed port: deferred, never bounced
        sock2 = os.path.join(q, 'private', 'virtual2')
        p2 = start_virtual(cf, sock2, log_path,
                           ['-o', 'virtual_mailbox_maps=mysql:%s/down.cf'
                            % cf])
        a = request(sock2, qid, [('user1@example.com', 0)])
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.3.0',
           'MySQL down: deferred 4.3.0', a)
        rc = stop(p2)
        ok(rc == 0, 'the second virtual exits 0 on SIGTERM', rc)
        # after both virtuals: ASan/LSan reports are files in
        # POSTERN_SAN_DIR (tests/lib/runtest), UBSan's (and all, without
        # runtest) in their stderr, virtual.log
        ptap.sanitizer_ok(ptap.read(log_path),
                          'no sanitizer report from either virtual')
    finally:
        for p in PROCS:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        shutil.rmtree(top, ignore_errors=True) if not os.environ.get('KEEP') else None
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
