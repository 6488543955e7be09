# qmgr/: the queue manager (qmgr.c is only main(); modules beside it).
PROGRAMS += qmgr
qmgr_SRCS := qmgr/qmgr.c qmgr/qmgr_active.c qmgr/qmgr_bounce.c \
	qmgr/qmgr_conf.c qmgr/qmgr_deliver.c qmgr/qmgr_finish.c \
	qmgr/qmgr_resolve.c qmgr/qmgr_scan.c qmgr/qmgr_sched.c

UNIT_TESTS += qmgr_resolve_test
qmgr_resolve_test_SRCS := qmgr/qmgr_resolve_test.c qmgr/qmgr_resolve.c

# virtual(8), sendmail, postqueue, postsuper (queue engineer).
PROGRAMS += virtual
virtual_SRCS := qmgr/virtual.c qmgr/virtual_deliver.c qmgr/virtual_request.c

UNIT_TESTS += virtual_test
virtual_test_SRCS := qmgr/virtual_test.c qmgr/virtual_deliver.c \
	qmgr/virtual_request.c

PROGRAMS += sendmail postqueue postsuper
sendmail_SRCS := qmgr/sendmail.c qmgr/queue_cmd.c
postqueue_SRCS := qmgr/postqueue.c qmgr/queue_cmd.c
postsuper_SRCS := qmgr/postsuper.c qmgr/queue_cmd.c
PROGRAM_LINKS += mailq=postqueue

UNIT_TESTS += qmgr_bounce_test
qmgr_bounce_test_SRCS := qmgr/qmgr_bounce_test.c qmgr/qmgr_bounce.c
PROGRAMS += postcat
postcat_SRCS := qmgr/postcat.c qmgr/queue_cmd.c
