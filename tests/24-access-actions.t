#!/usr/bin/python3
"""24-access-actions.t - access-table actions that apply to the whole
message (issue 11): HOLD, DISCARD, REDIRECT, BCC and PREPEND found by
check_recipient_access (a texthash table) at RCPT, end to end: SMTP ->
smtpd (cleanup) -> qmgr -> virtual -> Maildir.

Real programs only, no master (the qvtest.py instance, as in 39): smtpd
on 127.0.0.1:PORT, qmgr and virtual on their sockets, smtplib as client.

Checks, as a user would:
  - HOLD: 250, the queue file is in hold/ (not delivered), `postqueue
    -p` marks its id with '!', and smtpd logs Postfix's "NOQUEUE: hold:
    RCPT from unknown[127.0.0.1]: <r>: Recipient address triggers HOLD
    action; from=<s> to=<r> proto=ESMTP helo=<h>"; the next transaction
    of the same session is not held;
  - DISCARD: every RCPT (also a valid one after it) gets 250, the
    message "250 2.0.0 Ok: queued as ID", and it is in no Maildir and
    no queue directory;
    the log line "NOQUEUE: discard: RCPT from ...: <r>: Recipient
    address triggers DISCARD action; ...";
  - REDIRECT user2@example.com: the message lands in user2's Maildir
    only, not in the two recipients' ("redirect: ... triggers REDIRECT
    user2@example.com" logged);
  - BCC user3@example.com: the recipient and user3 each get one copy
    ("bcc: ... triggers BCC user3@example.com" logged);
  - PREPEND X-Greylist: ...: the header is in the Maildir right before
    smtpd's Received: header (where Postfix's smtpd writes it);
  - a policy server's action=PREPEND X-Policy: seen (second smtpd with
    check_policy_service, tests/lib/policy_server.py) does the same, as
    postgrey's X-Greylist: does;
  - REJECT and WARN from a hash: table (postmap), answered on smtpd's
    event loop (smtpd_check_inline.c): Postfix's reply "554 5.7.1
    <r>: Recipient address rejected: go away" and exactly one
    "NOQUEUE: reject: RCPT from ..." line; a WARN exactly one "NOQUEUE:
    warn: ..." line and the mail is accepted; two held messages, two
    hold lines (none logged twice, none lost).
Takes about 5 s (ports 21640-21659).
"""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from qvtest import (free_port, maildir, setup, starter,  # noqa: E402
                    stop, wait_for)
from ptap import ok, read  # noqa: E402
from smtp_dialog import accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')


PORT = free_port(21640, 21649)    # the smtpd with the access table
PORT2 = free_port(21650, 21654)   # the smtpd with check_policy_service
PPORT = free_port(21655, 21659)   # tests/lib/policy_server.py
PROCS = []
USERS = ('hold', 'discard', 'redirect', 'bcc', 'prepend', 'warn')
ACCESS = '''hold@example.com HOLD
discard@example.com DISCARD
redirect@example.com REDIRECT user2@example.com
bcc@example.com BCC user3@example.com
prepend@example.com PREPEND X-Greylist: delayed 1 seconds by test
'''


def main():
    top, cf, q, base, root, uid, gid = setup('postern-24.')
    with open(os.path.join(cf, 'vmailbox'), 'a') as f:
        f.write(''.join('%s@example.com 1\n' % u for u in USERS))
    with open(os.path.join(cf, 'access'), 'w') as f:
        f.write(ACCESS)
    with open(os.path.join(cf, 'reject_access'), 'w') as f:
        f.write('reject@example.com REJECT go away\n'
                'warn@example.com WARN watch this\n')
    with open(os.path.join(cf, 'main.cf'), 'a') as f:
        f.write('mynetworks = 127.0.0.0/8\n'
                'smtpd_peername_lookup = no\n'
                'resolver_nameservers = 127.0.0.1:9\n'
                # no defer_unauth_destination (Postfix's default): every
                # RCPT restriction may be answered on the event loop
                'smtpd_relay_restrictions = permit_mynetworks, '
                'reject_unauth_destination\n'
                'smtpd_recipient_restrictions = check_recipient_access '
                'hash:%s/reject_access, check_recipient_access '
                'texthash:%s/access, permit_mynetworks, reject\n'
                % (cf, cf))
    slog = os.path.join(top, 'smtpd.log')
    qlog = os.path.join(top, 'qmgr.log')
    vlog = os.path.join(top, 'virtual.log')

    start = starter(BIN, cf, PROCS)

    def send(rcpts, mid, port=PORT):
        msg = ('From: s@example.net\r\nTo: x@example.com\r\nSubject: a\r\n'
               'Message-ID: <%s@t>\r\n\r\nbody %s\r\n' % (mid, mid))
        with smtplib.SMTP('127.0.0.1', port, local_hostname='client.example',
                          timeout=20) as s:
            s.ehlo()
            s.mail('sender@example.net')
            codes = [s.rcpt(r)[0] for r in rcpts]
            code, text = s.data(msg)
            return codes, code, text.decode()

    def copies(user, mid):
        return [read(x) for x in maildir(base, user)
                if '<%s@t>' % mid in read(x)]

    def queued(sub):
        d = os.path.join(q, sub)
        return [f for f in (os.listdir(d) if os.path.isdir(d) else [])
                if not f.startswith('.')]

    def logline(action, rcpt, text):
        return ('NOQUEUE: %s: RCPT from unknown[127.0.0.1]: <%s>: '
                'Recipient address %s; from=<sender@example.net> '
                'to=<%s> proto=ESMTP helo=<client.example>\n'
                % (action, rcpt, text, rcpt))

    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s creates the queue', r.stderr)
        r = subprocess.run([os.path.join(BIN, 'postmap'), '-c', cf,
                            'hash:%s/reject_access' % cf],
                           capture_output=True)
        ok(r.returncode == 0, 'postmap hash:reject_access', r.stderr)
        start('virtual', vlog, ['-l', os.path.join(q, 'private', 'virtual')])
        start('qmgr', qlog, ['-l', os.path.join(q, 'public', 'qmgr')])
        start('smtpd', slog, ['-l', '127.0.0.1:%d' % PORT])
        # accepting, not only bound: a socket file exists before listen()
        ok(wait_for(lambda: accepts(PORT)
                    and accepts(os.path.join(q, 'public', 'qmgr'))
                    and accepts(os.path.join(q, 'private', 'virtual'))),
           'smtpd, qmgr and virtual are up', read(slog) + read(qlog))

        # control: a plain message is delivered (the instance works)
        codes, code, _ = send(['user1@example.com'], 'plain')
        ok(codes == [250] and code == 250
           and wait_for(lambda: copies('user1', 'plain')),
           'a message without actions is delivered', read(slog))

        # HOLD
        codes, code, text = send(['hold@example.com'], 'hold')
        m = re.search(r'queued as (\S+)', text)
        qid = m.group(1) if m else '?'
        ok(codes == [250] and code == 250 and m, 'HOLD: 250 queued as ID',
           (codes, code, text))
        ok(queued('hold') == [qid], 'HOLD: the queue file is in hold/',
           (queued('hold'), qid))
        r = subprocess.run([os.path.join(BIN, 'postqueue'), '-c', cf, '-p'],
                           capture_output=True, text=True)
        ok(re.search(r'^%s!\s' % re.escape(qid), r.stdout, re.M),
           'HOLD: postqueue -p shows the id with !', r.stdout + r.stderr)
        ok(logline('hold', 'hold@example.com', 'triggers HOLD action')
           in read(slog), 'HOLD: Postfix\'s NOQUEUE: hold: log line',
           read(slog))

        # the action is the transaction's: the next MAIL starts afresh
        with smtplib.SMTP('127.0.0.1', PORT, local_hostname='client.example',
                          timeout=20) as s:
            for r, mid in (('hold@example.com', 'hold2'),
                           ('user1@example.com', 'after')):
                s.sendmail('sender@example.net', [r], 'Message-ID: <%s@t>'
                           '\r\n\r\nb\r\n' % mid)
        ok(wait_for(lambda: copies('user1', 'after'))
           and len(queued('hold')) == 2, 'HOLD then a plain message in one '
           'session: the second is delivered, not held',
           (queued('hold'), read(slog)))

        # DISCARD (and a valid recipient after it)
        codes, code, text = send(['discard@example.com', 'user1@example.com'],
                                 'discard')
        ok(codes == [250, 250] and code == 250
           and re.match(r'2\.0\.0 Ok: queued as \S+$', text),
           'DISCARD: both RCPTs get 250, the message "250 2.0.0 Ok: queued '
           'as ID" (as Postfix says)', (codes, code, text))
        ok(logline('discard', 'discard@example.com',
                   'triggers DISCARD action') in read(slog),
           'DISCARD: Postfix\'s NOQUEUE: discard: log line', read(slog))

        # REDIRECT: every recipient replaced
        codes, code, _ = send(['redirect@example.com', 'user1@example.com'],
                              'redirect')
        ok(codes == [250, 250] and code == 250, 'REDIRECT: accepted',
           (codes, code))
        ok(wait_for(lambda: copies('user2', 'redirect')),
           'REDIRECT: delivered to user2', read(slog) + read(vlog))
        ok(logline('redirect', 'redirect@example.com',
                   'triggers REDIRECT user2@example.com') in read(slog),
           'REDIRECT: Postfix\'s redirect: log line', read(slog))

        # BCC: one more recipient
        codes, code, _ = send(['bcc@example.com'], 'bcc')
        ok(codes == [250] and code == 250, 'BCC: accepted', (codes, code))
        ok(wait_for(lambda: copies('bcc', 'bcc') and copies('user3', 'bcc')),
           'BCC: delivered to the recipient and to user3',
           read(slog) + read(vlog))
        ok(logline('bcc', 'bcc@example.com',
                   'triggers BCC user3@example.com') in read(slog),
           'BCC: Postfix\'s bcc: log line', read(slog))

        # PREPEND: a header before smtpd's Received:
        codes, code, _ = send(['prepend@example.com'], 'prepend')
        t = wait_for(lambda: copies('prepend', 'prepend'))
        ok(codes == [250] and code == 250 and t, 'PREPEND: delivered',
           read(slog) + read(vlog))
        t = t[0] if t else ''
        ok(t.startswith('Return-Path: <sender@example.net>\n'
                        'Delivered-To: prepend@example.com\n'
                        'X-Greylist: delayed 1 seconds by test\n'
                        'Received: from client.example '),
           'PREPEND: X-Greylist: right before the Received: header',
           repr(t))

        # a policy server's PREPEND (postgrey's X-Greylist: kind)
        plog = os.path.join(top, 'policy.log')
        pol = subprocess.Popen([sys.executable, os.path.join(
            os.path.dirname(os.path.abspath(__file__)), 'lib',
            'policy_server.py'), '--inet', str(PPORT), '--log', plog],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=open(os.path.join(top, 'policy.err'), 'a'))
        PROCS.append(pol)
        ok(pol.stdout.readline().strip() == b'ready', 'policy server is up')
        start('smtpd', slog, ['-l', '127.0.0.1:%d' % PORT2, '-o',
                              'smtpd_recipient_restrictions=check_policy_'
                              'service inet:127.0.0.1:%d, permit_mynetworks, '
                              'reject' % PPORT])
        ok(wait_for(lambda: accepts(PORT2)), 'second smtpd is up',
           read(slog))
        codes, code, _ = send(['prepend@example.com'], 'policy', PORT2)
        t = wait_for(lambda: copies('prepend', 'policy'))
        ok(codes == [250] and code == 250 and t, 'policy PREPEND: delivered',
           read(slog) + read(vlog))
        t = t[0] if t else ''
        ok(t.startswith('Return-Path: <sender@example.net>\n'
                        'Delivered-To: prepend@example.com\n'
                        'X-Policy: seen\n'
                        'Received: from client.example '),
           'policy PREPEND: X-Policy: right before the Received: header',
           repr(t))

        # REJECT from a hash: table: Postfix's reply, one log line
        with smtplib.SMTP('127.0.0.1', PORT, local_hostname='client.example',
                          timeout=20) as s:
            s.ehlo()
            s.mail('sender@example.net')
            rr = s.rcpt('reject@example.com')
            rw = s.rcpt('warn@example.com')
            code, _ = s.data('Message-ID: <warn@t>\r\n\r\nb\r\n')
        ok(rr == (554, b'5.7.1 <reject@example.com>: Recipient address '
                  b'rejected: go away'),
           'REJECT from hash: is Postfix\'s "554 5.7.1 <r>: Recipient '
           'address rejected: go away"', rr)
        ok(rw[0] == 250 and code == 250, 'WARN from hash: accepted',
           (rw, code))
        ok(wait_for(lambda: copies('warn', 'warn')),
           'WARN: delivered', read(slog) + read(vlog))
        n = read(slog).count(
            'NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 '
            '<reject@example.com>: Recipient address rejected: go away; '
            'from=<sender@example.net> to=<reject@example.com> '
            'proto=ESMTP helo=<client.example>\n')
        ok(n == 1, 'REJECT: exactly one NOQUEUE: reject: log line', (n,
           read(slog)))
        n = read(slog).count(logline('warn', 'warn@example.com',
                                     'triggers WARN watch this'))
        ok(n == 1, 'WARN: exactly one NOQUEUE: warn: log line',
           (n, read(slog)))
        n = read(slog).count(logline('hold', 'hold@example.com',
                                     'triggers HOLD action'))
        ok(n == 2, 'HOLD: two held messages, two hold lines', (n,
           read(slog)))

        # what must not have happened, once everything else is delivered
        time.sleep(1)
        counts = dict((u + '/' + mid, len(copies(u, mid))) for u, mid in (
            ('hold', 'hold'), ('discard', 'discard'), ('user1', 'discard'),
            ('redirect', 'redirect'), ('user1', 'redirect'),
            ('user2', 'redirect'), ('bcc', 'bcc'), ('user3', 'bcc'),
            ('prepend', 'prepend'), ('prepend', 'policy')))
        ok(counts == {'hold/hold': 0, 'discard/discard': 0,
                      'user1/discard': 0, 'redirect/redirect': 0,
                      'user1/redirect': 0, 'user2/redirect': 1,
                      'bcc/bcc': 1, 'user3/bcc': 1, 'prepend/prepend': 1,
                      'prepend/policy': 1},
           'Maildirs: HOLD and DISCARD delivered nothing, REDIRECT only to '
           'its target, BCC and PREPEND one copy each', counts)
        left = dict((d, len(queued(d))) for d in ('incoming', 'active',
                                                  'deferred', 'hold'))
        ok(left == {'incoming': 0, 'active': 0, 'deferred': 0, 'hold': 2}
           and qid in queued('hold'), 'queue: only the two held messages '
           'are left (the discarded one never stayed)', left)

        logs = read(slog) + read(qlog) + read(vlog)
        ok(not re.search(r'panic:|not supported by postern|'
                         r'warning: (?!open .*/master\.cf: )', logs),
           'no panic and no warning in any log (but qmgr\'s missing '
           'master.cf)', logs)
        ptap.sanitizer_ok(logs, 'no sanitizer reports (logs and '
                          'POSTERN_SAN_DIR)')
    finally:
        for p in PROCS:
            stop(p)
        if not os.environ.get('KEEP24'):
            shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
