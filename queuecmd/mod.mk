# queuecmd/: the queue commands sendmail, postqueue (and mailq), postsuper
# and postcat, one main() each, over the helpers they share (queue_cmd.c).
PROGRAMS += sendmail postqueue postsuper postcat
sendmail_SRCS := queuecmd/sendmail.c queuecmd/queue_cmd.c
postqueue_SRCS := queuecmd/postqueue.c queuecmd/queue_cmd.c
postsuper_SRCS := queuecmd/postsuper.c queuecmd/queue_cmd.c
postcat_SRCS := queuecmd/postcat.c queuecmd/queue_cmd.c
PROGRAM_LINKS += mailq=postqueue
