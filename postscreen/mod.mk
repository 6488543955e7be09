# postscreen/: the port-25 screener in front of smtpd.
UNIT_TESTS += postscreen_dnsbl_test
postscreen_dnsbl_test_SRCS := postscreen/postscreen_dnsbl_test.c \
	postscreen/postscreen_dnsbl.c

UNIT_TESTS += postscreen_cache_test
postscreen_cache_test_SRCS := postscreen/postscreen_cache_test.c \
	postscreen/postscreen_cache.c
