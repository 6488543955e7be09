"""ptap.py - TAP and IPC helpers shared by the Python integration tests.

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    'lib'))
    from ptap import ok, done, enc, dec, read

ok(cond, name, diag=None) prints "ok N - name" or "not ok N - name" with
the last lines of diag as "#" comments, and returns cond. count() and
failed() say how many checks ran and failed; done() prints the plan
("1..N", TAP allows it last) and returns the exit status: 0 only if at
least one check ran and none failed.

sanitizer_ok(text='', name='no sanitizer reports') is one check: no
sanitizer report and no "panic:" log line in text (a daemon's stderr log
the test read), no sanitizer report in POSTERN_SAN_DIR. Under make check (tests/lib/runtest) every process's
ASan/LSan report goes to a file there, and runtest fails the test file on
any of them by itself; this check says it from inside the test, at a
chosen point. text still matters: without runtest reports go to stderr,
and GCC's UBSan writes to stderr even under runtest (its separate runtime
ignores log_path when ASan is loaded; every UBSan report is fatal, so the
process's exit status shows it as well).

delivery_log_ok(text, program, name, least=1) is one check: every "to="
line that program ("qmgr", "virtual", "smtp") logged in text is
lib/deliver_log.h's line, field order and Postfix's delay format (two
significant digits, at most two decimals: 0, 0.05, 0.12, 1.2, 12), and
there are at least least of them.

agent_request(sock_path, qid, rcpts, ...) sends one lib/deliver.h request
(rcpts: a list of (address, index)) to a delivery agent on a unix socket
and returns its answer as a dict of decoded attributes.

enc()/dec() are lib/attr.h's value encoding (%25 %0D %0A %00), read()
returns a file's text or "" when it cannot be read.
"""
import glob
import os
import re
import sys

_count = 0
_failed = 0


def ok(cond, name, diag=None):
    global _count, _failed
    _count += 1
    if not cond:
        _failed += 1
    print('%sok %d - %s' % ('' if cond else 'not ', _count, name))
    if not cond and diag is not None:
        for line in str(diag).splitlines()[-30:]:
            print('#   ' + line)
    sys.stdout.flush()
    return cond


SAN_PATTERN = re.compile(r'ERROR: (Address|Leak|Thread)Sanitizer|'
                         r'runtime error:|\]: panic: ')


def sanitizer_reports(text=''):
    """The sanitizer reports so far: POSTERN_SAN_DIR's files and text's."""
    out = []
    d = os.environ.get('POSTERN_SAN_DIR')
    if d:
        for f in sorted(glob.glob(os.path.join(d, 'san.*'))):
            out.append('%s:\n%s' % (f, '\n'.join(
                read(f).splitlines()[:20])))
    if isinstance(text, bytes):
        text = text.decode('latin-1')
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if SAN_PATTERN.search(line):
            out.append('\n'.join(lines[i:i + 12]))
            if len(out) > 4:
                break
    return out


def sanitizer_ok(text='', name='no sanitizer reports'):
    r = sanitizer_reports(text)
    return ok(not r, name, '\n'.join(r))


# lib/deliver_log.h: Postfix's format_tv(2 digits, resolution 2)
DELAY = r'(?:0|0\.[0-9]?[1-9]|[1-9](?:\.[1-9])?|[1-9][0-9]+)'
DELIVERY_LINE = re.compile(
    r': [0-9A-Za-z]+: to=<[^>]*>, (?:orig_to=<[^>]*>, )?relay=[^ ,]+, '
    r'delay=%s, delays=%s/%s/%s/%s, dsn=[245]\.[0-9]{1,3}\.[0-9]{1,3}, '
    r'status=(?:sent|deferred|bounced) \(.*\)$' % ((DELAY,) * 5))


def delivery_log_ok(text, program, name, least=1):
    lines = [line for line in text.splitlines()
             if ': to=<' in line and '/%s[' % program in line]
    bad = [line for line in lines if not DELIVERY_LINE.search(line)]
    return ok(len(lines) >= least and not bad,
              '%s (%d lines)' % (name, len(lines)),
              '\n'.join(bad[:10]) if bad else text[-2000:])


def count():
    return _count


def failed():
    return _failed


def done():
    print('1..%d' % _count)
    sys.stdout.flush()
    return 1 if _failed or _count == 0 else 0


def enc(v):
    return (v.replace('%', '%25').replace('\r', '%0D').replace('\n', '%0A')
            .replace('\0', '%00'))


def dec(v):
    out, i = bytearray(), 0
    b = v.encode('latin-1')
    while i < len(b):
        if b[i:i + 1] == b'%':
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(b[i])
            i += 1
    return out.decode('latin-1')


def read(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except OSError:
        return ''


QUEUE_DIRS = ('incoming', 'active', 'deferred', 'hold', 'corrupt',
              'maildrop', 'bounce', 'defer', 'private', 'public', 'pid')


def queue_dirs(q):
    """Make queue directory q with its subdirectories (QUEUE.md), as
    master does, for tests that run a daemon without master."""
    for d in QUEUE_DIRS:
        os.makedirs(os.path.join(q, d))
    return q


def agent_request(sock_path, qid, rcpts, sender='s@example.org',
                  queue='active', transport='virtual',
                  nexthop='example.com', timeout=30, notify=0):
    """One lib/deliver.h request; the agent's answer as a dict."""
    import socket
    lines = ['version=1', 'queue_name=' + queue, 'queue_id=' + qid,
             'transport=' + transport, 'nexthop=' + nexthop,
             'sender=' + enc(sender), 'rcpt_count=%d' % len(rcpts)]
    for i, (addr, idx) in enumerate(rcpts):
        lines += ['rcpt.%d.addr=%s' % (i, enc(addr)),
                  'rcpt.%d.index=%d' % (i, idx),
                  'rcpt.%d.orig=%s' % (i, enc(addr)),
                  'rcpt.%d.notify=%d' % (i, notify)]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(('\n'.join(lines) + '\n\n').encode('latin-1'))
    data = b''
    while not data.endswith(b'\n\n'):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    ans = {}
    for line in data.decode('latin-1').split('\n'):
        if '=' in line:
            k, v = line.split('=', 1)
            ans[k] = dec(v)
    return ans
