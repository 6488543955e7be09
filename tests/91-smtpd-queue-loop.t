#!/usr/bin/python3
"""91-smtpd-queue-loop.t - a small message's queue file, written on the loop.

smtpd_queue.c writes the queue file of a message that fits in one chunk
on its event loop (workq_inline()) when nothing cleanup does can wait
on the network or on a sync: smtpd_queue_sync = syncfs, no DKIM
signing, and cleanup's tables (canonical, header and body checks, BCC)
all of local types; the file's rename is left to the group commit on a
worker, before its syncfs. Otherwise a worker writes the file, as
before. The client must see the same on both paths. smtpd runs alone
(`smtpd -d -v -l 127.0.0.1:PORT`, no master, no qmgr: the queue files
stay where smtpd put them). Checks:
  - local tables (texthash: canonical_maps, regexp: header_checks): the
    debug line says the loop writes; a 1 KB message gets "250 2.0.0
    Ok: queued as ID", incoming/ID holds it with the sender rewritten
    by canonical_maps, and no temporary file (.ID) is left anywhere;
  - header_checks HOLD: 250, the file is hold/ID (not incoming/);
  - header_checks REJECT: 550, no file at all;
  - 40 KB (more than one chunk, a worker's job): 250, incoming/ID;
  - canonical_maps = unix:passwd.byname (getpwnam() may ask a network
    service), then smtpd_queue_sync = fsync: the debug line says no,
    and a message still gets 250 and its file in incoming/;
  - no panic or sanitizer report in smtpd's log.
A mutant that renames nothing on the loop path (the rename dropped)
fails checks 3, 4 and 5. About 5 s. Ports 29700-29719.
"""
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
import procs  # noqa: E402
from smtp_dialog import cmd, connect, reply, wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
BASE = 29700 + (os.getpid() % 5) * 4
PROCS = []
TMP = tempfile.mkdtemp(prefix='postern-91-')
CONF = os.path.join(TMP, 'conf')
DECISION = 'queue files of small messages written on the event loop: '

cleanup = procs.killer(PROCS)


def start(port, queue, log, *opts):
    p = subprocess.Popen([os.path.join(BIN, 'smtpd'), '-d', '-v', '-l',
                          '127.0.0.1:%d' % port, '-c', CONF, '-o',
                          'queue_directory=' + queue] + list(opts),
                         stdin=subprocess.DEVNULL,
                         stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    PROCS.append(p)
    wait_accepts(port, p, 10)
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def make_queue(name):
    q = ptap.queue_dirs(os.path.join(TMP, name))
    if os.geteuid() == 0:
        pw = pwd.getpwnam('postern')
        for root, dirs, files in os.walk(q):
            os.chown(root, pw.pw_uid, pw.pw_gid)
    return q


def message(port, subject, size=1024):
    """One message; the final dot's reply."""
    s, f = connect(port, timeout=20)
    reply(f)
    for c in ('EHLO client.example.net', 'MAIL FROM:<old@example.net>',
              'RCPT TO:<user1@example.com>', 'DATA'):
        cmd(s, f, c)
    body = b'Subject: ' + subject.encode() + b'\r\n\r\n'
    line = b'x' * 70 + b'\r\n'
    body += line * (size // len(line) + 1)
    s.sendall(body + b'.\r\n')
    r = reply(f)
    cmd(s, f, 'QUIT')
    s.close()
    return r


def files(q, sub):
    return sorted(os.listdir(os.path.join(q, sub)))


def temps(q):
    return [sub + '/' + n for sub in ('incoming', 'hold')
            for n in files(q, sub) if n.startswith('.')]


def queued_id(r):
    m = re.match(r'250 2\.0\.0 Ok: queued as (\S+)$', r)
    return m.group(1) if m else None


def main():
    os.makedirs(CONF)
    os.chmod(TMP, 0o755)
    with open(os.path.join(CONF, 'canonical'), 'w') as f:
        f.write('old@example.net new@example.net\n')
    with open(os.path.join(CONF, 'header_checks'), 'w') as f:
        f.write('/^Subject: hold-me/ HOLD\n'
                '/^Subject: reject-me/ REJECT no thanks\n')
    with open(os.path.join(CONF, 'main.cf'), 'w') as f:
        f.write('myhostname = mx.example.com\nmydomain = example.com\n'
                'mydestination = localhost\nmynetworks = 127.0.0.0/8\n'
                'smtpd_peername_lookup = no\nalias_maps =\n'
                'virtual_mailbox_domains = example.com\n'
                'virtual_mailbox_maps = inline:{ '
                'user1@example.com=example.com/user1/ }\n'
                'canonical_maps = texthash:%s/canonical\n'
                'header_checks = regexp:%s/header_checks\n'
                % (CONF, CONF))
    logs = []

    # --- local tables: the loop writes small messages ---
    q = make_queue('q1')
    log = os.path.join(TMP, 'smtpd1.log')
    logs.append(log)
    p = start(BASE, q, log)
    r = message(BASE, 'plain')
    qid = queued_id(r)
    ok(qid is not None, 'local tables: 1 KB message: %s' % r)
    ok(DECISION + 'yes' in ptap.read(log),
       'local tables: the loop writes the file (debug line)')
    path = os.path.join(q, 'incoming', qid or '-')
    ok(os.path.exists(path) and b'new@example.net' in
       open(path, 'rb').read(), 'incoming/%s holds it, sender rewritten '
       'by canonical_maps (incoming/: %s)' % (qid, files(q, 'incoming')))
    r = message(BASE, 'hold-me')
    hid = queued_id(r)
    ok(hid is not None and files(q, 'hold') == [hid]
       and hid not in files(q, 'incoming'),
       'header_checks HOLD: %s, hold/: %s' % (r, files(q, 'hold')))
    before = files(q, 'incoming')
    r = message(BASE, 'reject-me')
    ok(r.startswith('550 ') and files(q, 'incoming') == before
       and files(q, 'hold') == ([hid] if hid else []),
       'header_checks REJECT: %s, no file' % r)
    r = message(BASE, 'big', 40 * 1024)
    bid = queued_id(r)
    ok(bid is not None and bid in files(q, 'incoming'),
       '40 KB (more than one chunk: on a worker): %s' % r)
    ok(temps(q) == [], 'no temporary file left (%s)' % temps(q))
    stop(p)

    # --- a table that may block, then fsync mode: a worker writes ---
    for n, opt in enumerate(('canonical_maps=unix:passwd.byname',
                             'smtpd_queue_sync=fsync')):
        q = make_queue('q%d' % (n + 2))
        log = os.path.join(TMP, 'smtpd%d.log' % (n + 2))
        logs.append(log)
        port = BASE + 1 + n
        p = start(port, q, log, '-o', opt)
        r = message(port, 'plain')
        qid = queued_id(r)
        ok(qid is not None and qid in files(q, 'incoming')
           and temps(q) == [], '%s: %s, file in incoming/' % (opt, r))
        ok(DECISION + 'no' in ptap.read(log),
           '%s: not on the loop (debug line)' % opt)
        stop(p)

    text = ''.join(ptap.read(x) for x in logs)
    ok('panic:' not in text, 'no panic: in smtpd\'s logs')
    ptap.sanitizer_ok(text, 'smtpd\'s logs: no sanitizer report')
    return ptap.done()


if __name__ == '__main__':
    try:
        rc = main()
    finally:
        cleanup()
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
