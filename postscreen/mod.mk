# postscreen/: the port-25 screener in front of smtpd.
UNIT_TESTS += postscreen_dnsbl_test
postscreen_dnsbl_test_SRCS := postscreen/postscreen_dnsbl_test.c \
	postscreen/postscreen_dnsbl.c

UNIT_TESTS += postscreen_cache_test
postscreen_cache_test_SRCS := postscreen/postscreen_cache_test.c \
	postscreen/postscreen_cache.c

PROGRAMS += postscreen
postscreen_SRCS := postscreen/postscreen.c postscreen/postscreen_state.c \
	postscreen/postscreen_access.c postscreen/postscreen_dnsbl.c \
	postscreen/postscreen_early.c postscreen/postscreen_smtp.c \
	postscreen/postscreen_cache.c postscreen/postscreen_send.c

UNIT_TESTS += postscreen_access_test
postscreen_access_test_SRCS := postscreen/postscreen_access_test.c \
	postscreen/postscreen_access.c

UNIT_TESTS += postscreen_smtp_test
postscreen_smtp_test_SRCS := postscreen/postscreen_smtp_test.c \
	postscreen/postscreen_smtp.c postscreen/postscreen_state.c \
	postscreen/postscreen_early.c postscreen/postscreen_dnsbl.c \
	postscreen/postscreen_cache.c
