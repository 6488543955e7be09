#!/usr/bin/python3
"""39-cleanup-actions.t - header/body_checks PREPEND and REPLACE and
recipient_canonical_maps, end to end: SMTP -> smtpd (cleanup) -> qmgr ->
virtual -> Maildir.

Real programs only, no master: postsuper -s makes the queue (the
qvtest.py instance: texthash tables, virtual mailboxes user1..3), smtpd
listens on 127.0.0.1:PORT, qmgr and virtual on their sockets. Python's
smtplib talks to smtpd.

Checks, on the bytes in the Maildir (after virtual's Return-Path: and
Delivered-To: and smtpd's Received:, the message must be exactly what
Postfix would write):
  - header_checks (regexp:) PREPEND puts a header right before the
    matched one, REPLACE puts the new header in its place;
  - body_checks (pcre:) PREPEND puts a line before the matched line,
    REPLACE replaces the line; the other lines are untouched;
  - the log lines Postfix writes for them, with the queue id of the
    delivered message ("ID: prepend: header Subject: ... from
    unknown[127.0.0.1]; from=<s> to=<r> proto=ESMTP helo=<h>: text");
  - recipient_canonical_maps: RCPT TO a mapped address of a virtual
    mailbox domain is accepted (Postfix's smtpd accepts what the
    canonical maps know), the mail lands in the rewritten mailbox (full
    address and @domain forms), To:/Cc: headers are rewritten, From:,
    Reply-To: and the envelope sender are not (recipient maps only
    touch recipients), virtual logs orig_to=<the address as sent>;
  - recipient_canonical_classes = envelope_recipient: the envelope is
    rewritten, the headers are not.
Takes about 5 s.
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
from qvtest import (free_port, listening, maildir, setup,  # noqa: E402
                    starter, stop, wait_for)
from smtp_dialog import accepts  # noqa: E402
from ptap import ok, read  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')


PORT = free_port(20800, 20819, 2)   # and PORT + 1: ports 20800-20819
PROCS = []

HEADER_CHECKS = r'''/^Subject: (tag me.*)$/ PREPEND X-Tagged: yes ($1)
/^X-Secret: / REPLACE X-Secret: removed
'''
BODY_CHECKS = r'''/^BODY-MARK/ PREPEND [inserted before mark]
/^REPLACE-ME: token (\d+)$/ REPLACE [replaced token $1]
'''
RCANON = '''old@example.com user2@example.com
@old.example @example.com
'''


def after_received(text):
    """the message after the delivery headers and our Received:"""
    m = re.match(r'Return-Path: <[^>]*>\nDelivered-To: [^\n]+\n'
                 r'Received: from [^\n]+(?:\n\t[^\n]+)*\n', text)
    return text[m.end():] if m else None


def queue_id(text):
    m = re.search(r'\(postern\) with E?SMTP id ([0-9A-Za-z]+)', text)
    return m.group(1) if m else '?'


def main():
    top, cf, q, base, root, uid, gid = setup('postern-39.')
    for name, text in (('header_checks', HEADER_CHECKS),
                       ('body_checks', BODY_CHECKS), ('rcanon', RCANON)):
        with open(os.path.join(cf, name), 'w') as f:
            f.write(text)
    with open(os.path.join(cf, 'main.cf'), 'a') as f:
        f.write('mynetworks = 127.0.0.0/8\n'
                'smtpd_peername_lookup = no\n'
                'resolver_nameservers = 127.0.0.1:9\n'
                'relay_domains = old.example\n'
                'header_checks = regexp:%s/header_checks\n'
                'body_checks = pcre:%s/body_checks\n'
                'recipient_canonical_maps = texthash:%s/rcanon\n'
                % (cf, cf, cf))
    slog = os.path.join(top, 'smtpd.log')
    slog2 = os.path.join(top, 'smtpd2.log')
    qlog = os.path.join(top, 'qmgr.log')
    vlog = os.path.join(top, 'virtual.log')

    start = starter(BIN, cf, PROCS)

    def send(port, sender, rcpts, msg):
        with smtplib.SMTP('127.0.0.1', port, local_hostname='client.example',
                          timeout=20) as s:
            return s.sendmail(sender, rcpts, msg)

    def delivered(user, marker):
        f = [x for x in maildir(base, user) if marker in read(x)]
        return read(f[0]) if f else None

    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s creates the queue', r.stderr)
        start('virtual', vlog, ['-l', os.path.join(q, 'private', 'virtual')])
        start('qmgr', qlog, ['-l', os.path.join(q, 'public', 'qmgr')])
        start('smtpd', slog, ['-l', '127.0.0.1:%d' % PORT])
        ok(wait_for(lambda: listening(PORT)
                    and accepts(os.path.join(q, 'public', 'qmgr'))
                    and accepts(os.path.join(q, 'private', 'virtual'))),
           'smtpd, qmgr and virtual are up', read(slog) + read(qlog))

        # 1. header_checks and body_checks PREPEND / REPLACE
        body = ('From: Sender <sender@example.net>\r\n'
                'To: user1@example.com\r\n'
                'Subject: tag me please\r\n'
                'X-Secret: internal data\r\n'
                'Message-ID: <hb-1@t>\r\n'
                '\r\n'
                'first line\r\n'
                'BODY-MARK here\r\n'
                'REPLACE-ME: token 42\r\n'
                'REPLACE-ME: token 42 but not this one\r\n'
                'last line\r\n')
        refused = send(PORT, 'sender@example.net', ['user1@example.com'],
                       body)
        ok(refused == {}, 'message with checks accepted', refused)
        text = wait_for(lambda: delivered('user1', '<hb-1@t>'))
        ok(text, 'delivered to user1', read(slog) + read(qlog) + read(vlog))
        text = text or ''
        want = ('From: Sender <sender@example.net>\n'
                'To: user1@example.com\n'
                'X-Tagged: yes (tag me please)\n'
                'Subject: tag me please\n'
                'X-Secret: removed\n'
                'Message-ID: <hb-1@t>\n'
                '\n'
                'first line\n'
                '[inserted before mark]\n'
                'BODY-MARK here\n'
                '[replaced token 42]\n'
                'REPLACE-ME: token 42 but not this one\n'
                'last line\n')
        ok(after_received(text) == want,
           'Maildir bytes: header PREPEND before the matched header, '
           'REPLACE in place; body PREPEND before the line, REPLACE of '
           'the line', repr(text))
        qid = queue_id(text)
        log = read(slog)
        tail = (' from unknown[127.0.0.1]; from=<sender@example.net> '
                'to=<user1@example.com> proto=ESMTP helo=<client.example>: ')
        ok('%s: prepend: header Subject: tag me please%sX-Tagged: yes '
           '(tag me please)\n' % (qid, tail) in log,
           'log: prepend: header ... (Postfix form, queue id)', log)
        ok('%s: replace: header X-Secret: internal data%sX-Secret: removed\n'
           % (qid, tail) in log, 'log: replace: header ...', log)
        ok('%s: prepend: body BODY-MARK here%s[inserted before mark]\n'
           % (qid, tail) in log, 'log: prepend: body ...', log)
        ok('%s: replace: body REPLACE-ME: token 42%s[replaced token 42]\n'
           % (qid, tail) in log, 'log: replace: body ...', log)
        ok(log.count('%s: replace: body' % qid) == 1,
           'body REPLACE only for the line that matched', log)

        # 2. recipient_canonical_maps
        body = ('From: Old <old@example.com>\r\n'
                'To: Old <old@example.com>, user3@old.example\r\n'
                'Cc: "Someone, Else" <user3@old.example>\r\n'
                'Reply-To: old@example.com\r\n'
                'Subject: canonical\r\n'
                'Message-ID: <canon-1@t>\r\n'
                '\r\n'
                'canonical body\r\n')
        try:
            refused = send(PORT, 'old@example.com',
                           ['old@example.com', 'user3@old.example'], body)
        except smtplib.SMTPException as e:
            refused = e
        ok(refused == {}, 'RCPT TO a recipient_canonical_maps address of a '
           'virtual mailbox domain accepted (as Postfix smtpd does)',
           refused)
        t2 = wait_for(lambda: delivered('user2', '<canon-1@t>')) or ''
        t3 = wait_for(lambda: delivered('user3', '<canon-1@t>')) or ''
        ok(t2 and t3, 'delivered to the rewritten mailboxes user2 and user3',
           read(slog) + read(qlog) + read(vlog))
        want = ('From: Old <old@example.com>\n'
                'To: Old <user2@example.com>, user3@example.com\n'
                'Cc: "Someone, Else" <user3@example.com>\n'
                'Reply-To: old@example.com\n'
                'Subject: canonical\n'
                'Message-ID: <canon-1@t>\n'
                '\n'
                'canonical body\n')
        ok(after_received(t2) == want and after_received(t3) == want,
           'To:/Cc: rewritten, From:/Reply-To: untouched', repr(t2))
        ok(t2.startswith('Return-Path: <old@example.com>\n'
                         'Delivered-To: user2@example.com\n')
           and t3.startswith('Return-Path: <old@example.com>\n'
                             'Delivered-To: user3@example.com\n'),
           'envelope: recipients rewritten, sender untouched', t2 + t3)
        time.sleep(0.3)
        copies = [sum('<canon-1@t>' in read(x) for x in maildir(base, u))
                  for u in ('user1', 'user2', 'user3')]
        ok(copies == [0, 1, 1], 'one copy each for user2 and user3, none '
           'elsewhere', copies)
        qid = re.escape(queue_id(t2))
        ok(wait_for(lambda: re.search(
            r'%s: to=<user2@example\.com>, orig_to=<old@example\.com>, '
            r'relay=virtual, .*status=sent' % qid, read(vlog)))
           and re.search(r'%s: to=<user3@example\.com>, '
                         r'orig_to=<user3@old\.example>, relay=virtual'
                         % qid, read(vlog)),
           'virtual logs to= the new address and orig_to= the one sent',
           read(vlog))

        # 3. recipient_canonical_classes = envelope_recipient
        port2 = PORT + 1
        start('smtpd', slog2, ['-l', '127.0.0.1:%d' % port2, '-o',
                               'recipient_canonical_classes='
                               'envelope_recipient'])
        ok(wait_for(lambda: listening(port2)), 'second smtpd is up',
           read(slog2))
        body = ('To: user3@old.example\r\nSubject: classes\r\n'
                'Message-ID: <canon-2@t>\r\n\r\nb\r\n')
        refused = send(port2, 'sender@example.net', ['user3@old.example'],
                       body)
        t = wait_for(lambda: delivered('user3', '<canon-2@t>')) or ''
        ok(refused == {} and t.startswith(
            'Return-Path: <sender@example.net>\n'
            'Delivered-To: user3@example.com\n')
           and after_received(t) == 'To: user3@old.example\n'
           'Subject: classes\nMessage-ID: <canon-2@t>\n\nb\n',
           'envelope_recipient only: envelope rewritten, To: kept', repr(t))

        logs = read(slog) + read(slog2) + read(qlog) + read(vlog)
        ok(not re.search(r'panic:|not supported by postern|'
                         r'unknown header/body|warning: .*_checks',
                         logs), 'no panic and no header/body_checks '
           'warning in any log', logs)
        ptap.sanitizer_ok(logs, 'no sanitizer reports (logs and '
                          'POSTERN_SAN_DIR)')
    finally:
        for p in PROCS:
            stop(p)
        if not os.environ.get('KEEP39'):
            shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
