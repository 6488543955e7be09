#!/usr/bin/python3
"""03-param-limits.t - a parameter out of range stops the daemon, as Postfix.

Each daemon reads its numbers through a typed table (lib/conf_table.h)
with Postfix's minimums and maximums; a value outside is fatal at start
with Postfix's wording ("invalid NAME parameter value V < MIN", "invalid
NAME: V (min MIN)" for times). Before the tables, smtpd was fatal in its
own words, postscreen raised postscreen_greet_wait and line_length_limit
silently, smtpd raised smtpd_timeout to 1 and made an
anvil_rate_time_unit below 1 s 60 s, qmgr raised its limits and
backoff times to 1 and smtp turned a thread count outside 1..256 into
20, and smtpd replaced a reply code parameter outside 400..599 (or
malformed) by its default, all without a word; the daemon skeleton (lib/server.c) took any
max_idle and max_use.

Each case starts one daemon without master (smtpd -S on a pipe, smtp -d
-l SOCKET, postscreen -d -l 127.0.0.1:PORT) with an empty main.cf and
one -o (qmgr -d -l SOCKET as well), and checks the exit status and the
fatal line on stderr. Values at the limits are accepted: smtpd -S
answers 220 and 221 with them. A daemon that does not exit within 20 s
is killed by its PID and fails.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'lib'))
import ptap  # noqa: E402
from ptap import ok  # noqa: E402

BIN = os.environ.get('POSTERN_BIN', 'build/asan/bin')
PORT = 22000 + os.getpid() % 90  # Ports 22000-22089.

tmp = tempfile.mkdtemp(prefix='param-limits.')
os.chmod(tmp, 0o755)
open(os.path.join(tmp, 'main.cf'), 'w').close()


def run(prog, opts, stdin=b''):
    """(exit status, stdout, stderr) of one daemon run."""
    args = [os.path.join(BIN, prog), '-c', tmp, '-o',
            'queue_directory=' + tmp]
    if prog == 'smtpd':
        args.append('-S')
    elif prog in ('smtp', 'qmgr'):
        args += ['-d', '-l', os.path.join(tmp, 'sock')]
    else:
        args += ['-d', '-l', '127.0.0.1:%d' % PORT]
    for o in opts:
        args += ['-o', o]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(stdin, timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return ('timeout', out.decode('latin-1'), err.decode('latin-1'))
    return (p.returncode, out.decode('latin-1'), err.decode('latin-1'))


FATAL = [
    ('smtpd', 'smtpd_recipient_limit=0',
     'invalid smtpd_recipient_limit parameter value 0 < 1'),
    ('smtpd', 'smtpd_hard_error_limit=-3',
     'invalid smtpd_hard_error_limit parameter value -3 < 1'),
    ('smtpd', 'line_length_limit=511',
     'invalid line_length_limit parameter value 511 < 512'),
    ('smtpd', 'smtpd_timeout=0', 'invalid smtpd_timeout: 0 (min 1)'),
    ('smtpd', 'smtpd_recipient_limit=1x',
     'bad numerical configuration: smtpd_recipient_limit = 1x'),
    ('smtpd', 'anvil_rate_time_unit=0s',
     'invalid anvil_rate_time_unit: 0 (min 1)'),
    ('smtpd', 'reject_code=250',
     'invalid reject_code parameter value 250 < 400'),
    ('smtpd', 'unknown_address_reject_code=5.1.1',
     'bad numerical configuration: unknown_address_reject_code = 5.1.1'),
    ('smtpd', 'max_idle=0', 'invalid max_idle: 0 (min 1)'),
    ('smtpd', 'max_use=-1', 'invalid max_use parameter value -1 < 0'),
    ('smtpd', 'hopcount_limit=0',
     'invalid hopcount_limit parameter value 0 < 1'),
    ('smtp', 'smtp_worker_threads=257',
     'invalid smtp_worker_threads parameter value 257 > 256'),
    ('smtp', 'smtp_worker_threads=0',
     'invalid smtp_worker_threads parameter value 0 < 1'),
    ('smtp', 'smtp_helo_timeout=0s', 'invalid smtp_helo_timeout: 0 (min 1)'),
    ('qmgr', 'minimal_backoff_time=0',
     'invalid minimal_backoff_time: 0 (min 1)'),
    ('qmgr', 'qmgr_message_active_limit=0',
     'invalid qmgr_message_active_limit parameter value 0 < 1'),
    ('qmgr', 'default_destination_concurrency_limit=0',
     'invalid default_destination_concurrency_limit parameter value 0 < 1'),
    ('postscreen', 'postscreen_greet_wait=0',
     'invalid postscreen_greet_wait: 0 (min 1)'),
    ('postscreen', 'line_length_limit=100',
     'invalid line_length_limit parameter value 100 < 512'),
]

for prog, opt, want in FATAL:
    rc, out, err = run(prog, [opt], b'QUIT\r\n')
    ok(rc == 1 and ('fatal: ' + want) in err,
       '%s -o %s: exit 1, "fatal: %s"' % (prog, opt, want),
       'exit %s\n%s' % (rc, err))
    ptap.sanitizer_ok(err, '%s -o %s: no sanitizer report' % (prog, opt))

# The limits themselves are allowed.
rc, out, err = run('smtpd', ['smtpd_recipient_limit=1', 'line_length_limit=512',
                             'smtpd_timeout=1s', 'hopcount_limit=1',
                             'smtpd_hard_error_limit=1', 'max_idle=1s',
                             'max_use=0', 'reject_code=400',
                             'defer_code=599'], b'QUIT\r\n')
ok(rc == 0 and out.startswith('220 ') and '\n221 ' in out
   and 'fatal' not in err,
   'smtpd -S runs with every limit at its minimum', 'exit %s\n%s\n%s'
   % (rc, out, err))

shutil.rmtree(tmp)
sys.exit(ptap.done())
