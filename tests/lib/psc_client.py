#!/usr/bin/python3
# NAME
#	psc_client.py - a scripted SMTP client bound to a chosen loopback address
# SYNOPSIS
#	psc_client.py SRC_ADDR HOST PORT STEP...
# DESCRIPTION
#	Connects from SRC_ADDR (for example 127.0.0.6, so that each test
#	client is a distinct client to postscreen; ::1 for IPv6, then HOST
#	must be IPv6 too) and runs the steps:
#	  send:TEXT	send TEXT (\r, \n and \0 escapes are decoded;
#			other bytes are sent as given, 8-bit included)
#	  expect:REGEX	read one line (10 s at most); it must match REGEX
#	  quiet:SECS	nothing may arrive for SECS seconds
#	  closed	the server must close the connection (10 s at most)
#	  sleep:SECS	pause
#	  starttls	TLS handshake on the connection (no certificate
#			check); later steps run over TLS
#	Every line received is printed as "< line", every send as "> text".
# DIAGNOSTICS
#	Exit 0 when every step succeeded, 1 with "FAIL: why" otherwise.
import os
import re
import socket
import ssl
import sys
import time

src, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in src else socket.AF_INET,
                  socket.SOCK_STREAM)
s.bind((src, 0))
s.connect((host, port))
buf = b""


def readline(timeout):
    global buf
    deadline = time.time() + timeout
    while b"\n" not in buf:
        left = deadline - time.time()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            d = s.recv(4096)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return ""
        if not d:
            return ""
        buf += d
    line, buf = buf.split(b"\n", 1)
    return line.decode("latin-1").rstrip("\r")


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


for step in sys.argv[4:]:
    op, _, arg = step.partition(":")
    if op == "send":
        text = os.fsencode(arg).replace(b"\\r", b"\r").replace(
            b"\\n", b"\n").replace(b"\\0", b"\0")
        print("> " + repr(text))
        try:
            s.sendall(text)
        except OSError as e:
            fail("send: %s" % e)
    elif op == "expect":
        line = readline(10)
        if line is None:
            fail("timeout waiting for /%s/" % arg)
        if line == "" and not buf:
            fail("connection closed waiting for /%s/" % arg)
        print("< " + line)
        if not re.search(arg, line):
            fail("got %r, want /%s/" % (line, arg))
    elif op == "quiet":
        line = readline(float(arg))
        if line is not None:
            fail("unexpected %r during quiet period" % line)
    elif op == "closed":
        line = readline(10)
        if line is None:
            fail("timeout waiting for close")
        if line != "":
            fail("got %r, want close" % line)
    elif op == "sleep":
        time.sleep(float(arg))
    elif op == "starttls":
        if buf:
            fail("plaintext %r left before the handshake" % buf)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.settimeout(10)
        try:
            s = ctx.wrap_socket(s)
        except (OSError, ssl.SSLError) as e:
            fail("TLS handshake: %s" % e)
        print("* " + s.version())
    else:
        fail("bad step " + step)
print("DONE")
