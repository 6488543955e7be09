# cleanup/: Postfix's cleanup(8) folded into a library (libcleanup.a) that
# smtpd and qmgr (maildrop pickup) call on their worker threads.
CLEANUP_SRCS += cleanup/cleanup.c cleanup/cleanup_bcc.c cleanup/cleanup_milter.c \
    cleanup/cleanup_dkim.c

UNIT_TESTS += cleanup_test
cleanup_test_SRCS := cleanup/cleanup_test.c

UNIT_TESTS += cleanup_bcc_test
cleanup_bcc_test_SRCS := cleanup/cleanup_bcc_test.c
