#!/usr/bin/python3
"""31-smtpd-transcripts.t - smtpd -S sessions against .in/.ref pairs.

Each smtpd/tests/NAME.in is one SMTP session fed to `smtpd -S` on a pipe,
with the configuration smtpd/tests/main.cf and a fresh temporary queue.
In a .in file every line ends in CRLF on the wire; the tokens <LF>, <CR>,
<NUL> and <8BIT> stand for a bare LF, a bare CR, a NUL byte and the
bytes c3 a9, so hostile input can be written down. Lines starting with
'#' are comments; '#opts: -o name=value ...' adds smtpd options.

The output compared with NAME.ref is smtpd's stdout (queue ids replaced
by QUEUEID), then each queue file written, with only what varies from run
to run masked: queue id, arrival time, dates and the Message-ID: a -S
local submission adds. The message length record M varies with those
(a one- or two-digit day): it becomes MLENGTH only after checking that
exactly that many bytes follow it up to the E record; a wrong length
stays in the output, with the real byte count, and fails the comparison.

UPDATE_REF=1 rewrites the .ref files from the output: a developer's tool
whose diff is reviewed like code. Under make check / make prove
(POSTERN_CHECK=1) or CI (CI set) it is refused: the test would then
compare postern's output with itself.
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


def mask_length(qf):
    """M record -> MLENGTH if the bytes after it, up to E, match it."""
    m = re.search(rb'(?m)^M(\d{20})\n', qf)
    if m is None:
        return qf
    start, length = m.end(), int(m.group(1))
    # The length must end the message at a line end followed at once by
    # the end record "E", after which only R records may come.
    after = qf[start + length:]
    if (length > 0 and qf[start + length - 1:start + length] == b'\n'
            and after.startswith(b'E\n')
            and all(line.startswith(b'R')
                    for line in after[2:].splitlines())):
        rec = b'MLENGTH'
    else:
        end = qf.rfind(b'\nE\n', start - 1)
        rec = b'M%s (WRONG: %d bytes up to the E record)' % (
            m.group(1), end + 1 - start if end >= 0 else -1)
    return qf[:m.start()] + rec + b'\n' + qf[start:]


def mask(data):
    data = re.sub(rb'queued as [0-9A-Za-z]+', b'queued as QUEUEID', data)
    data = re.sub(rb'(?m)^I[0-9A-Za-z]+$', b'IQUEUEID', data)
    data = re.sub(rb'(?m)^T[0-9.]+$', b'TTIME', data)
    data = re.sub(rb' id [0-9A-Za-z]+', b' id QUEUEID', data)
    data = re.sub(rb'<\d{14}\.[0-9A-Za-z]+@', b'<MSGID@', data)
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
        ptap.queue_dirs(q)
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
                    out += mask_length(fh.read())
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
    if os.environ.get('UPDATE_REF') and (os.environ.get('POSTERN_CHECK')
                                         or os.environ.get('CI')):
        print('Bail out! UPDATE_REF is set under make check/CI: refusing '
              'to rewrite the .ref files from the output under test')
        sys.exit(255)
    files = sorted(glob.glob(os.path.join(DIR, '*.in')))
    ok(len(files) > 0, 'transcripts found in smtpd/tests')
    for path in files:
        run(path)
    sys.exit(ptap.done())


main()
