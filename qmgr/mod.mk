# qmgr/: the queue manager (qmgr.c is only main(); modules beside it).
PROGRAMS += qmgr
qmgr_SRCS := qmgr/qmgr.c qmgr/qmgr_active.c qmgr/qmgr_bounce.c \
	qmgr/qmgr_conf.c qmgr/qmgr_deliver.c qmgr/qmgr_finish.c \
	qmgr/qmgr_pickup.c qmgr/qmgr_resolve.c qmgr/qmgr_scan.c \
	qmgr/qmgr_sched.c qmgr/qmgr_filter.c qmgr/qmgr_milter.c

UNIT_TESTS += qmgr_resolve_test
qmgr_resolve_test_SRCS := qmgr/qmgr_resolve_test.c qmgr/qmgr_resolve.c

UNIT_TESTS += qmgr_bounce_test
qmgr_bounce_test_SRCS := qmgr/qmgr_bounce_test.c qmgr/qmgr_bounce.c

UNIT_TESTS += qmgr_filter_test
qmgr_filter_test_SRCS := qmgr/qmgr_filter_test.c qmgr/qmgr_filter.c
