#!/usr/bin/python3
"""36-queue-commands.t - sendmail, postqueue (mailq), postsuper, postcat.

A temporary queue and config; a fake qmgr (a unix socket server on
public/qmgr that records what it is sent). Checks what an administrator
sees: the queue files sendmail writes (-t, Bcc removal, -i, ".", -f,
exit codes), the wakeup bytes ("W", "F", "I<id>"), Postfix's mailq
format (active '*', hold '!', deferral reasons), postsuper -d/-h/-H/-r
with ids, ALL, "-" and queue names, and postsuper -s repairs.
"""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
from need import need_prog, need_root, user_copy  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')


class FakeQmgr:
    """Accepts on public/qmgr and records every byte string received."""

    def __init__(self, path):
        self.got = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = False
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            c.settimeout(2)
            data = b''
            try:
                while True:
                    d = c.recv(100)
                    if not d:
                        break
                    data += d
            except socket.timeout:
                pass
            c.close()
            self.got.append(data)

    def wait(self, want, timeout=5):
        end = time.time() + timeout
        while time.time() < end and want not in self.got:
            time.sleep(0.05)
        return want in self.got

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()


def run(args, stdin=b''):
    cmd = [os.path.join(BIN, args[0])] + args[1:]
    return subprocess.run(cmd, input=stdin, capture_output=True)


def files(d):
    try:
        return sorted(f for f in os.listdir(d) if not f.startswith('.'))
    except FileNotFoundError:
        return []


def read_qf(path):
    """The recipients, sender and message of a queue file (QUEUE.md)."""
    data = open(path, 'rb').read()
    env, rest = data.split(b'\nM', 1)
    n = int(rest[:20])
    msg = rest[21:21 + n]
    sender, rcpts = None, []
    for line in env.split(b'\n'):
        if line.startswith(b'S'):
            sender = line[1:].decode()
        elif line.startswith(b'R'):
            rcpts.append(line.split(b' ')[3].decode())
    return sender, rcpts, msg


def main():
    top = tempfile.mkdtemp(prefix='36-queue.', dir='/tmp')
    os.chmod(top, 0o755)
    cf = os.path.join(top, 'etc')
    q = os.path.join(top, 'queue')
    os.makedirs(cf)
    with open(os.path.join(cf, 'main.cf'), 'w') as f:
        f.write('queue_directory = %s\nmyhostname = mx.example.net\n'
                'message_size_limit = 2000\nmaillog_file = %s/maillog\n'
                % (q, top))
    C = ['-c', cf]
    qmgr = None
    try:
        r = run(['postsuper'] + C + ['-s'])
        ok(r.returncode == 0, 'postsuper -s creates the queue', r.stderr)
        st = os.stat(os.path.join(q, 'maildrop'))
        ok(st.st_mode & 0o7777 == 0o1733, 'maildrop is mode 1733')
        ok(os.stat(os.path.join(q, 'incoming')).st_mode & 0o777 == 0o700,
           'incoming is mode 0700')
        qmgr = FakeQmgr(os.path.join(q, 'public', 'qmgr'))

        # --- sendmail
        msg = (b'From: me@example.org\nTo: A <a@example.com>, "B, x" '
               b'<b@example.com>\nCc: c@example.com (comment)\n'
               b'Bcc: secret@example.com,\n  hidden@example.com\n'
               b'Subject: t\r\n\r\nbody\r\n.\r\nafter the dot\n')
        r = run(['sendmail', '-C', cf, '-t', '-f', 'S@example.org'], msg)
        md = files(os.path.join(q, 'maildrop'))
        ok(r.returncode == 0 and len(md) == 1, 'sendmail -t exits 0',
           r.stderr)
        sender, rcpts, body = read_qf(os.path.join(q, 'maildrop', md[0]))
        ok(sender == 'S@example.org', '-f sets the sender', sender)
        ok(rcpts == ['a@example.com', 'b@example.com', 'c@example.com',
                     'secret@example.com', 'hidden@example.com'],
           '-t takes To, Cc and Bcc (with names, quotes, comments)', rcpts)
        ok(b'secret' not in body and b'hidden' not in body and
           b'To: A <a@example.com>' in body, 'Bcc: removed from the message',
           body)
        ok(body.endswith(b'\n\nbody\n') and b'after the dot' not in body,
           'a lone "." ends the message; CRLF -> LF', body)
        ok(qmgr.wait(b'W'), 'sendmail wakes qmgr with "W"', qmgr.got)
        os.rename(os.path.join(q, 'maildrop', md[0]),
                  os.path.join(q, 'deferred', md[0]))
        A = md[0]

        r = run(['sendmail', '-C', cf, '-i', '-f', '<>', 'x@example.com, '
                 'y@example.com'], b'Subject: two\n\n.\n..\nend\n')
        md = files(os.path.join(q, 'maildrop'))
        sender, rcpts, body = read_qf(os.path.join(q, 'maildrop', md[0]))
        ok(r.returncode == 0 and sender == '' and
           rcpts == ['x@example.com', 'y@example.com'] and
           body == b'Subject: two\n\n.\n..\nend\n',
           '-i keeps "." lines; -f <> is the null sender; comma list', body)
        os.rename(os.path.join(q, 'maildrop', md[0]),
                  os.path.join(q, 'active', md[0]))
        B = md[0]

        r = run(['sendmail', '-C', cf, 'user'], b'Subject: three\n\nx\n')
        md = files(os.path.join(q, 'maildrop'))
        sender, rcpts, _ = read_qf(os.path.join(q, 'maildrop', md[0]))
        ok(r.returncode == 0 and sender == pwd.getpwuid(os.getuid()).pw_name
           and rcpts == ['user'],
           'default sender is the login name; unqualified kept as given',
           (sender, rcpts))
        os.rename(os.path.join(q, 'maildrop', md[0]),
                  os.path.join(q, 'incoming', md[0]))
        Cid = md[0]

        r = run(['sendmail', '-C', cf], b'Subject: x\n\nno rcpt\n')
        ok(r.returncode == 64 and files(os.path.join(q, 'maildrop')) == [],
           'no recipients: EX_USAGE, nothing queued', r.stderr)
        r = run(['sendmail', '-C', cf, '-f', 'a\nX-Evil: 1', 'b@example.com'],
                b'Subject: x\n\nbody\n')
        ok(r.returncode == 64 and files(os.path.join(q, 'maildrop')) == [],
           '-f with a line break: EX_USAGE, nothing queued', r.stderr)
        r = run(['sendmail', '-C', cf, '-t'], b'Subject: x\n\nno rcpt\n')
        ok(r.returncode == 64 and b'No recipient addresses' in r.stderr,
           '-t without recipient headers: EX_USAGE', r.stderr)
        r = run(['sendmail', '-C', cf, 'a@example.com'],
                b'Subject: big\n\n' + b'x' * 3000 + b'\n')
        ok(r.returncode == 65 and files(os.path.join(q, 'maildrop')) == [],
           'over message_size_limit: EX_DATAERR, nothing queued', r.stderr)
        bad = os.path.join(top, 'badcf')
        os.makedirs(bad)
        with open(os.path.join(bad, 'main.cf'), 'w') as f:
            f.write('queue_directory = %s/nonexistent\n' % top)
        r = run(['sendmail', '-C', bad, 'a@example.com'], b'x\n')
        ok(r.returncode == 75, 'queue not writable: EX_TEMPFAIL', r.stderr)
        if need_root(2, 'an unprivileged user (nobody) can drop mail but '
                     'not list maildrop/'):
            sm = user_copy(os.path.join(BIN, 'sendmail'), top)
            r = subprocess.run(['runuser', '-u', 'nobody', '--', sm, '-C',
                                cf, 'a@example.com'],
                               input=b'Subject: from nobody\n\nhi\n',
                               capture_output=True)
            md = files(os.path.join(q, 'maildrop'))
            ok(r.returncode == 0 and len(md) == 1,
               'an unprivileged user can drop mail (maildrop 1733)',
               r.stderr)
            r = subprocess.run(['runuser', '-u', 'nobody', '--', 'ls',
                                os.path.join(q, 'maildrop')],
                               capture_output=True)
            ok(r.returncode != 0, 'but cannot list maildrop/')
            for f in md:
                os.unlink(os.path.join(q, 'maildrop', f))

        # --- postqueue -p / mailq
        with open(os.path.join(q, 'defer', A), 'w') as f:
            f.write('index=0\nrecipient=a@example.com\nstatus=4.4.1\n'
                    'action=delayed\nreason=connect to mx.example.com'
                    '[192.0.2.1]:25: Connection refused\ntime=1\n\n')
        r = run(['postqueue'] + C + ['-p'])
        out = r.stdout.decode()
        lines = out.split('\n')
        # Postfix's long-queue-id layout (postqueue/showq_compat.c)
        ok(r.returncode == 0 and lines[0] == '----Queue ID----- --Size-- '
           '---Arrival Time---- --Sender/Recipient------',
           'mailq header line', out)
        ok(any(l.startswith(B + '*') for l in lines), "active: '*' after id",
           out)
        ok(any(l.startswith(A + ' ') and l.endswith(' S@example.org')
               for l in lines), 'deferred message line with sender', out)
        reason = ('(connect to mx.example.com[192.0.2.1]:25: Connection '
                  'refused)')
        ok(reason in out and '\n' + ' ' * 47 + 'a@example.com' in out,
           'deferral reason, then its recipient indented 47', out)
        ok(any(l.endswith(' MAILER-DAEMON') for l in lines),
           'null sender shown as MAILER-DAEMON', out)
        ok(lines[-2].startswith('-- ') and lines[-2].endswith(
            ' Kbytes in 3 Requests.'), 'summary line', out)
        if need_prog(1, os.path.join(BIN, 'mailq'), 'mailq = postqueue -p'):
            r2 = run(['mailq'] + C)
            ok(r2.stdout == r.stdout, 'mailq = postqueue -p', r2.stderr)
        r2 = run(['sendmail', '-C', cf, '-bp'])
        ok(r2.stdout == r.stdout, 'sendmail -bp = postqueue -p', r2.stderr)

        # --- postqueue -j: JSON lines, the same messages as -p
        os.utime(os.path.join(q, 'deferred', A), (1000, 2000000000))
        rj = run(['postqueue'] + C + ['-j'])
        try:
            objs = [json.loads(l) for l in
                    rj.stdout.decode('utf-8').splitlines()]
        except ValueError as e:
            objs = None
            print('# not JSON: %s %r' % (e, rj.stdout))
        ok(rj.returncode == 0 and objs is not None and
           sorted(o['queue_id'] for o in objs) ==
           sorted(l.split()[0].rstrip('*!') for l in lines[1:-2]
                  if l and not l.startswith(' ') and not l.startswith('(')
                  and not l.startswith('-- ')),
           'postqueue -j: one JSON object per message -p lists',
           rj.stdout)
        byid = dict((o['queue_id'], o) for o in objs or [])
        oa = byid.get(A, {})
        ok(oa.get('queue_name') == 'deferred' and
           oa.get('sender') == 'S@example.org' and
           oa.get('recipients', [{}])[0].get('address') == 'a@example.com'
           and oa['recipients'][0].get('delay_reason') == reason[1:-1]
           and oa['recipients'][0].get('next_retry_time') == 2000000000,
           'postqueue -j: deferred message: sender, recipient, '
           'delay_reason, next_retry_time (the file mtime)', oa)
        ok(byid.get(B, {}).get('queue_name') == 'active' and
           isinstance(byid[B].get('arrival_time'), int) and
           isinstance(byid[B].get('message_size'), int) and
           byid[B].get('forced_expire') is False and
           all('next_retry_time' not in x
               for x in byid[B].get('recipients', [])),
           "postqueue -j: Postfix's fields for an active message",
           byid.get(B))
        ok(any(o.get('sender') == '' for o in objs or []),
           'postqueue -j: the null sender is ""', objs)

        # sendmail -bs: SMTP on stdin/stdout through smtpd -S
        r = run(['sendmail', '-C', cf, '-bs'], b'NOOP\r\nQUIT\r\n')
        out = r.stdout.decode('latin-1')
        ok(out.startswith('220 ') and '\n250 ' in out and '\n221 ' in out,
           'sendmail -bs speaks SMTP (smtpd -S)', out + r.stderr.decode())

        # postcat
        r = run(['postcat'] + C + ['-q', B])
        out = r.stdout.decode('latin-1')
        ok(r.returncode == 0 and out.startswith(
            '*** ENVELOPE RECORDS active/%s ***\n' % B) and
           '\nsender: \n' in out and '\nrecipient: x@example.com\n' in out
           and '\nrecipient: y@example.com\n' in out and
           'Subject: two\n\n.\n..\nend\n*** MESSAGE FILE END active/' in out,
           'postcat -q ID: envelope and message', out)
        r = run(['postcat'] + C + ['-q', '-b', B])
        ok(r.stdout.decode() == '*** MESSAGE BODY active/%s ***\n.\n..\nend\n'
           '*** MESSAGE FILE END active/%s ***\n' % (B, B),
           'postcat -b: the body only', r.stdout)
        r = run(['postcat'] + C + ['-q', 'NOSUCH1'])
        ok(r.returncode == 1 and b'no message NOSUCH1' in r.stderr,
           'postcat -q with an unknown id: exit 1', r.stderr)

        # --- postqueue -f / -i
        qmgr.got.clear()
        r = run(['postqueue'] + C + ['-f'])
        ok(r.returncode == 0 and qmgr.wait(b'F'), 'postqueue -f sends "F"',
           qmgr.got)
        r = run(['postqueue'] + C + ['-i', A])
        ok(r.returncode == 0 and qmgr.wait(b'I' + A.encode()),
           'postqueue -i ID sends "I<id>"', qmgr.got)
        r = run(['postqueue'] + C + ['-i', '../etc'])
        ok(r.returncode == 64, 'postqueue -i with a bad id: EX_USAGE')

        # --- postsuper
        r = run(['postsuper'] + C + ['-h', A])
        ok(r.returncode == 0 and files(os.path.join(q, 'hold')) == [A] and
           b'Placed on hold: 1 message' in r.stderr, 'postsuper -h ID',
           r.stderr)
        out = run(['postqueue'] + C + ['-p']).stdout.decode()
        ok(any(l.startswith(A + '!') for l in out.split('\n')),
           "held message shown with '!'", out)
        os.utime(os.path.join(q, 'hold', A), (1000, 1000))
        r = run(['postsuper'] + C + ['-H', A])
        ok(files(os.path.join(q, 'deferred')) == [A] and
           abs(os.stat(os.path.join(q, 'deferred', A)).st_mtime -
               time.time()) < 60 and b'Released from hold: 1' in r.stderr,
           'postsuper -H ID: to deferred, due now', r.stderr)
        r = run(['postsuper'] + C + ['-h', 'ALL'])
        ok(sorted(files(os.path.join(q, 'hold'))) == sorted([A, B, Cid]) and
           b'Placed on hold: 3 messages' in r.stderr,
           'postsuper -h ALL (incoming, active, deferred)', r.stderr)
        r = run(['postsuper'] + C + ['-H', '-'],
                (A + '\n' + B + '\n').encode())
        ok(sorted(files(os.path.join(q, 'deferred'))) == sorted([A, B]) and
           files(os.path.join(q, 'hold')) == [Cid], 'postsuper -H - (stdin)',
           r.stderr)
        qmgr.got.clear()
        r = run(['postsuper'] + C + ['-r', 'ALL', 'hold'])
        ok(files(os.path.join(q, 'incoming')) == [Cid] and
           b'Requeued: 1 message' in r.stderr and qmgr.wait(b'W'),
           'postsuper -r ALL hold: to incoming, qmgr woken', r.stderr)
        # -r counts each message once; an unknown id is not counted
        r = run(['postsuper'] + C + ['-r', B])
        ok(B in files(os.path.join(q, 'incoming')) and
           r.stderr == b'postsuper: Requeued: 1 message\n',
           'postsuper -r ID of one deferred message: "Requeued: 1 message"',
           r.stderr)
        os.rename(os.path.join(q, 'incoming', B),
                  os.path.join(q, 'deferred', B))
        nosuch = 'NOSUCH' + A[6:]
        r = run(['postsuper'] + C + ['-r', nosuch])
        ok(r.returncode == 0 and
           r.stderr == ('postsuper: %s: no such file\n' % nosuch).encode(),
           'postsuper -r with an unknown id: "ID: no such file", not '
           'counted', r.stderr)
        r = run(['postsuper'] + C + ['-d', nosuch, '-h', nosuch])
        ok(r.stderr == ('postsuper: %s: no such file\n' % nosuch).encode()
           * 2, 'postsuper -d/-h with an unknown id: the same, no count',
           r.stderr)
        r = run(['postsuper'] + C + ['-r', 'ALL'])
        ok(r.stderr == b'postsuper: Requeued: 3 messages\n' and
           sorted(files(os.path.join(q, 'incoming'))) == sorted([A, B, Cid]),
           'postsuper -r ALL over 3 messages (incoming, deferred): '
           '"Requeued: 3 messages"', r.stderr)
        for m in (A, B):
            os.rename(os.path.join(q, 'incoming', m),
                      os.path.join(q, 'deferred', m))
        r = run(['postsuper'] + C + ['-d', A])
        ok(A not in files(os.path.join(q, 'deferred')) and
           not os.path.exists(os.path.join(q, 'defer', A)) and
           b'Deleted: 1 message' in r.stderr,
           'postsuper -d ID removes the file and its defer log', r.stderr)
        r = run(['postsuper'] + C + ['-d', 'ALL', 'deferred'])
        ok(files(os.path.join(q, 'deferred')) == [] and
           files(os.path.join(q, 'incoming')) == [Cid],
           'postsuper -d ALL deferred: only that queue', r.stderr)
        # every action is logged per message, as Postfix's postsuper
        log = open(os.path.join(top, 'maillog')).read()

        def logged(what):
            return re.findall(r'postsuper\[\d+\]: (\w+): %s$' % what,
                              log, re.M)
        ok(logged('placed on hold').count(A) == 2 and
           set(logged('placed on hold')) == {A, B, Cid},
           'log: "ID: placed on hold" for every held message',
           logged('placed on hold'))
        ok(logged('released from hold').count(A) == 2 and
           B in logged('released from hold'),
           'log: "ID: released from hold"', logged('released from hold'))
        ok(logged('requeued').count(A) == 1 and
           logged('requeued').count(B) == 2 and
           logged('requeued').count(Cid) == 2 and nosuch not in log,
           'log: "ID: requeued", once per message requeued, never for '
           'an unknown id', logged('requeued'))
        ok(logged('removed').count(A) == 1 and B in logged('removed'),
           'log: "ID: removed"', logged('removed'))
        r = run(['postsuper'] + C + ['-d', '../../etc/passwd'])
        ok(r.returncode == 64, 'postsuper -d with a bad id: EX_USAGE')
        r = run(['postsuper'] + C + ['-d', 'ALL', 'nosuchqueue'])
        ok(r.returncode == 64, 'postsuper with a bad queue name: EX_USAGE')

        # --- postsuper -s repairs
        os.rename(os.path.join(q, 'incoming', Cid),
                  os.path.join(q, 'incoming', 'WRONGNAME1'))
        stale = os.path.join(q, 'incoming', '.STALE1')
        open(stale, 'w').close()
        os.utime(stale, (1000, 1000))
        fresh = os.path.join(q, 'incoming', '.FRESH1')
        open(fresh, 'w').close()
        with open(os.path.join(q, 'bounce', 'ORPHAN1'), 'w') as f:
            f.write('index=0\n\n')
        shutil.rmtree(os.path.join(q, 'hold'))
        r = run(['postsuper'] + C + ['-s'])
        ok(files(os.path.join(q, 'incoming')) == [Cid],
           '-s renames a misnamed file to its queue id', r.stderr)
        ok(not os.path.exists(stale) and os.path.exists(fresh),
           '-s removes only old temporary files')
        ok(not os.path.exists(os.path.join(q, 'bounce', 'ORPHAN1')),
           '-s removes orphaned logs')
        ok(os.path.isdir(os.path.join(q, 'hold')),
           '-s recreates a missing directory')
        r = run(['sendmail', '-C', cf, 'z@example.com'], b'Subject: z\n\n')
        md = files(os.path.join(q, 'maildrop'))
        r = run(['postsuper'] + C + ['-d', 'ALL'])
        ok(files(os.path.join(q, 'maildrop')) == md and len(md) == 1 and
           files(os.path.join(q, 'incoming')) == [],
           'postsuper -d ALL: default queues, maildrop left alone')
        r = run(['postsuper'] + C + ['-d', 'ALL', 'maildrop'])
        ok(files(os.path.join(q, 'maildrop')) == [] and
           files(os.path.join(q, 'incoming')) == [] and
           b'Deleted: 1 message' in r.stderr,
           'postsuper -d ALL maildrop: only the named queue', r.stderr)
        out = run(['postqueue'] + C + ['-p']).stdout.decode()
        ok(out == 'Mail queue is empty\n', 'empty queue message', out)
        qmgr.close()
        qmgr = None
        os.unlink(os.path.join(q, 'public', 'qmgr'))
        r = run(['postqueue'] + C + ['-f'])
        ok(r.returncode == 69, 'postqueue -f without qmgr: EX_UNAVAILABLE',
           r.stderr)
    finally:
        if qmgr:
            qmgr.close()
        shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
