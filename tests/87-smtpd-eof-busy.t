#!/bin/bash
# 87-smtpd-eof-busy.t - a client that leaves while smtpd works for it
#
# Issue 13: smtpd keeps reading a session's socket while a worker runs
# its MAIL/RCPT check or writes its message (no epoll_ctl per job), so
# the client's EOF can arrive during a job. The session must still
# answer the commands the client pipelined before leaving, then log the
# lost connection once; the message of a client that closes right after
# its final dot (before reading the 250) is queued and delivered, as
# the reply was owed only after the group commit; a client lost in the
# middle of a message larger than smtpd's 16 KB chunk leaves no file
# (the first chunk began incoming/.ID; the session's end removes it);
# and smtpd serves the next client. The MAIL and RCPT checks use access tables, so each is a
# worker job (no answer from the loop's lookup cache). About 9 s.
# Ports 28900-28919.
set -u
. "$POSTERN_TOP/tests/lib/tap.sh"
. "$POSTERN_TOP/tests/lib/instance.sh"
. "$POSTERN_TOP/tests/lib/freeport.sh"

PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/postern-87.XXXXXX)
trap 'instance_cleanup; rm -rf "$DIR"' EXIT
SMTP=$(free_port 28900 28909) || bail_out "no free port"
# submission on a port of ours too, not the seed's 587 (another test may hold it)
SUB=$(free_port 28910 28919) || bail_out "no free port"

instance_create "$DIR/i" "$SMTP" "$SUB" || bail_out "instance_create"
E=$INSTANCE_CONF
printf '127.0.0.0/8 permit\n' >"$E/postscreen_access.cidr"
printf 's@client.example.net OK\n' >"$E/sender_access"
printf 'a@example.org OK\n' >"$E/rcpt_access"
instance_local_mail a@example.org || bail_out "postconf -e"
instance_conf \
	"mynetworks=192.0.2.0/24" \
	"postscreen_access_list=permit_mynetworks, cidr:$E/postscreen_access.cidr" \
	"smtpd_helo_restrictions=" \
	"smtpd_sender_restrictions=check_sender_access texthash:$E/sender_access" \
	"smtpd_recipient_restrictions=check_recipient_access texthash:$E/rcpt_access, reject" ||
	bail_out "postconf -e"
instance_start || bail_out "instance did not start"

N=10
timeout 60 $PY - "$SMTP" "$N" "$INSTANCE_QUEUE/incoming" >"$DIR/client.out" 2>&1 <<'PYEOF'
import os, socket, sys, time
port, n, incoming = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def session():
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220 ")
    s.sendall(b"EHLO client.example.net\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    return s, f

# 1. MAIL and RCPT pipelined, then the client leaves at once
for i in range(n):
    s, f = session()
    s.sendall(b"MAIL FROM:<s@client.example.net>\r\n"
              b"RCPT TO:<a@example.org>\r\n")
    s.shutdown(socket.SHUT_WR)
    s.close()
# 2. the final dot, then the client leaves without its 250
for i in range(n):
    s, f = session()
    s.sendall(b"MAIL FROM:<s@client.example.net>\r\n"
              b"RCPT TO:<a@example.org>\r\nDATA\r\n")
    for want in (b"250 ", b"250 ", b"354 "):
        line = f.readline()
        assert line.startswith(want), line
    s.sendall(b"Subject: eof %d\r\n\r\nbody\r\n.\r\n" % i)
    s.close()
# 3. 40 KB of a message, then the client is gone
def dots():
    return [f for f in os.listdir(incoming) if f.startswith(".")]
# part 2's files keep their temporary names until smtpd's journal
# checkpoint (up to 50 ms after the last 250): wait them out first
for i in range(100):
    if not dots():
        break
    time.sleep(0.1)
s, f = session()
s.sendall(b"MAIL FROM:<s@client.example.net>\r\n"
          b"RCPT TO:<a@example.org>\r\nDATA\r\n")
for want in (b"250 ", b"250 ", b"354 "):
    assert f.readline().startswith(want)
s.sendall(b"Subject: cut\r\n\r\n" + (b"z" * 78 + b"\r\n") * 512)
for i in range(100):
    during = dots()
    if during:
        break
    time.sleep(0.1)
f.close()       # the makefile holds the descriptor open too
s.close()
for i in range(100):
    if not dots():
        break
    time.sleep(0.1)
print("cut: begun %d, left %d" % (len(during), len(dots())))
# 4. the next client is served
s, f = session()
s.sendall(b"MAIL FROM:<s@client.example.net>\r\n")
print("after:", f.readline().decode().strip())
s.sendall(b"QUIT\r\n")
print("quit:", f.readline().decode().strip())
PYEOF
ok $? "the client script ran" || diag "$(cat "$DIR/client.out")"

wait_for "[ \$(instance_log_count 'lost connection after RCPT from') -ge $N ]" 20
is "$(instance_log_count 'lost connection after RCPT from')" "$N" \
	"each leaver of part 1: one 'lost connection after RCPT'"
is "$(instance_log_count 'disconnect from .* ehlo=1 mail=1 rcpt=1 commands=3$')" \
	"$N" "  its pipelined MAIL and RCPT were answered first (mail=1 rcpt=1)"
wait_for "[ \$(ls $INSTANCE_MAIL/example.org/a/new 2>/dev/null | wc -l) -ge $N ]" 30
is "$(ls "$INSTANCE_MAIL/example.org/a/new" 2>/dev/null | wc -l)" "$N" \
	"each message whose client left after the dot is delivered"
is "$(instance_log_count 'status=sent')" "$N" "  once each (status=sent)"
like "$(cat "$DIR/client.out")" 'cut: begun 1, left 0' \
	"a client lost after 40 KB: its file was begun, and is gone after"
like "$(cat "$DIR/client.out")" 'after: 250 2\.1\.0' \
	"the next client's MAIL is answered"
instance_stop
ok $? "instance stops, no process left"
done_testing
