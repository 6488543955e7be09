# lib/: shared code, no main(). Every .c that is not a test is in the library.
LIB_SRCS += $(filter-out %_test.c,$(wildcard lib/*.c))

UNIT_TESTS += str_test
str_test_SRCS := lib/str_test.c

UNIT_TESTS += workq_test
workq_test_SRCS := lib/workq_test.c

UNIT_TESTS += reply_test
reply_test_SRCS := lib/reply_test.c

UNIT_TESTS += addr_test
addr_test_SRCS := lib/addr_test.c

UNIT_TESTS += dns_test
dns_test_SRCS := lib/dns_test.c

# echod: the test daemon for the server skeleton and master (tests only).
PROGRAMS += echod
echod_SRCS := lib/server_echod_test.c

UNIT_TESTS += sock_test fdpass_test
sock_test_SRCS := lib/sock_test.c
fdpass_test_SRCS := lib/fdpass_test.c

UNIT_TESTS += queue_test attr_test queue_journal_test
queue_test_SRCS := lib/queue_test.c
queue_journal_test_SRCS := lib/queue_journal_test.c
attr_test_SRCS := lib/attr_test.c

UNIT_TESTS += conf_test mastercf_test
conf_test_SRCS := lib/conf_test.c
mastercf_test_SRCS := lib/mastercf_test.c

UNIT_TESTS += anvil_shm_test
anvil_shm_test_SRCS := lib/anvil_shm_test.c

UNIT_TESTS += trigger_test
trigger_test_SRCS := lib/trigger_test.c

UNIT_TESTS += deliver_log_test
deliver_log_test_SRCS := lib/deliver_log_test.c

UNIT_TESTS += dsn_test
dsn_test_SRCS := lib/dsn_test.c

UNIT_TESTS += conf_table_test
conf_table_test_SRCS := lib/conf_table_test.c

UNIT_TESTS += log_test
log_test_SRCS := lib/log_test.c

UNIT_TESTS += utf8_test
utf8_test_SRCS := lib/utf8_test.c

UNIT_TESTS += mime_conv_test
mime_conv_test_SRCS := lib/mime_conv_test.c

UNIT_TESTS += milter_test
milter_test_SRCS := lib/milter_test.c

UNIT_TESTS += dkim_test
dkim_test_SRCS := lib/dkim_test.c
