#!/usr/bin/python3
"""40-qmgr.t - the queue manager against a fake delivery agent.

A temporary queue, qmgr -d -l <queue>/public/qmgr, and
tests/lib/qmgr_fake_agent.py serving private/virtual and private/smtp.
Queue files are written in the QUEUE.md format by this script. Checks:
delivery and removal, alias fan-out, deferral with a future mtime,
flush, a DSN for a bounce (content type and fields), no DSN for a
null-sender message or NOTIFY=NEVER, unknown local user, corrupt file,
expiry, the delay warning, a missing transport, and kill -9 of qmgr in
the middle of a message: no completed recipient is delivered again.
"""
import os
import pwd
import re
import signal
import subprocess
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok, read  # noqa: E402
import qfile  # noqa: E402
from qvtest import finish, wake as qv_wake  # noqa: E402
from smtp_dialog import wait_accepts  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
TOP = os.environ.get('POSTERN_TOP', '.')
# Started as root, qmgr runs as mail_owner (postern): give it the files.
OWNER = pwd.getpwnam('postern')[2:4] if os.geteuid() == 0 else None


SEQ = [0]


def new_id():
    SEQ[0] += 1
    return 'T%05d%dX%d' % (SEQ[0], os.getpid() % 100000, int(time.time()) % 1000)


def write_qf(q, sender, rcpts, body=None, arrival=None, warn=0, sub='incoming',
             qid=None, attrs=()):
    """rcpts: list of (addr, notify)."""
    qid = qid or new_id()
    body = body or ('From: %s\nTo: %s\nSubject: test %s\nMessage-ID: <%s@t>\n'
                    '\nhello\n' % (sender or 'MAILER-DAEMON',
                                   rcpts[0][0], qid, qid))
    return qfile.write_qf(q, qid, sender, rcpts, body, arrival, warn, sub,
                          attrs)


def wait_for(cond, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def retry_later(path):
    """a deferred file waiting for a future retry"""
    try:
        return os.stat(path).st_mtime > time.time() + 100
    except OSError:
        return False


def main():
    tmp, q, conf, out = qfile.qmgr_tree('postern-40-qmgr.')
    with open(os.path.join(conf, 'valias'), 'w') as f:
        f.write('list@example.com a@example.com, b@example.com\n')
    with open(os.path.join(conf, 'transport'), 'w') as f:
        f.write('blocked.example error:5.7.1 no mail for you\n'
                'gone.example discard:\n')
    with open(os.path.join(conf, 'header_checks'), 'w') as f:
        f.write('/^Subject: reject me/ REJECT not wanted here\n')
    with open(os.path.join(conf, 'aliases'), 'w') as f:
        f.write('root admin@example.com\n')
    with open(os.path.join(conf, 'main.cf'), 'w') as f:
        f.write('''queue_directory = %s
myhostname = mx.test.example
mydomain = test.example
myorigin = $mydomain
mydestination = localhost
virtual_mailbox_domains = example.com
virtual_alias_maps = texthash:%s/valias
alias_maps = texthash:%s/aliases
relay_domains = relay.test
relayhost =
maximal_queue_lifetime = 5d
bounce_queue_lifetime = 5d
delay_warning_time = 3s
message_size_limit = 100000
transport_maps = texthash:%s/transport
header_checks = regexp:%s/header_checks
smtp_destination_concurrency_limit = 2
smtp_destination_recipient_limit = 2
''' % (q, conf, conf, conf, conf))
    qfile.own_tree(tmp)
    agent_log = os.path.join(tmp, 'agent.log')
    qlog = os.path.join(tmp, 'qmgr.log')
    procs = []

    def start_qmgr():
        p = subprocess.Popen([os.path.join(BIN, 'qmgr'), '-c', conf, '-d',
                              '-l', os.path.join(q, 'public', 'qmgr')],
                             stdout=subprocess.DEVNULL,
                             stderr=open(qlog, 'a'))
        procs.append(p)
        if not wait_accepts(os.path.join(q, 'public', 'qmgr'), p, 15):
            print('# qmgr: nothing accepts on public/qmgr after 15 s')
        return p

    def wake(what=b'W'):
        qv_wake(q, what)

    def delivered(addr):
        return [l.split() for l in read(agent_log).splitlines()
                if l.split()[3] == addr]

    def delivered_all():
        return [l.split() for l in read(agent_log).splitlines()]

    def gone(qid):
        return not any(os.path.exists(os.path.join(q, d, qid))
                       for d in ('incoming', 'active', 'deferred'))

    def dsn_for(sender, after=0):
        """the DSN messages delivered to sender (after the first `after`)"""
        rows = delivered(sender)[after:]
        return [(r[1], read(os.path.join(out, r[1] + '.msg')), r[4])
                for r in rows]

    agent = subprocess.Popen(['/usr/bin/python3',
                              os.path.join(TOP, 'tests/lib/qmgr_fake_agent.py'),
                              q, agent_log, out, 'virtual', 'smtp'])
    procs.append(agent)
    try:
        for t in ('virtual', 'smtp'):
            if not wait_accepts(os.path.join(q, 'private', t), agent, 15):
                print('# fake agent: nothing accepts on private/%s' % t)
        qm = start_qmgr()

        # 1. delivered and removed
        qid = write_qf(q, 'alice@sender.example', [('ok1@example.com', 0)])
        wake()
        ok(wait_for(lambda: delivered('ok1@example.com')),
           'virtual recipient handed to the virtual agent', read(qlog))
        ok(wait_for(lambda: gone(qid)), 'delivered message removed from queue')
        ok(wait_for(lambda: '%s: removed' % qid in read(qlog)),
           'log: removed')
        ok('%s: from=<alice@sender.example>, size=' % qid in read(qlog)
           and '(queue active)' in read(qlog), 'log: from= ... (queue active)')
        ok('to=<ok1@example.com>' not in read(qlog),
           'log: the agent logs its own to= lines, qmgr does not repeat them')

        # 2. virtual alias fan-out
        qid = write_qf(q, 'alice@sender.example', [('list@example.com', 0)])
        wake()
        ok(wait_for(lambda: delivered('a@example.com')
                    and delivered('b@example.com')),
           'alias list fans out to both targets', read(qlog))
        ok(wait_for(lambda: gone(qid)), 'fanned-out message removed')
        qid = write_qf(q, 'alice@sender.example', [('list@localhost', 0)])
        wake()
        ok(wait_for(lambda: '%s: to=<list@localhost>, relay=none, delay=' % qid
                    in read(qlog)), 'log: qmgr logs its own outcomes', read(qlog))
        ok(re.search(r'%s: to=<list@localhost>, relay=none, delay=[0-9.]+, '
                     r'delays=[0-9./]+, dsn=5\.1\.1, status=bounced '
                     r'\(unknown user: "list@localhost"\)' % qid, read(qlog)),
           'log: Postfix to= line format')

        # 3. local alias to a virtual mailbox
        qid = write_qf(q, 'alice@sender.example', [('root@localhost', 0)])
        wake()
        ok(wait_for(lambda: delivered('admin@example.com')),
           'root@localhost reaches admin@example.com through alias_maps')

        # 4. deferred: deferred/ with mtime in the future, defer log
        qid = write_qf(q, 'alice@sender.example', [('defer1@example.com', 0)])
        wake()
        dpath = os.path.join(q, 'deferred', qid)
        ok(wait_for(lambda: os.path.exists(dpath)), 'deferred message in deferred/')
        ok(os.path.exists(dpath) and os.stat(dpath).st_mtime > time.time() + 200,
           'deferred mtime is the next retry time (>= minimal_backoff_time)')
        ok('reason=connect to x: Connection refused'
           in read(os.path.join(q, 'defer', qid)), 'defer/ID holds the reason')

        # 5. flush: "F" retries the deferred message at once
        before = read(qlog).count('%s: from=' % qid)
        wake(b'F')
        ok(wait_for(lambda: read(qlog).count('%s: from=' % qid) > before),
           'F flushes the deferred queue')
        wait_for(lambda: retry_later(dpath))
        before = read(qlog).count('%s: from=' % qid)
        wake(b'I' + qid.encode())
        ok(wait_for(lambda: read(qlog).count('%s: from=' % qid) > before),
           'I<id> flushes one message')

        # 6. bounce: a DSN to the sender
        qid = write_qf(q, 'bob@sender.example', [('bounce1@example.com', 0),
                                                 ('ok2@example.com', 0)])
        wake()
        ok(wait_for(lambda: dsn_for('bob@sender.example')),
           'a DSN reaches the sender', read(qlog))
        dsns = dsn_for('bob@sender.example')
        text = dsns[0][1] if dsns else ''
        ok(dsns and dsns[0][2] == '<>', 'DSN has the null envelope sender')
        ok('Content-Type: multipart/report; report-type=delivery-status' in text,
           'DSN content type multipart/report', text)
        ok('From: Mail Delivery System <MAILER-DAEMON@test.example>' in text,
           'DSN from MAILER-DAEMON@$myorigin, as Postfix writes it')
        ok('Content-Type: message/delivery-status' in text, 'DSN status part')
        ok('Final-Recipient: rfc822; bounce1@example.com' in text
           and 'Action: failed' in text and 'Status: 5.1.1' in text
           and 'Diagnostic-Code: X-Postfix; host x said: 550 5.1.1 no such user'
           in text, 'DSN per-recipient fields')
        ok('ok2@example.com' not in text.split('Content-Type: message/rfc822')[0]
           .split('delivery-status')[-1], 'delivered recipient not in the DSN')
        ok('Subject: test %s' % qid in text, 'DSN returns the original message')
        ok('%s: sender non-delivery notification: %s' % (qid, dsns[0][0]
                                                        if dsns else '?')
           in read(qlog), 'log: sender non-delivery notification')
        ok(wait_for(lambda: gone(qid)) and not os.path.exists(
            os.path.join(q, 'bounce', qid)), 'bounced message and its log removed')

        # 7. no bounce of a bounce; NOTIFY=NEVER
        qid = write_qf(q, '', [('bounce2@example.com', 0)])
        wake()
        ok(wait_for(lambda: gone(qid)), 'null-sender bounce removed')
        ok('%s: undeliverable bounce' % qid in read(qlog),
           'log: null-sender failure dropped with a log line')
        n = len(delivered('carol@sender.example'))
        qid = write_qf(q, 'carol@sender.example', [('bounce3@example.com', 1)])
        wake()
        ok(wait_for(lambda: gone(qid)), 'NOTIFY=NEVER message removed')
        time.sleep(0.5)
        ok(len(delivered('carol@sender.example')) == n, 'NOTIFY=NEVER: no DSN')

        # 7b. NOTIFY=SUCCESS: a delivery report
        qid = write_qf(q, 'mia@sender.example', [('ok7@example.com', 2),
                                                 ('ok8@example.com', 0)])
        wake()
        ok(wait_for(lambda: dsn_for('mia@sender.example')),
           'NOTIFY=SUCCESS: a report reaches the sender', read(qlog)[-2000:])
        d = dsn_for('mia@sender.example')
        ok(d and 'Action: delivered' in d[0][1]
           and 'Final-Recipient: rfc822; ok7@example.com' in d[0][1]
           and 'ok8@example.com' not in d[0][1]
           and 'Subject: Successful Mail Delivery Report' in d[0][1],
           'NOTIFY=SUCCESS: only that recipient, Action: delivered')
        ok(wait_for(lambda: gone(qid)), 'NOTIFY=SUCCESS message removed')

        # 8. unknown local user bounces 5.1.1
        qid = write_qf(q, 'dave@sender.example', [('nobody@localhost', 0)])
        wake()
        ok(wait_for(lambda: dsn_for('dave@sender.example')),
           'unknown local user: DSN')
        d = dsn_for('dave@sender.example')
        ok(d and 'Status: 5.1.1' in d[0][1] and 'unknown user' in d[0][1],
           'unknown local user: 5.1.1 unknown user')

        # 9. corrupt file
        with open(os.path.join(q, 'incoming', 'BADFILE1'), 'w') as f:
            f.write('this is not a queue file\n')
        if OWNER:
            os.chown(os.path.join(q, 'incoming', 'BADFILE1'), *OWNER)
        wake()
        ok(wait_for(lambda: os.path.exists(os.path.join(q, 'corrupt',
                                                        'BADFILE1'))),
           'corrupt file moved to corrupt/')
        ok('BADFILE1: corrupt queue file' in read(qlog), 'log: corrupt queue file')

        # 10. expiry: older than maximal_queue_lifetime
        qid = write_qf(q, 'erin@sender.example', [('defer2@example.com', 0)],
                       arrival=time.time() - 6 * 86400)
        wake()
        ok(wait_for(lambda: dsn_for('erin@sender.example')),
           'expired message: DSN to the sender')
        d = dsn_for('erin@sender.example')
        ok(d and 'Action: failed' in d[0][1] and 'Status: 4.4.1' in d[0][1]
           and 'Connection refused' in d[0][1],
           'expired: Action failed with the last defer reason')
        ok(wait_for(lambda: gone(qid)), 'expired message removed')

        # 11. delay warning
        qid = write_qf(q, 'fred@sender.example', [('defer3@example.com', 0)],
                       arrival=time.time() - 5 * 3600, warn=int(time.time()) - 5)
        wake()
        ok(wait_for(lambda: dsn_for('fred@sender.example')),
           'delay warning sent')
        d = dsn_for('fred@sender.example')
        ok(d and 'Action: delayed' in d[0][1]
           and 'Subject: Delayed Mail (still being retried)' in d[0][1],
           'delay warning: Action delayed')
        dpath = os.path.join(q, 'deferred', qid)
        ok(wait_for(lambda: retry_later(dpath)), 'warned message deferred')
        ok(b'W%020d\n' % 0 in open(dpath, 'rb').read(),
           'warning time cleared (sent once)')
        before = len(dsn_for('fred@sender.example'))
        note = '%s: sender delay notification: ' % qid
        ok(read(qlog).count(note) == 1, 'log: one delay notification')
        wake(b'I' + qid.encode())
        # The second attempt is over when the file, activated again (the
        # second from= line is logged after the move to active/), is back
        # in deferred/ waiting for a later retry. A warning would have been
        # logged and queued by then; let it reach the agent before counting.
        ok(wait_for(lambda: read(qlog).count('%s: from=' % qid) >= 2
                    and not os.path.exists(os.path.join(q, 'active', qid))
                    and retry_later(dpath)),
           'second attempt on the warned message done, deferred again',
           read(qlog)[-2000:])
        ok(wait_for(lambda: not os.listdir(os.path.join(q, 'incoming'))
                    and not os.listdir(os.path.join(q, 'active'))),
           'queue quiet after the second attempt (any new DSN delivered)')
        ok(read(qlog).count(note) == 1
           and len(dsn_for('fred@sender.example')) == before,
           'no second delay warning (log and delivered DSNs)',
           read(qlog)[-2000:])

        # 11b. the warning time is set from delay_warning_time when the
        # writer left it at 0
        qid = write_qf(q, 'ivy@sender.example', [('defer4@example.com', 0)])
        wake()
        dpath = os.path.join(q, 'deferred', qid)
        ok(wait_for(lambda: retry_later(dpath)), 'ivy: deferred')
        ok(b'W%020d\n' % 0 not in open(dpath, 'rb').read(),
           'delay warning time set on first activation')
        time.sleep(3)
        wake(b'I' + qid.encode())
        ok(wait_for(lambda: dsn_for('ivy@sender.example')),
           'delay warning after delay_warning_time', read(qlog)[-2000:])
        d = dsn_for('ivy@sender.example')
        ok(d and 'Action: delayed' in d[0][1], 'ivy: Action: delayed')

        # 12. transport without a service
        qid = write_qf(q, 'gina@sender.example', [('x@relay.test', 0)])
        wake()
        ok(wait_for(lambda: os.path.exists(os.path.join(q, 'deferred', qid))),
           'missing transport: deferred')
        ok('reason=mail transport unavailable'
           in read(os.path.join(q, 'defer', qid)),
           'missing transport: "mail transport unavailable"')

        # 12b. error and discard transports are handled inside qmgr
        qid = write_qf(q, 'jack@sender.example', [('x@blocked.example', 0),
                                                  ('y@gone.example', 0)])
        wake()
        ok(wait_for(lambda: dsn_for('jack@sender.example')),
           'error transport: DSN', read(qlog)[-2000:])
        d = dsn_for('jack@sender.example')
        ok(d and 'Status: 5.7.1' in d[0][1] and 'no mail for you' in d[0][1]
           and 'x@blocked.example' in d[0][1]
           and 'y@gone.example' not in d[0][1],
           'error transport: nexthop text and status; discard: no DSN')
        ok(wait_for(lambda: gone(qid)), 'error/discard message removed')
        ok(not delivered('y@gone.example') and not delivered('x@blocked.example'),
           'no agent saw error/discard recipients')

        # 12c. per-destination concurrency and recipient limits
        for i in range(6):
            write_qf(q, 'kim@sender.example',
                     [('slow%d-%d@remote.example' % (i, k), 0) for k in range(5)])
        wake()
        ok(wait_for(lambda: len([r for r in delivered_all()
                                 if r[3].startswith('slow')]) == 30, 60),
           'all 30 slow recipients delivered')
        ok(read(os.path.join(out, 'max.smtp.remote.example')) == '2',
           'smtp_destination_concurrency_limit = 2 respected',
           read(os.path.join(out, 'max.smtp.remote.example')))
        sizes = [int(x) for x in read(os.path.join(out, 'sizes.smtp.remote.example')).split()]
        ok(sizes and max(sizes) <= 2,
           'smtp_destination_recipient_limit = 2 respected', sizes)

        # 12c'. the transport-wide limit over many destinations
        for i in range(8):
            write_qf(q, 'kim@sender.example',
                     [('slowx%d@d%d.example' % (i, i), 0)])
        wake()
        ok(wait_for(lambda: len([r for r in delivered_all()
                                 if r[3].startswith('slowx')]) == 8, 60),
           'eight destinations delivered')
        ok(read(os.path.join(out, 'max.all.smtp')) == '3',
           'maxproc 3 of the smtp service bounds the transport',
           read(os.path.join(out, 'max.all.smtp')))

        # 12d. a big recipient list with every address twice
        rc = [('big%d@example.com' % (k % 1000), 0) for k in range(2000)]
        rc[1500] = ('BIG7@EXAMPLE.COM', 0)
        qid = write_qf(q, 'ned@sender.example', rc)
        t0 = time.time()
        wake()
        ok(wait_for(lambda: gone(qid), 60), 'big list: message done')
        rows = [r for r in delivered_all() if r[1] == qid]
        ok(len(rows) == 1000 and len(set(r[3].lower() for r in rows)) == 1000,
           'big list: 1000 distinct deliveries for 2000 recipients',
           len(rows))
        ok(max(int(x) for x in read(os.path.join(
            out, 'sizes.virtual.example.com')).split()) <= 50,
           'big list: at most default_destination_recipient_limit (50)'
           ' per request')
        note = 'big list took %.1fs' % (time.time() - t0)
        print('# ' + note)

        # 12e. a broken agent: malformed answer, no answer
        qid = write_qf(q, 'quin@sender.example', [('garble1@example.com', 0)])
        qid2 = write_qf(q, 'quin@sender.example', [('eof1@example.com', 0)])
        wake()
        ok(wait_for(lambda: retry_later(os.path.join(q, 'deferred', qid))
                    and retry_later(os.path.join(q, 'deferred', qid2))),
           'broken agent: both messages deferred, not bounced', read(qlog)[-1500:])
        ok('malformed answer from virtual agent' in read(qlog)
           and 'delivery temporarily suspended: virtual agent failed'
           in read(os.path.join(q, 'defer', qid2)),
           'broken agent: logged and recorded as agent failure')
        ok(not dsn_for('quin@sender.example'), 'broken agent: no DSN')

        # 12f. hostile wakeup input
        for junk in (b'', b'\0' * 5000, b'I', b'I../../etc/passwd',
                     b'I' + b'A' * 100, b'\xff\xfeWWWW' * 2000, b'X\nY\r\n'):
            wake(junk)
        wake(b'I' + qid.encode() + b'\n')
        qid3 = write_qf(q, 'alice@sender.example', [('ok13@example.com', 0)])
        wake()
        ok(wait_for(lambda: delivered('ok13@example.com')),
           'qmgr still serves after hostile wakeups', read(qlog)[-1500:])

        # 13. maildrop pickup: unqualified sender, missing headers added
        mid = write_qf(q, 'cronuser', [('ok5@example.com', 0)], sub='maildrop',
                       body='Subject: from cron\n\nall is well\n')
        wake()
        ok(wait_for(lambda: delivered('ok5@example.com')),
           'maildrop file picked up and delivered', read(qlog))
        row = delivered('ok5@example.com')
        ok(row and row[0][4] == '<cronuser@test.example>',
           'pickup: unqualified sender gets @$myorigin')
        text = read(os.path.join(out, row[0][1] + '.msg')) if row else ''
        ok('Message-ID:' in text or 'Message-Id:' in text,
           'pickup: Message-ID added', text)
        ok('\nDate: ' in text or text.startswith('Date: '), 'pickup: Date added')
        ok('from userid' in text and 'Received: by mx.test.example' in text,
           'pickup: Received: by ... from userid')
        ok('all is well' in text, 'pickup: body kept')
        ok(not os.path.exists(os.path.join(q, 'maildrop', mid)),
           'pickup: maildrop file removed')
        uid = os.stat(os.path.join(q, 'incoming')).st_uid
        mid = write_qf(q, 'cronuser', [('ok11@example.com', 0)],
                       sub='maildrop', body='Subject: forged\n\nx\n',
                       attrs=[('client_address', '192.0.2.66'),
                              ('sasl_username', 'ceo'), ('uid', '0'),
                              ('protocol', 'ESMTPA')])
        wake()
        ok(wait_for(lambda: delivered('ok11@example.com')),
           'pickup with forged attributes delivered')
        row = delivered('ok11@example.com')
        text = read(os.path.join(out, row[0][1] + '.msg')) if row else ''
        ok('192.0.2.66' not in text and 'ceo' not in text
           and 'ESMTPA' not in text and 'from userid %d)' % uid in text,
           'pickup: envelope attributes of a maildrop file are not trusted',
           text)

        # 13b. a local submission that header_checks reject is returned
        mid = write_qf(q, 'lee@sender.example', [('ok6@example.com', 0)],
                       sub='maildrop', body='Subject: reject me\n\nno\n')
        wake()
        ok(wait_for(lambda: dsn_for('lee@sender.example')),
           'pickup REJECT: DSN to the sender', read(qlog)[-2000:])
        d = dsn_for('lee@sender.example')
        ok(d and 'not wanted here' in d[0][1] and 'Status: 5.7.1' in d[0][1]
           and 'Final-Recipient: rfc822; ok6@example.com' in d[0][1],
           'pickup REJECT: reason and recipient in the DSN')
        ok(not delivered('ok6@example.com'), 'pickup REJECT: not delivered')
        ok(not os.path.exists(os.path.join(q, 'maildrop', mid)),
           'pickup REJECT: maildrop file removed')

        # 13c. an oversized local submission is returned, not read
        mid = write_qf(q, 'pat@sender.example', [('ok12@example.com', 0)],
                       sub='maildrop',
                       body='Subject: big\n\n' + 'x' * 200000 + '\n')
        wake()
        ok(wait_for(lambda: dsn_for('pat@sender.example')),
           'oversized maildrop file: DSN', read(qlog)[-1500:])
        d = dsn_for('pat@sender.example')
        ok(d and 'Status: 5.3.4' in d[0][1] and 'size exceeds' in d[0][1],
           'oversized maildrop file: 5.3.4')
        ok(not delivered('ok12@example.com')
           and not os.path.exists(os.path.join(q, 'maildrop', mid)),
           'oversized maildrop file: not delivered, removed')

        # 14. kill -9 qmgr in the middle of a message
        open(os.path.join(out, 'hang'), 'w').close()
        qid = write_qf(q, 'hank@sender.example', [('ok9@example.com', 0),
                                                  ('hang1@remote.example', 0)])
        wake()
        apath = os.path.join(q, 'active', qid)
        ok(wait_for(lambda: 'RD 0 -1 ok9@example.com' in read(apath)),
           'crash test: first recipient recorded as done')
        qm.send_signal(signal.SIGKILL)
        qm.wait()
        ok(os.path.exists(os.path.join(q, 'active', qid)),
           'crash test: message left in active/')
        os.unlink(os.path.join(out, 'hang'))
        qm = start_qmgr()
        ok(wait_for(lambda: gone(qid)), 'crash test: message finished after'
           ' restart', read(qlog))
        ok(len(delivered('ok9@example.com')) == 1,
           'crash test: done recipient not delivered again',
           read(agent_log))
        ok(len(delivered('hang1@remote.example')) == 1,
           'crash test: pending recipient delivered once after restart')
        # 15. one qmgr per queue: a second one waits for the first
        qlog2 = os.path.join(tmp, 'qmgr2.log')
        qm2 = subprocess.Popen([os.path.join(BIN, 'qmgr'), '-c', conf, '-d',
                                '-l', os.path.join(q, 'public', 'qmgr2')],
                               stdout=subprocess.DEVNULL,
                               stderr=open(qlog2, 'a'))
        procs.append(qm2)
        ok(wait_for(lambda: 'waiting for another qmgr' in read(qlog2)),
           'second qmgr waits for the lock', read(qlog2))
        qid = write_qf(q, 'olga@sender.example', [('ok10@example.com', 0)])
        qm.send_signal(signal.SIGTERM)
        ok(qm.wait(timeout=10) == 0, 'qmgr exits 0 on SIGTERM', read(qlog))
        ok(wait_for(lambda: delivered('ok10@example.com')),
           'the waiting qmgr takes over', read(qlog2))
        qm = qm2
        qm.send_signal(signal.SIGTERM)
        ok(qm.wait(timeout=10) == 0, 'second qmgr exits 0', read(qlog2))

        # 16. soft_bounce = yes (as -o): a bounce becomes a deferral
        qlog3 = os.path.join(tmp, 'qmgr3.log')
        qm = subprocess.Popen([os.path.join(BIN, 'qmgr'), '-c', conf, '-d',
                               '-o', 'soft_bounce=yes', '-l',
                               os.path.join(q, 'public', 'qmgr')],
                              stdout=subprocess.DEVNULL, stderr=open(qlog3, 'a'))
        procs.append(qm)
        qid = write_qf(q, 'rita@sender.example', [('bounce9@example.com', 0)])
        ok(wait_for(lambda: retry_later(os.path.join(q, 'deferred', qid))),
           'soft_bounce: deferred instead of bounced', read(qlog3))
        ok('status=4.1.1' in read(os.path.join(q, 'defer', qid)),
           'soft_bounce: 5.1.1 recorded as 4.1.1')
        ok(not dsn_for('rita@sender.example'), 'soft_bounce: no DSN')
        qm.send_signal(signal.SIGTERM)
        ok(qm.wait(timeout=10) == 0, 'third qmgr exits 0', read(qlog3))

        # 17. an agent silent past smtp_time_limit: deferred, timed out
        qlog4 = os.path.join(tmp, 'qmgr4.log')
        qm = subprocess.Popen([os.path.join(BIN, 'qmgr'), '-c', conf, '-d',
                               '-o', 'smtp_time_limit=2s', '-l',
                               os.path.join(q, 'public', 'qmgr')],
                              stdout=subprocess.DEVNULL, stderr=open(qlog4, 'a'))
        procs.append(qm)
        open(os.path.join(out, 'hang'), 'w').close()
        t0 = time.time()
        qid = write_qf(q, 'tim@sender.example', [('hang3@remote.example', 0)])
        ok(wait_for(lambda: retry_later(os.path.join(q, 'deferred', qid)),
                    timeout=20),
           'silent agent: deferred after smtp_time_limit', read(qlog4))
        waited = time.time() - t0
        os.unlink(os.path.join(out, 'hang'))
        ok('delivery temporarily suspended: smtp agent timed out'
           in read(os.path.join(q, 'defer', qid)) and 1.5 <= waited,
           'silent agent: recorded as a timeout, not before 2 s',
           (waited, read(os.path.join(q, 'defer', qid))))

        # 18. the file moved back to incoming/ (postsuper -r) between an
        # exactly_once delivery and its answer: the round's last flips
        # are not written, the unlink finds nothing, and the message
        # taken again from incoming/ is a retry (retry=1): no second copy
        open(os.path.join(out, 'pause'), 'w').close()
        qid = write_qf(q, 'pat@sender.example', [('oncep1@example.com', 0)])
        wake()
        ok(wait_for(lambda: delivered('oncep1@example.com')),
           'requeue race: delivered once, answer held', read(qlog4))
        os.rename(os.path.join(q, 'active', qid),
                  os.path.join(q, 'incoming', qid))
        os.unlink(os.path.join(out, 'pause'))

        def requeued_done():
            wake()
            return gone(qid)

        def tries():
            return [l.split()[3] for l in
                    read(os.path.join(out, 'retry.log')).splitlines()
                    if l.split()[1] == qid]
        ok(wait_for(requeued_done), 'requeue race: the requeued file is '
           'finished', (tries(), read(qlog4)[-1500:]))
        ok(len(delivered('oncep1@example.com')) == 1 and tries()[:1] == ['0']
           and all(t == '1' for t in tries()[1:])
           and qid not in read(os.path.join(out, 'violations')),
           'requeue race: one copy; a second request says retry=1',
           (delivered('oncep1@example.com'), tries(),
            read(os.path.join(out, 'violations'))))
        qm.send_signal(signal.SIGTERM)
        ok(qm.wait(timeout=10) == 0, 'fourth qmgr exits 0', read(qlog4))
        logs = read(qlog) + read(qlog2) + read(qlog3) + read(qlog4)
        ptap.delivery_log_ok(logs, 'qmgr', "every to= line qmgr logged has "
                             "lib/deliver_log.h's fields and Postfix's delay "
                             "format", least=3)
        # ASan/LSan: files in POSTERN_SAN_DIR (tests/lib/runtest); UBSan,
        # and everything without runtest: the daemons' stderr logs.
        ptap.sanitizer_ok(logs)
    finally:
        finish(procs, tmp)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
