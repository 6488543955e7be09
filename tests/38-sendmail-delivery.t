#!/usr/bin/python3
"""38-sendmail-delivery.t - local submission end to end.

sendmail -> maildrop/ -> qmgr (pickup through cleanup, aliases) ->
virtual -> Maildir, with qmgr and virtual started by this test on a
temporary queue (qmgr -d -l <queue>/public/qmgr, virtual -d -l
<queue>/private/virtual). Checks: mail for root (an alias of a virtual
mailbox) arrives with Return-Path:, Delivered-To: and the body; -t takes
the recipients from the headers and Bcc: is gone; as root, a message
from an unprivileged user (maildrop 1733) is picked up and delivered;
-F puts the full name into the added From: header as Postfix does
("From: Jane Q Doe <login@$myorigin>", quoted with specials, never when
the message has a From:); the queue is empty afterwards; qmgr and
virtual were running all along, exit 0 on SIGTERM, no sanitizer report.
"""
import os
import pwd
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
from qvtest import make_top, stop_checked  # noqa: E402
from need import need_root, user_copy  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
PROCS = []


def start(args, log):
    p = subprocess.Popen([os.path.join(BIN, args[0])] + args[1:],
                         stdout=log, stderr=log)
    PROCS.append(p)
    return p


def wait_files(d, n, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            f = sorted(os.listdir(d))
        except FileNotFoundError:
            f = []
        if len(f) >= n:
            return f
        time.sleep(0.1)
    return f


def main():
    top, cf, q, base, root, uid, gid = make_top('38-sendmail.')
    with open(os.path.join(cf, 'vmailbox'), 'w') as f:
        f.write('user1@example.com 1\nuser2@example.com 1\n'
                'fname@example.com 1\n')
    with open(os.path.join(cf, 'aliases'), 'w') as f:
        f.write('root user1@example.com\npostmaster root\n')
    maillog = os.path.join(top, 'maillog')
    with open(os.path.join(cf, 'main.cf'), 'w') as f:
        f.write('queue_directory = %s\nmyhostname = mx.example.net\n'
                'mydestination = $myhostname, localhost\n'
                'virtual_mailbox_domains = example.com\n'
                'virtual_mailbox_base = %s\n'
                'virtual_mailbox_maps = texthash:%s/vmailbox\n'
                'virtual_uid_maps = static:%d\nvirtual_gid_maps = static:%d\n'
                'virtual_minimum_uid = %d\n'
                'alias_maps = texthash:%s/aliases\n'
                'maillog_file = %s\n'
                % (q, base, cf, uid, gid, min(uid, 100), cf, maillog))
    log = open(os.path.join(top, 'daemons.out'), 'ab')
    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s', r.stderr)
        start(['qmgr', '-c', cf, '-d', '-l',
               os.path.join(q, 'public', 'qmgr')], log)
        start(['virtual', '-c', cf, '-d', '-l',
               os.path.join(q, 'private', 'virtual')], log)
        for sock in ('public/qmgr', 'private/virtual'):
            if not wait_accepts(os.path.join(q, sock), seconds=15):
                print('# nothing accepts on %s after 15 s' % sock)

        r = subprocess.run([os.path.join(BIN, 'sendmail'), '-C', cf, 'root'],
                           input=b'Subject: for root\n\nroot body\n',
                           capture_output=True)
        ok(r.returncode == 0, 'sendmail root', r.stderr)
        new1 = os.path.join(base, 'example.com', 'user1', 'new')
        got = wait_files(new1, 1)
        ok(len(got) == 1, 'mail for root reaches the aliased mailbox',
           open(maillog).read() if os.path.exists(maillog) else '')
        data = open(os.path.join(new1, got[0]), 'rb').read() if got else b''
        ok(data.startswith(b'Return-Path: <root@mx.example.net>\n'
                           b'Delivered-To: user1@example.com\n') and
           b'\nSubject: for root\n' in data and
           data.endswith(b'\n\nroot body\n'),
           'Return-Path (sender qualified with $myorigin), Delivered-To, '
           'body', data)

        r = subprocess.run([os.path.join(BIN, 'sendmail'), '-C', cf, '-t',
                            '-f', 'sender@example.org'],
                           input=b'To: user2@example.com\nBcc: user1@'
                                 b'example.com\nSubject: dash t\n\nhi\n',
                           capture_output=True)
        new2 = os.path.join(base, 'example.com', 'user2', 'new')
        got2 = wait_files(new2, 1)
        got1 = wait_files(new1, 2)
        ok(r.returncode == 0 and len(got2) == 1 and len(got1) == 2,
           'sendmail -t: To and Bcc recipients delivered', (got1, got2))
        data = open(os.path.join(new2, got2[0]), 'rb').read() if got2 else b''
        ok(b'Return-Path: <sender@example.org>' in data and
           b'Bcc:' not in data, '-f sender; no Bcc: header delivered', data)

        if need_root(1, "an unprivileged user's mail is picked up and "
                     "delivered"):
            sm = user_copy(os.path.join(BIN, 'sendmail'), top)
            r = subprocess.run(['runuser', '-u', 'nobody', '--',
                                sm, '-C', cf, 'user2@example.com'],
                               input=b'Subject: from nobody\n\nhello\n',
                               capture_output=True)
            got2 = wait_files(new2, 2)
            data = b''.join(open(os.path.join(new2, f), 'rb').read()
                            for f in got2)
            ok(r.returncode == 0 and len(got2) == 2 and
               b'Return-Path: <nobody@mx.example.net>' in data,
               'an unprivileged user\'s mail is picked up and delivered',
               r.stderr)

        # sendmail -F: the full name goes into the From: header cleanup
        # adds, as Postfix writes it (header_from_format = standard):
        # "From: phrase <address>", the phrase quoted when it has
        # specials; a message with its own From: keeps it.
        login = pwd.getpwuid(os.getuid()).pw_name
        newf = os.path.join(base, 'example.com', 'fname', 'new')
        for args, msg in (
                (['-F', 'Jane   Q Doe'], b'Subject: F1\n\nf1\n'),
                (['-F', 'Doe, Jane "JD" \\ x', '-f', 'jd@example.org'],
                 b'Subject: F2\n\nf2\n'),
                (['-F', 'Ignored Name', '-f', 'jd@example.org'],
                 b'From: Own <own@example.org>\nSubject: F3\n\nf3\n')):
            r = subprocess.run([os.path.join(BIN, 'sendmail'), '-C', cf] +
                               args + ['fname@example.com'], input=msg,
                               capture_output=True)
            ok(r.returncode == 0, 'sendmail %s' % ' '.join(args), r.stderr)
        gotf = wait_files(newf, 3)
        byname = {}
        for f in gotf:
            data = open(os.path.join(newf, f), 'rb').read()
            for k in (b'F1', b'F2', b'F3'):
                if b'\nSubject: %s\n' % k in data:
                    byname[k] = data
        ok(('\nFrom: Jane Q Doe <%s@mx.example.net>\n' % login).encode()
           in byname.get(b'F1', b''),
           '-F "Jane   Q Doe": From: Jane Q Doe <login@$myorigin>',
           byname.get(b'F1', gotf))
        ok(b'\nFrom: "Doe, Jane \\"JD\\" \\\\ x" <jd@example.org>\n' in
           byname.get(b'F2', b''),
           '-F with specials: a quoted phrase, " and \\ escaped',
           byname.get(b'F2', gotf))
        d3 = byname.get(b'F3', b'')
        ok(b'\nFrom: Own <own@example.org>\n' in d3 and
           d3.count(b'From:') == 1 and b'Ignored Name' not in d3,
           '-F with a From: header in the message: the header is kept',
           byname.get(b'F3', gotf))

        end = time.time() + 10
        out = ''
        while time.time() < end:
            out = subprocess.run([os.path.join(BIN, 'postqueue'), '-c', cf,
                                  '-p'], capture_output=True).stdout.decode()
            if out == 'Mail queue is empty\n':
                break
            time.sleep(0.2)
        ok(out == 'Mail queue is empty\n', 'the queue is empty afterwards',
           out)
        text = open(maillog).read() if os.path.exists(maillog) else ''
        ok('relay=virtual' in text and 'status=sent (delivered to maildir)'
           in text and ': removed' in text, 'Postfix-style log lines', text)

        # qmgr and virtual ran to the end and stop cleanly (a crash or a
        # sanitizer abort on the way shows here); ASan/LSan reports are
        # files in POSTERN_SAN_DIR (tests/lib/runtest), UBSan's (and all,
        # without runtest) are in their stderr, daemons.out.
        stop_checked(PROCS, ok)
        log.flush()
        ptap.sanitizer_ok(ptap.read(os.path.join(top, 'daemons.out')))
    finally:
        for p in PROCS:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait()
        log.close()
        shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
