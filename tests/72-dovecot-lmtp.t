#!/usr/bin/python3
"""72-dovecot-lmtp.t - delivery through Debian's Dovecot LMTP (issue 11),
as the seed's later/ pages set it up: virtual_transport =
lmtp:unix:private/dovecot-lmtp, Dovecot's "service lmtp" listener inside
queue_directory/private (mode 0600, user postern: the seed's is for
postfix), the seed's userdb static with home=BASE/%d/%n (BASE under the
test directory instead of /var/vmail; allow_all_users=no so that a user
Dovecot does not know is refused), the seed's passdb sql with its
later/dovecot-sql.conf.ext (password_query on virtual_users) against a
private MariaDB with the seed's schema (tests/lib/mariadb.sh; the users
ok1, ok2, full, locked @example.org are rows of virtual_users), Dovecot's
quota plugin (maildir++ quota, 10K per user), mail_location maildir:~
(tests/lib/dovecot.sh dovecot_lmtp_conf).

Real programs only, no postern master (the qvtest.py instance, as in
24): smtpd on 127.0.0.1:PORT, qmgr, virtual (example.com goes there
through transport_maps: the reference copy and the bounces), the smtp
program as the lmtp service, a private `dovecot -F`.
Checks, as a user would:
  - byte-exact: one message to ok1@example.org (Dovecot) and
    user1@example.com (postern's virtual, same queue file): Dovecot's
    file is exactly "Return-Path: <s>", "Delivered-To: ok1@example.org"
    and its five-line "Received: from mx.example.com ... by HOST with LMTP
    id ID (envelope-from <s>) for <ok1@example.org>; DATE" followed by postern's stored message (virtual's file minus its
    Return-Path: and Delivered-To:), byte for byte;
  - per recipient, one message to four: ok2 delivered once; ghost (not a
    Dovecot user: 550 5.1.1 at RCPT) and full (over quota: 552 5.2.2
    after DATA) bounce, in one bounce to the sender that names both and
    not the others; locked (home not writable: 451 4.2.0 after DATA) is
    deferred and stays in the queue; once its home is fixed, a flush
    delivers it once and ok2 gets no second copy;
  - Dovecot stopped: the message is deferred (in the queue, not in the
    Maildir); after Dovecot starts and a flush, delivered once (the
    cached connection to the stopped Dovecot fails its RSET and is
    replaced, never used for MAIL);
  - connection reuse: the second message goes over the first one's
    LMTP connection (Dovecot logs no second "Connect from local"), with
    lmtp_connection_cache_time_limit = 10s so that a slow run still
    reuses it.
Takes about 22 s, most of it MariaDB's first start (ports 22350-22359).
"""
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from need import need_prog, need_root  # noqa: E402
from qvtest import (free_port, listening, setup, starter,  # noqa: E402
                    stop, wait_for, wake)
from smtp_dialog import accepts, unix_listening  # noqa: E402
from ptap import ok, read  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
TOP = os.environ.get('POSTERN_TOP', os.getcwd())
PROCS = []
DOVECOT = []
MARIADB = []
# MariaDB (the seed's rows, john@ renamed ok1@, three more users), the
# seed's dovecot-sql.conf.ext, Dovecot's LMTP conf; prints MariaDB's PID
SETUP_SH = '''
. "$1/tests/lib/mariadb.sh"; . "$1/tests/lib/dovecot.sh"
mariadb_start "$2" >&2 && mariadb_load_seed >&2 &&
mariadb_sql "UPDATE virtual_users SET email = 'ok1@example.org'
    WHERE email = 'john@example.org';
    INSERT INTO virtual_users (domain_id, password, email) VALUES $9" >&2 &&
dovecot_sql_conf "$3" &&
dovecot_lmtp_conf "$4" "$5" "$6" "$7" "$8" 10K sql "$3" &&
echo "$MARIADB_PID"
'''


PORT = free_port(22350, 22359)
DUSERS = ('ok1', 'ok2', 'full', 'locked')    # Dovecot knows these
PUSERS = DUSERS + ('ghost',)                  # postern accepts these


def children(pid):
    r = subprocess.run(['pgrep', '-P', str(pid)], capture_output=True,
                       text=True)
    return [int(x) for x in r.stdout.split()]


def dovecot_start(conf, sock, log):
    """dovecot -F in the background; wait until the LMTP socket listens
    (no probe connection: the test counts Dovecot's Connect lines)"""
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(['dovecot', '-F', '-c', conf],
                         stdin=subprocess.DEVNULL, stdout=open(log, 'a'),
                         stderr=subprocess.STDOUT)
    DOVECOT.append(p)
    return wait_for(lambda: unix_listening(sock) or p.poll() is not None,
                    15) and p.poll() is None


def dovecot_stop():
    """stop Dovecot and its children by PID (as dovecot.sh does)"""
    while DOVECOT:
        p = DOVECOT.pop()
        kids = children(p.pid)
        stop(p)
        for k in kids:
            try:
                os.kill(k, signal.SIGTERM)
            except OSError:
                pass
        for k in kids:
            end = time.time() + 5
            while time.time() < end:
                try:
                    os.kill(k, 0)
                except OSError:
                    break
                time.sleep(0.05)


def gone(pid):
    """the process ended (or is a zombie nobody reaped yet)"""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


def mariadb_stop():
    """stop MariaDB by PID (as mariadb.sh does) and wait for it"""
    while MARIADB:
        pid = MARIADB.pop()
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            continue
        if not wait_for(lambda: gone(pid), 30):
            os.kill(pid, signal.SIGKILL)


def main():
    if not need_root(1, 'Dovecot LMTP delivery (uid 5000 mailboxes)') \
            or not need_prog(1, '/usr/sbin/dovecot', 'Dovecot LMTP') \
            or not need_prog(1, '/usr/lib/dovecot/lmtp', 'Dovecot LMTP'):
        return ptap.done()
    top, cf, q, base, root, uid, gid = setup('postern-72.')
    dc = os.path.join(top, 'dovecot')
    dbase = os.path.join(top, 'vmail')
    sock = os.path.join(q, 'private', 'dovecot-lmtp')
    os.makedirs(os.path.join(dbase, 'example.org'))
    os.chown(dbase, uid, gid)
    os.chown(os.path.join(dbase, 'example.org'), uid, gid)
    with open(os.path.join(cf, 'vmailbox'), 'a') as f:
        f.write(''.join('%s@example.org example.org/%s/\n' % (u, u)
                        for u in PUSERS))
    with open(os.path.join(cf, 'transport'), 'w') as f:
        f.write('example.com virtual:\n')
    with open(os.path.join(cf, 'main.cf'), 'a') as f:
        f.write('mynetworks = 127.0.0.0/8\n'
                'smtpd_peername_lookup = no\n'
                'resolver_nameservers = 127.0.0.1:9\n'
                'virtual_mailbox_domains = example.com, example.org\n'
                'virtual_transport = lmtp:unix:private/dovecot-lmtp\n'
                'lmtp_connection_cache_time_limit = 10s\n'
                'transport_maps = texthash:%s/transport\n'
                'smtpd_recipient_restrictions = permit_mynetworks, '
                'reject\n' % cf)
    slog = os.path.join(top, 'smtpd.log')
    qlog = os.path.join(top, 'qmgr.log')
    vlog = os.path.join(top, 'virtual.log')
    llog = os.path.join(top, 'lmtp.log')
    dlog = os.path.join(dc, 'dovecot.log')
    dout = os.path.join(top, 'dovecot.out')

    start = starter(BIN, cf, PROCS)

    def send(rcpts, msg, sender='user1@example.com'):
        with smtplib.SMTP('127.0.0.1', PORT, local_hostname='client.example',
                          timeout=20) as s:
            s.ehlo()
            s.mail(sender)
            codes = [s.rcpt(r)[0] for r in rcpts]
            code, text = s.data(msg)
            return codes, code

    def files(d, user):
        p = os.path.join(d, user, 'new')
        return sorted(os.path.join(p, f) for f in (
            os.listdir(p) if os.path.isdir(p) else []))

    def dcopies(user, mid):
        out = []
        for x in files(os.path.join(dbase, 'example.org'), user):
            with open(x, 'rb') as f:
                b = f.read()
            if ('<%s@t>' % mid).encode() in b:
                out.append(b)
        return out

    def vcopies(user, needle):
        out = []
        for x in files(os.path.join(base, 'example.com'), user):
            with open(x, 'rb') as f:
                b = f.read()
            if needle.encode() in b:
                out.append(b)
        return out

    def queued():
        n = []
        for d in ('incoming', 'active', 'deferred', 'hold'):
            p = os.path.join(q, d)
            n += [f for f in (os.listdir(p) if os.path.isdir(p) else [])
                  if not f.startswith('.')]
        return n

    def alllogs():
        return ''.join(read(x) for x in (slog, qlog, vlog, llog, dlog,
                                         dout))

    def message(mid, extra=''):
        return ('From: user1@example.com\r\nTo: ok@example.org\r\n'
                'Subject: lmtp %s\r\nMessage-ID: <%s@t>\r\n%s\r\n'
                'body line 1\r\n..a line that began with a dot\r\n'
                '\r\ntrailing space \r\n\tand a tab\r\n' % (mid, mid, extra))

    try:
        # MariaDB with the seed's schema and users; Dovecot's conf with
        # the seed's SQL passdb (tests/lib/mariadb.sh, dovecot.sh)
        os.makedirs(dc)
        sqlconf = os.path.join(dc, 'dovecot-sql.conf.ext')
        users = ', '.join("(1, MD5('secret'), '%s@example.org')" % u
                          for u in DUSERS if u != 'ok1')
        r = subprocess.run(['bash', '-c', SETUP_SH, 'sh', TOP,
                            os.path.join(top, 'db'), sqlconf, dc, sock,
                            dbase, str(uid), str(gid), users],
                           capture_output=True, text=True)
        if r.stdout.strip().isdigit():
            MARIADB.append(int(r.stdout.strip()))
        ok(r.returncode == 0 and MARIADB and "password_query = SELECT "
           "email as user, password FROM virtual_users WHERE email='%u';"
           in read(sqlconf),
           'MariaDB with the seed\'s rows is up; dovecot.sh writes the LMTP '
           'configuration with the seed\'s dovecot-sql.conf.ext',
           r.stderr + r.stdout)
        # full: over its 10K quota already; locked: a home it cannot write
        full = os.path.join(dbase, 'example.org', 'full')
        for d in ('cur', 'new', 'tmp'):
            os.makedirs(os.path.join(full, d))
        with open(os.path.join(full, 'cur', '1.big:2,'), 'w') as f:
            f.write('Subject: big\n\n' + ('x' * 76 + '\n') * 300)
        for dp, dn, fn in os.walk(full):
            for x in [dp] + [os.path.join(dp, y) for y in fn]:
                os.chown(x, uid, gid)
        locked = os.path.join(dbase, 'example.org', 'locked')
        os.makedirs(locked)
        os.chmod(locked, 0o555)

        r = subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                           capture_output=True)
        ok(r.returncode == 0, 'postsuper -s creates the queue', r.stderr)
        ok(dovecot_start(os.path.join(dc, 'dovecot.conf'), sock, dout)
           and (os.stat(sock).st_mode & 0o777) == 0o600,
           'Dovecot is up; its LMTP socket is queue_directory/private/'
           'dovecot-lmtp, mode 0600', read(dout) + read(dlog))
        start('virtual', vlog, ['-l', os.path.join(q, 'private', 'virtual')])
        start('smtp', llog, ['-s', 'lmtp', '-l', os.path.join(q, 'private',
                                                             'lmtp')])
        start('qmgr', qlog, ['-l', os.path.join(q, 'public', 'qmgr')])
        start('smtpd', slog, ['-l', '127.0.0.1:%d' % PORT])
        ok(wait_for(lambda: listening(PORT) and all(
            accepts(os.path.join(q, x)) for x in (
                'public/qmgr', 'private/virtual', 'private/lmtp'))),
           'smtpd, qmgr, virtual and lmtp are up', alllogs())

        # byte-exact, against postern's own copy of the same queue file
        codes, code = send(['ok1@example.org', 'user1@example.com'],
                           message('exact'))
        ok(codes == [250, 250] and code == 250, 'accepted', codes)
        ok(wait_for(lambda: dcopies('ok1', 'exact')
                    and vcopies('user1', '<exact@t>')),
           'delivered to Dovecot and to virtual', alllogs())
        d = dcopies('ok1', 'exact')
        v = vcopies('user1', '<exact@t>')
        m = re.match(rb'Return-Path: <user1@example\.com>\n'
                     rb'Delivered-To: ok1@example\.org\n'
                     rb'Received: from mx\.example\.com\n'
                     rb'\tby \S+ with LMTP\n'
                     rb'\tid \S+\n'
                     rb'\t\(envelope-from <user1@example\.com>\)\n'
                     rb'\tfor <ok1@example\.org>; '
                     rb'[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} '
                     rb'\d\d:\d\d:\d\d [+-]\d{4}\n', d[0] if d else b'')
        vm = re.match(rb'Return-Path: <user1@example\.com>\n'
                      rb'Delivered-To: user1@example\.com\n',
                      v[0] if v else b'')
        ok(len(d) == 1 and len(v) == 1 and m and vm
           and d[0][m.end():] == v[0][vm.end():]
           and v[0][vm.end():].startswith(b'Received: from client.example'),
           'byte-exact: Dovecot\'s file is its Return-Path:, Delivered-To: '
           'and LMTP Received: header, then postern\'s stored message byte for byte',
           repr(d) + '\n' + repr(v))
        # the Maildir file exists before lmtp has read Dovecot's 250 and
        # logged it: wait for the line (a fresh root was slow enough)
        ok(wait_for(lambda: re.search(
            r'to=<ok1@example\.org>, relay=[^,]*dovecot-lmtp\]?, '
            r'.*dsn=2\.0\.0, status=sent \(250 2\.0\.0 '
            r'<ok1@example\.org> \S+ Saved\)', read(llog)), 20),
           'lmtp logs Dovecot\'s 250 for the recipient', read(llog))

        connects = read(dlog).count('Info: Connect from local')
        ok(connects == 1, 'the first message: one LMTP connection',
           read(dlog))

        # per-recipient replies
        codes, code = send(['ok2@example.org', 'ghost@example.org',
                            'full@example.org', 'locked@example.org'],
                           message('four'))
        ok(codes == [250] * 4 and code == 250, 'four recipients accepted',
           codes)
        ok(wait_for(lambda: dcopies('ok2', 'four')
                    and vcopies('user1', 'Undelivered Mail')
                    and 'to=<locked@example.org>' in read(llog)),
           'ok2 delivered, a bounce to the sender, locked tried',
           alllogs())
        lg = read(llog)
        ok(re.search(r'to=<ghost@example\.org>, .*dsn=5\.1\.1, '
                     r'status=bounced \(host \S+ said: 550 5\.1\.1 '
                     r'<ghost@example\.org> User doesn\'t exist', lg)
           and re.search(r'to=<full@example\.org>, .*dsn=5\.2\.2, '
                         r'status=bounced \(host \S+ said: 552 5\.2\.2 '
                         r'<full@example\.org> Quota exceeded', lg)
           and re.search(r'to=<locked@example\.org>, .*dsn=4\.2\.0, '
                         r'status=deferred \(host \S+ said: 451 4\.2\.0 '
                         r'<locked@example\.org> ', lg),
           'lmtp: ghost 550 5.1.1 and full 552 5.2.2 bounced, locked 451 '
           '4.2.0 deferred, each with Dovecot\'s own reply', lg)
        ok(read(dlog).count('Info: Connect from local') == connects,
           'connection reuse: the second message went over the first '
           'one\'s LMTP connection (no new Connect in Dovecot\'s log)',
           read(dlog))
        b = vcopies('user1', 'Undelivered Mail')
        ok(len(b) == 1 and b'ghost@example.org' in b[0]
           and b'full@example.org' in b[0]
           and b'ok2@example.org' not in b[0]
           and b'locked@example.org' not in b[0],
           'one bounce names ghost and full, not ok2 or locked',
           repr(b)[:3000])
        deferred = os.path.join(q, 'deferred')
        wait_for(lambda: len(queued()) == 1 and any(
            f for _, _, fs in os.walk(deferred) for f in fs))
        pq = subprocess.run([os.path.join(BIN, 'postqueue'), '-c', cf,
                             '-p'], capture_output=True, text=True).stdout
        ok(len(queued()) == 1
           and re.search(r'^\s+locked@example\.org$', pq, re.M)
           and not re.search(r'(ok2|ghost|full)@', pq),
           'postqueue -p: one deferred message, locked its only pending '
           'recipient', pq + str(queued()))
        os.chmod(locked, 0o755)
        os.chown(locked, uid, gid)
        wake(q, b'F')
        ok(wait_for(lambda: dcopies('locked', 'four') and not queued()),
           'after its home is fixed, a flush delivers locked', alllogs())
        time.sleep(0.5)
        ok(len(dcopies('ok2', 'four')) == 1
           and len(dcopies('locked', 'four')) == 1
           and not dcopies('ghost', 'four') and not dcopies('full', 'four'),
           'ok2 and locked one copy each, ghost and full none',
           dict((u, len(dcopies(u, 'four'))) for u in PUSERS))

        # Dovecot down: deferred, then delivered once it is back
        dovecot_stop()
        codes, code = send(['ok1@example.org'], message('down'))
        ok(codes == [250] and code == 250, 'accepted while Dovecot is down',
           codes)
        ok(wait_for(lambda: re.search(r'to=<ok1@example\.org>, .*'
                                      r'status=deferred', read(llog))),
           'Dovecot down: deferred', read(llog))
        ok(len(queued()) == 1 and not dcopies('ok1', 'down'),
           'the message waits in the queue, not in the Maildir',
           (queued(), alllogs()))
        ok(dovecot_start(os.path.join(dc, 'dovecot.conf'), sock, dout),
           'Dovecot starts again', read(dout) + read(dlog))
        wake(q, b'F')
        ok(wait_for(lambda: dcopies('ok1', 'down') and not queued()),
           'after Dovecot starts and a flush: delivered', alllogs())
        time.sleep(0.5)
        ok(len(dcopies('ok1', 'down')) == 1 and len(dcopies('ok1', 'exact'))
           == 1, 'delivered once (and the first message not again)',
           alllogs())

        text = read(slog) + read(qlog) + read(vlog) + read(llog)
        ok(not re.search(r'panic:|fatal:|warning: (?!open .*/master\.cf: )',
                         text),
           'no panic, fatal or warning in postern\'s logs (but qmgr\'s '
           'missing master.cf)', text)
        ptap.sanitizer_ok(text, 'no sanitizer reports (logs and '
                          'POSTERN_SAN_DIR)')
    finally:
        for p in PROCS:
            stop(p)
        dovecot_stop()
        mariadb_stop()
        if not os.environ.get('KEEP72'):
            shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
