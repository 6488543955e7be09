#!/usr/bin/python3
# NAME
#	psc_fake_smtpd.py - a stand-in for smtpd's pass service
# SYNOPSIS
#	psc_fake_smtpd.py SOCKET_PATH LOG_FILE
# DESCRIPTION
#	Listens on the unix socket postscreen hands clients to, and on the
#	datagram socket SOCKET_PATH.dgram beside it (as master makes for a
#	pass service), receives each client socket (SCM_RIGHTS) with its
#	attribute list (lib/fdpass.h), logs "PASSED client_addr=...
#	client_port=... server_addr=... server_port=... via=stream|dgram"
#	to LOG_FILE, then greets the client with "220 fake-smtpd ready",
#	answers one line with "221 fake-smtpd bye" and closes. Lets tests
#	check the hand-off without the real smtpd.
import os
import socket
import sys
import threading

path, logpath = sys.argv[1], sys.argv[2]
log_lock = threading.Lock()


def log(text):
    with log_lock, open(logpath, "a") as f:
        f.write(text + "\n")


def serve(conn):
    try:
        msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
        data = msg
        while b"\n\n" not in data:
            more = conn.recv(4096)
            if not more:
                break
            data += more
        conn.close()
        greet(data, fds, "stream")
    except Exception as e:  # a broken hand-off is a test failure
        log("ERROR %r" % (e,))


def serve_dgram(sock):
    while True:
        msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 1)
        threading.Thread(target=greet, args=(msg, fds, "dgram"),
                         daemon=True).start()


def greet(data, fds, via):
    try:
        if len(fds) != 1:
            log("ERROR fds=%d" % len(fds))
            return
        attrs = dict(l.split("=", 1) for l in
                     data.decode("ascii", "replace").split("\n") if "=" in l)
        if not data.endswith(b"\n\n"):
            log("ERROR incomplete list via %s" % via)
        log("PASSED client_addr=%s client_port=%s server_addr=%s "
            "server_port=%s via=%s" % (attrs.get("client_addr"),
                                       attrs.get("client_port"),
                                       attrs.get("server_addr"),
                                       attrs.get("server_port"), via))
        client = socket.socket(fileno=fds[0])
        client.settimeout(10)
        client.sendall(b"220 fake-smtpd ready\r\n")
        try:
            client.recv(4096)
            client.sendall(b"221 fake-smtpd bye\r\n")
        except OSError:
            pass
        client.close()
    except Exception as e:  # a broken hand-off is a test failure
        log("ERROR %r" % (e,))


for p in (path, path + ".dgram"):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind(path + ".dgram")
os.chmod(path + ".dgram", 0o666)
threading.Thread(target=serve_dgram, args=(dg,), daemon=True).start()
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o666)  # postscreen runs as mail_owner under root
srv.listen(16)
log("READY")
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
