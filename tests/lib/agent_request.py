#!/usr/bin/python3
"""agent_request.py - one lib/deliver.h request to an smtp agent.

    agent_request.py SOCKET QUEUE_ID NEXTHOP

Sends a version=1 delivery request for one recipient
(friend@remote.example, sender s@example.org, transport smtp) to the
agent listening on the unix SOCKET, and prints the agent's answer (the
attribute list up to its empty line) on stdout. Used by tests 57 and 58
to drive the smtp client without qmgr.
"""
import socket
import sys

path, qid, nexthop = sys.argv[1:4]
req = ('version=1\nqueue_name=active\nqueue_id=%s\ntransport=smtp\n'
       'nexthop=%s\nsender=s@example.org\nrcpt_count=1\n'
       'rcpt.0.addr=friend@remote.example\nrcpt.0.index=0\n'
       'rcpt.0.orig=friend@remote.example\nrcpt.0.notify=0\n\n'
       % (qid, nexthop))
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(path)
s.sendall(req.encode())
data = b''
while not data.endswith(b'\n\n'):
    c = s.recv(65536)
    if not c:
        break
    data += c
sys.stdout.write(data.decode('latin-1'))
