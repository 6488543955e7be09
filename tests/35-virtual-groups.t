#!/usr/bin/python3
"""35-virtual-groups.t - virtual drops master's supplementary groups.

Issue 9 item 12: virtual keeps root to take each mailbox owner's uid and
gid with setfsuid/setfsgid, but kept the supplementary groups it
inherited from master, which still count in permission checks: a
mailbox owner could write where only those groups may.

virtual runs alone (virtual -d -l <queue>/private/virtual) as root with
a supplementary group G (5123) set before exec, as master's would be.
virtual_mailbox_base is root:G mode 0770, the mailbox owner 5000:5000
(not in G). Checks: virtual's /proc status lists no supplementary
group; the delivery is deferred 4.3.0 "Permission denied" and nothing is
created under the base (before, it was delivered through G); after
chown of the base to 5000, the same request is delivered. Needs root.
About 2 s.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402
from need import need_root  # noqa: E402
from smtp_dialog import wait_served  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
G = 5123


def request(sock_path, qid):
    return ptap.agent_request(sock_path, qid, [('user1@example.com', 0)])


def groups_of(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('Groups:'):
                return line.split()[1:]
    return None


def main():
    if not need_root(7, 'virtual as root with supplementary groups'):
        return ptap.done()
    top = tempfile.mkdtemp(prefix='35-vgroups.', dir='/tmp')
    os.chmod(top, 0o755)
    cf, q = os.path.join(top, 'etc'), os.path.join(top, 'queue')
    base = os.path.join(top, 'mail')
    os.makedirs(cf)
    os.makedirs(base)
    os.chown(base, 0, G)
    os.chmod(base, 0o770)
    with open(os.path.join(cf, 'main.cf'), 'w') as f:
        f.write('queue_directory = %s\nmyhostname = mx.example.net\n'
                'virtual_mailbox_base = %s\n'
                'virtual_mailbox_maps = inline:{user1@example.com=1}\n'
                'virtual_uid_maps = static:5000\n'
                'virtual_gid_maps = static:5000\n'
                'virtual_minimum_uid = 100\n' % (q, base))
    log_path = os.path.join(top, 'virtual.log')
    p = None
    try:
        subprocess.run([os.path.join(BIN, 'postsuper'), '-c', cf, '-s'],
                       check=True)
        r = subprocess.run([os.path.join(BIN, 'sendmail'), '-C', cf, '-i',
                            '-f', 's@example.org', 'user1@example.com'],
                           input=b'Subject: groups\n\nbody\n',
                           capture_output=True)
        ids = os.listdir(os.path.join(q, 'maildrop'))
        qid = ids[0] if ids else 'none'
        if ids:
            os.rename(os.path.join(q, 'maildrop', qid),
                      os.path.join(q, 'active', qid))
        sock = os.path.join(q, 'private', 'virtual')
        p = subprocess.Popen([os.path.join(BIN, 'virtual'), '-c', cf, '-d',
                              '-l', sock], stdout=open(log_path, 'ab'),
                             stderr=subprocess.STDOUT,
                             preexec_fn=lambda: os.setgroups([G]))
        # served, not only accepted: virtual listens before it drops
        # the groups, and serves once they are dropped
        served = wait_served(sock, p, 15)
        ok(r.returncode == 0 and served and os.path.exists(sock),
           'a queued message; virtual listens', r.stderr)
        ok(groups_of(p.pid) == [],
           'virtual runs without supplementary groups (was started with '
           '%d)' % G, groups_of(p.pid))
        a = request(sock, qid)
        ok(a.get('rcpt.0.action') == 'deferred' and
           a.get('rcpt.0.status') == '4.3.0' and
           'Permission denied' in a.get('rcpt.0.reason', ''),
           'a base only group %d may write: deferred 4.3.0 Permission '
           'denied' % G, a)
        ok(os.listdir(base) == [], 'nothing created under the base',
           os.listdir(base))
        os.chown(base, 5000, 5000)
        a = request(sock, qid)
        new = os.path.join(base, 'example.com', 'user1', 'new')
        ok(a.get('rcpt.0.action') == 'delivered' and os.path.isdir(new)
           and len(os.listdir(new)) == 1,
           'the base owned by the mailbox owner: delivered', a)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        ok(rc == 0, 'virtual exits 0 on SIGTERM', rc)
        ptap.sanitizer_ok(ptap.read(log_path))
    finally:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(top, ignore_errors=True)
    return ptap.done()


if __name__ == '__main__':
    sys.exit(main())
