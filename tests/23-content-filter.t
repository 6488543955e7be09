#!/usr/bin/python3
"""23-content-filter.t - the after-queue content filter (Postfix's
FILTER_README "advanced" setup) and automatic BCC (issue 11), end to end:
SMTP -> smtpd (cleanup) -> qmgr -> smtp -> filter -> smtpd -> qmgr ->
virtual -> Maildir.

Real programs only, no master (the qvtest.py instance, as in 24): qmgr,
virtual and smtp (on private/smtp) on their sockets, four smtpd, an
aiosmtpd filter (tests/lib/reinject_filter.py: "X-Filtered: yes" put
first, the message sent back with the same envelope), smtplib as client.
main.cf sets content_filter = smtp:[127.0.0.1]:FPORT and a header_checks
that rejects "X-Filtered: yes" (only a re-injection that skips
header_checks gets through).
  - A (PORT): main.cf's content_filter;
  - R (RPORT): the re-injection, as master.cf's 127.0.0.1:10026 service:
    -o content_filter= -o receive_override_options=no_unknown_recipient_
    checks,no_header_body_checks,no_milters -o smtpd_recipient_
    restrictions=permit_mynetworks,reject;
  - C (CPORT): -o content_filter=, an access table with "FILTER
    smtp:[127.0.0.1]:FPORT" for one recipient, and -o always_bcc,
    sender_bcc_maps, recipient_bcc_maps;
  - E (EPORT): like C plus receive_override_options=no_address_mappings,
    no_unknown_recipient_checks.
Checks, as a user would:
  - content_filter: the message is in user1's Maildir once, with
    X-Filtered: yes exactly once; the filter saw it once; two queue ids
    carry its Message-ID (A's and R's), A's file is gone; queue empty;
  - two recipients: one filter pass, one copy each;
  - FILTER from the access table: that message is filtered (once),
    Postfix's "NOQUEUE: filter: RCPT from ..." line is logged; a message
    through C without it is delivered unfiltered;
  - always_bcc / sender_bcc_maps / recipient_bcc_maps: the copy is in the
    Maildir they name, once; the BCC recipients have NOTIFY=NEVER (a BCC
    to an unknown mailbox bounces nothing to the sender);
  - no_address_mappings: no BCC copies; no_unknown_recipient_checks: an
    unknown recipient gets 250 at E (550 at C);
  - FILTER in header_checks and in body_checks (through C, whose
    content_filter is empty): the message is filtered once and delivered
    once, with Postfix's "ID: filter: header|body ..." log line; a header
    FILTER to a dead port followed by a body FILTER: the last one wins
    (the message would otherwise wait for port 9).
Takes about 7 s (ports 22300-22349).
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


PORT = free_port(22300, 22309)     # A: content_filter from main.cf
RPORT = free_port(22310, 22319)    # R: the re-injection
CPORT = free_port(22320, 22329)    # C: FILTER action, BCC
EPORT = free_port(22330, 22339)    # E: no_address_mappings
FPORT = free_port(22340, 22349)    # the filter
PROCS = []
USERS = ('filtered', 'archive', 'sbcc', 'rbcc', 'watched')


def main():
    top, cf, q, base, root, uid, gid = setup('postern-23.')
    with open(os.path.join(cf, 'vmailbox'), 'a') as f:
        f.write(''.join('%s@example.com 1\n' % u for u in USERS))
    with open(os.path.join(cf, 'access'), 'w') as f:
        f.write('filtered@example.com FILTER smtp:[127.0.0.1]:%d\n' % FPORT)
    with open(os.path.join(cf, 'sbcc'), 'w') as f:
        f.write('boss@example.net sbcc@example.com\n')
    with open(os.path.join(cf, 'rbcc'), 'w') as f:
        f.write('watched@example.com rbcc@example.com\n'
                'user3@example.com nobody-here@example.com\n')
    with open(os.path.join(cf, 'header_checks'), 'w') as f:
        f.write('/^X-Filtered: yes/ REJECT header_checks saw the '
                're-injected message\n'
                '/^Subject: filter me/ FILTER smtp:[127.0.0.1]:%d\n'
                '/^Subject: last wins/ FILTER smtp:[127.0.0.1]:9\n'
                % FPORT)
    with open(os.path.join(cf, 'body_checks'), 'w') as f:
        f.write('/^please filter this body/ FILTER smtp:[127.0.0.1]:%d\n'
                % FPORT)
    with open(os.path.join(cf, 'main.cf'), 'a') as f:
        f.write('mynetworks = 127.0.0.0/8\n'
                'smtpd_peername_lookup = no\n'
                'resolver_nameservers = 127.0.0.1:9\n'
                'header_checks = regexp:%s/header_checks\n'
                'body_checks = regexp:%s/body_checks\n'
                'content_filter = smtp:[127.0.0.1]:%d\n'
                'smtpd_recipient_restrictions = permit_mynetworks, '
                'reject\n' % (cf, cf, FPORT))
    logs = dict((n, os.path.join(top, n + '.log'))
                for n in ('A', 'R', 'C', 'E', 'qmgr', 'virtual', 'smtp'))
    flog = os.path.join(top, 'filter.log')
    bcc_o = ['-o', 'always_bcc=archive@example.com',
             '-o', 'sender_bcc_maps=texthash:%s/sbcc' % cf,
             '-o', 'recipient_bcc_maps=texthash:%s/rbcc' % cf,
             '-o', 'content_filter=',
             '-o', 'smtpd_recipient_restrictions=check_recipient_access '
             'texthash:%s/access, permit_mynetworks, reject' % cf]

    start = starter(BIN, cf, PROCS)

    def send(port, rcpts, mid, sender='sender@example.net', subject='a',
             body=''):
        msg = ('From: %s\r\nTo: x@example.com\r\nSubject: %s\r\n'
               'Message-ID: <%s@t>\r\n\r\nbody %s\r\n%s'
               % (sender, subject, mid, mid, body))
        with smtplib.SMTP('127.0.0.1', port, local_hostname='client.example',
                          timeout=20) as s:
            s.ehlo()
            s.mail(sender)
            codes = [s.rcpt(r)[0] for r in rcpts]
            code, text = s.data(msg) if 250 in codes else (0, b'')
            return codes, code, text.decode()

    def rcpt_only(port):
        """RCPT unknown@example.com, then RSET (nothing is queued)"""
        with smtplib.SMTP('127.0.0.1', port, local_hostname='client.example',
                          timeout=20) as s:
            s.ehlo()
            s.mail('sender@example.net')
            code = s.rcpt('unknown@example.com')[0]
            s.rset()
            return [code]

    def copies(user, mid):
        return [read(x) for x in maildir(base, user)
                if '<%s@t>' % mid in read(x)]

    def queued():
        n = 0
        for d in ('incoming', 'active', 'deferred', 'hold'):
            p = os.path.join(q, d)
            n += len([f for f in (os.listdir(p) if os.path.isdir(p)
                                  else []) if not f.startswith('.')])
        return n

    def alllogs():
        return ''.join(read(x) for x in logs.values())

    def ids(mid):
        """the queue ids cleanup logged this Message-ID under"""
        return sorted(set(re.findall(r': (\S+): message-id=<%s@t>'
                                     % re.escape(mid), alllogs())))

    try:
        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s creates the queue', r.stderr)
        flt = subprocess.Popen([sys.executable, os.path.join(
            os.path.dirname(os.path.abspath(__file__)), 'lib',
            'reinject_filter.py'), str(FPORT), str(RPORT), flog],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(top, 'filter.err'), 'a'))
        PROCS.append(flt)
        start('virtual', logs['virtual'],
              ['-l', os.path.join(q, 'private', 'virtual')])
        start('smtp', logs['smtp'], ['-l', os.path.join(q, 'private',
                                                        'smtp')])
        start('qmgr', logs['qmgr'], ['-l', os.path.join(q, 'public',
                                                        'qmgr')])
        start('smtpd', logs['A'], ['-l', '127.0.0.1:%d' % PORT])
        start('smtpd', logs['R'], [
            '-l', '127.0.0.1:%d' % RPORT, '-o', 'content_filter=',
            '-o', 'receive_override_options=no_unknown_recipient_checks,'
            'no_header_body_checks,no_milters',
            '-o', 'smtpd_recipient_restrictions=permit_mynetworks,reject'])
        start('smtpd', logs['C'], ['-l', '127.0.0.1:%d' % CPORT] + bcc_o)
        start('smtpd', logs['E'], [
            '-l', '127.0.0.1:%d' % EPORT, '-o', 'receive_override_options='
            'no_address_mappings,no_unknown_recipient_checks'] + bcc_o)
        ok(wait_for(lambda: all(listening(p) for p in (PORT, RPORT, CPORT,
                                                       EPORT, FPORT))
                    and all(accepts(os.path.join(q, x)) for x in (
                        'public/qmgr', 'private/virtual', 'private/smtp'))),
           'four smtpd, qmgr, virtual, smtp and the filter are up',
           alllogs() + read(os.path.join(top, 'filter.err')))

        # content_filter from main.cf: filtered once, delivered once
        codes, code, text = send(PORT, ['user1@example.com'], 'cf')
        ok(codes == [250] and code == 250, 'A: accepted', (codes, text))
        t = wait_for(lambda: copies('user1', 'cf'))
        ok(t and len(t) == 1 and t[0].count('X-Filtered: yes\n') == 1,
           'content_filter: one copy in user1\'s Maildir, X-Filtered: yes '
           'exactly once', repr(t) + alllogs())
        ok(wait_for(lambda: len(ids('cf')) == 2 and queued() == 0),
           'content_filter: two queue ids (before and after the filter), '
           'none left in the queue', (ids('cf'), queued(), alllogs()))
        ok(re.search(r'to=<user1@example\.com>, relay=127\.0\.0\.1'
                     r'\[127\.0\.0\.1\]:%d, .*status=sent' % FPORT,
                     read(logs['smtp'])),
           'smtp logs the hand-over to the filter', read(logs['smtp']))
        ok(read(flog).splitlines() == ['<sender@example.net> '
                                       'user1@example.com -> 250'],
           'the filter saw the message once (no loop)', read(flog))

        # two recipients: one pass through the filter
        codes, code, _ = send(PORT, ['user2@example.com',
                                     'user3@example.com'], 'cf2')
        ok(wait_for(lambda: copies('user2', 'cf2') and copies('user3',
                                                              'cf2')),
           'content_filter, two recipients: both delivered', alllogs())
        ok(len(read(flog).splitlines()) == 2 and read(flog).splitlines()[1]
           == '<sender@example.net> user2@example.com,user3@example.com '
           '-> 250', 'the filter got both recipients in one transaction',
           read(flog))

        # FILTER from an access table (C has -o content_filter=)
        codes, code, _ = send(CPORT, ['filtered@example.com'], 'act')
        t = wait_for(lambda: copies('filtered', 'act'))
        ok(codes == [250] and t and len(t) == 1
           and t[0].count('X-Filtered: yes\n') == 1,
           'FILTER action: one filtered copy', repr(t) + alllogs())
        ok('NOQUEUE: filter: RCPT from unknown[127.0.0.1]: '
           '<filtered@example.com>: Recipient address triggers FILTER '
           'smtp:[127.0.0.1]:%d; from=<sender@example.net> '
           'to=<filtered@example.com> proto=ESMTP helo=<client.example>\n'
           % FPORT in read(logs['C']), 'FILTER: Postfix\'s NOQUEUE: '
           'filter: log line', read(logs['C']))
        ok(wait_for(lambda: len(ids('act')) == 2) and len(
            read(flog).splitlines()) == 3, 'FILTER: two queue ids, one '
           'filter pass', (ids('act'), read(flog)))

        # C without FILTER: not filtered; BCC copies where they say
        codes, code, _ = send(CPORT, ['user1@example.com',
                                      'watched@example.com'], 'bcc',
                              sender='boss@example.net')
        ok(codes == [250, 250] and code == 250, 'C: accepted', codes)
        ok(wait_for(lambda: all(copies(u, 'bcc') for u in (
            'user1', 'watched', 'archive', 'sbcc', 'rbcc'))),
           'always_bcc (archive), sender_bcc_maps (sbcc), recipient_bcc_'
           'maps (rbcc) and both recipients got the message', alllogs())
        t = copies('user1', 'bcc')
        ok(len(t) == 1 and 'X-Filtered' not in t[0],
           'without FILTER (content_filter= on C) it is not filtered',
           repr(t))
        ok(len(read(flog).splitlines()) == 3, 'the filter saw nothing more',
           read(flog))

        # a BCC recipient has NOTIFY=NEVER: its bounce goes nowhere
        codes, code, _ = send(CPORT, ['user3@example.com'], 'never',
                              sender='user2@example.com')
        ok(wait_for(lambda: copies('user3', 'never')
                    and 'to=<nobody-here@example.com>' in alllogs()
                    and queued() == 0),
           'recipient_bcc_maps to an unknown mailbox: user3 delivered, the '
           'BCC recipient bounced', alllogs())
        time.sleep(0.5)
        ok(not [x for x in maildir(base, 'user2')
                if 'nobody-here' in read(x)],
           'the BCC recipient\'s bounce is not sent to the sender',
           alllogs())

        # E: no_address_mappings (no BCC), no_unknown_recipient_checks
        codes, code, _ = send(EPORT, ['watched@example.com'], 'nomap',
                              sender='boss@example.net')
        ok(codes == [250] and wait_for(lambda: copies('watched', 'nomap')),
           'E: delivered', alllogs())
        codes_c, codes_e = rcpt_only(CPORT), rcpt_only(EPORT)
        ok(codes_c == [550] and codes_e == [250],
           'no_unknown_recipient_checks: an unknown recipient 550 at C, '
           '250 at E', (codes_c, codes_e))

        # header_checks and body_checks FILTER (C has content_filter=):
        # the filter gets it once, a trailer A content_filter= record
        def hb_filter(mid, subject, body, what, n):
            codes, code, _ = send(CPORT, ['user2@example.com'], mid,
                                  subject=subject, body=body)
            t = wait_for(lambda: copies('user2', mid))
            ok(codes == [250] and code == 250 and t and len(t) == 1
               and t[0].count('X-Filtered: yes\n') == 1,
               '%s FILTER: one copy in user2\'s Maildir, filtered once'
               % what, repr(t) + alllogs())
            ok(wait_for(lambda: len(ids(mid)) == 2)
               and len(read(flog).splitlines()) == n
               and read(flog).splitlines()[-1] == '<sender@example.net> '
               'user2@example.com,archive@example.com -> 250',
               '%s FILTER: two queue ids, one filter pass' % what,
               (ids(mid), read(flog)))
            return ids(mid)

        hid = hb_filter('hdr', 'filter me', '', 'header_checks', 4)
        ok(re.search(r'\b%s: filter: header Subject: filter me from '
                     r'unknown\[127\.0\.0\.1\]; from=<sender@example\.net> '
                     r'to=<user2@example\.com> proto=ESMTP '
                     r'helo=<client\.example>: smtp:\[127\.0\.0\.1\]:%d\n'
                     % ('(?:%s)' % '|'.join(hid), FPORT), read(logs['C'])),
           'header_checks FILTER: Postfix\'s "ID: filter: header ..." line',
           read(logs['C']))
        bid = hb_filter('bdy', 'a', 'please filter this body\r\n',
                        'body_checks', 5)
        ok(re.search(r'\b(?:%s): filter: body please filter this body '
                     r'from unknown\[127\.0\.0\.1\]; .*: '
                     r'smtp:\[127\.0\.0\.1\]:%d\n' % ('|'.join(bid), FPORT),
                     read(logs['C'])),
           'body_checks FILTER: Postfix\'s "ID: filter: body ..." line',
           read(logs['C']))
        # header FILTER to a dead port, then a body FILTER: the last wins
        hb_filter('last', 'last wins', 'please filter this body\r\n',
                  'the last', 6)

        ok(wait_for(lambda: queued() == 0), 'the queue is empty',
           alllogs())
        time.sleep(1)
        counts = dict((u + '/' + mid, len(copies(u, mid))) for u, mid in (
            ('user1', 'cf'), ('archive', 'cf'), ('filtered', 'act'),
            ('archive', 'act'), ('user1', 'bcc'), ('watched', 'bcc'),
            ('archive', 'bcc'), ('sbcc', 'bcc'), ('rbcc', 'bcc'),
            ('watched', 'nomap'), ('archive', 'nomap'), ('sbcc', 'nomap'),
            ('rbcc', 'nomap')))
        ok(counts == {'user1/cf': 1, 'archive/cf': 0, 'filtered/act': 1,
                      'archive/act': 1, 'user1/bcc': 1, 'watched/bcc': 1,
                      'archive/bcc': 1, 'sbcc/bcc': 1, 'rbcc/bcc': 1,
                      'watched/nomap': 1, 'archive/nomap': 0,
                      'sbcc/nomap': 0, 'rbcc/nomap': 0},
           'Maildirs: one copy each; A and R have no always_bcc; '
           'no_address_mappings adds no BCC', counts)

        text = alllogs()
        ok(not re.search(r'panic:|not supported by postern|'
                         r'warning: (?!open .*/master\.cf: )', text),
           'no panic and no warning in any log (but qmgr\'s missing '
           'master.cf)', text)
        ptap.sanitizer_ok(text, 'no sanitizer reports (logs and '
                          'POSTERN_SAN_DIR)')
    finally:
        for p in PROCS:
            stop(p)
        if not os.environ.get('KEEP23'):
            shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
