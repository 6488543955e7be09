# smtp/: the smtp(8)/lmtp(8) delivery agent (services smtp, relay, lmtp).
PROGRAMS += smtp
smtp_SRCS := smtp/smtp.c smtp/smtp_deliver.c smtp/smtp_proto.c \
	smtp/smtp_sasl.c smtp/smtp_addr.c smtp/smtp_generic.c \
	smtp/smtp_policy.c smtp/smtp_dane.c

UNIT_TESTS += smtp_test
smtp_test_SRCS := smtp/smtp_test.c smtp/smtp_deliver.c smtp/smtp_proto.c \
	smtp/smtp_sasl.c smtp/smtp_addr.c smtp/smtp_generic.c \
	smtp/smtp_policy.c smtp/smtp_dane.c

# SMTPUTF8 and REQUIRETLS (smtp_ext.c)
smtp_SRCS += smtp/smtp_ext.c
smtp_test_SRCS += smtp/smtp_ext.c

UNIT_TESTS += smtp_ext_test
smtp_ext_test_SRCS := smtp/smtp_ext_test.c smtp/smtp_ext.c

# LMTP connection cache (smtp_cache.c)
smtp_SRCS += smtp/smtp_cache.c
smtp_test_SRCS += smtp/smtp_cache.c

# MTA-STS, RFC 8461 (smtp_sts.c; libcurl: mk/mta-sts.mk)
smtp_SRCS += smtp/smtp_sts.c
smtp_test_SRCS += smtp/smtp_sts.c

UNIT_TESTS += smtp_sts_test
smtp_sts_test_SRCS := smtp/smtp_sts_test.c smtp/smtp_sts.c
