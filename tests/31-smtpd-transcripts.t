#!/usr/bin/python3
"""31-smtpd-transcripts.t - smtpd -S sessions against .in/.ref pairs.

Each smtpd/tests/NAME.in is one SMTP session fed to `smtpd -S` on a pipe,
with the configuration smtpd/tests/main.cf and a fresh temporary queue.
In a .in file every line ends in CRLF on the wire; the tokens <LF>, <CR>,
<NUL> and <8BIT> stand for a bare LF, a bare CR, a NUL byte and the
bytes c3 a9, so hostile input can be written down. Lines starting with
'#' are comments; '#opts: -o name=value ...' adds smtpd options.

The output compared with NAME.ref is smtpd's stdout (queue ids replaced
by QUEUEID), then each queue file written, with the id and arrival time
masked (and the message length, which the added Message-ID:/Date:
of a -S local submission make vary). UPDATE_REF=1 rewrites the .ref files (review the diff).
"""
import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
TOP = os.environ.get('POSTERN_TOP', '.')
DIR = os.path.join(TOP, 'smtpd', 'tests')


def wire(text):
    opts = []
    out = b''
    for line in text.split('\n')[:-1] if text.endswith('\n') else \
            text.split('\n'):
        if line.startswith('#opts:'):
            opts += line[6:].split()
            continue
        if line.startswith('#'):
            continue
        b = line.encode('utf-8', 'surrogateescape') + b'\r\n'
        b = b.replace(b'<LF>', b'\n').replace(b'<CR>', b'\r')
        b = b.replace(b'<NUL>', b'\0').replace(b'<8BIT>', b'\xc3\xa9')
        b = b.replace(b'<NOCRLF>\r\n', b'')
        out += b
    return out, opts


def mask(data):
    data = re.sub(rb'queued as [0-9A-Za-z]+', b'queued as QUEUEID', data)
    data = re.sub(rb'(?m)^I[0-9A-Za-z]+$', b'IQUEUEID', data)
    data = re.sub(rb'(?m)^T[0-9.]+$', b'TTIME', data)
    data = re.sub(rb' id [0-9A-Za-z]+', b' id QUEUEID', data)
    data = re.sub(rb'<\d{14}\.[0-9A-Za-z]+@', b'<MSGID@', data)
    data = re.sub(rb'(?m)^M\d{20}$', b'MLENGTH', data)
    data = re.sub(rb'[A-Z][a-z][a-z], \d+ [A-Z][a-z][a-z] \d{4} '
                  rb'[0-9:]{8} [+-]\d{4}( \([A-Z]+\))?', b'DATE', data)
    return data


def run(path):
    name = os.path.basename(path)[:-3]
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        data, opts = wire(f.read())
    tmp = tempfile.mkdtemp(prefix='postern-31-')
    try:
        q = os.path.join(tmp, 'queue')
        for d in ('incoming', 'active', 'deferred', 'hold', 'corrupt',
                  'public', 'private'):
            os.makedirs(os.path.join(q, d))
        if os.geteuid() == 0:
            # smtpd drops to mail_owner: the queue must be its own.
            os.chmod(tmp, 0o755)
            pw = pwd.getpwnam('postern')
            for root, dirs, files in os.walk(q):
                os.chown(root, pw.pw_uid, pw.pw_gid)
        p = subprocess.run([os.path.join(BIN, 'smtpd'), '-S', '-c', DIR,
                            '-o', 'queue_directory=' + q] + opts,
                           input=data, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        out = p.stdout
        for sub in ('incoming', 'hold'):
            for f in sorted(os.listdir(os.path.join(q, sub))):
                with open(os.path.join(q, sub, f), 'rb') as fh:
                    out += b'--- queue file in ' + sub.encode() + b'\n'
                    out += fh.read()
        out = mask(out)
        ref = path[:-3] + '.ref'
        if os.environ.get('UPDATE_REF'):
            with open(ref, 'wb') as fh:
                fh.write(out)
        want = open(ref, 'rb').read() if os.path.exists(ref) else b''
        diag = None
        if out != want:
            import difflib
            diag = ''.join(difflib.unified_diff(
                want.decode('latin-1').splitlines(True),
                out.decode('latin-1').splitlines(True), 'want', 'got'))
            diag += '\nstderr:\n' + p.stderr.decode('latin-1')[-2000:]
        ok(out == want, 'transcript %s' % name, diag)
        ok(p.returncode == 0 and b'ERROR: AddressSanitizer' not in p.stderr
           and b'runtime error' not in p.stderr,
           'transcript %s: smtpd exits cleanly' % name,
           p.stderr.decode('latin-1')[-2000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    files = sorted(glob.glob(os.path.join(DIR, '*.in')))
    ok(len(files) > 0, 'transcripts found in smtpd/tests')
    for path in files:
        run(path)
    sys.exit(ptap.done())


main()
