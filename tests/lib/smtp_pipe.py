#!/usr/bin/python3
"""smtp_pipe.py - one SMTP session with "smtpd -S" on a pipe, step by step.

SYNOPSIS
    smtp_pipe.py COMMAND [ARG...] < script

Runs COMMAND (e.g. smtpd -c DIR -S), reads its greeting, then sends the
script's lines one at a time and waits for each complete reply (the
line whose fourth character is a space), printing every reply line.
After a 354 reply to DATA it sends a small message and the final dot.
A script line "sleep N" waits N seconds instead of sending. Unlike
swaks, a session may hold several transactions and pauses.
"""
import subprocess
import sys
import time

import smtp_dialog


def reply(p):
    lines = smtp_dialog.lines(p.stdout, "utf-8")
    if not lines or lines[-1][3:4] == "-":
        lines.append("(connection closed)")
    print("\n".join(lines), flush=True)
    return lines[-1]


def send(p, text):
    p.stdin.write(text.encode() + b"\r\n")
    p.stdin.flush()


def main():
    p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    reply(p)
    for cmd in sys.stdin.read().splitlines():
        if cmd.startswith("sleep "):
            time.sleep(float(cmd.split()[1]))
            continue
        print(">", cmd, flush=True)
        send(p, cmd)
        last = reply(p)
        if cmd.upper() == "DATA" and last.startswith("354"):
            send(p, "Subject: policy test\r\n\r\nhello\r\n.")
            reply(p)
        if last == "(connection closed)":
            break
    p.stdin.close()
    p.wait(timeout=30)


if __name__ == "__main__":
    main()
