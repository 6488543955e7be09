# smtpd/: the SMTP server. smtpd.c is only main(); the modules are tested
# without a network (unit tests) and through smtpd -S (transcripts).
UNIT_TESTS += smtpd_data_test
smtpd_data_test_SRCS := smtpd/smtpd_data_test.c smtpd/smtpd_data.c
