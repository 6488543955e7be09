#!/usr/bin/python3
# NAME
#	burst_greet.py - many clients at once, each waiting for its greeting
# SYNOPSIS
#	burst_greet.py PORT COUNT SOURCE GREETING [GAP]
# DESCRIPTION
#	Opens COUNT connections from SOURCE (a loopback address) to
#	127.0.0.1:PORT, GAP seconds apart (default 0), then reads each
#	one's first line (20 s at most) and prints "greeted G busy B": G
#	lines that start with GREETING, B that start with "421".
import socket
import sys
import time

port, count, source, greeting = (int(sys.argv[1]), int(sys.argv[2]),
                                 sys.argv[3], sys.argv[4].encode())
gap = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
socks = []
for i in range(count):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    socks.append(s)
    if gap:
        time.sleep(gap)
got = busy = 0
for s in socks:
    data = b""
    try:
        while b"\n" not in data:
            more = s.recv(4096)
            if not more:
                break
            data += more
    except OSError:
        pass
    if data.startswith(greeting):
        got += 1
    elif data.startswith(b"421"):
        busy += 1
    s.close()
print("greeted %d busy %d" % (got, busy))
