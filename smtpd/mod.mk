# smtpd/: the SMTP server. smtpd.c is only main(); the modules are tested
# without a network (unit tests) and through smtpd -S (transcripts).
# The program needs the policy engine (smtpd_check.c) and cleanup: until
# both exist it is left out, so that everybody else's build keeps working.
smtpd_SRCS := smtpd/smtpd.c smtpd/smtpd_session.c \
	smtpd/smtpd_session_reset.c smtpd/smtpd_cmd.c \
	smtpd/smtpd_data.c smtpd/smtpd_queue.c smtpd/smtpd_tls.c \
	smtpd/smtpd_auth.c smtpd/smtpd_check.c smtpd/smtpd_dns.c \
	smtpd/smtpd_anvil.c smtpd/smtpd_policy.c smtpd/smtpd_bdat.c \
	smtpd/smtpd_check_inline.c
ifneq ($(and $(wildcard smtpd/smtpd_check.c),$(wildcard cleanup/cleanup.c)),)
PROGRAMS += smtpd
endif

UNIT_TESTS += smtpd_data_test
smtpd_data_test_SRCS := smtpd/smtpd_data_test.c smtpd/smtpd_data.c

UNIT_TESTS += smtpd_check_test
smtpd_check_test_SRCS := smtpd/smtpd_check_test.c smtpd/smtpd_check.c \
	smtpd/smtpd_policy.c

# smtpd-check: transcript driver for the policy engine (tests/26-smtpd-check.t)
TOOLS += smtpd-check
smtpd-check_SRCS := smtpd/smtpd_check_driver.c smtpd/smtpd_check.c \
	smtpd/smtpd_policy.c

UNIT_TESTS += smtpd_cmd_test
smtpd_cmd_test_SRCS := smtpd/smtpd_cmd_test.c smtpd/smtpd_cmd.c \
	smtpd/smtpd_session_reset.c smtpd/smtpd_data.c smtpd/smtpd_anvil.c \
	smtpd/smtpd_bdat.c

# BDAT (smtpd_bdat.c): smtpd_cmd_test's modules (deferred: all of them)
UNIT_TESTS += smtpd_bdat_test
smtpd_bdat_test_SRCS = smtpd/smtpd_bdat_test.c \
	$(filter-out smtpd/smtpd_cmd_test.c,$(smtpd_cmd_test_SRCS))

# issue 11's restrictions: DNS helpers and the client certificate
smtpd_SRCS += smtpd/smtpd_check_dns.c smtpd/smtpd_check_tls.c
smtpd_check_test_SRCS += smtpd/smtpd_check_dns.c
smtpd-check_SRCS += smtpd/smtpd_check_dns.c

# smtpd_milters (smtpd_milter.c over lib/milter.c)
smtpd_SRCS += smtpd/smtpd_milter.c

# SASL (AUTH): the state machine, password schemes, Dovecot client.
smtpd_SRCS += smtpd/smtpd_sasl.c smtpd/smtpd_sasl_pw.c \
	smtpd/smtpd_sasl_dovecot.c
UNIT_TESTS += smtpd_sasl_test
smtpd_sasl_test_SRCS := smtpd/smtpd_sasl_test.c smtpd/smtpd_sasl.c \
	smtpd/smtpd_sasl_pw.c smtpd/smtpd_sasl_dovecot.c

# SMTPUTF8 and REQUIRETLS (smtpd_ext.c)
smtpd_SRCS += smtpd/smtpd_ext.c
smtpd_cmd_test_SRCS += smtpd/smtpd_ext.c

# receive_override_options (content filter re-injection; smtpd_override.c)
smtpd_SRCS += smtpd/smtpd_override.c
smtpd_check_test_SRCS += smtpd/smtpd_override.c
smtpd-check_SRCS += smtpd/smtpd_override.c

# notify_classes policy/protocol/resource/software (smtpd_notify.c)
smtpd_SRCS += smtpd/smtpd_notify.c

# a stage answered on the event loop (smtpd_check_inline.c): its log
smtpd_check_test_SRCS += smtpd/smtpd_check_inline.c
