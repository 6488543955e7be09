"""qvtest.py - a qmgr + virtual instance without master, for tests 41 and 42.

setup(prefix) makes a temporary directory with etc/ (main.cf, texthash
tables: user1..3@example.com, aliases team@ and all@, local root and
postmaster), queue/ and mail/ (owned by uid 5000 when root), and returns
(top, cf, q, base, root, uid, gid). wait_for(cond) polls cond until it is
true (20 s), wake(q) pokes public/qmgr, maildir(base, user) lists the
files in example.com/user/new.
"""
import glob
import os
import pwd
import socket
import tempfile
import time


def wait_for(cond, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def wake(q, what=b'W'):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(os.path.join(q, 'public', 'qmgr'))
        s.sendall(what)
    except OSError:
        pass
    s.close()


def maildir(base, user):
    return sorted(glob.glob(os.path.join(base, 'example.com', user, 'new',
                                         '*')))


def setup(prefix):
    top = tempfile.mkdtemp(prefix=prefix, dir='/tmp')
    os.chmod(top, 0o755)
    cf = os.path.join(top, 'etc')
    q = os.path.join(top, 'queue')
    base = os.path.join(top, 'mail')
    os.makedirs(cf)
    os.makedirs(base)
    root = os.geteuid() == 0
    uid = 5000 if root else os.geteuid()
    gid = 5000 if root else os.getegid()
    if root:
        os.chown(base, uid, gid)
    with open(os.path.join(cf, 'vmailbox'), 'w') as f:
        f.write('user1@example.com 1\nuser2@example.com 1\n'
                'user3@example.com 1\n')
    with open(os.path.join(cf, 'valias'), 'w') as f:
        f.write('team@example.com user2@example.com, user3@example.com\n'
                'all@example.com team@example.com, user1@example.com\n')
    with open(os.path.join(cf, 'aliases'), 'w') as f:
        f.write('root user1@example.com\npostmaster root\n')
    with open(os.path.join(cf, 'main.cf'), 'w') as f:
        f.write('''queue_directory = %s
myhostname = mx.example.com
mydomain = example.com
myorigin = localhost
mydestination = localhost
virtual_mailbox_domains = example.com
virtual_mailbox_base = %s
virtual_mailbox_maps = texthash:%s/vmailbox
virtual_alias_maps = texthash:%s/valias
alias_maps = texthash:%s/aliases
virtual_uid_maps = static:%d
virtual_gid_maps = static:%d
virtual_minimum_uid = %d
relayhost =
''' % (q, base, cf, cf, cf, uid, gid, min(uid, 100)))
    if root:
        # the agents run as mail_owner and must read the config
        os.chown(cf, *pwd.getpwnam('postern')[2:4])
    return top, cf, q, base, root, uid, gid
