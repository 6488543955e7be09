"""procs.py - the daemons a Python test starts, killed when it ends.

cleanup = killer(PROCS) returns cleanup(*_), which kills (SIGKILL) and
reaps every Popen in the list PROCS still running, and installs it as
the SIGTERM handler (then exit 1), so that prove's timeout or a ^C
leaves no daemon behind. The test calls cleanup() itself at its end.

self_signed(tmp, cn='mx.example.com') makes tmp/cert.pem and
tmp/key.pem (RSA 2048, 2 days, CN cn) with openssl and returns
(cert, key); raises CalledProcessError when openssl fails.
"""
import os
import signal
import subprocess
import sys


def killer(procs):
    def cleanup(*_):
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    signal.signal(signal.SIGTERM, lambda *a: (cleanup(), sys.exit(1)))
    return cleanup


def self_signed(tmp, cn='mx.example.com'):
    cert = os.path.join(tmp, 'cert.pem')
    key = os.path.join(tmp, 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048',
                    '-nodes', '-keyout', key, '-out', cert, '-days', '2',
                    '-subj', '/CN=' + cn], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return cert, key
