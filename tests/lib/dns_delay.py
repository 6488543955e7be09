#!/usr/bin/python3
# NAME
#	dns_delay.py - a UDP DNS proxy that answers late
# SYNOPSIS
#	dns_delay.py LISTEN_PORT UPSTREAM_PORT DELAY_SECONDS
# DESCRIPTION
#	Listens on 127.0.0.1:LISTEN_PORT, forwards every query to the DNS
#	server on 127.0.0.1:UPSTREAM_PORT (the test's dnsmasq) after
#	DELAY_SECONDS, and relays the answer. Lets a test make DNS slow
#	on purpose (overlapping lookups, timeouts) without any outside
#	server. Prints READY on stdout once listening.
import socket
import sys
import threading
import time

listen_port, upstream_port, delay = (int(sys.argv[1]), int(sys.argv[2]),
                                     float(sys.argv[3]))
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(("127.0.0.1", listen_port))


def relay(query, client):
    time.sleep(delay)
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.settimeout(5)
    try:
        up.sendto(query, ("127.0.0.1", upstream_port))
        answer, _ = up.recvfrom(65535)
        srv.sendto(answer, client)
    except OSError:
        pass
    finally:
        up.close()


print("READY", flush=True)
while True:
    q, c = srv.recvfrom(65535)
    threading.Thread(target=relay, args=(q, c), daemon=True).start()
