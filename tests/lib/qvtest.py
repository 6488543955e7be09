"""qvtest.py - a qmgr + virtual instance without master, for tests 41 and 42.

setup(prefix) makes a temporary directory with etc/ (main.cf, texthash
tables: user1..3@example.com, aliases team@ and all@, local root and
postmaster), queue/ and mail/ (owned by uid 5000 when root), and returns
(top, cf, q, base, root, uid, gid). wait_for(cond) polls cond until it is
true (20 s), wake(q) pokes public/qmgr, maildir(base, user) lists the
files in example.com/user/new. start_daemon(bin, cf, q, name, log,
procs) runs qmgr (on public/qmgr) or an agent (on private/NAME) with
stderr appended to log, sets procs[name] and waits until its socket
accepts a connection (not for the file: it exists before listen());
run_sendmail(bin, cf, args, msg) runs sendmail -C cf -i args with msg.
stop_daemons(procs, names, logs): SIGTERM to each procs[name], one
check each that it exits 0, then one that the logs hold no sanitizer
report. finish(procs, top) (procs: a dict or a list), for finally: kill what still runs, remove
top when every check passed, else keep it and say so.
make_top(prefix) is setup's first half
(the directories, no tables) with the same result; mail_owner(base)
gives base to uid 5000 when root and returns (root, uid, gid).
stop_checked(procs, ok) sends SIGTERM to each Popen in procs, one ok()
check each: it was running and exits 0.

For the tests that run the daemons by hand (23, 24, 39, 72):
free_port(first, last, width) is the first of width consecutive free
loopback ports in first..last (PID offset; bails out when none is free),
starter(bin, cf, procs) returns start(name, log, args) which runs
bin/name -c cf -d args and appends it to procs, stop(p) ends one with
SIGTERM (SIGKILL after 10 s) and returns its exit status ('hung' when it
had to be killed), listening(port) says whether 127.0.0.1:port
accepts a connection. start_agent(bin, name, cf, sock, log, procs,
extra) runs a delivery agent, bin/name -c cf -d -l sock extra..., appends
it to procs and waits up to 15 s until the socket accepts a connection.
"""
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import ptap
from smtp_dialog import wait_accepts


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


def mail_owner(base):
    root = os.geteuid() == 0
    uid = 5000 if root else os.geteuid()
    gid = 5000 if root else os.getegid()
    if root:
        os.chown(base, uid, gid)
    return root, uid, gid


def make_top(prefix):
    top = tempfile.mkdtemp(prefix=prefix, dir='/tmp')
    os.chmod(top, 0o755)
    cf = os.path.join(top, 'etc')
    q = os.path.join(top, 'queue')
    base = os.path.join(top, 'mail')
    os.makedirs(cf)
    os.makedirs(base)
    return (top, cf, q, base) + mail_owner(base)


def stop_checked(procs, ok):
    for p in procs:
        name = os.path.basename(p.args[0])
        alive = p.poll() is None
        if alive:
            p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            rc = 'hung'
        ok(alive and rc == 0, '%s was running and exits 0 on SIGTERM'
           % name, 'alive: %s, exit: %s' % (alive, rc))


def setup(prefix):
    top, cf, q, base, root, uid, gid = make_top(prefix)
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


def start_daemon(bin, cf, q, name, log, procs):
    sock = os.path.join(q, 'public' if name == 'qmgr' else 'private', name)
    p = subprocess.Popen([os.path.join(bin, name), '-c', cf, '-d',
                          '-l', sock], stdout=subprocess.DEVNULL,
                         stderr=open(log, 'a'))
    procs[name] = p
    if not wait_accepts(sock, p, 20):
        print('# %s: nothing accepts on %s after 20 s' % (name, sock))
    return p


def stop_daemons(procs, names, logs):
    for name in names:
        procs[name].send_signal(signal.SIGTERM)
        ptap.ok(procs[name].wait(timeout=10) == 0, '%s exits 0' % name)
    # ASan/LSan: files in POSTERN_SAN_DIR (tests/lib/runtest); UBSan,
    # and everything without runtest: the daemons' stderr logs.
    ptap.sanitizer_ok(''.join(ptap.read(log) for log in logs))


def finish(procs, top):
    for p in procs.values() if isinstance(procs, dict) else procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if ptap.failed() == 0:
        shutil.rmtree(top, ignore_errors=True)
    else:
        print('# kept ' + top)


def run_sendmail(bin, cf, args, msg):
    return subprocess.run([os.path.join(bin, 'sendmail'), '-C', cf, '-i']
                          + args, input=msg, capture_output=True)


def free_port(first, last, width=1):
    n = (last - first + 1) // width
    for i in range(n):
        port = first + (os.getpid() + i) % n * width
        try:
            for p in range(port, port + width):
                s = socket.socket()
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(('127.0.0.1', p))
                finally:
                    s.close()
            return port
        except OSError:
            continue
    # a busy port would put the test in front of someone else's server
    sys.exit('Bail out! no %d free port(s) in %d-%d' % (width, first, last))


def starter(bin, cf, procs):
    def start(name, log, args):
        p = subprocess.Popen([os.path.join(bin, name), '-c', cf, '-d']
                             + args, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=open(log, 'a'))
        procs.append(p)
        return p
    return start


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return 'hung'
    return p.returncode


def start_agent(bin, name, cf, sock_path, log_path, procs, extra=()):
    log = open(log_path, 'ab')
    p = subprocess.Popen([os.path.join(bin, name), '-c', cf, '-d',
                          '-l', sock_path] + list(extra),
                         stdout=log, stderr=log)
    procs.append(p)
    if not wait_accepts(sock_path, p, 15):
        print('# %s: nothing accepts on %s after 15 s' % (name, sock_path))
    return p


def listening(port):
    try:
        socket.create_connection(('127.0.0.1', port), 1).close()
        return True
    except OSError:
        return False
