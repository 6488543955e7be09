# Address verification (Postfix's verify(8)): the verify daemon with its
# cache, the client smtpd and qmgr share, and the hooks' modules. Kept
# here so that the shared mod.mk files stay untouched.
PROGRAMS += verify
verify_SRCS := verify/verify.c verify/verify_cache.c

LIB_SRCS += lib/verify_clnt.c

UNIT_TESTS += verify_cache_test
verify_cache_test_SRCS := verify/verify_cache_test.c verify/verify_cache.c

smtpd_SRCS += smtpd/smtpd_verify.c
smtpd_check_test_SRCS += smtpd/smtpd_verify.c
smtpd-check_SRCS += smtpd/smtpd_verify.c
qmgr_SRCS += qmgr/qmgr_verify.c
