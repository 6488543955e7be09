#!/usr/bin/python3
"""spawn_stdio.py - Postfix's master.cf "spawn" for tests: a program that
speaks on stdin/stdout, one process per connection.

SYNOPSIS
    spawn_stdio.py HOST:PORT COMMAND [ARG...]

Listens on HOST:PORT (TCP); for each connection runs COMMAND with the
socket as its stdin and stdout (stderr is inherited), as Postfix's
spawn(8) runs postfix-policyd-spf-python for a check_policy_service
client. The command ends when the client closes (EOF on stdin). Exits on
SIGTERM, killing the commands still running.
"""
import os
import signal
import socket
import subprocess
import sys


def main():
    host, port = sys.argv[1].rsplit(':', 1)
    cmd = sys.argv[2:]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(16)
    children = []

    def stop(*_):
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print('spawn_stdio: listening on %s:%s' % (host, port), flush=True)
    while True:
        conn, _ = srv.accept()
        children.append(subprocess.Popen(cmd, stdin=conn, stdout=conn))
        conn.close()
        children = [c for c in children if c.poll() is None]


if __name__ == '__main__':
    main()
